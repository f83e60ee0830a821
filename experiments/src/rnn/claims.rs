//! The RNN experiment's claims: polynomial sample complexity for the concept class (gated by
//! the width check), and the same pipeline calling the lookup control exponential (a pure
//! function of the scaling summaries, so rigged summaries test every verdict).

use super::scaling::GrowthFit;
use super::{ScalingSummary, WidthCheck};
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
    let fit = s
        .fit
        .as_ref()
        .map_or("no fit".to_string(), GrowthFit::describe);
    format!(
        "sequences seen at the confirmed crossing (geometric mean [95% CI]) {}; {fit}",
        per_length.join(", ")
    )
}

const RULE: &str = "one-pass SGD on fresh sequences; n = sequences seen at the first evaluation \
    with relative test error ≤ threshold_fraction (0.75 in the paper preset) × the linear floor, confirmed by the next; over the lengths \
    every seed learned, fit ln n on ln L (power law), on L (exponential) and with a (ln L)² \
    term β: polynomial when the power law has the smaller SSE, no length is censored and β's \
    95% upper bound < β_exp/2 (β_exp = c·L̄/2 of the best exponential); exponential when the \
    exponential has the smaller SSE and β's 95% lower bound > 0; otherwise undecided";

/// The claims: the concept's scaling (`concept`, gated by `width`) and the lookup control's
/// (`control`, when run).
pub fn rnn_claims(
    concept: &ScalingSummary,
    control: Option<&ScalingSummary>,
    width: Option<&WidthCheck>,
) -> Vec<Claim> {
    let main = Claim::new(
        "samples-polynomial-in-length",
        "SGD on an overparameterized RNN learns the concept class with a number of samples \
         polynomial (not exponential) in the sequence length L (at a fixed error; the paper's \
         rate for smooth concepts is L^O(log 1/ε)).",
        format!(
            "{RULE}; holds when polynomial and the width check (one seed at twice the width) \
             moves the crossing by no more than the seed spread; fails when exponential"
        ),
    );
    let mut main = decide(main, concept, "polynomial", "exponential");
    if main.verdict == Verdict::Holds
        && let Some(w) = width
    {
        let line = w.describe();
        main.measured = format!("{}; {line}", main.measured);
        if w.passed != Some(true) {
            let measured = main.measured.clone();
            main = main.decide(
                measured,
                Verdict::Inconclusive,
                format!("the pipeline says polynomial, but the width check failed: {line}"),
            );
        }
    } else if let Some(w) = width {
        main.measured = format!("{}; {}", main.measured, w.describe());
    }
    let mut claims = vec![main];
    if let Some(c) = control {
        let ctl = Claim::new(
            "control-exponential",
            "The same pipeline and rule call a target that needs exponentially many samples \
             (a random ±1 table of the signs of the L tokens' first coordinates, scored at the \
             last position) exponential, so the verdict above can come out either way.",
            format!("{RULE}; holds when exponential, fails when polynomial"),
        );
        claims.push(decide(ctl, c, "exponential", "polynomial"));
    }
    claims
}

fn decide(claim: Claim, s: &ScalingSummary, holds: &str, fails: &str) -> Claim {
    if s.lengths.is_empty() {
        return claim.not_measured("no length has finished");
    }
    let m = measured(s);
    if s.verdict == holds {
        claim.decide(m, Verdict::Holds, format!("the rule says {holds}"))
    } else if s.verdict == fails {
        claim.decide(m, Verdict::Fails, format!("the rule says {fails}"))
    } else {
        claim.decide(m, Verdict::Inconclusive, s.verdict.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{length_samples, summarize};
    use super::*;

    fn summary(f: impl Fn(f64) -> Option<f64>) -> ScalingSummary {
        let lengths = [2usize, 3, 4, 6, 8, 12]
            .iter()
            .map(|&l| {
                length_samples(
                    l,
                    [-0.1, 0.05, 0.1]
                        .iter()
                        .map(|e: &f64| f(l as f64).map(|n| n * e.exp()))
                        .collect(),
                    1 << 17,
                )
            })
            .collect();
        summarize("x", lengths)
    }

    #[test]
    fn verdicts_follow_the_rule_and_flip() {
        let poly = summary(|l| Some(30.0 * l.powf(2.3)));
        let expo = summary(|l| Some(20.0 * (0.5 * l).exp()));
        let pass = WidthCheck {
            seed: 0,
            seq_len: 8,
            width: 512,
            base: Some(1000.0),
            doubled: Some(1100.0),
            tolerance: 0.35,
            passed: Some(true),
        };
        let c = rnn_claims(&poly, Some(&expo), Some(&pass));
        assert_eq!(c[0].verdict, Verdict::Holds, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Holds, "{c:?}");
        // Swapped: the concept looks exponential, the control polynomial.
        let c = rnn_claims(&expo, Some(&poly), Some(&pass));
        assert_eq!(c[0].verdict, Verdict::Fails, "{c:?}");
        assert_eq!(c[1].verdict, Verdict::Fails, "{c:?}");
        // A failed width check blocks `holds`.
        let moved = WidthCheck {
            doubled: Some(4000.0),
            passed: Some(false),
            ..pass
        };
        let c = rnn_claims(&poly, None, Some(&moved));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].verdict, Verdict::Inconclusive, "{c:?}");
        let c = rnn_claims(&ScalingSummary::default(), None, None);
        assert_eq!(c[0].verdict, Verdict::Inconclusive);
    }
}
