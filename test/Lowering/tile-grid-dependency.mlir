// RUN: hyla-opt %s -split-input-file -hyla-tile-grid-dependency | FileCheck %s

// Without early arguments the kernel waits first.
// CHECK-LABEL: func.func @no_early
// CHECK-NEXT:    hyla_tile.wait_prior_grid
// CHECK-NEXT:    arith.constant
func.func @no_early(%x: memref<64xf32>, %o: memref<64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %v = hyla_tile.load %x[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  hyla_tile.store %v, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// The early weight is loaded before the wait, also when the kernel loads
// it after the late input; the store comes after the wait.
// CHECK-LABEL: func.func @hoisted
// CHECK:         hyla_tile.load %arg1
// CHECK-NEXT:    hyla_tile.wait_prior_grid
// CHECK-NEXT:    hyla_tile.load %arg0
// CHECK:         hyla_tile.store
func.func @hoisted(%x: memref<64xf32>, %w: memref<64xf32>, %o: memref<64xf32>)
    attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 1>} {
  %c0 = arith.constant 0 : index
  %v = hyla_tile.load %x[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  %w1 = hyla_tile.load %w[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  %p = arith.mulf %v, %w1 : tensor<64xf32>
  hyla_tile.store %p, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// In an scf.if each branch waits before its first late access (the state
// load and the slot lookup stay before it); a loop that needs the wait
// gets it before the loop, not in its body. A store to an early argument
// is still a write.
// CHECK-LABEL: func.func @branches
// CHECK:         memref.load %arg2
// CHECK:         scf.if
// CHECK-NEXT:      hyla_tile.load %arg1
// CHECK-NEXT:      hyla_tile.wait_prior_grid
// CHECK-NEXT:      scf.for
// CHECK-NOT:         wait_prior_grid
// CHECK:         } else {
// CHECK:           hyla_tile.wait_prior_grid
// CHECK-NEXT:      hyla_tile.store %{{.*}}, %arg1
// CHECK-NOT:     wait_prior_grid
// CHECK:         return
func.func @branches(%x: memref<4x64xf32>, %cache: memref<64xf32>, %slots: memref<1xi32>, %o: memref<4x64xf32>)
    attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 1, 2>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %s = memref.load %slots[%c0] : memref<1xi32>
  %zero = arith.constant 0 : i32
  %ok = arith.cmpi sge, %s, %zero : i32
  scf.if %ok {
    %state = hyla_tile.load %cache[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
    scf.for %t = %c0 to %c4 step %c1 {
      %v = hyla_tile.load %x[%t, %c0] dims [1] : memref<4x64xf32> -> tensor<64xf32>
      %y = arith.addf %v, %state : tensor<64xf32>
      hyla_tile.store %y, %o[%t, %c0] dims [1] : tensor<64xf32>, memref<4x64xf32>
    }
  } else {
    %z = arith.constant dense<0.0> : tensor<64xf32>
    hyla_tile.store %z, %cache[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  }
  return
}

// -----

// An early load is not moved above an op with other memory effects between
// it and the wait: here the async copy's mbarriers are initialized after
// the late load.
// CHECK-LABEL: func.func @not_across_effects
// CHECK:         hyla_tile.wait_prior_grid
// CHECK-NEXT:    hyla_tile.load %arg0
// CHECK-NEXT:    hyla_tile.init_barriers
// CHECK-NEXT:    hyla_tile.async_load %arg1
func.func @not_across_effects(%x: memref<64xf32>, %w: memref<64x64xbf16>, %o: memref<64xf32>)
    attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 1>} {
  %c0 = arith.constant 0 : index
  %v = hyla_tile.load %x[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  hyla_tile.init_barriers 2 at 16384
  %a = hyla_tile.async_load %w[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 16384 : memref<64x64xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  hyla_tile.store %v, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}
