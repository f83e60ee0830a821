//! A u32 counter-based generator that is the same function in Rust and in WGSL
//! (`shaders/src/common.wgsl`): 32 random bits addressed by `(seed, particle, step, draw)`.
//!
//! WGSL has no 64-bit integers, so the 64-bit seed enters as two halves and the mixing is a chain
//! of PCG output permutations (O'Neill 2014; the `pcg_hash` of Jarzynski and Olano, "Hash
//! Functions for GPU Rendering", JCGT 2020). Uniforms use the top 23 bits plus half a step, so
//! they lie in the open interval (0, 1) and logarithms of them are finite.

/// One PCG step and output permutation of a 32-bit word.
#[inline(always)]
pub fn pcg_hash(v: u32) -> u32 {
    let s = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277_803_737);
    (w >> 22) ^ w
}

/// 32 random bits for draw `draw` of particle `particle` at step `step` under `seed`.
#[inline]
pub fn counter_bits(seed: u64, particle: u32, step: u32, draw: u32) -> u32 {
    let (lo, hi) = split_seed(seed);
    let mut h = pcg_hash(lo ^ 0x9e37_79b9);
    h = pcg_hash(h ^ hi);
    h = pcg_hash(h ^ particle);
    h = pcg_hash(h ^ step);
    pcg_hash(h ^ draw)
}

/// The hash state after the seed and the particle, constant over a particle's steps:
/// `counter_bits(seed, particle, step, draw) == draw_bits(particle_prefix(seed, particle), step,
/// draw)`. The vectorized stepper computes it once per particle.
#[inline]
pub fn particle_prefix(seed: u64, particle: u32) -> u32 {
    let (lo, hi) = split_seed(seed);
    let h = pcg_hash(pcg_hash(lo ^ 0x9e37_79b9) ^ hi);
    pcg_hash(h ^ particle)
}

/// The draw bits from a particle's [`particle_prefix`].
#[inline(always)]
pub fn draw_bits(prefix: u32, step: u32, draw: u32) -> u32 {
    pcg_hash(pcg_hash(prefix ^ step) ^ draw)
}

/// The two 32-bit halves `(low, high)` of a 64-bit seed, as the kernels receive it.
#[inline]
pub fn split_seed(seed: u64) -> (u32, u32) {
    (seed as u32, (seed >> 32) as u32)
}

/// Uniform in the open interval (0, 1) from 32 bits (23 of them used, so that every value and
/// the half-step offset are exact in f32).
#[inline(always)]
pub fn to_unit(bits: u32) -> f32 {
    // Through i32: the value is below 2^23, and a signed conversion vectorizes.
    ((bits >> 9) as i32 as f32 + 0.5) * 1.192_092_9e-7
}

/// The address of one particle's draws at one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRng {
    /// The run's seed.
    pub seed: u64,
    /// The particle (or, for smoothing, 0).
    pub particle: u32,
    /// The step (or, for smoothing, the sample index).
    pub step: u32,
}

impl CounterRng {
    /// Uniform in (0, 1) for draw number `draw`.
    #[inline]
    pub fn unit(&self, draw: u32) -> f32 {
        to_unit(counter_bits(self.seed, self.particle, self.step, draw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_pin_the_hash() {
        // Worked out by hand from the PCG constants: pcg_hash(0).
        let s: u32 = 2_891_336_453;
        let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277_803_737);
        assert_eq!(pcg_hash(0), (w >> 22) ^ w);
        assert_ne!(counter_bits(1, 0, 0, 0), counter_bits(1, 0, 0, 1));
        assert_ne!(counter_bits(1, 0, 0, 0), counter_bits(1, 1, 0, 0));
        assert_ne!(counter_bits(1, 0, 0, 0), counter_bits(1, 0, 1, 0));
        assert_ne!(counter_bits(1, 0, 0, 0), counter_bits(1 << 32, 0, 0, 0));
        for (seed, p, st, d) in [(1u64, 0u32, 0u32, 0u32), (0xdead_beef_1234, 77, 9, 3)] {
            assert_eq!(
                counter_bits(seed, p, st, d),
                draw_bits(particle_prefix(seed, p), st, d)
            );
        }
    }

    #[test]
    fn uniforms_are_open_and_flat() {
        let n = 100_000u32;
        let mut bins = [0u32; 10];
        let mut sum = 0.0f64;
        for i in 0..n {
            let u = CounterRng {
                seed: 7,
                particle: i,
                step: 3,
            }
            .unit(0);
            assert!(u > 0.0 && u < 1.0);
            sum += f64::from(u);
            bins[((u * 10.0) as usize).min(9)] += 1;
        }
        assert!((sum / f64::from(n) - 0.5).abs() < 0.005);
        assert!(
            bins.iter().all(|&b| (9_400..10_600).contains(&b)),
            "{bins:?}"
        );
        assert!(to_unit(0) > 0.0 && to_unit(u32::MAX) < 1.0);
    }
}
