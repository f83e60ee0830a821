//! sgdlab-shaders: hand-written WGSL compute kernels, exposed as `pub const X: &str =
//! include_str!("…wgsl")` so that the engine can build pipelines on the wgpu device burn uses.
//!
//! [`COMMON`] holds what every landscape kernel shares (the u32 counter-based RNG, the noise
//! models of Kleinberg, Li, Yuan 2018 and Wang, Oh, Rhee 2021, step clipping, the test
//! landscapes); a kernel's full source is `COMMON` followed by the kernel ([`particle_sgd_source`],
//! [`smooth_grid_source`]). Each has a plain Rust reference in `sgdlab-engine::landscape` and a
//! test comparing the two. This crate knows nothing of burn.

/// RNG, noise, clipping and landscapes shared by the kernels (a prefix, not a module by itself).
pub const COMMON: &str = include_str!("common.wgsl");

/// Particle SGD: N independent particles through M steps with basin statistics (entry `main`).
pub const PARTICLE_SGD: &str = include_str!("particle_sgd.wgsl");

/// The smoothed landscape on a grid by Monte Carlo (entry `main`).
pub const SMOOTH_GRID: &str = include_str!("smooth_grid.wgsl");

/// Workgroup size (x) of every kernel here.
pub const WORKGROUP_SIZE: u32 = 64;

/// Words per particle in the particle kernel's `stats` buffer: occupation counts for basins 0..3,
/// "no basin" and "diverged", then a 4×4 matrix of basin-to-basin transitions.
pub const STAT_STRIDE: usize = 22;

/// The full WGSL module of the particle-SGD kernel.
pub fn particle_sgd_source() -> String {
    format!("{COMMON}\n{PARTICLE_SGD}")
}

/// The full WGSL module of the smoothed-grid kernel.
pub fn smooth_grid_source() -> String {
    format!("{COMMON}\n{SMOOTH_GRID}")
}

/// Every complete kernel module, by name (for validation and pipeline creation).
pub fn all_modules() -> Vec<(&'static str, String)> {
    vec![
        ("particle_sgd", particle_sgd_source()),
        ("smooth_grid", smooth_grid_source()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and validates every kernel with naga on the CPU, so a broken shader fails the
    /// tests even where no GPU exists.
    #[test]
    fn every_kernel_validates_with_naga() {
        for (name, src) in all_modules() {
            let module = naga::front::wgsl::parse_str(&src)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&src)));
            let mut v = naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            );
            let info = v.validate(&module);
            assert!(info.is_ok(), "{name}: {:?}", info.err());
            assert!(
                module.entry_points.iter().any(|e| e.name == "main"),
                "{name} has no entry point `main`"
            );
        }
    }

    #[test]
    fn a_broken_shader_is_rejected() {
        let src = format!("{COMMON}\nfn f() -> f32 {{ return undefined_name; }}");
        assert!(naga::front::wgsl::parse_str(&src).is_err());
    }
}
