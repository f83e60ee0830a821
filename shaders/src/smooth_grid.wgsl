// The smoothed landscape g(y) = E f(y - lr * noise) (Kleinberg, Li, Yuan 2018) on a grid, by
// Monte Carlo with common random numbers: sample s uses the same noise draw at every grid point.
// Rust reference: `sgdlab_engine::landscape::smooth_grid_cpu` (same formulas, same order).

struct GridParams {
    nx: u32,
    ny: u32,
    samples: u32,
    dim: u32,
    seed_lo: u32,
    seed_hi: u32,
    noise_kind: u32,
    row_stride: u32,
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    lr: f32,
    sigma: f32,
    alpha: f32,
    _pad0: f32,
}

@group(0) @binding(0) var<uniform> gp: GridParams;
@group(0) @binding(1) var<storage, read> land: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn grid_coord(k: u32, n: u32, a: f32, b: f32) -> f32 {
    if n <= 1u {
        return a;
    }
    return a + (b - a) * (f32(k) / f32(n - 1u));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * gp.row_stride;
    if i >= gp.nx * gp.ny {
        return;
    }
    let y = vec2<f32>(grid_coord(i % gp.nx, gp.nx, gp.x0, gp.x1), grid_coord(i / gp.nx, gp.ny, gp.y0, gp.y1));
    var acc = 0.0;
    for (var s = 0u; s < gp.samples; s = s + 1u) {
        let r = rng_at(gp.seed_lo, gp.seed_hi, 0u, s);
        let z = noise(r, gp.noise_kind, gp.dim, gp.sigma, gp.alpha);
        acc = acc + land_value(y - gp.lr * z);
    }
    out[i] = acc / f32(max(gp.samples, 1u));
}
