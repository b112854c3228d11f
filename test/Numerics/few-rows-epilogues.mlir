// RUN: hyla-cpu-runner %s --entry=residual --input-shape=0=3x1000 --input-shape=1=3x100 --tolerance=1e-5 | FileCheck %s --check-prefix=RESIDUAL
// RUN: hyla-cpu-runner %s --entry=residual_first --input-shape=0=1x2x384 --input-shape=1=1x2x96 --tolerance=1e-2 | FileCheck %s --check-prefix=FIRST
// RUN: hyla-cpu-runner %s --entry=swiglu --input-shape=0=17x1000 --tolerance=1e-5 | FileCheck %s --check-prefix=SWIGLU
// RUN: hyla-opt %s -hyla-kernelize | FileCheck %s --check-prefix=KERNELS
// RUN: hyla-opt %s -hyla-kernelize=few-rows-epilogues=false | FileCheck %s --check-prefix=OFF
// RUN: hyla-cpu-runner %s --entry=swiglu --input-shape=0=17x1000 --few-rows-epilogues=false --tolerance=1e-5 | FileCheck %s --check-prefix=SWIGLU
//
// A few-rows linear whose only use is a residual add, or two (gate, up)
// whose only use is silu_mul: the kernel that sums the products' K slices
// applies the consumer too (one launch instead of two or three), with the
// sum rounded once. Against float64, f32 and bf16, residual on either side.
// RESIDUAL: residual: output 0 {{.*}} nonfinite 0 PASS
// FIRST: residual_first: output 0 {{.*}} nonfinite 0 PASS
// SWIGLU: swiglu: output 0 {{.*}} nonfinite 0 PASS
// KERNELS-LABEL: func.func @residual
// KERNELS:         %[[P:.*]] = hyla.dispatch @gemm_few_rows_f32_n100_k1000_bn64_bk128_s3_k8
// KERNELS:         hyla.dispatch @sum_slices_add_f32_f32_n100_k8[{{.*}}](%[[P]], %arg1)
// KERNELS-NOT:     hyla.dispatch
// KERNELS-LABEL: func.func @residual_first
// KERNELS:         %[[P:.*]] = hyla.dispatch @gemm_few_rows_bf16_n96_k384_bn64_bk128_s3_k3
// KERNELS:         hyla.dispatch @sum_slices_add_f32_bf16_n96_k3[{{.*}}](%[[P]], %{{.*}})
// KERNELS-NOT:     hyla.dispatch
// KERNELS-LABEL: func.func @swiglu
// KERNELS:         %[[G:.*]] = hyla.dispatch @gemm_few_rows_f32_n100_k1000_bn64_bk128_s3_k8
// KERNELS:         %[[U:.*]] = hyla.dispatch @gemm_few_rows_f32_n100_k1000_bn64_bk128_s3_k8
// KERNELS:         hyla.dispatch @sum_slices_silu_mul_f32_f32_n100_k8[{{.*}}](%[[G]], %[[U]])
// KERNELS-NOT:     hyla.dispatch
// A product used twice keeps its own sum, and the add stays an add.
// KERNELS-LABEL: func.func @shared
// KERNELS:         hyla.dispatch @sum_slices_f32_f32_n100_k8
// KERNELS:         hyla.dispatch @add_f32_f100
// OFF-NOT: sum_slices_add
// OFF-NOT: sum_slices_silu_mul

func.func @residual(%x: tensor<?x1000xf32>, %r: tensor<?x100xf32>) -> tensor<?x100xf32> {
  %w = hyla.weight "w" : tensor<100x1000xf32>
  %y = hyla.linear %x, %w {few_rows} : tensor<?x1000xf32>, tensor<100x1000xf32> -> tensor<?x100xf32>
  %s = hyla.add %y, %r : tensor<?x100xf32>
  return %s : tensor<?x100xf32>
}

func.func @residual_first(%x: tensor<?x?x384xbf16>, %r: tensor<?x?x96xbf16>) -> tensor<?x?x96xbf16> {
  %w = hyla.weight "w2" : tensor<96x384xbf16>
  %y = hyla.linear %x, %w {few_rows} : tensor<?x?x384xbf16>, tensor<96x384xbf16> -> tensor<?x?x96xbf16>
  %s = hyla.add %r, %y : tensor<?x?x96xbf16>
  return %s : tensor<?x?x96xbf16>
}

func.func @swiglu(%x: tensor<?x1000xf32>) -> tensor<?x100xf32> {
  %wg = hyla.weight "wg" : tensor<100x1000xf32>
  %wu = hyla.weight "wu" : tensor<100x1000xf32>
  %g = hyla.linear %x, %wg {few_rows} : tensor<?x1000xf32>, tensor<100x1000xf32> -> tensor<?x100xf32>
  %u = hyla.linear %x, %wu {few_rows} : tensor<?x1000xf32>, tensor<100x1000xf32> -> tensor<?x100xf32>
  %h = hyla.silu_mul %g, %u : tensor<?x100xf32>
  return %h : tensor<?x100xf32>
}

func.func @shared(%x: tensor<?x1000xf32>, %r: tensor<?x100xf32>) -> (tensor<?x100xf32>, tensor<?x100xf32>) {
  %w = hyla.weight "w" : tensor<100x1000xf32>
  %y = hyla.linear %x, %w {few_rows} : tensor<?x1000xf32>, tensor<100x1000xf32> -> tensor<?x100xf32>
  %s = hyla.add %y, %r : tensor<?x100xf32>
  return %s, %y : tensor<?x100xf32>, tensor<?x100xf32>
}
