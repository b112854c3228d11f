// RUN: not hyla-opt %s -hyla-tile-to-gpu=target=sm_80 2>&1 | FileCheck %s
// CHECK: hyla-tile-to-gpu: unknown target 'sm_80' (known: sm_90a, sm_100a)
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel} {
  return
}
