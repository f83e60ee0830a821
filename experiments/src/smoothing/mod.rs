//! SGD as gradient descent on a smoothed loss (Kleinberg, Li, Yuan, "An Alternative View: When
//! Does SGD Escape Local Minima?", ICML 2018).
//!
//! With `y_t = x_t − η∇f(x_t)`, SGD's `y` follows in expectation gradient descent on
//! `g(y) = E_ω f(y − ηω)`. On a convex bowl with high-frequency spikes, `f` has many spurious
//! local minima but `g` is one-point convex towards x* = 0 once `ηω` is large enough. The runs:
//! particles from uniform starts at every noise level (σ = 0 is gradient descent), on the spiky
//! bowl and on the same bowl without spikes (the control), in one and two dimensions; the
//! measurements: where runs are after the burn-in and at the end, and on a grid the share of the
//! start region where `g_η` is one-point convex (closed form). Then the network check
//! ([`NetworkSeeds`]) on MNIST: the smoothed loss at SGD's own mini-batch noise scale, tested
//! for one-point convexity along the trajectories of several independent runs, each toward an
//! independent run's end point.

mod c_spread;
mod claims;
mod config;
mod measurement;
mod network_report;
mod network_seeds;
mod one_point;
mod one_point_config;
mod report;

pub use c_spread::*;
pub use claims::{GAIN_MARGIN, NETWORK_SHARE_MIN};
pub use config::*;
pub use measurement::*;
pub use network_seeds::*;
pub use one_point::*;
pub use one_point_config::*;

use super::{
    Claim, Experiment, JobQueue, NetworkPart, Progress, Registered, RunRequest, decode, encode,
    to_json_value, write_network_part,
};
use crate::{F32, MemoryEstimate, product};
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::gpu::ParticleRunner;
use sgdlab_engine::landscape::STAT_STRIDE;
use sgdlab_engine::landscape::{Clip, Landscape, ParticleState, StepRule};
use sgdlab_engine::report::ReportMd;
use sgdlab_engine::rng::{SplitMix64, derive_seed};
use std::path::{Path, PathBuf};

/// One particle run: a dimension, a noise level, and the bowl (spiky, or the smooth control).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Job {
    dim: u32,
    level: usize,
    control: bool,
}

/// The run in progress: its particles, which were near x* after the burn-in, and the running
/// sum of the snapshots taken over the second half.
struct Active {
    runner: ParticleRunner,
    /// Index into [`SmoothingConfig::stops`] of the next stop.
    next_stop: usize,
    near_after_burn_in: Vec<bool>,
    snapshot_sum: Vec<[f64; 2]>,
}

/// The experiment's state machine.
pub struct SmoothingExperiment {
    config: SmoothingConfig,
    device: ComputeDevice,
    queue: JobQueue<Job, Active>,
    results: SmoothingResults,
    g_curves: Vec<(f64, Vec<(f64, f64)>)>,
    g_grids: Vec<(f64, Vec<f64>)>,
    nn: Option<NetworkSeeds>,
}

impl SmoothingExperiment {
    /// Prepares the runs. Fails on an invalid config.
    pub fn new(config: SmoothingConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let dims: &[u32] = if config.landscape_2d.is_some() {
            &[1, 2]
        } else {
            &[1]
        };
        let bowls: &[bool] = if config.control {
            &[false, true]
        } else {
            &[false]
        };
        let mut jobs = Vec::new();
        for &dim in dims {
            for &control in bowls {
                jobs.extend((0..config.sigmas.len()).map(|level| Job {
                    dim,
                    level,
                    control,
                }));
            }
        }
        let results = SmoothingResults {
            experiment: "smoothing".into(),
            status: "running".into(),
            device: device.info.clone(),
            engine: if device.info.backend == sgdlab_engine::device::Backend::Wgpu {
                "gpu"
            } else {
                "cpu"
            }
            .into(),
            ..SmoothingResults::default()
        };
        let nn = match &config.nn_check {
            Some(c) => Some(NetworkSeeds::new(c.clone(), &device.device, "nn_check")?),
            None => None,
        };
        Ok(Self {
            nn,
            config,
            device,
            queue: JobQueue::new(jobs),
            results,
            g_curves: Vec::new(),
            g_grids: Vec::new(),
        })
    }

    /// The spiky bowl of dimension `dim`, or with `control` the same bowl without spikes.
    fn landscape(&self, dim: u32, control: bool) -> Landscape {
        let l = match (dim, &self.config.landscape_2d) {
            (2, Some(l)) => l.clone(),
            _ => self.config.landscape_1d.clone(),
        };
        match l {
            Landscape::Ripple { dim, a, omega, .. } if control => Landscape::Ripple {
                dim,
                a,
                amp: 0.0,
                omega,
            },
            other => other,
        }
    }

    fn start(&self, job: Job) -> Result<ParticleRunner> {
        self.start_at(job, None)
    }

    /// Job `job`'s particles, at their starts or at `saved` (a checkpoint's run in progress).
    fn start_at(&self, job: Job, saved: Option<ParticleState>) -> Result<ParticleRunner> {
        let Job {
            dim,
            level,
            control,
        } = job;
        let land = self.landscape(dim, control).packed();
        let mut rng = SplitMix64::for_purpose(self.config.seed, &format!("smoothing starts {dim}"));
        let r = self.config.start_range;
        let pos = (0..self.config.starts)
            .map(|_| {
                let x = (2.0 * rng.next_f32() - 1.0) * r;
                let y = (2.0 * rng.next_f32() - 1.0) * r;
                [x, if dim == 2 { y } else { 0.0 }]
            })
            .collect();
        let state = saved.unwrap_or_else(|| ParticleState::new(&land, pos));
        let rule = StepRule {
            lr: self.config.lr,
            noise: self.config.noise(level),
            clip: Clip::None,
            diverge_radius: 1e6,
            seed: derive_seed(self.config.seed, &format!("smoothing noise {dim} {level}")),
        };
        ParticleRunner::new(&self.device, land, rule, state)
    }

    fn finish(&mut self) -> Result<()> {
        self.smooth_2d()
    }

    /// Whether every landscape run is done (the network check may still be running).
    fn particles_done(&self) -> bool {
        self.queue.is_done()
    }

    /// The results so far: the landscape runs, the network check's, and the status.
    fn summary(&self) -> SmoothingResults {
        SmoothingResults {
            status: if self.is_done() {
                "complete"
            } else {
                "running"
            }
            .into(),
            nn_check: self.nn.as_ref().map(NetworkSeeds::results),
            ..self.results.clone()
        }
    }
}

impl Registered for SmoothingExperiment {
    type Config = SmoothingConfig;
    fn preset_config(request: &RunRequest) -> SmoothingConfig {
        SmoothingConfig::preset(request.preset)
    }
    fn validate_config(config: &SmoothingConfig) -> Result<()> {
        config.validate()
    }
    fn memory(c: &SmoothingConfig) -> MemoryEstimate {
        let per_particle = 8 + 16 + F32 * STAT_STRIDE as u64 + 16 + 1;
        let levels = c.sigmas.len() as u64;
        let mut e = MemoryEstimate::new()
            .add("starts", product(&[c.starts as u64, per_particle, 3]))
            .add("sigmas", product(&[levels, 4, c.starts as u64, 8 + 16]))
            .add(
                "grid_2d",
                product(&[c.grid_2d as u64, c.grid_2d as u64, F32, levels + 2]),
            )
            .add(
                "convex_grid",
                product(&[c.convex_grid as u64, c.convex_grid as u64, 8, 2]),
            );
        if let Some(n) = &c.nn_check {
            e = e.nest("nn_check", n.memory());
        }
        e
    }
    fn build(config: SmoothingConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for SmoothingExperiment {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        if self.particles_done() {
            if let Some(nn) = &mut self.nn {
                nn.step()?;
            }
            return Ok(self.progress());
        }
        let Some((j, job, a)) = self.queue.take() else {
            return Ok(self.progress());
        };
        let mut a = match a {
            Some(a) => a,
            None => Active {
                runner: self.start(job)?,
                next_stop: 0,
                near_after_burn_in: Vec::new(),
                snapshot_sum: vec![[0.0; 2]; self.config.starts],
            },
        };
        // The run stops after the burn-in (the first half of the steps) to record which
        // particles are near x*, then at `snapshots` evenly spaced points of the second half
        // (the last at the end) to sum their positions.
        let stops = self.config.stops();
        let target = stops[a.next_stop];
        let k = self
            .config
            .steps_per_call
            .min(target - a.runner.steps_done());
        a.runner.step(k);
        if a.runner.steps_done() >= target {
            let state = a.runner.read()?;
            if a.next_stop == 0 {
                a.near_after_burn_in = self.near_flags(&state);
            } else {
                for (sum, p) in a.snapshot_sum.iter_mut().zip(&state.pos) {
                    sum[0] += f64::from(p[0]);
                    sum[1] += f64::from(p[1]);
                }
            }
            a.next_stop += 1;
        }
        if a.runner.steps_done() >= self.config.steps {
            let state = a.runner.read()?;
            let snaps = f64::from(self.config.snapshots);
            let means: Vec<[f64; 2]> = a
                .snapshot_sum
                .iter()
                .map(|s| [s[0] / snaps, s[1] / snaps])
                .collect();
            self.record(job, &state, &a.near_after_burn_in, &means);
            if self.queue.is_done() {
                self.finish()?;
            }
        } else {
            a.runner.wait()?;
            self.queue.park(j, a);
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.particles_done() && self.nn.as_ref().is_none_or(NetworkSeeds::is_done)
    }

    fn progress(&self) -> Progress {
        let per = u64::from(self.config.steps);
        let done = self
            .queue
            .units_done(|_| per, |a| u64::from(a.runner.steps_done()));
        let (mut loss, mut accuracy) = (f64::NAN, f64::NAN);
        let phase = match (self.queue.active(), &self.nn) {
            (Some((_, job, _)), _) => {
                format!(
                    "{}-D {} · {}",
                    job.dim,
                    bowl_name(job.control),
                    Self::level_name(f64::from(self.config.sigmas[job.level]))
                )
            }
            _ if self.is_done() => "done".into(),
            (None, Some(nn)) if self.particles_done() => {
                (loss, accuracy) = nn.latest();
                nn.phase()
            }
            (None, _) => "starting".into(),
        };
        Progress {
            phase,
            done: done + self.nn.as_ref().map_or(0, NetworkSeeds::units_done),
            total: self.queue.total_units(|_| per)
                + self.nn.as_ref().map_or(0, NetworkSeeds::total_units),
            unit: "steps (particle batches, then SGD)".into(),
            epoch: self.queue.started(),
            loss,
            accuracy,
        }
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.config)
    }

    fn results_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.summary())
    }

    fn claims(&self) -> Vec<Claim> {
        self.claims_so_far()
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = self.write_landscape_outputs(dir)?;
        if let Some(nn) = &self.nn {
            written.extend(write_network_part(nn, dir)?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_body(md, &self.summary());
    }

    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let active = match self.queue.active() {
            Some((_, _, a)) => Some(ActiveState {
                particles: a.runner.read()?,
                next_stop: a.next_stop,
                near_after_burn_in: a.near_after_burn_in.clone(),
                snapshot_sum: a.snapshot_sum.clone(),
            }),
            None => None,
        };
        let finished = self.queue.finished();
        let nn = self
            .nn
            .as_ref()
            .filter(|_| self.queue.is_done())
            .map(NetworkSeeds::state);
        if finished == 0 && active.is_none() {
            return Ok(None);
        }
        let state = SmoothingState {
            levels: self
                .results
                .levels
                .iter()
                .map(|l| (l.clone(), l.finals.clone(), l.points.clone()))
                .collect(),
            g_curves: self.g_curves.clone(),
            active,
            nn,
        };
        Ok(Some((finished, encode(&state)?)))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let s: SmoothingState = decode(state, "smoothing checkpoint")?;
        let finished = s.levels.len();
        self.queue.resume_at(finished)?;
        self.results.levels = s
            .levels
            .into_iter()
            .map(|(level, finals, points)| LevelResult {
                finals,
                points,
                ..level
            })
            .collect();
        self.g_curves = s.g_curves;
        if let Some(a) = s.active {
            let Some(&job) = self.queue.jobs().get(finished) else {
                return Err(EngineError::config(
                    "<checkpoint>",
                    "a particle run in progress after the last one",
                ));
            };
            let starts = self.config.starts;
            if a.particles.len() != starts
                || a.snapshot_sum.len() != starts
                || a.next_stop >= self.config.stops().len()
                || a.particles.steps_done > self.config.steps
            {
                return Err(EngineError::config(
                    "<checkpoint>",
                    "the particle run in progress does not fit this config",
                ));
            }
            let active = Active {
                runner: self.start_at(job, Some(a.particles))?,
                next_stop: a.next_stop,
                near_after_burn_in: a.near_after_burn_in,
                snapshot_sum: a.snapshot_sum,
            };
            self.queue.resume_active(finished, active)?;
        }
        if self.queue.is_done() {
            self.finish()?;
        }
        if let (Some(nn), Some(saved)) = (&mut self.nn, s.nn) {
            nn.restore(saved)?;
        }
        Ok(())
    }
}

/// A finished level with its final positions and plane points.
type LevelState = (LevelResult, Vec<f64>, Vec<(f64, f64)>);

/// A particle run in progress in a checkpoint.
#[derive(Serialize, Deserialize)]
struct ActiveState {
    particles: ParticleState,
    next_stop: usize,
    near_after_burn_in: Vec<bool>,
    snapshot_sum: Vec<[f64; 2]>,
}

/// What a smoothing checkpoint keeps: each finished level with the positions results.json
/// leaves out, the 1-D smoothed curves computed so far, the particle run in progress and the
/// network check's state (its finished runs' results and the run in progress).
#[derive(Serialize, Deserialize)]
struct SmoothingState {
    levels: Vec<LevelState>,
    g_curves: Vec<(f64, Vec<(f64, f64)>)>,
    active: Option<ActiveState>,
    nn: Option<NetworkSeedsState>,
}

/// `spiky` or `smooth (control)`.
fn bowl_name(control: bool) -> &'static str {
    if control { "smooth (control)" } else { "spiky" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;
    use sgdlab_engine::device::cpu_device;

    fn run(config: SmoothingConfig) -> SmoothingExperiment {
        let mut e = SmoothingExperiment::new(config, cpu_device()).unwrap();
        while !e.is_done() {
            e.step().unwrap();
        }
        e
    }

    /// Rigged input: the "spiky" bowl without its spikes. GD then reaches x* from every start,
    /// so noise cannot beat it and the escape claim must come out `fails`.
    #[test]
    fn without_spikes_the_escape_claim_fails() {
        let smooth = Landscape::Ripple {
            dim: 1,
            a: 1.0,
            amp: 0.0,
            omega: 10.0,
        };
        let config = SmoothingConfig::new()
            .with_starts(300)
            .with_steps(600)
            .with_landscape_1d(smooth)
            .with_landscape_2d(None)
            .with_control(false)
            .with_nn_check(None);
        let e = run(config);
        let claims = e.claims();
        let escape = claims
            .iter()
            .find(|c| c.id == "smoothing-escapes-spikes-1d")
            .unwrap();
        assert_eq!(escape.verdict, Verdict::Fails, "{escape:?}");
        let control = claims
            .iter()
            .find(|c| c.id == "smoothing-control-1d")
            .unwrap();
        assert_eq!(control.verdict, Verdict::Inconclusive, "{control:?}");
        let gd = &e.results.levels[0];
        assert_eq!((gd.sigma, gd.stays_near, gd.runs), (0.0, 300, 300));
    }
}
