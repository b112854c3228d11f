//===- Dispatch.cpp - running dispatches with JIT-compiled CPU kernels ----===//

#include "Interpreter.h"

#include "dialects/Hyla/HylaOps.h"

#include "llvm/Support/Error.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;

namespace hyla {
namespace {

/// A dense buffer in a kernel's memory layout.
struct RawBuffer {
  Type elementType;
  llvm::SmallVector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

RawBuffer toRaw(const HostTensor &t) {
  RawBuffer r{t.elementType, t.shape, {}};
  size_t eb = elementBytes(t.elementType);
  r.bytes.resize(std::max<size_t>(1, t.values.size() * eb));
  for (size_t i = 0; i < t.values.size(); ++i)
    writeElement(t.elementType, &r.bytes[i * eb], t.values[i]);
  return r;
}

HostTensorPtr fromRaw(const RawBuffer &r) {
  auto t = std::make_shared<HostTensor>();
  t->elementType = r.elementType;
  t->shape = r.shape;
  size_t eb = elementBytes(r.elementType);
  t->values.resize(t->numel());
  for (size_t i = 0; i < t->values.size(); ++i)
    t->values[i] = readElement(r.elementType, &r.bytes[i * eb]);
  return t;
}

/// Arguments of one packed call: pointers to every scalar of the expanded
/// memref descriptors (allocated, aligned, offset, sizes, strides), then the
/// three program ids.
class PackedArgs {
public:
  explicit PackedArgs(std::vector<RawBuffer> &buffers) {
    size_t ptrs = 0, ints = 3;
    for (RawBuffer &b : buffers) {
      ptrs += 2;
      ints += 1 + 2 * b.shape.size();
    }
    // Reserved up front: args point into these vectors.
    pointerStore.reserve(ptrs);
    intStore.reserve(ints);
    for (RawBuffer &b : buffers) {
      void *data = b.bytes.data();
      pointerStore.push_back(data);
      args.push_back(&pointerStore.back());
      pointerStore.push_back(data);
      args.push_back(&pointerStore.back());
      pushInt(0);
      for (int64_t s : b.shape)
        pushInt(s);
      int64_t stride = 1;
      llvm::SmallVector<int64_t> strides(b.shape.size());
      for (int64_t d = static_cast<int64_t>(b.shape.size()) - 1; d >= 0; --d) {
        strides[d] = stride;
        stride *= b.shape[d];
      }
      for (int64_t s : strides)
        pushInt(s);
    }
    for (int i = 0; i < 3; ++i)
      pidSlots[i] = pushInt(0);
  }

  void setProgram(int64_t x, int64_t y, int64_t z) {
    intStore[pidSlots[0]] = x;
    intStore[pidSlots[1]] = y;
    intStore[pidSlots[2]] = z;
  }
  void **data() { return args.data(); }

private:
  size_t pushInt(int64_t v) {
    intStore.push_back(v);
    args.push_back(&intStore.back());
    return intStore.size() - 1;
  }

  std::vector<void *> pointerStore;
  std::vector<int64_t> intStore;
  std::vector<void *> args;
  size_t pidSlots[3] = {0, 0, 0};
};

/// Bytes that read back as NaN (floats) or -1 (integers): any element a
/// kernel fails to write stands out.
void poison(RawBuffer &b) { std::memset(b.bytes.data(), 0xff, b.bytes.size()); }

} // namespace

LogicalResult DispatchInterpreter::evalOp(Operation *op) {
  auto d = dyn_cast<DispatchOp>(op);
  if (!d)
    return op->emitError("the CPU runner executes only dispatches, index "
                         "arithmetic, reshapes and weights at graph level; "
                         "was the graph-to-kernels pipeline run?");

  std::vector<RawBuffer> buffers;
  for (auto [i, input] : llvm::enumerate(d.getInputs())) {
    HostTensorPtr t = tensor(input);
    auto type = cast<RankedTensorType>(input.getType());
    ValueRange dyn = d.getInputDynamicDims(i);
    unsigned k = 0;
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      int64_t want =
          type.isDynamicDim(dim) ? index(dyn[k++]) : type.getDimSize(dim);
      if (t->shape[dim] != want)
        return op->emitError() << "input " << i << " dim " << dim << " is "
                               << t->shape[dim] << " but the kernel expects "
                               << want;
    }
    buffers.push_back(toRaw(*t));
  }
  unsigned numInputs = buffers.size();
  for (auto [i, result] : llvm::enumerate(d.getResults())) {
    auto type = cast<RankedTensorType>(result.getType());
    ValueRange dyn = d.getResultDynamicDims(i);
    RawBuffer b{type.getElementType(), {}, {}};
    unsigned k = 0;
    int64_t n = 1;
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      b.shape.push_back(type.isDynamicDim(dim) ? index(dyn[k++])
                                               : type.getDimSize(dim));
      n *= b.shape.back();
    }
    b.bytes.resize(std::max<int64_t>(1, n) * elementBytes(b.elementType));
    // A result updated in place starts as its input; others are poisoned.
    int64_t tied = d.getTiedInput(i);
    if (tied >= 0)
      b.bytes = buffers[tied].bytes;
    else
      poison(b);
    buffers.push_back(std::move(b));
  }

  auto fn = engine.lookupPacked(d.getKernel());
  if (!fn) {
    std::string msg = llvm::toString(fn.takeError());
    return op->emitError() << "kernel " << d.getKernel()
                           << " is not in the JIT module: " << msg;
  }
  int64_t grid[3];
  for (int i = 0; i < 3; ++i) {
    grid[i] = index(d.getGrid()[i]);
    if (grid[i] < 0)
      return op->emitError() << "grid dim " << i << " is negative";
  }
  PackedArgs args(buffers);
  for (int64_t z = 0; z < grid[2]; ++z)
    for (int64_t y = 0; y < grid[1]; ++y)
      for (int64_t x = 0; x < grid[0]; ++x) {
        args.setProgram(x, y, z);
        (*fn)(args.data());
      }
  for (unsigned i = 0; i < d.getNumResults(); ++i)
    set(d.getResult(i), fromRaw(buffers[numInputs + i]));
  return success();
}

} // namespace hyla
