//! The network check over independent runs (Kleinberg, Li, Yuan 2018, section 6): run `i` trains
//! SGD from seed `seed + i` and probes its trajectory toward the end point of a reference run of
//! seed `reference_seed + i` ([`OnePointCheck`]). The runs go one after another; a finished run
//! keeps only its results, so a checkpoint holds the finished runs' results and the exact state
//! of the run in progress.
//!
//! The points of one trajectory are not independent, and one trajectory says nothing about how
//! much another seed's would differ; so the summary pools over runs, with intervals whose unit is
//! the run: the mean over runs of each run's share of points with c > 0, and the median over runs
//! of each run's median c.

use super::network_report::{network_plots, network_section, network_table};
use super::{
    CSpread, NETWORK_SHARE_MIN, OnePointCheck, OnePointConfig, OnePointResults, OnePointState,
    ReferencePoint,
};
use crate::{Interval, NetworkPart};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::report::{CsvTable, ReportMd};
use std::path::{Path, PathBuf};

/// The network check's results over its runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkResults {
    /// Runs configured (`nn_check.seeds`).
    pub seeds: usize,
    /// Which reference ([`ReferencePoint`]).
    pub reference_kind: ReferencePoint,
    /// One entry per run: the finished ones, then the one in progress (rows so far).
    pub runs: Vec<OnePointResults>,
    /// The summary over the finished runs.
    pub pooled: PooledResults,
}

/// The summary over finished runs, with intervals over runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledResults {
    /// Finished runs.
    pub runs: usize,
    /// Points probed, all runs together.
    pub points: usize,
    /// Points with c above 0 with its Monte Carlo interval, all runs together.
    pub positive: usize,
    /// Each run's share of points with c > 0, in run order.
    pub shares: Vec<f64>,
    /// The mean of `shares`: the decision quantity of the claim.
    pub mean_share: f64,
    /// The claim's interval of `mean_share`: the wider of `share_t_interval` and
    /// `share_pooled_interval`, within [0, 1]; [0, 1] with fewer than two runs.
    pub mean_share_interval: [f64; 2],
    /// Student-t 95% interval of the mean of `shares` over runs (NaN with fewer than two).
    pub share_t_interval: [f64; 2],
    /// Wilson 95% interval of `positive / points`, treating all points as independent.
    pub share_pooled_interval: [f64; 2],
    /// Runs that pass on their own: the Wilson 95% lower bound of their share exceeds
    /// [`NETWORK_SHARE_MIN`] (the one-trajectory rule).
    pub passing: usize,
    /// Wilson 95% interval of `passing / runs`.
    pub passing_interval: [f64; 2],
    /// The spread over runs of each run's median smoothed c toward x*: its median with a
    /// bootstrap percentile interval resampling runs (with few runs, close to their range).
    pub c_median: CSpread,
    /// The paper's version, all runs together: points before `x_T` with c toward the own end
    /// `x_T` above 0 with its interval, and how many points before `x_T` there are.
    pub end_positive: usize,
    /// Points before `x_T`, all runs together.
    pub end_points: usize,
    /// Mean ‖ηω‖ over the runs.
    pub noise_norm: f64,
}

impl PooledResults {
    /// The summary of `runs` (finished runs); `seed` seeds the bootstrap over runs.
    pub fn of(runs: &[OnePointResults], seed: u64) -> Self {
        let n = runs.len();
        let shares: Vec<f64> = runs
            .iter()
            .map(|r| r.positive as f64 / r.points.max(1) as f64)
            .collect();
        let points = runs.iter().map(|r| r.points).sum();
        let positive = runs.iter().map(|r| r.positive).sum();
        let t = Interval::mean_ci95(&shares);
        let pooled = Interval::wilson95(positive, points);
        let mean_share_interval = if n < 2 {
            [0.0, 1.0]
        } else {
            [
                t.lo.min(pooled.lo).clamp(0.0, 1.0),
                t.hi.max(pooled.hi).clamp(0.0, 1.0),
            ]
        };
        let passing = runs
            .iter()
            .filter(|r| Interval::wilson95(r.positive, r.points).lo > NETWORK_SHARE_MIN)
            .count();
        let pass = Interval::wilson95(passing, n);
        let medians: Vec<f64> = runs.iter().map(|r| r.c.median).collect();
        let ses: Vec<f64> = runs.iter().map(|r| r.c.mean_se).collect();
        Self {
            runs: n,
            points,
            positive,
            mean_share: t.estimate,
            shares,
            mean_share_interval,
            share_t_interval: [t.lo, t.hi],
            share_pooled_interval: [pooled.lo, pooled.hi],
            passing,
            passing_interval: [pass.lo, pass.hi],
            c_median: CSpread::of(&medians, &ses, seed),
            end_positive: runs.iter().map(|r| r.end_positive).sum(),
            end_points: runs.iter().map(|r| r.points.saturating_sub(1)).sum(),
            noise_norm: runs.iter().map(|r| r.noise_norm).sum::<f64>() / n.max(1) as f64,
        }
    }
}

/// The network check's state machine over its runs (driven by [`super::SmoothingExperiment`]).
pub struct NetworkSeeds {
    config: OnePointConfig,
    device: Device,
    field: String,
    /// The run in progress (`None` between runs and once all are done).
    current: Option<OnePointCheck>,
    /// The finished runs' results.
    finished: Vec<OnePointResults>,
    /// Units of work of one run (all runs have the same).
    units_per_run: u64,
}

/// Where a [`NetworkSeeds`] is, for a checkpoint: the finished runs' results and the exact state
/// of the run in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSeedsState {
    finished: Vec<OnePointResults>,
    current: Option<OnePointState>,
}

impl NetworkSeeds {
    /// Validates the config, loads the data and builds the first run; `field` names the config
    /// in errors.
    pub fn new(config: OnePointConfig, device: &Device, field: &str) -> Result<Self> {
        config.validate(field)?;
        let first = OnePointCheck::new(config.for_run(0), device, field)?;
        Ok(Self {
            units_per_run: first.total_units(),
            current: Some(first),
            config,
            device: device.clone(),
            field: field.into(),
            finished: Vec::new(),
        })
    }

    /// The results so far: the finished runs, the run in progress, and the summary over the
    /// finished runs.
    pub fn results(&self) -> NetworkResults {
        let mut runs = self.finished.clone();
        runs.extend(self.current.as_ref().map(|c| c.results.clone()));
        NetworkResults {
            seeds: self.config.seeds,
            reference_kind: self.config.reference,
            runs,
            pooled: PooledResults::of(&self.finished, self.config.seed),
        }
    }

    /// The config.
    pub fn config(&self) -> &OnePointConfig {
        &self.config
    }

    /// Its state, for a checkpoint.
    pub fn state(&self) -> NetworkSeedsState {
        NetworkSeedsState {
            finished: self.finished.clone(),
            current: self.current.as_ref().map(OnePointCheck::state),
        }
    }

    /// Continues from `state`, taken of a check built from the same config.
    pub fn restore(&mut self, state: NetworkSeedsState) -> Result<()> {
        let i = state.finished.len();
        if i > self.config.seeds || (i == self.config.seeds && state.current.is_some()) {
            return Err(EngineError::config(
                "<checkpoint>",
                "the network check's saved runs do not fit this config",
            ));
        }
        self.current = match state.current {
            Some(saved) => {
                let mut run = if i == 0 {
                    self.current.take().ok_or_else(|| {
                        EngineError::config("<checkpoint>", "restored into a used network check")
                    })?
                } else {
                    OnePointCheck::new(self.config.for_run(i), &self.device, &self.field)?
                };
                run.restore(saved)?;
                Some(run)
            }
            None => None,
        };
        self.finished = state.finished;
        Ok(())
    }
}

impl NetworkPart for NetworkSeeds {
    const CSV: &'static str = "one_point.csv";

    /// Whether every run is finished.
    fn is_done(&self) -> bool {
        self.finished.len() >= self.config.seeds
    }

    /// Units of work in total: the runs' training batches and probes.
    fn total_units(&self) -> u64 {
        self.units_per_run * self.config.seeds as u64
    }

    /// Units done.
    fn units_done(&self) -> u64 {
        self.units_per_run * self.finished.len() as u64
            + self.current.as_ref().map_or(0, OnePointCheck::units_done)
    }

    /// What is running, for progress lines.
    fn phase(&self) -> String {
        let run = (self.finished.len() + 1).min(self.config.seeds);
        let what = match &self.current {
            Some(c) => c.phase(),
            None if self.is_done() => return "MNIST check · done".into(),
            None => "starting".into(),
        };
        format!("MNIST check · run {run}/{} · {what}", self.config.seeds)
    }

    /// The latest probe loss and test accuracy of the run in progress (NaN between runs).
    fn latest(&self) -> (f64, f64) {
        self.current
            .as_ref()
            .map_or((f64::NAN, f64::NAN), OnePointCheck::latest)
    }

    /// Trains or probes a bounded amount of the run in progress, or starts the next run.
    fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        let Some(current) = &mut self.current else {
            let i = self.finished.len();
            self.current = Some(OnePointCheck::new(
                self.config.for_run(i),
                &self.device,
                &self.field,
            )?);
            return Ok(());
        };
        current.step()?;
        if current.is_done() {
            self.finished.push(current.results.clone());
            self.current = None;
        }
        Ok(())
    }

    /// Rows for `one_point.csv`: every probed point of every run.
    fn metrics_table(&self) -> CsvTable {
        network_table(&self.results())
    }

    /// c along each run's trajectory.
    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        network_plots(&self.results(), self.config.epochs, dir)
    }

    /// The report section.
    fn report(&self, md: &mut ReportMd) {
        network_section(md, &self.results(), &self.config, self.is_done());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CSpread;

    fn run(positive: usize, points: usize, median: f64) -> OnePointResults {
        OnePointResults {
            points,
            positive,
            c: CSpread {
                median,
                ..CSpread::default()
            },
            ..OnePointResults::default()
        }
    }

    #[test]
    fn pooled_intervals_are_over_runs() {
        // Runs that agree: the t interval is narrow, the pooled Wilson one sets the width.
        let same: Vec<_> = (0..3).map(|_| run(21, 21, 0.5)).collect();
        let p = PooledResults::of(&same, 0);
        assert_eq!((p.runs, p.points, p.positive, p.passing), (3, 63, 63, 3));
        assert!((p.mean_share - 1.0).abs() < 1e-12);
        let w = Interval::wilson95(63, 63);
        assert!((p.mean_share_interval[0] - w.lo).abs() < 1e-12, "{p:?}");
        assert_eq!(p.mean_share_interval[1], 1.0);
        // Runs that disagree: the t interval over runs is the wider one.
        let mixed = vec![run(21, 21, 0.5), run(0, 21, -0.1), run(21, 21, 0.4)];
        let p = PooledResults::of(&mixed, 0);
        assert_eq!(p.passing, 2);
        assert!(p.mean_share_interval[0] < 0.1, "{p:?}");
        assert!(p.mean_share_interval[0] <= p.share_pooled_interval[0]);
        assert!((p.c_median.median - 0.4).abs() < 1e-12);
        // One run: no interval over runs.
        let p = PooledResults::of(&same[..1], 0);
        assert_eq!(p.mean_share_interval, [0.0, 1.0]);
    }
}
