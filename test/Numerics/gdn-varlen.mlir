// DEFINE: %{dyn} = --input-shape=0=1x300x2x32 --input-shape=1=1x300x2x32 --input-shape=2=1x300x4x64 --input-shape=3=1x300x4 --input-shape=4=1x300x4 --input-shape=5=8x4x32x64 --input-shape=6=9 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --dist=6=offsets:0:300
// RUN: hyla-cpu-runner %s --entry=varlen_k96_v192 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --dist=5=offsets:0:130 --tolerance=2e-5 | FileCheck %s --check-prefix=K96
// RUN: hyla-cpu-runner %s --entry=varlen_k96_v192 --gdn-parallel-chunks=false --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --dist=5=offsets:0:130 --tolerance=2e-5 | FileCheck %s --check-prefix=K96
// RUN: hyla-cpu-runner %s --entry=varlen_dynamic_gva %{dyn} --tolerance=2e-5 | FileCheck %s --check-prefix=DYN
// RUN: hyla-cpu-runner %s --entry=varlen_dynamic_gva --gdn-parallel-chunks=false %{dyn} --tolerance=2e-5 | FileCheck %s --check-prefix=DYN
// RUN: hyla-cpu-runner %s --entry=varlen_dynamic_gva --gdn-fuse-qk-l2norm %{dyn} --tolerance=2e-5 | FileCheck %s --check-prefix=DYN
// RUN: not hyla-cpu-runner %s --entry=varlen_k96_v192 --dist=3=neglog:1e-4:20 --dist=4=uniform:0:2 --dist=5=int:0:1 --tolerance=2e-5 2>&1 | FileCheck %s --check-prefix=BAD
//
// The delta rule over packed variable-length sequences (cu_seqlens) against
// the float64 recurrence that restarts at every sequence start: random
// sorted offsets every run (sequences from empty to longer than several
// chunks, none aligned to the chunk), each from its own initial state or
// zeros, grouped value heads, in the three-kernel and the single-kernel
// forms, and with the L2 norms folded into the chunk kernels. The last RUN gives offsets
// that do not end at the token count: the reference rejects them.
// K96: varlen_k96_v192: output 0 {{.*}} nonfinite 0 PASS
// K96: varlen_k96_v192: output 1 {{.*}} nonfinite 0 PASS
// K96: {{^}}PASS
// DYN: varlen_dynamic_gva: output 0 {{.*}} nonfinite 0 PASS
// DYN: varlen_dynamic_gva: output 1 {{.*}} nonfinite 0 PASS
// DYN: {{^}}PASS
// BAD: cu_seqlens must run from 0 to the token count 130

func.func @varlen_k96_v192(%q: tensor<1x130x2x96xf32>, %k: tensor<1x130x2x96xf32>, %v: tensor<1x130x2x192xf32>, %g: tensor<1x130x2xf32>, %beta: tensor<1x130x2xf32>, %cu: tensor<4xi32>) -> (tensor<1x130x2x192xf32>, tensor<3x2x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x130x2x96xf32> -> tensor<1x130x2x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x130x2x96xf32> -> tensor<1x130x2x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta cu_seqlens(%cu : tensor<4xi32>) {scale = 0.10206207261596575 : f64} : tensor<1x130x2x96xf32>, tensor<1x130x2x96xf32>, tensor<1x130x2x192xf32>, tensor<1x130x2xf32>, tensor<1x130x2xf32> -> tensor<1x130x2x192xf32>, tensor<3x2x96x192xf32>
  return %o, %s : tensor<1x130x2x192xf32>, tensor<3x2x96x192xf32>
}

func.func @varlen_dynamic_gva(%q: tensor<?x?x2x32xf32>, %k: tensor<?x?x2x32xf32>, %v: tensor<?x?x4x64xf32>, %g: tensor<?x?x4xf32>, %beta: tensor<?x?x4xf32>, %h0: tensor<?x4x32x64xf32>, %cu: tensor<?xi32>) -> (tensor<?x?x4x64xf32>, tensor<?x4x32x64xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xf32> -> tensor<?x?x2x32xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x2x32xf32> -> tensor<?x?x2x32xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<?x4x32x64xf32>) cu_seqlens(%cu : tensor<?xi32>) {scale = 0.17677669529663687 : f64} : tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?x4x64xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32> -> tensor<?x?x4x64xf32>, tensor<?x4x32x64xf32>
  return %o, %s : tensor<?x?x4x64xf32>, tensor<?x4x32x64xf32>
}
