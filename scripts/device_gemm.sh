#!/usr/bin/env bash
# On the GPU machine (see scripts/make_device_bundle.sh): hyla's GEMMs at
# Olmo Hybrid 7B's projection shapes beside cuBLAS, every tile variant the
# bundle holds (gemm_7b_*.hyla), then sanitizers on the default module.
#
#   scripts/device_gemm.sh [TOKENS, default 8192,32]
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
tokens=${1:-8192,32}
modules=()
for f in "$b"/gemm_7b_*.hyla; do
  label=$(basename "$f" .hyla)
  modules+=(--module "${label#gemm_7b_}=$f")
done
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
limit 420 python3 bench/bench_gemm.py "${modules[@]}" --tokens "$tokens" \
  --json "$out/bench_gemm.json"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    limit 120 compute-sanitizer --tool $tool --error-exitcode 9 "$b/bin/hyla-run" \
      "$b/gemm_7b_base.hyla" --function gdn_qk --sym tokens=70 --warmup 0 --iters 1
  done
fi
exit $status
