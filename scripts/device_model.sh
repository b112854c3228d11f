#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): the whole 7B model through hyla-run at
# B=1 T=512 and T=8192, then hyla against transformers with the same weights
# (bench/bench_model.py: float32-checked logits, prefill times). Logs and
# JSON go to $OUT (or ./out).
#
#   scripts/device_model.sh [TOKENS, default 512,8192]
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
tokens=${1:-512,8192}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
for t in ${tokens//,/ }; do
  limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --sym batch=1 --sym tokens="$t" \
    --warmup 1 --iters 3
done
limit 420 python3 bench/bench_model.py --module "$b/olmo-hybrid-7b.hyla" \
  --config examples/olmo-hybrid-7b/config.json \
  --tokens "$tokens" --json "$out/bench_model.json"
exit $status
