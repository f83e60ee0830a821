//! Sample complexity against the sequence length: the samples each seed needs to reach the error
//! threshold at each L in one-pass SGD (the sequences seen at the first crossing confirmed by
//! the next evaluation; censored when the cap is reached first), and the decision rule,
//! polynomial versus exponential growth in L, fixed in advance:
//!
//! * over every (seed, L) point of the lengths that every seed learned, fit ln n against ln L
//!   (power law), against L (exponential), and ln n = a + α·ln L + β·(ln L)² (curvature);
//! * **polynomial** when the power law has the smaller residual sum of squares, no length is
//!   censored, and β's 95% upper bound lies below β_exp/2, where β_exp = c·L̄/2 is the
//!   (ln L)² coefficient that the best exponential ln n = a + c·L implies around the geometric
//!   mean length L̄;
//! * **exponential** when the exponential has the smaller residual sum of squares and β's 95%
//!   lower bound is above 0;
//! * undecided otherwise, or with fewer than 4 lengths learned by every seed.

use serde::{Deserialize, Serialize};
use sgdlab_engine::rng::SplitMix64;

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

fn sse_of(points: &[(f64, f64)], f: &LineFit) -> f64 {
    points
        .iter()
        .map(|&(x, y)| (y - f.intercept - f.slope * x).powi(2))
        .sum()
}

/// The samples needed in one pass: the sequences seen at the first evaluation whose error is
/// at or below `threshold` when the next evaluation is too (confirmed); `None` if no crossing
/// is confirmed (censored).
pub fn samples_needed(curve: &[(usize, f64)], threshold: f64) -> Option<f64> {
    curve
        .windows(2)
        .find(|w| w[0].1 <= threshold && w[1].1 <= threshold)
        .map(|w| w[0].0 as f64)
}

/// The samples needed at one length, per seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthSamples {
    /// Sequence length L.
    pub seq_len: usize,
    /// Per seed: the samples needed, or `None` when the cap came first (censored: more than
    /// `max_samples`).
    pub per_seed: Vec<Option<f64>>,
    /// The cap (the censoring bound).
    pub max_samples: usize,
    /// Geometric mean over the seeds that reached the threshold.
    pub geo_mean: Option<f64>,
    /// 95% t-interval of the geometric mean (on ln n, exponentiated); `None` with fewer than
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
}

/// The fits of the decision rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GrowthFit {
    /// (seed, L) points in the fits.
    pub points: usize,
    /// Lengths in the fits.
    pub lengths: usize,
    /// α of the power law ln n = a + α·ln L.
    pub alpha: f64,
    /// Its residual sum of squares.
    pub power_sse: f64,
    /// c (per token) of the exponential ln n = a + c·L.
    pub rate: f64,
    /// Its residual sum of squares.
    pub exp_sse: f64,
    /// β of ln n = a + α·ln L + β·(ln L)².
    pub beta: f64,
    /// β's 95% t-interval (N − 3 degrees of freedom).
    pub beta_ci95: [f64; 2],
    /// The geometric mean length L̄ of the points.
    pub mean_len: f64,
    /// β_exp = c·L̄/2: the curvature that the best exponential implies around L̄.
    pub beta_exp: f64,
}

impl GrowthFit {
    /// The two fits and the curvature in words, for the claims and the report.
    pub fn describe(&self) -> String {
        format!(
            "power law α = {:.2} (SSE {:.3}); exponential c = {:.3} per token (SSE {:.3}); \
             curvature β = {:.2} [{:.2}, {:.2}] against β_exp/2 = {:.2} (L̄ = {:.1}); {} points \
             over {} lengths",
            self.alpha,
            self.power_sse,
            self.rate,
            self.exp_sse,
            self.beta,
            self.beta_ci95[0],
            self.beta_ci95[1],
            self.beta_exp / 2.0,
            self.mean_len,
            self.points,
            self.lengths
        )
    }
}

/// One target's scaling summary and verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingSummary {
    /// `concept` or `lookup`.
    pub target: String,
    /// Per length.
    pub lengths: Vec<LengthSamples>,
    /// The fits over the lengths every seed learned (with at least 3 of them).
    pub fit: Option<GrowthFit>,
    /// `polynomial`, `exponential`, or `undecided: why`.
    pub verdict: String,
}

/// Least squares of y on [1, x, x²]: the coefficients, the residual sum of squares and the
/// standard error of the x² coefficient.
fn fit_quadratic(points: &[(f64, f64)]) -> Option<([f64; 3], f64, f64)> {
    let n = points.len();
    if n < 4 {
        return None;
    }
    let mut a = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for &(x, y) in points {
        let f = [1.0, x, x * x];
        for r in 0..3 {
            b[r] += f[r] * y;
            for c in 0..3 {
                a[r][c] += f[r] * f[c];
            }
        }
    }
    // Inverse by Gauss–Jordan.
    let mut inv = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for col in 0..3 {
        let piv = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        a.swap(col, piv);
        inv.swap(col, piv);
        let d = a[col][col];
        if d.abs() < 1e-12 {
            return None;
        }
        for c in 0..3 {
            a[col][c] /= d;
            inv[col][c] /= d;
        }
        for r in 0..3 {
            if r != col {
                let f = a[r][col];
                for c in 0..3 {
                    a[r][c] -= f * a[col][c];
                    inv[r][c] -= f * inv[col][c];
                }
            }
        }
    }
    let coef: [f64; 3] = std::array::from_fn(|r| (0..3).map(|c| inv[r][c] * b[c]).sum());
    let sse: f64 = points
        .iter()
        .map(|&(x, y)| (y - coef[0] - coef[1] * x - coef[2] * x * x).powi(2))
        .sum();
    let sigma2 = sse / (n - 3) as f64;
    Some((coef, sse, (sigma2 * inv[2][2]).sqrt()))
}

/// The rule's fits over (L, n) points.
pub fn growth_fit(points: &[(f64, f64)]) -> Option<GrowthFit> {
    let mut lens: Vec<f64> = points.iter().map(|p| p.0).collect();
    lens.sort_by(f64::total_cmp);
    lens.dedup();
    if lens.len() < 3 {
        return None;
    }
    let log_log: Vec<(f64, f64)> = points.iter().map(|&(l, n)| (l.ln(), n.ln())).collect();
    let lin_log: Vec<(f64, f64)> = points.iter().map(|&(l, n)| (l, n.ln())).collect();
    let power = fit_line(&log_log)?;
    let expo = fit_line(&lin_log)?;
    let (coef, _, beta_se) = fit_quadratic(&log_log)?;
    let h = t_quantile_975(points.len() - 3) * beta_se;
    let mean_len = (log_log.iter().map(|p| p.0).sum::<f64>() / points.len() as f64).exp();
    Some(GrowthFit {
        points: points.len(),
        lengths: lens.len(),
        alpha: power.slope,
        power_sse: sse_of(&log_log, &power),
        rate: expo.slope,
        exp_sse: sse_of(&lin_log, &expo),
        beta: coef[2],
        beta_ci95: [coef[2] - h, coef[2] + h],
        mean_len,
        beta_exp: expo.slope * mean_len / 2.0,
    })
}

/// The verdict of the rule (see the module documentation) on fits over lengths that every seed
/// learned, with `censored` lengths that some seed did not learn.
pub fn decide_growth(fit: Option<&GrowthFit>, censored: usize) -> String {
    let Some(f) = fit else {
        return "undecided: fewer than 3 lengths learned by every seed".into();
    };
    if f.lengths < 4 {
        return format!(
            "undecided: {} lengths learned by every seed (need 4)",
            f.lengths
        );
    }
    let power_better = f.power_sse < f.exp_sse;
    if power_better && censored == 0 && f.beta_ci95[1] < f.beta_exp / 2.0 {
        "polynomial".into()
    } else if !power_better && f.beta_ci95[0] > 0.0 {
        "exponential".into()
    } else if power_better && censored > 0 {
        format!("undecided: the power law fits better but {censored} length(s) were censored")
    } else if power_better {
        format!(
            "undecided: the power law fits better but β's upper bound {:.2} is not below \
             β_exp/2 = {:.2}",
            f.beta_ci95[1],
            f.beta_exp / 2.0
        )
    } else {
        format!(
            "undecided: the exponential fits better but β's lower bound {:.2} is not above 0",
            f.beta_ci95[0]
        )
    }
}

/// The summary and verdict of one target's lengths.
pub fn summarize(target: &str, lengths: Vec<LengthSamples>) -> ScalingSummary {
    let points: Vec<(f64, f64)> = lengths
        .iter()
        .filter(|l| l.all_reached())
        .flat_map(|l| {
            l.per_seed
                .iter()
                .flatten()
                .map(move |&n| (l.seq_len as f64, n))
        })
        .collect();
    let censored = lengths.iter().filter(|l| !l.all_reached()).count();
    let fit = growth_fit(&points);
    let verdict = decide_growth(fit.as_ref(), censored);
    ScalingSummary {
        target: target.to_string(),
        lengths,
        fit,
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

/// How often the rule says each verdict on synthetic data: `draws` data sets with `seeds`
/// seeds at `lens`, ln n = `law`(L) + N(0, `sd`²) per point, rounded up to the evaluation grid
/// (`per_octave` points per doubling) and censored above `cap`, from a fixed seed. Returns the
/// shares (polynomial, exponential, undecided).
pub fn simulate_rule(
    lens: &[usize],
    seeds: usize,
    sd: f64,
    law: impl Fn(f64) -> f64,
    per_octave: usize,
    cap: f64,
    draws: usize,
) -> (f64, f64, f64) {
    let mut rng = SplitMix64::for_purpose(7, "rnn rule simulation");
    let step = std::f64::consts::LN_2 / per_octave as f64;
    let (mut poly, mut expo) = (0usize, 0usize);
    for _ in 0..draws {
        let lengths = lens
            .iter()
            .map(|&l| {
                let per_seed = (0..seeds)
                    .map(|_| {
                        let ln_n = law(l as f64) + sd * rng.normal();
                        let n = ((ln_n / step).ceil() * step).exp();
                        (n <= cap).then_some(n)
                    })
                    .collect();
                length_samples(l, per_seed, cap as usize)
            })
            .collect();
        match summarize("sim", lengths).verdict.as_str() {
            "polynomial" => poly += 1,
            "exponential" => expo += 1,
            _ => {}
        }
    }
    let d = draws as f64;
    (
        poly as f64 / d,
        expo as f64 / d,
        (draws - poly - expo) as f64 / d,
    )
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
        // The first crossing counts only when the next evaluation confirms it.
        let curve = [(16, 0.9), (32, 0.4), (64, 0.7), (128, 0.45), (256, 0.3)];
        assert_eq!(samples_needed(&curve, 0.5), Some(128.0));
        assert_eq!(samples_needed(&curve[..4], 0.5), None);
        assert_eq!(samples_needed(&[(16, 0.1)], 0.5), None);
    }

    fn lengths(f: impl Fn(f64, usize) -> Option<f64>) -> Vec<LengthSamples> {
        [2usize, 3, 4, 6, 8, 12]
            .iter()
            .map(|&l| length_samples(l, (0..3).map(|s| f(l as f64, s)).collect(), 1 << 17))
            .collect()
    }

    const NOISE: [f64; 3] = [-0.2, 0.05, 0.15];

    #[test]
    fn a_power_law_is_polynomial() {
        let s = summarize(
            "concept",
            lengths(|l, s| Some(30.0 * l.powf(2.3) * NOISE[s].exp())),
        );
        assert_eq!(s.verdict, "polynomial", "{s:?}");
        let f = s.fit.unwrap();
        assert!(
            (f.alpha - 2.3).abs() < 0.1 && f.power_sse < f.exp_sse,
            "{f:?}"
        );
    }

    #[test]
    fn an_exponential_law_is_exponential() {
        let s = summarize(
            "lookup",
            lengths(|l, s| Some(40.0 * (0.4 * l).exp() * NOISE[s].exp())),
        );
        assert_eq!(s.verdict, "exponential", "{s:?}");
        // Censored above the cap at the longest lengths: still exponential on the rest.
        let s = summarize(
            "lookup",
            lengths(|l, s| {
                let n = 40.0 * (0.9 * l).exp() * NOISE[s].exp();
                (n <= f64::from(1 << 17)).then_some(n)
            }),
        );
        assert_eq!(s.verdict, "exponential", "{s:?}");
    }

    #[test]
    fn censoring_and_few_lengths_leave_it_undecided() {
        let s = summarize(
            "concept",
            lengths(|l, s| (l < 12.0 || s == 0).then_some(100.0 * l)),
        );
        assert!(s.verdict.starts_with("undecided"), "{s:?}");
        let s = summarize("concept", lengths(|l, _| (l < 4.0).then_some(100.0 * l)));
        assert!(s.verdict.starts_with("undecided"), "{s:?}");
    }

    /// The rule's power and false-alarm rate, simulated at the frozen protocol (lengths 2–12,
    /// 4 evaluations per octave, cap 2^17) with the per-point SD on ln n of the pilot.
    #[test]
    fn simulated_power_and_false_alarms() {
        let lens = [2, 3, 4, 6, 8, 12];
        let cap = f64::from(1 << 17);
        let (draws, sd) = (2000, 0.25);
        for seeds in [3, 5] {
            let power =
                |law: &dyn Fn(f64) -> f64| simulate_rule(&lens, seeds, sd, law, 4, cap, draws);
            let p = power(&|l: f64| (30.0f64).ln() + 2.34 * l.ln());
            let e = power(&|l: f64| (40.0f64).ln() + 0.406 * l);
            let e2 = power(&|l: f64| (200.0f64).ln() + 0.2 * l);
            println!(
                "seeds {seeds}: power law α=2.34 → poly {:.3} expo {:.3}; exp 0.406/token → \
                 poly {:.3} expo {:.3}; exp 0.2/token → poly {:.3} expo {:.3}",
                p.0, p.1, e.0, e.1, e2.0, e2.1
            );
            // False alarms (exponential under a power law, polynomial under an exponential).
            assert!(p.1 <= 0.05 && e.0 <= 0.05, "{p:?} {e:?}");
            assert!(p.0 >= 0.5 && e.1 >= 0.8, "{p:?} {e:?}");
        }
    }
}
