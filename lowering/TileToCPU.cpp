//===- TileToCPU.cpp - hyla_tile kernels as CPU functions -----------------===//
//
// Each tile op becomes the most direct upstream form of its definition, so
// that the CPU build of a kernel is a readable reference of what the kernel
// computes: masked loads are tensor.generate with a bounds check, dot is a
// linalg.generic contraction with f32 accumulation, the triangular inverse
// is forward substitution, cumsum is a prefix sum. Speed does not matter
// here; agreement with the definition does.
//
//===----------------------------------------------------------------------===//

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileOps.h"
#include "lowering/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <cmath>

namespace hyla {
#define GEN_PASS_DEF_TILETOCPU
#include "lowering/Passes.h.inc"
} // namespace hyla

using namespace mlir;
using namespace hyla;
using namespace hyla::tile;

namespace {

Value cIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value floatConst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

/// Where a tile element lands in the memref, and whether it is inside.
/// Encodings say where a GPU keeps a tile (mma fragments); on the CPU a
/// tile is one buffer, so they and their conversions go, and kernels after
/// the GPU layout passes run here with the same meaning (which is how CI
/// checks those passes' rewrites numerically).
void dropLayoutEncodings(func::FuncOp fn) {
  auto plain = [](Type t) -> Type {
    auto tt = dyn_cast<RankedTensorType>(t);
    if (!tt || !tt.getEncoding())
      return t;
    return RankedTensorType::get(tt.getShape(), tt.getElementType());
  };
  SmallVector<ConvertLayoutOp> conversions;
  fn.walk([&](Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(plain(arg.getType()));
    for (OpResult result : op->getResults())
      result.setType(plain(result.getType()));
    if (auto c = dyn_cast<arith::ConstantOp>(op))
      if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
          dense && dense.getType() != c.getType())
        c.setValueAttr(dense.reshape(cast<ShapedType>(c.getType())));
    if (auto cvt = dyn_cast<ConvertLayoutOp>(op))
      conversions.push_back(cvt);
  });
  for (ConvertLayoutOp cvt : conversions) {
    cvt.replaceAllUsesWith(cvt.getInput());
    cvt.erase();
  }
}

struct Access {
  SmallVector<Value> coords;
  Value inBounds;
};

Access locate(OpBuilder &b, Location loc, Value memref, ValueRange offsets,
              ArrayRef<int64_t> dims, ValueRange tileIndex,
              ValueRange bounds = {}) {
  Access a;
  a.coords.assign(offsets.begin(), offsets.end());
  for (auto [i, d] : llvm::enumerate(dims))
    a.coords[d] = arith::AddIOp::create(b, loc, offsets[d], tileIndex[i]);
  Value zero = cIndex(b, loc, 0);
  a.inBounds = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  for (auto [d, coord] : llvm::enumerate(a.coords)) {
    Value size = memref::DimOp::create(b, loc, memref, d);
    if (!bounds.empty()) // never past the memref, whatever the bound says
      size = arith::MinSIOp::create(b, loc, size, bounds[d]);
    Value ge = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, coord,
                                     zero);
    Value lt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, coord,
                                     size);
    a.inBounds = arith::AndIOp::create(
        b, loc, a.inBounds, arith::AndIOp::create(b, loc, ge, lt));
  }
  return a;
}

Value emptyLike(OpBuilder &b, Location loc, RankedTensorType t) {
  return tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
}

Value filled(OpBuilder &b, Location loc, RankedTensorType t, Value scalar) {
  return linalg::FillOp::create(b, loc, scalar, emptyLike(b, loc, t))
      .getResult(0);
}

struct LoadLowering : OpRewritePattern<LoadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LoadOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Type elt = op.getType().getElementType();
    Value pad = isa<FloatType>(elt)
                    ? floatConst(rw, loc, elt, op.getPadding().convertToDouble())
                    : arith::ConstantOp::create(
                          rw, loc, rw.getIntegerAttr(
                                       elt, static_cast<int64_t>(
                                                op.getPadding().convertToDouble())))
                          .getResult();
    auto gen = tensor::GenerateOp::create(
        rw, loc, op.getType(), ValueRange{},
        [&](OpBuilder &b, Location l, ValueRange idx) {
          Access a = locate(b, l, op.getSource(), op.getOffsets(), op.getDims(),
                            idx, op.getBounds());
          auto branch = scf::IfOp::create(
              b, l, a.inBounds,
              [&](OpBuilder &tb, Location tl) {
                Value v = memref::LoadOp::create(tb, tl, op.getSource(),
                                                 a.coords);
                scf::YieldOp::create(tb, tl, v);
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, pad);
              });
          tensor::YieldOp::create(b, l, branch.getResult(0));
        });
    rw.replaceOp(op, gen.getResult());
    return success();
  }
};

struct StoreLowering : OpRewritePattern<StoreOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(StoreOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = op.getValue().getType().getShape();
    SmallVector<Value> lbs, ubs, steps;
    for (int64_t s : shape) {
      lbs.push_back(cIndex(rw, loc, 0));
      ubs.push_back(cIndex(rw, loc, s));
      steps.push_back(cIndex(rw, loc, 1));
    }
    scf::buildLoopNest(rw, loc, lbs, ubs, steps,
                       [&](OpBuilder &b, Location l, ValueRange idx) {
                         Value v = tensor::ExtractOp::create(b, l, op.getValue(),
                                                             idx);
                         Access a = locate(b, l, op.getDest(), op.getOffsets(),
                                           op.getDims(), idx, op.getBounds());
                         scf::IfOp::create(
                             b, l, a.inBounds, [&](OpBuilder &tb, Location tl) {
                               memref::StoreOp::create(tb, tl, v, op.getDest(),
                                                       a.coords);
                               scf::YieldOp::create(tb, tl);
                             });
                       });
    rw.eraseOp(op);
    return success();
  }
};

struct DotLowering : OpRewritePattern<DotOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DotOp op, PatternRewriter &rw) const override {
    MLIRContext *ctx = rw.getContext();
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto map = [&](AffineExpr a, AffineExpr b) {
      return AffineMap::get(3, 0, {a, b}, ctx);
    };
    SmallVector<AffineMap> maps = {
        op.getTransposeA() ? map(k, m) : map(m, k),
        op.getTransposeB() ? map(n, k) : map(k, n), map(m, n)};
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::parallel,
                                              utils::IteratorType::reduction};
    Type f32 = rw.getF32Type();
    auto gen = linalg::GenericOp::create(
        rw, op.getLoc(), TypeRange{op.getType()},
        ValueRange{op.getA(), op.getB()}, ValueRange{op.getAcc()}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange args) {
          auto up = [&](Value v) -> Value {
            return v.getType() == f32 ? v : arith::ExtFOp::create(b, l, f32, v);
          };
          Value prod = arith::MulFOp::create(b, l, up(args[0]), up(args[1]));
          linalg::YieldOp::create(b, l,
                                  Value(arith::AddFOp::create(b, l, args[2], prod)));
        });
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};

struct ReduceLowering : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Type elt = op.getType().getElementType();
    bool isMax = op.getKind() == ReduceKind::Max;
    Value init = filled(rw, loc, op.getType(),
                        floatConst(rw, loc, elt, isMax ? -INFINITY : 0.0));
    auto reduce = linalg::ReduceOp::create(
        rw, loc, ValueRange{op.getInput()}, ValueRange{init},
        ArrayRef<int64_t>{static_cast<int64_t>(op.getAxis())},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value r = isMax ? Value(arith::MaximumFOp::create(b, l, args[0], args[1]))
                          : Value(arith::AddFOp::create(b, l, args[0], args[1]));
          linalg::YieldOp::create(b, l, r);
        });
    rw.replaceOp(op, reduce.getResult(0));
    return success();
  }
};

struct BroadcastLowering : OpRewritePattern<BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BroadcastOp op,
                                PatternRewriter &rw) const override {
    SmallVector<int64_t> added;
    for (int64_t d = 0; d < op.getType().getRank(); ++d)
      if (!llvm::is_contained(op.getDims(), d))
        added.push_back(d);
    Value init = emptyLike(rw, op.getLoc(), op.getType());
    auto bc = linalg::BroadcastOp::create(rw, op.getLoc(), op.getInput(), init,
                                          added);
    rw.replaceOp(op, bc.getResult());
    return success();
  }
};

struct IotaLowering : OpRewritePattern<IotaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(IotaOp op, PatternRewriter &rw) const override {
    int64_t dim = op.getDim();
    auto gen = tensor::GenerateOp::create(
        rw, op.getLoc(), op.getType(), ValueRange{},
        [&](OpBuilder &b, Location l, ValueRange idx) {
          Value v = arith::IndexCastOp::create(b, l, b.getI32Type(), idx[dim]);
          tensor::YieldOp::create(b, l, v);
        });
    rw.replaceOp(op, gen.getResult());
    return success();
  }
};

struct CumsumLowering : OpRewritePattern<CumsumOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CumsumOp op,
                                PatternRewriter &rw) const override {
    int64_t axis = op.getAxis();
    Value input = op.getInput();
    auto gen = tensor::GenerateOp::create(
        rw, op.getLoc(), op.getType(), ValueRange{},
        [&](OpBuilder &b, Location l, ValueRange idx) {
          // out[.., i, ..] = sum of in[.., j, ..] for j <= i, in order.
          Value end = arith::AddIOp::create(b, l, idx[axis], cIndex(b, l, 1));
          auto loop = scf::ForOp::create(
              b, l, cIndex(b, l, 0), end, cIndex(b, l, 1),
              ValueRange{floatConst(b, l, b.getF32Type(), 0.0)},
              [&](OpBuilder &lb, Location ll, Value j, ValueRange it) {
                SmallVector<Value> at(idx.begin(), idx.end());
                at[axis] = j;
                Value x = tensor::ExtractOp::create(lb, ll, input, at);
                scf::YieldOp::create(
                    lb, ll, Value(arith::AddFOp::create(lb, ll, it[0], x)));
              });
          tensor::YieldOp::create(b, l, loop.getResult(0));
        });
    rw.replaceOp(op, gen.getResult());
    return success();
  }
};

struct UnitLowerInverseLowering : OpRewritePattern<UnitLowerInverseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(UnitLowerInverseOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    int64_t n = type.getDimSize(0);
    Value lower = op.getInput();
    Type f32 = rw.getF32Type();
    // X starts as I; row i becomes e_i - sum_{j<i} L[i, j] X[j, :], in order
    // of i (forward substitution for (I + L) X = I).
    auto identity = tensor::GenerateOp::create(
        rw, loc, type, ValueRange{},
        [&](OpBuilder &b, Location l, ValueRange idx) {
          Value eq = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                           idx[0], idx[1]);
          tensor::YieldOp::create(
              b, l,
              Value(arith::SelectOp::create(b, l, eq, floatConst(b, l, f32, 1.0),
                                            floatConst(b, l, f32, 0.0))));
        });
    auto rows = scf::ForOp::create(
        rw, loc, cIndex(rw, loc, 1), cIndex(rw, loc, n), cIndex(rw, loc, 1),
        ValueRange{identity.getResult()},
        [&](OpBuilder &b, Location l, Value i, ValueRange it) {
          Value x = it[0];
          auto next = tensor::GenerateOp::create(
              b, l, type, ValueRange{},
              [&](OpBuilder &gb, Location gl, ValueRange idx) {
                Value isRow = arith::CmpIOp::create(
                    gb, gl, arith::CmpIPredicate::eq, idx[0], i);
                auto value = scf::IfOp::create(
                    gb, gl, isRow,
                    [&](OpBuilder &tb, Location tl) {
                      Value eq = arith::CmpIOp::create(
                          tb, tl, arith::CmpIPredicate::eq, idx[1], i);
                      Value start = arith::SelectOp::create(
                          tb, tl, eq, floatConst(tb, tl, f32, 1.0),
                          floatConst(tb, tl, f32, 0.0));
                      auto sum = scf::ForOp::create(
                          tb, tl, cIndex(tb, tl, 0), i, cIndex(tb, tl, 1),
                          ValueRange{start},
                          [&](OpBuilder &sb, Location sl, Value j,
                              ValueRange acc) {
                            Value lij = tensor::ExtractOp::create(
                                sb, sl, lower, ValueRange{i, j});
                            Value xjc = tensor::ExtractOp::create(
                                sb, sl, x, ValueRange{j, idx[1]});
                            Value p = arith::MulFOp::create(sb, sl, lij, xjc);
                            scf::YieldOp::create(
                                sb, sl,
                                Value(arith::SubFOp::create(sb, sl, acc[0], p)));
                          });
                      scf::YieldOp::create(tb, tl, sum.getResult(0));
                    },
                    [&](OpBuilder &eb, Location el) {
                      scf::YieldOp::create(
                          eb, el,
                          Value(tensor::ExtractOp::create(eb, el, x, idx)));
                    });
                tensor::YieldOp::create(gb, gl, value.getResult(0));
              });
          scf::YieldOp::create(b, l, next.getResult());
        });
    rw.replaceOp(op, rows.getResult(0));
    return success();
  }
};

struct ReshapeLowering : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    RankedTensorType in = op.getInput().getType(), out = op.getType();
    if (in.getRank() == 0 || out.getRank() == 0)
      return rw.notifyMatchFailure(op, "rank-0 tiles are not reshaped");
    auto all = [](int64_t rank) {
      ReassociationIndices r;
      for (int64_t d = 0; d < rank; ++d)
        r.push_back(d);
      return SmallVector<ReassociationIndices>{r};
    };
    Value flat = op.getInput();
    if (in.getRank() != 1)
      flat = tensor::CollapseShapeOp::create(rw, loc, flat, all(in.getRank()));
    Value result = flat;
    if (out.getRank() != 1)
      result = tensor::ExpandShapeOp::create(rw, loc, out, flat,
                                             all(out.getRank()));
    rw.replaceOp(op, result);
    return success();
  }
};

/// Programs run one after another on the CPU: nothing to wait for.
struct WaitPriorGridLowering : OpRewritePattern<WaitPriorGridOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(WaitPriorGridOp op,
                                PatternRewriter &rw) const override {
    rw.eraseOp(op);
    return success();
  }
};

/// A prefetch is only a hint: nothing to do on the CPU.
struct PrefetchLowering : OpRewritePattern<PrefetchOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PrefetchOp op,
                                PatternRewriter &rw) const override {
    rw.eraseOp(op);
    return success();
  }
};

/// tensor.splat as linalg.fill, which bufferizes everywhere.
struct SplatLowering : OpRewritePattern<tensor::SplatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::SplatOp op,
                                PatternRewriter &rw) const override {
    auto type = cast<RankedTensorType>(op.getType());
    if (!type.hasStaticShape())
      return failure();
    rw.replaceOp(op, filled(rw, op.getLoc(), type, op.getInput()));
    return success();
  }
};

/// The position of program `pids` in its cluster of shape `dims`, x
/// fastest (PTX %cluster_ctarank).
Value clusterRank(OpBuilder &b, Location loc, ValueRange pids,
                  ArrayRef<int64_t> dims) {
  Value rank = cIndex(b, loc, 0);
  for (int d = 2; d >= 0; --d) {
    Value within = arith::RemUIOp::create(b, loc, pids[d],
                                          cIndex(b, loc, dims[d]));
    rank = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, rank, cIndex(b, loc, dims[d])),
        within);
  }
  return rank;
}

/// `cluster_sum` where programs run one after another: the program
/// recomputes every cluster member's input (its ops cloned with that
/// member's program ids) and adds them in rank order, as the GPU does.
LogicalResult lowerClusterSum(ClusterSumOp op, ValueRange pids,
                              ArrayRef<int64_t> dims) {
  BackwardSliceOptions options;
  options.omitBlockArguments = true;
  options.omitUsesFromAbove = false;
  options.inclusive = true;
  Operation *kernel = op->getParentOfType<func::FuncOp>();
  options.filter = [&](Operation *o) { return kernel->isProperAncestor(o); };
  SetVector<Operation *> slice;
  if (failed(getBackwardSlice(op.getInput(), &slice, options)))
    return op.emitOpError("input slice could not be computed");
  for (Operation *o : slice) {
    Operation *writer = nullptr;
    o->walk([&](Operation *inner) {
      if (inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return WalkResult::advance();
      auto effects = dyn_cast<MemoryEffectOpInterface>(inner);
      if (effects && !effects.hasEffect<MemoryEffects::Write>())
        return WalkResult::advance();
      writer = inner;
      return WalkResult::interrupt();
    });
    if (writer) {
      InFlightDiagnostic d = op.emitOpError(
          "input depends on an op that may write memory; the CPU lowering "
          "recomputes it per program");
      d.attachNote(writer->getLoc()) << "this op";
      return d;
    }
  }
  slice = topologicalSort(slice);
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<Value> base;
  for (int d = 0; d < 3; ++d)
    base.push_back(arith::SubIOp::create(
        b, loc, pids[d],
        arith::RemUIOp::create(b, loc, pids[d], cIndex(b, loc, dims[d]))));
  Value total;
  for (int64_t z = 0; z < dims[2]; ++z)
    for (int64_t y = 0; y < dims[1]; ++y)
      for (int64_t x = 0; x < dims[0]; ++x) {
        IRMapping map;
        int64_t offset[3] = {x, y, z};
        for (int d = 0; d < 3; ++d)
          map.map(pids[d], arith::AddIOp::create(b, loc, base[d],
                                                 cIndex(b, loc, offset[d])));
        for (Operation *o : slice)
          b.clone(*o, map);
        Value part = map.lookupOrDefault(op.getInput());
        total = total ? arith::AddFOp::create(b, loc, total, part).getResult()
                      : part;
      }
  op.replaceAllUsesWith(total);
  op.erase();
  return success();
}

struct TileToCPUPass : public hyla::impl::TileToCPUBase<TileToCPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    WalkResult hasDispatch = module.walk([](hyla::DispatchOp op) {
      op.emitError("hyla-tile-to-cpu runs on a module of kernels only; "
                   "this dispatch would no longer match its kernel");
      return WalkResult::interrupt();
    });
    if (hasDispatch.wasInterrupted())
      return signalPassFailure();

    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn->hasAttr(TileDialect::kKernelAttrName))
        continue;
      dropLayoutEncodings(fn);
      // Program ids become trailing index arguments.
      unsigned n = fn.getNumArguments();
      Type index = IndexType::get(&getContext());
      if (failed(fn.insertArguments({n, n, n}, {index, index, index},
                                    {nullptr, nullptr, nullptr},
                                    {fn.getLoc(), fn.getLoc(), fn.getLoc()})))
        return signalPassFailure();
      fn.walk([&](ProgramIdOp op) {
        op.replaceAllUsesWith(fn.getArgument(n + op.getDim()));
        op.erase();
      });
      SmallVector<Value> pids = {fn.getArgument(n), fn.getArgument(n + 1),
                                 fn.getArgument(n + 2)};
      SmallVector<int64_t, 3> cluster = TileDialect::getClusterDims(fn);
      SmallVector<ClusterSumOp> sums;
      fn.walk([&](ClusterSumOp op) { sums.push_back(op); });
      for (ClusterSumOp op : sums)
        if (failed(lowerClusterSum(op, pids, cluster)))
          return signalPassFailure();
      fn.walk([&](ClusterRankOp op) {
        OpBuilder b(op);
        op.replaceAllUsesWith(clusterRank(b, op.getLoc(), pids, cluster));
        op.erase();
      });
      fn->removeAttr(TileDialect::kKernelAttrName);
      fn->removeAttr(TileDialect::kNumWarpsAttrName);
      fn->removeAttr(TileDialect::kMinProgramsPerSMAttrName);
      fn->removeAttr(TileDialect::kNumStagesAttrName);
      fn->removeAttr(TileDialect::kEarlyArgsAttrName);
      fn->removeAttr(TileDialect::kOverlapProductsAttrName);
      fn->removeAttr(TileDialect::kClusterDimsAttrName);
    }

    RewritePatternSet patterns(&getContext());
    patterns.add<LoadLowering, StoreLowering, DotLowering, ReduceLowering,
                 BroadcastLowering, IotaLowering, CumsumLowering,
                 UnitLowerInverseLowering, ReshapeLowering, SplatLowering,
                 PrefetchLowering, WaitPriorGridLowering>(
        &getContext());
    walkAndApplyPatterns(module, std::move(patterns));

    WalkResult left = module.walk([](Operation *op) {
      if (isa<TileDialect>(op->getDialect())) {
        op->emitError("no CPU lowering for this op");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
