//! The RNN experiment's runs: laying out the jobs, training one one-pass run in bounded chunks
//! (fresh sequences every step, evaluations on a geometric grid of sequences seen, stopping at
//! the confirmed crossing or the cap), and summarizing finished runs into the scaling summaries.

use super::{
    Job, MetricRow, Rnn, RnnConfig, RnnResults, RnnRun, RnnSweep, WidthCheck, length_samples,
    summarize,
};
use crate::{JobQueue, Progress};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use sgdlab_engine::data::{SequenceData, TargetKind};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{ElmanRnn, ElmanRnnConfig, RnnTrainable};
use sgdlab_engine::optim::{Sgd, SgdState};
use sgdlab_engine::rng::{SplitMix64, counter_hash, derive_seed};

/// The run in progress.
pub(super) struct Active {
    job: usize,
    model: Option<ElmanRnn>,
    optim: Sgd,
    test: SequenceData,
    linear_floor: f64,
    threshold: f64,
    w0: Vec<f32>,
    init_test_rel_error: f64,
    /// Seeds the fresh training batches: batch k is drawn from counter_hash(stream, 0, k).
    stream: u64,
    /// Sequences seen.
    seen: usize,
    /// The next evaluation point's index.
    next_eval: usize,
    /// The evaluations so far (sequences seen, relative test error).
    evals: Vec<(usize, f64)>,
    last_loss: f64,
    /// Set when the run has finished: the samples needed (`None`: censored).
    outcome: Option<Option<f64>>,
    /// Whether it stopped on a non-finite loss.
    diverged: bool,
}

/// The run in progress in a checkpoint: what [`Rnn::start`] does not rebuild.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct ActiveState {
    params: Vec<f32>,
    optim: SgdState,
    seen: usize,
    next_eval: usize,
    evals: Vec<(usize, f64)>,
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
            seen: self.seen,
            next_eval: self.next_eval,
            evals: self.evals.clone(),
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

/// The positions that are scored: the last only for the lookup control, else 2..=L (all of
/// them when L = 1). Position 1's output is B·ReLU(A x₁), which W cannot change, so with only W
/// trained it is left out of the loss and of every error.
fn scored<const D: usize>(t: Tensor<D>, last_only: bool) -> Tensor<D> {
    let l = t.dims()[1];
    if last_only {
        t.narrow(1, l - 1, 1)
    } else if l >= 2 {
        t.narrow(1, 1, l - 1)
    } else {
        t
    }
}

fn scored_positions(l: usize, last_only: bool) -> std::ops::Range<usize> {
    if last_only {
        l.saturating_sub(1)..l
    } else {
        usize::from(l >= 2)..l
    }
}

/// The variance of the scored targets.
fn scored_variance(data: &SequenceData, last_only: bool) -> f64 {
    let l = data.seq_len;
    let range = scored_positions(l, last_only);
    let vals: Vec<f64> = data
        .y
        .chunks_exact(l.max(1))
        .flat_map(|row| row[range.clone()].iter().map(|&v| f64::from(v)))
        .collect();
    let n = vals.len().max(1) as f64;
    let mean = vals.iter().sum::<f64>() / n;
    vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
}

/// Mean squared error of `model` on `data` over the scored positions (the last only when
/// `last_only`, else 2..=L), relative to the variance of those targets (no autodiff).
pub fn relative_error(
    model: &ElmanRnn,
    data: &SequenceData,
    device: &Device,
    last_only: bool,
) -> f64 {
    let model = model.valid();
    let device = device.clone().inner();
    let mut sum = 0.0f64;
    let chunk = 512;
    let mut start = 0;
    while start < data.n {
        let end = (start + chunk).min(data.n);
        let idx: Vec<usize> = (start..end).collect();
        let (x, y) = seq_tensor(data, &idx, &device);
        let err = scored(model.forward(x) - y, last_only).square().sum();
        sum += f64::from(err.into_scalar::<f32>());
        start = end;
    }
    let positions = scored_positions(data.seq_len, last_only).len().max(1);
    let mse = sum / (data.n * positions).max(1) as f64;
    mse / scored_variance(data, last_only).max(1e-12)
}

fn recurrent_weights(model: &ElmanRnn) -> Vec<f32> {
    values(&model.w)
}

fn values(p: &Param<Tensor<2>>) -> Vec<f32> {
    // Parameters are created as f32 by this crate.
    p.val()
        .into_data()
        .try_to_vec::<f32>()
        .expect("parameters are f32 tensors")
}

/// The network of total width `width` that starts as two copies of a width/2 network drawn from
/// `rng` with cancelling read-outs: W = diag(W₁, W₁), A = [A₁, A₁], B = [B₁; −B₁]. Both halves
/// compute the same hidden state, so the output is exactly 0 at initialization.
pub fn symmetric_rnn(
    config: &ElmanRnnConfig,
    width: usize,
    inputs: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> ElmanRnn {
    let h = (width / 2).max(1);
    let half = config.clone().with_width(h).init(inputs, 1, rng, device);
    let (w1, a1, b1) = (values(&half.w), values(&half.a), values(&half.b));
    let m = 2 * h;
    let mut w = vec![0.0f32; m * m];
    for r in 0..h {
        for c in 0..h {
            w[r * m + c] = w1[r * h + c];
            w[(r + h) * m + c + h] = w1[r * h + c];
        }
    }
    let rows = inputs + 1;
    let mut a = vec![0.0f32; rows * m];
    for r in 0..rows {
        a[r * m..r * m + h].copy_from_slice(&a1[r * h..(r + 1) * h]);
        a[r * m + h..(r + 1) * m].copy_from_slice(&a1[r * h..(r + 1) * h]);
    }
    let b: Vec<f32> = b1.iter().copied().chain(b1.iter().map(|v| -v)).collect();
    let param = |v: Vec<f32>, shape: [usize; 2]| {
        Param::from_tensor(Tensor::<2>::from_data(TensorData::new(v, shape), device))
    };
    let all = config.trainable == RnnTrainable::All;
    ElmanRnn {
        w: param(w, [m, m]),
        a: param(a, [rows, m]).set_require_grad(all),
        b: param(b, [m, 1]).set_require_grad(all),
        bias_input: half.bias_input,
    }
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
        let mut jobs = Vec::new();
        for seed_index in 0..config.seeds {
            let mut add = |target, lens: &[usize]| {
                for &l in lens {
                    jobs.push(Job {
                        sweep: RnnSweep::Samples,
                        target,
                        seed_index,
                        seq_len: l,
                        width: config.network.width,
                    });
                }
            };
            add(TargetKind::Concept, &config.seq_lens);
            if config.control {
                add(TargetKind::Lookup, &config.control_lens);
            }
        }
        if config.width_check_len > 0 {
            jobs.push(Job {
                sweep: RnnSweep::Width,
                target: TargetKind::Concept,
                seed_index: 0,
                seq_len: config.width_check_len,
                width: 2 * config.network.width,
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
            threshold_fraction: config.threshold_fraction,
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

    /// SGD steps of a run that reaches the cap.
    fn cap_steps(&self) -> u64 {
        self.config.max_samples.div_ceil(self.config.batch_size) as u64
    }

    fn total_steps(&self) -> u64 {
        self.queue.total_units(|_| self.cap_steps())
    }

    /// One bounded chunk of work: starts the next run if none is active, trains it for
    /// `batches_per_step` steps (or to its next evaluation), and records it when finished.
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
        let tag = job.target.as_str();
        let test_seed = derive_seed(seed, &format!("test {tag} L={}", job.seq_len));
        let concept = &self.concepts[job.seed_index];
        let test = concept.sample(c.test_size, job.seq_len, job.target, test_seed);
        let linear_floor = concept.linear_unexplained(job.seq_len, job.target, 2000, seed);
        let dev = self.device.device.clone().autodiff();
        let mut rng = SplitMix64::for_purpose(seed ^ (job.width as u64), "rnn weights");
        let model = symmetric_rnn(&c.network, job.width, concept.inputs(), &mut rng, &dev);
        let last_only = job.target.last_only();
        let init_test_rel_error = relative_error(&model, &test, &self.device.device, last_only);
        Active {
            job: index,
            w0: recurrent_weights(&model),
            model: Some(model),
            optim: c
                .optim
                .clone()
                .with_lr(c.optim.lr * 512.0 / (job.width * job.seq_len) as f64)
                .init(),
            test,
            linear_floor,
            threshold: c.threshold_fraction * linear_floor,
            init_test_rel_error,
            stream: derive_seed(
                seed + index as u64,
                &format!("train {tag} L={} m={}", job.seq_len, job.width),
            ),
            seen: 0,
            next_eval: 0,
            evals: Vec::new(),
            last_loss: f64::NAN,
            outcome: None,
            diverged: false,
        }
    }

    /// Job `index` continued from `saved`: started afresh (its test set, initial weights and
    /// initial error are rebuilt), then moved to the saved parameters, optimizer state and
    /// position in the stream.
    pub(super) fn resume_run(&self, index: usize, saved: &ActiveState) -> Result<Active> {
        let mut a = self.start(index);
        let model = a.model.take().expect("a started run holds its model");
        if saved.params.len() != model.num_params()
            || saved.next_eval > self.config.eval_points().len()
            || saved.evals.len() != saved.next_eval
        {
            return Err(EngineError::config(
                "<checkpoint>",
                "the saved run does not fit this config's model and data",
            ));
        }
        let model = sgdlab_engine::snapshot::load_params(model, &saved.params)?;
        a.optim = Sgd::from_state(&saved.optim, &model, &self.device.device)?;
        a.model = Some(model);
        a.seen = saved.seen;
        a.next_eval = saved.next_eval;
        a.evals = saved.evals.clone();
        a.last_loss = saved.last_loss;
        Ok(a)
    }

    /// Trains up to `max_batches` steps on fresh sequences, evaluating at the grid points;
    /// returns whether the run finished (confirmed crossing or cap).
    fn train(&mut self, a: &mut Active, max_batches: usize) -> Result<bool> {
        let dev = self.device.device.clone().autodiff();
        let job = self.queue.jobs()[a.job];
        let points = self.config.eval_points();
        let last_only = job.target.last_only();
        let concept = &self.concepts[job.seed_index];
        let b = self.config.batch_size;
        let var = scored_variance(&a.test, last_only).max(1e-12);
        for _ in 0..max_batches {
            let batch_index = (a.seen / b) as u64;
            let batch = concept.sample(
                b,
                job.seq_len,
                job.target,
                counter_hash(a.stream, 0, batch_index),
            );
            let idx: Vec<usize> = (0..b).collect();
            let (x, y) = seq_tensor(&batch, &idx, &dev);
            let model = a
                .model
                .take()
                .expect("the model is only taken out during a step");
            let n = b * scored_positions(job.seq_len, last_only).len().max(1);
            let warm = self.config.warmup_steps;
            let factor = if warm == 0 {
                1.0
            } else {
                ((a.optim.steps() + 1) as f64 / warm as f64).min(1.0)
            };
            let loss = scored(model.forward(x) - y, last_only)
                .square()
                .sum()
                .mul_scalar(0.5 / n as f64);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                // A diverged run ends censored (it never learned) and the others go on.
                a.model = Some(model);
                a.diverged = true;
                a.outcome = Some(None);
                self.steps_done += self.cap_steps().saturating_sub(a.optim.steps());
                return Ok(true);
            }
            let mut grads = loss.mul_scalar(factor).backward();
            a.model = Some(a.optim.step(model, &mut grads));
            a.last_loss = 2.0 * value / var;
            a.seen += b;
            self.steps_done += 1;
            if a.next_eval < points.len() && a.seen >= points[a.next_eval] {
                let model = a.model.as_ref().expect("the model is back after the step");
                let err = relative_error(model, &a.test, &self.device.device, last_only);
                a.evals.push((a.seen, err));
                a.next_eval += 1;
                self.metrics.push(MetricRow {
                    job: a.job,
                    epoch: a.next_eval,
                    samples: a.seen,
                    train_loss: a.last_loss,
                    test_rel_error: err,
                    relative_movement: movement(a),
                });
                if let Some(n) = super::samples_needed(&a.evals, a.threshold) {
                    a.outcome = Some(Some(n));
                } else if a.next_eval >= points.len() {
                    a.outcome = Some(None);
                }
                if a.outcome.is_some() {
                    // The rest of the cap counts as done for the progress total.
                    self.steps_done += self.cap_steps().saturating_sub(a.optim.steps());
                    return Ok(true);
                }
                return Ok(false);
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
            linear_floor: a.linear_floor,
            threshold: a.threshold,
            samples_needed: a.outcome.flatten(),
            diverged: a.diverged,
            samples: a.seen,
            steps: a.optim.steps(),
            train_rel_error: a.last_loss,
            test_rel_error: relative_error(model, &a.test, dev, job.target.last_only()),
            init_test_rel_error: a.init_test_rel_error,
            relative_movement: movement(&a),
        });
        self.summarize_runs();
    }

    fn needed(
        &self,
        sweep: RnnSweep,
        target: TargetKind,
        seed: u64,
        l: usize,
    ) -> Option<Option<f64>> {
        self.results
            .runs
            .iter()
            .find(|r| r.sweep == sweep && r.target == target && r.seed == seed && r.seq_len == l)
            .map(|r| r.samples_needed)
    }

    /// Rebuilds the scaling summaries from the finished runs: a length enters once every seed
    /// has finished there.
    fn summarize_runs(&mut self) {
        let cap = self.config.max_samples;
        let scaling = |target: TargetKind, lens: &[usize]| {
            let lengths = lens
                .iter()
                .filter_map(|&l| {
                    let per_seed: Option<Vec<Option<f64>>> = self
                        .results
                        .seeds
                        .iter()
                        .map(|&s| self.needed(RnnSweep::Samples, target, s, l))
                        .collect();
                    per_seed.map(|p| length_samples(l, p, cap))
                })
                .collect();
            summarize(target.as_str(), lengths)
        };
        let concept = scaling(TargetKind::Concept, &self.config.seq_lens);
        let control = self
            .config
            .control
            .then(|| scaling(TargetKind::Lookup, &self.config.control_lens));
        let l = self.config.width_check_len;
        let seed = self.config.seed;
        let width_check = self
            .needed(RnnSweep::Width, TargetKind::Concept, seed, l)
            .map(|doubled| {
                let base = self
                    .needed(RnnSweep::Samples, TargetKind::Concept, seed, l)
                    .flatten();
                let logs: Vec<f64> = self
                    .results
                    .seeds
                    .iter()
                    .filter_map(|&s| self.needed(RnnSweep::Samples, TargetKind::Concept, s, l))
                    .flatten()
                    .map(f64::ln)
                    .collect();
                let range = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    - logs.iter().copied().fold(f64::INFINITY, f64::min);
                let grid = 2.0 * std::f64::consts::LN_2 / self.config.evals_per_octave as f64;
                let tolerance = if range.is_finite() {
                    range.max(grid)
                } else {
                    grid
                };
                WidthCheck {
                    seed,
                    seq_len: l,
                    width: 2 * self.config.network.width,
                    base,
                    doubled,
                    tolerance,
                    passed: base
                        .zip(doubled)
                        .map(|(a, b)| (b / a).ln().abs() <= tolerance + 1e-9),
                }
            });
        self.results.scaling = concept;
        self.results.control = control;
        self.results.width_check = width_check;
    }

    pub(super) fn progress_with(&self, a: Option<&Active>) -> Progress {
        use crate::Experiment;
        let (phase, epoch, loss) = match a {
            Some(a) => {
                let j = self.queue.jobs()[a.job];
                (
                    format!(
                        "run {}/{} · {:?} · {} · seed {} · L {} · m {} · {} sequences",
                        a.job + 1,
                        self.queue.jobs().len(),
                        j.sweep,
                        j.target.as_str(),
                        self.seed_of(j.seed_index),
                        j.seq_len,
                        j.width,
                        a.seen
                    ),
                    a.next_eval,
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
