//===- Execute.cpp - running a function's launch plan ---------------------===//
//
// A call binds the symbols from the inputs, evaluates every buffer's shape,
// resolves each buffer to device memory (caller inputs/outputs, bound
// weights, the function's cached workspace for temporaries, the storage of
// a view's base), plans every launch (grids and kernel parameters) and only
// then enqueues, so that shape errors never leave a half-enqueued call.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "Device.h"
#include "Errors.h"
#include "Shapes.h"

#include <algorithm>
#include <cstring>

namespace hyla {

namespace {

// Temporaries start at 256-byte boundaries (what cuMemAlloc guarantees for
// a single allocation), and workspaces grow in 2 MiB steps.
constexpr uint64_t kTemporaryAlignment = 256;
constexpr uint64_t kWorkspaceGranularity = 2u << 20;

constexpr int64_t kMaxGrid[3] = {2147483647, 65535, 65535};

uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

std::string formatDims(const int64_t *dims, size_t rank) {
  std::string text = "[";
  for (size_t d = 0; d < rank; ++d)
    text += strCat(d > 0 ? ", " : "", dims[d]);
  return text + "]";
}

const FunctionDesc &requireFunction(const hyla_module &module, int32_t fn) {
  if (fn < 0 || static_cast<size_t>(fn) >= module.desc.functions.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, "function index ", fn,
         " is out of range (the module has ", module.desc.functions.size(),
         " functions)");
  return module.desc.functions[fn];
}

void checkOutputs(const FunctionDesc &function, const BoundShapes &shapes,
                  const hyla_tensor *inputs, const hyla_tensor *outputs,
                  int32_t numOutputs) {
  std::string fn = strCat("function ", quoted(function.name));
  if (numOutputs < 0 ||
      static_cast<size_t>(numOutputs) != function.outputs.size())
    fail(HYLA_ERROR_INVALID_ARGUMENT, fn, " has ", function.outputs.size(),
         " outputs, but ", numOutputs, " were given");
  if (numOutputs > 0 && !outputs)
    fail(HYLA_ERROR_INVALID_ARGUMENT, fn, ": outputs is NULL");
  for (size_t i = 0; i < function.outputs.size(); ++i) {
    uint32_t id = function.outputs[i];
    const BufferDesc &buffer = function.buffers[id];
    const hyla_tensor &tensor = outputs[i];
    const int64_t *expected = shapes.dims[id].data();
    size_t rank = buffer.dims.size();
    bool same = tensor.dtype == buffer.dtype && tensor.rank >= 0 &&
                static_cast<size_t>(tensor.rank) == rank &&
                std::equal(expected, expected + rank, tensor.dims);
    if (!same)
      fail(HYLA_ERROR_SHAPE, fn, " output ", i, " is ", dtypeName(tensor.dtype),
           tensor.rank >= 0 && tensor.rank <= HYLA_MAX_RANK
               ? formatDims(tensor.dims, static_cast<size_t>(tensor.rank))
               : strCat("[rank ", tensor.rank, "]"),
           " but the function produces ", dtypeName(buffer.dtype),
           formatDims(expected, rank), " (", describeBuffer(function, id), ")");
    if (buffer.bufferKind() == BufferKind::Input &&
        tensor.data != inputs[buffer.index].data)
      fail(HYLA_ERROR_INVALID_ARGUMENT, fn, " output ", i, " is input ",
           buffer.index, " updated in place: pass the same tensor for both");
  }
  // Any other output must not share bytes with an input or another
  // output: kernels read inputs while others write outputs (and may read
  // them before waiting for the kernel ahead of them).
  auto overlaps = [](const void *a, uint64_t aBytes, const void *b,
                     uint64_t bBytes) {
    auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
    return aBytes && bBytes && x < y + bBytes && y < x + aBytes;
  };
  for (size_t i = 0; i < function.outputs.size(); ++i) {
    uint32_t id = function.outputs[i];
    if (function.buffers[id].bufferKind() == BufferKind::Input)
      continue; // updated in place, checked above
    uint64_t bytes = shapes.bytes[id];
    for (size_t j = 0; j < function.inputs.size(); ++j)
      if (overlaps(outputs[i].data, bytes, inputs[j].data,
                   shapes.bytes[function.inputs[j]]))
        fail(HYLA_ERROR_INVALID_ARGUMENT, fn, " output ", i,
             " overlaps input ", j,
             " in memory; only outputs the function updates in place may "
             "share an input's memory");
    for (size_t k = 0; k < i; ++k)
      if (function.buffers[function.outputs[k]].bufferKind() !=
              BufferKind::Input &&
          overlaps(outputs[i].data, bytes, outputs[k].data,
                   shapes.bytes[function.outputs[k]]))
        fail(HYLA_ERROR_INVALID_ARGUMENT, fn, " outputs ", k, " and ", i,
             " overlap in memory");
  }
}

/// Places the temporaries in the workspace: each at the lowest offset that
/// overlaps no temporary whose launches overlap its own (first fit in
/// buffer order), so a value dead before another is born lends it its
/// bytes. Launches run in stream order and every kernel waits for the one
/// before it before it writes memory; what it reads before that wait is
/// live across the launch ahead of it, so never shares bytes with what
/// that launch writes or last reads.
void layoutTemporaries(const FunctionDesc &function, const BoundShapes &shapes,
                       Workspace &workspace) {
  size_t n = function.buffers.size();
  auto isTemporary = [&](size_t id) {
    return function.buffers[id].bufferKind() == BufferKind::Temporary;
  };
  // Every call checks this; the layout below runs when sizes change.
  bool same = workspace.layoutBytes.size() == n;
  for (size_t id = 0; same && id < n; ++id)
    same = !isTemporary(id) || workspace.layoutBytes[id] == shapes.bytes[id];
  if (same)
    return;
  std::vector<uint64_t> bytes(n, 0);
  for (size_t id = 0; id < n; ++id)
    if (isTemporary(id))
      bytes[id] = shapes.bytes[id];
  struct Placed { uint64_t begin, end; uint32_t first, last; };
  std::vector<Placed> placed;
  std::vector<uint64_t> offsets(n, 0);
  uint64_t total = 0;
  std::vector<const Placed *> live;
  for (size_t id = 0; id < n; ++id) {
    if (!isTemporary(id))
      continue;
    uint32_t first = function.firstLaunch[id], last = function.lastLaunch[id];
    live.clear();
    for (const Placed &p : placed)
      if (p.first <= last && first <= p.last)
        live.push_back(&p);
    std::sort(live.begin(), live.end(),
              [](const Placed *a, const Placed *b) { return a->begin < b->begin; });
    uint64_t offset = 0, size = alignUp(bytes[id], kTemporaryAlignment);
    for (const Placed *p : live) {
      if (offset + size <= p->begin)
        break;
      offset = std::max(offset, p->end);
    }
    offsets[id] = offset;
    placed.push_back({offset, offset + size, first, last});
    total = std::max(total, offset + size);
  }
  workspace.layoutBytes = std::move(bytes);
  workspace.layoutOffsets = std::move(offsets);
  workspace.layoutTotal = total;
}

/// The device address of every buffer for one call.
std::vector<CUdeviceptr> resolveBuffers(hyla_module &module, int32_t fn,
                                        const BoundShapes &shapes,
                                        const hyla_tensor *inputs,
                                        const hyla_tensor *outputs) {
  const FunctionDesc &function = module.desc.functions[fn];
  DeviceState &state = *module.device;
  std::string where = strCat("function ", quoted(function.name));
  std::vector<CUdeviceptr> addresses(function.buffers.size(), 0);

  // Lay out temporaries in the workspace and grow it if needed.
  Workspace &workspace = state.workspaces[fn];
  layoutTemporaries(function, shapes, workspace);
  const std::vector<uint64_t> &offsets = workspace.layoutOffsets;
  uint64_t workspaceBytes = workspace.layoutTotal;
  if (workspaceBytes > workspace.capacity) {
    if (workspace.base) {
      // Calls already enqueued may still use the old workspace.
      checkCuda(*state.cu, state.cu->ctxSynchronize(),
                "cuCtxSynchronize (before growing the workspace)");
      checkCuda(*state.cu, state.cu->memFree(workspace.base), "cuMemFree");
      workspace.base = 0;
      workspace.capacity = 0;
    }
    uint64_t bytes = alignUp(workspaceBytes, kWorkspaceGranularity);
    CUdeviceptr base = 0;
    checkCuda(*state.cu, state.cu->memAlloc(&base, bytes),
              strCat(where, ": allocating ", bytes,
                     " bytes for temporaries (cuMemAlloc)"));
    workspace.base = base;
    workspace.capacity = bytes;
  }

  for (size_t id = 0; id < function.buffers.size(); ++id) {
    const BufferDesc &buffer = function.buffers[id];
    uint64_t bytes = shapes.bytes[id];
    switch (buffer.bufferKind()) {
    case BufferKind::Input:
    case BufferKind::Output: {
      bool isInput = buffer.bufferKind() == BufferKind::Input;
      const hyla_tensor &tensor =
          isInput ? inputs[buffer.index] : outputs[buffer.index];
      if (!tensor.data && bytes > 0)
        fail(HYLA_ERROR_INVALID_ARGUMENT, where, " ",
             isInput ? "input " : "output ", buffer.index,
             ": data is NULL but the tensor holds ", bytes, " bytes");
      addresses[id] =
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(tensor.data));
      break;
    }
    case BufferKind::Weight: {
      const WeightDesc &weight = module.desc.weights[buffer.index];
      uint64_t pointer = module.weightPointers[buffer.index];
      if (!pointer && weight.numBytes > 0)
        fail(HYLA_ERROR_INVALID_ARGUMENT, where, " needs weight ",
             quoted(weight.name), ", which is not bound: call ",
             "hyla_module_bind_weight or hyla_module_init_random_weights");
      addresses[id] = pointer;
      break;
    }
    case BufferKind::Temporary:
      addresses[id] = workspace.base + offsets[id];
      break;
    case BufferKind::View: {
      uint64_t baseBytes = shapes.bytes[buffer.index];
      if (bytes > baseBytes)
        fail(HYLA_ERROR_SHAPE, where, " buffer ", id, " (",
             describeBuffer(function, static_cast<uint32_t>(id)),
             ", a view of buffer ", buffer.index, ") needs ", bytes,
             " bytes, but buffer ", buffer.index, " (",
             describeBuffer(function, buffer.index), ") has only ", baseBytes,
             " bytes", symbolContext(function, shapes.symbols));
      // Earlier buffers are resolved already; views share their storage.
      addresses[id] = addresses[buffer.storageBuffer];
      break;
    }
    }
  }
  return addresses;
}

struct PlannedLaunch {
  size_t launch;
  unsigned grid[3];
  size_t firstParam; // into LaunchPlan::params
  size_t numParams;
};

/// One kernel parameter: entry `index` of LaunchPlan::values, or of
/// LaunchPlan::tensorMaps.
struct ParamRef {
  bool tensorMap;
  size_t index;
};

/// Grids and kernel parameter values for every launch that runs.
struct LaunchPlan {
  std::vector<PlannedLaunch> launches;
  std::vector<ParamRef> params; // per param: pointer, dynamic dims, [map]
  std::vector<uint64_t> values;
  std::vector<CUtensorMap> tensorMaps; // 64-byte aligned, as CUDA needs
  void *param(size_t i) {
    const ParamRef &ref = params[i];
    return ref.tensorMap ? static_cast<void *>(&tensorMaps[ref.index])
                         : static_cast<void *>(&values[ref.index]);
  }
};

CUtensorMapDataType tensorMapType(int32_t dtype) {
  switch (dtype) {
  case HYLA_BF16:
    return CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  case HYLA_F16:
    return CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  case HYLA_I32:
    return CU_TENSOR_MAP_DATA_TYPE_INT32;
  default: // validation admits only 2- and 4-byte dtypes
    return CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  }
}

/// The tensor map of a param's buffer at `address` with row-major `dims`:
/// CUDA lists dims innermost first and strides in bytes for all but the
/// innermost. Out-of-bounds elements read as zero (no NaN fill).
CUtensorMap encodeTensorMap(const CudaDriver &cu, const std::string &where,
                            const KernelParamDesc &param, CUdeviceptr address,
                            const Dims &dims) {
  if (!cu.tensorMapEncodeTiled)
    fail(HYLA_ERROR_CUDA, where, ": the kernel reads through a tensor map, "
         "but the CUDA driver has no cuTensorMapEncodeTiled (CUDA 12.0+)");
  const uint32_t rank = param.rank;
  const uint64_t elementBytes = dtypeSize(param.dtype);
  cuuint64_t globalDim[5], globalStrides[4];
  cuuint32_t box[5], elementStrides[5];
  uint64_t stride = elementBytes;
  for (uint32_t i = 0; i < rank; ++i) {
    const uint32_t d = rank - 1 - i; // row-major dim of CUDA's dim i
    globalDim[i] = static_cast<cuuint64_t>(dims[d]);
    box[i] = param.tensorMapBox[d];
    elementStrides[i] = 1;
    if (i > 0)
      globalStrides[i - 1] = stride;
    stride *= static_cast<uint64_t>(dims[d]);
  }
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
  switch (param.tensorMapSwizzle) {
  case 32: swizzle = CU_TENSOR_MAP_SWIZZLE_32B; break;
  case 64: swizzle = CU_TENSOR_MAP_SWIZZLE_64B; break;
  case 128: swizzle = CU_TENSOR_MAP_SWIZZLE_128B; break;
  default: break;
  }
  CUtensorMap map;
  CUresult result = cu.tensorMapEncodeTiled(
      &map, tensorMapType(param.dtype), rank,
      reinterpret_cast<void *>(static_cast<uintptr_t>(address)), globalDim,
      globalStrides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
      swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS) {
    std::string shape;
    for (uint32_t d = 0; d < rank; ++d)
      shape += (d ? "x" : "") + std::to_string(dims[d]);
    fail(HYLA_ERROR_CUDA, where, ": cuTensorMapEncodeTiled rejected the ",
         shape, " ", dtypeName(param.dtype), " tensor at 0x", std::hex,
         address, std::dec, " (TMA needs a 16-byte aligned address, rows of a "
         "multiple of 16 bytes and dims in 1..2^32): ", cu.describe(result));
  }
  return map;
}

LaunchPlan planLaunches(const CudaDriver &cu, const hyla_module &module,
                        const FunctionDesc &function, const BoundShapes &shapes,
                        const std::vector<CUdeviceptr> &addresses) {
  LaunchPlan plan;
  for (size_t l = 0; l < function.launches.size(); ++l) {
    const LaunchDesc &launch = function.launches[l];
    const KernelDesc &kernel = module.desc.kernels[launch.kernel];
    PlannedLaunch planned{l, {0, 0, 0}, plan.params.size(), 0};
    bool empty = false;
    int64_t grid[3];
    for (int axis = 0; axis < 3; ++axis) {
      grid[axis] = evaluateGrid(function, l, axis, shapes.symbols);
      if (grid[axis] < 0)
        fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), " launch ",
             l, " (kernel ", quoted(kernel.name), "): grid ", "xyz"[axis],
             " is negative (", grid[axis], ")",
             symbolContext(function, shapes.symbols));
      empty |= grid[axis] == 0;
    }
    if (empty) // nothing to do for these sizes (e.g. zero tokens)
      continue;
    for (int axis = 0; axis < 3; ++axis) {
      if (grid[axis] > kMaxGrid[axis])
        fail(HYLA_ERROR_SHAPE, "function ", quoted(function.name), " launch ",
             l, " (kernel ", quoted(kernel.name), "): grid ", "xyz"[axis],
             " is ", grid[axis], ", above the CUDA limit ", kMaxGrid[axis],
             symbolContext(function, shapes.symbols));
      planned.grid[axis] = static_cast<unsigned>(grid[axis]);
    }
    // Kernel ABI: per param, the 64-bit pointer, then each dynamic dim,
    // then its tensor map if it has one.
    auto value = [&](uint64_t v) {
      plan.params.push_back({false, plan.values.size()});
      plan.values.push_back(v);
    };
    for (size_t a = 0; a < launch.args.size(); ++a) {
      uint32_t id = launch.args[a];
      const KernelParamDesc &param = kernel.params[a];
      value(addresses[id]);
      for (uint32_t dim : param.dynamicDims)
        value(static_cast<uint64_t>(shapes.dims[id][dim]));
      if (param.hasTensorMap) {
        plan.params.push_back({true, plan.tensorMaps.size()});
        plan.tensorMaps.push_back(encodeTensorMap(
            cu,
            strCat("function ", quoted(function.name), " launch ", l,
                   " (kernel ", quoted(kernel.name), ") param ", a),
            param, addresses[id], shapes.dims[id]));
      }
    }
    planned.numParams = plan.params.size() - planned.firstParam;
    plan.launches.push_back(planned);
  }
  return plan;
}

/// Destroys the events of a timed call however it ends.
struct EventPairs {
  const CudaDriver *cu;
  std::vector<CUevent> events;
  ~EventPairs() {
    for (CUevent event : events)
      if (event)
        cu->eventDestroy(event);
  }
};

} // namespace

void bindWeight(hyla_module &module, const char *name, void *data) {
  if (!name)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_module_bind_weight: name is NULL");
  auto it = module.desc.weightByName.find(name);
  if (it == module.desc.weightByName.end())
    fail(HYLA_ERROR_INVALID_ARGUMENT, "the module has no weight named ",
         quoted(name));
  const WeightDesc &weight = module.desc.weights[it->second];
  if (!data && weight.numBytes > 0)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "weight ", quoted(name),
         ": data is NULL");
  std::lock_guard<std::mutex> lock(module.mutex);
  if (module.device && module.device->ownedWeights[it->second]) {
    // Replace our random initialization with the caller's memory.
    DeviceState &state = *module.device;
    ContextScope scope(state);
    checkCuda(*state.cu, state.cu->ctxSynchronize(), "cuCtxSynchronize");
    checkCuda(*state.cu, state.cu->memFree(state.ownedWeights[it->second]),
              "cuMemFree");
    state.ownedWeights[it->second] = 0;
  }
  module.weightPointers[it->second] =
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data));
}

/// Enqueues the planned launches on `cuStream`; with `events` (two a
/// launch) records them around each launch.
void enqueueLaunches(hyla_module &module, const FunctionDesc &function,
                     LaunchPlan &plan, CUstream cuStream,
                     std::vector<CUevent> *events) {
  DeviceState &state = *module.device;
  const CudaDriver &cu = *state.cu;
  const bool timed = events != nullptr;
  // Programmatic dependent launch needs sm_90+ and cuLaunchKernelEx.
  const bool programmatic = module.programmaticLaunch && state.ccMajor >= 9 &&
                            cu.launchKernelEx != nullptr;
  std::vector<void *> params;
  for (size_t p = 0; p < plan.launches.size(); ++p) {
    const PlannedLaunch &planned = plan.launches[p];
    const LaunchDesc &launch = function.launches[planned.launch];
    const KernelDesc &kernel = module.desc.kernels[launch.kernel];
    params.resize(planned.numParams);
    for (size_t v = 0; v < planned.numParams; ++v)
      params[v] = plan.param(planned.firstParam + v);
    if (timed)
      checkCuda(cu, cu.eventRecord((*events)[2 * p], cuStream),
                "cuEventRecord");
    void **kernelParams = params.empty() ? nullptr : params.data();
    const int64_t ctas = int64_t(planned.grid[0]) * planned.grid[1] *
                         planned.grid[2];
    // A kernel may read, before its wait, what the launch just before it
    // in the list does not write (hylac's early inputs), relying on every
    // launch before that one having finished. That holds only when the
    // launch ahead of it in the stream is that one: after a skipped (empty)
    // launch, launch normally.
    const bool predecessorRan =
        p == 0 ? planned.launch == 0
               : plan.launches[p - 1].launch + 1 == planned.launch;
    const bool overlap = programmatic && kernel.programmaticLaunch &&
                         predecessorRan &&
                         ctas <= state.oneWaveCtas[launch.kernel];
    CUresult result;
    if (overlap) {
      // The kernel waits (griddepcontrol.wait) for the grid before it, so it
      // may be scheduled while that grid drains.
      CUlaunchAttribute attribute{};
      attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
      attribute.value.programmaticStreamSerializationAllowed = 1;
      CUlaunchConfig config{};
      config.gridDimX = planned.grid[0];
      config.gridDimY = planned.grid[1];
      config.gridDimZ = planned.grid[2];
      config.blockDimX = kernel.blockDim;
      config.blockDimY = config.blockDimZ = 1;
      config.sharedMemBytes = kernel.sharedMemBytes;
      config.hStream = cuStream;
      config.attrs = &attribute;
      config.numAttrs = 1;
      result = cu.launchKernelEx(&config, state.functions[launch.kernel],
                                 kernelParams, nullptr);
    } else {
      result = cu.launchKernel(state.functions[launch.kernel], planned.grid[0],
                               planned.grid[1], planned.grid[2],
                               kernel.blockDim, 1, 1, kernel.sharedMemBytes,
                               cuStream, kernelParams, nullptr);
    }
    if (result != CUDA_SUCCESS)
      fail(HYLA_ERROR_CUDA, "function ", quoted(function.name), " launch ",
           planned.launch, " (kernel ", quoted(kernel.name),
           "): ",
           overlap ? "cuLaunchKernelEx" : "cuLaunchKernel",
           "(grid ", planned.grid[0], "x", planned.grid[1],
           "x", planned.grid[2], ", block ", kernel.blockDim,
           ", shared memory ", kernel.sharedMemBytes,
           ") failed: ", cu.describe(result));
    if (timed)
      checkCuda(cu, cu.eventRecord((*events)[2 * p + 1], cuStream),
                "cuEventRecord");
  }

}

/// The function's value checks (token ids, slots, lengths, offsets) on the
/// inputs' values, read back once `stream` has run what came before (the
/// caller may have queued the writes of those inputs on it). Skipped on a
/// stream being captured into a graph, whose replays get new values.
void checkValues(const hyla_module &module, const FunctionDesc &function,
                 const BoundShapes &shapes, const hyla_tensor *inputs,
                 CUstream stream) {
  if (function.valueChecks.empty() || !module.valueChecks)
    return;
  const CudaDriver &cu = *module.device->cu;
  if (cu.streamIsCapturing) {
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    if (cu.streamIsCapturing(stream, &status) == CUDA_SUCCESS &&
        status != CU_STREAM_CAPTURE_STATUS_NONE)
      return;
  }
  checkCuda(cu, cu.streamSynchronize(stream),
            strCat("function ", quoted(function.name),
                   ": cuStreamSynchronize before reading inputs back for "
                   "their value checks"));
  for (size_t c = 0; c < function.valueChecks.size(); ++c) {
    uint32_t input = function.valueChecks[c].input;
    uint32_t id = function.inputs[input];
    int32_t dtype = function.buffers[id].dtype;
    uint64_t bytes = shapes.bytes[id];
    std::vector<int64_t> values(bytes / dtypeSize(dtype));
    if (bytes > 0) {
      std::vector<int32_t> narrow(dtype == HYLA_I32 ? values.size() : 0);
      void *host = dtype == HYLA_I32 ? static_cast<void *>(narrow.data())
                                     : static_cast<void *>(values.data());
      checkCuda(cu,
                cu.memcpyDtoH(host,
                              static_cast<CUdeviceptr>(
                                  reinterpret_cast<uintptr_t>(inputs[input].data)),
                              bytes),
                strCat("function ", quoted(function.name), " input ", input,
                       ": cuMemcpyDtoH of its values"));
      std::copy(narrow.begin(), narrow.end(), values.begin());
    }
    checkInputValues(function, shapes, c, values);
  }
}

void callFunction(hyla_module &module, int32_t fn, const hyla_tensor *inputs,
                  int32_t numInputs, const hyla_tensor *outputs,
                  int32_t numOutputs, void *stream, bool timed, float *timesMs,
                  int32_t numTimes) {
  const FunctionDesc &function = requireFunction(module, fn);
  DeviceState &state = requirePrepared(
      module, timed ? "hyla_function_call_timed" : "hyla_function_call");
  if (timed && !timesMs && numTimes > 0)
    fail(HYLA_ERROR_INVALID_ARGUMENT,
         "hyla_function_call_timed: times_ms is NULL");
  if (timed && (numTimes < 0 ||
                static_cast<size_t>(numTimes) != function.launches.size()))
    fail(HYLA_ERROR_INVALID_ARGUMENT, "function ", quoted(function.name),
         " has ", function.launches.size(), " launches, but times_ms has ",
         numTimes, " entries");

  BoundShapes shapes =
      evaluateShapes(function, bindInputs(function, inputs, numInputs));
  checkOutputs(function, shapes, inputs, outputs, numOutputs);

  std::lock_guard<std::mutex> lock(module.mutex);
  ContextScope scope(state);
  auto cuStream = static_cast<CUstream>(stream);
  checkValues(module, function, shapes, inputs, cuStream);
  std::vector<CUdeviceptr> addresses =
      resolveBuffers(module, fn, shapes, inputs, outputs);
  LaunchPlan plan = planLaunches(*state.cu, module, function, shapes, addresses);

  const CudaDriver &cu = *state.cu;
  EventPairs events{&cu, {}};
  if (timed) {
    std::fill(timesMs, timesMs + numTimes, 0.0f);
    events.events.assign(2 * plan.launches.size(), nullptr);
    for (CUevent &event : events.events)
      checkCuda(cu, cu.eventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate");
  }

  enqueueLaunches(module, function, plan, cuStream,
                  timed ? &events.events : nullptr);

  if (!timed)
    return;
  checkCuda(cu, cu.streamSynchronize(cuStream),
            strCat("function ", quoted(function.name),
                   ": cuStreamSynchronize after the launches"));
  for (size_t p = 0; p < plan.launches.size(); ++p) {
    float ms = 0;
    checkCuda(cu,
              cu.eventElapsedTime(&ms, events.events[2 * p],
                                  events.events[2 * p + 1]),
              "cuEventElapsedTime");
    timesMs[plan.launches[p].launch] = ms;
  }
}

/// Releases what a capture made (from a current context).
void releaseGraph(const CudaDriver &cu, hyla_graph &graph);

} // namespace hyla

/// A captured call: the instantiated CUDA graph and the memory of its
/// temporaries.
struct hyla_graph {
  hyla_module *module = nullptr;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  hyla::Workspace workspace;
  int32_t launches = 0;
};

namespace hyla {

void releaseGraph(const CudaDriver &cu, hyla_graph &graph) {
  if (graph.exec)
    cu.graphExecDestroy(graph.exec);
  if (graph.graph)
    cu.graphDestroy(graph.graph);
  if (graph.workspace.base) {
    // A replay still running may use the temporaries.
    cu.ctxSynchronize();
    cu.memFree(graph.workspace.base);
  }
  graph.exec = nullptr;
  graph.graph = nullptr;
  graph.workspace.base = 0;
}

hyla_graph *captureFunction(hyla_module &module, int32_t fn,
                            const hyla_tensor *inputs, int32_t numInputs,
                            const hyla_tensor *outputs, int32_t numOutputs) {
  const FunctionDesc &function = requireFunction(module, fn);
  DeviceState &state = requirePrepared(module, "hyla_function_capture");
  const CudaDriver &cu = *state.cu;
  if (!cu.streamCreate || !cu.streamDestroy || !cu.streamBeginCapture ||
      !cu.streamEndCapture || !cu.graphInstantiate || !cu.graphLaunch ||
      !cu.graphExecDestroy || !cu.graphDestroy)
    fail(HYLA_ERROR_UNSUPPORTED,
         "hyla_function_capture: this CUDA driver has no graph API "
         "(cuStreamBeginCapture, cuGraphInstantiateWithFlags, ...)");
  BoundShapes shapes =
      evaluateShapes(function, bindInputs(function, inputs, numInputs));
  checkOutputs(function, shapes, inputs, outputs, numOutputs);

  std::lock_guard<std::mutex> lock(module.mutex);
  ContextScope scope(state);
  auto graph = std::make_unique<hyla_graph>();
  graph->module = &module;
  // Free what was made if anything below fails.
  struct Release {
    const CudaDriver &cu;
    std::unique_ptr<hyla_graph> &graph;
    ~Release() {
      if (graph)
        releaseGraph(cu, *graph);
    }
  } release{cu, graph};
  // The graph's temporaries in a workspace of its own, made before the
  // capture (no allocation may happen during one).
  std::swap(state.workspaces[fn], graph->workspace);
  std::vector<CUdeviceptr> addresses;
  try {
    addresses = resolveBuffers(module, fn, shapes, inputs, outputs);
  } catch (...) {
    std::swap(state.workspaces[fn], graph->workspace);
    throw;
  }
  std::swap(state.workspaces[fn], graph->workspace);
  LaunchPlan plan = planLaunches(cu, module, function, shapes, addresses);

  CUstream stream = nullptr;
  checkCuda(cu, cu.streamCreate(&stream, CU_STREAM_NON_BLOCKING),
            "cuStreamCreate (for the capture)");
  struct StreamGuard {
    const CudaDriver &cu;
    CUstream stream;
    ~StreamGuard() { cu.streamDestroy(stream); }
  } streamGuard{cu, stream};
  checkCuda(cu,
            cu.streamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
            "cuStreamBeginCapture");
  try {
    enqueueLaunches(module, function, plan, stream, nullptr);
  } catch (...) {
    CUgraph partial = nullptr;
    cu.streamEndCapture(stream, &partial);
    if (partial)
      cu.graphDestroy(partial);
    throw;
  }
  checkCuda(cu, cu.streamEndCapture(stream, &graph->graph),
            strCat("function ", quoted(function.name),
                   ": cuStreamEndCapture"));
  checkCuda(cu, cu.graphInstantiate(&graph->exec, graph->graph, 0),
            strCat("function ", quoted(function.name),
                   ": cuGraphInstantiateWithFlags"));
  graph->launches = static_cast<int32_t>(plan.launches.size());
  return graph.release();
}

} // namespace hyla

//===----------------------------------------------------------------------===//
// C API: weights binding and calls
//===----------------------------------------------------------------------===//

using namespace hyla;

extern "C" {

hyla_status hyla_module_bind_weight(hyla_module *module, const char *name,
                                    void *data) {
  return guarded([&] {
    if (!module)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
    bindWeight(*module, name, data);
  });
}

hyla_status hyla_function_call(hyla_module *module, int32_t fn,
                               const hyla_tensor *inputs, int32_t num_inputs,
                               const hyla_tensor *outputs, int32_t num_outputs,
                               void *stream) {
  return guarded([&] {
    if (!module)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
    callFunction(*module, fn, inputs, num_inputs, outputs, num_outputs, stream,
                 /*timed=*/false, nullptr, 0);
  });
}

hyla_status hyla_function_capture(hyla_module *module, int32_t fn,
                                  const hyla_tensor *inputs,
                                  int32_t num_inputs,
                                  const hyla_tensor *outputs,
                                  int32_t num_outputs, hyla_graph **graph) {
  return guarded([&] {
    if (!module || !graph)
      fail(HYLA_ERROR_INVALID_ARGUMENT,
           "hyla_function_capture: module or graph is NULL");
    *graph = nullptr;
    *graph = captureFunction(*module, fn, inputs, num_inputs, outputs,
                             num_outputs);
  });
}

hyla_status hyla_graph_launch(hyla_graph *graph, void *stream) {
  return guarded([&] {
    if (!graph || !graph->exec)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "hyla_graph_launch: graph is NULL");
    DeviceState &state = requirePrepared(*graph->module, "hyla_graph_launch");
    ContextScope scope(state);
    checkCuda(*state.cu,
              state.cu->graphLaunch(graph->exec, static_cast<CUstream>(stream)),
              "cuGraphLaunch");
  });
}

int32_t hyla_graph_num_launches(const hyla_graph *graph) {
  return graph ? graph->launches : -1;
}

void hyla_graph_free(hyla_graph *graph) {
  if (!graph)
    return;
  if (graph->module && graph->module->device) {
    ContextScope scope(*graph->module->device);
    releaseGraph(*graph->module->device->cu, *graph);
  }
  delete graph;
}

hyla_status hyla_function_call_timed(hyla_module *module, int32_t fn,
                                     const hyla_tensor *inputs,
                                     int32_t num_inputs,
                                     const hyla_tensor *outputs,
                                     int32_t num_outputs, void *stream,
                                     float *times_ms, int32_t num_launches) {
  return guarded([&] {
    if (!module)
      fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
    callFunction(*module, fn, inputs, num_inputs, outputs, num_outputs, stream,
                 /*timed=*/true, times_ms, num_launches);
  });
}

} // extern "C"
