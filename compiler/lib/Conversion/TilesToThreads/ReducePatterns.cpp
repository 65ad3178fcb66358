//===- ReducePatterns.cpp - reductions within threads, warps and the block ===//
//
// A reduction along `axis` combines, in order: the registers a thread holds
// along the axis; the lanes that differ only in lane-id bits that move along
// the axis (butterfly shuffles); the warps along the axis (through shared
// memory). Copies of an element (bits that move nothing) are never combined,
// so sums count each element once. Narrow types are reduced in 32 bits.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/MapVector.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

Type wideType(OpBuilder &b, Type element) {
  if (isa<FloatType>(element))
    return b.getF32Type();
  return b.getI32Type();
}

Value widen(OpBuilder &b, Location loc, Value v, Type wide) {
  if (v.getType() == wide)
    return v;
  if (isa<FloatType>(wide))
    return arith::ExtFOp::create(b, loc, wide, v);
  return arith::ExtSIOp::create(b, loc, wide, v);
}

Value narrow(OpBuilder &b, Location loc, Value v, Type element) {
  if (v.getType() == element)
    return v;
  if (isa<FloatType>(element))
    return arith::TruncFOp::create(b, loc, element, v);
  return arith::TruncIOp::create(b, loc, element, v);
}

Value combine(OpBuilder &b, Location loc, ReduceKind kind, Value x, Value y) {
  bool isFloat = isa<FloatType>(getElementTypeOrSelf(x.getType())); // scalars or f16 pairs
  switch (kind) {
  case ReduceKind::Max:
  case ReduceKind::AbsMax:
    return isFloat ? Value(arith::MaximumFOp::create(b, loc, x, y))
                   : Value(arith::MaxSIOp::create(b, loc, x, y));
  case ReduceKind::Min:
    return isFloat ? Value(arith::MinimumFOp::create(b, loc, x, y))
                   : Value(arith::MinSIOp::create(b, loc, x, y));
  case ReduceKind::Sum:
    return isFloat ? Value(arith::AddFOp::create(b, loc, x, y))
                   : Value(arith::AddIOp::create(b, loc, x, y));
  }
  llvm_unreachable("unknown reduction");
}

Value shuffleXor(OpBuilder &b, Location loc, Value value, unsigned laneMask) {
  Type i32 = b.getI32Type();
  Value all = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(-1));
  Value clamp = constI32(b, loc, 0x1f);
  Value payload = value;
  if (value.getType().isF32())
    payload = arith::BitcastOp::create(b, loc, i32, value);
  Value shuffled = NVVM::ShflOp::create(
      b, loc, i32, all, payload, constI32(b, loc, laneMask), clamp,
      NVVM::ShflKindAttr::get(b.getContext(), NVVM::ShflKind::bfly), UnitAttr());
  if (value.getType().isF32())
    shuffled = arith::BitcastOp::create(b, loc, value.getType(), shuffled);
  return shuffled;
}

struct ReducePattern : TilePattern<ReduceOp> {
  using TilePattern::TilePattern;

  LogicalResult matchAndRewrite(ReduceOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    TileLayout src = layoutOf(srcType);
    unsigned axis = op.getAxis();
    Type element = srcType.getElementType();
    Type wide = wideType(rewriter, element);
    ReduceKind kind = op.getKind();
    SmallVector<Value> registers = elementsOf(rewriter, loc, adaptor.getSrc(), srcType);

    // 1. Within the thread: one partial per distinct coordinate off the axis,
    //    each element counted once. f16 max/min combine two registers per
    //    max.f16x2 first (the order does not change a max).
    llvm::MapVector<int64_t, SmallVector<Value>> groups; // other coordinate -> elements
    llvm::DenseSet<std::pair<int64_t, int64_t>> seen;
    for (unsigned reg = 0; reg < src.getNumRegs(); ++reg) {
      TileLayout::Coord coord = src.getRegCoord(reg);
      int64_t other = coord.size() == 2 ? coord[1 - axis] : 0;
      if (!seen.insert({coord[0], coord.size() == 2 ? coord[1] : 0}).second)
        continue;
      groups[other].push_back(registers[reg]);
    }
    const bool halfPairs =
        element.isF16() && (kind == ReduceKind::Max || kind == ReduceKind::Min);
    llvm::MapVector<int64_t, Value> partials; // other coordinate -> partial
    for (auto &[other, values] : groups) {
      SmallVector<Value> singles;
      if (halfPairs && values.size() >= 4) {
        Value pairs = combinedPairs(rewriter, loc, kind, values);
        for (int lane = 0; lane < 2; ++lane)
          singles.push_back(LLVM::ExtractElementOp::create(rewriter, loc, pairs,
                                                           constI32(rewriter, loc, lane)));
        if (values.size() % 2)
          singles.push_back(values.back());
      } else {
        singles = values;
      }
      SmallVector<Value> widened;
      for (Value single : singles) {
        Value value = widen(rewriter, loc, single, wide);
        if (kind == ReduceKind::AbsMax)
          value = math::AbsFOp::create(rewriter, loc, value);
        widened.push_back(value);
      }
      partials.insert({other, combineAll(rewriter, loc, kind, widened)});
    }

    // 2. Across lanes along the axis.
    for (auto &entry : partials)
      for (auto [bit, basis] : llvm::enumerate(src.getLaneBases()))
        if (basis.dim == axis && basis.value != 0)
          entry.second = combine(rewriter, loc, kind, entry.second,
                                 shuffleXor(rewriter, loc, entry.second, 1u << bit));

    // 3. Across warps along the axis, through shared memory.
    unsigned warpsAlong = 1;
    for (const LayoutBasis &basis : src.getWarpBases())
      if (basis.dim == axis && basis.value != 0)
        warpsAlong *= 2;
    if (warpsAlong > 1)
      acrossWarps(rewriter, loc, src, axis, warpsAlong, kind, partials);

    // Hand each result register the partial of its coordinate.
    if (srcType.getRank() == 1) {
      rewriter.replaceOp(op, narrow(rewriter, loc, partials.front().second, element));
      return success();
    }
    TileLayout dst = layoutOf(op.getResult().getType());
    SmallVector<Value> results;
    for (unsigned reg = 0; reg < dst.getNumRegs(); ++reg) {
      auto it = partials.find(dst.getRegCoord(reg)[0]);
      if (it == partials.end())
        return rewriter.notifyMatchFailure(op, "result layout is not the source's slice");
      results.push_back(narrow(rewriter, loc, it->second, element));
    }
    rewriter.replaceOpWithMultiple(
        op, {packElements(rewriter, loc, results, cast<RankedTensorType>(op.getType()))});
    return success();
  }

  /// All of `values` combined: max and min as a balanced tree (log2 n deep
  /// instead of n: the row max sits on the softmax's critical path), sums
  /// in order (a float sum's rounding depends on it).
  static Value combineAll(OpBuilder &b, Location loc, ReduceKind kind, SmallVector<Value> values) {
    if (kind == ReduceKind::Sum) {
      Value total = values.front();
      for (Value value : ArrayRef<Value>(values).drop_front())
        total = combine(b, loc, kind, total, value);
      return total;
    }
    while (values.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < values.size(); i += 2)
        next.push_back(combine(b, loc, kind, values[i], values[i + 1]));
      if (values.size() % 2)
        next.push_back(values.back());
      values = std::move(next);
    }
    return values.front();
  }

  /// Max or min of f16 `values` (at least 2) as vector<2xf16> pairs,
  /// (0, 1), (2, 3), ...: each pair one f16x2 instruction. An odd last value
  /// is left to the caller.
  static Value combinedPairs(OpBuilder &b, Location loc, ReduceKind kind, ArrayRef<Value> values) {
    auto pairType = VectorType::get({2}, values.front().getType());
    SmallVector<Value> pairs;
    for (size_t i = 0; i + 1 < values.size(); i += 2) {
      Value pair = LLVM::PoisonOp::create(b, loc, pairType);
      pair = LLVM::InsertElementOp::create(b, loc, pair, values[i], constI32(b, loc, 0));
      pairs.push_back(
          LLVM::InsertElementOp::create(b, loc, pair, values[i + 1], constI32(b, loc, 1)));
    }
    return combineAll(b, loc, kind, std::move(pairs)); // arith max/min take vectors too
  }

  /// Each warp writes its partials to slot (other coordinate, warp index
  /// along the axis); after a barrier every thread combines the slots of its
  /// coordinates in warp order.
  void acrossWarps(OpBuilder &b, Location loc, const TileLayout &src, unsigned axis,
                   unsigned warpsAlong, ReduceKind kind,
                   llvm::MapVector<int64_t, Value> &partials) const {
    bool twoD = src.getRank() == 2;
    int64_t others = twoD ? src.getShape()[1 - axis] : 1;
    kernel.sharedBytes = std::max<int64_t>(kernel.sharedBytes, others * warpsAlong * 4);
    Value otherThread = twoD ? emitThreadOffsets(b, loc, src, kernel)[1 - axis]
                             : constI32(b, loc, 0);
    Value warpIndex = emitWarpIndexAlong(b, loc, src, axis, kernel);
    auto slot = [&](int64_t otherStatic, Value warp) {
      Value other = arith::AddIOp::create(b, loc, otherThread, constI32(b, loc, otherStatic));
      Value index = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, other, constI32(b, loc, warpsAlong)), warp);
      Value bytes = arith::MulIOp::create(b, loc, index, constI32(b, loc, 4));
      return sharedPointer(b, loc, kernel, bytes);
    };
    barrier(b, loc);
    for (auto &entry : partials)
      storeShared(b, loc, entry.second, slot(entry.first, warpIndex));
    barrier(b, loc);
    for (auto &entry : partials) {
      Type type = entry.second.getType();
      Value total = loadShared(b, loc, type, slot(entry.first, constI32(b, loc, 0)));
      for (unsigned w = 1; w < warpsAlong; ++w)
        total = combine(b, loc, kind, total,
                        loadShared(b, loc, type, slot(entry.first, constI32(b, loc, w))));
      entry.second = total;
    }
  }
};
} // namespace

void lowering::populateReducePatterns(TileTypeConverter &converter,
                                      RewritePatternSet &patterns, KernelContext &kernel) {
  patterns.add<ReducePattern>(converter, patterns.getContext(), kernel);
}
