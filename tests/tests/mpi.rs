//! Real processes on MPI: `mpirun -n N sgdlab mpi-gossip` checked against the one-process
//! simulator (`sgdlab mpi-gossip --engine sim --nodes N`) with the same seeds and data split,
//! for all five algorithms at N = 2, 4 and 8, and the failure paths (a NaN on one rank, a
//! killed rank, a bad shard, a config that differs across ranks).
//!
//! Tolerance: the MPI run and the simulator compute the same thing in f32 with sums in another
//! order (gossip accumulated per node in f64, all-reduce by MPI, the simulator's (n × n)·(n × d)
//! product and mean), so they agree to rounding, not bit for bit. Every f(x̄), ‖∇f(x̄)‖ and
//! consensus distance at the evaluated steps must agree within [`REL_TOL`] relative (plus
//! [`ABS_TOL`] absolute, for values near 0), and every coordinate of the final x̄ within
//! [`REL_TOL`] of the largest coordinate. A mistake in the data split, the mini-batch stream,
//! the neighbours or the averaging schedule moves these numbers by far more.
//!
//! Needs `mpirun` and a binary built with `--features sgdlab/mpi`; without them the tests print
//! why and skip, except under `CI=true`, where that is a failure.

use sgdlab_tests::{sgdlab_bin, stderr, write_config};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Relative tolerance of MPI against the simulator.
const REL_TOL: f64 = 1e-4;
/// Absolute tolerance (values near zero, such as a consensus distance right after an average).
const ABS_TOL: f64 = 1e-7;
/// A failed rank must end the whole job within this time (measured: about 1 s).
const FAIL_WITHIN: Duration = Duration::from_secs(30);

/// Five algorithms, 40 steps, evaluated every 10: small enough for N = 8 on 2 cores.
const CONFIG: &str = r#"{"seed": 5, "period": 4, "aga_max_period": 16,
  "logistic": {"samples_per_node": 24, "dim": 8, "batch": 6, "steps": 40, "eval_every": 10,
               "heterogeneity": 4.0}}"#;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `mpirun` with the flags a test needs, or `None` (printed) when it is missing.
fn mpirun(test: &str) -> Option<Command> {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !ci(),
            "{test}: CI=true requires mpirun (apt-get install openmpi-bin libopenmpi-dev)"
        );
        eprintln!("SKIPPED {test}: mpirun not found (apt-get install openmpi-bin)");
        return None;
    }
    let mut c = Command::new("mpirun");
    c.arg("--oversubscribe");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        c.arg("--allow-run-as-root");
    }
    // One compute thread per rank: N ranks share 2 cores.
    c.args(["-x", "RAYON_NUM_THREADS=1"]);
    Some(c)
}

/// Whether the binary has MPI; `None` (printed) when it was built without the feature.
fn skip_without_mpi_build(test: &str, o: &Output) -> bool {
    let e = stderr(o);
    if e.contains("built without MPI") {
        assert!(
            !ci(),
            "{test}: CI=true requires sgdlab built with --features sgdlab/mpi: {e}"
        );
        eprintln!("SKIPPED {test}: sgdlab was built without the mpi feature");
        return true;
    }
    false
}

fn read_results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json written");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= ABS_TOL + REL_TOL * a.abs().max(b.abs())
}

/// Runs N ranks and the simulator on `config` and compares every run.
fn compare(n: usize, config: &str) {
    compare_on(n, config, "cpu");
}

/// [`compare`] with every MPI rank computing on `backend` (the simulator stays on the CPU).
fn compare_on(n: usize, config: &str, backend: &str) {
    let test = format!("mpi_matches_simulator n={n} backend={backend}");
    let Some(mut cmd) = mpirun(&test) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(tmp.path(), config);
    let (mpi_dir, sim_dir) = (tmp.path().join("mpi"), tmp.path().join("sim"));
    let t = Instant::now();
    let o = cmd
        .args(["-n", &n.to_string()])
        .arg(sgdlab_bin())
        .args([
            "mpi-gossip",
            "--backend",
            backend,
            "--config",
            &cfg,
            "--out",
        ])
        .arg(&mpi_dir)
        .output()
        .expect("spawn mpirun");
    if skip_without_mpi_build(&test, &o) {
        return;
    }
    assert!(o.status.success(), "{test}: {:?}\n{}", o.status, stderr(&o));
    let mpi_secs = t.elapsed().as_secs_f64();
    let n_s = n.to_string();
    let sim_s = sim_dir.to_str().expect("utf-8 path");
    let s = Command::new(sgdlab_bin())
        .args([
            "mpi-gossip",
            "--engine",
            "sim",
            "--nodes",
            &n_s,
            "--config",
            &cfg,
            "--out",
            sim_s,
        ])
        .output()
        .expect("spawn sgdlab");
    assert!(s.status.success(), "{test}: simulator: {}", stderr(&s));
    let (m, s) = (read_results(&mpi_dir), read_results(&sim_dir));
    assert_eq!(m["status"], "done");
    assert_eq!(m["engine"], "mpi");
    let device = m["device"].as_str().unwrap_or_default();
    assert!(
        device.starts_with(&format!("backend {backend} ")),
        "{test}: ran on {device}"
    );
    assert_eq!(s["engine"], "sim");
    assert_eq!(m["config_fingerprint"], s["config_fingerprint"], "{test}");
    let (mr, sr) = (
        m["runs"].as_array().expect("runs"),
        s["runs"].as_array().expect("runs"),
    );
    assert_eq!(mr.len(), 5, "{test}: all five algorithms");
    assert_eq!(mr.len(), sr.len());
    let mut worst = 0.0f64;
    for (a, b) in mr.iter().zip(sr) {
        let alg = a["spec"]["algorithm"].as_str().unwrap_or("?").to_string();
        assert_eq!(a["spec"], b["spec"], "{test} {alg}");
        let (ea, eb) = (
            a["evals"].as_array().expect("evals"),
            b["evals"].as_array().expect("evals"),
        );
        assert_eq!(ea.len(), 4, "{test} {alg}: evaluations at 10, 20, 30, 40");
        assert_eq!(ea.len(), eb.len());
        for (x, y) in ea.iter().zip(eb) {
            assert_eq!(x["step"], y["step"]);
            for key in ["loss", "grad_norm", "consensus"] {
                let (u, v) = (f(&x[key]), f(&y[key]));
                assert!(
                    close(u, v),
                    "{test} {alg} step {}: {key} {u} (MPI) vs {v} (simulator)",
                    x["step"]
                );
                worst = worst.max((u - v).abs() / (ABS_TOL + u.abs().max(v.abs())));
            }
        }
        let xa: Vec<f64> = a["mean_model"]
            .as_array()
            .expect("x̄")
            .iter()
            .map(f)
            .collect();
        let xb: Vec<f64> = b["mean_model"]
            .as_array()
            .expect("x̄")
            .iter()
            .map(f)
            .collect();
        assert_eq!(xa.len(), 8);
        assert_eq!(xa.len(), xb.len());
        let scale = xb.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (j, (u, v)) in xa.iter().zip(&xb).enumerate() {
            assert!(
                (u - v).abs() <= REL_TOL * scale,
                "{test} {alg}: x̄[{j}] {u} (MPI) vs {v} (simulator)"
            );
        }
        // The exact averages were really done (and counted) the same number of times.
        assert_eq!(
            a["stats"]["global_averages"], b["stats"]["global_averages"],
            "{test} {alg}"
        );
        assert!(f(&a["stats"]["bytes_per_node_step"]) > 0.0, "{test} {alg}");
    }
    eprintln!(
        "{test}: MPI run {mpi_secs:.1} s, worst |difference| / (1e-7 + |value|): {worst:.2e}"
    );
}

#[test]
fn mpi_matches_simulator_on_a_ring_at_2_and_8() {
    compare(2, CONFIG);
    compare(8, CONFIG);
}

/// Each rank holds its node on its own wgpu device (lavapipe here, a GPU per rank on a
/// cluster): the same numbers as the CPU simulator, within the same tolerance.
#[test]
fn mpi_ranks_on_wgpu_match_the_simulator_at_2() {
    if sgdlab_tests::wgpu_or_skip("mpi_ranks_on_wgpu_match_the_simulator_at_2").is_none() {
        return;
    }
    compare_on(2, CONFIG, "wgpu");
}

#[test]
fn mpi_matches_simulator_on_the_one_peer_exponential_graph_at_4() {
    // Time-varying: each rank talks to one peer, i XOR 2^(t mod 2), alternating.
    let c = CONFIG.replacen('{', r#"{"topology": {"kind": "one-peer-exponential"},"#, 1);
    compare(4, &c);
}

/// Runs a 4-rank Gossip SGD job with `fault` injected and returns (output, seconds, out dir).
fn faulty(test: &str, fault: &str) -> Option<(Output, f64, tempfile::TempDir)> {
    let mut cmd = mpirun(test)?;
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        tmp.path(),
        r#"{"logistic": {"samples_per_node": 16, "dim": 4, "batch": 4, "steps": 400,
                         "eval_every": 5}}"#,
    );
    let t = Instant::now();
    let o = cmd
        .args(["-n", "4", "-x", &format!("SGDLAB_FAULT_INJECT={fault}")])
        .arg(sgdlab_bin())
        .args([
            "mpi-gossip",
            "--algorithms",
            "gossip-sgd",
            "--config",
            &cfg,
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .output()
        .expect("spawn mpirun");
    if skip_without_mpi_build(test, &o) {
        return None;
    }
    let secs = t.elapsed().as_secs_f64();
    assert!(
        secs < FAIL_WITHIN.as_secs_f64(),
        "{test}: the job took {secs:.1} s to end"
    );
    Some((o, secs, tmp))
}

#[test]
fn a_nan_on_one_rank_ends_the_job_naming_it_and_keeps_the_results() {
    let test = "mpi nan";
    let Some((o, secs, tmp)) = faulty(test, "nan@2:23") else {
        return;
    };
    let e = stderr(&o);
    assert!(!o.status.success(), "{test}: exit {:?}", o.status);
    assert!(
        e.contains("rank 2 of 4 failed in gossip-sgd (n = 4): at step 23: parameter 0 of the local update is NaN"),
        "{test}: {e}"
    );
    // Rank 0 writes each evaluation before it joins the next one, so those at steps 5, 10 and
    // 15 are on disk for certain (the one at 20 may or may not be: the abort races its write).
    let r = read_results(&tmp.path().join("out"));
    assert_eq!(r["status"], "running", "{test}");
    let steps: Vec<u64> = r["runs"][0]["evals"]
        .as_array()
        .expect("evals")
        .iter()
        .filter_map(|e| e["step"].as_u64())
        .collect();
    assert!(
        steps == [5, 10, 15] || steps == [5, 10, 15, 20],
        "{test}: evaluations kept: {steps:?}"
    );
    eprintln!("{test}: the job ended in {secs:.1} s");
}

#[test]
fn a_killed_rank_ends_the_job_naming_it() {
    let test = "mpi kill";
    let Some((o, secs, _tmp)) = faulty(test, "kill@1:12") else {
        return;
    };
    let e = stderr(&o);
    assert!(!o.status.success(), "{test}: exit {:?}", o.status);
    assert!(
        e.contains("rank 1") && e.contains("signal 9"),
        "{test}: mpirun names the rank and the signal: {e}"
    );
    eprintln!("{test}: the job ended in {secs:.1} s");
}

#[test]
fn a_bad_shard_ends_the_job_with_exit_2() {
    let test = "mpi bad shard";
    let Some((o, _, _tmp)) = faulty(test, "bad-shard@3") else {
        return;
    };
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{test}: {e}");
    assert!(
        e.contains(
            "rank 3 of 4 failed in gossip-sgd (n = 4): bad shard: feature 0 of sample 0 is NaN"
        ),
        "{test}: {e}"
    );
}

#[test]
fn a_config_that_differs_across_ranks_exits_2_at_start_up() {
    let test = "mpi config mismatch";
    let Some(mut cmd) = mpirun(test) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, r#"{"period": 4, "logistic": {"steps": 20}}"#).expect("write");
    std::fs::write(&b, r#"{"period": 8, "logistic": {"steps": 20}}"#).expect("write");
    let bin = sgdlab_bin();
    let out = tmp.path().join("out");
    // MPMD: ranks 0-1 get one config, rank 2 another.
    for (i, (count, cfg)) in [("2", &a), ("1", &b)].into_iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-n", count])
            .arg(&bin)
            .args(["mpi-gossip", "--config"])
            .arg(cfg)
            .arg("--out")
            .arg(&out);
    }
    let t = Instant::now();
    let o = cmd.output().expect("spawn mpirun");
    if skip_without_mpi_build(test, &o) {
        return;
    }
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{test}: {e}");
    assert!(
        e.contains("the configuration differs across ranks") && e.contains("rank 2 has"),
        "{test}: {e}"
    );
    assert!(t.elapsed() < FAIL_WITHIN, "{test}");
    assert!(
        !out.join("results.json").exists(),
        "{test}: nothing runs on a config that differs"
    );
}
