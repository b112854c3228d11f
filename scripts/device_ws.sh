#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): the GDN prefill with the state kernel's
# copies from a producer warpgroup (gdn_bench_ws: 2 buffers a ring,
# gdn_bench_ws3: 3) against the default (one warpgroup copying a chunk
# ahead, gdn_bench) and 3 buffers without the producer (gdn_bench_st3), fla
# timed in the same call; float64 checks; then (PART=check) the delta rule
# and layer core of the specialized module at T = 2048, 130 and 1 against
# float64, compute-sanitizer on it, and an ncu kernel table. Logs go to $OUT
# (or ./out); SEED fixes the inputs.
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
part=${PART:-bench}
exec > >(tee -a "$out/ws_$part.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
if [ "$part" = bench ]; then
  # A hang (a wait no copy completes) shows here in seconds, not in the
  # benchmark's minutes.
  for m in gdn_bench gdn_bench_ws gdn_bench_ws3 gdn_bench_st3; do
    limit 60 python3 bench/profile_gdn_prefill.py --module "$b/$m.hyla" --no-fla \
      --shape 2,300,30,96,192
  done
  [ $status = 0 ] || exit $status
  # The first call pays fla's Triton compile and autotuning (its varlen
  # kernels took over 200 s on 2026-11-24).
  for m in gdn_bench gdn_bench_ws gdn_bench_ws3 gdn_bench_st3; do
    limit 300 python3 bench/bench_gdn.py --module "$b/$m.hyla" --check-tokens 1024 \
      --seed "$seed" --json "$out/prefill_$m.json"
  done
  exit $status
fi
for t in 2048 130 1; do
  limit 120 python3 bench/check_gdn_attention.py --module "$b/bench_ws.hyla" --tokens $t \
    --seed "$seed" --only gated_delta_rule,gdn_core --json "$out/check_ws_t$t.json"
done
limit 120 python3 bench/check_gdn_attention.py --module "$b/bench_ws.hyla" --batch 4 \
  --tokens 300 --seed "$seed" --no-fla --only gated_delta_rule
sanitize_prefill "$b/gdn_bench_ws3.hyla"
if command -v ncu >/dev/null; then
  for m in gdn_bench gdn_bench_ws gdn_bench_ws3; do
    limit 120 ncu --metrics gpu__time_duration.sum -k regex:gdn_state python3 \
      bench/profile_gdn_prefill.py --module "$b/$m.hyla" --no-fla
  done
fi
exit $status
