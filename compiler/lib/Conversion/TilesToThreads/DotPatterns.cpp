//===- DotPatterns.cpp - turbo.dot to warp-level mma.sync -----------------===//
//
// The operands arrive in #turbo.dot_operand layouts and the accumulator in
// #turbo.mma, whose register orders (see Layouts.cpp) are exactly the PTX
// fragments of mma.sync.m16n8k32 (8-bit) and m16n8k16 (16-bit):
//   A: 4 x 32-bit registers per 16 x K step,  register index
//      e + 4*kWidth * (kStep + kSteps * mBlock)
//   B: 2 x 32-bit registers per K x 8 step,  e + 2*kWidth * (kStep + kSteps * nBlock)
//   C: 4 values per 16 x 8 block,             e + 4 * (nBlock + nBlocks * mBlock)
// so each instruction takes consecutive registers of each operand.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

/// The 32-bit operand registers of a dot operand tile: its packed values
/// (8- and 16-bit elements), or the elements themselves (tf32-like cases do
/// not occur: operands are 8 or 16 bits).
SmallVector<Value> operandRegisters(OpBuilder &b, Location loc, ValueRange values,
                                    RankedTensorType type) {
  if (packingOf(type).width > 1)
    return SmallVector<Value>(values.begin(), values.end());
  return packElements(b, loc, elementsOf(b, loc, values, type), type);
}

struct DotPattern : TilePattern<DotOp> {
  using TilePattern::TilePattern;

  LogicalResult matchAndRewrite(DotOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    // Their B operand stays in shared memory (WgmmaPatterns.cpp).
    if (kernel.wgmmaDots.contains(op))
      return rewriter.notifyMatchFailure(op, "a wgmma dot");
    Location loc = op.getLoc();
    auto aType = op.getA().getType();
    auto resultType = op.getResult().getType();
    auto mma = dyn_cast<MmaEncodingAttr>(resultType.getEncoding());
    if (!mma)
      return rewriter.notifyMatchFailure(op, "accumulator is not in an mma layout");
    Type element = aType.getElementType();
    Type accElement = resultType.getElementType();
    int64_t instrK = mmaInstrK(element);
    int64_t m = resultType.getDimSize(0), n = resultType.getDimSize(1);
    int64_t k = aType.getDimSize(1);
    int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
    int64_t mBlocks = std::max<int64_t>(1, m / (16 * wm));
    int64_t nBlocks = std::max<int64_t>(1, n / (8 * wn));
    int64_t kSteps = k / instrK;
    if (m < 16 * wm || n < 8 * wn)
      return rewriter.notifyMatchFailure(op, "tile smaller than one mma block per warp");

    std::array<NVVM::MMATypes, 2> ptxTypes;
    if (element.isInteger(8))
      ptxTypes = {op.getLhsUnsigned() ? NVVM::MMATypes::u8 : NVVM::MMATypes::s8,
                  NVVM::MMATypes::s8};
    else if (element.isF16())
      ptxTypes = {NVVM::MMATypes::f16, NVVM::MMATypes::f16};
    else
      ptxTypes = {NVVM::MMATypes::bf16, NVVM::MMATypes::bf16};
    auto structType = LLVM::LLVMStructType::getLiteral(
        rewriter.getContext(), SmallVector<Type>(4, accElement));

    SmallVector<Value> a = operandRegisters(rewriter, loc, adaptor.getA(), aType);
    SmallVector<Value> b = operandRegisters(rewriter, loc, adaptor.getB(), op.getB().getType());
    SmallVector<Value> acc(adaptor.getAcc().begin(), adaptor.getAcc().end());
    for (int64_t mb = 0; mb < mBlocks; ++mb) {
      for (int64_t nb = 0; nb < nBlocks; ++nb) {
        unsigned cFirst = 4 * (nb + nBlocks * mb);
        for (int64_t ks = 0; ks < kSteps; ++ks) {
          // Operand registers (kWidth elements each) of this step.
          unsigned aFirst = 4 * (ks + kSteps * mb);
          unsigned bFirst = 2 * (ks + kSteps * nb);
          SmallVector<Value, 4> aRegs(a.begin() + aFirst, a.begin() + aFirst + 4);
          SmallVector<Value, 4> bRegs(b.begin() + bFirst, b.begin() + bFirst + 2);
          SmallVector<Value, 4> cRegs(acc.begin() + cFirst, acc.begin() + cFirst + 4);
          std::optional<NVVM::MMAIntOverflow> overflow;
          if (element.isInteger(8))
            overflow = NVVM::MMAIntOverflow::wrapped;
          Value d = NVVM::MmaOp::create(
              rewriter, loc, structType, aRegs, bRegs, cRegs, {16, 8, instrK},
              /*b1Op=*/std::nullopt, overflow, ptxTypes,
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
          for (unsigned r = 0; r < 4; ++r)
            acc[cFirst + r] = LLVM::ExtractValueOp::create(rewriter, loc, d, r);
        }
      }
    }
    rewriter.replaceOpWithMultiple(op, {acc});
    return success();
  }
};
} // namespace

void lowering::populateDotPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                   KernelContext &kernel) {
  patterns.add<DotPattern>(converter, patterns.getContext(), kernel);
}
