// The gated delta rule at the shapes of bench/bench_gdn.py: Olmo Hybrid's
// (30 heads, K=96, V=192) and the K=V=128 shape of the published kernels
// (16 heads). The inputs are those of fla's chunk_gated_delta_rule with
// use_qk_l2norm_in_kernel=True: bf16 q, k, v; f32 log decays, beta and
// states.

func.func @gdr_h30_k96_v192(%q: tensor<?x?x30x96xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x30x96xbf16>, %v: tensor<?x?x30x192xbf16>, %g: tensor<?x?x30xf32>, %beta: tensor<?x?x30xf32>, %h0: tensor<?x30x96x192xf32>)
    -> (tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x30x96xbf16> -> tensor<?x?x30x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<?x30x96x192xf32>)
      {scale = 0.10206207261596575 : f64}
      : tensor<?x?x30x96xf32>, tensor<?x?x30x96xf32>, tensor<?x?x30x192xbf16>, tensor<?x?x30xf32>, tensor<?x?x30xf32> -> tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
  return %o, %s : tensor<?x?x30x192xbf16>, tensor<?x30x96x192xf32>
}

func.func @gdr_h16_k128_v128(%q: tensor<?x?x16x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x16x128xbf16>, %v: tensor<?x?x16x128xbf16>, %g: tensor<?x?x16xf32>, %beta: tensor<?x?x16xf32>, %h0: tensor<?x16x128x128xf32>)
    -> (tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<?x?x16x128xbf16> -> tensor<?x?x16x128xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<?x?x16x128xbf16> -> tensor<?x?x16x128xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<?x16x128x128xf32>)
      {scale = 0.08838834764831845 : f64}
      : tensor<?x?x16x128xf32>, tensor<?x?x16x128xf32>, tensor<?x?x16x128xbf16>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>
  return %o, %s : tensor<?x?x16x128xbf16>, tensor<?x16x128x128xf32>
}

// Variable-length prefill: N sequences packed along the tokens of one batch
// row, offsets in cu_seqlens (fla's cu_seqlens), one state per sequence.
func.func @gdr_varlen_h30_k96_v192(%q: tensor<1x?x30x96xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<1x?x30x96xbf16>, %v: tensor<1x?x30x192xbf16>, %g: tensor<1x?x30xf32>, %beta: tensor<1x?x30xf32>,
    %h0: tensor<?x30x96x192xf32>, %cu: tensor<?xi32>)
    -> (tensor<1x?x30x192xbf16>, tensor<?x30x96x192xf32>) {
  %qn = hyla.l2_norm %q {epsilon = 1.0e-6 : f64} : tensor<1x?x30x96xbf16> -> tensor<1x?x30x96xf32>
  %kn = hyla.l2_norm %k {epsilon = 1.0e-6 : f64} : tensor<1x?x30x96xbf16> -> tensor<1x?x30x96xf32>
  %o, %s = hyla.gated_delta_rule %qn, %kn, %v, %g, %beta initial_state(%h0 : tensor<?x30x96x192xf32>)
      cu_seqlens(%cu : tensor<?xi32>) {scale = 0.10206207261596575 : f64}
      : tensor<1x?x30x96xf32>, tensor<1x?x30x96xf32>, tensor<1x?x30x192xbf16>, tensor<1x?x30xf32>, tensor<1x?x30xf32> -> tensor<1x?x30x192xbf16>, tensor<?x30x96x192xf32>
  return %o, %s : tensor<1x?x30x192xbf16>, tensor<?x30x96x192xf32>
}
