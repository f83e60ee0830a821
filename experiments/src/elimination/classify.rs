//! Where a run ended: stationary (gradient norm below a tolerance) and then a local minimum
//! (smallest Hessian eigenvalue ≥ −tolerance) or a saddle; still moving; or escaping to infinity.
//!
//! Kawaguchi and Kaelbling's theorem (AISTATS 2020, Theorem 1) is about local minima of the
//! wrapped objective, so the end points of training are classified before the theorem is
//! tested on them. The networks are tiny (2-h-1 ReLU plus one exponential neuron: 4h + 5
//! parameters), so this module evaluates one run's objective and its exact gradient in f64 on
//! the host, builds the full Hessian by central differences of that gradient (the same
//! finite-difference Hessian the engine's network probes use, `sgdlab_engine::probe::hessian_vector`,
//! here for every basis vector), and takes its smallest eigenvalue with cyclic Jacobi rotations.
//!
//! After the batched gradient descent of the run, each end point is refined with saddle-free
//! Newton steps (Dauphin et al. 2014: the step −Σ_j (v_jᵀg / max(|λ_j|, μ)) v_j with a
//! backtracking line search), which converges fast to local minima and moves away from saddles,
//! until it is classified or the refinement budget ends. The theorem does not depend on the
//! optimizer, only on where it stops.

use serde::{Deserialize, Serialize};

/// One run's objective on the host: a 2-`hidden`-1 ReLU network, optionally wrapped with one
/// exponential neuron a·exp(wᵀx + b) and the penalty (λ/2)a².
#[derive(Clone, Debug, PartialEq)]
pub struct HostObjective {
    /// Inputs, n × 2 row-major.
    pub x: Vec<f64>,
    /// Targets, n.
    pub y: Vec<f64>,
    /// Hidden ReLU units.
    pub hidden: usize,
    /// Whether the exponential neuron is part of the model (the wrapped arm).
    pub wrapped: bool,
    /// λ on a².
    pub lambda: f64,
}

/// A smooth objective with its exact gradient, for [`classify`].
pub trait Objective {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// The value and, when `grad`, the gradient at `p`.
    fn value_grad(&self, p: &[f64], grad: bool) -> (f64, Vec<f64>);

    /// How far `p` is from the nearest point where the objective is not differentiable (for a
    /// ReLU network: the smallest |pre-activation| of a hidden unit over the data); ∞ for a
    /// smooth objective.
    fn kink_distance(&self, _p: &[f64]) -> f64 {
        f64::INFINITY
    }

    /// The Hessian at `p` by central differences of the exact gradient (step `eps`),
    /// symmetrized; row-major, dim × dim.
    fn hessian(&self, p: &[f64], eps: f64) -> Vec<f64> {
        let m = self.dim();
        let mut hess = vec![0.0; m * m];
        let mut q = p.to_vec();
        for j in 0..m {
            q[j] = p[j] + eps;
            let gp = self.value_grad(&q, true).1;
            q[j] = p[j] - eps;
            let gm = self.value_grad(&q, true).1;
            q[j] = p[j];
            for i in 0..m {
                hess[i * m + j] = (gp[i] - gm[i]) / (2.0 * eps);
            }
        }
        for i in 0..m {
            for j in 0..i {
                let s = 0.5 * (hess[i * m + j] + hess[j * m + i]);
                hess[i * m + j] = s;
                hess[j * m + i] = s;
            }
        }
        hess
    }
}

/// The parameters of one run, in the order [w1 (2·h, input-major), b1 (h), w2 (h), b2, then for a
/// wrapped run w (2), b, a].
pub type Params = Vec<f64>;

impl HostObjective {
    /// Number of parameters: 4h + 1, plus 4 for a wrapped run.
    pub fn len(&self) -> usize {
        4 * self.hidden + 1 + if self.wrapped { 4 } else { 0 }
    }

    /// Whether the model has no parameters (never: h ≥ 1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of the exponential neuron's parameters (w (2), b, a) in a wrapped run's vector.
    pub fn neuron_start(&self) -> usize {
        4 * self.hidden + 1
    }

    fn n(&self) -> usize {
        self.y.len()
    }

    /// The objective ½·mean (f̃ − y)² + (λ/2)a² (plain: ½·mean (f − y)²).
    pub fn value(&self, p: &[f64]) -> f64 {
        Objective::value_grad(self, p, false).0
    }

    /// The original network's loss ½·mean (f − y)² (the neuron removed).
    pub fn original_loss(&self, p: &[f64]) -> f64 {
        let h = self.hidden;
        let mut sum = 0.0;
        for i in 0..self.n() {
            let f = self.network_output(p, i, h).0;
            sum += (f - self.y[i]).powi(2);
        }
        0.5 * sum / self.n().max(1) as f64
    }

    /// The original network's output f(xᵢ) at every input.
    pub fn outputs(&self, p: &[f64]) -> Vec<f64> {
        (0..self.n())
            .map(|i| self.network_output(p, i, self.hidden).0)
            .collect()
    }

    /// The largest residual |f(xᵢ) − yᵢ| of the original network.
    pub fn max_residual(&self, p: &[f64]) -> f64 {
        self.outputs(p)
            .iter()
            .zip(&self.y)
            .map(|(f, y)| (f - y).abs())
            .fold(0.0, f64::max)
    }

    /// f(x_i) and the hidden pre-activations.
    fn network_output(&self, p: &[f64], i: usize, h: usize) -> (f64, Vec<f64>) {
        let (x0, x1) = (self.x[2 * i], self.x[2 * i + 1]);
        let mut f = p[4 * h];
        let mut u = Vec::with_capacity(h);
        for k in 0..h {
            let uk = x0 * p[k] + x1 * p[h + k] + p[2 * h + k];
            u.push(uk);
            f += p[3 * h + k] * uk.max(0.0);
        }
        (f, u)
    }

    /// The objective and (when `grad`) its exact gradient.
    fn objective_grad(&self, p: &[f64], grad: bool) -> (f64, Vec<f64>) {
        let h = self.hidden;
        let n = self.n().max(1) as f64;
        let mut g = vec![0.0; if grad { self.len() } else { 0 }];
        let mut sum = 0.0;
        let e0 = self.neuron_start();
        for i in 0..self.n() {
            let (x0, x1) = (self.x[2 * i], self.x[2 * i + 1]);
            let (f, u) = self.network_output(p, i, h);
            let (mut out, mut ez) = (f, 0.0);
            if self.wrapped {
                ez = (p[e0] * x0 + p[e0 + 1] * x1 + p[e0 + 2]).exp();
                out += p[e0 + 3] * ez;
            }
            let r = out - self.y[i];
            sum += r * r;
            if grad {
                let d = r / n;
                for k in 0..h {
                    let active = u[k] > 0.0;
                    g[3 * h + k] += d * u[k].max(0.0);
                    if active {
                        let du = d * p[3 * h + k];
                        g[k] += du * x0;
                        g[h + k] += du * x1;
                        g[2 * h + k] += du;
                    }
                }
                g[4 * h] += d;
                if self.wrapped {
                    let dz = d * p[e0 + 3] * ez;
                    g[e0] += dz * x0;
                    g[e0 + 1] += dz * x1;
                    g[e0 + 2] += dz;
                    g[e0 + 3] += d * ez;
                }
            }
        }
        let mut value = 0.5 * sum / n;
        if self.wrapped {
            let a = p[e0 + 3];
            value += 0.5 * self.lambda * a * a;
            if grad {
                g[e0 + 3] += self.lambda * a;
            }
        }
        (value, g)
    }
}

impl Objective for HostObjective {
    fn dim(&self) -> usize {
        self.len()
    }
    fn value_grad(&self, p: &[f64], grad: bool) -> (f64, Vec<f64>) {
        self.objective_grad(p, grad)
    }
    fn kink_distance(&self, p: &[f64]) -> f64 {
        let h = self.hidden;
        (0..self.n())
            .flat_map(|i| self.network_output(p, i, h).1)
            .map(f64::abs)
            .fold(f64::INFINITY, f64::min)
    }
}

/// Eigenvalues (ascending) and eigenvectors (columns of the returned row-major matrix) of a
/// symmetric `m × m` matrix, by cyclic Jacobi rotations.
pub fn symmetric_eigen(a: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; m * m];
    for i in 0..m {
        v[i * m + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * m + j].powi(2))
            .sum();
        let scale: f64 = (0..m).map(|i| a[i * m + i].powi(2)).sum::<f64>() + off;
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[p * m + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let akp = a[k * m + p];
                    let akq = a[k * m + q];
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for k in 0..m {
                    let apk = a[p * m + k];
                    let aqk = a[q * m + k];
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for k in 0..m {
                    let vkp = v[k * m + p];
                    let vkq = v[k * m + q];
                    v[k * m + p] = c * vkp - s * vkq;
                    v[k * m + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| a[i * m + i].total_cmp(&a[j * m + j]));
    let values = order.iter().map(|&i| a[i * m + i]).collect();
    let mut vectors = vec![0.0; m * m];
    for (col, &i) in order.iter().enumerate() {
        for k in 0..m {
            vectors[k * m + col] = v[k * m + i];
        }
    }
    (values, vectors)
}

/// Tolerances and budget of the classification.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyRule {
    /// Stationary when ‖∇‖ is below this.
    pub grad_tol: f64,
    /// A stationary point is a local minimum when its smallest Hessian eigenvalue is ≥ −this.
    pub eig_tol: f64,
    /// Stationary also needs the saddle-free Newton step −Σ_j (v_jᵀg / max(|λ_j|, μ)) v_j
    /// (μ = `eig_floor`) shorter than this: along a flat direction that leads off, the gradient
    /// is small but the step is not.
    pub step_tol: f64,
    /// Escaping when ‖θ‖ exceeds this (checked before stationarity: along a path to infinity
    /// the gradient vanishes too). Far above any finite minimum of the task.
    pub escape_norm: f64,
    /// Saddle-free Newton iterations at most.
    pub max_iters: usize,
    /// Floor μ on |λ_j| in the saddle-free Newton step (direction and stationarity test). Small,
    /// so that along an exponential tail (gradient and curvature vanishing together, as on a
    /// path to infinity) the measured step stays O(1) instead of ‖∇‖/μ.
    #[serde(default = "default_eig_floor")]
    pub eig_floor: f64,
    /// Trust cap: each refinement step is at most this long (before the line search).
    #[serde(default = "default_max_step")]
    pub max_step: f64,
    /// An end point that is not stationary and lies within this of a non-differentiable point
    /// ([`Objective::kink_distance`]) is classified non-differentiable: neither its gradient
    /// norm nor its finite-difference Hessian means anything there.
    #[serde(default = "default_kink_tol")]
    pub kink_tol: f64,
    /// Keep the parameters every [`TRACE_EVERY`] iterations over this many last iterations
    /// ([`Classified::trace`]), for the trend of a run that is still moving.
    #[serde(default)]
    pub trace_window: usize,
}

/// Iterations between the refinement's trace samples.
pub const TRACE_EVERY: usize = 100;

fn default_eig_floor() -> f64 {
    1e-8
}
fn default_max_step() -> f64 {
    1.0
}
fn default_kink_tol() -> f64 {
    1e-9
}

/// Where a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndPoint {
    /// Stationary with a Hessian that has no eigenvalue below −tolerance.
    LocalMinimum,
    /// Stationary with a clearly negative Hessian eigenvalue.
    Saddle,
    /// Not stationary at the end of the budget, and the parameters are not running off.
    StillMoving,
    /// ‖θ‖ above the escape bound, the objective having decreased all the way (every accepted
    /// step decreases it).
    Escaping,
    /// Not stationary, and stuck on a non-differentiable point (a data point on a ReLU unit's
    /// boundary): the gradient does not vanish there and the finite-difference Hessian straddles
    /// the kink, so neither test applies. Reported, never counted as a minimum.
    NonDifferentiable,
    /// A wrapped run still moving at the end of the budget along the path to infinity that
    /// Sohl-Dickstein and Kawaguchi describe: over the last refinement iterations |a| fell and b
    /// rose at every sample (|a| by ≥ 1.25× in all) and the objective fell, while the original
    /// network stayed bad (see `controls::is_diverging`).
    Diverging,
}

impl EndPoint {
    /// `local minimum`, `saddle`, `still moving`, `escaping`, `non-differentiable`, `diverging`.
    pub fn label(self) -> &'static str {
        match self {
            Self::LocalMinimum => "local minimum",
            Self::Saddle => "saddle",
            Self::StillMoving => "still moving",
            Self::Escaping => "escaping to infinity",
            Self::NonDifferentiable => "non-differentiable (ReLU kink)",
            Self::Diverging => "diverging (|a| → 0, b → ∞)",
        }
    }
}

/// The classified end point of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classified {
    /// The class.
    pub end: EndPoint,
    /// The parameters where the refinement stopped.
    #[serde(skip)]
    pub params: Params,
    /// The objective there.
    pub objective: f64,
    /// ‖∇‖ there.
    pub grad_norm: f64,
    /// The smallest Hessian eigenvalue there.
    pub min_eigenvalue: f64,
    /// Newton iterations used.
    pub iters: usize,
    /// ‖θ‖ there.
    pub param_norm: f64,
    /// The parameters every [`TRACE_EVERY`] iterations over the last `trace_window` iterations
    /// (oldest first, the end point last).
    #[serde(skip)]
    pub trace: Vec<Params>,
}

/// The class of a stationary point by its smallest Hessian eigenvalue: a local minimum when it is
/// ≥ −`rule.eig_tol`, a saddle otherwise.
pub fn second_order_class(min_eig: f64, rule: &ClassifyRule) -> EndPoint {
    if min_eig >= -rule.eig_tol {
        EndPoint::LocalMinimum
    } else {
        EndPoint::Saddle
    }
}

/// The smallest eigenvalue of the finite-difference Hessian at `p` (the classifier's
/// second-order test, without refinement) and ‖∇‖ there.
pub fn min_eigenvalue_at(obj: &dyn Objective, p: &[f64]) -> (f64, f64) {
    let hess = obj.hessian(p, HESSIAN_EPS);
    let (vals, _) = symmetric_eigen(&hess, obj.dim());
    let g = obj.value_grad(p, true).1;
    (vals.first().copied().unwrap_or(0.0), norm(&g))
}

/// Step of the central differences of the classifier's Hessian.
pub const HESSIAN_EPS: f64 = 1e-5;

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Refines `start` with saddle-free Newton steps (each capped at `rule.max_step`, with a
/// backtracking line search) until the gradient norm is below `rule.grad_tol` and the Newton step
/// below `rule.step_tol` (then classifies by the smallest Hessian eigenvalue), ‖θ‖ passes
/// `rule.escape_norm`, or the budget ends (then still moving, or non-differentiable when stuck on
/// a kink).
pub fn classify(obj: &dyn Objective, start: &[f64], rule: &ClassifyRule) -> Classified {
    let m = obj.dim();
    let mut p = start.to_vec();
    let (mut value, mut g) = obj.value_grad(&p, true);
    let mut iters = 0;
    let keep = rule.trace_window / TRACE_EVERY + 1;
    let mut trace: std::collections::VecDeque<Params> = std::collections::VecDeque::new();
    loop {
        if rule.trace_window > 0 && iters % TRACE_EVERY == 0 {
            if trace.len() == keep {
                trace.pop_front();
            }
            trace.push_back(p.clone());
        }
        let hess = obj.hessian(&p, HESSIAN_EPS);
        let (vals, vecs) = symmetric_eigen(&hess, m);
        let gn = norm(&g);
        let min_eig = vals.first().copied().unwrap_or(0.0);
        // Saddle-free Newton direction.
        let mut d = vec![0.0; m];
        for (j, &lam) in vals.iter().enumerate() {
            let proj: f64 = (0..m).map(|k| vecs[k * m + j] * g[k]).sum();
            let coef = -proj / lam.abs().max(rule.eig_floor);
            for k in 0..m {
                d[k] += coef * vecs[k * m + j];
            }
        }
        let step = norm(&d);
        let trace_now = &trace;
        let done = move |end, p: &[f64]| Classified {
            end,
            params: p.to_vec(),
            objective: value,
            grad_norm: gn,
            min_eigenvalue: min_eig,
            iters,
            param_norm: norm(p),
            trace: trace_now.iter().cloned().collect(),
        };
        // Checked first: along a path to infinity the gradient can vanish too.
        if norm(&p) > rule.escape_norm {
            return done(EndPoint::Escaping, &p);
        }
        // Stationary: a small gradient and a small Newton step (a small gradient along a flat
        // direction that still leads somewhere is not a critical point).
        if gn < rule.grad_tol && step < rule.step_tol {
            return done(second_order_class(min_eig, rule), &p);
        }
        let unclassified = |p: &[f64]| {
            if obj.kink_distance(p) < rule.kink_tol {
                EndPoint::NonDifferentiable
            } else {
                EndPoint::StillMoving
            }
        };
        if iters >= rule.max_iters || !value.is_finite() {
            return done(unclassified(&p), &p);
        }
        if step > rule.max_step {
            let s = rule.max_step / step;
            d.iter_mut().for_each(|x| *x *= s);
        }
        let slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let q: Vec<f64> = p.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let (v, gq) = obj.value_grad(&q, true);
            if v.is_finite() && v <= value + 1e-4 * t * slope {
                p = q;
                value = v;
                g = gq;
                moved = true;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            // No decrease along the direction: stationary up to rounding only if the gradient
            // is nearly below the tolerance and the Newton step is short.
            let stationary = gn < rule.grad_tol * 1e3 && step < rule.step_tol;
            let end = if stationary {
                second_order_class(min_eig, rule)
            } else {
                unclassified(&p)
            };
            let mut c = done(end, &p);
            c.iters += 1;
            return c;
        }
        iters += 1;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The four XOR corners, plain or wrapped (λ = 0.01).
    pub(in crate::elimination) fn xor(wrapped: bool) -> HostObjective {
        HostObjective {
            x: vec![1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0],
            y: vec![1.0, 1.0, -1.0, -1.0],
            hidden: 2,
            wrapped,
            lambda: 0.01,
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let obj = xor(true);
        let p: Vec<f64> = (0..obj.len())
            .map(|i| 0.3 * (i as f64 * 1.7).sin())
            .collect();
        let g = Objective::value_grad(&obj, &p, true).1;
        for j in 0..p.len() {
            let mut q = p.clone();
            q[j] += 1e-6;
            let up = obj.value(&q);
            q[j] -= 2e-6;
            let down = obj.value(&q);
            let fd = (up - down) / 2e-6;
            assert!((fd - g[j]).abs() < 1e-6, "param {j}: {fd} vs {}", g[j]);
        }
    }

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3; diag(−1, 4, 0.5) its diagonal.
        let (v, _) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!(
            (v[0] - 1.0).abs() < 1e-12 && (v[1] - 3.0).abs() < 1e-12,
            "{v:?}"
        );
        let (v, _) = symmetric_eigen(&[-1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.5], 3);
        assert!(
            (v[0] + 1.0).abs() < 1e-12 && (v[2] - 4.0).abs() < 1e-12,
            "{v:?}"
        );
    }

    /// x² − y² + y⁴/4: a saddle at 0, minima at (0, ±√2).
    struct Saddle;
    impl Objective for Saddle {
        fn dim(&self) -> usize {
            2
        }
        fn value_grad(&self, p: &[f64], _grad: bool) -> (f64, Vec<f64>) {
            let (x, y) = (p[0], p[1]);
            (
                x * x - y * y + 0.25 * y.powi(4),
                vec![2.0 * x, -2.0 * y + y.powi(3)],
            )
        }
    }

    /// e^{−x}: decreasing towards +∞ with no minimum.
    struct Runaway;
    impl Objective for Runaway {
        fn dim(&self) -> usize {
            1
        }
        fn value_grad(&self, p: &[f64], _grad: bool) -> (f64, Vec<f64>) {
            ((-p[0]).exp(), vec![-(-p[0]).exp()])
        }
    }

    /// |x|: a minimum at a kink, where the gradient does not vanish.
    struct Kink;
    impl Objective for Kink {
        fn dim(&self) -> usize {
            1
        }
        fn value_grad(&self, p: &[f64], _grad: bool) -> (f64, Vec<f64>) {
            (p[0].abs(), vec![if p[0] >= 0.0 { 1.0 } else { -1.0 }])
        }
        fn kink_distance(&self, p: &[f64]) -> f64 {
            p[0].abs()
        }
    }

    fn rule(max_iters: usize) -> ClassifyRule {
        ClassifyRule {
            grad_tol: 1e-8,
            eig_tol: 1e-6,
            step_tol: 1e-4,
            escape_norm: 10.0,
            max_iters,
            eig_floor: 1e-8,
            max_step: 1.0,
            kink_tol: 1e-9,
            trace_window: 0,
        }
    }

    #[test]
    fn each_end_point_class_is_reached() {
        let c = classify(&Saddle, &[0.0, 0.0], &rule(50));
        assert_eq!(c.end, EndPoint::Saddle, "{c:?}");
        assert!((c.min_eigenvalue + 2.0).abs() < 1e-6, "{c:?}");
        let c = classify(&Saddle, &[0.3, 0.5], &rule(50));
        assert_eq!(c.end, EndPoint::LocalMinimum, "{c:?}");
        assert!((c.params[1].abs() - 2f64.sqrt()).abs() < 1e-6, "{c:?}");
        let c = classify(&Runaway, &[0.0], &rule(200));
        assert_eq!(c.end, EndPoint::Escaping, "{c:?}");
        let c = classify(&Runaway, &[0.0], &rule(2));
        assert_eq!(c.end, EndPoint::StillMoving, "{c:?}");
        let c = classify(&Kink, &[0.0], &rule(50));
        assert_eq!(c.end, EndPoint::NonDifferentiable, "{c:?}");
    }
}
