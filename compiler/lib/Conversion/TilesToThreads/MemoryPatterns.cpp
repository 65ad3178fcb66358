//===- MemoryPatterns.cpp - tiles to and from global memory ---------------===//
//
// A load or store walks the registers a thread holds in groups of `width`
// consecutive elements along the contiguous dim (one vector access each).
// The tile's base address and each thread's offset are computed once; every
// group adds a constant row/column offset. A group whose coordinates fall
// outside `bounds` is skipped (a store) or reads the padding (a load); with
// no bounds every group is accessed, unchecked.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"
#include "turbo/Support/Targets.h"

#include "llvm/Support/FormatVariadic.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

/// Addresses and bounds checks shared by loads and stores of one tile.
struct TileAccess {
  TileLayout layout;
  Type elementType;
  unsigned width;
  Value threadBase;                ///< !llvm.ptr<1> to this thread's (0, 0) register
  SmallVector<Value, 2> thread;    ///< per dim: this thread's offset in the tile (i32)
  SmallVector<Value, 2> remaining; ///< per dim: bound - offset - thread offset (i32);
                                   ///< empty for an unbounded access
  Value outerStride;               ///< i32, rank 2 only

  TileAccess(OpBuilder &b, Location loc, RankedTensorType tile, Value base,
             ArrayRef<ValueRange> offsets, ArrayRef<ValueRange> strides,
             ArrayRef<ValueRange> bounds, unsigned width, const KernelContext &kernel)
      : layout(layoutOf(tile)), elementType(tile.getElementType()), width(width) {
    auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), 1);
    Type i64 = b.getI64Type();
    thread = emitThreadOffsets(b, loc, layout, kernel);
    unsigned rank = tile.getRank();
    // Element offset of the tile's origin in 64 bits (tensors can exceed
    // 2^31 elements); offsets inside one tile stay in 32 bits.
    Value origin = arith::ExtSIOp::create(b, loc, i64, offsets[rank - 1].front());
    Value threadOffset = thread[rank - 1];
    if (rank == 2) {
      outerStride = strides[0].front();
      Value row = arith::MulIOp::create(
          b, loc, arith::ExtSIOp::create(b, loc, i64, offsets[0].front()),
          arith::ExtSIOp::create(b, loc, i64, outerStride));
      origin = arith::AddIOp::create(b, loc, origin, row);
      threadOffset = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, thread[0], outerStride), threadOffset);
    }
    Value tileBase = LLVM::GEPOp::create(b, loc, ptrType, elementType, base, ValueRange{origin});
    threadBase =
        LLVM::GEPOp::create(b, loc, ptrType, elementType, tileBase, ValueRange{threadOffset});
    for (unsigned d = 0; d < bounds.size(); ++d) {
      Value left = arith::SubIOp::create(b, loc, bounds[d].front(), offsets[d].front());
      remaining.push_back(arith::SubIOp::create(b, loc, left, thread[d]));
    }
  }

  unsigned numGroups() const { return layout.getNumRegs() / width; }
  bool bounded() const { return !remaining.empty(); }

  Value groupPointer(OpBuilder &b, Location loc, unsigned group) const {
    TileLayout::Coord coord = layout.getRegCoord(group * width);
    Value offset = constI32(b, loc, coord.back());
    if (coord.size() == 2 && coord[0] != 0)
      offset = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, constI32(b, loc, coord[0]), outerStride),
          offset);
    auto ptrType = LLVM::LLVMPointerType::get(b.getContext(), 1);
    return LLVM::GEPOp::create(b, loc, ptrType, elementType, threadBase, ValueRange{offset});
  }

  Value groupInBounds(OpBuilder &b, Location loc, unsigned group) const {
    TileLayout::Coord coord = layout.getRegCoord(group * width);
    Value valid;
    for (unsigned d = 0; d < coord.size(); ++d) {
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           constI32(b, loc, coord[d]), remaining[d]);
      valid = valid ? arith::AndIOp::create(b, loc, valid, inside).getResult() : inside;
    }
    return valid;
  }

  Type accessType() const {
    return width == 1 ? elementType : VectorType::get({int64_t(width)}, elementType);
  }
  unsigned alignment() const { return width * sharedElementBytes(elementType); }
};

struct LoadPattern : TilePattern<LoadOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(LoadOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto tile = op.getResult().getType();
    TileAccess access(rewriter, loc, tile, adaptor.getBase().front(), adaptor.getOffsets(),
                      adaptor.getStrides(), adaptor.getBounds(), kernel.vectorWidth.lookup(op),
                      kernel);
    Type accessType = access.accessType();
    TypedAttr padding = op.getPaddingAttr();
    if (!padding)
      padding = cast<TypedAttr>(rewriter.getZeroAttr(access.elementType));
    Value fill;
    if (auto vector = dyn_cast<VectorType>(accessType))
      fill = arith::ConstantOp::create(rewriter, loc, DenseElementsAttr::get(vector, padding));
    else
      fill = arith::ConstantOp::create(rewriter, loc, padding);

    SmallVector<Value> registers;
    for (unsigned group = 0; group < access.numGroups(); ++group) {
      Value pointer = access.groupPointer(rewriter, loc, group);
      Value loaded;
      if (!access.bounded()) {
        loaded = LLVM::LoadOp::create(rewriter, loc, accessType, pointer, access.alignment());
      } else {
        auto branch = scf::IfOp::create(
            rewriter, loc, access.groupInBounds(rewriter, loc, group),
            [&](OpBuilder &b, Location l) {
              scf::YieldOp::create(
                  b, l, LLVM::LoadOp::create(b, l, accessType, pointer, access.alignment())
                            .getResult());
            },
            [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, fill); });
        loaded = branch.getResult(0);
      }
      if (access.width == 1) {
        registers.push_back(loaded);
        continue;
      }
      for (unsigned i = 0; i < access.width; ++i)
        registers.push_back(LLVM::ExtractElementOp::create(
            rewriter, loc, loaded, constI32(rewriter, loc, i)));
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, registers, tile)});
    return success();
  }
};

struct StorePattern : TilePattern<StoreOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(StoreOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto tile = op.getValue().getType();
    TileAccess access(rewriter, loc, tile, adaptor.getBase().front(), adaptor.getOffsets(),
                      adaptor.getStrides(), adaptor.getBounds(), kernel.vectorWidth.lookup(op),
                      kernel);
    SmallVector<Value> registers = elementsOf(rewriter, loc, adaptor.getValue(), tile);
    Type accessType = access.accessType();
    for (unsigned group = 0; group < access.numGroups(); ++group) {
      Value pointer = access.groupPointer(rewriter, loc, group);
      Value value;
      if (access.width == 1) {
        value = registers[group];
      } else {
        value = LLVM::PoisonOp::create(rewriter, loc, accessType);
        for (unsigned i = 0; i < access.width; ++i)
          value = LLVM::InsertElementOp::create(rewriter, loc, value,
                                                registers[group * access.width + i],
                                                constI32(rewriter, loc, i));
      }
      if (!access.bounded()) {
        LLVM::StoreOp::create(rewriter, loc, value, pointer, access.alignment());
        continue;
      }
      scf::IfOp::create(rewriter, loc, access.groupInBounds(rewriter, loc, group),
                        [&](OpBuilder &b, Location l) {
                          LLVM::StoreOp::create(b, l, value, pointer, access.alignment());
                          scf::YieldOp::create(b, l);
                        });
    }
    rewriter.eraseOp(op);
    return success();
  }
};

/// cp.async of each thread's groups straight into the slot (zero-filled out
/// of bounds: the copy reads 0 bytes and fills the rest). Groups narrower
/// than 4 bytes, which cp.async cannot copy, go through registers.
struct AsyncCopyPattern : TilePattern<AsyncCopyOp> {
  using TilePattern::TilePattern;
  LogicalResult matchAndRewrite(AsyncCopyOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType tile = op.getTileType();
    Value base = adaptor.getBase().front();
    TileAccess access(rewriter, loc, tile, base, adaptor.getOffsets(), adaptor.getStrides(),
                      adaptor.getBounds(), kernel.vectorWidth.lookup(op), kernel);
    SlotGeometry slot = slotGeometry(op.getBuffer(), kernel);
    auto sharedType = LLVM::LLVMPointerType::get(rewriter.getContext(), 3);
    Value slotBase = slotPointer(rewriter, loc, adaptor.getBuffer().front(),
                                 adaptor.getSlot().front(), slot);
    auto at = [&](Value base, Value bytes) -> Value {
      return LLVM::GEPOp::create(rewriter, loc, sharedType, rewriter.getI8Type(), base,
                                 ValueRange{bytes});
    };
    // This thread's (0, 0) register in the slot.
    Value threadSlot =
        at(slotBase, slot.bytesAt(rewriter, loc, access.thread[0], access.thread[1]));
    const int64_t bytes = access.width * slot.elementBytes;
    // An element the layout holds in several threads (a one-row tile of
    // scales, say) is copied by the first of them only.
    OpBuilder::InsertionGuard guard(rewriter);
    if (Value first = emitFirstHolder(rewriter, loc, access.layout, kernel)) {
      auto holder = scf::IfOp::create(rewriter, loc, TypeRange{}, first, /*withElseRegion=*/false);
      rewriter.setInsertionPointToStart(holder.thenBlock());
    }
    for (unsigned group = 0; group < access.numGroups(); ++group) {
      if (isRepeatedRegister(access.layout, group * access.width))
        continue;
      TileLayout::Coord coord = access.layout.getRegCoord(group * access.width);
      // A swizzled slot adds a constant only where the swizzle does not
      // change (whole 8-row groups and panels); elsewhere the address is
      // computed from the group's own coordinates.
      auto plus = [&](Value thread, int64_t offset) -> Value {
        return arith::AddIOp::create(rewriter, loc, thread, constI32(rewriter, loc, offset));
      };
      Value destination =
          slot.isAdditive(coord[0], coord[1])
              ? at(threadSlot, constI32(rewriter, loc, slot.bytesAt(coord[0], coord[1])))
              : at(slotBase, slot.bytesAt(rewriter, loc, plus(access.thread[0], coord[0]),
                                          plus(access.thread[1], coord[1])));
      Value source = access.groupPointer(rewriter, loc, group);
      // Null for an unbounded copy: every group is read as it is.
      Value valid = access.bounded() ? access.groupInBounds(rewriter, loc, group) : Value();
      if (bytes == 4 || bytes == 8 || bytes == 16) {
        // An invalid group reads nothing, but its address must still be a
        // legal one: the tensor's base.
        Value from = source, size;
        if (valid) {
          from = LLVM::SelectOp::create(rewriter, loc, valid, source, base);
          size = LLVM::SelectOp::create(rewriter, loc, valid, constI32(rewriter, loc, bytes),
                                        constI32(rewriter, loc, 0));
        }
        NVVM::CpAsyncOp::create(rewriter, loc, destination, from, uint32_t(bytes),
                                bytes == 16 ? NVVM::LoadCacheModifierKind::CG
                                            : NVVM::LoadCacheModifierKind::CA,
                                size);
        continue;
      }
      Type accessType = access.accessType();
      Value loaded;
      if (!valid) {
        loaded = LLVM::LoadOp::create(rewriter, loc, accessType, source, access.alignment());
      } else {
        Value zero = LLVM::ZeroOp::create(rewriter, loc, accessType);
        loaded = scf::IfOp::create(
                     rewriter, loc, valid,
                     [&](OpBuilder &b, Location l) {
                       scf::YieldOp::create(
                           b, l, LLVM::LoadOp::create(b, l, accessType, source, access.alignment())
                                     .getResult());
                     },
                     [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, zero); })
                     .getResult(0);
      }
      LLVM::StoreOp::create(rewriter, loc, loaded, destination, access.alignment());
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct AddPtrPattern : OpConversionPattern<AddPtrOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AddPtrOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto ptrType = LLVM::LLVMPointerType::get(rewriter.getContext(), 1);
    rewriter.replaceOpWithNewOp<LLVM::GEPOp>(op, ptrType, op.getBase().getType().getElementType(),
                                             adaptor.getBase(), ValueRange{adaptor.getOffset()});
    return success();
  }
};

template <typename Op, typename X, typename Y, typename Z>
struct GridQueryPattern : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Type i32 = rewriter.getI32Type();
    Value value;
    switch (op.getDim()) {
    case 0:
      value = X::create(rewriter, op.getLoc(), i32);
      break;
    case 1:
      value = Y::create(rewriter, op.getLoc(), i32);
      break;
    default:
      value = Z::create(rewriter, op.getLoc(), i32);
      break;
    }
    rewriter.replaceOp(op, value);
    return success();
  }
};
/// turbo.wait_prior_grids and turbo.launch_dependents: griddepcontrol, which
/// sm_90 and up have (a module without turbo.target is for sm_90a).
template <typename Op, NVVM::GridDepActionKind Kind>
struct GridDependencyPattern : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  LogicalResult matchAndRewrite(Op op, typename Op::Adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto module = op->template getParentOfType<ModuleOp>();
    auto target =
        module ? module->template getAttrOfType<StringAttr>(TurboDialect::kTargetAttrName)
               : StringAttr();
    if (target && !::turbo::hasGridDependencyControl(target.getValue().str()))
      return op.emitOpError(llvm::formatv(
          "needs sm_90 or newer (griddepcontrol); this kernel is for {0}", target.getValue()));
    if constexpr (Kind == NVVM::GridDepActionKind::wait) {
      // As inline assembly that clobbers memory: LLVM's intrinsic is
      // IntrNoMem, which would let a load of an earlier grid's results move
      // above the wait.
      LLVM::InlineAsmOp::create(rewriter, op.getLoc(), TypeRange{}, ValueRange{},
                                "griddepcontrol.wait;", "~{memory}",
                                /*has_side_effects=*/true, /*is_align_stack=*/false,
                                LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr());
    } else {
      NVVM::GriddepcontrolOp::create(rewriter, op.getLoc(), Kind);
    }
    rewriter.eraseOp(op);
    return success();
  }
};
} // namespace

void lowering::populateMemoryPatterns(TileTypeConverter &converter,
                                      RewritePatternSet &patterns, KernelContext &kernel) {
  MLIRContext *context = patterns.getContext();
  patterns.add<LoadPattern, StorePattern, AsyncCopyPattern>(converter, context, kernel);
  patterns.add<AddPtrPattern>(converter, context);
  patterns.add<GridQueryPattern<ProgramIdOp, NVVM::BlockIdXOp, NVVM::BlockIdYOp,
                                NVVM::BlockIdZOp>,
               GridQueryPattern<NumProgramsOp, NVVM::GridDimXOp, NVVM::GridDimYOp,
                                NVVM::GridDimZOp>>(converter, context);
  patterns.add<GridDependencyPattern<WaitPriorGridsOp, NVVM::GridDepActionKind::wait>,
               GridDependencyPattern<LaunchDependentsOp,
                                     NVVM::GridDepActionKind::launch_dependents>>(converter,
                                                                                  context);
}
