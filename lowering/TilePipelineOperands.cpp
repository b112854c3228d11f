//===- TilePipelineOperands.cpp - wgmma operands copied asynchronously ----===//
//
// A GEMM k loop that loads step k + 1's operands into registers while step
// k computes still stores them into shared memory itself, between
// barriers, before wgmma can read them. Copying them global -> shared with
// cp.async into a ring of buffers takes the registers and the stores out:
// step k + 1's copies run while step k's wgmma does. Where the target has
// the tensor memory accelerator (`tma`), one thread starts each tile's copy
// through a tensor map and the copy completes on an mbarrier of its stage,
// instead of every thread copying 16-byte chunks into completion groups.
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/MmaLayout.h"
#include "lowering/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_TILEPIPELINEOPERANDS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

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

/// `value` at the insertion point with `map` applied: values defined in
/// `regions` (a loop body's index arithmetic; for a producer also the
/// kernel's) are cloned, anything defined elsewhere is used as is.
Value cloneInto(OpBuilder &b, Value value, ArrayRef<Block *> regions,
                IRMapping &map) {
  if (Value mapped = map.lookupOrNull(value))
    return mapped;
  Operation *def = value.getDefiningOp();
  if (!def || !llvm::is_contained(regions, def->getBlock()))
    return value;
  for (Value operand : def->getOperands())
    cloneInto(b, operand, regions, map);
  Operation *copy = b.clone(*def, map);
  return copy->getResult(cast<OpResult>(value).getResultNumber());
}

/// `loop` rebuilt with `inits` (its own init values, possibly changed, then
/// new ones) and its body moved over: the body's block arguments map to the
/// new loop's first ones, and the old yield is still the terminator (the
/// caller appends the new values to it). `loop` itself is left to replace.
scf::ForOp rebuildWithCarried(PatternRewriter &rw, scf::ForOp loop,
                              ValueRange inits) {
  auto newLoop = scf::ForOp::create(rw, loop.getLoc(), loop.getLowerBound(),
                                    loop.getUpperBound(), loop.getStep(),
                                    inits);
  Block *newBody = newLoop.getBody();
  unsigned oldCount = loop.getNumRegionIterArgs();
  SmallVector<Value> argMap(newBody->getArguments().take_front(oldCount + 1));
  if (!newBody->empty())
    rw.eraseOp(newBody->getTerminator());
  rw.mergeBlocks(loop.getBody(), newBody, argMap);
  return newLoop;
}

struct PipelineOperands : OpRewritePattern<scf::ForOp> {
  PipelineOperands(MLIRContext *ctx, bool tma)
      : OpRewritePattern(ctx), tma(tma) {}
  bool tma;
  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rw) const override {
    auto kernel = loop->getParentOfType<func::FuncOp>();
    if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName))
      return failure();
    Block *body = loop.getBody();
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    // The dots of the body (one, or several sharing an operand: SwiGLU's
    // gate and up products of the same x tile), each accumulating a
    // carried warpgroup tile.
    SmallVector<DotOp> dots;
    for (Operation &op : body->without_terminator()) {
      if (auto d = dyn_cast<DotOp>(op))
        dots.push_back(d);
      else if (!isa<LoadOp>(op) && op.getDialect()->getNamespace() != "arith")
        return failure(); // anything else might use shared memory
    }
    if (dots.empty())
      return failure();
    // The accumulators: carried tiles that a dot adds into and yields back.
    SmallVector<unsigned> accIndices;
    for (DotOp dot : dots) {
      auto accArg = dyn_cast<BlockArgument>(dot.getAcc());
      if (!isWarpgroupTile(dot.getType()) || dot.getA() == dot.getB() ||
          !accArg || accArg.getOwner() != body || accArg.getArgNumber() == 0 ||
          !accArg.hasOneUse() ||
          yield.getOperand(accArg.getArgNumber() - 1) != dot.getResult() ||
          !dot.getResult().hasOneUse())
        return failure();
      accIndices.push_back(accArg.getArgNumber() - 1);
    }
    // Each operand: a carried tile, used only as the dots' operands, whose
    // next value is a copyable load of this body and whose first a load
    // before it.
    SmallVector<unsigned> operandArgs;
    for (DotOp dot : dots) {
      for (Value operand : {dot.getA(), dot.getB()}) {
        auto arg = dyn_cast<BlockArgument>(operand);
        if (!arg || arg.getOwner() != body || arg.getArgNumber() == 0)
          return failure();
        unsigned i = arg.getArgNumber() - 1;
        if (llvm::is_contained(operandArgs, i))
          continue;
        if (llvm::is_contained(accIndices, i) ||
            llvm::any_of(arg.getUsers(), [&](Operation *user) {
              return !llvm::is_contained(dots, dyn_cast<DotOp>(user));
            }))
          return failure();
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
    }
    const int numOperands = static_cast<int>(operandArgs.size());

    // Rings of S buffers, one an operand, in order (1024-aligned).
    int64_t stages = TileDialect::getNumStages(kernel);
    // With four or more buffers the products run asynchronously: step k
    // returns with its wgmma still computing, so the buffers of step k - 1
    // are free only once step k returns, and copies run `ahead` = S - 2
    // steps ahead (S - 1 with synchronous products). Measured on the H100
    // (docs/perf.md): asynchronous products at 3 buffers lose the second
    // step of copies in flight, which small-M GEMMs need, and gain nothing
    // at large M; at 4 they match 3 synchronous buffers.
    bool asyncProducts = stages >= 4;
    int64_t ahead = asyncProducts ? stages - 2 : stages - 1;
    auto bytes = [](RankedTensorType t) {
      return t.getNumElements() * t.getElementType().getIntOrFloatBitWidth() / 8;
    };
    auto align = [](int64_t v) { return (v + 1023) / 1024 * 1024; };
    SmallVector<int64_t> offsets;
    int64_t end = 0;
    for (unsigned i : operandArgs) {
      offsets.push_back(end);
      end = align(end + stages * bytes(cast<RankedTensorType>(
                                        loop.getInitArgs()[i].getType())));
    }
    // With TMA: each ring's S mbarriers after the rings, in the same order.
    int64_t barrierRing = end;
    SmallVector<int64_t> barriers;
    for (int j = 0; j < numOperands; ++j)
      barriers.push_back(barrierRing + 8 * stages * j);

    Location loc = loop.getLoc();
    auto sharedOf = [&](RankedTensorType t) {
      return RankedTensorType::get(t.getShape(), t.getElementType(),
                                   SharedLayoutAttr::get(rw.getContext()));
    };
    auto asyncCopy = [&](LoadOp load, ValueRange offs, Value stage,
                         int j) -> Value {
      return AsyncLoadOp::create(
          rw, load.getLoc(), sharedOf(load.getType()), load.getSource(), offs,
          load.getDims(), stage, stages, offsets[j],
          tma ? rw.getI64IntegerAttr(barriers[j]) : IntegerAttr());
    };
    // The offsets of the body's load (step iv + step) at the step of
    // induction value `iv` instead of `loopIv`, the index arithmetic of
    // `region` cloned at the insertion point.
    auto offsetsAt = [&](LoadOp next, Value loopIv, Value iv, Block *region) {
      IRMapping map;
      map.map(loopIv, iv);
      SmallVector<Value> offs;
      for (Value o : next.getOffsets())
        offs.push_back(cloneInto(rw, o, region, map));
      return offs;
    };
    auto constant = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rw, loc, v).getResult();
    };

    // Before the loop, steps 0 .. ahead - 1 into their stages: step 0 is
    // the loads before the loop, step j the body's loads at iv = lb + (j - 1)
    // step.
    rw.setInsertionPoint(loop);
    if (tma)
      InitBarriersOp::create(rw, loc, numOperands * stages, barrierRing,
                             IntegerAttr());
    SmallVector<LoadOp> nextLoads, firstLoads;
    for (unsigned i : operandArgs) {
      nextLoads.push_back(yield.getOperand(i).getDefiningOp<LoadOp>());
      firstLoads.push_back(loop.getInitArgs()[i].getDefiningOp<LoadOp>());
    }
    // ring[j][t]: operand j's buffer of step t (t = 0 .. S - 2).
    SmallVector<SmallVector<Value>> ring(numOperands);
    for (int64_t t = 0; t < ahead; ++t) {
      Value stage = constant(t);
      for (int j = 0; j < numOperands; ++j) {
        SmallVector<Value> offs;
        if (t == 0) {
          offs = llvm::to_vector(firstLoads[j].getOffsets());
        } else {
          Value iv = arith::AddIOp::create(
              rw, loc, loop.getLowerBound(),
              arith::MulIOp::create(rw, loc, loop.getStep(),
                                    constant(t - 1)));
          offs = offsetsAt(nextLoads[j], loop.getInductionVar(), iv, body);
        }
        ring[j].push_back(asyncCopy(firstLoads[j], offs, stage, j));
      }
    }

    // Loop arguments: the old ones (operands now the current step's
    // buffers), then each operand's buffers of the steps after it, then the
    // current step's stage (and with TMA the parity of its mbarriers' phase).
    SmallVector<Value> inits(loop.getInitArgs());
    for (auto [j, i] : llvm::enumerate(operandArgs))
      inits[i] = ring[j][0];
    for (int j = 0; j < numOperands; ++j)
      inits.append(ring[j].begin() + 1, ring[j].end());
    inits.push_back(constant(0));
    if (tma)
      inits.push_back(constant(0));
    unsigned oldCount = loop.getNumRegionIterArgs();

    scf::ForOp newLoop = rebuildWithCarried(rw, loop, inits);
    Block *newBody = newLoop.getBody();
    auto newYield = cast<scf::YieldOp>(newBody->getTerminator());
    auto later = [&](int j) { // operand j's buffers after the current step
      return newBody->getArguments().slice(1 + oldCount + j * (ahead - 1),
                                           ahead - 1);
    };
    Value stage =
        newBody->getArguments()[1 + oldCount + numOperands * (ahead - 1)];
    Value phase = tma ? newBody->getArguments().back() : Value();
    // Wait for the copies of the step at (stage, phase) on every ring (one
    // barrier after the last wait serves them all).
    auto waitStep = [&](Value st, Value ph) {
      for (int j = 0; j < numOperands; ++j)
        BarrierWaitOp::create(rw, loc, st, ph, barriers[j],
                              /*local=*/j + 1 < numOperands);
    };
    // The parity of `st`'s barrier phase one round of the ring after `ph`.
    auto flip = [&](Value ph) {
      return Value(arith::SubIOp::create(rw, loc, constant(1), ph));
    };

    // This step's copies landed (the later steps' 2 (S - 2) may still be in
    // flight), and every thread is past the previous step's product, whose
    // buffers the copies of step iv + (S - 1) step now reuse.
    rw.setInsertionPointToStart(newBody);
    if (tma)
      waitStep(stage, phase);
    else
      AsyncWaitOp::create(rw, loc, numOperands * (ahead - 1));
    Value nextStage = arith::RemUIOp::create(
        rw, loc, arith::AddIOp::create(rw, loc, stage, constant(1)),
        constant(stages));
    Value nextPhase;
    if (tma) // the ring wraps around: the next round of phases
      nextPhase = arith::SelectOp::create(
          rw, loc,
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, nextStage,
                                constant(0)),
          flip(phase), phase);
    Value copyStage = arith::RemUIOp::create(
        rw, loc, arith::AddIOp::create(rw, loc, stage, constant(ahead)),
        constant(stages));
    Value copyIv = arith::AddIOp::create(
        rw, loc, newLoop.getInductionVar(),
        arith::MulIOp::create(rw, loc, newLoop.getStep(), constant(ahead - 1)));
    SmallVector<Value> yielded(newYield.getOperands());
    SmallVector<SmallVector<Value>> rotated(numOperands);
    for (auto [j, i] : llvm::enumerate(operandArgs)) {
      LoadOp next = nextLoads[j];
      rw.setInsertionPoint(next);
      Value copy = asyncCopy(
          next, offsetsAt(next, newLoop.getInductionVar(), copyIv, newBody),
          copyStage, j);
      // Next step: the first later buffer (or this copy when S = 2).
      rotated[j].assign(later(j).begin(), later(j).end());
      rotated[j].push_back(copy);
      yielded[i] = rotated[j].front();
      rw.eraseOp(next);
    }
    for (int j = 0; j < numOperands; ++j)
      yielded.append(rotated[j].begin() + 1, rotated[j].end());
    yielded.push_back(nextStage);
    if (tma)
      yielded.push_back(nextPhase);
    rw.setInsertionPoint(newYield);
    scf::YieldOp::create(rw, newYield.getLoc(), yielded);
    rw.eraseOp(newYield);

    // Copies of steps past the end are still in flight: let them land
    // before anything else uses shared memory; an async last product must
    // be complete before anything but a dot reads it.
    rw.setInsertionPointAfter(newLoop);
    if (tma) {
      // Steps end .. end + ahead - 1 were copied into the stages after the
      // one the loop ended at; those past the ring's end are a round later.
      Value endStage =
          newLoop.getResults()[oldCount + numOperands * (ahead - 1)];
      Value endPhase = newLoop.getResults().back();
      for (int64_t t = 0; t < ahead; ++t) {
        Value s = arith::AddIOp::create(rw, loc, endStage, constant(t));
        Value wraps = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::uge,
                                            s, constant(stages));
        waitStep(arith::RemUIOp::create(rw, loc, s, constant(stages)),
                 arith::SelectOp::create(rw, loc, wraps, flip(endPhase),
                                         endPhase));
      }
      // What follows may reuse the barriers' bytes.
      InvalBarriersOp::create(rw, loc, numOperands * stages, barrierRing);
    } else {
      AsyncWaitOp::create(rw, loc, 0);
    }
    SmallVector<Value> results(newLoop.getResults().take_front(oldCount));
    if (asyncProducts) {
      // Each async dot leaves only its own wgmma group in flight, so at the
      // end of a step every group of the step before has completed.
      for (unsigned accIndex : accIndices) {
        auto newDot = cast<DotOp>(
            newBody->getTerminator()->getOperand(accIndex).getDefiningOp());
        rw.modifyOpInPlace(newDot, [&] { newDot.setAsync(true); });
        results[accIndex] =
            DotWaitOp::create(rw, loc, results[accIndex], /*pending=*/0);
      }
    }
    rw.replaceOp(loop, results);
    for (LoadOp l : firstLoads)
      if (l->use_empty())
        rw.eraseOp(l);
    return success();
  }
};

/// Whether `value` can be computed at the top of `body` for another
/// induction value: defined outside the body, the induction variable, or
/// pure index arithmetic of the body on such values.
bool recomputable(Value value, Block *body, Value iv) {
  if (value == iv)
    return true;
  Operation *def = value.getDefiningOp();
  if (!def)
    return value.getParentBlock() != body;
  if (def->getBlock() != body)
    return true;
  if (def->getDialect()->getNamespace() != "arith" || !isPure(def))
    return false;
  return llvm::all_of(def->getOperands(),
                      [&](Value o) { return recomputable(o, body, iv); });
}

/// A load (in `block`) that wgmma could read where a copy puts it: a 2-D
/// 16- or 32-bit tile in whole 128-byte swizzle rows, its rows along the
/// memref's contiguous last dim (whole 16-byte chunks), no bounds, zero
/// padding, used once, as the k-contiguous operand of a dot of `loop`'s
/// body into warpgroup fragments.
bool copyableWgmmaOperand(LoadOp load, Block *block, scf::ForOp loop,
                          bool tma, int64_t warps) {
  MemRefType mt = load.getSource().getType();
  RankedTensorType t = load.getType();
  if (load->getBlock() != block || !load->hasOneUse() || t.getRank() != 2 ||
      t.getEncoding() || !load.getBounds().empty() ||
      !load.getPadding().isZero())
    return false;
  Type elt = t.getElementType();
  unsigned bits = elt.getIntOrFloatBitWidth();
  int64_t rank = mt.getRank();
  if ((bits != 16 && bits != 32) || t.getDimSize(1) % wgmmaRowElements(elt) ||
      load.getDims()[1] != rank - 1 || mt.isDynamicDim(rank - 1) ||
      mt.getDimSize(rank - 1) * bits % 128 ||
      (tma && (rank > 5 || t.getDimSize(0) > 256)))
    return false;
  auto dot = dyn_cast<DotOp>(*load->getUsers().begin());
  if (!dot || dot->getBlock() != loop.getBody() ||
      !isWarpgroupTile(dot.getType()) || dot.getA() == dot.getB())
    return false;
  bool isA = dot.getA() == load.getResult();
  return fitsWgmmaOperands(dot, warps,
                           isA || isSharedTile(dot.getA().getType()),
                           !isA || isSharedTile(dot.getB().getType()));
}

/// A load of the loop body that can be staged: a copyable wgmma operand
/// whose offsets can be computed for the next step.
bool stageable(LoadOp load, scf::ForOp loop, bool tma, int64_t warps) {
  return copyableWgmmaOperand(load, loop.getBody(), loop, tma, warps) &&
         llvm::all_of(load.getOffsets(), [&](Value o) {
           return recomputable(o, loop.getBody(), loop.getInductionVar());
         });
}

/// A TMA-copyable wgmma operand of the loop body loaded before `loop` (in
/// its block): loop-invariant (attention's query block), so one copy
/// before the loop puts it where every step's dot reads it, instead of
/// each step writing it from registers.
bool invariantOperand(LoadOp load, scf::ForOp loop, int64_t warps) {
  return copyableWgmmaOperand(load, loop->getBlock(), loop, /*tma=*/true,
                              warps);
}

/// Whether `value` can be recomputed in a producer region at the top of
/// the kernel: a kernel argument, `iv` (mapped there), or the scalar
/// result of a memory-effect-free op without regions of `kernelBlock` or
/// `body` (index arithmetic, program ids, memref dims) whose operands can
/// be.
bool producible(Value value, Block *kernelBlock, Block *body, Value iv) {
  if (value == iv)
    return true;
  Operation *def = value.getDefiningOp();
  if (!def)
    return value.getParentBlock() == kernelBlock; // a kernel argument
  if ((def->getBlock() != kernelBlock && def->getBlock() != body) ||
      def->getNumRegions() || !isMemoryEffectFree(def) ||
      !value.getType().isIntOrIndex())
    return false;
  return llvm::all_of(def->getOperands(), [&](Value o) {
    return producible(o, kernelBlock, body, iv);
  });
}

/// A sequential loop whose body loads wgmma operands itself (the GDN state
/// kernel's chunk loop: W and the decayed keys, next to products with
/// operands from registers, and stores): each such load becomes a copy
/// into a ring of S shared-memory buffers (S = the kernel's
/// `hyla_tile.num_stages`), started S - 1 steps ahead, so later steps'
/// operands move while step i computes and never pass through registers.
/// The rings take the first bytes of shared memory
/// (`hyla_tile.reserved_shared`), since the body's other ops use shared
/// memory as scratch.
///
/// With `warpSpecialize` (and TMA) the copies leave the program's own
/// warps: a `hyla_tile.produce` warpgroup runs the same loop, waiting on
/// an "empty" mbarrier per stage before it copies into that stage, and the
/// loop's last act each step is to release its stage
/// (`hyla_tile.barrier_arrive`). The consumers then wait only for their
/// own copies (`local`), with no barrier of the whole program per step.
struct StageLoopOperands : OpRewritePattern<scf::ForOp> {
  StageLoopOperands(MLIRContext *ctx, bool tma, bool warpSpecialize,
                    bool releaseRings, int64_t producerRegisters,
                    int64_t consumerRegisters)
      : OpRewritePattern(ctx), tma(tma), warpSpecialize(warpSpecialize),
        releaseRings(releaseRings), producerRegisters(producerRegisters),
        consumerRegisters(consumerRegisters) {}
  bool tma, warpSpecialize, releaseRings;
  int64_t producerRegisters, consumerRegisters;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rw) const override {
    auto kernel = loop->getParentOfType<func::FuncOp>();
    if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName) ||
        kernel->hasAttr(TileDialect::kReservedSharedAttrName))
      return failure();
    int64_t warps = TileDialect::getNumWarps(kernel);
    SmallVector<LoadOp> loads;
    for (Operation &op : loop.getBody()->without_terminator())
      if (auto load = dyn_cast<LoadOp>(op);
          load && stageable(load, loop, tma, warps))
        loads.push_back(load);
    if (loads.empty())
      return failure();
    SmallVector<LoadOp> invariant;
    if (tma)
      for (Operation &op : *loop->getBlock())
        if (auto load = dyn_cast<LoadOp>(op);
            load && invariantOperand(load, loop, warps))
          invariant.push_back(load);

    Block *body = loop.getBody();
    Block *kernelBlock = &kernel.getBody().front();
    Value iv = loop.getInductionVar();
    // A producer recomputes the loop bounds and the copies' offsets at the
    // top of the kernel: only where all of them are index arithmetic of
    // the kernel's arguments and program ids.
    bool specialize =
        warpSpecialize && tma && warps % 4 == 0 && warps + 4 <= 32 &&
        loop->getBlock() == kernelBlock &&
        llvm::all_of(ValueRange{loop.getLowerBound(), loop.getUpperBound(),
                                loop.getStep()},
                     [&](Value v) {
                       return producible(v, kernelBlock, body, iv);
                     }) &&
        llvm::all_of(loads, [&](LoadOp l) {
          return llvm::all_of(l.getOffsets(), [&](Value v) {
            return producible(v, kernelBlock, body, iv);
          });
        });
    // cp.async completion groups are counted, not named: one step ahead
    // (wait for all) keeps the count right when the last steps copy
    // nothing.
    int64_t stages = tma ? TileDialect::getNumStages(kernel) : 2;

    // Rings of S buffers, each 1024-aligned; with TMA S "full" mbarriers
    // per ring after them, and when specialized S "empty" ones.
    SmallVector<int64_t> offsets;
    int64_t end = 0;
    for (LoadOp load : loads) {
      RankedTensorType t = load.getType();
      offsets.push_back(end);
      int64_t bytes = stages * t.getNumElements() *
                      t.getElementType().getIntOrFloatBitWidth() / 8;
      end += (bytes + 1023) / 1024 * 1024;
    }
    int64_t barrierBase = end;
    auto fullBarriersOf = [&](size_t j) -> int64_t {
      return barrierBase + 8 * stages * static_cast<int64_t>(j);
    };
    int64_t emptyBarriers = fullBarriersOf(loads.size());
    // Unspecialized, the program's threads may still release each stage on
    // an "empty" mbarrier at the end of their step, for the thread that
    // copies to wait on, instead of a barrier of the whole program a step:
    // its warpgroups then need not run in step.
    bool release = tma && !specialize && releaseRings;
    if (tma)
      end = emptyBarriers + (specialize || release ? 8 * stages : 0);
    // Loop-invariant operands: one buffer each (1024-aligned) and one
    // mbarrier for all of them.
    SmallVector<int64_t> invariantOffsets;
    int64_t invariantBarrier = 0;
    if (!invariant.empty()) {
      end = (end + 1023) / 1024 * 1024;
      for (LoadOp load : invariant) {
        RankedTensorType t = load.getType();
        invariantOffsets.push_back(end);
        int64_t bytes = t.getNumElements() *
                        t.getElementType().getIntOrFloatBitWidth() / 8;
        end += (bytes + 1023) / 1024 * 1024;
      }
      invariantBarrier = end;
      end += 8;
    }
    int64_t reserved = (end + 1023) / 1024 * 1024;

    Location loc = loop.getLoc();
    auto constant = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rw, loc, v).getResult();
    };
    SmallVector<RankedTensorType> bufferTypes;
    for (LoadOp l : loads)
      bufferTypes.push_back(RankedTensorType::get(
          l.getType().getShape(), l.getType().getElementType(),
          SharedLayoutAttr::get(rw.getContext())));
    // Every load's copy into `stage`, its offsets computed at the
    // insertion point with `map` (iv -> the step's induction value) from
    // the ops of `regions`.
    auto copies = [&](Value stage, IRMapping &map,
                      ArrayRef<Block *> regions) {
      for (auto [j, load] : llvm::enumerate(loads)) {
        SmallVector<Value> offs;
        for (Value o : load.getOffsets())
          offs.push_back(cloneInto(rw, o, regions, map));
        AsyncLoadOp::create(
            rw, load.getLoc(), bufferTypes[j], load.getSource(), offs,
            load.getDims(), stage, stages, offsets[j],
            tma ? rw.getI64IntegerAttr(fullBarriersOf(j)) : IntegerAttr());
      }
    };
    // Every load's copy at `at` into `stage` where `at` is a step the loop
    // runs.
    // With `releaseParity`, the copying thread first waits for the stage's
    // release (released rings).
    auto copiesIfRuns = [&](Value at, Value stage, Value upper,
                            Value releaseParity = Value()) {
      Value runs = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::slt,
                                         at, upper);
      auto guard = scf::IfOp::create(rw, loc, runs, /*withElseRegion=*/false);
      rw.setInsertionPointToStart(guard.thenBlock());
      if (releaseParity)
        BarrierWaitOp::create(rw, loc, stage, releaseParity, emptyBarriers,
                              /*local=*/false, /*leader=*/true);
      IRMapping map;
      map.map(iv, at);
      copies(stage, map, {body});
      rw.setInsertionPointAfter(guard);
    };
    // The stage after `st` and the parity of its barriers' phase (flipped
    // each time the ring wraps).
    auto advance = [&](Value st, Value ph) -> std::pair<Value, Value> {
      Value c0 = constant(0), c1 = constant(1);
      Value wraps = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                          st, constant(stages - 1));
      Value next = arith::SelectOp::create(
          rw, loc, wraps, c0, arith::AddIOp::create(rw, loc, st, c1));
      return {next, arith::SelectOp::create(
                        rw, loc, wraps, arith::SubIOp::create(rw, loc, c1, ph),
                        ph)};
    };

    rw.modifyOpInPlace(kernel, [&] {
      kernel->setAttr(TileDialect::kReservedSharedAttrName,
                      rw.getI32IntegerAttr(reserved));
      // One program an SM: ptxas then allocates what the launch can give
      // every thread (65536 / threads: 168 for attention's 384), and
      // setmaxnreg moves registers from the producer to the consumers.
      // Without it ptxas allocated the consumers' 232 for all 384 threads
      // and the launch failed; a cap for several programs an SM (attention's
      // 2) would leave the consumers too few for wgmma's fragments.
      if (specialize)
        kernel->setAttr(TileDialect::kMinProgramsPerSMAttrName,
                        rw.getI32IntegerAttr(1));
    });
    if (specialize) {
      // The producer, at the top of the kernel: step i's copies into stage
      // i mod S once the consumers released it (a fresh "empty" mbarrier
      // passes the wait for parity 1, so the first round does not wait).
      rw.setInsertionPointToStart(kernelBlock);
      InitBarriersOp::create(rw, loc, stages * loads.size(), barrierBase,
                             IntegerAttr());
      InitBarriersOp::create(rw, loc, stages, emptyBarriers,
                             rw.getI64IntegerAttr(32 * warps));
      auto produce = ProduceOp::create(rw, loc, 4, producerRegisters,
                                       consumerRegisters);
      rw.setInsertionPointToStart(&produce.getBody().emplaceBlock());
      IRMapping map;
      Block *regions[] = {kernelBlock, body};
      Value lb = cloneInto(rw, loop.getLowerBound(), regions, map);
      Value ub = cloneInto(rw, loop.getUpperBound(), regions, map);
      Value step = cloneInto(rw, loop.getStep(), regions, map);
      Value c0 = constant(0), c1 = constant(1);
      auto steps = scf::ForOp::create(rw, loc, lb, ub, step,
                                      ValueRange{c0, c0});
      rw.setInsertionPointToStart(steps.getBody());
      Value st = steps.getRegionIterArgs()[0];
      Value ph = steps.getRegionIterArgs()[1];
      BarrierWaitOp::create(rw, loc, st,
                            arith::SubIOp::create(rw, loc, c1, ph),
                            emptyBarriers, /*local=*/true);
      map.map(iv, steps.getInductionVar());
      copies(st, map, regions);
      auto [nextSt, nextPh] = advance(st, ph);
      scf::YieldOp::create(rw, loc, ValueRange{nextSt, nextPh});
    } else {
      // Steps 0 .. S - 2's copies before the loop, for the steps it runs.
      rw.setInsertionPoint(loop);
      if (tma)
        InitBarriersOp::create(rw, loc, stages * loads.size(), barrierBase,
                               IntegerAttr());
      if (release)
        InitBarriersOp::create(rw, loc, stages, emptyBarriers,
                               rw.getI64IntegerAttr(32 * warps));
      for (int64_t t = 0; t + 1 < stages; ++t)
        copiesIfRuns(arith::AddIOp::create(
                         rw, loc, loop.getLowerBound(),
                         arith::MulIOp::create(rw, loc, loop.getStep(),
                                               constant(t))),
                     constant(t), loop.getUpperBound());
    }

    // The invariant operands: copied once, at the loads (their offsets are
    // defined there), and waited for just before the loop.
    if (!invariant.empty()) {
      rw.setInsertionPoint(invariant.front());
      InitBarriersOp::create(rw, loc, 1, invariantBarrier, IntegerAttr());
      for (auto [j, load] : llvm::enumerate(invariant)) {
        rw.setInsertionPoint(load);
        RankedTensorType t = load.getType();
        auto copy = AsyncLoadOp::create(
            rw, load.getLoc(),
            RankedTensorType::get(t.getShape(), t.getElementType(),
                                  SharedLayoutAttr::get(rw.getContext())),
            load.getSource(), load.getOffsets(), load.getDims(), constant(0),
            1, invariantOffsets[j], rw.getI64IntegerAttr(invariantBarrier));
        rw.replaceOp(load, copy.getResult());
      }
      rw.setInsertionPoint(loop);
      BarrierWaitOp::create(rw, loc, constant(0), constant(0),
                            invariantBarrier, /*local=*/true);
    }

    // The loop carries the current stage and (TMA) the parity of its
    // barriers' phase.
    rw.setInsertionPoint(loop);
    SmallVector<Value> inits(loop.getInitArgs());
    unsigned oldCount = inits.size();
    inits.push_back(constant(0));
    if (tma)
      inits.push_back(constant(0));
    scf::ForOp newLoop = rebuildWithCarried(rw, loop, inits);
    Block *newBody = newLoop.getBody();
    body = newBody;
    iv = newLoop.getInductionVar();
    Value stage = newBody->getArgument(1 + oldCount);
    Value phase = tma ? newBody->getArgument(2 + oldCount) : Value();

    // This step's copies have landed. Unspecialized, every thread is then
    // also past the previous step, whose buffers the copies of step
    // i + S - 1 reuse; they start here. (One barrier after the last wait
    // serves all the rings.)
    rw.setInsertionPointToStart(newBody);
    if (tma) {
      for (size_t j = 0; j < loads.size(); ++j)
        BarrierWaitOp::create(rw, loc, stage, phase, fullBarriersOf(j),
                              /*local=*/specialize || release ||
                                  j + 1 < loads.size(),
                              /*leader=*/false);
    } else {
      AsyncWaitOp::create(rw, loc, 0);
    }
    // Released rings: before the copies of step i = n + S - 1 (n this
    // step's number) into stage i mod S, the copying thread waits for the
    // stage's release by step i - S; that is the empty mbarrier's
    // (i / S)-th phase, of parity (i / S + 1) mod 2 (for i < S the
    // parity 1 a fresh barrier passes).
    Value releaseParity;
    if (release) {
      Value n = arith::DivUIOp::create(
          rw, loc, arith::SubIOp::create(rw, loc, iv, newLoop.getLowerBound()),
          newLoop.getStep());
      Value round = arith::DivUIOp::create(
          rw, loc, arith::AddIOp::create(rw, loc, n, constant(stages - 1)),
          constant(stages));
      releaseParity = arith::RemUIOp::create(
          rw, loc, arith::AddIOp::create(rw, loc, round, constant(1)),
          constant(2));
    }
    if (!specialize)
      copiesIfRuns(
          arith::AddIOp::create(
              rw, loc, iv,
              arith::MulIOp::create(rw, loc, newLoop.getStep(),
                                    constant(stages - 1))),
          // (stage + S - 1) mod S: the stage before this one
          arith::SelectOp::create(
              rw, loc,
              arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, stage,
                                    constant(0)),
              constant(stages - 1),
              arith::SubIOp::create(rw, loc, stage, constant(1))),
          newLoop.getUpperBound(), releaseParity);
    for (auto [j, load] : llvm::enumerate(loads))
      rw.replaceOp(load, RingBufferOp::create(rw, loc, bufferTypes[j], stage,
                                              stages, offsets[j])
                             .getResult());
    auto yield = cast<scf::YieldOp>(newBody->getTerminator());
    rw.setInsertionPoint(yield);
    if (specialize || release) // the step's reads are done (products waited)
      BarrierArriveOp::create(rw, loc, stage, emptyBarriers);
    SmallVector<Value> yielded(yield.getOperands());
    if (tma) {
      auto [nextStage, nextPhase] = advance(stage, phase);
      yielded.push_back(nextStage);
      yielded.push_back(nextPhase);
    } else {
      yielded.push_back(
          arith::SubIOp::create(rw, loc, constant(1), stage));
    }
    rw.modifyOpInPlace(yield, [&] { yield->setOperands(yielded); });

    // Every copy started was for a step the loop ran and waited for. The
    // barriers' bytes stay reserved, so they need no invalidation unless
    // scratch may follow (unspecialized kernels keep the old contract).
    rw.setInsertionPointAfter(newLoop);
    if (!specialize) {
      if (tma)
        InvalBarriersOp::create(rw, loc, stages * loads.size(), barrierBase);
      if (release)
        InvalBarriersOp::create(rw, loc, stages, emptyBarriers);
      else
        AsyncWaitOp::create(rw, loc, 0);
      if (!invariant.empty())
        InvalBarriersOp::create(rw, loc, 1, invariantBarrier);
    }
    rw.replaceOp(loop, newLoop.getResults().take_front(oldCount));
    return success();
  }
};

struct TilePipelineOperandsPass
    : public hyla::impl::TilePipelineOperandsBase<TilePipelineOperandsPass> {
  using TilePipelineOperandsBase::TilePipelineOperandsBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PipelineOperands>(&getContext(), tma);
    patterns.add<StageLoopOperands>(&getContext(), tma, warpSpecialize,
                                    releaseRings, producerRegisters,
                                    consumerRegisters);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
