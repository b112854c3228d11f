#!/usr/bin/env bash
# Builds what the GPU machine needs into .device/ (ignored by git): the
# runtime library and hyla-run built here, the modules compiled here (that
# machine has no LLVM), and, when a copy of fla is given, the peer for the
# GDN comparisons. Then `device run` with carry [".device"] and
# scripts/device_check.sh.
#
#   [BASE_HYLAC=path/to/older/hylac] scripts/make_device_bundle.sh [PATH_TO_FLA_REPO]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HYLA_BUILD_DIR:-$root/build}
out=$root/.device
# The decode bundle first (it starts .device afresh): the runtime,
# hyla-run, the execution tests and their modules, the tiny and 7B models
# with cubins (a fresh GPU machine loads the 7B in 4.6 s instead of
# 12.8 s of driver JIT) and the decode products' GEMM graph.
VARIANTS= "$root/scripts/make_decode_bundle.sh" >/dev/null
hylac="$build/bin/hylac"
"$hylac" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench.hyla" --quiet
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench.hyla" --quiet
# The GDN layers' convs, gates and output norm folded into the chunk
# kernels (both, and the output norm alone).
"$hylac" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench_folded.hyla" --quiet \
  --gdn-fuse-prologue --gdn-fuse-output-norm
"$hylac" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench_foldednorm.hyla" \
  --quiet --gdn-fuse-output-norm
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_fused.hyla" --quiet \
  --gdn-parallel-chunks=false
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_w8.hyla" --quiet \
  --gdn-num-warps=8
# The default state kernel (one warpgroup, W and K~^T copied a chunk ahead
# by TMA) with cp.async copies instead, and 16 warps of mma.sync.
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_notma.hyla" --quiet \
  --tma=false
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_state16.hyla" --quiet \
  --gdn-state-num-warps=16
# The state kernel's copies from a producer warpgroup (--warp-specialize),
# with 2 and 3 buffers a ring, and 3 buffers without it.
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_ws.hyla" --quiet \
  --warp-specialize
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_ws3.hyla" --quiet \
  --warp-specialize --gdn-state-stages=3
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_st3.hyla" --quiet \
  --gdn-state-stages=3
"$hylac" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench_ws.hyla" --quiet \
  --warp-specialize --gdn-state-stages=3
"$hylac" "$root/bench/graphs/gdn_bench.mlir" --emit=ptx -o "$out/ptx" --quiet
# Every product through shared memory into the thread layout (before
# hyla-tile-fragment-layouts), to compare in one run.
"$hylac" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench_nofrag.hyla" --quiet \
  --fragment-layouts=false
"$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_nofrag.hyla" --quiet \
  --fragment-layouts=false
"$hylac" "$root/bench/graphs/gdn_decode.mlir" -o "$out/gdn_decode.hyla" --quiet
# Decode kernel shapes to compare: state columns per block, warps, programs
# per SM (0: no register cap, -1: by state size) and blocks per program.
for v in "16 2 -1 1" "16 2 -1 2" "16 2 -1 4"; do
  read -r bv w m n <<<"$v"
  "$hylac" "$root/bench/graphs/gdn_decode.mlir" \
    -o "$out/gdn_decode_bv${bv}_w${w}_m${m}_n$n.hyla" --quiet --decode-block-v="$bv" \
    --decode-num-warps="$w" --decode-min-programs-per-sm="$m" \
    --decode-blocks-per-program="$n"
done
# The decode graphs without merged dispatches (one launch per op).
"$hylac" "$root/bench/graphs/gdn_decode.mlir" -o "$out/gdn_decode_nomerge.hyla" --quiet \
  --merge-max-parts=1
# GEMM tile variants: rows, columns, k step, warps, stages (base: the
# defaults, 128 128 64 8 3).
"$hylac" "$root/bench/graphs/gemm_7b.mlir" -o "$out/gemm_7b_base.hyla" --quiet
"$hylac" "$root/bench/graphs/gemm_7b.mlir" -o "$out/gemm_7b_notma.hyla" --quiet --tma=false
for v in "s2 128 128 64 8 2" "s4 128 128 64 8 4" "m256n128s3 256 128 64 8 3" \
         "k128s3 128 128 128 8 3"; do
  read -r label bm bn bk w s <<<"$v"
  "$hylac" "$root/bench/graphs/gemm_7b.mlir" -o "$out/gemm_7b_$label.hyla" --quiet \
    --gemm-block-m="$bm" --gemm-block-n="$bn" --gemm-block-k="$bk" \
    --gemm-num-warps="$w" --gemm-stages="$s"
done
# Attention (issue 5): the default prefill (128-query programs on two
# wgmma warpgroups, two programs an SM), 128 keys a step, no register cap
# (one program an SM), 64-query programs on mma.sync, K and V copied by a
# producer warpgroup, ring stages released on mbarriers, and decode split
# kernels with capped registers /
# smaller steps.
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn.hyla" --quiet
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_bm128.hyla" --quiet \
  --attn-block-m=128
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_bm128_bn128.hyla" --quiet \
  --attn-block-m=128 --attn-block-n=128
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_m0.hyla" --quiet \
  --attn-min-programs-per-sm=0
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_bm64.hyla" --quiet \
  --attn-block-m=64
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ws.hyla" --quiet \
  --warp-specialize
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_rr.hyla" --quiet \
  --release-rings
# FlashAttention-3's order (the softmax under the previous block's P V):
# with its register need (one program an SM), 128-key steps, and a
# producer warpgroup.
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ov.hyla" --quiet \
  --attn-overlap-softmax
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ov_m1.hyla" --quiet \
  --attn-overlap-softmax --attn-min-programs-per-sm=1
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ov_m1_bn128.hyla" --quiet \
  --attn-overlap-softmax --attn-min-programs-per-sm=1 --attn-block-n=128
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ov_ws.hyla" --quiet \
  --attn-overlap-softmax --warp-specialize
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ov_ws_bn128.hyla" --quiet \
  --attn-overlap-softmax --warp-specialize --attn-block-n=128
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_ws_bn128.hyla" --quiet \
  --warp-specialize --attn-block-n=128
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_dm4.hyla" --quiet \
  --attn-decode-min-programs-per-sm=4
"$hylac" "$root/bench/graphs/attention.mlir" -o "$out/attn_dbn32w8.hyla" --quiet \
  --attn-decode-block-n=32 --attn-decode-num-warps=8
"$hylac" "$root/examples/olmo-hybrid-7b/config.json" -o "$out/olmo-hybrid-7b_folded.hyla" \
  --quiet --gdn-fuse-prologue --gdn-fuse-output-norm
"$hylac" "$root/examples/olmo-hybrid-7b/config.json" -o "$out/olmo-hybrid-7b_nofrag.hyla" \
  --quiet --fragment-layouts=false
"$hylac" "$root/examples/olmo-hybrid-7b/config.json" -o "$out/olmo-hybrid-7b_notma.hyla" \
  --quiet --tma=false
# With BASE_HYLAC (an older build's hylac), the same graphs compiled by it
# as *_base.hyla, to compare two compilers in one run (device_operands.sh);
# and this checkout with 64-bit shared-memory addresses.
if [ -n "${BASE_HYLAC:-}" ]; then
  "$BASE_HYLAC" "$root/bench/graphs/olmo_gdn_attention.mlir" -o "$out/bench_base.hyla" --quiet
  "$BASE_HYLAC" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_base.hyla" --quiet
  "$BASE_HYLAC" "$root/bench/graphs/gdn_decode.mlir" -o "$out/gdn_decode_base.hyla" --quiet
  "$BASE_HYLAC" "$root/examples/olmo-hybrid-7b/config.json" \
    -o "$out/olmo-hybrid-7b_base.hyla" --quiet
  "$BASE_HYLAC" "$root/examples/olmo-hybrid-tiny/config.json" \
    -o "$out/olmo-hybrid-tiny_base.hyla" --quiet
  "$hylac" "$root/bench/graphs/gdn_bench.mlir" -o "$out/gdn_bench_longptr.hyla" --quiet \
    --nvptx-short-ptr=false
fi
if [ $# -ge 1 ]; then
  # Only the package, from the fetched snapshot's newest commit.
  git -C "$1" archive HEAD fla | tar -x -C "$out"
fi
du -sh "$out"
