//! The RNN experiment's runs: laying out the jobs, training one run in bounded chunks, and
//! summarizing finished runs into the scaling summaries.

use super::{
    Job, MetricRow, Rnn, RnnConfig, RnnResults, RnnRun, RnnSweep, length_samples, samples_needed,
    summarize,
};
use crate::{JobQueue, Progress};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use sgdlab_engine::data::{SequenceData, TargetKind};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::ElmanRnn;
use sgdlab_engine::optim::{Sgd, SgdState};
use sgdlab_engine::rng::{SplitMix64, derive_seed};

/// The run in progress.
pub(super) struct Active {
    job: usize,
    model: Option<ElmanRnn>,
    optim: Sgd,
    train: SequenceData,
    test: SequenceData,
    w0: Vec<f32>,
    init_test_rel_error: f64,
    order: Vec<usize>,
    cursor: usize,
    epoch: usize,
    rng: SplitMix64,
    last_loss: f64,
}

/// The run in progress in a checkpoint: what [`Rnn::start`] does not rebuild.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct ActiveState {
    params: Vec<f32>,
    optim: SgdState,
    order: Vec<usize>,
    cursor: usize,
    epoch: usize,
    rng: SplitMix64,
    last_loss: f64,
}

impl Active {
    /// Its exact state, for a checkpoint.
    pub(super) fn state(&self) -> ActiveState {
        let model = self
            .model
            .as_ref()
            .expect("the model is only taken out during a step");
        ActiveState {
            params: sgdlab_engine::train::flatten_params(model),
            optim: self.optim.state(model),
            order: self.order.clone(),
            cursor: self.cursor,
            epoch: self.epoch,
            rng: self.rng.clone(),
            last_loss: self.last_loss,
        }
    }
}

fn seq_tensor(data: &SequenceData, idx: &[usize], device: &Device) -> (Tensor<3>, Tensor<3>) {
    let (l, d) = (data.seq_len, data.inputs);
    let mut x = Vec::with_capacity(idx.len() * l * d);
    let mut y = Vec::with_capacity(idx.len() * l);
    for &i in idx {
        x.extend_from_slice(&data.x[i * l * d..(i + 1) * l * d]);
        y.extend_from_slice(&data.y[i * l..(i + 1) * l]);
    }
    (
        Tensor::from_data(TensorData::new(x, [idx.len(), l, d]), device),
        Tensor::from_data(TensorData::new(y, [idx.len(), l, 1]), device),
    )
}

/// The positions that are scored: 2..=L (all of them when L = 1). Position 1's output is
/// B·ReLU(A x₁), which W cannot change, so with only W trained it is left out of the loss and of
/// every error, for both targets alike.
fn scored<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let l = t.dims()[1];
    if l >= 2 { t.narrow(1, 1, l - 1) } else { t }
}

/// The variance of the scored targets (positions 2..=L).
fn scored_variance(data: &SequenceData) -> f64 {
    let l = data.seq_len;
    let skip = usize::from(l >= 2);
    let vals: Vec<f64> = data
        .y
        .chunks_exact(l.max(1))
        .flat_map(|row| row[skip..].iter().map(|&v| f64::from(v)))
        .collect();
    let n = vals.len().max(1) as f64;
    let mean = vals.iter().sum::<f64>() / n;
    vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
}

/// Mean squared error of `model` on `data` over positions 2..=L, relative to the variance of
/// those targets (no autodiff).
pub fn relative_error(model: &ElmanRnn, data: &SequenceData, device: &Device) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0f64;
    let chunk = 512;
    let mut start = 0;
    while start < data.n {
        let end = (start + chunk).min(data.n);
        let idx: Vec<usize> = (start..end).collect();
        let (x, y) = seq_tensor(data, &idx, &device);
        let err = scored(model.forward(x) - y).square().sum();
        sum += f64::from(err.into_scalar::<f32>());
        start = end;
    }
    let positions = if data.seq_len >= 2 {
        data.seq_len - 1
    } else {
        1
    };
    let mse = sum / (data.n * positions).max(1) as f64;
    mse / scored_variance(data).max(1e-12)
}

fn recurrent_weights(model: &ElmanRnn) -> Vec<f32> {
    // Parameters are created as f32 by this crate.
    model
        .w
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .expect("parameters are f32 tensors")
}

fn movement(a: &Active) -> f64 {
    let Some(model) = a.model.as_ref() else {
        return f64::NAN;
    };
    let w = recurrent_weights(model);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, x0) in w.iter().zip(&a.w0) {
        num += f64::from(x - x0).powi(2);
        den += f64::from(*x0).powi(2);
    }
    (num / den.max(1e-30)).sqrt()
}

impl Rnn {
    /// Draws the concepts and lays out the runs. Fails on an invalid config.
    pub fn new(config: RnnConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let max_len = config.max_len();
        let concepts: Vec<_> = (0..config.seeds)
            .map(|s| config.concept.init(config.seed + s as u64, max_len))
            .collect();
        let targets: &[TargetKind] = if config.control {
            &[TargetKind::Concept, TargetKind::Parity]
        } else {
            &[TargetKind::Concept]
        };
        let mut jobs = Vec::new();
        for seed_index in 0..config.seeds {
            for &target in targets {
                for &l in &config.seq_lens {
                    for &n in &config.sample_sizes {
                        jobs.push(Job {
                            sweep: RnnSweep::Samples,
                            target,
                            seed_index,
                            seq_len: l,
                            width: config.network.width,
                            samples: n,
                        });
                    }
                }
            }
        }
        for &m in &config.widths {
            jobs.push(Job {
                sweep: RnnSweep::Width,
                target: TargetKind::Concept,
                seed_index: 0,
                seq_len: config.width_sweep_seq_len,
                width: m,
                samples: config.width_sweep_samples,
            });
        }
        let linear_unexplained = config
            .seq_lens
            .iter()
            .map(|&l| {
                (
                    l,
                    concepts[0].linear_unexplained(l, TargetKind::Concept, 2000, config.seed),
                )
            })
            .collect();
        let results = RnnResults {
            experiment: "rnn".into(),
            status: "running".into(),
            device: device.info.clone(),
            trainable: format!("{:?}", config.network.trainable).to_lowercase(),
            error_threshold: config.error_threshold,
            seeds: (0..config.seeds as u64).map(|i| config.seed + i).collect(),
            linear_unexplained,
            ..Default::default()
        };
        Ok(Self {
            config,
            device,
            concepts,
            queue: JobQueue::new(jobs),
            metrics: Vec::new(),
            results,
            steps_done: 0,
        })
    }

    fn steps_of(&self, job: &Job) -> u64 {
        (job.samples.div_ceil(self.config.batch_size) * self.config.epochs) as u64
    }

    fn total_steps(&self) -> u64 {
        self.queue.total_units(|j| self.steps_of(j))
    }

    /// One bounded chunk of work: starts the next run if none is active, trains it for
    /// `batches_per_step` steps (or to the end of an epoch), and records it when finished.
    pub(super) fn advance(&mut self) -> Result<Progress> {
        use crate::Experiment;
        if self.is_done() {
            return Ok(self.progress());
        }
        let Some((j, _, a)) = self.queue.take() else {
            return Ok(self.progress());
        };
        let mut a = a.unwrap_or_else(|| self.start(j));
        let done = match self.train(&mut a, self.config.batches_per_step) {
            Ok(d) => d,
            Err(e) => {
                self.results.status = format!("stopped: {e:#}");
                self.queue.park(j, a);
                return Err(e);
            }
        };
        let progress = self.progress_with(Some(&a));
        if done {
            self.finish(a);
            if self.is_done() {
                self.results.status = "complete".into();
            }
        } else {
            self.queue.park(j, a);
        }
        Ok(progress)
    }

    fn start(&self, index: usize) -> Active {
        let job = self.queue.jobs()[index];
        let c = &self.config;
        let seed = self.seed_of(job.seed_index);
        let largest = match job.sweep {
            RnnSweep::Samples => c.sample_sizes.iter().copied().max().unwrap_or(job.samples),
            RnnSweep::Width => job.samples,
        };
        // Nested training sets: the n-sample set is a prefix of the largest one for this L.
        let tag = job.target.as_str();
        let train_seed = derive_seed(seed, &format!("train {tag} L={}", job.seq_len));
        let test_seed = derive_seed(seed, &format!("test {tag} L={}", job.seq_len));
        let concept = &self.concepts[job.seed_index];
        let train = concept
            .sample(largest, job.seq_len, job.target, train_seed)
            .take(job.samples);
        let test = concept.sample(c.test_size, job.seq_len, job.target, test_seed);
        let dev = self.device.device.clone().autodiff();
        let mut rng = SplitMix64::for_purpose(seed ^ (job.width as u64), "rnn weights");
        let model =
            c.network
                .clone()
                .with_width(job.width)
                .init(concept.inputs(), 1, &mut rng, &dev);
        let init_test_rel_error = relative_error(&model, &test, &self.device.device);
        Active {
            job: index,
            w0: recurrent_weights(&model),
            model: Some(model),
            optim: c
                .optim
                .clone()
                .with_lr(c.optim.lr * 512.0 / (job.width * job.seq_len) as f64)
                .init(),
            train,
            test,
            init_test_rel_error,
            order: Vec::new(),
            cursor: 0,
            epoch: 0,
            rng: SplitMix64::for_purpose(seed + index as u64, "rnn batch order"),
            last_loss: f64::NAN,
        }
    }

    /// Job `index` continued from `saved`: started afresh (its data, initial weights and
    /// initial error are rebuilt), then moved to the saved parameters, optimizer state and
    /// batch position.
    pub(super) fn resume_run(&self, index: usize, saved: &ActiveState) -> Result<Active> {
        let mut a = self.start(index);
        let model = a.model.take().expect("a started run holds its model");
        if saved.params.len() != model.num_params()
            || saved.cursor > saved.order.len()
            || saved.order.iter().any(|&i| i >= a.train.n)
        {
            return Err(EngineError::config(
                "<checkpoint>",
                "the saved run does not fit this config's model and data",
            ));
        }
        let model = sgdlab_engine::snapshot::load_params(model, &saved.params)?;
        a.optim = Sgd::from_state(&saved.optim, &model, &self.device.device)?;
        a.model = Some(model);
        a.order = saved.order.clone();
        a.cursor = saved.cursor;
        a.epoch = saved.epoch;
        a.rng = saved.rng.clone();
        a.last_loss = saved.last_loss;
        Ok(a)
    }

    /// Trains up to `max_batches` steps; returns whether the run finished its epochs.
    fn train(&mut self, a: &mut Active, max_batches: usize) -> Result<bool> {
        let dev = self.device.device.clone().autodiff();
        for _ in 0..max_batches {
            if a.cursor == 0 {
                a.order = a.rng.permutation(a.train.n);
            }
            let end = (a.cursor + self.config.batch_size).min(a.order.len());
            let (x, y) = seq_tensor(&a.train, &a.order[a.cursor..end], &dev);
            let model = a
                .model
                .take()
                .expect("the model is only taken out during a step");
            let l = a.train.seq_len;
            let n = (end - a.cursor) * if l >= 2 { l - 1 } else { 1 };
            let loss = scored(model.forward(x) - y)
                .square()
                .sum()
                .mul_scalar(0.5 / n as f64);
            let mut grads = loss.backward();
            let value = f64::from(loss.into_scalar::<f32>());
            if !value.is_finite() {
                a.model = Some(model);
                let job = self.queue.jobs()[a.job];
                return Err(EngineError::Diverged {
                    step: a.optim.steps(),
                    phase: format!(
                        "rnn {} L={} m={} n={} epoch {}",
                        job.target.as_str(),
                        job.seq_len,
                        job.width,
                        job.samples,
                        a.epoch
                    ),
                    loss: value,
                });
            }
            a.model = Some(a.optim.step(model, &mut grads));
            a.last_loss = value;
            self.steps_done += 1;
            a.cursor = end;
            if a.cursor >= a.order.len() {
                a.cursor = 0;
                a.epoch += 1;
                let model = a.model.as_ref().expect("the model is back after the step");
                let test_rel_error = relative_error(model, &a.test, &self.device.device);
                self.metrics.push(MetricRow {
                    job: a.job,
                    epoch: a.epoch,
                    train_loss: a.last_loss,
                    test_rel_error,
                    relative_movement: movement(a),
                });
                return Ok(a.epoch >= self.config.epochs);
            }
        }
        Ok(false)
    }

    fn finish(&mut self, a: Active) {
        let job = self.queue.jobs()[a.job];
        let Some(model) = a.model.as_ref() else {
            return;
        };
        let dev = &self.device.device;
        self.results.runs.push(RnnRun {
            sweep: job.sweep,
            target: job.target,
            seed: self.seed_of(job.seed_index),
            seq_len: job.seq_len,
            width: job.width,
            samples: job.samples,
            steps: a.optim.steps(),
            train_rel_error: relative_error(model, &a.train, dev),
            test_rel_error: relative_error(model, &a.test, dev),
            init_test_rel_error: a.init_test_rel_error,
            relative_movement: movement(&a),
        });
        self.summarize_runs();
    }

    /// The sample-sweep curve (samples, test error) of one seed, target and length.
    pub(super) fn sample_curve(
        &self,
        target: TargetKind,
        seed: u64,
        l: usize,
    ) -> Vec<(usize, f64)> {
        let mut curve: Vec<(usize, f64)> = self
            .results
            .runs
            .iter()
            .filter(|r| {
                r.sweep == RnnSweep::Samples
                    && r.target == target
                    && r.seed == seed
                    && r.seq_len == l
            })
            .map(|r| (r.samples, r.test_rel_error))
            .collect();
        curve.sort_by_key(|p| p.0);
        curve
    }

    /// Rebuilds the scaling summaries from the finished runs: a length enters once every seed
    /// has finished its whole sample sweep there.
    fn summarize_runs(&mut self) {
        let thr = self.config.error_threshold;
        let sizes = self.config.sample_sizes.len();
        let max_samples = self.config.sample_sizes.iter().copied().max().unwrap_or(0);
        let scaling = |target: TargetKind| {
            let lengths = self
                .config
                .seq_lens
                .iter()
                .filter_map(|&l| {
                    let curves: Vec<Vec<(usize, f64)>> = self
                        .results
                        .seeds
                        .iter()
                        .map(|&s| self.sample_curve(target, s, l))
                        .collect();
                    curves.iter().all(|c| c.len() == sizes).then(|| {
                        length_samples(
                            l,
                            curves.iter().map(|c| samples_needed(c, thr)).collect(),
                            max_samples,
                        )
                    })
                })
                .collect();
            summarize(target.as_str(), lengths, self.config.max_degree)
        };
        let concept = scaling(TargetKind::Concept);
        let control = self.config.control.then(|| scaling(TargetKind::Parity));
        self.results.scaling = concept;
        self.results.control = control;
    }

    pub(super) fn progress_with(&self, a: Option<&Active>) -> Progress {
        use crate::Experiment;
        let (phase, epoch, loss) = match a {
            Some(a) => {
                let j = self.queue.jobs()[a.job];
                (
                    format!(
                        "run {}/{} · {:?} · {} · seed {} · L {} · m {} · n {}",
                        a.job + 1,
                        self.queue.jobs().len(),
                        j.sweep,
                        j.target.as_str(),
                        self.seed_of(j.seed_index),
                        j.seq_len,
                        j.width,
                        j.samples
                    ),
                    a.epoch,
                    a.last_loss,
                )
            }
            None if self.is_done() => ("done".into(), 0, f64::NAN),
            None => ("starting".into(), 0, f64::NAN),
        };
        Progress {
            phase,
            done: self.steps_done,
            total: self.total_steps(),
            unit: "steps".into(),
            epoch,
            loss,
            accuracy: f64::NAN,
        }
    }
}
