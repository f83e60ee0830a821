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

use super::{Experiment, Preset, Progress, to_json_value, write_run_files};
use crate::data::mnist10k;
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::optim::gossip::{
    Algorithm, BatchedMlp, LogisticProblem, Mixer, MixingMatrix, TopologyConfig, WeightScheme,
    consensus_distance,
};
use crate::report::{
    BarPlot, BarSeries, CsvTable, LinePlot, ReportMd, Series, SeriesStyle, fmt_f64, write_atomic,
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
    /// Steps per run.
    #[config(default = 3000)]
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
                .with_nodes(16)
                .with_period(8)
                .with_node_sweep(vec![8, 16, 32])
                .with_period_sweep(vec![4, 8, 16])
                .with_logistic(GossipLogisticConfig::new().with_steps(1000))
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
    /// Transient stage in steps (logistic; `null` when parallel SGD was not matched in time).
    pub transient: Option<u64>,
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

/// The claims the experiment checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipSignature {
    /// Gossip SGD's transient at the largest n over that at the smallest (∞ if not reached).
    pub gossip_growth: f64,
    /// Gossip-PGA's, likewise.
    pub pga_growth: f64,
    /// Gossip-PGA's transient is at most Gossip SGD's at every n of the sweep.
    pub pga_not_worse_than_gossip: bool,
    /// Local SGD's transient is at least Gossip-PGA's at every H of the sweep.
    pub local_not_better_than_pga: bool,
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
    x: Tensor<2>,
    mixer: Mixer,
    rng: SplitMix64,
    errors: Vec<f64>,
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
    curves: BTreeMap<RunKey, Vec<f64>>,
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
        Ok(Active::Logistic(Box::new(LogisticRun {
            x: Tensor::zeros([k.nodes, l.dim], &dev),
            mixer,
            // The same sample stream for every algorithm at a given n (common random numbers).
            rng: SplitMix64::for_purpose(seed, &format!("gossip batches n={}", k.nodes)),
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
        for _ in 0..budget {
            let k = run.mixer.steps();
            if k >= total {
                return Ok(true);
            }
            let lr = l.lr * l.lr_decay_steps / (l.lr_decay_steps + k as f64);
            let g = p.stochastic_grad(run.x.clone(), l.batch, &mut run.rng);
            let y = run.x.clone() - g.mul_scalar(lr);
            run.x = run.mixer.mix(vec![y]).remove(0);
            let xbar = run.x.clone().mean_dim(0);
            let err = (xbar - xs.clone()).powf_scalar(2.0).sum();
            let cons = consensus_distance(run.x.clone());
            let both: Vec<f32> = Tensor::cat(vec![err, cons], 0)
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EngineError::Device(format!("reading metrics back: {e:?}")))?;
            let (err, cons) = (f64::from(both[0]), f64::from(both[1]));
            let step = k + 1;
            if !err.is_finite() {
                return Err(EngineError::Diverged {
                    step,
                    phase: format!("logistic {} n={}", run.key.algorithm.name(), n),
                    loss: err,
                });
            }
            run.errors.push(err);
            run.consensus.push(cons);
            let evaluate = step.is_multiple_of(l.eval_every as u64) || step == total;
            if evaluate {
                let (loss, gn) = p.at_average(run.x.clone());
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
                let smooth = smooth(&run.errors);
                self.curves.insert(run.key.clone(), smooth);
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
                    final_error: run.errors.last().copied().unwrap_or(f64::NAN),
                    mean_consensus: mean_cons,
                    test_accuracy: f64::NAN,
                    messages_per_node_step: run.mixer.messages / steps,
                    bytes_per_node_step: run.mixer.bytes / steps,
                    global_averages: run.mixer.global_averages,
                    transient: None,
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
        let transients: Vec<Option<Option<u64>>> = self
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
                self.transient_of(&RunKey {
                    mnist: false,
                    nodes: r.nodes,
                    period: r.period,
                    algorithm: a,
                })
            })
            .collect();
        for (r, t) in self.results.runs.iter_mut().zip(transients) {
            r.transient = t.flatten();
        }
        let total = self.config.logistic.steps as f64;
        let as_f = |t: Option<u64>| t.map_or(f64::INFINITY, |v| v as f64);
        let growth = |name: &str| {
            let v = by_n.get(name)?;
            if v.len() != self.config.node_sweep.len() || v.len() < 2 {
                return None;
            }
            let first = as_f(v[0].1).max(1.0);
            Some(as_f(v[v.len() - 1].1) / first)
        };
        let complete_h = by_h
            .get("local-sgd")
            .zip(by_h.get("gossip-pga"))
            .filter(|(l, p)| l.len() == self.config.period_sweep.len() && p.len() == l.len());
        if let (Some(g), Some(p), Some((l_h, p_h))) =
            (growth("gossip-sgd"), growth("gossip-pga"), complete_h)
        {
            let gv = &by_n["gossip-sgd"];
            let pv = &by_n["gossip-pga"];
            self.results.signature = Some(GossipSignature {
                gossip_growth: g,
                pga_growth: p,
                pga_not_worse_than_gossip: gv
                    .iter()
                    .zip(pv)
                    .all(|(g, p)| as_f(p.1).min(total) <= as_f(g.1).min(total)),
                local_not_better_than_pga: l_h.iter().zip(p_h).all(|(l, p)| as_f(l.1) >= as_f(p.1)),
            });
        }
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

/// The running mean of each error over the trailing window [0.9k, k], which smooths the
/// mini-batch noise without delaying the curve by more than 10%.
pub fn smooth(errors: &[f64]) -> Vec<f64> {
    let mut prefix = vec![0.0; errors.len() + 1];
    for (i, e) in errors.iter().enumerate() {
        prefix[i + 1] = prefix[i] + e;
    }
    (0..errors.len())
        .map(|k| {
            let lo = (k * 9) / 10;
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
                Series {
                    name: a.name().into(),
                    points: self
                        .rows
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
                    style: SeriesStyle::Line,
                }
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
        LinePlot {
            title: format!(
                "{problem}: {what} at x̄, n = {n}, {}, H = {}",
                self.config.topology.name(),
                self.config.period
            ),
            x_label: "step".into(),
            y_label: match what {
                "loss" => "loss f(x̄)".into(),
                "error" => "‖x̄ − x*‖²".into(),
                "accuracy" => "test accuracy".into(),
                _ => "consensus distance".into(),
            },
            series,
            log_x: false,
            log_y: what != "accuracy",
        }
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
            series.push(Series {
                name: a.name().into(),
                points: from_rows
                    .iter()
                    .take(upto as usize)
                    .enumerate()
                    .map(|(i, &c)| ((i + 1) as f64, c))
                    .collect(),
                style: SeriesStyle::LinePoints,
            });
        }
        Some(LinePlot {
            title: format!(
                "Consensus distance (1/n)Σ‖x_i − x̄‖², n = {}, {}: PGA resets it every H = {h}",
                self.config.nodes,
                self.config.topology.name()
            ),
            x_label: "step".into(),
            y_label: "consensus distance".into(),
            series,
            log_x: false,
            log_y: false,
        })
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
            // Runs that never matched parallel SGD are drawn at the step budget.
            let pts: Vec<(f64, f64)> = v
                .iter()
                .map(|&(x, t)| (x as f64, t.map_or(total, |t| t.max(1) as f64)))
                .collect();
            series.push(Series {
                name: format!("{} (measured)", a.name()),
                points: pts.clone(),
                style: SeriesStyle::LinePoints,
            });
            // The theory's scaling, anchored at the first measured point.
            if let Some(&(x0, y0)) = pts.first() {
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
                series.push(Series {
                    name: format!("{} (theory, scaled)", a.name()),
                    points: pts
                        .iter()
                        .map(|&(x, _)| (x, y0 * theory(x) / base))
                        .collect(),
                    style: SeriesStyle::Line,
                });
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
            x_label: if by_nodes { "nodes n" } else { "period H" }.into(),
            y_label: "transient stage (steps)".into(),
            series,
            log_x: true,
            log_y: true,
        }
    }

    fn comm_plot(&self) -> BarPlot {
        let mut msgs = BarSeries {
            name: "messages / node / step".into(),
            values: Vec::new(),
            errors: None,
        };
        let mut kb = BarSeries {
            name: "KiB / node / step".into(),
            values: Vec::new(),
            errors: None,
        };
        for a in Algorithm::ALL {
            let r = self.results.runs.iter().find(|r| {
                r.problem == "logistic"
                    && r.algorithm == a.name()
                    && r.nodes == self.config.nodes
                    && r.period == self.config.period
            });
            msgs.values
                .push(r.map_or(0.0, |r| r.messages_per_node_step));
            kb.values
                .push(r.map_or(0.0, |r| r.bytes_per_node_step / 1024.0));
        }
        BarPlot {
            title: format!(
                "Communication per node per step (logistic, n = {}, d = {}, H = {})",
                self.config.nodes, self.config.logistic.dim, self.config.period
            ),
            y_label: "per node per step".into(),
            groups: Algorithm::ALL
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            bars: vec![msgs, kb],
        }
    }

    fn report(&self, files: &[String]) -> ReportMd {
        let r = &self.results;
        let mut md = ReportMd::new("Gossip SGD with periodic global averaging");
        md.paragraph(
            "Chen, Yuan, Zhang, Pan, Xu, Yin (ICML 2021): Gossip SGD's transient stage grows like \
             β⁴n³/(1−β)⁴; adding an exact global average every H steps (Gossip-PGA) bounds the \
             topology's effect by H (β⁴n³H⁴), below Local SGD's n³H⁴. The transient stage here is \
             the first step after which an algorithm's error ‖x̄ − x*‖² (running mean over the \
             trailing 10% of steps) stays within the configured factor of parallel SGD's, with \
             every algorithm drawing the same mini-batches.",
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
        md.heading(2, "Transient stage vs n");
        let mut rows = Vec::new();
        for (a, v) in &r.transient_vs_nodes {
            rows.push(
                std::iter::once(a.clone())
                    .chain(v.iter().map(|&(n, t)| format!("n={n}: {}", fmt_t(t))))
                    .collect::<Vec<_>>()
                    .join(" · "),
            );
        }
        for line in rows {
            md.paragraph(&format!("- {line}"));
        }
        md.heading(2, "Transient stage vs H");
        for (a, v) in &r.transient_vs_period {
            let line = v
                .iter()
                .map(|&(h, t)| format!("H={h}: {}", fmt_t(t)))
                .collect::<Vec<_>>()
                .join(" · ");
            md.paragraph(&format!("- {a}: {line}"));
        }
        if let Some(s) = &r.signature {
            md.heading(2, "GossipSignature");
            md.paragraph(&format!(
                "Gossip SGD's transient grows {:.1}× from the smallest to the largest n, \
                 Gossip-PGA's {:.1}× (∞ = parallel SGD not matched within the budget). \
                 Gossip-PGA no slower than Gossip SGD at every n: **{}**. Local SGD no faster than \
                 Gossip-PGA at every H: **{}**.",
                s.gossip_growth,
                s.pga_growth,
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
            ],
            &rows,
        );
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
        md
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

impl Experiment for Gossip {
    fn name(&self) -> &'static str {
        "gossip"
    }

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

    fn write_outputs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = write_run_files(dir, &self.config, &self.results, &self.metrics_table())?;
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
            written.extend(self.comm_plot().render(dir, "communication")?);
        }
        if has(true) {
            written.extend(self.curve_plot(true, "loss").render(dir, "mnist_loss")?);
            written.extend(
                self.curve_plot(true, "accuracy")
                    .render(dir, "mnist_accuracy")?,
            );
        }
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .collect();
        let p = dir.join("report.md");
        write_atomic(&p, self.report(&names).finish().as_bytes())?;
        written.push(p);
        Ok(written)
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
        let s = smooth(&[1.0; 50]);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = smooth(&(0..100).map(f64::from).collect::<Vec<_>>());
        // k = 99: mean of 89..=99 = 94.
        assert!((s[99] - 94.0).abs() < 1e-12, "{}", s[99]);
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
