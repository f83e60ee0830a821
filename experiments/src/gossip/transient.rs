//! The transient stage and its growth: how many steps a method needs before its expected error
//! stays within a factor of parallel SGD's, measured on seed-mean error curves, and the exponent
//! of its growth against n, 1/(1 − β) and H fitted on a log–log scale.
//!
//! A transient is a censored measurement. Beyond the horizon it is a lower bound (the method did
//! not match parallel SGD in time); at or below its floor (the first global average at step H,
//! or the curve being within the band from the start) it is an upper bound. A fit that would need
//! the value of a censored point reports no exponent, and the claims built on it are
//! `inconclusive` ([`super::claims`]).

use super::ProblemClass;
use serde::{Deserialize, Serialize};

/// The per-step mean over the replicas `pick` selects of step-major replica errors (R values
/// per step).
pub fn replica_mean(errors: &[f64], replicas: usize, pick: impl Fn(usize) -> bool) -> Vec<f64> {
    let chosen: Vec<usize> = (0..replicas).filter(|&r| pick(r)).collect();
    errors
        .chunks_exact(replicas.max(1))
        .map(|step| chosen.iter().map(|&r| step[r]).sum::<f64>() / chosen.len().max(1) as f64)
        .collect()
}

/// The running mean of each error over the trailing window [(1 − window)k, k] (steps counted
/// from 1), which smooths the mini-batch noise while delaying the curve by at most that
/// fraction of k.
pub fn smooth(errors: &[f64], window: f64) -> Vec<f64> {
    let mut prefix = vec![0.0; errors.len() + 1];
    for (i, e) in errors.iter().enumerate() {
        prefix[i + 1] = prefix[i] + e;
    }
    (0..errors.len())
        .map(|k| {
            let lo = (((k + 1) as f64 * (1.0 - window)).floor() as usize).min(k);
            (prefix[k + 1] - prefix[lo]) / (k + 1 - lo) as f64
        })
        .collect()
}

/// The transient stage: the first step (1-based) after which `curve` stays within `factor` of
/// `reference` at every later step; `None` if it is still outside at the end.
pub fn transient_stage(curve: &[f64], reference: &[f64], factor: f64) -> Option<u64> {
    let len = curve.len().min(reference.len());
    let mut first_good = None;
    for k in (0..len).rev() {
        if curve[k] <= factor * reference[k] {
            first_good = Some(k as u64 + 1);
        } else {
            break;
        }
    }
    first_good
}

/// What a transient says about the true transient stage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Censored {
    /// Measured: this many steps.
    Value(f64),
    /// Beyond the horizon: at least this many steps.
    AtLeast(f64),
    /// At or below the floor: at most this many steps (not resolved).
    AtMost(f64),
}

/// One point of a transient sweep: the swept quantity and the transients measured on all seeds
/// and on each half of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransientPoint {
    /// The swept quantity: n, H, or 1/(1 − β).
    pub x: f64,
    /// A label for reports (`n = 16`, `torus`, `H = 8`).
    pub label: String,
    /// Transient on the seed-mean curve (`null`: beyond the horizon).
    pub steps: Option<u64>,
    /// The same on the even-numbered and on the odd-numbered seeds (empty with one seed).
    pub halves: Vec<Option<u64>>,
    /// Transients at or below this many steps are not resolved (upper bounds).
    pub floor: u64,
    /// The horizon (steps run): `null` transients are at least this long.
    pub horizon: u64,
    /// The theory's transient at this point, up to a constant (for the theory's exponent).
    pub theory: f64,
}

impl TransientPoint {
    /// What the transient `t` (one of `steps`, `halves`) says.
    pub fn censoring(&self, t: Option<u64>) -> Censored {
        match t {
            None => Censored::AtLeast(self.horizon as f64),
            Some(v) if v <= self.floor => Censored::AtMost(self.floor as f64),
            Some(v) => Censored::Value(v as f64),
        }
    }

    /// `123`, `> 1500` or `≤ 16`.
    pub fn show(t: Censored) -> String {
        match t {
            Censored::Value(v) => format!("{v:.0}"),
            Censored::AtLeast(v) => format!("> {v:.0}"),
            Censored::AtMost(v) => format!("≤ {v:.0}"),
        }
    }

    /// The full-seed transient with its halves: `123 (98 / 170)`.
    pub fn show_with_halves(&self) -> String {
        let full = Self::show(self.censoring(self.steps));
        if self.halves.len() == 2 {
            format!(
                "{full} ({} / {})",
                Self::show(self.censoring(self.halves[0])),
                Self::show(self.censoring(self.halves[1]))
            )
        } else {
            full
        }
    }
}

/// The growth exponent of a transient sweep: the least-squares slope of ln T against ln x, on
/// all seeds and on each half of them, next to the theory's slope over the same x.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentFit {
    /// The class of the problem the transients were measured on.
    #[serde(default)]
    pub problem_class: ProblemClass,
    /// The algorithm whose transients are fitted.
    pub algorithm: String,
    /// What x is: `n`, `1/(1−β)` or `H`.
    pub against: String,
    /// The sweep.
    pub points: Vec<TransientPoint>,
    /// The slope on all seeds (`null` when a point is censored or there are too few).
    pub exponent: Option<f64>,
    /// The slopes on each half of the seeds (empty unless both could be fitted).
    pub half_exponents: Vec<f64>,
    /// The theory's slope: least squares of ln(theory) against ln x over the same points.
    pub theory_exponent: Option<f64>,
    /// Why there is no exponent (censored points, too few points), empty when there is one.
    pub missing: String,
}

/// Least-squares slope of `ys` on `xs` (`None` with fewer than two distinct x).
pub fn slope(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let mx = xs[..n].iter().sum::<f64>() / n as f64;
    let my = ys[..n].iter().sum::<f64>() / n as f64;
    let sxx: f64 = xs[..n].iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs[..n]
        .iter()
        .zip(&ys[..n])
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    (sxx > 1e-12 && sxy.is_finite()).then_some(sxy / sxx)
}

impl ExponentFit {
    /// Fits `points` (in sweep order). Points whose x or theory is not a positive finite number
    /// (β = 0: no transient predicted) are dropped first, and named in `missing` if that leaves
    /// fewer than two.
    pub fn fit(algorithm: &str, against: &str, points: Vec<TransientPoint>) -> Self {
        let usable: Vec<&TransientPoint> = points
            .iter()
            .filter(|p| p.x.is_finite() && p.x > 0.0 && p.theory.is_finite() && p.theory > 0.0)
            .collect();
        let lx: Vec<f64> = usable.iter().map(|p| p.x.ln()).collect();
        let theory_exponent = slope(
            &lx,
            &usable.iter().map(|p| p.theory.ln()).collect::<Vec<_>>(),
        );
        let values = |pick: &dyn Fn(&TransientPoint) -> Option<u64>| -> Result<Vec<f64>, String> {
            let mut out = Vec::new();
            let mut censored = Vec::new();
            for p in &usable {
                match p.censoring(pick(p)) {
                    Censored::Value(v) => out.push(v.ln()),
                    c => censored.push(format!("{}: {}", p.label, TransientPoint::show(c))),
                }
            }
            if censored.is_empty() {
                Ok(out)
            } else {
                Err(censored.join(", "))
            }
        };
        let mut missing = String::new();
        let exponent = match values(&|p| p.steps) {
            Ok(ys) => slope(&lx, &ys),
            Err(c) => {
                missing = format!("censored (a bound, not a value): {c}");
                None
            }
        };
        if exponent.is_none() && missing.is_empty() {
            missing = format!(
                "fewer than two points to fit ({} usable of {})",
                usable.len(),
                points.len()
            );
        }
        let mut half_exponents = Vec::new();
        if usable.iter().all(|p| p.halves.len() == 2) {
            for h in 0..2 {
                if let Ok(ys) = values(&|p| p.halves[h])
                    && let Some(s) = slope(&lx, &ys)
                {
                    half_exponents.push(s);
                }
            }
            if half_exponents.len() < 2 {
                half_exponents.clear();
            }
        }
        Self {
            problem_class: ProblemClass::default(),
            algorithm: algorithm.into(),
            against: against.into(),
            points,
            exponent,
            half_exponents,
            theory_exponent,
            missing,
        }
    }

    /// The same fit, labelled with the class of problem it was measured on.
    pub fn on(mut self, class: ProblemClass) -> Self {
        self.problem_class = class;
        self
    }

    /// The range the exponent spans over all seeds and each half: `None` unless all three were
    /// fitted.
    pub fn half_seed_range(&self) -> Option<(f64, f64)> {
        let e = self.exponent?;
        if self.half_exponents.len() != 2 {
            return None;
        }
        let lo = self.half_exponents.iter().fold(e, |m, &v| m.min(v));
        let hi = self.half_exponents.iter().fold(e, |m, &v| m.max(v));
        Some((lo, hi))
    }

    /// The sweep as `label: transient (half / half)` pairs.
    pub fn show_points(&self) -> String {
        self.points
            .iter()
            .map(|p| format!("{}: {}", p.label, p.show_with_halves()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_stage_is_the_last_entry_into_the_band() {
        let par = vec![1.0; 6];
        let alg = vec![3.0, 1.0, 2.0, 1.05, 1.0, 1.09];
        assert_eq!(transient_stage(&alg, &par, 1.1), Some(4));
        assert_eq!(transient_stage(&[1.0, 2.0], &[1.0, 1.0], 1.1), None);
        assert_eq!(transient_stage(&[1.0, 1.0], &[1.0, 1.0], 1.1), Some(1));
    }

    #[test]
    fn smoothing_averages_the_trailing_window() {
        let s = smooth(&[1.0; 50], 0.1);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let ramp: Vec<f64> = (0..100).map(f64::from).collect();
        // Step 100 (index 99), window 0.1: indices 90..=99, mean 94.5.
        let s = smooth(&ramp, 0.1);
        assert!((s[99] - 94.5).abs() < 1e-12, "{}", s[99]);
        // Window 0.25: indices 75..=99, mean 87.
        let s = smooth(&ramp, 0.25);
        assert!((s[99] - 87.0).abs() < 1e-12, "{}", s[99]);
        assert_eq!(smooth(&ramp, 0.0), ramp);
    }

    #[test]
    fn replica_mean_picks_columns() {
        // Two steps, three replicas.
        let e = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(replica_mean(&e, 3, |_| true), vec![2.0, 5.0]);
        assert_eq!(replica_mean(&e, 3, |r| r % 2 == 0), vec![2.0, 5.0]);
        assert_eq!(replica_mean(&e, 3, |r| r == 1), vec![2.0, 5.0]);
        assert_eq!(replica_mean(&e, 3, |r| r == 2), vec![3.0, 6.0]);
    }

    fn point(x: f64, steps: Option<u64>, halves: [Option<u64>; 2], theory: f64) -> TransientPoint {
        TransientPoint {
            x,
            label: format!("x = {x}"),
            steps,
            halves: halves.to_vec(),
            floor: 4,
            horizon: 1000,
            theory,
        }
    }

    #[test]
    fn exponents_of_power_laws_and_their_censoring() {
        // T = 3 x², halves ×0.9 and ×1.1 at the larger x (slopes a bit off 2), theory x².
        let pts: Vec<TransientPoint> = [2.0f64, 4.0, 8.0]
            .iter()
            .map(|&x| {
                let t = 3.0 * x * x;
                let h = if x > 2.0 { [0.9, 1.1] } else { [1.0, 1.0] };
                point(
                    x,
                    Some(t as u64),
                    [Some((t * h[0]) as u64), Some((t * h[1]) as u64)],
                    x * x,
                )
            })
            .collect();
        let f = ExponentFit::fit("a", "n", pts.clone());
        assert!((f.exponent.unwrap() - 2.0).abs() < 0.05, "{f:?}");
        assert!((f.theory_exponent.unwrap() - 2.0).abs() < 1e-9);
        let (lo, hi) = f.half_seed_range().unwrap();
        assert!(lo < 2.0 && hi > 2.0 && hi - lo < 0.3, "{lo} {hi}");
        // Beyond the horizon at the largest x: no exponent, and `missing` says which point.
        let mut cut = pts.clone();
        cut[2].steps = None;
        let f = ExponentFit::fit("a", "n", cut);
        assert!(f.exponent.is_none() && f.half_seed_range().is_none());
        assert!(f.missing.contains("x = 8: > 1000"), "{}", f.missing);
        // At the floor at the smallest x: an upper bound, no exponent either.
        let mut low = pts.clone();
        low[0].steps = Some(3);
        let f = ExponentFit::fit("a", "n", low);
        assert!(f.exponent.is_none() && f.missing.contains("≤ 4"), "{f:?}");
        // A censored half leaves the full exponent but no range.
        let mut half = pts;
        half[1].halves[0] = None;
        let f = ExponentFit::fit("a", "n", half);
        assert!(f.exponent.is_some() && f.half_seed_range().is_none());
    }

    #[test]
    fn points_without_a_predicted_transient_are_dropped() {
        // β = 0 (complete graph): theory 0, left out; two points remain.
        let pts = vec![
            point(1.0, Some(50), [Some(50), Some(50)], 0.0),
            point(2.0, Some(40), [Some(40), Some(40)], 4.0),
            point(4.0, Some(160), [Some(160), Some(160)], 16.0),
        ];
        let f = ExponentFit::fit("a", "1/(1−β)", pts);
        assert!((f.exponent.unwrap() - 2.0).abs() < 1e-9, "{f:?}");
        let one = vec![point(2.0, Some(40), [Some(40), Some(40)], 4.0)];
        let f = ExponentFit::fit("a", "n", one);
        assert!(f.exponent.is_none() && f.missing.contains("fewer than two"));
    }
}
