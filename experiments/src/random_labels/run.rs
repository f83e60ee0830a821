//! The random-labels runs: loading data, laying out the jobs (per seed: phase A, then every
//! arm's baseline and retraining), training one job in bounded chunks with the step schedule,
//! and recording finished runs.

use super::{
    ActiveRun, ActiveRunState, ArmResults, Job, JobKind, MetricRow, RandomLabels,
    RandomLabelsConfig, RandomLabelsResults, RandomLabelsState, RunRecord, arm_name,
};
use crate::{JobQueue, Progress};
use sgdlab_engine::data::{Dataset, InputShape};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{InputStats, Network};
use sgdlab_engine::report::mean_ci95;
use sgdlab_engine::rng::SplitMix64;
use sgdlab_engine::train::{TrainRun, evaluate, flatten_params, l2_distance, predict, weight_norm};
use std::collections::BTreeMap;
use std::sync::Arc;

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
        let images = matches!(train.shape, InputShape::Image { .. });
        if !images
            && let Some(i) = config
                .arms
                .iter()
                .position(|a| a.iter().any(|r| r == "augmentation"))
        {
            return Err(EngineError::config(
                format!("arms[{i}]"),
                "expected no `augmentation` for data that are not images (shifts and flips \
                 need an image)",
            ));
        }
        let arm_names: Vec<String> = config.arms.iter().map(|a| arm_name(a)).collect();
        let mut jobs = Vec::new();
        for s in 0..config.seeds {
            jobs.push(Job {
                seed_index: s,
                kind: JobKind::RandomLabels,
            });
            for a in 0..config.arms.len() {
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
            arms: config
                .arms
                .iter()
                .zip(&arm_names)
                .map(|(regs, name)| {
                    (
                        name.clone(),
                        ArmResults {
                            regularizers: regs.clone(),
                            gate: if gated_by_plateau(regs) {
                                "plateau"
                            } else {
                                "fit"
                            }
                            .into(),
                            gap_mean: f64::NAN,
                            gap_ci95: [f64::NAN; 2],
                            ..ArmResults::default()
                        },
                    )
                })
                .collect(),
            arm_order: arm_names.clone(),
            equivalence_margin: config.equivalence_margin,
        };
        Ok(Self {
            config,
            device,
            input_stats: InputStats::of(&train.features),
            train: Arc::new(train),
            test,
            arm_names,
            queue: JobQueue::new(jobs),
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

    fn arm_label(&self, job: &Job) -> String {
        match job.kind {
            JobKind::RandomLabels => "-".into(),
            JobKind::Baseline(a) | JobKind::Retrain(a) => self.arm_names[a].clone(),
        }
    }

    fn run_name(job: &Job) -> &'static str {
        match job.kind {
            JobKind::RandomLabels => "random-labels",
            JobKind::Baseline(_) => "baseline",
            JobKind::Retrain(_) => "pretrained",
        }
    }

    fn epoch_budget(&self, job: &Job) -> usize {
        match job.kind {
            JobKind::RandomLabels => self.config.random_phase.epochs,
            _ => self.config.true_phase.epochs,
        }
    }

    /// The optimizer config of a job at the start of epoch `epoch`.
    fn optim_at(&self, job: &Job, epoch: usize) -> sgdlab_engine::optim::SgdConfig {
        let lr = self.config.lr_after(epoch, self.epoch_budget(job));
        match job.kind {
            JobKind::RandomLabels => self.config.arm_optim(&[], lr),
            JobKind::Baseline(a) | JobKind::Retrain(a) => {
                self.config.arm_optim(&self.config.arms[a], lr)
            }
        }
    }

    pub(super) fn start_job(&mut self, index: usize) -> Result<ActiveRun> {
        let job = self.queue.jobs()[index];
        let seed = self.seed_of(job.seed_index);
        let device = &self.device.device;
        let phase = match job.kind {
            JobKind::RandomLabels => format!("seed {seed}, phase A on random labels"),
            _ => format!(
                "seed {seed}, {} arm, {}",
                self.arm_label(&job),
                Self::run_name(&job)
            ),
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
        let optim = self.optim_at(&job, 0);
        let run = match job.kind {
            JobKind::RandomLabels => {
                let model = fresh();
                self.init_params
                    .insert(job.seed_index, flatten_params(&model));
                let (data, labels) = self.random_label_set(seed);
                TrainRun::new(
                    model,
                    &optim,
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
                let model = match job.kind {
                    JobKind::Retrain(_) => self.pretrained.get(&job.seed_index).cloned().expect(
                        "jobs are ordered so phase A of a seed finishes before its retraining",
                    ),
                    _ => fresh(),
                };
                let labels = Arc::new(self.train.labels.clone());
                TrainRun::new(
                    model,
                    &optim,
                    self.train.clone(),
                    labels,
                    device,
                    self.config.batch_size,
                    self.config.arm_augment(&self.config.arms[a]),
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

    /// The phase-A training set and its random labels: the authors' confusion set when
    /// configured (R copies of every example, exactly ⌊share·d⌋ input values zeroed at random
    /// positions in each copy, a uniform random label per copy).
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
                let zeroed = (d as f64 * c.zero_fraction) as usize;
                let n = self.train.len() * c.copies;
                let mut features = Vec::with_capacity(n * d);
                let mut labels = Vec::with_capacity(n);
                for i in 0..self.train.len() {
                    for _ in 0..c.copies {
                        let start = features.len();
                        features.extend_from_slice(self.train.example(i));
                        for &j in &rng.permutation(d)[..zeroed] {
                            features[start + j] = 0.0;
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

    /// One bounded chunk of work.
    pub(super) fn advance(&mut self) -> Result<Progress> {
        use crate::Experiment;
        if self.is_done() {
            return Ok(self.progress());
        }
        let Some((j, _, active)) = self.queue.take() else {
            return Ok(self.progress());
        };
        let mut active = match active {
            Some(a) => a,
            None => self.start_job(j)?,
        };
        let outcome = match active.run.train_batches(self.config.batches_per_step) {
            Ok(o) => o,
            Err(e) => {
                self.failure = Some(format!("{e:#}"));
                self.results.status = format!("stopped: {e:#}");
                self.queue.park(j, active);
                return Err(e);
            }
        };
        active.last_loss = outcome.mean_loss;
        if outcome.epoch_finished {
            self.epochs_done += 1;
            let job = self.queue.jobs()[active.job];
            let budget = self.epoch_budget(&job);
            let epochs = active.run.epochs();
            if epochs % self.config.eval_every != 0 && epochs < budget {
                // Not an evaluation point: train on with the schedule.
                let next = self.optim_at(&job, epochs);
                active.run.set_optim_config(next);
                let progress = self.progress_with(Some(&active));
                self.queue.park(j, active);
                return Ok(progress);
            }
            let dev = &self.device.device;
            let run = &active.run;
            let tr = evaluate(run.model(), run.data(), Some(run.labels()), dev);
            let te = evaluate(run.model(), &self.test, None, dev);
            active.last_train_acc = tr.accuracy;
            self.metrics.push(MetricRow {
                seed: self.seed_of(job.seed_index),
                arm: self.arm_label(&job),
                run: Self::run_name(&job).into(),
                epoch: run.epochs(),
                step: run.optim.steps(),
                lr: run.optim.current_lr(),
                train_loss: tr.loss,
                train_acc: tr.accuracy,
                test_loss: te.loss,
                test_acc: te.accuracy,
            });
            let stop_at = match job.kind {
                JobKind::RandomLabels => self.config.random_phase.stop_at_train_acc,
                _ => self.config.true_phase.stop_at_train_acc,
            };
            if stop_at.is_some_and(|t| tr.accuracy >= t) || epochs >= budget {
                let progress = self.progress_with(Some(&active));
                self.finish_job(active);
                if self.is_done() {
                    self.results.status = "complete".into();
                }
                return Ok(progress);
            }
            let next = self.optim_at(&job, epochs);
            active.run.set_optim_config(next);
        }
        let progress = self.progress_with(Some(&active));
        self.queue.park(j, active);
        Ok(progress)
    }

    /// The checkpoint now: the finished runs, what they left, and the run in progress.
    pub(super) fn saved_state(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let finished = self.queue.finished();
        let active = self.queue.active().map(|(_, _, a)| ActiveRunState {
            job: a.job,
            run: a.run.state(),
            last_train_acc: a.last_train_acc,
            last_loss: a.last_loss,
        });
        if finished == 0 && active.is_none() {
            return Ok(None);
        }
        let state = RandomLabelsState {
            finished,
            active,
            init_params: self.init_params.clone(),
            pretrained: self
                .pretrained
                .iter()
                .map(|(k, m)| (*k, flatten_params(m)))
                .collect(),
            results: self.results.clone(),
            metrics: self.metrics.clone(),
            epochs_done: self.epochs_done,
            boundaries: self.boundaries.clone(),
        };
        Ok(Some((finished, crate::encode(&state)?)))
    }

    /// The network of seed `seed_index` (as its runs start it) moved to the parameters `w`.
    pub(super) fn network_at(&self, seed_index: usize, w: &[f32]) -> Result<Network> {
        let model = self.config.network.init(
            self.train.shape,
            self.train.num_classes,
            self.input_stats,
            self.seed_of(seed_index),
            &self.device.device.clone().autodiff(),
        );
        let mut flat = sgdlab_engine::probe::FlatNet::new(model);
        flat.set(w)?;
        Ok(flat.model().clone())
    }

    fn finish_job(&mut self, active: ActiveRun) {
        let job = self.queue.jobs()[active.job];
        let seed = self.seed_of(job.seed_index);
        let run = &active.run;
        let dev = &self.device.device;
        let train_eval = evaluate(run.model(), run.data(), Some(run.labels()), dev);
        let test_eval = evaluate(run.model(), &self.test, None, dev);
        let params = flatten_params(run.model());
        let init = self.init_params.get(&job.seed_index);
        let target = match job.kind {
            JobKind::RandomLabels => self.config.random_phase.stop_at_train_acc.unwrap_or(1.0),
            _ => self.config.fit_target,
        };
        // The plateau gate: the clean training loss now against its value `plateau_epochs`
        // before the end (the latest evaluation at or before that epoch).
        let arm = self.arm_label(&job);
        let name = Self::run_name(&job);
        let window_start = run.epochs().saturating_sub(self.config.plateau_epochs);
        let earlier = self
            .metrics
            .iter()
            .filter(|m| m.seed == seed && m.arm == arm && m.run == name && m.epoch <= window_start)
            .max_by_key(|m| m.epoch)
            .map(|m| m.train_loss);
        let loss_change = earlier.map_or(f64::NAN, |l0| {
            (train_eval.loss - l0).abs() / l0.abs().max(1e-12)
        });
        let record = RunRecord {
            seed,
            epochs: run.epochs(),
            steps: run.optim.steps(),
            fitted: train_eval.accuracy >= target,
            loss_change,
            plateaued: loss_change < self.config.plateau_tolerance,
            train_acc: train_eval.accuracy,
            train_loss: train_eval.loss,
            test_acc: test_eval.accuracy,
            test_loss: test_eval.loss,
            weight_norm: weight_norm(run.model()),
            distance_from_start: l2_distance(&params, &active.start_params),
            distance_from_init: init.map_or(f64::NAN, |i| l2_distance(&params, i)),
        };
        if self.is_two_d() && job.seed_index == 0 {
            let title = match job.kind {
                JobKind::RandomLabels => "after random labels".to_string(),
                JobKind::Baseline(a) => format!("{} from scratch", self.arm_names[a]),
                JobKind::Retrain(a) => format!("{} after random labels", self.arm_names[a]),
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
                if let Some(arm) = self.results.arms.get_mut(&self.arm_names[a]) {
                    arm.baseline.push(record);
                }
            }
            JobKind::Retrain(a) => {
                if let Some(arm) = self.results.arms.get_mut(&self.arm_names[a]) {
                    arm.pretrained.push(record);
                    // Both runs of this seed and arm are done: the gap is defined.
                    summarize_arm(arm, &self.results.random_phase);
                }
            }
        }
        // Drop the phase-A model once every arm has retrained from it.
        if matches!(job.kind, JobKind::Retrain(a) if a + 1 == self.config.arms.len()) {
            self.pretrained.remove(&job.seed_index);
            self.init_params.remove(&job.seed_index);
        }
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
        self.queue.total_units(|j| self.epoch_budget(j) as u64)
    }

    pub(super) fn progress_with(&self, active: Option<&ActiveRun>) -> Progress {
        use crate::Experiment;
        let (phase, epoch, loss, accuracy) = match active {
            Some(a) => {
                let job = self.queue.jobs()[a.job];
                let what = match job.kind {
                    JobKind::RandomLabels => "fit random labels".to_string(),
                    JobKind::Baseline(x) => {
                        format!("{} · true labels from scratch", self.arm_names[x])
                    }
                    JobKind::Retrain(x) => {
                        format!("{} · true labels after random", self.arm_names[x])
                    }
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

/// Whether an arm's runs are gated by the plateau of their clean training loss (arms with
/// augmentation, whose objective is the augmented set) rather than by reaching `fit_target`.
pub fn gated_by_plateau(regularizers: &[String]) -> bool {
    regularizers.iter().any(|r| r == "augmentation")
}

/// Recomputes an arm's per-seed accuracies and its gap over the seeds that pass the gate: phase
/// A of the seed reached its target (when `random_phase` records it), and both runs passed the
/// arm's gate (reached the training-accuracy target, or for arms with augmentation, a plateau
/// of the training loss).
pub fn summarize_arm(arm: &mut ArmResults, random_phase: &[RunRecord]) {
    arm.baseline_test_acc = arm.baseline.iter().map(|r| r.test_acc).collect();
    arm.pretrained_test_acc = arm.pretrained.iter().map(|r| r.test_acc).collect();
    arm.fitted_seeds.clear();
    arm.unfitted_seeds.clear();
    arm.gap_per_seed.clear();
    let plateau = gated_by_plateau(&arm.regularizers);
    let passes = |r: &RunRecord| if plateau { r.plateaued } else { r.fitted };
    for (b, p) in arm.baseline.iter().zip(&arm.pretrained) {
        let phase_a = random_phase
            .iter()
            .find(|a| a.seed == b.seed)
            .is_none_or(|a| a.fitted);
        if phase_a && passes(b) && passes(p) {
            arm.fitted_seeds.push(b.seed);
            arm.gap_per_seed.push(b.test_acc - p.test_acc);
        } else {
            arm.unfitted_seeds.push(b.seed);
        }
    }
    let (mean, half) = mean_ci95(&arm.gap_per_seed);
    arm.gap_mean = mean;
    arm.gap_ci95 = [mean - half, mean + half];
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
