//===- ExecutionTest.cpp - prepare, weights and calls, on a GPU or a mock -===//
//
// Runs the elementwise test module (TestModules.h, real PTX kernels) end to
// end: prepare, weights, calls, timing and error paths. Two ways to run it:
//   * HYLA_LIBCUDA=<build>/lib/libhyla_mock_cuda.so hyla-execution-tests
//     uses the mock driver (MockCuda.cpp) and also checks the launch log,
//     context handling and leaks (this is what CTest runs);
//   * hyla-execution-tests on a machine with an NVIDIA GPU runs the same
//     checks against the real driver; without a GPU it exits 77 (skipped).
// A plain executable (no GoogleTest) so it builds wherever the runtime does.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "MockCuda.h"
#include "TestModules.h"
#include "hyla/runtime.h"

#include <cuda.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

using namespace hyla::testing;

namespace {

int failures = 0;
MockState *mock = nullptr; // set when running on the mock driver
CUresult (*ctxGetCurrent)(CUcontext *) = nullptr;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,    \
                   #cond);                                                     \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_STATUS(expr, expected)                                           \
  do {                                                                         \
    hyla_status status_ = (expr);                                              \
    if (status_ != (expected)) {                                               \
      std::fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d: %s\n",    \
                   __FILE__, __LINE__, #expr, status_,                         \
                   hyla_status_string(status_), (expected),                    \
                   hyla_last_error());                                         \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, HYLA_OK)

/// Checks that the last error contains `text`.
#define CHECK_ERROR_HAS(text)                                                  \
  do {                                                                         \
    if (!std::strstr(hyla_last_error(), (text))) {                             \
      std::fprintf(stderr, "%s:%d: last error lacks '%s': %s\n", __FILE__,     \
                   __LINE__, (text), hyla_last_error());                       \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

hyla_module *loadSpec(const ModuleSpec &spec) {
  std::vector<uint8_t> bytes = spec.build();
  hyla_module *module = nullptr;
  if (hyla_module_load_memory(bytes.data(), bytes.size(), &module) != HYLA_OK) {
    std::fprintf(stderr, "cannot load test module: %s\n", hyla_last_error());
    std::exit(1);
  }
  return module;
}

hyla_module *loadPrepared(const ModuleSpec &spec) {
  hyla_module *module = loadSpec(spec);
  if (hyla_module_prepare(module, 0) != HYLA_OK) {
    std::fprintf(stderr, "cannot prepare test module: %s\n", hyla_last_error());
    std::exit(1);
  }
  return module;
}

hyla_tensor tensor(void *data, int32_t dtype, std::vector<int64_t> dims) {
  hyla_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d)
    t.dims[d] = dims[d];
  return t;
}

/// Device memory owned by a test.
struct DeviceBuffer {
  hyla_module *module;
  void *data = nullptr;
  DeviceBuffer(hyla_module *m, size_t bytes) : module(m) {
    if (hyla_device_alloc(m, bytes, &data) != HYLA_OK) {
      std::fprintf(stderr, "hyla_device_alloc: %s\n", hyla_last_error());
      std::exit(1);
    }
  }
  ~DeviceBuffer() { hyla_device_free(module, data); }
  template <typename T> void upload(const std::vector<T> &host) {
    if (hyla_copy_to_device(module, data, host.data(),
                            host.size() * sizeof(T)) != HYLA_OK)
      ++failures;
  }
  template <typename T> std::vector<T> download(size_t count) {
    std::vector<T> host(count);
    if (hyla_copy_to_host(module, host.data(), data, count * sizeof(T)) !=
        HYLA_OK)
      ++failures;
    return host;
  }
};

const std::vector<float> kBias = {0.5f, -1.0f, 2.0f, 10.0f};

/// Runs forward(x) for n rows and checks 2 * (x + bias) exactly.
void runForward(hyla_module *module, int64_t n, void *stream = nullptr) {
  std::vector<float> x(static_cast<size_t>(n * 4));
  std::mt19937 rng(static_cast<unsigned>(n));
  std::normal_distribution<float> normal;
  for (float &v : x)
    v = normal(rng);
  size_t bytes = std::max<size_t>(x.size() * 4, 4);
  DeviceBuffer input(module, bytes), output(module, bytes);
  input.upload(x);
  hyla_tensor in = tensor(n > 0 ? input.data : nullptr, HYLA_F32, {n, 4});
  hyla_tensor out = tensor(n > 0 ? output.data : nullptr, HYLA_F32, {n, 4});
  hyla_tensor shape;
  CHECK_OK(hyla_function_output_shapes(module, 0, &in, 1, &shape, 1));
  CHECK(shape.rank == 2 && shape.dims[0] == n && shape.dims[1] == 4);
  CHECK_OK(hyla_function_call(module, 0, &in, 1, &out, 1, stream));
  CHECK_OK(hyla_synchronize(module));
  std::vector<float> result = output.download<float>(x.size());
  size_t wrong = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (result[i] != 2.0f * (x[i] + kBias[i % 4]))
      ++wrong;
  if (wrong)
    std::fprintf(stderr, "forward n=%lld: %zu of %zu values wrong\n",
                 static_cast<long long>(n), wrong, x.size());
  CHECK(wrong == 0);
}

void bindBias(hyla_module *module, DeviceBuffer &bias) {
  bias.upload(kBias);
  CHECK_OK(hyla_module_bind_weight(module, "bias", bias.data));
}

//===----------------------------------------------------------------------===//

void testForward() {
  hyla_module *module = loadPrepared(elementwiseModule());
  char name[128];
  int32_t major = 0, minor = 0;
  CHECK_OK(hyla_device_info(module, name, sizeof(name), &major, &minor));
  std::printf("  device: %s (compute capability %d.%d)\n", name, major, minor);
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    size_t before = mock ? mock->launches.size() : 0;
    runForward(module, 5);
    if (mock) {
      CHECK(mock->launches.size() == before + 2);
      const MockLaunch &add = mock->launches[before];
      const MockLaunch &scale = mock->launches[before + 1];
      CHECK(add.kernel == "add_bias" && scale.kernel == "scale2");
      CHECK(add.grid[0] == 1 && add.grid[1] == 1 && add.grid[2] == 1);
      CHECK(add.block[0] == 128 && add.block[1] == 1 &&
            add.sharedMemBytes == 0);
      // ABI: x, n, bias, t, n | t (as view, flat), n*4, out (view), n*4.
      CHECK(add.params.size() == 5 && add.params[1] == 5 && add.params[4] == 5);
      CHECK(add.params[2] == reinterpret_cast<uintptr_t>(bias.data));
      CHECK(scale.params.size() == 4 && scale.params[1] == 20 &&
            scale.params[3] == 20);
      CHECK(scale.params[0] == add.params[3]); // view shares the temporary
    }
    runForward(module, 100);
    if (mock) {
      const MockLaunch &add = mock->launches[mock->launches.size() - 2];
      CHECK(add.grid[0] == 4); // ceildiv(400, 128)
    }
    runForward(module, 3);
    before = mock ? mock->launches.size() : 0;
    runForward(module, 0); // zero-size grids: both launches are skipped
    if (mock)
      CHECK(mock->launches.size() == before);

    // Calls from another thread make the context current there too.
    std::thread([&] { runForward(module, 17); }).join();

    // Replacing the weight binding takes effect in the next call.
    DeviceBuffer bias2(module, 16);
    std::vector<float> zeros(4, 0.0f);
    bias2.upload(zeros);
    CHECK_OK(hyla_module_bind_weight(module, "bias", bias2.data));
    DeviceBuffer x(module, 16), out(module, 16);
    std::vector<float> ones(4, 1.0f);
    x.upload(ones);
    hyla_tensor in = tensor(x.data, HYLA_F32, {1, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {1, 4});
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
    CHECK(out.download<float>(4) == std::vector<float>(4, 2.0f));
  }
  hyla_module_free(module);
}

std::vector<uint16_t> readWeights(hyla_module *module,
                                  std::vector<uint16_t> *norm) {
  DeviceBuffer proj(module, 1024 * 2), normOut(module, 64 * 2);
  hyla_tensor outs[2] = {tensor(proj.data, HYLA_BF16, {1024}),
                         tensor(normOut.data, HYLA_BF16, {64})};
  CHECK_OK(hyla_function_call(module, 1, nullptr, 0, outs, 2, nullptr));
  CHECK_OK(hyla_synchronize(module));
  *norm = normOut.download<uint16_t>(64);
  return proj.download<uint16_t>(1024);
}

void testRandomWeights() {
  hyla_module *a = loadPrepared(elementwiseModule());
  CHECK_OK(hyla_module_init_random_weights(a, 7, 0.02f));
  std::vector<uint16_t> normA;
  std::vector<uint16_t> projA = readWeights(a, &normA);

  double sum = 0, sumSq = 0;
  for (uint16_t bits : projA) {
    double v = hyla::bf16ToFloat(bits);
    sum += v;
    sumSq += v * v;
  }
  double mean = sum / projA.size();
  double stddev = std::sqrt(sumSq / projA.size() - mean * mean);
  std::printf("  proj: mean %.5f std %.5f (want 0, 0.02)\n", mean, stddev);
  CHECK(std::fabs(mean) < 0.004);
  CHECK(stddev > 0.017 && stddev < 0.023);
  double normMean = 0;
  for (uint16_t bits : normA) {
    float v = hyla::bf16ToFloat(bits);
    CHECK(v > 0.9f && v < 1.1f); // 1-D weights: 1 + normal * scale
    normMean += v / normA.size();
  }
  CHECK(std::fabs(normMean - 1.0) < 0.01);

  // Same seed, same values; another seed, other values.
  hyla_module *b = loadPrepared(elementwiseModule());
  CHECK_OK(hyla_module_init_random_weights(b, 7, 0.02f));
  std::vector<uint16_t> normB;
  CHECK(readWeights(b, &normB) == projA);
  CHECK(normB == normA);
  hyla_module *c = loadPrepared(elementwiseModule());
  CHECK_OK(hyla_module_init_random_weights(c, 8, 0.02f));
  std::vector<uint16_t> normC;
  CHECK(readWeights(c, &normC) != projA);

  // Bound weights are kept; the others get the same values as before.
  hyla_module *d = loadPrepared(elementwiseModule());
  {
    DeviceBuffer proj(d, 2048);
    std::vector<uint16_t> ones(1024, 0x3f80); // bf16 1.0
    proj.upload(ones);
    CHECK_OK(hyla_module_bind_weight(d, "proj", proj.data));
    CHECK_OK(hyla_module_init_random_weights(d, 7, 0.02f));
    std::vector<uint16_t> normD;
    CHECK(readWeights(d, &normD) == ones);
    CHECK(normD == normA);
    // Binding over a random-initialized weight frees ours and uses theirs.
    DeviceBuffer norm(d, 128);
    std::vector<uint16_t> twos(64, 0x4000); // bf16 2.0
    norm.upload(twos);
    CHECK_OK(hyla_module_bind_weight(d, "norm", norm.data));
    readWeights(d, &normD);
    CHECK(normD == twos);
  }
  hyla_module_free(d);
  CHECK_STATUS(hyla_module_init_random_weights(a, 1, NAN),
               HYLA_ERROR_INVALID_ARGUMENT);
  hyla_module_free(a);
  hyla_module_free(b);
  hyla_module_free(c);
}

/// Moments of 1.5 M samples (two generator chunks) of a random f32 weight.
void testRandomWeightStatistics() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec spec = elementwiseModule();
  const int64_t rows = 1536, cols = 1024, count = rows * cols;
  spec.weights = {{"big", DType::F32, {rows, cols}}};
  FunctionSpec f;
  f.name = "double_big";
  f.buffers = {{BufferKind::Weight, 0, DType::F32, {rows, cols}},
               {BufferKind::View, 0, DType::F32, {count}},
               {BufferKind::Output, 0, DType::F32, {count}}};
  f.outputs = {2};
  f.launches = {{1, {ceilDiv(count, 128), 1, 1}, {1, 2}}}; // scale2
  spec.functions = {f};
  hyla_module *module = loadPrepared(spec);
  CHECK_OK(hyla_module_init_random_weights(module, 11, 0.5f));
  {
    DeviceBuffer out(module, count * 4);
    hyla_tensor o = tensor(out.data, HYLA_F32, {count});
    CHECK_OK(hyla_function_call(module, 0, nullptr, 0, &o, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
    std::vector<float> values = out.download<float>(count);
    double mean = 0, m2 = 0, m4 = 0;
    size_t beyond3 = 0;
    for (float v : values)
      mean += v; // 2 * (normal * 0.5) is normal(0, 1)
    mean /= count;
    for (float v : values) {
      double d = v - mean;
      m2 += d * d;
      m4 += d * d * d * d;
      beyond3 += std::fabs(v) > 3.0f;
    }
    m2 /= count;
    m4 /= count;
    double kurtosis = m4 / (m2 * m2);
    double tail = static_cast<double>(beyond3) / count;
    std::printf("  1.5M samples: mean %.5f var %.5f kurtosis %.4f "
                "P(|z|>3) %.5f (want 0, 1, 3, 0.0027)\n",
                mean, m2, kurtosis, tail);
    CHECK(std::fabs(mean) < 0.005);
    CHECK(std::fabs(m2 - 1.0) < 0.01);
    CHECK(std::fabs(kurtosis - 3.0) < 0.05);
    CHECK(tail > 0.0022 && tail < 0.0032);
  }
  hyla_module_free(module);
}

void testTimingAndEvents() {
  hyla_module *module = loadPrepared(elementwiseModule());
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    DeviceBuffer x(module, 4096 * 16), out(module, 4096 * 16);
    hyla_tensor in = tensor(x.data, HYLA_F32, {4096, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {4096, 4});
    float times[2] = {-1, -1};
    CHECK_OK(
        hyla_function_call_timed(module, 0, &in, 1, &o, 1, nullptr, times, 2));
    std::printf("  launch times: %.4f ms, %.4f ms\n", times[0], times[1]);
    CHECK(times[0] >= 0 && times[1] >= 0);
    CHECK_STATUS(
        hyla_function_call_timed(module, 0, &in, 1, &o, 1, nullptr, times, 3),
        HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("has 2 launches, but times_ms has 3 entries");

    void *start = nullptr, *end = nullptr;
    CHECK_OK(hyla_event_create(module, &start));
    CHECK_OK(hyla_event_create(module, &end));
    CHECK_OK(hyla_event_record(module, start, nullptr));
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr));
    CHECK_OK(hyla_event_record(module, end, nullptr));
    float ms = -1;
    CHECK_OK(hyla_event_elapsed_ms(module, start, end, &ms));
    CHECK(ms >= 0);
    CHECK_OK(hyla_event_destroy(module, start));
    CHECK_STATUS(hyla_event_destroy(module, start),
                 HYLA_ERROR_INVALID_ARGUMENT);
    // `end` is left for hyla_module_free to destroy.
    int notAnAllocation = 0;
    CHECK_STATUS(hyla_device_free(module, &notAnAllocation),
                 HYLA_ERROR_INVALID_ARGUMENT);
  }
  hyla_module_free(module);
}

void testCallErrors() {
  hyla_module *module = loadPrepared(elementwiseModule());
  {
    DeviceBuffer x(module, 64), out(module, 64), bias(module, 16);
    hyla_tensor in = tensor(x.data, HYLA_F32, {4, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {4, 4});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("needs weight 'bias', which is not bound");

    bindBias(module, bias);
    hyla_tensor wrong = tensor(out.data, HYLA_F32, {4, 3});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &wrong, 1, nullptr),
                 HYLA_ERROR_SHAPE);
    CHECK_ERROR_HAS(
        "output 0 is f32[4, 3] but the function produces f32[4, 4]");
    hyla_tensor noData = tensor(nullptr, HYLA_F32, {4, 4});
    CHECK_STATUS(hyla_function_call(module, 0, &noData, 1, &o, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("input 0: data is NULL");
    hyla_tensor badInput = tensor(x.data, HYLA_F32, {4, 5});
    CHECK_STATUS(hyla_function_call(module, 0, &badInput, 1, &o, 1, nullptr),
                 HYLA_ERROR_SHAPE);
    CHECK_ERROR_HAS("input 0 dim 1 is 5 but the function expects 4");
    CHECK_STATUS(hyla_function_call(module, 5, &in, 1, &o, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);

    CHECK_OK(hyla_module_prepare(module, 0)); // again, same device: fine
    CHECK_STATUS(hyla_module_prepare(module, 1), HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("already prepared for device 0");

    if (mock) {
      mock->failNextLaunch = CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
      CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr),
                   HYLA_ERROR_CUDA);
      CHECK_ERROR_HAS("function 'forward' launch 0 (kernel 'add_bias'): "
                      "cuLaunchKernel(grid 1x1x1, block 128");
      CHECK_ERROR_HAS("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
    }
  }
  hyla_module_free(module);

  hyla_module *other = loadSpec(elementwiseModule());
  CHECK_STATUS(hyla_module_prepare(other, 99), HYLA_ERROR_INVALID_ARGUMENT);
  CHECK_ERROR_HAS("device 99 does not exist");
  hyla_module_free(other);

  // A view larger than its base is caught at call time.
  ModuleSpec bigView = elementwiseModule();
  bigView.functions[0].buffers[3].dims = {Expr::sym(0) * 4 + 1};
  module = loadPrepared(bigView);
  {
    DeviceBuffer x(module, 64), out(module, 64), bias(module, 16);
    bindBias(module, bias);
    hyla_tensor in = tensor(x.data, HYLA_F32, {4, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {4, 4});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr),
                 HYLA_ERROR_SHAPE);
    CHECK_ERROR_HAS("a view of buffer 2) needs 68 bytes, but buffer 2");
  }
  hyla_module_free(module);

  // Grids beyond CUDA's limits are refused before anything is launched.
  ModuleSpec bigGrid = elementwiseModule();
  bigGrid.functions[0].launches[1].grid[1] = Expr::sym(0);
  module = loadPrepared(bigGrid);
  {
    DeviceBuffer x(module, 70000 * 16), out(module, 70000 * 16),
        bias(module, 16);
    bindBias(module, bias);
    hyla_tensor in = tensor(x.data, HYLA_F32, {70000, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {70000, 4});
    size_t before = mock ? mock->launches.size() : 0;
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr),
                 HYLA_ERROR_SHAPE);
    CHECK_ERROR_HAS("launch 1 (kernel 'scale2'): grid y is 70000, above the "
                    "CUDA limit 65535");
    if (mock)
      CHECK(mock->launches.size() == before);
  }
  hyla_module_free(module);
}

/// An output that is an input updated in place: the caller passes the same
/// tensor for both, and anything else is refused.
void testInPlaceOutputs() {
  hyla_module *module = loadPrepared(inPlaceModule());
  CHECK(hyla_function_output_tied_input(module, 0, 0) == 0);
  CHECK(hyla_function_output_tied_input(module, 0, 1) == -2);
  char text[128];
  CHECK_OK(hyla_function_describe_output(module, 0, 0, text, sizeof(text)));
  CHECK(std::string(text) == "f32[n] (input 0, updated in place)");
  {
    const int64_t n = 300;
    DeviceBuffer x(module, n * 4), other(module, n * 4);
    std::vector<float> host(n);
    for (int64_t i = 0; i < n; ++i)
      host[i] = static_cast<float>(i) - 7.5f;
    x.upload(host);
    hyla_tensor in = tensor(x.data, HYLA_F32, {n});
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &in, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
    std::vector<float> got = x.download<float>(n);
    for (int64_t i = 0; i < n; ++i)
      CHECK(got[i] == 2.0f * host[i]);
    hyla_tensor elsewhere = tensor(other.data, HYLA_F32, {n});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &elsewhere, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("function 'double_in_place' output 0 is input 0 updated "
                    "in place: pass the same tensor for both");
  }
  hyla_module_free(module);
}

/// An output that is not updated in place must not share memory with an
/// input or another output.
void testOverlappingOutputs() {
  hyla_module *module = loadPrepared(chainModule());
  {
    DeviceBuffer x(module, 4 * 256);
    hyla_tensor in = tensor(x.data, HYLA_F32, {128});
    hyla_tensor same = tensor(x.data, HYLA_F32, {128});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &same, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("function 'times16' output 0 overlaps input 0 in memory");
    // Half-overlapping ranges count too; adjacent ones do not.
    hyla_tensor shifted =
        tensor(static_cast<char *>(x.data) + 4 * 64, HYLA_F32, {128});
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &shifted, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    hyla_tensor after =
        tensor(static_cast<char *>(x.data) + 4 * 128, HYLA_F32, {128});
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &after, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
  }
  hyla_module_free(module);
}

/// Temporaries whose launches do not overlap share workspace bytes, and the
/// result is unchanged; a new shape lays the workspace out again.
void testTemporaryReuse() {
  hyla_module *module = loadPrepared(chainModule());
  for (int64_t n : {300, 1000, 300}) {
    DeviceBuffer x(module, n * 4), y(module, n * 4);
    std::vector<float> host(n);
    for (int64_t i = 0; i < n; ++i)
      host[i] = 0.25f * static_cast<float>(i) - 3.0f;
    x.upload(host);
    hyla_tensor in = tensor(x.data, HYLA_F32, {n});
    hyla_tensor out = tensor(y.data, HYLA_F32, {n});
    size_t before = mock ? mock->launches.size() : 0;
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &out, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
    std::vector<float> got = y.download<float>(n);
    for (int64_t i = 0; i < n; ++i)
      CHECK(got[i] == 16.0f * host[i]);
    if (mock) {
      CHECK(mock->launches.size() == before + 4);
      // ABI per launch: in, n, out, n. t1 = launch 0's out, t2 = launch
      // 1's, t3 = launch 2's.
      uint64_t t1 = mock->launches[before].params[2];
      uint64_t t2 = mock->launches[before + 1].params[2];
      uint64_t t3 = mock->launches[before + 2].params[2];
      CHECK(t3 == t1);
      CHECK(t2 != t1);
      uint64_t distance = t2 > t1 ? t2 - t1 : t1 - t2;
      CHECK(distance >= static_cast<uint64_t>(n) * 4);
    }
  }
  hyla_module_free(module);
}

void testPrepareErrors() {
  auto prepareStatus = [](const ModuleSpec &spec) {
    hyla_module *module = loadSpec(spec);
    hyla_status status = hyla_module_prepare(module, 0);
    std::string message = hyla_last_error();
    hyla_module_free(module);
    std::printf("  prepare: %s\n", status == HYLA_OK ? "ok" : message.c_str());
    return status;
  };
  ModuleSpec spec = elementwiseModule();
  spec.target = "sm_100a";
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_UNSUPPORTED);
  CHECK_ERROR_HAS("module target sm_100a needs a device of compute capability "
                  "exactly 10.0, but device 0");
  CHECK_ERROR_HAS("has compute capability 9.0");
  spec.target = "gfx90a";
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_UNSUPPORTED);
  CHECK_ERROR_HAS("not a GPU target");
  spec.target = "sm_80"; // plain PTX targets run on newer devices
  CHECK_OK(prepareStatus(spec));

  spec = elementwiseModule();
  spec.kernels[1].ptx = "garbage";
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_CUDA);
  CHECK_ERROR_HAS("kernel 1 ('scale2'): loading its PTX");
  if (mock)
    CHECK_ERROR_HAS("JIT error log:\nmock ptxas fatal");

  spec = elementwiseModule();
  spec.kernels[0].name = "add_bias_typo";
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_CUDA);
  CHECK_ERROR_HAS("no entry point named 'add_bias_typo'");

  spec = elementwiseModule();
  spec.kernels[0].sharedMemBytes = 300000;
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_UNSUPPORTED);
  CHECK_ERROR_HAS("needs 300000 bytes of dynamic shared memory");

  // Above 48 KiB the kernel opts in; the call then works.
  spec.kernels[0].sharedMemBytes = 100000;
  hyla_module *module = loadPrepared(spec);
  if (mock)
    CHECK(!mock->sharedMemAttributes.empty() &&
          mock->sharedMemAttributes.back().first == "add_bias" &&
          mock->sharedMemAttributes.back().second == 100000);
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    runForward(module, 9);
    if (mock)
      CHECK(mock->launches.back().kernel == "scale2" &&
            mock->launches[mock->launches.size() - 2].sharedMemBytes == 100000);
  }
  hyla_module_free(module);

  // A cubin that does not load falls back to the PTX.
  spec = elementwiseModule();
  spec.kernels[0].cubin = {0x7f, 'E', 'L', 'F', 'B', 'A', 'D', 0};
  CHECK_OK(prepareStatus(spec));
  spec.kernels[0].ptx = "garbage";
  CHECK_STATUS(prepareStatus(spec), HYLA_ERROR_CUDA);
  CHECK_ERROR_HAS("loading its cubin failed");
  CHECK_ERROR_HAS("loading its PTX");
}

void testProgrammaticLaunch() {
  // Only the mock: the test kernels' PTX has no griddepcontrol.wait, so a
  // GPU must not launch them programmatically.
  if (!mock)
    return;
  ModuleSpec spec = elementwiseModule();
  spec.kernels[1].programmaticLaunch = true; // scale2 only
  hyla_module *module = loadPrepared(spec);
  CHECK(hyla_module_kernel_programmatic_launch(module, 0) == 0);
  CHECK(hyla_module_kernel_programmatic_launch(module, 1) == 1);
  CHECK(hyla_module_kernel_programmatic_launch(module, 99) == -1);
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    // The results stay exact whichever launch path is taken.
    runForward(module, 7);
    size_t n = mock->launches.size();
    CHECK(mock->launches[n - 2].kernel == "add_bias" &&
          !mock->launches[n - 2].programmatic);
    CHECK(mock->launches[n - 1].kernel == "scale2" &&
          mock->launches[n - 1].programmatic);
    // Grids of more than one wave (132 SMs x 16 CTAs of 128 threads on the
    // mock) launch normally: overlap pays off where latency dominates.
    runForward(module, 132 * 16 * 32);
    CHECK(mock->launches.back().grid[0] == 132 * 16 &&
          mock->launches.back().programmatic);
    runForward(module, 132 * 16 * 32 + 1);
    CHECK(mock->launches.back().grid[0] == 132 * 16 + 1 &&
          !mock->launches.back().programmatic);
    CHECK_OK(hyla_module_set_programmatic_launch(module, 0));
    runForward(module, 7);
    CHECK(!mock->launches.back().programmatic);
  }
  hyla_module_free(module);

  // After a launch skipped for an empty grid, the next one launches
  // normally: it may read early what the skipped launch would not have
  // written but the one before it did.
  {
    ModuleSpec chain = chainModule();
    chain.kernels[0].programmaticLaunch = true;
    chain.functions[0].launches[1].grid = {Expr(1), Expr(0), Expr(1)};
    hyla_module *skipping = loadPrepared(chain);
    DeviceBuffer x(skipping, 64), y(skipping, 64);
    hyla_tensor in = tensor(x.data, HYLA_F32, {16});
    hyla_tensor out = tensor(y.data, HYLA_F32, {16});
    size_t before = mock->launches.size();
    CHECK_OK(hyla_function_call(skipping, 0, &in, 1, &out, 1, nullptr));
    CHECK(mock->launches.size() == before + 3);
    CHECK(mock->launches[before].programmatic);      // launch 0
    CHECK(!mock->launches[before + 1].programmatic); // launch 2, after 1
    CHECK(mock->launches[before + 2].programmatic);  // launch 3
    hyla_module_free(skipping);
  }

  // A failing cuLaunchKernelEx is reported under its name.
  spec.kernels[0].programmaticLaunch = true;
  module = loadPrepared(spec);
  {
    DeviceBuffer bias(module, 16), x(module, 16), y(module, 16);
    bindBias(module, bias);
    hyla_tensor in = tensor(x.data, HYLA_F32, {1, 4});
    hyla_tensor out = tensor(y.data, HYLA_F32, {1, 4});
    mock->failNextLaunch = CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &out, 1, nullptr),
                 HYLA_ERROR_CUDA);
    CHECK_ERROR_HAS("launch 0 (kernel 'add_bias'): cuLaunchKernelEx(grid "
                    "1x1x1, block 128");
  }
  hyla_module_free(module);
  CHECK_STATUS(hyla_module_set_programmatic_launch(nullptr, 1),
               HYLA_ERROR_INVALID_ARGUMENT);
}

void testTensorMaps() {
  // Only the mock: the probe kernel's PTX does nothing.
  if (!mock)
    return;
  hyla_module *module = loadPrepared(tensorMapModule());
  {
    const int64_t rows = 100;
    DeviceBuffer x(module, rows * 64 * 2 + 16), y(module, rows * 64 * 2);
    hyla_tensor in = tensor(x.data, HYLA_BF16, {rows, 64});
    hyla_tensor out = tensor(y.data, HYLA_BF16, {rows, 64});
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &out, 1, nullptr));
    // CUDA's order: dims innermost first, byte strides of the outer dims,
    // the box likewise; 128-byte swizzle; zeros out of bounds.
    CHECK(mock->tensorMaps.size() == 1);
    if (!mock->tensorMaps.empty()) {
      const MockTensorMap &m = mock->tensorMaps.back();
      CHECK(m.dataType == CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 && m.rank == 2);
      CHECK(m.address == reinterpret_cast<uint64_t>(x.data));
      CHECK((m.dims == std::vector<uint64_t>{64, uint64_t(rows)}));
      CHECK((m.strides == std::vector<uint64_t>{128}));
      CHECK((m.box == std::vector<unsigned>{64, 32}));
      CHECK(m.swizzle == CU_TENSOR_MAP_SWIZZLE_128B);
      CHECK(m.oobFill == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    }
    // The map is passed by value after x's pointer and dim, before y's.
    const MockLaunch &launch = mock->launches.back();
    CHECK(launch.kernel == "tma_probe" && launch.grid[0] == 4);
    CHECK(launch.params.size() == 5 &&
          launch.params[0] == reinterpret_cast<uint64_t>(x.data) &&
          launch.params[1] == uint64_t(rows) &&
          launch.params[2] == reinterpret_cast<uint64_t>(x.data) &&
          launch.params[3] == reinterpret_cast<uint64_t>(y.data) &&
          launch.params[4] == uint64_t(rows));

    // A tensor the TMA cannot address is an error naming the launch, not a
    // launch that faults.
    in.data = static_cast<char *>(x.data) + 2;
    CHECK_STATUS(hyla_function_call(module, 0, &in, 1, &out, 1, nullptr),
                 HYLA_ERROR_CUDA);
    CHECK_ERROR_HAS("launch 0 (kernel 'tma_probe') param 0: "
                    "cuTensorMapEncodeTiled rejected the 100x64 bf16 tensor");
    CHECK_ERROR_HAS("16-byte aligned address");
  }
  hyla_module_free(module);
}

void testContextHygiene() {
  if (!ctxGetCurrent)
    return;
  CUcontext before = nullptr, after = nullptr;
  ctxGetCurrent(&before);
  hyla_module *module = loadPrepared(elementwiseModule());
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    runForward(module, 2);
  }
  ctxGetCurrent(&after);
  CHECK(after == before); // the API leaves the caller's context as it was
  hyla_module_free(module);
  if (mock) {
    CHECK(mock->callsWithoutContext == 0);
    CHECK(mock->primaryRetains == 0);
    CHECK(mock->liveAllocations == 0);
    CHECK(mock->liveModules == 0);
    CHECK(mock->liveEvents == 0);
    CHECK(mock->pinnedAllocations == 0);
  }
}

} // namespace

/// A safetensors file: the 8-byte header length, the JSON header, the
/// tensors' bytes. `header` replaces the JSON when given; `cut` drops that
/// many bytes from the end.
struct StTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}
std::string writeSafetensors(const std::string &name,
                             const std::vector<StTensor> &tensors,
                             const std::string &header = "", size_t cut = 0) {
  std::string json = "{\"__metadata__\": {\"format\": \"pt\"}";
  std::vector<uint8_t> data;
  for (const StTensor &t : tensors) {
    json += ", \"" + t.name + "\": {\"dtype\": \"" + t.dtype + "\", \"shape\": [";
    for (size_t d = 0; d < t.shape.size(); ++d)
      json += (d ? ", " : "") + std::to_string(t.shape[d]);
    json += "], \"data_offsets\": [" + std::to_string(data.size()) + ", " +
            std::to_string(data.size() + t.bytes.size()) + "]}";
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  json += "}";
  if (!header.empty())
    json = header;
  std::string path = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                     std::string("/hyla-st-") + std::to_string(getpid()) +
                     "-" + name;
  std::vector<uint8_t> file(8);
  uint64_t n = json.size();
  for (int b = 0; b < 8; ++b)
    file[b] = static_cast<uint8_t>(n >> (8 * b));
  file.insert(file.end(), json.begin(), json.end());
  file.insert(file.end(), data.begin(), data.end());
  file.resize(file.size() - std::min(cut, file.size()));
  FILE *f = std::fopen(path.c_str(), "wb");
  std::fwrite(file.data(), 1, file.size(), f);
  std::fclose(f);
  return path;
}

hyla_status loadFiles(hyla_module *module, const std::vector<std::string> &paths) {
  std::vector<const char *> raw;
  for (const std::string &p : paths)
    raw.push_back(p.c_str());
  return hyla_module_load_safetensors(module, raw.data(),
                                      static_cast<int32_t>(raw.size()));
}

/// Weights from safetensors shards by name; each bad input fails with its
/// message and leaves the weights as they were.
void testSafetensors() {
  std::vector<uint16_t> proj(1024), norm(64);
  for (size_t i = 0; i < proj.size(); ++i)
    proj[i] = hyla::floatToBF16(0.01f * static_cast<float>(i % 97) - 0.4f);
  for (size_t i = 0; i < norm.size(); ++i)
    norm[i] = hyla::floatToBF16(1.0f + 0.001f * static_cast<float>(i));
  StTensor bias{"bias", "F32", {4}, bytesOf(kBias)};
  StTensor projT{"proj", "BF16", {32, 32}, bytesOf(proj)};
  StTensor normT{"norm", "BF16", {64}, bytesOf(norm)};
  StTensor extra{"rotary.inv_freq", "F32", {2}, bytesOf(std::vector<float>{1, 2})};
  std::string shard1 = writeSafetensors("1.safetensors", {bias, projT});
  std::string shard2 = writeSafetensors("2.safetensors", {normT, extra});

  hyla_module *module = loadPrepared(elementwiseModule());
  CHECK_OK(hyla_module_init_random_weights(module, 3, 0.02f));
  std::vector<uint16_t> randomNorm;
  std::vector<uint16_t> randomProj = readWeights(module, &randomNorm);
  auto unchanged = [&] {
    std::vector<uint16_t> n;
    CHECK(readWeights(module, &n) == randomProj);
    CHECK(n == randomNorm);
  };
  // Bad inputs first: each leaves the random weights.
  CHECK_STATUS(loadFiles(module, {shard1}), HYLA_ERROR_SHAPE);
  CHECK_ERROR_HAS("1 weight is in none of the 1 safetensors file: 'norm'");
  unchanged();
  CHECK_STATUS(loadFiles(module, {shard1, shard1}), HYLA_ERROR_BAD_MODULE);
  CHECK_ERROR_HAS("is in both");
  StTensor projF32{"proj", "F32", {32, 32}, std::vector<uint8_t>(4096)};
  std::string wrongType = writeSafetensors("type.safetensors", {projF32});
  CHECK_STATUS(loadFiles(module, {wrongType, shard2}), HYLA_ERROR_SHAPE);
  CHECK_ERROR_HAS("weight 'proj' in");
  CHECK_ERROR_HAS("is F32; the module wants bf16");
  StTensor normShort{"norm", "BF16", {32}, bytesOf(std::vector<uint16_t>(32))};
  std::string wrongShape = writeSafetensors("shape.safetensors", {bias, projT, normShort});
  CHECK_STATUS(loadFiles(module, {wrongShape}), HYLA_ERROR_SHAPE);
  CHECK_ERROR_HAS("has shape [32]; the module wants [64]");
  std::string truncated = writeSafetensors("cut.safetensors", {normT}, "", 10);
  CHECK_STATUS(loadFiles(module, {shard1, truncated}), HYLA_ERROR_BAD_MODULE);
  CHECK_ERROR_HAS("truncated");
  std::string tiny = writeSafetensors("tiny.safetensors", {}, "", 1000);
  CHECK_STATUS(loadFiles(module, {tiny}), HYLA_ERROR_BAD_MODULE);
  CHECK_ERROR_HAS("not a safetensors file");
  std::string badJson =
      writeSafetensors("json.safetensors", {}, "{\"norm\": {\"dtype\": BF16}}");
  CHECK_STATUS(loadFiles(module, {shard1, badJson}), HYLA_ERROR_BAD_MODULE);
  CHECK_ERROR_HAS("bad safetensors header at byte");
  std::string lying = writeSafetensors(
      "lying.safetensors", {},
      "{\"norm\": {\"dtype\": \"BF16\", \"shape\": [64], \"data_offsets\": [0, 64]}}");
  CHECK_STATUS(loadFiles(module, {shard1, lying}), HYLA_ERROR_BAD_MODULE);
  CHECK_STATUS(loadFiles(module, {shard1, "/nonexistent/x.safetensors"}),
               HYLA_ERROR_IO);
  CHECK_STATUS(loadFiles(module, {}), HYLA_ERROR_INVALID_ARGUMENT);
  unchanged();

  // The two shards: every weight, the unused tensor ignored.
  CHECK_OK(loadFiles(module, {shard2, shard1}));
  std::vector<uint16_t> gotNorm;
  CHECK(readWeights(module, &gotNorm) == proj);
  CHECK(gotNorm == norm);
  {
    DeviceBuffer x(module, 16), out(module, 16);
    x.upload(std::vector<float>(4, 1.0f));
    hyla_tensor in = tensor(x.data, HYLA_F32, {1, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {1, 4});
    CHECK_OK(hyla_function_call(module, 0, &in, 1, &o, 1, nullptr));
    CHECK_OK(hyla_synchronize(module));
    std::vector<float> want;
    for (float b : kBias)
      want.push_back(2 * (1 + b));
    CHECK(out.download<float>(4) == want);
  }
  hyla_module_free(module);

  // One fused conv weight for the three a module wants, and three alike.
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec spec = elementwiseModule();
  spec.weights = {{"l.q_conv1d.weight", DType::BF16, {2, 1, 4}},
                  {"l.k_conv1d.weight", DType::BF16, {2, 1, 4}},
                  {"l.v_conv1d.weight", DType::BF16, {4, 1, 4}}};
  FunctionSpec read;
  read.name = "read_convs";
  for (uint32_t w = 0; w < 3; ++w) {
    int64_t rows = w == 2 ? 4 : 2;
    uint32_t base = static_cast<uint32_t>(read.buffers.size());
    read.buffers.push_back({BufferKind::Weight, w, DType::BF16, {rows, 1, 4}});
    read.buffers.push_back({BufferKind::View, base, DType::BF16, {rows * 4}});
    read.buffers.push_back({BufferKind::Output, w, DType::BF16, {rows * 4}});
    read.outputs.push_back(base + 2);
    read.launches.push_back({2, {1, 1, 1}, {base + 1, base + 2}});
  }
  spec.functions = {read};
  std::vector<uint16_t> fused(32);
  for (size_t i = 0; i < fused.size(); ++i)
    fused[i] = hyla::floatToBF16(static_cast<float>(i));
  auto readConvs = [&](hyla_module *m) {
    DeviceBuffer a(m, 16), b(m, 16), c(m, 32);
    hyla_tensor outs[3] = {tensor(a.data, HYLA_BF16, {8}),
                           tensor(b.data, HYLA_BF16, {8}),
                           tensor(c.data, HYLA_BF16, {16})};
    CHECK_OK(hyla_function_call(m, 0, nullptr, 0, outs, 3, nullptr));
    CHECK_OK(hyla_synchronize(m));
    std::vector<uint16_t> all = a.download<uint16_t>(8);
    for (uint16_t v : b.download<uint16_t>(8))
      all.push_back(v);
    for (uint16_t v : c.download<uint16_t>(16))
      all.push_back(v);
    return all;
  };
  hyla_module *convs = loadPrepared(spec);
  std::string fusedFile = writeSafetensors(
      "fused.safetensors", {{"l.conv1d.weight", "BF16", {8, 1, 4}, bytesOf(fused)}});
  CHECK_OK(loadFiles(convs, {fusedFile}));
  CHECK(readConvs(convs) == fused); // q rows, k rows, v rows in order
  std::string wrongFused = writeSafetensors(
      "fused7.safetensors",
      {{"l.conv1d.weight", "BF16", {7, 1, 4}, bytesOf(std::vector<uint16_t>(28))}});
  CHECK_STATUS(loadFiles(convs, {wrongFused}), HYLA_ERROR_SHAPE);
  CHECK_ERROR_HAS("has shape [7, 1, 4]; the module wants [8, 1, 4]");
  std::vector<uint16_t> q(fused.begin(), fused.begin() + 8),
      k(fused.begin() + 8, fused.begin() + 16), v(fused.begin() + 16, fused.end());
  std::vector<uint16_t> zeros(32, 0);
  std::string separate = writeSafetensors(
      "separate.safetensors",
      {{"l.q_conv1d.weight", "BF16", {2, 1, 4}, bytesOf(std::vector<uint16_t>(8, 0))},
       {"l.k_conv1d.weight", "BF16", {2, 1, 4}, bytesOf(std::vector<uint16_t>(8, 0))},
       {"l.v_conv1d.weight", "BF16", {4, 1, 4}, bytesOf(std::vector<uint16_t>(16, 0))}});
  CHECK_OK(loadFiles(convs, {separate}));
  CHECK(readConvs(convs) == zeros);
  hyla_module_free(convs);
  for (const std::string &f : {shard1, shard2, wrongType, wrongShape, truncated,
                               tiny, badJson, lying, fusedFile, wrongFused,
                               separate})
    std::remove(f.c_str());
}

/// A call captured as a CUDA graph and replayed on new input values.
void testGraphs() {
  hyla_module *module = loadPrepared(elementwiseModule());
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    const int64_t n = 6;
    DeviceBuffer x(module, n * 16), out(module, n * 16);
    hyla_tensor in = tensor(x.data, HYLA_F32, {n, 4});
    hyla_tensor o = tensor(out.data, HYLA_F32, {n, 4});
    size_t launchesBefore = mock ? mock->launches.size() : 0;
    size_t allocationsBefore = mock ? mock->liveAllocations : 0;
    hyla_graph *graph = nullptr;
    CHECK_OK(hyla_function_capture(module, 0, &in, 1, &o, 1, &graph));
    CHECK(graph && hyla_graph_num_launches(graph) == 2);
    if (mock) {
      CHECK(mock->launches.size() == launchesBefore); // captured, not run
      CHECK(mock->liveGraphs == 1 && mock->liveStreams == 0);
      CHECK(mock->liveAllocations == allocationsBefore + 1); // temporaries
    }
    auto replayAndCheck = [&](int round) {
      std::vector<float> xs(n * 4);
      for (size_t i = 0; i < xs.size(); ++i)
        xs[i] = static_cast<float>(round * 100 + static_cast<int>(i));
      x.upload(xs);
      CHECK_OK(hyla_graph_launch(graph, nullptr));
      CHECK_OK(hyla_synchronize(module));
      std::vector<float> got = out.download<float>(xs.size());
      for (size_t i = 0; i < xs.size(); ++i)
        CHECK(got[i] == 2.0f * (xs[i] + kBias[i % 4]));
    };
    replayAndCheck(1);
    replayAndCheck(2);
    // Calls that grow the module's own temporaries leave the graph's.
    runForward(module, 1000);
    replayAndCheck(3);
    if (mock)
      CHECK(mock->graphLaunches == 3);
    hyla_graph_free(graph);
    if (mock)
      CHECK(mock->liveGraphs == 0 &&
            mock->liveAllocations == allocationsBefore + 1); // the module's
    hyla_graph_free(nullptr);

    // Bad arguments and shapes make no graph.
    CHECK_STATUS(hyla_function_capture(module, 0, &in, 1, &o, 1, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    graph = reinterpret_cast<hyla_graph *>(&in); // overwritten with NULL
    hyla_tensor wrong = tensor(out.data, HYLA_F32, {n, 5});
    CHECK_STATUS(hyla_function_capture(module, 0, &in, 1, &wrong, 1, &graph),
                 HYLA_ERROR_SHAPE);
    CHECK(graph == nullptr);
    CHECK_STATUS(hyla_graph_launch(nullptr, nullptr),
                 HYLA_ERROR_INVALID_ARGUMENT);
    if (mock) {
      // A driver that cannot capture: the error names the call, nothing
      // is left behind.
      mock->hasGraphs = false;
      size_t live = mock->liveAllocations;
      CHECK_STATUS(hyla_function_capture(module, 0, &in, 1, &o, 1, &graph),
                   HYLA_ERROR_CUDA);
      CHECK_ERROR_HAS("cuStreamBeginCapture");
      CHECK(graph == nullptr && mock->liveGraphs == 0 &&
            mock->liveStreams == 0 && mock->liveAllocations == live);
      mock->hasGraphs = true;
    }
  }
  hyla_module_free(module);
}

/// Value checks: the runtime reads the slots and offsets back and refuses
/// a call whose values break them before it launches anything; checks can
/// be turned off, and a capture does not check (its replays get new values).
void testValueChecks() {
  hyla_module *module = loadPrepared(valueCheckModule());
  {
    DeviceBuffer bias(module, 16);
    bindBias(module, bias);
    const int64_t n = 3;
    DeviceBuffer x(module, n * 16), out(module, n * 16), slots(module, n * 4),
        offsets(module, (n + 1) * 8);
    x.upload(std::vector<float>(n * 4, 1.0f));
    hyla_tensor in[3] = {tensor(x.data, HYLA_F32, {n, 4}),
                         tensor(slots.data, HYLA_I32, {n}),
                         tensor(offsets.data, HYLA_I64, {n + 1})};
    hyla_tensor o = tensor(out.data, HYLA_F32, {n, 4});
    auto call = [&](std::vector<int32_t> s, std::vector<int64_t> off) {
      slots.upload(s);
      offsets.upload(off);
      return hyla_function_call(module, 0, in, 3, &o, 1, nullptr);
    };
    size_t before = mock ? mock->launches.size() : 0;
    CHECK_OK(call({2, 0, 3}, {0, 3, 3, 6}));
    CHECK_OK(hyla_synchronize(module));
    CHECK(out.download<float>(4) == std::vector<float>({3.0f, 0.0f, 6.0f, 22.0f}));
    if (mock)
      CHECK(mock->launches.size() == before + 2);
    before = mock ? mock->launches.size() : 0;
    CHECK_STATUS(call({2, 4, 1}, {0, 3, 3, 6}), HYLA_ERROR_VALUE);
    CHECK_ERROR_HAS("input 1 element 1 is 4, outside [0, 4) (with n=3; slots)");
    CHECK_STATUS(call({2, 1, 2}, {0, 3, 3, 6}), HYLA_ERROR_VALUE);
    CHECK_ERROR_HAS("holds 2 twice");
    CHECK_STATUS(call({0, 1, 2}, {0, 4, 4, 6}), HYLA_ERROR_VALUE);
    CHECK_ERROR_HAS("input 2 elements 0 and 1 span 4 (0 to 4), more than 3");
    CHECK_STATUS(call({0, 1, 2}, {0, 1, 2, 5}), HYLA_ERROR_VALUE);
    CHECK_ERROR_HAS("ends at 5, but the offsets must end at n * 2 = 6");
    if (mock)
      CHECK(mock->launches.size() == before); // nothing ran
    // Off: the same values are not read.
    CHECK_OK(hyla_module_set_value_checks(module, 0));
    CHECK_OK(call({2, 4, 1}, {0, 4, 4, 6}));
    CHECK_OK(hyla_synchronize(module));
    CHECK_OK(hyla_module_set_value_checks(module, 1));
    CHECK_STATUS(hyla_module_set_value_checks(nullptr, 1),
                 HYLA_ERROR_INVALID_ARGUMENT);
    // A capture does not read the values.
    hyla_graph *graph = nullptr;
    CHECK_OK(hyla_function_capture(module, 0, in, 3, &o, 1, &graph));
    hyla_graph_free(graph);
  }
  hyla_module_free(module);
}

int main() {
  const char *driverPath = std::getenv("HYLA_LIBCUDA");
  void *driver = dlopen(driverPath && *driverPath ? driverPath : "libcuda.so.1",
                        RTLD_NOW | RTLD_LOCAL);
  if (driver) {
    if (auto stateFn = reinterpret_cast<MockStateFn>(
            dlsym(driver, HYLA_MOCK_STATE_SYMBOL)))
      mock = stateFn();
    ctxGetCurrent = reinterpret_cast<CUresult (*)(CUcontext *)>(
        dlsym(driver, "cuCtxGetCurrent"));
  }
  // Without a usable GPU there is nothing to test: report "skipped".
  hyla_module *probe = loadSpec(elementwiseModule());
  hyla_status status = hyla_module_prepare(probe, 0);
  if (status == HYLA_ERROR_NO_GPU) {
    std::printf("SKIPPED: %s\n", hyla_last_error());
    hyla_module_free(probe);
    return 77;
  }
  hyla_module_free(probe);
  std::printf("running on %s\n", mock ? "the mock CUDA driver" : "a GPU");

  const std::pair<const char *, void (*)()> tests[] = {
      {"forward", testForward},
      {"random weights", testRandomWeights},
      {"random weight statistics", testRandomWeightStatistics},
      {"timing and events", testTimingAndEvents},
      {"call errors", testCallErrors},
      {"in-place outputs", testInPlaceOutputs},
      {"temporary reuse", testTemporaryReuse},
      {"prepare errors", testPrepareErrors},
      {"programmatic launch", testProgrammaticLaunch},
      {"overlapping outputs", testOverlappingOutputs},
      {"tensor maps", testTensorMaps},
      {"context hygiene", testContextHygiene},
      {"safetensors", testSafetensors},
      {"graphs", testGraphs},
      {"value checks", testValueChecks},
  };
  for (const auto &test : tests) {
    int before = failures;
    std::printf("[ RUN  ] %s\n", test.first);
    std::fflush(stdout);
    test.second();
    std::printf("[ %s ] %s\n", failures == before ? " OK " : "FAIL",
                test.first);
  }
  std::printf("%s: %d failed checks\n", failures ? "FAILED" : "PASSED",
              failures);
  return failures ? 1 : 0;
}
