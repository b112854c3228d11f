//===- TileDialect.cpp - the hyla_tile kernel dialect ---------------------===//

#include "dialects/Tile/TileDialect.h"
#include "dialects/Tile/TileOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace hyla::tile;

#include "dialects/Tile/TileDialect.cpp.inc"
#include "dialects/Tile/TileEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Tile/TileAttrs.cpp.inc"

// `#hyla_tile.mma` or `#hyla_tile.mma<warpgroup>`.
Attribute MmaLayoutAttr::parse(AsmParser &parser, Type) {
  bool warpgroup = false;
  if (succeeded(parser.parseOptionalLess())) {
    if (parser.parseKeyword("warpgroup") || parser.parseGreater())
      return {};
    warpgroup = true;
  }
  return MmaLayoutAttr::get(parser.getContext(), warpgroup);
}

void MmaLayoutAttr::print(AsmPrinter &printer) const {
  if (getWarpgroup())
    printer << "<warpgroup>";
}

void TileDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Tile/TileOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Tile/TileAttrs.cpp.inc"
      >();
}

int64_t TileDialect::getNumWarps(Operation *kernel) {
  if (auto attr = kernel->getAttrOfType<IntegerAttr>(kNumWarpsAttrName))
    return attr.getInt();
  return 4;
}

int64_t TileDialect::getNumStages(Operation *kernel) {
  if (auto attr = kernel->getAttrOfType<IntegerAttr>(kNumStagesAttrName))
    return attr.getInt();
  return 2;
}

LogicalResult TileDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == kKernelAttrName) {
    auto fn = dyn_cast<func::FuncOp>(op);
    if (!fn)
      return op->emitError() << "'" << kKernelAttrName
                             << "' may only be set on a func.func";
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << kKernelAttrName
                             << "' must be a unit attribute";
    if (fn.getFunctionType().getNumResults() != 0)
      return op->emitError() << "kernel @" << fn.getSymName()
                             << " must not return values";
    for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes())) {
      auto mt = dyn_cast<MemRefType>(t);
      if (!mt || !mt.getLayout().isIdentity())
        return op->emitError() << "kernel @" << fn.getSymName() << " argument "
                               << i << " must be a memref with the identity "
                                  "layout, got "
                               << t;
    }
    return success();
  }
  if (attr.getName() == kNumWarpsAttrName) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || !value.getType().isInteger(32))
      return op->emitError() << "'" << kNumWarpsAttrName
                             << "' must be an i32 attribute";
    int64_t w = value.getInt();
    if (w < 1 || w > 16 || (w & (w - 1)) != 0)
      return op->emitError() << "'" << kNumWarpsAttrName
                             << "' must be a power of two from 1 to 16, got "
                             << w;
    if (!op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kNumWarpsAttrName
                             << "' is set on an op that is not a kernel";
    return success();
  }
  if (attr.getName() == kNumStagesAttrName) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || !value.getType().isInteger(32))
      return op->emitError() << "'" << kNumStagesAttrName
                             << "' must be an i32 attribute";
    if (value.getInt() < 2 || value.getInt() > 8)
      return op->emitError() << "'" << kNumStagesAttrName
                             << "' must be from 2 to 8, got " << value.getInt();
    if (!op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kNumStagesAttrName
                             << "' is set on an op that is not a kernel";
    return success();
  }
  if (attr.getName() == kMinProgramsPerSMAttrName) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || !value.getType().isInteger(32))
      return op->emitError() << "'" << kMinProgramsPerSMAttrName
                             << "' must be an i32 attribute";
    if (value.getInt() < 1 || value.getInt() > 32)
      return op->emitError() << "'" << kMinProgramsPerSMAttrName
                             << "' must be from 1 to 32, got "
                             << value.getInt();
    if (!op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kMinProgramsPerSMAttrName
                             << "' is set on an op that is not a kernel";
    return success();
  }
  return op->emitError() << "unknown hyla_tile attribute '" << attr.getName().getValue()
                         << "'";
}
