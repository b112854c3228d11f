//===- TestModules.h - build hyla modules in tests --------------*- C++ -*-===//
//
// A small value-type description of a module (ModuleSpec) that tests edit
// field by field, and build() into FlatBuffers bytes. The test modules here
// are used by the unit tests, the fuzzing seed corpus, hyla-run's tests and
// the execution tests (whose PTX kernels are real and run on a GPU).
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_TEST_TESTMODULES_H
#define HYLA_RUNTIME_TEST_TESTMODULES_H

#include "hyla_module_generated.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hyla {
namespace testing {

namespace fb = ::hyla::fb;

/// A size expression, built with operators: Expr::sym(0) * 4 + 1.
struct Expr {
  std::vector<fb::ExprInst> code;

  Expr() = default;
  Expr(int64_t constant) { code.emplace_back(fb::ExprOp::Const, constant); }
  static Expr sym(int64_t index) {
    Expr e;
    e.code.emplace_back(fb::ExprOp::Symbol, index);
    return e;
  }
  /// Any instruction sequence, including malformed ones.
  static Expr raw(std::vector<std::pair<uint8_t, int64_t>> insts) {
    Expr e;
    for (auto &inst : insts)
      e.code.emplace_back(static_cast<fb::ExprOp>(inst.first), inst.second);
    return e;
  }
  static Expr binary(fb::ExprOp op, const Expr &a, const Expr &b) {
    Expr e = a;
    e.code.insert(e.code.end(), b.code.begin(), b.code.end());
    e.code.emplace_back(op, 0);
    return e;
  }
};

inline Expr operator+(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Add, a, b);
}
inline Expr operator-(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Sub, a, b);
}
inline Expr operator*(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Mul, a, b);
}
inline Expr floorDiv(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::FloorDiv, a, b);
}
inline Expr ceilDiv(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::CeilDiv, a, b);
}
inline Expr rem(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Rem, a, b);
}
inline Expr min(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Min, a, b);
}
inline Expr max(const Expr &a, const Expr &b) {
  return Expr::binary(fb::ExprOp::Max, a, b);
}

struct SymbolSpec {
  std::string name;
  uint32_t input = 0;
  uint32_t dim = 0;
};

struct BufferSpec {
  fb::BufferKind kind = fb::BufferKind::Temporary;
  uint32_t index = 0;
  fb::DType dtype = fb::DType::F32;
  std::vector<Expr> dims;
};

struct ParamSpec {
  fb::DType dtype = fb::DType::F32;
  uint32_t rank = 0;
  std::vector<uint32_t> dynamicDims;
  bool tensorMap = false; // then a TensorMap with this box and swizzle
  std::vector<uint32_t> tensorMapBox;
  uint32_t tensorMapSwizzle = 0;
};

struct KernelSpec {
  std::string name;
  std::string ptx;
  std::vector<uint8_t> cubin;
  uint32_t blockDim = 128;
  uint32_t sharedMemBytes = 0;
  std::vector<ParamSpec> params;
  bool programmaticLaunch = false;
};

struct LaunchSpec {
  uint32_t kernel = 0;
  std::vector<Expr> grid;
  std::vector<uint32_t> args;
};

struct CheckSpec {
  Expr a, b;
  std::string what;
};

struct ValueCheckSpec {
  uint32_t input = 0;
  fb::ValueCheckKind kind = fb::ValueCheckKind::Below;
  Expr bound;
  std::optional<Expr> step;
  bool distinct = false;
  std::string what;
};

struct FunctionSpec {
  std::string name;
  std::vector<SymbolSpec> symbols;
  std::vector<BufferSpec> buffers;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::vector<LaunchSpec> launches;
  std::vector<CheckSpec> checks;
  std::vector<ValueCheckSpec> valueChecks;
};

struct WeightSpec {
  std::string name;
  fb::DType dtype = fb::DType::BF16;
  std::vector<int64_t> shape;
};

struct ModuleSpec {
  uint32_t version = 2;
  std::string producer = "hyla-test";
  std::string target = "sm_90a";
  std::vector<KernelSpec> kernels;
  std::vector<WeightSpec> weights;
  std::vector<FunctionSpec> functions;
  std::vector<std::pair<std::string, std::string>> metadata;

  std::vector<uint8_t> build() const {
    flatbuffers::FlatBufferBuilder b;
    auto exprs = [&](const std::vector<Expr> &list) {
      std::vector<flatbuffers::Offset<fb::SizeExpr>> offsets;
      for (const Expr &e : list)
        offsets.push_back(fb::CreateSizeExprDirect(b, &e.code));
      return b.CreateVector(offsets);
    };
    std::vector<flatbuffers::Offset<fb::Kernel>> kernelOffsets;
    for (const KernelSpec &k : kernels) {
      std::vector<flatbuffers::Offset<fb::KernelParam>> params;
      for (const ParamSpec &p : k.params) {
        flatbuffers::Offset<fb::TensorMap> map;
        if (p.tensorMap)
          map = fb::CreateTensorMapDirect(b, &p.tensorMapBox,
                                          p.tensorMapSwizzle);
        params.push_back(fb::CreateKernelParamDirect(b, p.dtype, p.rank,
                                                     &p.dynamicDims, map));
      }
      // CreateString(std::string) keeps embedded NULs (tests use them).
      kernelOffsets.push_back(fb::CreateKernel(
          b, b.CreateString(k.name), b.CreateString(k.ptx),
          k.cubin.empty() ? 0 : b.CreateVector(k.cubin), k.blockDim,
          k.sharedMemBytes, b.CreateVector(params), k.programmaticLaunch));
    }
    std::vector<flatbuffers::Offset<fb::Weight>> weightOffsets;
    for (const WeightSpec &w : weights)
      weightOffsets.push_back(fb::CreateWeight(
          b, b.CreateString(w.name), w.dtype, b.CreateVector(w.shape)));
    std::vector<flatbuffers::Offset<fb::Function>> functionOffsets;
    for (const FunctionSpec &f : functions) {
      std::vector<flatbuffers::Offset<fb::Symbol>> symbols;
      for (const SymbolSpec &s : f.symbols)
        symbols.push_back(
            fb::CreateSymbol(b, b.CreateString(s.name), s.input, s.dim));
      std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
      for (const BufferSpec &buf : f.buffers)
        buffers.push_back(fb::CreateBuffer(b, buf.kind, buf.index, buf.dtype,
                                           exprs(buf.dims)));
      std::vector<flatbuffers::Offset<fb::Launch>> launches;
      for (const LaunchSpec &l : f.launches)
        launches.push_back(fb::CreateLaunch(b, l.kernel, exprs(l.grid),
                                            b.CreateVector(l.args)));
      std::vector<flatbuffers::Offset<fb::SizeCheck>> checks;
      for (const CheckSpec &c : f.checks) {
        auto a = fb::CreateSizeExprDirect(b, &c.a.code);
        auto bb = fb::CreateSizeExprDirect(b, &c.b.code);
        checks.push_back(
            fb::CreateSizeCheck(b, a, bb, b.CreateString(c.what)));
      }
      std::vector<flatbuffers::Offset<fb::ValueCheck>> valueChecks;
      for (const ValueCheckSpec &c : f.valueChecks) {
        auto bound = fb::CreateSizeExprDirect(b, &c.bound.code);
        auto step = c.step ? fb::CreateSizeExprDirect(b, &c.step->code) : 0;
        valueChecks.push_back(fb::CreateValueCheck(
            b, c.input, c.kind, bound, step, c.distinct,
            b.CreateString(c.what)));
      }
      functionOffsets.push_back(fb::CreateFunction(
          b, b.CreateString(f.name), b.CreateVector(symbols),
          b.CreateVector(buffers), b.CreateVector(f.inputs),
          b.CreateVector(f.outputs), b.CreateVector(launches),
          b.CreateVector(checks), b.CreateVector(valueChecks)));
    }
    std::vector<flatbuffers::Offset<fb::KeyValue>> metadataOffsets;
    for (const auto &kv : metadata)
      metadataOffsets.push_back(fb::CreateKeyValue(b, b.CreateString(kv.first),
                                                   b.CreateString(kv.second)));
    auto root = fb::CreateModule(
        b, version, b.CreateString(producer), b.CreateString(target),
        b.CreateVector(kernelOffsets), b.CreateVector(weightOffsets),
        b.CreateVector(functionOffsets), b.CreateVector(metadataOffsets));
    fb::FinishModuleBuffer(b, root);
    return std::vector<uint8_t>(b.GetBufferPointer(),
                                b.GetBufferPointer() + b.GetSize());
  }
};

//===----------------------------------------------------------------------===//
// Real kernels (PTX for sm_90a), so the execution tests can run on a GPU.
// Each follows the hyla kernel ABI: per param a 64-bit pointer, then one
// 64-bit integer per dynamic dim.
//===----------------------------------------------------------------------===//

/// t[i] = x[i] + bias[i % 4] for i < n * 4.
/// Params: x f32[n, 4] (dynamic dim 0), bias f32[4], t f32[n, 4] (dim 0).
inline const char *addBiasPtx() {
  return R"(.version 8.0
.target sm_90a
.address_size 64

.visible .entry add_bias(
	.param .u64 x,
	.param .u64 x_n,
	.param .u64 bias,
	.param .u64 t,
	.param .u64 t_n
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<18>;
	.reg .f32 	%f<4>;

	ld.param.u64 	%rd1, [x];
	ld.param.u64 	%rd2, [x_n];
	ld.param.u64 	%rd3, [bias];
	ld.param.u64 	%rd4, [t];
	mov.u32 	%r1, %ctaid.x;
	mov.u32 	%r2, %ntid.x;
	mov.u32 	%r3, %tid.x;
	mul.wide.u32 	%rd5, %r1, %r2;
	cvt.u64.u32 	%rd6, %r3;
	add.s64 	%rd7, %rd5, %rd6;
	shl.b64 	%rd8, %rd2, 2;
	setp.ge.s64 	%p1, %rd7, %rd8;
	@%p1 bra 	$L_done;
	cvta.to.global.u64 	%rd9, %rd1;
	cvta.to.global.u64 	%rd10, %rd3;
	cvta.to.global.u64 	%rd11, %rd4;
	shl.b64 	%rd12, %rd7, 2;
	add.s64 	%rd13, %rd9, %rd12;
	ld.global.f32 	%f1, [%rd13];
	and.b64 	%rd14, %rd7, 3;
	shl.b64 	%rd15, %rd14, 2;
	add.s64 	%rd16, %rd10, %rd15;
	ld.global.f32 	%f2, [%rd16];
	add.f32 	%f3, %f1, %f2;
	add.s64 	%rd17, %rd11, %rd12;
	st.global.f32 	[%rd17], %f3;
$L_done:
	ret;
}
)";
}

/// dst[i] = 2 * src[i] for i < n. Params: src f32[n] (dim 0), dst f32[n].
inline const char *scale2Ptx() {
  return R"(.version 8.0
.target sm_90a
.address_size 64

.visible .entry scale2(
	.param .u64 src,
	.param .u64 src_n,
	.param .u64 dst,
	.param .u64 dst_n
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<12>;
	.reg .f32 	%f<3>;

	ld.param.u64 	%rd1, [src];
	ld.param.u64 	%rd2, [src_n];
	ld.param.u64 	%rd3, [dst];
	mov.u32 	%r1, %ctaid.x;
	mov.u32 	%r2, %ntid.x;
	mov.u32 	%r3, %tid.x;
	mul.wide.u32 	%rd4, %r1, %r2;
	cvt.u64.u32 	%rd5, %r3;
	add.s64 	%rd6, %rd4, %rd5;
	setp.ge.s64 	%p1, %rd6, %rd2;
	@%p1 bra 	$L_done;
	cvta.to.global.u64 	%rd7, %rd1;
	cvta.to.global.u64 	%rd8, %rd3;
	shl.b64 	%rd9, %rd6, 2;
	add.s64 	%rd10, %rd7, %rd9;
	add.s64 	%rd11, %rd8, %rd9;
	ld.global.f32 	%f1, [%rd10];
	add.f32 	%f2, %f1, %f1;
	st.global.f32 	[%rd11], %f2;
$L_done:
	ret;
}
)";
}

/// dst[i] = src[i] (16-bit elements) for i < n.
/// Params: src bf16[n] (dim 0), dst bf16[n] (dim 0).
inline const char *copyU16Ptx() {
  return R"(.version 8.0
.target sm_90a
.address_size 64

.visible .entry copy_u16(
	.param .u64 src,
	.param .u64 src_n,
	.param .u64 dst,
	.param .u64 dst_n
)
{
	.reg .pred 	%p<2>;
	.reg .b16 	%rs<2>;
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<12>;

	ld.param.u64 	%rd1, [src];
	ld.param.u64 	%rd2, [src_n];
	ld.param.u64 	%rd3, [dst];
	mov.u32 	%r1, %ctaid.x;
	mov.u32 	%r2, %ntid.x;
	mov.u32 	%r3, %tid.x;
	mul.wide.u32 	%rd4, %r1, %r2;
	cvt.u64.u32 	%rd5, %r3;
	add.s64 	%rd6, %rd4, %rd5;
	setp.ge.s64 	%p1, %rd6, %rd2;
	@%p1 bra 	$L_done;
	cvta.to.global.u64 	%rd7, %rd1;
	cvta.to.global.u64 	%rd8, %rd3;
	shl.b64 	%rd9, %rd6, 1;
	add.s64 	%rd10, %rd7, %rd9;
	add.s64 	%rd11, %rd8, %rd9;
	ld.global.u16 	%rs1, [%rd10];
	st.global.u16 	[%rd11], %rs1;
$L_done:
	ret;
}
)";
}

/// A module whose kernels really run (on a GPU, or on the mock driver):
///   forward(x: f32[n, 4]) -> f32[n, 4] = 2 * (x + bias)
///     through a temporary and two views;
///   read_weights() -> (bf16[1024], bf16[64]) = copies of the weights
///     'proj' (bf16[32, 32], seen through a view) and 'norm' (bf16[64]).
inline ModuleSpec elementwiseModule() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec m;
  m.producer = "hyla-test elementwise";
  m.target = "sm_90a";
  m.metadata = {{"model_type", "elementwise-test"}, {"vocab_size", "100"}};

  KernelSpec addBias{"add_bias", addBiasPtx(), {}, 128, 0, {}};
  addBias.params = {
      {DType::F32, 2, {0}}, {DType::F32, 1, {}}, {DType::F32, 2, {0}}};
  KernelSpec scale2{"scale2", scale2Ptx(), {}, 128, 0, {}};
  scale2.params = {{DType::F32, 1, {0}}, {DType::F32, 1, {0}}};
  KernelSpec copy{"copy_u16", copyU16Ptx(), {}, 128, 0, {}};
  copy.params = {{DType::BF16, 1, {0}}, {DType::BF16, 1, {0}}};
  m.kernels = {addBias, scale2, copy};

  m.weights = {{"bias", DType::F32, {4}},
               {"proj", DType::BF16, {32, 32}},
               {"norm", DType::BF16, {64}}};

  Expr n = Expr::sym(0);
  FunctionSpec forward;
  forward.name = "forward";
  forward.symbols = {{"n", 0, 0}};
  forward.buffers = {
      {BufferKind::Input, 0, DType::F32, {n, 4}},     // 0: x
      {BufferKind::Weight, 0, DType::F32, {4}},       // 1: bias
      {BufferKind::Temporary, 0, DType::F32, {n, 4}}, // 2: t = x + bias
      {BufferKind::View, 2, DType::F32, {n * 4}},     // 3: t, flat
      {BufferKind::Output, 0, DType::F32, {n, 4}},    // 4: result
      {BufferKind::View, 4, DType::F32, {n * 4}},     // 5: result, flat
  };
  forward.inputs = {0};
  forward.outputs = {4};
  Expr blocks = ceilDiv(n * 4, 128);
  forward.launches = {{0, {blocks, 1, 1}, {0, 1, 2}},
                      {1, {blocks, 1, 1}, {3, 5}}};

  FunctionSpec readWeights;
  readWeights.name = "read_weights";
  readWeights.buffers = {
      {BufferKind::Weight, 1, DType::BF16, {32, 32}}, // 0: proj
      {BufferKind::View, 0, DType::BF16, {1024}},     // 1: proj, flat
      {BufferKind::Output, 0, DType::BF16, {1024}},   // 2
      {BufferKind::Weight, 2, DType::BF16, {64}},     // 3: norm
      {BufferKind::Output, 1, DType::BF16, {64}},     // 4
  };
  readWeights.outputs = {2, 4};
  readWeights.launches = {{2, {8, 1, 1}, {1, 2}}, {2, {1, 1, 1}, {3, 4}}};

  m.functions = {forward, readWeights};
  return m;
}

/// The elementwise module's `forward` with integer inputs whose values the
/// runtime checks, as a model's ids, slots and offsets are:
///   checked(x: f32[n, 4], slots: i32[n], offsets: i64[n + 1]) -> x + bias
/// slots: values in [0, 4), distinct; offsets: from 0 to 2n, steps at
/// most 3. The kernels do not read the integer inputs.
inline ModuleSpec valueCheckModule() {
  ModuleSpec m = elementwiseModule();
  FunctionSpec f = m.functions[0];
  f.name = "checked";
  Expr n = Expr::sym(0);
  f.buffers.push_back({fb::BufferKind::Input, 1, fb::DType::I32, {n}});
  f.buffers.push_back({fb::BufferKind::Input, 2, fb::DType::I64, {n + 1}});
  f.inputs = {0, 6, 7};
  f.valueChecks = {
      {1, fb::ValueCheckKind::Below, Expr(4), std::nullopt, true, "slots"},
      {2, fb::ValueCheckKind::Offsets, n * 2, Expr(3), false, "offsets"}};
  m.functions = {f};
  return m;
}

/// A kernel that reads its input through a tensor map, as hyla's TMA copies
/// do (the PTX only declares the entry: the mock runs nothing for it):
///   tma_probe(x: bf16[m, 64]) -> y: bf16[m, 64], x tiled by 32 x 64 boxes,
///   128-byte swizzled.
inline ModuleSpec tensorMapModule() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec m;
  m.producer = "hyla-test tensor-map";
  KernelSpec probe{"tma_probe",
                   ".version 8.0\n.target sm_90a\n.address_size 64\n"
                   ".visible .entry tma_probe(.param .u64 x, .param .u64 m,\n"
                   "  .param .align 64 .b8 xmap[128], .param .u64 y,\n"
                   "  .param .u64 ym)\n{\n  ret;\n}\n",
                   {}, 128, 0, {}};
  probe.params = {{DType::BF16, 2, {0}, true, {32, 64}, 128},
                  {DType::BF16, 2, {0}}};
  m.kernels = {probe};
  Expr rows = Expr::sym(0);
  FunctionSpec copy;
  copy.name = "copy";
  copy.symbols = {{"m", 0, 0}};
  copy.buffers = {{BufferKind::Input, 0, DType::BF16, {rows, 64}},
                  {BufferKind::Output, 0, DType::BF16, {rows, 64}}};
  copy.inputs = {0};
  copy.outputs = {1};
  copy.launches = {{0, {ceilDiv(rows, 32), 1, 1}, {0, 1}}};
  m.functions = {copy};
  return m;
}

/// A function that updates its input in place, as decode does with caches:
///   double_in_place(x: f32[n]) -> x (x = 2 * x, output 0 is input 0).
inline ModuleSpec inPlaceModule() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec m;
  m.producer = "hyla-test in-place";
  KernelSpec scale2{"scale2", scale2Ptx(), {}, 128, 0, {}};
  scale2.params = {{DType::F32, 1, {0}}, {DType::F32, 1, {0}}};
  m.kernels = {scale2};
  Expr n = Expr::sym(0);
  FunctionSpec f;
  f.name = "double_in_place";
  f.symbols = {{"n", 0, 0}};
  f.buffers = {{BufferKind::Input, 0, DType::F32, {n}}};
  f.inputs = {0};
  f.outputs = {0};
  f.launches = {{0, {ceilDiv(n, 128), 1, 1}, {0, 0}}};
  m.functions = {f};
  return m;
}

/// A chain of temporaries, as a model's layers leave them:
///   times16(x: f32[n]) -> y, y = 2 * (2 * (2 * (2 * x))),
/// through t1, t2, t3 (f32[n] each). t1 is dead (last read by launch 1)
/// before t3 is written (launch 2), so they may share memory; t2 overlaps
/// both.
inline ModuleSpec chainModule() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec m;
  m.producer = "hyla-test chain";
  KernelSpec scale2{"scale2", scale2Ptx(), {}, 128, 0, {}};
  scale2.params = {{DType::F32, 1, {0}}, {DType::F32, 1, {0}}};
  m.kernels = {scale2};
  Expr n = Expr::sym(0);
  FunctionSpec f;
  f.name = "times16";
  f.symbols = {{"n", 0, 0}};
  f.buffers = {{BufferKind::Input, 0, DType::F32, {n}},
               {BufferKind::Temporary, 0, DType::F32, {n}},
               {BufferKind::Temporary, 0, DType::F32, {n}},
               {BufferKind::Temporary, 0, DType::F32, {n}},
               {BufferKind::Output, 0, DType::F32, {n}}};
  f.inputs = {0};
  f.outputs = {4};
  Expr grid = ceilDiv(n, 128);
  f.launches = {{0, {grid, 1, 1}, {0, 1}},
                {0, {grid, 1, 1}, {1, 2}},
                {0, {grid, 1, 1}, {2, 3}},
                {0, {grid, 1, 1}, {3, 4}}};
  m.functions = {f};
  return m;
}

/// A module shaped like a (tiny) language model, for inspection, shape and
/// validation tests. Its PTX is a placeholder: it cannot run on a GPU.
///   prefill(ids: i32[batch, tokens], cache: bf16[batch, 2, 16]) ->
///       (logits: bf16[batch, tokens, 100], cache_out: bf16[batch, 2, 16])
///   decode(ids: i32[batch, 1]) -> logits: bf16[batch, 100]
inline ModuleSpec languageModelModule() {
  using fb::BufferKind;
  using fb::DType;
  ModuleSpec m;
  m.producer = "hylac 0.1.0 (test)";
  m.target = "sm_90a";
  m.metadata = {{"model_type", "tiny_hybrid"},
                {"vocab_size", "100"},
                {"config", "tiny.json"}};

  const char *fakePtx = "// placeholder PTX\n.version 8.0\n.target sm_90a\n";
  KernelSpec embed{"embed", fakePtx, {}, 256, 0, {}};
  embed.params = {
      {DType::I32, 2, {0, 1}}, {DType::BF16, 2, {}}, {DType::BF16, 3, {0, 1}}};
  KernelSpec norm{"rmsnorm", fakePtx, {}, 128, 0, {}};
  norm.params = {
      {DType::BF16, 2, {0}}, {DType::BF16, 1, {}}, {DType::BF16, 2, {0}}};
  KernelSpec gemm{"gemm_128x128", fakePtx, {}, 256, 98304, {}};
  gemm.params = {
      {DType::BF16, 2, {0}}, {DType::BF16, 2, {}}, {DType::BF16, 2, {0}}};
  KernelSpec deltanet{"gated_deltanet_chunk", fakePtx, {}, 128, 65536, {}};
  deltanet.params = {{DType::BF16, 3, {0, 1}}, {DType::BF16, 3, {0}}};
  m.kernels = {embed, norm, gemm, deltanet};

  m.weights = {{"embed_tokens", DType::BF16, {100, 16}},
               {"norm.weight", DType::BF16, {16}},
               {"lm_head", DType::BF16, {16, 100}}};

  Expr batch = Expr::sym(0), tokens = Expr::sym(1);
  FunctionSpec prefill;
  prefill.name = "prefill";
  prefill.symbols = {{"batch", 0, 0}, {"tokens", 0, 1}};
  prefill.buffers = {
      {BufferKind::Input, 0, DType::I32, {batch, tokens}},           // 0
      {BufferKind::Input, 1, DType::BF16, {batch, 2, 16}},           // 1
      {BufferKind::Weight, 0, DType::BF16, {100, 16}},               // 2
      {BufferKind::Weight, 1, DType::BF16, {16}},                    // 3
      {BufferKind::Weight, 2, DType::BF16, {16, 100}},               // 4
      {BufferKind::Temporary, 0, DType::BF16, {batch, tokens, 16}},  // 5
      {BufferKind::View, 5, DType::BF16, {batch * tokens, 16}},      // 6
      {BufferKind::Temporary, 0, DType::BF16, {batch * tokens, 16}}, // 7
      {BufferKind::Output, 0, DType::BF16, {batch, tokens, 100}},    // 8
      {BufferKind::View, 8, DType::BF16, {batch * tokens, 100}},     // 9
      {BufferKind::Output, 1, DType::BF16, {batch, 2, 16}},          // 10
  };
  prefill.inputs = {0, 1};
  prefill.outputs = {8, 10};
  Expr rows = batch * tokens;
  prefill.launches = {
      {0, {ceilDiv(rows, 4), 1, 1}, {0, 2, 5}},
      {1, {rows, 1, 1}, {6, 3, 7}},
      {2, {ceilDiv(rows, 128), 1, 1}, {7, 4, 9}},
      {3, {batch, 2, 1}, {5, 10}},
  };

  FunctionSpec decode;
  decode.name = "decode";
  decode.symbols = {{"batch", 0, 0}};
  decode.buffers = {
      {BufferKind::Input, 0, DType::I32, {batch, 1}},          // 0
      {BufferKind::Weight, 0, DType::BF16, {100, 16}},         // 1
      {BufferKind::Temporary, 0, DType::BF16, {batch, 1, 16}}, // 2
      {BufferKind::View, 2, DType::BF16, {batch, 16}},         // 3
      {BufferKind::Weight, 2, DType::BF16, {16, 100}},         // 4
      {BufferKind::Output, 0, DType::BF16, {batch, 100}},      // 5
  };
  decode.inputs = {0};
  decode.outputs = {5};
  decode.launches = {{0, {ceilDiv(batch, 4), 1, 1}, {0, 1, 2}},
                     {2, {ceilDiv(batch, 128), 1, 1}, {3, 4, 5}}};

  m.functions = {prefill, decode};
  return m;
}

} // namespace testing
} // namespace hyla

#endif // HYLA_RUNTIME_TEST_TESTMODULES_H
