//! The configuration of the smoothing experiment's network check (Kleinberg, Li, Yuan 2018,
//! section 6): the data, the network, SGD's η and batch size, the points probed, the Monte
//! Carlo draws, the reference point x* and the independent runs (`seeds`).

use crate::{DataSplitConfig, MemoryEstimate, classifier_memory, dataset_size};
use burn::config::Config;
use serde::{Deserialize, Serialize};
use sgdlab_engine::check;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{MlpConfig, NetworkConfig};

/// The reference point `x*` the one-point convexity is measured toward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferencePoint {
    /// The end point of an independent SGD run: other initial weights and other batch order
    /// (both from `reference_seed`), same data, network, η, batch size and epochs.
    #[default]
    Independent,
    /// The end point of an SGD run from the same initial weights with another batch order
    /// (from `reference_seed`).
    SharedInit,
    /// Rigged, for tests: `2x_0 − x_T`, the run's own end point reflected through its start,
    /// a target opposite to where SGD went. The claim must come out `fails` toward it.
    Opposite,
}

impl ReferencePoint {
    /// A phrase for reports, for the run whose reference seed is `seed`.
    pub fn describe(self, seed: u64) -> String {
        self.describe_seed(&seed.to_string())
    }

    /// A phrase for reports on all runs: run i's reference seed is `first + i`.
    pub fn describe_runs(self, first: u64) -> String {
        self.describe_seed(&format!("{first} + i"))
    }

    fn describe_seed(self, seed: &str) -> String {
        match self {
            Self::Independent => format!(
                "the end point of an independent SGD run (initial weights and batch order from \
                 seed {seed})"
            ),
            Self::SharedInit => format!(
                "the end point of an SGD run from the same initial weights with the batch order \
                 of seed {seed}"
            ),
            Self::Opposite => "2x_0 − x_T (rigged: the run's own end point reflected through \
                               its start, opposite to the descent)"
                .into(),
        }
    }
}

/// The configuration of the network check of `sgdlab run smoothing`.
#[derive(Config, Debug, PartialEq)]
pub struct OnePointConfig {
    /// The data and its split.
    #[config(default = "DataSplitConfig::new()")]
    pub data: DataSplitConfig,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256]))")]
    pub network: NetworkConfig,
    /// Seed of the weights, the batch order and the Monte Carlo draws of the first checked run;
    /// run `i` uses `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Independent runs: run `i` trains from seed `seed + i` toward the end point of a reference
    /// run of seed `reference_seed + i`. The claim is decided over runs, so that it speaks to
    /// run-to-run variation and not only to the points of one trajectory.
    #[config(default = 5)]
    pub seeds: usize,
    /// SGD's learning rate η (also the scale of the smoothing: the noise is ηω).
    #[config(default = 0.05)]
    pub lr: f64,
    /// Mini-batch size (also of the mini-batches whose noise smooths the loss).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Epochs of the checked run and of the reference run.
    #[config(default = 20)]
    pub epochs: usize,
    /// Evenly spaced points of the trajectory probed per epoch (plus `x_0`).
    #[config(default = 2)]
    pub points_per_epoch: usize,
    /// Training examples the loss L and its gradient are computed on (the first ones).
    #[config(default = 2000)]
    pub probe_size: usize,
    /// Monte Carlo draws of the mini-batch noise ω per point for `∇g = E ∇L(x − ηω)`.
    #[config(default = 16)]
    pub smoothing_samples: usize,
    /// The target x*.
    #[config(default = "ReferencePoint::Independent")]
    pub reference: ReferencePoint,
    /// Seed of the first reference run; run `i` uses `reference_seed + i`. The two ranges
    /// `seed..seed + seeds` and `reference_seed..reference_seed + seeds` must not overlap
    /// (unless the reference is `opposite`, which trains no reference run).
    #[config(default = 1000)]
    pub reference_seed: u64,
    /// Mini-batches per `step()` call.
    #[config(default = 25)]
    pub steps_per_call: usize,
}

impl OnePointConfig {
    /// The peak-memory estimate of the network check: two models, the trajectory's points and
    /// the Monte Carlo gradients of one point.
    pub fn memory(&self) -> MemoryEstimate {
        classifier_memory(
            &self.network,
            "network",
            dataset_size(&self.data.dataset, self.data.train_size),
            self.batch_size.max(self.probe_size) as u64,
            "batch_size",
            (self.epochs * self.points_per_epoch + self.smoothing_samples + 4) as u64,
        )
    }

    /// A small version for tests and a first look.
    pub fn quick() -> Self {
        Self::new()
            .with_data(DataSplitConfig::new().with_train_size(1000))
            .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![64])))
            .with_epochs(5)
            .with_points_per_epoch(4)
            .with_probe_size(500)
            .with_smoothing_samples(8)
            .with_seeds(3)
    }

    /// The config of run `i` alone: seeds `seed + i` and `reference_seed + i`, one run.
    pub fn for_run(&self, i: usize) -> Self {
        let i = i as u64;
        self.clone()
            .with_seed(self.seed.wrapping_add(i))
            .with_reference_seed(self.reference_seed.wrapping_add(i))
            .with_seeds(1)
    }

    /// Points probed: `points_per_epoch` per epoch, plus `x_0`.
    pub fn points(&self) -> usize {
        self.epochs * self.points_per_epoch + 1
    }

    /// Checks every field; `field` is this config's path. Errors name the field and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let f = |name: &str| format!("{field}.{name}");
        self.data.validate(&f("data"))?;
        for (name, v, lo, hi) in [
            ("batch_size", self.batch_size, 1, 65_536),
            ("epochs", self.epochs, 1, 10_000),
            ("points_per_epoch", self.points_per_epoch, 1, 1_000),
            ("probe_size", self.probe_size, 2, 1_000_000),
            ("smoothing_samples", self.smoothing_samples, 2, 4_096),
            ("steps_per_call", self.steps_per_call, 1, 1_000_000),
        ] {
            check::count(&f(name), v, lo, hi)?;
        }
        check::count(&f("seeds"), self.seeds, 1, 1_000)?;
        let last = self.seeds as u64 - 1;
        for (name, seed) in [("seed", self.seed), ("reference_seed", self.reference_seed)] {
            if seed.checked_add(last).is_none() {
                return Err(EngineError::config(
                    f(name),
                    format!(
                        "{seed} + {last} (`{}` − 1) overflows a 64-bit seed",
                        f("seeds")
                    ),
                ));
            }
        }
        if self.reference != ReferencePoint::Opposite
            && self.reference_seed.abs_diff(self.seed) < self.seeds as u64
        {
            return Err(EngineError::config(
                f("reference_seed"),
                format!(
                    "must differ from `{}` ({}) by at least `{}` ({}): run i trains from seed \
                     {} + i toward a reference run of seed reference_seed + i, and the \
                     reference runs have to be independent of the checked ones",
                    f("seed"),
                    self.seed,
                    f("seeds"),
                    self.seeds,
                    self.seed,
                ),
            ));
        }
        check::range_open_low(&f("lr"), self.lr, 0.0, 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_name_the_field() {
        let msg = |c: OnePointConfig| c.validate("nn_check").unwrap_err().to_string();
        let m = msg(OnePointConfig::new().with_reference_seed(0));
        assert!(m.contains("nn_check.reference_seed"), "{m}");
        // Seeds 0..5 and reference seeds 3..8 overlap: run 3 would be run 0's reference run.
        let m = msg(OnePointConfig::new().with_reference_seed(3));
        assert!(
            m.contains("nn_check.reference_seed") && m.contains("nn_check.seeds"),
            "{m}"
        );
        OnePointConfig::new()
            .with_reference_seed(5)
            .validate("nn_check")
            .unwrap();
        OnePointConfig::new()
            .with_reference_seed(0)
            .with_reference(ReferencePoint::Opposite)
            .validate("nn_check")
            .unwrap();
        let m = msg(OnePointConfig::new().with_seeds(0));
        assert!(
            m.contains("nn_check.seeds") && m.contains("[1, 1000]"),
            "{m}"
        );
        let m = msg(OnePointConfig::new().with_seed(u64::MAX));
        assert!(
            m.contains("nn_check.seed") && m.contains("overflows"),
            "{m}"
        );
        let m = msg(OnePointConfig::new().with_smoothing_samples(1));
        assert!(m.contains("nn_check.smoothing_samples"), "{m}");
        let m = msg(OnePointConfig::new().with_points_per_epoch(0));
        assert!(m.contains("nn_check.points_per_epoch"), "{m}");
    }

    #[test]
    fn run_i_has_its_own_seeds() {
        let c = OnePointConfig::new().with_seed(7).with_reference_seed(100);
        let r = c.for_run(3);
        assert_eq!((r.seed, r.reference_seed, r.seeds), (10, 103, 1));
        r.validate("nn_check").unwrap();
    }
}
