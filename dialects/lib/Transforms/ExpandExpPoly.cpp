//===- ExpandExpPoly.cpp - turbo-expand-exp-poly --------------------------===//
//
// SAS: base^x for x <= 0 as table[n] * P(f) with t = -x in f16 and
// t = n + f, n the nearest integer. The polynomial runs in f16 FMAs (no
// MUFU.EX2); for base 2 the table entry is built directly as an f32
// exponent field, for base e it is a select over the (at most 16) entries.
// Step for step what turbo::numerics::sasExp does. Ops that the
// tiles-to-threads conversion emits in f16 pairs (ExpPoly.h) stay.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/ExpPoly.h"
#include "turbo/Support/Numerics.h"
#include "turbo/Dialect/Passes.h"
#include "turbo/Dialect/TileBuilder.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>


namespace mlir::turbo {
#define GEN_PASS_DEF_TURBOEXPANDEXPPOLY
#include "turbo/Dialect/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;
namespace numerics = ::turbo::numerics;

namespace {

struct ExpandExpPolyPattern : OpRewritePattern<ExpPolyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpPolyOp op, PatternRewriter &rewriter) const override {
    if (expPolyInHalfPairs(op))
      return rewriter.notifyMatchFailure(op, "lowered in f16 pairs by tiles-to-threads");
    TileBuilder tb(rewriter, op.getLoc());
    Type f32 = rewriter.getF32Type(), f16 = rewriter.getF16Type(),
         i32 = rewriter.getI32Type();
    auto tile32 = TileBuilder::withElementType(op.getSrc().getType(), f32);
    auto tile16 = TileBuilder::withElementType(op.getSrc().getType(), f16);
    auto tileI32 = TileBuilder::withElementType(op.getSrc().getType(), i32);
    int64_t threshold = op.getThreshold();

    // t = max(min(-x, T), 0) in f16: the clamp keeps -inf scores (masked)
    // finite, and a NaN becomes T (a zero result), as the pair form's
    // cvt.rn.relu does.
    Value x = tb.castTo(op.getSrc(), f32);
    Value negated = arith::NegFOp::create(rewriter, op.getLoc(), x);
    Value t = arith::MinNumFOp::create(rewriter, op.getLoc(), negated,
                                       tb.constFloat(double(threshold), tile32));
    t = arith::MaxNumFOp::create(rewriter, op.getLoc(), t, tb.constFloat(0.0, tile32));
    t = tb.castTo(tb.castTo(t, f16), f32);
    // n = t rounded to nearest even (through t + 1.5 * 2^23, no
    // float-to-int conversion); f = t - n in [-1/2, 1/2], exact.
    auto [whole, n] = tb.roundSmallNonNegative(t);
    Value fraction = tb.castTo(tb.sub(t, whole), f16);

    // P(f) by Horner in f16.
    std::vector<float> coefficients = expPolyCoefficients(op);
    Value p = tb.constFloat(coefficients.back(), tile16);
    for (int i = int(coefficients.size()) - 2; i >= 0; --i)
      p = math::FmaOp::create(rewriter, op.getLoc(), p, fraction,
                              tb.constFloat(coefficients[i], tile16));

    Value p32 = tb.castTo(p, f32);
    Value value;
    if (op.getBase() == ExpBase::Two && expPolyRange(coefficients).first >= 0x1p-10f) {
      // P(f) * 2^(s - n) by subtracting n - s from P's exponent field:
      // exact while the result stays normal, which P >= 2^-10, n <= 64 and
      // s <= 14 guarantee.
      Value exponentDrop =
          op.getScaleLog2() ? tb.sub(n, tb.constInt(op.getScaleLog2(), tileI32)) : n;
      Value shifted = arith::ShLIOp::create(rewriter, op.getLoc(), exponentDrop,
                                            tb.constInt(23, tileI32));
      Value bits = arith::BitcastOp::create(rewriter, op.getLoc(), tileI32, p32);
      value = arith::BitcastOp::create(rewriter, op.getLoc(), tile32, tb.sub(bits, shifted));
    } else {
      // clamp_only needs the entry for n = threshold too.
      value = tb.mul(p32, tableEntries(tb, op, n, tile32, tileI32,
                                       threshold + (op.getClampOnly() ? 1 : 0)));
      if (op.getScaleLog2() != 0)
        value = tb.mul(value, tb.constFloat(std::ldexp(1.0, op.getScaleLog2()), tile32));
    }
    if (!op.getClampOnly()) {
      Value beyond =
          tb.cmpi(arith::CmpIPredicate::sge, n, tb.constInt(threshold, tileI32));
      value = tb.select(beyond, tb.constFloat(0.0, tile32), value);
    }
    rewriter.replaceOp(op, tb.castTo(value, op.getResult().getType().getElementType()));
    return success();
  }

private:
  /// base^-n for each n: for base 2 the f32 exponent field 127 - n, for e a
  /// select over the table.
  static Value tableEntries(TileBuilder &tb, ExpPolyOp op, Value n, RankedTensorType tile32,
                            RankedTensorType tileI32, int64_t entries) {
    Value entry;
    if (op.getBase() == ExpBase::Two) {
      // 2^-n as f32 bits: biased exponent 127 - n, zero mantissa.
      Value biased = tb.sub(tb.constInt(127, tileI32), n);
      Value bits = arith::ShLIOp::create(tb.builder(), op.getLoc(), biased,
                                         tb.constInt(23, tileI32));
      return arith::BitcastOp::create(tb.builder(), op.getLoc(), tile32, bits);
    }
    entry = tb.constFloat(numerics::sasTableEntry(0, numerics::ExpBase::E), tile32);
    for (int64_t k = 1; k < entries; ++k) {
      Value isK = tb.cmpi(arith::CmpIPredicate::eq, n, tb.constInt(k, tileI32));
      entry = tb.select(isK,
                        tb.constFloat(numerics::sasTableEntry(k, numerics::ExpBase::E), tile32),
                        entry);
    }
    return entry;
  }
};

struct TurboExpandExpPolyPass : mlir::turbo::impl::TurboExpandExpPolyBase<TurboExpandExpPolyPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandExpPolyPattern>(&getContext());
    GreedyRewriteConfig config;
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
