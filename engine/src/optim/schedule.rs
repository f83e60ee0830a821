//! Learning-rate schedules.

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

/// How the learning rate changes with the step count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` every `every` steps.
    Step {
        /// Steps between decays.
        every: u64,
        /// Factor applied at each decay, in (0, 1].
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `min_factor` times it over `total` steps, then flat.
    Cosine {
        /// Steps over which to anneal.
        total: u64,
        /// Final rate as a fraction of the base rate, in [0, 1].
        #[serde(default)]
        min_factor: f64,
    },
}

impl LrSchedule {
    /// The learning rate at `step` (0-based) for base rate `lr`.
    pub fn lr_at(&self, lr: f64, step: u64) -> f64 {
        match *self {
            Self::Constant => lr,
            Self::Step { every, gamma } => lr * gamma.powf((step / every.max(1)) as f64),
            Self::Cosine { total, min_factor } => {
                let t = (step.min(total) as f64) / (total.max(1) as f64);
                let f = min_factor
                    + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                lr * f
            }
        }
    }

    /// Checks the schedule's parameters; `field` names it in errors.
    pub fn validate(&self, field: &str) -> Result<()> {
        match *self {
            Self::Constant => Ok(()),
            Self::Step { every, gamma } => {
                if every == 0 {
                    return Err(EngineError::config(
                        format!("{field}.every"),
                        "expected a positive number of steps, found 0",
                    ));
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(EngineError::config(
                        format!("{field}.gamma"),
                        format!("expected a factor in (0, 1], found {gamma}"),
                    ));
                }
                Ok(())
            }
            Self::Cosine { total, min_factor } => {
                if total == 0 {
                    return Err(EngineError::config(
                        format!("{field}.total"),
                        "expected a positive number of steps, found 0",
                    ));
                }
                if !(0.0..=1.0).contains(&min_factor) {
                    return Err(EngineError::config(
                        format!("{field}.min_factor"),
                        format!("expected a fraction in [0, 1], found {min_factor}"),
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_hand_values() {
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 1000), 0.1);
        let s = LrSchedule::Step {
            every: 10,
            gamma: 0.5,
        };
        assert!((s.lr_at(0.1, 9) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(0.1, 10) - 0.05).abs() < 1e-12);
        assert!((s.lr_at(0.1, 25) - 0.025).abs() < 1e-12);
        let c = LrSchedule::Cosine {
            total: 100,
            min_factor: 0.0,
        };
        assert!((c.lr_at(1.0, 0) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(1.0, 50) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(1.0, 100).abs() < 1e-12);
        assert!(c.lr_at(1.0, 1000).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_parameters() {
        let e = LrSchedule::Step {
            every: 0,
            gamma: 0.5,
        }
        .validate("optim.schedule");
        assert!(e.unwrap_err().to_string().contains("optim.schedule.every"));
        let e = LrSchedule::Cosine {
            total: 5,
            min_factor: 2.0,
        }
        .validate("s");
        assert!(e.unwrap_err().to_string().contains("s.min_factor"));
    }
}
