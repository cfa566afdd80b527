#!/usr/bin/env bash
# Makes sure Debian's chromium is installed, for the real-browser tests (test/support/browser.ts drives it with
# playwright-core; nothing is started here). Installs the package when /usr/bin/chromium is missing; needs root (or
# sudo without a password) for that.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

. "$(dirname "$0")/apt-install.sh"
# A font, so that the screenshots show text.
if ! apt_install ensure-chromium chromium fonts-dejavu-core; then
  echo "ensure-chromium: no /usr/bin/chromium; the browser tests are skipped until it is installed." >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: the chromium package is installed but /usr/bin/chromium is missing" >&2
  exit 1
fi
