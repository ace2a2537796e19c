#!/usr/bin/env bash
# Runs one experiment as N cooperating processes on this machine (jax.distributed over
# localhost), each with its own CPU devices: the multi-host code path without a cluster.
#   bash launch/local_multiprocess.sh 2 --config=experiments/configs/vae.py:tiny --workdir=runs/mp
set -euo pipefail
n="$1"; shift
port="${JAXGEN_COORDINATOR_PORT:-12355}"
pids=()
for ((i = 0; i < n; i++)); do
  JAX_PLATFORMS=cpu "${PYTHON:-python}" -m experiments.main --distributed \
    --coordinator_address="localhost:$port" --num_processes="$n" --process_id="$i" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
