//! The engine's side of the vectorized particle stepper (`sgdlab-stepper`'s [`BlockKernel`]):
//! which landscapes and step rules it takes, unpacked into the kernel's plain fields. The kernel
//! lives in its own crate so that the browser build can keep it at a speed opt-level (the loop
//! vectorizer, SIMD128) while the rest of the engine is built for size.

use super::noise::NoiseKind;
use super::rule::StepRule;
use super::surface::{LAND_HEADER, MAX_BASINS, PackedLandscape};
use sgdlab_stepper::BlockKernel;
pub(super) use sgdlab_stepper::MAX_LANES;
pub use sgdlab_stepper::simd_level;

/// The kernel for `land` and `rule`, or `None` when the pair is one the scalar reference
/// handles (not bump wells, or noise other than none and Pareto).
pub(super) fn block_kernel(land: &PackedLandscape, rule: &StepRule) -> Option<BlockKernel> {
    let l = &land.0;
    let pareto = match rule.noise.kind {
        NoiseKind::None => false,
        NoiseKind::Pareto => true,
        _ => return None,
    };
    if l[0] as u32 != 1 {
        return None;
    }
    let nw = l[2] as usize;
    if nw == 0 || nw > MAX_BASINS {
        return None;
    }
    let mut wells = [[0.0; 4]; MAX_BASINS];
    for (k, w) in wells.iter_mut().enumerate().take(nw) {
        let b = LAND_HEADER + 4 * k;
        *w = [l[b], l[b + 1], l[b + 2], l[b + 3]];
    }
    let (clip_kind, clip) = rule.clip.code();
    Some(BlockKernel {
        neg_lr: -rule.lr,
        sigma: rule.noise.sigma,
        p: -1.0 / rule.noise.alpha,
        pareto,
        clip_kind,
        clip,
        radius: rule.diverge_radius,
        dim1: l[1] as u32 == 1,
        seed: rule.seed,
        wall: l[6],
        lo: [l[7], l[9]],
        hi: [l[8], l[10]],
        nw,
        wells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::{
        Clip, Landscape, Noise, ParticleState, StepRule, step_particles_scalar,
    };

    /// Every block width gives the scalar reference's bits (the width the CPU picks is tested
    /// through `step_particles_cpu` in `particles.rs`).
    #[test]
    fn every_block_width_equals_the_scalar_reference() {
        let land = Landscape::sharp_and_wide_2d(0.5, 1.0, 1.0).packed();
        let rule = StepRule {
            lr: 0.05,
            noise: Noise::new(NoiseKind::Pareto, 1.0, 1.5),
            clip: Clip::Truncate { b: 0.4 },
            diverge_radius: 1e6,
            seed: 9,
        };
        let init: Vec<[f32; 2]> = (0..61)
            .map(|i| [(i % 3) as f32 * 1.5 - 1.5, (i as f32 * 0.1).sin() * 0.3])
            .collect();
        let mut want = ParticleState::new(&land, init.clone());
        step_particles_scalar(&land, &rule, &mut want, 120, 1);
        let k = block_kernel(&land, &rule).unwrap();
        let mut got = [
            ParticleState::new(&land, init.clone()),
            ParticleState::new(&land, init.clone()),
            ParticleState::new(&land, init),
        ];
        for (w, g) in got.iter_mut().enumerate() {
            let span = sgdlab_stepper::Span {
                first: 0,
                offset: 0,
                steps: 120,
                pos: &mut g.pos,
                meta: &mut g.meta,
                stats: &mut g.stats,
            };
            match w {
                0 => k.run_blocks::<4>(span),
                1 => k.run_blocks::<8>(span),
                _ => k.run_blocks::<16>(span),
            }
            g.steps_done = 120;
            assert_eq!(*g, want, "block width {}", [4, 8, 16][w]);
        }
    }
}
