//===- Shapes.h - binding symbols and checking tensors ----------*- C++ -*-===//
#ifndef HYLA_RUNTIME_SHAPES_H
#define HYLA_RUNTIME_SHAPES_H

#include "ModuleDesc.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace hyla {

using Dims = std::array<int64_t, HYLA_MAX_RANK>;

/// Every buffer's concrete shape for one set of symbol values.
struct BoundShapes {
  std::vector<int64_t> symbols;
  std::vector<Dims> dims;      // by buffer id; rank = buffer.dims.size()
  std::vector<uint64_t> bytes; // by buffer id
};

/// "bf16[batch, tokens, 3840]" for buffer `id`.
std::string describeBuffer(const FunctionDesc &function, uint32_t id);

/// "batch=2, tokens=64" (empty if the function has no symbols).
std::string describeSymbols(const FunctionDesc &function,
                            const std::vector<int64_t> &values);

/// " (with batch=2, tokens=64)", or "" if the function has no symbols: the
/// tail of error messages about sizes.
std::string symbolContext(const FunctionDesc &function,
                          const std::vector<int64_t> &values);

/// Checks count, dtype and rank of `inputs`, binds the symbols from their
/// dims, then checks every input dim against its size expression. Throws
/// hyla::Error (HYLA_ERROR_SHAPE / INVALID_ARGUMENT) naming input and dim.
std::vector<int64_t> bindInputs(const FunctionDesc &function,
                                const hyla_tensor *inputs, int32_t numInputs);

/// Evaluates the dims and byte size of every buffer. Throws hyla::Error
/// (HYLA_ERROR_SHAPE) if a size overflows, divides by zero or is negative.
BoundShapes evaluateShapes(const FunctionDesc &function,
                           std::vector<int64_t> symbols);

/// Evaluates one grid expression (validated) for the bound symbols.
int64_t evaluateGrid(const FunctionDesc &function, size_t launch, int axis,
                     const std::vector<int64_t> &symbols);

/// Checks value check `c` of `function` (the values of an integer input:
/// below a bound, distinct, or offsets) against `values`, the input's
/// elements read back from the device. Throws hyla::Error(HYLA_ERROR_VALUE)
/// naming the first value that breaks it, its index and the bound.
void checkInputValues(const FunctionDesc &function, const BoundShapes &shapes,
                      size_t c, const std::vector<int64_t> &values);

/// "input 2: values below slots = 4, distinct (cache slots)" for value
/// check `c` (for listings).
std::string describeValueCheck(const FunctionDesc &function, size_t c);

/// Fills dtype/rank/dims of `tensor` from buffer `id` of `shapes`.
void fillTensorShape(const FunctionDesc &function, const BoundShapes &shapes,
                     uint32_t id, hyla_tensor &tensor);

} // namespace hyla

#endif // HYLA_RUNTIME_SHAPES_H
