// RUN: hyla-opt %s -split-input-file -verify-diagnostics
// The remaining verifier messages: ranks, static dims, and dims that must
// agree, op by op (invalid.mlir has the rest).

func.func @l2_rank0(%x: tensor<f32>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = hyla.l2_norm %x {epsilon = 1.0e-6 : f64} : tensor<f32> -> tensor<f32>
  return
}

// -----

func.func @l2_dynamic(%x: tensor<2x?xf32>) {
  // expected-error @+1 {{input dim 1 (normalized size) must be static}}
  %y = hyla.l2_norm %x {epsilon = 1.0e-6 : f64} : tensor<2x?xf32> -> tensor<2x?xf32>
  return
}

// -----

func.func @gated_norm_weight(%x: tensor<2x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{normalized size mismatch: weight dim 0 is 4 but input dim 1 is 8}}
  %y = hyla.gated_rms_norm %x, %x, %w {epsilon = 1.0e-5 : f64} : tensor<2x8xf32>, tensor<2x8xf32>, tensor<4xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @gated_norm_result(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{result element type 'bf16' must match input element type 'f32'}}
  %y = hyla.gated_rms_norm %x, %x, %w {epsilon = 1.0e-5 : f64} : tensor<2x8xf32>, tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xbf16>
  return
}

// -----

func.func @linear_rank0(%x: tensor<f32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{input must have rank >= 1}}
  %y = hyla.linear %x, %w : tensor<f32>, tensor<4x4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @linear_dynamic_k(%x: tensor<2x?xf32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{input dim 1 (in features) must be static}}
  %y = hyla.linear %x, %w : tensor<2x?xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_result_rank(%x: tensor<2x4xf32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{result must have the rank of input (2) but has rank 3}}
  %y = hyla.linear %x, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<1x2x4xf32>
  return
}

// -----

func.func @conv_weight_rank(%x: tensor<1x3x64xbf16>, %w: tensor<64xbf16>) {
  // expected-error @+1 {{weight must have rank 2 ([channels, kernel size]) but has rank 1}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x64xbf16>, tensor<64xbf16> -> tensor<1x3x64xbf16>
  return
}

// -----

func.func @conv_dynamic_channels(%x: tensor<1x3x?xbf16>, %w: tensor<64x4xbf16>) {
  // expected-error @+1 {{input dim 2 (channels) must be static}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x?xbf16>, tensor<64x4xbf16> -> tensor<1x3x?xbf16>
  return
}

// -----

func.func @conv_dynamic_width(%x: tensor<1x3x64xbf16>, %w: tensor<64x?xbf16>) {
  // expected-error @+1 {{weight dim 1 (kernel size) must be static}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x64xbf16>, tensor<64x?xbf16> -> tensor<1x3x64xbf16>
  return
}

// -----

func.func @conv_result(%x: tensor<1x3x64xbf16>, %w: tensor<64x4xbf16>) {
  // expected-error @+1 {{shape mismatch: input dim 1 is 3 but result dim 1 is 4}}
  %y = hyla.causal_conv1d %x, %w : tensor<1x3x64xbf16>, tensor<64x4xbf16> -> tensor<1x4x64xbf16>
  return
}

// -----

func.func @gates_rank(%a: tensor<3x4xbf16>, %p: tensor<4xbf16>) {
  // expected-error @+1 {{a must have rank 3 ([batch, tokens, heads]) but has rank 2}}
  %g, %b = hyla.gdn_gates %a, %a, %p, %p {beta_scale = 1.0 : f64} : tensor<3x4xbf16>, tensor<3x4xbf16>, tensor<4xbf16>, tensor<4xbf16> -> tensor<3x4xf32>, tensor<3x4xf32>
  return
}

// -----

func.func @gates_dynamic_heads(%a: tensor<1x3x?xbf16>, %p: tensor<4xbf16>) {
  // expected-error @+1 {{a dim 2 (heads) must be static}}
  %g, %b = hyla.gdn_gates %a, %a, %p, %p {beta_scale = 1.0 : f64} : tensor<1x3x?xbf16>, tensor<1x3x?xbf16>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x3x?xf32>, tensor<1x3x?xf32>
  return
}

// -----

func.func @gates_param_rank(%a: tensor<1x3x4xbf16>, %p: tensor<4xbf16>, %q: tensor<1x4xbf16>) {
  // expected-error @+1 {{dt_bias must have rank 1 ([heads]) but has rank 2}}
  %g, %b = hyla.gdn_gates %a, %a, %p, %q {beta_scale = 1.0 : f64} : tensor<1x3x4xbf16>, tensor<1x3x4xbf16>, tensor<4xbf16>, tensor<1x4xbf16> -> tensor<1x3x4xf32>, tensor<1x3x4xf32>
  return
}

// -----

func.func @gates_results(%a: tensor<1x3x4xbf16>, %p: tensor<4xbf16>) {
  // expected-error @+1 {{shape mismatch: a dim 1 is 3 but beta dim 1 is 5}}
  %g, %b = hyla.gdn_gates %a, %a, %p, %p {beta_scale = 1.0 : f64} : tensor<1x3x4xbf16>, tensor<1x3x4xbf16>, tensor<4xbf16>, tensor<4xbf16> -> tensor<1x3x4xf32>, tensor<1x5x4xf32>
  return
}

// -----

func.func @gdr_q_rank(%q: tensor<8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{q must have rank 4 ([batch, tokens, heads, key dim]) but has rank 3}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<8x4x16xf32>, tensor<8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_v_rank(%q: tensor<1x8x4x16xf32>, %v: tensor<8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{v must have rank 4 ([batch, tokens, value heads, value dim]) but has rank 3}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_g_rank(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<8x4xf32>, %b: tensor<1x8x4xf32>) {
  // expected-error @+1 {{g must have rank 3 ([batch, tokens, value heads]) but has rank 2}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %b {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_beta_rank(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+1 {{beta must have rank 3 ([batch, tokens, value heads]) but has rank 2}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %b {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_k_shape(%q: tensor<1x8x4x16xf32>, %k: tensor<1x8x4x32xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{shape mismatch: q dim 3 is 16 but k dim 3 is 32}}
  %o, %s = hyla.gated_delta_rule %q, %k, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x32xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_dynamic_heads(%q: tensor<1x8x?x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{q dim 2 (heads) must be static}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x?x16xf32>, tensor<1x8x?x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_dynamic_value_dim(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x?xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{v dim 3 (value dim) must be static}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x?xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x?xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_batch(%q: tensor<2x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{batch mismatch: q dim 0 is 2 but v dim 0 is 1}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_gate_tokens(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x7x4xf32>) {
  // expected-error @+1 {{leading shape mismatch: v dim 1 is 8 but g dim 1 is 7}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x7x4xf32>, tensor<1x7x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_output(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{o element type 'f32' must match v element type 'bf16'}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xf32>, tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gdr_state_rank(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{final_state must have rank 4 ([batch, value heads, key dim, value dim]) but has rank 3}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<4x16x32xf32>
  return
}

// -----

func.func @gdr_state_heads(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{value heads mismatch: v dim 2 is 4 but final_state dim 1 is 2}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<1x2x16x32xf32>
  return
}

// -----

func.func @gdr_state_batch(%q: tensor<1x8x4x16xf32>, %v: tensor<1x8x4x32xbf16>, %g: tensor<1x8x4xf32>) {
  // expected-error @+1 {{batch mismatch: v dim 0 is 1 but final_state dim 0 is 3}}
  %o, %s = hyla.gated_delta_rule %q, %q, %v, %g, %g {scale = 0.25 : f64} : tensor<1x8x4x16xf32>, tensor<1x8x4x16xf32>, tensor<1x8x4x32xbf16>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<1x8x4x32xbf16>, tensor<3x4x16x32xf32>
  return
}

// -----

func.func @rope_rank(%x: tensor<8x4x16xbf16>) {
  // expected-error @+1 {{input must have rank 4 ([batch, tokens, heads, head dim]) but has rank 3}}
  %y = hyla.rope %x {theta = 10000.0 : f64} : tensor<8x4x16xbf16> -> tensor<8x4x16xbf16>
  return
}

// -----

func.func @rope_dynamic(%x: tensor<1x8x4x?xbf16>) {
  // expected-error @+1 {{input dim 3 (head dim) must be static}}
  %y = hyla.rope %x {theta = 10000.0 : f64} : tensor<1x8x4x?xbf16> -> tensor<1x8x4x?xbf16>
  return
}

// -----

func.func @rope_offsets_rank(%x: tensor<2x8x4x16xbf16>, %o: tensor<2x1xi32>) {
  // expected-error @+1 {{offsets must have rank 1 ([batch]) but has rank 2}}
  %y = hyla.rope %x offsets(%o : tensor<2x1xi32>) {theta = 10000.0 : f64} : tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xbf16>
  return
}

// -----

func.func @rope_offsets_batch(%x: tensor<2x8x4x16xbf16>, %o: tensor<3xi32>) {
  // expected-error @+1 {{batch mismatch: offsets dim 0 is 3 but input dim 0 is 2}}
  %y = hyla.rope %x offsets(%o : tensor<3xi32>) {theta = 10000.0 : f64} : tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xbf16>
  return
}

// -----

func.func @rope_result(%x: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{result element type 'f32' must match input element type 'bf16'}}
  %y = hyla.rope %x {theta = 10000.0 : f64} : tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<8x4x16xbf16>, %k: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{q must have rank 4 ([batch, tokens, heads, head dim]) but has rank 3}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_dynamic_dim(%q: tensor<1x8x4x?xbf16>, %k: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{q dim 3 (head dim) must be static}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<1x8x4x?xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_batch(%q: tensor<2x8x4x16xbf16>, %k: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{batch mismatch: q dim 0 is 2 but k dim 0 is 1}}
  %o = hyla.attention %q, %k, %k {scale = 0.25 : f64} : tensor<2x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<2x8x4x16xbf16>
  return
}

// -----

func.func @attention_v_batch(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x8x4x16xbf16>, %v: tensor<2x8x4x16xbf16>) {
  // expected-error @+1 {{batch mismatch: k dim 0 is 1 but v dim 0 is 2}}
  %o = hyla.attention %q, %k, %v {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<2x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_key_count(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x9x4x16xbf16>, %v: tensor<1x7x4x16xbf16>) {
  // expected-error @+1 {{key token count mismatch: k dim 1 is 9 but v dim 1 is 7}}
  %o = hyla.attention %q, %k, %v {scale = 0.25 : f64, causal = false} : tensor<1x8x4x16xbf16>, tensor<1x9x4x16xbf16>, tensor<1x7x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_kv_heads(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x8x4x16xbf16>, %v: tensor<1x8x2x16xbf16>) {
  // expected-error @+1 {{kv heads mismatch: k dim 2 is 4 but v dim 2 is 2}}
  %o = hyla.attention %q, %k, %v {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x2x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_result_rank(%q: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{result must have rank 4 ([batch, tokens, heads, value dim]) but has rank 3}}
  %o = hyla.attention %q, %q, %q {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<8x4x16xbf16>
  return
}

// -----

func.func @attention_result_shape(%q: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{shape mismatch: q dim 2 is 4 but result dim 2 is 2}}
  %o = hyla.attention %q, %q, %q {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x2x16xbf16>
  return
}

// -----

func.func @attention_value_dim(%q: tensor<1x8x4x16xbf16>, %v: tensor<1x8x4x32xbf16>) {
  // expected-error @+1 {{value dim mismatch: v dim 3 is 32 but result dim 3 is 16}}
  %o = hyla.attention %q, %q, %v {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x32xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_varlen_batch(%q: tensor<2x8x4x16xbf16>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{with cu_seqlens the batch dim must be 1 (the sequences are packed along tokens), got 2}}
  %o = hyla.attention %q, %q, %q cu_seqlens(%cu : tensor<3xi32>) {scale = 0.25 : f64} : tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xbf16>
  return
}

// -----

func.func @attention_varlen_rank(%q: tensor<1x8x4x16xbf16>, %cu: tensor<1x3xi32>) {
  // expected-error @+1 {{cu_seqlens must have rank 1 ([sequences + 1]) but has rank 2}}
  %o = hyla.attention %q, %q, %q cu_seqlens(%cu : tensor<1x3xi32>) {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_varlen_keys(%q: tensor<1x8x4x16xbf16>, %k: tensor<1x9x4x16xbf16>, %cu: tensor<3xi32>) {
  // expected-error @+1 {{packed token count mismatch: q dim 1 is 8 but k dim 1 is 9}}
  %o = hyla.attention %q, %k, %k cu_seqlens(%cu : tensor<3xi32>) {scale = 0.25 : f64, causal = false} : tensor<1x8x4x16xbf16>, tensor<1x9x4x16xbf16>, tensor<1x9x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_varlen_empty(%q: tensor<1x8x4x16xbf16>, %cu: tensor<0xi32>) {
  // expected-error @+1 {{cu_seqlens needs at least one entry}}
  %o = hyla.attention %q, %q, %q cu_seqlens(%cu : tensor<0xi32>) {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xbf16>
  return
}

// -----

func.func @attention_result_type(%q: tensor<1x8x4x16xbf16>) {
  // expected-error @+1 {{result element type 'f32' must match q element type 'bf16'}}
  %o = hyla.attention %q, %q, %q {scale = 0.25 : f64} : tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16>, tensor<1x8x4x16xbf16> -> tensor<1x8x4x16xf32>
  return
}

// -----

func.func @dispatch_input_dims(%x: tensor<?xf32>) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{inputs have 1 dynamic dims but 0 sizes are given}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) : (tensor<?xf32>) -> (tensor<4xf32>)
  return
}
func.func @k(%a: memref<?xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

func.func @gdr_cached_cache_rank(%q: tensor<2x1x2x32xf32>, %v: tensor<2x1x2x64xf32>, %g: tensor<2x1x2xf32>, %c: tensor<2x32x64xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{cache must have rank 4 ([slots, value heads, key dim, value dim]) but has rank 3}}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 1.0 : f64} : tensor<2x1x2x32xf32>, tensor<2x1x2x32xf32>, tensor<2x1x2x64xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32>, tensor<2x32x64xf32>, tensor<2xi32> -> tensor<2x1x2x64xf32>, tensor<2x32x64xf32>
  return
}

// -----

func.func @gdr_cached_key_dim(%q: tensor<2x1x2x32xf32>, %v: tensor<2x1x2x64xf32>, %g: tensor<2x1x2xf32>, %c: tensor<8x2x16x64xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{key dim}}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 1.0 : f64} : tensor<2x1x2x32xf32>, tensor<2x1x2x32xf32>, tensor<2x1x2x64xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32>, tensor<8x2x16x64xf32>, tensor<2xi32> -> tensor<2x1x2x64xf32>, tensor<8x2x16x64xf32>
  return
}

// -----

func.func @gdr_cached_slots(%q: tensor<2x1x2x32xf32>, %v: tensor<2x1x2x64xf32>, %g: tensor<2x1x2xf32>, %c: tensor<8x2x32x64xf32>, %s: tensor<3xi32>) {
  // expected-error @+1 {{batch}}
  %o, %n = hyla.gated_delta_rule_cached %q, %q, %v, %g, %g, %c[%s] {scale = 1.0 : f64} : tensor<2x1x2x32xf32>, tensor<2x1x2x32xf32>, tensor<2x1x2x64xf32>, tensor<2x1x2xf32>, tensor<2x1x2xf32>, tensor<8x2x32x64xf32>, tensor<3xi32> -> tensor<2x1x2x64xf32>, tensor<8x2x32x64xf32>
  return
}

// -----

func.func @conv_cached_cache_rank(%x: tensor<2x1x8xbf16>, %w: tensor<8x4xbf16>, %c: tensor<3x8xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{cache must have rank 3 ([slots, kernel size - 1, channels]) but has rank 2}}
  %y, %n = hyla.causal_conv1d_cached %x, %w, %c[%s] : tensor<2x1x8xbf16>, tensor<8x4xbf16>, tensor<3x8xbf16>, tensor<2xi32> -> tensor<2x1x8xbf16>, tensor<3x8xbf16>
  return
}

// -----

func.func @attn_cached_cache_rank(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x1x2x16xbf16>, %c: tensor<8x2x16xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{k_cache must have rank 4 ([slots, max tokens, kv heads, head dim]) but has rank 3}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x2x16xbf16>, tensor<8x2x16xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xbf16>, tensor<8x2x16xbf16>, tensor<8x2x16xbf16>
  return
}

// -----

func.func @attn_cached_kv_heads(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x1x2x16xbf16>, %c: tensor<8x64x4x16xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{kv heads mismatch: k dim 2 is 2 but k_cache dim 2 is 4}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x64x4x16xbf16>, tensor<8x64x4x16xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xbf16>, tensor<8x64x4x16xbf16>, tensor<8x64x4x16xbf16>
  return
}

// -----

func.func @attn_cached_max_tokens(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x1x2x16xbf16>, %kc: tensor<8x64x2x16xbf16>, %vc: tensor<8x32x2x16xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{max tokens mismatch: k_cache dim 1 is 64 but v_cache dim 1 is 32}}
  %o, %kc2, %vc2 = hyla.attention_cached %q, %k, %k, %kc, %vc[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x32x2x16xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x32x2x16xbf16>
  return
}

// -----

func.func @attn_cached_new_tokens(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x2x2x16xbf16>, %c: tensor<8x64x2x16xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{new token count mismatch: q dim 1 is 1 but k dim 1 is 2}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x2x2x16xbf16>, tensor<2x2x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>
  return
}

// -----

func.func @attn_cached_cache_type(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x1x2x16xbf16>, %c: tensor<8x64x2x16xf32>, %s: tensor<2xi32>) {
  // expected-error @+1 {{caches must hold the element type of k and v ('bf16'), got 'f32' and 'f32'}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x64x2x16xf32>, tensor<8x64x2x16xf32>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xbf16>, tensor<8x64x2x16xf32>, tensor<8x64x2x16xf32>
  return
}

// -----

func.func @attn_cached_lengths(%q: tensor<2x1x4x16xbf16>, %k: tensor<2x1x2x16xbf16>, %c: tensor<8x64x2x16xbf16>, %s: tensor<2xi32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{batch mismatch: lengths dim 0 is 3 but q dim 0 is 2}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %l {scale = 0.25 : f64} : tensor<2x1x4x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<2xi32>, tensor<3xi32> -> tensor<2x1x4x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>
  return
}

// -----

func.func @attn_cached_gqa(%q: tensor<2x1x3x16xbf16>, %k: tensor<2x1x2x16xbf16>, %c: tensor<8x64x2x16xbf16>, %s: tensor<2xi32>) {
  // expected-error @+1 {{query heads (3) must be a multiple of kv heads (2)}}
  %o, %kc, %vc = hyla.attention_cached %q, %k, %k, %c, %c[%s] lengths %s {scale = 0.25 : f64} : tensor<2x1x3x16xbf16>, tensor<2x1x2x16xbf16>, tensor<2x1x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x3x16xbf16>, tensor<8x64x2x16xbf16>, tensor<8x64x2x16xbf16>
  return
}
