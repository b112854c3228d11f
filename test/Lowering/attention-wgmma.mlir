// RUN: hyla-opt %s -hyla-flash-attention=block-m=128 -hyla-tile-mma-accumulators -hyla-tile-fragment-layouts -hyla-tile-pipeline-operands=tma=true | FileCheck %s

// Flash attention with 128 queries a program on sm_90a (two warpgroups):
// both products on wgmma; the query block, the same for every key step,
// is copied once by TMA before the key loop (a ring of one buffer) and read
// by every step's first product where it lies; the keys come through a
// two-buffer ring; the row max and row sum reduce the score fragments in
// place (quad shuffles, only 128 row values through shared memory) instead
// of converting the 128 x 64 scores to the thread layout.
// CHECK-LABEL: func.func @flash_attn_bf16_hq2_hkv2_d64_dv64_bm128_bn64_w8
// CHECK:         hyla_tile.init_barriers 1 at [[QBAR:[0-9]+]]
// CHECK:         %[[Q:.*]] = hyla_tile.async_load %arg0{{.*}} stage %{{.*}} of 1 at {{[0-9]+}} barriers at [[QBAR]] {{.*}} -> tensor<128x64xbf16, #hyla_tile.shared>
// CHECK:         hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at [[QBAR]] local
// CHECK:         scf.for
// CHECK:           hyla_tile.ring_buffer
// CHECK:           hyla_tile.dot %[[Q]], %{{.*}} {transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           hyla_tile.reduce  max %{{.*}} axis 1 : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<128xf32>
// CHECK-NOT:       hyla_tile.convert_layout
// CHECK:           hyla_tile.reduce  sum %{{.*}} axis 1 : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<128xf32>
// CHECK:         hyla_tile.inval_barriers 1 at [[QBAR]]
// (test/hylac/ptxas-attention.test checks the shuffles and copies in the
// PTX.)
func.func @attn(%q: tensor<1x?x2x64xbf16>, %k: tensor<1x?x2x64xbf16>, %v: tensor<1x?x2x64xbf16>) -> tensor<1x?x2x64xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16> -> tensor<1x?x2x64xbf16>
  return %o : tensor<1x?x2x64xbf16>
}
