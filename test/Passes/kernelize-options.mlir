// RUN: not hyla-opt %s -hyla-kernelize=gemm-num-warps=3 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not hyla-opt %s -hyla-kernelize=gemm-block-k=24 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: hyla-opt %s -hyla-kernelize="gemm-block-m=64 gemm-block-n=32 gemm-block-k=32 gemm-num-warps=4" | FileCheck %s

// GEMM tile options are checked before any kernel is made.
// WARPS: error: hyla-kernelize: GEMM blocks must be multiples of the tensor-core tile (m 16, n 8, k 16) and gemm-num-warps a power of two from 1 to 16, got 128x128x64 with 3 warps
// BLOCK: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x24 with 8 warps

// The tile sizes and warps are part of the kernel name.
// CHECK: hyla.dispatch @[[K:gemm_bf16_n80_k96_bm64_bn32_bk32_w4]][
// CHECK: func.func @[[K]]({{.*}}) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32}
func.func @linear(%x: tensor<2x7x96xbf16>) -> tensor<2x7x80xbf16> {
  %w = hyla.weight "w" : tensor<80x96xbf16>
  %y = hyla.linear %x, %w : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  return %y : tensor<2x7x80xbf16>
}
