//! The gossip experiment's configuration: the logistic-regression and MNIST parts, the sweeps,
//! the transient's measurement settings, the presets and the checks (all through
//! [`sgdlab_engine::check`]).

use super::{ProblemClass, default_topology_sweep};
use crate::Preset;
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::error::Result;
use sgdlab_engine::optim::gossip::{MixingMatrix, TopologyConfig, WeightScheme};

/// The logistic-regression problem and its SGD settings.
#[derive(Config, Debug, PartialEq)]
pub struct GossipLogisticConfig {
    /// Samples held by each node.
    #[config(default = 64)]
    pub samples_per_node: usize,
    /// Features d.
    #[config(default = 20)]
    pub dim: usize,
    /// How different the nodes' ground-truth vectors are (standard deviation of the offsets).
    #[config(default = 8.0)]
    pub heterogeneity: f64,
    /// L2 penalty (reg/2)‖x‖² of the strongly convex class.
    #[config(default = 0.05)]
    pub reg: f64,
    /// Weight λ of the non-convex class's penalty λ·Σu²/(1 + u²), u = x/s. With the default
    /// data the solution's weights are 0.01–0.4 and the log-loss gradient at 0 is 0.0002–0.02
    /// per coordinate, so λ and s are set at that scale: the penalty's steepest slope
    /// 0.65·λ/s is 0.0065 (some weights are held at 0, others leave), and its curvature
    /// reaches −λ/(2s²) = −0.05, well below the log-loss's (report: "How convex each problem
    /// is").
    #[config(default = 0.001)]
    pub nonconvex_reg: f64,
    /// Scale s of the non-convex penalty: its curvature is negative for |x_j| > s/√3.
    #[config(default = 0.1)]
    pub nonconvex_scale: f64,
    /// Mini-batch per node per step.
    #[config(default = 16)]
    pub batch: usize,
    /// Initial step size γ₀.
    #[config(default = 0.5)]
    pub lr: f64,
    /// Step size γ_k = γ₀ · k₀/(k₀ + k) with this k₀ (the decay lets the heterogeneity bias
    /// vanish, so every method eventually matches parallel SGD).
    #[config(default = 100.0)]
    pub lr_decay_steps: f64,
    /// Steps per run: the horizon within which a transient must end.
    #[config(default = 8000)]
    pub steps: usize,
    /// Loss and gradient norm at x̄ are computed every this many steps.
    #[config(default = 10)]
    pub eval_every: usize,
}

/// The MLP-on-MNIST part.
#[derive(Config, Debug, PartialEq)]
pub struct GossipMnistConfig {
    /// Nodes.
    #[config(default = 8)]
    pub nodes: usize,
    /// Training images (from the front of MNIST-10k); the last 2,000 are the test set.
    #[config(default = 8000)]
    pub train_size: usize,
    /// Fraction of each class sent to its home node (class mod n); the rest is spread uniformly.
    #[config(default = 0.8)]
    pub label_skew: f64,
    /// Hidden units.
    #[config(default = 64)]
    pub hidden: usize,
    /// Mini-batch per node per step.
    #[config(default = 32)]
    pub batch: usize,
    /// Step size (constant).
    #[config(default = 0.1)]
    pub lr: f64,
    /// Steps per algorithm.
    #[config(default = 600)]
    pub steps: usize,
    /// Evaluate x̄ every this many steps.
    #[config(default = 25)]
    pub eval_every: usize,
    /// Training images used for the loss and gradient norm at x̄.
    #[config(default = 2000)]
    pub eval_size: usize,
}

/// The full configuration of the gossip experiment.
#[derive(Config, Debug, PartialEq)]
pub struct GossipConfig {
    /// Seed of data, sampling and initial weights.
    #[config(default = 0)]
    pub seed: u64,
    /// Independent mini-batch streams (replicas) of every logistic-regression run. Their error
    /// curves are averaged before the transient stage is taken, so that the transient measures
    /// the expected error the theory bounds rather than one noisy trajectory.
    #[config(default = 16)]
    pub seeds: usize,
    /// The communication graph.
    #[config(default = "TopologyConfig::Ring")]
    pub topology: TopologyConfig,
    /// Edge weights of the mixing matrix.
    #[config(default = "WeightScheme::Uniform")]
    pub weights: WeightScheme,
    /// Nodes of the main logistic-regression run (loss curves, consensus).
    #[config(default = 32)]
    pub nodes: usize,
    /// Averaging period H of Local SGD and Gossip-PGA (and Gossip-AGA's first period).
    #[config(default = 16)]
    pub period: usize,
    /// Largest period Gossip-AGA may adapt to.
    #[config(default = 128)]
    pub aga_max_period: usize,
    /// Node counts of the transient-stage sweep (at period H).
    #[config(default = "vec![8, 16, 32, 64, 128]")]
    pub node_sweep: Vec<usize>,
    /// Periods of the transient-stage sweep (at `nodes` nodes).
    #[config(default = "vec![4, 8, 16, 32]")]
    pub period_sweep: Vec<usize>,
    /// Topologies of the sweep against 1/(1 − β): Gossip SGD runs on each at `gap_nodes` nodes
    /// (with the configured weights), next to parallel SGD, so that β varies at fixed n.
    ///
    /// The default (for 16 nodes) is the ring and the circulant graphs with offsets {1, 2} and
    /// {1, 3}: β = 0.949, 0.852 and 0.723 with uniform weights, 1/(1 − β) = 19.7, 6.8 and 3.6,
    /// chosen by β alone so that the theory's transients spread over a factor of about 50.
    #[config(default = "default_topology_sweep()")]
    pub topology_sweep: Vec<TopologyConfig>,
    /// Nodes of the sweep against 1/(1 − β).
    #[config(default = 16)]
    pub gap_nodes: usize,
    /// Transients of at most this many steps (or at most H for the periodic methods) are not
    /// resolved: the error that early is dominated by the start, so they count as upper bounds.
    #[config(default = 10)]
    pub transient_floor: usize,
    /// The transient stage ends at the first step after which a method's error stays within this
    /// factor of parallel SGD's.
    #[config(default = 1.1)]
    pub transient_factor: f64,
    /// Before the transient is taken, the error at step k is replaced by its mean over the
    /// trailing window [(1 − w)k, k] with this w: a fixed fraction of k, because the SGD
    /// error at step k is correlated over a number of steps proportional to k (γ_k ∝ 1/k).
    #[config(default = 0.25)]
    pub smoothing_window: f64,
    /// The classes of logistic problem whose transients are measured, each with its own
    /// sweeps and claims: `strongly-convex` (L2 penalty, error ‖x̄ − x*‖²) and `non-convex`
    /// (penalty reg·Σu²/(1 + u²), u = x/s, error ‖∇f(x̄)‖²). The loss curves, consensus and
    /// communication plots show the first.
    #[config(default = "vec![ProblemClass::StronglyConvex, ProblemClass::NonConvex]")]
    pub problem_classes: Vec<ProblemClass>,
    /// The logistic-regression problem.
    #[config(default = "GossipLogisticConfig::new()")]
    pub logistic: GossipLogisticConfig,
    /// The MLP on MNIST-10k (`null` to skip).
    #[config(default = "Some(GossipMnistConfig::new())")]
    pub mnist: Option<GossipMnistConfig>,
    /// Simulation steps per `step()` call.
    #[config(default = 200)]
    pub iterations_per_step: usize,
}

impl GossipConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_seeds(8)
                .with_nodes(16)
                .with_period(8)
                .with_node_sweep(vec![8, 16, 32])
                .with_period_sweep(vec![4, 8, 16])
                .with_logistic(GossipLogisticConfig::new().with_steps(1500))
                .with_mnist(Some(
                    GossipMnistConfig::new()
                        .with_train_size(2000)
                        .with_steps(100)
                        .with_hidden(32)
                        .with_eval_every(20)
                        .with_eval_size(500),
                )),
        }
    }

    /// Checks every field (including the topology for every node count used); errors name it.
    pub fn validate(&self) -> Result<()> {
        let l = &self.logistic;
        check::count("nodes", self.nodes, 2, 1024)?;
        check::list_len("problem_classes", self.problem_classes.len(), 1, 2)?;
        if self.problem_classes.len() == 2 && self.problem_classes[0] == self.problem_classes[1] {
            return Err(sgdlab_engine::error::EngineError::config(
                "problem_classes[1]",
                "the same class twice; list each class once",
            ));
        }
        check::count("seeds", self.seeds, 1, 256)?;
        check::count("period", self.period, 1, 100_000)?;
        check::count(
            "aga_max_period",
            self.aga_max_period,
            self.period,
            1_000_000,
        )?;
        check::list_len("node_sweep", self.node_sweep.len(), 0, 64)?;
        check::each("node_sweep", &self.node_sweep, |f, n| {
            check::count(f, n, 2, 1024)
        })?;
        check::list_len("period_sweep", self.period_sweep.len(), 0, 64)?;
        check::each("period_sweep", &self.period_sweep, |f, h| {
            check::count(f, h, 1, 100_000)
        })?;
        check::list_len("topology_sweep", self.topology_sweep.len(), 0, 16)?;
        check::count("gap_nodes", self.gap_nodes, 2, 1024)?;
        check::count("transient_floor", self.transient_floor, 0, 1_000_000)?;
        check::fraction_below_one("smoothing_window", self.smoothing_window)?;
        check::range_open_low("transient_factor", self.transient_factor, 1.0, 100.0)?;
        check::count(
            "logistic.samples_per_node",
            l.samples_per_node,
            1,
            1_000_000,
        )?;
        check::count("logistic.dim", l.dim, 1, 1_000_000)?;
        check::count("logistic.batch", l.batch, 1, l.samples_per_node)?;
        check::count("logistic.steps", l.steps, 1, 10_000_000)?;
        check::count("logistic.eval_every", l.eval_every, 1, 1_000_000)?;
        check::count(
            "iterations_per_step",
            self.iterations_per_step,
            1,
            1_000_000,
        )?;
        check::range_open_low("logistic.lr", l.lr, 0.0, 100.0)?;
        check::non_negative("logistic.reg", l.reg)?;
        check::positive("logistic.nonconvex_scale", l.nonconvex_scale)?;
        check::non_negative("logistic.nonconvex_reg", l.nonconvex_reg)?;
        check::non_negative("logistic.heterogeneity", l.heterogeneity)?;
        check::positive("logistic.lr_decay_steps", l.lr_decay_steps)?;
        let mut counts: Vec<usize> = self.node_sweep.clone();
        counts.push(self.nodes);
        if let Some(m) = &self.mnist {
            check::count("mnist.nodes", m.nodes, 2, 1024)?;
            check::count("mnist.train_size", m.train_size, m.nodes, 8000)?;
            check::count("mnist.hidden", m.hidden, 1, 4096)?;
            check::count("mnist.batch", m.batch, 1, 4096)?;
            check::count("mnist.steps", m.steps, 1, 1_000_000)?;
            check::count("mnist.eval_every", m.eval_every, 1, 1_000_000)?;
            check::count("mnist.eval_size", m.eval_size, 1, m.train_size)?;
            check::range_open_low("mnist.lr", m.lr, 0.0, 100.0)?;
            check::fraction("mnist.label_skew", m.label_skew)?;
            counts.push(m.nodes);
        }
        counts.sort_unstable();
        counts.dedup();
        for n in counts {
            MixingMatrix::build(&self.topology, self.weights, n, "topology")?;
        }
        for (i, t) in self.topology_sweep.iter().enumerate() {
            MixingMatrix::build(
                t,
                self.weights,
                self.gap_nodes,
                &format!("topology_sweep[{i}]"),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_name_the_field() {
        let c = GossipConfig::new().with_period(0);
        assert!(c.validate().unwrap_err().to_string().contains("`period`"));
        let c = GossipConfig::new().with_nodes(1);
        assert!(c.validate().unwrap_err().to_string().contains("`nodes`"));
        let c = GossipConfig::new().with_mnist(Some(
            GossipMnistConfig::new().with_nodes(20).with_train_size(10),
        ));
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("`mnist.train_size`: expected a whole number in [20, 8000], found 10"),
            "{e}"
        );
        let c = GossipConfig::new().with_topology_sweep(vec![TopologyConfig::OnePeerExponential]);
        let e = c.with_gap_nodes(12).validate().unwrap_err().to_string();
        assert!(e.contains("topology_sweep[0]"), "{e}");
        let c = GossipConfig::new().with_smoothing_window(1.0);
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("config field `smoothing_window`: expected a fraction"),
            "{e}"
        );
    }
}
