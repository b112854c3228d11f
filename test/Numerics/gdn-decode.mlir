// RUN: hyla-cpu-runner %s --entry=decode_t1_gva --dist=6=distinct:0:5 --dist=3=neglog:0.01:20 --dist=4=uniform:0:2 | FileCheck %s --check-prefix=T1
// RUN: hyla-cpu-runner %s --entry=decode_t3_spec --dist=6=distinct:0:7 --dist=3=neglog:0.01:5 --dist=4=uniform:0:1 | FileCheck %s --check-prefix=T3
// RUN: hyla-cpu-runner %s --entry=decode_t3_spec --decode-blocks-per-program=4 --dist=6=distinct:0:7 --dist=3=neglog:0.01:5 --dist=4=uniform:0:1 | FileCheck %s --check-prefix=T3
// RUN: hyla-cpu-runner %s --entry=decode_t1_gva --decode-blocks-per-program=2 --dist=6=distinct:0:5 --dist=3=neglog:0.01:20 --dist=4=uniform:0:2 | FileCheck %s --check-prefix=T1
// RUN: not hyla-cpu-runner %s --entry=decode_t1_gva --decode-blocks-per-program=4 --dist=6=int:0:1 2>&1 | FileCheck %s --check-prefix=SHARED
// RUN: hyla-cpu-runner %s --entry=decode_t2_raw_qk --dist=0=normal:0:0.2 --dist=1=normal:0:0.2 --dist=6=distinct:0:4 | FileCheck %s --check-prefix=RAW
// RUN: hyla-cpu-runner %s --entry=prefill_then_decode --dist=2=neglog:0.01:5 --dist=3=uniform:0:1 --dist=8=neglog:0.01:5 --dist=9=uniform:0:1 --dist=10=int:0:1 | FileCheck %s --check-prefix=CHAIN
// RUN: hyla-cpu-runner %s --entry=conv_decode --dist=3=distinct:0:6 | FileCheck %s --check-prefix=CONV
// RUN: not hyla-cpu-runner %s --entry=conv_decode --dist=3=int:6:8 2>&1 | FileCheck %s --check-prefix=OUTSIDE
// RUN: not hyla-cpu-runner %s --entry=decode_t1_gva --dist=6=int:0:1 2>&1 | FileCheck %s --check-prefix=SHARED
// RUN: hyla-cpu-runner %s --entry=layer_decode --input-shape=0=3x1x64 --input-shape=1=3x1x64 --input-shape=2=3x1x128 --input-shape=3=3x1x2 --input-shape=4=3x1x2 --input-shape=5=3x1x128 --input-shape=16=3 --dist=16=distinct:0:5 --dist=9=uniform:-1:1 --print-kernel-ir | FileCheck %s --check-prefixes=LAYER,MERGED
// RUN: hyla-cpu-runner %s --entry=layer_decode --input-shape=0=3x1x64 --input-shape=1=3x1x64 --input-shape=2=3x1x128 --input-shape=3=3x1x2 --input-shape=4=3x1x2 --input-shape=5=3x1x128 --input-shape=16=3 --dist=16=distinct:0:5 --dist=9=uniform:-1:1 --merge-max-parts=1 --print-kernel-ir | FileCheck %s --check-prefixes=LAYER,UNMERGED
//
// Decode: the delta rule and the short conv continuing from per-slot caches
// that are updated in place, against the float64 recurrence. The L2 norms of
// q and k are folded into the decode kernel (hyla-fuse-qk-l2norm) except in
// decode_t2_raw_qk, which has none. Slots are a
// random subset of the cache, so untouched slots must come back unchanged.
// Gates down to -20 and beta up to 2 stay finite.

// T1: decode_t1_gva: output 0 {{.*}} nonfinite 0 PASS
// T1: decode_t1_gva: output 1 {{.*}} nonfinite 0 PASS
// T1: {{^}}PASS
func.func @decode_t1_gva(%q: tensor<3x1x2x32xf32>, %k: tensor<3x1x2x32xf32>, %v: tensor<3x1x4x64xbf16>, %g: tensor<3x1x4xf32>, %beta: tensor<3x1x4xf32>, %cache: tensor<5x4x32x64xf32>, %slots: tensor<3xi32>) -> (tensor<3x1x4x64xbf16>, tensor<5x4x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<3x1x2x32xf32> -> tensor<3x1x2x32xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<3x1x2x32xf32> -> tensor<3x1x2x32xf32>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %beta, %cache[%slots] {scale = 0.17677669529663687 : f64} : tensor<3x1x2x32xf32>, tensor<3x1x2x32xf32>, tensor<3x1x4x64xbf16>, tensor<3x1x4xf32>, tensor<3x1x4xf32>, tensor<5x4x32x64xf32>, tensor<3xi32> -> tensor<3x1x4x64xbf16>, tensor<5x4x32x64xf32>
  return %o, %c : tensor<3x1x4x64xbf16>, tensor<5x4x32x64xf32>
}

// -----
// Speculative verification: 3 tokens per sequence, head dims K=96, V=192
// (three value blocks), dynamic batch.
// T3: decode_t3_spec: output 0 {{.*}} nonfinite 0 PASS
// T3: decode_t3_spec: output 1 {{.*}} nonfinite 0 PASS
// T3: {{^}}PASS
func.func @decode_t3_spec(%q: tensor<2x3x1x96xbf16>, %k: tensor<2x3x1x96xbf16>, %v: tensor<2x3x1x192xbf16>, %g: tensor<2x3x1xf32>, %beta: tensor<2x3x1xf32>, %cache: tensor<7x1x96x192xf32>, %slots: tensor<2xi32>) -> (tensor<2x3x1x192xbf16>, tensor<7x1x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x3x1x96xbf16> -> tensor<2x3x1x96xbf16>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x3x1x96xbf16> -> tensor<2x3x1x96xbf16>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %beta, %cache[%slots] {scale = 0.10206207261596575 : f64} : tensor<2x3x1x96xbf16>, tensor<2x3x1x96xbf16>, tensor<2x3x1x192xbf16>, tensor<2x3x1xf32>, tensor<2x3x1xf32>, tensor<7x1x96x192xf32>, tensor<2xi32> -> tensor<2x3x1x192xbf16>, tensor<7x1x96x192xf32>
  return %o, %c : tensor<2x3x1x192xbf16>, tensor<7x1x96x192xf32>
}

// -----
// q and k used as given (no L2 norm to fold into the kernel).
// RAW: decode_t2_raw_qk: output 0 {{.*}} nonfinite 0 PASS
// RAW: decode_t2_raw_qk: output 1 {{.*}} nonfinite 0 PASS
// RAW: {{^}}PASS
func.func @decode_t2_raw_qk(%q: tensor<2x2x2x32xbf16>, %k: tensor<2x2x2x32xbf16>, %v: tensor<2x2x2x64xbf16>, %g: tensor<2x2x2xf32>, %beta: tensor<2x2x2xf32>, %cache: tensor<4x2x32x64xf32>, %slots: tensor<2xi32>) -> (tensor<2x2x2x64xbf16>, tensor<4x2x32x64xf32>) {
  %o, %c = hyla.gated_delta_rule_cached %q, %k, %v, %g, %beta, %cache[%slots] {scale = 0.17677669529663687 : f64} : tensor<2x2x2x32xbf16>, tensor<2x2x2x32xbf16>, tensor<2x2x2x64xbf16>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<4x2x32x64xf32>, tensor<2xi32> -> tensor<2x2x2x64xbf16>, tensor<4x2x32x64xf32>
  return %o, %c : tensor<2x2x2x64xbf16>, tensor<4x2x32x64xf32>
}

// -----
// A chunked prefill of 70 tokens (not a multiple of 64) whose final state
// seeds the cache, then one decode step: the step's output and state match
// the float64 recurrence over all 71 tokens.
// CHAIN: prefill_then_decode: output 0 {{.*}} nonfinite 0 PASS
// CHAIN: prefill_then_decode: output 1 {{.*}} nonfinite 0 PASS
// CHAIN: prefill_then_decode: output 2 {{.*}} nonfinite 0 PASS
// CHAIN: {{^}}PASS
func.func @prefill_then_decode(%q: tensor<1x70x2x32xf32>, %k: tensor<1x70x2x32xf32>, %g: tensor<1x70x2xf32>, %beta: tensor<1x70x2xf32>, %v: tensor<1x70x2x64xf32>,
    %q1: tensor<1x1x2x32xf32>, %k1: tensor<1x1x2x32xf32>, %v1: tensor<1x1x2x64xf32>, %g1: tensor<1x1x2xf32>, %beta1: tensor<1x1x2xf32>, %slots: tensor<1xi32>)
    -> (tensor<1x70x2x64xf32>, tensor<1x1x2x64xf32>, tensor<1x2x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x70x2x32xf32> -> tensor<1x70x2x32xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x70x2x32xf32> -> tensor<1x70x2x32xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.17677669529663687 : f64} : tensor<1x70x2x32xf32>, tensor<1x70x2x32xf32>, tensor<1x70x2x64xf32>, tensor<1x70x2xf32>, tensor<1x70x2xf32> -> tensor<1x70x2x64xf32>, tensor<1x2x32x64xf32>
  %q1n = hyla.l2_norm %q1 {epsilon = 1.0e-6 : f64} : tensor<1x1x2x32xf32> -> tensor<1x1x2x32xf32>
  %k1n = hyla.l2_norm %k1 {epsilon = 1.0e-6 : f64} : tensor<1x1x2x32xf32> -> tensor<1x1x2x32xf32>
  %o1, %c = hyla.gated_delta_rule_cached %q1n, %k1n, %v1, %g1, %beta1, %s[%slots] {scale = 0.17677669529663687 : f64} : tensor<1x1x2x32xf32>, tensor<1x1x2x32xf32>, tensor<1x1x2x64xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x2x32x64xf32>, tensor<1xi32> -> tensor<1x1x2x64xf32>, tensor<1x2x32x64xf32>
  return %o, %o1, %c : tensor<1x70x2x64xf32>, tensor<1x1x2x64xf32>, tensor<1x2x32x64xf32>
}

// -----
// OUTSIDE: gdn-decode.mlir:{{[0-9]+}}:12: error: slot {{6|7}} of batch element 0 is outside the cache's 6 slots
// SHARED: gdn-decode.mlir:{{[0-9]+}}:12: error: batch elements 0 and 1 both use slot 0
// CONV: conv_decode: output 0 {{.*}} nonfinite 0 PASS
// CONV: conv_decode: output 1 {{.*}} nonfinite 0 PASS
// CONV: {{^}}PASS
func.func @conv_decode(%x: tensor<4x2x200xbf16>, %w: tensor<200x4xbf16>, %cache: tensor<6x3x200xbf16>, %slots: tensor<4xi32>) -> (tensor<4x2x200xbf16>, tensor<6x3x200xbf16>) {
  %y, %c = hyla.causal_conv1d_cached %x, %w, %cache[%slots] : tensor<4x2x200xbf16>, tensor<200x4xbf16>, tensor<6x3x200xbf16>, tensor<4xi32> -> tensor<4x2x200xbf16>, tensor<6x3x200xbf16>
  return %y, %c : tensor<4x2x200xbf16>, tensor<6x3x200xbf16>
}

// -----
// The GDN layer after its projections, one decode step: three cached convs
// + SiLU, L2 norms, gates from raw a/b, the delta rule and the gated
// RMSNorm. The convs and the gates run as one merged kernel
// (hyla-merge-dispatches), with the batch read from the operands when it is
// dynamic; UNMERGED runs them as four kernels.
// MERGED: hyla.dispatch @conv1d_decode_bf16_bf16_c64_w4_silu__conv1d_decode_bf16_bf16_c64_w4_silu__conv1d_decode_bf16_bf16_c128_w4_silu__gdn_gates_{{[^[]*}}[
// MERGED-NOT: hyla.dispatch @conv1d
// UNMERGED-COUNT-3: hyla.dispatch @conv1d_decode_bf16_bf16_c{{[0-9]+}}_w4_silu[
// UNMERGED: hyla.dispatch @gdn_gates_
// LAYER: layer_decode: output 0 {{.*}} nonfinite 0 PASS
// LAYER: layer_decode: output 4 {{.*}} nonfinite 0 PASS
// LAYER: {{^}}PASS
func.func @layer_decode(%qp: tensor<?x1x64xbf16>, %kp: tensor<?x1x64xbf16>, %vp: tensor<?x1x128xbf16>,
    %a: tensor<?x1x2xbf16>, %b: tensor<?x1x2xbf16>, %gate: tensor<?x1x128xbf16>,
    %wq: tensor<64x4xbf16>, %wk: tensor<64x4xbf16>, %wv: tensor<128x4xbf16>,
    %alog: tensor<2xf32>, %dtb: tensor<2xf32>, %wn: tensor<64xbf16>,
    %qcache: tensor<5x3x64xbf16>, %kcache: tensor<5x3x64xbf16>, %vcache: tensor<5x3x128xbf16>,
    %cache: tensor<5x2x32x64xf32>, %slots: tensor<?xi32>)
    -> (tensor<?x1x2x64xbf16>, tensor<5x3x64xbf16>, tensor<5x3x64xbf16>, tensor<5x3x128xbf16>, tensor<5x2x32x64xf32>) {
  %c0 = arith.constant 0 : index
  %batch = tensor.dim %qp, %c0 : tensor<?x1x64xbf16>
  %q, %qc = hyla.causal_conv1d_cached %qp, %wq, %qcache[%slots] : tensor<?x1x64xbf16>, tensor<64x4xbf16>, tensor<5x3x64xbf16>, tensor<?xi32> -> tensor<?x1x64xbf16>, tensor<5x3x64xbf16>
  %k, %kc = hyla.causal_conv1d_cached %kp, %wk, %kcache[%slots] : tensor<?x1x64xbf16>, tensor<64x4xbf16>, tensor<5x3x64xbf16>, tensor<?xi32> -> tensor<?x1x64xbf16>, tensor<5x3x64xbf16>
  %v, %vc = hyla.causal_conv1d_cached %vp, %wv, %vcache[%slots] : tensor<?x1x128xbf16>, tensor<128x4xbf16>, tensor<5x3x128xbf16>, tensor<?xi32> -> tensor<?x1x128xbf16>, tensor<5x3x128xbf16>
  %q4 = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [%batch, 1, 2, 32] : tensor<?x1x64xbf16> into tensor<?x1x2x32xbf16>
  %k4 = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [%batch, 1, 2, 32] : tensor<?x1x64xbf16> into tensor<?x1x2x32xbf16>
  %v4 = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [%batch, 1, 2, 64] : tensor<?x1x128xbf16> into tensor<?x1x2x64xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<?x1x2x32xbf16> -> tensor<?x1x2x32xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<?x1x2x32xbf16> -> tensor<?x1x2x32xf32>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64} : tensor<?x1x2xbf16>, tensor<?x1x2xbf16>, tensor<2xf32>, tensor<2xf32> -> tensor<?x1x2xf32>, tensor<?x1x2xf32>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v4, %g, %beta, %cache[%slots] {scale = 0.17677669529663687 : f64}
      : tensor<?x1x2x32xf32>, tensor<?x1x2x32xf32>, tensor<?x1x2x64xbf16>, tensor<?x1x2xf32>, tensor<?x1x2xf32>, tensor<5x2x32x64xf32>, tensor<?xi32>
      -> tensor<?x1x2x64xbf16>, tensor<5x2x32x64xf32>
  %gate4 = tensor.expand_shape %gate [[0], [1], [2, 3]] output_shape [%batch, 1, 2, 64] : tensor<?x1x128xbf16> into tensor<?x1x2x64xbf16>
  %y = hyla.gated_rms_norm %o, %gate4, %wn {epsilon = 1.0e-5 : f64} : tensor<?x1x2x64xbf16>, tensor<?x1x2x64xbf16>, tensor<64xbf16> -> tensor<?x1x2x64xbf16>
  return %y, %qc, %kc, %vc, %c : tensor<?x1x2x64xbf16>, tensor<5x3x64xbf16>, tensor<5x3x64xbf16>, tensor<5x3x128xbf16>, tensor<5x2x32x64xf32>
}
