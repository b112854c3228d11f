//===- Interpreter.h - running graph functions on the host ----------------===//
//
// Two interpreters share the bookkeeping of a graph function (index
// arithmetic, tensor.dim, reshapes, weights, return):
//  - ReferenceInterpreter evaluates every hyla op from its definition in
//    float64, with no rounding in between: the naive reference.
//  - DispatchInterpreter runs a function whose ops have become dispatches,
//    calling the JIT-compiled CPU build of each tile kernel once per program.
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_TOOLS_CPURUNNER_INTERPRETER_H
#define HYLA_TOOLS_CPURUNNER_INTERPRETER_H

#include "HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <random>

namespace hyla {

/// Deterministic random weights by name, shared by both interpreters so they
/// see the same parameters.
class WeightStore {
public:
  explicit WeightStore(uint64_t seed) : seed(seed) {}
  /// The weight `name` of `type`, generated on first use: 1-D weights (norm
  /// gains, gate parameters) are 1 + 0.1 N(0, 1); others N(0, 1)/sqrt(fan in).
  HostTensorPtr get(llvm::StringRef name, mlir::RankedTensorType type);

private:
  uint64_t seed;
  llvm::StringMap<HostTensorPtr> weights;
};

class GraphInterpreter {
public:
  explicit GraphInterpreter(WeightStore &weights) : weights(weights) {}
  virtual ~GraphInterpreter() = default;

  /// Runs `fn`; fails (with a diagnostic on the op) on anything it cannot
  /// evaluate.
  mlir::FailureOr<std::vector<HostTensorPtr>>
  run(mlir::func::FuncOp fn, llvm::ArrayRef<HostTensorPtr> args);

protected:
  /// Ops specific to one interpreter; return failure() if not handled.
  virtual mlir::LogicalResult evalOp(mlir::Operation *op) = 0;

  HostTensorPtr tensor(mlir::Value v) { return tensors.lookup(v); }
  int64_t index(mlir::Value v) { return indices.lookup(v); }
  void set(mlir::Value v, HostTensorPtr t) { tensors[v] = std::move(t); }

private:
  mlir::LogicalResult evalCommon(mlir::Operation *op, bool &handled);

  WeightStore &weights;
  llvm::DenseMap<mlir::Value, HostTensorPtr> tensors;
  llvm::DenseMap<mlir::Value, int64_t> indices;
};

class ReferenceInterpreter : public GraphInterpreter {
public:
  /// With `roundResults`, every op result is rounded to its element type
  /// (bf16 activations stay bf16 between ops, as in the compiled graph);
  /// the arithmetic inside each op stays float64.
  ReferenceInterpreter(WeightStore &weights, bool roundResults)
      : GraphInterpreter(weights), roundResults(roundResults) {}

protected:
  mlir::LogicalResult evalOp(mlir::Operation *op) override;

private:
  mlir::LogicalResult evalHylaOp(mlir::Operation *op);
  bool roundResults;
};

class DispatchInterpreter : public GraphInterpreter {
public:
  DispatchInterpreter(WeightStore &weights, mlir::ExecutionEngine &engine)
      : GraphInterpreter(weights), engine(engine) {}

protected:
  mlir::LogicalResult evalOp(mlir::Operation *op) override;

private:
  mlir::ExecutionEngine &engine;
};

} // namespace hyla

#endif
