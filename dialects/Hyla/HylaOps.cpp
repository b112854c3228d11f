//===- HylaOps.cpp - hyla graph operations --------------------------------===//
//
// Verifiers name the operand, the dimension and both sizes, so a bad graph
// (hand-written or imported) is rejected with a message that says what to fix.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Hyla/HylaDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace hyla;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// Sizes agree when either is dynamic or both are equal.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string sizeStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Checks that `t` has rank `rank`; `what` names the value in the message.
LogicalResult expectRank(Operation *op, StringRef what, RankedTensorType t,
                         int64_t rank, StringRef layout) {
  if (t.getRank() == rank)
    return success();
  return op->emitOpError() << what << " must have rank " << rank << " ("
                           << layout << ") but has rank " << t.getRank();
}

/// Checks that dimension `ad` of `a` and `bd` of `b` agree.
LogicalResult expectSameDim(Operation *op, StringRef aName, RankedTensorType a,
                            int64_t ad, StringRef bName, RankedTensorType b,
                            int64_t bd, StringRef meaning) {
  if (compatible(a.getDimSize(ad), b.getDimSize(bd)))
    return success();
  return op->emitOpError() << meaning << " mismatch: " << aName << " dim "
                           << ad << " is " << sizeStr(a.getDimSize(ad))
                           << " but " << bName << " dim " << bd << " is "
                           << sizeStr(b.getDimSize(bd));
}

/// Checks that `b` has the shape of `a` (dims compatible) and, when
/// `sameElement`, the same element type.
LogicalResult expectSameShape(Operation *op, StringRef aName,
                              RankedTensorType a, StringRef bName,
                              RankedTensorType b, bool sameElement) {
  if (a.getRank() != b.getRank())
    return op->emitOpError() << bName << " must have the rank of " << aName
                             << " (" << a.getRank() << ") but has rank "
                             << b.getRank();
  for (int64_t d = 0; d < a.getRank(); ++d)
    if (failed(expectSameDim(op, aName, a, d, bName, b, d, "shape")))
      return failure();
  if (sameElement && a.getElementType() != b.getElementType())
    return op->emitOpError() << bName << " element type " << b.getElementType()
                             << " must match " << aName << " element type "
                             << a.getElementType();
  return success();
}

LogicalResult expectStaticDim(Operation *op, StringRef what,
                              RankedTensorType t, int64_t d,
                              StringRef meaning) {
  if (!t.isDynamicDim(d))
    return success();
  return op->emitOpError() << what << " dim " << d << " (" << meaning
                           << ") must be static";
}

/// Result dims of `resultType`, each dynamic one read from `sources[d]`
/// (a value and its dimension).
SmallVector<OpFoldResult>
reifyDims(OpBuilder &b, Location loc, RankedTensorType resultType,
          ArrayRef<std::pair<Value, int64_t>> sources) {
  SmallVector<OpFoldResult> dims;
  for (int64_t d = 0; d < resultType.getRank(); ++d) {
    if (!resultType.isDynamicDim(d)) {
      dims.push_back(b.getIndexAttr(resultType.getDimSize(d)));
      continue;
    }
    auto [src, srcDim] = sources[d];
    dims.push_back(tensor::getMixedSize(b, loc, src, srcDim));
  }
  return dims;
}

/// Result dims equal to the dims of `src`.
SmallVector<OpFoldResult> reifyLike(OpBuilder &b, Location loc,
                                    RankedTensorType resultType, Value src) {
  SmallVector<std::pair<Value, int64_t>> sources;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    sources.push_back({src, d});
  return reifyDims(b, loc, resultType, sources);
}

/// Packed sequences: `cu` ([N + 1] offsets) along the tokens of a batch
/// of one, whose leading dim `tokens` carries.
LogicalResult verifyPackedSequences(Operation *op, RankedTensorType cu,
                                           RankedTensorType tokens) {
  if (failed(expectRank(op, "cu_seqlens", cu, 1, "[sequences + 1]")))
    return failure();
  if (!tokens.isDynamicDim(0) && tokens.getDimSize(0) != 1)
    return op->emitOpError() << "with cu_seqlens the batch dim must be 1 (the "
                                "sequences are packed along tokens), got "
                             << tokens.getDimSize(0);
  if (!cu.isDynamicDim(0) && cu.getDimSize(0) < 1)
    return op->emitOpError("cu_seqlens needs at least one entry");
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult AddOp::verify() { return success(); }
LogicalResult AddOp::reifyResultShapes(OpBuilder &b,
                                       ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getLhs()));
  return success();
}

LogicalResult SiluMulOp::verify() { return success(); }
LogicalResult SiluMulOp::reifyResultShapes(OpBuilder &b,
                                           ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getGate()));
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType(), ids = getIds().getType(),
                   result = getType();
  if (failed(expectRank(*this, "table", table, 2, "[vocab, hidden]")))
    return failure();
  if (failed(expectStaticDim(*this, "table", table, 1, "hidden size")))
    return failure();
  if (result.getRank() != ids.getRank() + 1)
    return emitOpError() << "result must have rank " << ids.getRank() + 1
                         << " (ids rank + 1) but has rank "
                         << result.getRank();
  for (int64_t d = 0; d < ids.getRank(); ++d)
    if (failed(expectSameDim(*this, "ids", ids, d, "result", result, d,
                             "token shape")))
      return failure();
  if (failed(expectSameDim(*this, "table", table, 1, "result", result,
                           result.getRank() - 1, "hidden size")))
    return failure();
  if (table.getElementType() != result.getElementType())
    return emitOpError() << "result element type " << result.getElementType()
                         << " must match table element type "
                         << table.getElementType();
  return success();
}

LogicalResult
EmbeddingOp::reifyResultShapes(OpBuilder &b,
                               ReifiedRankedShapedTypeDims &dims) {
  SmallVector<std::pair<Value, int64_t>> src;
  for (int64_t d = 0; d < getIds().getType().getRank(); ++d)
    src.push_back({getIds(), d});
  src.push_back({getTable(), 1});
  dims.push_back(reifyDims(b, getLoc(), getType(), src));
  return success();
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

/// Norm ops normalize the last dim of `input` with a `[D]` weight.
static LogicalResult verifyNormWeight(Operation *op, RankedTensorType input,
                                      RankedTensorType weight) {
  if (input.getRank() < 1)
    return op->emitOpError("input must have rank >= 1");
  if (failed(expectStaticDim(op, "input", input, input.getRank() - 1,
                             "normalized size")))
    return failure();
  if (failed(expectRank(op, "weight", weight, 1, "[normalized size]")))
    return failure();
  return expectSameDim(op, "weight", weight, 0, "input", input,
                       input.getRank() - 1, "normalized size");
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyNormWeight(*this, getInput().getType(),
                              getWeight().getType())))
    return failure();
  return expectSameShape(*this, "input", getInput().getType(), "result",
                         getType(), /*sameElement=*/true);
}

LogicalResult RMSNormOp::reifyResultShapes(OpBuilder &b,
                                           ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getInput()));
  return success();
}

LogicalResult L2NormOp::verify() {
  RankedTensorType input = getInput().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (failed(expectStaticDim(*this, "input", input, input.getRank() - 1,
                             "normalized size")))
    return failure();
  // The result may be wider (bf16 in, f32 out keeps the normalized values).
  return expectSameShape(*this, "input", input, "result", getType(),
                         /*sameElement=*/false);
}

LogicalResult L2NormOp::reifyResultShapes(OpBuilder &b,
                                          ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getInput()));
  return success();
}

LogicalResult GatedRMSNormOp::verify() {
  if (failed(verifyNormWeight(*this, getInput().getType(),
                              getWeight().getType())))
    return failure();
  if (failed(expectSameShape(*this, "input", getInput().getType(), "gate",
                             getGate().getType(), /*sameElement=*/false)))
    return failure();
  return expectSameShape(*this, "input", getInput().getType(), "result",
                         getType(), /*sameElement=*/true);
}

LogicalResult
GatedRMSNormOp::reifyResultShapes(OpBuilder &b,
                                  ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getInput()));
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType input = getInput().getType(),
                   weight = getWeight().getType(), result = getType();
  if (input.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  int64_t r = input.getRank();
  if (failed(expectRank(*this, "weight", weight, 2, "[out features, in features]")))
    return failure();
  if (failed(expectStaticDim(*this, "input", input, r - 1, "in features")))
    return failure();
  if (!compatible(weight.getDimSize(1), input.getDimSize(r - 1)))
    return emitOpError() << "weight has " << sizeStr(weight.getDimSize(1))
                         << " in features (dim 1) but input's last dim is "
                         << sizeStr(input.getDimSize(r - 1));
  if (result.getRank() != r)
    return emitOpError() << "result must have the rank of input (" << r
                         << ") but has rank " << result.getRank();
  for (int64_t d = 0; d + 1 < r; ++d)
    if (failed(expectSameDim(*this, "input", input, d, "result", result, d,
                             "leading shape")))
      return failure();
  if (!compatible(weight.getDimSize(0), result.getDimSize(r - 1)))
    return emitOpError() << "weight has " << sizeStr(weight.getDimSize(0))
                         << " out features (dim 0) but result's last dim is "
                         << sizeStr(result.getDimSize(r - 1));
  if (input.getElementType() != weight.getElementType() ||
      input.getElementType() != result.getElementType())
    return emitOpError() << "input, weight and result must share one element "
                            "type, got "
                         << input.getElementType() << ", "
                         << weight.getElementType() << ", "
                         << result.getElementType();
  return success();
}

LogicalResult LinearOp::reifyResultShapes(OpBuilder &b,
                                          ReifiedRankedShapedTypeDims &dims) {
  SmallVector<std::pair<Value, int64_t>> src;
  int64_t r = getType().getRank();
  for (int64_t d = 0; d + 1 < r; ++d)
    src.push_back({getInput(), d});
  src.push_back({getWeight(), 0});
  dims.push_back(reifyDims(b, getLoc(), getType(), src));
  return success();
}

//===----------------------------------------------------------------------===//
// CausalConv1DOp
//===----------------------------------------------------------------------===//

LogicalResult CausalConv1DOp::verify() {
  RankedTensorType input = getInput().getType(), weight = getWeight().getType();
  if (failed(expectRank(*this, "input", input, 3, "[batch, tokens, channels]")))
    return failure();
  if (failed(expectRank(*this, "weight", weight, 2, "[channels, kernel size]")))
    return failure();
  if (failed(expectStaticDim(*this, "input", input, 2, "channels")) ||
      failed(expectStaticDim(*this, "weight", weight, 1, "kernel size")))
    return failure();
  if (failed(expectSameDim(*this, "weight", weight, 0, "input", input, 2,
                           "channel count")))
    return failure();
  if (weight.getDimSize(1) < 1)
    return emitOpError("kernel size (weight dim 1) must be at least 1");
  StringRef act = getActivation();
  if (act != "none" && act != "silu")
    return emitOpError() << "activation must be \"none\" or \"silu\" but is \""
                         << act << "\"";
  if (getCuSeqlens() &&
      failed(verifyPackedSequences(*this, getCuSeqlens().getType(), input)))
    return failure();
  return expectSameShape(*this, "input", input, "result", getType(),
                         /*sameElement=*/true);
}

LogicalResult
CausalConv1DOp::reifyResultShapes(OpBuilder &b,
                                  ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getInput()));
  return success();
}

//===----------------------------------------------------------------------===//
// GdnGatesOp
//===----------------------------------------------------------------------===//

LogicalResult GdnGatesOp::verify() {
  RankedTensorType a = getA().getType(), b = getB().getType();
  if (failed(expectRank(*this, "a", a, 3, "[batch, tokens, heads]")))
    return failure();
  if (failed(expectStaticDim(*this, "a", a, 2, "heads")))
    return failure();
  if (failed(expectSameShape(*this, "a", a, "b", b, /*sameElement=*/false)))
    return failure();
  for (auto [name, v] : {std::pair<StringRef, Value>{"a_log", getALog()},
                         {"dt_bias", getDtBias()}}) {
    RankedTensorType t = tensorType(v);
    if (failed(expectRank(*this, name, t, 1, "[heads]")) ||
        failed(expectSameDim(*this, name, t, 0, "a", a, 2, "head count")))
      return failure();
  }
  if (failed(expectSameShape(*this, "a", a, "g", getG().getType(), false)) ||
      failed(expectSameShape(*this, "a", a, "beta", getBeta().getType(), false)))
    return failure();
  return success();
}

LogicalResult GdnGatesOp::reifyResultShapes(OpBuilder &b,
                                            ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getG().getType(), getA()));
  dims.push_back(reifyLike(b, getLoc(), getBeta().getType(), getA()));
  return success();
}

//===----------------------------------------------------------------------===//
// GatedDeltaRuleOp
//===----------------------------------------------------------------------===//

/// The per-token operands every delta-rule op shares: q, k [B, T, H, K];
/// v and o [B, T, HV, V] with HV a multiple of H; g, beta [B, T, HV].
static LogicalResult verifyDeltaRuleTokens(Operation *op, Value qv, Value kv,
                                           Value vv, Value gv, Value betav,
                                           Value ov) {
  auto type = [](Value x) { return cast<RankedTensorType>(x.getType()); };
  RankedTensorType q = type(qv), k = type(kv), v = type(vv), g = type(gv),
                   beta = type(betav);
  if (failed(expectRank(op, "q", q, 4, "[batch, tokens, heads, key dim]")) ||
      failed(expectRank(op, "v", v, 4,
                        "[batch, tokens, value heads, value dim]")) ||
      failed(expectRank(op, "g", g, 3, "[batch, tokens, value heads]")) ||
      failed(expectRank(op, "beta", beta, 3, "[batch, tokens, value heads]")))
    return failure();
  if (failed(expectSameShape(op, "q", q, "k", k, /*sameElement=*/true)))
    return failure();
  for (int64_t d : {2, 3})
    if (failed(expectStaticDim(op, "q", q, d, d == 2 ? "heads" : "key dim")) ||
        failed(expectStaticDim(op, "v", v, d,
                               d == 2 ? "value heads" : "value dim")))
      return failure();
  if (failed(expectSameDim(op, "q", q, 0, "v", v, 0, "batch")) ||
      failed(expectSameDim(op, "q", q, 1, "v", v, 1, "token count")))
    return failure();
  int64_t h = q.getDimSize(2), hv = v.getDimSize(2);
  if (hv % h != 0)
    return op->emitOpError() << "value heads (" << hv
                         << ") must be a multiple of query/key heads (" << h
                         << ")";
  for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"g", g},
                         {"beta", beta}})
    for (int64_t d = 0; d < 3; ++d)
      if (failed(expectSameDim(op, "v", v, d, name, t, d,
                               d == 2 ? "value heads" : "leading shape")))
        return failure();
  return expectSameShape(op, "v", v, "o", type(ov), /*sameElement=*/true);
}

LogicalResult GatedDeltaRuleOp::verify() {
  RankedTensorType q = getQ().getType(), v = getV().getType();
  if (failed(verifyDeltaRuleTokens(*this, getQ(), getK(), getV(), getG(),
                                   getBeta(), getO())))
    return failure();
  RankedTensorType cu;
  if (getCuSeqlens()) {
    cu = getCuSeqlens().getType();
    if (failed(verifyPackedSequences(*this, cu, v)))
      return failure();
  }
  auto checkState = [&](StringRef name, RankedTensorType s) -> LogicalResult {
    if (failed(expectRank(*this, name, s, 4,
                          cu ? "[sequences, value heads, key dim, value dim]"
                             : "[batch, value heads, key dim, value dim]")))
      return failure();
    if (cu) {
      if (!cu.isDynamicDim(0) && !s.isDynamicDim(0) &&
          s.getDimSize(0) != cu.getDimSize(0) - 1)
        return emitOpError() << name << " has " << s.getDimSize(0)
                             << " sequences but cu_seqlens names "
                             << cu.getDimSize(0) - 1;
    } else if (failed(expectSameDim(*this, "v", v, 0, name, s, 0, "batch"))) {
      return failure();
    }
    if (failed(expectSameDim(*this, "v", v, 2, name, s, 1, "value heads")) ||
        failed(expectSameDim(*this, "q", q, 3, name, s, 2, "key dim")) ||
        failed(expectSameDim(*this, "v", v, 3, name, s, 3, "value dim")))
      return failure();
    return success();
  };
  if (getInitialState() &&
      failed(checkState("initial_state", getInitialState().getType())))
    return failure();
  if (failed(checkState("final_state", getFinalState().getType())))
    return failure();
  return verifyFusedNeighbours();
}

/// The folded-in convs, gates and output norm: all of a group or none, in
/// the shapes the description gives.
LogicalResult GatedDeltaRuleOp::verifyFusedNeighbours() {
  RankedTensorType q = getQ().getType(), v = getV().getType();
  auto expectWeight = [&](StringRef name, Value w, int64_t channels,
                          StringRef layout) -> LogicalResult {
    auto t = cast<RankedTensorType>(w.getType());
    if (failed(expectRank(*this, name, t, 2, layout)))
      return failure();
    if (t.isDynamicDim(0) || t.isDynamicDim(1) || t.getDimSize(0) != channels ||
        t.getDimSize(1) < 1)
      return emitOpError() << name << " must be " << layout << " = ["
                           << channels << ", W >= 1] but is " << t;
    return success();
  };
  int64_t convs = !!getQConvWeight() + !!getKConvWeight() + !!getVConvWeight();
  if (convs != 0 && convs != 3)
    return emitOpError("conv needs all three weights (q, k, v)");
  if (hasConv()) {
    int64_t qk = q.getDimSize(2) * q.getDimSize(3),
            vc = v.getDimSize(2) * v.getDimSize(3);
    if (failed(expectWeight("q conv weight", getQConvWeight(), qk,
                            "[heads * key dim, width]")) ||
        failed(expectWeight("k conv weight", getKConvWeight(), qk,
                            "[heads * key dim, width]")) ||
        failed(expectWeight("v conv weight", getVConvWeight(), vc,
                            "[value heads * value dim, width]")))
      return failure();
  }
  if (!!getALog() != !!getDtBias() || hasGates() != !!getBetaScaleAttr())
    return emitOpError(
        "gates need a_log, dt_bias and beta_scale together");
  if (hasGates()) {
    int64_t hv = v.getDimSize(2);
    for (auto [name, p] : {std::pair<StringRef, Value>{"a_log", getALog()},
                           {"dt_bias", getDtBias()}}) {
      auto t = cast<RankedTensorType>(p.getType());
      if (t.getRank() != 1 || t.getDimSize(0) != hv)
        return emitOpError() << name << " must be [value heads] = [" << hv
                             << "] but is " << t;
    }
  } else {
    for (auto [name, x] : {std::pair<StringRef, Value>{"g", getG()},
                           {"beta", getBeta()}})
      if (!cast<RankedTensorType>(x.getType()).getElementType().isF32())
        return emitOpError() << name
                             << " must be f32 (only raw gates, with "
                                "gates(a_log, dt_bias), may be another type)";
  }
  if (!!getOutputGate() != !!getOutputNormWeight() ||
      hasOutputNorm() != !!getOutputNormEpsilonAttr())
    return emitOpError("output_norm needs gate, weight and "
                       "output_norm_epsilon together");
  if (hasOutputNorm()) {
    if (failed(expectSameShape(*this, "v", v, "output gate",
                               getOutputGate().getType(), /*sameElement=*/false)))
      return failure();
    RankedTensorType w = getOutputNormWeight().getType();
    if (w.getRank() != 1 || w.getDimSize(0) != v.getDimSize(3))
      return emitOpError() << "output norm weight must be [value dim] = ["
                           << v.getDimSize(3) << "] but is " << w;
  }
  return success();
}

LogicalResult
GatedDeltaRuleOp::reifyResultShapes(OpBuilder &b,
                                    ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getO().getType(), getV()));
  SmallVector<OpFoldResult> state =
      reifyDims(b, getLoc(), getFinalState().getType(),
                {{getV(), 0}, {getV(), 2}, {getQ(), 3}, {getV(), 3}});
  // Packed sequences: one state per sequence, len(cu_seqlens) - 1.
  if (getCuSeqlens() && getFinalState().getType().isDynamicDim(0)) {
    Value n = tensor::DimOp::create(b, getLoc(), getCuSeqlens(), 0);
    state[0] = arith::SubIOp::create(
                   b, getLoc(), n, arith::ConstantIndexOp::create(b, getLoc(), 1))
                   .getResult();
  }
  dims.push_back(state);
  return success();
}

//===----------------------------------------------------------------------===//
// Cached (decode) ops
//===----------------------------------------------------------------------===//

/// `slots` is [B] and the cache and its update share one type.
static LogicalResult verifySlots(Operation *op, RankedTensorType slots,
                                 RankedTensorType tokens,
                                 RankedTensorType cache,
                                 RankedTensorType newCache) {
  if (failed(expectRank(op, "slots", slots, 1, "[batch]")) ||
      failed(expectSameDim(op, "slots", slots, 0, "input", tokens, 0,
                           "batch")))
    return failure();
  if (cache != newCache)
    return op->emitOpError() << "new_cache type " << newCache
                             << " must equal cache type " << cache;
  return success();
}

LogicalResult GatedDeltaRuleCachedOp::verify() {
  RankedTensorType q = getQ().getType(), v = getV().getType(),
                   cache = getCache().getType();
  if (failed(verifyDeltaRuleTokens(*this, getQ(), getK(), getV(), getG(),
                                   getBeta(), getO())))
    return failure();
  if (failed(expectRank(*this, "cache", cache, 4,
                        "[slots, value heads, key dim, value dim]")) ||
      failed(expectSameDim(*this, "v", v, 2, "cache", cache, 1,
                           "value heads")) ||
      failed(expectSameDim(*this, "q", q, 3, "cache", cache, 2, "key dim")) ||
      failed(expectSameDim(*this, "v", v, 3, "cache", cache, 3, "value dim")))
    return failure();
  return verifySlots(*this, getSlots().getType(), q, cache,
                     getNewCache().getType());
}

LogicalResult
GatedDeltaRuleCachedOp::reifyResultShapes(OpBuilder &b,
                                          ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getO().getType(), getV()));
  dims.push_back(reifyLike(b, getLoc(), getNewCache().getType(), getCache()));
  return success();
}

LogicalResult CausalConv1DCachedOp::verify() {
  RankedTensorType input = getInput().getType(),
                   weight = getWeight().getType(),
                   cache = getCache().getType();
  if (failed(expectRank(*this, "input", input, 3, "[batch, tokens, channels]")) ||
      failed(expectRank(*this, "weight", weight, 2, "[channels, kernel size]")) ||
      failed(expectStaticDim(*this, "input", input, 2, "channels")) ||
      failed(expectStaticDim(*this, "weight", weight, 1, "kernel size")) ||
      failed(expectSameDim(*this, "weight", weight, 0, "input", input, 2,
                           "channel count")))
    return failure();
  int64_t width = weight.getDimSize(1);
  if (width < 2)
    return emitOpError("a cached conv needs kernel size (weight dim 1) >= 2");
  StringRef act = getActivation();
  if (act != "none" && act != "silu")
    return emitOpError() << "activation must be \"none\" or \"silu\" but is \""
                         << act << "\"";
  if (failed(expectSameShape(*this, "input", input, "result", getResult().getType(),
                             /*sameElement=*/true)))
    return failure();
  if (failed(expectRank(*this, "cache", cache, 3,
                        "[slots, kernel size - 1, channels]")) ||
      failed(expectSameDim(*this, "input", input, 2, "cache", cache, 2,
                           "channel count")))
    return failure();
  if (!cache.isDynamicDim(1) && cache.getDimSize(1) != width - 1)
    return emitOpError() << "cache dim 1 must hold kernel size - 1 = "
                         << width - 1 << " inputs but is "
                         << cache.getDimSize(1);
  if (cache.getElementType() != input.getElementType())
    return emitOpError() << "cache element type " << cache.getElementType()
                         << " must match input element type "
                         << input.getElementType();
  return verifySlots(*this, getSlots().getType(), input, cache,
                     getNewCache().getType());
}

LogicalResult
CausalConv1DCachedOp::reifyResultShapes(OpBuilder &b,
                                        ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getResult().getType(), getInput()));
  dims.push_back(reifyLike(b, getLoc(), getNewCache().getType(), getCache()));
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType input = getInput().getType();
  if (failed(expectRank(*this, "input", input, 4,
                        "[batch, tokens, heads, head dim]")) ||
      failed(expectStaticDim(*this, "input", input, 3, "head dim")))
    return failure();
  if (input.getDimSize(3) % 2 != 0)
    return emitOpError() << "head dim must be even but is "
                         << input.getDimSize(3);
  if (getOffsets() && getCuSeqlens())
    return emitOpError("takes offsets (a batch of continued sequences) or "
                       "cu_seqlens (packed sequences), not both");
  if (getCuSeqlens() &&
      failed(verifyPackedSequences(*this, getCuSeqlens().getType(), input)))
    return failure();
  if (Value offsets = getOffsets()) {
    auto t = cast<RankedTensorType>(offsets.getType());
    if (failed(expectRank(*this, "offsets", t, 1, "[batch]")) ||
        failed(expectSameDim(*this, "offsets", t, 0, "input", input, 0,
                             "batch")))
      return failure();
  }
  return expectSameShape(*this, "input", input, "result", getType(),
                         /*sameElement=*/true);
}

LogicalResult RopeOp::reifyResultShapes(OpBuilder &b,
                                        ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getInput()));
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

/// The q, k, v and result checks that `hyla.attention` and
/// `hyla.attention_cached` share: [B, tokens, heads, head dim] tensors with
/// static heads and head dims, GQA head counts, one element type.
static LogicalResult verifyAttentionOperands(Operation *op, RankedTensorType q,
                                             RankedTensorType k,
                                             RankedTensorType v,
                                             RankedTensorType result) {
  for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"q", q},
                         {"k", k},
                         {"v", v}}) {
    if (failed(expectRank(op, name, t, 4, "[batch, tokens, heads, head dim]")) ||
        failed(expectStaticDim(op, name, t, 2, "heads")) ||
        failed(expectStaticDim(op, name, t, 3, "head dim")))
      return failure();
  }
  if (failed(expectSameDim(op, "q", q, 0, "k", k, 0, "batch")) ||
      failed(expectSameDim(op, "k", k, 0, "v", v, 0, "batch")) ||
      failed(expectSameDim(op, "k", k, 1, "v", v, 1, "key token count")) ||
      failed(expectSameDim(op, "k", k, 2, "v", v, 2, "kv heads")) ||
      failed(expectSameDim(op, "q", q, 3, "k", k, 3, "head dim")))
    return failure();
  int64_t hq = q.getDimSize(2), hkv = k.getDimSize(2);
  if (hq % hkv != 0)
    return op->emitOpError() << "query heads (" << hq
                             << ") must be a multiple of kv heads (" << hkv
                             << ")";
  if (q.getElementType() != k.getElementType() ||
      q.getElementType() != v.getElementType())
    return op->emitOpError()
           << "q, k and v must share one element type, got "
           << q.getElementType() << ", " << k.getElementType() << ", "
           << v.getElementType();
  if (failed(expectRank(op, "result", result, 4,
                        "[batch, tokens, heads, value dim]")))
    return failure();
  for (int64_t d = 0; d < 3; ++d)
    if (failed(expectSameDim(op, "q", q, d, "result", result, d, "shape")))
      return failure();
  if (failed(expectSameDim(op, "v", v, 3, "result", result, 3, "value dim")))
    return failure();
  if (result.getElementType() != q.getElementType())
    return op->emitOpError()
           << "result element type " << result.getElementType()
           << " must match q element type " << q.getElementType();
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQ().getType(), k = getK().getType();
  if (failed(verifyAttentionOperands(*this, q, k, getV().getType(), getType())))
    return failure();
  if (getCausal() &&
      failed(expectSameDim(*this, "q", q, 1, "k", k, 1,
                           "causal attention token count")))
    return failure();
  if (Value cu = getCuSeqlens())
    if (failed(verifyPackedSequences(
            *this, cast<RankedTensorType>(cu.getType()), q)) ||
        failed(expectSameDim(*this, "q", q, 1, "k", k, 1,
                             "packed token count")))
      return failure();
  return success();
}

LogicalResult
AttentionOp::reifyResultShapes(OpBuilder &b,
                               ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyDims(b, getLoc(), getType(),
                           {{getQ(), 0}, {getQ(), 1}, {getQ(), 2}, {getV(), 3}}));
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionCachedOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionCachedOp::verify() {
  RankedTensorType q = getQ().getType(), k = getK().getType(),
                   v = getV().getType(), kc = getKCache().getType(),
                   vc = getVCache().getType();
  if (failed(verifyAttentionOperands(*this, q, k, v, getResult().getType())) ||
      failed(expectSameDim(*this, "q", q, 1, "k", k, 1, "new token count")))
    return failure();
  if (failed(expectRank(*this, "k_cache", kc, 4,
                        "[slots, max tokens, kv heads, head dim]")) ||
      failed(expectRank(*this, "v_cache", vc, 4,
                        "[slots, max tokens, kv heads, value dim]")) ||
      failed(expectSameDim(*this, "k", k, 2, "k_cache", kc, 2, "kv heads")) ||
      failed(expectSameDim(*this, "k", k, 3, "k_cache", kc, 3, "head dim")) ||
      failed(expectSameDim(*this, "v", v, 2, "v_cache", vc, 2, "kv heads")) ||
      failed(expectSameDim(*this, "v", v, 3, "v_cache", vc, 3, "value dim")) ||
      failed(expectSameDim(*this, "k_cache", kc, 0, "v_cache", vc, 0,
                           "slot count")) ||
      failed(expectSameDim(*this, "k_cache", kc, 1, "v_cache", vc, 1,
                           "max tokens")))
    return failure();
  if (kc.getElementType() != k.getElementType() ||
      vc.getElementType() != v.getElementType())
    return emitOpError() << "caches must hold the element type of k and v ("
                         << k.getElementType() << "), got "
                         << kc.getElementType() << " and "
                         << vc.getElementType();
  RankedTensorType lengths = getLengths().getType();
  if (failed(expectRank(*this, "lengths", lengths, 1, "[batch]")) ||
      failed(expectSameDim(*this, "lengths", lengths, 0, "q", q, 0, "batch")))
    return failure();
  if (failed(verifySlots(*this, getSlots().getType(), q, kc,
                         getNewKCache().getType())))
    return failure();
  if (vc != getNewVCache().getType())
    return emitOpError() << "new_v_cache type " << getNewVCache().getType()
                         << " must equal v_cache type " << vc;
  return success();
}

LogicalResult
AttentionCachedOp::reifyResultShapes(OpBuilder &b,
                                     ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyDims(b, getLoc(), getResult().getType(),
                           {{getQ(), 0}, {getQ(), 1}, {getQ(), 2}, {getV(), 3}}));
  dims.push_back(reifyLike(b, getLoc(), getNewKCache().getType(), getKCache()));
  dims.push_back(reifyLike(b, getLoc(), getNewVCache().getType(), getVCache()));
  return success();
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

static unsigned countDynamicDims(TypeRange types) {
  unsigned n = 0;
  for (Type t : types)
    n += cast<RankedTensorType>(t).getNumDynamicDims();
  return n;
}

static ValueRange dynamicDimsOf(TypeRange types, ValueRange dims, unsigned i) {
  unsigned start = countDynamicDims(types.take_front(i));
  unsigned n = cast<RankedTensorType>(types[i]).getNumDynamicDims();
  return dims.slice(start, n);
}

ValueRange DispatchOp::getInputDynamicDims(unsigned i) {
  return dynamicDimsOf(getInputs().getTypes(), getInputDims(), i);
}

ValueRange DispatchOp::getResultDynamicDims(unsigned i) {
  return dynamicDimsOf(getResultTypes(), getResultDims(), i);
}

int64_t DispatchOp::getTiedInput(unsigned i) {
  std::optional<ArrayRef<int64_t>> tied = getTiedResults();
  return tied ? (*tied)[i] : -1;
}

LogicalResult DispatchOp::verify() {
  if (getGrid().size() != 3)
    return emitOpError() << "grid must have 3 sizes but has "
                         << getGrid().size();
  unsigned wantIn = countDynamicDims(getInputs().getTypes());
  if (getInputDims().size() != wantIn)
    return emitOpError() << "inputs have " << wantIn
                         << " dynamic dims but " << getInputDims().size()
                         << " sizes are given";
  unsigned wantOut = countDynamicDims(getResultTypes());
  if (getResultDims().size() != wantOut)
    return emitOpError() << "results have " << wantOut
                         << " dynamic dims but " << getResultDims().size()
                         << " sizes are given";
  if (std::optional<ArrayRef<int64_t>> tied = getTiedResults()) {
    if (tied->size() != getNumResults())
      return emitOpError() << "tied_results must have one entry per result ("
                           << getNumResults() << ") but has " << tied->size();
    llvm::SmallDenseSet<int64_t> seen;
    for (auto [i, j] : llvm::enumerate(*tied)) {
      if (j < 0)
        continue;
      if (j >= static_cast<int64_t>(getInputs().size()))
        return emitOpError() << "result " << i << " is tied to input " << j
                             << " but there are " << getInputs().size()
                             << " inputs";
      if (!seen.insert(j).second)
        return emitOpError() << "input " << j << " is tied to two results";
      if (getResult(i).getType() != getInputs()[j].getType())
        return emitOpError() << "result " << i << " of type "
                             << getResult(i).getType()
                             << " cannot update input " << j << " of type "
                             << getInputs()[j].getType() << " in place";
    }
  }
  return success();
}

LogicalResult
DispatchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto fn = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(*this,
                                                              getKernelAttr());
  if (!fn)
    return emitOpError() << "kernel " << getKernelAttr()
                         << " is not a func.func in this module";
  if (!fn->hasAttr("hyla_tile.kernel"))
    return emitOpError() << "kernel " << getKernelAttr()
                         << " is not marked hyla_tile.kernel";
  FunctionType ft = fn.getFunctionType();
  unsigned want = getInputs().size() + getNumResults();
  if (ft.getNumInputs() != want || ft.getNumResults() != 0)
    return emitOpError() << "kernel " << getKernelAttr() << " must take "
                         << want << " memrefs (inputs, then results) and "
                         << "return nothing, but its type is " << ft;
  SmallVector<Type> tensors(getInputs().getTypes());
  llvm::append_range(tensors, getResultTypes());
  for (auto [i, pair] : llvm::enumerate(llvm::zip(tensors, ft.getInputs()))) {
    auto [t, m] = pair;
    auto tt = cast<RankedTensorType>(t);
    auto mt = dyn_cast<MemRefType>(m);
    if (!mt || mt.getShape() != tt.getShape() ||
        mt.getElementType() != tt.getElementType())
      return emitOpError() << "kernel argument " << i << " has type " << m
                           << " but the dispatch passes " << t;
  }
  return success();
}

LogicalResult DispatchOp::reifyResultShapes(OpBuilder &b,
                                            ReifiedRankedShapedTypeDims &dims) {
  for (unsigned i = 0; i < getNumResults(); ++i) {
    auto t = cast<RankedTensorType>(getResult(i).getType());
    ValueRange dyn = getResultDynamicDims(i);
    SmallVector<OpFoldResult> rdims;
    unsigned k = 0;
    for (int64_t d = 0; d < t.getRank(); ++d)
      rdims.push_back(t.isDynamicDim(d) ? OpFoldResult(dyn[k++])
                                        : b.getIndexAttr(t.getDimSize(d)));
    dims.push_back(rdims);
  }
  return success();
}

// Custom form:
//   hyla.dispatch @k[%x, %y, %z](%a, %b) {attrs}
//       : (tensor<?x4xf32>{%d}, tensor<4xf32>) -> (tensor<?x4xf32>{%d})

static ParseResult
parseTypesWithDims(OpAsmParser &parser, SmallVectorImpl<Type> &types,
                   SmallVectorImpl<OpAsmParser::UnresolvedOperand> &dims) {
  if (parser.parseLParen())
    return failure();
  if (succeeded(parser.parseOptionalRParen()))
    return success();
  do {
    Type t;
    if (parser.parseType(t))
      return failure();
    types.push_back(t);
    if (succeeded(parser.parseOptionalLBrace())) {
      if (parser.parseOperandList(dims) || parser.parseRBrace())
        return failure();
    }
  } while (succeeded(parser.parseOptionalComma()));
  return parser.parseRParen();
}

ParseResult DispatchOp::parse(OpAsmParser &parser, OperationState &result) {
  FlatSymbolRefAttr kernel;
  SmallVector<OpAsmParser::UnresolvedOperand> grid, inputs, inDims, outDims;
  SmallVector<Type> inTypes, outTypes;
  if (parser.parseAttribute(kernel, "kernel", result.attributes) ||
      parser.parseOperandList(grid, OpAsmParser::Delimiter::Square) ||
      parser.parseOperandList(inputs, OpAsmParser::Delimiter::Paren) ||
      parser.parseOptionalAttrDict(result.attributes) || parser.parseColon())
    return failure();
  llvm::SMLoc typesLoc = parser.getCurrentLocation();
  if (parseTypesWithDims(parser, inTypes, inDims) || parser.parseArrow() ||
      parseTypesWithDims(parser, outTypes, outDims))
    return failure();
  Type index = parser.getBuilder().getIndexType();
  if (parser.resolveOperands(grid, index, result.operands) ||
      parser.resolveOperands(inputs, inTypes, typesLoc, result.operands) ||
      parser.resolveOperands(inDims, index, result.operands) ||
      parser.resolveOperands(outDims, index, result.operands))
    return failure();
  result.addTypes(outTypes);
  result.addAttribute(getOperandSegmentSizesAttrName(result.name),
                      parser.getBuilder().getDenseI32ArrayAttr(
                          {static_cast<int32_t>(grid.size()),
                           static_cast<int32_t>(inputs.size()),
                           static_cast<int32_t>(inDims.size()),
                           static_cast<int32_t>(outDims.size())}));
  return success();
}

static void printTypesWithDims(OpAsmPrinter &p, TypeRange types,
                               ValueRange dims) {
  p << "(";
  unsigned k = 0;
  llvm::interleaveComma(types, p, [&](Type t) {
    p << t;
    unsigned n = cast<RankedTensorType>(t).getNumDynamicDims();
    if (n == 0 || k + n > dims.size())
      return;
    p << "{";
    p.printOperands(dims.slice(k, n));
    p << "}";
    k += n;
  });
  p << ")";
}

void DispatchOp::print(OpAsmPrinter &p) {
  p << " ";
  p.printAttributeWithoutType(getKernelAttr());
  p << "[";
  p.printOperands(getGrid());
  p << "](";
  p.printOperands(getInputs());
  p << ")";
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getKernelAttrName(), getOperandSegmentSizesAttrName()});
  p << " : ";
  printTypesWithDims(p, getInputs().getTypes(), getInputDims());
  p << " -> ";
  printTypesWithDims(p, getResultTypes(), getResultDims());
}

#define GET_OP_CLASSES
#include "dialects/Hyla/HylaOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Prefill into per-slot caches
//===----------------------------------------------------------------------===//

/// [N] slots against the N of a [N + 1] cu_seqlens or of a [N, ...]
/// values tensor (`what` names it, `n` its sequence count or dynamic).
static LogicalResult verifySlotTable(Operation *op, RankedTensorType slots,
                                     int64_t n, StringRef what) {
  if (failed(expectRank(op, "slots", slots, 1, "[sequences]")))
    return failure();
  if (!compatible(slots.getDimSize(0), n))
    return op->emitOpError() << "slots names " << slots.getDimSize(0)
                             << " sequences but " << what << " has "
                             << n;
  return success();
}

/// The sequence count a [N + 1] cu_seqlens names, or dynamic.
static int64_t sequencesOf(RankedTensorType cu) {
  return cu.isDynamicDim(0) ? ShapedType::kDynamic : cu.getDimSize(0) - 1;
}

/// The cache's update has the cache's type.
static LogicalResult verifyNewCache(Operation *op, RankedTensorType cache,
                                    RankedTensorType newCache) {
  if (cache != newCache)
    return op->emitOpError() << "new_cache type " << newCache
                             << " must equal cache type " << cache;
  return success();
}

LogicalResult SequenceTailOp::verify() {
  RankedTensorType input = getInput().getType(), cu = getCuSeqlens().getType(),
                   result = getType();
  if (failed(expectRank(*this, "input", input, 3, "[1, tokens, features]")) ||
      failed(verifyPackedSequences(*this, cu, input)) ||
      failed(expectRank(*this, "result", result, 3,
                        "[sequences, count, features]")) ||
      failed(expectSameDim(*this, "input", input, 2, "result", result, 2,
                           "feature count")))
    return failure();
  if (!compatible(result.getDimSize(0), sequencesOf(cu)))
    return emitOpError() << "result has " << sizeStr(result.getDimSize(0))
                         << " sequences but cu_seqlens names "
                         << sequencesOf(cu);
  if (result.getDimSize(1) != getCount())
    return emitOpError() << "result dim 1 must be count = " << getCount()
                         << " but is " << sizeStr(result.getDimSize(1));
  if (result.getElementType() != input.getElementType())
    return emitOpError() << "result element type " << result.getElementType()
                         << " must match input element type "
                         << input.getElementType();
  return success();
}

LogicalResult
SequenceTailOp::reifyResultShapes(OpBuilder &b,
                                  ReifiedRankedShapedTypeDims &dims) {
  SmallVector<OpFoldResult> shape =
      reifyDims(b, getLoc(), getType(),
                {{getCuSeqlens(), 0}, {getInput(), 1}, {getInput(), 2}});
  if (getType().isDynamicDim(0))
    shape[0] = arith::SubIOp::create(
                   b, getLoc(),
                   tensor::DimOp::create(b, getLoc(), getCuSeqlens(), 0),
                   arith::ConstantIndexOp::create(b, getLoc(), 1))
                   .getResult();
  dims.push_back(shape);
  return success();
}

LogicalResult WriteSlotsOp::verify() {
  RankedTensorType cache = getCache().getType(),
                   values = getValues().getType();
  if (cache.getRank() < 2)
    return emitOpError() << "cache must have rank 2 or more ([slots, ...]) "
                            "but has rank "
                         << cache.getRank();
  if (values.getRank() != cache.getRank())
    return emitOpError() << "values must have the rank of cache ("
                         << cache.getRank() << ") but has rank "
                         << values.getRank();
  for (int64_t d = 1; d < cache.getRank(); ++d)
    if (failed(expectSameDim(*this, "values", values, d, "cache", cache, d,
                             "entry shape")))
      return failure();
  if (values.getElementType() != cache.getElementType())
    return emitOpError() << "values element type " << values.getElementType()
                         << " must match cache element type "
                         << cache.getElementType();
  if (failed(verifySlotTable(*this, getSlots().getType(),
                             values.getDimSize(0), "values")))
    return failure();
  return verifyNewCache(*this, cache, getNewCache().getType());
}

LogicalResult
WriteSlotsOp::reifyResultShapes(OpBuilder &b,
                                ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getCache()));
  return success();
}

LogicalResult WriteSequencesOp::verify() {
  RankedTensorType cache = getCache().getType(), input = getInput().getType(),
                   cu = getCuSeqlens().getType();
  if (cache.getRank() < 3)
    return emitOpError() << "cache must have rank 3 or more ([slots, "
                            "positions, ...]) but has rank "
                         << cache.getRank();
  if (input.getRank() != cache.getRank())
    return emitOpError() << "input must have the rank of cache ("
                         << cache.getRank() << ") but has rank "
                         << input.getRank();
  for (int64_t d = 2; d < cache.getRank(); ++d)
    if (failed(expectSameDim(*this, "input", input, d, "cache", cache, d,
                             "token shape")))
      return failure();
  if (input.getElementType() != cache.getElementType())
    return emitOpError() << "input element type " << input.getElementType()
                         << " must match cache element type "
                         << cache.getElementType();
  if (failed(verifyPackedSequences(*this, cu, input)) ||
      failed(verifySlotTable(*this, getSlots().getType(), sequencesOf(cu),
                             "cu_seqlens")))
    return failure();
  return verifyNewCache(*this, cache, getNewCache().getType());
}

LogicalResult
WriteSequencesOp::reifyResultShapes(OpBuilder &b,
                                    ReifiedRankedShapedTypeDims &dims) {
  dims.push_back(reifyLike(b, getLoc(), getType(), getCache()));
  return success();
}
