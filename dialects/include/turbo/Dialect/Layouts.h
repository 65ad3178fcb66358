//===- Layouts.h - where each element of a tile lives -----------*- C++ -*-===//
//
// Every layout encoding (#turbo.blocked, #turbo.linear, #turbo.slice,
// #turbo.mma, #turbo.dot_operand) describes a linear map from the bits of
// (register index, lane id, warp id) to tile coordinates: each bit adds one
// power of two to one coordinate, or nothing (the element is then held in
// several places). TileLayout is that map, built from a tile type; the
// lowering and the layout pass reason about tiles only through it.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_DIALECT_LAYOUTS_H
#define TURBO_DIALECT_LAYOUTS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::turbo {

class BlockedEncodingAttr;
class LinearEncodingAttr;

/// One input bit of the map: it adds `value` to coordinate `dim`
/// (value == 0: the bit does not move the element).
struct LayoutBasis {
  unsigned dim = 0;
  int64_t value = 0;
  /// The dim this bit walked before the tile's shape masked it away; used to
  /// drop a reduced dim's register bits.
  unsigned originDim = 0;
  bool operator==(const LayoutBasis &other) const {
    return dim == other.dim && value == other.value;
  }
};

class TileLayout {
public:
  using Coord = SmallVector<int64_t, 2>;

  /// The layout of `type`, whose encoding must be one of turbo's layouts.
  /// Fails (with a message in `error`) for unsupported shapes or encodings.
  static FailureOr<TileLayout> get(RankedTensorType type, std::string *error = nullptr);

  ArrayRef<int64_t> getShape() const { return shape; }
  unsigned getRank() const { return shape.size(); }
  unsigned getNumRegs() const { return 1u << regBases.size(); }
  unsigned getNumWarps() const { return 1u << warpBases.size(); }
  ArrayRef<LayoutBasis> getRegBases() const { return regBases; }
  ArrayRef<LayoutBasis> getLaneBases() const { return laneBases; }
  ArrayRef<LayoutBasis> getWarpBases() const { return warpBases; }

  /// Coordinates of register `reg` in the thread with lane 0 of warp 0.
  Coord getRegCoord(unsigned reg) const;

  /// True when lanes and warps map to coordinates the same way in both
  /// layouts, ignoring the dims in `ignoredDims` (of `this`).
  bool sameThreadMapping(const TileLayout &other, ArrayRef<unsigned> ignoredDims = {}) const;

  /// For each register of `this`, the register of `src` holding the element
  /// at the same coordinates, where `this` = `src` with dim `insertedDim`
  /// inserted (or none) and the dims in `broadcastDims` read from coordinate
  /// 0 of `src`. Empty when the two do not share a thread mapping (the value
  /// then has to move through shared memory).
  std::optional<SmallVector<unsigned>>
  registerMapFrom(const TileLayout &src, std::optional<unsigned> insertedDim = std::nullopt,
                  ArrayRef<unsigned> broadcastDims = {}) const;

  /// Number of consecutive registers that hold consecutive elements along
  /// `dim` starting at a multiple of that number (the widest vector access).
  unsigned getContiguity(unsigned dim) const;

  /// Remove dim `dim`: register bits along it disappear, lane and warp bits
  /// along it stop moving the element. This is the layout of a reduction's
  /// result.
  TileLayout sliced(unsigned dim) const;

  /// The same registers seen as the transposed (2-D) tile.
  TileLayout transposed() const;

  /// The same registers with every step along `dim` moved to `map(step)`:
  /// `map` permutes the bits of the index along `dim` (turbo.permute_bits),
  /// so it takes each power of two to a power of two.
  TileLayout mappedAlong(unsigned dim, llvm::function_ref<int64_t(int64_t)> map) const;

  /// Same shape, and each register, lane and warp bit moves an element the
  /// same way.
  bool operator==(const TileLayout &other) const;

private:
  SmallVector<int64_t, 2> shape;
  SmallVector<LayoutBasis> regBases, laneBases, warpBases;
};

/// A #turbo.blocked encoding whose layout is `layout` (rank 1 or 2), or null
/// when no blocked layout spreads the tile that way.
BlockedEncodingAttr blockedEncodingFor(MLIRContext *context, const TileLayout &layout);

/// A #turbo.linear encoding whose layout is `layout` up to the order of a
/// thread's registers (those along the last dim come first).
LinearEncodingAttr linearEncodingFor(MLIRContext *context, const TileLayout &layout);

/// Which warps lie along each dim for an accumulator of `numWarps` warps over
/// an MxN tile: as many along M as its 16-row blocks allow.
SmallVector<unsigned, 2> chooseMmaWarps(int64_t m, int64_t n, unsigned numWarps);

/// The instruction shape K of mma.sync for an element type (32 for 8-bit, 16
/// for 16-bit) and the K elements one 32-bit register packs (kWidth).
int64_t mmaInstrK(Type elementType);
unsigned mmaKWidth(Type elementType);

} // namespace mlir::turbo

#endif // TURBO_DIALECT_LAYOUTS_H
