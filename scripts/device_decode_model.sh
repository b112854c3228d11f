#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): greedy generation through the modules'
# `decode` with hyla-run (tiny and 7B, random weights), then
# bench/bench_model.py's decode checks and timings against transformers
# with the same weights: prompt-then-decode vs forward, 64 greedy tokens,
# decode steps at DECODE_ROWS. Logs and JSON go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
rows=${DECODE_ROWS:-1:512,1:8192,32:512,32:8192}
exec > >(tee -a "$out/decode_model.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
limit 60 "$b/bin/hyla-run" "$b/olmo-hybrid-tiny.hyla" --generate 16 \
  --prompt 1,2,3,4,5,6,7,8 --seed 1
limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --generate 32 \
  --prompt 11,22,33,44,55,66,77,88,99,111,222,333,444,555,666,777 --seed 1
limit 480 python3 bench/bench_model.py --module "$b/olmo-hybrid-7b.hyla" \
  --config examples/olmo-hybrid-7b/config.json --tokens 512 --iters 3 \
  --check-tokens 512 --decode-check-steps 16 --generate 64 \
  --decode-rows "$rows" --json "$out/bench_decode.json" ${SEED:+--seed $SEED}
exit $status
