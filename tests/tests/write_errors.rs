//! Output that cannot be written (issue 27, case 10): stdout or stderr on `/dev/full`.
//!
//! What the command produces on stdout (a listing, `--json`, bench figures, the served URL)
//! failing to be written is an error: exit code 1 with a message on stderr, never the panic
//! (exit code 101) of `println!`. Diagnostics on stderr failing to be written are ignored: the
//! command goes on and its product (stdout, files) is complete.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(target_os = "linux")] // `/dev/full` is Linux's

use sgdlab_tests::{sgdlab_bin, stderr};
use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `/dev/full`: every write fails with ENOSPC.
fn full() -> Stdio {
    OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into()
}

/// Runs sgdlab with `args`, stdout on `/dev/full` (stderr captured).
fn stdout_full(args: &[&str]) -> Output {
    Command::new(sgdlab_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(full())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs sgdlab with `args`, stderr on `/dev/full` (stdout captured).
fn stderr_full(args: &[&str]) -> Output {
    Command::new(sgdlab_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(full())
        .output()
        .unwrap()
}

/// Exit code 1 (not 101: no panic) and a message that says stdout could not be written.
fn assert_stdout_failure(o: &Output, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(
        err.contains("writing to stdout") && !err.contains("panicked"),
        "{what}: {err}"
    );
}

#[test]
fn run_list_to_a_full_stdout_exits_1_with_a_message() {
    assert_stdout_failure(&stdout_full(&["run", "--list"]), "run --list");
}

#[test]
fn help_to_a_full_stdout_exits_1() {
    // clap's own `exit` would swallow the failed write and exit 0.
    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let o = stdout_full(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("writing to stdout"), "{args:?}");
    }
}

#[test]
fn serve_with_a_full_stdout_exits_1_not_101() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html>").unwrap();
    let o = stdout_full(&[
        "serve",
        "--port",
        "0",
        "--dir",
        site.path().to_str().unwrap(),
    ]);
    assert_stdout_failure(&o, "serve");
}

/// `mpi-gossip --engine sim` on 4 nodes for a few steps into `out`.
fn mpi_sim_args(out: &Path) -> Vec<String> {
    [
        "mpi-gossip",
        "--engine",
        "sim",
        "--nodes",
        "4",
        "--steps",
        "20",
        "--algorithms",
        "gossip-pga",
        "--backend",
        "cpu",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

#[test]
fn mpi_gossip_with_a_full_stdout_exits_1_and_keeps_its_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let args = mpi_sim_args(&out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_stdout_failure(&stdout_full(&args), "mpi-gossip --engine sim");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["status"], "done");
    let mut json = args.clone();
    json.push("--json");
    assert_stdout_failure(&stdout_full(&json), "mpi-gossip --engine sim --json");
}

/// A bench of a few milliseconds.
const TINY_BENCH: [&str; 12] = [
    "bench",
    "gossip",
    "--nodes",
    "2",
    "--dim",
    "10",
    "--steps",
    "2",
    "--warmup",
    "0",
    "--backend",
    "cpu",
];

#[test]
fn a_bench_with_a_full_stdout_exits_1() {
    assert_stdout_failure(&stdout_full(&TINY_BENCH), "bench gossip");
    let mut json = TINY_BENCH.to_vec();
    json.push("--json");
    assert_stdout_failure(&stdout_full(&json), "bench gossip --json");
}

#[test]
fn a_bench_with_a_full_stderr_still_prints_its_figures() {
    // The bench writes its device line to stderr first; that failing must not stop it.
    let o = stderr_full(&TINY_BENCH);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("node-steps/s"), "{out}");
}

#[test]
fn an_error_with_a_full_stderr_keeps_its_exit_code() {
    // The final `error: …` line cannot be written; the exit code still says bad input.
    let o = stderr_full(&["run", "no-such-experiment"]);
    assert_eq!(o.status.code(), Some(2));
    let o = stderr_full(&["bench", "gossip", "--nodes", "4096", "--dim", "10000000"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_run_with_a_full_stderr_finishes_and_writes_its_results() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny.json");
    std::fs::write(
        &cfg,
        r#"{"seeds": 1, "train_size": 200, "test_size": 200,
            "network": {"kind": "mlp", "hidden": [16], "activation": "relu"},
            "batch_size": 32, "random_phase": {"epochs": 2, "stop_at_train_acc": 0.95},
            "lr": 0.1, "true_phase": {"epochs": 1}, "fit_target": 0.5, "arms": [[]]}"#,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = stderr_full(&[
        "run",
        "random-labels",
        "--preset",
        "quick",
        "--config",
        cfg.to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("random-labels/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["status"], "complete");
}
