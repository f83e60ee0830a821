//! The `sgdlab` binary end to end: a quick run writes every promised file, and every bad-input
//! path exits with code 2 and a message naming what is wrong.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use sgdlab_tests::{sgdlab, stderr};
use std::io::Write;
use std::path::Path;

/// A tiny random-labels config (CPU, seconds) used by several tests.
fn tiny_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tiny.json");
    std::fs::write(
        &path,
        r#"{
            "seeds": 2,
            "train_size": 300,
            "test_size": 300,
            "network": {"kind": "mlp", "hidden": [64], "activation": "relu"},
            "batch_size": 32,
            "random_phase": {"epochs": 15, "stop_at_train_acc": 0.95},
            "lr": 0.1,
            "true_phase": {"epochs": 5},
            "fit_target": 0.5,
            "arms": [[], ["momentum", "weight-decay", "augmentation"]]
        }"#,
    )
    .expect("write config");
    path
}

#[test]
fn quick_run_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    let out = dir.path().join("out");
    let o = sgdlab(&[
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
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let run = out.join("random-labels");
    for f in [
        "config.json",
        "results.json",
        "metrics.csv",
        "report.md",
        "accuracy_curves.png",
        "accuracy_curves.svg",
        "test_accuracy.png",
        "test_accuracy.svg",
        "gap.png",
        "gap.svg",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    let printed: Value = serde_json::from_slice(&o.stdout).expect("--json prints results.json");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(printed, on_disk);
    assert_eq!(on_disk["status"], "complete");
    for arm in ["vanilla", "all three"] {
        let a = &on_disk["arms"][arm];
        for key in ["baseline_test_acc", "pretrained_test_acc"] {
            let accs = a[key].as_array().expect("per-seed array");
            assert_eq!(accs.len(), 2, "{arm}.{key}");
            for v in accs {
                let v = v.as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{arm}.{key} = {v}");
                assert!(
                    v > 0.3,
                    "{arm}.{key} = {v}: the MLP should learn digits beyond chance"
                );
            }
        }
        // The gap averages only the seeds whose two runs reached the train-accuracy target.
        let fitted = a["fitted_seeds"].as_array().expect("fitted_seeds").len();
        let unfitted = a["unfitted_seeds"]
            .as_array()
            .expect("unfitted_seeds")
            .len();
        assert_eq!(fitted + unfitted, 2, "{arm}: every seed is counted once");
        assert_eq!(
            a["gap_per_seed"].as_array().unwrap().len(),
            fitted,
            "{arm}.gap_per_seed"
        );
        assert_eq!(a["gap_mean"].is_number(), fitted > 0, "{arm}.gap_mean");
    }
    // metrics.csv: a header and one row per evaluated epoch.
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("seed,arm,run,epoch"));
    assert!(lines.count() >= 2 * 5, "too few metric rows:\n{csv}");
    // The written config reproduces the run: loading it back is accepted.
    let again = sgdlab(&[
        "run",
        "random-labels",
        "--preset",
        "quick",
        "--config",
        run.join("config.json").to_str().unwrap(),
        "--backend",
        "cpu",
        "--out",
        dir.path().join("again").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    let again_results =
        std::fs::read_to_string(dir.path().join("again/random-labels/results.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&again_results).unwrap(),
        on_disk,
        "same preset, config and seed on the same backend must give the same results.json"
    );
    let claims = sgdlab_tests::claims_of(&on_disk);
    assert_eq!(claims.len(), 2, "{claims:?}");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    let claims_at = report
        .find("## Claims")
        .expect("report.md has a claims table");
    assert!(
        claims_at < report.find("## Gap per arm").unwrap_or(usize::MAX),
        "report.md opens with the claims:\n{report}"
    );
}

fn expect_bad_input(args: &[&str], needles: &[&str]) {
    let o = sgdlab(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "args {args:?}: expected `{n}` in: {err}");
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap();
}

/// A valid MNIST-format label file for `n` examples.
fn idx_labels(n: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

#[test]
fn truncated_idx_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = vec![0, 0, 8, 3];
    for d in [10u32, 28, 28] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    images.extend(std::iter::repeat_n(0u8, 784 * 3)); // 3 of 10 images
    write(&dir.path().join("train-images-idx3-ubyte"), &images);
    write(&dir.path().join("train-labels-idx1-ubyte"), &idx_labels(10));
    let spec = format!("idx:{}", dir.path().display());
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--dataset",
            &spec,
            "--backend",
            "cpu",
            "--quiet",
        ],
        &["train-images-idx3-ubyte", "truncated"],
    );
}

#[test]
fn wrong_magic_idx_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = vec![0, 0, 8, 1]; // a label-file magic where images are expected
    for d in [1u32, 28, 28] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    images.extend(std::iter::repeat_n(0u8, 784));
    write(&dir.path().join("train-images-idx3-ubyte"), &images);
    write(&dir.path().join("train-labels-idx1-ubyte"), &idx_labels(1));
    let spec = format!("idx:{}", dir.path().display());
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--dataset",
            &spec,
            "--backend",
            "cpu",
            "--quiet",
        ],
        &["train-images-idx3-ubyte", "magic", "0x00000803"],
    );
}

#[test]
fn csv_row_of_wrong_width_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<String> = (0..64).map(|_| "3".to_string()).collect();
    let csv = format!("{},1\n{},2\n", good.join(","), good[..60].join(","));
    let path = dir.path().join("digits.csv");
    write(&path, csv.as_bytes());
    let spec = format!("digits:{}", path.display());
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--dataset",
            &spec,
            "--backend",
            "cpu",
            "--quiet",
        ],
        &["digits.csv", "line 2", "expected 65"],
    );
}

#[test]
fn negative_learning_rate_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    write(&path, br#"{"lr": -0.1}"#);
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--config",
            path.to_str().unwrap(),
            "--backend",
            "cpu",
        ],
        &["config field `lr`", "-0.1"],
    );
}

#[test]
fn unknown_config_key_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    write(&path, br#"{"random_phase": {"epoch": 3}}"#);
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--config",
            path.to_str().unwrap(),
            "--backend",
            "cpu",
        ],
        &["random_phase.epoch", "unknown key", "epochs"],
    );
}

#[test]
fn malformed_config_json_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    write(&path, b"{\"seed\": 1,,}");
    expect_bad_input(
        &["run", "random-labels", "--config", path.to_str().unwrap()],
        &["c.json", "not valid JSON", "line 1"],
    );
}

#[test]
fn missing_config_file_is_bad_input() {
    expect_bad_input(
        &[
            "run",
            "random-labels",
            "--config",
            "/nonexistent/sgdlab.json",
        ],
        &["/nonexistent/sgdlab.json"],
    );
}

#[test]
fn unknown_dataset_is_bad_input() {
    expect_bad_input(
        &["run", "random-labels", "--dataset", "imagenet"],
        &["imagenet", "mnist10k", "idx:DIR"],
    );
}

#[test]
fn unknown_experiment_and_flags_are_bad_input() {
    expect_bad_input(&["run", "grokking"], &["grokking", "random-labels"]);
    expect_bad_input(
        &["run", "random-labels", "--backend", "tpu"],
        &["tpu", "wgpu"],
    );
    expect_bad_input(&["run", "random-labels", "--seeds=-3"], &["--seeds", "-3"]);
    expect_bad_input(
        &["run", "random-labels", "--seeds", "0"],
        &["seeds", "found 0"],
    );
}

#[test]
fn divergence_exits_3_and_keeps_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    // A deep linear network at this learning rate overflows within a few steps (ReLU networks
    // tend to die instead, which is finite).
    write(
        &path,
        br#"{"seeds": 1, "train_size": 200, "test_size": 100,
             "network": {"kind": "mlp", "hidden": [32], "activation": "linear"},
             "lr": 50.0, "random_phase": {"epochs": 50, "stop_at_train_acc": 1.0}}"#,
    );
    let out = dir.path().join("out");
    let o = sgdlab(&[
        "run",
        "random-labels",
        "--config",
        path.to_str().unwrap(),
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("diverged at step"), "{err}");
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("random-labels/results.json")).expect("saved results"),
    )
    .unwrap();
    assert!(
        results["status"].as_str().unwrap().contains("diverged"),
        "{results}"
    );
    assert!(out.join("random-labels/config.json").is_file());
}

#[test]
fn toy_two_clusters_draws_decision_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    write(
        &path,
        br#"{"random_phase": {"epochs": 30, "stop_at_train_acc": 1.0},
             "true_phase": {"epochs": 5}}"#,
    );
    let out = dir.path().join("out");
    let o = sgdlab(&[
        "run",
        "random-labels",
        "--preset",
        "quick",
        "--dataset",
        "two-clusters",
        "--config",
        path.to_str().unwrap(),
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = out.join("random-labels");
    let png = std::fs::read(run.join("decision_boundaries.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("decision_boundaries.png"), "{report}");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["dataset"], "two-clusters");
    assert_eq!(
        config["batch_size"], 16,
        "the toy preset applies to 2-D data"
    );
}

#[test]
fn run_list_names_every_experiment() {
    let o = sgdlab(&["run", "--list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "random-labels",
            "elimination",
            "smoothing",
            "sharp-minima",
            "gossip",
            "rnn"
        ],
        "{out}"
    );
    let help = sgdlab(&["run", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for n in names {
        assert!(help.contains(n), "run --help lists {n}:\n{help}");
    }
}

/// An elimination run whose failure-mode part is far too short to leave the best original loss
/// (step 0.001 for 100 steps from an objective of 1/6 > L* = 1/9): the claim "the parameters run
/// off below every local minimum's value" must come out `fails`.
const NO_BAD_MINIMA: &str = r#"{"inits": 2, "steps": 20, "eval_every": 10,
    "failure_lr": 0.001, "failure_steps": 100}"#;

#[test]
fn a_failing_claim_exits_0_and_4_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sgdlab_tests::write_config(dir.path(), NO_BAD_MINIMA);
    let out = dir.path().join("out");
    let args = [
        "run",
        "elimination",
        "--config",
        &cfg,
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = sgdlab(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a fails is a finding: {}",
        stderr(&o)
    );
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("elimination/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        sgdlab_tests::verdict_of(&results, "failure-mode-runs-to-infinity"),
        "fails",
        "{}",
        results["claims"]
    );
    let mut strict = args.to_vec();
    strict.push("--strict");
    let o = sgdlab(&strict);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("failure-mode-runs-to-infinity"), "{err}");
}

#[test]
fn a_bad_out_dir_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    // A file where the directory should be, and a file where <experiment>/ goes.
    expect_bad_input(
        &["run", "gossip", "--out", file.to_str().unwrap()],
        &["output folder", "a-file"],
    );
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/gossip"), "x").unwrap();
    expect_bad_input(
        &[
            "run",
            "gossip",
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
        &["output folder", "not a folder"],
    );
    expect_bad_input(
        &["run", "gossip", "--out", "/proc/sgdlab-cannot-be-here"],
        &["output folder", "/proc/sgdlab-cannot-be-here"],
    );
}

#[test]
fn out_of_range_values_have_one_message_shape_in_every_experiment() {
    let dir = tempfile::tempdir().unwrap();
    for (experiment, json, field) in [
        ("random-labels", r#"{"seeds": 0}"#, "seeds"),
        ("elimination", r#"{"inits": 0}"#, "inits"),
        ("smoothing", r#"{"starts": 0}"#, "starts"),
        ("sharp-minima", r#"{"particles": 0}"#, "particles"),
        ("gossip", r#"{"nodes": 0}"#, "nodes"),
        ("rnn", r#"{"max_samples": 0}"#, "max_samples"),
    ] {
        let cfg = sgdlab_tests::write_config(dir.path(), json);
        let o = sgdlab(&["run", experiment, "--config", &cfg, "--backend", "cpu"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{experiment}: {err}");
        assert!(
            err.contains(&format!("config field `{field}`: expected "))
                && err.contains(", found 0"),
            "{experiment}: {err}"
        );
    }
}

#[test]
fn duplicate_keys_and_huge_configs_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sgdlab_tests::write_config(dir.path(), r#"{"inits": 3, "inits": 4}"#);
    expect_bad_input(
        &["run", "elimination", "--config", &cfg],
        &["`inits`", "twice"],
    );
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(17 << 20).unwrap();
    expect_bad_input(
        &["run", "elimination", "--config", big.to_str().unwrap()],
        &["big.json", "more than"],
    );
}

/// Configs whose fields are each in range but too big together are refused before anything is
/// allocated (exit 2, the field that drives the estimate named), under an explicit budget so
/// that the test means the same on any machine. Without the budget check the random-labels
/// case aborted on a 3.1 TB allocation.
#[test]
fn configs_over_the_memory_budget_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (experiment, json, field) in [
        (
            "random-labels",
            r#"{"network": {"kind": "mlp", "hidden": [1000000000]}}"#,
            "`network`",
        ),
        (
            "gossip",
            r#"{"nodes": 1024, "seeds": 256, "logistic": {"dim": 1000000}}"#,
            "`seeds`",
        ),
        ("sharp-minima", r#"{"particles": 67108864}"#, "`particles`"),
        (
            "rnn",
            r#"{"network": {"width": 16384}, "batch_size": 65536, "seq_lens": [1024]}"#,
            "`batch_size`",
        ),
    ] {
        let cfg = sgdlab_tests::write_config(dir.path(), json);
        let o = sgdlab(&[
            "run",
            experiment,
            "--preset",
            "quick",
            "--config",
            &cfg,
            "--max-memory",
            "8G",
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{experiment}: {err}");
        assert!(
            err.contains(&format!("config field {field}"))
                && err.contains("of memory")
                && err.contains("--max-memory allows"),
            "{experiment}: {err}"
        );
        assert!(
            !dir.path().join("out").join(experiment).exists(),
            "{experiment}: ran"
        );
    }
    // The rnn quick preset (estimated 0.3 MB) runs under a 64 MB budget; a budget that is not a
    // size is bad input.
    let o = sgdlab(&[
        "run",
        "rnn",
        "--preset",
        "quick",
        "--backend",
        "cpu",
        "--quiet",
        "--max-memory",
        "64M",
        "--out",
        dir.path().join("fits").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    expect_bad_input(
        &["run", "rnn", "--preset", "quick", "--max-memory", "lots"],
        &["--max-memory", "lots"],
    );
}
