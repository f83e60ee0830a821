//! Shared helpers for sgdlab's cross-crate and end-to-end tests.

pub mod svg;

use sgdlab_engine::device::{ComputeDevice, wgpu_device};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The wgpu device, or `None` with a printed reason when this machine has no adapter.
///
/// Under `CI=true` a missing adapter is a failure, not a skip: CI installs lavapipe, so the GPU
/// path must run there.
pub fn wgpu_or_skip(test: &str) -> Option<ComputeDevice> {
    match wgpu_device() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: CI=true requires a wgpu adapter (lavapipe), but: {e:#}");
            }
            eprintln!("SKIPPED {test}: {e:#}");
            None
        }
    }
}

/// The binary under test: `SGDLAB_BIN` when set (as for the browser tests; useful where several
/// checkouts share one target directory), else the one built alongside the tests
/// (`cargo test --workspace` builds it).
pub fn sgdlab_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SGDLAB_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/sgdlab
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("sgdlab{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run the tests with `cargo test --workspace` so the binary is built",
        bin.display()
    );
    bin
}

/// Runs the `sgdlab` binary with `args` and collects its output.
pub fn sgdlab(args: &[&str]) -> Output {
    Command::new(sgdlab_bin())
        .args(args)
        .output()
        .expect("spawn sgdlab")
}

/// A process's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sgdlab run <experiment> --preset quick --backend cpu --quiet --out <out>`, then `extra`.
pub fn quick_args<'a>(experiment: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        experiment,
        "--preset",
        "quick",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// A finished `sgdlab run <experiment> --preset quick --backend cpu` in a temporary directory.
pub struct QuickRun {
    /// Keeps the temporary directory alive.
    pub tmp: tempfile::TempDir,
    /// `<tmp>/out/<experiment>`: where the run wrote its files.
    pub dir: PathBuf,
    /// The process's output (stdout is `results.json` with `--json`).
    pub output: Output,
    /// `results.json` as written.
    pub results: serde_json::Value,
}

/// Runs `sgdlab run <experiment> --preset quick --backend cpu --quiet --json` with `extra`
/// arguments in a fresh temporary directory; panics (the test's failure) unless it exits 0.
pub fn quick_run(experiment: &str, extra: &[&str]) -> QuickRun {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let out_s = out.to_str().expect("a UTF-8 temp path").to_string();
    let mut args = quick_args(experiment, &out_s, &["--json"]);
    args.extend_from_slice(extra);
    let output = sgdlab(&args);
    assert!(
        output.status.success(),
        "sgdlab {args:?}: exit {:?}: {}",
        output.status,
        stderr(&output)
    );
    let dir = out.join(experiment);
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json written");
    let results: serde_json::Value = serde_json::from_str(&text).expect("results.json is JSON");
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("--json prints results.json");
    assert_eq!(printed, results, "--json prints what results.json holds");
    QuickRun {
        tmp,
        dir,
        output,
        results,
    }
}

/// Panics naming each of `files` that `dir` lacks.
pub fn assert_files(dir: &std::path::Path, files: &[&str]) {
    let missing: Vec<&&str> = files.iter().filter(|f| !dir.join(f).is_file()).collect();
    assert!(
        missing.is_empty(),
        "missing in {}: {missing:?}",
        dir.display()
    );
}

/// The files every run writes, whatever the experiment.
pub const RUN_FILES: [&str; 5] = [
    "config.json",
    "results.json",
    "timing.json",
    "metrics.csv",
    "report.md",
];

/// Writes `json` to `<dir>/c.json` and returns its path, for `--config`.
pub fn write_config(dir: &std::path::Path, json: &str) -> String {
    let p = dir.join("c.json");
    std::fs::write(&p, json).expect("write the config");
    p.to_str().expect("a UTF-8 temp path").to_string()
}

/// The `claims` block of a `results.json`, checked against the schema: every claim has the six
/// fields as strings and a verdict in {holds, fails, inconclusive}. Returns (id, verdict) pairs.
pub fn claims_of(results: &serde_json::Value) -> Vec<(String, String)> {
    let claims = results["claims"]
        .as_array()
        .expect("results.json has a `claims` list");
    claims
        .iter()
        .map(|c| {
            for key in ["id", "statement", "measured", "test", "verdict", "reason"] {
                assert!(c[key].is_string(), "claim field `{key}` missing in {c}");
            }
            let verdict = c["verdict"].as_str().unwrap_or_default().to_string();
            assert!(
                ["holds", "fails", "inconclusive"].contains(&verdict.as_str()),
                "verdict {verdict}"
            );
            (c["id"].as_str().unwrap_or_default().to_string(), verdict)
        })
        .collect()
}

/// The verdict of claim `id` (panics when there is no such claim).
pub fn verdict_of(results: &serde_json::Value, id: &str) -> String {
    claims_of(results)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no claim `{id}` in {}", results["claims"]))
}
