//===- ModuleDesc.h - a loaded module, in plain C++ structures --*- C++ -*-===//
//
// The loader copies the FlatBuffers module into these structures (so nothing
// after loading touches unverified offsets), then validates them. After a
// successful load every index in here is in range and every size expression
// is well formed; the rest of the runtime relies on that.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_MODULEDESC_H
#define HYLA_RUNTIME_MODULEDESC_H

#include "SizeExpr.h"
#include "hyla/runtime.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hyla {

/// Same numbering as hyla.fb.BufferKind.
enum class BufferKind : uint8_t {
  Input = 0,
  Output = 1,
  Weight = 2,
  Temporary = 3,
  View = 4,
};

struct SymbolDesc {
  std::string name;
  uint32_t input = 0; // position in the function's inputs
  uint32_t dim = 0;
};

struct BufferDesc {
  uint8_t kind = 0; // BufferKind, raw until validated
  uint32_t index = 0;
  int32_t dtype = 0;
  std::vector<SizeExpr> dims;
  /// For a View: the first buffer in its chain that is not a view (set by
  /// validation). For other kinds: the buffer itself.
  uint32_t storageBuffer = 0;

  BufferKind bufferKind() const { return static_cast<BufferKind>(kind); }
};

struct KernelParamDesc {
  int32_t dtype = 0;
  uint32_t rank = 0;
  std::vector<uint32_t> dynamicDims;
  /// A tensor map of the param follows its dims, tiled by this box.
  bool hasTensorMap = false;
  std::vector<uint32_t> tensorMapBox;
  uint32_t tensorMapSwizzle = 0;
};

struct KernelDesc {
  std::string name;
  // PTX text (NUL-terminated) and optional cubin, pointing into the module's
  // own copy of the file bytes.
  const char *ptx = nullptr;
  size_t ptxBytes = 0;
  const uint8_t *cubin = nullptr;
  size_t cubinBytes = 0;
  uint32_t blockDim = 0;
  uint32_t sharedMemBytes = 0;
  std::vector<KernelParamDesc> params;
  /// Starts with griddepcontrol.wait: may be launched programmatically.
  bool programmaticLaunch = false;
  /// Set while loading: the PTX text held a NUL before its end.
  bool ptxHasNul = false;
};

struct LaunchDesc {
  uint32_t kernel = 0;
  std::vector<SizeExpr> grid; // exactly 3 after validation
  std::vector<uint32_t> args; // buffer ids
};

struct SizeCheckDesc {
  SizeExpr a, b;
  std::string what;
};

/// hyla.fb.ValueCheck: the values of an integer input, checked on the
/// host before a call.
struct ValueCheckDesc {
  enum Kind : uint8_t { Below = 0, Offsets = 1 };
  uint32_t input = 0;
  Kind kind = Below;
  SizeExpr bound;
  bool hasStep = false; // without a step: no limit
  SizeExpr step;
  bool distinct = false;
  std::string what;
};

struct FunctionDesc {
  std::string name;
  std::vector<SymbolDesc> symbols;
  std::vector<BufferDesc> buffers;
  std::vector<uint32_t> inputs;  // buffer ids
  std::vector<uint32_t> outputs; // buffer ids
  std::vector<LaunchDesc> launches;
  std::vector<SizeCheckDesc> checks;
  std::vector<ValueCheckDesc> valueChecks;
  std::vector<std::string> symbolNames; // for printing expressions
  /// Per buffer, the first and last launch that touches its storage (set by
  /// validation for temporaries; a temporary no launch touches spans the
  /// whole call). Temporaries whose spans are disjoint share workspace.
  std::vector<uint32_t> firstLaunch, lastLaunch;
};

struct WeightDesc {
  std::string name;
  int32_t dtype = 0;
  std::vector<int64_t> shape;
  uint64_t numBytes = 0; // set by validation
};

struct ModuleDesc {
  uint32_t version = 0;
  std::string producer;
  std::string target;
  std::vector<KernelDesc> kernels;
  std::vector<WeightDesc> weights;
  std::vector<FunctionDesc> functions;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::unordered_map<std::string, uint32_t> weightByName;
  std::unordered_map<std::string, uint32_t> functionByName;
};

/// Checks every rule of the format that the FlatBuffers verifier cannot
/// (index ranges, ranks, dtypes, well-formed expressions, unique names...)
/// and fills the derived fields. Throws hyla::Error(HYLA_ERROR_BAD_MODULE)
/// naming the offending element.
void validateModule(ModuleDesc &module);

struct DeviceState; // Device.h: everything that exists after prepare.

} // namespace hyla

struct hyla_module {
  /// The file's bytes, 8-byte aligned; KernelDesc points into them.
  std::unique_ptr<uint64_t[]> storage;
  size_t storageBytes = 0;
  hyla::ModuleDesc desc;
  /// Device pointer bound to each weight (0 = unbound), by weight index.
  std::vector<uint64_t> weightPointers;
  std::unique_ptr<hyla::DeviceState> device;
  /// Launch kernels that allow it with programmatic stream serialization
  /// (hyla_module_set_programmatic_launch; HYLA_PROGRAMMATIC_LAUNCH=0 turns
  /// the default off).
  bool programmaticLaunch = true;
  /// Read back and check the inputs that have value checks before a call
  /// (hyla_module_set_value_checks; HYLA_VALUE_CHECKS=0 turns the default
  /// off).
  bool valueChecks = true;
  /// Serializes calls that touch device state (caches, allocations).
  std::mutex mutex;

  hyla_module();
  ~hyla_module(); // in Device.cpp: releases GPU resources
};

namespace hyla {
/// Reads and validates a module from bytes (copied). Throws hyla::Error.
std::unique_ptr<hyla_module> loadModule(const void *data, size_t size);
} // namespace hyla

#endif // HYLA_RUNTIME_MODULEDESC_H
