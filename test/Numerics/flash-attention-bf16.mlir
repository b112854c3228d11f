// RUN: hyla-cpu-runner %s --tolerance=1e-2 | FileCheck %s
// RUN: hyla-cpu-runner %s --tolerance=1e-2 --fragment-layouts | FileCheck %s
// RUN: hyla-cpu-runner %s --tolerance=1e-2 --fragment-layouts --attn-overlap-softmax | FileCheck %s
//
// Flash attention with bf16 inputs and output; probabilities are rounded to
// bf16 for the second product, as FlashAttention does. Within 1e-2 of the
// float64 softmax. With --fragment-layouts, through the GPU layout passes
// too: the bf16 probabilities stay fragments for the second product, the
// row max and sum fragment rows; with --attn-overlap-softmax the
// probabilities are carried to the next step's product.
// CHECK: attn_bf16_t200_d128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: attn_bf16_t63_gqa: output 0 {{.*}} nonfinite 0 PASS
// CHECK: {{^}}PASS

func.func @attn_bf16_t200_d128(%q: tensor<1x200x4x128xbf16>, %k: tensor<1x200x4x128xbf16>, %v: tensor<1x200x4x128xbf16>) -> tensor<1x200x4x128xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<1x200x4x128xbf16>, tensor<1x200x4x128xbf16>, tensor<1x200x4x128xbf16> -> tensor<1x200x4x128xbf16>
  return %o : tensor<1x200x4x128xbf16>
}
func.func @attn_bf16_t63_gqa(%q: tensor<2x63x4x128xbf16>, %k: tensor<2x63x2x128xbf16>, %v: tensor<2x63x2x128xbf16>) -> tensor<2x63x4x128xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64} : tensor<2x63x4x128xbf16>, tensor<2x63x2x128xbf16>, tensor<2x63x2x128xbf16> -> tensor<2x63x4x128xbf16>
  return %o : tensor<2x63x4x128xbf16>
}
