// RUN: hyla-opt %s -split-input-file -hyla-fuse-qk-l2norm | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-fuse-qk-l2norm=prefill=true | FileCheck %s --check-prefix=PREFILL

// Both norms only feed the decode delta rule: it reads their inputs and
// normalizes in its kernel.
// CHECK-LABEL: func.func @fold
// CHECK-NOT:     hyla.l2_norm
// CHECK:         hyla.gated_delta_rule_cached %arg0, %arg1, {{.*}} {qk_l2norm_epsilon = 9.9999999999999995E-7 : f64, scale = 1.250000e-01 : f64}
func.func @fold(%q: tensor<?x1x2x32xbf16>, %k: tensor<?x1x2x32xbf16>, %v: tensor<?x1x4x64xbf16>, %g: tensor<?x1x4xf32>, %c: tensor<?x4x32x64xf32>, %s: tensor<?xi32>) -> (tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x1x2x32xbf16> -> tensor<?x1x2x32xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x1x2x32xbf16> -> tensor<?x1x2x32xbf16>
  %o, %n = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<?x1x2x32xbf16>, tensor<?x1x2x32xbf16>, tensor<?x1x4x64xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>, tensor<?x4x32x64xf32>, tensor<?xi32> -> tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>
  return %o, %n : tensor<?x1x4x64xbf16>, tensor<?x4x32x64xf32>
}

// -----

// The normalized q is also returned: nothing is folded.
// CHECK-LABEL: func.func @other_use
// CHECK:         %[[QN:.*]] = hyla.l2_norm %arg0
// CHECK:         %[[KN:.*]] = hyla.l2_norm %arg1
// CHECK:         hyla.gated_delta_rule_cached %[[QN]], %[[KN]], {{.*}} {scale = 1.250000e-01 : f64}
func.func @other_use(%q: tensor<2x1x2x32xbf16>, %k: tensor<2x1x2x32xbf16>, %v: tensor<2x1x4x64xbf16>, %g: tensor<2x1x4xf32>, %c: tensor<4x4x32x64xf32>, %s: tensor<2xi32>) -> (tensor<2x1x4x64xbf16>, tensor<2x1x2x32xbf16>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xbf16>
  %o, %n = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<2x1x2x32xbf16>, tensor<2x1x2x32xbf16>, tensor<2x1x4x64xbf16>, tensor<2x1x4xf32>, tensor<2x1x4xf32>, tensor<4x4x32x64xf32>, tensor<2xi32> -> tensor<2x1x4x64xbf16>, tensor<4x4x32x64xf32>
  return %o, %qn : tensor<2x1x4x64xbf16>, tensor<2x1x2x32xbf16>
}

// -----

// Different epsilons cannot share one attribute.
// CHECK-LABEL: func.func @epsilons_differ
// CHECK-COUNT-2: hyla.l2_norm
// CHECK-NOT:     qk_l2norm_epsilon
func.func @epsilons_differ(%q: tensor<2x1x2x32xbf16>, %k: tensor<2x1x2x32xbf16>, %v: tensor<2x1x4x64xbf16>, %g: tensor<2x1x4xf32>, %c: tensor<4x4x32x64xf32>, %s: tensor<2xi32>) -> tensor<2x1x4x64xbf16> {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-5 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xbf16>
  %o, %n = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<2x1x2x32xbf16>, tensor<2x1x2x32xbf16>, tensor<2x1x4x64xbf16>, tensor<2x1x4xf32>, tensor<2x1x4xf32>, tensor<4x4x32x64xf32>, tensor<2xi32> -> tensor<2x1x4x64xbf16>, tensor<4x4x32x64xf32>
  return %o : tensor<2x1x4x64xbf16>
}

// -----

// A norm that rounds f32 to bf16 would lose its rounding: kept.
// CHECK-LABEL: func.func @rounding_norm
// CHECK-COUNT-2: hyla.l2_norm
// CHECK-NOT:     qk_l2norm_epsilon
func.func @rounding_norm(%q: tensor<2x1x2x32xf32>, %k: tensor<2x1x2x32xf32>, %v: tensor<2x1x4x64xbf16>, %g: tensor<2x1x4xf32>, %c: tensor<4x4x32x64xf32>, %s: tensor<2xi32>) -> tensor<2x1x4x64xbf16> {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xf32> -> tensor<2x1x2x32xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xf32> -> tensor<2x1x2x32xbf16>
  %o, %n = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<2x1x2x32xbf16>, tensor<2x1x2x32xbf16>, tensor<2x1x4x64xbf16>, tensor<2x1x4xf32>, tensor<2x1x4xf32>, tensor<4x4x32x64xf32>, tensor<2xi32> -> tensor<2x1x4x64xbf16>, tensor<4x4x32x64xf32>
  return %o : tensor<2x1x4x64xbf16>
}

// -----

// bf16 in, f32 out (the model's norms): the kernel's f32 normalization is
// the same, so the norms fold and q, k become the bf16 tensors.
// CHECK-LABEL: func.func @widening_norm
// CHECK-NOT:     hyla.l2_norm
// CHECK:         hyla.gated_delta_rule_cached %arg0, %arg1, {{.*}}qk_l2norm_epsilon
// CHECK-SAME:      : tensor<2x1x2x32xbf16>, tensor<2x1x2x32xbf16>,
func.func @widening_norm(%q: tensor<2x1x2x32xbf16>, %k: tensor<2x1x2x32xbf16>, %v: tensor<2x1x4x64xbf16>, %g: tensor<2x1x4xf32>, %c: tensor<4x4x32x64xf32>, %s: tensor<2xi32>) -> tensor<2x1x4x64xbf16> {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x1x2x32xbf16> -> tensor<2x1x2x32xf32>
  %o, %n = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %g, %c[%s] {scale = 0.125 : f64} : tensor<2x1x2x32xf32>, tensor<2x1x2x32xf32>, tensor<2x1x4x64xbf16>, tensor<2x1x4xf32>, tensor<2x1x4xf32>, tensor<4x4x32x64xf32>, tensor<2xi32> -> tensor<2x1x4x64xbf16>, tensor<4x4x32x64xf32>
  return %o : tensor<2x1x4x64xbf16>
}

// -----

// The prefill delta rule keeps its norms by default (measured faster) and
// takes them with prefill=true (f32 norms of bf16 inputs do not round): its
// chunk kernels then normalize each chunk's rows.
// CHECK-LABEL: func.func @fold_prefill
// CHECK-COUNT-2: hyla.l2_norm
// CHECK:         hyla.gated_delta_rule %0, %1, {{.*}} {scale = 1.250000e-01 : f64}
// PREFILL-LABEL: func.func @fold_prefill
// PREFILL-NOT:     hyla.l2_norm
// PREFILL:         hyla.gated_delta_rule %arg0, %arg1, {{.*}} {qk_l2norm_epsilon = 9.9999999999999995E-7 : f64, scale = 1.250000e-01 : f64}
func.func @fold_prefill(%q: tensor<?x?x2x32xbf16>, %k: tensor<?x?x2x32xbf16>, %v: tensor<?x?x2x64xbf16>, %g: tensor<?x?x2xf32>) -> (tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xbf16> -> tensor<?x?x2x32xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xbf16> -> tensor<?x?x2x32xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %g {scale = 0.125 : f64} : tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?x2x64xbf16>, tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>
  return %o, %s : tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>
}

// -----

// A norm that rounds (f32 in, bf16 out) is not folded: the kernels would
// skip that rounding.
// PREFILL-LABEL: func.func @rounding_norm
// PREFILL:         hyla.l2_norm
// PREFILL:         hyla.l2_norm
// PREFILL:         hyla.gated_delta_rule {{.*}} {scale = 1.250000e-01 : f64}
func.func @rounding_norm(%q: tensor<?x?x2x32xf32>, %k: tensor<?x?x2x32xf32>, %v: tensor<?x?x2x64xbf16>, %g: tensor<?x?x2xf32>) -> (tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xf32> -> tensor<?x?x2x32xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xf32> -> tensor<?x?x2x32xbf16>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %g {scale = 0.125 : f64} : tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x64xbf16>, tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>
  return %o, %s : tensor<?x?x2x64xbf16>, tensor<?x2x32x64xf32>
}
