//===- Passes.td - hyla lowering passes --------------------*- tablegen -*-===//
#ifndef HYLA_LOWERING_PASSES_TD
#define HYLA_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def TileToCPU : Pass<"hyla-tile-to-cpu", "mlir::ModuleOp"> {
  let summary = "Lower hyla_tile kernels to linalg/tensor/scf for the CPU";
  let description = [{
    Rewrites every `hyla_tile` kernel into a plain function that runs one
    program: its program ids become three trailing `index` arguments, and
    each tile op becomes upstream IR (`tensor.generate`, `linalg.generic`,
    `linalg.reduce`, `linalg.broadcast`, `scf.for`). The result bufferizes
    and lowers to LLVM with MLIR's standard CPU pipeline; `hyla-cpu-runner`
    JIT-compiles it and checks it against float64 references. Tile
    encodings (`#hyla_tile.mma`, set by the GPU layout passes) are dropped
    and `convert_layout` ops vanish, so kernels after those passes run too.
    Run it on a module that holds only kernels: dispatches would no longer
    match the new signatures.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def TileMmaAccumulators : Pass<"hyla-tile-mma-accumulators", "mlir::ModuleOp"> {
  let summary = "Keep dot accumulators carried by scf.for in mma fragments";
  let description = [{
    GPU only, before `hyla-tile-to-gpu`. Where an `scf.for` carries an f32
    tile whose only use in the body is as the `acc` of one `hyla_tile.dot`,
    and that dot's result is only yielded back in its place (a k loop), the
    carried tile, the dot result and the loop result get the
    `#hyla_tile.mma` encoding: the accumulator stays in the registers
    `mma.sync` writes, instead of going through shared memory into the
    thread layout and back at every step. A `convert_layout` before the loop
    (or an encoded constant, for a splat start value) and one after it are
    the only exchanges left. Tiles whose strips do not split evenly over the
    kernel's warps keep the thread layout.

    On a target with `wgmma` (sm_90a) a dot that `wgmma` can run from
    128-byte-swizzled shared memory takes `#hyla_tile.mma<warpgroup>`
    instead: 16-bit operands both contiguous along k (A not transposed, B
    transposed), K a multiple of 64, M a multiple of 64 shared evenly by
    whole warpgroups, N a multiple of 8 up to 256.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"sm_90a\"",
           "GPU target (see lowering/Targets.def): whether wgmma exists">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def TileFragmentLayouts : Pass<"hyla-tile-fragment-layouts", "mlir::ModuleOp"> {
  let summary = "Keep dot results in mma fragments through the ops that use them";
  let description = [{
    GPU only, after `hyla-tile-mma-accumulators`. A `hyla_tile.dot` whose
    result (f32, thread layout) has a user that can take fragments
    produces `#hyla_tile.mma` instead, with a `convert_layout` back to the
    thread layout for the rest. The conversion then moves down the def-use
    chains, so no exchange through shared memory remains where none is
    needed:

    * an elementwise arith or math op with a converted operand computes on
      fragments when its other tile operands can be rebuilt in fragments:
      splat constants, `tensor.splat`, `iota`, broadcasts of 1-D tiles,
      single-use loads, and elementwise ops of those;
    * a `store` or a dot operand (`a`, `b`, `acc`) of a converted value
      takes the fragments directly;
    * a loop-carried tile yielded as a converted value is carried as
      fragments (converted once before and after the loop), and an
      `scf.if` result that both branches yield as converted fragments is
      those fragments;
    * an f32 row reduction (axis 1) of wgmma fragments reduces them in
      place into fragment rows (a 1-D `#hyla_tile.mma<warpgroup>` tile),
      which elementwise ops, loops and broadcasts back over the same rows
      take as they are.

    A round trip of conversions folds away; reductions, cumsums and the
    other ops keep the thread layout behind one conversion. Tiles whose
    16-row strips do not split evenly over the kernel's warps are left
    alone.

    Where the target has wgmma, a dot whose M x N fits whole warpgroups
    (64-row blocks shared evenly by the kernel's warps, N a multiple of 8
    up to 256) and whose K fills whole 128-byte swizzle rows (64 16-bit or
    32 f32 elements) produces `#hyla_tile.mma<warpgroup>` instead, whatever
    its operands' orientation: the lowering writes them to shared memory
    k-contiguous itself (f32 rounded to tf32). The same propagation then
    applies to those fragments; an elementwise op mixing the two kinds
    keeps the thread layout.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"sm_90a\"",
           "GPU target (see lowering/Targets.def): whether wgmma exists">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def TilePipelineOperands : Pass<"hyla-tile-pipeline-operands", "mlir::ModuleOp"> {
  let summary = "Copy a wgmma k loop's operands into shared memory asynchronously";
  let description = [{
    GPU only, after `hyla-tile-mma-accumulators`. A k loop whose
    accumulator is `#hyla_tile.mma<warpgroup>` and whose dot operands are
    loaded one step ahead (the loads of step k + 1 yielded as the operands
    of step k, the first step's loaded before the loop) stops staging them
    through registers: each load becomes `hyla_tile.async_load` into a ring
    of S buffers in shared memory (S = the kernel's `hyla_tile.num_stages`,
    default 2; `#hyla_tile.shared` tiles). Steps 0 .. S - 2 are copied
    before the loop; step k waits until only the next S - 2 steps' copies
    are in flight (`hyla_tile.async_wait`), then starts step k + S - 1's
    into the buffer step k - 1 used, so copies run while wgmma computes;
    the loop carries each operand's buffers of steps k .. k + S - 2 and the
    current stage, and is followed by a wait for the copies still in
    flight. From S = 4 the dot becomes `async` (its product may still be
    computing when it returns, so copies run S - 2 steps ahead, into the
    buffers the previous product released) and a `hyla_tile.dot_wait`
    follows the loop. Applies only where the body is the
    two loads, the dot and index arithmetic, the memrefs are 2-D with rows
    in whole 16-byte chunks, and the loads read tile dims [0, 1] with no
    explicit bounds.

    With `tma` (the target's tensor memory accelerator, sm_90a and later)
    the copies go through tensor maps instead: the pass initializes one
    mbarrier per stage and ring (`hyla_tile.init_barriers`, after both
    rings), the copies carry `barriers at`, the loop also carries the
    parity of the current stage's barrier phase (flipped each time the
    ring wraps), each step waits on its stage's barriers
    (`hyla_tile.barrier_wait`) instead of `async_wait`, and after the loop
    the steps copied past its end are waited for the same way.

    A sequential loop whose body loads dot operands itself (the GDN state
    kernel's chunk loop, attention's key loop) gets the same treatment for
    each load that feeds a dot into `#hyla_tile.mma<warpgroup>` as its
    k-contiguous operand (A not transposed, B transposed) or, 16-bit, as a
    B contiguous along n (attention's values, which wgmma reads
    transposed), 16- or 32-bit, rows along the memref's last
    dim, no bounds: a ring of S buffers (the kernel's
    `hyla_tile.num_stages` with TMA, 2 with cp.async), steps 0 .. S - 2
    copied before the loop and step i + S - 1's started at the top of step
    i (after the wait for step i's, whose barrier also means every thread
    is past step i - 1, whose buffers it reuses), each only for a step the
    loop runs. The body names its buffers with `hyla_tile.ring_buffer`.
    The other ops of the body keep their scratch: the rings and mbarriers
    take the first bytes of shared memory, recorded as the kernel's
    `hyla_tile.reserved_shared` (ops after the last `inval_barriers` reuse
    those bytes). A load of the loop's block before it that feeds every
    step's dot the same way (attention's query block) is copied once, into
    a ring of one buffer.

    With `warp-specialize` (and `tma`), where the loop is at the top of the
    kernel and its bounds and copy offsets are index arithmetic of the
    arguments and program ids, the copies move to a producer warpgroup
    (`hyla_tile.produce`, registers lowered to `producer-registers`, the
    consumers' raised to `consumer-registers`): it runs the loop's steps,
    waits on stage i mod S's "empty" mbarrier and copies step i into it;
    each consumer step waits only for its own copies (`barrier_wait ...
    local`, no barrier of the whole program) and releases its stage at its
    end (`hyla_tile.barrier_arrive`).

    With `release-rings` (and `tma`, not specialized) the program's own
    threads keep the copies, but the stages are released the same way:
    every thread arrives on the stage's "empty" mbarrier at the end of its
    step, only the thread that copies waits for it (`barrier_wait ...
    leader`) before it copies the next step into that stage, and the waits
    for copies are `local`: no barrier of the whole program a step, so its
    warpgroups need not run in step.
  }];
  let options = [
    Option<"tma", "tma", "bool", /*default=*/"false",
           "copy through tensor maps on mbarriers (cp.async.bulk.tensor)">,
    Option<"warpSpecialize", "warp-specialize", "bool", /*default=*/"false",
           "sequential loops' copies from a producer warpgroup (needs tma)">,
    Option<"releaseRings", "release-rings", "bool", /*default=*/"false",
           "unspecialized sequential loops with tma: each thread releases a "
           "stage on an mbarrier when done with it and the copying thread "
           "waits for that, instead of a barrier of the whole program a step">,
    Option<"producerRegisters", "producer-registers", "int64_t",
           /*default=*/"40",
           "registers a producer thread keeps (setmaxnreg.dec)">,
    Option<"consumerRegisters", "consumer-registers", "int64_t",
           /*default=*/"232",
           "registers a consumer thread gets (setmaxnreg.inc)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def TileAsyncDots : Pass<"hyla-tile-async-dots", "mlir::ModuleOp"> {
  let summary = "Run warpgroup products under the independent work after them";
  let description = [{
    GPU only, after `hyla-tile-pipeline-operands`. In a kernel marked
    `hyla_tile.overlap_products`, a `hyla_tile.dot` into
    `#hyla_tile.mma<warpgroup>` fragments whose result is first needed some
    ops later becomes `async`, and a `hyla_tile.dot_wait` goes just before
    the first op that uses the result or may touch memory (the block's
    terminator at the latest, so a loop step's products finish in the step
    and its ring buffers can be refilled). The ops in between run while
    the tensor cores compute: with attention's `overlap-softmax` order, the
    softmax of key block j under block j - 1's P V product. The wait asks
    for 1 pending product when another product was issued in between (that
    one returned with every earlier product complete) and 0 otherwise.
    Blocks that already hold async products (pipelined k loops) are left
    alone.
  }];
  let dependentDialects = ["::hyla::tile::TileDialect"];
}

def TileGridDependency : Pass<"hyla-tile-grid-dependency", "mlir::ModuleOp"> {
  let summary = "Place each kernel's wait for the grid before it";
  let description = [{
    GPU only. Under programmatic dependent launch a kernel may start while
    the grid before it in the stream still runs, so it must wait
    (`hyla_tile.wait_prior_grid`) before it writes any memory or reads an
    argument that grid may write. Arguments listed in the kernel's
    `hyla_tile.early_args` (set by `hyla-early-inputs`) may be read before
    the wait, so their loads overlap the previous grid: the pass puts the
    wait before the first op, in program order, that stores or reads another
    argument (any op with a memref operand other than a load, an async copy,
    a prefetch or `memref.dim` counts as a write), and moves loads of early
    arguments that follow it in its block above it where their operands
    allow. It looks into `scf.if` branches (a wait
    in each branch that needs one, and one after the `scf.if` if later ops
    need it) and stops at any other op with regions that needs a wait (the
    wait goes before it, not into a loop). Without `hyla_tile.early_args`
    the wait is the kernel's first op.
  }];
  let dependentDialects = ["::hyla::tile::TileDialect"];
}

def TileToGPU : Pass<"hyla-tile-to-gpu", "mlir::ModuleOp"> {
  let summary = "Lower hyla_tile kernels to gpu.func kernels for NVIDIA GPUs";
  let description = [{
    Turns each `hyla_tile` kernel into a `gpu.module` holding one `gpu.func`
    run by one CTA of `32 * num_warps` threads per program. Tiles are spread
    over the threads: element `e` of a tile lives in slot `e / threads` of
    thread `e % threads`, so consecutive threads touch consecutive elements
    (coalesced global access), elementwise math needs no communication, and
    a reshape is free. Operations that move data between threads go through
    dynamic shared memory: `dot` writes its operands there and runs
    `mma.sync` on the tensor cores (bf16/f16 as m16n8k16, f32 as tf32
    m16n8k8, f32 accumulation), its fragments read with `ldmatrix` where
    rows are 16-byte aligned (transposed for 16-bit types; a tf32 operand
    strided along k is stored transposed, in a swizzled layout of one
    region per k step); `reduce` splits each row over a group of
    lanes and finishes with warp shuffles; `broadcast`, `cumsum`,
    `unit_lower_inverse` and `tensor.extract` exchange values through it.
    Global loads and stores are masked gathers/scatters, so out-of-bounds
    elements are never touched.

    Kernel parameters: each memref becomes a global pointer followed by one
    i64 per dynamic dim. The kernel records its CTA size in
    `known_block_size` and its dynamic shared memory in
    `hyla.shared_memory_bytes`.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"sm_90a\"",
           "GPU target (see lowering/Targets.def)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MathToNVVM : Pass<"hyla-math-to-nvvm", "mlir::gpu::GPUModuleOp"> {
  let summary = "Lower math ops in GPU kernels to NVVM fast-math intrinsics";
  let description = [{
    Replaces `math.exp`, `exp2`, `log`, `log1p`, `rsqrt`, `sqrt`, `sin` and
    `cos` (scalars or vectors of f32) with the PTX approximate instructions
    (`ex2.approx`, `lg2.approx`, `rsqrt.approx`, `sin.approx`,
    `cos.approx`) plus the scaling and range reduction that keep them
    accurate to a few ulp for the arguments hyla's kernels produce; `log1p`
    keeps full relative accuracy near 0; `math.fma` becomes the LLVM
    intrinsic. No libdevice is linked.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def TensorMapParams : Pass<"hyla-tensor-map-params", "mlir::ModuleOp"> {
  let summary = "Make kernels' tensor-map parameters 128-byte grid constants";
  let description = [{
    GPU only, after `convert-gpu-to-nvvm`. In an `llvm.func` kernel that
    `hyla-tile-to-gpu` marked with `hyla.tensor_maps`, each listed
    parameter becomes what the TMA needs and the runtime passes: a
    128-byte, 64-byte-aligned `byval` parameter marked
    `nvvm.grid_constant`, so that the kernel reads the tensor map where the
    launch put it (its generic address is the parameter's) instead of a
    local copy.
  }];
}

#endif // HYLA_LOWERING_PASSES_TD
