// RUN: hyla-opt %s -split-input-file -hyla-kernelize -verify-diagnostics | FileCheck %s

// Row-wise ops see [rows, features]: the leading dims collapse, the kernel
// handles a block of rows per program, the result expands back.
// CHECK-LABEL: func.func @rms_norm
// CHECK:         %[[X:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<?x?x96xbf16> into tensor<?x96xbf16>
// CHECK:         %[[R:.*]] = tensor.dim %[[X]], %c0
// CHECK:         %[[G:.*]] = arith.ceildivui %[[R]], %c32
// CHECK:         %[[Y:.*]] = hyla.dispatch @[[K:rms_norm_bf16_bf16_f96_e0x358637bd_r32]][%[[G]], %c1, %c1](%[[X]], %{{.*}}) : (tensor<?x96xbf16>{%[[R]]}, tensor<96xbf16>) -> (tensor<?x96xbf16>{%[[R]]})
// CHECK:         tensor.expand_shape %[[Y]] {{\[\[}}0, 1], [2]]
// CHECK:       func.func @[[K]](%{{.*}}: memref<?x96xbf16>, %{{.*}}: memref<96xbf16>, %{{.*}}: memref<?x96xbf16>)
// CHECK:         hyla_tile.reduce sum {{.*}} axis 1 : tensor<32x96xf32> -> tensor<32xf32>
// CHECK:         math.rsqrt
func.func @rms_norm(%x: tensor<?x?x96xbf16>) -> tensor<?x?x96xbf16> {
  %w = hyla.weight "w" : tensor<96xbf16>
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<?x?x96xbf16>, tensor<96xbf16> -> tensor<?x?x96xbf16>
  return %y : tensor<?x?x96xbf16>
}

// -----

// Linear is a tiled GEMM: a program per output block (column blocks times
// row blocks, in groups of gemm-group-m row blocks, row block fastest), a K
// loop of dots with f32 accumulation, one rounding at the store. Each step
// loads the next step's operands before its product (the first ones before
// the loop).
// CHECK-LABEL: func.func @linear
// CHECK:         %[[ROWS:.*]] = arith.ceildivui
// CHECK:         %[[GRID:.*]] = arith.muli %{{.*}}, %[[ROWS]]
// CHECK:         hyla.dispatch @[[K:gemm_bf16_n80_k96_bm128_bn128_bk64_w8_s3_g16]][%[[GRID]], %c1{{.*}}, %c1{{.*}}]
// CHECK:       func.func @[[K]](
// CHECK:         %[[PER_GROUP:.*]] = arith.constant 16 : index
// CHECK-NEXT:    %[[P:.*]] = hyla_tile.program_id 0
// CHECK:         arith.divui %[[P]], %[[PER_GROUP]]
// CHECK:         %[[IN_GROUP:.*]] = arith.remui %[[P]], %[[PER_GROUP]]
// CHECK:         %[[A0:.*]] = hyla_tile.load %arg0{{.*}} -> tensor<128x64xbf16>
// CHECK:         %[[B0:.*]] = hyla_tile.load %arg1{{.*}} -> tensor<128x64xbf16>
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c96 step %c64 iter_args(%[[ACC:.*]] = %{{.*}}, %[[A:.*]] = %[[A0]], %[[B:.*]] = %[[B0]]) -> (tensor<128x128xf32>, tensor<128x64xbf16>, tensor<128x64xbf16>)
// CHECK:           %[[AN:.*]] = hyla_tile.load %arg0{{.*}} -> tensor<128x64xbf16>
// CHECK:           %[[BN:.*]] = hyla_tile.load %arg1{{.*}} -> tensor<128x64xbf16>
// CHECK:           %[[D:.*]] = hyla_tile.dot %[[A]], %[[B]], %[[ACC]] {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32>
// CHECK:           scf.yield %[[D]], %[[AN]], %[[BN]]
// CHECK:         arith.truncf {{.*}} : tensor<128x128xf32> to tensor<128x128xbf16>
func.func @linear(%x: tensor<2x7x96xbf16>) -> tensor<2x7x80xbf16> {
  %w = hyla.weight "w" : tensor<80x96xbf16>
  %y = hyla.linear %x, %w : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  return %y : tensor<2x7x80xbf16>
}

// -----

// The causal conv reads W shifted token windows; tokens before 0 pad.
// CHECK-LABEL: func.func @conv
// CHECK:         hyla.dispatch @[[K:causal_conv1d_bf16_bf16_c128_w4_silu]]
// CHECK:       func.func @[[K]](
// CHECK-COUNT-4: hyla_tile.load %arg0
// CHECK:         math.exp
func.func @conv(%x: tensor<?x?x128xbf16>) -> tensor<?x?x128xbf16> {
  %w = hyla.weight "w" : tensor<128x4xbf16>
  %y = hyla.causal_conv1d %x, %w : tensor<?x?x128xbf16>, tensor<128x4xbf16> -> tensor<?x?x128xbf16>
  return %y : tensor<?x?x128xbf16>
}

// -----

// Embedding: one program per token; ids outside the table read zeros.
// CHECK-LABEL: func.func @embedding
// CHECK:         %[[IDS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1]] : tensor<?x?xi32> into tensor<?xi32>
// CHECK:         hyla.dispatch @[[K:embedding_bf16_i32_v100_d64]]
// CHECK:       func.func @[[K]](
// CHECK:         memref.load
// CHECK:         arith.index_cast
// CHECK:         hyla_tile.load %arg1{{.*}} dims [1] : memref<100x64xbf16> -> tensor<64xbf16>
func.func @embedding(%ids: tensor<?x?xi32>) -> tensor<?x?x64xbf16> {
  %t = hyla.weight "emb" : tensor<100x64xbf16>
  %e = hyla.embedding %t, %ids : tensor<100x64xbf16>, tensor<?x?xi32> -> tensor<?x?x64xbf16>
  return %e : tensor<?x?x64xbf16>
}

// -----

// Gates: one kernel, two f32 results.
// CHECK-LABEL: func.func @gates
// CHECK:         %{{.*}}:2 = hyla.dispatch @gdn_gates_bf16_bf16_f32_h4_b0x40000000_r64
func.func @gates(%a: tensor<1x9x4xbf16>, %al: tensor<4xf32>) -> (tensor<1x9x4xf32>, tensor<1x9x4xf32>) {
  %g, %b = hyla.gdn_gates %a, %a, %al, %al {beta_scale = 2.0 : f64} : tensor<1x9x4xbf16>, tensor<1x9x4xbf16>, tensor<4xf32>, tensor<4xf32> -> tensor<1x9x4xf32>, tensor<1x9x4xf32>
  return %g, %b : tensor<1x9x4xf32>, tensor<1x9x4xf32>
}

// -----

// Elementwise ops and RoPE. silu_mul and add see their operands as rows of
// the widest power of two (up to 512) dividing the feature width, so that
// tiles are whole vector runs: here [9, 64].
// CHECK-LABEL: func.func @elementwise
// CHECK:         tensor.collapse_shape %arg0 {{\[\[}}0, 1, 2]] : tensor<1x9x64xbf16> into tensor<576xbf16>
// CHECK:         tensor.expand_shape {{.*}} {{\[\[}}0, 1]] output_shape [9, 64] : tensor<576xbf16> into tensor<9x64xbf16>
// CHECK:         hyla.dispatch @silu_mul_bf16_f64_c64_r64
// CHECK:         hyla.dispatch @add_bf16_f64_c64_r64
// CHECK:         hyla.dispatch @rope_bf16_h2_d32_t0x461c4000
func.func @elementwise(%x: tensor<1x9x64xbf16>, %q: tensor<1x9x2x32xbf16>) -> (tensor<1x9x64xbf16>, tensor<1x9x2x32xbf16>) {
  %s = hyla.silu_mul %x, %x : tensor<1x9x64xbf16>
  %a = hyla.add %s, %x : tensor<1x9x64xbf16>
  %r = hyla.rope %q {theta = 10000.0 : f64} : tensor<1x9x2x32xbf16> -> tensor<1x9x2x32xbf16>
  return %a, %r : tensor<1x9x64xbf16>, tensor<1x9x2x32xbf16>
}

// -----

// A feature width of 11008 (2^8 * 43) is cut into rows of 256, 16 per
// program; dynamic leading dims become (elements / 256) rows.
// CHECK-LABEL: func.func @elementwise_wide
// CHECK:         %[[N:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?xbf16>
// CHECK:         %[[R:.*]] = arith.divui %[[N]], %c256 : index
// CHECK:         tensor.expand_shape {{.*}} output_shape [%[[R]], 256] : tensor<?xbf16> into tensor<?x256xbf16>
// CHECK:         hyla.dispatch @silu_mul_bf16_f11008_c256_r16
// CHECK:         tensor.collapse_shape {{.*}} : tensor<?x256xbf16> into tensor<?xbf16>
// CHECK:         tensor.expand_shape {{.*}} : tensor<?xbf16> into tensor<?x?x11008xbf16>
func.func @elementwise_wide(%x: tensor<?x?x11008xbf16>) -> tensor<?x?x11008xbf16> {
  %s = hyla.silu_mul %x, %x : tensor<?x?x11008xbf16>
  return %s : tensor<?x?x11008xbf16>
}

// -----

// The delta rule needs its own pass first.
func.func @needs_chunking(%q: tensor<1x8x1x16xf32>, %g: tensor<1x8x1xf32>) -> tensor<1x8x1x16xf32> {
  // expected-error @+1 {{no kernel for 'hyla.gated_delta_rule': run hyla-chunk-delta-rule before hyla-kernelize}}
  %o, %s = hyla.gated_delta_rule %q, %q, %q, %g, %g {scale = 0.25 : f64} : tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1xf32>, tensor<1x8x1xf32> -> tensor<1x8x1x16xf32>, tensor<1x1x16x16xf32>
  return %o : tensor<1x8x1x16xf32>
}

// -----

// Decode delta rule: one program per (value block, value head, sequence);
// the state comes from the sequence's cache slot, stays in registers over the
// tokens and goes back to the slot, so the cache result is the cache input
// updated in place. A slot outside the cache poisons the output instead.
// 16 state columns over 2 warps: 8 floats a thread, so the kernel asks for 8
// programs per SM.
// CHECK-LABEL: func.func @gdr_decode
// CHECK:         %[[B:.*]] = tensor.dim %arg0, %c0
// CHECK:         hyla.dispatch @[[K:gdn_decode_bf16_bf16_h2_hv4_k32_v128_bv16_w2_m8_s0x3e000000]][%c8, %{{.*}}, %[[B]]]
// CHECK-SAME:      {tied_results = array<i64: -1, 5>}
// CHECK:       func.func @[[K]](
// CHECK-SAME:      hyla_tile.min_programs_per_sm = 8 : i32
// CHECK-SAME:      hyla_tile.num_warps = 2 : i32
// CHECK:         %[[SLOT:.*]] = arith.index_cast
// CHECK:         scf.if
// CHECK:           hyla_tile.load %arg5[%[[SLOT]]
// CHECK:           scf.for {{.*}} -> (tensor<32x16xf32>)
// CHECK:           hyla_tile.store {{.*}}, %arg8[%[[SLOT]]
// CHECK:         } else {
// CHECK:           arith.constant dense<0x7FC00000>
// CHECK:           hyla_tile.store {{.*}}, %arg7
func.func @gdr_decode(%q: tensor<?x1x2x32xbf16>, %v: tensor<?x1x4x128xbf16>, %g: tensor<?x1x4xf32>, %c: tensor<?x4x32x128xf32>, %s: tensor<?xi32>) -> (tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>) {
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<?x1x2x32xbf16>, tensor<?x1x2x32xbf16>, tensor<?x1x4x128xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x4x32x128xf32>, tensor<?xi32> -> tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>
  return %o, %n : tensor<?x1x4x128xbf16>, tensor<?x4x32x128xf32>
}

// -----

// Decode conv: taps read the cached inputs, then the new tokens; the new
// cache rows are all read before any is written (in place).
// CHECK-LABEL: func.func @conv_decode
// CHECK:         hyla.dispatch @[[K:conv1d_decode_bf16_bf16_c128_w4_silu]]
// CHECK-SAME:      {tied_results = array<i64: -1, 2>}
// CHECK:       func.func @[[K]](
// CHECK:         scf.if
// CHECK-COUNT-3: hyla_tile.load %arg2
// CHECK-NOT:     hyla_tile.store {{.*}}%arg5
// CHECK-COUNT-3: hyla_tile.store {{.*}}, %arg5
func.func @conv_decode(%x: tensor<?x1x128xbf16>, %cache: tensor<?x3x128xbf16>, %s: tensor<?xi32>) -> (tensor<?x1x128xbf16>, tensor<?x3x128xbf16>) {
  %w = hyla.weight "w" : tensor<128x4xbf16>
  %y, %c = hyla.causal_conv1d_cached %x, %w, %cache[%s] : tensor<?x1x128xbf16>, tensor<128x4xbf16>, tensor<?x3x128xbf16>, tensor<?xi32> -> tensor<?x1x128xbf16>, tensor<?x3x128xbf16>
  return %y, %c : tensor<?x1x128xbf16>, tensor<?x3x128xbf16>
}

// -----

// A 3840-wide row is 7.5 rounds of 4-element runs for 128 threads but 15
// for 64: the RMSNorm kernel takes 2 warps, so its tiles are whole rounds.
// CHECK-LABEL: func.func @rms_norm_whole_rounds
// CHECK:       func.func @rms_norm_bf16_bf16_f3840_{{.*}}_r1({{.*}}) attributes {hyla_tile.kernel, hyla_tile.num_warps = 2 : i32}
func.func @rms_norm_whole_rounds(%x: tensor<?x3840xbf16>) -> tensor<?x3840xbf16> {
  %w = hyla.weight "w" : tensor<3840xbf16>
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<?x3840xbf16>, tensor<3840xbf16> -> tensor<?x3840xbf16>
  return %y : tensor<?x3840xbf16>
}

// -----

// Prefill of packed prompts: the conv's programs are blocks of one
// sequence (taps masked before its start, stores bounded by its end); the
// conv cache gets each sequence's last 3 inputs, in place.
// CHECK-LABEL: func.func @prefill_conv
// CHECK:         hyla.dispatch @[[TAIL:sequence_tail_bf16_n3]]
// CHECK:         hyla.dispatch @[[SLOTS:write_slots_bf16_3_128]]
// CHECK-SAME:      {tied_results = array<i64: 0>}
// CHECK:         hyla.dispatch @[[CONV:causal_conv1d_packed_bf16_bf16_c128_w4_silu]]
// CHECK:       func.func @[[TAIL]](
// CHECK-COUNT-3: hyla_tile.load %arg0
// CHECK:       func.func @[[SLOTS]](
// CHECK:         scf.if
// CHECK:         hyla_tile.store {{.*}}, %arg3
// CHECK:       func.func @[[CONV]](
// CHECK:         scf.for
// CHECK:         scf.if
// CHECK-COUNT-4: arith.select
// CHECK:         hyla_tile.store {{.*}} bounds
func.func @prefill_conv(%x: tensor<1x?x128xbf16>, %cu: tensor<?xi32>, %slots: tensor<?xi32>, %cache: tensor<?x3x128xbf16>) -> (tensor<1x?x128xbf16>, tensor<?x3x128xbf16>) {
  %w = hyla.weight "w" : tensor<128x4xbf16>
  %tail = hyla.sequence_tail %x cu_seqlens(%cu : tensor<?xi32>) {count = 3} : tensor<1x?x128xbf16> -> tensor<?x3x128xbf16>
  %c = hyla.write_slots %cache[%slots], %tail : tensor<?x3x128xbf16>, tensor<?xi32>, tensor<?x3x128xbf16> -> tensor<?x3x128xbf16>
  %y = hyla.causal_conv1d %x, %w cu_seqlens(%cu : tensor<?xi32>) : tensor<1x?x128xbf16>, tensor<128x4xbf16> -> tensor<1x?x128xbf16>
  return %y, %c : tensor<1x?x128xbf16>, tensor<?x3x128xbf16>
}

// -----

// Keys of packed prompts into their slots from position 0: blocks of 32
// tokens of one sequence, stores bounded by the sequence and the cache.
// CHECK-LABEL: func.func @prefill_keys
// CHECK:         hyla.dispatch @[[K:write_sequences_bf16_2_64]]
// CHECK-SAME:      {tied_results = array<i64: 0>}
// CHECK:       func.func @[[K]](
// CHECK:         scf.for
// CHECK:         scf.if
// CHECK:         scf.if
// CHECK:         hyla_tile.load %arg2{{.*}} bounds
// CHECK:         hyla_tile.store {{.*}}, %arg4{{.*}} bounds
func.func @prefill_keys(%k: tensor<1x?x2x64xbf16>, %cu: tensor<?xi32>, %slots: tensor<?xi32>, %cache: tensor<?x?x2x64xbf16>) -> tensor<?x?x2x64xbf16> {
  %c = hyla.write_sequences %cache[%slots], %k cu_seqlens(%cu : tensor<?xi32>) : tensor<?x?x2x64xbf16>, tensor<?xi32>, tensor<1x?x2x64xbf16> -> tensor<?x?x2x64xbf16>
  return %c : tensor<?x?x2x64xbf16>
}
