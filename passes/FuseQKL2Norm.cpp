//===- FuseQKL2Norm.cpp - q/k L2 norms into the delta rule ----------------===//
//
// Separate L2-norm kernels for q and k are two more launches and two round
// trips through memory (in f32, twice the bytes of a bf16 input) for rows
// the delta-rule kernels load anyway, so the norms become an attribute of
// hyla.gated_delta_rule(_cached) and its kernels apply them as they load q
// and k: in registers for decode, per chunk row in prefill. Prefill only
// with `prefill=true`: there it measured slower at Olmo's head shape.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_FUSEQKL2NORM
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

/// The L2 norm producing `v` when it only feeds the delta rule and does not
/// round below f32 (the kernel normalizes in f32 and does not round, so
/// reading the norm's input instead changes no result).
L2NormOp foldableNorm(Value v) {
  auto norm = v.getDefiningOp<L2NormOp>();
  if (!norm || !norm->hasOneUse())
    return nullptr;
  Type in = norm.getInput().getType().getElementType(),
       out = norm.getType().getElementType();
  if (out != in && !out.isF32())
    return nullptr;
  return norm;
}

/// For hyla.gated_delta_rule and hyla.gated_delta_rule_cached alike.
template <typename DeltaRuleOp>
struct FoldNormsIntoDeltaRule : OpRewritePattern<DeltaRuleOp> {
  using OpRewritePattern<DeltaRuleOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(DeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (op.getQkL2normEpsilon())
      return rw.notifyMatchFailure(op, "already normalizes q and k");
    L2NormOp qNorm = foldableNorm(op.getQ()), kNorm = foldableNorm(op.getK());
    if (!qNorm || !kNorm || qNorm == kNorm)
      return rw.notifyMatchFailure(op, "q and k are not foldable L2 norms");
    if (qNorm.getEpsilon() != kNorm.getEpsilon())
      return rw.notifyMatchFailure(op, "q and k norms differ in epsilon");
    if (qNorm.getInput().getType() != kNorm.getInput().getType())
      return rw.notifyMatchFailure(op, "q and k norms read different types");
    rw.modifyOpInPlace(op, [&] {
      op.getQMutable().assign(qNorm.getInput());
      op.getKMutable().assign(kNorm.getInput());
      op.setQkL2normEpsilonAttr(qNorm.getEpsilonAttr());
    });
    rw.eraseOp(qNorm);
    rw.eraseOp(kNorm);
    return success();
  }
};

struct FuseQKL2NormPass
    : public hyla::impl::FuseQKL2NormBase<FuseQKL2NormPass> {
  using FuseQKL2NormBase::FuseQKL2NormBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldNormsIntoDeltaRule<GatedDeltaRuleCachedOp>>(&getContext());
    if (prefill)
      patterns.add<FoldNormsIntoDeltaRule<GatedDeltaRuleOp>>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
