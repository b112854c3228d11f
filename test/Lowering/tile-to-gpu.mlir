// RUN: hyla-opt %s -split-input-file -hyla-tile-to-gpu -verify-diagnostics | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-tile-to-gpu=target=sm_100a -verify-diagnostics | FileCheck %s --check-prefix=SM100

// A kernel becomes a gpu.module (with the target's NVVM attribute) holding
// one gpu.func that starts with griddepcontrol (both targets have it): each memref is a global pointer plus its dynamic dims, the
// CTA size is 32 * num_warps, loads and stores are masked gathers/scatters,
// and dot runs on mma.sync (bf16 m16n8k16) through shared memory.
// CHECK-LABEL: gpu.module @gemm_module [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// SM100: gpu.module @gemm_module [#nvvm.target<O = 3, chip = "sm_100a", features = "+ptx86">]
// CHECK:         llvm.mlir.global external @__hyla_shared() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<0 x i8>
// CHECK:         gpu.func @gemm(%{{.*}}: !llvm.ptr<1>, %{{.*}}: i64, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i64) kernel
// CHECK-SAME:      hyla.programmatic_launch
// CHECK-SAME:      hyla.shared_memory_bytes = {{[1-9][0-9]*}}
// CHECK-SAME:      known_block_size = array<i32: 128, 1, 1>
// Programmatic dependent launch: wait for the previous grid before any
// memory access, then let the next one launch.
// CHECK-NEXT:      llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT:      llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
// CHECK:           gpu.block_id  x
// A tile fully in bounds and aligned loads in runs of 4 elements; else it
// is a masked gather.
// CHECK:           scf.if
// CHECK:             llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<4xbf16>
// CHECK:           } else {
// CHECK:             llvm.intr.masked.gather {{.*}} -> vector<8xbf16>
// CHECK:           gpu.barrier
// CHECK:           llvm.store {{.*}} : vector<4xbf16>, !llvm.ptr<3>
// CHECK:           gpu.barrier
// CHECK:           nvvm.mma.sync {{.*}} {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK:           llvm.store {{.*}} : vector<4xbf16>, !llvm.ptr<1>
// CHECK:             llvm.intr.masked.scatter {{.*}} : vector<8xbf16>
// CHECK-NOT:       hyla_tile.
func.func @gemm(%x: memref<?x32xbf16>, %w: memref<32x32xbf16>, %y: memref<?x32xbf16>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %p = hyla_tile.program_id 0
  %m0 = arith.muli %p, %c32 : index
  %a = hyla_tile.load %x[%m0, %c0] dims [0, 1] : memref<?x32xbf16> -> tensor<32x32xbf16>
  %b = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<32x32xbf16> -> tensor<32x32xbf16>
  %z = arith.constant dense<0.0> : tensor<32x32xf32>
  %acc = hyla_tile.dot %a, %b, %z {transpose_b = true} : tensor<32x32xbf16>, tensor<32x32xbf16> -> tensor<32x32xf32>
  %r = arith.truncf %acc : tensor<32x32xf32> to tensor<32x32xbf16>
  hyla_tile.store %r, %y[%m0, %c0] dims [0, 1] : tensor<32x32xbf16>, memref<?x32xbf16>
  return
}

// -----

// f32 operands use tf32 (rounded with cvt.rna) and m16n8k8; a row reduction
// ends in warp shuffles; 8 warps make a 256-thread CTA.
// CHECK-LABEL: gpu.module @tf32_module
// CHECK:         gpu.func @tf32
// CHECK-SAME:      known_block_size = array<i32: 256, 1, 1>
// CHECK:           nvvm.convert.float.to.tf32 {{.*}} {rnd = #nvvm.fp_rnd_mode<rna>}
// CHECK:           nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK:           gpu.shuffle  xor
func.func @tf32(%o: memref<64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %x = arith.constant dense<1.0> : tensor<64x32xf32>
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %s = hyla_tile.dot %x, %x, %z {transpose_b = true} : tensor<64x32xf32>, tensor<64x32xf32> -> tensor<64x64xf32>
  %m = hyla_tile.reduce sum %s axis 1 : tensor<64x64xf32> -> tensor<64xf32>
  hyla_tile.store %m, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// tf32 operands strided along k (A given as [k][m], B as [k][n]) go to
// shared memory transposed, a thread's run of 4 words stored word by word
// at its swizzled address XOR 8 j, so that ldmatrix (row layout, no
// transposition) reads their fragments. A's next run (512 elements on, 16
// rows of 32) stores at the first run's words plus 512.
// CHECK-LABEL: gpu.func @tf32_strided
// CHECK:         llvm.getelementptr %{{.*}}[%[[ADDR:.*]]] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i32
// CHECK-NEXT:    llvm.store {{.*}} : i32, !llvm.ptr<3>
// CHECK:         %[[X8:.*]] = arith.xori %[[ADDR]], %{{.*}} : i32
// CHECK:         arith.addi %[[ADDR]], %c512_i32
// CHECK:         arith.addi %[[X8]], %c512_i32
// CHECK:         nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4
// CHECK-NOT:     mma_layout<col>
// CHECK:         nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
func.func @tf32_strided(%o: memref<32x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %x = arith.constant dense<1.0> : tensor<64x32xf32>
  %y = arith.constant dense<1.0> : tensor<64x64xf32>
  %z = arith.constant dense<0.0> : tensor<32x64xf32>
  %s = hyla_tile.dot %x, %y, %z {transpose_a = true} : tensor<64x32xf32>, tensor<64x64xf32> -> tensor<32x64xf32>
  hyla_tile.store %s, %o[%c0, %c0] dims [0, 1] : tensor<32x64xf32>, memref<32x64xf32>
  return
}

// -----

// The tensor cores need M % 16, N % 8, K % 16 (bf16).
func.func @bad_dot(%o: memref<8x8xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %x = arith.constant dense<1.0> : tensor<8x8xbf16>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  // expected-error @+1 {{needs M % 16 == 0, N % 8 == 0 and K % 16 == 0 for mma.sync, got M=8 N=8 K=8}}
  %s = hyla_tile.dot %x, %x, %z : tensor<8x8xbf16>, tensor<8x8xbf16> -> tensor<8x8xf32>
  hyla_tile.store %s, %o[%c0, %c0] dims [0, 1] : tensor<8x8xf32>, memref<8x8xf32>
  return
}

// -----

// A placed hyla_tile.wait_prior_grid becomes the griddepcontrol pair where it
// stands (after the early load here), and the kernel does not also wait at
// its start.
// CHECK-LABEL: gpu.module @placed_wait_module
// CHECK:         gpu.func @placed_wait
// CHECK-NOT:       griddepcontrol
// CHECK:           llvm.intr.masked.gather
// CHECK:           llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT:      llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
// CHECK-NOT:       griddepcontrol
// CHECK:           gpu.return
func.func @placed_wait(%w: memref<128xf32>, %o: memref<128xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %v = hyla_tile.load %w[%c0] dims [0] : memref<128xf32> -> tensor<128xf32>
  hyla_tile.wait_prior_grid
  hyla_tile.store %v, %o[%c0] dims [0] : tensor<128xf32>, memref<128xf32>
  return
}

// -----

// A prefetch of a tile with 16-byte aligned rows becomes one bulk L2
// prefetch per row (256 bytes) inside the same uniform bounds check as the
// fast loads; 32 rows over 128 threads: threads 0-31 take one row each.
// CHECK-LABEL: gpu.module @prefetch_module
// CHECK:         scf.if
// CHECK:           scf.if
// CHECK:             nvvm.cp.async.bulk.prefetch %{{.*}}, %c256_i32 : <1>
// CHECK-NOT:       nvvm.cp.async.bulk.prefetch
func.func @prefetch(%a: memref<?x64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  hyla_tile.prefetch %a[%c0, %c0] dims [0, 1] shape [32, 64] : memref<?x64xf32>
  return
}

// -----

// A reduction whose slots split into per-thread parts and constants combines
// in registers: each thread sums its 6 rows per column, lanes 8 and 16 apart
// (the same columns) combine by shuffles, and one partial per warp and
// column goes through shared memory (4 loads for each of a thread's 4
// output slots).
// CHECK-LABEL: gpu.func @reduce_registers
// CHECK-NOT:     scf.for
// CHECK:         gpu.shuffle  xor %{{.*}}, %c8_i32
// CHECK:         gpu.shuffle  xor %{{.*}}, %c16_i32
// CHECK:         gpu.barrier
// CHECK:         scf.if
// CHECK-COUNT-4:   llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK:         gpu.barrier
// CHECK-COUNT-16: llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK-NOT:     llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK:         gpu.return
func.func @reduce_registers(%x: memref<96x32xf32>, %o: memref<32xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %t = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<96x32xf32> -> tensor<96x32xf32>
  %m = hyla_tile.reduce sum %t axis 0 : tensor<96x32xf32> -> tensor<32xf32>
  hyla_tile.store %m, %o[%c0] dims [0] : tensor<32xf32>, memref<32xf32>
  return
}

// -----

// Rows of 192 do not tile the 512 elements of a round evenly: the general
// path stores the tile and lane groups stride over each row.
// CHECK-LABEL: gpu.func @reduce_shared
// CHECK:         scf.for
// CHECK:         gpu.shuffle  xor
func.func @reduce_shared(%x: memref<16x192xf32>, %o: memref<16xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %t = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<16x192xf32> -> tensor<16x192xf32>
  %m = hyla_tile.reduce max %t axis 1 : tensor<16x192xf32> -> tensor<16xf32>
  hyla_tile.store %m, %o[%c0] dims [0] : tensor<16xf32>, memref<16xf32>
  return
}

// -----

// An occupancy request becomes NVVM's minimum CTAs per SM (.minnctapersm).
// CHECK-LABEL: gpu.func @occupancy
// CHECK-SAME:    nvvm.minctasm = 8 : i32
func.func @occupancy(%o: memref<64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 2 : i32, hyla_tile.min_programs_per_sm = 8 : i32} {
  %c0 = arith.constant 0 : index
  %x = arith.constant dense<1.0> : tensor<64xf32>
  hyla_tile.store %x, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// A #hyla_tile.mma accumulator is a vector of this thread's fragment values
// (64 x 64 over 4 warps: two strips of 16 x 32, 32 values): the loop's mma.sync
// chain reads and writes it with no shared-memory exchange of the product;
// convert_layout stores the fragments and reads rows back once, after the
// loop.
// CHECK-LABEL: gpu.func @mma_accumulator
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<32xf32>)
// CHECK-COUNT-8:   nvvm.mma.sync
// CHECK-NOT:       llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK:           scf.yield {{.*}} : vector<32xf32>
// CHECK:         gpu.barrier
// CHECK-COUNT-32: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK:         gpu.barrier
// CHECK:         llvm.load {{.*}} : !llvm.ptr<3> -> vector<4xf32>
func.func @mma_accumulator(%x: memref<64x32xbf16>, %o: memref<64x64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %z) -> (tensor<64x64xf32, #hyla_tile.mma>) {
    %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
    %d = hyla_tile.dot %a, %a, %acc {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32, #hyla_tile.mma>
    scf.yield %d : tensor<64x64xf32, #hyla_tile.mma>
  }
  %t = hyla_tile.convert_layout %r : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64x64xf32>
  hyla_tile.store %t, %o[%c0, %c0] dims [0, 1] : tensor<64x64xf32>, memref<64x64xf32>
  return
}

// -----

// Fragments computed on in place: the loaded tile arrives as (col, col + 1)
// pairs (8-byte loads on the in-bounds path), the causal mask compares
// per-value coordinates, the broadcast gathers its rows from shared memory,
// the masked product feeds the next dot straight from registers, and the
// f32 result is stored as pairs: no exchange into the thread layout.
// CHECK-LABEL: gpu.func @fragments_in_place
// CHECK:         llvm.load {{.*}} : !llvm.ptr<1> -> vector<2xf32>
// CHECK:         arith.cmpi sge, {{.*}} : vector<16xi32>
// CHECK:         nvvm.mma.sync
// CHECK:         arith.select {{.*}} : vector<16xi1>, vector<16xf32>
// CHECK:         nvvm.mma.sync
// CHECK:         llvm.store {{.*}} : vector<2xf32>, !llvm.ptr<1>
// CHECK:         gpu.return
func.func @fragments_in_place(%q: memref<64x32xbf16>, %u: memref<64x64xf32>, %g: memref<64xf32>, %v: memref<64x64xbf16>, %o: memref<64x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma>
  %a = hyla_tile.load %q[%c0, %c0] dims [0, 1] : memref<64x32xbf16> -> tensor<64x32xbf16>
  %ut = hyla_tile.load %u[%c0, %c0] dims [0, 1] : memref<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma>
  %gv = hyla_tile.load %g[%c0] dims [0] : memref<64xf32> -> tensor<64xf32>
  %gs = hyla_tile.broadcast %gv dims [0] : tensor<64xf32> -> tensor<64x64xf32, #hyla_tile.mma>
  %r = hyla_tile.iota dim 0 : tensor<64x64xi32, #hyla_tile.mma>
  %c = hyla_tile.iota dim 1 : tensor<64x64xi32, #hyla_tile.mma>
  %causal = arith.cmpi sge, %r, %c : tensor<64x64xi32, #hyla_tile.mma>
  %d = hyla_tile.dot %a, %a, %z {transpose_b = true} : tensor<64x32xbf16>, tensor<64x32xbf16> -> tensor<64x64xf32, #hyla_tile.mma>
  %s = arith.mulf %d, %gs : tensor<64x64xf32, #hyla_tile.mma>
  %m = arith.select %causal, %s, %z : tensor<64x64xi1, #hyla_tile.mma>, tensor<64x64xf32, #hyla_tile.mma>
  %p = arith.truncf %m : tensor<64x64xf32, #hyla_tile.mma> to tensor<64x64xbf16, #hyla_tile.mma>
  %vt = hyla_tile.load %v[%c0, %c0] dims [0, 1] : memref<64x64xbf16> -> tensor<64x64xbf16>
  %pv = hyla_tile.dot %p, %vt, %ut : tensor<64x64xbf16, #hyla_tile.mma>, tensor<64x64xbf16> -> tensor<64x64xf32, #hyla_tile.mma>
  hyla_tile.store %pv, %o[%c0, %c0] dims [0, 1] : tensor<64x64xf32, #hyla_tile.mma>, memref<64x64xf32>
  return
}

// -----

// A reduction of mma fragments is not lowered: an error, not wrong code.
func.func @mma_reduce(%o: memref<64xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %z = arith.constant dense<1.0> : tensor<64x64xf32, #hyla_tile.mma>
  // expected-error @+1 {{cannot take a #hyla_tile.mma tile on the GPU}}
  %s = hyla_tile.reduce sum %z axis 1 : tensor<64x64xf32, #hyla_tile.mma> -> tensor<64xf32>
  hyla_tile.store %s, %o[%c0] dims [0] : tensor<64xf32>, memref<64xf32>
  return
}

// -----

// 16 x 16 is at most two strips of one n tile: too few for 4 warps to hold
// as fragments.
func.func @mma_too_small(%x: memref<16x16xbf16>, %o: memref<16x16xf32>) attributes {hyla_tile.kernel} {
  %c0 = arith.constant 0 : index
  %a = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<16x16xbf16> -> tensor<16x16xbf16>
  // expected-error @+1 {{tile 'tensor<16x16xf32, #hyla_tile.mma>' cannot be held as mma fragments by 4 warps}}
  %z = arith.constant dense<0.0> : tensor<16x16xf32, #hyla_tile.mma>
  %d = hyla_tile.dot %a, %a, %z : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32, #hyla_tile.mma>
  %t = hyla_tile.convert_layout %d : tensor<16x16xf32, #hyla_tile.mma> -> tensor<16x16xf32>
  hyla_tile.store %t, %o[%c0, %c0] dims [0, 1] : tensor<16x16xf32>, memref<16x16xf32>
  return
}

// -----

// A cluster kernel: `.reqnctapercluster` from hyla_tile.cluster_dims;
// cluster_sum stores each thread's slots in its CTA's scratch, meets the
// cluster at a barrier, adds every CTA's slots in rank order through mapa
// addresses (rank 0 first), and meets it again before anyone leaves;
// cluster_rank is %cluster_ctarank.
// CHECK-LABEL: gpu.func @cluster_sum
// CHECK-SAME:      nvvm.cluster_dim = array<i32: 1, 1, 4>
// CHECK:           gpu.barrier
// CHECK-COUNT-2:   llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK:           nvvm.cluster.arrive {aligned}
// CHECK-NEXT:      nvvm.cluster.wait {aligned}
// CHECK:           %[[R0:.*]] = nvvm.mapa %{{.*}}, %c0_i32{{.*}} : !llvm.ptr<3> -> !llvm.ptr<7>
// CHECK-NEXT:      llvm.load %[[R0]] : !llvm.ptr<7> -> f32
// CHECK:           nvvm.mapa %{{.*}}, %c1_i32{{.*}} : !llvm.ptr<3> -> !llvm.ptr<7>
// CHECK:           arith.addf {{.*}} : f32
// CHECK:           nvvm.mapa %{{.*}}, %c3_i32{{.*}} : !llvm.ptr<3> -> !llvm.ptr<7>
// CHECK:           arith.addf {{.*}} : f32
// CHECK:           nvvm.cluster.arrive {aligned}
// CHECK-NEXT:      nvvm.cluster.wait {aligned}
// CHECK:           nvvm.read.ptx.sreg.cluster.ctarank : i32
func.func @cluster_sum(%in: memref<4x1024xf32>, %out: memref<1024xf32>) attributes {hyla_tile.kernel, hyla_tile.cluster_dims = array<i64: 1, 1, 4>} {
  %c0 = arith.constant 0 : index
  %p = hyla_tile.program_id 2
  %x = hyla_tile.load %in[%p, %c0] dims [1] : memref<4x1024xf32> -> tensor<1024xf32>
  %s = hyla_tile.cluster_sum %x : tensor<1024xf32>
  %r = hyla_tile.cluster_rank
  %first = arith.cmpi eq, %r, %c0 : index
  scf.if %first {
    hyla_tile.store %s, %out[%c0] dims [0] : tensor<1024xf32>, memref<1024xf32>
  }
  return
}
