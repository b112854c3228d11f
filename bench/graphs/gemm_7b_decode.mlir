// Olmo Hybrid 7B's projection GEMMs as a decode step runs them (few_rows: y^T = W x^T,
// K split across programs), one function each, for bench/bench_gemm.py at M = 1..64.
// Names: what the model uses them for; N x K as in the weight.

func.func @gdn_qk(%x: tensor<?x3840xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<2880x3840xbf16>) -> tensor<?x2880xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x3840xbf16>, tensor<2880x3840xbf16> -> tensor<?x2880xbf16>
  return %y : tensor<?x2880xbf16>
}

func.func @gdn_vg(%x: tensor<?x3840xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<5760x3840xbf16>) -> tensor<?x5760xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x3840xbf16>, tensor<5760x3840xbf16> -> tensor<?x5760xbf16>
  return %y : tensor<?x5760xbf16>
}

func.func @gdn_o(%x: tensor<?x5760xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<3840x5760xbf16>) -> tensor<?x3840xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x5760xbf16>, tensor<3840x5760xbf16> -> tensor<?x3840xbf16>
  return %y : tensor<?x3840xbf16>
}

func.func @attn_qkvo(%x: tensor<?x3840xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<3840x3840xbf16>) -> tensor<?x3840xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x3840xbf16>, tensor<3840x3840xbf16> -> tensor<?x3840xbf16>
  return %y : tensor<?x3840xbf16>
}

func.func @mlp_up(%x: tensor<?x3840xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<11008x3840xbf16>) -> tensor<?x11008xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x3840xbf16>, tensor<11008x3840xbf16> -> tensor<?x11008xbf16>
  return %y : tensor<?x11008xbf16>
}

func.func @mlp_down(%x: tensor<?x11008xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<3840x11008xbf16>) -> tensor<?x3840xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x11008xbf16>, tensor<3840x11008xbf16> -> tensor<?x3840xbf16>
  return %y : tensor<?x3840xbf16>
}

func.func @lm_head(%x: tensor<?x3840xbf16> {hyla.dim_names = ["tokens"]},
                  %w: tensor<100352x3840xbf16>) -> tensor<?x100352xbf16> {
  %y = hyla.linear %x, %w {few_rows} : tensor<?x3840xbf16>, tensor<100352x3840xbf16> -> tensor<?x100352xbf16>
  return %y : tensor<?x100352xbf16>
}
