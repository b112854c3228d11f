//===- TileGridDependency.cpp - where a kernel waits for the grid before it ===//
//
// Under programmatic dependent launch a kernel may start while the grid
// before it in the stream still runs. It must wait for that grid before it
// writes memory or reads what that grid may write; arguments the
// dispatches of the kernel never receive from the grid before them
// (`hyla_tile.early_args`, from hyla-early-inputs) can be read first, so
// their loads (a decode step's cached state, the weights) overlap the
// previous grid's tail.
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace hyla {
#define GEN_PASS_DEF_TILEGRIDDEPENDENCY
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

/// Ops that only read their memref operand (async copies read global
/// memory and write only shared memory).
bool isRead(Operation *op) {
  return isa<LoadOp, AsyncLoadOp, PrefetchOp, memref::LoadOp>(op);
}

struct Placement {
  DenseSet<Value> earlyArgs;

  /// Whether `op` itself writes memory or reads an argument that is not
  /// early. Reads are loads (also async copies into shared memory),
  /// prefetches and memref.load; any other op with a memref operand counts
  /// as a write (dims are not memory).
  bool touchesLate(Operation *op) const {
    if (isa<memref::DimOp>(op))
      return false;
    bool read = isRead(op);
    for (Value v : op->getOperands())
      if (isa<MemRefType>(v.getType()) && (!read || !earlyArgs.contains(v)))
        return true;
    return false;
  }
  bool needsWait(Operation *op) const {
    return op->walk([&](Operation *nested) {
                return touchesLate(nested) ? WalkResult::interrupt()
                                           : WalkResult::advance();
              }).wasInterrupted();
  }

  /// Moves the loads of early arguments that follow `wait` in its block,
  /// and whose operands are ready before it, above it (a kernel may load a
  /// late input first and an early one after), up to the first op with
  /// other memory effects.
  void hoistEarlyLoads(Operation *wait) const {
    Block *block = wait->getBlock();
    auto readyBefore = [&](Value v) {
      Operation *def = v.getDefiningOp();
      Operation *ancestor = def ? block->findAncestorOpInBlock(*def) : nullptr;
      return !ancestor || ancestor->isBeforeInBlock(wait);
    };
    for (Operation &op :
         llvm::make_early_inc_range(llvm::make_range(
             std::next(wait->getIterator()), block->end()))) {
      bool read = isRead(&op);
      // Never across an op with other effects (e.g. the mbarrier
      // initialization an async copy completes on).
      if (!read && !isMemoryEffectFree(&op))
        return;
      if (!read || touchesLate(&op) ||
          !llvm::all_of(op.getOperands(), readyBefore))
        continue;
      op.moveBefore(wait);
    }
  }

  /// Puts a wait before the first op of `block` that needs one; returns
  /// whether every path through the block has waited by its end.
  bool place(Block &block) const {
    for (Operation &op : block) {
      if (!needsWait(&op))
        continue;
      // The producer's thread runs its region alone, the rest of the
      // kernel runs on the other warps: each waits before its own first
      // late access.
      if (auto produce = dyn_cast<ProduceOp>(op)) {
        place(produce.getBody().front());
        continue;
      }
      if (auto branch = dyn_cast<scf::IfOp>(op)) {
        bool thenWaited = place(*branch.thenBlock());
        bool elseWaited = branch.elseBlock() && place(*branch.elseBlock());
        if (thenWaited && elseWaited)
          return true;
        continue; // a later op needing it waits on the paths that did not
      }
      OpBuilder b(&op);
      auto wait = WaitPriorGridOp::create(b, op.getLoc());
      hoistEarlyLoads(wait);
      return true;
    }
    return false;
  }
};

struct TileGridDependencyPass
    : public hyla::impl::TileGridDependencyBase<TileGridDependencyPass> {
  void runOnOperation() override {
    getOperation().walk([](func::FuncOp fn) {
      if (!fn->hasAttr(TileDialect::kKernelAttrName) || fn.isExternal())
        return;
      Placement placement;
      if (auto early = fn->getAttrOfType<DenseI64ArrayAttr>(
              TileDialect::kEarlyArgsAttrName))
        for (int64_t i : early.asArrayRef())
          placement.earlyArgs.insert(fn.getArgument(i));
      if (placement.earlyArgs.empty()) {
        OpBuilder b = OpBuilder::atBlockBegin(&fn.getBody().front());
        WaitPriorGridOp::create(b, fn.getLoc());
        return;
      }
      placement.place(fn.getBody().front());
    });
  }
};

} // namespace
