// RUN: hyla-opt %s -hyla-flash-attention=block-m=128 -hyla-tile-mma-accumulators -hyla-tile-fragment-layouts -hyla-tile-pipeline-operands=tma=true | FileCheck %s

// Flash attention with 128 queries a program on sm_90a (two warpgroups):
// both products on wgmma; the query block, the same for every key step,
// is copied once by TMA before the key loop (a ring of one buffer) and read
// by every step's first product where it lies; the keys and the values
// come through two-buffer rings (the values [keys][dv] as they lie, read
// by wgmma transposed); the row max and row sum reduce the score fragments
// in place into fragment rows (1-D #hyla_tile.mma<warpgroup>), which the
// loop carries and the broadcasts read from registers; the probabilities
// 2^(s c - max c) (one fma and one ex2 a score) feed the second product as
// fragments (wgmma's A from registers); only key blocks from the diagonal
// (or the last, partial one) are masked, in an scf.if that yields
// fragments. No convert_layout is left in the loop.
// CHECK-LABEL: func.func @flash_attn_bf16_hq2_hkv2_d64_dv64_bm128_bn64_w8
// CHECK:         hyla_tile.init_barriers 1 at [[QBAR:[0-9]+]]
// CHECK:         %[[Q:.*]] = hyla_tile.async_load %arg0{{.*}} stage %{{.*}} of 1 at {{[0-9]+}} barriers at [[QBAR]] {{.*}} -> tensor<128x64xbf16, #hyla_tile.shared>
// CHECK:         hyla_tile.init_barriers 4 at [[KBAR:[0-9]+]]
// CHECK:         hyla_tile.async_load %arg1{{.*}} stage %{{.*}} of 2 {{.*}} -> tensor<64x64xbf16, #hyla_tile.shared>
// CHECK:         hyla_tile.async_load %arg2{{.*}} stage %{{.*}} of 2 {{.*}} -> tensor<64x64xbf16, #hyla_tile.shared>
// CHECK:         hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at [[QBAR]] local
// CHECK:         scf.for {{.*}} -> (tensor<128xf32, #hyla_tile.mma<warpgroup>>, tensor<128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xf32, #hyla_tile.mma<warpgroup>>, index, index)
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           %[[K:.*]] = hyla_tile.ring_buffer %{{.*}} of 2 at 0
// CHECK:           %[[V:.*]] = hyla_tile.ring_buffer %{{.*}} of 2 at 16384
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           %[[S:.*]] = hyla_tile.dot %[[Q]], %[[K]], %{{.*}} {transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           %[[MASKED:.*]] = scf.if %{{.*}} -> (tensor<128x64xf32, #hyla_tile.mma<warpgroup>>) {
// CHECK:             arith.select %{{.*}}, %[[S]], %{{.*}} : tensor<128x64xi1, #hyla_tile.mma<warpgroup>>, tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           } else {
// CHECK-NEXT:        scf.yield %[[S]] : tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           %[[MAX:.*]] = hyla_tile.reduce  max %[[MASKED]] axis 1 : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<128xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           %[[NEWMAX:.*]] = arith.maximumf %{{.*}}, %[[MAX]] : tensor<128xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           %[[SHIFT:.*]] = arith.mulf %[[NEWMAX]], %{{.*}} : tensor<128xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           %[[ROWS:.*]] = hyla_tile.broadcast %[[SHIFT]] dims [0] : tensor<128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           %[[E:.*]] = math.fma %[[MASKED]], %{{.*}}, %[[ROWS]] : tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           math.exp2 %[[E]] : tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           hyla_tile.reduce  sum %{{.*}} axis 1 : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<128xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           %[[P:.*]] = arith.truncf %{{.*}} : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> to tensor<128x64xbf16, #hyla_tile.mma<warpgroup>>
// CHECK:           hyla_tile.dot %[[P]], %[[V]], %{{.*}} : tensor<128x64xbf16, #hyla_tile.mma<warpgroup>>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           scf.yield
// CHECK:         hyla_tile.inval_barriers 4 at [[KBAR]]
// CHECK:         hyla_tile.inval_barriers 1 at [[QBAR]]
// CHECK:         hyla_tile.broadcast %{{.*}}#1 dims [0] : tensor<128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// (test/hylac/ptxas-attention.test checks the shuffles and copies in the
// PTX.)
func.func @attn(%q: tensor<1x?x2x64xbf16>, %k: tensor<1x?x2x64xbf16>, %v: tensor<1x?x2x64xbf16>) -> tensor<1x?x2x64xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16> -> tensor<1x?x2x64xbf16>
  return %o : tensor<1x?x2x64xbf16>
}
