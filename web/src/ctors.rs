//! Static constructors, run once. Some dependencies register things at load time through
//! `inventory` (cubecl's IR dialects, through pliron), which on wasm32 are static constructors
//! that wasm-ld gathers into `__wasm_call_ctors`. When nothing calls that function, wasm-ld takes
//! the module for a "command" and wraps **every export** in a call to it (`….command_export`),
//! so each call from JavaScript into the module (every event, allocation and closure) ran all the
//! constructors again: ~0.5 s of the start and a share of every frame in a profile of the page.
//! Calling it once here, from wasm-bindgen's start function (run right after instantiation, before
//! `start`), makes wasm-ld leave the exports alone. `web/build.sh` fails when the linked module
//! still has a `.command_export` wrapper.

use wasm_bindgen::prelude::wasm_bindgen;

// Declaring the linker's function is `unsafe` too.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// wasm-ld's synthesized function that runs every static constructor of the module.
    fn __wasm_call_ctors();
}

/// Runs the module's static constructors, once (wasm-bindgen calls this once per instance).
// The one `unsafe` call of the crate: the linker's constructor function.
#[allow(unsafe_code)]
#[wasm_bindgen(start)]
fn run_static_constructors() {
    // SAFETY: `__wasm_call_ctors` has no preconditions; it runs each constructor (inventory's
    // registrations) once per call, and this start function is called once per instance, before
    // any other export.
    unsafe { __wasm_call_ctors() }
}
