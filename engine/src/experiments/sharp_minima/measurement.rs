//! What one particle run of the sharp-minima experiment measures, per particle, and the
//! bootstrap over particles that puts an interval on every derived number.
//!
//! A particle that has not left its starting well by the horizon T is **censored**: its exit
//! time is only known to exceed T. The mean exit time is estimated by the maximum-likelihood
//! estimate under an exponential exit law, `Σ min(τᵢ, T) / #exits` (Wang, Oh, Rhee 2021 show
//! the first exit time, scaled, is asymptotically exponential); with no exit at all there is no
//! estimate, only the lower bound T. Particles are independent, so intervals come from
//! resampling particles with replacement, each run on its own.

use crate::experiments::Interval;
use crate::landscape::{DIVERGED, NEVER, NO_BASIN, ParticleState, STAT_STRIDE};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// First exit times of the particles that started in a set of wells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExitSample {
    /// The run's horizon T (steps each particle took).
    pub horizon: u32,
    /// Per particle: the first exit step, or [`NEVER`] when it had not left by the horizon.
    pub times: Vec<u32>,
}

impl ExitSample {
    /// The particles of `state` that started in one of `wells`.
    pub fn from_state(state: &ParticleState, wells: &[u32]) -> Self {
        Self {
            horizon: state.steps_done,
            times: state
                .meta
                .iter()
                .filter(|m| wells.contains(&m[2]))
                .map(|m| m[1])
                .collect(),
        }
    }

    /// Particles that left within the horizon.
    pub fn exits(&self) -> usize {
        self.times.iter().filter(|&&t| t != NEVER).count()
    }

    /// The censoring-corrected mean exit time `Σ min(τᵢ, T) / #exits`; `None` when no particle
    /// exited (the mean is then only known to exceed [`ExitSample::horizon`]).
    pub fn mean_exit(&self) -> Option<f64> {
        self.mean_of(0..self.times.len())
    }

    fn mean_of(&self, idx: impl Iterator<Item = usize>) -> Option<f64> {
        let (mut sum, mut exits) = (0u64, 0usize);
        for i in idx {
            let t = self.times[i];
            if t == NEVER {
                sum += u64::from(self.horizon);
            } else {
                sum += u64::from(t.min(self.horizon));
                exits += 1;
            }
        }
        (exits > 0).then(|| sum as f64 / exits as f64)
    }
}

/// Per particle, the fraction of its (non-diverged) steps spent in well `well`.
pub fn well_shares(state: &ParticleState, well: u32) -> Vec<f32> {
    (0..state.len())
        .map(|i| {
            let st = &state.stats[i * STAT_STRIDE..i * STAT_STRIDE + DIVERGED as usize];
            let total: u64 = st[..=NO_BASIN as usize].iter().map(|&v| u64::from(v)).sum();
            if total == 0 {
                0.0
            } else {
                (f64::from(st[well as usize]) / total as f64) as f32
            }
        })
        .collect()
}

/// A fitted log–log slope with its bootstrap interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BootSlope {
    /// The least-squares slope of ln(mean exit time) on ln(1/η) over the fitted runs.
    pub estimate: f64,
    /// 2.5th percentile of the bootstrap slopes.
    pub lo: f64,
    /// 97.5th percentile of the bootstrap slopes.
    pub hi: f64,
    /// Bootstrap resamples drawn.
    pub resamples: usize,
    /// Resamples in which some run had no exit (no slope; left out of the percentiles).
    pub censored_resamples: usize,
}

impl BootSlope {
    /// As an [`Interval`].
    pub fn interval(&self) -> Interval {
        Interval {
            estimate: self.estimate,
            lo: self.lo,
            hi: self.hi,
        }
    }
}

/// The slope of ln(mean exit time) on ln(1/η) over `points` (`(η, sample)`), with a 95%
/// percentile interval from `resamples` bootstrap resamples of the particles of each run. NaN
/// everywhere with fewer than two runs or when a run has no exit.
pub fn bootstrap_slope(points: &[(f64, &ExitSample)], resamples: usize, seed: u64) -> BootSlope {
    let nan = BootSlope {
        estimate: f64::NAN,
        lo: f64::NAN,
        hi: f64::NAN,
        resamples,
        censored_resamples: 0,
    };
    if points.len() < 2 {
        return nan;
    }
    let xs: Vec<f64> = points.iter().map(|(lr, _)| (1.0 / lr).ln()).collect();
    let fit = |means: &[Option<f64>]| -> Option<f64> {
        let pts: Option<Vec<(f64, f64)>> = xs
            .iter()
            .zip(means)
            .map(|(&x, m)| m.map(|m| (x, m.ln())))
            .collect();
        pts.map(|p| super::ls_slope(&p))
    };
    let full: Vec<Option<f64>> = points.iter().map(|(_, s)| s.mean_exit()).collect();
    let Some(estimate) = fit(&full) else {
        return nan;
    };
    let mut rng = SplitMix64::for_purpose(seed, "sharp-minima bootstrap");
    let mut slopes = Vec::with_capacity(resamples);
    let mut censored = 0;
    let mut means = vec![None; points.len()];
    for _ in 0..resamples {
        for (m, (_, s)) in means.iter_mut().zip(points) {
            let n = s.times.len();
            *m = s.mean_of((0..n).map(|_| rng.below(n)));
        }
        match fit(&means) {
            Some(v) if v.is_finite() => slopes.push(v),
            _ => censored += 1,
        }
    }
    let (lo, hi) = percentile_95(&mut slopes);
    BootSlope {
        estimate,
        lo,
        hi,
        resamples,
        censored_resamples: censored,
    }
}

/// The ratio of the means of `num` and `den` (two independent runs' per-particle values), with a
/// 95% percentile interval from `resamples` bootstrap resamples of each.
pub fn bootstrap_ratio(num: &[f32], den: &[f32], resamples: usize, seed: u64) -> Interval {
    let mean = |v: &[f32], idx: &mut dyn Iterator<Item = usize>| {
        let (mut s, mut n) = (0.0f64, 0usize);
        for i in idx {
            s += f64::from(v[i]);
            n += 1;
        }
        s / n as f64
    };
    if num.is_empty() || den.is_empty() {
        return Interval {
            estimate: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let estimate = mean(num, &mut (0..num.len())) / mean(den, &mut (0..den.len()));
    let mut rng = SplitMix64::for_purpose(seed, "sharp-minima occupation bootstrap");
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let a = mean(num, &mut (0..num.len()).map(|_| rng.below(num.len())));
        let b = mean(den, &mut (0..den.len()).map(|_| rng.below(den.len())));
        let r = a / b;
        if r.is_finite() {
            ratios.push(r);
        }
    }
    let (lo, hi) = percentile_95(&mut ratios);
    Interval { estimate, lo, hi }
}

/// The 2.5th and 97.5th percentiles (nearest rank); NaN when empty.
fn percentile_95(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exponential exit times with mean `mean`, censored at `horizon`, from a fixed seed.
    fn sample(mean: f64, n: usize, horizon: u32, seed: u64) -> ExitSample {
        let mut rng = SplitMix64::new(seed);
        ExitSample {
            horizon,
            times: (0..n)
                .map(|_| {
                    let t = -mean * (1.0 - rng.next_f64()).ln();
                    if t >= f64::from(horizon) {
                        NEVER
                    } else {
                        t.ceil() as u32
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn censored_mean_is_the_exponential_mle() {
        let s = ExitSample {
            horizon: 100,
            times: vec![10, 30, NEVER],
        };
        assert!((s.mean_exit().unwrap() - 70.0).abs() < 1e-12);
        assert_eq!(s.exits(), 2);
        let none = ExitSample {
            horizon: 100,
            times: vec![NEVER; 4],
        };
        assert!(none.mean_exit().is_none(), "no exit: a lower bound, not a value");
    }

    #[test]
    fn the_bootstrap_interval_covers_a_known_power_law_and_narrows_with_particles() {
        // mean exit = 3 · (1/η)^2, heavily censored (horizon at about a third of the mean).
        let lrs = [0.04, 0.02, 0.01];
        let runs = |n: usize| -> Vec<ExitSample> {
            lrs.iter()
                .enumerate()
                .map(|(k, &lr)| {
                    let m = 3.0 * (1.0f64 / lr).powi(2);
                    sample(m, n, (m / 3.0) as u32, 7 + k as u64)
                })
                .collect()
        };
        let small = runs(400);
        let large = runs(6000);
        let fit = |rs: &[ExitSample]| {
            let pts: Vec<(f64, &ExitSample)> = lrs.iter().copied().zip(rs).collect();
            bootstrap_slope(&pts, 400, 1)
        };
        let (a, b) = (fit(&small), fit(&large));
        for s in [a, b] {
            assert!(s.lo <= 2.0 && 2.0 <= s.hi, "{s:?}");
            assert_eq!(s.censored_resamples, 0);
        }
        assert!(b.hi - b.lo < 0.6 * (a.hi - a.lo), "{a:?} vs {b:?}");
    }

    #[test]
    fn a_run_without_exits_gives_no_slope() {
        let a = sample(10.0, 100, 1000, 1);
        let b = ExitSample {
            horizon: 50,
            times: vec![NEVER; 100],
        };
        let s = bootstrap_slope(&[(0.1, &a), (0.05, &b)], 50, 0);
        assert!(s.estimate.is_nan() && s.lo.is_nan());
    }

    #[test]
    fn ratio_interval_brackets_the_ratio() {
        let num: Vec<f32> = (0..500).map(|i| (i % 10) as f32 / 100.0).collect();
        let den: Vec<f32> = (0..500).map(|i| (i % 10) as f32 / 50.0).collect();
        let r = bootstrap_ratio(&num, &den, 300, 3);
        assert!((r.estimate - 0.5).abs() < 1e-9);
        assert!(r.lo < 0.5 && r.hi > 0.5 && r.hi - r.lo < 0.2, "{r:?}");
    }
}
