// RUN: hyla-opt %s -split-input-file -hyla-tile-to-cpu -verify-diagnostics | FileCheck %s

// Program ids become trailing index arguments; a masked load is a
// tensor.generate with a bounds check; dot is a linalg contraction with f32
// accumulation; store loops over the tile and skips outside elements.
// CHECK-LABEL: func.func @kernel
// CHECK-SAME:    (%[[A:.*]]: memref<?x64xbf16>, %[[O:.*]]: memref<?x64xf32>, %[[P0:.*]]: index, %[[P1:.*]]: index, %[[P2:.*]]: index)
// CHECK-NOT:     hyla_tile.
// A prefetch is only a hint: gone on the CPU.
// CHECK:         %[[ROW:.*]] = arith.muli %[[P0]], %c16
// CHECK:         tensor.generate
// CHECK:           arith.cmpi sge
// CHECK:           arith.cmpi slt
// CHECK:           scf.if
// CHECK:             memref.load %[[A]]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.extf
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             tensor.extract
// CHECK:             scf.if
// CHECK:               memref.store {{.*}}, %[[O]]
func.func @kernel(%a: memref<?x64xbf16>, %o: memref<?x64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %p = hyla_tile.program_id 0
  %r = arith.muli %p, %c16 : index
  hyla_tile.prefetch %a[%r, %c0] dims [0, 1] shape [16, 64] : memref<?x64xbf16>
  %t = hyla_tile.load %a[%r, %c0] dims [0, 1] : memref<?x64xbf16> -> tensor<16x64xbf16>
  %z = arith.constant dense<0.0> : tensor<16x16xf32>
  %s = hyla_tile.dot %t, %t, %z {transpose_b = true} : tensor<16x64xbf16>, tensor<16x64xbf16> -> tensor<16x16xf32>
  hyla_tile.store %s, %o[%r, %c0] dims [0, 1] : tensor<16x16xf32>, memref<?x64xf32>
  return
}

// -----

// Reductions, broadcasts and iota map to linalg and tensor.generate; the
// triangular inverse is forward substitution over rows; cumsum a prefix sum.
// CHECK-LABEL: func.func @structured
// CHECK:         linalg.reduce
// CHECK:         linalg.broadcast
// CHECK:         tensor.generate
// CHECK:           arith.index_cast
// CHECK:         scf.for %{{.*}} = %c1 to %c8
// CHECK:         tensor.generate
// CHECK:           scf.for
func.func @structured(%o: memref<8x8xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %x = arith.constant dense<1.0> : tensor<8x8xf32>
  %m = hyla_tile.reduce max %x axis 1 : tensor<8x8xf32> -> tensor<8xf32>
  %b = hyla_tile.broadcast %m dims [0] : tensor<8xf32> -> tensor<8x8xf32>
  %i = hyla_tile.iota dim 0 : tensor<8x8xi32>
  %inv = hyla_tile.unit_lower_inverse %b : tensor<8x8xf32>
  %c = hyla_tile.cumsum %m axis 0 : tensor<8xf32>
  hyla_tile.store %inv, %o[%c0, %c0] dims [0, 1] : tensor<8x8xf32>, memref<8x8xf32>
  return
}

// -----

func.func @graph(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{hyla-tile-to-cpu runs on a module of kernels only}}
  %y = hyla.dispatch @k[%c1, %c1, %c1](%x) : (tensor<4xf32>) -> (tensor<4xf32>)
  return %y : tensor<4xf32>
}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

// cluster_sum where programs run one after another: each program
// recomputes its cluster's inputs (the load, with program id 2 set to each
// member's) and adds them in rank order; cluster_rank is the program's
// position in its cluster.
// CHECK-LABEL: func.func @cluster_sum
// CHECK-SAME:    (%[[IN:.*]]: memref<4x8xf32>, %{{.*}}: memref<8xf32>, %{{.*}}: index, %{{.*}}: index, %[[P2:.*]]: index)
// CHECK-NOT:     hyla_tile
// CHECK:         %[[WITHIN:.*]] = arith.remui %[[P2]], %c4
// CHECK:         %[[BASE:.*]] = arith.subi %[[P2]], %[[WITHIN]]
// CHECK:         %[[M0:.*]] = arith.addi %[[BASE]], %c0
// CHECK:         memref.load %[[IN]][%[[M0]],
// CHECK:         %[[M1:.*]] = arith.addi %[[BASE]], %c1
// CHECK:         memref.load %[[IN]][%[[M1]],
// CHECK:         %[[S1:.*]] = arith.addf %{{.*}}, %{{.*}} : tensor<8xf32>
// CHECK:         %[[M2:.*]] = arith.addi %[[BASE]], %c2
// CHECK:         %[[S2:.*]] = arith.addf %[[S1]], %{{.*}} : tensor<8xf32>
// CHECK:         %[[M3:.*]] = arith.addi %[[BASE]], %c3
// CHECK:         %[[S3:.*]] = arith.addf %[[S2]], %{{.*}} : tensor<8xf32>
// CHECK:         %[[RANK:.*]] = arith.remui %[[P2]], %c4
// CHECK:         scf.if
// CHECK:           memref.store
func.func @cluster_sum(%in: memref<4x8xf32>, %out: memref<8xf32>) attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 1, 4>} {
  %c0 = arith.constant 0 : index
  %p = hyla_tile.program_id 2
  %x = hyla_tile.load %in[%p, %c0] dims [1] : memref<4x8xf32> -> tensor<8xf32>
  %s = hyla_tile.cluster_sum %x : tensor<8xf32>
  %r = hyla_tile.cluster_rank
  %first = arith.cmpi eq, %r, %c0 : index
  scf.if %first {
    hyla_tile.store %s, %out[%c0] dims [0] : tensor<8xf32>, memref<8xf32>
  }
  return
}

// -----

// An input that depends on the kernel's own writes cannot be recomputed.
func.func @cluster_sum_after_store(%in: memref<4x8xf32>, %out: memref<8xf32>) attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 1, 4>} {
  %c0 = arith.constant 0 : index
  %p = hyla_tile.program_id 2
  %x = hyla_tile.load %in[%p, %c0] dims [1] : memref<4x8xf32> -> tensor<8xf32>
  %y = scf.execute_region -> tensor<8xf32> {
    // expected-note @+1 {{this op}}
    hyla_tile.store %x, %out[%c0] dims [0] : tensor<8xf32>, memref<8xf32>
    scf.yield %x : tensor<8xf32>
  }
  // expected-error @+1 {{input depends on an op that may write memory}}
  %s = hyla_tile.cluster_sum %y : tensor<8xf32>
  return
}
