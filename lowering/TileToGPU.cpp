//===- TileToGPU.cpp - hyla_tile kernels as CUDA-style GPU kernels --------===//
//
// One program runs as one CTA of N = 32 * num_warps threads. A tile of E
// elements becomes, in every thread, a vector of ceil(E / N) slots: slot j
// of thread t holds element e = j * N + t (row-major order). Elementwise ops
// act on those vectors directly; anything that needs another thread's
// element goes through dynamic shared memory, bracketed by barriers; `dot`
// runs on the tensor cores with mma.sync, fragments loaded with ldmatrix.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "lowering/MmaLayout.h"
#include "lowering/Passes.h"
#include "lowering/Targets.h"

#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <numeric>

namespace hyla {
#define GEN_PASS_DEF_TILETOGPU
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

constexpr unsigned kGlobalSpace = 1, kSharedSpace = 3;

/// A kernel memref argument after lowering: its base pointer and sizes.
struct MemrefArg {
  Value ptr;                     // !llvm.ptr<1>
  SmallVector<Value> dims;       // index
  SmallVector<Value> dimsI32;    // i32 (bounds checks)
  SmallVector<Value> stridesI64; // row-major element strides
  Type elementType;
  /// The tensor map the runtime passes for this argument (a generic pointer
  /// to a grid-constant parameter), where TMA copies read it; else null.
  Value tensorMap;
};

/// What the patterns of one kernel share.
struct KernelState {
  int64_t numThreads = 128;
  /// Threads launched: numThreads, plus a producer warpgroup's
  /// (`hyla_tile.produce`), which leaves before the consumers' barriers.
  int64_t launchThreads = 128;
  /// Ops the producer's one thread runs (no leader election, no barriers).
  DenseSet<Operation *> soloOps;
  /// Ops before a warp-specialized kernel splits, which every launched
  /// thread runs (their barriers wait for all of them).
  DenseSet<Operation *> everyThreadOps;
  /// Each thread owns runs of this many consecutive elements, so that
  /// in-bounds rows move with 8- or 16-byte accesses.
  int64_t vectorWidth = 4;
  Value tid;      // index
  Value tidI32;   // i32
  Value smem;     // !llvm.ptr<3>, the dynamic shared memory
  int64_t sharedBytes = 0;
  /// Scratch (operand staging, exchanges) starts here: the bytes before it
  /// are the async copy rings and mbarriers (`hyla_tile.reserved_shared`),
  /// which live across the ops that use scratch.
  int64_t scratchBase = 0;
  /// The kernel's last `inval_barriers` (top level, after every
  /// `init_barriers`): past it no ring is live, so the ops after it (an
  /// epilogue's exchanges) take their scratch from byte 0 instead, and the
  /// program asks for less shared memory (attention: two programs an SM).
  /// The conversion visits ops in program order, so the lowering of this
  /// op moves scratchBase for all that follow.
  Operation *ringsEnd = nullptr;
  bool hasWgmma = false;
  bool gridDependency = false; // the target has griddepcontrol
  DenseMap<Value, MemrefArg> memrefs;

  int64_t slots(int64_t numel) const {
    int64_t perRound = numThreads * vectorWidth;
    return std::max<int64_t>(1, (numel + perRound - 1) / perRound) *
           vectorWidth;
  }
  /// Every slot of every thread holds an element (no padding slots).
  bool allSlotsValid(int64_t numel) const {
    return numel % (numThreads * vectorWidth) == 0;
  }
  /// Scratch of `bytes` (from scratchBase).
  void needShared(int64_t bytes) { needSharedUpTo(scratchBase + bytes); }
  /// Shared memory up to byte `end`, counted from its start.
  void needSharedUpTo(int64_t end) { sharedBytes = std::max(sharedBytes, end); }
  int64_t warps() const { return numThreads / 32; }
};

bool isMmaTile(Type t) {
  auto tt = dyn_cast<RankedTensorType>(t);
  return tt && isa_and_nonnull<MmaLayoutAttr>(tt.getEncoding());
}

/// How a 2-D `#hyla_tile.mma` tile is cut into the strips of `warps` warps.
MmaStrips fragmentGeometry(RankedTensorType t, int64_t warps) {
  return MmaStrips::get(t.getDimSize(0), t.getDimSize(1), isWarpgroupTile(t),
                        warps);
}

Type elementOf(Type t) { return cast<ShapedType>(t).getElementType(); }

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

//===----------------------------------------------------------------------===//
// Small IR helpers
//===----------------------------------------------------------------------===//

class Emitter {
public:
  Emitter(OpBuilder &b, Location loc, KernelState &st)
      : b(b), loc(loc), st(st) {}

  Value i32(int64_t v) { return arith::ConstantIntOp::create(b, loc, v, 32); }
  Value i64(int64_t v) { return arith::ConstantIntOp::create(b, loc, v, 64); }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value toI32(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
  }
  Value toIndex(Value i) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  }

  VectorType vec(int64_t n, Type elt) { return VectorType::get({n}, elt); }
  Value splat(Value scalar, int64_t n) {
    return vector::BroadcastOp::create(b, loc, vec(n, scalar.getType()),
                                       scalar);
  }
  Value constVec(ArrayRef<int32_t> values) {
    auto t = vec(values.size(), b.getI32Type());
    return arith::ConstantOp::create(b, loc, t,
                                     DenseElementsAttr::get(t, values));
  }
  Value splatConst(Type elt, double v, int64_t n) {
    auto t = vec(n, elt);
    Attribute a = isa<FloatType>(elt)
                      ? Attribute(b.getFloatAttr(elt, v))
                      : Attribute(b.getIntegerAttr(elt, static_cast<int64_t>(v)));
    return arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, a));
  }
  Value allTrue(int64_t n) {
    auto t = vec(n, b.getI1Type());
    return arith::ConstantOp::create(b, loc, t,
                                     DenseElementsAttr::get(t, true));
  }

  /// Linear element index of every slot of this thread: runs of W
  /// consecutive elements, thread t's run r starting at (r * N + t) * W.
  Value elementIndices(int64_t n) {
    int64_t w = st.vectorWidth;
    SmallVector<int32_t> base;
    for (int64_t j = 0; j < n; ++j)
      base.push_back(static_cast<int32_t>((j / w) * st.numThreads * w + j % w));
    Value start = arith::MulIOp::create(b, loc, st.tidI32, i32(w));
    return arith::AddIOp::create(b, loc, constVec(base), splat(start, n));
  }
  /// The first element of each of the thread's runs (slots 0, W, 2W, ...).
  Value runStarts(int64_t n) {
    int64_t w = st.vectorWidth;
    SmallVector<int32_t> base;
    for (int64_t j = 0; j < n; j += w)
      base.push_back(static_cast<int32_t>((j / w) * st.numThreads * w));
    Value start = arith::MulIOp::create(b, loc, st.tidI32, i32(w));
    return arith::AddIOp::create(b, loc, constVec(base),
                                 splat(start, base.size()));
  }
  /// Slots that hold an element of a tile of `numel` elements.
  Value validSlots(Value elems, int64_t numel) {
    int64_t n = cast<VectorType>(elems.getType()).getNumElements();
    if (n * st.numThreads == numel)
      return allTrue(n);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, elems,
                                 splat(i32(numel), n));
  }
  /// Coordinates (vectors, one per dim) of linear element indices.
  SmallVector<Value> coords(Value elems, ArrayRef<int64_t> shape) {
    if (std::optional<SmallVector<int64_t>> offs = slotOffsets(elems))
      if (std::optional<SmallVector<Value>> c = splitCoords(*offs, shape))
        return *c;
    int64_t n = cast<VectorType>(elems.getType()).getNumElements();
    SmallVector<Value> out(shape.size());
    int64_t stride = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      Value q = stride == 1 ? elems
                            : Value(arith::DivUIOp::create(
                                  b, loc, elems, splat(i32(stride), n)));
      out[d] = d == 0 ? q
                      : Value(arith::RemUIOp::create(b, loc, q,
                                                     splat(i32(shape[d]), n)));
      stride *= shape[d];
    }
    return out;
  }

  /// For slot indices of the form `offsets + t W` (elementIndices,
  /// runStarts) with every offset mod P below W, the offsets.
  std::optional<SmallVector<int64_t>> slotOffsets(Value elems) {
    auto add = elems.getDefiningOp<arith::AddIOp>();
    if (!add)
      return std::nullopt;
    DenseIntElementsAttr offsets;
    if (!matchPattern(add.getLhs(), m_Constant(&offsets)))
      return std::nullopt;
    auto bc = add.getRhs().getDefiningOp<vector::BroadcastOp>();
    auto mul = bc ? bc.getSource().getDefiningOp<arith::MulIOp>() : nullptr;
    IntegerAttr w;
    if (!mul || mul.getLhs() != st.tidI32 ||
        !matchPattern(mul.getRhs(), m_Constant(&w)) ||
        w.getInt() != st.vectorWidth)
      return std::nullopt;
    SmallVector<int64_t> out;
    int64_t p = st.numThreads * st.vectorWidth;
    for (const APInt &o : offsets.getValues<APInt>()) {
      int64_t v = o.getSExtValue();
      if (v < 0 || v % p >= st.vectorWidth)
        return std::nullopt;
      out.push_back(v);
    }
    return out;
  }

  /// The coordinates of the thread's slots as (per-thread scalar) +
  /// (per-slot constant) in every dim, when the tile shape allows it; none
  /// otherwise. Slot j of thread t is element A + B P with A = t W + jw,
  /// jw = offset_j mod P (below W), B = offset_j / P, P = threads * W; its
  /// coordinate in dim d (suffix product R, size S) is floor(e / R) mod S.
  /// When R divides P (and W divides R, or R = 1), that is
  /// (floor(tW / R) + jw [R = 1] + B P / R) mod S, and the mod splits if S
  /// and P / R divide one another; when P divides R, A never carries into
  /// dim d and the coordinate is floor(B P / R) mod S, a constant. Keeping
  /// the per-slot part constant lets addresses become base + immediate
  /// instead of one live register pair per slot.
  /// Dim d's coordinate of slot j of thread t, split as
  /// ((t W) / div) mod mod [when threadPart; mod 0: none] + consts[j].
  struct DimPlan {
    bool threadPart = false;
    int64_t div = 1, mod = 0;
    SmallVector<int32_t> consts;
    int64_t threadValue(int64_t t, int64_t w) const {
      if (!threadPart)
        return 0;
      int64_t a = t * w / div;
      return mod ? a % mod : a;
    }
  };

  std::optional<SmallVector<DimPlan>> planCoords(ArrayRef<int64_t> offsets,
                                                 ArrayRef<int64_t> shape) {
    int64_t n = static_cast<int64_t>(offsets.size());
    int64_t w = st.vectorWidth, p = st.numThreads * w;
    int64_t rank = static_cast<int64_t>(shape.size());
    SmallVector<DimPlan> plan(rank);
    int64_t r = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t size = shape[d];
      bool outer = d == 0; // no mod: slots past the tile are masked anyway
      DimPlan &dp = plan[d];
      if (p % r == 0 && (r == 1 || r % w == 0)) {
        int64_t m = p / r;
        bool wrapsConst = outer || size % m == 0; // (a + jw) < m <= S
        bool wrapsThread = !outer && m % size == 0;
        if (!wrapsConst && !wrapsThread)
          return std::nullopt;
        if (r == 1 && wrapsThread && size % w != 0)
          return std::nullopt;
        dp.threadPart = true; // a = floor(t W / R) [mod S]
        dp.div = r;
        dp.mod = wrapsThread ? size : 0;
        for (int64_t j = 0; j < n; ++j) {
          int64_t jw = r == 1 ? offsets[j] % p : 0, bIdx = offsets[j] / p;
          int64_t c = wrapsThread ? jw
                                  : jw + (outer ? bIdx * m : (bIdx * m) % size);
          dp.consts.push_back(static_cast<int32_t>(c));
        }
      } else if (r % p == 0) {
        for (int64_t j = 0; j < n; ++j) {
          int64_t c = (offsets[j] / p) * p / r;
          dp.consts.push_back(static_cast<int32_t>(outer ? c : c % size));
        }
      } else {
        return std::nullopt;
      }
      r *= size;
    }
    // The algebra above is easy to get subtly wrong: check it against plain
    // div/mod for every thread and slot (cheap: threads x slots x rank).
    for (int64_t t = 0; t < st.numThreads; ++t)
      for (int64_t j = 0; j < n; ++j) {
        int64_t e = t * w + offsets[j], suffix = 1;
        for (int64_t d = rank - 1; d >= 0; --d) {
          int64_t want = e / suffix;
          if (d > 0)
            want %= shape[d];
          suffix *= shape[d];
          if (plan[d].threadValue(t, w) + plan[d].consts[j] != want)
            return std::nullopt;
        }
      }
    return plan;
  }

  /// The per-thread part of a planned coordinate, as an i32 scalar.
  Value threadPart(const DimPlan &dp) {
    Value a = arith::MulIOp::create(b, loc, st.tidI32, i32(st.vectorWidth));
    if (dp.div > 1)
      a = arith::DivUIOp::create(b, loc, a, i32(dp.div));
    if (dp.mod)
      a = arith::RemUIOp::create(b, loc, a, i32(dp.mod));
    return a;
  }

  std::optional<SmallVector<Value>> splitCoords(ArrayRef<int64_t> offsets,
                                                ArrayRef<int64_t> shape) {
    std::optional<SmallVector<DimPlan>> plan = planCoords(offsets, shape);
    if (!plan)
      return std::nullopt;
    int64_t n = static_cast<int64_t>(offsets.size());
    SmallVector<Value> out;
    for (const DimPlan &dp : *plan) {
      Value c = constVec(dp.consts);
      out.push_back(dp.threadPart
                        ? Value(arith::AddIOp::create(b, loc, c,
                                                      splat(threadPart(dp), n)))
                        : c);
    }
    return out;
  }

  /// Elements [r, r + w) of a slot vector, and the slot vector with them
  /// replaced: shuffles, which every lowering to LLVM handles.
  Value extractRun(Value v, int64_t r, int64_t w) {
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < w; ++i)
      mask.push_back(r + i);
    return vector::ShuffleOp::create(b, loc, v, v, mask);
  }
  Value insertRun(Value run, Value v, int64_t r) {
    int64_t n = cast<VectorType>(v.getType()).getNumElements();
    int64_t w = cast<VectorType>(run.getType()).getNumElements();
    SmallVector<int64_t> mask;
    for (int64_t i = 0; i < n; ++i)
      mask.push_back(i >= r && i < r + w ? n + (i - r) : i);
    return vector::ShuffleOp::create(b, loc, v, run, mask);
  }

  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value sub(Value a, Value c) { return arith::SubIOp::create(b, loc, a, c); }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
  Value andI(Value a, Value c) { return arith::AndIOp::create(b, loc, a, c); }
  Value cmp(arith::CmpIPredicate p, Value a, Value c) {
    return arith::CmpIOp::create(b, loc, p, a, c);
  }

  /// Pointer(s) to element(s) `index` (i32 or vector of i32) of type `elt`
  /// in scratch shared memory, starting at byte `base` of the scratch.
  Value sharedPtr(int64_t base, Type elt, Value index) {
    Type ptrTy = LLVM::LLVMPointerType::get(b.getContext(), kSharedSpace);
    Value region = LLVM::GEPOp::create(
        b, loc, ptrTy, b.getI8Type(), st.smem,
        ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(st.scratchBase + base)});
    Type resTy = ptrTy;
    if (auto v = dyn_cast<VectorType>(index.getType()))
      resTy = VectorType::get(v.getShape(), ptrTy);
    return LLVM::GEPOp::create(b, loc, resTy, elt, region, ValueRange{index});
  }

  /// The thread index (i32). In kernels that keep copy rings across a
  /// loop (`scratchBase` > 0) it is read again where it is used, by an
  /// instruction LLVM may not hoist: otherwise LICM hoists every per-slot
  /// address and coordinate derived from it out of the loop, and a 4-warp
  /// kernel spills them (recomputing them costs a few integer ops a slot).
  Value threadId() {
    if (!st.scratchBase)
      return st.tidI32;
    return LLVM::InlineAsmOp::create(
               b, loc, b.getI32Type(), ValueRange{}, "mov.u32 $0, %tid.x;",
               "=r", /*has_side_effects=*/true, /*is_align_stack=*/false,
               LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
               ArrayAttr())
        .getResult(0);
  }

  /// A barrier of the program's threads: with a producer warpgroup
  /// launched too (which never joins), barrier 1 counting the consumers.
  void barrier() {
    if (st.launchThreads == st.numThreads) {
      gpu::BarrierOp::create(b, loc);
      return;
    }
    NVVM::BarrierOp::create(b, loc, Type(), i32(1), i32(st.numThreads),
                            NVVM::BarrierReductionAttr(), Value());
  }
  /// This thread's shared-memory writes (stores or landed cp.async) made
  /// visible to wgmma, which reads through the async proxy, then a barrier
  /// so every thread's are.
  void asyncProxyBarrier() {
    NVVM::FenceProxyOp::create(
        b, loc, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
    barrier();
  }

  /// Writes the valid slots of `values` (a thread's tile vector) to shared
  /// memory at byte `base`, element e at index `indexOf(e)`.
  void scatterShared(Value values, Value indices, Value mask, int64_t base) {
    Type elt = elementOf(values.getType());
    Value ptrs = sharedPtr(base, elt, indices);
    LLVM::masked_scatter::create(b, loc, values, ptrs, mask,
                                 elementBytes(elt));
  }
  /// Writes every slot of `values` to shared memory at byte `base`, slot j
  /// at element `indices[j]`, one store each.
  void storeSharedEach(Value values, Value indices, int64_t base) {
    Type elt = elementOf(values.getType());
    int64_t n = cast<VectorType>(values.getType()).getNumElements();
    for (int64_t j = 0; j < n; ++j)
      LLVM::StoreOp::create(
          b, loc, vector::ExtractOp::create(b, loc, values, j),
          sharedPtr(base, elt, vector::ExtractOp::create(b, loc, indices, j)));
  }
  /// f32 `values` as the i32 words of their tf32 roundings (to nearest,
  /// ties away), which mma.sync and wgmma read as tf32 operands.
  Value tf32Words(Value values) {
    int64_t n = cast<VectorType>(values.getType()).getNumElements();
    Value words = splatConst(b.getI32Type(), 0, n);
    for (int64_t j = 0; j < n; ++j)
      words = vector::InsertOp::create(
          b, loc,
          NVVM::ConvertFloatToTF32Op::create(
              b, loc, b.getI32Type(), vector::ExtractOp::create(b, loc, values, j),
              NVVM::FPRoundingMode::RNA, NVVM::SaturationMode::NONE, false),
          words, j);
    return words;
  }
  /// Like scatterShared, for indices whose runs of W slots are consecutive
  /// and start at multiples of W: one vector store per run when every slot
  /// is valid.
  void storeSharedRuns(Value values, Value indices, Value mask, int64_t base,
                       bool allValid) {
    if (!allValid)
      return scatterShared(values, indices, mask, base);
    Type elt = elementOf(values.getType());
    int64_t n = cast<VectorType>(values.getType()).getNumElements();
    int64_t w = st.vectorWidth;
    for (int64_t r = 0; r < n; r += w) {
      Value at = vector::ExtractOp::create(b, loc, indices, r);
      Value run = extractRun(values, r, w);
      LLVM::StoreOp::create(b, loc, run, sharedPtr(base, elt, at),
                            w * elementBytes(elt));
    }
  }
  Value loadSharedRuns(Type elt, Value indices, Value mask, int64_t base,
                       bool allValid) {
    if (!allValid)
      return gatherShared(elt, indices, mask, base);
    int64_t n = cast<VectorType>(indices.getType()).getNumElements();
    int64_t w = st.vectorWidth;
    Value result = splatConst(elt, 0.0, n);
    for (int64_t r = 0; r < n; r += w) {
      Value at = vector::ExtractOp::create(b, loc, indices, r);
      Value run = LLVM::LoadOp::create(b, loc, vec(w, elt),
                                       sharedPtr(base, elt, at),
                                       w * elementBytes(elt));
      result = insertRun(run, result, r);
    }
    return result;
  }
  Value gatherShared(Type elt, Value indices, Value mask, int64_t base) {
    int64_t n = cast<VectorType>(indices.getType()).getNumElements();
    Value ptrs = sharedPtr(base, elt, indices);
    return LLVM::masked_gather::create(b, loc, vec(n, elt), ptrs, mask,
                                       ValueRange{splatConst(elt, 0.0, n)},
                                       elementBytes(elt));
  }
  static int64_t elementBytes(Type t) {
    return std::max<int64_t>(1, t.getIntOrFloatBitWidth() / 8);
  }

  OpBuilder &b;
  Location loc;
  KernelState &st;
};

/// The layout of a tf32 dot operand stored transposed (k-contiguous, for
/// ldmatrix) with `rows` rows (the operand's m or n): one region of
/// `rows` x 8 words a k step, so k steps are constant offsets; in a region,
/// row x sits at x ^ ((x >> 3) & 3) and its two 16-byte units swap when bit
/// 2 of x is set. ldmatrix (8 consecutive rows, one unit each) then reads
/// without bank conflicts, and a warp storing a row segment of the
/// untransposed tile (every 4th x, or fragment pairs) hits each bank at
/// most twice (4 times for rows of 128 columns).
struct SwizzledOperand {
  int64_t rows;
  /// An i32 constant, splat when `like` is a vector.
  static Value constantLike(Emitter &e, Value like, int64_t v) {
    if (auto vt = dyn_cast<VectorType>(like.getType()))
      return e.splat(e.i32(v), vt.getNumElements());
    return e.i32(v);
  }
  /// The part of the word of (x, kk) that does not depend on kk / 8; kk may
  /// be kk % 8 or kk itself (the high bits are added by the caller).
  static Value rowPart(Emitter &e, Value x, Value kk) {
    auto cst = [&](int64_t v) { return constantLike(e, x, v); };
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value placed = arith::XOrIOp::create(
        b, loc, x,
        e.andI(arith::ShRUIOp::create(b, loc, x, cst(3)), cst(3)));
    Value unit = arith::XOrIOp::create(
        b, loc, e.andI(arith::ShRUIOp::create(b, loc, kk, cst(2)), cst(1)),
        e.andI(arith::ShRUIOp::create(b, loc, x, cst(2)), cst(1)));
    return e.add(e.add(e.mul(placed, cst(8)),
                       arith::ShLIOp::create(b, loc, unit, cst(2))),
                 e.andI(kk, cst(3)));
  }
  /// The word of element kk of row x.
  Value word(Emitter &e, Value x, Value kk) const {
    auto cst = [&](int64_t v) { return constantLike(e, x, v); };
    Value region = e.mul(arith::ShRUIOp::create(e.b, e.loc, kk, cst(3)),
                         cst(rows * 8));
    return e.add(region, rowPart(e, x, kk));
  }
};

/// The first row and column (i32) of strip `s32` of a dot result.
std::pair<Value, Value> stripOrigin(Emitter &e, const MmaStrips &geometry,
                                    Value s32) {
  Value stripsN = e.i32(geometry.stripsN);
  return {e.mul(arith::DivUIOp::create(e.b, e.loc, s32, stripsN), e.i32(16)),
          e.mul(arith::RemUIOp::create(e.b, e.loc, s32, stripsN),
                e.i32(8 * geometry.strip))};
}

/// Where this thread's fragment values of a `#hyla_tile.mma` tile sit, as
/// per-strip scalars plus per-slot constants: slot j is at
/// (stripRow[strip[j]] + rowConst[j], stripCol[strip[j]] + colConst[j]).
/// Slots run in fragment order: strip i, n tile t, then (row, col),
/// (row, col + 1), (row + 8, col), (row + 8, col + 1) as mma.sync lays out
/// its result.
struct FragmentParts {
  SmallVector<Value> stripRow, stripCol; // i32
  SmallVector<int64_t> strip, rowConst, colConst;
};

FragmentParts fragmentParts(Emitter &e, RankedTensorType t) {
  int64_t warps = e.st.warps();
  MmaStrips geometry = fragmentGeometry(t, warps);
  Value tid = e.threadId();
  Value lane = arith::RemUIOp::create(e.b, e.loc, tid, e.i32(32));
  Value warp = arith::DivUIOp::create(e.b, e.loc, tid, e.i32(32));
  Value group = arith::DivUIOp::create(e.b, e.loc, lane, e.i32(4));
  Value quad = arith::RemUIOp::create(e.b, e.loc, lane, e.i32(4));
  FragmentParts parts;
  for (int64_t i = 0; i < geometry.stripsPerWarp(warps); ++i) {
    auto [mBase, nBase] =
        stripOrigin(e, geometry, e.add(warp, e.i32(i * warps)));
    parts.stripRow.push_back(e.add(mBase, group));
    parts.stripCol.push_back(e.add(nBase, e.mul(quad, e.i32(2))));
    for (int64_t tile = 0; tile < geometry.strip; ++tile)
      for (int64_t q = 0; q < 4; ++q) {
        parts.strip.push_back(i);
        parts.rowConst.push_back(q >= 2 ? 8 : 0);
        parts.colConst.push_back(8 * tile + q % 2);
      }
  }
  return parts;
}

/// The row (i32) of each of this thread's values of `m` fragment rows
/// (isFragmentRows): slot 2i is row g of its i-th strip, slot 2i + 1 row
/// g + 8, as the fragments of any width hold them.
SmallVector<Value> fragmentRowIndices(Emitter &e, int64_t m) {
  auto strip = RankedTensorType::get(
      {m, 8}, e.b.getF32Type(), MmaLayoutAttr::get(e.b.getContext(), true));
  FragmentParts parts = fragmentParts(e, strip);
  SmallVector<Value> rows;
  for (Value row : parts.stripRow) {
    rows.push_back(row);
    rows.push_back(e.add(row, e.i32(8)));
  }
  return rows;
}

/// Row and column (i32 vectors) of each fragment value of this thread in a
/// `#hyla_tile.mma` tile, in fragment order (see FragmentParts).
std::pair<Value, Value> fragmentCoords(Emitter &e, RankedTensorType t) {
  FragmentParts parts = fragmentParts(e, t);
  int64_t count = parts.strip.size();
  Value rows = e.splat(e.i32(0), count), cols = rows;
  for (size_t i = 0; i < parts.stripRow.size(); ++i) {
    SmallVector<int64_t> mask;
    for (int64_t j = 0; j < count; ++j)
      mask.push_back(parts.strip[j] == static_cast<int64_t>(i) ? count + j : j);
    rows = vector::ShuffleOp::create(e.b, e.loc, rows,
                                     e.splat(parts.stripRow[i], count), mask);
    cols = vector::ShuffleOp::create(e.b, e.loc, cols,
                                     e.splat(parts.stripCol[i], count), mask);
  }
  auto consts = [](ArrayRef<int64_t> v) {
    return llvm::map_to_vector(v, [](int64_t x) { return int32_t(x); });
  };
  return {e.add(rows, e.constVec(consts(parts.rowConst))),
          e.add(cols, e.constVec(consts(parts.colConst)))};
}

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

class TileTypeConverter : public TypeConverter {
public:
  explicit TileTypeConverter(const KernelState &st) {
    addConversion([](Type t) { return t; });
    addConversion([&st](RankedTensorType t) -> Type {
      if (isSharedTile(t))
        return IntegerType::get(t.getContext(), 32);
      if (isFragmentRows(t))
        return VectorType::get({fragmentRowSlots(t.getDimSize(0), st.warps())},
                               t.getElementType());
      if (isMmaTile(t))
        return VectorType::get({fragmentGeometry(t, st.warps()).fragmentSlots(st.warps())},
                               t.getElementType());
      return VectorType::get({st.slots(t.getNumElements())},
                             t.getElementType());
    });
    auto cast = [](OpBuilder &b, Type t, ValueRange in, Location loc) -> Value {
      return UnrealizedConversionCastOp::create(b, loc, t, in).getResult(0);
    };
    addSourceMaterialization(cast);
    addTargetMaterialization(cast);
  }
};

template <typename Op>
struct TilePattern : OpConversionPattern<Op> {
  TilePattern(const TypeConverter &tc, MLIRContext *ctx, KernelState &st)
      : OpConversionPattern<Op>(tc, ctx), st(st) {}
  KernelState &st;
};

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

/// Masks and pointers of a tile access (load or store); `linear` are the
/// element offsets (i64) without masking.
struct GlobalAccess {
  Value ptrs, mask, linear;
};

/// The access of tile elements at `tileCoords` (i32 vectors, one per tile
/// dim) whose slots `mask` holds.
GlobalAccess globalAccessAt(Emitter &e, const MemrefArg &m, ValueRange offsets,
                            ArrayRef<int64_t> dims, ArrayRef<Value> tileCoords,
                            Value mask) {
  int64_t n = cast<VectorType>(mask.getType()).getNumElements();
  Value linear = e.splat(e.i64(0), n);
  Value zero = e.splat(e.i32(0), n);
  for (size_t d = 0; d < offsets.size(); ++d) {
    Value coord = e.splat(e.toI32(offsets[d]), n);
    auto it = llvm::find(dims, static_cast<int64_t>(d));
    if (it != dims.end())
      coord = e.add(coord, tileCoords[it - dims.begin()]);
    mask = e.andI(mask, e.cmp(arith::CmpIPredicate::sge, coord, zero));
    mask = e.andI(mask, e.cmp(arith::CmpIPredicate::slt, coord,
                              e.splat(m.dimsI32[d], n)));
    Value wide = arith::ExtSIOp::create(e.b, e.loc,
                                        e.vec(n, e.b.getI64Type()), coord);
    linear = e.add(linear, e.mul(wide, e.splat(m.stridesI64[d], n)));
  }
  Type ptrTy = LLVM::LLVMPointerType::get(e.b.getContext(), kGlobalSpace);
  Value ptrs = LLVM::GEPOp::create(e.b, e.loc, VectorType::get({n}, ptrTy),
                                   m.elementType, m.ptr, ValueRange{linear});
  return {ptrs, mask, linear};
}

/// Whether the (col, col + 1) pairs of a `#hyla_tile.mma` tile can move as
/// single vector accesses: the tile's columns run along the memref's
/// contiguous last dim, whose static size is even; a run-time check of
/// bounds and alignment remains (`vectorAccessOK` with width 2).
bool canPairFragments(MemRefType mt, ArrayRef<int64_t> dims) {
  int64_t rank = mt.getRank();
  return dims.size() == 2 && dims.back() == rank - 1 &&
         !mt.isDynamicDim(rank - 1) && mt.getDimSize(rank - 1) % 2 == 0;
}

/// Whether the tile's runs of W slots can move as single vector accesses:
/// its last dim runs along the memref's (contiguous) last dim, both are
/// multiples of W, and no slot is padding. Then only a run-time check of
/// bounds and alignment remains (`vectorAccessOK`).
bool canVectorize(const KernelState &st, MemRefType mt, ArrayRef<int64_t> dims,
                  ArrayRef<int64_t> shape) {
  int64_t w = st.vectorWidth, rank = mt.getRank(), numel = 1;
  for (int64_t s : shape)
    numel *= s;
  return !dims.empty() && dims.back() == rank - 1 && shape.back() % w == 0 &&
         !mt.isDynamicDim(rank - 1) && mt.getDimSize(rank - 1) % w == 0 &&
         st.allSlotsValid(numel);
}

/// Where the slots of this thread's part of a tile sit, for its global
/// loads and stores: in the thread layout, runs of W consecutive elements;
/// as `#hyla_tile.mma` fragments, (col, col + 1) pairs. `all` gives every
/// slot's coordinates and whether it holds an element (gathers, scatters);
/// `runStarts` the coordinates of each run's first slot (the vector path,
/// when `vectorizable` and a run-time check pass). Both emit at the
/// emitter's insertion point, so each branch computes only what it uses.
struct SlotPlacement {
  int64_t slots = 0, width = 0;
  bool vectorizable = false;
  std::function<std::pair<SmallVector<Value>, Value>(Emitter &)> all;
  std::function<SmallVector<Value>(Emitter &)> runStarts;
};

SlotPlacement placeSlots(KernelState &st, RankedTensorType t, MemRefType mt,
                         ArrayRef<int64_t> dims) {
  SlotPlacement p;
  if (isMmaTile(t)) {
    p.slots = fragmentGeometry(t, st.warps()).fragmentSlots(st.warps());
    p.width = 2;
    p.vectorizable = canPairFragments(mt, dims);
    int64_t n = p.slots;
    p.all = [t, n](Emitter &e) {
      auto [rows, cols] = fragmentCoords(e, t);
      return std::make_pair(SmallVector<Value>{rows, cols}, e.allTrue(n));
    };
    p.runStarts = [t, n](Emitter &e) {
      auto [rows, cols] = fragmentCoords(e, t);
      SmallVector<int64_t> even;
      for (int64_t j = 0; j < n; j += 2)
        even.push_back(j);
      return SmallVector<Value>{
          vector::ShuffleOp::create(e.b, e.loc, rows, rows, even),
          vector::ShuffleOp::create(e.b, e.loc, cols, cols, even)};
    };
    return p;
  }
  int64_t n = st.slots(t.getNumElements());
  p.slots = n;
  p.width = st.vectorWidth;
  p.vectorizable = canVectorize(st, mt, dims, t.getShape());
  SmallVector<int64_t> shape(t.getShape());
  int64_t numel = t.getNumElements();
  p.all = [shape, n, numel](Emitter &e) {
    Value elems = e.elementIndices(n);
    return std::make_pair(e.coords(elems, shape), e.validSlots(elems, numel));
  };
  p.runStarts = [shape, n](Emitter &e) {
    return e.coords(e.runStarts(n), shape);
  };
  return p;
}

/// Pointers to the first element of each run of W slots, for the vector
/// path. For fragments: a base per strip plus a constant per (col, col + 1)
/// pair (with static strides), which folds into the access's immediate
/// offset, so a loop keeps no per-pair 64-bit address live across its body
/// (LICM would hoist each one).
SmallVector<Value> runPointers(Emitter &v, const MemrefArg &m,
                               ValueRange offsets, ArrayRef<int64_t> dims,
                               RankedTensorType t, const SlotPlacement &place) {
  Type ptrTy = LLVM::LLVMPointerType::get(v.b.getContext(), kGlobalSpace);
  int64_t n = place.slots, w = place.width;
  SmallVector<Value> ptrs;
  if (isMmaTile(t)) {
    FragmentParts parts = fragmentParts(v, t);
    auto wide = [&](Value x) {
      return Value(arith::ExtSIOp::create(v.b, v.loc, v.b.getI64Type(), x));
    };
    Value fixed = v.i64(0);
    for (size_t d = 0; d < offsets.size(); ++d)
      fixed = v.add(fixed,
                    v.mul(wide(v.toI32(offsets[d])), m.stridesI64[d]));
    Value rowStride = m.stridesI64[dims[0]], colStride = m.stridesI64[dims[1]];
    SmallVector<Value> bases;
    for (size_t i = 0; i < parts.stripRow.size(); ++i) {
      Value linear =
          v.add(fixed, v.add(v.mul(wide(parts.stripRow[i]), rowStride),
                             v.mul(wide(parts.stripCol[i]), colStride)));
      bases.push_back(LLVM::GEPOp::create(v.b, v.loc, ptrTy, m.elementType,
                                          m.ptr, ValueRange{linear}));
    }
    for (int64_t j = 0; j < n; j += w) {
      Value off = v.add(v.mul(v.i64(parts.rowConst[j]), rowStride),
                        v.mul(v.i64(parts.colConst[j]), colStride));
      ptrs.push_back(LLVM::GEPOp::create(v.b, v.loc, ptrTy, m.elementType,
                                         bases[parts.strip[j]],
                                         ValueRange{off}));
    }
    return ptrs;
  }
  SmallVector<Value> starts = place.runStarts(v);
  GlobalAccess runs =
      globalAccessAt(v, m, offsets, dims, starts, v.allTrue(n / w));
  for (int64_t r = 0; r < n; r += w) {
    Value off = vector::ExtractOp::create(v.b, v.loc, runs.linear, r / w);
    ptrs.push_back(LLVM::GEPOp::create(v.b, v.loc, ptrTy, m.elementType,
                                       m.ptr, ValueRange{off}));
  }
  return ptrs;
}

/// The whole tile is inside the memref, its row starts are W-aligned and so
/// is the base pointer: uniform across the CTA.
Value vectorAccessOK(Emitter &e, const MemrefArg &m, ValueRange offsets,
                     ArrayRef<int64_t> dims, ArrayRef<int64_t> shape,
                     int64_t w = 0) {
  if (!w)
    w = e.st.vectorWidth;
  Value ok = arith::ConstantOp::create(e.b, e.loc, e.b.getBoolAttr(true));
  Value zero = e.i32(0);
  for (size_t d = 0; d < offsets.size(); ++d) {
    Value off = e.toI32(offsets[d]);
    auto it = llvm::find(dims, static_cast<int64_t>(d));
    Value end = it != dims.end()
                    ? e.add(off, e.i32(shape[it - dims.begin()]))
                    : e.add(off, e.i32(1));
    ok = e.andI(ok, e.cmp(arith::CmpIPredicate::sge, off, zero));
    ok = e.andI(ok, e.cmp(arith::CmpIPredicate::sle, end, m.dimsI32[d]));
  }
  Value last = e.toI32(offsets.back());
  ok = e.andI(ok, e.cmp(arith::CmpIPredicate::eq,
                        arith::RemUIOp::create(e.b, e.loc, last, e.i32(w)),
                        zero));
  Value addr = LLVM::PtrToIntOp::create(e.b, e.loc, e.b.getI64Type(), m.ptr);
  int64_t bytes = w * Emitter::elementBytes(m.elementType);
  return e.andI(ok, e.cmp(arith::CmpIPredicate::eq,
                          arith::AndIOp::create(e.b, e.loc, addr, e.i64(bytes - 1)),
                          e.i64(0)));
}

/// The memref as a load or store with `bounds` sees it: those limits in
/// place of its sizes in every bounds test (masks and the vector path's),
/// never past the sizes whatever a bound says.
MemrefArg withBounds(Emitter &e, const MemrefArg &m, ValueRange bounds) {
  MemrefArg r = m;
  for (auto [d, bound] : llvm::enumerate(bounds))
    r.dimsI32[d] = arith::MinSIOp::create(e.b, e.loc, m.dimsI32[d], e.toI32(bound));
  return r;
}

struct LoadLowering : TilePattern<LoadOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(LoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "source is not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    MemrefArg m = withBounds(e, it->second, adaptor.getBounds());
    RankedTensorType t = op.getType();
    Type elt = t.getElementType();
    SlotPlacement place = placeSlots(
        st, t, cast<MemRefType>(op.getSource().getType()), op.getDims());
    int64_t n = place.slots;
    int64_t eb = Emitter::elementBytes(elt);
    ValueRange offsets = adaptor.getOffsets();
    auto gather = [&](OpBuilder &b, Location l) {
      Emitter g(b, l, st);
      auto [coords, valid] = place.all(g);
      GlobalAccess a = globalAccessAt(g, m, offsets, op.getDims(), coords, valid);
      Value pad = g.splatConst(elt, op.getPadding().convertToDouble(), n);
      return LLVM::masked_gather::create(b, l, g.vec(n, elt), a.ptrs, a.mask,
                                         ValueRange{pad}, eb)
          .getResult();
    };
    if (!place.vectorizable) {
      rw.replaceOp(op, gather(rw, op.getLoc()));
      return success();
    }
    // In bounds and aligned (uniform over the CTA): one vector load per run,
    // addressed from the run's first element.
    int64_t w = place.width;
    Value ok = vectorAccessOK(e, m, offsets, op.getDims(), t.getShape(), w);
    auto branch = scf::IfOp::create(
        rw, op.getLoc(), ok,
        [&](OpBuilder &b, Location l) {
          Emitter v(b, l, st);
          SmallVector<Value> ptrs =
              runPointers(v, m, offsets, op.getDims(), t, place);
          Value result = v.splatConst(elt, 0.0, n);
          for (int64_t r = 0; r < n; r += w) {
            Value p = ptrs[r / w];
            Value run = LLVM::LoadOp::create(b, l, v.vec(w, elt), p, w * eb);
            result = v.insertRun(run, result, r);
          }
          scf::YieldOp::create(b, l, result);
        },
        [&](OpBuilder &b, Location l) {
          scf::YieldOp::create(b, l, gather(b, l));
        });
    rw.replaceOp(op, branch.getResult(0));
    return success();
  }
};

struct StoreLowering : TilePattern<StoreOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(StoreOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getDest());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "dest is not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    MemrefArg m = withBounds(e, it->second, adaptor.getBounds());
    RankedTensorType t = op.getValue().getType();
    auto mt = cast<MemRefType>(op.getDest().getType());
    Value value = adaptor.getValue();
    SmallVector<int64_t> dims(op.getDims());
    // A thread-layout tile whose first dim runs along the memref's
    // contiguous last dim: stored as it is, each warp's stores would hit
    // one memref row per element. It goes through shared memory instead
    // (rows padded by one element: no bank conflicts either way) and
    // comes back transposed, whose runs the vector path stores.
    int64_t rank = mt.getRank();
    if (!isMmaTile(t) && t.getRank() == 2 && dims.size() == 2 &&
        dims[0] == rank - 1 && st.allSlotsValid(t.getNumElements()) &&
        canVectorize(st, mt, {dims[1], dims[0]},
                     {t.getDimSize(1), t.getDimSize(0)})) {
      int64_t rows = t.getDimSize(0), cols = t.getDimSize(1);
      int64_t n = st.slots(t.getNumElements());
      Type elt = t.getElementType();
      auto paddedIndex = [&](Value r, Value c) {
        return e.add(e.mul(r, e.splat(e.i32(cols + 1), n)), c);
      };
      e.barrier(); // earlier reads of the scratch are done
      SmallVector<Value> in = e.coords(e.elementIndices(n), t.getShape());
      e.storeSharedEach(value, paddedIndex(in[0], in[1]), 0);
      e.barrier();
      SmallVector<Value> out = e.coords(e.elementIndices(n), {cols, rows});
      value = e.gatherShared(elt, paddedIndex(out[1], out[0]), e.allTrue(n), 0);
      st.needShared(rows * (cols + 1) * Emitter::elementBytes(elt));
      t = RankedTensorType::get({cols, rows}, elt);
      std::swap(dims[0], dims[1]);
    }
    SlotPlacement place = placeSlots(st, t, mt, dims);
    int64_t n = place.slots;
    int64_t eb = Emitter::elementBytes(t.getElementType());
    ValueRange offsets = adaptor.getOffsets();
    auto scatter = [&](OpBuilder &b, Location l) {
      Emitter g(b, l, st);
      auto [coords, valid] = place.all(g);
      GlobalAccess a = globalAccessAt(g, m, offsets, dims, coords, valid);
      LLVM::masked_scatter::create(b, l, value, a.ptrs, a.mask, eb);
    };
    if (!place.vectorizable) {
      scatter(rw, op.getLoc());
      rw.eraseOp(op);
      return success();
    }
    int64_t w = place.width;
    Value ok = vectorAccessOK(e, m, offsets, dims, t.getShape(), w);
    scf::IfOp::create(
        rw, op.getLoc(), ok,
        [&](OpBuilder &b, Location l) {
          Emitter v(b, l, st);
          SmallVector<Value> ptrs = runPointers(v, m, offsets, dims, t, place);
          for (int64_t r = 0; r < n; r += w) {
            Value p = ptrs[r / w];
            LLVM::StoreOp::create(b, l, v.extractRun(value, r, w), p, w * eb);
          }
          scf::YieldOp::create(b, l);
        },
        [&](OpBuilder &b, Location l) {
          scatter(b, l);
          scf::YieldOp::create(b, l);
        });
    rw.eraseOp(op);
    return success();
  }
};

/// L2 prefetches of a tile: one bulk prefetch (cp.async.bulk.prefetch.L2)
/// per tile row, rows spread over the threads, when the tile's rows run
/// along the memref's contiguous last dim, the whole tile is in bounds and
/// its rows start 16-byte aligned (a uniform check, as for the fast loads);
/// otherwise nothing: a prefetch is only a hint. (A prefetch per run of W
/// elements issued many times the instructions for the same lines.)
struct PrefetchLowering : TilePattern<PrefetchOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(PrefetchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "source is not a kernel argument");
    const MemrefArg &m = it->second;
    auto mt = cast<MemRefType>(op.getSource().getType());
    ArrayRef<int64_t> shape = op.getShape(), dims = op.getDims();
    int64_t eltBytes = Emitter::elementBytes(m.elementType);
    int64_t rowBytes = shape.back() * eltBytes, rank = mt.getRank();
    int64_t alignElems = 16 / eltBytes;
    if (dims.empty() || dims.back() != rank - 1 || rowBytes % 16 ||
        mt.isDynamicDim(rank - 1) || mt.getDimSize(rank - 1) % alignElems) {
      rw.eraseOp(op);
      return success();
    }
    int64_t rows = 1;
    for (int64_t s : shape.drop_back())
      rows *= s;
    Emitter e(rw, op.getLoc(), st);
    ValueRange offsets = adaptor.getOffsets();
    Value ok = vectorAccessOK(e, m, offsets, dims, shape, alignElems);
    int64_t threads = st.numThreads, perThread = llvm::divideCeil(rows, threads);
    scf::IfOp::create(rw, op.getLoc(), ok, [&](OpBuilder &b, Location l) {
      Emitter v(b, l, st);
      // Row r of this thread: tid + r * threads; its first element.
      SmallVector<int32_t> base;
      for (int64_t r = 0; r < perThread; ++r)
        base.push_back(static_cast<int32_t>(r * threads));
      Value row = v.add(v.constVec(base), v.splat(st.tidI32, perThread));
      Value valid = v.cmp(arith::CmpIPredicate::slt, row,
                          v.splat(v.i32(rows), perThread));
      Value elems = v.mul(row, v.splat(v.i32(shape.back()), perThread));
      GlobalAccess access = globalAccessAt(v, m, offsets, dims,
                                           v.coords(elems, shape), valid);
      Type ptrTy = LLVM::LLVMPointerType::get(b.getContext(), kGlobalSpace);
      for (int64_t r = 0; r < perThread; ++r) {
        auto issue = [&](OpBuilder &ib, Location il) {
          Value off = vector::ExtractOp::create(ib, il, access.linear, r);
          Value p = LLVM::GEPOp::create(ib, il, ptrTy, m.elementType, m.ptr,
                                        ValueRange{off});
          NVVM::CpAsyncBulkPrefetchOp::create(
              ib, il, TypeRange{}, p,
              arith::ConstantIntOp::create(ib, il, rowBytes, 32),
              /*l2CacheHint=*/Value());
        };
        if ((r + 1) * threads <= rows) {
          issue(b, l);
          continue;
        }
        Value inRow = vector::ExtractOp::create(b, l, valid, r);
        scf::IfOp::create(b, l, inRow, [&](OpBuilder &ib, Location il) {
          issue(ib, il);
          scf::YieldOp::create(ib, il);
        });
      }
      scf::YieldOp::create(b, l);
    });
    rw.eraseOp(op);
    return success();
  }
};

/// The element index of (row, col) (i32 scalars, or vectors of them) in a
/// wgmma operand buffer of `rows` rows, 128-byte swizzled, with
/// `rowElements` elements in 128 bytes (64 of 16 bits, 32 of 32): column
/// block col / rowElements holds every row at 128 bytes, and 16-byte chunk
/// c of row r sits at chunk c ^ (r mod 8). wgmma's swizzle mode 1 reads
/// this layout (`lowerWarpgroupDot`); a warp storing whole rows hits 32
/// distinct banks.
Value swizzledIndex(Emitter &e, Value row, Value col, int64_t rows,
                    int64_t rowElements = 64) {
  auto cst = [&](int64_t v) {
    Value c = e.i32(v);
    if (auto vt = dyn_cast<VectorType>(row.getType()))
      return e.splat(c, vt.getNumElements());
    return c;
  };
  auto div = [&](Value a, int64_t d) {
    return Value(arith::DivUIOp::create(e.b, e.loc, a, cst(d)));
  };
  auto rem = [&](Value a, int64_t d) {
    return Value(arith::RemUIOp::create(e.b, e.loc, a, cst(d)));
  };
  int64_t r = rowElements, c = rowElements / 8; // elements in a chunk
  Value inBlock = rem(col, r);
  Value chunk = arith::XOrIOp::create(e.b, e.loc, div(inBlock, c), rem(row, 8));
  return e.add(e.add(e.mul(div(col, r), cst(rows * r)), e.mul(row, cst(r))),
               e.add(e.mul(chunk, cst(c)), rem(inBlock, c)));
}

/// The box of one TMA copy of `op` (row-major over the memref's dims): the
/// tile's rows along dims[0], one 128-byte swizzle row of columns along the
/// last dim, 1 along every other dim.
SmallVector<int64_t, 2> tmaBox(AsyncLoadOp op) {
  RankedTensorType t = op.getType();
  SmallVector<int64_t, 2> box(op.getSource().getType().getRank(), 1);
  box[op.getDims()[0]] = t.getDimSize(0);
  box.back() = wgmmaRowElements(t.getElementType());
  return box;
}

/// The tensor map each kernel argument needs: the box of the TMA copies
/// (`async_load ... barriers at`) that read it, a 128-byte column block of
/// their tiles at a time, 128-byte swizzled. Copies of one argument must
/// agree.
FailureOr<DenseMap<unsigned, TensorMapBox>> tensorMapBoxes(func::FuncOp fn) {
  DenseMap<unsigned, TensorMapBox> boxes;
  WalkResult result = fn.walk([&](AsyncLoadOp op) {
    if (!op.getBarriers())
      return WalkResult::advance();
    auto arg = dyn_cast<BlockArgument>(op.getSource());
    if (!arg || arg.getOwner() != &fn.getBody().front()) {
      op.emitOpError("copies through a tensor map only from a kernel "
                     "argument");
      return WalkResult::interrupt();
    }
    TensorMapBox box{tmaBox(op), 128};
    auto [it, inserted] = boxes.try_emplace(arg.getArgNumber(), box);
    if (!inserted && it->second.box != box.box) {
      auto str = [](ArrayRef<int64_t> b) {
        std::string text;
        for (int64_t v : b)
          text += (text.empty() ? "" : "x") + std::to_string(v);
        return text;
      };
      op.emitOpError() << "copies " << str(box.box) << " boxes of argument "
                       << arg.getArgNumber()
                       << ", whose tensor map other copies tile by "
                       << str(it->second.box);
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  return boxes;
}

/// `body` on thread 0 only.
void onLeader(OpBuilder &b, Location loc, KernelState &st,
              function_ref<void(OpBuilder &, Location)> body) {
  Emitter e(b, loc, st);
  Value leader = e.cmp(arith::CmpIPredicate::eq, st.tidI32, e.i32(0));
  scf::IfOp::create(b, loc, leader, [&](OpBuilder &ib, Location l) {
    body(ib, l);
    scf::YieldOp::create(ib, l);
  });
}

/// The shared-memory address of mbarrier `index` (i32) of the ring that
/// starts `offset` bytes into shared memory (8 bytes a barrier).
Value barrierAddress(Emitter &e, int64_t offset, Value index) {
  Value base =
      LLVM::PtrToIntOp::create(e.b, e.loc, e.b.getI32Type(), e.st.smem);
  return LLVM::IntToPtrOp::create(
      e.b, e.loc, LLVM::LLVMPointerType::get(e.b.getContext(), kSharedSpace),
      e.add(e.add(base, e.i32(offset)), e.mul(index, e.i32(8))));
}

/// The shared-memory address (i32) of buffer `stage` of a ring of `stages`
/// buffers of tile `t` at byte `offset`, the ring's bytes counted as used.
Value ringBufferAddress(Emitter &e, RankedTensorType t, int64_t stages,
                        int64_t offset, Value stage) {
  int64_t bufBytes =
      t.getNumElements() * Emitter::elementBytes(t.getElementType());
  e.st.needSharedUpTo(offset + stages * bufBytes);
  Value smemAddr =
      LLVM::PtrToIntOp::create(e.b, e.loc, e.b.getI32Type(), e.st.smem);
  return e.add(e.add(smemAddr, e.i32(offset)),
               e.mul(e.toI32(stage), e.i32(bufBytes)));
}

/// cp.async of 16-byte chunks straight into the swizzled buffer (the
/// layout `lowerWarpgroupDot` reads): chunk c of the tile is row
/// c / (cols / E), E elements at column E (c mod (cols / E)) (E: a chunk's
/// elements, 8 of 16 bits or 4 of 32); chunks outside the memref copy zero
/// bytes and zero-fill. The result is the buffer's shared-memory address.
struct AsyncLoadLowering : TilePattern<AsyncLoadOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(AsyncLoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "source is not a kernel argument");
    const MemrefArg &m = it->second;
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType t = op.getType();
    Type elt = t.getElementType();
    int64_t eb = Emitter::elementBytes(elt);
    int64_t rowElems = wgmmaRowElements(elt), chunkElems = 16 / eb;
    int64_t rows = t.getDimSize(0), cols = t.getDimSize(1);
    int64_t bufBytes = rows * cols * eb;
    int64_t rank = op.getSource().getType().getRank();
    int64_t rowDim = op.getDims()[0], colDim = rank - 1;
    Type i64 = rw.getI64Type();
    Value buffer = ringBufferAddress(e, t, op.getStages(), op.getOffset(),
                                     adaptor.getStage());
    SmallVector<Value> offs = llvm::map_to_vector(
        adaptor.getOffsets(), [&](Value v) { return e.toI32(v); });
    if (std::optional<int64_t> barriers = op.getBarriers()) {
      // One thread announces the bytes on the stage's mbarrier, then starts
      // one TMA copy per 128-byte column block; the 128-byte swizzle of the
      // tensor map is the swizzle `lowerWarpgroupDot` reads. Elements
      // outside the memref arrive as zeros and count toward the bytes.
      if (!m.tensorMap)
        return rw.notifyMatchFailure(op, "argument has no tensor map");
      Value bar =
          barrierAddress(e, *barriers, e.toI32(adaptor.getStage()));
      auto copy = [&](OpBuilder &b, Location l) {
        Emitter le(b, l, st);
        Type sptrTy = LLVM::LLVMPointerType::get(b.getContext(), kSharedSpace);
        NVVM::MBarrierArriveExpectTxOp::create(b, l, Type(), bar,
                                               le.i32(bufBytes),
                                               NVVM::MemScopeKind::CTA,
                                               /*relaxed=*/false, Value());
        for (int64_t block = 0; block < cols / rowElems; ++block) {
          // This CTA's shared memory, as the shared::cluster address the
          // PTX 8.0 form of the copy takes.
          Value dst = LLVM::AddrSpaceCastOp::create(
              b, l, LLVM::LLVMPointerType::get(b.getContext(), 7),
              LLVM::IntToPtrOp::create(
                  b, l, sptrTy, le.add(buffer, le.i32(block * rows * 128))));
          // Coordinates innermost dim first.
          SmallVector<Value> box;
          for (int64_t d = rank - 1; d >= 0; --d)
            box.push_back(d == colDim
                              ? le.add(offs[d], le.i32(block * rowElems))
                              : offs[d]);
          NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
              b, l, dst, m.tensorMap, box, bar, /*im2colOffsets=*/ValueRange{},
              /*multicastMask=*/Value(), /*l2CacheHint=*/Value(),
              NVVM::TMALoadMode::TILE, /*isCTAOnly=*/false,
              /*group=*/NVVM::CTAGroupKindAttr(), /*predicate=*/Value());
        }
      };
      if (st.soloOps.contains(op)) // the producer's thread
        copy(rw, loc);
      else
        onLeader(rw, loc, st, copy);
      rw.replaceOp(op, buffer);
      return success();
    }
    // cp.async needs 16-byte aligned sources: rows are whole chunks
    // (verified), so only the base pointer and the column offset can break
    // it. An unaligned copy stops the kernel (an error at the launch, never
    // wrong values).
    Value base = LLVM::PtrToIntOp::create(rw, loc, i64, m.ptr);
    Value misaligned = e.cmp(
        arith::CmpIPredicate::ne,
        arith::OrIOp::create(
            rw, loc, arith::AndIOp::create(rw, loc, base, e.i64(15)),
            arith::ExtUIOp::create(
                rw, loc, i64,
                arith::AndIOp::create(rw, loc, offs[colDim],
                                      e.i32(chunkElems - 1)))),
        e.i64(0));
    scf::IfOp::create(rw, loc, misaligned, [&](OpBuilder &b, Location l) {
      LLVM::Trap::create(b, l);
      scf::YieldOp::create(b, l);
    });
    // The offsets along the dims the tile does not span: inside the memref
    // or the whole tile reads zeros; their part of the address.
    Value zero = e.i32(0);
    Value fixedInside =
        arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
    Value fixedLinear = e.i64(0);
    for (int64_t d = 0; d < rank; ++d) {
      if (d == rowDim || d == colDim)
        continue;
      fixedInside = e.andI(
          fixedInside,
          e.andI(e.cmp(arith::CmpIPredicate::sge, offs[d], zero),
                 e.cmp(arith::CmpIPredicate::slt, offs[d], m.dimsI32[d])));
      fixedLinear = e.add(
          fixedLinear,
          e.mul(arith::ExtSIOp::create(rw, loc, i64, offs[d]), m.stridesI64[d]));
    }
    int64_t perRow = cols / chunkElems, chunks = rows * perRow;
    Type ptrTy = LLVM::LLVMPointerType::get(rw.getContext(), kGlobalSpace);
    Type sptrTy = LLVM::LLVMPointerType::get(rw.getContext(), kSharedSpace);
    for (int64_t first = 0; first < chunks; first += st.numThreads) {
      Value c = e.add(st.tidI32, e.i32(first));
      auto copy = [&](OpBuilder &b, Location l) {
        Emitter ce(b, l, st);
        Value row = arith::DivUIOp::create(b, l, c, ce.i32(perRow));
        Value col = ce.mul(arith::RemUIOp::create(b, l, c, ce.i32(perRow)),
                           ce.i32(chunkElems));
        Value dst = ce.add(
            buffer,
            ce.mul(swizzledIndex(ce, row, col, rows, rowElems), ce.i32(eb)));
        Value gRow = ce.add(offs[rowDim], row);
        Value gCol = ce.add(offs[colDim], col);
        Value inside = ce.andI(
            fixedInside,
            ce.andI(
                ce.andI(ce.cmp(arith::CmpIPredicate::sge, gRow, zero),
                        ce.cmp(arith::CmpIPredicate::slt, gRow,
                               m.dimsI32[rowDim])),
                ce.andI(ce.cmp(arith::CmpIPredicate::sge, gCol, zero),
                        ce.cmp(arith::CmpIPredicate::slt, gCol,
                               m.dimsI32[colDim]))));
        // Outside: read nothing (size 0) from the base pointer.
        auto wide = [&](Value v) {
          return Value(arith::ExtSIOp::create(
              b, l, i64, arith::SelectOp::create(b, l, inside, v, zero)));
        };
        Value linear = arith::SelectOp::create(
            b, l, inside,
            ce.add(fixedLinear,
                   ce.add(ce.mul(wide(gRow), m.stridesI64[rowDim]), wide(gCol))),
            ce.i64(0));
        Value src = LLVM::GEPOp::create(b, l, ptrTy, m.elementType, m.ptr,
                                        ValueRange{linear});
        Value dstPtr = LLVM::IntToPtrOp::create(b, l, sptrTy, dst);
        Value size = arith::SelectOp::create(b, l, inside, ce.i32(16), zero);
        NVVM::CpAsyncOp::create(b, l, dstPtr, src, 16,
                                NVVM::LoadCacheModifierKind::CG, size);
      };
      if (first + st.numThreads <= chunks) {
        copy(rw, loc);
        continue;
      }
      Value active = e.cmp(arith::CmpIPredicate::slt, c, e.i32(chunks));
      scf::IfOp::create(rw, loc, active, [&](OpBuilder &b, Location l) {
        copy(b, l);
        scf::YieldOp::create(b, l);
      });
    }
    NVVM::CpAsyncCommitGroupOp::create(rw, loc);
    rw.replaceOp(op, buffer);
    return success();
  }
};

/// On thread 0: `each` on the address of every one of `count` mbarriers at
/// byte `offset` of shared memory, then `last`.
void onLeaderForBarriers(
    OpBuilder &rw, Location loc, KernelState &st, int64_t offset,
    int64_t count, function_ref<void(OpBuilder &, Location, Value)> each,
    function_ref<void(OpBuilder &, Location)> last = {}) {
  onLeader(rw, loc, st, [&](OpBuilder &b, Location l) {
    Emitter le(b, l, st);
    for (int64_t i = 0; i < count; ++i)
      each(b, l, barrierAddress(le, offset, le.i32(i)));
    if (last)
      last(b, l);
  });
}

/// Waits for the grid before this one (and its memory), then lets the next
/// grid launch early. Inline asm with a memory clobber: the NVVM intrinsics
/// are IntrNoMem, which would let LLVM move loads above the wait.
void emitWaitPriorGrid(OpBuilder &b, Location loc) {
  for (StringRef action : {"wait", "launch_dependents"})
    LLVM::InlineAsmOp::create(
        b, loc, TypeRange{}, ValueRange{},
        ("griddepcontrol." + action + ";").str(), "~{memory}",
        /*has_side_effects=*/true, /*is_align_stack=*/false,
        LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
        ArrayAttr());
}

struct WaitPriorGridLowering : TilePattern<WaitPriorGridOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(WaitPriorGridOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    if (st.gridDependency)
      emitWaitPriorGrid(rw, op.getLoc());
    rw.eraseOp(op);
    return success();
  }
};

/// One thread initializes the mbarriers (one arrival per phase); the
/// initialization is fenced for the async proxy (TMA completes on them)
/// before every thread passes the barrier.
struct InitBarriersLowering : TilePattern<InitBarriersOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(InitBarriersOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    st.needSharedUpTo(op.getOffset() + 8 * op.getCount());
    int64_t arrivals = op.getArrivals().value_or(1);
    onLeaderForBarriers(
        rw, loc, st, op.getOffset(), op.getCount(),
        [&](OpBuilder &b, Location l, Value bar) {
          NVVM::MBarrierInitOp::create(
              b, l, bar, arith::ConstantIntOp::create(b, l, arrivals, 32),
              Value());
        },
        [](OpBuilder &b, Location l) {
          NVVM::FenceMbarrierInitOp::create(b, l);
        });
    if (st.everyThreadOps.contains(op)) // before the producer split
      gpu::BarrierOp::create(rw, loc);
    else
      Emitter(rw, loc, st).barrier();
    rw.eraseOp(op);
    return success();
  }
};

/// A barrier (every thread is past its last wait), one thread invalidates
/// the mbarriers, and a barrier (nobody reuses their bytes before that).
struct InvalBarriersLowering : TilePattern<InvalBarriersOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(InvalBarriersOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    e.barrier();
    onLeaderForBarriers(rw, loc, st, op.getOffset(), op.getCount(),
                        [](OpBuilder &b, Location l, Value bar) {
                          NVVM::MBarrierInvalOp::create(b, l, bar);
                        });
    e.barrier();
    if (op == st.ringsEnd)
      st.scratchBase = 0; // every thread is past the rings' last use
    rw.eraseOp(op);
    return success();
  }
};

/// Every thread polls the mbarrier's phase parity (mbarrier.try_wait has
/// acquire semantics: the TMA's bytes are visible after it), then a
/// barrier.
struct BarrierWaitLowering : TilePattern<BarrierWaitOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(BarrierWaitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    Value bar =
        barrierAddress(e, op.getOffset(), e.toI32(adaptor.getStage()));
    // The suspend-time hint: 10 ms, far above a copy's latency.
    Value parity = e.toI32(adaptor.getPhase());
    if (op.getLeader()) {
      onLeader(rw, loc, st, [&](OpBuilder &b, Location l) {
        NVVM::MBarrierTryWaitParityOp::create(b, l, bar, parity,
                                              Emitter(b, l, st).i32(10000000));
      });
      rw.eraseOp(op);
      return success();
    }
    NVVM::MBarrierTryWaitParityOp::create(rw, loc, bar, parity,
                                          e.i32(10000000));
    if (!op.getLocal())
      e.barrier();
    rw.eraseOp(op);
    return success();
  }
};

/// Every thread arrives once on the mbarrier (release semantics: its
/// reads of the buffer before are done).
struct BarrierArriveLowering : TilePattern<BarrierArriveOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(BarrierArriveOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    Value bar =
        barrierAddress(e, op.getOffset(), e.toI32(adaptor.getStage()));
    NVVM::MBarrierArriveOp::create(rw, loc, Type(), bar, Value());
    rw.eraseOp(op);
    return success();
  }
};

/// The buffer's shared-memory address, as `async_load` computes it.
struct RingBufferLowering : TilePattern<RingBufferOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(RingBufferOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    rw.replaceOp(op, ringBufferAddress(e, op.getType(), op.getStages(),
                                       op.getOffset(), adaptor.getStage()));
    return success();
  }
};

/// wgmma.wait_group: the fragments are the same registers, now final.
struct DotWaitLowering : TilePattern<DotWaitOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(DotWaitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    NVVM::WgmmaWaitGroupSyncOp::create(rw, op.getLoc(), op.getPending());
    rw.replaceOp(op, adaptor.getInput());
    return success();
  }
};

/// cp.async.wait_group, then the landed bytes made visible to the async
/// proxy (wgmma reads through it) and to every thread.
struct AsyncWaitLowering : TilePattern<AsyncWaitOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(AsyncWaitOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    NVVM::CpAsyncWaitGroupOp::create(rw, loc, op.getPending());
    Emitter(rw, loc, st).asyncProxyBarrier();
    rw.eraseOp(op);
    return success();
  }
};

struct MemrefDimLowering : TilePattern<memref::DimOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(memref::DimOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getSource());
    std::optional<int64_t> d = op.getConstantIndex();
    if (it == st.memrefs.end() || !d)
      return rw.notifyMatchFailure(op, "not a constant dim of a kernel arg");
    rw.replaceOp(op, it->second.dims[*d]);
    return success();
  }
};

struct MemrefLoadLowering : TilePattern<memref::LoadOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(memref::LoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    auto it = st.memrefs.find(op.getMemref());
    if (it == st.memrefs.end())
      return rw.notifyMatchFailure(op, "not a kernel argument");
    Emitter e(rw, op.getLoc(), st);
    const MemrefArg &m = it->second;
    Value linear = e.i64(0);
    for (auto [d, index] : llvm::enumerate(adaptor.getIndices())) {
      Value wide = arith::IndexCastOp::create(rw, op.getLoc(),
                                              rw.getI64Type(), index);
      linear = e.add(linear, e.mul(wide, m.stridesI64[d]));
    }
    Type ptrTy = LLVM::LLVMPointerType::get(rw.getContext(), kGlobalSpace);
    Value p = LLVM::GEPOp::create(rw, op.getLoc(), ptrTy, m.elementType, m.ptr,
                                  ValueRange{linear});
    rw.replaceOpWithNewOp<LLVM::LoadOp>(op, m.elementType, p);
    return success();
  }
};

struct ProgramIdLowering : TilePattern<ProgramIdOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ProgramIdOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    gpu::Dimension dim = op.getDim() == 0   ? gpu::Dimension::x
                         : op.getDim() == 1 ? gpu::Dimension::y
                                            : gpu::Dimension::z;
    rw.replaceOpWithNewOp<gpu::BlockIdOp>(op, dim);
    return success();
  }
};

struct ClusterRankLowering : TilePattern<ClusterRankOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ClusterRankOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    Value rank = NVVM::ClusterId::create(rw, op.getLoc(), rw.getI32Type());
    rw.replaceOpWithNewOp<arith::IndexCastOp>(op, rw.getIndexType(), rank);
    return success();
  }
};

/// Each thread puts its slots in its CTA's scratch (slot j at word
/// j * threads + tid, the same place in every CTA), the cluster meets at a
/// barrier (release/acquire), every thread adds its slots of all the
/// cluster's CTAs in rank order through `mapa` addresses (scalar
/// ld.shared::cluster; 16-byte reads all issued before the adds gave 9.69
/// instead of 8.45 ms a 7B decode token, one run each, docs/perf.md), and
/// the cluster meets
/// again so no CTA leaves while others read its bytes.
struct ClusterSumLowering : TilePattern<ClusterSumOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ClusterSumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    if (st.launchThreads != st.numThreads)
      return rw.notifyMatchFailure(op, "warp-specialized kernel");
    auto kernel = op->getParentOfType<gpu::GPUFuncOp>();
    auto dims = kernel ? kernel->getAttrOfType<DenseI32ArrayAttr>(
                             NVVM::NVVMDialect::getClusterDimAttrName())
                       : DenseI32ArrayAttr();
    if (!dims)
      return rw.notifyMatchFailure(op, "kernel without cluster dims");
    int64_t size = 1;
    for (int32_t d : dims.asArrayRef())
      size *= d;
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    Value in = adaptor.getInput();
    int64_t n = cast<VectorType>(in.getType()).getNumElements();
    Type f32 = rw.getF32Type();
    st.needShared(n * st.numThreads * 4);
    SmallVector<Value> words;
    for (int64_t j = 0; j < n; ++j)
      words.push_back(e.add(e.i32(j * st.numThreads), st.tidI32));
    e.barrier(); // earlier readers of the scratch bytes are done
    for (int64_t j = 0; j < n; ++j)
      LLVM::StoreOp::create(rw, loc, vector::ExtractOp::create(rw, loc, in, j),
                            e.sharedPtr(0, f32, words[j]));
    auto clusterBarrier = [&] {
      NVVM::ClusterArriveOp::create(rw, loc, rw.getUnitAttr());
      NVVM::ClusterWaitOp::create(rw, loc, rw.getUnitAttr());
    };
    clusterBarrier();
    Type remotePtr = LLVM::LLVMPointerType::get(
        rw.getContext(),
        static_cast<unsigned>(NVVM::NVVMMemorySpace::SharedCluster));
    SmallVector<Value> sums(n);
    for (int64_t r = 0; r < size; ++r)
      for (int64_t j = 0; j < n; ++j) {
        Value remote = NVVM::MapaOp::create(rw, loc, remotePtr,
                                            e.sharedPtr(0, f32, words[j]),
                                            e.i32(r));
        Value v = LLVM::LoadOp::create(rw, loc, f32, remote);
        sums[j] = r ? arith::AddFOp::create(rw, loc, sums[j], v).getResult()
                    : v;
      }
    clusterBarrier();
    rw.replaceOp(op, vector::FromElementsOp::create(
                         rw, loc, cast<VectorType>(in.getType()), sums));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Elementwise and constructors
//===----------------------------------------------------------------------===//

/// arith and math ops on tiles become the same ops on the slot vectors.
struct ElementwiseLowering : ConversionPattern {
  ElementwiseLowering(const TypeConverter &tc, MLIRContext *ctx)
      : ConversionPattern(tc, MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult
  matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                  ConversionPatternRewriter &rw) const override {
    if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()))
      return failure();
    auto isTile = [](Type t) { return isa<RankedTensorType>(t); };
    if (llvm::none_of(op->getOperandTypes(), isTile) &&
        llvm::none_of(op->getResultTypes(), isTile))
      return failure();
    SmallVector<Type> types;
    if (failed(getTypeConverter()->convertTypes(op->getResultTypes(), types)))
      return failure();
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      auto dense = dyn_cast<SplatElementsAttr>(c.getValue());
      if (!dense)
        return rw.notifyMatchFailure(op, "only splat tile constants");
      auto vt = cast<VectorType>(types[0]);
      rw.replaceOpWithNewOp<arith::ConstantOp>(
          op, vt, DenseElementsAttr::get(vt, dense.getSplatValue<Attribute>()));
      return success();
    }
    OperationState state(op->getLoc(), op->getName(), operands, types,
                         op->getAttrs());
    rw.replaceOp(op, rw.create(state)->getResults());
    return success();
  }
};

struct SplatLowering : TilePattern<tensor::SplatOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(tensor::SplatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Type t = getTypeConverter()->convertType(op.getType());
    rw.replaceOpWithNewOp<vector::BroadcastOp>(op, t, adaptor.getInput());
    return success();
  }
};

struct IotaLowering : TilePattern<IotaOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(IotaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    if (isMmaTile(op.getType())) {
      auto [rows, cols] = fragmentCoords(e, op.getType());
      rw.replaceOp(op, op.getDim() == 0 ? rows : cols);
      return success();
    }
    int64_t n = st.slots(op.getType().getNumElements());
    SmallVector<Value> c = e.coords(e.elementIndices(n), op.getType().getShape());
    rw.replaceOp(op, c[op.getDim()]);
    return success();
  }
};

struct ReshapeLowering : TilePattern<ReshapeOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    // Same elements in the same row-major order: the same slots.
    rw.replaceOp(op, adaptor.getInput());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Operations through shared memory
//===----------------------------------------------------------------------===//

/// Writes a whole tile (f32 or i32 values) to shared memory at byte 0,
/// element e at index e, between barriers. Returns the byte size used.
int64_t tileToShared(Emitter &e, Value values, int64_t numel) {
  int64_t n = cast<VectorType>(values.getType()).getNumElements();
  Value elems = e.elementIndices(n);
  e.barrier();
  e.storeSharedRuns(values, elems, e.validSlots(elems, numel), 0,
                    e.st.allSlotsValid(numel));
  e.barrier();
  return numel * Emitter::elementBytes(elementOf(values.getType()));
}

struct BroadcastLowering : TilePattern<BroadcastOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(BroadcastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    RankedTensorType in = op.getInput().getType(), out = op.getType();
    // Fragment rows into fragments of the same rows: each value takes its
    // row's, which its thread holds.
    if (isFragmentRows(in)) {
      FragmentParts parts = fragmentParts(e, out);
      SmallVector<Value> slots;
      for (size_t j = 0; j < parts.strip.size(); ++j)
        slots.push_back(vector::ExtractOp::create(
            rw, op.getLoc(), adaptor.getInput(),
            2 * parts.strip[j] + (parts.rowConst[j] ? 1 : 0)));
      rw.replaceOp(op, vector::FromElementsOp::create(
                           rw, op.getLoc(),
                           e.vec(slots.size(), in.getElementType()), slots));
      return success();
    }
    st.needShared(tileToShared(e, adaptor.getInput(), in.getNumElements()));
    // A row vector across fragments (the online softmax's max and scale):
    // a thread's values share its few rows, so it reads each row once.
    if (isMmaTile(out) && in.getRank() == 1 && op.getDims()[0] == 0) {
      FragmentParts parts = fragmentParts(e, out);
      Type elt = in.getElementType();
      DenseMap<int64_t, Value> rowValues; // strip * 16 + row offset
      SmallVector<Value> slots;
      for (size_t j = 0; j < parts.strip.size(); ++j) {
        int64_t key = parts.strip[j] * 16 + parts.rowConst[j];
        Value &v = rowValues[key];
        if (!v)
          v = LLVM::LoadOp::create(
              rw, op.getLoc(), elt,
              e.sharedPtr(0, elt,
                          e.add(parts.stripRow[parts.strip[j]],
                                e.i32(parts.rowConst[j]))));
        slots.push_back(v);
      }
      rw.replaceOp(op, vector::FromElementsOp::create(
                           rw, op.getLoc(), e.vec(slots.size(), elt), slots));
      return success();
    }
    // Source index of each output element: its coords along `dims`.
    SmallVector<Value> c;
    Value mask;
    if (isMmaTile(out)) {
      auto [rows, cols] = fragmentCoords(e, out);
      c = {rows, cols};
      mask = e.allTrue(cast<VectorType>(rows.getType()).getNumElements());
    } else {
      Value elems = e.elementIndices(st.slots(out.getNumElements()));
      c = e.coords(elems, out.getShape());
      mask = e.validSlots(elems, out.getNumElements());
    }
    int64_t n = cast<VectorType>(mask.getType()).getNumElements();
    Value src = e.splat(e.i32(0), n);
    int64_t stride = 1;
    for (int64_t i = in.getRank() - 1; i >= 0; --i) {
      src = e.add(src, e.mul(c[op.getDims()[i]], e.splat(e.i32(stride), n)));
      stride *= in.getDimSize(i);
    }
    rw.replaceOp(op, e.gatherShared(in.getElementType(), src, mask, 0));
    return success();
  }
};

struct ExtractLowering : TilePattern<tensor::ExtractOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(tensor::ExtractOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Emitter e(rw, op.getLoc(), st);
    auto t = cast<RankedTensorType>(op.getTensor().getType());
    st.needShared(tileToShared(e, adaptor.getTensor(), t.getNumElements()));
    Value linear = e.i32(0);
    int64_t stride = 1;
    for (int64_t d = t.getRank() - 1; d >= 0; --d) {
      linear = e.add(linear, e.mul(e.toI32(adaptor.getIndices()[d]),
                                   e.i32(stride)));
      stride *= t.getDimSize(d);
    }
    Value p = e.sharedPtr(0, t.getElementType(), linear);
    rw.replaceOpWithNewOp<LLVM::LoadOp>(op, t.getElementType(), p);
    return success();
  }
};

/// Reduction that combines in registers first. When every slot holds an
/// element and slot coordinates split into a per-thread part plus constants
/// (Emitter::planCoords), the slots of one thread that share an output
/// element are known at compile time: each thread combines them, lanes that
/// share outputs combine with xor shuffles, and only the remaining partials
/// (one per warp or thread group) go through shared memory, in a fixed order
/// (deterministic). The general path instead stores the whole tile.
std::optional<Value> reduceInRegisters(Emitter &e, ReduceOp op, Value input) {
  KernelState &st = e.st;
  RankedTensorType in = op.getInput().getType();
  ArrayRef<int64_t> shape = in.getShape();
  int64_t rank = in.getRank(), axis = op.getAxis();
  int64_t numel = in.getNumElements(), outNumel = numel / shape[axis];
  int64_t w = st.vectorWidth, threads = st.numThreads, p = threads * w;
  if (!st.allSlotsValid(numel))
    return std::nullopt;
  int64_t n = st.slots(numel);
  SmallVector<int64_t> offsets;
  for (int64_t j = 0; j < n; ++j)
    offsets.push_back((j / w) * p + j % w);
  std::optional<SmallVector<Emitter::DimPlan>> plan =
      e.planCoords(offsets, shape);
  if (!plan)
    return std::nullopt;

  // Output strides over the dims that remain.
  SmallVector<int64_t> outStride(rank, 0);
  for (int64_t d = rank - 1, stride = 1; d >= 0; --d)
    if (d != axis) {
      outStride[d] = stride;
      stride *= shape[d];
    }
  // Slots grouped by their constant coordinates outside the axis.
  SmallVector<SmallVector<int32_t>> keys;
  SmallVector<SmallVector<int64_t>> groups;
  for (int64_t j = 0; j < n; ++j) {
    SmallVector<int32_t> key;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis)
        key.push_back((*plan)[d].consts[j]);
    auto it = llvm::find(keys, key);
    if (it == keys.end()) {
      keys.push_back(key);
      groups.push_back({j});
    } else {
      groups[it - keys.begin()].push_back(j);
    }
  }
  // Contributor of a thread: its per-thread part along the axis, which must
  // be 0, step, 2 step, ...; rank = value / step.
  const Emitter::DimPlan &ax = (*plan)[axis];
  int64_t step = 0;
  for (int64_t t = 0; t < threads; ++t)
    if (int64_t v = ax.threadValue(t, w))
      step = step ? std::gcd(step, v) : v;
  if (!step)
    step = 1;
  auto contributor = [&](int64_t t) { return ax.threadValue(t, w) / step; };
  int64_t contributors = 0;
  for (int64_t t = 0; t < threads; ++t)
    contributors = std::max(contributors, contributor(t) + 1);
  auto outIndex = [&](int64_t t, int64_t j) {
    int64_t o = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis)
        o += ((*plan)[d].threadValue(t, w) + (*plan)[d].consts[j]) *
             outStride[d];
    return o;
  };
  // Every (contributor, output) pair must come from exactly one thread and
  // group, and every output must get all its contributors.
  std::vector<int8_t> seen(contributors * outNumel, 0);
  for (int64_t t = 0; t < threads; ++t)
    for (const auto &g : groups) {
      int64_t o = outIndex(t, g.front()), c = contributor(t);
      if (o < 0 || o >= outNumel || seen[c * outNumel + o]++)
        return std::nullopt;
    }
  if (llvm::any_of(seen, [](int8_t x) { return x != 1; }))
    return std::nullopt;
  // Contributors that differ only in lane bits combine by shuffles: rank =
  // (t >> shift) & (contributors - 1), the low bits below bit 5 of t.
  int64_t shift = -1;
  if (llvm::isPowerOf2_64(contributors))
    for (int64_t sft = 0; sft < 16 && shift < 0; ++sft) {
      bool all = true;
      for (int64_t t = 0; t < threads && all; ++t)
        all = contributor(t) == ((t >> sft) & (contributors - 1));
      if (all)
        shift = sft;
    }
  int64_t laneBits =
      shift < 0 ? 0
                : std::max<int64_t>(0, std::min<int64_t>(llvm::Log2_64(contributors),
                                                         5 - shift));
  // Shuffle partners (t xor a lane bit of the rank) must hold the same
  // outputs in every group.
  for (int64_t bit = 0; bit < laneBits; ++bit)
    for (int64_t t = 0; t < threads; ++t)
      for (const auto &g : groups)
        if (outIndex(t ^ (int64_t(1) << (shift + bit)), g.front()) !=
            outIndex(t, g.front()))
          laneBits = 0;
  int64_t remaining = contributors >> laneBits;

  OpBuilder &b = e.b;
  Location loc = e.loc;
  bool isMax = op.getKind() == ReduceKind::Max;
  auto combine = [&](Value x, Value y) -> Value {
    return isMax ? Value(arith::MaximumFOp::create(b, loc, x, y))
                 : Value(arith::AddFOp::create(b, loc, x, y));
  };
  SmallVector<Value> partials;
  for (const auto &g : groups) {
    Value acc = vector::ExtractOp::create(b, loc, input, g.front());
    for (int64_t j : ArrayRef<int64_t>(g).drop_front())
      acc = combine(acc, vector::ExtractOp::create(b, loc, input, j));
    for (int64_t bit = 0; bit < laneBits; ++bit) {
      auto shfl = gpu::ShuffleOp::create(b, loc, acc, 1 << (shift + bit), 32,
                                         gpu::ShuffleMode::XOR);
      acc = combine(acc, shfl.getShuffleResult());
    }
    partials.push_back(acc);
  }
  // Runtime contributor rank and output index of each group.
  Value rankV = ax.threadPart ? e.threadPart(ax) : e.i32(0);
  if (step > 1)
    rankV = arith::DivUIOp::create(b, loc, rankV, e.i32(step));
  Value base = e.i32(0);
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis && (*plan)[d].threadPart)
      base = e.add(base, e.mul(e.threadPart((*plan)[d]), e.i32(outStride[d])));
  e.barrier(); // shared memory may still be read by an earlier op
  auto storePartials = [&](OpBuilder &sb, Location sl) {
    Emitter se(sb, sl, st);
    Value slot = rankV;
    if (laneBits)
      slot = arith::ShRUIOp::create(sb, sl, slot, se.i32(laneBits));
    Value row = se.mul(slot, se.i32(outNumel));
    for (auto [gi, g] : llvm::enumerate(groups)) {
      int64_t c = 0;
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis)
          c += (*plan)[d].consts[g.front()] * outStride[d];
      Value at = se.add(row, se.add(base, se.i32(c)));
      LLVM::StoreOp::create(sb, sl, partials[gi],
                            se.sharedPtr(0, sb.getF32Type(), at));
    }
  };
  if (laneBits) {
    Value lanesMask = e.i32(((int64_t(1) << laneBits) - 1));
    Value writer = e.cmp(arith::CmpIPredicate::eq, e.andI(rankV, lanesMask),
                         e.i32(0));
    scf::IfOp::create(b, loc, writer, [&](OpBuilder &sb, Location sl) {
      storePartials(sb, sl);
      scf::YieldOp::create(sb, sl);
    });
  } else {
    storePartials(b, loc);
  }
  st.needShared(remaining * outNumel * 4);
  e.barrier();
  // Each thread sums the partials of the outputs it holds.
  int64_t nOut = st.slots(outNumel);
  Value identity = e.f32(isMax ? -INFINITY : 0.0);
  Value result = e.splatConst(b.getF32Type(), 0.0, nOut);
  Value start = e.mul(st.tidI32, e.i32(w));
  for (int64_t j = 0; j < nOut; ++j) {
    int64_t off = (j / w) * p + j % w;
    Value elem = e.add(start, e.i32(off));
    Value valid = e.cmp(arith::CmpIPredicate::slt, elem, e.i32(outNumel));
    Value at = arith::SelectOp::create(b, loc, valid, elem, e.i32(0));
    Value acc = identity;
    for (int64_t c = 0; c < remaining; ++c) {
      Value x = LLVM::LoadOp::create(
          b, loc, b.getF32Type(),
          e.sharedPtr(0, b.getF32Type(), e.add(at, e.i32(c * outNumel))));
      acc = c == 0 ? x : combine(acc, x);
    }
    result = vector::InsertOp::create(b, loc, acc, result, j);
  }
  return result;
}

/// Sum or max along `axis`: in registers where the layout allows (above),
/// else through shared memory: a group of P lanes (a power of two up to 32)
/// shares a row, each lane strides over it, and the lanes finish with xor
/// shuffles.
/// A row reduction (axis 1) of `#hyla_tile.mma` fragments whose rows each
/// lie in one warp (one strip across the tile's width: the wgmma
/// accumulator): each thread combines its values of each of its rows, the
/// four lanes of a quad (which share those rows) combine by xor shuffles,
/// and only the row results go through shared memory into the thread
/// layout, instead of the whole tile.
std::optional<Value> reduceFragmentRows(Emitter &e, ReduceOp op, Value input) {
  KernelState &st = e.st;
  RankedTensorType in = op.getInput().getType();
  if (!isMmaTile(in) || in.getRank() != 2 || op.getAxis() != 1)
    return std::nullopt;
  if (fragmentGeometry(in, st.warps()).stripsN != 1)
    return std::nullopt;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  bool isMax = op.getKind() == ReduceKind::Max;
  auto combine = [&](Value x, Value y) -> Value {
    return isMax ? Value(arith::MaximumFOp::create(b, loc, x, y))
                 : Value(arith::AddFOp::create(b, loc, x, y));
  };
  FragmentParts parts = fragmentParts(e, in);
  int64_t rows = in.getDimSize(0);
  bool keepRows = isFragmentRows(op.getType());
  SmallVector<Value> rowValues;
  // Every thread of a quad holds its rows' result: all four store it (the
  // same value to the same word).
  if (!keepRows)
    e.barrier(); // earlier readers of the scratch bytes are done
  for (size_t i = 0; i < parts.stripRow.size(); ++i)
    for (int64_t half : {0, 8}) {
      Value acc;
      for (size_t j = 0; j < parts.strip.size(); ++j) {
        if (parts.strip[j] != static_cast<int64_t>(i) ||
            parts.rowConst[j] != half)
          continue;
        Value x = vector::ExtractOp::create(b, loc, input, j);
        acc = acc ? combine(acc, x) : x;
      }
      for (int64_t off : {1, 2}) {
        auto shfl = gpu::ShuffleOp::create(b, loc, acc, off, 32,
                                           gpu::ShuffleMode::XOR);
        acc = combine(acc, shfl.getShuffleResult());
      }
      if (keepRows) {
        rowValues.push_back(acc);
        continue;
      }
      Value row = e.add(parts.stripRow[i], e.i32(half));
      LLVM::StoreOp::create(b, loc, acc, e.sharedPtr(0, b.getF32Type(), row));
    }
  if (keepRows)
    return Value(vector::FromElementsOp::create(
        b, loc, e.vec(rowValues.size(), b.getF32Type()), rowValues));
  st.needShared(rows * 4);
  e.barrier();
  int64_t n = st.slots(rows);
  Value elems = e.elementIndices(n);
  return e.loadSharedRuns(b.getF32Type(), elems, e.validSlots(elems, rows), 0,
                          st.allSlotsValid(rows));
}

struct ReduceLowering : TilePattern<ReduceOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType in = op.getInput().getType();
    if (!in.getElementType().isF32())
      return rw.notifyMatchFailure(op, "reduces f32 tiles");
    if (isMmaTile(in)) {
      std::optional<Value> rows = reduceFragmentRows(e, op, adaptor.getInput());
      if (!rows) // checked before conversion
        return rw.notifyMatchFailure(op, "fragments not reducible in rows");
      rw.replaceOp(op, *rows);
      return success();
    }
    if (std::optional<Value> fast = reduceInRegisters(e, op, adaptor.getInput())) {
      rw.replaceOp(op, *fast);
      return success();
    }
    int64_t numel = in.getNumElements(), axis = op.getAxis();
    int64_t len = in.getDimSize(axis);
    int64_t outNumel = numel / len;
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < in.getRank(); ++d)
      inner *= in.getDimSize(d);
    int64_t inBytes = tileToShared(e, adaptor.getInput(), numel);
    int64_t outBase = alignUp(inBytes, 16);
    st.needShared(outBase + outNumel * 4);

    int64_t lanes = 1;
    while (lanes < 32 && lanes * 2 * outNumel <= st.numThreads)
      lanes *= 2;
    int64_t groups = st.numThreads / lanes;
    int64_t reps = (outNumel + groups - 1) / groups;
    bool isMax = op.getKind() == ReduceKind::Max;
    Value identity = e.f32(isMax ? -INFINITY : 0.0);
    auto combine = [&](OpBuilder &b, Value x, Value y) -> Value {
      return isMax ? Value(arith::MaximumFOp::create(b, loc, x, y))
                   : Value(arith::AddFOp::create(b, loc, x, y));
    };
    Value lane = arith::RemUIOp::create(rw, loc, st.tid, e.idx(lanes));
    Value group = arith::DivUIOp::create(rw, loc, st.tid, e.idx(lanes));
    scf::ForOp::create(
        rw, loc, e.idx(0), e.idx(reps), e.idx(1), ValueRange{},
        [&](OpBuilder &b, Location l, Value rep, ValueRange) {
          Emitter r(b, l, st);
          Value o = r.add(r.mul(rep, r.idx(groups)), group);
          Value valid = r.cmp(arith::CmpIPredicate::ult, o, r.idx(outNumel));
          Value oc = arith::SelectOp::create(b, l, valid, o, r.idx(0));
          // First input element of row o.
          Value outer = arith::DivUIOp::create(b, l, oc, r.idx(inner));
          Value within = arith::RemUIOp::create(b, l, oc, r.idx(inner));
          Value base = r.add(r.mul(outer, r.idx(len * inner)), within);
          auto loop = scf::ForOp::create(
              b, l, lane, r.idx(len), r.idx(lanes), ValueRange{identity},
              [&](OpBuilder &lb, Location ll, Value i, ValueRange acc) {
                Emitter le(lb, ll, st);
                Value at = le.add(base, le.mul(i, le.idx(inner)));
                Value p = le.sharedPtr(0, lb.getF32Type(), le.toI32(at));
                Value x = LLVM::LoadOp::create(lb, ll, lb.getF32Type(), p);
                scf::YieldOp::create(lb, ll, combine(lb, acc[0], x));
              });
          Value acc = arith::SelectOp::create(b, l, valid, loop.getResult(0),
                                              identity);
          for (int64_t off = lanes / 2; off >= 1; off /= 2) {
            auto shfl = gpu::ShuffleOp::create(b, l, acc, off, 32,
                                               gpu::ShuffleMode::XOR);
            acc = combine(b, acc, shfl.getShuffleResult());
          }
          Value leader = r.cmp(arith::CmpIPredicate::eq, lane, r.idx(0));
          scf::IfOp::create(b, l, r.andI(leader, valid),
                            [&](OpBuilder &tb, Location tl) {
                              Emitter te(tb, tl, st);
                              Value p = te.sharedPtr(outBase, tb.getF32Type(),
                                                     te.toI32(o));
                              LLVM::StoreOp::create(tb, tl, acc, p);
                              scf::YieldOp::create(tb, tl);
                            });
          scf::YieldOp::create(b, l);
        });
    e.barrier();
    int64_t n = st.slots(outNumel);
    Value elems = e.elementIndices(n);
    rw.replaceOp(op, e.loadSharedRuns(rw.getF32Type(), elems,
                                      e.validSlots(elems, outNumel), outBase,
                                      st.allSlotsValid(outNumel)));
    return success();
  }
};

struct CumsumLowering : TilePattern<CumsumOp> {
  using TilePattern::TilePattern;

  /// Inclusive scan of a 1-D tile that fits one run per thread (thread t
  /// holds elements [tW, tW + W)): a prefix within the run, a warp shuffle
  /// scan of the run totals, then the totals of earlier warps.
  Value scan1D(Emitter &e, Value values, int64_t numel) const {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    int64_t w = st.vectorWidth;
    Value elems = e.elementIndices(w);
    Value valid = e.validSlots(elems, numel);
    values = arith::SelectOp::create(b, loc, valid, values,
                                     e.splatConst(b.getF32Type(), 0.0, w));
    SmallVector<Value> prefix;
    Value run = e.f32(0.0);
    for (int64_t i = 0; i < w; ++i) {
      Value x = vector::ExtractOp::create(b, loc, values, i);
      run = arith::AddFOp::create(b, loc, run, x);
      prefix.push_back(run);
    }
    Value lane = arith::RemUIOp::create(b, loc, st.tidI32, e.i32(32));
    Value scan = run; // inclusive scan of run totals over the warp
    for (int64_t off = 1; off < 32; off *= 2) {
      auto up = gpu::ShuffleOp::create(b, loc, scan, off, 32,
                                       gpu::ShuffleMode::UP);
      Value take = e.cmp(arith::CmpIPredicate::uge, lane, e.i32(off));
      scan = arith::SelectOp::create(
          b, loc, take,
          arith::AddFOp::create(b, loc, scan, up.getShuffleResult()), scan);
    }
    Value before = arith::SubFOp::create(b, loc, scan, run);
    int64_t warpsUsed = (numel + 32 * w - 1) / (32 * w);
    if (warpsUsed > 1) {
      // Warp totals through shared memory; thread t adds those before it.
      st.needShared(warpsUsed * 4);
      Value warp = arith::DivUIOp::create(b, loc, st.tidI32, e.i32(32));
      e.barrier();
      Value last = e.andI(e.cmp(arith::CmpIPredicate::eq, lane, e.i32(31)),
                          e.cmp(arith::CmpIPredicate::ult, warp,
                                e.i32(warpsUsed)));
      scf::IfOp::create(b, loc, last, [&](OpBuilder &tb, Location tl) {
        Emitter te(tb, tl, st);
        LLVM::StoreOp::create(tb, tl, scan,
                              te.sharedPtr(0, tb.getF32Type(), warp));
        scf::YieldOp::create(tb, tl);
      });
      e.barrier();
      for (int64_t k = 0; k + 1 < warpsUsed; ++k) {
        Value total = LLVM::LoadOp::create(
            b, loc, b.getF32Type(), e.sharedPtr(0, b.getF32Type(), e.i32(k)));
        Value earlier = e.cmp(arith::CmpIPredicate::ugt, warp, e.i32(k));
        before = arith::SelectOp::create(
            b, loc, earlier, arith::AddFOp::create(b, loc, before, total),
            before);
      }
    }
    Value result = e.splatConst(b.getF32Type(), 0.0, w);
    for (int64_t i = 0; i < w; ++i)
      result = vector::InsertOp::create(
          b, loc, arith::AddFOp::create(b, loc, prefix[i], before), result, i);
    return result;
  }

  LogicalResult
  matchAndRewrite(CumsumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType t = op.getType();
    int64_t numel = t.getNumElements(), axis = op.getAxis();
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < t.getRank(); ++d)
      inner *= t.getDimSize(d);
    if (t.getRank() == 1 && st.slots(numel) == st.vectorWidth) {
      rw.replaceOp(op, scan1D(e, adaptor.getInput(), numel));
      return success();
    }
    st.needShared(tileToShared(e, adaptor.getInput(), numel));
    int64_t n = st.slots(numel);
    Value elems = e.elementIndices(n);
    SmallVector<Value> c = e.coords(elems, t.getShape());
    Value result = e.splatConst(rw.getF32Type(), 0.0, n);
    for (int64_t j = 0; j < n; ++j) {
      // Element j: sum of in[base + i * inner] for i <= its axis coord.
      Value elem = vector::ExtractOp::create(rw, loc, elems, j);
      Value pos = vector::ExtractOp::create(rw, loc, c[axis], j);
      Value valid = e.cmp(arith::CmpIPredicate::slt, elem, e.i32(numel));
      Value end = arith::SelectOp::create(rw, loc, valid,
                                          e.add(pos, e.i32(1)), e.i32(0));
      Value base = arith::SubIOp::create(rw, loc, elem,
                                         e.mul(pos, e.i32(inner)));
      auto loop = scf::ForOp::create(
          rw, loc, e.toIndex(e.i32(0)), e.toIndex(end), e.idx(1),
          ValueRange{e.f32(0.0)},
          [&](OpBuilder &b, Location l, Value i, ValueRange acc) {
            Emitter le(b, l, st);
            Value at = le.add(base, le.mul(le.toI32(i), le.i32(inner)));
            Value x = LLVM::LoadOp::create(
                b, l, b.getF32Type(), le.sharedPtr(0, b.getF32Type(), at));
            scf::YieldOp::create(
                b, l, Value(arith::AddFOp::create(b, l, acc[0], x)));
          });
      result = vector::InsertOp::create(rw, loc, loop.getResult(0), result, j);
    }
    rw.replaceOp(op, result);
    return success();
  }
};

/// Sum of `value` over groups of `lanes` consecutive lanes (a power of two
/// up to 32), by xor shuffles; every lane of a group gets the sum.
Value groupSum(OpBuilder &b, Location loc, Value value, int64_t lanes) {
  for (int64_t off = lanes / 2; off >= 1; off /= 2) {
    auto shfl = gpu::ShuffleOp::create(b, loc, value, off, 32,
                                       gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, loc, value, shfl.getShuffleResult());
  }
  return value;
}

/// (I + L)^-1 for a strictly lower L, in shared memory, blocked:
///  1. the diagonal 16x16 blocks by forward substitution, all blocks at
///     once: row i of a block is e_i - sum_{j<i} L[i, j] X[j, :], one
///     column per group of lanes that splits the sum;
///  2. pairs of solved blocks merged by doubling (16 -> 32 -> 64):
///     [P 0; C R]^-1 has lower-left block -R C P.
/// About 20 barrier steps for a 64x64 tile instead of 63. Sizes that are
/// not a multiple of 16 use the plain row-by-row substitution.
struct UnitLowerInverseLowering : TilePattern<UnitLowerInverseOp> {
  using TilePattern::TilePattern;

  LogicalResult
  matchAndRewrite(UnitLowerInverseOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    int64_t n = op.getType().getDimSize(0), numel = n * n;
    int64_t block = n % 16 == 0 ? 16 : n; // whole-matrix substitution else
    int64_t xBase = alignUp(numel * 4, 16);
    int64_t tBase = alignUp(xBase + numel * 4, 16);
    st.needShared(tBase + (block < n ? numel / 2 * 4 : 0));
    int64_t slots = st.slots(numel);
    Value elems = e.elementIndices(slots);
    Value mask = e.validSlots(elems, numel);
    SmallVector<Value> c = e.coords(elems, {n, n});
    Value diag = e.cmp(arith::CmpIPredicate::eq, c[0], c[1]);
    Type f32 = rw.getF32Type();
    Value identity = arith::SelectOp::create(
        rw, loc, diag, e.splatConst(f32, 1.0, slots), e.splatConst(f32, 0.0, slots));
    bool full = st.allSlotsValid(numel);
    e.barrier();
    e.storeSharedRuns(adaptor.getInput(), elems, mask, 0, full);
    e.storeSharedRuns(identity, elems, mask, xBase, full);
    e.barrier();
    solveDiagonalBlocks(rw, loc, n, block, xBase);
    for (int64_t s = block; s < n; s *= 2)
      mergeBlocks(rw, loc, n, s, xBase, tBase);
    rw.replaceOp(op, e.loadSharedRuns(f32, elems, mask, xBase, full));
    return success();
  }

  Value load(Emitter &e, int64_t base, Value index) const {
    Type f32 = e.b.getF32Type();
    return LLVM::LoadOp::create(e.b, e.loc, f32,
                                e.sharedPtr(base, f32, e.toI32(index)));
  }

  /// Step 1: X[r*B + i][r*B + c] for every block r, one row i per step.
  void solveDiagonalBlocks(OpBuilder &rw, Location loc, int64_t n,
                           int64_t block, int64_t xBase) const {
    int64_t lanes = 1;
    while (lanes < 32 && lanes * 2 * n <= st.numThreads)
      lanes *= 2;
    int64_t groups = st.numThreads / lanes;
    int64_t reps = (n + groups - 1) / groups;
    Emitter e(rw, loc, st);
    Value lane = arith::RemUIOp::create(rw, loc, st.tid, e.idx(lanes));
    Value group = arith::DivUIOp::create(rw, loc, st.tid, e.idx(lanes));
    scf::ForOp::create(
        rw, loc, e.idx(1), e.idx(block), e.idx(1), ValueRange{},
        [&](OpBuilder &b, Location l, Value i, ValueRange) {
          Emitter r(b, l, st);
          for (int64_t rep = 0; rep < reps; ++rep) {
            // Column `col` of the whole matrix: block col / B, column col % B.
            Value col = r.add(group, r.idx(rep * groups));
            Value valid = r.cmp(arith::CmpIPredicate::ult, col, r.idx(n));
            Value colSafe = arith::SelectOp::create(b, l, valid, col, r.idx(0));
            Value blk = arith::DivUIOp::create(b, l, colSafe, r.idx(block));
            Value cIn = arith::RemUIOp::create(b, l, colSafe, r.idx(block));
            Value origin = r.mul(blk, r.idx(block));
            Value row = r.add(origin, i);
            // sum_{j=c..i-1} L[row][origin + j] X[origin + j][col]
            auto sum = scf::ForOp::create(
                b, l, r.add(cIn, lane), i, r.idx(lanes), ValueRange{r.f32(0.0)},
                [&](OpBuilder &sb, Location sl, Value j, ValueRange acc) {
                  Emitter se(sb, sl, st);
                  Value lj = se.add(se.mul(row, se.idx(n)), se.add(origin, j));
                  Value xj = se.add(se.mul(se.add(origin, j), se.idx(n)), colSafe);
                  Value p = arith::MulFOp::create(sb, sl, load(se, 0, lj),
                                                  load(se, xBase, xj));
                  scf::YieldOp::create(
                      sb, sl, Value(arith::AddFOp::create(sb, sl, acc[0], p)));
                });
            Value total = groupSum(b, l, sum.getResult(0), lanes);
            Value write = r.andI(
                r.andI(valid, r.cmp(arith::CmpIPredicate::ult, cIn, i)),
                r.cmp(arith::CmpIPredicate::eq, lane, r.idx(0)));
            scf::IfOp::create(b, l, write, [&](OpBuilder &tb, Location tl) {
              Emitter te(tb, tl, st);
              Value at = te.add(te.mul(row, te.idx(n)), colSafe);
              LLVM::StoreOp::create(
                  tb, tl, Value(arith::NegFOp::create(tb, tl, total)),
                  te.sharedPtr(xBase, tb.getF32Type(), te.toI32(at)));
              scf::YieldOp::create(tb, tl);
            });
          }
          r.barrier();
          scf::YieldOp::create(b, l);
        });
  }

  /// Step 2 at block size s: for each pair of solved s x s diagonal blocks
  /// P (upper) and R (lower), X[lower][upper] = -R (L[lower][upper] P).
  void mergeBlocks(OpBuilder &rw, Location loc, int64_t n, int64_t s,
                   int64_t xBase, int64_t tBase) const {
    int64_t pairs = n / (2 * s), outputs = pairs * s * s;
    // Element e of output (pair, i, j): upper origin u = pair*2s,
    // lower origin w = u + s.
    auto forEachOutput = [&](function_ref<void(Emitter &, Value, Value, Value,
                                               Value, Value)> body) {
      Emitter e(rw, loc, st);
      scf::ForOp::create(
          rw, loc, st.tid, e.idx(outputs), e.idx(st.numThreads), ValueRange{},
          [&](OpBuilder &b, Location l, Value out, ValueRange) {
            Emitter r(b, l, st);
            Value pair = arith::DivUIOp::create(b, l, out, r.idx(s * s));
            Value ij = arith::RemUIOp::create(b, l, out, r.idx(s * s));
            Value i = arith::DivUIOp::create(b, l, ij, r.idx(s));
            Value j = arith::RemUIOp::create(b, l, ij, r.idx(s));
            Value upper = r.mul(pair, r.idx(2 * s));
            body(r, out, i, j, upper, r.add(upper, r.idx(s)));
            scf::YieldOp::create(b, l);
          });
      e.barrier();
    };
    Type f32 = rw.getF32Type();
    // T[pair][i][j] = sum_{k=j..s-1} L[w+i][u+k] P[u+k][u+j]
    forEachOutput([&](Emitter &r, Value out, Value i, Value j, Value u,
                      Value w) {
      auto sum = scf::ForOp::create(
          r.b, r.loc, j, r.idx(s), r.idx(1), ValueRange{r.f32(0.0)},
          [&](OpBuilder &sb, Location sl, Value k, ValueRange acc) {
            Emitter se(sb, sl, st);
            Value lk = se.add(se.mul(se.add(w, i), se.idx(n)), se.add(u, k));
            Value pk = se.add(se.mul(se.add(u, k), se.idx(n)), se.add(u, j));
            Value p = arith::MulFOp::create(sb, sl, load(se, 0, lk),
                                            load(se, xBase, pk));
            scf::YieldOp::create(
                sb, sl, Value(arith::AddFOp::create(sb, sl, acc[0], p)));
          });
      LLVM::StoreOp::create(r.b, r.loc, sum.getResult(0),
                            r.sharedPtr(tBase, f32, r.toI32(out)));
    });
    // X[w+i][u+j] = -sum_{k=0..i} R[w+i][w+k] T[pair][k][j]
    forEachOutput([&](Emitter &r, Value out, Value i, Value j, Value u,
                      Value w) {
      Value pairBase = r.sub(out, r.add(r.mul(i, r.idx(s)), j));
      auto sum = scf::ForOp::create(
          r.b, r.loc, r.idx(0), r.add(i, r.idx(1)), r.idx(1),
          ValueRange{r.f32(0.0)},
          [&](OpBuilder &sb, Location sl, Value k, ValueRange acc) {
            Emitter se(sb, sl, st);
            Value rk = se.add(se.mul(se.add(w, i), se.idx(n)), se.add(w, k));
            Value tk = se.add(pairBase, se.add(se.mul(k, se.idx(s)), j));
            Value p = arith::MulFOp::create(sb, sl, load(se, xBase, rk),
                                            load(se, tBase, tk));
            scf::YieldOp::create(
                sb, sl, Value(arith::AddFOp::create(sb, sl, acc[0], p)));
          });
      Value at = r.add(r.mul(r.add(w, i), r.idx(n)), r.add(u, j));
      LLVM::StoreOp::create(
          r.b, r.loc, Value(arith::NegFOp::create(r.b, r.loc, sum.getResult(0))),
          r.sharedPtr(xBase, f32, r.toI32(at)));
    });
  }
};

//===----------------------------------------------------------------------===//
// dot on the tensor cores
//===----------------------------------------------------------------------===//

/// C = acc + A B with mma.sync. A ([M, K], k-contiguous) and B ([N, K],
/// k-contiguous) are written to shared memory in the operand type (bf16,
/// f16, or f32 rounded to tf32); each warp computes 16x8 output tiles and
/// writes them to an f32 [M, N] buffer, which every thread reads back in
/// its slot layout.

/// One m64nNk16 wgmma with A from registers (`aRegs`: four 32-bit pairs
/// of 16-bit values in the accumulator layout) and B through `bDesc`,
/// adding into `acc` (a struct of N / 2 f32). NVVM's wgmma op takes A only
/// by descriptor, hence inline PTX; the accumulators are tied in and out
/// (and ignored unless `accumulate`).
Value warpgroupDotFromRegisters(OpBuilder &b, Location loc, Type structTy,
                                Value acc, ArrayRef<Value> aRegs, Value bDesc,
                                int64_t n, bool bf16, bool bTransposed,
                                bool accumulate) {
  int64_t count = n / 2;
  std::string asmText, constraints;
  llvm::raw_string_ostream os(asmText), cs(constraints);
  // scale-d: false ignores `acc` (D = A B).
  os << "{\n.reg .pred p;\nsetp.ne.b32 p, " << (accumulate ? 1 : 0)
     << ", 0;\n"
     << "wgmma.mma_async.sync.aligned.m64n" << n << "k16.f32."
     << (bf16 ? "bf16.bf16" : "f16.f16") << " {";
  for (int64_t j = 0; j < count; ++j)
    os << (j ? ", $" : "$") << j;
  os << "}, {$" << count << ", $" << count + 1 << ", $" << count + 2 << ", $"
     << count + 3 << "}, $" << count + 4 << ", p, 1, 1, "
     << (bTransposed ? 1 : 0) << ";\n}";
  for (int64_t j = 0; j < count; ++j)
    cs << (j ? ",=f" : "=f");
  cs << ",r,r,r,r,l";
  for (int64_t j = 0; j < count; ++j)
    cs << "," << j;
  SmallVector<Value> operands(aRegs);
  operands.push_back(bDesc);
  for (int64_t j = 0; j < count; ++j)
    operands.push_back(LLVM::ExtractValueOp::create(b, loc, acc, j));
  return LLVM::InlineAsmOp::create(
             b, loc, structTy, operands, asmText, constraints,
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
             ArrayAttr())
      .getResult(0);
}

/// A dot into `#hyla_tile.mma<warpgroup>` fragments on wgmma (checked to
/// fit before conversion): both operands go to shared memory K-major with
/// the 128-byte swizzle, then each warpgroup issues m64nNk16 (16-bit) or
/// m64nNk8 (tf32) wgmma for its 64-row blocks, reading them through matrix
/// descriptors. Operands come from async copies (already in place), or
/// from registers in the thread layout or as fragments, in either
/// orientation: this writes them K-major, f32 rounded to tf32.
LogicalResult lowerWarpgroupDot(DotOp op, DotOp::Adaptor adaptor,
                                ConversionPatternRewriter &rw, KernelState &st) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rw.getContext();
  Emitter e(rw, loc, st);
  RankedTensorType aT = op.getA().getType(), bT = op.getB().getType();
  Type elt = aT.getElementType();
  bool tf32 = elt.isF32();
  DotShape shape = DotShape::of(op);
  int64_t m = shape.m, k = shape.k, n = shape.n;
  int64_t warps = st.warps();
  int64_t eb = tf32 ? 4 : 2, rowElems = wgmmaRowElements(elt);
  // Operands in the layout of `swizzledIndex`; the descriptor's swizzle
  // mode applies the same XOR to the addresses wgmma forms.
  Type i32 = rw.getI32Type(), i64 = rw.getI64Type(), f32 = rw.getF32Type();
  Value smemAddr = LLVM::PtrToIntOp::create(rw, loc, i32, st.smem);
  // Operands already in shared memory (async_load buffers, same layout)
  // are read where they are; the others are written to scratch first.
  bool aShared = isSharedTile(aT), bShared = isSharedTile(bT);
  // A 16-bit A held as wgmma fragments ([m][k], a product feeding the next
  // one: attention's probabilities) is read from registers as it is.
  bool aRegisters =
      !aShared && !tf32 && isWarpgroupTile(aT) && !op.getTransposeA();
  // A copied B contiguous along n ([k][n]: attention's values) is read
  // transposed (MN-major); K-major otherwise.
  bool bMnMajor = bShared && !op.getTransposeB();
  Value aStart = aShared ? adaptor.getA() : Value();
  Value bStart = bShared ? adaptor.getB() : Value();
  if ((!aShared && !aRegisters) || !bShared) {
    int64_t aBytes = aShared || aRegisters ? 0 : alignUp(m * k * eb, 1024);
    int64_t bBase = aBytes;
    st.needShared(bBase + (bShared ? 0 : n * k * eb));
    // Operand `values` of tile type `t` as `rows` K-major rows: tile
    // element (r, c) is row c, column r when `kFirst` (a [k][x] tile).
    auto writeSwizzled = [&](Value values, RankedTensorType t, bool kFirst,
                             int64_t rows, int64_t base) {
      Value words = tf32 ? e.tf32Words(values) : values;
      int64_t count = cast<VectorType>(words.getType()).getNumElements();
      Value r, c, valid;
      bool allValid = true;
      if (isMmaTile(t)) {
        std::tie(r, c) = fragmentCoords(e, t);
        valid = e.allTrue(count);
      } else {
        int64_t numel = t.getNumElements();
        Value elems = e.elementIndices(count);
        SmallVector<Value> coords = e.coords(elems, t.getShape());
        r = coords[0];
        c = coords[1];
        valid = e.validSlots(elems, numel);
        allValid = st.allSlotsValid(numel);
      }
      Value index = kFirst ? swizzledIndex(e, c, r, rows, rowElems)
                           : swizzledIndex(e, r, c, rows, rowElems);
      // Thread-layout runs along k stay inside one 16-byte chunk: one
      // vector store each.
      int64_t w = st.vectorWidth;
      if (!kFirst && !isMmaTile(t) && allValid && w * eb <= 16 &&
          (16 / eb) % w == 0)
        return e.storeSharedRuns(words, index, valid, base, true);
      if (!allValid)
        return e.scatterShared(words, index, valid, base);
      e.storeSharedEach(words, index, base);
    };
    e.barrier(); // the previous dot's reads of these bytes are done
    Value scratch = e.add(smemAddr, e.i32(st.scratchBase));
    if (!aShared && !aRegisters) {
      writeSwizzled(adaptor.getA(), aT, op.getTransposeA(), m, 0);
      aStart = scratch;
    }
    if (!bShared) {
      writeSwizzled(adaptor.getB(), bT, !op.getTransposeB(), n, bBase);
      bStart = e.add(scratch, e.i32(bBase));
    }
    e.asyncProxyBarrier();
  }

  // Descriptor: start address >> 4 (bits 0-13), leading byte offset >> 4
  // (bits 16-29), stride byte offset 1024 >> 4 between groups of 8 rows of
  // 128 bytes (bits 32-45), swizzle mode 1 = 128 bytes (bits 62-63).
  // K-major operands have their k step inside one 128-byte row, so the
  // leading offset is unused (1); an MN-major B spans its n in column
  // blocks of 64, each holding all k rows: `leadingBytes` apart.
  auto descriptor = [&](Value addr, int64_t leadingBytes = 16) {
    Value fixedBits = e.i64(((leadingBytes >> 4) << 16) |
                            (int64_t(1024 >> 4) << 32) | (int64_t(1) << 62));
    Value field = arith::AndIOp::create(
        rw, loc, arith::ShRUIOp::create(rw, loc, addr, e.i32(4)), e.i32(0x3fff));
    return Value(arith::OrIOp::create(
        rw, loc, arith::ExtUIOp::create(rw, loc, i64, field), fixedBits));
  };
  Value warp = arith::DivUIOp::create(rw, loc, st.tidI32, e.i32(32));
  Value group = arith::DivUIOp::create(rw, loc, warp, e.i32(4));
  int64_t groups = warps / 4, rowBlock = 64 * 128;
  // This warpgroup's first 64-row block of A; its i-th is `groups` further.
  Value aGroup =
      aRegisters ? Value() : e.add(aStart, e.mul(group, e.i32(rowBlock)));

  MmaStrips geometry = MmaStrips::warpgroup(m, n);
  int64_t perBlock = n / 2, blocks = geometry.stripsPerWarp(warps);
  auto structTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(perBlock, f32));
  Value acc = adaptor.getAcc();
  // A zero accumulator (attention's scores) is not moved into the
  // registers: the first k step ignores them (scale-d 0).
  bool zeroAcc = matchPattern(op.getAcc(), m_AnyZeroFloat());
  SmallVector<Value> frags;
  for (int64_t i = 0; i < blocks; ++i) {
    Value fs = LLVM::PoisonOp::create(rw, loc, structTy);
    for (int64_t j = 0; j < perBlock && !zeroAcc; ++j)
      fs = LLVM::InsertValueOp::create(
          rw, loc, fs, vector::ExtractOp::create(rw, loc, acc, i * perBlock + j),
          j);
    frags.push_back(fs);
  }
  auto wgmmaType = tf32          ? NVVM::WGMMATypes::tf32
                   : elt.isBF16() ? NVVM::WGMMATypes::bf16
                                  : NVVM::WGMMATypes::f16;
  int64_t kStep = tf32 ? 8 : 16;
  auto mmaShape = NVVM::MMAShapeAttr::get(ctx, 64, n, kStep);
  NVVM::WgmmaFenceAlignedOp::create(rw, loc);
  // The A fragments' slots of block i and k step ks: 4 per n tile of 8
  // columns, so a k step of 16 is 8 slots, paired into the 4 registers
  // wgmma takes (row g, row g + 8, then both 8 columns on).
  int64_t aStripSlots = k / 8 * 4;
  auto aRegistersOf = [&](int64_t i, int64_t ks) {
    SmallVector<Value> regs;
    for (int64_t j = 0; j < 4; ++j) {
      int64_t slot = i * aStripSlots + ks * 8 + 2 * j;
      Value pair = vector::ShuffleOp::create(rw, loc, adaptor.getA(),
                                             adaptor.getA(),
                                             ArrayRef<int64_t>{slot, slot + 1});
      regs.push_back(LLVM::BitcastOp::create(rw, loc, i32, pair));
    }
    return regs;
  };
  for (int64_t ks = 0; ks < k / kStep; ++ks) {
    // k step ks: with B MN-major, its 16 rows of 128 bytes in every column
    // block; K-major, column block ks / 4, 32 bytes (one k step) into its
    // rows. (Adding these offsets to one descriptor an operand instead
    // measured more registers: the GDN state kernel spilled.)
    int64_t block = ks / 4, kBytes = (ks % 4) * 32;
    Value bDesc = descriptor(
        e.add(bStart, e.i32(bMnMajor ? ks * kStep * 128
                                     : block * n * 128 + kBytes)),
        bMnMajor ? bT.getDimSize(0) * 128 : 16);
    bool accumulate = !(zeroAcc && ks == 0);
    for (int64_t i = 0; i < blocks; ++i) {
      if (aRegisters) {
        frags[i] = warpgroupDotFromRegisters(
            rw, loc, structTy, frags[i], aRegistersOf(i, ks), bDesc, n,
            elt.isBF16(), bMnMajor, accumulate);
        continue;
      }
      Value aDesc = descriptor(e.add(
          aGroup, e.i32(i * groups * rowBlock + block * m * 128 + kBytes)));
      frags[i] = NVVM::WgmmaMmaAsyncOp::create(
          rw, loc, structTy, frags[i], aDesc, bDesc, mmaShape, wgmmaType,
          wgmmaType, NVVM::WGMMATypes::f32,
          accumulate ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
          NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
          NVVM::MMALayout::row,
          bMnMajor ? NVVM::MMALayout::row : NVVM::MMALayout::col,
          /*satfinite=*/NVVM::MMAIntOverflowAttr());
    }
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(rw, loc);
  // An async dot returns with its own group in flight; the one before it
  // (whose operand buffers the caller reuses next) is done.
  NVVM::WgmmaWaitGroupSyncOp::create(rw, loc, op.getAsync() ? 1 : 0);
  for (int64_t i = 0; i < blocks; ++i)
    for (int64_t j = 0; j < perBlock; ++j)
      acc = vector::InsertOp::create(
          rw, loc, LLVM::ExtractValueOp::create(rw, loc, frags[i], j), acc,
          i * perBlock + j);
  rw.replaceOp(op, acc);
  return success();
}

struct DotLowering : TilePattern<DotOp> {
  using TilePattern::TilePattern;
  LogicalResult
  matchAndRewrite(DotOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    if (isWarpgroupTile(op.getType()))
      return lowerWarpgroupDot(op, adaptor, rw, st);
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType aT = op.getA().getType(), bT = op.getB().getType();
    Type elt = aT.getElementType();
    bool tf32 = elt.isF32();
    DotShape shape = DotShape::of(op);
    int64_t m = shape.m, n = shape.n, k = shape.k;
    int64_t kStep = tf32 ? 8 : 16;
    if (m % 16 || n % 8 || k % kStep) // checked before conversion
      return rw.notifyMatchFailure(op, "tile sizes do not fit mma.sync");
    // Operands go to shared memory as they are in registers (row-major
    // tiles, vector runs, no transposition), as 32-bit words for tf32 (the
    // rounded bits) or 16-bit values; rows padded to dodge bank conflicts.
    // The fragment loads below read them in either orientation.
    Type smemElt = tf32 ? Type(rw.getI32Type()) : elt;
    int64_t eb = Emitter::elementBytes(smemElt);
    int64_t rowPad = tf32 ? 4 : 8;
    bool aKLast = !op.getTransposeA(), bKLast = op.getTransposeB();
    // A tf32 operand strided along k has no transposing ldmatrix; it goes to
    // shared memory transposed instead (rows along k, swizzled: see
    // SwizzledOperand), where ldmatrix reads it.
    bool aSwizzled = tf32 && !aKLast;
    bool bSwizzled = tf32 && !bKLast;
    // (A swizzled operand's "stride" is its row count, the words of a
    // k step's region over 8.)
    int64_t aStride = aSwizzled ? m : aT.getDimSize(1) + rowPad;
    int64_t bStride = bSwizzled ? n : bT.getDimSize(1) + rowPad;
    int64_t aWords = aSwizzled ? m * k : aT.getDimSize(0) * aStride;
    int64_t bWords = bSwizzled ? n * k : bT.getDimSize(0) * bStride;
    int64_t nPad = n + 4;
    int64_t aBase = 0, bBase = alignUp(aWords * eb, 16);
    int64_t cBase = alignUp(bBase + bWords * eb, 16);
    // The product goes through shared memory into the thread layout unless
    // it stays in mma fragments.
    st.needShared(isMmaTile(op.getType()) ? cBase : cBase + m * nPad * 4);

    auto writeOperand = [&](Value values, RankedTensorType t, int64_t stride,
                            int64_t base, bool swizzled) {
      // A [k][x] tile stored transposed: element (row, col) is x = col,
      // kk = row.
      SwizzledOperand layout{t.getDimSize(1)};
      if (isMmaTile(t)) {
        // Fragments (a product feeding the next one) go element by element;
        // LLVM pairs the (col, col + 1) neighbours.
        auto [rows, cols] = fragmentCoords(e, t);
        int64_t count = cast<VectorType>(rows.getType()).getNumElements();
        Value index =
            swizzled ? layout.word(e, cols, rows)
                     : e.add(e.mul(rows, e.splat(e.i32(stride), count)), cols);
        e.storeSharedEach(tf32 ? e.tf32Words(values) : values, index, base);
        return;
      }
      int64_t slots = st.slots(t.getNumElements());
      Value elems = e.elementIndices(slots);
      SmallVector<Value> c = e.coords(elems, t.getShape());
      Value index = swizzled ? Value()
                             : e.add(e.mul(c[0], e.splat(e.i32(stride), slots)),
                                     c[1]);
      if (tf32)
        values = e.tf32Words(values);
      Value valid = e.validSlots(elems, t.getNumElements());
      if (!swizzled)
        return e.storeSharedRuns(values, index, valid, base,
                                 st.allSlotsValid(t.getNumElements()));
      int64_t w = st.vectorWidth;
      if (w > 4 || t.getDimSize(1) % w || !st.allSlotsValid(t.getNumElements()))
        return e.scatterShared(values, layout.word(e, c[1], c[0]), valid, base);
      // A run of w <= 4 columns (x = x0 + j, x0 % w == 0) lands in rows
      // p(x0) ^ j of one group of 4: word(x0) ^ 8j. The XOR (not an
      // offset) keeps the lanes of each store on different banks.
      // A run whose first element lies a multiple of 8 rows after run 0's,
      // in the same column, is run 0's words plus that element distance (8
      // rows of the tile are one region of the layout), so its addresses
      // are constant offsets rather than registers live across loops.
      std::optional<SmallVector<int64_t>> offsets = e.slotOffsets(elems);
      int64_t regionElems = 8 * t.getDimSize(1);
      SmallVector<Value> firstRun; // run 0's word ^ 8j
      for (int64_t r = 0; r < slots; r += w) {
        int64_t distance = offsets ? (*offsets)[r] - (*offsets)[0] : -1;
        bool shifted = r > 0 && distance > 0 && distance % regionElems == 0;
        Value at;
        if (!shifted)
          at = layout.word(e, vector::ExtractOp::create(rw, loc, c[1], r),
                           vector::ExtractOp::create(rw, loc, c[0], r));
        for (int64_t j = 0; j < w; ++j) {
          Value word;
          if (shifted) {
            word = e.add(firstRun[j], e.i32(distance));
          } else {
            word = j ? Value(arith::XOrIOp::create(rw, loc, at, e.i32(8 * j)))
                     : at;
            if (r == 0)
              firstRun.push_back(word);
          }
          LLVM::StoreOp::create(
              rw, loc, vector::ExtractOp::create(rw, loc, values, r + j),
              e.sharedPtr(base, smemElt, word));
        }
      }
    };
    e.barrier();
    writeOperand(adaptor.getA(), aT, aStride, aBase, aSwizzled);
    writeOperand(adaptor.getB(), bT, bStride, bBase, bSwizzled);
    e.barrier();

    // Each warp computes 16 x (8 * strip) outputs: one A fragment feeds
    // `strip` mma.sync per k step.
    // Fragments keep the geometry of their type; a product that goes back
    // to the thread layout takes the widest strips.
    MmaStrips geometry = isMmaTile(op.getType())
                             ? fragmentGeometry(op.getType(), st.warps())
                             : MmaStrips::get(m, n);
    int64_t strip = geometry.strip;
    int64_t strips = geometry.strips, warps = st.warps();
    // ldmatrix needs 16-byte aligned rows, and a transposing load exists
    // for 16-bit elements only.
    bool aLdmatrix =
        aSwizzled || ((aStride * eb) % 16 == 0 && (aKLast || !tf32));
    bool bLdmatrix =
        bSwizzled || ((bStride * eb) % 16 == 0 && (bKLast || !tf32));
    Value warp = arith::DivUIOp::create(rw, loc, st.tid, e.idx(32));
    Value lane = arith::RemUIOp::create(rw, loc, st.tidI32, e.i32(32));
    Value group = arith::DivUIOp::create(rw, loc, lane, e.i32(4));
    Value quad = arith::RemUIOp::create(rw, loc, lane, e.i32(4));
    Type f32 = rw.getF32Type(), i32 = rw.getI32Type();
    NVVM::MMATypes ptx = tf32           ? NVVM::MMATypes::tf32
                         : elt.isBF16() ? NVVM::MMATypes::bf16
                                        : NVVM::MMATypes::f16;
    // The k loop of strip `s32`, accumulating onto its 4 * strip fragment
    // values `init`; returns the new ones.
    auto stripProduct = [&](OpBuilder &b, Location l, Value s32,
                            ValueRange init) -> SmallVector<Value> {
          Emitter r(b, l, st);
          Value mBase, nBase; // plain values: the k loop's lambdas capture them
          std::tie(mBase, nBase) = stripOrigin(r, geometry, s32);
          Value row0 = r.add(mBase, group);
          Value row1 = r.add(row0, r.i32(8));
          Value lane8 = arith::RemUIOp::create(b, l, lane, r.i32(8));
          Value laneBit0 = arith::RemUIOp::create(
              b, l, arith::DivUIOp::create(b, l, lane, r.i32(8)), r.i32(2));
          Value laneBit1 = arith::DivUIOp::create(b, l, lane, r.i32(16));
          auto kLoop = scf::ForOp::create(
              b, l, r.idx(0), r.idx(k / kStep), r.idx(1), init,
              [&](OpBuilder &kb, Location kl, Value ks, ValueRange acc) {
                Emitter ke(kb, kl, st);
                Value k0 = ke.mul(ke.toI32(ks), ke.i32(kStep));
                // The fragment word of logical element (x, k) of an operand
                // (A: x = row; B: x = column), whose tile holds it at [x][k]
                // (`kLast`) or [k][x]: tf32 words are one element; 16-bit
                // words pack elements k and k + 1.
                auto word = [&](int64_t base, int64_t stride, bool kLast,
                                Value x, Value kk) -> Value {
                  auto at = [&](Value kIdx) {
                    return kLast ? ke.add(ke.mul(x, ke.i32(stride)), kIdx)
                                 : ke.add(ke.mul(kIdx, ke.i32(stride)), x);
                  };
                  if (tf32 || kLast)
                    return LLVM::LoadOp::create(
                        kb, kl, i32, ke.sharedPtr(base, smemElt, at(kk)));
                  Value lo = LLVM::LoadOp::create(
                      kb, kl, elt, ke.sharedPtr(base, elt, at(kk)));
                  Value hi = LLVM::LoadOp::create(
                      kb, kl, elt,
                      ke.sharedPtr(base, elt, at(ke.add(kk, ke.i32(1)))));
                  Value pair = ke.splatConst(elt, 0.0, 2);
                  pair = vector::InsertOp::create(kb, kl, lo, pair, 0);
                  pair = vector::InsertOp::create(kb, kl, hi, pair, 1);
                  return LLVM::BitcastOp::create(kb, kl, i32, pair);
                };
                // ldmatrix: each lane names one 16-byte row of an 8x8
                // (16-bit) matrix; four of them give an A fragment or the B
                // fragments of two n tiles. For tf32 a 16-byte row is 4
                // words, so the k-contiguous case maps the same way; a
                // k-strided tf32 operand has no transposing form and keeps
                // the word loads.
                auto ldmatrix = [&](int64_t base, Value at, int64_t num,
                                    bool trans) {
                  SmallVector<Type> words(num, i32); // num is 2 or 4
                  Type resTy =
                      LLVM::LLVMStructType::getLiteral(kb.getContext(), words);
                  Value res = NVVM::LdMatrixOp::create(
                      kb, kl, resTy, ke.sharedPtr(base, smemElt, at), num,
                      trans ? NVVM::MMALayout::col : NVVM::MMALayout::row,
                      NVVM::LdStMatrixShapeAttr::get(kb.getContext(), 8, 8),
                      NVVM::LdStMatrixEltType::B16);
                  SmallVector<Value> out;
                  for (int64_t i = 0; i < num; ++i)
                    out.push_back(LLVM::ExtractValueOp::create(kb, kl, res, i));
                  return out;
                };
                auto aWord = [&](Value row, Value kk) {
                  return word(aBase, aStride, aKLast, row, kk);
                };
                auto bWord = [&](Value col, Value kk) {
                  return word(bBase, bStride, bKLast, col, kk);
                };
                // tf32: k = quad (+4); 16-bit: k = 2 quad (+8), two per word.
                Value kc = tf32 ? ke.add(k0, quad)
                                : ke.add(k0, ke.mul(quad, ke.i32(2)));
                Value kc2 = ke.add(kc, ke.i32(tf32 ? 4 : 8));
                // 16-byte units of k in a k step's second half.
                int64_t half = tf32 ? 4 : 8;
                // The element whose 16-byte row this lane names for
                // ldmatrix: lane bit `xBit` picks the 8 rows of A (columns
                // of B) from x0, `kBit` the half of the k step, in an
                // operand stored [x][k] (`kLast`) or [k][x].
                auto ldmatrixRow = [&](Value x0, int64_t stride, bool kLast,
                                       bool swizzled, Value xBit, Value kBit) {
                  Value eight = ke.i32(8), h = ke.i32(half);
                  if (swizzled) // k steps are regions `stride` rows apart
                    return ke.add(
                        ke.mul(k0, ke.i32(stride)),
                        SwizzledOperand::rowPart(
                            ke, ke.add(x0, ke.add(lane8, ke.mul(xBit, eight))),
                            ke.mul(kBit, h)));
                  if (kLast)
                    return ke.add(ke.mul(ke.add(x0, ke.add(lane8, ke.mul(xBit, eight))),
                                         ke.i32(stride)),
                                  ke.add(k0, ke.mul(kBit, h)));
                  return ke.add(ke.mul(ke.add(k0, ke.add(lane8, ke.mul(kBit, h))),
                                       ke.i32(stride)),
                                ke.add(x0, ke.mul(xBit, eight)));
                };
                SmallVector<Value> a;
                if (aLdmatrix) {
                  // Matrix j (lanes 8j..8j+7): rows 8 (j & 1), k half j >> 1.
                  a = ldmatrix(aBase,
                               ldmatrixRow(mBase, aStride, aKLast, aSwizzled,
                                           laneBit0, laneBit1),
                               4, !aKLast && !aSwizzled);
                } else {
                  a = {aWord(row0, kc), aWord(row1, kc), aWord(row0, kc2),
                       aWord(row1, kc2)};
                }
                // The two B words of n tiles t and t + 1 (if `pair`).
                auto bWords = [&](int64_t t, bool pair) -> SmallVector<Value> {
                  if (!bLdmatrix) {
                    SmallVector<Value> w;
                    for (int64_t u = 0; u < (pair ? 2 : 1); ++u) {
                      Value col = ke.add(nBase, ke.add(ke.i32(8 * (t + u)), group));
                      w.push_back(bWord(col, kc));
                      w.push_back(bWord(col, kc2));
                    }
                    return w;
                  }
                  // Matrix j: n tile t + (j >> 1), k half j & 1.
                  Value n = ke.add(nBase, ke.i32(8 * t));
                  return ldmatrix(bBase,
                                  ldmatrixRow(n, bStride, bKLast, bSwizzled,
                                              laneBit1, laneBit0),
                                  pair ? 4 : 2, !bKLast && !bSwizzled);
                };
                auto resTy = LLVM::LLVMStructType::getLiteral(
                    kb.getContext(), {f32, f32, f32, f32});
                std::array<int64_t, 3> shape = {16, 8, kStep};
                std::array<NVVM::MMATypes, 2> types = {ptx, ptx};
                std::array<NVVM::MMALayout, 2> layouts = {NVVM::MMALayout::row,
                                                          NVVM::MMALayout::col};
                SmallVector<Value> out;
                for (int64_t t = 0; t < strip; t += 2) {
                  bool pair = t + 1 < strip;
                  SmallVector<Value> bw = bWords(t, pair);
                  for (int64_t u = 0; u < (pair ? 2 : 1); ++u) {
                    Value d = NVVM::MmaOp::create(
                        kb, kl, resTy, a, {bw[2 * u], bw[2 * u + 1]},
                        acc.slice(4 * (t + u), 4), shape,
                        /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
                        types, layouts);
                    for (int64_t q = 0; q < 4; ++q)
                      out.push_back(LLVM::ExtractValueOp::create(kb, kl, d, q));
                  }
                }
                scf::YieldOp::create(kb, kl, out);
              });
          return SmallVector<Value>(kLoop.getResults());
    };

    if (isMmaTile(op.getType())) {
      // The accumulator is this warp's strips: no shared-memory exchange.
      Value warp32 = e.toI32(warp);
      Value acc = adaptor.getAcc();
      int64_t perStrip = 4 * strip;
      for (int64_t i = 0; i < geometry.stripsPerWarp(warps); ++i) {
        SmallVector<Value> init;
        for (int64_t j = 0; j < perStrip; ++j)
          init.push_back(vector::ExtractOp::create(rw, loc, adaptor.getAcc(),
                                                   i * perStrip + j));
        Value s32 = e.add(warp32, e.i32(i * warps));
        for (auto [j, v] : llvm::enumerate(stripProduct(rw, loc, s32, init)))
          acc = vector::InsertOp::create(rw, loc, v, acc, i * perStrip + j);
      }
      rw.replaceOp(op, acc);
      return success();
    }

    scf::ForOp::create(
        rw, loc, warp, e.idx(strips), e.idx(warps), ValueRange{},
        [&](OpBuilder &b, Location l, Value stripIdx, ValueRange) {
          Emitter r(b, l, st);
          Value s32 = r.toI32(stripIdx);
          auto [mBase, nBase] = stripOrigin(r, geometry, s32);
          Value row0 = r.add(mBase, group);
          Value row1 = r.add(row0, r.i32(8));
          SmallVector<Value> zeros(4 * strip, r.f32(0.0));
          SmallVector<Value> product = stripProduct(b, l, s32, zeros);
          for (int64_t t = 0; t < strip; ++t) {
            Value col = r.add(nBase, r.add(r.i32(8 * t), r.mul(quad, r.i32(2))));
            Value col1 = r.add(col, r.i32(1));
            auto store = [&](Value row, Value c, Value v) {
              Value at = r.add(r.mul(row, r.i32(nPad)), c);
              LLVM::StoreOp::create(b, l, v, r.sharedPtr(cBase, f32, at));
            };
            store(row0, col, product[4 * t]);
            store(row0, col1, product[4 * t + 1]);
            store(row1, col, product[4 * t + 2]);
            store(row1, col1, product[4 * t + 3]);
          }
          scf::YieldOp::create(b, l);
        });
    e.barrier();
    int64_t slots = st.slots(m * n);
    Value elems = e.elementIndices(slots);
    SmallVector<Value> c = e.coords(elems, {m, n});
    Value at = e.add(e.mul(c[0], e.splat(e.i32(nPad), slots)), c[1]);
    Value prod = e.loadSharedRuns(
        f32, at, e.validSlots(elems, m * n), cBase,
        n % st.vectorWidth == 0 && st.allSlotsValid(m * n));
    rw.replaceOp(op, Value(arith::AddFOp::create(rw, loc, adaptor.getAcc(), prod)));
    return success();
  }
};


/// Between the thread layout and `#hyla_tile.mma` fragments, through shared
/// memory (rows padded by 4 words against bank conflicts).
struct ConvertLayoutLowering : TilePattern<ConvertLayoutOp> {
  using TilePattern::TilePattern;
  /// Fragment rows to or from the thread layout, through shared memory
  /// (row r at word r): the quad's four lanes store the same value.
  LogicalResult convertFragmentRows(Emitter &e, ConvertLayoutOp op,
                                    Value input,
                                    ConversionPatternRewriter &rw) const {
    Location loc = op.getLoc();
    RankedTensorType t = op.getType();
    int64_t m = t.getDimSize(0);
    Type elt = t.getElementType();
    SmallVector<Value> rows = fragmentRowIndices(e, m);
    if (isFragmentRows(op.getInput().getType())) {
      e.barrier(); // earlier readers of the scratch bytes are done
      for (size_t j = 0; j < rows.size(); ++j)
        LLVM::StoreOp::create(rw, loc,
                              vector::ExtractOp::create(rw, loc, input, j),
                              e.sharedPtr(0, elt, rows[j]));
      st.needShared(m * Emitter::elementBytes(elt));
      e.barrier();
      int64_t n = st.slots(m);
      Value elems = e.elementIndices(n);
      rw.replaceOp(op, e.loadSharedRuns(elt, elems, e.validSlots(elems, m), 0,
                                        st.allSlotsValid(m)));
      return success();
    }
    st.needShared(tileToShared(e, input, m));
    SmallVector<Value> values;
    for (Value row : rows)
      values.push_back(
          LLVM::LoadOp::create(rw, loc, elt, e.sharedPtr(0, elt, row)));
    rw.replaceOp(op, vector::FromElementsOp::create(
                         rw, loc, e.vec(values.size(), elt), values));
    return success();
  }

  LogicalResult
  matchAndRewrite(ConvertLayoutOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Emitter e(rw, loc, st);
    RankedTensorType t = op.getType();
    if (isFragmentRows(t) || isFragmentRows(op.getInput().getType()))
      return convertFragmentRows(e, op, adaptor.getInput(), rw);
    int64_t m = t.getDimSize(0), n = t.getDimSize(1), nPad = n + 4;
    MmaStrips geometry = fragmentGeometry(
        isMmaTile(t) ? t : op.getInput().getType(), st.warps());
    int64_t warps = st.warps(), count = geometry.fragmentSlots(warps);
    Type elt = t.getElementType();
    st.needShared(m * nPad * Emitter::elementBytes(elt));
    // Shared-memory index of every fragment value of this thread, in
    // fragment order: strip i, n tile t, then (row, col), (row, col + 1),
    // (row + 8, col), (row + 8, col + 1) as mma.sync lays out its result.
    auto [rows, cols] =
        fragmentCoords(e, cast<RankedTensorType>(isMmaTile(t) ? t : op.getInput().getType()));
    Value at = e.add(e.mul(rows, e.splat(e.i32(nPad), count)), cols);
    int64_t slots = st.slots(m * n);
    Value elems = e.elementIndices(slots);
    SmallVector<Value> c = e.coords(elems, {m, n});
    Value runs = e.add(e.mul(c[0], e.splat(e.i32(nPad), slots)), c[1]);
    Value valid = e.validSlots(elems, m * n);
    bool vectorRuns = n % st.vectorWidth == 0 && st.allSlotsValid(m * n);
    e.barrier();
    // Scalar accesses per fragment value (not a masked scatter/gather):
    // LLVM pairs the (col, col + 1) neighbours into 8-byte accesses.
    auto fragmentPtr = [&](int64_t j) {
      return e.sharedPtr(0, elt, vector::ExtractOp::create(rw, loc, at, j));
    };
    if (isMmaTile(op.getInput().getType())) {
      for (int64_t j = 0; j < count; ++j)
        LLVM::StoreOp::create(
            rw, loc, vector::ExtractOp::create(rw, loc, adaptor.getInput(), j),
            fragmentPtr(j));
      e.barrier();
      rw.replaceOp(op, e.loadSharedRuns(elt, runs, valid, 0, vectorRuns));
      return success();
    }
    e.storeSharedRuns(adaptor.getInput(), runs, valid, 0, vectorRuns);
    e.barrier();
    Value out = e.splatConst(elt, 0.0, count);
    for (int64_t j = 0; j < count; ++j)
      out = vector::InsertOp::create(
          rw, loc, LLVM::LoadOp::create(rw, loc, elt, fragmentPtr(j)), out, j);
    rw.replaceOp(op, out);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct TileToGPUPass : public hyla::impl::TileToGPUBase<TileToGPUPass> {
  using TileToGPUBase::TileToGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    const GpuTarget *gpuTarget = lookupTarget(target);
    if (!gpuTarget) {
      std::string known;
      for (const GpuTarget &t : allTargets())
        known += (known.empty() ? "" : ", ") + t.id.str();
      module.emitError() << "hyla-tile-to-gpu: unknown target '" << target
                         << "' (known: " << known << ")";
      return signalPassFailure();
    }
    WalkResult hasDispatch = module.walk([](DispatchOp op) {
      op.emitError("hyla-tile-to-gpu runs on a module of kernels only");
      return WalkResult::interrupt();
    });
    if (hasDispatch.wasInterrupted())
      return signalPassFailure();

    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    SmallVector<func::FuncOp> kernels;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(TileDialect::kKernelAttrName))
        kernels.push_back(fn);
    for (func::FuncOp fn : kernels) {
      if (failed(lowerKernel(fn, *gpuTarget)))
        return signalPassFailure();
      fn.erase();
    }
  }

  LogicalResult lowerKernel(func::FuncOp fn, const GpuTarget &gpuTarget) {
    MLIRContext *ctx = &getContext();
    Location loc = fn.getLoc();
    OpBuilder b(ctx);
    b.setInsertionPoint(fn);
    auto targetAttr = NVVM::NVVMTargetAttr::get(
        ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", gpuTarget.chip,
        gpuTarget.ptxFeatures);
    auto gpuModule = gpu::GPUModuleOp::create(
        b, loc, (fn.getSymName() + "_module").str(),
        b.getArrayAttr({targetAttr}));
    b.setInsertionPointToStart(gpuModule.getBody());

    // The dynamic shared memory, as CUDA's `extern __shared__` array;
    // 1024-byte aligned, as wgmma's 128-byte swizzle atoms must be.
    auto smemType = LLVM::LLVMArrayType::get(b.getI8Type(), 0);
    auto smemGlobal = LLVM::GlobalOp::create(
        b, loc, smemType, /*isConstant=*/false, LLVM::Linkage::External,
        "__hyla_shared", Attribute(), /*alignment=*/1024, kSharedSpace);
    (void)smemGlobal;

    // Parameters: per memref, a global pointer then its dynamic dims.
    KernelState st;
    st.numThreads = 32 * TileDialect::getNumWarps(fn);
    st.launchThreads = 32 * TileDialect::getLaunchWarps(fn);
    st.hasWgmma = gpuTarget.hasWgmma;
    st.scratchBase = TileDialect::getReservedShared(fn);
    st.needSharedUpTo(st.scratchBase);
    // Arguments that TMA copies read: each gets a tensor map parameter
    // after its dims, tiled like its copies (one box for all of them).
    FailureOr<DenseMap<unsigned, TensorMapBox>> boxes = tensorMapBoxes(fn);
    if (failed(boxes)) {
      gpuModule.erase();
      return failure();
    }
    SmallVector<Type> params;
    SmallVector<Attribute> tensorMaps;
    Type gptr = LLVM::LLVMPointerType::get(ctx, kGlobalSpace);
    for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes())) {
      auto mt = cast<MemRefType>(t);
      params.push_back(gptr);
      for (int64_t d = 0; d < mt.getRank(); ++d)
        if (mt.isDynamicDim(d))
          params.push_back(b.getI64Type());
      auto box = boxes->find(i);
      if (box == boxes->end())
        continue;
      tensorMaps.push_back(b.getDictionaryAttr({
          b.getNamedAttr("param", b.getI64IntegerAttr(params.size())),
          b.getNamedAttr("arg", b.getI64IntegerAttr(i)),
          b.getNamedAttr("box", b.getDenseI64ArrayAttr(box->second.box)),
          b.getNamedAttr("swizzle", b.getI64IntegerAttr(box->second.swizzle)),
      }));
      params.push_back(LLVM::LLVMPointerType::get(ctx));
    }
    auto gpuFunc = gpu::GPUFuncOp::create(b, loc, fn.getSymName(),
                                          b.getFunctionType(params, {}));
    gpuFunc->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    if (!tensorMaps.empty())
      gpuFunc->setAttr(kTensorMapsAttr, b.getArrayAttr(tensorMaps));
    gpuFunc.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
        {static_cast<int32_t>(st.launchThreads), 1, 1}));
    if (auto minCtas = fn->getAttrOfType<IntegerAttr>(
            TileDialect::kMinProgramsPerSMAttrName))
      gpuFunc->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(), minCtas);
    if (fn->hasAttr(TileDialect::kClusterDimsAttrName)) {
      SmallVector<int64_t, 3> cluster = TileDialect::getClusterDims(fn);
      int64_t size = cluster[0] * cluster[1] * cluster[2];
      if (size > gpuTarget.maxClusterSize) {
        fn.emitError() << "kernel @" << fn.getSymName() << " asks for "
                       << size << " programs a cluster; target "
                       << gpuTarget.id << " allows "
                       << gpuTarget.maxClusterSize;
        gpuModule.erase();
        return failure();
      }
      bool specialized = !fn.getBody().front().getOps<ProduceOp>().empty();
      if (specialized && !fn.getBody().getOps<ClusterSumOp>().empty()) {
        fn.emitError() << "kernel @" << fn.getSymName()
                       << ": cluster_sum in a warp-specialized kernel (its "
                          "producer warps would not reach the cluster barrier)";
        gpuModule.erase();
        return failure();
      }
      gpuFunc->setAttr(NVVM::NVVMDialect::getClusterDimAttrName(),
                       b.getDenseI32ArrayAttr(
                           {static_cast<int32_t>(cluster[0]),
                            static_cast<int32_t>(cluster[1]),
                            static_cast<int32_t>(cluster[2])}));
    }

    Block &entry = gpuFunc.getBody().front();
    b.setInsertionPointToStart(&entry);
    if (gpuTarget.hasGridDependencyControl) {
      // Programmatic dependent launch: the runtime may start this grid while
      // the one before it in the stream drains. Without the waits that
      // hyla-tile-grid-dependency places, wait at the start.
      bool placed = false;
      fn.walk([&](WaitPriorGridOp) { placed = true; });
      if (!placed)
        emitWaitPriorGrid(b, loc);
      gpuFunc->setAttr(kProgrammaticLaunchAttr, b.getUnitAttr());
    }
    st.gridDependency = gpuTarget.hasGridDependencyControl;
    Emitter e(b, loc, st);
    st.tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    st.tidI32 = e.toI32(st.tid);
    st.smem = LLVM::AddressOfOp::create(
        b, loc, LLVM::LLVMPointerType::get(ctx, kSharedSpace), "__hyla_shared");
    IRMapping mapping;
    unsigned p = 0;
    for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes())) {
      auto mt = cast<MemRefType>(t);
      MemrefArg arg;
      arg.ptr = entry.getArgument(p++);
      arg.elementType = mt.getElementType();
      for (int64_t d = 0; d < mt.getRank(); ++d) {
        Value size = mt.isDynamicDim(d)
                         ? arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                      entry.getArgument(p++))
                               .getResult()
                         : e.idx(mt.getDimSize(d));
        arg.dims.push_back(size);
        arg.dimsI32.push_back(e.toI32(size));
      }
      arg.stridesI64.resize(mt.getRank());
      Value stride = e.i64(1);
      for (int64_t d = mt.getRank() - 1; d >= 0; --d) {
        arg.stridesI64[d] = stride;
        stride = e.mul(stride, arith::IndexCastOp::create(
                                   b, loc, b.getI64Type(), arg.dims[d]));
      }
      if (boxes->count(i))
        arg.tensorMap = entry.getArgument(p++);
      SmallVector<Value> parts = {arg.ptr};
      auto cast = UnrealizedConversionCastOp::create(b, loc, t, parts);
      mapping.map(fn.getArgument(i), cast.getResult(0));
      st.memrefs[cast.getResult(0)] = arg;
    }
    // A warp-specialized kernel splits where its `hyla_tile.produce` is:
    // the producer warpgroup gives up registers and one of its threads runs
    // the region; the consumers take registers and run the rest.
    scf::IfOp split;
    for (Operation &op : fn.getBody().front()) {
      if (isa<func::ReturnOp>(op)) {
        if (split)
          b.setInsertionPointAfter(split);
        gpu::ReturnOp::create(b, loc);
        continue;
      }
      auto produce = dyn_cast<ProduceOp>(op);
      if (!produce) {
        Operation *copy = b.clone(op, mapping);
        if (!split)
          copy->walk([&](Operation *nested) {
            st.everyThreadOps.insert(nested);
          });
        continue;
      }
      Location ploc = produce.getLoc();
      // The consumers' setmaxnreg.inc must not lower their count: ptxas
      // may give the kernel no more than they ask for.
      gpuFunc->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(),
                       b.getI32IntegerAttr(static_cast<int32_t>(
                           produce.getConsumerRegisters())));
      split = scf::IfOp::create(
          b, ploc,
          e.cmp(arith::CmpIPredicate::uge, st.tidI32, e.i32(st.numThreads)),
          /*withElseRegion=*/true);
      b.setInsertionPointToStart(split.thenBlock());
      NVVM::SetMaxRegisterOp::create(
          b, ploc, static_cast<int32_t>(produce.getRegisters()),
          NVVM::SetMaxRegisterAction::decrease);
      auto solo = scf::IfOp::create(
          b, ploc,
          e.cmp(arith::CmpIPredicate::eq, st.tidI32, e.i32(st.numThreads)),
          /*withElseRegion=*/false);
      b.setInsertionPointToStart(solo.thenBlock());
      for (Operation &inner : produce.getBody().front())
        b.clone(inner, mapping);
      solo.thenBlock()->walk([&](Operation *nested) {
        st.soloOps.insert(nested);
      });
      b.setInsertionPointToStart(split.elseBlock());
      NVVM::SetMaxRegisterOp::create(
          b, ploc, static_cast<int32_t>(produce.getConsumerRegisters()),
          NVVM::SetMaxRegisterAction::increase);
    }

    // Reject what the tensor cores cannot run before converting anything,
    // so the error points at the op.
    WalkResult unsupported = fn.walk([](DotOp dot) {
      auto [m, n, k] = DotShape::of(dot);
      int64_t kStep = dot.getA().getType().getElementType().isF32() ? 8 : 16;
      if (m % 16 == 0 && n % 8 == 0 && k % kStep == 0)
        return WalkResult::advance();
      dot.emitOpError() << "needs M % 16 == 0, N % 8 == 0 and K % " << kStep
                        << " == 0 for mma.sync, got M=" << m << " N=" << n
                        << " K=" << k;
      return WalkResult::interrupt();
    });
    // `#hyla_tile.mma` tiles exist between a dot, its loop and the layout
    // conversions only (hyla-tile-mma-accumulators makes no others).
    if (!unsupported.wasInterrupted())
      unsupported = fn.walk([&](Operation *op) {
        // `#hyla_tile.shared` tiles only travel from async_load through
        // loops and ifs into a wgmma dot (hyla-tile-pipeline-operands makes
        // no more).
        bool shared = llvm::any_of(op->getOperandTypes(), isSharedTile) ||
                      llvm::any_of(op->getResultTypes(), isSharedTile);
        auto dot = dyn_cast<DotOp>(op);
        if (shared &&
            !isa<AsyncLoadOp, RingBufferOp, scf::ForOp, scf::IfOp,
                 scf::YieldOp>(op) &&
            !(dot && isWarpgroupTile(dot.getType()))) {
          op->emitOpError("cannot take a #hyla_tile.shared tile on the GPU: "
                          "only async_load, ring_buffer, scf.for, scf.if, "
                          "scf.yield and a dot into #hyla_tile.mma<warpgroup> "
                          "can");
          return WalkResult::interrupt();
        }
        bool mma = llvm::any_of(op->getOperandTypes(), isMmaTile) ||
                   llvm::any_of(op->getResultTypes(), isMmaTile);
        if (!mma)
          return WalkResult::advance();
        // Elementwise ops compute on the fragment values in place; loads,
        // stores, iota and broadcasts address them by fragment coordinates.
        bool elementwise =
            isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) &&
            (isa<arith::ConstantOp>(op) ||
             op->hasTrait<OpTrait::Elementwise>());
        auto broadcast = dyn_cast<BroadcastOp>(op);
        auto reduce = dyn_cast<ReduceOp>(op);
        bool rowReduce =
            reduce && reduce.getAxis() == 1 &&
            reduce.getInput().getType().getElementType().isF32() &&
            isMmaTile(reduce.getInput().getType()) &&
            (!isFragmentRows(reduce.getType()) ||
             isWarpgroupTile(reduce.getInput().getType())) &&
            fragmentGeometry(reduce.getInput().getType(), st.warps()).stripsN ==
                1;
        bool rowsOnly = llvm::all_of(
            llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes()),
            [](Type t) { return !isMmaTile(t) || isFragmentRows(t); });
        // Fragment rows come from row reductions and go into broadcasts
        // over fragments of the same rows, elementwise ops, loops and
        // conversions.
        bool rowsBroadcast = broadcast &&
                             isFragmentRows(broadcast.getInput().getType()) &&
                             isWarpgroupTile(broadcast.getType()) &&
                             broadcast.getDims()[0] == 0;
        if (rowsOnly && !elementwise && !rowReduce && !rowsBroadcast &&
            !isa<ConvertLayoutOp, scf::ForOp, scf::IfOp, scf::YieldOp>(op)) {
          op->emitOpError("cannot take #hyla_tile.mma<warpgroup> fragment "
                          "rows (a 1-D tile) on the GPU: only row reductions "
                          "of wgmma fragments, broadcasts into them, "
                          "elementwise arith and math ops, scf.for, scf.if, "
                          "scf.yield and convert_layout can");
          return WalkResult::interrupt();
        }
        if (!elementwise &&
            !isa<DotOp, DotWaitOp, ConvertLayoutOp, scf::ForOp, scf::IfOp,
                 scf::YieldOp, LoadOp, StoreOp, IotaOp, tensor::SplatOp>(op) &&
            !(broadcast && !isMmaTile(broadcast.getInput().getType())) &&
            !rowReduce && !rowsBroadcast) {
          op->emitOpError("cannot take a #hyla_tile.mma tile on the GPU: only "
                          "dot, elementwise arith and math ops, load, store, "
                          "iota, splat, broadcast into fragments, f32 row "
                          "reductions of fragments whose rows lie in one "
                          "warp, scf.for, scf.if, scf.yield and "
                          "convert_layout can");
          return WalkResult::interrupt();
        }
        if (auto dot = dyn_cast<DotOp>(op); dot && isWarpgroupTile(dot.getType())) {
          if (!st.hasWgmma) {
            dot.emitOpError() << "has a #hyla_tile.mma<warpgroup> result, but "
                              << gpuTarget.id << " has no wgmma";
            return WalkResult::interrupt();
          }
          bool aCopied = isSharedTile(dot.getA().getType());
          bool bCopied = isSharedTile(dot.getB().getType());
          if (!fitsWgmmaOperands(dot, st.warps(), aCopied, bCopied)) {
            DotShape s = DotShape::of(dot);
            dot.emitOpError()
                << "cannot run on wgmma: needs bf16/f16 (K % 64 == 0) or f32 "
                   "(K % 32 == 0) operands, "
                << (aCopied || bCopied
                        ? "those in shared memory contiguous along k (A not "
                          "transpose_a, B transpose_b), "
                        : "")
                << "and M x N fitting whole warpgroups; got M=" << s.m
                << " N=" << s.n << " K=" << s.k << " with " << st.warps()
                << " warps";
            return WalkResult::interrupt();
          }
        }
        for (Type t : llvm::concat<Type>(op->getOperandTypes(),
                                         op->getResultTypes())) {
          if (!isMmaTile(t))
            continue;
          auto tt = cast<RankedTensorType>(t);
          if (isFragmentRows(tt)) {
            if (fitsFragmentRows(tt.getDimSize(0), st.warps()))
              continue;
            op->emitOpError()
                << "fragment rows " << t << " cannot be held by "
                << st.warps() << " warps (needs whole warpgroups sharing "
                << "its 64-row blocks evenly)";
            return WalkResult::interrupt();
          }
          if (tt.getRank() == 2 && isWarpgroupTile(tt) &&
              fragmentGeometry(tt, st.warps()).fitsWarpgroups(st.warps()))
            continue;
          if (tt.getRank() == 2 && isWarpgroupTile(tt)) {
            op->emitOpError()
                << "tile " << t << " cannot be held as wgmma fragments by "
                << st.warps() << " warps (needs whole warpgroups sharing its "
                   "64-row blocks evenly, N % 8 == 0 and N <= 256)";
            return WalkResult::interrupt();
          }
          if (tt.getRank() == 2 && fragmentGeometry(tt, st.warps()).fitsFragments(st.warps()))
            continue;
          op->emitOpError() << "tile " << t << " cannot be held as mma "
                            << "fragments by " << st.warps()
                            << " warps (needs M % 16 == 0, N % 8 == 0 and "
                               "its 16-row mma strips split evenly over the "
                               "warps)";
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
    if (unsupported.wasInterrupted()) {
      gpuModule.erase();
      return failure();
    }

    TileTypeConverter converter(st);
    ConversionTarget target(*ctx);
    target.addLegalDialect<gpu::GPUDialect, LLVM::LLVMDialect,
                           NVVM::NVVMDialect, vector::VectorDialect>();
    target.addIllegalDialect<TileDialect, tensor::TensorDialect>();
    target.addIllegalOp<memref::DimOp, memref::LoadOp>();
    auto noTiles = [](Operation *op) {
      auto isTile = [](Type t) { return isa<RankedTensorType>(t); };
      return llvm::none_of(op->getOperandTypes(), isTile) &&
             llvm::none_of(op->getResultTypes(), isTile);
    };
    target.addDynamicallyLegalDialect<arith::ArithDialect, math::MathDialect>(
        noTiles);
    target.addLegalOp<UnrealizedConversionCastOp>();
    RewritePatternSet patterns(ctx);
    patterns.add<LoadLowering, StoreLowering, PrefetchLowering, MemrefDimLowering,
                 MemrefLoadLowering, ProgramIdLowering, SplatLowering,
                 IotaLowering, ReshapeLowering, BroadcastLowering,
                 ExtractLowering, ReduceLowering, CumsumLowering,
                 UnitLowerInverseLowering, DotLowering, ConvertLayoutLowering,
                 AsyncLoadLowering, AsyncWaitLowering, DotWaitLowering,
                 InitBarriersLowering, BarrierWaitLowering,
                 BarrierArriveLowering, RingBufferLowering,
                 InvalBarriersLowering, WaitPriorGridLowering,
                 ClusterRankLowering, ClusterSumLowering>(converter, ctx, st);
    patterns.add<ElementwiseLowering>(converter, ctx);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    {
      Operation *lastInit = nullptr, *lastInval = nullptr;
      gpuFunc.walk([&](Operation *op) {
        if (isa<InitBarriersOp>(op))
          lastInit = op;
        if (isa<InvalBarriersOp>(op) && op->getParentOp() == gpuFunc)
          lastInval = op;
      });
      Operation *initAt =
          lastInit ? gpuFunc.getBody().front().findAncestorOpInBlock(*lastInit)
                   : nullptr;
      if (lastInval && (!initAt || initAt->isBeforeInBlock(lastInval)))
        st.ringsEnd = lastInval;
    }
    if (failed(applyFullConversion(gpuFunc, target, std::move(patterns))))
      return gpuFunc.emitError() << "could not lower kernel "
                                 << fn.getSymName() << " to the GPU";

    // The memref casts only carried kernel arguments to the patterns.
    gpuFunc.walk([](UnrealizedConversionCastOp cast) {
      if (cast->use_empty() && isa<MemRefType>(cast.getType(0)))
        cast.erase();
    });
    if (st.sharedBytes > gpuTarget.maxDynamicSharedBytes)
      return fn.emitError() << "kernel " << fn.getSymName() << " needs "
                            << st.sharedBytes << " bytes of shared memory; "
                            << gpuTarget.id << " allows "
                            << gpuTarget.maxDynamicSharedBytes;
    gpuFunc->setAttr(kSharedMemoryBytesAttr,
                     b.getI64IntegerAttr(st.sharedBytes));
    gpuFunc->setAttr(kBlockThreadsAttr, b.getI64IntegerAttr(st.launchThreads));
    return success();
  }
};

} // namespace
