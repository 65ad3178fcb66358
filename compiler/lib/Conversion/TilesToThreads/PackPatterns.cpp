//===- PackPatterns.cpp - sub-byte codes to and from bytes ----------------===//
//
// turbo-assign-layouts gives the unpacked side of a pack/unpack k times the
// packed side's consecutive elements per thread along the innermost dim, so
// each thread packs (or unpacks) the bytes (or words) it holds: packed
// register r is code registers r*k .. r*k+k-1, code i in bits
// [i*bits, (i+1)*bits).
// The pattern checks that correspondence on the two layouts and refuses
// anything else.
//
// Unpacked to f16, a byte gives its codes two at a time with no conversion
// instruction: the byte in both 16-bit halves (one prmt from a word),
// masked to code 2j in the low half and code 2j+1
// in the high half (each at its own bit offset), or'ed with 0x6400 in each
// half, is the f16 pair (1024 + code * 2^lo, 1024 + code * 2^hi) exactly;
// one f16x2 fma by (2^-lo, 2^-hi) and (-1024 * 2^-lo, -1024 * 2^-hi)
// leaves the codes, exactly.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

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

/// Byte `index` of a 32-bit word in the low byte of each 16-bit half.
Value byteInBothHalves(OpBuilder &b, Location loc, Value word, int64_t index) {
  Type i32 = b.getI32Type();
  // prmt picks bytes of {0, word}: selector nibble 4 is a zero byte.
  const int64_t selector = index | 4 << 4 | index << 8 | 4 << 12;
  return LLVM::CallIntrinsicOp::create(
             b, loc, i32, b.getStringAttr("llvm.nvvm.prmt"),
             ValueRange{word, constI32(b, loc, 0), constI32(b, loc, selector)})
      .getResult(0);
}

/// (a & mask) | bits in one lop3 (ptxas leaves the and and the or of two
/// constants as two instructions).
Value maskThenOr(OpBuilder &b, Location loc, Value a, uint32_t mask, uint32_t bits) {
  Type i32 = b.getI32Type();
  // Truth table of (a & b) | c over lop3's inputs a = 0xF0, b = 0xCC, c = 0xAA.
  constexpr int kAndOr = (0xF0 & 0xCC) | 0xAA;
  return LLVM::InlineAsmOp::create(
             b, loc, i32,
             ValueRange{a, constI32(b, loc, int32_t(mask)), constI32(b, loc, int32_t(bits))},
             llvm::formatv("lop3.b32 $0, $1, $2, $3, {0:x};", kAndOr).str(), "=r,r,n,n",
             /*has_side_effects=*/false, /*is_align_stack=*/false, LLVM::TailCallKind::None,
             LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

/// The codes of each packed element (a byte or a 32-bit word) as f16
/// values, in order.
SmallVector<Value> unpackToHalves(OpBuilder &b, Location loc, ArrayRef<Value> packed,
                                  int64_t bits) {
  Type i32 = b.getI32Type(), f16 = b.getF16Type();
  auto pairType = VectorType::get({2}, f16);
  auto halves = [&](double low, double high) -> Value {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(pairType, ArrayRef<Attribute>{b.getFloatAttr(f16, low),
                                                                     b.getFloatAttr(f16, high)}));
  };
  const uint32_t levels = (1u << bits) - 1;
  SmallVector<Value> codes;
  auto unpackByte = [&](Value both) {
    for (int64_t low = 0; low < 8; low += 2 * bits) {
      const int64_t high = low + bits;
      const uint32_t mask = (levels << low) | ((levels << high) << 16);
      Value biased = maskThenOr(b, loc, both, mask, 0x64006400);
      Value pair = LLVM::BitcastOp::create(b, loc, pairType, biased);
      const double lowScale = std::ldexp(1.0, int(-low)), highScale = std::ldexp(1.0, int(-high));
      Value exact = math::FmaOp::create(b, loc, pair, halves(lowScale, highScale),
                                        halves(-1024.0 * lowScale, -1024.0 * highScale));
      for (int64_t i = 0; i < 2; ++i)
        codes.push_back(LLVM::ExtractElementOp::create(b, loc, exact, constI32(b, loc, i)));
    }
  };
  for (Value element : packed) {
    if (element.getType().isInteger(32) && bits == 8) {
      // Bytes 2j and 2j+1 under a 0x64 byte each: (1024 + code, 1024 + code').
      for (int64_t first = 0; first < 4; first += 2) {
        const int64_t selector = first | 4 << 4 | (first + 1) << 8 | 4 << 12;
        Value biased = LLVM::CallIntrinsicOp::create(
                           b, loc, i32, b.getStringAttr("llvm.nvvm.prmt"),
                           ValueRange{element, constI32(b, loc, 0x64646464),
                                      constI32(b, loc, selector)})
                           .getResult(0);
        Value pair = LLVM::BitcastOp::create(b, loc, pairType, biased);
        Value exact = arith::SubFOp::create(b, loc, pair, halves(1024.0, 1024.0));
        for (int64_t i = 0; i < 2; ++i)
          codes.push_back(LLVM::ExtractElementOp::create(b, loc, exact, constI32(b, loc, i)));
      }
      continue;
    }
    if (element.getType().isInteger(32)) {
      for (int64_t index = 0; index < 4; ++index)
        unpackByte(byteInBothHalves(b, loc, element, index));
      continue;
    }
    Value word = arith::ExtUIOp::create(b, loc, i32, element);
    unpackByte(arith::OrIOp::create(b, loc, word,
                                    arith::ShLIOp::create(b, loc, word, constI32(b, loc, 16))));
  }
  return codes;
}

struct UnpackPattern : OpConversionPattern<UnpackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(UnpackOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    const int64_t bits = op.getBits(), k = srcType.getElementTypeBitWidth() / bits;
    if (!bytesLineUp(layoutOf(op.getResult().getType()), layoutOf(srcType), k))
      return rewriter.notifyMatchFailure(op, "codes and bytes are not held by the same threads");
    SmallVector<Value> packed = elementsOf(rewriter, loc, adaptor.getSrc(), srcType);
    Type i32 = rewriter.getI32Type(), i8 = rewriter.getI8Type();
    Value mask = constI32(rewriter, loc, (1 << bits) - 1);
    SmallVector<Value> codes;
    if (op.getResult().getType().getElementType().isF16()) {
      codes = unpackToHalves(rewriter, loc, packed, bits);
    } else {
      for (Value element : packed) {
        Value wide = element.getType() == i32
                         ? element
                         : arith::ExtUIOp::create(rewriter, loc, i32, element).getResult();
        for (int64_t i = 0; i < k; ++i) {
          Value shifted =
              i ? arith::ShRUIOp::create(rewriter, loc, wide, constI32(rewriter, loc, i * bits))
                      .getResult()
                : wide;
          codes.push_back(arith::TruncIOp::create(
              rewriter, loc, i8, arith::AndIOp::create(rewriter, loc, shifted, mask)));
        }
      }
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, codes,
                                                     op.getResult().getType())});
    return success();
  }
};
/// Each word's halves, low then high: a bitcast, so an f16x2 instruction on
/// the pair takes the word itself.
struct SplitWordsPattern : OpConversionPattern<SplitWordsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SplitWordsOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    auto resultType = op.getResult().getType();
    if (!bytesLineUp(layoutOf(resultType), layoutOf(srcType), 2))
      return rewriter.notifyMatchFailure(op, "halves and words are not held by the same threads");
    auto pairType = VectorType::get({2}, resultType.getElementType());
    SmallVector<Value> halves;
    for (Value word : elementsOf(rewriter, loc, adaptor.getSrc(), srcType)) {
      Value pair = LLVM::BitcastOp::create(rewriter, loc, pairType, word);
      for (int64_t i = 0; i < 2; ++i)
        halves.push_back(LLVM::ExtractElementOp::create(rewriter, loc, pair, constI32(rewriter, loc, i)));
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, halves, resultType)});
    return success();
  }
};
} // namespace

void lowering::populatePackPatterns(TileTypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<PackPattern, UnpackPattern, SplitWordsPattern>(converter, patterns.getContext());
}
