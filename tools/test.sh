#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# Idempotent: a second run installs nothing new, then runs the tests. Used verbatim by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: astrometry.net + Tycho-2 indexes (offline plate solving),
# Chromium (browser tests of the outreach page).
APT_PACKAGES=(chromium astrometry.net astrometry-data-tycho2-07 astrometry-data-tycho2-08
              astrometry-data-tycho2-09 astrometry-data-tycho2-10-19)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python environment.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

exec .venv/bin/python -m pytest "$@"
