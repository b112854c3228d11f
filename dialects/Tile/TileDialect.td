//===- TileDialect.td - the hyla_tile kernel dialect -------*- tablegen -*-===//
#ifndef HYLA_TILE_DIALECT_TD
#define HYLA_TILE_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Tile_Dialect : Dialect {
  let name = "hyla_tile";
  let cppNamespace = "::hyla::tile";
  let summary = "Block-level tile programs: the kernels hyla compiles";
  let description = [{
    A `hyla_tile` kernel is a `func.func` marked `hyla_tile.kernel` that runs
    once per program of a 3-D grid, like a Triton program or a CUDA block.
    Its arguments are memrefs (global tensors with dynamic batch/token sizes);
    its body computes on statically shaped tiles, which are builtin `tensor`
    values: loads and stores move tiles between memrefs and values, with
    out-of-bounds elements padded on load and skipped on store; `dot`
    multiplies tiles with f32 accumulation; elementwise math uses `arith` and
    `math` ops on tiles directly; `reduce`, `broadcast`, `cumsum`, `iota` and
    `unit_lower_inverse` cover the rest of what chunked linear attention and
    flash attention need. Loops are `scf.for` with tiles as loop-carried values.

    The same kernel lowers two ways: to CPU code (through linalg and
    bufferization), which tests run against float64 references, and to GPU
    code (one CTA per program, tiles distributed over its threads, `dot` on
    the tensor cores), which becomes PTX.

    Kernel attributes: `hyla_tile.kernel` (unit) marks a kernel,
    `hyla_tile.num_warps` (i32, 1 to 16, default 4) sets its CTA size, and
    `hyla_tile.min_programs_per_sm` (i32, 1 to 32, optional) asks the GPU
    backend to fit that many CTAs on a multiprocessor (it caps registers:
    PTX `.minnctapersm`), for latency-bound kernels that need occupancy.
    `hyla_tile.num_stages` (i32, 2 to 8, optional, default 2) sets how many
    shared-memory buffers `hyla-tile-pipeline-operands` gives each operand
    of a pipelined k loop: up to num_stages - 1 steps' copies in flight.
    `hyla_tile.reserved_shared` (i32, a multiple of 1024, optional) keeps
    the first that many bytes of shared memory for `async_load` rings and
    their mbarriers, which live across the ops that use shared memory as
    scratch (those start after it); `hyla-tile-pipeline-operands` sets it.
    `hyla_tile.overlap_products` (unit, optional) lets
    `hyla-tile-async-dots` run the kernel's warpgroup products
    asynchronously, each waited for just before its result is used.
    `hyla_tile.cluster_dims` (array<i64> of 3, optional) groups the grid's
    programs into clusters of that shape (PTX `.reqnctapercluster`; the
    grid must be a whole number of clusters, at most 8 programs a cluster),
    whose programs run at once and may combine tiles (`cluster_sum`).
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral kKernelAttrName = "hyla_tile.kernel";
    static constexpr ::llvm::StringLiteral kNumWarpsAttrName = "hyla_tile.num_warps";
    static constexpr ::llvm::StringLiteral kMinProgramsPerSMAttrName =
        "hyla_tile.min_programs_per_sm";
    static constexpr ::llvm::StringLiteral kNumStagesAttrName =
        "hyla_tile.num_stages";
    /// Kernel arguments no grid launched just before this one writes: the
    /// kernel may read them before it waits for that grid.
    static constexpr ::llvm::StringLiteral kReservedSharedAttrName =
        "hyla_tile.reserved_shared";
    static constexpr ::llvm::StringLiteral kEarlyArgsAttrName =
        "hyla_tile.early_args";
    static constexpr ::llvm::StringLiteral kOverlapProductsAttrName =
        "hyla_tile.overlap_products";
    static constexpr ::llvm::StringLiteral kClusterDimsAttrName =
        "hyla_tile.cluster_dims";
    /// Most programs a cluster may hold (CUDA's portable cluster size).
    static constexpr int64_t kMaxClusterSize = 8;
    /// The cluster shape of a kernel (the attribute, or {1, 1, 1}).
    static ::llvm::SmallVector<int64_t, 3>
    getClusterDims(::mlir::Operation *kernel);
    /// Buffers per pipelined operand (the attribute, or the default 2).
    static int64_t getNumStages(::mlir::Operation *kernel);
    /// Bytes of shared memory kept for async copies (the attribute, or 0).
    static int64_t getReservedShared(::mlir::Operation *kernel);
    /// The CTA size of a kernel in warps (the attribute, or the default 4).
    static int64_t getNumWarps(::mlir::Operation *kernel);
    /// The warps a kernel launches: its own and those of its
    /// `hyla_tile.produce` (warp specialization), if it has one.
    static int64_t getLaunchWarps(::mlir::Operation *kernel);
  }];
}

def Tile_ReduceKind : I32EnumAttr<"ReduceKind", "tile reduction", [
    I32EnumAttrCase<"Sum", 0, "sum">,
    I32EnumAttrCase<"Max", 1, "max">]> {
  let cppNamespace = "::hyla::tile";
  let genSpecializedAttr = 0;
}

def Tile_ReduceKindAttr : EnumAttr<Tile_Dialect, Tile_ReduceKind, "reduce_kind"> {
  let assemblyFormat = "$value";
}

class Tile_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tile_Dialect, mnemonic, traits>;

#endif // HYLA_TILE_DIALECT_TD
