// RUN: hyla-opt %s | hyla-opt | FileCheck %s
// Every hyla_tile op parses, verifies and prints back.

// CHECK-LABEL: func.func @all_ops
// CHECK-SAME: attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32}
func.func @all_ops(%a: memref<?x?x4x32xbf16>, %o: memref<?x64xf32>)
    attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  // CHECK: hyla_tile.program_id 1
  %p = hyla_tile.program_id 1
  // CHECK: hyla_tile.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] dims [1, 3] : memref<?x?x4x32xbf16> -> tensor<64x32xbf16>
  %t = hyla_tile.load %a[%c0, %p, %c0, %c0] dims [1, 3] : memref<?x?x4x32xbf16> -> tensor<64x32xbf16>
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  // CHECK: hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
  %s = hyla_tile.dot %t, %t, %z {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
  // CHECK: hyla_tile.reduce max %{{.*}} axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  %m = hyla_tile.reduce max %s axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  // CHECK: hyla_tile.broadcast %{{.*}} dims [0] : tensor<64xf32> -> tensor<64x64xf32>
  %mb = hyla_tile.broadcast %m dims [0] : tensor<64xf32> -> tensor<64x64xf32>
  // CHECK: hyla_tile.iota dim 1 : tensor<64x64xi32>
  %i = hyla_tile.iota dim 1 : tensor<64x64xi32>
  // CHECK: hyla_tile.cumsum %{{.*}} axis 0 : tensor<64xf32>
  %c = hyla_tile.cumsum %m axis 0 : tensor<64xf32>
  // CHECK: hyla_tile.unit_lower_inverse %{{.*}} : tensor<64x64xf32>
  %x = hyla_tile.unit_lower_inverse %mb : tensor<64x64xf32>
  // CHECK: %[[F:.*]] = hyla_tile.convert_layout %{{.*}} : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma>
  // CHECK: hyla_tile.convert_layout %[[F]] : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32>
  %f = hyla_tile.convert_layout %x : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma>
  %back = hyla_tile.convert_layout %f : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32>
  // CHECK: hyla_tile.convert_layout %{{.*}} : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %g = hyla_tile.convert_layout %x : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  // CHECK: hyla_tile.reshape %{{.*}} : tensor<64x64xf32> -> tensor<4096xf32>
  %r = hyla_tile.reshape %x : tensor<64x64xf32> -> tensor<4096xf32>
  // CHECK: hyla_tile.prefetch %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] dims [1, 3] shape [64, 32] : memref<?x?x4x32xbf16>
  hyla_tile.prefetch %a[%c0, %p, %c0, %c0] dims [1, 3] shape [64, 32] : memref<?x?x4x32xbf16>
  // CHECK: hyla_tile.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] dims [0, 1] : tensor<64x64xf32>, memref<?x64xf32>
  hyla_tile.store %x, %o[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<?x64xf32>
  return
}

// CHECK-LABEL: func.func @wait_prior_grid
// CHECK: hyla_tile.wait_prior_grid
func.func @wait_prior_grid(%x: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 0>} {
  hyla_tile.wait_prior_grid
  return
}

// CHECK-LABEL: func.func @tma_copies
// CHECK: hyla_tile.init_barriers 4 at 32768
// CHECK: %[[A:.*]] = hyla_tile.async_load %{{.*}}[%{{.*}}, %{{.*}}] dims [0, 1] stage %{{.*}} of 2 at 0 barriers at 32768 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
// CHECK: hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 32768
// CHECK: hyla_tile.inval_barriers 4 at 32768
func.func @tma_copies(%x: memref<?x128xbf16>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  hyla_tile.init_barriers 4 at 32768
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 32768 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  hyla_tile.barrier_wait %c0 phase %c0 at 32768
  hyla_tile.inval_barriers 4 at 32768
  return
}

// f32 tiles of an N-D memref: rows along any dim, columns along the last;
// the kernel keeps the rings' bytes out of the scratch space.
// CHECK-LABEL: func.func @f32_copies
// CHECK-SAME: hyla_tile.reserved_shared = 50176 : i32
// CHECK: hyla_tile.async_load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] dims [1, 3] stage %{{.*}} of 2 at 0 barriers at 49152 : memref<?x?x30x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
func.func @f32_copies(%w: memref<?x?x30x96xf32>) attributes {hyla_tile.kernel, hyla_tile.reserved_shared = 50176 : i32} {
  %c0 = arith.constant 0 : index
  hyla_tile.init_barriers 2 at 49152
  %a = hyla_tile.async_load %w[%c0, %c0, %c0, %c0] dims [1, 3] stage %c0 of 2 at 0 barriers at 49152 : memref<?x?x30x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
  hyla_tile.barrier_wait %c0 phase %c0 at 49152
  hyla_tile.inval_barriers 2 at 49152
  return
}

// CHECK-LABEL: func.func @async_copies
// CHECK: %[[A:.*]] = hyla_tile.async_load %{{.*}}[%{{.*}}, %{{.*}}] dims [0, 1] stage %{{.*}} of 2 at 1024 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
// CHECK: hyla_tile.async_wait 0
// CHECK: hyla_tile.dot %[[A]], %[[A]], %{{.*}} {transpose_b = true} : tensor<64x64xbf16, #hyla_tile.shared>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
func.func @async_copies(%x: memref<?x128xbf16>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 1024 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  hyla_tile.async_wait 0
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %d = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<64x64xbf16, #hyla_tile.shared>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  // CHECK: %[[E:.*]] = hyla_tile.dot {{.*}} {async, transpose_b = true}
  // CHECK: hyla_tile.dot_wait %[[E]] pending 0 : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %e = hyla_tile.dot %a, %a, %d {async, transpose_b = true} : tensor<64x64xbf16, #hyla_tile.shared>, tensor<64x64xbf16, #hyla_tile.shared> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %f = hyla_tile.dot_wait %e pending 0 : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  return
}

// -----

// Warp specialization: the barriers before the split, a producer whose
// waits are local, ring buffers named by stage, releases by arrival.
// CHECK-LABEL: func.func @warp_specialized
// CHECK:         hyla_tile.init_barriers 2 at 98304
// CHECK-NEXT:    hyla_tile.init_barriers 2 at 98320 arrivals 128
// CHECK-NEXT:    hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
// CHECK-NEXT:      hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98320 local
// CHECK-NEXT:      hyla_tile.async_load {{.*}} barriers at 98304
// CHECK-NEXT:    }
// CHECK:         hyla_tile.ring_buffer %{{.*}} of 2 at 0 : tensor<64x96xf32, #hyla_tile.shared>
// CHECK:         hyla_tile.barrier_arrive %{{.*}} at 98320
func.func @warp_specialized(%x: memref<?x96xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  hyla_tile.init_barriers 2 at 98304
  hyla_tile.init_barriers 2 at 98320 arrivals 128
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
    hyla_tile.barrier_wait %c0 phase %c1 at 98320 local
    %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 98304 : memref<?x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
  }
  hyla_tile.barrier_wait %c0 phase %c0 at 98304 local
  %b = hyla_tile.ring_buffer %c0 of 2 at 0 : tensor<64x96xf32, #hyla_tile.shared>
  hyla_tile.barrier_arrive %c0 at 98320
  return
}
