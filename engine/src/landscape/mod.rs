//! Loss landscapes and particle SGD on them: test functions with gradients, minima and basins,
//! step-noise models and clipping, the smoothed landscape `g_η`, and a CPU reference stepper for
//! N independent particles whose GPU twin lives in `crate::gpu` and `sgdlab-shaders`.
//!
//! Papers: Kleinberg, Li, Yuan, "An Alternative View: When Does SGD Escape Local Minima?"
//! (ICML 2018); Wang, Oh, Rhee, "Eliminating Sharp Minima from SGD with Truncated Heavy-tailed
//! Noise" (2021).

mod clip;
mod noise;
mod particles;
mod particles_simd;
mod rule;
mod smoothing;
mod surface;

pub use clip::*;
pub use noise::*;
pub use particles::*;
pub use particles_simd::simd_level;
pub use rule::StepRule;
pub use sgdlab_stepper::counter_rng::*;
pub use sgdlab_stepper::fastmath::{pow_unit, sin_pi};
pub use smoothing::*;
pub use surface::*;

// The stepper crate's modules, under the names the landscape's files use.
use sgdlab_stepper::{counter_rng, fastmath};
