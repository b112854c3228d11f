//===- CudaDriver.h - the CUDA driver API, opened at run time ---*- C++ -*-===//
//
// The runtime never links libcuda: it dlopens libcuda.so.1 on first use and
// resolves the exported symbols below (the real names, e.g. cuMemAlloc_v2,
// which cuda.h maps the plain names to). cuda.h is used for types only.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_CUDADRIVER_H
#define HYLA_RUNTIME_CUDADRIVER_H

#include <cuda.h>

#include <string>

namespace hyla {

struct CudaDriver {
  CUresult (*init)(unsigned int flags);
  CUresult (*driverGetVersion)(int *version);
  CUresult (*deviceGet)(CUdevice *device, int ordinal);
  CUresult (*deviceGetCount)(int *count);
  CUresult (*deviceGetName)(char *name, int length, CUdevice device);
  CUresult (*deviceGetAttribute)(int *value, CUdevice_attribute attribute,
                                 CUdevice device);
  CUresult (*devicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*devicePrimaryCtxRelease)(CUdevice device);
  CUresult (*ctxSetCurrent)(CUcontext context);
  CUresult (*ctxGetCurrent)(CUcontext *context);
  CUresult (*ctxSynchronize)();
  CUresult (*moduleLoadDataEx)(CUmodule *module, const void *image,
                               unsigned int numOptions, CUjit_option *options,
                               void **optionValues);
  CUresult (*moduleUnload)(CUmodule module);
  CUresult (*moduleGetFunction)(CUfunction *function, CUmodule module,
                                const char *name);
  CUresult (*funcSetAttribute)(CUfunction function,
                               CUfunction_attribute attribute, int value);
  CUresult (*launchKernel)(CUfunction function, unsigned int gridX,
                           unsigned int gridY, unsigned int gridZ,
                           unsigned int blockX, unsigned int blockY,
                           unsigned int blockZ, unsigned int sharedMemBytes,
                           CUstream stream, void **kernelParams, void **extra);
  /// Optional (null on drivers before CUDA 12.0): launches with attributes,
  /// used for programmatic dependent launch.
  CUresult (*launchKernelEx)(const CUlaunchConfig *config, CUfunction function,
                             void **kernelParams, void **extra);
  /// Optional (null before CUDA 12.0): encodes a TMA tensor map.
  CUresult (*tensorMapEncodeTiled)(
      CUtensorMap *tensorMap, CUtensorMapDataType dataType, cuuint32_t rank,
      void *globalAddress, const cuuint64_t *globalDim,
      const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
      const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
      CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
      CUtensorMapFloatOOBfill oobFill);
  /// Optional: CTAs of `function` one SM holds at once.
  CUresult (*occupancyMaxActiveBlocksPerMultiprocessor)(
      int *numBlocks, CUfunction function, int blockSize,
      size_t dynamicSMemSize);
  /// Optional (null where the driver lacks them): streams and CUDA graphs,
  /// for hyla_function_capture.
  CUresult (*streamCreate)(CUstream *stream, unsigned int flags);
  CUresult (*streamDestroy)(CUstream stream);
  CUresult (*streamBeginCapture)(CUstream stream, CUstreamCaptureMode mode);
  CUresult (*streamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*graphInstantiate)(CUgraphExec *exec, CUgraph graph,
                               unsigned long long flags);
  CUresult (*graphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*graphExecDestroy)(CUgraphExec exec);
  CUresult (*graphDestroy)(CUgraph graph);
  CUresult (*memAlloc)(CUdeviceptr *pointer, size_t bytes);
  CUresult (*memFree)(CUdeviceptr pointer);
  CUresult (*memcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
  CUresult (*memcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
  CUresult (*memAllocHost)(void **pointer, size_t bytes);
  CUresult (*memFreeHost)(void *pointer);
  CUresult (*streamSynchronize)(CUstream stream);
  /// Optional: value checks are skipped on a stream being captured.
  CUresult (*streamIsCapturing)(CUstream stream,
                                CUstreamCaptureStatus *status);
  CUresult (*eventCreate)(CUevent *event, unsigned int flags);
  CUresult (*eventRecord)(CUevent event, CUstream stream);
  CUresult (*eventSynchronize)(CUevent event);
  CUresult (*eventElapsedTime)(float *milliseconds, CUevent start, CUevent end);
  CUresult (*eventDestroy)(CUevent event);
  CUresult (*getErrorName)(CUresult error, const char **name);
  CUresult (*getErrorString)(CUresult error, const char **text);

  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(CUresult result) const;
};

/// The process-wide driver table. Opens libcuda.so.1 (or the file named by
/// the environment variable HYLA_LIBCUDA, for tests) on the first call.
/// Throws hyla::Error(HYLA_ERROR_NO_GPU) if the library or one of its
/// symbols is missing; later calls report the same failure.
const CudaDriver &cudaDriver();

/// Throws hyla::Error(HYLA_ERROR_CUDA) "<what> failed: <error>" unless
/// `result` is CUDA_SUCCESS.
void checkCuda(const CudaDriver &driver, CUresult result,
               const std::string &what);

} // namespace hyla

#endif // HYLA_RUNTIME_CUDADRIVER_H
