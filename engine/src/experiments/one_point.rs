//! The network check of Kleinberg, Li, Yuan (2018, section 6), made into a test that can fail:
//! along an SGD trajectory `x_0, …, x_T` of an MLP trained on MNIST-10k, is the **smoothed** loss
//! `g(x) = E_ω L(x − ηω)` one-point convex toward a good minimum `x*` that is *not* the
//! trajectory's own end?
//!
//! - `ω` is SGD's own step noise at `x`: `ω = ∇L_B(x) − ∇L(x)` for a mini-batch `B` of the run's
//!   batch size, so `ηω` is exactly the noise one SGD step adds at the run's η. `∇g(x)` is a
//!   Monte Carlo mean of `∇L(x − ηω_k)` over `smoothing_samples` draws; the constant
//!   `c(x) = ⟨−∇g(x), x* − x⟩ / ‖x* − x‖²` comes with the standard error of that mean.
//! - `x*` is by default the end point of an independent SGD run (other initial weights, other
//!   batch order: `reference_seed`), trained with the same protocol. The paper measured toward
//!   the run's own end point `x_T`; `x_T − x_t` is minus η times the sum of the gradients SGD is
//!   about to take, so that inner product is positive almost whenever the loss falls. It is
//!   still reported (`c_end_*`), as the paper's version, next to the test.
//! - The points are `points_per_epoch` evenly spaced iterates per epoch, from `x_0` to `x_T`.
//!   `L` is the training loss on a fixed probe set of training examples; the mini-batches of the
//!   noise are drawn from the same probe set, so `E ω = 0` for that `L`.
//!
//! The claim on these numbers (decision rule fixed before any run) is in
//! `smoothing/claims.rs`.

use super::{DataSplitConfig, NetworkPart, check};
use crate::data::Dataset;
use crate::error::{EngineError, Result};
use crate::experiments::{MemoryEstimate, classifier_memory, dataset_size};
use crate::model::{InputStats, MlpConfig, Network, NetworkConfig};
use crate::optim::SgdConfig;
use crate::probe::{Batch, FlatNet, OnePoint, dot, mini_batch_smoothing, one_point_of};
use crate::report::{Axis, CsvTable, LinePlot, Panel, ReportMd, Series, fmt_f64};
use crate::rng::{SplitMix64, derive_seed};
use crate::train::{TrainRun, TrainRunState, evaluate, flatten_params, l2_distance};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The two-sided 95% normal quantile: a point counts as positive when `ĉ − Z95·SE > 0`.
pub const Z95: f64 = 1.959_964;

/// Bootstrap resamples (over the trajectory's points) of the median of c.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The reference point `x*` the one-point convexity is measured toward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferencePoint {
    /// The end point of an independent SGD run: other initial weights and other batch order
    /// (both from `reference_seed`), same data, network, η, batch size and epochs.
    #[default]
    Independent,
    /// The end point of an SGD run from the same initial weights with another batch order
    /// (from `reference_seed`).
    SharedInit,
    /// Rigged, for tests: `2x_0 − x_T`, the run's own end point reflected through its start,
    /// a target opposite to where SGD went. The claim must come out `fails` toward it.
    Opposite,
}

impl ReferencePoint {
    /// A phrase for reports.
    pub fn describe(self, seed: u64) -> String {
        match self {
            Self::Independent => format!(
                "the end point of an independent SGD run (initial weights and batch order from \
                 seed {seed})"
            ),
            Self::SharedInit => format!(
                "the end point of an SGD run from the same initial weights with the batch order \
                 of seed {seed}"
            ),
            Self::Opposite => "2x_0 − x_T (rigged: the run's own end point reflected through \
                               its start, opposite to the descent)"
                .into(),
        }
    }
}

/// The configuration of the network check of `sgdlab run smoothing`.
#[derive(Config, Debug, PartialEq)]
pub struct OnePointConfig {
    /// The data and its split.
    #[config(default = "DataSplitConfig::new()")]
    pub data: DataSplitConfig,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256]))")]
    pub network: NetworkConfig,
    /// Seed of the weights, the batch order and the Monte Carlo draws of the checked run.
    #[config(default = 0)]
    pub seed: u64,
    /// SGD's learning rate η (also the scale of the smoothing: the noise is ηω).
    #[config(default = 0.05)]
    pub lr: f64,
    /// Mini-batch size (also of the mini-batches whose noise smooths the loss).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Epochs of the checked run and of the reference run.
    #[config(default = 20)]
    pub epochs: usize,
    /// Evenly spaced points of the trajectory probed per epoch (plus `x_0`).
    #[config(default = 2)]
    pub points_per_epoch: usize,
    /// Training examples the loss L and its gradient are computed on (the first ones).
    #[config(default = 2000)]
    pub probe_size: usize,
    /// Monte Carlo draws of the mini-batch noise ω per point for `∇g = E ∇L(x − ηω)`.
    #[config(default = 16)]
    pub smoothing_samples: usize,
    /// The target x*.
    #[config(default = "ReferencePoint::Independent")]
    pub reference: ReferencePoint,
    /// Seed of the reference run (must differ from `seed` unless the reference is `opposite`).
    #[config(default = 1)]
    pub reference_seed: u64,
    /// Mini-batches per `step()` call.
    #[config(default = 25)]
    pub steps_per_call: usize,
}

impl OnePointConfig {
    /// The peak-memory estimate of the network check: two models, the trajectory's points and
    /// the Monte Carlo gradients of one point.
    pub fn memory(&self) -> MemoryEstimate {
        classifier_memory(
            &self.network,
            "network",
            dataset_size(&self.data.dataset, self.data.train_size),
            self.batch_size.max(self.probe_size) as u64,
            "batch_size",
            (self.epochs * self.points_per_epoch + self.smoothing_samples + 4) as u64,
        )
    }

    /// A small version for tests and a first look.
    pub fn quick() -> Self {
        Self::new()
            .with_data(DataSplitConfig::new().with_train_size(1000))
            .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![64])))
            .with_epochs(5)
            .with_points_per_epoch(4)
            .with_probe_size(500)
            .with_smoothing_samples(8)
    }

    /// Points probed: `points_per_epoch` per epoch, plus `x_0`.
    pub fn points(&self) -> usize {
        self.epochs * self.points_per_epoch + 1
    }

    /// Checks every field; `field` is this config's path. Errors name the field and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let f = |name: &str| format!("{field}.{name}");
        self.data.validate(&f("data"))?;
        for (name, v, lo, hi) in [
            ("batch_size", self.batch_size, 1, 65_536),
            ("epochs", self.epochs, 1, 10_000),
            ("points_per_epoch", self.points_per_epoch, 1, 1_000),
            ("probe_size", self.probe_size, 2, 1_000_000),
            ("smoothing_samples", self.smoothing_samples, 2, 4_096),
            ("steps_per_call", self.steps_per_call, 1, 1_000_000),
        ] {
            check::count(&f(name), v, lo, hi)?;
        }
        if self.reference != ReferencePoint::Opposite && self.reference_seed == self.seed {
            return Err(EngineError::config(
                f("reference_seed"),
                format!(
                    "must differ from `{}` ({}): the reference run has to be independent",
                    f("seed"),
                    self.seed
                ),
            ));
        }
        check::range_open_low(&f("lr"), self.lr, 0.0, 10.0)
    }
}

/// One probed point of the trajectory and its one-point-convexity measures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnePointRow {
    /// SGD steps done at this point.
    pub step: usize,
    /// The same in epochs.
    pub epoch: f64,
    /// L(x) on the probe set.
    pub loss: f64,
    /// Test accuracy at x.
    pub test_acc: f64,
    /// ‖x* − x‖.
    pub distance_to_reference: f64,
    /// ‖x_T − x‖ (the run's own end).
    pub distance_to_end: f64,
    /// `⟨−∇L(x), x* − x⟩` unsmoothed: the inner product, c and the cosine.
    pub raw: OnePoint,
    /// `c = ⟨−∇g(x), x* − x⟩ / ‖x* − x‖²`, the Monte Carlo mean.
    pub c: f64,
    /// Its standard error (over the Monte Carlo draws).
    pub c_se: f64,
    /// The cosine between the Monte Carlo `−∇g(x)` and `x* − x`.
    pub cosine: f64,
    /// Unsmoothed c toward the run's own end `x_T` (the paper's version; NaN at `x_T`).
    pub c_end_raw: f64,
    /// Smoothed c toward `x_T`.
    pub c_end: f64,
    /// Its standard error.
    pub c_end_se: f64,
    /// Mean ‖ηω‖ of the draws: the size of the smoothing.
    pub noise_norm: f64,
    /// Whether `c − Z95·SE > 0`.
    pub positive: bool,
    /// Whether `c + Z95·SE < 0`.
    pub negative: bool,
}

/// The spread of c over the trajectory's points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CSpread {
    /// Smallest c (the one-point-convexity constant over the whole trajectory).
    pub min: f64,
    /// 10% quantile.
    pub q10: f64,
    /// Median.
    pub median: f64,
    /// 90% quantile.
    pub q90: f64,
    /// Largest.
    pub max: f64,
    /// Bootstrap 95% percentile interval of the median (resampling the points).
    pub median_ci: [f64; 2],
    /// Mean Monte Carlo standard error of a point's c.
    pub mean_se: f64,
}

impl CSpread {
    /// The spread of `cs` (finite values only), bootstrapped with `seed`.
    pub fn of(cs: &[f64], ses: &[f64], seed: u64) -> Self {
        let mut v: Vec<f64> = cs.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self {
                min: f64::NAN,
                q10: f64::NAN,
                median: f64::NAN,
                q90: f64::NAN,
                max: f64::NAN,
                median_ci: [f64::NAN; 2],
                mean_se: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let mut rng = SplitMix64::for_purpose(seed, "one-point bootstrap");
        let mut medians: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let mut r: Vec<f64> = (0..v.len()).map(|_| v[rng.below(v.len())]).collect();
                r.sort_by(f64::total_cmp);
                quantile(&r, 0.5)
            })
            .collect();
        medians.sort_by(f64::total_cmp);
        let se: Vec<f64> = ses.iter().copied().filter(|x| x.is_finite()).collect();
        Self {
            min: v[0],
            q10: quantile(&v, 0.1),
            median: quantile(&v, 0.5),
            q90: quantile(&v, 0.9),
            max: v[v.len() - 1],
            median_ci: [quantile(&medians, 0.025), quantile(&medians, 0.975)],
            mean_se: se.iter().sum::<f64>() / se.len().max(1) as f64,
        }
    }

    /// `median [lo, hi] (min …, q10 …, q90 …, max …)`.
    pub fn show(&self) -> String {
        format!(
            "median {:.4} [{:.4}, {:.4}] (min {:.4}, 10% {:.4}, 90% {:.4}, max {:.4})",
            self.median,
            self.median_ci[0],
            self.median_ci[1],
            self.min,
            self.q10,
            self.q90,
            self.max
        )
    }
}

/// The `p` quantile of sorted `v` (linear interpolation).
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let h = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, frac) = (h.floor() as usize, h.fract());
    if i + 1 < v.len() {
        v[i] + frac * (v[i + 1] - v[i])
    } else {
        v[i]
    }
}

/// The network check's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnePointResults {
    /// The data set.
    pub dataset: String,
    /// The network, e.g. `mlp 784-256-10`.
    pub network: String,
    /// Training examples.
    pub train_size: usize,
    /// Examples the loss is measured on.
    pub probe_size: usize,
    /// SGD's η.
    pub lr: f64,
    /// The mini-batch size of the run and of the noise.
    pub batch_size: usize,
    /// Monte Carlo draws per point.
    pub samples: usize,
    /// Which reference ([`ReferencePoint`]).
    pub reference_kind: ReferencePoint,
    /// The reference point x*, in words.
    pub reference: String,
    /// Test accuracy at `x_T`.
    pub final_test_acc: f64,
    /// Test accuracy at x* (NaN for the rigged reference).
    pub reference_test_acc: f64,
    /// L(x*) on the probe set.
    pub reference_loss: f64,
    /// ‖x* − x_T‖.
    pub reference_to_end: f64,
    /// One row per probed point, filled in once both runs are trained.
    pub rows: Vec<OnePointRow>,
    /// Points probed so far.
    pub points: usize,
    /// Points with `c − Z95·SE > 0`.
    pub positive: usize,
    /// Points with `c + Z95·SE < 0`.
    pub negative: usize,
    /// The spread of the smoothed c toward x* over the points.
    pub c: CSpread,
    /// Points whose unsmoothed c toward x* is positive.
    pub raw_positive: usize,
    /// The paper's version: points (before `x_T`) whose smoothed c toward `x_T` has its
    /// interval above 0.
    pub end_positive: usize,
    /// The spread of the smoothed c toward `x_T` (points before `x_T`).
    pub c_end: CSpread,
    /// Mean ‖ηω‖ over all draws.
    pub noise_norm: f64,
}

/// The network check's state machine (driven by [`super::SmoothingExperiment`]).
pub struct OnePointCheck {
    config: OnePointConfig,
    device: Device,
    data: Arc<Dataset>,
    train: TrainRun,
    reference_run: Option<TrainRun>,
    test: Dataset,
    probe: Batch,
    probe_net: FlatNet,
    trajectory: Vec<Vec<f32>>,
    steps: Vec<usize>,
    accs: Vec<f64>,
    reference: Option<Vec<f32>>,
    next_probe: usize,
    /// The results so far.
    pub results: OnePointResults,
}

/// Where a [`OnePointCheck`] is, exactly, for a checkpoint: both training runs, the trajectory
/// so far, the reference point once known, the next point to probe and the rows so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnePointState {
    train: TrainRunState,
    reference_run: Option<TrainRunState>,
    trajectory: Vec<Vec<f32>>,
    steps: Vec<usize>,
    accs: Vec<f64>,
    reference: Option<Vec<f32>>,
    next_probe: usize,
    results: OnePointResults,
}

impl OnePointCheck {
    /// Its exact state, for a checkpoint.
    pub fn state(&self) -> OnePointState {
        OnePointState {
            train: self.train.state(),
            reference_run: self.reference_run.as_ref().map(TrainRun::state),
            trajectory: self.trajectory.clone(),
            steps: self.steps.clone(),
            accs: self.accs.clone(),
            reference: self.reference.clone(),
            next_probe: self.next_probe,
            results: self.results.clone(),
        }
    }

    /// Continues from `state`, taken of a check built from the same config.
    pub fn restore(&mut self, state: OnePointState) -> Result<()> {
        let len = self.train.model().num_params();
        let points = self.config.points();
        if state.trajectory.len() > points
            || state.trajectory.iter().any(|w| w.len() != len)
            || state.steps.len() != state.trajectory.len()
            || state.accs.len() != state.trajectory.len()
            || state.reference.as_ref().is_some_and(|r| r.len() != len)
            || state.next_probe > points
            || (state.next_probe > 0 && state.reference.is_none())
            || state.reference_run.is_some() != self.reference_run.is_some()
        {
            return Err(EngineError::config(
                "<checkpoint>",
                "the network check's saved state does not fit this config",
            ));
        }
        self.train.restore(&state.train)?;
        if let (Some(run), Some(saved)) = (&mut self.reference_run, &state.reference_run) {
            run.restore(saved)?;
        }
        self.trajectory = state.trajectory;
        self.steps = state.steps;
        self.accs = state.accs;
        self.reference = state.reference;
        self.next_probe = state.next_probe;
        self.results = state.results;
        Ok(())
    }

    /// Loads the data and builds both networks; `field` names the config in errors.
    pub fn new(config: OnePointConfig, device: &Device, field: &str) -> Result<Self> {
        config.validate(field)?;
        let (train, test) = config.data.load(&config.network, field)?;
        let stats = InputStats::of(&train.features);
        let (shape, classes) = (train.shape, train.num_classes);
        let init = |seed| -> Network {
            config
                .network
                .init(shape, classes, stats, seed, &device.clone().autodiff())
        };
        let bpe = train.len().div_ceil(config.batch_size);
        check::count(
            &format!("{field}.points_per_epoch"),
            config.points_per_epoch,
            1,
            bpe,
        )?;
        let model = init(config.seed);
        let x0 = flatten_params(&model);
        let probe_idx: Vec<usize> = (0..config.probe_size.min(train.len())).collect();
        let probe = Batch::new(&train, &probe_idx, &train.labels, device);
        let results = OnePointResults {
            dataset: config.data.dataset.to_string(),
            network: config.network.describe(train.dim(), train.num_classes),
            train_size: train.len(),
            probe_size: probe.len(),
            lr: config.lr,
            batch_size: config.batch_size,
            samples: config.smoothing_samples,
            reference_kind: config.reference,
            reference: config.reference.describe(config.reference_seed),
            reference_test_acc: f64::NAN,
            ..OnePointResults::default()
        };
        let acc0 = evaluate(&model, &test, None, device).accuracy;
        let data = Arc::new(train);
        let labels = Arc::new(data.labels.clone());
        let sgd = SgdConfig::new().with_lr(config.lr);
        let run = |model, seed, phase| {
            TrainRun::new(
                model,
                &sgd,
                data.clone(),
                labels.clone(),
                device,
                config.batch_size,
                None,
                derive_seed(seed, "one-point batch order"),
                phase,
            )
        };
        let train_run = run(model, config.seed, "one-point check");
        let reference_run = match config.reference {
            ReferencePoint::Independent => Some(run(
                init(config.reference_seed),
                config.reference_seed,
                "one-point reference",
            )),
            ReferencePoint::SharedInit => Some(run(
                init(config.seed),
                config.reference_seed,
                "one-point reference",
            )),
            ReferencePoint::Opposite => None,
        };
        Ok(Self {
            probe_net: FlatNet::new(init(config.seed)),
            config,
            device: device.clone(),
            data,
            train: train_run,
            reference_run,
            test,
            probe,
            trajectory: vec![x0],
            steps: vec![0],
            accs: vec![acc0],
            reference: None,
            next_probe: 0,
            results,
        })
    }

    fn bpe(&self) -> usize {
        self.train.batches_per_epoch()
    }

    /// The SGD step count of trajectory point `i`.
    fn step_of(&self, i: usize) -> usize {
        i * self.bpe() / self.config.points_per_epoch
    }

    fn training_done(&self) -> bool {
        self.trajectory.len() >= self.config.points()
    }

    fn reference_done(&self) -> bool {
        self.reference.is_some()
    }

    /// Units of work per probed point: `smoothing_samples + 1` gradients on the probe set (each
    /// counted as the mini-batches it spans) and the mini-batch gradients of the noise.
    fn units_per_point(&self) -> u64 {
        let c = &self.config;
        let spans = self.results.probe_size.div_ceil(c.batch_size).max(1);
        ((c.smoothing_samples + 1) * spans + c.smoothing_samples) as u64
    }

    fn reference_steps(&self) -> u64 {
        self.reference_run.as_ref().map_or(0, |r| r.optim.steps())
    }

    /// Trains the checked run up to the next trajectory point.
    fn train_step(&mut self) -> Result<()> {
        let next = self.step_of(self.trajectory.len());
        let done = self.train.optim.steps() as usize;
        let k = self.config.steps_per_call.min(next - done).max(1);
        self.train.train_batches(k)?;
        if self.train.optim.steps() as usize >= next {
            let model = self.train.model();
            self.trajectory.push(flatten_params(model));
            self.steps.push(next);
            self.accs
                .push(evaluate(model, &self.test, None, &self.device).accuracy);
        }
        Ok(())
    }

    /// Trains the reference run, or builds the rigged reference.
    fn reference_step(&mut self) -> Result<()> {
        let epochs = self.config.epochs;
        let Some(run) = &mut self.reference_run else {
            let (x0, end) = (&self.trajectory[0], self.trajectory.last().expect("x_0"));
            self.reference = Some(x0.iter().zip(end).map(|(&a, &b)| 2.0 * a - b).collect());
            return self.reference_known(f64::NAN);
        };
        if run.epochs() < epochs {
            run.train_batches(self.config.steps_per_call)?;
        }
        if run.epochs() >= epochs {
            let acc = evaluate(run.model(), &self.test, None, &self.device).accuracy;
            self.reference = Some(flatten_params(run.model()));
            return self.reference_known(acc);
        }
        Ok(())
    }

    fn reference_known(&mut self, acc: f64) -> Result<()> {
        let reference = self.reference.as_ref().expect("just set");
        let end = self.trajectory.last().expect("x_0");
        let loss = self.probe_net.loss_at(reference, &self.probe)?;
        let r = &mut self.results;
        r.reference_test_acc = acc;
        r.reference_loss = loss;
        r.reference_to_end = l2_distance(reference, end);
        r.final_test_acc = *self.accs.last().expect("x_0");
        Ok(())
    }

    /// Probes point `t`: the loss and gradient there, `smoothing_samples` draws of the
    /// mini-batch noise and the gradients at the shifted points.
    fn probe_point(&mut self, t: usize) -> Result<OnePointRow> {
        let c = &self.config;
        let x = &self.trajectory[t];
        let end = self.trajectory.last().expect("x_0");
        let reference = self
            .reference
            .as_ref()
            .expect("probing starts once x* is known");
        let d: Vec<f32> = reference.iter().zip(x).map(|(&r, &a)| r - a).collect();
        let d_end: Vec<f32> = end.iter().zip(x).map(|(&r, &a)| r - a).collect();
        let mut rng = SplitMix64::for_purpose(
            derive_seed(c.seed, "one-point smoothing"),
            &format!("point {t}"),
        );
        let s = mini_batch_smoothing(
            &mut self.probe_net,
            x,
            &self.probe,
            &self.data,
            self.results.probe_size,
            c.batch_size.min(self.results.probe_size),
            c.lr,
            c.smoothing_samples,
            &mut rng,
            &self.device,
        )?;
        let (dn2, en2) = (dot(&d, &d), dot(&d_end, &d_end));
        let cs: Vec<f64> = s.grads.iter().map(|g| -dot(g, &d) / dn2).collect();
        let ce: Vec<f64> = s.grads.iter().map(|g| -dot(g, &d_end) / en2).collect();
        let (cm, se) = crate::probe::mean_and_se(&cs);
        let (cem, cese) = crate::probe::mean_and_se(&ce);
        let n = s.grads.len() as f32;
        let mut mean = vec![0.0f32; x.len()];
        for g in &s.grads {
            mean.iter_mut().zip(g).for_each(|(m, &v)| *m += v / n);
        }
        let smoothed = one_point_of(&mean, &d);
        let raw = one_point_of(&s.grad, &d);
        let step = self.steps[t];
        Ok(OnePointRow {
            step,
            epoch: step as f64 / self.bpe() as f64,
            loss: s.loss,
            test_acc: self.accs[t],
            distance_to_reference: dn2.sqrt(),
            distance_to_end: en2.sqrt(),
            raw,
            c: cm,
            c_se: se,
            cosine: smoothed.cosine,
            c_end_raw: one_point_of(&s.grad, &d_end).c,
            c_end: cem,
            c_end_se: cese,
            noise_norm: s.noise_norms.iter().sum::<f64>() / s.noise_norms.len() as f64,
            positive: cm - Z95 * se > 0.0,
            negative: cm + Z95 * se < 0.0,
        })
    }

    /// The summary over the rows so far.
    fn summarize(&mut self) {
        let seed = self.config.seed;
        let r = &mut self.results;
        let rows = &r.rows;
        r.points = rows.len();
        r.positive = rows.iter().filter(|x| x.positive).count();
        r.negative = rows.iter().filter(|x| x.negative).count();
        r.raw_positive = rows.iter().filter(|x| x.raw.c > 0.0).count();
        let before_end: Vec<&OnePointRow> =
            rows.iter().filter(|x| x.distance_to_end > 0.0).collect();
        r.end_positive = before_end
            .iter()
            .filter(|x| x.c_end - Z95 * x.c_end_se > 0.0)
            .count();
        let cs: Vec<f64> = rows.iter().map(|x| x.c).collect();
        let ses: Vec<f64> = rows.iter().map(|x| x.c_se).collect();
        r.c = CSpread::of(&cs, &ses, seed);
        let ce: Vec<f64> = before_end.iter().map(|x| x.c_end).collect();
        let cese: Vec<f64> = before_end.iter().map(|x| x.c_end_se).collect();
        r.c_end = CSpread::of(&ce, &cese, seed);
        r.noise_norm = rows.iter().map(|x| x.noise_norm).sum::<f64>() / rows.len().max(1) as f64;
    }
}

impl NetworkPart for OnePointCheck {
    const CSV: &'static str = "one_point.csv";

    /// Whether both runs are trained and every point is probed.
    fn is_done(&self) -> bool {
        self.training_done() && self.reference_done() && self.next_probe >= self.config.points()
    }

    /// Units of work: the training batches of both runs, then the probes.
    fn total_units(&self) -> u64 {
        let steps = (self.config.epochs * self.bpe()) as u64;
        let runs = 1 + u64::from(self.reference_run.is_some());
        runs * steps + self.config.points() as u64 * self.units_per_point()
    }

    /// Units done.
    fn units_done(&self) -> u64 {
        self.train.optim.steps()
            + self.reference_steps()
            + self.next_probe as u64 * self.units_per_point()
    }

    /// What is running, for progress lines.
    fn phase(&self) -> String {
        let e = self.config.epochs;
        if !self.training_done() {
            format!(
                "MNIST check · training epoch {}/{e}",
                (self.train.epochs() + 1).min(e)
            )
        } else if !self.reference_done() {
            let done = self.reference_run.as_ref().map_or(0, TrainRun::epochs);
            format!(
                "MNIST check · reference run epoch {}/{e}",
                (done + 1).min(e)
            )
        } else if !self.is_done() {
            format!(
                "MNIST check · smoothed gradient at point {} of {}",
                self.next_probe + 1,
                self.config.points()
            )
        } else {
            "MNIST check · done".into()
        }
    }

    /// The latest probe loss (or NaN while training) and test accuracy.
    fn latest(&self) -> (f64, f64) {
        (
            self.results.rows.last().map_or(f64::NAN, |r| r.loss),
            self.accs.last().copied().unwrap_or(f64::NAN),
        )
    }

    /// Trains up to `steps_per_call` mini-batches of one run, or probes one point.
    fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        if !self.training_done() {
            return self.train_step();
        }
        if !self.reference_done() {
            return self.reference_step();
        }
        let row = self.probe_point(self.next_probe)?;
        self.results.rows.push(row);
        self.next_probe += 1;
        self.summarize();
        Ok(())
    }

    /// Rows for `one_point.csv`.
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "step",
            "epoch",
            "loss",
            "test_acc",
            "distance_to_reference",
            "distance_to_end",
            "inner_raw",
            "c_raw",
            "cosine_raw",
            "c",
            "c_se",
            "cosine",
            "c_end_raw",
            "c_end",
            "c_end_se",
            "noise_norm",
            "positive",
            "negative",
        ]);
        for e in &self.results.rows {
            t.push_row(vec![
                e.step.to_string(),
                fmt_f64(e.epoch),
                fmt_f64(e.loss),
                fmt_f64(e.test_acc),
                fmt_f64(e.distance_to_reference),
                fmt_f64(e.distance_to_end),
                fmt_f64(e.raw.inner),
                fmt_f64(e.raw.c),
                fmt_f64(e.raw.cosine),
                fmt_f64(e.c),
                fmt_f64(e.c_se),
                fmt_f64(e.cosine),
                fmt_f64(e.c_end_raw),
                fmt_f64(e.c_end),
                fmt_f64(e.c_end_se),
                fmt_f64(e.noise_norm),
                e.positive.to_string(),
                e.negative.to_string(),
            ]);
        }
        t
    }

    /// c along the trajectory: toward x* (smoothed with its Monte Carlo interval, and raw),
    /// and toward the run's own end (the paper's version).
    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let rows = &self.results.rows;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let line = |name: &str, f: fn(&OnePointRow) -> f64| {
            Series::line_points(name, rows.iter().map(|x| (x.epoch, f(x))).collect())
        };
        let mut smoothed = line("smoothed c toward x* (95% Monte Carlo interval)", |x| x.c);
        smoothed.intervals = rows
            .iter()
            .map(|x| (x.epoch, x.c - Z95 * x.c_se, x.c + Z95 * x.c_se))
            .collect();
        let zero = Series::line("0", vec![(0.0, 0.0), (self.config.epochs as f64, 0.0)]);
        let plot = LinePlot {
            title: format!(
                "One-point convexity of the smoothed loss along SGD on {}",
                self.results.dataset
            ),
            x: Axis::linear("epoch"),
            panels: vec![
                Panel {
                    y: Axis::linear("c toward x* = ⟨−∇g(x), x* − x⟩/‖x* − x‖²"),
                    series: vec![smoothed, line("unsmoothed c toward x*", |x| x.raw.c), zero],
                },
                Panel {
                    y: Axis::linear("c toward x_T (own end; the paper's target)"),
                    series: vec![
                        line("smoothed c toward x_T", |x| x.c_end),
                        line("unsmoothed c toward x_T", |x| x.c_end_raw),
                    ],
                },
            ],
        };
        plot.render(dir, "one_point_convexity")
    }

    /// The report section.
    fn report(&self, md: &mut ReportMd) {
        let c = &self.config;
        let r = &self.results;
        md.heading(
            2,
            "The network check: one-point convexity of the smoothed loss along SGD on MNIST",
        );
        md.paragraph(&format!(
            "{} trained by SGD (η = {}, batches of {}, {} epochs, seed {}) on {} examples of \
             {}; final test accuracy {:.4}. The target x* is {} (test accuracy {:.4}, probe \
             loss {:.4}, ‖x* − x_T‖ = {:.3}). At {} evenly spaced points x of the trajectory \
             ({} per epoch, x_0 to x_T): c = ⟨−∇g(x), x* − x⟩/‖x* − x‖² for the smoothed loss \
             g(x) = E_ω L(x − ηω), where ω = ∇L_B(x) − ∇L(x) is the mini-batch gradient noise \
             at x (batches of {} from the probe set), so ηω is the noise of one SGD step at the \
             run's η; ∇g by the mean of {} Monte Carlo draws, with its standard error. L is the \
             training loss on {} training examples. The paper measured toward the run's own \
             end x_T, which SGD's later steps move toward by construction; that version is \
             reported alongside (c toward x_T), not tested.",
            r.network,
            c.lr,
            c.batch_size,
            c.epochs,
            c.seed,
            r.train_size,
            r.dataset,
            r.final_test_acc,
            r.reference,
            r.reference_test_acc,
            r.reference_loss,
            r.reference_to_end,
            c.points(),
            c.points_per_epoch,
            c.batch_size.min(r.probe_size),
            r.samples,
            r.probe_size,
        ));
        if self.is_done() && r.points > 0 {
            md.paragraph(&format!(
                "Toward x*: {} of {} points have c above 0 with its Monte Carlo 95% interval, \
                 {} below 0; the unsmoothed c is positive at {}. Smoothed c over the points: {}; \
                 mean standard error per point {:.2e}. The noise ‖ηω‖ averages {:.4}. Toward \
                 the own end x_T (the paper's version): {} of {} points positive, c {}. The \
                 median's bootstrap interval resamples points of one trajectory, which are not \
                 independent, so it is narrower than a run-to-run interval would be.",
                r.positive,
                r.points,
                r.negative,
                r.raw_positive,
                r.c.show(),
                r.c.mean_se,
                r.noise_norm,
                r.end_positive,
                r.points.saturating_sub(1),
                r.c_end.show(),
            ));
        }
        md.table(
            &[
                "epoch",
                "L(x)",
                "test acc",
                "‖x* − x‖",
                "c raw",
                "c smoothed ± SE",
                "cosine",
                "c toward x_T",
                "‖ηω‖",
            ],
            &r.rows
                .iter()
                .map(|e| {
                    vec![
                        format!("{:.2}", e.epoch),
                        format!("{:.4}", e.loss),
                        format!("{:.4}", e.test_acc),
                        format!("{:.3}", e.distance_to_reference),
                        format!("{:.5}", e.raw.c),
                        format!("{:.5} ± {:.1e}", e.c, e.c_se),
                        format!("{:.3}", e.cosine),
                        format!("{:.4}", e.c_end),
                        format!("{:.4}", e.noise_norm),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.1), 0.4);
        assert_eq!(quantile(&v, 1.0), 4.0);
        let s = CSpread::of(&[3.0, f64::NAN, 1.0, 2.0], &[0.1, 0.3], 0);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert!(s.median_ci[0] >= 1.0 && s.median_ci[1] <= 3.0);
        assert!((s.mean_se - 0.2).abs() < 1e-12);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let msg = |c: OnePointConfig| c.validate("nn_check").unwrap_err().to_string();
        let m = msg(OnePointConfig::new().with_reference_seed(0));
        assert!(m.contains("nn_check.reference_seed"), "{m}");
        OnePointConfig::new()
            .with_reference_seed(0)
            .with_reference(ReferencePoint::Opposite)
            .validate("nn_check")
            .unwrap();
        let m = msg(OnePointConfig::new().with_smoothing_samples(1));
        assert!(m.contains("nn_check.smoothing_samples"), "{m}");
        let m = msg(OnePointConfig::new().with_points_per_epoch(0));
        assert!(m.contains("nn_check.points_per_epoch"), "{m}");
    }
}
