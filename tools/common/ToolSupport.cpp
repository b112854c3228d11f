//===- ToolSupport.cpp - what hylac and hyla-cpu-runner share -------------===//

#include "tools/common/ToolSupport.h"

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Tile/TileDialect.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

namespace cl = llvm::cl;

namespace hyla {

void registerCompilerDialects(mlir::DialectRegistry &registry) {
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registry.insert<HylaDialect, tile::TileDialect>();
}

PipelineFlags::PipelineFlags(cl::OptionCategory &category)
    : chunkSize("chunk-size", cl::desc("GDN chunk length (default 64)"),
                cl::init(64), cl::cat(category)),
      gdnBlockV("gdn-block-v",
                cl::desc("GDN state columns per program (default 64)"),
                cl::init(64), cl::cat(category)),
      gdnOutputBlockV(
          "gdn-output-block-v",
          cl::desc("GDN prefill: value columns per output program where "
                   "they divide V, else (or 0) as --gdn-block-v (default "
                   "192)"),
          cl::init(192), cl::cat(category)),
      gdnNumWarps("gdn-num-warps",
                  cl::desc("warps per GDN prefill prep and output program (default 16)"),
                  cl::init(16), cl::cat(category)),
      gdnStateNumWarps(
          "gdn-state-num-warps",
          cl::desc("warps per GDN prefill state program (default 0: by "
                   "target, 4 where it has wgmma (one warpgroup, its "
                   "products on tf32 wgmma, W and K~^T copied into shared "
                   "memory a chunk ahead), else 16)"),
          cl::init(0), cl::cat(category)),
      gdnStateStages(
          "gdn-state-stages",
          cl::desc("GDN prefill state program on sm_90a: shared-memory "
                   "buffers for each operand it copies ahead by TMA, so "
                   "stages - 1 chunks of copies are in flight (2 to 8, "
                   "default 2)"),
          cl::init(2), cl::cat(category)),
      decodeBlockV("decode-block-v",
                   cl::desc("GDN decode: state columns per program "
                            "(default 16)"),
                   cl::init(16), cl::cat(category)),
      decodeNumWarps("decode-num-warps",
                     cl::desc("GDN decode: warps per program (default 2)"),
                     cl::init(2), cl::cat(category)),
      decodeMinProgramsPerSM(
          "decode-min-programs-per-sm",
          cl::desc("GDN decode: programs each SM must fit, capping registers "
                   "(0: no cap; default -1: 8 when a thread holds at most 24 "
                   "state elements)"),
          cl::init(-1), cl::cat(category)),
      decodeBlocksPerProgram(
          "decode-blocks-per-program",
          cl::desc("GDN decode: value blocks one program updates one after "
                   "another, all prefetched into L2 at its start (the "
                   "largest divisor of V / decode-block-v up to this; "
                   "default 1)"),
          cl::init(1), cl::cat(category)),
      mergeMaxParts(
          "merge-max-parts",
          cl::desc("most independent dispatches run as one grid, e.g. a "
                   "decode step's convs and gates (default 8; 1 or less: none)"),
          cl::init(8), cl::cat(category)),
      gemmBlockM("gemm-block-m",
                 cl::desc("GEMM rows per program (default 128)"), cl::init(128),
                 cl::cat(category)),
      gemmBlockN("gemm-block-n",
                 cl::desc("GEMM columns per program (default 0: by target, "
                          "256 where it has wgmma (each warpgroup a 64 x 256 "
                          "product), else 128)"),
                 cl::init(0), cl::cat(category)),
      gemmBlockK("gemm-block-k",
                 cl::desc("GEMM reduction step (default 64)"), cl::init(64),
                 cl::cat(category)),
      gemmNumWarps("gemm-num-warps",
                   cl::desc("warps per GEMM program (default 8)"),
                   cl::init(8), cl::cat(category)),
      fewRowsStages(
          "few-rows-stages",
          cl::desc("few-rows linear (a decode step's products, y^T = W x^T "
                   "on 64 weight rows and 16 input rows a program): weight "
                   "buffers in the k loop (2 to 8, default 3: measured "
                   "fastest of 3, 4 and 6 on H100, docs/perf.md)"),
          cl::init(3), cl::cat(category)),
      fewRowsPrograms(
          "few-rows-programs",
          cl::desc("few-rows linear: programs to aim for with one block of "
                   "rows, by splitting K (default 528, 4 per H100 SM)"),
          cl::init(528), cl::cat(category)),
      fewRowsCluster(
          "few-rows-cluster",
          cl::desc("few-rows linear: most K slices the programs of one "
                   "output block add in a thread-block cluster, through "
                   "distributed shared memory (1 to 8; default 1: a "
                   "second kernel adds the slices, measured faster on H100, "
                   "docs/perf.md)"),
          cl::init(1), cl::cat(category)),
      gemmStages("gemm-stages",
                 cl::desc("GEMM operand buffers in shared memory on sm_90a: "
                          "stages - 1 k steps of copies in flight, or with "
                          "4 or more stages - 2 and the products left "
                          "running (2 to 8; default 0: 4 where the target "
                          "has wgmma, else 3)"),
                 cl::init(0), cl::cat(category)),
      gemmGroupM("gemm-group-m",
                 cl::desc("GEMM row blocks a group of programs takes "
                          "together, row block fastest, so the programs in "
                          "flight share x and W in L2 (default 16; 1: "
                          "column block fastest)"),
                 cl::init(16), cl::cat(category)),
      attnBlockM("attn-block-m",
                 cl::desc("attention queries per program (default 0: by "
                          "target, 128 where it has wgmma (two warpgroups, "
                          "Q copied once by TMA, K by TMA a step ahead), "
                          "else 64)"),
                 cl::init(0), cl::cat(category)),
      attnBlockN("attn-block-n",
                 cl::desc("attention keys per step (default 64)"), cl::init(64),
                 cl::cat(category)),
      attnMinProgramsPerSM(
          "attn-min-programs-per-sm",
          cl::desc("attention prefill: programs each SM must fit, capping "
                   "their registers (default -1: by target, 2 for the "
                   "128-query wgmma programs (128 registers, 98 KB of "
                   "shared memory each), else no cap; 0: no cap)"),
          cl::init(-1), cl::cat(category)),
      attnDecodeBlockN(
          "attn-decode-block-n",
          cl::desc("attention decode (hyla.attention_cached): cached keys "
                   "per step (default 64)"),
          cl::init(64), cl::cat(category)),
      attnDecodeSplits(
          "attn-decode-splits",
          cl::desc("attention decode: programs that share one sequence's "
                   "keys (flash decoding), merged by a combine kernel "
                   "(default 16)"),
          cl::init(16), cl::cat(category)),
      attnDecodeNumWarps(
          "attn-decode-num-warps",
          cl::desc("attention decode: warps per split program (default 4)"),
          cl::init(4), cl::cat(category)),
      attnDecodeMinProgramsPerSM(
          "attn-decode-min-programs-per-sm",
          cl::desc("attention decode: split programs each SM must fit, "
                   "capping their registers (default 0: no cap)"),
          cl::init(0), cl::cat(category)),
      attnDecodeMinSplitKeys(
          "attn-decode-min-split-keys",
          cl::desc("attention decode: the fewest cached keys a split takes, "
                   "so short contexts use fewer splits (default 1024; 0: "
                   "every split takes its share)"),
          cl::init(1024), cl::cat(category)),
      fewRowsEpilogues(
          "few-rows-epilogues",
          cl::desc("few-rows linear: the kernel that sums the K slices also "
                   "adds the residual or applies SwiGLU where that is the "
                   "product's only use (default on: two or three launches "
                   "become one)"),
          cl::init(true), cl::cat(category)),
      gemmEpilogues(
          "gemm-epilogues",
          cl::desc("GEMM (prefill): add the residual, or apply SwiGLU to "
                   "the gate and up products of one input (one program "
                   "computing both), before the store, where that is the "
                   "products' only use (default on)"),
          cl::init(true), cl::cat(category)),
      attnOverlapSoftmax(
          "attn-overlap-softmax",
          cl::desc("attention prefill: run block j's softmax while the "
                   "tensor cores add block j - 1's P V, both products "
                   "asynchronous on wgmma (FlashAttention-3's "
                   "intra-warpgroup pipelining; default false)"),
          cl::init(false), cl::cat(category)),
      gdnParallelChunks(
          "gdn-parallel-chunks",
          cl::desc("GDN as prep/state/output kernels, parallel over chunks "
                   "(default true; false: one kernel, chunk after chunk)"),
          cl::init(true), cl::cat(category)),
      gdnFuseQKL2Norm(
          "gdn-fuse-qk-l2norm",
          cl::desc("GDN prefill: the chunk kernels L2-normalize q and k as "
                   "they load them instead of two norm kernels (default "
                   "false: measured slower on H100 at K=96)"),
          cl::init(false), cl::cat(category)),
      gdnFusePrologue(
          "gdn-fuse-prologue",
          cl::desc("GDN prefill: the chunk kernels run the short convs with "
                   "SiLU, the q/k L2 norms and the gates on the raw "
                   "projections as they load them (dense batches; default "
                   "false: the folded kernels spill, the layer measured "
                   "1.8x slower on H100)"),
          cl::init(false), cl::cat(category)),
      gdnFuseOutputNorm(
          "gdn-fuse-output-norm",
          cl::desc("GDN prefill: the output kernel applies the gated RMSNorm "
                   "before it stores (default false: measured 1.2x slower on "
                   "H100)"),
          cl::init(false), cl::cat(category)) {}

void PipelineFlags::addPipeline(mlir::OpPassManager &pm, bool wgmma) const {
  KernelPipelineOptions o;
  o.chunkSize = chunkSize.getValue();
  o.gdnBlockV = gdnBlockV.getValue();
  o.gdnOutputBlockV = gdnOutputBlockV.getValue();
  o.gdnNumWarps = gdnNumWarps.getValue();
  // Measured on the H100 (docs/perf.md): one warpgroup with staged
  // operands beats 16 warps of mma.sync; without wgmma 4 warps spill.
  o.gdnStateNumWarps = gdnStateNumWarps.getValue()
                           ? gdnStateNumWarps.getValue()
                           : (wgmma ? 4 : 16);
  o.gdnStateStages = gdnStateStages.getValue();
  o.decodeBlockV = decodeBlockV.getValue();
  o.decodeNumWarps = decodeNumWarps.getValue();
  o.decodeMinProgramsPerSM = decodeMinProgramsPerSM.getValue();
  o.decodeBlocksPerProgram = decodeBlocksPerProgram.getValue();
  o.mergeMaxParts = mergeMaxParts.getValue();
  o.gemmBlockM = gemmBlockM.getValue();
  // 128 x 256 tiles on 4 stages measured 0.86-0.90x cuBLAS at the 7B's
  // prefill shapes against 0.64-0.84x for 128 x 128 on 3 (H100,
  // docs/perf.md, session 16); mma.sync would hold 128 accumulators a
  // thread at 256 columns.
  o.gemmBlockN = gemmBlockN.getValue() ? gemmBlockN.getValue()
                                       : (wgmma ? 256 : 128);
  o.gemmBlockK = gemmBlockK.getValue();
  o.gemmNumWarps = gemmNumWarps.getValue();
  o.gemmStages = gemmStages.getValue() ? gemmStages.getValue()
                                       : (wgmma ? 4 : 3);
  o.gemmGroupM = gemmGroupM.getValue();
  o.gemmEpilogues = gemmEpilogues.getValue();
  o.fewRowsStages = fewRowsStages.getValue();
  o.fewRowsPrograms = fewRowsPrograms.getValue();
  o.fewRowsCluster = fewRowsCluster.getValue();
  o.fewRowsEpilogues = fewRowsEpilogues.getValue();
  // 128 queries on two wgmma warpgroups measured 1.13-1.16x faster than 64
  // on mma.sync (H100, docs/perf.md, session 11).
  o.attnBlockM = attnBlockM.getValue() ? attnBlockM.getValue()
                                       : (wgmma ? 128 : 64);
  o.attnBlockN = attnBlockN.getValue();
  // Two 128-query programs an SM (one's softmax beside the other's
  // products) need 128 registers a thread; uncapped, ptxas took 130 and
  // one program ran alone.
  o.attnMinProgramsPerSM =
      attnMinProgramsPerSM.getValue() >= 0
          ? attnMinProgramsPerSM.getValue()
          : (wgmma && o.attnBlockM == 128 && o.attnBlockN == 64 ? 2 : 0);
  o.attnOverlapSoftmax = attnOverlapSoftmax.getValue();
  o.attnDecodeBlockN = attnDecodeBlockN.getValue();
  o.attnDecodeSplits = attnDecodeSplits.getValue();
  o.attnDecodeNumWarps = attnDecodeNumWarps.getValue();
  o.attnDecodeMinProgramsPerSM = attnDecodeMinProgramsPerSM.getValue();
  o.attnDecodeMinSplitKeys = attnDecodeMinSplitKeys.getValue();
  o.gdnParallelChunks = gdnParallelChunks.getValue();
  o.gdnFuseQKL2Norm = gdnFuseQKL2Norm.getValue();
  o.gdnFusePrologue = gdnFusePrologue.getValue();
  o.gdnFuseOutputNorm = gdnFuseOutputNorm.getValue();
  buildKernelPipeline(pm, o);
}

} // namespace hyla
