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

int64_t TileDialect::getLaunchWarps(Operation *kernel) {
  int64_t warps = getNumWarps(kernel);
  if (kernel->getNumRegions() == 1 && !kernel->getRegion(0).empty())
    for (auto produce : kernel->getRegion(0).front().getOps<ProduceOp>())
      warps += static_cast<int64_t>(produce.getWarps());
  return warps;
}

int64_t TileDialect::getNumStages(Operation *kernel) {
  if (auto attr = kernel->getAttrOfType<IntegerAttr>(kNumStagesAttrName))
    return attr.getInt();
  return 2;
}

int64_t TileDialect::getReservedShared(Operation *kernel) {
  if (auto attr = kernel->getAttrOfType<IntegerAttr>(kReservedSharedAttrName))
    return attr.getInt();
  return 0;
}

SmallVector<int64_t, 3> TileDialect::getClusterDims(Operation *kernel) {
  if (auto attr = kernel->getAttrOfType<DenseI64ArrayAttr>(kClusterDimsAttrName))
    return SmallVector<int64_t, 3>(attr.asArrayRef());
  return {1, 1, 1};
}

/// A kernel's i32 setting in [lo, hi] (and a power of two if asked).
static LogicalResult verifyKernelInt(Operation *op, NamedAttribute attr,
                                     int64_t lo, int64_t hi, bool powerOfTwo) {
  StringRef name = attr.getName().getValue();
  auto value = dyn_cast<IntegerAttr>(attr.getValue());
  if (!value || !value.getType().isInteger(32))
    return op->emitError() << "'" << name << "' must be an i32 attribute";
  int64_t v = value.getInt();
  if (v < lo || v > hi || (powerOfTwo && (v & (v - 1)) != 0))
    return op->emitError() << "'" << name << "' must be "
                           << (powerOfTwo ? "a power of two " : "") << "from "
                           << lo << " to " << hi << ", got " << v;
  if (!op->hasAttr(TileDialect::kKernelAttrName))
    return op->emitError() << "'" << name
                           << "' is set on an op that is not a kernel";
  return success();
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
  if (attr.getName() == kNumWarpsAttrName)
    return verifyKernelInt(op, attr, 1, 16, /*powerOfTwo=*/true);
  if (attr.getName() == kNumStagesAttrName)
    return verifyKernelInt(op, attr, 2, 8, /*powerOfTwo=*/false);
  if (attr.getName() == kMinProgramsPerSMAttrName)
    return verifyKernelInt(op, attr, 1, 32, /*powerOfTwo=*/false);
  if (attr.getName() == kReservedSharedAttrName) {
    if (failed(verifyKernelInt(op, attr, 0, 1 << 20, /*powerOfTwo=*/false)))
      return failure();
    if (int64_t v = cast<IntegerAttr>(attr.getValue()).getInt(); v % 1024)
      return op->emitError() << "'" << kReservedSharedAttrName
                             << "' must be a multiple of 1024 (the swizzle "
                                "atom), got "
                             << v;
    return success();
  }
  if (attr.getName() == kOverlapProductsAttrName) {
    if (!isa<UnitAttr>(attr.getValue()) || !op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kOverlapProductsAttrName
                             << "' must be a unit attribute on a kernel";
    return success();
  }
  if (attr.getName() == kClusterDimsAttrName) {
    auto dims = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!dims || dims.size() != 3 || !op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kClusterDimsAttrName
                             << "' must be an array<i64> of 3 on a kernel";
    int64_t size = 1;
    for (int64_t d : dims.asArrayRef()) {
      if (d < 1)
        return op->emitError() << "'" << kClusterDimsAttrName
                               << "' sizes must be positive, got " << d;
      size *= d;
    }
    if (size > kMaxClusterSize)
      return op->emitError() << "'" << kClusterDimsAttrName
                             << "' asks for " << size
                             << " programs a cluster; at most "
                             << kMaxClusterSize;
    return success();
  }
  if (attr.getName() == kEarlyArgsAttrName) {
    auto args = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!args || !op->hasAttr(kKernelAttrName))
      return op->emitError() << "'" << kEarlyArgsAttrName
                             << "' must be an array<i64> on a kernel";
    // Argument numbers of the kernel as a func.func (lowerings change the
    // argument list).
    auto fn = dyn_cast<func::FuncOp>(op);
    int64_t limit = fn ? int64_t(fn.getNumArguments()) : INT64_MAX;
    int64_t previous = -1;
    for (int64_t i : args.asArrayRef()) {
      if (i <= previous || i >= limit)
        return op->emitError()
               << "'" << kEarlyArgsAttrName
               << "' must list argument numbers in increasing order, below "
               << limit << ", got " << i;
      previous = i;
    }
    return success();
  }
  return op->emitError() << "unknown hyla_tile attribute '" << attr.getName().getValue()
                         << "'";
}
