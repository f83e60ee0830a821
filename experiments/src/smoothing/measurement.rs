//! What the smoothing experiment measures: per noise level and bowl, where the runs are after
//! the burn-in, where they settle on average over the second half, and where they end (with Wilson intervals), the share of the start region where
//! `g_η` is one-point convex toward x*, the local minima of `g_η` on a line, and `g_η` on a 2-D
//! grid for the heatmaps.

use super::NetworkResults;
use super::{Job, SmoothingExperiment};
use crate::Interval;
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::DeviceInfo;
use sgdlab_engine::error::Result;
use sgdlab_engine::gpu::{GpuContext, smooth_grid_gpu};
use sgdlab_engine::landscape::{
    Grid, NoiseKind, ParticleState, Smoothing, one_point_convex_share, smooth_grid_cpu,
    smoothed_quadrature_1d,
};
use sgdlab_engine::rng::derive_seed;

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
    /// Runs that settled near x*: their position averaged over `snapshots` evenly spaced
    /// points of the second half lies within `near_radius` of x* (diverged runs never do).
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
    /// The network check of the paper (one-point convexity along SGD on MNIST), per run and
    /// over runs; absent when the config skips it.
    pub nn_check: Option<NetworkResults>,
}

impl SmoothingExperiment {
    pub(super) fn near_flags(&self, state: &ParticleState) -> Vec<bool> {
        let near_r = f64::from(self.config.near_radius);
        state
            .pos
            .iter()
            .zip(&state.meta)
            .map(|(p, m)| {
                m[0] != sgdlab_engine::landscape::DIVERGED
                    && f64::from(p[0]).hypot(f64::from(p[1])) <= near_r
            })
            .collect()
    }

    pub(super) fn record(
        &mut self,
        job: Job,
        state: &ParticleState,
        near_after_burn_in: &[bool],
        second_half_means: &[[f64; 2]],
    ) {
        let Job {
            dim,
            level,
            control,
        } = job;
        let s = state.summary();
        let n = state.len() as f64;
        let near_r = f64::from(self.config.near_radius);
        let mut finals = Vec::new();
        let mut points = Vec::new();
        let (mut near, mut dist_sum, mut live) = (0usize, 0.0, 0usize);
        for (i, p) in state.pos.iter().enumerate() {
            if state.meta[i][0] == sgdlab_engine::landscape::DIVERGED {
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
        let stays_near = second_half_means
            .iter()
            .zip(&state.meta)
            .filter(|(m, meta)| {
                meta[0] != sgdlab_engine::landscape::DIVERGED && m[0].hypot(m[1]) <= near_r
            })
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

    pub(super) fn smooth_2d(&mut self) -> Result<()> {
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
            let values = if self.device.info.backend == sgdlab_engine::device::Backend::Wgpu {
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
}
