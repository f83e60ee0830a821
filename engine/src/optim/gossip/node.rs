//! One node of a decentralized run, as a process of its own: its shard of the heterogeneous
//! logistic-regression data, its own parameters, and the same algorithms as the batched
//! simulator ([`super::Mixer`]), with the network behind the [`NodeComm`] trait.
//!
//! The engine does not know MPI: `sgdlab mpi-gossip` (the `mpi` feature of the native crate)
//! implements [`NodeComm`] with non-blocking sends and receives for a gossip round and
//! `MPI_Allreduce` for the exact averages. Everything that decides *what* is computed (the data,
//! the mini-batch indices, the mixing matrix of each step, the averaging schedule) is drawn
//! exactly as the simulator draws it, so a run over n processes reproduces the simulator's run
//! at n nodes up to float rounding ([`super::simulate_nodes`] is that reference).

use super::{Algorithm, Combine, MixingMatrix, NodeSchedule, TopologyConfig, WeightScheme};
use crate::error::{EngineError, Result};
use crate::rng::{SplitMix64, derive_seed};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Everything that defines one decentralized logistic-regression run (every node holds the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRunSpec {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Nodes n (the number of processes).
    pub nodes: usize,
    /// Seed of data and mini-batches (the gossip experiment's `seed`).
    pub seed: u64,
    /// The communication graph.
    pub topology: TopologyConfig,
    /// Edge weights of the mixing matrix.
    pub weights: WeightScheme,
    /// Averaging period H (Local SGD, Gossip-PGA, Gossip-AGA's first period).
    pub period: usize,
    /// Largest period Gossip-AGA may adapt to.
    pub aga_max_period: usize,
    /// Samples per node m.
    pub samples_per_node: usize,
    /// Features d (parameters per node).
    pub dim: usize,
    /// Spread of the nodes' ground-truth vectors.
    pub heterogeneity: f64,
    /// L2 regularization.
    pub reg: f64,
    /// Mini-batch per node per step.
    pub batch: usize,
    /// Initial step size γ₀.
    pub lr: f64,
    /// γ_k = γ₀ k₀/(k₀ + k) with this k₀.
    pub lr_decay_steps: f64,
    /// Steps.
    pub steps: usize,
    /// Evaluate f(x̄), ‖∇f(x̄)‖ and the consensus distance every this many steps (and at the
    /// last step); 0: only at the last step.
    pub eval_every: usize,
}

impl NodeRunSpec {
    /// The seed of the data: the gossip experiment's seed for a logistic problem on n nodes.
    pub fn data_seed(&self) -> u64 {
        derive_seed(self.seed, &format!("logistic n={}", self.nodes))
    }

    /// Node `rank`'s shard of this run's data, on `device`.
    pub fn shard(&self, rank: usize, device: &Device) -> LogisticShard {
        LogisticShard::generate(
            self.nodes,
            rank,
            self.samples_per_node,
            self.dim,
            self.heterogeneity,
            self.reg,
            self.data_seed(),
            device,
        )
    }

    /// The mini-batch stream: the gossip experiment's replica 0 at n nodes. It draws the indices
    /// of every node in turn, so every process runs the whole stream and keeps its own.
    pub fn batch_rng(&self) -> SplitMix64 {
        SplitMix64::for_purpose(self.seed, &format!("gossip batches n={}", self.nodes))
    }

    /// The step size of step k (0-based).
    pub fn lr_at(&self, k: u64) -> f64 {
        self.lr * self.lr_decay_steps / (self.lr_decay_steps + k as f64)
    }

    /// The mixing matrices of the run (checked).
    pub fn mixing(&self) -> Result<MixingMatrix> {
        MixingMatrix::build(&self.topology, self.weights, self.nodes, "topology")
    }

    /// Whether step `step` (1-based) is evaluated.
    pub fn evaluates(&self, step: u64) -> bool {
        step == self.steps as u64
            || (self.eval_every > 0 && step.is_multiple_of(self.eval_every as u64))
    }

    /// Checks the sizes (the rest is checked by the gossip config and [`MixingMatrix::build`]).
    pub fn validate(&self) -> Result<()> {
        if self.nodes < 2 {
            return Err(EngineError::config(
                "nodes",
                format!(
                    "expected at least 2 nodes (processes), found {}",
                    self.nodes
                ),
            ));
        }
        if self.period == 0 {
            return Err(EngineError::config("period", "expected H >= 1, found 0"));
        }
        if self.batch == 0 || self.batch > self.samples_per_node {
            return Err(EngineError::config(
                "logistic.batch",
                format!(
                    "expected 1 to samples_per_node = {}, found {}",
                    self.samples_per_node, self.batch
                ),
            ));
        }
        if self.dim == 0 || self.steps == 0 {
            return Err(EngineError::config(
                "logistic.dim",
                "expected at least 1 feature and 1 step",
            ));
        }
        self.mixing().map(|_| ())
    }
}

/// What a node needs from the network. Implementations block until the operation is done on
/// this node; a failed peer ends the job (MPI's default error handler), it never returns.
pub trait NodeComm {
    /// This node's index in `0..size()`.
    fn rank(&self) -> usize;
    /// The number of nodes.
    fn size(&self) -> usize;
    /// Replaces `buf` by its element-wise sum over all nodes.
    fn all_reduce_sum(&mut self, buf: &mut [f32]);
    /// One gossip exchange: sends `mine` to every node in `to` and receives one vector of the
    /// same length from every node in `from` into `recv` (in the order of `from`). `tag`
    /// identifies the round.
    fn exchange(
        &mut self,
        mine: &[f32],
        to: &[usize],
        from: &[usize],
        recv: &mut [Vec<f32>],
        tag: u16,
    );
}

/// One node's data: its m samples of the simulator's heterogeneous logistic problem.
#[derive(Clone, Debug)]
pub struct LogisticShard {
    /// The node.
    pub node: usize,
    m: usize,
    d: usize,
    reg: f64,
    /// (m, d).
    features: Tensor<2>,
    /// (m, 1).
    labels: Tensor<2>,
    device: Device,
}

impl LogisticShard {
    /// Node `node`'s shard of [`super::LogisticProblem::generate`]`(n, m, d, …, seed)`: the same
    /// random stream is run through for every node, and only this node's samples are kept.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        n: usize,
        node: usize,
        m: usize,
        d: usize,
        heterogeneity: f64,
        reg: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        let (feats, labels) = super::sim::logistic_data(n, m, d, heterogeneity, seed, Some(node));
        Self::from_data(node, feats, labels, m, d, reg, device)
    }

    /// A shard from raw row-major features (m × d) and labels (m).
    pub fn from_data(
        node: usize,
        features: Vec<f32>,
        labels: Vec<f32>,
        m: usize,
        d: usize,
        reg: f64,
        device: &Device,
    ) -> Self {
        Self {
            node,
            m,
            d,
            reg,
            features: Tensor::from_data(TensorData::new(features, [m, d]), device),
            labels: Tensor::from_data(TensorData::new(labels, [m, 1]), device),
            device: device.clone(),
        }
    }

    /// Checks that every feature and label is finite (labels 0 or 1); the error names the row.
    pub fn check(&self) -> std::result::Result<(), String> {
        let f = read(self.features.clone())?;
        if let Some(k) = f.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "bad shard: feature {} of sample {} is {}",
                k % self.d,
                k / self.d,
                f[k]
            ));
        }
        let l = read(self.labels.clone())?;
        if let Some(k) = l.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(format!(
                "bad shard: label of sample {k} is {} (expected 0 or 1)",
                l[k]
            ));
        }
        Ok(())
    }

    /// **Fault injection** (tests of `sgdlab mpi-gossip` only): makes the first feature NaN, so
    /// that [`Self::check`] reports a bad shard.
    pub fn inject_nan_feature(&mut self) {
        let mut f = read(self.features.clone()).unwrap_or_default();
        if let Some(v) = f.first_mut() {
            *v = f32::NAN;
        }
        if f.len() == self.m * self.d {
            self.features = Tensor::from_data(TensorData::new(f, [self.m, self.d]), &self.device);
        }
    }

    /// Samples m.
    pub fn samples(&self) -> usize {
        self.m
    }

    /// (gradient, loss) of f_i at x (1 × d) on rows a (b × d), labels y (b × 1): the
    /// simulator's closed form ∇ = aᵀ(σ(a x) − y)/b + reg·x.
    fn grad_on(&self, x: Tensor<2>, a: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let [b, _] = a.dims();
        let xc = x.clone().transpose(); // (d, 1)
        let z = a.clone().matmul(xc.clone()); // (b, 1)
        let loss = (activation::softplus(z.clone(), 1.0) - y.clone() * z.clone())
            .sum()
            .div_scalar(b as f64)
            + x.clone().powf_scalar(2.0).sum().mul_scalar(0.5 * self.reg);
        let r = (activation::sigmoid(z) - y).div_scalar(b as f64);
        let g = a.transpose().matmul(r).reshape([1, self.d]) + x.mul_scalar(self.reg);
        (g, loss)
    }

    /// The local SGD update y = x − γ ∇f_i(x; batch) on this node's device, read back.
    pub fn local_step(&self, x: &[f32], batch: &[usize], lr: f64) -> Result<Vec<f32>> {
        let idx: Vec<i64> = batch.iter().map(|&j| j as i64).collect();
        let idx: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(idx, [batch.len()]), &self.device);
        let a = self.features.clone().select(0, idx.clone());
        let y = self.labels.clone().select(0, idx);
        let xt = self.row(x);
        let (g, _) = self.grad_on(xt.clone(), a, y);
        read(xt - g.mul_scalar(lr)).map_err(EngineError::Device)
    }

    /// f_i and ∇f_i at x on the whole shard.
    pub fn full_loss_grad(&self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let (g, loss) = self.grad_on(self.row(x), self.features.clone(), self.labels.clone());
        let g = read(g).map_err(EngineError::Device)?;
        let loss = read(loss).map_err(EngineError::Device)?;
        Ok((f64::from(loss.first().copied().unwrap_or(f32::NAN)), g))
    }

    fn row(&self, x: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(x.to_vec(), [1, self.d]), &self.device)
    }
}

fn read<const D: usize>(t: Tensor<D>) -> std::result::Result<Vec<f32>, String> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("reading a tensor back: {e:?}"))
}

/// One evaluation at the average model x̄ (the same numbers on every node).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEval {
    /// Steps done (1-based).
    pub step: u64,
    /// The step size of this step.
    pub lr: f64,
    /// f(x̄) = (1/n) Σ f_i(x̄).
    pub loss: f64,
    /// ‖∇f(x̄)‖.
    pub grad_norm: f64,
    /// (1/n) Σ ‖x_i − x̄‖².
    pub consensus: f64,
}

/// Time and traffic of one node over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Steps taken.
    pub steps: u64,
    /// Seconds in the local update (mini-batch, gradient, read-back).
    pub compute_seconds: f64,
    /// Seconds in the step's communication (gossip exchange or all-reduce, and the combine).
    pub comm_seconds: f64,
    /// Seconds in evaluations (not part of a training step).
    pub eval_seconds: f64,
    /// Bytes this node sent in training steps: counted for gossip messages; for an all-reduce
    /// the ring algorithm's 2(n−1)/n · 4d (what the simulator counts; MPI picks its algorithm).
    pub bytes_sent: f64,
    /// Messages sent in training steps (same convention).
    pub messages: f64,
    /// Exact averages done.
    pub global_averages: u64,
}

/// What a node's run returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeOutcome {
    /// The evaluations, in step order.
    pub evals: Vec<NodeEval>,
    /// The final average model x̄.
    pub mean_model: Vec<f32>,
    /// This node's time and traffic.
    pub stats: NodeStats,
}

/// Why a node stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeFailure {
    /// An engine error: the message, and whether it is bad input (exit 2) rather than a
    /// failure of the run.
    Engine(String, bool),
    /// This node's shard is bad.
    BadShard(String),
    /// This node's local update is not finite (checked before anything is sent, so the node that
    /// produced it is the one that reports it).
    NonFinite {
        /// The step (1-based).
        step: u64,
        /// What was found.
        detail: String,
    },
}

impl std::fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Engine(e, _) => write!(f, "{e}"),
            Self::BadShard(e) => write!(f, "{e}"),
            Self::NonFinite { step, detail } => write!(f, "at step {step}: {detail}"),
        }
    }
}

impl From<EngineError> for NodeFailure {
    fn from(e: EngineError) -> Self {
        let bad = e.is_bad_input();
        Self::Engine(e.to_string(), bad)
    }
}

/// Runs this node's part of `spec` on `device`. `before_send` sees the step (1-based) and the
/// node's fresh local update before it is checked and sent (the fault-injection hook of
/// `sgdlab mpi-gossip`; a no-op otherwise). `shard` is this node's data.
pub fn run_node(
    spec: &NodeRunSpec,
    shard: &LogisticShard,
    comm: &mut dyn NodeComm,
    before_send: &mut dyn FnMut(u64, &mut Vec<f32>),
    after_eval: &mut dyn FnMut(&NodeEval),
) -> std::result::Result<NodeOutcome, NodeFailure> {
    let n = comm.size();
    let rank = comm.rank();
    if n != spec.nodes {
        return Err(NodeFailure::Engine(
            format!("{} processes run a spec for {} nodes", n, spec.nodes),
            true,
        ));
    }
    let mix = spec.mixing()?;
    let (d, m, b) = (spec.dim, shard.samples(), spec.batch);
    let mut rng = spec.batch_rng();
    let mut sched = NodeSchedule::new(
        spec.algorithm,
        spec.period,
        spec.aga_max_period,
        mix.rounds.len(),
    );
    let mut stats = NodeStats::default();
    let mut evals = Vec::new();
    let mut x = vec![0f32; d];
    let mut idx = vec![0usize; b];
    let mut recv: Vec<Vec<f32>> = Vec::new();
    let mut mean_model = Vec::new();
    for k in 0..spec.steps as u64 {
        let step = k + 1;
        let t0 = Instant::now();
        // The whole stream, in the simulator's order (node by node); this node keeps its own.
        for i in 0..n {
            for slot in idx.iter_mut() {
                let v = rng.below(m);
                if i == rank {
                    *slot = v;
                }
            }
        }
        let mut y = shard.local_step(&x, &idx, spec.lr_at(k))?;
        before_send(step, &mut y);
        if let Some(j) = y.iter().position(|v| !v.is_finite()) {
            return Err(NodeFailure::NonFinite {
                step,
                detail: format!(
                    "parameter {j} of the local update is {} (its parameters before the update \
                     were {})",
                    y[j],
                    if x.iter().all(|v| v.is_finite()) {
                        "finite"
                    } else {
                        "not finite"
                    }
                ),
            });
        }
        let t1 = Instant::now();
        match sched.next() {
            Combine::Global => {
                comm.all_reduce_sum(&mut y);
                let inv = 1.0 / n as f32;
                for v in &mut y {
                    *v *= inv;
                }
                stats.messages += 2.0 * (n as f64 - 1.0);
                stats.bytes_sent += 2.0 * (n as f64 - 1.0) / n as f64 * d as f64 * 4.0;
                stats.global_averages += 1;
                x = y;
            }
            Combine::Gossip { round } => {
                let w = &mix.rounds[round];
                let from: Vec<usize> = (0..n)
                    .filter(|&j| j != rank && w[rank * n + j] != 0.0)
                    .collect();
                let to: Vec<usize> = (0..n)
                    .filter(|&j| j != rank && w[j * n + rank] != 0.0)
                    .collect();
                recv.resize_with(from.len(), Vec::new);
                for r in &mut recv {
                    r.resize(d, 0.0);
                }
                comm.exchange(&y, &to, &from, &mut recv[..from.len()], (k % 32_768) as u16);
                // Σ_j W_ij y_j with the simulator's f32 weights, accumulated in f64.
                let wii = f64::from(w[rank * n + rank] as f32);
                let mut acc: Vec<f64> = y.iter().map(|&v| wii * f64::from(v)).collect();
                for (&j, r) in from.iter().zip(&recv) {
                    let wij = f64::from(w[rank * n + j] as f32);
                    for (a, &v) in acc.iter_mut().zip(r) {
                        *a += wij * f64::from(v);
                    }
                }
                stats.messages += to.len() as f64;
                stats.bytes_sent += (to.len() * d * 4) as f64;
                x = acc.into_iter().map(|v| v as f32).collect();
            }
            Combine::Local => x = y,
        }
        sched.advance();
        let t2 = Instant::now();
        stats.compute_seconds += (t1 - t0).as_secs_f64();
        stats.comm_seconds += (t2 - t1).as_secs_f64();
        stats.steps = step;
        if spec.evaluates(step) {
            let mut xbar = x.clone();
            comm.all_reduce_sum(&mut xbar);
            for v in &mut xbar {
                *v /= n as f32;
            }
            let (loss, g) = shard.full_loss_grad(&xbar)?;
            let cons: f64 = x
                .iter()
                .zip(&xbar)
                .map(|(&a, &b)| f64::from(a - b).powi(2))
                .sum();
            let mut buf = g;
            buf.push(loss as f32);
            buf.push(cons as f32);
            comm.all_reduce_sum(&mut buf);
            let gn = buf[..d]
                .iter()
                .map(|&v| (f64::from(v) / n as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let e = NodeEval {
                step,
                lr: spec.lr_at(k),
                loss: f64::from(buf[d]) / n as f64,
                grad_norm: gn,
                consensus: f64::from(buf[d + 1]) / n as f64,
            };
            sched.observe_loss(e.loss);
            after_eval(&e);
            evals.push(e);
            mean_model = xbar;
            stats.eval_seconds += t2.elapsed().as_secs_f64();
        }
    }
    Ok(NodeOutcome {
        evals,
        mean_model,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::gossip::{LogisticProblem, Mixer, matrix_tensor};

    #[test]
    fn shards_are_the_simulators_data() {
        let dev = Device::flex();
        let (n, m, d) = (4, 12, 5);
        let p = LogisticProblem::generate(n, m, d, 3.0, 0.05, 17, &dev);
        let x0: Vec<f64> = (0..n * d).map(|i| (i as f64 * 0.7).sin()).collect();
        let (g, _) = p.full_grad(matrix_tensor(&x0, n, d, &dev));
        let g = read(g).unwrap();
        for i in 0..n {
            let s = LogisticShard::generate(n, i, m, d, 3.0, 0.05, 17, &dev);
            s.check().unwrap();
            let xi: Vec<f32> = x0[i * d..(i + 1) * d].iter().map(|&v| v as f32).collect();
            let (_, gi) = s.full_loss_grad(&xi).unwrap();
            for j in 0..d {
                assert!(
                    (gi[j] - g[i * d + j]).abs() < 1e-5,
                    "node {i} coordinate {j}: {} vs {}",
                    gi[j],
                    g[i * d + j]
                );
            }
        }
    }

    #[test]
    fn schedule_matches_the_mixer() {
        let dev = Device::flex();
        let mix = MixingMatrix::build(
            &TopologyConfig::OnePeerExponential,
            WeightScheme::Uniform,
            8,
            "t",
        )
        .unwrap();
        for a in Algorithm::ALL {
            let mut mixer = Mixer::new(a, &mix, 3, 40, 1, &dev).unwrap();
            let mut s = NodeSchedule::new(a, 3, 40, mix.rounds.len());
            for k in 0..200u64 {
                let global = s.next() == Combine::Global;
                assert_eq!(global, mixer.is_global_step(), "{a:?} step {k}");
                let x = matrix_tensor(&[0.0; 8], 8, 1, &dev);
                let _ = mixer.mix(vec![x]);
                s.advance();
                // A falling loss, so Gossip-AGA's period grows.
                let loss = 1.0 / (1.0 + k as f64);
                if k % 5 == 0 {
                    mixer.observe_loss(loss);
                    s.observe_loss(loss);
                }
                assert_eq!(s.current_period(), mixer.current_period(), "{a:?} step {k}");
            }
        }
    }

    #[test]
    fn bad_shards_name_the_sample() {
        let dev = Device::flex();
        let mut f = vec![0.5f32; 6];
        f[4] = f32::NAN;
        let s = LogisticShard::from_data(0, f, vec![0.0, 1.0, 1.0], 3, 2, 0.1, &dev);
        let e = s.check().unwrap_err();
        assert!(e.contains("feature 0 of sample 2 is NaN"), "{e}");
    }
}
