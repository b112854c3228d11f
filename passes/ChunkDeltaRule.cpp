//===- ChunkDeltaRule.cpp - chunked (WY/UT) gated delta rule --------------===//
//
// Rewrites hyla.gated_delta_rule into one tile kernel that walks the tokens
// chunk by chunk. Within a chunk of C tokens starting from state S (per
// value block, [K, BV] in f32), with gc = cumsum(g) and
// Gamma[i, j] = exp(gc[i] - gc[j]) for i >= j:
//
//   A = diag(beta) (K K^T * Gamma), strictly lower
//   X = (I + A)^-1                      (forward substitution)
//   W = X diag(beta * exp(gc)) K        U = X diag(beta) V
//   D = U - W S                         (the corrected values)
//   O = scale * (diag(exp(gc)) Q S + (Q K^T * Gamma, incl. diagonal) D)
//   S' = exp(gc[C-1]) S + (diag(exp(gc[C-1] - gc)) K)^T D
//
// which is the recurrence S = exp(g) S; S += k beta (v - S^T k)^T unrolled
// over the chunk. Every decay factor is exp of a non-positive number, masked
// before the exp, so g down to any negative value gives no inf or NaN.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/bit.h"

namespace hyla {
#define GEN_PASS_DEF_CHUNKDELTARULE
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

struct ChunkParams {
  int64_t chunk, blockV, numWarps;
  int64_t heads, valueHeads, keyDim, valueDim;
  float scale;
  bool hasInitialState;
  Type inputType, outputType;
};

/// The kernel name encodes every parameter the body depends on.
std::string kernelName(const ChunkParams &p) {
  return llvm::formatv("gdn_chunk_{0}_{1}_h{2}_hv{3}_k{4}_v{5}_c{6}_bv{7}_"
                       "w{8}_s{9:x8}{10}",
                       typeTag(p.inputType), typeTag(p.outputType), p.heads,
                       p.valueHeads, p.keyDim, p.valueDim, p.chunk, p.blockV,
                       p.numWarps, llvm::bit_cast<uint32_t>(p.scale),
                       p.hasInitialState ? "_h0" : "")
      .str();
}

/// One chunk step: consumes the state at the chunk start, stores the chunk's
/// outputs, returns the state at the chunk end.
Value buildChunkStep(TileBuilder &tb, const ChunkParams &p, ValueRange args,
                     Value state, Value chunkIndex, Value batch, Value head,
                     Value keyHead, Value v0) {
  using tile::ReduceKind;
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  Value qM = args[0], kM = args[1], vM = args[2], gM = args[3],
        betaM = args[4];
  Value oM = args[p.hasInitialState ? 6 : 5];
  Value c0 = tb.index(0);
  Value t0 = tb.muli(chunkIndex, C);

  // Tokens past the end load as zeros: zero keys, values, betas and log
  // decays, which leave the state unchanged.
  Value q = tb.toF32(tb.load(qM, {batch, t0, keyHead, c0}, {1, 3}, {C, K}));
  Value k = tb.toF32(tb.load(kM, {batch, t0, keyHead, c0}, {1, 3}, {C, K}));
  Value v = tb.toF32(tb.load(vM, {batch, t0, head, v0}, {1, 3}, {C, BV}));
  Value g = tb.load(gM, {batch, t0, head}, {1}, {C});
  Value beta = tb.load(betaM, {batch, t0, head}, {1}, {C});

  // In-chunk cumulative log decay and the decay matrices.
  Value gc = tb.cumsum(g, 0);
  Value row = tb.iota({C, C}, 0), col = tb.iota({C, C}, 1);
  Value lowerIncl = tb.cmpi(arith::CmpIPredicate::sge, row, col);
  Value lowerStrict = tb.cmpi(arith::CmpIPredicate::sgt, row, col);
  Value zeroCC = tb.constant(0.0, {C, C});
  Value diff = tb.sub(tb.broadcast(gc, {0}, {C, C}), tb.broadcast(gc, {1}, {C, C}));
  Value decayIncl =
      tb.select(lowerIncl, tb.exp(tb.select(lowerIncl, diff, zeroCC)), zeroCC);
  Value decayStrict = tb.select(lowerStrict, decayIncl, zeroCC);

  // UT transform.
  Value kk = tb.dot(k, k, zeroCC, /*transposeA=*/false, /*transposeB=*/true);
  Value a = tb.mul(tb.mul(kk, decayStrict), tb.broadcast(beta, {0}, {C, C}));
  Value x = tb.unitLowerInverse(a);
  Value expGc = tb.exp(gc);
  Value kScaled =
      tb.mul(k, tb.broadcast(tb.mul(beta, expGc), {0}, {C, K}));
  Value vScaled = tb.mul(v, tb.broadcast(beta, {0}, {C, BV}));
  Value w = tb.dot(x, kScaled, tb.constant(0.0, {C, K}));
  Value u = tb.dot(x, vScaled, tb.constant(0.0, {C, BV}));
  Value d = tb.sub(u, tb.dot(w, state, tb.constant(0.0, {C, BV})));

  // Outputs: the state's contribution plus the causal in-chunk part.
  Value qs = tb.mul(q, static_cast<double>(p.scale));
  Value qDecayed = tb.mul(qs, tb.broadcast(expGc, {0}, {C, K}));
  Value oInter = tb.dot(qDecayed, state, tb.constant(0.0, {C, BV}));
  Value qk = tb.mul(tb.dot(qs, k, zeroCC, false, true), decayIncl);
  Value o = tb.dot(qk, d, oInter);
  tb.store(tb.castTo(o, p.outputType), oM, {batch, t0, head, v0}, {1, 3});

  // State at the chunk end. Padding tokens have g = 0, so gc[C-1] is the
  // cumulative decay up to the last real token.
  Value gLast = tb.extract(gc, {C - 1});
  Value kDecay = tb.exp(tb.sub(tb.splat(gLast, {C}), gc));
  Value kDecayed = tb.mul(k, tb.broadcast(kDecay, {0}, {C, K}));
  Value stateDecay =
      tb.splat(math::ExpOp::create(tb.builder(), tb.getLoc(), gLast), {K, BV});
  Value update = tb.dot(kDecayed, d, tb.constant(0.0, {K, BV}),
                        /*transposeA=*/true, /*transposeB=*/false);
  return tb.add(tb.mul(state, stateDecay), update);
}

void buildChunkKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t K = p.keyDim, BV = p.blockV;
  Value qM = args[0];
  Value finalM = args[p.hasInitialState ? 7 : 6];
  Value vBlock = tb.programId(0), head = tb.programId(1),
        batch = tb.programId(2);
  int64_t group = p.valueHeads / p.heads;
  Value keyHead = group == 1 ? head : tb.divi(head, group);
  Value v0 = tb.muli(vBlock, BV);
  Value c0 = tb.index(0);

  Value init = p.hasInitialState
                   ? tb.load(args[5], {batch, head, c0, v0}, {2, 3}, {K, BV})
                   : tb.constant(0.0, {K, BV});
  Value numChunks = tb.ceilDiv(tb.dim(qM, 1), p.chunk);
  OpBuilder &b = tb.builder();
  auto loop = scf::ForOp::create(
      b, tb.getLoc(), c0, numChunks, tb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value iv, ValueRange iterArgs) {
        TileBuilder inner(nb, loc);
        Value next = buildChunkStep(inner, p, args, iterArgs[0], iv, batch,
                                    head, keyHead, v0);
        scf::YieldOp::create(nb, loc, next);
      });
  tb.store(loop.getResult(0), finalM, {batch, head, c0, v0}, {2, 3});
}

struct ChunkDeltaRulePattern : OpRewritePattern<GatedDeltaRuleOp> {
  ChunkDeltaRulePattern(MLIRContext *ctx, int64_t chunk, int64_t blockV,
                        int64_t numWarps)
      : OpRewritePattern(ctx), chunk(chunk), blockV(blockV),
        numWarps(numWarps) {}

  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType qT = op.getQ().getType(), vT = op.getV().getType();
    ChunkParams p;
    p.chunk = chunk;
    p.numWarps = numWarps;
    p.heads = qT.getDimSize(2);
    p.keyDim = qT.getDimSize(3);
    p.valueHeads = vT.getDimSize(2);
    p.valueDim = vT.getDimSize(3);
    // The value block must divide V; fall back to the whole of V.
    p.blockV = (blockV > 0 && p.valueDim % blockV == 0) ? blockV : p.valueDim;
    p.scale = static_cast<float>(op.getScale().convertToDouble());
    p.hasInitialState = static_cast<bool>(op.getInitialState());
    p.inputType = qT.getElementType();
    p.outputType = op.getO().getType().getElementType();

    Location loc = op.getLoc();
    auto module = op->getParentOfType<ModuleOp>();
    SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV(), op.getG(),
                                 op.getBeta()};
    if (p.hasInitialState)
      inputs.push_back(op.getInitialState());
    SmallVector<Type> argTypes;
    for (Value v : inputs)
      argTypes.push_back(memrefFor(cast<RankedTensorType>(v.getType())));
    for (Type t : op->getResultTypes())
      argTypes.push_back(memrefFor(cast<RankedTensorType>(t)));
    func::FuncOp kernel = getOrCreateKernel(
        rewriter, module, kernelName(p), argTypes, p.numWarps,
        [&](TileBuilder &tb, ValueRange args) { buildChunkKernel(tb, p, args); });

    // Batch and token counts come from q; every other operand must agree.
    auto dimOf = [&](Value v, int64_t d) -> Value {
      return tensor::DimOp::create(rewriter, loc, v, d);
    };
    Value batch = dimOf(op.getQ(), 0), tokens = dimOf(op.getQ(), 1);
    auto dyn = [&](RankedTensorType t, ArrayRef<Value> bySlot) {
      SmallVector<Value> dims;
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (t.isDynamicDim(d))
          dims.push_back(bySlot[d]);
      return dims;
    };
    SmallVector<SmallVector<Value>> inDims;
    for (Value v : inputs) {
      auto t = cast<RankedTensorType>(v.getType());
      // Token tensors are [B, T, ...]; the state is [B, HV, K, V].
      bool isState = p.hasInitialState && v == op.getInitialState();
      inDims.push_back(isState ? dyn(t, {batch, {}, {}, {}})
                               : dyn(t, {batch, tokens, {}, {}}));
    }
    SmallVector<SmallVector<Value>> outDims = {
        dyn(op.getO().getType(), {batch, tokens, {}, {}}),
        dyn(op.getFinalState().getType(), {batch, {}, {}, {}})};
    SmallVector<Value> grid = {
        arith::ConstantIndexOp::create(rewriter, loc, p.valueDim / p.blockV),
        arith::ConstantIndexOp::create(rewriter, loc, p.valueHeads), batch};
    DispatchOp dispatch =
        createDispatch(rewriter, loc, kernel, grid, inputs, inDims,
                       op->getResultTypes(), outDims);
    rewriter.replaceOp(op, dispatch.getResults());
    return success();
  }

  int64_t chunk, blockV, numWarps;
};

struct ChunkDeltaRulePass
    : public hyla::impl::ChunkDeltaRuleBase<ChunkDeltaRulePass> {
  using ChunkDeltaRuleBase::ChunkDeltaRuleBase;

  void runOnOperation() override {
    if (chunkSize < 1 || blockV < 1 || numWarps < 1) {
      getOperation().emitError()
          << "hyla-chunk-delta-rule: chunk-size, block-v and num-warps must "
             "be positive";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<ChunkDeltaRulePattern>(&getContext(), chunkSize, blockV,
                                        numWarps);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
