// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=1x1000 --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=37x1000 --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=37x1000 --fragment-layouts --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-cpu-runner %s --entry=few_rows_bf16 --input-shape=0=5x3x384 --tolerance=1e-2 | FileCheck %s --check-prefix=BF16
// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=37x1000 --few-rows-cluster=8 --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=1x1000 --few-rows-cluster=8 --fragment-layouts --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-cpu-runner %s --entry=few_rows_bf16 --input-shape=0=5x3x384 --few-rows-cluster=8 --tolerance=1e-2 | FileCheck %s --check-prefix=BF16
// RUN: hyla-cpu-runner %s --entry=few_rows_f32 --input-shape=0=37x1000 --few-rows-cluster=3 --tolerance=1e-5 | FileCheck %s --check-prefix=F32
// RUN: hyla-opt %s -hyla-kernelize=few-rows-cluster=8 | FileCheck %s --check-prefix=CLUSTER
// RUN: hyla-opt %s -hyla-kernelize | FileCheck %s --check-prefix=SECOND
//
// A linear marked few_rows (a decode step's products) as y^T = W x^T: each
// program multiplies 64 weight rows by 16 input rows over a slice of K.
// N = 100 (two weight blocks, the second partial) and K = 1000 (not a
// multiple of the 128-wide step) give 8 slices, whose f32 partials a
// second kernel sums; with few-rows-cluster=8 the 8 programs of a cluster
// add them (cluster_sum; on the CPU each program recomputes the others'
// partials), rank 0 storing, and with 3 the cluster adds 3 slices of 3
// steps. 1, 37 (three row blocks) and 15 rows, against float64.
// F32: few_rows_f32: output 0 {{.*}} nonfinite 0 PASS
// F32: {{^}}PASS
// BF16: few_rows_bf16: output 0 {{.*}} nonfinite 0 PASS
// BF16: {{^}}PASS
// CLUSTER: hyla.dispatch @gemm_few_rows_f32_n100_k1000_bn64_bk128_s3_c8[%{{.*}}, %c2, %c8]
// CLUSTER-SAME: -> (tensor<?x100xf32>
// CLUSTER-NOT: sum_slices
// CLUSTER: hyla.dispatch @gemm_few_rows_bf16_n96_k384_bn64_bk128_s3_c3[%{{.*}}, %c2, %c3]
// CLUSTER-NOT: sum_slices
// CLUSTER-LABEL: func.func @gemm_few_rows_f32_n100_k1000
// CLUSTER-SAME: hyla_tile.cluster_dims = array<i64: 1, 1, 8>
// CLUSTER:         scf.for
// CLUSTER:           hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x128xf32>, tensor<16x128xf32> -> tensor<64x16xf32>
// CLUSTER:         %[[SUM:.*]] = hyla_tile.cluster_sum
// CLUSTER:         %[[RANK:.*]] = hyla_tile.cluster_rank
// CLUSTER:         %[[FIRST:.*]] = arith.cmpi eq, %[[RANK]]
// CLUSTER:         scf.if %[[FIRST]]
// CLUSTER:           hyla_tile.store %[[SUM]], {{.*}} dims [1, 0]
// SECOND: hyla.dispatch @gemm_few_rows_f32_n100_k1000_bn64_bk128_s3_k8[%{{.*}}, %c2, %c8]
// SECOND-SAME: -> (tensor<8x?x100xf32>
// SECOND: hyla.dispatch @sum_slices_f32_f32_n100_k8
// SECOND: hyla.dispatch @gemm_few_rows_bf16_n96_k384_bn64_bk128_s3_k3[%{{.*}}, %c2, %c3]
// SECOND: hyla.dispatch @sum_slices_f32_bf16_n96_k3
// SECOND-LABEL: func.func @gemm_few_rows_f32_n100_k1000
// SECOND-NOT: cluster
// SECOND:         hyla_tile.store {{.*}} dims [2, 1]

func.func @few_rows_f32(%x: tensor<?x1000xf32>) -> tensor<?x100xf32> {
  %w = hyla.weight "w" : tensor<100x1000xf32>
  %y = hyla.linear %x, %w {few_rows} : tensor<?x1000xf32>, tensor<100x1000xf32> -> tensor<?x100xf32>
  return %y : tensor<?x100xf32>
}

func.func @few_rows_bf16(%x: tensor<?x?x384xbf16>) -> tensor<?x?x96xbf16> {
  %w = hyla.weight "w" : tensor<96x384xbf16>
  %y = hyla.linear %x, %w {few_rows} : tensor<?x?x384xbf16>, tensor<96x384xbf16> -> tensor<?x?x96xbf16>
  return %y : tensor<?x?x96xbf16>
}
