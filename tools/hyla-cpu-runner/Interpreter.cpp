//===- Interpreter.cpp - shared graph bookkeeping and weights -------------===//

#include "Interpreter.h"

#include "dialects/Hyla/HylaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/Hashing.h"

#include <cmath>

using namespace mlir;

namespace hyla {

HostTensorPtr WeightStore::get(StringRef name, RankedTensorType type) {
  auto it = weights.find(name);
  if (it != weights.end())
    return it->second;
  auto t = std::make_shared<HostTensor>();
  t->elementType = type.getElementType();
  t->shape.assign(type.getShape().begin(), type.getShape().end());
  t->values.resize(t->numel());
  std::mt19937_64 rng(seed ^ llvm::hash_value(name));
  std::normal_distribution<double> normal(0.0, 1.0);
  double fanIn = type.getRank() >= 2 ? type.getShape().back() : 1.0;
  for (double &v : t->values) {
    double x = type.getRank() == 1 ? 1.0 + 0.1 * normal(rng)
                                   : normal(rng) / std::sqrt(fanIn);
    v = roundTo(t->elementType, x);
  }
  weights[name] = t;
  return t;
}

static std::optional<int64_t> evalIndexBinary(Operation *op, int64_t a,
                                              int64_t b) {
  auto ceilDiv = [](int64_t x, int64_t y) { return (x + y - 1) / y; };
  if (isa<arith::AddIOp>(op))
    return a + b;
  if (isa<arith::SubIOp>(op))
    return a - b;
  if (isa<arith::MulIOp>(op))
    return a * b;
  if (isa<arith::DivUIOp, arith::DivSIOp>(op))
    return b == 0 ? std::nullopt : std::optional<int64_t>(a / b);
  if (isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(op))
    return b == 0 ? std::nullopt : std::optional<int64_t>(ceilDiv(a, b));
  if (isa<arith::RemUIOp, arith::RemSIOp>(op))
    return b == 0 ? std::nullopt : std::optional<int64_t>(a % b);
  if (isa<arith::MinUIOp, arith::MinSIOp>(op))
    return std::min(a, b);
  if (isa<arith::MaxUIOp, arith::MaxSIOp>(op))
    return std::max(a, b);
  return std::nullopt;
}

LogicalResult GraphInterpreter::evalCommon(Operation *op, bool &handled) {
  handled = true;
  if (auto c = dyn_cast<arith::ConstantIndexOp>(op)) {
    indices[c] = c.value();
    return success();
  }
  if (op->getNumOperands() == 2 && op->getNumResults() == 1 &&
      op->getResult(0).getType().isIndex() &&
      isa<arith::ArithDialect>(op->getDialect())) {
    std::optional<int64_t> r = evalIndexBinary(
        op, index(op->getOperand(0)), index(op->getOperand(1)));
    if (!r)
      return op->emitError("cannot evaluate this index op (division by zero "
                           "or unknown op)");
    indices[op->getResult(0)] = *r;
    return success();
  }
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    HostTensorPtr t = tensor(dim.getSource());
    int64_t d = index(dim.getIndex());
    if (!t || d < 0 || d >= static_cast<int64_t>(t->shape.size()))
      return op->emitError("tensor.dim of an unknown tensor or dim");
    indices[dim] = t->shape[d];
    return success();
  }
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op)) {
    HostTensorPtr src = tensor(op->getOperand(0));
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    auto out = std::make_shared<HostTensor>(*src);
    out->shape.clear();
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
      for (const auto &group : collapse.getReassociationIndices()) {
        int64_t n = 1;
        for (int64_t d : group)
          n *= src->shape[d];
        out->shape.push_back(n);
      }
    } else {
      auto expand = cast<tensor::ExpandShapeOp>(op);
      for (OpFoldResult s : expand.getMixedOutputShape()) {
        if (auto v = dyn_cast<Value>(s))
          out->shape.push_back(index(v));
        else
          out->shape.push_back(cast<IntegerAttr>(cast<Attribute>(s)).getInt());
      }
    }
    if (out->numel() != src->numel() ||
        static_cast<int64_t>(out->shape.size()) != type.getRank())
      return op->emitError("reshape changes the number of elements");
    set(op->getResult(0), out);
    return success();
  }
  if (auto w = dyn_cast<WeightOp>(op)) {
    set(w, weights.get(w.getName(), w.getType()));
    return success();
  }
  handled = false;
  return success();
}

FailureOr<std::vector<HostTensorPtr>>
GraphInterpreter::run(func::FuncOp fn, ArrayRef<HostTensorPtr> args) {
  tensors.clear();
  indices.clear();
  for (auto [arg, value] : llvm::zip(fn.getArguments(), args))
    set(arg, value);
  for (Operation &op : fn.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<HostTensorPtr> results;
      for (Value v : ret.getOperands())
        results.push_back(tensor(v));
      return results;
    }
    bool handled;
    if (failed(evalCommon(&op, handled)))
      return failure();
    if (handled)
      continue;
    if (failed(evalOp(&op)))
      return failure();
  }
  return fn.emitError("function has no return");
}

} // namespace hyla
