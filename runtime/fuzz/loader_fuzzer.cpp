//===- loader_fuzzer.cpp - libFuzzer target for the module loader ---------===//
//
// Feeds arbitrary bytes to hyla_module_load_memory. When a module is
// accepted, walks the whole inspection API and asks for input and output
// shapes with a few symbol values, as a tool would. Nothing touches a GPU.
// Built with -DHYLA_ENABLE_FUZZER=ON (clang); see scripts/fuzz_loader.sh.
//
//===----------------------------------------------------------------------===//

#include "hyla/runtime.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

void exerciseFunction(hyla_module *m, int32_t fn) {
  char buf[512];
  int32_t numInputs = hyla_function_num_inputs(m, fn);
  int32_t numOutputs = hyla_function_num_outputs(m, fn);
  int32_t numSymbols = hyla_function_num_symbols(m, fn);
  int32_t numLaunches = hyla_function_num_launches(m, fn);
  if (numInputs < 0 || numOutputs < 0 || numSymbols < 0 || numLaunches < 0)
    __builtin_trap(); // a loaded module must answer for valid indices
  for (int32_t s = 0; s < numSymbols; ++s) {
    int32_t input = -1, dim = -1;
    if (!hyla_function_symbol_name(m, fn, s) ||
        hyla_function_symbol_source(m, fn, s, &input, &dim) != HYLA_OK ||
        input < 0 || input >= numInputs)
      __builtin_trap();
  }
  for (int32_t i = 0; i < numInputs; ++i)
    (void)hyla_function_describe_input(m, fn, i, buf, sizeof(buf));
  for (int32_t i = 0; i < numOutputs; ++i)
    (void)hyla_function_describe_output(m, fn, i, buf, sizeof(buf));
  for (int32_t l = 0; l < numLaunches; ++l)
    if (hyla_function_launch_kernel(m, fn, l) < 0)
      __builtin_trap();

  // Shapes for a few symbol values, then the round trip through the inputs.
  const int64_t values[] = {0, 1, 7, 4096, int64_t(1) << 40};
  std::vector<hyla_tensor> inputs(numInputs > 0 ? numInputs : 1);
  std::vector<hyla_tensor> outputs(numOutputs > 0 ? numOutputs : 1);
  for (int64_t value : values) {
    std::vector<int64_t> symbols(numSymbols > 0 ? numSymbols : 1, value);
    if (hyla_function_input_shapes(m, fn, symbols.data(), numSymbols,
                                   inputs.data()) != HYLA_OK)
      continue;
    if (hyla_function_output_shapes(m, fn, inputs.data(), numInputs,
                                    outputs.data(), numOutputs) != HYLA_OK)
      continue;
    // Perturb one dim: must be rejected or accepted, never crash.
    if (numInputs > 0 && inputs[0].rank > 0) {
      inputs[0].dims[0] += 1;
      (void)hyla_function_output_shapes(m, fn, inputs.data(), numInputs,
                                        outputs.data(), numOutputs);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hyla_module *m = nullptr;
  if (hyla_module_load_memory(data, size, &m) != HYLA_OK) {
    if (m || hyla_last_error()[0] == 0)
      __builtin_trap(); // failures must leave no module and say why
    return 0;
  }
  (void)hyla_module_target(m);
  (void)hyla_module_producer(m);
  (void)hyla_module_metadata(m, "vocab_size");
  for (int32_t i = 0; i < hyla_module_num_metadata(m); ++i) {
    const char *key = hyla_module_metadata_key(m, i);
    if (!key || !hyla_module_metadata(m, key))
      __builtin_trap();
  }
  for (int32_t k = 0; k < hyla_module_num_kernels(m); ++k) {
    uint32_t block = 0, smem = 0;
    size_t ptx = 0;
    if (!hyla_module_kernel_name(m, k) ||
        hyla_module_kernel_info(m, k, &block, &smem, &ptx) != HYLA_OK ||
        block < 1 || block > 1024 || ptx == 0)
      __builtin_trap();
  }
  for (int32_t w = 0; w < hyla_module_num_weights(m); ++w) {
    const char *name = nullptr;
    int32_t dtype = 0, rank = 0;
    int64_t dims[HYLA_MAX_RANK];
    if (hyla_module_weight_info(m, w, &name, &dtype, &rank, dims) != HYLA_OK ||
        rank > HYLA_MAX_RANK || hyla_dtype_size(dtype) == 0)
      __builtin_trap();
    (void)std::strlen(name);
  }
  for (int32_t f = 0; f < hyla_module_num_functions(m); ++f) {
    const char *name = hyla_module_function_name(m, f);
    if (!name || hyla_module_find_function(m, name) != f)
      __builtin_trap();
    exerciseFunction(m, f);
  }
  hyla_module_free(m);
  return 0;
}
