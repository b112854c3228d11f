//===- Api.cpp - C API: errors, loading, inspection, shapes ---------------===//
//
// Functions that return a value rather than a status (counts, names) return
// -1 / NULL on bad arguments and set the thread's last error.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "Errors.h"
#include "ModuleDesc.h"
#include "Shapes.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace hyla {

namespace {
thread_local std::string lastError;
} // namespace

void setLastError(const std::string &message) { lastError = message; }

namespace {

/// Runs `body` and returns its value, or `onError` if it throws.
template <typename T, typename Body>
T guardedValue(T onError, Body &&body) noexcept {
  T value = onError;
  hyla_status status = guarded([&] { value = body(); });
  return status == HYLA_OK ? value : onError;
}

const ModuleDesc &descOf(const hyla_module *module) {
  if (!module)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
  return module->desc;
}

const FunctionDesc &functionOf(const hyla_module *module, int32_t fn) {
  const ModuleDesc &desc = descOf(module);
  if (fn < 0 || static_cast<size_t>(fn) >= desc.functions.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, "function index ", fn,
         " is out of range (the module has ", desc.functions.size(),
         " functions)");
  return desc.functions[fn];
}

template <typename T>
void checkIndex(int32_t index, const std::vector<T> &list, const char *what) {
  if (index < 0 || static_cast<size_t>(index) >= list.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, what, " index ", index,
         " is out of range (there are ", list.size(), ")");
}

/// Copies `text` to a caller buffer; fails (after writing what fits) if it
/// does not fit.
void copyOut(const std::string &text, char *buf, size_t size) {
  if (!buf || size == 0)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "output buffer is NULL or empty");
  size_t n = std::min(size - 1, text.size());
  std::memcpy(buf, text.data(), n);
  buf[n] = 0;
  if (n < text.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, "output buffer of ", size,
         " bytes is too small: ", text.size() + 1, " are needed");
}

std::vector<uint8_t> readFile(const char *path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file)
    fail(HYLA_ERROR_IO, "cannot open module file '", path,
         "': ", std::strerror(errno));
  std::streamoff size = file.tellg();
  if (size < 0)
    fail(HYLA_ERROR_IO, "cannot read module file '", path, "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char *>(bytes.data()), size))
    fail(HYLA_ERROR_IO, "cannot read module file '", path, "'");
  return bytes;
}

} // namespace
} // namespace hyla

using namespace hyla;

extern "C" {

const char *hyla_last_error(void) { return lastError.c_str(); }

const char *hyla_status_string(hyla_status status) {
  // C callers may pass any int; read it as one (an out-of-range value of a
  // C++ enum must not be loaded as the enum).
  int value;
  std::memcpy(&value, &status, sizeof(value));
  switch (value) {
  case HYLA_OK:
    return "ok";
  case HYLA_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case HYLA_ERROR_BAD_MODULE:
    return "bad module";
  case HYLA_ERROR_IO:
    return "I/O error";
  case HYLA_ERROR_NO_GPU:
    return "no GPU";
  case HYLA_ERROR_CUDA:
    return "CUDA error";
  case HYLA_ERROR_SHAPE:
    return "shape mismatch";
  case HYLA_ERROR_UNSUPPORTED:
    return "unsupported";
  case HYLA_ERROR_VALUE:
    return "value out of range";
  }
  return "unknown status";
}

size_t hyla_dtype_size(int32_t dtype) { return dtypeSize(dtype); }

hyla_status hyla_module_load_file(const char *path, hyla_module **out) {
  return guarded([&] {
    if (!out)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_module_load_file: out is NULL");
    *out = nullptr;
    if (!path)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_module_load_file: path is NULL");
    std::vector<uint8_t> bytes = readFile(path);
    try {
      *out = loadModule(bytes.data(), bytes.size()).release();
    } catch (const Error &error) {
      throw Error(error.status(), strCat(path, ": ", error.message()));
    }
  });
}

hyla_status hyla_module_load_memory(const void *data, size_t size,
                                    hyla_module **out) {
  return guarded([&] {
    if (!out)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_module_load_memory: out is NULL");
    *out = nullptr;
    *out = loadModule(data, size).release();
  });
}

void hyla_module_free(hyla_module *module) { delete module; }

const char *hyla_module_target(const hyla_module *module) {
  return guardedValue<const char *>(
      nullptr, [&] { return descOf(module).target.c_str(); });
}

const char *hyla_module_producer(const hyla_module *module) {
  return guardedValue<const char *>(
      nullptr, [&] { return descOf(module).producer.c_str(); });
}

const char *hyla_module_metadata(const hyla_module *module, const char *key) {
  return guardedValue<const char *>(nullptr, [&]() -> const char * {
    if (!key)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "metadata key is NULL");
    for (const auto &entry : descOf(module).metadata)
      if (entry.first == key)
        return entry.second.c_str();
    return nullptr;
  });
}

int32_t hyla_module_num_metadata(const hyla_module *module) {
  return guardedValue<int32_t>(
      -1, [&] { return static_cast<int32_t>(descOf(module).metadata.size()); });
}

const char *hyla_module_metadata_key(const hyla_module *module, int32_t i) {
  return guardedValue<const char *>(nullptr, [&] {
    const ModuleDesc &desc = descOf(module);
    checkIndex(i, desc.metadata, "metadata");
    return desc.metadata[i].first.c_str();
  });
}

int32_t hyla_module_num_kernels(const hyla_module *module) {
  return guardedValue<int32_t>(
      -1, [&] { return static_cast<int32_t>(descOf(module).kernels.size()); });
}

const char *hyla_module_kernel_name(const hyla_module *module, int32_t i) {
  return guardedValue<const char *>(nullptr, [&] {
    const ModuleDesc &desc = descOf(module);
    checkIndex(i, desc.kernels, "kernel");
    return desc.kernels[i].name.c_str();
  });
}

hyla_status hyla_module_kernel_info(const hyla_module *module, int32_t i,
                                    uint32_t *block_dim,
                                    uint32_t *shared_mem_bytes,
                                    size_t *ptx_bytes) {
  return guarded([&] {
    const ModuleDesc &desc = descOf(module);
    checkIndex(i, desc.kernels, "kernel");
    const KernelDesc &kernel = desc.kernels[i];
    if (block_dim)
      *block_dim = kernel.blockDim;
    if (shared_mem_bytes)
      *shared_mem_bytes = kernel.sharedMemBytes;
    if (ptx_bytes)
      *ptx_bytes = kernel.ptxBytes;
  });
}

int32_t hyla_module_kernel_programmatic_launch(const hyla_module *module,
                                               int32_t i) {
  if (!module || i < 0 ||
      static_cast<size_t>(i) >= module->desc.kernels.size())
    return -1;
  return module->desc.kernels[i].programmaticLaunch ? 1 : 0;
}

hyla_status hyla_module_set_programmatic_launch(hyla_module *module,
                                                int32_t enable) {
  return guarded([&] {
    if (!module)
      fail(HYLA_ERROR_INVALID_ARGUMENT,
           "hyla_module_set_programmatic_launch: module is NULL");
    std::lock_guard<std::mutex> lock(module->mutex);
    module->programmaticLaunch = enable != 0;
  });
}

int32_t hyla_module_num_weights(const hyla_module *module) {
  return guardedValue<int32_t>(
      -1, [&] { return static_cast<int32_t>(descOf(module).weights.size()); });
}

hyla_status hyla_module_weight_info(const hyla_module *module, int32_t i,
                                    const char **name, int32_t *dtype,
                                    int32_t *rank, int64_t *dims) {
  return guarded([&] {
    const ModuleDesc &desc = descOf(module);
    checkIndex(i, desc.weights, "weight");
    const WeightDesc &weight = desc.weights[i];
    if (name)
      *name = weight.name.c_str();
    if (dtype)
      *dtype = weight.dtype;
    if (rank)
      *rank = static_cast<int32_t>(weight.shape.size());
    if (dims)
      for (size_t d = 0; d < weight.shape.size(); ++d)
        dims[d] = weight.shape[d];
  });
}

int32_t hyla_module_num_functions(const hyla_module *module) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(descOf(module).functions.size());
  });
}

const char *hyla_module_function_name(const hyla_module *module, int32_t i) {
  return guardedValue<const char *>(
      nullptr, [&] { return functionOf(module, i).name.c_str(); });
}

int32_t hyla_module_find_function(const hyla_module *module, const char *name) {
  return guardedValue<int32_t>(-1, [&] {
    const ModuleDesc &desc = descOf(module);
    if (!name)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "function name is NULL");
    auto it = desc.functionByName.find(name);
    if (it == desc.functionByName.end())
      fail(HYLA_ERROR_INVALID_ARGUMENT, "the module has no function named ",
           quoted(name));
    return static_cast<int32_t>(it->second);
  });
}

int32_t hyla_function_num_inputs(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).inputs.size());
  });
}

int32_t hyla_function_num_outputs(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).outputs.size());
  });
}

int32_t hyla_function_output_tied_input(const hyla_module *module, int32_t fn,
                                        int32_t i) {
  return guardedValue<int32_t>(-2, [&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(i, function.outputs, "output");
    const BufferDesc &buffer = function.buffers[function.outputs[i]];
    return buffer.bufferKind() == BufferKind::Input
               ? static_cast<int32_t>(buffer.index)
               : -1;
  });
}

int32_t hyla_function_num_launches(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).launches.size());
  });
}

int32_t hyla_function_num_symbols(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).symbols.size());
  });
}

const char *hyla_function_symbol_name(const hyla_module *module, int32_t fn,
                                      int32_t sym) {
  return guardedValue<const char *>(nullptr, [&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(sym, function.symbols, "symbol");
    return function.symbols[sym].name.c_str();
  });
}

hyla_status hyla_function_symbol_source(const hyla_module *module, int32_t fn,
                                        int32_t sym, int32_t *input,
                                        int32_t *dim) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(sym, function.symbols, "symbol");
    if (input)
      *input = static_cast<int32_t>(function.symbols[sym].input);
    if (dim)
      *dim = static_cast<int32_t>(function.symbols[sym].dim);
  });
}

hyla_status hyla_function_describe_input(const hyla_module *module, int32_t fn,
                                         int32_t i, char *buf, size_t size) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(i, function.inputs, "input");
    copyOut(describeBuffer(function, function.inputs[i]), buf, size);
  });
}

int32_t hyla_function_num_checks(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).checks.size());
  });
}

hyla_status hyla_function_describe_check(const hyla_module *module,
                                         int32_t fn, int32_t i, char *buf,
                                         size_t size) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(i, function.checks, "check");
    const SizeCheckDesc &check = function.checks[i];
    copyOut(strCat(formatSizeExpr(check.a, function.symbolNames), " == ",
                   formatSizeExpr(check.b, function.symbolNames), " (",
                   check.what, ")"),
            buf, size);
  });
}

int32_t hyla_function_num_value_checks(const hyla_module *module, int32_t fn) {
  return guardedValue<int32_t>(-1, [&] {
    return static_cast<int32_t>(functionOf(module, fn).valueChecks.size());
  });
}

hyla_status hyla_function_describe_value_check(const hyla_module *module,
                                               int32_t fn, int32_t i,
                                               char *buf, size_t size) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(i, function.valueChecks, "value check");
    copyOut(describeValueCheck(function, static_cast<size_t>(i)), buf, size);
  });
}

hyla_status hyla_module_set_value_checks(hyla_module *module, int32_t enable) {
  return guarded([&] {
    if (!module)
      fail(HYLA_ERROR_INVALID_ARGUMENT,
           "hyla_module_set_value_checks: module is NULL");
    std::lock_guard<std::mutex> lock(module->mutex);
    module->valueChecks = enable != 0;
  });
}

hyla_status hyla_function_describe_output(const hyla_module *module, int32_t fn,
                                          int32_t i, char *buf, size_t size) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(i, function.outputs, "output");
    uint32_t id = function.outputs[i];
    std::string text = describeBuffer(function, id);
    if (function.buffers[id].bufferKind() == BufferKind::Input)
      text += strCat(" (input ", function.buffers[id].index,
                     ", updated in place)");
    copyOut(text, buf, size);
  });
}

hyla_status hyla_function_input_shapes(const hyla_module *module, int32_t fn,
                                       const int64_t *symbol_values,
                                       int32_t num_symbols,
                                       hyla_tensor *inputs) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    std::string where = strCat("function ", quoted(function.name));
    if (num_symbols < 0 ||
        static_cast<size_t>(num_symbols) != function.symbols.size())
      fail(HYLA_ERROR_INVALID_ARGUMENT, where, " has ", function.symbols.size(),
           " symbols, but ", num_symbols, " values were given");
    if (num_symbols > 0 && !symbol_values)
      fail(HYLA_ERROR_INVALID_ARGUMENT, where, ": symbol_values is NULL");
    if (!inputs && !function.inputs.empty())
      fail(HYLA_ERROR_INVALID_ARGUMENT, where, ": inputs is NULL");
    std::vector<int64_t> symbols(symbol_values, symbol_values + num_symbols);
    for (size_t s = 0; s < symbols.size(); ++s)
      if (symbols[s] < 0)
        fail(HYLA_ERROR_INVALID_ARGUMENT, where, ": symbol ",
             quoted(function.symbols[s].name), " is ", symbols[s],
             "; sizes cannot be negative");
    BoundShapes shapes = evaluateShapes(function, symbols);
    // Symbols are read back from input dims at call time: if that dim is
    // not the symbol itself (e.g. 2 * n), the value cannot be reproduced.
    for (size_t s = 0; s < symbols.size(); ++s) {
      const SymbolDesc &symbol = function.symbols[s];
      int64_t produced = shapes.dims[function.inputs[symbol.input]][symbol.dim];
      if (produced != symbols[s])
        fail(HYLA_ERROR_SHAPE, where, ": symbol ", quoted(symbol.name), " = ",
             symbols[s], " is read from input ", symbol.input, " dim ",
             symbol.dim, ", which would be ", produced, " (",
             describeBuffer(function, function.inputs[symbol.input]),
             "); no input shapes give this value");
    }
    for (size_t i = 0; i < function.inputs.size(); ++i) {
      inputs[i].data = nullptr;
      fillTensorShape(function, shapes, function.inputs[i], inputs[i]);
    }
  });
}

hyla_status hyla_function_output_shapes(const hyla_module *module, int32_t fn,
                                        const hyla_tensor *inputs,
                                        int32_t num_inputs,
                                        hyla_tensor *outputs,
                                        int32_t num_outputs) {
  return guarded([&] {
    const FunctionDesc &function = functionOf(module, fn);
    if (num_outputs < 0 ||
        static_cast<size_t>(num_outputs) != function.outputs.size())
      fail(HYLA_ERROR_INVALID_ARGUMENT, "function ", quoted(function.name),
           " has ", function.outputs.size(), " outputs, but room for ",
           num_outputs, " was given");
    if (!outputs && num_outputs > 0)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "function ", quoted(function.name),
           ": outputs is NULL");
    BoundShapes shapes =
        evaluateShapes(function, bindInputs(function, inputs, num_inputs));
    for (size_t i = 0; i < function.outputs.size(); ++i)
      fillTensorShape(function, shapes, function.outputs[i], outputs[i]);
  });
}

int32_t hyla_function_launch_kernel(const hyla_module *module, int32_t fn,
                                    int32_t launch) {
  return guardedValue<int32_t>(-1, [&] {
    const FunctionDesc &function = functionOf(module, fn);
    checkIndex(launch, function.launches, "launch");
    return static_cast<int32_t>(function.launches[launch].kernel);
  });
}

} // extern "C"
