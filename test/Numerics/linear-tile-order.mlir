// RUN: hyla-cpu-runner %s --tolerance=1e-5 --gemm-block-m=16 --gemm-block-n=16 --gemm-block-k=32 --gemm-num-warps=4 --gemm-group-m=3 | FileCheck %s
// RUN: hyla-cpu-runner %s --tolerance=1e-5 --gemm-block-m=16 --gemm-block-n=16 --gemm-block-k=32 --gemm-num-warps=4 --gemm-group-m=1 | FileCheck %s
// RUN: hyla-cpu-runner %s --tolerance=1e-5 --gemm-block-m=16 --gemm-block-n=16 --gemm-block-k=32 --gemm-num-warps=4 --gemm-group-m=64 | FileCheck %s
// RUN: hyla-cpu-runner %s --tolerance=1e-5 --print-kernel-ir --gemm-group-m=3 | FileCheck %s --check-prefix=IR
//
// The GEMM programs take their output blocks in groups of gemm-group-m
// row blocks (row block fastest within a group): every block is computed
// once, including those of the last, partial group. 111 rows are 7 row
// blocks of 16 (groups of 3: 3, 3 and 1), 80 columns 5 column blocks; a
// group larger than the row blocks is one group.
// CHECK: tiles: output 0 {{.*}} nonfinite 0 PASS
// CHECK: tiles_k: output 0 {{.*}} nonfinite 0 PASS

// The grid is one-dimensional: row blocks times column blocks.
// IR-LABEL: func.func @tiles(
// IR: hyla.dispatch @[[K:gemm_f32_n80_k96_bm128_bn256_bk64_w8_s4_g3]][%{{.*}}, %c1{{.*}}, %c1{{.*}}]
// IR: func.func @[[K]](
// IR: arith.remui
// IR: arith.divui
func.func @tiles(%x: tensor<3x37x96xf32>) -> tensor<3x37x80xf32> {
  %w = hyla.weight "tw" : tensor<80x96xf32>
  %y = hyla.linear %x, %w : tensor<3x37x96xf32>, tensor<80x96xf32> -> tensor<3x37x80xf32>
  return %y : tensor<3x37x80xf32>
}
// K not a multiple of the reduction step, N not a multiple of 16.
func.func @tiles_k(%x: tensor<100x72xf32>) -> tensor<100x40xf32> {
  %w = hyla.weight "tk" : tensor<40x72xf32>
  %y = hyla.linear %x, %w : tensor<100x72xf32>, tensor<40x72xf32> -> tensor<100x40xf32>
  return %y : tensor<100x40xf32>
}
