//! A run stopped by SIGINT, SIGTERM or SIGHUP saves what it computed: exit code 130, and a
//! results.json that says `"status": "interrupted"` with no decided verdict. (Unix only: the
//! signals are sent with `kill`.)

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::sgdlab_bin;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts the sharp-minima quick preset (about 12 s on 2 cores), waits until it has printed its
/// backend line and run a second, sends `signal`, and checks what it left.
fn stop_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(sgdlab_bin())
        .args([
            "run",
            "sharp-minima",
            "--preset",
            "quick",
            "--backend",
            "cpu",
        ])
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("backend");
        seen.push(line);
        if started {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("backend")),
        "no backend line: {seen:?}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let pid = child.id().to_string();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "{signal}: {status:?}, stderr {rest:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("interrupted: partial results")),
        "{rest:?}"
    );
    let results: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("sharp-minima").join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["status"], "interrupted", "{signal}");
    assert_eq!(results["run"]["complete"], false, "{signal}");
    for c in results["claims"].as_array().unwrap() {
        assert_eq!(c["verdict"], "inconclusive", "{signal}: {c}");
    }
    let timing: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("sharp-minima").join("timing.json")).unwrap(),
    )
    .unwrap();
    let p = &timing["progress"];
    let (done, total) = (p["done"].as_u64().unwrap(), p["total"].as_u64().unwrap());
    assert!(0 < done && done < total, "{signal}: {timing}");
    assert_eq!(timing["complete"], false);
}

#[test]
fn sigterm_saves_partial_results() {
    stop_with("TERM");
}

#[test]
fn sighup_saves_partial_results() {
    stop_with("HUP");
}

#[test]
fn sigint_saves_partial_results() {
    stop_with("INT");
}
