#!/usr/bin/env bash
# On the GPU machine, with the bundle of scripts/make_decode_bundle.sh in
# .device/: the runtime's value checks on the real driver (the execution
# tests; a prefill with random offsets refused; the 7B decode step called
# without a graph, with the checks and with HYLA_VALUE_CHECKS=0, B = 1 and
# 32 after 511 cached tokens; generation from prompts of three lengths),
# then a per-kernel profile of the 7B forward at B=1 T=8192 (where the
# prefill's time goes). Logs go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
exec > >(tee -a "$out/value_checks_and_profile.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
LD_LIBRARY_PATH=$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} limit 60 "$b/bin/hyla-execution-tests"
m7=$b/olmo-hybrid-7b.hyla
# Random offsets: refused before anything runs (exit status 1 expected).
step bash -c "! '$b/bin/hyla-run' '$m7' --function prefill --sym tokens=64 \
  --sym sequences_plus_1=3 --sym slots=2 --sym max_tokens=64 --iters 1 \
  --warmup 0"
write_decode_inputs "$out/decode_inputs"
for B in 1 32; do
  d=$out/decode_inputs
  args=(--function decode --input 0=$d/ids$B.npy --input 1=$d/slots$B.npy
        --input 2=$d/lengths$B.npy --sym slots=$B --sym max_tokens=513
        --warmup 3 --iters 20)
  limit 120 "$b/bin/hyla-run" "$m7" "${args[@]}"
  HYLA_VALUE_CHECKS=0 limit 120 "$b/bin/hyla-run" "$m7" "${args[@]}"
done
prompts="1,2,3,4,5;6,7;8,9,10,11,12,13,14,15,16,17,18,19,20"
limit 120 "$b/bin/hyla-run" "$m7" --generate 16 --seed 1 --prompt "$prompts"
limit 300 "$b/bin/hyla-run" "$m7" --sym batch=1 --sym tokens=8192 \
  --warmup 1 --iters 3 --profile
exit $status
