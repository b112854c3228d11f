//===- GpuCompile.h - hyla_tile kernels to PTX ----------------------------===//
#ifndef HYLA_LOWERING_GPUCOMPILE_H
#define HYLA_LOWERING_GPUCOMPILE_H

#include "lowering/Targets.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hyla {

/// A kernel compiled for a GPU target.
struct CompiledKernel {
  std::string name;
  std::string ptx;
  int64_t blockDim = 0;
  int64_t sharedMemBytes = 0;
  /// Starts with griddepcontrol.wait: may overlap the launch before it.
  bool programmaticLaunch = false;
  /// Memref argument `arg` also takes a tensor map (after its dims) that
  /// tiles it by `box` (row-major), `swizzle` bytes swizzled.
  struct TensorMap {
    unsigned arg = 0;
    std::vector<int64_t> box;
    int64_t swizzle = 0;
  };
  std::vector<TensorMap> tensorMaps;
};

/// How kernels are lowered, beyond the target.
struct GpuCompileOptions {
  /// Run hyla-tile-fragment-layouts (dot results stay in mma fragments).
  bool fragmentLayouts = true;
  /// Copy pipelined operands through tensor maps where the target has TMA.
  bool tma = true;
  /// Copies of sequential loops (the GDN state kernel) from a producer
  /// warpgroup, where the target has TMA and setmaxnreg.
  bool warpSpecialize = false;
  /// Unspecialized sequential loops release their ring stages on mbarriers
  /// instead of a barrier of the whole program a step.
  bool releaseRings = false;
};

/// The passes from a module of hyla_tile kernels to gpu.modules whose
/// functions are in the LLVM/NVVM dialects, ready for serialization.
void buildTileToNVVMPipeline(mlir::OpPassManager &pm, llvm::StringRef targetId,
                             const GpuCompileOptions &options = {});

/// Compiles every hyla_tile kernel of `kernels` (a module holding only
/// kernels) to PTX, one kernel at a time in module order. `progress` is
/// called after each kernel with (done, total, name, seconds).
mlir::FailureOr<std::vector<CompiledKernel>> compileKernelsToPTX(
    mlir::ModuleOp kernels, const GpuTarget &target,
    const std::function<void(size_t, size_t, llvm::StringRef, double)>
        &progress = {},
    const GpuCompileOptions &options = {});

/// Registers `hyla-tile-to-nvvm` (target option) for hyla-opt.
void registerGpuPipelines();

} // namespace hyla

#endif
