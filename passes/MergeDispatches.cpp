//===- MergeDispatches.cpp - one launch for independent dispatches --------===//
//
// A decode step is a chain of small kernels whose cost is mostly launch
// latency. Dispatches that do not depend on each other (the three short
// convs of a GDN layer and its gates) can run as one grid: the merged
// kernel's programs are the concatenation of each part's programs, and each
// program runs the part its linear index falls into, with that part's
// program ids recovered from the index.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "passes/Buffers.h"
#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace hyla {
#define GEN_PASS_DEF_MERGEDISPATCHES
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

/// A host-side size the merged kernel can compute itself: a constant, a
/// dynamic dim the dispatch passes with one of its operands (the kernel
/// receives it, and the runtime checks it against the tensor), `tensor.dim`
/// of an operand, or integer arithmetic on such sizes.
bool isKernelComputable(DispatchOp op, Value size, unsigned depth = 0) {
  if (depth > 8)
    return false;
  if (matchPattern(size, m_Constant()))
    return true;
  if (llvm::is_contained(op.getInputDims(), size) ||
      llvm::is_contained(op.getResultDims(), size))
    return true;
  Operation *def = size.getDefiningOp();
  if (!def)
    return false;
  if (auto dim = dyn_cast<tensor::DimOp>(def))
    return llvm::is_contained(op.getInputs(), dim.getSource()) &&
           dim.getConstantIndex().has_value();
  if (!isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivUIOp,
           arith::DivSIOp, arith::CeilDivUIOp, arith::CeilDivSIOp,
           arith::RemUIOp, arith::MinUIOp, arith::MaxUIOp>(def))
    return false;
  return llvm::all_of(def->getOperands(), [&](Value v) {
    return isKernelComputable(op, v, depth + 1);
  });
}

/// Computes `size` (isKernelComputable) inside the merged kernel, whose
/// arguments for the dispatch's inputs then results are `args`.
Value computeInKernel(TileBuilder &x, DispatchOp op, ValueRange args,
                      Value size) {
  APInt c;
  if (matchPattern(size, m_ConstantInt(&c)))
    return x.index(c.getSExtValue());
  // A dim the dispatch passes: the same dim of the kernel argument.
  auto passed = [&](TypeRange types, bool results) -> Value {
    for (auto [i, t] : llvm::enumerate(types)) {
      auto rt = cast<RankedTensorType>(t);
      ValueRange dyn = results ? op.getResultDynamicDims(i)
                               : op.getInputDynamicDims(i);
      unsigned k = 0;
      for (int64_t d = 0; d < rt.getRank(); ++d)
        if (rt.isDynamicDim(d) && dyn[k++] == size)
          return x.dim(args[results ? op.getInputs().size() + i : i], d);
    }
    return Value();
  };
  if (Value v = passed(op.getInputs().getTypes(), false))
    return v;
  if (Value v = passed(op.getResultTypes(), true))
    return v;
  Operation *def = size.getDefiningOp();
  if (auto dim = dyn_cast<tensor::DimOp>(def)) {
    unsigned i = llvm::find(op.getInputs(), dim.getSource()) -
                 op.getInputs().begin();
    return x.dim(args[i], *dim.getConstantIndex());
  }
  IRMapping map;
  for (Value operand : def->getOperands())
    map.map(operand, computeInKernel(x, op, args, operand));
  return x.builder().clone(*def, map)->getResult(0);
}

bool isConstantIndex(Value v, int64_t want) {
  APInt c;
  return matchPattern(v, m_ConstantInt(&c)) && c.getSExtValue() == want;
}

/// Grid y = z = 1: the part's linear index is its program_id 0.
bool hasLinearGrid(DispatchOp op) {
  return isConstantIndex(op.getGrid()[1], 1) &&
         isConstantIndex(op.getGrid()[2], 1);
}

/// The merged kernel can split a linear index into the part's program ids
/// (it needs grid x and y) ...
bool canSplitGrid(DispatchOp op) {
  return hasLinearGrid(op) || (isKernelComputable(op, op.getGrid()[0]) &&
                               isKernelComputable(op, op.getGrid()[1]));
}

/// ... and, for every part but the last, find where the part ends (x, y, z).
bool canEndGrid(DispatchOp op) {
  return llvm::all_of(op.getGrid(),
                      [&](Value v) { return isKernelComputable(op, v); });
}

/// The merged kernel, built from the kernels of `parts` in order.
func::FuncOp buildMergedKernel(OpBuilder &b, ModuleOp module,
                               MutableArrayRef<DispatchOp> parts,
                               MutableArrayRef<func::FuncOp> kernels) {
  std::string name;
  SmallVector<Type> argTypes;
  int64_t numWarps = 1;
  std::optional<int64_t> minPerSM;
  bool minPerSMAgrees = true;
  IntegerAttr numStages; // the parts' largest pipelining depth
  for (auto [i, k] : llvm::enumerate(kernels)) {
    name += (i ? "__" : "") + k.getSymName().str();
    if (auto s = k->getAttrOfType<IntegerAttr>(
            tile::TileDialect::kNumStagesAttrName))
      if (!numStages || s.getInt() > numStages.getInt())
        numStages = s;
    numWarps = tile::TileDialect::getNumWarps(k); // equal in a group
    auto m = k->getAttrOfType<IntegerAttr>(
        tile::TileDialect::kMinProgramsPerSMAttrName);
    std::optional<int64_t> v =
        m ? std::optional<int64_t>(m.getInt()) : std::nullopt;
    if (i == 0)
      minPerSM = v;
    else if (v != minPerSM)
      minPerSMAgrees = false;
  }
  // Kernel arguments: every part's inputs, then every part's results.
  SmallVector<SmallVector<unsigned>> argIndex(parts.size());
  unsigned next = 0;
  for (auto [i, p] : llvm::enumerate(parts))
    for (Value v : p.getInputs()) {
      argIndex[i].push_back(next++);
      argTypes.push_back(memrefFor(cast<RankedTensorType>(v.getType())));
    }
  for (auto [i, p] : llvm::enumerate(parts))
    for (Type t : p.getResultTypes()) {
      argIndex[i].push_back(next++);
      argTypes.push_back(memrefFor(cast<RankedTensorType>(t)));
    }

  func::FuncOp fn = getOrCreateKernel(
      b, module, name, argTypes, numWarps, [&](TileBuilder &tb, ValueRange a) {
        // A part's grid size, computed in the kernel.
        auto sizeOf = [&](TileBuilder &x, size_t part, unsigned d) {
          SmallVector<Value> args;
          for (unsigned j : argIndex[part])
            args.push_back(a[j]);
          return computeInKernel(x, parts[part], args,
                                 parts[part].getGrid()[d]);
        };
        Value linear = tb.programId(0);
        // Part `i` for the programs from `start` on; its program ids.
        auto emitPart = [&](TileBuilder &x, size_t i, Value start) {
          OpBuilder &bb = x.builder();
          Location l = x.getLoc();
          Value local = arith::SubIOp::create(bb, l, linear, start);
          Value ids[3];
          if (hasLinearGrid(parts[i])) {
            ids[0] = local;
            ids[1] = ids[2] = x.index(0);
          } else {
            Value gx = sizeOf(x, i, 0), gy = sizeOf(x, i, 1);
            ids[0] = arith::RemUIOp::create(bb, l, local, gx);
            Value rest = arith::DivUIOp::create(bb, l, local, gx);
            ids[1] = arith::RemUIOp::create(bb, l, rest, gy);
            ids[2] = arith::DivUIOp::create(bb, l, rest, gy);
          }
          IRMapping map;
          for (auto [j, arg] : llvm::enumerate(kernels[i].getArguments()))
            map.map(arg, a[argIndex[i][j]]);
          for (Operation &op :
               kernels[i].getBody().front().without_terminator()) {
            if (auto pid = dyn_cast<tile::ProgramIdOp>(op)) {
              map.map(pid.getResult(), ids[pid.getDim()]);
              continue;
            }
            // Program ids nested in regions: replaced after the copy, whose
            // own values are the only users.
            Operation *copy = bb.clone(op, map);
            SmallVector<tile::ProgramIdOp> pids;
            copy->walk([&](tile::ProgramIdOp p) { pids.push_back(p); });
            for (tile::ProgramIdOp p : pids) {
              p.getResult().replaceAllUsesWith(ids[p.getDim()]);
              p.erase();
            }
          }
        };
        // if (linear < end_0) part 0 else if (linear < end_1) part 1 ... else
        // the last part.
        std::function<void(TileBuilder &, size_t, Value)> emitFrom =
            [&](TileBuilder &x, size_t i, Value start) {
              if (i + 1 == parts.size())
                return emitPart(x, i, start);
              Value end = x.addi(
                  start, x.muli(x.muli(sizeOf(x, i, 0), sizeOf(x, i, 1)),
                                sizeOf(x, i, 2)));
              Value inPart =
                  arith::CmpIOp::create(x.builder(), x.getLoc(),
                                        arith::CmpIPredicate::ult, linear, end);
              scf::IfOp::create(
                  x.builder(), x.getLoc(), inPart,
                  [&](OpBuilder &bb, Location l) {
                    TileBuilder y(bb, l);
                    emitPart(y, i, start);
                    scf::YieldOp::create(bb, l);
                  },
                  [&](OpBuilder &bb, Location l) {
                    TileBuilder y(bb, l);
                    emitFrom(y, i + 1, end);
                    scf::YieldOp::create(bb, l);
                  });
            };
        emitFrom(tb, 0, tb.index(0));
      });
  if (minPerSM && minPerSMAgrees)
    fn->setAttr(tile::TileDialect::kMinProgramsPerSMAttrName,
                b.getI32IntegerAttr(*minPerSM));
  if (numStages)
    fn->setAttr(tile::TileDialect::kNumStagesAttrName, numStages);
  return fn;
}

/// Replaces `parts` (in block order, mutually independent, every operand
/// defined before the first) by one dispatch at the first one's position.
void mergeGroup(ModuleOp module, MutableArrayRef<DispatchOp> parts) {
  DispatchOp first = parts.front();
  OpBuilder b(first);
  Location loc = first.getLoc();
  SmallVector<func::FuncOp> kernels;
  for (DispatchOp p : parts)
    kernels.push_back(
        module.lookupSymbol<func::FuncOp>(p.getKernelAttr().getValue()));
  func::FuncOp merged = buildMergedKernel(b, module, parts, kernels);

  // Host side: the merged grid is the sum of the parts' program counts.
  Value total;
  SmallVector<Value> inputs;
  SmallVector<SmallVector<Value>> inputDims, resultDims;
  SmallVector<Type> resultTypes;
  SmallVector<int64_t> tied;
  unsigned inputBase = 0;
  for (DispatchOp p : parts) {
    ValueRange g = p.getGrid();
    Value count = arith::MulIOp::create(
        b, loc, arith::MulIOp::create(b, loc, g[0], g[1]), g[2]);
    total = total ? arith::AddIOp::create(b, loc, total, count).getResult()
                  : count;
    for (auto [i, v] : llvm::enumerate(p.getInputs())) {
      inputs.push_back(v);
      inputDims.push_back(llvm::to_vector(p.getInputDynamicDims(i)));
    }
    for (auto [i, t] : llvm::enumerate(p.getResultTypes())) {
      resultTypes.push_back(t);
      resultDims.push_back(llvm::to_vector(p.getResultDynamicDims(i)));
      int64_t j = p.getTiedInput(i);
      tied.push_back(j < 0 ? -1 : j + inputBase);
    }
    inputBase += p.getInputs().size();
  }
  bool anyTied = llvm::any_of(tied, [](int64_t t) { return t >= 0; });
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  DispatchOp dispatch = createDispatch(
      b, loc, merged, {total, one, one}, inputs, inputDims, resultTypes,
      resultDims, anyTied ? ArrayRef<int64_t>(tied) : ArrayRef<int64_t>());
  unsigned r = 0;
  for (DispatchOp p : parts) {
    unsigned n = p.getNumResults();
    p.replaceAllUsesWith(dispatch.getResults().slice(r, n));
    r += n;
    p.erase();
  }
}

struct MergeDispatchesPass
    : public hyla::impl::MergeDispatchesBase<MergeDispatchesPass> {
  using MergeDispatchesBase::MergeDispatchesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<SmallVector<DispatchOp>> groups;
    module.walk([&](Block *block) {
      SmallVector<DispatchOp> group;
      auto flush = [&] {
        if (group.size() > 1)
          groups.push_back(group);
        group.clear();
      };
      for (Operation &op : llvm::make_early_inc_range(*block)) {
        auto d = dyn_cast<DispatchOp>(op);
        if (!d)
          continue;
        if (!group.empty() && !join(group, d))
          flush();
        group.push_back(d);
      }
      flush();
    });
    for (auto &g : groups)
      mergeGroup(module, g);
    // Kernels no dispatch launches any more.
    SmallVector<func::FuncOp> unused;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(tile::TileDialect::kKernelAttrName) &&
          SymbolTable::symbolKnownUseEmpty(fn, module))
        unused.push_back(fn);
    for (func::FuncOp fn : unused)
      fn.erase();
  }

  func::FuncOp kernelOf(DispatchOp d) {
    return getOperation().lookupSymbol<func::FuncOp>(
        d.getKernelAttr().getValue());
  }
  static bool hasDot(func::FuncOp kernel) {
    return kernel
        .walk([](tile::DotOp) { return WalkResult::interrupt(); })
        .wasInterrupted();
  }

  /// Whether `d` (after every member of `group` in the block) can run in
  /// the same grid as `group`; if so, moves what d's operands need above the
  /// group's first member, where the merged dispatch will be.
  bool join(ArrayRef<DispatchOp> group, DispatchOp d) {
    if (static_cast<int64_t>(group.size()) >= maxParts)
      return false;
    // Same CTA shape, and no tensor-core kernels unless asked: those are
    // sized by their tiles and throughput-bound, and merging one with a
    // lighter kernel would run both at the heavier one's occupancy.
    func::FuncOp kernel = kernelOf(d), prevKernel = kernelOf(group.back());
    if (tile::TileDialect::getNumWarps(kernel) !=
        tile::TileDialect::getNumWarps(prevKernel))
      return false;
    if (!mergeMatmuls && (hasDot(kernel) || hasDot(prevKernel)))
      return false;
    // A clustered kernel's programs must keep their grid positions.
    if (kernel->hasAttr(tile::TileDialect::kClusterDimsAttrName) ||
        prevKernel->hasAttr(tile::TileDialect::kClusterDimsAttrName))
      return false;
    // The member that stops being last must have a grid the kernel can
    // split.
    if (!canSplitGrid(group.back()) || !canEndGrid(group.back()) ||
        !canSplitGrid(d))
      return false;
    // d's operands must not come from the group, and what computes them
    // after the group's start must be side-effect free (so it can move up).
    Operation *first = group.front();
    Block *block = d->getBlock();
    llvm::SetVector<Operation *> slice;
    SmallVector<Value> work(d->getOperands());
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *def = v.getDefiningOp();
      if (!def || def->getBlock() != block || def->isBeforeInBlock(first))
        continue;
      if (isa<DispatchOp>(def) || !isMemoryEffectFree(def) ||
          def->getNumRegions() != 0)
        return false;
      if (slice.insert(def))
        llvm::append_range(work, def->getOperands());
    }
    // Parts run concurrently: none may update in place a buffer another
    // reads.
    auto tiedRoots = [](DispatchOp op) {
      SmallVector<Value> roots;
      for (unsigned i = 0; i < op.getNumResults(); ++i)
        if (int64_t j = op.getTiedInput(i); j >= 0)
          roots.push_back(rootBuffer(op.getInputs()[j]));
      return roots;
    };
    auto reads = [](DispatchOp op, Value root) {
      return llvm::any_of(op.getInputs(),
                          [&](Value v) { return rootBuffer(v) == root; });
    };
    for (DispatchOp m : group) {
      for (Value root : tiedRoots(m))
        if (reads(d, root))
          return false;
      for (Value root : tiedRoots(d))
        if (reads(m, root))
          return false;
    }
    // Hoist the slice, keeping its order.
    SmallVector<Operation *> ordered(slice.begin(), slice.end());
    llvm::sort(ordered, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    for (Operation *op : ordered)
      op->moveBefore(first);
    return true;
  }
};

} // namespace
