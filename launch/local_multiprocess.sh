#!/usr/bin/env bash
# Runs one experiment as N cooperating processes on this machine (jax.distributed over
# localhost), each with its own CPU devices: the multi-host code path without a cluster.
#   bash launch/local_multiprocess.sh 2 --config=experiments/configs/vae.py:tiny --workdir=runs/mp
set -euo pipefail
n="$1"; shift
# The coordinator's port: $JAXGEN_COORDINATOR_PORT, or one the OS reports free right now.
port="${JAXGEN_COORDINATOR_PORT:-$("${PYTHON:-python}" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
pids=()
for ((i = 0; i < n; i++)); do
  JAX_PLATFORMS=cpu "${PYTHON:-python}" -m experiments.main --distributed \
    --coordinator_address="localhost:$port" --num_processes="$n" --process_id="$i" "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
