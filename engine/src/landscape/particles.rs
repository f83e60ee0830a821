//! Particle SGD on a test landscape: N independent particles, each stepped by
//! `x ← x + clip(−η (∇f(x) + ω))`, with per-particle basin bookkeeping (current basin, first exit
//! step from the starting basin, occupation counts, basin-to-basin transitions).
//!
//! With Gaussian noise this is the SGD of Kleinberg, Li, Yuan (ICML 2018); with Pareto or
//! α-stable noise and [`Clip::Truncate`] it is the truncated heavy-tailed SGD of Wang, Oh, Rhee
//! (2021, eq. 1.3), whose first exit time from a basin of radius r scales as
//! `η^{−(1 + l*(α−1))}` with `l* = ⌈r/b⌉`.
//!
//! [`step_particles_cpu`] is the plain Rust reference of the WGSL kernel
//! `shaders/src/particle_sgd.wgsl`: the same draws, formulas and order, split over threads with
//! `std::thread::scope`.

use super::clip::clip_norm;
use super::counter_rng::CounterRng;
use super::particles_simd::{MAX_LANES, block_kernel};
use super::rule::StepRule;
use super::surface::{MAX_BASINS, NO_BASIN, PackedLandscape};
use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use sgdlab_stepper::Span;

pub use sgdlab_stepper::{DIVERGED, NEVER, STAT_STRIDE};
/// The most particles one run takes (the kernel's 2-D dispatch and u32 indices bound it).
pub const MAX_PARTICLES: usize = 1 << 26;

/// Checks a particle count: 1 to [`MAX_PARTICLES`].
pub fn validate_particles(n: usize, field: &str) -> Result<()> {
    check::count(field, n, 1, MAX_PARTICLES)
}

/// The state of N particles: positions, bookkeeping and counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParticleState {
    /// Positions (`y` is 0 in one dimension).
    pub pos: Vec<[f32; 2]>,
    /// Per particle `[label, first_exit_step, start_label, last_basin]`.
    pub meta: Vec<[u32; 4]>,
    /// Per particle [`STAT_STRIDE`] counters.
    pub stats: Vec<u32>,
    /// Steps taken so far.
    pub steps_done: u32,
}

impl ParticleState {
    /// Particles at `pos`, labelled on `land`.
    pub fn new(land: &PackedLandscape, pos: Vec<[f32; 2]>) -> Self {
        let meta = pos
            .iter()
            .map(|&x| {
                let l = land.label(x);
                [l, NEVER, l, if l < NO_BASIN { l } else { NO_BASIN }]
            })
            .collect();
        let stats = vec![0; pos.len() * STAT_STRIDE];
        Self {
            pos,
            meta,
            stats,
            steps_done: 0,
        }
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.pos.len()
    }

    /// Whether there are no particles.
    pub fn is_empty(&self) -> bool {
        self.pos.is_empty()
    }

    /// How many particles of `other` agree with these: the same basin label, and each
    /// coordinate within 1e-3 of this one's relative to 1 + |x|. The CPU↔GPU tolerance of the
    /// particle kernel (`tests/tests/landscapes.rs`, the browser's self-check): transcendental
    /// functions differ by a few ulps between Rust and a driver, which a rare particle near a
    /// basin edge amplifies. 0 when the two hold different numbers of particles.
    pub fn agreeing(&self, other: &Self) -> usize {
        let n = self.pos.len();
        if [self.meta.len(), other.pos.len(), other.meta.len()] != [n; 3] {
            return 0;
        }
        (0..n)
            .filter(|&i| {
                let (a, b) = (self.pos[i], other.pos[i]);
                (0..2).all(|k| (a[k] - b[k]).abs() <= 1e-3 * (1.0 + a[k].abs()))
                    && self.meta[i][0] == other.meta[i][0]
            })
            .count()
    }

    /// Aggregates over particles (integer sums: the same on every backend for the same counts).
    pub fn summary(&self) -> ParticleSummary {
        let mut s = ParticleSummary {
            particles: self.len(),
            steps: self.steps_done,
            ..ParticleSummary::default()
        };
        for (i, m) in self.meta.iter().enumerate() {
            let st = &self.stats[i * STAT_STRIDE..(i + 1) * STAT_STRIDE];
            for (k, v) in st[..6].iter().enumerate() {
                s.occupation[k] += u64::from(*v);
            }
            for (k, v) in st[6..].iter().enumerate() {
                s.transitions[k / MAX_BASINS][k % MAX_BASINS] += u64::from(*v);
            }
            if m[0] == DIVERGED {
                s.diverged += 1;
            } else {
                s.final_label[m[0] as usize] += 1;
            }
            let start = m[2] as usize;
            s.started[start] += 1;
            if m[1] != NEVER {
                s.exited[start] += 1;
                s.exit_time_sum[start] += u64::from(m[1]);
            } else {
                s.exit_time_sum[start] += u64::from(self.steps_done);
            }
        }
        s
    }
}

/// Aggregate basin statistics of a particle run. Index 0..3 are basins, 4 is "no basin".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParticleSummary {
    /// Particles.
    pub particles: usize,
    /// Steps each took.
    pub steps: u32,
    /// Particle-steps spent per label (basins 0..3, no basin, diverged).
    pub occupation: [u64; 6],
    /// Basin-to-basin transitions `[from][to]`.
    pub transitions: [[u64; MAX_BASINS]; MAX_BASINS],
    /// Particles that diverged.
    pub diverged: usize,
    /// Particles per label at the end (basins 0..3, no basin).
    pub final_label: [usize; 5],
    /// Particles per starting label.
    pub started: [usize; 5],
    /// Particles per starting label that left it within the run.
    pub exited: [usize; 5],
    /// Sum over particles per starting label of `min(first exit step, steps)`.
    pub exit_time_sum: [u64; 5],
}

impl ParticleSummary {
    /// The mean first exit time from starting basin `k`, censoring-corrected: the maximum
    /// likelihood estimate under an exponential exit law, `Σ min(τᵢ, T) / #exits`. Infinite when
    /// no particle exited, NaN when none started there.
    pub fn mean_exit_time(&self, k: usize) -> f64 {
        if self.started[k] == 0 {
            f64::NAN
        } else if self.exited[k] == 0 {
            f64::INFINITY
        } else {
            self.exit_time_sum[k] as f64 / self.exited[k] as f64
        }
    }

    /// The fraction of particle-steps spent in label `k` (of all non-diverged particle-steps).
    pub fn occupation_fraction(&self, k: usize) -> f64 {
        let total: u64 = self.occupation[..5].iter().sum();
        if total == 0 {
            f64::NAN
        } else {
            self.occupation[k] as f64 / total as f64
        }
    }
}

/// Steps every particle `steps` times from global step `state.steps_done`, on `threads` threads
/// (the CPU twin of the particle kernel). Bump-well landscapes with no noise or Pareto noise go to
/// the vectorized block stepper (`particles_simd`), everything else to the scalar reference
/// [`step_particles_scalar`]; both give the same bits for the same particle, and the result does
/// not depend on `threads`.
pub fn step_particles_cpu(
    land: &PackedLandscape,
    rule: &StepRule,
    state: &mut ParticleState,
    steps: u32,
    threads: usize,
) {
    let Some(kernel) = block_kernel(land, rule) else {
        step_particles_scalar(land, rule, state, steps, threads);
        return;
    };
    let offset = state.steps_done;
    let n = state.len();
    // Whole blocks per thread.
    let chunk = n.div_ceil(threads.max(1)).div_ceil(MAX_LANES).max(1) * MAX_LANES;
    if threads <= 1 || n <= chunk {
        kernel.run(Span {
            first: 0,
            offset,
            steps,
            pos: &mut state.pos,
            meta: &mut state.meta,
            stats: &mut state.stats,
        });
    } else {
        std::thread::scope(|scope| {
            let parts = state
                .pos
                .chunks_mut(chunk)
                .zip(state.meta.chunks_mut(chunk))
                .zip(state.stats.chunks_mut(chunk * STAT_STRIDE));
            for (c, ((pos, meta), stats)) in parts.enumerate() {
                let kernel = &kernel;
                scope.spawn(move || {
                    kernel.run(Span {
                        first: (c * chunk) as u32,
                        offset,
                        steps,
                        pos,
                        meta,
                        stats,
                    });
                });
            }
        });
    }
    state.steps_done += steps;
}

/// The scalar reference: each particle stepped on its own, exactly as the WGSL kernel writes it
/// (same draws, formulas and order), split over `threads` threads.
pub fn step_particles_scalar(
    land: &PackedLandscape,
    rule: &StepRule,
    state: &mut ParticleState,
    steps: u32,
    threads: usize,
) {
    let dim = land.0[1] as u32;
    let offset = state.steps_done;
    let n = state.len();
    let chunk = n.div_ceil(threads.max(1)).max(1);
    if threads <= 1 {
        // No thread at all (the only option on wasm32).
        for (j, (x, m)) in state.pos.iter_mut().zip(state.meta.iter_mut()).enumerate() {
            let st = &mut state.stats[j * STAT_STRIDE..(j + 1) * STAT_STRIDE];
            step_one(land, rule, dim, j as u32, offset, steps, x, m, st);
        }
        state.steps_done += steps;
        return;
    }
    std::thread::scope(|scope| {
        let parts = state
            .pos
            .chunks_mut(chunk)
            .zip(state.meta.chunks_mut(chunk))
            .zip(state.stats.chunks_mut(chunk * STAT_STRIDE));
        for (c, ((pos, meta), stats)) in parts.enumerate() {
            scope.spawn(move || {
                for (j, (x, m)) in pos.iter_mut().zip(meta.iter_mut()).enumerate() {
                    let st = &mut stats[j * STAT_STRIDE..(j + 1) * STAT_STRIDE];
                    step_one(
                        land,
                        rule,
                        dim,
                        (c * chunk + j) as u32,
                        offset,
                        steps,
                        x,
                        m,
                        st,
                    );
                }
            });
        }
    });
    state.steps_done += steps;
}

#[allow(clippy::too_many_arguments)] // mirrors the kernel's per-invocation state
#[inline]
fn step_one(
    land: &PackedLandscape,
    rule: &StepRule,
    dim: u32,
    particle: u32,
    offset: u32,
    steps: u32,
    x: &mut [f32; 2],
    m: &mut [u32; 4],
    st: &mut [u32],
) {
    let (clip_kind, clip) = rule.clip.code();
    for s in 0..steps {
        let step = offset + s;
        if m[0] == DIVERGED {
            st[DIVERGED as usize] += 1;
            continue;
        }
        let r = CounterRng {
            seed: rule.seed,
            particle,
            step,
        };
        let z = rule.noise.sample(&r, dim);
        let gf = land.grad(*x);
        let mut g = [gf[0] + z[0], gf[1] + z[1]];
        if clip_kind == 2 {
            g = clip_norm(g, clip);
        }
        let mut w = [-rule.lr * g[0], -rule.lr * g[1]];
        if clip_kind == 1 {
            w = clip_norm(w, clip);
        }
        *x = [x[0] + w[0], x[1] + w[1]];
        // Written so that NaN counts as outside.
        let inside = x[0].abs() < rule.diverge_radius && x[1].abs() < rule.diverge_radius;
        if !inside {
            m[0] = DIVERGED;
            if m[1] == NEVER {
                m[1] = step + 1;
            }
            st[DIVERGED as usize] += 1;
            continue;
        }
        let l = land.label(*x);
        m[0] = l;
        if l != m[2] && m[1] == NEVER {
            m[1] = step + 1;
        }
        if l < NO_BASIN {
            if m[3] < NO_BASIN && m[3] != l {
                st[6 + (m[3] * 4 + l) as usize] += 1;
            }
            m[3] = l;
        }
        st[l as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::{Clip, Landscape, Noise, NoiseKind};

    #[test]
    fn agreement_is_within_1e3_relative_with_the_same_label() {
        let n = 1024;
        let state = |pos: Vec<[f32; 2]>, labels: &[u32]| ParticleState {
            meta: labels.iter().map(|&l| [l, NEVER, l, l]).collect(),
            stats: vec![0; pos.len() * STAT_STRIDE],
            pos,
            steps_done: 64,
        };
        let pos: Vec<[f32; 2]> = (0..n).map(|i| [i as f32 * 0.01 - 5.0, 0.0]).collect();
        let labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let cpu = state(pos.clone(), &labels);
        assert_eq!(cpu.agreeing(&cpu), n);
        let near: Vec<[f32; 2]> = pos
            .iter()
            .map(|p| [p[0] + 0.9e-3 * (1.0 + p[0].abs()), p[1]])
            .collect();
        assert_eq!(cpu.agreeing(&state(near, &labels)), n);
        let mut off = pos.clone();
        for p in off.iter_mut().take(11) {
            p[0] += 1.0;
        }
        assert_eq!(cpu.agreeing(&state(off, &labels)), n - 11);
        let mut relabelled = labels.clone();
        for l in relabelled.iter_mut().take(20) {
            *l += 1;
        }
        assert_eq!(cpu.agreeing(&state(pos.clone(), &relabelled)), n - 20);
        assert_eq!(cpu.agreeing(&state(pos[1..].to_vec(), &labels[1..])), 0);
    }

    fn rule(noise: Noise, clip: Clip, lr: f32) -> StepRule {
        StepRule {
            lr,
            noise,
            clip,
            diverge_radius: 1e6,
            seed: 5,
        }
    }

    #[test]
    fn gradient_descent_on_a_quadratic_contracts_geometrically() {
        let land = Landscape::Ripple {
            dim: 2,
            a: 1.0,
            amp: 0.0,
            omega: 1.0,
        }
        .packed();
        let mut st = ParticleState::new(&land, vec![[1.0, -2.0]]);
        step_particles_cpu(&land, &rule(Noise::NONE, Clip::None, 0.1), &mut st, 10, 1);
        let k = 0.9f32.powi(10);
        assert!((st.pos[0][0] - k).abs() < 1e-5 && (st.pos[0][1] + 2.0 * k).abs() < 1e-5);
    }

    #[test]
    fn truncation_bounds_every_step() {
        let land = Landscape::sharp_and_wide_1d(0.5, 2.0, 1.0).packed();
        let r = rule(
            Noise::new(NoiseKind::Pareto, 1.0, 1.2),
            Clip::Truncate { b: 0.3 },
            0.5,
        );
        let mut st = ParticleState::new(&land, vec![[0.0, 0.0]; 64]);
        for _ in 0..50 {
            let before = st.pos.clone();
            step_particles_cpu(&land, &r, &mut st, 1, 2);
            for (a, b) in before.iter().zip(&st.pos) {
                assert!((a[0] - b[0]).abs() <= 0.3 + 1e-6);
            }
        }
    }

    #[test]
    fn split_runs_and_thread_counts_agree_exactly() {
        let land = Landscape::sharp_and_wide_2d(0.5, 2.0, 1.0).packed();
        let r = rule(
            Noise::new(NoiseKind::Stable, 0.5, 1.5),
            Clip::Truncate { b: 0.5 },
            0.2,
        );
        let init: Vec<[f32; 2]> = (0..37).map(|i| [i as f32 * 0.1 - 1.8, 0.0]).collect();
        let mut a = ParticleState::new(&land, init.clone());
        step_particles_cpu(&land, &r, &mut a, 200, 1);
        let mut b = ParticleState::new(&land, init);
        step_particles_cpu(&land, &r, &mut b, 120, 3);
        step_particles_cpu(&land, &r, &mut b, 80, 2);
        assert_eq!(a, b);
        let s = a.summary();
        let total: u64 = s.occupation.iter().sum();
        assert_eq!(total, 37 * 200);
    }

    /// The vectorized stepper against the scalar reference, bit for bit: 1-D and 2-D wells,
    /// Pareto and no noise, every clipping mode, a short last block, diverging particles and
    /// runs split over calls and threads.
    #[test]
    fn vectorized_stepper_equals_the_scalar_reference_bit_for_bit() {
        let cases = [
            (
                Landscape::sharp_and_wide_2d(0.5, 1.0, 1.0),
                Noise::new(NoiseKind::Pareto, 1.0, 1.5),
                Clip::Truncate { b: 0.4 },
                0.05,
            ),
            (
                Landscape::sharp_and_wide_1d(0.5, 2.0, 1.0),
                Noise::new(NoiseKind::Pareto, 0.7, 1.2),
                Clip::None,
                0.1,
            ),
            (
                Landscape::sharp_and_wide_2d(0.3, 1.5, 2.0),
                Noise::new(NoiseKind::Pareto, 2.0, 1.8),
                Clip::GradNorm { c: 3.0 },
                0.2,
            ),
            (
                Landscape::sharp_and_wide_1d(0.5, 1.0, 1.0),
                Noise::NONE,
                Clip::None,
                0.3,
            ),
        ];
        for (land, noise, clip, lr) in cases {
            let packed = land.packed();
            let mut r = rule(noise, clip, lr);
            r.diverge_radius = 6.0;
            assert!(super::super::particles_simd::block_kernel(&packed, &r).is_some());
            let init: Vec<[f32; 2]> = (0..203)
                .map(|i| {
                    let t = i as f32 * 0.37;
                    let y = if land.dim() == 2 {
                        (t * 1.3).cos()
                    } else {
                        0.0
                    };
                    [3.5 * t.sin(), y]
                })
                .collect();
            let mut a = ParticleState::new(&packed, init.clone());
            step_particles_scalar(&packed, &r, &mut a, 300, 1);
            let mut b = ParticleState::new(&packed, init);
            step_particles_cpu(&packed, &r, &mut b, 170, 2);
            step_particles_cpu(&packed, &r, &mut b, 130, 3);
            assert_eq!(a, b, "{land:?} {noise:?} {clip:?}");
            let s = a.summary();
            assert!(s.exited.iter().sum::<usize>() > 0);
            assert!(s.transitions.iter().flatten().sum::<u64>() > 0 || noise == Noise::NONE);
        }
    }

    #[test]
    fn a_diverging_particle_is_counted_not_a_crash() {
        let land = Landscape::Ripple {
            dim: 1,
            a: 1.0,
            amp: 0.0,
            omega: 1.0,
        }
        .packed();
        // lr · a = 3 > 2: gradient descent on the quadratic blows up.
        let mut st = ParticleState::new(&land, vec![[1.0, 0.0], [0.0, 0.0]]);
        step_particles_cpu(&land, &rule(Noise::NONE, Clip::None, 3.0), &mut st, 100, 1);
        let s = st.summary();
        assert_eq!(s.diverged, 1);
        assert_eq!(st.meta[1][0], 0, "the particle at the minimum stays");
        assert!(s.occupation[DIVERGED as usize] > 0);
    }

    #[test]
    fn censored_exit_time_estimate() {
        let mut s = ParticleSummary {
            steps: 100,
            ..ParticleSummary::default()
        };
        s.started[1] = 3;
        s.exited[1] = 2;
        s.exit_time_sum[1] = 10 + 30 + 100;
        assert!((s.mean_exit_time(1) - 70.0).abs() < 1e-12);
        assert!(s.mean_exit_time(0).is_nan());
    }
}
