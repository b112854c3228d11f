// RUN: hyla-opt %s | hyla-opt | FileCheck %s
// Every hyla op parses, verifies and prints back to the same form.

// CHECK-LABEL: func.func @gdn_layer
func.func @gdn_layer(%x: tensor<?x?x64xbf16>, %a: tensor<?x?x2xbf16>)
    -> (tensor<?x?x2x32xbf16>, tensor<?x2x16x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x64xbf16>
  %t = tensor.dim %x, %c1 : tensor<?x?x64xbf16>
  // CHECK: hyla.weight "norm" : tensor<64xbf16>
  %nw = hyla.weight "norm" : tensor<64xbf16>
  // CHECK: hyla.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64}
  %n = hyla.rms_norm %x, %nw {epsilon = 1.0e-6 : f64} : tensor<?x?x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>
  %wq = hyla.weight "q" : tensor<32x64xbf16>
  // CHECK: hyla.linear
  %q = hyla.linear %n, %wq : tensor<?x?x64xbf16>, tensor<32x64xbf16> -> tensor<?x?x32xbf16>
  %cw = hyla.weight "conv" : tensor<32x4xbf16>
  // CHECK: hyla.causal_conv1d {{.*}} : tensor<?x?x32xbf16>, tensor<32x4xbf16> -> tensor<?x?x32xbf16>
  %qc = hyla.causal_conv1d %q, %cw : tensor<?x?x32xbf16>, tensor<32x4xbf16> -> tensor<?x?x32xbf16>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [%b, %t, 2, 16] : tensor<?x?x32xbf16> into tensor<?x?x2x16xbf16>
  // CHECK: hyla.l2_norm {{.*}} -> tensor<?x?x2x16xf32>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<?x?x2x16xbf16> -> tensor<?x?x2x16xf32>
  %al = hyla.weight "A_log" : tensor<2xbf16>
  %dt = hyla.weight "dt_bias" : tensor<2xbf16>
  // CHECK: hyla.gdn_gates {{.*}} {beta_scale = 2.000000e+00 : f64}
  %g, %beta = hyla.gdn_gates %a, %a, %al, %dt {beta_scale = 2.0 : f64} : tensor<?x?x2xbf16>, tensor<?x?x2xbf16>, tensor<2xbf16>, tensor<2xbf16> -> tensor<?x?x2xf32>, tensor<?x?x2xf32>
  %v = tensor.empty(%b, %t) : tensor<?x?x2x32xbf16>
  %h0 = tensor.empty(%b) : tensor<?x2x16x32xf32>
  // CHECK: hyla.gated_delta_rule {{.*}} initial_state(%{{.*}} : tensor<?x2x16x32xf32>) {scale = 2.500000e-01 : f64}
  %o, %s = hyla.gated_delta_rule %qn, %qn, %v, %g, %beta initial_state(%h0 : tensor<?x2x16x32xf32>) {scale = 0.25 : f64} : tensor<?x?x2x16xf32>, tensor<?x?x2x16xf32>, tensor<?x?x2x32xbf16>, tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2x32xbf16>, tensor<?x2x16x32xf32>
  %ow = hyla.weight "o_norm" : tensor<32xbf16>
  // CHECK: hyla.gated_rms_norm
  %on = hyla.gated_rms_norm %o, %o, %ow {epsilon = 1.0e-5 : f64} : tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<32xbf16> -> tensor<?x?x2x32xbf16>
  return %on, %s : tensor<?x?x2x32xbf16>, tensor<?x2x16x32xf32>
}

// CHECK-LABEL: func.func @attention_block
func.func @attention_block(%ids: tensor<?x?xi32>, %q: tensor<?x?x4x16xbf16>, %k: tensor<?x?x2x16xbf16>) -> tensor<?x?x4x16xbf16> {
  %emb = hyla.weight "embed" : tensor<100x64xbf16>
  // CHECK: hyla.embedding
  %e = hyla.embedding %emb, %ids : tensor<100x64xbf16>, tensor<?x?xi32> -> tensor<?x?x64xbf16>
  // CHECK: hyla.silu_mul
  %s = hyla.silu_mul %e, %e : tensor<?x?x64xbf16>
  // CHECK: hyla.add
  %r = hyla.add %s, %e : tensor<?x?x64xbf16>
  // CHECK: hyla.rope {{.*}} {theta = 5.000000e+05 : f64}
  %qr = hyla.rope %q {theta = 500000.0 : f64} : tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  // CHECK: hyla.rope %{{.*}} offsets(%{{.*}} : tensor<?xi32>) {theta = 1.000000e+04 : f64}
  %c0 = arith.constant 0 : index
  %nb = tensor.dim %q, %c0 : tensor<?x?x4x16xbf16>
  %offs = tensor.empty(%nb) : tensor<?xi32>
  %qo = hyla.rope %q offsets(%offs : tensor<?xi32>) {theta = 10000.0 : f64} : tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
  // CHECK: hyla.attention {{.*}} {scale = 2.500000e-01 : f64}
  %o = hyla.attention %qr, %k, %k {scale = 0.25 : f64} : tensor<?x?x4x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16> -> tensor<?x?x4x16xbf16>
  // CHECK: hyla.attention {{.*}} {causal = false, scale = 2.500000e-01 : f64}
  %o2 = hyla.attention %qr, %k, %k {scale = 0.25 : f64, causal = false} : tensor<?x?x4x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16> -> tensor<?x?x4x16xbf16>
  return %o2 : tensor<?x?x4x16xbf16>
}

// Packed sequences: batch 1, cu_seqlens [N + 1].
// CHECK-LABEL: func.func @attention_varlen
// CHECK: hyla.attention %{{.*}}, %{{.*}}, %{{.*}} cu_seqlens(%{{.*}} : tensor<?xi32>) {scale = 2.500000e-01 : f64}
func.func @attention_varlen(%q: tensor<1x?x4x16xbf16>, %k: tensor<1x?x2x16xbf16>, %cu: tensor<?xi32>) -> tensor<1x?x4x16xbf16> {
  %o = hyla.attention %q, %k, %k cu_seqlens(%cu : tensor<?xi32>) {scale = 0.25 : f64} : tensor<1x?x4x16xbf16>, tensor<1x?x2x16xbf16>, tensor<1x?x2x16xbf16> -> tensor<1x?x4x16xbf16>
  return %o : tensor<1x?x4x16xbf16>
}

// CHECK-LABEL: func.func @dispatch
func.func @dispatch(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x64xf32>
  // CHECK: hyla.dispatch @copy[%{{.*}}, %{{.*}}, %{{.*}}](%{{.*}}) : (tensor<?x64xf32>{%{{.*}}}) -> (tensor<?x64xf32>{%{{.*}}})
  %y = hyla.dispatch @copy[%d, %c1, %c1](%x) : (tensor<?x64xf32>{%d}) -> (tensor<?x64xf32>{%d})
  return %y : tensor<?x64xf32>
}
func.func @copy(%a: memref<?x64xf32>, %b: memref<?x64xf32>) attributes {hyla_tile.kernel} {
  return
}

// CHECK-LABEL: func.func @decode_ops
func.func @decode_ops(%q: tensor<?x1x2x32xbf16>, %v: tensor<?x1x4x64xbf16>, %g: tensor<?x1x4xf32>, %c: tensor<?x4x32x64xf32>, %s: tensor<?xi32>, %x: tensor<?x1x8xbf16>, %w: tensor<8x4xbf16>, %cc: tensor<?x3x8xbf16>) -> (tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>, tensor<?x1x8xbf16>, tensor<?x3x8xbf16>) {
  // CHECK: hyla.gated_delta_rule_cached %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}[%{{.*}}] {scale = 1.250000e-01 : f64}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<?x1x2x32xbf16>, tensor<?x1x2x32xbf16>, tensor<?x1x4x64xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x4x32x64xf32>, tensor<?xi32> -> tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>
  // CHECK: hyla.causal_conv1d_cached %{{.*}}, %{{.*}}, %{{.*}}[%{{.*}}] :
  %y, %nc = hyla.causal_conv1d_cached %x, %w, %cc[%s] : tensor<?x1x8xbf16>, tensor<8x4xbf16>, tensor<?x3x8xbf16>, tensor<?xi32> -> tensor<?x1x8xbf16>, tensor<?x3x8xbf16>
  return %o, %n, %y, %nc : tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>, tensor<?x1x8xbf16>, tensor<?x3x8xbf16>
}

// CHECK-LABEL: func.func @attention_cached
func.func @attention_cached(%q: tensor<?x1x8x64xbf16>, %k: tensor<?x1x2x64xbf16>, %c: tensor<16x4096x2x64xbf16>, %s: tensor<?xi32>, %l: tensor<?xi32>) -> (tensor<?x1x8x64xbf16>, tensor<16x4096x2x64xbf16>, tensor<16x4096x2x64xbf16>) {
  // CHECK: hyla.attention_cached %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}[%{{.*}}] lengths %{{.*}} {scale = 1.250000e-01 : f64}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %l {scale = 0.125 : f64} : tensor<?x1x8x64xbf16>, tensor<?x1x2x64xbf16>, tensor<?x1x2x64xbf16>, tensor<16x4096x2x64xbf16>, tensor<16x4096x2x64xbf16>, tensor<?xi32>, tensor<?xi32> -> tensor<?x1x8x64xbf16>, tensor<16x4096x2x64xbf16>, tensor<16x4096x2x64xbf16>
  return %o, %kc, %vc : tensor<?x1x8x64xbf16>, tensor<16x4096x2x64xbf16>, tensor<16x4096x2x64xbf16>
}

// CHECK-LABEL: func.func @dispatch_tied
func.func @dispatch_tied(%x: tensor<4xf32>, %c: tensor<8xf32>) -> (tensor<4xf32>, tensor<8xf32>) {
  %c1 = arith.constant 1 : index
  // CHECK: hyla.dispatch @update[%{{.*}}, %{{.*}}, %{{.*}}](%{{.*}}, %{{.*}}) {tied_results = array<i64: -1, 1>} : (tensor<4xf32>, tensor<8xf32>) -> (tensor<4xf32>, tensor<8xf32>)
  %y:2 = hyla.dispatch @update[%c1, %c1, %c1](%x, %c) {tied_results = array<i64: -1, 1>} : (tensor<4xf32>, tensor<8xf32>) -> (tensor<4xf32>, tensor<8xf32>)
  return %y#0, %y#1 : tensor<4xf32>, tensor<8xf32>
}
func.func @update(%a: memref<4xf32>, %b: memref<8xf32>, %r: memref<4xf32>, %s: memref<8xf32>) attributes {hyla_tile.kernel} {
  return
}

// Packed sequences: one state per sequence, their count from cu_seqlens.
// CHECK-LABEL: func.func @gdr_varlen
// CHECK: hyla.gated_delta_rule {{.*}} cu_seqlens(%{{.*}} : tensor<?xi32>) {scale = 2.500000e-01 : f64}
func.func @gdr_varlen(%q: tensor<1x?x2x16xf32>, %v: tensor<1x?x2x32xbf16>, %g: tensor<1x?x2xf32>, %cu: tensor<?xi32>) -> tensor<?x2x16x32xf32> {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g cu_seqlens(%cu : tensor<?xi32>) {scale = 0.25 : f64} : tensor<1x?x2x16xf32>, tensor<1x?x2x16xf32>, tensor<1x?x2x32xbf16>, tensor<1x?x2xf32>, tensor<1x?x2xf32> -> tensor<1x?x2x32xbf16>, tensor<?x2x16x32xf32>
  return %s : tensor<?x2x16x32xf32>
}

// The delta rule with its layer's convs, gates and output norm folded in.
// CHECK-LABEL: func.func @gdr_folded
// CHECK: hyla.gated_delta_rule %{{.*}} conv(%{{.*}}, %{{.*}}, %{{.*}} : tensor<32x4xbf16>, tensor<32x4xbf16>, tensor<64x4xbf16>) gates(%{{.*}}, %{{.*}} : tensor<2xbf16>, tensor<2xbf16>) output_norm(%{{.*}}, %{{.*}} : tensor<?x?x2x32xbf16>, tensor<32xbf16>) {beta_scale = 2.000000e+00 : f64, output_norm_epsilon = 9.9999999999999995E-7 : f64, qk_l2norm_epsilon = 9.9999999999999995E-7 : f64, scale = 2.500000e-01 : f64}
func.func @gdr_folded(%q: tensor<?x?x2x16xbf16>, %v: tensor<?x?x2x32xbf16>, %a: tensor<?x?x2xbf16>, %wq: tensor<32x4xbf16>, %wv: tensor<64x4xbf16>, %p: tensor<2xbf16>, %wo: tensor<32xbf16>) -> tensor<?x?x2x32xbf16> {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %a, %a conv(%wq, %wq, %wv : tensor<32x4xbf16>, tensor<32x4xbf16>, tensor<64x4xbf16>) gates(%p, %p : tensor<2xbf16>, tensor<2xbf16>) output_norm(%v, %wo : tensor<?x?x2x32xbf16>, tensor<32xbf16>) {scale = 0.25 : f64, qk_l2norm_epsilon = 1.0e-6 : f64, beta_scale = 2.0 : f64, output_norm_epsilon = 1.0e-6 : f64} : tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2xbf16>, tensor<?x?x2xbf16> -> tensor<?x?x2x32xbf16>, tensor<?x2x16x32xf32>
  return %o : tensor<?x?x2x32xbf16>
}
