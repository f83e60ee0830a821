//! Sample complexity against the sequence length: the samples each seed needs to reach the error
//! threshold at each L (censored when the largest training set does not reach it), the growth
//! exponent α in n ∝ L^α fitted with a 95% interval, and the verdict decided from that interval
//! (or from a censoring bound).

use serde::{Deserialize, Serialize};

/// The 97.5% quantile of Student's t with `df` degrees of freedom, as `report::mean_ci95` uses
/// it: recovered from its half-width on df + 1 values with sample standard deviation 1 (the
/// table itself is private to `report`).
fn t_quantile_975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    let n = df + 1;
    // Two values ±a and the rest 0: mean 0 and sample variance 2a²/df = 1.
    let a = (df as f64 / 2.0).sqrt();
    let mut xs = vec![0.0; n];
    xs[0] = a;
    xs[1] = -a;
    let (_, h) = sgdlab_engine::report::mean_ci95(&xs);
    h * (n as f64).sqrt()
}

/// A least-squares line fit y = slope·x + intercept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
    /// Standard error of the slope (NaN with two points).
    pub slope_se: f64,
    /// Points used.
    pub points: usize,
}

/// Least squares over finite points; `None` with fewer than two distinct x.
pub fn fit_line(points: &[(f64, f64)]) -> Option<LineFit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - (my + slope * (p.0 - mx))).powi(2))
        .sum();
    let slope_se = if pts.len() > 2 {
        (ss_res / (n - 2.0) / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some(LineFit {
        slope,
        intercept: my - slope * mx,
        r_squared: if syy > 0.0 { 1.0 - ss_res / syy } else { 1.0 },
        slope_se,
        points: pts.len(),
    })
}

/// The samples needed to reach `threshold`: the first sample size whose error is at or below
/// it, interpolated linearly in (log n, error) from the size before; `None` if never reached
/// (censored: more than the largest size tried).
pub fn samples_needed(curve: &[(usize, f64)], threshold: f64) -> Option<f64> {
    let mut prev: Option<(usize, f64)> = None;
    for &(n, e) in curve {
        if e <= threshold {
            return Some(match prev {
                Some((n0, e0)) if e0 > e => {
                    let (l0, l1) = ((n0 as f64).ln(), (n as f64).ln());
                    let t = (e0 - threshold) / (e0 - e);
                    (l0 + t * (l1 - l0)).exp()
                }
                _ => n as f64,
            });
        }
        prev = Some((n, e));
    }
    None
}

/// The samples needed at one length, per seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthSamples {
    /// Sequence length L.
    pub seq_len: usize,
    /// Per seed: the samples needed, or `None` when the largest training set did not reach the
    /// threshold (censored: more than `max_samples`).
    pub per_seed: Vec<Option<f64>>,
    /// The largest training set tried (the censoring bound).
    pub max_samples: usize,
    /// Geometric mean over the seeds that reached the threshold.
    pub geo_mean: Option<f64>,
    /// 95% t-interval of the geometric mean (on log n, exponentiated); `None` with fewer than
    /// two seeds that reached it.
    pub ci95: Option<[f64; 2]>,
}

impl LengthSamples {
    /// Seeds that reached the threshold.
    pub fn reached(&self) -> usize {
        self.per_seed.iter().filter(|n| n.is_some()).count()
    }

    /// Whether every seed reached the threshold.
    pub fn all_reached(&self) -> bool {
        !self.per_seed.is_empty() && self.reached() == self.per_seed.len()
    }

    /// Whether most seeds never reached it.
    pub fn mostly_censored(&self) -> bool {
        2 * self.reached() < self.per_seed.len()
    }
}

/// The fitted exponent with its interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Exponent {
    /// α in n ∝ L^α (slope of log n on log L over every seed's uncensored point).
    pub estimate: f64,
    /// Lower end of the 95% t-interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Points in the fit.
    pub points: usize,
}

/// One target's scaling summary and verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingSummary {
    /// `concept` or `parity`.
    pub target: String,
    /// Per length.
    pub lengths: Vec<LengthSamples>,
    /// The exponent fitted over every length where all seeds reached the threshold.
    pub exponent: Option<Exponent>,
    /// A lower bound on the exponent from censoring: from the shortest length where every seed
    /// reached the threshold to a longer one where most did not, ln(n_max / n(L₀)) / ln(L/L₀)
    /// (with n(L₀) the largest over seeds).
    pub censored_exponent_bound: Option<f64>,
    /// The degree bound D of the decision rule.
    pub max_degree: f64,
    /// `polynomial`, `not polynomial`, or `undecided: why`.
    pub verdict: String,
}

/// The decision rule: **polynomial** when every seed reached the threshold at every length (at
/// least three lengths) and the exponent's 95% interval lies at or below `max_degree`; **not
/// polynomial** when the interval lies above it, or the censoring bound exceeds it; otherwise
/// undecided.
pub fn summarize(target: &str, lengths: Vec<LengthSamples>, max_degree: f64) -> ScalingSummary {
    let full: Vec<&LengthSamples> = lengths.iter().filter(|l| l.all_reached()).collect();
    let points: Vec<(f64, f64)> = full
        .iter()
        .flat_map(|l| {
            l.per_seed
                .iter()
                .flatten()
                .map(move |&n| ((l.seq_len as f64).ln(), n.ln()))
        })
        .collect();
    let exponent = fit_line(&points).and_then(|f| {
        if full.len() < 2 || !f.slope_se.is_finite() {
            return None;
        }
        let h = t_quantile_975(f.points - 2) * f.slope_se;
        Some(Exponent {
            estimate: f.slope,
            lo: f.slope - h,
            hi: f.slope + h,
            points: f.points,
        })
    });
    let censored_exponent_bound = full.first().and_then(|l0| {
        let n0 = l0.per_seed.iter().flatten().copied().fold(0.0, f64::max);
        lengths
            .iter()
            .filter(|l| l.seq_len > l0.seq_len && l.mostly_censored())
            .map(|l| {
                ((l.max_samples as f64) / n0).ln() / (l.seq_len as f64 / l0.seq_len as f64).ln()
            })
            .fold(None, |best: Option<f64>, b| {
                Some(best.map_or(b, |x| x.max(b)))
            })
    });
    let all = !lengths.is_empty() && lengths.iter().all(LengthSamples::all_reached);
    let verdict = if exponent.as_ref().is_some_and(|e| e.lo > max_degree)
        || censored_exponent_bound.is_some_and(|b| b > max_degree)
    {
        "not polynomial".to_string()
    } else if all && lengths.len() >= 3 && exponent.as_ref().is_some_and(|e| e.hi <= max_degree) {
        "polynomial".to_string()
    } else if !all {
        format!(
            "undecided: the threshold was not reached by every seed at {} of {} lengths, and \
             the censoring bound does not exceed the degree {max_degree}",
            lengths.iter().filter(|l| !l.all_reached()).count(),
            lengths.len()
        )
    } else if lengths.len() < 3 {
        format!("undecided: {} lengths (need 3)", lengths.len())
    } else {
        format!("undecided: the exponent's interval straddles the degree {max_degree}")
    };
    ScalingSummary {
        target: target.to_string(),
        lengths,
        exponent,
        censored_exponent_bound,
        max_degree,
        verdict,
    }
}

/// The per-length summary of per-seed samples needed.
pub fn length_samples(
    seq_len: usize,
    per_seed: Vec<Option<f64>>,
    max_samples: usize,
) -> LengthSamples {
    let logs: Vec<f64> = per_seed.iter().flatten().map(|n| n.ln()).collect();
    let (geo_mean, ci95) = if logs.is_empty() {
        (None, None)
    } else {
        let (m, h) = sgdlab_engine::report::mean_ci95(&logs);
        (
            Some(m.exp()),
            h.is_finite().then(|| [(m - h).exp(), (m + h).exp()]),
        )
    };
    LengthSamples {
        seq_len,
        per_seed,
        max_samples,
        geo_mean,
        ci95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_table() {
        assert!((t_quantile_975(1) - 12.706).abs() < 1e-3);
        assert!((t_quantile_975(10) - 2.228).abs() < 1e-3);
        assert!(t_quantile_975(0).is_nan());
    }

    #[test]
    fn fits_and_samples_needed() {
        // n = 10·L² exactly: log–log slope 2 with R² 1.
        let pts: Vec<(f64, f64)> = [2.0f64, 4.0, 8.0, 16.0]
            .iter()
            .map(|&l| (l.ln(), (10.0 * l * l).ln()))
            .collect();
        let f = fit_line(&pts).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-9 && (f.r_squared - 1.0).abs() < 1e-9);
        assert!(fit_line(&[(1.0, 1.0)]).is_none());
        // Error 0.8 at 100, 0.4 at 400: the threshold 0.6 is reached halfway in log n → 200.
        let n = samples_needed(&[(100, 0.8), (400, 0.4)], 0.6).unwrap();
        assert!((n - 200.0).abs() < 1e-6, "{n}");
        assert_eq!(samples_needed(&[(100, 0.3)], 0.6), Some(100.0));
        assert_eq!(samples_needed(&[(100, 0.8)], 0.6), None);
    }

    fn lengths(f: impl Fn(f64, usize) -> Option<f64>, horizon: usize) -> Vec<LengthSamples> {
        [4usize, 8, 16, 32]
            .iter()
            .map(|&l| length_samples(l, (0..3).map(|s| f(l as f64, s)).collect(), horizon))
            .collect()
    }

    #[test]
    fn a_quadratic_law_is_polynomial() {
        // n = 2·L² with ±10% seed noise.
        let s = summarize(
            "concept",
            lengths(
                |l, s| Some(2.0 * l * l * (1.0 + 0.1 * (s as f64 - 1.0))),
                4096,
            ),
            4.0,
        );
        assert_eq!(s.verdict, "polynomial", "{s:?}");
        let e = s.exponent.unwrap();
        assert!(e.lo < 2.0 && e.hi > 2.0 && e.hi < 2.5, "{e:?}");
    }

    #[test]
    fn an_exponential_law_is_not_polynomial() {
        // n = 2^L: reached up to L = 16, censored (above 10⁶) at 32. Both the fitted exponent's
        // interval and the censoring bound lie above 4.
        let s = summarize(
            "parity",
            lengths(
                |l, _| {
                    let n = 2f64.powf(l);
                    (n <= 1e6).then_some(n)
                },
                1_000_000,
            ),
            4.0,
        );
        assert_eq!(s.verdict, "not polynomial", "{s:?}");
        assert!(s.censored_exponent_bound.unwrap() > 4.0, "{s:?}");
        // With a censoring horizon of 4000 the same law only bounds α below by 3.98: undecided.
        let s = summarize(
            "parity",
            lengths(
                |l, _| {
                    let n = 2f64.powf(l);
                    (n <= 4000.0).then_some(n)
                },
                4000,
            ),
            4.0,
        );
        assert!(s.verdict.starts_with("undecided"), "{s:?}");
    }

    #[test]
    fn a_flat_start_then_censoring_is_undecided() {
        // Reached everywhere but at the longest length by one seed only: undecided.
        let s = summarize(
            "concept",
            lengths(|l, s| (l < 32.0 || s == 0).then_some(100.0 * l), 4096),
            4.0,
        );
        assert!(s.verdict.starts_with("undecided"), "{s:?}");
    }
}
