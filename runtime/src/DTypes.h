//===- DTypes.h - element types and number conversions ----------*- C++ -*-===//
#ifndef HYLA_RUNTIME_DTYPES_H
#define HYLA_RUNTIME_DTYPES_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hyla {

/// Number of hyla_dtype values (BF16 .. I8).
constexpr int32_t kNumDTypes = 7;

inline bool isKnownDType(int32_t dtype) {
  return dtype >= 0 && dtype < kNumDTypes;
}

/// Bytes per element, 0 for an unknown dtype.
inline size_t dtypeSize(int32_t dtype) {
  static const size_t sizes[kNumDTypes] = {2, 2, 4, 8, 4, 8, 1};
  return isKnownDType(dtype) ? sizes[dtype] : 0;
}

/// Short lower-case name used in messages and shape descriptions ("bf16").
inline const char *dtypeName(int32_t dtype) {
  static const char *names[kNumDTypes] = {"bf16", "f16", "f32", "f64",
                                          "i32",  "i64", "i8"};
  return isKnownDType(dtype) ? names[dtype] : "unknown-dtype";
}

inline bool isFloatDType(int32_t dtype) { return dtype >= 0 && dtype <= 3; }

/// f32 -> bf16 bits, rounding to nearest even; NaNs stay (quiet) NaNs.
inline uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  uint32_t roundingBias = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

inline float bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

/// f32 -> IEEE half bits, rounding to nearest even, with subnormals,
/// overflow to infinity and NaN preserved.
inline uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits > 0x7f800000u) // NaN
    return static_cast<uint16_t>(sign | 0x7e00u | ((absBits >> 13) & 0x3ffu));
  if (absBits >= 0x47800000u) // >= 65536 rounds to infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (absBits < 0x38800000u) { // below the smallest normal half (2^-14)
    if (absBits < 0x33000000u) // below half the smallest subnormal: zero
      return static_cast<uint16_t>(sign);
    uint32_t exponent = absBits >> 23;
    uint32_t mantissa = (absBits & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent; // 14..24 bits fall off
    uint32_t half = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u)))
      ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t rounded = absBits + 0xfffu + ((absBits >> 13) & 1u);
  uint32_t half = (rounded >> 13) - (112u << 10); // rebias 127 -> 15
  if (half >= 0x7c00u)
    half = 0x7c00u;
  return static_cast<uint16_t>(sign | half);
}

inline float f16ToFloat(uint16_t half) {
  uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalize
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | ((113u - shift) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

} // namespace hyla

#endif // HYLA_RUNTIME_DTYPES_H
