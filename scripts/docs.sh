#!/usr/bin/env bash
# Builds the documentation site from docs/ into site/ with mkdocs in strict mode: a link to a
# missing page, file or anchor fails it. `bash scripts/docs.sh serve` serves it on
# http://127.0.0.1:8000 instead. The API reference (docs/api.md) is rendered from the
# docstrings; `python -m experiments.report --tables --update_readme` writes the pages' tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = serve ]; then
  exec .venv/bin/mkdocs serve
fi
.venv/bin/mkdocs build --strict --site-dir "${SITE_DIR:-site}" "$@"
