//! The configuration of the network part of `sgdlab run sharp-minima` and the data split that
//! both network parts (this one and smoothing's one-point check) share.

use crate::{MemoryEstimate, classifier_memory, dataset_size};
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::data::{Dataset, DatasetSpec};
use sgdlab_engine::error::Result;
use sgdlab_engine::model::{MlpConfig, NetworkConfig};

/// The configuration of the network part of `sgdlab run sharp-minima`.
#[derive(Config, Debug, PartialEq)]
pub struct HeavyTailNetConfig {
    /// The data and its split; `data.split_seed` also draws the corrupted labels (the same
    /// for every run).
    #[config(default = "DataSplitConfig::new()")]
    pub data: DataSplitConfig,
    /// Fraction of training labels replaced by a uniformly drawn other class.
    #[config(default = 0.2)]
    pub label_noise: f64,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256]))")]
    pub network: NetworkConfig,
    /// First seed (weights, batch order, noise); runs use `seed .. seed + seeds`.
    #[config(default = 0)]
    pub seed: u64,
    /// Seeds per rule.
    #[config(default = 3)]
    pub seeds: usize,
    /// Learning rate η (the same for every rule).
    #[config(default = 0.05)]
    pub lr: f64,
    /// Mini-batch size (two halves of half this size give g₁ and g₂).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Training epochs.
    #[config(default = 20)]
    pub epochs: usize,
    /// Tail index α of the Lomax multiplier Z (> 1, so that Z has a mean).
    #[config(default = 1.5)]
    pub alpha: f64,
    /// Scale of the Lomax multiplier: `P(|Z| > x) = (1 + x/scale)^{−α}`.
    #[config(default = 0.5)]
    pub noise_scale: f64,
    /// Truncation threshold b of the `truncated` rule (norm of the whole step).
    #[config(default = 0.3)]
    pub truncation: f64,
    /// Power iterations for the top Hessian eigenvalue (twice as many when the first pass
    /// finds a negative eigenvalue).
    #[config(default = 50)]
    pub power_iters: usize,
    /// Finite-difference step of the Hessian-vector products (in parameter space).
    #[config(default = 1e-3)]
    pub fd_eps: f64,
    /// Training examples (with their training labels) the sharpness is measured on.
    #[config(default = 2000)]
    pub probe_size: usize,
    /// Standard deviation σ of the Gaussian weight perturbations.
    #[config(default = 0.01)]
    pub perturb_sigma: f64,
    /// Perturbations averaged.
    #[config(default = 10)]
    pub perturb_samples: usize,
    /// Optimizer steps per `step()` call.
    #[config(default = 25)]
    pub steps_per_call: usize,
}

impl HeavyTailNetConfig {
    /// The peak-memory estimate of the network runs: one model trains at a time, with the
    /// copies the Hessian power iteration and the perturbations need.
    pub fn memory(&self) -> MemoryEstimate {
        classifier_memory(
            &self.network,
            "network",
            dataset_size(&self.data.dataset, self.data.train_size),
            self.batch_size.max(self.probe_size) as u64,
            "batch_size",
            4,
        )
    }

    /// A small version for tests and a first look (seconds on a CPU). The effect needs the
    /// regime where plain SGD starts to memorize the corrupted labels: with 1,000 examples that
    /// is about 30 epochs (by 60 every rule has memorized them).
    pub fn quick() -> Self {
        Self::new()
            .with_data(DataSplitConfig::new().with_train_size(1000))
            .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![128])))
            .with_seeds(2)
            .with_epochs(30)
            .with_power_iters(30)
            .with_probe_size(500)
            .with_perturb_samples(5)
    }

    /// Checks every field; `field` is this config's path. Errors name the field and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let f = |name: &str| format!("{field}.{name}");
        self.data.validate(&f("data"))?;
        check::fraction_below_one(&f("label_noise"), self.label_noise)?;
        for (name, v, lo, hi) in [
            ("seeds", self.seeds, 1, 100),
            ("batch_size", self.batch_size, 2, 65_536),
            ("epochs", self.epochs, 1, 10_000),
            ("power_iters", self.power_iters, 1, 1000),
            ("probe_size", self.probe_size, 1, 1_000_000),
            ("perturb_samples", self.perturb_samples, 1, 10_000),
            ("steps_per_call", self.steps_per_call, 1, 1_000_000),
        ] {
            check::count(&f(name), v, lo, hi)?;
        }
        let why = format!("`{}` − 1", f("seeds"));
        check::seed_range(&f("seed"), self.seed, self.seeds as u64 - 1, &why)?;
        check::range_open_low(&f("lr"), self.lr, 0.0, 10.0)?;
        // The Lomax multiplier needs a mean: α > 1.
        check::range_open_low(&f("alpha"), self.alpha, 1.0, 10.0)?;
        for (name, v) in [
            ("noise_scale", self.noise_scale),
            ("truncation", self.truncation),
            ("fd_eps", self.fd_eps),
            ("perturb_sigma", self.perturb_sigma),
        ] {
            check::positive(&f(name), v)?;
        }
        Ok(())
    }
}

/// The data of a network part of an experiment and how it is split.
#[derive(Config, Debug, PartialEq)]
pub struct DataSplitConfig {
    /// The data set (an image or vector classification set).
    #[config(default = "DatasetSpec::Mnist10k")]
    pub dataset: DatasetSpec,
    /// Training examples (the first ones of the training split).
    #[config(default = 8000)]
    pub train_size: usize,
    /// Test fraction of the seeded split (for sets without their own test split).
    #[config(default = 0.2)]
    pub test_fraction: f64,
    /// Seed of the split.
    #[config(default = 0)]
    pub split_seed: u64,
}

impl DataSplitConfig {
    /// Checks the sizes and the fraction; `field` is this config's path.
    pub fn validate(&self, field: &str) -> Result<()> {
        let test_fraction = format!("{field}.test_fraction");
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(check::expected(
                &test_fraction,
                "a fraction in (0, 1)",
                &self.test_fraction.to_string(),
            ));
        }
        check::count(
            &format!("{field}.train_size"),
            self.train_size,
            2,
            1_000_000,
        )
    }

    /// Loads (train, test): the source's test split or a seeded one, and the first
    /// `train_size` training examples; `network` is checked against their shape (errors name
    /// `{field}.network`).
    pub fn load(&self, network: &NetworkConfig, field: &str) -> Result<(Dataset, Dataset)> {
        let (train, test) = self
            .dataset
            .load_train_test(2, self.test_fraction, self.split_seed)?;
        let train = train.take(self.train_size);
        network.validate(train.shape, &format!("{field}.network"))?;
        Ok((train, test))
    }
}
