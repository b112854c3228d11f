//===- Npy.cpp - reading and writing NumPy .npy files ---------------------===//
//
// Format: "\x93NUMPY", major/minor version, header length (2 bytes in 1.0,
// 4 bytes in 2.0/3.0), then a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline, then the raw data.
//
//===----------------------------------------------------------------------===//

#include "Npy.h"

#include "DTypes.h"
#include "hyla/runtime.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

namespace hyla_run {

namespace {

/// Finds `key` in the header dict and returns the position after its colon.
size_t findKey(const std::string &header, const std::string &key) {
  for (char quote : {'\'', '"'}) {
    std::string quoted = std::string(1, quote) + key + quote;
    size_t pos = header.find(quoted);
    if (pos == std::string::npos)
      continue;
    pos = header.find(':', pos + quoted.size());
    if (pos != std::string::npos)
      return pos + 1;
  }
  return std::string::npos;
}

void skipSpaces(const std::string &s, size_t &pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos])))
    ++pos;
}

std::string parseHeader(const std::string &header, NpyArray &array) {
  size_t pos = findKey(header, "descr");
  if (pos == std::string::npos)
    return "header has no 'descr'";
  skipSpaces(header, pos);
  if (pos >= header.size() || (header[pos] != '\'' && header[pos] != '"'))
    return "'descr' is not a string (structured dtypes are not supported)";
  char quote = header[pos];
  size_t end = header.find(quote, pos + 1);
  if (end == std::string::npos)
    return "unterminated 'descr'";
  array.descr = header.substr(pos + 1, end - pos - 1);

  pos = findKey(header, "fortran_order");
  if (pos == std::string::npos)
    return "header has no 'fortran_order'";
  skipSpaces(header, pos);
  if (header.compare(pos, 4, "True") == 0)
    return "the array is in Fortran order; save it in C order "
           "(numpy.ascontiguousarray)";
  if (header.compare(pos, 5, "False") != 0)
    return "cannot read 'fortran_order'";

  pos = findKey(header, "shape");
  if (pos == std::string::npos)
    return "header has no 'shape'";
  skipSpaces(header, pos);
  if (pos >= header.size() || header[pos] != '(')
    return "'shape' is not a tuple";
  ++pos;
  array.shape.clear();
  while (true) {
    skipSpaces(header, pos);
    if (pos < header.size() && header[pos] == ')')
      break;
    if (pos >= header.size() ||
        !std::isdigit(static_cast<unsigned char>(header[pos])))
      return "cannot read 'shape'";
    int64_t value = 0;
    while (pos < header.size() &&
           std::isdigit(static_cast<unsigned char>(header[pos]))) {
      if (value > (std::numeric_limits<int64_t>::max() - 9) / 10)
        return "a dimension in 'shape' is too large";
      value = value * 10 + (header[pos++] - '0');
    }
    array.shape.push_back(value);
    skipSpaces(header, pos);
    if (pos < header.size() && header[pos] == ',')
      ++pos;
  }
  if (array.shape.size() > HYLA_MAX_RANK)
    return "rank " + std::to_string(array.shape.size()) +
           " is above hyla's maximum of " + std::to_string(HYLA_MAX_RANK);
  return "";
}

/// Element size of the supported type strings; 0 if unsupported.
size_t descrSize(const std::string &descr) {
  static const std::pair<const char *, size_t> known[] = {
      {"<f2", 2}, {"<f4", 4}, {"<f8", 8}, {"<i4", 4},
      {"<i8", 8}, {"|i1", 1}, {"<u2", 2}};
  for (const auto &entry : known)
    if (descr == entry.first)
      return entry.second;
  return 0;
}

template <typename T> T load(const uint8_t *p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T> void store(uint8_t *p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

} // namespace

std::string readNpy(const std::string &path, NpyArray &array) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return "cannot open '" + path + "': " + std::strerror(errno);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    return "'" + path + "' is not a .npy file";
  uint8_t major = bytes[6];
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return "'" + path + "' is truncated";
    headerLength = load<uint32_t>(bytes.data() + 8);
    headerStart = 12;
  } else {
    return "'" + path + "' has unsupported .npy version " +
           std::to_string(major);
  }
  if (headerLength > bytes.size() - headerStart)
    return "'" + path + "' is truncated (header)";
  std::string header(bytes.begin() + headerStart,
                     bytes.begin() + headerStart + headerLength);
  std::string problem = parseHeader(header, array);
  if (!problem.empty())
    return "'" + path + "': " + problem;
  size_t elementSize = descrSize(array.descr);
  if (elementSize == 0)
    return "'" + path + "' has dtype '" + array.descr +
           "'; supported are <f2 <f4 <f8 <i4 <i8 |i1 and <u2 (bf16 bits), "
           "little-endian";
  uint64_t count = 1;
  for (int64_t dim : array.shape)
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count))
      return "'" + path + "': shape is too large";
  uint64_t dataBytes;
  size_t available = bytes.size() - headerStart - headerLength;
  if (__builtin_mul_overflow(count, elementSize, &dataBytes) ||
      dataBytes > available)
    return "'" + path + "' is truncated: its shape needs " +
           std::to_string(count * elementSize) + " bytes of data, it has " +
           std::to_string(available);
  size_t dataStart = headerStart + headerLength;
  array.data.assign(bytes.begin() + dataStart,
                    bytes.begin() + dataStart + dataBytes);
  return "";
}

std::string convertNpy(const NpyArray &array, int32_t dtype,
                       std::vector<uint8_t> &out) {
  size_t inSize = descrSize(array.descr);
  size_t outSize = hyla_dtype_size(dtype);
  size_t count = inSize ? array.data.size() / inSize : 0;
  out.assign(count * outSize, 0);
  const uint8_t *in = array.data.data();
  char kind = array.descr.size() == 3 ? array.descr[1] : '?';
  bool wantFloat = hyla::isFloatDType(dtype);

  if (array.descr == "<u2") {
    if (dtype != HYLA_BF16)
      return "<u2 data is only accepted as raw bf16 bits, but this input is " +
             std::string(hyla::dtypeName(dtype));
    out = array.data;
    return "";
  }
  if (kind == 'f' && wantFloat) {
    for (size_t i = 0; i < count; ++i) {
      double v = inSize == 2   ? hyla::f16ToFloat(load<uint16_t>(in + 2 * i))
                 : inSize == 4 ? load<float>(in + 4 * i)
                               : load<double>(in + 8 * i);
      uint8_t *o = out.data() + i * outSize;
      switch (dtype) {
      case HYLA_BF16:
        store(o, hyla::floatToBF16(static_cast<float>(v)));
        break;
      case HYLA_F16:
        store(o, hyla::floatToF16(static_cast<float>(v)));
        break;
      case HYLA_F32:
        store(o, static_cast<float>(v));
        break;
      case HYLA_F64:
        store(o, v);
        break;
      }
    }
    return "";
  }
  if (kind == 'i' && !wantFloat) {
    int64_t lo = dtype == HYLA_I8    ? INT8_MIN
                 : dtype == HYLA_I32 ? INT32_MIN
                                     : INT64_MIN;
    int64_t hi = dtype == HYLA_I8    ? INT8_MAX
                 : dtype == HYLA_I32 ? INT32_MAX
                                     : INT64_MAX;
    for (size_t i = 0; i < count; ++i) {
      int64_t v = inSize == 1   ? load<int8_t>(in + i)
                  : inSize == 4 ? load<int32_t>(in + 4 * i)
                                : load<int64_t>(in + 8 * i);
      if (v < lo || v > hi)
        return "element " + std::to_string(i) + " (" + std::to_string(v) +
               ") does not fit " + hyla::dtypeName(dtype);
      uint8_t *o = out.data() + i * outSize;
      if (dtype == HYLA_I8)
        store(o, static_cast<int8_t>(v));
      else if (dtype == HYLA_I32)
        store(o, static_cast<int32_t>(v));
      else
        store(o, v);
    }
    return "";
  }
  return "the file holds " +
         std::string(kind == 'f' ? "floating-point" : "integer") + " data (" +
         array.descr + ") but this input is " + hyla::dtypeName(dtype);
}

std::string writeNpy(const std::string &path, const std::string &descr,
                     const std::vector<int64_t> &shape, const void *data,
                     size_t bytes) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t d = 0; d < shape.size(); ++d)
    header += (d > 0 ? ", " : "") + std::to_string(shape[d]);
  header += shape.size() == 1 ? ",), }" : "), }"; // Python's 1-tuple
  // Pad so that the data starts at a multiple of 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream file(path, std::ios::binary);
  if (!file)
    return "cannot create '" + path + "': " + std::strerror(errno);
  uint16_t headerLength = static_cast<uint16_t>(header.size());
  file.write("\x93NUMPY\x01\x00", 8);
  file.write(reinterpret_cast<const char *>(&headerLength), 2);
  file.write(header.data(), static_cast<std::streamsize>(header.size()));
  file.write(static_cast<const char *>(data),
             static_cast<std::streamsize>(bytes));
  if (!file)
    return "cannot write '" + path + "'";
  return "";
}

void toNpyLayout(int32_t dtype, const std::vector<uint8_t> &elements,
                 std::string &descr, std::vector<uint8_t> &out) {
  size_t count = elements.size() / std::max<size_t>(1, hyla_dtype_size(dtype));
  switch (dtype) {
  case HYLA_BF16:
  case HYLA_F16:
    descr = "<f4";
    out.resize(count * 4);
    for (size_t i = 0; i < count; ++i) {
      uint16_t bits = load<uint16_t>(elements.data() + 2 * i);
      float v =
          dtype == HYLA_BF16 ? hyla::bf16ToFloat(bits) : hyla::f16ToFloat(bits);
      store(out.data() + 4 * i, v);
    }
    return;
  case HYLA_F32:
    descr = "<f4";
    break;
  case HYLA_F64:
    descr = "<f8";
    break;
  case HYLA_I32:
    descr = "<i4";
    break;
  case HYLA_I64:
    descr = "<i8";
    break;
  default:
    descr = "|i1";
    break;
  }
  out = elements;
}

} // namespace hyla_run
