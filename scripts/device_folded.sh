#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): the GDN layer core with its convs, gates
# and gated RMSNorm as separate kernels (bench), with only the norm folded
# into the output kernel (bench_foldednorm) and with all of them folded into
# the chunk kernels (bench_folded), each against fla's chain in the same
# run; float64 checks at T=2048; compute-sanitizer on the folded module; the
# 7B forward with and without folding. Logs go to $OUT (or ./out); SEED
# fixes the inputs.
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
nvidia-smi --query-gpu=name,driver_version --format=csv
# PART=bench (timings and float64 checks), PART=sanitize (sanitizers and
# the 7B forward) or PART=sanitize-only; everything when unset.
part=${PART:-all}
if [ "$part" = all ] || [ "$part" = bench ]; then
for m in bench bench_foldednorm bench_folded; do
  limit 300 python3 bench/bench_gdn.py --module "$b/gdn_bench.hyla" \
    --layer-module "$b/$m.hyla" --shapes 0,1,2 --no-varlen --check-tokens 1024 \
    --seed "$seed" --json "$out/layer_$m.json"
done
for m in bench bench_folded; do
  limit 150 python3 bench/check_gdn_attention.py --module "$b/$m.hyla" --seed "$seed" \
    --json "$out/check_$m.json"
done
fi
[ "$part" = bench ] && exit $status
# PART=sanitize-only skips the 7B forward.
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    # Only hyla's GDN kernels (cuDNN's SDPA kernels report races of their own).
    limit 200 compute-sanitizer --tool $tool --kernel-name kns=gdn_ --error-exitcode 9 \
      python3 bench/check_gdn_attention.py --module "$b/bench_folded.hyla" --batch 2 \
      --tokens 130 --no-fla --seed "$seed" --only gated_delta_rule,gdn_core,gdn_layer_core
  done
fi
[ "$part" = sanitize-only ] || time_7b olmo-hybrid-7b olmo-hybrid-7b_folded
exit $status
