//! The batched simulator: n nodes held as one (n × d) tensor, so a gossip round is one
//! (n × n) · (n × d) matrix product on the device and an exact average is one mean over dim 0.
//!
//! Algorithms (Chen, Yuan, Zhang, Pan, Xu, Yin, ICML 2021, Algorithm 1 and §6), all in the
//! adapt-then-combine form y_i = x_i − γ g_i, then:
//! - parallel SGD: x_i ← ȳ every step;
//! - Gossip SGD: x_i ← Σ_j W_ij y_j every step;
//! - Local SGD: x_i ← ȳ every H steps, x_i ← y_i otherwise;
//! - Gossip-PGA: x_i ← ȳ every H steps, gossip otherwise;
//! - Gossip-AGA (**heuristic**): Gossip-PGA whose period adapts: after each global average the
//!   next period is H_ℓ = ⌈H · √(F(x̄₀)/F(x̄_ℓ))⌉ (capped at `aga_max_period`), so averaging is
//!   frequent while the loss (and with it the gradient dissimilarity) is large and rarer as it
//!   falls.
//!
//!   This is not the paper's rule: it was written from memory of the paper's Gossip-AGA section
//!   (it has the shape of AdaComm's loss-ratio rule, Wang & Joshi 2019, with the period growing
//!   rather than shrinking as the loss falls), and the stored public copies of the paper that
//!   could be searched (arXiv 2105.09080, ICML text) reach only its abstract and introduction,
//!   so the equation could not be checked. Gossip-AGA is therefore kept out of every claim and
//!   labelled a heuristic wherever it is reported. When several seeds are simulated as column
//!   blocks of one tensor they share one mixer, so the period follows the seed-mean loss.

use super::{Combine, MixingMatrix, NodeSchedule, ScheduleState};
use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};

/// The five decentralized algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Exact average every step (all-reduce).
    ParallelSgd,
    /// One gossip round every step.
    GossipSgd,
    /// Local steps, exact average every H steps.
    LocalSgd,
    /// Gossip every step, exact average every H steps.
    GossipPga,
    /// Gossip every step, exact average with an adaptive period.
    GossipAga,
}

impl Algorithm {
    /// All five, in report order.
    pub const ALL: [Self; 5] = [
        Self::ParallelSgd,
        Self::GossipSgd,
        Self::LocalSgd,
        Self::GossipPga,
        Self::GossipAga,
    ];

    /// The name used in configs, CSV files and plots.
    pub fn name(self) -> &'static str {
        match self {
            Self::ParallelSgd => "parallel-sgd",
            Self::GossipSgd => "gossip-sgd",
            Self::LocalSgd => "local-sgd",
            Self::GossipPga => "gossip-pga",
            Self::GossipAga => "gossip-aga",
        }
    }
}

/// Uploads a row-major f64 matrix as an f32 tensor.
pub fn matrix_tensor(w: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = w.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// What a [`Mixer`] has changed since it was built: its position in the schedule, Gossip-AGA's
/// period and losses, and the communication counts (a checkpoint keeps it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixerState {
    #[serde(flatten)]
    schedule: ScheduleState,
    messages: f64,
    bytes: f64,
    global_averages: u64,
}

/// Applies an algorithm's combine step to stacked node parameters, and counts communication.
#[derive(Clone, Debug)]
pub struct Mixer {
    /// Which combine each step ends with (the same schedule a node process follows).
    schedule: NodeSchedule,
    rounds: Vec<Tensor<2>>,
    messages_per_round: Vec<f64>,
    n: usize,
    params_per_node: usize,
    /// Messages sent per node, summed over steps.
    pub messages: f64,
    /// Bytes sent per node (f32 parameters), summed over steps.
    pub bytes: f64,
    /// Exact global averages done so far.
    pub global_averages: u64,
}

impl Mixer {
    /// A mixer for `params_per_node` parameters on each of `mixing.n` nodes with period `period`.
    pub fn new(
        algorithm: Algorithm,
        mixing: &MixingMatrix,
        period: usize,
        aga_max_period: usize,
        params_per_node: usize,
        device: &Device,
    ) -> Result<Self> {
        if period == 0 {
            return Err(EngineError::config(
                "period",
                "expected an averaging period H >= 1, found 0",
            ));
        }
        let n = mixing.n;
        Ok(Self {
            schedule: NodeSchedule::new(algorithm, period, aga_max_period, mixing.rounds.len()),
            rounds: mixing
                .rounds
                .iter()
                .map(|w| matrix_tensor(w, n, n, device))
                .collect(),
            messages_per_round: mixing.messages_per_round.clone(),
            n,
            params_per_node,
            messages: 0.0,
            bytes: 0.0,
            global_averages: 0,
        })
    }

    /// Its state, for a checkpoint.
    pub fn state(&self) -> MixerState {
        MixerState {
            schedule: self.schedule.state(),
            messages: self.messages,
            bytes: self.bytes,
            global_averages: self.global_averages,
        }
    }

    /// Continues from `state`, taken of a mixer built the same way.
    pub fn set_state(&mut self, state: MixerState) {
        self.schedule.set_state(state.schedule);
        self.messages = state.messages;
        self.bytes = state.bytes;
        self.global_averages = state.global_averages;
    }

    /// Steps mixed so far.
    pub fn steps(&self) -> u64 {
        self.schedule.steps()
    }

    /// The averaging period in force now (changes over time only for Gossip-AGA).
    pub fn current_period(&self) -> usize {
        self.schedule.current_period()
    }

    /// Whether the step about to be mixed ends with an exact global average.
    pub fn is_global_step(&self) -> bool {
        self.schedule.next() == Combine::Global
    }

    /// Tells Gossip-AGA the latest loss at the average model (ignored by the others).
    pub fn observe_loss(&mut self, loss: f64) {
        self.schedule.observe_loss(loss);
    }

    /// Combines the nodes' locally updated parameters `ys` (each n × k) for this step.
    pub fn mix(&mut self, ys: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
        let n = self.n;
        let out = match self.schedule.next() {
            Combine::Global => {
                // Ring all-reduce: 2(n−1) messages carrying 2(n−1)/n of the parameters per node.
                self.messages += 2.0 * (n as f64 - 1.0);
                self.bytes += 2.0 * (n as f64 - 1.0) / n as f64 * self.params_per_node as f64 * 4.0;
                self.global_averages += 1;
                ys.into_iter()
                    .map(|y| {
                        let [rows, cols] = y.dims();
                        y.mean_dim(0).expand([rows, cols])
                    })
                    .collect()
            }
            Combine::Gossip { round } => {
                let r = round % self.rounds.len();
                let m = self.messages_per_round[r];
                self.messages += m;
                self.bytes += m * self.params_per_node as f64 * 4.0;
                let w = self.rounds[r].clone();
                ys.into_iter().map(|y| w.clone().matmul(y)).collect()
            }
            Combine::Local => ys,
        };
        self.schedule.advance();
        out
    }
}

/// Consensus distance (1/n) Σ‖x_i − x̄‖² of stacked parameters (n × k), as a 1-element tensor.
pub fn consensus_distance(x: Tensor<2>) -> Tensor<1> {
    let [n, k] = x.dims();
    let mean = x.clone().mean_dim(0).expand([n, k]);
    (x - mean).powf_scalar(2.0).sum().div_scalar(n as f64)
}

/// The penalty added to every node's mean log-loss; it decides the problem's class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regularizer {
    /// (reg/2)‖x‖²: f is reg-strongly convex.
    #[default]
    L2,
    /// reg · Σ_j u_j²/(1 + u_j²) with u = x/s (the Geman–McClure penalty, a capped, non-convex
    /// stand-in for counting non-zero weights, of the kind decentralized non-convex benchmarks
    /// add to logistic regression). Its curvature (reg/s²)(2 − 6u²)/(1 + u²)³ is negative for
    /// |x_j| > s/√3, down to −reg/(2s²): with s small next to the solution's weights f is
    /// non-convex where the runs go.
    NonConvex,
}

impl Regularizer {
    /// The penalty summed over every entry of `x`, as a 1-element tensor (`s`: the
    /// non-convex penalty's scale).
    fn penalty<const D: usize>(self, x: Tensor<D>, reg: f64, s: f64) -> Tensor<1> {
        match self {
            Self::L2 => x.powf_scalar(2.0).sum().mul_scalar(0.5 * reg),
            Self::NonConvex => {
                let sq = x.div_scalar(s).powf_scalar(2.0);
                (sq.clone() / (sq + 1.0)).sum().mul_scalar(reg)
            }
        }
    }

    /// The penalty's gradient, entry by entry.
    fn gradient<const D: usize>(self, x: Tensor<D>, reg: f64, s: f64) -> Tensor<D> {
        match self {
            Self::L2 => x.mul_scalar(reg),
            Self::NonConvex => {
                let u = x.div_scalar(s);
                let den = (u.clone().powf_scalar(2.0) + 1.0).powf_scalar(2.0);
                u.mul_scalar(2.0 * reg / s) / den
            }
        }
    }

    /// The penalty's second derivative in one coordinate at value `v`.
    pub fn curvature(self, v: f64, reg: f64, s: f64) -> f64 {
        match self {
            Self::L2 => reg,
            Self::NonConvex => {
                let u2 = (v / s).powi(2);
                reg / (s * s) * (2.0 - 6.0 * u2) / (1.0 + u2).powi(3)
            }
        }
    }
}

/// The features (m·d per node, row-major) and labels (m per node) of the heterogeneous logistic
/// problem of [`LogisticProblem::generate`], drawn on the CPU from `seed`: of every node, or of
/// node `only` alone (the same stream is run through for every node, so a node's shard is the
/// same numbers as its rows of the whole problem).
pub(super) fn logistic_data(
    n: usize,
    m: usize,
    d: usize,
    heterogeneity: f64,
    seed: u64,
    only: Option<usize>,
) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix64::for_purpose(seed, "gossip logistic data");
    let scale = 1.0 / (d as f64).sqrt();
    let x0: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
    let kept = if only.is_some() { 1 } else { n };
    let mut feats = Vec::with_capacity(kept * m * d);
    let mut labels = Vec::with_capacity(kept * m);
    for i in 0..n {
        let keep = only.is_none_or(|o| o == i);
        let xi: Vec<f64> = x0
            .iter()
            .map(|&v| v + heterogeneity * rng.normal())
            .collect();
        // Node-specific feature scales make the local Hessians differ, so that disagreement
        // between nodes moves the average model (with one shared Hessian it would not).
        let s = (0.3 * heterogeneity * rng.normal())
            .clamp(-(3f64.ln()), 3f64.ln())
            .exp();
        for _ in 0..m {
            let mut z = 0.0;
            for &xv in &xi {
                let a = rng.normal() * scale * s;
                z += a * xv;
                if keep {
                    feats.push(a as f32);
                }
            }
            let p = 1.0 / (1.0 + (-z).exp());
            let y = if rng.next_f64() < p { 1.0f32 } else { 0.0 };
            if keep {
                labels.push(y);
            }
        }
    }
    (feats, labels)
}

/// A heterogeneous logistic-regression problem split over n nodes (the paper's §7.1 setting):
/// node i holds m samples (a, y) with a ~ N(0, s_i²I/d), y ~ Bernoulli(σ(aᵀx_i^true)), where
/// x_i^true = x₀ + heterogeneity · u_i and log s_i = 0.3 · heterogeneity · N(0, 1) clamped to
/// ±ln 3, and f_i(x) = mean log-loss + a [`Regularizer`] of weight reg (L2 unless
/// [`Self::with_regularizer`] says otherwise).
#[derive(Clone, Debug)]
pub struct LogisticProblem {
    /// Nodes.
    pub n: usize,
    /// Samples per node.
    pub m: usize,
    /// Features.
    pub d: usize,
    /// Weight of the regularizer.
    pub reg: f64,
    /// The penalty (L2 makes f strongly convex).
    pub regularizer: Regularizer,
    /// The non-convex penalty's scale s.
    pub penalty_scale: f64,
    /// Node data, (n, m, d).
    features: Tensor<3>,
    /// Labels, (n, m, 1).
    labels: Tensor<3>,
    /// Node data flattened to (n·m, d) for mini-batch gathers.
    flat_features: Tensor<2>,
    /// Labels flattened to (n·m, 1).
    flat_labels: Tensor<2>,
    device: Device,
}

impl LogisticProblem {
    /// Draws the problem from `seed` on the CPU and uploads it.
    pub fn generate(
        n: usize,
        m: usize,
        d: usize,
        heterogeneity: f64,
        reg: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        let (feats, labels) = logistic_data(n, m, d, heterogeneity, seed, None);
        let features: Tensor<3> = Tensor::from_data(TensorData::new(feats, [n, m, d]), device);
        let labels: Tensor<3> = Tensor::from_data(TensorData::new(labels, [n, m, 1]), device);
        Self {
            n,
            m,
            d,
            reg,
            regularizer: Regularizer::L2,
            penalty_scale: 1.0,
            flat_features: features.clone().reshape([n * m, d]),
            flat_labels: labels.clone().reshape([n * m, 1]),
            features,
            labels,
            device: device.clone(),
        }
    }

    /// The same problem (same data) with another penalty (`scale`: the non-convex one's s).
    pub fn with_regularizer(mut self, regularizer: Regularizer, scale: f64) -> Self {
        self.regularizer = regularizer;
        self.penalty_scale = scale;
        self
    }

    /// The starting point of every run: all nodes at zero, (n × d).
    pub fn initial_point(&self) -> Tensor<2> {
        Tensor::zeros([self.n, self.d], &self.device)
    }

    /// The device the data lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Per-node gradients and losses of f_i at x_i on batches a (n, b, d), y (n, b, 1), in
    /// closed form: ∇ = aᵀ(σ(a x) − y)/b + ∇penalty(x).
    fn grad_on(&self, x: Tensor<2>, a: Tensor<3>, y: Tensor<3>) -> (Tensor<2>, Tensor<1>) {
        let [n, b, _] = a.dims();
        let z = a.clone().matmul(x.clone().unsqueeze_dim::<3>(2)); // (n, b, 1)
        let loss = (activation::softplus(z.clone(), 1.0) - y.clone() * z.clone())
            .sum()
            .div_scalar((n * b) as f64)
            + self
                .regularizer
                .penalty(x.clone(), self.reg, self.penalty_scale)
                .div_scalar(n as f64);
        let r = (activation::sigmoid(z) - y).div_scalar(b as f64);
        let g = a.swap_dims(1, 2).matmul(r).reshape([n, self.d])
            + self.regularizer.gradient(x, self.reg, self.penalty_scale);
        (g, loss)
    }

    /// Mini-batch gradients: node i samples `batch` of its own examples (indices from `rng`).
    pub fn stochastic_grad(&self, x: Tensor<2>, batch: usize, rng: &mut SplitMix64) -> Tensor<2> {
        let idx: Vec<i64> = (0..self.n)
            .flat_map(|i| (0..batch).map(move |_| i))
            .map(|i| (i * self.m + rng.below(self.m)) as i64)
            .collect();
        let idx: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(idx, [self.n * batch]), &self.device);
        let a = self
            .flat_features
            .clone()
            .select(0, idx.clone())
            .reshape([self.n, batch, self.d]);
        let y = self
            .flat_labels
            .clone()
            .select(0, idx)
            .reshape([self.n, batch, 1]);
        self.grad_on(x, a, y).0
    }

    /// Mini-batch gradients for `rngs.len()` independent replicas of the n nodes, stacked along
    /// the columns: `x` is (n × R·d), node i of replica r in columns r·d..(r+1)·d of row i.
    ///
    /// Mixing acts on rows only, so one [`Mixer`] mixes all R replicas at once and the replicas
    /// share every tensor operation (R seeds cost far less than R runs). Replica r draws its
    /// batch indices from `rngs[r]` in the same order as [`Self::stochastic_grad`] would, so a
    /// replica's stream does not depend on how many replicas run beside it.
    pub fn stochastic_grad_replicas(
        &self,
        x: Tensor<2>,
        batch: usize,
        rngs: &mut [SplitMix64],
    ) -> Tensor<2> {
        let (n, r, d) = (self.n, rngs.len(), self.d);
        let mut idx = vec![0i64; n * r * batch];
        for (ri, rng) in rngs.iter_mut().enumerate() {
            for i in 0..n {
                for j in 0..batch {
                    idx[(i * r + ri) * batch + j] = (i * self.m + rng.below(self.m)) as i64;
                }
            }
        }
        let idx: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(idx, [n * r * batch]), &self.device);
        let a = self
            .flat_features
            .clone()
            .select(0, idx.clone())
            .reshape([n * r, batch, d]);
        let y = self
            .flat_labels
            .clone()
            .select(0, idx)
            .reshape([n * r, batch, 1]);
        self.grad_on(x.reshape([n * r, d]), a, y)
            .0
            .reshape([n, r * d])
    }

    /// ‖x̄_r − x*‖² for each of the R replicas stacked in `x` (n × R·d); `xstar` is (1 × d).
    pub fn errors_replicas(&self, x: Tensor<2>, xstar: Tensor<2>, replicas: usize) -> Tensor<1> {
        let d = self.d;
        let xbar = x.mean_dim(0).reshape([replicas, d]);
        (xbar - xstar.expand([replicas, d]))
            .powf_scalar(2.0)
            .sum_dim(1)
            .reshape([replicas])
    }

    /// The replica means of f(x̄_r) and of ‖∇f(x̄_r)‖², for R replicas stacked in `x` (n × R·d).
    pub fn at_average_replicas(&self, x: Tensor<2>, replicas: usize) -> (Tensor<1>, Tensor<1>) {
        let (xbar, z, y) = self.logits_at_averages(x, replicas);
        let (n, m, r) = (self.n, self.m, replicas);
        let loss = (activation::softplus(z.clone(), 1.0) - y.clone() * z.clone())
            .sum()
            .div_scalar((n * m * r) as f64)
            + self
                .regularizer
                .penalty(xbar.clone(), self.reg, self.penalty_scale)
                .div_scalar(r as f64);
        (loss, self.grad_norms_from(xbar, z, y).mean())
    }

    /// ‖∇f(x̄_r)‖² for each of the R replicas stacked in `x` (n × R·d): the error the
    /// non-convex theory bounds (no loss is computed: this runs every step).
    pub fn grad_norms_replicas(&self, x: Tensor<2>, replicas: usize) -> Tensor<1> {
        let (xbar, z, y) = self.logits_at_averages(x, replicas);
        self.grad_norms_from(xbar, z, y)
    }

    /// The replica averages x̄ as columns (d × R), their logits on every sample (n, m, R) and
    /// the labels broadcast to match.
    fn logits_at_averages(&self, x: Tensor<2>, r: usize) -> (Tensor<2>, Tensor<3>, Tensor<3>) {
        let (n, d, m) = (self.n, self.d, self.m);
        let xbar = x.mean_dim(0).reshape([r, d]).transpose();
        let z = self
            .features
            .clone()
            .matmul(xbar.clone().unsqueeze_dim::<3>(0).expand([n, d, r]));
        let y = self.labels.clone().expand([n, m, r]);
        (xbar, z, y)
    }

    /// ‖∇f(x̄_r)‖² replica by replica, from [`Self::logits_at_averages`].
    fn grad_norms_from(&self, xbar: Tensor<2>, z: Tensor<3>, y: Tensor<3>) -> Tensor<1> {
        let (d, r) = (self.d, xbar.dims()[1]);
        let resid = (activation::sigmoid(z) - y).div_scalar(self.m as f64);
        let g = self.features.clone().swap_dims(1, 2).matmul(resid); // (n, d, R)
        let g = g.mean_dim(0).reshape([d, r])
            + self
                .regularizer
                .gradient(xbar, self.reg, self.penalty_scale);
        g.powf_scalar(2.0).sum_dim(0).reshape([r])
    }

    /// The smallest eigenvalue of ∇²f at `x` (d values), in f64 on the CPU:
    /// (1/(n·m)) Σ σ'(aᵀx) aaᵀ plus the penalty's diagonal. Negative where f is not convex.
    pub fn hessian_min_eigenvalue(&self, x: &[f64]) -> Result<f64> {
        let d = self.d;
        let feats = self
            .flat_features
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| EngineError::Device(format!("reading features back: {e:?}")))?;
        let mut h = vec![0.0f64; d * d];
        let count = self.n * self.m;
        for a in feats.chunks_exact(d) {
            let z: f64 = a.iter().zip(x).map(|(&ai, &xi)| f64::from(ai) * xi).sum();
            let s = 1.0 / (1.0 + (-z).exp());
            let w = s * (1.0 - s) / count as f64;
            for i in 0..d {
                let wi = w * f64::from(a[i]);
                for j in 0..d {
                    h[i * d + j] += wi * f64::from(a[j]);
                }
            }
        }
        for (i, &v) in x.iter().enumerate().take(d) {
            h[i * d + i] += self.regularizer.curvature(v, self.reg, self.penalty_scale);
        }
        let eig = super::symmetric_eigenvalues(&h, d);
        Ok(eig.into_iter().fold(f64::INFINITY, f64::min))
    }

    /// Full-data gradients of every f_i at its own x_i (n × d), and the mean loss (1/n)Σf_i(x_i).
    pub fn full_grad(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        self.grad_on(x, self.features.clone(), self.labels.clone())
    }

    /// Global loss f(x̄) = (1/n)Σ f_i(x̄) and ‖∇f(x̄)‖² at the average of `x` (n × d).
    pub fn at_average(&self, x: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        let mean = x.mean_dim(0).expand([self.n, self.d]);
        let (g, loss) = self.full_grad(mean);
        let gn = g.mean_dim(0).powf_scalar(2.0).sum();
        (loss, gn)
    }

    /// The global minimizer x* (1 × d) by full-batch gradient descent with step 1/L, where
    /// L = max‖a‖²/4 + (the penalty's largest curvature) bounds the smoothness; runs until ‖∇f‖ < `tol` or `max_iters`.
    pub fn solve(&self, max_iters: usize, tol: f64) -> Tensor<2> {
        let sq = self
            .flat_features
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .max()
            .into_scalar::<f32>();
        let lr = 1.0
            / (f64::from(sq) / 4.0
                + self
                    .regularizer
                    .curvature(0.0, self.reg, self.penalty_scale));
        let mut x: Tensor<2> = Tensor::zeros([1, self.d], &self.device);
        for it in 0..max_iters {
            let (g, _) = self.full_grad(x.clone().expand([self.n, self.d]));
            let g = g.mean_dim(0);
            if it.is_multiple_of(50) {
                let gn = f64::from(g.clone().powf_scalar(2.0).sum().into_scalar::<f32>()).sqrt();
                if gn < tol {
                    break;
                }
            }
            x = x - g.mul_scalar(lr);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::gossip::{TopologyConfig, WeightScheme, symmetric_eigenvalues};

    fn read(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn one_gossip_round_matches_hand_computation() {
        let dev = Device::flex();
        let mix =
            MixingMatrix::build(&TopologyConfig::Ring, WeightScheme::Uniform, 4, "t").unwrap();
        let mut m = Mixer::new(Algorithm::GossipSgd, &mix, 1, 1, 2, &dev).unwrap();
        // Rows: nodes 0..4, two parameters each.
        let x = matrix_tensor(&[1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 12.0], 4, 2, &dev);
        let out = read(m.mix(vec![x]).remove(0));
        // Node 0 averages itself with nodes 1 and 3: (1 + 2 + 4)/3, (0 + 0 + 12)/3.
        let expected = [7.0 / 3.0, 4.0, 2.0, 0.0, 3.0, 4.0, 8.0 / 3.0, 4.0];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        assert!((m.messages - 2.0).abs() < 1e-12);
        assert!((m.bytes - 16.0).abs() < 1e-12);
    }

    #[test]
    fn pga_resets_consensus_distance_every_h_steps() {
        let dev = Device::flex();
        let n = 8;
        let mix =
            MixingMatrix::build(&TopologyConfig::Ring, WeightScheme::Uniform, n, "t").unwrap();
        let p = LogisticProblem::generate(n, 20, 5, 2.0, 0.01, 1, &dev);
        let h = 4;
        let mut m = Mixer::new(Algorithm::GossipPga, &mix, h, h, 5, &dev).unwrap();
        let mut x: Tensor<2> = Tensor::zeros([n, 5], &dev);
        let mut rng = SplitMix64::new(2);
        for k in 1..=16u64 {
            let g = p.stochastic_grad(x.clone(), 4, &mut rng);
            x = m.mix(vec![x - g.mul_scalar(0.5)]).remove(0);
            let c = f64::from(consensus_distance(x.clone()).into_scalar::<f32>());
            if k.is_multiple_of(h as u64) {
                assert!(c < 1e-12, "step {k}: consensus {c} after a global average");
            } else {
                assert!(
                    c > 1e-8,
                    "step {k}: consensus {c} should be positive between averages"
                );
            }
        }
        assert_eq!(m.global_averages, 4);
    }

    #[test]
    fn closed_form_gradient_matches_finite_differences() {
        let dev = Device::flex();
        let p = LogisticProblem::generate(2, 10, 3, 1.0, 0.1, 4, &dev);
        gradient_matches_finite_differences(&p, &dev);
        // The non-convex penalty at a scale where its curvature changes sign among these x.
        let p = p.with_regularizer(Regularizer::NonConvex, 0.3);
        gradient_matches_finite_differences(&p, &dev);
    }

    /// The smallest Hessian eigenvalue agrees with one from finite differences of the
    /// closed-form gradient, for both penalties (the non-convex one where it is concave).
    #[test]
    fn hessian_eigenvalue_matches_finite_differences() {
        let dev = Device::flex();
        for (reg, scale) in [(Regularizer::L2, 1.0), (Regularizer::NonConvex, 0.3)] {
            let p =
                LogisticProblem::generate(3, 20, 3, 1.0, 0.2, 9, &dev).with_regularizer(reg, scale);
            let x = [0.6f64, -0.5, 0.1];
            let grad = |x: &[f64]| -> Vec<f64> {
                let (g, _) = p.full_grad(matrix_tensor(&x.repeat(3), 3, 3, &dev));
                let g = read(g.mean_dim(0));
                g.into_iter().map(f64::from).collect()
            };
            let h = 1e-2;
            let mut hess = [0.0; 9];
            for j in 0..3 {
                let (mut a, mut b) = (x.to_vec(), x.to_vec());
                a[j] += h;
                b[j] -= h;
                let (ga, gb) = (grad(&a), grad(&b));
                for i in 0..3 {
                    hess[i * 3 + j] = (ga[i] - gb[i]) / (2.0 * h);
                }
            }
            // Symmetrize the finite-difference estimate before taking eigenvalues.
            let sym: Vec<f64> = (0..9)
                .map(|k| 0.5 * (hess[k] + hess[(k % 3) * 3 + k / 3]))
                .collect();
            let fd = symmetric_eigenvalues(&sym, 3)
                .into_iter()
                .fold(f64::INFINITY, f64::min);
            let exact = p.hessian_min_eigenvalue(&x).unwrap();
            assert!((fd - exact).abs() < 3e-3, "{reg:?}: fd {fd} vs {exact}");
            if reg == Regularizer::NonConvex {
                assert!(
                    exact < 0.0,
                    "the penalty is concave at |x| = 0.6 > s/√3: {exact}"
                );
            }
        }
    }

    fn gradient_matches_finite_differences(p: &LogisticProblem, dev: &Device) {
        let x0 = vec![0.3f64, -0.2, 0.5, 0.1, 0.0, -0.4];
        let (g, _) = p.full_grad(matrix_tensor(&x0, 2, 3, dev));
        let g = read(g);
        let loss = |x: &[f64]| {
            f64::from(
                p.full_grad(matrix_tensor(x, 2, 3, dev))
                    .1
                    .into_scalar::<f32>(),
            )
        };
        for k in 0..6 {
            let (mut a, mut b) = (x0.clone(), x0.clone());
            a[k] += 1e-2;
            b[k] -= 1e-2;
            // The returned loss is the mean over nodes, so node i's gradient is n × ∂loss/∂x_i.
            let fd = (loss(&a) - loss(&b)) / 2e-2 * 2.0;
            assert!(
                (fd - f64::from(g[k])).abs() < 2e-3,
                "k {k}: fd {fd} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn replicas_match_separate_runs() {
        let dev = Device::flex();
        let (n, d, r) = (4, 3, 3);
        let p = LogisticProblem::generate(n, 10, d, 1.5, 0.05, 7, &dev);
        let xs = p.solve(2000, 1e-6);
        let seeds = [11u64, 12, 13];
        let mut rngs: Vec<SplitMix64> = seeds.iter().map(|&s| SplitMix64::new(s)).collect();
        // Distinct starting points per replica, so a mix-up of columns would show.
        let start: Vec<f64> = (0..n * r * d).map(|i| (i as f64 * 0.37).sin()).collect();
        let xr = matrix_tensor(&start, n, r * d, &dev);
        let g_all = read(p.stochastic_grad_replicas(xr.clone(), 4, &mut rngs));
        let err_all = p
            .errors_replicas(xr.clone(), xs.clone(), r)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let (loss_all, gn_all) = p.at_average_replicas(xr, r);
        let (mut loss_sum, mut gn_sum) = (0.0, 0.0);
        for (ri, &s) in seeds.iter().enumerate() {
            let x0: Vec<f64> = (0..n)
                .flat_map(|i| (0..d).map(move |j| (i, j)))
                .map(|(i, j)| start[i * r * d + ri * d + j])
                .collect();
            let x = matrix_tensor(&x0, n, d, &dev);
            let g = read(p.stochastic_grad(x.clone(), 4, &mut SplitMix64::new(s)));
            for i in 0..n {
                for j in 0..d {
                    let (a, b) = (g[i * d + j], g_all[i * r * d + ri * d + j]);
                    assert!((a - b).abs() < 1e-5, "replica {ri} node {i}: {a} vs {b}");
                }
            }
            let xbar = x.clone().mean_dim(0);
            let e = f64::from(
                (xbar - xs.clone())
                    .powf_scalar(2.0)
                    .sum()
                    .into_scalar::<f32>(),
            );
            assert!((e - f64::from(err_all[ri])).abs() < 1e-5 * (1.0 + e));
            let (l, gn) = p.at_average(x);
            loss_sum += f64::from(l.into_scalar::<f32>());
            gn_sum += f64::from(gn.into_scalar::<f32>());
        }
        let l = f64::from(loss_all.into_scalar::<f32>());
        let gn = f64::from(gn_all.into_scalar::<f32>());
        assert!(
            (l - loss_sum / 3.0).abs() < 1e-5,
            "{l} vs {}",
            loss_sum / 3.0
        );
        assert!(
            (gn - gn_sum / 3.0).abs() < 1e-5 * (1.0 + gn),
            "{gn} vs {}",
            gn_sum / 3.0
        );
    }

    #[test]
    fn solver_reaches_a_stationary_point() {
        let dev = Device::flex();
        let p = LogisticProblem::generate(4, 30, 6, 1.0, 0.05, 9, &dev);
        let x = p.solve(3000, 1e-6);
        let (_, gn) = p.at_average(x.expand([4, 6]));
        assert!(f64::from(gn.into_scalar::<f32>()).sqrt() < 1e-5);
    }
}
