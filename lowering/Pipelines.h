//===- Pipelines.h - lowering pipelines -----------------------------------===//
#ifndef HYLA_LOWERING_PIPELINES_H
#define HYLA_LOWERING_PIPELINES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

namespace hyla {

/// hyla_tile kernels -> LLVM dialect for the host CPU (each kernel becomes
/// a function running one program, program ids as trailing arguments).
void buildTileToCPUPipeline(mlir::OpPassManager &pm);

/// Moves the hyla_tile kernels of `module` into a new module (the graph
/// functions stay), so each side can be lowered on its own.
mlir::OwningOpRef<mlir::ModuleOp> extractKernels(mlir::ModuleOp module);

/// Registers `hyla-tile-to-cpu-llvm` for hyla-opt.
void registerHylaLoweringPipelines();

} // namespace hyla

#endif
