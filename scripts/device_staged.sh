#!/usr/bin/env bash
# On the GPU machine, from the repository root with .device/ carried (see
# scripts/make_device_bundle.sh): the GDN prefill with the default state
# kernel (4 warps, W and K~^T copied into shared memory a chunk ahead by
# TMA), the same with cp.async (--tma=false) and with 16 warps of mma.sync,
# each against fla in the same run; ncu kernel times and compute-sanitizer
# of the default; the tiny model against transformers. Logs go to $OUT
# (or ./out); SEED fixes the inputs.
set -uo pipefail
source "$(dirname "$0")/device_env.sh"
seed=${SEED:-$RANDOM$RANDOM}
nvidia-smi --query-gpu=name,driver_version --format=csv
for m in gdn_bench_state16 gdn_bench gdn_bench_notma; do
  # 400 s: the first call also compiles and autotunes fla's varlen kernels.
  limit 400 python3 bench/bench_gdn.py --module "$b/$m.hyla" --check-tokens 1024 \
    --seed "$seed" --json "$out/$m.json"
done
limit 120 ncu --metrics gpu__time_duration.sum,l1tex__t_requests_pipe_lsu_mem_local_op_ld.sum \
  -k regex:gdn_ python3 bench/profile_gdn_prefill.py --module "$b/gdn_bench.hyla" --no-fla
sanitize_prefill "$b/gdn_bench.hyla"
limit 150 python3 bench/bench_model.py --module "$b/olmo-hybrid-tiny.hyla" \
  --config examples/olmo-hybrid-tiny/config.json --tokens 64,512 --check-tokens 512 \
  --iters 5 --seed "$seed"
exit $status
