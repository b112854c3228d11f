//===- Kernelize.cpp - tile kernels for the remaining graph ops -----------===//
//
// Every hyla compute op other than the gated delta rule and attention (which
// have passes of their own) becomes a dispatch of a tile kernel here.
// Row-wise ops (norms, gates, elementwise) work on operands collapsed to
// [rows, features] with a block of rows per program; linear is a tiled GEMM
// with f32 accumulation; the causal conv and RoPE keep their token axis.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/bit.h"
#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_KERNELIZE
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using tile::ReduceKind;

namespace {

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Rows per program so that a block holds about 4096 elements (1 to 64).
/// Rows per program: a power of two up to 64 keeping the tile within
/// `maxElements`.
int64_t rowsPerProgram(int64_t features, int64_t maxElements = 4096) {
  int64_t rows = 1;
  while (rows < 64 && rows * 2 * features <= maxElements)
    rows *= 2;
  return rows;
}

SmallVector<ReassociationIndices> rowsReassociation(int64_t rank) {
  ReassociationIndices lead;
  for (int64_t i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  return {lead, {rank - 1}};
}

/// [d0, ..., F] -> [d0 * ... , F].
Value toRows(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() == 2)
    return v;
  return tensor::CollapseShapeOp::create(b, loc, v,
                                         rowsReassociation(t.getRank()));
}

/// [rows, F] -> `type`, whose leading dims are those of `like`.
Value fromRows(OpBuilder &b, Location loc, Value rows, RankedTensorType type,
               Value like) {
  if (type.getRank() == 2)
    return rows;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    sizes.push_back(type.isDynamicDim(d)
                        ? OpFoldResult(tensor::getMixedSize(b, loc, like, d))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  return tensor::ExpandShapeOp::create(b, loc, type, rows,
                                       rowsReassociation(type.getRank()),
                                       sizes);
}

RankedTensorType rowsType(RankedTensorType t) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < t.getRank(); ++d) {
    if (t.isDynamicDim(d)) {
      rows = ShapedType::kDynamic;
      break;
    }
    rows *= t.getDimSize(d);
  }
  return RankedTensorType::get({rows, t.getShape().back()}, t.getElementType());
}

Value constIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value ceilDivIndex(OpBuilder &b, Location loc, Value v, int64_t d) {
  return arith::CeilDivUIOp::create(b, loc, v, constIndex(b, loc, d));
}

/// The size of a cu_seqlens tensor (N + 1 for N packed sequences).
Value cuSizeOf(OpBuilder &b, Location loc, Value cu) {
  return tensor::DimOp::create(b, loc, cu, 0);
}

/// Body of a row-wise kernel: `args` are the kernel memrefs, `row0` the
/// first row of this program, `rows` the block's row count.
using RowBody =
    function_ref<void(TileBuilder &, ValueRange args, Value row0, int64_t rows)>;

/// Replaces `op` with a row-wise kernel. `rowOperands` are [..., F] tensors
/// with the op's leading shape; `params` are whole small tensors (weights);
/// every result has the leading shape of `rowOperands[0]`.
/// The dispatch of a row-wise kernel over `rowOperands` (already [rows, F])
/// with results of `resultTypes` ([rows, F'] each); returns its results.
SmallVector<Value> rowwiseDispatch(PatternRewriter &rw, Operation *op,
                                   ArrayRef<Value> rowOperands,
                                   ArrayRef<Value> params,
                                   ArrayRef<Type> resultTypes, int64_t features,
                                   StringRef baseName, int64_t numWarps,
                                   RowBody body, int64_t maxTileElements) {
  Location loc = op->getLoc();
  auto module = op->getParentOfType<ModuleOp>();
  SmallVector<Value> inputs(rowOperands);
  llvm::append_range(inputs, params);

  int64_t rowsPer = rowsPerProgram(features, maxTileElements);
  // Fewer warps where that makes a tile of more than one round whole
  // rounds of 4-element runs (a 3840-wide row is 7.5 rounds of 128 threads
  // but 15 of 64): partial rounds take the masked memory and reduction
  // paths. Tiles of less than a round keep the warps, so that small kernels
  // still merge with their neighbours (hyla-merge-dispatches needs equal
  // warps).
  int64_t tile = rowsPer * features;
  if (tile > 32 * numWarps * 4 && tile % (32 * numWarps * 4) != 0)
    for (int64_t w = numWarps / 2; w >= 1; w /= 2)
      if (tile % (32 * w * 4) == 0 && tile / (32 * w) <= 64) {
        numWarps = w;
        break;
      }
  std::string name = llvm::formatv("{0}_r{1}", baseName, rowsPer).str();
  SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
  llvm::append_range(argTypes, memrefsOf(resultTypes));
  func::FuncOp kernel = getOrCreateKernel(
      rw, module, name, argTypes, numWarps, [&](TileBuilder &tb, ValueRange a) {
        body(tb, a, tb.muli(tb.programId(0), rowsPer), rowsPer);
      });

  Value rows = tensor::DimOp::create(rw, loc, inputs[0], 0);
  auto rowDims = [&](Type t) {
    SmallVector<Value> dims;
    if (cast<RankedTensorType>(t).isDynamicDim(0))
      dims.push_back(rows);
    return dims;
  };
  // Row operands share the row count of the first; params are static.
  SmallVector<SmallVector<Value>> inDims, outDims;
  for (auto [i, v] : llvm::enumerate(inputs))
    inDims.push_back(i < rowOperands.size() ? rowDims(v.getType())
                                            : SmallVector<Value>());
  for (Type t : resultTypes)
    outDims.push_back(rowDims(t));
  Value one = constIndex(rw, loc, 1);
  DispatchOp dispatch = createDispatch(
      rw, loc, kernel, {ceilDivIndex(rw, loc, rows, rowsPer), one, one},
      inputs, inDims, resultTypes, outDims);
  return SmallVector<Value>(dispatch.getResults());
}

void dispatchRowwise(PatternRewriter &rw, Operation *op,
                     ArrayRef<Value> rowOperands, ArrayRef<Value> params,
                     int64_t features, StringRef baseName, int64_t numWarps,
                     RowBody body, int64_t maxTileElements = 4096) {
  Location loc = op->getLoc();
  SmallVector<Value> rowsOf;
  for (Value v : rowOperands)
    rowsOf.push_back(toRows(rw, loc, v));
  SmallVector<Type> resultTypes;
  for (Type t : op->getResultTypes())
    resultTypes.push_back(rowsType(cast<RankedTensorType>(t)));
  SmallVector<Value> results;
  for (auto [res, type] : llvm::zip(
           rowwiseDispatch(rw, op, rowsOf, params, resultTypes, features,
                           baseName, numWarps, body, maxTileElements),
           op->getResultTypes()))
    results.push_back(fromRows(rw, loc, res, cast<RankedTensorType>(type),
                               rowOperands[0]));
  rw.replaceOp(op, results);
}

/// The widest power of two up to 512 that divides `features`: elementwise
/// kernels cut their operands into rows of this width so that every tile is
/// whole vector runs (a 3840- or 11008-wide row is not a multiple of the
/// 512 elements 128 threads move per round, and would take the masked
/// path).
int64_t chunkWidth(int64_t features) {
  int64_t c = 512;
  while (c > 1 && features % c != 0)
    c /= 2;
  return c;
}

/// [d0, ..., F] -> [N / C, C] (N the element count; C divides F).
Value toChunks(OpBuilder &b, Location loc, Value v, int64_t c) {
  auto t = cast<RankedTensorType>(v.getType());
  ReassociationIndices all;
  for (int64_t d = 0; d < t.getRank(); ++d)
    all.push_back(d);
  Value flat = t.getRank() == 1
                   ? v
                   : Value(tensor::CollapseShapeOp::create(
                         b, loc, v, SmallVector<ReassociationIndices>{all}));
  auto flatT = cast<RankedTensorType>(flat.getType());
  int64_t rows = flatT.isDynamicDim(0) ? ShapedType::kDynamic
                                        : flatT.getDimSize(0) / c;
  auto chunkT = RankedTensorType::get({rows, c}, t.getElementType());
  OpFoldResult n = tensor::getMixedSize(b, loc, flat, 0);
  OpFoldResult r = rows == ShapedType::kDynamic
                       ? OpFoldResult(arith::DivUIOp::create(
                             b, loc, getValueOrCreateConstantIndexOp(b, loc, n),
                             constIndex(b, loc, c)).getResult())
                       : OpFoldResult(b.getIndexAttr(rows));
  return tensor::ExpandShapeOp::create(
      b, loc, chunkT, flat, SmallVector<ReassociationIndices>{{0, 1}},
      SmallVector<OpFoldResult>{r, b.getIndexAttr(c)});
}

/// [N / C, C] -> `type`, whose dims are those of `like`.
Value fromChunks(OpBuilder &b, Location loc, Value chunks,
                 RankedTensorType type, Value like) {
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, chunks, SmallVector<ReassociationIndices>{{0, 1}});
  if (type.getRank() == 1)
    return flat;
  ReassociationIndices all;
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    all.push_back(d);
    sizes.push_back(type.isDynamicDim(d)
                        ? OpFoldResult(tensor::getMixedSize(b, loc, like, d))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  }
  return tensor::ExpandShapeOp::create(
      b, loc, type, flat, SmallVector<ReassociationIndices>{all}, sizes);
}

/// Replaces `op`, an elementwise `combine(lhs, rhs)` (in f32, rounded to
/// the op's element type) of two same-shaped tensors, with a kernel over
/// rows of chunkWidth(F) elements.
void dispatchBinaryElementwise(
    PatternRewriter &rw, Operation *op, Value lhs, Value rhs,
    StringRef baseName, function_ref<Value(TileBuilder &, Value, Value)> combine) {
  Location loc = op->getLoc();
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t c = chunkWidth(type.getShape().back());
  Value chunks[2] = {toChunks(rw, loc, lhs, c), toChunks(rw, loc, rhs, c)};
  Type resultType = RankedTensorType::get(
      cast<RankedTensorType>(chunks[0].getType()).getShape(),
      type.getElementType());
  auto body = [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
    Value c0 = tb.index(0);
    Value x = tb.toF32(tb.load(a[0], {r0, c0}, {0, 1}, {rows, c}));
    Value y = tb.toF32(tb.load(a[1], {r0, c0}, {0, 1}, {rows, c}));
    tb.store(tb.castTo(combine(tb, x, y), type.getElementType()), a[2],
             {r0, c0}, {0, 1});
  };
  Value result = rowwiseDispatch(rw, op, chunks, {}, resultType, c,
                                 (baseName + "_c" + Twine(c)).str(), 4, body,
                                 4096)[0];
  rw.replaceOp(op, fromChunks(rw, loc, result, type, lhs));
}

Type elementOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// x * rsqrt(s + eps) per row of an f32 [rows, f] tile, where s is the mean
/// of the squares (RMSNorm) or their sum (L2 norm).
Value normalizeRows(TileBuilder &tb, Value x, int64_t rows, int64_t f,
                    double eps, bool mean) {
  Value s = tb.reduce(ReduceKind::Sum, tb.mul(x, x), 1);
  if (mean)
    s = tb.mul(s, 1.0 / f);
  Value inv = tb.rsqrt(tb.add(s, tb.constant(eps, {rows})));
  return tb.mul(x, tb.broadcast(inv, {0}, {rows, f}));
}

//===----------------------------------------------------------------------===//
// Row-wise ops
//===----------------------------------------------------------------------===//

struct RMSNormPattern : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    double eps = op.getEpsilon().convertToDouble();
    Type elt = op.getType().getElementType();
    std::string name =
        llvm::formatv("rms_norm_{0}_{1}_f{2}_e{3}", typeTag(elt),
                      typeTag(elementOf(op.getWeight())), f, floatTag(eps));
    dispatchRowwise(
        rw, op, {op.getInput()}, {op.getWeight()}, f, name, 4,
        [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
          Value c0 = tb.index(0);
          Value x = tb.toF32(tb.load(a[0], {r0, c0}, {0, 1}, {rows, f}));
          Value w = tb.toF32(tb.load(a[1], {c0}, {0}, {f}));
          Value y = tb.mul(normalizeRows(tb, x, rows, f, eps, /*mean=*/true),
                           tb.broadcast(w, {1}, {rows, f}));
          tb.store(tb.castTo(y, elt), a[2], {r0, c0}, {0, 1});
        });
    return success();
  }
};

struct L2NormPattern : OpRewritePattern<L2NormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(L2NormOp op,
                                PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    double eps = op.getEpsilon().convertToDouble();
    Type elt = op.getType().getElementType();
    std::string name = llvm::formatv("l2_norm_{0}_f{1}_e{2}", typeTag(elt), f,
                                     floatTag(eps));
    dispatchRowwise(rw, op, {op.getInput()}, {}, f, name, 4,
                    [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
                      Value c0 = tb.index(0);
                      Value x = tb.toF32(
                          tb.load(a[0], {r0, c0}, {0, 1}, {rows, f}));
                      Value y = normalizeRows(tb, x, rows, f, eps,
                                              /*mean=*/false);
                      tb.store(tb.castTo(y, elt), a[1], {r0, c0}, {0, 1});
                    });
    return success();
  }
};

struct GatedRMSNormPattern : OpRewritePattern<GatedRMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedRMSNormOp op,
                                PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    double eps = op.getEpsilon().convertToDouble();
    Type elt = op.getType().getElementType();
    std::string name = llvm::formatv(
        "gated_rms_norm_{0}_{1}_{2}_f{3}_e{4}", typeTag(elt),
        typeTag(elementOf(op.getGate())), typeTag(elementOf(op.getWeight())), f,
        floatTag(eps));
    dispatchRowwise(
        rw, op, {op.getInput(), op.getGate()}, {op.getWeight()}, f, name, 4,
        [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
          Value c0 = tb.index(0);
          Value x = tb.toF32(tb.load(a[0], {r0, c0}, {0, 1}, {rows, f}));
          Value gate = tb.toF32(tb.load(a[1], {r0, c0}, {0, 1}, {rows, f}));
          Value w = tb.toF32(tb.load(a[2], {c0}, {0}, {f}));
          Value y = tb.mul(normalizeRows(tb, x, rows, f, eps, /*mean=*/true),
                           tb.broadcast(w, {1}, {rows, f}));
          tb.store(tb.castTo(tb.mul(y, tb.silu(gate)), elt), a[3], {r0, c0},
                   {0, 1});
        },
        // Smaller tiles (GDN heads are 128-192 wide): more programs for the
        // few rows of a decode step, and fewer live values a thread.
        /*maxTileElements=*/2048);
    return success();
  }
};

struct GdnGatesPattern : OpRewritePattern<GdnGatesOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GdnGatesOp op,
                                PatternRewriter &rw) const override {
    int64_t h = op.getA().getType().getShape().back();
    double betaScale = op.getBetaScale().convertToDouble();
    std::string name = llvm::formatv(
        "gdn_gates_{0}_{1}_{2}_h{3}_b{4}", typeTag(elementOf(op.getA())),
        typeTag(elementOf(op.getB())), typeTag(elementOf(op.getALog())), h,
        floatTag(betaScale));
    dispatchRowwise(
        rw, op, {op.getA(), op.getB()}, {op.getALog(), op.getDtBias()}, h, name,
        4, [&](TileBuilder &tb, ValueRange args, Value r0, int64_t rows) {
          Value c0 = tb.index(0);
          Value a = tb.toF32(tb.load(args[0], {r0, c0}, {0, 1}, {rows, h}));
          Value b = tb.toF32(tb.load(args[1], {r0, c0}, {0, 1}, {rows, h}));
          Value aLog = tb.toF32(tb.load(args[2], {c0}, {0}, {h}));
          Value dtBias = tb.toF32(tb.load(args[3], {c0}, {0}, {h}));
          Value rate = tb.broadcast(tb.exp(aLog), {1}, {rows, h});
          Value g = tb.neg(tb.mul(
              rate, tb.softplus(tb.add(a, tb.broadcast(dtBias, {1}, {rows, h})))));
          Value beta = tb.mul(tb.sigmoid(b), betaScale);
          tb.store(g, args[4], {r0, c0}, {0, 1});
          tb.store(beta, args[5], {r0, c0}, {0, 1});
        },
        // Transcendental-heavy: about 4 elements a thread keeps registers
        // low (a decode step merges this kernel with the convs, which then
        // run at its register count).
        /*maxTileElements=*/512);
    return success();
  }
};

struct AddPattern : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    Type elt = op.getType().getElementType();
    std::string name = llvm::formatv("add_{0}_f{1}", typeTag(elt), f);
    dispatchBinaryElementwise(
        rw, op, op.getLhs(), op.getRhs(), name,
        [](TileBuilder &tb, Value x, Value y) { return tb.add(x, y); });
    return success();
  }
};

struct SiluMulPattern : OpRewritePattern<SiluMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SiluMulOp op,
                                PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    Type elt = op.getType().getElementType();
    std::string name = llvm::formatv("silu_mul_{0}_f{1}", typeTag(elt), f);
    dispatchBinaryElementwise(
        rw, op, op.getGate(), op.getUp(), name,
        [](TileBuilder &tb, Value g, Value u) { return tb.mul(tb.silu(g), u); });
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Embedding
//===----------------------------------------------------------------------===//

struct EmbeddingPattern : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType tableT = op.getTable().getType();
    RankedTensorType idsT = op.getIds().getType();
    int64_t vocab = tableT.getDimSize(0), hidden = tableT.getDimSize(1);
    // ids [d0, ..., dn] -> [tokens]; result [tokens, hidden] -> op shape.
    Value ids = op.getIds();
    if (idsT.getRank() != 1) {
      ReassociationIndices all;
      for (int64_t d = 0; d < idsT.getRank(); ++d)
        all.push_back(d);
      ids = tensor::CollapseShapeOp::create(
          rw, loc, ids, SmallVector<ReassociationIndices>{all});
    }
    auto flatIds = cast<RankedTensorType>(ids.getType());
    auto outT = RankedTensorType::get({flatIds.getDimSize(0), hidden},
                                      tableT.getElementType());
    std::string name = llvm::formatv("embedding_{0}_{1}_v{2}_d{3}",
                                     typeTag(tableT.getElementType()),
                                     typeTag(idsT.getElementType()), vocab,
                                     hidden);
    auto module = op->getParentOfType<ModuleOp>();
    func::FuncOp kernel = getOrCreateKernel(
        rw, module, name,
        {memrefFor(flatIds), memrefFor(tableT), memrefFor(outT)}, 4,
        [&](TileBuilder &tb, ValueRange a) {
          Value token = tb.programId(0);
          OpBuilder &b = tb.builder();
          Value id = memref::LoadOp::create(b, tb.getLoc(), a[0], token);
          Value row = arith::IndexCastOp::create(b, tb.getLoc(),
                                                 b.getIndexType(), id);
          // An id outside [0, vocab) reads the padding: a row of zeros.
          Value emb = tb.load(a[1], {row, tb.index(0)}, {1}, {hidden});
          tb.store(emb, a[2], {token, tb.index(0)}, {1});
        });
    Value tokens = tensor::DimOp::create(rw, loc, ids, 0);
    SmallVector<Value> dyn;
    if (flatIds.isDynamicDim(0))
      dyn.push_back(tokens);
    Value one = constIndex(rw, loc, 1);
    DispatchOp dispatch =
        createDispatch(rw, loc, kernel, {tokens, one, one}, {ids, op.getTable()},
                       {dyn, {}}, {outT}, {dyn});
    Value result = dispatch.getResult(0);
    if (op.getType().getRank() != 2) {
      SmallVector<OpFoldResult> sizes;
      for (int64_t d = 0; d < idsT.getRank(); ++d)
        sizes.push_back(tensor::getMixedSize(rw, loc, op.getIds(), d));
      sizes.push_back(rw.getIndexAttr(hidden));
      result = tensor::ExpandShapeOp::create(
          rw, loc, op.getType(), result,
          rowsReassociation(op.getType().getRank()), sizes);
    }
    rw.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Linear (GEMM)
//===----------------------------------------------------------------------===//

/// Tile sizes of the few-rows linear (decode): weight rows a program, the
/// reduction step, the pipeline's buffers, the programs to aim for.
struct FewRowsConfig {
  int64_t blockN, blockK, stages, programs;
  /// Most slices a cluster adds (1: a second kernel adds them).
  int64_t clusterSlices;
};

/// Input rows a few-rows program takes: wgmma's N (8 to 256) and mma.sync's.
constexpr int64_t kFewRowsBlockM = 16;

/// The few-rows products of a linear: `y` in rows form ([rows, N]) when
/// the kernel writes it itself, else the f32 partial products
/// [S, rows, N] of its S slices of K, for a kernel that sums them.
struct FewRowsProduct {
  Value value;
  bool partial = false;
  Value rows;                  // the input's rows (index)
  SmallVector<Value> rowsDyn;  // `rows` where the rows dim is dynamic
};

/// `y = x W^T` for few rows of x as `y^T = W x^T`: program (row block,
/// weight block, K slice) multiplies blockN weight rows by 16 input rows
/// over its slice of K. One slice: the result rounded and stored
/// transposed into y. Several, clustered: the S programs of an output
/// block are one cluster, which adds their partials (`cluster_sum`); rank
/// 0 stores. Several, unclustered: f32 partials into [S, rows, N], for
/// `sumSlices` to add (with whatever its consumer does to them).
FewRowsProduct emitFewRowsProduct(LinearOp op, PatternRewriter &rw,
                                  const FewRowsConfig &cfg) {
  Location loc = op.getLoc();
  RankedTensorType wT = op.getWeight().getType();
  int64_t n = wT.getDimSize(0), k = wT.getDimSize(1);
  Type elt = op.getType().getElementType();
  Value x = toRows(rw, loc, op.getInput());
  auto xT = cast<RankedTensorType>(x.getType());
  auto yT = rowsType(op.getType());
  const int64_t bn = cfg.blockN, bk = cfg.blockK, bm = kFewRowsBlockM;
  const int64_t nBlocks = (n + bn - 1) / bn, kSteps = (k + bk - 1) / bk;
  // The fewest slices that give `programs` programs, whole steps each and
  // none empty.
  const bool clustered = cfg.clusterSlices > 1;
  int64_t slices = std::clamp<int64_t>((cfg.programs + nBlocks - 1) / nBlocks,
                                       1, kSteps);
  if (clustered)
    slices = std::min(slices, cfg.clusterSlices);
  int64_t stepsPerSlice = (kSteps + slices - 1) / slices;
  slices = (kSteps + stepsPerSlice - 1) / stepsPerSlice;
  const int64_t sliceK = stepsPerSlice * bk;
  Type f32 = rw.getF32Type();
  auto partialT = RankedTensorType::get({slices, ShapedType::kDynamic, n}, f32);
  const bool inCluster = clustered && slices > 1;
  std::string name = llvm::formatv(
      "gemm_few_rows_{0}_n{1}_k{2}_bn{3}_bk{4}_s{5}_{6}{7}", typeTag(elt), n,
      k, bn, bk, cfg.stages, inCluster ? "c" : "k", slices);
  auto module = op->getParentOfType<ModuleOp>();
  bool direct = slices == 1 || inCluster; // the kernel writes y itself
  Type outMemref = direct ? memrefFor(yT) : memrefFor(partialT);
  func::FuncOp kernel = getOrCreateKernel(
      rw, module, name, {memrefFor(xT), memrefFor(wT), outMemref}, 4,
      [&](TileBuilder &tb, ValueRange a) {
        Value m0 = tb.muli(tb.programId(0), bm);
        Value n0 = tb.muli(tb.programId(1), bn);
        Value slice = tb.programId(2);
        Value kBegin = tb.muli(slice, sliceK);
        Value kEnd = tb.mini(tb.index(k), tb.addi(kBegin, tb.index(sliceK)));
        OpBuilder &b = tb.builder();
        auto loop = scf::ForOp::create(
            b, tb.getLoc(), kBegin, kEnd, tb.index(bk),
            ValueRange{tb.constant(0.0, {bn, bm})},
            [&](OpBuilder &nb, Location l, Value kk, ValueRange it) {
              TileBuilder t(nb, l);
              Value w = t.load(a[1], {n0, kk}, {0, 1}, {bn, bk});
              Value xs = t.load(a[0], {m0, kk}, {0, 1}, {bm, bk});
              scf::YieldOp::create(
                  nb, l, t.dot(w, xs, it[0], false, /*transposeB=*/true));
            });
        Value acc = loop.getResult(0);
        if (slices == 1) {
          tb.store(tb.castTo(acc, elt), a[2], {m0, n0}, {1, 0});
        } else if (inCluster) {
          Location l = tb.getLoc();
          Value total = tile::ClusterSumOp::create(b, l, acc);
          Value first = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::eq,
              tile::ClusterRankOp::create(b, l), tb.index(0));
          scf::IfOp::create(b, l, first, [&](OpBuilder &ib, Location il) {
            TileBuilder t(ib, il);
            t.store(t.castTo(total, elt), a[2], {m0, n0}, {1, 0});
            scf::YieldOp::create(ib, il);
          });
        } else {
          tb.store(acc, a[2], {slice, m0, n0}, {2, 1});
        }
      });
  kernel->setAttr(tile::TileDialect::kNumStagesAttrName,
                  rw.getI32IntegerAttr(cfg.stages));
  if (inCluster)
    kernel->setAttr(tile::TileDialect::kClusterDimsAttrName,
                    rw.getDenseI64ArrayAttr({1, 1, slices}));
  FewRowsProduct product;
  product.partial = !direct;
  product.rows = tensor::DimOp::create(rw, loc, x, 0);
  if (xT.isDynamicDim(0))
    product.rowsDyn.push_back(product.rows);
  SmallVector<Value> grid = {ceilDivIndex(rw, loc, product.rows, bm),
                             constIndex(rw, loc, nBlocks),
                             constIndex(rw, loc, slices)};
  product.value =
      createDispatch(rw, loc, kernel, grid, {x, op.getWeight()},
                     {product.rowsDyn, {}}, {direct ? yT : partialT},
                     {direct ? product.rowsDyn : SmallVector<Value>{product.rows}})
          .getResult(0);
  return product;
}

/// Sums the partials of few-rows products (each [S, rows, N], all alike)
/// and rounds `epilogue(sums, extras)` to `elt`: one program a (256-column
/// block, row). `extras` are [rows, N] inputs of the consumer the sum is
/// fused with (a residual), read as f32; `tag` names the epilogue.
Value sumSlices(PatternRewriter &rw, Location loc, ModuleOp module,
                ArrayRef<FewRowsProduct> products, ValueRange extras,
                RankedTensorType yT, StringRef tag,
                function_ref<Value(TileBuilder &, ArrayRef<Value>,
                                   ArrayRef<Value>)> epilogue) {
  auto partialT = cast<RankedTensorType>(products[0].value.getType());
  int64_t slices = partialT.getDimSize(0), n = partialT.getDimSize(2);
  Type elt = yT.getElementType();
  const int64_t bc = 256;
  std::string name = llvm::formatv("sum_slices{0}_f32_{1}_n{2}_k{3}", tag,
                                   typeTag(elt), n, slices);
  SmallVector<Type> args;
  for (size_t i = 0; i < products.size(); ++i)
    args.push_back(memrefFor(partialT));
  for (Value e : extras)
    args.push_back(memrefFor(cast<RankedTensorType>(e.getType())));
  args.push_back(memrefFor(yT));
  func::FuncOp sum = getOrCreateKernel(
      rw, module, name, args, 4, [&](TileBuilder &tb, ValueRange a) {
        Value c0 = tb.muli(tb.programId(0), bc);
        Value row = tb.programId(1);
        SmallVector<Value> totals, extraTiles;
        for (size_t p = 0; p < products.size(); ++p) {
          Value total;
          for (int64_t s = 0; s < slices; ++s) {
            Value part = tb.load(a[p], {tb.index(s), row, c0}, {2}, {bc});
            total = total ? tb.add(total, part) : part;
          }
          totals.push_back(total);
        }
        for (size_t e = 0; e < extras.size(); ++e)
          extraTiles.push_back(tb.toF32(
              tb.load(a[products.size() + e], {row, c0}, {1}, {bc})));
        tb.store(tb.castTo(epilogue(tb, totals, extraTiles), elt),
                 a[args.size() - 1], {row, c0}, {1});
      });
  SmallVector<Value> inputs;
  SmallVector<SmallVector<Value>> inputDims;
  for (const FewRowsProduct &p : products) {
    inputs.push_back(p.value);
    inputDims.push_back({p.rows});
  }
  for (Value e : extras) {
    inputs.push_back(e);
    inputDims.push_back(products[0].rowsDyn);
  }
  Value rows = products[0].rows;
  return createDispatch(
             rw, loc, sum,
             {constIndex(rw, loc, (n + bc - 1) / bc), rows,
              constIndex(rw, loc, 1)},
             inputs, inputDims, {yT}, {products[0].rowsDyn})
      .getResult(0);
}

LogicalResult rewriteFewRowsLinear(LinearOp op, PatternRewriter &rw,
                                   const FewRowsConfig &cfg) {
  Location loc = op.getLoc();
  FewRowsProduct product = emitFewRowsProduct(op, rw, cfg);
  Value y = product.value;
  if (product.partial)
    y = sumSlices(rw, loc, op->getParentOfType<ModuleOp>(), {product}, {},
                  rowsType(op.getType()), "",
                  [](TileBuilder &, ArrayRef<Value> sums, ArrayRef<Value>) {
                    return sums[0];
                  });
  rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), op.getInput()));
  return success();
}

/// A linear (few-rows or square, as `fewRows` says) whose only use is
/// `use`: its products can end in that consumer's kernel.
LinearOp epilogueProducer(Value v, Operation *use, bool fewRows) {
  auto linear = v.getDefiningOp<LinearOp>();
  if (!linear || linear.getFewRows() != fewRows || !linear->hasOneUse() ||
      *linear->getUsers().begin() != use)
    return nullptr;
  return linear;
}

/// `add(linear(x, W), r)` in either order, the linear used only there:
/// the linear and the residual r.
std::optional<std::pair<LinearOp, Value>> matchResidualAdd(AddOp op,
                                                           bool fewRows) {
  Value residual = op.getRhs();
  LinearOp linear = epilogueProducer(op.getLhs(), op, fewRows);
  if (!linear) {
    linear = epilogueProducer(op.getRhs(), op, fewRows);
    residual = op.getLhs();
  }
  if (!linear || linear.getType() != op.getType())
    return std::nullopt;
  return std::make_pair(linear, residual);
}

/// `silu_mul(linear(x, Wg), linear(x', Wu))`, two distinct linears of
/// equally shaped weights used only there: the gate and up linears.
std::optional<std::pair<LinearOp, LinearOp>> matchSwiGLU(SiluMulOp op,
                                                         bool fewRows) {
  LinearOp gate = epilogueProducer(op.getGate(), op, fewRows);
  LinearOp up = epilogueProducer(op.getUp(), op, fewRows);
  if (!gate || !up || gate == up || gate.getType() != op.getType() ||
      up.getType() != op.getType() ||
      gate.getWeight().getType() != up.getWeight().getType())
    return std::nullopt;
  return std::make_pair(gate, up);
}

/// The epilogues both product kinds fuse (on f32 products and extras).
Value residualEpilogue(TileBuilder &tb, ArrayRef<Value> products,
                       ArrayRef<Value> extras) {
  return tb.add(products[0], extras[0]);
}
Value swigluEpilogue(TileBuilder &tb, ArrayRef<Value> products,
                     ArrayRef<Value>) {
  return tb.mul(tb.silu(products[0]), products[1]);
}

/// `add(linear{few_rows}(x, W), r)` (either order): the kernel that sums
/// the product's K slices adds the residual too (one launch, not two; the
/// sum is rounded once).
struct FewRowsAddPattern : OpRewritePattern<AddOp> {
  FewRowsAddPattern(MLIRContext *ctx, FewRowsConfig cfg)
      : OpRewritePattern(ctx), cfg(cfg) {}
  FewRowsConfig cfg;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    auto match = matchResidualAdd(op, /*fewRows=*/true);
    if (!match)
      return failure();
    auto [linear, residual] = *match;
    FewRowsProduct product = emitFewRowsProduct(linear, rw, cfg);
    if (!product.partial) {
      // One slice: the linear's kernel wrote y; the add stays an add.
      rw.replaceOp(linear, fromRows(rw, linear.getLoc(), product.value,
                                    linear.getType(), linear.getInput()));
      return success();
    }
    Location loc = op.getLoc();
    Value y = sumSlices(
        rw, loc, op->getParentOfType<ModuleOp>(), {product},
        {toRows(rw, loc, residual)}, rowsType(op.getType()), "_add",
        residualEpilogue);
    rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), residual));
    rw.eraseOp(linear);
    return success();
  }
};

/// `silu_mul(linear{few_rows}(x, Wg), linear{few_rows}(x', Wu))`: one
/// kernel sums both products' slices and applies SwiGLU (one launch, not
/// three).
struct FewRowsSiluMulPattern : OpRewritePattern<SiluMulOp> {
  FewRowsSiluMulPattern(MLIRContext *ctx, FewRowsConfig cfg)
      : OpRewritePattern(ctx), cfg(cfg) {}
  FewRowsConfig cfg;
  LogicalResult matchAndRewrite(SiluMulOp op,
                                PatternRewriter &rw) const override {
    auto match = matchSwiGLU(op, /*fewRows=*/true);
    if (!match)
      return failure();
    auto [gate, up] = *match;
    FewRowsProduct g = emitFewRowsProduct(gate, rw, cfg);
    FewRowsProduct u = emitFewRowsProduct(up, rw, cfg);
    Location loc = op.getLoc();
    if (!g.partial || !u.partial) {
      rw.replaceOp(gate, fromRows(rw, loc, g.value, gate.getType(),
                                  gate.getInput()));
      rw.replaceOp(up, fromRows(rw, loc, u.value, up.getType(),
                                up.getInput()));
      return success();
    }
    Value y = sumSlices(
        rw, loc, op->getParentOfType<ModuleOp>(), {g, u}, {},
        rowsType(op.getType()), "_silu_mul", swigluEpilogue);
    rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), gate.getInput()));
    rw.eraseOp(gate);
    rw.eraseOp(up);
    return success();
  }
};

/// Tiles of the square GEMM (prefill): rows, columns and reduction step
/// a program, its warps, the pipeline's buffers, and the row blocks a
/// group of programs takes together.
struct GemmConfig {
  int64_t blockM, blockN, blockK, numWarps, stages, groupM;
};

/// `epilogue(x W_0^T, ..., x W_{P-1}^T, extras)` rounded to `yT`'s element
/// type, in rows form: the P products (one, or SwiGLU's gate and up) of
/// the same input `x` (rows form) and equally shaped weights, each on
/// blockN / P columns of a program, share the k loop's x tiles. `extras`
/// are [rows, N] inputs of the consumer the GEMM is fused with (a
/// residual), read as f32 at the end; `tag` names the epilogue.
Value emitGemm(PatternRewriter &rw, Location loc, ModuleOp module, Value x,
               ArrayRef<Value> weights, ValueRange extras,
               RankedTensorType yT, StringRef tag, const GemmConfig &cfg,
               function_ref<Value(TileBuilder &, ArrayRef<Value>,
                                  ArrayRef<Value>)> epilogue) {
  auto wT = cast<RankedTensorType>(weights[0].getType());
  int64_t n = wT.getDimSize(0), k = wT.getDimSize(1);
  Type elt = yT.getElementType();
  auto xT = cast<RankedTensorType>(x.getType());
  const int64_t numProducts = static_cast<int64_t>(weights.size());
  const int64_t bm = cfg.blockM, bk = cfg.blockK;
  const int64_t bn = cfg.blockN / numProducts; // columns of each product
  const int64_t groupM = cfg.groupM;
  const int64_t columnBlocks = (n + bn - 1) / bn;
  std::string name = llvm::formatv(
      "gemm{9}_{0}_n{1}_k{2}_bm{3}_bn{4}_bk{5}_w{6}_s{7}_g{8}", typeTag(elt),
      n, k, bm, cfg.blockN, bk, cfg.numWarps, cfg.stages, groupM, tag);
  SmallVector<Type> args = {memrefFor(xT)};
  for (Value w : weights)
    args.push_back(memrefFor(cast<RankedTensorType>(w.getType())));
  for (Value e : extras)
    args.push_back(memrefFor(cast<RankedTensorType>(e.getType())));
  args.push_back(memrefFor(yT));
  func::FuncOp kernel = getOrCreateKernel(
      rw, module, name, args, cfg.numWarps, [&](TileBuilder &tb, ValueRange a) {
        OpBuilder &b = tb.builder();
        Location l = tb.getLoc();
        // Program p takes output block (row block r, column block c) in
        // groups of `groupM` row blocks: within a group r varies fastest,
        // so the programs running at once share a few row blocks of x and
        // a band of W's columns, and L2 serves both (with the column
        // block fastest, a wave of the LM head streamed a third of W from
        // DRAM again for every row block).
        Value rowBlocks = tb.ceilDiv(tb.dim(a[0], 0), bm);
        Value perGroup = tb.index(groupM * columnBlocks);
        Value p = tb.programId(0);
        Value firstRow =
            tb.muli(arith::DivUIOp::create(b, l, p, perGroup), groupM);
        Value groupRows = tb.mini(
            arith::SubIOp::create(b, l, rowBlocks, firstRow), tb.index(groupM));
        Value inGroup = arith::RemUIOp::create(b, l, p, perGroup);
        Value rowBlock = tb.addi(
            firstRow, arith::RemUIOp::create(b, l, inGroup, groupRows));
        Value n0 = tb.muli(arith::DivUIOp::create(b, l, inGroup, groupRows), bn);
        Value m0 = tb.muli(rowBlock, bm);
        ValueRange w = a.slice(1, numProducts);
        // The operands of step k + bk are loaded before the products of
        // step k, so their global loads are in flight during them (the
        // loads past K are masked off).
        Value zero = tb.index(0);
        SmallVector<Value> inits;
        for (int64_t i = 0; i < numProducts; ++i)
          inits.push_back(tb.constant(0.0, {bm, bn}));
        inits.push_back(tb.load(a[0], {m0, zero}, {0, 1}, {bm, bk}));
        for (Value wi : w)
          inits.push_back(tb.load(wi, {n0, zero}, {0, 1}, {bn, bk}));
        auto loop = scf::ForOp::create(
            b, l, zero, tb.index(k), tb.index(bk), inits,
            [&](OpBuilder &nb, Location bl, Value kk, ValueRange it) {
              TileBuilder t(nb, bl);
              Value next = t.addi(kk, t.index(bk));
              SmallVector<Value> loads = {
                  t.load(a[0], {m0, next}, {0, 1}, {bm, bk})};
              for (Value wi : w)
                loads.push_back(t.load(wi, {n0, next}, {0, 1}, {bn, bk}));
              SmallVector<Value> yielded;
              for (int64_t i = 0; i < numProducts; ++i)
                yielded.push_back(t.dot(it[numProducts],
                                        it[numProducts + 1 + i], it[i], false,
                                        /*transposeB=*/true));
              yielded.append(loads);
              scf::YieldOp::create(nb, bl, yielded);
            });
        SmallVector<Value> products(loop.getResults().take_front(numProducts));
        SmallVector<Value> extraTiles;
        for (size_t e = 0; e < extras.size(); ++e)
          extraTiles.push_back(tb.toF32(tb.load(
              a[1 + numProducts + e], {m0, n0}, {0, 1}, {bm, bn})));
        tb.store(tb.castTo(epilogue(tb, products, extraTiles), elt),
                 a[args.size() - 1], {m0, n0}, {0, 1});
      });
  // Read by the GPU lowering where it pipelines the k loop's operands.
  kernel->setAttr(tile::TileDialect::kNumStagesAttrName,
                  rw.getI32IntegerAttr(cfg.stages));
  Value rows = tensor::DimOp::create(rw, loc, x, 0);
  SmallVector<Value> dyn;
  if (xT.isDynamicDim(0))
    dyn.push_back(rows);
  SmallVector<Value> inputs = {x};
  SmallVector<SmallVector<Value>> inputDims = {dyn};
  for (Value wi : weights) {
    inputs.push_back(wi);
    inputDims.push_back({});
  }
  for (Value e : extras) {
    inputs.push_back(e);
    inputDims.push_back(dyn);
  }
  Value one = constIndex(rw, loc, 1);
  return createDispatch(
             rw, loc, kernel,
             {arith::MulIOp::create(rw, loc, constIndex(rw, loc, columnBlocks),
                                    ceilDivIndex(rw, loc, rows, bm)),
              one, one},
             inputs, inputDims, {yT}, {dyn})
      .getResult(0);
}

/// `add(linear(x, W), r)` (either order): the GEMM adds the residual
/// before it rounds and stores (no second kernel, one rounding).
struct GemmAddPattern : OpRewritePattern<AddOp> {
  GemmAddPattern(MLIRContext *ctx, GemmConfig cfg)
      : OpRewritePattern(ctx), cfg(cfg) {}
  GemmConfig cfg;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    auto match = matchResidualAdd(op, /*fewRows=*/false);
    if (!match)
      return failure();
    auto [linear, residual] = *match;
    Location loc = op.getLoc();
    Value y = emitGemm(
        rw, loc, op->getParentOfType<ModuleOp>(),
        toRows(rw, loc, linear.getInput()), {linear.getWeight()},
        {toRows(rw, loc, residual)}, rowsType(op.getType()), "_add", cfg,
        residualEpilogue);
    rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), residual));
    rw.eraseOp(linear);
    return success();
  }
};

/// `silu_mul(linear(x, Wg), linear(x, Wu))`: one GEMM computes both
/// products of each output block (half the program's columns each, the
/// x tiles shared) and applies SwiGLU before it rounds: neither product
/// goes to memory.
struct GemmSiluMulPattern : OpRewritePattern<SiluMulOp> {
  GemmSiluMulPattern(MLIRContext *ctx, GemmConfig cfg)
      : OpRewritePattern(ctx), cfg(cfg) {}
  GemmConfig cfg;
  LogicalResult matchAndRewrite(SiluMulOp op,
                                PatternRewriter &rw) const override {
    // One program computes both products on the same x tiles, each on
    // half its columns.
    auto match = matchSwiGLU(op, /*fewRows=*/false);
    if (!match || match->first.getInput() != match->second.getInput() ||
        cfg.blockN % 16)
      return failure();
    auto [gate, up] = *match;
    Location loc = op.getLoc();
    Value y = emitGemm(
        rw, loc, op->getParentOfType<ModuleOp>(),
        toRows(rw, loc, gate.getInput()),
        {gate.getWeight(), up.getWeight()}, {}, rowsType(op.getType()),
        "_silu_mul", cfg, swigluEpilogue);
    rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), gate.getInput()));
    rw.eraseOp(gate);
    rw.eraseOp(up);
    return success();
  }
};

struct LinearPattern : OpRewritePattern<LinearOp> {
  LinearPattern(MLIRContext *ctx, GemmConfig cfg, FewRowsConfig fewRows)
      : OpRewritePattern(ctx), cfg(cfg), fewRows(fewRows) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rw) const override {
    if (op.getFewRows())
      return rewriteFewRowsLinear(op, rw, fewRows);
    Location loc = op.getLoc();
    Value y = emitGemm(
        rw, loc, op->getParentOfType<ModuleOp>(),
        toRows(rw, loc, op.getInput()), {op.getWeight()}, {},
        rowsType(op.getType()), "", cfg,
        [](TileBuilder &, ArrayRef<Value> products, ArrayRef<Value>) {
          return products[0];
        });
    rw.replaceOp(op, fromRows(rw, loc, y, op.getType(), op.getInput()));
    return success();
  }

  GemmConfig cfg;
  FewRowsConfig fewRows;
};

//===----------------------------------------------------------------------===//
// Causal conv1d and RoPE: kernels over (token block, channel block, batch)
//===----------------------------------------------------------------------===//

/// Runs `body` when `blk` is a block of a sequence, with the sequence's end
/// clamped to the tokens of `tokensM` (dim 1): offsets past the tensor must
/// not move a load or store outside it.
void ifPackedBlock(TileBuilder &tb, const PackedBlock &blk, Value tokensM,
                   function_ref<void(TileBuilder &, Value end)> body) {
  OpBuilder &b = tb.builder();
  Location loc = tb.getLoc();
  Value end = arith::MinSIOp::create(b, loc, blk.end, tb.dim(tokensM, 1));
  Value live = arith::AndIOp::create(
      b, loc, blk.valid,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, blk.t0, end));
  scf::IfOp::create(b, loc, live, [&](OpBuilder &nb, Location l) {
    TileBuilder x(nb, l);
    body(x, end);
    scf::YieldOp::create(nb, l);
  });
}

struct CausalConv1DPattern : OpRewritePattern<CausalConv1DOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CausalConv1DOp op,
                                PatternRewriter &rw) const override {
    if (op.getCuSeqlens())
      return rewritePacked(op, rw);
    Location loc = op.getLoc();
    RankedTensorType xT = op.getInput().getType(), wT = op.getWeight().getType();
    int64_t channels = xT.getDimSize(2), width = wT.getDimSize(1);
    const int64_t bt = 64, bc = 64;
    bool silu = op.getActivation() == "silu";
    Type elt = xT.getElementType();
    std::string name = llvm::formatv("causal_conv1d_{0}_{1}_c{2}_w{3}_{4}",
                                     typeTag(elt), typeTag(wT.getElementType()),
                                     channels, width,
                                     silu ? "silu" : "none");
    auto module = op->getParentOfType<ModuleOp>();
    func::FuncOp kernel = getOrCreateKernel(
        rw, module, name, {memrefFor(xT), memrefFor(wT), memrefFor(op.getType())},
        4, [&](TileBuilder &tb, ValueRange a) {
          Value c0 = tb.muli(tb.programId(0), bc);
          Value t0 = tb.muli(tb.programId(1), bt);
          Value batch = tb.programId(2);
          Value acc = tb.constant(0.0, {bt, bc});
          for (int64_t j = 0; j < width; ++j) {
            // Tap j reads token t - (width - 1) + j; tokens before 0 pad as 0.
            Value start = tb.addi(t0, tb.index(j - (width - 1)));
            Value x = tb.toF32(tb.load(a[0], {batch, start, c0}, {1, 2}, {bt, bc}));
            Value w = tb.toF32(tb.load(a[1], {c0, tb.index(j)}, {0}, {bc}));
            acc = tb.add(acc, tb.mul(x, tb.broadcast(w, {1}, {bt, bc})));
          }
          if (silu)
            acc = tb.silu(acc);
          tb.store(tb.castTo(acc, elt), a[2], {batch, t0, c0}, {1, 2});
        });
    Value batch = tensor::DimOp::create(rw, loc, op.getInput(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    SmallVector<Value> dyn = dynamicDims(rw, loc, op.getInput());
    DispatchOp dispatch = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, (channels + bc - 1) / bc),
         ceilDivIndex(rw, loc, tokens, bt), batch},
        {op.getInput(), op.getWeight()}, {dyn, {}}, {op.getType()}, {dyn});
    rw.replaceOp(op, dispatch.getResults());
    return success();
  }

  /// Packed sequences: one program per block of 64 tokens of one sequence
  /// (locatePackedBlock), whose taps read zero before the sequence starts.
  LogicalResult rewritePacked(CausalConv1DOp op, PatternRewriter &rw) const {
    Location loc = op.getLoc();
    RankedTensorType xT = op.getInput().getType(), wT = op.getWeight().getType();
    int64_t channels = xT.getDimSize(2), width = wT.getDimSize(1);
    const int64_t bt = 64, bc = 64;
    bool silu = op.getActivation() == "silu";
    Type elt = xT.getElementType();
    std::string name = llvm::formatv(
        "causal_conv1d_packed_{0}_{1}_c{2}_w{3}_{4}", typeTag(elt),
        typeTag(wT.getElementType()), channels, width, silu ? "silu" : "none");
    SmallVector<Value> inputs = {op.getInput(), op.getWeight(),
                                 op.getCuSeqlens()};
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    argTypes.push_back(memrefFor(op.getType()));
    func::FuncOp kernel = getOrCreateKernel(
        rw, op->getParentOfType<ModuleOp>(), name, argTypes, 4,
        [&](TileBuilder &tb, ValueRange a) {
          Value xM = a[0], wM = a[1], cuM = a[2], yM = a[3];
          Value c0 = tb.muli(tb.programId(0), bc);
          PackedBlock blk = locatePackedBlock(tb, cuM, tb.programId(1), bt);
          ifPackedBlock(tb, blk, xM, [&](TileBuilder &tb, Value end) {
            Value acc = tb.constant(0.0, {bt, bc});
            for (int64_t j = 0; j < width; ++j) {
              // Tap j of token t reads token t - (width - 1) + j, zero
              // before the sequence's first token.
              Value first = tb.addi(blk.t0, tb.index(j - (width - 1)));
              Value x = tb.toF32(tb.load(xM, {tb.index(0), first, c0}, {1, 2},
                                         {bt, bc}));
              Value token = arith::AddIOp::create(
                  tb.builder(), tb.getLoc(), tb.iota({bt, bc}, 0),
                  tb.splatIndexAsI32(first, {bt, bc}));
              Value inside = tb.cmpi(arith::CmpIPredicate::sge, token,
                                     tb.splatIndexAsI32(blk.begin, {bt, bc}));
              x = tb.select(inside, x, tb.constant(0.0, {bt, bc}));
              Value w = tb.toF32(tb.load(wM, {c0, tb.index(j)}, {0}, {bc}));
              acc = tb.add(acc, tb.mul(x, tb.broadcast(w, {1}, {bt, bc})));
            }
            if (silu)
              acc = tb.silu(acc);
            tb.store(tb.castTo(acc, elt), yM, {tb.index(0), blk.t0, c0}, {1, 2},
                     {tb.index(1), end, tb.index(channels)});
          });
        });
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    SmallVector<Value> dyn = dynamicDims(rw, loc, op.getInput());
    DispatchOp dispatch = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, (channels + bc - 1) / bc),
         packedBlockCount(rw, loc, tokens,
                          cuSizeOf(rw, loc, op.getCuSeqlens()), bt),
         constIndex(rw, loc, 1)},
        inputs,
        {dyn, {}, dynamicDims(rw, loc, op.getCuSeqlens())}, {op.getType()},
        {dyn});
    rw.replaceOp(op, dispatch.getResults());
    return success();
  }
};

struct RopePattern : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType xT = op.getInput().getType();
    int64_t heads = xT.getDimSize(2), dim = xT.getDimSize(3), half = dim / 2;
    double theta = op.getTheta().convertToDouble();
    const int64_t bt = 64;
    Type elt = xT.getElementType();
    Value offsets = op.getOffsets(), cu = op.getCuSeqlens();
    std::string name = llvm::formatv("rope_{0}_h{1}_d{2}_t{3}{4}", typeTag(elt),
                                     heads, dim, floatTag(theta),
                                     offsets ? "_offsets"
                                     : cu    ? "_packed"
                                             : "");
    SmallVector<Value> inputs = {op.getInput()};
    if (offsets)
      inputs.push_back(offsets);
    if (cu)
      inputs.push_back(cu);
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    argTypes.push_back(memrefFor(op.getType()));
    // Rotates the bt tokens from t0 of batch row `batch`, the first at
    // position `first`; stores stop at token `end` when given.
    auto rotate = [&](TileBuilder &tb, ValueRange a, Value batch, Value t0,
                      Value first, Value end) {
      Value head = tb.programId(1);
      Value lo = tb.toF32(
          tb.load(a[0], {batch, t0, head, tb.index(0)}, {1, 3}, {bt, half}));
      Value hi = tb.toF32(tb.load(a[0], {batch, t0, head, tb.index(half)},
                                  {1, 3}, {bt, half}));
      Value pos = tb.toF32(arith::AddIOp::create(
          tb.builder(), tb.getLoc(), tb.iota({bt, half}, 0),
          tb.splatIndexAsI32(first, {bt, half})));
      // inv_freq[i] = theta^(-2i/D)
      Value freqIndex = tb.toF32(tb.iota({bt, half}, 1));
      Value invFreq = tb.exp(tb.mul(freqIndex, -2.0 * std::log(theta) / dim));
      Value angle = tb.mul(pos, invFreq);
      Value c = tb.cos(angle), s = tb.sin(angle);
      Value outLo = tb.sub(tb.mul(lo, c), tb.mul(hi, s));
      Value outHi = tb.add(tb.mul(hi, c), tb.mul(lo, s));
      Value out = a.back();
      SmallVector<Value> bounds;
      if (end)
        bounds = {tb.index(1), end, tb.index(heads), tb.index(dim)};
      tb.store(tb.castTo(outLo, elt), out, {batch, t0, head, tb.index(0)},
               {1, 3}, bounds);
      tb.store(tb.castTo(outHi, elt), out, {batch, t0, head, tb.index(half)},
               {1, 3}, bounds);
    };
    func::FuncOp kernel = getOrCreateKernel(
        rw, op->getParentOfType<ModuleOp>(), name, argTypes, 4,
        [&](TileBuilder &tb, ValueRange a) {
          if (cu) {
            // Packed: a block of one sequence, positions from its start.
            PackedBlock blk = locatePackedBlock(tb, a[1], tb.programId(0), bt);
            ifPackedBlock(tb, blk, a[0], [&](TileBuilder &tb, Value end) {
              Value first = arith::SubIOp::create(tb.builder(), tb.getLoc(),
                                                  blk.t0, blk.begin);
              rotate(tb, a, tb.index(0), blk.t0, first, end);
            });
            return;
          }
          Value t0 = tb.muli(tb.programId(0), bt);
          Value batch = tb.programId(2);
          // Position of the block's first token: t0, after the sequence's
          // earlier tokens with offsets.
          Value first = t0;
          if (offsets)
            first = tb.addi(first, arith::IndexCastOp::create(
                                       tb.builder(), tb.getLoc(),
                                       tb.builder().getIndexType(),
                                       memref::LoadOp::create(
                                           tb.builder(), tb.getLoc(), a[1],
                                           batch)));
          rotate(tb, a, batch, t0, first, Value());
        });
    Value batch = tensor::DimOp::create(rw, loc, op.getInput(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    SmallVector<Value> dyn = dynamicDims(rw, loc, op.getInput());
    SmallVector<SmallVector<Value>> inDims = {dyn};
    for (Value v : ValueRange(inputs).drop_front())
      inDims.push_back(dynamicDims(rw, loc, v));
    Value blocks = ceilDivIndex(rw, loc, tokens, bt);
    if (cu) {
      blocks = packedBlockCount(rw, loc, tokens, cuSizeOf(rw, loc, cu), bt);
      batch = constIndex(rw, loc, 1);
    }
    DispatchOp dispatch = createDispatch(
        rw, loc, kernel, {blocks, constIndex(rw, loc, heads), batch}, inputs,
        inDims, {op.getType()}, {dyn});
    rw.replaceOp(op, dispatch.getResults());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Decode: recurrences from and into per-slot caches (results in place)
//===----------------------------------------------------------------------===//

/// Runs `body` with the cache slot of batch element `batch` when it is in
/// [0, slots), and `badSlot` otherwise: a bad slot table must neither touch
/// another sequence's state nor pass silently, so `badSlot` poisons the
/// outputs with NaN.
void withSlot(TileBuilder &tb, Value slotsM, Value cacheM, Value batch,
              function_ref<void(TileBuilder &, Value)> body,
              function_ref<void(TileBuilder &)> badSlot) {
  OpBuilder &b = tb.builder();
  Location loc = tb.getLoc();
  Value s = memref::LoadOp::create(b, loc, slotsM, batch);
  Value slot = arith::IndexCastOp::create(b, loc, b.getIndexType(), s);
  Value inRange = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, slot,
                            tb.index(0)),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, slot,
                            tb.dim(cacheM, 0)));
  scf::IfOp::create(
      b, loc, inRange,
      [&](OpBuilder &nb, Location l) {
        TileBuilder x(nb, l);
        body(x, slot);
        scf::YieldOp::create(nb, l);
      },
      [&](OpBuilder &nb, Location l) {
        TileBuilder x(nb, l);
        badSlot(x);
        scf::YieldOp::create(nb, l);
      });
}

/// Stores NaN into `memref[batch, t, offsets...]` for every token t, as a
/// tile of `shape` over dims `dims`.
void poisonTokens(TileBuilder &tb, Value memref, Value batch,
                  ArrayRef<Value> offsets, ArrayRef<int64_t> dims,
                  ArrayRef<int64_t> shape) {
  Type elt = cast<MemRefType>(memref.getType()).getElementType();
  scf::ForOp::create(
      tb.builder(), tb.getLoc(), tb.index(0), tb.dim(memref, 1), tb.index(1),
      ValueRange{}, [&](OpBuilder &nb, Location l, Value t, ValueRange) {
        TileBuilder x(nb, l);
        SmallVector<Value> at = {batch, t};
        llvm::append_range(at, offsets);
        x.store(x.castTo(x.constant(std::nan(""), shape), elt), memref, at,
                dims);
        scf::YieldOp::create(nb, l);
      });
}

/// The delta rule token by token from the cached state: one program per
/// (value block, value head, batch); the state [K, BV] stays in registers
/// across the tokens and goes back to its slot at the end.
struct GatedDeltaRuleCachedPattern : OpRewritePattern<GatedDeltaRuleCachedOp> {
  GatedDeltaRuleCachedPattern(MLIRContext *ctx, int64_t blockV, int64_t warps,
                              int64_t minPerSM, int64_t blocksPerProgram)
      : OpRewritePattern(ctx), blockV(blockV), numWarps(warps),
        minProgramsPerSM(minPerSM), blocksPerProgram(blocksPerProgram) {}
  int64_t blockV, numWarps, minProgramsPerSM, blocksPerProgram;

  LogicalResult matchAndRewrite(GatedDeltaRuleCachedOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType qT = op.getQ().getType(), vT = op.getV().getType();
    int64_t h = qT.getDimSize(2), hv = vT.getDimSize(2), kd = qT.getDimSize(3),
            vd = vT.getDimSize(3);
    int64_t bv = vd % blockV == 0 ? blockV : vd, group = hv / h;
    // A program updates `nb` value blocks one after another. Their states
    // are prefetched into L2 together at its start, so the loads of all
    // but the first overlap the work on the ones before (a program of one
    // block waits on the full DRAM latency between its slot lookup and its
    // arithmetic).
    int64_t numBlocks = vd / bv, nb = std::min(blocksPerProgram, numBlocks);
    while (numBlocks % nb)
      --nb;
    // Latency-bound: occupancy matters more than a few spilled registers
    // while the state per thread is small. On H100, 8 programs of 2 warps
    // at [96, 16] (24 floats a thread) ran 14% faster than without the
    // cap; at [128, 16] (32 floats) the spills made it 15% slower.
    int64_t minPerSM = minProgramsPerSM;
    if (minPerSM < 0)
      minPerSM = kd * bv <= 24 * 32 * numWarps ? 8 : 0;
    double scale = op.getScale().convertToDouble();
    std::optional<double> normEps;
    if (std::optional<APFloat> eps = op.getQkL2normEpsilon())
      normEps = eps->convertToDouble();
    Type outElt = op.getO().getType().getElementType();
    std::string name = llvm::formatv(
        "gdn_decode_{0}_{1}_h{2}_hv{3}_k{4}_v{5}_bv{6}{11}_w{7}{8}_s{9}{10}",
        typeTag(qT.getElementType()), typeTag(vT.getElementType()), h, hv, kd,
        vd, bv, numWarps,
        minPerSM ? "_m" + std::to_string(minPerSM) : std::string(),
        floatTag(scale),
        normEps ? "_l2e" + floatTag(*normEps) : std::string(),
        nb > 1 ? "x" + std::to_string(nb) : std::string());
    SmallVector<Value> inputs = {op.getQ(),    op.getK(),     op.getV(),
                                 op.getG(),    op.getBeta(),  op.getCache(),
                                 op.getSlots()};
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    llvm::append_range(argTypes, memrefsOf(op->getResultTypes()));
    func::FuncOp kernel = getOrCreateKernel(
        rw, op->getParentOfType<ModuleOp>(), name, argTypes, numWarps,
        [&](TileBuilder &tb, ValueRange a) {
          Value qM = a[0], kM = a[1], vM = a[2], gM = a[3], betaM = a[4],
                cacheM = a[5], slotsM = a[6], oM = a[7], newCacheM = a[8];
          Value firstV = tb.muli(tb.programId(0), bv * nb);
          Value head = tb.programId(1), batch = tb.programId(2);
          Value keyHead = group == 1 ? head : tb.divi(head, group);
          Value c0 = tb.index(0);
          // Runs `body` for the first value column of each of the program's
          // blocks in turn.
          auto forEachBlock = [&](TileBuilder &tb,
                                  function_ref<void(TileBuilder &, Value)> body) {
            if (nb == 1)
              return body(tb, firstV);
            scf::ForOp::create(
                tb.builder(), tb.getLoc(), c0, tb.index(nb), tb.index(1),
                ValueRange{},
                [&](OpBuilder &lb, Location l, Value j, ValueRange) {
                  TileBuilder x(lb, l);
                  body(x, x.addi(firstV, x.muli(j, bv)));
                  scf::YieldOp::create(lb, l);
                });
          };
          auto updateBlock = [&](TileBuilder &tb, Value slot, Value v0) {
            Value init = tb.load(cacheM, {slot, head, c0, v0}, {2, 3}, {kd, bv});
            OpBuilder &b = tb.builder();
            auto loop = scf::ForOp::create(
                b, tb.getLoc(), c0, tb.dim(qM, 1), tb.index(1), ValueRange{init},
                [&](OpBuilder &nb, Location l, Value t, ValueRange it) {
                  TileBuilder x(nb, l);
                  Value s = it[0];
                  Value q =
                      x.toF32(x.load(qM, {batch, t, keyHead, c0}, {3}, {kd}));
                  Value k =
                      x.toF32(x.load(kM, {batch, t, keyHead, c0}, {3}, {kd}));
                  Value v = x.toF32(x.load(vM, {batch, t, head, v0}, {3}, {bv}));
                  Value g = memref::LoadOp::create(nb, l, gM,
                                                   ValueRange{batch, t, head});
                  Value beta = memref::LoadOp::create(nb, l, betaM,
                                                      ValueRange{batch, t, head});
                  // S = exp(g) S; d = beta (v - S^T k); S += k d^T; o = S^T q.
                  // With the L2 norms folded in, k = k' / |k'| and
                  // q = q' / |q'|: the factors 1 / |.| scale the value
                  // columns (kv, d and o) rather than the keys. (Normalizing
                  // the [K] vectors first measured 15-20% slower: two more
                  // reductions through shared memory and barriers.)
                  s = x.mul(s, x.splat(math::ExpOp::create(nb, l, g), {kd, bv}));
                  Value kb = x.broadcast(k, {0}, {kd, bv});
                  Value qb = x.broadcast(x.mul(q, scale), {0}, {kd, bv});
                  auto invNorm = [&](Value b, double extra) {
                    Value ss = x.reduce(ReduceKind::Sum, x.mul(b, b), 0);
                    if (extra != 1.0) // b holds extra * q: undo it in ss
                      ss = x.mul(ss, 1.0 / (extra * extra));
                    return x.rsqrt(x.add(ss, x.constant(*normEps, {bv})));
                  };
                  Value kv = x.reduce(ReduceKind::Sum, x.mul(s, kb), 0);
                  Value d;
                  if (normEps) {
                    Value invK = invNorm(kb, 1.0);
                    d = x.mul(x.sub(v, x.mul(kv, invK)), x.splat(beta, {bv}));
                    d = x.mul(d, invK); // k d^T with k normalized
                  } else {
                    d = x.mul(x.sub(v, kv), x.splat(beta, {bv}));
                  }
                  s = x.add(s, x.mul(kb, x.broadcast(d, {1}, {kd, bv})));
                  Value o = x.reduce(ReduceKind::Sum, x.mul(s, qb), 0);
                  if (normEps)
                    o = x.mul(o, invNorm(qb, scale));
                  x.store(x.castTo(o, outElt), oM, {batch, t, head, v0}, {3});
                  scf::YieldOp::create(nb, l, s);
                });
            tb.store(loop.getResult(0), newCacheM, {slot, head, c0, v0}, {2, 3});
          };
          auto step = [&](TileBuilder &tb, Value slot) {
            if (nb > 1)
              tb.prefetch(cacheM, {slot, head, c0, firstV}, {2, 3},
                          {kd, bv * nb});
            forEachBlock(tb, [&](TileBuilder &tb, Value v0) {
              updateBlock(tb, slot, v0);
            });
          };
          withSlot(tb, slotsM, cacheM, batch, step, [&](TileBuilder &x) {
            forEachBlock(x, [&](TileBuilder &x, Value v0) {
              poisonTokens(x, oM, batch, {head, v0}, {3}, {bv});
            });
          });
        });
    if (minPerSM)
      kernel->setAttr(tile::TileDialect::kMinProgramsPerSMAttrName,
                      rw.getI32IntegerAttr(minPerSM));
    Value batch = tensor::DimOp::create(rw, loc, op.getQ(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getQ(), 1);
    auto tokenDims = [&](Type t) {
      SmallVector<Value> d;
      auto rt = cast<RankedTensorType>(t);
      if (rt.isDynamicDim(0))
        d.push_back(batch);
      if (rt.isDynamicDim(1))
        d.push_back(tokens);
      return d;
    };
    SmallVector<SmallVector<Value>> inDims;
    for (Value v : ArrayRef<Value>(inputs).take_front(5))
      inDims.push_back(tokenDims(v.getType()));
    inDims.push_back(dynamicDims(rw, loc, op.getCache()));
    inDims.push_back(op.getSlots().getType().isDynamicDim(0)
                         ? SmallVector<Value>{batch}
                         : SmallVector<Value>{});
    DispatchOp d = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, numBlocks / nb), constIndex(rw, loc, hv), batch},
        inputs,
        inDims, op->getResultTypes(),
        {tokenDims(op.getO().getType()), inDims[5]}, {-1, 5});
    rw.replaceOp(op, d.getResults());
    return success();
  }
};

/// The causal conv continuing from cached inputs: tap j of token t reads the
/// concatenation (cache rows, then new tokens) at position t + j, i.e. cache
/// row t + j or token t + j - (W - 1), whichever exists (the other load is
/// masked to zero). The new cache rows are read the same way before any is
/// written.
struct CausalConv1DCachedPattern : OpRewritePattern<CausalConv1DCachedOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CausalConv1DCachedOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType xT = op.getInput().getType(),
                     wT = op.getWeight().getType();
    int64_t channels = xT.getDimSize(2), width = wT.getDimSize(1);
    // 4 channels a thread (one 8-byte bf16 access each): every program but
    // the last of a row takes the unmasked vector path.
    const int64_t numWarps = 4, bc = 4 * 32 * numWarps;
    bool silu = op.getActivation() == "silu";
    Type elt = xT.getElementType();
    std::string name = llvm::formatv(
        "conv1d_decode_{0}_{1}_c{2}_w{3}_{4}", typeTag(elt),
        typeTag(wT.getElementType()), channels, width, silu ? "silu" : "none");
    SmallVector<Value> inputs = {op.getInput(), op.getWeight(), op.getCache(),
                                 op.getSlots()};
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    llvm::append_range(argTypes, memrefsOf(op->getResultTypes()));
    func::FuncOp kernel = getOrCreateKernel(
        rw, op->getParentOfType<ModuleOp>(), name, argTypes, numWarps,
        [&](TileBuilder &tb, ValueRange a) {
          Value xM = a[0], wM = a[1], cacheM = a[2], slotsM = a[3], yM = a[4],
                newCacheM = a[5];
          Value c0 = tb.muli(tb.programId(0), bc);
          Value batch = tb.programId(2);
          Value tokens = tb.dim(xM, 1);
          auto step = [&](TileBuilder &tb, Value slot) {
            // Input at position p of (cache rows, new tokens).
            auto input = [&](TileBuilder &t, Value p) {
              Value fromCache = t.toF32(t.load(cacheM, {slot, p, c0}, {2}, {bc}));
              Value tok = arith::SubIOp::create(t.builder(), t.getLoc(), p,
                                                t.index(width - 1));
              Value fromTokens = t.toF32(t.load(xM, {batch, tok, c0}, {2}, {bc}));
              return t.add(fromCache, fromTokens);
          };
          SmallVector<Value> taps;
          for (int64_t j = 0; j < width; ++j)
            taps.push_back(tb.toF32(tb.load(wM, {c0, tb.index(j)}, {0}, {bc})));
          scf::ForOp::create(
              tb.builder(), tb.getLoc(), tb.index(0), tokens, tb.index(1),
              ValueRange{},
              [&](OpBuilder &nb, Location l, Value t, ValueRange) {
                TileBuilder x(nb, l);
                Value acc = x.constant(0.0, {bc});
                for (int64_t j = 0; j < width; ++j)
                  acc = x.add(acc,
                              x.mul(taps[j], input(x, x.addi(t, x.index(j)))));
                if (silu)
                  acc = x.silu(acc);
                x.store(x.castTo(acc, elt), yM, {batch, t, c0}, {2});
                scf::YieldOp::create(nb, l);
              });
          // New cache row r: the input at position T + r. Read all, then write.
          SmallVector<Value> rows;
          for (int64_t r = 0; r + 1 < width; ++r)
            rows.push_back(input(tb, tb.addi(tokens, tb.index(r))));
          for (int64_t r = 0; r + 1 < width; ++r)
            tb.store(tb.castTo(rows[r], elt), newCacheM,
                     {slot, tb.index(r), c0}, {2});
          };
          withSlot(tb, slotsM, cacheM, batch, step, [&](TileBuilder &x) {
            poisonTokens(x, yM, batch, {c0}, {2}, {bc});
          });
        });
    Value batch = tensor::DimOp::create(rw, loc, op.getInput(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    SmallVector<Value> xDims;
    if (xT.isDynamicDim(0))
      xDims.push_back(batch);
    if (xT.isDynamicDim(1))
      xDims.push_back(tokens);
    SmallVector<Value> cacheDims = dynamicDims(rw, loc, op.getCache());
    SmallVector<Value> slotDims;
    if (op.getSlots().getType().isDynamicDim(0))
      slotDims.push_back(batch);
    Value one = constIndex(rw, loc, 1);
    DispatchOp d = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, (channels + bc - 1) / bc), one, batch}, inputs,
        {xDims, {}, cacheDims, slotDims}, op->getResultTypes(),
        {xDims, cacheDims}, {-1, 2});
    rw.replaceOp(op, d.getResults());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Prefill into per-slot caches: packed sequences' tails and tokens written
// into their slots (results in place)
//===----------------------------------------------------------------------===//

/// Tiles of an entry (the static dims `entry` after a leading dim): `rows`
/// x `cols` elements over its last two dims, each program of the grid's x
/// one tile at one coordinate of the dims before those two.
struct EntryTiling {
  SmallVector<int64_t> shape; // dims 1 .. rank - 1
  int64_t rows, cols, rowBlocks, colBlocks, programs;

  /// Tiles of at most `maxCols` columns and `maxRows` rows (1: the tile is
  /// one row of the last dim and every other dim is enumerated).
  EntryTiling(ArrayRef<int64_t> entry, int64_t maxCols, int64_t maxRows) {
    shape.assign(entry.begin(), entry.end());
    int64_t last = shape.back();
    cols = 4;
    while (cols < last && cols < maxCols)
      cols *= 2;
    int64_t before = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
    rows = 1;
    while (rows < before && rows < maxRows && rows * 2 * cols <= 4096)
      rows *= 2;
    rowBlocks = (before + rows - 1) / rows;
    colBlocks = (last + cols - 1) / cols;
    programs = rowBlocks * colBlocks;
    for (size_t d = 0; d + 2 < shape.size(); ++d)
      programs *= shape[d];
  }

  /// The coordinates (dims 1 ..) of program `x`'s tile's first element.
  SmallVector<Value> origin(TileBuilder &tb, Value x) const {
    SmallVector<Value> at(shape.size());
    Value rest = x;
    auto take = [&](int64_t size) {
      Value r = arith::RemUIOp::create(tb.builder(), tb.getLoc(), rest,
                                       tb.index(size));
      rest = tb.divi(rest, size);
      return r;
    };
    at.back() = tb.muli(take(colBlocks), cols);
    if (shape.size() >= 2) {
      at[shape.size() - 2] = tb.muli(take(rowBlocks), rows);
      for (int64_t d = static_cast<int64_t>(shape.size()) - 3; d >= 0; --d)
        at[d] = take(shape[d]);
    }
    return at;
  }

  /// The tile's dims in a memref of rank shape.size() + 1.
  SmallVector<int64_t> dims() const {
    int64_t r = static_cast<int64_t>(shape.size());
    if (r == 1)
      return {1};
    return {r - 1, r};
  }
  SmallVector<int64_t> tileShape() const {
    if (shape.size() == 1)
      return {cols};
    return {rows, cols};
  }
};

struct SequenceTailPattern : OpRewritePattern<SequenceTailOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SequenceTailOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType xT = op.getInput().getType();
    int64_t count = static_cast<int64_t>(op.getCount());
    const int64_t bc = 512;
    std::string name = llvm::formatv("sequence_tail_{0}_n{1}",
                                     typeTag(xT.getElementType()), count);
    SmallVector<Value> inputs = {op.getInput(), op.getCuSeqlens()};
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    argTypes.push_back(memrefFor(op.getType()));
    func::FuncOp kernel = getOrCreateKernel(
        rw, op->getParentOfType<ModuleOp>(), name, argTypes, 4,
        [&](TileBuilder &tb, ValueRange a) {
          OpBuilder &b = tb.builder();
          Location l = tb.getLoc();
          Value c0 = tb.muli(tb.programId(0), bc), n = tb.programId(1);
          auto [begin, end] = sequenceRange(tb, a[1], n);
          end = arith::MinSIOp::create(b, l, end, tb.dim(a[0], 1));
          for (int64_t r = 0; r < count; ++r) {
            // Token end - count + r, or row -1 (read as zero) where it is
            // before the sequence.
            Value t = arith::SubIOp::create(b, l, end, tb.index(count - r));
            Value inside =
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, t, begin);
            t = arith::SelectOp::create(b, l, inside, t, tb.index(-1));
            Value x = tb.load(a[0], {tb.index(0), t, c0}, {2}, {bc});
            tb.store(x, a[2], {n, tb.index(r), c0}, {2});
          }
        });
    Value sequences =
        packedSequenceCount(rw, loc, cuSizeOf(rw, loc, op.getCuSeqlens()));
    Value features = tensor::DimOp::create(rw, loc, op.getInput(), 2);
    SmallVector<Value> outDims;
    if (op.getType().isDynamicDim(0))
      outDims.push_back(sequences);
    if (op.getType().isDynamicDim(2))
      outDims.push_back(features);
    DispatchOp d = createDispatch(
        rw, loc, kernel,
        {ceilDivIndex(rw, loc, features, bc), sequences, constIndex(rw, loc, 1)},
        inputs,
        {dynamicDims(rw, loc, op.getInput()),
         dynamicDims(rw, loc, op.getCuSeqlens())},
        {op.getType()}, {outDims});
    rw.replaceOp(op, d.getResults());
    return success();
  }
};

/// The 4-warp kernel `base`_<element type>_<entry dims> of a cache write
/// over `inputs`, whose result is the cache (type `cacheT`), built by
/// `body` when new.
func::FuncOp cacheWriteKernel(PatternRewriter &rw, Operation *op,
                              StringRef base, RankedTensorType cacheT,
                              ArrayRef<int64_t> entry, ValueRange inputs,
                              function_ref<void(TileBuilder &, ValueRange)> body) {
  std::string name = (base + "_" + typeTag(cacheT.getElementType())).str();
  for (int64_t d : entry)
    name += "_" + std::to_string(d);
  SmallVector<Type> argTypes = memrefsOf(inputs.getTypes());
  argTypes.push_back(memrefFor(cacheT));
  return getOrCreateKernel(rw, op->getParentOfType<ModuleOp>(), name, argTypes,
                           4, body);
}

/// cache[slots[n]] = values[n]: program (tile, n) copies one tile of entry
/// n when its slot is inside the cache.
struct WriteSlotsPattern : OpRewritePattern<WriteSlotsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(WriteSlotsOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType cacheT = op.getCache().getType();
    EntryTiling tiling(cacheT.getShape().drop_front(), 512, 64);
    SmallVector<Value> inputs = {op.getCache(), op.getSlots(), op.getValues()};
    func::FuncOp kernel = cacheWriteKernel(
        rw, op, "write_slots", cacheT, tiling.shape, inputs,
        [&](TileBuilder &tb, ValueRange a) {
          Value n = tb.programId(1);
          SmallVector<Value> at = tiling.origin(tb, tb.programId(0));
          withSlot(
              tb, a[1], a[3], n,
              [&](TileBuilder &tb, Value slot) {
                SmallVector<Value> from = {n}, to = {slot};
                llvm::append_range(from, at);
                llvm::append_range(to, at);
                Value x = tb.load(a[2], from, tiling.dims(), tiling.tileShape());
                tb.store(x, a[3], to, tiling.dims());
              },
              [](TileBuilder &) {});
        });
    Value sequences = tensor::DimOp::create(rw, loc, op.getValues(), 0);
    SmallVector<Value> valueDims = dynamicDims(rw, loc, op.getValues());
    SmallVector<Value> slotDims;
    if (op.getSlots().getType().isDynamicDim(0))
      slotDims.push_back(sequences);
    SmallVector<Value> cacheDims = dynamicDims(rw, loc, op.getCache());
    DispatchOp d = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, tiling.programs), sequences,
         constIndex(rw, loc, 1)},
        inputs, {cacheDims, slotDims, valueDims}, {op.getType()}, {cacheDims},
        {0});
    rw.replaceOp(op, d.getResults());
    return success();
  }
};

/// cache[slots[n], i] = input[0, cu_seqlens[n] + i]: program (tile, block)
/// copies one tile of a block of 32 tokens of one sequence
/// (locatePackedBlock), stopping at the cache's positions.
struct WriteSequencesPattern : OpRewritePattern<WriteSequencesOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(WriteSequencesOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType cacheT = op.getCache().getType();
    int64_t rank = cacheT.getRank();
    // Tiles of bt tokens by the last dim's block, one per coordinate of the
    // dims between.
    const int64_t bt = 32;
    SmallVector<int64_t> entry(cacheT.getShape().drop_front(2));
    EntryTiling tiling(entry, 4096 / bt, 1);
    SmallVector<Value> inputs = {op.getCache(), op.getSlots(), op.getInput(),
                                 op.getCuSeqlens()};
    func::FuncOp kernel = cacheWriteKernel(
        rw, op, "write_sequences", cacheT, entry, inputs,
        [&](TileBuilder &tb, ValueRange a) {
          Value cacheM = a[4], xM = a[2];
          PackedBlock blk = locatePackedBlock(tb, a[3], tb.programId(1), bt);
          // The tile: bt tokens by the last dim's block (the dims between
          // taken one coordinate a program).
          SmallVector<Value> at = tiling.origin(tb, tb.programId(0));
          int64_t lastDims = static_cast<int64_t>(entry.size());
          SmallVector<int64_t> dims = {1, rank - 1};
          SmallVector<int64_t> shape = {bt, tiling.cols};
          ifPackedBlock(tb, blk, xM, [&](TileBuilder &tb, Value end) {
            withSlot(
                tb, a[1], cacheM, blk.sequence,
                [&](TileBuilder &tb, Value slot) {
                  OpBuilder &b = tb.builder();
                  Location l = tb.getLoc();
                  Value position =
                      arith::SubIOp::create(b, l, blk.t0, blk.begin);
                  // Positions past the cache's are not written.
                  Value stop = arith::MinSIOp::create(
                      b, l, arith::SubIOp::create(b, l, end, blk.begin),
                      tb.dim(cacheM, 1));
                  SmallVector<Value> from = {tb.index(0), blk.t0},
                                     to = {slot, position};
                  llvm::append_range(from, at);
                  llvm::append_range(to, at);
                  SmallVector<Value> xBounds = {tb.index(1), end},
                                     cacheBounds = {tb.dim(cacheM, 0), stop};
                  for (int64_t d = 0; d < lastDims; ++d) {
                    xBounds.push_back(tb.index(entry[d]));
                    cacheBounds.push_back(tb.index(entry[d]));
                  }
                  Value x = tb.load(xM, from, dims, shape, xBounds);
                  tb.store(x, cacheM, to, dims, cacheBounds);
                },
                [](TileBuilder &) {});
          });
        });
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    Value cuSize = cuSizeOf(rw, loc, op.getCuSeqlens());
    SmallVector<Value> slotDims;
    if (op.getSlots().getType().isDynamicDim(0))
      slotDims.push_back(packedSequenceCount(rw, loc, cuSize));
    SmallVector<Value> cacheDims = dynamicDims(rw, loc, op.getCache());
    DispatchOp d = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, tiling.programs),
         packedBlockCount(rw, loc, tokens, cuSize, bt),
         constIndex(rw, loc, 1)},
        inputs,
        {cacheDims, slotDims, dynamicDims(rw, loc, op.getInput()),
         dynamicDims(rw, loc, op.getCuSeqlens())},
        {op.getType()}, {cacheDims}, {0});
    rw.replaceOp(op, d.getResults());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct KernelizePass : public hyla::impl::KernelizeBase<KernelizePass> {
  using KernelizeBase::KernelizeBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    if (gemmBlockM < 16 || gemmBlockN < 8 || gemmBlockK < 16 ||
        gemmBlockM % 16 || gemmBlockN % 8 || gemmBlockK % 16 ||
        gemmNumWarps < 1 || gemmNumWarps > 16 ||
        (gemmNumWarps & (gemmNumWarps - 1)) || gemmStages < 2 ||
        gemmStages > 8 || gemmGroupM < 1) {
      getOperation().emitError()
          << "hyla-kernelize: GEMM blocks must be multiples of the tensor-core "
             "tile (m 16, n 8, k 16), gemm-num-warps a power of two from 1 "
             "to 16, gemm-stages from 2 to 8 and gemm-group-m at least 1, got "
          << int64_t(gemmBlockM) << "x" << int64_t(gemmBlockN) << "x"
          << int64_t(gemmBlockK) << " with " << int64_t(gemmNumWarps)
          << " warps, " << int64_t(gemmStages) << " stages and groups of "
          << int64_t(gemmGroupM);
      return signalPassFailure();
    }
    if (fewRowsBlockN < 64 || fewRowsBlockN % 64 || fewRowsBlockK < 64 ||
        fewRowsBlockK % 64 || fewRowsStages < 2 || fewRowsStages > 8 ||
        fewRowsPrograms < 1 || fewRowsCluster < 1 ||
        fewRowsCluster > tile::TileDialect::kMaxClusterSize) {
      getOperation().emitError()
          << "hyla-kernelize: few-rows-block-n and few-rows-block-k must be "
             "multiples of 64 (one warpgroup's wgmma tile), few-rows-stages "
             "from 2 to 8, few-rows-programs positive and few-rows-cluster "
             "from 1 to 8, got "
          << int64_t(fewRowsBlockN) << ", " << int64_t(fewRowsBlockK) << ", "
          << int64_t(fewRowsStages) << ", " << int64_t(fewRowsPrograms)
          << " and " << int64_t(fewRowsCluster);
      return signalPassFailure();
    }
    if (decodeBlockV < 1 || decodeNumWarps < 1 || decodeNumWarps > 16 ||
        (decodeNumWarps & (decodeNumWarps - 1)) || decodeMinProgramsPerSM < -1 ||
        decodeMinProgramsPerSM > 32 || decodeBlocksPerProgram < 1) {
      getOperation().emitError()
          << "hyla-kernelize: decode-block-v must be positive, "
             "decode-num-warps a power of two from 1 to 16, "
             "decode-min-programs-per-sm from -1 to 32 and "
             "decode-blocks-per-program positive, got "
          << int64_t(decodeBlockV) << ", " << int64_t(decodeNumWarps) << ", "
          << int64_t(decodeMinProgramsPerSM) << " and "
          << int64_t(decodeBlocksPerProgram);
      return signalPassFailure();
    }
    FewRowsConfig fewRows{fewRowsBlockN, fewRowsBlockK, fewRowsStages,
                          fewRowsPrograms, fewRowsCluster};
    GemmConfig gemm{gemmBlockM,   gemmBlockN, gemmBlockK,
                    gemmNumWarps, gemmStages, gemmGroupM};
    // First the consumers that take in a product in their kernel: a
    // few-rows product's slice sum, a GEMM's epilogue (the products'
    // kernels are emitted where the consumer is).
    if (fewRowsEpilogues || gemmEpilogues) {
      RewritePatternSet fusions(ctx);
      if (fewRowsEpilogues)
        fusions.add<FewRowsAddPattern, FewRowsSiluMulPattern>(ctx, fewRows);
      if (gemmEpilogues)
        fusions.add<GemmAddPattern, GemmSiluMulPattern>(ctx, gemm);
      walkAndApplyPatterns(getOperation(), std::move(fusions));
    }
    RewritePatternSet patterns(ctx);
    patterns.add<RMSNormPattern, L2NormPattern, GatedRMSNormPattern,
                 GdnGatesPattern, AddPattern, SiluMulPattern, EmbeddingPattern,
                 CausalConv1DPattern, RopePattern, CausalConv1DCachedPattern,
                 SequenceTailPattern, WriteSlotsPattern, WriteSequencesPattern>(
        ctx);
    patterns.add<GatedDeltaRuleCachedPattern>(ctx, decodeBlockV, decodeNumWarps,
                                              decodeMinProgramsPerSM,
                                              decodeBlocksPerProgram);
    patterns.add<LinearPattern>(ctx, gemm, fewRows);
    walkAndApplyPatterns(getOperation(), std::move(patterns));

    // The delta rule and attention have passes of their own; if one is left,
    // the pipeline skipped it.
    WalkResult leftover = getOperation().walk([](Operation *op) {
      if (isa<GatedDeltaRuleOp>(op)) {
        op->emitError() << "no kernel for '" << op->getName()
                        << "': run hyla-chunk-delta-rule before hyla-kernelize";
        return WalkResult::interrupt();
      }
      if (isa<AttentionOp>(op)) {
        op->emitError() << "no kernel for '" << op->getName()
                        << "': run hyla-flash-attention before hyla-kernelize";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (leftover.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
