//===- TensorMapParams.cpp - tensor maps as grid-constant parameters ------===//
//
// cp.async.bulk.tensor reads its tensor map from the param, const or global
// space. The runtime passes each map by value as a kernel parameter; marked
// byval alone, NVPTX would copy it to local memory as soon as its address
// is taken. As a grid constant the address is the parameter's own.
//
//===----------------------------------------------------------------------===//

#include "lowering/Passes.h"

namespace hyla {
#define GEN_PASS_DEF_TENSORMAPPARAMS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

struct TensorMapParamsPass
    : public hyla::impl::TensorMapParamsBase<TensorMapParamsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    // CUtensorMap: 128 bytes, 64-byte aligned.
    auto bytes = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), 128);
    WalkResult result = getOperation().walk([&](LLVM::LLVMFuncOp fn) {
      auto maps = fn->getAttrOfType<ArrayAttr>(kTensorMapsAttr);
      if (!maps)
        return WalkResult::advance();
      for (Attribute a : maps) {
        auto dict = dyn_cast<DictionaryAttr>(a);
        auto param = dict ? dict.getAs<IntegerAttr>("param") : IntegerAttr();
        if (!param || param.getInt() < 0 ||
            param.getInt() >= fn.getNumArguments() ||
            !isa<LLVM::LLVMPointerType>(
                fn.getArgument(param.getInt()).getType())) {
          fn.emitError() << kTensorMapsAttr
                         << " names no pointer parameter: " << a;
          return WalkResult::interrupt();
        }
        unsigned i = param.getInt();
        fn.setArgAttr(i, LLVM::LLVMDialect::getByValAttrName(),
                      TypeAttr::get(bytes));
        fn.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                      b.getI64IntegerAttr(64));
        fn.setArgAttr(i, NVVM::NVVMDialect::getGridConstantAttrName(),
                      b.getUnitAttr());
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
