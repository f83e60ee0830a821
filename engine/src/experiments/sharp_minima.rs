//! Escape from sharp minima under truncated heavy-tailed noise (Wang, Oh, Rhee, "Eliminating
//! Sharp Minima from SGD with Truncated Heavy-tailed Noise", 2021).
//!
//! `X_{j+1} = X_j + φ_b(−η∇f(X_j) + ηZ_{j+1})` with Pareto noise of tail index α on a line of
//! wells `[wide][sharp][wide]`. The theory: with truncation, the first exit time from a basin of
//! radius r scales as `η^{−(1 + l*(α−1))}`, `l* = ⌈r/b⌉`, so as η → 0 the sharp well (small l*)
//! is left ever faster relative to the wide ones and its occupation falls to zero; without
//! truncation every basin is left on the same `η^{−α}` scale and the occupation ratio stays put.
//! A third mode clips the stochastic gradient (noise included) at a fixed norm c instead of the
//! step: every jump is then at most ηc, so the noise loses its heavy tail at the basins' scale.
//!
//! For each clipping mode and learning rate, N particles start half at the sharp well's center
//! and half at the wide wells' centers and run `steps(η) = min(max_steps, ⌈steps_scale · η^{−steps_power}⌉)`
//! steps; the mean first exit time (censoring-corrected), the fraction of time in each well and
//! the transition counts are recorded, and the log–log slope of exit time against 1/η is fitted.
//! Then the network part ([`HeavyTailNet`]) trains an MLP with heavy-tailed and truncated noise.

use super::{
    Claim, Experiment, HeavyTailNet, HeavyTailNetConfig, HeavyTailNetResults, NetworkPart, Preset,
    Progress, Registered, RunRequest, Verdict, to_json_value, write_network_part,
};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::gpu::ParticleRunner;
use crate::landscape::{
    Clip, Landscape, Noise, NoiseKind, ParticleState, ParticleSummary, StepRule, validate_particles,
};
use crate::report::{Axis, Bounds, CsvTable, LinePlot, ReportMd, Series, fmt_f64};
use crate::rng::derive_seed;
use burn::config::Config;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration of `sgdlab run sharp-minima`.
#[derive(Config, Debug, PartialEq)]
pub struct SharpMinimaConfig {
    /// Seed of the counter-based noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Particles per run.
    #[config(default = 4096)]
    pub particles: usize,
    /// Radius of the sharp well's basin.
    #[config(default = 0.5)]
    pub sharp_radius: f32,
    /// Radius of each wide well's basin.
    #[config(default = 1.0)]
    pub wide_radius: f32,
    /// Depth of every well.
    #[config(default = 1.0)]
    pub depth: f32,
    /// Learning rates η, largest first.
    #[config(default = "vec![0.08, 0.04, 0.02, 0.01]")]
    pub lrs: Vec<f32>,
    /// The heavy-tailed noise (Pareto with α > 1, or α-stable with α in (0, 2]).
    #[config(default = "NoiseKind::Pareto")]
    pub noise: NoiseKind,
    /// Noise scale σ.
    #[config(default = 1.0)]
    pub sigma: f32,
    /// Tail index α.
    #[config(default = 1.5)]
    pub alpha: f32,
    /// Truncation threshold b of the clipped runs.
    #[config(default = 0.4)]
    pub truncation: f32,
    /// Gradient-norm threshold c of the `grad-clipped` runs (the stochastic gradient, noise
    /// included, is clipped to norm c before η multiplies it); `null` skips them.
    #[config(default = "Some(5.0)")]
    pub grad_clip: Option<f32>,
    /// `steps(η) = ⌈steps_scale · η^{−steps_power}⌉`, capped at `max_steps`.
    #[config(default = 2.0)]
    pub steps_scale: f64,
    /// See `steps_scale`.
    #[config(default = 2.5)]
    pub steps_power: f64,
    /// Cap on the steps of one run.
    #[config(default = 200_000)]
    pub max_steps: u32,
    /// Steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 4096)]
    pub steps_per_call: u32,
    /// Heavy-tailed noise in network training, run after the particles; `null` skips it.
    #[config(default = "Some(HeavyTailNetConfig::new())")]
    pub network: Option<HeavyTailNetConfig>,
}

impl SharpMinimaConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_particles(512)
                .with_lrs(vec![0.08, 0.04, 0.02])
                .with_max_steps(40_000)
                .with_network(Some(HeavyTailNetConfig::quick())),
        }
    }

    /// Checks every field; errors name it and the accepted range.
    pub fn validate(&self) -> Result<()> {
        validate_particles(self.particles, "particles")?;
        if self.lrs.is_empty() || self.lrs.len() > 16 {
            return Err(EngineError::config(
                "lrs",
                format!("expected 1 to 16 learning rates, found {}", self.lrs.len()),
            ));
        }
        for (i, &lr) in self.lrs.iter().enumerate() {
            if !(lr.is_finite() && lr > 0.0 && lr <= 1.0) {
                return Err(EngineError::config(
                    format!("lrs[{i}]"),
                    format!("expected a learning rate in (0, 1], found {lr}"),
                ));
            }
        }
        if !matches!(self.noise, NoiseKind::Pareto | NoiseKind::Stable) {
            return Err(EngineError::config(
                "noise",
                format!(
                    "expected pareto or stable (heavy-tailed), found {}",
                    self.noise.name()
                ),
            ));
        }
        Noise::new(self.noise, self.sigma, self.alpha).validate("<root>")?;
        Clip::Truncate { b: self.truncation }.validate("truncation")?;
        if let Some(c) = self.grad_clip {
            Clip::GradNorm { c }.validate("grad_clip")?;
        }
        self.landscape().validate("landscape")?;
        if self.sharp_radius >= self.wide_radius {
            return Err(EngineError::config(
                "sharp_radius",
                format!(
                    "expected a sharp radius below wide_radius = {}, found {}",
                    self.wide_radius, self.sharp_radius
                ),
            ));
        }
        if !(self.steps_scale > 0.0 && self.steps_scale.is_finite()) {
            return Err(EngineError::config(
                "steps_scale",
                format!("expected a finite value > 0, found {}", self.steps_scale),
            ));
        }
        if !(0.0..=4.0).contains(&self.steps_power) {
            return Err(EngineError::config(
                "steps_power",
                format!("expected a power in [0, 4], found {}", self.steps_power),
            ));
        }
        if self.max_steps == 0 || self.max_steps > 100_000_000 {
            return Err(EngineError::config(
                "max_steps",
                format!("expected 1 to 100000000, found {}", self.max_steps),
            ));
        }
        if self.steps_per_call == 0 {
            return Err(EngineError::config(
                "steps_per_call",
                "expected at least 1, found 0",
            ));
        }
        if let Some(n) = &self.network {
            n.validate("network")?;
        }
        Ok(())
    }

    /// The landscape `[wide][sharp][wide]`.
    pub fn landscape(&self) -> Landscape {
        Landscape::sharp_and_wide_1d(self.sharp_radius, self.wide_radius, self.depth)
    }

    /// Steps of the run at learning rate `lr`.
    pub fn steps_for(&self, lr: f32) -> u32 {
        let s = (self.steps_scale * f64::from(lr).powf(-self.steps_power)).ceil();
        s.min(f64::from(self.max_steps)).max(1.0) as u32
    }

    /// The theory's exit-time exponent for a basin of radius `r`: `1 + ⌈r/b⌉(α−1)` truncated,
    /// `α` unclipped.
    pub fn theory_exponent(&self, r: f32, truncated: bool) -> f64 {
        let a = f64::from(self.alpha);
        if truncated {
            1.0 + (f64::from(r) / f64::from(self.truncation)).ceil() * (a - 1.0)
        } else {
            a
        }
    }
}

/// The clipping modes compared, in report order.
pub const CLIP_MODES: [&str; 3] = ["unclipped", "truncated", "grad-clipped"];

/// One run: a clipping mode at one learning rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SharpRun {
    /// `unclipped` or `truncated`.
    pub clip: String,
    /// The learning rate η.
    pub lr: f64,
    /// Steps per particle.
    pub steps: u32,
    /// Mean first exit time (steps) from the sharp well, censoring-corrected.
    pub exit_time_sharp: f64,
    /// Mean first exit time (steps) from the wide wells, censoring-corrected.
    pub exit_time_wide: f64,
    /// Fraction of particles started in the sharp well that left it.
    pub exited_sharp: f64,
    /// Fraction of particles started in a wide well that left it.
    pub exited_wide: f64,
    /// Fraction of particle-steps in the sharp well.
    pub occupation_sharp: f64,
    /// Fraction of particle-steps in the wide wells.
    pub occupation_wide: f64,
    /// Transition counts `[from][to]` between wells 0 (wide), 1 (sharp), 2 (wide).
    pub transitions: Vec<Vec<u64>>,
    /// Particles that diverged.
    pub diverged: usize,
}

/// A fitted log–log slope next to the theory's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlopeFit {
    /// `unclipped` or `truncated`.
    pub clip: String,
    /// `sharp` or `wide`.
    pub well: String,
    /// Least-squares slope of log(exit time) against log(1/η) over runs with finite exit times.
    pub fitted: f64,
    /// The slope between the two smallest learning rates: the theory is asymptotic (η → 0), so
    /// this local slope is the one to compare with it when the fit over all η falls short.
    #[serde(default)]
    pub local_smallest: f64,
    /// The theory: `1 + ⌈r/b⌉(α−1)` truncated, `α` unclipped.
    pub theory: f64,
    /// Learning rates used in the fit.
    pub points: usize,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SharpMinimaResults {
    /// Always `sharp-minima`.
    pub experiment: String,
    /// `complete` or `running`.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// Whether particles ran in the WGSL kernel (`gpu`) or the CPU reference (`cpu`).
    pub engine: String,
    /// `⌈r/b⌉` for the sharp well.
    pub l_star_sharp: u32,
    /// `⌈r/b⌉` for the wide wells.
    pub l_star_wide: u32,
    /// Every run, by clipping mode then learning rate.
    pub runs: Vec<SharpRun>,
    /// Slopes per clipping mode and well.
    pub slopes: Vec<SlopeFit>,
    /// Whether the sharp well's occupation falls monotonically as η falls, per clipping mode
    /// (a small monotone drift counts too: read it with `sharp_occupation_ratio`).
    pub sharp_occupation_falls: Vec<(String, bool)>,
    /// The sharp well's occupation at the smallest η over that at the largest η, per clipping
    /// mode: near 1 means no elimination, near 0 means the sharp minimum is eliminated.
    pub sharp_occupation_ratio: Vec<(String, f64)>,
    /// Heavy-tailed noise in network training (absent when the config skips it).
    pub network: Option<HeavyTailNetResults>,
}

/// The experiment's state machine.
pub struct SharpMinima {
    config: SharpMinimaConfig,
    device: ComputeDevice,
    jobs: Vec<(usize, usize)>,
    next_job: usize,
    active: Option<(usize, ParticleRunner, u32)>,
    results: SharpMinimaResults,
    net: Option<HeavyTailNet>,
}

impl SharpMinima {
    /// Prepares the runs. Fails on an invalid config.
    pub fn new(config: SharpMinimaConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let modes = if config.grad_clip.is_some() { 3 } else { 2 };
        let jobs = (0..modes)
            .flat_map(|c| (0..config.lrs.len()).map(move |l| (c, l)))
            .collect();
        let b = config.truncation;
        let results = SharpMinimaResults {
            experiment: "sharp-minima".into(),
            status: "running".into(),
            device: device.info.clone(),
            engine: if device.info.backend == "wgpu" {
                "gpu"
            } else {
                "cpu"
            }
            .into(),
            l_star_sharp: (config.sharp_radius / b).ceil() as u32,
            l_star_wide: (config.wide_radius / b).ceil() as u32,
            ..SharpMinimaResults::default()
        };
        let net = match &config.network {
            Some(n) => Some(HeavyTailNet::new(n.clone(), &device.device, "network")?),
            None => None,
        };
        Ok(Self {
            config,
            device,
            jobs,
            next_job: 0,
            active: None,
            results,
            net,
        })
    }

    fn rule(&self, job: (usize, usize)) -> StepRule {
        let c = &self.config;
        StepRule {
            lr: c.lrs[job.1],
            noise: Noise::new(c.noise, c.sigma, c.alpha),
            clip: match (job.0, c.grad_clip) {
                (1, _) => Clip::Truncate { b: c.truncation },
                (2, Some(c)) => Clip::GradNorm { c },
                _ => Clip::None,
            },
            diverge_radius: 1e6,
            seed: derive_seed(c.seed, &format!("sharp-minima {} {}", job.0, job.1)),
        }
    }

    fn start(&self, job: (usize, usize)) -> Result<ParticleRunner> {
        let land = self.config.landscape().packed();
        let w = self.config.wide_radius + self.config.sharp_radius;
        // Half at the sharp center, the rest alternating between the two wide centers.
        let pos = (0..self.config.particles)
            .map(|i| match i % 4 {
                0 | 2 => [0.0, 0.0],
                1 => [-w, 0.0],
                _ => [w, 0.0],
            })
            .collect();
        let state = ParticleState::new(&land, pos);
        ParticleRunner::new(&self.device, land, self.rule(job), state)
    }

    fn record(&mut self, job: (usize, usize), s: &ParticleSummary) {
        let wide_started = s.started[0] + s.started[2];
        let wide_exit_sum = s.exit_time_sum[0] + s.exit_time_sum[2];
        let wide_exited = s.exited[0] + s.exited[2];
        let exit_wide = if wide_exited == 0 {
            f64::INFINITY
        } else {
            wide_exit_sum as f64 / wide_exited as f64
        };
        let frac = |a: usize, b: usize| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        self.results.runs.push(SharpRun {
            clip: CLIP_MODES[job.0].into(),
            // As written in the config (0.08, not 0.07999999821 from widening the f32).
            lr: self.config.lrs[job.1]
                .to_string()
                .parse()
                .unwrap_or(f64::NAN),
            steps: s.steps,
            exit_time_sharp: s.mean_exit_time(1),
            exit_time_wide: exit_wide,
            exited_sharp: frac(s.exited[1], s.started[1]),
            exited_wide: frac(wide_exited, wide_started),
            occupation_sharp: s.occupation_fraction(1),
            occupation_wide: s.occupation_fraction(0) + s.occupation_fraction(2),
            transitions: s.transitions[..3]
                .iter()
                .map(|row| row[..3].to_vec())
                .collect(),
            diverged: s.diverged,
        });
    }

    fn finish(&mut self) {
        let mut slopes = Vec::new();
        let mut falls = Vec::new();
        let mut ratios = Vec::new();
        for (ci, clip) in CLIP_MODES.iter().enumerate() {
            if !self.results.runs.iter().any(|r| r.clip == *clip) {
                continue;
            }
            let runs: Vec<&SharpRun> = self
                .results
                .runs
                .iter()
                .filter(|r| r.clip == *clip)
                .collect();
            for (well, r) in [
                ("sharp", self.config.sharp_radius),
                ("wide", self.config.wide_radius),
            ] {
                let pts: Vec<(f64, f64)> = runs
                    .iter()
                    .map(|r| {
                        let t = if well == "sharp" {
                            r.exit_time_sharp
                        } else {
                            r.exit_time_wide
                        };
                        ((1.0 / r.lr).ln(), t.ln())
                    })
                    .filter(|p| p.1.is_finite())
                    .collect();
                slopes.push(SlopeFit {
                    clip: clip.to_string(),
                    well: well.into(),
                    fitted: ls_slope(&pts),
                    local_smallest: {
                        let mut by_x = pts.clone();
                        by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
                        ls_slope(&by_x[by_x.len().saturating_sub(2)..])
                    },
                    theory: match ci {
                        0 => self.config.theory_exponent(r, false),
                        1 => self.config.theory_exponent(r, true),
                        // Clipping the gradient at c bounds each jump by ηc: leaving a basin
                        // takes ⌈r/(ηc)⌉ jumps, more as η falls, so there is no fixed exponent.
                        _ => f64::NAN,
                    },
                    points: pts.len(),
                });
            }
            // Runs are in the config's order of learning rates; sort by η descending.
            let mut by_lr: Vec<(f64, f64)> =
                runs.iter().map(|r| (r.lr, r.occupation_sharp)).collect();
            by_lr.sort_by(|a, b| b.0.total_cmp(&a.0));
            let monotone = by_lr.windows(2).all(|w| w[1].1 < w[0].1);
            falls.push((clip.to_string(), monotone && by_lr.len() > 1));
            if let (Some(first), Some(last)) = (by_lr.first(), by_lr.last()) {
                ratios.push((clip.to_string(), last.1 / first.1));
            }
        }
        self.results.slopes = slopes;
        self.results.sharp_occupation_falls = falls;
        self.results.sharp_occupation_ratio = ratios;
    }

    /// Whether every particle run is done (the network part may still be running).
    fn particles_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    fn total_units(&self) -> u64 {
        self.jobs
            .iter()
            .map(|&(_, l)| u64::from(self.config.steps_for(self.config.lrs[l])))
            .sum::<u64>()
            + self.net.as_ref().map_or(0, HeavyTailNet::total_units)
    }

    fn units_done(&self) -> u64 {
        let steps_of = |j: usize| u64::from(self.config.steps_for(self.config.lrs[self.jobs[j].1]));
        let particles = match &self.active {
            Some((j, runner, _)) => {
                (0..*j).map(steps_of).sum::<u64>() + u64::from(runner.steps_done())
            }
            None => (0..self.next_job.min(self.jobs.len())).map(steps_of).sum(),
        };
        particles + self.net.as_ref().map_or(0, HeavyTailNet::units_done)
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "clip",
            "lr",
            "steps",
            "exit_time_sharp",
            "exit_time_wide",
            "exited_sharp",
            "exited_wide",
            "occupation_sharp",
            "occupation_wide",
            "transitions_sharp_to_wide",
            "transitions_wide_to_sharp",
            "diverged",
        ]);
        for r in &self.results.runs {
            let t01 = |i: usize, j: usize| {
                r.transitions
                    .get(i)
                    .and_then(|row| row.get(j))
                    .copied()
                    .unwrap_or(0)
            };
            t.push_row(vec![
                r.clip.clone(),
                fmt_f64(r.lr),
                r.steps.to_string(),
                fmt_f64(r.exit_time_sharp),
                fmt_f64(r.exit_time_wide),
                fmt_f64(r.exited_sharp),
                fmt_f64(r.exited_wide),
                fmt_f64(r.occupation_sharp),
                fmt_f64(r.occupation_wide),
                (t01(1, 0) + t01(1, 2)).to_string(),
                (t01(0, 1) + t01(2, 1)).to_string(),
                r.diverged.to_string(),
            ]);
        }
        t
    }

    /// The results so far: the particle runs, the network part's, and the status.
    fn summary(&self) -> SharpMinimaResults {
        SharpMinimaResults {
            status: if self.is_done() {
                "complete"
            } else {
                "running"
            }
            .into(),
            network: self.net.as_ref().map(|n| n.results.clone()),
            ..self.results.clone()
        }
    }

    fn report_body(&self, md: &mut ReportMd, r: &SharpMinimaResults, files: &[String]) {
        let c = &self.config;
        md.paragraph(
            "Wang, Oh, Rhee (2021): SGD with heavy-tailed noise truncated at b leaves a basin of \
             radius r after about η^-(1 + l*(α-1)) steps, l* = ⌈r/b⌉, so as η → 0 it spends \
             vanishing time in sharp (narrow) minima; without truncation every basin is left on \
             the same η^-α scale. Clipping the gradient instead (noise included, at a fixed c) \
             bounds every jump by ηc, so leaving any basin takes more jumps as η falls: the \
             noise is no longer heavy-tailed at the scale of the basins and nothing is \
             eliminated.",
        );
        md.paragraph(&format!(
            "Status: **{}**. Landscape: wells [wide r = {}][sharp r = {}][wide r = {}], depth {}; \
             noise {} with σ = {}, α = {}; truncation b = {} (l* = {} sharp, {} wide); gradient \
             clipping {}; {} particles per run on the {} engine; device: {}.",
            r.status,
            c.wide_radius,
            c.sharp_radius,
            c.wide_radius,
            c.depth,
            c.noise.name(),
            c.sigma,
            c.alpha,
            c.truncation,
            r.l_star_sharp,
            r.l_star_wide,
            c.grad_clip
                .map_or("not run".to_string(), |c| format!("c = {c}")),
            c.particles,
            r.engine,
            r.device
        ));
        md.heading(2, "Exit-time slopes (log exit time against log 1/η)");
        let rows: Vec<Vec<String>> = r
            .slopes
            .iter()
            .map(|s| {
                vec![
                    s.clip.clone(),
                    s.well.clone(),
                    format!("{:.2}", s.fitted),
                    format!("{:.2}", s.local_smallest),
                    if s.theory.is_finite() {
                        format!("{:.2}", s.theory)
                    } else {
                        "none: ⌈r/(ηc)⌉ jumps grow as η falls".into()
                    },
                    s.points.to_string(),
                ]
            })
            .collect();
        md.table(
            &[
                "clipping",
                "well",
                "fitted slope (all η)",
                "slope at the two smallest η",
                "theory (η → 0)",
                "points",
            ],
            &rows,
        );
        md.paragraph(
            "The theory's exponents are limits as η → 0. At finite η the fitted slopes fall \
             short (a likely reason, not verified here: a particle already displaced by the \
             noise's bulk can leave with fewer than l* clipped jumps); the local slope at the \
             smallest learning rates shows whether it is moving toward the theory.",
        );
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    x.clip.clone(),
                    format!("{}", x.lr),
                    x.steps.to_string(),
                    format!("{:.1}", x.exit_time_sharp),
                    format!("{:.1}", x.exit_time_wide),
                    format!("{:.3}", x.occupation_sharp),
                    format!("{:.3}", x.occupation_wide),
                    x.diverged.to_string(),
                ]
            })
            .collect();
        md.table(
            &[
                "clipping",
                "η",
                "steps",
                "mean exit (sharp)",
                "mean exit (wide)",
                "time in sharp",
                "time in wide",
                "diverged",
            ],
            &rows,
        );
        for ((clip, falls), (_, ratio)) in r
            .sharp_occupation_falls
            .iter()
            .zip(&r.sharp_occupation_ratio)
        {
            md.paragraph(&format!(
                "{clip}: from the largest η to the smallest, the sharp well's share of time is \
                 multiplied by {ratio:.2} ({}).",
                if *falls {
                    "it falls at every step"
                } else {
                    "not monotonically"
                }
            ));
        }
        if let Some(net) = &self.net {
            net.report(md);
        }
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
        }
    }
}

/// Least-squares slope of y on x (NaN with fewer than two points).
pub fn ls_slope(pts: &[(f64, f64)]) -> f64 {
    if pts.len() < 2 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

impl Registered for SharpMinima {
    type Config = SharpMinimaConfig;
    fn preset_config(request: &RunRequest) -> SharpMinimaConfig {
        SharpMinimaConfig::preset(request.preset)
    }
    fn validate_config(config: &SharpMinimaConfig) -> Result<()> {
        config.validate()
    }
    fn build(config: SharpMinimaConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for SharpMinima {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        if self.particles_done() {
            if let Some(net) = &mut self.net {
                net.step()?;
            }
            return Ok(self.progress());
        }
        let (j, mut runner, target) = match self.active.take() {
            Some(a) => a,
            None => {
                let job = self.jobs[self.next_job];
                let runner = self.start(job)?;
                self.next_job += 1;
                (
                    self.next_job - 1,
                    runner,
                    self.config.steps_for(self.config.lrs[job.1]),
                )
            }
        };
        let k = self.config.steps_per_call.min(target - runner.steps_done());
        runner.step(k);
        if runner.steps_done() >= target {
            let state = runner.read()?;
            self.record(self.jobs[j], &state.summary());
            if self.particles_done() {
                self.finish();
            }
        } else {
            runner.wait()?;
            self.active = Some((j, runner, target));
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.particles_done() && self.net.as_ref().is_none_or(HeavyTailNet::is_done)
    }

    fn progress(&self) -> Progress {
        let (mut loss, mut accuracy) = (f64::NAN, f64::NAN);
        let phase = match (&self.active, &self.net) {
            (Some((j, _, _)), _) => {
                let (c, l) = self.jobs[*j];
                format!("{} · η = {}", CLIP_MODES[c], self.config.lrs[l])
            }
            _ if self.is_done() => "done".into(),
            (None, Some(net)) if self.particles_done() => {
                (loss, accuracy) = net.latest();
                net.phase()
            }
            (None, _) => "starting".into(),
        };
        Progress {
            phase,
            done: self.units_done(),
            total: self.total_units(),
            unit: "steps (particle batches, then SGD)".into(),
            epoch: self.next_job,
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
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        if !self.results.runs.is_empty() {
            let mut exit = Vec::new();
            let mut occ = Vec::new();
            for clip in CLIP_MODES
                .into_iter()
                .filter(|c| self.results.runs.iter().any(|r| r.clip == *c))
            {
                let runs: Vec<&SharpRun> = self
                    .results
                    .runs
                    .iter()
                    .filter(|r| r.clip == clip)
                    .collect();
                for well in ["sharp", "wide"] {
                    // An infinite mean exit time means no particle left within its steps: a
                    // lower bound (> steps), drawn as censored rather than dropped.
                    let mut series =
                        Series::line_points(format!("{clip}, {well} well"), Vec::new());
                    for r in &runs {
                        let t = if well == "sharp" {
                            r.exit_time_sharp
                        } else {
                            r.exit_time_wide
                        };
                        if t == f64::INFINITY {
                            series.censored.push((1.0 / r.lr, f64::from(r.steps)));
                        } else {
                            series.points.push((1.0 / r.lr, t));
                        }
                    }
                    exit.push(series);
                }
                occ.push(Series::line_points(
                    format!("{clip}: time in the sharp well"),
                    runs.iter()
                        .map(|r| (1.0 / r.lr, r.occupation_sharp))
                        .collect(),
                ));
            }
            written.extend(
                LinePlot::single(
                    "Mean first exit time against 1/η",
                    Axis::log("1/η (inverse learning rate)"),
                    Axis::log("mean first exit time (steps)"),
                    exit,
                )
                .render(dir, "exit_times")?,
            );
            written.extend(
                LinePlot::single(
                    "Fraction of time in the sharp well",
                    Axis::log("1/η (inverse learning rate)"),
                    Axis::linear("fraction of particle-steps").bounded(Bounds::UNIT),
                    occ,
                )
                .render(dir, "sharp_occupation")?,
            );
        }
        if let Some(net) = &self.net {
            written.extend(write_network_part(net, dir)?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, &self.summary(), files);
    }
}

impl SharpMinima {
    /// The claims on the results so far: exit-time slopes against the theory, and the sharp
    /// well's elimination under truncation only.
    fn claims_so_far(&self) -> Vec<Claim> {
        let r = self.summary();
        let mut claims = Vec::new();
        for clip in ["truncated", "unclipped"] {
            for well in ["sharp", "wide"] {
                let claim = Claim::new(
                    &format!("exit-slope-{clip}-{well}"),
                    "The mean exit time from a basin grows like (1/η) to the power 1 + ⌈r/b⌉(α−1) \
                     with truncated heavy-tailed noise, and α without truncation.",
                    "holds when the slope between the two smallest η is within 25% of the \
                     theory's exponent; fails otherwise (no interval yet: one fit over particles)",
                );
                claims.push(
                    match r.slopes.iter().find(|s| s.clip == clip && s.well == well) {
                        None => claim.not_measured("this mode has not finished"),
                        Some(s) if !s.local_smallest.is_finite() => claim.decide(
                            format!("fit {:.2}, theory {:.2}", s.fitted, s.theory),
                            Verdict::Inconclusive,
                            "no finite local slope at the smallest η (censored exits)",
                        ),
                        Some(s) => {
                            let ok = (s.local_smallest - s.theory).abs() <= 0.25 * s.theory;
                            claim.decide(
                                format!(
                                    "local slope {:.2} (fit over all η {:.2}), theory {:.2}",
                                    s.local_smallest, s.fitted, s.theory
                                ),
                                if ok { Verdict::Holds } else { Verdict::Fails },
                                if ok {
                                    "within 25% of the theory"
                                } else {
                                    "more than 25% off"
                                },
                            )
                        }
                    },
                );
            }
        }
        let ratio = |clip: &str| {
            r.sharp_occupation_ratio
                .iter()
                .find(|(c, _)| c == clip)
                .map(|(_, v)| *v)
        };
        let elim = Claim::new(
            "sharp-minimum-eliminated",
            "Under truncated heavy-tailed noise the sharp minimum's share of time falls toward 0 \
             as η falls; without truncation it does not.",
            "holds when the sharp well's occupation at the smallest η over that at the largest \
             is below 0.5 truncated and above 0.5 unclipped; fails otherwise",
        );
        claims.push(match (ratio("truncated"), ratio("unclipped")) {
            (Some(t), Some(u)) if t.is_finite() && u.is_finite() => {
                let ok = t < 0.5 && u > 0.5;
                elim.decide(
                    format!("occupation ratio truncated {t:.3}, unclipped {u:.3}"),
                    if ok { Verdict::Holds } else { Verdict::Fails },
                    if ok {
                        "eliminated under truncation only"
                    } else {
                        "the two modes do not separate at 0.5"
                    },
                )
            }
            _ => elim.not_measured("the η sweeps have not finished"),
        });
        claims
    }
}
