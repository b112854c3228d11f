//===- GpuCompile.cpp - hyla_tile kernels to PTX --------------------------===//
//
// Kernels go one at a time: hyla-tile-to-gpu, fast math, gpu-to-nvvm, then
// MLIR's NVVM target serializes the gpu.module to PTX with LLVM's NVPTX
// backend (`gpu-module-to-binary{format=isa}`). One kernel per module keeps
// the progress report honest and each PTX file self-contained.
//
//===----------------------------------------------------------------------===//

#include "lowering/GpuCompile.h"
#include "lowering/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>

using namespace mlir;

namespace hyla {

void buildTileToNVVMPipeline(OpPassManager &pm, StringRef targetId,
                             const GpuCompileOptions &options) {
  pm.addPass(createTileMmaAccumulators({targetId.str()}));
  if (options.fragmentLayouts)
    pm.addPass(createTileFragmentLayouts({targetId.str()}));
  const GpuTarget *target = lookupTarget(targetId);
  bool tma = target && target->hasTma && options.tma;
  TilePipelineOperandsOptions pipeline;
  pipeline.tma = tma;
  pipeline.warpSpecialize = tma && options.warpSpecialize;
  pipeline.releaseRings = tma && options.releaseRings;
  pm.addPass(createTilePipelineOperands(pipeline));
  pm.addPass(createTileAsyncDots());
  pm.addPass(createTileGridDependency());
  pm.addPass(createTileToGPU({targetId.str()}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createMathToNVVM());
  pm.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps(nvvm));
  pm.addPass(createTensorMapParams());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

/// NVPTX addresses shared memory with 32-bit registers when its
/// `nvptx-short-ptr` option is set (as nvcc's and Triton's PTX do); by
/// default every shared address is 64-bit, which costs the chunk kernels
/// registers they spill. A command line that names the option wins.
static void useShortSharedPointers() {
  auto &options =
      llvm::cl::getRegisteredOptions();
  auto it = options.find("nvptx-short-ptr");
  if (it != options.end() && it->second->getNumOccurrences() == 0)
    (void)it->second->addOccurrence(0, "nvptx-short-ptr", "true");
}

FailureOr<std::vector<CompiledKernel>> compileKernelsToPTX(
    ModuleOp kernels, const GpuTarget &target,
    const std::function<void(size_t, size_t, StringRef, double)> &progress,
    const GpuCompileOptions &options) {
  MLIRContext *ctx = kernels.getContext();
  useShortSharedPointers();
  SmallVector<func::FuncOp> fns;
  for (auto fn : kernels.getOps<func::FuncOp>())
    if (fn->hasAttr(tile::TileDialect::kKernelAttrName))
      fns.push_back(fn);

  std::vector<CompiledKernel> out;
  for (auto [i, fn] : llvm::enumerate(fns)) {
    auto start = std::chrono::steady_clock::now();
    OwningOpRef<ModuleOp> one = ModuleOp::create(fn.getLoc());
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(one->getBody());
    b.clone(*fn.getOperation());

    PassManager lower(ctx);
    buildTileToNVVMPipeline(lower, target.id, options);
    if (failed(lower.run(*one)))
      return fn.emitError() << "failed to lower kernel " << fn.getSymName()
                            << " for " << target.id;

    CompiledKernel k;
    k.name = fn.getSymName().str();
    one->walk([&](LLVM::LLVMFuncOp f) {
      if (auto smem = f->getAttrOfType<IntegerAttr>(kSharedMemoryBytesAttr))
        k.sharedMemBytes = smem.getInt();
      // The lowering may add warps (a producer warpgroup).
      if (auto threads = f->getAttrOfType<IntegerAttr>(kBlockThreadsAttr))
        k.blockDim = threads.getInt();
      if (f->hasAttr(kProgrammaticLaunchAttr))
        k.programmaticLaunch = true;
      if (auto maps = f->getAttrOfType<ArrayAttr>(kTensorMapsAttr))
        for (auto map : maps.getAsRange<DictionaryAttr>()) {
          CompiledKernel::TensorMap tm;
          tm.arg = map.getAs<IntegerAttr>("arg").getInt();
          auto box = map.getAs<DenseI64ArrayAttr>("box").asArrayRef();
          tm.box.assign(box.begin(), box.end());
          tm.swizzle = map.getAs<IntegerAttr>("swizzle").getInt();
          k.tensorMaps.push_back(std::move(tm));
        }
    });

    if (k.blockDim <= 0)
      return fn.emitError() << "lowered kernel " << fn.getSymName()
                            << " has no thread count";
    PassManager serialize(ctx);
    GpuModuleToBinaryPassOptions binary;
    binary.compilationTarget = "isa";
    serialize.addPass(createGpuModuleToBinaryPass(binary));
    if (failed(serialize.run(*one)))
      return fn.emitError() << "NVPTX code generation failed for kernel "
                            << fn.getSymName();
    one->walk([&](gpu::BinaryOp bin) {
      for (Attribute a : bin.getObjects())
        if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
          k.ptx = obj.getObject().getValue().str();
    });
    if (k.ptx.empty())
      return fn.emitError() << "no PTX produced for kernel " << fn.getSymName();
    // The serializer may end the PTX text with a NUL; drop it.
    while (!k.ptx.empty() && k.ptx.back() == '\0')
      k.ptx.pop_back();
    out.push_back(std::move(k));
    if (progress)
      progress(i + 1, fns.size(), fn.getSymName(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                             start)
                   .count());
  }
  return out;
}

void registerGpuPipelines() {
  struct Options : public PassPipelineOptions<Options> {
    Option<std::string> target{*this, "target",
                               llvm::cl::desc("GPU target"),
                               llvm::cl::init("sm_90a")};
    Option<bool> fragmentLayouts{
        *this, "fragment-layouts",
        llvm::cl::desc("keep dot results in mma fragments"),
        llvm::cl::init(true)};
    Option<bool> warpSpecialize{
        *this, "warp-specialize",
        llvm::cl::desc("sequential loops' copies from a producer warpgroup"),
        llvm::cl::init(false)};
    Option<bool> releaseRings{
        *this, "release-rings",
        llvm::cl::desc("sequential loops' stages released on mbarriers"),
        llvm::cl::init(false)};
  };
  PassPipelineRegistration<Options>(
      "hyla-tile-to-nvvm",
      "Lower a module of hyla_tile kernels to gpu.modules in the NVVM/LLVM "
      "dialects (then gpu-module-to-binary makes PTX)",
      [](OpPassManager &pm, const Options &options) {
        // An unknown target is reported by hyla-tile-to-gpu itself.
        GpuCompileOptions gpu;
        gpu.fragmentLayouts = options.fragmentLayouts;
        gpu.warpSpecialize = options.warpSpecialize;
        gpu.releaseRings = options.releaseRings;
        buildTileToNVVMPipeline(pm, options.target, gpu);
      });
}

} // namespace hyla
