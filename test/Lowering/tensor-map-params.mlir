// RUN: hyla-opt %s -split-input-file -hyla-tensor-map-params -verify-diagnostics | FileCheck %s

// The parameters hyla.tensor_maps lists become 128-byte, 64-byte-aligned
// byval grid constants; the others stay as they are.
// CHECK-LABEL: llvm.func @gemm
// CHECK-SAME:    (%{{.*}}: !llvm.ptr<1>, %{{.*}}: i64, %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %{{.*}}: !llvm.ptr<1>)
gpu.module @m {
  llvm.func @gemm(%x: !llvm.ptr<1>, %m: i64, %xmap: !llvm.ptr, %w: !llvm.ptr<1>, %wmap: !llvm.ptr, %y: !llvm.ptr<1>) attributes {nvvm.kernel, hyla.tensor_maps = [{arg = 0 : i64, box = array<i64: 128, 64>, param = 2 : i64, swizzle = 128 : i64}, {arg = 1 : i64, box = array<i64: 128, 64>, param = 4 : i64, swizzle = 128 : i64}]} {
    llvm.return
  }
}

// -----

// CHECK-LABEL: llvm.func @no_maps
// CHECK-SAME:    (%{{.*}}: !llvm.ptr<1>)
// CHECK-NOT:     grid_constant
gpu.module @m {
  llvm.func @no_maps(%x: !llvm.ptr<1>) attributes {nvvm.kernel} {
    llvm.return
  }
}

// -----

gpu.module @m {
  // expected-error @+1 {{hyla.tensor_maps names no pointer parameter: {arg = 0 : i64, box = array<i64: 128, 64>, param = 1 : i64, swizzle = 128 : i64}}}
  llvm.func @not_a_pointer(%x: !llvm.ptr<1>, %m: i64) attributes {nvvm.kernel, hyla.tensor_maps = [{arg = 0 : i64, box = array<i64: 128, 64>, param = 1 : i64, swizzle = 128 : i64}]} {
    llvm.return
  }
}
