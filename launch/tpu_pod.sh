#!/usr/bin/env bash
# TPU pod slice: the same command on every host; jax.distributed finds the pod by itself.
#   bash launch/tpu_pod.sh my-tpu us-central2-b --config=experiments/configs/ddpm.py \
#       --workdir=/mnt/shared/runs/ddpm   (a filesystem every host mounts)
# A preemptible (spot) slice gets SIGTERM before it is reclaimed: every host stops at the same
# step (jax's preemption sync point), saves and exits with status 75. Requeue by running this
# script again once the slice is back (a queued resource or a loop that recreates the slice and
# reruns while the exit status is 75); the run resumes from that checkpoint.
set -euo pipefail
tpu="$1"; zone="$2"; shift 2
args=$(printf '%q ' "$@")
gcloud compute tpus tpu-vm ssh "$tpu" --zone "$zone" --worker=all \
  --command "cd jaxgen && python -m experiments.main --distributed $args"
