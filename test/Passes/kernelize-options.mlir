// RUN: not hyla-opt %s -hyla-kernelize=gemm-num-warps=3 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not hyla-opt %s -hyla-kernelize=gemm-block-k=24 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not hyla-opt %s -hyla-kernelize=gemm-stages=1 2>&1 | FileCheck %s --check-prefix=STAGES
// RUN: hyla-opt %s -hyla-kernelize="gemm-block-m=64 gemm-block-n=32 gemm-block-k=32 gemm-num-warps=4 gemm-stages=3" | FileCheck %s

// GEMM tile options are checked before any kernel is made.
// WARPS: error: hyla-kernelize: GEMM blocks must be multiples of the tensor-core tile (m 16, n 8, k 16), gemm-num-warps a power of two from 1 to 16 and gemm-stages from 2 to 8, got 128x128x64 with 3 warps and 3 stages
// BLOCK: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x24 with 8 warps
// STAGES: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x64 with 8 warps and 1 stages

// The tile sizes, warps and stages are part of the kernel name; the stages
// reach the GPU lowering as hyla_tile.num_stages.
// CHECK: hyla.dispatch @[[K:gemm_bf16_n80_k96_bm64_bn32_bk32_w4_s3]][
// CHECK: func.func @[[K]]({{.*}}) attributes {hyla_tile.kernel, hyla_tile.num_stages = 3 : i32, hyla_tile.num_warps = 4 : i32}
func.func @linear(%x: tensor<2x7x96xbf16>) -> tensor<2x7x80xbf16> {
  %w = hyla.weight "w" : tensor<80x96xbf16>
  %y = hyla.linear %x, %w : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  return %y : tensor<2x7x80xbf16>
}
