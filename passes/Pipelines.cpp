//===- Pipelines.cpp - the graph-to-kernels pass pipeline -----------------===//

#include "passes/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void hyla::buildKernelPipeline(OpPassManager &pm,
                               const KernelPipelineOptions &options) {
  // The folded convs feed the q/k norms: they fold only with them.
  pm.addPass(createFuseQKL2Norm(
      {options.gdnFuseQKL2Norm || options.gdnFusePrologue}));
  if (options.gdnFusePrologue || options.gdnFuseOutputNorm)
    pm.addPass(createFuseGdnLayer(
        {options.gdnFusePrologue, options.gdnFuseOutputNorm}));
  pm.addPass(createChunkDeltaRule(
      {options.chunkSize, options.gdnBlockV, options.gdnOutputBlockV,
       options.gdnNumWarps, options.gdnStateNumWarps,
       options.gdnParallelChunks, options.gdnStateStages}));
  FlashAttentionOptions attention;
  attention.blockM = options.attnBlockM;
  attention.blockN = options.attnBlockN;
  attention.numWarps = 8;
  attention.minProgramsPerSM = options.attnMinProgramsPerSM;
  attention.overlapSoftmax = options.attnOverlapSoftmax;
  attention.decodeBlockN = options.attnDecodeBlockN;
  attention.decodeSplits = options.attnDecodeSplits;
  attention.decodeNumWarps = options.attnDecodeNumWarps;
  attention.decodeMinProgramsPerSM = options.attnDecodeMinProgramsPerSM;
  attention.decodeMinSplitKeys = options.attnDecodeMinSplitKeys;
  pm.addPass(createFlashAttention(attention));
  KernelizeOptions kernelize;
  kernelize.decodeBlockV = options.decodeBlockV;
  kernelize.decodeNumWarps = options.decodeNumWarps;
  kernelize.decodeMinProgramsPerSM = options.decodeMinProgramsPerSM;
  kernelize.decodeBlocksPerProgram = options.decodeBlocksPerProgram;
  kernelize.gemmBlockM = options.gemmBlockM;
  kernelize.gemmBlockN = options.gemmBlockN;
  kernelize.gemmBlockK = options.gemmBlockK;
  kernelize.gemmNumWarps = options.gemmNumWarps;
  kernelize.gemmStages = options.gemmStages;
  kernelize.gemmGroupM = options.gemmGroupM;
  kernelize.gemmEpilogues = options.gemmEpilogues;
  kernelize.fewRowsStages = options.fewRowsStages;
  kernelize.fewRowsPrograms = options.fewRowsPrograms;
  kernelize.fewRowsCluster = options.fewRowsCluster;
  kernelize.fewRowsEpilogues = options.fewRowsEpilogues;
  pm.addPass(createKernelize(kernelize));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.mergeMaxParts > 1) {
    pm.addPass(createMergeDispatches({options.mergeMaxParts, /*mergeMatmuls=*/false}));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  pm.addPass(createEarlyInputs());
}

void hyla::registerHylaPipelines() {
  PassPipelineRegistration<KernelPipelineOptions>(
      "hyla-graph-to-kernels",
      "Turn every hyla graph op into a dispatch of a hyla_tile kernel",
      buildKernelPipeline);
}
