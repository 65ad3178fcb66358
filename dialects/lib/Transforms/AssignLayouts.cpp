//===- AssignLayouts.cpp - turbo-assign-layouts ---------------------------===//
//
// Three steps. Seeding walks back from each dot operand through bit
// permutations, transposes, unpacking and elementwise math to the loads that
// feed it, and gives those loads the layout that reaches the operand without
// moving an element between threads (blocked where one is, else through a
// bit permutation a linear one: the KV cache's codes as an A operand). It
// then does the same for a broadcast combined elementwise with a loaded
// tile: the loads behind the broadcast's source take the loaded tile's
// layout, and those reached through elementwise math and loop-carried values
// alone take it even with several users (per-row statistics loaded as M x 1
// tiles scaling a loaded block, as split-KV combining does).
// The analysis walks each kernel in program order and gives every tile value
// a layout from the layouts of its operands (loads: the seeded layout, else, as
// constants, blocked layouts sized for 16-byte accesses; dots: mma;
// reductions: slices; elementwise ops: their operands'). A loop-carried tile
// takes the layout of the value the loop yields, found by re-walking the
// body until it settles.
// Materialization then writes the layouts into the types and, where a use
// needs another layout than its value has, inserts turbo.convert_layout, or
// re-creates the value in place when it is a cheap constant.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/Layouts.h"
#include "turbo/Dialect/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::turbo {
#define GEN_PASS_DEF_TURBOASSIGNLAYOUTS
#include "turbo/Dialect/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;

namespace {

bool isTile(Value v) { return isa<RankedTensorType>(v.getType()); }
unsigned rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

bool isElementwise(Operation *op) {
  if (isa<ExpPolyOp>(op)) // left for tiles-to-threads in its pair form
    return true;
  if (isa<arith::ConstantOp>(op))
    return false;
  Dialect *dialect = op->getDialect();
  if (!dialect || !isa<arith::ArithDialect, math::MathDialect>(dialect))
    return false;
  return llvm::any_of(op->getResultTypes(), [](Type t) { return isa<RankedTensorType>(t); });
}

/// Leaves of index computations: constants, splats and ranges.
bool isCheap(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  if (auto constant = dyn_cast<arith::ConstantOp>(def))
    return isa<SplatElementsAttr>(constant.getValue());
  return isa<SplatOp, RangeOp>(def);
}

BlockedEncodingAttr transposeBlocked(BlockedEncodingAttr blocked) {
  auto swap = [](ArrayRef<unsigned> v) { return SmallVector<unsigned>{v[1], v[0]}; };
  SmallVector<unsigned> order;
  for (unsigned d : blocked.getOrder())
    order.push_back(1 - d);
  return BlockedEncodingAttr::get(blocked.getContext(), swap(blocked.getSizePerThread()),
                                  swap(blocked.getThreadsPerWarp()),
                                  swap(blocked.getWarpsPerCTA()), order);
}

/// `layout` of a tile of rank `rank` with `scale` times as many consecutive
/// elements per thread along the innermost dim (scale < 0: divided by
/// -scale); the layouts of packed and unpacked sub-byte codes, whose threads
/// then hold the same bytes. A slice scales its parent along the dim the
/// slice keeps last. Null when `layout` cannot be scaled so.
Attribute scaleInner(Attribute layout, int64_t scale, unsigned rank,
                     std::optional<unsigned> dim = {});

/// A #turbo.linear layout scaled along `dim` as scaleInner does: `scale`
/// codes per element are the low register bits along `dim`.
Attribute scaleLinear(LinearEncodingAttr linear, int64_t scale, unsigned dim) {
  SmallVector<int64_t> reg(linear.getReg()), lane(linear.getLane()), warp(linear.getWarp());
  auto rescale = [&](SmallVectorImpl<int64_t> &flat, bool grow, int64_t by) {
    for (size_t i = 0; i < flat.size(); i += 2)
      if (flat[i] == int64_t(dim) && flat[i + 1]) {
        if (!grow && flat[i + 1] % by)
          return false;
        flat[i + 1] = grow ? flat[i + 1] * by : flat[i + 1] / by;
      }
    return true;
  };
  if (scale > 0) {
    SmallVector<int64_t> low;
    for (int64_t step = 1; step < scale; step *= 2)
      low.append({int64_t(dim), step});
    rescale(reg, true, scale);
    rescale(lane, true, scale);
    rescale(warp, true, scale);
    reg.insert(reg.begin(), low.begin(), low.end());
  } else {
    const int64_t by = -scale;
    size_t lowBits = 0;
    for (int64_t step = 1; step < by; step *= 2, ++lowBits)
      if (2 * lowBits + 1 >= reg.size() || reg[2 * lowBits] != int64_t(dim) ||
          reg[2 * lowBits + 1] != step)
        return nullptr;
    reg.erase(reg.begin(), reg.begin() + 2 * lowBits);
    if (!rescale(reg, false, by) || !rescale(lane, false, by) || !rescale(warp, false, by))
      return nullptr;
  }
  return LinearEncodingAttr::get(linear.getContext(), reg, lane, warp);
}

Attribute scaleInner(Attribute layout, int64_t scale, unsigned rank,
                     std::optional<unsigned> dim) {
  if (auto slice = dyn_cast_or_null<SliceEncodingAttr>(layout)) {
    const unsigned parentRank = rank + 1;
    if (dim || parentRank < 2 || slice.getDim() >= parentRank)
      return nullptr;
    unsigned kept = slice.getDim() == parentRank - 1 ? parentRank - 2 : parentRank - 1;
    Attribute scaled = scaleInner(slice.getParent(), scale, parentRank, kept);
    return scaled ? SliceEncodingAttr::get(layout.getContext(), slice.getDim(), scaled)
                  : Attribute();
  }
  if (auto linear = dyn_cast_or_null<LinearEncodingAttr>(layout))
    return scaleLinear(linear, scale, dim.value_or(rank - 1));
  auto blocked = dyn_cast_or_null<BlockedEncodingAttr>(layout);
  if (!blocked)
    return nullptr;
  unsigned inner = dim.value_or(blocked.getSizePerThread().size() - 1);
  if (blocked.getOrder().front() != inner)
    return nullptr;
  SmallVector<unsigned> size(blocked.getSizePerThread());
  if (scale > 0) {
    size[inner] *= unsigned(scale);
  } else {
    if (size[inner] % unsigned(-scale))
      return nullptr;
    size[inner] /= unsigned(-scale);
  }
  return BlockedEncodingAttr::get(blocked.getContext(), size, blocked.getThreadsPerWarp(),
                                  blocked.getWarpsPerCTA(), blocked.getOrder());
}

/// Codes per packed element (a byte, or a 32-bit word an unpack reads; two
/// halves per word for split_words).
int64_t codesPerElement(Operation *op) {
  if (auto pack = dyn_cast<PackOp>(op))
    return 8 / pack.getBits();
  if (isa<SplitWordsOp>(op))
    return 2;
  auto unpack = cast<UnpackOp>(op);
  return unpack.getSrc().getType().getElementTypeBitWidth() / unpack.getBits();
}

class LayoutAssigner {
public:
  LayoutAssigner(MLIRContext *context, unsigned numWarps)
      : context(context), numWarps(numWarps) {}

  void seedLoads(func::FuncOp func);
  LogicalResult analyze(Block &block);
  void materialize(Block &block);

private:
  Attribute defaultBlocked(RankedTensorType type) const;
  /// The accumulator layout of a dot with result `type`.
  Attribute mmaLayout(RankedTensorType type) const {
    return MmaEncodingAttr::get(context,
                                chooseMmaWarps(type.getDimSize(0), type.getDimSize(1), numWarps));
  }
  /// The layout operand `index` (0: A, 1: B) of a dot with accumulator
  /// layout `mma` needs.
  Attribute operandLayout(Attribute mma, unsigned index, Type element) const {
    return DotOperandEncodingAttr::get(context, index, mma, mmaKWidth(element));
  }
  /// A tile computed only from constants, splats and ranges (index math,
  /// masks): cheaper to compute again in any layout than to convert.
  bool isRematerializable(Value v);
  /// `value` in `layout` for a use at `user`: index math and broadcasts are
  /// rebuilt in place (a broadcast converts only its smaller source, once,
  /// where that source is defined); anything else is converted once, right
  /// after its definition.
  Value rebuild(Value value, Attribute layout, Operation *user);
  Value convertOnce(Value value, Attribute layout);
  /// Where `value` is to reach a dot operand in `wanted`: the layouts its
  /// loads should take. `shared`: loads with other users take it too.
  void seed(Value value, Attribute wanted, bool shared = false);
  /// The layout a load will take before analysis: its seeded one, else the
  /// default. Null for anything but a load.
  Attribute loadLayout(Value value) const;
  /// The layout permute_bits' source needs so that the permutation relabels
  /// registers into `result`: the result's with the permutation undone, as a
  /// blocked layout where one matches, else as a linear one.
  Attribute unpermuted(PermuteBitsOp permute, Attribute result);
  /// True when `value` is computed from loaded tiles alone (elementwise,
  /// through unpacking and broadcasts; index math aside).
  bool computedOnlyFromLoads(Value value, unsigned depth = 0);
  /// True when permute_bits feeding a dot as `operand` takes its source in
  /// the layout the permutation relabels into the operand: B operands, and A
  /// operands computed from loads alone (the cache's codes). Any other A
  /// operand takes the accumulator's layout instead (the prefill kernel's P,
  /// permuted so that those are the same registers).
  bool permutedIntoOperand(PermuteBitsOp permute, DotOperandEncodingAttr operand);
  LogicalResult analyzeOp(Operation *op);
  LogicalResult analyzeFor(scf::ForOp loop);
  Attribute requiredLayout(Operation *op, OpOperand &operand);

  /// The entry for `v` (inserted if new): a reference into `layouts`, valid
  /// only until the next insertion, so never assign one entry from another
  /// in one expression.
  Attribute &layoutOf(Value v) { return layouts[v]; }
  void retype(Value v) {
    if (auto type = dyn_cast<RankedTensorType>(v.getType()))
      v.setType(RankedTensorType::get(type.getShape(), type.getElementType(), layouts[v]));
  }

  MLIRContext *context;
  unsigned numWarps;
  llvm::DenseMap<Value, Attribute> layouts;
  llvm::DenseMap<Value, Attribute> loopHints;
  /// Seeded load layouts, and what seeding has visited.
  llvm::DenseMap<Value, Attribute> preferred;
  llvm::DenseSet<std::pair<Value, Attribute>> seeded;
  /// Loop-carried tiles whose layout only comes from a cheap initial value
  /// so far: the ops that use them should not follow it.
  llvm::DenseSet<Value> weak;
  llvm::DenseMap<std::pair<Value, Attribute>, Value> converted;
  llvm::DenseMap<std::tuple<Value, Attribute, Block *>, Value> rebuilt;
  llvm::DenseMap<Value, bool> rematerializable;
};

Attribute LayoutAssigner::defaultBlocked(RankedTensorType type) const {
  unsigned rank = type.getRank();
  unsigned bits = std::max(8u, type.getElementType().getIntOrFloatBitWidth());
  int64_t inner = type.getShape().back();
  unsigned vector = std::min<int64_t>(128 / bits, inner);
  unsigned lanesInner = std::min<int64_t>(32, std::max<int64_t>(1, inner / vector));
  if (rank == 1) {
    // 32 lanes along the only dim; a short tile shrinks the vector first.
    vector = std::max<int64_t>(1, std::min<int64_t>(vector, inner / 32));
    return BlockedEncodingAttr::get(context, {vector}, {32}, {numWarps}, {0});
  }
  unsigned lanesOuter = 32 / lanesInner;
  int64_t outer = type.getShape()[0];
  unsigned warpsOuter = std::min<int64_t>(numWarps, std::max<int64_t>(1, outer / lanesOuter));
  unsigned warpsInner = numWarps / warpsOuter;
  return BlockedEncodingAttr::get(context, {1, vector}, {lanesOuter, lanesInner},
                                  {warpsOuter, warpsInner}, {1, 0});
}

Attribute LayoutAssigner::unpermuted(PermuteBitsOp permute, Attribute result) {
  auto type = permute.getResult().getType();
  FailureOr<TileLayout> layout =
      TileLayout::get(RankedTensorType::get(type.getShape(), type.getElementType(), result));
  if (failed(layout))
    return {};
  TileLayout source = layout->mappedAlong(permute.getAxis(), [&](int64_t value) {
    return permute.sourceIndex(value);
  });
  if (BlockedEncodingAttr blocked = blockedEncodingFor(context, source))
    return blocked;
  return linearEncodingFor(context, source);
}

bool LayoutAssigner::computedOnlyFromLoads(Value value, unsigned depth) {
  if (depth > 16)
    return false;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    // A loop-carried tile (a page loaded one iteration ahead): its initial
    // value and what each iteration yields.
    auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
    if (!loop || arg.getArgNumber() == 0)
      return false;
    const unsigned index = arg.getArgNumber() - 1;
    return computedOnlyFromLoads(loop.getInitArgs()[index], depth + 1) &&
           computedOnlyFromLoads(loop.getBody()->getTerminator()->getOperand(index), depth + 1);
  }
  Operation *def = value.getDefiningOp();
  if (!def)
    return false;
  if (isa<LoadOp>(def))
    return true;
  if (!isElementwise(def) && !isa<BroadcastOp, ExpandDimsOp, UnpackOp, SplitWordsOp>(def))
    return false;
  bool loaded = false;
  for (Value operand : def->getOperands()) {
    if (!isTile(operand) || isRematerializable(operand))
      continue;
    if (!computedOnlyFromLoads(operand, depth + 1))
      return false;
    loaded = true;
  }
  return loaded;
}

bool LayoutAssigner::permutedIntoOperand(PermuteBitsOp permute, DotOperandEncodingAttr operand) {
  return operand.getOpIdx() == 1 || computedOnlyFromLoads(permute.getSrc());
}

Attribute LayoutAssigner::loadLayout(Value value) const {
  if (!isTile(value) || !value.getDefiningOp<LoadOp>())
    return {};
  if (Attribute seeded = preferred.lookup(value))
    return seeded;
  auto type = cast<RankedTensorType>(value.getType());
  return type.getEncoding() ? type.getEncoding() : defaultBlocked(type);
}

void LayoutAssigner::seedLoads(func::FuncOp func) {
  func.walk([&](DotOp dot) {
    Attribute mma = mmaLayout(dot.getResult().getType());
    for (unsigned index : {0u, 1u}) {
      Value operand = dot->getOperand(index);
      seed(operand, operandLayout(mma, index,
                                  cast<RankedTensorType>(operand.getType()).getElementType()));
    }
  });
  // broadcast(x) op load: x's loads take the loaded tile's layout (with the
  // broadcast dim of size 1), so that x needs no exchange between threads.
  func.walk([&](BroadcastOp broadcast) {
    for (Operation *user : broadcast->getUsers()) {
      if (!isElementwise(user))
        continue;
      for (Value operand : user->getOperands())
        if (Attribute layout = loadLayout(operand); isa_and_nonnull<BlockedEncodingAttr>(layout)) {
          seed(broadcast.getSrc(), layout, /*shared=*/true);
          break;
        }
    }
  });
}

void LayoutAssigner::seed(Value value, Attribute wanted, bool shared) {
  if (!wanted || !isTile(value) || !seeded.insert({value, wanted}).second)
    return;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
    if (!loop || arg.getArgNumber() == 0)
      return;
    const unsigned index = arg.getArgNumber() - 1;
    seed(loop.getInitArgs()[index], wanted, shared);
    seed(loop.getBody()->getTerminator()->getOperand(index), wanted, shared);
    return;
  }
  Operation *def = value.getDefiningOp();
  if (isa<LoadOp>(def)) {
    // A load takes blocked layouts (or their slices) with vector accesses;
    // one with other users keeps its own, unless seeded for a broadcast
    // (`shared`): any other user that needs another layout then converts.
    auto slice = dyn_cast<SliceEncodingAttr>(wanted);
    Attribute held = slice ? slice.getParent() : wanted;
    if (isa<BlockedEncodingAttr, LinearEncodingAttr>(held) && (shared || value.hasOneUse()))
      preferred.try_emplace(value, wanted);
  } else if (auto permute = dyn_cast<PermuteBitsOp>(def)) {
    auto operand = dyn_cast<DotOperandEncodingAttr>(wanted);
    if (operand && permutedIntoOperand(permute, operand))
      seed(permute.getSrc(), unpermuted(permute, wanted));
  } else if (auto trans = dyn_cast<TransOp>(def)) {
    if (auto blocked = dyn_cast<BlockedEncodingAttr>(wanted))
      seed(trans.getSrc(), transposeBlocked(blocked));
  } else if (isa<UnpackOp, SplitWordsOp>(def)) {
    seed(def->getOperand(0), scaleInner(wanted, -codesPerElement(def), rankOf(def->getOperand(0))));
  } else if (isa<BroadcastOp>(def)) {
    seed(def->getOperand(0), wanted);
  } else if (auto expand = dyn_cast<ExpandDimsOp>(def)) {
    seed(expand.getSrc(), SliceEncodingAttr::get(context, expand.getAxis(), wanted));
  } else if (isElementwise(def) && def->getNumResults() == 1) {
    for (Value operand : def->getOperands())
      seed(operand, wanted, shared);
  }
}

LogicalResult LayoutAssigner::analyze(Block &block) {
  for (Operation &op : block)
    if (failed(analyzeOp(&op)))
      return failure();
  return success();
}

LogicalResult LayoutAssigner::analyzeFor(scf::ForOp loop) {
  for (int round = 0; round < 4; ++round) {
    for (auto [arg, init] : llvm::zip(loop.getRegionIterArgs(), loop.getInitArgs())) {
      if (!isTile(arg))
        continue;
      auto hint = loopHints.find(arg);
      // By value: layoutOf(arg) may insert into `layouts` and move the
      // entry a reference to layoutOf(init) would point at.
      Attribute layout = hint != loopHints.end() ? hint->second : layoutOf(init);
      layoutOf(arg) = layout;
      if (hint == loopHints.end() && (isCheap(init) || weak.contains(init)))
        weak.insert(arg);
      else
        weak.erase(arg);
    }
    if (failed(analyze(*loop.getBody())))
      return failure();
    bool settled = true;
    auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
    for (auto [arg, yielded] : llvm::zip(loop.getRegionIterArgs(), yield.getOperands())) {
      if (!isTile(arg) || layoutOf(yielded) == layoutOf(arg) || loopHints.count(arg))
        continue;
      // Carry the tile in the layout the body produces it in: any conversion
      // then happens once, before the loop, instead of every iteration.
      loopHints[arg] = layoutOf(yielded);
      settled = false;
    }
    if (settled)
      break;
  }
  for (auto [arg, result] : llvm::zip(loop.getRegionIterArgs(), loop.getResults()))
    if (isTile(result)) {
      Attribute layout = layoutOf(arg); // by value, as above
      layoutOf(result) = layout;
    }
  return success();
}

LogicalResult LayoutAssigner::analyzeOp(Operation *op) {
  if (auto loop = dyn_cast<scf::ForOp>(op))
    return analyzeFor(loop);
  if (auto branch = dyn_cast<scf::IfOp>(op)) {
    if (failed(analyze(*branch.thenBlock())))
      return failure();
    if (branch.elseBlock() && failed(analyze(*branch.elseBlock())))
      return failure();
    for (auto [i, result] : llvm::enumerate(branch.getResults()))
      if (isTile(result)) {
        Attribute layout = layoutOf(branch.thenYield().getOperand(i)); // by value, as above
        layoutOf(result) = layout;
      }
    return success();
  }

  for (Value result : op->getResults()) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!type)
      continue;
    if (type.getEncoding()) { // pinned by whoever wrote the IR
      layoutOf(result) = type.getEncoding();
      continue;
    }
    Attribute layout;
    if (auto seededLayout = isa<LoadOp>(op) ? preferred.lookup(result) : Attribute()) {
      layout = seededLayout;
    } else if (isa<LoadOp, SplatOp, RangeOp, arith::ConstantOp>(op)) {
      layout = defaultBlocked(type);
    } else if (isElementwise(op)) {
      // Follow the first operand whose layout was chosen for a reason: not
      // index math (rebuilt wherever needed), not a loop-carried tile that
      // only has its initial constant's layout.
      auto rank = [&](Value v) {
        return isRematerializable(v) ? 0 : weak.contains(v) ? 1 : 2;
      };
      Value dominant;
      for (Value operand : op->getOperands())
        if (isTile(operand) && (!dominant || rank(operand) > rank(dominant)))
          dominant = operand;
      layout = dominant ? layoutOf(dominant) : defaultBlocked(type);
      if (dominant && rank(dominant) < 2 &&
          llvm::all_of(op->getOperands(), [&](Value v) { return !isTile(v) || rank(v) < 2; }))
        weak.insert(result);
    } else if (auto broadcast = dyn_cast<BroadcastOp>(op)) {
      layout = layoutOf(broadcast.getSrc());
    } else if (auto expand = dyn_cast<ExpandDimsOp>(op)) {
      auto slice = dyn_cast<SliceEncodingAttr>(layoutOf(expand.getSrc()));
      layout = slice && slice.getDim() == expand.getAxis() ? slice.getParent()
                                                            : defaultBlocked(type);
    } else if (auto reduce = dyn_cast<ReduceOp>(op)) {
      layout = SliceEncodingAttr::get(context, reduce.getAxis(), layoutOf(reduce.getSrc()));
    } else if (auto trans = dyn_cast<TransOp>(op)) {
      auto blocked = dyn_cast<BlockedEncodingAttr>(layoutOf(trans.getSrc()));
      if (!blocked)
        blocked = cast<BlockedEncodingAttr>(defaultBlocked(trans.getSrc().getType()));
      layout = transposeBlocked(blocked);
    } else if (auto permute = dyn_cast<PermuteBitsOp>(op)) {
      // Feeding dots as the same operand (all its uses): the operand's own
      // layout. The source is then asked for in the accumulator layout for
      // an A operand computed from an mma result (the next mma; for the
      // permutation that makes them the same registers, a relabeling), and
      // otherwise in the layout the permutation relabels into the operand
      // (blocked where one matches, else linear).
      // Otherwise 16-byte blocked, for a store.
      Attribute asOperand;
      for (OpOperand &use : permute->getUses()) {
        auto dot = dyn_cast<DotOp>(use.getOwner());
        Attribute wanted =
            dot && use.getOperandNumber() < 2
                ? operandLayout(mmaLayout(dot.getResult().getType()), use.getOperandNumber(),
                                type.getElementType())
                : Attribute();
        if (!wanted || (asOperand && asOperand != wanted)) {
          asOperand = {};
          break;
        }
        asOperand = wanted;
      }
      if (auto operand = dyn_cast_or_null<DotOperandEncodingAttr>(asOperand))
        if (permutedIntoOperand(permute, operand) && !unpermuted(permute, asOperand))
          asOperand = {};
      layout = asOperand ? asOperand : defaultBlocked(type);
    } else if (isa<PackOp>(op)) {
      layout = defaultBlocked(type);
    } else if (isa<UnpackOp, SplitWordsOp>(op)) {
      // Each thread unpacks the bytes (or words) it holds; a source held
      // otherwise is first converted to the default blocked layout.
      Value src = op->getOperand(0);
      int64_t k = codesPerElement(op);
      layout = scaleInner(layoutOf(src), k, rankOf(src));
      if (!layout)
        layout = scaleInner(defaultBlocked(cast<RankedTensorType>(src.getType())), k, rankOf(src));
    } else if (isa<DotOp>(op)) {
      layout = mmaLayout(type);
    } else if (auto convert = dyn_cast<ConvertLayoutOp>(op)) {
      layout = layoutOf(convert.getSrc());
    } else {
      return op->emitOpError("has tile results that turbo-assign-layouts cannot place");
    }
    layoutOf(result) = layout;
  }
  return success();
}

Attribute LayoutAssigner::requiredLayout(Operation *op, OpOperand &operand) {
  Value value = operand.get();
  if (!isTile(value))
    return {};
  if (isElementwise(op) || isa<BroadcastOp>(op))
    return layoutOf(op->getResult(0));
  if (auto expand = dyn_cast<ExpandDimsOp>(op))
    return SliceEncodingAttr::get(context, expand.getAxis(), layoutOf(expand.getResult()));
  if (auto trans = dyn_cast<TransOp>(op))
    return transposeBlocked(cast<BlockedEncodingAttr>(layoutOf(trans.getResult())));
  if (auto permute = dyn_cast<PermuteBitsOp>(op)) {
    Attribute result = layoutOf(op->getResult(0));
    if (auto operand = dyn_cast<DotOperandEncodingAttr>(result)) {
      if (!permutedIntoOperand(permute, operand))
        return operand.getParent();
      if (Attribute source = unpermuted(permute, result))
        return source;
    }
    return result;
  }
  if (isa<PackOp>(op))
    return scaleInner(layoutOf(op->getResult(0)), codesPerElement(op), rankOf(op->getResult(0)));
  if (isa<UnpackOp, SplitWordsOp>(op))
    return scaleInner(layoutOf(op->getResult(0)), -codesPerElement(op), rankOf(op->getResult(0)));
  if (auto dot = dyn_cast<DotOp>(op)) {
    Attribute mma = layoutOf(dot.getResult());
    unsigned index = operand.getOperandNumber();
    if (index == 2)
      return mma;
    return operandLayout(mma, index, cast<RankedTensorType>(value.getType()).getElementType());
  }
  if (auto yield = dyn_cast<scf::YieldOp>(op)) {
    Operation *parent = yield->getParentOp();
    unsigned index = operand.getOperandNumber();
    if (auto loop = dyn_cast<scf::ForOp>(parent))
      return layoutOf(loop.getRegionIterArgs()[index]);
    if (auto branch = dyn_cast<scf::IfOp>(parent))
      return layoutOf(branch.getResult(index));
  }
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    unsigned index = operand.getOperandNumber();
    if (index >= loop.getNumControlOperands())
      return layoutOf(loop.getRegionIterArgs()[index - loop.getNumControlOperands()]);
  }
  if (auto store = dyn_cast<StoreOp>(op)) {
    // Stores want vectors along the contiguous (innermost) dim: a tile held
    // otherwise (an mma accumulator, a transposed tile) is converted once to
    // the coalesced layout rather than written element by element.
    auto type = store.getValue().getType();
    if (operand.getOperandNumber() != 0 || type.getRank() != 2)
      return {};
    FailureOr<TileLayout> layout = TileLayout::get(RankedTensorType::get(
        type.getShape(), type.getElementType(), layoutOf(store.getValue())));
    unsigned bits = std::max(8u, type.getElementType().getIntOrFloatBitWidth());
    int64_t wanted = std::min<int64_t>(128 / bits, type.getShape().back());
    if (succeeded(layout) && layout->getContiguity(1) < wanted / 2)
      return defaultBlocked(type);
  }
  return {};
}

bool LayoutAssigner::isRematerializable(Value v) {
  auto known = rematerializable.find(v);
  if (known != rematerializable.end())
    return known->second;
  bool result = false;
  if (Operation *def = v.getDefiningOp()) {
    if (isCheap(v))
      result = true;
    else if (isa<BroadcastOp, ExpandDimsOp>(def))
      result = isRematerializable(def->getOperand(0));
    else if (isElementwise(def) && def->getNumResults() == 1)
      result = llvm::all_of(def->getOperands(),
                            [&](Value operand) { return !isTile(operand) || isRematerializable(operand); });
  }
  rematerializable[v] = result;
  return result;
}

Value LayoutAssigner::convertOnce(Value value, Attribute layout) {
  auto key = std::make_pair(value, layout);
  auto cached = converted.find(key);
  if (cached != converted.end())
    return cached->second;
  auto type = cast<RankedTensorType>(value.getType());
  auto target = RankedTensorType::get(type.getShape(), type.getElementType(), layout);
  OpBuilder builder(context);
  if (Operation *def = value.getDefiningOp())
    builder.setInsertionPointAfter(def);
  else
    builder.setInsertionPointToStart(cast<BlockArgument>(value).getOwner());
  Value result = ConvertLayoutOp::create(builder, value.getLoc(), target, value);
  layouts[result] = layout;
  converted[key] = result;
  return result;
}

Value LayoutAssigner::rebuild(Value value, Attribute layout, Operation *user) {
  if (layoutOf(value) == layout)
    return value;
  auto key = std::make_tuple(value, layout, user->getBlock());
  auto cached = rebuilt.find(key);
  if (cached != rebuilt.end())
    return cached->second;
  Operation *def = value.getDefiningOp();
  bool relabelOnly = def && isa<BroadcastOp, ExpandDimsOp>(def);
  if (!def || (!isRematerializable(value) && !relabelOnly))
    return convertOnce(value, layout);

  auto type = cast<RankedTensorType>(value.getType());
  auto target = RankedTensorType::get(type.getShape(), type.getElementType(), layout);
  OpBuilder builder(user);
  Operation *clone;
  if (auto expand = dyn_cast<ExpandDimsOp>(def)) {
    Value src = rebuild(expand.getSrc(),
                        SliceEncodingAttr::get(context, expand.getAxis(), layout), user);
    clone = ExpandDimsOp::create(builder, def->getLoc(), target, src, expand.getAxis());
  } else if (isa<BroadcastOp>(def)) {
    Value src = rebuild(def->getOperand(0), layout, user);
    clone = BroadcastOp::create(builder, def->getLoc(), target, src);
  } else {
    IRMapping mapping;
    for (Value operand : def->getOperands())
      if (isTile(operand))
        mapping.map(operand, rebuild(operand, layout, user));
    builder.setInsertionPoint(user);
    clone = builder.clone(*def, mapping);
    clone->getResult(0).setType(target);
    if (auto constant = dyn_cast<arith::ConstantOp>(clone))
      constant.setValueAttr(cast<DenseElementsAttr>(constant.getValue()).reshape(target));
  }
  Value result = clone->getResult(0);
  layouts[result] = layout;
  rematerializable[result] = isRematerializable(value);
  rebuilt[key] = result;
  return result;
}

void LayoutAssigner::materialize(Block &block) {
  for (BlockArgument arg : block.getArguments())
    if (isTile(arg) && layouts.count(arg))
      retype(arg);
  for (Operation &op : llvm::make_early_inc_range(block)) {
    for (Value result : op.getResults())
      if (isTile(result))
        retype(result);
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      if (auto dense = dyn_cast<DenseElementsAttr>(constant.getValue()))
        constant.setValueAttr(dense.reshape(cast<ShapedType>(constant.getType())));
    }
    for (OpOperand &operand : op.getOpOperands()) {
      Attribute required = requiredLayout(&op, operand);
      if (required && required != layoutOf(operand.get()))
        operand.set(rebuild(operand.get(), required, &op));
    }
    for (Region &region : op.getRegions())
      for (Block &inner : region)
        materialize(inner);
  }
}

struct TurboAssignLayoutsPass : mlir::turbo::impl::TurboAssignLayoutsBase<TurboAssignLayoutsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    unsigned numWarps = 4;
    if (auto attr = module->getAttrOfType<IntegerAttr>(TurboDialect::kNumWarpsAttrName))
      numWarps = attr.getInt();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      LayoutAssigner assigner(&getContext(), numWarps);
      assigner.seedLoads(func);
      if (failed(assigner.analyze(func.getBody().front())))
        return signalPassFailure();
      assigner.materialize(func.getBody().front());
      // Check every layout can be realized for its tile.
      WalkResult walk = func.walk([&](Operation *op) {
        for (Value result : op->getResults()) {
          auto type = dyn_cast<RankedTensorType>(result.getType());
          if (!type)
            continue;
          std::string error;
          if (failed(TileLayout::get(type, &error))) {
            op->emitOpError("tile ") << type << " has no valid layout: " << error;
            return WalkResult::interrupt();
          }
        }
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return signalPassFailure();
    }
  }
};
} // namespace
