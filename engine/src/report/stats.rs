//! Intervals around estimates: the mean with its Student-t interval and a proportion with its
//! Wilson interval. The statistics every claim and chart with error bars uses; the decision a
//! claim draws from an interval is the experiments' (`IntervalVerdict` there).

/// A two-sided interval around an estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl Interval {
    /// The mean of `xs` with its 95% Student-t interval (NaN ends with fewer than two values).
    pub fn mean_ci95(xs: &[f64]) -> Self {
        let (m, h) = super::mean_ci95(xs);
        Self {
            estimate: m,
            lo: m - h,
            hi: m + h,
        }
    }

    /// The 95% Wilson score interval of a proportion `successes / n` (empty when `n` is 0).
    pub fn wilson95(successes: usize, n: usize) -> Self {
        if n == 0 {
            return Self {
                estimate: f64::NAN,
                lo: f64::NAN,
                hi: f64::NAN,
            };
        }
        let z = 1.959_964_f64;
        let nf = n as f64;
        let p = successes as f64 / nf;
        let denom = 1.0 + z * z / nf;
        let centre = (p + z * z / (2.0 * nf)) / denom;
        let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
        // At 0 and n successes the interval ends at 0 and 1 exactly (rounding would leave a
        // hair's breadth).
        Self {
            estimate: p,
            lo: if successes == 0 {
                0.0
            } else {
                (centre - half).max(0.0)
            },
            hi: if successes >= n {
                1.0
            } else {
                (centre + half).min(1.0)
            },
        }
    }

    /// The difference of two independent proportions `s1/n1 − s2/n2` with Newcombe's hybrid
    /// score interval (method 10 of Newcombe 1998), built from the two Wilson intervals (empty
    /// when either `n` is 0).
    pub fn newcombe_diff95(s1: usize, n1: usize, s2: usize, n2: usize) -> Self {
        let (a, b) = (Self::wilson95(s1, n1), Self::wilson95(s2, n2));
        let d = a.estimate - b.estimate;
        Self {
            estimate: d,
            lo: d - ((a.estimate - a.lo).powi(2) + (b.hi - b.estimate).powi(2)).sqrt(),
            hi: d + ((a.hi - a.estimate).powi(2) + (b.estimate - b.lo).powi(2)).sqrt(),
        }
    }

    /// Whether both ends are finite numbers.
    pub fn is_finite(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }

    /// `estimate [lo, hi]` with `digits` significant decimals.
    pub fn show(&self, digits: usize) -> String {
        if self.is_finite() {
            format!(
                "{:.d$} [{:.d$}, {:.d$}]",
                self.estimate,
                self.lo,
                self.hi,
                d = digits
            )
        } else {
            format!("{:.d$} (no interval)", self.estimate, d = digits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_stays_in_range_and_matches_a_known_value() {
        let w = Interval::wilson95(0, 10);
        assert_eq!(w.lo, 0.0);
        assert!((w.hi - 0.2775).abs() < 1e-3, "{w:?}");
        let w = Interval::wilson95(10, 10);
        assert_eq!(w.hi, 1.0);
        assert!((w.lo - 0.7225).abs() < 1e-3, "{w:?}");
        let w = Interval::wilson95(5, 10);
        assert!((w.lo - 0.2366).abs() < 1e-3 && (w.hi - 0.7634).abs() < 1e-3);
        assert!(Interval::wilson95(0, 0).estimate.is_nan());
    }

    #[test]
    fn newcombe_matches_the_papers_example() {
        // Newcombe (1998), table II, example (a): 56/70 − 48/80, method 10: 0.0524 to 0.3339.
        let d = Interval::newcombe_diff95(56, 70, 48, 80);
        assert!((d.estimate - 0.2).abs() < 1e-12, "{d:?}");
        assert!(
            (d.lo - 0.0524).abs() < 5e-4 && (d.hi - 0.3339).abs() < 5e-4,
            "{d:?}"
        );
        assert!(!Interval::newcombe_diff95(1, 0, 1, 2).is_finite());
    }
}
