#!/usr/bin/env bash
# Regenerates requirements/lock.txt (every package jaxgen and its tests need, with sha256 hashes)
# from setup.cfg (with its test, docs and cloud extras) and requirements/tools.in, with pip-tools
# in a throwaway virtual environment.
# Run it after changing a dependency in setup.cfg, then commit the lock; scripts/setup.sh
# installs it.
# Pins that still satisfy setup.cfg are kept; `bash scripts/lock.sh --upgrade` takes the newest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
  echo "error: the lock is made for Python 3.11; found $(python3 --version 2>&1)" >&2; exit 2; }
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q pip==26.3 pip-tools==7.7.0
"$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --extra test --extra docs --extra cloud \
    --no-emit-index-url --no-emit-find-links "$@" \
    --output-file requirements/lock.txt setup.cfg requirements/tools.in
echo "wrote requirements/lock.txt; commit it with the change that needed it"
