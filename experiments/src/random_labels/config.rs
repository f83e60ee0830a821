//! The random-labels experiment's configuration, presets and checks, following the authors'
//! protocol (chao1224/BadGlobalMinima): phase A on the confusion set, one base learning rate and
//! one step schedule for every arm, fixed epoch budgets, and ablation arms that add momentum,
//! weight decay and augmentation one at a time and all together.

use crate::Preset;
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::data::{Augment, DatasetSpec};
use sgdlab_engine::error::Result;
use sgdlab_engine::model::{MlpConfig, NetworkConfig};
use sgdlab_engine::optim::SgdConfig;

/// One training phase: its epoch budget and, for phase A only, the authors' early stop.
#[derive(Config, Debug, PartialEq)]
pub struct PhaseConfig {
    /// Epoch budget.
    #[config(default = 100)]
    pub epochs: usize,
    /// Stop once training accuracy (on the labels being fit, without augmentation) reaches
    /// this; `None` trains the whole budget (phase B and the baselines, as in the authors' code).
    #[config(default = "None")]
    pub stop_at_train_acc: Option<f64>,
}

/// The authors' confusion set for phase A: R copies of each training example, in each copy a
/// fixed share of the input values zeroed at random positions, each copy with a random label.
#[derive(Config, Debug, PartialEq)]
pub struct ConfusionConfig {
    /// Copies R of each training example.
    #[config(default = 2)]
    pub copies: usize,
    /// Share of the input values zeroed in each copy (exactly ⌊share·d⌋ of them), in [0, 1).
    #[config(default = 0.1)]
    pub zero_fraction: f64,
}

/// The regularizers an arm can add to plain SGD.
pub const REGULARIZERS: [&str; 3] = ["momentum", "weight-decay", "augmentation"];

/// The full configuration of the random-labels experiment.
#[derive(Config, Debug, PartialEq)]
pub struct RandomLabelsConfig {
    /// Seed of the first repetition; repetition i uses `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Number of seeds (repetitions).
    #[config(default = 6)]
    pub seeds: usize,
    /// The dataset.
    #[config(default = "DatasetSpec::Mnist10k")]
    pub dataset: DatasetSpec,
    /// Use at most this many training examples (after the split).
    #[config(default = "None")]
    pub train_size: Option<usize>,
    /// Use at most this many test examples (after the split).
    #[config(default = "None")]
    pub test_size: Option<usize>,
    /// Test fraction for datasets without their own test split (seeded by `split_seed`).
    #[config(default = 0.6)]
    pub test_fraction: f64,
    /// Seed of the train/test split (fixed across repetitions so every seed sees the same split).
    #[config(default = 12345)]
    pub split_seed: u64,
    /// Number of points drawn for the 2-D synthetic sets.
    #[config(default = 600)]
    pub synthetic_size: usize,
    /// The network.
    #[config(default = "NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256, 256]))")]
    pub network: NetworkConfig,
    /// Mini-batch size (the authors': 128).
    #[config(default = 128)]
    pub batch_size: usize,
    /// The base learning rate of every phase and every arm.
    #[config(default = 0.1)]
    pub lr: f64,
    /// The learning rate is multiplied by this at each milestone.
    #[config(default = 0.1)]
    pub lr_decay: f64,
    /// Milestones as fractions of each phase's epoch budget (the authors': epochs 150 and 250
    /// of 350).
    #[config(default = "vec![150.0 / 350.0, 250.0 / 350.0]")]
    pub lr_milestones: Vec<f64>,
    /// Phase A: fitting random labels (plain SGD, stopping at 99.99% training accuracy as the
    /// authors' script does, checked at each evaluation).
    #[config(default = "PhaseConfig::new().with_epochs(150).with_stop_at_train_acc(Some(0.9999))")]
    pub random_phase: PhaseConfig,
    /// Phase A on the confusion set (`None`: on the training set with random labels).
    #[config(default = "Some(ConfusionConfig::new())")]
    pub confusion: Option<ConfusionConfig>,
    /// Phase B and the baselines: fitting the true labels for a fixed budget.
    #[config(default = "PhaseConfig::new().with_epochs(100)")]
    pub true_phase: PhaseConfig,
    /// A run of an arm without augmentation "reached a global minimum" when its final training
    /// accuracy on the true labels is at least this (1.0: zero errors); gaps of those arms are
    /// computed over seeds whose two runs both did.
    #[config(default = 1.0)]
    pub fit_target: f64,
    /// Arms with augmentation have no interpolation gate (their objective is the augmented
    /// set): a run counts when its clean training loss has plateaued, changing by less than
    /// this share (relative) over the last `plateau_epochs` epochs of its budget.
    #[config(default = 0.05)]
    pub plateau_tolerance: f64,
    /// The window of the plateau gate, in epochs (compared with the latest evaluation at or
    /// before that many epochs from the end; a run shorter than the window has not plateaued).
    #[config(default = 10)]
    pub plateau_epochs: usize,
    /// Evaluate training and test accuracy every this many epochs (and at the end of each
    /// run); phase A's early stop is checked at these points, as the authors check every 25.
    #[config(default = 5)]
    pub eval_every: usize,
    /// The equivalence margin δ of `regularized-gap-removed`, in accuracy points, fixed in
    /// advance: the claim holds when the fully regularized gap's 95% interval lies in [−δ, δ].
    #[config(default = 0.5)]
    pub equivalence_margin: f64,
    /// Momentum of the arms that use it (the authors': 0.9).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Weight decay of the arms that use it (the authors': 5e-4).
    #[config(default = 5e-4)]
    pub weight_decay: f64,
    /// Augmentation of the arms that use it: random crops with this padding (shifts), and
    /// horizontal flips (the authors' CIFAR setting; off for digits).
    #[config(default = "Augment { max_shift: 2, hflip: false }")]
    pub augment: Augment,
    /// The ablation arms: each a list of regularizers added to plain SGD (`momentum`,
    /// `weight-decay`, `augmentation`); the empty list is vanilla.
    #[config(
        default = "vec![vec![], vec![\"momentum\".into(), \"weight-decay\".into(), \"augmentation\".into()]]"
    )]
    pub arms: Vec<Vec<String>>,
    /// Mini-batches per `step()` call (the unit of interleaving with a UI).
    #[config(default = 16)]
    pub batches_per_step: usize,
    /// Grid resolution of the decision-boundary plots (2-D data only).
    #[config(default = 120)]
    pub boundary_grid: usize,
}

/// Every arm: vanilla, each regularizer alone, and all three (the quick preset's ablation).
pub fn all_arms() -> Vec<Vec<String>> {
    let mut arms = vec![vec![]];
    arms.extend(REGULARIZERS.iter().map(|r| vec![r.to_string()]));
    arms.push(REGULARIZERS.iter().map(|r| r.to_string()).collect());
    arms
}

/// An arm's display name: `vanilla`, `+momentum`, …, or `all three`.
pub fn arm_name(regularizers: &[String]) -> String {
    if regularizers.is_empty() {
        "vanilla".into()
    } else if regularizers.len() == REGULARIZERS.len() {
        "all three".into()
    } else {
        format!("+{}", regularizers.join(" +"))
    }
}

impl RandomLabelsConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_seeds(2)
                .with_test_fraction(0.2)
                .with_lr(0.05)
                .with_fit_target(0.999)
                .with_augment(Augment {
                    max_shift: 4,
                    hflip: false,
                })
                .with_arms(all_arms())
                .with_train_size(Some(500))
                .with_test_size(Some(500))
                .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![128])))
                .with_batch_size(64)
                .with_confusion(Some(ConfusionConfig::new().with_copies(2)))
                .with_random_phase(
                    PhaseConfig::new()
                        .with_epochs(40)
                        .with_stop_at_train_acc(Some(1.0)),
                )
                .with_true_phase(PhaseConfig::new().with_epochs(15))
                .with_eval_every(1),
        }
    }

    /// The preset for the 2-D toy sets (the paper's toy figure): a small training set, a wider
    /// network and long phases, since memorizing random labels of 2-D points takes many steps;
    /// no augmentation arm (shifts and flips are for images).
    pub fn toy_preset(preset: Preset, dataset: DatasetSpec) -> Self {
        let random_epochs = match preset {
            Preset::Paper => 1500,
            Preset::Quick => 300,
        };
        Self::new()
            .with_seeds(match preset {
                Preset::Paper => 3,
                Preset::Quick => 1,
            })
            .with_dataset(dataset)
            .with_test_fraction(0.2)
            .with_fit_target(0.999)
            .with_synthetic_size(300)
            .with_network(NetworkConfig::Mlp(
                MlpConfig::new().with_hidden(vec![256, 256]),
            ))
            .with_batch_size(16)
            .with_lr(0.1)
            .with_confusion(None)
            .with_weight_decay(5e-3)
            .with_arms(vec![
                vec![],
                vec!["momentum".into()],
                vec!["weight-decay".into()],
                vec!["momentum".into(), "weight-decay".into()],
            ])
            .with_random_phase(
                PhaseConfig::new()
                    .with_epochs(random_epochs)
                    .with_stop_at_train_acc(Some(1.0)),
            )
            .with_true_phase(PhaseConfig::new().with_epochs(random_epochs / 7))
            .with_eval_every(1)
            .with_batches_per_step(64)
    }

    /// The SGD config of an arm at learning rate `lr`.
    pub fn arm_optim(&self, regularizers: &[String], lr: f64) -> SgdConfig {
        let has = |r: &str| regularizers.iter().any(|x| x == r);
        SgdConfig::new()
            .with_lr(lr)
            .with_momentum(if has("momentum") { self.momentum } else { 0.0 })
            .with_weight_decay(if has("weight-decay") {
                self.weight_decay
            } else {
                0.0
            })
    }

    /// The augmentation of an arm, if it uses it.
    pub fn arm_augment(&self, regularizers: &[String]) -> Option<Augment> {
        regularizers
            .iter()
            .any(|r| r == "augmentation")
            .then_some(self.augment)
    }

    /// The learning rate after `epochs` epochs of a phase with budget `budget`.
    pub fn lr_after(&self, epochs: usize, budget: usize) -> f64 {
        let passed = self
            .lr_milestones
            .iter()
            .filter(|&&f| epochs as f64 >= (f * budget as f64).round())
            .count();
        self.lr * self.lr_decay.powi(passed as i32)
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        check::count("seeds", self.seeds, 1, 1000)?;
        check::seed_range("seed", self.seed, self.seeds as u64 - 1, "`seeds` − 1")?;
        check::count("batch_size", self.batch_size, 1, 65_536)?;
        check::count("batches_per_step", self.batches_per_step, 1, 1_000_000)?;
        check::range_open_low("test_fraction", self.test_fraction, 0.0, 1.0)?;
        check::fraction_below_one("test_fraction", self.test_fraction)?;
        if let Some(n) = self.train_size {
            check::count("train_size", n, 1, usize::MAX)?;
        }
        if let Some(n) = self.test_size {
            check::count("test_size", n, 1, usize::MAX)?;
        }
        check::count("synthetic_size", self.synthetic_size, 10, 1_000_000)?;
        check::count("boundary_grid", self.boundary_grid, 4, 1000)?;
        check::range_open_low("lr", self.lr, 0.0, 100.0)?;
        check::range_open_low("lr_decay", self.lr_decay, 0.0, 1.0)?;
        check::list_len("lr_milestones", self.lr_milestones.len(), 0, 16)?;
        check::each("lr_milestones", &self.lr_milestones, check::fraction)?;
        check::monotone("lr_milestones", &self.lr_milestones, false)?;
        for (name, p) in [
            ("random_phase", &self.random_phase),
            ("true_phase", &self.true_phase),
        ] {
            check::count(&format!("{name}.epochs"), p.epochs, 1, 100_000)?;
            if let Some(acc) = p.stop_at_train_acc {
                check::range_open_low(&format!("{name}.stop_at_train_acc"), acc, 0.0, 1.0)?;
            }
        }
        check::range_open_low("fit_target", self.fit_target, 0.0, 1.0)?;
        check::range_open_low("plateau_tolerance", self.plateau_tolerance, 0.0, 1.0)?;
        check::count("eval_every", self.eval_every, 1, 100_000)?;
        check::count("plateau_epochs", self.plateau_epochs, 1, 100_000)?;
        check::range("equivalence_margin", self.equivalence_margin, 0.0, 100.0)?;
        if let Some(c) = &self.confusion {
            check::count("confusion.copies", c.copies, 1, 100)?;
            check::fraction_below_one("confusion.zero_fraction", c.zero_fraction)?;
        }
        check::fraction_below_one("momentum", self.momentum)?;
        check::non_negative("weight_decay", self.weight_decay)?;
        check::count("augment.max_shift", self.augment.max_shift, 0, 8)?;
        check::list_len("arms", self.arms.len(), 1, 16)?;
        for (i, arm) in self.arms.iter().enumerate() {
            for (j, r) in arm.iter().enumerate() {
                if !REGULARIZERS.contains(&r.as_str()) {
                    return Err(check::expected(
                        &format!("arms[{i}][{j}]"),
                        &format!("one of {}", REGULARIZERS.join(", ")),
                        &format!("`{r}`"),
                    ));
                }
                if arm[..j].contains(r) {
                    return Err(check::expected(
                        &format!("arms[{i}][{j}]"),
                        "each regularizer at most once per arm",
                        &format!("`{r}` twice"),
                    ));
                }
            }
        }
        if !self.arms.iter().any(Vec::is_empty) {
            return Err(check::expected(
                "arms",
                "a list that includes the vanilla arm []",
                &format!("{:?}", self.arms),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (
                RandomLabelsConfig::new().with_arms(vec![vec![], vec!["dropout".into()]]),
                "arms[1][0]",
            ),
            (
                RandomLabelsConfig::new().with_arms(vec![vec!["momentum".into()]]),
                "arms",
            ),
            (RandomLabelsConfig::new().with_seeds(0), "seeds"),
            (RandomLabelsConfig::new().with_lr(0.0), "lr"),
            (
                RandomLabelsConfig::new().with_lr_milestones(vec![0.8, 0.4]),
                "lr_milestones[1]",
            ),
            (RandomLabelsConfig::new().with_fit_target(1.5), "fit_target"),
            (
                RandomLabelsConfig::new().with_equivalence_margin(-0.1),
                "equivalence_margin",
            ),
            (RandomLabelsConfig::new().with_eval_every(0), "eval_every"),
            (
                RandomLabelsConfig::new().with_plateau_epochs(0),
                "plateau_epochs",
            ),
            (
                RandomLabelsConfig::new().with_plateau_tolerance(0.0),
                "plateau_tolerance",
            ),
        ];
        for (c, field) in cases {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(&format!("config field `{field}`")), "{e}");
        }
        RandomLabelsConfig::preset(Preset::Quick)
            .validate()
            .unwrap();
        RandomLabelsConfig::toy_preset(Preset::Paper, DatasetSpec::TwoClusters)
            .validate()
            .unwrap();
    }

    #[test]
    fn the_schedule_decays_at_the_milestones() {
        let c = RandomLabelsConfig::new().with_lr(0.1);
        assert!((c.lr_after(0, 350) - 0.1).abs() < 1e-12);
        assert!((c.lr_after(149, 350) - 0.1).abs() < 1e-12);
        assert!((c.lr_after(150, 350) - 0.01).abs() < 1e-12);
        assert!((c.lr_after(250, 350) - 0.001).abs() < 1e-12);
        assert_eq!(arm_name(&[]), "vanilla");
        assert_eq!(arm_name(&["momentum".to_string()]), "+momentum");
    }
}
