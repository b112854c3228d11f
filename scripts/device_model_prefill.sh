#!/usr/bin/env bash
# On the GPU machine, from the repository root with the bundle of
# scripts/make_decode_bundle.sh carried in .device/: the model's `prefill`
# (prompts packed, caches written) end to end. The runtime's execution
# tests; greedy generation of the tiny model from prompts of three lengths
# (prefill, then the decode step), also under compute-sanitizer memcheck
# and racecheck; the 7B's generation from one and from three prompts; and
# bench/bench_model.py against transformers (logits, prefill of four
# prompts of different lengths into shuffled slots then batch decode steps
# against hyla's forward of each, 64 greedy tokens, prefill and decode
# timings). Logs go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
exec > >(tee -a "$out/model_prefill.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
LD_LIBRARY_PATH=$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} limit 60 "$b/bin/hyla-execution-tests"
tiny="$b/bin/hyla-run $b/olmo-hybrid-tiny.hyla --generate 8 --seed 1"
prompts="1,2,3,4,5;6,7;8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72"
limit 60 $tiny --prompt "$prompts"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    limit 200 compute-sanitizer --tool $tool --error-exitcode 9 $tiny \
      --prompt "$prompts" --no-graph
  done
fi
m7=$b/olmo-hybrid-7b.hyla
limit 120 "$b/bin/hyla-run" "$m7" --generate 48 --seed 1 \
  --prompt 11,22,33,44,55,66,77,88,99,111,222,333,444,555,666,777
limit 120 "$b/bin/hyla-run" "$m7" --generate 32 --seed 1 --prompt "$prompts"
limit 420 python3 bench/bench_model.py --module "$m7" \
  --config examples/olmo-hybrid-7b/config.json --tokens 8192 --iters 3 \
  --check-tokens 512 --decode-check-steps 16 --generate 64 \
  --decode-rows "${DECODE_ROWS:-1:512,32:512}" --prefill-rows 1:8192,4:2048 \
  --json "$out/bench_prefill.json"
exit $status
