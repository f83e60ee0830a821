//! sgdlab-stepper: the particle stepper's inner loop, on its own so that a build can give it its
//! own optimization level. The browser build (`wasm-release`, size first) keeps this crate at
//! opt-level 2, where rustc's loop vectorizer turns the lane loops into SIMD128, and builds
//! everything else, the engine included, at "z" (`web/README.md` has the numbers).
//!
//! - [`counter_rng`]: the counter-based generator the CPU and the WGSL kernels share.
//! - [`fastmath`]: branch-free `pow` and `sin` for the noise and the wells.
//! - [`BlockKernel`]: the vectorized stepper over blocks of particles.
//!
//! The engine (`sgdlab_engine::landscape`) re-exports all of it, builds the kernel from a
//! landscape and a step rule, and tests it against its scalar reference bit for bit.

pub mod counter_rng;
pub mod fastmath;

mod block;

pub use block::{BlockKernel, LANES, MAX_LANES, Span, simd_level};

/// The most labelled basins a landscape has (labels `0..MAX_BASINS`; [`NO_BASIN`] otherwise).
pub const MAX_BASINS: usize = 4;
/// The label of a point in no basin (a plateau between wells, or outside the box).
pub const NO_BASIN: u32 = 4;
/// The `first_exit` value of a particle that never left its starting basin.
pub const NEVER: u32 = u32::MAX;
/// The label of a diverged particle (frozen; counted, never a crash).
pub const DIVERGED: u32 = 5;
/// Words per particle in the engine's `ParticleState::stats`: occupation counts for labels
/// 0..=5 (basins 0..3, no basin, diverged), then the 4×4 transition counts.
pub const STAT_STRIDE: usize = 6 + MAX_BASINS * MAX_BASINS;
