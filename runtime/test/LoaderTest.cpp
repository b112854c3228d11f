//===- LoaderTest.cpp - loading, verification and inspection --------------===//
//
// Everything here runs without a GPU: modules are built with the FlatBuffers
// builder (TestModules.h), loaded from memory, and checked through the C API.
//
//===----------------------------------------------------------------------===//

#include "TestModules.h"
#include "hyla/runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

using namespace hyla::testing;

namespace {

/// Owns a loaded module.
struct Loaded {
  hyla_status status = HYLA_OK;
  hyla_module *module = nullptr;
  std::string error;
  ~Loaded() { hyla_module_free(module); }
};

std::unique_ptr<Loaded> load(const std::vector<uint8_t> &bytes) {
  auto result = std::make_unique<Loaded>();
  result->status =
      hyla_module_load_memory(bytes.data(), bytes.size(), &result->module);
  if (result->status != HYLA_OK)
    result->error = hyla_last_error();
  return result;
}

std::unique_ptr<Loaded> load(const ModuleSpec &spec) {
  return load(spec.build());
}

std::string describeInput(hyla_module *m, int32_t fn, int32_t i) {
  char buf[256];
  EXPECT_EQ(hyla_function_describe_input(m, fn, i, buf, sizeof(buf)), HYLA_OK);
  return buf;
}

std::string describeOutput(hyla_module *m, int32_t fn, int32_t i) {
  char buf[256];
  EXPECT_EQ(hyla_function_describe_output(m, fn, i, buf, sizeof(buf)), HYLA_OK);
  return buf;
}

/// Calls every inspection function and a few shape queries; used on modules
/// that the fuzz-like tests manage to get accepted.
void exerciseInspection(hyla_module *m) {
  (void)hyla_module_target(m);
  (void)hyla_module_producer(m);
  (void)hyla_module_metadata(m, "vocab_size");
  for (int32_t i = 0; i < hyla_module_num_metadata(m); ++i)
    (void)hyla_module_metadata_key(m, i);
  for (int32_t k = 0; k < hyla_module_num_kernels(m); ++k) {
    uint32_t block, smem;
    size_t ptx;
    (void)hyla_module_kernel_name(m, k);
    (void)hyla_module_kernel_info(m, k, &block, &smem, &ptx);
  }
  for (int32_t w = 0; w < hyla_module_num_weights(m); ++w) {
    const char *name;
    int32_t dtype, rank;
    int64_t dims[HYLA_MAX_RANK];
    (void)hyla_module_weight_info(m, w, &name, &dtype, &rank, dims);
  }
  char buf[4096];
  for (int32_t f = 0; f < hyla_module_num_functions(m); ++f) {
    int32_t numInputs = hyla_function_num_inputs(m, f);
    int32_t numOutputs = hyla_function_num_outputs(m, f);
    int32_t numSymbols = hyla_function_num_symbols(m, f);
    for (int32_t i = 0; i < numInputs; ++i)
      (void)hyla_function_describe_input(m, f, i, buf, sizeof(buf));
    for (int32_t i = 0; i < numOutputs; ++i)
      (void)hyla_function_describe_output(m, f, i, buf, sizeof(buf));
    for (int32_t l = 0; l < hyla_function_num_launches(m, f); ++l)
      (void)hyla_function_launch_kernel(m, f, l);
    std::vector<int64_t> symbols(numSymbols, 3);
    std::vector<hyla_tensor> inputs(numInputs), outputs(numOutputs);
    if (hyla_function_input_shapes(m, f, symbols.data(), numSymbols,
                                   inputs.data()) == HYLA_OK)
      (void)hyla_function_output_shapes(m, f, inputs.data(), numInputs,
                                        outputs.data(), numOutputs);
  }
}

/// Expects `spec` to be rejected as a bad module with every word of
/// `expected` in the message.
void expectRejected(const ModuleSpec &spec,
                    std::initializer_list<const char *> expected) {
  auto loaded = load(spec);
  ASSERT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE)
      << "module was not rejected; expected a message with '"
      << *expected.begin() << "'";
  EXPECT_EQ(loaded->module, nullptr);
  for (const char *word : expected)
    EXPECT_NE(loaded->error.find(word), std::string::npos)
        << "message: " << loaded->error << "\nmissing: " << word;
}

//===----------------------------------------------------------------------===//
// A valid module and the inspection API
//===----------------------------------------------------------------------===//

TEST(Loader, ValidModuleInspection) {
  auto loaded = load(languageModelModule());
  ASSERT_EQ(loaded->status, HYLA_OK) << loaded->error;
  hyla_module *m = loaded->module;
  EXPECT_STREQ(hyla_module_target(m), "sm_90a");
  EXPECT_STREQ(hyla_module_producer(m), "hylac 0.1.0 (test)");
  EXPECT_STREQ(hyla_module_metadata(m, "vocab_size"), "100");
  EXPECT_STREQ(hyla_module_metadata(m, "model_type"), "tiny_hybrid");
  EXPECT_EQ(hyla_module_metadata(m, "missing"), nullptr);
  ASSERT_EQ(hyla_module_num_metadata(m), 3);
  EXPECT_STREQ(hyla_module_metadata_key(m, 2), "config");

  ASSERT_EQ(hyla_module_num_kernels(m), 4);
  EXPECT_STREQ(hyla_module_kernel_name(m, 2), "gemm_128x128");
  uint32_t block = 0, smem = 0;
  size_t ptx = 0;
  ASSERT_EQ(hyla_module_kernel_info(m, 2, &block, &smem, &ptx), HYLA_OK);
  EXPECT_EQ(block, 256u);
  EXPECT_EQ(smem, 98304u);
  EXPECT_EQ(ptx, languageModelModule().kernels[2].ptx.size());

  ASSERT_EQ(hyla_module_num_weights(m), 3);
  const char *name = nullptr;
  int32_t dtype = -1, rank = -1;
  int64_t dims[HYLA_MAX_RANK] = {};
  ASSERT_EQ(hyla_module_weight_info(m, 2, &name, &dtype, &rank, dims), HYLA_OK);
  EXPECT_STREQ(name, "lm_head");
  EXPECT_EQ(dtype, HYLA_BF16);
  EXPECT_EQ(rank, 2);
  EXPECT_EQ(dims[0], 16);
  EXPECT_EQ(dims[1], 100);

  ASSERT_EQ(hyla_module_num_functions(m), 2);
  EXPECT_STREQ(hyla_module_function_name(m, 1), "decode");
  EXPECT_EQ(hyla_module_find_function(m, "prefill"), 0);
  EXPECT_EQ(hyla_module_find_function(m, "decode"), 1);
  EXPECT_EQ(hyla_module_find_function(m, "nope"), -1);
  EXPECT_NE(std::string(hyla_last_error()).find("'nope'"), std::string::npos);

  EXPECT_EQ(hyla_function_num_inputs(m, 0), 2);
  EXPECT_EQ(hyla_function_num_outputs(m, 0), 2);
  EXPECT_EQ(hyla_function_num_launches(m, 0), 4);
  EXPECT_EQ(hyla_function_num_symbols(m, 0), 2);
  EXPECT_STREQ(hyla_function_symbol_name(m, 0, 1), "tokens");
  int32_t input = -1, dim = -1;
  ASSERT_EQ(hyla_function_symbol_source(m, 0, 1, &input, &dim), HYLA_OK);
  EXPECT_EQ(input, 0);
  EXPECT_EQ(dim, 1);
  EXPECT_EQ(hyla_function_launch_kernel(m, 0, 2), 2);
  EXPECT_EQ(hyla_function_launch_kernel(m, 0, 3), 3);

  EXPECT_EQ(describeInput(m, 0, 0), "i32[batch, tokens]");
  EXPECT_EQ(describeInput(m, 0, 1), "bf16[batch, 2, 16]");
  EXPECT_EQ(describeOutput(m, 0, 0), "bf16[batch, tokens, 100]");
  EXPECT_EQ(describeOutput(m, 1, 0), "bf16[batch, 100]");
}

TEST(Loader, InspectionRejectsBadIndices) {
  auto loaded = load(languageModelModule());
  ASSERT_EQ(loaded->status, HYLA_OK) << loaded->error;
  hyla_module *m = loaded->module;
  EXPECT_EQ(hyla_module_kernel_name(m, 4), nullptr);
  EXPECT_NE(std::string(hyla_last_error()).find("kernel index 4"),
            std::string::npos);
  EXPECT_EQ(hyla_module_kernel_name(m, -1), nullptr);
  EXPECT_EQ(hyla_module_function_name(m, 2), nullptr);
  EXPECT_EQ(hyla_function_num_inputs(m, 7), -1);
  EXPECT_EQ(hyla_function_symbol_name(m, 0, 2), nullptr);
  EXPECT_EQ(hyla_function_launch_kernel(m, 0, 4), -1);
  EXPECT_EQ(hyla_module_weight_info(m, 3, nullptr, nullptr, nullptr, nullptr),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(hyla_module_num_kernels(nullptr), -1);
  EXPECT_EQ(hyla_module_target(nullptr), nullptr);
  char small[4];
  EXPECT_EQ(hyla_function_describe_input(m, 0, 0, small, sizeof(small)),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(small, "i32"); // what fits is written
  hyla_module_free(nullptr);  // allowed
}

TEST(Loader, LoadFile) {
  std::vector<uint8_t> bytes = languageModelModule().build();
  std::string path = ::testing::TempDir() + "hyla_loader_test.hyla";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  }
  hyla_module *m = nullptr;
  ASSERT_EQ(hyla_module_load_file(path.c_str(), &m), HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(hyla_module_num_functions(m), 2);
  hyla_module_free(m);
  std::remove(path.c_str());

  EXPECT_EQ(hyla_module_load_file("/nonexistent/x.hyla", &m), HYLA_ERROR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(hyla_last_error()).find("/nonexistent/x.hyla"),
            std::string::npos);

  // A file that is not a module: the message names the file.
  std::string textPath = ::testing::TempDir() + "hyla_not_a_module.txt";
  {
    std::ofstream out(textPath);
    out << "this is not a hyla module, just some text\n";
  }
  EXPECT_EQ(hyla_module_load_file(textPath.c_str(), &m), HYLA_ERROR_BAD_MODULE);
  EXPECT_NE(std::string(hyla_last_error()).find(textPath), std::string::npos);
  std::remove(textPath.c_str());
}

//===----------------------------------------------------------------------===//
// Damaged files
//===----------------------------------------------------------------------===//

TEST(Loader, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = languageModelModule().build();
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + length);
    auto loaded = load(prefix);
    ASSERT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE)
        << "truncated to " << length << " of " << bytes.size() << " bytes";
    EXPECT_FALSE(loaded->error.empty());
  }
  EXPECT_EQ(hyla_module_load_memory(nullptr, 0, nullptr),
            HYLA_ERROR_INVALID_ARGUMENT);
}

TEST(Loader, FlippedBytesNeverCrash) {
  for (const ModuleSpec &spec : {languageModelModule(), elementwiseModule()}) {
    std::vector<uint8_t> bytes = spec.build();
    size_t accepted = 0, rejected = 0;
    for (size_t offset = 0; offset < bytes.size(); ++offset) {
      for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
        std::vector<uint8_t> damaged = bytes;
        damaged[offset] ^= mask;
        auto loaded = load(damaged);
        if (loaded->status == HYLA_OK) {
          ++accepted; // e.g. a changed PTX byte or name: still consistent
          exerciseInspection(loaded->module);
        } else {
          ++rejected;
          ASSERT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE)
              << "offset " << offset << ": " << loaded->error;
        }
      }
    }
    EXPECT_GT(rejected, 0u);
    EXPECT_GT(accepted, 0u);
  }
}

TEST(Loader, RejectsWrongIdentifier) {
  std::vector<uint8_t> bytes = languageModelModule().build();
  std::memcpy(bytes.data() + 4, "ABCD", 4);
  auto loaded = load(bytes);
  ASSERT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE);
  EXPECT_NE(loaded->error.find("file identifier is 'ABCD'"), std::string::npos)
      << loaded->error;
  EXPECT_NE(loaded->error.find("'HYLA'"), std::string::npos);
}

TEST(Loader, RejectsOtherVersions) {
  ModuleSpec spec = languageModelModule();
  spec.version = 3;
  auto loaded = load(spec);
  ASSERT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE);
  EXPECT_NE(loaded->error.find("version 3"), std::string::npos)
      << loaded->error;
  EXPECT_NE(loaded->error.find("reads version 2"), std::string::npos)
      << loaded->error;

  spec.version = 0; // absent field
  expectRejected(spec, {"version 0"});
  // Version 1 modules lack the tensor maps some kernels now take.
  spec.version = 1;
  expectRejected(spec, {"version 1"});
}

TEST(Loader, RejectsGarbageAndEmpty) {
  std::vector<uint8_t> zeros(64, 0);
  auto loaded = load(zeros);
  EXPECT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE);
  std::vector<uint8_t> empty;
  loaded = load(empty);
  EXPECT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE);
  EXPECT_NE(loaded->error.find("0 bytes"), std::string::npos);
  // Right identifier, root offset pointing past the end.
  std::vector<uint8_t> badRoot = {0xff, 0xff, 0, 0, 'H', 'Y', 'L', 'A',
                                  0,    0,    0, 0, 0,   0,   0,   0};
  loaded = load(badRoot);
  EXPECT_EQ(loaded->status, HYLA_ERROR_BAD_MODULE);
  EXPECT_NE(loaded->error.find("root table"), std::string::npos)
      << loaded->error;
}

//===----------------------------------------------------------------------===//
// Semantic validation: one case per rule
//===----------------------------------------------------------------------===//

/// Applies `edit` to a copy of the language-model module and expects it to
/// be rejected with the given words in the message.
void rejectEdit(const std::function<void(ModuleSpec &)> &edit,
                std::initializer_list<const char *> expected) {
  ModuleSpec spec = languageModelModule();
  edit(spec);
  expectRejected(spec, expected);
}

TEST(Validate, LaunchKernelOutOfRange) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].launches[3].kernel = 9; },
             {"function 'prefill' launch 3", "kernel 9", "4 kernels"});
}

TEST(Validate, LaunchGridNeedsThreeExprs) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].launches[1].grid.pop_back(); },
             {"launch 1", "2 grid expressions", "exactly 3"});
  rejectEdit(
      [](ModuleSpec &m) { m.functions[0].launches[1].grid.push_back(1); },
      {"launch 1", "4 grid expressions"});
}

TEST(Validate, LaunchArgCount) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].launches[0].args.pop_back(); },
             {"launch 0", "2 args", "3 params"});
}

TEST(Validate, LaunchArgBufferOutOfRange) {
  rejectEdit(
      [](ModuleSpec &m) { m.functions[0].launches[2].args[2] = 17; },
      {"function 'prefill' launch 2", "arg 2 is buffer 17", "11 buffers"});
}

TEST(Validate, LaunchArgRankMismatch) {
  // Kernel 'embed' param 2 has rank 3; buffer 7 has rank 2.
  rejectEdit([](ModuleSpec &m) { m.functions[0].launches[0].args[2] = 7; },
             {"launch 0", "arg 2 is buffer 7 of rank 2", "has rank 3"});
}

TEST(Validate, LaunchArgDTypeMismatch) {
  rejectEdit(
      [](ModuleSpec &m) { m.functions[0].buffers[7].dtype = fb::DType::F32; },
      {"launch 1", "arg 2 is buffer 7 of dtype f32", "is bf16"});
}

TEST(Validate, ParamDynamicDims) {
  rejectEdit([](ModuleSpec &m) { m.kernels[1].params[0].dynamicDims = {2}; },
             {"kernel 1 ('rmsnorm') param 0", "dynamic dim 2", "rank 2"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.kernels[0].params[0].dynamicDims = {1, 0};
      },
      {"kernel 0 ('embed') param 0", "strictly increasing"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.kernels[0].params[0].dynamicDims = {1, 1};
      },
      {"strictly increasing"});
}

TEST(Validate, ParamRankAndDType) {
  rejectEdit([](ModuleSpec &m) { m.kernels[1].params[1].rank = 9; },
             {"kernel 1 ('rmsnorm') param 1", "rank 9", "maximum 8"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.kernels[1].params[1].dtype = static_cast<fb::DType>(7);
      },
      {"param 1", "unknown dtype 7"});
}

TEST(Validate, TensorMaps) {
  // Kernel 1 ('rmsnorm') param 0 is 2-D bf16: give it a tensor map and
  // break one rule at a time.
  auto withMap = [](std::vector<uint32_t> box, uint32_t swizzle,
                    fb::DType dtype = fb::DType::BF16) {
    return [=](ModuleSpec &m) {
      ParamSpec &p = m.kernels[1].params[0];
      p.dtype = dtype;
      p.tensorMap = true;
      p.tensorMapBox = box;
      p.tensorMapSwizzle = swizzle;
    };
  };
  rejectEdit(withMap({64}, 128),
             {"kernel 1 ('rmsnorm') param 0", "tensor map box has 1 entries",
              "rank 2"});
  rejectEdit(withMap({}, 128), {"tensor map box has 0 entries"});
  rejectEdit(withMap({300, 64}, 128), {"box entry 300", "1..256"});
  rejectEdit(withMap({0, 64}, 128), {"box entry 0", "1..256"});
  rejectEdit(withMap({64, 64}, 48), {"swizzle 48", "0, 32, 64 or 128"});
  rejectEdit(withMap({64, 128}, 128),
             {"box rows of 256 bytes", "at most 128 (the swizzle)"});
  rejectEdit(withMap({64, 4}, 0), {"box rows of 8 bytes", "multiple of 16"});
  rejectEdit(withMap({64, 16}, 0, fb::DType::F64),
             {"tensor map of f64 elements", "2- and 4-byte"});
}

TEST(Validate, InputPositions) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[1].index = 5; },
             {"function 'prefill' buffer 1 (input)", "claims to be input 5"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].inputs = {0, 0};
      },
      {"buffer 1 (input)", "claims to be input 1"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].inputs = {0, 1, 5};
      },
      {"function 'prefill' input 2", "is buffer 5", "temporary"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].inputs = {0, 1, 99};
      },
      {"input 2", "is buffer 99", "11 buffers"});
}

TEST(Validate, OutputPositions) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[10].index = 0; },
             {"buffer 10 (output)", "claims to be output 0"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].outputs = {8}; },
             {"buffer 10 (output)", "claims to be output 1"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].outputs = {8, 10, 2};
      },
      {"output 2", "is buffer 2", "weight"});
}

TEST(Validate, InPlaceOutputs) {
  // An output may be an input buffer (updated in place)...
  std::vector<uint8_t> bytes = inPlaceModule().build();
  hyla_module *module = nullptr;
  ASSERT_EQ(hyla_module_load_memory(bytes.data(), bytes.size(), &module),
            HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(hyla_function_output_tied_input(module, 0, 0), 0);
  hyla_module_free(module);
  // ...but not a temporary or a weight, and an output buffer still has to
  // be listed at its own position.
  rejectEdit([](ModuleSpec &m) { m.functions[0].outputs = {8, 10, 5}; },
             {"output 2", "is buffer 5", "temporary"});
}

TEST(Validate, SizeChecks) {
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].checks.push_back({Expr::sym(5), Expr::sym(0), "x"});
      },
      {"function 'prefill' check 0 a", "symbol"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].checks.push_back({Expr::sym(0), Expr(), "x"});
      },
      {"function 'prefill' check 0 b"});
}

TEST(Validate, ValueChecks) {
  auto add = [](ValueCheckSpec check) {
    return [check](ModuleSpec &m) {
      m.functions[0].valueChecks.push_back(check);
    };
  };
  using fb::ValueCheckKind;
  rejectEdit(add({5, ValueCheckKind::Below, Expr(4), {}, false, "x"}),
             {"function 'prefill' value check 0", "reads input 5",
              "2 inputs"});
  rejectEdit(add({1, ValueCheckKind::Below, Expr(4), {}, false, "x"}),
             {"value check 0", "input 1 of dtype bf16", "i32 or i64"});
  rejectEdit(add({0, ValueCheckKind::Below, Expr::sym(7), {}, false, "x"}),
             {"value check 0 bound", "symbol"});
  rejectEdit(add({0, ValueCheckKind::Below, Expr(4), Expr(2), false, "x"}),
             {"value check 0", "step but is not an Offsets check"});
  rejectEdit(add({0, ValueCheckKind::Offsets, Expr(4), Expr(), false, "x"}),
             {"value check 0 step"});
  rejectEdit(add({0, static_cast<ValueCheckKind>(7), Expr(4), {}, false, "x"}),
             {"value check 0", "unknown kind 7"});
  // A valid one loads.
  ModuleSpec spec = languageModelModule();
  add({0, ValueCheckKind::Below, Expr(100), {}, false, "ids"})(spec);
  std::vector<uint8_t> bytes = spec.build();
  hyla_module *module = nullptr;
  ASSERT_EQ(hyla_module_load_memory(bytes.data(), bytes.size(), &module),
            HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(hyla_function_num_value_checks(module, 0), 1);
  hyla_module_free(module);
}

TEST(Validate, WeightBuffers) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[2].index = 7; },
             {"buffer 2 (weight)", "is weight 7", "3 weights"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[2].dims = {Expr::sym(0), 16};
      },
      {"buffer 2 (weight)", "dim 0", "must be a constant"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[2].dims = {99, 16};
      },
      {"buffer 2 (weight)", "dim 0 is 99", "'embed_tokens' has 100"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[2].dims = {100}; },
             {"buffer 2 (weight)", "rank 1", "rank 2"});
  rejectEdit(
      [](ModuleSpec &m) { m.functions[0].buffers[2].dtype = fb::DType::F16; },
      {"buffer 2 (weight)", "dtype f16", "is bf16"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[2].dims = {floorDiv(100, 0), 16};
      },
      {"buffer 2 (weight) dim 0", "division by zero"});
}

TEST(Validate, Weights) {
  rejectEdit([](ModuleSpec &m) { m.weights[1].name = ""; },
             {"weight 1", "name is empty"});
  rejectEdit([](ModuleSpec &m) { m.weights[2].name = "norm.weight"; },
             {"weight 2 ('norm.weight')", "already exists"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.weights[0].shape = {100, -16};
      },
      {"weight 0 ('embed_tokens')", "dim 1 is negative"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.weights[0].shape = {int64_t(1) << 40, int64_t(1) << 40};
      },
      {"weight 0", "overflows"});
  rejectEdit(
      [](ModuleSpec &m) { m.weights[0].dtype = static_cast<fb::DType>(200); },
      {"weight 0", "unknown dtype 200"});
  rejectEdit(
      [](ModuleSpec &m) { m.weights[0].shape = {1, 1, 1, 1, 1, 1, 1, 1, 1}; },
      {"weight 0", "rank 9"});
}

TEST(Validate, Views) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[6].index = 6; },
             {"buffer 6 (view)", "view of buffer 6", "earlier buffer"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].buffers[6].index = 9; },
             {"buffer 6 (view)", "view of buffer 9"});
}

TEST(Validate, Symbols) {
  rejectEdit([](ModuleSpec &m) { m.functions[0].symbols[1].input = 5; },
             {"symbol 1 ('tokens')", "reads input 5", "2 inputs"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].symbols[1].dim = 7; },
             {"symbol 1 ('tokens')", "reads dim 7 of input 0", "rank 2"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].symbols[1].name = ""; },
             {"symbol 1", "name is empty"});
  rejectEdit([](ModuleSpec &m) { m.functions[0].symbols[1].name = "batch"; },
             {"symbol 1 ('batch')", "already exists"});
}

TEST(Validate, SizeExpressions) {
  auto setDim = [](Expr e) {
    return [e](ModuleSpec &m) { m.functions[0].buffers[5].dims[2] = e; };
  };
  rejectEdit(setDim(Expr::raw({})),
             {"buffer 5 (temporary) dim 2", "size expression is empty"});
  rejectEdit(setDim(Expr::raw({{0, 1}, {2, 0}})),
             {"buffer 5 (temporary) dim 2", "instruction 1 (add)",
              "needs two operands"});
  rejectEdit(setDim(Expr::raw({{0, 1}, {0, 2}})),
             {"leaves 2 values on the stack"});
  rejectEdit(setDim(Expr::sym(5)),
             {"instruction 0 reads symbol 5", "2 symbols"});
  rejectEdit(setDim(Expr::sym(-1)), {"reads symbol -1"});
  rejectEdit(setDim(Expr::raw({{0, 1}, {0, 2}, {42, 0}})),
             {"instruction 2 has unknown opcode 42"});
  std::vector<std::pair<uint8_t, int64_t>> longProgram(1025, {0, 1});
  rejectEdit(setDim(Expr::raw(longProgram)), {"1025 instructions"});
  std::vector<std::pair<uint8_t, int64_t>> deep(65, {0, 1});
  for (int i = 0; i < 64; ++i)
    deep.push_back({2, 0});
  rejectEdit(setDim(Expr::raw(deep)), {"stack deeper than 64"});
  // Grid expressions are checked too.
  rejectEdit(
      [](ModuleSpec &m) { m.functions[1].launches[1].grid[0] = Expr::sym(1); },
      {"function 'decode' launch 1", "grid x", "reads symbol 1"});
}

TEST(Validate, BuffersRankKindDType) {
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[7].dims = {1, 1, 1, 1, 1, 1, 1, 1, 1};
      },
      {"buffer 7 (temporary)", "rank 9", "maximum 8"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[7].kind = static_cast<fb::BufferKind>(7);
      },
      {"buffer 7", "unknown kind 7"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.functions[0].buffers[7].dtype = static_cast<fb::DType>(9);
      },
      {"buffer 7 (temporary)", "unknown dtype 9"});
}

TEST(Validate, Kernels) {
  rejectEdit([](ModuleSpec &m) { m.kernels[2].ptx = ""; },
             {"kernel 2 ('gemm_128x128')", "has no PTX"});
  rejectEdit([](ModuleSpec &m) { m.kernels[2].ptx = std::string("ab\0c", 4); },
             {"kernel 2", "NUL"});
  rejectEdit([](ModuleSpec &m) { m.kernels[2].blockDim = 0; },
             {"kernel 2 ('gemm_128x128')", "block_dim is 0", "1..1024"});
  rejectEdit([](ModuleSpec &m) { m.kernels[2].blockDim = 1025; },
             {"block_dim is 1025"});
  rejectEdit([](ModuleSpec &m) { m.kernels[2].name = ""; },
             {"kernel 2", "name is empty"});
}

TEST(Validate, FunctionsAndModule) {
  rejectEdit([](ModuleSpec &m) { m.functions[1].name = ""; },
             {"function 1", "name is empty"});
  rejectEdit([](ModuleSpec &m) { m.functions[1].name = "prefill"; },
             {"function 'prefill'", "already exists"});
  rejectEdit([](ModuleSpec &m) { m.target = ""; }, {"target is empty"});
  rejectEdit(
      [](ModuleSpec &m) {
        m.metadata.push_back({"", "x"});
      },
      {"metadata entry 3", "key is empty"});
}

TEST(Validate, MinimalModulesAreFine) {
  ModuleSpec empty;
  auto loaded = load(empty); // no kernels, weights or functions
  EXPECT_EQ(loaded->status, HYLA_OK) << loaded->error;
  ModuleSpec scalar = empty; // a rank-0 output and a kernel without params
  scalar.kernels = {{"k", "x", {}, 1, 0, {{fb::DType::F64, 0, {}}}}};
  FunctionSpec f;
  f.name = "f";
  f.buffers = {{fb::BufferKind::Output, 0, fb::DType::F64, {}}};
  f.outputs = {0};
  f.launches = {{0, {1, 1, 1}, {0}}};
  scalar.functions = {f};
  loaded = load(scalar);
  ASSERT_EQ(loaded->status, HYLA_OK) << loaded->error;
  EXPECT_EQ(describeOutput(loaded->module, 0, 0), "f64[]");
}

//===----------------------------------------------------------------------===//
// Small API functions
//===----------------------------------------------------------------------===//

TEST(Api, StatusStringsAndDTypeSizes) {
  EXPECT_STREQ(hyla_status_string(HYLA_OK), "ok");
  EXPECT_STREQ(hyla_status_string(HYLA_ERROR_NO_GPU), "no GPU");
  EXPECT_STREQ(hyla_status_string(HYLA_ERROR_UNSUPPORTED), "unsupported");
  EXPECT_EQ(hyla_dtype_size(HYLA_BF16), 2u);
  EXPECT_EQ(hyla_dtype_size(HYLA_F16), 2u);
  EXPECT_EQ(hyla_dtype_size(HYLA_F32), 4u);
  EXPECT_EQ(hyla_dtype_size(HYLA_F64), 8u);
  EXPECT_EQ(hyla_dtype_size(HYLA_I32), 4u);
  EXPECT_EQ(hyla_dtype_size(HYLA_I64), 8u);
  EXPECT_EQ(hyla_dtype_size(HYLA_I8), 1u);
  EXPECT_EQ(hyla_dtype_size(7), 0u);
  EXPECT_EQ(hyla_dtype_size(-1), 0u);
}

TEST(Api, LastErrorIsPerThread) {
  hyla_module *m = nullptr;
  ASSERT_NE(hyla_module_load_memory("nope", 4, &m), HYLA_OK);
  std::string mine = hyla_last_error();
  EXPECT_FALSE(mine.empty());
  std::string other = "unset";
  std::thread([&] { other = hyla_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(std::string(hyla_last_error()), mine);
}

TEST(Api, PrepareWithoutGpu) {
  if (access("/dev/nvidiactl", F_OK) == 0 || getenv("HYLA_LIBCUDA"))
    GTEST_SKIP() << "a CUDA driver may be present; this test is for "
                    "machines without one";
  auto loaded = load(elementwiseModule());
  ASSERT_EQ(loaded->status, HYLA_OK) << loaded->error;
  hyla_status status = hyla_module_prepare(loaded->module, 0);
  std::string message = hyla_last_error();
  EXPECT_EQ(status, HYLA_ERROR_NO_GPU) << message;
  EXPECT_NE(message.find("libcuda.so.1"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot run hyla modules"), std::string::npos);
  // Execution entry points say that the module is not prepared.
  EXPECT_EQ(hyla_synchronize(loaded->module), HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(hyla_last_error()).find("hyla_module_prepare"),
            std::string::npos);
  hyla_tensor out{};
  EXPECT_EQ(hyla_function_call(loaded->module, 1, nullptr, 0, &out, 1, nullptr),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(hyla_module_init_random_weights(loaded->module, 1, 0.02f),
            HYLA_ERROR_INVALID_ARGUMENT);
  // Binding a weight needs no GPU; a wrong name is reported.
  int dummy;
  EXPECT_EQ(hyla_module_bind_weight(loaded->module, "bias", &dummy), HYLA_OK);
  EXPECT_EQ(hyla_module_bind_weight(loaded->module, "nope", &dummy),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(hyla_last_error()).find("no weight named 'nope'"),
            std::string::npos);
}

} // namespace
