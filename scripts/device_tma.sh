#!/usr/bin/env bash
# On the GPU machine (see scripts/make_device_bundle.sh): GEMM operands
# copied through tensor maps (TMA, the default on sm_90a) against cp.async
# (`hylac --tma=false`), side by side with cuBLAS, and sanitizers.
#
#   scripts/device_tma.sh gemm    # smoke run, sanitizers, bench_gemm.py
#   scripts/device_tma.sh model   # check_gdn_attention.py, the 7B forward
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
case ${1:-gemm} in
gemm)
  limit 60 "$b/bin/hyla-run" "$b/gemm_7b_base.hyla" --function gdn_qk \
    --sym tokens=70 --warmup 1 --iters 3
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
      limit 120 compute-sanitizer --tool $tool --error-exitcode 9 \
        "$b/bin/hyla-run" "$b/gemm_7b_base.hyla" --function gdn_qk \
        --sym tokens=70 --warmup 0 --iters 1
    done
  fi
  limit 330 python3 bench/bench_gemm.py --module tma=$b/gemm_7b_base.hyla \
    --module cpasync=$b/gemm_7b_notma.hyla --module tma_s4=$b/gemm_7b_s4.hyla \
    --module tma_m256=$b/gemm_7b_m256n128s3.hyla --tokens 8192,32 \
    --seed "$seed" --json "$out/bench_gemm_tma.json"
  ;;
model)
  limit 150 python3 bench/check_gdn_attention.py --module "$b/bench.hyla" \
    --tokens 2048 --seed "$seed"
  time_7b olmo-hybrid-7b olmo-hybrid-7b_notma
  ;;
esac
exit $status
