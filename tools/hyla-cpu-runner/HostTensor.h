//===- HostTensor.h - host tensors for the CPU runner ---------------------===//
//
// Values the CPU runner moves around: logical values in doubles (exactly
// representable in the element type), and conversion to and from the bytes
// a compiled kernel reads and writes.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_TOOLS_CPURUNNER_HOSTTENSOR_H
#define HYLA_TOOLS_CPURUNNER_HOSTTENSOR_H

#include "mlir/IR/Types.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hyla {

struct HostTensor {
  mlir::Type elementType;
  llvm::SmallVector<int64_t> shape;
  std::vector<double> values;

  int64_t numel() const;
  std::string describe() const; // e.g. "bf16[2x200x4x64]"
};

using HostTensorPtr = std::shared_ptr<HostTensor>;

/// Bytes per element of `t` (bf16, f16, f32, f64, i32, i64, i1 as i8).
size_t elementBytes(mlir::Type t);
/// Rounds `v` to the nearest value of type `t` (round to nearest even).
double roundTo(mlir::Type t, double v);
void writeElement(mlir::Type t, uint8_t *dst, double v);
double readElement(mlir::Type t, const uint8_t *src);

} // namespace hyla

#endif
