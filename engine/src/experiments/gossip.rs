//! Gossip SGD with periodic global averaging (Chen, Yuan, Zhang, Pan, Xu, Yin, "Accelerating
//! Gossip SGD with Periodic Global Averaging", ICML 2021).
//!
//! Gossip SGD's error carries a term that grows with 1/(1 − β), β = ‖W − 11ᵀ/n‖₂; Gossip-PGA adds
//! an exact average every H steps, which caps that term by H. The paper's transient stage (steps
//! before the method matches parallel SGD) is Ω(β⁴n³/(1−β)⁴) for Gossip SGD, Ω(β⁴n³H⁴) for
//! Gossip-PGA and Ω(n³H⁴) for Local SGD (Table 1, non-convex); for strongly convex problems the
//! orders are n/(1−β)², nH² and nH² ([`claims`]). This experiment runs all five algorithms of
//! [`crate::optim::gossip`] on a heterogeneous, strongly convex logistic-regression problem
//! (§7.1), measures the transient stage as n, the topology (1/(1 − β)) and H change, fits its
//! growth exponents ([`transient`]) and compares them with the theory's, and trains an MLP on
//! MNIST-10k split across nodes by label.
//!
//! The transient is measured on expected errors: each logistic run carries `seeds` independent
//! mini-batch streams as column blocks of one (n × seeds·d) tensor (the same streams for every
//! algorithm), and the seed-mean ‖x̄ − x*‖², smoothed over a trailing fraction of k, is compared
//! with parallel SGD's ([`transient_stage`]). With the 1/k step size every method's extra error
//! decays faster than parallel SGD's, so the ratio tends to 1 and the threshold is well posed.
//! Gossip-AGA's period rule is a heuristic (not checked against the paper) and is in no claim.

mod claims;
mod transient;

pub use claims::{
    EXPONENT_MARGIN, EXPONENT_MIN_BAND, NOT_SLOWER_MARGIN, ProblemClass, exponent_band,
};
pub use transient::{Censored, ExponentFit, TransientPoint};
use transient::{replica_mean, smooth, transient_stage};

use super::{Claim, Experiment, Preset, Progress, Registered, RunRequest, check, to_json_value};
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
    /// Topologies of the sweep against 1/(1 − β): Gossip SGD runs on each at `gap_nodes` nodes
    /// (with the configured weights), next to parallel SGD, so that β varies at fixed n.
    ///
    /// The default (for 16 nodes) is the ring and the circulant graphs with offsets {1, 2} and
    /// {1, 3}: β = 0.949, 0.852 and 0.723 with uniform weights, 1/(1 − β) = 19.7, 6.8 and 3.6,
    /// chosen by β alone so that the theory's transients spread over a factor of about 50.
    #[config(default = "default_topology_sweep()")]
    pub topology_sweep: Vec<TopologyConfig>,
    /// Nodes of the sweep against 1/(1 − β).
    #[config(default = 16)]
    pub gap_nodes: usize,
    /// Transients of at most this many steps (or at most H for the periodic methods) are not
    /// resolved: the error that early is dominated by the start, so they count as upper bounds.
    #[config(default = 10)]
    pub transient_floor: usize,
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
        check::count("nodes", self.nodes, 2, 1024)?;
        check::count("seeds", self.seeds, 1, 256)?;
        check::count("period", self.period, 1, 100_000)?;
        check::count(
            "aga_max_period",
            self.aga_max_period,
            self.period,
            1_000_000,
        )?;
        check::list_len("node_sweep", self.node_sweep.len(), 0, 64)?;
        check::each("node_sweep", &self.node_sweep, |f, n| {
            check::count(f, n, 2, 1024)
        })?;
        check::list_len("period_sweep", self.period_sweep.len(), 0, 64)?;
        check::each("period_sweep", &self.period_sweep, |f, h| {
            check::count(f, h, 1, 100_000)
        })?;
        check::list_len("topology_sweep", self.topology_sweep.len(), 0, 16)?;
        check::count("gap_nodes", self.gap_nodes, 2, 1024)?;
        check::count("transient_floor", self.transient_floor, 0, 1_000_000)?;
        check::fraction_below_one("smoothing_window", self.smoothing_window)?;
        check::range_open_low("transient_factor", self.transient_factor, 1.0, 100.0)?;
        check::count(
            "logistic.samples_per_node",
            l.samples_per_node,
            1,
            1_000_000,
        )?;
        check::count("logistic.dim", l.dim, 1, 1_000_000)?;
        check::count("logistic.batch", l.batch, 1, l.samples_per_node)?;
        check::count("logistic.steps", l.steps, 1, 10_000_000)?;
        check::count("logistic.eval_every", l.eval_every, 1, 1_000_000)?;
        check::count(
            "iterations_per_step",
            self.iterations_per_step,
            1,
            1_000_000,
        )?;
        check::range_open_low("logistic.lr", l.lr, 0.0, 100.0)?;
        check::non_negative("logistic.reg", l.reg)?;
        check::non_negative("logistic.heterogeneity", l.heterogeneity)?;
        check::positive("logistic.lr_decay_steps", l.lr_decay_steps)?;
        let mut counts: Vec<usize> = self.node_sweep.clone();
        counts.push(self.nodes);
        if let Some(m) = &self.mnist {
            check::count("mnist.nodes", m.nodes, 2, 1024)?;
            check::count("mnist.train_size", m.train_size, m.nodes, 8000)?;
            check::count("mnist.hidden", m.hidden, 1, 4096)?;
            check::count("mnist.batch", m.batch, 1, 4096)?;
            check::count("mnist.steps", m.steps, 1, 1_000_000)?;
            check::count("mnist.eval_every", m.eval_every, 1, 1_000_000)?;
            check::count("mnist.eval_size", m.eval_size, 1, m.train_size)?;
            check::range_open_low("mnist.lr", m.lr, 0.0, 100.0)?;
            check::fraction("mnist.label_skew", m.label_skew)?;
            counts.push(m.nodes);
        }
        counts.sort_unstable();
        counts.dedup();
        for n in counts {
            MixingMatrix::build(&self.topology, self.weights, n, "topology")?;
        }
        for (i, t) in self.topology_sweep.iter().enumerate() {
            MixingMatrix::build(
                t,
                self.weights,
                self.gap_nodes,
                &format!("topology_sweep[{i}]"),
            )?;
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
    /// The topology the run used.
    pub topology: String,
    /// `null`: the configured topology; i: `topology_sweep[i]`.
    pub topology_index: Option<usize>,
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
    /// The class of the problem whose transients are fitted (it fixes the theory's orders).
    pub problem_class: ProblemClass,
    /// Growth exponents of the transient stage with their seed halves, next to the theory's:
    /// Gossip SGD and Gossip-PGA against n, Gossip SGD against 1/(1 − β) (topology sweep),
    /// Local SGD and Gossip-PGA against H.
    pub fits: Vec<ExponentFit>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RunKey {
    mnist: bool,
    nodes: usize,
    period: usize,
    algorithm: Algorithm,
    /// `None`: the configured topology; `Some(i)`: `topology_sweep[i]`.
    topology: Option<usize>,
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
        let key = |nodes: usize, period: usize, algorithm: Algorithm| RunKey {
            mnist: false,
            nodes,
            period,
            algorithm,
            topology: None,
        };
        let mut jobs = Vec::new();
        for &n in &config.node_sweep {
            for a in Algorithm::ALL {
                jobs.push(key(n, h, a));
            }
        }
        let main_n = config.nodes;
        for a in [Algorithm::ParallelSgd, Algorithm::GossipSgd] {
            jobs.push(key(main_n, h, a));
        }
        for &p in config.period_sweep.iter().chain(std::iter::once(&h)) {
            for a in [
                Algorithm::LocalSgd,
                Algorithm::GossipPga,
                Algorithm::GossipAga,
            ] {
                jobs.push(key(main_n, p, a));
            }
        }
        if !config.topology_sweep.is_empty() {
            jobs.push(key(config.gap_nodes, h, Algorithm::ParallelSgd));
            for i in 0..config.topology_sweep.len() {
                jobs.push(RunKey {
                    topology: Some(i),
                    ..key(config.gap_nodes, h, Algorithm::GossipSgd)
                });
            }
        }
        if let Some(m) = &config.mnist {
            for a in Algorithm::ALL {
                jobs.push(RunKey {
                    mnist: true,
                    ..key(m.nodes, h, a)
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
                topology: topology_label(&config.topology),
                nodes: n,
                beta: m.beta(),
                messages_per_round: m.mean_messages(),
            });
        }
        for (i, t) in config.topology_sweep.iter().enumerate() {
            let m = MixingMatrix::build(
                t,
                config.weights,
                config.gap_nodes,
                &format!("topology_sweep[{i}]"),
            )?;
            beta.push(BetaEntry {
                topology: topology_label(t),
                nodes: config.gap_nodes,
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
            problem_class: ProblemClass::StronglyConvex,
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

    /// The topology a run uses.
    fn topology_of(&self, k: &RunKey) -> &TopologyConfig {
        k.topology
            .and_then(|i| self.config.topology_sweep.get(i))
            .unwrap_or(&self.config.topology)
    }

    /// β of the topology a run uses at its node count (from the table built at the start).
    fn beta_of(&self, k: &RunKey) -> f64 {
        let label = topology_label(self.topology_of(k));
        self.results
            .beta
            .iter()
            .find(|b| b.topology == label && b.nodes == k.nodes)
            .map_or(f64::NAN, |b| b.beta)
    }

    fn mixer(&self, k: &RunKey, params: usize) -> Result<Mixer> {
        let mix = MixingMatrix::build(
            self.topology_of(k),
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
                    topology: topology_label(self.topology_of(&run.key)),
                    topology_index: run.key.topology,
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
                    topology: topology_label(&self.config.topology),
                    topology_index: None,
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

    /// The parallel-SGD run a run's transient is measured against (same n, same streams).
    fn parallel_key(&self, k: &RunKey) -> RunKey {
        RunKey {
            algorithm: Algorithm::ParallelSgd,
            period: self.config.period,
            topology: None,
            ..k.clone()
        }
    }

    fn transient_of(&self, k: &RunKey) -> Option<Option<u64>> {
        let curve = self.curves.get(k)?;
        let par = self.curves.get(&self.parallel_key(k))?;
        Some(transient_stage(curve, par, self.config.transient_factor))
    }

    /// The transient measured on the even and on the odd replicas separately (empty with one
    /// seed), and the smoothed error's ratio to parallel SGD's at the last step.
    fn transient_check(&self, k: &RunKey) -> Option<(Vec<Option<u64>>, f64)> {
        let par_key = self.parallel_key(k);
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

    /// The transient of run `k` as a point of a sweep at `x` (`None` until it has run).
    fn point(&self, k: &RunKey, x: f64, label: String) -> Option<TransientPoint> {
        let steps = self.transient_of(k)?;
        let (halves, _) = self.transient_check(k)?;
        let periodic = !matches!(k.algorithm, Algorithm::ParallelSgd | Algorithm::GossipSgd);
        let floor = if periodic {
            k.period.max(self.config.transient_floor)
        } else {
            self.config.transient_floor
        };
        Some(TransientPoint {
            x,
            label,
            steps,
            halves,
            floor: floor as u64,
            horizon: self.config.logistic.steps as u64,
            theory: self.results.problem_class.theory(
                k.algorithm.name(),
                k.nodes as f64,
                self.beta_of(k),
                k.period as f64,
            ),
        })
    }

    /// The sweeps of the claims as points, in sweep order (only the runs done so far).
    fn sweeps(&self) -> Vec<ExponentFit> {
        let c = &self.config;
        let key = |nodes: usize, period: usize, algorithm: Algorithm| RunKey {
            mnist: false,
            nodes,
            period,
            algorithm,
            topology: None,
        };
        let by_n = |a: Algorithm| -> Vec<TransientPoint> {
            c.node_sweep
                .iter()
                .filter_map(|&n| self.point(&key(n, c.period, a), n as f64, format!("n = {n}")))
                .collect()
        };
        let by_h = |a: Algorithm| -> Vec<TransientPoint> {
            c.period_sweep
                .iter()
                .filter_map(|&h| self.point(&key(c.nodes, h, a), h as f64, format!("H = {h}")))
                .collect()
        };
        let by_gap: Vec<TransientPoint> = (0..c.topology_sweep.len())
            .filter_map(|i| {
                let k = RunKey {
                    topology: Some(i),
                    ..key(c.gap_nodes, c.period, Algorithm::GossipSgd)
                };
                let beta = self.beta_of(&k);
                self.point(
                    &k,
                    1.0 / (1.0 - beta),
                    format!("{} (β = {beta:.3})", topology_label(&c.topology_sweep[i])),
                )
            })
            .collect();
        vec![
            ExponentFit::fit("gossip-sgd", "n", by_n(Algorithm::GossipSgd)),
            ExponentFit::fit("gossip-pga", "n", by_n(Algorithm::GossipPga)),
            ExponentFit::fit("gossip-sgd", "1/(1−β)", by_gap),
            ExponentFit::fit("local-sgd", "H", by_h(Algorithm::LocalSgd)),
            ExponentFit::fit("gossip-pga", "H", by_h(Algorithm::GossipPga)),
        ]
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
                    topology: None,
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
                    topology: None,
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
                    topology: r.topology_index,
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
        self.results.fits = self.sweeps();
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

/// An algorithm's name for legends and tables: Gossip-AGA carries "(heuristic)", because its
/// period rule is not checked against the paper.
pub fn display_name(a: Algorithm) -> String {
    match a {
        Algorithm::GossipAga => format!("{} (heuristic)", a.name()),
        _ => a.name().into(),
    }
}

/// The circulant graph on n nodes: node i linked to i ± o (mod n) for every offset o.
pub fn circulant_edges(n: usize, offsets: &[usize]) -> Vec<[usize; 2]> {
    let mut edges: Vec<[usize; 2]> = (0..n)
        .flat_map(|i| offsets.iter().map(move |&o| [i, (i + o) % n]))
        .filter(|[a, b]| a != b)
        .map(|[a, b]| [a.min(b), a.max(b)])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// The default sweep against 1/(1 − β) at 16 nodes (see [`GossipConfig::topology_sweep`]).
pub fn default_topology_sweep() -> Vec<TopologyConfig> {
    vec![
        TopologyConfig::Ring,
        TopologyConfig::Edges {
            edges: circulant_edges(16, &[1, 2]),
        },
        TopologyConfig::Edges {
            edges: circulant_edges(16, &[1, 3]),
        },
    ]
}

/// A topology's name for tables and labels, with the parameters that tell instances apart.
pub fn topology_label(t: &TopologyConfig) -> String {
    match t {
        TopologyConfig::RandomGeometric { radius, seed } => {
            format!("{} (r = {radius}, seed {seed})", t.name())
        }
        TopologyConfig::Edges { edges } => {
            // Two edge lists tell apart by their edges: name them by a short digest.
            let digest = edges.iter().fold(0u64, |h, [a, b]| {
                h.wrapping_mul(1_000_003).wrapping_add((a * 7919 + b) as u64)
            });
            format!("edges ({} edges, #{:04x})", edges.len(), digest % 0x10000)
        }
        _ => t.name().into(),
    }
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
            topology: None,
        }
    }

    fn curve_plot(&self, mnist: bool, what: &str) -> LinePlot {
        let series = Algorithm::ALL
            .iter()
            .map(|&a| {
                let key = self.main_key(a, mnist);
                Series::line(
                    display_name(a),
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
                display_name(a),
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
                format!("{} (measured)", display_name(a)),
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
                    self.results.problem_class.theory(a.name(), n, beta, h)
                };
                let base = theory(x0);
                series.push(Series::line(
                    format!("{} (theory, scaled)", display_name(a)),
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
                    && r.topology_index.is_none()
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
            groups: Algorithm::ALL.iter().map(|&a| display_name(a)).collect(),
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
            "**Gossip-AGA is a heuristic here, not the paper's algorithm.** Its adaptive period \
             H_ℓ = ⌈H·√(F(x̄₀)/F(x̄_ℓ))⌉ (capped at `aga_max_period`, F the loss at the average \
             model) is a reconstruction: the paper's Gossip-AGA section could not be retrieved \
             from the stored copies of its text, so the rule is not checked against the paper's \
             equation. Gossip-AGA is run and shown for comparison but kept out of every claim.",
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
        md.heading(2, "Growth exponents of the transient stage");
        md.paragraph(&format!(
            "Least-squares slope of ln(transient) on ln x, on all seeds and (in brackets) on the \
             even and the odd seeds alone, next to the theory's slope over the same points for a \
             {} problem (computed from the β of the topology that ran; see the claims). \
             \"> T\": beyond the horizon, a lower bound; \"≤ T\": at or below the floor (H for \
             the periodic methods, {} steps otherwise), an upper bound. A fit that needs a \
             censored value reports no slope.",
            r.problem_class.name(),
            c.transient_floor
        ));
        let rows: Vec<Vec<String>> = r
            .fits
            .iter()
            .map(|f| {
                let slope = match (f.exponent, f.half_seed_range()) {
                    (Some(e), Some((lo, hi))) => format!("{e:.2} [{lo:.2}, {hi:.2}]"),
                    (Some(e), None) => format!("{e:.2} (no half-seed range)"),
                    (None, _) => format!("— ({})", f.missing),
                };
                vec![
                    f.algorithm.clone(),
                    f.against.clone(),
                    f.show_points(),
                    slope,
                    f.theory_exponent.map_or("—".into(), |t| format!("{t:.2}")),
                ]
            })
            .collect();
        md.table(
            &[
                "algorithm",
                "against",
                "transients (halves)",
                "fitted slope",
                "theory slope",
            ],
            &rows,
        );
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
    /// The claims on the transients measured so far ([`claims`]): the fitted exponents against
    /// n, 1/(1 − β) and H, then the two comparisons on the node sweep. Gossip-AGA is left out:
    /// its period rule is a heuristic (see [`crate::optim::gossip`]).
    fn claims_so_far(&self) -> Vec<Claim> {
        let class = self.results.problem_class;
        let fit = |alg: &str, against: &str| {
            self.results
                .fits
                .iter()
                .find(|f| f.algorithm == alg && f.against == against)
        };
        let pts = |alg: &str| fit(alg, "n").map_or(Vec::new(), |f| f.points.clone());
        vec![
            claims::exponent_claim(
                "gossip-exponent-n",
                "Gossip SGD against n at fixed topology",
                class,
                fit("gossip-sgd", "n"),
            ),
            claims::exponent_claim(
                "gossip-exponent-gap",
                "Gossip SGD against 1/(1−β) at fixed n (topologies vary β)",
                class,
                fit("gossip-sgd", "1/(1−β)"),
            ),
            claims::exponent_claim(
                "pga-exponent-n",
                "Gossip-PGA against n at fixed H",
                class,
                fit("gossip-pga", "n"),
            ),
            claims::exponent_claim(
                "local-exponent-h",
                "Local SGD against the averaging period H",
                class,
                fit("local-sgd", "H"),
            ),
            claims::exponent_claim(
                "pga-exponent-h",
                "Gossip-PGA against the averaging period H",
                class,
                fit("gossip-pga", "H"),
            ),
            claims::pga_matches_claim(&pts("gossip-pga")),
            claims::pga_not_slower_claim(&pts("gossip-sgd"), &pts("gossip-pga")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_name_the_field() {
        let c = GossipConfig::new().with_period(0);
        assert!(c.validate().unwrap_err().to_string().contains("`period`"));
        let c = GossipConfig::new().with_nodes(1);
        assert!(c.validate().unwrap_err().to_string().contains("`nodes`"));
        let c = GossipConfig::new().with_mnist(Some(
            GossipMnistConfig::new().with_nodes(20).with_train_size(10),
        ));
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("`mnist.train_size`: expected a whole number in [20, 8000], found 10"),
            "{e}"
        );
        let c = GossipConfig::new().with_topology_sweep(vec![TopologyConfig::OnePeerExponential]);
        let e = c.with_gap_nodes(12).validate().unwrap_err().to_string();
        assert!(e.contains("topology_sweep[0]"), "{e}");
        let c = GossipConfig::new().with_smoothing_window(1.0);
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("config field `smoothing_window`: expected a fraction"),
            "{e}"
        );
    }
}
