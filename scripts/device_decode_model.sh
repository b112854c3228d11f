#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): greedy generation through the modules'
# `decode` with hyla-run (tiny and 7B, random weights), one decode step
# timed and profiled, the decode products against cuBLAS at M = 1..64
# (bench_gemm.py), then
# bench/bench_model.py's decode checks and timings against transformers
# with the same weights: prompt-then-decode vs forward, 64 greedy tokens,
# decode steps at DECODE_ROWS. Logs and JSON go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
rows=${DECODE_ROWS:-1:512,1:8192,32:512,32:8192}
exec > >(tee -a "$out/decode_model.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
# The runtime's execution tests (graphs included) and the Python wrapper's
# GPU tests on the real driver.
LD_LIBRARY_PATH=$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} limit 60 "$b/bin/hyla-execution-tests"
HYLA_TEST_MODULES=$b/test_modules limit 60 python3 python/tests/gpu_torch_test.py
limit 60 "$b/bin/hyla-run" "$b/olmo-hybrid-tiny.hyla" --generate 16 \
  --prompt 1,2,3,4,5,6,7,8 --seed 1
for graph in "" --no-graph; do
  limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --generate 32 \
    --prompt 11,22,33,44,55,66,77,88,99,111,222,333,444,555,666,777 --seed 1 $graph
done
# One decode step of the 7B after 511 cached tokens, B=1 and 32, timed
# and profiled by kernel (caches random, slots 0..B-1).
d=$out/decode_inputs
write_decode_inputs "$d"
for B in 1 32; do
  limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --function decode \
    --input 0=$d/ids$B.npy --input 1=$d/slots$B.npy --input 2=$d/lengths$B.npy \
    --sym slots=$B --sym max_tokens=512 --iters 20 $([ $B = 1 ] && echo --profile)
done
[ -f "$b/gemm_7b_decode.hyla" ] && limit 200 python3 bench/bench_gemm.py \
  --module few_rows="$b/gemm_7b_decode.hyla" --module square="$b/gemm_7b_base.hyla" \
  --tokens 1,16,32,64 --json "$out/bench_gemm_decode.json"
limit 480 python3 bench/bench_model.py --module "$b/olmo-hybrid-7b.hyla" \
  --config examples/olmo-hybrid-7b/config.json --tokens 512 --iters 3 \
  --check-tokens 512 --decode-check-steps 16 --generate 64 \
  --decode-rows "$rows" --json "$out/bench_decode.json" ${SEED:+--seed $SEED}
exit $status
