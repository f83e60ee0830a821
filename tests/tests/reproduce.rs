//! `sgdlab reproduce` end to end: every registered experiment's quick preset in one command,
//! with `--backend auto` (which must not pick a software adapter here), a claims block of the
//! shared schema in every `results.json`, `index.md` and a self-contained `index.html`, and a
//! rerun that skips what is complete.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use sgdlab_tests::{RUN_FILES, assert_files, claims_of, sgdlab, stderr};

const EXPERIMENTS: [&str; 6] = [
    "random-labels",
    "elimination",
    "smoothing",
    "sharp-minima",
    "gossip",
    "rnn",
];

#[test]
fn reproduce_quick_writes_claims_and_an_index_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let o = sgdlab(&[
        "reproduce",
        "--preset",
        "quick",
        "--backend",
        "auto",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "exit {:?}: {err}", o.status);
    // Without a hardware GPU, auto computes on the CPU and says why; no GL-probe noise.
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
    for name in EXPERIMENTS {
        let run = out.join(name);
        assert_files(&run, &RUN_FILES);
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap())
                .unwrap();
        let claims = claims_of(&results);
        assert!(!claims.is_empty(), "{name} reports no claims");
        assert_eq!(results["run"]["complete"], true, "{name}");
        assert_eq!(results["run"]["preset"], "quick", "{name}");
        let report = std::fs::read_to_string(run.join("report.md")).unwrap();
        assert!(report.contains("## Claims"), "{name}: {report}");
        // Every chart of every quick run: axis titles and tick labels on each axis.
        let problems = sgdlab_tests::svg::dir_axis_problems(&run);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for name in EXPERIMENTS {
        assert!(
            index.contains(&format!("[{name}]({name}/report.md)")),
            "{index}"
        );
        assert!(
            html.contains(&format!("id=\"{name}\"")),
            "index.html lacks {name}"
        );
    }
    assert!(
        html.contains("data:image/png;base64,"),
        "images are embedded"
    );
    assert!(
        !html.contains("<img src=\"http"),
        "nothing is fetched from outside"
    );

    // A rerun finds everything complete and only rewrites the index.
    let again = sgdlab(&[
        "reproduce",
        "--preset",
        "quick",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&again);
    assert!(again.status.success(), "{err}");
    assert_eq!(err.matches("already, skipped").count(), 6, "{err}");
}

#[test]
fn reproduce_checks_every_name_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let o = sgdlab(&[
        "reproduce",
        "--only",
        "gossip,grokking",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("grokking"), "{}", stderr(&o));
    assert!(!out.join("gossip").exists(), "nothing ran");
}
