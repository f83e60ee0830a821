//! `sgdlab run rnn` end to end: the quick preset writes every promised file with sane numbers
//! and reports its claims as undecided (three lengths: the rule needs four), bad parameters
//! (odd or zero m, L < 2, window > L, seeds 0, cap 0) exit with code 2 naming the field,
//! `--seeds` applies, the decision rule's simulated power and false-alarm rate, the lookup
//! control through the real pipeline, and training agrees between the CPU and wgpu.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::device::{ComputeDevice, cpu_device};
use sgdlab_engine::model::ElmanRnnConfig;
use sgdlab_experiments::{Experiment, Rnn, RnnConfig};
use sgdlab_tests::{
    RUN_FILES, assert_files, claims_of, quick_run, sgdlab, stderr, wgpu_or_skip, write_config,
};

#[test]
fn quick_run_writes_every_output() {
    let run = quick_run("rnn", &["--seeds", "2"]);
    assert_files(&run.dir, &RUN_FILES);
    assert_files(
        &run.dir,
        &[
            "test_error_vs_samples.svg",
            "control_error_vs_samples.svg",
            "samples_needed_vs_length.svg",
            "width_check.svg",
            "movement_vs_samples.svg",
        ],
    );
    let r = &run.results;
    assert_eq!(r["status"], "complete");
    assert_eq!(r["seeds"].as_array().unwrap().len(), 2);
    let runs = r["runs"].as_array().unwrap();
    // 2 seeds × (3 concept + 3 control lengths) + the width check.
    assert_eq!(runs.len(), 2 * (3 + 3) + 1);
    for run in runs.iter().filter(|x| x["target"] == "concept") {
        let e = run["test_rel_error"].as_f64().unwrap();
        let e0 = run["init_test_rel_error"].as_f64().unwrap();
        // The cancelling halves start at output 0: relative error 1 (plus the mean²).
        assert!((e0 - 1.0).abs() < 0.2, "{run}");
        assert!(e < e0, "training must lower the test error: {run}");
        let mv = run["relative_movement"].as_f64().unwrap();
        assert!(mv > 0.0 && mv < 1.0, "{run}");
    }
    let share = r["linear_unexplained"][0][1].as_f64().unwrap();
    assert!(share > 0.1 && share < 1.0, "{share}");
    let claims = claims_of(r);
    assert_eq!(claims.len(), 2);
    assert!(
        claims.iter().all(|(_, v)| v == "inconclusive"),
        "{claims:?}"
    );
}

#[test]
fn bad_parameters_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (json, field) in [
        (r#"{"network": {"width": 0}}"#, "network.width"),
        (r#"{"network": {"width": 31}}"#, "network.width"),
        (r#"{"seq_lens": [1]}"#, "seq_lens[0]"),
        (r#"{"control_lens": [2, 40]}"#, "control_lens[1]"),
        (r#"{"max_samples": 0}"#, "max_samples"),
        (
            r#"{"seq_lens": [2, 4], "concept": {"window": 3}}"#,
            "concept.window",
        ),
        (r#"{"seeds": 0}"#, "seeds"),
        (r#"{"threshold_fraction": 0.0}"#, "threshold_fraction"),
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
        assert!(err.contains(&format!("`{field}`")), "{json}: {err}");
    }
}

fn tiny(device: ComputeDevice) -> Vec<(f64, f64)> {
    let config = RnnConfig::new()
        .with_seeds(1)
        .with_control(false)
        .with_network(ElmanRnnConfig::new().with_width(32))
        .with_seq_lens(vec![4])
        .with_width_check_len(0)
        .with_test_size(64)
        .with_first_eval(32)
        .with_max_samples(96);
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

/// CPU and wgpu differ only by f32 summation order; after 12 one-pass SGD steps the relative test error
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
