//===- Device.h - GPU-side state of a prepared module -----------*- C++ -*-===//
#ifndef HYLA_RUNTIME_DEVICE_H
#define HYLA_RUNTIME_DEVICE_H

#include "CudaDriver.h"
#include "ModuleDesc.h"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace hyla {

/// Temporaries of one function live in one allocation, reused across calls
/// and grown (never shrunk) when a call needs more.
struct Workspace {
  CUdeviceptr base = 0;
  uint64_t capacity = 0;
  /// The last call's temporary sizes and the layout made for them: calls
  /// with the same shapes reuse it.
  std::vector<uint64_t> layoutBytes, layoutOffsets;
  uint64_t layoutTotal = 0;
};

/// Everything hyla_module_prepare creates; the destructor releases it all.
struct DeviceState {
  const CudaDriver *cu = nullptr;
  int32_t ordinal = -1;
  CUdevice device = 0;
  CUcontext context = nullptr; // the device's primary context (retained)
  std::string name;
  int ccMajor = 0;
  int ccMinor = 0;
  std::vector<CUmodule> cuModules;   // one per kernel (each has its own PTX)
  std::vector<CUfunction> functions; // by kernel index
  int smCount = 0;                   // 0 if the driver did not say
  /// By kernel index: the most CTAs the device runs at once (one wave), for
  /// kernels that allow programmatic launch; 0 = never launch it so.
  std::vector<int64_t> oneWaveCtas;
  std::vector<CUdeviceptr> ownedWeights; // by weight index; 0 = not ours
  std::vector<Workspace> workspaces;     // by function index
  std::unordered_set<CUdeviceptr> userAllocations; // hyla_device_alloc
  std::unordered_set<CUevent> userEvents;          // hyla_event_create

  DeviceState() = default;
  DeviceState(const DeviceState &) = delete;
  DeviceState &operator=(const DeviceState &) = delete;
  ~DeviceState();
};

/// Makes the module's primary context current for the scope of an API call
/// and restores whatever was current before (e.g. another device's context
/// that PyTorch uses), so callers' CUDA state is left as it was.
class ContextScope {
public:
  explicit ContextScope(const DeviceState &state);
  ~ContextScope();
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;

private:
  const CudaDriver *cu_;
  CUcontext previous_ = nullptr;
  bool restore_ = false;
};

/// The prepared device state, or throws INVALID_ARGUMENT telling the caller
/// to call hyla_module_prepare first.
DeviceState &requirePrepared(hyla_module &module, const char *api);

// Entry points implemented in Execute.cpp / RandomWeights.cpp. All throw
// hyla::Error; the C API in Api.cpp turns that into status + message.
void prepareModule(hyla_module &module, int32_t ordinal);
void bindWeight(hyla_module &module, const char *name, void *data);
void initRandomWeights(hyla_module &module, uint64_t seed, float scale);
void callFunction(hyla_module &module, int32_t fn, const hyla_tensor *inputs,
                  int32_t numInputs, const hyla_tensor *outputs,
                  int32_t numOutputs, void *stream, bool timed, float *timesMs,
                  int32_t numTimes);

} // namespace hyla

#endif // HYLA_RUNTIME_DEVICE_H
