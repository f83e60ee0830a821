//! A run killed with SIGKILL or stopped with SIGTERM at any moment resumes from its last
//! checkpoint with `sgdlab run <experiment> --resume DIR`, and its `results.json` equals an
//! uninterrupted run's byte for byte (same config, seed and backend). The stop points are chosen
//! as the run goes: each time the checkpoint records another quarter of the run's work, in the
//! middle of a job as a rule, alternating SIGKILL and SIGTERM. A resumed run must continue from
//! exactly the progress its checkpoint recorded (the job in progress included: its model,
//! optimizer state and RNG positions), which the run's own "resumed at" line reports.
//!
//! Quarters of the work rarely land on a phase's last step, where one phase's state is handed
//! to the next (the end of gradient descent, the end of phase A). So each experiment is also
//! stopped exactly there: an uninterrupted run logs its phase after every step, and a run is
//! stopped (as SIGTERM would) right before and right after each new kind of phase change, then
//! resumed to the end.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{quick_args, quick_run, sgdlab, sgdlab_bin, stderr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The uninterrupted run's results.json, as written.
fn uninterrupted(experiment: &str) -> Vec<u8> {
    let run = quick_run(experiment, &[]);
    std::fs::read(run.dir.join("results.json")).unwrap()
}

/// An unsigned field of the checkpoint at `path`, once one is there.
fn checkpoint_field(path: &Path, field: &str) -> Option<u64> {
    let c = sgdlab_experiments::Checkpoint::read(path).ok()?;
    match field {
        "units_done" => Some(c.units_done),
        "units_total" => Some(c.units_total),
        _ => panic!("no field {field}"),
    }
}

/// The progress a resumed run reported on its "resumed at N of M" line.
fn resumed_at(log: &str) -> Option<u64> {
    let rest = &log[log.find("resumed at ")? + "resumed at ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// How a run went: the progress it reported when it resumed (for a resumed run), and the
/// checkpoint's progress after it was stopped (`None` when it finished first).
struct Stop {
    resumed_at: Option<u64>,
    units: Option<u64>,
}

/// Starts (or resumes) `experiment` with a checkpoint every 50 ms, waits until its checkpoint
/// records more than `after` units of work, and stops it with `signal` (`KILL` or `TERM`).
fn stop_after(experiment: &str, out: &Path, after: u64, resume: bool, signal: &str) -> Stop {
    let log_path = out.with_extension(format!("{after}.log"));
    let mut cmd = Command::new(sgdlab_bin());
    cmd.args(["run", experiment, "--backend", "cpu"])
        .args(["--checkpoint-every", "0.05"]);
    if resume {
        cmd.args(["--resume", out.to_str().unwrap()]);
    } else {
        cmd.args([
            "--quiet",
            "--preset",
            "quick",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let path = out.join(experiment).join("checkpoint.cbor");
    let deadline = Instant::now() + Duration::from_secs(300);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{experiment}: {status:?}\n{}", log());
            return Stop {
                resumed_at: resumed_at(&log()),
                units: None,
            };
        }
        if checkpoint_field(&path, "units_done").is_some_and(|n| n > after) {
            if signal == "KILL" {
                child.kill().unwrap();
                child.wait().unwrap();
            } else {
                // SIGTERM: the run saves what it has (a newer checkpoint) and exits 130.
                let pid = child.id().to_string();
                assert!(
                    Command::new("kill")
                        .args(["-TERM", &pid])
                        .status()
                        .unwrap()
                        .success()
                );
                let status = child.wait().unwrap();
                assert!(
                    status.success() || status.code() == Some(130),
                    "{experiment}: {status:?}"
                );
            }
            // A kill during the output swap leaves it for the next run to finish; finish it
            // here the same way to read the checkpoint that run will resume from.
            sgdlab_experiments::recover_outputs(&out.join(experiment)).unwrap();
            return Stop {
                resumed_at: resumed_at(&log()),
                // None when it finished before the signal arrived.
                units: checkpoint_field(&path, "units_done"),
            };
        }
        assert!(Instant::now() < deadline, "{experiment}: no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the run each time another quarter of its work is checkpointed, resuming each time,
/// until it finishes; checks that every resumed run started where its checkpoint was, then
/// compares with the uninterrupted run.
fn survives_kills(experiment: &str) {
    let dir = tempfile::tempdir().unwrap();
    let reference = uninterrupted(experiment);
    let out = dir.path().join("killed");
    let mut stops: Vec<u64> = Vec::new();
    let mut run = stop_after(experiment, &out, 0, false, "KILL");
    while let Some(units) = run.units {
        stops.push(units);
        let total =
            checkpoint_field(&out.join(experiment).join("checkpoint.cbor"), "units_total").unwrap();
        // SIGKILL and SIGTERM in turn.
        let signal = if stops.len().is_multiple_of(2) {
            "KILL"
        } else {
            "TERM"
        };
        run = stop_after(experiment, &out, units + total / 4, true, signal);
        assert_eq!(
            run.resumed_at,
            Some(units),
            "{experiment}: the run resumed from a checkpoint at {units} units reported another \
             place (stops so far {stops:?})"
        );
    }
    assert!(!stops.is_empty(), "{experiment}: never stopped");
    let resumed = std::fs::read(out.join(experiment).join("results.json")).unwrap();
    assert!(
        resumed == reference,
        "{experiment}: stopped at {stops:?} units and resumed, results differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&resumed),
        String::from_utf8_lossy(&reference)
    );
    assert!(!out.join(experiment).join("checkpoint.cbor").exists());
    // Resuming a finished run does nothing and says so.
    let o = sgdlab(&["run", experiment, "--resume", out.to_str().unwrap()]);
    assert!(o.status.success() && stderr(&o).contains("nothing to resume"));
}

#[test]
fn smoothing_survives_kills() {
    survives_kills("smoothing");
}

#[test]
fn sharp_minima_survives_kills() {
    survives_kills("sharp-minima");
}

#[test]
fn gossip_survives_kills() {
    survives_kills("gossip");
}

#[test]
fn rnn_survives_kills() {
    survives_kills("rnn");
}

#[test]
fn random_labels_survives_kills() {
    survives_kills("random-labels");
}

#[test]
fn elimination_survives_kills() {
    survives_kills("elimination");
}

#[test]
fn resume_without_a_checkpoint_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = sgdlab(&["run", "rnn", "--resume", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no checkpoint") && stderr(&o).contains("checkpoint.cbor"),
        "{}",
        stderr(&o)
    );
    let o = sgdlab(&[
        "run",
        "rnn",
        "--resume",
        dir.path().to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// The kind of a phase line: its text without numbers (`seed 2/3 · step 40` and
/// `seed 1/3 · step 10` are one kind).
fn phase_kind(phase: &str) -> String {
    phase.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// The most phase changes an experiment is stopped at.
const MAX_CHANGES: usize = 4;

/// For the quick preset of `experiment`: the uninterrupted run's results.json and the step
/// calls at which to stop: the last call of a phase and the first of the next, for each
/// distinct change of phase kind (at most [`MAX_CHANGES`]).
fn phase_boundaries(experiment: &str) -> (Vec<u8>, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("progress.log");
    let out = dir.path().join("out");
    let o = sgdlab(&quick_args(
        experiment,
        out.to_str().unwrap(),
        &["--progress-log", log.to_str().unwrap()],
    ));
    assert!(o.status.success(), "{experiment}: {}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    let rows: Vec<(u64, String)> = text
        .lines()
        .map(|l| {
            let mut f = l.splitn(4, '\t');
            let call = f.next().unwrap().parse().unwrap();
            (call, phase_kind(f.nth(2).unwrap_or("")))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut changes = Vec::new();
    for w in rows.windows(2) {
        if w[0].1 != w[1].1 && seen.insert((w[0].1.clone(), w[1].1.clone())) {
            changes.push((w[0].0, w[1].0));
        }
    }
    // At most MAX_CHANGES of them, the first and the last among them, evenly spread (gossip's
    // algorithms and sweep points make dozens of kinds, each a job boundary of one queue).
    let picked: Vec<(u64, u64)> = if changes.len() <= MAX_CHANGES {
        changes
    } else {
        (0..MAX_CHANGES)
            .map(|i| changes[i * (changes.len() - 1) / (MAX_CHANGES - 1)])
            .collect()
    };
    let mut calls: Vec<u64> = picked.into_iter().flat_map(|(a, b)| [a, b]).collect();
    calls.dedup();
    (
        std::fs::read(out.join(experiment).join("results.json")).unwrap(),
        calls,
    )
}

/// Stops the quick run at each phase boundary, resumes it to the end, and compares with the
/// uninterrupted run.
fn survives_stops_at_phase_boundaries(experiment: &str) {
    let (reference, calls) = phase_boundaries(experiment);
    eprintln!("{experiment}: stopping after step calls {calls:?}");
    let dir = tempfile::tempdir().unwrap();
    for call in calls {
        let out = dir.path().join(format!("at-{call}"));
        let call_s = call.to_string();
        let o = sgdlab(&quick_args(
            experiment,
            out.to_str().unwrap(),
            &["--checkpoint-every", "0", "--stop-after-steps", &call_s],
        ));
        // The last step call finishes the run before the stop comes.
        assert!(
            matches!(o.status.code(), Some(130 | 0)),
            "{experiment}: {}",
            stderr(&o)
        );
        let o = sgdlab(&[
            "run",
            experiment,
            "--backend",
            "cpu",
            "--quiet",
            "--resume",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{experiment} at {call}: {}", stderr(&o));
        let resumed = std::fs::read(out.join(experiment).join("results.json")).unwrap();
        assert!(
            resumed == reference,
            "{experiment}: stopped after step call {call} and resumed, results differ:\n{}\n---\n{}",
            String::from_utf8_lossy(&resumed),
            String::from_utf8_lossy(&reference)
        );
    }
}

#[test]
fn elimination_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("elimination");
}

#[test]
fn random_labels_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("random-labels");
}

#[test]
fn rnn_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("rnn");
}

#[test]
fn smoothing_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("smoothing");
}

#[test]
fn sharp_minima_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("sharp-minima");
}

#[test]
fn gossip_survives_stops_at_phase_boundaries() {
    survives_stops_at_phase_boundaries("gossip");
}
