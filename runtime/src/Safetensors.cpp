//===- Safetensors.cpp - weights from Hugging Face safetensors files ------===//
//
// A safetensors file is an 8-byte little-endian header length, a JSON
// header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {...}}, then the tensors' bytes (offsets relative to the
// end of the header). Every header is read and checked against the module
// before any device memory is touched, so a bad file (truncated, a missing
// or misshapen tensor) fails with a message and leaves the module as it was.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "Device.h"
#include "Errors.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

namespace hyla {

namespace {

/// One tensor of a file: where its bytes are.
struct FileTensor {
  size_t file = 0;
  int32_t dtype = -1;    // hyla_dtype, or -1 for one hyla has no type for
  std::string dtypeText; // as the file spells it
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // absolute file offsets
};

/// The subset of JSON a safetensors header uses: objects, arrays, strings,
/// non-negative integers (and, skipped, other scalars in metadata).
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &path)
      : s_(text), path_(path) {}

  void parse(size_t fileIndex, uint64_t dataStart, uint64_t dataBytes,
             std::map<std::string, FileTensor> &out) {
    expect('{');
    if (peek() == '}') {
      ++i_;
      return;
    }
    while (true) {
      std::string name = string();
      expect(':');
      if (name == "__metadata__")
        skipValue();
      else
        out[name] = tensor(name, fileIndex, dataStart, dataBytes);
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    if (peek() != '\0')
      error("text after the header object");
  }

private:
  [[noreturn]] void error(const std::string &what) {
    fail(HYLA_ERROR_BAD_MODULE, path_, ": bad safetensors header at byte ",
         i_ + 8, ": ", what);
  }
  char peek() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' ||
                              s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  void expect(char c) {
    if (peek() != c)
      error(strCat("expected '", c, "'"));
    ++i_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size())
          break;
        char e = s_[i_++];
        switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': // names are ASCII in practice; keep the escape readable
          out += "\\u";
          break;
        default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (i_ >= s_.size())
      error("unterminated string");
    ++i_;
    return out;
  }
  uint64_t integer() {
    peek();
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9')
      error("expected a non-negative integer");
    uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      uint64_t digit = s_[i_++] - '0';
      if (v > (UINT64_MAX - digit) / 10)
        error("integer too large");
      v = v * 10 + digit;
    }
    return v;
  }
  std::vector<uint64_t> integers() {
    expect('[');
    std::vector<uint64_t> out;
    if (peek() == ']') {
      ++i_;
      return out;
    }
    while (true) {
      out.push_back(integer());
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return out;
    }
  }
  void skipValue() {
    char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      if (peek() == close) {
        ++i_;
        return;
      }
      while (true) {
        if (c == '{') {
          string();
          expect(':');
        }
        skipValue();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(close);
        return;
      }
    } else {
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' &&
             s_[i_] != ']')
        ++i_;
      if (i_ == start)
        error("expected a value");
    }
  }
  FileTensor tensor(const std::string &name, size_t fileIndex,
                    uint64_t dataStart, uint64_t dataBytes) {
    FileTensor t;
    t.file = fileIndex;
    bool haveDtype = false, haveShape = false, haveOffsets = false;
    std::vector<uint64_t> offsets;
    expect('{');
    while (true) {
      std::string key = string();
      expect(':');
      if (key == "dtype") {
        t.dtypeText = string();
        haveDtype = true;
      } else if (key == "shape") {
        for (uint64_t d : integers())
          t.shape.push_back(static_cast<int64_t>(d));
        haveShape = true;
      } else if (key == "data_offsets") {
        offsets = integers();
        haveOffsets = true;
      } else {
        skipValue();
      }
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    if (!haveDtype || !haveShape || !haveOffsets || offsets.size() != 2)
      fail(HYLA_ERROR_BAD_MODULE, path_, ": tensor ", quoted(name),
           " needs dtype, shape and two data_offsets");
    static const std::pair<const char *, int32_t> kTypes[] = {
        {"BF16", HYLA_BF16}, {"F16", HYLA_F16}, {"F32", HYLA_F32},
        {"F64", HYLA_F64},   {"I32", HYLA_I32}, {"I64", HYLA_I64},
        {"I8", HYLA_I8}};
    for (const auto &[text, dtype] : kTypes)
      if (t.dtypeText == text)
        t.dtype = dtype;
    if (offsets[0] > offsets[1] || offsets[1] > dataBytes)
      fail(HYLA_ERROR_BAD_MODULE, path_, ": tensor ", quoted(name),
           "'s bytes [", offsets[0], ", ", offsets[1], ") lie outside the ",
           dataBytes, " data bytes the file has (truncated?)");
    t.begin = dataStart + offsets[0];
    t.end = dataStart + offsets[1];
    if (t.dtype >= 0) {
      uint64_t want = dtypeSize(t.dtype);
      for (int64_t d : t.shape)
        want *= static_cast<uint64_t>(d);
      if (want != t.end - t.begin)
        fail(HYLA_ERROR_BAD_MODULE, path_, ": tensor ", quoted(name), " is ",
             t.dtypeText, shapeText(t.shape), " (", want, " bytes) but its ",
             "data_offsets span ", t.end - t.begin, " bytes");
    }
    return t;
  }

public:
  static std::string shapeText(const std::vector<int64_t> &shape) {
    std::string out = "[";
    for (size_t d = 0; d < shape.size(); ++d)
      out += strCat(d ? ", " : "", shape[d]);
    return out + "]";
  }

private:
  const std::string &s_;
  const std::string &path_;
  size_t i_ = 0;
};

struct FileCloser {
  void operator()(FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

/// Where a module weight's bytes come from: whole tensor `name`, or rows
/// [rowBegin, rowEnd) of dim 0 of a fused one.
struct Source {
  const FileTensor *tensor = nullptr;
  std::string name;
  uint64_t byteOffset = 0; // within the tensor
};

/// The three convs, in the order of their rows in a fused one.
const char *const kConvParts[] = {"q_conv1d.weight", "k_conv1d.weight",
                                  "v_conv1d.weight"};

/// "<prefix>.q_conv1d.weight" -> ("<prefix>.", 0) (k: 1, v: 2), for the
/// one depthwise conv over the concatenated q, k and v some checkpoints
/// store as "<prefix>.conv1d.weight".
bool splitConvName(const std::string &name, std::string &prefix, int &part) {
  for (int p = 0; p < 3; ++p) {
    std::string suffix = kConvParts[p];
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) ==
            0) {
      prefix = name.substr(0, name.size() - suffix.size());
      part = p;
      return true;
    }
  }
  return false;
}

} // namespace

void loadSafetensors(hyla_module &module, const char *const *paths,
                     int32_t numPaths) {
  DeviceState &state = requirePrepared(module, "hyla_module_load_safetensors");
  if (!paths || numPaths <= 0)
    fail(HYLA_ERROR_INVALID_ARGUMENT,
         "hyla_module_load_safetensors: no files given");
  // 1. Every header.
  std::vector<File> files;
  std::vector<std::string> names;
  std::map<std::string, FileTensor> tensors;
  for (int32_t f = 0; f < numPaths; ++f) {
    if (!paths[f])
      fail(HYLA_ERROR_INVALID_ARGUMENT, "safetensors path ", f, " is NULL");
    std::string path = paths[f];
    File file(std::fopen(path.c_str(), "rb"));
    if (!file)
      fail(HYLA_ERROR_IO, "cannot open ", quoted(path));
    if (std::fseek(file.get(), 0, SEEK_END) != 0)
      fail(HYLA_ERROR_IO, "cannot seek in ", quoted(path));
    long size = std::ftell(file.get());
    std::rewind(file.get());
    unsigned char lengthBytes[8];
    if (size < 8 || std::fread(lengthBytes, 1, 8, file.get()) != 8)
      fail(HYLA_ERROR_BAD_MODULE, path,
           ": not a safetensors file (shorter than its 8-byte header length)");
    uint64_t headerBytes = 0;
    for (int b = 7; b >= 0; --b)
      headerBytes = (headerBytes << 8) | lengthBytes[b];
    if (headerBytes > static_cast<uint64_t>(size) - 8 ||
        headerBytes > (uint64_t(100) << 20))
      fail(HYLA_ERROR_BAD_MODULE, path, ": header of ", headerBytes,
           " bytes does not fit the file's ", size,
           " bytes (truncated, or not safetensors)");
    std::string header(headerBytes, '\0');
    if (std::fread(header.data(), 1, headerBytes, file.get()) != headerBytes)
      fail(HYLA_ERROR_IO, "cannot read the header of ", quoted(path));
    std::map<std::string, FileTensor> fileTensors;
    HeaderParser(header, path).parse(files.size(), 8 + headerBytes,
                                     size - 8 - headerBytes, fileTensors);
    for (auto &[name, t] : fileTensors) {
      auto [it, inserted] = tensors.emplace(name, t);
      if (!inserted)
        fail(HYLA_ERROR_BAD_MODULE, "tensor ", quoted(name), " is in both ",
             quoted(names[it->second.file]), " and ", quoted(path));
    }
    files.push_back(std::move(file));
    names.push_back(path);
  }

  // 2. A source for every weight the caller has not bound, checked.
  const ModuleDesc &desc = module.desc;
  std::vector<Source> sources(desc.weights.size());
  std::vector<std::string> missing;
  for (size_t w = 0; w < desc.weights.size(); ++w) {
    const WeightDesc &weight = desc.weights[w];
    if (module.weightPointers[w] && !state.ownedWeights[w])
      continue; // bound by the caller
    auto check = [&](const FileTensor &t, const std::string &name,
                     const std::vector<int64_t> &want) {
      if (t.dtype != weight.dtype)
        fail(HYLA_ERROR_SHAPE, "weight ", quoted(name), " in ",
             quoted(names[t.file]), " is ", t.dtypeText,
             "; the module wants ", dtypeName(weight.dtype));
      if (t.shape != want)
        fail(HYLA_ERROR_SHAPE, "weight ", quoted(name), " in ",
             quoted(names[t.file]), " has shape ",
             HeaderParser::shapeText(t.shape), "; the module wants ",
             HeaderParser::shapeText(want));
    };
    auto it = tensors.find(weight.name);
    if (it != tensors.end()) {
      check(it->second, weight.name, weight.shape);
      sources[w] = {&it->second, weight.name, 0};
      continue;
    }
    // One fused q/k/v conv for three separate ones: its rows are q's,
    // then k's, then v's.
    std::string prefix;
    int part = 0;
    if (splitConvName(weight.name, prefix, part)) {
      auto fused = tensors.find(prefix + "conv1d.weight");
      if (fused != tensors.end() && !weight.shape.empty()) {
        int64_t rows[3] = {0, 0, 0};
        bool all = true;
        for (int p = 0; p < 3; ++p) {
          auto sibling = desc.weightByName.find(prefix + kConvParts[p]);
          if (sibling == desc.weightByName.end()) {
            all = false;
            break;
          }
          rows[p] = desc.weights[sibling->second].shape[0];
        }
        if (all) {
          std::vector<int64_t> want = weight.shape;
          want[0] = rows[0] + rows[1] + rows[2];
          check(fused->second, fused->first, want);
          uint64_t rowBytes = weight.numBytes / weight.shape[0];
          uint64_t firstRow = part == 0 ? 0 : part == 1 ? rows[0]
                                                        : rows[0] + rows[1];
          sources[w] = {&fused->second, fused->first, firstRow * rowBytes};
          continue;
        }
      }
    }
    missing.push_back(weight.name);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i)
      list += strCat(i ? ", " : "", quoted(missing[i]));
    if (missing.size() > 5)
      list += strCat(" and ", missing.size() - 5, " more");
    fail(HYLA_ERROR_SHAPE, missing.size(), " weight",
         missing.size() == 1 ? " is" : "s are", " in none of the ",
         numPaths, " safetensors file", numPaths == 1 ? "" : "s", ": ", list);
  }

  // 3. Device memory and the bytes, a staging buffer at a time.
  std::lock_guard<std::mutex> lock(module.mutex);
  ContextScope scope(state);
  const CudaDriver &cu = *state.cu;
  std::vector<char> staging;
  for (size_t w = 0; w < desc.weights.size(); ++w) {
    const Source &src = sources[w];
    const WeightDesc &weight = desc.weights[w];
    if (!src.tensor || weight.numBytes == 0)
      continue;
    CUdeviceptr pointer = state.ownedWeights[w];
    if (!pointer) {
      checkCuda(cu, cu.memAlloc(&pointer, weight.numBytes),
                strCat("allocating ", weight.numBytes, " bytes for weight ",
                       quoted(weight.name), " (cuMemAlloc)"));
      state.ownedWeights[w] = pointer;
      module.weightPointers[w] = pointer;
    }
    FILE *file = files[src.tensor->file].get();
    uint64_t at = src.tensor->begin + src.byteOffset;
    const uint64_t kChunk = uint64_t(64) << 20;
    staging.resize(std::min<uint64_t>(kChunk, weight.numBytes));
    for (uint64_t done = 0; done < weight.numBytes;) {
      uint64_t n = std::min<uint64_t>(kChunk, weight.numBytes - done);
      if (std::fseek(file, static_cast<long>(at + done), SEEK_SET) != 0 ||
          std::fread(staging.data(), 1, n, file) != n)
        fail(HYLA_ERROR_IO, "cannot read weight ", quoted(src.name), " from ",
             quoted(names[src.tensor->file]));
      checkCuda(cu, cu.memcpyHtoD(pointer + done, staging.data(), n),
                strCat("copying weight ", quoted(weight.name),
                       " to the device (cuMemcpyHtoD)"));
      done += n;
    }
  }
}

} // namespace hyla

extern "C" hyla_status hyla_module_load_safetensors(hyla_module *module,
                                                    const char *const *paths,
                                                    int32_t num_paths) {
  return hyla::guarded([&] {
    if (!module)
      hyla::fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
    hyla::loadSafetensors(*module, paths, num_paths);
  });
}
