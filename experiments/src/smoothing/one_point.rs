//! One run of the network check of Kleinberg, Li, Yuan (2018, section 6), made into a test that
//! can fail: along an SGD trajectory `x_0, …, x_T` of an MLP trained on MNIST-10k, is the
//! **smoothed** loss `g(x) = E_ω L(x − ηω)` one-point convex toward a good minimum `x*` that is
//! *not* the trajectory's own end?
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
//! [`super::NetworkSeeds`] repeats this over independent runs; the claim on those runs (decision
//! rule fixed before any run) is in `claims.rs`.

use super::{CSpread, OnePointConfig, ReferencePoint};
use crate::Interval;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sgdlab_engine::check;
use sgdlab_engine::data::Dataset;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{InputStats, Network};
use sgdlab_engine::optim::SgdConfig;
use sgdlab_engine::probe::{Batch, FlatNet, OnePoint, dot, mini_batch_smoothing, one_point_of};
use sgdlab_engine::rng::{SplitMix64, derive_seed};
use sgdlab_engine::train::{TrainRun, TrainRunState, evaluate, flatten_params, l2_distance};
use std::sync::Arc;

/// The two-sided 95% normal quantile: a point counts as positive when `ĉ − Z95·SE > 0`.
pub const Z95: f64 = 1.959_964;

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

/// One run's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnePointResults {
    /// The checked run's seed (weights, batch order, Monte Carlo draws).
    pub seed: u64,
    /// The reference run's seed (unused for the rigged reference).
    pub reference_seed: u64,
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
    /// Wilson 95% interval of `positive / points`.
    pub positive_interval: [f64; 2],
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

/// One run of the network check: the checked SGD run, its reference run and the probes of its
/// trajectory (driven by [`super::NetworkSeeds`], one run after another).
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
    /// Whether both runs are trained and every point is probed.
    pub fn is_done(&self) -> bool {
        self.training_done() && self.reference_done() && self.next_probe >= self.config.points()
    }

    /// Units of work: the training batches of both runs, then the probes.
    pub fn total_units(&self) -> u64 {
        let steps = (self.config.epochs * self.bpe()) as u64;
        let runs = 1 + u64::from(self.reference_run.is_some());
        runs * steps + self.config.points() as u64 * self.units_per_point()
    }

    /// Units done.
    pub fn units_done(&self) -> u64 {
        self.train.optim.steps()
            + self.reference_steps()
            + self.next_probe as u64 * self.units_per_point()
    }

    /// What is running, for progress lines.
    pub fn phase(&self) -> String {
        let e = self.config.epochs;
        if !self.training_done() {
            format!("training epoch {}/{e}", (self.train.epochs() + 1).min(e))
        } else if !self.reference_done() {
            let done = self.reference_run.as_ref().map_or(0, TrainRun::epochs);
            format!("reference run epoch {}/{e}", (done + 1).min(e))
        } else if !self.is_done() {
            format!(
                "smoothed gradient at point {} of {}",
                self.next_probe + 1,
                self.config.points()
            )
        } else {
            "done".into()
        }
    }

    /// The latest probe loss (or NaN while training) and test accuracy.
    pub fn latest(&self) -> (f64, f64) {
        (
            self.results.rows.last().map_or(f64::NAN, |r| r.loss),
            self.accs.last().copied().unwrap_or(f64::NAN),
        )
    }

    /// Trains up to `steps_per_call` mini-batches of one run, or probes one point.
    pub fn step(&mut self) -> Result<()> {
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
            seed: config.seed,
            reference_seed: config.reference_seed,
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
        let (cm, se) = sgdlab_engine::probe::mean_and_se(&cs);
        let (cem, cese) = sgdlab_engine::probe::mean_and_se(&ce);
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
        let share = Interval::wilson95(r.positive, r.points);
        r.positive_interval = [share.lo, share.hi];
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
