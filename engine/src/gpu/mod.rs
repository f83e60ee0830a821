//! Hand-written WGSL compute kernels (`sgdlab-shaders`) run through wgpu on the very device and
//! queue burn's runtime uses ([`crate::device::wgpu_setup`]): particle SGD on a test landscape and
//! the smoothed landscape on a grid (Kleinberg, Li, Yuan 2018; Wang, Oh, Rhee 2021).
//!
//! Readback is asynchronous (`map_async` resolved through a future), so the same code can be
//! awaited in a browser; natively [`GpuContext::block_on`] drives it with a device-poll loop.

mod context;
mod particles;
mod runner;
mod smooth_grid;

pub use context::*;
pub use particles::*;
pub use runner::*;
pub use smooth_grid::*;
