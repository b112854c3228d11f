#!/usr/bin/env bash
# On the GPU machine (see scripts/make_device_bundle.sh, built with
# BASE_HYLAC set so the bundle holds *_base.hyla from an older hylac): the
# modules of this checkout against the base ones, side by side with the same
# seed. Numerics against float64 and the GEMM, attention and GDN checks
# (check_gdn_attention.py), GDN prefill against fla (bench_gdn.py; also
# gdn_bench_longptr.hyla: this checkout with 64-bit shared addresses), ncu
# of the prefill chunk kernels, GDN decode, the 7B forward, and
# compute-sanitizer on small prefills. `prefill` runs the checks, prefill
# benchmarks and ncu; `rest` the decode, 7B and sanitizer steps (each fits
# one device call); `model` the tiny model against transformers (every
# launch small enough to overlap the one before); no argument runs all.
#
#   scripts/device_operands.sh [prefill|rest|model]
set -uo pipefail
part=${1:-all}
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
echo "seed $seed"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
if [ "$part" = all ] || [ "$part" = prefill ]; then
for m in bench bench_base; do
  limit 200 python3 bench/check_gdn_attention.py --module "$b/$m.hyla" --tokens 2048 \
    --seed "$seed" --json "$out/check_$m.json"
done
for m in gdn_bench gdn_bench_base gdn_bench_longptr; do
  limit 240 python3 bench/bench_gdn.py --module "$b/$m.hyla" --check-tokens 1024 \
    --no-varlen --seed "$seed" --json "$out/bench_$m.json"
done
if command -v ncu >/dev/null; then
  for m in gdn_bench gdn_bench_base; do
    limit 240 ncu --metrics gpu__time_duration.sum,smsp__inst_executed.sum,l1tex__t_requests_pipe_lsu_mem_local_op_ld.sum,smsp__sass_inst_executed_op_shared_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum \
      -k regex:gdn_ python3 bench/profile_gdn_prefill.py --module "$b/$m.hyla" --no-fla
  done
fi
fi
if [ "$part" = all ] || [ "$part" = rest ]; then
for m in gdn_decode gdn_decode_base; do
  limit 150 python3 bench/bench_gdn_decode.py --module "$b/$m.hyla" --batches 1,64,256 \
    --seed "$seed" --json "$out/decode_$m.json"
done
time_7b olmo-hybrid-7b olmo-hybrid-7b_base
sanitize_prefill "$b/gdn_bench.hyla"
fi
if [ "$part" = all ] || [ "$part" = model ]; then
for m in olmo-hybrid-tiny olmo-hybrid-tiny_base; do
  limit 200 python3 bench/bench_model.py --module "$b/$m.hyla" \
    --config examples/olmo-hybrid-tiny/config.json --tokens 64,512 --check-tokens 512 \
    --iters 5 --seed "$seed" --json "$out/model_$m.json"
done
fi
exit $status
