//===- TileMmaAccumulators.cpp - dot accumulators stay in mma fragments ---===//
//
// A k loop `acc = dot(a, b, acc)` lowered in the thread layout pays, per
// step, a shared-memory round trip of the whole M x N result and three
// barriers. With the accumulator encoded `#hyla_tile.mma`, the mma.sync
// results feed the next step's mma.sync directly.
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/MmaLayout.h"
#include "lowering/Passes.h"
#include "lowering/Targets.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_TILEMMAACCUMULATORS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

/// The dot that a loop-carried tile accumulates into, if that is all the
/// loop does with it.
DotOp accumulatingDot(scf::ForOp loop, unsigned i) {
  BlockArgument carried = loop.getRegionIterArg(i);
  auto type = dyn_cast<RankedTensorType>(carried.getType());
  if (!type || type.getEncoding() || type.getRank() != 2 ||
      !type.getElementType().isF32() || !carried.hasOneUse())
    return {};
  auto dot = dyn_cast<DotOp>(*carried.getUsers().begin());
  if (!dot || dot.getAcc() != carried || dot->getBlock() != loop.getBody() ||
      !dot.getResult().hasOneUse())
    return {};
  OpOperand &use = *dot.getResult().getUses().begin();
  if (use.getOwner() != loop.getBody()->getTerminator() ||
      use.getOperandNumber() != i)
    return {};
  return dot;
}

struct CarryAccumulatorInFragments : OpRewritePattern<scf::ForOp> {
  CarryAccumulatorInFragments(MLIRContext *ctx, bool hasWgmma)
      : OpRewritePattern(ctx), hasWgmma(hasWgmma) {}
  bool hasWgmma;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rw) const override {
    auto kernel = loop->getParentOfType<func::FuncOp>();
    if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName))
      return failure();
    int64_t warps = TileDialect::getNumWarps(kernel);
    for (unsigned i = 0; i < loop.getNumRegionIterArgs(); ++i) {
      DotOp dot = accumulatingDot(loop, i);
      if (!dot)
        continue;
      auto plain = cast<RankedTensorType>(dot.getType());
      bool warpgroup = hasWgmma && fitsWgmma(dot, warps);
      if (!warpgroup &&
          !MmaStrips::fragments(plain.getDimSize(0), plain.getDimSize(1), warps)
               .fitsFragments(warps))
        continue;
      auto encoded = RankedTensorType::get(
          plain.getShape(), plain.getElementType(),
          MmaLayoutAttr::get(rw.getContext(), warpgroup));
      carryEncoded(rw, loop, i, encoded);
      rw.modifyOpInPlace(dot, [&] { dot.getResult().setType(encoded); });
      return success();
    }
    return failure();
  }
};

struct TileMmaAccumulatorsPass
    : public hyla::impl::TileMmaAccumulatorsBase<TileMmaAccumulatorsPass> {
  using TileMmaAccumulatorsBase::TileMmaAccumulatorsBase;
  void runOnOperation() override {
    const GpuTarget *gpu = lookupTarget(target);
    if (!gpu) {
      getOperation().emitError() << "unknown GPU target '" << target << "'";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<CarryAccumulatorInFragments>(&getContext(), gpu->hasWgmma);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
