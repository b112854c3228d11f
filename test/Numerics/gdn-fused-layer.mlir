// RUN: hyla-cpu-runner %s --entry=layer_core_gva --gdn-fuse-prologue --gdn-fuse-output-norm --dist=3=normal:0:2 --dist=4=normal:0:2 --tolerance=2e-5 --print-kernel-ir | FileCheck %s --check-prefixes=CORE,FUSED --implicit-check-not="func.func @causal_conv1d_" --implicit-check-not="func.func @gdn_gates_" --implicit-check-not="func.func @gated_rms_norm_"
// RUN: hyla-cpu-runner %s --entry=layer_core_gva --gdn-fuse-prologue --gdn-fuse-output-norm --gdn-parallel-chunks=false --dist=3=normal:0:2 --dist=4=normal:0:2 --tolerance=2e-5 | FileCheck %s --check-prefix=CORE
// RUN: hyla-cpu-runner %s --entry=layer_core_gva --gdn-fuse-prologue --gdn-fuse-output-norm --fragment-layouts --dist=3=normal:0:2 --dist=4=normal:0:2 --tolerance=2e-5 | FileCheck %s --check-prefix=CORE
// RUN: hyla-cpu-runner %s --entry=layer_core_gva --gdn-fuse-prologue --dist=3=normal:0:2 --dist=4=normal:0:2 --tolerance=2e-5 --print-kernel-ir | FileCheck %s --check-prefixes=CORE,PROLOGUE --implicit-check-not="func.func @causal_conv1d_" --implicit-check-not="func.func @gdn_gates_"
// RUN: hyla-cpu-runner %s --entry=layer_core_gva --gdn-fuse-output-norm --dist=3=normal:0:2 --dist=4=normal:0:2 --tolerance=2e-5 --print-kernel-ir | FileCheck %s --check-prefixes=CORE,EPILOGUE --implicit-check-not="func.func @gated_rms_norm_"
// RUN: hyla-cpu-runner %s --entry=layer_core_k96_bf16 --gdn-fuse-prologue --gdn-fuse-output-norm --dist=3=uniform:-8:4 --dist=4=uniform:-4:4 --tolerance=1e-2 | FileCheck %s --check-prefix=BF16
// RUN: hyla-cpu-runner %s --entry=folded_varlen --dist=3=uniform:-6:3 --dist=4=normal:0:2 --dist=6=offsets:0:150 --tolerance=2e-5 | FileCheck %s --check-prefix=VARLEN
// RUN: hyla-cpu-runner %s --entry=folded_varlen --gdn-parallel-chunks=false --dist=3=uniform:-6:3 --dist=4=normal:0:2 --dist=6=offsets:0:150 --tolerance=2e-5 | FileCheck %s --check-prefix=VARLEN
//
// A GDN layer core (short convs with SiLU, q/k L2 norms, gates, delta
// rule, gated RMSNorm) with its neighbours folded into the chunk kernels
// (hyla-fuse-gdn-layer), against the float64 reference of the unfused ops:
// grouped value heads, T not a multiple of the chunk, raw gates wide
// enough to give decays down to about -20 and betas near 0 and 2; in the
// three-kernel and the single-kernel forms (prep computes the gates and
// hands g to the unfolded state and output kernels), through the GPU layout passes,
// and with only the prologue or only the output norm folded. The bf16 case
// has Olmo's head dims. folded_varlen gives the folded op directly over
// packed sequences (its conv restarts at each sequence).
//
// FUSED: func.func @gdn_prep_{{[a-z0-9_]*}}_conv{{[a-z0-9]*}}_gates{{[a-z0-9]*}}_w16(
// FUSED: func.func @gdn_state_f32_f32_h2_hv4_k32_v64_c64_l2e{{[a-z0-9]*}}_bv64_w4(
// FUSED: func.func @gdn_output_{{[a-z0-9_]*}}_conv{{[a-z0-9]*}}_onorm{{[a-z0-9]*}}_f32_bv64_
// PROLOGUE-DAG: func.func @gdn_prep_{{[a-z0-9_]*}}_conv
// PROLOGUE-DAG: func.func @gated_rms_norm_
// EPILOGUE-DAG: func.func @causal_conv1d_
// EPILOGUE-DAG: func.func @gdn_output_{{[a-z0-9_]*}}_onorm
// CORE: layer_core_gva: output 0 {{.*}} nonfinite 0 PASS
// CORE: layer_core_gva: output 1 {{.*}} nonfinite 0 PASS
// CORE: {{^}}PASS
// BF16: layer_core_k96_bf16: output 0 {{.*}} nonfinite 0 PASS
// BF16: layer_core_k96_bf16: output 1 {{.*}} nonfinite 0 PASS
// BF16: {{^}}PASS
// VARLEN: folded_varlen: output 0 {{.*}} nonfinite 0 PASS
// VARLEN: folded_varlen: output 1 {{.*}} nonfinite 0 PASS
// VARLEN: {{^}}PASS

func.func @layer_core_gva(%q: tensor<2x130x64xf32>, %k: tensor<2x130x64xf32>, %v: tensor<2x130x256xf32>,
                          %a: tensor<2x130x4xf32>, %b: tensor<2x130x4xf32>, %gate: tensor<2x130x4x64xf32>,
                          %wq: tensor<64x4xf32>, %wk: tensor<64x4xf32>, %wv: tensor<256x4xf32>,
                          %alog: tensor<4xf32>, %dtb: tensor<4xf32>, %wo: tensor<64xf32>)
    -> (tensor<2x130x4x64xf32>, tensor<2x4x32x64xf32>) {
  %qc = hyla.causal_conv1d %q, %wq : tensor<2x130x64xf32>, tensor<64x4xf32> -> tensor<2x130x64xf32>
  %kc = hyla.causal_conv1d %k, %wk : tensor<2x130x64xf32>, tensor<64x4xf32> -> tensor<2x130x64xf32>
  %vc = hyla.causal_conv1d %v, %wv : tensor<2x130x256xf32>, tensor<256x4xf32> -> tensor<2x130x256xf32>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [2, 130, 2, 32] : tensor<2x130x64xf32> into tensor<2x130x2x32xf32>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [2, 130, 2, 32] : tensor<2x130x64xf32> into tensor<2x130x2x32xf32>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [2, 130, 4, 64] : tensor<2x130x256xf32> into tensor<2x130x4x64xf32>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<2x130x2x32xf32> -> tensor<2x130x2x32xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<2x130x2x32xf32> -> tensor<2x130x2x32xf32>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64}
      : tensor<2x130x4xf32>, tensor<2x130x4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<2x130x4xf32>, tensor<2x130x4xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v4, %g, %beta {scale = 0.17677669529663687 : f64}
      : tensor<2x130x2x32xf32>, tensor<2x130x2x32xf32>, tensor<2x130x4x64xf32>, tensor<2x130x4xf32>, tensor<2x130x4xf32>
      -> tensor<2x130x4x64xf32>, tensor<2x4x32x64xf32>
  %y = hyla.gated_rms_norm %o, %gate, %wo {epsilon = 1.0e-5 : f64}
      : tensor<2x130x4x64xf32>, tensor<2x130x4x64xf32>, tensor<64xf32> -> tensor<2x130x4x64xf32>
  return %y, %s : tensor<2x130x4x64xf32>, tensor<2x4x32x64xf32>
}

func.func @layer_core_k96_bf16(%q: tensor<1x100x96xbf16>, %k: tensor<1x100x96xbf16>, %v: tensor<1x100x384xbf16>,
                               %a: tensor<1x100x2xbf16>, %b: tensor<1x100x2xbf16>, %gate: tensor<1x100x2x192xbf16>,
                               %wq: tensor<96x4xbf16>, %wk: tensor<96x4xbf16>, %wv: tensor<384x4xbf16>,
                               %alog: tensor<2xbf16>, %dtb: tensor<2xbf16>, %wo: tensor<192xbf16>)
    -> (tensor<1x100x2x192xbf16>, tensor<1x2x96x192xf32>) {
  %qc = hyla.causal_conv1d %q, %wq : tensor<1x100x96xbf16>, tensor<96x4xbf16> -> tensor<1x100x96xbf16>
  %kc = hyla.causal_conv1d %k, %wk : tensor<1x100x96xbf16>, tensor<96x4xbf16> -> tensor<1x100x96xbf16>
  %vc = hyla.causal_conv1d %v, %wv : tensor<1x100x384xbf16>, tensor<384x4xbf16> -> tensor<1x100x384xbf16>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [1, 100, 1, 96] : tensor<1x100x96xbf16> into tensor<1x100x1x96xbf16>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [1, 100, 1, 96] : tensor<1x100x96xbf16> into tensor<1x100x1x96xbf16>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [1, 100, 2, 192] : tensor<1x100x384xbf16> into tensor<1x100x2x192xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<1x100x1x96xbf16> -> tensor<1x100x1x96xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<1x100x1x96xbf16> -> tensor<1x100x1x96xf32>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64}
      : tensor<1x100x2xbf16>, tensor<1x100x2xbf16>, tensor<2xbf16>, tensor<2xbf16> -> tensor<1x100x2xf32>, tensor<1x100x2xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v4, %g, %beta {scale = 0.10206207261596575 : f64}
      : tensor<1x100x1x96xf32>, tensor<1x100x1x96xf32>, tensor<1x100x2x192xbf16>, tensor<1x100x2xf32>, tensor<1x100x2xf32>
      -> tensor<1x100x2x192xbf16>, tensor<1x2x96x192xf32>
  %y = hyla.gated_rms_norm %o, %gate, %wo {epsilon = 1.0e-6 : f64}
      : tensor<1x100x2x192xbf16>, tensor<1x100x2x192xbf16>, tensor<192xbf16> -> tensor<1x100x2x192xbf16>
  return %y, %s : tensor<1x100x2x192xbf16>, tensor<1x2x96x192xf32>
}

func.func @folded_varlen(%q: tensor<1x150x2x32xf32>, %k: tensor<1x150x2x32xf32>, %v: tensor<1x150x4x64xf32>,
                         %a: tensor<1x150x4xf32>, %b: tensor<1x150x4xf32>, %h0: tensor<5x4x32x64xf32>,
                         %cu: tensor<6xi32>, %wq: tensor<64x4xf32>, %wk: tensor<64x4xf32>, %wv: tensor<256x4xf32>,
                         %alog: tensor<4xf32>, %dtb: tensor<4xf32>, %gate: tensor<1x150x4x64xf32>, %wo: tensor<64xf32>)
    -> (tensor<1x150x4x64xf32>, tensor<5x4x32x64xf32>) {
  %o, %s = hyla.gated_delta_rule %q, %k, %v, %a, %b initial_state(%h0 : tensor<5x4x32x64xf32>)
      cu_seqlens(%cu : tensor<6xi32>) conv(%wq, %wk, %wv : tensor<64x4xf32>, tensor<64x4xf32>, tensor<256x4xf32>)
      gates(%alog, %dtb : tensor<4xf32>, tensor<4xf32>) output_norm(%gate, %wo : tensor<1x150x4x64xf32>, tensor<64xf32>)
      {scale = 0.17677669529663687 : f64, qk_l2norm_epsilon = 1.0e-6 : f64, beta_scale = 2.0 : f64, output_norm_epsilon = 1.0e-5 : f64}
      : tensor<1x150x2x32xf32>, tensor<1x150x2x32xf32>, tensor<1x150x4x64xf32>, tensor<1x150x4xf32>, tensor<1x150x4xf32>
      -> tensor<1x150x4x64xf32>, tensor<5x4x32x64xf32>
  return %o, %s : tensor<1x150x4x64xf32>, tensor<5x4x32x64xf32>
}
