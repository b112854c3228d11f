//===- HylaDialect.td - the hyla graph dialect -------------*- tablegen -*-===//
#ifndef HYLA_DIALECT_TD
#define HYLA_DIALECT_TD

include "mlir/IR/OpBase.td"

def Hyla_Dialect : Dialect {
  let name = "hyla";
  let cppNamespace = "::hyla";
  let summary = "Graph-level operations of hybrid (Gated DeltaNet + attention) language models";
  let description = [{
    The `hyla` dialect describes a hybrid language model as a graph of
    model-level operations on ranked tensors: embedding, RMSNorm, linear
    projections, the short causal convolution, L2 norm, the Gated DeltaNet
    gates and gated delta rule, gated RMSNorm, attention, RoPE, SwiGLU and
    residual adds. Token tensors are laid out `[batch, tokens, ...]`; batch
    and token counts may be dynamic, feature sizes are static.

    After the fusion and tiling passes, every compute operation has become a
    `hyla.dispatch` of a `hyla_tile` kernel; the graph is then a launch plan.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

class Hyla_Op<string mnemonic, list<Trait> traits = []>
    : Op<Hyla_Dialect, mnemonic, traits>;

#endif // HYLA_DIALECT_TD
