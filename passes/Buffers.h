//===- Buffers.h - which buffer a graph tensor lives in ---------*- C++ -*-===//
//
// Graph tensors become buffers: reshapes and casts are views of their
// source, a dispatch result is a fresh buffer unless it is tied to an input
// (updated in place).
//
//===----------------------------------------------------------------------===//

#ifndef HYLA_PASSES_BUFFERS_H
#define HYLA_PASSES_BUFFERS_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace hyla {

/// The buffer a tensor aliases: through reshapes and casts, its source.
inline mlir::Value rootBuffer(mlir::Value v) {
  while (mlir::Operation *def = v.getDefiningOp()) {
    if (auto e = llvm::dyn_cast<mlir::tensor::ExpandShapeOp>(def))
      v = e.getSrc();
    else if (auto c = llvm::dyn_cast<mlir::tensor::CollapseShapeOp>(def))
      v = c.getSrc();
    else if (auto c = llvm::dyn_cast<mlir::tensor::CastOp>(def))
      v = c.getSource();
    else
      break;
  }
  return v;
}

} // namespace hyla

#endif // HYLA_PASSES_BUFFERS_H
