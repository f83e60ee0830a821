//! SGD as gradient descent on a smoothed loss (Kleinberg, Li, Yuan, "An Alternative View: When
//! Does SGD Escape Local Minima?", ICML 2018).
//!
//! With `y_t = x_t − η∇f(x_t)`, SGD's `y` follows in expectation gradient descent on
//! `g(y) = E_ω f(y − ηω)`. On a convex bowl with high-frequency spikes, `f` has many spurious
//! local minima but `g` is one-point convex towards x* = 0 once `ηω` is large enough. The
//! signature: gradient descent ends in spurious minima; at a middle noise level SGD's runs
//! concentrate near x*; too much noise spreads them again. Shown on a line and in the plane,
//! with `g_η` drawn over `f` for every noise level.

use super::{
    Claim, Experiment, NetworkPart, OnePointCheck, OnePointConfig, OnePointResults, Preset,
    Progress, Registered, RunRequest, Verdict, to_json_value, write_network_part,
};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::gpu::{GpuContext, ParticleRunner, smooth_grid_gpu};
use crate::landscape::{
    Clip, Grid, Landscape, Noise, NoiseKind, ParticleState, Smoothing, StepRule, smooth_grid_cpu,
    smoothed_quadrature_1d, validate_particles,
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
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0) {
            return Err(EngineError::config(
                "lr",
                format!("expected a learning rate in (0, 1], found {}", self.lr),
            ));
        }
        if self.steps == 0 || self.steps > 10_000_000 {
            return Err(EngineError::config(
                "steps",
                format!("expected 1 to 10000000, found {}", self.steps),
            ));
        }
        if self.sigmas.is_empty() || self.sigmas.len() > 8 {
            return Err(EngineError::config(
                "sigmas",
                format!("expected 1 to 8 noise levels, found {}", self.sigmas.len()),
            ));
        }
        for (i, &s) in self.sigmas.iter().enumerate() {
            Noise::new(NoiseKind::Gaussian, s, 2.0).validate(&format!("sigmas[{i}]"))?;
        }
        for (name, v) in [
            ("start_range", self.start_range),
            ("near_radius", self.near_radius),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(EngineError::config(
                    name,
                    format!("expected a finite value > 0, found {v}"),
                ));
            }
        }
        for (name, l, dim) in [
            ("landscape_1d", Some(&self.landscape_1d), 1),
            ("landscape_2d", self.landscape_2d.as_ref(), 2),
        ] {
            if let Some(l) = l {
                l.validate(name)?;
                if l.dim() != dim || !matches!(l, Landscape::Ripple { .. }) {
                    return Err(EngineError::config(
                        name,
                        format!("expected a ripple landscape of dimension {dim}"),
                    ));
                }
            }
        }
        if !(8..=1024).contains(&self.grid_2d) {
            return Err(EngineError::config(
                "grid_2d",
                format!("expected 8 to 1024 points per side, found {}", self.grid_2d),
            ));
        }
        if self.samples_2d == 0 || self.samples_2d > 65_536 {
            return Err(EngineError::config(
                "samples_2d",
                format!("expected 1 to 65536, found {}", self.samples_2d),
            ));
        }
        if self.steps_per_call == 0 {
            return Err(EngineError::config(
                "steps_per_call",
                "expected at least 1, found 0",
            ));
        }
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
    /// Noise scale σ (0: gradient descent).
    pub sigma: f64,
    /// The smoothing radius ησ.
    pub smoothing_radius: f64,
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

/// The signature check for one dimension.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// 1 or 2.
    pub dim: u32,
    /// GD's near-x* fraction.
    pub gd_near_fraction: f64,
    /// The noise level with the largest near-x* fraction.
    pub best_sigma: f64,
    /// Its near-x* fraction.
    pub best_near_fraction: f64,
    /// The largest noise level's near-x* fraction.
    pub largest_sigma_near_fraction: f64,
    /// GD < best > largest, with best neither GD nor the largest level.
    pub holds: bool,
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
    /// Per dimension and noise level.
    pub levels: Vec<LevelResult>,
    /// The signature per dimension.
    pub signatures: Vec<Signature>,
    /// The network check of the paper (one-point convexity along SGD on MNIST); absent when
    /// the config skips it.
    pub nn_check: Option<OnePointResults>,
}

/// The experiment's state machine.
pub struct SmoothingExperiment {
    config: SmoothingConfig,
    device: ComputeDevice,
    jobs: Vec<(u32, usize)>,
    next_job: usize,
    active: Option<(usize, ParticleRunner)>,
    results: SmoothingResults,
    g_curves: Vec<(f64, Vec<(f64, f64)>)>,
    g_grids: Vec<(f64, Vec<f64>)>,
    nn: Option<OnePointCheck>,
}

impl SmoothingExperiment {
    /// Prepares the runs. Fails on an invalid config.
    pub fn new(config: SmoothingConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let mut jobs: Vec<(u32, usize)> = (0..config.sigmas.len()).map(|l| (1, l)).collect();
        if config.landscape_2d.is_some() {
            jobs.extend((0..config.sigmas.len()).map(|l| (2, l)));
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

    fn landscape(&self, dim: u32) -> &Landscape {
        match (dim, &self.config.landscape_2d) {
            (2, Some(l)) => l,
            _ => &self.config.landscape_1d,
        }
    }

    fn start(&self, job: (u32, usize)) -> Result<ParticleRunner> {
        let (dim, level) = job;
        let land = self.landscape(dim).packed();
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

    fn record(&mut self, job: (u32, usize), state: &ParticleState) {
        let (dim, level) = job;
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
        let g_local_minima = (dim == 1).then(|| {
            let land = self.landscape(1).packed();
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
            sigma,
            smoothing_radius: f64::from(self.config.lr) * sigma,
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
        self.smooth_2d()?;
        let dims: Vec<u32> = if self.config.landscape_2d.is_some() {
            vec![1, 2]
        } else {
            vec![1]
        };
        for dim in dims {
            let lv: Vec<&LevelResult> = self
                .results
                .levels
                .iter()
                .filter(|l| l.dim == dim)
                .collect();
            let Some(gd) = lv.iter().find(|l| l.sigma == 0.0) else {
                continue;
            };
            let Some(best) = lv
                .iter()
                .max_by(|a, b| a.near_fraction.total_cmp(&b.near_fraction))
            else {
                continue;
            };
            let Some(largest) = lv.iter().max_by(|a, b| a.sigma.total_cmp(&b.sigma)) else {
                continue;
            };
            self.results.signatures.push(Signature {
                dim,
                gd_near_fraction: gd.near_fraction,
                best_sigma: best.sigma,
                best_near_fraction: best.near_fraction,
                largest_sigma_near_fraction: largest.near_fraction,
                holds: best.sigma > 0.0
                    && best.sigma < largest.sigma
                    && best.near_fraction > gd.near_fraction
                    && best.near_fraction > largest.near_fraction,
            });
        }
        Ok(())
    }

    /// Whether every landscape run is done (the network check may still be running).
    fn particles_done(&self) -> bool {
        self.active.is_none() && self.next_job >= self.jobs.len()
    }

    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "dim",
            "sigma",
            "smoothing_radius",
            "near_fraction",
            "center_cell_fraction",
            "mean_distance",
            "diverged",
            "g_local_minima",
        ]);
        for l in &self.results.levels {
            t.push_row(vec![
                l.dim.to_string(),
                fmt_f64(l.sigma),
                fmt_f64(l.smoothing_radius),
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
             one-point convex once ηω is large enough: GD ends in spurious minima, SGD at a middle \
             noise level ends near x* = 0, and too much noise spreads the runs again.",
        );
        md.paragraph(&format!(
            "Status: **{}**. {} runs per level from uniform starts in [-{s}, {s}]^d, η = {}, {} \
             steps, Gaussian noise; engine {}; device: {}.",
            r.status,
            c.starts,
            c.lr,
            c.steps,
            r.engine,
            r.device,
            s = c.start_range
        ));
        md.table(
            &[
                "dim",
                "level",
                "ησ",
                &format!("ends within {} of x*", c.near_radius),
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
                        Self::level_name(l.sigma),
                        format!("{:.3}", l.smoothing_radius),
                        format!("{:.3}", l.near_fraction),
                        format!("{:.3}", l.center_cell_fraction),
                        format!("{:.3}", l.mean_distance),
                        l.g_local_minima.map_or("-".into(), |m| m.to_string()),
                        l.diverged.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        for s in &r.signatures {
            md.paragraph(&format!(
                "{}-D signature {}: GD {:.3}, best level σ = {} with {:.3}, largest σ {:.3}.",
                s.dim,
                if s.holds { "holds" } else { "does NOT hold" },
                s.gd_near_fraction,
                s.best_sigma,
                s.best_near_fraction,
                s.largest_sigma_near_fraction
            ));
        }
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
        let (j, mut runner) = match self.active.take() {
            Some(a) => a,
            None => {
                let runner = self.start(self.jobs[self.next_job])?;
                self.next_job += 1;
                (self.next_job - 1, runner)
            }
        };
        let k = self
            .config
            .steps_per_call
            .min(self.config.steps - runner.steps_done());
        runner.step(k);
        if runner.steps_done() >= self.config.steps {
            let state = runner.read()?;
            self.record(self.jobs[j], &state);
            if self.next_job >= self.jobs.len() {
                self.finish()?;
            }
        } else {
            runner.wait()?;
            self.active = Some((j, runner));
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.particles_done() && self.nn.as_ref().is_none_or(OnePointCheck::is_done)
    }

    fn progress(&self) -> Progress {
        let per = u64::from(self.config.steps);
        let done = match &self.active {
            Some((j, r)) => *j as u64 * per + u64::from(r.steps_done()),
            None => self.next_job as u64 * per,
        };
        let (mut loss, mut accuracy) = (f64::NAN, f64::NAN);
        let phase = match (&self.active, &self.nn) {
            (Some((j, _)), _) => {
                let (dim, l) = self.jobs[*j];
                format!(
                    "{dim}-D · {}",
                    Self::level_name(f64::from(self.config.sigmas[l]))
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
                .filter(|l| l.dim == dim)
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
                        .find(|l| l.dim == 2 && l.sigma == *sigma)
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

impl SmoothingExperiment {
    /// The claims on the results so far: per dimension, the smoothing signature.
    fn claims_so_far(&self) -> Vec<Claim> {
        let r = self.summary();
        let mut dims: Vec<u32> = self.jobs.iter().map(|j| j.0).collect();
        dims.dedup();
        dims.into_iter()
            .map(|dim| {
                let claim = Claim::new(
                    &format!("noise-escapes-spikes-{dim}d"),
                    "On a spiky loss, SGD with a middle noise level ends near the global minimum \
                     more often than gradient descent and than the largest noise level.",
                    "holds when the level with the largest near-x* fraction is neither GD nor the \
                     largest level, and beats both; fails otherwise",
                );
                match r.signatures.iter().find(|s| s.dim == dim) {
                    None => claim.not_measured("this dimension has not finished"),
                    Some(s) => claim.decide(
                        format!(
                            "near x*: GD {:.3}, σ = {} {:.3}, largest σ {:.3}",
                            s.gd_near_fraction,
                            s.best_sigma,
                            s.best_near_fraction,
                            s.largest_sigma_near_fraction
                        ),
                        if s.holds {
                            Verdict::Holds
                        } else {
                            Verdict::Fails
                        },
                        if s.holds {
                            "a middle level is best"
                        } else {
                            "the best level is GD or the largest"
                        },
                    ),
                }
            })
            .collect()
    }
}
