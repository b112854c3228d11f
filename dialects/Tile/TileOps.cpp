//===- TileOps.cpp - hyla_tile operations ---------------------------------===//

#include "dialects/Tile/TileOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// Cluster ops live in a kernel that declares its clusters.
static LogicalResult verifyInClusterKernel(Operation *op) {
  auto kernel = op->getParentOfType<func::FuncOp>();
  if (!kernel || !kernel->hasAttr(TileDialect::kClusterDimsAttrName))
    return op->emitOpError() << "needs a kernel with '"
                             << TileDialect::kClusterDimsAttrName << "'";
  return success();
}

LogicalResult ClusterRankOp::verify() { return verifyInClusterKernel(*this); }

LogicalResult ClusterSumOp::verify() { return verifyInClusterKernel(*this); }

LogicalResult LoadOp::verify() {
  if (failed(verifyBounds(*this, getSource().getType(), getBounds().size())))
    return failure();
  return verifyTileAccess(*this, getSource().getType(), getType(),
                          getOffsets().size(), getDims());
}

/// A buffer of a shared-memory ring as wgmma reads it: a 2-D tile of 16-
/// or 32-bit elements in whole 128-byte swizzle rows, rings at
/// 1024-aligned offsets.
static LogicalResult verifyRingBuffer(Operation *op, RankedTensorType t,
                                      int64_t stages, int64_t offset) {
  if (!isa_and_nonnull<SharedLayoutAttr>(t.getEncoding()))
    return op->emitOpError("result must be encoded #hyla_tile.shared");
  unsigned bits = t.getElementType().getIntOrFloatBitWidth();
  if (t.getRank() != 2 || (bits != 16 && bits != 32))
    return op->emitOpError("buffers hold 2-D tiles of 16- or 32-bit "
                           "elements only");
  int64_t rowElements = 128 * 8 / bits;
  if (t.getDimSize(1) % rowElements != 0)
    return op->emitOpError() << "tile rows must be whole 128-byte swizzle "
                                "rows (a multiple of "
                             << rowElements << " elements), got "
                             << t.getDimSize(1);
  if (stages < 1)
    return op->emitOpError() << "needs at least one stage, got " << stages;
  if (offset < 0 || offset % 1024 != 0)
    return op->emitOpError() << "buffer offset must be a non-negative "
                                "multiple of 1024 bytes (the swizzle atom), "
                                "got "
                             << offset;
  return success();
}

LogicalResult RingBufferOp::verify() {
  return verifyRingBuffer(*this, getType(),
                          static_cast<int64_t>(getStages()),
                          static_cast<int64_t>(getOffset()));
}

LogicalResult AsyncLoadOp::verify() {
  RankedTensorType t = getType();
  if (failed(verifyRingBuffer(*this, t, static_cast<int64_t>(getStages()),
                              static_cast<int64_t>(getOffset()))))
    return failure();
  unsigned bits = t.getElementType().getIntOrFloatBitWidth();
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
  if (getLocal() && getLeader())
    return emitOpError("is either local (every thread waits) or leader (one "
                       "thread waits), not both");
  return verifyBarrierOffset(*this, getOffset());
}

LogicalResult BarrierArriveOp::verify() {
  return verifyBarrierOffset(*this, getOffset());
}

/// setmaxnreg takes multiples of 8 in [24, 256].
static LogicalResult verifyRegisterCount(Operation *op, StringRef name,
                                         int64_t count) {
  if (count < 24 || count > 256 || count % 8 != 0)
    return op->emitOpError() << name << " must be a multiple of 8 in [24, "
                                        "256] (PTX setmaxnreg), got "
                             << count;
  return success();
}

LogicalResult ProduceOp::verify() {
  int64_t warps = static_cast<int64_t>(getWarps());
  if (warps % 4 != 0)
    return emitOpError() << "needs whole warpgroups (warps a multiple of 4), "
                            "got "
                         << warps;
  if (failed(verifyRegisterCount(*this, "registers",
                                 static_cast<int64_t>(getRegisters()))) ||
      failed(verifyRegisterCount(
          *this, "consumer_registers",
          static_cast<int64_t>(getConsumerRegisters()))))
    return failure();
  Operation *kernel = (*this)->getParentOp();
  if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName) ||
      kernel->getNumRegions() != 1 ||
      (*this)->getBlock() != &kernel->getRegion(0).front())
    return emitOpError("must be in the entry block of a hyla_tile.kernel");
  int64_t consumers = TileDialect::getNumWarps(kernel);
  if (consumers % 4 != 0)
    return emitOpError() << "needs a kernel of whole warpgroups "
                            "(hyla_tile.num_warps a multiple of 4), got "
                         << consumers;
  if (consumers + warps > 32)
    return emitOpError() << "would launch " << consumers + warps
                         << " warps; a program has at most 32";
  for (Operation &before : *(*this)->getBlock()) {
    if (&before == getOperation())
      break;
    if (!isa<InitBarriersOp, WaitPriorGridOp>(before) &&
        !isMemoryEffectFree(&before)) {
      InFlightDiagnostic diag =
          emitOpError() << "must come before every op with memory effects "
                           "but hyla_tile.init_barriers and "
                           "hyla_tile.wait_prior_grid (ops before it run on "
                           "the producer warps too)";
      diag.attachNote(before.getLoc()) << "this op has memory effects";
      return diag;
    }
  }
  for (Operation &after : llvm::make_range(std::next((*this)->getIterator()),
                                           (*this)->getBlock()->end()))
    if (isa<ProduceOp>(after))
      return emitOpError("must be the kernel's only hyla_tile.produce");
  WalkResult cpAsync = getBody().walk([](AsyncLoadOp copy) {
    return copy.getBarriers() ? WalkResult::advance()
                              : WalkResult::interrupt();
  });
  if (cpAsync.wasInterrupted())
    return emitOpError("runs on one thread: its async_load copies must "
                       "complete on mbarriers (`barriers at`), not cp.async");
  return success();
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
