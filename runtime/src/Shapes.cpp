//===- Shapes.cpp - binding symbols and checking tensors ------------------===//

#include "Shapes.h"

#include "DTypes.h"
#include "Errors.h"

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

void fillTensorShape(const FunctionDesc &function, const BoundShapes &shapes,
                     uint32_t id, hyla_tensor &tensor) {
  const BufferDesc &buffer = function.buffers[id];
  tensor.dtype = buffer.dtype;
  tensor.rank = static_cast<int32_t>(buffer.dims.size());
  for (int d = 0; d < HYLA_MAX_RANK; ++d)
    tensor.dims[d] = d < tensor.rank ? shapes.dims[id][d] : 0;
}

} // namespace hyla
