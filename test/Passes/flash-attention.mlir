// RUN: hyla-opt %s -split-input-file -hyla-flash-attention | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-flash-attention=overlap-softmax=true | FileCheck %s --check-prefix=OVERLAP

// Causal GQA attention: one program per (query block, query head, batch);
// the key loop stops at the query block (causal) and carries the running
// max, sum and accumulator.

// CHECK-LABEL: func.func @causal_gqa
// CHECK-DAG:     %[[B:.*]] = tensor.dim %arg0, %c0
// CHECK-DAG:     %[[T:.*]] = tensor.dim %arg0, %c1
// CHECK:         %[[GX:.*]] = arith.ceildivui %[[T]], %c64
// CHECK:         hyla.dispatch @[[K:flash_attn_bf16_hq8_hkv2_d64_dv64_bm64_bn64_w8_s0x3e000000_causal]][%[[GX]], %c8, %[[B]]]
// CHECK-SAME:      (tensor<?x?x8x64xbf16>{%[[B]], %[[T]]}, tensor<?x?x2x64xbf16>{%[[B]], %[[T]]}, tensor<?x?x2x64xbf16>{%[[B]], %[[T]]})
// CHECK:       func.func @[[K]](
// CHECK:         %[[PID:.*]] = hyla_tile.program_id 1
// CHECK:         %[[KVH:.*]] = arith.divui %[[PID]], %c4
// CHECK:         %[[END:.*]] = arith.minui
// CHECK:         %[[NB:.*]] = arith.ceildivui %[[END]], %c64
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[NB]] {{.*}} -> (tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>)
// CHECK:           hyla_tile.load %arg1[%{{.*}}, %{{.*}}, %[[KVH]], %{{.*}}]
// CHECK:           hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
// CHECK:           arith.cmpi sle
// CHECK:           hyla_tile.reduce max
// CHECK:           math.exp
// CHECK:           hyla_tile.reduce sum
// CHECK:           arith.truncf {{.*}} : tensor<64x64xf32> to tensor<64x64xbf16>
// CHECK:           hyla_tile.dot {{.*}} : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
// CHECK:         arith.divf
// CHECK:         hyla_tile.store
// With overlap-softmax (FlashAttention-3's order) the loop runs n + 1 steps
// (none for an empty sequence) and carries the probabilities: step j
// computes block min(j, n - 1)'s scores, then adds block max(j, 1) - 1's
// P V, then runs the softmax, masking every key in step n; the kernel is
// marked for hyla-tile-async-dots.
// OVERLAP-LABEL: func.func @causal_gqa
// OVERLAP:       hyla.dispatch @[[K:flash_attn_bf16_hq8_hkv2_d64_dv64_bm64_bn64_w8_ov_s0x3e000000_causal]]
// OVERLAP:       func.func @[[K]](
// OVERLAP-SAME:    hyla_tile.overlap_products
// OVERLAP:         %[[NB:.*]] = arith.ceildivui %{{.*}}, %c64
// OVERLAP:         %[[EMPTY:.*]] = arith.cmpi eq, %[[NB]], %c0
// OVERLAP:         %[[NB1:.*]] = arith.addi %[[NB]], %c1
// OVERLAP:         %[[STEPS:.*]] = arith.select %[[EMPTY]], %c0, %[[NB1]]
// OVERLAP:         %[[ATLEAST1:.*]] = arith.maxui %[[NB]], %c1
// OVERLAP:         %[[LAST:.*]] = arith.subi %[[ATLEAST1]], %c1
// OVERLAP:         scf.for %[[J:.*]] = %c0 to %[[STEPS]] {{.*}} -> (tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xbf16>)
// OVERLAP:           %[[SB:.*]] = arith.minui %[[J]], %[[LAST]]
// OVERLAP:           %[[J1:.*]] = arith.maxui %[[J]], %c1
// OVERLAP:           %[[VB:.*]] = arith.subi %[[J1]], %c1
// OVERLAP:           hyla_tile.load %arg1
// OVERLAP:           hyla_tile.load %arg2
// OVERLAP:           hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
// OVERLAP-NEXT:      hyla_tile.dot {{.*}} : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
// OVERLAP:           %[[ISLAST:.*]] = arith.cmpi eq, %[[J]], %[[NB]]
// OVERLAP:           arith.select %[[ISLAST]], %c0, %{{.*}}
// OVERLAP:           hyla_tile.reduce max
// OVERLAP:           math.exp2
// OVERLAP:           hyla_tile.reduce sum
// OVERLAP:           arith.truncf {{.*}} : tensor<64x64xf32> to tensor<64x64xbf16>
// OVERLAP:           scf.yield
// OVERLAP:         arith.divf
func.func @causal_gqa(%q: tensor<?x?x8x64xbf16>, %k: tensor<?x?x2x64xbf16>, %v: tensor<?x?x2x64xbf16>) -> tensor<?x?x8x64xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<?x?x8x64xbf16>, tensor<?x?x2x64xbf16>, tensor<?x?x2x64xbf16> -> tensor<?x?x8x64xbf16>
  return %o : tensor<?x?x8x64xbf16>
}

// -----

// Non-causal attention visits every key block and masks none by position.
// CHECK-LABEL: func.func @full
// CHECK:         hyla.dispatch @[[K:flash_attn_f32_hq2_hkv2_d32_dv16_bm64_bn64_w8_s0x3e000000]]
// CHECK:       func.func @[[K]](
// CHECK-NOT:     arith.minui
// CHECK-NOT:     arith.cmpi sle
// CHECK:         return
func.func @full(%q: tensor<1x10x2x32xf32>, %k: tensor<1x20x2x32xf32>, %v: tensor<1x20x2x16xf32>) -> tensor<1x10x2x16xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64, causal = false} : tensor<1x10x2x32xf32>, tensor<1x20x2x32xf32>, tensor<1x20x2x16xf32> -> tensor<1x10x2x16xf32>
  return %o : tensor<1x10x2x16xf32>
}

// -----

// Packed sequences: the grid has a block slot for each block a sequence
// can start, ceil(T / 64) + N; a program finds its sequence by walking
// cu_seqlens, starts its key loop at the sequence's first token and
// stores only the rows before the sequence's end.
// CHECK-LABEL: func.func @varlen
// CHECK-DAG:     %[[T:.*]] = tensor.dim %arg0, %c1
// CHECK-DAG:     %[[CU:.*]] = tensor.dim %arg3, %c0
// CHECK-DAG:     %[[BLOCKS:.*]] = arith.ceildivui %[[T]], %c64
// CHECK:         %[[N:.*]] = arith.subi %[[CU]], %c1
// CHECK:         %[[GX:.*]] = arith.addi %[[BLOCKS]], %[[N]]
// CHECK:         hyla.dispatch @[[K:flash_attn_bf16_hq4_hkv2_d64_dv64_bm64_bn64_w8_s0x3e000000_causal_varlen]][%[[GX]], %c4, %{{.*}}]
// CHECK-SAME:      tensor<?xi32>{%[[CU]]}
// CHECK:       func.func @[[K]](
// CHECK:         %[[SLOT:.*]] = hyla_tile.program_id 0
// CHECK:         %[[WALK:.*]]:5 = scf.for
// CHECK:           memref.load %arg3
// CHECK:         %[[VALID:.*]] = arith.cmpi ult, %[[SLOT]], %[[WALK]]#0
// CHECK:         %[[END:.*]] = arith.select %[[VALID]], %[[WALK]]#2, %[[WALK]]#3
// CHECK:         scf.for
// CHECK:           %[[N0:.*]] = arith.addi %[[WALK]]#3, %{{.*}}
// CHECK:           hyla_tile.load %arg1[%{{.*}}, %[[N0]], %{{.*}}, %{{.*}}]
// CHECK:         hyla_tile.store %{{.*}}, %arg4[%{{.*}}, %[[WALK]]#1, %{{.*}}, %{{.*}}] bounds[%{{.*}}, %[[END]], %{{.*}}, %{{.*}}] dims [1, 3]
func.func @varlen(%q: tensor<1x?x4x64xbf16>, %k: tensor<1x?x2x64xbf16>, %v: tensor<1x?x2x64xbf16>, %cu: tensor<?xi32>) -> tensor<1x?x4x64xbf16> {
  %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<?xi32>) {scale = 0.125 : f64} : tensor<1x?x4x64xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16> -> tensor<1x?x4x64xbf16>
  return %o : tensor<1x?x4x64xbf16>
}
