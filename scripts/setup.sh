#!/usr/bin/env bash
# Creates .venv (once) and installs jaxgen into it with the given extras, e.g. `test`.
# Reinstalls only when setup.cfg or the extras change, so reruns need no network.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "error: jaxgen needs Python >= 3.11; found $(python3 --version 2>&1)" >&2; exit 2; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || {
    echo "error: python3 cannot create a virtual environment; install python3-venv" >&2; exit 2; }
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.jaxgen-installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)-${extras:-none}"
if [ ! -f "$stamp" ]; then
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
