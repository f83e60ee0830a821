//! The checks around the classifier: the perturbation test (for stationary points next to a
//! ReLU kink and for every classified local minimum), the constructed wrapped saddles of the
//! positive control, and the diverging test for runs still moving at the end of the budget.
//!
//! The theorem's claim can only come out `fails` if the classifier can see a counterexample; the
//! positive control builds, from each bad plain local minimum θ, the wrapped stationary point
//! (θ, w, b, a = 0) with Σᵢ rᵢ·exp(wᵀxᵢ + b) = 0 (rᵢ the plain network's residuals), which the
//! theorem says is not a local minimum, and asks the classifier's second-order test about it
//! without refinement.

use super::classify::{HostObjective, Objective, Params};
use serde::{Deserialize, Serialize};
use sgdlab_engine::rng::SplitMix64;

/// The perturbation test's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerturbRule {
    /// Random directions per radius.
    pub directions: usize,
    /// Radii, relative to max(‖θ‖, 1).
    pub radii: [f64; 2],
    /// Gradient steps (with backtracking) after each perturbation.
    pub steps: usize,
    /// A perturbed descent that ends below the point's objective by more than this has left it.
    pub drop: f64,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Gradient descent with a backtracking (Armijo) step from `q`, for at most `steps` steps or until
/// the objective falls below `target`; the value reached.
fn descend(obj: &dyn Objective, mut q: Vec<f64>, steps: usize, target: f64) -> f64 {
    let (mut v, mut g) = obj.value_grad(&q, true);
    let mut t: f64 = 1.0;
    for _ in 0..steps {
        if !v.is_finite() || v < target {
            break;
        }
        let gg: f64 = g.iter().map(|x| x * x).sum();
        if gg == 0.0 {
            break;
        }
        t = (2.0 * t).min(1.0);
        let mut moved = false;
        for _ in 0..50 {
            let r: Vec<f64> = q.iter().zip(&g).map(|(a, b)| a - t * b).collect();
            let (vr, gr) = obj.value_grad(&r, true);
            if vr.is_finite() && vr <= v - 1e-4 * t * gg {
                (q, v, g, moved) = (r, vr, gr, true);
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    v
}

/// The lowest objective reached by descending from random perturbations of `p` (deterministic in
/// `seed`), stopping early once one ends below `value − rule.drop`. `p` is a local minimum by
/// this test when the result is ≥ `value − rule.drop`.
pub fn perturbed_descent(
    obj: &dyn Objective,
    p: &[f64],
    value: f64,
    rule: &PerturbRule,
    seed: u64,
) -> f64 {
    let mut rng = SplitMix64::for_purpose(seed, "perturbation test");
    let scale = norm(p).max(1.0);
    let target = value - rule.drop;
    let mut lowest = f64::INFINITY;
    for radius in rule.radii {
        for _ in 0..rule.directions {
            let dir: Vec<f64> = (0..p.len()).map(|_| rng.normal()).collect();
            let len = norm(&dir).max(1e-300);
            let q: Vec<f64> = p
                .iter()
                .zip(&dir)
                .map(|(a, d)| a + radius * scale * d / len)
                .collect();
            lowest = lowest.min(descend(obj, q, rule.steps, target));
            if lowest < target {
                return lowest;
            }
        }
    }
    lowest
}

/// The positive control's point: from the plain network's parameters `theta` (a stationary point
/// of the plain loss), the wrapped parameters (θ, w, b = 0, a = 0) with w on the circle of the
/// smallest radius in {1, 2, 4, 8} where S(w) = Σᵢ rᵢ·exp(wᵀxᵢ) changes sign, solved by bisection
/// on the angle. Every gradient component vanishes there (∂/∂a = S/n, the others carry a factor a
/// or are the plain gradient), but ∂²/∂a∂w = Σᵢ rᵢ·xᵢ·exp(wᵀxᵢ)/n ≠ 0 while ∂²/∂w² = 0, so the
/// Hessian has a negative eigenvalue: it is a saddle. `None` when the residuals have one sign
/// (the network fits exactly) or no sign change is found.
pub fn constructed_saddle(wrapped: &HostObjective, theta: &[f64]) -> Option<Params> {
    let n = wrapped.y.len();
    let residuals: Vec<f64> = wrapped
        .outputs(theta)
        .iter()
        .zip(&wrapped.y)
        .map(|(f, y)| f - y)
        .collect();
    if residuals.iter().all(|&r| r >= 0.0) || residuals.iter().all(|&r| r <= 0.0) {
        return None;
    }
    let s = |w: [f64; 2]| -> f64 {
        // Scaled by the largest exponent so that the sign test does not overflow.
        let zs: Vec<f64> = (0..n)
            .map(|i| w[0] * wrapped.x[2 * i] + w[1] * wrapped.x[2 * i + 1])
            .collect();
        let zmax = zs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        residuals
            .iter()
            .zip(&zs)
            .map(|(r, z)| r * (z - zmax).exp())
            .sum()
    };
    const ANGLES: usize = 256;
    for radius in [1.0, 2.0, 4.0, 8.0] {
        let at = |phi: f64| [radius * phi.cos(), radius * phi.sin()];
        let step = std::f64::consts::TAU / ANGLES as f64;
        for k in 0..ANGLES {
            let (mut lo, mut hi) = (k as f64 * step, (k + 1) as f64 * step);
            let (slo, shi) = (s(at(lo)), s(at(hi)));
            if slo == 0.0 {
                return Some(wrapped_point(theta, at(lo)));
            }
            if slo.signum() == shi.signum() {
                continue;
            }
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if s(at(mid)).signum() == slo.signum() {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let phi = if s(at(lo)).abs() <= s(at(hi)).abs() {
                lo
            } else {
                hi
            };
            return Some(wrapped_point(theta, at(phi)));
        }
    }
    None
}

fn wrapped_point(theta: &[f64], w: [f64; 2]) -> Params {
    let mut p = theta.to_vec();
    p.extend_from_slice(&[w[0], w[1], 0.0, 0.0]);
    p
}

/// How a wrapped run moved over its trace (the parameters every
/// [`super::classify::TRACE_EVERY`] refinement iterations over the last window, then the end
/// point).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// |a| at the start of the window over |a| at the end.
    pub a_ratio: f64,
    /// b at the end minus b at the start.
    pub b_rise: f64,
    /// Whether |a| fell at every sample.
    pub a_monotone: bool,
    /// Whether b rose at every sample.
    pub b_monotone: bool,
    /// Whether the objective is lower at the end than at the start.
    pub objective_fell: bool,
}

/// The trend of a wrapped run over `trace` then `end`; `None` without a full window (`samples`
/// trace samples).
pub fn trend(obj: &HostObjective, trace: &[Params], end: &[f64], samples: usize) -> Option<Trend> {
    if trace.len() < samples || samples < 2 || !obj.wrapped {
        return None;
    }
    let e0 = obj.neuron_start();
    // The refinement samples its trace before each iteration, so the end point may be the last
    // sample already.
    let end_sampled = trace.last().is_some_and(|p| p.as_slice() == end);
    let path: Vec<&[f64]> = trace
        .iter()
        .map(Vec::as_slice)
        .chain((!end_sampled).then_some(end))
        .collect();
    let a: Vec<f64> = path.iter().map(|p| p[e0 + 3].abs()).collect();
    let b: Vec<f64> = path.iter().map(|p| p[e0 + 2]).collect();
    let (first, last) = (path[0], path[path.len() - 1]);
    Some(Trend {
        a_ratio: a[0] / a[a.len() - 1],
        b_rise: b[b.len() - 1] - b[0],
        a_monotone: a.windows(2).all(|w| w[1] < w[0]),
        b_monotone: b.windows(2).all(|w| w[1] > w[0]),
        objective_fell: obj.value(last) < obj.value(first),
    })
}

/// |a| must fall by at least this factor over the window to count as diverging (a run settling
/// at a finite point has a ratio → 1 under Newton steps).
pub const DIVERGING_A_RATIO: f64 = 1.25;

/// Whether a wrapped run that is still moving follows the path to infinity: over its trace |a|
/// fell at every sample and by ≥ [`DIVERGING_A_RATIO`] in all, b rose at every sample, and the
/// objective fell, while the original network's loss at the end stays above `bad_above`.
pub fn is_diverging(
    obj: &HostObjective,
    trace: &[Params],
    end: &[f64],
    samples: usize,
    bad_above: f64,
) -> bool {
    trend(obj, trace, end, samples).is_some_and(|t| {
        t.a_monotone
            && t.a_ratio >= DIVERGING_A_RATIO
            && t.b_monotone
            && t.objective_fell
            && obj.original_loss(end) > bad_above
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elimination::classify::tests::xor;
    use crate::elimination::classify::{
        ClassifyRule, EndPoint, min_eigenvalue_at, second_order_class,
    };

    fn rule() -> ClassifyRule {
        ClassifyRule {
            grad_tol: 1e-10,
            eig_tol: 1e-5,
            step_tol: 1e-4,
            escape_norm: 100.0,
            max_iters: 0,
            eig_floor: 1e-8,
            max_step: 1.0,
            kink_tol: 1e-9,
            trace_window: 0,
        }
    }

    /// Dead hidden units and b2 = mean(y) = 0: the constant network, a stationary point of the
    /// plain loss with loss ½ (a bad minimum of the plain network).
    fn constant_network() -> Vec<f64> {
        // w1 (4), b1 (2) = −1 (dead on every input), w2 (2), b2.
        vec![0.1, 0.2, 0.3, 0.4, -5.0, -5.0, 1.0, 1.0, 0.0]
    }

    #[test]
    fn the_constructed_point_is_stationary_and_a_saddle() {
        let w = xor(true);
        let theta = constant_network();
        assert!(
            Objective::value_grad(&xor(false), &theta, true)
                .1
                .iter()
                .all(|g| g.abs() < 1e-12)
        );
        let p = constructed_saddle(&w, &theta).expect("residuals of both signs");
        let (min_eig, gn) = min_eigenvalue_at(&w, &p);
        assert!(gn < 1e-10, "stationary: ‖∇‖ {gn:e}");
        assert_eq!(
            second_order_class(min_eig, &rule()),
            EndPoint::Saddle,
            "{min_eig}"
        );
    }

    #[test]
    fn no_point_is_built_when_the_network_fits_exactly() {
        // |x₁ + x₂| − 1 as relu(x₁ + x₂) + relu(−x₁ − x₂) − 1: zero residuals.
        let theta = vec![1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 1.0, 1.0, -1.0];
        assert!(xor(false).value(&theta) < 1e-20);
        assert_eq!(constructed_saddle(&xor(true), &theta), None);
    }

    #[test]
    fn the_perturbation_test_sees_a_descent_and_keeps_a_minimum() {
        let rule = PerturbRule {
            directions: 8,
            radii: [1e-3, 1e-2],
            steps: 50,
            drop: 1e-9,
        };
        // A saddle of x² − y²: some perturbation descends below 0.
        struct Saddle;
        impl Objective for Saddle {
            fn dim(&self) -> usize {
                2
            }
            fn value_grad(&self, p: &[f64], _grad: bool) -> (f64, Vec<f64>) {
                (p[0] * p[0] - p[1] * p[1], vec![2.0 * p[0], -2.0 * p[1]])
            }
        }
        assert!(perturbed_descent(&Saddle, &[0.0, 0.0], 0.0, &rule, 1) < -1e-9);
        // The exact XOR fit (on kinks, loss 0) is a minimum: nothing goes below 0.
        let theta = vec![1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 1.0, 1.0, -1.0];
        let plain = xor(false);
        assert!(perturbed_descent(&plain, &theta, 0.0, &rule, 1) >= -1e-9);
    }

    #[test]
    fn diverging_needs_a_falling_a_and_a_rising_b() {
        let obj = xor(true);
        let theta = constant_network();
        let at = |a: f64, b: f64| {
            let mut p = theta.clone();
            p.extend_from_slice(&[0.3, 0.1, b, a]);
            p
        };
        // a·e^b constant (the neuron's output unchanged) while |a| falls 10^{1/5}× per sample:
        // the penalty, so the objective, falls.
        let step = std::f64::consts::LN_10 / 5.0;
        let path = |k: i32| at(0.1 * (-step * f64::from(k)).exp(), step * f64::from(k));
        let trace: Vec<Params> = (0..6).map(path).collect();
        let end = path(6);
        assert!(is_diverging(&obj, &trace, &end, 6, 0.01));
        // The same path is not diverging when the original network is good (bar above ½).
        assert!(!is_diverging(&obj, &trace, &end, 6, 0.6));
        // b that falls is not diverging.
        let back: Vec<Params> = (0..6)
            .map(|k| at(0.1 * 0.5f64.powi(k), -f64::from(k)))
            .collect();
        assert!(!is_diverging(&obj, &back, &at(0.001, -6.0), 6, 0.01));
        // |a| that stops falling is not diverging.
        let flat: Vec<Params> = (0..6).map(|k| at(0.01, k as f64)).collect();
        assert!(!is_diverging(&obj, &flat, &at(0.01, 6.0), 6, 0.01));
        // A window too short decides nothing.
        assert!(!is_diverging(&obj, &trace[..3], &end, 6, 0.01));
    }
}
