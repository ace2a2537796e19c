#!/usr/bin/env bash
# Sets up .venv and trains the VAE on the embedded digits (a few minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
workdir="${1:-runs/vae}"
.venv/bin/python -m experiments.main --config=experiments/configs/vae.py --workdir="$workdir"
echo "sample grids:          $(ls "$workdir"/samples/step_*.png | tail -n 1)"
echo "reconstruction grids:  $(ls "$workdir"/samples/recon_step_*.png | tail -n 1)"
echo "metrics:               $workdir/metrics.jsonl (TensorBoard: $workdir/tensorboard)"
