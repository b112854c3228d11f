//===- EarlyInputs.cpp - kernel inputs readable before the previous grid ends ===//
//
// A decode step is a chain of small kernels, each started early
// (programmatic dependent launch) and waiting for the one before it. What a
// kernel reads that the kernel before it does not write (the recurrent
// state cache, weights) can be loaded before that wait. This pass finds
// those inputs per dispatch; hyla-tile-grid-dependency places the wait.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "passes/Buffers.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace hyla {
#define GEN_PASS_DEF_EARLYINPUTS
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

/// The inputs of `d` that `prev` (the dispatch launched just before it)
/// neither produces nor updates in place.
SmallVector<int64_t> earlyInputs(DispatchOp d, DispatchOp prev) {
  DenseSet<Value> written;
  for (unsigned i = 0; i < prev.getNumResults(); ++i) {
    written.insert(prev.getResult(i));
    if (int64_t j = prev.getTiedInput(i); j >= 0)
      written.insert(rootBuffer(prev.getInputs()[j]));
  }
  SmallVector<int64_t> early;
  for (auto [j, input] : llvm::enumerate(d.getInputs()))
    if (!written.contains(rootBuffer(input)))
      early.push_back(static_cast<int64_t>(j));
  return early;
}

struct EarlyInputsPass : public hyla::impl::EarlyInputsBase<EarlyInputsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Each dispatch's early inputs; dispatches not listed have none.
    llvm::MapVector<Operation *, SmallVector<int64_t>> perDispatch;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn->hasAttr(tile::TileDialect::kKernelAttrName) || fn.isExternal())
        continue;
      DispatchOp prev;
      for (Operation &op : fn.getBody().front()) {
        if (auto d = dyn_cast<DispatchOp>(op)) {
          if (prev)
            perDispatch[d] = earlyInputs(d, prev);
          prev = d;
        } else if (op.getNumRegions() != 0 || !isMemoryEffectFree(&op)) {
          prev = {}; // something else ran in between: nothing is early
        }
      }
    }

    // Group each kernel's dispatches by their early inputs.
    SymbolTable symbols(module);
    llvm::MapVector<StringAttr,
                    llvm::MapVector<SmallVector<int64_t>, SmallVector<DispatchOp>>>
        groups;
    module.walk([&](DispatchOp d) {
      auto it = perDispatch.find(d);
      SmallVector<int64_t> early =
          it == perDispatch.end() ? SmallVector<int64_t>() : it->second;
      groups[d.getKernelAttr().getAttr()][early].push_back(d);
    });
    for (auto &[name, byEarly] : groups) {
      auto kernel = symbols.lookup<func::FuncOp>(name);
      if (!kernel)
        continue; // the dispatch verifier reports it
      bool first = true;
      for (auto &[early, dispatches] : byEarly) {
        func::FuncOp target = kernel;
        if (!first) {
          // Another set of early inputs: a copy of the kernel for it.
          std::string suffix = "_early";
          for (auto [k, i] : llvm::enumerate(early))
            suffix += (k ? "_" : "") + std::to_string(i);
          target = kernel.clone();
          target.setSymName((kernel.getSymName() + suffix).str());
          symbols.insert(target, Block::iterator(kernel->getNextNode()));
          for (DispatchOp d : dispatches)
            d.setKernelAttr(FlatSymbolRefAttr::get(target.getSymNameAttr()));
        }
        first = false;
        if (!early.empty())
          target->setAttr(tile::TileDialect::kEarlyArgsAttrName,
                          DenseI64ArrayAttr::get(&getContext(), early));
      }
    }
  }
};

} // namespace
