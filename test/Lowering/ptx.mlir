// REQUIRES: ptxas
// RUN: hyla-opt %s --pass-pipeline="builtin.module(hyla-tile-to-nvvm{target=sm_90a},gpu-module-to-binary{format=isa})" | FileCheck %s
// RUN: hyla-opt %s --pass-pipeline="builtin.module(hyla-tile-to-nvvm{target=sm_90a},gpu-module-to-binary{format=isa})" | FileCheck %s --check-prefix=MMA

// The whole path to PTX for sm_90a: the assembly is for the arch-specific
// target with PTX 8.0, its entry caps the CTA at 128 threads, and the dot is
// an mma.sync on bf16.
// CHECK: gpu.binary @dot_module
// CHECK-SAME: .version 8.0
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .maxntid 128, 1, 1
// MMA: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
func.func @dot(%x: memref<?x32xbf16>, %y: memref<?x32xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x32xbf16> -> tensor<32x32xbf16>
  %z = arith.constant dense<0.0> : tensor<32x32xf32>
  %acc = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<32x32xbf16>, tensor<32x32xbf16> -> tensor<32x32xf32>
  hyla_tile.store %acc, %y[%c0, %c0] dims [0, 1] : tensor<32x32xf32>, memref<?x32xf32>
  return
}
