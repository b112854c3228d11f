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
limit 90 python3 bench/check_gdn_attention.py --module "$b/bench.hyla" --tokens 2048 \
  --json "$out/check_gdn_attention.json"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    limit 120 compute-sanitizer --tool $tool --error-exitcode 9 python3 \
      bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" \
      --prefill-module "$b/gdn_bench.hyla" --batches 2 --no-fla --no-timing
  done
fi
for v in bv32_w8 bv64_w8 bv16_w4; do
  limit 60 python3 bench/bench_gdn_decode.py --module "$b/gdn_decode_$v.hyla" \
    --core-only --no-fla --json "$out/bench_gdn_decode_$v.json"
done
limit 120 python3 bench/bench_gdn.py --module "$b/gdn_bench.hyla" --json "$out/bench_gdn.json"
exit $status
