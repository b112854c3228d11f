//===- ChunkDeltaRule.cpp - chunked (WY/UT) gated delta rule --------------===//
//
// Rewrites hyla.gated_delta_rule into tile kernels that walk the tokens in
// chunks. Within a chunk of C tokens starting from state S ([K, V] in f32),
// with gc = cumsum(g) and Gamma[i, j] = exp(gc[i] - gc[j]) for i >= j:
//
//   A = diag(beta) (K K^T * Gamma), strictly lower
//   X = (I + A)^-1                      (forward substitution)
//   W = X diag(beta * exp(gc)) K        U = X diag(beta) V
//   D = U - W S                         (the corrected values)
//   O = scale * (diag(exp(gc)) Q S + (Q K^T * Gamma, incl. diagonal) D)
//   S' = exp(gc[C-1]) S + (diag(exp(gc[C-1] - gc)) K)^T D
//
// which is the recurrence S = exp(g) S; S += k beta (v - S^T k)^T unrolled
// over the chunk. The kernels hold the state transposed, S^T [V, K]: both
// state products then have 64 rows (a value block), the shape of one wgmma
// warpgroup, whatever K is; only the initial and final states, in the
// graph's [K, V] layout, are read and written transposed. Every decay
// factor is exp of a non-positive number, masked before the exp, so g down
// to any negative value gives no inf or NaN.
//
// Only S' depends on the previous chunk. By default the rewrite uses three
// kernels so that everything else runs in parallel over chunks:
//   prep   (chunk, head, batch):        W, U, and the keys decayed to the
//                                       chunk's end, transposed per chunk
//                                       (K~^T [K, C], the state update's
//                                       operand, contiguous along tokens)
//   state  (value block, head, batch):  sequential over chunks: D, the state
//                                       S^T at every chunk start (f32),
//                                       final S
//   output (chunk, head, batch x value block): O
// With parallel-chunks=false, one kernel does all of it chunk after chunk.
//
// Folded neighbours (hyla-fuse-gdn-layer) run where their rows are loaded or
// stored: the short convs with SiLU where q, k and v are loaded (each tap
// one more load of rows already in L1/L2), the gates where g and beta are,
// and the gated RMSNorm before the output store (the program then spans the
// whole value dim).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/TileBuilder.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

namespace hyla {
#define GEN_PASS_DEF_CHUNKDELTARULE
#include "passes/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;

namespace {

struct ChunkParams {
  int64_t chunk, blockV, numWarps, stateNumWarps;
  int64_t heads, valueHeads, keyDim, valueDim;
  float scale;
  std::optional<double> normEps; // q and k L2-normalized as loaded
  bool hasInitialState;
  bool varlen; // packed sequences (cu_seqlens)
  Type inputType, valueType, outputType;
  // Folded neighbours: conv widths (0: q, k, v come convolved), the gates'
  // beta scale (g and beta come raw), the output norm's epsilon, and the
  // kernel-name parts that tell them (with their operand types) apart.
  int64_t qConvWidth = 0, kConvWidth = 0, vConvWidth = 0;
  std::optional<double> betaScale, outputNormEps;
  std::string convTag, gatesTag, normTag;

  bool conv() const { return qConvWidth > 0; }

  int64_t group() const { return valueHeads / heads; }
  int64_t valueBlocks() const { return valueDim / blockV; }
  /// The parameters every kernel name carries.
  std::string tag() const {
    return llvm::formatv("{0}_{1}_h{2}_hv{3}_k{4}_v{5}_c{6}{7}",
                         typeTag(inputType), typeTag(valueType), heads,
                         valueHeads, keyDim, valueDim, chunk,
                         normEps ? "_l2e" + floatTag(*normEps) : "")
        .str();
  }
};

//===----------------------------------------------------------------------===//
// Chunk math shared by the kernels
//===----------------------------------------------------------------------===//

/// Where a program's chunk lives: its batch row, its first token and the
/// end of its sequence (the token count, or with packed sequences the
/// sequence's end: tokens from there on read as zeros and are not stored).
struct ChunkSpan {
  Value batch, t0, end;
  Value begin; // the sequence's first token (with packed sequences)
};

/// The folded neighbours' parameter tensors a kernel takes (null when not
/// folded or not needed there).
struct FoldedArgs {
  Value qConv, kConv, vConv; // [channels, width]
  Value aLog, dtBias;        // [HV]
  Value outputGate, outputNormWeight;
};

/// Reads a kernel's arguments in order.
class ArgCursor {
public:
  explicit ArgCursor(ValueRange args) : args(args) {}
  Value next() { return args[i++]; }
  Value nextIf(bool present) { return present ? next() : Value(); }

private:
  ValueRange args;
  unsigned i = 0;
};

/// `bounds` for a load or store of token rows of `m` ([B, T, ...]) that
/// stop at the span's end; none when sequences are not packed.
SmallVector<Value> tokenBounds(TileBuilder &tb, const ChunkParams &p, Value m,
                               const ChunkSpan &span) {
  SmallVector<Value> bounds;
  if (!p.varlen)
    return bounds;
  for (int64_t d = 0; d < cast<MemRefType>(m.getType()).getRank(); ++d)
    bounds.push_back(d == 1 ? span.end : tb.dim(m, d));
  return bounds;
}

/// `x` (a [C] or [C, n] tile of the span's rows) with the rows at or past
/// the span's end set to zero.
Value zeroPastEnd(TileBuilder &tb, Value x, const ChunkSpan &span) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(x.getType()).getShape();
  Value left = arith::SubIOp::create(tb.builder(), tb.getLoc(), span.end,
                                     span.t0);
  Value inside = tb.cmpi(arith::CmpIPredicate::slt, tb.iota(shape, 0),
                         tb.splatIndexAsI32(left, shape));
  return tb.select(inside, x, tb.constant(0.0, shape));
}

/// A per-head parameter ([HV]) as an f32 scalar.
Value headParam(TileBuilder &tb, Value m, Value head) {
  return tb.extract(tb.toF32(tb.load(m, {head}, {0}, {1})), {0});
}

/// The chunk's log decays g (padding tokens are 0: decay 1), loaded or with
/// folded gates computed from the raw a: -exp(a_log) softplus(a + dt_bias).
Value chunkDecay(TileBuilder &tb, const ChunkParams &p, Value gM,
                 const FoldedArgs &f, const ChunkSpan &span, Value head) {
  Value x = tb.load(gM, {span.batch, span.t0, head}, {1}, {p.chunk},
                    tokenBounds(tb, p, gM, span));
  if (!p.betaScale)
    return x;
  Value rate = tb.splat(
      math::ExpOp::create(tb.builder(), tb.getLoc(), headParam(tb, f.aLog, head)),
      {p.chunk});
  Value dt = tb.splat(headParam(tb, f.dtBias, head), {p.chunk});
  Value g = tb.neg(tb.mul(rate, tb.softplus(tb.add(tb.toF32(x), dt))));
  return zeroPastEnd(tb, g, span);
}

/// The chunk's betas, loaded or from the raw b (beta_scale sigmoid(b)).
Value chunkBeta(TileBuilder &tb, const ChunkParams &p, Value betaM,
                const ChunkSpan &span, Value head) {
  Value x = tb.load(betaM, {span.batch, span.t0, head}, {1}, {p.chunk},
                    tokenBounds(tb, p, betaM, span));
  if (!p.betaScale)
    return x;
  return zeroPastEnd(tb, tb.mul(tb.sigmoid(tb.toF32(x)), *p.betaScale), span);
}

/// The cumulative sum of chunkDecay.
Value chunkCumDecay(TileBuilder &tb, const ChunkParams &p, Value gM,
                    const FoldedArgs &f, const ChunkSpan &span, Value head) {
  return tb.cumsum(chunkDecay(tb, p, gM, f, span, head), 0);
}

/// The number of chunks of [begin, end).
Value chunkCount(TileBuilder &t, const ChunkParams &p, Value begin, Value end) {
  return t.ceilDiv(arith::SubIOp::create(t.builder(), t.getLoc(), end, begin),
                   p.chunk);
}

/// With packed sequences the chunks of all sequences are numbered one
/// after another (locatePackedBlock, blocks of the chunk size).
using ChunkSlot = PackedBlock;

ChunkSlot locateChunk(TileBuilder &tb, const ChunkParams &p, Value cuM,
                      Value slot) {
  return locatePackedBlock(tb, cuM, slot, p.chunk);
}

/// The chunk slot of sequence n's first chunk.
Value firstChunkSlot(TileBuilder &tb, const ChunkParams &p, Value cuM,
                     Value n) {
  OpBuilder &b = tb.builder();
  Value c0 = tb.index(0);
  auto loop = scf::ForOp::create(
      b, tb.getLoc(), c0, n, tb.index(1), ValueRange{c0},
      [&](OpBuilder &nb, Location l, Value m, ValueRange it) {
        TileBuilder t(nb, l);
        auto [begin, end] = sequenceRange(t, cuM, m);
        scf::YieldOp::create(nb, l,
                             ValueRange{t.addi(it[0], chunkCount(t, p, begin, end))});
      });
  return loop.getResult(0);
}

/// exp(gc[i] - gc[j]) for i >= j, else 0 (`strict`: i > j).
struct DecayMatrices {
  Value inclusive, strict;
};

DecayMatrices decayMatrices(TileBuilder &tb, Value gc, int64_t c) {
  Value row = tb.iota({c, c}, 0), col = tb.iota({c, c}, 1);
  Value lowerIncl = tb.cmpi(arith::CmpIPredicate::sge, row, col);
  Value lowerStrict = tb.cmpi(arith::CmpIPredicate::sgt, row, col);
  Value zero = tb.constant(0.0, {c, c});
  Value diff = tb.sub(tb.broadcast(gc, {0}, {c, c}), tb.broadcast(gc, {1}, {c, c}));
  // Masked before the exp: above the diagonal the difference is positive.
  Value incl =
      tb.select(lowerIncl, tb.exp(tb.select(lowerIncl, diff, zero)), zero);
  return {incl, tb.select(lowerStrict, incl, zero)};
}

/// X = (I + diag(beta) (K K^T * Gamma_strict))^-1.
Value utInverse(TileBuilder &tb, Value k, Value beta, Value decayStrict,
                int64_t c) {
  Value zero = tb.constant(0.0, {c, c});
  Value kk = tb.dot(k, k, zero, /*transposeA=*/false, /*transposeB=*/true);
  Value a = tb.mul(tb.mul(kk, decayStrict), tb.broadcast(beta, {0}, {c, c}));
  return tb.unitLowerInverse(a);
}

/// W = X diag(beta exp(gc)) K and U = X diag(beta) V for one chunk (V has
/// `cols` columns), with the chunk's decay matrices.
struct ChunkWU {
  Value w, u;
  DecayMatrices decay;
};

ChunkWU chunkWU(TileBuilder &t, int64_t c, int64_t kDim, int64_t cols,
                Value k, Value v, Value beta, Value gc) {
  DecayMatrices decay = decayMatrices(t, gc, c);
  Value x = utInverse(t, k, beta, decay.strict, c);
  Value kScaled =
      t.mul(k, t.broadcast(t.mul(beta, t.exp(gc)), {0}, {c, kDim}));
  Value w = t.dot(x, kScaled, t.constant(0.0, {c, kDim}));
  Value u = t.dot(x, t.mul(v, t.broadcast(beta, {0}, {c, cols})),
                  t.constant(0.0, {c, cols}));
  return {w, u, decay};
}

/// diag(exp(gc_last - gc)) K, the keys decayed to the chunk's end (rows of
/// padding tokens stay zero).
Value keysDecayedToChunkEnd(TileBuilder &tb, Value k, Value gc, int64_t c,
                            int64_t kDim) {
  Value gLast = tb.extract(gc, {c - 1});
  Value kDecay = tb.exp(tb.sub(tb.splat(gLast, {c}), gc));
  return tb.mul(k, tb.broadcast(kDecay, {0}, {c, kDim}));
}

/// S'^T = exp(g_sum) S^T + D^T K~, the state transposed ([BV, K]), from the
/// chunk's total log decay and its keys decayed to its end: K~ [C, K], or
/// as prep stores them, K~^T [K, C] (`transposed`).
Value updateStateT(TileBuilder &tb, Value stateT, Value kDecayed,
                   bool transposed, Value d, Value gSum, int64_t kDim,
                   int64_t bv) {
  Value stateDecay = tb.splat(
      math::ExpOp::create(tb.builder(), tb.getLoc(), gSum), {bv, kDim});
  Value update = tb.dot(d, kDecayed, tb.constant(0.0, {bv, kDim}),
                        /*transposeA=*/true, /*transposeB=*/transposed);
  return tb.add(tb.mul(stateT, stateDecay), update);
}

/// updateStateT from the chunk's keys and cumulative log decays. Padding
/// tokens have g = 0, so gc[C-1] is the cumulative decay up to the last
/// real token.
Value nextStateT(TileBuilder &tb, Value stateT, Value k, Value d, Value gc,
                 int64_t c, int64_t kDim, int64_t bv) {
  return updateStateT(tb, stateT, keysDecayedToChunkEnd(tb, k, gc, c, kDim),
                      /*transposed=*/false, d, tb.extract(gc, {c - 1}), kDim,
                      bv);
}

/// The initial state of (sequence, head, value block from v0) as S^T
/// [BV, K]: the graph's [K, V] state read transposed, or zeros.
Value initialStateT(TileBuilder &tb, const ChunkParams &p, Value h0M,
                    Value seq, Value head, Value v0) {
  if (!h0M)
    return tb.constant(0.0, {p.blockV, p.keyDim});
  return tb.load(h0M, {seq, head, tb.index(0), v0}, {3, 2},
                 {p.blockV, p.keyDim});
}

/// Stores S^T as the graph's [K, V] final state (written transposed).
void storeFinalStateT(TileBuilder &tb, Value stateT, Value finalM, Value seq,
                      Value head, Value v0) {
  tb.store(stateT, finalM, {seq, head, tb.index(0), v0}, {3, 2});
}

/// D = U - W S, from S^T.
Value correctedValues(TileBuilder &tb, Value u, Value w, Value stateT,
                      int64_t c, int64_t bv) {
  return tb.sub(u, tb.dot(w, stateT, tb.constant(0.0, {c, bv}),
                          /*transposeA=*/false, /*transposeB=*/true));
}

/// O = scale (diag(exp(gc)) Q S + (Q K^T * Gamma_incl) D), from S^T.
Value chunkOutput(TileBuilder &tb, const ChunkParams &p, Value q, Value k,
                  Value stateT, Value d, Value gc, Value decayIncl) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  Value qs = tb.mul(q, static_cast<double>(p.scale));
  Value qDecayed = tb.mul(qs, tb.broadcast(tb.exp(gc), {0}, {C, K}));
  Value oInter = tb.dot(qDecayed, stateT, tb.constant(0.0, {C, BV}),
                        /*transposeA=*/false, /*transposeB=*/true);
  Value qk = tb.mul(tb.dot(qs, k, tb.constant(0.0, {C, C}), false, true),
                    decayIncl);
  return tb.dot(qk, d, oInter);
}

/// Columns [col0, col0 + cols) of head `head` of x ([B, T, heads, D]) for
/// the chunk's rows in f32, through the folded causal conv (weight `convW`
/// [heads * D, width]) and SiLU when there is one. Each tap loads the rows
/// it reads: tokens before 0, or before a packed sequence's first, are zero;
/// padding rows stay zero.
Value loadProjection(TileBuilder &tb, const ChunkParams &p, Value m,
                     Value convW, const ChunkSpan &span, Value head,
                     Value col0, int64_t cols) {
  const int64_t C = p.chunk;
  if (!convW)
    return tb.toF32(tb.load(m, {span.batch, span.t0, head, col0}, {1, 3},
                            {C, cols}, tokenBounds(tb, p, m, span)));
  OpBuilder &b = tb.builder();
  int64_t width = cast<MemRefType>(convW.getType()).getDimSize(1);
  int64_t headDim = cast<MemRefType>(m.getType()).getDimSize(3);
  Value channel0 = tb.addi(tb.muli(head, headDim), col0);
  Value acc = tb.constant(0.0, {C, cols});
  for (int64_t j = 0; j < width; ++j) {
    // Tap j reads token t - (width - 1) + j.
    Value start = arith::SubIOp::create(b, tb.getLoc(), span.t0,
                                        tb.index(width - 1 - j));
    Value x = tb.toF32(tb.load(m, {span.batch, start, head, col0}, {1, 3},
                               {C, cols}, tokenBounds(tb, p, m, span)));
    if (p.varlen) {
      Value before =
          arith::SubIOp::create(b, tb.getLoc(), span.begin, start);
      x = tb.select(tb.cmpi(arith::CmpIPredicate::sge, tb.iota({C, cols}, 0),
                            tb.splatIndexAsI32(before, {C, cols})),
                    x, tb.constant(0.0, {C, cols}));
    }
    Value w = tb.toF32(tb.load(convW, {channel0, tb.index(j)}, {0}, {cols}));
    acc = tb.add(acc, tb.mul(x, tb.broadcast(w, {1}, {C, cols})));
  }
  return zeroPastEnd(tb, tb.silu(acc), span);
}

/// A chunk of q or k rows in f32, L2-normalized when the norms are fused
/// (padding rows are zero and stay zero).
Value loadKeys(TileBuilder &tb, const ChunkParams &p, Value m, Value convW,
               const ChunkSpan &span, Value keyHead) {
  Value x = loadProjection(tb, p, m, convW, span, keyHead, tb.index(0),
                           p.keyDim);
  if (!p.normEps)
    return x;
  Value ss = tb.reduce(tile::ReduceKind::Sum, tb.mul(x, x), 1);
  Value inv = tb.rsqrt(tb.add(ss, tb.constant(*p.normEps, {p.chunk})));
  return tb.mul(x, tb.broadcast(inv, {0}, {p.chunk, p.keyDim}));
}

Value keyHeadOf(TileBuilder &tb, const ChunkParams &p, Value head) {
  return p.group() == 1 ? head : tb.divi(head, p.group());
}

/// The folded gated RMSNorm on a chunk's output o ([C, V]: all of a head's
/// values), with the output gate's rows of the span.
Value outputNorm(TileBuilder &tb, const ChunkParams &p, Value o,
                 const FoldedArgs &f, const ChunkSpan &span, Value head) {
  const int64_t C = p.chunk, V = p.valueDim;
  Value c0 = tb.index(0);
  Value gate = tb.toF32(tb.load(f.outputGate, {span.batch, span.t0, head, c0},
                                {1, 3}, {C, V},
                                tokenBounds(tb, p, f.outputGate, span)));
  Value w = tb.toF32(tb.load(f.outputNormWeight, {c0}, {0}, {V}));
  Value meanSq = tb.mul(tb.reduce(tile::ReduceKind::Sum, tb.mul(o, o), 1),
                        1.0 / static_cast<double>(V));
  Value inv = tb.rsqrt(tb.add(meanSq, tb.constant(*p.outputNormEps, {C})));
  Value y = tb.mul(tb.mul(o, tb.broadcast(inv, {0}, {C, V})),
                   tb.broadcast(w, {1}, {C, V}));
  return tb.mul(y, tb.silu(gate));
}

/// The folded parameters that follow a kernel's other inputs, in the order
/// foldedInputs (below) passes them.
FoldedArgs readFolded(ArgCursor &c, const ChunkParams &p, bool qConv,
                      bool kConv, bool vConv, bool gates, bool norm) {
  FoldedArgs f;
  f.qConv = c.nextIf(qConv && p.conv());
  f.kConv = c.nextIf(kConv && p.conv());
  f.vConv = c.nextIf(vConv && p.conv());
  f.aLog = c.nextIf(gates && p.betaScale);
  f.dtBias = c.nextIf(gates && p.betaScale);
  f.outputGate = c.nextIf(norm && p.outputNormEps);
  f.outputNormWeight = c.nextIf(norm && p.outputNormEps);
  return f;
}

//===----------------------------------------------------------------------===//
// One kernel, chunk after chunk
//===----------------------------------------------------------------------===//

// Arguments: q, k, v, g, beta, [h0], [cu_seqlens], [folded: convs, gates,
// output norm], o, final. One program per (value block, value head, batch
// row or packed sequence).
void buildFusedKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  ArgCursor c(args);
  Value qM = c.next(), kM = c.next(), vM = c.next(), gM = c.next(),
        betaM = c.next();
  Value h0M = c.nextIf(p.hasInitialState);
  Value cuM = c.nextIf(p.varlen);
  FoldedArgs f = readFolded(c, p, true, true, true, true, true);
  Value oM = c.next(), finalM = c.next();
  Value vBlock = tb.programId(0), head = tb.programId(1),
        seq = tb.programId(2);
  Value keyHead = keyHeadOf(tb, p, head);
  Value v0 = tb.muli(vBlock, BV);
  Value c0 = tb.index(0);
  Value init = initialStateT(tb, p, h0M, seq, head, v0);
  Value batch = seq, begin = c0, end = tb.dim(qM, 1);
  if (p.varlen) {
    batch = c0;
    std::tie(begin, end) = sequenceRange(tb, cuM, seq);
  }
  Value numChunks = chunkCount(tb, p, begin, end);
  auto loop = scf::ForOp::create(
      tb.builder(), tb.getLoc(), c0, numChunks, tb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value chunk, ValueRange it) {
        TileBuilder t(nb, loc);
        Value state = it[0];
        ChunkSpan span{batch, t.addi(begin, t.muli(chunk, C)), end, begin};
        // Tokens past the end load as zeros: zero keys, values, betas and
        // log decays, which leave the state unchanged.
        Value q = loadKeys(t, p, qM, f.qConv, span, keyHead);
        Value k = loadKeys(t, p, kM, f.kConv, span, keyHead);
        Value v = loadProjection(t, p, vM, f.vConv, span, head, v0, BV);
        Value beta = chunkBeta(t, p, betaM, span, head);
        Value gc = chunkCumDecay(t, p, gM, f, span, head);
        ChunkWU wu = chunkWU(t, C, K, BV, k, v, beta, gc);
        Value d = correctedValues(t, wu.u, wu.w, state, C, BV);
        Value o = chunkOutput(t, p, q, k, state, d, gc, wu.decay.inclusive);
        if (p.outputNormEps)
          o = outputNorm(t, p, o, f, span, head);
        t.store(t.castTo(o, p.outputType), oM, {batch, span.t0, head, v0},
                {1, 3}, tokenBounds(t, p, oM, span));
        scf::YieldOp::create(nb, loc,
                             nextStateT(t, state, k, d, gc, C, K, BV));
      });
  storeFinalStateT(tb, loop.getResult(0), finalM, seq, head, v0);
}

//===----------------------------------------------------------------------===//
// Three kernels, parallel over chunks where the math allows
//===----------------------------------------------------------------------===//

/// The span of the chunk a prep or output program handles: chunk `slot` of
/// batch row `batch`, or with packed sequences chunk slot `slot` of the
/// whole batch. Builds the body under a guard when some slots are empty.
void forChunk(TileBuilder &tb, const ChunkParams &p, Value cuM, Value slot,
              Value batch, Value tokens,
              llvm::function_ref<void(TileBuilder &, const ChunkSpan &)> body) {
  if (!p.varlen) {
    body(tb, ChunkSpan{batch, tb.muli(slot, p.chunk), tokens, tb.index(0)});
    return;
  }
  ChunkSlot cs = locateChunk(tb, p, cuM, slot);
  scf::IfOp::create(tb.builder(), tb.getLoc(), cs.valid,
                    [&](OpBuilder &nb, Location l) {
                      TileBuilder t(nb, l);
                      body(t, ChunkSpan{t.index(0), cs.t0, cs.end, cs.begin});
                      scf::YieldOp::create(nb, l);
                    });
}

// prep: k, v, g, beta, [cu_seqlens], [folded] -> W [B, T, HV, K], U [B, T,
// HV, V] and the keys decayed to their chunk's end, transposed per chunk:
// K~^T [B, chunk slots, HV, K, C], and with folded gates the log decays g
// [B, T, HV] (all f32). The state kernel reads only the
// last: its products then take W and K~^T contiguous along their shared
// dim (what wgmma reads from shared memory), and the sequential loop does
// not normalize or decay keys.
void buildPrepKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, V = p.valueDim;
  ArgCursor c(args);
  Value kM = c.next(), vM = c.next(), gM = c.next(), betaM = c.next();
  Value cuM = c.nextIf(p.varlen);
  FoldedArgs f = readFolded(c, p, false, true, true, true, false);
  Value wM = c.next(), uM = c.next(), kdM = c.next();
  Value gOutM = c.nextIf(p.betaScale.has_value());
  Value head = tb.programId(1), slot = tb.programId(0);
  forChunk(tb, p, cuM, slot, tb.programId(2), tb.dim(kM, 1),
           [&](TileBuilder &t, const ChunkSpan &span) {
    Value c0 = t.index(0);
    Value k = loadKeys(t, p, kM, f.kConv, span, keyHeadOf(t, p, head));
    Value v = loadProjection(t, p, vM, f.vConv, span, head, c0, V);
    Value beta = chunkBeta(t, p, betaM, span, head);
    Value g = chunkDecay(t, p, gM, f, span, head);
    // Folded gates: the log decays computed here once, for state and output.
    if (gOutM)
      t.store(g, gOutM, {span.batch, span.t0, head}, {1},
              tokenBounds(t, p, gOutM, span));
    Value gc = t.cumsum(g, 0);
    ChunkWU wu = chunkWU(t, C, K, V, k, v, beta, gc);
    t.store(wu.w, wM, {span.batch, span.t0, head, c0}, {1, 3},
            tokenBounds(t, p, wM, span));
    t.store(wu.u, uM, {span.batch, span.t0, head, c0}, {1, 3},
            tokenBounds(t, p, uM, span));
    // Whole chunks, padding tokens as zero columns.
    t.store(keysDecayedToChunkEnd(t, k, gc, C, K), kdM,
            {span.batch, slot, head, c0, c0}, {4, 3});
  });
}

// state: W, U, K~^T (prep's), g, [h0], [cu_seqlens] -> D [B, T, HV, V],
// states transposed [B, chunk slots, HV, V, K], final [B or sequences, HV,
// K, V] (all f32).
void buildStateKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  ArgCursor c(args);
  Value wM = c.next(), uM = c.next(), kdM = c.next(), gM = c.next();
  Value h0M = c.nextIf(p.hasInitialState);
  Value cuM = c.nextIf(p.varlen);
  FoldedArgs f = readFolded(c, p, false, false, false, true, false);
  Value dM = c.next(), statesM = c.next(), finalM = c.next();
  Value vBlock = tb.programId(0), head = tb.programId(1),
        seq = tb.programId(2);
  Value v0 = tb.muli(vBlock, BV);
  Value c0 = tb.index(0);
  Value init = initialStateT(tb, p, h0M, seq, head, v0);
  Value batch = seq, begin = c0, end = tb.dim(wM, 1), firstSlot = c0;
  if (p.varlen) {
    batch = c0;
    std::tie(begin, end) = sequenceRange(tb, cuM, seq);
    firstSlot = firstChunkSlot(tb, p, cuM, seq);
  }
  Value numChunks = chunkCount(tb, p, begin, end);
  auto loop = scf::ForOp::create(
      tb.builder(), tb.getLoc(), c0, numChunks, tb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value chunk, ValueRange it) {
        TileBuilder t(nb, loc);
        Value state = it[0];
        ChunkSpan span{batch, t.addi(begin, t.muli(chunk, C)), end, begin};
        Value slot = t.addi(firstSlot, chunk);
        // The next chunk's inputs do not depend on the state: start moving
        // them while this chunk's products run.
        Value t1 = t.addi(span.t0, t.index(C));
        t.prefetch(wM, {batch, t1, head, c0}, {1, 3}, {C, K});
        t.prefetch(uM, {batch, t1, head, v0}, {1, 3}, {C, BV});
        t.prefetch(kdM, {batch, t.addi(slot, t.index(1)), head, c0, c0}, {3, 4},
                   {K, C});
        t.store(state, statesM, {batch, slot, head, v0, c0}, {3, 4});
        // W rows past a packed sequence's end (the next sequence's) only
        // reach rows of D that are not stored and that meet zero columns of
        // K~^T, so W loads without the sequence bound (whole chunks, as an
        // asynchronous tile copy moves them).
        Value w = t.load(wM, {batch, span.t0, head, c0}, {1, 3}, {C, K});
        Value u = t.load(uM, {batch, span.t0, head, v0}, {1, 3}, {C, BV},
                         tokenBounds(t, p, uM, span));
        Value kdT = t.load(kdM, {batch, slot, head, c0, c0}, {3, 4}, {K, C});
        // Padding tokens have g = 0: the sum is the decay to the last real
        // token.
        Value gSum =
            t.extract(chunkCumDecay(t, p, gM, f, span, head), {C - 1});
        Value d = correctedValues(t, u, w, state, C, BV);
        t.store(d, dM, {batch, span.t0, head, v0}, {1, 3},
                tokenBounds(t, p, dM, span));
        scf::YieldOp::create(
            nb, loc,
            updateStateT(t, state, kdT, /*transposed=*/true, d, gSum, K, BV));
      });
  storeFinalStateT(tb, loop.getResult(0), finalM, seq, head, v0);
}

// output: q, k, g, D, states, [cu_seqlens] -> O [B, T, HV, V] (the value
// type).
void buildOutputKernel(TileBuilder &tb, const ChunkParams &p, ValueRange args) {
  const int64_t C = p.chunk, K = p.keyDim, BV = p.blockV;
  ArgCursor c(args);
  Value qM = c.next(), kM = c.next(), gM = c.next(), dM = c.next(),
        statesM = c.next();
  Value cuM = c.nextIf(p.varlen);
  FoldedArgs f = readFolded(c, p, true, true, false, true, true);
  Value oM = c.next();
  Value slot = tb.programId(0), head = tb.programId(1);
  Value z = tb.programId(2);
  Value batch = tb.divi(z, p.valueBlocks());
  Value v0 = tb.muli(arith::RemUIOp::create(tb.builder(), tb.getLoc(), z,
                                            tb.index(p.valueBlocks())),
                     BV);
  Value keyHead = keyHeadOf(tb, p, head);
  forChunk(tb, p, cuM, slot, batch, tb.dim(qM, 1),
           [&](TileBuilder &t, const ChunkSpan &span) {
    Value c0 = t.index(0);
    Value q = loadKeys(t, p, qM, f.qConv, span, keyHead);
    Value k = loadKeys(t, p, kM, f.kConv, span, keyHead);
    Value gc = chunkCumDecay(t, p, gM, f, span, head);
    // The states of chunk slot `slot` (packed or not, the slot numbers the
    // chunk in the states tensor).
    Value state =
        t.load(statesM, {span.batch, slot, head, v0, c0}, {3, 4}, {BV, K});
    Value d = t.load(dM, {span.batch, span.t0, head, v0}, {1, 3}, {C, BV},
                     tokenBounds(t, p, dM, span));
    Value o = chunkOutput(t, p, q, k, state, d, gc,
                          decayMatrices(t, gc, C).inclusive);
    if (p.outputNormEps)
      o = outputNorm(t, p, o, f, span, head);
    t.store(t.castTo(o, p.outputType), oM, {span.batch, span.t0, head, v0},
            {1, 3}, tokenBounds(t, p, oM, span));
  });
}

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

struct ChunkDeltaRulePattern : OpRewritePattern<GatedDeltaRuleOp> {
  ChunkDeltaRulePattern(MLIRContext *ctx, int64_t chunk, int64_t blockV,
                        int64_t outputBlockV, int64_t numWarps,
                        int64_t stateNumWarps, bool parallelChunks,
                        int64_t stateStages)
      : OpRewritePattern(ctx), chunk(chunk), blockV(blockV),
        outputBlockV(outputBlockV), numWarps(numWarps),
        stateNumWarps(stateNumWarps), stateStages(stateStages),
        parallelChunks(parallelChunks) {}

  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    RankedTensorType qT = op.getQ().getType(), vT = op.getV().getType();
    ChunkParams p;
    p.chunk = chunk;
    p.numWarps = numWarps;
    p.stateNumWarps = stateNumWarps;
    p.heads = qT.getDimSize(2);
    p.keyDim = qT.getDimSize(3);
    p.valueHeads = vT.getDimSize(2);
    p.valueDim = vT.getDimSize(3);
    // The value block must divide V; fall back to the whole of V.
    p.blockV = (blockV > 0 && p.valueDim % blockV == 0) ? blockV : p.valueDim;
    p.scale = static_cast<float>(op.getScale().convertToDouble());
    if (std::optional<APFloat> eps = op.getQkL2normEpsilon())
      p.normEps = eps->convertToDouble();
    p.hasInitialState = static_cast<bool>(op.getInitialState());
    p.varlen = static_cast<bool>(op.getCuSeqlens());
    p.inputType = qT.getElementType();
    p.valueType = vT.getElementType();
    p.outputType = op.getO().getType().getElementType();
    auto elementOf = [](Value x) {
      return cast<RankedTensorType>(x.getType()).getElementType();
    };
    auto width = [](Value w) {
      return w ? cast<RankedTensorType>(w.getType()).getDimSize(1) : 0;
    };
    p.qConvWidth = width(op.getQConvWeight());
    p.kConvWidth = width(op.getKConvWeight());
    p.vConvWidth = width(op.getVConvWeight());
    if (op.hasGates())
      p.betaScale = op.getBetaScale()->convertToDouble();
    if (op.hasOutputNorm())
      p.outputNormEps = op.getOutputNormEpsilon()->convertToDouble();
    if (p.conv())
      p.convTag = llvm::formatv(
          "_conv{0}{1}x{2}x{3}", typeTag(elementOf(op.getQConvWeight())),
          p.qConvWidth, p.kConvWidth, p.vConvWidth);
    if (p.betaScale)
      p.gatesTag = "_gates" + typeTag(elementOf(op.getG())) +
                   typeTag(elementOf(op.getALog())) + "b" +
                   floatTag(*p.betaScale);
    if (p.outputNormEps) {
      p.normTag = "_onorm" + typeTag(elementOf(op.getOutputGate())) +
                   typeTag(elementOf(op.getOutputNormWeight())) + "e" +
                   floatTag(*p.outputNormEps);
    }
    // The folded parameters each kernel takes (readFolded's order).
    auto folded = [&](SmallVector<Value> inputs, bool qConv, bool kConv,
                      bool vConv, bool gates, bool norm) {
      for (auto [use, x] :
           {std::pair<bool, Value>{qConv, op.getQConvWeight()},
            {kConv, op.getKConvWeight()},
            {vConv, op.getVConvWeight()},
            {gates, op.getALog()},
            {gates, op.getDtBias()},
            {norm, op.getOutputGate()},
            {norm, op.getOutputNormWeight()}})
        if (use && x)
          inputs.push_back(x);
      return inputs;
    };

    Location loc = op.getLoc();
    Value batch = tensor::DimOp::create(rw, loc, op.getQ(), 0);
    Value tokens = tensor::DimOp::create(rw, loc, op.getQ(), 1);
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    // States come one per batch row, or one per packed sequence.
    Value cu = op.getCuSeqlens();
    Value cuSize, sequences = batch;
    if (cu) {
      cuSize = tensor::DimOp::create(rw, loc, cu, 0);
      sequences = packedSequenceCount(rw, loc, cuSize);
    }
    // Dynamic sizes of a [B, T, ...] token tensor and a [B, ...] state.
    auto tokenDims = [&](Type t) {
      SmallVector<Value> dims;
      auto rt = cast<RankedTensorType>(t);
      if (rt.isDynamicDim(0))
        dims.push_back(batch);
      if (rt.isDynamicDim(1))
        dims.push_back(tokens);
      return dims;
    };
    auto batchDims = [&](Type t) {
      SmallVector<Value> dims;
      if (cast<RankedTensorType>(t).isDynamicDim(0))
        dims.push_back(sequences);
      return dims;
    };
    // The dynamic dims of each input.
    auto inputDims = [&](ArrayRef<Value> inputs) {
      SmallVector<SmallVector<Value>> dims;
      for (Value v : inputs) {
        if (v == cu)
          dims.push_back(cast<RankedTensorType>(cu.getType()).isDynamicDim(0)
                             ? SmallVector<Value>{cuSize}
                             : SmallVector<Value>{});
        else if (v == op.getInitialState())
          dims.push_back(batchDims(v.getType()));
        else
          dims.push_back(tokenDims(v.getType()));
      }
      return dims;
    };
    auto kernel = [&](StringRef name, ArrayRef<Value> inputs,
                      TypeRange results, auto build,
                      const ChunkParams &params) {
      SmallVector<Type> argTypes;
      for (Value v : inputs)
        argTypes.push_back(memrefFor(cast<RankedTensorType>(v.getType())));
      for (Type t : results)
        argTypes.push_back(memrefFor(cast<RankedTensorType>(t)));
      func::FuncOp fn = getOrCreateKernel(
          rw, op->getParentOfType<ModuleOp>(), name, argTypes, params.numWarps,
          [&](TileBuilder &tb, ValueRange args) { build(tb, params, args); });
      // Left to itself, ptxas gave a 16-warp prep with the folded convs 64
      // registers a thread (aiming at two programs an SM) and spilled 3.6
      // KB; one program an SM lets it use 128.
      if (params.numWarps >= 16)
        fn->setAttr(tile::TileDialect::kMinProgramsPerSMAttrName,
                    rw.getI32IntegerAttr(1));
      return fn;
    };
    std::string h0 = p.hasInitialState ? "_h0" : "";
    std::string vl = p.varlen ? "_varlen" : "";
    std::string sc =
        llvm::formatv("_s{0:x8}", llvm::bit_cast<uint32_t>(p.scale)).str();
    std::string bv = "_bv" + std::to_string(p.blockV);
    std::string w = "_w" + std::to_string(p.numWarps);

    if (!parallelChunks) {
      SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV(), op.getG(),
                                   op.getBeta()};
      if (p.hasInitialState)
        inputs.push_back(op.getInitialState());
      if (cu)
        inputs.push_back(cu);
      inputs = folded(inputs, true, true, true, true, true);
      // The folded norm is over a head's whole value dim.
      ChunkParams pf = p;
      if (p.outputNormEps)
        pf.blockV = p.valueDim;
      func::FuncOp k = kernel("gdn_chunk_" + p.tag() + p.convTag +
                                  p.gatesTag + p.normTag + "_" +
                                  typeTag(p.outputType) + "_bv" +
                                  std::to_string(pf.blockV) + w + sc + h0 + vl,
                              inputs, op->getResultTypes(), buildFusedKernel,
                              pf);
      DispatchOp d = createDispatch(
          rw, loc, k, {idx(pf.valueBlocks()), idx(p.valueHeads), sequences},
          inputs, inputDims(inputs), op->getResultTypes(),
          {tokenDims(op.getO().getType()),
           batchDims(op.getFinalState().getType())});
      rw.replaceOp(op, d.getResults());
      return success();
    }

    MLIRContext *ctx = rw.getContext();
    Type f32 = Float32Type::get(ctx);
    int64_t dyn = ShapedType::kDynamic;
    auto perToken = [&](int64_t dim) {
      return RankedTensorType::get({dyn, dyn, p.valueHeads, dim}, f32);
    };
    // Chunk slots: per batch row, or for all packed sequences together
    // (each sequence starts a chunk, so at most ceil(T / C) + N of them).
    Value numChunks = arith::CeilDivUIOp::create(rw, loc, tokens, idx(p.chunk));
    if (cu)
      numChunks = arith::AddIOp::create(rw, loc, numChunks, sequences);
    auto withCu = [&](SmallVector<Value> inputs) {
      if (cu)
        inputs.push_back(cu);
      return inputs;
    };

    // prep
    SmallVector<Value> prepIn =
        folded(withCu({op.getK(), op.getV(), op.getG(), op.getBeta()}), false,
               true, true, true, false);
    auto keysDecayedT =
        RankedTensorType::get({dyn, dyn, p.valueHeads, p.keyDim, p.chunk}, f32);
    SmallVector<Type> prepOut = {perToken(p.keyDim), perToken(p.valueDim),
                                 keysDecayedT};
    // With folded gates prep writes g; state and output read it as if the
    // graph had (they are the unfolded kernels).
    if (p.betaScale)
      prepOut.push_back(RankedTensorType::get({dyn, dyn, p.valueHeads}, f32));
    ChunkParams pg = p;
    pg.betaScale.reset();
    pg.gatesTag.clear();
    func::FuncOp prep =
        kernel("gdn_prep_" + p.tag() + p.convTag + p.gatesTag + w + vl, prepIn,
               prepOut, buildPrepKernel, p);
    SmallVector<SmallVector<Value>> prepOutDims = {
        tokenDims(prepOut[0]), tokenDims(prepOut[1]), {batch, numChunks}};
    if (p.betaScale)
      prepOutDims.push_back(tokenDims(prepOut[3]));
    DispatchOp prepD = createDispatch(
        rw, loc, prep, {numChunks, idx(p.valueHeads), batch}, prepIn,
        inputDims(prepIn), prepOut,
        prepOutDims);
    Value g = p.betaScale ? prepD.getResult(3) : op.getG();

    // state
    SmallVector<Value> stateIn = {prepD.getResult(0), prepD.getResult(1),
                                  prepD.getResult(2), g};
    if (p.hasInitialState)
      stateIn.push_back(op.getInitialState());
    stateIn = withCu(stateIn);
    auto statesT = RankedTensorType::get(
        {dyn, dyn, p.valueHeads, p.valueDim, p.keyDim}, f32);
    SmallVector<Type> stateOut = {perToken(p.valueDim), statesT,
                                  op.getFinalState().getType()};
    ChunkParams ps = pg;
    ps.numWarps = p.stateNumWarps;
    std::string stages =
        stateStages == 2 ? "" : "_st" + std::to_string(stateStages);
    func::FuncOp state = kernel("gdn_state_" + p.tag() + bv + "_w" +
                                    std::to_string(ps.numWarps) + stages + h0 +
                                    vl,
                                stateIn, stateOut, buildStateKernel, ps);
    if (stateStages != 2)
      state->setAttr(tile::TileDialect::kNumStagesAttrName,
                     rw.getI32IntegerAttr(stateStages));
    SmallVector<SmallVector<Value>> stateInDims = inputDims(stateIn);
    stateInDims[2] = {batch, numChunks}; // K~^T
    DispatchOp stateD = createDispatch(
        rw, loc, state, {idx(p.valueBlocks()), idx(p.valueHeads), sequences},
        stateIn, stateInDims, stateOut,
        {tokenDims(stateOut[0]), {batch, numChunks}, batchDims(stateOut[2])});

    // output
    SmallVector<Value> outIn =
        folded(withCu({op.getQ(), op.getK(), g, stateD.getResult(0),
                       stateD.getResult(1)}),
               true, true, false, false, true);
    // The output programs may span more value columns than the state's
    // (each chunk's Q K^T is then shared by more of them).
    ChunkParams po = pg;
    if (outputBlockV > 0 && p.valueDim % outputBlockV == 0)
      po.blockV = outputBlockV;
    // The folded norm is over a head's whole value dim: one program holds it.
    if (p.outputNormEps)
      po.blockV = p.valueDim;
    func::FuncOp out =
        kernel("gdn_output_" + p.tag() + p.convTag + p.normTag +
                   "_" + typeTag(p.outputType) + "_bv" +
                   std::to_string(po.blockV) + w + sc + vl,
               outIn, {op.getO().getType()}, buildOutputKernel, po);
    SmallVector<SmallVector<Value>> outInDims = inputDims(outIn);
    outInDims[4] = {batch, numChunks}; // the states
    Value batchBlocks =
        arith::MulIOp::create(rw, loc, batch, idx(po.valueBlocks()));
    DispatchOp outD = createDispatch(
        rw, loc, out, {numChunks, idx(p.valueHeads), batchBlocks}, outIn,
        outInDims, {op.getO().getType()}, {tokenDims(op.getO().getType())});
    rw.replaceOp(op, {outD.getResult(0), stateD.getResult(2)});
    return success();
  }

  int64_t chunk, blockV, outputBlockV, numWarps, stateNumWarps, stateStages;
  bool parallelChunks;
};

struct ChunkDeltaRulePass
    : public hyla::impl::ChunkDeltaRuleBase<ChunkDeltaRulePass> {
  using ChunkDeltaRuleBase::ChunkDeltaRuleBase;

  void runOnOperation() override {
    if (chunkSize < 1 || blockV < 1 || outputBlockV < 0 || numWarps < 1 ||
        stateNumWarps < 1 || stateStages < 2 || stateStages > 8) {
      getOperation().emitError()
          << "hyla-chunk-delta-rule: chunk-size, block-v, num-warps and "
             "state-num-warps must be positive, output-block-v positive or "
             "0, state-stages 2 to 8";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<ChunkDeltaRulePattern>(&getContext(), chunkSize, blockV,
                                        outputBlockV, numWarps, stateNumWarps,
                                        parallelChunks, stateStages);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
