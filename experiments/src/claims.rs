//! The `claims` block every experiment reports: the paper's claim in one sentence, what was
//! measured (with its uncertainty), the decision rule with its margin, and a verdict.
//!
//! One schema for all experiments, written into `results.json` as `claims` and as the table that
//! opens `report.md`. A `fails` is a finding, not an error: the CLI exits 0 unless `--strict`.

use serde::{Deserialize, Serialize};
use sgdlab_engine::report::ReportMd;

/// The outcome of a claim's decision rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The measurement satisfies the decision rule with its margin.
    Holds,
    /// The measurement contradicts the claim beyond the margin.
    Fails,
    /// Too few runs, censored values, or an interval straddling the threshold.
    Inconclusive,
}

impl Verdict {
    /// `holds`, `fails` or `inconclusive`, as written in `results.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holds => "holds",
            Self::Fails => "fails",
            Self::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One claim of a paper, tested on this run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// A stable identifier within the experiment (`vanilla-gap-positive`).
    pub id: String,
    /// The paper's claim, in one sentence.
    pub statement: String,
    /// The numbers the verdict rests on, with their uncertainty.
    pub measured: String,
    /// The decision rule with its margin.
    pub test: String,
    /// The outcome.
    pub verdict: Verdict,
    /// Why this verdict (which part of the rule decided it).
    pub reason: String,
}

/// The reason every claim of a quick preset that cannot decide carries.
pub const QUICK_TOO_SMALL: &str = "quick preset: too small to decide";

impl Claim {
    /// A claim with its statement and decision rule; [`Claim::decide`] fills in the rest.
    pub fn new(id: &str, statement: &str, test: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            statement: statement.into(),
            measured: String::new(),
            test: test.into(),
            verdict: Verdict::Inconclusive,
            reason: "not measured yet".into(),
        }
    }

    /// Sets what was measured, the verdict and its reason.
    pub fn decide(
        mut self,
        measured: impl Into<String>,
        verdict: Verdict,
        reason: impl Into<String>,
    ) -> Self {
        self.measured = measured.into();
        self.verdict = verdict;
        self.reason = reason.into();
        self
    }

    /// Leaves the claim `inconclusive` because the run has not produced its numbers (an
    /// interrupted run, or a part the config skips).
    pub fn not_measured(self, why: &str) -> Self {
        self.decide("—", Verdict::Inconclusive, why)
    }
}

/// Marks every claim of a preset too small to decide as `inconclusive`, keeping what the rule
/// gave at this size in the reason (so nothing measured is hidden).
pub fn too_small_to_decide(claims: &mut [Claim]) {
    for c in claims {
        if !c.reason.starts_with(QUICK_TOO_SMALL) {
            c.reason = format!(
                "{QUICK_TOO_SMALL} (at this size the rule gives `{}`: {})",
                c.verdict, c.reason
            );
            c.verdict = Verdict::Inconclusive;
        }
    }
}

pub use sgdlab_engine::report::Interval;

/// The decision a claim draws from an [`Interval`] against a threshold.
pub trait IntervalVerdict {
    /// `above` when the whole interval lies above `threshold`, `below` when it lies at or below
    /// it, and `inconclusive` when it straddles it or is not finite.
    fn versus(&self, threshold: f64, above: Verdict, below: Verdict) -> (Verdict, String);
}

impl IntervalVerdict for Interval {
    fn versus(&self, threshold: f64, above: Verdict, below: Verdict) -> (Verdict, String) {
        if !self.is_finite() {
            (
                Verdict::Inconclusive,
                "too few values for an interval".into(),
            )
        } else if self.lo > threshold {
            (above, format!("interval lies above {}", fmt_num(threshold)))
        } else if self.hi <= threshold {
            (
                below,
                format!("interval lies at or below {}", fmt_num(threshold)),
            )
        } else {
            (
                Verdict::Inconclusive,
                format!("interval straddles {}", fmt_num(threshold)),
            )
        }
    }
}

/// A number as a short string (no trailing zeros for round values).
fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Appends a `Claims` heading and the claims table to a report.
pub fn claims_section(md: &mut ReportMd, claims: &[Claim]) {
    md.heading(2, "Claims");
    claims_table(md, claims);
}

/// Appends the claims table (claim, verdict, measured, test, reason) to a report.
pub fn claims_table(md: &mut ReportMd, claims: &[Claim]) {
    if claims.is_empty() {
        md.paragraph("No claims were measured in this run.");
        return;
    }
    let rows: Vec<Vec<String>> = claims
        .iter()
        .map(|c| {
            vec![
                format!("**{}**: {}", c.id, c.statement),
                format!("**{}**", c.verdict),
                c.measured.clone(),
                c.test.clone(),
                c.reason.clone(),
            ]
        })
        .collect();
    md.table(&["claim", "verdict", "measured", "test", "reason"], &rows);
}

/// One line per claim, for the end of a CLI run: `holds  id: measured`.
pub fn claims_lines(claims: &[Claim]) -> Vec<String> {
    claims
        .iter()
        .map(|c| format!("{:<12} {}: {} ({})", c.verdict, c.id, c.measured, c.reason))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_serialize_lowercase() {
        let c = Claim::new("x", "s", "t").decide("m", Verdict::Holds, "r");
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["verdict"], "holds");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in ["id", "statement", "measured", "test", "verdict", "reason"] {
            assert!(keys.contains(&k), "{keys:?}");
        }
    }

    #[test]
    fn interval_decisions() {
        let i = Interval::mean_ci95(&[1.0, 1.2, 0.9, 1.1]);
        assert_eq!(
            i.versus(0.0, Verdict::Holds, Verdict::Fails).0,
            Verdict::Holds
        );
        let i = Interval::mean_ci95(&[-1.0, -1.2, -0.9, -1.1]);
        assert_eq!(
            i.versus(0.0, Verdict::Holds, Verdict::Fails).0,
            Verdict::Fails
        );
        let i = Interval::mean_ci95(&[-1.0, 1.0, -0.5, 0.7]);
        assert_eq!(
            i.versus(0.0, Verdict::Holds, Verdict::Fails).0,
            Verdict::Inconclusive
        );
        let i = Interval::mean_ci95(&[1.0]);
        assert_eq!(
            i.versus(0.0, Verdict::Holds, Verdict::Fails).0,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn too_small_keeps_the_rule_outcome_in_the_reason() {
        let mut cs = vec![Claim::new("a", "s", "t").decide("m", Verdict::Fails, "below")];
        too_small_to_decide(&mut cs);
        assert_eq!(cs[0].verdict, Verdict::Inconclusive);
        assert!(cs[0].reason.starts_with(QUICK_TOO_SMALL));
        assert!(cs[0].reason.contains("`fails`: below"), "{}", cs[0].reason);
    }
}
