//===- HylaDialect.h - the hyla graph dialect -----------------------------===//
#ifndef HYLA_DIALECTS_HYLA_HYLADIALECT_H
#define HYLA_DIALECTS_HYLA_HYLADIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/Hyla/HylaDialect.h.inc"

#endif
