//===- PipelineLoads.cpp - turbo-pipeline-loads ---------------------------===//
//
// For a loop
//
//   scf.for %iv = %lb to %ub step %step {
//     %t = turbo.load %base[f(%iv)] ...        (blocked)
//     %u = turbo.convert_layout (turbo.trans %t)  (e.g. a dot operand)
//     ...
//   }
//
// with S stages this writes
//
//   %buf = turbo.alloc_shared : memref<S x R x C x T, 3>
//   for s in 0 .. S-2:                          copy tile s into slot s
//     scf.if (%lb + s*%step < %ub) { turbo.async_copy ... %buf[s] }
//     turbo.async_commit
//   scf.for %iv ... {
//     %i = (%iv - %lb) / %step
//     turbo.async_wait {pending = S-2}           tile i has landed
//     scf.if (%iv + (S-1)*%step < %ub)           tile i+S-1 into the slot
//       turbo.async_copy ... %buf[(%i+S-1) % S]  iteration i-1 read
//     turbo.async_commit
//     %u = turbo.shared_load %buf[%i % S] {transpose}
//     ...
//   }
//   turbo.async_wait {pending = 0}
//
// The wait's barrier is what makes reusing slot (i-1) % S safe: every thread
// has passed iteration i-1's reads when it returns.
//
// f may read memory the kernel never writes (a page's block-table entry):
// the copy for iteration i+S-1 reads that entry again. A vector (scales)
// and a tile of packed codes that only turbo.unpack reads are read back
// from their slots in their own layouts.
//
// A tile loaded once, outside any loop, for a dot's B operand (a block peeled
// off a loop, say) is staged through a slot of its own:
//
//   %buf = turbo.alloc_shared : memref<1 x R x C x T, 3>
//   turbo.async_copy ... %buf[0]     as early as its operands allow
//   turbo.async_commit
//   ...
//   turbo.async_wait {pending = n}   n: groups committed since
//   %u = turbo.shared_load %buf[0] {transpose}
//
// The copy overlaps the work before the read, and the dot reads its operand
// from shared memory (wgmma's B) instead of converting it there. Such slots
// and a later loop's ring are live at different times: the shared-memory
// allocation (tiles-to-threads) lets them share bytes.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/Passes.h"

#include "llvm/Support/FormatVariadic.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::turbo {
#define GEN_PASS_DEF_TURBOPIPELINELOADS
#include "turbo/Dialect/Passes.h.inc"
} // namespace mlir::turbo

using namespace mlir;
using namespace mlir::turbo;

namespace {

/// One load to stage and the conversion whose result the staged read gives.
/// A 1-D load (a vector of scales) is staged as a one-row tile; it and a 2-D
/// load that no conversion reads (codes unpacked where they land, say) are
/// read back in their own layout.
struct StagedLoad {
  LoadOp load;
  TransOp trans;           ///< null when the conversion reads the load directly
  ConvertLayoutOp convert; ///< null when read back in the load's own layout
  bool isVector() { return load.getResult().getType().getRank() == 1; }
  /// The op whose result the staged read replaces, and that result's type.
  Operation *reader() { return convert ? convert.getOperation() : load.getOperation(); }
};

/// The kernel argument a pointer is derived from (through turbo.addptr);
/// null when it is not one.
Value rootPointer(Value pointer) {
  while (auto add = pointer.getDefiningOp<AddPtrOp>())
    pointer = add.getBase();
  return isa<BlockArgument>(pointer) ? pointer : Value();
}

/// True when `op` itself (not the ops inside it) may write global memory:
/// an op that does not say counts as writing; the staging ops touch only
/// shared memory.
bool writesItself(Operation *op) {
  if (isa<AllocSharedOp, AsyncCopyOp, AsyncCommitOp, AsyncWaitOp, SharedLoadOp>(op))
    return false;
  if (auto effects = dyn_cast<MemoryEffectOpInterface>(op))
    return effects.hasEffect<MemoryEffects::Write>();
  return !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>();
}

/// True when nothing in `func` may write through `pointer`'s argument: every
/// op that writes is a turbo.store whose base comes from another argument.
bool isReadOnly(func::FuncOp func, Value pointer) {
  Value root = rootPointer(pointer);
  if (!root)
    return false;
  WalkResult result = func.walk([&](Operation *op) {
    if (op == func.getOperation())
      return WalkResult::advance();
    if (auto store = dyn_cast<StoreOp>(op)) {
      Value written = rootPointer(store.getBase());
      return written && written != root ? WalkResult::advance() : WalkResult::interrupt();
    }
    return writesItself(op) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return !result.wasInterrupted();
}

/// True when `value` is loop-invariant or computed from the induction
/// variable by side-effect-free ops in the loop body and loads of memory the
/// kernel never writes (a block table, say), so it can be recomputed for
/// another iteration.
bool followsInductionVariable(scf::ForOp loop, Value value, int depth = 0) {
  if (depth > 32)
    return false;
  if (value == loop.getInductionVar() || loop.isDefinedOutsideOfLoop(value))
    return true;
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != loop.getBody() || def->getNumRegions() != 0)
    return false;
  if (auto load = dyn_cast<LoadOp>(def)) {
    if (!isReadOnly(loop->getParentOfType<func::FuncOp>(), load.getBase()))
      return false;
  } else if (!isMemoryEffectFree(def)) {
    return false;
  }
  return llvm::all_of(def->getOperands(), [&](Value operand) {
    return followsInductionVariable(loop, operand, depth + 1);
  });
}

/// `value` as it would be in the iteration whose induction variable is `iv`,
/// built at `b`'s insertion point.
Value atIteration(OpBuilder &b, scf::ForOp loop, Value value, Value iv, IRMapping &mapping) {
  if (value == loop.getInductionVar())
    return iv;
  if (loop.isDefinedOutsideOfLoop(value))
    return value;
  if (Value known = mapping.lookupOrNull(value))
    return known;
  Operation *def = value.getDefiningOp();
  for (Value operand : def->getOperands())
    mapping.map(operand, atIteration(b, loop, operand, iv, mapping));
  Operation *clone = b.clone(*def, mapping);
  return clone->getResult(cast<OpResult>(value).getResultNumber());
}

/// `load` whose copies may zero-fill (no padding, or zero): a 2-D tile read
/// only by a layout conversion in `block` (possibly through a turbo.trans),
/// or, when `ownLayout` allows, a 1-D tile or a 2-D tile of codes that only
/// turbo.unpack reads (both then read back in their own layout).
std::optional<StagedLoad> matchConversionChain(LoadOp load, Block *block, bool ownLayout) {
  auto tile = load.getResult().getType();
  if (!tile.getEncoding() || (tile.getRank() == 1 && !ownLayout))
    return std::nullopt;
  if (auto padding = load.getPaddingAttr()) {
    // Copies zero-fill out-of-bounds elements; other padding stays a load.
    if (padding != cast<TypedAttr>(OpBuilder(load).getZeroAttr(tile.getElementType())))
      return std::nullopt;
  }
  StagedLoad staged{load, nullptr, nullptr};
  if (tile.getRank() == 1)
    return staged;
  auto conversion = [&]() -> std::optional<StagedLoad> {
    if (!load.getResult().hasOneUse())
      return std::nullopt;
    StagedLoad chain = staged;
    Operation *user = *load.getResult().getUsers().begin();
    if (auto trans = dyn_cast<TransOp>(user)) {
      if (!trans.getResult().hasOneUse())
        return std::nullopt;
      chain.trans = trans;
      user = *trans.getResult().getUsers().begin();
    }
    chain.convert = dyn_cast<ConvertLayoutOp>(user);
    if (!chain.convert || chain.convert->getBlock() != block)
      return std::nullopt;
    return chain;
  }();
  if (conversion)
    return conversion;
  // Packed codes are unpacked in the registers they land in: staged, they
  // are read back so. (Other tiles stay loads: their layout was chosen for
  // what reads them, not for a copy through shared memory.)
  bool onlyUnpacked = llvm::all_of(load.getResult().getUsers(),
                                   [](Operation *user) { return isa<UnpackOp>(user); });
  return ownLayout && onlyUnpacked ? std::optional<StagedLoad>(staged) : std::nullopt;
}

std::optional<StagedLoad> matchStagedLoad(scf::ForOp loop, LoadOp load) {
  auto invariant = [&](ValueRange values) {
    return llvm::all_of(values, [&](Value v) { return loop.isDefinedOutsideOfLoop(v); });
  };
  if (!followsInductionVariable(loop, load.getBase()) || !invariant(load.getStrides()) ||
      !invariant(load.getBounds()))
    return std::nullopt;
  for (Value offset : load.getOffsets())
    if (!followsInductionVariable(loop, offset))
      return std::nullopt;
  return matchConversionChain(load, loop.getBody(), /*ownLayout=*/true);
}

/// How the threads share the copy of a one-row tile of `n` elements: 16-byte
/// pieces along the row (threads past the row copy the same pieces again).
Attribute rowCopyLayout(MLIRContext *context, int64_t n, Type element, unsigned numWarps) {
  int64_t bytes = std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  unsigned vector = unsigned(std::max<int64_t>(1, std::min<int64_t>(16 / bytes, n / 32)));
  return BlockedEncodingAttr::get(context, {1, vector}, {1, 32}, {1, numWarps}, {1, 0});
}

/// The copy of `staged`'s tile for the iteration at `iv` into `slot`.
void emitCopy(OpBuilder &b, scf::ForOp loop, StagedLoad staged, Value buffer, Value iv,
              Value slot, unsigned numWarps) {
  Location loc = staged.load.getLoc();
  IRMapping mapping;
  SmallVector<Value, 2> offsets, strides(staged.load.getStrides()),
      bounds(staged.load.getBounds());
  for (Value offset : staged.load.getOffsets())
    offsets.push_back(atIteration(b, loop, offset, iv, mapping));
  Value base = atIteration(b, loop, staged.load.getBase(), iv, mapping);
  auto tile = staged.load.getResult().getType();
  Attribute layout = tile.getEncoding();
  if (staged.isVector()) {
    // Row 0 of a one-row tile.
    Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    Value one = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
    offsets.insert(offsets.begin(), zero);
    strides.insert(strides.begin(), zero);
    if (!bounds.empty()) // an unbounded load stays unbounded
      bounds.insert(bounds.begin(), one);
    layout = rowCopyLayout(b.getContext(), tile.getDimSize(0), tile.getElementType(), numWarps);
  }
  AsyncCopyOp::create(b, loc, base, offsets, strides, bounds, buffer, slot, layout);
}

/// Copies for the iteration at `iv` into `slot`, only where that iteration
/// exists, then the group's commit (unconditional: group counts must agree).
void emitGuardedCopies(OpBuilder &b, Location loc, scf::ForOp loop,
                       ArrayRef<StagedLoad> staged, ArrayRef<Value> buffers, Value iv,
                       Value slot, unsigned numWarps) {
  Value exists = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, iv,
                                       loop.getUpperBound());
  scf::IfOp::create(b, loc, exists, [&](OpBuilder &inner, Location) {
    for (auto [load, buffer] : llvm::zip(staged, buffers))
      emitCopy(inner, loop, load, buffer, iv, slot, numWarps);
    scf::YieldOp::create(inner, loc);
  });
  AsyncCommitOp::create(b, loc);
}

void pipelineLoop(scf::ForOp loop, int64_t stages, unsigned numWarps) {
  if (!loop.getInductionVar().getType().isInteger(32))
    return;
  SmallVector<StagedLoad> staged;
  for (LoadOp load : loop.getBody()->getOps<LoadOp>())
    if (auto match = matchStagedLoad(loop, load))
      staged.push_back(*match);
  if (staged.empty())
    return;

  Location loc = loop.getLoc();
  OpBuilder b(loop);
  auto i32 = [&](OpBuilder &builder, int64_t v) {
    return arith::ConstantOp::create(builder, loc, builder.getI32IntegerAttr(int32_t(v)))
        .getResult();
  };
  SmallVector<Value> buffers;
  for (StagedLoad s : staged) {
    auto tile = s.load.getResult().getType();
    int64_t rows = s.isVector() ? 1 : tile.getDimSize(0), cols = tile.getShape().back();
    auto type = MemRefType::get({stages, rows, cols}, tile.getElementType(), AffineMap(),
                                b.getI32IntegerAttr(3));
    buffers.push_back(AllocSharedOp::create(b, loc, type));
  }
  Value lb = loop.getLowerBound(), step = loop.getStep();
  for (int64_t s = 0; s + 1 < stages; ++s) {
    Value iv = arith::AddIOp::create(b, loc, lb, arith::MulIOp::create(b, loc, step, i32(b, s)));
    emitGuardedCopies(b, loc, loop, staged, buffers, iv, i32(b, s), numWarps);
  }

  OpBuilder body = OpBuilder::atBlockBegin(loop.getBody());
  Value iteration = arith::DivSIOp::create(
      body, loc, arith::SubIOp::create(body, loc, loop.getInductionVar(), lb), step);
  Value slot = arith::RemSIOp::create(body, loc, iteration, i32(body, stages));
  AsyncWaitOp::create(body, loc, uint32_t(stages - 2));
  Value aheadIv = arith::AddIOp::create(
      body, loc, loop.getInductionVar(),
      arith::MulIOp::create(body, loc, step, i32(body, stages - 1)));
  Value aheadSlot = arith::RemSIOp::create(
      body, loc, arith::AddIOp::create(body, loc, iteration, i32(body, stages - 1)),
      i32(body, stages));
  emitGuardedCopies(body, loc, loop, staged, buffers, aheadIv, aheadSlot, numWarps);

  for (auto [s, buffer] : llvm::zip(staged, buffers)) {
    Operation *reader = s.reader();
    OpBuilder at(reader);
    Value read = SharedLoadOp::create(at, reader->getLoc(), reader->getResult(0).getType(),
                                      buffer, slot, s.trans != nullptr);
    reader->getResult(0).replaceAllUsesWith(read);
    if (s.convert)
      s.convert.erase();
    if (s.trans)
      s.trans.erase();
    s.load.erase();
  }
  OpBuilder after(loop->getBlock(), std::next(loop->getIterator()));
  AsyncWaitOp::create(after, loc, 0u);
}

/// A 2-D load in the function's body, outside any loop, whose tile (possibly
/// transposed) only a conversion to a dot's B operand reads.
std::optional<StagedLoad> matchStraightLineLoad(Block &body, LoadOp load) {
  if (load->getBlock() != &body)
    return std::nullopt;
  std::optional<StagedLoad> staged = matchConversionChain(load, &body, /*ownLayout=*/false);
  if (!staged)
    return std::nullopt;
  auto operand =
      dyn_cast<DotOperandEncodingAttr>(staged->convert.getResult().getType().getEncoding());
  if (!operand || operand.getOpIdx() != 1)
    return std::nullopt;
  return staged;
}

/// True when `op` or an op inside it may write global memory.
bool mayWrite(Operation *op) {
  return op->walk([](Operation *nested) {
             return writesItself(nested) ? WalkResult::interrupt() : WalkResult::advance();
           })
      .wasInterrupted();
}

/// The earliest point in `body` where the copy of `load` may start: after
/// the definitions of its operands and after the last op before it that may
/// write memory (the tile it reads could be that op's output).
Block::iterator earliestCopyPoint(Block &body, LoadOp load) {
  Block::iterator point = body.begin();
  for (auto it = body.begin(); &*it != load.getOperation(); ++it) {
    bool defines = llvm::any_of(load->getOperands(), [&](Value operand) {
      return operand.getDefiningOp() == &*it;
    });
    if (defines || mayWrite(&*it))
      point = std::next(it);
  }
  return point;
}

/// Groups committed after `commit` and before `wait`, both in `body`; 0 (wait
/// for everything) when an op between them commits inside a region.
uint32_t groupsBetween(Operation *commit, Operation *wait) {
  uint32_t groups = 0;
  for (Operation *op = commit->getNextNode(); op && op != wait; op = op->getNextNode()) {
    if (isa<AsyncCommitOp>(op)) {
      ++groups;
      continue;
    }
    bool nested = op->getNumRegions() != 0 &&
                  op->walk([](AsyncCommitOp) { return WalkResult::interrupt(); }).wasInterrupted();
    if (nested)
      return 0;
  }
  return std::min<uint32_t>(groups, 7); // the wait's range; more in flight only waits longer
}

void stageStraightLineLoads(func::FuncOp func) {
  Block &body = func.getBody().front();
  SmallVector<StagedLoad> staged;
  for (LoadOp load : body.getOps<LoadOp>())
    if (auto match = matchStraightLineLoad(body, load))
      staged.push_back(*match);
  // Where each copy may start, before any is placed (copies that may start at
  // the same point go there in program order).
  SmallVector<Block::iterator> copyPoints;
  for (StagedLoad s : staged)
    copyPoints.push_back(earliestCopyPoint(body, s.load));
  // Every copy first, then the waits: a wait counts the groups committed
  // after its own.
  struct Copy {
    Value buffer, slot;
    Operation *commit;
  };
  SmallVector<Copy> copies;
  for (auto [s, copyPoint] : llvm::zip(staged, copyPoints)) {
    Location loc = s.load.getLoc();
    auto tile = s.load.getResult().getType();
    OpBuilder b = OpBuilder::atBlockBegin(&body);
    auto type = MemRefType::get({1, tile.getDimSize(0), tile.getDimSize(1)},
                                tile.getElementType(), AffineMap(), b.getI32IntegerAttr(3));
    Value buffer = AllocSharedOp::create(b, loc, type);
    Value slot = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    b.setInsertionPoint(&body, copyPoint);
    AsyncCopyOp::create(b, loc, s.load.getBase(), s.load.getOffsets(), s.load.getStrides(),
                        s.load.getBounds(), buffer, slot, tile.getEncoding());
    copies.push_back({buffer, slot, AsyncCommitOp::create(b, loc)});
  }
  for (auto [s, copy] : llvm::zip(staged, copies)) {
    Operation *reader = s.reader();
    OpBuilder at(reader);
    auto wait = AsyncWaitOp::create(at, reader->getLoc(), 0u);
    wait.setPending(groupsBetween(copy.commit, wait));
    Value read = SharedLoadOp::create(at, reader->getLoc(), reader->getResult(0).getType(),
                                      copy.buffer, copy.slot, s.trans != nullptr);
    reader->getResult(0).replaceAllUsesWith(read);
    s.convert.erase();
    if (s.trans)
      s.trans.erase();
    s.load.erase();
  }
}

struct TurboPipelineLoadsPass
    : mlir::turbo::impl::TurboPipelineLoadsBase<TurboPipelineLoadsPass> {
  using TurboPipelineLoadsBase::TurboPipelineLoadsBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      // The option, else the kernel's config (whose verifier checked it).
      int64_t count = stages ? int64_t(stages) : ConfigAttr::codegenOptionsOf(func).numStages;
      if (count < 1 || count > CodegenOptions::kMaxStages) {
        func.emitError(llvm::formatv("stages must be in [1, {0}], got {1}",
                                     CodegenOptions::kMaxStages, count));
        return signalPassFailure();
      }
      if (count == 1)
        continue;
      unsigned numWarps = 4;
      if (auto attr = getOperation()->getAttrOfType<IntegerAttr>(TurboDialect::kNumWarpsAttrName))
        numWarps = unsigned(attr.getInt());
      SmallVector<scf::ForOp> loops;
      func.walk([&](scf::ForOp loop) { loops.push_back(loop); });
      for (scf::ForOp loop : loops)
        pipelineLoop(loop, count, numWarps);
      stageStraightLineLoads(func);
    }
  }
};
} // namespace
