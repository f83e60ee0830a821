//! Elimination of bad local minima (Kawaguchi, Kaelbling, "Elimination of All Bad Local Minima in
//! Deep Learning", AISTATS 2020).
//!
//! A narrow ReLU network (2 inputs, `hidden` ReLU units, one output) is trained with full-batch
//! gradient descent on the squared loss of an XOR-like problem: four Gaussian clusters at
//! (±1, ±1), target +1 where the signs agree and −1 where they differ. Two hidden units can fit
//! it (|x₁ + x₂| − 1 does), yet plain training from random inits often stops at a suboptimal
//! loss (dead units, one unit fitting one diagonal). Every init is trained twice with the same
//! seed and the same optimizer: plain, and with one exponential neuron added per output
//! (f̃ = f + a·exp(wᵀx + b), loss + (λ/2)a², [`crate::model::ExpNeurons`]).
//!
//! All runs are one batched burn computation: parameters are (runs, ·, ·) tensors and the loss
//! is the sum of the per-run losses, so every run gets exactly its own gradient while the
//! per-operation overhead is paid once per step instead of once per run.
//!
//! Reported: the fraction of runs ending above the best loss found plus a tolerance (with and
//! without the neurons); for the wrapped runs, max |a|, the original network's loss with the
//! neurons removed, and the paper's failure mode — the loss decreasing along a path to infinity,
//! seen as b → −∞ or ‖w‖ growing while a·exp(wᵀx + b) stays bounded.

use super::{
    Claim, Experiment, Interval, Preset, Progress, Registered, RunRequest, Verdict, to_json_value,
};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::model::{EXPONENT_CAP, exp_neuron_output, exp_neuron_regularizer};
use crate::optim::{Sgd, SgdConfig};
use crate::report::{
    Axis, Bounds, CsvTable, Histogram, LinePlot, Panel, ReportMd, Series, fmt_f64,
};
use crate::rng::SplitMix64;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration of the elimination experiment.
#[derive(Config, Debug, PartialEq)]
pub struct EliminationConfig {
    /// Seed of the data and of init 0; init i uses `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Random initializations; each is trained plain and wrapped.
    #[config(default = 200)]
    pub inits: usize,
    /// Points per XOR cluster (four clusters).
    #[config(default = 8)]
    pub points_per_cluster: usize,
    /// Standard deviation of the points around the cluster centres (±1, ±1).
    #[config(default = 0.1)]
    pub noise_std: f64,
    /// Hidden ReLU units of the narrow network.
    #[config(default = 2)]
    pub hidden: usize,
    /// Regularization λ > 0 on the exponential neurons' output weights a.
    #[config(default = 0.01)]
    pub lambda: f64,
    /// Standard deviation of the exponential neurons' initial input weights w (a and b start
    /// at 0).
    #[config(default = 0.5)]
    pub neuron_w_std: f64,
    /// The optimizer (full-batch: every step sees all points), the same for both arms.
    #[config(default = "SgdConfig::new().with_lr(0.1)")]
    pub optim: SgdConfig,
    /// Gradient steps per run.
    #[config(default = 6000)]
    pub steps: usize,
    /// Record per-run diagnostics every this many steps.
    #[config(default = 200)]
    pub eval_every: usize,
    /// Gradient steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 100)]
    pub steps_per_call: usize,
    /// A run is suboptimal when its final loss exceeds the best loss found by more than this.
    #[config(default = 0.01)]
    pub tolerance: f64,
    /// Over the second half of training, a drop of b by more than this, or a growth of ‖w‖ by
    /// more than this, counts as moving along a path to infinity (with a·exp(·) bounded).
    #[config(default = 0.5)]
    pub escape_drift: f64,
}

impl EliminationConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_inits(100)
                .with_steps(1500)
                .with_eval_every(100),
        }
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        let range = |field: &str, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(EngineError::config(
                    field,
                    format!("expected {lo} to {hi}, found {v}"),
                ))
            } else {
                Ok(())
            }
        };
        range("inits", self.inits, 1, 100_000)?;
        range("points_per_cluster", self.points_per_cluster, 1, 10_000)?;
        range("hidden", self.hidden, 1, 1024)?;
        range("steps", self.steps, 1, 10_000_000)?;
        range("eval_every", self.eval_every, 1, 10_000_000)?;
        range("steps_per_call", self.steps_per_call, 1, 1_000_000)?;
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(EngineError::config(
                "lambda",
                format!("expected λ > 0 (finite), found {}", self.lambda),
            ));
        }
        for (field, v) in [
            ("noise_std", self.noise_std),
            ("neuron_w_std", self.neuron_w_std),
            ("tolerance", self.tolerance),
            ("escape_drift", self.escape_drift),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(EngineError::config(
                    field,
                    format!("expected a finite value >= 0, found {v}"),
                ));
            }
        }
        self.optim.validate("optim")
    }

    /// The XOR-like training set: points (n, 2) and targets (n).
    pub fn data(&self) -> (Vec<f32>, Vec<f32>) {
        let mut rng = SplitMix64::for_purpose(self.seed, "xor clusters");
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..self.points_per_cluster {
            for (cx, cy) in [(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)] {
                x.push((cx + rng.normal() * self.noise_std) as f32);
                x.push((cy + rng.normal() * self.noise_std) as f32);
                y.push(if cx * cy > 0.0 { 1.0 } else { -1.0 });
            }
        }
        (x, y)
    }
}

/// The plain and the wrapped copies of every init, as (runs, ·, ·) tensors. Runs `0..inits` are
/// plain (their neuron is masked out), runs `inits..2·inits` are the same inits wrapped.
#[derive(Module, Debug)]
struct BatchedNets {
    w1: Param<Tensor<3>>,
    b1: Param<Tensor<3>>,
    w2: Param<Tensor<3>>,
    b2: Param<Tensor<3>>,
    ew: Param<Tensor<3>>,
    eb: Param<Tensor<3>>,
    ea: Param<Tensor<3>>,
}

fn param3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Param<Tensor<3>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

impl BatchedNets {
    fn init(config: &EliminationConfig, device: &Device) -> Self {
        let (r, h, d) = (config.inits, config.hidden, 2usize);
        let (mut w1, mut b1, mut w2, mut b2, mut ew) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..r {
            let mut rng = SplitMix64::for_purpose(config.seed + i as u64, "weights");
            let mut u = |n: usize, fan_in: usize, out: &mut Vec<f32>| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                out.extend((0..n).map(|_| (2.0 * rng.next_f32() - 1.0) * bound));
            };
            u(d * h, d, &mut w1);
            u(h, d, &mut b1);
            u(h, h, &mut w2);
            u(1, h, &mut b2);
            let mut nrng = SplitMix64::for_purpose(config.seed + i as u64, "exp neuron");
            ew.extend((0..d).map(|_| (nrng.normal() * config.neuron_w_std) as f32));
        }
        let twice = |v: Vec<f32>| [v.clone(), v].concat();
        let runs = 2 * r;
        Self {
            w1: param3(twice(w1), [runs, d, h], device),
            b1: param3(twice(b1), [runs, 1, h], device),
            w2: param3(twice(w2), [runs, h, 1], device),
            b2: param3(twice(b2), [runs, 1, 1], device),
            ew: param3(twice(ew), [runs, d, 1], device),
            eb: param3(vec![0.0; runs], [runs, 1, 1], device),
            ea: param3(vec![0.0; runs], [runs, 1, 1], device),
        }
    }

    /// (original network output f, wrapped output f + mask·a·exp(z), exponent z), each
    /// (runs, n, 1).
    fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let hidden = activation::relu(x.clone().matmul(self.w1.val()) + self.b1.val());
        let f = hidden.matmul(self.w2.val()) + self.b2.val();
        let z = x.matmul(self.ew.val()) + self.eb.val();
        let g = exp_neuron_output(z.clone(), self.ea.val() * mask);
        (f.clone(), f + g, z)
    }
}

/// The final state of one wrapped run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WrappedRun {
    /// The init index.
    pub init: usize,
    /// Final wrapped objective: ½·mean (f̃ − y)² + (λ/2)a².
    pub objective: f64,
    /// Final loss of the original network with the neuron removed, ½·mean (f − y)².
    pub original_loss: f64,
    /// Final a.
    pub a: f64,
    /// Final b.
    pub b: f64,
    /// Final ‖w‖.
    pub w_norm: f64,
    /// Largest |a·exp(wᵀx + b)| over the training points.
    pub neuron_output_max: f64,
    /// Largest exponent wᵀx + b over the training points (above the cap means it was clamped).
    pub max_exponent: f64,
    /// Whether the run moves along a path to infinity (see the module doc).
    pub escaping: bool,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EliminationResults {
    /// Always `elimination`.
    pub experiment: String,
    /// `complete`, `running`, or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// The problem, in words.
    pub problem: String,
    /// Inits (each trained plain and wrapped).
    pub inits: usize,
    /// Gradient steps taken per run.
    pub steps_done: usize,
    /// λ.
    pub lambda: f64,
    /// The tolerance above the best loss.
    pub tolerance: f64,
    /// The best final loss over all runs and arms (plain loss, wrapped objective, wrapped with
    /// the neurons removed).
    pub best_loss: f64,
    /// Final plain losses, per init.
    pub plain_final_loss: Vec<f64>,
    /// Fraction of plain runs above best + tolerance.
    pub plain_suboptimal_fraction: f64,
    /// Fraction of wrapped runs whose objective is above best + tolerance.
    pub wrapped_suboptimal_fraction: f64,
    /// Fraction of wrapped runs whose original network (neurons removed) is above best +
    /// tolerance.
    pub wrapped_removed_suboptimal_fraction: f64,
    /// Largest |a| over the wrapped runs at the end.
    pub max_abs_a: f64,
    /// Wrapped runs moving along a path to infinity.
    pub escaping_runs: usize,
    /// Wrapped runs whose exponent reached the cap.
    pub exponent_cap_hits: usize,
    /// Final state of every wrapped run.
    pub wrapped: Vec<WrappedRun>,
}

/// Every run's diagnostics at one step. Runs `0..inits` are the plain networks, runs
/// `inits..2·inits` the same inits wrapped with the exponential neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct EliminationSnapshot {
    /// Gradient steps taken.
    pub step: usize,
    /// The objective each run minimizes (plain: ½·mean (f − y)²; wrapped: with f̃ and + (λ/2)a²).
    pub loss: Vec<f64>,
    /// ½·mean (f − y)² of the original network (the neuron removed).
    pub original: Vec<f64>,
    /// The neuron's output weight a (0 for plain runs).
    pub a: Vec<f64>,
    /// The neuron's bias b.
    pub b: Vec<f64>,
    /// ‖w‖ of the neuron's input weights.
    pub w_norm: Vec<f64>,
    /// Largest |a·exp(wᵀx + b)| over the training points.
    pub neuron_max: Vec<f64>,
    /// Largest exponent wᵀx + b over the training points.
    pub max_exponent: Vec<f64>,
}

/// The experiment's state machine.
pub struct Elimination {
    config: EliminationConfig,
    nets: Option<BatchedNets>,
    optim: Sgd,
    x: Tensor<3>,
    y: Tensor<3>,
    mask: Tensor<3>,
    steps_done: usize,
    last_loss: f64,
    snapshots: Vec<EliminationSnapshot>,
    results: EliminationResults,
}

fn read(t: Tensor<3>) -> Vec<f64> {
    // Tensors built by this module are f32.
    t.into_data()
        .try_to_vec::<f32>()
        .expect("elimination tensors are f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

impl Elimination {
    /// Builds the data and the batched networks. Fails on an invalid config.
    pub fn new(config: EliminationConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let dev = device.device.clone().autodiff();
        let (x, y) = config.data();
        let n = y.len();
        let runs = 2 * config.inits;
        let x = Tensor::<2>::from_data(TensorData::new(x, [n, 2]), &dev)
            .unsqueeze_dim::<3>(0)
            .expand([runs, n, 2]);
        let y = Tensor::<2>::from_data(TensorData::new(y, [n, 1]), &dev)
            .unsqueeze_dim::<3>(0)
            .expand([runs, n, 1]);
        let mask: Vec<f32> = (0..runs)
            .map(|r| if r < config.inits { 0.0 } else { 1.0 })
            .collect();
        let mask = Tensor::<3>::from_data(TensorData::new(mask, [runs, 1, 1]), &dev);
        let results = EliminationResults {
            experiment: "elimination".into(),
            status: "running".into(),
            device: device.info.clone(),
            problem: format!(
                "XOR-like: 4 clusters at (±1, ±1), {} points each, noise std {}, target ±1; \
                 network 2-{}-1 ReLU, squared loss, full-batch gradient descent",
                config.points_per_cluster, config.noise_std, config.hidden
            ),
            inits: config.inits,
            lambda: config.lambda,
            tolerance: config.tolerance,
            ..Default::default()
        };
        Ok(Self {
            nets: Some(BatchedNets::init(&config, &dev)),
            optim: config.optim.init(),
            config,
            x,
            y,
            mask,
            steps_done: 0,
            last_loss: f64::NAN,
            snapshots: Vec::new(),
            results,
        })
    }

    /// Diagnostics recorded so far, every `eval_every` steps.
    pub fn snapshots(&self) -> &[EliminationSnapshot] {
        &self.snapshots
    }

    /// The summary so far.
    pub fn results(&self) -> &EliminationResults {
        &self.results
    }

    fn nets(&self) -> &BatchedNets {
        self.nets
            .as_ref()
            .expect("the networks are only taken out during a gradient step")
    }

    fn gradient_step(&mut self) -> Result<()> {
        let nets = self
            .nets
            .take()
            .expect("the networks are only taken out during a gradient step");
        let (_, out, _) = nets.forward(self.x.clone(), self.mask.clone());
        let per_run = (out - self.y.clone()).square().mean_dim(1).mul_scalar(0.5);
        let reg = exp_neuron_regularizer(nets.ea.val() * self.mask.clone(), self.config.lambda);
        let total = per_run.sum() + reg;
        let mut grads = total.backward();
        self.nets = Some(self.optim.step(nets, &mut grads));
        self.steps_done += 1;
        Ok(())
    }

    /// Reads back every run's diagnostics (one synchronisation with the device).
    fn snapshot(&mut self) -> Result<()> {
        let nets = self.nets().valid();
        let inner = |t: &Tensor<3>| t.clone().inner();
        let (x, y, mask) = (inner(&self.x), inner(&self.y), inner(&self.mask));
        let (f, out, z) = nets.forward(x, mask.clone());
        let original = read((f - y.clone()).square().mean_dim(1).mul_scalar(0.5));
        let fitted = read((out.clone() - y).square().mean_dim(1).mul_scalar(0.5));
        let a = read(nets.ea.val());
        let b = read(nets.eb.val());
        let w_norm = read(nets.ew.val().square().sum_dim(1).sqrt());
        let neuron_max = read(
            exp_neuron_output(z.clone(), nets.ea.val() * mask)
                .abs()
                .max_dim(1),
        );
        let max_exponent = read(z.max_dim(1));
        let lambda = self.config.lambda;
        let inits = self.config.inits;
        let loss: Vec<f64> = fitted
            .iter()
            .enumerate()
            .map(|(r, &l)| {
                if r < inits {
                    l
                } else {
                    l + 0.5 * lambda * a[r] * a[r]
                }
            })
            .collect();
        if let Some((r, &l)) = loss.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(EngineError::Diverged {
                step: self.steps_done as u64,
                phase: format!(
                    "{} run of init {}",
                    if r < inits { "plain" } else { "wrapped" },
                    r % inits
                ),
                loss: l,
            });
        }
        self.last_loss = loss.iter().sum::<f64>() / loss.len().max(1) as f64;
        self.snapshots.push(EliminationSnapshot {
            step: self.steps_done,
            loss,
            original,
            a,
            b,
            w_norm,
            neuron_max,
            max_exponent,
        });
        Ok(())
    }

    fn summarize(&mut self) {
        let Some(last) = self.snapshots.last() else {
            return;
        };
        let inits = self.config.inits;
        // The state halfway through training, for the drift of b and ‖w‖.
        let half_step = last.step / 2;
        let mid = self
            .snapshots
            .iter()
            .min_by_key(|s| s.step.abs_diff(half_step))
            .unwrap_or(last);
        let plain: Vec<f64> = last.loss[..inits].to_vec();
        let y_max = 1.0; // targets are ±1
        let wrapped: Vec<WrappedRun> = (0..inits)
            .map(|i| {
                let r = inits + i;
                let drift = self.config.escape_drift;
                let moving =
                    last.b[r] - mid.b[r] < -drift || last.w_norm[r] - mid.w_norm[r] > drift;
                WrappedRun {
                    init: i,
                    objective: last.loss[r],
                    original_loss: last.original[r],
                    a: last.a[r],
                    b: last.b[r],
                    w_norm: last.w_norm[r],
                    neuron_output_max: last.neuron_max[r],
                    max_exponent: last.max_exponent[r],
                    escaping: moving && last.neuron_max[r] < 10.0 * y_max,
                }
            })
            .collect();
        let best = plain
            .iter()
            .chain(wrapped.iter().map(|w| &w.objective))
            .chain(wrapped.iter().map(|w| &w.original_loss))
            .copied()
            .fold(f64::INFINITY, f64::min);
        let tol = self.config.tolerance;
        let frac = |xs: &mut dyn Iterator<Item = f64>| {
            let (mut above, mut n) = (0usize, 0usize);
            for x in xs {
                n += 1;
                above += usize::from(x > best + tol);
            }
            above as f64 / n.max(1) as f64
        };
        let r = &mut self.results;
        r.steps_done = self.steps_done;
        r.best_loss = best;
        r.plain_suboptimal_fraction = frac(&mut plain.iter().copied());
        r.wrapped_suboptimal_fraction = frac(&mut wrapped.iter().map(|w| w.objective));
        r.wrapped_removed_suboptimal_fraction = frac(&mut wrapped.iter().map(|w| w.original_loss));
        r.max_abs_a = wrapped.iter().map(|w| w.a.abs()).fold(0.0, f64::max);
        r.escaping_runs = wrapped.iter().filter(|w| w.escaping).count();
        r.exponent_cap_hits = wrapped
            .iter()
            .filter(|w| w.max_exponent > f64::from(EXPONENT_CAP))
            .count();
        r.plain_final_loss = plain;
        r.wrapped = wrapped;
    }

    /// The claims on the results so far (see the module doc for what they do not yet cover).
    fn claims_so_far(&self) -> Vec<Claim> {
        let r = &self.results;
        let plain = Claim::new(
            "plain-has-bad-minima",
            "The plain network has bad local minima on this task: some runs stop above the best \
             loss.",
            "holds when the 95% Wilson interval of the share of plain runs ending above best + \
             tolerance lies above 0; fails when no plain run does",
        );
        let wrapped = Claim::new(
            "wrapped-no-bad-minima",
            "With one exponential neuron and (λ/2)a², every local minimum of the wrapped \
             objective has a = 0 and the original network at a global minimum.",
            "holds when no wrapped run that is not on a path to infinity ends above best + \
             tolerance with its neurons removed; otherwise inconclusive, since end points are \
             not yet classified as local minima",
        );
        if r.wrapped.is_empty() || r.plain_final_loss.is_empty() {
            return vec![
                plain.not_measured("no run has finished"),
                wrapped.not_measured("no run has finished"),
            ];
        }
        let threshold = r.best_loss + r.tolerance;
        let plain_bad = r
            .plain_final_loss
            .iter()
            .filter(|&&l| l > threshold)
            .count();
        let n = r.plain_final_loss.len();
        let w = Interval::wilson95(plain_bad, n);
        let (verdict, reason) = if plain_bad == 0 {
            (
                Verdict::Fails,
                "no plain run ended above best + tolerance".to_string(),
            )
        } else {
            w.versus(0.0, Verdict::Holds, Verdict::Fails)
        };
        let plain = plain.decide(
            format!(
                "{plain_bad} of {n} plain runs above best {:.2e} + {} (share {})",
                r.best_loss,
                r.tolerance,
                w.show(3)
            ),
            verdict,
            reason,
        );
        let settled: Vec<&WrappedRun> = r.wrapped.iter().filter(|w| !w.escaping).collect();
        let bad: Vec<&&WrappedRun> = settled
            .iter()
            .filter(|w| w.original_loss > threshold)
            .collect();
        let max_a = bad.iter().map(|w| w.a.abs()).fold(0.0, f64::max);
        let measured = format!(
            "{} of {} wrapped runs not escaping end above best + tolerance with neurons removed \
             (largest |a| among them {:.2e}); {} escaping",
            bad.len(),
            settled.len(),
            max_a,
            r.wrapped.len() - settled.len()
        );
        let wrapped = if settled.is_empty() {
            wrapped.decide(
                measured,
                Verdict::Inconclusive,
                "every wrapped run is escaping",
            )
        } else if bad.is_empty() {
            wrapped.decide(
                measured,
                Verdict::Holds,
                "every settled wrapped run reaches the best loss",
            )
        } else {
            wrapped.decide(
                measured,
                Verdict::Inconclusive,
                "some wrapped runs end above the best loss, but their end points are not \
                 classified (stationary, local minimum, saddle)",
            )
        };
        vec![plain, wrapped]
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "step",
            "arm",
            "init",
            "loss",
            "original_loss",
            "a",
            "b",
            "w_norm",
            "neuron_output_max",
            "max_exponent",
        ]);
        let inits = self.config.inits;
        for s in &self.snapshots {
            for r in 0..2 * inits {
                let wrapped = r >= inits;
                let opt = |v: f64| if wrapped { fmt_f64(v) } else { String::new() };
                t.push_row(vec![
                    s.step.to_string(),
                    if wrapped { "wrapped" } else { "plain" }.to_string(),
                    (r % inits).to_string(),
                    fmt_f64(s.loss[r]),
                    fmt_f64(s.original[r]),
                    opt(s.a[r]),
                    opt(s.b[r]),
                    opt(s.w_norm[r]),
                    opt(s.neuron_max[r]),
                    opt(s.max_exponent[r]),
                ]);
            }
        }
        t
    }

    fn histogram(&self) -> Histogram {
        let r = &self.results;
        // Losses below the floor (exact zeros included) are binned at it, on a log axis.
        let floor = 1e-8;
        let floored = |v: f64| v.max(floor);
        Histogram {
            title: format!(
                "Final loss over {} inits (best {:.2e}, tolerance {})",
                r.inits, r.best_loss, r.tolerance
            ),
            x: Axis::log("final loss (floored at 1e-8)"),
            counted: "inits".into(),
            series: vec![
                (
                    "plain".into(),
                    r.plain_final_loss.iter().map(|&v| floored(v)).collect(),
                ),
                (
                    "wrapped (objective)".into(),
                    r.wrapped.iter().map(|w| floored(w.objective)).collect(),
                ),
                (
                    "wrapped, neurons removed".into(),
                    r.wrapped.iter().map(|w| floored(w.original_loss)).collect(),
                ),
            ],
            bins: 40,
        }
    }

    fn curves(&self) -> LinePlot {
        let inits = self.config.inits;
        let mean = |s: &EliminationSnapshot,
                    range: std::ops::Range<usize>,
                    f: fn(&EliminationSnapshot, usize) -> f64| {
            let n = range.len().max(1) as f64;
            range.map(|r| f(s, r)).sum::<f64>() / n
        };
        let series = |name: &str,
                      range: std::ops::Range<usize>,
                      f: fn(&EliminationSnapshot, usize) -> f64| {
            Series::line(
                name,
                self.snapshots
                    .iter()
                    .map(|s| (s.step as f64, mean(s, range.clone(), f)))
                    .collect(),
            )
        };
        // Loss, b and ‖w‖ have different units: one panel each, sharing the step axis.
        LinePlot {
            title: "Mean loss over inits, and the added neurons' b and ‖w‖".into(),
            x: Axis::linear("gradient step (iterations)"),
            panels: vec![
                Panel {
                    y: Axis::linear("loss (mean over inits)").bounded(Bounds::NON_NEGATIVE),
                    series: vec![
                        series("plain loss", 0..inits, |s, r| s.loss[r]),
                        series("wrapped objective", inits..2 * inits, |s, r| s.loss[r]),
                        series("wrapped, neurons removed", inits..2 * inits, |s, r| {
                            s.original[r]
                        }),
                    ],
                },
                Panel {
                    y: Axis::linear("b (exponential neuron bias)"),
                    series: vec![series("mean b (wrapped)", inits..2 * inits, |s, r| s.b[r])],
                },
                Panel {
                    y: Axis::linear("‖w‖ (exponential neuron weight norm)")
                        .bounded(Bounds::NON_NEGATIVE),
                    series: vec![series(
                        "mean ‖w‖ (wrapped)",
                        inits..2 * inits,
                        |s, r| s.w_norm[r],
                    )],
                },
            ],
        }
    }

    fn report_body(&self, md: &mut ReportMd, files: &[String]) {
        let r = &self.results;
        md.paragraph(
            "Kawaguchi, Kaelbling (AISTATS 2020): adding one exponential neuron per output, \
             f̃(x) = f(x) + a·exp(wᵀx + b), and (λ/2)a² to a loss convex in the output makes every \
             local minimum of the new loss a global minimum of the original (with a = 0). Where \
             no such point is reachable, the loss can only decrease along a path to infinity.",
        );
        md.paragraph(&format!(
            "Status: **{}** after {} gradient steps. Problem: {}. λ = {}, device: {}.",
            r.status, r.steps_done, r.problem, r.lambda, r.device
        ));
        md.heading(2, "Summary");
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        md.table(
            &["quantity", "value"],
            &[
                vec!["inits (each plain and wrapped)".into(), r.inits.to_string()],
                vec![
                    "best final loss found".into(),
                    format!("{:.3e}", r.best_loss),
                ],
                vec!["tolerance above best".into(), r.tolerance.to_string()],
                vec![
                    "plain runs above best + tolerance".into(),
                    pct(r.plain_suboptimal_fraction),
                ],
                vec![
                    "wrapped runs above best + tolerance (wrapped objective)".into(),
                    pct(r.wrapped_suboptimal_fraction),
                ],
                vec![
                    "wrapped runs above best + tolerance (neurons removed)".into(),
                    pct(r.wrapped_removed_suboptimal_fraction),
                ],
                vec![
                    "max |a| at the end (wrapped)".into(),
                    format!("{:.3e}", r.max_abs_a),
                ],
                vec![
                    "wrapped runs on a path to infinity".into(),
                    format!("{} of {}", r.escaping_runs, r.inits),
                ],
                vec![
                    format!("wrapped runs whose exponent reached the cap {EXPONENT_CAP}"),
                    r.exponent_cap_hits.to_string(),
                ],
            ],
        );
        md.paragraph(&format!(
            "A wrapped run counts as on a path to infinity when, over the second half of \
             training, b fell by more than {d} or ‖w‖ grew by more than {d} while \
             max |a·exp(wᵀx + b)| over the data stayed below 10 (the targets are ±1). That is the \
             failure mode the paper characterizes: the loss still decreases, but no finite local \
             minimum is approached, so the guarantee says nothing about where training stops.",
            d = self.config.escape_drift
        ));
        let mut rows: Vec<Vec<String>> = r
            .wrapped
            .iter()
            .filter(|w| w.escaping || w.objective > r.best_loss + r.tolerance)
            .take(20)
            .map(|w| {
                vec![
                    w.init.to_string(),
                    format!(
                        "{:.3e}",
                        r.plain_final_loss.get(w.init).copied().unwrap_or(f64::NAN)
                    ),
                    format!("{:.3e}", w.objective),
                    format!("{:.3e}", w.original_loss),
                    format!("{:.3e}", w.a),
                    format!("{:.2}", w.b),
                    format!("{:.2}", w.w_norm),
                    format!("{:.3e}", w.neuron_output_max),
                    if w.escaping { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            md.heading(2, "Wrapped runs that are suboptimal or escaping (first 20)");
            md.table(
                &[
                    "init",
                    "plain loss",
                    "wrapped objective",
                    "neurons removed",
                    "a",
                    "b",
                    "‖w‖",
                    "max |a·exp|",
                    "path to ∞",
                ],
                &std::mem::take(&mut rows),
            );
        }
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
    }
}

impl Registered for Elimination {
    type Config = EliminationConfig;
    fn preset_config(request: &RunRequest) -> EliminationConfig {
        EliminationConfig::preset(request.preset)
    }
    fn validate_config(config: &EliminationConfig) -> Result<()> {
        config.validate()
    }
    fn build(config: EliminationConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Elimination {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        if self.snapshots.is_empty() {
            self.snapshot()?;
        }
        let end = (self.steps_done + self.config.steps_per_call).min(self.config.steps);
        while self.steps_done < end {
            self.gradient_step()?;
            let eval_now = self.steps_done.is_multiple_of(self.config.eval_every)
                || self.steps_done == self.config.steps;
            if eval_now && let Err(e) = self.snapshot() {
                self.results.status = format!("stopped: {e:#}");
                self.summarize();
                return Err(e);
            }
        }
        self.summarize();
        if self.is_done() {
            self.results.status = "complete".into();
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.steps_done >= self.config.steps
    }

    fn progress(&self) -> Progress {
        Progress {
            phase: format!(
                "{} inits · plain and wrapped · step {}/{}",
                self.config.inits, self.steps_done, self.config.steps
            ),
            done: self.steps_done as u64,
            total: self.config.steps as u64,
            unit: "steps".into(),
            epoch: self.steps_done,
            loss: self.last_loss,
            accuracy: f64::NAN,
        }
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
        let p = dir.join("metrics.csv");
        self.metrics_table().write(&p)?;
        let mut written = vec![p];
        if !self.results.wrapped.is_empty() {
            written.extend(self.histogram().render(dir, "final_loss_distribution")?);
        }
        if !self.snapshots.is_empty() {
            written.extend(self.curves().render(dir, "training_curves")?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, files);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu_device;

    #[test]
    fn bad_lambda_names_the_field() {
        for lambda in [0.0, -1.0, f64::NAN] {
            let e = EliminationConfig::new()
                .with_lambda(lambda)
                .validate()
                .unwrap_err();
            assert!(e.to_string().contains("`lambda`"), "{e}");
        }
        let e = EliminationConfig::new()
            .with_hidden(0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("`hidden`"), "{e}");
    }

    #[test]
    fn plain_runs_keep_a_at_zero_and_wrapped_runs_use_it() {
        let config = EliminationConfig::new()
            .with_inits(6)
            .with_steps(200)
            .with_eval_every(100);
        let mut e = Elimination::new(config, cpu_device()).unwrap();
        while !e.is_done() {
            e.step().unwrap();
        }
        let s = e.snapshots.last().unwrap();
        assert!(s.a[..6].iter().all(|&a| a == 0.0), "{:?}", s.a);
        assert!(s.a[6..].iter().any(|&a| a.abs() > 1e-4), "{:?}", s.a);
        // The plain copy of an init is the original network: its loss equals its f-only loss.
        for r in 0..6 {
            assert!((s.loss[r] - s.original[r]).abs() < 1e-9);
        }
        let r = e.results();
        assert_eq!(r.plain_final_loss.len(), 6);
        assert!(r.best_loss.is_finite() && r.best_loss >= 0.0);
    }
}
