//===- ConfigImporter.h - Hugging Face config.json -> hyla graph IR -------===//
#ifndef HYLA_TOOLS_HYLAC_CONFIGIMPORTER_H
#define HYLA_TOOLS_HYLAC_CONFIGIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <optional>
#include <string>
#include <vector>

namespace hyla {

/// The model described by an Olmo Hybrid config.json, with Hugging Face's
/// defaults filled in.
struct OlmoHybridConfig {
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0, numKVHeads = 0, headDim = 0;
  int64_t gdnKeyHeads = 0, gdnValueHeads = 0, gdnKeyDim = 0, gdnValueDim = 0;
  int64_t convKernel = 4;
  bool allowNegEigval = true;
  bool tieWordEmbeddings = false;
  double rmsNormEps = 1e-6;
  double gatedNormEps = 1e-5;
  std::optional<double> ropeTheta;
  std::vector<bool> isAttention; // per layer
  std::string dtype = "bfloat16";
};

/// Reads and validates `path`. On error, prints "<path>: error: ..." naming
/// the field and what was expected, and returns std::nullopt.
std::optional<OlmoHybridConfig> readOlmoHybridConfig(llvm::StringRef path);

/// The whole-model graph: `func.func @forward(ids: [batch, tokens] i32)
/// -> logits [batch, tokens, vocab]`, weights by their Hugging Face names.
mlir::OwningOpRef<mlir::ModuleOp>
buildOlmoHybridGraph(mlir::MLIRContext *ctx, const OlmoHybridConfig &config,
                     llvm::StringRef sourceName);

} // namespace hyla

#endif
