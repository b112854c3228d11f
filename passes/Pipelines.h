//===- Pipelines.h - the graph-to-kernels pass pipeline -------------------===//
#ifndef HYLA_PASSES_PIPELINES_H
#define HYLA_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace hyla {

struct KernelPipelineOptions
    : public mlir::PassPipelineOptions<KernelPipelineOptions> {
  Option<int64_t> chunkSize{*this, "chunk-size",
                            llvm::cl::desc("GDN chunk length"),
                            llvm::cl::init(64)};
  Option<int64_t> gdnBlockV{*this, "gdn-block-v",
                            llvm::cl::desc("GDN state columns per program"),
                            llvm::cl::init(64)};
  Option<int64_t> gdnOutputBlockV{
      *this, "gdn-output-block-v",
      llvm::cl::desc("GDN output columns per program where they divide V "
                     "(else, or 0: gdn-block-v)"),
      llvm::cl::init(192)};
  Option<int64_t> gdnNumWarps{*this, "gdn-num-warps",
                              llvm::cl::desc("warps per GDN program"),
                              llvm::cl::init(16)};
  Option<int64_t> gdnStateNumWarps{
      *this, "gdn-state-num-warps",
      llvm::cl::desc("warps per GDN prefill state program"),
      llvm::cl::init(16)};
  Option<int64_t> gdnStateStages{
      *this, "gdn-state-stages",
      llvm::cl::desc("buffers per operand the GDN state program copies ahead"),
      llvm::cl::init(2)};
  Option<bool> gdnFuseQKL2Norm{
      *this, "gdn-fuse-qk-l2norm",
      llvm::cl::desc("fold q/k L2 norms into the prefill chunk kernels"),
      llvm::cl::init(false)};
  Option<bool> gdnFusePrologue{
      *this, "gdn-fuse-prologue",
      llvm::cl::desc("fold the short convs, q/k L2 norms and gates into the "
                     "prefill chunk kernels"),
      llvm::cl::init(false)};
  Option<bool> gdnFuseOutputNorm{
      *this, "gdn-fuse-output-norm",
      llvm::cl::desc("fold the gated RMSNorm into the prefill output kernel"),
      llvm::cl::init(false)};
  Option<bool> gdnParallelChunks{
      *this, "gdn-parallel-chunks",
      llvm::cl::desc("GDN as prep/state/output kernels (parallel over chunks)"),
      llvm::cl::init(true)};
  Option<int64_t> decodeBlockV{
      *this, "decode-block-v",
      llvm::cl::desc("GDN decode: state columns per program"),
      llvm::cl::init(16)};
  Option<int64_t> decodeNumWarps{
      *this, "decode-num-warps",
      llvm::cl::desc("GDN decode: warps per program"), llvm::cl::init(2)};
  Option<int64_t> decodeMinProgramsPerSM{
      *this, "decode-min-programs-per-sm",
      llvm::cl::desc("GDN decode: programs each SM must fit (0: no cap, "
                     "-1: by state size)"),
      llvm::cl::init(-1)};
  Option<int64_t> decodeBlocksPerProgram{
      *this, "decode-blocks-per-program",
      llvm::cl::desc("GDN decode: value blocks a program updates in turn, "
                     "prefetched into L2 at its start"),
      llvm::cl::init(1)};
  Option<int64_t> mergeMaxParts{
      *this, "merge-max-parts",
      llvm::cl::desc("most independent dispatches run as one grid (1: "
                     "merge nothing)"),
      llvm::cl::init(8)};
  Option<int64_t> gemmBlockM{*this, "gemm-block-m",
                             llvm::cl::desc("GEMM rows per program"),
                             llvm::cl::init(128)};
  Option<int64_t> gemmBlockN{*this, "gemm-block-n",
                             llvm::cl::desc("GEMM columns per program"),
                             llvm::cl::init(128)};
  Option<int64_t> gemmBlockK{*this, "gemm-block-k",
                             llvm::cl::desc("GEMM reduction step"),
                             llvm::cl::init(64)};
  Option<int64_t> gemmNumWarps{*this, "gemm-num-warps",
                               llvm::cl::desc("warps per GEMM program"),
                               llvm::cl::init(8)};
  Option<int64_t> fewRowsStages{
      *this, "few-rows-stages",
      llvm::cl::desc("few-rows linear (decode): weight buffers in the k loop"),
      llvm::cl::init(3)};
  Option<int64_t> fewRowsPrograms{
      *this, "few-rows-programs",
      llvm::cl::desc("few-rows linear (decode): programs to aim for by "
                     "splitting K"),
      llvm::cl::init(528)};
  Option<bool> fewRowsEpilogues{
      *this, "few-rows-epilogues",
      llvm::cl::desc("few-rows linear (decode): the slice sum also adds the "
                     "residual or applies SwiGLU"),
      llvm::cl::init(true)};
  Option<int64_t> fewRowsCluster{
      *this, "few-rows-cluster",
      llvm::cl::desc("few-rows linear (decode): most K slices added in a "
                     "thread-block cluster (1: a second kernel adds them)"),
      llvm::cl::init(1)};
  Option<bool> gemmEpilogues{
      *this, "gemm-epilogues",
      llvm::cl::desc("GEMM: the residual add or SwiGLU in the GEMM's "
                     "epilogue"),
      llvm::cl::init(true)};
  Option<int64_t> gemmGroupM{
      *this, "gemm-group-m",
      llvm::cl::desc("GEMM row blocks whose programs run together"),
      llvm::cl::init(16)};
  Option<int64_t> gemmStages{
      *this, "gemm-stages",
      llvm::cl::desc("GEMM operand buffers per pipelined k loop (2 to 8)"),
      llvm::cl::init(3)};
  Option<int64_t> attnBlockM{*this, "attn-block-m",
                             llvm::cl::desc("attention queries per program"),
                             llvm::cl::init(64)};
  Option<int64_t> attnBlockN{*this, "attn-block-n",
                             llvm::cl::desc("attention keys per step"),
                             llvm::cl::init(64)};
  Option<int64_t> attnMinProgramsPerSM{
      *this, "attn-min-programs-per-sm",
      llvm::cl::desc("attention prefill: programs each SM must fit (0: no "
                     "register cap)"),
      llvm::cl::init(0)};
  Option<bool> attnOverlapSoftmax{
      *this, "attn-overlap-softmax",
      llvm::cl::desc("attention prefill: run block j's softmax while the "
                     "tensor cores add block j - 1's P V (FlashAttention-3's "
                     "intra-warpgroup pipelining)"),
      llvm::cl::init(false)};
  Option<int64_t> attnDecodeBlockN{
      *this, "attn-decode-block-n",
      llvm::cl::desc("attention decode: cached keys per step"),
      llvm::cl::init(64)};
  Option<int64_t> attnDecodeMinSplitKeys{
      *this, "attn-decode-min-split-keys",
      llvm::cl::desc("attention decode: the fewest cached keys a split "
                     "takes"),
      llvm::cl::init(0)};
  Option<int64_t> attnDecodeSplits{
      *this, "attn-decode-splits",
      llvm::cl::desc("attention decode: programs sharing a sequence's keys"),
      llvm::cl::init(16)};
  Option<int64_t> attnDecodeNumWarps{
      *this, "attn-decode-num-warps",
      llvm::cl::desc("attention decode: warps per split program"),
      llvm::cl::init(4)};
  Option<int64_t> attnDecodeMinProgramsPerSM{
      *this, "attn-decode-min-programs-per-sm",
      llvm::cl::desc("attention decode: split programs each SM must fit (0: "
                     "no register cap)"),
      llvm::cl::init(0)};
};

/// Graph ops -> dispatches of tile kernels: chunked delta rule, flash
/// attention, kernelize, canonicalize + CSE, merge independent dispatches.
void buildKernelPipeline(mlir::OpPassManager &pm,
                         const KernelPipelineOptions &options);

/// Registers `hyla-graph-to-kernels` for hyla-opt.
void registerHylaPipelines();

} // namespace hyla

#endif
