//! sgdlab-web: the wasm32 build of the lab (eframe's WebRunner on WebGPU with a CPU fallback).
//!
//! Empty until the browser issue fills it; a workspace member now so the layout is fixed.
