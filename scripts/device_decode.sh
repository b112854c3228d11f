#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): GDN decode against fla with float64 checks,
# the decode kernel variants, the prefill checks and benchmark, and
# compute-sanitizer on the decode path. Logs and JSON go to $OUT (or ./out).
set -uo pipefail
cd "$(dirname "$0")/.."
b=$PWD/.device
out=${OUT:-$PWD/out}
mkdir -p "$out"
export HYLA_RUNTIME_LIB=$b/lib/libhyla_runtime.so
export PYTHONPATH=$PWD/python:$b PYTHONUNBUFFERED=1
status=0
step() { echo; echo "=== $*"; "$@" || { echo "!!! failed ($?): $*"; status=1; }; }
limit() { local s=$1; shift; step timeout "$s" "$@"; }

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
limit 200 python3 bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" \
  --prefill-module "$b/gdn_bench.hyla" --json "$out/bench_gdn_decode.json"
for m in "$b"/gdn_decode_bv*.hyla; do
  limit 60 python3 bench/bench_gdn_decode.py --module "$m" --core-only --no-fla \
    --batches ${DECODE_BATCHES:-1,64,256} --json "$out/$(basename "$m" .hyla).json"
done
limit 240 python3 bench/check_gdn_attention.py --module "$b/bench.hyla" --tokens 2048 \
  --json "$out/check_gdn_attention.json"
if command -v ncu >/dev/null; then
  limit 120 ncu -k regex:gdn_decode -c 1 --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section MemoryWorkloadAnalysis --section LaunchStats \
    python3 bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" --batches 64 \
    --core-only --no-fla --no-timing
fi
if command -v compute-sanitizer >/dev/null; then
  limit 100 compute-sanitizer --tool memcheck --error-exitcode 9 python3 \
    bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" \
    --prefill-module "$b/gdn_bench.hyla" --batches 2 --no-fla --no-timing
  limit 150 compute-sanitizer --tool racecheck --error-exitcode 9 python3 \
    bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" --batches 2 \
    --core-only --no-fla --no-timing
fi
exit $status
