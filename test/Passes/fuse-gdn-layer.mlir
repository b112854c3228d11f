// RUN: hyla-opt %s -split-input-file -hyla-fuse-qk-l2norm=prefill=true -hyla-fuse-gdn-layer | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-fuse-qk-l2norm=prefill=true -hyla-fuse-gdn-layer=output-norm=false | FileCheck %s --check-prefix=PROLOGUE
// RUN: hyla-opt %s -split-input-file -hyla-fuse-gdn-layer=prologue=false | FileCheck %s --check-prefix=EPILOGUE

// A whole layer core: the convs, the gates and the output norm (its gate
// projected after the delta rule, so moved above it) fold into the op.
// CHECK-LABEL: func.func @layer
// CHECK-NOT:     hyla.causal_conv1d
// CHECK-NOT:     hyla.gdn_gates
// CHECK:         %[[Q:.*]] = tensor.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
// CHECK:         %[[GATE:.*]] = tensor.expand_shape %arg5
// CHECK:         %[[O:.*]], %{{.*}} = hyla.gated_delta_rule %[[Q]], %{{.*}}, %{{.*}}, %arg3, %arg4 conv(%arg6, %arg7, %arg8 : {{.*}}) gates(%arg9, %arg10 : {{.*}}) output_norm(%[[GATE]], %arg11 : {{.*}}) {beta_scale = 2.000000e+00 : f64, output_norm_epsilon = 9.9999999999999995E-7 : f64, qk_l2norm_epsilon = 9.9999999999999995E-7 : f64, scale = 1.250000e-01 : f64}
// CHECK-NOT:     hyla.gated_rms_norm
// CHECK:         return %[[O]]
// PROLOGUE-LABEL: func.func @layer
// PROLOGUE:         hyla.gated_delta_rule {{.*}} conv({{.*}}) gates({{.*}}) {
// PROLOGUE:         hyla.gated_rms_norm
// PROLOGUE:         return
// EPILOGUE-LABEL: func.func @layer
// EPILOGUE-COUNT-3: hyla.causal_conv1d
// EPILOGUE:         hyla.gdn_gates
// EPILOGUE:         hyla.gated_delta_rule {{.*}} output_norm({{.*}}) {
// EPILOGUE-NOT:     hyla.gated_rms_norm
// EPILOGUE:         return
func.func @layer(%q: tensor<2x16x64xbf16>, %k: tensor<2x16x64xbf16>, %v: tensor<2x16x128xbf16>,
                 %a: tensor<2x16x2xbf16>, %b: tensor<2x16x2xbf16>, %g2: tensor<2x16x128xbf16>,
                 %wq: tensor<64x4xbf16>, %wk: tensor<64x4xbf16>, %wv: tensor<128x4xbf16>,
                 %alog: tensor<2xbf16>, %dtb: tensor<2xbf16>, %wo: tensor<64xbf16>) -> tensor<2x16x2x64xbf16> {
  %qc = hyla.causal_conv1d %q, %wq : tensor<2x16x64xbf16>, tensor<64x4xbf16> -> tensor<2x16x64xbf16>
  %kc = hyla.causal_conv1d %k, %wk : tensor<2x16x64xbf16>, tensor<64x4xbf16> -> tensor<2x16x64xbf16>
  %vc = hyla.causal_conv1d %v, %wv : tensor<2x16x128xbf16>, tensor<128x4xbf16> -> tensor<2x16x128xbf16>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [2, 16, 2, 64] : tensor<2x16x128xbf16> into tensor<2x16x2x64xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<2x16x2x32xbf16> -> tensor<2x16x2x32xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<2x16x2x32xbf16> -> tensor<2x16x2x32xf32>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64} : tensor<2x16x2xbf16>, tensor<2x16x2xbf16>, tensor<2xbf16>, tensor<2xbf16> -> tensor<2x16x2xf32>, tensor<2x16x2xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v4, %g, %beta {scale = 0.125 : f64} : tensor<2x16x2x32xf32>, tensor<2x16x2x32xf32>, tensor<2x16x2x64xbf16>, tensor<2x16x2xf32>, tensor<2x16x2xf32> -> tensor<2x16x2x64xbf16>, tensor<2x2x32x64xf32>
  %gate = tensor.expand_shape %g2 [[0], [1], [2, 3]] output_shape [2, 16, 2, 64] : tensor<2x16x128xbf16> into tensor<2x16x2x64xbf16>
  %y = hyla.gated_rms_norm %o, %gate, %wo {epsilon = 1.0e-6 : f64} : tensor<2x16x2x64xbf16>, tensor<2x16x2x64xbf16>, tensor<64xbf16> -> tensor<2x16x2x64xbf16>
  return %y : tensor<2x16x2x64xbf16>
}

// -----

// A conv without SiLU, and a conv result used twice: no convs fold (all
// three or none); the gates still do.
// CHECK-LABEL: func.func @convs_stay
// CHECK-COUNT-3: hyla.causal_conv1d
// CHECK-NOT:     hyla.gdn_gates
// CHECK:         hyla.gated_delta_rule {{.*}} gates(
// CHECK-NOT:     conv(
// CHECK-LABEL: func.func @conv_used_twice
// CHECK-COUNT-3: hyla.causal_conv1d
// CHECK:         hyla.gated_delta_rule
// CHECK-NOT:     conv(
func.func @convs_stay(%q: tensor<1x8x32xf32>, %v: tensor<1x8x64xf32>, %a: tensor<1x8x2xf32>,
                      %wq: tensor<32x4xf32>, %wv: tensor<64x4xf32>, %alog: tensor<2xf32>) -> tensor<1x8x2x32xf32> {
  %qc = hyla.causal_conv1d %q, %wq {activation = "none"} : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %kc = hyla.causal_conv1d %q, %wq : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %vc = hyla.causal_conv1d %v, %wv : tensor<1x8x64xf32>, tensor<64x4xf32> -> tensor<1x8x64xf32>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [1, 8, 2, 32] : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %g, %beta = hyla.gdn_gates %a, %a, %alog, %alog {beta_scale = 1.0 : f64} : tensor<1x8x2xf32>, tensor<1x8x2xf32>, tensor<2xf32>, tensor<2xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xf32>
  %o, %s = hyla.gated_delta_rule %q4, %k4, %v4, %g, %beta {scale = 0.125 : f64} : tensor<1x8x1x32xf32>, tensor<1x8x1x32xf32>, tensor<1x8x2x32xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x2x32xf32>, tensor<1x2x32x32xf32>
  return %o : tensor<1x8x2x32xf32>
}
func.func @conv_used_twice(%q: tensor<1x8x32xf32>, %v: tensor<1x8x64xf32>, %g: tensor<1x8x2xf32>,
                           %wq: tensor<32x4xf32>, %wv: tensor<64x4xf32>) -> (tensor<1x8x2x32xf32>, tensor<1x8x32xf32>) {
  %qc = hyla.causal_conv1d %q, %wq : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %kc = hyla.causal_conv1d %q, %wq : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %vc = hyla.causal_conv1d %v, %wv : tensor<1x8x64xf32>, tensor<64x4xf32> -> tensor<1x8x64xf32>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [1, 8, 2, 32] : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %o, %s = hyla.gated_delta_rule %q4, %k4, %v4, %g, %g {scale = 0.125 : f64} : tensor<1x8x1x32xf32>, tensor<1x8x1x32xf32>, tensor<1x8x2x32xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x2x32xf32>, tensor<1x2x32x32xf32>
  return %o, %qc : tensor<1x8x2x32xf32>, tensor<1x8x32xf32>
}

// -----

// Packed sequences: hyla.causal_conv1d crosses their boundaries, the folded
// conv would not, so nothing folds (the gates neither).
// CHECK-LABEL: func.func @packed
// CHECK-COUNT-3: hyla.causal_conv1d
// CHECK:         hyla.gdn_gates
// CHECK:         hyla.gated_delta_rule
// CHECK-NOT:     conv(
func.func @packed(%q: tensor<1x8x32xf32>, %v: tensor<1x8x64xf32>, %a: tensor<1x8x2xf32>, %cu: tensor<3xi32>,
                  %wq: tensor<32x4xf32>, %wv: tensor<64x4xf32>, %alog: tensor<2xf32>) -> tensor<1x8x2x32xf32> {
  %qc = hyla.causal_conv1d %q, %wq : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %kc = hyla.causal_conv1d %q, %wq : tensor<1x8x32xf32>, tensor<32x4xf32> -> tensor<1x8x32xf32>
  %vc = hyla.causal_conv1d %v, %wv : tensor<1x8x64xf32>, tensor<64x4xf32> -> tensor<1x8x64xf32>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [1, 8, 1, 32] : tensor<1x8x32xf32> into tensor<1x8x1x32xf32>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [1, 8, 2, 32] : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %g, %beta = hyla.gdn_gates %a, %a, %alog, %alog {beta_scale = 1.0 : f64} : tensor<1x8x2xf32>, tensor<1x8x2xf32>, tensor<2xf32>, tensor<2xf32> -> tensor<1x8x2xf32>, tensor<1x8x2xf32>
  %o, %s = hyla.gated_delta_rule %q4, %k4, %v4, %g, %beta cu_seqlens(%cu : tensor<3xi32>) {scale = 0.125 : f64} : tensor<1x8x1x32xf32>, tensor<1x8x1x32xf32>, tensor<1x8x2x32xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x2x32xf32>, tensor<2x2x32x32xf32>
  return %o : tensor<1x8x2x32xf32>
}

// -----

// The delta rule's output is used besides the norm, or it is the norm's
// gate rather than its input: neither folds.
// CHECK-LABEL: func.func @norms_stay
// CHECK:         hyla.gated_delta_rule
// CHECK-NOT:     output_norm(
// CHECK:         hyla.gated_rms_norm
// CHECK-LABEL: func.func @o_as_gate
// CHECK-NOT:     output_norm(
// CHECK:         hyla.gated_rms_norm
func.func @norms_stay(%q: tensor<1x8x1x32xf32>, %v: tensor<1x8x2x32xf32>, %g: tensor<1x8x2xf32>, %w: tensor<32xf32>) -> (tensor<1x8x2x32xf32>, tensor<1x8x2x32xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.125 : f64} : tensor<1x8x1x32xf32>, tensor<1x8x1x32xf32>, tensor<1x8x2x32xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x2x32xf32>, tensor<1x2x32x32xf32>
  %y = hyla.gated_rms_norm %o, %v, %w {epsilon = 1.0e-6 : f64} : tensor<1x8x2x32xf32>, tensor<1x8x2x32xf32>, tensor<32xf32> -> tensor<1x8x2x32xf32>
  return %y, %o : tensor<1x8x2x32xf32>, tensor<1x8x2x32xf32>
}
func.func @o_as_gate(%q: tensor<1x8x1x32xf32>, %v: tensor<1x8x2x32xf32>, %g: tensor<1x8x2xf32>, %w: tensor<32xf32>) -> tensor<1x8x2x32xf32> {
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.125 : f64} : tensor<1x8x1x32xf32>, tensor<1x8x1x32xf32>, tensor<1x8x2x32xf32>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x2x32xf32>, tensor<1x2x32x32xf32>
  %y = hyla.gated_rms_norm %v, %o, %w {epsilon = 1.0e-6 : f64} : tensor<1x8x2x32xf32>, tensor<1x8x2x32xf32>, tensor<32xf32> -> tensor<1x8x2x32xf32>
  return %y : tensor<1x8x2x32xf32>
}
