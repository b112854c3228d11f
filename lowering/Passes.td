//===- Passes.td - hyla lowering passes --------------------*- tablegen -*-===//
#ifndef HYLA_LOWERING_PASSES_TD
#define HYLA_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def TileToCPU : Pass<"hyla-tile-to-cpu", "mlir::ModuleOp"> {
  let summary = "Lower hyla_tile kernels to linalg/tensor/scf for the CPU";
  let description = [{
    Rewrites every `hyla_tile` kernel into a plain function that runs one
    program: its program ids become three trailing `index` arguments, and
    each tile op becomes upstream IR (`tensor.generate`, `linalg.generic`,
    `linalg.reduce`, `linalg.broadcast`, `scf.for`). The result bufferizes
    and lowers to LLVM with MLIR's standard CPU pipeline; `hyla-cpu-runner`
    JIT-compiles it and checks it against float64 references. Run it on a
    module that holds only kernels: dispatches would no longer match the
    new signatures.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // HYLA_LOWERING_PASSES_TD
