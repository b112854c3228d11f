//===- Passes.td - hyla fusion and tiling passes -----------*- tablegen -*-===//
#ifndef HYLA_PASSES_TD
#define HYLA_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseQKL2Norm : Pass<"hyla-fuse-qk-l2norm", "mlir::ModuleOp"> {
  let summary = "Fold the L2 norms of q and k into the delta rule";
  let description = [{
    When both `q` and `k` of a `hyla.gated_delta_rule` or
    `hyla.gated_delta_rule_cached` are results of `hyla.l2_norm` ops with
    one epsilon, and the norms do not round (their result is f32 or their
    input's type), the op reads the unnormalized tensors and gets
    `qk_l2norm_epsilon`: its kernels normalize as they load q and k (the
    decode kernel in registers, the chunk kernels per chunk row) instead of
    two extra launches and round trips through memory. Norms with other
    users stay as they are.

    Into the prefill op only with `prefill=true`: on H100 the chunk kernels
    normalizing q and k themselves measured 5-7% slower at Olmo's head
    shape (K=96) than two separate norm kernels, 1-3% faster at K=V=128
    (docs/perf.md), so by default the norms stay separate there.
  }];
  let options = [
    Option<"prefill", "prefill", "bool", "false",
           "also fold into hyla.gated_delta_rule (the chunked prefill)">
  ];
}

def FuseGdnLayer : Pass<"hyla-fuse-gdn-layer", "mlir::ModuleOp"> {
  let summary = "Fold a GDN layer's convs, gates and output norm into the "
                "delta rule";
  let description = [{
    Folds the elementwise neighbours of a `hyla.gated_delta_rule` (prefill,
    dense batches) into the op, so that its chunk kernels compute them on
    the rows they load and store instead of separate kernels writing and
    re-reading whole tensors:

    - prologue: when `q`, `k` and `v` are `hyla.causal_conv1d` results with
      SiLU (split into heads by `tensor.expand_shape`) and `q`/`k` are not
      normalized by separate ops, the op reads the raw projections and
      gets `conv(wq, wk, wv)`. The conv outputs are then not rounded to
      their element type. When `g` and `beta` are the results of one
      `hyla.gdn_gates`, the op reads the raw `a` and `b` and gets
      `gates(a_log, dt_bias)` (exact: the gates are f32).
    - epilogue (`output-norm`): when `o` only feeds a `hyla.gated_rms_norm`
      of its own type, the op applies it (`output_norm(gate, weight)`) to
      its unrounded output.

    Each producer must have no other user. Packed sequences (`cu_seqlens`)
    are left alone: `hyla.causal_conv1d` runs across their boundaries,
    while the op's folded conv restarts at each sequence. Run after
    `hyla-fuse-qk-l2norm` (prefill) so that the q/k norms are already in the
    op.
  }];
  let options = [
    Option<"prologue", "prologue", "bool", "true",
           "fold the short convs and the gates">,
    Option<"outputNorm", "output-norm", "bool", "true",
           "fold the gated RMSNorm of the output">
  ];
}

def ChunkDeltaRule : Pass<"hyla-chunk-delta-rule", "mlir::ModuleOp"> {
  let summary = "Rewrite hyla.gated_delta_rule into a chunked (WY/UT) tile kernel";
  let description = [{
    Replaces each `hyla.gated_delta_rule` with a `hyla.dispatch` of a
    `hyla_tile` kernel that runs the chunked form of the recurrence: tokens
    are processed in chunks of `chunk-size`; inside a chunk the delta-rule
    updates become matrix products through the UT transform
    `T = (I + tril(diag(beta) K K^T * Gamma, -1))^-1 diag(beta)`, and only the
    f32 state `[K, block-v]` is carried from chunk to chunk. Decay factors are
    formed as `exp` of differences of in-chunk cumulative log-decays, masked
    before the `exp`, so no factor exceeds 1 and nothing overflows for any
    gate value. Any token count works: the last chunk is padded (zero keys,
    values and gates, which leave the state unchanged) and its padding is not
    stored.

    Only the state update depends on the previous chunk, so by default the
    rewrite makes three kernels: `prep` computes W and U for every chunk in
    parallel; `state` walks the chunks of one (batch, value head, value
    block) in order, computing `D = U - W S` and the next state and storing
    the f32 state at every chunk start (transposed, `[V, K]`: the kernels
    carry `S^T`, so that both state products have a value block's rows);
    `output` computes every chunk's
    outputs in parallel from those states. With `parallel-chunks=false` a
    single kernel does all of it, one (batch, value head, value block) per
    program.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", "64", "tokens per chunk">,
    Option<"blockV", "block-v", "int64_t", "64",
           "value columns of the state per program (must divide V)">,
    Option<"outputBlockV", "output-block-v", "int64_t", "192",
           "value columns per output program where they divide V (else, or "
           "0: block-v); wider blocks share each chunk's Q K^T over more "
           "columns (192 measured 6-8% faster than 64 at V=192 on H100)">,
    Option<"numWarps", "num-warps", "int64_t", "16",
           "warps per prep and output program (16 measured 1-5% faster "
           "than 8 on H100)">,
    Option<"stateNumWarps", "state-num-warps", "int64_t", "16",
           "warps per state program; at 4 its two products (64-row value "
           "blocks) are one wgmma warpgroup each on sm_90a, measured 2.1x "
           "slower on H100 than 16 warps of mma.sync (register spills)">,
    Option<"parallelChunks", "parallel-chunks", "bool", "true",
           "split into prep/state/output kernels (parallel over chunks)">,
    Option<"stateStages", "state-stages", "int64_t", "2",
           "shared-memory buffers for each operand the state program copies "
           "ahead (hyla_tile.num_stages, 2 to 8): chunks of copies in "
           "flight">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::hyla::tile::TileDialect"];
}

def FlashAttention : Pass<"hyla-flash-attention", "mlir::ModuleOp"> {
  let summary = "Rewrite hyla.attention into a flash-attention tile kernel";
  let description = [{
    Replaces each `hyla.attention` with a `hyla.dispatch` of a tile kernel
    that computes attention block by block with the online softmax: per block
    of `block-m` queries it keeps the running row max `m`, row sum `l` and the
    f32 output accumulator, rescaling them by `exp(m_old - m_new)` as each
    block of `block-n` keys arrives, so the `T x S` score matrix never exists.
    Causal masking skips key blocks after the query block and masks the
    blocks from the diagonal on with an iota comparison (an `scf.if`; the
    blocks before need none). Query head `h` reads KV head
    `h / (HQ / HKV)` (GQA). Probabilities are rounded to the value type for
    the second product, as FlashAttention does. With `cu_seqlens` (packed
    sequences) the grid has ceil(T / block-m) + N block slots; each program
    finds its sequence by walking the offsets, runs its key loop from the
    sequence's first token and stores only rows before its end.
    `min-programs-per-sm` caps the registers so that many programs fit an
    SM (hylac asks for 2 for the 128-query wgmma programs).
    `overlap-softmax` reorders each key step as FlashAttention-3 does: the
    step computes block j's scores, then adds block j - 1's probabilities
    times its values, then runs block j's softmax (steps 0 to n: step 0's
    product adds zero, step n masks every score), and marks the kernel
    `hyla_tile.overlap_products` so that on GPUs the two products run
    asynchronously under the softmax (`hyla-tile-async-dots`).

    `hyla.attention_cached` (decode) becomes three dispatches: an append
    kernel writes the new tokens' keys and values into their slots (the
    caches updated in place); a split kernel, one program per (split, KV
    head, sequence), runs the online softmax over its share of the cached
    keys for the query heads of that KV head (flash decoding: a long
    context keeps `decode-splits` programs busy instead of one); a combine
    kernel merges the partials by their row maxima and sums. A bad slot
    or length gives NaN outputs and leaves the caches alone.
  }];
  let options = [
    Option<"blockM", "block-m", "int64_t", "64", "queries per program">,
    Option<"blockN", "block-n", "int64_t", "64", "keys per inner step">,
    Option<"numWarps", "num-warps", "int64_t", "8", "warps per program">,
    Option<"minProgramsPerSM", "min-programs-per-sm", "int64_t", "0",
           "programs each SM must fit, capping their registers (0: no cap)">,
    Option<"overlapSoftmax", "overlap-softmax", "bool", "false",
           "run block j's softmax after block j - 1's P V product, so that "
           "asynchronous products overlap it (FlashAttention-3's "
           "intra-warpgroup pipelining)">,
    Option<"decodeBlockN", "decode-block-n", "int64_t", "64",
           "hyla.attention_cached: cached keys per inner step">,
    Option<"decodeSplits", "decode-splits", "int64_t", "16",
           "hyla.attention_cached: programs sharing one sequence's keys "
           "(flash decoding), their partials merged by a combine kernel">,
    Option<"decodeNumWarps", "decode-num-warps", "int64_t", "4",
           "hyla.attention_cached: warps per split program">,
    Option<"decodeMinProgramsPerSM", "decode-min-programs-per-sm", "int64_t",
           "0", "hyla.attention_cached: split programs each SM must fit, "
           "capping their registers (0: no cap)">,
    Option<"decodeMinSplitKeys", "decode-min-split-keys", "int64_t", "0",
           "hyla.attention_cached: the fewest cached keys a split takes "
           "(rounded up to whole blocks; splits past the keys store empty "
           "partials)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::hyla::tile::TileDialect"];
}

def Kernelize : Pass<"hyla-kernelize", "mlir::ModuleOp"> {
  let summary = "Turn the remaining hyla graph ops into dispatches of tile kernels";
  let description = [{
    Gives every remaining compute op (embedding, RMSNorm, L2 norm, gated
    RMSNorm, linear, causal conv, GDN gates, RoPE, SwiGLU, add) a tile kernel
    and replaces it with a `hyla.dispatch`. Row-wise ops see their operands
    collapsed to `[rows, features]`; linear becomes a tiled GEMM with f32
    accumulation. Kernels are shared between ops with equal static shapes,
    so the 24 GDN layers of a model dispatch the same kernels.

    A linear marked `few_rows` (decode) computes `y^T = W x^T` instead:
    a program takes `few-rows-block-n` weight rows (the product's M, so
    wgmma's 64-row tile is the weight's) and 16 input rows, over one of
    `S` slices of K, with the weight streamed through the k loop's
    pipeline (`few-rows-stages` buffers); `S` is the fewest slices that
    give `few-rows-programs` programs for one block of rows. With `S > 1`
    the slices' f32 partial products go to a temporary and a second
    kernel sums and rounds them. With `few-rows-cluster` > 1 the programs
    of one output block form a thread-block cluster instead
    (`hyla_tile.cluster_dims`, `S` at most `few-rows-cluster`) whose
    `cluster_sum` adds their partials in distributed shared memory, rank 0
    rounding and storing the sum: one kernel, but measured slower on the
    H100 (docs/perf.md), so off by default.
  }];
  let options = [
    Option<"gemmBlockM", "gemm-block-m", "int64_t", "128", "GEMM rows per program">,
    Option<"gemmBlockN", "gemm-block-n", "int64_t", "128", "GEMM columns per program">,
    Option<"gemmBlockK", "gemm-block-k", "int64_t", "64", "GEMM reduction step">,
    Option<"gemmNumWarps", "gemm-num-warps", "int64_t", "8", "warps per GEMM program">,
    Option<"gemmStages", "gemm-stages", "int64_t", "3",
           "GEMM operand buffers in shared memory where the k loop is "
           "pipelined (sm_90a wgmma): stages - 1 steps of copies in flight">,
    Option<"gemmEpilogues", "gemm-epilogues", "bool", "true",
           "GEMM: add the residual, or apply SwiGLU to two products of "
           "the same input, before the store, where that is the products' "
           "only use">,
    Option<"gemmGroupM", "gemm-group-m", "int64_t", "16",
           "GEMM row blocks a group of programs takes together (programs "
           "run row block fastest within a group, so those in flight share "
           "their operands in L2)">,
    Option<"fewRowsBlockN", "few-rows-block-n", "int64_t", "64",
           "few-rows linear: weight rows per program">,
    Option<"fewRowsBlockK", "few-rows-block-k", "int64_t", "128",
           "few-rows linear: reduction step">,
    Option<"fewRowsStages", "few-rows-stages", "int64_t", "3",
           "few-rows linear: weight buffers in the pipelined k loop">,
    Option<"fewRowsPrograms", "few-rows-programs", "int64_t", "528",
           "few-rows linear: programs to aim for with one block of rows "
           "(K is split until there are as many; 528 = 4 per H100 SM)">,
    Option<"fewRowsEpilogues", "few-rows-epilogues", "bool", "true",
           "few-rows linear: the kernel that sums the K slices also adds "
           "the residual or applies SwiGLU where that is the product's only "
           "use">,
    Option<"fewRowsCluster", "few-rows-cluster", "int64_t", "1",
           "few-rows linear: most K slices one output block's cluster adds "
           "(1 to 8; 1: no clusters, a second kernel adds the slices)">,
    Option<"decodeBlockV", "decode-block-v", "int64_t", "16",
           "decode delta rule: state columns per program (must divide V; "
           "V itself when it does not)">,
    Option<"decodeNumWarps", "decode-num-warps", "int64_t", "2",
           "decode delta rule: warps per program">,
    Option<"decodeMinProgramsPerSM", "decode-min-programs-per-sm", "int64_t",
           "-1", "decode delta rule: programs each SM must fit (caps "
           "registers; 0: no cap; -1: 8 when a thread holds at most 24 "
           "state elements, else no cap)">,
    Option<"decodeBlocksPerProgram", "decode-blocks-per-program", "int64_t",
           "1", "decode delta rule: value blocks one program updates one "
           "after another, their states prefetched into L2 at its start "
           "(the largest divisor of the block count up to this)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::hyla::tile::TileDialect"];
}

def MergeDispatches : Pass<"hyla-merge-dispatches", "mlir::ModuleOp"> {
  let summary = "Run independent dispatches as one grid";
  let description = [{
    Groups consecutive `hyla.dispatch` ops of a block that do not depend on
    each other (no result of one reaches another before the last of them,
    and none updates in place a buffer another reads) into one dispatch of
    a merged kernel: its grid is `[sum of the parts' program counts, 1, 1]`
    and program `p` runs the part whose range holds `p`, with that part's
    program ids recovered from `p - start`. A part can only be followed by
    another if its grid sizes are constants or sizes of its own operands
    (the kernel reads them to find where the part ends). Parts have the
    same number of warps, and by default no `hyla_tile.dot` (tensor-core
    kernels are throughput-bound, and a merged kernel runs every part at the
    heaviest part's register and shared-memory occupancy). Saves launch
    latency where kernels are small: a GDN decode step's three convs and
    its gates become one launch.
  }];
  let options = [
    Option<"maxParts", "max-parts", "int64_t", "8",
           "most dispatches merged into one (1: merge nothing)">,
    Option<"mergeMatmuls", "merge-matmuls", "bool", "false",
           "also merge kernels that use hyla_tile.dot">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::hyla::tile::TileDialect"];
}

def EarlyInputs : Pass<"hyla-early-inputs", "mlir::ModuleOp"> {
  let summary = "Mark kernel inputs the grid before never writes";
  let description = [{
    Under programmatic dependent launch a kernel may start while the grid
    launched before it still runs. For each `hyla.dispatch` of a function
    body, in order, the inputs whose buffers (through reshapes) the
    dispatch just before it does not produce or update in place may be
    read before waiting for that grid: the kernel's weights, a decode
    step's cached state. The first dispatch of a function has none (the
    grid before it is unknown, e.g. the previous call's last kernel), nor
    has a dispatch after any other op with memory effects or regions. The
    kernel gets the argument numbers as `hyla_tile.early_args` (where
    non-empty); dispatches of one kernel that disagree get copies of it,
    named with the list (`_early0_5`). `hyla-tile-grid-dependency` then
    places the kernel's wait after the loads of those arguments that come
    first.
  }];
  let dependentDialects = ["::hyla::tile::TileDialect"];
}

#endif // HYLA_PASSES_TD
