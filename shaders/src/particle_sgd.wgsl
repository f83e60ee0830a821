// Particle SGD: each invocation steps one independent particle through `steps` steps of
//   x <- x + clip(-lr * (grad f(x) + noise))
// (several steps per dispatch: the host sends up to 256 at a time) and accumulates, without any
// per-step readback, its basin label, the first step at which it
// left its starting basin, its occupation count per basin and its basin-to-basin transitions.
// Rust reference: `sgdlab_engine::landscape::step_particles_cpu` (same formulas, same order).

struct Params {
    particles: u32,
    steps: u32,
    step_offset: u32,
    dim: u32,
    seed_lo: u32,
    seed_hi: u32,
    noise_kind: u32,
    clip_kind: u32,
    lr: f32,
    sigma: f32,
    alpha: f32,
    clip: f32,
    diverge_radius: f32,
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
}

const NEVER: u32 = 0xffffffffu;
const DIVERGED: u32 = 5u;
const STAT_STRIDE: u32 = 22u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> land: array<f32>;
@group(0) @binding(2) var<storage, read_write> pos: array<vec2<f32>>;
// Per particle: [label, first_exit_step, start_label, last_basin].
@group(0) @binding(3) var<storage, read_write> pmeta: array<vec4<u32>>;
// Per particle: occupation[6] (basins 0..3, none, diverged) then transitions[4 * 4].
@group(0) @binding(4) var<storage, read_write> stats: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * params.row_stride;
    if i >= params.particles {
        return;
    }
    var x = pos[i];
    var m = pmeta[i];
    let base = i * STAT_STRIDE;
    // Occupation counts live in registers for the whole dispatch (basins 0..3 in a vector, then
    // "no basin" and "diverged"); transitions (rare) go straight to memory. The hash of seed and
    // particle is computed once.
    var occ = vec4<u32>(stats[base], stats[base + 1u], stats[base + 2u], stats[base + 3u]);
    var occ_none = stats[base + NO_BASIN];
    var occ_div = stats[base + DIVERGED];
    let basins = vec4<u32>(0u, 1u, 2u, 3u);
    let prefix = particle_prefix(params.seed_lo, params.seed_hi, i);
    for (var s = 0u; s < params.steps; s = s + 1u) {
        let step = params.step_offset + s;
        if m.x == DIVERGED {
            occ_div = occ_div + 1u;
            continue;
        }
        let r = rng_step(prefix, step);
        let z = noise(r, params.noise_kind, params.dim, params.sigma, params.alpha);
        var g = land_grad(x) + z;
        if params.clip_kind == 2u {
            g = clip_norm(g, params.clip);
        }
        var w = -params.lr * g;
        if params.clip_kind == 1u {
            w = clip_norm(w, params.clip);
        }
        x = x + w;
        if !(abs(x.x) < params.diverge_radius && abs(x.y) < params.diverge_radius) {
            m.x = DIVERGED;
            if m.y == NEVER {
                m.y = step + 1u;
            }
            occ_div = occ_div + 1u;
            continue;
        }
        let l = land_label(x);
        m.x = l;
        if l != m.z && m.y == NEVER {
            m.y = step + 1u;
        }
        if l < NO_BASIN {
            if m.w < NO_BASIN && m.w != l {
                let t = base + 6u + m.w * 4u + l;
                stats[t] = stats[t] + 1u;
            }
            m.w = l;
        }
        occ = occ + select(vec4<u32>(0u), vec4<u32>(1u), vec4<u32>(l) == basins);
        occ_none = occ_none + u32(l == NO_BASIN);
    }
    stats[base] = occ.x;
    stats[base + 1u] = occ.y;
    stats[base + 2u] = occ.z;
    stats[base + 3u] = occ.w;
    stats[base + NO_BASIN] = occ_none;
    stats[base + DIVERGED] = occ_div;
    pos[i] = x;
    pmeta[i] = m;
}
