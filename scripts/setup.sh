#!/usr/bin/env bash
# Installs what Lockstep's build and tests need, skipping whatever is already there.
#   scripts/setup.sh web       wasm toolchain, wasm-bindgen-cli (pinned), npm tooling
#   scripts/setup.sh browser   Chromium for the browser tests
#   scripts/setup.sh postgres  PostgreSQL 10-18 server binaries for the live verifier
#   scripts/setup.sh mariadb   MariaDB server binaries and pt-online-schema-change for the live verifier
#   scripts/setup.sh all       everything
# A second run takes seconds. Where something cannot be installed, it says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages when missing; explains what to do when it cannot.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and this is not a Debian/Ubuntu machine: install the equivalents by hand"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing Debian packages ${missing[*]}: run as root or install them: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# The wasm toolchain: the rustup target when present, else Debian's rustc-web with std built from source.
setup_wasm_toolchain() {
  # LOCKSTEP_WASM_TOOLCHAIN=debian|rustup forces a path (CI uses it to test both).
  case "${LOCKSTEP_WASM_TOOLCHAIN:-}" in
    rustup) echo rustup > "$TOOLS/wasm-toolchain"; return ;;
    debian) apt_install rustc-web cargo-web rust-web-src lld-22; echo debian > "$TOOLS/wasm-toolchain"; return ;;
  esac
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "rustup" > "$TOOLS/wasm-toolchain"
    return
  fi
  if command -v rustup >/dev/null && timeout 120 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    say "added the rustup target wasm32-unknown-unknown"
    echo "rustup" > "$TOOLS/wasm-toolchain"
    return
  fi
  say "no rustup wasm32 target here: using Debian's rustc-web and building the wasm std from source"
  apt_install rustc-web cargo-web rust-web-src lld-22
  [ -x /usr/bin/rustc ] || die "/usr/bin/rustc missing after installing rustc-web"
  echo "debian" > "$TOOLS/wasm-toolchain"
}

# wasm-bindgen-cli at exactly the version Cargo.toml pins.
setup_wasm_bindgen() {
  local want
  want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
  [ -n "$want" ] || die "Cargo.toml must pin wasm-bindgen with = (wasm-bindgen = \"=x.y.z\")"
  if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" = "$want" ]; then return; fi
  local onpath
  onpath=$(command -v wasm-bindgen || true)
  if [ -n "$onpath" ] && [ "$("$onpath" --version | awk '{print $2}')" = "$want" ]; then
    ln -sf "$onpath" "$TOOLS/bin/wasm-bindgen"
    return
  fi
  say "installing wasm-bindgen-cli $want (a few minutes, once)"
  # No --locked: one of its locked dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "$want" --root "$TOOLS/cargo" --quiet \
    || die "cargo install wasm-bindgen-cli --version $want failed"
  ln -sf "$TOOLS/cargo/bin/wasm-bindgen" "$TOOLS/bin/wasm-bindgen"
}

setup_npm() {
  command -v node >/dev/null || die "Node.js (18 or later) is needed for wasm-opt and the browser tests: install nodejs and npm"
  if [ -x node_modules/.bin/wasm-opt ] && [ -d node_modules/playwright-core ] \
     && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    return
  fi
  say "installing npm tooling (binaryen's wasm-opt, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed"
}

setup_browser() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then return; fi
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -x "$candidate" ] && return
  done
  apt_install chromium
}

case "${1:-all}" in
  web) setup_wasm_toolchain; setup_wasm_bindgen; setup_npm ;;
  browser) setup_npm; setup_browser ;;
  postgres) command -v psql >/dev/null || apt_install postgresql-client; bash scripts/setup-postgres.sh ;;
  mariadb) bash scripts/setup-mariadb.sh ;;
  all) setup_wasm_toolchain; setup_wasm_bindgen; setup_npm; setup_browser; command -v psql >/dev/null || apt_install postgresql-client; bash scripts/setup-postgres.sh; bash scripts/setup-mariadb.sh ;;
  *) die "unknown part ${1}; accepts web, browser, postgres, mariadb, all" ;;
esac
