//===- PackPatterns.cpp - sub-byte codes to and from bytes ----------------===//
//
// turbo-assign-layouts gives the unpacked side of a pack/unpack k times the
// packed side's consecutive elements per thread along the innermost dim, so
// each thread packs (or unpacks) the bytes it holds: byte register r is
// code registers r*k .. r*k+k-1, code j*k+i in bits [i*bits, (i+1)*bits).
// The pattern checks that correspondence on the two layouts and refuses
// anything else.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

/// True when code register r*k + i of `codes` is code (row, col*k + i) for
/// byte register r of `bytes` at (row, col), in every thread.
bool bytesLineUp(const TileLayout &codes, const TileLayout &bytes, int64_t k) {
  unsigned inner = codes.getRank() - 1;
  if (codes.getNumRegs() != bytes.getNumRegs() * k)
    return false;
  for (unsigned r = 0; r < bytes.getNumRegs(); ++r) {
    TileLayout::Coord byte = bytes.getRegCoord(r);
    for (int64_t i = 0; i < k; ++i) {
      TileLayout::Coord code = byte;
      code[inner] = byte[inner] * k + i;
      if (codes.getRegCoord(r * k + i) != code)
        return false;
    }
  }
  return sameThreadSteps(bytes, codes, [&](unsigned dim, int64_t value) {
    return dim == inner ? value * k : value;
  });
}

struct PackPattern : OpConversionPattern<PackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(PackOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    const int64_t bits = op.getBits(), k = 8 / bits;
    if (!bytesLineUp(layoutOf(op.getSrc().getType()), layoutOf(op.getResult().getType()), k))
      return rewriter.notifyMatchFailure(op, "codes and bytes are not held by the same threads");
    SmallVector<Value> codes = elementsOf(rewriter, loc, adaptor.getSrc(), op.getSrc().getType());
    Type i32 = rewriter.getI32Type(), i8 = rewriter.getI8Type();
    Value mask = constI32(rewriter, loc, (1 << bits) - 1);
    SmallVector<Value> bytes;
    for (size_t first = 0; first < codes.size(); first += k) {
      Value byte = constI32(rewriter, loc, 0);
      for (int64_t i = 0; i < k; ++i) {
        Value code = arith::AndIOp::create(
            rewriter, loc, arith::ExtUIOp::create(rewriter, loc, i32, codes[first + i]), mask);
        if (i)
          code = arith::ShLIOp::create(rewriter, loc, code, constI32(rewriter, loc, i * bits));
        byte = arith::OrIOp::create(rewriter, loc, byte, code);
      }
      bytes.push_back(arith::TruncIOp::create(rewriter, loc, i8, byte));
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, bytes,
                                                     op.getResult().getType())});
    return success();
  }
};

struct UnpackPattern : OpConversionPattern<UnpackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(UnpackOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    const int64_t bits = op.getBits(), k = 8 / bits;
    if (!bytesLineUp(layoutOf(op.getResult().getType()), layoutOf(op.getSrc().getType()), k))
      return rewriter.notifyMatchFailure(op, "codes and bytes are not held by the same threads");
    SmallVector<Value> bytes = elementsOf(rewriter, loc, adaptor.getSrc(), op.getSrc().getType());
    Type i32 = rewriter.getI32Type(), i8 = rewriter.getI8Type();
    Value mask = constI32(rewriter, loc, (1 << bits) - 1);
    SmallVector<Value> codes;
    for (Value byte : bytes) {
      Value wide = arith::ExtUIOp::create(rewriter, loc, i32, byte);
      for (int64_t i = 0; i < k; ++i) {
        Value shifted =
            i ? arith::ShRUIOp::create(rewriter, loc, wide, constI32(rewriter, loc, i * bits))
                    .getResult()
              : wide;
        codes.push_back(arith::TruncIOp::create(
            rewriter, loc, i8, arith::AndIOp::create(rewriter, loc, shifted, mask)));
      }
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, codes,
                                                     op.getResult().getType())});
    return success();
  }
};
} // namespace

void lowering::populatePackPatterns(TileTypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<PackPattern, UnpackPattern>(converter, patterns.getContext());
}
