#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): runs the compiled modules and the
# float64 checks, writes logs and JSON to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
step "$b/bin/hyla-run" "$b/olmo-hybrid-tiny.hyla" --sym batch=2 --sym tokens=100 --iters 3
step python3 bench/check_gdn_attention.py --module "$b/bench.hyla" --tokens 2048 \
  --json "$out/check_gdn_attention.json"
step "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --sym batch=1 --sym tokens=512 \
  --warmup 1 --iters 3 --profile
if command -v compute-sanitizer >/dev/null; then
  step compute-sanitizer --tool memcheck --error-exitcode 9 "$b/bin/hyla-run" \
    "$b/olmo-hybrid-tiny.hyla" --sym batch=2 --sym tokens=70 --warmup 0 --iters 1
  step compute-sanitizer --tool racecheck --error-exitcode 9 "$b/bin/hyla-run" \
    "$b/olmo-hybrid-tiny.hyla" --sym batch=1 --sym tokens=70 --warmup 0 --iters 1
fi
exit $status
