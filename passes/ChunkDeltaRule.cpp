//===- ChunkDeltaRule.cpp - chunked (WY/UT) gated delta rule --------------===//
//
// Rewrites hyla.gated_delta_rule into tile kernels that walk the tokens in
// chunks. Within a chunk of C tokens starting from state S ([K, V] in f32),
// with gc = cumsum(g) and Gamma[i, j] = exp(gc[i] - gc[j]) for i >= j:
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
// Only S' depends on the previous chunk. By default the rewrite uses three
// kernels so that everything else runs in parallel over chunks:
//   prep   (chunk, head, batch):        W, U
//   state  (value block, head, batch):  sequential over chunks: D, the state
//                                       at every chunk start (f32), final S
//   output (chunk, head, batch x value block): O
// With parallel-chunks=false, one kernel does all of it chunk after chunk.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

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
  std::optional<double> normEps; // q and k L2-normalized as loaded
  bool hasInitialState;
  Type inputType, valueType, outputType;

  int64_t group() const { return valueHeads / heads; }
  int64_t valueBlocks() const { return valueDim / blockV; }
  /// The parameters every kernel name carries.
  std::string tag() const {
    return llvm::formatv("{0}_{1}_h{2}_hv{3}_k{4}_v{5}_c{6}{7}",
                         typeTag(inputType), typeTag(valueType), heads,
                         valueHeads, keyDim, valueDim, chunk,
                         normEps ? "_l2e" + floatTag(*normEps) : "")
        .str();
  }
};

//===----------------------------------------------------------------------===//
// Chunk math shared by the kernels
//===----------------------------------------------------------------------===//

/// The chunk's log decays g (padding tokens load as 0: decay 1) and their
/// cumulative sum.
Value chunkCumDecay(TileBuilder &tb, Value gM, Value batch, Value t0,
                    Value head, int64_t chunk) {
  return tb.cumsum(tb.load(gM, {batch, t0, head}, {1}, {chunk}), 0);
}

/// exp(gc[i] - gc[j]) for i >= j, else 0 (`strict`: i > j).
struct DecayMatrices {
  Value inclusive, strict;
};

DecayMatrices decayMatrices(TileBuilder &tb, Value gc, int64_t c) {
  Value row = tb.iota({c, c}, 0), col = tb.iota({c, c}, 1);
  Value lowerIncl = tb.cmpi(arith::CmpIPredicate::sge, row, col);
  Value lowerStrict = tb.cmpi(arith::CmpIPredicate::sgt, row, col);
  Value zero = tb.constant(0.0, {c, c});
  Value diff = tb.sub(tb.broadcast(gc, {0}, {c, c}), tb.broadcast(gc, {1}, {c, c}));
  // Masked before the exp: above the diagonal the difference is positive.
  Value incl =
      tb.select(lowerIncl, tb.exp(tb.select(lowerIncl, diff, zero)), zero);
  return {incl, tb.select(lowerStrict, incl, zero)};
}

/// X = (I + diag(beta) (K K^T * Gamma_strict))^-1.
Value utInverse(TileBuilder &tb, Value k, Value beta, Value decayStrict,
                int64_t c) {
  Value zero = tb.constant(0.0, {c, c});
  Value kk = tb.dot(k, k, zero, /*transposeA=*/false, /*transposeB=*/true);
  Value a = tb.mul(tb.mul(kk, decayStrict), tb.broadcast(beta, {0}, {c, c}));
  return tb.unitLowerInverse(a);
}

/// S' = exp(gc_last) S + (diag(exp(gc_last - gc)) K)^T D. Padding tokens have
/// g = 0, so gc[C-1] is the cumulative decay up to the last real token.
Value nextState(TileBuilder &tb, Value state, Value k, Value d, Value gc,
                int64_t c, int64_t kDim, int64_t bv) {
  Value gLast = tb.extract(gc, {c - 1});
  Value kDecay = tb.exp(tb.sub(tb.splat(gLast, {c}), gc));
  Value kDecayed = tb.mul(k, tb.broadcast(kDecay, {0}, {c, kDim}));
  Value stateDecay = tb.splat(
      math::ExpOp::create(tb.builder(), tb.getLoc(), gLast), {kDim, bv});
  Value update = tb.dot(kDecayed, d, tb.constant(0.0, {kDim, bv}),
                        /*transposeA=*/true, /*transposeB=*/false);
  return tb.add(tb.mul(state, stateDecay), update);
}

/// O = scale (diag(exp(gc)) Q S + (Q K^T * Gamma_incl) D).
Value chunkOutput(TileBuilder &tb, const ChunkParams &p, Value q, Value k,
                  Value state, Value d, Value gc, Value decayIncl) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  Value qs = tb.mul(q, static_cast<double>(p.scale));
  Value qDecayed = tb.mul(qs, tb.broadcast(tb.exp(gc), {0}, {C, K}));
  Value oInter = tb.dot(qDecayed, state, tb.constant(0.0, {C, BV}));
  Value qk = tb.mul(tb.dot(qs, k, tb.constant(0.0, {C, C}), false, true),
                    decayIncl);
  return tb.dot(qk, d, oInter);
}

/// A chunk of q or k rows in f32, L2-normalized when the norms are fused
/// (padding rows are zero and stay zero).
Value loadKeys(TileBuilder &tb, const ChunkParams &p, Value m, Value batch,
               Value t0, Value keyHead) {
  Value x = tb.toF32(tb.load(m, {batch, t0, keyHead, tb.index(0)}, {1, 3},
                             {p.chunk, p.keyDim}));
  if (!p.normEps)
    return x;
  Value ss = tb.reduce(tile::ReduceKind::Sum, tb.mul(x, x), 1);
  Value inv = tb.rsqrt(tb.add(ss, tb.constant(*p.normEps, {p.chunk})));
  return tb.mul(x, tb.broadcast(inv, {0}, {p.chunk, p.keyDim}));
}

Value keyHeadOf(TileBuilder &tb, const ChunkParams &p, Value head) {
  return p.group() == 1 ? head : tb.divi(head, p.group());
}

//===----------------------------------------------------------------------===//
// One kernel, chunk after chunk
//===----------------------------------------------------------------------===//

// Arguments: q, k, v, g, beta, [h0], o, final.
void buildFusedKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  Value qM = args[0], kM = args[1], vM = args[2], gM = args[3], betaM = args[4];
  Value oM = args[p.hasInitialState ? 6 : 5];
  Value finalM = args[p.hasInitialState ? 7 : 6];
  Value vBlock = tb.programId(0), head = tb.programId(1),
        batch = tb.programId(2);
  Value keyHead = keyHeadOf(tb, p, head);
  Value v0 = tb.muli(vBlock, BV);
  Value c0 = tb.index(0);
  Value init = p.hasInitialState
                   ? tb.load(args[5], {batch, head, c0, v0}, {2, 3}, {K, BV})
                   : tb.constant(0.0, {K, BV});
  Value numChunks = tb.ceilDiv(tb.dim(qM, 1), C);
  auto loop = scf::ForOp::create(
      tb.builder(), tb.getLoc(), c0, numChunks, tb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value chunk, ValueRange it) {
        TileBuilder t(nb, loc);
        Value state = it[0];
        Value t0 = t.muli(chunk, C);
        // Tokens past the end load as zeros: zero keys, values, betas and
        // log decays, which leave the state unchanged.
        Value q = loadKeys(t, p, qM, batch, t0, keyHead);
        Value k = loadKeys(t, p, kM, batch, t0, keyHead);
        Value v = t.toF32(t.load(vM, {batch, t0, head, v0}, {1, 3}, {C, BV}));
        Value beta = t.load(betaM, {batch, t0, head}, {1}, {C});
        Value gc = chunkCumDecay(t, gM, batch, t0, head, C);
        DecayMatrices decay = decayMatrices(t, gc, C);
        Value x = utInverse(t, k, beta, decay.strict, C);
        Value kScaled =
            t.mul(k, t.broadcast(t.mul(beta, t.exp(gc)), {0}, {C, K}));
        Value w = t.dot(x, kScaled, t.constant(0.0, {C, K}));
        Value u = t.dot(x, t.mul(v, t.broadcast(beta, {0}, {C, BV})),
                        t.constant(0.0, {C, BV}));
        Value d = t.sub(u, t.dot(w, state, t.constant(0.0, {C, BV})));
        Value o = chunkOutput(t, p, q, k, state, d, gc, decay.inclusive);
        t.store(t.castTo(o, p.outputType), oM, {batch, t0, head, v0}, {1, 3});
        scf::YieldOp::create(nb, loc,
                             nextState(t, state, k, d, gc, C, K, BV));
      });
  tb.store(loop.getResult(0), finalM, {batch, head, c0, v0}, {2, 3});
}

//===----------------------------------------------------------------------===//
// Three kernels, parallel over chunks where the math allows
//===----------------------------------------------------------------------===//

// prep: k, v, g, beta -> W [B, T, HV, K], U [B, T, HV, V] (f32).
void buildPrepKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, V = p.valueDim;
  Value kM = args[0], vM = args[1], gM = args[2], betaM = args[3],
        wM = args[4], uM = args[5];
  Value chunk = tb.programId(0), head = tb.programId(1),
        batch = tb.programId(2);
  Value c0 = tb.index(0);
  Value t0 = tb.muli(chunk, C);
  Value k = loadKeys(tb, p, kM, batch, t0, keyHeadOf(tb, p, head));
  Value v = tb.toF32(tb.load(vM, {batch, t0, head, c0}, {1, 3}, {C, V}));
  Value beta = tb.load(betaM, {batch, t0, head}, {1}, {C});
  Value gc = chunkCumDecay(tb, gM, batch, t0, head, C);
  DecayMatrices decay = decayMatrices(tb, gc, C);
  Value x = utInverse(tb, k, beta, decay.strict, C);
  Value kScaled =
      tb.mul(k, tb.broadcast(tb.mul(beta, tb.exp(gc)), {0}, {C, K}));
  Value w = tb.dot(x, kScaled, tb.constant(0.0, {C, K}));
  Value u = tb.dot(x, tb.mul(v, tb.broadcast(beta, {0}, {C, V})),
                   tb.constant(0.0, {C, V}));
  tb.store(w, wM, {batch, t0, head, c0}, {1, 3});
  tb.store(u, uM, {batch, t0, head, c0}, {1, 3});
}

// state: W, U, k, g, [h0] -> D [B, T, HV, V], states [B, NC, HV, K, V],
// final [B, HV, K, V] (all f32).
void buildStateKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  unsigned n = p.hasInitialState ? 5 : 4;
  Value wM = args[0], uM = args[1], kM = args[2], gM = args[3];
  Value dM = args[n], statesM = args[n + 1], finalM = args[n + 2];
  Value vBlock = tb.programId(0), head = tb.programId(1),
        batch = tb.programId(2);
  Value keyHead = keyHeadOf(tb, p, head);
  Value v0 = tb.muli(vBlock, BV);
  Value c0 = tb.index(0);
  Value init = p.hasInitialState
                   ? tb.load(args[4], {batch, head, c0, v0}, {2, 3}, {K, BV})
                   : tb.constant(0.0, {K, BV});
  Value numChunks = tb.ceilDiv(tb.dim(kM, 1), C);
  auto loop = scf::ForOp::create(
      tb.builder(), tb.getLoc(), c0, numChunks, tb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value chunk, ValueRange it) {
        TileBuilder t(nb, loc);
        Value state = it[0];
        Value t0 = t.muli(chunk, C);
        // The next chunk's inputs do not depend on the state: start moving
        // them while this chunk's products run.
        Value t1 = t.addi(t0, t.index(C));
        t.prefetch(wM, {batch, t1, head, c0}, {1, 3}, {C, K});
        t.prefetch(uM, {batch, t1, head, v0}, {1, 3}, {C, BV});
        t.prefetch(kM, {batch, t1, keyHead, c0}, {1, 3}, {C, K});
        t.store(state, statesM, {batch, chunk, head, c0, v0}, {3, 4});
        Value w = t.load(wM, {batch, t0, head, c0}, {1, 3}, {C, K});
        Value u = t.load(uM, {batch, t0, head, v0}, {1, 3}, {C, BV});
        Value k = loadKeys(t, p, kM, batch, t0, keyHead);
        Value gc = chunkCumDecay(t, gM, batch, t0, head, C);
        Value d = t.sub(u, t.dot(w, state, t.constant(0.0, {C, BV})));
        t.store(d, dM, {batch, t0, head, v0}, {1, 3});
        scf::YieldOp::create(nb, loc, nextState(t, state, k, d, gc, C, K, BV));
      });
  tb.store(loop.getResult(0), finalM, {batch, head, c0, v0}, {2, 3});
}

// output: q, k, g, D, states -> O [B, T, HV, V] (the value type).
void buildOutputKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  Value qM = args[0], kM = args[1], gM = args[2], dM = args[3],
        statesM = args[4], oM = args[5];
  Value chunk = tb.programId(0), head = tb.programId(1);
  Value z = tb.programId(2);
  Value batch = tb.divi(z, p.valueBlocks());
  Value v0 = tb.muli(arith::RemUIOp::create(tb.builder(), tb.getLoc(), z,
                                            tb.index(p.valueBlocks())),
                     BV);
  Value keyHead = keyHeadOf(tb, p, head);
  Value c0 = tb.index(0);
  Value t0 = tb.muli(chunk, C);
  Value q = loadKeys(tb, p, qM, batch, t0, keyHead);
  Value k = loadKeys(tb, p, kM, batch, t0, keyHead);
  Value gc = chunkCumDecay(tb, gM, batch, t0, head, C);
  Value state = tb.load(statesM, {batch, chunk, head, c0, v0}, {3, 4}, {K, BV});
  Value d = tb.load(dM, {batch, t0, head, v0}, {1, 3}, {C, BV});
  Value o = chunkOutput(tb, p, q, k, state, d, gc,
                        decayMatrices(tb, gc, C).inclusive);
  tb.store(tb.castTo(o, p.outputType), oM, {batch, t0, head, v0}, {1, 3});
}

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

struct ChunkDeltaRulePattern : OpRewritePattern<GatedDeltaRuleOp> {
  ChunkDeltaRulePattern(MLIRContext *ctx, int64_t chunk, int64_t blockV,
                        int64_t numWarps, bool parallelChunks)
      : OpRewritePattern(ctx), chunk(chunk), blockV(blockV),
        numWarps(numWarps), parallelChunks(parallelChunks) {}

  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
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
    if (std::optional<APFloat> eps = op.getQkL2normEpsilon())
      p.normEps = eps->convertToDouble();
    p.hasInitialState = static_cast<bool>(op.getInitialState());
    p.inputType = qT.getElementType();
    p.valueType = vT.getElementType();
    p.outputType = op.getO().getType().getElementType();

    Location loc = op.getLoc();
    Value batch = tensor::DimOp::create(rw, loc, op.getQ(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getQ(), 1);
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    // Dynamic sizes of a [B, T, ...] token tensor and a [B, ...] state.
    auto tokenDims = [&](Type t) {
      SmallVector<Value> dims;
      auto rt = cast<RankedTensorType>(t);
      if (rt.isDynamicDim(0))
        dims.push_back(batch);
      if (rt.isDynamicDim(1))
        dims.push_back(tokens);
      return dims;
    };
    auto batchDims = [&](Type t) {
      SmallVector<Value> dims;
      if (cast<RankedTensorType>(t).isDynamicDim(0))
        dims.push_back(batch);
      return dims;
    };
    auto kernel = [&](StringRef name, ArrayRef<Value> inputs,
                      TypeRange results, auto build) {
      SmallVector<Type> argTypes;
      for (Value v : inputs)
        argTypes.push_back(memrefFor(cast<RankedTensorType>(v.getType())));
      for (Type t : results)
        argTypes.push_back(memrefFor(cast<RankedTensorType>(t)));
      return getOrCreateKernel(
          rw, op->getParentOfType<ModuleOp>(), name, argTypes, p.numWarps,
          [&](TileBuilder &tb, ValueRange args) { build(tb, p, args); });
    };
    std::string h0 = p.hasInitialState ? "_h0" : "";
    std::string sc =
        llvm::formatv("_s{0:x8}", llvm::bit_cast<uint32_t>(p.scale)).str();
    std::string bv = "_bv" + std::to_string(p.blockV);
    std::string w = "_w" + std::to_string(p.numWarps);

    if (!parallelChunks) {
      SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV(), op.getG(),
                                   op.getBeta()};
      if (p.hasInitialState)
        inputs.push_back(op.getInitialState());
      func::FuncOp k = kernel("gdn_chunk_" + p.tag() + "_" +
                                  typeTag(p.outputType) + bv + w + sc + h0,
                              inputs, op->getResultTypes(), buildFusedKernel);
      SmallVector<SmallVector<Value>> inDims;
      for (Value v : inputs)
        inDims.push_back(v == op.getInitialState() ? batchDims(v.getType())
                                                   : tokenDims(v.getType()));
      DispatchOp d = createDispatch(
          rw, loc, k, {idx(p.valueBlocks()), idx(p.valueHeads), batch}, inputs,
          inDims, op->getResultTypes(),
          {tokenDims(op.getO().getType()),
           batchDims(op.getFinalState().getType())});
      rw.replaceOp(op, d.getResults());
      return success();
    }

    MLIRContext *ctx = rw.getContext();
    Type f32 = Float32Type::get(ctx);
    int64_t dyn = ShapedType::kDynamic;
    auto perToken = [&](int64_t dim) {
      return RankedTensorType::get({dyn, dyn, p.valueHeads, dim}, f32);
    };
    Value numChunks = arith::CeilDivUIOp::create(rw, loc, tokens, idx(p.chunk));

    // prep
    SmallVector<Value> prepIn = {op.getK(), op.getV(), op.getG(), op.getBeta()};
    SmallVector<Type> prepOut = {perToken(p.keyDim), perToken(p.valueDim)};
    func::FuncOp prep = kernel("gdn_prep_" + p.tag() + w, prepIn, prepOut,
                               buildPrepKernel);
    SmallVector<SmallVector<Value>> prepInDims;
    for (Value v : prepIn)
      prepInDims.push_back(tokenDims(v.getType()));
    DispatchOp prepD = createDispatch(
        rw, loc, prep, {numChunks, idx(p.valueHeads), batch}, prepIn,
        prepInDims, prepOut, {tokenDims(prepOut[0]), tokenDims(prepOut[1])});

    // state
    SmallVector<Value> stateIn = {prepD.getResult(0), prepD.getResult(1),
                                  op.getK(), op.getG()};
    if (p.hasInitialState)
      stateIn.push_back(op.getInitialState());
    auto statesT = RankedTensorType::get(
        {dyn, dyn, p.valueHeads, p.keyDim, p.valueDim}, f32);
    SmallVector<Type> stateOut = {perToken(p.valueDim), statesT,
                                  op.getFinalState().getType()};
    func::FuncOp state = kernel("gdn_state_" + p.tag() + bv + w + h0, stateIn,
                                stateOut, buildStateKernel);
    SmallVector<SmallVector<Value>> stateInDims;
    for (Value v : stateIn)
      stateInDims.push_back(v == op.getInitialState() ? batchDims(v.getType())
                                                      : tokenDims(v.getType()));
    DispatchOp stateD = createDispatch(
        rw, loc, state, {idx(p.valueBlocks()), idx(p.valueHeads), batch},
        stateIn, stateInDims, stateOut,
        {tokenDims(stateOut[0]), {batch, numChunks}, batchDims(stateOut[2])});

    // output
    SmallVector<Value> outIn = {op.getQ(), op.getK(), op.getG(),
                                stateD.getResult(0), stateD.getResult(1)};
    func::FuncOp out =
        kernel("gdn_output_" + p.tag() + "_" + typeTag(p.outputType) + bv + w +
                   sc,
               outIn, {op.getO().getType()}, buildOutputKernel);
    SmallVector<SmallVector<Value>> outInDims = {
        tokenDims(outIn[0].getType()), tokenDims(outIn[1].getType()),
        tokenDims(outIn[2].getType()), tokenDims(outIn[3].getType()),
        {batch, numChunks}};
    Value batchBlocks =
        arith::MulIOp::create(rw, loc, batch, idx(p.valueBlocks()));
    DispatchOp outD = createDispatch(
        rw, loc, out, {numChunks, idx(p.valueHeads), batchBlocks}, outIn,
        outInDims, {op.getO().getType()}, {tokenDims(op.getO().getType())});
    rw.replaceOp(op, {outD.getResult(0), stateD.getResult(2)});
    return success();
  }

  int64_t chunk, blockV, numWarps;
  bool parallelChunks;
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
                                        numWarps, parallelChunks);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
