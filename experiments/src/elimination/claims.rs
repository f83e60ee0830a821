//! The elimination experiment's claims, decided on the classified end points (a pure function
//! of the results, so rigged results test every verdict).

use super::{EliminationResults, EndPoint, EndPointRun, FailureMode};
use crate::{Claim, Interval, IntervalVerdict, Verdict};

/// Classified local minima needed before "none is bad" counts as evidence.
pub const MIN_LOCAL_MINIMA: usize = 10;

/// Growth of ‖(w, b)‖ between each of the last three failure-mode checkpoints that counts as
/// running off (a converging run's increments shrink towards 0).
pub const FAILURE_GROWTH: f64 = 0.1;

/// Margin below L* that the failure-mode objective must reach.
pub const FAILURE_BELOW: f64 = 0.01;

fn count_classes(runs: &[&EndPointRun]) -> String {
    let n = |e: EndPoint| runs.iter().filter(|r| r.end == e).count();
    format!(
        "{} local minima, {} saddles, {} still moving, {} escaping, {} non-differentiable",
        n(EndPoint::LocalMinimum),
        n(EndPoint::Saddle),
        n(EndPoint::StillMoving),
        n(EndPoint::Escaping),
        n(EndPoint::NonDifferentiable)
    )
}

/// The claims tested on `r`: the theorem at the wrapped runs' local minima, the plain network's
/// bad local minima, and the failure mode.
pub fn elimination_claims(r: &EliminationResults) -> Vec<Claim> {
    vec![
        wrapped_claim(r),
        plain_claim(r),
        failure_claim(&r.failure_mode),
    ]
}

fn arm<'a>(r: &'a EliminationResults, name: &str) -> Vec<&'a EndPointRun> {
    r.end_points.iter().filter(|e| e.arm == name).collect()
}

fn wrapped_claim(r: &EliminationResults) -> Claim {
    let claim = Claim::new(
        "wrapped-local-minima-are-global",
        "At every local minimum of the objective with one exponential neuron and (λ/2)a², a = 0 \
         and the original network attains its best loss (Kawaguchi, Kaelbling 2020, Thm 1).",
        format!(
            "over wrapped runs whose end point is a local minimum (‖∇‖ < tol, smallest Hessian \
             eigenvalue ≥ −tol): fails when any has |a| > {} or a loss with the neuron removed \
             above the best original loss + {}; holds when none does and there are at least \
             {MIN_LOCAL_MINIMA}; otherwise inconclusive",
            r.a_tolerance, r.tolerance
        ),
    );
    let wrapped = arm(r, "wrapped");
    if wrapped.is_empty() {
        return claim.not_measured("no wrapped end point classified yet");
    }
    let minima: Vec<&&EndPointRun> = wrapped
        .iter()
        .filter(|e| e.end == EndPoint::LocalMinimum)
        .collect();
    let threshold = r.best_original_loss + r.tolerance;
    let bad = minima
        .iter()
        .filter(|e| e.a.abs() > r.a_tolerance || e.original_loss > threshold)
        .count();
    let max_a = minima.iter().map(|e| e.a.abs()).fold(0.0, f64::max);
    let share = Interval::wilson95(bad, minima.len());
    let measured = format!(
        "{} wrapped runs: {}; counterexamples among the local minima {bad} (share {}), largest \
         |a| at a local minimum {max_a:.1e}; best original loss {:.3e}",
        wrapped.len(),
        count_classes(&wrapped),
        share.show(3),
        r.best_original_loss
    );
    if bad > 0 {
        claim.decide(
            measured,
            Verdict::Fails,
            "a classified local minimum has a ≠ 0 or a suboptimal original network",
        )
    } else if minima.len() >= MIN_LOCAL_MINIMA {
        claim.decide(
            measured,
            Verdict::Holds,
            format!(
                "all {} classified local minima have a ≈ 0 and the best original loss",
                minima.len()
            ),
        )
    } else {
        claim.decide(
            measured,
            Verdict::Inconclusive,
            format!(
                "only {} wrapped runs ended at a local minimum (need {MIN_LOCAL_MINIMA})",
                minima.len()
            ),
        )
    }
}

fn plain_claim(r: &EliminationResults) -> Claim {
    let claim = Claim::new(
        "plain-has-bad-local-minima",
        "The original network has bad local minima on this task, so there is something to \
         eliminate.",
        format!(
            "over plain runs whose end point is a local minimum: holds when the 95% Wilson \
             interval of the share above the best original loss + {} lies above 0; fails when \
             none of at least {MIN_LOCAL_MINIMA} is; otherwise inconclusive",
            r.tolerance
        ),
    );
    let plain = arm(r, "plain");
    if plain.is_empty() {
        return claim.not_measured("no plain end point classified yet");
    }
    let minima: Vec<&&EndPointRun> = plain
        .iter()
        .filter(|e| e.end == EndPoint::LocalMinimum)
        .collect();
    let threshold = r.best_original_loss + r.tolerance;
    let bad = minima.iter().filter(|e| e.objective > threshold).count();
    let share = Interval::wilson95(bad, minima.len());
    let measured = format!(
        "{} plain runs: {}; bad local minima {bad} of {} (share {})",
        plain.len(),
        count_classes(&plain),
        minima.len(),
        share.show(3)
    );
    if minima.len() < MIN_LOCAL_MINIMA && bad == 0 {
        return claim.decide(
            measured,
            Verdict::Inconclusive,
            format!("only {} plain runs ended at a local minimum", minima.len()),
        );
    }
    if bad == 0 {
        return claim.decide(
            measured,
            Verdict::Fails,
            format!(
                "none of the {} classified local minima is above the best loss",
                minima.len()
            ),
        );
    }
    let (verdict, reason) = share.versus(0.0, Verdict::Holds, Verdict::Fails);
    claim.decide(measured, verdict, reason)
}

fn failure_claim(f: &FailureMode) -> Claim {
    let claim = Claim::new(
        "failure-mode-runs-to-infinity",
        "Where the wrapped objective has no local minimum in reach, the theorem says nothing: \
         gradient descent lowers the objective below every local minimum's value while the \
         neuron's parameters run off to infinity.",
        format!(
            "on the constant-model example: holds when the objective never rises between \
             checkpoints, ends below L* − {FAILURE_BELOW} (every local minimum has objective L*), \
             and ‖(w, b)‖ grows by more than {FAILURE_GROWTH} between each of the last three \
             checkpoints; fails otherwise"
        ),
    );
    let pts = &f.points;
    if pts.len() < 3 {
        return claim.not_measured("the failure-mode run has not been made");
    }
    let monotone = pts
        .windows(2)
        .all(|w| w[1].objective <= w[0].objective + 1e-12);
    let last = &pts[pts.len() - 1];
    let below = last.objective < f.best_original_loss - FAILURE_BELOW;
    let tail = &pts[pts.len() - 3..];
    let growth: Vec<f64> = tail
        .windows(2)
        .map(|w| w[1].neuron_norm - w[0].neuron_norm)
        .collect();
    let growing = growth.iter().all(|&g| g > FAILURE_GROWTH);
    let measured = format!(
        "objective {:.3e} at step {} (L* = {:.4}); ‖(w, b)‖ {} at steps {}; growth {}",
        last.objective,
        last.step,
        f.best_original_loss,
        tail.iter()
            .map(|p| format!("{:.2}", p.neuron_norm))
            .collect::<Vec<_>>()
            .join(" → "),
        tail.iter()
            .map(|p| p.step.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        growth
            .iter()
            .map(|g| format!("{g:+.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match (monotone, below, growing) {
        (true, true, true) => claim.decide(
            measured,
            Verdict::Holds,
            "below every local minimum's value and still running off",
        ),
        (false, ..) => claim.decide(measured, Verdict::Fails, "the objective rose"),
        (_, false, _) => claim.decide(
            measured,
            Verdict::Fails,
            "the objective did not fall below L*: a local minimum may be in reach",
        ),
        _ => claim.decide(measured, Verdict::Fails, "‖(w, b)‖ stopped growing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FailurePoint;

    fn run(arm: &str, end: EndPoint, loss: f64, a: f64) -> EndPointRun {
        EndPointRun {
            arm: arm.into(),
            init: 0,
            end,
            objective: loss,
            original_loss: loss,
            a,
            grad_norm: 0.0,
            min_eigenvalue: 0.0,
            param_norm: 1.0,
            iters: 0,
        }
    }

    fn rigged(plain_bad: usize, wrapped_bad_a: usize, minima: usize) -> EliminationResults {
        let mut end_points = Vec::new();
        for i in 0..minima {
            let loss = if i < plain_bad { 0.5 } else { 0.001 };
            end_points.push(run("plain", EndPoint::LocalMinimum, loss, 0.0));
            let a = if i < wrapped_bad_a { 0.5 } else { 1e-6 };
            end_points.push(run("wrapped", EndPoint::LocalMinimum, 0.001, a));
        }
        end_points.push(run("wrapped", EndPoint::Escaping, 0.3, 1.5));
        EliminationResults {
            end_points,
            best_original_loss: 0.001,
            tolerance: 0.01,
            a_tolerance: 1e-3,
            ..EliminationResults::default()
        }
    }

    fn failure(norms: &[f64], objective_end: f64) -> FailureMode {
        FailureMode {
            best_original_loss: 1.0 / 9.0,
            points: norms
                .iter()
                .enumerate()
                .map(|(i, &n)| FailurePoint {
                    step: 10 * (i + 1),
                    objective: if i + 1 == norms.len() {
                        objective_end
                    } else {
                        0.1 - 0.01 * i as f64
                    },
                    neuron_norm: n,
                    ..FailurePoint::default()
                })
                .collect(),
            ..FailureMode::default()
        }
    }

    #[test]
    fn the_theorem_holds_on_clean_minima_and_fails_on_a_counterexample() {
        let c = elimination_claims(&rigged(3, 0, 12));
        assert_eq!(c[0].verdict, Verdict::Holds, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Holds, "{c:?}");
        let c = elimination_claims(&rigged(3, 1, 12));
        assert_eq!(c[0].verdict, Verdict::Fails, "{c:?}");
        // Escaping runs are reported, not counted as minima.
        assert!(c[0].measured.contains("1 escaping"), "{}", c[0].measured);
    }

    #[test]
    fn no_bad_plain_minimum_fails_and_too_few_minima_are_inconclusive() {
        let c = elimination_claims(&rigged(0, 0, 12));
        assert_eq!(c[1].verdict, Verdict::Fails, "{c:?}");
        let c = elimination_claims(&rigged(0, 0, 3));
        assert_eq!(c[0].verdict, Verdict::Inconclusive, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Inconclusive, "{c:?}");
    }

    #[test]
    fn the_failure_mode_fails_when_the_norm_stops_growing() {
        let holds = failure(&[1.0, 1.5, 2.0, 2.5], 0.001);
        assert_eq!(failure_claim(&holds).verdict, Verdict::Holds);
        let bounded = failure(&[1.0, 1.5, 1.55, 1.56], 0.001);
        assert_eq!(failure_claim(&bounded).verdict, Verdict::Fails);
        let at_minimum = failure(&[1.0, 1.5, 2.0, 2.5], 0.2);
        assert_eq!(failure_claim(&at_minimum).verdict, Verdict::Fails);
        assert_eq!(
            failure_claim(&FailureMode::default()).verdict,
            Verdict::Inconclusive
        );
    }
}
