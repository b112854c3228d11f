//===- hyla-cpu-runner.cpp - numerics of hyla's rewrites on the CPU -------===//
//
// Runs each entry function of a hyla graph twice on the same fresh random
// inputs: through the float64 reference semantics of every op, and through
// the compiler's own pipeline with each tile kernel lowered to CPU code by
// MLIR and JIT-compiled. Reports ||out - ref|| / ||ref|| per output.
//
//===----------------------------------------------------------------------===//

#include "HostTensor.h"
#include "Interpreter.h"

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileDialect.h"
#include "lowering/Passes.h"
#include "lowering/Pipelines.h"
#include "passes/Pipelines.h"
#include "tools/common/ToolSupport.h"

#include "DTypes.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <random>

using namespace mlir;

namespace {
/// The soft-float f32 -> bf16 conversion that LLVM's x86 backend calls for
/// bf16 values it holds in registers (e.g. a masked bf16 load's phi);
/// libgcc before GCC 13 lacks it. The rounding is the runtime's.
__bf16 truncFloatToBF16(float f) {
  return llvm::bit_cast<__bf16>(hyla::floatToBF16(f));
}
} // namespace
using namespace hyla;
namespace cl = llvm::cl;

static cl::OptionCategory category("hyla-cpu-runner options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::list<std::string>
    entries("entry", cl::desc("Function to check (repeatable); default: every "
                              "function that is not a kernel"),
            cl::cat(category));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("I=AxBx... : shape of argument I (needed where its type has "
             "dynamic dims)"),
    cl::cat(category));
static cl::list<std::string> symbolValues(
    "sym",
    cl::desc("NAME=VALUE : size of the dynamic dims named NAME by "
             "hyla.dim_names (e.g. --sym slots=4), for arguments without "
             "--input-shape"),
    cl::cat(category));
static cl::list<std::string> dists(
    "dist",
    cl::desc("I=SPEC : values of argument I. SPEC is normal:MEAN:STD "
             "(default normal:0:1), uniform:LO:HI, neglog:LO:HI "
             "(-exp(uniform(ln LO, ln HI)), e.g. log decays from -LO to -HI) "
             "int:LO:HI (integers in [LO, HI)), distinct:LO:HI (integers "
             "in [LO, HI) without repeats, e.g. cache slot tables) or "
             "offsets:LO:HI (sorted integers from LO to HI, both ends "
             "included, e.g. cu_seqlens of packed sequences)"),
    cl::cat(category));
static cl::opt<uint64_t> seedOpt(
    "seed", cl::desc("Random seed (default: a fresh one, printed)"),
    cl::init(0), cl::cat(category));
static cl::opt<double>
    tolerance("tolerance",
              cl::desc("Largest accepted ||out - ref|| / ||ref|| (default "
                       "1e-2)"),
              cl::init(1e-2), cl::cat(category));
static cl::opt<bool> roundReference(
    "round-reference",
    cl::desc("Round every op result of the float64 reference to its element "
             "type (as the compiled graph stores it), so that multi-op graphs "
             "compare kernels rather than bf16 storage of intermediates"),
    cl::init(false), cl::cat(category));
static PipelineFlags pipelineFlags(category);
static cl::opt<bool> fragmentLayouts(
    "fragment-layouts",
    cl::desc("Before the CPU lowering, run the GPU layout passes "
             "(hyla-tile-mma-accumulators, hyla-tile-fragment-layouts for "
             "sm_90a) on the kernels, so their rewrites are checked against "
             "the float64 reference"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> printKernels("print-kernel-ir",
                                  cl::desc("Print the module after the "
                                           "graph-to-kernels pipeline"),
                                  cl::init(false), cl::cat(category));

namespace {

struct Distribution {
  enum Kind { Normal, Uniform, NegLog, Int, Distinct, Offsets } kind = Normal;
  double a = 0.0, b = 1.0;
};

LogicalResult parseIndexed(StringRef flag, StringRef text, unsigned &index,
                           StringRef &rest) {
  auto [idx, value] = text.split('=');
  if (value.empty() || idx.getAsInteger(10, index)) {
    llvm::errs() << "hyla-cpu-runner: --" << flag << "=" << text
                 << ": expected I=VALUE with I an argument number\n";
    return failure();
  }
  rest = value;
  return success();
}

FailureOr<Distribution> parseDistribution(StringRef spec) {
  SmallVector<StringRef> parts;
  spec.split(parts, ':');
  Distribution d;
  if (parts.size() != 3 || parts[1].getAsDouble(d.a) ||
      parts[2].getAsDouble(d.b)) {
    llvm::errs() << "hyla-cpu-runner: bad distribution '" << spec
                 << "': expected KIND:A:B\n";
    return failure();
  }
  if (parts[0] == "normal")
    d.kind = Distribution::Normal;
  else if (parts[0] == "uniform")
    d.kind = Distribution::Uniform;
  else if (parts[0] == "neglog" && d.a > 0 && d.b > 0)
    d.kind = Distribution::NegLog;
  else if (parts[0] == "int")
    d.kind = Distribution::Int;
  else if (parts[0] == "distinct" && d.b > d.a)
    d.kind = Distribution::Distinct;
  else if (parts[0] == "offsets" && d.b >= d.a)
    d.kind = Distribution::Offsets;
  else {
    llvm::errs() << "hyla-cpu-runner: bad distribution '" << spec
                 << "': kind must be normal, uniform, neglog (A, B > 0), "
                    "int, distinct (B > A) or offsets (B >= A)\n";
    return failure();
  }
  return d;
}

double sample(const Distribution &d, std::mt19937_64 &rng) {
  switch (d.kind) {
  case Distribution::Normal:
    return std::normal_distribution<double>(d.a, d.b)(rng);
  case Distribution::Uniform:
    return std::uniform_real_distribution<double>(d.a, d.b)(rng);
  case Distribution::NegLog:
    return -std::exp(std::uniform_real_distribution<double>(
        std::log(d.a), std::log(d.b))(rng));
  case Distribution::Int:
  case Distribution::Distinct:
  case Distribution::Offsets: // drawn per tensor, not per element
    return std::floor(std::uniform_real_distribution<double>(d.a, d.b)(rng));
  }
  return 0.0;
}

struct ArgSpecs {
  std::map<unsigned, SmallVector<int64_t>> shapes;
  std::map<unsigned, Distribution> dists;
  std::map<std::string, int64_t> symbols;
};

FailureOr<ArgSpecs> parseArgSpecs() {
  ArgSpecs specs;
  for (const std::string &s : inputShapes) {
    unsigned i;
    StringRef rest;
    if (failed(parseIndexed("input-shape", s, i, rest)))
      return failure();
    SmallVector<StringRef> dims;
    rest.split(dims, 'x');
    for (StringRef d : dims) {
      int64_t v;
      if (d.getAsInteger(10, v) || v < 0) {
        llvm::errs() << "hyla-cpu-runner: --input-shape=" << s
                     << ": dims must be non-negative integers\n";
        return failure();
      }
      specs.shapes[i].push_back(v);
    }
  }
  for (const std::string &s : symbolValues) {
    auto [name, value] = StringRef(s).split('=');
    int64_t v;
    if (name.empty() || value.getAsInteger(10, v) || v < 0) {
      llvm::errs() << "hyla-cpu-runner: --sym=" << s
                   << ": expected NAME=VALUE with a non-negative integer\n";
      return failure();
    }
    specs.symbols[name.str()] = v;
  }
  for (const std::string &s : dists) {
    unsigned i;
    StringRef rest;
    if (failed(parseIndexed("dist", s, i, rest)))
      return failure();
    FailureOr<Distribution> d = parseDistribution(rest);
    if (failed(d))
      return failure();
    specs.dists[i] = *d;
  }
  return specs;
}

FailureOr<std::vector<HostTensorPtr>>
makeInputs(func::FuncOp fn, const ArgSpecs &specs, std::mt19937_64 &rng) {
  std::vector<HostTensorPtr> inputs;
  for (auto [i, type] : llvm::enumerate(fn.getArgumentTypes())) {
    auto tt = dyn_cast<RankedTensorType>(type);
    if (!tt) {
      fn.emitError() << "argument " << i << " is not a ranked tensor";
      return failure();
    }
    auto t = std::make_shared<HostTensor>();
    t->elementType = tt.getElementType();
    auto shapeIt = specs.shapes.find(i);
    if (shapeIt != specs.shapes.end()) {
      if (static_cast<int64_t>(shapeIt->second.size()) != tt.getRank()) {
        fn.emitError() << "--input-shape for argument " << i << " has "
                       << shapeIt->second.size() << " dims, the type has "
                       << tt.getRank();
        return failure();
      }
      for (int64_t d = 0; d < tt.getRank(); ++d)
        if (!tt.isDynamicDim(d) && tt.getDimSize(d) != shapeIt->second[d]) {
          fn.emitError() << "--input-shape for argument " << i << " dim " << d
                         << " is " << shapeIt->second[d] << ", the type says "
                         << tt.getDimSize(d);
          return failure();
        }
      t->shape = shapeIt->second;
    } else {
      // Static dims, and dynamic ones from --sym by their hyla.dim_names.
      auto names = fn.getArgAttrOfType<ArrayAttr>(i, "hyla.dim_names");
      for (int64_t d = 0; d < tt.getRank(); ++d) {
        if (!tt.isDynamicDim(d)) {
          t->shape.push_back(tt.getDimSize(d));
          continue;
        }
        auto name = names && d < static_cast<int64_t>(names.size())
                        ? dyn_cast<StringAttr>(names[d])
                        : StringAttr();
        auto it = name ? specs.symbols.find(name.str()) : specs.symbols.end();
        if (it == specs.symbols.end()) {
          auto diag = fn.emitError() << "argument " << i << " dim " << d
                                     << " is dynamic: give --input-shape="
                                     << i << "=AxB...";
          if (name)
            diag << " or --sym " << name.getValue() << "=N";
          return failure();
        }
        t->shape.push_back(it->second);
      }
    }
    Distribution dist;
    if (isa<IntegerType>(t->elementType))
      dist = {Distribution::Int, 0, 16};
    auto distIt = specs.dists.find(i);
    if (distIt != specs.dists.end())
      dist = distIt->second;
    t->values.resize(t->numel());
    if (dist.kind == Distribution::Distinct) {
      int64_t lo = static_cast<int64_t>(std::ceil(dist.a));
      int64_t hi = static_cast<int64_t>(std::ceil(dist.b));
      if (hi - lo < t->numel()) {
        fn.emitError() << "--dist=" << i << "=distinct:" << dist.a << ":"
                       << dist.b << " has " << (hi - lo)
                       << " values, argument " << i << " needs "
                       << t->numel();
        return failure();
      }
      std::vector<double> pool;
      for (int64_t x = lo; x < hi; ++x)
        pool.push_back(static_cast<double>(x));
      std::shuffle(pool.begin(), pool.end(), rng);
      for (int64_t j = 0; j < t->numel(); ++j)
        t->values[j] = roundTo(t->elementType, pool[j]);
    } else if (dist.kind == Distribution::Offsets) {
      // A at the front, B at the back, sorted integers in [A, B] between
      // (repeats allowed: empty sequences).
      int64_t lo = static_cast<int64_t>(dist.a), hi = static_cast<int64_t>(dist.b);
      std::uniform_int_distribution<int64_t> pick(lo, hi);
      for (double &v : t->values)
        v = static_cast<double>(pick(rng));
      std::sort(t->values.begin(), t->values.end());
      t->values.front() = static_cast<double>(lo);
      t->values.back() = static_cast<double>(hi);
      for (double &v : t->values)
        v = roundTo(t->elementType, v);
    } else {
      for (double &v : t->values)
        v = roundTo(t->elementType, sample(dist, rng));
    }
    inputs.push_back(t);
  }
  return inputs;
}

struct Comparison {
  double relErr = 0, maxAbs = 0;
  int64_t nonFinite = 0;
};

Comparison compare(const HostTensor &out, const HostTensor &ref) {
  Comparison c;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.values.size(); ++i) {
    double o = out.values[i], r = ref.values[i];
    if (!std::isfinite(o)) {
      ++c.nonFinite;
      continue;
    }
    num += (o - r) * (o - r);
    den += r * r;
    c.maxAbs = std::max(c.maxAbs, std::fabs(o - r));
  }
  c.relErr = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "hyla-cpu-runner: check hyla's rewrites numerically on the CPU\n\n"
      "Each entry function of the input (hyla graph ops) runs twice on the\n"
      "same fresh random inputs: through the float64 reference semantics of\n"
      "every op, and through the compiler's pipeline (chunked delta rule,\n"
      "flash attention, kernelize) with each tile kernel lowered to CPU code\n"
      "by MLIR and JIT-compiled. Every output is compared with\n"
      "||out - ref|| / ||ref||; outputs are poisoned (NaN) before the kernels\n"
      "run, so an unwritten element shows up as non-finite. Exit status 0\n"
      "when every output is finite and within --tolerance.\n");

  FailureOr<ArgSpecs> specs = parseArgSpecs();
  if (failed(specs))
    return 2;

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerCompilerDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  std::string error;
  auto file = openInputFile(inputFile, &error);
  if (!file) {
    llvm::errs() << "hyla-cpu-runner: " << error << "\n";
    return 2;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  context.printOpOnDiagnostic(false);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 2;

  std::vector<func::FuncOp> toCheck;
  for (auto fn : module->getOps<func::FuncOp>()) {
    if (fn->hasAttr(tile::TileDialect::kKernelAttrName) || fn.isDeclaration())
      continue;
    if (entries.empty() || llvm::is_contained(entries, fn.getSymName().str()))
      toCheck.push_back(fn);
  }
  for (const std::string &e : entries)
    if (!module->lookupSymbol<func::FuncOp>(e)) {
      llvm::errs() << "hyla-cpu-runner: no function named '" << e << "'\n";
      return 2;
    }
  if (toCheck.empty()) {
    llvm::errs() << "hyla-cpu-runner: no entry function to check\n";
    return 2;
  }

  // Compile once: graph pipeline on a copy, kernels to CPU code, JIT.
  OwningOpRef<ModuleOp> compiled = module->clone();
  {
    PassManager pm(&context);
    // hylac's default target (sm_90a) has wgmma.
    pipelineFlags.addPipeline(pm, /*wgmma=*/true);
    if (failed(pm.run(*compiled)))
      return 1;
  }
  if (printKernels)
    compiled->print(llvm::outs());
  OwningOpRef<ModuleOp> kernels = extractKernels(*compiled);
  {
    PassManager pm(&context);
    if (fragmentLayouts) {
      pm.addPass(createTileMmaAccumulators({"sm_90a"}));
      pm.addPass(createTileFragmentLayouts({"sm_90a"}));
    }
    buildTileToCPUPipeline(pm);
    if (failed(pm.run(*kernels)))
      return 1;
  }
  ExecutionEngineOptions engineOptions;
  auto transformer = makeOptimizingTransformer(2, 0, nullptr);
  engineOptions.transformer = transformer;
  auto engine = ExecutionEngine::create(*kernels, engineOptions);
  if (!engine) {
    llvm::errs() << "hyla-cpu-runner: JIT failed: "
                 << llvm::toString(engine.takeError()) << "\n";
    return 1;
  }
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner("__truncsfbf2")] = {
        llvm::orc::ExecutorAddr::fromPtr(&truncFloatToBF16),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });

  uint64_t seed = seedOpt ? seedOpt.getValue()
                          : (static_cast<uint64_t>(std::random_device{}()) << 32 |
                             std::random_device{}());
  llvm::outs() << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  WeightStore weights(seed);
  bool allPass = true;
  for (func::FuncOp fn : toCheck) {
    FailureOr<std::vector<HostTensorPtr>> inputs =
        makeInputs(fn, *specs, rng);
    if (failed(inputs))
      return 2;
    ReferenceInterpreter reference(weights, roundReference);
    auto refOut = reference.run(fn, *inputs);
    if (failed(refOut))
      return 1;
    auto compiledFn = compiled->lookupSymbol<func::FuncOp>(fn.getSymName());
    DispatchInterpreter runner(weights, **engine);
    auto out = runner.run(compiledFn, *inputs);
    if (failed(out))
      return 1;
    for (size_t i = 0; i < refOut->size(); ++i) {
      const HostTensor &r = *(*refOut)[i], &o = *(*out)[i];
      if (r.shape != o.shape) {
        llvm::outs() << fn.getSymName() << ": output " << i << " has shape "
                     << o.describe() << " but the reference has "
                     << r.describe() << " FAIL\n";
        allPass = false;
        continue;
      }
      Comparison c = compare(o, r);
      bool pass = c.nonFinite == 0 && c.relErr <= tolerance;
      allPass &= pass;
      llvm::outs() << fn.getSymName() << ": output " << i << " "
                   << o.describe() << " rel_err "
                   << llvm::format("%.3e", c.relErr) << " max_abs "
                   << llvm::format("%.3e", c.maxAbs) << " nonfinite "
                   << c.nonFinite << (pass ? " PASS" : " FAIL") << "\n";
    }
  }
  llvm::outs() << (allPass ? "PASS" : "FAIL") << "\n";
  return allPass ? 0 : 1;
}
