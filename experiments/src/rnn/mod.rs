//! SGD learning recurrent networks (Allen-Zhu, Li, "Can SGD Learn Recurrent Neural Networks with
//! Provable Generalization?", NeurIPS 2019).
//!
//! An Elman RNN ([`sgdlab_engine::model::ElmanRnn`], only W trained by default) is trained with
//! one-pass SGD (every step on fresh sequences, the theorem's setting, so time = samples and
//! there is no train/test gap) on the squared loss against the paper's concept class
//! ([`sgdlab_engine::data::RecurrentConcept`]): every output token a sum over all earlier tokens
//! of smooth two-layer networks, one per (source, target) pair. The paper's claim: with an
//! overparameterized RNN, the samples needed to reach a given test error grow only
//! polynomially in the sequence length L.
//!
//! One run per seed and L evaluates a fixed test set at `evals_per_octave` points per doubling
//! of the sequences seen; the samples needed are the sequences seen at the first evaluation at
//! or below the threshold (half the share of variance a linear fit leaves unexplained at that
//! L), confirmed by the next. The network starts as two copies of a half-width network whose
//! read-outs cancel, so its initial output is 0 and the starting error is 1 at every L. The
//! rule ([`scaling`]) compares power-law and exponential fits of ln n against L with a
//! curvature term. A lookup control (a random table of sign patterns, exponential by
//! construction) goes through the same pipeline and rule; a width check reruns the first seed
//! at one L with twice the width. Plain SGD uses mini-batches (a few sequences per step) rather
//! than the paper's single sequence, to keep the per-step overhead affordable on a CPU.

mod claims;
mod config;
mod report;
mod run;
mod scaling;

pub use claims::rnn_claims;
pub use config::RnnConfig;
pub use run::relative_error;
pub use scaling::{
    GrowthFit, LengthSamples, LineFit, ScalingSummary, decide_growth, fit_line, growth_fit,
    length_samples, samples_needed, simulate_rule, summarize,
};

use super::{
    Claim, Experiment, JobQueue, Progress, Registered, RunRequest, decode, encode, to_json_value,
};
use crate::{F32, MemoryEstimate, product};
use serde::{Deserialize, Serialize};
use sgdlab_engine::data::{RecurrentConcept, TargetKind};
use sgdlab_engine::device::{ComputeDevice, DeviceInfo};
use sgdlab_engine::error::Result;
use sgdlab_engine::report::ReportMd;
use std::path::{Path, PathBuf};

/// Which sweep a run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RnnSweep {
    /// The sample sweep (per seed, target, L and number of samples).
    Samples,
    /// The width sweep.
    Width,
}

/// What one one-pass training run ended with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnnRun {
    /// Main run or width check.
    pub sweep: RnnSweep,
    /// The target: the concept class or the lookup control.
    pub target: TargetKind,
    /// The repetition's seed.
    pub seed: u64,
    /// Sequence length L.
    pub seq_len: usize,
    /// Width m.
    pub width: usize,
    /// Share of the test targets' variance a linear fit leaves unexplained at this L.
    pub linear_floor: f64,
    /// The relative test error that counts as learned (threshold_fraction × linear_floor).
    pub threshold: f64,
    /// Sequences seen at the confirmed crossing; `None` when the cap (or a divergence) came
    /// first.
    pub samples_needed: Option<f64>,
    /// Whether the run stopped because its loss stopped being finite (counted as censored).
    #[serde(default)]
    pub diverged: bool,
    /// Sequences seen when the run stopped.
    pub samples: usize,
    /// SGD steps taken.
    pub steps: u64,
    /// The last mini-batch's loss relative to the test targets' variance (fresh data: an
    /// unbiased estimate of the test error before the step).
    pub train_rel_error: f64,
    /// Final test mean squared error relative to the test targets' variance.
    pub test_rel_error: f64,
    /// Test error of the network at initialization, relative likewise.
    pub init_test_rel_error: f64,
    /// ‖W − W₀‖_F / ‖W₀‖_F at the end.
    pub relative_movement: f64,
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
    /// The threshold as a fraction of the linear floor.
    pub threshold_fraction: f64,
    /// The seeds of the repetitions.
    pub seeds: Vec<u64>,
    /// Share of the concept's variance (positions 2..=L, first seed) that the best linear
    /// function of all earlier inputs leaves unexplained, per L of the concept runs.
    pub linear_unexplained: Vec<(usize, f64)>,
    /// Every finished run.
    pub runs: Vec<RnnRun>,
    /// Samples needed against L for the concept class, the fits and the verdict.
    pub scaling: ScalingSummary,
    /// The same for the lookup control (when run).
    pub control: Option<ScalingSummary>,
    /// The width check (when run and finished).
    pub width_check: Option<WidthCheck>,
}

/// The width check: the first seed's concept run at one L with twice the width must not move
/// the crossing (in ln n) by more than the seeds' spread there (at least two evaluation steps).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WidthCheck {
    /// The seed.
    pub seed: u64,
    /// The length L.
    pub seq_len: usize,
    /// The doubled width.
    pub width: usize,
    /// Samples needed at the main width.
    pub base: Option<f64>,
    /// Samples needed at the doubled width.
    pub doubled: Option<f64>,
    /// The largest allowed |ln doubled − ln base|: the range of ln n over seeds at this L, and
    /// at least two evaluation steps (ln 2 · 2 / evals_per_octave).
    pub tolerance: f64,
    /// Whether |ln doubled − ln base| ≤ tolerance (`None` when a crossing is missing).
    pub passed: Option<bool>,
}

impl WidthCheck {
    /// One line for the claim and the report.
    pub fn describe(&self) -> String {
        let n = |v: Option<f64>| v.map_or("censored".to_string(), |v| format!("{v:.0}"));
        let shift = match (self.base, self.doubled) {
            (Some(a), Some(b)) => format!("|Δ ln n| = {:.2}", (b / a).ln().abs()),
            _ => "no shift".into(),
        };
        format!(
            "width check (seed {}, L = {}): n = {} at m = {} vs {} at m = {}, {shift} against the tolerance {:.2}: {}",
            self.seed,
            self.seq_len,
            n(self.base),
            self.width / 2,
            n(self.doubled),
            self.width,
            self.tolerance,
            match self.passed {
                Some(true) => "passed",
                Some(false) => "failed",
                None => "undecided",
            }
        )
    }
}

/// One point of a run's learning curve, for live views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnnCurvePoint {
    /// Which sweep the run belongs to.
    pub sweep: RnnSweep,
    /// The target.
    pub target: TargetKind,
    /// The repetition's seed.
    pub seed: u64,
    /// Sequence length L.
    pub seq_len: usize,
    /// Hidden width m.
    pub width: usize,
    /// Sequences seen at this evaluation.
    pub samples: usize,
    /// Evaluation index (1-based).
    pub epoch: usize,
    /// The last mini-batch's loss (fresh data).
    pub train_loss: f64,
    /// Relative test error.
    pub test_rel_error: f64,
}

/// One training run to do.
#[derive(Clone, Copy, Debug)]
struct Job {
    sweep: RnnSweep,
    target: TargetKind,
    seed_index: usize,
    seq_len: usize,
    width: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct MetricRow {
    job: usize,
    epoch: usize,
    samples: usize,
    train_loss: f64,
    test_rel_error: f64,
    relative_movement: f64,
}

/// The experiment's state machine.
pub struct Rnn {
    config: RnnConfig,
    device: ComputeDevice,
    /// One concept per repetition.
    concepts: Vec<RecurrentConcept>,
    queue: JobQueue<Job, run::Active>,
    metrics: Vec<MetricRow>,
    results: RnnResults,
    steps_done: u64,
}

impl Rnn {
    /// Every run's learning curve so far (one point per evaluation).
    pub fn curves(&self) -> Vec<RnnCurvePoint> {
        self.metrics
            .iter()
            .map(|m| {
                let j = &self.queue.jobs()[m.job];
                RnnCurvePoint {
                    sweep: j.sweep,
                    target: j.target,
                    seed: self.seed_of(j.seed_index),
                    seq_len: j.seq_len,
                    width: j.width,
                    samples: m.samples,
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

    fn seed_of(&self, seed_index: usize) -> u64 {
        self.config.seed + seed_index as u64
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
    fn memory(c: &RnnConfig) -> MemoryEstimate {
        let width =
            (c.network.width as u64).saturating_mul(if c.width_check_len > 0 { 2 } else { 1 });
        let len = c.max_len() as u64;
        let inputs = c.concept.inputs as u64 + 1;
        MemoryEstimate::new()
            // W, A, B with gradients and optimizer state, plus the concept's own weights.
            .add(
                "network.width",
                product(&[width, width.saturating_add(inputs), F32, 6]),
            )
            .add(
                "batch_size",
                product(&[c.batch_size as u64, len, inputs, F32, 2]),
            )
            .add(
                "test_size",
                product(&[c.test_size as u64, len, inputs, F32, 2]),
            )
            // Backpropagation through time keeps every step's hidden state and pre-activation.
            .add(
                "batch_size",
                product(&[c.batch_size as u64, len, width, F32, 4]),
            )
            // The lookup tables (up to 2^16 entries per length).
            .add(
                "control_lens",
                product(&[1u64 << c.max_len().min(16), 2, F32]),
            )
            .add(
                "concept.neurons",
                product(&[c.concept.neurons as u64, inputs, F32, 2]),
            )
    }
    fn build(config: RnnConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Rnn {
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
        rnn_claims(
            &self.results.scaling,
            self.results.control.as_ref(),
            self.results.width_check.as_ref(),
        )
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        if !self.results.runs.is_empty() {
            written.extend(self.write_plots(dir)?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_body(md);
    }

    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let finished = self.queue.finished();
        let active = self.queue.active().map(|(_, _, a)| a.state());
        if finished == 0 && active.is_none() {
            return Ok(None);
        }
        let state = RnnState {
            finished,
            active,
            metrics: self.metrics.clone(),
            results: self.results.clone(),
            steps_done: self.steps_done,
        };
        Ok(Some((finished, encode(&state)?)))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let s: RnnState = decode(state, "rnn checkpoint")?;
        self.queue.resume_at(s.finished)?;
        self.metrics = s.metrics;
        self.results = s.results;
        self.steps_done = s.steps_done;
        if let Some(a) = s.active {
            let active = self.resume_run(s.finished, &a)?;
            self.queue.resume_active(s.finished, active)?;
        }
        Ok(())
    }
}

/// What an rnn checkpoint keeps: jobs finished, the metric rows and results so far, steps done,
/// and the run in progress.
#[derive(Serialize, Deserialize)]
struct RnnState {
    finished: usize,
    active: Option<run::ActiveState>,
    metrics: Vec<MetricRow>,
    results: RnnResults,
    steps_done: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sgdlab_engine::device::cpu_device;
    use sgdlab_engine::model::ElmanRnnConfig;

    #[test]
    fn a_one_pass_run_starts_at_error_one_and_learns() {
        let config = RnnConfig::new()
            .with_seeds(1)
            .with_control(false)
            .with_network(ElmanRnnConfig::new().with_width(64))
            .with_seq_lens(vec![4])
            .with_width_check_len(0)
            .with_test_size(256)
            .with_max_samples(4096);
        let mut e = Rnn::new(config, cpu_device()).unwrap();
        while !e.is_done() {
            e.step().unwrap();
        }
        let run = &e.results().runs[0];
        // The cancelling halves: output 0 at init, so the relative error starts at 1 (plus
        // the test targets' mean², which is small).
        assert!((run.init_test_rel_error - 1.0).abs() < 0.1, "{run:?}");
        // Learning: from 1.01 to 0.604 at seed 0 (width 64, 4,096 sequences); a run that does not
        // learn stays near 1.
        assert!(run.test_rel_error < 0.75, "{run:?}");
        assert!(
            run.relative_movement > 0.0 && run.relative_movement < 0.5,
            "{run:?}"
        );
        let share = e.results().linear_unexplained[0].1;
        assert!(share > 0.2, "{share}");
    }
}
