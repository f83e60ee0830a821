//! Shared helpers for sgdlab's cross-crate and end-to-end tests.

use sgdlab_engine::device::{ComputeDevice, wgpu_device};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The wgpu device, or `None` with a printed reason when this machine has no adapter.
///
/// Under `CI=true` a missing adapter is a failure, not a skip: CI installs lavapipe, so the GPU
/// path must run there.
pub fn wgpu_or_skip(test: &str) -> Option<ComputeDevice> {
    match wgpu_device() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: CI=true requires a wgpu adapter (lavapipe), but: {e:#}");
            }
            eprintln!("SKIPPED {test}: {e:#}");
            None
        }
    }
}

/// The `sgdlab` binary built alongside the tests (`cargo test --workspace` builds it).
pub fn sgdlab_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/sgdlab
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("sgdlab{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run the tests with `cargo test --workspace` so the binary is built",
        bin.display()
    );
    bin
}

/// Runs the `sgdlab` binary with `args` and collects its output.
pub fn sgdlab(args: &[&str]) -> Output {
    Command::new(sgdlab_bin())
        .args(args)
        .output()
        .expect("spawn sgdlab")
}

/// A process's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
