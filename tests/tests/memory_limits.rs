//! Sizes from flags in `sgdlab bench` and `sgdlab mpi-gossip` (issue 27, case 9): flags or a
//! config whose memory estimate exceeds the budget (`--max-memory`, else the machine's memory)
//! exit 2 naming them, before anything is allocated; counts that only cost time are bounded too.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{sgdlab, stderr};
use std::time::{Duration, Instant};

/// Runs `args`, expects exit code 2 within a few seconds and every needle in the message.
fn refused_quickly(args: &[&str], needles: &[&str]) {
    let t = Instant::now();
    let o = sgdlab(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?}",
        t.elapsed()
    );
}

#[test]
fn gossip_bench_of_terabytes_is_refused_naming_its_flags() {
    // 4096 nodes × 10^7 parameters: 2.6 TB of logistic data alone (it used to abort on the
    // allocation).
    refused_quickly(
        &["bench", "gossip", "--nodes", "4096", "--dim", "10000000"],
        &["--nodes", "--dim", "TB of memory", "--max-memory"],
    );
}

#[test]
fn every_bench_honours_max_memory() {
    for bench in [
        "gossip",
        "particles",
        "smoothing-grid",
        "train-mlp",
        "ui-frame",
    ] {
        refused_quickly(
            &["bench", bench, "--max-memory", "1M"],
            &["of memory", "--max-memory allows", "1.0 MB"],
        );
    }
}

#[test]
fn particles_and_grids_at_their_largest_are_checked_against_the_budget() {
    refused_quickly(
        &[
            "bench",
            "particles",
            "--particles",
            "67108864",
            "--max-memory",
            "4G",
        ],
        &["--particles", "of memory"],
    );
    refused_quickly(
        &[
            "bench",
            "smoothing-grid",
            "--grid",
            "16384",
            "--max-memory",
            "2G",
        ],
        &["--grid", "of memory"],
    );
}

#[test]
fn frame_and_step_counts_are_bounded() {
    refused_quickly(
        &["bench", "ui-frame", "--frames", "1000000000000"],
        &["--frames", "expected at most"],
    );
    refused_quickly(
        &["bench", "gossip", "--steps", "1000000000000"],
        &["--steps", "expected at most"],
    );
    refused_quickly(
        &["bench", "train-mlp", "--warmup", "1000000000000"],
        &["--warmup", "expected at most"],
    );
}

#[test]
fn mpi_gossip_of_terabytes_is_refused_naming_the_config_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("huge.json");
    std::fs::write(
        &cfg,
        r#"{"logistic": {"samples_per_node": 1000000, "dim": 1000000}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    refused_quickly(
        &[
            "mpi-gossip",
            "--engine",
            "sim",
            "--nodes",
            "64",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["logistic.samples_per_node", "TB of memory"],
    );
}
