// RUN: hyla-opt %s -split-input-file -hyla-tile-pipeline-operands | FileCheck %s
// RUN: hyla-opt %s -split-input-file -hyla-tile-pipeline-operands=tma=true | FileCheck %s --check-prefix=TMA
// RUN: hyla-opt %s -split-input-file -hyla-tile-pipeline-operands="tma=true warp-specialize=true" | FileCheck %s --check-prefix=WS
// RUN: hyla-opt %s -split-input-file -hyla-tile-pipeline-operands="tma=true release-rings=true" | FileCheck %s --check-prefix=REL

// The GEMM k loop as Kernelize writes it once its accumulator is in wgmma
// fragments: operands loaded one step ahead. The loads become copies into
// two-buffer rings (A's at 0, B's after A's two 16 KiB buffers), the loop
// carries the stage, waits for its step's copies before starting the next
// step's into the other buffer, and the copies left in flight are waited
// for after the loop.
// CHECK-LABEL: func.func @gemm_k_loop
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK:         %[[A0:.*]] = hyla_tile.async_load %arg0[%{{.*}}, %[[C0]]] dims [0, 1] stage %[[C0]] of 2 at 0 : memref<?x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
// CHECK:         %[[B0:.*]] = hyla_tile.async_load %arg1[%{{.*}}, %[[C0]]] dims [0, 1] stage %[[C0]] of 2 at 32768 : memref<128x256xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
// CHECK:         %[[LOOP:.*]]:4 = scf.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[A:.*]] = %[[A0]], %[[B:.*]] = %[[B0]], %[[S:.*]] = %[[C0]])
// CHECK-NEXT:      hyla_tile.async_wait 0
// CHECK-NEXT:      %[[S1:.*]] = arith.addi %[[S]], %[[C1]] : index
// CHECK-NEXT:      %[[NS:.*]] = arith.remui %[[S1]], %[[C2]] : index
// CHECK:           %[[CS:.*]] = arith.remui {{.*}}, %[[C2]] : index
// CHECK:           %[[AN:.*]] = hyla_tile.async_load %arg0[{{.*}}] dims [0, 1] stage %[[CS]] of 2 at 0
// CHECK:           %[[BN:.*]] = hyla_tile.async_load %arg1[{{.*}}] dims [0, 1] stage %[[CS]] of 2 at 32768
// CHECK:           %[[D:.*]] = hyla_tile.dot %[[A]], %[[B]], %[[ACC]] {transpose_b = true} : tensor<128x64xbf16, #hyla_tile.shared>, tensor<128x64xbf16, #hyla_tile.shared> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
// CHECK:           scf.yield %[[D]], %[[AN]], %[[BN]], %[[NS]]
// CHECK:         hyla_tile.async_wait 0
// CHECK-NEXT:    hyla_tile.convert_layout %[[LOOP]]#0
// CHECK-NOT:     hyla_tile.load
// Through tensor maps, four mbarriers after both rings (A's two at 65536, B's two at
// 65552) initialized before the first copies; the loop also carries the
// phase parity, waits on both rings' barriers of its stage, flips the
// parity when the next stage wraps to 0, and after the loop waits for the
// step copied past the end (stage end mod 2, a round later if it wrapped),
// then invalidates the barriers (the epilogue may reuse their bytes).
// TMA-LABEL: func.func @gemm_k_loop
// TMA-DAG:     %[[C0:.*]] = arith.constant 0 : index
// TMA-DAG:     %[[C1:.*]] = arith.constant 1 : index
// TMA-DAG:     %[[C2:.*]] = arith.constant 2 : index
// TMA:         hyla_tile.init_barriers 4 at 65536
// TMA-NEXT:    %[[A0:.*]] = hyla_tile.async_load %arg0[%{{.*}}, %[[C0]]] dims [0, 1] stage %[[C0]] of 2 at 0 barriers at 65536
// TMA-NEXT:    %[[B0:.*]] = hyla_tile.async_load %arg1[%[[C0]], %[[C0]]] dims [0, 1] stage %[[C0]] of 2 at 32768 barriers at 65552
// TMA:         %[[LOOP:.*]]:5 = scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %[[A:.*]] = %[[A0]], %[[B:.*]] = %[[B0]], %[[S:.*]] = %[[C0]], %[[P:.*]] = %[[C0]])
// TMA-NEXT:      hyla_tile.barrier_wait %[[S]] phase %[[P]] at 65536 local
// TMA-NEXT:      hyla_tile.barrier_wait %[[S]] phase %[[P]] at 65552{{$}}
// TMA-NEXT:      %[[S1:.*]] = arith.addi %[[S]], %[[C1]]
// TMA-NEXT:      %[[NS:.*]] = arith.remui %[[S1]], %[[C2]]
// TMA-NEXT:      %[[WRAP:.*]] = arith.cmpi eq, %[[NS]], %[[C0]]
// TMA-NEXT:      %[[FLIP:.*]] = arith.subi %[[C1]], %[[P]]
// TMA-NEXT:      %[[NP:.*]] = arith.select %[[WRAP]], %[[FLIP]], %[[P]]
// TMA:           %[[AN:.*]] = hyla_tile.async_load %arg0[{{.*}}] dims [0, 1] stage %{{.*}} of 2 at 0 barriers at 65536
// TMA:           %[[BN:.*]] = hyla_tile.async_load %arg1[{{.*}}] dims [0, 1] stage %{{.*}} of 2 at 32768 barriers at 65552
// TMA:           %[[D:.*]] = hyla_tile.dot %[[A]], %[[B]]
// TMA-NEXT:      scf.yield %[[D]], %[[AN]], %[[BN]], %[[NS]], %[[NP]]
// TMA:         %[[PAST:.*]] = arith.cmpi uge, %[[LOOP]]#3, %[[C2]]
// TMA-NEXT:    %[[ES:.*]] = arith.remui %[[LOOP]]#3, %[[C2]]
// TMA-NEXT:    %[[EF:.*]] = arith.subi %[[C1]], %[[LOOP]]#4
// TMA-NEXT:    %[[EP:.*]] = arith.select %[[PAST]], %[[EF]], %[[LOOP]]#4
// TMA-NEXT:    hyla_tile.barrier_wait %[[ES]] phase %[[EP]] at 65536 local
// TMA-NEXT:    hyla_tile.barrier_wait %[[ES]] phase %[[EP]] at 65552{{$}}
// TMA-NEXT:    hyla_tile.inval_barriers 4 at 65536
// TMA-NOT:     hyla_tile.async_wait
func.func @gemm_k_loop(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %m = hyla_tile.program_id 0
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.load %x[%m, %c0] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%m, %next] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%m, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// Three stages (hyla_tile.num_stages): steps 0 and 1 are copied before the
// loop (step 1's column offset is the body's, at the first induction
// value), each step waits until at most the next step's two copies are in
// flight, then copies step k + 2 into stage (s + 2) mod 3; the loop carries
// each operand's buffers of steps k and k + 1 and rotates them.
// CHECK-LABEL: func.func @three_stages
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C3:.*]] = arith.constant 3 : index
// CHECK:         %[[A0:.*]] = hyla_tile.async_load %arg0[%{{.*}}, %[[C0]]] dims [0, 1] stage %[[C0]] of 3 at 0
// CHECK:         %[[B0:.*]] = hyla_tile.async_load %arg1[%{{.*}}, %[[C0]]] dims [0, 1] stage %[[C0]] of 3 at 49152
// CHECK:         %[[A1:.*]] = hyla_tile.async_load %arg0[%{{.*}}, %[[K1:.*]]] dims [0, 1] stage %[[C1]] of 3 at 0
// CHECK:         %[[B1:.*]] = hyla_tile.async_load %arg1[%{{.*}}, %{{.*}}] dims [0, 1] stage %[[C1]] of 3 at 49152
// CHECK:         scf.for %[[K:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[A:.*]] = %[[A0]], %[[B:.*]] = %[[B0]], %[[AL:.*]] = %[[A1]], %[[BL:.*]] = %[[B1]], %[[S:.*]] = %[[C0]])
// CHECK-NEXT:      hyla_tile.async_wait 2
// CHECK:           %[[NS:.*]] = arith.remui {{.*}}, %[[C3]] : index
// CHECK:           %[[CS:.*]] = arith.remui {{.*}}, %[[C3]] : index
// CHECK:           %[[AN:.*]] = hyla_tile.async_load %arg0[{{.*}}] dims [0, 1] stage %[[CS]] of 3 at 0
// CHECK:           %[[BN:.*]] = hyla_tile.async_load %arg1[{{.*}}] dims [0, 1] stage %[[CS]] of 3 at 49152
// CHECK:           %[[D:.*]] = hyla_tile.dot %[[A]], %[[B]], %[[ACC]]
// CHECK:           scf.yield %[[D]], %[[AL]], %[[BL]], %[[AN]], %[[BN]], %[[NS]] :
// CHECK:         hyla_tile.async_wait 0
// TMA-LABEL: func.func @three_stages
// TMA:         hyla_tile.init_barriers 6 at 98304
// TMA-COUNT-2: hyla_tile.async_load {{.*}} barriers at 98304
// TMA:         scf.for
// TMA-NEXT:      hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98304
// TMA-NEXT:      hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98328
// TMA:         scf.yield
// Two steps past the end: stages end and end + 1 (mod 3).
// TMA-COUNT-2: hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98328
// TMA-NEXT:    hyla_tile.inval_barriers 6 at 98304
func.func @three_stages(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32, hyla_tile.num_stages = 3 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%c0, %next] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// Four stages: the products run asynchronously (the dot returns with its
// wgmma in flight), so copies run two steps ahead, into the buffers of step
// k - 2, which the previous dot's return freed; after the loop the last
// product is waited for before the fragments are read.
// CHECK-LABEL: func.func @four_stages_async
// CHECK:         hyla_tile.async_load {{.*}} stage %{{.*}} of 4 at 0
// CHECK:         hyla_tile.async_load {{.*}} stage %{{.*}} of 4 at 65536
// CHECK:         hyla_tile.async_load {{.*}} stage %{{.*}} of 4 at 0
// CHECK:         hyla_tile.async_load {{.*}} stage %{{.*}} of 4 at 65536
// CHECK-NOT:     hyla_tile.async_load
// CHECK:         %[[LOOP:.*]]:6 = scf.for
// CHECK-NEXT:      hyla_tile.async_wait 2
// CHECK:           hyla_tile.dot {{.*}} {async, transpose_b = true}
// CHECK:         hyla_tile.async_wait 0
// CHECK-NEXT:    %[[DONE:.*]] = hyla_tile.dot_wait %[[LOOP]]#0 pending 0
// CHECK-NEXT:    hyla_tile.convert_layout %[[DONE]]
func.func @four_stages_async(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32, hyla_tile.num_stages = 4 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%c0, %next] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// An mma.sync accumulator: its dot reads operands from registers; nothing
// changes.
// CHECK-LABEL: func.func @mma_sync_accumulator
// CHECK-NOT:     async
func.func @mma_sync_accumulator(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma>
  %a0 = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%c0, %next] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// Other work in the body (here a reduction, which uses shared memory) keeps
// the register staging.
// CHECK-LABEL: func.func @other_work_in_body
// CHECK-NOT:     async
func.func @other_work_in_body(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>, %s: memref<128xbf16>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.load %x[%c0, %c0] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%c0, %next] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %sum = hyla_tile.reduce sum %an axis 1 : tensor<128x64xbf16> -> tensor<128xbf16>
    hyla_tile.store %sum, %s[%c0] dims [0] : tensor<128xbf16>, memref<128xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// Operands loaded with explicit bounds (a packed sequence's end) keep the
// register path, which honours them.
// CHECK-LABEL: func.func @bounded_loads
// CHECK-NOT:     async
func.func @bounded_loads(%x: memref<?x256xbf16>, %w: memref<128x256xbf16>, %y: memref<?x128xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 8 : i32} {
  %c0 = arith.constant 0 : index
  %end = hyla_tile.program_id 1
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %z = arith.constant dense<0.0> : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
  %a0 = hyla_tile.load %x[%c0, %c0] bounds [%end, %c256] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
  %b0 = hyla_tile.load %w[%c0, %c0] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
  %r:3 = scf.for %k = %c0 to %c256 step %c64 iter_args(%acc = %z, %a = %a0, %b = %b0) -> (tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>) {
    %next = arith.addi %k, %c64 : index
    %an = hyla_tile.load %x[%c0, %next] bounds [%end, %c256] dims [0, 1] : memref<?x256xbf16> -> tensor<128x64xbf16>
    %bn = hyla_tile.load %w[%c0, %next] dims [0, 1] : memref<128x256xbf16> -> tensor<128x64xbf16>
    %d = hyla_tile.dot %a, %b, %acc {transpose_b = true} : tensor<128x64xbf16>, tensor<128x64xbf16> -> tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %d, %an, %bn : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>, tensor<128x64xbf16>, tensor<128x64xbf16>
  }
  %t = hyla_tile.convert_layout %r#0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>> -> tensor<128x128xf32>
  hyla_tile.store %t, %y[%c0, %c0] dims [0, 1] : tensor<128x128xf32>, memref<?x128xf32>
  return
}

// -----

// A sequential loop that loads wgmma operands in its body (the GDN state
// kernel: W [64, K] as A and K~^T [K, 64] as B with transpose_b, both
// k-contiguous, next to a carried state and a product in registers): each
// such load becomes a copy into a ring of two buffers, step 0's before the
// loop (if it runs), step i + 1's at the top of step i after the wait for
// step i's, started only if step i + 1 runs; the body names its buffers
// with ring_buffer. The rings take the first bytes of shared memory
// (reserved_shared). Other loads (U) stay.
// CHECK-LABEL: func.func @chunk_loop
// CHECK-SAME:    hyla_tile.reserved_shared = 98304 : i32
// CHECK:         scf.if
// CHECK-NEXT:      hyla_tile.async_load %arg0[%c0, %c0, %c0, %c0] dims [1, 3] stage %c0 of 2 at 0 : memref<?x?x30x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
// CHECK-NEXT:      hyla_tile.async_load %arg1[%c0, %c0, %c0, %c0, %c0] dims [3, 4] stage %c0 of 2 at 49152 : memref<?x?x30x96x64xf32> -> tensor<96x64xf32, #hyla_tile.shared>
// CHECK:         scf.for %{{.*}} iter_args(%[[S:.*]] = %{{.*}}, %[[STAGE:.*]] = %c0)
// CHECK-NEXT:      hyla_tile.async_wait 0
// CHECK:           %[[PREV:.*]] = arith.select %{{.*}}, %c1, %{{.*}} : index
// CHECK:           scf.if
// CHECK:             hyla_tile.async_load %arg0[{{.*}}] dims [1, 3] stage %[[PREV]] of 2 at 0
// CHECK:             hyla_tile.async_load %arg1[{{.*}}] dims [3, 4] stage %[[PREV]] of 2 at 49152
// CHECK:           %[[W:.*]] = hyla_tile.ring_buffer %[[STAGE]] of 2 at 0 : tensor<64x96xf32, #hyla_tile.shared>
// CHECK:           %[[K:.*]] = hyla_tile.ring_buffer %[[STAGE]] of 2 at 49152 : tensor<96x64xf32, #hyla_tile.shared>
// CHECK:           hyla_tile.load %arg2
// CHECK:           hyla_tile.dot %[[W]], %[[S]]
// CHECK:           hyla_tile.dot %{{.*}}, %[[K]], %{{.*}} {transpose_a = true, transpose_b = true}
// CHECK:           %[[NEXT:.*]] = arith.subi %c1, %[[STAGE]]
// CHECK:           scf.yield %{{.*}}, %[[NEXT]]
// CHECK:         hyla_tile.async_wait 0
// With TMA the copies complete on two mbarriers per ring after the rings;
// the loop carries the phase parity; every copy is for a step the loop
// runs, so nothing is waited for after it.
// TMA-LABEL: func.func @chunk_loop
// TMA-SAME:    hyla_tile.reserved_shared = 99328 : i32
// TMA:         hyla_tile.init_barriers 4 at 98304
// TMA:         scf.if
// TMA-NEXT:      hyla_tile.async_load %arg0{{.*}} stage %c0 of 2 at 0 barriers at 98304
// TMA-NEXT:      hyla_tile.async_load %arg1{{.*}} stage %c0 of 2 at 49152 barriers at 98320
// TMA:         scf.for {{.*}} -> (tensor<64x96xf32, #hyla_tile.mma<warpgroup>>, index, index)
// TMA-NEXT:      hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98304
// TMA-NEXT:      hyla_tile.barrier_wait %{{.*}} phase %{{.*}} at 98320
// TMA:         scf.yield
// TMA-NEXT:    }
// TMA-NEXT:    hyla_tile.inval_barriers 4 at 98304
// Released rings (release-rings): the program's threads keep the copies;
// an "empty" mbarrier a stage counts all 128 threads' arrivals at the end
// of each step, the step's copies wait without a barrier of the program
// (local), and only the copying thread waits for the stage's release,
// parity ((i + 1) / 2 + 1) mod 2 for step i's copies of step i + 1 (the
// first round passes on the fresh barrier).
// REL-LABEL: func.func @chunk_loop
// REL:         hyla_tile.init_barriers 4 at 98304
// REL-NEXT:    hyla_tile.init_barriers 2 at 98336 arrivals 128
// REL:         scf.for %[[I:.*]] = {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[S:.*]] = %{{.*}}, %[[P:.*]] = %{{.*}})
// REL-NEXT:      hyla_tile.barrier_wait %[[S]] phase %[[P]] at 98304 local
// REL-NEXT:      hyla_tile.barrier_wait %[[S]] phase %[[P]] at 98320 local
// REL-NEXT:      %[[NEXT:.*]] = arith.addi %[[I]], %c1
// REL-NEXT:      %[[ROUND:.*]] = arith.divui %[[NEXT]], %c2
// REL-NEXT:      %[[R1:.*]] = arith.addi %[[ROUND]], %c1
// REL-NEXT:      %[[PARITY:.*]] = arith.remui %[[R1]], %c2
// REL:           scf.if
// REL-NEXT:        hyla_tile.barrier_wait %{{.*}} phase %[[PARITY]] at 98336 leader
// REL:             hyla_tile.async_load
// REL:           hyla_tile.barrier_arrive %[[S]] at 98336
// REL:         hyla_tile.inval_barriers 4 at 98304
// REL-NEXT:    hyla_tile.inval_barriers 2 at 98336
// Warp-specialized: the barriers at the top (the "empty" ring counts the
// consumers' 128 arrivals), a producer warpgroup that recomputes the loop
// bounds and the copies' offsets, waits until a stage is free (parity
// 1 - round parity: the first round passes) and copies into it; the
// consumers wait for their copies alone and release the stage at the end
// of each step.
// WS-LABEL: func.func @chunk_loop
// WS-SAME:    hyla_tile.reserved_shared = 99328 : i32
// WS:         hyla_tile.init_barriers 4 at 98304
// WS-NEXT:    hyla_tile.init_barriers 2 at 98336 arrivals 128
// WS-NEXT:    hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
// WS-NEXT:      %[[N:.*]] = memref.dim %arg1, %c1
// WS-NEXT:      scf.for %[[I:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[PS:.*]] = %c0, %[[PP:.*]] = %c0) -> (index, index) {
// WS-NEXT:        %[[FREE:.*]] = arith.subi %c1, %[[PP]]
// WS-NEXT:        hyla_tile.barrier_wait %[[PS]] phase %[[FREE]] at 98336 local
// WS-NEXT:        %[[T:.*]] = arith.muli %[[I]], %c64
// WS-NEXT:        hyla_tile.async_load %arg0[%c0, %[[T]], %c0, %c0] dims [1, 3] stage %[[PS]] of 2 at 0 barriers at 98304
// WS-NEXT:        hyla_tile.async_load %arg1[%c0, %[[I]], %c0, %c0, %c0] dims [3, 4] stage %[[PS]] of 2 at 49152 barriers at 98320
// WS:           }
// WS-NEXT:    }
// WS:         scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[CS:.*]] = %c0, %[[CP:.*]] = %c0)
// WS-NEXT:      hyla_tile.barrier_wait %[[CS]] phase %[[CP]] at 98304 local
// WS-NEXT:      hyla_tile.barrier_wait %[[CS]] phase %[[CP]] at 98320 local
// WS-NEXT:      hyla_tile.ring_buffer %[[CS]] of 2 at 0
// WS-NEXT:      hyla_tile.ring_buffer %[[CS]] of 2 at 49152
// WS-NOT:       hyla_tile.async_load
// WS:           hyla_tile.barrier_arrive %[[CS]] at 98336
// WS:           scf.yield
// WS-NEXT:    }
// WS-NEXT:    hyla_tile.store
func.func @chunk_loop(%w: memref<?x?x30x96xf32>, %kt: memref<?x?x30x96x64xf32>, %um: memref<?x?x30x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %kt, %c1 : memref<?x?x30x96x64xf32>
  %init = arith.constant dense<0.0> : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %init) -> (tensor<64x96xf32, #hyla_tile.mma<warpgroup>>) {
    %t0 = arith.muli %i, %c64 : index
    %a = hyla_tile.load %w[%c0, %t0, %c0, %c0] dims [1, 3] : memref<?x?x30x96xf32> -> tensor<64x96xf32>
    %k = hyla_tile.load %kt[%c0, %i, %c0, %c0, %c0] dims [3, 4] : memref<?x?x30x96x64xf32> -> tensor<96x64xf32>
    %u = hyla_tile.load %um[%c0, %t0, %c0, %c0] dims [1, 3] : memref<?x?x30x64xf32> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
    %p = hyla_tile.dot %a, %s, %z {transpose_b = true} : tensor<64x96xf32>, tensor<64x96xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
    %d = arith.subf %u, %p : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
    %v = hyla_tile.dot %d, %k, %s {transpose_a = true, transpose_b = true} : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>, tensor<96x64xf32> -> tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %v : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  }
  hyla_tile.store %r, %w[%c0, %c0, %c0, %c0] dims [1, 3] : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>, memref<?x?x30x96xf32>
  return
}

// -----

// Three stages (hyla_tile.num_stages): steps 0 and 1 copied before the
// loop, step i + 2's into the stage step i - 1 used; cp.async keeps two
// (completion groups are counted, so one step ahead).
// CHECK-LABEL: func.func @chunk_loop_three_stages
// CHECK-SAME:    hyla_tile.reserved_shared = 98304 : i32
// CHECK-NOT:     of 3
// TMA-LABEL: func.func @chunk_loop_three_stages
// TMA-SAME:    hyla_tile.reserved_shared = 148480 : i32
// TMA:         hyla_tile.init_barriers 6 at 147456
// TMA:         scf.if
// TMA-NEXT:      hyla_tile.async_load %arg0{{.*}} stage %c0 of 3 at 0 barriers at 147456
// TMA-NEXT:      hyla_tile.async_load %arg1{{.*}} stage %c0 of 3 at 73728 barriers at 147480
// TMA:         scf.if
// TMA-NEXT:      hyla_tile.async_load %arg0{{.*}} stage %c1 of 3 at 0 barriers at 147456
// TMA-NEXT:      hyla_tile.async_load %arg1{{.*}} stage %c1 of 3 at 73728 barriers at 147480
// TMA:         scf.for
// TMA:           %[[PREV:.*]] = arith.select %{{.*}}, %c2, %{{.*}} : index
// TMA:           scf.if
// TMA-NEXT:        arith.muli
// TMA-NEXT:        hyla_tile.async_load %arg0{{.*}} stage %[[PREV]] of 3 at 0 barriers at 147456
// WS-LABEL: func.func @chunk_loop_three_stages
// WS:         hyla_tile.init_barriers 6 at 147456
// WS-NEXT:    hyla_tile.init_barriers 3 at 147504 arrivals 128
// WS:         hyla_tile.async_load %arg0{{.*}} of 3 at 0 barriers at 147456
func.func @chunk_loop_three_stages(%w: memref<?x?x30x96xf32>, %kt: memref<?x?x30x96x64xf32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32, hyla_tile.num_stages = 3 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %kt, %c1 : memref<?x?x30x96x64xf32>
  %init = arith.constant dense<0.0> : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %init) -> (tensor<64x96xf32, #hyla_tile.mma<warpgroup>>) {
    %t0 = arith.muli %i, %c64 : index
    %a = hyla_tile.load %w[%c0, %t0, %c0, %c0] dims [1, 3] : memref<?x?x30x96xf32> -> tensor<64x96xf32>
    %k = hyla_tile.load %kt[%c0, %i, %c0, %c0, %c0] dims [3, 4] : memref<?x?x30x96x64xf32> -> tensor<96x64xf32>
    %p = hyla_tile.dot %a, %s, %z {transpose_b = true} : tensor<64x96xf32>, tensor<64x96xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
    %v = hyla_tile.dot %p, %k, %s {transpose_a = true, transpose_b = true} : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>, tensor<96x64xf32> -> tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %v : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  }
  hyla_tile.store %r, %w[%c0, %c0, %c0, %c0] dims [1, 3] : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>, memref<?x?x30x96xf32>
  return
}

// -----

// Not specialized where the producer could not recompute the loop: its
// bound is read from memory (a memref.load), so the copies stay with the
// program's own threads.
// WS-LABEL: func.func @chunk_loop_bound_from_memory
// WS-NOT:     hyla_tile.produce
// WS:         hyla_tile.barrier_wait {{.*}} at 98304 local
// WS-NEXT:    hyla_tile.barrier_wait {{.*}} at 98320{{$}}
func.func @chunk_loop_bound_from_memory(%w: memref<?x?x30x96xf32>, %kt: memref<?x?x30x96x64xf32>, %lens: memref<?xi32>) attributes {hyla_tile.kernel, hyla_tile.num_warps = 4 : i32} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %len = memref.load %lens[%c0] : memref<?xi32>
  %n = arith.index_cast %len : i32 to index
  %init = arith.constant dense<0.0> : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  %z = arith.constant dense<0.0> : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %init) -> (tensor<64x96xf32, #hyla_tile.mma<warpgroup>>) {
    %t0 = arith.muli %i, %c64 : index
    %a = hyla_tile.load %w[%c0, %t0, %c0, %c0] dims [1, 3] : memref<?x?x30x96xf32> -> tensor<64x96xf32>
    %k = hyla_tile.load %kt[%c0, %i, %c0, %c0, %c0] dims [3, 4] : memref<?x?x30x96x64xf32> -> tensor<96x64xf32>
    %p = hyla_tile.dot %a, %s, %z {transpose_b = true} : tensor<64x96xf32>, tensor<64x96xf32, #hyla_tile.mma<warpgroup>> -> tensor<64x64xf32, #hyla_tile.mma<warpgroup>>
    %v = hyla_tile.dot %p, %k, %s {transpose_a = true, transpose_b = true} : tensor<64x64xf32, #hyla_tile.mma<warpgroup>>, tensor<96x64xf32> -> tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
    scf.yield %v : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>
  }
  hyla_tile.store %r, %w[%c0, %c0, %c0, %c0] dims [1, 3] : tensor<64x96xf32, #hyla_tile.mma<warpgroup>>, memref<?x?x30x96xf32>
  return
}
