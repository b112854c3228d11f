//===- Device.cpp - preparing a module for a GPU, device helpers ----------===//

#include "Device.h"

#include "Errors.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace hyla {

ContextScope::ContextScope(const DeviceState &state) : cu_(state.cu) {
  checkCuda(*cu_, cu_->ctxGetCurrent(&previous_), "cuCtxGetCurrent");
  if (previous_ != state.context) {
    checkCuda(*cu_, cu_->ctxSetCurrent(state.context), "cuCtxSetCurrent");
    restore_ = true;
  }
}

ContextScope::~ContextScope() {
  if (restore_)
    cu_->ctxSetCurrent(previous_);
}

DeviceState::~DeviceState() {
  if (!cu || !context)
    return;
  // Best effort and no throwing: a failure here leaves nothing to recover.
  CUcontext previous = nullptr;
  cu->ctxGetCurrent(&previous);
  cu->ctxSetCurrent(context);
  // Work still in flight may use the memory and kernels released below.
  cu->ctxSynchronize();
  for (CUevent event : userEvents)
    cu->eventDestroy(event);
  for (CUdeviceptr pointer : userAllocations)
    cu->memFree(pointer);
  for (const Workspace &workspace : workspaces)
    if (workspace.base)
      cu->memFree(workspace.base);
  for (CUdeviceptr pointer : ownedWeights)
    if (pointer)
      cu->memFree(pointer);
  for (CUmodule cuModule : cuModules)
    if (cuModule)
      cu->moduleUnload(cuModule);
  cu->ctxSetCurrent(previous);
  cu->devicePrimaryCtxRelease(device);
}

DeviceState &requirePrepared(hyla_module &module, const char *api) {
  if (!module.device)
    fail(HYLA_ERROR_INVALID_ARGUMENT, api,
         ": the module is not prepared; call hyla_module_prepare first");
  return *module.device;
}

namespace {

struct TargetArch {
  int major = 0;
  int minor = 0;
  char suffix = 0; // 'a' (arch-specific), 'f' (family) or 0
};

bool parseTarget(const std::string &target, TargetArch &arch) {
  if (target.compare(0, 3, "sm_") != 0)
    return false;
  size_t pos = 3;
  int number = 0;
  size_t digits = 0;
  while (pos < target.size() &&
         std::isdigit(static_cast<unsigned char>(target[pos]))) {
    number = number * 10 + (target[pos] - '0');
    ++pos;
    if (++digits > 4)
      return false;
  }
  if (digits < 2)
    return false;
  if (pos < target.size()) {
    if (pos + 1 != target.size() || (target[pos] != 'a' && target[pos] != 'f'))
      return false;
    arch.suffix = target[pos];
  }
  arch.major = number / 10;
  arch.minor = number % 10;
  return true;
}

/// sm_XYa code runs only on X.Y; sm_XYf on X.Z with Z >= Y; plain sm_XY PTX
/// is JIT-compiled for any device of at least X.Y.
void checkTarget(const std::string &target, const DeviceState &state) {
  TargetArch arch;
  if (!parseTarget(target, arch))
    fail(HYLA_ERROR_UNSUPPORTED, "module target '", target,
         "' is not a GPU target of the form sm_XY, sm_XYa or sm_XYf");
  bool ok;
  const char *rule;
  if (arch.suffix == 'a') {
    ok = state.ccMajor == arch.major && state.ccMinor == arch.minor;
    rule = "exactly";
  } else if (arch.suffix == 'f') {
    ok = state.ccMajor == arch.major && state.ccMinor >= arch.minor;
    rule = "the same major version as";
  } else {
    ok = state.ccMajor > arch.major ||
         (state.ccMajor == arch.major && state.ccMinor >= arch.minor);
    rule = "at least";
  }
  if (!ok)
    fail(HYLA_ERROR_UNSUPPORTED, "module target ", target,
         " needs a device of compute capability ", rule, " ", arch.major, ".",
         arch.minor, ", but device ", state.ordinal, " (", state.name,
         ") has compute capability ", state.ccMajor, ".", state.ccMinor,
         "; recompile the module for sm_", state.ccMajor, state.ccMinor,
         state.ccMajor >= 9 ? "a" : "");
}

/// Loads PTX with the JIT's logs captured; returns "" or the error.
std::string loadPtx(const DeviceState &state, const KernelDesc &kernel,
                    CUmodule &cuModule) {
  constexpr size_t kLogBytes = 16 * 1024;
  std::unique_ptr<char[]> errorLog(new char[kLogBytes]());
  std::unique_ptr<char[]> infoLog(new char[kLogBytes]());
  CUjit_option options[] = {
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {
      errorLog.get(),
      reinterpret_cast<void *>(static_cast<uintptr_t>(kLogBytes)),
      infoLog.get(),
      reinterpret_cast<void *>(static_cast<uintptr_t>(kLogBytes))};
  CUresult result =
      state.cu->moduleLoadDataEx(&cuModule, kernel.ptx, 4, options, values);
  if (result == CUDA_SUCCESS)
    return "";
  errorLog[kLogBytes - 1] = 0;
  infoLog[kLogBytes - 1] = 0;
  std::string message = strCat("loading its PTX (", kernel.ptxBytes,
                               " bytes) failed: ", state.cu->describe(result));
  if (errorLog[0])
    message += strCat("\nJIT error log:\n", errorLog.get());
  if (infoLog[0])
    message += strCat("\nJIT info log:\n", infoLog.get());
  return message;
}

void loadKernel(DeviceState &state, const KernelDesc &kernel, size_t index,
                int maxSharedOptin) {
  std::string where = strCat("kernel ", index, " (", quoted(kernel.name), ")");
  if (kernel.sharedMemBytes > static_cast<uint32_t>(maxSharedOptin))
    fail(HYLA_ERROR_UNSUPPORTED, where, " needs ", kernel.sharedMemBytes,
         " bytes of dynamic shared memory, but device ", state.ordinal,
         " allows at most ", maxSharedOptin, " per block");

  CUmodule cuModule = nullptr;
  std::string cubinError;
  if (kernel.cubin) {
    // Copy to 8-byte aligned memory: the driver parses the ELF in place.
    std::unique_ptr<uint64_t[]> image(
        new uint64_t[(kernel.cubinBytes + 7) / 8]);
    std::memcpy(image.get(), kernel.cubin, kernel.cubinBytes);
    CUresult result =
        state.cu->moduleLoadDataEx(&cuModule, image.get(), 0, nullptr, nullptr);
    if (result != CUDA_SUCCESS) {
      cubinError = strCat(
          "loading its cubin failed: ", state.cu->describe(result), "; ");
      cuModule = nullptr;
    }
  }
  if (!cuModule) {
    std::string ptxError = loadPtx(state, kernel, cuModule);
    if (!ptxError.empty())
      fail(HYLA_ERROR_CUDA, where, ": ", cubinError, ptxError);
  }
  state.cuModules[index] = cuModule;

  CUfunction function = nullptr;
  CUresult result =
      state.cu->moduleGetFunction(&function, cuModule, kernel.name.c_str());
  if (result != CUDA_SUCCESS)
    fail(HYLA_ERROR_CUDA, where, ": the code has no entry point named ",
         quoted(kernel.name), ": ", state.cu->describe(result));
  state.functions[index] = function;

  // Above 48 KiB the kernel must opt in to a larger dynamic allocation.
  if (kernel.sharedMemBytes > 48 * 1024)
    checkCuda(*state.cu,
              state.cu->funcSetAttribute(
                  function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                  static_cast<int>(kernel.sharedMemBytes)),
              strCat(where, ": setting ", kernel.sharedMemBytes,
                     " bytes of dynamic shared memory"));
  // Programmatic launch pays off where launch latency dominates: grids of
  // one wave (decode steps). Multi-wave grids launch normally (on H100 the
  // 7B prefill ran 2.7% slower with every launch programmatic).
  int perSM = 0;
  if (kernel.programmaticLaunch && state.smCount > 0 &&
      state.cu->occupancyMaxActiveBlocksPerMultiprocessor &&
      state.cu->occupancyMaxActiveBlocksPerMultiprocessor(
          &perSM, function, static_cast<int>(kernel.blockDim),
          kernel.sharedMemBytes) == CUDA_SUCCESS)
    state.oneWaveCtas[index] = int64_t(perSM) * state.smCount;
}

} // namespace

void prepareModule(hyla_module &module, int32_t ordinal) {
  std::lock_guard<std::mutex> lock(module.mutex);
  if (module.device) {
    if (module.device->ordinal == ordinal)
      return;
    fail(HYLA_ERROR_INVALID_ARGUMENT, "the module is already prepared for ",
         "device ", module.device->ordinal, "; load it again for device ",
         ordinal);
  }
  const CudaDriver &cu = cudaDriver();
  CUresult result = cu.init(0);
  if (result != CUDA_SUCCESS)
    fail(HYLA_ERROR_NO_GPU,
         "no usable GPU: cuInit failed: ", cu.describe(result));
  int count = 0;
  checkCuda(cu, cu.deviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0)
    fail(HYLA_ERROR_NO_GPU, "no GPU: the CUDA driver reports no devices");
  if (ordinal < 0 || ordinal >= count)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "device ", ordinal,
         " does not exist: ", "this machine has ", count, " CUDA device",
         count == 1 ? "" : "s");

  auto state = std::make_unique<DeviceState>();
  state->cu = &cu;
  state->ordinal = ordinal;
  checkCuda(cu, cu.deviceGet(&state->device, ordinal), "cuDeviceGet");
  CUcontext context = nullptr;
  checkCuda(cu, cu.devicePrimaryCtxRetain(&context, state->device),
            "cuDevicePrimaryCtxRetain");
  state->context = context; // from here on the destructor releases it
  ContextScope scope(*state);

  char name[256] = {};
  checkCuda(cu, cu.deviceGetName(name, sizeof(name) - 1, state->device),
            "cuDeviceGetName");
  state->name = name;
  checkCuda(cu,
            cu.deviceGetAttribute(&state->ccMajor,
                                  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                  state->device),
            "cuDeviceGetAttribute(compute capability)");
  checkCuda(cu,
            cu.deviceGetAttribute(&state->ccMinor,
                                  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                  state->device),
            "cuDeviceGetAttribute(compute capability)");
  int maxSharedOptin = 0;
  checkCuda(cu,
            cu.deviceGetAttribute(
                &maxSharedOptin,
                CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                state->device),
            "cuDeviceGetAttribute(max shared memory)");

  checkTarget(module.desc.target, *state);

  const ModuleDesc &desc = module.desc;
  state->cuModules.assign(desc.kernels.size(), nullptr);
  state->functions.assign(desc.kernels.size(), nullptr);
  state->oneWaveCtas.assign(desc.kernels.size(), 0);
  if (cu.deviceGetAttribute(&state->smCount,
                            CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                            state->device) != CUDA_SUCCESS)
    state->smCount = 0;
  for (size_t k = 0; k < desc.kernels.size(); ++k)
    loadKernel(*state, desc.kernels[k], k, maxSharedOptin);
  state->ownedWeights.assign(desc.weights.size(), 0);
  state->workspaces.assign(desc.functions.size(), Workspace());
  module.device = std::move(state);
}

} // namespace hyla

hyla_module::hyla_module() {
  const char *env = std::getenv("HYLA_PROGRAMMATIC_LAUNCH");
  programmaticLaunch = !(env && std::string(env) == "0");
  const char *checks = std::getenv("HYLA_VALUE_CHECKS");
  valueChecks = !(checks && std::string(checks) == "0");
}

hyla_module::~hyla_module() = default; // DeviceState releases GPU resources

//===----------------------------------------------------------------------===//
// C API: prepare and the small device helpers
//===----------------------------------------------------------------------===//

using namespace hyla;

namespace {

void requireModule(const hyla_module *module) {
  if (!module)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
}

CUdeviceptr toDevice(const void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

} // namespace

extern "C" {

hyla_status hyla_module_prepare(hyla_module *module, int32_t device) {
  return guarded([&] {
    requireModule(module);
    prepareModule(*module, device);
  });
}

hyla_status hyla_device_alloc(hyla_module *module, size_t bytes, void **ptr) {
  return guarded([&] {
    requireModule(module);
    if (!ptr)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_device_alloc: ptr is NULL");
    *ptr = nullptr;
    DeviceState &state = requirePrepared(*module, "hyla_device_alloc");
    if (bytes == 0)
      return;
    std::lock_guard<std::mutex> lock(module->mutex);
    ContextScope scope(state);
    CUdeviceptr pointer = 0;
    checkCuda(*state.cu, state.cu->memAlloc(&pointer, bytes),
              strCat("cuMemAlloc(", bytes, " bytes)"));
    state.userAllocations.insert(pointer);
    *ptr = reinterpret_cast<void *>(static_cast<uintptr_t>(pointer));
  });
}

hyla_status hyla_device_free(hyla_module *module, void *ptr) {
  return guarded([&] {
    requireModule(module);
    if (!ptr)
      return;
    DeviceState &state = requirePrepared(*module, "hyla_device_free");
    std::lock_guard<std::mutex> lock(module->mutex);
    auto it = state.userAllocations.find(toDevice(ptr));
    if (it == state.userAllocations.end())
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_device_free: ", ptr,
           " was not allocated by hyla_device_alloc on this module");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->memFree(*it), "cuMemFree");
    state.userAllocations.erase(it);
  });
}

hyla_status hyla_copy_to_device(hyla_module *module, void *dst, const void *src,
                                size_t bytes) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_copy_to_device");
    if (bytes == 0)
      return;
    if (!dst || !src)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_copy_to_device: NULL pointer");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->memcpyHtoD(toDevice(dst), src, bytes),
              strCat("cuMemcpyHtoD(", bytes, " bytes)"));
  });
}

hyla_status hyla_copy_to_host(hyla_module *module, void *dst, const void *src,
                              size_t bytes) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_copy_to_host");
    if (bytes == 0)
      return;
    if (!dst || !src)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_copy_to_host: NULL pointer");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->memcpyDtoH(dst, toDevice(src), bytes),
              strCat("cuMemcpyDtoH(", bytes, " bytes)"));
  });
}

hyla_status hyla_synchronize(hyla_module *module) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_synchronize");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->ctxSynchronize(), "cuCtxSynchronize");
  });
}

hyla_status hyla_device_info(hyla_module *module, char *name, size_t size,
                             int32_t *cc_major, int32_t *cc_minor) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_device_info");
    if (name && size > 0) {
      size_t n = std::min(size - 1, state.name.size());
      std::memcpy(name, state.name.data(), n);
      name[n] = 0;
    }
    if (cc_major)
      *cc_major = state.ccMajor;
    if (cc_minor)
      *cc_minor = state.ccMinor;
  });
}

hyla_status hyla_event_create(hyla_module *module, void **event) {
  return guarded([&] {
    requireModule(module);
    if (!event)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_event_create: event is NULL");
    *event = nullptr;
    DeviceState &state = requirePrepared(*module, "hyla_event_create");
    std::lock_guard<std::mutex> lock(module->mutex);
    ContextScope scope(state);
    CUevent created = nullptr;
    checkCuda(*state.cu, state.cu->eventCreate(&created, CU_EVENT_DEFAULT),
              "cuEventCreate");
    state.userEvents.insert(created);
    *event = created;
  });
}

hyla_status hyla_event_record(hyla_module *module, void *event, void *stream) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_event_record");
    if (!event)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_event_record: event is NULL");
    ContextScope scope(state);
    checkCuda(*state.cu,
              state.cu->eventRecord(static_cast<CUevent>(event),
                                    static_cast<CUstream>(stream)),
              "cuEventRecord");
  });
}

hyla_status hyla_event_elapsed_ms(hyla_module *module, void *start, void *end,
                                  float *ms) {
  return guarded([&] {
    requireModule(module);
    DeviceState &state = requirePrepared(*module, "hyla_event_elapsed_ms");
    if (!start || !end || !ms)
      fail(HYLA_ERROR_INVALID_ARGUMENT,
           "hyla_event_elapsed_ms: NULL event or result pointer");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->eventSynchronize(static_cast<CUevent>(end)),
              "cuEventSynchronize");
    checkCuda(*state.cu,
              state.cu->eventElapsedTime(ms, static_cast<CUevent>(start),
                                         static_cast<CUevent>(end)),
              "cuEventElapsedTime");
  });
}

hyla_status hyla_event_destroy(hyla_module *module, void *event) {
  return guarded([&] {
    requireModule(module);
    if (!event)
      return;
    DeviceState &state = requirePrepared(*module, "hyla_event_destroy");
    std::lock_guard<std::mutex> lock(module->mutex);
    auto it = state.userEvents.find(static_cast<CUevent>(event));
    if (it == state.userEvents.end())
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_event_destroy: ", event,
           " was not created by hyla_event_create on this module");
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->eventDestroy(*it), "cuEventDestroy");
    state.userEvents.erase(it);
  });
}

} // extern "C"
