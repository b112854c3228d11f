#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): the GDN prefill with the state kernel on
# 4 warps, W and K~^T copied into shared memory one chunk ahead (TMA, or
# cp.async with --tma=false), against the default 16-warp state kernel and
# fla in one run; ncu kernel times of the staged module; compute-sanitizer
# on it; the tiny model and the GDN/attention check on the default build.
# Logs go to $OUT (or ./out).
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
nvidia-smi --query-gpu=name,driver_version --format=csv
for m in gdn_bench gdn_bench_state4; do
  limit 200 python3 bench/bench_gdn.py --module "$b/$m.hyla" --check-tokens 1024 \
    --seed "$seed" --json "$out/$m.json"
done
limit 120 ncu --metrics gpu__time_duration.sum,l1tex__t_requests_pipe_lsu_mem_local_op_ld.sum \
  -k regex:gdn_ python3 bench/profile_gdn_prefill.py --module "$b/gdn_bench_state4.hyla" --no-fla
sanitize_prefill "$b/gdn_bench_state4.hyla"
limit 150 python3 bench/bench_model.py --module "$b/olmo-hybrid-tiny.hyla" \
  --config examples/olmo-hybrid-tiny/config.json --tokens 64,512 --check-tokens 512 \
  --iters 5 --seed "$seed"
exit $status
