//===- ModuleWriter.h - graph + kernels -> hyla module file ---------------===//
#ifndef HYLA_LOWERING_MODULEWRITER_H
#define HYLA_LOWERING_MODULEWRITER_H

#include "lowering/GpuCompile.h"
#include "lowering/Targets.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <utility>
#include <vector>

namespace hyla {

struct ModuleWriterOptions {
  const GpuTarget *target = nullptr;
  std::string producer;
  /// Written in order.
  std::vector<std::pair<std::string, std::string>> metadata;
  /// PTX of every kernel the graph dispatches.
  std::vector<CompiledKernel> kernels;
  /// Optional cubins by kernel name (ptxas output for the same target).
  std::map<std::string, std::vector<uint8_t>> cubins;
};

/// Builds the launch plan of every entry function of `module` (graph
/// functions whose ops are dispatches, weights, reshapes and index math) and
/// serializes it with the kernels into the FlatBuffers module format
/// (runtime/schema/hyla_module.fbs). Emits an error on the offending op for
/// anything the runtime could not execute.
mlir::FailureOr<std::string> writeHylaModule(mlir::ModuleOp module,
                                             const ModuleWriterOptions &options);

} // namespace hyla

#endif
