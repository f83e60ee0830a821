//! The RNN experiment's claims: polynomial sample complexity for the concept class, and the
//! same pipeline calling the parity control not polynomial (a pure function of the scaling
//! summaries, so rigged summaries test every verdict).

use super::ScalingSummary;
use crate::{Claim, Verdict};

fn measured(s: &ScalingSummary) -> String {
    let per_length: Vec<String> = s
        .lengths
        .iter()
        .map(|l| {
            let reached = format!("{}/{} seeds", l.reached(), l.per_seed.len());
            match (l.geo_mean, l.ci95) {
                (Some(m), Some([lo, hi])) => {
                    format!("L={}: {m:.0} [{lo:.0}, {hi:.0}] ({reached})", l.seq_len)
                }
                (Some(m), None) => format!("L={}: {m:.0} ({reached})", l.seq_len),
                (None, _) => format!("L={}: >{} ({reached})", l.seq_len, l.max_samples),
            }
        })
        .collect();
    let exponent = s
        .exponent
        .as_ref()
        .map_or("no exponent fit".to_string(), |e| {
            format!(
                "exponent α = {:.2} [{:.2}, {:.2}] over {} points",
                e.estimate, e.lo, e.hi, e.points
            )
        });
    let bound = s
        .censored_exponent_bound
        .map_or(String::new(), |b| format!("; censoring bound α > {b:.2}"));
    format!(
        "samples needed (geometric mean [95% CI]) {}; {exponent}{bound}",
        per_length.join(", ")
    )
}

/// The claims: the concept's scaling (`concept`) and the control's (`control`, when run).
pub fn rnn_claims(concept: &ScalingSummary, control: Option<&ScalingSummary>) -> Vec<Claim> {
    let test = |d: f64| {
        format!(
            "samples needed per seed (interpolated; censored when the largest training set does \
             not reach the error threshold) fitted as n ∝ L^α over seeds: polynomial when every \
             seed reaches it at ≥ 3 lengths and α's 95% interval lies at or below {d}; not \
             polynomial when the interval, or the censoring bound ln(n_max/n(L₀))/ln(L/L₀), \
             lies above {d}; otherwise undecided"
        )
    };
    let main = Claim::new(
        "samples-polynomial-in-length",
        "SGD on an overparameterized RNN learns the concept class with a number of samples \
         polynomial (not exponential) in the sequence length L.",
        format!(
            "{}; holds when polynomial, fails when not",
            test(concept.max_degree)
        ),
    );
    let mut claims = vec![decide(main, concept, "polynomial", "not polynomial")];
    if let Some(c) = control {
        let ctl = Claim::new(
            "control-not-polynomial",
            "The same measurement calls a target outside the class (the parity of the signs of \
             all earlier tokens' first coordinates) not polynomial, so the verdict above can \
             come out either way.",
            format!(
                "{}; holds when not polynomial, fails when polynomial",
                test(c.max_degree)
            ),
        );
        claims.push(decide(ctl, c, "not polynomial", "polynomial"));
    }
    claims
}

fn decide(claim: Claim, s: &ScalingSummary, holds: &str, fails: &str) -> Claim {
    if s.lengths.is_empty() {
        return claim.not_measured("no length has finished");
    }
    let m = measured(s);
    if s.verdict == holds {
        claim.decide(m, Verdict::Holds, format!("the pipeline says {holds}"))
    } else if s.verdict == fails {
        claim.decide(m, Verdict::Fails, format!("the pipeline says {fails}"))
    } else {
        claim.decide(m, Verdict::Inconclusive, s.verdict.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{length_samples, summarize};
    use super::*;

    fn summary(f: impl Fn(f64) -> Option<f64>) -> ScalingSummary {
        let lengths = [4usize, 8, 16, 32]
            .iter()
            .map(|&l| {
                length_samples(
                    l,
                    (0..3)
                        .map(|s| f(l as f64).map(|n| n * (1.0 + 0.05 * s as f64)))
                        .collect(),
                    1_000_000,
                )
            })
            .collect();
        summarize("x", lengths, 4.0)
    }

    #[test]
    fn verdicts_follow_the_pipeline_and_flip() {
        let poly = summary(|l| Some(3.0 * l * l));
        let expo = summary(|l| {
            let n = 2f64.powf(l);
            (n <= 1e6).then_some(n)
        });
        let c = rnn_claims(&poly, Some(&expo));
        assert_eq!(c[0].verdict, Verdict::Holds, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Holds, "{c:?}");
        // Swapped: the concept looks exponential, the control polynomial.
        let c = rnn_claims(&expo, Some(&poly));
        assert_eq!(c[0].verdict, Verdict::Fails, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Fails, "{c:?}");
        assert!(c[0].measured.contains(">1000000"), "{}", c[0].measured);
        let c = rnn_claims(&ScalingSummary::default(), None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].verdict, Verdict::Inconclusive);
    }
}
