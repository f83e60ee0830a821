//! A run killed with SIGKILL or stopped with SIGTERM at any moment resumes from its last
//! checkpoint with `sgdlab run <experiment> --resume DIR`, and its `results.json` equals an
//! uninterrupted run's byte for byte (same config, seed and backend). The stop points are chosen
//! as the run goes: after the first, second, … checkpoint that records a new finished job (the
//! job then in progress is lost and starts over), alternating SIGKILL and SIGTERM.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{quick_run, sgdlab, sgdlab_bin, stderr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The uninterrupted run's results.json, as written.
fn uninterrupted(experiment: &str) -> Vec<u8> {
    let run = quick_run(experiment, &[]);
    std::fs::read(run.dir.join("results.json")).unwrap()
}

/// Jobs finished in the checkpoint at `path`, once one is there.
fn checkpointed_jobs(path: &Path) -> Option<usize> {
    let bytes = std::fs::read(path).ok()?;
    let v: ciborium::Value = ciborium::from_reader(bytes.as_slice()).ok()?;
    let map = v.as_map()?;
    map.iter()
        .find(|(k, _)| k.as_text() == Some("jobs_finished"))
        .and_then(|(_, v)| v.as_integer())
        .and_then(|i| usize::try_from(i).ok())
}

/// Starts (or resumes) `experiment` with a checkpoint every 50 ms, waits until its checkpoint
/// records more than `after` finished jobs, and stops it with `signal` (`KILL` or `TERM`).
/// Returns the jobs the checkpoint holds, or `None` when the run finished first.
fn kill_after(
    experiment: &str,
    out: &Path,
    after: usize,
    resume: bool,
    signal: &str,
) -> Option<usize> {
    let mut cmd = Command::new(sgdlab_bin());
    cmd.args(["run", experiment, "--backend", "cpu", "--quiet"])
        .args(["--checkpoint-every", "0.05"]);
    if resume {
        cmd.args(["--resume", out.to_str().unwrap()]);
    } else {
        cmd.args(["--preset", "quick", "--out", out.to_str().unwrap()]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let path = out.join(experiment).join("checkpoint.cbor");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{experiment}: {status:?}");
            return None;
        }
        if let Some(n) = checkpointed_jobs(&path).filter(|&n| n > after) {
            if signal == "KILL" {
                child.kill().unwrap();
                child.wait().unwrap();
                return Some(n);
            }
            // SIGTERM: the run saves what it has (a newer checkpoint, maybe) and exits 130.
            let pid = child.id().to_string();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            let status = child.wait().unwrap();
            if status.success() {
                return None; // it finished before the signal arrived
            }
            assert_eq!(status.code(), Some(130), "{experiment}: {status:?}");
            return checkpointed_jobs(&path).or(Some(n));
        }
        assert!(Instant::now() < deadline, "{experiment}: no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the run after each new checkpointed job, resuming each time, until it finishes; then
/// compares with the uninterrupted run.
fn survives_kills(experiment: &str) {
    let dir = tempfile::tempdir().unwrap();
    let reference = uninterrupted(experiment);
    let out = dir.path().join("killed");
    let mut kills = Vec::new();
    let mut last = kill_after(experiment, &out, 0, false, "KILL");
    while let Some(n) = last {
        kills.push(n);
        // SIGKILL and SIGTERM in turn.
        let signal = if kills.len() % 2 == 0 { "KILL" } else { "TERM" };
        last = kill_after(experiment, &out, n, true, signal);
    }
    assert!(
        kills.len() >= 2,
        "{experiment}: killed only after {kills:?} jobs"
    );
    let resumed = std::fs::read(out.join(experiment).join("results.json")).unwrap();
    assert!(
        resumed == reference,
        "{experiment}: killed after {kills:?} jobs and resumed, results differ:\n{}\n---\n{}",
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
