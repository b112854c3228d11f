//===- make_test_modules.cpp - write the test modules to a directory ------===//
//
// Usage: hyla-make-test-modules OUTDIR
// Writes a few valid modules (see TestModules.h). They seed the fuzzer's
// corpus and are the inputs of hyla-run's and the Python wrapper's tests.
//
//===----------------------------------------------------------------------===//

#include "TestModules.h"

#include <cstdio>
#include <fstream>
#include <string>

using namespace hyla::testing;

namespace {

bool writeModule(const std::string &dir, const char *name,
                 const ModuleSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "hyla-make-test-modules: cannot write %s\n",
                 path.c_str());
    return false;
  }
  return true;
}

bool writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out)
    std::fprintf(stderr, "hyla-make-test-modules: cannot write %s\n",
                 path.c_str());
  return static_cast<bool>(out);
}

/// A 2-D C-order .npy file (version 1.0) of 4-byte elements.
template <typename T>
bool writeNpy2D(const std::string &path, const char *descr, int rows, int cols,
                const std::vector<T> &values) {
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::vector<uint8_t> bytes = {0x93,
                                'N',
                                'U',
                                'M',
                                'P',
                                'Y',
                                1,
                                0,
                                static_cast<uint8_t>(header.size() & 0xff),
                                static_cast<uint8_t>(header.size() >> 8)};
  bytes.insert(bytes.end(), header.begin(), header.end());
  const auto *data = reinterpret_cast<const uint8_t *>(values.data());
  bytes.insert(bytes.end(), data, data + values.size() * sizeof(T));
  return writeFile(path, bytes);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 1;
  }
  std::string dir = argv[1];

  ModuleSpec withCubin = languageModelModule();
  withCubin.kernels[0].cubin = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};

  // The smallest useful module: one kernel, one function, no symbols.
  ModuleSpec minimal;
  minimal.kernels = {{"noop",
                      ".version 8.0\n.target sm_90a\n",
                      {},
                      32,
                      0,
                      {{fb::DType::F32, 1, {}}}}};
  FunctionSpec fill;
  fill.name = "main";
  fill.buffers = {{fb::BufferKind::Output, 0, fb::DType::F32, {16}}};
  fill.outputs = {0};
  fill.launches = {{0, {1, 1, 1}, {0}}};
  minimal.functions = {fill};

  bool ok = writeModule(dir, "elementwise.hyla", elementwiseModule()) &&
            writeModule(dir, "lm.hyla", languageModelModule()) &&
            writeModule(dir, "lm_cubin.hyla", withCubin) &&
            writeModule(dir, "minimal.hyla", minimal) &&
            writeModule(dir, "in_place.hyla", inPlaceModule()) &&
            writeModule(dir, "value_checks.hyla", valueCheckModule());

  // 8 GiB of bf16 weights (the file is small: weights are only declared),
  // for timing hyla_module_init_random_weights on a GPU machine.
  ModuleSpec bigWeights;
  bigWeights.producer = "hyla-test big weights";
  for (int i = 0; i < 16; ++i)
    bigWeights.weights.push_back(
        {"layer" + std::to_string(i) + ".w", fb::DType::BF16, {8192, 32768}});
  bigWeights.weights.push_back({"norm", fb::DType::BF16, {32768}});
  ok = ok && writeModule(dir, "big_weights.hyla", bigWeights);

  // For hyla-run's tests: a module cut in half, and input files.
  std::vector<uint8_t> lm = languageModelModule().build();
  lm.resize(lm.size() / 2);
  ok = ok && writeFile(dir + "/truncated.hyla", lm);
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i)
    x[i] = static_cast<float>(i);
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  ok = ok && writeNpy2D(dir + "/x_f32.npy", "<f4", 3, 4, x) &&
       writeNpy2D(dir + "/x_f32_4x3.npy", "<f4", 4, 3, x) &&
       writeNpy2D(dir + "/ids_i32.npy", "<i4", 3, 4, ids);
  return ok ? 0 : 1;
}
