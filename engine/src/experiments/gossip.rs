//! Gossip SGD with periodic global averaging (Chen, Yuan, Zhang, Pan, Xu, Yin, "Accelerating
//! Gossip SGD with Periodic Global Averaging", ICML 2021).
//!
//! Gossip SGD's error carries a term that grows with 1/(1 − β), β = ‖W − 11ᵀ/n‖₂; Gossip-PGA adds
//! an exact average every H steps, which caps that term by H. The paper's transient stage (steps
//! before the method matches parallel SGD) is Ω(β⁴n³/(1−β)⁴) for Gossip SGD, Ω(β⁴n³H⁴) for
//! Gossip-PGA and Ω(n³H⁴) for Local SGD (Table 1, non-convex). This experiment runs all five
//! algorithms of [`crate::optim::gossip`] on a heterogeneous logistic-regression problem (§7.1),
//! measures the transient stage as n and H change, and trains an MLP on MNIST-10k split across
//! nodes by label.
//!
//! The transient is measured on expected errors: each logistic run carries `seeds` independent
//! mini-batch streams as column blocks of one (n × seeds·d) tensor (the same streams for every
//! algorithm), and the seed-mean ‖x̄ − x*‖², smoothed over a trailing fraction of k, is compared
//! with parallel SGD's ([`transient_stage`]). With the 1/k step size every method's extra error
//! decays faster than parallel SGD's, so the ratio tends to 1 and the threshold is well posed.

use super::{Claim, Experiment, Preset, Progress, Registered, RunRequest, Verdict, to_json_value};
use crate::data::mnist10k;
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::optim::gossip::{
    Algorithm, BatchedMlp, LogisticProblem, Mixer, MixingMatrix, TopologyConfig, WeightScheme,
    consensus_distance,
};
use crate::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, SeriesStyle,
    fmt_f64,
};
use crate::rng::{SplitMix64, derive_seed};
use burn::config::Config;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The logistic-regression problem and its SGD settings.
#[derive(Config, Debug, PartialEq)]
pub struct GossipLogisticConfig {
    /// Samples held by each node.
    #[config(default = 64)]
    pub samples_per_node: usize,
    /// Features d.
    #[config(default = 20)]
    pub dim: usize,
    /// How different the nodes' ground-truth vectors are (standard deviation of the offsets).
    #[config(default = 8.0)]
    pub heterogeneity: f64,
    /// L2 regularization (strong convexity).
    #[config(default = 0.05)]
    pub reg: f64,
    /// Mini-batch per node per step.
    #[config(default = 16)]
    pub batch: usize,
    /// Initial step size γ₀.
    #[config(default = 0.5)]
    pub lr: f64,
    /// Step size γ_k = γ₀ · k₀/(k₀ + k) with this k₀ (the decay lets the heterogeneity bias
    /// vanish, so every method eventually matches parallel SGD).
    #[config(default = 100.0)]
    pub lr_decay_steps: f64,
    /// Steps per run: the horizon within which a transient must end.
    #[config(default = 8000)]
    pub steps: usize,
    /// Loss and gradient norm at x̄ are computed every this many steps.
    #[config(default = 10)]
    pub eval_every: usize,
}

/// The MLP-on-MNIST part.
#[derive(Config, Debug, PartialEq)]
pub struct GossipMnistConfig {
    /// Nodes.
    #[config(default = 8)]
    pub nodes: usize,
    /// Training images (from the front of MNIST-10k); the last 2,000 are the test set.
    #[config(default = 8000)]
    pub train_size: usize,
    /// Fraction of each class sent to its home node (class mod n); the rest is spread uniformly.
    #[config(default = 0.8)]
    pub label_skew: f64,
    /// Hidden units.
    #[config(default = 64)]
    pub hidden: usize,
    /// Mini-batch per node per step.
    #[config(default = 32)]
    pub batch: usize,
    /// Step size (constant).
    #[config(default = 0.1)]
    pub lr: f64,
    /// Steps per algorithm.
    #[config(default = 600)]
    pub steps: usize,
    /// Evaluate x̄ every this many steps.
    #[config(default = 25)]
    pub eval_every: usize,
    /// Training images used for the loss and gradient norm at x̄.
    #[config(default = 2000)]
    pub eval_size: usize,
}

/// The full configuration of the gossip experiment.
#[derive(Config, Debug, PartialEq)]
pub struct GossipConfig {
    /// Seed of data, sampling and initial weights.
    #[config(default = 0)]
    pub seed: u64,
    /// Independent mini-batch streams (replicas) of every logistic-regression run. Their error
    /// curves are averaged before the transient stage is taken, so that the transient measures
    /// the expected error the theory bounds rather than one noisy trajectory.
    #[config(default = 16)]
    pub seeds: usize,
    /// The communication graph.
    #[config(default = "TopologyConfig::Ring")]
    pub topology: TopologyConfig,
    /// Edge weights of the mixing matrix.
    #[config(default = "WeightScheme::Uniform")]
    pub weights: WeightScheme,
    /// Nodes of the main logistic-regression run (loss curves, consensus).
    #[config(default = 32)]
    pub nodes: usize,
    /// Averaging period H of Local SGD and Gossip-PGA (and Gossip-AGA's first period).
    #[config(default = 16)]
    pub period: usize,
    /// Largest period Gossip-AGA may adapt to.
    #[config(default = 128)]
    pub aga_max_period: usize,
    /// Node counts of the transient-stage sweep (at period H).
    #[config(default = "vec![8, 16, 32, 64, 128]")]
    pub node_sweep: Vec<usize>,
    /// Periods of the transient-stage sweep (at `nodes` nodes).
    #[config(default = "vec![4, 8, 16, 32]")]
    pub period_sweep: Vec<usize>,
    /// The transient stage ends at the first step after which a method's error stays within this
    /// factor of parallel SGD's.
    #[config(default = 1.1)]
    pub transient_factor: f64,
    /// Before the transient is taken, the error at step k is replaced by its mean over the
    /// trailing window [(1 − w)k, k] with this w: a fixed fraction of k, because the SGD
    /// error at step k is correlated over a number of steps proportional to k (γ_k ∝ 1/k).
    #[config(default = 0.25)]
    pub smoothing_window: f64,
    /// The logistic-regression problem.
    #[config(default = "GossipLogisticConfig::new()")]
    pub logistic: GossipLogisticConfig,
    /// The MLP on MNIST-10k (`null` to skip).
    #[config(default = "Some(GossipMnistConfig::new())")]
    pub mnist: Option<GossipMnistConfig>,
    /// Simulation steps per `step()` call.
    #[config(default = 200)]
    pub iterations_per_step: usize,
}

impl GossipConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_seeds(8)
                .with_nodes(16)
                .with_period(8)
                .with_node_sweep(vec![8, 16, 32])
                .with_period_sweep(vec![4, 8, 16])
                .with_logistic(GossipLogisticConfig::new().with_steps(1500))
                .with_mnist(Some(
                    GossipMnistConfig::new()
                        .with_train_size(2000)
                        .with_steps(100)
                        .with_hidden(32)
                        .with_eval_every(20)
                        .with_eval_size(500),
                )),
        }
    }

    /// Checks every field (including the topology for every node count used); errors name it.
    pub fn validate(&self) -> Result<()> {
        let l = &self.logistic;
        let range = |field: &str, v: usize, lo: usize, hi: usize| -> Result<()> {
            if v < lo || v > hi {
                return Err(EngineError::config(
                    field,
                    format!("expected {lo} to {hi}, found {v}"),
                ));
            }
            Ok(())
        };
        range("nodes", self.nodes, 2, 1024)?;
        range("seeds", self.seeds, 1, 256)?;
        if self.period < 1 {
            return Err(EngineError::config(
                "period",
                "expected an averaging period H >= 1, found 0",
            ));
        }
        range("period", self.period, 1, 100_000)?;
        range(
            "aga_max_period",
            self.aga_max_period,
            self.period,
            1_000_000,
        )?;
        for (i, &n) in self.node_sweep.iter().enumerate() {
            range(&format!("node_sweep[{i}]"), n, 2, 1024)?;
        }
        for (i, &h) in self.period_sweep.iter().enumerate() {
            range(&format!("period_sweep[{i}]"), h, 1, 100_000)?;
        }
        if !(self.smoothing_window.is_finite() && (0.0..1.0).contains(&self.smoothing_window)) {
            return Err(EngineError::config(
                "smoothing_window",
                format!(
                    "expected a fraction in [0, 1), found {}",
                    self.smoothing_window
                ),
            ));
        }
        if !(self.transient_factor.is_finite() && self.transient_factor > 1.0) {
            return Err(EngineError::config(
                "transient_factor",
                format!("expected a factor > 1, found {}", self.transient_factor),
            ));
        }
        range(
            "logistic.samples_per_node",
            l.samples_per_node,
            1,
            1_000_000,
        )?;
        range("logistic.dim", l.dim, 1, 1_000_000)?;
        range("logistic.batch", l.batch, 1, l.samples_per_node)?;
        range("logistic.steps", l.steps, 1, 10_000_000)?;
        range("logistic.eval_every", l.eval_every, 1, 1_000_000)?;
        range(
            "iterations_per_step",
            self.iterations_per_step,
            1,
            1_000_000,
        )?;
        for (name, v, ok) in [
            ("logistic.lr", l.lr, l.lr > 0.0 && l.lr <= 100.0),
            ("logistic.reg", l.reg, l.reg >= 0.0),
            (
                "logistic.heterogeneity",
                l.heterogeneity,
                l.heterogeneity >= 0.0,
            ),
            (
                "logistic.lr_decay_steps",
                l.lr_decay_steps,
                l.lr_decay_steps > 0.0,
            ),
        ] {
            if !(v.is_finite() && ok) {
                return Err(EngineError::config(
                    name,
                    format!("expected a positive finite value (≤ 100 for lr), found {v}"),
                ));
            }
        }
        let mut counts: Vec<usize> = self.node_sweep.clone();
        counts.push(self.nodes);
        if let Some(m) = &self.mnist {
            range("mnist.nodes", m.nodes, 2, 1024)?;
            range("mnist.train_size", m.train_size, 1, 8000)?;
            if m.nodes > m.train_size {
                return Err(EngineError::config(
                    "mnist.nodes",
                    format!(
                        "more nodes ({}) than training samples ({}): every node needs data",
                        m.nodes, m.train_size
                    ),
                ));
            }
            range("mnist.hidden", m.hidden, 1, 4096)?;
            range("mnist.batch", m.batch, 1, 4096)?;
            range("mnist.steps", m.steps, 1, 1_000_000)?;
            range("mnist.eval_every", m.eval_every, 1, 1_000_000)?;
            range("mnist.eval_size", m.eval_size, 1, m.train_size)?;
            if !(m.lr.is_finite() && m.lr > 0.0 && m.lr <= 100.0) {
                return Err(EngineError::config(
                    "mnist.lr",
                    format!("expected a learning rate in (0, 100], found {}", m.lr),
                ));
            }
            if !(0.0..=1.0).contains(&m.label_skew) {
                return Err(EngineError::config(
                    "mnist.label_skew",
                    format!("expected a fraction in [0, 1], found {}", m.label_skew),
                ));
            }
            counts.push(m.nodes);
        }
        counts.sort_unstable();
        counts.dedup();
        for n in counts {
            MixingMatrix::build(&self.topology, self.weights, n, "topology")?;
        }
        Ok(())
    }
}

/// Summary of one simulated run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipRunSummary {
    /// `logistic` or `mnist`.
    pub problem: String,
    /// Algorithm name.
    pub algorithm: String,
    /// Nodes.
    pub nodes: usize,
    /// Averaging period H (as configured; Gossip-AGA adapts from it).
    pub period: usize,
    /// Steps run.
    pub steps: u64,
    /// Loss at x̄ at the end.
    pub final_loss: f64,
    /// ‖∇f(x̄)‖ at the end.
    pub final_grad_norm: f64,
    /// ‖x̄ − x*‖² at the end (logistic only).
    pub final_error: f64,
    /// Mean consensus distance over the run.
    pub mean_consensus: f64,
    /// Test accuracy of x̄ at the end (MNIST only).
    pub test_accuracy: f64,
    /// Messages sent per node per step.
    pub messages_per_node_step: f64,
    /// Bytes sent per node per step.
    pub bytes_per_node_step: f64,
    /// Exact global averages done.
    pub global_averages: u64,
    /// Transient stage in steps (logistic; `null` when parallel SGD was not matched in time),
    /// measured on the seed-mean error curves.
    pub transient: Option<u64>,
    /// The transient measured on the even-numbered and on the odd-numbered seeds alone (empty
    /// with one seed): how far apart they are shows how much seed noise is left in `transient`.
    pub transient_halves: Vec<Option<u64>>,
    /// Smoothed seed-mean error over parallel SGD's at the last step (logistic; 1 = matched).
    pub final_ratio_to_parallel: f64,
}

/// β of a topology for one node count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BetaEntry {
    /// Topology name.
    pub topology: String,
    /// Nodes.
    pub nodes: usize,
    /// β = ‖W − 11ᵀ/n‖₂ (per-round rate for time-varying graphs).
    pub beta: f64,
    /// Messages per node per gossip round.
    pub messages_per_round: f64,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipResults {
    /// Always `gossip`.
    pub experiment: String,
    /// `complete`, `running` or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// The configured topology.
    pub topology: String,
    /// β of the configured topology and weights at every node count used.
    pub beta: Vec<BetaEntry>,
    /// β of every built-in topology (uniform weights) for n in the node sweep.
    pub beta_table: Vec<BetaEntry>,
    /// Every run, in the order run.
    pub runs: Vec<GossipRunSummary>,
    /// Transient stage vs n at period H: algorithm → [(n, steps or null)].
    pub transient_vs_nodes: BTreeMap<String, Vec<(usize, Option<u64>)>>,
    /// Transient stage vs H at `nodes` nodes: algorithm → [(H, steps or null)].
    pub transient_vs_period: BTreeMap<String, Vec<(usize, Option<u64>)>>,
    /// The paper's signature, as measured (`null` until the sweeps have run).
    pub signature: Option<GossipSignature>,
}

/// The claims the experiment checks, on transients measured from seed-mean error curves.
///
/// Transients are floored at the averaging period H of their sweep before they are compared:
/// Gossip-PGA's first global average is at step H, so shorter transients say only "within the
/// band from the start". A transient beyond the horizon counts as ∞ (`null` in JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipSignature {
    /// Gossip SGD's transient at the largest n over that at the smallest (∞ if not reached).
    pub gossip_growth: f64,
    /// Gossip-PGA's, likewise.
    pub pga_growth: f64,
    /// Gossip SGD's growth over the node sweep is at least [`GOSSIP_GROWTH_MIN`]×.
    pub gossip_grows_fast: bool,
    /// Gossip-PGA matched parallel SGD within the horizon at every n of the sweep.
    pub pga_matched_at_every_n: bool,
    /// At every n, Gossip-PGA's transient is at most [`SEED_NOISE_MARGIN`]× Gossip SGD's.
    pub pga_not_worse_than_gossip: bool,
    /// At every H of the period sweep, Local SGD's transient is at least Gossip-PGA's.
    pub local_not_better_than_pga: bool,
}

/// The growth of Gossip SGD's transient over the node sweep that counts as "fast".
pub const GOSSIP_GROWTH_MIN: f64 = 10.0;

/// Slack for comparisons of nearly equal transients: on a well-connected graph (β small,
/// 1/(1 − β) < H) Gossip SGD and Gossip-PGA are nearly the same algorithm, and the transients of
/// two halves of the seeds differ by up to about this factor.
pub const SEED_NOISE_MARGIN: f64 = 1.25;

/// A transient sweep: algorithm → [(n or H, steps or `None` beyond the horizon)].
pub type TransientSweep = BTreeMap<String, Vec<(usize, Option<u64>)>>;

/// The signature from the node sweep (at period `period`) and the period sweep; `None` until
/// both sweeps are complete for Gossip SGD, Local SGD and Gossip-PGA.
pub fn signature_of(
    by_nodes: &TransientSweep,
    by_period: &TransientSweep,
    node_sweep: &[usize],
    period_sweep: &[usize],
    period: usize,
) -> Option<GossipSignature> {
    let floored = |t: Option<u64>, h: usize| t.map_or(f64::INFINITY, |v| v.max(h as u64) as f64);
    let full = |sweep: &TransientSweep, name: &str, len: usize| {
        sweep
            .get(name)
            .filter(|v| v.len() == len && len >= 1)
            .cloned()
    };
    let g = full(by_nodes, "gossip-sgd", node_sweep.len())?;
    let p = full(by_nodes, "gossip-pga", node_sweep.len())?;
    let l_h = full(by_period, "local-sgd", period_sweep.len())?;
    let p_h = full(by_period, "gossip-pga", period_sweep.len())?;
    let growth = |v: &[(usize, Option<u64>)]| -> f64 {
        match (v.first(), v.last()) {
            (Some(a), Some(b)) => floored(b.1, period) / floored(a.1, period),
            _ => f64::NAN,
        }
    };
    let gossip_growth = growth(&g);
    Some(GossipSignature {
        gossip_growth,
        pga_growth: growth(&p),
        gossip_grows_fast: node_sweep.len() >= 2 && gossip_growth >= GOSSIP_GROWTH_MIN,
        pga_matched_at_every_n: p.iter().all(|x| x.1.is_some()),
        pga_not_worse_than_gossip: g
            .iter()
            .zip(&p)
            .all(|(g, p)| floored(p.1, period) <= SEED_NOISE_MARGIN * floored(g.1, period)),
        local_not_better_than_pga: l_h
            .iter()
            .zip(&p_h)
            .all(|(l, p)| floored(l.1, l.0) >= floored(p.1, p.0)),
    })
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RunKey {
    mnist: bool,
    nodes: usize,
    period: usize,
    algorithm: Algorithm,
}

#[derive(Clone, Debug)]
struct Row {
    key: RunKey,
    step: u64,
    lr: f64,
    loss: f64,
    grad_norm: f64,
    consensus: f64,
    error: f64,
    test_accuracy: f64,
    messages: f64,
    bytes: f64,
}

struct LogisticRun {
    key: RunKey,
    /// Nodes × (replicas · d): replica r in columns r·d..(r+1)·d.
    x: Tensor<2>,
    mixer: Mixer,
    rngs: Vec<SplitMix64>,
    /// ‖x̄_r − x*‖² per step, replica by replica (step-major: R values per step).
    errors: Vec<f64>,
    /// Consensus distance per step, mean over replicas.
    consensus: Vec<f64>,
    last_loss: f64,
    last_grad_norm: f64,
}

struct MnistData {
    train_x: Tensor<2>,
    train_y: Vec<u32>,
    node_indices: Vec<Vec<usize>>,
    eval_x: Tensor<3>,
    eval_t: Tensor<3>,
    test_x: Tensor<3>,
    test_y: Vec<u32>,
}

struct MnistRun {
    key: RunKey,
    model: BatchedMlp,
    mixer: Mixer,
    rng: SplitMix64,
    consensus_sum: f64,
    last_loss: f64,
    last_grad_norm: f64,
    last_acc: f64,
}

enum Active {
    Logistic(Box<LogisticRun>),
    Mnist(Box<MnistRun>),
}

/// The experiment's state machine.
pub struct Gossip {
    config: GossipConfig,
    device: ComputeDevice,
    jobs: Vec<RunKey>,
    next_job: usize,
    active: Option<Active>,
    problems: BTreeMap<usize, (LogisticProblem, Tensor<2>)>,
    mnist: Option<MnistData>,
    /// Seed-mean error curves ‖x̄ − x*‖², smoothed.
    curves: BTreeMap<RunKey, Vec<f64>>,
    /// The same from the even and from the odd replicas, for the transient's spread.
    half_curves: BTreeMap<RunKey, [Vec<f64>; 2]>,
    consensus_curves: BTreeMap<RunKey, Vec<f64>>,
    rows: Vec<Row>,
    results: GossipResults,
    iterations_done: u64,
}

fn one_hot3(labels: &[u32], n: usize, b: usize, device: &Device) -> Tensor<3> {
    let mut v = vec![0.0f32; labels.len() * 10];
    for (i, &l) in labels.iter().enumerate() {
        v[i * 10 + l as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [n, b, 10]), device)
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

impl Gossip {
    /// Prepares the runs (data are generated or loaded lazily). Fails on an invalid config.
    pub fn new(config: GossipConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let h = config.period;
        let mut jobs = Vec::new();
        for &n in &config.node_sweep {
            for a in Algorithm::ALL {
                jobs.push(RunKey {
                    mnist: false,
                    nodes: n,
                    period: h,
                    algorithm: a,
                });
            }
        }
        let main_n = config.nodes;
        for a in [Algorithm::ParallelSgd, Algorithm::GossipSgd] {
            jobs.push(RunKey {
                mnist: false,
                nodes: main_n,
                period: h,
                algorithm: a,
            });
        }
        for &p in config.period_sweep.iter().chain(std::iter::once(&h)) {
            for a in [
                Algorithm::LocalSgd,
                Algorithm::GossipPga,
                Algorithm::GossipAga,
            ] {
                jobs.push(RunKey {
                    mnist: false,
                    nodes: main_n,
                    period: p,
                    algorithm: a,
                });
            }
        }
        if let Some(m) = &config.mnist {
            for a in Algorithm::ALL {
                jobs.push(RunKey {
                    mnist: true,
                    nodes: m.nodes,
                    period: h,
                    algorithm: a,
                });
            }
        }
        // Dedupe while keeping order (parallel SGD first at each n, so transients can be taken).
        let mut seen = std::collections::BTreeSet::new();
        jobs.retain(|k| seen.insert(k.clone()));
        let mut counts: Vec<usize> = config.node_sweep.clone();
        counts.push(main_n);
        if let Some(m) = &config.mnist {
            counts.push(m.nodes);
        }
        counts.sort_unstable();
        counts.dedup();
        let mut beta = Vec::new();
        for &n in &counts {
            let m = MixingMatrix::build(&config.topology, config.weights, n, "topology")?;
            beta.push(BetaEntry {
                topology: config.topology.name().into(),
                nodes: n,
                beta: m.beta(),
                messages_per_round: m.mean_messages(),
            });
        }
        let mut beta_table = Vec::new();
        for t in [
            TopologyConfig::Ring,
            TopologyConfig::Torus,
            TopologyConfig::Exponential,
            TopologyConfig::OnePeerExponential,
            TopologyConfig::Star,
            TopologyConfig::Complete,
        ] {
            for &n in &counts {
                if let Ok(m) = MixingMatrix::build(&t, WeightScheme::Uniform, n, "topology") {
                    beta_table.push(BetaEntry {
                        topology: t.name().into(),
                        nodes: n,
                        beta: m.beta(),
                        messages_per_round: m.mean_messages(),
                    });
                }
            }
        }
        let results = GossipResults {
            experiment: "gossip".into(),
            status: "running".into(),
            device: device.info.clone(),
            topology: format!("{} ({:?} weights)", config.topology.name(), config.weights),
            beta,
            beta_table,
            ..Default::default()
        };
        Ok(Self {
            config,
            device,
            jobs,
            next_job: 0,
            active: None,
            problems: BTreeMap::new(),
            mnist: None,
            curves: BTreeMap::new(),
            half_curves: BTreeMap::new(),
            consensus_curves: BTreeMap::new(),
            rows: Vec::new(),
            results,
            iterations_done: 0,
        })
    }

    /// The typed summary so far.
    pub fn results(&self) -> &GossipResults {
        &self.results
    }

    fn job_len(&self, k: &RunKey) -> u64 {
        match (&self.config.mnist, k.mnist) {
            (Some(m), true) => m.steps as u64,
            _ => self.config.logistic.steps as u64,
        }
    }

    fn mixer(&self, k: &RunKey, params: usize) -> Result<Mixer> {
        let mix = MixingMatrix::build(
            &self.config.topology,
            self.config.weights,
            k.nodes,
            "topology",
        )?;
        Mixer::new(
            k.algorithm,
            &mix,
            k.period,
            self.config.aga_max_period.max(k.period),
            params,
            &self.device.device,
        )
    }

    fn start(&mut self, k: RunKey) -> Result<Active> {
        let dev = self.device.device.clone();
        let seed = self.config.seed;
        if k.mnist {
            self.load_mnist()?;
            let m = self.config.mnist.as_ref().ok_or_else(|| {
                EngineError::config("mnist", "internal: MNIST job without MNIST config")
            })?;
            let model = BatchedMlp::init(k.nodes, 784, m.hidden, 10, seed, &dev);
            let mixer = self.mixer(&k, model.params_per_node())?;
            return Ok(Active::Mnist(Box::new(MnistRun {
                model,
                mixer,
                rng: SplitMix64::for_purpose(seed, "gossip mnist batches"),
                key: k,
                consensus_sum: 0.0,
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                last_acc: f64::NAN,
            })));
        }
        let l = &self.config.logistic;
        if let std::collections::btree_map::Entry::Vacant(slot) = self.problems.entry(k.nodes) {
            let p = LogisticProblem::generate(
                k.nodes,
                l.samples_per_node,
                l.dim,
                l.heterogeneity,
                l.reg,
                derive_seed(seed, &format!("logistic n={}", k.nodes)),
                &dev,
            );
            let xs = p.solve(20_000, 1e-6);
            slot.insert((p, xs));
        }
        let mixer = self.mixer(&k, l.dim)?;
        // The same sample streams for every algorithm at a given n (common random numbers), so
        // the ratio of two algorithms' errors is not swamped by sampling noise. Replica 0 keeps
        // the single-stream name, so `seeds = 1` reproduces a one-seed run.
        let rngs = (0..self.config.seeds)
            .map(|r| {
                let purpose = if r == 0 {
                    format!("gossip batches n={}", k.nodes)
                } else {
                    format!("gossip batches n={} replica {r}", k.nodes)
                };
                SplitMix64::for_purpose(seed, &purpose)
            })
            .collect();
        Ok(Active::Logistic(Box::new(LogisticRun {
            x: Tensor::zeros([k.nodes, self.config.seeds * l.dim], &dev),
            mixer,
            rngs,
            key: k,
            errors: Vec::new(),
            consensus: Vec::new(),
            last_loss: f64::NAN,
            last_grad_norm: f64::NAN,
        })))
    }

    fn load_mnist(&mut self) -> Result<()> {
        if self.mnist.is_some() {
            return Ok(());
        }
        let Some(m) = &self.config.mnist else {
            return Ok(());
        };
        let dev = &self.device.device;
        let full = mnist10k()?;
        let standardize = |v: f32| (v - 0.1307) / 0.3081;
        let train: Vec<f32> = full.features[..m.train_size * 784]
            .iter()
            .map(|&v| standardize(v))
            .collect();
        let train_y = full.labels[..m.train_size].to_vec();
        let mut rng = SplitMix64::for_purpose(self.config.seed, "gossip mnist split");
        let mut node_indices = vec![Vec::new(); m.nodes];
        for (i, &y) in train_y.iter().enumerate() {
            let node = if rng.next_f64() < m.label_skew {
                y as usize % m.nodes
            } else {
                rng.below(m.nodes)
            };
            node_indices[node].push(i);
        }
        // A node left without data (possible with few samples) takes one from the largest node.
        for i in 0..m.nodes {
            if node_indices[i].is_empty() {
                let big = (0..m.nodes)
                    .max_by_key(|&j| node_indices[j].len())
                    .unwrap_or(0);
                if let Some(s) = node_indices[big].pop() {
                    node_indices[i].push(s);
                }
            }
        }
        let e = m.eval_size;
        let eval_x: Tensor<3> =
            Tensor::from_data(TensorData::new(train[..e * 784].to_vec(), [1, e, 784]), dev);
        let eval_t = one_hot3(&train_y[..e], 1, e, dev);
        let test_n = 2000;
        let start = full.len() - test_n;
        let test: Vec<f32> = full.features[start * 784..]
            .iter()
            .map(|&v| standardize(v))
            .collect();
        let test_x = Tensor::from_data(TensorData::new(test, [1, test_n, 784]), dev);
        self.mnist = Some(MnistData {
            train_x: Tensor::from_data(TensorData::new(train, [m.train_size, 784]), dev),
            train_y,
            node_indices,
            eval_x,
            eval_t,
            test_x,
            test_y: full.labels[start..].to_vec(),
        });
        Ok(())
    }

    /// Runs up to `budget` steps of a logistic run; returns whether it finished.
    fn advance_logistic(&mut self, run: &mut LogisticRun, budget: usize) -> Result<bool> {
        let l = &self.config.logistic;
        let total = l.steps as u64;
        let Some((p, xs)) = self.problems.get(&run.key.nodes) else {
            return Err(EngineError::config("nodes", "internal: problem missing"));
        };
        let n = run.key.nodes;
        let replicas = run.rngs.len();
        for _ in 0..budget {
            let k = run.mixer.steps();
            if k >= total {
                return Ok(true);
            }
            let lr = l.lr * l.lr_decay_steps / (l.lr_decay_steps + k as f64);
            let g = p.stochastic_grad_replicas(run.x.clone(), l.batch, &mut run.rngs);
            let y = run.x.clone() - g.mul_scalar(lr);
            run.x = run.mixer.mix(vec![y]).remove(0);
            let errs = p.errors_replicas(run.x.clone(), xs.clone(), replicas);
            // Summed over the replicas' columns; divided by R below.
            let cons = consensus_distance(run.x.clone());
            let all: Vec<f32> = Tensor::cat(vec![errs, cons], 0)
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EngineError::Device(format!("reading metrics back: {e:?}")))?;
            let cons = f64::from(all[replicas]) / replicas as f64;
            let err = all[..replicas].iter().map(|&e| f64::from(e)).sum::<f64>() / replicas as f64;
            let step = k + 1;
            if !err.is_finite() {
                return Err(EngineError::Diverged {
                    step,
                    phase: format!("logistic {} n={}", run.key.algorithm.name(), n),
                    loss: err,
                });
            }
            run.errors
                .extend(all[..replicas].iter().map(|&e| f64::from(e)));
            run.consensus.push(cons);
            let evaluate = step.is_multiple_of(l.eval_every as u64) || step == total;
            if evaluate {
                let (loss, gn) = p.at_average_replicas(run.x.clone(), replicas);
                run.last_loss = scalar(loss);
                run.last_grad_norm = scalar(gn).sqrt();
                run.mixer.observe_loss(run.last_loss);
                let steps = step as f64;
                self.rows.push(Row {
                    key: run.key.clone(),
                    step,
                    lr,
                    loss: run.last_loss,
                    grad_norm: run.last_grad_norm,
                    consensus: cons,
                    error: err,
                    test_accuracy: f64::NAN,
                    messages: run.mixer.messages / steps,
                    bytes: run.mixer.bytes / steps,
                });
            }
            self.iterations_done += 1;
        }
        Ok(run.mixer.steps() >= total)
    }

    fn advance_mnist(&mut self, run: &mut MnistRun, budget: usize) -> Result<bool> {
        let (Some(m), Some(data)) = (&self.config.mnist, &self.mnist) else {
            return Err(EngineError::config("mnist", "internal: MNIST data missing"));
        };
        let dev = &self.device.device;
        let total = m.steps as u64;
        let n = run.key.nodes;
        for _ in 0..budget {
            let k = run.mixer.steps();
            if k >= total {
                return Ok(true);
            }
            let mut idx = Vec::with_capacity(n * m.batch);
            let mut ys = Vec::with_capacity(n * m.batch);
            for node in &data.node_indices {
                for _ in 0..m.batch {
                    let i = node[run.rng.below(node.len())];
                    idx.push(i as i64);
                    ys.push(data.train_y[i]);
                }
            }
            let idx = Tensor::from_data(TensorData::new(idx, [n * m.batch]), dev);
            let x = data
                .train_x
                .clone()
                .select(0, idx)
                .reshape([n, m.batch, 784]);
            let t = one_hot3(&ys, n, m.batch, dev);
            let (grads, loss) = run.model.grads(x, t);
            let loss = scalar(loss) / n as f64;
            if !loss.is_finite() {
                return Err(EngineError::Diverged {
                    step: k,
                    phase: format!("mnist {} n={n}", run.key.algorithm.name()),
                    loss,
                });
            }
            let ys: Vec<Tensor<2>> = run
                .model
                .params
                .iter()
                .zip(grads)
                .map(|(p, g)| p.clone() - g.mul_scalar(m.lr))
                .collect();
            run.model.params = run.mixer.mix(ys);
            let cons: f64 = run
                .model
                .params
                .iter()
                .map(|p| scalar(consensus_distance(p.clone())))
                .sum();
            run.consensus_sum += cons;
            let step = k + 1;
            if step.is_multiple_of(m.eval_every as u64) || step == total {
                let avg = run.model.average();
                let (g, l) = avg.grads(data.eval_x.clone(), data.eval_t.clone());
                run.last_loss = scalar(l);
                run.last_grad_norm = g
                    .into_iter()
                    .map(|g| scalar(g.powf_scalar(2.0).sum()))
                    .sum::<f64>()
                    .sqrt();
                run.mixer.observe_loss(run.last_loss);
                run.last_acc = mlp_accuracy(&avg, data.test_x.clone(), &data.test_y)?;
                self.rows.push(Row {
                    key: run.key.clone(),
                    step,
                    lr: m.lr,
                    loss: run.last_loss,
                    grad_norm: run.last_grad_norm,
                    consensus: cons,
                    error: f64::NAN,
                    test_accuracy: run.last_acc,
                    messages: run.mixer.messages / step as f64,
                    bytes: run.mixer.bytes / step as f64,
                });
            } else {
                run.mixer.observe_loss(loss);
            }
            self.iterations_done += 1;
        }
        Ok(run.mixer.steps() >= total)
    }

    fn finish(&mut self, active: Active) {
        match active {
            Active::Logistic(run) => {
                let steps = run.mixer.steps().max(1) as f64;
                let replicas = run.rngs.len();
                let mean = replica_mean(&run.errors, replicas, |_| true);
                let final_error = mean.last().copied().unwrap_or(f64::NAN);
                let w = self.config.smoothing_window;
                self.curves.insert(run.key.clone(), smooth(&mean, w));
                if replicas >= 2 {
                    let halves = [0, 1].map(|parity| {
                        smooth(&replica_mean(&run.errors, replicas, |r| r % 2 == parity), w)
                    });
                    self.half_curves.insert(run.key.clone(), halves);
                }
                let keep = (10 * run.key.period).min(run.consensus.len());
                self.consensus_curves
                    .insert(run.key.clone(), run.consensus[..keep].to_vec());
                let mean_cons =
                    run.consensus.iter().sum::<f64>() / run.consensus.len().max(1) as f64;
                self.results.runs.push(GossipRunSummary {
                    problem: "logistic".into(),
                    algorithm: run.key.algorithm.name().into(),
                    nodes: run.key.nodes,
                    period: run.key.period,
                    steps: run.mixer.steps(),
                    final_loss: run.last_loss,
                    final_grad_norm: run.last_grad_norm,
                    final_error,
                    mean_consensus: mean_cons,
                    test_accuracy: f64::NAN,
                    messages_per_node_step: run.mixer.messages / steps,
                    bytes_per_node_step: run.mixer.bytes / steps,
                    global_averages: run.mixer.global_averages,
                    transient: None,
                    transient_halves: Vec::new(),
                    final_ratio_to_parallel: f64::NAN,
                });
                self.update_transients();
                // Free a problem once no pending job needs it.
                let n = run.key.nodes;
                let pending = self.jobs[self.next_job..]
                    .iter()
                    .any(|k| !k.mnist && k.nodes == n);
                if !pending {
                    self.problems.remove(&n);
                }
            }
            Active::Mnist(run) => {
                let steps = run.mixer.steps().max(1) as f64;
                self.results.runs.push(GossipRunSummary {
                    problem: "mnist".into(),
                    algorithm: run.key.algorithm.name().into(),
                    nodes: run.key.nodes,
                    period: run.key.period,
                    steps: run.mixer.steps(),
                    final_loss: run.last_loss,
                    final_grad_norm: run.last_grad_norm,
                    final_error: f64::NAN,
                    mean_consensus: run.consensus_sum / steps,
                    test_accuracy: run.last_acc,
                    messages_per_node_step: run.mixer.messages / steps,
                    bytes_per_node_step: run.mixer.bytes / steps,
                    global_averages: run.mixer.global_averages,
                    transient: None,
                    transient_halves: Vec::new(),
                    final_ratio_to_parallel: f64::NAN,
                });
            }
        }
    }

    fn transient_of(&self, k: &RunKey) -> Option<Option<u64>> {
        let curve = self.curves.get(k)?;
        let par = self.curves.get(&RunKey {
            algorithm: Algorithm::ParallelSgd,
            period: self.config.period,
            ..k.clone()
        })?;
        Some(transient_stage(curve, par, self.config.transient_factor))
    }

    /// The transient measured on the even and on the odd replicas separately (empty with one
    /// seed), and the smoothed error's ratio to parallel SGD's at the last step.
    fn transient_check(&self, k: &RunKey) -> Option<(Vec<Option<u64>>, f64)> {
        let par_key = RunKey {
            algorithm: Algorithm::ParallelSgd,
            period: self.config.period,
            ..k.clone()
        };
        let curve = self.curves.get(k)?;
        let par = self.curves.get(&par_key)?;
        let ratio = match (curve.last(), par.last()) {
            (Some(a), Some(b)) => a / b,
            _ => f64::NAN,
        };
        let halves = match (self.half_curves.get(k), self.half_curves.get(&par_key)) {
            (Some(c), Some(p)) => (0..2)
                .map(|i| transient_stage(&c[i], &p[i], self.config.transient_factor))
                .collect(),
            _ => Vec::new(),
        };
        Some((halves, ratio))
    }

    fn update_transients(&mut self) {
        let h = self.config.period;
        let mut by_n: BTreeMap<String, Vec<(usize, Option<u64>)>> = BTreeMap::new();
        let mut by_h: BTreeMap<String, Vec<(usize, Option<u64>)>> = BTreeMap::new();
        for a in Algorithm::ALL {
            for &n in &self.config.node_sweep {
                let k = RunKey {
                    mnist: false,
                    nodes: n,
                    period: h,
                    algorithm: a,
                };
                if let Some(t) = self.transient_of(&k) {
                    by_n.entry(a.name().into()).or_default().push((n, t));
                }
            }
            for &p in &self.config.period_sweep {
                let k = RunKey {
                    mnist: false,
                    nodes: self.config.nodes,
                    period: if matches!(a, Algorithm::ParallelSgd | Algorithm::GossipSgd) {
                        h
                    } else {
                        p
                    },
                    algorithm: a,
                };
                if let Some(t) = self.transient_of(&k) {
                    by_h.entry(a.name().into()).or_default().push((p, t));
                }
            }
        }
        type Checked = (Option<u64>, Vec<Option<u64>>, f64);
        let transients: Vec<Option<Checked>> = self
            .results
            .runs
            .iter()
            .map(|r| {
                let a = Algorithm::ALL
                    .into_iter()
                    .find(|a| a.name() == r.algorithm)?;
                if r.problem != "logistic" {
                    return None;
                }
                let key = RunKey {
                    mnist: false,
                    nodes: r.nodes,
                    period: r.period,
                    algorithm: a,
                };
                let t = self.transient_of(&key)?;
                let (halves, ratio) = self.transient_check(&key)?;
                Some((t, halves, ratio))
            })
            .collect();
        for (r, t) in self.results.runs.iter_mut().zip(transients) {
            if let Some((t, halves, ratio)) = t {
                r.transient = t;
                r.transient_halves = halves;
                r.final_ratio_to_parallel = ratio;
            }
        }
        self.results.signature = signature_of(
            &by_n,
            &by_h,
            &self.config.node_sweep,
            &self.config.period_sweep,
            self.config.period,
        );
        self.results.transient_vs_nodes = by_n;
        self.results.transient_vs_period = by_h;
    }

    fn total_units(&self) -> u64 {
        self.jobs.iter().map(|k| self.job_len(k)).sum()
    }
}

/// Accuracy of a one-node MLP on (1, m, 784) inputs.
fn mlp_accuracy(model: &BatchedMlp, x: Tensor<3>, labels: &[u32]) -> Result<f64> {
    let m = labels.len();
    let w1 = model.params[0]
        .clone()
        .reshape([1, model.inputs, model.hidden]);
    let b1 = model.params[1].clone().reshape([1, 1, model.hidden]);
    let w2 = model.params[2]
        .clone()
        .reshape([1, model.hidden, model.classes]);
    let b2 = model.params[3].clone().reshape([1, 1, model.classes]);
    let h = burn::tensor::activation::relu(x.matmul(w1) + b1);
    let logits = (h.matmul(w2) + b2).reshape([m, model.classes]);
    let pred = logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| EngineError::Device(format!("reading predictions back: {e:?}")))?;
    let hits = pred
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == i64::from(**l))
        .count();
    Ok(hits as f64 / m as f64)
}

/// A growth factor for the report: one decimal, or ∞.
fn fmt_growth(g: f64) -> String {
    if g.is_infinite() {
        "∞".into()
    } else {
        format!("{g:.1}")
    }
}

/// The per-step mean over the replicas `pick` selects of step-major replica errors (R values
/// per step).
fn replica_mean(errors: &[f64], replicas: usize, pick: impl Fn(usize) -> bool) -> Vec<f64> {
    let chosen: Vec<usize> = (0..replicas).filter(|&r| pick(r)).collect();
    errors
        .chunks_exact(replicas)
        .map(|step| chosen.iter().map(|&r| step[r]).sum::<f64>() / chosen.len().max(1) as f64)
        .collect()
}

/// The running mean of each error over the trailing window [(1 − window)k, k] (steps counted
/// from 1), which smooths the mini-batch noise while delaying the curve by at most that
/// fraction of k.
pub fn smooth(errors: &[f64], window: f64) -> Vec<f64> {
    let mut prefix = vec![0.0; errors.len() + 1];
    for (i, e) in errors.iter().enumerate() {
        prefix[i + 1] = prefix[i] + e;
    }
    (0..errors.len())
        .map(|k| {
            let lo = (((k + 1) as f64 * (1.0 - window)).floor() as usize).min(k);
            (prefix[k + 1] - prefix[lo]) / (k + 1 - lo) as f64
        })
        .collect()
}

/// The transient stage: the first step (1-based) after which `curve` stays within `factor` of
/// `reference` at every later step; `None` if it is still outside at the end.
pub fn transient_stage(curve: &[f64], reference: &[f64], factor: f64) -> Option<u64> {
    let len = curve.len().min(reference.len());
    let mut first_good = None;
    for k in (0..len).rev() {
        if curve[k] <= factor * reference[k] {
            first_good = Some(k as u64 + 1);
        } else {
            break;
        }
    }
    first_good
}

impl Gossip {
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "problem",
            "algorithm",
            "nodes",
            "period",
            "step",
            "lr",
            "loss",
            "grad_norm",
            "consensus",
            "error",
            "test_accuracy",
            "messages_per_node_step",
            "bytes_per_node_step",
        ]);
        for r in &self.rows {
            t.push_row(vec![
                if r.key.mnist { "mnist" } else { "logistic" }.into(),
                r.key.algorithm.name().into(),
                r.key.nodes.to_string(),
                r.key.period.to_string(),
                r.step.to_string(),
                fmt_f64(r.lr),
                fmt_f64(r.loss),
                fmt_f64(r.grad_norm),
                fmt_f64(r.consensus),
                fmt_f64(r.error),
                fmt_f64(r.test_accuracy),
                fmt_f64(r.messages),
                fmt_f64(r.bytes),
            ]);
        }
        t
    }

    fn main_key(&self, a: Algorithm, mnist: bool) -> RunKey {
        RunKey {
            mnist,
            nodes: match (&self.config.mnist, mnist) {
                (Some(m), true) => m.nodes,
                _ => self.config.nodes,
            },
            period: self.config.period,
            algorithm: a,
        }
    }

    fn curve_plot(&self, mnist: bool, what: &str) -> LinePlot {
        let series = Algorithm::ALL
            .iter()
            .map(|&a| {
                let key = self.main_key(a, mnist);
                Series::line(
                    a.name(),
                    self.rows
                        .iter()
                        .filter(|r| r.key == key)
                        .map(|r| {
                            let y = match what {
                                "loss" => r.loss,
                                "error" => r.error,
                                "accuracy" => r.test_accuracy,
                                _ => r.consensus,
                            };
                            (r.step as f64, y)
                        })
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        let (problem, n) = if mnist {
            (
                "MLP on MNIST-10k",
                self.main_key(Algorithm::ParallelSgd, true).nodes,
            )
        } else {
            ("logistic regression", self.config.nodes)
        };
        LinePlot::single(
            format!(
                "{problem}: {what} at x̄, n = {n}, {}, H = {}",
                self.config.topology.name(),
                self.config.period
            ),
            Axis::linear("step (iterations)"),
            match what {
                "loss" => Axis::log("loss f(x̄) (nats)"),
                "error" => Axis::log("‖x̄ − x*‖² (squared distance)"),
                "accuracy" => Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
                _ => Axis::log("consensus distance (squared distance)"),
            },
            series,
        )
    }

    fn consensus_plot(&self) -> Option<LinePlot> {
        let h = self.config.period;
        let upto = (6 * h) as u64;
        let mut series = Vec::new();
        for a in [
            Algorithm::GossipSgd,
            Algorithm::LocalSgd,
            Algorithm::GossipPga,
        ] {
            let key = self.main_key(a, false);
            let run = match &self.active {
                Some(Active::Logistic(r)) if r.key == key => Some(&r.consensus),
                _ => None,
            };
            let from_rows = self.consensus_curves.get(&key).or(run)?;
            series.push(Series::line_points(
                a.name(),
                from_rows
                    .iter()
                    .take(upto as usize)
                    .enumerate()
                    .map(|(i, &c)| ((i + 1) as f64, c))
                    .collect(),
            ));
        }
        Some(LinePlot::single(
            format!(
                "Consensus distance (1/n)Σ‖x_i − x̄‖², n = {}, {}: PGA resets it every H = {h}",
                self.config.nodes,
                self.config.topology.name()
            ),
            Axis::linear("step (iterations)"),
            Axis::linear("consensus distance (squared distance)").bounded(Bounds::NON_NEGATIVE),
            series,
        ))
    }
}

impl Gossip {
    fn transient_plot(&self, by_nodes: bool) -> LinePlot {
        let data = if by_nodes {
            &self.results.transient_vs_nodes
        } else {
            &self.results.transient_vs_period
        };
        let total = self.config.logistic.steps as f64;
        let mut series = Vec::new();
        for a in [
            Algorithm::GossipSgd,
            Algorithm::LocalSgd,
            Algorithm::GossipPga,
            Algorithm::GossipAga,
        ] {
            let Some(v) = data.get(a.name()) else {
                continue;
            };
            // Runs that never matched parallel SGD are censored: their transient stage is longer
            // than the step budget.
            let values: Vec<(f64, Option<f64>)> = v
                .iter()
                .map(|&(x, t)| (x as f64, t.map(|t| t.max(1) as f64)))
                .collect();
            let pts: Vec<(f64, f64)> = values
                .iter()
                .map(|&(x, t)| (x, t.unwrap_or(total)))
                .collect();
            series.push(Series::with_censored(
                format!("{} (measured)", a.name()),
                &values,
                total,
                SeriesStyle::LinePoints,
            ));
            // The theory's scaling, anchored at the first point that was matched within the
            // horizon and is at least one period H long (shorter ones are not resolved).
            let anchor = v.iter().find_map(|&(x, t)| {
                let h = if by_nodes { self.config.period } else { x };
                t.filter(|&t| t >= h as u64).map(|t| (x as f64, t as f64))
            });
            if let Some((x0, y0)) = anchor {
                let theory = |x: f64| -> f64 {
                    let (n, h) = if by_nodes {
                        (x, self.config.period as f64)
                    } else {
                        (self.config.nodes as f64, x)
                    };
                    let beta = MixingMatrix::build(
                        &self.config.topology,
                        self.config.weights,
                        n as usize,
                        "topology",
                    )
                    .map_or(f64::NAN, |m| m.beta());
                    match a {
                        Algorithm::GossipSgd => beta.powi(4) * n.powi(3) / (1.0 - beta).powi(4),
                        Algorithm::LocalSgd => n.powi(3) * h.powi(4),
                        _ => beta.powi(4) * n.powi(3) * h.min(1.0 / (1.0 - beta)).powi(4),
                    }
                };
                let base = theory(x0);
                series.push(Series::line(
                    format!("{} (theory, scaled)", a.name()),
                    // Points past 10× the horizon are left out: Gossip SGD's β⁴n³/(1−β)⁴
                    // reaches ~1e15 steps at n = 128, which would flatten every other line.
                    pts.iter()
                        .map(|&(x, _)| (x, y0 * theory(x) / base))
                        .filter(|&(_, y)| y.is_finite() && (0.5..=10.0 * total).contains(&y))
                        .collect(),
                ));
            }
        }
        LinePlot {
            title: if by_nodes {
                format!(
                    "Transient stage vs n ({}, H = {}); budget {} steps",
                    self.config.topology.name(),
                    self.config.period,
                    total
                )
            } else {
                format!(
                    "Transient stage vs H (n = {}, {}); budget {} steps",
                    self.config.nodes,
                    self.config.topology.name(),
                    total
                )
            },
            x: Axis::log(if by_nodes {
                "nodes n (count)"
            } else {
                "period H (steps)"
            }),
            panels: vec![Panel {
                y: Axis::log("transient stage (steps)"),
                series,
            }],
        }
    }

    /// Communication per node per step: messages and KiB have different units, so one chart
    /// each (`communication` and `communication_bytes`).
    fn comm_plots(&self) -> [(BarPlot, &'static str); 2] {
        let mut msgs = Vec::new();
        let mut kib = Vec::new();
        for a in Algorithm::ALL {
            let r = self.results.runs.iter().find(|r| {
                r.problem == "logistic"
                    && r.algorithm == a.name()
                    && r.nodes == self.config.nodes
                    && r.period == self.config.period
            });
            msgs.push(r.map_or(0.0, |r| r.messages_per_node_step));
            kib.push(r.map_or(0.0, |r| r.bytes_per_node_step / 1024.0));
        }
        let chart = |what: &str, y: &str, bars: BarSeries| BarPlot {
            title: format!(
                "{what} per node per step (logistic, n = {}, d = {}, H = {})",
                self.config.nodes, self.config.logistic.dim, self.config.period
            ),
            x_title: "algorithm".into(),
            y: Axis::linear(y).bounded(Bounds::NON_NEGATIVE),
            groups: Algorithm::ALL
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            bars: vec![bars],
        };
        [
            (
                chart(
                    "Messages",
                    "messages / node / step (count)",
                    BarSeries::new("messages / node / step", msgs),
                ),
                "communication",
            ),
            (
                chart(
                    "Bytes",
                    "KiB / node / step",
                    BarSeries::new("KiB / node / step", kib),
                ),
                "communication_bytes",
            ),
        ]
    }

    fn report_body(&self, md: &mut ReportMd, files: &[String]) {
        let r = &self.results;
        let c = &self.config;
        md.paragraph(
            "Chen, Yuan, Zhang, Pan, Xu, Yin (ICML 2021): Gossip SGD's transient stage (the \
             iterations before its convergence rate matches parallel SGD's) grows like \
             β⁴n³/(1−β)⁴; adding an exact global average every H steps (Gossip-PGA) bounds the \
             topology's effect by H: β⁴n³D⁴ with D = min(H, 1/(1−β)), below Local SGD's n³H⁴ \
             (Table 1, non-convex). The n³ is the price of linear speedup and stays in both: \
             what PGA removes is the 1/(1−β)⁴, which on a ring grows like n⁸.",
        );
        md.paragraph(&format!(
            "How the transient is measured: every logistic-regression run is repeated on {} \
             independent mini-batch streams (seeds), the same streams for every algorithm at a \
             given n (common random numbers). The error ‖x̄ − x*‖² is averaged over the seeds, \
             then each step's value is replaced by its mean over the trailing {:.0}% of steps. \
             The transient is the first step after which this curve stays within {}× parallel \
             SGD's up to the horizon of {} steps (\"> {}\": not within it at the end). The step \
             size decays, γ_k = γ₀k₀/(k₀ + k) with γ₀ = {}, k₀ = {}, so every method's extra \
             error (∝ γ_k²) vanishes faster than parallel SGD's (∝ γ_k) and the ratio tends to 1: \
             the criterion is well posed (with a constant step the methods would settle at \
             different error floors and a ratio threshold would measure those floors instead). \
             Averaging curves before thresholding measures the expected error the theory bounds; \
             a median of per-seed transients would instead be biased upwards, since the last \
             crossing of a noisy curve comes late. The transient measured on the even and on the \
             odd seeds alone is shown in brackets: their spread is the noise left.",
            c.seeds,
            100.0 * c.smoothing_window,
            c.transient_factor,
            c.logistic.steps,
            c.logistic.steps,
            c.logistic.lr,
            c.logistic.lr_decay_steps,
        ));
        md.paragraph(
            "Gossip-AGA's adaptive period is H_ℓ = ⌈H·√(F(x̄₀)/F(x̄_ℓ))⌉ (capped at \
             `aga_max_period`), where F is the loss at the average model. This rule is our \
             reconstruction of the paper's §6, not checked against its text (which could not be \
             retrieved); read Gossip-AGA's results with that caveat.",
        );
        md.paragraph(&format!(
            "Status: **{}**. Topology {}, device: {}.",
            r.status, r.topology, r.device
        ));
        md.heading(2, "β = ‖W − 11ᵀ/n‖₂");
        // The configured topology's rows, then the built-in table without the rows that repeat
        // them (same topology name and node count).
        let rows: Vec<Vec<String>> = r
            .beta
            .iter()
            .chain(r.beta_table.iter().filter(|t| {
                !r.beta
                    .iter()
                    .any(|b| b.topology == t.topology && b.nodes == t.nodes)
            }))
            .map(|b| {
                vec![
                    b.topology.clone(),
                    b.nodes.to_string(),
                    format!("{:.6}", b.beta),
                    format!("{:.2}", b.messages_per_round),
                ]
            })
            .collect();
        md.table(&["topology", "n", "β", "messages/node/round"], &rows);
        let fmt_t = |t: Option<u64>| {
            t.map_or(format!("> {}", self.config.logistic.steps), |v| {
                v.to_string()
            })
        };
        let halves_of = |a: &str, n: usize, h: usize| -> String {
            r.runs
                .iter()
                .find(|x| {
                    x.problem == "logistic" && x.algorithm == a && x.nodes == n && x.period == h
                })
                .filter(|x| x.transient_halves.len() == 2)
                .map_or(String::new(), |x| {
                    format!(
                        " ({} / {})",
                        fmt_t(x.transient_halves[0]),
                        fmt_t(x.transient_halves[1])
                    )
                })
        };
        let h = c.period;
        md.heading(2, &format!("Transient stage vs n (H = {h})"));
        let mut header = vec!["algorithm".to_string()];
        header.extend(c.node_sweep.iter().map(|n| format!("n = {n}")));
        let rows: Vec<Vec<String>> = r
            .transient_vs_nodes
            .iter()
            .map(|(a, v)| {
                std::iter::once(a.clone())
                    .chain(
                        v.iter()
                            .map(|&(n, t)| format!("{}{}", fmt_t(t), halves_of(a, n, h))),
                    )
                    .collect()
            })
            .collect();
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        md.table(&header_refs, &rows);
        md.heading(2, &format!("Transient stage vs H (n = {})", c.nodes));
        let mut header = vec!["algorithm".to_string()];
        header.extend(c.period_sweep.iter().map(|p| format!("H = {p}")));
        let rows: Vec<Vec<String>> = r
            .transient_vs_period
            .iter()
            .map(|(a, v)| {
                std::iter::once(a.clone())
                    .chain(v.iter().map(|&(p, t)| {
                        // Parallel and Gossip SGD do not depend on H: their run is the one at H.
                        let run_h = if a == "parallel-sgd" || a == "gossip-sgd" {
                            h
                        } else {
                            p
                        };
                        format!("{}{}", fmt_t(t), halves_of(a, c.nodes, run_h))
                    }))
                    .collect()
            })
            .collect();
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        md.table(&header_refs, &rows);
        if let Some(s) = &r.signature {
            md.heading(2, "GossipSignature");
            md.paragraph(&format!(
                "Transients shorter than one period H are counted as H in these comparisons; ∞ = \
                 parallel SGD not matched within the horizon. Gossip SGD's transient grows \
                 {}× from the smallest to the largest n (at least {GOSSIP_GROWTH_MIN}×: \
                 **{}**), Gossip-PGA's {}×. Gossip-PGA matches parallel SGD within the \
                 horizon at every n: **{}**. Gossip-PGA no slower than Gossip SGD at every n \
                 (within {SEED_NOISE_MARGIN}×, the seed noise): **{}**. Local SGD no faster than \
                 Gossip-PGA at every H: **{}**.",
                fmt_growth(s.gossip_growth),
                s.gossip_grows_fast,
                fmt_growth(s.pga_growth),
                s.pga_matched_at_every_n,
                s.pga_not_worse_than_gossip,
                s.local_not_better_than_pga
            ));
        }
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    x.problem.clone(),
                    x.algorithm.clone(),
                    x.nodes.to_string(),
                    x.period.to_string(),
                    format!("{:.5}", x.final_loss),
                    format!("{:.3e}", x.final_error),
                    format!("{:.3e}", x.mean_consensus),
                    if x.test_accuracy.is_finite() {
                        format!("{:.2}%", x.test_accuracy * 100.0)
                    } else {
                        "-".into()
                    },
                    format!("{:.2}", x.messages_per_node_step),
                    format!("{:.0}", x.bytes_per_node_step),
                    x.transient.map_or("-".into(), |t| t.to_string()),
                    if x.final_ratio_to_parallel.is_finite() {
                        format!("{:.3}", x.final_ratio_to_parallel)
                    } else {
                        "-".into()
                    },
                ]
            })
            .collect();
        md.table(
            &[
                "problem",
                "algorithm",
                "n",
                "H",
                "loss f(x̄)",
                "‖x̄−x*‖²",
                "mean consensus",
                "test acc",
                "msgs/node/step",
                "bytes/node/step",
                "transient",
                "final ratio to parallel",
            ],
            &rows,
        );
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
    }

    fn progress_with(&self) -> Progress {
        let (phase, loss) = match &self.active {
            Some(Active::Logistic(r)) => (
                format!(
                    "logistic · {} · n={} · H={}",
                    r.key.algorithm.name(),
                    r.key.nodes,
                    r.key.period
                ),
                r.last_loss,
            ),
            Some(Active::Mnist(r)) => (
                format!("mnist · {} · n={}", r.key.algorithm.name(), r.key.nodes),
                r.last_loss,
            ),
            None if self.is_done() => ("done".into(), f64::NAN),
            None => ("starting".into(), f64::NAN),
        };
        Progress {
            phase,
            done: self.iterations_done.min(self.total_units()),
            total: self.total_units(),
            unit: "steps".into(),
            epoch: self.next_job,
            loss,
            accuracy: f64::NAN,
        }
    }
}

impl Registered for Gossip {
    type Config = GossipConfig;
    fn preset_config(request: &RunRequest) -> GossipConfig {
        GossipConfig::preset(request.preset)
    }
    fn validate_config(config: &GossipConfig) -> Result<()> {
        config.validate()
    }
    fn build(config: GossipConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Gossip {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        let active = match self.active.take() {
            Some(a) => a,
            None => {
                let k = self.jobs[self.next_job].clone();
                self.next_job += 1;
                self.start(k)?
            }
        };
        let budget = self.config.iterations_per_step;
        let (active, outcome) = match active {
            Active::Logistic(mut r) => {
                let o = self.advance_logistic(&mut r, budget);
                (Active::Logistic(r), o)
            }
            Active::Mnist(mut r) => {
                let o = self.advance_mnist(&mut r, budget);
                (Active::Mnist(r), o)
            }
        };
        match outcome {
            Ok(true) => {
                self.finish(active);
                if self.is_done() {
                    self.results.status = "complete".into();
                }
            }
            Ok(false) => self.active = Some(active),
            Err(e) => {
                self.results.status = format!("stopped: {e:#}");
                self.active = Some(active);
                return Err(e);
            }
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    fn progress(&self) -> Progress {
        self.progress_with()
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.config)
    }

    fn results_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.results)
    }

    fn claims(&self) -> Vec<Claim> {
        self.claims_so_far()
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        let has = |mnist: bool| {
            self.rows.iter().any(|r| {
                r.key.mnist == mnist
                    && r.key.nodes == self.main_key(Algorithm::ParallelSgd, mnist).nodes
            })
        };
        if has(false) {
            written.extend(
                self.curve_plot(false, "loss")
                    .render(dir, "logistic_loss")?,
            );
            written.extend(
                self.curve_plot(false, "error")
                    .render(dir, "logistic_error")?,
            );
        }
        if let Some(p) = self.consensus_plot() {
            written.extend(p.render(dir, "consensus")?);
        }
        if !self.results.transient_vs_nodes.is_empty() {
            written.extend(
                self.transient_plot(true)
                    .render(dir, "transient_vs_nodes")?,
            );
        }
        if !self.results.transient_vs_period.is_empty() {
            written.extend(
                self.transient_plot(false)
                    .render(dir, "transient_vs_period")?,
            );
        }
        if self.results.runs.iter().any(|r| r.problem == "logistic") {
            for (plot, stem) in self.comm_plots() {
                written.extend(plot.render(dir, stem)?);
            }
        }
        if has(true) {
            written.extend(self.curve_plot(true, "loss").render(dir, "mnist_loss")?);
            written.extend(
                self.curve_plot(true, "accuracy")
                    .render(dir, "mnist_accuracy")?,
            );
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, files);
    }
}

impl Gossip {
    /// The claims on the transients measured so far (see [`GossipSignature`]). A transient
    /// beyond the horizon is a lower bound: a claim that needs its value is `inconclusive`.
    fn claims_so_far(&self) -> Vec<Claim> {
        let r = &self.results;
        let horizon = self.config.logistic.steps as f64;
        let show = |v: &[(usize, Option<u64>)]| {
            v.iter()
                .map(|(k, t)| match t {
                    Some(t) => format!("{k}: {t}"),
                    None => format!("{k}: >{horizon}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sweep = |m: &TransientSweep, name: &str| m.get(name).cloned().unwrap_or_default();
        let g = sweep(&r.transient_vs_nodes, "gossip-sgd");
        let p = sweep(&r.transient_vs_nodes, "gossip-pga");
        let l_h = sweep(&r.transient_vs_period, "local-sgd");
        let p_h = sweep(&r.transient_vs_period, "gossip-pga");
        let growth = Claim::new(
            "gossip-transient-grows-with-n",
            "Gossip SGD's transient stage grows quickly with the number of nodes on a sparse \
             topology (through 1/(1−β)).",
            format!(
                "holds when the transient at the largest n is at least {GOSSIP_GROWTH_MIN}× that \
                 at the smallest (a censored largest value counts through its lower bound, the \
                 horizon); fails when it is measured and below {GOSSIP_GROWTH_MIN}×"
            ),
        );
        let pga = Claim::new(
            "pga-matches-parallel",
            "Gossip-PGA reaches parallel SGD's error within the horizon at every n of the sweep.",
            "holds when Gossip-PGA's transient is measured (not beyond the horizon) at every n; \
             fails when it is beyond the horizon at some n",
        );
        let local = Claim::new(
            "local-not-better-than-pga",
            "At equal averaging period H, Local SGD's transient is no shorter than Gossip-PGA's.",
            "holds when, at every H, Local SGD's transient ≥ Gossip-PGA's (both floored at H); \
             fails when it is shorter at some H; inconclusive when a comparison needs a value \
             beyond the horizon",
        );
        let Some(s) = &r.signature else {
            return vec![
                growth.not_measured("the node sweep has not finished"),
                pga.not_measured("the node sweep has not finished"),
                local.not_measured("the period sweep has not finished"),
            ];
        };
        let first = g
            .first()
            .and_then(|x| x.1)
            .map(|t| t.max(self.config.period as u64) as f64);
        let growth = match (first, g.last().map(|x| x.1)) {
            (None, _) | (_, None) => growth.decide(
                show(&g),
                Verdict::Inconclusive,
                "the smallest n's transient is beyond the horizon",
            ),
            (Some(f), Some(Some(last))) => {
                let ratio = (last as f64).max(self.config.period as f64) / f;
                let v = if ratio >= GOSSIP_GROWTH_MIN {
                    Verdict::Holds
                } else {
                    Verdict::Fails
                };
                growth.decide(
                    format!("{} (growth {ratio:.1}×)", show(&g)),
                    v,
                    format!("growth {ratio:.1}×"),
                )
            }
            (Some(f), Some(None)) => {
                let bound = horizon / f;
                let v = if bound >= GOSSIP_GROWTH_MIN {
                    Verdict::Holds
                } else {
                    Verdict::Inconclusive
                };
                growth.decide(
                    format!("{} (growth > {bound:.1}×)", show(&g)),
                    v,
                    format!("largest n censored at the horizon: growth is at least {bound:.1}×"),
                )
            }
        };
        let pga = pga.decide(
            show(&p),
            if s.pga_matched_at_every_n {
                Verdict::Holds
            } else {
                Verdict::Fails
            },
            if s.pga_matched_at_every_n {
                "measured at every n"
            } else {
                "beyond the horizon at some n"
            },
        );
        let censored = l_h
            .iter()
            .zip(&p_h)
            .any(|(l, p)| l.1.is_none() && p.1.is_none());
        let local = local.decide(
            format!("Local SGD {}; Gossip-PGA {}", show(&l_h), show(&p_h)),
            match (s.local_not_better_than_pga, censored) {
                (true, true) => Verdict::Inconclusive,
                (true, false) => Verdict::Holds,
                (false, _) => Verdict::Fails,
            },
            match (s.local_not_better_than_pga, censored) {
                (true, true) => "both censored at some H",
                (true, false) => "Local SGD is never faster",
                (false, _) => "Local SGD is faster at some H",
            },
        );
        vec![growth, pga, local]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_stage_is_the_last_entry_into_the_band() {
        let par = vec![1.0; 6];
        let alg = vec![3.0, 1.0, 2.0, 1.05, 1.0, 1.09];
        assert_eq!(transient_stage(&alg, &par, 1.1), Some(4));
        assert_eq!(transient_stage(&[1.0, 2.0], &[1.0, 1.0], 1.1), None);
        assert_eq!(transient_stage(&[1.0, 1.0], &[1.0, 1.0], 1.1), Some(1));
    }

    #[test]
    fn smoothing_averages_the_trailing_tenth() {
        let s = smooth(&[1.0; 50], 0.1);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let ramp: Vec<f64> = (0..100).map(f64::from).collect();
        // Step 100 (index 99), window 0.1: indices 90..=99, mean 94.5.
        let s = smooth(&ramp, 0.1);
        assert!((s[99] - 94.5).abs() < 1e-12, "{}", s[99]);
        // Window 0.25: indices 75..=99, mean 87.
        let s = smooth(&ramp, 0.25);
        assert!((s[99] - 87.0).abs() < 1e-12, "{}", s[99]);
        // Window 0: no smoothing.
        assert_eq!(smooth(&ramp, 0.0), ramp);
    }

    type Points<'a> = &'a [(usize, Option<u64>)];

    fn sweep(rows: &[(&str, Points<'_>)]) -> TransientSweep {
        rows.iter()
            .map(|(a, v)| (a.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn signature_holds_on_the_papers_pattern_and_fails_without_it() {
        let ns = [8, 32, 128];
        let hs = [4, 16];
        let by_h = sweep(&[
            ("local-sgd", &[(4, Some(100)), (16, None)]),
            ("gossip-pga", &[(4, Some(1)), (16, Some(90))]),
        ]);
        let good = sweep(&[
            ("gossip-sgd", &[(8, Some(120)), (32, None), (128, None)]),
            (
                "gossip-pga",
                &[(8, Some(1)), (32, Some(90)), (128, Some(700))],
            ),
        ]);
        let s = signature_of(&good, &by_h, &ns, &hs, 16).unwrap();
        assert!(s.gossip_grows_fast && s.pga_matched_at_every_n, "{s:?}");
        assert!(
            s.pga_not_worse_than_gossip && s.local_not_better_than_pga,
            "{s:?}"
        );
        assert!(s.gossip_growth.is_infinite());
        // PGA floored at H = 16 at n = 8: 700 / 16.
        assert!((s.pga_growth - 700.0 / 16.0).abs() < 1e-9);
        // Gossip SGD that matches early everywhere does not "grow fast", and PGA slower than
        // gossip beyond the noise margin breaks the ordering.
        let flat = sweep(&[
            (
                "gossip-sgd",
                &[(8, Some(100)), (32, Some(150)), (128, Some(200))],
            ),
            (
                "gossip-pga",
                &[(8, Some(100)), (32, Some(90)), (128, Some(700))],
            ),
        ]);
        let s = signature_of(&flat, &by_h, &ns, &hs, 16).unwrap();
        assert!(
            !s.gossip_grows_fast && !s.pga_not_worse_than_gossip,
            "{s:?}"
        );
        // PGA that never matches, and Local SGD faster than PGA.
        let unmatched = sweep(&[
            ("gossip-sgd", &[(8, Some(120)), (32, None), (128, None)]),
            ("gossip-pga", &[(8, Some(1)), (32, Some(90)), (128, None)]),
        ]);
        let fast_local = sweep(&[
            ("local-sgd", &[(4, Some(10)), (16, Some(50))]),
            ("gossip-pga", &[(4, Some(1)), (16, Some(90))]),
        ]);
        let s = signature_of(&unmatched, &fast_local, &ns, &hs, 16).unwrap();
        assert!(
            !s.pga_matched_at_every_n && !s.local_not_better_than_pga,
            "{s:?}"
        );
        // Incomplete sweeps give no signature.
        assert!(signature_of(&good, &sweep(&[]), &ns, &hs, 16).is_none());
    }

    #[test]
    fn bad_configs_name_the_field() {
        let c = GossipConfig::new().with_period(0);
        assert!(c.validate().unwrap_err().to_string().contains("`period`"));
        let c = GossipConfig::new().with_nodes(1);
        assert!(c.validate().unwrap_err().to_string().contains("`nodes`"));
        let c = GossipConfig::new().with_mnist(Some(
            GossipMnistConfig::new().with_nodes(20).with_train_size(10),
        ));
        assert!(c.validate().unwrap_err().to_string().contains("more nodes"));
    }
}
