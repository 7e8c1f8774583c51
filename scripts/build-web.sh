#!/usr/bin/env bash
# Release build of the page: wasm (rustup target or Debian's std-from-source path, as
# scripts/setup.sh chose), wasm-bindgen, wasm-opt, then scripts/assemble-dist.mjs writes dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"
OUT="$ROOT/target/web"
toolchain=$(cat "$TOOLS/wasm-toolchain" 2>/dev/null || true)

case "$toolchain" in
  rustup)
    CARGO_TARGET_DIR="$OUT" cargo build --release --target wasm32-unknown-unknown -p lockstep-web ;;
  debian)
    # Debian's rustc ships no wasm std: build it from rust-web-src (nightly flags on a stable compiler).
    env RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
      CARGO_TARGET_DIR="$OUT" PATH="/usr/bin:$PATH" \
      /usr/bin/cargo build --release --target wasm32-unknown-unknown -p lockstep-web ;;
  *) echo "build-web: run scripts/setup.sh web first (no wasm toolchain recorded)" >&2; exit 1 ;;
esac

rm -rf "$OUT/bindgen" && mkdir -p "$OUT/bindgen"
"$TOOLS/bin/wasm-bindgen" --target web --no-typescript --out-dir "$OUT/bindgen" --out-name lockstep \
  "$OUT/wasm32-unknown-unknown/release/lockstep-web.wasm"
# binaryen from npm (132): Debian's 108 produces modules that crash on load.
node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$OUT/bindgen/lockstep_bg.wasm" -o "$OUT/bindgen/lockstep_bg.opt.wasm"
node scripts/assemble-dist.mjs "$OUT/bindgen" dist
