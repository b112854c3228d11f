// RUN: hyla-opt %s -split-input-file -hyla-chunk-delta-rule | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-chunk-delta-rule="parallel-chunks=false" | FileCheck %s --check-prefix=FUSED
// RUN: hyla-opt %s -split-input-file -hyla-chunk-delta-rule="chunk-size=32 block-v=32 num-warps=4 parallel-chunks=false" | FileCheck %s --check-prefix=OPTS
// RUN: hyla-opt %s -split-input-file -hyla-chunk-delta-rule="block-v=32 output-block-v=64 state-num-warps=4" | FileCheck %s --check-prefix=OUTV

// By default the delta rule becomes three dispatches: prep (UT transform,
// parallel over chunks), state (sequential over chunks, per value block)
// and output (parallel over chunks and value blocks).
// CHECK-LABEL: func.func @dynamic
// CHECK-DAG:     %[[B:.*]] = tensor.dim %arg0, %c0
// CHECK-DAG:     %[[T:.*]] = tensor.dim %arg0, %c1
// CHECK:         %[[NC:.*]] = arith.ceildivui %[[T]], %c64
// CHECK:         %[[WU:.*]]:3 = hyla.dispatch @[[PREP:gdn_prep_f32_bf16_h2_hv4_k32_v64_c64_w16]][%[[NC]], %{{.*}}, %[[B]]]
// CHECK-SAME:      -> (tensor<?x?x4x32xf32>{%[[B]], %[[T]]}, tensor<?x?x4x64xf32>{%[[B]], %[[T]]}, tensor<?x?x4x32x64xf32>{%[[B]], %[[NC]]})
// CHECK:         %[[ST:.*]]:3 = hyla.dispatch @[[STATE:gdn_state_f32_bf16_h2_hv4_k32_v64_c64_bv64_w16]][%{{.*}}, %{{.*}}, %[[B]]](%[[WU]]#0, %[[WU]]#1, %[[WU]]#2, %arg3)
// CHECK-SAME:      (tensor<?x?x4x32xf32>{%[[B]], %[[T]]}, tensor<?x?x4x64xf32>{%[[B]], %[[T]]}, tensor<?x?x4x32x64xf32>{%[[B]], %[[NC]]}, tensor<?x?x4xf32>{%[[B]], %[[T]]})
// CHECK-SAME:      -> (tensor<?x?x4x64xf32>{%[[B]], %[[T]]}, tensor<?x?x4x64x32xf32>{%[[B]], %[[NC]]}, tensor<?x4x32x64xf32>{%[[B]]})
// CHECK:         %[[O:.*]] = hyla.dispatch @[[OUT:gdn_output_f32_bf16_h2_hv4_k32_v64_c64_bf16_bv64_w16_s0x3e3504f3]][%[[NC]], %{{.*}}, %{{.*}}](%arg0, %arg1, %arg3, %[[ST]]#0, %[[ST]]#1)
// CHECK:         return %[[O]], %[[ST]]#2
// The output programs may span more value columns than the state's: 2
// state blocks of 32, the output over all 64 (grid z = batch x 1); the
// state kernel has warps of its own (state-num-warps).
// OUTV-LABEL: func.func @dynamic
// OUTV-DAG:     %[[B:.*]] = tensor.dim %arg0, %c0
// OUTV:         hyla.dispatch @gdn_state_f32_bf16_h2_hv4_k32_v64_c64_bv32_w4[%c2,
// OUTV:         %[[Z:.*]] = arith.muli %[[B]], %c1
// OUTV:         hyla.dispatch @gdn_output_f32_bf16_h2_hv4_k32_v64_c64_bf16_bv64_w16_s0x3e3504f3[%{{.*}}, %{{.*}}, %[[Z]]]
// CHECK-NOT:     hyla.gated_delta_rule
// CHECK:       func.func @[[PREP]](
// CHECK:         hyla_tile.cumsum {{.*}} : tensor<64xf32>
// CHECK:         hyla_tile.unit_lower_inverse {{.*}} : tensor<64x64xf32>
// CHECK-COUNT-2: hyla_tile.store
// prep also writes the keys decayed to the chunk's end, transposed per
// chunk (K~^T [K, C], tokens contiguous), at the chunk's slot.
// CHECK:         %[[KD:.*]] = arith.mulf {{.*}} : tensor<64x32xf32>
// CHECK:         hyla_tile.store %[[KD]], %arg6[%{{.*}}, %{{.*}}, %{{.*}}, %[[Z:c0[_0-9]*]], %[[Z]]] dims [4, 3] : tensor<64x32xf32>, memref<?x?x4x32x64xf32>
// The state kernel carries the state transposed (S^T, [V, K]): its
// products are D = U - W (S^T)^T and S'^T = D^T K~ + decay S^T, each with
// a value block's 64 rows, the second reading prep's K~^T as it lies
// ([K, C], transpose_b); the per-chunk states stay transposed for the
// output kernel, and the final state is stored back as [K, V]. W loads
// whole chunks (no bounds).
// CHECK:       func.func @[[STATE]](
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<64x32xf32>)
// CHECK:           hyla_tile.store {{.*}} dims [3, 4] : tensor<64x32xf32>, memref<?x?x4x64x32xf32>
// CHECK:           %[[W:.*]] = hyla_tile.load %arg0[{{.*}}] dims [1, 3] : memref<?x?x4x32xf32> -> tensor<64x32xf32>
// CHECK:           %[[KT:.*]] = hyla_tile.load %arg2[{{.*}}] dims [3, 4] : memref<?x?x4x32x64xf32> -> tensor<32x64xf32>
// CHECK:           hyla_tile.dot %[[W]], {{.*}} {transpose_b = true} : tensor<64x32xf32>, tensor<64x32xf32> -> tensor<64x64xf32>
// CHECK:           hyla_tile.dot {{.*}}, %[[KT]], {{.*}} {transpose_a = true, transpose_b = true} : tensor<64x64xf32>, tensor<32x64xf32> -> tensor<64x32xf32>
// CHECK:         hyla_tile.store {{.*}} dims [3, 2] : tensor<64x32xf32>, memref<?x4x32x64xf32>
// CHECK:       func.func @[[OUT]](
// CHECK:         hyla_tile.load {{.*}} dims [3, 4] : memref<?x?x4x64x32xf32> -> tensor<64x32xf32>
// CHECK:         hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x32xf32>, tensor<64x32xf32> -> tensor<64x64xf32>
// CHECK:         arith.truncf {{.*}} : tensor<64x64xf32> to tensor<64x64xbf16>

// The single-kernel form loops over chunks with the state as loop-carried
// tile and stores outputs as it goes.
// FUSED-LABEL: func.func @dynamic
// FUSED:         hyla.dispatch @[[K:gdn_chunk_f32_bf16_h2_hv4_k32_v64_c64_bf16_bv64_w16_s0x3e3504f3]][%{{.*}}, %{{.*}}, %{{.*}}]
// FUSED-NOT:     hyla.gated_delta_rule
// FUSED:       func.func @[[K]](
// FUSED-SAME:    attributes {hyla_tile.kernel, hyla_tile.min_programs_per_sm = 1 : i32, hyla_tile.num_warps = 16 : i32}
// FUSED:         scf.for {{.*}} -> (tensor<64x32xf32>)
// FUSED:           hyla_tile.cumsum
// FUSED:           hyla_tile.unit_lower_inverse
// FUSED:           hyla_tile.store {{.*}} : tensor<64x64xbf16>, memref<?x?x4x64xbf16>
// FUSED:           scf.yield
// OPTS-LABEL:  func.func @dynamic
// OPTS:        hyla.dispatch @gdn_chunk_f32_bf16_h2_hv4_k32_v64_c32_bf16_bv32_w4_s0x3e3504f3
// OPTS:        hyla_tile.num_warps = 4 : i32
// OPTS:        hyla_tile.cumsum {{.*}} : tensor<32xf32>
func.func @dynamic(%q: tensor<?x?x2x32xf32>, %k: tensor<?x?x2x32xf32>, %v: tensor<?x?x4x64xbf16>, %g: tensor<?x?x4xf32>, %beta: tensor<?x?x4xf32>) -> (tensor<?x?x4x64xbf16>, tensor<?x4x32x64xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %k, %v, %g, %beta {scale = 0.1767766952966369 : f64} : tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?x4x64xbf16>, tensor<?x?x4xf32>, tensor<?x?x4xf32> -> tensor<?x?x4x64xbf16>, tensor<?x4x32x64xf32>
  return %o, %s : tensor<?x?x4x64xbf16>, tensor<?x4x32x64xf32>
}

// -----

// An initial state is loaded before the chunk loop; V = 96 is not a
// multiple of the default block (64), so one program takes all of V.
// CHECK-LABEL: func.func @initial_state
// CHECK:         hyla.dispatch @gdn_prep_bf16_bf16_h2_hv2_k32_v96_c64_w16
// CHECK:         hyla.dispatch @[[K:gdn_state_bf16_bf16_h2_hv2_k32_v96_c64_bv96_w16_h0]]
// CHECK:       func.func @[[K]](
// CHECK:         %[[H0:.*]] = hyla_tile.load %arg4{{.*}} dims [3, 2] : memref<1x2x32x96xf32> -> tensor<96x32xf32>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[H0]])
// FUSED-LABEL: func.func @initial_state
// FUSED:         hyla.dispatch @[[K:gdn_chunk_bf16_bf16_h2_hv2_k32_v96_c64_bf16_bv96_w16_s0x3e800000_h0]]
// FUSED:       func.func @[[K]](
// FUSED:         %[[H0:.*]] = hyla_tile.load %arg5{{.*}} dims [3, 2] : memref<1x2x32x96xf32> -> tensor<96x32xf32>
func.func @initial_state(%q: tensor<1x5x2x32xbf16>, %v: tensor<1x5x2x96xbf16>, %g: tensor<1x5x2xf32>, %h0: tensor<1x2x32x96xf32>) -> (tensor<1x5x2x96xbf16>, tensor<1x2x32x96xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g initial_state(%h0 : tensor<1x2x32x96xf32>) {scale = 0.25 : f64} : tensor<1x5x2x32xbf16>, tensor<1x5x2x32xbf16>, tensor<1x5x2x96xbf16>, tensor<1x5x2xf32>, tensor<1x5x2xf32> -> tensor<1x5x2x96xbf16>, tensor<1x2x32x96xf32>
  return %o, %s : tensor<1x5x2x96xbf16>, tensor<1x2x32x96xf32>
}

// -----

// Two rules of the same shapes share their kernels.
// CHECK-LABEL: func.func @shared
// CHECK:         hyla.dispatch @[[P:gdn_prep_[a-z0-9_]*]][
// CHECK:         hyla.dispatch @[[P]][
// CHECK-COUNT-1: func.func @gdn_prep
// CHECK-NOT:     func.func @gdn_prep
func.func @shared(%q: tensor<1x8x1x16xf32>, %v: tensor<1x8x1x16xf32>, %g: tensor<1x8x1xf32>) -> (tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>) {
  %o1, %s1 = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1xf32>, tensor<1x8x1xf32> -> tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>
  %o2, %s2 = hyla.gated_delta_rule %q, %q, %o1, %g, %g {scale = 0.25 : f64} : tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1xf32>, tensor<1x8x1xf32> -> tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>
  return %o1, %o2 : tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>
}

// -----

// With the q/k L2 norms folded in, prep and output normalize each chunk
// row of q and k (sum of squares, rsqrt) right after the load; the state
// kernel reads prep's decayed keys, normalized, and normalizes nothing in
// its loop. The kernel names carry the epsilon.
// CHECK-LABEL: func.func @fused_norms
// CHECK:         %[[WU:.*]]:3 = hyla.dispatch @[[P:gdn_prep_bf16_f32_h1_hv1_k16_v16_c64_l2e0x358637bd_w16]][
// CHECK:         hyla.dispatch @[[S:gdn_state_bf16_f32_h1_hv1_k16_v16_c64_l2e0x358637bd_bv16_w16]][{{.*}}](%[[WU]]#0, %[[WU]]#1, %[[WU]]#2, %arg2)
// CHECK:         hyla.dispatch @[[O:gdn_output_bf16_f32_h1_hv1_k16_v16_c64_l2e0x358637bd_f32_bv16_w16_s0x3e800000]][
// CHECK:       func.func @[[P]](
// CHECK:         hyla_tile.load %arg0{{.*}} -> tensor<64x16xbf16>
// CHECK:         hyla_tile.reduce {{ *}}sum {{.*}} axis 1 : tensor<64x16xf32> -> tensor<64xf32>
// CHECK:         math.rsqrt {{.*}} : tensor<64xf32>
// CHECK-COUNT-3: hyla_tile.store
// CHECK:       func.func @[[S]](
// CHECK-NOT:     hyla_tile.reduce
// CHECK:       func.func @[[O]](
// CHECK-COUNT-2: hyla_tile.reduce {{ *}}sum {{.*}} axis 1 : tensor<64x16xf32> -> tensor<64xf32>
func.func @fused_norms(%q: tensor<1x8x1x16xbf16>, %v: tensor<1x8x1x16xf32>, %g: tensor<1x8x1xf32>) -> (tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {qk_l2norm_epsilon = 1.0e-6 : f64, scale = 0.25 : f64} : tensor<1x8x1x16xbf16>, tensor<1x8x1x16xbf16>, tensor<1x8x1x16xf32>, tensor<1x8x1xf32>, tensor<1x8x1xf32> -> tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>
  return %o, %s : tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>
}

// -----

// Packed sequences (cu_seqlens): prep and output run over chunk slots, at
// most ceil(T / 64) + N of them (each sequence starts a chunk), and find
// their sequence by walking the offsets (empty slots skip their body); the
// state kernel runs one program per sequence and value block; every token
// access stops at the sequence's end (load/store bounds).
// CHECK-LABEL: func.func @varlen
// CHECK-DAG:     %[[CU:.*]] = tensor.dim %arg3, %c0
// CHECK-DAG:     %[[N:.*]] = arith.subi %[[CU]], %c1
// CHECK-DAG:     %[[NC:.*]] = arith.ceildivui
// CHECK:         %[[SLOTS:.*]] = arith.addi %[[NC]], %[[N]]
// CHECK:         hyla.dispatch @[[P:gdn_prep_[a-z0-9_]*_varlen]][%[[SLOTS]], %{{.*}}, %{{.*}}](%arg0, %arg1, %arg2, %arg2, %arg3)
// CHECK:         hyla.dispatch @[[S:gdn_state_[a-z0-9_]*_varlen]][%{{.*}}, %{{.*}}, %[[N]]]
// CHECK-SAME:      -> ({{.*}}, tensor<?x2x32x64xf32>{%[[N]]})
// CHECK:         hyla.dispatch @[[O:gdn_output_[a-z0-9_]*_varlen]][%[[SLOTS]],
// CHECK:       func.func @[[P]](
// CHECK:         scf.for
// CHECK:           memref.load %arg4
// CHECK:         scf.if
// CHECK:           hyla_tile.load %arg0{{.*}} bounds[
// CHECK:           hyla_tile.store {{.*}} bounds[
// CHECK:       func.func @[[S]](
// CHECK:         scf.for
// CHECK:           hyla_tile.store {{.*}} bounds[
func.func @varlen(%q: tensor<1x?x2x32xbf16>, %v: tensor<1x?x2x64xbf16>, %g: tensor<1x?x2xf32>, %cu: tensor<?xi32>) -> (tensor<1x?x2x64xbf16>, tensor<?x2x32x64xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g cu_seqlens(%cu : tensor<?xi32>) {scale = 0.25 : f64} : tensor<1x?x2x32xbf16>, tensor<1x?x2x32xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2xf32>, tensor<1x?x2xf32> -> tensor<1x?x2x64xbf16>, tensor<?x2x32x64xf32>
  return %o, %s : tensor<1x?x2x64xbf16>, tensor<?x2x32x64xf32>
}
