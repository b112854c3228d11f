// RUN: not hyla-opt %s -hyla-kernelize=gemm-num-warps=3 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not hyla-opt %s -hyla-kernelize=gemm-block-k=24 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not hyla-opt %s -hyla-kernelize=gemm-stages=1 2>&1 | FileCheck %s --check-prefix=STAGES
// RUN: not hyla-opt %s -hyla-kernelize=gemm-group-m=0 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not hyla-opt %s -hyla-kernelize=decode-blocks-per-program=0 2>&1 | FileCheck %s --check-prefix=DECODE-BLOCKS
// RUN: hyla-opt %s -hyla-kernelize=decode-blocks-per-program=3 | FileCheck %s --check-prefix=DECODE
// RUN: hyla-opt %s -hyla-kernelize="gemm-block-m=64 gemm-block-n=32 gemm-block-k=32 gemm-num-warps=4 gemm-stages=3 gemm-group-m=2" | FileCheck %s

// GEMM tile options are checked before any kernel is made.
// WARPS: error: hyla-kernelize: GEMM blocks must be multiples of the tensor-core tile (m 16, n 8, k 16), gemm-num-warps a power of two from 1 to 16, gemm-stages from 2 to 8 and gemm-group-m at least 1, got 128x128x64 with 3 warps, 3 stages and groups of 16
// BLOCK: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x24 with 8 warps
// GROUP: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x64 with 8 warps, 3 stages and groups of 0
// STAGES: error: hyla-kernelize: GEMM blocks must be multiples {{.*}}, got 128x128x64 with 8 warps, 1 stages

// The tile sizes, warps and stages are part of the kernel name; the stages
// reach the GPU lowering as hyla_tile.num_stages.
// CHECK: hyla.dispatch @[[K:gemm_bf16_n80_k96_bm64_bn32_bk32_w4_s3_g2]][
// CHECK: func.func @[[K]]({{.*}}) attributes {hyla_tile.kernel, hyla_tile.num_stages = 3 : i32, hyla_tile.num_warps = 4 : i32}
func.func @linear(%x: tensor<2x7x96xbf16>) -> tensor<2x7x80xbf16> {
  %w = hyla.weight "w" : tensor<80x96xbf16>
  %y = hyla.linear %x, %w : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  return %y : tensor<2x7x80xbf16>
}

// DECODE-BLOCKS: error: hyla-kernelize: decode-block-v must be positive, decode-num-warps a power of two from 1 to 16, decode-min-programs-per-sm from -1 to 32 and decode-blocks-per-program positive, got 16, 2, -1 and 0

// Decode programs of several value blocks: 8 blocks of 16 columns, at most 3
// a program, so 2 (the largest divisor); 4 programs per head. The program
// prefetches its blocks' states ([32, 32]) into L2, then updates them one
// after another, and poisons each block's outputs when the slot is bad.
// DECODE-LABEL: func.func @gdr_decode
// DECODE:         hyla.dispatch @[[K:gdn_decode_bf16_bf16_h2_hv4_k32_v128_bv16x2_w2_m8_s0x3e000000]][%c4,
// DECODE:       func.func @[[K]](
// DECODE:         %[[V:.*]] = arith.muli %{{.*}}, %c32
// DECODE:         scf.if
// DECODE:           hyla_tile.prefetch %arg5[%{{.*}}, %{{.*}}, %{{.*}}, %[[V]]] dims [2, 3] shape [32, 32]
// DECODE:           scf.for %[[J:.*]] = %{{.*}} to %c2{{.*}} step
// DECODE:             %[[J16:.*]] = arith.muli %[[J]], %c16
// DECODE:             %[[V0:.*]] = arith.addi %[[V]], %[[J16]]
// DECODE:             hyla_tile.load %arg5[{{.*}}, %[[V0]]] dims [2, 3] {{.*}} -> tensor<32x16xf32>
// DECODE:             hyla_tile.store {{.*}}, %arg8[{{.*}}, %[[V0]]] dims [2, 3]
// DECODE:         } else {
// DECODE:           scf.for
// DECODE:             hyla_tile.store {{.*}}, %arg7
func.func @gdr_decode(%q: tensor<?x1x2x32xbf16>, %v: tensor<?x1x4x128xbf16>, %g: tensor<?x1x4xf32>, %c: tensor<?x4x32x128xf32>, %s: tensor<?xi32>) -> (tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>) {
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<?x1x2x32xbf16>, tensor<?x1x2x32xbf16>, tensor<?x1x4x128xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x4x32x128xf32>, tensor<?xi32> -> tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>
  return %o, %n : tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>
}
