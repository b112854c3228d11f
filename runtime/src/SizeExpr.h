//===- SizeExpr.h - size expressions over function symbols ------*- C++ -*-===//
//
// A size expression is a postfix program over signed 64-bit integers (see
// hyla.fb.ExprOp). The loader checks each program once (checkSizeExpr); after
// that, evaluation cannot underflow its stack or read a symbol out of range,
// and only reports arithmetic problems (overflow, bad divisor).
//
//===----------------------------------------------------------------------===//
#ifndef HYLA_RUNTIME_SIZEEXPR_H
#define HYLA_RUNTIME_SIZEEXPR_H

#include <cstdint>
#include <string>
#include <vector>

namespace hyla {

enum class ExprOp : uint8_t {
  Const = 0,
  Symbol = 1,
  Add = 2,
  Sub = 3,
  Mul = 4,
  FloorDiv = 5,
  CeilDiv = 6,
  Rem = 7,
  Min = 8,
  Max = 9,
};

struct ExprInst {
  uint8_t op; // raw, so that the loader can report unknown opcodes
  int64_t value;
};

struct SizeExpr {
  std::vector<ExprInst> code;
};

/// Longest program and deepest stack a module may use: far beyond what a
/// compiler emits for a size, small enough to bound evaluation cost.
constexpr size_t kMaxExprLength = 1024;
constexpr size_t kMaxExprStack = 64;

/// Checks that `expr` is well formed: non-empty, known opcodes, symbol
/// operands < numSymbols, no stack underflow, exactly one result. Returns ""
/// when it is, else what is wrong.
std::string checkSizeExpr(const SizeExpr &expr, size_t numSymbols);

/// True if the program reads no symbol.
bool isConstantExpr(const SizeExpr &expr);

/// Evaluates a checked expression. Returns "" and sets `result`, or returns
/// what went wrong (overflow, division by zero, negative divisor).
std::string evaluateSizeExpr(const SizeExpr &expr, const int64_t *symbols,
                             int64_t &result);

/// Renders a checked expression in infix form for messages and shape
/// descriptions, e.g. "ceildiv(tokens, 64)" or "batch * tokens".
std::string formatSizeExpr(const SizeExpr &expr,
                           const std::vector<std::string> &symbolNames);

} // namespace hyla

#endif // HYLA_RUNTIME_SIZEEXPR_H
