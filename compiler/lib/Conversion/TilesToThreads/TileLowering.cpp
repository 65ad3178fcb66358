//===- TileLowering.cpp - shared pieces of the tile-to-thread lowering ----===//
#include "TileLowering.h"
#include "turbo/Support/Targets.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

TileTypeConverter::TileTypeConverter(MLIRContext *context) {
  addConversion([](Type type) { return type; });
  addConversion([](PtrType ptr) -> Type {
    return LLVM::LLVMPointerType::get(ptr.getContext(), /*addressSpace=*/1);
  });
  addConversion([](MemRefType buffer) -> Type { // staging buffers: shared memory
    return LLVM::LLVMPointerType::get(buffer.getContext(), /*addressSpace=*/3);
  });
  addConversion([](RankedTensorType tile,
                   SmallVectorImpl<Type> &results) -> std::optional<LogicalResult> {
    FailureOr<TileLayout> layout = TileLayout::get(tile);
    if (failed(layout))
      return failure();
    Packing packing = packingOf(tile);
    results.append(layout->getNumRegs() / packing.width, packing.storage);
    return success();
  });
}

Packing lowering::packingOf(RankedTensorType tile) {
  Type element = tile.getElementType();
  auto operand = dyn_cast_or_null<DotOperandEncodingAttr>(tile.getEncoding());
  unsigned bits = element.isIntOrFloat() ? element.getIntOrFloatBitWidth() : 32;
  if (!operand || bits >= 32 || element.isInteger(1))
    return {1, element};
  MLIRContext *context = tile.getContext();
  if (element.isF16())
    return {2, VectorType::get({2}, element)};
  return {32 / bits, IntegerType::get(context, 32)};
}

SmallVector<Value> lowering::elementsOf(OpBuilder &b, Location loc, ValueRange values,
                                        RankedTensorType tile) {
  Packing packing = packingOf(tile);
  if (packing.width == 1)
    return SmallVector<Value>(values.begin(), values.end());
  Type element = tile.getElementType();
  auto vectorType = VectorType::get({int64_t(packing.width)}, element);
  SmallVector<Value> elements;
  for (Value packed : values) {
    Value vector = packed.getType() == vectorType
                       ? packed
                       : LLVM::BitcastOp::create(b, loc, vectorType, packed).getResult();
    for (unsigned i = 0; i < packing.width; ++i)
      elements.push_back(
          LLVM::ExtractElementOp::create(b, loc, vector, constI32(b, loc, i)));
  }
  return elements;
}

namespace {
/// The f16 pair and lane a byte element was cut from: trunci(bitcast(
/// extractelement(pair, lane))) with pair a vector<2xf16> (the low byte of
/// an f16's bits: codes rounded with 1024 added, see the attention kernel).
std::optional<std::pair<Value, int64_t>> halfPairLane(Value byte) {
  auto trunc = byte.getDefiningOp<arith::TruncIOp>();
  auto bitcast = trunc ? trunc.getIn().getDefiningOp<arith::BitcastOp>() : nullptr;
  auto extract = bitcast ? bitcast.getIn().getDefiningOp<LLVM::ExtractElementOp>() : nullptr;
  auto halfPair = VectorType::get({2}, Float16Type::get(byte.getContext()));
  if (!extract || extract.getVector().getType() != halfPair)
    return std::nullopt;
  auto position = extract.getPosition().getDefiningOp<arith::ConstantOp>();
  auto index = position ? dyn_cast<IntegerAttr>(position.getValue()) : nullptr;
  if (!index)
    return std::nullopt;
  return std::make_pair(extract.getVector(), index.getInt());
}

/// Four bytes as one 32-bit register with a single prmt when they are the
/// low bytes of lanes 0 and 1 of two f16 pairs, in that order.
Value packLowBytesOfHalfPairs(OpBuilder &b, Location loc, ValueRange bytes) {
  std::optional<std::pair<Value, int64_t>> lanes[4];
  for (int i = 0; i < 4; ++i)
    if (!(lanes[i] = halfPairLane(bytes[i])) || lanes[i]->second != i % 2)
      return {};
  if (lanes[0]->first != lanes[1]->first || lanes[2]->first != lanes[3]->first)
    return {};
  Type i32 = b.getI32Type();
  auto word = [&](Value pair) { return LLVM::BitcastOp::create(b, loc, i32, pair).getResult(); };
  // Selector 0x6420: bytes 0 and 2 of the first word, then of the second.
  return LLVM::CallIntrinsicOp::create(
             b, loc, i32, b.getStringAttr("llvm.nvvm.prmt"),
             ValueRange{word(lanes[0]->first), word(lanes[2]->first), constI32(b, loc, 0x6420)})
      .getResult(0);
}
} // namespace

SmallVector<Value> lowering::packElements(OpBuilder &b, Location loc, ValueRange elements,
                                          RankedTensorType tile) {
  Packing packing = packingOf(tile);
  if (packing.width == 1)
    return SmallVector<Value>(elements.begin(), elements.end());
  auto vectorType = VectorType::get({int64_t(packing.width)}, tile.getElementType());
  SmallVector<Value> packed;
  for (size_t first = 0; first < elements.size(); first += packing.width) {
    if (packing.width == 4 && tile.getElementType().isInteger(8) && first + 4 <= elements.size())
      if (Value word = packLowBytesOfHalfPairs(b, loc, elements.slice(first, 4))) {
        packed.push_back(word);
        continue;
      }
    Value vector = LLVM::PoisonOp::create(b, loc, vectorType);
    for (unsigned i = 0; i < packing.width; ++i)
      vector = LLVM::InsertElementOp::create(b, loc, vector, elements[first + i],
                                             constI32(b, loc, i));
    packed.push_back(vector.getType() == packing.storage
                         ? vector
                         : LLVM::BitcastOp::create(b, loc, packing.storage, vector).getResult());
  }
  return packed;
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

namespace {
SmallVector<Value, 2> emitOffsets(OpBuilder &b, Location loc, const TileLayout &layout,
                                  const KernelContext &kernel, bool withLanes) {
  SmallVector<Value, 2> offsets;
  for (unsigned d = 0; d < layout.getRank(); ++d) {
    Value sum = constI32(b, loc, 0);
    auto accumulate = [&](ArrayRef<LayoutBasis> bases, Value id) {
      for (auto [bit, basis] : llvm::enumerate(bases))
        if (basis.dim == d && basis.value != 0)
          sum = arith::OrIOp::create(b, loc, sum, bitContribution(b, loc, id, bit, basis.value));
    };
    if (withLanes)
      accumulate(layout.getLaneBases(), kernel.lane);
    accumulate(layout.getWarpBases(), kernel.warp);
    offsets.push_back(sum);
  }
  return offsets;
}
} // namespace

SmallVector<Value, 2> lowering::emitThreadOffsets(OpBuilder &b, Location loc,
                                                  const TileLayout &layout,
                                                  const KernelContext &kernel) {
  return emitOffsets(b, loc, layout, kernel, /*withLanes=*/true);
}

SmallVector<Value, 2> lowering::emitWarpOffsets(OpBuilder &b, Location loc,
                                                const TileLayout &layout,
                                                const KernelContext &kernel) {
  return emitOffsets(b, loc, layout, kernel, /*withLanes=*/false);
}

bool lowering::sameThreadSteps(const TileLayout &from, const TileLayout &to,
                               llvm::function_ref<int64_t(unsigned, int64_t)> map) {
  auto match = [&](ArrayRef<LayoutBasis> a, ArrayRef<LayoutBasis> b) {
    if (a.size() != b.size())
      return false;
    for (auto [x, y] : llvm::zip(a, b)) {
      int64_t expected = map(x.dim, x.value);
      if (y.value != expected || (expected != 0 && y.dim != x.dim))
        return false;
    }
    return true;
  };
  return match(from.getLaneBases(), to.getLaneBases()) &&
         match(from.getWarpBases(), to.getWarpBases());
}

Value lowering::emitFirstHolder(OpBuilder &b, Location loc, const TileLayout &layout,
                               const KernelContext &kernel) {
  auto still = [](ArrayRef<LayoutBasis> bases) {
    int64_t mask = 0;
    for (auto [bit, basis] : llvm::enumerate(bases))
      if (basis.value == 0)
        mask |= int64_t(1) << bit;
    return mask;
  };
  const int64_t laneMask = still(layout.getLaneBases()), warpMask = still(layout.getWarpBases());
  if (!laneMask && !warpMask)
    return {};
  Value bits = arith::OrIOp::create(
      b, loc, arith::AndIOp::create(b, loc, kernel.lane, constI32(b, loc, laneMask)),
      arith::AndIOp::create(b, loc, kernel.warp, constI32(b, loc, warpMask)));
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, bits, constI32(b, loc, 0));
}

bool lowering::isRepeatedRegister(const TileLayout &layout, unsigned reg) {
  for (auto [bit, basis] : llvm::enumerate(layout.getRegBases()))
    if (basis.value == 0 && (reg >> bit) & 1)
      return true;
  return false;
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

Value lowering::dynamicSharedPointer(OpBuilder &b, Location loc, const KernelContext &kernel,
                                     int64_t offset) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3);
  Value base = LLVM::AddressOfOp::create(b, loc, ptrType, kernel.sharedSymbol);
  if (offset == 0)
    return base;
  return LLVM::GEPOp::create(b, loc, ptrType, b.getI8Type(), base,
                             ValueRange{constI32(b, loc, offset)});
}

Value lowering::sharedPointer(OpBuilder &b, Location loc, const KernelContext &kernel,
                              Value offset) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3);
  Value base = dynamicSharedPointer(b, loc, kernel, kernel.scratchBase);
  return LLVM::GEPOp::create(b, loc, ptrType, b.getI8Type(), base, ValueRange{offset});
}

SlotGeometry lowering::slotGeometry(MemRefType buffer, bool swizzled) {
  SlotGeometry g;
  g.rows = buffer.getDimSize(1);
  g.cols = buffer.getDimSize(2);
  g.elementBytes = sharedElementBytes(buffer.getElementType());
  const int64_t rowBytes = int64_t(llvm::alignTo(g.cols * g.elementBytes, 16));
  // planWgmma swizzles only rows of whole panels, 8-row groups.
  assert((!swizzled || ((rowBytes == 32 || rowBytes == 64 || rowBytes % 128 == 0) &&
                        g.rows % 8 == 0)) &&
         "a swizzled slot holds whole swizzle atoms");
  if (swizzled) {
    g.swizzleBytes = std::min<int64_t>(128, rowBytes);
    g.pitchBytes = g.swizzleBytes;
    g.slotBytes = g.rows * rowBytes;
  } else {
    g.pitchBytes = rowBytes + 16;
    g.slotBytes = g.rows * g.pitchBytes;
  }
  return g;
}

Value lowering::slotPointer(OpBuilder &b, Location loc, Value buffer, Value slot,
                            const SlotGeometry &geometry) {
  auto sharedType = LLVM::LLVMPointerType::get(b.getContext(), /*addressSpace=*/3);
  return LLVM::GEPOp::create(
      b, loc, sharedType, b.getI8Type(), buffer,
      ValueRange{arith::MulIOp::create(b, loc, slot, constI32(b, loc, geometry.slotBytes))});
}

SlotGeometry lowering::slotGeometry(Value buffer, const KernelContext &kernel) {
  Operation *alloc = buffer.getDefiningOp();
  return slotGeometry(cast<MemRefType>(buffer.getType()),
                      alloc && kernel.swizzledBuffers.contains(alloc));
}

namespace {
/// Which 16-byte chunk of its row the swizzle XORs into row `row`'s chunks:
/// address bits 7.. of the row's start within an 8W-byte atom.
int64_t swizzleOf(int64_t row, int64_t swizzleBytes) {
  return (row * swizzleBytes / 128) % (swizzleBytes / 16);
}
} // namespace

int64_t SlotGeometry::bytesAt(int64_t row, int64_t col) const {
  const int64_t byte = col * elementBytes;
  if (!swizzleBytes)
    return row * pitchBytes + byte;
  const int64_t panel = byte / swizzleBytes, inPanel = byte % swizzleBytes;
  const int64_t chunk = (inPanel / 16) ^ swizzleOf(row, swizzleBytes);
  return panel * rows * swizzleBytes + row * swizzleBytes + chunk * 16 + inPanel % 16;
}

Value SlotGeometry::bytesAt(OpBuilder &b, Location loc, Value row, Value col) const {
  Value byte = arith::MulIOp::create(b, loc, col, constI32(b, loc, elementBytes));
  if (!swizzleBytes)
    return arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, row, constI32(b, loc, pitchBytes)), byte);
  // W is a power of two: shifts and masks.
  const unsigned log2W = llvm::Log2_64(swizzleBytes);
  auto shr = [&](Value v, unsigned bits) {
    return arith::ShRUIOp::create(b, loc, v, constI32(b, loc, bits)).getResult();
  };
  auto mask = [&](Value v, int64_t m) {
    return arith::AndIOp::create(b, loc, v, constI32(b, loc, m)).getResult();
  };
  auto mul = [&](Value v, int64_t f) {
    return arith::MulIOp::create(b, loc, v, constI32(b, loc, f)).getResult();
  };
  Value panel = shr(byte, log2W), inPanel = mask(byte, swizzleBytes - 1);
  // swizzleOf(row): (row * W / 128) % (W / 16).
  Value swizzle = mask(shr(mul(row, swizzleBytes), 7), swizzleBytes / 16 - 1);
  Value chunk = arith::XOrIOp::create(b, loc, shr(inPanel, 4), swizzle);
  Value offset = arith::AddIOp::create(b, loc, mul(panel, rows * swizzleBytes),
                                       mul(row, swizzleBytes));
  offset = arith::AddIOp::create(b, loc, offset, mul(chunk, 16));
  return arith::AddIOp::create(b, loc, offset, mask(inPanel, 15));
}

bool SlotGeometry::isAdditive(int64_t row, int64_t col) const {
  return !swizzleBytes || (row % 8 == 0 && (col * elementBytes) % swizzleBytes == 0);
}

namespace {
/// A staging buffer's bytes and the stretch of the function's body that uses
/// them: the body's ops holding its copies and reads, and, when copies may
/// still be in flight after its last read (a loop's ring), up to the body's
/// next turbo.async_wait {pending = 0}.
struct BufferLife {
  AllocSharedOp alloc;
  int64_t bytes = 0, align = 0, offset = 0;
  unsigned first = 0, last = 0; ///< positions in the body
  Operation *firstUser = nullptr; ///< the body's op at `first`
};

BufferLife lifeOf(AllocSharedOp alloc, Block &body, ArrayRef<Operation *> ops,
                  const llvm::DenseMap<Operation *, unsigned> &position,
                  const KernelContext &kernel) {
  BufferLife life;
  life.alloc = alloc;
  SlotGeometry slot = slotGeometry(alloc.getBuffer(), kernel);
  // A swizzle atom is 8W bytes from an address aligned to it; slots are
  // whole atoms (rows are a multiple of 8).
  life.align = slot.swizzleBytes ? 1024 : 128;
  life.bytes = int64_t(
      llvm::alignTo(slot.slotBytes * alloc.getBuffer().getType().getDimSize(0), 128));
  life.first = unsigned(ops.size());
  life.last = 0;
  std::optional<unsigned> lastCopy, lastRead;
  for (Operation *user : alloc.getBuffer().getUsers()) {
    Operation *holder = body.findAncestorOpInBlock(*user);
    if (!holder) { // outside the body: live throughout
      life.first = 0;
      life.last = unsigned(ops.size());
      life.firstUser = ops.empty() ? nullptr : ops.front();
      return life;
    }
    unsigned at = position.lookup(holder);
    life.first = std::min(life.first, at);
    life.last = std::max(life.last, at);
    std::optional<unsigned> &latest = isa<AsyncCopyOp>(user) ? lastCopy : lastRead;
    latest = std::max(latest.value_or(0), at);
  }
  if (!lastCopy && !lastRead) { // unused: a point where it is allocated
    Operation *holder = body.findAncestorOpInBlock(*alloc);
    life.first = life.last = holder ? position.lookup(holder) : 0;
  }
  if (lastCopy && *lastCopy >= lastRead.value_or(0)) {
    life.last = unsigned(ops.size());
    for (unsigned at = *lastCopy; at < ops.size(); ++at)
      if (auto wait = dyn_cast<AsyncWaitOp>(ops[at]); wait && wait.getPending() == 0) {
        life.last = at;
        break;
      }
  }
  life.firstUser = life.first < ops.size() ? ops[life.first] : nullptr;
  return life;
}
} // namespace

void lowering::allocateStagingBuffers(func::FuncOp func, KernelContext &kernel) {
  Block &body = func.getBody().front();
  SmallVector<Operation *> ops;
  llvm::DenseMap<Operation *, unsigned> position;
  for (Operation &op : body) {
    position[&op] = unsigned(ops.size());
    ops.push_back(&op);
  }
  SmallVector<BufferLife> lives;
  func.walk([&](AllocSharedOp alloc) {
    lives.push_back(lifeOf(alloc, body, ops, position, kernel));
  });
  // First fit in order of first use: a buffer takes the lowest offset whose
  // bytes no buffer live at the same time holds.
  llvm::stable_sort(lives,
                    [](const BufferLife &a, const BufferLife &b) { return a.first < b.first; });
  auto overlap = [](const BufferLife &a, int64_t offset, int64_t bytes) {
    return offset < a.offset + a.bytes && a.offset < offset + bytes;
  };
  int64_t end = 0;
  for (size_t i = 0; i < lives.size(); ++i) {
    BufferLife &life = lives[i];
    ArrayRef<BufferLife> placed = ArrayRef(lives).take_front(i);
    int64_t offset = 0;
    for (bool moved = true; moved;) {
      moved = false;
      offset = int64_t(llvm::alignTo(offset, life.align));
      for (const BufferLife &other : placed)
        if (other.last >= life.first && life.last >= other.first &&
            overlap(other, offset, life.bytes)) {
          offset = other.offset + other.bytes;
          moved = true;
        }
    }
    life.offset = offset;
    kernel.bufferOffsets[life.alloc] = offset;
    end = std::max(end, offset + life.bytes);
    // Bytes an earlier buffer held: every thread must be done with them (its
    // reads, wgmma's included, completed) before the first copy lands.
    bool reuses = llvm::any_of(placed, [&](const BufferLife &other) {
      return other.last < life.first && overlap(other, offset, life.bytes);
    });
    if (reuses && life.firstUser) {
      OpBuilder b(life.firstUser);
      barrier(b, life.alloc.getLoc());
    }
  }
  kernel.scratchBase = end;
}

LogicalResult lowering::planWgmma(func::FuncOp func, KernelContext &kernel) {
  if (!ConfigAttr::codegenOptionsOf(func).wgmma)
    return success();
  // A module without turbo.target is for kDefaultTarget (Targets.h).
  auto module = func->getParentOfType<ModuleOp>();
  auto target =
      module ? module->getAttrOfType<StringAttr>(TurboDialect::kTargetAttrName) : StringAttr();
  if (target && !::turbo::hasWgmma(target.getValue().str()))
    return func.emitError(llvm::formatv(
        "wgmma=1 needs the sm_90a target (Hopper's wgmma instructions); this kernel is for {0}",
        target.getValue()));
  // Buffers some other op reads keep the padded layout.
  llvm::DenseMap<Operation *, bool> onlyWgmma;
  WalkResult result = func.walk([&](DotOp dot) -> WalkResult {
    auto load = dot.getB().getDefiningOp<SharedLoadOp>();
    auto alloc = load ? load.getBuffer().getDefiningOp<AllocSharedOp>() : nullptr;
    auto mma = dyn_cast<MmaEncodingAttr>(dot.getResult().getType().getEncoding());
    Type element = load ? load.getType().getElementType() : Type();
    if (!alloc || !load.getTranspose() || !load->hasOneUse() ||
        !(element.isInteger(8) || element.isF16() || element.isBF16()))
      return WalkResult::advance(); // stays mma.sync (a constant B, say)
    MemRefType type = alloc.getBuffer().getType();
    const int64_t m = dot.getResult().getType().getDimSize(0);
    const int64_t n = dot.getResult().getType().getDimSize(1);
    // A slot row of K elements must be whole swizzle panels: 32, 64 or a
    // multiple of 128 bytes (the swizzle widths).
    const int64_t rowBytes = type.getDimSize(2) * sharedElementBytes(element);
    if (!mma || mma.getWarpsPerCTA()[1] != 1 || m != 16 * mma.getWarpsPerCTA()[0] ||
        mma.getWarpsPerCTA()[0] % 4 != 0 || (n > 24 ? n % 16 : n % 8) != 0 || n > 256 ||
        type.getDimSize(1) % 8 != 0 ||
        !(rowBytes == 32 || rowBytes == 64 || rowBytes % 128 == 0))
      return dot.emitOpError(llvm::formatv(
          "wgmma=1: a {0}x{1} dot needs 16 rows per warp in warpgroups of 4 warps, N of 8, 16, "
          "24 or a multiple of 16 up to 256, and a K of 32, 64 or a multiple of 128 bytes",
          m, n));
    kernel.wgmmaDots.insert(dot);
    onlyWgmma.try_emplace(alloc, true);
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  // Every reader of a chosen buffer must be a wgmma operand.
  func.walk([&](SharedLoadOp load) {
    auto it = onlyWgmma.find(load.getBuffer().getDefiningOp());
    if (it == onlyWgmma.end())
      return;
    if (!load->hasOneUse()) {
      it->second = false;
      return;
    }
    Operation *user = *load->getUsers().begin();
    if (!kernel.wgmmaDots.contains(user) || cast<DotOp>(user).getB() != load.getResult())
      it->second = false;
  });
  for (auto [alloc, only] : onlyWgmma) {
    if (only) {
      kernel.swizzledBuffers.insert(alloc);
      continue;
    }
    // A dot whose buffer stays padded goes back to mma.sync.
    for (Operation *user : alloc->getResult(0).getUsers())
      if (auto load = dyn_cast<SharedLoadOp>(user))
        for (Operation *dot : load->getUsers())
          kernel.wgmmaDots.erase(dot);
  }
  // Asked for and not possible is an error, not a quiet mma.sync kernel.
  if (kernel.wgmmaDots.empty())
    return func.emitError("wgmma=1, but no dot reads an 8- or 16-bit B operand from a staging "
                          "buffer (turbo-pipeline-loads stages the tiles the loop loads)");
  return success();
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
                                                  ValueRange elements, const TileLayout &src,
                                                  RankedTensorType dstType,
                                                  KernelContext &kernel) {
  TileLayout dst = layoutOf(dstType);
  Type elementType = dstType.getElementType();
  ArrayRef<int64_t> shape = src.getShape();
  const unsigned rank = shape.size();
  const int64_t bytes = sharedElementBytes(elementType);
  // i1 travels as i8 one element at a time; others in up to 16-byte vectors.
  const int64_t maxVector = elementType.isInteger(1) ? 1 : 16 / bytes;
  auto widthAlong = [&](const TileLayout &layout, unsigned d) {
    return std::min<int64_t>({int64_t(layout.getContiguity(d)), maxVector, shape[d]});
  };
  // The innermost dim in shared memory: where both sides read and write the
  // widest vectors (ties go to the writer, then to the last dim).
  unsigned inner = rank - 1;
  for (unsigned d = 0; d < rank; ++d) {
    auto score = [&](unsigned dim) {
      return std::make_pair(std::min(widthAlong(src, dim), widthAlong(dst, dim)),
                            widthAlong(src, dim));
    };
    if (score(d) > score(inner))
      inner = d;
  }
  const int64_t srcVector = widthAlong(src, inner), dstVector = widthAlong(dst, inner);
  // Rows are padded by 16 bytes so that rows do not start on the same bank.
  const int64_t pitch = shape[inner] + (rank == 2 ? 16 / bytes : 0);
  const unsigned outer = rank == 2 ? 1 - inner : inner;
  const int64_t rows = rank == 2 ? shape[outer] : 1;
  kernel.sharedBytes = std::max(kernel.sharedBytes, rows * pitch * bytes);

  auto pointerAt = [&](ArrayRef<Value> thread, const TileLayout::Coord &coord) {
    Value index = arith::AddIOp::create(b, loc, thread[inner], constI32(b, loc, coord[inner]));
    if (rank == 2) {
      Value row = arith::AddIOp::create(b, loc, thread[outer], constI32(b, loc, coord[outer]));
      index = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, row, constI32(b, loc, pitch)), index);
    }
    return sharedPointer(b, loc, kernel,
                         arith::MulIOp::create(b, loc, index, constI32(b, loc, bytes)));
  };
  Type storedType = elementType.isInteger(1) ? b.getI8Type() : elementType;
  auto vectorOf = [&](int64_t width) -> Type {
    return width == 1 ? storedType : VectorType::get({width}, storedType);
  };

  barrier(b, loc); // earlier readers of the scratch are done
  SmallVector<Value, 2> srcThread = emitThreadOffsets(b, loc, src, kernel);
  for (unsigned first = 0; first < src.getNumRegs(); first += srcVector) {
    Value value;
    if (srcVector == 1) {
      value = elements[first];
      if (elementType.isInteger(1))
        value = arith::ExtUIOp::create(b, loc, storedType, value);
    } else {
      value = LLVM::PoisonOp::create(b, loc, vectorOf(srcVector));
      for (int64_t i = 0; i < srcVector; ++i)
        value = LLVM::InsertElementOp::create(b, loc, value, elements[first + i],
                                              constI32(b, loc, i));
    }
    LLVM::StoreOp::create(b, loc, value, pointerAt(srcThread, src.getRegCoord(first)),
                          unsigned(srcVector * bytes));
  }
  barrier(b, loc);

  SmallVector<Value, 2> dstThread = emitThreadOffsets(b, loc, dst, kernel);
  Packing packing = packingOf(dstType);
  SmallVector<Value> result;
  SmallVector<Value> scalars;
  for (unsigned first = 0; first < dst.getNumRegs(); first += dstVector) {
    Value loaded = LLVM::LoadOp::create(b, loc, vectorOf(dstVector),
                                        pointerAt(dstThread, dst.getRegCoord(first)),
                                        unsigned(dstVector * bytes));
    if (packing.width > 1 && dstVector % packing.width == 0) {
      // Whole operand registers: reinterpret the loaded bytes directly.
      int64_t words = dstVector / packing.width;
      Value asWords = LLVM::BitcastOp::create(
          b, loc, VectorType::get({words}, b.getI32Type()), loaded);
      for (int64_t w = 0; w < words; ++w) {
        Value word = LLVM::ExtractElementOp::create(b, loc, asWords, constI32(b, loc, w));
        result.push_back(word.getType() == packing.storage
                             ? word
                             : LLVM::BitcastOp::create(b, loc, packing.storage, word).getResult());
      }
      continue;
    }
    for (int64_t i = 0; i < dstVector; ++i) {
      Value element = dstVector == 1 ? loaded
                                     : LLVM::ExtractElementOp::create(b, loc, loaded,
                                                                      constI32(b, loc, i))
                                           .getResult();
      if (elementType.isInteger(1))
        element = arith::TruncIOp::create(b, loc, elementType, element);
      scalars.push_back(element);
    }
  }
  if (!scalars.empty())
    return packElements(b, loc, scalars, dstType);
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
    // A loop's induction variable is lb + i * step.
    if (auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp()))
      if (arg == loop.getInductionVar())
        return std::min(divisibility(loop.getLowerBound(), depth + 1),
                        divisibility(loop.getStep(), depth + 1));
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
  if (!bounds.empty())
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
    else if (auto copy = dyn_cast<AsyncCopyOp>(op))
      kernel.vectorWidth[op] = vectorWidthFor(copy.getTileType(), copy.getBase(),
                                              copy.getOffsets(), copy.getStrides(),
                                              copy.getBounds());
    else if (auto store = dyn_cast<StoreOp>(op))
      kernel.vectorWidth[op] = vectorWidthFor(store.getValue().getType(), store.getBase(),
                                              store.getOffsets(), store.getStrides(),
                                              store.getBounds());
  });
}
