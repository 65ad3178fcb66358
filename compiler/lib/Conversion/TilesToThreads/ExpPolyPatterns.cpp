//===- ExpPolyPatterns.cpp - turbo.exp_poly in f16 register pairs ---------===//
//
// The pair form of SAS (ExpPoly.h): registers (2i, 2i+1) of the tile go
// through f16x2 instructions together. Per pair, with x the f32 inputs:
//
//   t    = cvt.rn.relu.f16x2(-x)          t = max(-x, 0) in f16 (NaN -> NaN)
//   t    = min(t, T)                      (NaN -> T)
//   r    = t + 1024                       1024 + n: n = round(t), ties to even
//   f    = t - (r - 1024)                 in [-1/2, 1/2], exact
//   P    = Horner(f)                      f16 FMAs, P in [1/2, 2)
//   bits = P - (r << 10) + 0x1900000      n - s into both exponent fields
//          + (s << 26 | s << 10)          (one IADD3 after the shift, see
//                                         below), s = scale_log2
//   p    = bits * sat(T - n)              1 below the threshold, else 0;
//                                         not with clamp_only
//
// which is turbo::numerics::sasExp rounded to f16, bit for bit (the
// expansion in turbo-expand-exp-poly computes the same values in f32).
//
// r's bits are 0x6400 + n in each half. Shifted left by 10, the upper
// half's 0x6400 leaves the register and its n lands in the upper exponent
// field; the lower half's n lands in its own exponent field and its 0x6400
// becomes the constant 0x1900000 (bits 20, 23, 24), which the add takes
// back: the same bits as masking with 0xfc00fc00, one instruction fewer.
// n - s <= 14 and P's exponent field >= 14 never borrow across the halves,
// and s <= 14 with P < 2 stays below the f16 infinities.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"
#include "turbo/Dialect/ExpPoly.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

struct ExpPolyInPairsPattern : OpConversionPattern<ExpPolyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult matchAndRewrite(ExpPolyOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!expPolyInHalfPairs(op))
      return rewriter.notifyMatchFailure(op, "expanded by turbo-expand-exp-poly instead");
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    SmallVector<Value> x = elementsOf(rewriter, loc, adaptor.getSrc(), srcType);
    if (x.size() % 2)
      x.push_back(x.back()); // the odd register pairs with itself

    Type f16 = rewriter.getF16Type(), i32 = rewriter.getI32Type();
    auto pairType = VectorType::get({2}, f16);
    auto splat = [&](double value) {
      return LLVM::ConstantOp::create(
          rewriter, loc, pairType,
          DenseElementsAttr::get(pairType, rewriter.getFloatAttr(f16, value)));
    };
    auto intrinsic = [&](StringRef name, ValueRange args) {
      return LLVM::CallIntrinsicOp::create(rewriter, loc, pairType,
                                           rewriter.getStringAttr(name), args)
          .getResult(0);
    };
    // -x without a negation when x is one (the kernels pass -(their t)).
    auto negated = [&](Value value) -> Value {
      if (auto neg = value.getDefiningOp<arith::NegFOp>())
        return neg.getOperand();
      return LLVM::FNegOp::create(rewriter, loc, value);
    };

    const double threshold = double(op.getThreshold());
    std::vector<float> coefficients = expPolyCoefficients(op);
    Value limit = splat(threshold), bias = splat(1024.0), minusOne = splat(-1.0);
    // (0x6400 << 10): what the lower half's 1024 leaves in the shifted r;
    // plus scale_log2 in both exponent fields.
    const uint32_t scale = uint32_t(op.getScaleLog2());
    Value lowBias = LLVM::ConstantOp::create(
        rewriter, loc, i32,
        rewriter.getI32IntegerAttr(int32_t(0x1900000u + (scale << 26) + (scale << 10))));
    Value ten = LLVM::ConstantOp::create(rewriter, loc, i32, rewriter.getI32IntegerAttr(10));
    SmallVector<Value> results;
    for (size_t i = 0; i < x.size(); i += 2) {
      // The intrinsic puts its first operand in the upper half.
      Value t = intrinsic("llvm.nvvm.ff2f16x2.rn.relu", {negated(x[i + 1]), negated(x[i])});
      t = LLVM::MinNumOp::create(rewriter, loc, t, limit);
      Value rounded = LLVM::FAddOp::create(rewriter, loc, t, bias);
      Value whole = LLVM::FSubOp::create(rewriter, loc, rounded, bias);
      Value f = LLVM::FSubOp::create(rewriter, loc, t, whole);
      Value p = splat(coefficients.back());
      for (int c = int(coefficients.size()) - 2; c >= 0; --c)
        p = LLVM::FMAOp::create(rewriter, loc, p, f, splat(coefficients[c]));
      Value shift = LLVM::ShlOp::create(
          rewriter, loc, LLVM::BitcastOp::create(rewriter, loc, i32, rounded), ten);
      Value bits = LLVM::SubOp::create(
          rewriter, loc,
          LLVM::AddOp::create(rewriter, loc, LLVM::BitcastOp::create(rewriter, loc, i32, p),
                              lowBias),
          shift);
      Value value = LLVM::BitcastOp::create(rewriter, loc, pairType, bits);
      if (!op.getClampOnly()) {
        Value keep = intrinsic("llvm.nvvm.fma.rn.sat.f16x2", {whole, minusOne, limit});
        value = LLVM::FMulOp::create(rewriter, loc, value, keep);
      }
      for (int lane = 0; lane < 2; ++lane)
        results.push_back(
            LLVM::ExtractElementOp::create(rewriter, loc, value, constI32(rewriter, loc, lane)));
    }
    results.resize(layoutOf(op.getResult().getType()).getNumRegs());
    rewriter.replaceOpWithMultiple(
        op, {packElements(rewriter, loc, results, op.getResult().getType())});
    return success();
  }
};
} // namespace

void lowering::populateExpPolyPatterns(TileTypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<ExpPolyInPairsPattern>(converter, patterns.getContext());
}
