// RUN: hyla-opt %s -split-input-file -verify-diagnostics
// One case per hyla_tile verifier message.

// expected-error @+1 {{'hyla_tile.kernel' may only be set on a func.func}}
module attributes {hyla_tile.kernel} {
}

// -----

// expected-error @+1 {{kernel @k must not return values}}
func.func @k(%a: memref<4xf32>) -> i32 attributes {hyla_tile.kernel} {
  %c = arith.constant 0 : i32
  return %c : i32
}

// -----

// expected-error @+1 {{kernel @k argument 0 must be a memref with the identity layout, got 'tensor<4xf32>'}}
func.func @k(%a: tensor<4xf32>) attributes {hyla_tile.kernel} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.early_args' must list argument numbers in increasing order, below 2, got 2}}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 0, 2>} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.early_args' must list argument numbers in increasing order, below 2, got 0}}
func.func @k(%a: memref<4xf32>, %b: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.early_args = array<i64: 1, 0>} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.overlap_products' must be a unit attribute on a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.overlap_products} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.overlap_products' must be a unit attribute on a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.overlap_products = 1 : i32} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.early_args' must be an array<i64> on a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.early_args = array<i64: 0>} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_warps' must be a power of two from 1 to 16, got 3}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 3 : i32} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_warps' must be an i32 attribute}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i64} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_warps' is set on an op that is not a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.num_warps = 4 : i32} {
  return
}

// -----

// expected-error @+1 {{unknown hyla_tile attribute 'hyla_tile.speed'}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.speed = 1 : i32} {
  return
}

// -----

func.func @load_offsets(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs one offset per memref dim (2) but has 1}}
  %t = hyla_tile.load %a[%c0] dims [1] : memref<?x64xf32> -> tensor<64xf32>
  return
}

// -----

func.func @load_dims_count(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{dims must name one memref dim per tile dim (2) but names 1}}
  %t = hyla_tile.load %a[%c0, %c0] dims [1] : memref<?x64xf32> -> tensor<8x64xf32>
  return
}

// -----

func.func @load_dims_range(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{dims[0] = 2 is not a dim of the rank-2 memref}}
  %t = hyla_tile.load %a[%c0, %c0] dims [2] : memref<?x64xf32> -> tensor<64xf32>
  return
}

// -----

func.func @load_dims_repeated(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{dims[1] = 1 names a memref dim already mapped}}
  %t = hyla_tile.load %a[%c0, %c0] dims [1, 1] : memref<?x64xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @store_type(%a: memref<?x64xf32>, %v: tensor<64xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile element type 'bf16' differs from memref element type 'f32'}}
  hyla_tile.store %v, %a[%c0, %c0] dims [1] : tensor<64xbf16>, memref<?x64xf32>
  return
}

// -----

func.func @dot_rank(%a: tensor<64xbf16>, %acc: tensor<64x64xf32>) {
  // expected-error @+1 {{a must be a 2-D tile but has rank 1}}
  %r = hyla_tile.dot %a, %a, %acc : tensor<64xbf16>, tensor<64xbf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @dot_types(%a: tensor<64x32xbf16>, %b: tensor<32x64xf16>, %acc: tensor<64x64xf32>) {
  // expected-error @+1 {{a and b must share an element type, got 'bf16' and 'f16'}}
  %r = hyla_tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<32x64xf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @dot_k(%a: tensor<64x32xbf16>, %b: tensor<16x64xbf16>, %acc: tensor<64x64xf32>) {
  // expected-error @+1 {{contraction sizes differ: a gives K = 32, b gives K = 16}}
  %r = hyla_tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<16x64xbf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @dot_acc(%a: tensor<64x32xbf16>, %b: tensor<32x16xbf16>, %acc: tensor<64x64xf32>) {
  // expected-error @+1 {{acc must be 64x16 but is 64x64}}
  %r = hyla_tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<32x16xbf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @reduce_axis(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{axis 2 is not a dim of the rank-2 input}}
  %r = hyla_tile.reduce sum %x axis 2 : tensor<64x32xf32> -> tensor<64xf32>
  return
}

// -----

func.func @reduce_shape(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{result shape must be the input shape without axis 1 but is 'tensor<32xf32>'}}
  %r = hyla_tile.reduce sum %x axis 1 : tensor<64x32xf32> -> tensor<32xf32>
  return
}

// -----

func.func @reduce_int(%x: tensor<64x32xi32>) {
  // expected-error @+1 {{reduces float tiles only}}
  %r = hyla_tile.reduce sum %x axis 1 : tensor<64x32xi32> -> tensor<64xi32>
  return
}

// -----

func.func @broadcast_count(%x: tensor<64xf32>) {
  // expected-error @+1 {{dims must map each of the 1 input dims but has 2 entries}}
  %r = hyla_tile.broadcast %x dims [0, 1] : tensor<64xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @broadcast_size(%x: tensor<64xf32>) {
  // expected-error @+1 {{input dim 0 (64) must equal result dim 1 (32)}}
  %r = hyla_tile.broadcast %x dims [1] : tensor<64xf32> -> tensor<64x32xf32>
  return
}

// -----

func.func @broadcast_range(%x: tensor<64xf32>) {
  // expected-error @+1 {{dims[0] = 2 is not a dim of the rank-2 result}}
  %r = hyla_tile.broadcast %x dims [2] : tensor<64xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @iota_dim() {
  // expected-error @+1 {{dim 2 is not a dim of the rank-2 result}}
  %i = hyla_tile.iota dim 2 : tensor<8x8xi32>
  return
}

// -----

func.func @cumsum_axis(%x: tensor<64xf32>) {
  // expected-error @+1 {{axis 1 is not a dim of the rank-1 input}}
  %c = hyla_tile.cumsum %x axis 1 : tensor<64xf32>
  return
}

// -----

func.func @inverse_square(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{input must be a square 2-D tile, got 'tensor<64x32xf32>'}}
  %c = hyla_tile.unit_lower_inverse %x : tensor<64x32xf32>
  return
}

// -----

func.func @reshape_size(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{cannot reshape 2048 elements into 1024}}
  %c = hyla_tile.reshape %x : tensor<64x32xf32> -> tensor<1024xf32>
  return
}

// -----

// expected-error @+1 {{'hyla_tile.kernel' must be a unit attribute}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel = 1 : i32} {
  return
}

// -----

func.func @store_offsets(%a: memref<?x64xf32>, %v: tensor<64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs one offset per memref dim (2) but has 3}}
  hyla_tile.store %v, %a[%c0, %c0, %c0] dims [1] : tensor<64xf32>, memref<?x64xf32>
  return
}

// -----

func.func @reduce_type(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{result element type must match the input}}
  %r = hyla_tile.reduce sum %x axis 1 : tensor<64x32xf32> -> tensor<64xf16>
  return
}

// -----

func.func @broadcast_order(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{dims must be strictly increasing}}
  %r = hyla_tile.broadcast %x dims [2, 0] : tensor<4x4xf32> -> tensor<4x4x4xf32>
  return
}

// -----

func.func @broadcast_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{result element type must match the input}}
  %r = hyla_tile.broadcast %x dims [0] : tensor<4xf32> -> tensor<4x4xf16>
  return
}

// -----

func.func @reshape_type(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{result element type must match the input}}
  %r = hyla_tile.reshape %x : tensor<4x4xf32> -> tensor<16xf16>
  return
}

// -----

func.func @dot_acc_rank(%a: tensor<16x16xbf16>, %acc: tensor<256xf32>) {
  // expected-error @+1 {{acc must be a 2-D tile but has rank 1}}
  %r = hyla_tile.dot %a, %a, %acc : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<256xf32>
  return
}

// -----

func.func @reduce_negative_axis(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{axis -1 is not a dim of the rank-2 input}}
  %r = hyla_tile.reduce sum %x axis -1 : tensor<64x32xf32> -> tensor<64xf32>
  return
}

// -----

func.func @prefetch_shape(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{shape sizes must be positive}}
  hyla_tile.prefetch %a[%c0, %c0] dims [0, 1] shape [0, 64] : memref<?x64xf32>
  return
}

// -----

func.func @prefetch_dims(%a: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{dims must name one memref dim per tile dim (2) but names 1}}
  hyla_tile.prefetch %a[%c0, %c0] dims [1] shape [4, 64] : memref<?x64xf32>
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_stages' must be from 2 to 8, got 1}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.num_stages = 1 : i32} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_stages' is set on an op that is not a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.num_stages = 3 : i32} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.num_stages' must be an i32 attribute}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.num_stages = 3 : i64} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.min_programs_per_sm' must be from 1 to 32, got 0}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.min_programs_per_sm = 0 : i32} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.min_programs_per_sm' must be an i32 attribute}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.kernel, hyla_tile.min_programs_per_sm = 4 : i64} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.min_programs_per_sm' is set on an op that is not a kernel}}
func.func @k(%a: memref<4xf32>) attributes {hyla_tile.min_programs_per_sm = 4 : i32} {
  return
}

// -----

func.func @load_bounds(%m: memref<?x8xf32>) {
  %i = arith.constant 0 : index
  // expected-error @+1 {{needs one bound per memref dim (2), got 1}}
  %t = hyla_tile.load %m[%i, %i] bounds[%i] dims [0, 1] : memref<?x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @store_bounds(%m: memref<?x8xf32>, %t: tensor<4x8xf32>) {
  %i = arith.constant 0 : index
  // expected-error @+1 {{needs one bound per memref dim (2), got 3}}
  hyla_tile.store %t, %m[%i, %i] bounds[%i, %i, %i] dims [0, 1] : tensor<4x8xf32>, memref<?x8xf32>
  return
}

// -----

func.func @convert_layout_shape(%t: tensor<64x64xf32>) {
  // expected-error @+1 {{result shape must match the input}}
  %f = hyla_tile.convert_layout %t : tensor<64x64xf32> -> tensor<64x32xf32, #hyla_tile.mma>
  return
}

// -----

func.func @convert_layout_same(%t: tensor<64x64xf32>) {
  // expected-error @+1 {{converts a tile to the layout it already has}}
  %f = hyla_tile.convert_layout %t : tensor<64x64xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @convert_layout_fragments(%t: tensor<64x64xf32, #hyla_tile.mma>) {
  // expected-error @+1 {{converts between two fragment layouts; one side must be the thread layout (no encoding)}}
  %f = hyla_tile.convert_layout %t : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  return
}

// -----

func.func @mma_encoding_keyword(%t: tensor<64x64xf32>) {
  // expected-error @+1 {{expected 'warpgroup'}}
  %f = hyla_tile.convert_layout %t : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma<warp>>
  return
}

// -----

func.func @convert_layout_rank(%t: tensor<4096xf32>) {
  // expected-error @+1 {{#hyla_tile.mma needs a 2-D tile}}
  %f = hyla_tile.convert_layout %t : tensor<4096xf32> -> tensor<4096xf32, #hyla_tile.mma>
  return
}

// -----

func.func @convert_layout_encoding(%t: tensor<64x64xf32>) {
  // expected-error @+1 {{unknown tile encoding "other"}}
  %f = hyla_tile.convert_layout %t : tensor<64x64xf32> -> tensor<64x64xf32, "other">
  return
}

// -----

func.func @async_load_encoding(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{result must be encoded #hyla_tile.shared}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x128xbf16> -> tensor<64x64xbf16>
  return
}

// -----

func.func @async_load_rank(%x: memref<?x4x128xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{buffers hold 2-D tiles of 16- or 32-bit elements only}}
  %a = hyla_tile.async_load %x[%c0, %c0, %c0] dims [0, 1, 2] stage %c0 of 2 at 0 : memref<?x4x128xf32> -> tensor<8x4x32xf32, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_f32_row(%x: memref<?x128xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile rows must be whole 128-byte swizzle rows (a multiple of 32 elements), got 16}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x128xf32> -> tensor<64x16xf32, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_strided_rows(%x: memref<?x4x128xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile rows must run along the memref's last (contiguous) dim 2, got dims [2, 0]}}
  %a = hyla_tile.async_load %x[%c0, %c0, %c0] dims [2, 0] stage %c0 of 2 at 0 : memref<?x4x128xf32> -> tensor<64x32xf32, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_chunks(%x: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{the memref's last dim must be static and a multiple of 16 bytes (whole copy chunks per row)}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x?xf32> -> tensor<64x32xf32, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_row(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile rows must be whole 128-byte swizzle rows (a multiple of 64 elements), got 32}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x128xbf16> -> tensor<64x32xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_offset(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{buffer offset must be a non-negative multiple of 1024 bytes (the swizzle atom), got 512}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 512 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_stages(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs at least one stage, got 0}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 0 at 0 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_offsets(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs one offset per memref dim (2) but has 1}}
  %a = hyla_tile.async_load %x[%c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_dot_layout(%a: tensor<64x64xbf16>, %z: tensor<64x64xf32>) {
  // expected-error @+1 {{an async dot must produce #hyla_tile.mma<warpgroup> fragments}}
  %d = hyla_tile.dot %a, %a, %z {async} : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @dot_wait_layout(%z: tensor<64x64xf32, #hyla_tile.mma>) {
  // expected-error @+1 {{waits for #hyla_tile.mma<warpgroup> fragments only}}
  %d = hyla_tile.dot_wait %z pending 0 : tensor<64x64xf32, #hyla_tile.mma>
  return
}

// -----

func.func @async_load_barriers(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{barriers offset must be a non-negative multiple of 8 bytes, got 12}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 12 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_tensor_map_rows(%x: memref<?x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{copies through a tensor map take at most 256 rows, got 512}}
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 0 : memref<?x128xbf16> -> tensor<512x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @async_load_tensor_map_rank(%x: memref<?x2x2x2x2x128xbf16>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{copies through a tensor map read memrefs of rank 5 at most, got 6}}
  %a = hyla_tile.async_load %x[%c0, %c0, %c0, %c0, %c0, %c0] dims [0, 5] stage %c0 of 2 at 0 barriers at 0 : memref<?x2x2x2x2x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

func.func @reserved_shared(%x: memref<?xf32>) attributes {hyla_tile.kernel, hyla_tile.reserved_shared = 512 : i32} {
  // expected-error @-1 {{'hyla_tile.reserved_shared' must be a multiple of 1024 (the swizzle atom), got 512}}
  return
}

// -----

func.func @init_barriers_offset() {
  // expected-error @+1 {{offset must be a non-negative multiple of 8 bytes, got 4}}
  hyla_tile.init_barriers 2 at 4
  return
}

// -----

func.func @init_barriers_count() {
  // expected-error @+1 {{attribute 'count' failed to satisfy constraint}}
  hyla_tile.init_barriers 0 at 8
  return
}

// -----

func.func @barrier_wait_offset(%s: index) {
  // expected-error @+1 {{offset must be a non-negative multiple of 8 bytes, got 3}}
  hyla_tile.barrier_wait %s phase %s at 3
  return
}

// -----

func.func @inval_barriers_offset() {
  // expected-error @+1 {{offset must be a non-negative multiple of 8 bytes, got 20}}
  hyla_tile.inval_barriers 2 at 20
  return
}

// -----

func.func @barrier_arrive_offset(%s: index) {
  // expected-error @+1 {{offset must be a non-negative multiple of 8 bytes, got 12}}
  hyla_tile.barrier_arrive %s at 12
  return
}

// -----

func.func @init_barriers_arrivals() {
  // expected-error @+1 {{attribute 'arrivals' failed to satisfy constraint}}
  hyla_tile.init_barriers 2 at 8 arrivals 0
  return
}

// -----

func.func @ring_buffer_offset(%s: index) {
  // expected-error @+1 {{buffer offset must be a non-negative multiple of 1024 bytes (the swizzle atom), got 512}}
  %b = hyla_tile.ring_buffer %s of 2 at 512 : tensor<64x96xf32, #hyla_tile.shared>
  return
}

// -----

func.func @ring_buffer_layout(%s: index) {
  // expected-error @+1 {{result must be encoded #hyla_tile.shared}}
  %b = hyla_tile.ring_buffer %s of 2 at 0 : tensor<64x96xf32>
  return
}

// -----

func.func @ring_buffer_rows(%s: index) {
  // expected-error @+1 {{tile rows must be whole 128-byte swizzle rows (a multiple of 32 elements), got 48}}
  %b = hyla_tile.ring_buffer %s of 2 at 0 : tensor<64x48xf32, #hyla_tile.shared>
  return
}

// -----

func.func @produce_outside_kernel() {
  // expected-error @+1 {{must be in the entry block of a hyla_tile.kernel}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_partial_warpgroup() attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  // expected-error @+1 {{needs whole warpgroups (warps a multiple of 4), got 6}}
  hyla_tile.produce warps 6 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_registers() attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  // expected-error @+1 {{consumer_registers must be a multiple of 8 in [24, 256] (PTX setmaxnreg), got 230}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 230 {
  }
  return
}

// -----

func.func @produce_consumers_not_warpgroups() attributes {hyla_tile.kernel, hyla_tile.num_warps = 2 : i32} {
  // expected-error @+1 {{needs a kernel of whole warpgroups (hyla_tile.num_warps a multiple of 4), got 2}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_too_many_warps() attributes {hyla_tile.kernel, hyla_tile.num_warps = 16 : i32} {
  // expected-error @+1 {{would launch 36 warps; a program has at most 32}}
  hyla_tile.produce warps 20 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_after_memory_op(%x: memref<?x96xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  // expected-note @+1 {{this op has memory effects}}
  %t = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x96xf32> -> tensor<64x96xf32>
  // expected-error @+1 {{must come before every op with memory effects but hyla_tile.init_barriers and hyla_tile.wait_prior_grid (ops before it run on the producer warps too)}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_twice() attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  // expected-error @+1 {{must be the kernel's only hyla_tile.produce}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
  }
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
  }
  return
}

// -----

func.func @produce_cp_async(%x: memref<?x96xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{runs on one thread: its async_load copies must complete on mbarriers (`barriers at`), not cp.async}}
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
    %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
  }
  return
}

// -----

func.func @barrier_wait_local_leader(%s: index) {
  // expected-error @+1 {{is either local (every thread waits) or leader (one thread waits), not both}}
  hyla_tile.barrier_wait %s phase %s at 64 local leader
  return
}

// -----

func.func @cluster_sum_outside_cluster() attributes {hyla_tile.kernel} {
  %x = arith.constant dense<1.0> : tensor<64x16xf32>
  // expected-error @+1 {{needs a kernel with 'hyla_tile.cluster_dims'}}
  %s = hyla_tile.cluster_sum %x : tensor<64x16xf32>
  return
}

// -----

func.func @cluster_rank_outside_cluster() attributes {hyla_tile.kernel} {
  // expected-error @+1 {{needs a kernel with 'hyla_tile.cluster_dims'}}
  %r = hyla_tile.cluster_rank
  return
}

// -----

// expected-error @+1 {{'hyla_tile.cluster_dims' asks for 16 programs a cluster; at most 8}}
func.func @cluster_too_big() attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 2, 8>} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.cluster_dims' sizes must be positive, got 0}}
func.func @cluster_empty() attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 0, 8>} {
  return
}

// -----

// expected-error @+1 {{'hyla_tile.cluster_dims' must be an array<i64> of 3 on a kernel}}
func.func @cluster_two_dims() attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 8>} {
  return
}
