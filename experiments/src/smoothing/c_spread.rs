//! The spread of the one-point-convexity constant c over a set of values (a trajectory's points,
//! or the per-run medians of several runs): quantiles and a bootstrap percentile interval of the
//! median.

use serde::{Deserialize, Serialize};
use sgdlab_engine::rng::SplitMix64;

/// Bootstrap resamples of the median of c.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The spread of c over a set of values (a trajectory's points, or runs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CSpread {
    /// Smallest c (over a trajectory: the one-point-convexity constant of the whole of it).
    pub min: f64,
    /// 10% quantile.
    pub q10: f64,
    /// Median.
    pub median: f64,
    /// 90% quantile.
    pub q90: f64,
    /// Largest.
    pub max: f64,
    /// Bootstrap 95% percentile interval of the median (resampling the values).
    pub median_ci: [f64; 2],
    /// Mean Monte Carlo standard error of a value.
    pub mean_se: f64,
}

impl CSpread {
    /// The spread of `cs` (finite values only), bootstrapped with `seed`; `ses` are their
    /// standard errors.
    pub fn of(cs: &[f64], ses: &[f64], seed: u64) -> Self {
        let mut v: Vec<f64> = cs.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self {
                min: f64::NAN,
                q10: f64::NAN,
                median: f64::NAN,
                q90: f64::NAN,
                max: f64::NAN,
                median_ci: [f64::NAN; 2],
                mean_se: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let mut rng = SplitMix64::for_purpose(seed, "one-point bootstrap");
        let mut medians: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let mut r: Vec<f64> = (0..v.len()).map(|_| v[rng.below(v.len())]).collect();
                r.sort_by(f64::total_cmp);
                quantile(&r, 0.5)
            })
            .collect();
        medians.sort_by(f64::total_cmp);
        let se: Vec<f64> = ses.iter().copied().filter(|x| x.is_finite()).collect();
        Self {
            min: v[0],
            q10: quantile(&v, 0.1),
            median: quantile(&v, 0.5),
            q90: quantile(&v, 0.9),
            max: v[v.len() - 1],
            median_ci: [quantile(&medians, 0.025), quantile(&medians, 0.975)],
            mean_se: se.iter().sum::<f64>() / se.len().max(1) as f64,
        }
    }

    /// `median [lo, hi] (min …, q10 …, q90 …, max …)`.
    pub fn show(&self) -> String {
        format!(
            "median {:.4} [{:.4}, {:.4}] (min {:.4}, 10% {:.4}, 90% {:.4}, max {:.4})",
            self.median,
            self.median_ci[0],
            self.median_ci[1],
            self.min,
            self.q10,
            self.q90,
            self.max
        )
    }
}

/// The `p` quantile of sorted `v` (linear interpolation).
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let h = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, frac) = (h.floor() as usize, h.fract());
    if i + 1 < v.len() {
        v[i] + frac * (v[i + 1] - v[i])
    } else {
        v[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.1), 0.4);
        assert_eq!(quantile(&v, 1.0), 4.0);
        let s = CSpread::of(&[3.0, f64::NAN, 1.0, 2.0], &[0.1, 0.3], 0);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert!(s.median_ci[0] >= 1.0 && s.median_ci[1] <= 3.0);
        assert!((s.mean_se - 0.2).abs() < 1e-12);
    }
}
