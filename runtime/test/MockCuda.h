//===- MockCuda.h - inspection API of the mock CUDA driver ------*- C++ -*-===//
//
// libhyla_mock_cuda.so exports the CUDA driver entry points the runtime uses
// (cuInit, cuMemAlloc_v2, cuLaunchKernel...) on host memory, so execution
// can be tested without a GPU: point HYLA_LIBCUDA at it. Kernels named
// add_bias, scale2 and copy_u16 (TestModules.h) really compute; any other
// kernel is a no-op. Every launch is logged. Tests reach these functions with
// dlsym on the same library.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_TEST_MOCKCUDA_H
#define HYLA_RUNTIME_TEST_MOCKCUDA_H

#include <cstdint>
#include <string>
#include <vector>

struct MockLaunch {
  std::string kernel;
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedMemBytes;
  void *stream;
  std::vector<uint64_t> params; // each parameter read as 64 bits
  /// Launched by cuLaunchKernelEx with programmatic stream serialization.
  bool programmatic = false;
};

/// One cuTensorMapEncodeTiled call (dims innermost first, as CUDA's).
struct MockTensorMap {
  int dataType;
  unsigned rank;
  uint64_t address;
  std::vector<uint64_t> dims, strides; // strides: bytes, rank - 1 of them
  std::vector<unsigned> box;
  int swizzle, oobFill;
};

struct MockState {
  /// Every tensor map encoded. The mock writes the map's address field as
  /// its first 8 bytes and its index here as the next 8, so a launch's
  /// params show which map it got.
  std::vector<MockTensorMap> tensorMaps;
  std::vector<MockLaunch> launches;
  int computeMajor = 9;
  int computeMinor = 0;
  int deviceCount = 1;
  int primaryRetains = 0; // cuDevicePrimaryCtxRetain - Release
  size_t liveAllocations = 0;
  size_t liveEvents = 0;
  size_t liveModules = 0;
  size_t pinnedAllocations = 0;
  /// Kernel name -> dynamic shared memory set with cuFuncSetAttribute.
  std::vector<std::pair<std::string, int>> sharedMemAttributes;
  /// Calls made while the primary context was not current (must stay 0).
  int callsWithoutContext = 0;
  /// If false, the mock exports no working cuLaunchKernelEx (an old driver):
  /// it fails with CUDA_ERROR_NOT_SUPPORTED.
  bool hasLaunchKernelEx = true;
  /// If set, the next cuLaunchKernel(Ex) fails with this code.
  int failNextLaunch = 0;
  /// If false, the mock has no graph API (cuStreamBeginCapture... fail
  /// with CUDA_ERROR_NOT_SUPPORTED).
  bool hasGraphs = true;
  /// Launches recorded by stream captures (not run), graphs instantiated,
  /// graph launches, and graphs and streams alive.
  size_t capturedLaunches = 0;
  size_t graphLaunches = 0;
  size_t liveGraphs = 0;
  size_t liveStreams = 0;
};

/// The mock's state; reset with mockReset (both exported, extern "C").
using MockStateFn = MockState *(*)();
using MockResetFn = void (*)();
#define HYLA_MOCK_STATE_SYMBOL "hyla_mock_state"
#define HYLA_MOCK_RESET_SYMBOL "hyla_mock_reset"

#endif // HYLA_RUNTIME_TEST_MOCKCUDA_H
