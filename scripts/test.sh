#!/usr/bin/env bash
# Install what the tests need (Debian packages when run as root, the Python test
# extras into ./.venv) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# logger (bsdutils) is a real syslog sender for the collector tests; openssl makes
# the TLS certificates of the forwarding tests; softflowd exports NetFlow from pcaps;
# syslog-ng-core brings loggen (syslog load over TLS); curl posts to the HTTP input.
DEBIAN_PACKAGES="bsdutils openssl softflowd syslog-ng-core curl"
python3 -c 'import venv, ensurepip' 2>/dev/null || DEBIAN_PACKAGES="$DEBIAN_PACKAGES python3-venv"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for pkg in $DEBIAN_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
export SOC_DATASETS="${SOC_DATASETS:-$(cd .. && pwd)/shared/datasets}"
exec .venv/bin/python -m pytest "$@"
