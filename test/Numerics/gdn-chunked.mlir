// RUN: hyla-cpu-runner %s --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --gdn-fuse-qk-l2norm --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --gdn-parallel-chunks=false --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --gdn-fuse-qk-l2norm --gdn-parallel-chunks=false --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --fragment-layouts --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --fragment-layouts --gdn-state-num-warps=4 --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --gdn-output-block-v=192 --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: hyla-cpu-runner %s --gdn-output-block-v=128 --dist=0=uniform:-0.15:0.15 --dist=1=uniform:-0.15:0.15 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=2e-5 | FileCheck %s
// RUN: not hyla-cpu-runner %s --entry=gdn_t200_k96_v192 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --tolerance=1e-12 | FileCheck %s --check-prefix=STRICT
//
// The chunked (UT-form) delta rule against the token-by-token float64
// recurrence, in f32 so that any error of the rewrite shows: T = 1, 63, 64
// and 200 (partial chunks, one token, several chunks), key/value head dims
// 96/192 and 128/128, with and without an initial state, grouped value
// heads, per-token log decays from -1e-4 down to -20 and beta in (0, 2).
// Fresh random inputs every run (the seed is printed). The first RUN checks
// the default three-kernel form (parallel over chunks), the second the
// single kernel; the third shows the check can fail: no f32 computation
// meets 1e-12. With --gdn-fuse-qk-l2norm the L2 norms of q and k fold
// into the delta rule, and the entries with norms check the chunk kernels'
// in-kernel norms; with --fragment-layouts the kernels first go through
// the GPU layout passes (dot results in mma fragments, the state carried as
// fragments), whose rewrites must not change what is computed (with
// --gdn-state-num-warps=4 the state kernel's products become wgmma
// fragments, which its elementwise ops and stores then use); with
// --gdn-output-block-v the output kernel spans 192 (or 128) value columns
// where V allows, more than the state kernel's 64; gdn_raw_qk_t130 has no norms (q and k drawn small
// enough, |k|^2 ~ 0.7, that beta up to 2 keeps the recurrence stable).
// STRICT: FAIL
// CHECK: gdn_t1_k96_v192: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t1_k96_v192: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t1_k128_v128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t1_k128_v128: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t63_k96_v192: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t63_k96_v192: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t63_k128_v128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t63_k128_v128: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t64_k96_v192: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t64_k96_v192: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t64_k128_v128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t64_k128_v128: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t200_k96_v192: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t200_k96_v192: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t200_k128_v128: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_t200_k128_v128: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_gva_t100: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_gva_t100: output 1 {{.*}} nonfinite 0 PASS
// CHECK: gdn_raw_qk_t130: output 0 {{.*}} nonfinite 0 PASS
// CHECK: gdn_raw_qk_t130: output 1 {{.*}} nonfinite 0 PASS
// CHECK: {{^}}PASS

func.func @gdn_t1_k96_v192(%q: tensor<2x1x2x96xf32>, %k: tensor<2x1x2x96xf32>, %v: tensor<2x1x2x192xf32>, %g: tensor<2x1x2xf32>, %beta: tensor<2x1x2xf32>) -> (tensor<2x1x2x192xf32>, tensor<2x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x96xf32> -> tensor<2x1x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x1x2x96xf32> -> tensor<2x1x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<2x1x2x96xf32>, tensor<2x1x2x96xf32>, tensor<2x1x2x192xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32> -> tensor<2x1x2x192xf32>, tensor<2x2x96x192xf32>
  return %o, %s : tensor<2x1x2x192xf32>, tensor<2x2x96x192xf32>
}
func.func @gdn_t1_k128_v128(%q: tensor<2x1x2x128xf32>, %k: tensor<2x1x2x128xf32>, %v: tensor<2x1x2x128xf32>, %g: tensor<2x1x2xf32>, %beta: tensor<2x1x2xf32>) -> (tensor<2x1x2x128xf32>, tensor<2x2x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x1x2x128xf32> -> tensor<2x1x2x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x1x2x128xf32> -> tensor<2x1x2x128xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.08838834764831845 : f64} : tensor<2x1x2x128xf32>, tensor<2x1x2x128xf32>, tensor<2x1x2x128xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32> -> tensor<2x1x2x128xf32>, tensor<2x2x128x128xf32>
  return %o, %s : tensor<2x1x2x128xf32>, tensor<2x2x128x128xf32>
}
func.func @gdn_t63_k96_v192(%q: tensor<2x63x2x96xf32>, %k: tensor<2x63x2x96xf32>, %v: tensor<2x63x2x192xf32>, %g: tensor<2x63x2xf32>, %beta: tensor<2x63x2xf32>, %h0: tensor<2x2x96x192xf32>) -> (tensor<2x63x2x192xf32>, tensor<2x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x63x2x96xf32> -> tensor<2x63x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x63x2x96xf32> -> tensor<2x63x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<2x2x96x192xf32>) {scale = 0.10206207261596575 : f64} : tensor<2x63x2x96xf32>, tensor<2x63x2x96xf32>, tensor<2x63x2x192xf32>, tensor<2x63x2xf32>, tensor<2x63x2xf32> -> tensor<2x63x2x192xf32>, tensor<2x2x96x192xf32>
  return %o, %s : tensor<2x63x2x192xf32>, tensor<2x2x96x192xf32>
}
func.func @gdn_t63_k128_v128(%q: tensor<2x63x2x128xf32>, %k: tensor<2x63x2x128xf32>, %v: tensor<2x63x2x128xf32>, %g: tensor<2x63x2xf32>, %beta: tensor<2x63x2xf32>, %h0: tensor<2x2x128x128xf32>) -> (tensor<2x63x2x128xf32>, tensor<2x2x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x63x2x128xf32> -> tensor<2x63x2x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x63x2x128xf32> -> tensor<2x63x2x128xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<2x2x128x128xf32>) {scale = 0.08838834764831845 : f64} : tensor<2x63x2x128xf32>, tensor<2x63x2x128xf32>, tensor<2x63x2x128xf32>, tensor<2x63x2xf32>, tensor<2x63x2xf32> -> tensor<2x63x2x128xf32>, tensor<2x2x128x128xf32>
  return %o, %s : tensor<2x63x2x128xf32>, tensor<2x2x128x128xf32>
}
func.func @gdn_t64_k96_v192(%q: tensor<2x64x2x96xf32>, %k: tensor<2x64x2x96xf32>, %v: tensor<2x64x2x192xf32>, %g: tensor<2x64x2xf32>, %beta: tensor<2x64x2xf32>) -> (tensor<2x64x2x192xf32>, tensor<2x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x64x2x96xf32> -> tensor<2x64x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x64x2x96xf32> -> tensor<2x64x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<2x64x2x96xf32>, tensor<2x64x2x96xf32>, tensor<2x64x2x192xf32>, tensor<2x64x2xf32>, tensor<2x64x2xf32> -> tensor<2x64x2x192xf32>, tensor<2x2x96x192xf32>
  return %o, %s : tensor<2x64x2x192xf32>, tensor<2x2x96x192xf32>
}
func.func @gdn_t64_k128_v128(%q: tensor<2x64x2x128xf32>, %k: tensor<2x64x2x128xf32>, %v: tensor<2x64x2x128xf32>, %g: tensor<2x64x2xf32>, %beta: tensor<2x64x2xf32>) -> (tensor<2x64x2x128xf32>, tensor<2x2x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<2x64x2x128xf32> -> tensor<2x64x2x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<2x64x2x128xf32> -> tensor<2x64x2x128xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta {scale = 0.08838834764831845 : f64} : tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2xf32>, tensor<2x64x2xf32> -> tensor<2x64x2x128xf32>, tensor<2x2x128x128xf32>
  return %o, %s : tensor<2x64x2x128xf32>, tensor<2x2x128x128xf32>
}
func.func @gdn_t200_k96_v192(%q: tensor<1x200x2x96xf32>, %k: tensor<1x200x2x96xf32>, %v: tensor<1x200x2x192xf32>, %g: tensor<1x200x2xf32>, %beta: tensor<1x200x2xf32>, %h0: tensor<1x2x96x192xf32>) -> (tensor<1x200x2x192xf32>, tensor<1x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x200x2x96xf32> -> tensor<1x200x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x200x2x96xf32> -> tensor<1x200x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<1x2x96x192xf32>) {scale = 0.10206207261596575 : f64} : tensor<1x200x2x96xf32>, tensor<1x200x2x96xf32>, tensor<1x200x2x192xf32>, tensor<1x200x2xf32>, tensor<1x200x2xf32> -> tensor<1x200x2x192xf32>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x200x2x192xf32>, tensor<1x2x96x192xf32>
}
func.func @gdn_t200_k128_v128(%q: tensor<1x200x2x128xf32>, %k: tensor<1x200x2x128xf32>, %v: tensor<1x200x2x128xf32>, %g: tensor<1x200x2xf32>, %beta: tensor<1x200x2xf32>, %h0: tensor<1x2x128x128xf32>) -> (tensor<1x200x2x128xf32>, tensor<1x2x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x200x2x128xf32> -> tensor<1x200x2x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x200x2x128xf32> -> tensor<1x200x2x128xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<1x2x128x128xf32>) {scale = 0.08838834764831845 : f64} : tensor<1x200x2x128xf32>, tensor<1x200x2x128xf32>, tensor<1x200x2x128xf32>, tensor<1x200x2xf32>, tensor<1x200x2xf32> -> tensor<1x200x2x128xf32>, tensor<1x2x128x128xf32>
  return %o, %s : tensor<1x200x2x128xf32>, tensor<1x2x128x128xf32>
}
func.func @gdn_gva_t100(%q: tensor<1x100x1x64xf32>, %k: tensor<1x100x1x64xf32>, %v: tensor<1x100x2x64xf32>, %g: tensor<1x100x2xf32>, %beta: tensor<1x100x2xf32>, %h0: tensor<1x2x64x64xf32>) -> (tensor<1x100x2x64xf32>, tensor<1x2x64x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x100x1x64xf32> -> tensor<1x100x1x64xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x100x1x64xf32> -> tensor<1x100x1x64xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<1x2x64x64xf32>) {scale = 0.125 : f64} : tensor<1x100x1x64xf32>, tensor<1x100x1x64xf32>, tensor<1x100x2x64xf32>, tensor<1x100x2xf32>, tensor<1x100x2xf32> -> tensor<1x100x2x64xf32>, tensor<1x2x64x64xf32>
  return %o, %s : tensor<1x100x2x64xf32>, tensor<1x2x64x64xf32>
}
func.func @gdn_raw_qk_t130(%q: tensor<1x130x2x96xf32>, %k: tensor<1x130x2x96xf32>, %v: tensor<1x130x2x192xf32>, %g: tensor<1x130x2xf32>, %beta: tensor<1x130x2xf32>) -> (tensor<1x130x2x192xf32>, tensor<1x2x96x192xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %k, %v, %g, %beta {scale = 0.10206207261596575 : f64} : tensor<1x130x2x96xf32>, tensor<1x130x2x96xf32>, tensor<1x130x2x192xf32>, tensor<1x130x2xf32>, tensor<1x130x2xf32> -> tensor<1x130x2x192xf32>, tensor<1x2x96x192xf32>
  return %o, %s : tensor<1x130x2x192xf32>, tensor<1x2x96x192xf32>
}
