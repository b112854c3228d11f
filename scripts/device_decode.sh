#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh). Logs and JSON go to $OUT (or ./out).
#
#   scripts/device_decode.sh bench   GDN decode (core, layer, prefill->decode
#                                    chain) against fla with float64 checks;
#                                    the layer without merged dispatches; the
#                                    decode kernel variants; the 7B forward
#                                    with and without programmatic launch
#   scripts/device_decode.sh sweep   the decode core of every kernel variant
#                                    of make_device_bundle.sh (fla beside
#                                    the default module), ncu of two
#   scripts/device_decode.sh check   prefill checks (check_gdn_attention.py),
#                                    ncu durations of the B=1 layer kernels,
#                                    compute-sanitizer on the decode path
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
stage=${1:-bench}
bench=bench/bench_gdn_decode.py
batches=${DECODE_BATCHES:-1,64,256}
# The decode core of each kernel variant of make_device_bundle.sh, hyla only.
decode_variants() {
  local m
  for m in "$b"/gdn_decode_bv*.hyla; do
    limit 60 python3 $bench --module "$m" --core-only --no-fla \
      --batches "$batches" --json "$out/$(basename "$m" .hyla).json"
  done
}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
if [ "$stage" = bench ]; then
  limit 200 python3 $bench --module "$b/gdn_decode.hyla" --prefill-module "$b/gdn_bench.hyla" \
    --json "$out/bench_gdn_decode.json"
  limit 90 python3 $bench --module "$b/gdn_decode_nomerge.hyla" --no-fla \
    --batches "$batches" --json "$out/bench_gdn_decode_nomerge.json"
  decode_variants
  for pdl in 1 0; do
    HYLA_PROGRAMMATIC_LAUNCH=$pdl limit 120 "$b/bin/hyla-run" "$b/olmo-hybrid-7b.hyla" \
      --sym batch=1 --sym tokens=512 --warmup 2 --iters 5
  done
elif [ "$stage" = sweep ]; then
  limit 150 python3 $bench --module "$b/gdn_decode.hyla" --core-only \
    --batches "$batches" --json "$out/bench_gdn_decode_core.json"
  decode_variants
  if command -v ncu >/dev/null; then
    for m in ${NCU_MODULES:-gdn_decode_bv16_w2_m-1_n1 gdn_decode_bv16_w2_m-1_n4}; do
      limit 120 ncu -k regex:'^gdn_decode' --metrics \
        gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,lts__t_sector_hit_rate.pct,launch__registers_per_thread,launch__grid_size \
        python3 $bench --module "$b/$m.hyla" --batches 64 --core-only --no-fla --no-timing
    done
  fi
elif [ "$stage" = check ]; then
  limit 240 python3 bench/check_gdn_attention.py --module "$b/bench.hyla" --tokens 2048 \
    --json "$out/check_gdn_attention.json"
  if command -v ncu >/dev/null; then
    limit 120 ncu -k regex:'^(conv1d|gdn_|gated_rms)' --metrics \
      gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread \
      python3 bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" --batches 1 \
      --no-fla --no-timing
  fi
  if command -v compute-sanitizer >/dev/null; then
    limit 150 compute-sanitizer --tool memcheck --error-exitcode 9 python3 \
      bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" \
      --prefill-module "$b/gdn_bench.hyla" --batches 2 --no-fla --no-timing
    limit 200 compute-sanitizer --tool racecheck --error-exitcode 9 python3 \
      bench/bench_gdn_decode.py --module "$b/gdn_decode.hyla" --batches 2 \
      --no-fla --no-timing
  fi
else
  echo "usage: $0 bench|sweep|check" >&2
  exit 2
fi
exit $status
