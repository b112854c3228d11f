//===- hyla-opt.cpp - mlir-opt with the hyla dialects and passes ----------===//
//
// The driver lit tests use: parses hyla IR, runs any registered pass
// pipeline, prints the result.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Tile/TileDialect.h"
#include "lowering/GpuCompile.h"
#include "lowering/Passes.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  hyla::registerHylaPasses();
  hyla::registerHylaLoweringPasses();
  hyla::registerHylaPipelines();
  hyla::registerHylaLoweringPipelines();
  hyla::registerGpuPipelines();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<hyla::HylaDialect, hyla::tile::TileDialect>();
  // For gpu-module-to-binary: NVVM serialization and LLVM IR translation.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "hyla optimizer driver\n", registry));
}
