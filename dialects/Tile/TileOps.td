//===- TileOps.td - hyla_tile operations -------------------*- tablegen -*-===//
#ifndef HYLA_TILE_OPS_TD
#define HYLA_TILE_OPS_TD

include "dialects/Tile/TileDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Tile_Tile : RankedTensorOf<[AnyType], [HasStaticShapePred], "statically shaped tile">;
def Tile_FloatTile : RankedTensorOf<[BF16, F16, F32], [HasStaticShapePred], "statically shaped float tile">;
def Tile_F32Tile : RankedTensorOf<[F32], [HasStaticShapePred], "statically shaped f32 tile">;
def Tile_IntTile : RankedTensorOf<[I32], [HasStaticShapePred], "statically shaped i32 tile">;

def Tile_MmaLayoutAttr : AttrDef<Tile_Dialect, "MmaLayout"> {
  let mnemonic = "mma";
  let summary = "Tile encoding: the tensor-core accumulator fragments";
  let description = [{
    On a 2-D tile, `#hyla_tile.mma` says the tile lives where `mma.sync`
    leaves its results: the tile is cut into strips of 16 rows by 8 * s
    columns (s = 4, 2 or 1: the largest dividing N / 8 whose strips split
    evenly over the kernel's warps), strip i belongs to warp i mod
    num_warps, and inside a strip each lane holds the m16n8 accumulator
    elements of its group and quad.

    `#hyla_tile.mma<warpgroup>` is the layout `wgmma` (sm_90a) leaves: each
    strip is 16 rows by all N columns, so strip i (rows 16i..16i+15) belongs
    to warp i mod num_warps and the four warps of a warpgroup hold one
    64-row block. Inside a strip a lane holds the same m16n8 elements per
    8-column tile as with `mma.sync`.

    On a 1-D tile of M values, `#hyla_tile.mma<warpgroup>` holds one value
    per row of such fragments (M rows, whatever N): each lane keeps the
    values of its two rows of each of its strips, the same in the four
    lanes of a quad. A row reduction of fragments yields it without leaving
    registers, and a broadcast back over the row's fragments reads it there
    (the online softmax's row max and sum).

    The GPU-only passes set these encodings: `hyla-tile-mma-accumulators`
    on `dot` accumulators carried by `scf.for` (a k loop adds into registers
    without a trip through shared memory per step), and
    `hyla-tile-fragment-layouts` on dot results and the elementwise ops,
    loads, stores, loops and dot operands that take them from there. On
    fragments, elementwise ops compute per value; `load`, `store`, `iota`
    and `broadcast` address each value by its (row, column).
  }];
  let parameters = (ins DefaultValuedParameter<"bool", "false",
                        "fragments of wgmma (whole 16-row strips per warp)">:$warpgroup);
  let hasCustomAssemblyFormat = 1;
  let builders = [AttrBuilder<(ins), [{ return $_get($_ctxt, false); }]>];
}

def Tile_SharedLayoutAttr : AttrDef<Tile_Dialect, "SharedLayout"> {
  let mnemonic = "shared";
  let summary = "Tile encoding: a tile resident in shared memory";
  let description = [{
    On a 2-D 16-bit tile, `#hyla_tile.shared` says the tile is not in
    registers but in one buffer of a shared-memory ring, where
    `hyla_tile.async_load` copies it: rows contiguous along the last dim,
    128-byte swizzled (16-byte chunk c of row r at chunk c ^ (r mod 8), 64
    elements per row per column block), as `wgmma` reads it. Only
    `async_load` results, loop-carried values and `dot` operands take it
    (the GPU-only `hyla-tile-pipeline-operands` pass makes them).
  }];
}

def Tile_AsyncLoadOp : Tile_Op<"async_load", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Start copying a tile from a memref into a shared-memory buffer";
  let description = [{
    Starts an asynchronous copy of the tile at `offsets` (tile dims along
    memref dims `dims`, as `hyla_tile.load`) into buffer `stage` of a ring
    of `stages` buffers that begins `offset` bytes into shared memory. The
    result names that buffer; its contents are defined only after the wait
    that covers this copy. Elements outside the memref read as zero.

    Without `barriers`, every thread copies 16-byte chunks (`cp.async`);
    each copy is one completion group and `hyla_tile.async_wait` covers it.
    With `barriers at B`, one thread hands the whole tile to the tensor
    memory accelerator (TMA: `cp.async.bulk.tensor`, one copy per 64-column
    block, through a tensor map of the memref that the runtime passes in)
    and the copy completes on mbarrier `stage` of a ring of `stages`
    mbarriers at byte offset B (made by `hyla_tile.init_barriers`);
    `hyla_tile.barrier_wait` covers it.

    ```mlir
    %a = hyla_tile.async_load %x[%m0, %k] dims [0, 1] stage %s of 2 at 0
        : memref<?x3840xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    %b = hyla_tile.async_load %x[%m0, %k] dims [0, 1] stage %s of 2 at 0
        barriers at 65536
        : memref<?x3840xbf16> -> tensor<128x64xbf16, #hyla_tile.shared>
    ```
  }];
  let arguments = (ins AnyMemRef:$source, Variadic<Index>:$offsets,
                       DenseI64ArrayAttr:$dims, Index:$stage, I64Attr:$stages,
                       I64Attr:$offset, OptionalAttr<I64Attr>:$barriers);
  let results = (outs Tile_FloatTile:$result);
  let assemblyFormat = [{
    $source `[` $offsets `]` `dims` $dims `stage` $stage `of` $stages `at`
    $offset (`barriers` `at` $barriers^)? attr-dict `:` type($source) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Tile_WaitPriorGridOp : Tile_Op<"wait_prior_grid",
                                    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Wait for the grid launched before this one";
  let description = [{
    With programmatic dependent launch the runtime may start a kernel while
    the grid before it in the stream still runs. This op waits until that
    grid has completed and its writes are visible, then lets the grid after
    this one start (which in turn waits for this one before it reads what
    this one writes). A kernel must pass it before it writes any memory or
    reads an argument the grid before it may write;
    `hyla-tile-grid-dependency` places it. Running it again is harmless. On
    targets without grid dependency control and on the CPU it does nothing.

    ```mlir
    hyla_tile.wait_prior_grid
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def Tile_InitBarriersOp : Tile_Op<"init_barriers", [MemoryEffects<[MemWrite]>]> {
  let summary = "Initialize mbarriers in shared memory";
  let description = [{
    Makes `count` mbarriers (8 bytes each) starting `offset` bytes into
    shared memory, visible to the whole program and to the tensor memory
    accelerator before any thread goes on (a barrier). A phase completes
    after `arrivals` arrivals (default 1: the thread that starts a copy;
    a ring that every thread of the program releases with
    `hyla_tile.barrier_arrive` takes the program's thread count).

    ```mlir
    hyla_tile.init_barriers 4 at 65536
    hyla_tile.init_barriers 3 at 65568 arrivals 128
    ```
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<1>]>:$count,
                       I64Attr:$offset,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntMinValue<1>]>>:$arrivals);
  let assemblyFormat = "$count `at` $offset (`arrivals` $arrivals^)? attr-dict";
  let hasVerifier = 1;
}

def Tile_InvalBarriersOp : Tile_Op<"inval_barriers", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Invalidate mbarriers, so that their bytes may be reused";
  let description = [{
    Once every thread is done with the `count` mbarriers at byte offset
    `offset` (no copy still arrives on them), invalidates them; a barrier
    before and after, so that no thread waits on them any more and none
    writes their bytes before they are invalid (PTX requires that before
    the memory serves anything else).

    ```mlir
    hyla_tile.inval_barriers 4 at 65536
    ```
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<1>]>:$count,
                       I64Attr:$offset);
  let assemblyFormat = "$count `at` $offset attr-dict";
  let hasVerifier = 1;
}

def Tile_BarrierWaitOp : Tile_Op<"barrier_wait", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Wait for a phase of an mbarrier, then synchronize the program";
  let description = [{
    Every thread waits until mbarrier `stage` of the ring at byte offset
    `offset` (see `hyla_tile.init_barriers`) has completed the phase whose
    parity is `phase` (0 or 1): the `hyla_tile.async_load` copies that
    arrive on it have landed. Then a barrier, so that every thread is past
    what it did before (a buffer the next copy reuses is free). With
    `local` there is no barrier: each thread only waits for itself (in
    warp-specialized kernels, where other mbarriers say when a buffer is
    free). With `leader` only the thread that issues the program's copies
    waits (for an "empty" mbarrier before it copies into a buffer others
    release) and no barrier follows. A fresh mbarrier counts as having
    completed a phase of parity 1, so a wait for parity 1 passes before its
    first phase completes.

    ```mlir
    hyla_tile.barrier_wait %stage phase %parity at 65536
    hyla_tile.barrier_wait %stage phase %parity at 65536 local
    hyla_tile.barrier_wait %stage phase %parity at 65568 leader
    ```
  }];
  let arguments = (ins Index:$stage, Index:$phase, I64Attr:$offset,
                       UnitAttr:$local, UnitAttr:$leader);
  let assemblyFormat = "$stage `phase` $phase `at` $offset (`local` $local^)? (`leader` $leader^)? attr-dict";
  let hasVerifier = 1;
}

def Tile_BarrierArriveOp : Tile_Op<"barrier_arrive", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Every thread arrives on an mbarrier (releases a buffer)";
  let description = [{
    Every thread of the program arrives once on mbarrier `stage` of the
    ring at byte offset `offset`, made with `arrivals` equal to the
    program's thread count: when all have arrived the phase completes,
    telling a producer (`hyla_tile.produce`) that the program is done
    reading buffer `stage` and it may copy the next tile into it. Reads of
    the buffer before it (`dot`s, which wait for their products) are
    complete when a thread arrives.

    ```mlir
    hyla_tile.barrier_arrive %stage at 98304
    ```
  }];
  let arguments = (ins Index:$stage, I64Attr:$offset);
  let assemblyFormat = "$stage `at` $offset attr-dict";
  let hasVerifier = 1;
}

def Tile_RingBufferOp : Tile_Op<"ring_buffer", [Pure]> {
  let summary = "Name buffer `stage` of a shared-memory ring";
  let description = [{
    The shared-memory buffer `stage` of a ring of `stages` buffers of the
    result's size starting `offset` bytes into shared memory, as the
    `hyla_tile.async_load` with the same ring fills it: a consumer names
    the buffer a copy (possibly started by another thread, see
    `hyla_tile.produce`) lands in. Its contents are defined once the wait
    that covers that copy has passed.

    ```mlir
    %w = hyla_tile.ring_buffer %stage of 3 at 0
        : tensor<64x96xf32, #hyla_tile.shared>
    ```
  }];
  let arguments = (ins Index:$stage, I64Attr:$stages, I64Attr:$offset);
  let results = (outs Tile_FloatTile:$result);
  let assemblyFormat = [{
    $stage `of` $stages `at` $offset attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Tile_ProduceOp : Tile_Op<"produce", [NoTerminator, SingleBlock,
    RecursiveMemoryEffects]> {
  let summary = "Warp specialization: a producer that copies while the program computes";
  let description = [{
    Launches `warps` more warps (whole warpgroups) with the kernel. One
    thread of them runs the region, a producer that typically loops over
    the steps of the kernel's pipelined loop, waits until a ring buffer is
    free (`hyla_tile.barrier_wait ... local` on the ring's "empty"
    mbarriers) and starts the next copy into it (`hyla_tile.async_load`
    with `barriers`); then those warps leave. Every op of the kernel after
    this one runs on the kernel's own `hyla_tile.num_warps` warps only
    (the consumers), which wait for copies on the "full" mbarriers and
    release buffers with `hyla_tile.barrier_arrive`. Ops before it run on
    all warps and must not touch memory (index arithmetic, program ids,
    memref dims) except `hyla_tile.init_barriers` and
    `hyla_tile.wait_prior_grid`.

    On entry the producer warps lower their register limit to `registers`
    and the consumer warps raise theirs to `consumer_registers` (PTX
    `setmaxnreg`; multiples of 8 in [24, 256]), so the registers the
    producer does not need go to the consumers.

    ```mlir
    hyla_tile.init_barriers 2 at 98304
    hyla_tile.init_barriers 2 at 98320 arrivals 128
    hyla_tile.produce warps 4 registers 40 consumer_registers 232 {
      scf.for %i = %c0 to %n step %c1 iter_args(...) -> (index, index) {
        hyla_tile.barrier_wait %s phase %free at 98320 local
        %t = hyla_tile.async_load %x[...] dims [0, 1] stage %s of 2 at 0
            barriers at 98304 : memref<?x96xf32> -> tensor<64x96xf32, #hyla_tile.shared>
        ...
      }
    }
    ```
  }];
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<4>]>:$warps,
                       I64Attr:$registers, I64Attr:$consumer_registers);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `warps` $warps `registers` $registers `consumer_registers`
    $consumer_registers $body attr-dict
  }];
  let hasVerifier = 1;
}

def Tile_AsyncWaitOp : Tile_Op<"async_wait", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Wait for earlier async_load copies";
  let description = [{
    Blocks until at most `pending` of the `hyla_tile.async_load` copies this
    program started are still in flight, then makes the landed buffers
    visible to the whole program (and to `wgmma`): a barrier.

    ```mlir
    hyla_tile.async_wait 2
    ```
  }];
  let arguments = (ins I64Attr:$pending);
  let assemblyFormat = "$pending attr-dict";
}

def Tile_ProgramIdOp : Tile_Op<"program_id", [Pure]> {
  let summary = "Index of this program along a grid dimension";
  let arguments = (ins ConfinedAttr<I64Attr, [IntMinValue<0>, IntMaxValue<2>]>:$dim);
  let results = (outs Index:$result);
  let assemblyFormat = "$dim attr-dict";
}

def Tile_ClusterRankOp : Tile_Op<"cluster_rank", [Pure]> {
  let summary = "Index of this program within its cluster";
  let description = [{
    The program's position in its cluster (`hyla_tile.cluster_dims`
    `[cx, cy, cz]`), x fastest: `(p0 mod cx) + cx * ((p1 mod cy) + cy *
    (p2 mod cz))` for program ids `p0, p1, p2` (PTX `%cluster_ctarank`).
  }];
  let results = (outs Index:$result);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def Tile_ClusterSumOp : Tile_Op<"cluster_sum",
    [SameOperandsAndResultType, MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Elementwise sum of a tile over the programs of a cluster";
  let description = [{
    Every program of the cluster passes its own `input`; each gets back the
    sum of all of them, added in cluster rank order (rank 0 first), so the
    result is the same in every program and on every run. All programs of
    the cluster must reach it (it synchronizes the cluster). On the GPU
    the tiles meet in distributed shared memory; the CPU lowering, whose
    programs run one after another, recomputes the other programs' inputs
    (which therefore must not depend on anything the kernel writes).
    Split-K products use it to add their K slices without a second kernel.

    ```mlir
    %total = hyla_tile.cluster_sum %partial : tensor<64x16xf32, #hyla_tile.mma<warpgroup>>
    ```
  }];
  let arguments = (ins Tile_F32Tile:$input);
  let results = (outs Tile_F32Tile:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_LoadOp : Tile_Op<"load", [MemoryEffects<[MemRead]>,
                                   AttrSizedOperandSegments]> {
  let summary = "Load a tile from a memref, padding out-of-bounds elements";
  let description = [{
    Reads a tile whose origin is `offsets` (one per memref dim). Tile dim `i`
    runs along memref dim `dims[i]`; the memref dims not in `dims` stay at
    their offset. `dims` are distinct but in any order: `dims [3, 2]` reads
    the tile transposed (only tiles whose last dim runs along the memref's
    contiguous last dim move as vectors on the GPU). Elements outside the memref (any coordinate below 0 or at
    or past its size) read as `padding`. Optional `bounds` (one per memref
    dim, each at most that dim's size) take the place of the sizes in that
    test: a variable-length sequence packed among others reads its own
    tokens only.

    ```mlir
    // q[b, t0:t0+64, h, 0:96]
    %q = hyla_tile.load %qm[%b, %t0, %h, %c0] dims [1, 3]
        : memref<?x?x4x96xbf16> -> tensor<64x96xbf16>
    // tokens t0 .. min(t0 + 64, end) - 1 of a packed batch
    %k = hyla_tile.load %km[%c0, %t0, %h, %c0] bounds [%c1, %end, %c4, %c96]
        dims [1, 3] : memref<1x?x4x96xbf16> -> tensor<64x96xbf16>
    ```
  }];
  let arguments = (ins AnyMemRef:$source, Variadic<Index>:$offsets,
                       Variadic<Index>:$bounds, DenseI64ArrayAttr:$dims,
                       DefaultValuedAttr<F64Attr, "0.0">:$padding);
  let results = (outs Tile_Tile:$result);
  let assemblyFormat = [{
    $source `[` $offsets `]` (`bounds` `[` $bounds^ `]`)? `dims` $dims attr-dict
    `:` type($source) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tile_StoreOp : Tile_Op<"store", [MemoryEffects<[MemWrite]>,
                                     AttrSizedOperandSegments]> {
  let summary = "Store a tile into a memref, skipping out-of-bounds elements";
  let description = [{
    The inverse of `hyla_tile.load`: element `e` of `value` goes to the
    memref position `offsets + e` along `dims`, unless that position is
    outside the memref (or past `bounds`, as for the load).
  }];
  let arguments = (ins Tile_Tile:$value, AnyMemRef:$dest,
                       Variadic<Index>:$offsets, Variadic<Index>:$bounds,
                       DenseI64ArrayAttr:$dims);
  let assemblyFormat = [{
    $value `,` $dest `[` $offsets `]` (`bounds` `[` $bounds^ `]`)? `dims` $dims
    attr-dict `:` type($value) `,` type($dest)
  }];
  let hasVerifier = 1;
}

// No memory-effect trait on purpose: an op that only reads and returns
// nothing is dead to DCE, and a prefetch must stay.
def Tile_PrefetchOp : Tile_Op<"prefetch"> {
  let summary = "Hint that a tile will be loaded soon";
  let description = [{
    Names the tile a later `hyla_tile.load` with the same operands will read,
    so a GPU can start moving it toward the core (into L2) while other work
    runs, e.g. the next chunk's inputs in a sequential loop. Only a hint: it
    changes no value, and a tile that is not wholly inside the memref is not
    prefetched.

    ```mlir
    hyla_tile.prefetch %w[%b, %next, %h, %c0] dims [1, 3] shape [64, 96]
        : memref<?x?x30x96xf32>
    ```
  }];
  let arguments = (ins AnyMemRef:$source, Variadic<Index>:$offsets,
                       DenseI64ArrayAttr:$dims, DenseI64ArrayAttr:$shape);
  let assemblyFormat = [{
    $source `[` $offsets `]` `dims` $dims `shape` $shape attr-dict `:` type($source)
  }];
  let hasVerifier = 1;
}

def Tile_DotOp : Tile_Op<"dot", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "Tile matrix product with f32 accumulation";
  let description = [{
    `result = acc + op(a) * op(b)`, where `op` transposes when the matching
    flag is set. `a` and `b` share an element type: bf16 or f16 (multiplied
    exactly, accumulated in f32) or f32 (on GPUs, tf32 tensor cores).

    With `async` (only into `#hyla_tile.mma<warpgroup>` fragments, set by
    `hyla-tile-pipeline-operands`), the product may still be computing when
    the op returns: the result may feed only the `acc` of the next async
    dot or a `hyla_tile.dot_wait`, and the previous async dot's product is
    complete (its operand buffers free) when this one returns.
  }];
  let arguments = (ins Tile_FloatTile:$a, Tile_FloatTile:$b,
                       Tile_F32Tile:$acc,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_a,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_b,
                       UnitAttr:$async);
  let results = (outs Tile_F32Tile:$result);
  let assemblyFormat = [{
    $a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tile_DotWaitOp : Tile_Op<"dot_wait", [AllTypesMatch<["input", "result"]>]> {
  let summary = "Wait for async dot products";
  let description = [{
    Returns `input` once at most `pending` async `hyla_tile.dot` products of
    this program are still computing; `pending = 0` makes `input` (an async
    dot's result) readable by any op.

    ```mlir
    %done = hyla_tile.dot_wait %acc pending 0 : tensor<128x128xf32, #hyla_tile.mma<warpgroup>>
    ```
  }];
  let arguments = (ins Tile_F32Tile:$input, I64Attr:$pending);
  let results = (outs Tile_F32Tile:$result);
  let assemblyFormat = "$input `pending` $pending attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_ReduceOp : Tile_Op<"reduce", [Pure]> {
  let summary = "Reduce a tile along one axis (sum or max)";
  let arguments = (ins Tile_Tile:$input, Tile_ReduceKindAttr:$kind,
                       I64Attr:$axis);
  let results = (outs Tile_Tile:$result);
  let assemblyFormat = [{
    $kind $input `axis` $axis attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tile_BroadcastOp : Tile_Op<"broadcast", [Pure]> {
  let summary = "Broadcast a tile to a larger rank";
  let description = [{
    Operand dim `i` becomes result dim `dims[i]`; the other result dims
    repeat the operand.

    ```mlir
    %rows = hyla_tile.broadcast %m dims [0] : tensor<64xf32> -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins Tile_Tile:$input, DenseI64ArrayAttr:$dims);
  let results = (outs Tile_Tile:$result);
  let assemblyFormat = [{
    $input `dims` $dims attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tile_IotaOp : Tile_Op<"iota", [Pure]> {
  let summary = "Tile of element coordinates along one dim";
  let description = [{
    `result[i0, i1, ...] = i_dim`. Comparing two iotas gives masks such as
    the causal (lower triangular) one.
  }];
  let arguments = (ins I64Attr:$dim);
  let results = (outs Tile_IntTile:$result);
  let assemblyFormat = "`dim` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_CumsumOp : Tile_Op<"cumsum", [Pure, SameOperandsAndResultType]> {
  let summary = "Inclusive prefix sum along one axis";
  let arguments = (ins Tile_F32Tile:$input, I64Attr:$axis);
  let results = (outs Tile_F32Tile:$result);
  let assemblyFormat = "$input `axis` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_UnitLowerInverseOp
    : Tile_Op<"unit_lower_inverse", [Pure, SameOperandsAndResultType]> {
  let summary = "Inverse of I + strictly-lower(input)";
  let description = [{
    Returns `(I + L)^-1` where `L` is the strictly lower triangular part of
    the square `input` (its diagonal and upper part are ignored). This is
    the triangular solve of the UT transform in the chunked delta rule,
    done by forward substitution.
  }];
  let arguments = (ins Tile_F32Tile:$input);
  let results = (outs Tile_F32Tile:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_ReshapeOp : Tile_Op<"reshape", [Pure]> {
  let summary = "Reinterpret a tile with another shape of the same size";
  let description = [{
    Keeps the row-major order of elements.
  }];
  let arguments = (ins Tile_Tile:$input);
  let results = (outs Tile_Tile:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_ConvertLayoutOp : Tile_Op<"convert_layout", [Pure]> {
  let summary = "Move a tile between the thread layout and mma fragments";
  let description = [{
    The same elements in another encoding: between the default layout (no
    encoding) and `#hyla_tile.mma`. A GPU lowering detail, made explicit so
    every exchange through shared memory shows in the IR.

    ```mlir
    %f = hyla_tile.convert_layout %t
        : tensor<64x64xf32> -> tensor<64x64xf32, #hyla_tile.mma>
    ```
  }];
  let arguments = (ins Tile_Tile:$input);
  let results = (outs Tile_Tile:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  // A round trip (fragments -> thread layout -> the same fragments) folds.
  let hasFolder = 1;
}

#endif // HYLA_TILE_OPS_TD
