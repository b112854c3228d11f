//===- TileOps.cpp - hyla_tile operations ---------------------------------===//

#include "dialects/Tile/TileOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace hyla::tile;

/// Shared checks of load and store: one offset per memref dim, `dims` maps
/// each tile dim to a distinct memref dim (in any order: a decreasing pair
/// reads or writes the tile transposed), and the element types agree.
static LogicalResult verifyTileAccess(Operation *op, MemRefType memref,
                                      RankedTensorType tile,
                                      size_t numOffsets,
                                      ArrayRef<int64_t> dims) {
  if (static_cast<int64_t>(numOffsets) != memref.getRank())
    return op->emitOpError() << "needs one offset per memref dim ("
                             << memref.getRank() << ") but has "
                             << numOffsets;
  if (static_cast<int64_t>(dims.size()) != tile.getRank())
    return op->emitOpError() << "dims must name one memref dim per tile dim ("
                             << tile.getRank() << ") but names "
                             << dims.size();
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= memref.getRank())
      return op->emitOpError() << "dims[" << i << "] = " << d
                               << " is not a dim of the rank-"
                               << memref.getRank() << " memref";
    if (llvm::is_contained(dims.take_front(i), d))
      return op->emitOpError() << "dims[" << i << "] = " << d
                               << " names a memref dim already mapped";
  }
  if (memref.getElementType() != tile.getElementType())
    return op->emitOpError() << "tile element type " << tile.getElementType()
                             << " differs from memref element type "
                             << memref.getElementType();
  return success();
}

/// `bounds`, when given, name one limit per memref dim.
static LogicalResult verifyBounds(Operation *op, MemRefType memref,
                                  size_t numBounds) {
  if (numBounds != 0 && numBounds != static_cast<size_t>(memref.getRank()))
    return op->emitOpError() << "needs one bound per memref dim ("
                             << memref.getRank() << "), got " << numBounds;
  return success();
}

LogicalResult LoadOp::verify() {
  if (failed(verifyBounds(*this, getSource().getType(), getBounds().size())))
    return failure();
  return verifyTileAccess(*this, getSource().getType(), getType(),
                          getOffsets().size(), getDims());
}

LogicalResult AsyncLoadOp::verify() {
  RankedTensorType t = getType();
  if (!isa_and_nonnull<SharedLayoutAttr>(t.getEncoding()))
    return emitOpError("result must be encoded #hyla_tile.shared");
  unsigned bits = t.getElementType().getIntOrFloatBitWidth();
  if (t.getRank() != 2 || (bits != 16 && bits != 32))
    return emitOpError("copies 2-D tiles of 16- or 32-bit elements only");
  int64_t rowElements = 128 * 8 / bits;
  if (t.getDimSize(1) % rowElements != 0)
    return emitOpError() << "tile rows must be whole 128-byte swizzle rows "
                            "(a multiple of "
                         << rowElements << " elements), got "
                         << t.getDimSize(1);
  MemRefType mt = getSource().getType();
  ArrayRef<int64_t> dims = getDims();
  if (dims.size() == 2 && dims[1] != mt.getRank() - 1)
    return emitOpError() << "tile rows must run along the memref's last "
                            "(contiguous) dim "
                         << mt.getRank() - 1 << ", got dims [" << dims[0]
                         << ", " << dims[1] << "]";
  if (mt.getRank() >= 1 && (mt.isDynamicDim(mt.getRank() - 1) ||
                            mt.getDimSize(mt.getRank() - 1) * bits % 128 != 0))
    return emitOpError("the memref's last dim must be static and a multiple "
                       "of 16 bytes (whole copy chunks per row)");
  int64_t stages = static_cast<int64_t>(getStages());
  int64_t offset = static_cast<int64_t>(getOffset());
  if (stages < 1)
    return emitOpError() << "needs at least one stage, got " << stages;
  if (offset < 0 || offset % 1024 != 0)
    return emitOpError() << "buffer offset must be a non-negative multiple "
                            "of 1024 bytes (the swizzle atom), got "
                         << offset;
  if (std::optional<int64_t> barriers = getBarriers()) {
    if (*barriers < 0 || *barriers % 8 != 0)
      return emitOpError() << "barriers offset must be a non-negative multiple "
                              "of 8 bytes, got "
                           << *barriers;
    if (mt.getRank() > 5)
      return emitOpError() << "copies through a tensor map read memrefs of "
                              "rank 5 at most, got "
                           << mt.getRank();
    if (t.getDimSize(0) > 256)
      return emitOpError() << "copies through a tensor map take at most 256 "
                              "rows, got "
                           << t.getDimSize(0);
  }
  auto plain = RankedTensorType::get(t.getShape(), t.getElementType());
  return verifyTileAccess(*this, mt, plain, getOffsets().size(), dims);
}

/// mbarriers are 8 bytes, 8-byte aligned.
static LogicalResult verifyBarrierOffset(Operation *op, int64_t offset) {
  if (offset < 0 || offset % 8 != 0)
    return op->emitOpError() << "offset must be a non-negative multiple of 8 "
                                "bytes, got "
                             << offset;
  return success();
}

LogicalResult InitBarriersOp::verify() {
  return verifyBarrierOffset(*this, getOffset());
}

LogicalResult InvalBarriersOp::verify() {
  return verifyBarrierOffset(*this, getOffset());
}

LogicalResult BarrierWaitOp::verify() {
  return verifyBarrierOffset(*this, getOffset());
}

LogicalResult PrefetchOp::verify() {
  MemRefType memref = getSource().getType();
  auto tile = RankedTensorType::get(getShape(), memref.getElementType());
  if (llvm::any_of(getShape(), [](int64_t s) { return s <= 0; }))
    return emitOpError("shape sizes must be positive");
  return verifyTileAccess(*this, memref, tile, getOffsets().size(), getDims());
}

LogicalResult StoreOp::verify() {
  if (failed(verifyBounds(*this, getDest().getType(), getBounds().size())))
    return failure();
  return verifyTileAccess(*this, getDest().getType(), getValue().getType(),
                          getOffsets().size(), getDims());
}

LogicalResult DotOp::verify() {
  RankedTensorType a = getA().getType(), b = getB().getType(),
                   acc = getAcc().getType();
  for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"a", a},
                         {"b", b},
                         {"acc", acc}})
    if (t.getRank() != 2)
      return emitOpError() << name << " must be a 2-D tile but has rank "
                           << t.getRank();
  if (a.getElementType() != b.getElementType())
    return emitOpError() << "a and b must share an element type, got "
                         << a.getElementType() << " and " << b.getElementType();
  int64_t m = a.getDimSize(getTransposeA() ? 1 : 0);
  int64_t ka = a.getDimSize(getTransposeA() ? 0 : 1);
  int64_t kb = b.getDimSize(getTransposeB() ? 1 : 0);
  int64_t n = b.getDimSize(getTransposeB() ? 0 : 1);
  if (ka != kb)
    return emitOpError() << "contraction sizes differ: a gives K = " << ka
                         << ", b gives K = " << kb;
  if (acc.getDimSize(0) != m || acc.getDimSize(1) != n)
    return emitOpError() << "acc must be " << m << "x" << n << " but is "
                         << acc.getDimSize(0) << "x" << acc.getDimSize(1);
  auto mma = dyn_cast_or_null<MmaLayoutAttr>(getType().getEncoding());
  if (getAsync() && !(mma && mma.getWarpgroup()))
    return emitOpError("an async dot must produce #hyla_tile.mma<warpgroup> "
                       "fragments");
  return success();
}

LogicalResult DotWaitOp::verify() {
  auto mma = dyn_cast_or_null<MmaLayoutAttr>(getType().getEncoding());
  if (!mma || !mma.getWarpgroup())
    return emitOpError("waits for #hyla_tile.mma<warpgroup> fragments only");
  if (static_cast<int64_t>(getPending()) < 0)
    return emitOpError() << "pending must be non-negative, got "
                         << static_cast<int64_t>(getPending());
  return success();
}

LogicalResult ReduceOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  // I64Attr getters return uint64_t; read as signed so -1 is reported as -1.
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis < 0 || axis >= in.getRank())
    return emitOpError() << "axis " << axis << " is not a dim of the rank-"
                         << in.getRank() << " input";
  SmallVector<int64_t> want(in.getShape());
  want.erase(want.begin() + axis);
  if (out.getShape() != ArrayRef<int64_t>(want))
    return emitOpError() << "result shape must be the input shape without "
                            "axis "
                         << axis << " but is " << out;
  if (in.getElementType() != out.getElementType())
    return emitOpError("result element type must match the input");
  if (!isa<FloatType>(in.getElementType()))
    return emitOpError("reduces float tiles only");
  return success();
}

LogicalResult BroadcastOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  ArrayRef<int64_t> dims = getDims();
  if (static_cast<int64_t>(dims.size()) != in.getRank())
    return emitOpError() << "dims must map each of the " << in.getRank()
                         << " input dims but has " << dims.size() << " entries";
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= out.getRank())
      return emitOpError() << "dims[" << i << "] = " << d
                           << " is not a dim of the rank-" << out.getRank()
                           << " result";
    if (i > 0 && d <= dims[i - 1])
      return emitOpError("dims must be strictly increasing");
    if (in.getDimSize(i) != out.getDimSize(d))
      return emitOpError() << "input dim " << i << " (" << in.getDimSize(i)
                           << ") must equal result dim " << d << " ("
                           << out.getDimSize(d) << ")";
  }
  if (in.getElementType() != out.getElementType())
    return emitOpError("result element type must match the input");
  return success();
}

LogicalResult IotaOp::verify() {
  int64_t rank = getType().getRank();
  int64_t dim = static_cast<int64_t>(getDim());
  if (dim < 0 || dim >= rank)
    return emitOpError() << "dim " << dim << " is not a dim of the rank-"
                         << rank << " result";
  return success();
}

LogicalResult CumsumOp::verify() {
  int64_t rank = getType().getRank();
  int64_t axis = static_cast<int64_t>(getAxis());
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis " << axis << " is not a dim of the rank-"
                         << rank << " input";
  return success();
}

LogicalResult UnitLowerInverseOp::verify() {
  RankedTensorType t = getType();
  if (t.getRank() != 2 || t.getDimSize(0) != t.getDimSize(1))
    return emitOpError() << "input must be a square 2-D tile, got " << t;
  return success();
}

LogicalResult ReshapeOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  if (in.getNumElements() != out.getNumElements())
    return emitOpError() << "cannot reshape " << in.getNumElements()
                         << " elements into " << out.getNumElements();
  if (in.getElementType() != out.getElementType())
    return emitOpError("result element type must match the input");
  return success();
}

LogicalResult ConvertLayoutOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  if (in.getShape() != out.getShape())
    return emitOpError("result shape must match the input");
  for (RankedTensorType t : {in, out})
    if (t.getEncoding() && !isa<MmaLayoutAttr>(t.getEncoding()))
      return emitOpError() << "unknown tile encoding " << t.getEncoding();
  if (in.getEncoding() == out.getEncoding())
    return emitOpError("converts a tile to the layout it already has");
  if (in.getEncoding() && out.getEncoding())
    return emitOpError("converts between two fragment layouts; one side must "
                       "be the thread layout (no encoding)");
  if (isa_and_nonnull<MmaLayoutAttr>(out.getEncoding()) && out.getRank() != 2)
    return emitOpError("#hyla_tile.mma needs a 2-D tile");
  return success();
}

OpFoldResult ConvertLayoutOp::fold(FoldAdaptor) {
  if (auto back = getInput().getDefiningOp<ConvertLayoutOp>())
    if (back.getInput().getType() == getType())
      return back.getInput();
  return {};
}

#define GET_OP_CLASSES
#include "dialects/Tile/TileOps.cpp.inc"
