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

std::string floatTag(double v) {
  return llvm::formatv("{0:x8}", llvm::bit_cast<uint32_t>(static_cast<float>(v)))
      .str();
}

/// Rows per program so that a block holds about 4096 elements (1 to 64).
int64_t rowsPerProgram(int64_t features) {
  int64_t rows = 1;
  while (rows < 64 && rows * 2 * features <= 4096)
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

SmallVector<Type> memrefsOf(TypeRange tensors) {
  SmallVector<Type> out;
  for (Type t : tensors)
    out.push_back(memrefFor(cast<RankedTensorType>(t)));
  return out;
}

Value constIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value ceilDivIndex(OpBuilder &b, Location loc, Value v, int64_t d) {
  return arith::CeilDivUIOp::create(b, loc, v, constIndex(b, loc, d));
}

/// Body of a row-wise kernel: `args` are the kernel memrefs, `row0` the
/// first row of this program, `rows` the block's row count.
using RowBody =
    function_ref<void(TileBuilder &, ValueRange args, Value row0, int64_t rows)>;

/// Replaces `op` with a row-wise kernel. `rowOperands` are [..., F] tensors
/// with the op's leading shape; `params` are whole small tensors (weights);
/// every result has the leading shape of `rowOperands[0]`.
void dispatchRowwise(PatternRewriter &rw, Operation *op,
                     ArrayRef<Value> rowOperands, ArrayRef<Value> params,
                     int64_t features, StringRef baseName, int64_t numWarps,
                     RowBody body) {
  Location loc = op->getLoc();
  auto module = op->getParentOfType<ModuleOp>();
  SmallVector<Value> inputs;
  for (Value v : rowOperands)
    inputs.push_back(toRows(rw, loc, v));
  llvm::append_range(inputs, params);
  SmallVector<Type> resultTypes;
  for (Type t : op->getResultTypes())
    resultTypes.push_back(rowsType(cast<RankedTensorType>(t)));

  int64_t rowsPer = rowsPerProgram(features);
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
  SmallVector<Value> results;
  for (auto [res, type] :
       llvm::zip(dispatch.getResults(), op->getResultTypes()))
    results.push_back(fromRows(rw, loc, res, cast<RankedTensorType>(type),
                               rowOperands[0]));
  rw.replaceOp(op, results);
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
        });
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
        });
    return success();
  }
};

struct AddPattern : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    int64_t f = op.getType().getShape().back();
    Type elt = op.getType().getElementType();
    std::string name = llvm::formatv("add_{0}_f{1}", typeTag(elt), f);
    dispatchRowwise(rw, op, {op.getLhs(), op.getRhs()}, {}, f, name, 4,
                    [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
                      Value c0 = tb.index(0);
                      Value x = tb.toF32(
                          tb.load(a[0], {r0, c0}, {0, 1}, {rows, f}));
                      Value y = tb.toF32(
                          tb.load(a[1], {r0, c0}, {0, 1}, {rows, f}));
                      tb.store(tb.castTo(tb.add(x, y), elt), a[2], {r0, c0},
                               {0, 1});
                    });
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
    dispatchRowwise(rw, op, {op.getGate(), op.getUp()}, {}, f, name, 4,
                    [&](TileBuilder &tb, ValueRange a, Value r0, int64_t rows) {
                      Value c0 = tb.index(0);
                      Value g = tb.toF32(
                          tb.load(a[0], {r0, c0}, {0, 1}, {rows, f}));
                      Value u = tb.toF32(
                          tb.load(a[1], {r0, c0}, {0, 1}, {rows, f}));
                      tb.store(tb.castTo(tb.mul(tb.silu(g), u), elt), a[2],
                               {r0, c0}, {0, 1});
                    });
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

struct LinearPattern : OpRewritePattern<LinearOp> {
  LinearPattern(MLIRContext *ctx, int64_t bm, int64_t bn, int64_t bk)
      : OpRewritePattern(ctx), blockM(bm), blockN(bn), blockK(bk) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType wT = op.getWeight().getType();
    int64_t n = wT.getDimSize(0), k = wT.getDimSize(1);
    Type elt = op.getType().getElementType();
    Value x = toRows(rw, loc, op.getInput());
    auto xT = cast<RankedTensorType>(x.getType());
    auto yT = rowsType(op.getType());
    const int64_t bm = blockM, bn = blockN, bk = blockK;
    std::string name = llvm::formatv("gemm_{0}_n{1}_k{2}_bm{3}_bn{4}_bk{5}",
                                     typeTag(elt), n, k, bm, bn, bk);
    auto module = op->getParentOfType<ModuleOp>();
    func::FuncOp kernel = getOrCreateKernel(
        rw, module, name, {memrefFor(xT), memrefFor(wT), memrefFor(yT)}, 4,
        [&](TileBuilder &tb, ValueRange a) {
          Value n0 = tb.muli(tb.programId(0), bn);
          Value m0 = tb.muli(tb.programId(1), bm);
          OpBuilder &b = tb.builder();
          auto loop = scf::ForOp::create(
              b, tb.getLoc(), tb.index(0), tb.index(k), tb.index(bk),
              ValueRange{tb.constant(0.0, {bm, bn})},
              [&](OpBuilder &nb, Location l, Value kk, ValueRange it) {
                TileBuilder t(nb, l);
                Value xa = t.load(a[0], {m0, kk}, {0, 1}, {bm, bk});
                Value wb = t.load(a[1], {n0, kk}, {0, 1}, {bn, bk});
                scf::YieldOp::create(
                    nb, l, t.dot(xa, wb, it[0], false, /*transposeB=*/true));
              });
          tb.store(tb.castTo(loop.getResult(0), elt), a[2], {m0, n0}, {0, 1});
        });
    Value rows = tensor::DimOp::create(rw, loc, x, 0);
    SmallVector<Value> dyn;
    if (xT.isDynamicDim(0))
      dyn.push_back(rows);
    Value one = constIndex(rw, loc, 1);
    DispatchOp dispatch = createDispatch(
        rw, loc, kernel,
        {constIndex(rw, loc, (n + bn - 1) / bn), ceilDivIndex(rw, loc, rows, bm),
         one},
        {x, op.getWeight()}, {dyn, {}}, {yT}, {dyn});
    rw.replaceOp(op, fromRows(rw, loc, dispatch.getResult(0), op.getType(),
                              op.getInput()));
    return success();
  }

  int64_t blockM, blockN, blockK;
};

//===----------------------------------------------------------------------===//
// Causal conv1d and RoPE: kernels over (token block, channel block, batch)
//===----------------------------------------------------------------------===//

struct CausalConv1DPattern : OpRewritePattern<CausalConv1DOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CausalConv1DOp op,
                                PatternRewriter &rw) const override {
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
    std::string name = llvm::formatv("rope_{0}_h{1}_d{2}_t{3}", typeTag(elt),
                                     heads, dim, floatTag(theta));
    auto module = op->getParentOfType<ModuleOp>();
    func::FuncOp kernel = getOrCreateKernel(
        rw, module, name, {memrefFor(xT), memrefFor(op.getType())}, 4,
        [&](TileBuilder &tb, ValueRange a) {
          Value t0 = tb.muli(tb.programId(0), bt);
          Value head = tb.programId(1), batch = tb.programId(2);
          Value lo = tb.toF32(
              tb.load(a[0], {batch, t0, head, tb.index(0)}, {1, 3}, {bt, half}));
          Value hi = tb.toF32(tb.load(a[0], {batch, t0, head, tb.index(half)},
                                      {1, 3}, {bt, half}));
          Value pos = tb.toF32(arith::AddIOp::create(
              tb.builder(), tb.getLoc(), tb.iota({bt, half}, 0),
              tb.splatIndexAsI32(t0, {bt, half})));
          // inv_freq[i] = theta^(-2i/D)
          Value freqIndex = tb.toF32(tb.iota({bt, half}, 1));
          Value invFreq = tb.exp(tb.mul(freqIndex, -2.0 * std::log(theta) / dim));
          Value angle = tb.mul(pos, invFreq);
          Value c = tb.cos(angle), s = tb.sin(angle);
          Value outLo = tb.sub(tb.mul(lo, c), tb.mul(hi, s));
          Value outHi = tb.add(tb.mul(hi, c), tb.mul(lo, s));
          tb.store(tb.castTo(outLo, elt), a[1], {batch, t0, head, tb.index(0)},
                   {1, 3});
          tb.store(tb.castTo(outHi, elt), a[1], {batch, t0, head, tb.index(half)},
                   {1, 3});
        });
    Value batch = tensor::DimOp::create(rw, loc, op.getInput(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getInput(), 1);
    SmallVector<Value> dyn = dynamicDims(rw, loc, op.getInput());
    DispatchOp dispatch = createDispatch(
        rw, loc, kernel,
        {ceilDivIndex(rw, loc, tokens, bt), constIndex(rw, loc, heads), batch},
        {op.getInput()}, {dyn}, {op.getType()}, {dyn});
    rw.replaceOp(op, dispatch.getResults());
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
        gemmBlockM % 16 || gemmBlockN % 8 || gemmBlockK % 16) {
      getOperation().emitError()
          << "hyla-kernelize: GEMM blocks must be multiples of the tensor-core "
             "tile (m 16, n 8, k 16), got "
          << gemmBlockM << "x" << gemmBlockN << "x" << gemmBlockK;
      return signalPassFailure();
    }
    RewritePatternSet patterns(ctx);
    patterns.add<RMSNormPattern, L2NormPattern, GatedRMSNormPattern,
                 GdnGatesPattern, AddPattern, SiluMulPattern, EmbeddingPattern,
                 CausalConv1DPattern, RopePattern>(ctx);
    patterns.add<LinearPattern>(ctx, gemmBlockM, gemmBlockN, gemmBlockK);
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
