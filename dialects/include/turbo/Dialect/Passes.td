//===- Passes.td - turbo dialect transforms ----------------*- tablegen -*-===//
#ifndef TURBO_PASSES_TD
#define TURBO_PASSES_TD

include "mlir/Pass/PassBase.td"

def TurboExpandQuantization : Pass<"turbo-expand-quantization", "::mlir::ModuleOp"> {
  let summary = "Rewrite quantize/dequantize/requantize into reductions and elementwise math";
  let description = [{
    Expands `turbo.quantize`, `turbo.dequantize`, `turbo.requantize` and
    `turbo.dequantize_int` into `turbo.reduce`, `turbo.expand_dims`,
    `turbo.broadcast` and `arith`/`math` on tiles, exactly as the ops'
    descriptions define them (the CPU references follow the same steps).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def TurboExpandExpPoly : Pass<"turbo-expand-exp-poly", "::mlir::ModuleOp"> {
  let summary = "Rewrite SAS exp_poly into f16 polynomial arithmetic and an exponent table";
  let description = [{
    Fits the polynomial coefficients where the op gives none (least squares on
    `[-1/2, 1/2]`, rounded to f16), then expands `turbo.exp_poly` into:
    `t = max(min(-x, threshold), 0)` rounded to f16, split at the nearest
    integer, a Horner polynomial in f16, the table value `base^-n` (for base
    2 built directly as an f32 exponent field, for base e a select over the
    table) and, unless `clamp_only`, the threshold's exact zero. Ops in the
    f16-pair form (ExpPoly.h) are left for `convert-turbo-tiles-to-threads`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def TurboAssignLayouts : Pass<"turbo-assign-layouts", "::mlir::ModuleOp"> {
  let summary = "Attach a thread layout to every tile and insert the conversions";
  let description = [{
    Loads, stores and constants get blocked layouts sized for 16-byte
    accesses; dots get mma accumulators and dot-operand inputs; reductions
    produce slices; elementwise ops follow their operands. Where a value is
    produced in one layout and used in another, `turbo.convert_layout` is
    inserted. Loop-carried tiles take the layout of the value they carry.
    Reads `turbo.num_warps` from the module.
  }];
}

def TurboPipelineLoads : Pass<"turbo-pipeline-loads", "::mlir::ModuleOp"> {
  let summary = "Stage a loop's tile loads through shared memory, copies in flight ahead";
  let description = [{
    In an `scf.for`, a `turbo.load` whose offsets and base follow from the
    induction variable and whose strides and bounds are loop-invariant, and
    that is either 2-D and used only by a layout conversion (possibly after a
    `turbo.trans`) or 1-D (a vector of scales, staged as a one-row tile), becomes
    a ring of `stages` shared-memory slots: the loop's first `stages - 1`
    tiles are copied (`turbo.async_copy`, cp.async) before it starts, each
    iteration waits for its own tile, starts the copy of the tile `stages -
    1` iterations ahead into the slot the previous iteration has finished
    with, and reads its tile with `turbo.shared_load` straight into the
    layout the conversion produced (ldmatrix for dot operands). Runs after
    `turbo-assign-layouts`. `stages` 0 reads `num_stages` from the kernel's
    `turbo.config` (absent: 1); 1 leaves the loop alone.

    A 2-D load outside any loop (in the function's body) whose tile only a
    conversion to a dot's B operand reads gets a one-slot buffer: its copy
    starts as early as its operands and the memory it reads allow, and the
    read waits for its group alone.
  }];
  let options = [
    Option<"stages", "stages", "int64_t", "0",
           "Slots per staged load (0: the kernel's num_stages; 1: off)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect"];
}

#endif // TURBO_PASSES_TD
