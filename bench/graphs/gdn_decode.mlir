// GDN decode at the shapes of bench/bench_gdn_decode.py. The recurrent state
// of every cached sequence lives in `cache` (f32 [slots, HV, K, V]) and is
// updated in place for the sequences of the batch, named by `slots`.
//
// decode_*: the bare delta rule (q, k L2-normalized inside the kernel, log
// decays g and beta given), as fla's fused_recurrent_gated_delta_rule with
// use_qk_l2norm_in_kernel=True.
// layer_decode_h30_k96_v192: Olmo Hybrid's GDN layer after its projections:
// short convs with per-slot input caches + SiLU, L2 norms, gates from the raw
// a/b projections, the delta rule, and the gated RMSNorm with the output gate.

func.func @decode_h30_k96_v192(%q: tensor<?x?x30x96xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x30x96xbf16>, %v: tensor<?x?x30x192xbf16>, %g: tensor<?x?x30xf32>, %beta: tensor<?x?x30xf32>,
    %cache: tensor<?x30x96x192xf32> {hyla.dim_names = ["slots"]}, %slots: tensor<?xi32>)
    -> (tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %beta, %cache[%slots] {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32>, tensor<?x30x96x192xf32>, tensor<?xi32>
      -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  return %o, %c : tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
}

func.func @decode_h16_k128_v128(%q: tensor<?x?x16x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x16x128xbf16>, %v: tensor<?x?x16x128xbf16>, %g: tensor<?x?x16xf32>, %beta: tensor<?x?x16xf32>,
    %cache: tensor<?x16x128x128xf32> {hyla.dim_names = ["slots"]}, %slots: tensor<?xi32>)
    -> (tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x16x128xbf16> -> tensor<?x?x16x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x16x128xbf16> -> tensor<?x?x16x128xf32>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v, %g, %beta, %cache[%slots] {scale = 0.08838834764831845 : f64}
      : tensor<?x?x16x128xf32>, tensor<?x?x16x128xf32>, tensor<?x?x16x128xbf16>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x16x128x128xf32>, tensor<?xi32>
      -> tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>
  return %o, %c : tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>
}

func.func @layer_decode_h30_k96_v192(%qp: tensor<?x?x2880xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %kp: tensor<?x?x2880xbf16>, %vp: tensor<?x?x5760xbf16>, %a: tensor<?x?x30xbf16>, %b: tensor<?x?x30xbf16>,
    %gate: tensor<?x?x5760xbf16>,
    %qcache: tensor<?x3x2880xbf16> {hyla.dim_names = ["slots"]}, %kcache: tensor<?x3x2880xbf16>,
    %vcache: tensor<?x3x5760xbf16>, %cache: tensor<?x30x96x192xf32>, %slots: tensor<?xi32>)
    -> (tensor<?x?x5760xbf16>, tensor<?x3x2880xbf16>, tensor<?x3x2880xbf16>, tensor<?x3x5760xbf16>, tensor<?x30x96x192xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batch = tensor.dim %qp, %c0 : tensor<?x?x2880xbf16>
  %tokens = tensor.dim %qp, %c1 : tensor<?x?x2880xbf16>
  %wq = hyla.weight "q_conv1d.weight" : tensor<2880x4xbf16>
  %wk = hyla.weight "k_conv1d.weight" : tensor<2880x4xbf16>
  %wv = hyla.weight "v_conv1d.weight" : tensor<5760x4xbf16>
  %q, %qc = hyla.causal_conv1d_cached %qp, %wq, %qcache[%slots] : tensor<?x?x2880xbf16>, tensor<2880x4xbf16>, tensor<?x3x2880xbf16>, tensor<?xi32> -> tensor<?x?x2880xbf16>, tensor<?x3x2880xbf16>
  %k, %kc = hyla.causal_conv1d_cached %kp, %wk, %kcache[%slots] : tensor<?x?x2880xbf16>, tensor<2880x4xbf16>, tensor<?x3x2880xbf16>, tensor<?xi32> -> tensor<?x?x2880xbf16>, tensor<?x3x2880xbf16>
  %v, %vc = hyla.causal_conv1d_cached %vp, %wv, %vcache[%slots] : tensor<?x?x5760xbf16>, tensor<5760x4xbf16>, tensor<?x3x5760xbf16>, tensor<?xi32> -> tensor<?x?x5760xbf16>, tensor<?x3x5760xbf16>
  %q4 = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [%batch, %tokens, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %k4 = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [%batch, %tokens, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %v4 = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [%batch, %tokens, 30, 192] : tensor<?x?x5760xbf16> into tensor<?x?x30x192xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %alog = hyla.weight "A_log" : tensor<30xbf16>
  %dtb = hyla.weight "dt_bias" : tensor<30xbf16>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64} : tensor<?x?x30xbf16>, tensor<?x?x30xbf16>, tensor<30xbf16>, tensor<30xbf16> -> tensor<?x?x30xf32>, tensor<?x?x30xf32>
  %o, %c = hyla.gated_delta_rule_cached %qn, %kn, %v4, %g, %beta, %cache[%slots] {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32>, tensor<?x30x96x192xf32>, tensor<?xi32>
      -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  %gate4 = tensor.expand_shape %gate [[0], [1], [2, 3]] output_shape [%batch, %tokens, 30, 192] : tensor<?x?x5760xbf16> into tensor<?x?x30x192xbf16>
  %wn = hyla.weight "o_norm.weight" : tensor<192xbf16>
  %y4 = hyla.gated_rms_norm %o, %gate4, %wn {epsilon = 1.0e-5 : f64} : tensor<?x?x30x192xbf16>, tensor<?x?x30x192xbf16>, tensor<192xbf16> -> tensor<?x?x30x192xbf16>
  %y = tensor.collapse_shape %y4 [[0], [1], [2, 3]] : tensor<?x?x30x192xbf16> into tensor<?x?x5760xbf16>
  return %y, %qc, %kc, %vc, %c : tensor<?x?x5760xbf16>, tensor<?x3x2880xbf16>, tensor<?x3x2880xbf16>, tensor<?x3x5760xbf16>, tensor<?x30x96x192xf32>
}
