// RUN: hyla-cpu-runner %s --entry=varlen_causal_gqa --dist=3=offsets:0:300 --tolerance=2e-5 | FileCheck %s --check-prefix=CAUSAL
// RUN: hyla-cpu-runner %s --entry=varlen_causal_gqa --fragment-layouts --dist=3=offsets:0:300 --tolerance=2e-5 | FileCheck %s --check-prefix=CAUSAL
// RUN: hyla-cpu-runner %s --entry=varlen_causal_gqa --attn-block-m=64 --dist=3=offsets:0:300 --tolerance=2e-5 | FileCheck %s --check-prefix=CAUSAL
// RUN: hyla-cpu-runner %s --entry=varlen_causal_gqa --fragment-layouts --attn-overlap-softmax --dist=3=offsets:0:300 --tolerance=2e-5 | FileCheck %s --check-prefix=CAUSAL
// RUN: hyla-cpu-runner %s --entry=varlen_full --dist=3=offsets:0:150 --tolerance=2e-5 | FileCheck %s --check-prefix=FULL
// RUN: hyla-cpu-runner %s --entry=varlen_bf16_dynamic --input-shape=0=1x257x4x128 --input-shape=1=1x257x4x128 --input-shape=2=1x257x4x128 --input-shape=3=6 --dist=3=offsets:0:257 --tolerance=1e-2 | FileCheck %s --check-prefix=BF16
// RUN: not hyla-cpu-runner %s --entry=varlen_full --dist=3=int:0:1 --tolerance=2e-5 2>&1 | FileCheck %s --check-prefix=BAD
//
// Attention over packed variable-length sequences (cu_seqlens) against the
// float64 softmax of each sequence on its own: random sorted offsets every
// run (sequences from empty to longer than several key blocks, none aligned
// to a block), causal with GQA (through the GPU layout passes too, with
// 64-query blocks, and in FlashAttention-3's order), non-causal, and bf16 with every size dynamic. The last
// RUN gives offsets that do not end at the token count: the reference
// rejects them.
// CAUSAL: varlen_causal_gqa: output 0 {{.*}} nonfinite 0 PASS
// CAUSAL: {{^}}PASS
// FULL: varlen_full: output 0 {{.*}} nonfinite 0 PASS
// FULL: {{^}}PASS
// BF16: varlen_bf16_dynamic: output 0 {{.*}} nonfinite 0 PASS
// BF16: {{^}}PASS
// BAD: cu_seqlens must run from 0 to the token count 150

func.func @varlen_causal_gqa(%q: tensor<1x300x4x64xf32>, %k: tensor<1x300x2x64xf32>,
    %v: tensor<1x300x2x64xf32>, %cu: tensor<7xi32>) -> tensor<1x300x4x64xf32> {
  %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<7xi32>) {scale = 0.125 : f64}
      : tensor<1x300x4x64xf32>, tensor<1x300x2x64xf32>, tensor<1x300x2x64xf32> -> tensor<1x300x4x64xf32>
  return %o : tensor<1x300x4x64xf32>
}

func.func @varlen_full(%q: tensor<1x150x2x32xf32>, %k: tensor<1x150x2x32xf32>,
    %v: tensor<1x150x2x16xf32>, %cu: tensor<4xi32>) -> tensor<1x150x2x16xf32> {
  %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<4xi32>) {scale = 0.17677669529663687 : f64, causal = false}
      : tensor<1x150x2x32xf32>, tensor<1x150x2x32xf32>, tensor<1x150x2x16xf32> -> tensor<1x150x2x16xf32>
  return %o : tensor<1x150x2x16xf32>
}

func.func @varlen_bf16_dynamic(%q: tensor<?x?x4x128xbf16>, %k: tensor<?x?x4x128xbf16>,
    %v: tensor<?x?x4x128xbf16>, %cu: tensor<?xi32>) -> tensor<?x?x4x128xbf16> {
  %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<?xi32>) {scale = 0.08838834764831845 : f64}
      : tensor<?x?x4x128xbf16>, tensor<?x?x4x128xbf16>, tensor<?x?x4x128xbf16> -> tensor<?x?x4x128xbf16>
  return %o : tensor<?x?x4x128xbf16>
}
