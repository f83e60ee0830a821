//! sgdlab-web: the lab in a browser tab (wasm32).
//!
//! [`start`] initializes burn on the browser's WebGPU and hands the same device to eframe, so the
//! lab's tensors, its WGSL kernels and its drawing share one GPU device; the first frame is drawn
//! while the device's self-check still runs. Where WebGPU is missing or gives no adapter, burn
//! runs on its CPU backend inside the wasm module and egui's glow painter draws on WebGL, in a
//! Worker (`page_runner`, `paint_worker`; eframe on the page where a Worker cannot have
//! WebGL2); the lab's top bar then says so, once. `window.sgdlab.state()` is a read-only
//! test hook that reports what runs (see [`state`]).
//!
//! The browser parts are compiled only for `wasm32`; natively this crate holds the pure pieces
//! (the hook's record), so `cargo test --workspace` covers them.

pub mod paint_wire;
pub mod state;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod compute;
#[cfg(target_arch = "wasm32")]
mod ctors;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod fonts;
#[cfg(target_arch = "wasm32")]
mod hook;
#[cfg(target_arch = "wasm32")]
mod page_input;
#[cfg(target_arch = "wasm32")]
mod page_runner;
#[cfg(target_arch = "wasm32")]
mod paint_worker;
#[cfg(target_arch = "wasm32")]
mod start;

#[cfg(target_arch = "wasm32")]
pub use paint_worker::WorkerPainter;
#[cfg(target_arch = "wasm32")]
pub use start::start;
