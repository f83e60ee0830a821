//! sgdlab-ui: the lab's egui views, shared by the desktop app (`native/`) and the browser build
//! (`web/`). One [`LabApp`] with six labs; each lab is a live experiment ([`runner::Sim`]) with
//! its controls and view ([`lab::LabSpec`]).
//!
//! Nothing here needs threads, a file system or a blocking GPU readback: labs step inline a
//! slice per frame in a browser (natively they may run on worker threads), files go through a
//! [`export::Platform`], and particle statistics come from asynchronous readbacks polled each
//! frame. Particles on the GPU are drawn from the kernel's own buffers by a paint callback.

pub mod app;
pub mod assets;
pub mod compute;
pub mod export;
pub mod fragment;
pub mod gfx;
pub mod lab;
pub mod labs;
pub mod runner;

pub use app::{
    LabApp, LabOptions, Notice, add_fallback_font, add_font, fallback_notice, install_fonts,
};
pub use compute::Compute;
pub use gfx::{MAX_SPLAT_SIDE, Painting, ParticleSplat};
pub use lab::LabKind;
