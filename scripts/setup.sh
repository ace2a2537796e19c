#!/usr/bin/env bash
# Creates .venv (once) and installs exactly the locked environment into it: every package of
# requirements/lock.txt at its pinned version and sha256 hash (pip included), then jaxgen itself
# (editable, no dependencies, built with the locked setuptools). Reinstalls only when the lock or
# the package metadata change, so reruns need no network. scripts/lock.sh regenerates the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements/lock.txt
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "error: jaxgen needs Python >= 3.11; found $(python3 --version 2>&1)" >&2; exit 2; }
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || echo "warning: the lock" \
  "was made and checked on Python 3.11; found $(python3 --version 2>&1)" >&2
# A venv whose creation failed half way (no python3-venv) has a python but no pip: start again.
if ! .venv/bin/python -m pip --version > /dev/null 2>&1; then
  rm -rf .venv
  python3 -m venv .venv || { rm -rf .venv
    echo "error: python3 cannot create a virtual environment; install python3-venv" >&2; exit 2; }
fi
stamp=".venv/.jaxgen-installed-$(cat "$lock" setup.cfg pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  rm -f .venv/.jaxgen-installed-*
  pip=(.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps)
  # The build tools first, from the lock, so that the packages that ship only sources (promise)
  # build with them rather than with unpinned ones fetched into an isolated build environment.
  tools="$(mktemp)"
  awk '/^[^ #]/ { keep = ($0 ~ /^(pip|setuptools|wheel)==/) } keep' "$lock" > "$tools"
  "${pip[@]}" --require-hashes -r "$tools"
  rm -f "$tools"
  "${pip[@]}" --require-hashes --no-build-isolation -r "$lock"
  "${pip[@]}" --no-build-isolation -e .
  .venv/bin/python scripts/check_lock.py "$lock" --remove-extras
  touch "$stamp"
fi
