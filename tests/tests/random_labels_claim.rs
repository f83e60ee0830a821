//! `sgdlab run random-labels` end to end: the quick preset runs the authors' protocol (phase A
//! on the confusion set, one learning rate and schedule for every arm, the five ablation arms)
//! and reports its claims as undecided (the registry says the quick preset cannot decide); an
//! ablation list naming an unknown regularizer exits with code 2 naming the field.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{RUN_FILES, assert_files, claims_of, quick_run, sgdlab, stderr, write_config};

#[test]
fn quick_run_has_every_arm_and_undecided_claims() {
    let run = quick_run("random-labels", &[]);
    assert_files(&run.dir, &RUN_FILES);
    assert_files(
        &run.dir,
        &["gap.svg", "test_accuracy.svg", "accuracy_curves.svg"],
    );
    let r = &run.results;
    assert_eq!(r["status"], "complete");
    let arms = r["arm_order"].as_array().unwrap();
    let names: Vec<&str> = arms.iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "vanilla",
            "+momentum",
            "+weight-decay",
            "+augmentation",
            "all three"
        ]
    );
    for name in names {
        let arm = &r["arms"][name];
        let fitted = arm["fitted_seeds"].as_array().unwrap().len();
        let unfitted = arm["unfitted_seeds"].as_array().unwrap().len();
        assert_eq!(fitted + unfitted, 2, "{name}: every seed is counted");
        assert_eq!(arm["gap_per_seed"].as_array().unwrap().len(), fitted);
    }
    // Phase A ran on the confusion set (2 copies of 500 examples).
    assert_eq!(r["random_phase"].as_array().unwrap().len(), 2);
    let claims = claims_of(r);
    assert_eq!(claims.len(), 2);
    assert!(
        claims.iter().all(|(_, v)| v == "inconclusive"),
        "{claims:?}"
    );
}

#[test]
fn an_unknown_regularizer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (json, field) in [
        (r#"{"arms": [[], ["dropout"]]}"#, "arms[1][0]"),
        (r#"{"arms": [["momentum"]]}"#, "arms"),
        (r#"{"lr": 0.0}"#, "lr"),
        (r#"{"fit_target": 0.0}"#, "fit_target"),
    ] {
        let cfg = write_config(dir.path(), json);
        let o = sgdlab(&[
            "run",
            "random-labels",
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
