//===- TileBuilder.h - building hyla_tile kernels and dispatches ----------===//
//
// The passes write kernels as short tile programs; TileBuilder keeps those
// programs readable (one line per step of the algorithm) and puts every
// kernel and dispatch together the same way.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_PASSES_TILEBUILDER_H
#define HYLA_PASSES_TILEBUILDER_H

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace hyla {

/// Builds tile-program IR at the builder's insertion point.
class TileBuilder {
public:
  TileBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::OpBuilder &builder() { return b; }
  mlir::Location getLoc() const { return loc; }
  mlir::Type f32() { return b.getF32Type(); }

  //--- Scalars (index arithmetic) -----------------------------------------
  mlir::Value index(int64_t v);
  mlir::Value f32Scalar(double v);
  mlir::Value programId(int64_t dim);
  mlir::Value dim(mlir::Value memref, int64_t d);
  mlir::Value addi(mlir::Value a, mlir::Value c);
  mlir::Value muli(mlir::Value a, mlir::Value c);
  mlir::Value muli(mlir::Value a, int64_t c) { return muli(a, index(c)); }
  mlir::Value divi(mlir::Value a, int64_t c);
  mlir::Value ceilDiv(mlir::Value a, int64_t c);
  mlir::Value mini(mlir::Value a, mlir::Value c);

  //--- Memory ---------------------------------------------------------------
  /// `bounds` (none, or one per memref dim) replace the memref's sizes in
  /// the bounds test.
  mlir::Value load(mlir::Value memref, mlir::ValueRange offsets,
                   llvm::ArrayRef<int64_t> dims, llvm::ArrayRef<int64_t> shape,
                   mlir::ValueRange bounds = {});
  void store(mlir::Value tile, mlir::Value memref, mlir::ValueRange offsets,
             llvm::ArrayRef<int64_t> dims, mlir::ValueRange bounds = {});
  void prefetch(mlir::Value memref, mlir::ValueRange offsets,
                llvm::ArrayRef<int64_t> dims, llvm::ArrayRef<int64_t> shape);

  //--- Tile constructors and casts --------------------------------------------
  mlir::Value constant(double v, llvm::ArrayRef<int64_t> shape,
                       mlir::Type elt = {});
  mlir::Value splat(mlir::Value scalar, llvm::ArrayRef<int64_t> shape);
  mlir::Value iota(llvm::ArrayRef<int64_t> shape, int64_t dim);
  mlir::Value toF32(mlir::Value tile);
  mlir::Value castTo(mlir::Value tile, mlir::Type elt);

  //--- Elementwise (tiles of one shape; f32 unless noted) ------------------
  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value sub(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, double c);
  mlir::Value div(mlir::Value a, mlir::Value c);
  mlir::Value maximum(mlir::Value a, mlir::Value c);
  mlir::Value neg(mlir::Value a);
  mlir::Value exp(mlir::Value a);
  mlir::Value exp2(mlir::Value a);
  /// a * b + c, one rounding.
  mlir::Value fma(mlir::Value a, mlir::Value b, mlir::Value c);
  mlir::Value rsqrt(mlir::Value a);
  mlir::Value sigmoid(mlir::Value a);
  mlir::Value silu(mlir::Value a);
  /// log(1 + exp(x)), exact for large x (returns x past 20, as PyTorch).
  mlir::Value softplus(mlir::Value a);
  mlir::Value select(mlir::Value cond, mlir::Value a, mlir::Value c);
  /// i32 tile comparisons.
  mlir::Value cmpi(mlir::arith::CmpIPredicate pred, mlir::Value a,
                   mlir::Value c);
  mlir::Value andi(mlir::Value a, mlir::Value c);
  mlir::Value cos(mlir::Value a);
  mlir::Value sin(mlir::Value a);
  /// An index scalar as an i32 tile of `shape`.
  mlir::Value splatIndexAsI32(mlir::Value index, llvm::ArrayRef<int64_t> shape);

  //--- Tile ops --------------------------------------------------------------
  mlir::Value dot(mlir::Value a, mlir::Value c, mlir::Value acc,
                  bool transposeA = false, bool transposeB = false);
  mlir::Value reduce(tile::ReduceKind kind, mlir::Value x, int64_t axis);
  mlir::Value broadcast(mlir::Value x, llvm::ArrayRef<int64_t> dims,
                        llvm::ArrayRef<int64_t> shape);
  mlir::Value cumsum(mlir::Value x, int64_t axis);
  mlir::Value unitLowerInverse(mlir::Value x);
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value extract(mlir::Value x, llvm::ArrayRef<int64_t> indices);

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
};

/// Packed sequences (a `cu_seqlens` memref, [N + 1] i32): sequence n's
/// tokens [begin, end).
std::pair<mlir::Value, mlir::Value> sequenceRange(TileBuilder &tb,
                                                  mlir::Value cuM,
                                                  mlir::Value n);

/// The blocks of `blockSize` tokens of packed sequences, numbered one
/// sequence after another (each sequence starts a block; grids are sized
/// for the most blocks N sequences can have, ceil(T / size) + N). For
/// block slot `slot`: its first token, its sequence's tokens
/// [begin, end), its sequence's index, and whether the slot is a block at
/// all (walks the N sequences).
struct PackedBlock {
  mlir::Value t0, end, begin, valid, sequence;
};
PackedBlock locatePackedBlock(TileBuilder &tb, mlir::Value cuM,
                              mlir::Value slot, int64_t blockSize);

/// The sequence count N of packed sequences, from the size of their
/// cu_seqlens ([N + 1]).
mlir::Value packedSequenceCount(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value cuSize);

/// The block slots locatePackedBlock numbers for `tokens` packed tokens in
/// blocks of `blockSize`: ceil(tokens / blockSize) + N (a grid dim).
mlir::Value packedBlockCount(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value tokens, mlir::Value cuSize,
                             int64_t blockSize);

/// The memref type a kernel takes for a tensor operand or result.
mlir::MemRefType memrefFor(mlir::RankedTensorType t);

/// The memref types a kernel takes for tensor operands or results.
llvm::SmallVector<mlir::Type> memrefsOf(mlir::TypeRange tensors);

/// The sizes in `bySlot` (one per dim of `t`) of `t`'s dynamic dims, in
/// order: the dynamic sizes a dispatch passes for a tensor of type `t`.
llvm::SmallVector<mlir::Value> dynamicSizes(mlir::RankedTensorType t,
                                            llvm::ArrayRef<mlir::Value> bySlot);

/// Returns the kernel `name` of `module`, creating it (at the module's end,
/// so creation order = output order) with `body` when absent. `body` gets
/// the kernel's memref arguments. Kernels are keyed by name: the name must
/// encode every parameter the body depends on.
mlir::func::FuncOp
getOrCreateKernel(mlir::OpBuilder &b, mlir::ModuleOp module, llvm::StringRef name,
                  mlir::TypeRange argTypes, int64_t numWarps,
                  llvm::function_ref<void(TileBuilder &, mlir::ValueRange)> body);

/// The dynamic dims of a tensor value, as tensor.dim ops.
llvm::SmallVector<mlir::Value> dynamicDims(mlir::OpBuilder &b,
                                           mlir::Location loc,
                                           mlir::Value tensor);

/// Builds a dispatch of `kernel`. `inputDims[i]` are the dynamic sizes the
/// kernel expects of input i; `resultDims[i]` those of result i;
/// `tiedResults[i]` (if given) the input result i updates in place, or -1.
DispatchOp createDispatch(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::func::FuncOp kernel,
                          llvm::ArrayRef<mlir::Value> grid,
                          mlir::ValueRange inputs,
                          llvm::ArrayRef<llvm::SmallVector<mlir::Value>> inputDims,
                          mlir::TypeRange resultTypes,
                          llvm::ArrayRef<llvm::SmallVector<mlir::Value>> resultDims,
                          llvm::ArrayRef<int64_t> tiedResults = {});

/// A short name for an element type in kernel names ("bf16", "f32", ...).
std::string typeTag(mlir::Type t);

/// The bits of `v` rounded to f32, in hex: a float attribute in kernel names.
std::string floatTag(double v);

} // namespace hyla

#endif
