//===- hyla-run.cpp - inspect or benchmark a compiled hyla module ---------===//
//
// hyla-run MODULE --info            describe the module (no GPU needed)
// hyla-run MODULE [--sym N=V ...]   run a function with random or .npy
//                                   inputs and report its time
//
// Uses only the runtime's C API (hyla/runtime.h); see --help.
//
//===----------------------------------------------------------------------===//

#include "Npy.h"

#include "DTypes.h"
#include "hyla/runtime.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

using namespace hyla_run;

namespace {

enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,     // bad command line or input file
  kExitBadModule = 2, // the module cannot be loaded
  kExitNoGpu = 3,     // no driver or no device
  kExitRunFailed = 4, // preparing or running failed
};

const char *kHelp = R"(usage: hyla-run MODULE [options]

Runs a function of a compiled hyla module on the GPU and reports how long a
call takes; or, with --info, describes the module (no GPU needed).

Inspecting:
  --info                 print the module summary and exit: producer, target,
                         metadata, kernels (threads, dynamic shared memory,
                         PTX size), weights (count, total size) and functions
                         (symbols, input and output shapes, launches)
  -v, --verbose          with --info, also list every weight

Running (the default):
  --function NAME        the function to run (default: the module's first)
  --sym NAME=VALUE       value of a symbol, e.g. --sym tokens=128 (repeat for
                         each symbol); symbols of inputs read with --input come
                         from the file's shape and need no --sym
  --input I=FILE.npy     read input I (0-based) from a NumPy file: C order,
                         dtypes <f2 <f4 <f8 (for float inputs), <i4 <i8 |i1
                         (for integer inputs), and <u2 read as raw bf16 bits
                         (for bf16 inputs); other inputs are random:
                         normal(0, 1) for float inputs, uniform integers in
                         [0, B) for integer inputs
  --int-max B            B for random integer inputs (default: the module's
                         "vocab_size" metadata if present, else 1000)
  --seed N               seed of the random inputs and weights (default 0)
  --weights random|none|FILE.safetensors[,FILE...]
                         random (default): fill every weight with
                         normal(0, 1) * scale (1-D weights, i.e. norm gains,
                         with 1 + normal(0, 1) * scale; integer weights with 0);
                         none: leave weights unbound (the call then fails if
                         the function uses any); safetensors files (a
                         checkpoint's shards, comma-separated): each weight by
                         its Hugging Face name, dtype and shape checked
  --weight-scale X       the scale for --weights random (default 0.02)
  --warmup N             untimed calls before timing (default 2)
  --iters N              timed calls (default 10); the time of each whole call
                         is measured with CUDA events on one stream and the
                         median, min and max are printed
  --profile              then time every launch (hyla_function_call_timed,
                         --iters more calls) and print the time per kernel:
                         launches, total ms, % of the total, sorted by time
  --output-dir DIR       after the last call, write output i to
                         DIR/output<i>.npy; bf16 and f16 outputs are converted
                         to float32 (<f4), other dtypes keep theirs
  --device N             the CUDA device to use (default 0)

Generating (a module compiled from a config.json, which has 'decode'):
  --generate N           greedy generation of N tokens after the prompt:
                         the prompts go through 'prefill' in one call, packed
                         (or, in a module without it, through 'decode'),
                         into empty caches (one slot a sequence), then
                         'decode' once a token, each sequence's next token
                         the first argmax of its last logits; prints a
                         progress line, the tokens and tokens/s
  --prompt IDS|FILE.npy  the prompts' token ids: comma-separated, sequences
                         separated by ';' (lengths may differ), or a .npy
                         of shape [T] or [B, T] (<i4 or <i8), one row a
                         sequence
  --max-tokens M         positions a slot's KV cache holds (default: the
                         prompt's length + N); a prompt and N that need more
                         are an error
  --no-graph             call 'decode' for every token instead of replaying
                         one CUDA graph of the step (the default captures the
                         first one-token step with hyla_function_capture)
  -h, --help             show this help

Exit status: 0 success, 1 bad command line or input file, 2 the module cannot
be loaded, 3 no GPU (or no CUDA driver) on this machine, 4 the run failed.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string modulePath;
  bool info = false;
  bool verbose = false;
  bool profile = false;
  std::string function;
  std::vector<std::pair<std::string, int64_t>> symbols;
  std::vector<std::pair<int64_t, std::string>> inputFiles;
  std::string outputDir;
  uint64_t seed = 0;
  bool randomWeights = true;
  std::vector<std::string> weightFiles; // safetensors shards
  float weightScale = 0.02f;
  int64_t warmup = 2;
  int64_t iters = 10;
  int64_t device = 0;
  int64_t intMax = -1; // -1: from metadata or 1000
  int64_t generate = -1; // tokens to generate (-1: not generating)
  std::string prompt;
  int64_t maxTokens = -1; // -1: prompt length + generate
  bool graph = true;       // replay the decode step as a CUDA graph
};

int64_t parseInt(const std::string &text, const std::string &what,
                 int64_t min) {
  errno = 0;
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != 0 || errno == ERANGE)
    throw UsageError(what + ": '" + text + "' is not an integer");
  if (value < min)
    throw UsageError(what + " must be at least " + std::to_string(min));
  return value;
}

std::pair<std::string, std::string> splitAssignment(const std::string &text,
                                                    const std::string &option) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError(option + " expects NAME=VALUE, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

Options parseOptions(int argc, char **argv, bool &showHelp) {
  Options options;
  showHelp = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      showHelp = true;
      return options;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (!options.modulePath.empty())
        throw UsageError("unexpected argument '" + arg + "' (the module is '" +
                         options.modulePath + "')");
      options.modulePath = arg;
      continue;
    }
    std::string name = arg, value;
    bool hasValue = false;
    size_t eq = arg.find('=');
    if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasValue = true;
    }
    auto takeValue = [&]() -> std::string {
      if (hasValue)
        return value;
      if (i + 1 >= argc)
        throw UsageError(name + " needs a value");
      return argv[++i];
    };
    auto noValue = [&] {
      if (hasValue)
        throw UsageError(name + " takes no value");
    };
    if (name == "--info") {
      noValue();
      options.info = true;
    } else if (name == "-v" || name == "--verbose") {
      noValue();
      options.verbose = true;
    } else if (name == "--profile") {
      noValue();
      options.profile = true;
    } else if (name == "--function") {
      options.function = takeValue();
    } else if (name == "--sym") {
      auto [symbol, text] = splitAssignment(takeValue(), "--sym");
      options.symbols.emplace_back(symbol,
                                   parseInt(text, "--sym " + symbol, 0));
    } else if (name == "--input") {
      auto [index, path] = splitAssignment(takeValue(), "--input");
      options.inputFiles.emplace_back(parseInt(index, "--input index", 0),
                                      path);
    } else if (name == "--output-dir") {
      options.outputDir = takeValue();
    } else if (name == "--seed") {
      options.seed = static_cast<uint64_t>(parseInt(takeValue(), "--seed", 0));
    } else if (name == "--weights") {
      std::string mode = takeValue();
      options.randomWeights = mode == "random";
      options.weightFiles.clear();
      if (mode != "random" && mode != "none") {
        for (size_t at = 0; at <= mode.size();) {
          size_t comma = std::min(mode.find(',', at), mode.size());
          std::string file = mode.substr(at, comma - at);
          if (file.size() < 12 ||
              file.compare(file.size() - 12, 12, ".safetensors") != 0)
            throw UsageError("--weights must be 'random', 'none' or "
                             ".safetensors files, not '" + file + "'");
          options.weightFiles.push_back(file);
          at = comma + 1;
        }
      }
    } else if (name == "--weight-scale") {
      std::string text = takeValue();
      char *end = nullptr;
      options.weightScale = std::strtof(text.c_str(), &end);
      if (text.empty() || *end != 0 || !std::isfinite(options.weightScale))
        throw UsageError("--weight-scale: '" + text + "' is not a number");
    } else if (name == "--warmup") {
      options.warmup = parseInt(takeValue(), "--warmup", 0);
    } else if (name == "--iters") {
      options.iters = parseInt(takeValue(), "--iters", 1);
    } else if (name == "--device") {
      options.device = parseInt(takeValue(), "--device", 0);
    } else if (name == "--int-max") {
      options.intMax = parseInt(takeValue(), "--int-max", 1);
    } else if (name == "--generate") {
      options.generate = parseInt(takeValue(), "--generate", 0);
    } else if (name == "--prompt") {
      options.prompt = takeValue();
    } else if (name == "--max-tokens") {
      options.maxTokens = parseInt(takeValue(), "--max-tokens", 1);
    } else if (name == "--no-graph") {
      noValue();
      options.graph = false;
    } else {
      throw UsageError("unknown option '" + name + "'");
    }
  }
  if (options.modulePath.empty())
    throw UsageError("no module given");
  if (options.generate >= 0 && options.prompt.empty())
    throw UsageError("--generate needs --prompt");
  if (options.generate < 0 && (!options.prompt.empty() || options.maxTokens > 0))
    throw UsageError("--prompt and --max-tokens go with --generate");
  return options;
}

std::string formatBytes(uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof(text), "%llu B",
                  static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

std::string formatShape(int32_t dtype, int32_t rank, const int64_t *dims) {
  std::string text = std::string(hyla::dtypeName(dtype)) + "[";
  for (int32_t d = 0; d < rank; ++d)
    text += (d > 0 ? ", " : "") + std::to_string(dims[d]);
  return text + "]";
}

uint64_t tensorBytes(const hyla_tensor &t) {
  uint64_t bytes = hyla_dtype_size(t.dtype);
  for (int32_t d = 0; d < t.rank; ++d)
    bytes *= static_cast<uint64_t>(t.dims[d]);
  return bytes;
}

std::string describe(const hyla_module *m, int32_t fn, int32_t i, bool input) {
  char buf[1024];
  hyla_status status =
      input ? hyla_function_describe_input(m, fn, i, buf, sizeof(buf))
            : hyla_function_describe_output(m, fn, i, buf, sizeof(buf));
  return status == HYLA_OK ? buf : "?";
}

uint64_t totalWeightBytes(const hyla_module *m) {
  uint64_t total = 0;
  for (int32_t w = 0; w < hyla_module_num_weights(m); ++w) {
    int32_t dtype = 0, rank = 0;
    int64_t dims[HYLA_MAX_RANK];
    hyla_module_weight_info(m, w, nullptr, &dtype, &rank, dims);
    uint64_t bytes = hyla_dtype_size(dtype);
    for (int32_t d = 0; d < rank; ++d)
      bytes *= static_cast<uint64_t>(dims[d]);
    total += bytes;
  }
  return total;
}

//===----------------------------------------------------------------------===//
// --info
//===----------------------------------------------------------------------===//

void printInfo(const hyla_module *m, const Options &options) {
  std::error_code error;
  auto fileSize = std::filesystem::file_size(options.modulePath, error);
  std::printf("module:   %s (%s)\n", options.modulePath.c_str(),
              error ? "?" : formatBytes(fileSize).c_str());
  std::printf("producer: %s\n", hyla_module_producer(m));
  std::printf("target:   %s\n", hyla_module_target(m));
  int32_t numMetadata = hyla_module_num_metadata(m);
  std::printf("metadata:%s\n", numMetadata ? "" : " (none)");
  for (int32_t i = 0; i < numMetadata; ++i) {
    const char *key = hyla_module_metadata_key(m, i);
    const char *value = key ? hyla_module_metadata(m, key) : nullptr;
    std::printf("  %s = %s\n", key ? key : "?", value ? value : "?");
  }

  int32_t numKernels = hyla_module_num_kernels(m);
  std::printf("kernels: %d\n", numKernels);
  size_t nameWidth = 0;
  for (int32_t k = 0; k < numKernels; ++k)
    nameWidth = std::max(nameWidth, std::strlen(hyla_module_kernel_name(m, k)));
  for (int32_t k = 0; k < numKernels; ++k) {
    uint32_t block = 0, smem = 0;
    size_t ptx = 0;
    hyla_module_kernel_info(m, k, &block, &smem, &ptx);
    std::printf("  [%d] %-*s  %4u threads, dynamic smem %s, PTX %s%s\n", k,
                static_cast<int>(nameWidth), hyla_module_kernel_name(m, k),
                block, formatBytes(smem).c_str(), formatBytes(ptx).c_str(),
                hyla_module_kernel_programmatic_launch(m, k) == 1
                    ? ", programmatic launch"
                    : "");
  }

  int32_t numWeights = hyla_module_num_weights(m);
  uint64_t totalBytes = 0;
  std::vector<std::string> weightLines;
  for (int32_t w = 0; w < numWeights; ++w) {
    const char *name = nullptr;
    int32_t dtype = 0, rank = 0;
    int64_t dims[HYLA_MAX_RANK];
    hyla_module_weight_info(m, w, &name, &dtype, &rank, dims);
    uint64_t bytes = hyla_dtype_size(dtype);
    for (int32_t d = 0; d < rank; ++d)
      bytes *= static_cast<uint64_t>(dims[d]);
    totalBytes += bytes;
    weightLines.push_back("  [" + std::to_string(w) + "] " + name + " " +
                          formatShape(dtype, rank, dims) + " (" +
                          formatBytes(bytes) + ")");
  }
  std::printf("weights: %d, %s in total%s\n", numWeights,
              formatBytes(totalBytes).c_str(),
              options.verbose || numWeights == 0 ? ""
                                                 : " (--verbose lists them)");
  if (options.verbose)
    for (const std::string &line : weightLines)
      std::printf("%s\n", line.c_str());

  int32_t numFunctions = hyla_module_num_functions(m);
  std::printf("functions: %d\n", numFunctions);
  for (int32_t f = 0; f < numFunctions; ++f) {
    std::string symbols;
    for (int32_t s = 0; s < hyla_function_num_symbols(m, f); ++s)
      symbols +=
          (s > 0 ? ", " : "") + std::string(hyla_function_symbol_name(m, f, s));
    std::printf("  %s(%s): %d launches\n", hyla_module_function_name(m, f),
                symbols.c_str(), hyla_function_num_launches(m, f));
    for (int32_t s = 0; s < hyla_function_num_symbols(m, f); ++s) {
      int32_t input = 0, dim = 0;
      hyla_function_symbol_source(m, f, s, &input, &dim);
      std::printf("    symbol %s = input %d dim %d\n",
                  hyla_function_symbol_name(m, f, s), input, dim);
    }
    for (int32_t i = 0; i < hyla_function_num_inputs(m, f); ++i)
      std::printf("    input  %d: %s\n", i, describe(m, f, i, true).c_str());
    for (int32_t i = 0; i < hyla_function_num_outputs(m, f); ++i)
      std::printf("    output %d: %s\n", i, describe(m, f, i, false).c_str());
    for (int32_t i = 0; i < hyla_function_num_checks(m, f); ++i) {
      char buf[1024];
      if (hyla_function_describe_check(m, f, i, buf, sizeof(buf)) == HYLA_OK)
        std::printf("    check  %d: %s\n", i, buf);
    }
    for (int32_t i = 0; i < hyla_function_num_value_checks(m, f); ++i) {
      char buf[1024];
      if (hyla_function_describe_value_check(m, f, i, buf, sizeof(buf)) ==
          HYLA_OK)
        std::printf("    values %d: %s\n", i, buf);
    }
  }
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

/// Thrown for failures after the GPU is in use; carries the exit status.
struct RunError : std::runtime_error {
  int exitCode;
  RunError(int code, const std::string &message)
      : std::runtime_error(message), exitCode(code) {}
};

void check(hyla_status status, const std::string &what) {
  if (status == HYLA_OK)
    return;
  int code = status == HYLA_ERROR_NO_GPU ? kExitNoGpu : kExitRunFailed;
  throw RunError(code, what + ": " + hyla_last_error());
}

/// Device memory that is freed when the run ends.
struct DeviceAllocations {
  hyla_module *module;
  std::vector<void *> pointers;
  ~DeviceAllocations() {
    for (void *p : pointers)
      hyla_device_free(module, p);
  }
  void *allocate(uint64_t bytes, const std::string &what) {
    void *p = nullptr;
    check(hyla_device_alloc(module, bytes, &p), "allocating " + what);
    pointers.push_back(p);
    return p;
  }
};

/// Host data for one input: from a file, or random.
std::vector<uint8_t> randomInput(const hyla_tensor &shape, uint64_t seed,
                                 int32_t index, int64_t intMax) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(index));
  size_t elementSize = hyla_dtype_size(shape.dtype);
  size_t count = elementSize ? tensorBytes(shape) / elementSize : 0;
  std::vector<uint8_t> data(count * elementSize);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> uniform(0, intMax - 1);
  for (size_t i = 0; i < count; ++i) {
    uint8_t *p = data.data() + i * elementSize;
    switch (shape.dtype) {
    case HYLA_BF16: {
      uint16_t v = hyla::floatToBF16(normal(rng));
      std::memcpy(p, &v, 2);
      break;
    }
    case HYLA_F16: {
      uint16_t v = hyla::floatToF16(normal(rng));
      std::memcpy(p, &v, 2);
      break;
    }
    case HYLA_F32: {
      float v = normal(rng);
      std::memcpy(p, &v, 4);
      break;
    }
    case HYLA_F64: {
      double v = normal(rng);
      std::memcpy(p, &v, 8);
      break;
    }
    case HYLA_I32: {
      int32_t v = static_cast<int32_t>(uniform(rng));
      std::memcpy(p, &v, 4);
      break;
    }
    case HYLA_I64: {
      int64_t v = uniform(rng);
      std::memcpy(p, &v, 8);
      break;
    }
    case HYLA_I8: {
      int8_t v = static_cast<int8_t>(uniform(rng));
      std::memcpy(p, &v, 1);
      break;
    }
    }
  }
  return data;
}

struct KernelProfile {
  std::string name;
  int64_t launches = 0;
  double totalMs = 0;
};

void printProfile(const hyla_module *m, int32_t fn,
                  const std::vector<double> &launchMs, int64_t calls) {
  std::map<int32_t, KernelProfile> byKernel;
  double total = 0;
  for (size_t l = 0; l < launchMs.size(); ++l) {
    int32_t kernel =
        hyla_function_launch_kernel(m, fn, static_cast<int32_t>(l));
    KernelProfile &entry = byKernel[kernel];
    entry.name = hyla_module_kernel_name(m, kernel);
    entry.launches += calls;
    entry.totalMs += launchMs[l];
    total += launchMs[l];
  }
  std::vector<KernelProfile> rows;
  for (auto &entry : byKernel)
    rows.push_back(entry.second);
  std::sort(rows.begin(), rows.end(),
            [](const KernelProfile &a, const KernelProfile &b) {
              return a.totalMs > b.totalMs;
            });
  size_t width = 6;
  for (const KernelProfile &row : rows)
    width = std::max(width, row.name.size());
  std::printf("\nprofile: per-launch times over %lld calls, by kernel "
              "(GPU time of the launches only)\n",
              static_cast<long long>(calls));
  std::printf("  %-*s %9s %11s %11s %7s\n", static_cast<int>(width), "kernel",
              "launches", "total ms", "ms/call", "%");
  for (const KernelProfile &row : rows)
    std::printf("  %-*s %9lld %11.3f %11.4f %6.1f%%\n", static_cast<int>(width),
                row.name.c_str(), static_cast<long long>(row.launches),
                row.totalMs, row.totalMs / static_cast<double>(calls),
                total > 0 ? 100.0 * row.totalMs / total : 0.0);
  std::printf("  %-*s %9s %11.3f %11.4f %6.1f%%\n", static_cast<int>(width),
              "all", "", total, total / static_cast<double>(calls), 100.0);
}

/// Prepares the module on the GPU and binds its weights as the options
/// say; kExitNoGpu without a GPU.
int prepareGpu(hyla_module *module, const Options &options) {
  hyla_status prepared =
      hyla_module_prepare(module, static_cast<int32_t>(options.device));
  if (prepared == HYLA_ERROR_NO_GPU) {
    std::fflush(stdout); // keep stdout and stderr in order when piped
    std::fprintf(stderr,
                 "hyla-run: no GPU available: %s. Use --info to inspect the "
                 "module without a GPU.\n",
                 hyla_last_error());
    return kExitNoGpu;
  }
  check(prepared, "preparing the module");
  char deviceName[256] = {};
  int32_t major = 0, minor = 0;
  check(
      hyla_device_info(module, deviceName, sizeof(deviceName), &major, &minor),
      "reading the device");
  std::printf("device %lld: %s (compute capability %d.%d)\n",
              static_cast<long long>(options.device), deviceName, major, minor);

  if (!options.weightFiles.empty()) {
    auto start = std::chrono::steady_clock::now();
    std::vector<const char *> paths;
    for (const std::string &f : options.weightFiles)
      paths.push_back(f.c_str());
    check(hyla_module_load_safetensors(module, paths.data(),
                                       static_cast<int32_t>(paths.size())),
          "loading the weights");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::printf("weights: %d (%s), from %zu safetensors file%s, loaded in "
                "%.2f s\n",
                hyla_module_num_weights(module),
                formatBytes(totalWeightBytes(module)).c_str(), paths.size(),
                paths.size() == 1 ? "" : "s", seconds);
  } else if (options.randomWeights) {
    auto start = std::chrono::steady_clock::now();
    check(hyla_module_init_random_weights(module, options.seed,
                                          options.weightScale),
          "initializing the weights");
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::printf("weights: %d (%s), random (seed %llu, scale %g), "
                "initialized in %.2f s\n",
                hyla_module_num_weights(module),
                formatBytes(totalWeightBytes(module)).c_str(),
                static_cast<unsigned long long>(options.seed),
                static_cast<double>(options.weightScale), seconds);
  } else {
    std::printf("weights: none bound (--weights none)\n");
  }

  return kExitOk;
}

/// The prompt's token ids as rows (one a sequence, all of one length).
std::vector<std::vector<int32_t>> readPrompt(const std::string &prompt,
                                             int64_t vocab) {
  std::vector<std::vector<int32_t>> rows;
  bool isFile = prompt.size() > 4 &&
                prompt.compare(prompt.size() - 4, 4, ".npy") == 0;
  if (isFile) {
    NpyArray array;
    std::string problem = readNpy(prompt, array);
    if (!problem.empty())
      throw UsageError("--prompt: " + problem);
    if (array.shape.empty() || array.shape.size() > 2)
      throw UsageError("--prompt: " + prompt + " must be [T] or [B, T], not " +
                       std::to_string(array.shape.size()) + "-D");
    std::vector<uint8_t> ids;
    problem = convertNpy(array, HYLA_I32, ids);
    if (!problem.empty())
      throw UsageError("--prompt: " + problem);
    int64_t b = array.shape.size() == 2 ? array.shape[0] : 1;
    int64_t t = array.shape.back();
    const int32_t *p = reinterpret_cast<const int32_t *>(ids.data());
    for (int64_t i = 0; i < b; ++i)
      rows.emplace_back(p + i * t, p + (i + 1) * t);
  } else {
    // Sequences separated by ';', tokens by ','.
    for (size_t start = 0; start <= prompt.size();) {
      size_t semi = std::min(prompt.find(';', start), prompt.size());
      std::string seq = prompt.substr(start, semi - start);
      if (seq.empty())
        throw UsageError("--prompt: sequence " + std::to_string(rows.size()) +
                         " has no tokens");
      rows.emplace_back();
      for (size_t at = 0; at <= seq.size();) {
        size_t comma = std::min(seq.find(',', at), seq.size());
        rows.back().push_back(static_cast<int32_t>(parseInt(
            seq.substr(at, comma - at), "--prompt token", 0)));
        at = comma + 1;
      }
      start = semi + 1;
    }
  }
  if (rows.empty())
    throw UsageError("--prompt: no tokens");
  for (size_t b = 0; b < rows.size(); ++b)
    if (rows[b].empty())
      throw UsageError("--prompt: sequence " + std::to_string(b) +
                       " has no tokens");
  for (const auto &row : rows)
    for (int32_t id : row)
      if (id < 0 || id >= vocab)
        throw UsageError("--prompt: token id " + std::to_string(id) +
                         " is outside the vocabulary [0, " +
                         std::to_string(vocab) + ")");
  return rows;
}

/// Greedy generation through the module's `decode` function (inputs: ids
/// [batch, tokens], slots [batch], lengths [batch], then the caches; outputs:
/// logits [batch, tokens, vocab], then the caches, updated in place).
int generate(hyla_module *module, const Options &options) {
  int32_t fn = hyla_module_find_function(module, "decode");
  if (fn < 0)
    throw UsageError("--generate needs a module with a 'decode' function "
                     "(compile the model from its config.json)");
  int32_t numInputs = hyla_function_num_inputs(module, fn);
  int32_t numOutputs = hyla_function_num_outputs(module, fn);
  const char *vocabText = hyla_module_metadata(module, "vocab_size");
  int64_t vocab = vocabText ? std::strtoll(vocabText, nullptr, 10) : 0;
  if (vocab <= 0 || numInputs < 3 || numOutputs < 1)
    throw UsageError("'decode' is not a model's decode step (no vocab_size "
                     "metadata, or too few inputs and outputs)");
  auto rows = readPrompt(options.prompt, vocab);
  const int64_t batch = static_cast<int64_t>(rows.size());
  // The prompts go through `prefill` (packed, any lengths) where the module
  // has it, else through `decode` in one call (equal lengths).
  const int32_t prefillFn = hyla_module_find_function(module, "prefill");
  int64_t promptTokens = 0, packedTokens = 0;
  for (const auto &row : rows) {
    promptTokens = std::max<int64_t>(promptTokens, row.size());
    packedTokens += static_cast<int64_t>(row.size());
    if (prefillFn < 0 && static_cast<int64_t>(row.size()) != promptTokens)
      throw UsageError("--prompt: every sequence must have the same length "
                       "(the module has no 'prefill' for prompts of "
                       "different lengths)");
  }
  const int64_t steps = options.generate;
  const int64_t maxTokens =
      options.maxTokens > 0 ? options.maxTokens : promptTokens + steps;
  // The last generated token is not fed back, so the caches hold
  // promptTokens + steps - 1 positions at the end.
  if (promptTokens + std::max<int64_t>(steps - 1, 0) > maxTokens)
    throw UsageError("the prompt (" + std::to_string(promptTokens) +
                     " tokens) and " + std::to_string(steps) +
                     " generated tokens need " +
                     std::to_string(promptTokens + steps - 1) +
                     " cache positions; --max-tokens is " +
                     std::to_string(maxTokens));

  // Shapes of function `f`'s inputs with one slot a sequence.
  auto shapesOf = [&](int32_t f, int64_t tokens) {
    int32_t n = hyla_function_num_symbols(module, f);
    std::vector<int64_t> values(n, -1);
    for (int32_t s = 0; s < n; ++s) {
      std::string name = hyla_function_symbol_name(module, f, s);
      if (name == "batch" || name == "slots" || name == "sequences")
        values[s] = batch;
      else if (name == "sequences_plus_1")
        values[s] = batch + 1;
      else if (name == "tokens")
        values[s] = tokens;
      else if (name == "max_tokens")
        values[s] = maxTokens;
      else
        throw UsageError(std::string("'") +
                         (f == prefillFn ? "prefill" : "decode") +
                         "' has a symbol '" + name +
                         "' that --generate cannot size");
    }
    std::vector<hyla_tensor> inputs(hyla_function_num_inputs(module, f));
    if (hyla_function_input_shapes(module, f, values.data(), n,
                                   inputs.data()) != HYLA_OK)
      throw UsageError(hyla_last_error());
    return inputs;
  };
  auto shapesFor = [&](int64_t tokens) { return shapesOf(fn, tokens); };
  std::vector<hyla_tensor> inputs =
      shapesFor(prefillFn >= 0 ? 1 : promptTokens);
  if (inputs[0].dtype != HYLA_I32 || inputs[1].dtype != HYLA_I32 ||
      inputs[2].dtype != HYLA_I32)
    throw UsageError("'decode' must take i32 ids, slots and lengths first");

  std::printf("hyla-run: %s: greedy generation of %lld tokens after a "
              "prompt of %lld%s, %lld sequence%s, %lld cache positions a "
              "slot; the prompt through '%s'\n",
              options.modulePath.c_str(), static_cast<long long>(steps),
              static_cast<long long>(promptTokens),
              packedTokens == promptTokens * batch ? "" : " at most",
              static_cast<long long>(batch), batch == 1 ? "" : "s",
              static_cast<long long>(maxTokens),
              prefillFn >= 0 ? "prefill" : "decode");
  if (int status = prepareGpu(module, options); status != kExitOk)
    return status;

  // Buffers sized for the prompt step (the largest); later steps take a
  // prefix of the ids and logits.
  DeviceAllocations memory{module, {}};
  uint64_t cacheBytes = 0;
  for (int32_t i = 0; i < numInputs; ++i) {
    hyla_tensor &t = inputs[i];
    uint64_t bytes = tensorBytes(t);
    t.data = bytes ? memory.allocate(bytes, "input " + std::to_string(i))
                   : nullptr;
    if (i >= 3) {
      // Empty caches: zero conv inputs and recurrent states (the KV
      // positions past each length are never read).
      std::vector<uint8_t> zeros(bytes, 0);
      check(hyla_copy_to_device(module, t.data, zeros.data(), bytes),
            "clearing cache " + std::to_string(i));
      cacheBytes += bytes;
    }
  }
  std::printf("caches: %d tensors, %s\n", numInputs - 3,
              formatBytes(cacheBytes).c_str());
  std::vector<int32_t> slots(batch), lengths(batch, 0), ids;
  for (int64_t b = 0; b < batch; ++b)
    slots[b] = static_cast<int32_t>(b);
  for (const auto &row : rows)
    ids.insert(ids.end(), row.begin(), row.end());
  check(hyla_copy_to_device(module, inputs[1].data, slots.data(),
                            slots.size() * 4),
        "copying the slots");

  // prefill's own inputs (packed ids, offsets, slots) and logits; the
  // caches are decode's.
  std::vector<hyla_tensor> prefillIn, prefillOut;
  DeviceAllocations prefillMemory{module, {}};
  if (prefillFn >= 0) {
    prefillIn = shapesOf(prefillFn, packedTokens);
    if (static_cast<int32_t>(prefillIn.size()) != numInputs)
      throw UsageError("'prefill' and 'decode' must take the same caches");
    std::vector<int32_t> cu(batch + 1, 0);
    for (int64_t b = 0; b < batch; ++b)
      cu[b + 1] = cu[b] + static_cast<int32_t>(rows[b].size());
    const std::vector<int32_t> *host[3] = {&ids, &cu, &slots};
    for (int32_t i = 0; i < 3; ++i) {
      uint64_t bytes = tensorBytes(prefillIn[i]);
      if (prefillIn[i].dtype != HYLA_I32 || bytes != host[i]->size() * 4)
        throw UsageError("'prefill' must take i32 ids [1, tokens], "
                         "cu_seqlens [sequences + 1] and slots [sequences]");
      prefillIn[i].data =
          prefillMemory.allocate(bytes, "prefill input " + std::to_string(i));
      check(hyla_copy_to_device(module, prefillIn[i].data, host[i]->data(),
                                bytes),
            "copying prefill input " + std::to_string(i));
    }
    for (int32_t i = 3; i < numInputs; ++i)
      prefillIn[i].data = inputs[i].data;
    prefillOut.assign(hyla_function_num_outputs(module, prefillFn),
                      hyla_tensor{});
    if (hyla_function_output_shapes(module, prefillFn, prefillIn.data(),
                                    numInputs, prefillOut.data(),
                                    prefillOut.size()) != HYLA_OK)
      throw UsageError(hyla_last_error());
    prefillOut[0].data = prefillMemory.allocate(tensorBytes(prefillOut[0]),
                                                "the prefill logits");
    for (size_t i = 1; i < prefillOut.size(); ++i)
      prefillOut[i].data =
          prefillIn[hyla_function_output_tied_input(module, prefillFn, i)]
              .data;
  }

  std::vector<hyla_tensor> outputs(numOutputs);
  DeviceAllocations logitsMemory{module, {}};
  if (hyla_function_output_shapes(module, fn, inputs.data(), numInputs,
                                  outputs.data(), numOutputs) != HYLA_OK)
    throw UsageError(hyla_last_error());
  void *logits = logitsMemory.allocate(tensorBytes(outputs[0]), "the logits");
  int32_t logitsType = outputs[0].dtype;
  size_t logitSize = hyla_dtype_size(logitsType);

  // One-token steps replay a CUDA graph of the step, captured at the first
  // (same buffers and shapes every step; ids and lengths are rewritten in
  // place before each replay).
  struct GraphHolder {
    hyla_graph *graph = nullptr;
    ~GraphHolder() { hyla_graph_free(graph); }
  } stepGraph;
  std::vector<std::vector<int32_t>> generated(batch);
  std::vector<double> stepMs;
  // Where a one-token step's time goes: enqueueing, the GPU (events around
  // the launches), and the host after it (logits copy, argmax).
  std::vector<double> enqueueMs, gpuMs, afterMs;
  void *gpuStart = nullptr, *gpuEnd = nullptr;
  check(hyla_event_create(module, &gpuStart), "creating an event");
  check(hyla_event_create(module, &gpuEnd), "creating an event");
  struct EventsHolder {
    hyla_module *module;
    void *a, *b;
    ~EventsHolder() {
      hyla_event_destroy(module, a);
      hyla_event_destroy(module, b);
    }
  } eventsHolder{module, gpuStart, gpuEnd};
  std::vector<uint8_t> lastRows(batch * vocab * logitSize);
  bool tty = isatty(fileno(stdout));
  auto start = std::chrono::steady_clock::now();
  int64_t tokens = promptTokens;
  // The tensors of a call with `tokens` new tokens; the one-token step's
  // are made once (two shape evaluations a step, 0.4 ms for the 7B).
  std::vector<hyla_tensor> in, out, oneIn, oneOut;
  auto tensorsFor = [&](int64_t tokens, std::vector<hyla_tensor> &in,
                        std::vector<hyla_tensor> &out) {
    in = shapesFor(tokens);
    for (int32_t i = 0; i < numInputs; ++i)
      in[i].data = inputs[i].data;
    out.assign(numOutputs, hyla_tensor{});
    if (hyla_function_output_shapes(module, fn, in.data(), numInputs,
                                    out.data(), numOutputs) != HYLA_OK)
      throw UsageError(hyla_last_error());
    out[0].data = logits;
    for (int32_t i = 1; i < numOutputs; ++i)
      out[i].data = in[hyla_function_output_tied_input(module, fn, i)].data;
  };
  // One decode call (a CUDA-graph replay for one-token steps) with `ids`
  // after `lengths`; each sequence's last logits row into lastRows. Sets
  // the enqueue interval.
  std::chrono::steady_clock::time_point enqueueStart, enqueued;
  auto decodeStep = [&](int64_t tokens) {
    if (tokens != 1) {
      tensorsFor(tokens, in, out);
    } else {
      if (oneIn.empty())
        tensorsFor(1, oneIn, oneOut);
      in = oneIn;
      out = oneOut;
    }
    check(hyla_copy_to_device(module, in[0].data, ids.data(), ids.size() * 4),
          "copying the token ids");
    check(hyla_copy_to_device(module, in[2].data, lengths.data(),
                              lengths.size() * 4),
          "copying the lengths");
    if (options.graph && tokens == 1 && !stepGraph.graph) {
      check(hyla_function_capture(module, fn, in.data(), numInputs, out.data(),
                                  numOutputs, &stepGraph.graph),
            "capturing the decode step");
      std::printf("decode step captured as a CUDA graph of %d launches\n",
                  hyla_graph_num_launches(stepGraph.graph));
    }
    enqueueStart = std::chrono::steady_clock::now();
    check(hyla_event_record(module, gpuStart, nullptr), "recording an event");
    if (stepGraph.graph && tokens == 1)
      check(hyla_graph_launch(stepGraph.graph, nullptr),
            "replaying the decode step");
    else
      check(hyla_function_call(module, fn, in.data(), numInputs, out.data(),
                               numOutputs, nullptr),
            "calling 'decode'");
    check(hyla_event_record(module, gpuEnd, nullptr), "recording an event");
    enqueued = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < batch; ++b)
      check(hyla_copy_to_host(
                module, lastRows.data() + b * vocab * logitSize,
                static_cast<const uint8_t *>(logits) +
                    ((b * tokens + tokens - 1) * vocab) * logitSize,
                vocab * logitSize),
            "copying the logits");
  };
  // The prompts, packed, through prefill: its logits are each prompt's
  // last token's.
  auto prefillStep = [&] {
    check(hyla_function_call(module, prefillFn, prefillIn.data(), numInputs,
                             prefillOut.data(), prefillOut.size(), nullptr),
          "calling 'prefill'");
    check(hyla_copy_to_host(module, lastRows.data(), prefillOut[0].data,
                            lastRows.size()),
          "copying the prefill logits");
  };
  for (int64_t step = 0; step < steps; ++step) {
    auto stepStart = std::chrono::steady_clock::now();
    if (step == 0 && prefillFn >= 0)
      prefillStep();
    else
      decodeStep(tokens);
    auto copied = std::chrono::steady_clock::now();
    ids.assign(batch, 0);
    for (int64_t b = 0; b < batch; ++b) {
      const uint8_t *row = lastRows.data() + b * vocab * logitSize;
      auto value = [&](int64_t v) -> float {
        const uint8_t *p = row + v * logitSize;
        if (logitsType == HYLA_F32) {
          float f;
          std::memcpy(&f, p, 4);
          return f;
        }
        uint16_t bits;
        std::memcpy(&bits, p, 2);
        return logitsType == HYLA_BF16 ? hyla::bf16ToFloat(bits)
                                       : hyla::f16ToFloat(bits);
      };
      int64_t best = 0;
      float bestValue = value(0);
      for (int64_t v = 1; v < vocab; ++v)
        if (float x = value(v); x > bestValue || std::isnan(bestValue)) {
          best = v;
          bestValue = x;
        }
      if (std::isnan(bestValue))
        throw RunError(kExitRunFailed,
                       "sequence " + std::to_string(b) + "'s logits are NaN "
                       "at step " + std::to_string(step));
      ids[b] = static_cast<int32_t>(best);
      generated[b].push_back(static_cast<int32_t>(best));
      lengths[b] += static_cast<int32_t>(step == 0 ? rows[b].size() : 1);
    }
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - stepStart)
                    .count();
    tokens = 1;
    stepMs.push_back(ms);
    if (step > 0) { // one-token steps
      using Ms = std::chrono::duration<double, std::milli>;
      float gpu = 0;
      check(hyla_event_elapsed_ms(module, gpuStart, gpuEnd, &gpu),
            "reading an event");
      enqueueMs.push_back(Ms(enqueued - enqueueStart).count());
      gpuMs.push_back(gpu);
      afterMs.push_back(Ms(std::chrono::steady_clock::now() - copied).count());
    }
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    if (tty || step + 1 == steps || (step + 1) % 16 == 0)
      std::printf("%sgenerated %lld/%lld tokens a sequence, last step "
                  "%.2f ms, %.1f tokens/s%s",
                  tty ? "\r" : "", static_cast<long long>(step + 1),
                  static_cast<long long>(steps), ms,
                  static_cast<double>(batch * (step + 1)) / seconds,
                  tty ? "" : "\n");
    std::fflush(stdout);
  }
  if (tty && steps > 0)
    std::printf("\n");
  if (!stepMs.empty()) {
    std::vector<double> decodeMs(stepMs.begin() + 1, stepMs.end());
    std::sort(decodeMs.begin(), decodeMs.end());
    std::printf("prompt step %.2f ms", stepMs.front());
    if (!decodeMs.empty())
      std::printf(", decode steps median %.2f ms (host argmax included) = "
                  "%.1f tokens/s over %lld sequence%s",
                  decodeMs[decodeMs.size() / 2],
                  1000.0 * static_cast<double>(batch) /
                      decodeMs[decodeMs.size() / 2],
                  static_cast<long long>(batch), batch == 1 ? "" : "s");
    std::printf("\n");
  }
  if (!gpuMs.empty()) {
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf("one-token steps (medians): enqueue %.3f ms, GPU %.3f ms, "
                "host after the logits copy %.3f ms\n",
                median(enqueueMs), median(gpuMs), median(afterMs));
  }
  for (int64_t b = 0; b < batch; ++b) {
    std::printf("tokens %lld:", static_cast<long long>(b));
    for (int32_t id : generated[b])
      std::printf(" %d", id);
    std::printf("\n");
  }
  if (!options.outputDir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.outputDir, error);
    std::vector<int32_t> all;
    for (const auto &row : generated)
      all.insert(all.end(), row.begin(), row.end());
    std::string path = options.outputDir + "/tokens.npy";
    std::string problem = writeNpy(path, "<i4", {batch, steps}, all.data(),
                                   all.size() * 4);
    if (!problem.empty())
      throw RunError(kExitRunFailed, problem);
    std::printf("wrote %s\n", path.c_str());
  }
  return kExitOk;
}

int run(hyla_module *module, const Options &options) {
  // Everything that needs no GPU is checked first.
  int32_t fn = 0;
  if (options.function.empty()) {
    if (hyla_module_num_functions(module) < 1)
      throw UsageError("the module has no functions");
  } else {
    fn = hyla_module_find_function(module, options.function.c_str());
    if (fn < 0) {
      std::string names;
      for (int32_t f = 0; f < hyla_module_num_functions(module); ++f)
        names +=
            std::string(f ? ", " : "") + hyla_module_function_name(module, f);
      throw UsageError("the module has no function '" + options.function +
                       "' (its functions: " + names + ")");
    }
  }
  std::string fnName = hyla_module_function_name(module, fn);
  int32_t numInputs = hyla_function_num_inputs(module, fn);
  int32_t numOutputs = hyla_function_num_outputs(module, fn);
  int32_t numSymbols = hyla_function_num_symbols(module, fn);
  int32_t numLaunches = hyla_function_num_launches(module, fn);

  std::map<int32_t, NpyArray> files;
  for (const auto &[index, path] : options.inputFiles) {
    if (index >= numInputs)
      throw UsageError("--input " + std::to_string(index) + ": function '" +
                       fnName + "' has " + std::to_string(numInputs) +
                       " inputs");
    std::string problem = readNpy(path, files[static_cast<int32_t>(index)]);
    if (!problem.empty())
      throw UsageError("--input " + std::to_string(index) + ": " + problem);
  }

  // Symbols: --sym, else the shape of an input read from a file.
  std::vector<int64_t> symbolValues(numSymbols, -1);
  std::string symbolText;
  for (const auto &[name, value] : options.symbols) {
    int32_t s = 0;
    while (s < numSymbols && name != hyla_function_symbol_name(module, fn, s))
      ++s;
    if (s == numSymbols) {
      std::string names;
      for (int32_t t = 0; t < numSymbols; ++t)
        names += std::string(t ? ", " : "") +
                 hyla_function_symbol_name(module, fn, t);
      throw UsageError("function '" + fnName + "' has no symbol '" + name +
                       "' (its symbols: " + (names.empty() ? "none" : names) +
                       ")");
    }
    symbolValues[s] = value;
  }
  for (int32_t s = 0; s < numSymbols; ++s) {
    const char *name = hyla_function_symbol_name(module, fn, s);
    if (symbolValues[s] < 0) {
      int32_t input = 0, dim = 0;
      hyla_function_symbol_source(module, fn, s, &input, &dim);
      auto file = files.find(input);
      if (file == files.end())
        throw UsageError("symbol '" + std::string(name) +
                         "' needs a value: pass --sym " + name +
                         "=N (or give input " + std::to_string(input) +
                         " with --input)");
      if (static_cast<size_t>(dim) >= file->second.shape.size())
        throw UsageError("--input " + std::to_string(input) + " has rank " +
                         std::to_string(file->second.shape.size()) +
                         ", but function '" + fnName + "' expects " +
                         describe(module, fn, input, true));
      symbolValues[s] = file->second.shape[dim];
    }
    symbolText += (s ? ", " : "") + std::string(name) + "=" +
                  std::to_string(symbolValues[s]);
  }

  std::vector<hyla_tensor> inputs(numInputs), outputs(numOutputs);
  if (hyla_function_input_shapes(module, fn, symbolValues.data(), numSymbols,
                                 inputs.data()) != HYLA_OK)
    throw UsageError(hyla_last_error());
  std::vector<std::vector<uint8_t>> hostInputs(numInputs);
  for (auto &[index, array] : files) {
    hyla_tensor &t = inputs[index];
    t.rank = static_cast<int32_t>(array.shape.size());
    for (int32_t d = 0; d < t.rank; ++d)
      t.dims[d] = array.shape[d];
    std::string problem = convertNpy(array, t.dtype, hostInputs[index]);
    if (!problem.empty())
      throw UsageError("--input " + std::to_string(index) + ": " + problem);
  }
  // Checks file shapes against the function (and each other).
  if (hyla_function_output_shapes(module, fn, inputs.data(), numInputs,
                                  outputs.data(), numOutputs) != HYLA_OK)
    throw UsageError(hyla_last_error());

  int64_t intMax = options.intMax;
  if (intMax < 0) {
    const char *vocab = hyla_module_metadata(module, "vocab_size");
    char *end = nullptr;
    long long parsed = vocab ? std::strtoll(vocab, &end, 10) : 0;
    intMax = vocab && *end == 0 && parsed > 0 ? parsed : 1000;
  }

  std::printf("hyla-run: %s: function '%s'%s%s%s\n", options.modulePath.c_str(),
              fnName.c_str(), symbolText.empty() ? "" : " (",
              symbolText.c_str(), symbolText.empty() ? "" : ")");

  // From here on the GPU is needed.
  if (int status = prepareGpu(module, options); status != kExitOk)
    return status;

  DeviceAllocations memory{module, {}};
  for (int32_t i = 0; i < numInputs; ++i) {
    hyla_tensor &t = inputs[i];
    bool fromFile = files.count(i) > 0;
    if (!fromFile)
      hostInputs[i] = randomInput(t, options.seed, i, intMax);
    uint64_t bytes = tensorBytes(t);
    t.data =
        bytes ? memory.allocate(bytes, "input " + std::to_string(i)) : nullptr;
    check(hyla_copy_to_device(module, t.data, hostInputs[i].data(), bytes),
          "copying input " + std::to_string(i));
    std::string source =
        hyla::isFloatDType(t.dtype)
            ? std::string("random normal(0, 1)")
            : "random uniform [0, " + std::to_string(intMax) + ")";
    for (const auto &[index, path] : options.inputFiles)
      if (index == i)
        source = "from " + path; // the last --input for i wins
    std::printf("input  %d: %s, %s\n", i,
                formatShape(t.dtype, t.rank, t.dims).c_str(), source.c_str());
  }
  for (int32_t i = 0; i < numOutputs; ++i) {
    hyla_tensor &t = outputs[i];
    int32_t tied = hyla_function_output_tied_input(module, fn, i);
    if (tied >= 0) {
      // The function updates that input in place (e.g. a decode cache).
      t.data = inputs[tied].data;
      std::printf("output %d: %s, input %d updated in place\n", i,
                  formatShape(t.dtype, t.rank, t.dims).c_str(), tied);
      continue;
    }
    uint64_t bytes = tensorBytes(t);
    t.data =
        bytes ? memory.allocate(bytes, "output " + std::to_string(i)) : nullptr;
    std::printf("output %d: %s\n", i,
                formatShape(t.dtype, t.rank, t.dims).c_str());
  }

  auto call = [&] {
    check(hyla_function_call(module, fn, inputs.data(), numInputs,
                             outputs.data(), numOutputs, nullptr),
          "calling '" + fnName + "'");
  };
  for (int64_t i = 0; i < options.warmup; ++i)
    call();
  check(hyla_synchronize(module), "synchronizing after the warm-up");

  void *start = nullptr, *end = nullptr;
  check(hyla_event_create(module, &start), "creating an event");
  check(hyla_event_create(module, &end), "creating an event");
  std::vector<double> times;
  for (int64_t i = 0; i < options.iters; ++i) {
    check(hyla_event_record(module, start, nullptr), "recording an event");
    call();
    check(hyla_event_record(module, end, nullptr), "recording an event");
    float ms = 0;
    check(hyla_event_elapsed_ms(module, start, end, &ms), "reading an event");
    times.push_back(ms);
  }
  hyla_event_destroy(module, start);
  hyla_event_destroy(module, end);
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  double median =
      n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  std::printf("\ntime per call (%lld calls after %lld warm-up, %d launches "
              "each): median %.4f ms, min %.4f ms, max %.4f ms\n",
              static_cast<long long>(options.iters),
              static_cast<long long>(options.warmup), numLaunches, median,
              sorted.front(), sorted.back());

  if (options.profile) {
    std::vector<double> launchMs(numLaunches, 0.0);
    std::vector<float> callMs(numLaunches, 0.0f);
    for (int64_t i = 0; i < options.iters; ++i) {
      check(hyla_function_call_timed(module, fn, inputs.data(), numInputs,
                                     outputs.data(), numOutputs, nullptr,
                                     callMs.data(), numLaunches),
            "profiling '" + fnName + "'");
      for (int32_t l = 0; l < numLaunches; ++l)
        launchMs[l] += callMs[l];
    }
    printProfile(module, fn, launchMs, options.iters);
  }

  if (!options.outputDir.empty()) {
    check(hyla_synchronize(module), "synchronizing");
    std::error_code error;
    std::filesystem::create_directories(options.outputDir, error);
    if (error)
      throw RunError(kExitRunFailed, "cannot create '" + options.outputDir +
                                         "': " + error.message());
    for (int32_t i = 0; i < numOutputs; ++i) {
      const hyla_tensor &t = outputs[i];
      std::vector<uint8_t> elements(tensorBytes(t));
      check(hyla_copy_to_host(module, elements.data(), t.data, elements.size()),
            "copying output " + std::to_string(i));
      std::string descr;
      std::vector<uint8_t> npyData;
      toNpyLayout(t.dtype, elements, descr, npyData);
      std::string path =
          options.outputDir + "/output" + std::to_string(i) + ".npy";
      std::string problem =
          writeNpy(path, descr, std::vector<int64_t>(t.dims, t.dims + t.rank),
                   npyData.data(), npyData.size());
      if (!problem.empty())
        throw RunError(kExitRunFailed, problem);
      std::printf("wrote %s (%s)\n", path.c_str(), descr.c_str());
    }
  }
  return kExitOk;
}

int reportError(std::exception_ptr exception);

} // namespace

int main(int argc, char **argv) {
  Options options;
  try {
    bool showHelp = false;
    options = parseOptions(argc, argv, showHelp);
    if (showHelp) {
      std::fputs(kHelp, stdout);
      return kExitOk;
    }
  } catch (const UsageError &error) {
    std::fprintf(stderr, "hyla-run: %s\nTry 'hyla-run --help'.\n",
                 error.what());
    return kExitUsage;
  }

  hyla_module *module = nullptr;
  if (hyla_module_load_file(options.modulePath.c_str(), &module) != HYLA_OK) {
    std::fprintf(stderr, "hyla-run: %s\n", hyla_last_error());
    return kExitBadModule;
  }
  int status = kExitOk;
  try {
    if (options.info)
      printInfo(module, options);
    else if (options.generate >= 0)
      status = generate(module, options);
    else
      status = run(module, options);
  } catch (...) {
    std::fflush(stdout); // what was printed so far comes before the error
    status = reportError(std::current_exception());
  }
  hyla_module_free(module);
  return status;
}

namespace {

int reportError(std::exception_ptr exception) {
  int status = kExitRunFailed;
  try {
    std::rethrow_exception(exception);
  } catch (const UsageError &error) {
    // A value the module rejects (a missing symbol, a size, an input file):
    // the message names the option and what to pass; --help would not say
    // more. Malformed command lines get the hint (main).
    std::fprintf(stderr, "hyla-run: %s\n", error.what());
    status = kExitUsage;
  } catch (const RunError &error) {
    if (error.exitCode == kExitNoGpu)
      std::fprintf(stderr,
                   "hyla-run: no GPU available: %s. Use --info to inspect "
                   "the module without a GPU.\n",
                   error.what());
    else
      std::fprintf(stderr, "hyla-run: %s\n", error.what());
    status = error.exitCode;
  } catch (const std::exception &error) {
    std::fprintf(stderr, "hyla-run: %s\n", error.what());
    status = kExitRunFailed;
  } catch (...) {
    std::fprintf(stderr, "hyla-run: unknown error\n");
    status = kExitRunFailed;
  }
  return status;
}

} // namespace
