//===- ConfigImporter.cpp - Hugging Face config.json -> hyla graph IR -----===//
//
// Reads an Olmo Hybrid config.json (transformers' OlmoHybridConfig: the
// same keys, the same defaults) and writes the whole model as hyla ops:
// embedding, 32 layers where layer i is attention when i % 4 == 3 (or as
// `layer_types` says), final norm, LM head. GDN layers are pre-norm;
// attention layers are post-norm (OLMo 2/3): see shared/notes/olmo-hybrid.md.
//
//===----------------------------------------------------------------------===//

#include "ConfigImporter.h"

#include "dialects/Hyla/HylaOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
namespace json = llvm::json;

namespace hyla {
namespace {

std::string describe(const json::Value &v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  switch (v.kind()) {
  case json::Value::Null: os << "null"; break;
  case json::Value::Boolean: os << "a boolean"; break;
  case json::Value::Number: os << "a number"; break;
  case json::Value::String: os << "a string"; break;
  case json::Value::Array: os << "an array"; break;
  case json::Value::Object: os << "an object"; break;
  }
  if (v.kind() != json::Value::Object && v.kind() != json::Value::Array) {
    std::string text;
    llvm::raw_string_ostream t(text);
    t << v;
    if (text.size() > 40)
      text = text.substr(0, 40) + "...";
    os << " (" << text << ")";
  }
  return s;
}

/// Field access with errors that name the file, the field and what was
/// expected. Every problem is reported, not only the first.
class ConfigReader {
public:
  ConfigReader(StringRef path, const json::Object &obj) : path(path), obj(obj) {}

  bool ok() const { return valid; }
  void error(const Twine &msg) {
    llvm::errs() << path << ": error: " << msg << "\n";
    valid = false;
  }

  /// A positive integer; `fallback` when absent or null (error if none).
  int64_t positiveInt(StringRef key, std::optional<int64_t> fallback) {
    const json::Value *v = obj.get(key);
    if (!v || v->kind() == json::Value::Null) {
      if (!fallback)
        error("missing field '" + key + "': expected a positive integer");
      return fallback.value_or(1);
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i) {
      error("field '" + key + "': expected a positive integer, got " +
            describe(*v));
      return 1;
    }
    if (*i <= 0) {
      error("field '" + key + "': expected a positive integer, got " +
            Twine(*i));
      return 1;
    }
    return *i;
  }

  double positiveNumber(StringRef key, std::optional<double> fallback) {
    const json::Value *v = obj.get(key);
    if (!v || v->kind() == json::Value::Null) {
      if (!fallback)
        error("missing field '" + key + "': expected a positive number");
      return fallback.value_or(1.0);
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !(*d > 0) || !std::isfinite(*d)) {
      error("field '" + key + "': expected a positive number, got " +
            describe(*v));
      return 1.0;
    }
    return *d;
  }

  bool boolean(StringRef key, bool fallback) {
    const json::Value *v = obj.get(key);
    if (!v || v->kind() == json::Value::Null)
      return fallback;
    std::optional<bool> b = v->getAsBoolean();
    if (!b) {
      error("field '" + key + "': expected true or false, got " + describe(*v));
      return fallback;
    }
    return *b;
  }

  std::optional<std::string> string(StringRef key) {
    const json::Value *v = obj.get(key);
    if (!v || v->kind() == json::Value::Null)
      return std::nullopt;
    std::optional<StringRef> s = v->getAsString();
    if (!s) {
      error("field '" + key + "': expected a string, got " + describe(*v));
      return std::nullopt;
    }
    return s->str();
  }

  const json::Value *get(StringRef key) { return obj.get(key); }
  StringRef file() const { return path; }

private:
  StringRef path;
  const json::Object &obj;
  bool valid = true;
};

void readRope(ConfigReader &r, OlmoHybridConfig &c) {
  // transformers 5: `rope_parameters` (or the legacy `rope_theta`); a null
  // theta turns RoPE off, as in the released checkpoints; no key at all
  // means the library default, theta = 10000.
  const json::Value *params = r.get("rope_parameters");
  const json::Value *theta = nullptr;
  bool present = false;
  std::string field = "rope_theta";
  if (params && params->kind() == json::Value::Object) {
    present = true;
    field = "rope_parameters.rope_theta";
    theta = params->getAsObject()->get("rope_theta");
    if (const json::Value *type = params->getAsObject()->get("rope_type")) {
      std::optional<StringRef> t = type->getAsString();
      if (!t || *t != "default")
        r.error("field 'rope_parameters.rope_type': only \"default\" is "
                "supported, got " + describe(*type));
    }
  } else if (params && params->kind() != json::Value::Null) {
    r.error("field 'rope_parameters': expected an object or null, got " +
            describe(*params));
    return;
  }
  if (!present) {
    if (const json::Value *legacy = r.get("rope_theta")) {
      present = true;
      theta = legacy;
    }
  }
  if (!present) {
    c.ropeTheta = 10000.0;
    return;
  }
  if (!theta || theta->kind() == json::Value::Null) {
    c.ropeTheta = std::nullopt;
    return;
  }
  std::optional<double> t = theta->getAsNumber();
  if (!t || !(*t > 0)) {
    r.error("field '" + field + "': expected a positive number or null, got " +
            describe(*theta));
    return;
  }
  c.ropeTheta = *t;
}

void readLayerTypes(ConfigReader &r, OlmoHybridConfig &c) {
  const json::Value *v = r.get("layer_types");
  c.isAttention.assign(c.numLayers, false);
  if (!v || v->kind() == json::Value::Null) {
    for (int64_t i = 0; i < c.numLayers; ++i)
      c.isAttention[i] = i % 4 == 3;
    return;
  }
  const json::Array *a = v->getAsArray();
  if (!a) {
    r.error("field 'layer_types': expected an array of \"linear_attention\" "
            "/ \"full_attention\", got " + describe(*v));
    return;
  }
  if (static_cast<int64_t>(a->size()) != c.numLayers) {
    r.error("field 'layer_types': has " + Twine(a->size()) +
            " entries but num_hidden_layers is " + Twine(c.numLayers));
    return;
  }
  for (auto [i, e] : llvm::enumerate(*a)) {
    std::optional<StringRef> s = e.getAsString();
    if (s && *s == "full_attention")
      c.isAttention[i] = true;
    else if (!s || *s != "linear_attention")
      r.error("field 'layer_types[" + Twine(i) +
              "]': expected \"linear_attention\" or \"full_attention\", got " +
              describe(e));
  }
}

void requireDivisible(ConfigReader &r, StringRef what, int64_t a,
                      StringRef by, int64_t b) {
  if (b > 0 && a % b != 0)
    r.error(Twine(what) + " (" + Twine(a) + ") must be divisible by " + by +
            " (" + Twine(b) + ")");
}

} // namespace

std::optional<OlmoHybridConfig> readOlmoHybridConfig(StringRef path) {
  auto file = llvm::MemoryBuffer::getFile(path);
  if (!file) {
    llvm::errs() << path << ": error: cannot read file: "
                 << file.getError().message() << "\n";
    return std::nullopt;
  }
  llvm::Expected<json::Value> parsed = json::parse((*file)->getBuffer());
  if (!parsed) {
    llvm::errs() << path << ": error: malformed JSON: "
                 << llvm::toString(parsed.takeError()) << "\n";
    return std::nullopt;
  }
  const json::Object *obj = parsed->getAsObject();
  if (!obj) {
    llvm::errs() << path << ": error: expected a JSON object at the top "
                 << "level, got " << describe(*parsed) << "\n";
    return std::nullopt;
  }
  ConfigReader r(path, *obj);
  std::optional<std::string> modelType = r.string("model_type");
  if (!r.ok())
    return std::nullopt;
  if (!modelType) {
    r.error("missing field 'model_type': expected \"olmo_hybrid\"");
    return std::nullopt;
  }
  if (*modelType != "olmo_hybrid") {
    r.error("unknown model_type \"" + *modelType +
            "\": hylac imports \"olmo_hybrid\" configs");
    return std::nullopt;
  }

  OlmoHybridConfig c;
  c.vocabSize = r.positiveInt("vocab_size", std::nullopt);
  c.hiddenSize = r.positiveInt("hidden_size", std::nullopt);
  c.intermediateSize = r.positiveInt("intermediate_size", std::nullopt);
  c.numLayers = r.positiveInt("num_hidden_layers", std::nullopt);
  c.numHeads = r.positiveInt("num_attention_heads", std::nullopt);
  c.numKVHeads = r.positiveInt("num_key_value_heads", c.numHeads);
  c.rmsNormEps = r.positiveNumber("rms_norm_eps", 1e-6);
  if (!r.ok())
    return std::nullopt;
  if (r.get("head_dim") && r.get("head_dim")->kind() != json::Value::Null) {
    c.headDim = r.positiveInt("head_dim", std::nullopt);
  } else {
    requireDivisible(r, "hidden_size", c.hiddenSize, "num_attention_heads",
                     c.numHeads);
    c.headDim = c.hiddenSize / c.numHeads;
  }
  requireDivisible(r, "num_attention_heads", c.numHeads, "num_key_value_heads",
                   c.numKVHeads);
  c.gdnKeyHeads = r.positiveInt("linear_num_key_heads", c.numHeads);
  c.gdnValueHeads = r.positiveInt("linear_num_value_heads", c.gdnKeyHeads);
  int64_t defaultKeyDim =
      static_cast<int64_t>(0.75 * c.hiddenSize / c.numHeads);
  c.gdnKeyDim = r.positiveInt("linear_key_head_dim",
                              std::max<int64_t>(1, defaultKeyDim));
  c.gdnValueDim = r.positiveInt("linear_value_head_dim", 2 * c.gdnKeyDim);
  c.convKernel = r.positiveInt("linear_conv_kernel_dim", 4);
  c.allowNegEigval = r.boolean("linear_allow_neg_eigval", true);
  c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  requireDivisible(r, "linear_num_value_heads", c.gdnValueHeads,
                   "linear_num_key_heads", c.gdnKeyHeads);
  if (r.boolean("attention_bias", false))
    r.error("field 'attention_bias': true is not supported (Olmo Hybrid "
            "attention has no bias)");
  if (std::optional<std::string> act = r.string("hidden_act"))
    if (*act != "silu")
      r.error("field 'hidden_act': only \"silu\" is supported, got \"" + *act +
              "\"");
  for (StringRef key : {"dtype", "torch_dtype"})
    if (std::optional<std::string> dt = r.string(key)) {
      if (*dt != "bfloat16" && *dt != "float32")
        r.error("field '" + key + "': expected \"bfloat16\" or \"float32\", "
                "got \"" + *dt + "\"");
      else
        c.dtype = *dt;
    }
  readRope(r, c);
  if (c.ropeTheta && c.headDim % 2 != 0)
    r.error("RoPE needs an even head dim, got " + Twine(c.headDim));
  readLayerTypes(r, c);
  if (!r.ok())
    return std::nullopt;
  return c;
}

//===----------------------------------------------------------------------===//
// Graph construction
//===----------------------------------------------------------------------===//

namespace {

/// The caches of a `decode` step or a `prefill`: the batch's slots, and
/// for decode the tokens each sequence had before this step, for prefill
/// the packed prompts' offsets (`cuSeqlens`); the cache arguments of the
/// layer being built (GDN: q, k, v conv inputs and the recurrent state;
/// attention: keys and values), replaced by their updated values as the
/// layer is built.
struct DecodeCaches {
  Value slots, lengths;
  Value cuSeqlens; // set for prefill: the prompts packed in one row
  SmallVector<Value> layer;
  SmallVector<Value> updated; // every layer's caches after it, in order
  bool prefill() const { return static_cast<bool>(cuSeqlens); }
};

class GraphBuilder {
public:
  GraphBuilder(OpBuilder &b, Location loc, const OlmoHybridConfig &c,
               Value batch, Value tokens, DecodeCaches *decode = nullptr)
      : b(b), loc(loc), c(c), batch(batch), tokens(tokens), decode(decode),
        actType(c.dtype == "float32" ? Type(b.getF32Type()) : Type(b.getBF16Type())),
        f32(b.getF32Type()) {}

  RankedTensorType act(ArrayRef<int64_t> feature, Type elt) {
    SmallVector<int64_t> shape = {ShapedType::kDynamic, ShapedType::kDynamic};
    shape.append(feature.begin(), feature.end());
    return RankedTensorType::get(shape, elt);
  }

  Value weight(const std::string &name, ArrayRef<int64_t> shape) {
    return WeightOp::create(b, loc, RankedTensorType::get(shape, actType),
                            b.getStringAttr(name));
  }

  Value rmsNorm(Value x, const std::string &w, double eps) {
    auto t = cast<RankedTensorType>(x.getType());
    return RMSNormOp::create(b, loc, t, x, weight(w, {t.getShape().back()}),
                             b.getF64FloatAttr(eps));
  }

  /// A decode step's products have one row a sequence and token: few.
  Value linear(Value x, const std::string &w, int64_t out,
               bool fewRows = false) {
    auto t = cast<RankedTensorType>(x.getType());
    int64_t in = t.getShape().back();
    return LinearOp::create(b, loc, act({out}, actType), x,
                            weight(w, {out, in}),
                            fewRows || (decode && !decode->prefill()));
  }

  /// [B, T, H * D] -> [B, T, H, D]
  Value splitHeads(Value x, int64_t heads, int64_t dim) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<OpFoldResult> sizes = {batch, tokens, b.getIndexAttr(heads),
                                       b.getIndexAttr(dim)};
    return tensor::ExpandShapeOp::create(
        b, loc, act({heads, dim}, t.getElementType()), x,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}, sizes);
  }

  /// [B, T, H, D] -> [B, T, H * D]
  Value mergeHeads(Value x) {
    return tensor::CollapseShapeOp::create(
        b, loc, x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }

  /// The short conv with SiLU; in a decode step from and into conv cache
  /// `cache` of the layer's caches.
  Value conv(Value x, const std::string &w, unsigned cache = 0) {
    auto t = cast<RankedTensorType>(x.getType());
    int64_t ch = t.getShape().back();
    // Checkpoint layout [C, 1, W]; the op takes [C, W].
    Value w3 = weight(w, {ch, 1, c.convKernel});
    Value w2 = tensor::CollapseShapeOp::create(
        b, loc, w3, SmallVector<ReassociationIndices>{{0}, {1, 2}});
    if (!decode)
      return CausalConv1DOp::create(b, loc, t, x, w2, /*cu_seqlens=*/Value(),
                                    b.getStringAttr("silu"));
    Value &state = decode->layer[cache];
    if (decode->prefill()) {
      // Each prompt's last W - 1 inputs go into its slot's conv cache.
      auto stateT = cast<RankedTensorType>(state.getType());
      Value tail = SequenceTailOp::create(
          b, loc,
          RankedTensorType::get({ShapedType::kDynamic, c.convKernel - 1, ch},
                                t.getElementType()),
          x, decode->cuSeqlens, b.getI64IntegerAttr(c.convKernel - 1));
      state = WriteSlotsOp::create(b, loc, stateT, state, decode->slots, tail);
      return CausalConv1DOp::create(b, loc, t, x, w2, decode->cuSeqlens,
                                    b.getStringAttr("silu"));
    }
    auto op = CausalConv1DCachedOp::create(b, loc, t, state.getType(), x, w2,
                                           state, decode->slots,
                                           b.getStringAttr("silu"));
    state = op.getNewCache();
    return op.getResult();
  }

  Value mlp(Value x, const std::string &p) {
    Value gate = linear(x, p + "mlp.gate_proj.weight", c.intermediateSize);
    Value up = linear(x, p + "mlp.up_proj.weight", c.intermediateSize);
    Value h = SiluMulOp::create(b, loc, gate.getType(), gate, up);
    return linear(h, p + "mlp.down_proj.weight", c.hiddenSize);
  }

  Value add(Value x, Value y) { return AddOp::create(b, loc, x.getType(), x, y); }

  Value gdnLayer(Value h, const std::string &p) {
    const int64_t hk = c.gdnKeyHeads, hv = c.gdnValueHeads, dk = c.gdnKeyDim,
                  dv = c.gdnValueDim;
    Value x = rmsNorm(h, p + "input_layernorm.weight", c.rmsNormEps);
    std::string a = p + "linear_attn.";
    Value q = conv(linear(x, a + "q_proj.weight", hk * dk), a + "q_conv1d.weight", 0);
    Value k = conv(linear(x, a + "k_proj.weight", hk * dk), a + "k_conv1d.weight", 1);
    Value v = conv(linear(x, a + "v_proj.weight", hv * dv), a + "v_conv1d.weight", 2);
    // L2 norm in f32 (as transformers does inside the delta rule).
    Value qn = L2NormOp::create(b, loc, act({hk, dk}, f32),
                                splitHeads(q, hk, dk), b.getF64FloatAttr(1e-6));
    Value kn = L2NormOp::create(b, loc, act({hk, dk}, f32),
                                splitHeads(k, hk, dk), b.getF64FloatAttr(1e-6));
    Value aProj = linear(x, a + "a_proj.weight", hv);
    Value bProj = linear(x, a + "b_proj.weight", hv);
    auto gates = GdnGatesOp::create(
        b, loc, act({hv}, f32), act({hv}, f32), aProj, bProj,
        WeightOp::create(b, loc, RankedTensorType::get({hv}, actType),
                         b.getStringAttr(a + "A_log")),
        WeightOp::create(b, loc, RankedTensorType::get({hv}, actType),
                         b.getStringAttr(a + "dt_bias")),
        b.getF64FloatAttr(c.allowNegEigval ? 2.0 : 1.0));
    auto scale = b.getF64FloatAttr(1.0 / std::sqrt(static_cast<double>(dk)));
    Value o;
    if (decode && decode->prefill()) {
      // The packed prompts from zero states; each final state into its slot.
      Value &cache = decode->layer[3];
      auto state = RankedTensorType::get({ShapedType::kDynamic, hv, dk, dv}, f32);
      auto rule = GatedDeltaRuleOp::create(
          b, loc, act({hv, dv}, actType), state, qn, kn, splitHeads(v, hv, dv),
          gates.getG(), gates.getBeta(), /*initial_state=*/Value(),
          decode->cuSeqlens, /*q_conv_weight=*/Value(),
          /*k_conv_weight=*/Value(), /*v_conv_weight=*/Value(),
          /*a_log=*/Value(), /*dt_bias=*/Value(), /*output_gate=*/Value(),
          /*output_norm_weight=*/Value(), scale,
          /*qk_l2norm_epsilon=*/FloatAttr(), /*beta_scale=*/FloatAttr(),
          /*output_norm_epsilon=*/FloatAttr());
      cache = WriteSlotsOp::create(b, loc, cache.getType(), cache,
                                   decode->slots, rule.getFinalState());
      o = rule.getO();
    } else if (decode) {
      Value &state = decode->layer[3];
      auto rule = GatedDeltaRuleCachedOp::create(
          b, loc, act({hv, dv}, actType), state.getType(), qn, kn,
          splitHeads(v, hv, dv), gates.getG(), gates.getBeta(), state,
          decode->slots, scale, /*qk_l2norm_epsilon=*/FloatAttr());
      state = rule.getNewCache();
      o = rule.getO();
    } else {
      auto state = RankedTensorType::get({ShapedType::kDynamic, hv, dk, dv}, f32);
      o = GatedDeltaRuleOp::create(
              b, loc, act({hv, dv}, actType), state, qn, kn,
              splitHeads(v, hv, dv), gates.getG(), gates.getBeta(),
              /*initial_state=*/Value(), /*cu_seqlens=*/Value(),
              /*q_conv_weight=*/Value(), /*k_conv_weight=*/Value(),
              /*v_conv_weight=*/Value(), /*a_log=*/Value(),
              /*dt_bias=*/Value(), /*output_gate=*/Value(),
              /*output_norm_weight=*/Value(), scale,
              /*qk_l2norm_epsilon=*/FloatAttr(), /*beta_scale=*/FloatAttr(),
              /*output_norm_epsilon=*/FloatAttr())
              .getO();
    }
    Value gate = splitHeads(linear(x, a + "g_proj.weight", hv * dv), hv, dv);
    Value normed = GatedRMSNormOp::create(
        b, loc, act({hv, dv}, actType), o, gate,
        weight(a + "o_norm.weight", {dv}), b.getF64FloatAttr(c.gatedNormEps));
    Value out = linear(mergeHeads(normed), a + "o_proj.weight", c.hiddenSize);
    h = add(h, out);
    Value m = mlp(rmsNorm(h, p + "post_attention_layernorm.weight", c.rmsNormEps),
                  p);
    return add(h, m);
  }

  Value attentionLayer(Value h, const std::string &p) {
    const int64_t hq = c.numHeads, hkv = c.numKVHeads, d = c.headDim;
    std::string s = p + "self_attn.";
    // QK-norm over the whole projection, then heads.
    Value q = rmsNorm(linear(h, s + "q_proj.weight", hq * d),
                      s + "q_norm.weight", c.rmsNormEps);
    Value k = rmsNorm(linear(h, s + "k_proj.weight", hkv * d),
                      s + "k_norm.weight", c.rmsNormEps);
    Value v = linear(h, s + "v_proj.weight", hkv * d);
    Value q4 = splitHeads(q, hq, d), k4 = splitHeads(k, hkv, d),
          v4 = splitHeads(v, hkv, d);
    if (c.ropeTheta) {
      // A decode step's tokens follow the sequence's cached ones; packed
      // prompts count from their own starts.
      Value offsets = decode ? decode->lengths : Value();
      Value cu = decode ? decode->cuSeqlens : Value();
      q4 = RopeOp::create(b, loc, q4.getType(), q4, offsets, cu,
                          b.getF64FloatAttr(*c.ropeTheta));
      k4 = RopeOp::create(b, loc, k4.getType(), k4, offsets, cu,
                          b.getF64FloatAttr(*c.ropeTheta));
    }
    auto scale = b.getF64FloatAttr(1.0 / std::sqrt(static_cast<double>(d)));
    Value o;
    if (decode && decode->prefill()) {
      // The prompts' keys and values into their slots from position 0.
      Value &keys = decode->layer[0], &values = decode->layer[1];
      keys = WriteSequencesOp::create(b, loc, keys.getType(), keys,
                                      decode->slots, k4, decode->cuSeqlens);
      values = WriteSequencesOp::create(b, loc, values.getType(), values,
                                        decode->slots, v4, decode->cuSeqlens);
      o = AttentionOp::create(b, loc, act({hq, d}, actType), q4, k4, v4,
                              decode->cuSeqlens, scale, b.getBoolAttr(true));
    } else if (decode) {
      Value &keys = decode->layer[0], &values = decode->layer[1];
      auto op = AttentionCachedOp::create(
          b, loc, act({hq, d}, actType), keys.getType(), values.getType(), q4,
          k4, v4, keys, values, decode->slots, decode->lengths, scale);
      keys = op.getNewKCache();
      values = op.getNewVCache();
      o = op.getResult();
    } else {
      o = AttentionOp::create(b, loc, act({hq, d}, actType), q4, k4, v4,
                              /*cu_seqlens=*/Value(), scale,
                              b.getBoolAttr(true));
    }
    Value out = linear(mergeHeads(o), s + "o_proj.weight", c.hiddenSize);
    // Post-norm (OLMo 2/3): norms on the branch outputs.
    h = add(h, rmsNorm(out, p + "post_attention_layernorm.weight", c.rmsNormEps));
    Value m = mlp(h, p);
    return add(h, rmsNorm(m, p + "post_feedforward_layernorm.weight",
                          c.rmsNormEps));
  }

private:
  OpBuilder &b;
  Location loc;
  const OlmoHybridConfig &c;
  Value batch, tokens;
  DecodeCaches *decode; // null: the forward pass without caches
  Type actType, f32; // activation/weight type (bf16, or f32 for tests)
};

} // namespace

namespace {

/// The model body shared by `forward` and `decode`, at the start of the
/// function's entry block: embedding, the layers (with `decode`, from and
/// into `layerCaches`), the final norm and the LM head.
Value buildModelBody(OpBuilder &b, Location loc, const OlmoHybridConfig &c,
                     Value ids, DecodeCaches *decode = nullptr,
                     ArrayRef<SmallVector<Value>> layerCaches = {}) {
  Value batch = tensor::DimOp::create(b, loc, ids, 0);
  Value tokens = tensor::DimOp::create(b, loc, ids, 1);
  Type act = c.dtype == "float32" ? Type(b.getF32Type()) : Type(b.getBF16Type());
  GraphBuilder g(b, loc, c, batch, tokens, decode);
  Value table = g.weight("model.embed_tokens.weight", {c.vocabSize, c.hiddenSize});
  Value h = EmbeddingOp::create(b, loc, g.act({c.hiddenSize}, act), table, ids);
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string prefix = "model.layers." + std::to_string(i) + ".";
    Location layerLoc = NameLoc::get(
        b.getStringAttr(prefix + (c.isAttention[i] ? "attention" : "gdn")), loc);
    if (decode)
      decode->layer = layerCaches[i];
    GraphBuilder lg(b, layerLoc, c, batch, tokens, decode);
    h = c.isAttention[i] ? lg.attentionLayer(h, prefix) : lg.gdnLayer(h, prefix);
    if (decode)
      llvm::append_range(decode->updated, decode->layer);
  }
  // A prefill's logits are those of each prompt's last token.
  bool prefill = decode && decode->prefill();
  if (prefill)
    h = SequenceTailOp::create(
        b, loc,
        RankedTensorType::get({ShapedType::kDynamic, 1, c.hiddenSize}, act), h,
        decode->cuSeqlens, b.getI64IntegerAttr(1));
  h = g.rmsNorm(h, "model.norm.weight", c.rmsNormEps);
  return g.linear(h, c.tieWordEmbeddings ? "model.embed_tokens.weight"
                                         : "lm_head.weight",
                  c.vocabSize, /*fewRows=*/prefill);
}

/// The caches one layer keeps per slot, in the order `decode` takes them:
/// a GDN layer's q, k and v conv inputs ([slots, W - 1, C], the activation
/// type) and recurrent state ([slots, HV, K, V], f32); an attention
/// layer's keys and values ([slots, max_tokens, HKV, D]).
SmallVector<std::pair<std::string, RankedTensorType>>
layerCacheTypes(Builder &b, const OlmoHybridConfig &c, int64_t layer) {
  Type act = c.dtype == "float32" ? Type(b.getF32Type()) : Type(b.getBF16Type());
  const int64_t dyn = ShapedType::kDynamic;
  std::string p = "layer" + std::to_string(layer) + ".";
  if (c.isAttention[layer]) {
    auto kv = RankedTensorType::get({dyn, dyn, c.numKVHeads, c.headDim}, act);
    return {{p + "k_cache", kv}, {p + "v_cache", kv}};
  }
  int64_t qk = c.gdnKeyHeads * c.gdnKeyDim, v = c.gdnValueHeads * c.gdnValueDim;
  return {{p + "q_conv_cache",
           RankedTensorType::get({dyn, c.convKernel - 1, qk}, act)},
          {p + "k_conv_cache",
           RankedTensorType::get({dyn, c.convKernel - 1, qk}, act)},
          {p + "v_conv_cache",
           RankedTensorType::get({dyn, c.convKernel - 1, v}, act)},
          {p + "state", RankedTensorType::get({dyn, c.gdnValueHeads,
                                               c.gdnKeyDim, c.gdnValueDim},
                                              b.getF32Type())}};
}

} // namespace

namespace {

/// Entry argument `i`'s `hyla.values`: what its integer values must be,
/// which the runtime checks before a call (the module's value checks). A
/// bound or step is a sum of integers and dim names ("-name" subtracts).
void setValueCheck(OpBuilder &b, func::FuncOp fn, unsigned i, StringRef kind,
                   ArrayRef<Attribute> bound, ArrayRef<Attribute> step,
                   bool distinct, StringRef what) {
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("kind", b.getStringAttr(kind)),
      b.getNamedAttr("bound", b.getArrayAttr(bound)),
      b.getNamedAttr("what", b.getStringAttr(what))};
  if (!step.empty())
    entries.push_back(b.getNamedAttr("step", b.getArrayAttr(step)));
  if (distinct)
    entries.push_back(b.getNamedAttr("distinct", b.getUnitAttr()));
  fn.setArgAttr(i, "hyla.values", b.getDictionaryAttr(entries));
}

/// Token ids index the embedding table.
void checkTokenIds(OpBuilder &b, func::FuncOp fn, const OlmoHybridConfig &c) {
  setValueCheck(b, fn, 0, "below", {b.getI64IntegerAttr(c.vocabSize)}, {},
                false, "token ids index the embedding table");
}

/// `decode` or `prefill`: the model over the per-slot caches, each cache
/// an argument and a result updated in place.
void buildCachedFunction(OpBuilder &b, Location loc, const OlmoHybridConfig &c,
                         bool prefill) {
  const int64_t dyn = ShapedType::kDynamic;
  Type act = c.dtype == "float32" ? Type(b.getF32Type()) : Type(b.getBF16Type());
  auto vec = RankedTensorType::get({dyn}, b.getI32Type());
  auto ids = RankedTensorType::get({prefill ? 1 : dyn, dyn}, b.getI32Type());
  auto logits = RankedTensorType::get({dyn, dyn, c.vocabSize}, act);
  SmallVector<Type> inputs = {ids, vec, vec}, results = {logits};
  SmallVector<std::pair<std::string, RankedTensorType>> caches;
  SmallVector<unsigned> perLayer;
  for (int64_t i = 0; i < c.numLayers; ++i) {
    auto layer = layerCacheTypes(b, c, i);
    perLayer.push_back(layer.size());
    for (auto &[name, type] : layer) {
      inputs.push_back(type);
      results.push_back(type);
      caches.emplace_back(name, type);
    }
  }
  auto fn = func::FuncOp::create(b, loc, prefill ? "prefill" : "decode",
                                 b.getFunctionType(inputs, results));
  fn.setArgAttr(0, "hyla.dim_names", b.getStrArrayAttr({"batch", "tokens"}));
  if (prefill) {
    fn.setArgAttr(1, "hyla.dim_names",
                  b.getStrArrayAttr({"sequences_plus_1"}));
    fn.setArgAttr(1, "hyla.name", b.getStringAttr("cu_seqlens"));
    fn.setArgAttr(2, "hyla.dim_names", b.getStrArrayAttr({"sequences"}));
    fn.setArgAttr(2, "hyla.name", b.getStringAttr("slots"));
  } else {
    fn.setArgAttr(1, "hyla.dim_names", b.getStrArrayAttr({"batch"}));
    fn.setArgAttr(2, "hyla.dim_names", b.getStrArrayAttr({"batch"}));
  }
  bool hasPositions = false; // a KV cache: positions up to max_tokens
  for (auto [j, cache] : llvm::enumerate(caches)) {
    SmallVector<StringRef> names = {"slots"};
    if (cache.second.isDynamicDim(1)) {
      names.push_back("max_tokens");
      hasPositions = true;
    }
    fn.setArgAttr(3 + j, "hyla.dim_names", b.getStrArrayAttr(names));
    fn.setArgAttr(3 + j, "hyla.name", b.getStringAttr(cache.first));
  }
  // What the runtime checks before a call: every write stays in its slot
  // and in the cache's positions.
  checkTokenIds(b, fn, c);
  setValueCheck(b, fn, prefill ? 2 : 1, "below", {b.getStringAttr("slots")},
                {}, true, "cache slots, one sequence each");
  auto maxTokens = b.getStringAttr("max_tokens");
  if (prefill)
    setValueCheck(b, fn, 1, "offsets", {b.getStringAttr("tokens")},
                  hasPositions ? ArrayRef<Attribute>{maxTokens}
                               : ArrayRef<Attribute>{},
                  false,
                  "prompt offsets into the packed ids; a prompt may have "
                  "at most max_tokens tokens, its cache's positions");
  else if (hasPositions)
    setValueCheck(b, fn, 2, "below",
                  {maxTokens, b.getStringAttr("-tokens"),
                   b.getI64IntegerAttr(1)},
                  {}, false,
                  "cached lengths: each sequence's length + tokens must be "
                  "at most max_tokens, its cache's positions");
  Block *entry = fn.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  DecodeCaches state;
  if (prefill) {
    state.cuSeqlens = entry->getArgument(1);
    state.slots = entry->getArgument(2);
  } else {
    state.slots = entry->getArgument(1);
    state.lengths = entry->getArgument(2);
  }
  SmallVector<SmallVector<Value>> layerCaches;
  unsigned next = 3;
  for (unsigned n : perLayer) {
    layerCaches.emplace_back(entry->getArguments().slice(next, n));
    next += n;
  }
  SmallVector<Value> returned = {
      buildModelBody(b, loc, c, entry->getArgument(0), &state, layerCaches)};
  llvm::append_range(returned, state.updated);
  func::ReturnOp::create(b, loc, returned);
}

} // namespace

OwningOpRef<ModuleOp> buildOlmoHybridGraph(MLIRContext *ctx,
                                           const OlmoHybridConfig &c,
                                           StringRef sourceName) {
  OpBuilder b(ctx);
  Location loc = FileLineColLoc::get(ctx, sourceName, 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  const int64_t dyn = ShapedType::kDynamic;
  auto ids = RankedTensorType::get({dyn, dyn}, b.getI32Type());
  Type act = c.dtype == "float32" ? Type(b.getF32Type()) : Type(b.getBF16Type());
  auto logits = RankedTensorType::get({dyn, dyn, c.vocabSize}, act);

  // forward(ids [batch, tokens]) -> logits: the whole sequence, no caches.
  {
    auto fn = func::FuncOp::create(b, loc, "forward",
                                   b.getFunctionType({ids}, {logits}));
    fn.setArgAttr(0, "hyla.dim_names", b.getStrArrayAttr({"batch", "tokens"}));
    checkTokenIds(b, fn, c);
    Block *entry = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    func::ReturnOp::create(b, loc,
                           buildModelBody(b, loc, c, entry->getArgument(0)));
  }

  // decode(ids [batch, tokens], slots [batch], lengths [batch], caches...)
  // -> (logits, caches...): `tokens` new tokens of each sequence after the
  // lengths[b] its slot holds, every cache updated in place (each result
  // is its cache argument's buffer).
  buildCachedFunction(b, loc, c, /*prefill=*/false);
  // prefill(ids [1, tokens], cu_seqlens [sequences + 1], slots [sequences],
  // caches...) -> (logits [sequences, 1, vocab], caches...): prompts packed
  // one after another (prompt n is tokens cu_seqlens[n] ..
  // cu_seqlens[n + 1] - 1), each written into the caches of its slot from
  // position 0; the logits of each prompt's last token.
  buildCachedFunction(b, loc, c, /*prefill=*/true);
  return module;
}

} // namespace hyla
