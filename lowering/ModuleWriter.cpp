//===- ModuleWriter.cpp - graph + kernels -> hyla module file -------------===//
//
// Turns each entry function into a launch plan: every tensor value becomes a
// buffer (an input, an output, a weight, a temporary, or a view of another
// buffer under another shape), every dispatch a launch, and every dynamic
// size a postfix expression over the function's symbols (the dynamic dims
// of its inputs).
//
//===----------------------------------------------------------------------===//

#include "lowering/ModuleWriter.h"

#include "dialects/Hyla/HylaOps.h"
#include "dialects/Tile/TileDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include "hyla_module_generated.h"

using namespace mlir;
namespace fb = hyla::fb;

namespace hyla {
namespace {

//===----------------------------------------------------------------------===//
// Size expressions
//===----------------------------------------------------------------------===//

struct Expr {
  std::vector<fb::ExprInst> code;

  static Expr constant(int64_t v) { return Expr{{{fb::ExprOp::Const, v}}}; }
  static Expr symbol(int64_t s) { return Expr{{{fb::ExprOp::Symbol, s}}}; }

  std::optional<int64_t> asConstant() const {
    if (code.size() == 1 && code[0].op() == fb::ExprOp::Const)
      return code[0].value();
    return std::nullopt;
  }
  bool operator==(const Expr &o) const {
    if (code.size() != o.code.size())
      return false;
    for (size_t i = 0; i < code.size(); ++i)
      if (code[i].op() != o.code[i].op() || code[i].value() != o.code[i].value())
        return false;
    return true;
  }

  /// a op b, folded when both are constants or b is an identity.
  static Expr binary(fb::ExprOp op, const Expr &a, const Expr &b) {
    auto ca = a.asConstant(), cb = b.asConstant();
    if (ca && cb) {
      int64_t x = *ca, y = *cb;
      switch (op) {
      case fb::ExprOp::Add: return constant(x + y);
      case fb::ExprOp::Sub: return constant(x - y);
      case fb::ExprOp::Mul: return constant(x * y);
      case fb::ExprOp::FloorDiv:
        if (y > 0) return constant(x >= 0 ? x / y : -((-x + y - 1) / y));
        break;
      case fb::ExprOp::CeilDiv:
        if (y > 0) return constant(x >= 0 ? (x + y - 1) / y : -((-x) / y));
        break;
      case fb::ExprOp::Rem:
        if (y > 0) return constant(((x % y) + y) % y);
        break;
      case fb::ExprOp::Min: return constant(std::min(x, y));
      case fb::ExprOp::Max: return constant(std::max(x, y));
      default: break;
      }
    }
    if (cb && *cb == 1 &&
        (op == fb::ExprOp::Mul || op == fb::ExprOp::FloorDiv ||
         op == fb::ExprOp::CeilDiv))
      return a;
    if (ca && *ca == 1 && op == fb::ExprOp::Mul)
      return b;
    if (cb && *cb == 0 && (op == fb::ExprOp::Add || op == fb::ExprOp::Sub))
      return a;
    Expr r = a;
    r.code.insert(r.code.end(), b.code.begin(), b.code.end());
    r.code.push_back(fb::ExprInst(op, 0));
    return r;
  }
};

std::optional<fb::DType> dtypeOf(Type t) {
  if (t.isBF16()) return fb::DType::BF16;
  if (t.isF16()) return fb::DType::F16;
  if (t.isF32()) return fb::DType::F32;
  if (t.isF64()) return fb::DType::F64;
  if (t.isInteger(32)) return fb::DType::I32;
  if (t.isInteger(64)) return fb::DType::I64;
  if (t.isInteger(8)) return fb::DType::I8;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Plans
//===----------------------------------------------------------------------===//

struct PlanBuffer {
  fb::BufferKind kind;
  uint32_t index = 0; // position / weight index / base buffer (views)
  fb::DType dtype;
  std::vector<Expr> dims;
};

struct PlanLaunch {
  uint32_t kernel;
  std::vector<Expr> grid;
  std::vector<uint32_t> args;
};

struct PlanCheck {
  Expr a, b;
  std::string what;
};

/// hyla.fb.ValueCheck, from an entry argument's `hyla.values`.
struct PlanValueCheck {
  uint32_t input;
  fb::ValueCheckKind kind;
  Expr bound;
  std::optional<Expr> step;
  bool distinct;
  std::string what;
};

struct Plan {
  std::string name;
  std::vector<std::tuple<std::string, uint32_t, uint32_t>> symbols;
  std::vector<PlanBuffer> buffers;
  std::vector<uint32_t> inputs, outputs;
  std::vector<PlanLaunch> launches;
  std::vector<PlanCheck> checks;
  std::vector<PlanValueCheck> valueChecks;
};

struct WeightInfo {
  std::string name;
  fb::DType dtype;
  std::vector<int64_t> shape;
};

/// Module-wide tables shared by all functions.
struct Tables {
  std::vector<WeightInfo> weights;
  llvm::StringMap<uint32_t> weightIndex;
  std::vector<func::FuncOp> kernels;
  llvm::StringMap<uint32_t> kernelIndex;
};

class PlanBuilder {
public:
  PlanBuilder(func::FuncOp fn, Tables &tables) : fn(fn), tables(tables) {}

  FailureOr<Plan> build() {
    plan.name = fn.getSymName().str();
    if (failed(addInputs()) || failed(addValueChecks()))
      return failure();
    for (Operation &op : fn.getBody().front()) {
      if (failed(visit(&op)))
        return failure();
    }
    if (failed(orderBuffers()))
      return failure();
    pruneSymbols();
    return std::move(plan);
  }

private:
  LogicalResult addInputs() {
    for (auto [i, arg] : llvm::enumerate(fn.getArguments())) {
      auto t = dyn_cast<RankedTensorType>(arg.getType());
      auto dt = t ? dtypeOf(t.getElementType()) : std::nullopt;
      if (!dt)
        return fn.emitError() << "argument " << i << " has type "
                              << arg.getType()
                              << "; entry arguments must be ranked tensors of "
                                 "bf16, f16, f32, f64, i8, i32 or i64";
      auto names = fn.getArgAttrOfType<ArrayAttr>(i, "hyla.dim_names");
      PlanBuffer b{fb::BufferKind::Input, static_cast<uint32_t>(i), *dt, {}};
      for (int64_t d = 0; d < t.getRank(); ++d) {
        if (!t.isDynamicDim(d)) {
          b.dims.push_back(Expr::constant(t.getDimSize(d)));
          continue;
        }
        std::string name = "arg" + std::to_string(i) + "." + std::to_string(d);
        if (names && d < static_cast<int64_t>(names.size()))
          if (auto s = dyn_cast<StringAttr>(names[d]))
            name = s.str();
        // Dims named alike are one symbol (e.g. every cache's "slots"): the
        // runtime checks each such dim against the first.
        if (std::optional<int64_t> same = symbolNamed(name)) {
          b.dims.push_back(Expr::symbol(*same));
          continue;
        }
        b.dims.push_back(Expr::symbol(plan.symbols.size()));
        plan.symbols.emplace_back(name, i, d);
      }
      bufferOf[arg] = addBuffer(std::move(b));
      plan.inputs.push_back(bufferOf[arg]);
      firstUseSeen.push_back(false);
    }
    return success();
  }

  /// An entry argument's `hyla.values = {kind = "below" | "offsets",
  /// bound = [terms], step = [terms], distinct, what = "..."}`: the values
  /// the runtime checks before a call (hyla.fb.ValueCheck). A bound or step
  /// is the sum of its terms: integers, and dim names of the function's
  /// arguments (`hyla.dim_names`), "-name" subtracting.
  LogicalResult addValueChecks() {
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      Value arg = fn.getArgument(i);
      auto spec = fn.getArgAttrOfType<DictionaryAttr>(i, "hyla.values");
      if (!spec)
        continue;
      auto bad = [&](const Twine &why) {
        return fn.emitError() << "argument " << i << ": hyla.values " << why;
      };
      auto t = cast<RankedTensorType>(arg.getType());
      if (!t.getElementType().isInteger(32) && !t.getElementType().isInteger(64))
        return bad("needs i32 or i64 values");
      auto sumOf = [&](Attribute attr, StringRef key) -> FailureOr<Expr> {
        auto terms = dyn_cast_or_null<ArrayAttr>(attr);
        if (!terms || terms.empty())
          return bad("'" + key + "' must be a non-empty array of integers "
                     "and dim names");
        std::optional<Expr> sum;
        for (Attribute term : terms) {
          Expr e;
          bool negative = false;
          if (auto n = dyn_cast<IntegerAttr>(term)) {
            e = Expr::constant(n.getInt());
          } else if (auto s = dyn_cast<StringAttr>(term)) {
            StringRef name = s.getValue();
            negative = name.consume_front("-");
            std::optional<int64_t> sym = symbolNamed(name);
            if (!sym)
              return bad("'" + key + "' names '" + name +
                         "', which is no dim of the function's arguments");
            e = Expr::symbol(*sym);
          } else {
            return bad("'" + key + "' terms must be integers or dim names");
          }
          if (!sum)
            sum = negative ? Expr::binary(fb::ExprOp::Sub, Expr::constant(0), e)
                           : e;
          else
            sum = Expr::binary(negative ? fb::ExprOp::Sub : fb::ExprOp::Add,
                               *sum, e);
        }
        return *sum;
      };
      PlanValueCheck check{static_cast<uint32_t>(i), fb::ValueCheckKind::Below,
                           Expr{}, std::nullopt, false, ""};
      auto kind = spec.getAs<StringAttr>("kind");
      if (!kind || (kind.getValue() != "below" && kind.getValue() != "offsets"))
        return bad("needs kind = \"below\" or \"offsets\"");
      if (kind.getValue() == "offsets")
        check.kind = fb::ValueCheckKind::Offsets;
      FailureOr<Expr> bound = sumOf(spec.get("bound"), "bound");
      if (failed(bound))
        return failure();
      check.bound = *bound;
      if (Attribute step = spec.get("step")) {
        if (check.kind != fb::ValueCheckKind::Offsets)
          return bad("has a 'step', which only offsets take");
        FailureOr<Expr> e = sumOf(step, "step");
        if (failed(e))
          return failure();
        check.step = *e;
      }
      check.distinct = static_cast<bool>(spec.get("distinct"));
      if (auto what = spec.getAs<StringAttr>("what"))
        check.what = what.str();
      for (NamedAttribute entry : spec)
        if (!llvm::is_contained({"kind", "bound", "step", "distinct", "what"},
                                entry.getName().getValue()))
          return bad("has an unknown entry '" + entry.getName().getValue() +
                     "'");
      plan.valueChecks.push_back(std::move(check));
    }
    return success();
  }

  /// The index of the symbol called `name`, if the function has one.
  std::optional<int64_t> symbolNamed(StringRef name) const {
    auto it = llvm::find_if(plan.symbols, [&](const auto &sym) {
      return std::get<0>(sym) == name;
    });
    if (it == plan.symbols.end())
      return std::nullopt;
    return it - plan.symbols.begin();
  }

  uint32_t addBuffer(PlanBuffer b) {
    plan.buffers.push_back(std::move(b));
    return plan.buffers.size() - 1;
  }

  FailureOr<Expr> exprOf(Value v) {
    if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
      return Expr::constant(c.value());
    if (auto dim = v.getDefiningOp<tensor::DimOp>()) {
      std::optional<int64_t> d = dim.getConstantIndex();
      auto it = bufferOf.find(dim.getSource());
      if (!d || it == bufferOf.end())
        return dim.emitError("the runtime cannot evaluate this tensor.dim");
      return plan.buffers[it->second].dims[*d];
    }
    Operation *op = v.getDefiningOp();
    std::optional<fb::ExprOp> kind;
    if (op) {
      if (isa<arith::AddIOp>(op)) kind = fb::ExprOp::Add;
      else if (isa<arith::SubIOp>(op)) kind = fb::ExprOp::Sub;
      else if (isa<arith::MulIOp>(op)) kind = fb::ExprOp::Mul;
      else if (isa<arith::DivUIOp, arith::DivSIOp>(op)) kind = fb::ExprOp::FloorDiv;
      else if (isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(op)) kind = fb::ExprOp::CeilDiv;
      else if (isa<arith::RemUIOp, arith::RemSIOp>(op)) kind = fb::ExprOp::Rem;
      else if (isa<arith::MinUIOp, arith::MinSIOp>(op)) kind = fb::ExprOp::Min;
      else if (isa<arith::MaxUIOp, arith::MaxSIOp>(op)) kind = fb::ExprOp::Max;
    }
    if (!kind) {
      if (op)
        return op->emitError("the runtime cannot evaluate this size");
      return fn.emitError("a size is a block argument the runtime cannot bind");
    }
    FailureOr<Expr> a = exprOf(op->getOperand(0));
    FailureOr<Expr> b = exprOf(op->getOperand(1));
    if (failed(a) || failed(b))
      return failure();
    return Expr::binary(*kind, *a, *b);
  }

  FailureOr<std::vector<Expr>> dimsOf(RankedTensorType t, ValueRange dynamic) {
    std::vector<Expr> dims;
    unsigned k = 0;
    for (int64_t d = 0; d < t.getRank(); ++d) {
      if (!t.isDynamicDim(d)) {
        dims.push_back(Expr::constant(t.getDimSize(d)));
        continue;
      }
      FailureOr<Expr> e = exprOf(dynamic[k++]);
      if (failed(e))
        return failure();
      dims.push_back(*e);
    }
    return dims;
  }

  LogicalResult visit(Operation *op) {
    if (isa<arith::ConstantIndexOp, tensor::DimOp>(op) ||
        (isa<arith::ArithDialect>(op->getDialect()) &&
         llvm::all_of(op->getResultTypes(),
                      [](Type t) { return t.isIndex(); })))
      return success(); // evaluated on demand by exprOf
    if (auto w = dyn_cast<WeightOp>(op))
      return visitWeight(w);
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op))
      return visitReshape(op);
    if (auto d = dyn_cast<DispatchOp>(op))
      return visitDispatch(d);
    if (auto r = dyn_cast<func::ReturnOp>(op))
      return visitReturn(r);
    return op->emitError() << "'" << op->getName()
                           << "' cannot be part of a launch plan: run the "
                              "graph-to-kernels pipeline first";
  }

  LogicalResult visitWeight(WeightOp w) {
    RankedTensorType t = w.getType();
    auto dt = dtypeOf(t.getElementType());
    if (!dt)
      return w.emitError() << "weight element type " << t.getElementType()
                           << " has no module dtype";
    std::string name = w.getName().str();
    auto it = tables.weightIndex.find(name);
    uint32_t index;
    if (it == tables.weightIndex.end()) {
      index = tables.weights.size();
      tables.weights.push_back(
          {name, *dt, std::vector<int64_t>(t.getShape().begin(), t.getShape().end())});
      tables.weightIndex[name] = index;
    } else {
      index = it->second;
      const WeightInfo &info = tables.weights[index];
      if (info.dtype != *dt || info.shape != std::vector<int64_t>(
                                                  t.getShape().begin(),
                                                  t.getShape().end()))
        return w.emitError() << "weight '" << name
                             << "' is used with two different types";
    }
    PlanBuffer b{fb::BufferKind::Weight, index, *dt, {}};
    for (int64_t s : t.getShape())
      b.dims.push_back(Expr::constant(s));
    bufferOf[w] = addBuffer(std::move(b));
    return success();
  }

  LogicalResult visitReshape(Operation *op) {
    Value src = op->getOperand(0);
    if (failed(checkNotClobbered(src, op)))
      return failure();
    auto it = bufferOf.find(src);
    if (it == bufferOf.end())
      return op->emitError("reshape of a value with no buffer");
    const PlanBuffer &base = plan.buffers[it->second];
    PlanBuffer view{fb::BufferKind::View, it->second, base.dtype, {}};
    if (auto c = dyn_cast<tensor::CollapseShapeOp>(op)) {
      for (const auto &group : c.getReassociationIndices()) {
        Expr e = Expr::constant(1);
        for (int64_t d : group)
          e = Expr::binary(fb::ExprOp::Mul, e, base.dims[d]);
        view.dims.push_back(e);
      }
    } else {
      auto e = cast<tensor::ExpandShapeOp>(op);
      for (OpFoldResult s : e.getMixedOutputShape()) {
        if (auto a = dyn_cast<Attribute>(s)) {
          view.dims.push_back(Expr::constant(cast<IntegerAttr>(a).getInt()));
          continue;
        }
        FailureOr<Expr> x = exprOf(cast<Value>(s));
        if (failed(x))
          return failure();
        view.dims.push_back(*x);
      }
      // The output sizes are given separately: each group must multiply
      // to its source dim, or the view reads the wrong rows.
      for (auto [d, group] : llvm::enumerate(e.getReassociationIndices())) {
        Expr product = Expr::constant(1);
        for (int64_t r : group)
          product = Expr::binary(fb::ExprOp::Mul, product, view.dims[r]);
        if (!(product == base.dims[d]))
          addCheck(base.dims[d], product,
                   llvm::formatv("dim {0} of a tensor.expand_shape source "
                                 "and the sizes it expands into",
                                 d));
      }
    }
    bufferOf[op->getResult(0)] = addBuffer(std::move(view));
    return success();
  }

  LogicalResult visitDispatch(DispatchOp d) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        d, d.getKernelAttr());
    if (!kernel)
      return d.emitError("kernel not found");
    uint32_t kIndex;
    auto it = tables.kernelIndex.find(kernel.getSymName());
    if (it == tables.kernelIndex.end()) {
      kIndex = tables.kernels.size();
      tables.kernels.push_back(kernel);
      tables.kernelIndex[kernel.getSymName()] = kIndex;
    } else {
      kIndex = it->second;
    }
    PlanLaunch launch{kIndex, {}, {}};
    for (Value g : d.getGrid()) {
      FailureOr<Expr> e = exprOf(g);
      if (failed(e))
        return failure();
      launch.grid.push_back(*e);
    }
    for (auto [i, input] : llvm::enumerate(d.getInputs())) {
      if (failed(checkNotClobbered(input, d)))
        return failure();
      auto bit = bufferOf.find(input);
      if (bit == bufferOf.end())
        return d.emitError() << "input " << i << " has no buffer";
      FailureOr<std::vector<Expr>> want = dimsOf(
          cast<RankedTensorType>(input.getType()), d.getInputDynamicDims(i));
      if (failed(want))
        return failure();
      uint32_t id = bit->second;
      PlanBuffer &have = plan.buffers[id];
      // The first use of an entry argument sets the sizes the runtime
      // checks it against; where a later use (or any use of a computed
      // tensor) expects sizes written differently, the runtime checks that
      // they agree before launching anything.
      auto arg = dyn_cast<BlockArgument>(input);
      if (arg && !firstUseSeen[arg.getArgNumber()]) {
        firstUseSeen[arg.getArgNumber()] = true;
        have.dims = *want;
      } else {
        for (size_t dim = 0; dim < want->size(); ++dim)
          if (!(have.dims[dim] == (*want)[dim]))
            addCheck(have.dims[dim], (*want)[dim],
                     llvm::formatv("dim {0} of input {1} of launch {2}, "
                                   "kernel {3}",
                                   dim, i, plan.launches.size(),
                                   kernel.getSymName()));
      }
      launch.args.push_back(id);
    }
    for (auto [i, result] : llvm::enumerate(d.getResults())) {
      if (int64_t j = d.getTiedInput(i); j >= 0) {
        if (failed(tieResult(d, i, j, launch)))
          return failure();
        continue;
      }
      auto t = cast<RankedTensorType>(result.getType());
      auto dt = dtypeOf(t.getElementType());
      FailureOr<std::vector<Expr>> dims =
          dimsOf(t, d.getResultDynamicDims(i));
      if (!dt || failed(dims))
        return d.emitError() << "result " << i << " cannot be planned";
      uint32_t id = addBuffer({fb::BufferKind::Temporary, 0, *dt, *dims});
      bufferOf[result] = id;
      launch.args.push_back(id);
    }
    plan.launches.push_back(std::move(launch));
    return success();
  }

  /// The buffer that holds the memory of buffer `id` (through views).
  uint32_t rootOf(uint32_t id) const {
    while (plan.buffers[id].kind == fb::BufferKind::View)
      id = plan.buffers[id].index;
    return id;
  }

  /// Result `i` of `d` is input `j` updated in place: it takes the input's
  /// buffer, and every value sharing that memory is dead from here on.
  LogicalResult tieResult(DispatchOp d, unsigned i, unsigned j,
                          PlanLaunch &launch) {
    uint32_t id = launch.args[j];
    uint32_t root = rootOf(id);
    if (plan.buffers[root].kind == fb::BufferKind::Weight)
      return d.emitError() << "result " << i << " would update a weight in "
                           << "place (input " << j << ")";
    for (auto [k, other] : llvm::enumerate(
             ArrayRef<uint32_t>(launch.args).take_front(d.getInputs().size())))
      if (k != j && rootOf(other) == root)
        return d.emitError()
               << "input " << j << " is updated in place by result " << i
               << " but input " << k << " reads the same memory";
    for (auto &[value, buffer] : bufferOf)
      if (rootOf(buffer) == root)
        clobberedBy.try_emplace(value, d.getOperation());
    bufferOf[d.getResult(i)] = id;
    tiedResults.insert(d.getResult(i));
    launch.args.push_back(id);
    return success();
  }

  /// Values whose memory an earlier dispatch updated in place are gone.
  LogicalResult checkNotClobbered(Value v, Operation *user) {
    auto it = clobberedBy.find(v);
    if (it == clobberedBy.end())
      return success();
    InFlightDiagnostic diag =
        user->emitError("uses a tensor whose memory an earlier dispatch "
                        "updated in place; use that dispatch's result "
                        "instead");
    diag.attachNote(it->second->getLoc()) << "updated in place here";
    return failure();
  }

  LogicalResult visitReturn(func::ReturnOp r) {
    for (auto [k, v] : llvm::enumerate(r.getOperands())) {
      if (failed(checkNotClobbered(v, r)))
        return failure();
      auto it = bufferOf.find(v);
      if (it == bufferOf.end())
        return r.emitError() << "result " << k << " has no buffer";
      uint32_t id = it->second;
      PlanBuffer &b = plan.buffers[id];
      if (tiedResults.contains(v) && b.kind == fb::BufferKind::Input) {
        // An entry argument updated in place: the caller passes the same
        // tensor as input and as this output.
        if (llvm::is_contained(plan.outputs, id))
          return r.emitError() << "result " << k << " returns input "
                               << b.index << " a second time";
      } else if (tiedResults.contains(v) &&
                 rootOf(id) != id &&
                 plan.buffers[rootOf(id)].kind == fb::BufferKind::Input) {
        return r.emitError()
               << "result " << k << " is input "
               << plan.buffers[rootOf(id)].index
               << " updated in place through a reshape; return it in the "
                  "input's shape";
      } else if (b.kind == fb::BufferKind::View &&
                 plan.buffers[rootOf(id)].kind == fb::BufferKind::Temporary) {
        // A reshaped temporary (through any number of reshapes): the
        // caller's output is the memory, and the temporary becomes a view
        // of it.
        uint32_t base = rootOf(id);
        plan.buffers[base].kind = fb::BufferKind::View;
        plan.buffers[base].index = id;
        b.kind = fb::BufferKind::Output;
        b.index = k;
      } else if (b.kind == fb::BufferKind::Temporary) {
        b.kind = fb::BufferKind::Output;
        b.index = k;
      } else {
        return r.emitError()
               << "result " << k
               << " is an input, a weight or an earlier result; a function "
                  "must return values it computes, each once";
      }
      plan.outputs.push_back(id);
    }
    return success();
  }

  /// Renumbers buffers so every view comes after the buffer it views.
  /// Records that `a` must equal `b` at run time (once per pair).
  void addCheck(const Expr &a, const Expr &b, std::string what) {
    for (const PlanCheck &c : plan.checks)
      if ((c.a == a && c.b == b) || (c.a == b && c.b == a))
        return;
    plan.checks.push_back({a, b, std::move(what)});
  }

  /// Drops the symbols no size refers to: an argument's dims that its first
  /// use tied to another argument's symbols (e.g. every input's batch dim
  /// becomes `batch`) would otherwise stay as names nobody needs.
  void pruneSymbols() {
    std::vector<bool> used(plan.symbols.size(), false);
    auto mark = [&](const Expr &e) {
      for (const fb::ExprInst &inst : e.code)
        if (inst.op() == fb::ExprOp::Symbol)
          used[inst.value()] = true;
    };
    for (const PlanBuffer &b : plan.buffers)
      llvm::for_each(b.dims, mark);
    for (const PlanLaunch &l : plan.launches)
      llvm::for_each(l.grid, mark);
    for (const PlanCheck &c : plan.checks) {
      mark(c.a);
      mark(c.b);
    }
    for (const PlanValueCheck &c : plan.valueChecks) {
      mark(c.bound);
      if (c.step)
        mark(*c.step);
    }
    std::vector<int64_t> newIndex(plan.symbols.size(), -1);
    decltype(plan.symbols) kept;
    for (size_t i = 0; i < plan.symbols.size(); ++i)
      if (used[i]) {
        newIndex[i] = static_cast<int64_t>(kept.size());
        kept.push_back(plan.symbols[i]);
      }
    auto rename = [&](Expr &e) {
      for (fb::ExprInst &inst : e.code)
        if (inst.op() == fb::ExprOp::Symbol)
          inst = fb::ExprInst(fb::ExprOp::Symbol, newIndex[inst.value()]);
    };
    for (PlanBuffer &b : plan.buffers)
      llvm::for_each(b.dims, rename);
    for (PlanLaunch &l : plan.launches)
      llvm::for_each(l.grid, rename);
    for (PlanCheck &c : plan.checks) {
      rename(c.a);
      rename(c.b);
    }
    for (PlanValueCheck &c : plan.valueChecks) {
      rename(c.bound);
      if (c.step)
        rename(*c.step);
    }
    plan.symbols = std::move(kept);
  }

  LogicalResult orderBuffers() {
    size_t n = plan.buffers.size();
    std::vector<int64_t> newId(n, -1);
    std::vector<uint32_t> order;
    for (size_t i = 0; i < n; ++i)
      if (plan.buffers[i].kind != fb::BufferKind::View) {
        newId[i] = order.size();
        order.push_back(i);
      }
    bool progress = true;
    while (order.size() < n && progress) {
      progress = false;
      for (size_t i = 0; i < n; ++i)
        if (newId[i] < 0 && newId[plan.buffers[i].index] >= 0) {
          newId[i] = order.size();
          order.push_back(i);
          progress = true;
        }
    }
    if (order.size() < n)
      return fn.emitError("buffer views form a cycle");
    std::vector<PlanBuffer> sorted;
    for (uint32_t old : order) {
      PlanBuffer b = plan.buffers[old];
      if (b.kind == fb::BufferKind::View)
        b.index = newId[b.index];
      sorted.push_back(std::move(b));
    }
    plan.buffers = std::move(sorted);
    for (uint32_t &i : plan.inputs)
      i = newId[i];
    for (uint32_t &i : plan.outputs)
      i = newId[i];
    for (PlanLaunch &l : plan.launches)
      for (uint32_t &a : l.args)
        a = newId[a];
    return success();
  }

  func::FuncOp fn;
  Tables &tables;
  Plan plan;
  DenseMap<Value, uint32_t> bufferOf;
  /// Values whose memory a dispatch updated in place, and that dispatch.
  DenseMap<Value, Operation *> clobberedBy;
  /// Dispatch results that are an input updated in place.
  DenseSet<Value> tiedResults;
  std::vector<bool> firstUseSeen;
};

flatbuffers::Offset<fb::SizeExpr> writeExpr(flatbuffers::FlatBufferBuilder &b,
                                            const Expr &e) {
  return fb::CreateSizeExprDirect(b, &e.code);
}

std::vector<flatbuffers::Offset<fb::SizeExpr>>
writeExprs(flatbuffers::FlatBufferBuilder &b, const std::vector<Expr> &es) {
  std::vector<flatbuffers::Offset<fb::SizeExpr>> out;
  for (const Expr &e : es)
    out.push_back(writeExpr(b, e));
  return out;
}

} // namespace

FailureOr<std::string> writeHylaModule(ModuleOp module,
                                       const ModuleWriterOptions &options) {
  Tables tables;
  std::vector<Plan> plans;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn->hasAttr(tile::TileDialect::kKernelAttrName) || fn.isPrivate() ||
        fn.isDeclaration())
      continue;
    FailureOr<Plan> plan = PlanBuilder(fn, tables).build();
    if (failed(plan))
      return failure();
    plans.push_back(std::move(*plan));
  }
  if (plans.empty())
    return module.emitError("no entry function to put in the module");

  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true);
  std::vector<flatbuffers::Offset<fb::Kernel>> kernels;
  for (func::FuncOp k : tables.kernels) {
    auto compiled = llvm::find_if(options.kernels, [&](const CompiledKernel &c) {
      return c.name == k.getSymName();
    });
    if (compiled == options.kernels.end())
      return k.emitError() << "kernel " << k.getSymName() << " was not compiled";
    std::vector<flatbuffers::Offset<fb::KernelParam>> params;
    for (Type t : k.getArgumentTypes()) {
      auto mt = cast<MemRefType>(t);
      auto dt = dtypeOf(mt.getElementType());
      if (!dt)
        return k.emitError() << "kernel parameter type " << t
                             << " has no module dtype";
      std::vector<uint32_t> dyn;
      for (int64_t d = 0; d < mt.getRank(); ++d)
        if (mt.isDynamicDim(d))
          dyn.push_back(d);
      flatbuffers::Offset<fb::TensorMap> tensorMap;
      unsigned arg = params.size();
      auto tm = llvm::find_if(compiled->tensorMaps,
                              [&](const CompiledKernel::TensorMap &m) {
                                return m.arg == arg;
                              });
      if (tm != compiled->tensorMaps.end()) {
        std::vector<uint32_t> box(tm->box.begin(), tm->box.end());
        tensorMap = fb::CreateTensorMapDirect(b, &box, tm->swizzle);
      }
      params.push_back(fb::CreateKernelParamDirect(b, *dt, mt.getRank(), &dyn,
                                                   tensorMap));
    }
    auto cubin = options.cubins.find(compiled->name);
    kernels.push_back(fb::CreateKernelDirect(
        b, compiled->name.c_str(), compiled->ptx.c_str(),
        cubin == options.cubins.end() ? nullptr : &cubin->second,
        compiled->blockDim, compiled->sharedMemBytes, &params,
        compiled->programmaticLaunch));
  }
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const WeightInfo &w : tables.weights)
    weights.push_back(
        fb::CreateWeightDirect(b, w.name.c_str(), w.dtype, &w.shape));
  std::vector<flatbuffers::Offset<fb::Function>> functions;
  for (const Plan &p : plans) {
    std::vector<flatbuffers::Offset<fb::Symbol>> symbols;
    for (const auto &[name, input, dim] : p.symbols)
      symbols.push_back(fb::CreateSymbolDirect(b, name.c_str(), input, dim));
    std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
    for (const PlanBuffer &pb : p.buffers) {
      auto dims = writeExprs(b, pb.dims);
      buffers.push_back(
          fb::CreateBufferDirect(b, pb.kind, pb.index, pb.dtype, &dims));
    }
    std::vector<flatbuffers::Offset<fb::Launch>> launches;
    for (const PlanLaunch &l : p.launches) {
      auto grid = writeExprs(b, l.grid);
      launches.push_back(fb::CreateLaunchDirect(b, l.kernel, &grid, &l.args));
    }
    std::vector<flatbuffers::Offset<fb::SizeCheck>> checks;
    for (const PlanCheck &c : p.checks)
      checks.push_back(fb::CreateSizeCheckDirect(
          b, writeExpr(b, c.a), writeExpr(b, c.b), c.what.c_str()));
    std::vector<flatbuffers::Offset<fb::ValueCheck>> valueChecks;
    for (const PlanValueCheck &c : p.valueChecks)
      valueChecks.push_back(fb::CreateValueCheckDirect(
          b, c.input, c.kind, writeExpr(b, c.bound),
          c.step ? writeExpr(b, *c.step) : 0, c.distinct, c.what.c_str()));
    functions.push_back(fb::CreateFunctionDirect(
        b, p.name.c_str(), &symbols, &buffers, &p.inputs, &p.outputs,
        &launches, &checks, &valueChecks));
  }
  std::vector<flatbuffers::Offset<fb::KeyValue>> metadata;
  for (const auto &[k, v] : options.metadata)
    metadata.push_back(fb::CreateKeyValueDirect(b, k.c_str(), v.c_str()));
  auto root = fb::CreateModuleDirect(
      b, /*version=*/2, options.producer.c_str(),
      options.target->id.str().c_str(), &kernels, &weights, &functions,
      &metadata);
  fb::FinishModuleBuffer(b, root);
  return std::string(reinterpret_cast<const char *>(b.GetBufferPointer()),
                     b.GetSize());
}

} // namespace hyla
