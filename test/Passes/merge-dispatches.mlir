// RUN: hyla-opt %s -split-input-file -hyla-kernelize -canonicalize -cse -hyla-merge-dispatches -canonicalize | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-kernelize -canonicalize -cse -hyla-merge-dispatches=merge-matmuls=true | FileCheck %s --check-prefix=MATMUL
// RUN: hyla-opt %s -split-input-file -hyla-kernelize -canonicalize -cse -hyla-merge-dispatches=max-parts=2 | FileCheck %s --check-prefix=TWO

// Independent dispatches become one: the grid is the sum of the parts'
// program counts, each program runs the part its index falls into (the
// first part's count, ceildiv(rows, 32), is computed from the kernel's own
// argument dims), and the results map back in order.
// CHECK-LABEL: func.func @independent
// CHECK:         %[[N0:.*]] = arith.ceildivui
// CHECK:         %[[N1:.*]] = arith.ceildivui
// CHECK:         %[[N2:.*]] = arith.ceildivui
// CHECK:         %[[S:.*]] = arith.addi %[[N0]], %[[N1]]
// CHECK:         %[[N:.*]] = arith.addi %[[S]], %[[N2]]
// CHECK:         %[[R:.*]]:4 = hyla.dispatch @rms_norm_bf16_bf16_f96_{{.*}}__rms_norm_bf16_bf16_f64_{{.*}}__gdn_gates_{{[^[]*}}[%[[N]], %c1, %c1]
// CHECK-NOT:     hyla.dispatch
// CHECK:         return %[[R]]#0, %[[R]]#1
// CHECK:       func.func @rms_norm_bf16_bf16_f96_{{.*}}__rms_norm_bf16_bf16_f64_{{.*}}__gdn_gates_{{.*}}(%{{.*}}: memref<?x96xbf16>, %{{.*}}: memref<96xbf16>, %{{.*}}: memref<?x64xbf16>, %{{.*}}: memref<64xbf16>, %{{.*}}: memref<?x4xbf16>, %{{.*}}: memref<?x4xbf16>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<?x96xbf16>, %{{.*}}: memref<?x64xbf16>, %{{.*}}: memref<?x4xf32>, %{{.*}}: memref<?x4xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32}
// CHECK:         %[[P:.*]] = hyla_tile.program_id 0
// CHECK:         %[[ROWS:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[END0:.*]] = arith.ceildivui %[[ROWS]], %c32
// CHECK:         %[[IN0:.*]] = arith.cmpi ult, %[[P]], %[[END0]]
// CHECK:         scf.if %[[IN0]] {
// CHECK:           arith.muli %[[P]], %c32
// CHECK:         } else {
// CHECK:           %[[ROWS1:.*]] = memref.dim %arg2, %c0
// CHECK:           %[[C1:.*]] = arith.ceildivui %[[ROWS1]], %c64
// CHECK:           %[[END1:.*]] = arith.addi %[[END0]], %[[C1]]
// CHECK:           %[[IN1:.*]] = arith.cmpi ult, %[[P]], %[[END1]]
// CHECK:           scf.if %[[IN1]] {
// CHECK:             arith.subi %[[P]], %[[END0]]
// CHECK:           } else {
// CHECK:             arith.subi %[[P]], %[[END1]]
// CHECK-NOT:     hyla_tile.program_id
// CHECK:       return
func.func @independent(%x: tensor<?x96xbf16>, %wx: tensor<96xbf16>, %y: tensor<?x64xbf16>, %wy: tensor<64xbf16>,
                       %a: tensor<?x1x4xbf16>, %b: tensor<?x1x4xbf16>, %alog: tensor<4xf32>, %dtb: tensor<4xf32>)
    -> (tensor<?x96xbf16>, tensor<?x64xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>) {
  %nx = hyla.rms_norm %x, %wx {epsilon = 1.0e-6 : f64} : tensor<?x96xbf16>, tensor<96xbf16> -> tensor<?x96xbf16>
  %ny = hyla.rms_norm %y, %wy {epsilon = 1.0e-6 : f64} : tensor<?x64xbf16>, tensor<64xbf16> -> tensor<?x64xbf16>
  %g, %beta = hyla.gdn_gates %a, %b, %alog, %dtb {beta_scale = 1.0 : f64} : tensor<?x1x4xbf16>, tensor<?x1x4xbf16>, tensor<4xf32>, tensor<4xf32> -> tensor<?x1x4xf32>, tensor<?x1x4xf32>
  return %nx, %ny, %g, %beta : tensor<?x96xbf16>, tensor<?x64xbf16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>
}

// TWO-LABEL: func.func @independent
// TWO:         hyla.dispatch @rms_norm_bf16_bf16_f96_e{{[^_]*}}_r32__rms_norm_bf16_bf16_f64_e{{[^_]*}}_r64[
// TWO:         hyla.dispatch @gdn_gates_
// TWO-NOT:     hyla.dispatch
// TWO:         return

// -----

// A dispatch that reads another's result stays apart.
// CHECK-LABEL: func.func @dependent
// CHECK:         hyla.dispatch @rms_norm_bf16_bf16_f96_{{[^_]*}}_r32[
// CHECK:         hyla.dispatch @rms_norm_bf16_bf16_f96_{{[^_]*}}_r32[
func.func @dependent(%x: tensor<?x96xbf16>, %w: tensor<96xbf16>) -> tensor<?x96xbf16> {
  %a = hyla.rms_norm %x, %w {epsilon = 1.0e-6 : f64} : tensor<?x96xbf16>, tensor<96xbf16> -> tensor<?x96xbf16>
  %b = hyla.rms_norm %a, %w {epsilon = 1.0e-6 : f64} : tensor<?x96xbf16>, tensor<96xbf16> -> tensor<?x96xbf16>
  return %b : tensor<?x96xbf16>
}

// -----

// Reading a cache that a later dispatch updates in place: in one grid the
// two would race, so they stay apart.
// CHECK-LABEL: func.func @in_place_conflict
// CHECK:         hyla.dispatch @rms_norm_
// CHECK:         hyla.dispatch @conv1d_decode_
func.func @in_place_conflict(%x: tensor<2x1x64xbf16>, %w: tensor<64x4xbf16>, %cache: tensor<4x3x64xbf16>, %slots: tensor<2xi32>, %wn: tensor<64xbf16>)
    -> (tensor<4x3x64xbf16>, tensor<2x1x64xbf16>, tensor<4x3x64xbf16>) {
  %old = hyla.rms_norm %cache, %wn {epsilon = 1.0e-6 : f64} : tensor<4x3x64xbf16>, tensor<64xbf16> -> tensor<4x3x64xbf16>
  %y, %c = hyla.causal_conv1d_cached %x, %w, %cache[%slots] : tensor<2x1x64xbf16>, tensor<64x4xbf16>, tensor<4x3x64xbf16>, tensor<2xi32> -> tensor<2x1x64xbf16>, tensor<4x3x64xbf16>
  return %old, %y, %c : tensor<4x3x64xbf16>, tensor<2x1x64xbf16>, tensor<4x3x64xbf16>
}

// -----

// Tensor-core kernels merge only when asked (merge-matmuls); kernels of
// different CTA sizes never do.
// CHECK-LABEL: func.func @matmuls
// CHECK:         hyla.dispatch @gemm_
// CHECK:         hyla.dispatch @gemm_
// The merged kernel keeps the parts' pipelining depth (the GPU lowering
// reads it from the kernel).
// MATMUL-LABEL: func.func @matmuls
// MATMUL:         hyla.dispatch @gemm_bf16_n80_{{.*}}__gemm_bf16_n80_
// MATMUL-NOT:     hyla.dispatch @gemm
// MATMUL:       func.func @gemm_bf16_n80_{{.*}}_s3_g16__gemm_bf16_n80_{{.*}}_s3_g16({{.*}}) attributes {hyla_tile.kernel, hyla_tile.num_stages = 3 : i32, hyla_tile.num_warps = 8 : i32}
func.func @matmuls(%x: tensor<2x7x96xbf16>, %w1: tensor<80x96xbf16>, %w2: tensor<80x96xbf16>) -> (tensor<2x7x80xbf16>, tensor<2x7x80xbf16>) {
  %a = hyla.linear %x, %w1 : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  %b = hyla.linear %x, %w2 : tensor<2x7x96xbf16>, tensor<80x96xbf16> -> tensor<2x7x80xbf16>
  return %a, %b : tensor<2x7x80xbf16>, tensor<2x7x80xbf16>
}
