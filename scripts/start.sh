#!/usr/bin/env bash
# Install the engine into ./.venv and run it with the embedded store, the demo
# scenario and the API (http://127.0.0.1:8080/docs). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "start.sh: Python 3.11 or newer is required (python3 is $(python3 --version 2>&1))" >&2
  exit 2
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "start.sh: python3-venv is missing: sudo apt-get install python3-venv" >&2
    exit 2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet .
export SOC_DATA_DIR="${SOC_DATA_DIR:-$PWD/.soc-data}"
echo "start.sh: data in $SOC_DATA_DIR; API on http://127.0.0.1:${SOC__API__PORT:-8080}/docs" >&2
exec .venv/bin/soc run --demo "$@"
