//===- turbo-opt.cpp - MlirOptMain over turbo's dialect and passes --------===//
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "turbo/Compiler/Passes.h"
#include "turbo/Dialect/Passes.h"
#include "turbo/Dialect/TurboDialect.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::turbo::registerTurboPasses();
  mlir::turbo::registerTurboConversionPasses();
  mlir::registerSCFToControlFlowPass();
  mlir::registerReconcileUnrealizedCastsPass();

  mlir::DialectRegistry registry;
  registry.insert<mlir::turbo::TurboDialect, mlir::arith::ArithDialect,
                  mlir::math::MathDialect, mlir::scf::SCFDialect, mlir::func::FuncDialect,
                  mlir::LLVM::LLVMDialect, mlir::NVVM::NVVMDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "turbo optimizer driver\n", registry));
}
