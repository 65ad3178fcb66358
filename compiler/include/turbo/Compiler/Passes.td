//===- Passes.td - turbo conversions -----------------------*- tablegen -*-===//
#ifndef TURBO_COMPILER_PASSES_TD
#define TURBO_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTurboTilesToThreads : Pass<"convert-turbo-tiles-to-threads", "::mlir::ModuleOp"> {
  let summary = "Lower tile ops to the code each thread runs, following the tiles' layouts";
  let description = [{
    Every tile becomes the registers one thread holds of it (as its layout
    says); loads and stores become vectorized, masked global accesses; layout
    conversions and cross-warp reductions go through shared memory; row
    reductions use warp shuffles; `turbo.dot` becomes `nvvm.mma.sync`, or
    with `wgmma = 1` `wgmma.mma_async` reading B from a swizzled staging
    slot; the staging ops become cp.async, ldmatrix and barriers;
    `turbo.exp_poly`'s pair form becomes f16x2 instructions. The
    result is scalar `arith`/`math`/`scf` code with `llvm` memory ops and
    `nvvm` intrinsics. Records the shared memory each kernel needs in
    `turbo.shared_bytes`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect"];
}

def ConvertTurboToLLVM : Pass<"convert-turbo-to-llvm", "::mlir::ModuleOp"> {
  let summary = "Lower thread-level arith/math/cf/func to the LLVM dialect and mark kernels";
  let description = [{
    Runs after `convert-turbo-tiles-to-threads` and `convert-scf-to-cf`.
    Kernels (`turbo.kernel`) become `llvm.func`s with `nvvm.kernel`,
    `nvvm.maxntid` (from `turbo.num_warps`) and, with `min_blocks_per_sm` in
    the config, `nvvm.minctasm` (capped so that a thread keeps 128
    registers); f32 `math.log2` becomes `lg2.approx.f32`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect"];
}

#endif // TURBO_COMPILER_PASSES_TD
