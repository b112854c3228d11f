// RUN: hyla-opt %s -split-input-file -hyla-tile-fragment-layouts | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-tile-fragment-layouts=target=sm_100a | FileCheck %s --check-prefix=SM100

// A product masked by a causal iota comparison, scaled by a broadcast
// vector and stored as f32: every op computes on the fragments (the mask,
// the broadcast and the constant are rebuilt there) and no conversion is
// left.
// CHECK-LABEL: func.func @masked_product
// CHECK-NOT:     convert_layout
// CHECK:         hyla_tile.iota dim 0 : tensor<64x64xi32, #hyla_tile.mma>
// CHECK:         hyla_tile.broadcast {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         hyla_tile.dot {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         arith.select {{.*}} : tensor<64x64xi1, #hyla_tile.mma>, tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         hyla_tile.store {{.*}} : tensor<64x64xf32, #hyla_tile.mma>, memref<64x64xf32>
// CHECK-NOT:     convert_layout
func.func @masked_product(%q: memref<64x32xbf16>, %g: memref<64xf32>, %o: memref<64x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %a = hyla_tile.load %q[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
  %v = hyla_tile.load %g[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  %r = hyla_tile.iota dim 0 : tensor<64x64xi32>
  %c = hyla_tile.iota dim 1 : tensor<64x64xi32>
  %causal = arith.cmpi sge, %r, %c : tensor<64x64xi32>
  %s = hyla_tile.broadcast %v dims [0] : tensor<64xf32> -> tensor<64x64xf32>
  %d = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
  %m = arith.mulf %d, %s : tensor<64x64xf32>
  %x = arith.select %causal, %m, %z : tensor<64x64xi1>, tensor<64x64xf32>
  hyla_tile.store %x, %o[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// A carried state updated by a product (the GDN state step): the loop
// carries fragments, the start value is loaded straight into them, the
// state is stored and used as a dot operand from them, and the correction
// U - W S reads U into fragments.
// CHECK-LABEL: func.func @carried_state
// CHECK:         %[[S0:.*]] = hyla_tile.load %{{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         scf.for {{.*}} iter_args(%[[S:.*]] = %[[S0]]) -> (tensor<64x64xf32, #hyla_tile.mma>)
// CHECK:           hyla_tile.store %[[S]], {{.*}} : tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[U:.*]] = hyla_tile.load {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[WS:.*]] = hyla_tile.dot %{{.*}}, %[[S]], {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[V:.*]] = arith.subf %[[U]], %[[WS]] : tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[KV:.*]] = hyla_tile.dot %{{.*}}, %[[V]], {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[D:.*]] = arith.mulf %[[S]], {{.*}} : tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           %[[N:.*]] = arith.addf %[[D]], %[[KV]] : tensor<64x64xf32, #hyla_tile.mma>
// CHECK:           scf.yield %[[N]]
// CHECK-NOT:     convert_layout
// CHECK:         hyla_tile.store {{.*}} : tensor<64x64xf32, #hyla_tile.mma>
func.func @carried_state(%w: memref<?x64xf32>, %u: memref<?x64xf32>, %s0: memref<64x64xf32>, %hs: memref<?x64xf32>, %out: memref<64x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %decay = arith.constant dense<0.5> : tensor<64x64xf32>
  %init = hyla_tile.load %s0[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%s = %init) -> (tensor<64x64xf32>) {
    %row = arith.muli %i, %c64 : index
    hyla_tile.store %s, %hs[%row, %c0] dims [0, 1] : tensor<64x64xf32>, memref<?x64xf32>
    %wt = hyla_tile.load %w[%row, %c0] dims [0, 1] : memref<?x64xf32> -> tensor<64x64xf32>
    %ut = hyla_tile.load %u[%row, %c0] dims [0, 1] : memref<?x64xf32> -> tensor<64x64xf32>
    %ws = hyla_tile.dot %wt, %s, %z : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
    %v = arith.subf %ut, %ws : tensor<64x64xf32>
    %kv = hyla_tile.dot %wt, %v, %z {transpose_a = true} : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
    %d = arith.mulf %s, %decay : tensor<64x64xf32>
    %n = arith.addf %d, %kv : tensor<64x64xf32>
    scf.yield %n : tensor<64x64xf32>
  }
  hyla_tile.store %r, %out[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// A bf16 result is rounded on the fragments but stored from the thread
// layout (16-bit pairs would write half sectors), and a row reduction keeps
// the thread layout: one conversion before each.
// CHECK-LABEL: func.func @bf16_store_and_reduce
// CHECK:         %[[D:.*]] = hyla_tile.dot {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK-DAG:     %[[T:.*]] = arith.truncf %[[D]] : tensor<64x64xf32, #hyla_tile.mma> to tensor<64x64xbf16, #hyla_tile.mma>
// CHECK-DAG:     %[[TP:.*]] = hyla_tile.convert_layout %[[T]] : tensor<64x64xbf16, #hyla_tile.mma> -> tensor<64x64xbf16>
// CHECK-DAG:     %[[DP:.*]] = hyla_tile.convert_layout %[[D]] : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32>
// CHECK-DAG:     hyla_tile.reduce max %[[DP]] axis 1
// CHECK-DAG:     hyla_tile.store %[[TP]]
func.func @bf16_store_and_reduce(%q: memref<64x32xbf16>, %o: memref<64x64xbf16>, %mx: memref<64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %a = hyla_tile.load %q[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
  %d = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
  %t = arith.truncf %d : tensor<64x64xf32> to tensor<64x64xbf16>
  hyla_tile.store %t, %o[%c0, %c0] dims [0, 1] : tensor<64x64xbf16>, memref<64x64xbf16>
  %m = hyla_tile.reduce max %d axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  hyla_tile.store %m, %mx[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// A loaded tile with another user stays one load: the elementwise op that
// needs it in fragments keeps the thread layout.
// CHECK-LABEL: func.func @shared_load
// CHECK:         hyla_tile.load %{{.*}} -> tensor<64x64xf32>
// CHECK:         %[[D:.*]] = hyla_tile.dot {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
// CHECK:         %[[DP:.*]] = hyla_tile.convert_layout %[[D]]
// CHECK:         arith.addf %{{.*}}, %[[DP]] : tensor<64x64xf32>
func.func @shared_load(%q: memref<64x32xbf16>, %x: memref<64x64xf32>, %o: memref<64x64xf32>, %p: memref<64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %a = hyla_tile.load %q[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
  %l = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %d = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32>
  %s = arith.addf %l, %d : tensor<64x64xf32>
  %r = hyla_tile.reduce sum %l axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  hyla_tile.store %r, %p[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  hyla_tile.store %s, %o[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// 96 x 64 over 16 warps splits evenly only into strips of one n tile (each
// A fragment would feed a single mma.sync): the product keeps the thread
// layout.
// CHECK-LABEL: func.func @narrow_strips
// CHECK-NOT:     #hyla_tile.mma
func.func @narrow_strips(%k: memref<64x96xf32>, %v: memref<64x64xf32>, %o: memref<96x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 16 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<96x64xf32>
  %a = hyla_tile.load %k[%c0, %c0] dims [0, 1] : memref<64x96xf32> -> tensor<64x96xf32>
  %b = hyla_tile.load %v[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %d = hyla_tile.dot %a, %b, %z {transpose_a = true} : tensor<64x96xf32>, tensor<64x64xf32> -> tensor<96x64xf32>
  hyla_tile.store %d, %o[%c0, %c0] dims [0, 1] : tensor<96x64xf32>, memref<96x64xf32>
  return
}

// -----

// On sm_90a a dot that fits one warpgroup (64 rows over 4 warps, K = 96 f32
// in whole 32-element swizzle rows) produces wgmma fragments whatever its
// operands' orientation, and its uses follow as for mma.sync fragments:
// the loaded U is built in them, the difference stored from them and fed
// as the next dot's operand. sm_100a has no wgmma: mma.sync fragments.
// CHECK-LABEL: func.func @warpgroup_chain
// CHECK-NOT:     convert_layout
// CHECK-DAG:     %[[D:.*]] = hyla_tile.dot {{.*}} {transpose_b = true} : tensor<64x96xf32>, tensor<64x96xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK-DAG:     %[[U:.*]] = hyla_tile.load {{.*}} -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK:         %[[X:.*]] = arith.subf %[[U]], %[[D]] : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
// CHECK:         hyla_tile.store %[[X]], {{.*}} : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>, memref<64x64xf32>
// CHECK:         hyla_tile.dot %[[X]], {{.*}} {transpose_a = true} : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>, tensor<64x96xf32> -> tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
// SM100-LABEL: func.func @warpgroup_chain
// SM100-NOT:     warpgroup
// SM100:         hyla_tile.dot {{.*}} -> tensor<64x64xf32, #hyla_tile.mma>
func.func @warpgroup_chain(%w: memref<64x96xf32>, %s: memref<64x96xf32>, %u: memref<64x64xf32>, %d: memref<64x64xf32>, %o: memref<64x96xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %z2 = arith.constant dense<0.0> : tensor<64x96xf32>
  %wt = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<64x96xf32> -> tensor<64x96xf32>
  %st = hyla_tile.load %s[%c0, %c0] dims [0, 1] : memref<64x96xf32> -> tensor<64x96xf32>
  %ut = hyla_tile.load %u[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %p = hyla_tile.dot %wt, %st, %z {transpose_b = true} : tensor<64x96xf32>, tensor<64x96xf32> -> tensor<64x64xf32>
  %x = arith.subf %ut, %p : tensor<64x64xf32>
  hyla_tile.store %x, %d[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  %n = hyla_tile.dot %x, %wt, %z2 {transpose_a = true} : tensor<64x64xf32>, tensor<64x96xf32> -> tensor<64x96xf32>
  hyla_tile.store %n, %o[%c0, %c0] dims [0, 1] : tensor<64x96xf32>, memref<64x96xf32>
  return
}
