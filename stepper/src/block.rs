//! The vectorized particle stepper: blocks of 8 or 16 particles in structure-of-arrays form,
//! held in registers (and the L1-resident stack) for all the steps of one call, with every
//! operation written as a branch-free loop over the lanes so that the compiler emits packed
//! instructions (checked with objdump: `vpmulld`, `vpsrlvd`, `vsqrtps`, `vdivps`, `vblendvps` on
//! ymm registers). The loop is compiled three times: for AVX-512 (16 lanes) and AVX2 (8 lanes),
//! chosen at run time when the CPU has them, and for the target's baseline (SSE2 on x86-64,
//! SIMD128 in a browser); no global target flags.
//!
//! It covers bump-well landscapes (the sharp-minima experiment and `sgdlab bench particles`) with
//! no noise or Pareto noise and every clipping mode; `sgdlab_engine::landscape::step_particles_cpu` sends those
//! here and everything else to the scalar reference. Each lane computes exactly what the scalar
//! reference computes for that particle (same draws, same operations in the same order, the same
//! [`crate::fastmath`] functions; Rust never fuses a multiply and an add), so both give the same
//! bits, whatever the number of threads or the block a particle falls in (tested).
//!
//! Bookkeeping is done every step, in the lanes: the label comes from the distances to the well
//! centres that the next step's gradient needs anyway, occupation counts stay in lane counters
//! until the end of the call, and transitions (rare: a particle changing wells) are written to the
//! particle's counters by scalar code only in a step where some lane made one. First exit times
//! are exact to the step; no experiment needs the bookkeeping thinned to every k steps.

// Lane loops index several arrays by the lane on purpose: that is the shape the vectorizer wants.
#![allow(clippy::needless_range_loop)]

use crate::counter_rng::{particle_prefix, pcg_hash, to_unit};
use crate::fastmath::{pow_unit, sin_pi};
use crate::{DIVERGED, MAX_BASINS, NEVER, NO_BASIN, STAT_STRIDE};
use std::f32::consts::PI;

/// The instruction set the block stepper runs with on this CPU: `avx512f` (blocks of 16, one
/// register), `avx2` (blocks of 8, one register), or `baseline` (the target's own: SSE2 on
/// x86-64, SIMD128 in a browser; blocks of 8 in two registers).
pub fn simd_level() -> String {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return "avx512f".into();
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return "avx2".into();
    }
    "baseline".into()
}

/// Particles per block on the baseline build (SSE2 or SIMD128: two 4-lane registers); the AVX2
/// build takes 8 and the AVX-512 build 16.
pub const LANES: usize = 8;
/// The widest block: thread chunks are multiples of it.
pub const MAX_LANES: usize = 16;

/// The step rule and landscape, unpacked for the block kernel.
#[derive(Clone, Copy, Debug)]
pub struct BlockKernel {
    /// `-lr`.
    pub neg_lr: f32,
    /// The noise scale.
    pub sigma: f32,
    /// `-1 / α` (Pareto).
    pub p: f32,
    /// Pareto noise (else none).
    pub pareto: bool,
    /// 0: none, 1: clip the step, 2: clip the gradient (`Clip::code`).
    pub clip_kind: u32,
    /// The clipping bound.
    pub clip: f32,
    /// Particles beyond this are frozen as diverged.
    pub radius: f32,
    /// One-dimensional (y stays 0).
    pub dim1: bool,
    /// The run's seed.
    pub seed: u64,
    /// The walls' stiffness.
    pub wall: f32,
    /// The box's lower corner.
    pub lo: [f32; 2],
    /// The box's upper corner.
    pub hi: [f32; 2],
    /// Wells in use (1..=MAX_BASINS).
    pub nw: usize,
    /// Per well: centre x, centre y, radius, depth.
    pub wells: [[f32; 4]; MAX_BASINS],
}

/// Particles for [`BlockKernel::run`]: `first..first + pos.len()` (their index addresses the
/// generator), stepped `steps` times from global step `offset`; `pos`, `meta` and `stats` are
/// theirs.
pub struct Span<'a> {
    /// Index of the first particle.
    pub first: u32,
    /// Steps already taken (the generator's step address of the first new step).
    pub offset: u32,
    /// Steps to take.
    pub steps: u32,
    /// Positions.
    pub pos: &'a mut [[f32; 2]],
    /// Per particle `[label, first_exit_step, start_label, last_basin]`.
    pub meta: &'a mut [[u32; 4]],
    /// Per particle `STAT_STRIDE` counters.
    pub stats: &'a mut [u32],
}

impl BlockKernel {
    /// Steps `span`'s particles block by block, with AVX-512 or AVX2 when the CPU has it
    /// (AVX-512 measured 20% less CPU time than AVX2 on this machine's Xeon).
    // The one `unsafe` of the stepper: calling the AVX-512 or AVX2 build of the loop, after
    // checking that the CPU has it. (pulp's safe `Arch::dispatch` needs pulp's `x86-v3` feature, which burn's
    // gemm does not turn on: enabling it rebuilds the whole burn CPU stack.)
    #[allow(unsafe_code)]
    pub fn run(&self, span: Span<'_>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: `run_avx512`'s only requirement is a CPU with AVX-512F, checked just above.
            unsafe { self.run_avx512(span) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `run_avx2`'s only requirement is a CPU with AVX2, checked just above.
            unsafe { self.run_avx2(span) };
            return;
        }
        self.run_blocks::<LANES>(span);
    }

    /// [`Self::run_blocks`] compiled for AVX2 (8 f32 lanes per register).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(&self, span: Span<'_>) {
        self.run_blocks::<8>(span);
    }

    /// [`Self::run_blocks`] compiled for AVX-512 (16 f32 lanes per register).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn run_avx512(&self, span: Span<'_>) {
        self.run_blocks::<16>(span);
    }

    /// [`Self::run`] with blocks of exactly `L` particles (what `run` picks for the CPU; tests
    /// use it to check every width against the scalar reference).
    #[inline(always)]
    pub fn run_blocks<const L: usize>(&self, span: Span<'_>) {
        let Span {
            first,
            offset,
            steps,
            pos,
            meta,
            stats,
        } = span;
        for (b, ((p, m), s)) in pos
            .chunks_mut(L)
            .zip(meta.chunks_mut(L))
            .zip(stats.chunks_mut(L * STAT_STRIDE))
            .enumerate()
        {
            self.block::<L>(first + (b * L) as u32, offset, steps, p, m, s);
        }
    }

    /// The noise of every lane at `step`: draws 0 and 1 (x), 2 and 3 (y), as `Noise::sample`.
    #[inline(always)]
    fn noise_lanes<const L: usize>(
        &self,
        hp: &[u32; L],
        step: u32,
        zx: &mut [f32; L],
        zy: &mut [f32; L],
    ) {
        if self.pareto {
            let (sigma, p) = (self.sigma, self.p);
            for i in 0..L {
                let h = pcg_hash(hp[i] ^ step);
                let m = pow_unit(to_unit(pcg_hash(h)), p) - 1.0;
                let neg = to_unit(pcg_hash(h ^ 1)) < 0.5;
                zx[i] = sigma * if neg { -m } else { m };
                let m = pow_unit(to_unit(pcg_hash(h ^ 2)), p) - 1.0;
                let neg = to_unit(pcg_hash(h ^ 3)) < 0.5;
                zy[i] = sigma * if neg { -m } else { m };
            }
            if self.dim1 {
                *zy = [sigma * 0.0; L];
            }
        } else {
            *zx = [self.sigma * 0.0; L];
            *zy = *zx;
        }
    }

    /// One block of up to `L` particles (a short last block is padded with idle lanes).
    #[inline(always)]
    fn block<const L: usize>(
        &self,
        first: u32,
        offset: u32,
        steps: u32,
        pos: &mut [[f32; 2]],
        meta: &mut [[u32; 4]],
        stats: &mut [u32],
    ) {
        let n = pos.len();
        let mut x = [0.0f32; L];
        let mut y = [0.0f32; L];
        let mut lab = [NO_BASIN; L];
        let mut fe = [NEVER; L];
        let mut start = [NO_BASIN; L];
        let mut last = [NO_BASIN; L];
        let mut occ = [[0u32; L]; 6];
        let mut hp = [0u32; L];
        for i in 0..n {
            [x[i], y[i]] = pos[i];
            [lab[i], fe[i], start[i], last[i]] = meta[i];
            hp[i] = particle_prefix(self.seed, first + i as u32);
        }
        let nw = self.nw;
        let wells = &self.wells;
        // Distances to the well centres at the current positions (the gradient and the label
        // both use them; the reference computes the same numbers twice).
        let mut dist = [[0.0f32; L]; MAX_BASINS];
        for (k, dk) in dist.iter_mut().enumerate().take(nw) {
            let [cx, cy, _, _] = wells[k];
            for i in 0..L {
                let (vx, vy) = (x[i] - cx, y[i] - cy);
                dk[i] = (vx * vx + vy * vy).sqrt();
            }
        }
        let mut gx = [0.0f32; L];
        let mut gy = [0.0f32; L];
        let mut zx = [0.0f32; L];
        let mut zy = [0.0f32; L];
        let mut trans = [0u32; L];
        for s in 0..steps {
            let step = offset + s;
            self.noise_lanes::<L>(&hp, step, &mut zx, &mut zy);
            // Gradient: walls, then each well (PackedLandscape::grad).
            let (w, lo, hi) = (self.wall, self.lo, self.hi);
            for i in 0..L {
                gx[i] = w * (pos_part(x[i] - hi[0]) - pos_part(lo[0] - x[i]));
                gy[i] = w * (pos_part(y[i] - hi[1]) - pos_part(lo[1] - y[i]));
            }
            for (k, dk) in dist.iter().enumerate().take(nw) {
                let [cx, cy, r, h] = wells[k];
                let (r2, dr) = (PI / (r * r), 1e-6 * r);
                for i in 0..L {
                    let (vx, vy) = (x[i] - cx, y[i] - cy);
                    let d = dk[i];
                    let u = d / r;
                    let s = if d > dr { sin_pi(u) / (d * r) } else { r2 };
                    let coef = 0.5 * PI * h * s;
                    let inside = u < 1.0;
                    gx[i] = if inside { gx[i] + coef * vx } else { gx[i] };
                    gy[i] = if inside { gy[i] + coef * vy } else { gy[i] };
                }
            }
            if self.dim1 {
                gy = [0.0; L];
            }
            for i in 0..L {
                gx[i] += zx[i];
                gy[i] += zy[i];
            }
            if self.clip_kind == 2 {
                clip_lanes::<L>(&mut gx, &mut gy, self.clip);
            }
            for i in 0..L {
                gx[i] *= self.neg_lr;
                gy[i] *= self.neg_lr;
            }
            if self.clip_kind == 1 {
                clip_lanes::<L>(&mut gx, &mut gy, self.clip);
            }
            // The move, for particles not yet diverged.
            let rad = self.radius;
            let mut alive = [false; L];
            let mut inside = [false; L];
            for i in 0..L {
                alive[i] = lab[i] != DIVERGED;
                let (nx, ny) = (x[i] + gx[i], y[i] + gy[i]);
                x[i] = if alive[i] { nx } else { x[i] };
                y[i] = if alive[i] { ny } else { y[i] };
                // Written so that NaN counts as outside.
                inside[i] = nx.abs() < rad && ny.abs() < rad;
            }
            // Distances and label at the new positions: the first well whose disc holds x.
            let mut label = [NO_BASIN; L];
            for k in (0..nw).rev() {
                let [cx, cy, r, _] = wells[k];
                let dk = &mut dist[k];
                for i in 0..L {
                    let (vx, vy) = (x[i] - cx, y[i] - cy);
                    dk[i] = (vx * vx + vy * vy).sqrt();
                    label[i] = if dk[i] < r { k as u32 } else { label[i] };
                }
            }
            // Bookkeeping, as the reference's per-particle branches.
            let mut any = 0u32;
            for i in 0..L {
                let live = alive[i];
                let l = if inside[i] { label[i] } else { DIVERGED };
                let new_lab = if live { l } else { lab[i] };
                let exits = live && fe[i] == NEVER && (!inside[i] || l != start[i]);
                fe[i] = if exits { step + 1 } else { fe[i] };
                let basin = live && inside[i] && l < NO_BASIN;
                let t = basin && last[i] < NO_BASIN && last[i] != l;
                trans[i] = if t { 6 + last[i] * 4 + l } else { 0 };
                any |= trans[i];
                last[i] = if basin { l } else { last[i] };
                lab[i] = new_lab;
            }
            for (k, o) in occ.iter_mut().enumerate() {
                for i in 0..L {
                    o[i] += u32::from(lab[i] == k as u32);
                }
            }
            if any != 0 {
                for (i, &t) in trans.iter().enumerate().take(n) {
                    if t != 0 {
                        stats[i * STAT_STRIDE + t as usize] += 1;
                    }
                }
            }
        }
        for i in 0..n {
            pos[i] = [x[i], y[i]];
            meta[i] = [lab[i], fe[i], start[i], last[i]];
            for (k, o) in occ.iter().enumerate() {
                stats[i * STAT_STRIDE + k] += o[i];
            }
        }
    }
}

/// `clip_norm` on every lane: `w · min(1, b/‖w‖)`, as the reference.
#[inline(always)]
fn clip_lanes<const L: usize>(wx: &mut [f32; L], wy: &mut [f32; L], b: f32) {
    for i in 0..L {
        let n = (wx[i] * wx[i] + wy[i] * wy[i]).sqrt();
        // `if n > b { w · b/n } else { w }` without a branch: b/n ≥ 1 exactly when n ≤ b (or n
        // is 0 or NaN, where the comparison is false), and w · 1 = w. A select, not `min`: see
        // [`pos_part`].
        let q = b / n;
        let s = if q < 1.0 { q } else { 1.0 };
        wx[i] *= s;
        wy[i] *= s;
    }
}

/// `a.max(0.0)` as a compare and select, the same bits for every `a` (NaN and −0 give +0 both
/// ways). `f32::max` is IEEE maxNum, which wasm's `f32.max` is not, so on wasm32 it becomes a
/// call to `fmaxf` per lane and keeps the loop from SIMD128; the select vectorizes everywhere.
#[inline(always)]
fn pos_part(a: f32) -> f32 {
    if a > 0.0 { a } else { 0.0 }
}
