// Olmo Hybrid 7B's GDN core, attention and one projection, as hyla graphs for bench/check_gdn_attention.py.
// Batch and token counts are dynamic (bound from the inputs at call time).

// The GDN layer core after the projections: short conv + SiLU on q, k, v;
// per-head L2 norm of q and k (f32); decay and beta gates from the raw a/b
// projections; the gated delta rule with an f32 state.
func.func @gdn_core(%q: tensor<?x?x2880xbf16> {hyla.dim_names = ["batch", "tokens"]},
                    %k: tensor<?x?x2880xbf16>, %v: tensor<?x?x5760xbf16>,
                    %a: tensor<?x?x30xbf16>, %b: tensor<?x?x30xbf16>)
    -> (tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %B = tensor.dim %q, %c0 : tensor<?x?x2880xbf16>
  %T = tensor.dim %q, %c1 : tensor<?x?x2880xbf16>
  %wq3 = hyla.weight "q_conv1d.weight" : tensor<2880x1x4xbf16>
  %wk3 = hyla.weight "k_conv1d.weight" : tensor<2880x1x4xbf16>
  %wv3 = hyla.weight "v_conv1d.weight" : tensor<5760x1x4xbf16>
  %wq = tensor.collapse_shape %wq3 [[0], [1, 2]] : tensor<2880x1x4xbf16> into tensor<2880x4xbf16>
  %wk = tensor.collapse_shape %wk3 [[0], [1, 2]] : tensor<2880x1x4xbf16> into tensor<2880x4xbf16>
  %wv = tensor.collapse_shape %wv3 [[0], [1, 2]] : tensor<5760x1x4xbf16> into tensor<5760x4xbf16>
  %qc = hyla.causal_conv1d %q, %wq : tensor<?x?x2880xbf16>, tensor<2880x4xbf16> -> tensor<?x?x2880xbf16>
  %kc = hyla.causal_conv1d %k, %wk : tensor<?x?x2880xbf16>, tensor<2880x4xbf16> -> tensor<?x?x2880xbf16>
  %vc = hyla.causal_conv1d %v, %wv : tensor<?x?x5760xbf16>, tensor<5760x4xbf16> -> tensor<?x?x5760xbf16>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 192] : tensor<?x?x5760xbf16> into tensor<?x?x30x192xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %alog = hyla.weight "A_log" : tensor<30xbf16>
  %dtb = hyla.weight "dt_bias" : tensor<30xbf16>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64}
      : tensor<?x?x30xbf16>, tensor<?x?x30xbf16>, tensor<30xbf16>, tensor<30xbf16> -> tensor<?x?x30xf32>, tensor<?x?x30xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v4, %g, %beta {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32>
      -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  return %o, %s : tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
}

// gdn_core followed by the layer's gated RMSNorm with the output gate (the
// g_proj projection): everything between the projections and o_proj.
func.func @gdn_layer_core(%q: tensor<?x?x2880xbf16> {hyla.dim_names = ["batch", "tokens"]},
                          %k: tensor<?x?x2880xbf16>, %v: tensor<?x?x5760xbf16>,
                          %a: tensor<?x?x30xbf16>, %b: tensor<?x?x30xbf16>,
                          %gate: tensor<?x?x5760xbf16>)
    -> (tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %B = tensor.dim %q, %c0 : tensor<?x?x2880xbf16>
  %T = tensor.dim %q, %c1 : tensor<?x?x2880xbf16>
  %wq3 = hyla.weight "q_conv1d.weight" : tensor<2880x1x4xbf16>
  %wk3 = hyla.weight "k_conv1d.weight" : tensor<2880x1x4xbf16>
  %wv3 = hyla.weight "v_conv1d.weight" : tensor<5760x1x4xbf16>
  %wq = tensor.collapse_shape %wq3 [[0], [1, 2]] : tensor<2880x1x4xbf16> into tensor<2880x4xbf16>
  %wk = tensor.collapse_shape %wk3 [[0], [1, 2]] : tensor<2880x1x4xbf16> into tensor<2880x4xbf16>
  %wv = tensor.collapse_shape %wv3 [[0], [1, 2]] : tensor<5760x1x4xbf16> into tensor<5760x4xbf16>
  %qc = hyla.causal_conv1d %q, %wq : tensor<?x?x2880xbf16>, tensor<2880x4xbf16> -> tensor<?x?x2880xbf16>
  %kc = hyla.causal_conv1d %k, %wk : tensor<?x?x2880xbf16>, tensor<2880x4xbf16> -> tensor<?x?x2880xbf16>
  %vc = hyla.causal_conv1d %v, %wv : tensor<?x?x5760xbf16>, tensor<5760x4xbf16> -> tensor<?x?x5760xbf16>
  %q4 = tensor.expand_shape %qc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %k4 = tensor.expand_shape %kc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 96] : tensor<?x?x2880xbf16> into tensor<?x?x30x96xbf16>
  %v4 = tensor.expand_shape %vc [[0], [1], [2, 3]] output_shape [%B, %T, 30, 192] : tensor<?x?x5760xbf16> into tensor<?x?x30x192xbf16>
  %qn = hyla.l2_norm %q4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k4 {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %alog = hyla.weight "A_log" : tensor<30xbf16>
  %dtb = hyla.weight "dt_bias" : tensor<30xbf16>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 2.0 : f64}
      : tensor<?x?x30xbf16>, tensor<?x?x30xbf16>, tensor<30xbf16>, tensor<30xbf16> -> tensor<?x?x30xf32>, tensor<?x?x30xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v4, %g, %beta {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32>
      -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  %gate4 = tensor.expand_shape %gate [[0], [1], [2, 3]] output_shape [%B, %T, 30, 192] : tensor<?x?x5760xbf16> into tensor<?x?x30x192xbf16>
  %wo = hyla.weight "o_norm.weight" : tensor<192xbf16>
  %y = hyla.gated_rms_norm %o, %gate4, %wo {epsilon = 1.0e-6 : f64}
      : tensor<?x?x30x192xbf16>, tensor<?x?x30x192xbf16>, tensor<192xbf16> -> tensor<?x?x30x192xbf16>
  return %y, %s : tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
}

// The bare delta rule on the inputs fla's chunk_gated_delta_rule takes
// (use_qk_l2norm_in_kernel=True): the same numbers reach both.
func.func @gated_delta_rule(%q: tensor<?x?x30x96xbf16> {hyla.dim_names = ["batch", "tokens"]},
                            %k: tensor<?x?x30x96xbf16>, %v: tensor<?x?x30x192xbf16>,
                            %g: tensor<?x?x30xf32>, %beta: tensor<?x?x30xf32>,
                            %h0: tensor<?x30x96x192xf32>)
    -> (tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<?x30x96x192xf32>)
      {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32>
      -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  return %o, %s : tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
}

// Causal attention, head dim 128 (Olmo: 30 heads, no GQA).
func.func @attention(%q: tensor<?x?x30x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
                     %k: tensor<?x?x30x128xbf16>, %v: tensor<?x?x30x128xbf16>)
    -> tensor<?x?x30x128xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64, causal = true}
      : tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16> -> tensor<?x?x30x128xbf16>
  return %o : tensor<?x?x30x128xbf16>
}

// One of Olmo Hybrid 7B's projections (hidden 3840 -> MLP 11008), checked
// against float64 and timed beside torch.matmul (cuBLAS).
func.func @linear(%x: tensor<?x?x3840xbf16> {hyla.dim_names = ["batch", "tokens"]},
                  %w: tensor<11008x3840xbf16>) -> tensor<?x?x11008xbf16> {
  %y = hyla.linear %x, %w : tensor<?x?x3840xbf16>, tensor<11008x3840xbf16> -> tensor<?x?x11008xbf16>
  return %y : tensor<?x?x11008xbf16>
}
