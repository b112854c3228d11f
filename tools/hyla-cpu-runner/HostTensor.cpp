//===- HostTensor.cpp - host tensors for the CPU runner -------------------===//

#include "HostTensor.h"

#include "DTypes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace hyla {

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string HostTensor::describe() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  elementType.print(os);
  os << "[";
  llvm::interleave(shape, os, "x");
  os << "]";
  return s;
}

size_t elementBytes(Type t) {
  if (t.isInteger(1))
    return 1;
  return (t.getIntOrFloatBitWidth() + 7) / 8;
}

double roundTo(Type t, double v) {
  if (t.isF64())
    return v;
  if (t.isF32())
    return static_cast<float>(v);
  if (t.isBF16())
    return hyla::bf16ToFloat(hyla::floatToBF16(static_cast<float>(v)));
  if (t.isF16()) {
    llvm::APFloat f(v);
    bool lost;
    f.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    f.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    return f.convertToDouble();
  }
  return static_cast<double>(static_cast<int64_t>(v));
}

void writeElement(Type t, uint8_t *dst, double v) {
  if (t.isF64()) {
    std::memcpy(dst, &v, 8);
  } else if (t.isF32()) {
    float f = static_cast<float>(v);
    std::memcpy(dst, &f, 4);
  } else if (t.isBF16()) {
    uint16_t h = hyla::floatToBF16(static_cast<float>(v));
    std::memcpy(dst, &h, 2);
  } else if (t.isF16()) {
    llvm::APFloat f(v);
    bool lost;
    f.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    uint16_t h = static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
    std::memcpy(dst, &h, 2);
  } else if (t.isInteger(64)) {
    int64_t i = static_cast<int64_t>(v);
    std::memcpy(dst, &i, 8);
  } else if (t.isInteger(32)) {
    int32_t i = static_cast<int32_t>(v);
    std::memcpy(dst, &i, 4);
  } else {
    uint8_t i = static_cast<uint8_t>(v);
    *dst = i;
  }
}

double readElement(Type t, const uint8_t *src) {
  if (t.isF64()) {
    double d;
    std::memcpy(&d, src, 8);
    return d;
  }
  if (t.isF32()) {
    float f;
    std::memcpy(&f, src, 4);
    return f;
  }
  if (t.isBF16()) {
    uint16_t h;
    std::memcpy(&h, src, 2);
    return hyla::bf16ToFloat(h);
  }
  if (t.isF16()) {
    uint16_t h;
    std::memcpy(&h, src, 2);
    llvm::APFloat f(llvm::APFloat::IEEEhalf(), llvm::APInt(16, h));
    bool lost;
    f.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    return f.convertToDouble();
  }
  if (t.isInteger(64)) {
    int64_t i;
    std::memcpy(&i, src, 8);
    return static_cast<double>(i);
  }
  if (t.isInteger(32)) {
    int32_t i;
    std::memcpy(&i, src, 4);
    return i;
  }
  return *src;
}

} // namespace hyla
