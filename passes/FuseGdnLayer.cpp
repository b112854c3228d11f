//===- FuseGdnLayer.cpp - a GDN layer's neighbours into the delta rule ----===//
//
// Between the projections and the output projection a GDN layer is five
// elementwise or short-window ops around the delta rule: three short convs
// with SiLU, the gates and the gated RMSNorm. Run as kernels of their own
// they write and re-read q, k, v and o in memory (at T=8192 and Olmo's
// shapes about 0.4 GB of traffic); folded into hyla.gated_delta_rule, its
// chunk kernels apply them to the rows they load and store.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

namespace hyla {
#define GEN_PASS_DEF_FUSEGDNLAYER
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

/// `x` as expand_shape(causal_conv1d(raw) with SiLU), both used once; the
/// conv and its reassociation.
struct ConvProducer {
  CausalConv1DOp conv;
  tensor::ExpandShapeOp split;
};

std::optional<ConvProducer> convProducer(Value x) {
  auto split = x.getDefiningOp<tensor::ExpandShapeOp>();
  if (!split || !split->hasOneUse())
    return std::nullopt;
  auto conv = split.getSrc().getDefiningOp<CausalConv1DOp>();
  if (!conv || !conv->hasOneUse() || conv.getActivation() != "silu")
    return std::nullopt;
  return ConvProducer{conv, split};
}

/// The raw projection split into heads as `split` split the conv's result.
Value splitRaw(PatternRewriter &rw, ConvProducer p) {
  RankedTensorType rawT = p.conv.getInput().getType();
  RankedTensorType splitT = p.split.getResultType();
  auto type = RankedTensorType::get(splitT.getShape(), rawT.getElementType());
  return tensor::ExpandShapeOp::create(rw, p.split.getLoc(), type,
                                       p.conv.getInput(),
                                       p.split.getReassociationIndices(),
                                       p.split.getMixedOutputShape());
}

struct FoldConvsIntoDeltaRule : OpRewritePattern<GatedDeltaRuleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (op.hasConv() || op.getCuSeqlens())
      return rw.notifyMatchFailure(op, "has convs, or packed sequences");
    std::optional<ConvProducer> q = convProducer(op.getQ()),
                                k = convProducer(op.getK()),
                                v = convProducer(op.getV());
    if (!q || !k || !v)
      return rw.notifyMatchFailure(op, "q, k, v are not single-use convs");
    if (q->conv.getInput().getType() != k->conv.getInput().getType())
      return rw.notifyMatchFailure(op, "q and k convs read different types");
    Value rq = splitRaw(rw, *q), rk = splitRaw(rw, *k), rv = splitRaw(rw, *v);
    rw.modifyOpInPlace(op, [&] {
      op.getQMutable().assign(rq);
      op.getKMutable().assign(rk);
      op.getVMutable().assign(rv);
      op.getQConvWeightMutable().assign(q->conv.getWeight());
      op.getKConvWeightMutable().assign(k->conv.getWeight());
      op.getVConvWeightMutable().assign(v->conv.getWeight());
    });
    for (ConvProducer p : {*q, *k, *v}) {
      rw.eraseOp(p.split);
      rw.eraseOp(p.conv);
    }
    return success();
  }
};

struct FoldGatesIntoDeltaRule : OpRewritePattern<GatedDeltaRuleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (op.hasGates() || op.getCuSeqlens())
      return rw.notifyMatchFailure(op, "has gates, or packed sequences");
    auto gates = op.getG().getDefiningOp<GdnGatesOp>();
    if (!gates || op.getBeta() != gates.getBeta() ||
        !gates.getG().hasOneUse() || !gates.getBeta().hasOneUse())
      return rw.notifyMatchFailure(op, "g and beta are not one gates op's");
    rw.modifyOpInPlace(op, [&] {
      op.getGMutable().assign(gates.getA());
      op.getBetaMutable().assign(gates.getB());
      op.getALogMutable().assign(gates.getALog());
      op.getDtBiasMutable().assign(gates.getDtBias());
      op.setBetaScaleAttr(gates.getBetaScaleAttr());
    });
    rw.eraseOp(gates);
    return success();
  }
};

struct FoldOutputNormIntoDeltaRule : OpRewritePattern<GatedDeltaRuleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (op.hasOutputNorm() || !op.getO().hasOneUse())
      return rw.notifyMatchFailure(op, "has an output norm, or o is shared");
    auto norm = dyn_cast<GatedRMSNormOp>(*op.getO().getUsers().begin());
    if (!norm || norm.getInput() != op.getO() ||
        norm.getType() != op.getO().getType())
      return rw.notifyMatchFailure(op, "o does not feed a gated RMSNorm");
    // The gate and weight (often projected after the delta rule) must be
    // defined before it: move their producers up, or give up.
    if (failed(moveValueDefinitions(rw, {norm.getGate(), norm.getWeight()},
                                    op)))
      return rw.notifyMatchFailure(op, "gate or weight cannot move above it");
    rw.modifyOpInPlace(op, [&] {
      op.getOutputGateMutable().assign(norm.getGate());
      op.getOutputNormWeightMutable().assign(norm.getWeight());
      op.setOutputNormEpsilonAttr(norm.getEpsilonAttr());
    });
    rw.replaceOp(norm, op.getO());
    return success();
  }
};

struct FuseGdnLayerPass
    : public hyla::impl::FuseGdnLayerBase<FuseGdnLayerPass> {
  using FuseGdnLayerBase::FuseGdnLayerBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (prologue)
      patterns.add<FoldConvsIntoDeltaRule, FoldGatesIntoDeltaRule>(
          &getContext());
    if (outputNorm)
      patterns.add<FoldOutputNormIntoDeltaRule>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
