//===- Npy.h - reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// Just what hyla-run needs: little-endian, C-order arrays of a few dtypes,
// converted to or from the element type a hyla function expects.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUN_NPY_H
#define HYLA_RUN_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace hyla_run {

struct NpyArray {
  std::string descr; // e.g. "<f4"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; // raw little-endian elements, C order
};

/// Reads `path`. Returns "" on success, else what is wrong with the file.
std::string readNpy(const std::string &path, NpyArray &array);

/// Converts `array` to hyla dtype `dtype` (hyla_dtype) into `out`. Float
/// files convert to float dtypes (rounding to nearest even), integer files
/// to integer dtypes (range-checked); <u2 is taken as raw bf16 bits. Returns
/// "" or why the file's data cannot become that dtype.
std::string convertNpy(const NpyArray &array, int32_t dtype,
                       std::vector<uint8_t> &out);

/// Writes a C-order array. `descr` is the NumPy type string ("<f4").
std::string writeNpy(const std::string &path, const std::string &descr,
                     const std::vector<int64_t> &shape, const void *data,
                     size_t bytes);

/// Converts device-layout elements of hyla dtype `dtype` to what is written
/// to .npy: bf16/f16 become float32 (<f4); other dtypes keep their type.
void toNpyLayout(int32_t dtype, const std::vector<uint8_t> &elements,
                 std::string &descr, std::vector<uint8_t> &out);

} // namespace hyla_run

#endif // HYLA_RUN_NPY_H
