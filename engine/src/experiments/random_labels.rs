//! Random-label pretraining (Liu, Papailiopoulos, Achlioptas, "Bad Global Minima Exist and SGD
//! Can Reach Them", NeurIPS 2020).
//!
//! Phase A fits random labels (optionally on the paper's "confusion" set: R copies of each
//! training example, a fraction of input values zeroed per copy, each copy a random label).
//! Phase B retrains that model on the true labels. The baseline trains on the true labels from a
//! fresh initialization of the same seed. Two arms differ only in how they train on true labels:
//! **vanilla** (no momentum, no weight decay, no augmentation) and **regularized** (momentum,
//! weight decay, augmentation). The paper's claim: the vanilla arm's test accuracy drops after
//! random-label pretraining (a positive gap, baseline minus pretrained), the regularized arm's
//! does not.

use super::{
    Claim, Experiment, Interval, Preset, Progress, Registered, RunRequest, Verdict, to_json_value,
};
use crate::data::{Augment, Dataset, DatasetSpec, InputShape};
use crate::device::ComputeDevice;
use crate::error::{EngineError, Result};
use crate::model::{InputStats, MlpConfig, Network, NetworkConfig};
use crate::optim::SgdConfig;
use crate::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, Heatmap, HeatmapGrid, LinePlot, ReportMd, Series,
    fmt_f64, mean_ci95,
};
use crate::rng::SplitMix64;
use crate::train::{TrainRun, evaluate, flatten_params, l2_distance, l2_norm, predict};
use burn::config::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// When a training phase stops.
#[derive(Config, Debug, PartialEq)]
pub struct PhaseConfig {
    /// Epoch budget.
    #[config(default = 100)]
    pub max_epochs: usize,
    /// Stop once training accuracy (on the labels being fit, without augmentation) reaches this.
    #[config(default = 1.0)]
    pub target_train_acc: f64,
}

/// The paper's confusion set for phase A.
#[derive(Config, Debug, PartialEq)]
pub struct ConfusionConfig {
    /// Copies R of each training example.
    #[config(default = 4)]
    pub copies: usize,
    /// Fraction of input values zeroed in each copy, in [0, 1).
    #[config(default = 0.5)]
    pub zero_fraction: f64,
}

/// How one arm trains on the true labels (baseline and retraining alike).
#[derive(Config, Debug, PartialEq)]
pub struct ArmConfig {
    /// The optimizer.
    pub optim: SgdConfig,
    /// Data augmentation, if any.
    #[config(default = "None")]
    pub augment: Option<Augment>,
}

/// The full configuration of the random-labels experiment.
#[derive(Config, Debug, PartialEq)]
pub struct RandomLabelsConfig {
    /// Seed of the first repetition; repetition i uses `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Number of seeds (repetitions).
    #[config(default = 3)]
    pub seeds: usize,
    /// The dataset.
    #[config(default = "DatasetSpec::Mnist10k")]
    pub dataset: DatasetSpec,
    /// Use at most this many training examples (after the split).
    #[config(default = "None")]
    pub train_size: Option<usize>,
    /// Use at most this many test examples (after the split).
    #[config(default = "None")]
    pub test_size: Option<usize>,
    /// Test fraction for datasets without their own test split (seeded by `split_seed`).
    #[config(default = 0.2)]
    pub test_fraction: f64,
    /// Seed of the train/test split (fixed across repetitions so every seed sees the same split).
    #[config(default = 12345)]
    pub split_seed: u64,
    /// Number of points drawn for the 2-D synthetic sets.
    #[config(default = 600)]
    pub synthetic_size: usize,
    /// The network.
    #[config(default = "NetworkConfig::default()")]
    pub network: NetworkConfig,
    /// Mini-batch size.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Phase A: fitting random labels.
    #[config(default = "PhaseConfig::new().with_max_epochs(300).with_target_train_acc(0.999)")]
    pub random_phase: PhaseConfig,
    /// The optimizer for phase A (vanilla in the paper).
    #[config(default = "SgdConfig::new().with_lr(0.1)")]
    pub random_optim: SgdConfig,
    /// Phase A on the confusion set instead of the plain training set.
    #[config(default = "None")]
    pub confusion: Option<ConfusionConfig>,
    /// Phase B and the baseline: fitting the true labels.
    #[config(default = "PhaseConfig::new().with_max_epochs(50).with_target_train_acc(1.0)")]
    pub true_phase: PhaseConfig,
    /// The vanilla arm.
    #[config(default = "ArmConfig::new(SgdConfig::new().with_lr(0.05))")]
    pub vanilla: ArmConfig,
    /// The regularized arm.
    #[config(
        default = "ArmConfig::new(SgdConfig::new().with_lr(0.01).with_momentum(0.9).with_weight_decay(5e-4)).with_augment(Some(Augment { max_shift: 2, hflip: false }))"
    )]
    pub regularized: ArmConfig,
    /// Mini-batches per `step()` call (the unit of interleaving with a UI).
    #[config(default = 16)]
    pub batches_per_step: usize,
    /// Grid resolution of the decision-boundary plots (2-D data only).
    #[config(default = 120)]
    pub boundary_grid: usize,
}

impl RandomLabelsConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_seeds(2)
                .with_train_size(Some(1000))
                .with_test_size(Some(1000))
                .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256])))
                .with_batch_size(64)
                .with_random_phase(
                    PhaseConfig::new()
                        .with_max_epochs(80)
                        .with_target_train_acc(0.99),
                )
                .with_random_optim(SgdConfig::new().with_lr(0.05))
                .with_true_phase(PhaseConfig::new().with_max_epochs(30)),
        }
    }

    /// The preset for the 2-D toy sets (the paper's toy figure): a small training set, a wider
    /// network and long phases, since memorizing random labels of 2-D points takes many steps.
    pub fn toy_preset(preset: Preset, dataset: DatasetSpec) -> Self {
        let random_epochs = match preset {
            Preset::Paper => 1500,
            Preset::Quick => 300,
        };
        Self::new()
            .with_seeds(match preset {
                Preset::Paper => 3,
                Preset::Quick => 1,
            })
            .with_dataset(dataset)
            .with_synthetic_size(300)
            .with_network(NetworkConfig::Mlp(
                MlpConfig::new().with_hidden(vec![256, 256]),
            ))
            .with_batch_size(16)
            .with_random_optim(SgdConfig::new().with_lr(0.1))
            .with_random_phase(
                PhaseConfig::new()
                    .with_max_epochs(random_epochs)
                    .with_target_train_acc(1.0),
            )
            .with_vanilla(ArmConfig::new(SgdConfig::new().with_lr(0.1)))
            .with_regularized(ArmConfig::new(
                SgdConfig::new()
                    .with_lr(0.01)
                    .with_momentum(0.9)
                    .with_weight_decay(5e-3),
            ))
            .with_true_phase(PhaseConfig::new().with_max_epochs(random_epochs / 7))
            .with_batches_per_step(64)
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 || self.seeds > 1000 {
            return Err(EngineError::config(
                "seeds",
                format!("expected 1 to 1000 seeds, found {}", self.seeds),
            ));
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return Err(EngineError::config(
                "batch_size",
                format!("expected 1 to 65536, found {}", self.batch_size),
            ));
        }
        if self.batches_per_step == 0 {
            return Err(EngineError::config(
                "batches_per_step",
                "expected at least 1, found 0",
            ));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(EngineError::config(
                "test_fraction",
                format!(
                    "expected a fraction in (0, 1), found {}",
                    self.test_fraction
                ),
            ));
        }
        for (name, n) in [
            ("train_size", self.train_size),
            ("test_size", self.test_size),
        ] {
            if n == Some(0) {
                return Err(EngineError::config(
                    name,
                    "expected at least 1 example, found 0",
                ));
            }
        }
        if self.synthetic_size < 10 || self.synthetic_size > 1_000_000 {
            return Err(EngineError::config(
                "synthetic_size",
                format!(
                    "expected 10 to 1000000 points, found {}",
                    self.synthetic_size
                ),
            ));
        }
        if !(4..=1000).contains(&self.boundary_grid) {
            return Err(EngineError::config(
                "boundary_grid",
                format!(
                    "expected 4 to 1000 cells per side, found {}",
                    self.boundary_grid
                ),
            ));
        }
        for (name, p) in [
            ("random_phase", &self.random_phase),
            ("true_phase", &self.true_phase),
        ] {
            if p.max_epochs == 0 || p.max_epochs > 100_000 {
                return Err(EngineError::config(
                    format!("{name}.max_epochs"),
                    format!("expected 1 to 100000 epochs, found {}", p.max_epochs),
                ));
            }
            if !(p.target_train_acc > 0.0 && p.target_train_acc <= 1.0) {
                return Err(EngineError::config(
                    format!("{name}.target_train_acc"),
                    format!(
                        "expected an accuracy in (0, 1], found {}",
                        p.target_train_acc
                    ),
                ));
            }
        }
        if let Some(c) = &self.confusion {
            if c.copies == 0 || c.copies > 100 {
                return Err(EngineError::config(
                    "confusion.copies",
                    format!("expected 1 to 100 copies, found {}", c.copies),
                ));
            }
            if !(0.0..1.0).contains(&c.zero_fraction) {
                return Err(EngineError::config(
                    "confusion.zero_fraction",
                    format!("expected a fraction in [0, 1), found {}", c.zero_fraction),
                ));
            }
        }
        self.random_optim.validate("random_optim")?;
        for (name, arm) in [
            ("vanilla", &self.vanilla),
            ("regularized", &self.regularized),
        ] {
            arm.optim.validate(&format!("{name}.optim"))?;
            if let Some(a) = &arm.augment
                && a.max_shift > 8
            {
                return Err(EngineError::config(
                    format!("{name}.augment.max_shift"),
                    format!("expected a shift of 0 to 8 pixels, found {}", a.max_shift),
                ));
            }
        }
        Ok(())
    }
}

/// The two arms, in report order.
pub const ARMS: [&str; 2] = ["vanilla", "regularized"];

/// What one training run ended with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The seed of this repetition.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Whether the target training accuracy was reached within the budget.
    pub fitted: bool,
    /// Final training accuracy on the labels this run fits (no augmentation).
    pub train_acc: f64,
    /// Final training loss on those labels.
    pub train_loss: f64,
    /// Final test accuracy (true labels).
    pub test_acc: f64,
    /// Final test loss (true labels).
    pub test_loss: f64,
    /// Euclidean norm of all parameters at the end.
    pub weight_norm: f64,
    /// Euclidean distance of the parameters from where this run started.
    pub distance_from_start: f64,
    /// Euclidean distance of the parameters from the seed's fresh initialization.
    pub distance_from_init: f64,
}

/// One arm's results across seeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmResults {
    /// Test accuracy of the baseline, per seed (fractions in [0, 1]).
    pub baseline_test_acc: Vec<f64>,
    /// Test accuracy after random-label pretraining and retraining, per seed.
    pub pretrained_test_acc: Vec<f64>,
    /// Baseline minus pretrained test accuracy, per seed.
    pub gap_per_seed: Vec<f64>,
    /// Mean gap (null until a seed has finished).
    pub gap_mean: f64,
    /// 95% Student-t interval of the mean gap (null with fewer than two seeds).
    pub gap_ci95: [f64; 2],
    /// Full records of the baseline runs.
    pub baseline: Vec<RunRecord>,
    /// Full records of the retraining runs.
    pub pretrained: Vec<RunRecord>,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RandomLabelsResults {
    /// Always `random-labels`.
    pub experiment: String,
    /// `complete`, `running`, or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: crate::device::DeviceInfo,
    /// The dataset and how it was split.
    pub dataset: String,
    /// How train and test were obtained.
    pub split: String,
    /// Training examples used.
    pub train_size: usize,
    /// Test examples used.
    pub test_size: usize,
    /// The network, e.g. `mlp 784-512-512-10`.
    pub network: String,
    /// The seeds of the repetitions.
    pub seeds: Vec<u64>,
    /// Phase A (random labels) per seed.
    pub random_phase: Vec<RunRecord>,
    /// `vanilla` and `regularized`.
    pub arms: BTreeMap<String, ArmResults>,
}

/// One point of a learning curve, for live views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomLabelsPoint {
    /// The seed of the repetition.
    pub seed: u64,
    /// `-` (phase A), `vanilla` or `regularized`.
    pub arm: String,
    /// `random-labels`, `baseline` or `pretrained`.
    pub run: String,
    /// Epoch within the run.
    pub epoch: usize,
    /// Training accuracy on the labels being fit.
    pub train_acc: f64,
    /// Test accuracy on the true labels.
    pub test_acc: f64,
}

/// One row of metrics.csv.
#[derive(Clone, Debug, PartialEq)]
struct MetricRow {
    seed: u64,
    arm: &'static str,
    run: &'static str,
    epoch: usize,
    step: u64,
    lr: f64,
    train_loss: f64,
    train_acc: f64,
    test_loss: f64,
    test_acc: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobKind {
    RandomLabels,
    Baseline(usize),
    Retrain(usize),
}

#[derive(Clone, Copy, Debug)]
struct Job {
    seed_index: usize,
    kind: JobKind,
}

impl Job {
    fn arm_name(&self) -> &'static str {
        match self.kind {
            JobKind::RandomLabels => "-",
            JobKind::Baseline(a) | JobKind::Retrain(a) => ARMS[a],
        }
    }
    fn run_name(&self) -> &'static str {
        match self.kind {
            JobKind::RandomLabels => "random-labels",
            JobKind::Baseline(_) => "baseline",
            JobKind::Retrain(_) => "pretrained",
        }
    }
}

struct ActiveRun {
    job: usize,
    run: TrainRun,
    start_params: Vec<f32>,
    last_train_acc: f64,
    last_loss: f64,
}

/// The experiment's state machine.
pub struct RandomLabels {
    config: RandomLabelsConfig,
    device: ComputeDevice,
    train: Arc<Dataset>,
    test: Dataset,
    input_stats: InputStats,
    jobs: Vec<Job>,
    next_job: usize,
    active: Option<ActiveRun>,
    init_params: BTreeMap<usize, Vec<f32>>,
    pretrained: BTreeMap<usize, Network>,
    results: RandomLabelsResults,
    metrics: Vec<MetricRow>,
    epochs_done: u64,
    /// Decision-boundary panels of the first seed: title, grid values, labels of the fit.
    boundaries: Vec<(String, Vec<f64>, Vec<u32>)>,
    boundary_box: (f64, f64, f64, f64),
    failure: Option<String>,
}

impl RandomLabels {
    /// Loads the data and prepares the runs. Fails on an invalid config or unreadable data.
    pub fn new(config: RandomLabelsConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let loaded = config
            .dataset
            .load(config.synthetic_size, config.split_seed)?;
        let (mut train, mut test, split) = match loaded.test {
            Some(test) => (
                loaded.train,
                test,
                "the dataset's own train/test files".to_string(),
            ),
            None => {
                let (a, b) = loaded
                    .train
                    .split(config.test_fraction, config.split_seed)?;
                let split = format!(
                    "seeded random split, {:.0}% test, split seed {}",
                    config.test_fraction * 100.0,
                    config.split_seed
                );
                (a, b, split)
            }
        };
        if let Some(n) = config.train_size {
            train = train.take(n);
        }
        if let Some(n) = config.test_size {
            test = test.take(n);
        }
        config.network.validate(train.shape, "network")?;
        if train.len() < 2 {
            return Err(EngineError::config(
                "train_size",
                format!("need at least 2 training examples, have {}", train.len()),
            ));
        }
        let mut jobs = Vec::new();
        for s in 0..config.seeds {
            jobs.push(Job {
                seed_index: s,
                kind: JobKind::RandomLabels,
            });
            for a in 0..ARMS.len() {
                jobs.push(Job {
                    seed_index: s,
                    kind: JobKind::Baseline(a),
                });
                jobs.push(Job {
                    seed_index: s,
                    kind: JobKind::Retrain(a),
                });
            }
        }
        let boundary_box = bounding_box(&train, &test);
        let results = RandomLabelsResults {
            experiment: "random-labels".into(),
            status: "running".into(),
            device: device.info.clone(),
            dataset: config.dataset.to_string(),
            split,
            train_size: train.len(),
            test_size: test.len(),
            network: config.network.describe(train.dim(), train.num_classes),
            seeds: (0..config.seeds as u64).map(|i| config.seed + i).collect(),
            random_phase: Vec::new(),
            arms: ARMS
                .iter()
                .map(|a| ((*a).to_string(), ArmResults::default()))
                .collect(),
        };
        Ok(Self {
            config,
            device,
            input_stats: InputStats::of(&train.features),
            train: Arc::new(train),
            test,
            jobs,
            next_job: 0,
            active: None,
            init_params: BTreeMap::new(),
            pretrained: BTreeMap::new(),
            results,
            metrics: Vec::new(),
            epochs_done: 0,
            boundaries: Vec::new(),
            boundary_box,
            failure: None,
        })
    }

    /// Every run's learning curve so far (one point per evaluated epoch).
    pub fn curves(&self) -> Vec<RandomLabelsPoint> {
        self.metrics
            .iter()
            .map(|m| RandomLabelsPoint {
                seed: m.seed,
                arm: m.arm.to_string(),
                run: m.run.to_string(),
                epoch: m.epoch,
                train_acc: m.train_acc,
                test_acc: m.test_acc,
            })
            .collect()
    }

    /// The config.
    pub fn config(&self) -> &RandomLabelsConfig {
        &self.config
    }

    /// The typed summary so far.
    pub fn results(&self) -> &RandomLabelsResults {
        &self.results
    }

    /// The training set.
    pub fn train_data(&self) -> &Dataset {
        &self.train
    }

    fn seed_of(&self, seed_index: usize) -> u64 {
        self.config.seed + seed_index as u64
    }

    fn is_two_d(&self) -> bool {
        matches!(self.train.shape, InputShape::Vector { dim: 2 })
    }

    fn epoch_budget(&self, job: &Job) -> usize {
        match job.kind {
            JobKind::RandomLabels => self.config.random_phase.max_epochs,
            _ => self.config.true_phase.max_epochs,
        }
    }

    fn start_job(&mut self, index: usize) -> Result<ActiveRun> {
        let job = self.jobs[index];
        let seed = self.seed_of(job.seed_index);
        let device = &self.device.device;
        let phase = match job.kind {
            JobKind::RandomLabels => format!("seed {seed}, phase A on random labels"),
            _ => format!("seed {seed}, {} arm, {}", job.arm_name(), job.run_name()),
        };
        let fresh = || {
            self.config.network.init(
                self.train.shape,
                self.train.num_classes,
                self.input_stats,
                seed,
                &device.clone().autodiff(),
            )
        };
        let run = match job.kind {
            JobKind::RandomLabels => {
                let model = fresh();
                self.init_params
                    .insert(job.seed_index, flatten_params(&model));
                let (data, labels) = self.random_label_set(seed);
                TrainRun::new(
                    model,
                    &self.config.random_optim,
                    data,
                    labels,
                    device,
                    self.config.batch_size,
                    None,
                    seed,
                    phase,
                )
            }
            JobKind::Baseline(a) | JobKind::Retrain(a) => {
                let arm = if a == 0 {
                    &self.config.vanilla
                } else {
                    &self.config.regularized
                };
                let model = match job.kind {
                    JobKind::Retrain(_) => self.pretrained.get(&job.seed_index).cloned().expect(
                        "jobs are ordered so phase A of a seed finishes before its retraining",
                    ),
                    _ => fresh(),
                };
                let labels = Arc::new(self.train.labels.clone());
                TrainRun::new(
                    model,
                    &arm.optim,
                    self.train.clone(),
                    labels,
                    device,
                    self.config.batch_size,
                    arm.augment,
                    seed ^ 0x5eed_0000 ^ (a as u64 + 1),
                    phase,
                )
            }
        };
        let start_params = flatten_params(run.model());
        Ok(ActiveRun {
            job: index,
            run,
            start_params,
            last_train_acc: 0.0,
            last_loss: f64::NAN,
        })
    }

    /// The phase-A training set and its random labels (the confusion set when configured).
    fn random_label_set(&self, seed: u64) -> (Arc<Dataset>, Arc<Vec<u32>>) {
        let mut rng = SplitMix64::for_purpose(seed, "random labels");
        let k = self.train.num_classes;
        match &self.config.confusion {
            None => {
                let labels = (0..self.train.len()).map(|_| rng.below(k) as u32).collect();
                (self.train.clone(), Arc::new(labels))
            }
            Some(c) => {
                let d = self.train.dim();
                let n = self.train.len() * c.copies;
                let mut features = Vec::with_capacity(n * d);
                let mut labels = Vec::with_capacity(n);
                for _ in 0..c.copies {
                    for i in 0..self.train.len() {
                        for &v in self.train.example(i) {
                            let keep = rng.next_f64() >= c.zero_fraction;
                            features.push(if keep { v } else { 0.0 });
                        }
                        labels.push(rng.below(k) as u32);
                    }
                }
                let data = Dataset {
                    name: format!("{} (confusion set x{})", self.train.name, c.copies),
                    shape: self.train.shape,
                    features,
                    labels: labels.clone(),
                    num_classes: k,
                };
                (Arc::new(data), Arc::new(labels))
            }
        }
    }

    fn finish_job(&mut self, active: ActiveRun) {
        let job = self.jobs[active.job];
        let seed = self.seed_of(job.seed_index);
        let run = &active.run;
        let dev = &self.device.device;
        let train_eval = evaluate(run.model(), run.data(), Some(run.labels()), dev);
        let test_eval = evaluate(run.model(), &self.test, None, dev);
        let params = flatten_params(run.model());
        let init = self.init_params.get(&job.seed_index);
        let target = match job.kind {
            JobKind::RandomLabels => self.config.random_phase.target_train_acc,
            _ => self.config.true_phase.target_train_acc,
        };
        let record = RunRecord {
            seed,
            epochs: run.epochs(),
            steps: run.optim.steps(),
            fitted: train_eval.accuracy >= target,
            train_acc: train_eval.accuracy,
            train_loss: train_eval.loss,
            test_acc: test_eval.accuracy,
            test_loss: test_eval.loss,
            weight_norm: l2_norm(&params),
            distance_from_start: l2_distance(&params, &active.start_params),
            distance_from_init: init.map_or(f64::NAN, |i| l2_distance(&params, i)),
        };
        if self.is_two_d() && job.seed_index == 0 {
            let title = match job.kind {
                JobKind::RandomLabels => "after random labels".to_string(),
                JobKind::Baseline(a) => format!("{} from scratch", ARMS[a]),
                JobKind::Retrain(a) => format!("{} after random labels", ARMS[a]),
            };
            let grid = self.boundary_values(run.model());
            // Show the labels this model was fit on (the random ones after phase A), unless
            // the fit was on the larger confusion set.
            let labels = if run.labels().len() == self.train.len() {
                run.labels().to_vec()
            } else {
                self.train.labels.clone()
            };
            self.boundaries.push((title, grid, labels));
        }
        let budget = self.epoch_budget(&job) as u64;
        self.epochs_done += budget.saturating_sub(run.epochs() as u64);
        match job.kind {
            JobKind::RandomLabels => {
                self.pretrained.insert(job.seed_index, run.model().clone());
                self.results.random_phase.push(record);
            }
            JobKind::Baseline(a) => {
                let arm = self.results.arms.entry(ARMS[a].to_string()).or_default();
                arm.baseline.push(record);
            }
            JobKind::Retrain(a) => {
                let arm = self.results.arms.entry(ARMS[a].to_string()).or_default();
                arm.pretrained.push(record);
                // Both runs of this seed and arm are done: the gap is defined.
                self.pretrained_done(a);
            }
        }
        // Drop the phase-A model once both arms have retrained from it.
        if matches!(job.kind, JobKind::Retrain(a) if a + 1 == ARMS.len()) {
            self.pretrained.remove(&job.seed_index);
            self.init_params.remove(&job.seed_index);
        }
    }

    fn pretrained_done(&mut self, arm_index: usize) {
        let Some(arm) = self.results.arms.get_mut(ARMS[arm_index]) else {
            return;
        };
        arm.baseline_test_acc = arm.baseline.iter().map(|r| r.test_acc).collect();
        arm.pretrained_test_acc = arm.pretrained.iter().map(|r| r.test_acc).collect();
        arm.gap_per_seed = arm
            .baseline_test_acc
            .iter()
            .zip(&arm.pretrained_test_acc)
            .map(|(b, p)| b - p)
            .collect();
        let (mean, half) = mean_ci95(&arm.gap_per_seed);
        arm.gap_mean = mean;
        arm.gap_ci95 = [mean - half, mean + half];
    }

    fn boundary_values(&self, model: &Network) -> Vec<f64> {
        let n = self.config.boundary_grid;
        let (x0, x1, y0, y1) = self.boundary_box;
        let mut features = Vec::with_capacity(n * n * 2);
        for j in 0..n {
            // Row 0 is the bottom row (smallest y), as the heatmap expects.
            let y = y0 + (y1 - y0) * (j as f64 + 0.5) / n as f64;
            for i in 0..n {
                let x = x0 + (x1 - x0) * (i as f64 + 0.5) / n as f64;
                features.push(x as f32);
                features.push(y as f32);
            }
        }
        let grid = Dataset {
            name: "grid".into(),
            shape: InputShape::Vector { dim: 2 },
            features,
            labels: vec![0; n * n],
            num_classes: self.train.num_classes,
        };
        let logits = predict(model, &grid, &self.device.device);
        logits
            .chunks_exact(self.train.num_classes)
            .map(|row| {
                // Probability of class 1 by a two-class softmax.
                let (a, b) = (f64::from(row[0]), f64::from(row[1]));
                1.0 / (1.0 + (a - b).exp())
            })
            .collect()
    }

    fn total_units(&self) -> u64 {
        self.jobs.iter().map(|j| self.epoch_budget(j) as u64).sum()
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "seed",
            "arm",
            "run",
            "epoch",
            "step",
            "lr",
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
        ]);
        for m in &self.metrics {
            t.push_row(vec![
                m.seed.to_string(),
                m.arm.to_string(),
                m.run.to_string(),
                m.epoch.to_string(),
                m.step.to_string(),
                fmt_f64(m.lr),
                fmt_f64(m.train_loss),
                fmt_f64(m.train_acc),
                fmt_f64(m.test_loss),
                fmt_f64(m.test_acc),
            ]);
        }
        t
    }

    fn curves_plot(&self) -> LinePlot {
        let first = self.config.seed;
        let mut series = Vec::new();
        for (arm, run, label) in [
            ("-", "random-labels", "phase A: train acc on random labels"),
            ("vanilla", "baseline", "vanilla, from scratch"),
            ("vanilla", "pretrained", "vanilla, after random labels"),
            ("regularized", "baseline", "regularized, from scratch"),
            (
                "regularized",
                "pretrained",
                "regularized, after random labels",
            ),
        ] {
            let points: Vec<(f64, f64)> = self
                .metrics
                .iter()
                .filter(|m| m.seed == first && m.arm == arm && m.run == run)
                .map(|m| {
                    let acc = if run == "random-labels" {
                        m.train_acc
                    } else {
                        m.test_acc
                    };
                    (m.epoch as f64, acc)
                })
                .collect();
            if !points.is_empty() {
                series.push(Series::line(label, points));
            }
        }
        LinePlot::single(
            format!("Test accuracy while training on true labels (seed {first})"),
            Axis::linear("epoch"),
            Axis::linear("accuracy (fraction)").bounded(Bounds::UNIT),
            series,
        )
    }

    fn bars_plot(&self) -> BarPlot {
        let arm = |a: &str| self.results.arms.get(a).cloned().unwrap_or_default();
        let base: Vec<Vec<f64>> = ARMS.iter().map(|a| arm(a).baseline_test_acc).collect();
        let pre: Vec<Vec<f64>> = ARMS.iter().map(|a| arm(a).pretrained_test_acc).collect();
        BarPlot {
            title: "Test accuracy, mean over seeds with 95% interval".into(),
            x_title: "arm".into(),
            y: Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
            groups: ARMS.iter().map(|s| s.to_string()).collect(),
            bars: vec![
                BarSeries::mean_ci95("from scratch", &base),
                BarSeries::mean_ci95("after random labels", &pre),
            ],
        }
    }

    /// The gap (baseline minus pretrained test accuracy, in points) per arm: the mean with its
    /// 95% interval and each seed's gap as a dot, on an axis that starts at the data rather than
    /// at zero accuracy, so a one-point effect is visible.
    fn gap_plot(&self) -> BarPlot {
        let gaps: Vec<Vec<f64>> = ARMS
            .iter()
            .map(|arm| {
                self.results
                    .arms
                    .get(*arm)
                    .map(|a| a.gap_per_seed.iter().map(|g| g * 100.0).collect())
                    .unwrap_or_default()
            })
            .collect();
        BarPlot {
            title: "Gap: test accuracy from scratch minus after random labels".into(),
            x_title: "arm".into(),
            y: Axis::linear("gap (accuracy points)").bounded(Bounds {
                lo: -100.0,
                hi: 100.0,
            }),
            groups: ARMS.iter().map(|s| s.to_string()).collect(),
            bars: vec![BarSeries::mean_ci95("mean gap (95% CI)", &gaps)],
        }
    }

    fn report_body(&self, md: &mut ReportMd, files: &[String]) {
        let r = &self.results;
        md.paragraph(
            "Liu, Papailiopoulos, Achlioptas (NeurIPS 2020): SGD started from a model that has \
             memorized random labels reaches a global minimum of the true-label training loss \
             that generalizes worse (a positive gap, baseline minus pretrained test accuracy) \
             unless training uses explicit regularization (momentum, weight decay, augmentation).",
        );
        md.paragraph(&format!(
            "Status: **{}**. Dataset {} ({}), {} training and {} test examples, network {}, \
             device: {}.",
            r.status, r.dataset, r.split, r.train_size, r.test_size, r.network, r.device
        ));
        md.heading(2, "Gap per arm");
        let mut rows = Vec::new();
        for arm in ARMS {
            let a = r.arms.get(arm).cloned().unwrap_or_default();
            let (b, _) = mean_ci95(&a.baseline_test_acc);
            let (p, _) = mean_ci95(&a.pretrained_test_acc);
            rows.push(vec![
                arm.to_string(),
                a.gap_per_seed.len().to_string(),
                pct(b),
                pct(p),
                format!("{:+.2} pts", a.gap_mean * 100.0),
                format!(
                    "[{:+.2}, {:+.2}]",
                    a.gap_ci95[0] * 100.0,
                    a.gap_ci95[1] * 100.0
                ),
            ]);
        }
        md.table(
            &[
                "arm",
                "seeds",
                "baseline test acc",
                "pretrained test acc",
                "gap (mean)",
                "gap 95% CI",
            ],
            &rows,
        );
        md.heading(2, "Runs");
        let mut rows = Vec::new();
        let mut push = |arm: &str, run: &str, rec: &RunRecord| {
            rows.push(vec![
                rec.seed.to_string(),
                arm.to_string(),
                run.to_string(),
                rec.epochs.to_string(),
                if rec.fitted { "yes" } else { "no" }.to_string(),
                pct(rec.train_acc),
                pct(rec.test_acc),
                format!("{:.2}", rec.weight_norm),
                format!("{:.2}", rec.distance_from_init),
            ]);
        };
        for rec in &r.random_phase {
            push("-", "random labels", rec);
        }
        for arm in ARMS {
            if let Some(a) = r.arms.get(arm) {
                for rec in &a.baseline {
                    push(arm, "from scratch", rec);
                }
                for rec in &a.pretrained {
                    push(arm, "after random labels", rec);
                }
            }
        }
        md.table(
            &[
                "seed",
                "arm",
                "run",
                "epochs",
                "fitted",
                "train acc",
                "test acc",
                "‖w‖",
                "‖w − w₀‖",
            ],
            &rows,
        );
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "-".into()
    }
}

fn bounding_box(a: &Dataset, b: &Dataset) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for d in [a, b] {
        if d.dim() != 2 {
            return (-1.0, 1.0, -1.0, 1.0);
        }
        for p in d.features.chunks_exact(2) {
            let (x, y) = (f64::from(p[0]), f64::from(p[1]));
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    let (px, py) = ((x1 - x0).max(1e-3) * 0.1, (y1 - y0).max(1e-3) * 0.1);
    (x0 - px, x1 + px, y0 - py, y1 + py)
}

impl Registered for RandomLabels {
    type Config = RandomLabelsConfig;
    fn preset_config(request: &RunRequest) -> RandomLabelsConfig {
        match &request.dataset {
            Some(d) if d.is_two_d() => RandomLabelsConfig::toy_preset(request.preset, d.clone()),
            _ => RandomLabelsConfig::preset(request.preset),
        }
    }
    fn validate_config(config: &RandomLabelsConfig) -> Result<()> {
        config.validate()
    }
    fn build(config: RandomLabelsConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for RandomLabels {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        let mut active = match self.active.take() {
            Some(a) => a,
            None => {
                let a = self.start_job(self.next_job)?;
                self.next_job += 1;
                a
            }
        };
        let outcome = match active.run.train_batches(self.config.batches_per_step) {
            Ok(o) => o,
            Err(e) => {
                self.failure = Some(format!("{e:#}"));
                self.results.status = format!("stopped: {e:#}");
                self.active = Some(active);
                return Err(e);
            }
        };
        active.last_loss = outcome.mean_loss;
        if outcome.epoch_finished {
            self.epochs_done += 1;
            let job = self.jobs[active.job];
            let dev = &self.device.device;
            let run = &active.run;
            let tr = evaluate(run.model(), run.data(), Some(run.labels()), dev);
            let te = evaluate(run.model(), &self.test, None, dev);
            active.last_train_acc = tr.accuracy;
            self.metrics.push(MetricRow {
                seed: self.seed_of(job.seed_index),
                arm: job.arm_name(),
                run: job.run_name(),
                epoch: run.epochs(),
                step: run.optim.steps(),
                lr: run.optim.current_lr(),
                train_loss: tr.loss,
                train_acc: tr.accuracy,
                test_loss: te.loss,
                test_acc: te.accuracy,
            });
            let (target, budget) = match job.kind {
                JobKind::RandomLabels => (
                    self.config.random_phase.target_train_acc,
                    self.config.random_phase.max_epochs,
                ),
                _ => (
                    self.config.true_phase.target_train_acc,
                    self.config.true_phase.max_epochs,
                ),
            };
            if tr.accuracy >= target || run.epochs() >= budget {
                let progress = self.progress_with(Some(&active));
                self.finish_job(active);
                if self.is_done() {
                    self.results.status = "complete".into();
                }
                return Ok(progress);
            }
        }
        let progress = self.progress_with(Some(&active));
        self.active = Some(active);
        Ok(progress)
    }

    fn is_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    fn progress(&self) -> Progress {
        self.progress_with(self.active.as_ref())
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
        if !self.metrics.is_empty() {
            written.extend(self.curves_plot().render(dir, "accuracy_curves")?);
        }
        if self
            .results
            .arms
            .values()
            .any(|a| !a.gap_per_seed.is_empty())
        {
            written.extend(self.gap_plot().render(dir, "gap")?);
            written.extend(self.bars_plot().render(dir, "test_accuracy")?);
        }
        if !self.boundaries.is_empty() {
            let (x0, x1, y0, y1) = self.boundary_box;
            let n = self.config.boundary_grid;
            let order = [
                "vanilla from scratch",
                "after random labels",
                "vanilla after random labels",
                "regularized after random labels",
                "regularized from scratch",
            ];
            let mut panels = Vec::new();
            for name in order {
                if let Some((t, v, labels)) = self.boundaries.iter().find(|(t, ..)| t == name) {
                    let points = self
                        .train
                        .features
                        .chunks_exact(2)
                        .zip(labels)
                        .map(|(p, &l)| (f64::from(p[0]), f64::from(p[1]), l))
                        .collect();
                    panels.push(Heatmap {
                        title: t.clone(),
                        x_title: "x₁ (feature)".into(),
                        y_title: "x₂ (feature)".into(),
                        x_range: (x0, x1),
                        y_range: (y0, y1),
                        nx: n,
                        ny: n,
                        values: v.clone(),
                        value_label: "P(class 1)".into(),
                        points,
                    });
                }
            }
            let grid = HeatmapGrid {
                title: format!(
                    "Decision boundaries, seed {} (points: the labels each model was fit on)",
                    self.config.seed
                ),
                columns: 3,
                panels,
            };
            written.extend(grid.render(dir, "decision_boundaries")?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, files);
    }
}

impl RandomLabels {
    fn progress_with(&self, active: Option<&ActiveRun>) -> Progress {
        let (phase, epoch, loss, accuracy) = match active {
            Some(a) => {
                let job = self.jobs[a.job];
                let what = match job.kind {
                    JobKind::RandomLabels => "fit random labels".to_string(),
                    JobKind::Baseline(x) => format!("{} · true labels from scratch", ARMS[x]),
                    JobKind::Retrain(x) => format!("{} · true labels after random", ARMS[x]),
                };
                (
                    format!("seed {}/{} · {what}", job.seed_index + 1, self.config.seeds),
                    a.run.epochs(),
                    a.last_loss,
                    a.last_train_acc,
                )
            }
            None if self.is_done() => ("done".to_string(), 0, f64::NAN, f64::NAN),
            None => ("starting".to_string(), 0, f64::NAN, f64::NAN),
        };
        Progress {
            phase,
            done: self.epochs_done.min(self.total_units()),
            total: self.total_units(),
            unit: "epochs".into(),
            epoch,
            loss,
            accuracy,
        }
    }
}

impl RandomLabels {
    /// The claims on the results so far: the vanilla gap is positive; regularization removes it.
    fn claims_so_far(&self) -> Vec<Claim> {
        let gap = |arm: &str| {
            let g = self
                .results
                .arms
                .get(arm)
                .map(|a| {
                    a.gap_per_seed
                        .iter()
                        .map(|g| 100.0 * g)
                        .collect::<Vec<f64>>()
                })
                .unwrap_or_default();
            (g.len(), Interval::mean_ci95(&g))
        };
        let (nv, v) = gap("vanilla");
        let (nr, r) = gap("regularized");
        let vanilla = Claim::new(
            "vanilla-gap-positive",
            "Without explicit regularization, SGD from a model pretrained on random labels ends \
             at a minimum that generalizes worse than SGD from scratch.",
            "holds when the 95% t-interval of the mean gap (baseline minus pretrained test \
             accuracy, points) lies above 0; fails when it lies at or below 0",
        );
        let vanilla = if nv < 2 {
            vanilla.not_measured("fewer than two seeds finished")
        } else {
            let (verdict, reason) = v.versus(0.0, Verdict::Holds, Verdict::Fails);
            vanilla.decide(
                format!("gap {} pts over {nv} seeds", v.show(2)),
                verdict,
                reason,
            )
        };
        let regularized = Claim::new(
            "regularized-gap-removed",
            "With momentum, weight decay and augmentation, random-label pretraining does not hurt \
             generalization.",
            "holds when the regularized gap's 95% interval reaches 0 or lies below the vanilla \
             one; fails when it lies above 0 and overlaps or exceeds the vanilla one",
        );
        let regularized = if nr < 2 || nv < 2 {
            regularized.not_measured("fewer than two seeds finished")
        } else if !r.is_finite() {
            regularized.not_measured("no interval")
        } else {
            let measured = format!(
                "regularized gap {} pts, vanilla {} pts",
                r.show(2),
                v.show(2)
            );
            if r.lo <= 0.0 {
                regularized.decide(measured, Verdict::Holds, "interval reaches 0")
            } else if r.hi < v.lo {
                regularized.decide(
                    measured,
                    Verdict::Holds,
                    "interval lies below the vanilla one",
                )
            } else {
                regularized.decide(
                    measured,
                    Verdict::Fails,
                    "interval lies above 0 and not below the vanilla one",
                )
            }
        };
        vec![vanilla, regularized]
    }
}
