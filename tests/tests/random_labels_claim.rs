//! `sgdlab run random-labels` end to end: the quick preset runs the authors' protocol (phase A
//! on the confusion set, one learning rate and schedule for every arm, the five ablation arms)
//! and reports its claims as undecided (the registry says the quick preset cannot decide); an
//! ablation list naming an unknown regularizer exits with code 2 naming the field.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{
    RUN_FILES, assert_files, claims_of, quick_run, sgdlab, stderr, verdict_of, write_config,
};

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
        (r#"{"equivalence_margin": -0.5}"#, "equivalence_margin"),
        (r#"{"eval_every": 0}"#, "eval_every"),
        (r#"{"plateau_tolerance": 0.0}"#, "plateau_tolerance"),
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

/// A small run of the default pipeline (not the quick preset, so the rules decide): 2 seeds,
/// 300 training and test images, a 64-unit MLP, 6 epochs per phase B run.
fn small_run(extra: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = format!(
        r#"{{"seeds": 2, "train_size": 300, "test_size": 300,
            "network": {{"kind": "mlp", "hidden": [64], "activation": "relu"}},
            "batch_size": 32, "true_phase": {{"epochs": 6}}, "eval_every": 1,
            "plateau_epochs": 2, "plateau_tolerance": 1.0, "fit_target": 0.5{extra}}}"#
    );
    let cfg = write_config(dir.path(), &json);
    let out = dir.path().join("out");
    let o = sgdlab(&[
        "run",
        "random-labels",
        "--config",
        &cfg,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("random-labels/results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_equivalence_claim_flips_with_its_margin_and_the_gates_exclude_seeds() {
    // Phase A stops at an easy target, so every seed passes its gate; a margin of 100 points
    // contains any interval: the equivalence holds.
    let wide = small_run(
        r#", "random_phase": {"epochs": 3, "stop_at_train_acc": 0.05},
             "equivalence_margin": 100.0"#,
    );
    assert_eq!(wide["equivalence_margin"], 100.0);
    assert_eq!(wide["arms"]["all three"]["gate"], "plateau");
    assert_eq!(wide["arms"]["vanilla"]["gate"], "fit");
    assert_eq!(
        wide["arms"]["all three"]["fitted_seeds"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(verdict_of(&wide, "regularized-gap-removed"), "holds");
    // The same runs with a zero margin cannot hold.
    let tight = small_run(
        r#", "random_phase": {"epochs": 3, "stop_at_train_acc": 0.05},
             "equivalence_margin": 0.0"#,
    );
    assert_ne!(verdict_of(&tight, "regularized-gap-removed"), "holds");
    // Phase A that cannot reach its target (100% of random labels in one epoch) leaves every
    // seed out: both claims are inconclusive, whatever the gaps.
    let unmet = small_run(
        r#", "random_phase": {"epochs": 1, "stop_at_train_acc": 1.0},
             "equivalence_margin": 100.0"#,
    );
    for arm in ["vanilla", "all three"] {
        assert_eq!(
            unmet["arms"][arm]["unfitted_seeds"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{arm}"
        );
    }
    let claims = claims_of(&unmet);
    assert!(
        claims.iter().all(|(_, v)| v == "inconclusive"),
        "{claims:?}"
    );
}
