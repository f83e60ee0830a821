//! The random-labels claims: the vanilla gap is positive; the fully regularized gap is not (a
//! pure function of the results, so rigged results test every verdict). Gaps are over the seeds
//! whose baseline and retrained runs both reached the training-accuracy target.

use super::{ArmResults, REGULARIZERS, RandomLabelsResults};
use crate::{Claim, Interval, IntervalVerdict, Verdict};

/// The gap interval of an arm, in accuracy points, and its fitted and unfitted seed counts.
pub fn gap_interval(arm: &ArmResults) -> (Interval, usize, usize) {
    let g: Vec<f64> = arm.gap_per_seed.iter().map(|g| 100.0 * g).collect();
    (Interval::mean_ci95(&g), g.len(), arm.unfitted_seeds.len())
}

/// The gap interval of an arm over every seed whose two runs have finished, whether or not they
/// reached the target (descriptive: the claims use [`gap_interval`]), and that seed count.
pub fn gap_interval_all_seeds(arm: &ArmResults) -> (Interval, usize) {
    let g: Vec<f64> = arm
        .baseline
        .iter()
        .filter_map(|b| {
            let p = arm.pretrained.iter().find(|p| p.seed == b.seed)?;
            Some(100.0 * (b.test_acc - p.test_acc))
        })
        .collect();
    (Interval::mean_ci95(&g), g.len())
}

fn describe(name: &str, arm: &ArmResults) -> String {
    let (i, n, u) = gap_interval(arm);
    if n == 0 {
        return format!("{name}: no seed passed the gate in both runs ({u} left out)");
    }
    format!(
        "{name}: gap {} pts over {n} seeds that passed the gate ({u} left out)",
        i.show(2)
    )
}

/// An arm's name and results.
type NamedArm<'a> = Option<(&'a String, &'a ArmResults)>;

/// The vanilla arm (no regularizer) and the fully regularized arm (all three), when configured.
fn arms(r: &RandomLabelsResults) -> (NamedArm<'_>, NamedArm<'_>) {
    let vanilla = r.arms.iter().find(|(_, a)| a.regularizers.is_empty());
    let full = r
        .arms
        .iter()
        .find(|(_, a)| a.regularizers.len() == REGULARIZERS.len());
    (vanilla, full)
}

/// The claims tested on `results`.
pub fn random_labels_claims(results: &RandomLabelsResults) -> Vec<Claim> {
    let (vanilla, full) = arms(results);
    let v_claim = Claim::new(
        "vanilla-gap-positive",
        "Without explicit regularization, SGD from a model pretrained on random labels reaches a \
         global minimum of the training loss that generalizes worse than SGD from scratch.",
        "over seeds whose phase A reached its target and whose two runs both reached the \
         training-accuracy target (100%: a global minimum): holds when the 95% t-interval of the \
         mean gap (baseline minus pretrained test accuracy, points) lies above 0; fails when it \
         lies at or below 0; inconclusive when it straddles 0 or fewer than two seeds qualify",
    );
    let Some((v_name, v_arm)) = vanilla else {
        return vec![v_claim.not_measured("no vanilla arm configured")];
    };
    let (v, nv, _) = gap_interval(v_arm);
    let v_claim = if nv < 2 {
        v_claim.decide(
            describe(v_name, v_arm),
            Verdict::Inconclusive,
            format!("{nv} seeds passed the gate in both runs (need 2)"),
        )
    } else {
        let (verdict, reason) = v.versus(0.0, Verdict::Holds, Verdict::Fails);
        v_claim.decide(describe(v_name, v_arm), verdict, reason)
    };
    let mut claims = vec![v_claim];
    if let Some((f_name, f_arm)) = full {
        let delta = results.equivalence_margin;
        let claim = Claim::new(
            "regularized-gap-removed",
            "With momentum, weight decay and augmentation together, random-label pretraining does \
             not hurt generalization.",
            format!(
                "equivalence test with a margin δ = {delta} pts fixed in advance, over seeds whose \
                 phase A reached its target and whose two runs plateaued in training loss: holds \
                 when the fully regularized gap's 95% t-interval lies inside [−δ, +δ]; fails when \
                 it lies above 0 and reaches beyond +δ; inconclusive otherwise (or with fewer \
                 than two seeds). Whether it lies below the vanilla interval is reported, not \
                 tested"
            ),
        );
        let (r, nr, _) = gap_interval(f_arm);
        let measured = format!(
            "{}; {}; {}",
            describe(f_name, f_arm),
            describe(v_name, v_arm),
            reduced_line(&r, &v)
        );
        let (verdict, reason) = equivalence(&r, nr, delta);
        claims.push(claim.decide(measured, verdict, reason));
    }
    claims
}

/// The equivalence decision on a gap interval `r` over `n` seeds with margin `delta` (points).
pub fn equivalence(r: &Interval, n: usize, delta: f64) -> (Verdict, String) {
    if n < 2 || !r.is_finite() {
        (
            Verdict::Inconclusive,
            format!("{n} seeds passed the gate (need 2)"),
        )
    } else if r.lo >= -delta && r.hi <= delta {
        (
            Verdict::Holds,
            format!("the interval lies inside ±{delta} pts"),
        )
    } else if r.lo > 0.0 && r.hi > delta {
        (
            Verdict::Fails,
            format!("the interval lies above 0 and reaches beyond +{delta} pts"),
        )
    } else {
        (
            Verdict::Inconclusive,
            format!("the interval neither lies inside ±{delta} pts nor above 0 beyond +{delta}"),
        )
    }
}

/// The descriptive "reduced" line: whether the regularized interval lies below the vanilla one.
pub fn reduced_line(r: &Interval, v: &Interval) -> String {
    if !(r.is_finite() && v.is_finite()) {
        "reduced against vanilla: not measured".into()
    } else if r.hi < v.lo {
        "descriptive: reduced, the interval lies below the vanilla one".into()
    } else {
        "descriptive: not shown reduced, the intervals overlap or it lies above".into()
    }
}

/// The single regularizer whose arm has the smallest mean gap, with that gap (points), among
/// arms with one regularizer and at least one seed that reached the target.
pub fn best_single_regularizer(r: &RandomLabelsResults) -> Option<(String, f64)> {
    r.arms
        .values()
        .filter(|a| a.regularizers.len() == 1 && !a.gap_per_seed.is_empty())
        .map(|a| (a.regularizers[0].clone(), 100.0 * a.gap_mean))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::super::RunRecord;
    use super::super::run::summarize_arm;
    use super::*;

    fn arm(regs: &[&str], gaps: &[f64], unfitted: usize) -> ArmResults {
        let mut a = ArmResults {
            regularizers: regs.iter().map(|s| s.to_string()).collect(),
            ..ArmResults::default()
        };
        for (i, g) in gaps.iter().enumerate() {
            let rec = |acc: f64| RunRecord {
                seed: i as u64,
                fitted: true,
                plateaued: true,
                test_acc: acc,
                ..RunRecord::default()
            };
            a.baseline.push(rec(0.9));
            a.pretrained.push(rec(0.9 - g));
        }
        for i in 0..unfitted {
            let rec = RunRecord {
                seed: 100 + i as u64,
                fitted: false,
                test_acc: 0.1,
                ..RunRecord::default()
            };
            a.baseline.push(rec.clone());
            a.pretrained.push(rec);
        }
        summarize_arm(&mut a, &[]);
        a
    }

    fn rigged(vanilla: &[f64], full: &[f64]) -> RandomLabelsResults {
        RandomLabelsResults {
            arms: [
                ("vanilla".to_string(), arm(&[], vanilla, 1)),
                (
                    "+momentum".to_string(),
                    arm(&["momentum"], &[0.02, 0.03, 0.025], 0),
                ),
                (
                    "+weight-decay".to_string(),
                    arm(&["weight-decay"], &[0.04, 0.05, 0.045], 0),
                ),
                (
                    "all three".to_string(),
                    arm(&["momentum", "weight-decay", "augmentation"], full, 0),
                ),
            ]
            .into_iter()
            .collect(),
            equivalence_margin: 0.5,
            ..RandomLabelsResults::default()
        }
    }

    fn verdicts(r: &RandomLabelsResults) -> Vec<Verdict> {
        random_labels_claims(r).iter().map(|c| c.verdict).collect()
    }

    #[test]
    fn a_clear_vanilla_gap_and_no_regularized_gap_hold() {
        // All-three gaps 0.1, -0.1, 0.05 pts: the interval lies inside ±0.5.
        let r = rigged(&[0.05, 0.06, 0.04], &[0.001, -0.001, 0.0005]);
        assert_eq!(verdicts(&r), [Verdict::Holds, Verdict::Holds]);
        // The unfitted vanilla seed is counted, not averaged in.
        let c = random_labels_claims(&r);
        assert!(c[0].measured.contains("over 3 seeds") && c[0].measured.contains("1 left out"));
        assert_eq!(
            best_single_regularizer(&r).map(|b| b.0),
            Some("momentum".to_string())
        );
    }

    #[test]
    fn no_vanilla_gap_and_an_equal_regularized_gap_fail() {
        let r = rigged(&[-0.05, -0.06, -0.04], &[0.05, 0.06, 0.04]);
        assert_eq!(verdicts(&r), [Verdict::Fails, Verdict::Fails]);
    }

    #[test]
    fn the_all_seeds_gap_pairs_runs_by_seed_and_counts_unfitted_ones() {
        // Fitted gaps 5, 6, 4 points; the unfitted seed has gap 0 (0.1 - 0.1).
        let a = arm(&[], &[0.05, 0.06, 0.04], 1);
        let (i, n) = gap_interval_all_seeds(&a);
        assert_eq!(n, 4);
        assert!((i.estimate - 3.75).abs() < 1e-9, "{i:?}");
        // A pretrained run listed in another order still pairs with its own seed.
        let mut b = a.clone();
        b.pretrained.reverse();
        assert_eq!(gap_interval_all_seeds(&b).0, i);
        // A seed whose retraining has not finished is left out.
        b.pretrained.pop();
        assert_eq!(gap_interval_all_seeds(&b).1, 3);
    }

    #[test]
    fn no_fitted_seed_is_said_in_words_not_nan() {
        let r = rigged(&[], &[]);
        let c = random_labels_claims(&r);
        assert_eq!(c[0].verdict, Verdict::Inconclusive);
        assert!(
            c[0].measured
                .contains("no seed passed the gate in both runs (1 left out)")
                && !c[0].measured.contains("NaN"),
            "{}",
            c[0].measured
        );
    }

    #[test]
    fn one_fitted_seed_is_inconclusive() {
        let r = rigged(&[0.05], &[0.0]);
        assert_eq!(verdicts(&r), [Verdict::Inconclusive, Verdict::Inconclusive]);
    }

    fn interval(pts: &[f64]) -> Interval {
        Interval::mean_ci95(pts)
    }

    #[test]
    fn the_equivalence_rule_decides_inside_above_and_straddling() {
        let d = 0.5;
        // Inside ±δ (even when it lies above 0): holds.
        assert_eq!(
            equivalence(&interval(&[0.2, 0.25, 0.3]), 3, d).0,
            Verdict::Holds
        );
        assert_eq!(
            equivalence(&interval(&[-0.1, 0.1, 0.0]), 3, d).0,
            Verdict::Holds
        );
        // Above 0 and beyond +δ: fails.
        assert_eq!(
            equivalence(&interval(&[1.0, 1.2, 1.1]), 3, d).0,
            Verdict::Fails
        );
        assert_eq!(
            equivalence(&interval(&[0.3, 0.5, 0.7]), 3, d).0,
            Verdict::Fails
        );
        // Straddling 0 and reaching beyond δ, or wholly below −δ: inconclusive.
        assert_eq!(
            equivalence(&interval(&[0.4, -0.2, 0.6]), 3, d).0,
            Verdict::Inconclusive
        );
        assert_eq!(
            equivalence(&interval(&[-1.0, -1.2, -1.1]), 3, d).0,
            Verdict::Inconclusive
        );
        // One seed, or no interval: inconclusive.
        assert_eq!(
            equivalence(&interval(&[0.0]), 1, d).0,
            Verdict::Inconclusive
        );
        // A zero margin never holds with a spread.
        assert_eq!(
            equivalence(&interval(&[0.1, -0.1, 0.0]), 3, 0.0).0,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn the_regularized_claim_uses_the_results_margin_and_reports_reduced() {
        // All-three gaps 0.2, 0.25, 0.3 pts: inside ±0.5 holds, inside ±0.1 it does not.
        let mut r = rigged(&[0.05, 0.06, 0.04], &[0.002, 0.0025, 0.003]);
        let c = random_labels_claims(&r);
        assert_eq!(c[1].verdict, Verdict::Holds, "{}", c[1].reason);
        assert!(c[1].test.contains("δ = 0.5"), "{}", c[1].test);
        assert!(
            c[1].measured.contains("descriptive: reduced"),
            "{}",
            c[1].measured
        );
        r.equivalence_margin = 0.1;
        assert_eq!(verdicts(&r)[1], Verdict::Fails);
    }

    #[test]
    fn the_gates_leave_out_unfitted_unplateaued_and_bad_phase_a_seeds() {
        let rec = |seed: u64, acc: f64, fitted: bool, plateaued: bool| RunRecord {
            seed,
            fitted,
            plateaued,
            test_acc: acc,
            ..RunRecord::default()
        };
        // Vanilla: seed 1's baseline ends one error short of 100% (not fitted), though its
        // loss has plateaued; seed 2's phase A missed its target.
        let mut v = ArmResults::default();
        for (seed, fitted) in [(0, true), (1, false), (2, true), (3, true)] {
            v.baseline.push(rec(seed, 0.93, fitted, true));
            v.pretrained.push(rec(seed, 0.92, true, true));
        }
        let phase_a: Vec<RunRecord> = (0..4)
            .map(|s| RunRecord {
                seed: s,
                fitted: s != 2,
                ..RunRecord::default()
            })
            .collect();
        summarize_arm(&mut v, &phase_a);
        assert_eq!(v.fitted_seeds, [0, 3]);
        assert_eq!(v.unfitted_seeds, [1, 2]);
        // An arm with augmentation is gated by the plateau, not by the fit.
        let mut f = ArmResults {
            regularizers: vec![
                "momentum".into(),
                "weight-decay".into(),
                "augmentation".into(),
            ],
            ..ArmResults::default()
        };
        for (seed, plateaued) in [(0, true), (1, false), (3, true)] {
            f.baseline.push(rec(seed, 0.95, false, plateaued));
            f.pretrained.push(rec(seed, 0.95, false, true));
        }
        summarize_arm(&mut f, &phase_a);
        assert_eq!(f.fitted_seeds, [0, 3]);
        assert_eq!(f.unfitted_seeds, [1]);
    }
}
