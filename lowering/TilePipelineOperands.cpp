//===- TilePipelineOperands.cpp - wgmma operands copied asynchronously ----===//
//
// A GEMM k loop that loads step k + 1's operands into registers while step
// k computes still stores them into shared memory itself, between
// barriers, before wgmma can read them. Copying them global -> shared with
// cp.async into a two-buffer ring takes the registers and the stores out:
// step k + 1's copies run while step k's wgmma does.
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_TILEPIPELINEOPERANDS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

constexpr int64_t kStages = 2;

/// A load that async_load can replace: a 2-D 16-bit tile read along dims
/// [0, 1] of a 2-D memref whose rows are whole 16-byte chunks, no bounds,
/// zero padding, rows of whole 64-element swizzle rows.
bool copyable(LoadOp load) {
  if (!load)
    return false;
  MemRefType mt = load.getSource().getType();
  RankedTensorType t = load.getType();
  return mt.getRank() == 2 && !mt.isDynamicDim(1) && mt.getDimSize(1) % 8 == 0 &&
         t.getRank() == 2 && !t.getEncoding() &&
         t.getElementType().getIntOrFloatBitWidth() == 16 &&
         t.getDimSize(1) % 64 == 0 && load.getDims() == ArrayRef<int64_t>{0, 1} &&
         load.getBounds().empty() && load.getPadding().isZero();
}

bool isWarpgroupAccumulator(Type t) {
  auto tt = dyn_cast<RankedTensorType>(t);
  auto enc = tt ? dyn_cast_or_null<MmaLayoutAttr>(tt.getEncoding()) : nullptr;
  return enc && enc.getWarpgroup();
}

struct PipelineOperands : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rw) const override {
    auto kernel = loop->getParentOfType<func::FuncOp>();
    if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName))
      return failure();
    Block *body = loop.getBody();
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    // The one dot of the body, accumulating a carried warpgroup tile.
    DotOp dot;
    for (Operation &op : body->without_terminator()) {
      if (auto d = dyn_cast<DotOp>(op)) {
        if (dot)
          return failure();
        dot = d;
      } else if (!isa<LoadOp>(op) && op.getDialect()->getNamespace() != "arith") {
        return failure(); // anything else might use shared memory
      }
    }
    if (!dot || !isWarpgroupAccumulator(dot.getType()))
      return failure();
    // Each operand: a carried tile, used only by the dot, whose next value
    // is a copyable load of this body and whose first a load before it.
    SmallVector<unsigned, 2> operandArgs;
    for (Value operand : {dot.getA(), dot.getB()}) {
      auto arg = dyn_cast<BlockArgument>(operand);
      if (!arg || arg.getOwner() != body || arg.getArgNumber() == 0 ||
          !arg.hasOneUse())
        return failure();
      unsigned i = arg.getArgNumber() - 1;
      if (!loop.getResult(i).use_empty())
        return failure(); // the loop's last prefetched tile stays unread
      auto next = yield.getOperand(i).getDefiningOp<LoadOp>();
      auto first = loop.getInitArgs()[i].getDefiningOp<LoadOp>();
      if (!copyable(next) || !copyable(first) || next->getBlock() != body ||
          !next->hasOneUse() || !first->hasOneUse() ||
          first.getSource() != next.getSource() ||
          first.getType() != next.getType())
        return failure();
      operandArgs.push_back(i);
    }
    if (operandArgs[0] == operandArgs[1])
      return failure();

    // Ring offsets: A's buffers from 0, B's after them (1024-aligned).
    auto bytes = [](RankedTensorType t) {
      return t.getNumElements() * t.getElementType().getIntOrFloatBitWidth() / 8;
    };
    auto align = [](int64_t v) { return (v + 1023) / 1024 * 1024; };
    int64_t offsets[2] = {0, align(kStages * bytes(dot.getA().getType()))};

    Location loc = loop.getLoc();
    auto sharedOf = [&](RankedTensorType t) {
      return RankedTensorType::get(t.getShape(), t.getElementType(),
                                   SharedLayoutAttr::get(rw.getContext()));
    };
    auto asyncCopy = [&](LoadOp load, Value stage, int64_t offset) {
      return AsyncLoadOp::create(rw, load.getLoc(), sharedOf(load.getType()),
                                 load.getSource(), load.getOffsets(),
                                 load.getDims(), stage, kStages, offset);
    };

    // Before the loop: the first step's copies into stage 0.
    rw.setInsertionPoint(loop);
    Value zero = arith::ConstantIndexOp::create(rw, loc, 0);
    Value one = arith::ConstantIndexOp::create(rw, loc, 1);
    SmallVector<Value> inits(loop.getInitArgs());
    for (auto [j, i] : llvm::enumerate(operandArgs))
      inits[i] = asyncCopy(inits[i].getDefiningOp<LoadOp>(), zero, offsets[j]);
    inits.push_back(zero); // the stage of the current step

    auto newLoop = scf::ForOp::create(rw, loc, loop.getLowerBound(),
                                      loop.getUpperBound(), loop.getStep(),
                                      inits);
    Block *newBody = newLoop.getBody();
    // Old block arguments map to the new ones (the stage is the last).
    SmallVector<Value> argMap(newBody->getArguments().drop_back());
    rw.setInsertionPointToStart(newBody);
    if (!newBody->empty())
      rw.eraseOp(newBody->getTerminator());
    rw.mergeBlocks(body, newBody, argMap);
    auto newYield = cast<scf::YieldOp>(newBody->getTerminator());
    Value stage = newBody->getArguments().back();

    // This step's copies landed (and nobody reads the other buffer any
    // more) before the next step's start.
    rw.setInsertionPointToStart(newBody);
    AsyncWaitOp::create(rw, loc, 0);
    Value nextStage = arith::SubIOp::create(rw, loc, one, stage);
    SmallVector<Value> yielded(newYield.getOperands());
    for (auto [j, i] : llvm::enumerate(operandArgs)) {
      auto next = yielded[i].getDefiningOp<LoadOp>();
      rw.setInsertionPoint(next);
      yielded[i] = asyncCopy(next, nextStage, offsets[j]);
      rw.eraseOp(next);
    }
    yielded.push_back(nextStage);
    rw.setInsertionPoint(newYield);
    scf::YieldOp::create(rw, newYield.getLoc(), yielded);
    rw.eraseOp(newYield);
    for (auto i : operandArgs)
      newBody->getArgument(i + 1).setType(inits[i].getType());

    // The last step started copies nobody reads: let them land before
    // anything else uses shared memory.
    rw.setInsertionPointAfter(newLoop);
    AsyncWaitOp::create(rw, loc, 0);
    SmallVector<LoadOp> firstLoads;
    for (auto i : operandArgs)
      firstLoads.push_back(loop.getInitArgs()[i].getDefiningOp<LoadOp>());
    rw.replaceOp(loop, newLoop.getResults().drop_back());
    for (LoadOp l : firstLoads)
      if (l->use_empty())
        rw.eraseOp(l);
    return success();
  }
};

struct TilePipelineOperandsPass
    : public hyla::impl::TilePipelineOperandsBase<TilePipelineOperandsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PipelineOperands>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
