#!/usr/bin/env bash
# Sets up .venv and runs the whole test suite (4 fake CPU devices, see tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# A private tfds folder and scorer cache so the run is hermetic and needs no network.
export TFDS_DATA_DIR="${TFDS_DATA_DIR:-$PWD/.cache/tensorflow_datasets}"
export JAXGEN_CACHE="${JAXGEN_CACHE:-$PWD/.cache/jaxgen}"
exec .venv/bin/python -m pytest -n 2 --dist loadfile --durations=15 "$@"
