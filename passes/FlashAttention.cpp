//===- FlashAttention.cpp - attention as an online-softmax tile kernel ----===//
//
// Rewrites hyla.attention into one tile kernel per (query block, head,
// batch). For each block of keys the kernel computes the scores, updates
// the running row max m, rescales the running sum l and the accumulator by
// exp(m_old - m_new), and adds exp(s - m_new) V. With causal masking, key
// blocks past the query block are never visited.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/bit.h"
#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_FLASHATTENTION
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

struct FlashParams {
  int64_t blockM, blockN, numWarps;
  int64_t heads, kvHeads, headDim, valueDim;
  float scale;
  bool causal;
  Type elementType;
};

std::string kernelName(const FlashParams &p) {
  return llvm::formatv("flash_attn_{0}_hq{1}_hkv{2}_d{3}_dv{4}_bm{5}_bn{6}_"
                       "w{7}_s{8:x8}{9}",
                       typeTag(p.elementType), p.heads, p.kvHeads, p.headDim,
                       p.valueDim, p.blockM, p.blockN, p.numWarps,
                       llvm::bit_cast<uint32_t>(p.scale),
                       p.causal ? "_causal" : "")
      .str();
}

void buildFlashKernel(TileBuilder &tb, const FlashParams &p, ValueRange args) {
  using tile::ReduceKind;
  const int64_t BM = p.blockM, BN = p.blockN, D = p.headDim, DV = p.valueDim;
  Value qM = args[0], kM = args[1], vM = args[2], oM = args[3];
  Value mBlock = tb.programId(0), head = tb.programId(1),
        batch = tb.programId(2);
  int64_t group = p.heads / p.kvHeads;
  Value kvHead = group == 1 ? head : tb.divi(head, group);
  Value c0 = tb.index(0);
  Value m0 = tb.muli(mBlock, BM);
  Value keyCount = tb.dim(kM, 1);

  Value q = tb.load(qM, {batch, m0, head, c0}, {1, 3}, {BM, D});
  // Causal: the last query of this block sees keys up to m0 + BM - 1.
  Value keyEnd =
      p.causal ? tb.mini(keyCount, tb.addi(m0, tb.index(BM))) : keyCount;
  Value numBlocks = tb.ceilDiv(keyEnd, BN);

  Value rowMax0 = tb.constant(-INFINITY, {BM});
  Value rowSum0 = tb.constant(0.0, {BM});
  Value acc0 = tb.constant(0.0, {BM, DV});
  OpBuilder &b = tb.builder();
  auto loop = scf::ForOp::create(
      b, tb.getLoc(), c0, numBlocks, tb.index(1),
      ValueRange{rowMax0, rowSum0, acc0},
      [&](OpBuilder &nb, Location loc, Value j, ValueRange it) {
        TileBuilder t(nb, loc);
        Value rowMax = it[0], rowSum = it[1], acc = it[2];
        Value n0 = t.muli(j, BN);
        Value k = t.load(kM, {batch, n0, kvHead, c0}, {1, 3}, {BN, D});
        Value v = t.load(vM, {batch, n0, kvHead, c0}, {1, 3}, {BN, DV});
        Value s = t.mul(t.dot(q, k, t.constant(0.0, {BM, BN}), false, true),
                        static_cast<double>(p.scale));
        // Mask keys past the end and, when causal, after the query.
        Value keyIdx = arith::AddIOp::create(nb, loc, t.iota({BM, BN}, 1),
                                             t.splatIndexAsI32(n0, {BM, BN}));
        Value valid = t.cmpi(arith::CmpIPredicate::slt, keyIdx,
                             t.splatIndexAsI32(keyCount, {BM, BN}));
        if (p.causal) {
          Value queryIdx = arith::AddIOp::create(
              nb, loc, t.iota({BM, BN}, 0), t.splatIndexAsI32(m0, {BM, BN}));
          valid = t.andi(valid, t.cmpi(arith::CmpIPredicate::sle, keyIdx,
                                       queryIdx));
        }
        s = t.select(valid, s, t.constant(-INFINITY, {BM, BN}));

        // Online softmax. Column 0 of the first block is valid for every
        // row, so the running max is finite after the first step and
        // exp(-inf - finite) = 0 rescales the empty initial state.
        Value newMax = t.maximum(rowMax, t.reduce(ReduceKind::Max, s, 1));
        Value prob = t.exp(t.sub(s, t.broadcast(newMax, {0}, {BM, BN})));
        Value alpha = t.exp(t.sub(rowMax, newMax));
        Value newSum =
            t.add(t.mul(rowSum, alpha), t.reduce(ReduceKind::Sum, prob, 1));
        Value scaled = t.mul(acc, t.broadcast(alpha, {0}, {BM, DV}));
        Value newAcc = t.dot(t.castTo(prob, p.elementType), v, scaled);
        scf::YieldOp::create(nb, loc, ValueRange{newMax, newSum, newAcc});
      });
  Value out = tb.div(loop.getResult(2),
                     tb.broadcast(loop.getResult(1), {0}, {BM, DV}));
  tb.store(tb.castTo(out, p.elementType), oM, {batch, m0, head, c0}, {1, 3});
}

struct FlashAttentionPattern : OpRewritePattern<AttentionOp> {
  FlashAttentionPattern(MLIRContext *ctx, int64_t blockM, int64_t blockN,
                        int64_t numWarps)
      : OpRewritePattern(ctx), blockM(blockM), blockN(blockN),
        numWarps(numWarps) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType qT = op.getQ().getType(), kT = op.getK().getType(),
                     vT = op.getV().getType();
    FlashParams p;
    p.blockM = blockM;
    p.blockN = blockN;
    p.numWarps = numWarps;
    p.heads = qT.getDimSize(2);
    p.kvHeads = kT.getDimSize(2);
    p.headDim = qT.getDimSize(3);
    p.valueDim = vT.getDimSize(3);
    p.scale = static_cast<float>(op.getScale().convertToDouble());
    p.causal = op.getCausal();
    p.elementType = qT.getElementType();

    Location loc = op.getLoc();
    auto module = op->getParentOfType<ModuleOp>();
    SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV()};
    SmallVector<Type> argTypes;
    for (Value v : inputs)
      argTypes.push_back(memrefFor(cast<RankedTensorType>(v.getType())));
    argTypes.push_back(memrefFor(op.getType()));
    func::FuncOp kernel = getOrCreateKernel(
        rewriter, module, kernelName(p), argTypes, p.numWarps,
        [&](TileBuilder &tb, ValueRange args) { buildFlashKernel(tb, p, args); });

    auto dimOf = [&](Value v, int64_t d) -> Value {
      return tensor::DimOp::create(rewriter, loc, v, d);
    };
    Value batch = dimOf(op.getQ(), 0), queries = dimOf(op.getQ(), 1);
    // Causal attention needs as many keys as queries.
    Value keys = p.causal ? queries : dimOf(op.getK(), 1);
    auto dyn = [](RankedTensorType t, ArrayRef<Value> bySlot) {
      SmallVector<Value> dims;
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          dims.push_back(bySlot[d]);
      return dims;
    };
    SmallVector<SmallVector<Value>> inDims = {
        dyn(qT, {batch, queries, {}, {}}), dyn(kT, {batch, keys, {}, {}}),
        dyn(vT, {batch, keys, {}, {}})};
    SmallVector<SmallVector<Value>> outDims = {
        dyn(op.getType(), {batch, queries, {}, {}})};
    SmallVector<Value> grid = {
        arith::CeilDivUIOp::create(
            rewriter, loc, queries,
            arith::ConstantIndexOp::create(rewriter, loc, p.blockM)),
        arith::ConstantIndexOp::create(rewriter, loc, p.heads), batch};
    DispatchOp dispatch = createDispatch(rewriter, loc, kernel, grid, inputs,
                                         inDims, op->getResultTypes(), outDims);
    rewriter.replaceOp(op, dispatch.getResults());
    return success();
  }

  int64_t blockM, blockN, numWarps;
};

struct FlashAttentionPass
    : public hyla::impl::FlashAttentionBase<FlashAttentionPass> {
  using FlashAttentionBase::FlashAttentionBase;

  void runOnOperation() override {
    if (blockM < 1 || blockN < 1 || numWarps < 1) {
      getOperation().emitError() << "hyla-flash-attention: block-m, block-n "
                                    "and num-warps must be positive";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<FlashAttentionPattern>(&getContext(), blockM, blockN,
                                        numWarps);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
