// RUN: hyla-opt %s -split-input-file -hyla-early-inputs | FileCheck %s

// The first dispatch of a function reads nothing early (the grid before it
// is unknown); the second may read the function argument and the weight
// early, not the first dispatch's result (through a reshape).
// CHECK-LABEL: func.func @chain
// CHECK:         hyla.dispatch @scale[
// CHECK:         hyla.dispatch @add[
// CHECK:       func.func @scale(%{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>) attributes {hyla_tile.kernel} {
// CHECK:       func.func @add({{.*}}) attributes {hyla_tile.early_args = array<i64: 1, 2>, hyla_tile.kernel}
func.func @chain(%x: tensor<8xf32>, %w: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %c1 = arith.constant 1 : index
  %y = hyla.dispatch @scale[%c1, %c1, %c1](%x) : (tensor<8xf32>) -> (tensor<8xf32>)
  %y2 = tensor.expand_shape %y [[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
  %x2 = tensor.expand_shape %x [[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
  %z = hyla.dispatch @add[%c1, %c1, %c1](%y2, %x2, %w) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> (tensor<2x4xf32>)
  return %z : tensor<2x4xf32>
}
func.func @scale(%a: memref<8xf32>, %o: memref<8xf32>) attributes {hyla_tile.kernel} {
  return
}
func.func @add(%a: memref<2x4xf32>, %b: memref<2x4xf32>, %w: memref<2x4xf32>, %o: memref<2x4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

// A buffer the dispatch before updates in place is not early, also when
// read through a reshape of the original tensor.
// CHECK-LABEL: func.func @in_place
// CHECK:       func.func @reader({{.*}}) attributes {hyla_tile.early_args = array<i64: 1>, hyla_tile.kernel}
func.func @in_place(%cache: tensor<8xf32>, %x: tensor<8xf32>) -> (tensor<8xf32>, tensor<2x4xf32>) {
  %c1 = arith.constant 1 : index
  %new = hyla.dispatch @update[%c1, %c1, %c1](%cache) {tied_results = array<i64: 0>} : (tensor<8xf32>) -> (tensor<8xf32>)
  %view = tensor.expand_shape %cache [[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
  %r = hyla.dispatch @reader[%c1, %c1, %c1](%view, %x) : (tensor<2x4xf32>, tensor<8xf32>) -> (tensor<2x4xf32>)
  return %new, %r : tensor<8xf32>, tensor<2x4xf32>
}
func.func @update(%a: memref<8xf32>, %o: memref<8xf32>) attributes {hyla_tile.kernel} {
  return
}
func.func @reader(%a: memref<2x4xf32>, %b: memref<8xf32>, %o: memref<2x4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

// Dispatches of one kernel that disagree: the first keeps the kernel, the
// other gets a copy named with its early inputs.
// CHECK-LABEL: func.func @first
// CHECK:         hyla.dispatch @scale[
// CHECK-LABEL: func.func @second
// CHECK:         hyla.dispatch @scale[
// CHECK:         hyla.dispatch @scale_early0[
// CHECK:       func.func @scale(%{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>) attributes {hyla_tile.kernel}
// CHECK:       func.func @scale_early0({{.*}}) attributes {hyla_tile.early_args = array<i64: 0>, hyla_tile.kernel}
func.func @first(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c1 = arith.constant 1 : index
  %y = hyla.dispatch @scale[%c1, %c1, %c1](%x) : (tensor<8xf32>) -> (tensor<8xf32>)
  return %y : tensor<8xf32>
}
func.func @second(%x: tensor<8xf32>, %u: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %c1 = arith.constant 1 : index
  %y = hyla.dispatch @scale[%c1, %c1, %c1](%x) : (tensor<8xf32>) -> (tensor<8xf32>)
  %z = hyla.dispatch @scale[%c1, %c1, %c1](%u) : (tensor<8xf32>) -> (tensor<8xf32>)
  return %y, %z : tensor<8xf32>, tensor<8xf32>
}
func.func @scale(%a: memref<8xf32>, %o: memref<8xf32>) attributes {hyla_tile.kernel} {
  return
}
