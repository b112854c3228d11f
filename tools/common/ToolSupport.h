//===- ToolSupport.h - what hylac and hyla-cpu-runner share ---------------===//
#ifndef HYLA_TOOLS_COMMON_TOOLSUPPORT_H
#define HYLA_TOOLS_COMMON_TOOLSUPPORT_H

#include "passes/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "llvm/Support/CommandLine.h"

namespace hyla {

/// Every dialect, extension and LLVM IR translation the compiler tools use
/// (MLIR's, hyla's, and NVVM's serialization to PTX).
void registerCompilerDialects(mlir::DialectRegistry &registry);

/// The graph-to-kernels pipeline's tile sizes as command-line flags.
struct PipelineFlags {
  explicit PipelineFlags(llvm::cl::OptionCategory &category);
  /// Adds the graph-to-kernels pipeline with these sizes to `pm`; settings
  /// left at 0 take the target's default (`wgmma`: the target has it).
  void addPipeline(mlir::OpPassManager &pm, bool wgmma) const;

  llvm::cl::opt<int64_t> chunkSize, gdnBlockV, gdnOutputBlockV, gdnNumWarps,
      gdnStateNumWarps, gdnStateStages, decodeBlockV,
      decodeNumWarps, decodeMinProgramsPerSM, decodeBlocksPerProgram,
      mergeMaxParts, gemmBlockM,
      gemmBlockN, gemmBlockK, gemmNumWarps, fewRowsStages,
      fewRowsPrograms, fewRowsCluster, gemmStages, gemmGroupM, attnBlockM, attnBlockN,
      attnMinProgramsPerSM, attnDecodeBlockN, attnDecodeSplits, attnDecodeNumWarps,
      attnDecodeMinProgramsPerSM, attnDecodeMinSplitKeys;
  llvm::cl::opt<bool> fewRowsEpilogues, gemmEpilogues, attnOverlapSoftmax, gdnParallelChunks, gdnFuseQKL2Norm,
      gdnFusePrologue, gdnFuseOutputNorm;
};

} // namespace hyla

#endif
