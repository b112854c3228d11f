// RUN: hyla-opt %s -split-input-file --pass-pipeline="builtin.module(gpu.module(hyla-math-to-nvvm))" | FileCheck %s

// exp via ex2.approx with a log2(e) scale; rsqrt via rsqrt.approx; log1p
// with the rounding correction; sin with range reduction; vectors unrolled.
// CHECK-LABEL: gpu.func @math
// CHECK:         arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK:         llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK:         llvm.call_intrinsic "llvm.nvvm.rsqrt.approx.ftz.f"
// CHECK:         arith.divf
// CHECK:         llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
// CHECK:         arith.fptosi
// CHECK:         llvm.intr.fma
// CHECK:         llvm.call_intrinsic "llvm.nvvm.sin.approx.ftz.f"
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK-NOT:     math.
gpu.module @m {
  gpu.func @math(%x: f32, %v: vector<2xf32>) -> (f32, f32, f32, f32, vector<2xf32>) {
    %e = math.exp %x : f32
    %r = math.rsqrt %x : f32
    %l = math.log1p %x : f32
    %s = math.sin %x : f32
    %ev = math.exp %v : vector<2xf32>
    gpu.return %e, %r, %l, %s, %ev : f32, f32, f32, f32, vector<2xf32>
  }
}
