//! The transients of the finished runs and the sweeps they form: each run's transient stage
//! against parallel SGD (on all seeds and on each half), the points of the sweeps against n,
//! 1/(1 − β) and H, and their fitted exponents.

use super::transient::transient_stage;
use super::{ExponentFit, Gossip, ProblemClass, RunKey, TransientPoint, topology_label};
use sgdlab_engine::optim::gossip::Algorithm;
use std::collections::BTreeMap;

impl Gossip {
    /// The parallel-SGD run a run's transient is measured against (same n, same streams).
    pub(super) fn parallel_key(&self, k: &RunKey) -> RunKey {
        RunKey {
            algorithm: Algorithm::ParallelSgd,
            period: self.config.period,
            topology: None,
            ..k.clone()
        }
    }

    pub(super) fn transient_of(&self, k: &RunKey) -> Option<Option<u64>> {
        let curve = self.curves.get(k)?;
        let par = self.curves.get(&self.parallel_key(k))?;
        Some(transient_stage(curve, par, self.config.transient_factor))
    }

    /// The transient measured on the even and on the odd replicas separately (empty with one
    /// seed), and the smoothed error's ratio to parallel SGD's at the last step.
    pub(super) fn transient_check(&self, k: &RunKey) -> Option<(Vec<Option<u64>>, f64)> {
        let par_key = self.parallel_key(k);
        let curve = self.curves.get(k)?;
        let par = self.curves.get(&par_key)?;
        let ratio = match (curve.last(), par.last()) {
            (Some(a), Some(b)) => a / b,
            _ => f64::NAN,
        };
        let halves = match (self.half_curves.get(k), self.half_curves.get(&par_key)) {
            (Some(c), Some(p)) => (0..2)
                .map(|i| transient_stage(&c[i], &p[i], self.config.transient_factor))
                .collect(),
            _ => Vec::new(),
        };
        Some((halves, ratio))
    }

    /// The transient of run `k` as a point of a sweep at `x` (`None` until it has run).
    pub(super) fn point(&self, k: &RunKey, x: f64, label: String) -> Option<TransientPoint> {
        let steps = self.transient_of(k)?;
        let (halves, _) = self.transient_check(k)?;
        let periodic = !matches!(k.algorithm, Algorithm::ParallelSgd | Algorithm::GossipSgd);
        let floor = if periodic {
            k.period.max(self.config.transient_floor)
        } else {
            self.config.transient_floor
        };
        Some(TransientPoint {
            x,
            label,
            steps,
            halves,
            floor: floor as u64,
            horizon: self.config.logistic.steps as u64,
            theory: k.class.theory(
                k.algorithm.name(),
                k.nodes as f64,
                self.beta_of(k),
                k.period as f64,
            ),
        })
    }

    /// The sweeps of the claims as points, in sweep order (only the runs done so far), class
    /// by class.
    pub(super) fn sweeps(&self) -> Vec<ExponentFit> {
        self.config
            .problem_classes
            .iter()
            .flat_map(|&class| self.sweeps_of(class))
            .collect()
    }

    fn sweeps_of(&self, class: ProblemClass) -> Vec<ExponentFit> {
        let c = &self.config;
        let key = |nodes, period, algorithm| RunKey::logistic(class, nodes, period, algorithm);
        let by_n = |a: Algorithm| -> Vec<TransientPoint> {
            c.node_sweep
                .iter()
                .filter_map(|&n| self.point(&key(n, c.period, a), n as f64, format!("n = {n}")))
                .collect()
        };
        let by_h = |a: Algorithm| -> Vec<TransientPoint> {
            c.period_sweep
                .iter()
                .filter_map(|&h| self.point(&key(c.nodes, h, a), h as f64, format!("H = {h}")))
                .collect()
        };
        let by_gap: Vec<TransientPoint> = (0..c.topology_sweep.len())
            .filter_map(|i| {
                let k = RunKey {
                    topology: Some(i),
                    ..key(c.gap_nodes, c.period, Algorithm::GossipSgd)
                };
                let beta = self.beta_of(&k);
                self.point(
                    &k,
                    1.0 / (1.0 - beta),
                    format!("{} (β = {beta:.3})", topology_label(&c.topology_sweep[i])),
                )
            })
            .collect();
        vec![
            ExponentFit::fit("gossip-sgd", "n", by_n(Algorithm::GossipSgd)),
            ExponentFit::fit("gossip-sgd", "1/(1−β)", by_gap),
            ExponentFit::fit("gossip-pga", "n", by_n(Algorithm::GossipPga)),
            ExponentFit::fit("local-sgd", "H", by_h(Algorithm::LocalSgd)),
            ExponentFit::fit("gossip-pga", "H", by_h(Algorithm::GossipPga)),
        ]
        .into_iter()
        .map(|f| f.on(class))
        .collect()
    }

    pub(super) fn update_transients(&mut self) {
        let h = self.config.period;
        let mut by_n: BTreeMap<String, Vec<(usize, Option<u64>)>> = BTreeMap::new();
        let mut by_h: BTreeMap<String, Vec<(usize, Option<u64>)>> = BTreeMap::new();
        for &class in &self.config.problem_classes {
            for a in Algorithm::ALL {
                let series = sweep_series(class, a);
                for &n in &self.config.node_sweep {
                    let k = RunKey::logistic(class, n, h, a);
                    if let Some(t) = self.transient_of(&k) {
                        by_n.entry(series.clone()).or_default().push((n, t));
                    }
                }
                for &p in &self.config.period_sweep {
                    // Parallel and Gossip SGD do not depend on H: their run is the one at H.
                    let period = if matches!(a, Algorithm::ParallelSgd | Algorithm::GossipSgd) {
                        h
                    } else {
                        p
                    };
                    let k = RunKey::logistic(class, self.config.nodes, period, a);
                    if let Some(t) = self.transient_of(&k) {
                        by_h.entry(series.clone()).or_default().push((p, t));
                    }
                }
            }
        }
        type Checked = (Option<u64>, Vec<Option<u64>>, f64);
        let transients: Vec<Option<Checked>> = self
            .results
            .runs
            .iter()
            .map(|r| {
                let a = Algorithm::ALL
                    .into_iter()
                    .find(|a| a.name() == r.algorithm)?;
                let class = ProblemClass::of_problem(&r.problem)?;
                let key = RunKey {
                    topology: r.topology_index,
                    ..RunKey::logistic(class, r.nodes, r.period, a)
                };
                let t = self.transient_of(&key)?;
                let (halves, ratio) = self.transient_check(&key)?;
                Some((t, halves, ratio))
            })
            .collect();
        for (r, t) in self.results.runs.iter_mut().zip(transients) {
            if let Some((t, halves, ratio)) = t {
                r.transient = t;
                r.transient_halves = halves;
                r.final_ratio_to_parallel = ratio;
            }
        }
        self.results.fits = self.sweeps();
        self.results.transient_vs_nodes = by_n;
        self.results.transient_vs_period = by_h;
    }
}

/// The key of an algorithm's sweep in `transient_vs_nodes`/`transient_vs_period`: its name for
/// the strongly convex class, `name (non-convex)` for the other.
pub(super) fn sweep_series(class: ProblemClass, a: Algorithm) -> String {
    match class {
        ProblemClass::StronglyConvex => a.name().into(),
        _ => format!("{} ({})", a.name(), class.name()),
    }
}
