//===- CudaDriver.cpp - dlopen libcuda and resolve the entry points -------===//

#include "CudaDriver.h"

#include "Errors.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace hyla {

namespace {

struct DriverLoad {
  CudaDriver driver{};
  std::string error; // empty if loaded
};

template <typename Fn>
bool resolve(void *library, Fn &slot, const char *name, std::string &error,
             const char *fallbackName = nullptr) {
  void *symbol = dlsym(library, name);
  if (!symbol && fallbackName)
    symbol = dlsym(library, fallbackName);
  if (!symbol) {
    if (error.empty())
      error =
          strCat("the CUDA driver has no symbol ", name, " (driver too old?)");
    return false;
  }
  slot = reinterpret_cast<Fn>(symbol);
  return true;
}

DriverLoad loadDriver() {
  DriverLoad load;
  const char *path = std::getenv("HYLA_LIBCUDA");
  if (!path || !*path)
    path = "libcuda.so.1";
  // RTLD_LOCAL: the symbols stay private to us; libcuda is never closed
  // (unloading the driver under a live process is unsafe).
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *reason = dlerror();
    load.error = strCat("no CUDA driver: ", path, " could not be loaded (",
                        reason ? reason : "unknown reason",
                        "); this machine cannot run hyla modules");
    return load;
  }
  CudaDriver &d = load.driver;
  std::string &e = load.error;
  resolve(library, d.init, "cuInit", e);
  resolve(library, d.driverGetVersion, "cuDriverGetVersion", e);
  resolve(library, d.deviceGet, "cuDeviceGet", e);
  resolve(library, d.deviceGetCount, "cuDeviceGetCount", e);
  resolve(library, d.deviceGetName, "cuDeviceGetName", e);
  resolve(library, d.deviceGetAttribute, "cuDeviceGetAttribute", e);
  resolve(library, d.devicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", e);
  resolve(library, d.devicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
          e);
  resolve(library, d.ctxSetCurrent, "cuCtxSetCurrent", e);
  resolve(library, d.ctxGetCurrent, "cuCtxGetCurrent", e);
  resolve(library, d.ctxSynchronize, "cuCtxSynchronize", e);
  resolve(library, d.moduleLoadDataEx, "cuModuleLoadDataEx", e);
  resolve(library, d.moduleUnload, "cuModuleUnload", e);
  resolve(library, d.moduleGetFunction, "cuModuleGetFunction", e);
  resolve(library, d.funcSetAttribute, "cuFuncSetAttribute", e);
  resolve(library, d.launchKernel, "cuLaunchKernel", e);
  d.launchKernelEx = reinterpret_cast<decltype(d.launchKernelEx)>(
      dlsym(library, "cuLaunchKernelEx"));
  d.tensorMapEncodeTiled = reinterpret_cast<decltype(d.tensorMapEncodeTiled)>(
      dlsym(library, "cuTensorMapEncodeTiled"));
  d.occupancyMaxActiveBlocksPerMultiprocessor =
      reinterpret_cast<decltype(d.occupancyMaxActiveBlocksPerMultiprocessor)>(
          dlsym(library, "cuOccupancyMaxActiveBlocksPerMultiprocessor"));
  auto optional = [&](auto &slot, const char *name) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
        dlsym(library, name));
  };
  optional(d.streamCreate, "cuStreamCreate");
  optional(d.streamDestroy, "cuStreamDestroy_v2");
  optional(d.streamBeginCapture, "cuStreamBeginCapture_v2");
  optional(d.streamEndCapture, "cuStreamEndCapture");
  optional(d.graphInstantiate, "cuGraphInstantiateWithFlags");
  optional(d.graphLaunch, "cuGraphLaunch");
  optional(d.graphExecDestroy, "cuGraphExecDestroy");
  optional(d.graphDestroy, "cuGraphDestroy");
  optional(d.streamIsCapturing, "cuStreamIsCapturing");
  resolve(library, d.memAlloc, "cuMemAlloc_v2", e);
  resolve(library, d.memFree, "cuMemFree_v2", e);
  resolve(library, d.memcpyHtoD, "cuMemcpyHtoD_v2", e);
  resolve(library, d.memcpyDtoH, "cuMemcpyDtoH_v2", e);
  resolve(library, d.memAllocHost, "cuMemAllocHost_v2", e);
  resolve(library, d.memFreeHost, "cuMemFreeHost", e);
  resolve(library, d.streamSynchronize, "cuStreamSynchronize", e);
  resolve(library, d.eventCreate, "cuEventCreate", e);
  resolve(library, d.eventRecord, "cuEventRecord", e);
  resolve(library, d.eventSynchronize, "cuEventSynchronize", e);
  // cuda.h (12.8+) maps cuEventElapsedTime to _v2; older drivers only have
  // the original, which has the same signature.
  resolve(library, d.eventElapsedTime, "cuEventElapsedTime_v2", e,
          "cuEventElapsedTime");
  resolve(library, d.eventDestroy, "cuEventDestroy_v2", e);
  resolve(library, d.getErrorName, "cuGetErrorName", e);
  resolve(library, d.getErrorString, "cuGetErrorString", e);
  if (!e.empty())
    e = strCat("no usable CUDA driver in ", path, ": ", e,
               "; this machine cannot run hyla modules");
  return load;
}

} // namespace

const CudaDriver &cudaDriver() {
  static std::once_flag once;
  static DriverLoad *load = nullptr;
  std::call_once(once, [] { load = new DriverLoad(loadDriver()); });
  if (!load->error.empty())
    throw Error(HYLA_ERROR_NO_GPU, load->error);
  return load->driver;
}

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (getErrorName(result, &name) != CUDA_SUCCESS || !name)
    return strCat("CUDA error ", static_cast<int>(result));
  if (getErrorString(result, &text) != CUDA_SUCCESS || !text)
    return name;
  return strCat(name, " (", text, ")");
}

void checkCuda(const CudaDriver &driver, CUresult result,
               const std::string &what) {
  if (result != CUDA_SUCCESS)
    throw Error(HYLA_ERROR_CUDA,
                strCat(what, " failed: ", driver.describe(result)));
}

} // namespace hyla
