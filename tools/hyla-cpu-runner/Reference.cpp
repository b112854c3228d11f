//===- Reference.cpp - float64 reference semantics of the hyla ops --------===//
//
// Each op is evaluated straight from its definition in HylaOps.td, in
// float64, in the most naive order (the delta rule token by token, attention
// with the full score row). These are the numbers every rewrite is checked
// against.
//
//===----------------------------------------------------------------------===//

#include "Interpreter.h"

#include "dialects/Hyla/HylaOps.h"

#include <cmath>

using namespace mlir;

namespace hyla {
namespace {

HostTensorPtr makeLike(Value result, llvm::ArrayRef<int64_t> shape) {
  auto t = std::make_shared<HostTensor>();
  t->elementType = cast<RankedTensorType>(result.getType()).getElementType();
  t->shape.assign(shape.begin(), shape.end());
  t->values.assign(t->numel(), 0.0);
  return t;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double silu(double x) { return x * sigmoid(x); }
double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

/// 1 / sqrt(s + eps) with s the mean (RMSNorm) or sum (L2 norm) of the
/// squares of the f values at x.
double invNorm(const double *x, int64_t f, double eps, bool mean) {
  double ss = 0;
  for (int64_t j = 0; j < f; ++j)
    ss += x[j] * x[j];
  return 1.0 / std::sqrt((mean ? ss / f : ss) + eps);
}

/// A copy of x with every row of its last dim L2-normalized (as
/// hyla.l2_norm, without rounding).
HostTensorPtr l2Normalized(const HostTensor &x, double eps) {
  auto y = std::make_shared<HostTensor>(x);
  int64_t f = x.shape.back();
  for (size_t r = 0; r < y->values.size(); r += f) {
    double inv = invNorm(&y->values[r], f, eps, /*mean=*/false);
    for (int64_t i = 0; i < f; ++i)
      y->values[r + i] *= inv;
  }
  return y;
}

/// A token range [begin, end) of batch row b: one sequence.
struct Sequence {
  int64_t b, begin, end;
};

/// The sequences of `op`'s B x T tokens: one per batch row, or with `cu`
/// (cu_seqlens, non-decreasing from 0 to T) the ones packed in row 0.
FailureOr<std::vector<Sequence>> sequencesOf(Operation *op, const HostTensor *cu,
                                             int64_t B, int64_t T) {
  std::vector<Sequence> seqs;
  if (!cu) {
    for (int64_t b = 0; b < B; ++b)
      seqs.push_back({b, 0, T});
    return seqs;
  }
  const std::vector<double> &c = cu->values;
  if (c.empty() || c.front() != 0 || c.back() != static_cast<double>(T))
    return op->emitError() << "cu_seqlens must run from 0 to the token count "
                           << T;
  for (size_t n = 0; n + 1 < c.size(); ++n) {
    if (c[n + 1] < c[n])
      return op->emitError()
             << "cu_seqlens must not decrease (entry " << n + 1 << ")";
    seqs.push_back(
        {0, static_cast<int64_t>(c[n]), static_cast<int64_t>(c[n + 1])});
  }
  return seqs;
}

/// x ([B, T, heads, dim], channels = heads * dim) through the causal conv
/// of weight w ([channels, W]) and SiLU, each sequence on its own (tokens
/// before its first read as zero), as hyla.gated_delta_rule's folded conv.
HostTensorPtr convSiluPerSequence(const HostTensor &x, const HostTensor &w,
                                  llvm::ArrayRef<Sequence> seqs) {
  auto y = std::make_shared<HostTensor>(x);
  int64_t tokens = x.shape[1], ch = x.shape[2] * x.shape[3],
          width = w.shape[1];
  for (const Sequence &q : seqs)
    for (int64_t t = q.begin; t < q.end; ++t)
      for (int64_t c = 0; c < ch; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < width; ++j) {
          int64_t s = t - width + 1 + j;
          if (s >= q.begin)
            acc += w.values[c * width + j] *
                   x.values[(q.b * tokens + s) * ch + c];
        }
        y->values[(q.b * tokens + t) * ch + c] = silu(acc);
      }
  return y;
}

/// The gated delta rule for value head h of batch row b over tokens
/// [begin, end), updating the [K, V] state `s` in place and writing o.
/// q, k: [B, T, H, K]; v, o: [B, T, HV, V]; g, beta: [B, T, HV].
void deltaRuleTokens(double *s, const HostTensor &q, const HostTensor &k,
                     const HostTensor &v, const HostTensor &g,
                     const HostTensor &beta, int64_t b, int64_t h,
                     int64_t begin, int64_t end, double scale, HostTensor &o) {
  int64_t T = q.shape[1], H = q.shape[2], K = q.shape[3], HV = v.shape[2],
          V = v.shape[3], hk = h / (HV / H);
  std::vector<double> kv(V), delta(V);
  for (int64_t t = begin; t < end; ++t) {
    const double *qt = &q.values[((b * T + t) * H + hk) * K];
    const double *kt = &k.values[((b * T + t) * H + hk) * K];
    const double *vt = &v.values[((b * T + t) * HV + h) * V];
    double decay = std::exp(g.values[(b * T + t) * HV + h]);
    double bt = beta.values[(b * T + t) * HV + h];
    for (int64_t i = 0; i < K * V; ++i)
      s[i] *= decay;
    std::fill(kv.begin(), kv.end(), 0.0);
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < V; ++j)
        kv[j] += s[i * V + j] * kt[i];
    for (int64_t j = 0; j < V; ++j)
      delta[j] = bt * (vt[j] - kv[j]);
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < V; ++j)
        s[i * V + j] += kt[i] * delta[j];
    double *ot = &o.values[((b * T + t) * HV + h) * V];
    for (int64_t j = 0; j < V; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < K; ++i)
        acc += s[i * V + j] * qt[i] * scale;
      ot[j] = acc;
    }
  }
}

/// A slot table names distinct slots of a cache of `numSlots`.
LogicalResult checkSlots(Operation *op, const HostTensor &slots,
                         int64_t numSlots) {
  std::vector<int64_t> firstUse(numSlots, -1);
  for (size_t b = 0; b < slots.values.size(); ++b) {
    int64_t slot = static_cast<int64_t>(slots.values[b]);
    if (slot < 0 || slot >= numSlots)
      return op->emitError() << "slot " << slot << " of batch element " << b
                             << " is outside the cache's " << numSlots
                             << " slots";
    if (firstUse[slot] >= 0)
      return op->emitError() << "batch elements " << firstUse[slot] << " and "
                             << b << " both use slot " << slot;
    firstUse[slot] = static_cast<int64_t>(b);
  }
  return success();
}

/// out += softmax(scale q . k_s) v_s over keys s < end, in float64; key s
/// at keys + s * keyStride, value s at values + s * valueStride; `p` holds
/// at least `end` scores.
void attendRow(const double *q, const double *keys, const double *values,
               int64_t keyStride, int64_t valueStride, int64_t end, int64_t D,
               int64_t DV, double scale, std::vector<double> &p, double *out) {
  double mx = -INFINITY;
  for (int64_t s = 0; s < end; ++s) {
    const double *ks = keys + s * keyStride;
    double dot = 0;
    for (int64_t i = 0; i < D; ++i)
      dot += q[i] * ks[i];
    p[s] = dot * scale;
    mx = std::max(mx, p[s]);
  }
  double sum = 0;
  for (int64_t s = 0; s < end; ++s)
    sum += p[s] = std::exp(p[s] - mx);
  for (int64_t s = 0; s < end; ++s) {
    const double *vs = values + s * valueStride;
    for (int64_t j = 0; j < DV; ++j)
      out[j] += p[s] / sum * vs[j];
  }
}

/// Rows of the last dim: calls fn(row offset) for each row.
template <typename Fn> void forRows(const HostTensor &t, Fn fn) {
  int64_t f = t.shape.back();
  for (int64_t r = 0; r < t.numel() / f; ++r)
    fn(r * f);
}

} // namespace

LogicalResult ReferenceInterpreter::evalOp(Operation *op) {
  if (failed(evalHylaOp(op)))
    return failure();
  if (roundResults)
    for (Value r : op->getResults())
      if (HostTensorPtr t = tensor(r))
        for (double &v : t->values)
          v = roundTo(t->elementType, v);
  return success();
}

LogicalResult ReferenceInterpreter::evalHylaOp(Operation *op) {
  if (auto e = dyn_cast<EmbeddingOp>(op)) {
    HostTensorPtr table = tensor(e.getTable()), ids = tensor(e.getIds());
    int64_t vocab = table->shape[0], hidden = table->shape[1];
    llvm::SmallVector<int64_t> shape(ids->shape);
    shape.push_back(hidden);
    HostTensorPtr out = makeLike(e, shape);
    for (int64_t i = 0; i < ids->numel(); ++i) {
      int64_t id = static_cast<int64_t>(ids->values[i]);
      if (id < 0 || id >= vocab)
        continue;
      for (int64_t j = 0; j < hidden; ++j)
        out->values[i * hidden + j] = table->values[id * hidden + j];
    }
    set(e, out);
    return success();
  }

  if (auto n = dyn_cast<RMSNormOp>(op)) {
    HostTensorPtr x = tensor(n.getInput()), w = tensor(n.getWeight());
    double eps = n.getEpsilon().convertToDouble();
    HostTensorPtr out = makeLike(n, x->shape);
    int64_t f = x->shape.back();
    forRows(*x, [&](int64_t o) {
      double inv = invNorm(&x->values[o], f, eps, /*mean=*/true);
      for (int64_t j = 0; j < f; ++j)
        out->values[o + j] = w->values[j] * x->values[o + j] * inv;
    });
    set(n, out);
    return success();
  }

  if (auto n = dyn_cast<L2NormOp>(op)) {
    HostTensorPtr x = tensor(n.getInput());
    double eps = n.getEpsilon().convertToDouble();
    HostTensorPtr out = makeLike(n, x->shape);
    int64_t f = x->shape.back();
    forRows(*x, [&](int64_t o) {
      double inv = invNorm(&x->values[o], f, eps, /*mean=*/false);
      for (int64_t j = 0; j < f; ++j)
        out->values[o + j] = x->values[o + j] * inv;
    });
    set(n, out);
    return success();
  }

  if (auto n = dyn_cast<GatedRMSNormOp>(op)) {
    HostTensorPtr x = tensor(n.getInput()), gate = tensor(n.getGate()),
                  w = tensor(n.getWeight());
    double eps = n.getEpsilon().convertToDouble();
    HostTensorPtr out = makeLike(n, x->shape);
    int64_t f = x->shape.back();
    forRows(*x, [&](int64_t o) {
      double inv = invNorm(&x->values[o], f, eps, /*mean=*/true);
      for (int64_t j = 0; j < f; ++j)
        out->values[o + j] =
            w->values[j] * x->values[o + j] * inv * silu(gate->values[o + j]);
    });
    set(n, out);
    return success();
  }

  if (auto l = dyn_cast<LinearOp>(op)) {
    HostTensorPtr x = tensor(l.getInput()), w = tensor(l.getWeight());
    int64_t n = w->shape[0], k = w->shape[1];
    llvm::SmallVector<int64_t> shape(x->shape);
    shape.back() = n;
    HostTensorPtr out = makeLike(l, shape);
    int64_t rows = x->numel() / k;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < k; ++i)
          acc += x->values[r * k + i] * w->values[j * k + i];
        out->values[r * n + j] = acc;
      }
    set(l, out);
    return success();
  }

  if (auto c = dyn_cast<CausalConv1DOp>(op)) {
    HostTensorPtr x = tensor(c.getInput()), w = tensor(c.getWeight());
    int64_t batch = x->shape[0], tokens = x->shape[1], ch = x->shape[2],
            width = w->shape[1];
    bool act = c.getActivation() == "silu";
    // Each sequence (a batch row, or a packed one) reads zero before its
    // first token.
    FailureOr<std::vector<Sequence>> seqs = sequencesOf(
        op, c.getCuSeqlens() ? tensor(c.getCuSeqlens()).get() : nullptr,
        batch, tokens);
    if (failed(seqs))
      return failure();
    HostTensorPtr out = makeLike(c, x->shape);
    for (const Sequence &sq : *seqs)
      for (int64_t t = sq.begin; t < sq.end; ++t)
        for (int64_t q = 0; q < ch; ++q) {
          double acc = 0;
          for (int64_t j = 0; j < width; ++j) {
            int64_t s = t - width + 1 + j;
            if (s >= sq.begin)
              acc += w->values[q * width + j] *
                     x->values[(sq.b * tokens + s) * ch + q];
          }
          out->values[(sq.b * tokens + t) * ch + q] = act ? silu(acc) : acc;
        }
    set(c, out);
    return success();
  }

  if (auto st = dyn_cast<SequenceTailOp>(op)) {
    HostTensorPtr x = tensor(st.getInput());
    int64_t tokens = x->shape[1], f = x->shape[2],
            count = static_cast<int64_t>(st.getCount());
    FailureOr<std::vector<Sequence>> seqs =
        sequencesOf(op, tensor(st.getCuSeqlens()).get(), 1, tokens);
    if (failed(seqs))
      return failure();
    int64_t n = static_cast<int64_t>(seqs->size());
    HostTensorPtr out = makeLike(st, {n, count, f});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < count; ++r) {
        int64_t t = (*seqs)[i].end - count + r;
        if (t < (*seqs)[i].begin)
          continue;
        for (int64_t j = 0; j < f; ++j)
          out->values[(i * count + r) * f + j] = x->values[t * f + j];
      }
    set(st, out);
    return success();
  }

  if (auto ws = dyn_cast<WriteSlotsOp>(op)) {
    HostTensorPtr cache = tensor(ws.getCache()), slots = tensor(ws.getSlots()),
                  values = tensor(ws.getValues());
    int64_t entry = cache->numel() / cache->shape[0];
    if (failed(checkSlots(op, *slots, cache->shape[0])))
      return failure();
    if (static_cast<int64_t>(slots->values.size()) != values->shape[0])
      return op->emitError() << "slots names " << slots->values.size()
                             << " entries but values has " << values->shape[0];
    auto updated = std::make_shared<HostTensor>(*cache);
    for (size_t n = 0; n < slots->values.size(); ++n) {
      int64_t slot = static_cast<int64_t>(slots->values[n]);
      std::copy_n(&values->values[n * entry], entry,
                  &updated->values[slot * entry]);
    }
    set(ws.getNewCache(), updated);
    return success();
  }

  if (auto ws = dyn_cast<WriteSequencesOp>(op)) {
    HostTensorPtr cache = tensor(ws.getCache()), slots = tensor(ws.getSlots()),
                  x = tensor(ws.getInput());
    int64_t positions = cache->shape[1];
    int64_t token = cache->numel() / (cache->shape[0] * positions);
    FailureOr<std::vector<Sequence>> seqs = sequencesOf(
        op, tensor(ws.getCuSeqlens()).get(), 1, x->shape[1]);
    if (failed(seqs) || failed(checkSlots(op, *slots, cache->shape[0])))
      return failure();
    if (seqs->size() != slots->values.size())
      return op->emitError() << "cu_seqlens names " << seqs->size()
                             << " sequences but slots has "
                             << slots->values.size();
    auto updated = std::make_shared<HostTensor>(*cache);
    for (size_t n = 0; n < seqs->size(); ++n) {
      const Sequence &sq = (*seqs)[n];
      if (sq.end - sq.begin > positions)
        return op->emitError() << "sequence " << n << " has "
                               << sq.end - sq.begin
                               << " tokens; the cache holds " << positions;
      int64_t slot = static_cast<int64_t>(slots->values[n]);
      for (int64_t t = sq.begin; t < sq.end; ++t)
        std::copy_n(&x->values[t * token], token,
                    &updated->values[(slot * positions + t - sq.begin) * token]);
    }
    set(ws.getNewCache(), updated);
    return success();
  }

  if (auto g = dyn_cast<GdnGatesOp>(op)) {
    HostTensorPtr a = tensor(g.getA()), b = tensor(g.getB()),
                  aLog = tensor(g.getALog()), dt = tensor(g.getDtBias());
    double scale = g.getBetaScale().convertToDouble();
    HostTensorPtr gOut = makeLike(g.getG(), a->shape);
    HostTensorPtr betaOut = makeLike(g.getBeta(), a->shape);
    int64_t h = a->shape.back();
    for (int64_t i = 0; i < a->numel(); ++i) {
      int64_t head = i % h;
      gOut->values[i] = -std::exp(aLog->values[head]) *
                        softplus(a->values[i] + dt->values[head]);
      betaOut->values[i] = scale * sigmoid(b->values[i]);
    }
    set(g.getG(), gOut);
    set(g.getBeta(), betaOut);
    return success();
  }

  if (auto d = dyn_cast<GatedDeltaRuleOp>(op)) {
    HostTensorPtr q = tensor(d.getQ()), k = tensor(d.getK()),
                  v = tensor(d.getV()), g = tensor(d.getG()),
                  beta = tensor(d.getBeta());
    HostTensorPtr h0 = d.getInitialState() ? tensor(d.getInitialState())
                                           : HostTensorPtr();
    int64_t B = q->shape[0], T = q->shape[1], K = q->shape[3],
            HV = v->shape[2], V = v->shape[3];
    double scale = d.getScale().convertToDouble();
    // The sequences: one per batch row, or the packed ones of cu_seqlens.
    FailureOr<std::vector<Sequence>> packed = sequencesOf(
        op, d.getCuSeqlens() ? tensor(d.getCuSeqlens()).get() : nullptr, B, T);
    if (failed(packed))
      return failure();
    std::vector<Sequence> seqs = std::move(*packed);
    if (d.hasConv()) {
      q = convSiluPerSequence(*q, *tensor(d.getQConvWeight()), seqs);
      k = convSiluPerSequence(*k, *tensor(d.getKConvWeight()), seqs);
      v = convSiluPerSequence(*v, *tensor(d.getVConvWeight()), seqs);
    }
    if (std::optional<APFloat> eps = d.getQkL2normEpsilon()) {
      q = l2Normalized(*q, eps->convertToDouble());
      k = l2Normalized(*k, eps->convertToDouble());
    }
    if (d.hasGates()) {
      HostTensorPtr aLog = tensor(d.getALog()), dt = tensor(d.getDtBias());
      double betaScale = d.getBetaScale()->convertToDouble();
      auto gg = std::make_shared<HostTensor>(*g);
      auto bb = std::make_shared<HostTensor>(*beta);
      for (int64_t i = 0; i < gg->numel(); ++i) {
        int64_t head = i % HV;
        gg->values[i] = -std::exp(aLog->values[head]) *
                        softplus(g->values[i] + dt->values[head]);
        bb->values[i] = betaScale * sigmoid(beta->values[i]);
      }
      g = gg;
      beta = bb;
    }
    int64_t N = static_cast<int64_t>(seqs.size());
    HostTensorPtr o = makeLike(d.getO(), v->shape);
    HostTensorPtr hT = makeLike(d.getFinalState(), {N, HV, K, V});
    std::vector<double> s(K * V);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < HV; ++h) {
        for (int64_t i = 0; i < K * V; ++i)
          s[i] = h0 ? h0->values[(n * HV + h) * K * V + i] : 0.0;
        deltaRuleTokens(s.data(), *q, *k, *v, *g, *beta, seqs[n].b, h,
                        seqs[n].begin, seqs[n].end, scale, *o);
        for (int64_t i = 0; i < K * V; ++i)
          hT->values[(n * HV + h) * K * V + i] = s[i];
      }
    if (d.hasOutputNorm()) {
      HostTensorPtr gate = tensor(d.getOutputGate()),
                    w = tensor(d.getOutputNormWeight());
      double eps = d.getOutputNormEpsilon()->convertToDouble();
      forRows(*o, [&](int64_t r) {
        double inv = invNorm(&o->values[r], V, eps, /*mean=*/true);
        for (int64_t j = 0; j < V; ++j)
          o->values[r + j] = w->values[j] * o->values[r + j] * inv *
                             silu(gate->values[r + j]);
      });
    }
    set(d.getO(), o);
    set(d.getFinalState(), hT);
    return success();
  }

  if (auto d = dyn_cast<GatedDeltaRuleCachedOp>(op)) {
    HostTensorPtr q = tensor(d.getQ()), k = tensor(d.getK()),
                  v = tensor(d.getV()), g = tensor(d.getG()),
                  beta = tensor(d.getBeta()), cache = tensor(d.getCache()),
                  slots = tensor(d.getSlots());
    int64_t B = q->shape[0], T = q->shape[1], K = q->shape[3],
            HV = v->shape[2], V = v->shape[3], NS = cache->shape[0];
    double scale = d.getScale().convertToDouble();
    if (std::optional<APFloat> eps = d.getQkL2normEpsilon()) {
      q = l2Normalized(*q, eps->convertToDouble());
      k = l2Normalized(*k, eps->convertToDouble());
    }
    HostTensorPtr o = makeLike(d.getO(), v->shape);
    auto updated = std::make_shared<HostTensor>(*cache);
    if (failed(checkSlots(op, *slots, NS)))
      return failure();
    for (int64_t b = 0; b < B; ++b) {
      int64_t slot = static_cast<int64_t>(slots->values[b]);
      for (int64_t h = 0; h < HV; ++h)
        deltaRuleTokens(&updated->values[(slot * HV + h) * K * V], *q, *k, *v,
                        *g, *beta, b, h, 0, T, scale, *o);
    }
    set(d.getO(), o);
    set(d.getNewCache(), updated);
    return success();
  }

  if (auto c = dyn_cast<CausalConv1DCachedOp>(op)) {
    HostTensorPtr x = tensor(c.getInput()), w = tensor(c.getWeight()),
                  cache = tensor(c.getCache()), slots = tensor(c.getSlots());
    int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2],
            W = w->shape[1], NS = cache->shape[0];
    bool act = c.getActivation() == "silu";
    HostTensorPtr y = makeLike(c.getResult(), x->shape);
    auto updated = std::make_shared<HostTensor>(*cache);
    if (failed(checkSlots(op, *slots, NS)))
      return failure();
    for (int64_t b = 0; b < B; ++b) {
      int64_t slot = static_cast<int64_t>(slots->values[b]);
      // Position p of (the W-1 cached inputs, then the T new tokens).
      auto input = [&](int64_t p, int64_t ch) {
        return p < W - 1 ? cache->values[(slot * (W - 1) + p) * C + ch]
                         : x->values[(b * T + p - (W - 1)) * C + ch];
      };
      for (int64_t t = 0; t < T; ++t)
        for (int64_t ch = 0; ch < C; ++ch) {
          double acc = 0;
          for (int64_t j = 0; j < W; ++j)
            acc += w->values[ch * W + j] * input(t + j, ch);
          y->values[(b * T + t) * C + ch] = act ? silu(acc) : acc;
        }
      for (int64_t r = 0; r + 1 < W; ++r)
        for (int64_t ch = 0; ch < C; ++ch)
          updated->values[(slot * (W - 1) + r) * C + ch] = input(T + r, ch);
    }
    set(c.getResult(), y);
    set(c.getNewCache(), updated);
    return success();
  }

  if (auto r = dyn_cast<RopeOp>(op)) {
    HostTensorPtr x = tensor(r.getInput());
    int64_t B = x->shape[0], T = x->shape[1], H = x->shape[2], D = x->shape[3],
            half = D / 2;
    double theta = r.getTheta().convertToDouble();
    HostTensorPtr offsets = r.getOffsets() ? tensor(r.getOffsets()) : nullptr;
    // Packed sequences count positions from their own first tokens.
    FailureOr<std::vector<Sequence>> seqs = sequencesOf(
        op, r.getCuSeqlens() ? tensor(r.getCuSeqlens()).get() : nullptr, B, T);
    if (failed(seqs))
      return failure();
    HostTensorPtr out = makeLike(r, x->shape);
    for (const Sequence &sq : *seqs)
      for (int64_t t = sq.begin; t < sq.end; ++t)
        for (int64_t h = 0; h < H; ++h) {
          int64_t b = sq.b;
          const double *xi = &x->values[((b * T + t) * H + h) * D];
          double *yo = &out->values[((b * T + t) * H + h) * D];
          double position =
              t - sq.begin + (offsets ? offsets->values[b] : 0.0);
          for (int64_t i = 0; i < half; ++i) {
            double a = position * std::pow(theta, -2.0 * i / D);
            yo[i] = xi[i] * std::cos(a) - xi[i + half] * std::sin(a);
            yo[i + half] = xi[i + half] * std::cos(a) + xi[i] * std::sin(a);
          }
        }
    set(r, out);
    return success();
  }

  if (auto a = dyn_cast<AttentionOp>(op)) {
    HostTensorPtr q = tensor(a.getQ()), k = tensor(a.getK()),
                  v = tensor(a.getV());
    int64_t B = q->shape[0], T = q->shape[1], HQ = q->shape[2],
            D = q->shape[3], S = k->shape[1], HKV = k->shape[2],
            DV = v->shape[3];
    double scale = a.getScale().convertToDouble();
    bool causal = a.getCausal();
    // The sequences: one per batch row, or the packed ones of cu_seqlens
    // (queries and keys at the same tokens).
    bool packed = static_cast<bool>(a.getCuSeqlens());
    FailureOr<std::vector<Sequence>> seqs = sequencesOf(
        op, packed ? tensor(a.getCuSeqlens()).get() : nullptr, B, T);
    if (failed(seqs))
      return failure();
    HostTensorPtr out = makeLike(a, {B, T, HQ, DV});
    std::vector<double> p(S);
    // Query t of batch row b attends keys [first, end) of that row.
    auto attend = [&](int64_t b, int64_t t, int64_t first, int64_t end) {
      for (int64_t h = 0; h < HQ; ++h) {
        int64_t hk = h / (HQ / HKV);
        attendRow(&q->values[((b * T + t) * HQ + h) * D],
                  &k->values[((b * S + first) * HKV + hk) * D],
                  &v->values[((b * S + first) * HKV + hk) * DV], HKV * D,
                  HKV * DV, end - first, D, DV, scale, p,
                  &out->values[((b * T + t) * HQ + h) * DV]);
      }
    };
    // A packed sequence's keys are its own tokens; a batch row's are all
    // S of that row.
    for (const Sequence &sq : *seqs)
      for (int64_t t = sq.begin; t < sq.end; ++t) {
        int64_t end = packed ? sq.end : S;
        attend(sq.b, t, sq.begin, causal ? std::min(end, t + 1) : end);
      }
    set(a, out);
    return success();
  }

  if (auto a = dyn_cast<AttentionCachedOp>(op)) {
    HostTensorPtr q = tensor(a.getQ()), k = tensor(a.getK()),
                  v = tensor(a.getV()), kc = tensor(a.getKCache()),
                  vc = tensor(a.getVCache()), slots = tensor(a.getSlots()),
                  lengths = tensor(a.getLengths());
    int64_t B = q->shape[0], T = q->shape[1], HQ = q->shape[2],
            D = q->shape[3], HKV = k->shape[2], DV = v->shape[3],
            NS = kc->shape[0], L = kc->shape[1];
    double scale = a.getScale().convertToDouble();
    if (failed(checkSlots(op, *slots, NS)))
      return failure();
    for (int64_t b = 0; b < B; ++b) {
      int64_t len = static_cast<int64_t>(lengths->values[b]);
      if (len < 0 || len + T > L)
        return op->emitError()
               << "batch element " << b << " has " << len
               << " cached tokens: with " << T << " new ones that is outside "
               << "the cache's " << L << " positions";
    }
    auto newK = std::make_shared<HostTensor>(*kc);
    auto newV = std::make_shared<HostTensor>(*vc);
    HostTensorPtr out = makeLike(a.getResult(), {B, T, HQ, DV});
    std::vector<double> p(L);
    for (int64_t b = 0; b < B; ++b) {
      int64_t slot = static_cast<int64_t>(slots->values[b]);
      int64_t len = static_cast<int64_t>(lengths->values[b]);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < HKV; ++h) {
          for (int64_t i = 0; i < D; ++i)
            newK->values[((slot * L + len + t) * HKV + h) * D + i] =
                k->values[((b * T + t) * HKV + h) * D + i];
          for (int64_t i = 0; i < DV; ++i)
            newV->values[((slot * L + len + t) * HKV + h) * DV + i] =
                v->values[((b * T + t) * HKV + h) * DV + i];
        }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < HQ; ++h) {
          int64_t hk = h / (HQ / HKV);
          attendRow(&q->values[((b * T + t) * HQ + h) * D],
                    &newK->values[(slot * L * HKV + hk) * D],
                    &newV->values[(slot * L * HKV + hk) * DV], HKV * D,
                    HKV * DV, len + t + 1, D, DV, scale, p,
                    &out->values[((b * T + t) * HQ + h) * DV]);
        }
    }
    set(a.getResult(), out);
    set(a.getNewKCache(), newK);
    set(a.getNewVCache(), newV);
    return success();
  }

  if (auto s = dyn_cast<SiluMulOp>(op)) {
    HostTensorPtr g = tensor(s.getGate()), u = tensor(s.getUp());
    HostTensorPtr out = makeLike(s, g->shape);
    for (int64_t i = 0; i < g->numel(); ++i)
      out->values[i] = silu(g->values[i]) * u->values[i];
    set(s, out);
    return success();
  }

  if (auto s = dyn_cast<AddOp>(op)) {
    HostTensorPtr x = tensor(s.getLhs()), y = tensor(s.getRhs());
    HostTensorPtr out = makeLike(s, x->shape);
    for (int64_t i = 0; i < x->numel(); ++i)
      out->values[i] = x->values[i] + y->values[i];
    set(s, out);
    return success();
  }

  return op->emitError("the float64 reference cannot evaluate this op");
}

} // namespace hyla
