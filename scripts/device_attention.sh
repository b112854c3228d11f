#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): attention prefill and decode
# (bench/bench_attention.py) for the attention modules of the bundle, PyTorch
# SDPA (cuDNN and flash) timed in the same call; then (PART=check)
# compute-sanitizer memcheck and racecheck on the small shapes and an ncu
# table of the kernels. Logs go to $OUT (or ./out); SEED fixes the inputs;
# MODULES (names in the bundle, without .hyla) picks the variants; ONLY
# (bench_attention.py --only) the benchmarks.
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
part=${PART:-bench}
mods=${MODULES:-attn attn_m0 attn_ws attn_dm4 attn_dbn32w8}
exec > >(tee -a "$out/attention_$part.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
margs=()
for m in $mods; do margs+=(--module "$m=$b/$m.hyla"); done
if [ "$part" = bench ]; then
  # A hang shows here in seconds, not in the benchmark's minutes.
  limit 90 python3 bench/bench_attention.py "${margs[@]}" --only edges,decode \
    --no-timing --decode-rows 2:4096 --seed "$seed"
  [ $status = 0 ] || exit $status
  limit 420 python3 bench/bench_attention.py "${margs[@]}" --seed "$seed" \
    --only "${ONLY:-prefill,edges,varlen,decode}" --json "$out/attention.json"
  exit $status
fi
if command -v compute-sanitizer >/dev/null; then
  for m in $mods; do
    for tool in memcheck racecheck; do
      limit 200 compute-sanitizer --tool $tool --kernel-name kns=attn \
        --error-exitcode 9 python3 bench/bench_attention.py --module "$m=$b/$m.hyla" \
        --only "${ONLY:-edges,decode}" --no-timing --decode-rows 2:1024 --seed "$seed"
    done
  done
fi
exit $status
