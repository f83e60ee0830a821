//! SGD as gradient descent on a smoothed loss (Kleinberg, Li, Yuan, "An Alternative View: When
//! Does SGD Escape Local Minima?", ICML 2018).
//!
//! With `y_t = x_t − η∇f(x_t)`, SGD's `y` follows in expectation gradient descent on
//! `g(y) = E_ω f(y − ηω)`. On a convex bowl with high-frequency spikes, `f` has many spurious
//! local minima but `g` is one-point convex towards x* = 0 once `ηω` is large enough. The
//! signature: gradient descent ends in spurious minima; at a middle noise level SGD's runs
//! concentrate near x*; too much noise spreads them again. Shown on a line and in the plane,
//! with `g_η` drawn over `f` for every noise level.

mod claims;

pub use claims::GAIN_MARGIN;

use super::{
    Claim, Experiment, Interval, NetworkPart, OnePointCheck, OnePointConfig, OnePointResults,
    Preset, Progress, Registered, RunRequest, check, to_json_value, write_network_part,
};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::Result;
use crate::gpu::{GpuContext, ParticleRunner, smooth_grid_gpu};
use crate::landscape::{
    Clip, Grid, Landscape, Noise, NoiseKind, ParticleState, Smoothing, StepRule,
    one_point_convex_share, smooth_grid_cpu, smoothed_quadrature_1d, validate_particles,
};
use crate::report::{
    Axis, Bounds, CsvTable, Heatmap, HeatmapGrid, Histogram, LinePlot, ReportMd, Series, fmt_f64,
};
use crate::rng::{SplitMix64, derive_seed};
use burn::config::Config;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration of `sgdlab run smoothing`.
#[derive(Config, Debug, PartialEq)]
pub struct SmoothingConfig {
    /// Seed of the starts and the noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Runs (particles) per noise level.
    #[config(default = 4000)]
    pub starts: usize,
    /// Starts are uniform in `[-start_range, start_range]^d`.
    #[config(default = 3.0)]
    pub start_range: f32,
    /// Learning rate η.
    #[config(default = 0.05)]
    pub lr: f32,
    /// Steps per run.
    #[config(default = 3000)]
    pub steps: u32,
    /// Gaussian noise scales σ; 0 is gradient descent.
    #[config(default = "vec![0.0, 2.0, 6.0, 20.0]")]
    pub sigmas: Vec<f32>,
    /// The 1-D landscape (a ripple bowl with x* = 0).
    #[config(default = "Landscape::spiky_bowl_1d()")]
    pub landscape_1d: Landscape,
    /// The 2-D landscape (a ripple bowl with x* = 0); `None` skips the 2-D part.
    #[config(default = "Some(Landscape::spiky_bowl_2d())")]
    pub landscape_2d: Option<Landscape>,
    /// A run "ends near x*" when its final distance to x* is at most this.
    #[config(default = 0.5)]
    pub near_radius: f32,
    /// The one-point-convexity constant c: `g_η` is one-point convex at a point x when
    /// `⟨−∇g_η(x), x* − x⟩ ≥ c ‖x* − x‖²` (a quarter of the bowl's curvature by default).
    #[config(default = 0.25)]
    pub one_point_c: f64,
    /// A level counts as one-point convex over the start region when at least this share of a
    /// grid over it satisfies the inequality.
    #[config(default = 0.9)]
    pub convex_share_min: f64,
    /// Grid points per side for the one-point-convexity share.
    #[config(default = 201)]
    pub convex_grid: u32,
    /// Also run every level on the same bowl without spikes (the control).
    #[config(default = true)]
    pub control: bool,
    /// Grid points per side of the 2-D smoothed-landscape plots.
    #[config(default = 96)]
    pub grid_2d: u32,
    /// Monte Carlo samples per grid point for the 2-D smoothed landscape.
    #[config(default = 128)]
    pub samples_2d: u32,
    /// Steps per `step()` call.
    #[config(default = 1000)]
    pub steps_per_call: u32,
    /// The network check (one-point convexity along SGD on MNIST), run after the landscapes;
    /// `null` skips it.
    #[config(default = "Some(OnePointConfig::new())")]
    pub nn_check: Option<OnePointConfig>,
}

impl SmoothingConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_starts(600)
                .with_steps(1500)
                .with_grid_2d(48)
                .with_samples_2d(64)
                .with_nn_check(Some(OnePointConfig::quick())),
        }
    }

    /// Checks every field; errors name it and the accepted range.
    pub fn validate(&self) -> Result<()> {
        validate_particles(self.starts, "starts")?;
        check::range_open_low("lr", f64::from(self.lr), 0.0, 1.0)?;
        check::count("steps", self.steps as usize, 2, 10_000_000)?;
        check::list_len("sigmas", self.sigmas.len(), 1, 8)?;
        for (i, &s) in self.sigmas.iter().enumerate() {
            Noise::new(NoiseKind::Gaussian, s, 2.0).validate(&format!("sigmas[{i}]"))?;
        }
        check::positive("start_range", f64::from(self.start_range))?;
        check::positive("near_radius", f64::from(self.near_radius))?;
        check::non_negative("one_point_c", self.one_point_c)?;
        check::fraction("convex_share_min", self.convex_share_min)?;
        check::count("convex_grid", self.convex_grid as usize, 3, 4096)?;
        for (name, l, dim) in [
            ("landscape_1d", Some(&self.landscape_1d), 1),
            ("landscape_2d", self.landscape_2d.as_ref(), 2),
        ] {
            if let Some(l) = l {
                l.validate(name)?;
                if l.dim() != dim || !matches!(l, Landscape::Ripple { .. }) {
                    return Err(check::expected(
                        name,
                        &format!("a ripple landscape of dimension {dim}"),
                        &format!("{l:?}"),
                    ));
                }
            }
        }
        check::count("grid_2d", self.grid_2d as usize, 8, 1024)?;
        check::count("samples_2d", self.samples_2d as usize, 1, 65_536)?;
        check::count(
            "steps_per_call",
            self.steps_per_call as usize,
            1,
            u32::MAX as usize,
        )?;
        if let Some(n) = &self.nn_check {
            n.validate("nn_check")?;
        }
        Ok(())
    }

    fn noise(&self, level: usize) -> Noise {
        let s = self.sigmas[level];
        if s == 0.0 {
            Noise::NONE
        } else {
            Noise::new(NoiseKind::Gaussian, s, 2.0)
        }
    }
}

/// Where the runs at one noise level ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelResult {
    /// 1 or 2.
    pub dim: u32,
    /// Whether this is the control: the same bowl without spikes.
    pub control: bool,
    /// Noise scale σ (0: gradient descent).
    pub sigma: f64,
    /// The smoothing radius ησ.
    pub smoothing_radius: f64,
    /// Runs at this level.
    pub runs: usize,
    /// Share of a grid over the start region where `g_η` is one-point convex toward x* with
    /// the config's c (closed form); `None` without one.
    pub convex_share: Option<f64>,
    /// Fraction of runs within `near_radius` of x* after the burn-in (half the steps).
    pub near_after_burn_in: f64,
    /// Runs within `near_radius` of x* both after the burn-in and at the end.
    pub stays_near: usize,
    /// Wilson 95% interval of `stays_near / runs`: `[lo, hi]`.
    pub stays_interval: [f64; 2],
    /// Fraction of runs ending within `near_radius` of x*.
    pub near_fraction: f64,
    /// Fraction of runs ending in x*'s own cell (basin label 0).
    pub center_cell_fraction: f64,
    /// Mean final distance to x*.
    pub mean_distance: f64,
    /// Runs that diverged.
    pub diverged: usize,
    /// Strict local minima of g on a fine line grid over the start range (1-D only; 1 means
    /// g is unimodal there).
    pub g_local_minima: Option<usize>,
    /// Final positions (1-D: x; 2-D: distance to x*), for the histogram.
    #[serde(skip)]
    pub finals: Vec<f64>,
    /// A few final positions in the plane (2-D only), for the heatmaps.
    #[serde(skip)]
    pub points: Vec<(f64, f64)>,
}

impl LevelResult {
    /// `stays_near / runs` (NaN without runs).
    pub fn stays_fraction(&self) -> f64 {
        if self.runs == 0 {
            f64::NAN
        } else {
            self.stays_near as f64 / self.runs as f64
        }
    }
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmoothingResults {
    /// Always `smoothing`.
    pub experiment: String,
    /// `complete` or `running`.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// `gpu` (WGSL kernels) or `cpu` (the Rust reference).
    pub engine: String,
    /// Per dimension and noise level, spiky bowl then control.
    pub levels: Vec<LevelResult>,
    /// The network check of the paper (one-point convexity along SGD on MNIST); absent when
    /// the config skips it.
    pub nn_check: Option<OnePointResults>,
}

/// One particle run: a dimension, a noise level, and the bowl (spiky, or the smooth control).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Job {
    dim: u32,
    level: usize,
    control: bool,
}

/// The run in progress: its job index, its particles, and which were near x* after the burn-in.
struct Active {
    job: usize,
    runner: ParticleRunner,
    near_after_burn_in: Option<Vec<bool>>,
}

/// The experiment's state machine.
pub struct SmoothingExperiment {
    config: SmoothingConfig,
    device: ComputeDevice,
    jobs: Vec<Job>,
    next_job: usize,
    active: Option<Active>,
    results: SmoothingResults,
    g_curves: Vec<(f64, Vec<(f64, f64)>)>,
    g_grids: Vec<(f64, Vec<f64>)>,
    nn: Option<OnePointCheck>,
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
            engine: if device.info.backend == "wgpu" {
                "gpu"
            } else {
                "cpu"
            }
            .into(),
            ..SmoothingResults::default()
        };
        let nn = match &config.nn_check {
            Some(c) => Some(OnePointCheck::new(c.clone(), &device.device, "nn_check")?),
            None => None,
        };
        Ok(Self {
            nn,
            config,
            device,
            jobs,
            next_job: 0,
            active: None,
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
        let Job { dim, level, control } = job;
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
        let state = ParticleState::new(&land, pos);
        let rule = StepRule {
            lr: self.config.lr,
            noise: self.config.noise(level),
            clip: Clip::None,
            diverge_radius: 1e6,
            seed: derive_seed(self.config.seed, &format!("smoothing noise {dim} {level}")),
        };
        ParticleRunner::new(&self.device, land, rule, state)
    }

    fn near_flags(&self, state: &ParticleState) -> Vec<bool> {
        let near_r = f64::from(self.config.near_radius);
        state
            .pos
            .iter()
            .zip(&state.meta)
            .map(|(p, m)| {
                m[0] != crate::landscape::DIVERGED
                    && f64::from(p[0]).hypot(f64::from(p[1])) <= near_r
            })
            .collect()
    }

    fn record(&mut self, job: Job, state: &ParticleState, near_after_burn_in: &[bool]) {
        let Job { dim, level, control } = job;
        let s = state.summary();
        let n = state.len() as f64;
        let near_r = f64::from(self.config.near_radius);
        let mut finals = Vec::new();
        let mut points = Vec::new();
        let (mut near, mut dist_sum, mut live) = (0usize, 0.0, 0usize);
        for (i, p) in state.pos.iter().enumerate() {
            if state.meta[i][0] == crate::landscape::DIVERGED {
                continue;
            }
            live += 1;
            let d = f64::from(p[0]).hypot(f64::from(p[1]));
            dist_sum += d;
            if d <= near_r {
                near += 1;
            }
            finals.push(if dim == 1 { f64::from(p[0]) } else { d });
            if dim == 2 && points.len() < 400 {
                points.push((f64::from(p[0]), f64::from(p[1])));
            }
        }
        let sigma = f64::from(self.config.sigmas[level]);
        let near_now = self.near_flags(state);
        let stays_near = near_now
            .iter()
            .zip(near_after_burn_in)
            .filter(|(a, b)| **a && **b)
            .count();
        let burned_in = near_after_burn_in.iter().filter(|b| **b).count();
        let stays = Interval::wilson95(stays_near, state.len());
        let noise = self.config.noise(level);
        let convex_share = one_point_convex_share(
            &self.landscape(dim, control),
            &noise,
            self.config.lr,
            self.config.one_point_c,
            f64::from(self.config.start_range),
            self.config.convex_grid,
        );
        let g_local_minima = (dim == 1 && !control).then(|| {
            let land = self.landscape(1, false).packed();
            let noise = self.config.noise(level);
            let r = f64::from(self.config.start_range);
            let ys: Vec<f64> = (0..=1200)
                .map(|i| -r + 2.0 * r * f64::from(i) / 1200.0)
                .collect();
            let g: Vec<f64> = ys
                .iter()
                .map(|&y| {
                    smoothed_quadrature_1d(&land, &noise, self.config.lr, y, 2000)
                        .unwrap_or(f64::NAN)
                })
                .collect();
            self.g_curves
                .push((sigma, ys.iter().copied().zip(g.iter().copied()).collect()));
            (1..g.len() - 1)
                .filter(|&i| g[i] < g[i - 1] && g[i] < g[i + 1])
                .count()
        });
        self.results.levels.push(LevelResult {
            dim,
            control,
            sigma,
            smoothing_radius: f64::from(self.config.lr) * sigma,
            runs: state.len(),
            convex_share,
            near_after_burn_in: burned_in as f64 / n,
            stays_near,
            stays_interval: [stays.lo, stays.hi],
            near_fraction: near as f64 / n,
            center_cell_fraction: s.final_label[0] as f64 / n,
            mean_distance: if live == 0 {
                f64::NAN
            } else {
                dist_sum / live as f64
            },
            diverged: s.diverged,
            g_local_minima,
            finals,
            points,
        });
    }

    fn smooth_2d(&mut self) -> Result<()> {
        let Some(land) = self.config.landscape_2d.clone() else {
            return Ok(());
        };
        let packed = land.packed();
        let r = self.config.start_range;
        let grid = Grid {
            nx: self.config.grid_2d,
            ny: self.config.grid_2d,
            x: (-r, r),
            y: (-r, r),
        };
        for level in 0..self.config.sigmas.len() {
            let noise = self.config.noise(level);
            let s = Smoothing {
                noise,
                lr: self.config.lr,
                samples: if noise.kind == NoiseKind::None {
                    1
                } else {
                    self.config.samples_2d
                },
                seed: derive_seed(self.config.seed, "smoothing grid"),
            };
            s.validate(&grid, "smoothing")?;
            let values = if self.device.info.backend == "wgpu" {
                smooth_grid_gpu(&GpuContext::shared()?, &packed, &s, &grid)?
            } else {
                smooth_grid_cpu(
                    &packed,
                    &s,
                    2,
                    &grid,
                    std::thread::available_parallelism().map_or(1, usize::from),
                )
            };
            // Row-major with y ascending; the heatmap's first row is the bottom one as well.
            self.g_grids.push((
                f64::from(self.config.sigmas[level]),
                values.into_iter().map(f64::from).collect(),
            ));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.smooth_2d()
    }

    /// Whether every landscape run is done (the network check may still be running).
    fn particles_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "dim",
            "bowl",
            "sigma",
            "smoothing_radius",
            "runs",
            "convex_share",
            "near_after_burn_in",
            "stays_near",
            "stays_lo",
            "stays_hi",
            "near_fraction",
            "center_cell_fraction",
            "mean_distance",
            "diverged",
            "g_local_minima",
        ]);
        for l in &self.results.levels {
            t.push_row(vec![
                l.dim.to_string(),
                bowl_name(l.control).into(),
                fmt_f64(l.sigma),
                fmt_f64(l.smoothing_radius),
                l.runs.to_string(),
                l.convex_share.map_or("-".into(), fmt_f64),
                fmt_f64(l.near_after_burn_in),
                l.stays_near.to_string(),
                fmt_f64(l.stays_interval[0]),
                fmt_f64(l.stays_interval[1]),
                fmt_f64(l.near_fraction),
                fmt_f64(l.center_cell_fraction),
                fmt_f64(l.mean_distance),
                l.diverged.to_string(),
                l.g_local_minima.map_or("-".into(), |m| m.to_string()),
            ]);
        }
        t
    }

    fn level_name(sigma: f64) -> String {
        if sigma == 0.0 {
            "GD".into()
        } else {
            format!("SGD σ = {sigma}")
        }
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
            nn_check: self.nn.as_ref().map(|n| n.results.clone()),
            ..self.results.clone()
        }
    }

    fn report_body(&self, md: &mut ReportMd, r: &SmoothingResults, files: &[String]) {
        let c = &self.config;
        md.paragraph(
            "Kleinberg, Li, Yuan (ICML 2018): with y = x − η∇f(x), SGD's y follows in expectation \
             gradient descent on g(y) = E f(y − ηω). On a bowl with high-frequency spikes, g is \
             one-point convex toward x* = 0 once ηω is large enough, and then SGD reaches x*'s \
             neighbourhood while GD on f stops in a spurious minimum. The claims compare SGD at a \
             level where g is one-point convex over the start region with GD, by the share of \
             runs near x* after the burn-in and still at the end, and repeat every level on the \
             same bowl without spikes (the control), where noise cannot help.",
        );
        md.paragraph(&format!(
            "Status: **{}**. {} runs per level from uniform starts in [-{s}, {s}]^d, η = {}, {} \
             steps (burn-in: the first half), Gaussian noise; one-point convexity with c = {} on \
             a {}-point grid per side; engine {}; device: {}.",
            r.status,
            c.starts,
            c.lr,
            c.steps,
            c.one_point_c,
            c.convex_grid,
            r.engine,
            r.device,
            s = c.start_range
        ));
        md.table(
            &[
                "dim",
                "bowl",
                "level",
                "ησ",
                "g one-point convex on",
                &format!("within {} of x* after burn-in", c.near_radius),
                "and still at the end [Wilson 95%]",
                "ends in x*'s cell",
                "mean distance",
                "local minima of g",
                "diverged",
            ],
            &r.levels
                .iter()
                .map(|l| {
                    vec![
                        l.dim.to_string(),
                        bowl_name(l.control).into(),
                        Self::level_name(l.sigma),
                        format!("{:.3}", l.smoothing_radius),
                        l.convex_share
                            .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v)),
                        format!("{:.3}", l.near_after_burn_in),
                        Interval {
                            estimate: l.stays_fraction(),
                            lo: l.stays_interval[0],
                            hi: l.stays_interval[1],
                        }
                        .show(3),
                        format!("{:.3}", l.center_cell_fraction),
                        format!("{:.3}", l.mean_distance),
                        l.g_local_minima.map_or("-".into(), |m| m.to_string()),
                        l.diverged.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        if let Some(nn) = &self.nn {
            nn.report(md);
        }
        md.heading(2, "Plots");
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            md.image(f, f);
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
        let mut a = match self.active.take() {
            Some(a) => a,
            None => {
                let runner = self.start(self.jobs[self.next_job])?;
                self.next_job += 1;
                Active {
                    job: self.next_job - 1,
                    runner,
                    near_after_burn_in: None,
                }
            }
        };
        // The burn-in is the first half of the steps; the run stops there once to record
        // which particles are near x*.
        let burn_in = self.config.steps / 2;
        let target = if a.near_after_burn_in.is_none() {
            burn_in
        } else {
            self.config.steps
        };
        let k = self
            .config
            .steps_per_call
            .min(target - a.runner.steps_done());
        a.runner.step(k);
        if a.near_after_burn_in.is_none() && a.runner.steps_done() >= burn_in {
            let state = a.runner.read()?;
            a.near_after_burn_in = Some(self.near_flags(&state));
        }
        if a.runner.steps_done() >= self.config.steps {
            let state = a.runner.read()?;
            let near = a.near_after_burn_in.take().unwrap_or_default();
            self.record(self.jobs[a.job], &state, &near);
            if self.next_job >= self.jobs.len() {
                self.finish()?;
            }
        } else {
            a.runner.wait()?;
            self.active = Some(a);
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.particles_done() && self.nn.as_ref().is_none_or(OnePointCheck::is_done)
    }

    fn progress(&self) -> Progress {
        let per = u64::from(self.config.steps);
        let done = match &self.active {
            Some(a) => a.job as u64 * per + u64::from(a.runner.steps_done()),
            None => self.next_job as u64 * per,
        };
        let (mut loss, mut accuracy) = (f64::NAN, f64::NAN);
        let phase = match (&self.active, &self.nn) {
            (Some(a), _) => {
                let job = self.jobs[a.job];
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
            done: done + self.nn.as_ref().map_or(0, OnePointCheck::units_done),
            total: self.jobs.len() as u64 * per
                + self.nn.as_ref().map_or(0, OnePointCheck::total_units),
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
        for dim in [1u32, 2] {
            let series: Vec<(String, Vec<f64>)> = self
                .results
                .levels
                .iter()
                .filter(|l| l.dim == dim && !l.control)
                .map(|l| (Self::level_name(l.sigma), l.finals.clone()))
                .collect();
            if !series.is_empty() {
                written.extend(
                    Histogram {
                        title: if dim == 1 {
                            "Where runs end (1-D spiky bowl, x* = 0)".into()
                        } else {
                            "Final distance to x* (2-D spiky bowl)".into()
                        },
                        x: if dim == 1 {
                            Axis::linear("final x (position)")
                        } else {
                            Axis::linear("final ‖x − x*‖ (distance)").bounded(Bounds::NON_NEGATIVE)
                        },
                        counted: "runs".into(),
                        series,
                        bins: 60,
                    }
                    .render(dir, &format!("endpoints_{dim}d"))?,
                );
            }
        }
        if !self.g_curves.is_empty() {
            let land = self.config.landscape_1d.packed();
            let r = f64::from(self.config.start_range);
            let mut series = vec![Series::line(
                "f",
                (0..=1200)
                    .map(|i| {
                        let y = -r + 2.0 * r * f64::from(i) / 1200.0;
                        (y, f64::from(land.value([y as f32, 0.0])))
                    })
                    .collect(),
            )];
            for (sigma, pts) in self.g_curves.iter().filter(|(s, _)| *s > 0.0) {
                series.push(Series::line(
                    format!(
                        "g, σ = {sigma} (ησ = {:.2})",
                        sigma * f64::from(self.config.lr)
                    ),
                    pts.clone(),
                ));
            }
            written.extend(
                LinePlot::single(
                    "The smoothed landscape g_η over f",
                    Axis::linear("x (position)"),
                    Axis::linear("f(x), g_η(x) (loss)"),
                    series,
                )
                .render(dir, "smoothed_1d")?,
            );
        }
        if !self.g_grids.is_empty() {
            let r = f64::from(self.config.start_range);
            let n = self.config.grid_2d as usize;
            let panels = self
                .g_grids
                .iter()
                .map(|(sigma, values)| {
                    let pts = self
                        .results
                        .levels
                        .iter()
                        .find(|l| l.dim == 2 && !l.control && l.sigma == *sigma)
                        .map(|l| l.points.iter().map(|&(x, y)| (x, y, 1)).collect())
                        .unwrap_or_default();
                    let (lo, hi) = values
                        .iter()
                        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
                    Heatmap {
                        title: format!("{} (g, normalized; dots: ends)", Self::level_name(*sigma)),
                        x_title: "x₁ (position)".into(),
                        y_title: "x₂ (position)".into(),
                        x_range: (-r, r),
                        y_range: (-r, r),
                        nx: n,
                        ny: n,
                        values: values
                            .iter()
                            .map(|v| (v - lo) / (hi - lo).max(1e-12))
                            .collect(),
                        value_label: "g (normalized)".into(),
                        points: pts,
                    }
                })
                .collect();
            written.extend(
                HeatmapGrid {
                    title: "The smoothed 2-D landscape per noise level".into(),
                    columns: 2,
                    panels,
                }
                .render(dir, "smoothed_2d")?,
            );
        }
        if let Some(nn) = &self.nn {
            written.extend(write_network_part(nn, dir)?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd, files: &[String]) {
        self.report_body(md, &self.summary(), files);
    }
}

/// `spiky` or `smooth (control)`.
fn bowl_name(control: bool) -> &'static str {
    if control { "smooth (control)" } else { "spiky" }
}

impl SmoothingExperiment {
    /// The claims on the results so far: per dimension, escape at a one-point-convex level of
    /// `g_η`, and the control without spikes.
    fn claims_so_far(&self) -> Vec<Claim> {
        let mut dims: Vec<u32> = self.jobs.iter().map(|j| j.dim).collect();
        dims.dedup();
        let c = &self.config;
        let mut out = Vec::new();
        for dim in dims {
            let of = |control: bool| {
                self.results
                    .levels
                    .iter()
                    .filter(|l| l.dim == dim && l.control == control)
                    .collect::<Vec<&LevelResult>>()
            };
            let (spiky, control) = (of(false), of(true));
            let spiky_done = spiky.len() == c.sigmas.len();
            out.push(if spiky_done {
                claims::escape_claim(dim, &spiky, c.one_point_c, c.convex_share_min)
            } else {
                claims::escape_claim(dim, &[], c.one_point_c, c.convex_share_min)
                    .not_measured("this dimension has not finished")
            });
            out.push(if spiky_done && control.len() == c.sigmas.len() {
                claims::control_claim(dim, &spiky, &control, c.convex_share_min)
            } else {
                claims::control_claim(dim, &[], &[], c.convex_share_min)
                    .not_measured("the control has not run (config `control` off or unfinished)")
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu_device;
    use crate::experiments::Verdict;

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

    #[test]
    fn bad_configs_name_the_field() {
        let msg = |c: SmoothingConfig| c.validate().unwrap_err().to_string();
        let m = msg(SmoothingConfig::new().with_convex_share_min(1.5));
        assert!(m.contains("`convex_share_min`") && m.contains("[0, 1]"), "{m}");
        let m = msg(SmoothingConfig::new().with_landscape_1d(Landscape::spiky_bowl_2d()));
        assert!(m.contains("`landscape_1d`") && m.contains("ripple"), "{m}");
        let m = msg(SmoothingConfig::new().with_steps(1));
        assert!(m.contains("`steps`"), "{m}");
    }
}
