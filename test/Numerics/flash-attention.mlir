// RUN: hyla-cpu-runner %s --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --fragment-layouts --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --fragment-layouts --attn-overlap-softmax --tolerance=2e-5 | FileCheck %s
//
// Flash attention (online softmax over key blocks, causal block skipping,
// GQA, non-causal) against the float64 softmax, in f32 at 2e-5. T = 1, 63,
// 64, 200; head dims 64 and 128. flash-attention-bf16.mlir has bf16 I/O.
// With --fragment-layouts the kernels first go through the GPU layout
// passes (scores and the accumulator in mma fragments), which must not
// change what is computed; with --attn-overlap-softmax in FlashAttention-3's
// order (block j's softmax after block j - 1's P V, n + 1 steps).
// CHECK: attn_t1_hq4_hkv4_d128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t1_hq4_hkv2_d64: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t63_hq4_hkv4_d128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t63_hq4_hkv2_d64: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t64_hq4_hkv4_d128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t64_hq4_hkv2_d64: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t200_hq4_hkv4_d128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_t200_hq4_hkv2_d64: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_full_t70_s130: output 0 {{.*}} nonfinite 0 PASS
// CHECK: {{^}}PASS

func.func @attn_t1_hq4_hkv4_d128(%q: tensor<1x1x4x128xf32>, %k: tensor<1x1x4x128xf32>, %v: tensor<1x1x4x128xf32>) -> tensor<1x1x4x128xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<1x1x4x128xf32>, tensor<1x1x4x128xf32>, tensor<1x1x4x128xf32> -> tensor<1x1x4x128xf32>
  return %o : tensor<1x1x4x128xf32>
}
func.func @attn_t1_hq4_hkv2_d64(%q: tensor<1x1x4x64xf32>, %k: tensor<1x1x2x64xf32>, %v: tensor<1x1x2x64xf32>) -> tensor<1x1x4x64xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x1x4x64xf32>, tensor<1x1x2x64xf32>, tensor<1x1x2x64xf32> -> tensor<1x1x4x64xf32>
  return %o : tensor<1x1x4x64xf32>
}
func.func @attn_t63_hq4_hkv4_d128(%q: tensor<1x63x4x128xf32>, %k: tensor<1x63x4x128xf32>, %v: tensor<1x63x4x128xf32>) -> tensor<1x63x4x128xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<1x63x4x128xf32>, tensor<1x63x4x128xf32>, tensor<1x63x4x128xf32> -> tensor<1x63x4x128xf32>
  return %o : tensor<1x63x4x128xf32>
}
func.func @attn_t63_hq4_hkv2_d64(%q: tensor<1x63x4x64xf32>, %k: tensor<1x63x2x64xf32>, %v: tensor<1x63x2x64xf32>) -> tensor<1x63x4x64xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x63x4x64xf32>, tensor<1x63x2x64xf32>, tensor<1x63x2x64xf32> -> tensor<1x63x4x64xf32>
  return %o : tensor<1x63x4x64xf32>
}
func.func @attn_t64_hq4_hkv4_d128(%q: tensor<1x64x4x128xf32>, %k: tensor<1x64x4x128xf32>, %v: tensor<1x64x4x128xf32>) -> tensor<1x64x4x128xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<1x64x4x128xf32>, tensor<1x64x4x128xf32>, tensor<1x64x4x128xf32> -> tensor<1x64x4x128xf32>
  return %o : tensor<1x64x4x128xf32>
}
func.func @attn_t64_hq4_hkv2_d64(%q: tensor<1x64x4x64xf32>, %k: tensor<1x64x2x64xf32>, %v: tensor<1x64x2x64xf32>) -> tensor<1x64x4x64xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x64x4x64xf32>, tensor<1x64x2x64xf32>, tensor<1x64x2x64xf32> -> tensor<1x64x4x64xf32>
  return %o : tensor<1x64x4x64xf32>
}
func.func @attn_t200_hq4_hkv4_d128(%q: tensor<1x200x4x128xf32>, %k: tensor<1x200x4x128xf32>, %v: tensor<1x200x4x128xf32>) -> tensor<1x200x4x128xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<1x200x4x128xf32>, tensor<1x200x4x128xf32>, tensor<1x200x4x128xf32> -> tensor<1x200x4x128xf32>
  return %o : tensor<1x200x4x128xf32>
}
func.func @attn_t200_hq4_hkv2_d64(%q: tensor<1x200x4x64xf32>, %k: tensor<1x200x2x64xf32>, %v: tensor<1x200x2x64xf32>) -> tensor<1x200x4x64xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64} : tensor<1x200x4x64xf32>, tensor<1x200x2x64xf32>, tensor<1x200x2x64xf32> -> tensor<1x200x4x64xf32>
  return %o : tensor<1x200x4x64xf32>
}
func.func @attn_full_t70_s130(%q: tensor<1x70x2x64xf32>, %k: tensor<1x130x1x64xf32>, %v: tensor<1x130x1x32xf32>) -> tensor<1x70x2x32xf32> {
  %o = hyla.attention %q, %k, %v {scale = 0.125 : f64, causal = false} : tensor<1x70x2x64xf32>, tensor<1x130x1x64xf32>, tensor<1x130x1x32xf32> -> tensor<1x70x2x32xf32>
  return %o : tensor<1x70x2x32xf32>
}
