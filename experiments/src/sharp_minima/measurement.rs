//! What one particle run of the sharp-minima experiment measures, per particle, and the
//! bootstrap over particles that puts an interval on every derived number.
//!
//! A particle that has not left its starting well by the horizon T is **censored**: its exit
//! time is only known to exceed T. The mean exit time is estimated by the maximum-likelihood
//! estimate under an exponential exit law, `Σ min(τᵢ, T) / #exits` (Wang, Oh, Rhee 2021 show
//! the first exit time, scaled, is asymptotically exponential); with no exit at all there is no
//! estimate, only the lower bound T. Particles are independent, so intervals come from
//! resampling particles with replacement, each run on its own.

use super::{CLIP_MODES, PAPER, SharpMinima};
use crate::{HeavyTailNetResults, Interval};
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::DeviceInfo;
use sgdlab_engine::landscape::{DIVERGED, NEVER, NO_BASIN, ParticleState, STAT_STRIDE};
use sgdlab_engine::rng::{SplitMix64, derive_seed};

/// First exit times of the particles that started in a set of wells.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

    /// The mean exit time with an approximate 95% interval `mean · e^{±1.96/√#exits}` (the
    /// exponential MLE's log has standard error 1/√#exits); `None` without exits.
    pub fn mean_interval(&self) -> Option<(f64, f64, f64)> {
        let m = self.mean_exit()?;
        let k = 1.96 / (self.exits() as f64).sqrt();
        Some((m, m * (-k).exp(), m * k.exp()))
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
        pts.map(|p| ls_slope(&p))
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

/// The variant of runs saved before variants existed.
fn paper_variant() -> String {
    PAPER.into()
}

/// One run: a clipping mode at one learning rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SharpRun {
    /// The landscape variant (`paper` or `matched-curvature`).
    #[serde(default = "paper_variant")]
    pub variant: String,
    /// `unclipped`, `truncated` or `grad-clipped`.
    pub clip: String,
    /// The learning rate η.
    pub lr: f64,
    /// Steps per particle.
    pub steps: u32,
    /// Mean first exit time (steps) from the sharp well, censoring-corrected.
    pub exit_time_sharp: f64,
    /// Mean first exit time (steps) from the wide wells, censoring-corrected.
    pub exit_time_wide: f64,
    /// Particles started in the sharp well that left it within the run.
    pub exits_sharp: usize,
    /// Particles started in a wide well that left it within the run.
    pub exits_wide: usize,
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
    /// First exit times of the particles started in the sharp well (for the bootstrap).
    #[serde(skip)]
    pub sample_sharp: ExitSample,
    /// First exit times of the particles started in a wide well.
    #[serde(skip)]
    pub sample_wide: ExitSample,
    /// Per particle, its share of steps in the sharp well.
    #[serde(skip)]
    pub sharp_shares: Vec<f32>,
}

/// A fitted log–log slope next to the theory's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlopeFit {
    /// The landscape variant.
    #[serde(default = "paper_variant")]
    pub variant: String,
    /// `unclipped` or `truncated`.
    pub clip: String,
    /// `sharp` or `wide`.
    pub well: String,
    /// Least-squares slope of ln(mean exit time) on ln(1/η) over the fitted learning rates
    /// (the config's `slope_fit_lrs` smallest).
    pub fitted: f64,
    /// 2.5th percentile of the bootstrap slopes (particles resampled within each run).
    pub lo: f64,
    /// 97.5th percentile of the bootstrap slopes.
    pub hi: f64,
    /// The slope over every learning rate with an exit, for context (the theory is a limit as
    /// η → 0, so this one is expected to fall short of it).
    pub fitted_all: f64,
    /// The slope between the two smallest learning rates (point estimate, for context).
    #[serde(default)]
    pub local: f64,
    /// The theory: `1 + ⌈r/b⌉(α−1)` truncated, `α` unclipped (NaN grad-clipped).
    pub theory: f64,
    /// The learning rates of the fit.
    pub fit_lrs: Vec<f64>,
    /// The fewest exits in a fitted run (below [`MIN_EXITS`] the fit is censored).
    pub fewest_exits: usize,
    /// Bootstrap resamples in which a run had no exit.
    pub censored_resamples: usize,
}

/// The sharp well's occupation at the smallest η over that at the largest, for one mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OccupationRatio {
    /// The landscape variant.
    #[serde(default = "paper_variant")]
    pub variant: String,
    /// The clipping mode.
    pub clip: String,
    /// The ratio of mean per-particle shares.
    pub estimate: f64,
    /// 2.5th percentile of the bootstrap ratios.
    pub lo: f64,
    /// 97.5th percentile of the bootstrap ratios.
    pub hi: f64,
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
    /// The sharp well's occupation at the smallest η over that at the largest η, per clipping
    /// mode, with bootstrap intervals: near 1 means no elimination, near 0 means the sharp
    /// minimum is eliminated.
    pub occupation_ratios: Vec<OccupationRatio>,
    /// Heavy-tailed noise in network training (absent when the config skips it).
    pub network: Option<HeavyTailNetResults>,
}

impl SharpMinima {
    pub(super) fn record(&mut self, job: (usize, usize), state: &ParticleState) {
        let s = state.summary();
        let wide_started = s.started[0] + s.started[2];
        let wide_exited = s.exited[0] + s.exited[2];
        let sample_wide = ExitSample::from_state(state, &[0, 2]);
        let frac = |a: usize, b: usize| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        let (variant, clip) = &self.modes[job.0];
        self.results.runs.push(SharpRun {
            variant: variant.clone(),
            clip: CLIP_MODES[*clip].into(),
            // As written in the config (0.08, not 0.07999999821 from widening the f32).
            lr: self.config.lrs[job.1]
                .to_string()
                .parse()
                .unwrap_or(f64::NAN),
            steps: s.steps,
            exit_time_sharp: s.mean_exit_time(1),
            exit_time_wide: sample_wide.mean_exit().unwrap_or(f64::INFINITY),
            exits_sharp: s.exited[1],
            exits_wide: wide_exited,
            exited_sharp: frac(s.exited[1], s.started[1]),
            exited_wide: frac(wide_exited, wide_started),
            occupation_sharp: s.occupation_fraction(1),
            occupation_wide: s.occupation_fraction(0) + s.occupation_fraction(2),
            transitions: s.transitions[..3]
                .iter()
                .map(|row| row[..3].to_vec())
                .collect(),
            diverged: s.diverged,
            sample_sharp: ExitSample::from_state(state, &[1]),
            sample_wide,
            sharp_shares: well_shares(state, 1),
        });
    }

    pub(super) fn finish(&mut self) {
        let c = &self.config;
        let mut slopes = Vec::new();
        let mut ratios = Vec::new();
        for (variant, ci) in &self.modes {
            let (variant, ci) = (variant.as_str(), *ci);
            let clip = CLIP_MODES[ci];
            // The paper variant keeps its seeds' names from before variants existed.
            let tag = if variant == PAPER {
                clip.to_string()
            } else {
                format!("{clip} {variant}")
            };
            let mut runs: Vec<&SharpRun> = self
                .results
                .runs
                .iter()
                .filter(|r| r.clip == clip && r.variant == variant)
                .collect();
            if runs.is_empty() {
                continue;
            }
            // Largest η first.
            runs.sort_by(|a, b| b.lr.total_cmp(&a.lr));
            let fitted = &runs[runs.len().saturating_sub(c.slope_fit_lrs)..];
            for (well, r) in [("sharp", c.sharp_radius), ("wide", c.wide_radius)] {
                let sample = |x: &SharpRun| -> ExitSample {
                    if well == "sharp" {
                        x.sample_sharp.clone()
                    } else {
                        x.sample_wide.clone()
                    }
                };
                let samples: Vec<(f64, ExitSample)> =
                    fitted.iter().map(|x| (x.lr, sample(x))).collect();
                let points: Vec<(f64, &ExitSample)> =
                    samples.iter().map(|(lr, s)| (*lr, s)).collect();
                let boot = bootstrap_slope(
                    &points,
                    c.bootstrap_resamples,
                    derive_seed(c.seed, &format!("bootstrap {tag} {well}")),
                );
                let all: Vec<(f64, f64)> = runs
                    .iter()
                    .filter_map(|x| sample(x).mean_exit().map(|m| ((1.0 / x.lr).ln(), m.ln())))
                    .collect();
                slopes.push(SlopeFit {
                    variant: variant.into(),
                    clip: clip.to_string(),
                    well: well.into(),
                    fitted: boot.estimate,
                    lo: boot.lo,
                    hi: boot.hi,
                    fitted_all: ls_slope(&all),
                    local: ls_slope(&all[all.len().saturating_sub(2)..]),
                    theory: match ci {
                        0 => c.theory_exponent(r, false),
                        1 => c.theory_exponent(r, true),
                        // Clipping the gradient at c bounds each jump by ηc: leaving a basin
                        // takes ⌈r/(ηc)⌉ jumps, more as η falls, so there is no fixed exponent.
                        _ => f64::NAN,
                    },
                    fit_lrs: fitted.iter().map(|x| x.lr).collect(),
                    fewest_exits: samples.iter().map(|(_, s)| s.exits()).min().unwrap_or(0),
                    censored_resamples: boot.censored_resamples,
                });
            }
            if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
                let i = bootstrap_ratio(
                    &last.sharp_shares,
                    &first.sharp_shares,
                    c.bootstrap_resamples,
                    derive_seed(c.seed, &format!("occupation {tag}")),
                );
                ratios.push(OccupationRatio {
                    variant: variant.into(),
                    clip: clip.to_string(),
                    estimate: i.estimate,
                    lo: i.lo,
                    hi: i.hi,
                });
            }
        }
        self.results.slopes = slopes;
        self.results.occupation_ratios = ratios;
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
        assert!(
            none.mean_exit().is_none(),
            "no exit: a lower bound, not a value"
        );
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
