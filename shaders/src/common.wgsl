// Shared WGSL for sgdlab's landscape kernels: the counter-based RNG, the noise models, step
// clipping and the test landscapes. Every function here has a line-for-line Rust twin in
// sgdlab-engine (`landscape::counter_rng`, `landscape::noise`, `landscape::surface`,
// `landscape::clip`); the kernel-vs-reference tests compare the two on the same seeds.
//
// This file is a prefix: kernels are built as `COMMON + KERNEL` (see lib.rs).

const PI: f32 = 3.14159265358979;
const TAU: f32 = 6.28318530717959;

// ---- counter-based RNG (u32 only: WGSL has no u64) ----------------------------------------

// The PCG output permutation of one LCG step (O'Neill 2014; the "pcg_hash" of Jarzynski and
// Olano 2020).
fn pcg_hash(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// 32 random bits addressed by (seed, particle, step, draw).
fn counter_bits(seed_lo: u32, seed_hi: u32, particle: u32, step: u32, draw: u32) -> u32 {
    var h = pcg_hash(seed_lo ^ 0x9e3779b9u);
    h = pcg_hash(h ^ seed_hi);
    h = pcg_hash(h ^ particle);
    h = pcg_hash(h ^ step);
    return pcg_hash(h ^ draw);
}

// Uniform in the open interval (0, 1): 23 random bits and a half-step offset (exact in f32).
fn to_unit(bits: u32) -> f32 {
    return (f32(bits >> 9u) + 0.5) * 1.1920929e-7;
}

// ---- noise models ---------------------------------------------------------------------------
// kind: 0 none, 1 Gaussian, 2 uniform ball, 3 symmetric Pareto (Lomax), 4 symmetric alpha-stable.

// The hash state after the seed and the particle: constant over a particle's steps, so the
// particle kernel computes it once (Rust: `particle_prefix`).
fn particle_prefix(seed_lo: u32, seed_hi: u32, particle: u32) -> u32 {
    let h = pcg_hash(pcg_hash(seed_lo ^ 0x9e3779b9u) ^ seed_hi);
    return pcg_hash(h ^ particle);
}

// One (seed, particle, step) address: the hash state after the step. Draw `d` of it is
// counter_bits(seed_lo, seed_hi, particle, step, d).
struct Rng {
    h: u32,
}

fn rng_at(seed_lo: u32, seed_hi: u32, particle: u32, step: u32) -> Rng {
    return Rng(pcg_hash(particle_prefix(seed_lo, seed_hi, particle) ^ step));
}

fn rng_step(prefix: u32, step: u32) -> Rng {
    return Rng(pcg_hash(prefix ^ step));
}

fn unit_draw(r: Rng, draw: u32) -> f32 {
    return to_unit(pcg_hash(r.h ^ draw));
}

// One symmetric Lomax draw: sign * (U^(-1/alpha) - 1), regularly varying with index alpha.
fn pareto_draw(r: Rng, draw: u32, alpha: f32) -> f32 {
    let m = pow(unit_draw(r, draw), -1.0 / alpha) - 1.0;
    if unit_draw(r, draw + 1u) < 0.5 {
        return -m;
    }
    return m;
}

// One standard symmetric alpha-stable draw (Chambers, Mallows, Stuck 1976; beta = 0).
fn stable_draw(r: Rng, draw: u32, alpha: f32) -> f32 {
    let v = PI * (unit_draw(r, draw) - 0.5);
    let w = -log(unit_draw(r, draw + 1u));
    if abs(alpha - 1.0) < 1e-6 {
        return tan(v);
    }
    let cv = max(cos(v), 1e-30);
    let a = sin(alpha * v) / pow(cv, 1.0 / alpha);
    let b = pow(max(cos(v - alpha * v), 1e-30) / w, (1.0 - alpha) / alpha);
    return a * b;
}

// The noise vector (y is 0 in one dimension), scaled by sigma.
fn noise(r: Rng, kind: u32, dim: u32, sigma: f32, alpha: f32) -> vec2<f32> {
    var z = vec2<f32>(0.0, 0.0);
    if kind == 1u {
        let rad = sqrt(-2.0 * log(unit_draw(r, 0u)));
        let th = TAU * unit_draw(r, 1u);
        z = vec2<f32>(rad * cos(th), rad * sin(th));
    } else if kind == 2u {
        if dim == 1u {
            z = vec2<f32>(2.0 * unit_draw(r, 0u) - 1.0, 0.0);
        } else {
            let rad = sqrt(unit_draw(r, 0u));
            let th = TAU * unit_draw(r, 1u);
            z = vec2<f32>(rad * cos(th), rad * sin(th));
        }
    } else if kind == 3u {
        z = vec2<f32>(pareto_draw(r, 0u, alpha), pareto_draw(r, 2u, alpha));
    } else if kind == 4u {
        z = vec2<f32>(stable_draw(r, 0u, alpha), stable_draw(r, 2u, alpha));
    }
    if dim == 1u {
        z.y = 0.0;
    }
    return sigma * z;
}

// ---- clipping -------------------------------------------------------------------------------

// w * min(1, b / |w|): the truncation phi_b of Wang, Oh, Rhee (2021).
fn clip_norm(w: vec2<f32>, b: f32) -> vec2<f32> {
    let n = length(w);
    if n > b {
        return w * (b / n);
    }
    return w;
}

// ---- landscapes -----------------------------------------------------------------------------
// Packed parameters (see `Landscape::pack` in Rust): [kind, dim, wells, a, amp, omega, wall_k,
// lo0, hi0, lo1, hi1, reg] then (cx, cy, r, h) per well. kind: 0 ripple bowl, 1 bump wells,
// 2 Gaussian wells.

const LAND_HEADER: u32 = 12u;
const NO_BASIN: u32 = 4u;

fn wall_value(x: vec2<f32>, dim: u32) -> f32 {
    let lo = vec2<f32>(land[7], land[9]);
    let hi = vec2<f32>(land[8], land[10]);
    var d = max(lo - x, vec2<f32>(0.0)) + max(x - hi, vec2<f32>(0.0));
    if dim == 1u {
        d.y = 0.0;
    }
    return 0.5 * land[6] * dot(d, d);
}

fn wall_grad(x: vec2<f32>, dim: u32) -> vec2<f32> {
    let lo = vec2<f32>(land[7], land[9]);
    let hi = vec2<f32>(land[8], land[10]);
    var g = land[6] * (max(x - hi, vec2<f32>(0.0)) - max(lo - x, vec2<f32>(0.0)));
    if dim == 1u {
        g.y = 0.0;
    }
    return g;
}

fn well_center(k: u32) -> vec2<f32> {
    return vec2<f32>(land[LAND_HEADER + 4u * k], land[LAND_HEADER + 4u * k + 1u]);
}

fn land_value(x: vec2<f32>) -> f32 {
    let kind = u32(land[0]);
    let dim = u32(land[1]);
    let nw = u32(land[2]);
    if kind == 0u {
        let omega = land[5];
        var f = 0.5 * land[3] * dot(x, x) + land[4] * (1.0 - cos(omega * x.x));
        if dim == 2u {
            f = f + land[4] * (1.0 - cos(omega * x.y));
        }
        return f;
    }
    var f = wall_value(x, dim);
    if kind == 2u {
        f = f + 0.5 * land[11] * dot(x, x);
    }
    for (var k = 0u; k < nw; k = k + 1u) {
        let r = land[LAND_HEADER + 4u * k + 2u];
        let h = land[LAND_HEADER + 4u * k + 3u];
        let d = length(x - well_center(k));
        if kind == 1u {
            let u = d / r;
            if u < 1.0 {
                let c = cos(0.5 * PI * u);
                f = f - h * c * c;
            }
        } else {
            f = f - h * exp(-0.5 * d * d / (r * r));
        }
    }
    return f;
}

fn land_grad(x: vec2<f32>) -> vec2<f32> {
    let kind = u32(land[0]);
    let dim = u32(land[1]);
    let nw = u32(land[2]);
    var g = vec2<f32>(0.0, 0.0);
    if kind == 0u {
        let omega = land[5];
        g = land[3] * x + land[4] * omega * vec2<f32>(sin(omega * x.x), sin(omega * x.y));
    } else {
        g = wall_grad(x, dim);
        if kind == 2u {
            g = g + land[11] * x;
        }
        for (var k = 0u; k < nw; k = k + 1u) {
            let r = land[LAND_HEADER + 4u * k + 2u];
            let h = land[LAND_HEADER + 4u * k + 3u];
            let v = x - well_center(k);
            let d = length(v);
            if kind == 1u {
                let u = d / r;
                if u < 1.0 {
                    // d/dx of -h cos^2(pi u / 2) = h (pi / 2) sin(pi u) v / (d r).
                    var s = PI / (r * r);
                    if d > 1e-6 * r {
                        s = sin(PI * u) / (d * r);
                    }
                    g = g + (0.5 * PI * h * s) * v;
                }
            } else {
                g = g + (h * exp(-0.5 * d * d / (r * r)) / (r * r)) * v;
            }
        }
    }
    if dim == 1u {
        g.y = 0.0;
    }
    return g;
}

// Basin label in 0..3, or NO_BASIN. Ripple: the ring (Chebyshev distance in cells of width
// 2 pi / omega) around the global minimum 0, capped at 3. Bump wells: the well whose disc holds x.
// Gaussian wells: the component with the largest weighted density.
fn land_label(x: vec2<f32>) -> u32 {
    let kind = u32(land[0]);
    let dim = u32(land[1]);
    let nw = u32(land[2]);
    if kind == 0u {
        let c = abs(round(x * (land[5] / TAU)));
        var ring = c.x;
        if dim == 2u {
            ring = max(c.x, c.y);
        }
        return u32(min(ring, 3.0));
    }
    var best = NO_BASIN;
    var best_w = -1.0;
    for (var k = 0u; k < nw; k = k + 1u) {
        let r = land[LAND_HEADER + 4u * k + 2u];
        let h = land[LAND_HEADER + 4u * k + 3u];
        let d = length(x - well_center(k));
        if kind == 1u {
            if d < r {
                return k;
            }
        } else {
            let w = h * exp(-0.5 * d * d / (r * r));
            if w > best_w {
                best_w = w;
                best = k;
            }
        }
    }
    return best;
}
