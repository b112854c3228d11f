// RUN: hyla-opt %s -split-input-file -hyla-tile-async-dots | FileCheck %s

// FlashAttention-3's step: the scores' product, then the P V product, then
// the softmax. Both become async: the scores are waited for before their
// first use (pending 1: the P V product issued after them returned with
// them complete), the P V product before the rescale (pending 0), after
// the softmax it runs under.
// CHECK-LABEL: func.func @scores_then_values
// CHECK:         %[[S:.*]] = hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {async, transpose_b = true}
// CHECK-NEXT:    %[[PV:.*]] = hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {async}
// CHECK-NEXT:    %[[SW:.*]] = hyla_tile.dot_wait %[[S]] pending 1
// CHECK-NEXT:    hyla_tile.reduce max %[[SW]]
// CHECK:         math.exp2
// CHECK:         %[[PVW:.*]] = hyla_tile.dot_wait %[[PV]] pending 0
// CHECK-NEXT:    arith.mulf %[[PVW]]
#wg = #hyla_tile.mma<warpgroup>
#sh = #hyla_tile.shared
func.func @scores_then_values(%o: memref<128x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32, hyla_tile.overlap_products} {
  %c0 = arith.constant 0 : index
  %q = hyla_tile.ring_buffer %c0 of 1 at 0 : tensor<128x128xbf16, #sh>
  %k = hyla_tile.ring_buffer %c0 of 1 at 32768 : tensor<64x128xbf16, #sh>
  %v = hyla_tile.ring_buffer %c0 of 1 at 49152 : tensor<64x128xbf16, #sh>
  %p = arith.constant dense<1.0> : tensor<128x64xbf16, #wg>
  %acc = arith.constant dense<1.0> : tensor<128x128xf32, #wg>
  %zero = arith.constant dense<0.0> : tensor<128x64xf32, #wg>
  %s = hyla_tile.dot %q, %k, %zero {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
  %pv = hyla_tile.dot %p, %v, %acc : tensor<128x64xbf16, #wg>, tensor<64x128xbf16, #sh> -> tensor<128x128xf32, #wg>
  %m = hyla_tile.reduce max %s axis 1 : tensor<128x64xf32, #wg> -> tensor<128xf32, #wg>
  %e = math.exp2 %m : tensor<128xf32, #wg>
  %b = hyla_tile.broadcast %e dims [0] : tensor<128xf32, #wg> -> tensor<128x128xf32, #wg>
  %r = arith.mulf %pv, %b : tensor<128x128xf32, #wg>
  hyla_tile.store %r, %o[%c0, %c0] dims [0, 1] : tensor<128x128xf32, #wg>, memref<128x128xf32>
  return
}

// -----

// Without hyla_tile.overlap_products nothing changes.
// CHECK-LABEL: func.func @unmarked
// CHECK-NOT:     async
// CHECK-NOT:     dot_wait
#wg = #hyla_tile.mma<warpgroup>
#sh = #hyla_tile.shared
func.func @unmarked(%o: memref<128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %q = hyla_tile.ring_buffer %c0 of 1 at 0 : tensor<128x128xbf16, #sh>
  %k = hyla_tile.ring_buffer %c0 of 1 at 32768 : tensor<64x128xbf16, #sh>
  %zero = arith.constant dense<0.0> : tensor<128x64xf32, #wg>
  %s = hyla_tile.dot %q, %k, %zero {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
  %pid = hyla_tile.program_id 0
  %pidi = arith.index_cast %pid : index to i32
  %pidf = arith.sitofp %pidi : i32 to f32
  %c = tensor.splat %pidf : tensor<128x64xf32, #wg>
  %e = arith.mulf %c, %c : tensor<128x64xf32, #wg>
  %t = arith.addf %s, %e : tensor<128x64xf32, #wg>
  %m = hyla_tile.reduce max %t axis 1 : tensor<128x64xf32, #wg> -> tensor<128xf32, #wg>
  hyla_tile.store %m, %o[%c0] dims [0] : tensor<128xf32, #wg>, memref<128xf32>
  return
}

// -----

// A product used by the next op has nothing to run under: it stays
// synchronous. One whose next ops may touch memory (a store) is waited for
// before them, and one yielded is waited for before the terminator, so a
// loop step's products finish in the step.
// CHECK-LABEL: func.func @wait_points
// CHECK:         %[[A:.*]] = hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {transpose_b = true}
// CHECK-NEXT:    arith.mulf %[[A]]
// CHECK:         %[[B:.*]] = hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {async, transpose_b = true}
// CHECK-NEXT:    arith.mulf
// CHECK-NEXT:    %[[BW:.*]] = hyla_tile.dot_wait %[[B]] pending 0
// CHECK-NEXT:    hyla_tile.store
// CHECK:         scf.for
// CHECK:           %[[C:.*]] = hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {async, transpose_b = true}
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      %[[CW:.*]] = hyla_tile.dot_wait %[[C]] pending 0
// CHECK-NEXT:      scf.yield %[[CW]],
#wg = #hyla_tile.mma<warpgroup>
#sh = #hyla_tile.shared
func.func @wait_points(%o: memref<128x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32, hyla_tile.overlap_products} {
  %c0 = arith.constant 0 : index
  %q = hyla_tile.ring_buffer %c0 of 1 at 0 : tensor<128x128xbf16, #sh>
  %k = hyla_tile.ring_buffer %c0 of 1 at 32768 : tensor<64x128xbf16, #sh>
  %pid = hyla_tile.program_id 0
  %pidi = arith.index_cast %pid : index to i32
  %pidf = arith.sitofp %pidi : i32 to f32
  %x = tensor.splat %pidf : tensor<128x64xf32, #wg>
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant dense<0.0> : tensor<128x64xf32, #wg>
  %a = hyla_tile.dot %q, %k, %zero {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
  %a2 = arith.mulf %a, %a : tensor<128x64xf32, #wg>
  %b = hyla_tile.dot %q, %k, %a2 {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
  %x2 = arith.mulf %x, %x : tensor<128x64xf32, #wg>
  hyla_tile.store %x2, %o[%c0, %c0] dims [0, 1] : tensor<128x64xf32, #wg>, memref<128x64xf32>
  hyla_tile.store %b, %o[%c0, %c0] dims [0, 1] : tensor<128x64xf32, #wg>, memref<128x64xf32>
  %r:2 = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %x, %z = %x) -> (tensor<128x64xf32, #wg>, tensor<128x64xf32, #wg>) {
    %c = hyla_tile.dot %q, %k, %acc {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
    %y = arith.mulf %z, %z : tensor<128x64xf32, #wg>
    scf.yield %c, %y : tensor<128x64xf32, #wg>, tensor<128x64xf32, #wg>
  }
  hyla_tile.store %r#0, %o[%c0, %c0] dims [0, 1] : tensor<128x64xf32, #wg>, memref<128x64xf32>
  hyla_tile.store %r#1, %o[%c0, %c0] dims [0, 1] : tensor<128x64xf32, #wg>, memref<128x64xf32>
  return
}

// -----

// A block that already holds async products (a pipelined k loop) keeps its
// own accounting: its other products stay as they are.
// CHECK-LABEL: func.func @pipelined
// CHECK:         scf.for
// CHECK:           hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {async, transpose_b = true}
// CHECK-NEXT:      hyla_tile.dot %{{.*}}, %{{.*}}, %{{.*}} {transpose_b = true}
// CHECK-NEXT:      arith.mulf
#wg = #hyla_tile.mma<warpgroup>
#sh = #hyla_tile.shared
func.func @pipelined(%o: memref<128x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32, hyla_tile.overlap_products} {
  %c0 = arith.constant 0 : index
  %q = hyla_tile.ring_buffer %c0 of 1 at 0 : tensor<128x128xbf16, #sh>
  %k = hyla_tile.ring_buffer %c0 of 1 at 32768 : tensor<64x128xbf16, #sh>
  %pid = hyla_tile.program_id 0
  %pidi = arith.index_cast %pid : index to i32
  %pidf = arith.sitofp %pidi : i32 to f32
  %x = tensor.splat %pidf : tensor<128x64xf32, #wg>
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant dense<0.0> : tensor<128x64xf32, #wg>
  %r:2 = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %x, %acc2 = %x) -> (tensor<128x64xf32, #wg>, tensor<128x64xf32, #wg>) {
    %c = hyla_tile.dot %q, %k, %acc {async, transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
    %d = hyla_tile.dot %q, %k, %acc2 {transpose_b = true} : tensor<128x128xbf16, #sh>, tensor<64x128xbf16, #sh> -> tensor<128x64xf32, #wg>
    %y = arith.mulf %x, %x : tensor<128x64xf32, #wg>
    %d2 = arith.addf %d, %y : tensor<128x64xf32, #wg>
    scf.yield %c, %d2 : tensor<128x64xf32, #wg>, tensor<128x64xf32, #wg>
  }
  %w = hyla_tile.dot_wait %r#0 pending 0 : tensor<128x64xf32, #wg>
  hyla_tile.store %w, %o[%c0, %c0] dims [0, 1] : tensor<128x64xf32, #wg>, memref<128x64xf32>
  return
}
