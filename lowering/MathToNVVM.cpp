//===- MathToNVVM.cpp - math ops as PTX approximate instructions ----------===//
//
// The PTX `.approx` instructions are a few ulp from exact on their reduced
// ranges; the wrappers here supply the scaling (exp via ex2, log via lg2)
// and range reduction (sin/cos) that keep them there for any argument, and
// the classic correction that keeps log1p exact near 0. Vector arguments
// are unrolled.
//
//===----------------------------------------------------------------------===//

#include "lowering/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_MATHTONVVM
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;

namespace {

Value intrinsic(OpBuilder &b, Location loc, StringRef name, Value x) {
  return LLVM::CallIntrinsicOp::create(b, loc, x.getType(),
                                       b.getStringAttr(name), ValueRange{x})
      .getResult(0);
}

Value constF32(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

using ScalarFn = Value (*)(OpBuilder &, Location, Value);

Value expF32(OpBuilder &b, Location loc, Value x) {
  Value scaled = arith::MulFOp::create(b, loc, x, constF32(b, loc, M_LOG2E));
  return intrinsic(b, loc, "llvm.nvvm.ex2.approx.ftz.f", scaled);
}

Value exp2F32(OpBuilder &b, Location loc, Value x) {
  return intrinsic(b, loc, "llvm.nvvm.ex2.approx.ftz.f", x);
}

Value logF32(OpBuilder &b, Location loc, Value x) {
  Value l2 = intrinsic(b, loc, "llvm.nvvm.lg2.approx.ftz.f", x);
  return arith::MulFOp::create(b, loc, l2, constF32(b, loc, M_LN2));
}

Value log1pF32(OpBuilder &b, Location loc, Value x) {
  // u = 1 + x rounds; log(u) * x / (u - 1) cancels that rounding.
  Value one = constF32(b, loc, 1.0);
  Value u = arith::AddFOp::create(b, loc, one, x);
  Value d = arith::SubFOp::create(b, loc, u, one);
  Value ratio = arith::DivFOp::create(b, loc, x, d);
  Value corrected = arith::MulFOp::create(b, loc, logF32(b, loc, u), ratio);
  Value exact = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, d,
                                      constF32(b, loc, 0.0));
  // u == inf (huge x): log(u) is right as it is.
  Value inf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, u,
                                    constF32(b, loc, INFINITY));
  Value r = arith::SelectOp::create(b, loc, inf, logF32(b, loc, u), corrected);
  return arith::SelectOp::create(b, loc, exact, x, r);
}

Value rsqrtF32(OpBuilder &b, Location loc, Value x) {
  return intrinsic(b, loc, "llvm.nvvm.rsqrt.approx.ftz.f", x);
}

Value sqrtF32(OpBuilder &b, Location loc, Value x) {
  return intrinsic(b, loc, "llvm.nvvm.sqrt.rn.f", x);
}

/// x - k * 2pi with k = round(x / 2pi), in two fma steps (2pi split in a
/// high and a low part), so sin.approx/cos.approx see [-pi, pi].
Value reduceAngle(OpBuilder &b, Location loc, Value x) {
  const double twoPi = 2.0 * M_PI;
  const float hi = static_cast<float>(twoPi);
  const double lo = twoPi - static_cast<double>(hi);
  // k = round(x / 2pi) through an integer (gpu-to-nvvm reserves the LLVM
  // rounding intrinsics for libdevice).
  Value t = arith::MulFOp::create(b, loc, x, constF32(b, loc, 1.0 / twoPi));
  Value nonNeg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, t,
                                       constF32(b, loc, 0.0));
  Value half = arith::SelectOp::create(b, loc, nonNeg, constF32(b, loc, 0.5),
                                       constF32(b, loc, -0.5));
  Value ki = arith::FPToSIOp::create(b, loc, b.getI32Type(),
                                     arith::AddFOp::create(b, loc, t, half));
  Value k = arith::SIToFPOp::create(b, loc, b.getF32Type(), ki);
  Value negK = arith::NegFOp::create(b, loc, k);
  Value r = math::FmaOp::create(b, loc, negK, constF32(b, loc, hi), x);
  return math::FmaOp::create(b, loc, negK, constF32(b, loc, lo), r);
}

Value sinF32(OpBuilder &b, Location loc, Value x) {
  return intrinsic(b, loc, "llvm.nvvm.sin.approx.ftz.f", reduceAngle(b, loc, x));
}

Value cosF32(OpBuilder &b, Location loc, Value x) {
  return intrinsic(b, loc, "llvm.nvvm.cos.approx.ftz.f", reduceAngle(b, loc, x));
}

template <typename MathOp>
struct ApproxLowering : OpRewritePattern<MathOp> {
  ApproxLowering(MLIRContext *ctx, ScalarFn fn)
      : OpRewritePattern<MathOp>(ctx), fn(fn) {}

  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = op->getOperand(0);
    Type t = x.getType();
    if (t.isF32()) {
      rw.replaceOp(op, fn(rw, loc, x));
      return success();
    }
    auto vt = dyn_cast<VectorType>(t);
    if (!vt || vt.getRank() != 1 || !vt.getElementType().isF32())
      return rw.notifyMatchFailure(op, "f32 scalars and 1-D vectors only");
    Value result = arith::ConstantOp::create(
        rw, loc, vt, DenseElementsAttr::get(vt, rw.getF32FloatAttr(0.0)));
    for (int64_t i = 0; i < vt.getNumElements(); ++i) {
      Value xi = vector::ExtractOp::create(rw, loc, x, i);
      result = vector::InsertOp::create(rw, loc, fn(rw, loc, xi), result, i);
    }
    rw.replaceOp(op, result);
    return success();
  }

  ScalarFn fn;
};

/// math.fma (the angle reduction's, the online softmax's exponent): the
/// LLVM intrinsic, on f32 scalars or vectors.
struct FmaLowering : OpRewritePattern<math::FmaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::FmaOp op,
                                PatternRewriter &rw) const override {
    if (!getElementTypeOrSelf(op.getType()).isF32())
      return failure();
    rw.replaceOpWithNewOp<LLVM::FMAOp>(op, op.getA(), op.getB(), op.getC());
    return success();
  }
};

struct MathToNVVMPass : public hyla::impl::MathToNVVMBase<MathToNVVMPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<ApproxLowering<math::ExpOp>>(ctx, expF32);
    patterns.add<ApproxLowering<math::Exp2Op>>(ctx, exp2F32);
    patterns.add<ApproxLowering<math::LogOp>>(ctx, logF32);
    patterns.add<ApproxLowering<math::Log1pOp>>(ctx, log1pF32);
    patterns.add<ApproxLowering<math::RsqrtOp>>(ctx, rsqrtF32);
    patterns.add<ApproxLowering<math::SqrtOp>>(ctx, sqrtF32);
    patterns.add<ApproxLowering<math::SinOp>>(ctx, sinF32);
    patterns.add<ApproxLowering<math::CosOp>>(ctx, cosF32);
    patterns.add<FmaLowering>(ctx);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa<math::MathDialect>(op->getDialect())) {
        op->emitError("no NVVM lowering for this math op in hyla kernels");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
