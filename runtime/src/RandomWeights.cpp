//===- RandomWeights.cpp - deterministic random weights for benchmarks ----===//
//
// Values are generated on the host in fixed-size chunks. Each chunk has its
// own generator seeded from (seed, weight index, chunk index), so the result
// depends only on the seed, never on the number of threads or the order in
// which chunks are filled. Threads fill one staging buffer while the calling
// thread copies the previous one to the device.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "Device.h"
#include "Errors.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

namespace hyla {

namespace {

constexpr uint64_t kChunkElements = uint64_t(1) << 20;
constexpr uint64_t kStagingBytes = uint64_t(64) << 20;

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Xoshiro256 {
public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t &word : state_)
      word = splitmix64(seed);
  }
  uint64_t next() {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

uint64_t chunkSeed(uint64_t seed, uint64_t weight, uint64_t chunk) {
  uint64_t state = seed;
  uint64_t h = splitmix64(state);
  state = h ^ (weight * 0xd1b54a32d192ed03ull);
  h = splitmix64(state);
  state = h ^ (chunk * 0x8cb92ba72f3d8dd7ull);
  return splitmix64(state);
}

/// Normal samples are made in blocks of this many pairs.
constexpr int kPairsPerBlock = 512;

/// c[0] + x * (c[1] + x * (c[2] + ...)).
template <size_t N>
inline float polynomial(float x, const float (&coefficients)[N]) {
  float result = coefficients[N - 1];
  for (size_t i = N - 1; i > 0; --i)
    result = coefficients[i - 1] + x * result;
  return result;
}

// ln m = 2 atanh(s) = s * (2 + 2/3 s^2 + 2/5 s^4 + ...); error < 1e-7 for
// s < 1/3. sin x = x * (1 - x^2/3! + ...), cos x = 1 - x^2/2! + ... on
// [0, pi/2): errors < 1e-8.
constexpr float kLnSeries[] = {2.0f,     2.0f / 3, 2.0f / 5,
                               2.0f / 7, 2.0f / 9, 2.0f / 11};
constexpr float kSinSeries[] = {1.0f,         -1.0f / 6,     1.0f / 120,
                                -1.0f / 5040, 1.0f / 362880, -1.0f / 39916800};
constexpr float kCosSeries[] = {
    1.0f,         -1.0f / 2,       1.0f / 24,       -1.0f / 720,
    1.0f / 40320, -1.0f / 3628800, 1.0f / 479001600};

/// Fills out[0 .. 2 * kPairsPerBlock) with normal(0, 1) samples by
/// Box-Muller: r = sqrt(-2 ln u1), (r cos phi, r sin phi) for phi uniform in
/// a quarter turn, with two random sign bits choosing the quadrant. ln, sin
/// and cos are short series (float accuracy) instead of libm calls, and
/// the random draws are done first, so that the math loop vectorizes (this
/// file is compiled with -fno-math-errno): about 4x faster than libm, which
/// matters for 15 GB of weights.
void normalBlock(Xoshiro256 &rng, float *out) {
  uint32_t radiusBits[kPairsPerBlock], angleBits[kPairsPerBlock];
  for (int k = 0; k < kPairsPerBlock; ++k) {
    uint64_t bits = rng.next();
    radiusBits[k] = static_cast<uint32_t>(bits >> 40); // 24 bits
    angleBits[k] = static_cast<uint32_t>(bits);        // 24 bits + 2 signs
  }
  constexpr float kInv24 = 1.0f / 16777216.0f;
  constexpr float kQuarterTurn = 1.5707963268f;
  for (int k = 0; k < kPairsPerBlock; ++k) {
    // u1 in (0, 1] = 2^e * m with m in [1, 2): ln u1 = e ln 2 + ln m.
    float u1 = static_cast<float>(radiusBits[k] + 1) * kInv24;
    uint32_t u1Bits;
    std::memcpy(&u1Bits, &u1, 4);
    int exponent = static_cast<int>(u1Bits >> 23) - 127;
    uint32_t mantissaBits = (u1Bits & 0x7fffffu) | 0x3f800000u;
    float m;
    std::memcpy(&m, &mantissaBits, 4);
    float s = (m - 1.0f) / (m + 1.0f);
    float lnU1 = static_cast<float>(exponent) * 0.693147181f +
                 s * polynomial(s * s, kLnSeries);
    float radius = std::sqrt(-2.0f * lnU1);
    // Taylor series of sin and cos on [0, pi/2).
    float phi = static_cast<float>(angleBits[k] >> 8) * (kQuarterTurn * kInv24);
    float sine = phi * polynomial(phi * phi, kSinSeries);
    float cosine = polynomial(phi * phi, kCosSeries);
    float z0 = radius * cosine, z1 = radius * sine;
    uint32_t b0, b1;
    std::memcpy(&b0, &z0, 4);
    std::memcpy(&b1, &z1, 4);
    b0 ^= (angleBits[k] & 1u) << 31;
    b1 ^= (angleBits[k] & 2u) << 30;
    std::memcpy(&out[2 * k], &b0, 4);
    std::memcpy(&out[2 * k + 1], &b1, 4);
  }
}

/// Writes `count` values offset + normal(0,1) * scale, converted to `dtype`,
/// to `out`. Integer weights are zero-filled (random ids make no sense).
void fillChunk(uint64_t seed, int32_t dtype, float offset, float scale,
               uint64_t count, void *out) {
  if (!isFloatDType(dtype)) {
    std::memset(out, 0, count * dtypeSize(dtype));
    return;
  }
  Xoshiro256 rng(seed);
  float normals[2 * kPairsPerBlock];
  for (uint64_t first = 0; first < count; first += 2 * kPairsPerBlock) {
    normalBlock(rng, normals);
    uint64_t n = std::min<uint64_t>(2 * kPairsPerBlock, count - first);
    switch (dtype) {
    case HYLA_BF16: {
      uint16_t *o = static_cast<uint16_t *>(out) + first;
      for (uint64_t i = 0; i < n; ++i)
        o[i] = floatToBF16(offset + normals[i] * scale);
      break;
    }
    case HYLA_F16: {
      uint16_t *o = static_cast<uint16_t *>(out) + first;
      for (uint64_t i = 0; i < n; ++i)
        o[i] = floatToF16(offset + normals[i] * scale);
      break;
    }
    case HYLA_F32: {
      float *o = static_cast<float *>(out) + first;
      for (uint64_t i = 0; i < n; ++i)
        o[i] = offset + normals[i] * scale;
      break;
    }
    case HYLA_F64: {
      double *o = static_cast<double *>(out) + first;
      for (uint64_t i = 0; i < n; ++i)
        o[i] = offset + normals[i] * scale;
      break;
    }
    }
  }
}

/// Host staging memory: pinned when the driver gives it (faster copies),
/// pageable otherwise.
class StagingBuffer {
public:
  StagingBuffer(const CudaDriver &cu, uint64_t bytes) : cu_(cu) {
    if (cu.memAllocHost(&data_, bytes) == CUDA_SUCCESS) {
      pinned_ = true;
    } else {
      fallback_.reset(new uint64_t[(bytes + 7) / 8]);
      data_ = fallback_.get();
    }
  }
  ~StagingBuffer() {
    if (pinned_)
      cu_.memFreeHost(data_);
  }
  StagingBuffer(const StagingBuffer &) = delete;
  StagingBuffer &operator=(const StagingBuffer &) = delete;
  uint8_t *data() { return static_cast<uint8_t *>(data_); }

private:
  const CudaDriver &cu_;
  void *data_ = nullptr;
  bool pinned_ = false;
  std::unique_ptr<uint64_t[]> fallback_;
};

struct Batch {
  uint64_t firstChunk = 0;
  uint64_t numChunks = 0;
};

void fillBatch(uint64_t seed, uint32_t weightIndex, const WeightDesc &weight,
               float offset, float scale, uint64_t numElements, Batch batch,
               uint8_t *staging, unsigned numThreads) {
  size_t elementBytes = dtypeSize(weight.dtype);
  std::atomic<uint64_t> nextChunk{0};
  auto worker = [&] {
    for (uint64_t c = nextChunk++; c < batch.numChunks; c = nextChunk++) {
      uint64_t chunk = batch.firstChunk + c;
      uint64_t first = chunk * kChunkElements;
      uint64_t count = std::min(kChunkElements, numElements - first);
      fillChunk(chunkSeed(seed, weightIndex, chunk), weight.dtype, offset,
                scale, count, staging + c * kChunkElements * elementBytes);
    }
  };
  unsigned threads =
      static_cast<unsigned>(std::min<uint64_t>(numThreads, batch.numChunks));
  std::vector<std::thread> pool;
  try {
    for (unsigned t = 1; t < threads; ++t)
      pool.emplace_back(worker);
  } catch (const std::exception &) {
    // Could not start more threads: the ones we have take all the chunks.
  }
  worker();
  for (std::thread &thread : pool)
    thread.join();
}

} // namespace

void initRandomWeights(hyla_module &module, uint64_t seed, float scale) {
  DeviceState &state =
      requirePrepared(module, "hyla_module_init_random_weights");
  if (!std::isfinite(scale))
    fail(HYLA_ERROR_INVALID_ARGUMENT, "weight scale must be finite, not ",
         scale);
  std::lock_guard<std::mutex> lock(module.mutex);
  ContextScope scope(state);
  const CudaDriver &cu = *state.cu;

  unsigned numThreads = std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<StagingBuffer> staging[2]; // made when first needed

  for (size_t w = 0; w < module.desc.weights.size(); ++w) {
    const WeightDesc &weight = module.desc.weights[w];
    if (module.weightPointers[w] || weight.numBytes == 0)
      continue; // bound by the caller, or nothing to fill
    CUdeviceptr pointer = 0;
    checkCuda(cu, cu.memAlloc(&pointer, weight.numBytes),
              strCat("allocating ", weight.numBytes, " bytes for weight ",
                     quoted(weight.name), " (cuMemAlloc)"));
    state.ownedWeights[w] = pointer;
    module.weightPointers[w] = pointer;
    for (auto &buffer : staging)
      if (!buffer)
        buffer = std::make_unique<StagingBuffer>(cu, kStagingBytes);

    size_t elementBytes = dtypeSize(weight.dtype);
    uint64_t numElements = weight.numBytes / elementBytes;
    uint64_t numChunks = (numElements + kChunkElements - 1) / kChunkElements;
    uint64_t chunksPerBatch =
        std::max<uint64_t>(1, kStagingBytes / (kChunkElements * elementBytes));
    float offset = weight.shape.size() == 1 ? 1.0f : 0.0f; // norm gains

    // Fill batch b into staging[b % 2] while copying batch b - 1.
    uint64_t numBatches = (numChunks + chunksPerBatch - 1) / chunksPerBatch;
    auto batchAt = [&](uint64_t b) {
      uint64_t first = b * chunksPerBatch;
      return Batch{first, std::min(chunksPerBatch, numChunks - first)};
    };
    for (uint64_t b = 0; b <= numBatches; ++b) {
      std::thread filler;
      if (b < numBatches)
        filler = std::thread(fillBatch, seed, static_cast<uint32_t>(w),
                             std::cref(weight), offset, scale, numElements,
                             batchAt(b), staging[b % 2]->data(), numThreads);
      CUresult copyResult = CUDA_SUCCESS;
      if (b > 0) {
        Batch previous = batchAt(b - 1);
        uint64_t firstElement = previous.firstChunk * kChunkElements;
        uint64_t count = std::min(previous.numChunks * kChunkElements,
                                  numElements - firstElement);
        copyResult =
            cu.memcpyHtoD(pointer + firstElement * elementBytes,
                          staging[(b - 1) % 2]->data(), count * elementBytes);
      }
      if (filler.joinable())
        filler.join(); // before anything can throw
      checkCuda(cu, copyResult,
                strCat("copying weight ", quoted(weight.name),
                       " to the device (cuMemcpyHtoD)"));
    }
  }
}

} // namespace hyla

extern "C" hyla_status hyla_module_init_random_weights(hyla_module *module,
                                                       uint64_t seed,
                                                       float scale) {
  return hyla::guarded([&] {
    if (!module)
      hyla::fail(HYLA_ERROR_INVALID_ARGUMENT, "module is NULL");
    hyla::initRandomWeights(*module, seed, scale);
  });
}
