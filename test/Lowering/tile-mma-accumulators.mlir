// RUN: hyla-opt %s -split-input-file -hyla-tile-mma-accumulators | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-tile-mma-accumulators=target=sm_100a | FileCheck %s --check-prefix=SM100

// A k loop: the carried accumulator, the dot result and the loop result
// take #hyla_tile.mma; the splat start value becomes an encoded constant and
// one convert_layout after the loop returns to the thread layout.
// CHECK-LABEL: func.func @k_loop
// CHECK:         %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         %[[LOOP:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (tensor<64x64xf32, #hyla_tile.mma>)
// CHECK:           %[[D:.*]] = hyla_tile.dot {{.*}}, %[[ACC]] {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           scf.yield %[[D]]
// CHECK:         %[[BACK:.*]] = hyla_tile.convert_layout %[[LOOP]] : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32>
// CHECK:         arith.truncf %[[BACK]]
func.func @k_loop(%x: memref<?x128xbf16>, %w: memref<64x128xbf16>, %y: memref<?x64xbf16>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %r = scf.for %k = %c0 to %c128 step %c32 iter_args(%acc = %z) -> (tensor<64x64xf32>) {
    %a = hyla_tile.load %x[%c0, %k] dims [0, 1] : memref<?x128xbf16> -> tensor<64x32xbf16>
    %b = hyla_tile.load %w[%c0, %k] dims [0, 1] : memref<64x128xbf16> -> tensor<64x32xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
    scf.yield %d : tensor<64x64xf32>
  }
  %t = arith.truncf %r : tensor<64x64xf32> to tensor<64x64xbf16>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<64x64xbf16>, memref<?x64xbf16>
  return
}

// -----

// A start value that is not a splat constant is converted before the loop.
// CHECK-LABEL: func.func @loaded_start
// CHECK:         %[[INIT:.*]] = hyla_tile.load
// CHECK:         %[[START:.*]] = hyla_tile.convert_layout %[[INIT]] : tensor<64x32xf32> -> tensor<64x32xf32, #hyla_tile.mma>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[START]]) -> (tensor<64x32xf32, #hyla_tile.mma>)
// CHECK:         hyla_tile.convert_layout {{.*}} : tensor<64x32xf32, #hyla_tile.mma> -> tensor<64x32xf32>
func.func @loaded_start(%x: memref<64x32xbf16>, %w: memref<32x32xbf16>, %o: memref<64x32xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %init = hyla_tile.load %o[%c0, %c0] dims [0, 1] : memref<64x32xf32> -> tensor<64x32xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %init) -> (tensor<64x32xf32>) {
    %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
    %b = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<32x32xbf16> -> tensor<32x32xbf16>
    %d = hyla_tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<32x32xbf16> -> tensor<64x32xf32>
    scf.yield %d : tensor<64x32xf32>
  }
  hyla_tile.store %r, %o[%c0, %c0] dims [0, 1] : tensor<64x32xf32>, memref<64x32xf32>
  return
}

// -----

// The carried tile is also scaled in the loop (not only accumulated into):
// it keeps the thread layout.
// CHECK-LABEL: func.func @scaled_accumulator
// CHECK-NOT:     #hyla_tile.mma
func.func @scaled_accumulator(%x: memref<32x32xbf16>, %o: memref<32x32xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %z = arith.constant dense<0.0> : tensor<32x32xf32>
  %half = arith.constant dense<0.5> : tensor<32x32xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %z) -> (tensor<32x32xf32>) {
    %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<32x32xbf16> -> tensor<32x32xbf16>
    %s = arith.mulf %acc, %half : tensor<32x32xf32>
    %d = hyla_tile.dot %a, %a, %s : tensor<32x32xbf16>, tensor<32x32xbf16> -> tensor<32x32xf32>
    scf.yield %d : tensor<32x32xf32>
  }
  hyla_tile.store %r, %o[%c0, %c0] dims [0, 1] : tensor<32x32xf32>, memref<32x32xf32>
  return
}

// -----

// The dot result is used beside the yield: thread layout.
// CHECK-LABEL: func.func @result_used_in_loop
// CHECK-NOT:     #hyla_tile.mma
func.func @result_used_in_loop(%x: memref<32x32xbf16>, %o: memref<32x32xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %z = arith.constant dense<0.0> : tensor<32x32xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %z) -> (tensor<32x32xf32>) {
    %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<32x32xbf16> -> tensor<32x32xbf16>
    %d = hyla_tile.dot %a, %a, %acc : tensor<32x32xbf16>, tensor<32x32xbf16> -> tensor<32x32xf32>
    hyla_tile.store %d, %o[%c0, %c0] dims [0, 1] : tensor<32x32xf32>, memref<32x32xf32>
    scf.yield %d : tensor<32x32xf32>
  }
  return
}

// -----

// A 16 x 16 result is one strip (16 x 16): it cannot be split over 4
// warps, so it keeps the thread layout.
// CHECK-LABEL: func.func @too_few_strips
// CHECK-NOT:     #hyla_tile.mma
func.func @too_few_strips(%x: memref<16x16xbf16>, %o: memref<16x16xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %z = arith.constant dense<0.0> : tensor<16x16xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %z) -> (tensor<16x16xf32>) {
    %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<16x16xbf16> -> tensor<16x16xbf16>
    %d = hyla_tile.dot %a, %a, %acc : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
    scf.yield %d : tensor<16x16xf32>
  }
  hyla_tile.store %r, %o[%c0, %c0] dims [0, 1] : tensor<16x16xf32>, memref<16x16xf32>
  return
}

// -----

// On sm_90a a bf16 k loop with both operands contiguous along k, K = 64 and
// 128 rows over 8 warps (two warpgroups) takes wgmma's layout; sm_100a has
// no wgmma and keeps the mma.sync strips.
// CHECK-LABEL: func.func @wgmma_k_loop
// CHECK:         arith.constant dense<0.000000e+00> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
// CHECK:         hyla_tile.dot {{.*}} -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
// SM100-LABEL: func.func @wgmma_k_loop
// SM100:         hyla_tile.dot {{.*}} -> tensor<128x128xf32, #hyla_tile.mma>
func.func @wgmma_k_loop(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32>
  %r = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z) -> (tensor<128x128xf32>) {
    %a = hyla_tile.load %x[%c0, %k] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %b = hyla_tile.load %w[%c0, %k] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32>
    scf.yield %d : tensor<128x128xf32>
  }
  hyla_tile.store %r, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// B stored [k][n] (not contiguous along k): mma.sync strips, not wgmma.
// CHECK-LABEL: func.func @wgmma_b_strided_along_k
// CHECK:         hyla_tile.dot {{.*}} -> tensor<128x128xf32, #hyla_tile.mma>
func.func @wgmma_b_strided_along_k(%x: memref<?x256xbf16>, %w: memref<256x128xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32>
  %r = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z) -> (tensor<128x128xf32>) {
    %a = hyla_tile.load %x[%c0, %k] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %b = hyla_tile.load %w[%k, %c0] dims [0, 1] : memref<256x128xbf16> -> tensor<64x128xbf16>
    %d = hyla_tile.dot %a, %b, %acc : tensor<128x64xbf16>, tensor<64x128xbf16> -> tensor<128x128xf32>
    scf.yield %d : tensor<128x128xf32>
  }
  hyla_tile.store %r, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}
