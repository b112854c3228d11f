// RUN: hyla-cpu-runner %s --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=1e-2 | FileCheck %s
//
// The delta rule with bf16 inputs and output (f32 state) at Olmo Hybrid's
// head dims: the error is the bf16 rounding of q/k after the L2 norm and of
// the output, well under 1e-2 of float64.
// CHECK: gdn_bf16_t1: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t1: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t63: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t63: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t64: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t64: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t200: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_bf16_t200: output 1 {{.*}} nonfinite 0 PASS
// CHECK: {{^}}PASS

func.func @gdn_bf16_t1(%q: tensor<1x1x2x96xbf16>, %k: tensor<1x1x2x96xbf16>, %v: tensor<1x1x2x192xbf16>, %g: tensor<1x1x2xf32>, %beta: tensor<1x1x2xf32>) -> (tensor<1x1x2x192xbf16>, tensor<1x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x1x2x96xbf16> -> tensor<1x1x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x1x2x96xbf16> -> tensor<1x1x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<1x1x2x96xf32>, tensor<1x1x2x96xf32>, tensor<1x1x2x192xbf16>, tensor<1x1x2xf32>, tensor<1x1x2xf32> -> tensor<1x1x2x192xbf16>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x1x2x192xbf16>, tensor<1x2x96x192xf32>
}
func.func @gdn_bf16_t63(%q: tensor<1x63x2x96xbf16>, %k: tensor<1x63x2x96xbf16>, %v: tensor<1x63x2x192xbf16>, %g: tensor<1x63x2xf32>, %beta: tensor<1x63x2xf32>) -> (tensor<1x63x2x192xbf16>, tensor<1x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x63x2x96xbf16> -> tensor<1x63x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x63x2x96xbf16> -> tensor<1x63x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<1x63x2x96xf32>, tensor<1x63x2x96xf32>, tensor<1x63x2x192xbf16>, tensor<1x63x2xf32>, tensor<1x63x2xf32> -> tensor<1x63x2x192xbf16>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x63x2x192xbf16>, tensor<1x2x96x192xf32>
}
func.func @gdn_bf16_t64(%q: tensor<1x64x2x96xbf16>, %k: tensor<1x64x2x96xbf16>, %v: tensor<1x64x2x192xbf16>, %g: tensor<1x64x2xf32>, %beta: tensor<1x64x2xf32>) -> (tensor<1x64x2x192xbf16>, tensor<1x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x64x2x96xbf16> -> tensor<1x64x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x64x2x96xbf16> -> tensor<1x64x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<1x64x2x96xf32>, tensor<1x64x2x96xf32>, tensor<1x64x2x192xbf16>, tensor<1x64x2xf32>, tensor<1x64x2xf32> -> tensor<1x64x2x192xbf16>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x64x2x192xbf16>, tensor<1x2x96x192xf32>
}
func.func @gdn_bf16_t200(%q: tensor<1x200x2x96xbf16>, %k: tensor<1x200x2x96xbf16>, %v: tensor<1x200x2x192xbf16>, %g: tensor<1x200x2xf32>, %beta: tensor<1x200x2xf32>) -> (tensor<1x200x2x192xbf16>, tensor<1x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x200x2x96xbf16> -> tensor<1x200x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x200x2x96xbf16> -> tensor<1x200x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<1x200x2x96xf32>, tensor<1x200x2x96xf32>, tensor<1x200x2x192xbf16>, tensor<1x200x2xf32>, tensor<1x200x2xf32> -> tensor<1x200x2x192xbf16>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x200x2x192xbf16>, tensor<1x2x96x192xf32>
}
