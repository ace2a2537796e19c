#!/usr/bin/env bash
# Sets up .venv and runs the tests on 4 fake CPU devices (see tests/conftest.py).
#   bash scripts/test.sh           the fast tier: every module imported, every config built and
#                                  stepped, all unit tests, the codec and its fuzz seeds
#   bash scripts/test.sh --full    adds the slow tier (pytest marker `slow`): end-to-end chains,
#                                  kill -9 and two-process runs, scorer-trained report tests
# Other arguments go to pytest (e.g. `bash scripts/test.sh tests/fractal -x`); a test named by
# its id (path::name) runs whatever its tier.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
named=0
args=()
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    *::*) named=1; args+=("$arg") ;;
    *) args+=("$arg") ;;
  esac
done
tier=()
[ "$full" = 1 ] || [ "$named" = 1 ] || tier=(-m "not slow")
bash scripts/setup.sh
# Datasets are prepared by this checkout's builders, into the checkout: hermetic, no network.
export TFDS_DATA_DIR="${TFDS_DATA_DIR:-$PWD/.cache/tensorflow_datasets}"
# Compiled programs and this machine's measured XLA flags outlive the checkout (a fresh clone,
# CI's included, starts warm): in $JAXGEN_CACHE, else $XDG_CACHE_HOME/jaxgen, else
# ~/.cache/jaxgen; the compilation cache is bounded by $JAXGEN_COMPILE_CACHE_MAX_MB.
started=$(date +%s)
status=0
# ${a[@]+"${a[@]}"}: an empty array expands to nothing under `set -u` in every bash.
.venv/bin/python -m pytest -n 2 --dist worksteal --durations=15 ${tier[@]+"${tier[@]}"} \
    ${args[@]+"${args[@]}"} || status=$?
echo "pytest took $(( $(date +%s) - started )) s (tier: ${tier[*]:-full})"
exit "$status"
