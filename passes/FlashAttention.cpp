//===- FlashAttention.cpp - attention as an online-softmax tile kernel ----===//
//
// Rewrites hyla.attention into one tile kernel per (query block, head,
// batch). For each block of keys the kernel computes the scores, updates
// the running row max m, rescales the running sum l and the accumulator by
// exp(m_old - m_new), and adds exp(s - m_new) V. With causal masking, key
// blocks past the query block are never visited.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/bit.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_FLASHATTENTION
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

struct FlashParams {
  int64_t blockM, blockN, numWarps, minProgramsPerSM;
  int64_t heads, kvHeads, headDim, valueDim;
  float scale;
  bool causal;
  bool varlen;         // packed sequences (cu_seqlens)
  bool overlapSoftmax; // block j's softmax after block j - 1's P V product
  Type elementType;
};

std::string kernelName(const FlashParams &p) {
  return llvm::formatv("flash_attn_{0}_hq{1}_hkv{2}_d{3}_dv{4}_bm{5}_bn{6}_"
                       "w{7}{8}{11}_s{9:x8}{10}",
                       typeTag(p.elementType), p.heads, p.kvHeads, p.headDim,
                       p.valueDim, p.blockM, p.blockN, p.numWarps,
                       p.minProgramsPerSM > 0
                           ? "_m" + std::to_string(p.minProgramsPerSM)
                           : std::string(),
                       llvm::bit_cast<uint32_t>(p.scale),
                       p.causal ? (p.varlen ? "_causal_varlen" : "_causal")
                                : (p.varlen ? "_varlen" : ""),
                       p.overlapSoftmax ? "_ov" : "")
      .str();
}

/// The online softmax of one block of masked unscaled scores `s` [M, N]
/// (q.k, -inf where masked) against the running row max (of unscaled
/// scores) and row sum: the new max and sum, the probabilities
/// exp(scale (s - max)) = 2^(s c - max c), c = scale log2(e) (one fma and
/// one ex2 a score), and alpha, the factor that rescales what was summed
/// under the old max. Column 0 of the first block must be valid for every
/// row, so the running max is finite after it and 2^(-inf) = 0 rescales
/// the empty initial state.
struct BlockSoftmax {
  Value newMax, newSum, prob, alpha;
};
BlockSoftmax softmaxOfBlock(TileBuilder &t, Value s, Value rowMax,
                            Value rowSum, double scale) {
  using tile::ReduceKind;
  auto sT = cast<RankedTensorType>(s.getType());
  double c = scale * M_LOG2E;
  Value newMax = t.maximum(rowMax, t.reduce(ReduceKind::Max, s, 1));
  Value shift = t.broadcast(t.mul(newMax, -c), {0}, sT.getShape());
  Value prob = t.exp2(t.fma(s, t.constant(c, sT.getShape()), shift));
  Value alpha = t.exp2(t.mul(t.sub(rowMax, newMax), c));
  Value newSum =
      t.add(t.mul(rowSum, alpha), t.reduce(ReduceKind::Sum, prob, 1));
  return {newMax, newSum, prob, alpha};
}

/// Rescales the accumulator [M, DV] by alpha.
Value rescaleRows(TileBuilder &t, Value acc, Value alpha) {
  auto accT = cast<RankedTensorType>(acc.getType());
  return t.mul(acc, t.broadcast(alpha, {0}, accT.getShape()));
}

/// One step of the online softmax: the block's softmax, then the
/// accumulator rescaled and the probabilities, rounded to `elementType`
/// as FlashAttention does, times the values `v` [N, DV] added.
std::tuple<Value, Value, Value> onlineSoftmaxStep(TileBuilder &t, Value s,
                                                  Value v, Value rowMax,
                                                  Value rowSum, Value acc,
                                                  Type elementType,
                                                  double scale) {
  BlockSoftmax sm = softmaxOfBlock(t, s, rowMax, rowSum, scale);
  Value scaled = rescaleRows(t, acc, sm.alpha);
  Value newAcc = t.dot(t.castTo(sm.prob, elementType), v, scaled);
  return {sm.newMax, sm.newSum, newAcc};
}

/// Arguments: q, k, v, [cu_seqlens], o. A program takes `blockM` queries
/// of one head: of one batch row, or with packed sequences (program id 0
/// a block slot, locatePackedBlock) of one sequence, whose keys are its
/// own tokens [begin, end).
void buildFlashKernel(TileBuilder &tb, const FlashParams &p, ValueRange args) {
  const int64_t BM = p.blockM, BN = p.blockN, D = p.headDim, DV = p.valueDim;
  OpBuilder &ob = tb.builder();
  Location oloc = tb.getLoc();
  Value qM = args[0], kM = args[1], vM = args[2], oM = args.back();
  Value head = tb.programId(1);
  int64_t group = p.heads / p.kvHeads;
  Value kvHead = group == 1 ? head : tb.divi(head, group);
  Value c0 = tb.index(0);
  // The block's first query m0, its sequence's keys [seqBegin, seqEnd).
  Value batch, m0, seqBegin, seqEnd;
  if (p.varlen) {
    PackedBlock blk = locatePackedBlock(tb, args[3], tb.programId(0), BM);
    batch = c0;
    m0 = blk.t0;
    seqBegin = blk.begin;
    // A slot past the last block has nothing to do: an empty sequence.
    seqEnd = arith::SelectOp::create(ob, oloc, blk.valid, blk.end, blk.begin);
  } else {
    batch = tb.programId(2);
    m0 = tb.muli(tb.programId(0), BM);
    seqBegin = c0;
    seqEnd = tb.dim(kM, 1);
  }

  Value q = tb.load(qM, {batch, m0, head, c0}, {1, 3}, {BM, D});
  // Causal: the last query of this block sees keys up to m0 + BM - 1.
  Value keyEnd =
      p.causal ? tb.mini(seqEnd, tb.addi(m0, tb.index(BM))) : seqEnd;
  // Token positions from the sequence's start (packed only).
  auto fromBegin = [&](Value x) -> Value {
    return p.varlen ? arith::SubIOp::create(ob, oloc, x, seqBegin) : x;
  };
  if (p.varlen)
    keyEnd = arith::MaxUIOp::create(ob, oloc, keyEnd, seqBegin);
  Value numBlocks = tb.ceilDiv(fromBegin(keyEnd), BN);
  // Blocks before this one need no mask: whole (inside the keys) and, when
  // causal, before the block's first query.
  Value fullBlocks =
      arith::DivUIOp::create(ob, oloc, fromBegin(seqEnd), tb.index(BN));
  if (p.causal)
    fullBlocks = tb.mini(fullBlocks, arith::DivUIOp::create(
                                         ob, oloc, fromBegin(m0),
                                         tb.index(BN)));

  // Scores of the key block at n0, masked when the block is one of those
  // from `fullBlocks` on: keys at or past `keyLimit` and, when causal,
  // after the query are -inf.
  auto maskScores = [&](OpBuilder &nb, Location loc, Value s, Value block,
                        Value n0, Value keyLimit) -> Value {
    auto masked = scf::IfOp::create(
        nb, loc,
        arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::uge, block,
                              fullBlocks),
        [&](OpBuilder &mb, Location ml) {
          TileBuilder m(mb, ml);
          Value keyIdx = arith::AddIOp::create(
              mb, ml, m.iota({BM, BN}, 1), m.splatIndexAsI32(n0, {BM, BN}));
          Value valid = m.cmpi(arith::CmpIPredicate::slt, keyIdx,
                               m.splatIndexAsI32(keyLimit, {BM, BN}));
          if (p.causal) {
            Value queryIdx =
                arith::AddIOp::create(mb, ml, m.iota({BM, BN}, 0),
                                      m.splatIndexAsI32(m0, {BM, BN}));
            valid = m.andi(valid, m.cmpi(arith::CmpIPredicate::sle, keyIdx,
                                         queryIdx));
          }
          scf::YieldOp::create(
              mb, ml, m.select(valid, s, m.constant(-INFINITY, {BM, BN})));
        },
        [&](OpBuilder &mb, Location ml) { scf::YieldOp::create(mb, ml, s); });
    return masked.getResult(0);
  };
  auto firstKey = [&](TileBuilder &t, Value block) -> Value {
    Value n0 = t.muli(block, BN);
    return p.varlen ? t.addi(seqBegin, n0) : n0;
  };

  Value rowMax0 = tb.constant(-INFINITY, {BM});
  Value rowSum0 = tb.constant(0.0, {BM});
  Value acc0 = tb.constant(0.0, {BM, DV});
  OpBuilder &b = tb.builder();
  scf::ForOp loop;
  if (!p.overlapSoftmax) {
    loop = scf::ForOp::create(
        b, tb.getLoc(), c0, numBlocks, tb.index(1),
        ValueRange{rowMax0, rowSum0, acc0},
        [&](OpBuilder &nb, Location loc, Value j, ValueRange it) {
          TileBuilder t(nb, loc);
          Value rowMax = it[0], rowSum = it[1], acc = it[2];
          Value n0 = firstKey(t, j);
          Value k = t.load(kM, {batch, n0, kvHead, c0}, {1, 3}, {BN, D});
          Value v = t.load(vM, {batch, n0, kvHead, c0}, {1, 3}, {BN, DV});
          Value s = t.dot(q, k, t.constant(0.0, {BM, BN}), false, true);
          Value masked = maskScores(nb, loc, s, j, n0, seqEnd);
          auto [newMax, newSum, newAcc] =
              onlineSoftmaxStep(t, masked, v, rowMax, rowSum, acc,
                                p.elementType, p.scale);
          scf::YieldOp::create(nb, loc, ValueRange{newMax, newSum, newAcc});
        });
  } else {
    // Step j computes block j's scores, then adds block j - 1's P V (P
    // carried from step j - 1), then runs block j's softmax: with the
    // products asynchronous (hyla-tile-async-dots) the softmax runs while
    // the tensor cores compute P V. Steps 0 .. n: step 0 adds 0 V_0 and
    // step n recomputes block n - 1's scores, masked away (its softmax
    // changes nothing: alpha = 1, no probability mass).
    Value steps = arith::SelectOp::create(
        b, tb.getLoc(),
        arith::CmpIOp::create(b, tb.getLoc(), arith::CmpIPredicate::eq,
                              numBlocks, c0),
        c0, tb.addi(numBlocks, tb.index(1)));
    Value lastBlock = arith::SubIOp::create(
        b, tb.getLoc(),
        arith::MaxUIOp::create(b, tb.getLoc(), numBlocks, tb.index(1)),
        tb.index(1));
    Value p0 = tb.constant(0.0, {BM, BN}, p.elementType);
    loop = scf::ForOp::create(
        b, tb.getLoc(), c0, steps, tb.index(1),
        ValueRange{rowMax0, rowSum0, acc0, p0},
        [&](OpBuilder &nb, Location loc, Value j, ValueRange it) {
          TileBuilder t(nb, loc);
          Value rowMax = it[0], rowSum = it[1], acc = it[2], prev = it[3];
          Value scoreBlock = t.mini(j, lastBlock);
          Value valueBlock = arith::SubIOp::create(
              nb, loc, arith::MaxUIOp::create(nb, loc, j, t.index(1)),
              t.index(1));
          Value nk = firstKey(t, scoreBlock), nv = firstKey(t, valueBlock);
          Value k = t.load(kM, {batch, nk, kvHead, c0}, {1, 3}, {BN, D});
          Value v = t.load(vM, {batch, nv, kvHead, c0}, {1, 3}, {BN, DV});
          Value s = t.dot(q, k, t.constant(0.0, {BM, BN}), false, true);
          Value withPrev = t.dot(prev, v, acc);
          // The last step masks every key.
          Value isLast =
              arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::eq, j,
                                    numBlocks);
          Value keyLimit =
              arith::SelectOp::create(nb, loc, isLast, c0, seqEnd);
          // (j is the score block but in the last step, which masks.)
          Value masked = maskScores(nb, loc, s, j, nk, keyLimit);
          BlockSoftmax sm = softmaxOfBlock(t, masked, rowMax, rowSum, p.scale);
          scf::YieldOp::create(
              nb, loc,
              ValueRange{sm.newMax, sm.newSum,
                         rescaleRows(t, withPrev, sm.alpha),
                         t.castTo(sm.prob, p.elementType)});
        });
  }
  Value out = tb.div(loop.getResult(2),
                     tb.broadcast(loop.getResult(1), {0}, {BM, DV}));
  // Packed: rows past the sequence's end belong to the next one.
  SmallVector<Value> bounds;
  if (p.varlen)
    bounds = {tb.index(1), seqEnd, tb.index(p.heads), tb.index(DV)};
  tb.store(tb.castTo(out, p.elementType), oM, {batch, m0, head, c0}, {1, 3},
           bounds);
}

struct FlashAttentionPattern : OpRewritePattern<AttentionOp> {
  FlashAttentionPattern(MLIRContext *ctx, int64_t blockM, int64_t blockN,
                        int64_t numWarps, int64_t minProgramsPerSM,
                        bool overlapSoftmax)
      : OpRewritePattern(ctx), blockM(blockM), blockN(blockN),
        numWarps(numWarps), minProgramsPerSM(minProgramsPerSM),
        overlapSoftmax(overlapSoftmax) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType qT = op.getQ().getType(), kT = op.getK().getType(),
                     vT = op.getV().getType();
    FlashParams p;
    p.blockM = blockM;
    p.blockN = blockN;
    p.numWarps = numWarps;
    p.minProgramsPerSM = minProgramsPerSM;
    p.heads = qT.getDimSize(2);
    p.kvHeads = kT.getDimSize(2);
    p.headDim = qT.getDimSize(3);
    p.valueDim = vT.getDimSize(3);
    p.scale = static_cast<float>(op.getScale().convertToDouble());
    p.causal = op.getCausal();
    p.varlen = static_cast<bool>(op.getCuSeqlens());
    p.overlapSoftmax = overlapSoftmax;
    p.elementType = qT.getElementType();

    Location loc = op.getLoc();
    auto module = op->getParentOfType<ModuleOp>();
    SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV()};
    if (p.varlen)
      inputs.push_back(op.getCuSeqlens());
    SmallVector<Type> argTypes = memrefsOf(ValueRange(inputs).getTypes());
    argTypes.push_back(memrefFor(op.getType()));
    func::FuncOp kernel = getOrCreateKernel(
        rewriter, module, kernelName(p), argTypes, p.numWarps,
        [&](TileBuilder &tb, ValueRange args) { buildFlashKernel(tb, p, args); });
    if (p.minProgramsPerSM > 0)
      kernel->setAttr(tile::TileDialect::kMinProgramsPerSMAttrName,
                      rewriter.getI32IntegerAttr(p.minProgramsPerSM));
    if (p.overlapSoftmax)
      kernel->setAttr(tile::TileDialect::kOverlapProductsAttrName,
                      rewriter.getUnitAttr());

    auto dimOf = [&](Value v, int64_t d) -> Value {
      return tensor::DimOp::create(rewriter, loc, v, d);
    };
    Value batch = dimOf(op.getQ(), 0), queries = dimOf(op.getQ(), 1);
    // Causal attention needs as many keys as queries.
    Value keys = p.causal ? queries : dimOf(op.getK(), 1);
    SmallVector<SmallVector<Value>> inDims = {
        dynamicSizes(qT, {batch, queries, {}, {}}), dynamicSizes(kT, {batch, keys, {}, {}}),
        dynamicSizes(vT, {batch, keys, {}, {}})};
    SmallVector<SmallVector<Value>> outDims = {
        dynamicSizes(op.getType(), {batch, queries, {}, {}})};
    Value blocks;
    if (p.varlen) {
      // Each of the N sequences starts a block: at most ceil(T / BM) + N.
      auto cuT = cast<RankedTensorType>(op.getCuSeqlens().getType());
      Value cuSize = dimOf(op.getCuSeqlens(), 0);
      inDims.push_back(dynamicSizes(cuT, {cuSize}));
      blocks = packedBlockCount(rewriter, loc, queries, cuSize, p.blockM);
    } else {
      blocks = arith::CeilDivUIOp::create(
          rewriter, loc, queries,
          arith::ConstantIndexOp::create(rewriter, loc, p.blockM));
    }
    SmallVector<Value> grid = {
        blocks, arith::ConstantIndexOp::create(rewriter, loc, p.heads), batch};
    DispatchOp dispatch = createDispatch(rewriter, loc, kernel, grid, inputs,
                                         inDims, op->getResultTypes(), outDims);
    rewriter.replaceOp(op, dispatch.getResults());
    return success();
  }

  int64_t blockM, blockN, numWarps, minProgramsPerSM;
  bool overlapSoftmax;
};

//===----------------------------------------------------------------------===//
// Decode: attention of a few new tokens over a per-slot KV cache
//===----------------------------------------------------------------------===//

/// Query rows a decode program computes: the query heads of one KV head,
/// padded to the mma.sync tile height (the products are tiny next to the
/// cache reads that bound decode).
constexpr int64_t kDecodeRows = 16;

struct DecodeParams {
  int64_t heads, kvHeads, headDim, valueDim, blockN, splits, numWarps;
  int64_t minSplitKeys; // a split's fewest keys (a multiple of blockN)
  float scale;
  Type elementType, cacheType;
  int64_t group() const { return heads / kvHeads; }
  int64_t headBlocks() const { return (group() + kDecodeRows - 1) / kDecodeRows; }
};

/// Whether sequence `batch`'s slot and length are valid: slot in
/// [0, slots), 0 <= length <= L - T. Returns (ok, slot, length).
std::tuple<Value, Value, Value> cacheEntry(TileBuilder &tb, Value slotsM,
                                           Value lengthsM, Value cacheM,
                                           Value batch, Value tokens) {
  OpBuilder &b = tb.builder();
  Location loc = tb.getLoc();
  auto idx = [&](Value v) {
    return arith::IndexCastOp::create(
        b, loc, b.getIndexType(), memref::LoadOp::create(b, loc, v, batch));
  };
  Value slot = idx(slotsM), length = idx(lengthsM);
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  };
  using P = arith::CmpIPredicate;
  Value ok = arith::AndIOp::create(
      b, loc, cmp(P::sge, slot, tb.index(0)),
      cmp(P::slt, slot, tb.dim(cacheM, 0)));
  ok = arith::AndIOp::create(b, loc, ok, cmp(P::sge, length, tb.index(0)));
  ok = arith::AndIOp::create(
      b, loc, ok,
      cmp(P::sle, tb.addi(length, tokens), tb.dim(cacheM, 1)));
  return {ok, slot, length};
}

void ifThenElse(TileBuilder &tb, Value cond,
                function_ref<void(TileBuilder &)> thenBody,
                function_ref<void(TileBuilder &)> elseBody) {
  scf::IfOp::create(
      tb.builder(), tb.getLoc(), cond,
      [&](OpBuilder &nb, Location l) {
        TileBuilder x(nb, l);
        thenBody(x);
        scf::YieldOp::create(nb, l);
      },
      [&](OpBuilder &nb, Location l) {
        TileBuilder x(nb, l);
        if (elseBody)
          elseBody(x);
        scf::YieldOp::create(nb, l);
      });
}

void forRange(TileBuilder &tb, Value lower, Value upper,
              function_ref<void(TileBuilder &, Value)> body) {
  scf::ForOp::create(tb.builder(), tb.getLoc(), lower, upper, tb.index(1),
                     ValueRange{},
                     [&](OpBuilder &nb, Location l, Value i, ValueRange) {
                       TileBuilder x(nb, l);
                       body(x, i);
                       scf::YieldOp::create(nb, l);
                     });
}

/// Writes the new tokens' keys and values into their slots' positions:
/// one program per (token, KV head, sequence).
void buildAppendKernel(TileBuilder &tb, const DecodeParams &p, ValueRange a) {
  Value kM = a[0], vM = a[1], kcM = a[4], vcM = a[5], slotsM = a[2],
        lengthsM = a[3];
  Value t = tb.programId(0), head = tb.programId(1), batch = tb.programId(2);
  // Named values, not a structured binding: the lambdas below capture them.
  Value ok, slot, length;
  std::tie(ok, slot, length) =
      cacheEntry(tb, slotsM, lengthsM, kcM, batch, tb.dim(kM, 1));
  Value c0 = tb.index(0);
  ifThenElse(
      tb, ok,
      [&](TileBuilder &x) {
        Value pos = x.addi(length, t);
        x.store(x.load(kM, {batch, t, head, c0}, {3}, {p.headDim}), kcM,
                {slot, pos, head, c0}, {3});
        x.store(x.load(vM, {batch, t, head, c0}, {3}, {p.valueDim}), vcM,
                {slot, pos, head, c0}, {3});
      },
      {});
}

/// One program per (split, KV head and block of its query heads, sequence):
/// for each new token, the online softmax over the split's share of the
/// keys that token sees, left unnormalized with its row max and sum for
/// the combine kernel. Keys [0, length + T) are cut into `splits` runs of
/// whole key blocks; a run past a token's last key leaves an empty partial
/// (max -inf, sum 0).
void buildSplitKernel(TileBuilder &tb, const DecodeParams &p, ValueRange a) {
  const int64_t R = kDecodeRows, BN = p.blockN, D = p.headDim,
                DV = p.valueDim, G = p.group(), NS = p.splits;
  Value qM = a[0], kcM = a[1], vcM = a[2], slotsM = a[3], lengthsM = a[4],
        mM = a[5], lM = a[6], oM = a[7];
  Value split = tb.programId(0), headBlock = tb.programId(1),
        batch = tb.programId(2);
  Value kvHead = tb.divi(headBlock, p.headBlocks());
  Value firstHead = tb.addi(
      tb.muli(kvHead, G),
      tb.muli(arith::RemUIOp::create(tb.builder(), tb.getLoc(), headBlock,
                                     tb.index(p.headBlocks())),
              R));
  Value headEnd = tb.muli(tb.addi(kvHead, tb.index(1)), G);
  Value c0 = tb.index(0), batches = tb.dim(qM, 0), tokens = tb.dim(qM, 1);
  Value slotCount = tb.dim(kcM, 0);
  // Named values, not a structured binding: the lambdas below capture them.
  Value ok, slot, length;
  std::tie(ok, slot, length) =
      cacheEntry(tb, slotsM, lengthsM, kcM, batch, tokens);
  SmallVector<Value> partBounds = {batches, tokens, headEnd, tb.index(NS)};
  auto storePartial = [&](TileBuilder &x, Value t, Value m, Value l,
                          Value acc) {
    if (m)
      x.store(m, mM, {batch, t, firstHead, split}, {2}, partBounds);
    if (l)
      x.store(l, lM, {batch, t, firstHead, split}, {2}, partBounds);
    if (acc)
      x.store(acc, oM, {batch, t, firstHead, split, c0}, {2, 4},
              {batches, tokens, headEnd, tb.index(NS), tb.index(DV)});
  };
  ifThenElse(
      tb, ok,
      [&](TileBuilder &x) {
        Value total = x.addi(length, tokens);
        // Whole key blocks per split, so every step but a split's last is
        // full.
        // A split takes at least minSplitKeys: at short contexts fewer
        // splits do the work (the others store empty partials at once)
        // and each streams more keys after its setup.
        Value perSplit = x.muli(x.ceilDiv(x.ceilDiv(total, NS), BN), BN);
        if (p.minSplitKeys > 0)
          perSplit = arith::MaxUIOp::create(x.builder(), x.getLoc(), perSplit,
                                            x.index(p.minSplitKeys));
        Value start = x.muli(split, perSplit);
        forRange(x, c0, tokens, [&](TileBuilder &y, Value t) {
          OpBuilder &b = y.builder();
          Location loc = y.getLoc();
          // Token t sees keys [0, length + t].
          Value seen = y.addi(y.addi(length, t), y.index(1));
          Value stop = y.mini(seen, y.addi(start, perSplit));
          stop = arith::MaxUIOp::create(b, loc, stop, start);
          Value steps = y.ceilDiv(arith::SubIOp::create(b, loc, stop, start), BN);
          Value q = y.load(qM, {batch, t, firstHead, c0}, {2, 3}, {R, D},
                           {batches, tokens, headEnd, y.index(D)});
          if (p.elementType != p.cacheType)
            q = y.castTo(q, p.cacheType);
          SmallVector<Value> keyBounds = {slotCount, stop, y.index(p.kvHeads),
                                          y.index(D)};
          SmallVector<Value> valueBounds = {slotCount, stop,
                                            y.index(p.kvHeads), y.index(DV)};
          auto loop = scf::ForOp::create(
              b, loc, c0, steps, y.index(1),
              ValueRange{y.constant(-INFINITY, {R}), y.constant(0.0, {R}),
                         y.constant(0.0, {R, DV})},
              [&](OpBuilder &nb, Location l, Value j, ValueRange it) {
                TileBuilder z(nb, l);
                Value n0 = z.addi(start, z.muli(j, BN));
                Value k = z.load(kcM, {slot, n0, kvHead, c0}, {1, 3}, {BN, D},
                                 keyBounds);
                Value v = z.load(vcM, {slot, n0, kvHead, c0}, {1, 3}, {BN, DV},
                                 valueBounds);
                Value s = z.dot(q, k, z.constant(0.0, {R, BN}), false, true);
                Value keyIdx =
                    arith::AddIOp::create(nb, l, z.iota({R, BN}, 1),
                                          z.splatIndexAsI32(n0, {R, BN}));
                Value valid = z.cmpi(arith::CmpIPredicate::slt, keyIdx,
                                     z.splatIndexAsI32(stop, {R, BN}));
                s = z.select(valid, s, z.constant(-INFINITY, {R, BN}));
                auto [m, sum, acc] = onlineSoftmaxStep(
                    z, s, v, it[0], it[1], it[2], p.cacheType, p.scale);
                scf::YieldOp::create(nb, l, ValueRange{m, sum, acc});
              });
          // The row max in log2 units (scale log2(e) m), as the combine
          // weighs the splits: 2^(m_s - M). A split with no keys (past the
          // sequence's) stores its max (-inf) and sum (0) only: the
          // combine skips its values.
          Value acc = loop.getResult(2);
          storePartial(y, t, y.mul(loop.getResult(0), p.scale * M_LOG2E),
                       loop.getResult(1), {});
          ifThenElse(
              y,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, steps,
                                    c0),
              [&](TileBuilder &z) { storePartial(z, t, {}, {}, acc); },
              [](TileBuilder &) {});
        });
      },
      [&](TileBuilder &x) {
        // A bad slot or length: NaN row maxima make every output NaN.
        forRange(x, c0, tokens, [&](TileBuilder &y, Value t) {
          storePartial(y, t, y.constant(std::nan(""), {R}), {}, {});
        });
      });
}

/// One program per (token, query head, sequence): merges the splits'
/// partials, out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s with M the
/// largest m_s (row maxima in log2 units).
void buildCombineKernel(TileBuilder &tb, const DecodeParams &p, ValueRange a) {
  using tile::ReduceKind;
  const int64_t NS = p.splits, DV = p.valueDim;
  Value mM = a[0], lM = a[1], oM = a[2], outM = a[3];
  Value t = tb.programId(0), head = tb.programId(1), batch = tb.programId(2);
  Value c0 = tb.index(0);
  Value m = tb.load(mM, {batch, t, head, c0}, {2, 3}, {1, NS});
  Value l = tb.load(lM, {batch, t, head, c0}, {2, 3}, {1, NS});
  Value top = tb.broadcast(tb.reduce(ReduceKind::Max, m, 1), {0}, {1, NS});
  Value w = tb.exp2(tb.sub(m, top));
  Value total = tb.reduce(ReduceKind::Sum, tb.mul(w, l), 1);
  Value weights = tb.div(w, tb.broadcast(total, {0}, {1, NS}));
  Value o = tb.load(oM, {batch, t, head, c0, c0}, {3, 4}, {NS, DV});
  Value wide = tb.broadcast(tb.reshape(weights, {NS}), {0}, {NS, DV});
  // Splits without keys (row max -inf) left their values unwritten: they
  // count 0, whatever the bytes hold. A NaN max (a bad slot or length)
  // still reaches the output.
  Value hasKeys = arith::CmpFOp::create(
      tb.builder(), tb.getLoc(), arith::CmpFPredicate::UNE,
      tb.broadcast(tb.reshape(m, {NS}), {0}, {NS, DV}),
      tb.constant(-INFINITY, {NS, DV}));
  Value out = tb.reduce(
      ReduceKind::Sum,
      tb.select(hasKeys, tb.mul(o, wide), tb.constant(0.0, {NS, DV})), 0);
  tb.store(tb.castTo(out, p.elementType), outM, {batch, t, head, c0}, {3});
}

/// hyla.attention_cached as three dispatches: append (the caches, in
/// place), split (flash-decoding partials) and combine.
struct AttentionCachedPattern : OpRewritePattern<AttentionCachedOp> {
  AttentionCachedPattern(MLIRContext *ctx, int64_t blockN, int64_t splits,
                         int64_t numWarps, int64_t minProgramsPerSM,
                         int64_t minSplitKeys)
      : OpRewritePattern(ctx), blockN(blockN), splits(splits),
        numWarps(numWarps), minProgramsPerSM(minProgramsPerSM),
        minSplitKeys(minSplitKeys) {}

  LogicalResult matchAndRewrite(AttentionCachedOp op,
                                PatternRewriter &rw) const override {
    RankedTensorType qT = op.getQ().getType(), kT = op.getK().getType(),
                     vT = op.getV().getType(),
                     kcT = op.getKCache().getType();
    DecodeParams p;
    p.heads = qT.getDimSize(2);
    p.kvHeads = kT.getDimSize(2);
    p.headDim = qT.getDimSize(3);
    p.valueDim = vT.getDimSize(3);
    p.blockN = blockN;
    p.splits = splits;
    // Whole key blocks.
    p.minSplitKeys = (minSplitKeys + blockN - 1) / blockN * blockN;
    p.numWarps = numWarps;
    p.scale = static_cast<float>(op.getScale().convertToDouble());
    p.elementType = qT.getElementType();
    p.cacheType = kcT.getElementType();

    Location loc = op.getLoc();
    auto module = op->getParentOfType<ModuleOp>();
    auto dimOf = [&](Value v, int64_t d) -> Value {
      return tensor::DimOp::create(rw, loc, v, d);
    };
    auto cst = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    Value batch = dimOf(op.getQ(), 0), tokens = dimOf(op.getQ(), 1);
    std::string tag = llvm::formatv("{0}_{1}_hq{2}_hkv{3}_d{4}_dv{5}",
                                    typeTag(p.elementType),
                                    typeTag(p.cacheType), p.heads, p.kvHeads,
                                    p.headDim, p.valueDim);

    // Append.
    SmallVector<Value> appendIn = {op.getK(), op.getV(), op.getSlots(),
                                   op.getLengths(), op.getKCache(),
                                   op.getVCache()};
    SmallVector<Type> appendArgs = memrefsOf(ValueRange(appendIn).getTypes());
    llvm::append_range(appendArgs, memrefsOf({kcT, op.getVCache().getType()}));
    func::FuncOp append = getOrCreateKernel(
        rw, module, "attn_cache_append_" + tag, appendArgs, /*numWarps=*/1,
        [&](TileBuilder &tb, ValueRange a) {
          buildAppendKernel(tb, p, {a[0], a[1], a[2], a[3], a[6], a[7]});
        });
    SmallVector<SmallVector<Value>> appendDims;
    for (Value v : appendIn)
      appendDims.push_back(dynamicDims(rw, loc, v));
    DispatchOp appended = createDispatch(
        rw, loc, append, {tokens, cst(p.kvHeads), batch}, appendIn, appendDims,
        {kcT, op.getVCache().getType()},
        {dynamicDims(rw, loc, op.getKCache()),
         dynamicDims(rw, loc, op.getVCache())},
        {4, 5});
    Value kCache = appended.getResult(0), vCache = appended.getResult(1);

    // Split partials.
    Type f32 = rw.getF32Type();
    auto partType = [&](ArrayRef<int64_t> tail) {
      SmallVector<int64_t> shape = {qT.getDimSize(0), qT.getDimSize(1),
                                    p.heads};
      llvm::append_range(shape, tail);
      return RankedTensorType::get(shape, f32);
    };
    RankedTensorType mT = partType({p.splits}),
                     oT = partType({p.splits, p.valueDim});
    SmallVector<Value> splitIn = {op.getQ(), kCache, vCache, op.getSlots(),
                                  op.getLengths()};
    SmallVector<Type> splitArgs = memrefsOf(ValueRange(splitIn).getTypes());
    llvm::append_range(splitArgs, memrefsOf({mT, mT, oT}));
    func::FuncOp splitKernel = getOrCreateKernel(
        rw, module,
        llvm::formatv("attn_decode_split_{0}_bn{1}_ns{2}{6}_w{3}{5}_s{4}", tag,
                      p.blockN, p.splits, p.numWarps, floatTag(p.scale),
                      minProgramsPerSM > 0
                          ? "_m" + std::to_string(minProgramsPerSM)
                          : std::string(),
                      p.minSplitKeys > 0
                          ? "_k" + std::to_string(p.minSplitKeys)
                          : std::string())
            .str(),
        splitArgs, p.numWarps,
        [&](TileBuilder &tb, ValueRange a) { buildSplitKernel(tb, p, a); });
    // Decode streams the cache: more programs in flight on an SM hide more
    // of its latency, but capping registers (ptxas otherwise takes all 255
    // to hoist loads, leaving room for two programs) spills.
    if (minProgramsPerSM > 0)
      splitKernel->setAttr(tile::TileDialect::kMinProgramsPerSMAttrName,
                           rw.getI32IntegerAttr(minProgramsPerSM));
    SmallVector<SmallVector<Value>> splitDims;
    for (Value v : splitIn)
      splitDims.push_back(dynamicDims(rw, loc, v));
    SmallVector<Value> partDims = dynamicSizes(mT, {batch, tokens, {}, {}});
    DispatchOp partials = createDispatch(
        rw, loc, splitKernel,
        {cst(p.splits), cst(p.kvHeads * p.headBlocks()), batch}, splitIn,
        splitDims, {mT, mT, oT}, {partDims, partDims, partDims});

    // Combine.
    RankedTensorType outT = op.getResult().getType();
    SmallVector<Type> combineArgs = memrefsOf({mT, mT, oT, outT});
    func::FuncOp combine = getOrCreateKernel(
        rw, module,
        llvm::formatv("attn_decode_combine_{0}_hq{1}_dv{2}_ns{3}",
                      typeTag(outT.getElementType()), p.heads, p.valueDim,
                      p.splits)
            .str(),
        combineArgs, /*numWarps=*/4,
        [&](TileBuilder &tb, ValueRange a) { buildCombineKernel(tb, p, a); });
    DispatchOp combined = createDispatch(
        rw, loc, combine, {tokens, cst(p.heads), batch},
        ValueRange(partials.getResults()), {partDims, partDims, partDims},
        {outT}, {dynamicSizes(outT, {batch, tokens, {}, {}})});
    rw.replaceOp(op, {combined.getResult(0), kCache, vCache});
    return success();
  }

  int64_t blockN, splits, numWarps, minProgramsPerSM, minSplitKeys;
};

struct FlashAttentionPass
    : public hyla::impl::FlashAttentionBase<FlashAttentionPass> {
  using FlashAttentionBase::FlashAttentionBase;

  void runOnOperation() override {
    if (blockM < 1 || blockN < 1 || numWarps < 1 || decodeBlockN < 1 ||
        decodeSplits < 1 || decodeNumWarps < 1 || minProgramsPerSM < 0 ||
        minProgramsPerSM > 32 || decodeMinSplitKeys < 0) {
      getOperation().emitError()
          << "hyla-flash-attention: block-m, block-n, num-warps, "
             "decode-block-n, decode-splits and decode-num-warps must be "
             "positive, min-programs-per-sm 0 to 32, decode-min-split-keys "
             "not negative";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<FlashAttentionPattern>(&getContext(), blockM, blockN,
                                        numWarps, minProgramsPerSM,
                                        overlapSoftmax);
    patterns.add<AttentionCachedPattern>(&getContext(), decodeBlockN,
                                         decodeSplits, decodeNumWarps,
                                         decodeMinProgramsPerSM,
                                         decodeMinSplitKeys);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
