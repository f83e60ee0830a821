//! `sgdlab run elimination` end to end: the quick preset writes every promised file with sane
//! numbers, bad parameters exit with code 2 naming the field, and the batched burn computation
//! agrees between the CPU and wgpu.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use sgdlab_engine::device::{ComputeDevice, cpu_device};
use sgdlab_engine::experiments::{Elimination, EliminationConfig, Experiment};
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
        "elimination",
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
    let run = out.join("elimination");
    for f in [
        "config.json",
        "results.json",
        "metrics.csv",
        "report.md",
        "final_loss_distribution.png",
        "final_loss_distribution.svg",
        "training_curves.png",
        "training_curves.svg",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    let r: Value = serde_json::from_slice(&o.stdout).expect("--json prints results.json");
    assert_eq!(r["status"], "complete");
    let inits = r["inits"].as_u64().unwrap() as usize;
    assert!(inits >= 100, "the quick preset still uses 100+ inits");
    assert_eq!(r["plain_final_loss"].as_array().unwrap().len(), inits);
    assert_eq!(r["wrapped"].as_array().unwrap().len(), inits);
    // The problem is chosen so that plain training often ends suboptimal (seed 0: a stated
    // margin of at least 10% of the inits).
    let plain = r["plain_suboptimal_fraction"].as_f64().unwrap();
    assert!(plain >= 0.1, "plain suboptimal fraction {plain}");
    for key in [
        "wrapped_suboptimal_fraction",
        "wrapped_removed_suboptimal_fraction",
        "max_abs_a",
        "best_loss",
    ] {
        assert!(r[key].as_f64().unwrap().is_finite(), "{key}: {}", r[key]);
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("path to infinity"), "{report}");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("step,arm,init,loss"));
    assert!(csv.lines().count() > 2 * inits);
}

#[test]
fn bad_parameters_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (json, field) in [
        (r#"{"lambda": 0.0}"#, "lambda"),
        (r#"{"lambda": -0.5}"#, "lambda"),
        (r#"{"hidden": 0}"#, "hidden"),
        (r#"{"inits": 0}"#, "inits"),
        (r#"{"optim": {"lr": -1.0}}"#, "optim.lr"),
    ] {
        let cfg = write_config(dir.path(), json);
        let o = sgdlab(&[
            "run",
            "elimination",
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

fn final_losses(device: ComputeDevice) -> (Vec<f64>, Vec<f64>) {
    let config = EliminationConfig::new()
        .with_inits(8)
        .with_steps(150)
        .with_eval_every(50);
    let mut e = Elimination::new(config, device).unwrap();
    while !e.is_done() {
        e.step().unwrap();
    }
    let r = e.results();
    (
        r.plain_final_loss.clone(),
        r.wrapped.iter().map(|w| w.objective).collect(),
    )
}

/// CPU and wgpu run the same f32 arithmetic in different summation orders; after 150 full-batch
/// steps of these 2-2-1 networks the final losses agree within 1e-3 (absolute).
#[test]
fn cpu_and_wgpu_agree() {
    let Some(gpu) = wgpu_or_skip("elimination cpu_and_wgpu_agree") else {
        return;
    };
    let (cp, cw) = final_losses(cpu_device());
    let (gp, gw) = final_losses(gpu);
    for (a, b) in cp.iter().chain(&cw).zip(gp.iter().chain(&gw)) {
        assert!(
            (a - b).abs() < 1e-3,
            "cpu {cp:?} {cw:?} vs wgpu {gp:?} {gw:?}"
        );
    }
}
