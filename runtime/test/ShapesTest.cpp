//===- ShapesTest.cpp - size expressions, symbol binding, shape checks ----===//

#include "Errors.h"
#include "ModuleDesc.h"
#include "Shapes.h"
#include "SizeExpr.h"
#include "TestModules.h"
#include "hyla/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace hyla::testing;

namespace {

hyla::SizeExpr toExpr(const Expr &e) {
  hyla::SizeExpr result;
  for (const fb::ExprInst &inst : e.code)
    result.code.push_back({static_cast<uint8_t>(inst.op()), inst.value()});
  return result;
}

/// Evaluates `e` with `symbols`; returns the error text ("" if none).
std::string evaluate(const Expr &e, std::vector<int64_t> symbols,
                     int64_t &value) {
  hyla::SizeExpr expr = toExpr(e);
  EXPECT_EQ(hyla::checkSizeExpr(expr, symbols.size()), "");
  return hyla::evaluateSizeExpr(expr, symbols.data(), value);
}

int64_t value(const Expr &e, std::vector<int64_t> symbols = {}) {
  int64_t result = -999;
  std::string error = evaluate(e, std::move(symbols), result);
  EXPECT_EQ(error, "");
  return result;
}

std::string error(const Expr &e, std::vector<int64_t> symbols = {}) {
  int64_t result = 0;
  return evaluate(e, std::move(symbols), result);
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(SizeExpr, Arithmetic) {
  Expr n = Expr::sym(0), m = Expr::sym(1);
  EXPECT_EQ(value(n * 4 + 1, {10}), 41);
  EXPECT_EQ(value(n - m, {3, 5}), -2);
  EXPECT_EQ(value(min(n, m), {3, 5}), 3);
  EXPECT_EQ(value(max(n, m), {3, 5}), 5);
  EXPECT_EQ(value(ceilDiv(7, 2)), 4);
  EXPECT_EQ(value(ceilDiv(8, 2)), 4);
  EXPECT_EQ(value(ceilDiv(0, 64)), 0);
  EXPECT_EQ(value(ceilDiv(n, 64), {65}), 2);
  EXPECT_EQ(value(ceilDiv(-7, 2)), -3); // rounds toward +infinity
  EXPECT_EQ(value(floorDiv(7, 2)), 3);
  EXPECT_EQ(value(floorDiv(-7, 2)), -4); // rounds toward -infinity
  EXPECT_EQ(value(rem(7, 3)), 1);
  EXPECT_EQ(value(rem(-7, 3)), 2); // floor remainder: in [0, b)
  EXPECT_EQ(value(ceilDiv(kMax, 1)), kMax);
  EXPECT_EQ(value(ceilDiv(kMax, 2)), kMax / 2 + 1);
  EXPECT_EQ(value(floorDiv(kMin, 2)), kMin / 2);
}

TEST(SizeExpr, ArithmeticErrors) {
  EXPECT_NE(error(Expr(kMax) + 1).find("overflow in"), std::string::npos);
  EXPECT_NE(error(Expr(kMin) - 1).find("overflow"), std::string::npos);
  EXPECT_NE(error(Expr::sym(0) * Expr::sym(0), {int64_t(1) << 32})
                .find("overflow in 4294967296 * 4294967296"),
            std::string::npos);
  EXPECT_NE(error(ceilDiv(5, 0)).find("division by zero in ceildiv(5, 0)"),
            std::string::npos);
  EXPECT_NE(error(floorDiv(5, 0)).find("division by zero"), std::string::npos);
  EXPECT_NE(error(rem(5, 0)).find("division by zero"), std::string::npos);
  EXPECT_NE(error(floorDiv(5, -1)).find("non-positive divisor"),
            std::string::npos);
  EXPECT_NE(error(ceilDiv(kMin, -1)).find("non-positive divisor"),
            std::string::npos);
}

TEST(SizeExpr, Formatting) {
  std::vector<std::string> names = {"batch", "tokens"};
  Expr b = Expr::sym(0), t = Expr::sym(1);
  auto text = [&](const Expr &e) {
    return hyla::formatSizeExpr(toExpr(e), names);
  };
  EXPECT_EQ(text(b * t), "batch * tokens");
  EXPECT_EQ(text((b + 1) * t), "(batch + 1) * tokens");
  EXPECT_EQ(text(b - (t - 1)), "batch - (tokens - 1)");
  EXPECT_EQ(text(b - t - 1), "batch - tokens - 1");
  EXPECT_EQ(text(ceilDiv(t, 64)), "ceildiv(tokens, 64)");
  EXPECT_EQ(text(floorDiv(b * t, 2)), "batch * tokens // 2");
  EXPECT_EQ(text(floorDiv(b, t * 2)), "batch // (tokens * 2)");
  EXPECT_EQ(text(rem(b + t, 3)), "(batch + tokens) % 3");
  EXPECT_EQ(text(max(b, 1)), "max(batch, 1)");
  EXPECT_EQ(text(Expr(3840)), "3840");
}

TEST(SizeExpr, Checking) {
  EXPECT_EQ(hyla::checkSizeExpr(toExpr(Expr::sym(1) + 2), 2), "");
  EXPECT_NE(hyla::checkSizeExpr(toExpr(Expr::sym(2)), 2), "");
  EXPECT_NE(hyla::checkSizeExpr(toExpr(Expr::raw({{4, 0}})), 0), "");
  EXPECT_TRUE(hyla::isConstantExpr(toExpr(Expr(3) * 4)));
  EXPECT_FALSE(hyla::isConstantExpr(toExpr(Expr::sym(0) * 4)));
}

//===----------------------------------------------------------------------===//
// Shapes through the C API
//===----------------------------------------------------------------------===//

struct ModuleFixture : ::testing::Test {
  hyla_module *module = nullptr;
  void SetUp() override { loadSpec(languageModelModule()); }
  void TearDown() override { hyla_module_free(module); }
  void loadSpec(const ModuleSpec &spec) {
    hyla_module_free(module);
    module = nullptr;
    std::vector<uint8_t> bytes = spec.build();
    ASSERT_EQ(hyla_module_load_memory(bytes.data(), bytes.size(), &module),
              HYLA_OK)
        << hyla_last_error();
  }
};

hyla_tensor tensor(int32_t dtype, std::vector<int64_t> dims) {
  hyla_tensor t{};
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d)
    t.dims[d] = dims[d];
  return t;
}

TEST_F(ModuleFixture, InputShapesFromSymbols) {
  int64_t symbols[2] = {2, 5};
  hyla_tensor inputs[2];
  ASSERT_EQ(hyla_function_input_shapes(module, 0, symbols, 2, inputs), HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(inputs[0].dtype, HYLA_I32);
  EXPECT_EQ(inputs[0].rank, 2);
  EXPECT_EQ(inputs[0].dims[0], 2);
  EXPECT_EQ(inputs[0].dims[1], 5);
  EXPECT_EQ(inputs[0].data, nullptr);
  EXPECT_EQ(inputs[1].dtype, HYLA_BF16);
  EXPECT_EQ(inputs[1].rank, 3);
  EXPECT_EQ(inputs[1].dims[0], 2);
  EXPECT_EQ(inputs[1].dims[1], 2);
  EXPECT_EQ(inputs[1].dims[2], 16);

  EXPECT_EQ(hyla_function_input_shapes(module, 0, symbols, 1, inputs),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(hyla_last_error()).find("2 symbols, but 1"),
            std::string::npos);
  int64_t negative[2] = {2, -1};
  EXPECT_EQ(hyla_function_input_shapes(module, 0, negative, 2, inputs),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(hyla_last_error()).find("'tokens' is -1"),
            std::string::npos);
}

TEST_F(ModuleFixture, OutputShapesBindSymbols) {
  hyla_tensor inputs[2] = {tensor(HYLA_I32, {3, 7}),
                           tensor(HYLA_BF16, {3, 2, 16})};
  hyla_tensor outputs[2];
  ASSERT_EQ(hyla_function_output_shapes(module, 0, inputs, 2, outputs, 2),
            HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(outputs[0].dtype, HYLA_BF16);
  ASSERT_EQ(outputs[0].rank, 3);
  EXPECT_EQ(outputs[0].dims[0], 3);
  EXPECT_EQ(outputs[0].dims[1], 7);
  EXPECT_EQ(outputs[0].dims[2], 100);
  ASSERT_EQ(outputs[1].rank, 3);
  EXPECT_EQ(outputs[1].dims[0], 3);

  // Zero-size dims are legal.
  hyla_tensor empty[2] = {tensor(HYLA_I32, {0, 7}),
                          tensor(HYLA_BF16, {0, 2, 16})};
  ASSERT_EQ(hyla_function_output_shapes(module, 0, empty, 2, outputs, 2),
            HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(outputs[0].dims[0], 0);
}

TEST_F(ModuleFixture, SizeChecksRunBeforeAnything) {
  // Input 1's batch dim gets a symbol of its own, required to equal batch.
  ModuleSpec spec = languageModelModule();
  FunctionSpec &f = spec.functions[0];
  f.symbols.push_back({"cache_rows", 1, 0});
  f.buffers[1].dims[0] = Expr::sym(2);
  f.checks.push_back({Expr::sym(2), Expr::sym(0), "dim 0 of input 1"});
  loadSpec(spec);
  EXPECT_EQ(hyla_function_num_checks(module, 0), 1);
  char text[256];
  ASSERT_EQ(hyla_function_describe_check(module, 0, 0, text, sizeof(text)),
            HYLA_OK);
  EXPECT_EQ(std::string(text), "cache_rows == batch (dim 0 of input 1)");
  EXPECT_EQ(hyla_function_describe_check(module, 0, 1, text, sizeof(text)),
            HYLA_ERROR_INVALID_ARGUMENT);

  hyla_tensor good[2] = {tensor(HYLA_I32, {2, 7}),
                         tensor(HYLA_BF16, {2, 2, 16})};
  hyla_tensor outputs[2];
  EXPECT_EQ(hyla_function_output_shapes(module, 0, good, 2, outputs, 2),
            HYLA_OK)
      << hyla_last_error();
  hyla_tensor bad[2] = {tensor(HYLA_I32, {2, 7}),
                        tensor(HYLA_BF16, {3, 2, 16})};
  EXPECT_EQ(hyla_function_output_shapes(module, 0, bad, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error())
                .find("function 'prefill': cache_rows = 3 must equal batch "
                      "= 2 (dim 0 of input 1)"),
            std::string::npos)
      << hyla_last_error();
}

TEST_F(ModuleFixture, MismatchedInputDimNamesInputAndDim) {
  hyla_tensor inputs[2] = {tensor(HYLA_I32, {2, 7}),
                           tensor(HYLA_BF16, {3, 2, 16})};
  hyla_tensor outputs[2];
  ASSERT_EQ(hyla_function_output_shapes(module, 0, inputs, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  std::string message = hyla_last_error();
  EXPECT_NE(message.find("function 'prefill' input 1 dim 0 is 3 but the "
                         "function expects 2 (batch, with batch=2, tokens=7)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("input 1 must be bf16[batch, 2, 16]"),
            std::string::npos)
      << message;

  inputs[1] = tensor(HYLA_BF16, {2, 2, 15});
  ASSERT_EQ(hyla_function_output_shapes(module, 0, inputs, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  message = hyla_last_error();
  EXPECT_NE(message.find("input 1 dim 2 is 15 but the function expects 16"),
            std::string::npos)
      << message;
}

TEST_F(ModuleFixture, WrongDTypeRankOrCount) {
  hyla_tensor outputs[2];
  hyla_tensor wrongDType[2] = {tensor(HYLA_I64, {2, 7}),
                               tensor(HYLA_BF16, {2, 2, 16})};
  EXPECT_EQ(hyla_function_output_shapes(module, 0, wrongDType, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error())
                .find("input 0 has dtype i64 but the function expects "
                      "i32[batch, tokens]"),
            std::string::npos)
      << hyla_last_error();

  hyla_tensor wrongRank[2] = {tensor(HYLA_I32, {2, 7, 1}),
                              tensor(HYLA_BF16, {2, 2, 16})};
  EXPECT_EQ(hyla_function_output_shapes(module, 0, wrongRank, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error()).find("input 0 has rank 3"),
            std::string::npos);

  hyla_tensor badRank[2] = {tensor(HYLA_I32, {2, 7}), tensor(HYLA_BF16, {})};
  badRank[1].rank = 1000;
  EXPECT_EQ(hyla_function_output_shapes(module, 0, badRank, 2, outputs, 2),
            HYLA_ERROR_SHAPE);

  EXPECT_EQ(hyla_function_output_shapes(module, 0, wrongDType, 1, outputs, 2),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(hyla_last_error()).find("takes 2 inputs, but 1"),
            std::string::npos);
  EXPECT_EQ(hyla_function_output_shapes(module, 0, wrongDType, 2, outputs, 1),
            HYLA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(hyla_function_output_shapes(module, 0, nullptr, 2, outputs, 2),
            HYLA_ERROR_INVALID_ARGUMENT);

  hyla_tensor negative[2] = {tensor(HYLA_I32, {-2, 7}),
                             tensor(HYLA_BF16, {2, 2, 16})};
  EXPECT_EQ(hyla_function_output_shapes(module, 0, negative, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error()).find("is negative"),
            std::string::npos);
}

TEST_F(ModuleFixture, SizeOverflowIsAShapeError) {
  hyla_tensor inputs[2] = {
      tensor(HYLA_I32, {int64_t(1) << 40, int64_t(1) << 30}),
      tensor(HYLA_BF16, {int64_t(1) << 40, 2, 16})};
  hyla_tensor outputs[2];
  EXPECT_EQ(hyla_function_output_shapes(module, 0, inputs, 2, outputs, 2),
            HYLA_ERROR_SHAPE);
  std::string message = hyla_last_error();
  EXPECT_NE(message.find("overflow"), std::string::npos) << message;
  EXPECT_NE(message.find("function 'prefill' buffer"), std::string::npos)
      << message;
}

TEST_F(ModuleFixture, DerivedDimsAndNegativeSizes) {
  // out: f32[n - 4]; the input is f32[n, 2 * n] (dim 1 derived from n).
  ModuleSpec spec;
  spec.kernels = {{"k",
                   "x",
                   {},
                   32,
                   0,
                   {{fb::DType::F32, 2, {0, 1}}, {fb::DType::F32, 1, {0}}}}};
  Expr n = Expr::sym(0);
  FunctionSpec f;
  f.name = "f";
  f.symbols = {{"n", 0, 0}};
  f.buffers = {{fb::BufferKind::Input, 0, fb::DType::F32, {n, n * 2}},
               {fb::BufferKind::Output, 0, fb::DType::F32, {n - 4}}};
  f.inputs = {0};
  f.outputs = {1};
  f.launches = {{0, {ceilDiv(n, 32), 1, 1}, {0, 1}}};
  spec.functions = {f};
  loadSpec(spec);

  hyla_tensor input = tensor(HYLA_F32, {6, 12});
  hyla_tensor output;
  ASSERT_EQ(hyla_function_output_shapes(module, 0, &input, 1, &output, 1),
            HYLA_OK)
      << hyla_last_error();
  EXPECT_EQ(output.dims[0], 2);

  input = tensor(HYLA_F32, {6, 13});
  EXPECT_EQ(hyla_function_output_shapes(module, 0, &input, 1, &output, 1),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error())
                .find("input 0 dim 1 is 13 but the function expects 12 "
                      "(n * 2, with n=6)"),
            std::string::npos)
      << hyla_last_error();

  input = tensor(HYLA_F32, {3, 6});
  EXPECT_EQ(hyla_function_output_shapes(module, 0, &input, 1, &output, 1),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error())
                .find("buffer 1 dim 0 = n - 4 is negative (-1)"),
            std::string::npos)
      << hyla_last_error();

  // input_shapes reproduces the symbol from dim 0.
  int64_t symbols[1] = {5};
  ASSERT_EQ(hyla_function_input_shapes(module, 0, symbols, 1, &input), HYLA_OK);
  EXPECT_EQ(input.dims[1], 10);
}

TEST_F(ModuleFixture, UnreachableSymbolValue) {
  // The symbol is read from a dim whose size is 2 * n: odd n cannot occur.
  ModuleSpec spec;
  spec.kernels = {{"k", "x", {}, 32, 0, {{fb::DType::F32, 1, {0}}}}};
  FunctionSpec f;
  f.name = "f";
  f.symbols = {{"n", 0, 0}};
  f.buffers = {{fb::BufferKind::Input, 0, fb::DType::F32, {Expr::sym(0) * 2}}};
  f.inputs = {0};
  f.launches = {{0, {1, 1, 1}, {0}}};
  spec.functions = {f};
  loadSpec(spec);
  int64_t symbols[1] = {3};
  hyla_tensor input;
  EXPECT_EQ(hyla_function_input_shapes(module, 0, symbols, 1, &input),
            HYLA_ERROR_SHAPE);
  EXPECT_NE(std::string(hyla_last_error()).find("which would be 6"),
            std::string::npos)
      << hyla_last_error();
}

} // namespace

//===----------------------------------------------------------------------===//
// Value checks (the values of integer inputs, read back before a call)
//===----------------------------------------------------------------------===//

/// Runs value check `c` of valueCheckModule()'s function with n rows;
/// returns the error text ("" if the values pass).
std::string valueCheck(hyla_module *module, size_t c, int64_t n,
                       const std::vector<int64_t> &values) {
  const hyla::FunctionDesc &function = module->desc.functions[0];
  hyla::BoundShapes shapes = hyla::evaluateShapes(function, {n});
  try {
    hyla::checkInputValues(function, shapes, c, values);
  } catch (const hyla::Error &e) {
    EXPECT_EQ(e.status(), HYLA_ERROR_VALUE);
    return e.what();
  }
  return "";
}

TEST_F(ModuleFixture, ValueChecksBelowAndDistinct) {
  loadSpec(valueCheckModule());
  EXPECT_EQ(hyla_function_num_value_checks(module, 0), 2);
  char text[256];
  ASSERT_EQ(hyla_function_describe_value_check(module, 0, 0, text,
                                               sizeof(text)),
            HYLA_OK);
  EXPECT_STREQ(text, "input 1: values in [0, 4), distinct (slots)");
  ASSERT_EQ(hyla_function_describe_value_check(module, 0, 1, text,
                                               sizeof(text)),
            HYLA_OK);
  EXPECT_STREQ(text,
               "input 2: offsets from 0 to n * 2, steps at most 3 (offsets)");
  EXPECT_EQ(hyla_function_describe_value_check(module, 0, 2, text,
                                               sizeof(text)),
            HYLA_ERROR_INVALID_ARGUMENT);

  EXPECT_EQ(valueCheck(module, 0, 3, {2, 0, 3}), "");
  EXPECT_EQ(valueCheck(module, 0, 0, {}), "");
  std::string e = valueCheck(module, 0, 3, {2, 4, 1});
  EXPECT_NE(e.find("function 'checked' input 1 element 1 is 4, outside "
                   "[0, 4) (with n=3; slots)"),
            std::string::npos)
      << e;
  e = valueCheck(module, 0, 2, {-1, 0});
  EXPECT_NE(e.find("element 0 is -1, outside"), std::string::npos) << e;
  e = valueCheck(module, 0, 3, {1, 3, 1});
  EXPECT_NE(e.find("input 1 holds 1 twice (elements 0 and 2); its values "
                   "must be distinct (slots)"),
            std::string::npos)
      << e;
}

TEST_F(ModuleFixture, ValueChecksOffsets) {
  loadSpec(valueCheckModule());
  EXPECT_EQ(valueCheck(module, 1, 3, {0, 3, 3, 6}), ""); // an empty one
  EXPECT_EQ(valueCheck(module, 1, 0, {0}), "");
  std::string e = valueCheck(module, 1, 3, {1, 2, 4, 6});
  EXPECT_NE(e.find("input 2 element 0 is 1, but offsets start at 0"),
            std::string::npos)
      << e;
  e = valueCheck(module, 1, 3, {0, 3, 2, 6});
  EXPECT_NE(e.find("element 2 is 2, below element 1 (3): offsets never "
                   "decrease"),
            std::string::npos)
      << e;
  e = valueCheck(module, 1, 3, {0, 1, 5, 6});
  EXPECT_NE(e.find("elements 1 and 2 span 4 (1 to 5), more than 3 "
                   "(with n=3; offsets)"),
            std::string::npos)
      << e;
  e = valueCheck(module, 1, 3, {0, 1, 2, 5});
  EXPECT_NE(e.find("ends at 5, but the offsets must end at n * 2 = 6"),
            std::string::npos)
      << e;
  e = valueCheck(module, 1, 3, {});
  EXPECT_NE(e.find("holds no offsets"), std::string::npos) << e;
}
