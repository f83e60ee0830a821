#!/usr/bin/env bash
# Builds the browser lab into web/dist/ (index.html, the .wasm, the JS glue, loader and style):
#   web/build.sh            wasm-release build (Cargo.toml), wasm-opt -Oz where wasm-opt exists,
#                           every file pre-compressed (.gz, .br) for `sgdlab serve`
#   web/build.sh --no-opt   skip wasm-opt (faster; a larger .wasm)
# Installs what is missing: the wasm32 target, wasm-bindgen-cli at exactly the wasm-bindgen
# version in Cargo.lock (into ~/.cache/sgdlab/tools), and wasm-opt (binaryen, from web/'s npm
# packages) when npm is there. Serve web/dist with any static server, or `sgdlab serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

optimize=1
for arg in "$@"; do
  case "$arg" in
    --no-opt) optimize=0 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "web/build.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# The browser build has its own target directory: its flags (.cargo/config.toml) differ from the
# native build's, and sharing one would make each invalidate the other's artifacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sgdlab/target-wasm}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
tools="${SGDLAB_TOOLS_DIR:-$HOME/.cache/sgdlab/tools}"
dist="$root/web/dist"
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "wasm32 target"
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "present: wasm32-unknown-unknown"
else
  rustup target add wasm32-unknown-unknown
fi

step "wasm-bindgen-cli"
# The CLI must match the wasm-bindgen crate exactly: the glue format changes between versions.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wb_version" ]; then
  echo "web/build.sh: no wasm-bindgen in Cargo.lock; is web/ a workspace member?" >&2
  exit 1
fi
wasm_bindgen="$tools/wasm-bindgen-$wb_version/bin/wasm-bindgen"
if [ -x "$wasm_bindgen" ]; then
  echo "present: $("$wasm_bindgen" --version)"
else
  echo "installing wasm-bindgen-cli $wb_version into $tools (a few minutes, once)"
  install() {
    CARGO_TARGET_DIR="$tools/build" cargo install wasm-bindgen-cli --version "$wb_version" \
      --root "$tools/wasm-bindgen-$wb_version" "$@"
  }
  # --locked first (the CLI's own lock file). A registry that lacks one of those exact versions
  # (seen: webpki-roots 1.0.11, locked by wasm-bindgen-cli 0.2.130, missing from the index)
  # makes that fail; the CLI is then built with its newest compatible dependencies. The CLI
  # version itself is exact either way.
  if ! install --locked; then
    echo "cargo install --locked failed; retrying with the newest compatible dependencies"
    install
  fi
fi

step "cargo build --profile wasm-release (wasm32)"
# RUSTFLAGS would replace .cargo/config.toml's flags for the target; refuse a silent mismatch.
if [ -n "${RUSTFLAGS:-}" ]; then
  echo "web/build.sh: unset RUSTFLAGS (the wasm flags live in .cargo/config.toml)" >&2
  exit 2
fi
# The profile is in the root Cargo.toml (size first: opt-level "z", fat LTO, one codegen unit).
cargo build -p sgdlab-web --target wasm32-unknown-unknown --profile wasm-release
wasm_in="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/sgdlab_web.wasm"
# wasm-ld wraps every export in a call to the static constructors unless the module calls them
# itself (web/src/ctors.rs); the wrappers are named `<export>.command_export` in the name section.
if grep -q 'command_export' "$wasm_in"; then
  echo "web/build.sh: $wasm_in has .command_export wrappers: every call into the module would" \
    "rerun the static constructors (see web/src/ctors.rs)" >&2
  exit 1
fi

step "wasm-bindgen --target web"
staging=$(mktemp -d "${TMPDIR:-/tmp}/sgdlab-dist.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$wasm_bindgen" --target web --no-typescript --out-dir "$staging" --out-name sgdlab_web "$wasm_in"

step "wasm-opt"
wasm="$staging/sgdlab_web_bg.wasm"
wasm_opt=""
# Binaryen older than the pinned npm version is not used: Debian's 108 produced a module that
# fails to instantiate ("WebAssembly.Table.set(): Argument 1 is invalid for table"); 132 is the
# version the browser tests passed with.
min_binaryen=132
path_version() { wasm-opt --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p'; }
if [ "$optimize" = 1 ]; then
  if command -v wasm-opt >/dev/null && [ "$(path_version)" -ge "$min_binaryen" ] 2>/dev/null; then
    wasm_opt=$(command -v wasm-opt)
  elif command -v wasm-opt >/dev/null; then
    echo "ignoring $(command -v wasm-opt) (binaryen $(path_version), older than $min_binaryen)"
  fi
  if [ -n "$wasm_opt" ]; then
    :
  elif [ -x web/node_modules/.bin/wasm-opt ]; then
    wasm_opt=web/node_modules/.bin/wasm-opt
  elif command -v npm >/dev/null; then
    (cd web && npm ci --no-audit --no-fund)
    wasm_opt=web/node_modules/.bin/wasm-opt
  fi
fi
if [ -n "$wasm_opt" ]; then
  before=$(stat -c %s "$wasm")
  # The features rustc's wasm32 target enables by default, plus SIMD128 (.cargo/config.toml);
  # nothing newer, so wasm-opt introduces nothing a current browser lacks.
  "$wasm_opt" -Oz --enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong \
    --enable-multivalue --enable-mutable-globals --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-simd "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  echo "$($wasm_opt --version): $before -> $(stat -c %s "$wasm") bytes"
elif [ "$optimize" = 1 ]; then
  echo "no wasm-opt (neither on PATH nor from npm): the .wasm stays unoptimized"
else
  echo "skipped (--no-opt)"
fi

step "web/dist"
cp web/static/index.html web/static/loader.js web/static/painter.js web/static/style.css "$staging/"
# What is not compiled in: egui's default fonts (Ubuntu Light and the icons fetched beside the
# .wasm for the first frame, Hack after it), DejaVu Sans (the symbol fallback, fetched after the
# first frame) and the MNIST subset (fetched when the random-labels lab's MNIST mode asks for it).
fonts_dir=$(cargo metadata --format-version 1 --locked 2>/dev/null \
  | grep -o '"manifest_path":"[^"]*epaint_default_fonts-[^"]*/Cargo.toml"' | head -1 \
  | sed 's/^"manifest_path":"//; s|/Cargo.toml"$|/fonts|')
if [ ! -f "$fonts_dir/Ubuntu-Light.ttf" ]; then
  echo "web/build.sh: egui's default fonts not found (epaint_default_fonts: '$fonts_dir')" >&2
  exit 1
fi
mkdir -p "$staging/fonts" "$staging/data"
cp "$fonts_dir/Ubuntu-Light.ttf" "$fonts_dir/Hack-Regular.ttf" "$fonts_dir/egui-icons.ttf" \
  engine/assets/fonts/DejaVuSans.ttf "$staging/fonts/"
cp engine/data/mnist10k-images-idx3-ubyte.gz engine/data/mnist10k-labels-idx1-ubyte.gz "$staging/data/"
wasm_bytes=$(stat -c %s "$wasm")
first_bytes=$((wasm_bytes + $(cat "$staging"/fonts/{Ubuntu-Light,egui-icons}.ttf | wc -c)))
sed -i "s/__WASM_BYTES__/$wasm_bytes/; s/__FIRST_BYTES__/$first_bytes/" "$staging/index.html"
# Pre-compressed twins (gzip by zopfli, from web/'s npm packages; brotli 11 by node's zlib) that
# `sgdlab serve` sends with Content-Encoding to a browser that accepts them; prints the sizes
# against web/size-budget.json.
if [ ! -d web/node_modules/@gfx/zopfli ]; then
  (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
node web/compress.mjs "$staging"
rm -rf "$dist.old"
[ -d "$dist" ] && mv "$dist" "$dist.old"
mv "$staging" "$dist"
trap - EXIT
chmod 755 "$dist" "$dist/fonts" "$dist/data"
rm -rf "$dist.old"
ls -l "$dist"
step "done: serve web/dist (sgdlab serve, or python3 -m http.server -d web/dist)"
