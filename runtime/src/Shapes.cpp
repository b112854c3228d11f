//===- Shapes.cpp - binding symbols and checking tensors ------------------===//

#include "Shapes.h"

#include "DTypes.h"
#include "Errors.h"
#include "SizeExpr.h"

#include <algorithm>
#include <utility>

namespace hyla {

std::string describeBuffer(const FunctionDesc &function, uint32_t id) {
  const BufferDesc &buffer = function.buffers[id];
  std::string text = strCat(dtypeName(buffer.dtype), "[");
  for (size_t d = 0; d < buffer.dims.size(); ++d) {
    if (d > 0)
      text += ", ";
    text += formatSizeExpr(buffer.dims[d], function.symbolNames);
  }
  return text + "]";
}

std::string describeSymbols(const FunctionDesc &function,
                            const std::vector<int64_t> &values) {
  std::string text;
  for (size_t s = 0; s < function.symbols.size() && s < values.size(); ++s)
    text += strCat(s > 0 ? ", " : "", function.symbols[s].name, "=", values[s]);
  return text;
}

std::string symbolContext(const FunctionDesc &function,
                          const std::vector<int64_t> &symbols) {
  if (function.symbols.empty())
    return "";
  return strCat(" (with ", describeSymbols(function, symbols), ")");
}

namespace {

/// `where()` names the size in an error; it is called only then (a 7B
/// decode step evaluates thousands of sizes a call).
template <typename Where>
int64_t evaluateDim(const FunctionDesc &function, const SizeExpr &expr,
                    const std::vector<int64_t> &symbols, Where where) {
  int64_t value = 0;
  std::string problem = evaluateSizeExpr(expr, symbols.data(), value);
  if (!problem.empty())
    fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), " ", where(),
         " = ", formatSizeExpr(expr, function.symbolNames), ": ", problem,
         symbolContext(function, symbols));
  return value;
}

} // namespace

std::vector<int64_t> bindInputs(const FunctionDesc &function,
                                const hyla_tensor *inputs, int32_t numInputs) {
  std::string fn = strCat("function ", quoted(function.name));
  if (numInputs < 0 || static_cast<size_t>(numInputs) != function.inputs.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, fn, " takes ", function.inputs.size(),
         " inputs, but ", numInputs, " were given");
  if (numInputs > 0 && !inputs)
    fail(HYLA_ERROR_INVALID_ARGUMENT, fn, ": inputs is NULL");

  // Static checks first: dtype and rank do not depend on symbols.
  for (size_t i = 0; i < function.inputs.size(); ++i) {
    const hyla_tensor &tensor = inputs[i];
    uint32_t id = function.inputs[i];
    const BufferDesc &buffer = function.buffers[id];
    if (tensor.dtype != buffer.dtype)
      fail(HYLA_ERROR_SHAPE, fn, " input ", i, " has dtype ",
           dtypeName(tensor.dtype), " but the function expects ",
           describeBuffer(function, id));
    if (tensor.rank < 0 ||
        static_cast<size_t>(tensor.rank) != buffer.dims.size())
      fail(HYLA_ERROR_SHAPE, fn, " input ", i, " has rank ", tensor.rank,
           " but the function expects ", describeBuffer(function, id));
    for (int32_t d = 0; d < tensor.rank; ++d)
      if (tensor.dims[d] < 0)
        fail(HYLA_ERROR_SHAPE, fn, " input ", i, " dim ", d, " is negative (",
             tensor.dims[d], ")");
  }

  std::vector<int64_t> symbols(function.symbols.size());
  for (size_t s = 0; s < function.symbols.size(); ++s) {
    const SymbolDesc &symbol = function.symbols[s];
    symbols[s] = inputs[symbol.input].dims[symbol.dim];
  }

  for (size_t i = 0; i < function.inputs.size(); ++i) {
    uint32_t id = function.inputs[i];
    const BufferDesc &buffer = function.buffers[id];
    for (size_t d = 0; d < buffer.dims.size(); ++d) {
      int64_t expected =
          evaluateDim(function, buffer.dims[d], symbols,
                      [&] { return strCat("input ", i, " dim ", d); });
      int64_t actual = inputs[i].dims[d];
      if (actual == expected)
        continue;
      std::string formula =
          formatSizeExpr(buffer.dims[d], function.symbolNames);
      // e.g. "expects 64 (tokens, with batch=2, tokens=64)".
      std::vector<std::string> notes;
      if (formula != std::to_string(expected))
        notes.push_back(formula);
      if (!function.symbols.empty())
        notes.push_back("with " + describeSymbols(function, symbols));
      std::string because;
      for (size_t n = 0; n < notes.size(); ++n)
        because += (n == 0 ? " (" : ", ") + notes[n];
      if (!because.empty())
        because += ")";
      fail(HYLA_ERROR_SHAPE, fn, " input ", i, " dim ", d, " is ", actual,
           " but the function expects ", expected, because, "; input ", i,
           " must be ", describeBuffer(function, id));
    }
  }
  return symbols;
}

BoundShapes evaluateShapes(const FunctionDesc &function,
                           std::vector<int64_t> symbols) {
  BoundShapes shapes;
  shapes.symbols = std::move(symbols);
  // Sizes that must agree first: a mismatch there explains any odd size
  // below.
  for (const SizeCheckDesc &check : function.checks) {
    auto what = [&] { return check.what; };
    int64_t a = evaluateDim(function, check.a, shapes.symbols, what);
    int64_t b = evaluateDim(function, check.b, shapes.symbols, what);
    if (a != b)
      fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), ": ",
           formatSizeExpr(check.a, function.symbolNames), " = ", a,
           " must equal ", formatSizeExpr(check.b, function.symbolNames),
           " = ", b, " (", check.what, ")");
  }
  shapes.dims.resize(function.buffers.size());
  shapes.bytes.resize(function.buffers.size());
  for (size_t id = 0; id < function.buffers.size(); ++id) {
    const BufferDesc &buffer = function.buffers[id];
    uint64_t bytes = dtypeSize(buffer.dtype);
    for (size_t d = 0; d < buffer.dims.size(); ++d) {
      auto where = [&] { return strCat("buffer ", id, " dim ", d); };
      int64_t value =
          evaluateDim(function, buffer.dims[d], shapes.symbols, where);
      if (value < 0)
        fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), " ", where(),
             " = ", formatSizeExpr(buffer.dims[d], function.symbolNames),
             " is negative (", value, ")",
             symbolContext(function, shapes.symbols));
      shapes.dims[id][d] = value;
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(value), &bytes) ||
          bytes > (uint64_t(1) << 62))
        fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), " buffer ",
             id, " (", describeBuffer(function, static_cast<uint32_t>(id)),
             "): size in bytes overflows",
             symbolContext(function, shapes.symbols));
    }
    shapes.bytes[id] = bytes;
  }
  return shapes;
}

int64_t evaluateGrid(const FunctionDesc &function, size_t launch, int axis,
                     const std::vector<int64_t> &symbols) {
  return evaluateDim(function, function.launches[launch].grid[axis], symbols,
                     [&] { return strCat("launch ", launch, " grid ", "xyz"[axis]); });
}

std::string describeValueCheck(const FunctionDesc &function, size_t c) {
  const ValueCheckDesc &check = function.valueChecks[c];
  std::string text = strCat("input ", check.input, ": ");
  if (check.kind == ValueCheckDesc::Offsets) {
    text += strCat("offsets from 0 to ",
                   formatSizeExpr(check.bound, function.symbolNames));
    if (check.hasStep)
      text += strCat(", steps at most ",
                     formatSizeExpr(check.step, function.symbolNames));
  } else {
    text += strCat("values in [0, ",
                   formatSizeExpr(check.bound, function.symbolNames), ")");
  }
  if (check.distinct)
    text += ", distinct";
  if (!check.what.empty())
    text += strCat(" (", check.what, ")");
  return text;
}

void checkInputValues(const FunctionDesc &function, const BoundShapes &shapes,
                      size_t c, const std::vector<int64_t> &values) {
  const ValueCheckDesc &check = function.valueChecks[c];
  auto where = [&] { return strCat("value check ", c, " bound"); };
  int64_t bound = evaluateDim(function, check.bound, shapes.symbols, where);
  std::string input = strCat("function ", quoted(function.name), " input ",
                             check.input);
  // "max_tokens - tokens + 1 = 8", and " (with max_tokens=9, tokens=2;
  // what the values are)" for the end of the message.
  auto valueOf = [&](const SizeExpr &expr, int64_t value) {
    std::string formula = formatSizeExpr(expr, function.symbolNames);
    return formula == std::to_string(value) ? formula
                                            : strCat(formula, " = ", value);
  };
  std::string notes;
  if (!function.symbols.empty())
    notes = "with " + describeSymbols(function, shapes.symbols);
  if (!check.what.empty())
    notes += (notes.empty() ? "" : "; ") + check.what;
  if (!notes.empty())
    notes = " (" + notes + ")";
  if (check.kind == ValueCheckDesc::Below) {
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i] < 0 || values[i] >= bound)
        fail(HYLA_ERROR_VALUE, input, " element ", i, " is ", values[i],
             ", outside [0, ", valueOf(check.bound, bound), ")", notes);
  } else {
    if (values.empty())
      fail(HYLA_ERROR_VALUE, input, " holds no offsets (it needs at least "
           "one, 0; ", check.what, ")");
    if (values.front() != 0)
      fail(HYLA_ERROR_VALUE, input, " element 0 is ", values.front(),
           ", but offsets start at 0 (", check.what, ")");
    int64_t step = 0;
    if (check.hasStep)
      step = evaluateDim(function, check.step, shapes.symbols,
                         [&] { return strCat("value check ", c, " step"); });
    for (size_t i = 0; i + 1 < values.size(); ++i) {
      int64_t size = values[i + 1] - values[i];
      if (size < 0)
        fail(HYLA_ERROR_VALUE, input, " element ", i + 1, " is ",
             values[i + 1], ", below element ", i, " (", values[i],
             "): offsets never decrease (", check.what, ")");
      if (check.hasStep && size > step)
        fail(HYLA_ERROR_VALUE, input, " elements ", i, " and ", i + 1,
             " span ", size, " (", values[i], " to ", values[i + 1],
             "), more than ", valueOf(check.step, step), notes);
    }
    if (values.back() != bound)
      fail(HYLA_ERROR_VALUE, input, " ends at ", values.back(),
           ", but the offsets must end at ", valueOf(check.bound, bound),
           notes);
  }
  if (check.distinct) {
    std::vector<std::pair<int64_t, size_t>> sorted;
    for (size_t i = 0; i < values.size(); ++i)
      sorted.emplace_back(values[i], i);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i + 1 < sorted.size(); ++i)
      if (sorted[i].first == sorted[i + 1].first)
        fail(HYLA_ERROR_VALUE, input, " holds ", sorted[i].first,
             " twice (elements ", sorted[i].second, " and ",
             sorted[i + 1].second, "); its values must be distinct",
             check.what.empty() ? "" : strCat(" (", check.what, ")"));
  }
}

void fillTensorShape(const FunctionDesc &function, const BoundShapes &shapes,
                     uint32_t id, hyla_tensor &tensor) {
  const BufferDesc &buffer = function.buffers[id];
  tensor.dtype = buffer.dtype;
  tensor.rank = static_cast<int32_t>(buffer.dims.size());
  for (int d = 0; d < HYLA_MAX_RANK; ++d)
    tensor.dims[d] = d < tensor.rank ? shapes.dims[id][d] : 0;
}

} // namespace hyla
