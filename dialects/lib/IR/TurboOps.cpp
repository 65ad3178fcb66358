//===- TurboOps.cpp - turbo op verifiers and folders ----------------------===//
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::turbo;

#define GET_OP_CLASSES
#include "turbo/Dialect/TurboOps.cpp.inc"

namespace {
/// Shape of `type` with dim `axis` removed.
SmallVector<int64_t> dropDim(ArrayRef<int64_t> shape, unsigned axis) {
  SmallVector<int64_t> out(shape);
  out.erase(out.begin() + axis);
  return out;
}

LogicalResult verifyTileAccess(Operation *op, PtrType ptr, RankedTensorType tile,
                               size_t numOffsets, size_t numStrides, size_t numBounds) {
  int64_t rank = tile.getRank();
  if (rank < 1 || rank > 2)
    return op->emitOpError("supports tiles of rank 1 or 2, got rank ") << rank;
  if (ptr.getElementType() != tile.getElementType())
    return op->emitOpError("pointer element type ")
           << ptr.getElementType() << " does not match tile element type "
           << tile.getElementType();
  if (int64_t(numOffsets) != rank || (numBounds != 0 && int64_t(numBounds) != rank))
    return op->emitOpError("needs one offset per tile dim and one bound per tile dim or none (")
           << rank << "), got " << numOffsets << " and " << numBounds;
  if (int64_t(numStrides) != rank - 1)
    return op->emitOpError("needs a stride for each outer dim (")
           << rank - 1 << "), got " << numStrides << "; the innermost dim is contiguous";
  return success();
}

/// The shape a per-group scale has for a tile of `shape`, or an empty
/// optional for a scalar scale.
std::optional<SmallVector<int64_t>> scaleShape(ArrayRef<int64_t> shape,
                                               Granularity granularity) {
  switch (granularity) {
  case Granularity::Tile:
    return std::nullopt;
  case Granularity::Row:
    return SmallVector<int64_t>{shape[0]};
  case Granularity::Column:
    return SmallVector<int64_t>{shape[1]};
  }
  llvm_unreachable("unknown granularity");
}

LogicalResult verifyScaleType(Operation *op, StringRef what, Type type,
                              ArrayRef<int64_t> tileShape, Granularity granularity) {
  if (tileShape.size() != 2 && granularity != Granularity::Tile)
    return op->emitOpError("row and column granularity need a 2-D tile");
  std::optional<SmallVector<int64_t>> expected = scaleShape(tileShape, granularity);
  if (!expected) {
    if (!type.isF32())
      return op->emitOpError() << what << " of a per-tile quantization is an f32 scalar, got "
                               << type;
    return success();
  }
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.getElementType().isF32() || tensor.getShape() != ArrayRef(*expected))
    return op->emitOpError() << what << " must be tensor<" << (*expected)[0]
                             << "xf32> for " << stringifyGranularity(granularity)
                             << " granularity, got " << type;
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//

LogicalResult RangeOp::verify() {
  int64_t count = int64_t(getEnd()) - int64_t(getStart());
  if (count <= 0)
    return emitOpError("end must be greater than start");
  auto type = getResult().getType();
  if (type.getRank() != 1 || type.getDimSize(0) != count)
    return emitOpError("result must be a 1-D tile of ") << count << " elements";
  return success();
}

LogicalResult ExpandDimsOp::verify() {
  auto src = getSrc().getType();
  auto dst = getResult().getType();
  if (getAxis() > src.getRank())
    return emitOpError("axis ") << getAxis() << " is out of range";
  SmallVector<int64_t> expected(src.getShape());
  expected.insert(expected.begin() + getAxis(), 1);
  if (dst.getShape() != ArrayRef(expected) || dst.getElementType() != src.getElementType())
    return emitOpError("result must be the source with a dim of 1 inserted at ")
           << getAxis();
  return success();
}

LogicalResult BroadcastOp::verify() {
  auto src = getSrc().getType();
  auto dst = getResult().getType();
  if (src.getRank() != dst.getRank())
    return emitOpError("source and result must have the same rank");
  for (auto [s, d] : llvm::zip(src.getShape(), dst.getShape()))
    if (s != d && s != 1)
      return emitOpError("each source dim must equal the result's or be 1");
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getResult().getType())
    return getSrc();
  return {};
}

LogicalResult TransOp::verify() {
  auto src = getSrc().getType();
  auto dst = getResult().getType();
  if (src.getRank() != 2 || dst.getRank() != 2 || src.getDimSize(0) != dst.getDimSize(1) ||
      src.getDimSize(1) != dst.getDimSize(0))
    return emitOpError("transposes a 2-D tile: MxN -> NxM");
  return success();
}

OpFoldResult ConvertLayoutOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getResult().getType())
    return getSrc();
  if (auto inner = getSrc().getDefiningOp<ConvertLayoutOp>()) {
    if (inner.getSrc().getType() == getResult().getType())
      return inner.getSrc();
  }
  return {};
}

namespace {
/// convert(convert(x)) -> convert(x).
struct FoldConvertChain : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op, PatternRewriter &rewriter) const override {
    auto inner = op.getSrc().getDefiningOp<ConvertLayoutOp>();
    if (!inner)
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getSrcMutable().assign(inner.getSrc()); });
    return success();
  }
};

/// convert(load) used only there -> load in the new layout, when that layout
/// is 1-D or blocked.
struct LoadInTargetLayout : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op, PatternRewriter &rewriter) const override {
    auto load = op.getSrc().getDefiningOp<LoadOp>();
    auto target = op.getResult().getType();
    if (!load || !load.getResult().hasOneUse() ||
        (target.getRank() != 1 && !isa<BlockedEncodingAttr>(target.getEncoding())))
      return failure();
    rewriter.setInsertionPoint(load);
    auto moved = LoadOp::create(rewriter, load.getLoc(), op.getResult().getType(),
                                load.getBase(), load.getOffsets(), load.getStrides(),
                                load.getBounds(), load.getPaddingAttr());
    rewriter.replaceOp(op, moved.getResult());
    rewriter.eraseOp(load);
    return success();
  }
};
} // namespace

void ConvertLayoutOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                                  MLIRContext *context) {
  results.add<FoldConvertChain, LoadInTargetLayout>(context);
}

LogicalResult LoadOp::verify() {
  if (failed(verifyTileAccess(*this, getBase().getType(), getResult().getType(),
                              getOffsets().size(), getStrides().size(),
                              getBounds().size())))
    return failure();
  if (auto padding = getPadding()) {
    if (padding->getType() != getResult().getType().getElementType())
      return emitOpError("padding must have the tile's element type");
  }
  return success();
}

LogicalResult StoreOp::verify() {
  return verifyTileAccess(*this, getBase().getType(), getValue().getType(),
                          getOffsets().size(), getStrides().size(), getBounds().size());
}

LogicalResult ReduceOp::verify() {
  auto src = getSrc().getType();
  if (getAxis() >= src.getRank())
    return emitOpError("axis ") << getAxis() << " is out of range for a rank-"
                                << src.getRank() << " tile";
  if (src.getRank() > 2)
    return emitOpError("reduces 1-D and 2-D tiles");
  if (src.getRank() == 1) {
    if (getResult().getType() != src.getElementType())
      return emitOpError("a 1-D tile reduces to a scalar of its element type");
  } else {
    auto dst = dyn_cast<RankedTensorType>(getResult().getType());
    if (!dst || dst.getElementType() != src.getElementType() ||
        dst.getShape() != ArrayRef(dropDim(src.getShape(), getAxis())))
      return emitOpError("result must be the source without dim ") << getAxis();
  }
  if (getKind() == ReduceKind::AbsMax && !isa<FloatType>(src.getElementType()))
    return emitOpError("absmax reduces float tiles");
  return success();
}

LogicalResult QuantizeOp::verify() {
  auto src = getSrc().getType();
  if (getResult().getType().getShape() != src.getShape())
    return emitOpError("result must have the source's shape");
  if (failed(verifyScaleType(*this, "scale", getScale().getType(), src.getShape(),
                             getGranularity())))
    return failure();
  if (getAsymmetric() != bool(getZero()))
    return emitOpError("asymmetric quantization returns a zero point, symmetric does not");
  const unsigned width = getResult().getType().getElementTypeBitWidth();
  if (getAsymmetric() ? width != 8 || getBits() > 8 : unsigned(getBits()) > width)
    return emitOpError() << getBits() << "-bit "
                         << (getAsymmetric() ? "asymmetric" : "symmetric")
                         << " codes do not fit an i" << width << " result"
                         << (getAsymmetric() ? " (asymmetric codes are unsigned in an i8, at "
                                               "most 8 bits)"
                                             : "");
  if (getZero() && failed(verifyScaleType(*this, "zero point", getZero().getType(),
                                          src.getShape(), getGranularity())))
    return failure();
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto src = getSrc().getType();
  if (getResult().getType().getShape() != src.getShape())
    return emitOpError("result must have the source's shape");
  if (failed(verifyScaleType(*this, "scale", getScale().getType(), src.getShape(),
                             getGranularity())))
    return failure();
  if (getZero() && failed(verifyScaleType(*this, "zero point", getZero().getType(),
                                          src.getShape(), getGranularity())))
    return failure();
  return success();
}

static LogicalResult verifyChannelParams(Operation *op, RankedTensorType tile, Type scale,
                                         Type zero) {
  if (tile.getRank() != 2)
    return op->emitOpError("works on 2-D tiles (tokens x channels)");
  for (Type type : {scale, zero}) {
    auto tensor = cast<RankedTensorType>(type);
    if (tensor.getRank() != 1 || tensor.getDimSize(0) != tile.getDimSize(1))
      return op->emitOpError("scale and zero need one entry per column (")
             << tile.getDimSize(1) << ")";
  }
  return success();
}

LogicalResult RequantizeOp::verify() {
  if (getCodes().getType().getShape() != getSrc().getType().getShape())
    return emitOpError("codes must have the source's shape");
  return verifyChannelParams(*this, getSrc().getType(), getScale().getType(),
                             getZero().getType());
}

LogicalResult DequantizeIntOp::verify() {
  if (getResult().getType().getShape() != getCodes().getType().getShape())
    return emitOpError("result must have the codes' shape");
  return verifyChannelParams(*this, getCodes().getType(), getScale().getType(),
                             getZero().getType());
}

static LogicalResult verifyPacking(Operation *op, RankedTensorType unpacked,
                                   RankedTensorType packed, int64_t bits) {
  const bool words = packed.getElementType().isInteger(32);
  if (words && bits != 2 && bits != 4 && bits != 8)
    return op->emitOpError("packs 2-, 4- or 8-bit codes in words, got ") << bits;
  if (!words && bits != 2 && bits != 4)
    return op->emitOpError("packs 2- or 4-bit codes, got ") << bits;
  // Codes per packed element: a byte, or a 32-bit word.
  int64_t perElement = packed.getElementType().getIntOrFloatBitWidth() / bits;
  SmallVector<int64_t> expected(unpacked.getShape());
  if (expected.empty() || expected.back() % perElement)
    return op->emitOpError("innermost dim must be a multiple of ") << perElement;
  expected.back() /= perElement;
  if (packed.getShape() != ArrayRef(expected))
    return op->emitOpError("packed tile must have the innermost dim divided by ") << perElement;
  return success();
}

LogicalResult PackOp::verify() {
  return verifyPacking(*this, getSrc().getType(), getResult().getType(), getBits());
}

LogicalResult UnpackOp::verify() {
  return verifyPacking(*this, getResult().getType(), getSrc().getType(), getBits());
}

LogicalResult SplitWordsOp::verify() {
  SmallVector<int64_t> expected(getSrc().getType().getShape());
  if (expected.empty())
    return emitOpError("needs a tile of rank 1 or more");
  expected.back() *= 2;
  if (getResult().getType().getShape() != ArrayRef(expected))
    return emitOpError("result must have the innermost dim doubled");
  return success();
}

LogicalResult DotOp::verify() {
  auto a = getA().getType(), b = getB().getType(), acc = getAcc().getType();
  if (a.getRank() != 2 || b.getRank() != 2 || acc.getRank() != 2)
    return emitOpError("operands must be 2-D tiles");
  if (a.getDimSize(1) != b.getDimSize(0) || acc.getDimSize(0) != a.getDimSize(0) ||
      acc.getDimSize(1) != b.getDimSize(1))
    return emitOpError("shapes do not chain: ")
           << a.getDimSize(0) << "x" << a.getDimSize(1) << " * " << b.getDimSize(0) << "x"
           << b.getDimSize(1) << " + " << acc.getDimSize(0) << "x" << acc.getDimSize(1);
  Type ea = a.getElementType(), eb = b.getElementType(), ec = acc.getElementType();
  bool int8 = ea.isInteger(8) && eb.isInteger(8) && ec.isInteger(32);
  bool f16 = ea.isF16() && eb.isF16() && ec.isF32();
  bool bf16 = ea.isBF16() && eb.isBF16() && ec.isF32();
  if (!int8 && !f16 && !bf16)
    return emitOpError("supports i8 x i8 -> i32, f16 x f16 -> f32 and bf16 x bf16 -> f32");
  if (getLhsUnsigned() && !int8)
    return emitOpError("lhs_unsigned applies to i8 products");
  return success();
}

LogicalResult ExpPolyOp::verify() {
  auto dst = getResult().getType().getElementType();
  if (!dst.isF16() && !dst.isF32())
    return emitOpError("result element type must be f16 or f32");
  if (auto coefficients = getCoefficients()) {
    if (int64_t(coefficients->size()) != int64_t(getDegree()) + 1)
      return emitOpError("needs degree + 1 = ")
             << getDegree() + 1 << " coefficients, got " << coefficients->size();
  }
  if (getBase() == ExpBase::E && getThreshold() > 16)
    return emitOpError("base e keeps an explicit table of at most 16 entries");
  return success();
}

//===----------------------------------------------------------------------===//
// Shared-memory staging
//===----------------------------------------------------------------------===//

namespace {
LogicalResult verifySharedBuffer(Operation *op, MemRefType buffer) {
  if (buffer.getRank() != 3)
    return op->emitOpError("buffer must be slots x rows x columns, got rank ")
           << buffer.getRank();
  if (!buffer.hasStaticShape())
    return op->emitOpError("buffer shape must be static");
  auto space = dyn_cast_or_null<IntegerAttr>(buffer.getMemorySpace());
  if (!space || space.getInt() != 3)
    return op->emitOpError("buffer must live in shared memory (memory space 3)");
  Type element = buffer.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0)
    return op->emitOpError("buffer elements must be whole bytes, got ") << element;
  return success();
}
} // namespace

LogicalResult AllocSharedOp::verify() { return verifySharedBuffer(*this, getBuffer().getType()); }

RankedTensorType AsyncCopyOp::getTileType() {
  ArrayRef<int64_t> shape = getBuffer().getType().getShape();
  return RankedTensorType::get(shape.drop_front(), getBuffer().getType().getElementType(),
                               getLayout());
}

LogicalResult AsyncCopyOp::verify() {
  if (failed(verifySharedBuffer(*this, getBuffer().getType())))
    return failure();
  return verifyTileAccess(*this, getBase().getType(), getTileType(), getOffsets().size(),
                          getStrides().size(), getBounds().size());
}

LogicalResult SharedLoadOp::verify() {
  MemRefType buffer = getBuffer().getType();
  if (failed(verifySharedBuffer(*this, buffer)))
    return failure();
  RankedTensorType result = getResult().getType();
  if (result.getElementType() != buffer.getElementType())
    return emitOpError("result element type ")
           << result.getElementType() << " does not match buffer element type "
           << buffer.getElementType();
  SmallVector<int64_t, 2> slot(buffer.getShape().drop_front());
  if (result.getRank() == 1) {
    // A vector is read from a one-row slot.
    if (slot[0] != 1 || getTranspose() || result.getDimSize(0) != slot[1])
      return emitOpError("a 1-D result needs a one-row slot of its length (got ")
             << slot[0] << "x" << slot[1] << (getTranspose() ? ", transposed)" : ")");
    return success();
  }
  if (getTranspose())
    std::swap(slot[0], slot[1]);
  if (result.getShape() != ArrayRef<int64_t>(slot))
    return emitOpError("result shape must be the slot's")
           << (getTranspose() ? " transposed" : "") << " (" << slot[0] << "x" << slot[1]
           << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// permute_bits
//===----------------------------------------------------------------------===//

int64_t PermuteBitsOp::sourceIndex(int64_t k) {
  ArrayRef<int32_t> bits = getBits();
  int64_t low = (int64_t(1) << bits.size()) - 1;
  int64_t source = k & ~low;
  for (auto [j, target] : llvm::enumerate(bits))
    source |= ((k >> j) & 1) << target;
  return source;
}

LogicalResult PermuteBitsOp::verify() {
  auto type = getResult().getType();
  if (getAxis() >= uint32_t(type.getRank()))
    return emitOpError("axis ") << getAxis() << " is not a dim of a rank-" << type.getRank()
                                << " tile";
  ArrayRef<int32_t> bits = getBits();
  SmallVector<bool> seen(bits.size(), false);
  for (int32_t b : bits) {
    if (b < 0 || b >= int32_t(bits.size()) || seen[b])
      return emitOpError("bits must be a permutation of 0 .. ") << bits.size() - 1;
    seen[b] = true;
  }
  int64_t extent = type.getDimSize(getAxis());
  if (bits.size() > 30 || extent % (int64_t(1) << bits.size()))
    return emitOpError("dim ") << getAxis() << " (" << extent << ") must be a multiple of 2^"
                               << bits.size();
  return success();
}
