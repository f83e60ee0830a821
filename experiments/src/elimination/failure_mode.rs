//! The failure mode the theorem leaves open: when the wrapped objective has no local minimum in
//! reach, gradient descent decreases it along a path to infinity.
//!
//! Kawaguchi and Kaelbling's Theorem 1 speaks only about local minima: every local minimum of
//! the wrapped objective has a = 0 and the original network at its global minimum, so every
//! local minimum has objective value L* (the original network's best loss). A run whose
//! objective falls strictly below L* can therefore never approach a local minimum. The smallest
//! example: the "network" is a constant f(x) = c, the data are x = (−1, 0, 1) on a line with
//! targets y = (0, 0, 1), so L* = ½·Var(y) = 1/9. The exponential neuron a·exp(w·x + b) can fit
//! the residual of the rightmost point alone only in the limit w → ∞, b = −w + const: the
//! objective keeps decreasing below 1/9 while ‖(w, b)‖ grows without bound.

use super::classify::{HostObjective, Objective};
use serde::{Deserialize, Serialize};

/// One checkpoint of the failure-mode run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailurePoint {
    /// Gradient steps taken.
    pub step: usize,
    /// The wrapped objective.
    pub objective: f64,
    /// The constant model's loss with the neuron removed.
    pub original_loss: f64,
    /// The neuron's output weight a.
    pub a: f64,
    /// The neuron's bias b.
    pub b: f64,
    /// The neuron's input weight w (one input).
    pub w: f64,
    /// ‖(w, b)‖.
    pub neuron_norm: f64,
    /// ‖∇‖.
    pub grad_norm: f64,
}

/// The failure-mode run: its problem and checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureMode {
    /// The problem, in words.
    pub problem: String,
    /// L*: the best loss of the original (constant) model, ½·Var(y).
    pub best_original_loss: f64,
    /// Step size of the gradient descent.
    pub lr: f64,
    /// Checkpoints at steps 10, 100, … (log-spaced).
    pub points: Vec<FailurePoint>,
}

/// The constant model plus one exponential neuron on x = (−1, 0, 1), y = (0, 0, 1).
pub fn failure_objective(lambda: f64) -> HostObjective {
    HostObjective {
        x: vec![-1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        y: vec![0.0, 0.0, 1.0],
        hidden: 0,
        wrapped: true,
        lambda,
    }
}

/// Runs gradient descent with step `lr` for `steps` steps from c = 0, w = 0.5, b = 0, a = 0,
/// recording checkpoints at 10, 20, 50, 100, 200, 500, … steps and at the end.
pub fn run_failure_mode(lambda: f64, lr: f64, steps: usize) -> FailureMode {
    let obj = failure_objective(lambda);
    // Parameters: [c, w, (unused second input weight), b, a].
    let mut p = vec![0.0, 0.5, 0.0, 0.0, 0.0];
    let mut checkpoints: Vec<usize> = Vec::new();
    let mut decade = 10;
    while decade <= steps {
        for k in [1, 2, 5] {
            if k * decade <= steps {
                checkpoints.push(k * decade);
            }
        }
        decade *= 10;
    }
    if checkpoints.last() != Some(&steps) {
        checkpoints.push(steps);
    }
    let mean_y = obj.y.iter().sum::<f64>() / obj.y.len() as f64;
    let best = 0.5 * obj.y.iter().map(|y| (y - mean_y).powi(2)).sum::<f64>() / obj.y.len() as f64;
    let mut points = Vec::new();
    let mut next = 0;
    for step in 1..=steps {
        let (_, g) = obj.value_grad(&p, true);
        for (x, d) in p.iter_mut().zip(&g) {
            *x -= lr * d;
        }
        if checkpoints.get(next) == Some(&step) {
            next += 1;
            let (value, g) = obj.value_grad(&p, true);
            points.push(FailurePoint {
                step,
                objective: value,
                original_loss: obj.original_loss(&p),
                a: p[4],
                b: p[3],
                w: p[1],
                neuron_norm: (p[1] * p[1] + p[3] * p[3]).sqrt(),
                grad_norm: g.iter().map(|x| x * x).sum::<f64>().sqrt(),
            });
        }
    }
    FailureMode {
        problem: format!(
            "constant model f(x) = c plus a·exp(w·x + b), x = (−1, 0, 1), y = (0, 0, 1), \
             λ = {lambda}; gradient descent, step {lr}, {steps} steps from c = 0, w = 0.5, \
             b = 0, a = 0"
        ),
        best_original_loss: best,
        lr,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_neuron_runs_off_while_the_objective_falls_below_the_best_original_loss() {
        let f = run_failure_mode(0.01, 0.1, 100_000);
        assert!((f.best_original_loss - 1.0 / 9.0).abs() < 1e-12);
        let last = f.points.last().unwrap();
        assert!(last.objective < f.best_original_loss - 0.05, "{last:?}");
        for w in f.points.windows(2) {
            assert!(w[1].objective <= w[0].objective + 1e-12, "{w:?}");
        }
        let mid = &f.points[f.points.len() - 4];
        assert!(last.neuron_norm > mid.neuron_norm + 1.0, "{mid:?} {last:?}");
    }
}
