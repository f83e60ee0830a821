//! SGD learning recurrent networks (Allen-Zhu, Li, "Can SGD Learn Recurrent Neural Networks with
//! Provable Generalization?", NeurIPS 2019).
//!
//! An Elman RNN ([`crate::model::ElmanRnn`], only W trained by default) is trained with SGD on
//! the squared loss against the paper's concept class ([`crate::data::RecurrentConcept`]):
//! every output token a sum of smooth two-layer networks of the inputs in a window. The paper's
//! claim: with an overparameterized RNN, the samples needed to reach a given test error grow
//! only polynomially in the sequence length L (not exponentially), and W moves little from its
//! random initialization.
//!
//! Two sweeps: (1) for every L, the test error (relative to the target's variance) as a function
//! of the number of training samples, from which the samples needed to reach a threshold are
//! interpolated and fit against L on log–log (polynomial) and semi-log (exponential) axes;
//! (2) at one L and sample size, the width m, with the relative movement ‖W − W₀‖_F/‖W₀‖_F.
//! Plain SGD uses mini-batches (a few sequences per step) rather than the paper's single
//! sequence, to keep the per-step overhead affordable on a CPU.

use super::{Claim, Experiment, Preset, Progress, Registered, RunRequest, Verdict, to_json_value};
use crate::data::{RecurrentConcept, RecurrentConceptConfig, SequenceData};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::model::{ElmanRnn, ElmanRnnConfig};
use crate::optim::{Sgd, SgdConfig};
use crate::report::{Axis, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, fmt_f64};
use crate::rng::{SplitMix64, derive_seed};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration of the RNN experiment.
#[derive(Config, Debug, PartialEq)]
pub struct RnnConfig {
    /// Seed of the concept, the data and the weights.
    #[config(default = 0)]
    pub seed: u64,
    /// The target concept class.
    #[config(
        default = "RecurrentConceptConfig::new().with_inputs(4).with_window(2).with_weight_scale(0.7)"
    )]
    pub concept: RecurrentConceptConfig,
    /// The RNN (its `width` is the default width of the sample sweep).
    #[config(default = "ElmanRnnConfig::new().with_width(256)")]
    pub network: ElmanRnnConfig,
    /// Sequence lengths L of the sample sweep.
    #[config(default = "vec![2, 4, 8, 16]")]
    pub seq_lens: Vec<usize>,
    /// Training-set sizes of the sample sweep (sequences).
    #[config(default = "vec![16, 32, 64, 128, 256, 512]")]
    pub sample_sizes: Vec<usize>,
    /// Widths m of the width sweep (at `width_sweep_seq_len`, `width_sweep_samples`).
    #[config(default = "vec![64, 128, 256, 512, 1024]")]
    pub widths: Vec<usize>,
    /// L of the width sweep.
    #[config(default = 8)]
    pub width_sweep_seq_len: usize,
    /// Training samples of the width sweep.
    #[config(default = 256)]
    pub width_sweep_samples: usize,
    /// Test sequences (drawn independently of training).
    #[config(default = 256)]
    pub test_size: usize,
    /// The optimizer (plain SGD in the paper). Its `lr` is the rate at m·L = 512; a run with
    /// width m and length L uses lr·512/(m·L), since the gradient's scale grows with m (the
    /// paper's η ∝ 1/m) and the hidden state's norm with L.
    #[config(default = "SgdConfig::new().with_lr(0.003)")]
    pub optim: SgdConfig,
    /// Sequences per SGD step.
    #[config(default = 8)]
    pub batch_size: usize,
    /// Passes over the training set per run.
    #[config(default = 30)]
    pub epochs: usize,
    /// Relative test error that counts as "learned" for the samples-needed curve.
    #[config(default = 0.5)]
    pub error_threshold: f64,
    /// SGD steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 16)]
    pub batches_per_step: usize,
}

impl RnnConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_network(ElmanRnnConfig::new().with_width(128))
                .with_seq_lens(vec![2, 4])
                .with_sample_sizes(vec![64, 256])
                .with_widths(vec![64, 128])
                .with_width_sweep_seq_len(4)
                .with_width_sweep_samples(128)
                .with_test_size(128)
                .with_epochs(20),
        }
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        let at_least = |field: String, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(EngineError::config(
                    field,
                    format!("expected {lo} to {hi}, found {v}"),
                ))
            } else {
                Ok(())
            }
        };
        at_least("network.width".into(), self.network.width, 1, 16_384)?;
        at_least("concept.inputs".into(), self.concept.inputs, 1, 4096)?;
        at_least("concept.neurons".into(), self.concept.neurons, 1, 4096)?;
        at_least("concept.window".into(), self.concept.window, 1, 4096)?;
        if self.seq_lens.is_empty() {
            return Err(EngineError::config("seq_lens", "expected at least one L"));
        }
        for (i, &l) in self.seq_lens.iter().enumerate() {
            at_least(format!("seq_lens[{i}]"), l, 1, 4096)?;
        }
        at_least(
            "width_sweep_seq_len".into(),
            self.width_sweep_seq_len,
            1,
            4096,
        )?;
        let min_l = self
            .seq_lens
            .iter()
            .copied()
            .chain([self.width_sweep_seq_len])
            .min()
            .unwrap_or(1);
        if self.concept.window > min_l {
            return Err(EngineError::config(
                "concept.window",
                format!(
                    "expected a window no larger than the shortest sequence length L = {min_l}, \
                     found {}",
                    self.concept.window
                ),
            ));
        }
        if self.sample_sizes.is_empty() {
            return Err(EngineError::config(
                "sample_sizes",
                "expected at least one sample size",
            ));
        }
        for (i, &n) in self.sample_sizes.iter().enumerate() {
            at_least(format!("sample_sizes[{i}]"), n, 1, 10_000_000)?;
        }
        for (i, &m) in self.widths.iter().enumerate() {
            at_least(format!("widths[{i}]"), m, 1, 16_384)?;
        }
        at_least(
            "width_sweep_samples".into(),
            self.width_sweep_samples,
            1,
            10_000_000,
        )?;
        at_least("test_size".into(), self.test_size, 1, 10_000_000)?;
        at_least("batch_size".into(), self.batch_size, 1, 65_536)?;
        at_least("epochs".into(), self.epochs, 1, 100_000)?;
        at_least(
            "batches_per_step".into(),
            self.batches_per_step,
            1,
            1_000_000,
        )?;
        if !(self.error_threshold.is_finite() && self.error_threshold > 0.0) {
            return Err(EngineError::config(
                "error_threshold",
                format!(
                    "expected a relative error > 0, found {}",
                    self.error_threshold
                ),
            ));
        }
        if !(self.network.bias_input.is_finite()) {
            return Err(EngineError::config(
                "network.bias_input",
                "expected a finite value",
            ));
        }
        if !(self.concept.weight_scale.is_finite() && self.concept.weight_scale > 0.0) {
            return Err(EngineError::config(
                "concept.weight_scale",
                format!("expected a value > 0, found {}", self.concept.weight_scale),
            ));
        }
        self.optim.validate("optim")
    }
}

/// Which sweep a run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RnnSweep {
    /// The sample sweep (per L and number of samples).
    Samples,
    /// The width sweep.
    Width,
}

/// What one training run ended with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnnRun {
    /// The sweep.
    pub sweep: RnnSweep,
    /// Sequence length L.
    pub seq_len: usize,
    /// Width m.
    pub width: usize,
    /// Training sequences.
    pub samples: usize,
    /// SGD steps taken.
    pub steps: u64,
    /// Final training mean squared error relative to the training targets' variance.
    pub train_rel_error: f64,
    /// Final test mean squared error relative to the test targets' variance.
    pub test_rel_error: f64,
    /// Test error of the network at initialization, relative likewise.
    pub init_test_rel_error: f64,
    /// ‖W − W₀‖_F / ‖W₀‖_F at the end.
    pub relative_movement: f64,
}

/// A least-squares line fit y = slope·x + intercept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
}

/// Least squares over finite points; `None` with fewer than two distinct x.
pub fn fit_line(points: &[(f64, f64)]) -> Option<LineFit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - (my + slope * (p.0 - mx))).powi(2))
        .sum();
    Some(LineFit {
        slope,
        intercept: my - slope * mx,
        r_squared: if syy > 0.0 { 1.0 - ss_res / syy } else { 1.0 },
    })
}

/// The samples needed to reach `threshold`: the first sample size whose error is at or below
/// it, interpolated linearly in (log n, error) from the size before; `None` if never reached.
pub fn samples_needed(curve: &[(usize, f64)], threshold: f64) -> Option<f64> {
    let mut prev: Option<(usize, f64)> = None;
    for &(n, e) in curve {
        if e <= threshold {
            return Some(match prev {
                Some((n0, e0)) if e0 > e => {
                    let (l0, l1) = ((n0 as f64).ln(), (n as f64).ln());
                    let t = (e0 - threshold) / (e0 - e);
                    (l0 + t * (l1 - l0)).exp()
                }
                _ => n as f64,
            });
        }
        prev = Some((n, e));
    }
    None
}

/// Samples needed as a function of L, and the two fits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingSummary {
    /// (L, samples needed or null when never reached).
    pub samples_needed: Vec<(usize, Option<f64>)>,
    /// log(samples) against log(L): the slope is the polynomial degree.
    pub log_log: Option<LineFit>,
    /// log(samples) against L: the slope is the exponential rate.
    pub semi_log: Option<LineFit>,
    /// `polynomial`, `exponential`, or why no verdict was reached.
    pub verdict: String,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RnnResults {
    /// Always `rnn`.
    pub experiment: String,
    /// `complete`, `running`, or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// Which weights were trained.
    pub trainable: String,
    /// The relative test-error threshold.
    pub error_threshold: f64,
    /// Every finished run.
    pub runs: Vec<RnnRun>,
    /// Samples needed against L.
    pub scaling: ScalingSummary,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    sweep: RnnSweep,
    seq_len: usize,
    width: usize,
    samples: usize,
}

struct Active {
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

/// One point of a run's learning curve, for live views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnnCurvePoint {
    /// Which sweep the run belongs to.
    pub sweep: RnnSweep,
    /// Sequence length L.
    pub seq_len: usize,
    /// Hidden width m.
    pub width: usize,
    /// Training samples N.
    pub samples: usize,
    /// Epoch.
    pub epoch: usize,
    /// Training loss.
    pub train_loss: f64,
    /// Relative test error.
    pub test_rel_error: f64,
}

#[derive(Clone, Debug, PartialEq)]
struct MetricRow {
    job: usize,
    epoch: usize,
    train_loss: f64,
    test_rel_error: f64,
    relative_movement: f64,
}

/// The experiment's state machine.
pub struct Rnn {
    config: RnnConfig,
    device: ComputeDevice,
    concept: RecurrentConcept,
    jobs: Vec<Job>,
    next_job: usize,
    active: Option<Active>,
    metrics: Vec<MetricRow>,
    results: RnnResults,
    steps_done: u64,
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
/// every error, for both arms of every comparison alike.
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

impl Rnn {
    /// Draws the concept and lays out the runs. Fails on an invalid config.
    pub fn new(config: RnnConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let concept = config.concept.init(config.seed);
        let mut jobs = Vec::new();
        for &l in &config.seq_lens {
            for &n in &config.sample_sizes {
                jobs.push(Job {
                    sweep: RnnSweep::Samples,
                    seq_len: l,
                    width: config.network.width,
                    samples: n,
                });
            }
        }
        for &m in &config.widths {
            jobs.push(Job {
                sweep: RnnSweep::Width,
                seq_len: config.width_sweep_seq_len,
                width: m,
                samples: config.width_sweep_samples,
            });
        }
        let results = RnnResults {
            experiment: "rnn".into(),
            status: "running".into(),
            device: device.info.clone(),
            trainable: format!("{:?}", config.network.trainable).to_lowercase(),
            error_threshold: config.error_threshold,
            ..Default::default()
        };
        Ok(Self {
            config,
            device,
            concept,
            jobs,
            next_job: 0,
            active: None,
            metrics: Vec::new(),
            results,
            steps_done: 0,
        })
    }

    /// Every run's learning curve so far (one point per epoch).
    pub fn curves(&self) -> Vec<RnnCurvePoint> {
        self.metrics
            .iter()
            .map(|m| {
                let j = &self.jobs[m.job];
                RnnCurvePoint {
                    sweep: j.sweep,
                    seq_len: j.seq_len,
                    width: j.width,
                    samples: j.samples,
                    epoch: m.epoch,
                    train_loss: m.train_loss,
                    test_rel_error: m.test_rel_error,
                }
            })
            .collect()
    }

    /// The summary so far.
    pub fn results(&self) -> &RnnResults {
        &self.results
    }

    fn steps_of(&self, job: &Job) -> u64 {
        (job.samples.div_ceil(self.config.batch_size) * self.config.epochs) as u64
    }

    fn total_steps(&self) -> u64 {
        self.jobs.iter().map(|j| self.steps_of(j)).sum()
    }

    fn start(&self, index: usize) -> Active {
        let job = self.jobs[index];
        let c = &self.config;
        let largest = match job.sweep {
            RnnSweep::Samples => c.sample_sizes.iter().copied().max().unwrap_or(job.samples),
            RnnSweep::Width => job.samples,
        };
        // Nested training sets: the n-sample set is a prefix of the largest one for this L.
        let train_seed = derive_seed(c.seed, &format!("train L={}", job.seq_len));
        let test_seed = derive_seed(c.seed, &format!("test L={}", job.seq_len));
        let train = self
            .concept
            .sample(largest, job.seq_len, train_seed)
            .take(job.samples);
        let test = self.concept.sample(c.test_size, job.seq_len, test_seed);
        let dev = self.device.device.clone().autodiff();
        let mut rng = SplitMix64::for_purpose(c.seed ^ (job.width as u64), "rnn weights");
        let model =
            c.network
                .clone()
                .with_width(job.width)
                .init(self.concept.inputs(), 1, &mut rng, &dev);
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
            rng: SplitMix64::for_purpose(c.seed + index as u64, "rnn batch order"),
            last_loss: f64::NAN,
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
                let job = self.jobs[a.job];
                return Err(EngineError::Diverged {
                    step: a.optim.steps(),
                    phase: format!(
                        "rnn L={} m={} n={} epoch {}",
                        job.seq_len, job.width, job.samples, a.epoch
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
                    relative_movement: Self::movement(a),
                });
                if a.epoch >= self.config.epochs {
                    return Ok(true);
                }
                return Ok(false);
            }
        }
        Ok(false)
    }

    fn finish(&mut self, a: Active) {
        let job = self.jobs[a.job];
        let Some(model) = a.model.as_ref() else {
            return;
        };
        let dev = &self.device.device;
        self.results.runs.push(RnnRun {
            sweep: job.sweep,
            seq_len: job.seq_len,
            width: job.width,
            samples: job.samples,
            steps: a.optim.steps(),
            train_rel_error: relative_error(model, &a.train, dev),
            test_rel_error: relative_error(model, &a.test, dev),
            init_test_rel_error: a.init_test_rel_error,
            relative_movement: Self::movement(&a),
        });
        self.summarize();
    }

    fn sample_curve(&self, l: usize) -> Vec<(usize, f64)> {
        let mut curve: Vec<(usize, f64)> = self
            .results
            .runs
            .iter()
            .filter(|r| r.sweep == RnnSweep::Samples && r.seq_len == l)
            .map(|r| (r.samples, r.test_rel_error))
            .collect();
        curve.sort_by_key(|p| p.0);
        curve
    }

    fn summarize(&mut self) {
        let thr = self.config.error_threshold;
        let needed: Vec<(usize, Option<f64>)> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| (l, samples_needed(&self.sample_curve(l), thr)))
            .filter(|_| true)
            .collect();
        let reached: Vec<(usize, f64)> = needed
            .iter()
            .filter_map(|&(l, n)| n.map(|n| (l, n)))
            .collect();
        let log_log = fit_line(
            &reached
                .iter()
                .map(|&(l, n)| ((l as f64).ln(), n.ln()))
                .collect::<Vec<_>>(),
        );
        let semi_log = fit_line(
            &reached
                .iter()
                .map(|&(l, n)| (l as f64, n.ln()))
                .collect::<Vec<_>>(),
        );
        let verdict = match (&log_log, &semi_log) {
            _ if reached.len() < 3 => format!(
                "insufficient: the threshold was reached for {} of {} sequence lengths (need 3)",
                reached.len(),
                needed.len()
            ),
            (Some(p), Some(e)) if p.r_squared >= e.r_squared => "polynomial".to_string(),
            (Some(_), Some(_)) => "exponential".to_string(),
            _ => "insufficient: the fit is degenerate".to_string(),
        };
        self.results.scaling = ScalingSummary {
            samples_needed: needed,
            log_log,
            semi_log,
            verdict,
        };
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "sweep",
            "seq_len",
            "width",
            "samples",
            "epoch",
            "train_loss",
            "test_rel_error",
            "relative_movement",
        ]);
        for m in &self.metrics {
            let j = self.jobs[m.job];
            t.push_row(vec![
                format!("{:?}", j.sweep).to_lowercase(),
                j.seq_len.to_string(),
                j.width.to_string(),
                j.samples.to_string(),
                m.epoch.to_string(),
                fmt_f64(m.train_loss),
                fmt_f64(m.test_rel_error),
                fmt_f64(m.relative_movement),
            ]);
        }
        t
    }

    fn plots(&self) -> Vec<(LinePlot, &'static str)> {
        let mut out = Vec::new();
        let runs = &self.results.runs;
        let samples_axis = || Axis::log("training sequences (count)");
        let error_axis =
            || Axis::linear("relative test error (÷ Var(y*))").bounded(Bounds::NON_NEGATIVE);
        let error_series: Vec<Series> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| {
                Series::line_points(
                    format!("L = {l}"),
                    self.sample_curve(l)
                        .iter()
                        .map(|&(n, e)| (n as f64, e))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        out.push((
            LinePlot::single(
                format!(
                    "Test error / Var(y*) against samples (m = {}; threshold {})",
                    self.config.network.width, self.config.error_threshold
                ),
                samples_axis(),
                error_axis(),
                error_series,
            ),
            "test_error_vs_samples",
        ));
        let width_runs: Vec<&RnnRun> = runs.iter().filter(|r| r.sweep == RnnSweep::Width).collect();
        // Movement and error have different units: one panel each.
        out.push((
            LinePlot {
                title: format!(
                    "Width sweep (L = {}, {} samples)",
                    self.config.width_sweep_seq_len, self.config.width_sweep_samples
                ),
                x: Axis::log("width m (hidden units)"),
                panels: vec![
                    Panel {
                        y: Axis::linear("relative movement (‖W − W₀‖_F / ‖W₀‖_F)")
                            .bounded(Bounds::NON_NEGATIVE),
                        series: vec![Series::line_points(
                            "‖W − W₀‖_F / ‖W₀‖_F",
                            width_runs
                                .iter()
                                .map(|r| (r.width as f64, r.relative_movement))
                                .collect(),
                        )],
                    },
                    Panel {
                        y: error_axis(),
                        series: vec![Series::line_points(
                            "relative test error",
                            width_runs
                                .iter()
                                .map(|r| (r.width as f64, r.test_rel_error))
                                .collect(),
                        )],
                    },
                ],
            },
            "width_sweep",
        ));
        let s = &self.results.scaling;
        let reached: Vec<(f64, f64)> = s
            .samples_needed
            .iter()
            .filter_map(|&(l, n)| n.map(|n| (l as f64, n)))
            .collect();
        let mut needed = Series::points("samples needed", reached.clone());
        // Lengths whose error never fell below the threshold need more than the largest sample
        // size tried: a lower bound.
        needed.censored = s
            .samples_needed
            .iter()
            .filter(|(_, n)| n.is_none())
            .filter_map(|&(l, _)| {
                let most = self.sample_curve(l).iter().map(|&(n, _)| n).max()?;
                Some((l as f64, most as f64))
            })
            .collect();
        let mut series = vec![needed];
        let ls: Vec<f64> = reached.iter().map(|p| p.0).collect();
        if let Some(f) = &s.log_log {
            series.push(Series::line(
                format!(
                    "polynomial fit: n ∝ L^{:.2} (R² {:.3})",
                    f.slope, f.r_squared
                ),
                ls.iter()
                    .map(|&l| (l, (f.intercept + f.slope * l.ln()).exp()))
                    .collect(),
            ));
        }
        if let Some(f) = &s.semi_log {
            series.push(Series::line(
                format!(
                    "exponential fit: n ∝ e^({:.3}·L) (R² {:.3})",
                    f.slope, f.r_squared
                ),
                ls.iter()
                    .map(|&l| (l, (f.intercept + f.slope * l).exp()))
                    .collect(),
            ));
        }
        out.push((
            LinePlot::single(
                format!(
                    "Samples to reach relative test error {} against L (log–log)",
                    self.config.error_threshold
                ),
                Axis::log("sequence length L (steps)"),
                Axis::log("training sequences needed (count)"),
                series,
            ),
            "samples_needed_vs_length",
        ));
        let movement: Vec<Series> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| {
                Series::line_points(
                    format!("L = {l}"),
                    runs.iter()
                        .filter(|r| r.sweep == RnnSweep::Samples && r.seq_len == l)
                        .map(|r| (r.samples as f64, r.relative_movement))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        out.push((
            LinePlot::single(
                "Relative movement ‖W − W₀‖_F / ‖W₀‖_F against samples",
                samples_axis(),
                Axis::linear("relative movement (‖W − W₀‖_F / ‖W₀‖_F)")
                    .bounded(Bounds::NON_NEGATIVE),
                movement,
            ),
            "movement_vs_samples",
        ));
        out
    }

    fn report_body(&self, md: &mut ReportMd, files: &[String]) {
        let r = &self.results;
        let c = &self.config;
        md.paragraph(
            "Allen-Zhu, Li (NeurIPS 2019): SGD on an overparameterized Elman RNN (h_ℓ = \
             ReLU(W h_{ℓ−1} + A x_ℓ), y_ℓ = B h_ℓ, only W trained) learns targets whose every \
             token is a sum of smooth two-layer networks of earlier inputs, with a sample \
             complexity polynomial (not exponential) in the sequence length L, while W stays \
             close to its random initialization.",
        );
        md.paragraph(&format!(
            "Status: **{}**. Trained: {}. Concept: d = {}, window {}, {} tanh units per lag. \
             Sample sweep at width m = {}; {} epochs of SGD (lr {}, {} sequences per step); {} \
             test sequences drawn independently. Device: {}. The widths stop at 1024 so the \
             sweep runs in minutes on a CPU. Position 1 is not scored: its output B·ReLU(A x₁) does \
             not depend on W.",
            r.status,
            r.trainable,
            c.concept.inputs,
            c.concept.window,
            c.concept.neurons,
            c.network.width,
            c.epochs,
            c.optim.lr,
            c.batch_size,
            c.test_size,
            r.device
        ));
        md.heading(2, "Samples needed against L");
        let rows: Vec<Vec<String>> = r
            .scaling
            .samples_needed
            .iter()
            .map(|(l, n)| {
                vec![
                    l.to_string(),
                    n.map_or("not reached".into(), |n| format!("{n:.0}")),
                ]
            })
            .collect();
        md.table(&["L", "samples to reach the threshold"], &rows);
        let fit = |f: &Option<LineFit>| {
            f.as_ref().map_or("-".into(), |f| {
                format!("slope {:.3}, R² {:.3}", f.slope, f.r_squared)
            })
        };
        md.paragraph(&format!(
            "log n against log L: {}. log n against L: {}. Verdict (the better-fitting model): \
             **{}**.",
            fit(&r.scaling.log_log),
            fit(&r.scaling.semi_log),
            r.scaling.verdict
        ));
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    format!("{:?}", x.sweep).to_lowercase(),
                    x.seq_len.to_string(),
                    x.width.to_string(),
                    x.samples.to_string(),
                    format!("{:.3}", x.init_test_rel_error),
                    format!("{:.3}", x.train_rel_error),
                    format!("{:.3}", x.test_rel_error),
                    format!("{:.4}", x.relative_movement),
                ]
            })
            .collect();
        md.table(
            &[
                "sweep",
                "L",
                "m",
                "samples",
                "test err at init",
                "train err",
                "test err",
                "‖W − W₀‖/‖W₀‖",
            ],
            &rows,
        );
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
    }
}

impl Registered for Rnn {
    type Config = RnnConfig;
    fn preset_config(request: &RunRequest) -> RnnConfig {
        RnnConfig::preset(request.preset)
    }
    fn validate_config(config: &RnnConfig) -> Result<()> {
        config.validate()
    }
    fn build(config: RnnConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Rnn {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        let mut a = match self.active.take() {
            Some(a) => a,
            None => {
                let a = self.start(self.next_job);
                self.next_job += 1;
                a
            }
        };
        let done = match self.train(&mut a, self.config.batches_per_step) {
            Ok(d) => d,
            Err(e) => {
                self.results.status = format!("stopped: {e:#}");
                self.active = Some(a);
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
            self.active = Some(a);
        }
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
        if !self.results.runs.is_empty() {
            for (plot, stem) in self.plots() {
                written.extend(plot.render(dir, stem)?);
            }
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, files);
    }
}

impl Rnn {
    fn progress_with(&self, a: Option<&Active>) -> Progress {
        let (phase, epoch, loss) = match a {
            Some(a) => {
                let j = self.jobs[a.job];
                (
                    format!(
                        "run {}/{} · {:?} · L {} · m {} · n {}",
                        a.job + 1,
                        self.jobs.len(),
                        j.sweep,
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

impl Rnn {
    /// The claim on the results so far: samples needed grow polynomially in the length.
    fn claims_so_far(&self) -> Vec<Claim> {
        let s = &self.results.scaling;
        let claim = Claim::new(
            "samples-polynomial-in-length",
            "SGD learns the recurrent concept class with a number of samples polynomial (not \
             exponential) in the sequence length L.",
            "holds when a line in log(samples) against log(L) fits at least as well (R²) as one \
             against L, over at least 3 lengths that reached the error threshold; fails when \
             the exponential fit is better",
        );
        let needed: Vec<String> = s
            .samples_needed
            .iter()
            .map(|(l, n)| match n {
                Some(n) => format!("L={l}: {n:.0}"),
                None => format!("L={l}: not reached"),
            })
            .collect();
        let fits = match (&s.log_log, &s.semi_log) {
            (Some(p), Some(e)) => format!(
                "; degree {:.2} (R² {:.3}), rate {:.3}/step (R² {:.3})",
                p.slope, p.r_squared, e.slope, e.r_squared
            ),
            _ => String::new(),
        };
        let measured = format!("{}{fits}", needed.join(", "));
        match s.verdict.as_str() {
            "polynomial" => vec![claim.decide(
                measured,
                Verdict::Holds,
                "the power law fits at least as well",
            )],
            "exponential" => {
                vec![claim.decide(measured, Verdict::Fails, "the exponential fits better")]
            }
            "" => vec![claim.not_measured("no length has finished")],
            other => vec![claim.decide(measured, Verdict::Inconclusive, other)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu_device;

    #[test]
    fn fits_and_samples_needed() {
        // n = 10·L² exactly: log–log slope 2 with R² 1.
        let pts: Vec<(f64, f64)> = [2.0f64, 4.0, 8.0, 16.0]
            .iter()
            .map(|&l| (l.ln(), (10.0 * l * l).ln()))
            .collect();
        let f = fit_line(&pts).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-9 && (f.r_squared - 1.0).abs() < 1e-9);
        assert!(fit_line(&[(1.0, 1.0)]).is_none());
        // Error 0.8 at 100, 0.4 at 400: the threshold 0.6 is reached halfway in log n → 200.
        let n = samples_needed(&[(100, 0.8), (400, 0.4)], 0.6).unwrap();
        assert!((n - 200.0).abs() < 1e-6, "{n}");
        assert_eq!(samples_needed(&[(100, 0.3)], 0.6), Some(100.0));
        assert_eq!(samples_needed(&[(100, 0.8)], 0.6), None);
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let cases = [
            (
                RnnConfig::new().with_network(ElmanRnnConfig::new().with_width(0)),
                "network.width",
            ),
            (RnnConfig::new().with_seq_lens(vec![4, 0]), "seq_lens[1]"),
            (
                RnnConfig::new().with_concept(RecurrentConceptConfig::new().with_window(7)),
                "concept.window",
            ),
            (RnnConfig::new().with_widths(vec![0]), "widths[0]"),
        ];
        for (c, field) in cases {
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
    }

    #[test]
    fn a_short_run_learns_well_below_the_variance() {
        let config = RnnConfig::new()
            .with_network(ElmanRnnConfig::new().with_width(128))
            .with_seq_lens(vec![4])
            .with_sample_sizes(vec![256])
            .with_widths(vec![])
            .with_width_sweep_seq_len(4)
            .with_test_size(256)
            .with_epochs(20);
        let mut e = Rnn::new(config, cpu_device()).unwrap();
        while !e.is_done() {
            e.step().unwrap();
        }
        let run = &e.results().runs[0];
        assert!(run.init_test_rel_error > 0.8, "{run:?}");
        assert!(run.test_rel_error < 0.5, "{run:?}");
        assert!(
            run.relative_movement > 0.0 && run.relative_movement < 0.5,
            "{run:?}"
        );
    }
}
