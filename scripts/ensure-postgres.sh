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

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ensure-postgres: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin, and installing them needs root." >&2
  echo "ensure-postgres: run 'apt-get install postgresql' as root; the PostgreSQL tests are skipped until then." >&2
  exit 1
fi

echo "ensure-postgres: installing Debian's postgresql package" >&2
# Through env, since sudo does not pass the environment on.
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! has_server; then
  echo "ensure-postgres: the postgresql package is installed but no initdb/pg_ctl is under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
