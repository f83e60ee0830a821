//! Landscapes, particle SGD and the two landscape experiments end to end: the WGSL kernels
//! against their Rust references on the same seeds (on lavapipe here), the experiments' signatures
//! with fixed seeds, and every bad-input path of `sgdlab run smoothing|sharp-minima` and
//! `sgdlab bench particles|smoothing-grid` exiting with code 2 and naming the parameter.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::gpu::{GpuContext, GpuParticles, smooth_grid_gpu};
use sgdlab_engine::landscape::{
    Clip, Grid, Landscape, Noise, NoiseKind, ParticleState, Smoothing, StepRule, smooth_grid_cpu,
    step_particles_cpu,
};
use sgdlab_tests::wgpu_or_skip;

fn starts(n: usize, dim: u32, range: f32) -> Vec<[f32; 2]> {
    let mut rng = sgdlab_engine::rng::SplitMix64::new(42);
    (0..n)
        .map(|_| {
            let x = (2.0 * rng.next_f32() - 1.0) * range;
            let y = (2.0 * rng.next_f32() - 1.0) * range;
            [x, if dim == 2 { y } else { 0.0 }]
        })
        .collect()
}

/// The cases the kernel is checked on: every noise kind and clipping mode appears once.
fn cases() -> Vec<(&'static str, Landscape, StepRule)> {
    let rule = |lr, noise, clip| StepRule {
        lr,
        noise,
        clip,
        diverge_radius: 1e6,
        seed: 0xdead_beef_1234,
    };
    vec![
        (
            "1-D wells, Pareto, truncated",
            Landscape::sharp_and_wide_1d(0.5, 1.0, 1.0),
            rule(
                0.05,
                Noise::new(NoiseKind::Pareto, 1.0, 1.5),
                Clip::Truncate { b: 0.4 },
            ),
        ),
        (
            "2-D spiky bowl, Gaussian",
            Landscape::spiky_bowl_2d(),
            rule(0.05, Noise::new(NoiseKind::Gaussian, 2.0, 2.0), Clip::None),
        ),
        (
            "2-D wells, stable, gradient clipping",
            Landscape::sharp_and_wide_2d(0.5, 1.0, 1.0),
            rule(
                0.05,
                Noise::new(NoiseKind::Stable, 0.5, 1.3),
                Clip::GradNorm { c: 5.0 },
            ),
        ),
        (
            "2-D Gaussian mixture, uniform ball",
            Landscape::gaussian_mixture_2d(),
            // lr below 2 / curvature of the narrow component (h / r² = 53), so that the
            // deterministic part is not chaotic and ulp differences do not grow.
            rule(
                0.02,
                Noise::new(NoiseKind::UniformBall, 3.0, 2.0),
                Clip::None,
            ),
        ),
    ]
}

/// Tolerance: after 64 steps at least 99% of particles agree to 1e-3 (relative to 1 + |x|) and
/// carry the same label; transcendental functions differ by a few ulps between Rust's libm and
/// the driver, and a rare particle near a basin edge or a heavy-tailed jump may amplify that.
/// Over 2000 steps the occupation fractions per basin agree within 0.02.
#[test]
fn particle_kernel_matches_the_cpu_reference() {
    let Some(_dev) = wgpu_or_skip("particle_kernel_matches_the_cpu_reference") else {
        return;
    };
    let ctx = GpuContext::shared().unwrap();
    for (name, land, rule) in cases() {
        let packed = land.packed();
        let n = 4096;
        let init = ParticleState::new(&packed, starts(n, land.dim(), 2.0));
        let mut cpu = init.clone();
        let mut gpu = GpuParticles::new(&ctx, &packed, &rule, &init).unwrap();
        step_particles_cpu(&packed, &rule, &mut cpu, 64, 2);
        gpu.step(64);
        let g = gpu.read().unwrap();
        assert_eq!(g.steps_done, 64);
        let close = (0..n)
            .filter(|&i| {
                let (a, b) = (cpu.pos[i], g.pos[i]);
                (0..2).all(|k| (a[k] - b[k]).abs() <= 1e-3 * (1.0 + a[k].abs()))
                    && cpu.meta[i][0] == g.meta[i][0]
            })
            .count();
        assert!(
            close * 100 >= n * 99,
            "{name}: only {close}/{n} particles agree after 64 steps"
        );
        step_particles_cpu(&packed, &rule, &mut cpu, 1936, 2);
        gpu.step(1936);
        let (sc, sg) = (cpu.summary(), gpu.read().unwrap().summary());
        assert_eq!(sg.steps, 2000);
        for k in 0..5 {
            let (a, b) = (sc.occupation_fraction(k), sg.occupation_fraction(k));
            assert!(
                (a - b).abs() < 0.02,
                "{name}: basin {k} occupation cpu {a} vs gpu {b}"
            );
        }
        assert_eq!(sc.diverged, sg.diverged, "{name}: diverged counts");
    }
}

/// Same grid, same draws: the kernel's smoothed values agree with the reference to 1e-4 relative.
#[test]
fn smooth_grid_kernel_matches_the_cpu_reference() {
    let Some(_dev) = wgpu_or_skip("smooth_grid_kernel_matches_the_cpu_reference") else {
        return;
    };
    let ctx = GpuContext::shared().unwrap();
    for (land, noise) in [
        (
            Landscape::spiky_bowl_2d(),
            Noise::new(NoiseKind::Gaussian, 3.0, 2.0),
        ),
        (
            Landscape::gaussian_mixture_2d(),
            Noise::new(NoiseKind::Pareto, 0.5, 1.5),
        ),
        (
            Landscape::spiky_bowl_1d(),
            Noise::new(NoiseKind::Stable, 1.0, 1.7),
        ),
    ] {
        let packed = land.packed();
        let s = Smoothing {
            noise,
            lr: 0.05,
            samples: 128,
            seed: 77,
        };
        let grid = if land.dim() == 1 {
            Grid::line(301, -3.0, 3.0)
        } else {
            Grid {
                nx: 40,
                ny: 30,
                x: (-3.0, 3.0),
                y: (-2.0, 2.0),
            }
        };
        let a = smooth_grid_cpu(&packed, &s, land.dim(), &grid, 2);
        let b = smooth_grid_gpu(&ctx, &packed, &s, &grid).unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                "{land:?} point {i}: cpu {x} vs gpu {y}"
            );
        }
    }
}
