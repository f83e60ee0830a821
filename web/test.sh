#!/usr/bin/env bash
# The browser tests: installs what they need when missing (Debian's chromium, web/'s npm
# packages; web/build.sh installs the wasm target and wasm-bindgen-cli), builds the lab, serves
# web/dist on a free loopback port and runs web/tests/*.test.mjs in headless Chromium.
#   web/test.sh               build, then test
#   web/test.sh --no-build    test the web/dist that is there
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "web/test.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "chromium"
if [ -x /usr/bin/chromium ]; then
  echo "present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
else
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi

step "npm packages (playwright-core, binaryen, zopfli; no browser download)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ -d web/node_modules/playwright-core ] && [ -d web/node_modules/binaryen ] \
  && [ -d web/node_modules/@gfx/zopfli ]; then
  echo "present: web/node_modules"
else
  (cd web && npm ci --no-audit --no-fund)
fi

if [ "$build" = 1 ]; then
  # The optimized build (wasm-opt -Oz, about 7 minutes) under CI too: tests/size.test.mjs checks
  # the first view's compressed size against web/size-budget.json, which only the optimized
  # .wasm meets.
  step "web/build.sh"
  web/build.sh
fi
[ -f web/dist/index.html ] || { echo "web/dist is missing: run web/build.sh" >&2; exit 1; }

step "serve web/dist"
# The project's own server when it is built (SGDLAB_BIN, else where the native test build puts
# it) and has `serve`, else Python's.
sgdlab_bin="${SGDLAB_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/sgdlab/target}/debug/sgdlab}"
log=$(mktemp)
if [ -x "$sgdlab_bin" ] && "$sgdlab_bin" serve --help >/dev/null 2>&1; then
  "$sgdlab_bin" serve --port 0 --dir web/dist >"$log" 2>&1 &
else
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory web/dist >"$log" 2>&1 &
fi
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*/' "$log" | head -n1 || true)
  [ -z "$url" ] && url=$(sed -n 's/.*Serving HTTP on \([0-9.]*\) port \([0-9]*\).*/http:\/\/\1:\2\//p' "$log" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start:" >&2; cat "$log" >&2; exit 1; }
echo "serving on $url ($(head -n1 "$log"))"

step "browser tests"
cd web
SGDLAB_URL="$url" node --test --test-concurrency=1 tests/
step "done"
