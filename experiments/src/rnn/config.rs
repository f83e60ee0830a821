//! The RNN experiment's configuration, presets and checks.

use crate::Preset;
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::data::RecurrentConceptConfig;
use sgdlab_engine::error::Result;
use sgdlab_engine::model::ElmanRnnConfig;
use sgdlab_engine::optim::SgdConfig;

/// The configuration of the RNN experiment.
#[derive(Config, Debug, PartialEq)]
pub struct RnnConfig {
    /// Seed of the first repetition; repetition i draws its concept, data and weights from
    /// `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Repetitions (seeds) of the sample sweep.
    #[config(default = 3)]
    pub seeds: usize,
    /// The target concept class (the paper's: every earlier token through its own network).
    #[config(default = "RecurrentConceptConfig::new()")]
    pub concept: RecurrentConceptConfig,
    /// Also run the parity control (outside the class) through the same sample sweep.
    #[config(default = true)]
    pub control: bool,
    /// The RNN (its `width` is the width of the sample sweep).
    #[config(default = "ElmanRnnConfig::new().with_width(256)")]
    pub network: ElmanRnnConfig,
    /// Sequence lengths L of the sample sweep.
    #[config(default = "vec![4, 8, 16, 32]")]
    pub seq_lens: Vec<usize>,
    /// Training-set sizes of the sample sweep (sequences), increasing.
    #[config(default = "vec![32, 64, 128, 256, 512, 1024, 2048, 4096]")]
    pub sample_sizes: Vec<usize>,
    /// Widths m of the width sweep (first seed, the concept, at `width_sweep_seq_len` and
    /// `width_sweep_samples`).
    #[config(default = "vec![64, 128, 256, 512, 1024]")]
    pub widths: Vec<usize>,
    /// L of the width sweep.
    #[config(default = 8)]
    pub width_sweep_seq_len: usize,
    /// Training samples of the width sweep.
    #[config(default = 256)]
    pub width_sweep_samples: usize,
    /// Test sequences (drawn independently of training).
    #[config(default = 512)]
    pub test_size: usize,
    /// The optimizer (plain SGD in the paper). Its `lr` is the rate at m·L = 512; a run with
    /// width m and length L uses lr·512/(m·L), since the gradient's scale grows with m (the
    /// paper's η ∝ 1/m) and the hidden state's norm with L.
    #[config(default = "SgdConfig::new().with_lr(0.003)")]
    pub optim: SgdConfig,
    /// Sequences per SGD step.
    #[config(default = 8)]
    pub batch_size: usize,
    /// Passes over the training set per run.
    #[config(default = 30)]
    pub epochs: usize,
    /// Relative test error (MSE / Var(y*)) that counts as "learned".
    #[config(default = 0.5)]
    pub error_threshold: f64,
    /// The degree D of the verdict: polynomial when the fitted exponent's 95% interval lies at
    /// or below D, not polynomial when it (or the censoring bound) lies above.
    #[config(default = 4.0)]
    pub max_degree: f64,
    /// SGD steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 16)]
    pub batches_per_step: usize,
}

impl RnnConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_seeds(2)
                .with_network(ElmanRnnConfig::new().with_width(64))
                .with_seq_lens(vec![2, 4, 8])
                .with_sample_sizes(vec![16, 64, 256])
                .with_widths(vec![32, 64])
                .with_width_sweep_seq_len(4)
                .with_width_sweep_samples(64)
                .with_test_size(128)
                .with_epochs(10),
        }
    }

    /// The longest sequence any run uses.
    pub fn max_len(&self) -> usize {
        self.seq_lens
            .iter()
            .copied()
            .chain([self.width_sweep_seq_len])
            .max()
            .unwrap_or(1)
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        check::count("seeds", self.seeds, 1, 1000)?;
        check::count("network.width", self.network.width, 1, 16_384)?;
        check::count("concept.inputs", self.concept.inputs, 1, 4096)?;
        check::count("concept.neurons", self.concept.neurons, 1, 4096)?;
        check::list_len("seq_lens", self.seq_lens.len(), 1, 64)?;
        check::each("seq_lens", &self.seq_lens, |f, l| {
            check::count(f, l, 1, 1024)
        })?;
        check::count("width_sweep_seq_len", self.width_sweep_seq_len, 1, 1024)?;
        if let Some(window) = self.concept.window {
            let min_l = self
                .seq_lens
                .iter()
                .copied()
                .chain([self.width_sweep_seq_len])
                .min()
                .unwrap_or(1);
            check::count("concept.window", window, 1, min_l).map_err(|_| {
                check::expected(
                    "concept.window",
                    &format!(
                        "null (all earlier tokens) or a window in [1, {min_l}], the shortest \
                         sequence length"
                    ),
                    &window.to_string(),
                )
            })?;
        }
        check::list_len("sample_sizes", self.sample_sizes.len(), 1, 64)?;
        check::each("sample_sizes", &self.sample_sizes, |f, n| {
            check::count(f, n, 1, 10_000_000)
        })?;
        let sizes: Vec<f64> = self.sample_sizes.iter().map(|&n| n as f64).collect();
        check::monotone("sample_sizes", &sizes, false)?;
        check::list_len("widths", self.widths.len(), 0, 64)?;
        check::each("widths", &self.widths, |f, m| check::count(f, m, 1, 16_384))?;
        // Job j of seed i orders its batches by seed + i + j.
        let jobs = self.seeds
            * (1 + usize::from(self.control))
            * self.seq_lens.len()
            * self.sample_sizes.len()
            + self.widths.len();
        check::seed_range(
            "seed",
            self.seed,
            (self.seeds - 1 + jobs - 1) as u64,
            "`seeds` − 1 plus the jobs − 1: job j of seed i orders its batches by seed + i + j",
        )?;
        check::count(
            "width_sweep_samples",
            self.width_sweep_samples,
            1,
            10_000_000,
        )?;
        check::count("test_size", self.test_size, 1, 10_000_000)?;
        check::count("batch_size", self.batch_size, 1, 65_536)?;
        check::count("epochs", self.epochs, 1, 100_000)?;
        check::count("batches_per_step", self.batches_per_step, 1, 1_000_000)?;
        check::positive("error_threshold", self.error_threshold)?;
        check::positive("max_degree", self.max_degree)?;
        check::range("network.bias_input", self.network.bias_input, -1e6, 1e6)?;
        check::positive("concept.weight_scale", self.concept.weight_scale)?;
        self.optim.validate("optim")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_name_the_field() {
        let cases = [
            (
                RnnConfig::new().with_network(ElmanRnnConfig::new().with_width(0)),
                "network.width",
            ),
            (RnnConfig::new().with_seq_lens(vec![4, 0]), "seq_lens[1]"),
            (
                RnnConfig::new().with_concept(RecurrentConceptConfig::new().with_window(Some(7))),
                "concept.window",
            ),
            (
                RnnConfig::new().with_concept(RecurrentConceptConfig::new().with_window(Some(0))),
                "concept.window",
            ),
            (RnnConfig::new().with_widths(vec![0]), "widths[0]"),
            (RnnConfig::new().with_seeds(0), "seeds"),
            (
                RnnConfig::new().with_sample_sizes(vec![64, 32]),
                "sample_sizes[1]",
            ),
            (
                RnnConfig::new().with_error_threshold(0.0),
                "error_threshold",
            ),
        ];
        for (c, field) in cases {
            let e = c.validate().unwrap_err().to_string();
            assert!(
                e.contains(&format!("config field `{field}`")) && e.contains("expected"),
                "{e}"
            );
        }
        RnnConfig::preset(Preset::Quick).validate().unwrap();
        RnnConfig::preset(Preset::Paper).validate().unwrap();
    }
}
