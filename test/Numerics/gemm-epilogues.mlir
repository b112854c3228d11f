// RUN: hyla-cpu-runner %s --entry=residual --input-shape=0=300x200 --input-shape=1=300x100 --tolerance=1e-5 | FileCheck %s --check-prefix=RESIDUAL
// RUN: hyla-cpu-runner %s --entry=residual_first --input-shape=0=2x70x384 --input-shape=1=2x70x96 --tolerance=1e-2 | FileCheck %s --check-prefix=FIRST
// RUN: hyla-cpu-runner %s --entry=swiglu --input-shape=0=300x200 --tolerance=1e-5 | FileCheck %s --check-prefix=SWIGLU
// RUN: hyla-cpu-runner %s --entry=swiglu --input-shape=0=300x200 --tolerance=1e-5 --gemm-block-m=32 --gemm-block-n=32 --gemm-block-k=32 --gemm-num-warps=4 --gemm-group-m=3 | FileCheck %s --check-prefix=SWIGLU
// RUN: hyla-cpu-runner %s --entry=swiglu_bf16 --input-shape=0=130x256 --tolerance=1e-2 | FileCheck %s --check-prefix=SWIGLU-BF16
// RUN: hyla-cpu-runner %s --entry=shared --input-shape=0=50x200 --input-shape=1=50x100 --tolerance=1e-5 | FileCheck %s --check-prefix=SHARED
// RUN: hyla-opt %s -hyla-kernelize | FileCheck %s --check-prefix=KERNELS
// RUN: hyla-opt %s -hyla-kernelize=gemm-epilogues=false | FileCheck %s --check-prefix=OFF
//
// A GEMM (prefill linear) whose only use is a residual add, or two (gate,
// up, of one input) whose only use is silu_mul: the GEMM applies the
// consumer before it rounds and stores (one kernel instead of two or
// three; SwiGLU's program computes the gate and up products of the same
// columns side by side). Against float64, f32 and bf16, residual on either
// side, rows that leave partial blocks and partial groups.
// RESIDUAL: residual: output 0 {{.*}} nonfinite 0 PASS
// FIRST: residual_first: output 0 {{.*}} nonfinite 0 PASS
// SWIGLU: swiglu: output 0 {{.*}} nonfinite 0 PASS
// SWIGLU-BF16: swiglu_bf16: output 0 {{.*}} nonfinite 0 PASS
// SHARED: shared: output 0 {{.*}} nonfinite 0 PASS
// SHARED: shared: output 1 {{.*}} nonfinite 0 PASS
// KERNELS-LABEL: func.func @residual
// KERNELS:         hyla.dispatch @gemm_add_f32_n100_k200_bm128_bn128_bk64_w8_s3_g16[{{.*}}](%arg0, %{{.*}}, %arg1)
// KERNELS-NOT:     hyla.dispatch
// KERNELS-LABEL: func.func @residual_first
// KERNELS:         hyla.dispatch @gemm_add_bf16_n96_k384_bm128_bn128_bk64_w8_s3_g16
// KERNELS-NOT:     hyla.dispatch
// KERNELS-LABEL: func.func @swiglu(
// KERNELS:         hyla.dispatch @gemm_silu_mul_f32_n100_k200_bm128_bn128_bk64_w8_s3_g16[{{.*}}](%arg0, %{{.*}}, %{{.*}})
// KERNELS-NOT:     hyla.dispatch
// KERNELS-LABEL: func.func @swiglu_bf16(
// KERNELS:         hyla.dispatch @gemm_silu_mul_bf16_n80_k256_bm128_bn128_bk64_w8_s3_g16
// KERNELS-NOT:     hyla.dispatch
// A product used twice keeps its own GEMM, and the add stays an add.
// KERNELS-LABEL: func.func @shared
// KERNELS:         hyla.dispatch @gemm_f32_n100_k200
// KERNELS:         hyla.dispatch @add_f32_f100
// The kernel: two accumulators of half the program's columns, one x tile.
// KERNELS-LABEL: func.func @gemm_silu_mul_f32_n100_k200_bm128_bn128_bk64_w8_s3_g16(
// KERNELS:         scf.for {{.*}} -> (tensor<128x64xf32>, tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>)
// KERNELS:           hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {transpose_b = true} : tensor<128x64xf32>, tensor<64x64xf32> -> tensor<128x64xf32>
// KERNELS:           hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {transpose_b = true} : tensor<128x64xf32>, tensor<64x64xf32> -> tensor<128x64xf32>
// OFF-NOT: gemm_add
// OFF-NOT: gemm_silu_mul

func.func @residual(%x: tensor<?x200xf32>, %r: tensor<?x100xf32>) -> tensor<?x100xf32> {
  %w = hyla.weight "w" : tensor<100x200xf32>
  %y = hyla.linear %x, %w : tensor<?x200xf32>, tensor<100x200xf32> -> tensor<?x100xf32>
  %s = hyla.add %y, %r : tensor<?x100xf32>
  return %s : tensor<?x100xf32>
}

func.func @residual_first(%x: tensor<?x?x384xbf16>, %r: tensor<?x?x96xbf16>) -> tensor<?x?x96xbf16> {
  %w = hyla.weight "w2" : tensor<96x384xbf16>
  %y = hyla.linear %x, %w : tensor<?x?x384xbf16>, tensor<96x384xbf16> -> tensor<?x?x96xbf16>
  %s = hyla.add %r, %y : tensor<?x?x96xbf16>
  return %s : tensor<?x?x96xbf16>
}

func.func @swiglu(%x: tensor<?x200xf32>) -> tensor<?x100xf32> {
  %wg = hyla.weight "wg" : tensor<100x200xf32>
  %wu = hyla.weight "wu" : tensor<100x200xf32>
  %g = hyla.linear %x, %wg : tensor<?x200xf32>, tensor<100x200xf32> -> tensor<?x100xf32>
  %u = hyla.linear %x, %wu : tensor<?x200xf32>, tensor<100x200xf32> -> tensor<?x100xf32>
  %h = hyla.silu_mul %g, %u : tensor<?x100xf32>
  return %h : tensor<?x100xf32>
}

func.func @swiglu_bf16(%x: tensor<?x256xbf16>) -> tensor<?x80xbf16> {
  %wg = hyla.weight "wg2" : tensor<80x256xbf16>
  %wu = hyla.weight "wu2" : tensor<80x256xbf16>
  %g = hyla.linear %x, %wg : tensor<?x256xbf16>, tensor<80x256xbf16> -> tensor<?x80xbf16>
  %u = hyla.linear %x, %wu : tensor<?x256xbf16>, tensor<80x256xbf16> -> tensor<?x80xbf16>
  %h = hyla.silu_mul %g, %u : tensor<?x80xbf16>
  return %h : tensor<?x80xbf16>
}

func.func @shared(%x: tensor<?x200xf32>, %r: tensor<?x100xf32>) -> (tensor<?x100xf32>, tensor<?x100xf32>) {
  %w = hyla.weight "w" : tensor<100x200xf32>
  %y = hyla.linear %x, %w : tensor<?x200xf32>, tensor<100x200xf32> -> tensor<?x100xf32>
  %s = hyla.add %y, %r : tensor<?x100xf32>
  return %s, %y : tensor<?x100xf32>, tensor<?x100xf32>
}
