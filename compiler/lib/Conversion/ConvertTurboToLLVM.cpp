//===- ConvertTurboToLLVM.cpp - convert-turbo-to-llvm ---------------------===//
#include "turbo/Compiler/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/Pattern.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::turbo {
#define GEN_PASS_DEF_CONVERTTURBOTOLLVM
#include "turbo/Compiler/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;

namespace {
/// math.log2 on f32 as PTX's lg2.approx.f32 (max error 2^-22.6 relative for
/// the mantissa): the NVPTX backend has no libcall for llvm.log2, and
/// libdevice is not linked.
struct Log2ToNvvm : ConvertOpToLLVMPattern<math::Log2Op> {
  using ConvertOpToLLVMPattern::ConvertOpToLLVMPattern;
  LogicalResult matchAndRewrite(math::Log2Op op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return rewriter.notifyMatchFailure(op, "only f32 has an approximate PTX log2");
    auto call = LLVM::CallIntrinsicOp::create(
        rewriter, op.getLoc(), rewriter.getF32Type(),
        rewriter.getStringAttr("llvm.nvvm.lg2.approx.f"), ValueRange{adaptor.getOperand()});
    rewriter.replaceOp(op, call.getResults());
    return success();
  }
};

struct ConvertTurboToLLVMPass
    : mlir::turbo::impl::ConvertTurboToLLVMBase<ConvertTurboToLLVMPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();

    int64_t numWarps = 4;
    if (auto attr = module->getAttrOfType<IntegerAttr>(TurboDialect::kNumWarpsAttrName))
      numWarps = attr.getInt();
    // Remember what func-to-llvm does not carry over.
    struct KernelAttrs {
      int64_t sharedBytes = 0;
      bool programmaticLaunch = false;
      int64_t minBlocksPerSm = 0; ///< config min_blocks_per_sm: .minnctapersm
    };
    llvm::StringMap<KernelAttrs> kernels;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!func->hasAttr(TurboDialect::kKernelAttrName))
        continue;
      KernelAttrs attrs;
      if (auto attr = func->getAttrOfType<IntegerAttr>(TurboDialect::kSharedBytesAttrName))
        attrs.sharedBytes = attr.getInt();
      attrs.programmaticLaunch = func->hasAttr(TurboDialect::kProgrammaticLaunchAttrName);
      attrs.minBlocksPerSm = ConfigAttr::codegenOptionsOf(func).minBlocksPerSm;
      kernels[func.getSymName()] = attrs;
    }

    LowerToLLVMOptions options(context);
    options.useBarePtrCallConv = true;
    LLVMTypeConverter converter(context, options);
    RewritePatternSet patterns(context);
    arith::populateArithToLLVMConversionPatterns(converter, patterns);
    patterns.add<Log2ToNvvm>(converter, /*benefit=*/10);
    populateMathToLLVMConversionPatterns(converter, patterns);
    cf::populateControlFlowToLLVMConversionPatterns(converter, patterns);
    populateFuncToLLVMConversionPatterns(converter, patterns);
    ub::populateUBToLLVMConversionPatterns(converter, patterns);
    LLVMConversionTarget target(*context);
    target.addLegalDialect<NVVM::NVVMDialect>();
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    Builder b(context);
    for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
      auto it = kernels.find(func.getSymName());
      if (it == kernels.end())
        continue;
      func->setAttr(NVVM::NVVMDialect::getKernelFuncAttrName(), b.getUnitAttr());
      func->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
                    b.getDenseI32ArrayAttr({int32_t(numWarps * 32), 1, 1}));
      func->setAttr(TurboDialect::kSharedBytesAttrName,
                    b.getI64IntegerAttr(it->second.sharedBytes));
      if (it->second.programmaticLaunch)
        func->setAttr(TurboDialect::kProgrammaticLaunchAttrName, b.getUnitAttr());
      // Asks ptxas to fit that many blocks per SM (capping registers), but
      // never so many that a thread gets fewer than 128 of the SM's 64K
      // registers: a count meant for 4-warp blocks (the head config's)
      // would leave 8-warp ones 80 registers and heavy spills.
      const int64_t mostBlocks = std::max<int64_t>(1, 65536 / (numWarps * 32 * 128));
      if (it->second.minBlocksPerSm > 0)
        func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                      b.getI32IntegerAttr(
                          int32_t(std::min(it->second.minBlocksPerSm, mostBlocks))));
      func->removeAttr(TurboDialect::kKernelAttrName);
    }
    // Argument hints were for the tile lowering; LLVM IR has no use for them.
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      for (unsigned i = 0; i < func.getNumArguments(); ++i)
        func.removeArgAttr(i, TurboDialect::kDivisibilityAttrName);
  }
};
} // namespace
