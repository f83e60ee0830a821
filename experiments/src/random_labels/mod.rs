//! Random-label pretraining (Liu, Papailiopoulos, Achlioptas, "Bad Global Minima Exist and SGD
//! Can Reach Them", NeurIPS 2020), with the authors' protocol (chao1224/BadGlobalMinima).
//!
//! Phase A fits random labels on the authors' confusion set (R copies of each training example,
//! a fixed share of input values zeroed per copy, each copy a random label) with plain SGD,
//! stopping at 100% training accuracy as their script does. Phase B retrains that model on the
//! true labels; the baseline trains on the true labels from a fresh initialization of the same
//! seed. Both run a fixed epoch budget with one base learning rate and one step schedule for
//! every arm. The arms differ only in the regularizers added to SGD for phase B and the
//! baseline: none (vanilla), momentum, weight decay, augmentation, or all three. The paper's
//! claim: the vanilla arm's test accuracy drops after random-label pretraining (a positive gap,
//! baseline minus pretrained), the fully regularized arm's does not. Gaps are computed over the
//! seeds whose two runs both reached the training-accuracy target (a global minimum of the
//! true-label training loss, the claim's subject); the others are counted, not averaged in.

mod claims;
mod config;
mod report;
mod run;

pub use claims::random_labels_claims;
pub use config::{ConfusionConfig, PhaseConfig, REGULARIZERS, RandomLabelsConfig, arm_name};

use super::{Claim, Experiment, JobQueue, Progress, Registered, RunRequest, to_json_value};
use crate::{MemoryEstimate, classifier_memory, dataset_size};
use serde::{Deserialize, Serialize};
use sgdlab_engine::data::{Dataset, InputShape};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{InputStats, Network};
use sgdlab_engine::report::ReportMd;
use sgdlab_engine::train::{TrainRun, TrainRunState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one training run ended with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The seed of this repetition.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Whether the training-accuracy target was reached (phase A: its stop criterion; true
    /// labels: `fit_target`).
    pub fitted: bool,
    /// Relative change of the clean training loss over the last `plateau_epochs` epochs (NaN
    /// when the run was shorter than the window, or stopped early before it).
    #[serde(default)]
    pub loss_change: f64,
    /// Whether that change is below `plateau_tolerance` (the gate of arms with augmentation).
    #[serde(default)]
    pub plateaued: bool,
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
    /// The regularizers this arm adds to SGD.
    pub regularizers: Vec<String>,
    /// Test accuracy of the baseline, per finished seed (fractions in [0, 1]).
    pub baseline_test_acc: Vec<f64>,
    /// Test accuracy after random-label pretraining and retraining, per finished seed.
    pub pretrained_test_acc: Vec<f64>,
    /// The gate a run of this arm must pass to count: `fit` (final clean training accuracy ≥
    /// `fit_target`) or, for arms with augmentation, `plateau` (training loss plateaued).
    #[serde(default)]
    pub gate: String,
    /// The seeds whose phase A reached its target and whose baseline and retrained runs both
    /// passed the arm's gate.
    pub fitted_seeds: Vec<u64>,
    /// Finished seeds where phase A or one of the two runs did not (left out of the gap).
    pub unfitted_seeds: Vec<u64>,
    /// Baseline minus pretrained test accuracy, per fitted seed.
    pub gap_per_seed: Vec<f64>,
    /// Mean gap over the fitted seeds (NaN until one has finished).
    pub gap_mean: f64,
    /// 95% Student-t interval of the mean gap (NaN with fewer than two fitted seeds).
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
    pub device: sgdlab_engine::device::DeviceInfo,
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
    /// The arms by name (`vanilla`, `+momentum`, …, `all three`).
    pub arms: BTreeMap<String, ArmResults>,
    /// The arm names in config order.
    pub arm_order: Vec<String>,
    /// The equivalence margin δ of `regularized-gap-removed`, accuracy points (from the config,
    /// fixed before the run).
    #[serde(default)]
    pub equivalence_margin: f64,
}

/// One point of a learning curve, for live views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomLabelsPoint {
    /// The seed of the repetition.
    pub seed: u64,
    /// `-` (phase A) or the arm's name.
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct MetricRow {
    seed: u64,
    arm: String,
    run: String,
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

struct ActiveRun {
    job: usize,
    run: TrainRun,
    start_params: Vec<f32>,
    last_train_acc: f64,
    last_loss: f64,
}

/// The run in progress in a checkpoint (its start parameters are rebuilt by starting the job).
#[derive(Serialize, Deserialize)]
struct ActiveRunState {
    job: usize,
    run: TrainRunState,
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
    arm_names: Vec<String>,
    queue: JobQueue<Job, ActiveRun>,
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

/// What a random-labels checkpoint keeps: the runs finished and what they left (the initial
/// and phase-A parameters a later retraining needs, flattened), the metrics so far and the run
/// in progress.
#[derive(Serialize, Deserialize)]
struct RandomLabelsState {
    finished: usize,
    active: Option<ActiveRunState>,
    init_params: BTreeMap<usize, Vec<f32>>,
    pretrained: BTreeMap<usize, Vec<f32>>,
    results: RandomLabelsResults,
    metrics: Vec<MetricRow>,
    epochs_done: u64,
    boundaries: Vec<(String, Vec<f64>, Vec<u32>)>,
}

impl RandomLabels {
    /// Every run's learning curve so far (one point per evaluated epoch).
    pub fn curves(&self) -> Vec<RandomLabelsPoint> {
        self.metrics
            .iter()
            .map(|m| RandomLabelsPoint {
                seed: m.seed,
                arm: m.arm.clone(),
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

    fn seed_of(&self, seed_index: usize) -> u64 {
        self.config.seed + seed_index as u64
    }

    fn is_two_d(&self) -> bool {
        matches!(self.train.shape, InputShape::Vector { dim: 2 })
    }
}

impl Registered for RandomLabels {
    type Config = RandomLabelsConfig;
    fn preset_config(request: &RunRequest) -> RandomLabelsConfig {
        match &request.dataset {
            Some(d) if d.is_two_d() => RandomLabelsConfig::toy_preset(request.preset, d.clone()),
            Some(d @ sgdlab_engine::data::DatasetSpec::Cifar10(_)) => {
                // The authors' CIFAR augmentation: crops with padding 4 and horizontal flips.
                let mut c = RandomLabelsConfig::preset(request.preset);
                c.augment = sgdlab_engine::data::Augment {
                    max_shift: 4,
                    hflip: true,
                };
                c.dataset = d.clone();
                c
            }
            _ => RandomLabelsConfig::preset(request.preset),
        }
    }
    fn validate_config(config: &RandomLabelsConfig) -> Result<()> {
        config.validate()
    }
    fn memory(c: &RandomLabelsConfig) -> MemoryEstimate {
        // One model trains at a time; each seed keeps its initial and phase-A parameters for
        // the retraining.
        classifier_memory(
            &c.network,
            "network",
            dataset_size(&c.dataset, c.synthetic_size),
            c.batch_size as u64,
            "batch_size",
            1 + 2 * c.seeds as u64,
        )
    }
    fn build(config: RandomLabelsConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for RandomLabels {
    fn step(&mut self) -> Result<Progress> {
        self.advance()
    }

    fn is_done(&self) -> bool {
        self.queue.is_done()
    }

    fn progress(&self) -> Progress {
        self.progress_with(self.queue.active().map(|(_, _, a)| a))
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.config)
    }

    fn results_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.results)
    }

    fn claims(&self) -> Vec<Claim> {
        random_labels_claims(&self.results)
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.write_tables_and_plots(dir)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_body(md);
    }

    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        self.saved_state()
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let s: RandomLabelsState = super::decode(state, "random-labels checkpoint")?;
        self.queue.resume_at(s.finished)?;
        let mut pretrained = BTreeMap::new();
        for (seed_index, w) in s.pretrained {
            pretrained.insert(seed_index, self.network_at(seed_index, &w)?);
        }
        self.pretrained = pretrained;
        self.init_params = s.init_params;
        self.results = s.results;
        self.metrics = s.metrics;
        self.epochs_done = s.epochs_done;
        self.boundaries = s.boundaries;
        if let Some(a) = s.active {
            if a.job != s.finished {
                return Err(EngineError::config(
                    "<checkpoint>",
                    format!("run {} in progress after {} finished", a.job, s.finished),
                ));
            }
            let mut active = self.start_job(a.job)?;
            active.run.restore(&a.run)?;
            active.last_train_acc = a.last_train_acc;
            active.last_loss = a.last_loss;
            self.queue.resume_active(a.job, active)?;
        }
        Ok(())
    }
}
