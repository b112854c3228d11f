//===- HylaOps.h - hyla graph operations ----------------------------------===//
#ifndef HYLA_DIALECTS_HYLA_HYLAOPS_H
#define HYLA_DIALECTS_HYLA_HYLAOPS_H

#include "dialects/Hyla/HylaDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/Hyla/HylaOps.h.inc"

#endif
