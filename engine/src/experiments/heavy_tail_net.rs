//! Heavy-tailed noise in network training (Wang, Oh, Rhee 2021, the experiments of section 5):
//! an MLP or CNN trained on MNIST-10k with a fraction of its training labels corrupted, by
//! three rules at the same learning rate and the same samples per step:
//!
//! - `sgd`: `w ← w − η·ḡ`, with `ḡ = (g₁ + g₂)/2` the gradient of a mini-batch made of two
//!   halves with gradients `g₁`, `g₂`;
//! - `heavy-tailed`: `w ← w − η·(ḡ + Z·(g₁ − g₂))`, `Z` symmetric Lomax with tail index α (the
//!   difference of two mini-batch gradients gives the noise SGD's own geometry, the Lomax
//!   multiple makes it heavy-tailed);
//! - `truncated`: the same step truncated to norm at most b, `w ← w + φ_b(−η·(ḡ + Z·(g₁ − g₂)))`.
//!
//! After training, each run is measured: test accuracy on clean labels, how much of the
//! corrupted labels it memorized, and its sharpness two ways: the top Hessian eigenvalue of the
//! training loss (power iteration on finite-difference Hessian-vector products) and the
//! expected loss increase under Gaussian weight perturbations. The paper's claim: truncated
//! heavy-tailed noise ends in flatter minima that generalize better than SGD's.

use super::NetworkPart;
use crate::data::{Dataset, DatasetSpec};
use crate::error::{EngineError, Result};
use crate::model::{InputStats, MlpConfig, NetworkConfig};
use crate::probe::{
    Batch, FlatNet, norm, perturbation_sharpness, symmetric_lomax, top_hessian_eigenvalue, truncate,
};
use crate::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, ReportMd, SEED_POINTS_MAX, Series,
    fmt_f64, mean_ci95,
};
use crate::rng::{SplitMix64, derive_seed};
use crate::train::evaluate;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The training rules compared, in report order.
pub const NET_ARMS: [&str; 3] = ["sgd", "heavy-tailed", "truncated"];

/// The configuration of the network part of `sgdlab run sharp-minima`.
#[derive(Config, Debug, PartialEq)]
pub struct HeavyTailNetConfig {
    /// The data and its split; `data.split_seed` also draws the corrupted labels (the same
    /// for every run).
    #[config(default = "DataSplitConfig::new()")]
    pub data: DataSplitConfig,
    /// Fraction of training labels replaced by a uniformly drawn other class.
    #[config(default = 0.2)]
    pub label_noise: f64,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256]))")]
    pub network: NetworkConfig,
    /// First seed (weights, batch order, noise); runs use `seed .. seed + seeds`.
    #[config(default = 0)]
    pub seed: u64,
    /// Seeds per rule.
    #[config(default = 3)]
    pub seeds: usize,
    /// Learning rate η (the same for every rule).
    #[config(default = 0.05)]
    pub lr: f64,
    /// Mini-batch size (two halves of half this size give g₁ and g₂).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Training epochs.
    #[config(default = 20)]
    pub epochs: usize,
    /// Tail index α of the Lomax multiplier Z (> 1, so that Z has a mean).
    #[config(default = 1.5)]
    pub alpha: f64,
    /// Scale of the Lomax multiplier: `P(|Z| > x) = (1 + x/scale)^{−α}`.
    #[config(default = 0.5)]
    pub noise_scale: f64,
    /// Truncation threshold b of the `truncated` rule (norm of the whole step).
    #[config(default = 0.3)]
    pub truncation: f64,
    /// Power iterations for the top Hessian eigenvalue (twice as many when the first pass
    /// finds a negative eigenvalue).
    #[config(default = 50)]
    pub power_iters: usize,
    /// Finite-difference step of the Hessian-vector products (in parameter space).
    #[config(default = 1e-3)]
    pub fd_eps: f64,
    /// Training examples (with their training labels) the sharpness is measured on.
    #[config(default = 2000)]
    pub probe_size: usize,
    /// Standard deviation σ of the Gaussian weight perturbations.
    #[config(default = 0.01)]
    pub perturb_sigma: f64,
    /// Perturbations averaged.
    #[config(default = 10)]
    pub perturb_samples: usize,
    /// Optimizer steps per `step()` call.
    #[config(default = 25)]
    pub steps_per_call: usize,
}

impl HeavyTailNetConfig {
    /// A small version for tests and a first look (seconds on a CPU). The effect needs the
    /// regime where plain SGD starts to memorize the corrupted labels: with 1,000 examples that
    /// is about 30 epochs (by 60 every rule has memorized them).
    pub fn quick() -> Self {
        Self::new()
            .with_data(DataSplitConfig::new().with_train_size(1000))
            .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![128])))
            .with_seeds(2)
            .with_epochs(30)
            .with_power_iters(30)
            .with_probe_size(500)
            .with_perturb_samples(5)
    }

    /// Checks every field; `field` is this config's path. Errors name the field and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let f = |name: &str| format!("{field}.{name}");
        let bad = |name: &str, msg: String| Err(EngineError::config(f(name), msg));
        self.data.validate(&f("data"))?;
        if !(0.0..1.0).contains(&self.label_noise) {
            return bad(
                "label_noise",
                format!("expected a fraction in [0, 1), found {}", self.label_noise),
            );
        }
        for (name, v, lo, hi) in [
            ("seeds", self.seeds, 1, 100),
            ("batch_size", self.batch_size, 2, 65_536),
            ("epochs", self.epochs, 1, 10_000),
            ("power_iters", self.power_iters, 1, 1000),
            ("probe_size", self.probe_size, 1, 1_000_000),
            ("perturb_samples", self.perturb_samples, 1, 10_000),
            ("steps_per_call", self.steps_per_call, 1, 1_000_000),
        ] {
            if !(lo..=hi).contains(&v) {
                return bad(name, format!("expected {lo} to {hi}, found {v}"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return bad(
                "lr",
                format!("expected a learning rate in (0, 10], found {}", self.lr),
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 1.0 && self.alpha <= 10.0) {
            return bad(
                "alpha",
                format!(
                    "expected a tail index in (1, 10] (the Lomax multiplier needs a mean), found {}",
                    self.alpha
                ),
            );
        }
        for (name, v) in [
            ("noise_scale", self.noise_scale),
            ("truncation", self.truncation),
            ("fd_eps", self.fd_eps),
            ("perturb_sigma", self.perturb_sigma),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, format!("expected a finite value > 0, found {v}"));
            }
        }
        Ok(())
    }
}

/// The data of a network part of an experiment and how it is split.
#[derive(Config, Debug, PartialEq)]
pub struct DataSplitConfig {
    /// The data set (an image or vector classification set).
    #[config(default = "DatasetSpec::Mnist10k")]
    pub dataset: DatasetSpec,
    /// Training examples (the first ones of the training split).
    #[config(default = 8000)]
    pub train_size: usize,
    /// Test fraction of the seeded split (for sets without their own test split).
    #[config(default = 0.2)]
    pub test_fraction: f64,
    /// Seed of the split.
    #[config(default = 0)]
    pub split_seed: u64,
}

impl DataSplitConfig {
    /// Checks the sizes and the fraction; `field` is this config's path.
    pub fn validate(&self, field: &str) -> Result<()> {
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(EngineError::config(
                format!("{field}.test_fraction"),
                format!(
                    "expected a fraction in (0, 1), found {}",
                    self.test_fraction
                ),
            ));
        }
        if !(2..=1_000_000).contains(&self.train_size) {
            return Err(EngineError::config(
                format!("{field}.train_size"),
                format!("expected 2 to 1000000, found {}", self.train_size),
            ));
        }
        Ok(())
    }

    /// Loads (train, test): the source's test split or a seeded one, and the first
    /// `train_size` training examples; `network` is checked against their shape (errors name
    /// `{field}.network`).
    pub fn load(&self, network: &NetworkConfig, field: &str) -> Result<(Dataset, Dataset)> {
        let (train, test) = self
            .dataset
            .load_train_test(2, self.test_fraction, self.split_seed)?;
        let train = train.take(self.train_size);
        network.validate(train.shape, &format!("{field}.network"))?;
        Ok((train, test))
    }
}

/// Test accuracy and training loss after one epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetEpoch {
    /// Epochs done.
    pub epoch: usize,
    /// Mean training loss (on the corrupted labels) over the epoch's mini-batches.
    pub train_loss: f64,
    /// Accuracy on the clean test set.
    pub test_acc: f64,
}

/// One training run: a rule and a seed, with its end-of-training measures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetRun {
    /// `sgd`, `heavy-tailed` or `truncated`.
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// The step at which the loss or the weights stopped being finite, if they did.
    pub diverged_at: Option<u64>,
    /// Accuracy on the clean test set.
    pub test_acc: f64,
    /// Accuracy on the training set against its (partly corrupted) training labels.
    pub train_acc: f64,
    /// Fraction of the corrupted examples predicted as their corrupted label (memorization).
    pub corrupted_fit: f64,
    /// Top Hessian eigenvalue of the training loss on the probe set.
    pub lambda_max: f64,
    /// `E L(w + σξ) − L(w)` on the probe set.
    pub perturb_increase: f64,
    /// Standard error of `perturb_increase` over the perturbations.
    pub perturb_se: f64,
    /// Fraction of steps the truncation shortened (0 for the other rules).
    pub clipped_fraction: f64,
    /// Mean norm of the step before truncation.
    pub mean_step_norm: f64,
    /// Largest norm of a step before truncation.
    pub max_step_norm: f64,
    /// ‖w‖ at the end.
    pub weight_norm: f64,
    /// Per-epoch curve.
    pub curve: Vec<NetEpoch>,
}

/// Means and 95% confidence half-widths of one rule's runs (diverged runs excluded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetArmSummary {
    /// The rule.
    pub arm: String,
    /// Runs finished.
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Test accuracy: mean and 95% CI half-width over seeds.
    pub test_acc: (f64, f64),
    /// Memorized fraction of corrupted labels.
    pub corrupted_fit: (f64, f64),
    /// Top Hessian eigenvalue.
    pub lambda_max: (f64, f64),
    /// Expected loss increase under weight perturbations.
    pub perturb_increase: (f64, f64),
}

/// The network part of the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeavyTailNetResults {
    /// The data set.
    pub dataset: String,
    /// The network, e.g. `mlp 784-256-10`.
    pub network: String,
    /// Training examples.
    pub train_size: usize,
    /// Clean test examples.
    pub test_size: usize,
    /// Training labels corrupted.
    pub corrupted: usize,
    /// Parameters of the network.
    pub params: usize,
    /// Every run, by seed then rule.
    pub runs: Vec<NetRun>,
    /// Per rule, once all its runs are done.
    pub arms: Vec<NetArmSummary>,
}

struct Active {
    job: (usize, usize),
    net: FlatNet,
    w: Vec<f32>,
    order_rng: SplitMix64,
    noise_rng: SplitMix64,
    order: Vec<usize>,
    cursor: usize,
    run: NetRun,
    loss_sum: f64,
    loss_batches: usize,
    step_norm_sum: f64,
    clipped: u64,
}

/// The network experiment's state machine (driven by [`super::SharpMinima`]).
pub struct HeavyTailNet {
    config: HeavyTailNetConfig,
    device: Device,
    train: Dataset,
    test: Dataset,
    labels: Vec<u32>,
    /// The corrupted training examples, labelled with their corrupted labels.
    corrupted: Dataset,
    stats: InputStats,
    probe: Batch,
    jobs: Vec<(usize, usize)>,
    next_job: usize,
    active: Option<Active>,
    /// The results so far.
    pub results: HeavyTailNetResults,
}

impl HeavyTailNet {
    /// Loads and corrupts the data and prepares the runs; `field` names the config in errors.
    pub fn new(config: HeavyTailNetConfig, device: &Device, field: &str) -> Result<Self> {
        config.validate(field)?;
        let (train, test) = config.data.load(&config.network, field)?;
        let k = train.num_classes as u64;
        let mut rng = SplitMix64::for_purpose(config.data.split_seed, "label corruption");
        let perm = rng.permutation(train.len());
        let n_bad = (train.len() as f64 * config.label_noise).round() as usize;
        let mut labels = train.labels.clone();
        for &i in &perm[..n_bad] {
            let shift = 1 + rng.below(k as usize - 1) as u32;
            labels[i] = (labels[i] + shift) % k as u32;
        }
        // The corrupted examples with their corrupted labels, for the memorization measure.
        let mut corrupted = train.subset(&perm[..n_bad]);
        corrupted.labels = perm[..n_bad].iter().map(|&i| labels[i]).collect();
        let probe_idx: Vec<usize> = (0..config.probe_size.min(train.len())).collect();
        let probe = Batch::new(&train, &probe_idx, &labels, device);
        let stats = InputStats::of(&train.features);
        let jobs = (0..config.seeds)
            .flat_map(|s| (0..NET_ARMS.len()).map(move |a| (s, a)))
            .collect();
        let params = config
            .network
            .init(train.shape, train.num_classes, stats, 0, device)
            .num_params();
        let results = HeavyTailNetResults {
            dataset: config.data.dataset.to_string(),
            network: config.network.describe(train.dim(), train.num_classes),
            train_size: train.len(),
            test_size: test.len(),
            corrupted: n_bad,
            params,
            runs: Vec::new(),
            arms: Vec::new(),
        };
        Ok(Self {
            config,
            device: device.clone(),
            train,
            test,
            labels,
            corrupted,
            stats,
            probe,
            jobs,
            next_job: 0,
            active: None,
            results,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HeavyTailNetConfig {
        &self.config
    }

    fn steps_per_run(&self) -> u64 {
        (self.config.epochs * self.train.len().div_ceil(self.config.batch_size)) as u64
    }

    fn start(&self, job: (usize, usize)) -> Active {
        let seed = self.config.seed + job.0 as u64;
        let model = self.config.network.init(
            self.train.shape,
            self.train.num_classes,
            self.stats,
            seed,
            &self.device.clone().autodiff(),
        );
        let net = FlatNet::new(model);
        let w = net.params();
        Active {
            job,
            net,
            w,
            // The same batch order for every rule of a seed; the noise differs by rule.
            order_rng: SplitMix64::for_purpose(seed, "heavy-tailed net batch order"),
            noise_rng: SplitMix64::new(derive_seed(
                seed,
                &format!("heavy-tailed net noise {}", NET_ARMS[job.1]),
            )),
            order: Vec::new(),
            cursor: 0,
            run: NetRun {
                arm: NET_ARMS[job.1].into(),
                seed,
                ..NetRun::default()
            },
            loss_sum: 0.0,
            loss_batches: 0,
            step_norm_sum: 0.0,
            clipped: 0,
        }
    }

    fn train_step(&mut self, a: &mut Active) -> Result<()> {
        let c = &self.config;
        if a.cursor == 0 {
            a.order = a.order_rng.permutation(self.train.len());
        }
        let end = (a.cursor + c.batch_size).min(a.order.len());
        let idx = &a.order[a.cursor..end];
        let half = idx.len().div_ceil(2);
        let (i1, i2) = idx.split_at(half);
        let b1 = Batch::new(&self.train, i1, &self.labels, &self.device);
        let (l1, g1) = a.net.loss_grad(&b1);
        let (l2, g2) = if i2.is_empty() {
            (l1, g1.clone())
        } else {
            a.net
                .loss_grad(&Batch::new(&self.train, i2, &self.labels, &self.device))
        };
        let n1 = i1.len() as f32;
        let n2 = i2.len() as f32;
        let loss = (l1 * f64::from(n1) + l2 * f64::from(n2)) / f64::from(n1 + n2);
        a.run.steps += 1;
        if !loss.is_finite() {
            a.run.diverged_at = Some(a.run.steps);
            return Ok(());
        }
        let lr = c.lr as f32;
        let z = if a.job.1 == 0 {
            0.0
        } else {
            symmetric_lomax(&mut a.noise_rng, c.alpha, c.noise_scale) as f32
        };
        let mut step: Vec<f32> = g1
            .iter()
            .zip(&g2)
            .map(|(&x, &y)| -lr * ((x * n1 + y * n2) / (n1 + n2) + z * (x - y)))
            .collect();
        let sn = norm(&step);
        a.step_norm_sum += sn;
        a.run.max_step_norm = a.run.max_step_norm.max(sn);
        if a.job.1 == 2 && truncate(&mut step, c.truncation) {
            a.clipped += 1;
        }
        a.w.iter_mut().zip(&step).for_each(|(w, s)| *w += s);
        if !a.w.iter().all(|x| x.is_finite()) {
            a.run.diverged_at = Some(a.run.steps);
            return Ok(());
        }
        a.net.set(&a.w)?;
        a.loss_sum += loss;
        a.loss_batches += 1;
        a.cursor = end;
        if a.cursor >= a.order.len() {
            a.cursor = 0;
            let test = evaluate(a.net.model(), &self.test, None, &self.device);
            a.run.curve.push(NetEpoch {
                epoch: a.run.curve.len() + 1,
                train_loss: a.loss_sum / a.loss_batches.max(1) as f64,
                test_acc: test.accuracy,
            });
            a.loss_sum = 0.0;
            a.loss_batches = 0;
        }
        Ok(())
    }

    fn measure(&mut self, mut a: Active) -> Result<()> {
        let c = &self.config;
        let mut run = std::mem::take(&mut a.run);
        run.clipped_fraction = a.clipped as f64 / run.steps.max(1) as f64;
        run.mean_step_norm = a.step_norm_sum / run.steps.max(1) as f64;
        run.weight_norm = norm(&a.w);
        if run.diverged_at.is_none() {
            let model = a.net.model();
            run.test_acc = evaluate(model, &self.test, None, &self.device).accuracy;
            run.train_acc = evaluate(model, &self.train, Some(&self.labels), &self.device).accuracy;
            run.corrupted_fit = if self.corrupted.is_empty() {
                f64::NAN
            } else {
                evaluate(model, &self.corrupted, None, &self.device).accuracy
            };
            let seed = derive_seed(run.seed, "sharpness probes");
            run.lambda_max = top_hessian_eigenvalue(
                &mut a.net,
                &a.w,
                &self.probe,
                c.power_iters,
                c.fd_eps,
                seed,
            )?;
            let (inc, se) = perturbation_sharpness(
                &mut a.net,
                &a.w,
                &self.probe,
                c.perturb_sigma,
                c.perturb_samples,
                seed,
            )?;
            run.perturb_increase = inc;
            run.perturb_se = se;
        } else {
            for v in [
                &mut run.test_acc,
                &mut run.train_acc,
                &mut run.corrupted_fit,
                &mut run.lambda_max,
                &mut run.perturb_increase,
                &mut run.perturb_se,
            ] {
                *v = f64::NAN;
            }
        }
        self.results.runs.push(run);
        Ok(())
    }

    fn summarize(&mut self) {
        self.results.arms = NET_ARMS
            .iter()
            .map(|arm| {
                let runs: Vec<&NetRun> =
                    self.results.runs.iter().filter(|r| r.arm == *arm).collect();
                let ok: Vec<&NetRun> = runs
                    .iter()
                    .copied()
                    .filter(|r| r.diverged_at.is_none())
                    .collect();
                let stat = |f: fn(&NetRun) -> f64| {
                    let v: Vec<f64> = ok.iter().map(|r| f(r)).collect();
                    mean_ci95(&v)
                };
                NetArmSummary {
                    arm: arm.to_string(),
                    runs: runs.len(),
                    diverged: runs.len() - ok.len(),
                    test_acc: stat(|r| r.test_acc),
                    corrupted_fit: stat(|r| r.corrupted_fit),
                    lambda_max: stat(|r| r.lambda_max),
                    perturb_increase: stat(|r| r.perturb_increase),
                }
            })
            .collect();
    }
}

impl NetworkPart for HeavyTailNet {
    const CSV: &'static str = "network_runs.csv";

    /// Optimizer steps of all runs (the unit of progress).
    fn total_units(&self) -> u64 {
        self.jobs.len() as u64 * self.steps_per_run()
    }

    /// Optimizer steps done.
    fn units_done(&self) -> u64 {
        let per = self.steps_per_run();
        match &self.active {
            Some(a) => (self.next_job as u64 - 1) * per + a.run.steps,
            None => self.next_job as u64 * per,
        }
    }

    /// Whether every run is done.
    fn is_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    /// What is running, for progress lines.
    fn phase(&self) -> String {
        match &self.active {
            Some(a) => format!(
                "network · seed {}/{} · {} · epoch {}/{}",
                a.job.0 + 1,
                self.config.seeds,
                NET_ARMS[a.job.1],
                a.run.curve.len(),
                self.config.epochs
            ),
            None if self.is_done() => "network · done".into(),
            None => "network · starting".into(),
        }
    }

    /// The latest training loss and test accuracy, for progress lines.
    fn latest(&self) -> (f64, f64) {
        self.active
            .as_ref()
            .and_then(|a| a.run.curve.last())
            .map_or((f64::NAN, f64::NAN), |e| (e.train_loss, e.test_acc))
    }

    /// Runs up to `steps_per_call` optimizer steps (and, at the end of a run, its measures).
    fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        let mut a = match self.active.take() {
            Some(a) => a,
            None => {
                let a = self.start(self.jobs[self.next_job]);
                self.next_job += 1;
                a
            }
        };
        let total = self.steps_per_run();
        let mut k = 0;
        while k < self.config.steps_per_call && a.run.steps < total && a.run.diverged_at.is_none() {
            self.train_step(&mut a)?;
            k += 1;
        }
        if a.run.steps >= total || a.run.diverged_at.is_some() {
            self.measure(a)?;
            if self.is_done() {
                self.summarize();
            }
        } else {
            self.active = Some(a);
        }
        Ok(())
    }

    /// Rows for metrics.csv: one per run.
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "arm",
            "seed",
            "steps",
            "diverged_at",
            "test_acc",
            "train_acc",
            "corrupted_fit",
            "lambda_max",
            "perturb_increase",
            "perturb_se",
            "clipped_fraction",
            "mean_step_norm",
            "max_step_norm",
            "weight_norm",
        ]);
        for r in &self.results.runs {
            t.push_row(vec![
                r.arm.clone(),
                r.seed.to_string(),
                r.steps.to_string(),
                r.diverged_at.map_or(String::new(), |s| s.to_string()),
                fmt_f64(r.test_acc),
                fmt_f64(r.train_acc),
                fmt_f64(r.corrupted_fit),
                fmt_f64(r.lambda_max),
                fmt_f64(r.perturb_increase),
                fmt_f64(r.perturb_se),
                fmt_f64(r.clipped_fraction),
                fmt_f64(r.mean_step_norm),
                fmt_f64(r.max_step_norm),
                fmt_f64(r.weight_norm),
            ]);
        }
        t
    }

    /// Plots: test accuracy per epoch (every run) and the end measures per rule.
    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if self.results.runs.is_empty() {
            return Ok(written);
        }
        let series = self
            .results
            .runs
            .iter()
            .map(|r| {
                Series::line(
                    format!("{}, seed {}", r.arm, r.seed),
                    r.curve
                        .iter()
                        .map(|e| (e.epoch as f64, e.test_acc))
                        .collect(),
                )
            })
            .collect();
        written.extend(
            LinePlot::single(
                format!(
                    "Test accuracy, {} with {:.0}% of training labels corrupted",
                    self.results.dataset,
                    self.config.label_noise * 100.0
                ),
                Axis::linear("epoch"),
                Axis::linear("clean test accuracy (fraction)").bounded(Bounds::UNIT),
                series,
            )
            .render(dir, "network_test_accuracy")?,
        );
        if !self.results.arms.is_empty() {
            let arms = &self.results.arms;
            // Intervals as (lo, hi) from the summaries' mean ± half-width, and each
            // non-diverged seed's value beside the bar when there are few.
            let bars =
                |name: &str, f: fn(&NetArmSummary) -> (f64, f64), per_run: fn(&NetRun) -> f64| {
                    let mut b = BarSeries::with_intervals(
                        name,
                        arms.iter().map(|a| f(a).0).collect(),
                        arms.iter()
                            .map(|a| {
                                let (m, h) = f(a);
                                (m - h, m + h)
                            })
                            .collect(),
                    );
                    b.seeds = arms
                        .iter()
                        .map(|a| {
                            let v: Vec<f64> = self
                                .results
                                .runs
                                .iter()
                                .filter(|r| r.arm == a.arm && r.diverged_at.is_none())
                                .map(per_run)
                                .collect();
                            if v.len() <= SEED_POINTS_MAX {
                                v
                            } else {
                                Vec::new()
                            }
                        })
                        .collect();
                    b
                };
            let groups: Vec<String> = arms.iter().map(|a| a.arm.clone()).collect();
            for (stem, title, y, series) in [
                (
                    "network_test_acc",
                    "Clean test accuracy (mean, 95% CI over seeds)",
                    Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
                    bars("test accuracy", |a| a.test_acc, |r| r.test_acc),
                ),
                (
                    "network_lambda_max",
                    "Top Hessian eigenvalue of the training loss",
                    Axis::linear("λ_max (loss / parameter²)").bounded(Bounds::NON_NEGATIVE),
                    bars("λ_max", |a| a.lambda_max, |r| r.lambda_max),
                ),
                (
                    "network_perturbation",
                    "Expected loss increase under Gaussian weight perturbation",
                    Axis::linear("E L(w + σξ) − L(w) (loss)"),
                    bars(
                        "loss increase",
                        |a| a.perturb_increase,
                        |r| r.perturb_increase,
                    ),
                ),
            ] {
                written.extend(
                    BarPlot {
                        title: title.into(),
                        x_title: "update rule".into(),
                        y,
                        groups: groups.clone(),
                        bars: vec![series],
                    }
                    .render(dir, stem)?,
                );
            }
        }
        Ok(written)
    }

    /// The report section.
    fn report(&self, md: &mut ReportMd) {
        let c = &self.config;
        let r = &self.results;
        md.heading(2, "Heavy-tailed noise in network training");
        md.paragraph(&format!(
            "{} ({} parameters) on {} training examples of {} with {} labels ({:.0}%) replaced \
             by another class, tested on {} clean examples. η = {}, mini-batches of {} (two \
             halves give g₁ and g₂), {} epochs, seeds {}..{}. Heavy-tailed rules add \
             Z·(g₁ − g₂) with Z symmetric Lomax (α = {}, scale {}); `truncated` clips the whole \
             step to norm b = {}. Sharpness on {} training examples: λ_max by {} power \
             iterations on finite-difference Hessian-vector products (ε = {}), and the mean \
             loss increase over {} Gaussian weight perturbations of σ = {}.",
            r.network,
            r.params,
            r.train_size,
            r.dataset,
            r.corrupted,
            c.label_noise * 100.0,
            r.test_size,
            c.lr,
            c.batch_size,
            c.epochs,
            c.seed,
            c.seed + c.seeds as u64 - 1,
            c.alpha,
            c.noise_scale,
            c.truncation,
            self.probe.len(),
            c.power_iters,
            c.fd_eps,
            c.perturb_samples,
            c.perturb_sigma,
        ));
        let pm = |v: (f64, f64), d: usize| {
            if v.1.is_finite() {
                format!("{:.d$} ± {:.d$}", v.0, v.1)
            } else {
                format!("{:.d$}", v.0)
            }
        };
        md.table(
            &[
                "rule",
                "runs (diverged)",
                "test accuracy",
                "corrupted labels memorized",
                "λ_max",
                "loss increase under perturbation",
            ],
            &r.arms
                .iter()
                .map(|a| {
                    vec![
                        a.arm.clone(),
                        format!("{} ({})", a.runs, a.diverged),
                        pm(a.test_acc, 4),
                        pm(a.corrupted_fit, 3),
                        pm(a.lambda_max, 2),
                        pm(a.perturb_increase, 4),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        md.paragraph("± is the 95% confidence half-width over seeds (t distribution).");
        md.table(
            &[
                "rule",
                "seed",
                "test acc",
                "train acc",
                "λ_max",
                "perturbation",
                "steps truncated",
                "mean ‖step‖",
                "max ‖step‖",
                "diverged at",
            ],
            &r.runs
                .iter()
                .map(|x| {
                    vec![
                        x.arm.clone(),
                        x.seed.to_string(),
                        format!("{:.4}", x.test_acc),
                        format!("{:.4}", x.train_acc),
                        format!("{:.2}", x.lambda_max),
                        format!("{:.4}", x.perturb_increase),
                        format!("{:.3}", x.clipped_fraction),
                        format!("{:.4}", x.mean_step_norm),
                        format!("{:.3}", x.max_step_norm),
                        x.diverged_at.map_or("-".into(), |s| s.to_string()),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}
