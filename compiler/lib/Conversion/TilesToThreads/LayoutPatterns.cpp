//===- LayoutPatterns.cpp - tiles that change shape or owner --------------===//
//
// Splats, ranges, broadcasts, dim insertion, transposes and bit permutations
// only relabel registers when source and result spread over threads the same
// way; a layout conversion or permutation that moves elements between threads
// goes through shared memory.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <map>

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

/// Replaces `op` (one tile result) by the registers of `source` that `map`
/// picks for each of its registers.
void relabel(ConversionPatternRewriter &rewriter, Operation *op, ValueRange source,
             RankedTensorType sourceType, ArrayRef<unsigned> map) {
  SmallVector<Value> elements = elementsOf(rewriter, op->getLoc(), source, sourceType);
  SmallVector<Value> picked;
  for (unsigned reg : map)
    picked.push_back(elements[reg]);
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  rewriter.replaceOpWithMultiple(op, {packElements(rewriter, op->getLoc(), picked, resultType)});
}

struct SplatPattern : OpConversionPattern<SplatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SplatOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    SmallVector<Value> registers(layoutOf(type).getNumRegs(), adaptor.getValue().front());
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, op.getLoc(), registers, type)});
    return success();
  }
};

struct RangePattern : TilePattern<RangeOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(RangeOp op, OneToNOpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    TileLayout layout = layoutOf(op.getResult().getType());
    Value thread = emitThreadOffsets(rewriter, loc, layout, kernel)[0];
    Value start = arith::AddIOp::create(rewriter, loc, thread,
                                        constI32(rewriter, loc, op.getStart()));
    SmallVector<Value> registers;
    for (unsigned reg = 0; reg < layout.getNumRegs(); ++reg)
      registers.push_back(arith::AddIOp::create(
          rewriter, loc, start, constI32(rewriter, loc, layout.getRegCoord(reg)[0])));
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, registers,
                                                     op.getResult().getType())});
    return success();
  }
};

struct BroadcastPattern : OpConversionPattern<BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(BroadcastOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto srcType = op.getSrc().getType();
    SmallVector<unsigned> broadcastDims;
    for (auto [d, extent] : llvm::enumerate(srcType.getShape()))
      if (extent == 1 && op.getResult().getType().getDimSize(d) != 1)
        broadcastDims.push_back(d);
    auto map = layoutOf(op.getResult().getType())
                   .registerMapFrom(layoutOf(srcType), std::nullopt, broadcastDims);
    if (!map)
      return rewriter.notifyMatchFailure(op, "broadcast between unrelated layouts");
    relabel(rewriter, op, adaptor.getSrc(), srcType, *map);
    return success();
  }
};

struct ExpandDimsPattern : OpConversionPattern<ExpandDimsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(ExpandDimsOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto map = layoutOf(op.getResult().getType())
                   .registerMapFrom(layoutOf(op.getSrc().getType()), unsigned(op.getAxis()));
    if (!map)
      return rewriter.notifyMatchFailure(op, "source is not a slice of the result's layout");
    relabel(rewriter, op, adaptor.getSrc(), op.getSrc().getType(), *map);
    return success();
  }
};

struct TransPattern : OpConversionPattern<TransOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TransOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto map = layoutOf(op.getResult().getType())
                   .registerMapFrom(layoutOf(op.getSrc().getType()).transposed());
    if (!map)
      return rewriter.notifyMatchFailure(op, "result layout is not the source's transposed");
    relabel(rewriter, op, adaptor.getSrc(), op.getSrc().getType(), *map);
    return success();
  }
};

/// permute_bits as a relabeling where it can be: result register r
/// (coordinates c) is the source register at c with the axis index
/// permuted, in the same thread. The permutation maps each power of two along
/// the axis to a power of two, so it maps each lane and warp step too; where
/// the source's steps are those, nothing moves. Otherwise the elements go
/// through shared memory, written where the permutation sends them.
struct PermuteBitsPattern : TilePattern<PermuteBitsOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(PermuteBitsOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto srcType = op.getSrc().getType();
    TileLayout src = layoutOf(srcType), dst = layoutOf(op.getResult().getType());
    const unsigned axis = op.getAxis();
    if (!sameThreadSteps(dst, src, [&](unsigned dim, int64_t value) {
          return dim == axis ? op.sourceIndex(value) : value;
        })) {
      // Source index 2^i comes from result index 2^j where bits[j] = i.
      ArrayRef<int32_t> bits = op.getBits();
      TileLayout moved = src.mappedAlong(axis, [&](int64_t value) {
        for (auto [j, target] : llvm::enumerate(bits))
          if (value == int64_t(1) << target)
            return int64_t(1) << j;
        return value;
      });
      SmallVector<Value> elements = elementsOf(rewriter, op.getLoc(), adaptor.getSrc(), srcType);
      rewriter.replaceOpWithMultiple(
          op, {convertThroughShared(rewriter, op.getLoc(), elements, moved,
                                    op.getResult().getType(), kernel)});
      return success();
    }
    auto permuted = [&](TileLayout::Coord c) {
      c[axis] = op.sourceIndex(c[axis]);
      return c;
    };
    std::map<TileLayout::Coord, unsigned> registerAt;
    for (unsigned reg = 0; reg < src.getNumRegs(); ++reg)
      registerAt.emplace(src.getRegCoord(reg), reg);
    SmallVector<unsigned> map;
    for (unsigned reg = 0; reg < dst.getNumRegs(); ++reg) {
      auto found = registerAt.find(permuted(dst.getRegCoord(reg)));
      if (found == registerAt.end())
        return rewriter.notifyMatchFailure(op, "a permuted element is in no register");
      map.push_back(found->second);
    }
    relabel(rewriter, op, adaptor.getSrc(), srcType, map);
    return success();
  }
};

struct ConvertLayoutPattern : TilePattern<ConvertLayoutOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    TileLayout src = layoutOf(op.getSrc().getType());
    TileLayout dst = layoutOf(op.getResult().getType());
    if (auto map = dst.registerMapFrom(src)) {
      relabel(rewriter, op, adaptor.getSrc(), op.getSrc().getType(), *map);
      return success();
    }
    SmallVector<Value> elements =
        elementsOf(rewriter, op.getLoc(), adaptor.getSrc(), op.getSrc().getType());
    rewriter.replaceOpWithMultiple(
        op, {convertThroughShared(rewriter, op.getLoc(), elements, src,
                                  op.getResult().getType(), kernel)});
    return success();
  }
};
} // namespace

void lowering::populateLayoutPatterns(TileTypeConverter &converter,
                                      RewritePatternSet &patterns, KernelContext &kernel) {
  MLIRContext *context = patterns.getContext();
  patterns.add<SplatPattern, BroadcastPattern, ExpandDimsPattern, TransPattern>(converter,
                                                                              context);
  patterns.add<RangePattern, ConvertLayoutPattern, PermuteBitsPattern>(converter, context,
                                                                       kernel);
}
