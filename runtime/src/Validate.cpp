//===- Validate.cpp - semantic rules of the module format -----------------===//
//
// The FlatBuffers verifier only proves that offsets are in bounds. This file
// checks everything else the runtime relies on, so that no later code can
// index out of range or misread a kernel's arguments. Each message names the
// element it rejects.
//
//===----------------------------------------------------------------------===//

#include "DTypes.h"
#include "Errors.h"
#include "ModuleDesc.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_set>

namespace hyla {

namespace {

[[noreturn]] void reject(const std::string &where, const std::string &what) {
  fail(HYLA_ERROR_BAD_MODULE, "invalid module: ", where, ": ", what);
}

// Upper bound on list sizes so that counts fit the C API's int32_t.
constexpr size_t kMaxCount = 1u << 24;

void checkCount(const std::string &where, const char *what, size_t count) {
  if (count > kMaxCount)
    reject(where,
           strCat("has ", count, " ", what, "; the limit is ", kMaxCount));
}

void checkName(const std::string &where, const std::string &name) {
  if (name.empty())
    reject(where, "name is empty");
  if (name.find('\0') != std::string::npos)
    reject(where, "name contains a NUL byte");
}

const char *kindName(uint8_t kind) {
  switch (static_cast<BufferKind>(kind)) {
  case BufferKind::Input:
    return "input";
  case BufferKind::Output:
    return "output";
  case BufferKind::Weight:
    return "weight";
  case BufferKind::Temporary:
    return "temporary";
  case BufferKind::View:
    return "view";
  }
  return "unknown";
}

void checkExpr(const std::string &where, const SizeExpr &expr,
               size_t numSymbols) {
  std::string problem = checkSizeExpr(expr, numSymbols);
  if (!problem.empty())
    reject(where, problem);
}

/// What cuTensorMapEncodeTiled accepts for a tiled map of 2- or 4-byte
/// elements, checked once at load so that a bad module is a load error.
void validateTensorMap(const std::string &where, const KernelParamDesc &param) {
  const std::vector<uint32_t> &box = param.tensorMapBox;
  if (param.rank < 1 || param.rank > 5)
    reject(where, strCat("has a tensor map but rank ", param.rank,
                         "; tensor maps take ranks 1..5"));
  if (box.size() != param.rank)
    reject(where, strCat("tensor map box has ", box.size(),
                         " entries for rank ", param.rank));
  for (uint32_t b : box)
    if (b < 1 || b > 256)
      reject(where, strCat("tensor map box entry ", b, " is outside 1..256"));
  size_t bytes = dtypeSize(param.dtype);
  if (bytes != 2 && bytes != 4)
    reject(where, strCat("tensor map of ", dtypeName(param.dtype),
                         " elements; only 2- and 4-byte elements are tiled"));
  uint32_t swizzle = param.tensorMapSwizzle;
  if (swizzle != 0 && swizzle != 32 && swizzle != 64 && swizzle != 128)
    reject(where, strCat("tensor map swizzle ", swizzle,
                         " is not 0, 32, 64 or 128 bytes"));
  size_t rowBytes = box.back() * bytes;
  if (rowBytes % 16 != 0 || (swizzle != 0 && rowBytes > swizzle))
    reject(where, strCat("tensor map box rows of ", rowBytes, " bytes must be ",
                         "a multiple of 16", swizzle ? " and at most " : "",
                         swizzle ? std::to_string(swizzle) : std::string(),
                         swizzle ? " (the swizzle)" : ""));
}

void validateKernel(const ModuleDesc &module, size_t k) {
  const KernelDesc &kernel = module.kernels[k];
  std::string where = strCat("kernel ", k);
  checkName(where, kernel.name);
  where = strCat("kernel ", k, " (", quoted(kernel.name), ")");
  if (!kernel.ptx || kernel.ptxBytes == 0)
    reject(where, "has no PTX");
  if (kernel.ptxHasNul)
    reject(where, "PTX text contains a NUL byte");
  if (kernel.blockDim < 1 || kernel.blockDim > 1024)
    reject(where,
           strCat("block_dim is ", kernel.blockDim, "; it must be in 1..1024"));
  checkCount(where, "params", kernel.params.size());
  for (size_t p = 0; p < kernel.params.size(); ++p) {
    const KernelParamDesc &param = kernel.params[p];
    std::string paramWhere = strCat(where, " param ", p);
    if (!isKnownDType(param.dtype))
      reject(paramWhere, strCat("unknown dtype ", param.dtype));
    if (param.rank > HYLA_MAX_RANK)
      reject(paramWhere, strCat("rank ", param.rank, " exceeds the maximum ",
                                HYLA_MAX_RANK));
    for (size_t i = 0; i < param.dynamicDims.size(); ++i) {
      uint32_t dim = param.dynamicDims[i];
      if (dim >= param.rank)
        reject(paramWhere, strCat("dynamic dim ", dim, " is out of range for ",
                                  "rank ", param.rank));
      if (i > 0 && dim <= param.dynamicDims[i - 1])
        reject(paramWhere, "dynamic_dims must be strictly increasing");
    }
    if (param.hasTensorMap)
      validateTensorMap(paramWhere, param);
  }
}

void validateWeight(ModuleDesc &module, size_t w) {
  WeightDesc &weight = module.weights[w];
  std::string where = strCat("weight ", w);
  checkName(where, weight.name);
  where = strCat("weight ", w, " (", quoted(weight.name), ")");
  if (!module.weightByName.emplace(weight.name, static_cast<uint32_t>(w))
           .second)
    reject(where, "a weight with this name already exists");
  if (!isKnownDType(weight.dtype))
    reject(where, strCat("unknown dtype ", weight.dtype));
  if (weight.shape.size() > HYLA_MAX_RANK)
    reject(where, strCat("rank ", weight.shape.size(), " exceeds the maximum ",
                         HYLA_MAX_RANK));
  uint64_t bytes = dtypeSize(weight.dtype);
  for (size_t d = 0; d < weight.shape.size(); ++d) {
    int64_t extent = weight.shape[d];
    if (extent < 0)
      reject(where, strCat("dim ", d, " is negative (", extent, ")"));
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(extent), &bytes) ||
        bytes > (uint64_t(1) << 62))
      reject(where, "size in bytes overflows");
  }
  weight.numBytes = bytes;
}

void validateBuffer(const ModuleDesc &module, FunctionDesc &function,
                    const std::string &fnWhere, size_t id) {
  BufferDesc &buffer = function.buffers[id];
  std::string where = strCat(fnWhere, " buffer ", id);
  if (buffer.kind > static_cast<uint8_t>(BufferKind::View))
    reject(where, strCat("unknown kind ", static_cast<int>(buffer.kind)));
  where += strCat(" (", kindName(buffer.kind), ")");
  if (!isKnownDType(buffer.dtype))
    reject(where, strCat("unknown dtype ", buffer.dtype));
  if (buffer.dims.size() > HYLA_MAX_RANK)
    reject(where, strCat("rank ", buffer.dims.size(), " exceeds the maximum ",
                         HYLA_MAX_RANK));
  for (size_t d = 0; d < buffer.dims.size(); ++d)
    checkExpr(strCat(where, " dim ", d), buffer.dims[d],
              function.symbols.size());

  buffer.storageBuffer = static_cast<uint32_t>(id);
  switch (buffer.bufferKind()) {
  case BufferKind::Input:
    if (buffer.index >= function.inputs.size() ||
        function.inputs[buffer.index] != id)
      reject(where, strCat("claims to be input ", buffer.index,
                           ", but the function's inputs list does not have "
                           "this buffer at that position"));
    break;
  case BufferKind::Output:
    if (buffer.index >= function.outputs.size() ||
        function.outputs[buffer.index] != id)
      reject(where, strCat("claims to be output ", buffer.index,
                           ", but the function's outputs list does not have "
                           "this buffer at that position"));
    break;
  case BufferKind::Weight: {
    if (buffer.index >= module.weights.size())
      reject(where, strCat("is weight ", buffer.index, ", but the module has ",
                           module.weights.size(), " weights"));
    const WeightDesc &weight = module.weights[buffer.index];
    std::string weightName = quoted(weight.name);
    if (buffer.dtype != weight.dtype)
      reject(where,
             strCat("has dtype ", dtypeName(buffer.dtype), " but weight ",
                    weightName, " is ", dtypeName(weight.dtype)));
    if (buffer.dims.size() != weight.shape.size())
      reject(where, strCat("has rank ", buffer.dims.size(), " but weight ",
                           weightName, " has rank ", weight.shape.size()));
    for (size_t d = 0; d < buffer.dims.size(); ++d) {
      if (!isConstantExpr(buffer.dims[d]))
        reject(where, strCat("dim ", d, " of weight ", weightName,
                             " must be a constant"));
      int64_t value = 0;
      std::string problem = evaluateSizeExpr(buffer.dims[d], nullptr, value);
      if (!problem.empty())
        reject(strCat(where, " dim ", d), problem);
      if (value != weight.shape[d])
        reject(where, strCat("dim ", d, " is ", value, " but weight ",
                             weightName, " has ", weight.shape[d]));
    }
    break;
  }
  case BufferKind::Temporary:
    break;
  case BufferKind::View:
    // Views refer to an earlier buffer, so chains always end (no loops).
    if (buffer.index >= id)
      reject(where, strCat("is a view of buffer ", buffer.index,
                           ", but a view must refer to an earlier buffer"));
    buffer.storageBuffer = function.buffers[buffer.index].storageBuffer;
    break;
  }
}

void validateIoList(const FunctionDesc &function, const std::string &fnWhere,
                    const std::vector<uint32_t> &list, BufferKind kind,
                    const char *what) {
  for (size_t pos = 0; pos < list.size(); ++pos) {
    uint32_t id = list[pos];
    std::string where = strCat(fnWhere, " ", what, " ", pos);
    if (id >= function.buffers.size())
      reject(where, strCat("is buffer ", id, ", but the function has ",
                           function.buffers.size(), " buffers"));
    const BufferDesc &buffer = function.buffers[id];
    // An output may also be an input the function updates in place.
    if (kind == BufferKind::Output && buffer.bufferKind() == BufferKind::Input)
      continue;
    if (buffer.bufferKind() != kind || buffer.index != pos)
      reject(where,
             strCat("is buffer ", id, ", which is ", kindName(buffer.kind), " ",
                    buffer.index, ", not ", what, " ", pos));
  }
}

void validateLaunch(const ModuleDesc &module, const FunctionDesc &function,
                    const std::string &fnWhere, size_t l) {
  const LaunchDesc &launch = function.launches[l];
  std::string where = strCat(fnWhere, " launch ", l);
  if (launch.kernel >= module.kernels.size())
    reject(where, strCat("kernel ", launch.kernel, " is out of range (the ",
                         "module has ", module.kernels.size(), " kernels)"));
  const KernelDesc &kernel = module.kernels[launch.kernel];
  where += strCat(" (kernel ", quoted(kernel.name), ")");
  if (launch.grid.size() != 3)
    reject(where, strCat("has ", launch.grid.size(),
                         " grid expressions; exactly 3 are required"));
  for (size_t g = 0; g < 3; ++g)
    checkExpr(strCat(where, " grid ", "xyz"[g]), launch.grid[g],
              function.symbols.size());
  if (launch.args.size() != kernel.params.size())
    reject(where, strCat("has ", launch.args.size(), " args but the kernel ",
                         "has ", kernel.params.size(), " params"));
  for (size_t a = 0; a < launch.args.size(); ++a) {
    uint32_t id = launch.args[a];
    if (id >= function.buffers.size())
      reject(where, strCat("arg ", a, " is buffer ", id, ", but the function ",
                           "has ", function.buffers.size(), " buffers"));
    const BufferDesc &buffer = function.buffers[id];
    const KernelParamDesc &param = kernel.params[a];
    if (buffer.dims.size() != param.rank)
      reject(where, strCat("arg ", a, " is buffer ", id, " of rank ",
                           buffer.dims.size(), ", but kernel param ", a,
                           " has rank ", param.rank));
    if (buffer.dtype != param.dtype)
      reject(where, strCat("arg ", a, " is buffer ", id, " of dtype ",
                           dtypeName(buffer.dtype), ", but kernel param ", a,
                           " is ", dtypeName(param.dtype)));
  }
}

/// The launches between which each temporary's storage must hold its value
/// (views count for the buffer they view).
void computeLifetimes(FunctionDesc &function) {
  size_t n = function.buffers.size();
  uint32_t none = UINT32_MAX;
  function.firstLaunch.assign(n, none);
  function.lastLaunch.assign(n, 0);
  for (size_t l = 0; l < function.launches.size(); ++l)
    for (uint32_t id : function.launches[l].args) {
      uint32_t storage = function.buffers[id].storageBuffer;
      function.firstLaunch[storage] =
          std::min(function.firstLaunch[storage], static_cast<uint32_t>(l));
      function.lastLaunch[storage] =
          std::max(function.lastLaunch[storage], static_cast<uint32_t>(l));
    }
  for (size_t id = 0; id < n; ++id)
    if (function.firstLaunch[id] == none) { // untouched: the whole call
      function.firstLaunch[id] = 0;
      function.lastLaunch[id] = none;
    }
}

void validateFunction(ModuleDesc &module, size_t f) {
  FunctionDesc &function = module.functions[f];
  std::string where = strCat("function ", f);
  checkName(where, function.name);
  where = strCat("function ", quoted(function.name));
  if (!module.functionByName.emplace(function.name, static_cast<uint32_t>(f))
           .second)
    reject(where, "a function with this name already exists");
  checkCount(where, "symbols", function.symbols.size());
  checkCount(where, "buffers", function.buffers.size());
  checkCount(where, "inputs", function.inputs.size());
  checkCount(where, "outputs", function.outputs.size());
  checkCount(where, "launches", function.launches.size());

  std::unordered_set<std::string> symbolNames;
  for (size_t s = 0; s < function.symbols.size(); ++s) {
    const SymbolDesc &symbol = function.symbols[s];
    std::string symWhere = strCat(where, " symbol ", s);
    checkName(symWhere, symbol.name);
    if (!symbolNames.insert(symbol.name).second)
      reject(strCat(symWhere, " (", quoted(symbol.name), ")"),
             "a symbol with this name already exists");
    function.symbolNames.push_back(symbol.name);
  }

  for (size_t b = 0; b < function.buffers.size(); ++b)
    validateBuffer(module, function, where, b);
  validateIoList(function, where, function.inputs, BufferKind::Input, "input");
  validateIoList(function, where, function.outputs, BufferKind::Output,
                 "output");

  for (size_t s = 0; s < function.symbols.size(); ++s) {
    const SymbolDesc &symbol = function.symbols[s];
    std::string symWhere =
        strCat(where, " symbol ", s, " (", quoted(symbol.name), ")");
    if (symbol.input >= function.inputs.size())
      reject(symWhere,
             strCat("reads input ", symbol.input, ", but the ", "function has ",
                    function.inputs.size(), " inputs"));
    size_t rank = function.buffers[function.inputs[symbol.input]].dims.size();
    if (symbol.dim >= rank)
      reject(symWhere, strCat("reads dim ", symbol.dim, " of input ",
                              symbol.input, ", which has rank ", rank));
  }

  for (size_t l = 0; l < function.launches.size(); ++l)
    validateLaunch(module, function, where, l);
  computeLifetimes(function);

  checkCount(where, "checks", function.checks.size());
  for (size_t c = 0; c < function.checks.size(); ++c) {
    const SizeCheckDesc &check = function.checks[c];
    std::string checkWhere = strCat(where, " check ", c);
    checkExpr(strCat(checkWhere, " a"), check.a, function.symbols.size());
    checkExpr(strCat(checkWhere, " b"), check.b, function.symbols.size());
    if (check.what.size() > 4096 ||
        check.what.find('\0') != std::string::npos)
      reject(checkWhere, "description is longer than 4096 bytes or holds NUL");
  }

  checkCount(where, "value checks", function.valueChecks.size());
  for (size_t c = 0; c < function.valueChecks.size(); ++c) {
    const ValueCheckDesc &check = function.valueChecks[c];
    std::string checkWhere = strCat(where, " value check ", c);
    if (check.kind != ValueCheckDesc::Below &&
        check.kind != ValueCheckDesc::Offsets)
      reject(checkWhere, strCat("has unknown kind ", int(check.kind)));
    if (check.input >= function.inputs.size())
      reject(checkWhere, strCat("reads input ", check.input, ", but the ",
                                "function has ", function.inputs.size(),
                                " inputs"));
    int32_t dtype = function.buffers[function.inputs[check.input]].dtype;
    if (dtype != HYLA_I32 && dtype != HYLA_I64)
      reject(checkWhere, strCat("reads input ", check.input, " of dtype ",
                                dtypeName(dtype), "; values are checked in ",
                                "i32 or i64 inputs"));
    checkExpr(strCat(checkWhere, " bound"), check.bound,
              function.symbols.size());
    if (check.hasStep) {
      if (check.kind != ValueCheckDesc::Offsets)
        reject(checkWhere, "has a step but is not an Offsets check");
      checkExpr(strCat(checkWhere, " step"), check.step,
                function.symbols.size());
    }
    if (check.what.size() > 4096 ||
        check.what.find('\0') != std::string::npos)
      reject(checkWhere, "description is longer than 4096 bytes or holds NUL");
  }
}

} // namespace

void validateModule(ModuleDesc &module) {
  if (module.target.empty())
    reject("module", "target is empty");
  if (module.target.find('\0') != std::string::npos)
    reject("module", "target contains a NUL byte");
  checkCount("module", "kernels", module.kernels.size());
  checkCount("module", "weights", module.weights.size());
  checkCount("module", "functions", module.functions.size());
  for (size_t k = 0; k < module.kernels.size(); ++k)
    validateKernel(module, k);
  for (size_t w = 0; w < module.weights.size(); ++w)
    validateWeight(module, w);
  for (size_t f = 0; f < module.functions.size(); ++f)
    validateFunction(module, f);
  for (size_t i = 0; i < module.metadata.size(); ++i) {
    const std::string &key = module.metadata[i].first;
    if (key.empty())
      reject(strCat("metadata entry ", i), "key is empty");
    if (key.find('\0') != std::string::npos)
      reject(strCat("metadata entry ", i), "key contains a NUL byte");
  }
}

} // namespace hyla
