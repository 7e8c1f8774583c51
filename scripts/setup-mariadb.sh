#!/usr/bin/env bash
# Installs what the live verifier (crates/verify) needs for MariaDB: Debian's mariadb-server
# (the mariadbd and mariadb-install-db binaries; the verifier starts its own throwaway servers)
# and percona-toolkit (pt-online-schema-change, the tool the planner picks on MariaDB).
# Idempotent: when everything is there it only checks, in well under a second.
#
# The system service is never started or left running: installing mariadb-server on Debian
# normally starts and enables it, so the install runs behind a policy-rc.d that forbids
# starting services, and any system mariadbd found running afterwards is stopped.
# gh-ost and Spirit are not packaged by Debian: the verifier reports their steps as
# "documented, not verified here".
set -euo pipefail

say() { printf 'setup-mariadb: %s\n' "$*" >&2; }
die() { printf 'setup-mariadb: ERROR: %s\n' "$*" >&2; exit 1; }

want=(mariadb-server mariadb-client percona-toolkit)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

server_bin() {
  for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do
    [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

# Stops a system MariaDB started by a package script (never one of the verifier's servers,
# which run with --no-defaults from target/verify).
stop_system_server() {
  if command -v systemctl >/dev/null && systemctl is-active --quiet mariadb 2>/dev/null; then
    say "stopping and disabling the system mariadb service (the verifier starts its own servers)"
    systemctl stop mariadb || true
    systemctl disable mariadb >/dev/null 2>&1 || true
  fi
  if [ -f /run/mysqld/mysqld.pid ]; then
    local pid
    pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "mariadbd" ]; then
      say "stopping the system mariadbd (pid $pid) started by the package"
      if command -v service >/dev/null; then service mariadb stop >/dev/null 2>&1 || true; fi
      kill "$pid" 2>/dev/null || true
    fi
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null \
    || die "missing ${missing[*]} and this is not a Debian/Ubuntu machine: install MariaDB 10.11 server binaries and percona-toolkit by hand"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing ${missing[*]}: run as root or install them: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  # Forbid service starts during the install (Debian's invoke-rc.d honours policy-rc.d);
  # an existing policy (Docker images ship one that already forbids) is kept as it is.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# lockstep setup-mariadb: no service starts during the install\nexit 101\n' \
      | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  say "installing Debian packages: ${missing[*]} (the system service is not started)"
  $sudo apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
  status=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -n "$added_policy" ] && $sudo rm -f "$policy"
  [ $status -eq 0 ] || die "apt-get install ${missing[*]} failed (status $status)"
fi

stop_system_server
if command -v systemctl >/dev/null && systemctl is-enabled --quiet mariadb 2>/dev/null; then
  systemctl disable mariadb >/dev/null 2>&1 || say "could not disable the system mariadb service (harmless: it is not running)"
fi

bin=$(server_bin) || die "no mariadbd after installing mariadb-server"
command -v mariadb-install-db >/dev/null || command -v mysql_install_db >/dev/null \
  || die "mariadb-install-db missing (package mariadb-server)"
say "MariaDB ok ($("$bin" --version | sed 's/^.*Ver //'))"
if command -v pt-online-schema-change >/dev/null; then
  say "pt-online-schema-change ok ($(pt-online-schema-change --version 2>/dev/null | head -1))"
else
  say "pt-online-schema-change is not installed: its steps will fail verification (apt-get install percona-toolkit)"
fi
say "gh-ost and Spirit are not packaged here: their (MySQL-only) steps are reported as documented, not verified"
