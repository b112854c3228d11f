// RUN: hyla-cpu-runner %s --tolerance=1e-5 | FileCheck %s
//
// Every kernelized op (RMSNorm, L2 norm, linear, causal conv + SiLU, GDN
// gates, gated RMSNorm, RoPE, SwiGLU, add) in f32 against its float64
// definition: odd token counts (37, 70) leave partial row and token blocks.
// CHECK: rms: output 0 {{.*}} nonfinite 0 PASS
// CHECK: l2: output 0 {{.*}} nonfinite 0 PASS
// CHECK: lin: output 0 {{.*}} nonfinite 0 PASS
// CHECK: conv: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gates: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gates: output 1 {{.*}} nonfinite 0 PASS
// CHECK: grms: output 0 {{.*}} nonfinite 0 PASS
// CHECK: rope: output 0 {{.*}} nonfinite 0 PASS
// CHECK: swiglu: output 0 {{.*}} nonfinite 0 PASS
// CHECK: swiglu: output 1 {{.*}} nonfinite 0 PASS
// Elementwise kernels cut operands into rows of the widest power of two
// dividing the width: 384 -> 128, 1002 -> 2 (many rows per program).
// CHECK: swiglu_wide: output 0 {{.*}} nonfinite 0 PASS
// CHECK: swiglu_wide: output 1 {{.*}} nonfinite 0 PASS
// CHECK: swiglu_odd: output 0 {{.*}} nonfinite 0 PASS
// CHECK: swiglu_odd: output 1 {{.*}} nonfinite 0 PASS
// CHECK: {{^}}PASS

func.func @rms(%x: tensor<3x37x96xf32>) -> tensor<3x37x96xf32> {
  %w = hyla.weight "w" : tensor<96xf32>
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<3x37x96xf32>, tensor<96xf32> -> tensor<3x37x96xf32>
  return %y : tensor<3x37x96xf32>
}
func.func @l2(%x: tensor<3x37x4x96xf32>) -> tensor<3x37x4x96xf32> {
  %y = hyla.l2_norm %x {epsilon = 1.0e-6 : f64} : tensor<3x37x4x96xf32> -> tensor<3x37x4x96xf32>
  return %y : tensor<3x37x4x96xf32>
}
func.func @lin(%x: tensor<3x37x96xf32>) -> tensor<3x37x80xf32> {
  %w = hyla.weight "lw" : tensor<80x96xf32>
  %y = hyla.linear %x, %w : tensor<3x37x96xf32>, tensor<80x96xf32> -> tensor<3x37x80xf32>
  return %y : tensor<3x37x80xf32>
}
func.func @conv(%x: tensor<2x70x96xf32>) -> tensor<2x70x96xf32> {
  %w = hyla.weight "cw" : tensor<96x4xf32>
  %y = hyla.causal_conv1d %x, %w : tensor<2x70x96xf32>, tensor<96x4xf32> -> tensor<2x70x96xf32>
  return %y : tensor<2x70x96xf32>
}
func.func @gates(%a: tensor<2x70x6xf32>, %b: tensor<2x70x6xf32>) -> (tensor<2x70x6xf32>, tensor<2x70x6xf32>) {
  %al = hyla.weight "al" : tensor<6xf32>
  %dt = hyla.weight "dt" : tensor<6xf32>
  %g, %beta = hyla.gdn_gates %a, %b, %al, %dt {beta_scale = 2.0 : f64} : tensor<2x70x6xf32>, tensor<2x70x6xf32>, tensor<6xf32>, tensor<6xf32> -> tensor<2x70x6xf32>, tensor<2x70x6xf32>
  return %g, %beta : tensor<2x70x6xf32>, tensor<2x70x6xf32>
}
func.func @grms(%x: tensor<2x70x3x64xf32>, %g: tensor<2x70x3x64xf32>) -> tensor<2x70x3x64xf32> {
  %w = hyla.weight "gw" : tensor<64xf32>
  %y = hyla.gated_rms_norm %x, %g, %w {epsilon = 1.0e-5 : f64} : tensor<2x70x3x64xf32>, tensor<2x70x3x64xf32>, tensor<64xf32> -> tensor<2x70x3x64xf32>
  return %y : tensor<2x70x3x64xf32>
}
func.func @rope(%x: tensor<2x70x3x64xf32>) -> tensor<2x70x3x64xf32> {
  %y = hyla.rope %x {theta = 10000.0 : f64} : tensor<2x70x3x64xf32> -> tensor<2x70x3x64xf32>
  return %y : tensor<2x70x3x64xf32>
}
func.func @swiglu(%x: tensor<2x70x64xf32>, %u: tensor<2x70x64xf32>) -> (tensor<2x70x64xf32>, tensor<2x70x64xf32>) {
  %y = hyla.silu_mul %x, %u : tensor<2x70x64xf32>
  %z = hyla.add %x, %u : tensor<2x70x64xf32>
  return %y, %z : tensor<2x70x64xf32>, tensor<2x70x64xf32>
}
func.func @swiglu_wide(%x: tensor<3x5x384xf32>, %u: tensor<3x5x384xf32>) -> (tensor<3x5x384xf32>, tensor<3x5x384xf32>) {
  %y = hyla.silu_mul %x, %u : tensor<3x5x384xf32>
  %z = hyla.add %x, %u : tensor<3x5x384xf32>
  return %y, %z : tensor<3x5x384xf32>, tensor<3x5x384xf32>
}
func.func @swiglu_odd(%x: tensor<3x7x1002xf32>, %u: tensor<3x7x1002xf32>) -> (tensor<3x7x1002xf32>, tensor<3x7x1002xf32>) {
  %y = hyla.silu_mul %x, %u : tensor<3x7x1002xf32>
  %z = hyla.add %x, %u : tensor<3x7x1002xf32>
  return %y, %z : tensor<3x7x1002xf32>, tensor<3x7x1002xf32>
}
