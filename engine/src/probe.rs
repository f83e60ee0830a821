//! Probes of a network's loss on flat parameter vectors: the loss and its gradient at any point
//! `w`, finite-difference Hessian-vector products, the top Hessian eigenvalue by power
//! iteration, the expected loss increase under Gaussian weight perturbations, and the
//! one-point-convexity inner product `⟨−∇L(x), x* − x⟩` of Kleinberg, Li, Yuan (2018).
//!
//! Every probe works on a [`Batch`] held on the device, so repeated evaluations (40 gradients for
//! 20 power iterations) do not re-upload the data. Parameters travel as `Vec<f32>` in
//! [`flatten_params`] order, which lets the heavy-tailed optimizer combine two gradients and
//! truncate the whole step on the host.

use crate::data::Dataset;
use crate::error::{EngineError, Result};
use crate::model::Network;
use crate::rng::SplitMix64;
use crate::train::{cross_entropy, flatten_params, input_tensor, one_hot};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Gradients, Tensor};

/// Examples and one-hot targets on the (autodiff) device, for repeated evaluations.
pub struct Batch {
    x: Tensor<2>,
    t: Tensor<2>,
    labels: Vec<u32>,
}

impl Batch {
    /// The examples `indices` of `data` with `labels[i]` as the target of example `i`.
    pub fn new(data: &Dataset, indices: &[usize], labels: &[u32], device: &Device) -> Self {
        let dim = data.dim();
        let mut x = Vec::with_capacity(indices.len() * dim);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            x.extend_from_slice(data.example(i));
            y.push(labels[i]);
        }
        let device = device.clone().autodiff();
        Self {
            x: input_tensor(x, indices.len(), dim, &device),
            t: one_hot(&y, data.num_classes, &device),
            labels: y,
        }
    }

    /// Examples in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A network whose parameters are read and written as one flat vector.
pub struct FlatNet {
    model: Option<Network>,
    len: usize,
}

impl FlatNet {
    /// Wraps `model` (built on an autodiff device, as [`crate::train::TrainRun`] does).
    pub fn new(model: Network) -> Self {
        let len = model.num_params();
        Self {
            model: Some(model),
            len,
        }
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the network has no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The network at its current parameters.
    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is only taken out in set()")
    }

    /// The current parameters, flattened.
    pub fn params(&self) -> Vec<f32> {
        flatten_params(self.model())
    }

    /// Moves the network to `w` (in [`flatten_params`] order).
    pub fn set(&mut self, w: &[f32]) -> Result<()> {
        if w.len() != self.len {
            return Err(EngineError::config(
                "params",
                format!("expected {} parameters, found {}", self.len, w.len()),
            ));
        }
        let model = self.model.take().expect("the model is only taken out here");
        self.model = Some(crate::snapshot::load_params(model, w)?);
        Ok(())
    }

    /// The mean cross-entropy on `batch` at the current parameters.
    pub fn loss(&self, batch: &Batch) -> f64 {
        let model = self.model().valid();
        let loss = cross_entropy(
            model.forward(batch.x.clone().inner()),
            batch.t.clone().inner(),
        );
        f64::from(loss.into_scalar::<f32>())
    }

    /// The mean cross-entropy on `batch` and its gradient, flattened like the parameters.
    pub fn loss_grad(&self, batch: &Batch) -> (f64, Vec<f32>) {
        let model = self.model();
        let loss = cross_entropy(model.forward(batch.x.clone()), batch.t.clone());
        let grads = loss.backward();
        let value = f64::from(loss.into_scalar::<f32>());
        let mut collect = CollectGrads {
            grads: &grads,
            out: Vec::with_capacity(self.len),
        };
        model.visit(&mut collect);
        (value, collect.out)
    }

    /// The loss and gradient at `w` (moves the network there).
    pub fn loss_grad_at(&mut self, w: &[f32], batch: &Batch) -> Result<(f64, Vec<f32>)> {
        self.set(w)?;
        Ok(self.loss_grad(batch))
    }

    /// The loss at `w` (moves the network there).
    pub fn loss_at(&mut self, w: &[f32], batch: &Batch) -> Result<f64> {
        self.set(w)?;
        Ok(self.loss(batch))
    }
}

struct CollectGrads<'a> {
    grads: &'a Gradients,
    out: Vec<f32>,
}

impl ModuleVisitor for CollectGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        match t.grad(self.grads) {
            // Gradients of f32 parameters are f32 tensors.
            Some(g) => self.out.extend(
                g.into_data()
                    .try_to_vec::<f32>()
                    .expect("gradients are f32 tensors"),
            ),
            None => self.out.extend(std::iter::repeat_n(0.0, n)),
        }
    }
}

/// `⟨a, b⟩` in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// `‖a‖` in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// A vector of independent standard normals.
pub fn gaussian(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
}

/// A symmetric Lomax (Pareto II) draw: `±scale·(U^{−1/α} − 1)`, so `P(|Z| > x) = (1 + x/scale)^{−α}`
/// (regularly varying with index α; a finite mean needs α > 1).
pub fn symmetric_lomax(rng: &mut SplitMix64, alpha: f64, scale: f64) -> f64 {
    let u = 1.0 - rng.next_f64(); // in (0, 1]
    let magnitude = scale * (u.powf(-1.0 / alpha) - 1.0);
    if rng.next_u64() & 1 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Truncates `v` to norm at most `b` (`φ_b`); returns whether it was shortened.
pub fn truncate(v: &mut [f32], b: f64) -> bool {
    let n = norm(v);
    if n > b {
        let s = (b / n) as f32;
        v.iter_mut().for_each(|x| *x *= s);
        true
    } else {
        false
    }
}

/// `H v` at `w` by central differences of the gradient: `(∇L(w + εv̂) − ∇L(w − εv̂))·‖v‖/(2ε)`.
pub fn hessian_vector(
    net: &mut FlatNet,
    w: &[f32],
    v: &[f32],
    batch: &Batch,
    eps: f64,
) -> Result<Vec<f32>> {
    let vn = norm(v);
    if vn == 0.0 {
        return Ok(vec![0.0; v.len()]);
    }
    let step = (eps / vn) as f32;
    let plus: Vec<f32> = w.iter().zip(v).map(|(&a, &b)| a + step * b).collect();
    let minus: Vec<f32> = w.iter().zip(v).map(|(&a, &b)| a - step * b).collect();
    let (_, gp) = net.loss_grad_at(&plus, batch)?;
    let (_, gm) = net.loss_grad_at(&minus, batch)?;
    let scale = (vn / (2.0 * eps)) as f32;
    Ok(gp.iter().zip(&gm).map(|(&p, &m)| (p - m) * scale).collect())
}

/// The largest (algebraic) Hessian eigenvalue at `w`: `iters` power iterations from a seeded
/// random start find the largest-magnitude eigenvalue λ₁ (the Rayleigh quotient of the last
/// iterate); when λ₁ < 0 (a saddle or an unconverged run), `iters` more on `H − λ₁I`, whose
/// eigenvalues are all ≥ 0, find `λ_max − λ₁`. Leaves the network at `w`.
pub fn top_hessian_eigenvalue(
    net: &mut FlatNet,
    w: &[f32],
    batch: &Batch,
    iters: usize,
    eps: f64,
    seed: u64,
) -> Result<f64> {
    let mut power = |shift| power_iteration(net, w, batch, iters, eps, seed, shift);
    let l1 = power(0.0)?;
    let top = if l1 < 0.0 { power(l1)? + l1 } else { l1 };
    net.set(w)?;
    Ok(top)
}

/// Power iteration on `H − shift·I`; returns its Rayleigh quotient after `iters` iterations.
fn power_iteration(
    net: &mut FlatNet,
    w: &[f32],
    batch: &Batch,
    iters: usize,
    eps: f64,
    seed: u64,
    shift: f64,
) -> Result<f64> {
    let mut rng = SplitMix64::for_purpose(seed, "power iteration start");
    let mut v = gaussian(&mut rng, w.len());
    let n = norm(&v) as f32;
    v.iter_mut().for_each(|x| *x /= n);
    let mut lambda = f64::NAN;
    for _ in 0..iters.max(1) {
        let mut hv = hessian_vector(net, w, &v, batch, eps)?;
        if shift != 0.0 {
            hv.iter_mut()
                .zip(&v)
                .for_each(|(h, &x)| *h -= (shift * f64::from(x)) as f32);
        }
        lambda = dot(&v, &hv);
        let n = norm(&hv);
        if !(n.is_finite() && n > 0.0) {
            break;
        }
        v = hv.iter().map(|&x| (f64::from(x) / n) as f32).collect();
    }
    Ok(lambda)
}

/// The expected loss increase under Gaussian weight perturbations, `E L(w + σξ) − L(w)` with
/// `ξ ~ N(0, I)`, over `samples` seeded draws; returns (mean, standard error) and leaves the
/// network at `w`.
pub fn perturbation_sharpness(
    net: &mut FlatNet,
    w: &[f32],
    batch: &Batch,
    sigma: f64,
    samples: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let base = net.loss_at(w, batch)?;
    let mut rng = SplitMix64::for_purpose(seed, "weight perturbations");
    let mut increases = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let p: Vec<f32> = w
            .iter()
            .map(|&x| x + (sigma * rng.normal()) as f32)
            .collect();
        increases.push(net.loss_at(&p, batch)? - base);
    }
    net.set(w)?;
    Ok(mean_and_se(&increases))
}

/// Mean and standard error of the mean (NaN error with fewer than two values).
pub fn mean_and_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// One-point convexity at one point `x` toward `target`: the inner product
/// `⟨−∇L(x), target − x⟩`, and that divided by `‖target − x‖²` (the constant c of
/// `⟨−∇L(x), x* − x⟩ ≥ c‖x* − x‖²`).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OnePoint {
    /// `⟨−∇L(x), target − x⟩`.
    pub inner: f64,
    /// `inner / ‖target − x‖²`.
    pub c: f64,
    /// The cosine between `−∇L(x)` and `target − x`.
    pub cosine: f64,
}

/// [`OnePoint`] at `x` (moves the network there).
pub fn one_point(net: &mut FlatNet, x: &[f32], target: &[f32], batch: &Batch) -> Result<OnePoint> {
    let (_, g) = net.loss_grad_at(x, batch)?;
    let d: Vec<f32> = target.iter().zip(x).map(|(&t, &a)| t - a).collect();
    let inner = -dot(&g, &d);
    let dn = norm(&d);
    Ok(OnePoint {
        inner,
        c: inner / (dn * dn),
        cosine: inner / (norm(&g) * dn),
    })
}

/// [`OnePoint`] of the gradient `g` at `x` toward `x + d`: `⟨−g, d⟩`, over `‖d‖²`, and the
/// cosine (NaN when `d` or `g` is zero).
pub fn one_point_of(g: &[f32], d: &[f32]) -> OnePoint {
    let inner = -dot(g, d);
    let dn = norm(d);
    OnePoint {
        inner,
        c: inner / (dn * dn),
        cosine: inner / (norm(g) * dn),
    }
}

/// Monte Carlo draws of the gradient of the smoothed loss `g(x) = E_ω L(x − ηω)` where `ω` is
/// the mini-batch gradient noise at `x` ([`mini_batch_smoothing`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothingDraws {
    /// `L(x)` on the probe batch.
    pub loss: f64,
    /// `∇L(x)`, unsmoothed.
    pub grad: Vec<f32>,
    /// `∇L(x − ηω_k)` for each draw `k`; their mean estimates `∇g(x)`.
    pub grads: Vec<Vec<f32>>,
    /// `‖ηω_k‖` for each draw.
    pub noise_norms: Vec<f64>,
}

/// Draws of `∇L(x − ηω)` with `ω = ∇L_B(x) − ∇L(x)`: `L` is the mean loss on `probe` (the first
/// `pool` examples of `data`, in order), `B` a uniform random mini-batch of `batch_size`
/// distinct examples of those, so `E ω = 0` and `ηω` is the noise one SGD step with learning
/// rate `eta` adds at `x`. `samples` draws from `rng`; leaves the network at the last shifted
/// point.
#[allow(clippy::too_many_arguments)]
pub fn mini_batch_smoothing(
    net: &mut FlatNet,
    x: &[f32],
    probe: &Batch,
    data: &Dataset,
    pool: usize,
    batch_size: usize,
    eta: f64,
    samples: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> Result<SmoothingDraws> {
    let (loss, grad) = net.loss_grad_at(x, probe)?;
    let pool = pool.min(data.len());
    let mut shifted = Vec::with_capacity(samples);
    let mut noise_norms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut idx = rng.permutation(pool);
        idx.truncate(batch_size.clamp(1, pool));
        let b = Batch::new(data, &idx, &data.labels, device);
        let (_, gb) = net.loss_grad(&b);
        let step: Vec<f64> = gb
            .iter()
            .zip(&grad)
            .map(|(&a, &m)| eta * (f64::from(a) - f64::from(m)))
            .collect();
        noise_norms.push(step.iter().map(|v| v * v).sum::<f64>().sqrt());
        shifted.push(
            x.iter()
                .zip(&step)
                .map(|(&w, &s)| (f64::from(w) - s) as f32)
                .collect::<Vec<f32>>(),
        );
    }
    let mut grads = Vec::with_capacity(samples);
    for p in &shifted {
        grads.push(net.loss_grad_at(p, probe)?.1);
    }
    Ok(SmoothingDraws {
        loss,
        grad,
        grads,
        noise_norms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, InputShape};
    use crate::model::{InputStats, MlpConfig, NetworkConfig};

    fn tiny() -> (FlatNet, Dataset, Batch) {
        let device = Device::flex();
        let mut rng = SplitMix64::new(3);
        let n = 64;
        let features: Vec<f32> = (0..n * 4).map(|_| rng.normal() as f32).collect();
        let labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let data =
            Dataset::new("tiny", InputShape::Vector { dim: 4 }, features, labels, 3).unwrap();
        let model = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![5])).init(
            data.shape,
            3,
            InputStats::IDENTITY,
            1,
            &device.clone().autodiff(),
        );
        let idx: Vec<usize> = (0..n).collect();
        let batch = Batch::new(&data, &idx, &data.labels, &device);
        (FlatNet::new(model), data, batch)
    }

    #[test]
    fn set_then_params_round_trips_and_changes_the_loss() {
        let (mut net, _, batch) = tiny();
        let w = net.params();
        assert_eq!(w.len(), net.len());
        assert_eq!(w.len(), 4 * 5 + 5 + 5 * 3 + 3);
        let l0 = net.loss(&batch);
        let w2: Vec<f32> = w.iter().map(|x| x * 0.5 + 0.1).collect();
        net.set(&w2).unwrap();
        assert_eq!(net.params(), w2);
        assert!((net.loss(&batch) - l0).abs() > 1e-4);
        assert!(net.set(&w2[1..]).is_err());
    }

    /// A CNN (4-D convolution weights) goes through the same flat interface.
    #[test]
    fn cnn_parameters_and_gradients_flatten() {
        use crate::model::CnnConfig;
        let device = Device::flex();
        let data = crate::data::digits().unwrap().take(32);
        let model = NetworkConfig::Cnn(
            CnnConfig::new()
                .with_conv1_channels(2)
                .with_conv2_channels(3)
                .with_hidden(8),
        )
        .init(
            data.shape,
            10,
            InputStats::of(&data.features),
            0,
            &device.clone().autodiff(),
        );
        let idx: Vec<usize> = (0..32).collect();
        let batch = Batch::new(&data, &idx, &data.labels, &device);
        let mut net = FlatNet::new(model);
        let w = net.params();
        let (loss, g) = net.loss_grad(&batch);
        assert_eq!(g.len(), w.len());
        assert!(loss.is_finite() && g.iter().any(|&x| x != 0.0));
        // One small gradient step lowers the loss.
        let w2: Vec<f32> = w.iter().zip(&g).map(|(a, b)| a - 0.05 * b).collect();
        assert!(net.loss_at(&w2, &batch).unwrap() < loss);
        assert_eq!(net.params(), w2);
    }

    /// The gradient against central differences of the loss along a few coordinates.
    #[test]
    fn gradient_matches_finite_differences() {
        let (mut net, _, batch) = tiny();
        let w = net.params();
        let (_, g) = net.loss_grad_at(&w, &batch).unwrap();
        let h = 1e-2f32;
        for i in [0usize, 7, 21, 30, 42] {
            let mut p = w.clone();
            p[i] += h;
            let lp = net.loss_at(&p, &batch).unwrap();
            p[i] -= 2.0 * h;
            let lm = net.loss_at(&p, &batch).unwrap();
            let fd = (lp - lm) / (2.0 * f64::from(h));
            assert!(
                (fd - f64::from(g[i])).abs() < 2e-3 + 0.05 * fd.abs(),
                "coordinate {i}: backprop {} vs finite difference {fd}",
                g[i]
            );
        }
    }

    /// The power iteration's eigenvalue against the Rayleigh quotient bound: for the returned
    /// λ, no random direction has a larger |vᵀHv| (within finite-difference noise).
    #[test]
    fn power_iteration_finds_the_largest_curvature() {
        let (mut net, _, batch) = tiny();
        let w = net.params();
        let lambda = top_hessian_eigenvalue(&mut net, &w, &batch, 60, 1e-3, 0).unwrap();
        assert!(lambda.is_finite() && lambda > 0.0, "λ = {lambda}");
        assert_eq!(net.params(), w, "the probe leaves the network at w");
        let mut rng = SplitMix64::new(9);
        for _ in 0..10 {
            let mut v = gaussian(&mut rng, w.len());
            let n = norm(&v) as f32;
            v.iter_mut().for_each(|x| *x /= n);
            let hv = hessian_vector(&mut net, &w, &v, &batch, 1e-3).unwrap();
            let q = dot(&v, &hv);
            assert!(q <= lambda * 1.02, "vᵀHv = {q} > λ = {lambda}");
        }
    }

    #[test]
    fn perturbation_sharpness_grows_with_sigma() {
        let (mut net, _, batch) = tiny();
        let w = net.params();
        let (small, _) = perturbation_sharpness(&mut net, &w, &batch, 0.01, 20, 0).unwrap();
        let (large, _) = perturbation_sharpness(&mut net, &w, &batch, 0.3, 20, 0).unwrap();
        assert!(large > small, "{large} <= {small}");
        assert!(large > 0.0);
    }

    #[test]
    fn lomax_tail_and_truncation() {
        let mut rng = SplitMix64::new(1);
        let n = 200_000;
        let alpha = 1.5;
        let above = (0..n)
            .filter(|_| symmetric_lomax(&mut rng, alpha, 1.0).abs() > 3.0)
            .count() as f64
            / n as f64;
        // P(|Z| > 3) = 4^{-1.5} = 0.125.
        assert!((above - 0.125).abs() < 0.005, "{above}");
        let mut v = vec![3.0f32, 4.0];
        assert!(truncate(&mut v, 1.0));
        assert!((norm(&v) - 1.0).abs() < 1e-6);
        assert!(!truncate(&mut v, 2.0));
    }

    /// At the minimizer of a convex problem the inner product toward it is positive everywhere.
    #[test]
    fn one_point_is_positive_toward_a_better_point() {
        let (mut net, _, batch) = tiny();
        let w0 = net.params();
        // A few hundred full-batch GD steps give a better point w_T.
        let mut w = w0.clone();
        for _ in 0..300 {
            let (_, g) = net.loss_grad_at(&w, &batch).unwrap();
            w.iter_mut().zip(&g).for_each(|(a, b)| *a -= 0.5 * b);
        }
        let p = one_point(&mut net, &w0, &w, &batch).unwrap();
        assert!(p.inner > 0.0 && p.cosine > 0.0 && p.cosine <= 1.0, "{p:?}");
    }
    /// With η = 0 the smoothing is the identity: every draw is the gradient at x; with η > 0
    /// the draws differ and their noise has the size of η times the mini-batch noise.
    #[test]
    fn mini_batch_smoothing_shifts_by_the_step_noise() {
        let (mut net, data, batch) = tiny();
        let w = net.params();
        let device = Device::flex();
        let mut rng = SplitMix64::new(5);
        let s = mini_batch_smoothing(
            &mut net, &w, &batch, &data, 64, 8, 0.0, 3, &mut rng, &device,
        )
        .unwrap();
        assert!(s.grads.iter().all(|g| *g == s.grad));
        assert!(s.noise_norms.iter().all(|&n| n == 0.0));
        let s = mini_batch_smoothing(
            &mut net, &w, &batch, &data, 64, 8, 0.5, 3, &mut rng, &device,
        )
        .unwrap();
        assert_eq!(s.grads.len(), 3);
        assert!(s.grads.iter().all(|g| *g != s.grad));
        assert!(s.noise_norms.iter().all(|&n| n > 0.0 && n.is_finite()));
        let p = one_point_of(&s.grad, &s.grad);
        assert!((p.cosine + 1.0).abs() < 1e-9, "{p:?}");
    }
}
