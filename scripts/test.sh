#!/usr/bin/env bash
# The project's test command (README): installs what the tests need when it is missing, then runs
# what CI runs: rustfmt, clippy with -D warnings, and every test (the wgpu ones on lavapipe).
set -euo pipefail
cd "$(dirname "$0")/.."

# One target directory outside the clone, shared by every checkout and CI run on this machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sgdlab/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "system packages"
missing=()
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || missing+=(libvulkan1)
# The desktop app's window test runs under a virtual X server; winit loads these at run time.
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
ldconfig -p 2>/dev/null | grep -q 'libxkbcommon-x11.so.0' || missing+=(libxkbcommon-x11-0)
ldconfig -p 2>/dev/null | grep -q 'libX11-xcb.so.1' || missing+=(libx11-xcb1)
ldconfig -p 2>/dev/null | grep -q 'libXcursor.so.1' || missing+=(libxcursor1)
ldconfig -p 2>/dev/null | grep -q 'libXi.so.6' || missing+=(libxi6)
ldconfig -p 2>/dev/null | grep -q 'libXrandr.so.2' || missing+=(libxrandr2)
# MPI (the `mpi` feature of sgdlab and tests/tests/mpi.rs): Open MPI, its headers, and libclang
# for rsmpi's bindgen.
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
command -v mpicc >/dev/null 2>&1 || missing+=(libopenmpi-dev)
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || missing+=(libclang-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "present: mesa-vulkan-drivers (lavapipe), libvulkan1, xvfb, the X11 libraries winit loads, Open MPI and libclang"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

step "cargo fmt --check"
cargo fmt --all -- --check

# Clippy runs as the workspace's rustc wrapper during the test build, so the heavy dependencies
# (burn, wgpu, cubecl) are compiled once instead of once for `cargo clippy` (check mode) and again
# for `cargo test`. The lints are the same as `cargo clippy --all-targets -- -D warnings`.
step "build + clippy -D warnings (all targets)"
export RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# `build --all-targets` (not `test --no-run` plus a separate `build --bins`) so that the sgdlab
# binary the CLI tests run is built in the same invocation, with the same dependency features as
# the test targets: a separate `cargo build --bins` resolves features without dev-dependencies
# and recompiled gemm/burn-flex and everything above them (measured on a cold build).
# `--features sgdlab/mpi`: the MPI engine (`sgdlab mpi-gossip`) is built and tested here, in the
# same invocations, so that no heavy crate is compiled twice.
cargo build --workspace --all-targets --features sgdlab/mpi

step "tests"
# Under CI=true a missing wgpu adapter fails the wgpu tests instead of skipping them.
# Under CI=true a missing mpirun (or a binary without MPI) fails tests/tests/mpi.rs likewise.
cargo test --workspace --all-targets --features sgdlab/mpi --no-fail-fast -- --test-threads=2

# The browser lab: chromium (apt), npm packages, the wasm target and wasm-bindgen-cli when
# missing; the release wasm build; the Playwright tests in headless Chromium (WebGPU on
# SwiftShader, and the CPU/WebGL fallback). SGDLAB_SKIP_WEB=1 skips it for a quick native run.
if [ "${SGDLAB_SKIP_WEB:-0}" = 1 ]; then
  step "browser lab: skipped (SGDLAB_SKIP_WEB=1)"
else
  step "browser lab (web/test.sh)"
  SGDLAB_BIN="$CARGO_TARGET_DIR/debug/sgdlab" bash web/test.sh
fi

step "done"
