//! The network check of Kleinberg, Li, Yuan (2018, section 6): along an SGD trajectory
//! `x_0, x_1, …, x_T` (one point per epoch) of an MLP trained on MNIST-10k, is the loss
//! one-point convex toward the final point `x_T`? Each epoch logs `⟨−∇L(x_t), x_T − x_t⟩`,
//! and its minimum and mean over random points `x` on a sphere of radius r around `x_t`
//! (`⟨−∇L(x), x_T − x⟩`). `L` is the training loss on a fixed probe set of training examples.
//! Positive values everywhere say that the trajectory and its neighbourhood see `x_T` as a
//! one-point-convex target, the condition under which SGD on the smoothed loss converges.

use super::{DataSplitConfig, NetworkPart, check};
use crate::error::Result;
use crate::experiments::{MemoryEstimate, classifier_memory, dataset_size};
use crate::model::{InputStats, MlpConfig, Network, NetworkConfig};
use crate::optim::SgdConfig;
use crate::probe::{Batch, FlatNet, OnePoint, on_sphere, one_point};
use crate::report::{Axis, CsvTable, LinePlot, ReportMd, Series, fmt_f64};
use crate::rng::{SplitMix64, derive_seed};
use crate::train::{TrainRun, TrainRunState, evaluate, flatten_params, l2_distance};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The configuration of the network check of `sgdlab run smoothing`.
#[derive(Config, Debug, PartialEq)]
pub struct OnePointConfig {
    /// The data and its split.
    #[config(default = "DataSplitConfig::new()")]
    pub data: DataSplitConfig,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256]))")]
    pub network: NetworkConfig,
    /// Seed of the weights, the batch order and the random points.
    #[config(default = 0)]
    pub seed: u64,
    /// SGD's learning rate.
    #[config(default = 0.05)]
    pub lr: f64,
    /// Mini-batch size.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Epochs (the trajectory has one point per epoch, plus the start).
    #[config(default = 20)]
    pub epochs: usize,
    /// Training examples the loss L and its gradient are computed on.
    #[config(default = 2000)]
    pub probe_size: usize,
    /// Random points per epoch on the sphere around x_t.
    #[config(default = 10)]
    pub ball_points: usize,
    /// Radius of that sphere: a fraction of ‖x_T − x_t‖ when `ball_relative`, else an absolute
    /// distance in parameter space.
    #[config(default = 0.5)]
    pub ball_radius: f64,
    /// Whether `ball_radius` is relative to the distance to the final point.
    #[config(default = true)]
    pub ball_relative: bool,
    /// Mini-batches per `step()` call.
    #[config(default = 25)]
    pub steps_per_call: usize,
}

impl OnePointConfig {
    /// The peak-memory estimate of the network check: one model, its trajectory's points and
    /// the ball around each.
    pub fn memory(&self) -> MemoryEstimate {
        classifier_memory(
            &self.network,
            "network",
            dataset_size(&self.data.dataset, self.data.train_size),
            self.batch_size.max(self.probe_size) as u64,
            "batch_size",
            self.epochs as u64 + self.ball_points as u64 + 2,
        )
    }

    /// A small version for tests and a first look.
    pub fn quick() -> Self {
        Self::new()
            .with_data(DataSplitConfig::new().with_train_size(1000))
            .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![64])))
            .with_epochs(5)
            .with_probe_size(500)
            .with_ball_points(4)
    }

    /// Checks every field; `field` is this config's path. Errors name the field and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let f = |name: &str| format!("{field}.{name}");
        self.data.validate(&f("data"))?;
        for (name, v, lo, hi) in [
            ("batch_size", self.batch_size, 1, 65_536),
            ("epochs", self.epochs, 1, 10_000),
            ("probe_size", self.probe_size, 1, 1_000_000),
            ("ball_points", self.ball_points, 0, 10_000),
            ("steps_per_call", self.steps_per_call, 1, 1_000_000),
        ] {
            check::count(&f(name), v, lo, hi)?;
        }
        check::positive(&f("ball_radius"), self.ball_radius)?;
        check::range_open_low(&f("lr"), self.lr, 0.0, 10.0)
    }
}

/// One point of the trajectory and its one-point-convexity measures toward `x_T`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnePointEpoch {
    /// Epochs done at `x_t` (0 is the initialization).
    pub epoch: usize,
    /// Mean training loss of the epoch's mini-batches (NaN at the start).
    pub train_loss: f64,
    /// Test accuracy at `x_t`.
    pub test_acc: f64,
    /// ‖x_T − x_t‖.
    pub distance_to_final: f64,
    /// `⟨−∇L(x_t), x_T − x_t⟩`, `/‖x_T − x_t‖²`, and the cosine.
    pub at_point: OnePoint,
    /// The smallest `⟨−∇L(x), x_T − x⟩` over the random points around `x_t`.
    pub ball_min: f64,
    /// The mean over the random points.
    pub ball_mean: f64,
    /// The smallest `⟨−∇L(x), x_T − x⟩ / ‖x_T − x‖²` over the random points.
    pub ball_min_c: f64,
    /// Fraction of the random points with a positive inner product.
    pub ball_positive: f64,
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
    /// Test accuracy at `x_T`.
    pub final_test_acc: f64,
    /// One row per epoch `t < T`, filled in once training is done.
    pub epochs: Vec<OnePointEpoch>,
    /// Whether `⟨−∇L(x_t), x_T − x_t⟩ > 0` at every `t < T`.
    pub positive_along_trajectory: bool,
    /// Whether every random point had a positive inner product.
    pub positive_in_balls: bool,
    /// The smallest `c = ⟨−∇L(x_t), x_T − x_t⟩ / ‖x_T − x_t‖²` along the trajectory.
    pub min_c: f64,
}

/// The network check's state machine (driven by [`super::SmoothingExperiment`]).
pub struct OnePointCheck {
    config: OnePointConfig,
    device: Device,
    train: TrainRun,
    test: crate::data::Dataset,
    probe: Batch,
    probe_net: FlatNet,
    trajectory: Vec<Vec<f32>>,
    losses: Vec<f64>,
    accs: Vec<f64>,
    next_probe: usize,
    /// The results so far.
    pub results: OnePointResults,
}

/// Where a [`OnePointCheck`] is, exactly, for a checkpoint: its training run, the trajectory
/// and curves so far, the next point to probe and the results of the points probed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnePointState {
    train: TrainRunState,
    trajectory: Vec<Vec<f32>>,
    losses: Vec<f64>,
    accs: Vec<f64>,
    next_probe: usize,
    results: OnePointResults,
}

impl OnePointCheck {
    /// Its exact state, for a checkpoint.
    pub fn state(&self) -> OnePointState {
        OnePointState {
            train: self.train.state(),
            trajectory: self.trajectory.clone(),
            losses: self.losses.clone(),
            accs: self.accs.clone(),
            next_probe: self.next_probe,
            results: self.results.clone(),
        }
    }

    /// Continues from `state`, taken of a check built from the same config.
    pub fn restore(&mut self, state: OnePointState) -> Result<()> {
        let len = self.train.model().num_params();
        if state.trajectory.len() > self.config.epochs + 1
            || state.trajectory.iter().any(|w| w.len() != len)
            || state.next_probe > self.config.epochs + 1
            || (state.next_probe > 0 && state.trajectory.len() <= self.config.epochs)
        {
            return Err(crate::error::EngineError::config(
                "<checkpoint>",
                "the network check's saved state does not fit this config",
            ));
        }
        self.train.restore(&state.train)?;
        self.trajectory = state.trajectory;
        self.losses = state.losses;
        self.accs = state.accs;
        self.next_probe = state.next_probe;
        self.results = state.results;
        Ok(())
    }

    /// Loads the data and builds the network; `field` names the config in errors.
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
        let model = init(config.seed);
        let x0 = flatten_params(&model);
        let probe_idx: Vec<usize> = (0..config.probe_size.min(train.len())).collect();
        let probe = Batch::new(&train, &probe_idx, &train.labels, device);
        let results = OnePointResults {
            dataset: config.data.dataset.to_string(),
            network: config.network.describe(train.dim(), train.num_classes),
            train_size: train.len(),
            probe_size: probe.len(),
            ..OnePointResults::default()
        };
        let acc0 = evaluate(&model, &test, None, device).accuracy;
        let labels = Arc::new(train.labels.clone());
        let run = TrainRun::new(
            model,
            &SgdConfig::new().with_lr(config.lr),
            Arc::new(train),
            labels,
            device,
            config.batch_size,
            None,
            derive_seed(config.seed, "one-point batch order"),
            "one-point check",
        );
        Ok(Self {
            probe_net: FlatNet::new(init(config.seed)),
            config,
            device: device.clone(),
            train: run,
            test,
            probe,
            trajectory: vec![x0],
            losses: vec![f64::NAN],
            accs: vec![acc0],
            next_probe: 0,
            results,
        })
    }

    fn training_done(&self) -> bool {
        self.train.epochs() >= self.config.epochs
    }

    fn radius_text(&self) -> String {
        if self.config.ball_relative {
            format!("{}·‖x_T − x_t‖", self.config.ball_radius)
        } else {
            self.config.ball_radius.to_string()
        }
    }
}

impl NetworkPart for OnePointCheck {
    const CSV: &'static str = "one_point.csv";

    /// Whether training and every probe are done.
    fn is_done(&self) -> bool {
        self.training_done() && self.next_probe >= self.config.epochs
    }

    /// Units of work: training batches, then one epoch's worth per probed point.
    fn total_units(&self) -> u64 {
        2 * (self.config.epochs * self.train.batches_per_epoch()) as u64
    }

    /// Units done.
    fn units_done(&self) -> u64 {
        let bpe = self.train.batches_per_epoch() as u64;
        self.train.optim.steps() + self.next_probe as u64 * bpe
    }

    /// What is running, for progress lines.
    fn phase(&self) -> String {
        if !self.training_done() {
            format!(
                "MNIST check · training epoch {}/{}",
                self.train.epochs() + 1,
                self.config.epochs
            )
        } else if !self.is_done() {
            format!(
                "MNIST check · probing x_{} of {}",
                self.next_probe, self.config.epochs
            )
        } else {
            "MNIST check · done".into()
        }
    }

    /// The latest training loss and test accuracy.
    fn latest(&self) -> (f64, f64) {
        (
            self.losses.last().copied().unwrap_or(f64::NAN),
            self.accs.last().copied().unwrap_or(f64::NAN),
        )
    }

    /// Trains up to `steps_per_call` mini-batches, or probes one point of the trajectory.
    fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        if !self.training_done() {
            let out = self.train.train_batches(self.config.steps_per_call)?;
            if out.epoch_finished {
                let model = self.train.model();
                self.trajectory.push(flatten_params(model));
                self.losses.push(out.mean_loss);
                self.accs
                    .push(evaluate(model, &self.test, None, &self.device).accuracy);
            }
            return Ok(());
        }
        let t = self.next_probe;
        let target = self.trajectory[self.config.epochs].clone();
        let x = self.trajectory[t].clone();
        let at_point = one_point(&mut self.probe_net, &x, &target, &self.probe)?;
        let mut rng = SplitMix64::for_purpose(
            derive_seed(self.config.seed, "one-point sphere"),
            &format!("epoch {t}"),
        );
        let distance = l2_distance(&x, &target);
        let radius = if self.config.ball_relative {
            self.config.ball_radius * distance
        } else {
            self.config.ball_radius
        };
        let mut inners = Vec::with_capacity(self.config.ball_points);
        let mut cs = Vec::with_capacity(self.config.ball_points);
        for _ in 0..self.config.ball_points {
            let p = on_sphere(&mut rng, &x, radius);
            let q = one_point(&mut self.probe_net, &p, &target, &self.probe)?;
            inners.push(q.inner);
            cs.push(q.c);
        }
        let n = inners.len().max(1) as f64;
        self.results.epochs.push(OnePointEpoch {
            epoch: t,
            train_loss: self.losses[t],
            test_acc: self.accs[t],
            distance_to_final: distance,
            at_point,
            ball_min: inners.iter().copied().fold(f64::INFINITY, f64::min),
            ball_mean: inners.iter().sum::<f64>() / n,
            ball_min_c: cs.iter().copied().fold(f64::INFINITY, f64::min),
            ball_positive: inners.iter().filter(|&&v| v > 0.0).count() as f64 / n,
        });
        self.next_probe += 1;
        if self.is_done() {
            let r = &mut self.results;
            r.final_test_acc = self.accs[self.config.epochs];
            r.positive_along_trajectory = r.epochs.iter().all(|e| e.at_point.inner > 0.0);
            r.positive_in_balls = r.epochs.iter().all(|e| e.ball_positive == 1.0);
            r.min_c = r
                .epochs
                .iter()
                .map(|e| e.at_point.c)
                .fold(f64::INFINITY, f64::min);
        }
        Ok(())
    }

    /// Rows for `one_point.csv`.
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "epoch",
            "train_loss",
            "test_acc",
            "distance_to_final",
            "inner",
            "c",
            "cosine",
            "ball_min",
            "ball_mean",
            "ball_min_c",
            "ball_positive",
        ]);
        for e in &self.results.epochs {
            t.push_row(vec![
                e.epoch.to_string(),
                fmt_f64(e.train_loss),
                fmt_f64(e.test_acc),
                fmt_f64(e.distance_to_final),
                fmt_f64(e.at_point.inner),
                fmt_f64(e.at_point.c),
                fmt_f64(e.at_point.cosine),
                fmt_f64(e.ball_min),
                fmt_f64(e.ball_mean),
                fmt_f64(e.ball_min_c),
                fmt_f64(e.ball_positive),
            ]);
        }
        t
    }

    /// The inner products per epoch.
    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let e = &self.results.epochs;
        if e.is_empty() {
            return Ok(Vec::new());
        }
        let line = |name: &str, f: fn(&OnePointEpoch) -> f64| {
            Series::line_points(name, e.iter().map(|x| (x.epoch as f64, f(x))).collect())
        };
        let mut series = vec![line("at x_t", |x| x.at_point.inner)];
        if self.config.ball_points > 0 {
            series.push(line(
                &format!("mean over the sphere r = {}", self.radius_text()),
                |x| x.ball_mean,
            ));
            series.push(line("min over the sphere", |x| x.ball_min));
        }
        LinePlot::single(
            format!(
                "One-point convexity along SGD on {}: ⟨−∇L(x), x_T − x⟩",
                self.results.dataset
            ),
            Axis::linear("epoch t"),
            Axis::linear("⟨−∇L(x), x_T − x⟩ (loss units; > 0: toward x_T)"),
            series,
        )
        .render(dir, "one_point_convexity")
    }

    /// The report section.
    fn report(&self, md: &mut ReportMd) {
        let c = &self.config;
        let r = &self.results;
        md.heading(
            2,
            "The network check: one-point convexity along SGD on MNIST",
        );
        md.paragraph(&format!(
            "{} trained by SGD (η = {}, batches of {}, {} epochs, seed {}) on {} examples of \
             {}. For each epoch's point x_t: ⟨−∇L(x_t), x_T − x_t⟩ toward the final point x_T, \
             and its minimum and mean over {} random points on the sphere of radius {} around \
             x_t. L is the training loss on {} training examples. Final test accuracy {:.4}.",
            r.network,
            c.lr,
            c.batch_size,
            c.epochs,
            c.seed,
            r.train_size,
            r.dataset,
            c.ball_points,
            self.radius_text(),
            r.probe_size,
            r.final_test_acc
        ));
        if !r.epochs.is_empty() && self.is_done() {
            md.paragraph(&format!(
                "Along the trajectory the inner product is {}; on the spheres {}. The smallest \
                 c = ⟨−∇L(x_t), x_T − x_t⟩/‖x_T − x_t‖² is {:.4}.",
                if r.positive_along_trajectory {
                    "positive at every epoch"
                } else {
                    "NOT positive at every epoch"
                },
                if r.positive_in_balls {
                    "every random point is positive too"
                } else {
                    "some random points are not positive"
                },
                r.min_c
            ));
        }
        md.table(
            &[
                "t",
                "test acc",
                "‖x_T − x_t‖",
                "⟨−∇L(x_t), x_T − x_t⟩",
                "c",
                "cosine",
                "sphere min",
                "sphere mean",
                "sphere positive",
            ],
            &r.epochs
                .iter()
                .map(|e| {
                    vec![
                        e.epoch.to_string(),
                        format!("{:.4}", e.test_acc),
                        format!("{:.3}", e.distance_to_final),
                        format!("{:.4}", e.at_point.inner),
                        format!("{:.4}", e.at_point.c),
                        format!("{:.3}", e.at_point.cosine),
                        format!("{:.4}", e.ball_min),
                        format!("{:.4}", e.ball_mean),
                        format!("{:.2}", e.ball_positive),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}
