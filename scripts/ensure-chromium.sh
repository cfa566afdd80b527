#!/usr/bin/env bash
# Makes sure Debian's chromium is installed, for the real-browser tests (test/support/browser.ts drives it with
# playwright-core; nothing is started here). Installs the package when /usr/bin/chromium is missing; needs root (or
# sudo without a password) for that.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ensure-chromium: no /usr/bin/chromium, and installing it needs root." >&2
  echo "ensure-chromium: run 'apt-get install chromium' as root; the browser tests are skipped until then." >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium package" >&2
# Through env, since sudo does not pass the environment on. A font, so that the screenshots show text.
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: the chromium package is installed but /usr/bin/chromium is missing" >&2
  exit 1
fi
