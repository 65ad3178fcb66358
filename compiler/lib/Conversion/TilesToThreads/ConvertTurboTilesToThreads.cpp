//===- ConvertTurboTilesToThreads.cpp - convert-turbo-tiles-to-threads ----===//
#include "TileLowering.h"
#include "turbo/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::turbo {
#define GEN_PASS_DEF_CONVERTTURBOTILESTOTHREADS
#include "turbo/Compiler/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

constexpr StringLiteral kSharedSymbol = "turbo_dynamic_shared";

bool mentionsTiles(Operation *op) {
  auto isTile = [](Type t) { return isa<RankedTensorType, PtrType, MemRefType>(t); };
  return llvm::any_of(op->getOperandTypes(), isTile) ||
         llvm::any_of(op->getResultTypes(), isTile);
}

/// `extern __shared__` storage: a zero-length array in address space 3
/// whose size the launch gives.
void declareDynamicShared(ModuleOp module) {
  if (module.lookupSymbol(kSharedSymbol))
    return;
  OpBuilder b(module.getBodyRegion());
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), 0);
  LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/false,
                         LLVM::Linkage::External, kSharedSymbol, Attribute(),
                         /*alignment=*/1024, /*addrSpace=*/3); // wgmma's swizzle atoms
}

/// wgmma's swizzle XORs absolute shared-memory address bits, the copies
/// XOR offsets in a buffer: they agree only if dynamic shared memory starts
/// on a 1 KiB boundary. The `.align 1024` of the declaration does not bind
/// the driver (dynamic shared memory starts at 0x400 on Hopper with no
/// static shared memory, which turbo kernels have none of), so a kernel
/// with swizzled buffers traps at entry rather than compute with a
/// mismatched layout.
void trapUnlessSwizzleAligned(func::FuncOp func, Location loc) {
  OpBuilder b(&func.getBody().front(), func.getBody().front().begin());
  auto sharedType = LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3);
  Value base = LLVM::AddressOfOp::create(b, loc, sharedType, kSharedSymbol);
  // Through an opaque move: LLVM would fold the test against the
  // declaration's alignment.
  Value address = LLVM::InlineAsmOp::create(
                      b, loc, b.getI32Type(),
                      ValueRange{LLVM::PtrToIntOp::create(b, loc, b.getI32Type(), base)},
                      "mov.b32 $0, $1;", "=r,r", /*has_side_effects=*/false,
                      /*is_align_stack=*/false, LLVM::TailCallKind::None,
                      LLVM::AsmDialectAttr(), ArrayAttr())
                      .getResult(0);
  Value misaligned = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::AndIOp::create(b, loc, address, constI32(b, loc, 1023)), constI32(b, loc, 0));
  auto check = scf::IfOp::create(b, loc, TypeRange{}, misaligned, /*withElseRegion=*/false);
  OpBuilder then = check.getThenBodyBuilder();
  LLVM::Trap::create(then, loc);
}

struct ConvertTurboTilesToThreadsPass
    : mlir::turbo::impl::ConvertTurboTilesToThreadsBase<ConvertTurboTilesToThreadsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    declareDynamicShared(module);

    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal())
        continue;
      KernelContext kernel;
      kernel.sharedSymbol = kSharedSymbol;
      analyzeVectorWidths(func, kernel);
      if (failed(planWgmma(func, kernel)))
        return signalPassFailure();
      if (!kernel.swizzledBuffers.empty())
        trapUnlessSwizzleAligned(func, func.getLoc());
      allocateStagingBuffers(func, kernel);
      {
        OpBuilder b(&func.getBody().front(), func.getBody().front().begin());
        Location loc = func.getLoc();
        Value tid = NVVM::ThreadIdXOp::create(b, loc, b.getI32Type());
        kernel.lane = arith::AndIOp::create(b, loc, tid, constI32(b, loc, 31));
        kernel.warp = arith::ShRUIOp::create(b, loc, tid, constI32(b, loc, 5));
      }

      // A kernel that waits for the grids before it in-kernel may be launched
      // while they finish (KernelInfo::programmaticLaunch).
      const bool waitsForPriorGrids =
          func.walk([](WaitPriorGridsOp) { return WalkResult::interrupt(); }).wasInterrupted();

      TileTypeConverter converter(context);
      RewritePatternSet patterns(context);
      ConversionTarget target(*context);
      target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect>();
      target.addIllegalDialect<TurboDialect>();
      target.addDynamicallyLegalDialect<arith::ArithDialect, math::MathDialect>(
          [](Operation *op) { return !mentionsTiles(op); });
      target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
        return converter.isSignatureLegal(op.getFunctionType());
      });
      target.addDynamicallyLegalOp<func::ReturnOp>(
          [](Operation *op) { return !mentionsTiles(op); });

      populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns, converter);
      populateReturnOpTypeConversionPattern(patterns, converter);
      scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns, target);
      populateMemoryPatterns(converter, patterns, kernel);
      populateLayoutPatterns(converter, patterns, kernel);
      populateElementwisePatterns(converter, patterns);
      populateExpPolyPatterns(converter, patterns);
      populateReducePatterns(converter, patterns, kernel);
      populateDotPatterns(converter, patterns, kernel);
      populateWgmmaPatterns(converter, patterns, kernel);
      populateSharedPatterns(converter, patterns, kernel);
      populatePackPatterns(converter, patterns);

      if (failed(applyPartialConversion(func, target, std::move(patterns))))
        return signalPassFailure();
      func->setAttr(TurboDialect::kSharedBytesAttrName,
                    IntegerAttr::get(IntegerType::get(context, 64),
                                     kernel.scratchBase + kernel.sharedBytes));
      if (waitsForPriorGrids)
        func->setAttr(TurboDialect::kProgrammaticLaunchAttrName, UnitAttr::get(context));
    }
  }
};
} // namespace
