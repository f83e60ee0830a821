//! The RNN experiment's configuration, presets and checks.

use crate::Preset;
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::data::{LOOKUP_MAX_LEN, RecurrentConceptConfig};
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
    /// Repetitions (seeds): one one-pass run per seed, target and length.
    #[config(default = 3)]
    pub seeds: usize,
    /// The target concept class (the paper's: every earlier token through its own network).
    #[config(default = "RecurrentConceptConfig::new()")]
    pub concept: RecurrentConceptConfig,
    /// Also run the lookup control (a random ±1 table of the L first-coordinate signs, scored
    /// at the last position: exponential by construction) through the same pipeline and rule.
    #[config(default = true)]
    pub control: bool,
    /// The RNN. Its `width` m is the total hidden width: the network starts as two copies of a
    /// width-m/2 network whose read-outs cancel (B = [B₁; −B₁]), so its output at
    /// initialization is 0 at every L.
    #[config(default = "ElmanRnnConfig::new().with_width(256)")]
    pub network: ElmanRnnConfig,
    /// Sequence lengths L of the concept runs.
    #[config(default = "vec![2, 3, 4, 6, 8, 12]")]
    pub seq_lens: Vec<usize>,
    /// Sequence lengths L of the lookup control.
    #[config(default = "vec![2, 3, 4, 5, 6, 7, 8]")]
    pub control_lens: Vec<usize>,
    /// L of the width check: the first seed's concept run at twice the width (0: no check).
    #[config(default = 8)]
    pub width_check_len: usize,
    /// Test sequences (fixed per seed, target and L; drawn independently of training).
    #[config(default = 1024)]
    pub test_size: usize,
    /// The optimizer (plain SGD). Its `lr` is the rate at m·L = 512; a run with width m and
    /// length L uses lr·512/(m·L), since the gradient's scale grows with m (the paper's
    /// η ∝ 1/m) and the hidden state's norm with L.
    #[config(default = "SgdConfig::new().with_lr(0.012)")]
    pub optim: SgdConfig,
    /// Linear learning-rate warm-up over the first steps of every run (the loss is scaled by
    /// min(1, (k + 1)/warmup_steps) at step k, which for plain SGD is the same thing); 0: none.
    #[config(default = 64)]
    pub warmup_steps: usize,
    /// Fresh sequences per SGD step (one pass: no sequence is seen twice).
    #[config(default = 8)]
    pub batch_size: usize,
    /// The cap: a run stops after this many sequences (censored if not yet learned).
    #[config(default = 131_072)]
    pub max_samples: usize,
    /// The first evaluation, in sequences seen.
    #[config(default = 16)]
    pub first_eval: usize,
    /// Evaluations per doubling of the sequences seen.
    #[config(default = 4)]
    pub evals_per_octave: usize,
    /// "Learned" at L means a relative test error at or below this fraction of the share of
    /// variance that the best linear fit leaves unexplained at L (below the linear floor).
    #[config(default = 0.75)]
    pub threshold_fraction: f64,
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
                .with_network(ElmanRnnConfig::new().with_width(32))
                .with_seq_lens(vec![2, 3, 4])
                .with_control_lens(vec![2, 3, 4])
                .with_width_check_len(3)
                .with_test_size(128)
                .with_max_samples(512),
        }
    }

    /// The longest sequence any run uses.
    pub fn max_len(&self) -> usize {
        self.seq_lens
            .iter()
            .copied()
            .chain(self.control_lens.iter().copied().filter(|_| self.control))
            .chain([self.width_check_len])
            .max()
            .unwrap_or(1)
    }

    /// The number of runs.
    pub fn jobs(&self) -> usize {
        self.seeds * (self.seq_lens.len() + usize::from(self.control) * self.control_lens.len())
            + usize::from(self.width_check_len > 0)
    }

    /// The evaluation points (sequences seen, multiples of the batch size, increasing), ending
    /// at the cap.
    pub fn eval_points(&self) -> Vec<usize> {
        let b = self.batch_size.max(1);
        let cap = self.max_samples.div_ceil(b) * b;
        let mut points: Vec<usize> = Vec::new();
        for k in 0.. {
            let raw = self.first_eval as f64 * 2f64.powf(k as f64 / self.evals_per_octave as f64);
            let n = ((raw / b as f64).round() as usize).max(1) * b;
            if n >= cap {
                break;
            }
            if points.last().is_none_or(|&p| n > p) {
                points.push(n);
            }
        }
        points.push(cap);
        points
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        check::count("seeds", self.seeds, 1, 1000)?;
        check::count("network.width", self.network.width, 2, 16_384)?;
        if !self.network.width.is_multiple_of(2) {
            return Err(check::expected(
                "network.width",
                "an even width (two cancelling halves)",
                &self.network.width.to_string(),
            ));
        }
        check::count("concept.inputs", self.concept.inputs, 1, 4096)?;
        check::count("concept.neurons", self.concept.neurons, 1, 4096)?;
        check::list_len("seq_lens", self.seq_lens.len(), 1, 64)?;
        check::each("seq_lens", &self.seq_lens, |f, l| {
            check::count(f, l, 2, 1024)
        })?;
        check::list_len("control_lens", self.control_lens.len(), 0, 64)?;
        check::each("control_lens", &self.control_lens, |f, l| {
            check::count(f, l, 1, LOOKUP_MAX_LEN)
        })?;
        check::count("width_check_len", self.width_check_len, 0, 1024)?;
        if self.width_check_len == 1 {
            return Err(check::expected(
                "width_check_len",
                "0 (no check) or a length of at least 2",
                "1",
            ));
        }
        if let Some(window) = self.concept.window {
            let min_l = self
                .seq_lens
                .iter()
                .copied()
                .chain([self.width_check_len].into_iter().filter(|&l| l > 0))
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
        // Run j of seed i draws its weights and batches from seed + i + j.
        check::seed_range(
            "seed",
            self.seed,
            (self.seeds - 1 + self.jobs() - 1) as u64,
            "`seeds` − 1 plus the runs − 1: run j of seed i draws its batches from seed + i + j",
        )?;
        check::count("test_size", self.test_size, 1, 10_000_000)?;
        check::count("batch_size", self.batch_size, 1, 65_536)?;
        check::count("warmup_steps", self.warmup_steps, 0, 10_000_000)?;
        check::count("max_samples", self.max_samples, 1, 100_000_000)?;
        check::count("first_eval", self.first_eval, 1, self.max_samples)?;
        check::count("evals_per_octave", self.evals_per_octave, 1, 64)?;
        check::count("batches_per_step", self.batches_per_step, 1, 1_000_000)?;
        check::range_open_low("threshold_fraction", self.threshold_fraction, 0.0, 1.0)?;
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
            (
                RnnConfig::new().with_network(ElmanRnnConfig::new().with_width(33)),
                "network.width",
            ),
            (RnnConfig::new().with_seq_lens(vec![4, 1]), "seq_lens[1]"),
            (
                RnnConfig::new().with_control_lens(vec![4, 17]),
                "control_lens[1]",
            ),
            (
                RnnConfig::new().with_concept(RecurrentConceptConfig::new().with_window(Some(7))),
                "concept.window",
            ),
            (
                RnnConfig::new().with_concept(RecurrentConceptConfig::new().with_window(Some(0))),
                "concept.window",
            ),
            (RnnConfig::new().with_seeds(0), "seeds"),
            (RnnConfig::new().with_max_samples(0), "max_samples"),
            (RnnConfig::new().with_first_eval(0), "first_eval"),
            (RnnConfig::new().with_width_check_len(1), "width_check_len"),
            (
                RnnConfig::new().with_threshold_fraction(0.0),
                "threshold_fraction",
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

    #[test]
    fn evaluations_are_geometric_and_end_at_the_cap() {
        let c = RnnConfig::new();
        let p = c.eval_points();
        assert_eq!(p[0], 16);
        assert_eq!(*p.last().unwrap(), 131_072);
        assert!(p.windows(2).all(|w| w[0] < w[1] && w[1] % 8 == 0));
        // 4 per octave over 13 octaves.
        assert!((50..=54).contains(&p.len()), "{}", p.len());
    }
}
