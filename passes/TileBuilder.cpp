//===- TileBuilder.cpp - building hyla_tile kernels and dispatches --------===//

#include "passes/TileBuilder.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace hyla {

static RankedTensorType tileType(ArrayRef<int64_t> shape, Type elt) {
  return RankedTensorType::get(shape, elt);
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

Value TileBuilder::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value TileBuilder::f32Scalar(double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

Value TileBuilder::programId(int64_t dim) {
  return tile::ProgramIdOp::create(b, loc, b.getI64IntegerAttr(dim));
}

Value TileBuilder::dim(Value memref, int64_t d) {
  return memref::DimOp::create(b, loc, memref, d);
}

Value TileBuilder::addi(Value a, Value c) {
  return arith::AddIOp::create(b, loc, a, c);
}

Value TileBuilder::muli(Value a, Value c) {
  return arith::MulIOp::create(b, loc, a, c);
}

Value TileBuilder::divi(Value a, int64_t c) {
  return arith::DivUIOp::create(b, loc, a, index(c));
}

Value TileBuilder::ceilDiv(Value a, int64_t c) {
  return arith::CeilDivUIOp::create(b, loc, a, index(c));
}

Value TileBuilder::mini(Value a, Value c) {
  return arith::MinUIOp::create(b, loc, a, c);
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

Value TileBuilder::load(Value memref, ValueRange offsets, ArrayRef<int64_t> dims,
                        ArrayRef<int64_t> shape, ValueRange bounds) {
  Type elt = cast<MemRefType>(memref.getType()).getElementType();
  return tile::LoadOp::create(b, loc, tileType(shape, elt), memref, offsets,
                              bounds, b.getDenseI64ArrayAttr(dims),
                              b.getF64FloatAttr(0.0));
}

void TileBuilder::store(Value tileValue, Value memref, ValueRange offsets,
                        ArrayRef<int64_t> dims, ValueRange bounds) {
  tile::StoreOp::create(b, loc, tileValue, memref, offsets, bounds,
                        b.getDenseI64ArrayAttr(dims));
}

void TileBuilder::prefetch(Value memref, ValueRange offsets,
                           ArrayRef<int64_t> dims, ArrayRef<int64_t> shape) {
  tile::PrefetchOp::create(b, loc, memref, offsets,
                           b.getDenseI64ArrayAttr(dims),
                           b.getDenseI64ArrayAttr(shape));
}

//===----------------------------------------------------------------------===//
// Constructors and casts
//===----------------------------------------------------------------------===//

Value TileBuilder::constant(double v, ArrayRef<int64_t> shape, Type elt) {
  if (!elt)
    elt = f32();
  auto type = tileType(shape, elt);
  Attribute scalar;
  if (auto ft = dyn_cast<FloatType>(elt))
    scalar = b.getFloatAttr(ft, v);
  else
    scalar = b.getIntegerAttr(elt, static_cast<int64_t>(v));
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, scalar));
}

Value TileBuilder::splat(Value scalar, ArrayRef<int64_t> shape) {
  return tensor::SplatOp::create(b, loc, tileType(shape, scalar.getType()),
                                 scalar);
}

Value TileBuilder::iota(ArrayRef<int64_t> shape, int64_t dim) {
  return tile::IotaOp::create(b, loc, tileType(shape, b.getI32Type()),
                              b.getI64IntegerAttr(dim));
}

Value TileBuilder::toF32(Value t) { return castTo(t, f32()); }

Value TileBuilder::castTo(Value t, Type elt) {
  auto from = cast<RankedTensorType>(t.getType());
  Type src = from.getElementType();
  if (src == elt)
    return t;
  auto to = tileType(from.getShape(), elt);
  if (isa<IntegerType>(src) && isa<FloatType>(elt))
    return arith::SIToFPOp::create(b, loc, to, t);
  if (cast<FloatType>(src).getWidth() < cast<FloatType>(elt).getWidth())
    return arith::ExtFOp::create(b, loc, to, t);
  return arith::TruncFOp::create(b, loc, to, t);
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

Value TileBuilder::add(Value a, Value c) {
  return arith::AddFOp::create(b, loc, a, c);
}
Value TileBuilder::sub(Value a, Value c) {
  return arith::SubFOp::create(b, loc, a, c);
}
Value TileBuilder::mul(Value a, Value c) {
  return arith::MulFOp::create(b, loc, a, c);
}
Value TileBuilder::mul(Value a, double c) {
  return mul(a, constant(c, shapeOf(a)));
}
Value TileBuilder::div(Value a, Value c) {
  return arith::DivFOp::create(b, loc, a, c);
}
Value TileBuilder::maximum(Value a, Value c) {
  return arith::MaximumFOp::create(b, loc, a, c);
}
Value TileBuilder::neg(Value a) { return arith::NegFOp::create(b, loc, a); }
Value TileBuilder::exp(Value a) { return math::ExpOp::create(b, loc, a); }
Value TileBuilder::exp2(Value a) { return math::Exp2Op::create(b, loc, a); }
Value TileBuilder::fma(Value a, Value x, Value c) {
  return math::FmaOp::create(b, loc, a, x, c);
}
Value TileBuilder::rsqrt(Value a) { return math::RsqrtOp::create(b, loc, a); }

Value TileBuilder::sigmoid(Value a) {
  // 1 / (1 + exp(-x)): exp(-x) may be +inf for very negative x, giving 0.
  Value one = constant(1.0, shapeOf(a));
  return div(one, add(one, exp(neg(a))));
}

Value TileBuilder::silu(Value a) { return mul(a, sigmoid(a)); }

Value TileBuilder::softplus(Value a) {
  // PyTorch's softplus (beta 1, threshold 20): x past 20, else log1p(exp(x)).
  Value threshold = constant(20.0, shapeOf(a));
  Value big = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, a,
                                    threshold);
  Value clamped = arith::MinimumFOp::create(b, loc, a, threshold);
  Value soft = math::Log1pOp::create(b, loc, exp(clamped));
  return select(big, a, soft);
}

Value TileBuilder::select(Value cond, Value a, Value c) {
  return arith::SelectOp::create(b, loc, cond, a, c);
}

Value TileBuilder::cmpi(arith::CmpIPredicate pred, Value a, Value c) {
  return arith::CmpIOp::create(b, loc, pred, a, c);
}

Value TileBuilder::andi(Value a, Value c) {
  return arith::AndIOp::create(b, loc, a, c);
}

Value TileBuilder::cos(Value a) { return math::CosOp::create(b, loc, a); }
Value TileBuilder::sin(Value a) { return math::SinOp::create(b, loc, a); }

Value TileBuilder::splatIndexAsI32(Value idx, ArrayRef<int64_t> shape) {
  Value i32 = arith::IndexCastOp::create(b, loc, b.getI32Type(), idx);
  return splat(i32, shape);
}

//===----------------------------------------------------------------------===//
// Tile ops
//===----------------------------------------------------------------------===//

Value TileBuilder::dot(Value a, Value c, Value acc, bool transposeA,
                       bool transposeB) {
  return tile::DotOp::create(b, loc, acc.getType(), a, c, acc,
                             b.getBoolAttr(transposeA),
                             b.getBoolAttr(transposeB));
}

Value TileBuilder::reduce(tile::ReduceKind kind, Value x, int64_t axis) {
  auto in = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(in.getShape());
  shape.erase(shape.begin() + axis);
  return tile::ReduceOp::create(
      b, loc, tileType(shape, in.getElementType()), x,
      tile::ReduceKindAttr::get(b.getContext(), kind),
      b.getI64IntegerAttr(axis));
}

Value TileBuilder::broadcast(Value x, ArrayRef<int64_t> dims,
                             ArrayRef<int64_t> shape) {
  Type elt = cast<RankedTensorType>(x.getType()).getElementType();
  return tile::BroadcastOp::create(b, loc, tileType(shape, elt), x,
                                   b.getDenseI64ArrayAttr(dims));
}

Value TileBuilder::cumsum(Value x, int64_t axis) {
  return tile::CumsumOp::create(b, loc, x.getType(), x,
                                b.getI64IntegerAttr(axis));
}

Value TileBuilder::unitLowerInverse(Value x) {
  return tile::UnitLowerInverseOp::create(b, loc, x.getType(), x);
}

Value TileBuilder::reshape(Value x, ArrayRef<int64_t> shape) {
  Type elt = cast<RankedTensorType>(x.getType()).getElementType();
  return tile::ReshapeOp::create(b, loc, tileType(shape, elt), x);
}

Value TileBuilder::extract(Value x, ArrayRef<int64_t> indices) {
  SmallVector<Value> idx;
  for (int64_t i : indices)
    idx.push_back(index(i));
  return tensor::ExtractOp::create(b, loc, x, idx);
}

//===----------------------------------------------------------------------===//
// Kernels and dispatches
//===----------------------------------------------------------------------===//

MemRefType memrefFor(RankedTensorType t) {
  return MemRefType::get(t.getShape(), t.getElementType());
}

func::FuncOp
getOrCreateKernel(OpBuilder &b, ModuleOp module, StringRef name,
                  TypeRange argTypes, int64_t numWarps,
                  function_ref<void(TileBuilder &, ValueRange)> body) {
  // The same computation on operands of other static shapes needs its own
  // kernel: number the variants (deterministically, in creation order).
  FunctionType type = b.getFunctionType(argTypes, {});
  std::string unique = name.str();
  for (int variant = 1;; ++variant) {
    auto existing = module.lookupSymbol<func::FuncOp>(unique);
    if (!existing)
      break;
    if (existing.getFunctionType() == type)
      return existing;
    unique = (name + "_v" + llvm::Twine(variant)).str();
  }
  name = unique;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  Location loc = NameLoc::get(b.getStringAttr(name));
  auto fn = func::FuncOp::create(b, loc, name, type);
  fn->setAttr(tile::TileDialect::kKernelAttrName, b.getUnitAttr());
  fn->setAttr(tile::TileDialect::kNumWarpsAttrName,
              b.getI32IntegerAttr(numWarps));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  TileBuilder tb(b, loc);
  body(tb, entry->getArguments());
  func::ReturnOp::create(b, loc);
  return fn;
}

SmallVector<Type> memrefsOf(TypeRange tensors) {
  SmallVector<Type> out;
  for (Type t : tensors)
    out.push_back(memrefFor(cast<RankedTensorType>(t)));
  return out;
}

SmallVector<Value> dynamicSizes(RankedTensorType t, ArrayRef<Value> bySlot) {
  SmallVector<Value> dims;
  for (int64_t d = 0; d < t.getRank(); ++d)
    if (t.isDynamicDim(d))
      dims.push_back(bySlot[d]);
  return dims;
}

SmallVector<Value> dynamicDims(OpBuilder &b, Location loc, Value tensor) {
  SmallVector<Value> dims;
  auto t = cast<RankedTensorType>(tensor.getType());
  for (int64_t d = 0; d < t.getRank(); ++d)
    if (t.isDynamicDim(d))
      dims.push_back(tensor::DimOp::create(b, loc, tensor, d));
  return dims;
}

DispatchOp createDispatch(OpBuilder &b, Location loc, func::FuncOp kernel,
                          ArrayRef<Value> grid, ValueRange inputs,
                          ArrayRef<SmallVector<Value>> inputDims,
                          TypeRange resultTypes,
                          ArrayRef<SmallVector<Value>> resultDims,
                          ArrayRef<int64_t> tiedResults) {
  SmallVector<Value> flatIn, flatOut;
  for (const auto &d : inputDims)
    llvm::append_range(flatIn, d);
  for (const auto &d : resultDims)
    llvm::append_range(flatOut, d);
  return DispatchOp::create(
      b, loc, resultTypes, FlatSymbolRefAttr::get(kernel.getSymNameAttr()),
      grid, inputs, flatIn, flatOut,
      tiedResults.empty() ? DenseI64ArrayAttr()
                          : b.getDenseI64ArrayAttr(tiedResults));
}

std::pair<Value, Value> sequenceRange(TileBuilder &tb, Value cuM, Value n) {
  OpBuilder &b = tb.builder();
  auto at = [&](Value i) -> Value {
    Value v = memref::LoadOp::create(b, tb.getLoc(), cuM, ValueRange{i});
    return arith::IndexCastOp::create(b, tb.getLoc(), b.getIndexType(), v);
  };
  return {at(n), at(tb.addi(n, tb.index(1)))};
}

PackedBlock locatePackedBlock(TileBuilder &tb, Value cuM, Value slot,
                              int64_t blockSize) {
  OpBuilder &b = tb.builder();
  Location loc = tb.getLoc();
  Value c0 = tb.index(0);
  Value numSeqs = arith::SubIOp::create(b, loc, tb.dim(cuM, 0), tb.index(1));
  auto loop = scf::ForOp::create(
      b, loc, c0, numSeqs, tb.index(1), ValueRange{c0, c0, c0, c0, c0},
      [&](OpBuilder &nb, Location l, Value n, ValueRange it) {
        TileBuilder t(nb, l);
        Value first = it[0];
        auto [begin, end] = sequenceRange(t, cuM, n);
        Value next = t.addi(
            first,
            t.ceilDiv(arith::SubIOp::create(nb, l, end, begin), blockSize));
        Value inside = arith::AndIOp::create(
            nb, l,
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge, slot, first),
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, slot, next));
        Value t0 = t.addi(
            begin, t.muli(arith::SubIOp::create(nb, l, slot, first), blockSize));
        scf::YieldOp::create(
            nb, l,
            ValueRange{next, arith::SelectOp::create(nb, l, inside, t0, it[1]),
                       arith::SelectOp::create(nb, l, inside, end, it[2]),
                       arith::SelectOp::create(nb, l, inside, begin, it[3]),
                       arith::SelectOp::create(nb, l, inside, n, it[4])});
      });
  Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, slot,
                                      loop.getResult(0));
  return {loop.getResult(1), loop.getResult(2), loop.getResult(3), valid,
          loop.getResult(4)};
}

Value packedSequenceCount(OpBuilder &b, Location loc, Value cuSize) {
  return arith::SubIOp::create(b, loc, cuSize,
                               arith::ConstantIndexOp::create(b, loc, 1));
}

Value packedBlockCount(OpBuilder &b, Location loc, Value tokens, Value cuSize,
                       int64_t blockSize) {
  Value blocks = arith::CeilDivUIOp::create(
      b, loc, tokens, arith::ConstantIndexOp::create(b, loc, blockSize));
  return arith::AddIOp::create(b, loc, blocks,
                               packedSequenceCount(b, loc, cuSize));
}

std::string floatTag(double v) {
  return llvm::formatv("{0:x8}", llvm::bit_cast<uint32_t>(static_cast<float>(v)))
      .str();
}

std::string typeTag(Type t) {
  if (t.isBF16())
    return "bf16";
  if (t.isF16())
    return "f16";
  if (t.isF32())
    return "f32";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

} // namespace hyla
