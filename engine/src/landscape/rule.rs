//! The step rule every particle follows: learning rate, gradient noise, clipping, the radius
//! past which a particle counts as diverged, and the seed of its counter-based draws. Its own
//! file so that the scalar stepper (`particles.rs`) and the block stepper (`particles_simd.rs`)
//! both take it from below and neither imports the other's.

use super::clip::Clip;
use super::noise::Noise;
use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// How every particle steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRule {
    /// The learning rate η.
    pub lr: f32,
    /// The gradient noise ω.
    pub noise: Noise,
    /// Step or gradient clipping.
    pub clip: Clip,
    /// A particle with a coordinate beyond this magnitude (or NaN) is marked diverged.
    pub diverge_radius: f32,
    /// The seed of the counter-based draws.
    pub seed: u64,
}

impl StepRule {
    /// Checks the rule; errors name `field.<name>` and the accepted range.
    pub fn validate(&self, field: &str) -> Result<()> {
        check::positive(&format!("{field}.lr"), f64::from(self.lr))?;
        self.noise.validate(&format!("{field}.noise"))?;
        self.clip.validate(&format!("{field}.clip"))?;
        check::positive(
            &format!("{field}.diverge_radius"),
            f64::from(self.diverge_radius),
        )
    }
}
