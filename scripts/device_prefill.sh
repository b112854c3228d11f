#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh). Logs go to $OUT (or ./out).
#
#   scripts/device_prefill.sh profile   ncu of hyla's and fla's prefill
#                                       kernels at B=1 T=8192 H=30 K=96
#                                       V=192; SASS of the GDN kernels
#   scripts/device_prefill.sh bench     check_gdn_attention.py (GDN,
#                                       attention, GEMM against float64 and
#                                       their peers), bench_gdn.py (issue 4's
#                                       prefill shapes against fla), the 7B
#                                       forward through hyla-run, the
#                                       prefill->decode chain, and
#                                       compute-sanitizer on small packed
#                                       (varlen) and dense prefills
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
stage=${1:-bench}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
if [ "$stage" = profile ]; then
  prof="python3 bench/profile_gdn_prefill.py --module $b/gdn_bench.hyla"
  limit 120 ncu --metrics gpu__time_duration.sum,launch__grid_size,launch__block_size,launch__registers_per_thread \
    $prof --calls 1
  limit 200 ncu -k regex:gdn_state -c 1 --set full --import-source no \
    --export "$out/gdn_state" $prof --calls 1 --no-fla
  [ -f "$out/gdn_state.ncu-rep" ] && {
    step ncu --import "$out/gdn_state.ncu-rep" --page details
    ncu --import "$out/gdn_state.ncu-rep" --page source --csv --print-source sass \
      > "$out/gdn_state_source.csv" 2>&1
  }
  limit 200 ncu -k regex:chunk_gated_delta_rule_fwd_kernel_h -c 1 --set full \
    --import-source no $prof --calls 1 | grep -v "^    ---" | head -200
  if [ -d "$b/ptx" ]; then
    for f in "$b"/ptx/gdn_state*.ptx; do
      n=$(basename "$f" .ptx)
      ptxas -arch=sm_90a -v "$f" -o "$out/$n.cubin" 2>&1 | tail -2
      cuobjdump -sass "$out/$n.cubin" > "$out/$n.sass" 2>&1 || nvdisasm "$out/$n.cubin" > "$out/$n.sass"
      rm -f "$out/$n.cubin"
    done
  fi
elif [ "$stage" = bench ]; then
  limit 240 python3 bench/check_gdn_attention.py --module "$b/bench.hyla" --tokens 2048 \
    --json "$out/check_gdn_attention.json"
  limit 500 python3 bench/bench_gdn.py --module "$b/gdn_bench.hyla" --layer-module "$b/bench.hyla" \
    --json "$out/bench_gdn.json"
  limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --sym batch=1 --sym tokens=512 \
    --warmup 2 --iters 5
  limit 150 python3 bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" \
    --prefill-module "$b/gdn_bench.hyla" --batches 64 --no-fla --no-timing
  sanitize_prefill "$b/gdn_bench.hyla"
else
  echo "usage: $0 profile|bench" >&2
  exit 2
fi
exit $status
