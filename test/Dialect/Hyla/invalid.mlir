// RUN: hyla-opt %s -split-input-file -verify-diagnostics
// One case per hyla verifier message.

func.func @weight_name() {
  // expected-error @+1 {{weight name must not be empty}}
  %w = hyla.weight "" : tensor<4xbf16>
  return
}

// -----

func.func @positive_epsilon(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{whose value is positive}}
  %y = hyla.rms_norm %x, %w {epsilon = 0.0 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @embedding_table_rank(%t: tensor<4x8x2xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{table must have rank 2 ([vocab, hidden]) but has rank 3}}
  %e = hyla.embedding %t, %ids : tensor<4x8x2xbf16>, tensor<1x3xi32> -> tensor<1x3x8xbf16>
  return
}

// -----

func.func @embedding_result_rank(%t: tensor<4x8xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{result must have rank 3 (ids rank + 1) but has rank 2}}
  %e = hyla.embedding %t, %ids : tensor<4x8xbf16>, tensor<1x3xi32> -> tensor<3x8xbf16>
  return
}

// -----

func.func @embedding_tokens(%t: tensor<4x8xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{token shape mismatch: ids dim 1 is 3 but result dim 1 is 4}}
  %e = hyla.embedding %t, %ids : tensor<4x8xbf16>, tensor<1x3xi32> -> tensor<1x4x8xbf16>
  return
}

// -----

func.func @embedding_hidden(%t: tensor<4x8xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{hidden size mismatch: table dim 1 is 8 but result dim 2 is 16}}
  %e = hyla.embedding %t, %ids : tensor<4x8xbf16>, tensor<1x3xi32> -> tensor<1x3x16xbf16>
  return
}

// -----

func.func @embedding_dynamic_hidden(%t: tensor<4x?xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{table dim 1 (hidden size) must be static}}
  %e = hyla.embedding %t, %ids : tensor<4x?xbf16>, tensor<1x3xi32> -> tensor<1x3x8xbf16>
  return
}

// -----

func.func @embedding_type(%t: tensor<4x8xbf16>, %ids: tensor<1x3xi32>) {
  // expected-error @+1 {{result element type 'f32' must match table element type 'bf16'}}
  %e = hyla.embedding %t, %ids : tensor<4x8xbf16>, tensor<1x3xi32> -> tensor<1x3x8xf32>
  return
}

// -----

func.func @rms_rank0(%x: tensor<f32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<f32>, tensor<8xf32> -> tensor<f32>
  return
}

// -----

func.func @rms_dynamic(%x: tensor<2x?xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{input dim 1 (normalized size) must be static}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x?xf32>, tensor<8xf32> -> tensor<2x?xf32>
  return
}

// -----

func.func @rms_weight_rank(%x: tensor<2x8xf32>, %w: tensor<1x8xf32>) {
  // expected-error @+1 {{weight must have rank 1 ([normalized size]) but has rank 2}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x8xf32>, tensor<1x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @rms_weight_size(%x: tensor<2x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{normalized size mismatch: weight dim 0 is 4 but input dim 1 is 8}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x8xf32>, tensor<4xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @rms_result_rank(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{result must have the rank of input (2) but has rank 1}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<16xf32>
  return
}

// -----

func.func @rms_result_shape(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{shape mismatch: input dim 0 is 2 but result dim 0 is 3}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @rms_result_type(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{result element type 'bf16' must match input element type 'f32'}}
  %y = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xbf16>
  return
}

// -----

func.func @gated_norm_gate(%x: tensor<2x4x8xf32>, %g: tensor<2x4x9xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{shape mismatch: input dim 2 is 8 but gate dim 2 is 9}}
  %y = hyla.gated_rms_norm %x, %g, %w {epsilon = 1.0e-5 : f64} : tensor<2x4x8xf32>, tensor<2x4x9xf32>, tensor<8xf32> -> tensor<2x4x8xf32>
  return
}

// -----

func.func @l2_shape(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{shape mismatch: input dim 1 is 8 but result dim 1 is 4}}
  %y = hyla.l2_norm %x {epsilon = 1.0e-6 : f64} : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_k(%x: tensor<2x3x3840xbf16>, %w: tensor<2880x2880xbf16>) {
  // expected-error @+1 {{weight has 2880 in features (dim 1) but input's last dim is 3840}}
  %y = hyla.linear %x, %w : tensor<2x3x3840xbf16>, tensor<2880x2880xbf16> -> tensor<2x3x2880xbf16>
  return
}

// -----

func.func @linear_n(%x: tensor<2x3x64xbf16>, %w: tensor<32x64xbf16>) {
  // expected-error @+1 {{weight has 32 out features (dim 0) but result's last dim is 16}}
  %y = hyla.linear %x, %w : tensor<2x3x64xbf16>, tensor<32x64xbf16> -> tensor<2x3x16xbf16>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x3x64xbf16>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{weight must have rank 2 ([out features, in features]) but has rank 1}}
  %y = hyla.linear %x, %w : tensor<2x3x64xbf16>, tensor<64xbf16> -> tensor<2x3x16xbf16>
  return
}

// -----

func.func @linear_leading(%x: tensor<2x3x64xbf16>, %w: tensor<32x64xbf16>) {
  // expected-error @+1 {{leading shape mismatch: input dim 1 is 3 but result dim 1 is 5}}
  %y = hyla.linear %x, %w : tensor<2x3x64xbf16>, tensor<32x64xbf16> -> tensor<2x5x32xbf16>
  return
}

// -----

func.func @linear_types(%x: tensor<2x3x64xbf16>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{input, weight and result must share one element type, got 'bf16', 'f32', 'bf16'}}
  %y = hyla.linear %x, %w : tensor<2x3x64xbf16>, tensor<32x64xf32> -> tensor<2x3x32xbf16>
  return
}

// -----

func.func @conv_rank(%x: tensor<3x64xbf16>, %w: tensor<64x4xbf16>) {
  // expected-error @+1 {{input must have rank 3 ([batch, tokens, channels]) but has rank 2}}
  %y = hyla.causal_conv1d %x, %w : tensor<3x64xbf16>, tensor<64x4xbf16> -> tensor<3x64xbf16>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x64xbf16>, %w: tensor<32x4xbf16>) {
  // expected-error @+1 {{channel count mismatch: weight dim 0 is 32 but input dim 2 is 64}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x64xbf16>, tensor<32x4xbf16> -> tensor<1x3x64xbf16>
  return
}

// -----

func.func @conv_width(%x: tensor<1x3x64xbf16>, %w: tensor<64x0xbf16>) {
  // expected-error @+1 {{kernel size (weight dim 1) must be at least 1}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x64xbf16>, tensor<64x0xbf16> -> tensor<1x3x64xbf16>
  return
}

// -----

func.func @conv_activation(%x: tensor<1x3x64xbf16>, %w: tensor<64x4xbf16>) {
  // expected-error @+1 {{activation must be "none" or "silu" but is "gelu"}}
  %y = hyla.causal_conv1d %x, %w {activation = "gelu"} : tensor<1x3x64xbf16>, tensor<64x4xbf16> -> tensor<1x3x64xbf16>
  return
}

// -----

func.func @gates_heads(%a: tensor<1x3x4xbf16>, %p: tensor<5xbf16>) {
  // expected-error @+1 {{head count mismatch: a_log dim 0 is 5 but a dim 2 is 4}}
  %g, %b = hyla.gdn_gates %a, %a, %p, %p {beta_scale = 1.0 : f64} : tensor<1x3x4xbf16>, tensor<1x3x4xbf16>, tensor<5xbf16>, tensor<5xbf16> -> tensor<1x3x4xf32>, tensor<1x3x4xf32>
  return
}

// -----

func.func @gates_b(%a: tensor<1x3x4xbf16>, %b: tensor<1x2x4xbf16>, %p: tensor<4xbf16>) {
  // expected-error @+1 {{shape mismatch: a dim 1 is 3 but b dim 1 is 2}}
  %g, %bt = hyla.gdn_gates %a, %b, %p, %p {beta_scale = 1.0 : f64} : tensor<1x3x4xbf16>, tensor<1x2x4xbf16>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x3x4xf32>, tensor<1x3x4xf32>
  return
}

// -----

func.func @gdr_value_heads(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x6x32xbf16>, %g: tensor<1x8x6xf32>) {
  // expected-error @+1 {{value heads (6) must be a multiple of query/key heads (4)}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x6x32xbf16>, tensor<1x8x6xf32>, tensor<1x8x6xf32> -> tensor<1x8x6x32xbf16>, tensor<1x6x16x32xf32>
  return
}

// -----

func.func @gdr_tokens(%q: tensor<1x8x4x16xf32>, %v: tensor<1x7x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{token count mismatch: q dim 1 is 8 but v dim 1 is 7}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x7x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x7x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_gate_heads(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x2xf32>) {
  // expected-error @+1 {{value heads mismatch: v dim 2 is 4 but g dim 2 is 2}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x2xf32>, tensor<1x8x2xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_state(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %h: tensor<1x4x32x32xf32>) {
  // expected-error @+1 {{key dim mismatch: q dim 3 is 16 but initial_state dim 2 is 32}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g initial_state(%h : tensor<1x4x32x32xf32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_final_state(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{value dim mismatch: v dim 3 is 32 but final_state dim 3 is 16}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x16xf32>
  return
}

// -----

func.func @gdr_conv_width(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %w: tensor<64x4xf32>, %wv: tensor<64x4xf32>) {
  // expected-error @+1 {{v conv weight must be [value heads * value dim, width] = [128, W >= 1] but is 'tensor<64x4xf32>'}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g conv(%w, %w, %wv : tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_gates_scale(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{gates need a_log, dt_bias and beta_scale together}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g gates(%p, %p : tensor<4xf32>, tensor<4xf32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_gates_heads(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xbf16>, %p: tensor<2xf32>) {
  // expected-error @+1 {{a_log must be [value heads] = [4] but is 'tensor<2xf32>'}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g gates(%p, %p : tensor<2xf32>, tensor<2xf32>) {scale = 0.25 : f64, beta_scale = 2.0 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xbf16>, tensor<1x8x4xbf16> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_raw_gates(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xbf16>) {
  // expected-error @+1 {{g must be f32 (only raw gates, with gates(a_log, dt_bias), may be another type)}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xbf16>, tensor<1x8x4xbf16> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_output_norm_eps(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{output_norm needs gate, weight and output_norm_epsilon together}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g output_norm(%v, %w : tensor<1x8x4x32xbf16>, tensor<32xf32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_output_norm_weight(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %w: tensor<16xf32>) {
  // expected-error @+1 {{output norm weight must be [value dim] = [32] but is 'tensor<16xf32>'}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g output_norm(%v, %w : tensor<1x8x4x32xbf16>, tensor<16xf32>) {scale = 0.25 : f64, output_norm_epsilon = 1.0e-6 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_output_gate_shape(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %w: tensor<32xf32>, %gate: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{shape mismatch: v dim 3 is 32 but output gate dim 3 is 16}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g output_norm(%gate, %w : tensor<1x8x4x16xbf16>, tensor<32xf32>) {scale = 0.25 : f64, output_norm_epsilon = 1.0e-6 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_k_type(%q: tensor<1x8x4x16xf32>, %k: tensor<1x8x4x16xbf16>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{k element type 'bf16' must match q element type 'f32'}}
  %o, %s = hyla.gated_delta_rule %q, %k, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xbf16>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @rope_odd(%x: tensor<1x8x4x15xbf16>) {
  // expected-error @+1 {{head dim must be even but is 15}}
  %y = hyla.rope %x {theta = 10000.0 : f64} : tensor<1x8x4x15xbf16> -> tensor<1x8x4x15xbf16>
  return
}

// -----

func.func @attention_gqa(%q: tensor<1x8x6x16xbf16>, %k: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{query heads (6) must be a multiple of kv heads (4)}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x6x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x6x16xbf16>
  return
}

// -----

func.func @attention_causal_tokens(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x9x4x16xbf16>) {
  // expected-error @+1 {{causal attention token count mismatch: q dim 1 is 8 but k dim 1 is 9}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x9x4x16xbf16>, tensor<1x9x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x8x4x32xbf16>) {
  // expected-error @+1 {{head dim mismatch: q dim 3 is 16 but k dim 3 is 32}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x32xbf16>, tensor<1x8x4x32xbf16> -> tensor<1x8x4x32xbf16>
  return
}

// -----

func.func @attention_dynamic_heads(%q: tensor<1x8x?x16xbf16>, %k: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{q dim 2 (heads) must be static}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x?x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_types(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x8x4x16xf16>) {
  // expected-error @+1 {{q, k and v must share one element type, got 'bf16', 'f16', 'f16'}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xf16>, tensor<1x8x4x16xf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @dispatch_grid(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{grid must have 3 sizes but has 2}}
  %y = hyla.dispatch @k[%c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @dispatch_dims(%x: tensor<?xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{results have 1 dynamic dims but 0 sizes are given}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) : (tensor<?xf32>{%c1}) -> (tensor<?xf32>)
  return
}
func.func @k(%a: memref<?xf32>, %b: memref<?xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @dispatch_missing(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{kernel @nope is not a func.func in this module}}
  %y = hyla.dispatch @nope[%c1, %c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}

// -----

func.func @dispatch_not_kernel(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{kernel @plain is not marked hyla_tile.kernel}}
  %y = hyla.dispatch @plain[%c1, %c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @plain(%a: memref<4xf32>, %b: memref<4xf32>) {
  return
}

// -----

func.func @dispatch_arity(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{kernel @k must take 2 memrefs (inputs, then results) and return nothing}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @dispatch_arg_type(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{kernel argument 1 has type 'memref<8xf32>' but the dispatch passes 'tensor<4xf32>'}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<8xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @tied_count(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{tied_results must have one entry per result (1) but has 2}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) {tied_results = array<i64: 0, -1>} : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @tied_range(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{result 0 is tied to input 1 but there are 1 inputs}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) {tied_results = array<i64: 1>} : (tensor<4xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @tied_twice(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{input 0 is tied to two results}}
  %y:2 = hyla.dispatch @k[%c1, %c1, %c1](%x) {tied_results = array<i64: 0, 0>} : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @tied_type(%x: tensor<4xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{result 0 of type 'tensor<4xbf16>' cannot update input 0 of type 'tensor<4xf32>' in place}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) {tied_results = array<i64: 0>} : (tensor<4xf32>) -> (tensor<4xbf16>)
  return
}
func.func @k(%a: memref<4xf32>, %b: memref<4xbf16>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @gdr_cached_gva(%q: tensor<2x1x4x32xf32>, %v: tensor<2x1x6x64xf32>, %g: tensor<2x1x6xf32>, %c: tensor<8x6x32x64xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{value heads (6) must be a multiple of query/key heads (4)}}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 1.0 : f64} : tensor<2x1x4x32xf32>, tensor<2x1x4x32xf32>, tensor<2x1x6x64xf32>, tensor<2x1x6xf32>, tensor<2x1x6xf32>, tensor<8x6x32x64xf32>, tensor<2xi32> -> tensor<2x1x6x64xf32>, tensor<8x6x32x64xf32>
  return
}

// -----

func.func @gdr_cached_new_cache(%q: tensor<2x1x2x32xf32>, %v: tensor<2x1x2x64xf32>, %g: tensor<2x1x2xf32>, %c: tensor<?x2x32x64xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{new_cache type 'tensor<8x2x32x64xf32>' must equal cache type 'tensor<?x2x32x64xf32>'}}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 1.0 : f64} : tensor<2x1x2x32xf32>, tensor<2x1x2x32xf32>, tensor<2x1x2x64xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32>, tensor<?x2x32x64xf32>, tensor<2xi32> -> tensor<2x1x2x64xf32>, tensor<8x2x32x64xf32>
  return
}

// -----

func.func @conv_cached_width(%x: tensor<2x1x8xbf16>, %w: tensor<8x1xbf16>, %c: tensor<4x0x8xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{a cached conv needs kernel size (weight dim 1) >= 2}}
  %y, %n = hyla.causal_conv1d_cached %x, %w, %c[%s] : tensor<2x1x8xbf16>, tensor<8x1xbf16>, tensor<4x0x8xbf16>, tensor<2xi32> -> tensor<2x1x8xbf16>, tensor<4x0x8xbf16>
  return
}

// -----

func.func @conv_cached_activation(%x: tensor<2x1x8xbf16>, %w: tensor<8x4xbf16>, %c: tensor<4x3x8xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{activation must be "none" or "silu" but is "relu"}}
  %y, %n = hyla.causal_conv1d_cached %x, %w, %c[%s] {activation = "relu"} : tensor<2x1x8xbf16>, tensor<8x4xbf16>, tensor<4x3x8xbf16>, tensor<2xi32> -> tensor<2x1x8xbf16>, tensor<4x3x8xbf16>
  return
}

// -----

func.func @conv_cached_rows(%x: tensor<2x1x8xbf16>, %w: tensor<8x4xbf16>, %c: tensor<4x4x8xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{cache dim 1 must hold kernel size - 1 = 3 inputs but is 4}}
  %y, %n = hyla.causal_conv1d_cached %x, %w, %c[%s] : tensor<2x1x8xbf16>, tensor<8x4xbf16>, tensor<4x4x8xbf16>, tensor<2xi32> -> tensor<2x1x8xbf16>, tensor<4x4x8xbf16>
  return
}

// -----

func.func @conv_cached_type(%x: tensor<2x1x8xbf16>, %w: tensor<8x4xbf16>, %c: tensor<4x3x8xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{cache element type 'f32' must match input element type 'bf16'}}
  %y, %n = hyla.causal_conv1d_cached %x, %w, %c[%s] : tensor<2x1x8xbf16>, tensor<8x4xbf16>, tensor<4x3x8xf32>, tensor<2xi32> -> tensor<2x1x8xbf16>, tensor<4x3x8xf32>
  return
}

// -----

func.func @gdr_varlen_batch(%q: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x32xbf16>, %g: tensor<2x8x4xf32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{with cu_seqlens the batch dim must be 1 (the sequences are packed along tokens), got 2}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g cu_seqlens(%cu : tensor<3xi32>) {scale = 0.25 : f64} : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x32xbf16>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x8x4x32xbf16>, tensor<2x4x16x32xf32>
  return
}

// -----

func.func @gdr_varlen_states(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{final_state has 2 sequences but cu_seqlens names 3}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g cu_seqlens(%cu : tensor<4xi32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<2x4x16x32xf32>
  return
}

// -----

func.func @gdr_varlen_rank(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %cu: tensor<2x2xi32>) {
  // expected-error @+1 {{cu_seqlens must have rank 1}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g cu_seqlens(%cu : tensor<2x2xi32>) {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @rope_offsets_and_packed(%x: tensor<1x8x2x16xf32>, %o: tensor<1xi32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{takes offsets (a batch of continued sequences) or cu_seqlens (packed sequences), not both}}
  %y = hyla.rope %x offsets(%o : tensor<1xi32>) cu_seqlens(%cu : tensor<3xi32>) {theta = 10000.0 : f64} : tensor<1x8x2x16xf32> -> tensor<1x8x2x16xf32>
  return
}

// -----

func.func @conv_packed_batch(%x: tensor<2x8x16xf32>, %w: tensor<16x4xf32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{with cu_seqlens the batch dim must be 1 (the sequences are packed along tokens), got 2}}
  %y = hyla.causal_conv1d %x, %w cu_seqlens(%cu : tensor<3xi32>) : tensor<2x8x16xf32>, tensor<16x4xf32> -> tensor<2x8x16xf32>
  return
}

// -----

func.func @tail_sequences(%x: tensor<1x8x16xf32>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{result has 2 sequences but cu_seqlens names 3}}
  %y = hyla.sequence_tail %x cu_seqlens(%cu : tensor<4xi32>) {count = 3} : tensor<1x8x16xf32> -> tensor<2x3x16xf32>
  return
}

// -----

func.func @tail_count(%x: tensor<1x8x16xf32>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{result dim 1 must be count = 3 but is 2}}
  %y = hyla.sequence_tail %x cu_seqlens(%cu : tensor<4xi32>) {count = 3} : tensor<1x8x16xf32> -> tensor<3x2x16xf32>
  return
}

// -----

func.func @tail_zero(%x: tensor<1x8x16xf32>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{attribute 'count' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %y = hyla.sequence_tail %x cu_seqlens(%cu : tensor<4xi32>) {count = 0} : tensor<1x8x16xf32> -> tensor<3x0x16xf32>
  return
}

// -----

func.func @write_slots_entry(%c: tensor<4x3x16xf32>, %s: tensor<2xi32>, %v: tensor<2x3x8xf32>) {
  // expected-error @+1 {{entry shape mismatch: values dim 2 is 8 but cache dim 2 is 16}}
  %n = hyla.write_slots %c[%s], %v : tensor<4x3x16xf32>, tensor<2xi32>, tensor<2x3x8xf32> -> tensor<4x3x16xf32>
  return
}

// -----

func.func @write_slots_count(%c: tensor<4x3x16xf32>, %s: tensor<3xi32>, %v: tensor<2x3x16xf32>) {
  // expected-error @+1 {{slots names 3 sequences but values has 2}}
  %n = hyla.write_slots %c[%s], %v : tensor<4x3x16xf32>, tensor<3xi32>, tensor<2x3x16xf32> -> tensor<4x3x16xf32>
  return
}

// -----

func.func @write_slots_type(%c: tensor<4x3x16xf32>, %s: tensor<2xi32>, %v: tensor<2x3x16xbf16>) {
  // expected-error @+1 {{values element type 'bf16' must match cache element type 'f32'}}
  %n = hyla.write_slots %c[%s], %v : tensor<4x3x16xf32>, tensor<2xi32>, tensor<2x3x16xbf16> -> tensor<4x3x16xf32>
  return
}

// -----

func.func @write_sequences_token(%c: tensor<4x32x2x16xf32>, %s: tensor<2xi32>, %x: tensor<1x8x2x8xf32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{token shape mismatch: input dim 3 is 8 but cache dim 3 is 16}}
  %n = hyla.write_sequences %c[%s], %x cu_seqlens(%cu : tensor<3xi32>) : tensor<4x32x2x16xf32>, tensor<2xi32>, tensor<1x8x2x8xf32> -> tensor<4x32x2x16xf32>
  return
}

// -----

func.func @write_sequences_slots(%c: tensor<4x32x16xf32>, %s: tensor<3xi32>, %x: tensor<1x8x16xf32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{slots names 3 sequences but cu_seqlens has 2}}
  %n = hyla.write_sequences %c[%s], %x cu_seqlens(%cu : tensor<3xi32>) : tensor<4x32x16xf32>, tensor<3xi32>, tensor<1x8x16xf32> -> tensor<4x32x16xf32>
  return
}

// -----

func.func @write_sequences_new_cache(%c: tensor<4x32x16xf32>, %s: tensor<2xi32>, %x: tensor<1x8x16xf32>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{new_cache type 'tensor<4x16x16xf32>' must equal cache type 'tensor<4x32x16xf32>'}}
  %n = hyla.write_sequences %c[%s], %x cu_seqlens(%cu : tensor<3xi32>) : tensor<4x32x16xf32>, tensor<2xi32>, tensor<1x8x16xf32> -> tensor<4x16x16xf32>
  return
}
