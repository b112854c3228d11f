//===- TileToGPU.cpp - hyla_tile kernels as CUDA-style GPU kernels --------===//
//
// One program runs as one CTA of N = 32 * num_warps threads. A tile of E
// elements becomes, in every thread, a vector of ceil(E / N) slots: slot j
// of thread t holds element e = j * N + t (row-major order). Elementwise ops
// act on those vectors directly; anything that needs another thread's
// element goes through dynamic shared memory, bracketed by barriers; `dot`
// runs on the tensor cores with mma.sync.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "lowering/Passes.h"
#include "lowering/Targets.h"

#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_TILETOGPU
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

constexpr unsigned kGlobalSpace = 1, kSharedSpace = 3;

/// A kernel memref argument after lowering: its base pointer and sizes.
struct MemrefArg {
  Value ptr;                     // !llvm.ptr<1>
  SmallVector<Value> dims;       // index
  SmallVector<Value> dimsI32;    // i32 (bounds checks)
  SmallVector<Value> stridesI64; // row-major element strides
  Type elementType;
};

/// What the patterns of one kernel share.
struct KernelState {
  int64_t numThreads = 128;
  Value tid;      // index
  Value tidI32;   // i32
  Value smem;     // !llvm.ptr<3>, the dynamic shared memory
  int64_t sharedBytes = 0;
  DenseMap<Value, MemrefArg> memrefs;

  int64_t slots(int64_t numel) const {
    return std::max<int64_t>(1, (numel + numThreads - 1) / numThreads);
  }
  void needShared(int64_t bytes) { sharedBytes = std::max(sharedBytes, bytes); }
};

Type elementOf(Type t) { return cast<ShapedType>(t).getElementType(); }

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

//===----------------------------------------------------------------------===//
// Small IR helpers
//===----------------------------------------------------------------------===//

class Emitter {
public:
  Emitter(OpBuilder &b, Location loc, KernelState &st)
      : b(b), loc(loc), st(st) {}

  Value i32(int64_t v) { return arith::ConstantIntOp::create(b, loc, v, 32); }
  Value i64(int64_t v) { return arith::ConstantIntOp::create(b, loc, v, 64); }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value toI32(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
  }
  Value toIndex(Value i) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  }

  VectorType vec(int64_t n, Type elt) { return VectorType::get({n}, elt); }
  Value splat(Value scalar, int64_t n) {
    return vector::BroadcastOp::create(b, loc, vec(n, scalar.getType()),
                                       scalar);
  }
  Value constVec(ArrayRef<int32_t> values) {
    auto t = vec(values.size(), b.getI32Type());
    return arith::ConstantOp::create(b, loc, t,
                                     DenseElementsAttr::get(t, values));
  }
  Value splatConst(Type elt, double v, int64_t n) {
    auto t = vec(n, elt);
    Attribute a = isa<FloatType>(elt)
                      ? Attribute(b.getFloatAttr(elt, v))
                      : Attribute(b.getIntegerAttr(elt, static_cast<int64_t>(v)));
    return arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, a));
  }
  Value allTrue(int64_t n) {
    auto t = vec(n, b.getI1Type());
    return arith::ConstantOp::create(b, loc, t,
                                     DenseElementsAttr::get(t, true));
  }

  /// Linear element index of every slot of this thread: j * N + tid.
  Value elementIndices(int64_t n) {
    SmallVector<int32_t> base;
    for (int64_t j = 0; j < n; ++j)
      base.push_back(static_cast<int32_t>(j * st.numThreads));
    return arith::AddIOp::create(b, loc, constVec(base), splat(st.tidI32, n));
  }
  /// Slots that hold an element of a tile of `numel` elements.
  Value validSlots(Value elems, int64_t numel) {
    int64_t n = cast<VectorType>(elems.getType()).getNumElements();
    if (n * st.numThreads == numel)
      return allTrue(n);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, elems,
                                 splat(i32(numel), n));
  }
  /// Coordinates (vectors, one per dim) of linear element indices.
  SmallVector<Value> coords(Value elems, ArrayRef<int64_t> shape) {
    int64_t n = cast<VectorType>(elems.getType()).getNumElements();
    SmallVector<Value> out(shape.size());
    int64_t stride = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      Value q = stride == 1 ? elems
                            : Value(arith::DivUIOp::create(
                                  b, loc, elems, splat(i32(stride), n)));
      out[d] = d == 0 ? q
                      : Value(arith::RemUIOp::create(b, loc, q,
                                                     splat(i32(shape[d]), n)));
      stride *= shape[d];
    }
    return out;
  }

  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
  Value andI(Value a, Value c) { return arith::AndIOp::create(b, loc, a, c); }
  Value cmp(arith::CmpIPredicate p, Value a, Value c) {
    return arith::CmpIOp::create(b, loc, p, a, c);
  }

  /// Pointer(s) to element(s) `index` (i32 or vector of i32) of type `elt`
  /// in shared memory, starting at byte `base`.
  Value sharedPtr(int64_t base, Type elt, Value index) {
    Type ptrTy = LLVM::LLVMPointerType::get(b.getContext(), kSharedSpace);
    Value region = LLVM::GEPOp::create(b, loc, ptrTy, b.getI8Type(), st.smem,
                                       ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(base)});
    Type resTy = ptrTy;
    if (auto v = dyn_cast<VectorType>(index.getType()))
      resTy = VectorType::get(v.getShape(), ptrTy);
    return LLVM::GEPOp::create(b, loc, resTy, elt, region, ValueRange{index});
  }

  void barrier() { gpu::BarrierOp::create(b, loc); }

  /// Writes the valid slots of `values` (a thread's tile vector) to shared
  /// memory at byte `base`, element e at index `indexOf(e)`.
  void scatterShared(Value values, Value indices, Value mask, int64_t base) {
    Type elt = elementOf(values.getType());
    Value ptrs = sharedPtr(base, elt, indices);
    LLVM::masked_scatter::create(b, loc, values, ptrs, mask,
                                 elementBytes(elt));
  }
  Value gatherShared(Type elt, Value indices, Value mask, int64_t base) {
    int64_t n = cast<VectorType>(indices.getType()).getNumElements();
    Value ptrs = sharedPtr(base, elt, indices);
    return LLVM::masked_gather::create(b, loc, vec(n, elt), ptrs, mask,
                                       ValueRange{splatConst(elt, 0.0, n)},
                                       elementBytes(elt));
  }
  static int64_t elementBytes(Type t) {
    return std::max<int64_t>(1, t.getIntOrFloatBitWidth() / 8);
  }

  OpBuilder &b;
  Location loc;
  KernelState &st;
};

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

class TileTypeConverter : public TypeConverter {
public:
  explicit TileTypeConverter(const KernelState &st) {
    addConversion([](Type t) { return t; });
    addConversion([&st](RankedTensorType t) -> Type {
      return VectorType::get({st.slots(t.getNumElements())},
                             t.getElementType());
    });
    auto cast = [](OpBuilder &b, Type t, ValueRange in, Location loc) -> Value {
      return UnrealizedConversionCastOp::create(b, loc, t, in).getResult(0);
    };
    addSourceMaterialization(cast);
    addTargetMaterialization(cast);
  }
};

template <typename Op>
struct TilePattern : OpConversionPattern<Op> {
  TilePattern(const TypeConverter &tc, MLIRContext *ctx, KernelState &st)
      : OpConversionPattern<Op>(tc, ctx), st(st) {}
  KernelState &st;
};

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

/// Masks and pointers of a tile access (load or store).
struct GlobalAccess {
  Value ptrs, mask;
};

GlobalAccess globalAccess(Emitter &e, const MemrefArg &m, ValueRange offsets,
                          ArrayRef<int64_t> dims, ArrayRef<int64_t> shape,
                          int64_t n) {
  int64_t numel = 1;
  for (int64_t s : shape)
    numel *= s;
  Value elems = e.elementIndices(n);
  Value mask = e.validSlots(elems, numel);
  SmallVector<Value> tileCoords = e.coords(elems, shape);
  Value linear = e.splat(e.i64(0), n);
  Value zero = e.splat(e.i32(0), n);
  for (size_t d = 0; d < offsets.size(); ++d) {
    Value coord = e.splat(e.toI32(offsets[d]), n);
    auto it = llvm::find(dims, static_cast<int64_t>(d));
    if (it != dims.end())
      coord = e.add(coord, tileCoords[it - dims.begin()]);
    mask = e.andI(mask, e.cmp(arith::CmpIPredicate::sge, coord, zero));
    mask = e.andI(mask, e.cmp(arith::CmpIPredicate::slt, coord,
                              e.splat(m.dimsI32[d], n)));
    Value wide = arith::ExtSIOp::create(e.b, e.loc,
                                        e.vec(n, e.b.getI64Type()), coord);
    linear = e.add(linear, e.mul(wide, e.splat(m.stridesI64[d], n)));
  }
  Type ptrTy = LLVM::LLVMPointerType::get(e.b.getContext(), kGlobalSpace);
  Value ptrs = LLVM::GEPOp::create(e.b, e.loc, VectorType::get({n}, ptrTy),
                                   m.elementType, m.ptr, ValueRange{linear});
  return {ptrs, mask};
}

struct LoadLowering : TilePattern<LoadOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(LoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "source is not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    int64_t n = st.slots(op.getType().getNumElements());
    GlobalAccess a = globalAccess(e, it->second, adaptor.getOffsets(),
                                  op.getDims(), op.getType().getShape(), n);
    Type elt = op.getType().getElementType();
    Value pad = e.splatConst(elt, op.getPadding().convertToDouble(), n);
    Value v = LLVM::masked_gather::create(rw, op.getLoc(), e.vec(n, elt),
                                          a.ptrs, a.mask, ValueRange{pad},
                                          Emitter::elementBytes(elt));
    rw.replaceOp(op, v);
    return success();
  }
};

struct StoreLowering : TilePattern<StoreOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(StoreOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getDest());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "dest is not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    RankedTensorType t = op.getValue().getType();
    int64_t n = st.slots(t.getNumElements());
    GlobalAccess a = globalAccess(e, it->second, adaptor.getOffsets(),
                                  op.getDims(), t.getShape(), n);
    LLVM::masked_scatter::create(rw, op.getLoc(), adaptor.getValue(), a.ptrs,
                                 a.mask,
                                 Emitter::elementBytes(t.getElementType()));
    rw.eraseOp(op);
    return success();
  }
};

struct MemrefDimLowering : TilePattern<memref::DimOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(memref::DimOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    std::optional<int64_t> d = op.getConstantIndex();
    if (it == st.memrefs.end() || !d)
      return rw.notifyMatchFailure(op, "not a constant dim of a kernel arg");
    rw.replaceOp(op, it->second.dims[*d]);
    return success();
  }
};

struct MemrefLoadLowering : TilePattern<memref::LoadOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(memref::LoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getMemref());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    const MemrefArg &m = it->second;
    Value linear = e.i64(0);
    for (auto [d, index] : llvm::enumerate(adaptor.getIndices())) {
      Value wide = arith::IndexCastOp::create(rw, op.getLoc(),
                                              rw.getI64Type(), index);
      linear = e.add(linear, e.mul(wide, m.stridesI64[d]));
    }
    Type ptrTy = LLVM::LLVMPointerType::get(rw.getContext(), kGlobalSpace);
    Value p = LLVM::GEPOp::create(rw, op.getLoc(), ptrTy, m.elementType, m.ptr,
                                  ValueRange{linear});
    rw.replaceOpWithNewOp<LLVM::LoadOp>(op, m.elementType, p);
    return success();
  }
};

struct ProgramIdLowering : TilePattern<ProgramIdOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ProgramIdOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    gpu::Dimension dim = op.getDim() == 0   ? gpu::Dimension::x
                         : op.getDim() == 1 ? gpu::Dimension::y
                                            : gpu::Dimension::z;
    rw.replaceOpWithNewOp<gpu::BlockIdOp>(op, dim);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Elementwise and constructors
//===----------------------------------------------------------------------===//

/// arith and math ops on tiles become the same ops on the slot vectors.
struct ElementwiseLowering : ConversionPattern {
  ElementwiseLowering(const TypeConverter &tc, MLIRContext *ctx)
      : ConversionPattern(tc, MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult
  matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                  ConversionPatternRewriter &rw) const override {
    if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()))
      return failure();
    auto isTile = [](Type t) { return isa<RankedTensorType>(t); };
    if (llvm::none_of(op->getOperandTypes(), isTile) &&
        llvm::none_of(op->getResultTypes(), isTile))
      return failure();
    SmallVector<Type> types;
    if (failed(getTypeConverter()->convertTypes(op->getResultTypes(), types)))
      return failure();
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      auto dense = dyn_cast<SplatElementsAttr>(c.getValue());
      if (!dense)
        return rw.notifyMatchFailure(op, "only splat tile constants");
      auto vt = cast<VectorType>(types[0]);
      rw.replaceOpWithNewOp<arith::ConstantOp>(
          op, vt, DenseElementsAttr::get(vt, dense.getSplatValue<Attribute>()));
      return success();
    }
    OperationState state(op->getLoc(), op->getName(), operands, types,
                         op->getAttrs());
    rw.replaceOp(op, rw.create(state)->getResults());
    return success();
  }
};

struct SplatLowering : TilePattern<tensor::SplatOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(tensor::SplatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Type t = getTypeConverter()->convertType(op.getType());
    rw.replaceOpWithNewOp<vector::BroadcastOp>(op, t, adaptor.getInput());
    return success();
  }
};

struct IotaLowering : TilePattern<IotaOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(IotaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    int64_t n = st.slots(op.getType().getNumElements());
    SmallVector<Value> c = e.coords(e.elementIndices(n), op.getType().getShape());
    rw.replaceOp(op, c[op.getDim()]);
    return success();
  }
};

struct ReshapeLowering : TilePattern<ReshapeOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    // Same elements in the same row-major order: the same slots.
    rw.replaceOp(op, adaptor.getInput());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Operations through shared memory
//===----------------------------------------------------------------------===//

/// Writes a whole tile (f32 or i32 values) to shared memory at byte 0,
/// element e at index e, between barriers. Returns the byte size used.
int64_t tileToShared(Emitter &e, Value values, int64_t numel) {
  int64_t n = cast<VectorType>(values.getType()).getNumElements();
  Value elems = e.elementIndices(n);
  e.barrier();
  e.scatterShared(values, elems, e.validSlots(elems, numel), 0);
  e.barrier();
  return numel * Emitter::elementBytes(elementOf(values.getType()));
}

struct BroadcastLowering : TilePattern<BroadcastOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(BroadcastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    RankedTensorType in = op.getInput().getType(), out = op.getType();
    st.needShared(tileToShared(e, adaptor.getInput(), in.getNumElements()));
    // Source index of each output element: its coords along `dims`.
    int64_t n = st.slots(out.getNumElements());
    Value elems = e.elementIndices(n);
    SmallVector<Value> c = e.coords(elems, out.getShape());
    Value src = e.splat(e.i32(0), n);
    int64_t stride = 1;
    for (int64_t i = in.getRank() - 1; i >= 0; --i) {
      src = e.add(src, e.mul(c[op.getDims()[i]], e.splat(e.i32(stride), n)));
      stride *= in.getDimSize(i);
    }
    Value mask = e.validSlots(elems, out.getNumElements());
    rw.replaceOp(op, e.gatherShared(in.getElementType(), src, mask, 0));
    return success();
  }
};

struct ExtractLowering : TilePattern<tensor::ExtractOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(tensor::ExtractOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    auto t = cast<RankedTensorType>(op.getTensor().getType());
    st.needShared(tileToShared(e, adaptor.getTensor(), t.getNumElements()));
    Value linear = e.i32(0);
    int64_t stride = 1;
    for (int64_t d = t.getRank() - 1; d >= 0; --d) {
      linear = e.add(linear, e.mul(e.toI32(adaptor.getIndices()[d]),
                                   e.i32(stride)));
      stride *= t.getDimSize(d);
    }
    Value p = e.sharedPtr(0, t.getElementType(), linear);
    rw.replaceOpWithNewOp<LLVM::LoadOp>(op, t.getElementType(), p);
    return success();
  }
};

/// Sum or max of each row along `axis`: a group of P lanes (a power of two
/// up to 32) shares a row, each lane strides over it, and the lanes finish
/// with xor shuffles.
struct ReduceLowering : TilePattern<ReduceOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType in = op.getInput().getType();
    if (!in.getElementType().isF32())
      return rw.notifyMatchFailure(op, "reduces f32 tiles");
    int64_t numel = in.getNumElements(), axis = op.getAxis();
    int64_t len = in.getDimSize(axis);
    int64_t outNumel = numel / len;
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < in.getRank(); ++d)
      inner *= in.getDimSize(d);
    int64_t inBytes = tileToShared(e, adaptor.getInput(), numel);
    int64_t outBase = alignUp(inBytes, 16);
    st.needShared(outBase + outNumel * 4);

    int64_t lanes = 1;
    while (lanes < 32 && lanes * 2 * outNumel <= st.numThreads)
      lanes *= 2;
    int64_t groups = st.numThreads / lanes;
    int64_t reps = (outNumel + groups - 1) / groups;
    bool isMax = op.getKind() == ReduceKind::Max;
    Value identity = e.f32(isMax ? -INFINITY : 0.0);
    auto combine = [&](OpBuilder &b, Value x, Value y) -> Value {
      return isMax ? Value(arith::MaximumFOp::create(b, loc, x, y))
                   : Value(arith::AddFOp::create(b, loc, x, y));
    };
    Value lane = arith::RemUIOp::create(rw, loc, st.tid, e.idx(lanes));
    Value group = arith::DivUIOp::create(rw, loc, st.tid, e.idx(lanes));
    scf::ForOp::create(
        rw, loc, e.idx(0), e.idx(reps), e.idx(1), ValueRange{},
        [&](OpBuilder &b, Location l, Value rep, ValueRange) {
          Emitter r(b, l, st);
          Value o = r.add(r.mul(rep, r.idx(groups)), group);
          Value valid = r.cmp(arith::CmpIPredicate::ult, o, r.idx(outNumel));
          Value oc = arith::SelectOp::create(b, l, valid, o, r.idx(0));
          // First input element of row o.
          Value outer = arith::DivUIOp::create(b, l, oc, r.idx(inner));
          Value within = arith::RemUIOp::create(b, l, oc, r.idx(inner));
          Value base = r.add(r.mul(outer, r.idx(len * inner)), within);
          auto loop = scf::ForOp::create(
              b, l, lane, r.idx(len), r.idx(lanes), ValueRange{identity},
              [&](OpBuilder &lb, Location ll, Value i, ValueRange acc) {
                Emitter le(lb, ll, st);
                Value at = le.add(base, le.mul(i, le.idx(inner)));
                Value p = le.sharedPtr(0, lb.getF32Type(), le.toI32(at));
                Value x = LLVM::LoadOp::create(lb, ll, lb.getF32Type(), p);
                scf::YieldOp::create(lb, ll, combine(lb, acc[0], x));
              });
          Value acc = arith::SelectOp::create(b, l, valid, loop.getResult(0),
                                              identity);
          for (int64_t off = lanes / 2; off >= 1; off /= 2) {
            auto shfl = gpu::ShuffleOp::create(b, l, acc, off, 32,
                                               gpu::ShuffleMode::XOR);
            acc = combine(b, acc, shfl.getShuffleResult());
          }
          Value leader = r.cmp(arith::CmpIPredicate::eq, lane, r.idx(0));
          scf::IfOp::create(b, l, r.andI(leader, valid),
                            [&](OpBuilder &tb, Location tl) {
                              Emitter te(tb, tl, st);
                              Value p = te.sharedPtr(outBase, tb.getF32Type(),
                                                     te.toI32(o));
                              LLVM::StoreOp::create(tb, tl, acc, p);
                              scf::YieldOp::create(tb, tl);
                            });
          scf::YieldOp::create(b, l);
        });
    e.barrier();
    int64_t n = st.slots(outNumel);
    Value elems = e.elementIndices(n);
    rw.replaceOp(op, e.gatherShared(rw.getF32Type(), elems,
                                    e.validSlots(elems, outNumel), outBase));
    return success();
  }
};

struct CumsumLowering : TilePattern<CumsumOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(CumsumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType t = op.getType();
    int64_t numel = t.getNumElements(), axis = op.getAxis();
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < t.getRank(); ++d)
      inner *= t.getDimSize(d);
    st.needShared(tileToShared(e, adaptor.getInput(), numel));
    int64_t n = st.slots(numel);
    Value elems = e.elementIndices(n);
    SmallVector<Value> c = e.coords(elems, t.getShape());
    Value result = e.splatConst(rw.getF32Type(), 0.0, n);
    for (int64_t j = 0; j < n; ++j) {
      // Element j: sum of in[base + i * inner] for i <= its axis coord.
      Value elem = vector::ExtractOp::create(rw, loc, elems, j);
      Value pos = vector::ExtractOp::create(rw, loc, c[axis], j);
      Value valid = e.cmp(arith::CmpIPredicate::slt, elem, e.i32(numel));
      Value end = arith::SelectOp::create(rw, loc, valid,
                                          e.add(pos, e.i32(1)), e.i32(0));
      Value base = arith::SubIOp::create(rw, loc, elem,
                                         e.mul(pos, e.i32(inner)));
      auto loop = scf::ForOp::create(
          rw, loc, e.toIndex(e.i32(0)), e.toIndex(end), e.idx(1),
          ValueRange{e.f32(0.0)},
          [&](OpBuilder &b, Location l, Value i, ValueRange acc) {
            Emitter le(b, l, st);
            Value at = le.add(base, le.mul(le.toI32(i), le.i32(inner)));
            Value x = LLVM::LoadOp::create(
                b, l, b.getF32Type(), le.sharedPtr(0, b.getF32Type(), at));
            scf::YieldOp::create(
                b, l, Value(arith::AddFOp::create(b, l, acc[0], x)));
          });
      result = vector::InsertOp::create(rw, loc, loop.getResult(0), result, j);
    }
    rw.replaceOp(op, result);
    return success();
  }
};

/// (I + L)^-1 by forward substitution in shared memory: row i of X is
/// e_i - sum_{j<i} L[i, j] X[j, :]; column c of row i (c < i) is computed
/// by thread c, one row per step, with a barrier between rows.
struct UnitLowerInverseLowering : TilePattern<UnitLowerInverseOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(UnitLowerInverseOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    int64_t size = op.getType().getDimSize(0), numel = size * size;
    int64_t xBase = alignUp(numel * 4, 16);
    st.needShared(xBase + numel * 4);
    int64_t n = st.slots(numel);
    Value elems = e.elementIndices(n);
    Value mask = e.validSlots(elems, numel);
    SmallVector<Value> c = e.coords(elems, {size, size});
    Value diag = e.cmp(arith::CmpIPredicate::eq, c[0], c[1]);
    Value identity =
        arith::SelectOp::create(rw, loc, diag, e.splatConst(rw.getF32Type(), 1.0, n),
                                e.splatConst(rw.getF32Type(), 0.0, n));
    e.barrier();
    e.scatterShared(adaptor.getInput(), elems, mask, 0);
    e.scatterShared(identity, elems, mask, xBase);
    e.barrier();
    Type f32 = rw.getF32Type();
    scf::ForOp::create(
        rw, loc, e.idx(1), e.idx(size), e.idx(1), ValueRange{},
        [&](OpBuilder &b, Location l, Value i, ValueRange) {
          Emitter r(b, l, st);
          scf::ForOp::create(
              b, l, st.tid, i, r.idx(st.numThreads), ValueRange{},
              [&](OpBuilder &cb, Location cl, Value col, ValueRange) {
                Emitter ce(cb, cl, st);
                auto sum = scf::ForOp::create(
                    cb, cl, col, i, ce.idx(1), ValueRange{ce.f32(0.0)},
                    [&](OpBuilder &sb, Location sl, Value j, ValueRange acc) {
                      Emitter se(sb, sl, st);
                      Value lij = se.add(se.mul(i, se.idx(size)), j);
                      Value xjc = se.add(se.mul(j, se.idx(size)), col);
                      Value lv = LLVM::LoadOp::create(
                          sb, sl, f32, se.sharedPtr(0, f32, se.toI32(lij)));
                      Value xv = LLVM::LoadOp::create(
                          sb, sl, f32, se.sharedPtr(xBase, f32, se.toI32(xjc)));
                      Value p = arith::MulFOp::create(sb, sl, lv, xv);
                      scf::YieldOp::create(
                          sb, sl, Value(arith::AddFOp::create(sb, sl, acc[0], p)));
                    });
                Value neg = arith::NegFOp::create(cb, cl, sum.getResult(0));
                Value xic = ce.add(ce.mul(i, ce.idx(size)), col);
                LLVM::StoreOp::create(cb, cl, neg,
                                      ce.sharedPtr(xBase, f32, ce.toI32(xic)));
                scf::YieldOp::create(cb, cl);
              });
          r.barrier();
          scf::YieldOp::create(b, l);
        });
    rw.replaceOp(op, e.gatherShared(f32, elems, mask, xBase));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// dot on the tensor cores
//===----------------------------------------------------------------------===//

/// C = acc + A B with mma.sync. A ([M, K], k-contiguous) and B ([N, K],
/// k-contiguous) are written to shared memory in the operand type (bf16,
/// f16, or f32 rounded to tf32); each warp computes 16x8 output tiles and
/// writes them to an f32 [M, N] buffer, which every thread reads back in
/// its slot layout.
struct DotLowering : TilePattern<DotOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(DotOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType aT = op.getA().getType(), bT = op.getB().getType();
    Type elt = aT.getElementType();
    bool tf32 = elt.isF32();
    int64_t m = aT.getDimSize(op.getTransposeA() ? 1 : 0);
    int64_t k = aT.getDimSize(op.getTransposeA() ? 0 : 1);
    int64_t n = bT.getDimSize(op.getTransposeB() ? 0 : 1);
    int64_t kStep = tf32 ? 8 : 16;
    if (m % 16 || n % 8 || k % kStep) // checked before conversion
      return rw.notifyMatchFailure(op, "tile sizes do not fit mma.sync");
    // Operands in shared memory as 32-bit words for tf32 (the rounded bits)
    // or as 16-bit values; rows padded to dodge bank conflicts.
    Type smemElt = tf32 ? Type(rw.getI32Type()) : elt;
    int64_t eb = Emitter::elementBytes(smemElt);
    int64_t kPad = k + (tf32 ? 4 : 8);
    int64_t nPad = n + 4;
    int64_t aBase = 0, bBase = alignUp(m * kPad * eb, 16);
    int64_t cBase = alignUp(bBase + n * kPad * eb, 16);
    st.needShared(cBase + m * nPad * 4);

    auto writeOperand = [&](Value values, RankedTensorType t, bool rowIsK,
                            int64_t base) {
      // Element (r, c) of the tile goes to [other][k] with k contiguous.
      int64_t slots = st.slots(t.getNumElements());
      Value elems = e.elementIndices(slots);
      SmallVector<Value> c = e.coords(elems, t.getShape());
      Value kk = rowIsK ? c[0] : c[1], other = rowIsK ? c[1] : c[0];
      Value index = e.add(e.mul(other, e.splat(e.i32(kPad), slots)), kk);
      if (tf32) {
        Value words = e.splatConst(rw.getI32Type(), 0, slots);
        for (int64_t j = 0; j < slots; ++j) {
          Value x = vector::ExtractOp::create(rw, loc, values, j);
          Value w = NVVM::ConvertFloatToTF32Op::create(
              rw, loc, rw.getI32Type(), x, NVVM::FPRoundingMode::RNA,
              NVVM::SaturationMode::NONE, false);
          words = vector::InsertOp::create(rw, loc, w, words, j);
        }
        values = words;
      }
      e.scatterShared(values, index, e.validSlots(elems, t.getNumElements()),
                      base);
    };
    e.barrier();
    // A is [M, K] unless transposed; B is [K, N] unless transposed.
    writeOperand(adaptor.getA(), aT, /*rowIsK=*/op.getTransposeA(), aBase);
    writeOperand(adaptor.getB(), bT, /*rowIsK=*/!op.getTransposeB(), bBase);
    e.barrier();

    int64_t tilesN = n / 8, tiles = (m / 16) * tilesN;
    int64_t warps = st.numThreads / 32;
    Value warp = arith::DivUIOp::create(rw, loc, st.tid, e.idx(32));
    Value lane = arith::RemUIOp::create(rw, loc, st.tidI32, e.i32(32));
    Value group = arith::DivUIOp::create(rw, loc, lane, e.i32(4));
    Value quad = arith::RemUIOp::create(rw, loc, lane, e.i32(4));
    Type f32 = rw.getF32Type(), i32 = rw.getI32Type();
    scf::ForOp::create(
        rw, loc, warp, e.idx(tiles), e.idx(warps), ValueRange{},
        [&](OpBuilder &b, Location l, Value tileIdx, ValueRange) {
          Emitter r(b, l, st);
          Value t32 = r.toI32(tileIdx);
          Value row0 = r.add(r.mul(arith::DivUIOp::create(b, l, t32,
                                                          r.i32(tilesN)),
                                   r.i32(16)),
                             group);
          Value row1 = r.add(row0, r.i32(8));
          Value nBase = r.mul(arith::RemUIOp::create(b, l, t32, r.i32(tilesN)),
                              r.i32(8));
          Value col0 = r.add(nBase, group);                 // B column read
          Value cCol = r.add(nBase, r.mul(quad, r.i32(2))); // C column written
          Value zero = r.f32(0.0);
          auto kLoop = scf::ForOp::create(
              b, l, r.idx(0), r.idx(k / kStep), r.idx(1),
              ValueRange{zero, zero, zero, zero},
              [&](OpBuilder &kb, Location kl, Value ks, ValueRange acc) {
                Emitter ke(kb, kl, st);
                Value k0 = ke.mul(ke.toI32(ks), ke.i32(kStep));
                // Word at [row][col] of an operand (col in elements).
                auto word = [&](int64_t base, Value row, Value col) -> Value {
                  Value at = ke.add(ke.mul(row, ke.i32(kPad)), col);
                  Value p = ke.sharedPtr(base, smemElt, at);
                  return LLVM::LoadOp::create(kb, kl, i32, p);
                };
                SmallVector<Value> a, bw;
                if (tf32) {
                  Value kc = ke.add(k0, quad);
                  Value kc4 = ke.add(kc, ke.i32(4));
                  a = {word(aBase, row0, kc), word(aBase, row1, kc),
                       word(aBase, row0, kc4), word(aBase, row1, kc4)};
                  bw = {word(bBase, col0, kc), word(bBase, col0, kc4)};
                } else {
                  Value kc = ke.add(k0, ke.mul(quad, ke.i32(2)));
                  Value kc8 = ke.add(kc, ke.i32(8));
                  a = {word(aBase, row0, kc), word(aBase, row1, kc),
                       word(aBase, row0, kc8), word(aBase, row1, kc8)};
                  bw = {word(bBase, col0, kc), word(bBase, col0, kc8)};
                }
                NVVM::MMATypes ptx = tf32           ? NVVM::MMATypes::tf32
                                     : elt.isBF16() ? NVVM::MMATypes::bf16
                                                    : NVVM::MMATypes::f16;
                auto resTy = LLVM::LLVMStructType::getLiteral(
                    kb.getContext(), {f32, f32, f32, f32});
                std::array<int64_t, 3> shape = {16, 8, kStep};
                std::array<NVVM::MMATypes, 2> types = {ptx, ptx};
                std::array<NVVM::MMALayout, 2> layouts = {
                    NVVM::MMALayout::row, NVVM::MMALayout::col};
                Value d = NVVM::MmaOp::create(
                    kb, kl, resTy, a, bw, acc, shape, /*b1Op=*/std::nullopt,
                    /*intOverflow=*/std::nullopt, types, layouts);
                SmallVector<Value> out;
                for (int64_t q = 0; q < 4; ++q)
                  out.push_back(LLVM::ExtractValueOp::create(kb, kl, d, q));
                scf::YieldOp::create(kb, kl, out);
              });
          auto store = [&](Value row, Value col, Value v) {
            Value at = r.add(r.mul(row, r.i32(nPad)), col);
            LLVM::StoreOp::create(b, l, v, r.sharedPtr(cBase, f32, at));
          };
          Value cCol1 = r.add(cCol, r.i32(1));
          store(row0, cCol, kLoop.getResult(0));
          store(row0, cCol1, kLoop.getResult(1));
          store(row1, cCol, kLoop.getResult(2));
          store(row1, cCol1, kLoop.getResult(3));
          scf::YieldOp::create(b, l);
        });
    e.barrier();
    int64_t slots = st.slots(m * n);
    Value elems = e.elementIndices(slots);
    SmallVector<Value> c = e.coords(elems, {m, n});
    Value at = e.add(e.mul(c[0], e.splat(e.i32(nPad), slots)), c[1]);
    Value prod = e.gatherShared(f32, at, e.validSlots(elems, m * n), cBase);
    rw.replaceOp(op, Value(arith::AddFOp::create(rw, loc, adaptor.getAcc(), prod)));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct TileToGPUPass : public hyla::impl::TileToGPUBase<TileToGPUPass> {
  using TileToGPUBase::TileToGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    const GpuTarget *gpuTarget = lookupTarget(target);
    if (!gpuTarget) {
      std::string known;
      for (const GpuTarget &t : allTargets())
        known += (known.empty() ? "" : ", ") + t.id.str();
      module.emitError() << "hyla-tile-to-gpu: unknown target '" << target
                         << "' (known: " << known << ")";
      return signalPassFailure();
    }
    WalkResult hasDispatch = module.walk([](DispatchOp op) {
      op.emitError("hyla-tile-to-gpu runs on a module of kernels only");
      return WalkResult::interrupt();
    });
    if (hasDispatch.wasInterrupted())
      return signalPassFailure();

    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(TileDialect::kKernelAttrName))
        kernels.push_back(fn);
    for (func::FuncOp fn : kernels) {
      if (failed(lowerKernel(fn, *gpuTarget)))
        return signalPassFailure();
      fn.erase();
    }
  }

  LogicalResult lowerKernel(func::FuncOp fn, const GpuTarget &gpuTarget) {
    MLIRContext *ctx = &getContext();
    Location loc = fn.getLoc();
    OpBuilder b(ctx);
    b.setInsertionPoint(fn);
    auto targetAttr = NVVM::NVVMTargetAttr::get(
        ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", gpuTarget.chip,
        gpuTarget.ptxFeatures);
    auto gpuModule = gpu::GPUModuleOp::create(
        b, loc, (fn.getSymName() + "_module").str(),
        b.getArrayAttr({targetAttr}));
    b.setInsertionPointToStart(gpuModule.getBody());

    // The dynamic shared memory, as CUDA's `extern __shared__` array.
    auto smemType = LLVM::LLVMArrayType::get(b.getI8Type(), 0);
    auto smemGlobal = LLVM::GlobalOp::create(
        b, loc, smemType, /*isConstant=*/false, LLVM::Linkage::External,
        "__hyla_shared", Attribute(), /*alignment=*/16, kSharedSpace);
    (void)smemGlobal;

    // Parameters: per memref, a global pointer then its dynamic dims.
    KernelState st;
    st.numThreads = 32 * TileDialect::getNumWarps(fn);
    SmallVector<Type> params;
    Type gptr = LLVM::LLVMPointerType::get(ctx, kGlobalSpace);
    for (Type t : fn.getArgumentTypes()) {
      auto mt = cast<MemRefType>(t);
      params.push_back(gptr);
      for (int64_t d = 0; d < mt.getRank(); ++d)
        if (mt.isDynamicDim(d))
          params.push_back(b.getI64Type());
    }
    auto gpuFunc = gpu::GPUFuncOp::create(b, loc, fn.getSymName(),
                                          b.getFunctionType(params, {}));
    gpuFunc->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    gpuFunc.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
        {static_cast<int32_t>(st.numThreads), 1, 1}));

    Block &entry = gpuFunc.getBody().front();
    b.setInsertionPointToStart(&entry);
    Emitter e(b, loc, st);
    st.tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    st.tidI32 = e.toI32(st.tid);
    st.smem = LLVM::AddressOfOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, kSharedSpace), "__hyla_shared");
    IRMapping mapping;
    unsigned p = 0;
    for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes())) {
      auto mt = cast<MemRefType>(t);
      MemrefArg arg;
      arg.ptr = entry.getArgument(p++);
      arg.elementType = mt.getElementType();
      for (int64_t d = 0; d < mt.getRank(); ++d) {
        Value size = mt.isDynamicDim(d)
                         ? arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                      entry.getArgument(p++))
                               .getResult()
                         : e.idx(mt.getDimSize(d));
        arg.dims.push_back(size);
        arg.dimsI32.push_back(e.toI32(size));
      }
      arg.stridesI64.resize(mt.getRank());
      Value stride = e.i64(1);
      for (int64_t d = mt.getRank() - 1; d >= 0; --d) {
        arg.stridesI64[d] = stride;
        stride = e.mul(stride, arith::IndexCastOp::create(
                                   b, loc, b.getI64Type(), arg.dims[d]));
      }
      SmallVector<Value> parts = {arg.ptr};
      auto cast = UnrealizedConversionCastOp::create(b, loc, t, parts);
      mapping.map(fn.getArgument(i), cast.getResult(0));
      st.memrefs[cast.getResult(0)] = arg;
    }
    for (Operation &op : fn.getBody().front()) {
      if (isa<func::ReturnOp>(op)) {
        gpu::ReturnOp::create(b, loc);
        continue;
      }
      b.clone(op, mapping);
    }

    // Reject what the tensor cores cannot run before converting anything,
    // so the error points at the op.
    WalkResult unsupported = fn.walk([](DotOp dot) {
      RankedTensorType a = dot.getA().getType(), b = dot.getB().getType();
      int64_t m = a.getDimSize(dot.getTransposeA() ? 1 : 0);
      int64_t k = a.getDimSize(dot.getTransposeA() ? 0 : 1);
      int64_t n = b.getDimSize(dot.getTransposeB() ? 0 : 1);
      int64_t kStep = a.getElementType().isF32() ? 8 : 16;
      if (m % 16 == 0 && n % 8 == 0 && k % kStep == 0)
        return WalkResult::advance();
      dot.emitOpError() << "needs M % 16 == 0, N % 8 == 0 and K % " << kStep
                        << " == 0 for mma.sync, got M=" << m << " N=" << n
                        << " K=" << k;
      return WalkResult::interrupt();
    });
    if (unsupported.wasInterrupted()) {
      gpuModule.erase();
      return failure();
    }

    TileTypeConverter converter(st);
    ConversionTarget target(*ctx);
    target.addLegalDialect<gpu::GPUDialect, LLVM::LLVMDialect,
                           NVVM::NVVMDialect, vector::VectorDialect>();
    target.addIllegalDialect<TileDialect, tensor::TensorDialect>();
    target.addIllegalOp<memref::DimOp, memref::LoadOp>();
    auto noTiles = [](Operation *op) {
      auto isTile = [](Type t) { return isa<RankedTensorType>(t); };
      return llvm::none_of(op->getOperandTypes(), isTile) &&
             llvm::none_of(op->getResultTypes(), isTile);
    };
    target.addDynamicallyLegalDialect<arith::ArithDialect, math::MathDialect>(
        noTiles);
    target.addLegalOp<UnrealizedConversionCastOp>();
    RewritePatternSet patterns(ctx);
    patterns.add<LoadLowering, StoreLowering, MemrefDimLowering,
                 MemrefLoadLowering, ProgramIdLowering, SplatLowering,
                 IotaLowering, ReshapeLowering, BroadcastLowering,
                 ExtractLowering, ReduceLowering, CumsumLowering,
                 UnitLowerInverseLowering, DotLowering>(converter, ctx, st);
    patterns.add<ElementwiseLowering>(converter, ctx);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    if (failed(applyFullConversion(gpuFunc, target, std::move(patterns))))
      return gpuFunc.emitError() << "could not lower kernel "
                                 << fn.getSymName() << " to the GPU";

    // The memref casts only carried kernel arguments to the patterns.
    gpuFunc.walk([](UnrealizedConversionCastOp cast) {
      if (cast->use_empty() && isa<MemRefType>(cast.getType(0)))
        cast.erase();
    });
    if (st.sharedBytes > gpuTarget.maxDynamicSharedBytes)
      return fn.emitError() << "kernel " << fn.getSymName() << " needs "
                            << st.sharedBytes << " bytes of shared memory; "
                            << gpuTarget.id << " allows "
                            << gpuTarget.maxDynamicSharedBytes;
    gpuFunc->setAttr("hyla.shared_memory_bytes",
                     b.getI64IntegerAttr(st.sharedBytes));
    return success();
  }
};

} // namespace
