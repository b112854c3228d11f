#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried: the
# 7B decode step of every olmo-hybrid-7b*.hyla in the bundle side by side
# (hyla-only: greedy generation through the CUDA-graph step at B=1, and
# the step as plain calls at each B of $DECODE_BATCHES, default "1 32",
# after 511 cached tokens), the
# runtime's execution tests, compute-sanitizer memcheck and racecheck on
# the tiny model's generation, one profiled B=1 step of the default module,
# and the decode products of gemm_7b_decode*.hyla against cuBLAS
# (bench_gemm.py). Logs go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
exec > >(tee -a "$out/decode_variants.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv
LD_LIBRARY_PATH=$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} limit 60 "$b/bin/hyla-execution-tests"
tiny="$b/bin/hyla-run $b/olmo-hybrid-tiny.hyla --generate 8 --prompt 1,2,3,4,5 --seed 1"
limit 60 $tiny
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    limit 200 compute-sanitizer --tool $tool --error-exitcode 9 $tiny --no-graph
  done
fi
d=$out/decode_inputs
write_decode_inputs "$d"
prompt=11,22,33,44,55,66,77,88,99,111,222,333,444,555,666,777
for m in "$b"/olmo-hybrid-7b*.hyla; do
  limit 120 "$b/bin/hyla-run" "$m" --generate 48 --prompt $prompt --seed 1
  for B in ${DECODE_BATCHES:-1 32}; do
    limit 120 "$b/bin/hyla-run" "$m" --function decode \
      --input 0=$d/ids$B.npy --input 1=$d/slots$B.npy --input 2=$d/lengths$B.npy \
      --sym slots=$B --sym max_tokens=512 --iters 20
  done
done
limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" --function decode \
  --input 0=$d/ids1.npy --input 1=$d/slots1.npy --input 2=$d/lengths1.npy \
  --sym slots=1 --sym max_tokens=512 --iters 20 --profile
mods=()
for m in "$b"/gemm_7b_decode*.hyla; do
  [ -f "$m" ] || continue
  n=$(basename "$m" .hyla); mods+=(--module "${n#gemm_7b_}=$m")
done
[ ${#mods[@]} -gt 0 ] && limit 200 python3 bench/bench_gemm.py "${mods[@]}" \
  --tokens 1,16,32,64 --json "$out/bench_gemm_decode.json"
exit $status
