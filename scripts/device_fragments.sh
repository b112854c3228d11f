#!/usr/bin/env bash
# On the GPU machine (see scripts/make_device_bundle.sh): dot results kept
# in mma fragments (hyla-tile-fragment-layouts, the default) against every
# product through shared memory (--fragment-layouts=false), side by side
# with the same seeds: numerics against float64, GDN prefill against fla,
# the 7B forward, and compute-sanitizer on small prefills and attention.
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
echo "seed $seed"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
for m in bench bench_nofrag; do
  limit 200 python3 bench/check_gdn_attention.py --module "$b/$m.hyla" --tokens 2048 \
    --seed "$seed" --json "$out/check_$m.json"
done
for m in gdn_bench gdn_bench_nofrag; do
  limit 240 python3 bench/bench_gdn.py --module "$b/$m.hyla" --check-tokens 1024 \
    --no-varlen --seed "$seed" --json "$out/bench_$m.json"
done
time_7b olmo-hybrid-7b olmo-hybrid-7b_nofrag
sanitize_prefill "$b/gdn_bench.hyla"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    limit 150 compute-sanitizer --tool $tool --error-exitcode 9 "$b/bin/hyla-run" \
      "$b/olmo-hybrid-tiny.hyla" --sym batch=2 --sym tokens=70 --warmup 0 --iters 1
  done
fi
exit $status
