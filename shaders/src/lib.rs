//! sgdlab-shaders: hand-written WGSL compute kernels, exposed as `pub const X: &str =
//! include_str!("…wgsl")` so that the engine can build pipelines on the wgpu device burn uses.
//!
//! The landscapes issue adds the particle-SGD and smoothed-landscape kernels here, each with a
//! plain Rust reference and a naga validation test. This crate knows nothing of burn.
