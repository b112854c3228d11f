//===- MockCuda.cpp - a CUDA driver on host memory, for tests -------------===//
//
// Implements the driver entry points hyla's runtime resolves, with host
// memory as "device" memory and host functions as kernels. It checks what a
// real driver would reject (no current context, unknown pointers) so tests
// catch those mistakes without a GPU. See MockCuda.h.
//
//===----------------------------------------------------------------------===//

#include "MockCuda.h"

#include <cuda.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

struct CUctx_st {
  int device;
};
struct CUfunc_st {
  std::string name;
};
struct CUmod_st {
  std::string image;
  std::vector<std::unique_ptr<CUfunc_st>> functions; // owned, like the driver
};
struct CUevent_st {
  double ms = 0;
  bool recorded = false;
};

namespace {

MockState state;
std::mutex mutex; // the runtime may call from several threads
CUctx_st primaryContext{0};
thread_local CUcontext current = nullptr;
std::set<uintptr_t> allocations;
bool initialized = false;

/// A launch recorded by a stream capture (the known kernels' parameters
/// by value, as logged), replayed by cuGraphLaunch.
struct CapturedLaunch {
  CUfunction function;
  MockLaunch launch;
};
struct MockGraph {
  std::vector<CapturedLaunch> launches;
};
CUstream capturing = nullptr; // the stream being captured, if any
std::vector<CapturedLaunch> captured;

const std::map<std::string, int> kParamCounts = {
    {"add_bias", 5}, {"scale2", 4}, {"copy_u16", 4}, {"tma_probe", 5}};

bool needContext() {
  if (current == &primaryContext)
    return true;
  ++state.callsWithoutContext;
  return false;
}

double nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch())
      .count();
}

template <typename T> T param(void **params, int i) {
  T value;
  std::memcpy(&value, params[i], sizeof(T));
  return value;
}

/// Runs a known kernel over ctaid.x * ntid.x + tid.x, like the PTX does.
void runKernel(const std::string &name, uint64_t threads, void **p) {
  if (name == "add_bias") {
    auto *x = param<float *>(p, 0);
    int64_t n = param<int64_t>(p, 1);
    auto *bias = param<float *>(p, 2);
    auto *t = param<float *>(p, 3);
    for (uint64_t i = 0; i < threads; ++i)
      if (static_cast<int64_t>(i) < n * 4)
        t[i] = x[i] + bias[i % 4];
  } else if (name == "scale2") {
    auto *src = param<float *>(p, 0);
    int64_t n = param<int64_t>(p, 1);
    auto *dst = param<float *>(p, 2);
    for (uint64_t i = 0; i < threads; ++i)
      if (static_cast<int64_t>(i) < n)
        dst[i] = src[i] + src[i];
  } else if (name == "copy_u16") {
    auto *src = param<uint16_t *>(p, 0);
    int64_t n = param<int64_t>(p, 1);
    auto *dst = param<uint16_t *>(p, 2);
    for (uint64_t i = 0; i < threads; ++i)
      if (static_cast<int64_t>(i) < n)
        dst[i] = src[i];
  }
}

} // namespace

extern "C" {

__attribute__((visibility("default"))) MockState *hyla_mock_state() {
  return &state;
}

__attribute__((visibility("default"))) void hyla_mock_reset() {
  std::lock_guard<std::mutex> lock(mutex);
  state.launches.clear();
  state.tensorMaps.clear();
  state.sharedMemAttributes.clear();
  state.callsWithoutContext = 0;
  state.failNextLaunch = 0;
  state.hasLaunchKernelEx = true;
  state.hasGraphs = true;
  state.capturedLaunches = state.graphLaunches = 0;
  state.computeMajor = 9;
  state.computeMinor = 0;
  state.deviceCount = 1;
}

CUresult cuInit(unsigned int) {
  initialized = true;
  return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  if (!initialized)
    return CUDA_ERROR_NOT_INITIALIZED;
  *count = state.deviceCount;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal < 0 || ordinal >= state.deviceCount)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "hyla mock device", static_cast<size_t>(length));
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice) {
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = state.computeMajor;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = state.computeMinor;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 232448; // H100
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132; // H100 SXM
    return CUDA_SUCCESS;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  std::lock_guard<std::mutex> lock(mutex);
  ++state.primaryRetains;
  *context = &primaryContext;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) {
  std::lock_guard<std::mutex> lock(mutex);
  if (state.primaryRetains == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --state.primaryRetains;
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  current = context;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *context) {
  *context = current;
  return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize() {
  return needContext() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **values) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  const char *text = static_cast<const char *>(image);
  bool isElf = std::memcmp(text,
                           "\x7f"
                           "ELF",
                           4) == 0;
  if (!isElf && !std::strstr(text, ".version")) {
    // Like the JIT: fail and explain in the error log, if one was given.
    for (unsigned i = 0; i + 1 < numOptions; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER &&
          options[i + 1] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
        size_t size = reinterpret_cast<uintptr_t>(values[i + 1]);
        std::strncpy(static_cast<char *>(values[i]),
                     "mock ptxas fatal: no .version directive", size - 1);
      }
    }
    return CUDA_ERROR_INVALID_PTX;
  }
  if (isElf && text[4] == 'B') // tests mark a broken cubin this way
    return CUDA_ERROR_INVALID_IMAGE;
  std::lock_guard<std::mutex> lock(mutex);
  ++state.liveModules;
  *module = new CUmod_st{isElf ? std::string("cubin") : std::string(text), {}};
  return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(mutex);
  --state.liveModules;
  delete module;
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  // A PTX module must mention the entry; a cubin has every name.
  if (module->image != "cubin" &&
      module->image.find(std::string(".entry ") + name) == std::string::npos &&
      module->image.find("placeholder") == std::string::npos)
    return CUDA_ERROR_NOT_FOUND;
  module->functions.push_back(std::make_unique<CUfunc_st>(CUfunc_st{name}));
  *function = module->functions.back().get();
  return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute,
                            int value) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ||
      value > 232448)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mutex);
  state.sharedMemAttributes.emplace_back(function->name, value);
  return CUDA_SUCCESS;
}

static CUresult mockLaunch(CUfunction function, const unsigned grid[3],
                const unsigned block[3], unsigned sharedMemBytes,
                CUstream stream, void **params, bool programmatic) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || block[0] == 0 ||
      block[0] * block[1] * block[2] > 1024)
    return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mutex);
  if (state.failNextLaunch) {
    auto code = static_cast<CUresult>(state.failNextLaunch);
    state.failNextLaunch = 0;
    return code;
  }
  MockLaunch launch{function->name,
                    {grid[0], grid[1], grid[2]},
                    {block[0], block[1], block[2]},
                    sharedMemBytes,
                    stream,
                    {},
                    programmatic};
  auto count = kParamCounts.find(function->name);
  if (count != kParamCounts.end())
    for (int i = 0; i < count->second; ++i)
      launch.params.push_back(param<uint64_t>(params, i));
  if (capturing && stream == capturing) {
    captured.push_back({function, std::move(launch)});
    ++state.capturedLaunches;
    return CUDA_SUCCESS;
  }
  state.launches.push_back(launch);
  runKernel(function->name, uint64_t(grid[0]) * block[0], params);
  return CUDA_SUCCESS;
}

CUresult cuTensorMapEncodeTiled(
    CUtensorMap *map, CUtensorMapDataType dataType, cuuint32_t rank,
    void *address, const cuuint64_t *dims, const cuuint64_t *strides,
    const cuuint32_t *box, const cuuint32_t *elementStrides,
    CUtensorMapInterleave, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion,
    CUtensorMapFloatOOBfill oobFill) {
  // CUDA's rules for tiled maps: rank 1..5, a 16-byte aligned address,
  // strides multiples of 16, boxes of 1..256.
  if (!map || rank < 1 || rank > 5 ||
      reinterpret_cast<uintptr_t>(address) % 16 != 0)
    return CUDA_ERROR_INVALID_VALUE;
  MockTensorMap m{static_cast<int>(dataType),
                  rank,
                  reinterpret_cast<uint64_t>(address),
                  {},
                  {},
                  {},
                  static_cast<int>(swizzle),
                  static_cast<int>(oobFill)};
  for (cuuint32_t i = 0; i < rank; ++i) {
    if (dims[i] == 0 || box[i] < 1 || box[i] > 256 || elementStrides[i] != 1)
      return CUDA_ERROR_INVALID_VALUE;
    m.dims.push_back(dims[i]);
    m.box.push_back(box[i]);
    if (i + 1 < rank) {
      if (strides[i] % 16 != 0)
        return CUDA_ERROR_INVALID_VALUE;
      m.strides.push_back(strides[i]);
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  std::memset(map, 0, sizeof(*map));
  map->opaque[0] = m.address;
  map->opaque[1] = state.tensorMaps.size();
  state.tensorMaps.push_back(std::move(m));
  return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction function, unsigned int gridX,
                        unsigned int gridY, unsigned int gridZ,
                        unsigned int blockX, unsigned int blockY,
                        unsigned int blockZ, unsigned int sharedMemBytes,
                        CUstream stream, void **params, void **) {
  const unsigned grid[3] = {gridX, gridY, gridZ};
  const unsigned block[3] = {blockX, blockY, blockZ};
  return mockLaunch(function, grid, block, sharedMemBytes, stream, params, false);
}

// Any kernel: 2048 threads an SM (no register or shared memory limit).
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks,
                                                     CUfunction, int blockSize,
                                                     size_t) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (blockSize <= 0)
    return CUDA_ERROR_INVALID_VALUE;
  *numBlocks = std::min(32, 2048 / blockSize);
  return CUDA_SUCCESS;
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction function,
                          void **params, void **) {
  if (!state.hasLaunchKernelEx)
    return CUDA_ERROR_NOT_SUPPORTED;
  bool programmatic = false;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    const CUlaunchAttribute &a = config->attrs[i];
    if (a.id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
      return CUDA_ERROR_INVALID_VALUE; // the runtime sets no other
    programmatic = a.value.programmaticStreamSerializationAllowed != 0;
  }
  const unsigned grid[3] = {config->gridDimX, config->gridDimY,
                            config->gridDimZ};
  const unsigned block[3] = {config->blockDimX, config->blockDimY,
                             config->blockDimZ};
  return mockLaunch(function, grid, block, config->sharedMemBytes,
                config->hStream, params, programmatic);
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  std::memset(memory, 0xcd, bytes); // like uninitialized device memory
  std::lock_guard<std::mutex> lock(mutex);
  allocations.insert(reinterpret_cast<uintptr_t>(memory));
  ++state.liveAllocations;
  *pointer = reinterpret_cast<uintptr_t>(memory);
  return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocations.erase(pointer))
    return CUDA_ERROR_INVALID_VALUE;
  --state.liveAllocations;
  std::free(reinterpret_cast<void *>(pointer));
  return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void **pointer, size_t bytes) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  *pointer = std::malloc(bytes);
  std::lock_guard<std::mutex> lock(mutex);
  ++state.pinnedAllocations;
  return *pointer ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemFreeHost(void *pointer) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::free(pointer);
  std::lock_guard<std::mutex> lock(mutex);
  --state.pinnedAllocations;
  return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(mutex);
  *stream = reinterpret_cast<CUstream>(new char);
  ++state.liveStreams;
  return CUDA_SUCCESS;
}

CUresult cuStreamDestroy_v2(CUstream stream) {
  std::lock_guard<std::mutex> lock(mutex);
  delete reinterpret_cast<char *>(stream);
  --state.liveStreams;
  return CUDA_SUCCESS;
}

CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(mutex);
  if (!state.hasGraphs)
    return CUDA_ERROR_NOT_SUPPORTED;
  if (!stream || capturing)
    return CUDA_ERROR_INVALID_VALUE; // the legacy stream cannot capture
  capturing = stream;
  captured.clear();
  return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  std::lock_guard<std::mutex> lock(mutex);
  if (stream != capturing)
    return CUDA_ERROR_INVALID_VALUE;
  capturing = nullptr;
  auto *g = new MockGraph{std::move(captured)};
  captured.clear();
  *graph = reinterpret_cast<CUgraph>(g);
  ++state.liveGraphs;
  return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                     unsigned long long) {
  // The executable graph is the graph itself (freed by cuGraphDestroy).
  *exec = reinterpret_cast<CUgraphExec>(graph);
  return graph ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGraphExecDestroy(CUgraphExec) { return CUDA_SUCCESS; }

CUresult cuGraphDestroy(CUgraph graph) {
  std::lock_guard<std::mutex> lock(mutex);
  delete reinterpret_cast<MockGraph *>(graph);
  --state.liveGraphs;
  return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  const auto *g = reinterpret_cast<const MockGraph *>(exec);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++state.graphLaunches;
  }
  for (const CapturedLaunch &c : g->launches) {
    std::vector<uint64_t> values = c.launch.params;
    std::vector<void *> pointers;
    for (uint64_t &v : values)
      pointers.push_back(&v);
    CUresult r = mockLaunch(c.function, c.launch.grid, c.launch.block,
                            c.launch.sharedMemBytes, stream, pointers.data(),
                            c.launch.programmatic);
    if (r != CUDA_SUCCESS)
      return r;
  }
  return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus *status) {
  *status = capturing && stream == capturing ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                                             : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream) {
  return needContext() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult cuEventCreate(CUevent *event, unsigned int) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard<std::mutex> lock(mutex);
  ++state.liveEvents;
  *event = new CUevent_st;
  return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent event, CUstream) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  event->ms = nowMs();
  event->recorded = true;
  return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent) {
  return needContext() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
  if (!needContext())
    return CUDA_ERROR_INVALID_CONTEXT;
  if (!start->recorded || !end->recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *ms = static_cast<float>(end->ms - start->ms);
  return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent event) {
  std::lock_guard<std::mutex> lock(mutex);
  --state.liveEvents;
  delete event;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    break;
  case CUDA_ERROR_INVALID_CONTEXT:
    *name = "CUDA_ERROR_INVALID_CONTEXT";
    break;
  case CUDA_ERROR_INVALID_PTX:
    *name = "CUDA_ERROR_INVALID_PTX";
    break;
  case CUDA_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    break;
  case CUDA_ERROR_NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
    *name = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    break;
  default:
    *name = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  const char *name = nullptr;
  if (cuGetErrorName(error, &name) != CUDA_SUCCESS)
    return CUDA_ERROR_INVALID_VALUE;
  *text = "mock driver error";
  return CUDA_SUCCESS;
}

} // extern "C"
