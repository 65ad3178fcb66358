//===- TileLowering.cpp - shared pieces of the tile-to-thread lowering ----===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

TileTypeConverter::TileTypeConverter(MLIRContext *context) {
  addConversion([](Type type) { return type; });
  addConversion([](PtrType ptr) -> Type {
    return LLVM::LLVMPointerType::get(ptr.getContext(), /*addressSpace=*/1);
  });
  addConversion([](RankedTensorType tile,
                   SmallVectorImpl<Type> &results) -> std::optional<LogicalResult> {
    FailureOr<TileLayout> layout = TileLayout::get(tile);
    if (failed(layout))
      return failure();
    results.append(layout->getNumRegs(), tile.getElementType());
    return success();
  });
}

TileLayout lowering::layoutOf(Type tileType) {
  FailureOr<TileLayout> layout = TileLayout::get(cast<RankedTensorType>(tileType));
  assert(succeeded(layout) && "tile without a valid layout reached the lowering");
  return *layout;
}

Value lowering::constI32(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(value));
}

namespace {
/// ((id >> bit) & 1) << log2(value): the contribution of one id bit.
Value bitContribution(OpBuilder &b, Location loc, Value id, unsigned bit, int64_t value) {
  Value shifted = arith::ShRUIOp::create(b, loc, id, constI32(b, loc, bit));
  Value one = arith::AndIOp::create(b, loc, shifted, constI32(b, loc, 1));
  return arith::ShLIOp::create(b, loc, one, constI32(b, loc, llvm::Log2_64(value)));
}
} // namespace

SmallVector<Value, 2> lowering::emitThreadOffsets(OpBuilder &b, Location loc,
                                                  const TileLayout &layout,
                                                  const KernelContext &kernel) {
  SmallVector<Value, 2> offsets;
  for (unsigned d = 0; d < layout.getRank(); ++d) {
    Value sum = constI32(b, loc, 0);
    auto accumulate = [&](ArrayRef<LayoutBasis> bases, Value id) {
      for (auto [bit, basis] : llvm::enumerate(bases))
        if (basis.dim == d && basis.value != 0)
          sum = arith::OrIOp::create(b, loc, sum, bitContribution(b, loc, id, bit, basis.value));
    };
    accumulate(layout.getLaneBases(), kernel.lane);
    accumulate(layout.getWarpBases(), kernel.warp);
    offsets.push_back(sum);
  }
  return offsets;
}

Value lowering::emitWarpIndexAlong(OpBuilder &b, Location loc, const TileLayout &layout,
                                   unsigned dim, const KernelContext &kernel) {
  Value index = constI32(b, loc, 0);
  unsigned next = 0;
  for (auto [bit, basis] : llvm::enumerate(layout.getWarpBases())) {
    if (basis.dim != dim || basis.value == 0)
      continue;
    index = arith::OrIOp::create(b, loc, index,
                                 bitContribution(b, loc, kernel.warp, bit, int64_t(1) << next));
    ++next;
  }
  return index;
}

Value lowering::sharedPointer(OpBuilder &b, Location loc, const KernelContext &kernel,
                              Value offset) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3);
  Value base = LLVM::AddressOfOp::create(b, loc, ptrType, kernel.sharedSymbol);
  return LLVM::GEPOp::create(b, loc, ptrType, b.getI8Type(), base, ValueRange{offset});
}

void lowering::barrier(OpBuilder &b, Location loc) { NVVM::Barrier0Op::create(b, loc); }

int64_t lowering::sharedElementBytes(Type type) {
  return std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8);
}

void lowering::storeShared(OpBuilder &b, Location loc, Value value, Value pointer) {
  if (value.getType().isInteger(1))
    value = arith::ExtUIOp::create(b, loc, b.getI8Type(), value);
  LLVM::StoreOp::create(b, loc, value, pointer);
}

Value lowering::loadShared(OpBuilder &b, Location loc, Type type, Value pointer) {
  if (type.isInteger(1)) {
    Value byte = LLVM::LoadOp::create(b, loc, b.getI8Type(), pointer);
    return arith::TruncIOp::create(b, loc, type, byte);
  }
  return LLVM::LoadOp::create(b, loc, type, pointer);
}

SmallVector<Value> lowering::convertThroughShared(OpBuilder &b, Location loc,
                                                  ValueRange values, Type elementType,
                                                  const TileLayout &src, const TileLayout &dst,
                                                  KernelContext &kernel) {
  ArrayRef<int64_t> shape = src.getShape();
  int64_t bytes = sharedElementBytes(elementType);
  int64_t total = bytes;
  for (int64_t extent : shape)
    total *= extent;
  kernel.sharedBytes = std::max(kernel.sharedBytes, total);

  // Row-major element index -> byte offset.
  auto linear = [&](ArrayRef<Value> threadPart, ArrayRef<int64_t> regPart) {
    Value index = constI32(b, loc, 0);
    for (unsigned d = 0; d < shape.size(); ++d) {
      Value coord = arith::AddIOp::create(b, loc, threadPart[d], constI32(b, loc, regPart[d]));
      index = arith::MulIOp::create(b, loc, index, constI32(b, loc, shape[d]));
      index = arith::AddIOp::create(b, loc, index, coord);
    }
    return arith::MulIOp::create(b, loc, index, constI32(b, loc, bytes)).getResult();
  };

  barrier(b, loc); // earlier readers of the scratch are done
  SmallVector<Value, 2> srcThread = emitThreadOffsets(b, loc, src, kernel);
  for (unsigned reg = 0; reg < src.getNumRegs(); ++reg)
    storeShared(b, loc, values[reg],
                sharedPointer(b, loc, kernel, linear(srcThread, src.getRegCoord(reg))));
  barrier(b, loc);
  SmallVector<Value, 2> dstThread = emitThreadOffsets(b, loc, dst, kernel);
  SmallVector<Value> result;
  for (unsigned reg = 0; reg < dst.getNumRegs(); ++reg)
    result.push_back(loadShared(
        b, loc, elementType,
        sharedPointer(b, loc, kernel, linear(dstThread, dst.getRegCoord(reg)))));
  return result;
}

//===----------------------------------------------------------------------===//
// Vector widths from divisibility
//===----------------------------------------------------------------------===//

namespace {
constexpr int64_t kAnyMultiple = int64_t(1) << 30;

/// Largest power of two known to divide `value` (pointers: their address in
/// bytes). Follows constants, kernel arguments marked turbo.divisibility,
/// and +, -, * on them.
int64_t divisibility(Value value, int depth = 0) {
  if (depth > 16)
    return 1;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    if (!func || arg.getOwner() != &func.getBody().front())
      return 1;
    if (auto attr = func.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                                      TurboDialect::kDivisibilityAttrName))
      return attr.getInt();
    return 1;
  }
  Operation *def = value.getDefiningOp();
  if (!def)
    return 1;
  if (auto constant = dyn_cast<arith::ConstantOp>(def)) {
    if (auto integer = dyn_cast<IntegerAttr>(constant.getValue())) {
      int64_t v = integer.getInt();
      return v == 0 ? kAnyMultiple : std::min<int64_t>(v & -v, kAnyMultiple);
    }
    return 1;
  }
  auto sub = [&](unsigned i) { return divisibility(def->getOperand(i), depth + 1); };
  if (isa<arith::MulIOp>(def))
    return std::min<int64_t>(sub(0) * sub(1), kAnyMultiple);
  if (isa<arith::AddIOp, arith::SubIOp>(def))
    return std::min(sub(0), sub(1));
  if (isa<arith::ExtSIOp, arith::ExtUIOp, arith::IndexCastOp>(def))
    return sub(0);
  if (auto shift = dyn_cast<arith::ShLIOp>(def)) {
    auto amount = shift.getRhs().getDefiningOp<arith::ConstantOp>();
    if (amount)
      return std::min<int64_t>(sub(0) << cast<IntegerAttr>(amount.getValue()).getInt(),
                               kAnyMultiple);
    return sub(0);
  }
  if (auto add = dyn_cast<AddPtrOp>(def)) {
    int64_t bytes = std::max<int64_t>(
        1, add.getBase().getType().getElementType().getIntOrFloatBitWidth() / 8);
    return std::min(sub(0), std::min<int64_t>(sub(1) * bytes, kAnyMultiple));
  }
  return 1;
}

/// Widest vector (elements) for an access of `tile` through base/offsets/
/// strides/bounds: consecutive registers along the contiguous dim, at most 16
/// bytes, aligned in memory, and never split by the inner bound.
unsigned vectorWidthFor(RankedTensorType tile, Value base, ValueRange offsets,
                        ValueRange strides, ValueRange bounds) {
  FailureOr<TileLayout> layout = TileLayout::get(tile);
  if (failed(layout))
    return 1;
  unsigned inner = tile.getRank() - 1;
  int64_t bytes = std::max<int64_t>(1, tile.getElementType().getIntOrFloatBitWidth() / 8);
  int64_t width = std::min<int64_t>(layout->getContiguity(inner), 16 / bytes);
  int64_t elementAlign = divisibility(base) / bytes;
  if (elementAlign < 1)
    elementAlign = 1;
  width = std::min(width, elementAlign);
  width = std::min(width, divisibility(offsets[inner]));
  width = std::min(width, divisibility(bounds[inner]));
  for (Value stride : strides)
    width = std::min(width, divisibility(stride));
  return std::max<int64_t>(1, width);
}
} // namespace

void lowering::analyzeVectorWidths(func::FuncOp func, KernelContext &kernel) {
  func.walk([&](Operation *op) {
    if (auto load = dyn_cast<LoadOp>(op))
      kernel.vectorWidth[op] = vectorWidthFor(load.getResult().getType(), load.getBase(),
                                              load.getOffsets(), load.getStrides(),
                                              load.getBounds());
    else if (auto store = dyn_cast<StoreOp>(op))
      kernel.vectorWidth[op] = vectorWidthFor(store.getValue().getType(), store.getBase(),
                                              store.getOffsets(), store.getStrides(),
                                              store.getBounds());
  });
}
