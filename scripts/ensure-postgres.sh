#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries are installed, for the tests that run the ledger on a throwaway server
# (packages/core/test/support/postgres.ts starts and stops it; nothing is started here). Installs Debian's package
# when they are missing; needs root (or sudo without a password) for that.
set -euo pipefail

has_server() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  return 1
}

if has_server; then
  exit 0
fi

. "$(dirname "$0")/apt-install.sh"
if ! apt_install ensure-postgres postgresql; then
  echo "ensure-postgres: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; the PostgreSQL tests are skipped until they are installed." >&2
  exit 1
fi

if ! has_server; then
  echo "ensure-postgres: the postgresql package is installed but no initdb/pg_ctl is under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
