//! The gossip experiment's claims: fitted growth exponents of the transient stage against n,
//! 1/(1 − β) and H compared with the theory for the problem class that was run, and two
//! comparisons (Gossip-PGA matches parallel SGD; it is never slower than Gossip SGD).
//!
//! Theory (transient stage in iterations, up to constants), with D = min(H, 1/(1 − β)):
//! - non-convex (Chen, Yuan, Zhang, Pan, Xu, Yin, ICML 2021, Table 1, heterogeneous data):
//!   Gossip SGD β⁴n³/(1−β)⁴, Gossip-PGA β⁴n³D⁴, Local SGD n³H⁴;
//! - strongly convex (the same orders with exponents (1, 2) in place of (3, 4): Gossip SGD
//!   β²n/(1−β)², Gossip-PGA β²nD², Local SGD nH², as in the strongly convex rows of the
//!   decentralized-SGD analyses this paper builds on, e.g. Koloskova et al., ICML 2020, Thm 2).
//!
//! Every claim works on any topology: the theory's exponent is not a constant but the slope of
//! ln(theory) against ln x over the swept points, computed from the β of the topology that was
//! run (on a ring 1/(1 − β) ∝ n², on a complete graph β = 0 and nothing grows).
//!
//! Uncertainty comes from seed halves: the exponent is fitted on all seeds and on each half, and
//! a claim holds only when all three lie in the band, fails only when all three lie outside it.
//! Censored transients (beyond the horizon, or not resolved below the period) are bounds: an
//! exponent that needs one is not computed and its claim is `inconclusive`.

use super::Gossip;
use super::transient::{Censored, ExponentFit, TransientPoint};
use crate::{Claim, Verdict};
use serde::{Deserialize, Serialize};
use sgdlab_engine::optim::gossip::Regularizer;

/// The class of the problem whose transients are measured, which fixes the theory's orders.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemClass {
    /// L2-regularized logistic regression; its transients are measured on ‖x̄ − x*‖².
    #[default]
    StronglyConvex,
    /// Logistic regression with the non-convex penalty reg·Σu²/(1 + u²), u = x/s; its transients are
    /// measured on ‖∇f(x̄)‖², the quantity the non-convex theory bounds.
    NonConvex,
}

impl ProblemClass {
    /// `strongly convex` or `non-convex`.
    pub fn name(self) -> &'static str {
        match self {
            Self::StronglyConvex => "strongly convex",
            Self::NonConvex => "non-convex",
        }
    }

    /// The `problem` of its runs in results.json and metrics.csv.
    pub fn problem(self) -> &'static str {
        match self {
            Self::StronglyConvex => "logistic",
            Self::NonConvex => "logistic-nonconvex",
        }
    }

    /// The class whose runs have `problem` (`None` for MNIST).
    pub fn of_problem(problem: &str) -> Option<Self> {
        [Self::StronglyConvex, Self::NonConvex]
            .into_iter()
            .find(|c| c.problem() == problem)
    }

    /// Appended to claim ids and sweep labels: empty for the strongly convex class.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::StronglyConvex => "",
            Self::NonConvex => "-nonconvex",
        }
    }

    /// The penalty that makes a logistic problem of this class.
    pub fn regularizer(self) -> Regularizer {
        match self {
            Self::StronglyConvex => Regularizer::L2,
            Self::NonConvex => Regularizer::NonConvex,
        }
    }

    /// The error whose transient is measured, for axes and reports.
    pub fn error_name(self) -> &'static str {
        match self {
            Self::StronglyConvex => "‖x̄ − x*‖²",
            Self::NonConvex => "‖∇f(x̄)‖²",
        }
    }

    /// The exponents (of n, of the topology term) in the theory's transient stage.
    pub fn exponents(self) -> (i32, i32) {
        match self {
            Self::StronglyConvex => (1, 2),
            Self::NonConvex => (3, 4),
        }
    }

    /// The theory's transient stage of `algorithm` (up to a constant) at n nodes, β and period
    /// H; 0 where the theory predicts none (parallel SGD; β = 0 for the gossip methods).
    pub fn theory(self, algorithm: &str, n: f64, beta: f64, period: f64) -> f64 {
        let (a, b) = self.exponents();
        let gap = 1.0 / (1.0 - beta);
        match algorithm {
            "gossip-sgd" => n.powi(a) * (beta * gap).powi(b),
            "gossip-pga" | "gossip-aga" => n.powi(a) * (beta * period.min(gap)).powi(b),
            "local-sgd" => n.powi(a) * period.powi(b),
            _ => 0.0,
        }
    }

    /// The theory's formula, for reports.
    pub fn formula(self, algorithm: &str) -> String {
        let (a, b) = self.exponents();
        let (bp, np) = (sup(b), sup(a));
        match algorithm {
            "gossip-sgd" => format!("β{bp}n{np}/(1−β){bp}"),
            "gossip-pga" | "gossip-aga" => format!("β{bp}n{np}·min(H, 1/(1−β)){bp}"),
            "local-sgd" => format!("n{np}H{bp}"),
            _ => "none".into(),
        }
    }
}

fn sup(k: i32) -> &'static str {
    match k {
        1 => "",
        2 => "²",
        3 => "³",
        4 => "⁴",
        _ => "^k",
    }
}

/// An exponent claim holds when all three fitted exponents (all seeds, each half) lie within
/// this fraction of the theory's exponent (at least [`EXPONENT_MIN_BAND`] either side).
pub const EXPONENT_MARGIN: f64 = 0.5;

/// The least half-width of an exponent claim's band (the theory's exponent can be near 0, e.g.
/// Gossip-PGA against H once H > 1/(1 − β)).
pub const EXPONENT_MIN_BAND: f64 = 0.5;

/// "Gossip-PGA not slower than Gossip SGD" allows Gossip-PGA this factor of Gossip SGD's
/// transient (and fails only beyond it): on a well-connected graph the two are nearly the same
/// algorithm and their transients differ by seed noise.
pub const NOT_SLOWER_MARGIN: f64 = 1.25;

/// The band an exponent must lie in: theory ± max(margin·|theory|, min band).
pub fn exponent_band(theory: f64) -> (f64, f64) {
    let w = (EXPONENT_MARGIN * theory.abs()).max(EXPONENT_MIN_BAND);
    (theory - w, theory + w)
}

/// The claim that `fit`'s exponent matches the theory's for `class`.
pub fn exponent_claim(
    id: &str,
    what: &str,
    class: ProblemClass,
    fit: Option<&ExponentFit>,
) -> Claim {
    let statement = format!(
        "{what}: its transient stage grows like the theory for {} problems predicts on this \
         topology ({}).",
        class.name(),
        fit.map_or("—".into(), |f| class.formula(&f.algorithm)),
    );
    let claim = Claim::new(
        id,
        &statement,
        format!(
            "least-squares slope of ln(transient) on ln x, on all seeds and on each half; holds \
             when all three lie within the theory's slope ± max({EXPONENT_MARGIN}·|slope|, \
             {EXPONENT_MIN_BAND}), fails when all three lie outside it; inconclusive when a \
             transient is censored (beyond the horizon or below its floor) or the range \
             straddles the band"
        ),
    );
    let Some(fit) = fit else {
        return claim.not_measured("the sweep has not run");
    };
    let Some(theory) = fit.theory_exponent else {
        return claim.decide(
            fit.show_points(),
            Verdict::Inconclusive,
            "the theory predicts no growth over these points (β = 0, or fewer than two points)",
        );
    };
    let (lo_band, hi_band) = exponent_band(theory);
    let head = format!(
        "vs {}: {}; theory slope {theory:.2} (band [{lo_band:.2}, {hi_band:.2}])",
        fit.against,
        fit.show_points()
    );
    let Some(e) = fit.exponent else {
        return claim.decide(head, Verdict::Inconclusive, fit.missing.clone());
    };
    let Some((lo, hi)) = fit.half_seed_range() else {
        return claim.decide(
            format!("{head}; fitted slope {e:.2}, no half-seed range"),
            Verdict::Inconclusive,
            "no half-seed range: needs two or more seeds and every half's transient measured",
        );
    };
    let measured = format!("{head}; fitted slope {e:.2} (half-seed range [{lo:.2}, {hi:.2}])");
    if lo >= lo_band && hi <= hi_band {
        claim.decide(
            measured,
            Verdict::Holds,
            "the half-seed range lies in the band",
        )
    } else if hi < lo_band || lo > hi_band {
        claim.decide(
            measured,
            Verdict::Fails,
            format!(
                "the half-seed range lies {} the band",
                if hi < lo_band { "below" } else { "above" }
            ),
        )
    } else {
        claim.decide(
            measured,
            Verdict::Inconclusive,
            "the half-seed range straddles the band's edge",
        )
    }
}

/// The claim that Gossip-PGA reaches parallel SGD's error within the horizon at every point.
pub fn pga_matches_claim(pga: &[TransientPoint]) -> Claim {
    let claim = Claim::new(
        "pga-matches-parallel",
        "Gossip-PGA reaches parallel SGD's error (linear speedup) within the horizon at every n \
         of the sweep.",
        "holds when Gossip-PGA's transient is within the horizon at every n on all seeds and on \
         each half; fails when the all-seed transient is beyond the horizon at some n (a lower \
         bound above the horizon is enough); inconclusive when only a half is beyond it",
    );
    if pga.is_empty() {
        return claim.not_measured("the node sweep has not run");
    }
    let shown = pga
        .iter()
        .map(|p| format!("{}: {}", p.label, p.show_with_halves()))
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(p) = pga.iter().find(|p| p.steps.is_none()) {
        return claim.decide(
            shown,
            Verdict::Fails,
            format!("beyond the horizon at {}", p.label),
        );
    }
    if let Some(p) = pga
        .iter()
        .find(|p| p.halves.len() != 2 || p.halves.iter().any(Option::is_none))
    {
        return claim.decide(
            shown,
            Verdict::Inconclusive,
            format!(
                "a seed half is beyond the horizon (or missing) at {}",
                p.label
            ),
        );
    }
    claim.decide(
        shown,
        Verdict::Holds,
        "within the horizon at every n, on all seeds and each half",
    )
}

/// The bounds [lo, hi] a censored transient allows.
fn bounds(c: Censored) -> (f64, f64) {
    match c {
        Censored::Value(v) => (v, v),
        Censored::AtLeast(v) => (v, f64::INFINITY),
        Censored::AtMost(v) => (0.0, v),
    }
}

/// Whether `p ≤ margin·g` is certain (`Some(true)`), certainly false (`Some(false)`), or not
/// decided by the bounds (`None`).
fn not_slower(p: Censored, g: Censored) -> Option<bool> {
    let (p_lo, p_hi) = bounds(p);
    let (g_lo, g_hi) = bounds(g);
    if p_hi <= NOT_SLOWER_MARGIN * g_lo {
        Some(true)
    } else if p_lo > NOT_SLOWER_MARGIN * g_hi {
        Some(false)
    } else {
        None
    }
}

/// The claim that Gossip-PGA is never slower than Gossip SGD (D = min(H, 1/(1 − β)) ≤ 1/(1 − β)).
pub fn pga_not_slower_claim(gossip: &[TransientPoint], pga: &[TransientPoint]) -> Claim {
    let claim = Claim::new(
        "pga-not-slower-than-gossip",
        "At every n, Gossip-PGA's transient stage is no longer than Gossip SGD's (its topology \
         term min(H, 1/(1−β)) never exceeds 1/(1−β)).",
        format!(
            "at each n, on all seeds and on each half, Gossip-PGA's transient ≤ \
             {NOT_SLOWER_MARGIN}× Gossip SGD's, decided on the bounds censored values allow; \
             holds when that is certain everywhere, fails when its opposite is certain at some n \
             on all seeds and both halves, inconclusive otherwise"
        ),
    );
    if gossip.is_empty() || gossip.len() != pga.len() {
        return claim.not_measured("the node sweep has not run for both algorithms");
    }
    let shown = gossip
        .iter()
        .zip(pga)
        .map(|(g, p)| {
            format!(
                "{}: PGA {} vs gossip {}",
                g.label,
                p.show_with_halves(),
                g.show_with_halves()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut all_true = true;
    for (g, p) in gossip.iter().zip(pga) {
        let mut pairs = vec![(p.censoring(p.steps), g.censoring(g.steps))];
        if p.halves.len() == 2 && g.halves.len() == 2 {
            for h in 0..2 {
                pairs.push((p.censoring(p.halves[h]), g.censoring(g.halves[h])));
            }
        }
        let results: Vec<Option<bool>> = pairs.iter().map(|&(a, b)| not_slower(a, b)).collect();
        if pairs.len() == 3 && results.iter().all(|r| *r == Some(false)) {
            return claim.decide(
                shown,
                Verdict::Fails,
                format!(
                    "at {} Gossip-PGA is slower than {NOT_SLOWER_MARGIN}× Gossip SGD on all seeds \
                     and both halves",
                    g.label
                ),
            );
        }
        all_true &= pairs.len() == 3 && results.iter().all(|r| *r == Some(true));
    }
    if all_true {
        claim.decide(
            shown,
            Verdict::Holds,
            "certain at every n, on all seeds and both halves",
        )
    } else {
        claim.decide(
            shown,
            Verdict::Inconclusive,
            "at some n the halves disagree or censored values leave the order open",
        )
    }
}

impl Gossip {
    /// The claims on the transients measured so far ([`claims`]): the fitted exponents against
    /// n, 1/(1 − β) and H, then the two comparisons on the node sweep. Gossip-AGA is left out:
    /// its period rule is a heuristic (see [`sgdlab_engine::optim::gossip`]).
    pub(super) fn claims_so_far(&self) -> Vec<Claim> {
        self.config
            .problem_classes
            .iter()
            .flat_map(|&class| self.claims_of(class))
            .collect()
    }

    /// The seven claims of one problem class (ids carry [`ProblemClass::suffix`]).
    fn claims_of(&self, class: ProblemClass) -> Vec<Claim> {
        let fit = |alg: &str, against: &str| {
            self.results
                .fits
                .iter()
                .find(|f| f.problem_class == class && f.algorithm == alg && f.against == against)
        };
        let pts = |alg: &str| fit(alg, "n").map_or(Vec::new(), |f| f.points.clone());
        let suffix = class.suffix();
        let exponent = |id: &str, what: &str, alg: &str, against: &str| {
            exponent_claim(&format!("{id}{suffix}"), what, class, fit(alg, against))
        };
        let mut comparisons = vec![
            pga_matches_claim(&pts("gossip-pga")),
            pga_not_slower_claim(&pts("gossip-sgd"), &pts("gossip-pga")),
        ];
        for c in &mut comparisons {
            c.id.push_str(suffix);
            let stem = c.statement.trim_end_matches('.').to_string();
            c.statement = format!("{stem} ({} problem).", class.name());
        }
        let mut claims = vec![
            exponent(
                "gossip-exponent-n",
                "Gossip SGD against n at fixed topology",
                "gossip-sgd",
                "n",
            ),
            exponent(
                "gossip-exponent-gap",
                "Gossip SGD against 1/(1−β) at fixed n (topologies vary β)",
                "gossip-sgd",
                "1/(1−β)",
            ),
            exponent(
                "pga-exponent-n",
                "Gossip-PGA against n at fixed H",
                "gossip-pga",
                "n",
            ),
            exponent(
                "local-exponent-h",
                "Local SGD against the averaging period H",
                "local-sgd",
                "H",
            ),
            exponent(
                "pga-exponent-h",
                "Gossip-PGA against the averaging period H",
                "gossip-pga",
                "H",
            ),
        ];
        claims.extend(comparisons);
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sweep with transients c·x^k (halves ×(1 ∓ spread)), theory x^t.
    fn sweep(xs: &[f64], c: f64, k: f64, spread: f64, t: f64) -> Vec<TransientPoint> {
        xs.iter()
            .map(|&x| {
                let v = c * x.powf(k);
                let s = if x == xs[0] { 0.0 } else { spread };
                TransientPoint {
                    x,
                    label: format!("n = {x}"),
                    steps: Some(v as u64),
                    halves: vec![Some((v * (1.0 - s)) as u64), Some((v * (1.0 + s)) as u64)],
                    floor: 8,
                    horizon: 100_000,
                    theory: x.powf(t),
                }
            })
            .collect()
    }

    fn verdict(pts: Vec<TransientPoint>) -> Claim {
        let f = ExponentFit::fit("gossip-sgd", "n", pts);
        exponent_claim("x", "Gossip SGD", ProblemClass::StronglyConvex, Some(&f))
    }

    #[test]
    fn exponent_claim_holds_fails_and_straddles() {
        let xs = [8.0, 16.0, 32.0];
        // Slope 2 against theory 2: holds.
        let c = verdict(sweep(&xs, 2.0, 2.0, 0.05, 2.0));
        assert_eq!(c.verdict, Verdict::Holds, "{c:?}");
        // Flat transients against theory 2 (band [1, 3]): fails.
        let c = verdict(sweep(&xs, 200.0, 0.0, 0.05, 2.0));
        assert_eq!(c.verdict, Verdict::Fails, "{c:?}");
        assert!(c.reason.contains("below"), "{c:?}");
        // Slope 5 against theory 2: fails above.
        let c = verdict(sweep(&xs, 0.01, 5.0, 0.05, 2.0));
        assert_eq!(c.verdict, Verdict::Fails, "{c:?}");
        assert!(c.reason.contains("above"), "{c:?}");
        // Slope 3 with halves spread ±40%: the range straddles 3.
        let c = verdict(sweep(&xs, 0.5, 3.0, 0.4, 2.0));
        assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
        assert!(c.reason.contains("straddles"), "{c:?}");
    }

    #[test]
    fn a_censored_point_makes_the_exponent_claim_inconclusive() {
        // The sweep that holds above, with its largest point beyond the horizon.
        let mut pts = sweep(&[8.0, 16.0, 32.0], 2.0, 2.0, 0.05, 2.0);
        pts[2].steps = None;
        let c = verdict(pts);
        assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
        assert!(c.reason.contains("censored") && c.reason.contains("> 100000"));
        // β = 0 everywhere: no theory slope.
        let pts = sweep(&[8.0, 16.0], 2.0, 2.0, 0.05, 0.0)
            .into_iter()
            .map(|p| TransientPoint { theory: 0.0, ..p })
            .collect();
        assert_eq!(verdict(pts).verdict, Verdict::Inconclusive);
        // One seed: no halves, no range.
        let pts = sweep(&[8.0, 16.0, 32.0], 2.0, 2.0, 0.0, 2.0)
            .into_iter()
            .map(|p| TransientPoint {
                halves: vec![],
                ..p
            })
            .collect();
        let c = verdict(pts);
        assert_eq!(c.verdict, Verdict::Inconclusive);
        assert!(c.reason.contains("half-seed"), "{c:?}");
    }

    #[test]
    fn theory_slopes_follow_the_topology() {
        let class = ProblemClass::StronglyConvex;
        // Ring, uniform weights: β = (1 + 2cos(2π/n))/3, so 1/(1−β) grows like n².
        let ring = |n: f64| (1.0 + 2.0 * (2.0 * std::f64::consts::PI / n).cos()) / 3.0;
        let ln_t = |n: f64| class.theory("gossip-sgd", n, ring(n), 8.0).ln();
        let s = (ln_t(128.0) - ln_t(64.0)) / 2f64.ln();
        assert!((s - 5.0).abs() < 0.1, "ring slope {s}");
        // Local SGD: H², whatever the topology; PGA flat in H once H > 1/(1 − β).
        let l =
            class.theory("local-sgd", 16.0, 0.5, 8.0) / class.theory("local-sgd", 16.0, 0.5, 4.0);
        assert!((l - 4.0).abs() < 1e-9);
        let p =
            class.theory("gossip-pga", 16.0, 0.5, 8.0) / class.theory("gossip-pga", 16.0, 0.5, 4.0);
        assert!((p - 1.0).abs() < 1e-9);
        assert_eq!(class.theory("gossip-sgd", 16.0, 0.0, 8.0), 0.0);
        let nc = ProblemClass::NonConvex;
        assert!((nc.theory("local-sgd", 2.0, 0.5, 2.0) - 8.0 * 16.0).abs() < 1e-9);
    }

    fn pts(values: &[(Option<u64>, [Option<u64>; 2])], floor: u64) -> Vec<TransientPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &(steps, halves))| TransientPoint {
                x: (8 << i) as f64,
                label: format!("n = {}", 8 << i),
                steps,
                halves: halves.to_vec(),
                floor,
                horizon: 1500,
                theory: 1.0,
            })
            .collect()
    }

    #[test]
    fn pga_matches_holds_fails_and_is_inconclusive() {
        let good = pts(
            &[
                (Some(50), [Some(40), Some(60)]),
                (Some(300), [Some(250), Some(400)]),
            ],
            8,
        );
        assert_eq!(pga_matches_claim(&good).verdict, Verdict::Holds);
        let late = pts(
            &[(Some(50), [Some(40), Some(60)]), (None, [None, Some(900)])],
            8,
        );
        assert_eq!(pga_matches_claim(&late).verdict, Verdict::Fails);
        let half = pts(
            &[
                (Some(50), [Some(40), Some(60)]),
                (Some(1400), [None, Some(900)]),
            ],
            8,
        );
        assert_eq!(pga_matches_claim(&half).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn pga_not_slower_uses_bounds_not_infinities() {
        // Gossip beyond the horizon, PGA measured: certain, holds.
        let g = pts(
            &[(Some(100), [Some(90), Some(120)]), (None, [None, None])],
            1,
        );
        let p = pts(
            &[
                (Some(80), [Some(70), Some(110)]),
                (Some(400), [Some(300), Some(500)]),
            ],
            8,
        );
        assert_eq!(pga_not_slower_claim(&g, &p).verdict, Verdict::Holds);
        // Both beyond the horizon at n = 16: the order is open.
        let p2 = pts(
            &[(Some(80), [Some(70), Some(110)]), (None, [None, None])],
            8,
        );
        let c = pga_not_slower_claim(&g, &p2);
        assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
        // PGA twice as slow as Gossip SGD on all seeds and both halves: fails.
        let slow = pts(
            &[
                (Some(200), [Some(180), Some(240)]),
                (Some(400), [Some(300), Some(500)]),
            ],
            8,
        );
        let c = pga_not_slower_claim(&g, &slow);
        assert_eq!(c.verdict, Verdict::Fails, "{c:?}");
        // PGA below its floor (≤ H) against a measured Gossip SGD: certain.
        let fast = pts(
            &[
                (Some(5), [Some(6), Some(4)]),
                (Some(400), [Some(300), Some(500)]),
            ],
            8,
        );
        assert_eq!(pga_not_slower_claim(&g, &fast).verdict, Verdict::Holds);
    }
}
