//===- Passes.h - hyla lowering passes ------------------------------------===//
#ifndef HYLA_LOWERING_PASSES_H
#define HYLA_LOWERING_PASSES_H

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Tile/TileDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace hyla {

/// Set by hyla-tile-to-gpu on each lowered kernel (they survive into the
/// llvm.func): its dynamic shared memory in bytes, the threads to launch it
/// with (a warp-specialized kernel's producer warpgroup included), and
/// (unit) that it starts with griddepcontrol.wait, so it may be launched
/// programmatically.
inline constexpr llvm::StringLiteral kSharedMemoryBytesAttr =
    "hyla.shared_memory_bytes";
inline constexpr llvm::StringLiteral kBlockThreadsAttr = "hyla.block_threads";
inline constexpr llvm::StringLiteral kProgrammaticLaunchAttr =
    "hyla.programmatic_launch";

/// Set by hyla-tile-to-gpu on a kernel whose TMA copies read some of its
/// arguments through tensor maps: one dictionary per such argument, with
/// `param` (the index of its tensor-map parameter), `arg` (the memref
/// argument), `box` (the tile each copy moves, row-major) and `swizzle`
/// (bytes). hyla-tensor-map-params turns those parameters into grid
/// constants; the module writer tells the runtime what to encode.
inline constexpr llvm::StringLiteral kTensorMapsAttr = "hyla.tensor_maps";

/// How TMA copies tile one kernel argument (see kTensorMapsAttr).
struct TensorMapBox {
  llvm::SmallVector<int64_t, 2> box;
  int64_t swizzle = 0;
};

#define GEN_PASS_DECL
#include "lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/Passes.h.inc"

} // namespace hyla

#endif
