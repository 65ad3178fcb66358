//===- SharedPatterns.cpp - staging buffers in shared memory --------------===//
//
// turbo.alloc_shared is a constant address (allocateStagingBuffers placed
// it); commits and waits are cp.async.commit_group / cp.async.wait_group +
// bar.sync. turbo.shared_load reads a slot into any layout: with ldmatrix
// where the layout's registers are the 8x8 (b16) matrices of a dot operand,
// otherwise with vector loads along the slot's rows.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

struct AllocSharedPattern : TilePattern<AllocSharedOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AllocSharedOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto offset = kernel.bufferOffsets.find(op);
    if (offset == kernel.bufferOffsets.end())
      return rewriter.notifyMatchFailure(op, "buffer was not allocated");
    rewriter.replaceOp(op, dynamicSharedPointer(rewriter, op.getLoc(), kernel, offset->second));
    return success();
  }
};

struct AsyncCommitPattern : OpConversionPattern<AsyncCommitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AsyncCommitOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<NVVM::CpAsyncCommitGroupOp>(op);
    return success();
  }
};

struct AsyncWaitPattern : TilePattern<AsyncWaitOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncWaitOp op, OpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    NVVM::CpAsyncWaitGroupOp::create(rewriter, op.getLoc(), op.getPending());
    // wgmma reads shared memory through the async proxy: the copies that
    // landed (generic proxy) must be fenced before the barrier that
    // publishes them.
    if (!kernel.swizzledBuffers.empty())
      NVVM::FenceProxyOp::create(
          rewriter, op.getLoc(),
          NVVM::ProxyKindAttr::get(rewriter.getContext(), NVVM::ProxyKind::async_shared),
          NVVM::SharedSpaceAttr::get(rewriter.getContext(), NVVM::SharedSpace::shared_cta));
    barrier(rewriter, op.getLoc());
    rewriter.eraseOp(op);
    return success();
  }
};

/// The slot's byte offset of result coordinates (i32 values) `coord`.
struct SlotAddressing {
  SlotGeometry geometry;
  unsigned rowDim, colDim; ///< result dims that walk the slot's rows / columns

  SlotAddressing(SlotGeometry geometry, bool transpose)
      : geometry(geometry), rowDim(transpose ? 1 : 0), colDim(transpose ? 0 : 1) {}

  int64_t bytesAt(int64_t row, int64_t col) const { return geometry.bytesAt(row, col); }
  Value bytesAt(OpBuilder &b, Location loc, Value row, Value col) const {
    return geometry.bytesAt(b, loc, row, col);
  }
};

Value offsetPointer(OpBuilder &b, Location loc, Value pointer, Value bytes) {
  auto type = LLVM::LLVMPointerType::get(b.getContext(), 3);
  return LLVM::GEPOp::create(b, loc, type, b.getI8Type(), pointer, ValueRange{bytes});
}

Value offsetPointer(OpBuilder &b, Location loc, Value pointer, int64_t bytes) {
  return bytes == 0 ? pointer : offsetPointer(b, loc, pointer, constI32(b, loc, bytes));
}

/// How many 8x8 (b16) matrices one ldmatrix can load for `layout`, or 0
/// when its registers are not ldmatrix fragments. They are when a 32-bit
/// word holds `kWidth` consecutive elements along a slot row, lanes 0-1 step
/// through the row's 16 bytes, lanes 2-4 step down 8 rows, and every word
/// starts 16-byte aligned.
unsigned ldmatrixCount(const TileLayout &layout, const SlotAddressing &slot, unsigned kWidth) {
  if (kWidth < 2 || slot.geometry.elementBytes * kWidth != 4)
    return 0;
  const unsigned wordBits = llvm::Log2_32(kWidth);
  ArrayRef<LayoutBasis> regs = layout.getRegBases(), lanes = layout.getLaneBases();
  auto is = [](const LayoutBasis &basis, unsigned dim, int64_t value) {
    return basis.dim == dim && basis.value == value;
  };
  if (regs.size() < wordBits || lanes.size() != 5)
    return 0;
  for (unsigned bit = 0; bit < wordBits; ++bit)
    if (!is(regs[bit], slot.colDim, int64_t(1) << bit))
      return 0;
  if (!is(lanes[0], slot.colDim, kWidth) || !is(lanes[1], slot.colDim, 2 * kWidth) ||
      !is(lanes[2], slot.rowDim, 1) || !is(lanes[3], slot.rowDim, 2) ||
      !is(lanes[4], slot.rowDim, 4))
    return 0;
  // Every other register and warp step must keep 16-byte row alignment.
  auto aligned = [&](const LayoutBasis &basis) {
    return basis.dim != slot.colDim ||
           (basis.value * slot.geometry.elementBytes) % 16 == 0;
  };
  if (!llvm::all_of(regs.drop_front(wordBits), aligned) ||
      !llvm::all_of(layout.getWarpBases(), aligned))
    return 0;
  unsigned words = layout.getNumRegs() / kWidth;
  return std::min(4u, words);
}

struct SharedLoadPattern : TilePattern<SharedLoadOp> {
  using TilePattern::TilePattern;

  LogicalResult matchAndRewrite(SharedLoadOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getResult().getType();
    TileLayout layout = layoutOf(type);
    // A wgmma operand stays in shared memory: the dot reads the slot
    // itself, the tile's registers are never used.
    if (kernel.swizzledBuffers.contains(op.getBuffer().getDefiningOp())) {
      SmallVector<Value> unused;
      SmallVector<Type> types;
      if (failed(getTypeConverter()->convertType(op.getType(), types)))
        return failure();
      for (Type type : types)
        unused.push_back(LLVM::PoisonOp::create(rewriter, loc, type));
      rewriter.replaceOpWithMultiple(op, {unused});
      return success();
    }
    SlotAddressing slot(slotGeometry(op.getBuffer(), kernel), op.getTranspose());
    Value slotBase = slotPointer(rewriter, loc, adaptor.getBuffer().front(),
                                 adaptor.getSlot().front(), slot.geometry);
    Packing packing = packingOf(type);
    SmallVector<Value> values;
    if (type.getRank() == 1) // a one-row slot: a vector of scales, say
      values = withVectorLoads(rewriter, loc, layout, slot, slotBase, type);
    else if (unsigned count = ldmatrixCount(layout, slot, packing.width))
      values = withLdmatrix(rewriter, loc, layout, slot, slotBase, packing, count);
    else
      values = withVectorLoads(rewriter, loc, layout, slot, slotBase, type);
    rewriter.replaceOpWithMultiple(op, {values});
    return success();
  }

private:
  /// ldmatrix.x`count`: matrix j of a call is word w0 + j of every lane, so
  /// lane l points at row l % 8 of matrix l / 8: word w0's coordinates plus
  /// the register bits that j sets, plus this warp's offset.
  SmallVector<Value> withLdmatrix(OpBuilder &b, Location loc, const TileLayout &layout,
                                  const SlotAddressing &slot, Value slotBase,
                                  const Packing &packing, unsigned count) const {
    const unsigned wordBits = llvm::Log2_32(packing.width);
    SmallVector<Value, 2> offset = emitWarpOffsets(b, loc, layout, kernel);
    auto bit = [&](unsigned index) {
      return arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, kernel.lane, constI32(b, loc, index)),
          constI32(b, loc, 1));
    };
    offset[slot.rowDim] = arith::AddIOp::create(
        b, loc, offset[slot.rowDim], arith::AndIOp::create(b, loc, kernel.lane, constI32(b, loc, 7)));
    for (unsigned j = 0; (1u << j) < count; ++j) {
      const LayoutBasis &basis = layout.getRegBases()[wordBits + j];
      offset[basis.dim] = arith::AddIOp::create(
          b, loc, offset[basis.dim],
          arith::MulIOp::create(b, loc, bit(3 + j), constI32(b, loc, basis.value)));
    }
    Value laneBase =
        offsetPointer(b, loc, slotBase, slot.bytesAt(b, loc, offset[slot.rowDim],
                                                     offset[slot.colDim]));
    Type i32 = b.getI32Type();
    Type result = count == 1 ? i32
                             : Type(LLVM::LLVMStructType::getLiteral(
                                   b.getContext(), SmallVector<Type>(count, i32)));
    auto shape = NVVM::LdStMatrixShapeAttr::get(b.getContext(), 8, 8);
    SmallVector<Value> words;
    const unsigned numWords = layout.getNumRegs() / packing.width;
    for (unsigned first = 0; first < numWords; first += count) {
      TileLayout::Coord coord = layout.getRegCoord(first * packing.width);
      Value pointer = offsetPointer(b, loc, laneBase,
                                    slot.bytesAt(coord[slot.rowDim], coord[slot.colDim]));
      Value loaded = NVVM::LdMatrixOp::create(b, loc, result, pointer, count,
                                              NVVM::MMALayout::row, shape,
                                              NVVM::LdStMatrixEltType::B16);
      for (unsigned j = 0; j < count; ++j) {
        Value word = count == 1 ? loaded : LLVM::ExtractValueOp::create(b, loc, loaded, j);
        words.push_back(word.getType() == packing.storage
                            ? word
                            : LLVM::BitcastOp::create(b, loc, packing.storage, word));
      }
    }
    return words;
  }

  /// Vector loads of consecutive registers along a slot row (up to 16 bytes).
  SmallVector<Value> withVectorLoads(OpBuilder &b, Location loc, const TileLayout &layout,
                                     const SlotAddressing &slot, Value slotBase,
                                     RankedTensorType type) const {
    // A 1-D result is row 0 of a one-row slot.
    const bool vector = type.getRank() == 1;
    const unsigned colDim = vector ? 0 : slot.colDim;
    auto rowCol = [&](auto coords, auto zero) {
      return vector ? std::make_pair(zero, coords[0])
                    : std::make_pair(coords[slot.rowDim], coords[slot.colDim]);
    };
    SmallVector<Value, 2> thread = emitThreadOffsets(b, loc, layout, kernel);
    auto [threadRow, threadCol] = rowCol(thread, constI32(b, loc, 0));
    Value threadBase = offsetPointer(b, loc, slotBase, slot.bytesAt(b, loc, threadRow, threadCol));
    const int64_t bytes = slot.geometry.elementBytes;
    int64_t width = std::min<int64_t>(layout.getContiguity(colDim), 16 / bytes);
    // Vectors must stay aligned in every thread: lane and warp steps along
    // the row have to be multiples of the width.
    for (ArrayRef<LayoutBasis> bases : {layout.getLaneBases(), layout.getWarpBases()})
      for (const LayoutBasis &basis : bases)
        if (basis.dim == colDim && basis.value != 0)
          width = std::min<int64_t>(width, basis.value & -basis.value);
    Type element = type.getElementType();
    Type access = width == 1 ? element : VectorType::get({width}, element);
    SmallVector<Value> elements;
    for (unsigned first = 0; first < layout.getNumRegs(); first += width) {
      auto [row, col] = rowCol(layout.getRegCoord(first), int64_t(0));
      Value pointer = offsetPointer(b, loc, threadBase, slot.bytesAt(row, col));
      Value loaded = LLVM::LoadOp::create(b, loc, access, pointer, unsigned(width * bytes));
      if (width == 1) {
        elements.push_back(loaded);
        continue;
      }
      for (int64_t i = 0; i < width; ++i)
        elements.push_back(LLVM::ExtractElementOp::create(b, loc, loaded, constI32(b, loc, i)));
    }
    return packElements(b, loc, elements, type);
  }
};
} // namespace

void lowering::populateSharedPatterns(TileTypeConverter &converter,
                                      RewritePatternSet &patterns, KernelContext &kernel) {
  MLIRContext *context = patterns.getContext();
  patterns.add<AllocSharedPattern, SharedLoadPattern, AsyncWaitPattern>(converter, context,
                                                                       kernel);
  patterns.add<AsyncCommitPattern>(converter, context);
}
