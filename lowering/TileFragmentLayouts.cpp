//===- TileFragmentLayouts.cpp - dot results stay in mma fragments --------===//
//
// A dot lowered into the thread layout writes its whole product to shared
// memory and reads it back between barriers; the elementwise ops, stores
// and next dots that use it could take the mma fragments as they are.
// Here each dot result becomes `#hyla_tile.mma` behind a convert_layout,
// and patterns push that conversion down the uses until it meets an op
// that needs the thread layout (or disappears).
//
//===----------------------------------------------------------------------===//

#include "dialects/Tile/TileOps.h"
#include "lowering/MmaLayout.h"
#include "lowering/Passes.h"
#include "lowering/Targets.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace hyla {
#define GEN_PASS_DEF_TILEFRAGMENTLAYOUTS
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

int64_t kernelWarps(Operation *op) {
  auto kernel = op->getParentOfType<func::FuncOp>();
  if (!kernel || !kernel->hasAttr(TileDialect::kKernelAttrName))
    return 0;
  return TileDialect::getNumWarps(kernel);
}

RankedTensorType withEncoding(RankedTensorType t, Attribute encoding) {
  return RankedTensorType::get(t.getShape(), t.getElementType(), encoding);
}

/// A 2-D tile in the thread layout that `warps` warps can hold as
/// `#hyla_tile.mma` fragments with strips of at least two n tiles (where
/// N allows): with one, each A fragment feeds a single mma.sync and the
/// operand loads from shared memory double (measured: the GDN state kernel
/// 17% slower with its 96 x 64 state in such strips).
bool fitsFragments(Type type, int64_t warps) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || t.getEncoding() || t.getRank() != 2 || warps <= 0)
    return false;
  int64_t m = t.getDimSize(0), n = t.getDimSize(1);
  MmaStrips strips = MmaStrips::fragments(m, n, warps);
  return strips.fitsFragments(warps) &&
         (strips.strip >= 2 || MmaStrips::get(m, n).strip == 1);
}

/// The fragments (mma.sync's or wgmma's) a value converts from, if any;
/// with `encoding`, only fragments of that layout.
Value fragmentSource(Value v, Attribute encoding = {}) {
  auto cvt = v.getDefiningOp<ConvertLayoutOp>();
  if (!cvt)
    return {};
  auto enc = dyn_cast_or_null<MmaLayoutAttr>(cvt.getInput().getType().getEncoding());
  if (!enc || (encoding && enc != encoding))
    return {};
  return cvt.getInput();
}

bool isElementwise(Operation *op) {
  return isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) &&
         op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
         isa<RankedTensorType>(op->getResult(0).getType());
}

/// A tile carried by an scf.for: converting it in the body is temporary
/// when the loop comes to carry fragments (CarryFragments).
bool isLoopCarried(Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  auto loop = arg ? dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp()) : nullptr;
  return loop && arg.getArgNumber() > 0;
}

/// Whether `v` (thread layout) can be rebuilt as fragments of `encoding`
/// without a trip through shared memory of its own: constants, splats,
/// iota, broadcasts of 1-D tiles, single-use loads, elementwise ops of
/// those, loop-carried tiles, and conversions from fragments of that
/// layout.
bool rebuildable(Value v, Attribute encoding, int depth = 0) {
  if (fragmentSource(v, encoding) || isLoopCarried(v))
    return true;
  Operation *def = v.getDefiningOp();
  if (!def || depth > 8)
    return false;
  DenseElementsAttr value;
  if (matchPattern(v, m_Constant(&value)))
    return value.isSplat();
  // Fragment rows (1-D) are only computed from other rows and constants.
  bool rows = cast<RankedTensorType>(v.getType()).getRank() == 1;
  if (isa<tensor::SplatOp>(def) || (isa<IotaOp>(def) && !rows))
    return true;
  if (auto bc = dyn_cast<BroadcastOp>(def))
    return bc.getInput().getType().getRank() == 1;
  if (auto load = dyn_cast<LoadOp>(def))
    return v.hasOneUse() && !rows;
  if (isElementwise(def))
    return llvm::all_of(def->getOperands(), [&](Value o) {
      return !isa<RankedTensorType>(o.getType()) ||
             rebuildable(o, encoding, depth + 1);
    });
  return false;
}

/// `v` as fragments of `encoding` (rebuildable(v, encoding) holds).
Value rebuild(PatternRewriter &rw, Value v, Attribute encoding) {
  if (Value src = fragmentSource(v, encoding))
    return src;
  auto type = withEncoding(cast<RankedTensorType>(v.getType()), encoding);
  if (isLoopCarried(v))
    rw.setInsertionPointToStart(cast<BlockArgument>(v).getOwner());
  if (isLoopCarried(v) || matchPattern(v, m_Constant()))
    return toEncoded(rw, v, type); // a splat when rebuildable
  Operation *def = v.getDefiningOp();
  rw.setInsertionPoint(def);
  IRMapping map;
  if (isElementwise(def))
    for (Value o : def->getOperands())
      if (isa<RankedTensorType>(o.getType()))
        map.map(o, rebuild(rw, o, encoding));
  rw.setInsertionPoint(def);
  Operation *copy = rw.clone(*def, map);
  copy->getResult(0).setType(type);
  return copy->getResult(0);
}

/// A dot into the thread layout with a user that takes fragments becomes a
/// dot into fragments and a conversion back: wgmma's where the target has
/// it and the dot fits whole warpgroups, else mma.sync's.
struct DotIntoFragments : OpRewritePattern<DotOp> {
  DotIntoFragments(MLIRContext *ctx, bool hasWgmma)
      : OpRewritePattern(ctx), hasWgmma(hasWgmma) {}
  bool hasWgmma;
  LogicalResult matchAndRewrite(DotOp dot,
                                PatternRewriter &rw) const override {
    int64_t warps = kernelWarps(dot);
    RankedTensorType plain = dot.getType();
    if (!plain.getElementType().isF32() || plain.getEncoding())
      return failure();
    bool warpgroup = hasWgmma && fitsWgmmaFromRegisters(dot, warps);
    if (!warpgroup && !fitsFragments(plain, warps))
      return failure();
    bool wanted = llvm::any_of(dot->getUsers(), [](Operation *user) {
      return isElementwise(user) ||
             isa<StoreOp, DotOp, scf::YieldOp, ConvertLayoutOp>(user);
    });
    if (!wanted)
      return failure();
    auto encoding = MmaLayoutAttr::get(rw.getContext(), warpgroup);
    auto encoded = withEncoding(plain, encoding);
    rw.setInsertionPoint(dot);
    Value acc = toEncoded(rw, dot.getAcc(), encoded);
    auto fragments = DotOp::create(rw, dot.getLoc(), encoded, dot.getA(),
                                   dot.getB(), acc, dot.getTransposeAAttr(),
                                   dot.getTransposeBAttr(), dot.getAsyncAttr());
    rw.replaceOpWithNewOp<ConvertLayoutOp>(dot, plain, fragments.getResult());
    return success();
  }
};

/// An elementwise op on converted fragments computes on the fragments.
struct ElementwiseOnFragments : RewritePattern {
  ElementwiseOnFragments(MLIRContext *ctx)
      : RewritePattern(MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rw) const override {
    if (!isElementwise(op))
      return failure();
    Value src;
    for (Value o : op->getOperands())
      if ((src = fragmentSource(o)))
        break;
    if (!src)
      return failure();
    Attribute encoding = cast<RankedTensorType>(src.getType()).getEncoding();
    for (Value o : op->getOperands())
      if (isa<RankedTensorType>(o.getType()) && !rebuildable(o, encoding))
        return failure();
    auto plain = cast<RankedTensorType>(op->getResult(0).getType());
    IRMapping map;
    for (Value o : op->getOperands())
      if (isa<RankedTensorType>(o.getType()))
        map.map(o, rebuild(rw, o, encoding));
    rw.setInsertionPoint(op);
    Operation *copy = rw.clone(*op, map);
    copy->getResult(0).setType(withEncoding(plain, encoding));
    rw.replaceOpWithNewOp<ConvertLayoutOp>(op, plain, copy->getResult(0));
    return success();
  }
};

/// A conversion into fragments of a value that can be built there directly
/// (a load, an iota, a broadcast, ...) builds it there.
struct BuildInFragments : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp cvt,
                                PatternRewriter &rw) const override {
    auto enc = dyn_cast_or_null<MmaLayoutAttr>(cvt.getType().getEncoding());
    Value in = cvt.getInput();
    if (!enc || isLoopCarried(in) || fragmentSource(in) ||
        !rebuildable(in, enc))
      return failure();
    rw.replaceOp(cvt, rebuild(rw, in, enc));
    return success();
  }
};

/// A store or dot operand of converted fragments takes them directly.
/// Stores only of 32-bit elements: the four lanes of a quad then write one
/// whole 32-byte sector per row; 16-bit pairs would fill half sectors, and
/// measured slower (the GDN output kernel +4%) than the exchange through
/// shared memory into rows of whole vectors.
struct StoreFragments : OpRewritePattern<StoreOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(StoreOp store,
                                PatternRewriter &rw) const override {
    Value src = fragmentSource(store.getValue());
    if (!src || store.getValue().getType().getElementTypeBitWidth() != 32)
      return failure();
    rw.modifyOpInPlace(store, [&] { store.getValueMutable().set(src); });
    return success();
  }
};

struct DotOperandsFromFragments : OpRewritePattern<DotOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DotOp dot,
                                PatternRewriter &rw) const override {
    // Operands in shared memory already (async copies for wgmma) stay.
    if (isa_and_nonnull<SharedLayoutAttr>(dot.getA().getType().getEncoding()))
      return failure();
    // Fragments of either kind go to shared memory from where they are.
    Value a = fragmentSource(dot.getA()), b = fragmentSource(dot.getB());
    // The accumulator must arrive in the result's own layout.
    Value acc = fragmentSource(dot.getAcc());
    if (acc && acc.getType() != dot.getType())
      acc = {};
    if (!a && !b && !acc)
      return failure();
    rw.modifyOpInPlace(dot, [&] {
      if (a)
        dot.getAMutable().set(a);
      if (b)
        dot.getBMutable().set(b);
      if (acc)
        dot.getAccMutable().set(acc);
    });
    return success();
  }
};

/// A row reduction of converted wgmma fragments reduces them where they
/// are (each row lies in one quad: shuffles) into fragment rows, which
/// every lane of the quad holds: the row max and sum of the online softmax
/// stay in registers, and the conversion back to the thread layout moves
/// on down the uses like any other.
struct ReduceFragmentRows : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp reduce,
                                PatternRewriter &rw) const override {
    Value src = fragmentSource(reduce.getInput());
    RankedTensorType plain = reduce.getType();
    if (!src || !isWarpgroupTile(src.getType()) || reduce.getAxis() != 1 ||
        !plain.getElementType().isF32() ||
        !fitsFragmentRows(plain.getDimSize(0), kernelWarps(reduce)))
      return failure();
    auto encoding = cast<RankedTensorType>(src.getType()).getEncoding();
    rw.setInsertionPoint(reduce);
    auto rows = ReduceOp::create(rw, reduce.getLoc(),
                                 withEncoding(plain, encoding), src,
                                 reduce.getKindAttr(), reduce.getAxisAttr());
    rw.replaceOpWithNewOp<ConvertLayoutOp>(reduce, plain, rows.getResult());
    return success();
  }
};

/// A broadcast of fragment rows (through the thread layout) into fragments
/// of the same rows takes each row from its thread's registers.
struct BroadcastFragmentRows : OpRewritePattern<BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BroadcastOp bc,
                                PatternRewriter &rw) const override {
    Value src = fragmentSource(bc.getInput());
    if (!src || !isFragmentRows(src.getType()) ||
        !isWarpgroupTile(bc.getType()) || bc.getDims()[0] != 0)
      return failure();
    rw.modifyOpInPlace(bc, [&] { bc.getInputMutable().set(src); });
    return success();
  }
};

/// A loop-carried tile that the body yields as converted fragments is
/// carried as those fragments.
struct CarryFragments : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rw) const override {
    auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
    for (unsigned i = 0; i < loop.getNumRegionIterArgs(); ++i) {
      Value src = fragmentSource(yield.getOperand(i));
      if (!src)
        continue;
      auto plain = cast<RankedTensorType>(loop.getResult(i).getType());
      BlockArgument arg = loop.getRegionIterArg(i);
      carryEncoded(rw, loop, i, cast<RankedTensorType>(src.getType()));
      rw.modifyOpInPlace(yield, [&] { yield->setOperand(i, src); });
      rw.setInsertionPointToStart(loop.getBody());
      auto inside = ConvertLayoutOp::create(rw, loop.getLoc(), plain, arg);
      rw.replaceAllUsesExcept(arg, inside, inside);
      return success();
    }
    return failure();
  }
};

/// An scf.if result that both branches yield as converted fragments of one
/// type is that type (attention masks scores only in some key blocks).
struct IfFragments : OpRewritePattern<scf::IfOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(scf::IfOp op,
                                PatternRewriter &rw) const override {
    if (op.getElseRegion().empty())
      return failure();
    scf::YieldOp thenYield = op.thenYield(), elseYield = op.elseYield();
    for (unsigned i = 0; i < op.getNumResults(); ++i) {
      Value t = fragmentSource(thenYield.getOperand(i));
      Value e = fragmentSource(elseYield.getOperand(i));
      if (!t || !e || t.getType() != e.getType())
        continue;
      auto plain = cast<RankedTensorType>(op.getResult(i).getType());
      rw.modifyOpInPlace(thenYield, [&] { thenYield->setOperand(i, t); });
      rw.modifyOpInPlace(elseYield, [&] { elseYield->setOperand(i, e); });
      rw.modifyOpInPlace(op, [&] { op.getResult(i).setType(t.getType()); });
      rw.setInsertionPointAfter(op);
      auto back = ConvertLayoutOp::create(rw, op.getLoc(), plain,
                                          op.getResult(i));
      rw.replaceAllUsesExcept(op.getResult(i), back, back);
      return success();
    }
    return failure();
  }
};

struct TileFragmentLayoutsPass
    : public hyla::impl::TileFragmentLayoutsBase<TileFragmentLayoutsPass> {
  using TileFragmentLayoutsBase::TileFragmentLayoutsBase;
  void runOnOperation() override {
    const GpuTarget *gpu = lookupTarget(target);
    if (!gpu) {
      getOperation().emitError() << "unknown GPU target '" << target << "'";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<DotIntoFragments>(&getContext(), gpu->hasWgmma);
    patterns.add<ElementwiseOnFragments, BuildInFragments, StoreFragments,
                 DotOperandsFromFragments, CarryFragments, ReduceFragmentRows,
                 BroadcastFragmentRows, IfFragments>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
