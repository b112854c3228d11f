// Causal attention prefill and decode at issue 5's shapes, for
// bench/bench_attention.py. Batch, token and cache sizes are dynamic (bound
// from the inputs at call time); heads and head dims are static.

// Prefill, 32 heads (B8 T4096, B1 T16384) and Olmo Hybrid's 30 (B1 T8192),
// head dim 128, scale 128^-0.5.
func.func @attention_h32(%q: tensor<?x?x32x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x32x128xbf16>, %v: tensor<?x?x32x128xbf16>) -> tensor<?x?x32x128xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64, causal = true}
      : tensor<?x?x32x128xbf16>, tensor<?x?x32x128xbf16>, tensor<?x?x32x128xbf16> -> tensor<?x?x32x128xbf16>
  return %o : tensor<?x?x32x128xbf16>
}

func.func @attention_h30(%q: tensor<?x?x30x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x30x128xbf16>, %v: tensor<?x?x30x128xbf16>) -> tensor<?x?x30x128xbf16> {
  %o = hyla.attention %q, %k, %v {scale = 0.08838834764831845 : f64, causal = true}
      : tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16> -> tensor<?x?x30x128xbf16>
  return %o : tensor<?x?x30x128xbf16>
}

// Packed prefill: sequences of different lengths along the tokens of one
// batch row, offsets in cu_seqlens; Olmo Hybrid's 30 heads.
func.func @attention_varlen_h30(%q: tensor<1x?x30x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<1x?x30x128xbf16>, %v: tensor<1x?x30x128xbf16>, %cu: tensor<?xi32>) -> tensor<1x?x30x128xbf16> {
  %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<?xi32>) {scale = 0.08838834764831845 : f64, causal = true}
      : tensor<1x?x30x128xbf16>, tensor<1x?x30x128xbf16>, tensor<1x?x30x128xbf16> -> tensor<1x?x30x128xbf16>
  return %o : tensor<1x?x30x128xbf16>
}

// Decode: one new token a sequence appended to its slot of the KV cache
// (updated in place), attending over the slot's tokens. Olmo Hybrid's 30
// KV heads, and 32 query heads on 8 KV heads (GQA).
func.func @decode_h30(%q: tensor<?x?x30x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x30x128xbf16>, %v: tensor<?x?x30x128xbf16>,
    %kc: tensor<?x?x30x128xbf16> {hyla.dim_names = ["slots", "max_tokens"]}, %vc: tensor<?x?x30x128xbf16>,
    %slots: tensor<?xi32>, %lengths: tensor<?xi32>)
    -> (tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.08838834764831845 : f64}
      : tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?xi32>, tensor<?xi32>
      -> tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>
  return %o, %kc2, %vc2 : tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>, tensor<?x?x30x128xbf16>
}

func.func @decode_h32_kv8(%q: tensor<?x?x32x128xbf16> {hyla.dim_names = ["batch", "tokens"]},
    %k: tensor<?x?x8x128xbf16>, %v: tensor<?x?x8x128xbf16>,
    %kc: tensor<?x?x8x128xbf16> {hyla.dim_names = ["slots", "max_tokens"]}, %vc: tensor<?x?x8x128xbf16>,
    %slots: tensor<?xi32>, %lengths: tensor<?xi32>)
    -> (tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>) {
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %v, %kc, %vc[%slots] lengths %lengths {scale = 0.08838834764831845 : f64}
      : tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?xi32>, tensor<?xi32>
      -> tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>
  return %o, %kc2, %vc2 : tensor<?x?x32x128xbf16>, tensor<?x?x8x128xbf16>, tensor<?x?x8x128xbf16>
}
