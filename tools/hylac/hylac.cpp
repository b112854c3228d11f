//===- hylac.cpp - the hyla compiler driver -------------------------------===//
//
// config.json (or hyla IR) -> hyla graph -> tile kernels -> PTX -> module.
//
//===----------------------------------------------------------------------===//

#include "ConfigImporter.h"

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileDialect.h"
#include "lowering/GpuCompile.h"
#include "lowering/ModuleWriter.h"
#include "lowering/Pipelines.h"
#include "lowering/Targets.h"
#include "passes/Pipelines.h"
#include "tools/common/ToolSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

using namespace mlir;
using namespace hyla;
namespace cl = llvm::cl;

#ifndef HYLA_VERSION
#define HYLA_VERSION "0.1.0"
#endif

static cl::OptionCategory category("hylac options");
static cl::opt<std::string>
    inputPath(cl::Positional,
              cl::desc("<config.json | graph.mlir>"), cl::Required,
              cl::cat(category));
static cl::opt<std::string>
    outputPath("o", cl::desc("Output file (default: <model>.hyla, or stdout "
                             "for --emit=graph/kernel-ir)"),
               cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    targetId("target",
             cl::desc("GPU target: sm_90a (Hopper) or sm_100a (Blackwell)"),
             cl::init("sm_90a"), cl::cat(category));
enum class Emit { Module, Graph, KernelIR, PTX };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"),
    cl::values(clEnumValN(Emit::Module, "module",
                          "the runnable module for hyla-run and the runtime "
                          "(default)"),
               clEnumValN(Emit::Graph, "graph",
                          "the imported hyla graph IR, before any pass"),
               clEnumValN(Emit::KernelIR, "kernel-ir",
                          "the IR after the fusion and tiling passes "
                          "(dispatches and hyla_tile kernels)"),
               clEnumValN(Emit::PTX, "ptx",
                          "one .ptx file per kernel into the -o directory")),
    cl::init(Emit::Module), cl::cat(category));
static cl::opt<std::string>
    ptxDir("ptx-dir", cl::desc("Also write each kernel's PTX into this "
                               "directory (e.g. to check it with ptxas)"),
           cl::value_desc("dir"), cl::cat(category));
static cl::opt<bool>
    cubin("cubin", cl::desc("Assemble every kernel with ptxas and embed the "
                            "cubin next to the PTX"),
          cl::init(false), cl::cat(category));
static cl::opt<std::string>
    ptxasPath("ptxas", cl::desc("ptxas to use with --cubin (default: "
                                "$CUDA_HOME/bin, /usr/local/cuda/bin, PATH)"),
              cl::cat(category));
static cl::opt<bool> summary("summary",
                             cl::desc("Print a table of the module's kernels"),
                             cl::init(false), cl::cat(category));
static cl::opt<bool> fragmentLayouts(
    "fragment-layouts",
    cl::desc("Keep dot results in mma fragments through the elementwise ops, "
             "stores, loops and dots that use them (default true; false: "
             "every product goes through shared memory into the thread "
             "layout)"),
    cl::init(true), cl::cat(category));
static cl::opt<bool> tma(
    "tma",
    cl::desc("Copy wgmma operands into shared memory (GEMM k loops, the GDN "
             "state loop) with the tensor memory accelerator "
             "(tensor maps, mbarriers) where the target has one (default "
             "true; false: every thread copies with cp.async)"),
    cl::init(true), cl::cat(category));
static cl::opt<bool> warpSpecialize(
    "warp-specialize",
    cl::desc("sm_90a with --tma: the copies of sequential loops (the GDN "
             "state program's, attention's key loop) come from a producer "
             "warpgroup (setmaxnreg.dec 40) while the program's own "
             "warpgroups compute (setmaxnreg.inc 232), each buffer released "
             "on an mbarrier (default false)"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> releaseRings(
    "release-rings",
    cl::desc("sm_90a with --tma, without --warp-specialize: sequential "
             "loops' threads release each ring buffer on an mbarrier when "
             "done with it and only the copying thread waits for that, "
             "instead of a barrier of the whole program every step (its "
             "warpgroups then need not run in step; default false)"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> quiet("quiet", cl::desc("No progress output"),
                           cl::init(false), cl::cat(category));
static PipelineFlags pipelineFlags(category);

namespace {

auto startTime = std::chrono::steady_clock::now();

void progress(const llvm::Twine &msg) {
  if (quiet)
    return;
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           startTime)
                 .count();
  llvm::errs() << llvm::formatv("[hylac {0,6:f2}s] ", t) << msg << "\n";
}

bool looksLikeJson(StringRef path) {
  if (path.ends_with(".json"))
    return true;
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return false;
  StringRef text = (*buf)->getBuffer().ltrim();
  return text.starts_with("{");
}

std::string defaultOutput(StringRef input) {
  StringRef stem = llvm::sys::path::stem(input);
  if (llvm::sys::path::filename(input) == "config.json") {
    StringRef parent = llvm::sys::path::parent_path(input);
    StringRef dir = llvm::sys::path::filename(parent.empty() ? "." : parent);
    if (!dir.empty() && dir != "." && dir != "..")
      stem = dir;
  }
  return (stem + ".hyla").str();
}

std::optional<std::string> findPtxas() {
  if (!ptxasPath.empty())
    return ptxasPath.getValue();
  if (const char *home = std::getenv("CUDA_HOME")) {
    std::string p = std::string(home) + "/bin/ptxas";
    if (llvm::sys::fs::can_execute(p))
      return p;
  }
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return std::string("/usr/local/cuda/bin/ptxas");
  if (auto p = llvm::sys::findProgramByName("ptxas"))
    return *p;
  return std::nullopt;
}

/// ptxas the kernel's PTX into a cubin.
FailureOr<std::vector<uint8_t>> assemble(const std::string &ptxas,
                                         const CompiledKernel &k,
                                         const GpuTarget &target) {
  llvm::SmallString<128> in, out;
  if (llvm::sys::fs::createTemporaryFile("hylac", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("hylac", "cubin", out)) {
    llvm::errs() << "hylac: error: cannot create temporary files\n";
    return failure();
  }
  llvm::FileRemover removeIn(in), removeOut(out);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    os << k.ptx;
  }
  std::string arch = ("-arch=" + target.chip).str();
  SmallVector<StringRef> args = {ptxas, arch, in, "-o", out};
  std::string err;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, {}, 0, 0, &err);
  if (rc != 0) {
    llvm::errs() << "hylac: error: ptxas rejected kernel " << k.name << " ("
                 << rc << ") " << err << "\n";
    return failure();
  }
  auto buf = llvm::MemoryBuffer::getFile(out);
  if (!buf) {
    llvm::errs() << "hylac: error: ptxas wrote no cubin for " << k.name << "\n";
    return failure();
  }
  StringRef bytes = (*buf)->getBuffer();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void printSummary(ModuleOp graph, const std::vector<CompiledKernel> &kernels) {
  llvm::StringMap<int64_t> launches;
  graph.walk([&](DispatchOp d) { ++launches[d.getKernel()]; });
  llvm::outs() << llvm::formatv("{0,-72} {1,7} {2,9} {3,8} {4,8}\n", "kernel",
                                "threads", "smem(KB)", "PTX(KB)", "launches");
  int64_t total = 0;
  for (const CompiledKernel &k : kernels) {
    llvm::outs() << llvm::formatv("{0,-72} {1,7} {2,9:f1} {3,8:f1} {4,8}\n",
                                  k.name, k.blockDim, k.sharedMemBytes / 1024.0,
                                  k.ptx.size() / 1024.0, launches[k.name]);
    total += launches[k.name];
  }
  llvm::outs() << llvm::formatv("{0} kernels, {1} launches per call\n",
                                kernels.size(), total);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "hylac " << HYLA_VERSION << " (MLIR/LLVM 22)\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "hylac: compile a hybrid language model for NVIDIA GPUs\n\n"
      "Input: a Hugging Face config.json (model_type \"olmo_hybrid\") or\n"
      "hyla graph IR (.mlir). The graph goes through the fusion and tiling\n"
      "passes (chunked gated delta rule, flash attention, kernelize), every\n"
      "kernel is lowered through gpu/nvvm to PTX for --target, and the\n"
      "kernels, the weights by name and the launch plan are written as one\n"
      "module that hyla-run and the runtime (C API, Python) load.\n\n"
      "Example:\n"
      "  hylac examples/olmo-hybrid-7b/config.json -o olmo7b.hyla --summary\n");

  const GpuTarget *target = lookupTarget(targetId);
  if (!target) {
    llvm::errs() << "hylac: error: unknown --target=" << targetId
                 << "; known targets:";
    for (const GpuTarget &t : allTargets())
      llvm::errs() << " " << t.id;
    llvm::errs() << "\n";
    return 1;
  }

  DialectRegistry registry;
  registerCompilerDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Diagnostics as "file:line:col: error: ..." with the source line and
  // notes, for the whole compile.
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  context.printOpOnDiagnostic(false);

  // 1. Import.
  OwningOpRef<ModuleOp> module;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string sourceName = llvm::sys::path::filename(inputPath).str();
  if (looksLikeJson(inputPath)) {
    std::optional<OlmoHybridConfig> config = readOlmoHybridConfig(inputPath);
    if (!config)
      return 1;
    int64_t attention = llvm::count(config->isAttention, true);
    progress(llvm::formatv("imported {0}: olmo_hybrid, {1} layers ({2} GDN, "
                           "{3} attention), hidden {4}, vocab {5}",
                           inputPath, config->numLayers,
                           config->numLayers - attention, attention,
                           config->hiddenSize, config->vocabSize));
    module = buildOlmoHybridGraph(&context, *config, sourceName);
    metadata = {{"model_type", "olmo_hybrid"},
                {"source", sourceName},
                {"vocab_size", std::to_string(config->vocabSize)},
                {"hidden_size", std::to_string(config->hiddenSize)},
                {"num_hidden_layers", std::to_string(config->numLayers)}};
  } else {
    std::string error;
    auto file = openInputFile(inputPath, &error);
    if (!file) {
      llvm::errs() << "hylac: error: " << error << "\n";
      return 1;
    }
    sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1;
    metadata = {{"source", sourceName}};
  }
  if (failed(verify(*module)))
    return 1;

  auto writeIR = [&](ModuleOp m) -> int {
    std::string error;
    auto out = openOutputFile(outputPath.empty() ? std::string("-") : outputPath.getValue(), &error);
    if (!out) {
      llvm::errs() << "hylac: error: " << error << "\n";
      return 1;
    }
    m.print(out->os());
    out->keep();
    return 0;
  };
  if (emit == Emit::Graph)
    return writeIR(*module);

  // 2. Fusion and tiling.
  {
    PassManager pm(&context);
    pipelineFlags.addPipeline(pm, target->hasWgmma);
    if (failed(pm.run(*module)))
      return 1;
  }
  int64_t dispatches = 0;
  module->walk([&](DispatchOp) { ++dispatches; });
  OwningOpRef<ModuleOp> kernelModule = extractKernels(*module);
  size_t numKernels = llvm::range_size(kernelModule->getOps<func::FuncOp>());
  progress(llvm::formatv("tiled: {0} dispatches of {1} distinct kernels",
                         dispatches, numKernels));
  if (emit == Emit::KernelIR)
    return writeIR(*module);

  // 3. Kernels to PTX.
  GpuCompileOptions gpuOptions;
  gpuOptions.fragmentLayouts = fragmentLayouts;
  gpuOptions.tma = tma;
  gpuOptions.warpSpecialize = warpSpecialize;
  gpuOptions.releaseRings = releaseRings;
  auto compiled = compileKernelsToPTX(
      *kernelModule, *target,
      [](size_t done, size_t total, StringRef name, double secs) {
        progress(llvm::formatv("[{0}/{1}] {2} ({3:f2}s)", done, total, name,
                               secs));
      },
      gpuOptions);
  if (failed(compiled))
    return 1;

  auto writePtx = [&](StringRef dir) -> int {
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      llvm::errs() << "hylac: error: cannot create " << dir << ": "
                   << ec.message() << "\n";
      return 1;
    }
    for (const CompiledKernel &k : *compiled) {
      llvm::SmallString<256> p(dir);
      llvm::sys::path::append(p, k.name + ".ptx");
      std::error_code ec;
      llvm::raw_fd_ostream os(p, ec);
      if (ec) {
        llvm::errs() << "hylac: error: cannot write " << p << ": "
                     << ec.message() << "\n";
        return 1;
      }
      os << k.ptx;
    }
    return 0;
  };
  if (emit == Emit::PTX) {
    std::string dir = outputPath.empty() ? "ptx" : outputPath.getValue();
    if (writePtx(dir))
      return 1;
    progress(llvm::formatv("wrote {0} PTX files to {1}", compiled->size(), dir));
    return 0;
  }
  if (!ptxDir.empty() && writePtx(ptxDir))
    return 1;

  ModuleWriterOptions writer;
  writer.target = target;
  writer.producer = std::string("hylac ") + HYLA_VERSION;
  writer.metadata = metadata;
  writer.kernels = *compiled;
  if (cubin) {
    std::optional<std::string> ptxas = findPtxas();
    if (!ptxas) {
      llvm::errs() << "hylac: error: --cubin needs ptxas; none found (use "
                      "--ptxas=PATH)\n";
      return 1;
    }
    for (const CompiledKernel &k : *compiled) {
      auto bin = assemble(*ptxas, k, *target);
      if (failed(bin))
        return 1;
      writer.cubins[k.name] = std::move(*bin);
    }
    progress(llvm::formatv("assembled {0} cubins with {1}", compiled->size(),
                           *ptxas));
  }

  // 4. The module.
  FailureOr<std::string> bytes = writeHylaModule(*module, writer);
  if (failed(bytes))
    return 1;
  std::string out = outputPath.empty() ? defaultOutput(inputPath)
                                       : outputPath.getValue();
  std::string error;
  auto file = openOutputFile(out, &error);
  if (!file) {
    llvm::errs() << "hylac: error: " << error << "\n";
    return 1;
  }
  file->os() << *bytes;
  file->keep();
  progress(llvm::formatv("wrote {0} ({1:f1} KB, {2} kernels, target {3})", out,
                         bytes->size() / 1024.0, compiled->size(), target->id));
  if (summary)
    printSummary(*module, *compiled);
  return 0;
}
