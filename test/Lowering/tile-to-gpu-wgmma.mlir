// RUN: hyla-opt %s -split-input-file -hyla-tile-to-gpu -verify-diagnostics | FileCheck %s
// RUN: not hyla-opt %s -split-input-file -hyla-tile-to-gpu=target=sm_100a 2>&1 | FileCheck %s --check-prefix=SM100

// A #hyla_tile.mma<warpgroup> accumulator on sm_90a: 128 x 128 over 8 warps
// is one 16 x 128 strip per warp (64 values). Each dot stores both operands
// 128-byte swizzled (chunk ^ row % 8), fences them into the async proxy,
// and each warpgroup issues one m64n128k16 wgmma per 16 of K = 64 through
// descriptors (stride 1024 bytes between 8-row groups, swizzle mode 1),
// then waits for them. Shared memory: the operands (2 x 16 KiB) or the
// final convert_layout (128 rows of 132 f32), whichever is larger.
// CHECK-LABEL: gpu.func @wgmma_accumulator
// CHECK-SAME:    hyla.shared_memory_bytes = 67584
// CHECK:         scf.for {{.*}} -> (vector<64xf32>)
// CHECK:           gpu.barrier
// CHECK:           arith.xori {{.*}} : vector<32xi32>
// CHECK:           nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:      gpu.barrier
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK:           arith.constant 4611686293305360384 : i64
// CHECK-COUNT-4:   nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           scf.yield {{.*}} : vector<64xf32>
// SM100: error: 'hyla_tile.dot' op has a #hyla_tile.mma<warpgroup> result, but sm_100a has no wgmma
func.func @wgmma_accumulator(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>) {
    %a = hyla_tile.load %x[%c0, %k] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %b = hyla_tile.load %w[%c0, %k] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  }
  %t = hyla_tile.convert_layout %r : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// One warpgroup, 128 rows: each warp holds two strips (rows 16w and
// 64 + 16w), the warpgroup issues two wgmma per k step, and K = 128 spans
// two 64-element swizzle column blocks.
// CHECK-LABEL: gpu.func @wgmma_two_blocks
// CHECK:         scf.for {{.*}} -> (vector<64xf32>)
// CHECK-COUNT-16:  nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
func.func @wgmma_two_blocks(%x: memref<?x256xbf16>, %w: memref<64x256xbf16>, %y: memref<?x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %k = %c0 to %c256 step %c128 iter_args(%acc = %z) -> (tensor<128x64xf32, #hyla_tile.mma<warpgroup>>) {
    %a = hyla_tile.load %x[%c0, %k] dims [0, 1] : memref<?x256xbf16> -> tensor<128x128xbf16>
    %b = hyla_tile.load %w[%c0, %k] dims [0, 1] : memref<64x256xbf16> -> tensor<64x128xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x128xbf16>, tensor<64x128xbf16> -> tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d : tensor<128x64xf32, #hyla_tile.mma<warpgroup>>
  }
  %t = hyla_tile.convert_layout %r : tensor<128x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x64xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x64xf32>, memref<?x64xf32>
  return
}

// -----

// Operands from registers may lie either way along k: the lowering writes
// them k-contiguous (here A given [k][m], B [k][n], f32 rounded to tf32)
// and runs m64n64k8 tf32 wgmma, 64 / 8 = 8 k steps. The accumulator is
// zero: the first step ignores the registers (scale-d 0).
// CHECK-LABEL: gpu.func @wgmma_tf32_transposed
// CHECK-COUNT-64: nvvm.convert.float.to.tf32 {{.*}}<rna>
// CHECK:         nvvm.fence.proxy
// CHECK:         nvvm.wgmma.fence.aligned
// CHECK:         nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 8>, D[<f32>, <zero>], A[<tf32>, <one>, <row>], B[<tf32>, <one>, <col>]
// CHECK-COUNT-7: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 8>, D[<f32>, <one>], A[<tf32>, <one>, <row>], B[<tf32>, <one>, <col>]
// CHECK:         nvvm.wgmma.commit.group.sync.aligned
// CHECK-NOT:     nvvm.wgmma.mma_async
func.func @wgmma_tf32_transposed(%x: memref<64x64xf32>, %w: memref<64x64xf32>, %y: memref<64x64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %b = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32>
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %d = hyla_tile.dot %a, %b, %z {transpose_a = true} : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %t = hyla_tile.convert_layout %d : tensor<64x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// A tf32 k step is 8 elements, but the swizzled rows hold 32: K = 48 is an
// error, not a silently partial product.
func.func @wgmma_tf32_partial_row(%x: memref<64x48xf32>, %w: memref<64x48xf32>, %y: memref<64x64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<64x48xf32> -> tensor<64x48xf32>
  %b = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<64x48xf32> -> tensor<64x48xf32>
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  // expected-error @+1 {{cannot run on wgmma: needs bf16/f16 (K % 64 == 0) or f32 (K % 32 == 0) operands, and M x N fitting whole warpgroups; got M=64 N=64 K=48 with 4 warps}}
  %d = hyla_tile.dot %a, %b, %z {transpose_b = true} : tensor<64x48xf32>, tensor<64x48xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %t = hyla_tile.convert_layout %d : tensor<64x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// Two warps are half a warpgroup.
func.func @wgmma_half_warpgroup(%y: memref<64x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 2 : i32} {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{tile 'tensor<64x64xf32, #hyla_tile.mma<warpgroup>>' cannot be held as wgmma fragments by 2 warps (needs whole warpgroups sharing its 64-row blocks evenly, N % 8 == 0 and N <= 256)}}
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %t = hyla_tile.convert_layout %z : tensor<64x64xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// Operands copied by async_load: each thread issues 16-byte cp.async (zero
// bytes, so zero-fill, outside the memref) into the swizzled buffer of the
// carried stage and commits one group per copy; async_wait waits, fences
// into the async proxy and synchronizes; the dot reads the buffers where
// they are (no stores, no barrier of its own). The shared-tile values are
// the buffers' 32-bit addresses. Shared memory: two rings of 2 x 16 KiB,
// or the final convert_layout (67584 bytes).
// CHECK-LABEL: gpu.func @async_operands
// CHECK-SAME:    hyla.shared_memory_bytes = 67584
// CHECK:         llvm.intr.trap
// CHECK-COUNT-4: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg, {{.*}}
// CHECK-NEXT:    nvvm.cp.async.commit.group
// CHECK:         scf.for {{.*}} -> (vector<64xf32>, i32, i32, index)
// CHECK:           nvvm.cp.async.wait.group 0
// CHECK-NEXT:      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:      gpu.barrier
// CHECK-COUNT-4:   nvvm.cp.async.shared.global
// CHECK:           nvvm.cp.async.commit.group
// CHECK-NOT:       gpu.barrier
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-4:   nvvm.wgmma.mma_async
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           scf.yield
// CHECK:         nvvm.cp.async.wait.group 0
func.func @async_operands(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
  %b0 = hyla_tile.async_load %w[%c0, %c0] dims [0, 1] stage %c0 of 2 at 32768 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
  %r:4 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0, %s = %c0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared>, index) {
    hyla_tile.async_wait 0
    %ns = arith.subi %c1, %s : index
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.async_load %x[%c0, %next] dims [0, 1] stage %ns of 2 at 0 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %bn = hyla_tile.async_load %w[%c0, %next] dims [0, 1] stage %ns of 2 at 32768 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn, %ns : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared>, index
  }
  hyla_tile.async_wait 0
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}


// -----

// Operands copied through tensor maps: each memref a TMA copy reads gets a
// tensor-map parameter after its dims (listed in hyla.tensor_maps with its
// 128 x 64 box); thread 0 initializes the four mbarriers and fences them
// for the async proxy before a barrier; each copy is thread 0 announcing
// 16 KiB on its stage's barrier, then one cp.async.bulk.tensor of the
// 64-column block into the buffer (as a shared::cluster address) with the
// column, row coordinates; each wait polls the parity then synchronizes;
// invalidation sits between two barriers.
// CHECK-LABEL: gpu.func @tma_operands
// CHECK-SAME:    (%{{.*}}: !llvm.ptr<1>, %{{.*}}: i64, %[[XMAP:.*]]: !llvm.ptr, %{{.*}}: !llvm.ptr<1>, %[[WMAP:.*]]: !llvm.ptr, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i64)
// CHECK-SAME:    hyla.tensor_maps = [{arg = 0 : i64, box = array<i64: 128, 64>, param = 2 : i64, swizzle = 128 : i64}, {arg = 1 : i64, box = array<i64: 128, 64>, param = 4 : i64, swizzle = 128 : i64}]
// CHECK:         scf.if
// CHECK-COUNT-4:   nvvm.mbarrier.init
// CHECK-NEXT:      nvvm.fence.mbarrier.init
// CHECK:         gpu.barrier
// CHECK:         scf.if
// CHECK:           nvvm.mbarrier.arrive.expect_tx %[[BAR:.*]], %{{.*}} : !llvm.ptr<3>, i32
// CHECK:           llvm.addrspacecast %{{.*}} : !llvm.ptr<3> to !llvm.ptr<7>
// CHECK:           nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[XMAP]], %[[BAR]], box[%{{.*}}, %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// CHECK:           nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[WMAP]]
// CHECK:         scf.for
// CHECK:           nvvm.mbarrier.try_wait.parity
// CHECK-NEXT:      gpu.barrier
// CHECK:           nvvm.mbarrier.try_wait.parity
// CHECK-NEXT:      gpu.barrier
// CHECK-NOT:       nvvm.cp.async.shared.global
// CHECK:           nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK:           nvvm.wgmma.mma_async
// CHECK:         nvvm.mbarrier.try_wait.parity
// CHECK:         gpu.barrier
// CHECK:         scf.if
// CHECK-COUNT-4:   nvvm.mbarrier.inval
// CHECK:         gpu.barrier
func.func @tma_operands(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  hyla_tile.init_barriers 4 at 65536
  %a0 = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 2 at 0 barriers at 65536 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
  %b0 = hyla_tile.async_load %w[%c0, %c0] dims [0, 1] stage %c0 of 2 at 32768 barriers at 65552 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
  %r:5 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0, %s = %c0, %p = %c0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared>, index, index) {
    hyla_tile.barrier_wait %s phase %p at 65536
    hyla_tile.barrier_wait %s phase %p at 65552
    %ns = arith.subi %c1, %s : index
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.async_load %x[%c0, %next] dims [0, 1] stage %ns of 2 at 0 barriers at 65536 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %bn = hyla_tile.async_load %w[%c0, %next] dims [0, 1] stage %ns of 2 at 32768 barriers at 65552 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn, %ns, %p : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared>, index, index
  }
  hyla_tile.barrier_wait %r#3 phase %r#4 at 65536
  hyla_tile.inval_barriers 4 at 65536
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// Warp specialization: the kernel launches its 4 warps and a producer
// warpgroup (256 threads). Every thread initializes nothing but passes the
// full barrier after thread 0's mbarrier setup (the "empty" ring with 128
// arrivals); then threads >= 128 lower their registers and thread 128
// alone runs the producer loop: its copies start without a leader test,
// its wait has no barrier after it. The consumers raise their registers;
// their waits are local, their release is one arrive each, and the
// barriers among them (the fragment exchanges of the dot) are barrier 1
// counting 128 threads, never the whole program's.
// CHECK-LABEL: gpu.func @warp_specialized
// CHECK-SAME:    known_block_size = array<i32: 256, 1, 1>
// CHECK:         nvvm.mbarrier.init %{{.*}}, %[[ONE:.*]] :
// CHECK:         nvvm.mbarrier.init %{{.*}}, %[[C128:.*]] :
// CHECK:         gpu.barrier
// CHECK:         %[[PRODUCER:.*]] = arith.cmpi uge, %{{.*}}, %{{.*}} : i32
// CHECK:         scf.if %[[PRODUCER]] {
// CHECK-NEXT:      nvvm.setmaxregister decrease 40
// CHECK:           scf.if
// CHECK:             scf.for
// CHECK:               nvvm.mbarrier.try_wait.parity
// CHECK-NOT:           gpu.barrier
// CHECK-NOT:           nvvm.barrier
// CHECK:               nvvm.mbarrier.arrive.expect_tx
// CHECK-NOT:           scf.if
// CHECK:               nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK:         } else {
// CHECK-NEXT:      nvvm.setmaxregister increase 232
// CHECK:           scf.for
// CHECK:             nvvm.mbarrier.try_wait.parity
// CHECK-NOT:         gpu.barrier
// CHECK:             nvvm.wgmma.mma_async
// CHECK:             nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// CHECK:           nvvm.barrier id = %{{.*}} number_of_threads = %{{.*}}
// CHECK-NOT:       gpu.barrier
// CHECK:         gpu.return
func.func @warp_specialized(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32, hyla_tile.reserved_shared = 33792 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<64x128xf32, #hyla_tile.mma<warpgroup>>
  hyla_tile.init_barriers 4 at 32768
  hyla_tile.init_barriers 2 at 32800 arrivals 128
  hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
    %r:2 = scf.for %k = %c0 to %c256 step %c64 iter_args(%s = %c0, %p = %c0) -> (index, index) {
      %free = arith.subi %c1, %p : index
      hyla_tile.barrier_wait %s phase %free at 32800 local
      %a = hyla_tile.async_load %x[%c0, %k] dims [0, 1] stage %s of 2 at 0 barriers at 32768 : memref<?x256xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
      %b = hyla_tile.async_load %w[%c0, %k] dims [0, 1] stage %s of 2 at 16384 barriers at 32784 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
      %ns = arith.subi %c1, %s : index
      scf.yield %ns, %free : index, index
    }
  }
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %s = %c0, %p = %c0) -> (tensor<64x128xf32, #hyla_tile.mma<warpgroup>>, index, index) {
    hyla_tile.barrier_wait %s phase %p at 32768 local
    hyla_tile.barrier_wait %s phase %p at 32784 local
    %a = hyla_tile.ring_buffer %s of 2 at 0 : tensor<64x64xbf16, #hyla_tile.shared>
    %b = hyla_tile.ring_buffer %s of 2 at 16384 : tensor<128x64xbf16, #hyla_tile.shared>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<64x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared> -> tensor<64x128xf32, #hyla_tile.mma<warpgroup>>
    hyla_tile.barrier_arrive %s at 32800
    %ns = arith.subi %c1, %s : index
    scf.yield %d, %ns, %p : tensor<64x128xf32, #hyla_tile.mma<warpgroup>>, index, index
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<64x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<64x128xf32>, memref<?x128xf32>
  return
}

// -----

// One tensor map per argument: copies of one memref must share a box.
func.func @tma_two_boxes(%x: memref<?x256xbf16>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  hyla_tile.init_barriers 2 at 65536
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 1 at 0 barriers at 65536 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
  // expected-error @+1 {{copies 64x64 boxes of argument 0, whose tensor map other copies tile by 128x64}}
  %b = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 1 at 16384 barriers at 65544 : memref<?x256xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

// An async dot leaves its own wgmma group in flight (wait_group 1: the one
// before it is done); dot_wait is a wait_group on the same registers.
// CHECK-LABEL: gpu.func @async_dot
// CHECK:         scf.for
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 1
// CHECK:         nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT:     nvvm.wgmma.mma_async
// CHECK:         gpu.barrier
func.func @async_dot(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>) {
    %a = hyla_tile.async_load %x[%c0, %k] dims [0, 1] stage %c0 of 1 at 0 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %b = hyla_tile.async_load %w[%c0, %k] dims [0, 1] stage %c0 of 1 at 16384 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    hyla_tile.async_wait 0
    %d = hyla_tile.dot %a, %b, %acc {async, transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  }
  %done = hyla_tile.dot_wait %r pending 0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %t = hyla_tile.convert_layout %done : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// A shared-memory tile is not a register value: math on it is an error.
func.func @shared_math(%x: memref<?x128xbf16>, %y: memref<64x64xbf16>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.async_load %x[%c0, %c0] dims [0, 1] stage %c0 of 1 at 0 : memref<?x128xbf16> -> tensor<64x64xbf16, #hyla_tile.shared>
  // expected-error @+1 {{cannot take a #hyla_tile.shared tile on the GPU: only async_load, ring_buffer, scf.for, scf.if, scf.yield and a dot into #hyla_tile.mma<warpgroup> can}}
  %s = arith.addf %a, %a : tensor<64x64xbf16, #hyla_tile.shared>
  return
}

// -----

// A leader wait (released rings): thread 0 alone polls the "empty"
// mbarrier, and no barrier of the program follows.
// CHECK-LABEL: gpu.func @leader_wait
// CHECK:         %[[LEADER:.*]] = arith.cmpi eq, %{{.*}}, %c0_i32
// CHECK-NEXT:    scf.if %[[LEADER]] {
// CHECK:           nvvm.mbarrier.try_wait.parity
// CHECK-NEXT:    }
// CHECK-NOT:     gpu.barrier
// CHECK:         nvvm.mbarrier.arrive
func.func @leader_wait(%x: memref<4xi32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32, hyla_tile.reserved_shared = 1024 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  hyla_tile.barrier_wait %c0 phase %c1 at 64 leader
  hyla_tile.barrier_arrive %c0 at 64
  return
}
