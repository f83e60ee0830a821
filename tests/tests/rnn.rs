//! `sgdlab run rnn` end to end: the quick preset writes every promised file with sane numbers,
//! bad parameters (m < 1, L < 1, window > L) exit with code 2 naming the field, and training
//! agrees between the CPU and wgpu.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use sgdlab_engine::device::{ComputeDevice, cpu_device};
use sgdlab_engine::experiments::{Experiment, Rnn, RnnConfig};
use sgdlab_engine::model::ElmanRnnConfig;
use sgdlab_tests::{sgdlab, stderr, wgpu_or_skip};
use std::path::Path;

fn write_config(dir: &Path, json: &str) -> String {
    let p = dir.join("c.json");
    std::fs::write(&p, json).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn quick_run_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = sgdlab(&[
        "run",
        "rnn",
        "--preset",
        "quick",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let run = out.join("rnn");
    for f in [
        "config.json",
        "results.json",
        "metrics.csv",
        "report.md",
        "test_error_vs_samples.png",
        "test_error_vs_samples.svg",
        "width_sweep.png",
        "samples_needed_vs_length.png",
        "movement_vs_samples.png",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    let r: Value = serde_json::from_slice(&o.stdout).expect("--json prints results.json");
    assert_eq!(r["status"], "complete");
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2 * 2 + 2, "2 L × 2 sample sizes + 2 widths");
    for run in runs {
        let e = run["test_rel_error"].as_f64().unwrap();
        let e0 = run["init_test_rel_error"].as_f64().unwrap();
        assert!(e < e0, "training must lower the test error: {run}");
        let mv = run["relative_movement"].as_f64().unwrap();
        assert!(mv > 0.0 && mv < 1.0, "{run}");
    }
    assert!(r["scaling"]["verdict"].is_string());
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("sweep,seq_len,width,samples,epoch"));
}

#[test]
fn bad_parameters_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (json, field) in [
        (r#"{"network": {"width": 0}}"#, "network.width"),
        (r#"{"seq_lens": [0]}"#, "seq_lens[0]"),
        (
            r#"{"seq_lens": [2, 4], "concept": {"window": 3}}"#,
            "concept.window",
        ),
        (r#"{"widths": [16, 0]}"#, "widths[1]"),
    ] {
        let cfg = write_config(dir.path(), json);
        let o = sgdlab(&[
            "run",
            "rnn",
            "--preset",
            "quick",
            "--config",
            &cfg,
            "--backend",
            "cpu",
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--quiet",
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{json}: {err}");
        assert!(err.contains(field), "{json}: {err}");
    }
}

fn tiny(device: ComputeDevice) -> Vec<(f64, f64)> {
    let config = RnnConfig::new()
        .with_network(ElmanRnnConfig::new().with_width(32))
        .with_seq_lens(vec![4])
        .with_sample_sizes(vec![32])
        .with_widths(vec![])
        .with_width_sweep_seq_len(4)
        .with_test_size(64)
        .with_epochs(3);
    let mut e = Rnn::new(config, device).unwrap();
    while !e.is_done() {
        e.step().unwrap();
    }
    e.results()
        .runs
        .iter()
        .map(|r| (r.test_rel_error, r.relative_movement))
        .collect()
}

/// CPU and wgpu differ only by f32 summation order; after 12 SGD steps the relative test error
/// and the relative movement of W agree within 1e-3 (relative).
#[test]
fn cpu_and_wgpu_agree() {
    let Some(gpu) = wgpu_or_skip("rnn cpu_and_wgpu_agree") else {
        return;
    };
    let c = tiny(cpu_device());
    let g = tiny(gpu);
    assert_eq!(c.len(), g.len());
    for ((ce, cm), (ge, gm)) in c.iter().zip(&g) {
        assert!(
            (ce - ge).abs() <= 1e-3 * ce.abs().max(1e-3),
            "{c:?} vs {g:?}"
        );
        assert!(
            (cm - gm).abs() <= 1e-3 * cm.abs().max(1e-3),
            "{c:?} vs {g:?}"
        );
    }
}
