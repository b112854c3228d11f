//===- SizeExpr.cpp - checking, evaluating and printing sizes -------------===//

#include "SizeExpr.h"

#include "Errors.h"

#include <algorithm>
#include <utility>

namespace hyla {

namespace {

bool isBinaryOp(uint8_t op) {
  return op >= static_cast<uint8_t>(ExprOp::Add) &&
         op <= static_cast<uint8_t>(ExprOp::Max);
}

const char *opName(ExprOp op) {
  switch (op) {
  case ExprOp::Const:
    return "const";
  case ExprOp::Symbol:
    return "symbol";
  case ExprOp::Add:
    return "add";
  case ExprOp::Sub:
    return "sub";
  case ExprOp::Mul:
    return "mul";
  case ExprOp::FloorDiv:
    return "floordiv";
  case ExprOp::CeilDiv:
    return "ceildiv";
  case ExprOp::Rem:
    return "rem";
  case ExprOp::Min:
    return "min";
  case ExprOp::Max:
    return "max";
  }
  return "unknown";
}

} // namespace

std::string checkSizeExpr(const SizeExpr &expr, size_t numSymbols) {
  if (expr.code.empty())
    return "size expression is empty";
  if (expr.code.size() > kMaxExprLength)
    return strCat("size expression has ", expr.code.size(),
                  " instructions; the limit is ", kMaxExprLength);
  size_t depth = 0;
  for (size_t i = 0; i < expr.code.size(); ++i) {
    const ExprInst &inst = expr.code[i];
    if (inst.op == static_cast<uint8_t>(ExprOp::Const)) {
      ++depth;
    } else if (inst.op == static_cast<uint8_t>(ExprOp::Symbol)) {
      if (inst.value < 0 || static_cast<uint64_t>(inst.value) >= numSymbols)
        return strCat("size expression instruction ", i, " reads symbol ",
                      inst.value, ", but the function has ", numSymbols,
                      " symbols");
      ++depth;
    } else if (isBinaryOp(inst.op)) {
      if (depth < 2)
        return strCat("size expression instruction ", i, " (",
                      opName(static_cast<ExprOp>(inst.op)),
                      ") needs two operands but the stack holds ", depth);
      --depth;
    } else {
      return strCat("size expression instruction ", i, " has unknown opcode ",
                    static_cast<int>(inst.op));
    }
    if (depth > kMaxExprStack)
      return strCat("size expression needs a stack deeper than ",
                    kMaxExprStack);
  }
  if (depth != 1)
    return strCat("size expression leaves ", depth,
                  " values on the stack instead of one");
  return "";
}

bool isConstantExpr(const SizeExpr &expr) {
  return std::none_of(expr.code.begin(), expr.code.end(),
                      [](const ExprInst &i) {
                        return i.op == static_cast<uint8_t>(ExprOp::Symbol);
                      });
}

std::string evaluateSizeExpr(const SizeExpr &expr, const int64_t *symbols,
                             int64_t &result) {
  int64_t stack[kMaxExprStack];
  size_t depth = 0;
  for (const ExprInst &inst : expr.code) {
    auto op = static_cast<ExprOp>(inst.op);
    if (op == ExprOp::Const) {
      stack[depth++] = inst.value;
      continue;
    }
    if (op == ExprOp::Symbol) {
      stack[depth++] = symbols[inst.value];
      continue;
    }
    int64_t b = stack[--depth];
    int64_t a = stack[depth - 1];
    int64_t value = 0;
    switch (op) {
    case ExprOp::Add:
      if (__builtin_add_overflow(a, b, &value))
        return strCat("overflow in ", a, " + ", b);
      break;
    case ExprOp::Sub:
      if (__builtin_sub_overflow(a, b, &value))
        return strCat("overflow in ", a, " - ", b);
      break;
    case ExprOp::Mul:
      if (__builtin_mul_overflow(a, b, &value))
        return strCat("overflow in ", a, " * ", b);
      break;
    case ExprOp::FloorDiv:
    case ExprOp::CeilDiv:
    case ExprOp::Rem: {
      if (b == 0)
        return strCat("division by zero in ", opName(op), "(", a, ", 0)");
      if (b < 0)
        return strCat("non-positive divisor in ", opName(op), "(", a, ", ", b,
                      ")");
      // b > 0, so a / b cannot overflow; round toward -inf / +inf.
      int64_t quotient = a / b;
      int64_t remainder = a % b;
      if (op == ExprOp::FloorDiv)
        value = (remainder != 0 && a < 0) ? quotient - 1 : quotient;
      else if (op == ExprOp::CeilDiv)
        value = (remainder != 0 && a > 0) ? quotient + 1 : quotient;
      else
        value = remainder < 0 ? remainder + b : remainder;
      break;
    }
    case ExprOp::Min:
      value = std::min(a, b);
      break;
    case ExprOp::Max:
      value = std::max(a, b);
      break;
    default:
      return strCat("unknown opcode ", static_cast<int>(inst.op));
    }
    stack[depth - 1] = value;
  }
  result = stack[0];
  return "";
}

std::string formatSizeExpr(const SizeExpr &expr,
                           const std::vector<std::string> &symbolNames) {
  // Precedence of a rendered operand: 3 = atom or call, 2 = * // %,
  // 1 = + -. Operands of lower precedence get parentheses.
  std::vector<std::pair<std::string, int>> stack;
  auto wrap = [](const std::pair<std::string, int> &operand, int minPrec) {
    return operand.second < minPrec ? "(" + operand.first + ")" : operand.first;
  };
  for (const ExprInst &inst : expr.code) {
    auto op = static_cast<ExprOp>(inst.op);
    if (op == ExprOp::Const) {
      stack.push_back({std::to_string(inst.value), inst.value < 0 ? 1 : 3});
      continue;
    }
    if (op == ExprOp::Symbol) {
      size_t index = static_cast<size_t>(inst.value);
      stack.push_back({index < symbolNames.size() ? symbolNames[index]
                                                  : strCat("$", inst.value),
                       3});
      continue;
    }
    if (stack.size() < 2)
      return "<malformed>";
    auto b = std::move(stack.back());
    stack.pop_back();
    auto a = std::move(stack.back());
    stack.pop_back();
    switch (op) {
    case ExprOp::Add:
      stack.push_back({wrap(a, 1) + " + " + wrap(b, 1), 1});
      break;
    case ExprOp::Sub:
      stack.push_back({wrap(a, 1) + " - " + wrap(b, 2), 1});
      break;
    case ExprOp::Mul:
      stack.push_back({wrap(a, 2) + " * " + wrap(b, 2), 2});
      break;
    case ExprOp::FloorDiv:
      stack.push_back({wrap(a, 2) + " // " + wrap(b, 3), 2});
      break;
    case ExprOp::Rem:
      stack.push_back({wrap(a, 2) + " % " + wrap(b, 3), 2});
      break;
    case ExprOp::CeilDiv:
    case ExprOp::Min:
    case ExprOp::Max:
      stack.push_back(
          {strCat(opName(op), "(", a.first, ", ", b.first, ")"), 3});
      break;
    default:
      return "<malformed>";
    }
  }
  return stack.size() == 1 ? stack.back().first : "<malformed>";
}

} // namespace hyla
