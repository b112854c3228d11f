//===- HylaDialect.cpp - the hyla graph dialect ---------------------------===//

#include "dialects/Hyla/HylaDialect.h"
#include "dialects/Hyla/HylaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace hyla;

#include "dialects/Hyla/HylaDialect.cpp.inc"

void HylaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Hyla/HylaOps.cpp.inc"
      >();
}
