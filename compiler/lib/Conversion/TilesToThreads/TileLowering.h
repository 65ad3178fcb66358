//===- TileLowering.h - shared pieces of the tile-to-thread lowering -*- C++ -*-===//
//
// What every pattern of convert-turbo-tiles-to-threads needs: the type
// conversion (a tile becomes the registers one thread holds), the thread's
// lane and warp ids, where in a tile a register lies, and shared-memory
// scratch for data that must cross threads.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_COMPILER_TILELOWERING_H
#define TURBO_COMPILER_TILELOWERING_H

#include "turbo/Dialect/Layouts.h"
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::turbo::lowering {

/// A tile type becomes one value per register its layout gives a thread;
/// !turbo.ptr becomes !llvm.ptr<1>.
class TileTypeConverter : public TypeConverter {
public:
  explicit TileTypeConverter(MLIRContext *context);
};

/// Per-kernel state shared by the patterns while one kernel is lowered.
struct KernelContext {
  Value lane; ///< i32, threadIdx.x % 32
  Value warp; ///< i32, threadIdx.x / 32
  /// Bytes of scratch the kernel needs: the largest any op asked for
  /// (scratch is reused; ops fence it with barriers).
  int64_t sharedBytes = 0;
  /// Staging buffers (turbo.alloc_shared) come first in dynamic shared
  /// memory, each at its byte offset; scratch starts at `scratchBase`.
  llvm::DenseMap<Operation *, int64_t> bufferOffsets;
  int64_t scratchBase = 0;
  /// Widest vector (in elements) each load/store may use, from the
  /// divisibility of its pointer, strides and offsets.
  llvm::DenseMap<Operation *, unsigned> vectorWidth;
  StringRef sharedSymbol;
  /// wgmma (`wgmma = 1` in the kernel's config): the dots that read their
  /// B operand from a swizzled staging buffer, and those buffers
  /// (turbo.alloc_shared ops).
  llvm::DenseSet<Operation *> wgmmaDots, swizzledBuffers;
};

/// The layout of a tile type; the layout pass guarantees it exists.
TileLayout layoutOf(Type tileType);

/// How a thread's registers of a tile are held as values. Operands of
/// mma.sync with 8- or 16-bit elements are held packed, `width` elements per
/// 32-bit value (i32, or vector<2xf16> for f16), exactly as the instruction
/// takes them: loop-invariant operands then cost a quarter (or half) of the
/// registers. Every other tile holds one element per value.
struct Packing {
  unsigned width = 1;
  Type storage; ///< the value type (the element type when width is 1)
};
Packing packingOf(RankedTensorType tileType);

/// The element values of a tile from its converted values (unpacking).
SmallVector<Value> elementsOf(OpBuilder &b, Location loc, ValueRange values,
                              RankedTensorType tileType);
/// The converted values of a tile from its element values (packing).
SmallVector<Value> packElements(OpBuilder &b, Location loc, ValueRange elements,
                                RankedTensorType tileType);

/// Per-dim offset (i32) that the calling thread adds to every register's
/// static coordinate.
SmallVector<Value, 2> emitThreadOffsets(OpBuilder &b, Location loc, const TileLayout &layout,
                                        const KernelContext &kernel);
/// The same, from the warp id alone (lanes contribute nothing).
SmallVector<Value, 2> emitWarpOffsets(OpBuilder &b, Location loc, const TileLayout &layout,
                                      const KernelContext &kernel);

/// True when `to` spreads over lanes and warps as `from` does up to a
/// coordinate map: each lane and warp step of `to` is `map(dim, value)` of
/// the same step of `from`, along the same dim unless both are zero. Then a
/// per-thread rewrite of registers (a relabeling, packing) moves no element
/// between threads.
bool sameThreadSteps(const TileLayout &from, const TileLayout &to,
                     llvm::function_ref<int64_t(unsigned dim, int64_t value)> map);

/// i1: whether this thread holds the first copy of its elements (a layout
/// may hold an element in several threads: the lane and warp bits that do not
/// move an element are then all 0 here). Null where no element is held twice.
/// Writes to shared memory go through the first copy alone: several threads
/// writing one address race, even with equal values.
Value emitFirstHolder(OpBuilder &b, Location loc, const TileLayout &layout,
                      const KernelContext &kernel);

/// True when register `reg` repeats an element an earlier register of the
/// same thread holds.
bool isRepeatedRegister(const TileLayout &layout, unsigned reg);

/// Index of the calling warp among the warps that lie along `dim` (i32).
Value emitWarpIndexAlong(OpBuilder &b, Location loc, const TileLayout &layout, unsigned dim,
                         const KernelContext &kernel);

Value constI32(OpBuilder &b, Location loc, int64_t value);

/// Pointer to byte `offset` (i32 value) of the kernel's shared scratch.
Value sharedPointer(OpBuilder &b, Location loc, const KernelContext &kernel, Value offset);

/// Pointer to byte `offset` of the kernel's dynamic shared memory.
Value dynamicSharedPointer(OpBuilder &b, Location loc, const KernelContext &kernel,
                           int64_t offset);

/// Where the tiles of a staging buffer (memref<S x R x C x T, 3>) lie,
/// slots of `slotBytes` each, in one of two orders:
///  - padded rows of `pitchBytes` (the tile's row plus 16 bytes, so that 8
///    consecutive rows start in 8 different 16-byte bank groups), for
///    ldmatrix and vector loads;
///  - swizzled panels (`swizzleBytes` W = 32, 64 or 128) for wgmma, which
///    reads its B operand straight from shared memory: the row's bytes are
///    cut into panels of W, a panel holds all R rows of W bytes each
///    (8 rows = 8W bytes, an aligned swizzle atom), and the 16-byte chunk c
///    of row r sits at chunk c ^ swizzle(r) of its row. This is the
///    hardware's K-major "W-byte swizzle" layout (the swizzle XORs address
///    bits 4.. with bits 7..), so it needs slots aligned to 8W bytes.
struct SlotGeometry {
  int64_t rows, cols, elementBytes, pitchBytes, slotBytes;
  int64_t swizzleBytes = 0; ///< 0: padded rows
  /// Byte offset of element (row, col) in a slot.
  int64_t bytesAt(int64_t row, int64_t col) const;
  Value bytesAt(OpBuilder &b, Location loc, Value row, Value col) const;
  /// True when bytesAt(r0 + row, c0 + col) = bytesAt(r0, c0) + bytesAt(row,
  /// col) for every base (r0, c0): whole 8-row groups and whole panels,
  /// which leave the swizzle alone. The constant part of an address can
  /// then be added to a thread's base.
  bool isAdditive(int64_t row, int64_t col) const;
};
SlotGeometry slotGeometry(MemRefType buffer, bool swizzled = false);

/// Pointer to slot `slot` (i32) of a staging buffer at `buffer` (its
/// shared-memory pointer).
Value slotPointer(OpBuilder &b, Location loc, Value buffer, Value slot,
                  const SlotGeometry &geometry);

/// The geometry of `buffer` (a turbo.alloc_shared result) in this kernel.
SlotGeometry slotGeometry(Value buffer, const KernelContext &kernel);

/// Assigns every turbo.alloc_shared in `func` its offset and the scratch
/// its base, in `kernel`. Buffers used in disjoint stretches of the
/// function's body (a peeled block's slots, then a loop's ring) share bytes;
/// a barrier before the later one's first use keeps its copies from landing
/// while a thread still reads the earlier one.
void allocateStagingBuffers(func::FuncOp func, KernelContext &kernel);

/// Chooses the dots that become wgmma (see KernelContext::wgmmaDots): with
/// `wgmma = 1` in the function's config, every dot whose B operand is a
/// transposed turbo.shared_load of an 8-bit staging buffer that nothing
/// else reads (the hardware then reads it K-major from shared memory), and
/// whose accumulator gives each warp 16 rows in groups of 4 warps.
/// Call before allocateStagingBuffers (swizzled buffers align to 1 KiB).
LogicalResult planWgmma(func::FuncOp func, KernelContext &kernel);

/// A block-wide barrier (bar.sync 0).
void barrier(OpBuilder &b, Location loc);

/// Stores/loads a scalar of any turbo element type to/from shared memory
/// (i1 travels as i8).
void storeShared(OpBuilder &b, Location loc, Value value, Value pointer);
Value loadShared(OpBuilder &b, Location loc, Type type, Value pointer);

/// Size in bytes of an element in shared memory.
int64_t sharedElementBytes(Type type);

/// Moves a tile from layout `src` (its element values) to the layout of
/// `dstType` through shared memory: each thread writes what it holds, then
/// reads what it needs, with vector accesses along the dim in which both
/// sides hold consecutive elements. Returns the dst tile's converted (packed)
/// values.
SmallVector<Value> convertThroughShared(OpBuilder &b, Location loc, ValueRange elements,
                                        const TileLayout &src, RankedTensorType dstType,
                                        KernelContext &kernel);

/// Pattern populators (one file each).
void populateMemoryPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                            KernelContext &kernel);
void populateLayoutPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                            KernelContext &kernel);
void populateElementwisePatterns(TileTypeConverter &converter, RewritePatternSet &patterns);
void populateExpPolyPatterns(TileTypeConverter &converter, RewritePatternSet &patterns);
void populateReducePatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                            KernelContext &kernel);
void populateDotPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                         KernelContext &kernel);
void populateWgmmaPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                           KernelContext &kernel);
void populatePackPatterns(TileTypeConverter &converter, RewritePatternSet &patterns);
void populateSharedPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                            KernelContext &kernel);

/// Computes KernelContext::vectorWidth for every load and store in `func`.
void analyzeVectorWidths(func::FuncOp func, KernelContext &kernel);

/// Base class for patterns that need the kernel context.
template <typename Op>
class TilePattern : public OpConversionPattern<Op> {
public:
  TilePattern(TileTypeConverter &converter, MLIRContext *context, KernelContext &kernel)
      : OpConversionPattern<Op>(converter, context), kernel(kernel) {}

protected:
  KernelContext &kernel;
};

} // namespace mlir::turbo::lowering

#endif // TURBO_COMPILER_TILELOWERING_H
