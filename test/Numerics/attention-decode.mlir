// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --attn-decode-min-split-keys=0 --dist=5=distinct:0:5 --dist=6=int:0:299 | FileCheck %s --check-prefix=GQA
// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --attn-decode-min-split-keys=100 --dist=5=distinct:0:5 --dist=6=int:0:299 | FileCheck %s --check-prefix=GQA
// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --dist=5=distinct:0:5 --dist=6=int:0:299 | FileCheck %s --check-prefix=GQA
// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --attn-decode-splits=3 --attn-decode-min-split-keys=0 --attn-decode-block-n=32 --dist=5=distinct:0:5 --dist=6=int:0:299 | FileCheck %s --check-prefix=GQA
// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --attn-decode-splits=1 --dist=5=distinct:0:5 --dist=6=int:200:299 | FileCheck %s --check-prefix=GQA
// RUN: hyla-cpu-runner %s --entry=decode_t3_d128 --tolerance=2e-5 --attn-decode-min-split-keys=0 --dist=5=distinct:0:4 --dist=6=int:0:128 | FileCheck %s --check-prefix=T3
// RUN: hyla-cpu-runner %s --entry=decode_t3_d128 --tolerance=2e-5 --dist=5=distinct:0:4 --dist=6=int:0:128 | FileCheck %s --check-prefix=T3
// RUN: hyla-cpu-runner %s --entry=decode_t3_d128 --tolerance=2e-5 --fragment-layouts --dist=5=distinct:0:4 --dist=6=int:0:128 | FileCheck %s --check-prefix=T3
// RUN: hyla-cpu-runner %s --entry=decode_first_token --tolerance=2e-5 --dist=5=distinct:0:2 --dist=6=int:0:1 | FileCheck %s --check-prefix=FIRST
// RUN: hyla-cpu-runner %s --entry=decode_group20 --tolerance=2e-5 --attn-decode-splits=4 --attn-decode-min-split-keys=0 --input-shape=0=2x1x20x64 --input-shape=1=2x1x1x64 --input-shape=2=2x1x1x32 --input-shape=5=2 --input-shape=6=2 --dist=5=distinct:0:3 --dist=6=int:0:100 | FileCheck %s --check-prefix=G20
// RUN: not hyla-cpu-runner %s --entry=decode_t3_d128 --dist=5=distinct:0:4 --dist=6=int:128:129 2>&1 | FileCheck %s --check-prefix=LONG
// RUN: not hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --dist=5=int:0:1 --dist=6=int:0:299 2>&1 | FileCheck %s --check-prefix=SHARED
// RUN: hyla-cpu-runner %s --entry=decode_t1_gqa_bf16 --print-kernel-ir --dist=5=distinct:0:5 --dist=6=int:0:299 | FileCheck %s --check-prefix=IR
//
// Decode attention (hyla.attention_cached): the new tokens' keys and values
// are appended to per-slot caches in place, then attend over the cache
// (flash decoding: split programs and a combine kernel), against float64.
// Slots are a random subset of the cache and lengths random, so untouched
// slots and positions must come back unchanged; splits past a sequence's
// keys must leave empty partials. By default a split takes at least 1024
// keys (one split here); --attn-decode-min-split-keys=0 gives every split
// its share, 100 (two blocks) a mix of busy and empty splits.

// GQA: decode_t1_gqa_bf16: output 0 {{.*}} nonfinite 0 PASS
// GQA: decode_t1_gqa_bf16: output 1 {{.*}} nonfinite 0 PASS
// GQA: decode_t1_gqa_bf16: output 2 {{.*}} nonfinite 0 PASS
// GQA: {{^}}PASS
// IR: hyla.dispatch @attn_cache_append_bf16_bf16_hq8_hkv2_d64_dv64
// IR: hyla.dispatch @attn_decode_split_bf16_bf16_hq8_hkv2_d64_dv64_bn64_ns16_k1024_w4
// IR: hyla.dispatch @attn_decode_combine_bf16_hq8_dv64_ns16
func.func @decode_t1_gqa_bf16(%q: tensor<3x1x8x64xbf16>, %k: tensor<3x1x2x64xbf16>, %v: tensor<3x1x2x64xbf16>, %kc: tensor<5x300x2x64xbf16>, %vc: tensor<5x300x2x64xbf16>, %slots: tensor<3xi32>, %lengths: tensor<3xi32>) -> (tensor<3x1x8x64xbf16>, tensor<5x300x2x64xbf16>, tensor<5x300x2x64xbf16>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.125 : f64} : tensor<3x1x8x64xbf16>, tensor<3x1x2x64xbf16>, tensor<3x1x2x64xbf16>, tensor<5x300x2x64xbf16>, tensor<5x300x2x64xbf16>, tensor<3xi32>, tensor<3xi32> -> tensor<3x1x8x64xbf16>, tensor<5x300x2x64xbf16>, tensor<5x300x2x64xbf16>
  return %o, %kc2, %vc2 : tensor<3x1x8x64xbf16>, tensor<5x300x2x64xbf16>, tensor<5x300x2x64xbf16>
}

// -----
// Three new tokens a sequence (causal among them), head dim 128 as in Olmo
// Hybrid, f32 throughout.
// T3: decode_t3_d128: output 0 {{.*}} nonfinite 0 PASS
// T3: decode_t3_d128: output 1 {{.*}} nonfinite 0 PASS
// T3: decode_t3_d128: output 2 {{.*}} nonfinite 0 PASS
// T3: {{^}}PASS
// LONG: error: batch element {{[0-9]}} has 128 cached tokens: with 3 new ones that is outside the cache's 130 positions
func.func @decode_t3_d128(%q: tensor<2x3x4x128xf32>, %k: tensor<2x3x4x128xf32>, %v: tensor<2x3x4x128xf32>, %kc: tensor<4x130x4x128xf32>, %vc: tensor<4x130x4x128xf32>, %slots: tensor<2xi32>, %lengths: tensor<2xi32>) -> (tensor<2x3x4x128xf32>, tensor<4x130x4x128xf32>, tensor<4x130x4x128xf32>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.08838834764831845 : f64} : tensor<2x3x4x128xf32>, tensor<2x3x4x128xf32>, tensor<2x3x4x128xf32>, tensor<4x130x4x128xf32>, tensor<4x130x4x128xf32>, tensor<2xi32>, tensor<2xi32> -> tensor<2x3x4x128xf32>, tensor<4x130x4x128xf32>, tensor<4x130x4x128xf32>
  return %o, %kc2, %vc2 : tensor<2x3x4x128xf32>, tensor<4x130x4x128xf32>, tensor<4x130x4x128xf32>
}

// -----
// Empty caches: the first token attends to itself only (a cache of length 1).
// FIRST: decode_first_token: output 0 {{.*}} nonfinite 0 PASS
// FIRST: {{^}}PASS
func.func @decode_first_token(%q: tensor<2x1x2x64xf32>, %k: tensor<2x1x2x64xf32>, %v: tensor<2x1x2x64xf32>, %kc: tensor<2x8x2x64xf32>, %vc: tensor<2x8x2x64xf32>, %slots: tensor<2xi32>, %lengths: tensor<2xi32>) -> (tensor<2x1x2x64xf32>, tensor<2x8x2x64xf32>, tensor<2x8x2x64xf32>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.125 : f64} : tensor<2x1x2x64xf32>, tensor<2x1x2x64xf32>, tensor<2x1x2x64xf32>, tensor<2x8x2x64xf32>, tensor<2x8x2x64xf32>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x2x64xf32>, tensor<2x8x2x64xf32>, tensor<2x8x2x64xf32>
  return %o, %kc2, %vc2 : tensor<2x1x2x64xf32>, tensor<2x8x2x64xf32>, tensor<2x8x2x64xf32>
}

// -----
// 20 query heads on one KV head (two blocks of 16 query rows), value dim
// unlike the key dim, dynamic batch.
// G20: decode_group20: output 0 {{.*}} nonfinite 0 PASS
// G20: {{^}}PASS
func.func @decode_group20(%q: tensor<?x1x20x64xf32>, %k: tensor<?x1x1x64xf32>, %v: tensor<?x1x1x32xf32>, %kc: tensor<3x101x1x64xf32>, %vc: tensor<3x101x1x32xf32>, %slots: tensor<?xi32>, %lengths: tensor<?xi32>) -> (tensor<?x1x20x32xf32>, tensor<3x101x1x64xf32>, tensor<3x101x1x32xf32>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.125 : f64} : tensor<?x1x20x64xf32>, tensor<?x1x1x64xf32>, tensor<?x1x1x32xf32>, tensor<3x101x1x64xf32>, tensor<3x101x1x32xf32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x1x20x32xf32>, tensor<3x101x1x64xf32>, tensor<3x101x1x32xf32>
  return %o, %kc2, %vc2 : tensor<?x1x20x32xf32>, tensor<3x101x1x64xf32>, tensor<3x101x1x32xf32>
}

// SHARED: error: batch elements {{[0-9]}} and {{[0-9]}} both use slot 0
