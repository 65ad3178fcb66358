//===- ExpandQuantization.cpp - turbo-expand-quantization -----------------===//
//
// Rewrites the quantization ops into reductions and elementwise tile math,
// step for step as the ops' descriptions (and the CPU references in
// templates/) define them, so that GPU and CPU agree bit for bit.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/Passes.h"
#include "turbo/Dialect/TileBuilder.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::turbo {
#define GEN_PASS_DEF_TURBOEXPANDQUANTIZATION
#include "turbo/Dialect/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;

namespace {

/// Reduces `tile` over the elements that share a scale: a row, a column, or
/// the whole tile (giving a scalar).
Value reduceGroups(TileBuilder &tb, ReduceKind kind, Value tile, Granularity granularity) {
  switch (granularity) {
  case Granularity::Row:
    return tb.reduce(kind, tile, 1);
  case Granularity::Column:
    return tb.reduce(kind, tile, 0);
  case Granularity::Tile: {
    auto type = cast<RankedTensorType>(tile.getType());
    Value partial = type.getRank() == 2 ? tb.reduce(kind, tile, 1) : tile;
    ReduceKind outer = kind == ReduceKind::AbsMax ? ReduceKind::Max : kind;
    return tb.reduce(outer, partial, 0);
  }
  }
  llvm_unreachable("unknown granularity");
}

struct ExpandQuantize : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QuantizeOp op, PatternRewriter &rewriter) const override {
    TileBuilder tb(rewriter, op.getLoc());
    Type f32 = rewriter.getF32Type();
    auto srcType = op.getSrc().getType();
    auto tile32 = TileBuilder::withElementType(srcType, f32);
    Value x = tb.castTo(op.getSrc(), f32);
    Granularity granularity = op.getGranularity();
    Type groupType = op.getScale().getType();
    Type i8 = rewriter.getI8Type();

    if (!op.getAsymmetric()) {
      double qmax = double((1 << (op.getBits() - 1)) - 1);
      Value amax = reduceGroups(tb, ReduceKind::AbsMax, x, granularity);
      Value scale = tb.div(amax, tb.constFloat(qmax, groupType));
      Value positive = tb.cmpf(arith::CmpFPredicate::OGT, amax, tb.constFloat(0.0, groupType));
      Value inverse = tb.select(positive, tb.div(tb.constFloat(qmax, groupType), amax),
                                tb.constFloat(0.0, groupType));
      Value scaled = tb.mul(x, tb.broadcastLike(inverse, tile32, granularity));
      // No clamp to [-qmax, qmax]: |x| <= amax, so |x * inverse| <= qmax
      // (1 + 2^-23)^2 < qmax + 1/2 rounds into it (a zero or non-finite amax
      // has inverse 0). Rounded and converted in one step on the GPU
      // (cvt.rni.s32.f32; a NaN codes to 0).
      Type codeType = op.getResult().getType().getElementType();
      rewriter.replaceOp(op, {tb.castTo(tb.roundEven(scaled), codeType), scale});
      return success();
    }

    double levels = double((1 << op.getBits()) - 1);
    Value lo = reduceGroups(tb, ReduceKind::Min, x, granularity);
    Value hi = reduceGroups(tb, ReduceKind::Max, x, granularity);
    Value range = tb.sub(hi, lo);
    Value scale = tb.div(range, tb.constFloat(levels, groupType));
    Value positive = tb.cmpf(arith::CmpFPredicate::OGT, range, tb.constFloat(0.0, groupType));
    Value inverse = tb.select(positive, tb.div(tb.constFloat(levels, groupType), range),
                              tb.constFloat(0.0, groupType));
    Value shifted = tb.sub(x, tb.broadcastLike(lo, tile32, granularity));
    Value scaled = tb.mul(shifted, tb.broadcastLike(inverse, tile32, granularity));
    Value clamped = tb.clamp(tb.roundEven(scaled), tb.constFloat(0.0, tile32),
                             tb.constFloat(levels, tile32));
    rewriter.replaceOp(op, {tb.castTo(clamped, i8, /*isUnsigned=*/true), scale, lo});
    return success();
  }
};

struct ExpandDequantize : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DequantizeOp op, PatternRewriter &rewriter) const override {
    TileBuilder tb(rewriter, op.getLoc());
    Type f32 = rewriter.getF32Type();
    auto tile32 = TileBuilder::withElementType(op.getSrc().getType(), f32);
    bool asymmetric = bool(op.getZero());
    Value q = tb.castTo(op.getSrc(), f32, /*isUnsigned=*/asymmetric);
    Value x = tb.mul(q, tb.broadcastLike(op.getScale(), tile32, op.getGranularity()));
    if (asymmetric)
      x = tb.add(x, tb.broadcastLike(op.getZero(), tile32, op.getGranularity()));
    rewriter.replaceOp(op, tb.castTo(x, op.getResult().getType().getElementType()));
    return success();
  }
};

struct ExpandRequantize : OpRewritePattern<RequantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RequantizeOp op, PatternRewriter &rewriter) const override {
    TileBuilder tb(rewriter, op.getLoc());
    Type i32 = rewriter.getI32Type();
    auto tile32 = TileBuilder::withElementType(op.getSrc().getType(), i32);
    auto perColumn = cast<RankedTensorType>(op.getScale().getType());
    int64_t levels = (int64_t(1) << op.getBits()) - 1;
    Value q = tb.castTo(op.getSrc(), i32);
    Value lo = tb.reduce(ReduceKind::Min, q, 0);
    Value hi = tb.reduce(ReduceKind::Max, q, 0);
    // s = max(1, ceil((hi - lo) / L)), z = lo
    Value spanUp = tb.add(tb.sub(hi, lo), tb.constInt(levels - 1, perColumn));
    Value scale = tb.max(tb.div(spanUp, tb.constInt(levels, perColumn)),
                         tb.constInt(1, perColumn));
    // code = min(L, (q - z + s / 2) / s)
    Value scaleTile = tb.broadcastColumns(scale, tile32);
    Value half = tb.div(scaleTile, tb.constInt(2, tile32));
    Value offset = tb.add(tb.sub(q, tb.broadcastColumns(lo, tile32)), half);
    Value code = tb.min(tb.div(offset, scaleTile), tb.constInt(levels, tile32));
    rewriter.replaceOp(op, {tb.castTo(code, rewriter.getI8Type()), scale, lo});
    return success();
  }
};

struct ExpandDequantizeInt : OpRewritePattern<DequantizeIntOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DequantizeIntOp op, PatternRewriter &rewriter) const override {
    TileBuilder tb(rewriter, op.getLoc());
    Type i32 = rewriter.getI32Type();
    auto tile32 = TileBuilder::withElementType(op.getCodes().getType(), i32);
    Value code = tb.castTo(op.getCodes(), i32, /*isUnsigned=*/true);
    Value q = tb.add(tb.mul(code, tb.broadcastColumns(op.getScale(), tile32)),
                     tb.broadcastColumns(op.getZero(), tile32));
    Value clamped = tb.clamp(q, tb.constInt(-128, tile32), tb.constInt(127, tile32));
    rewriter.replaceOp(op, tb.castTo(clamped, rewriter.getI8Type()));
    return success();
  }
};

struct TurboExpandQuantizationPass
    : mlir::turbo::impl::TurboExpandQuantizationBase<TurboExpandQuantizationPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandQuantize, ExpandDequantize, ExpandRequantize, ExpandDequantizeInt>(
        &getContext());
    GreedyRewriteConfig config;
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
