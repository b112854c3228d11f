//===- TileAsyncDots.cpp - wgmma products under the work that follows -----===//
//
// A warpgroup dot lowers to wgmma issue, commit and a wait for the product.
// In a kernel marked `hyla_tile.overlap_products` (FlashAttention-3's
// intra-warpgroup pipelining: the softmax of one key block under the P V
// product of the block before), a dot whose result is first needed some
// ops later becomes async and is waited for (`hyla_tile.dot_wait`) just
// before that use, so the tensor cores and the other instructions run at
// once.
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/MmaLayout.h"
#include "lowering/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_TILEASYNCDOTS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

/// Whether `op` uses `value`, itself or inside its regions.
bool usesValue(Operation *op, Value value) {
  return op
      ->walk([&](Operation *nested) {
        return llvm::is_contained(nested->getOperands(), value)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Ops an in-flight product may run under: no memory effects (which could
/// touch its operand buffers), or another product or wait (wgmma groups
/// complete in order).
bool mayRunUnder(Operation *op) {
  return isa<DotOp, DotWaitOp>(op) || isMemoryEffectFree(op);
}

struct OverlapDot : OpRewritePattern<DotOp> {
  OverlapDot(MLIRContext *ctx, const DenseSet<Block *> &pipelined)
      : OpRewritePattern(ctx), pipelined(pipelined) {}
  /// Blocks that held async products before this pass (pipelined k
  /// loops): they keep their own accounting of the wgmma groups in flight.
  const DenseSet<Block *> &pipelined;

  LogicalResult matchAndRewrite(DotOp dot,
                                PatternRewriter &rw) const override {
    auto kernel = dot->getParentOfType<func::FuncOp>();
    if (dot.getAsync() || !isWarpgroupTile(dot.getType()) || !kernel ||
        !kernel->hasAttr(TileDialect::kOverlapProductsAttrName))
      return failure();
    if (pipelined.contains(dot->getBlock()))
      return failure();
    // The first op that needs the product: a use, or one that may write
    // memory; the terminator at the latest, so every product of a step is
    // complete when the step ends.
    Operation *wait = dot->getNextNode();
    bool productBetween = false;
    for (; !wait->hasTrait<OpTrait::IsTerminator>();
         wait = wait->getNextNode()) {
      if (usesValue(wait, dot.getResult()) || !mayRunUnder(wait))
        break;
      if (auto other = dyn_cast<DotOp>(wait);
          other && isWarpgroupTile(other.getType()))
        productBetween = true;
    }
    if (wait == dot->getNextNode())
      return failure(); // nothing to overlap
    // A later product, sync or async, returns with every earlier wgmma
    // group complete but at most its own: then pending 1 waits for nothing.
    rw.setInsertionPoint(wait);
    auto done = DotWaitOp::create(rw, dot.getLoc(), dot.getResult(),
                                  productBetween ? 1 : 0);
    rw.replaceAllUsesExcept(dot.getResult(), done.getResult(), done);
    rw.modifyOpInPlace(dot, [&] { dot.setAsync(true); });
    return success();
  }
};

struct TileAsyncDotsPass
    : public hyla::impl::TileAsyncDotsBase<TileAsyncDotsPass> {
  void runOnOperation() override {
    DenseSet<Block *> pipelined;
    getOperation().walk([&](DotOp dot) {
      if (dot.getAsync())
        pipelined.insert(dot->getBlock());
    });
    RewritePatternSet patterns(&getContext());
    patterns.add<OverlapDot>(&getContext(), pipelined);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
