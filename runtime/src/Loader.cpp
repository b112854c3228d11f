//===- Loader.cpp - bytes -> verified FlatBuffers -> ModuleDesc -----------===//
//
// Order of checks, so that each failure gets the most useful message:
//   1. size and file identifier ("is this a hyla module at all?"),
//   2. the version field alone (an incompatible layout must be reported as a
//      version mismatch, not as corruption),
//   3. the full FlatBuffers verifier (every offset in bounds),
//   4. conversion to ModuleDesc, then semantic validation (Validate.cpp).
//
//===----------------------------------------------------------------------===//

#include "Errors.h"
#include "ModuleDesc.h"

#include "hyla_module_generated.h"

#include <cstring>

namespace hyla {

namespace {

// Verifier limits: a real module nests 4 tables deep and holds well under a
// million tables; these bound the work a hostile file can cause.
constexpr flatbuffers::uoffset_t kMaxDepth = 16;
constexpr flatbuffers::uoffset_t kMaxTables = 8 * 1000 * 1000;

std::string stringOrEmpty(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

// The verifier only checks that a vector's length prefix is 4-byte aligned,
// so the elements of a vector of 8-byte values may be misaligned in a
// hostile file. Vectors are therefore copied out with memcpy, never read
// through typed pointers. (FlatBuffers data is little-endian, like the
// machines hyla runs on.)
static_assert(FLATBUFFERS_LITTLEENDIAN, "hyla assumes a little-endian host");

SizeExpr convertExpr(const fb::SizeExpr *expr) {
  SizeExpr result;
  if (!expr || !expr->code())
    return result;
  const uint8_t *raw = expr->code()->Data();
  result.code.resize(expr->code()->size());
  static_assert(sizeof(fb::ExprInst) == 16, "ExprInst layout changed");
  for (size_t i = 0; i < result.code.size(); ++i) {
    // struct ExprInst { op: ubyte (offset 0); value: long (offset 8); }
    std::memcpy(&result.code[i].op, raw + 16 * i, 1);
    std::memcpy(&result.code[i].value, raw + 16 * i + 8, 8);
  }
  return result;
}

std::vector<SizeExpr>
convertExprs(const flatbuffers::Vector<flatbuffers::Offset<fb::SizeExpr>> *v) {
  std::vector<SizeExpr> result;
  if (!v)
    return result;
  result.reserve(v->size());
  for (const fb::SizeExpr *expr : *v)
    result.push_back(convertExpr(expr));
  return result;
}

template <typename T>
std::vector<T> convertScalars(const flatbuffers::Vector<T> *v) {
  std::vector<T> result(v ? v->size() : 0);
  if (!result.empty())
    std::memcpy(result.data(), v->Data(), result.size() * sizeof(T));
  return result;
}

KernelDesc convertKernel(const fb::Kernel &kernel) {
  KernelDesc desc;
  desc.name = stringOrEmpty(kernel.name());
  if (const flatbuffers::String *ptx = kernel.ptx()) {
    desc.ptx = ptx->c_str(); // FlatBuffers strings are NUL-terminated
    desc.ptxBytes = ptx->size();
    desc.ptxHasNul = std::memchr(ptx->c_str(), 0, ptx->size()) != nullptr;
  }
  if (kernel.cubin() && kernel.cubin()->size() > 0) {
    desc.cubin = kernel.cubin()->data();
    desc.cubinBytes = kernel.cubin()->size();
  }
  desc.blockDim = kernel.block_dim();
  desc.sharedMemBytes = kernel.shared_mem_bytes();
  desc.programmaticLaunch = kernel.programmatic_launch();
  if (kernel.params()) {
    for (const fb::KernelParam *param : *kernel.params()) {
      KernelParamDesc p;
      p.dtype = static_cast<int32_t>(param->dtype());
      p.rank = param->rank();
      p.dynamicDims = convertScalars(param->dynamic_dims());
      if (const fb::TensorMap *map = param->tensor_map()) {
        p.hasTensorMap = true;
        p.tensorMapBox = convertScalars(map->box());
        p.tensorMapSwizzle = map->swizzle();
      }
      desc.params.push_back(std::move(p));
    }
  }
  return desc;
}

FunctionDesc convertFunction(const fb::Function &function) {
  FunctionDesc desc;
  desc.name = stringOrEmpty(function.name());
  if (function.symbols()) {
    for (const fb::Symbol *symbol : *function.symbols())
      desc.symbols.push_back(
          {stringOrEmpty(symbol->name()), symbol->input(), symbol->dim()});
  }
  if (function.buffers()) {
    for (const fb::Buffer *buffer : *function.buffers()) {
      BufferDesc b;
      b.kind = static_cast<uint8_t>(buffer->kind());
      b.index = buffer->index();
      b.dtype = static_cast<int32_t>(buffer->dtype());
      b.dims = convertExprs(buffer->dims());
      desc.buffers.push_back(std::move(b));
    }
  }
  desc.inputs = convertScalars(function.inputs());
  desc.outputs = convertScalars(function.outputs());
  if (function.launches()) {
    for (const fb::Launch *launch : *function.launches()) {
      LaunchDesc l;
      l.kernel = launch->kernel();
      l.grid = convertExprs(launch->grid());
      l.args = convertScalars(launch->args());
      desc.launches.push_back(std::move(l));
    }
  }
  if (function.checks()) {
    for (const fb::SizeCheck *check : *function.checks()) {
      SizeCheckDesc c;
      c.a = convertExpr(check->a());
      c.b = convertExpr(check->b());
      c.what = stringOrEmpty(check->what());
      desc.checks.push_back(std::move(c));
    }
  }
  if (function.value_checks()) {
    for (const fb::ValueCheck *check : *function.value_checks()) {
      ValueCheckDesc c;
      c.input = check->input();
      c.kind = static_cast<ValueCheckDesc::Kind>(check->kind());
      c.bound = convertExpr(check->bound());
      c.hasStep = check->step() != nullptr;
      if (c.hasStep)
        c.step = convertExpr(check->step());
      c.distinct = check->distinct();
      c.what = stringOrEmpty(check->what());
      desc.valueChecks.push_back(std::move(c));
    }
  }
  return desc;
}

void convertModule(const fb::Module &module, ModuleDesc &desc) {
  desc.version = module.version();
  desc.producer = stringOrEmpty(module.producer());
  desc.target = stringOrEmpty(module.target());
  if (module.kernels())
    for (const fb::Kernel *kernel : *module.kernels())
      desc.kernels.push_back(convertKernel(*kernel));
  if (module.weights()) {
    for (const fb::Weight *weight : *module.weights()) {
      WeightDesc w;
      w.name = stringOrEmpty(weight->name());
      w.dtype = static_cast<int32_t>(weight->dtype());
      w.shape = convertScalars(weight->shape());
      desc.weights.push_back(std::move(w));
    }
  }
  if (module.functions())
    for (const fb::Function *function : *module.functions())
      desc.functions.push_back(convertFunction(*function));
  if (module.metadata())
    for (const fb::KeyValue *kv : *module.metadata())
      desc.metadata.emplace_back(stringOrEmpty(kv->key()),
                                 stringOrEmpty(kv->value()));
}

/// Reads Module.version after verifying only the root table's header and
/// that one field, so a future layout still yields a version message.
uint32_t readVersion(const uint8_t *bytes, size_t size) {
  flatbuffers::Verifier::Options options;
  options.max_depth = kMaxDepth;
  options.max_tables = kMaxTables;
  flatbuffers::Verifier verifier(bytes, size, options);
  if (!verifier.VerifyOffset(0))
    fail(HYLA_ERROR_BAD_MODULE,
         "corrupted module: the root table offset points outside the file");
  auto *root = flatbuffers::GetRoot<flatbuffers::Table>(bytes);
  if (!root->VerifyTableStart(verifier) ||
      !root->VerifyField<uint32_t>(verifier, fb::Module::VT_VERSION, 4))
    fail(HYLA_ERROR_BAD_MODULE,
         "corrupted module: the root table is truncated or malformed");
  return root->GetField<uint32_t>(fb::Module::VT_VERSION, 0);
}

} // namespace

std::unique_ptr<hyla_module> loadModule(const void *data, size_t size) {
  if (!data && size > 0)
    fail(HYLA_ERROR_INVALID_ARGUMENT, "module data is NULL");
  // Root offset (4) + identifier (4) + at least a vtable and a table.
  if (size < 16)
    fail(HYLA_ERROR_BAD_MODULE, "not a hyla module: only ", size,
         " bytes (truncated?)");
  if (size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    fail(HYLA_ERROR_BAD_MODULE, "module is too large: ", size,
         " bytes (the limit is 2 GiB)");

  auto module = std::make_unique<hyla_module>();
  // Copy into 8-byte aligned storage: the verifier checks alignment relative
  // to the buffer start, so the start must be aligned for reads to be.
  module->storage.reset(new uint64_t[(size + 7) / 8]);
  module->storageBytes = size;
  std::memcpy(module->storage.get(), data, size);
  const auto *bytes = reinterpret_cast<const uint8_t *>(module->storage.get());

  if (!flatbuffers::BufferHasIdentifier(bytes, fb::ModuleIdentifier())) {
    std::string found;
    for (int i = 4; i < 8; ++i) {
      char c = static_cast<char>(bytes[i]);
      found += (c >= 0x20 && c < 0x7f)
                   ? std::string(1, c)
                   : strCat("\\x", std::hex, static_cast<int>(bytes[i]));
    }
    fail(HYLA_ERROR_BAD_MODULE, "not a hyla module: the file identifier is '",
         found, "', expected 'HYLA'");
  }

  uint32_t version = readVersion(bytes, size);
  if (version != HYLA_MODULE_FORMAT_VERSION)
    fail(HYLA_ERROR_BAD_MODULE, "unsupported module format version ", version,
         ": this runtime reads version ", HYLA_MODULE_FORMAT_VERSION,
         " (rebuild the module with a matching hylac, or update the runtime)");

  flatbuffers::Verifier::Options options;
  options.max_depth = kMaxDepth;
  options.max_tables = kMaxTables;
  flatbuffers::Verifier verifier(bytes, size, options);
  if (!fb::VerifyModuleBuffer(verifier))
    fail(HYLA_ERROR_BAD_MODULE,
         "corrupted or truncated module: FlatBuffers verification failed (",
         size, " bytes)");

  convertModule(*fb::GetModule(bytes), module->desc);
  validateModule(module->desc);
  module->weightPointers.assign(module->desc.weights.size(), 0);
  return module;
}

} // namespace hyla
