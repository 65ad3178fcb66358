//===- Layouts.cpp - the linear map behind each layout encoding -----------===//
#include "turbo/Dialect/Layouts.h"
#include "turbo/Dialect/TurboDialect.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::turbo;

namespace {
/// Collects bases while a layout is built; masks them by the tile shape at
/// the end (a bit that walks past the tile's extent moves nothing).
struct LayoutBuilder {
  SmallVector<LayoutBasis> reg, lane, warp;

  static void addBits(SmallVectorImpl<LayoutBasis> &out, unsigned dim, int64_t first,
                      int64_t count) {
    for (int64_t step = first; step < first * count; step *= 2)
      out.push_back({dim, step, dim});
  }
  static void addZeroBits(SmallVectorImpl<LayoutBasis> &out, unsigned dim, int64_t count) {
    for (int64_t i = 1; i < count; i *= 2)
      out.push_back({dim, 0, dim});
  }
  void mask(ArrayRef<int64_t> shape) {
    for (auto *list : {&reg, &lane, &warp})
      for (LayoutBasis &basis : *list)
        if (basis.value >= shape[basis.dim])
          basis.value = 0;
  }
};

bool isPow2(int64_t v) { return v > 0 && llvm::isPowerOf2_64(v); }

FailureOr<LayoutBuilder> buildLayout(Attribute encoding, ArrayRef<int64_t> shape,
                                     std::string &error);

FailureOr<LayoutBuilder> buildBlocked(BlockedEncodingAttr blocked, ArrayRef<int64_t> shape,
                                      std::string &error) {
  unsigned rank = shape.size();
  if (blocked.getSizePerThread().size() != rank) {
    error = "blocked layout rank does not match the tile";
    return failure();
  }
  LayoutBuilder b;
  ArrayRef<unsigned> order = blocked.getOrder();
  for (unsigned d : order)
    LayoutBuilder::addBits(b.reg, d, 1, blocked.getSizePerThread()[d]);
  for (unsigned d : order)
    LayoutBuilder::addBits(b.lane, d, blocked.getSizePerThread()[d],
                           blocked.getThreadsPerWarp()[d]);
  for (unsigned d : order)
    LayoutBuilder::addBits(b.warp, d,
                           int64_t(blocked.getSizePerThread()[d]) *
                               blocked.getThreadsPerWarp()[d],
                           blocked.getWarpsPerCTA()[d]);
  for (unsigned d : order) {
    int64_t covered = int64_t(blocked.getSizePerThread()[d]) *
                      blocked.getThreadsPerWarp()[d] * blocked.getWarpsPerCTA()[d];
    if (shape[d] > covered)
      LayoutBuilder::addBits(b.reg, d, covered, shape[d] / covered);
  }
  b.mask(shape);
  return b;
}

FailureOr<LayoutBuilder> buildMma(MmaEncodingAttr mma, ArrayRef<int64_t> shape,
                                  std::string &error) {
  ArrayRef<unsigned> warps = mma.getWarpsPerCTA();
  if (shape.size() != 2 || warps.size() != 2) {
    error = "mma layouts are 2-D";
    return failure();
  }
  int64_t wm = warps[0], wn = warps[1];
  // Extents below one block are allowed (a broadcast of a row vector has N =
  // 1): the bits past the extent are masked and the element is replicated.
  LayoutBuilder b;
  b.reg = {{1, 1, 1}, {0, 8, 0}};
  LayoutBuilder::addBits(b.reg, 1, 8 * wn, std::max<int64_t>(1, shape[1] / (8 * wn)));
  LayoutBuilder::addBits(b.reg, 0, 16 * wm, std::max<int64_t>(1, shape[0] / (16 * wm)));
  b.lane = {{1, 2, 1}, {1, 4, 1}, {0, 1, 0}, {0, 2, 0}, {0, 4, 0}};
  LayoutBuilder::addBits(b.warp, 0, 16, wm);
  LayoutBuilder::addBits(b.warp, 1, 8, wn);
  b.mask(shape);
  return b;
}

FailureOr<LayoutBuilder> buildDotOperand(DotOperandEncodingAttr operand,
                                         ArrayRef<int64_t> shape, std::string &error) {
  auto mma = dyn_cast<MmaEncodingAttr>(operand.getParent());
  if (!mma || shape.size() != 2) {
    error = "a dot operand's parent must be a #turbo.mma and the tile 2-D";
    return failure();
  }
  int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
  int64_t kWidth = operand.getKWidth();
  int64_t instrK = 8 * kWidth;
  bool isA = operand.getOpIdx() == 0;
  unsigned kDim = isA ? 1 : 0, otherDim = isA ? 0 : 1;
  int64_t k = shape[kDim], other = shape[otherDim];
  int64_t otherBlock = isA ? 16 * wm : 8 * wn;
  if (!isPow2(kWidth) || kWidth > 4 || k % instrK ||
      (other % otherBlock && other > otherBlock)) {
    error = llvm::formatv("dot operand {0} of {1}x{2} does not split into mma "
                          "fragments (k step {3}, {4} rows per step)",
                          operand.getOpIdx(), shape[0], shape[1], instrK, otherBlock)
                .str();
    return failure();
  }
  LayoutBuilder b;
  LayoutBuilder::addBits(b.reg, kDim, 1, kWidth);
  if (isA)
    b.reg.push_back({otherDim, 8, otherDim});
  b.reg.push_back({kDim, 4 * kWidth, kDim});
  LayoutBuilder::addBits(b.reg, kDim, instrK, k / instrK);
  LayoutBuilder::addBits(b.reg, otherDim, otherBlock, std::max<int64_t>(1, other / otherBlock));
  b.lane = {{kDim, kWidth, kDim}, {kDim, 2 * kWidth, kDim}, {otherDim, 1, otherDim},
            {otherDim, 2, otherDim}, {otherDim, 4, otherDim}};
  if (isA) {
    LayoutBuilder::addBits(b.warp, 0, 16, wm);
    LayoutBuilder::addZeroBits(b.warp, 1, wn);
  } else {
    LayoutBuilder::addZeroBits(b.warp, 0, wm);
    LayoutBuilder::addBits(b.warp, 1, 8, wn);
  }
  b.mask(shape);
  return b;
}

FailureOr<LayoutBuilder> buildLinear(LinearEncodingAttr linear, ArrayRef<int64_t> shape,
                                     std::string &error) {
  LayoutBuilder b;
  auto read = [&](ArrayRef<int64_t> flat, SmallVectorImpl<LayoutBasis> &out) {
    for (size_t i = 0; i < flat.size(); i += 2) {
      if (flat[i] >= int64_t(shape.size()))
        return false;
      out.push_back({unsigned(flat[i]), flat[i + 1], unsigned(flat[i])});
    }
    return true;
  };
  if (!read(linear.getReg(), b.reg) || !read(linear.getLane(), b.lane) ||
      !read(linear.getWarp(), b.warp)) {
    error = "a #turbo.linear basis names a dim the tile does not have";
    return failure();
  }
  b.mask(shape);
  return b;
}

FailureOr<LayoutBuilder> buildLayout(Attribute encoding, ArrayRef<int64_t> shape,
                                     std::string &error) {
  for (int64_t extent : shape)
    if (!isPow2(extent)) {
      error = "tile extents must be powers of two";
      return failure();
    }
  if (auto blocked = dyn_cast_or_null<BlockedEncodingAttr>(encoding))
    return buildBlocked(blocked, shape, error);
  if (auto mma = dyn_cast_or_null<MmaEncodingAttr>(encoding))
    return buildMma(mma, shape, error);
  if (auto operand = dyn_cast_or_null<DotOperandEncodingAttr>(encoding))
    return buildDotOperand(operand, shape, error);
  if (auto linear = dyn_cast_or_null<LinearEncodingAttr>(encoding))
    return buildLinear(linear, shape, error);
  error = "tile has no turbo layout encoding (run turbo-assign-layouts)";
  return failure();
}
} // namespace

FailureOr<TileLayout> TileLayout::get(RankedTensorType type, std::string *error) {
  std::string message;
  TileLayout layout;
  layout.shape.assign(type.getShape().begin(), type.getShape().end());
  if (auto slice = dyn_cast_or_null<SliceEncodingAttr>(type.getEncoding())) {
    SmallVector<int64_t> parentShape(type.getShape());
    if (slice.getDim() > parentShape.size()) {
      if (error)
        *error = "slice dim out of range";
      return failure();
    }
    parentShape.insert(parentShape.begin() + slice.getDim(), 1);
    auto parentType =
        RankedTensorType::get(parentShape, type.getElementType(), slice.getParent());
    FailureOr<TileLayout> parent = get(parentType, error);
    if (failed(parent))
      return failure();
    return parent->sliced(slice.getDim());
  }
  FailureOr<LayoutBuilder> built = buildLayout(type.getEncoding(), type.getShape(), message);
  if (failed(built)) {
    if (error)
      *error = message;
    return failure();
  }
  // Beyond 2^20 registers a thread no tile fits (and the index would not fit
  // the unsigned register numbers).
  if (built->reg.size() > 20) {
    if (error)
      *error = "a layout must give a thread at most 2^20 registers of a tile";
    return failure();
  }
  layout.regBases = std::move(built->reg);
  layout.laneBases = std::move(built->lane);
  layout.warpBases = std::move(built->warp);
  if (layout.laneBases.size() != 5) {
    if (error)
      *error = "a layout must spread over exactly 32 lanes";
    return failure();
  }
  return layout;
}

TileLayout TileLayout::sliced(unsigned dim) const {
  TileLayout out;
  out.shape.assign(shape.begin(), shape.end());
  out.shape.erase(out.shape.begin() + dim);
  auto renumber = [&](LayoutBasis basis) {
    if (basis.dim == dim)
      return LayoutBasis{0, 0, 0};
    unsigned newDim = basis.dim > dim ? basis.dim - 1 : basis.dim;
    unsigned newOrigin = basis.originDim > dim ? basis.originDim - 1 : basis.originDim;
    return LayoutBasis{newDim, basis.value, newOrigin};
  };
  for (const LayoutBasis &basis : regBases)
    if (basis.originDim != dim)
      out.regBases.push_back(renumber(basis));
  for (const LayoutBasis &basis : laneBases)
    out.laneBases.push_back(renumber(basis));
  for (const LayoutBasis &basis : warpBases)
    out.warpBases.push_back(renumber(basis));
  return out;
}

TileLayout TileLayout::transposed() const {
  TileLayout out = *this;
  std::swap(out.shape[0], out.shape[1]);
  for (auto *list : {&out.regBases, &out.laneBases, &out.warpBases})
    for (LayoutBasis &basis : *list) {
      basis.dim = 1 - basis.dim;
      basis.originDim = 1 - basis.originDim;
    }
  return out;
}

TileLayout TileLayout::mappedAlong(unsigned dim,
                                   llvm::function_ref<int64_t(int64_t)> map) const {
  TileLayout out = *this;
  for (auto *list : {&out.regBases, &out.laneBases, &out.warpBases})
    for (LayoutBasis &basis : *list)
      if (basis.dim == dim && basis.value != 0)
        basis.value = map(basis.value);
  return out;
}

bool TileLayout::operator==(const TileLayout &other) const {
  return shape == other.shape && regBases == other.regBases &&
         laneBases == other.laneBases && warpBases == other.warpBases;
}

TileLayout::Coord TileLayout::getRegCoord(unsigned reg) const {
  Coord coord(shape.size(), 0);
  for (auto [bit, basis] : llvm::enumerate(regBases))
    if (reg & (1u << bit))
      coord[basis.dim] += basis.value;
  return coord;
}

namespace {
/// Coordinates of a basis after dropping `inserted` and zeroing `zeroed`.
SmallVector<int64_t, 2> projectBasis(const LayoutBasis &basis, unsigned rank,
                                     std::optional<unsigned> inserted,
                                     ArrayRef<unsigned> zeroed) {
  SmallVector<int64_t, 2> coord(rank, 0);
  coord[basis.dim] = basis.value;
  for (unsigned d : zeroed)
    coord[d] = 0;
  if (inserted)
    coord.erase(coord.begin() + *inserted);
  return coord;
}

SmallVector<int64_t, 2> basisCoord(const LayoutBasis &basis, unsigned rank) {
  SmallVector<int64_t, 2> coord(rank, 0);
  coord[basis.dim] = basis.value;
  return coord;
}
} // namespace

bool TileLayout::sameThreadMapping(const TileLayout &other,
                                   ArrayRef<unsigned> ignoredDims) const {
  if (other.getRank() != getRank() || laneBases.size() != other.laneBases.size() ||
      warpBases.size() != other.warpBases.size())
    return false;
  auto same = [&](ArrayRef<LayoutBasis> mine, ArrayRef<LayoutBasis> theirs) {
    for (auto [a, b] : llvm::zip(mine, theirs))
      if (projectBasis(a, getRank(), std::nullopt, ignoredDims) !=
          projectBasis(b, getRank(), std::nullopt, ignoredDims))
        return false;
    return true;
  };
  return same(laneBases, other.laneBases) && same(warpBases, other.warpBases);
}

std::optional<SmallVector<unsigned>>
TileLayout::registerMapFrom(const TileLayout &src, std::optional<unsigned> insertedDim,
                            ArrayRef<unsigned> broadcastDims) const {
  unsigned rank = getRank();
  if (src.getRank() + (insertedDim ? 1 : 0) != rank)
    return std::nullopt;
  if (laneBases.size() != src.laneBases.size() || warpBases.size() != src.warpBases.size())
    return std::nullopt;
  auto threadBitsMatch = [&](ArrayRef<LayoutBasis> mine, ArrayRef<LayoutBasis> theirs) {
    for (auto [a, b] : llvm::zip(mine, theirs))
      if (projectBasis(a, rank, insertedDim, broadcastDims) !=
          basisCoord(b, src.getRank()))
        return false;
    return true;
  };
  if (!threadBitsMatch(laneBases, src.laneBases) || !threadBitsMatch(warpBases, src.warpBases))
    return std::nullopt;

  llvm::DenseMap<std::pair<int64_t, int64_t>, unsigned> srcRegAt;
  auto key = [](ArrayRef<int64_t> c) {
    return std::make_pair(c.size() > 0 ? c[0] : 0, c.size() > 1 ? c[1] : 0);
  };
  for (unsigned reg = src.getNumRegs(); reg-- > 0;)
    srcRegAt[key(src.getRegCoord(reg))] = reg;
  SmallVector<unsigned> map;
  for (unsigned reg = 0; reg < getNumRegs(); ++reg) {
    Coord coord = getRegCoord(reg);
    for (unsigned d : broadcastDims)
      coord[d] = 0;
    if (insertedDim)
      coord.erase(coord.begin() + *insertedDim);
    auto it = srcRegAt.find(key(coord));
    if (it == srcRegAt.end())
      return std::nullopt;
    map.push_back(it->second);
  }
  return map;
}

unsigned TileLayout::getContiguity(unsigned dim) const {
  unsigned width = 1;
  for (const LayoutBasis &basis : regBases) {
    if (basis.dim != dim || basis.value != width)
      break;
    width *= 2;
  }
  return width;
}

BlockedEncodingAttr mlir::turbo::blockedEncodingFor(MLIRContext *context,
                                                   const TileLayout &layout) {
  // Few candidates: powers of two per dim for the elements per thread, the
  // lanes and the warps along each dim, in either order; the one whose map
  // is `layout` bit for bit.
  ArrayRef<int64_t> shape = layout.getShape();
  const unsigned rank = layout.getRank(), warps = layout.getNumWarps();
  if (rank != 1 && rank != 2)
    return nullptr;
  auto matches = [&](BlockedEncodingAttr candidate) {
    auto type = RankedTensorType::get(shape, IntegerType::get(context, 8), candidate);
    FailureOr<TileLayout> built = TileLayout::get(type);
    return succeeded(built) && *built == layout;
  };
  if (rank == 1) {
    for (int64_t size = 1; size <= shape[0]; size *= 2) {
      auto candidate = BlockedEncodingAttr::get(context, {unsigned(size)}, {32}, {warps}, {0});
      if (matches(candidate))
        return candidate;
    }
    return nullptr;
  }
  for (SmallVector<unsigned, 2> order : {SmallVector<unsigned, 2>{1, 0}, {0, 1}})
    for (int64_t size0 = 1; size0 <= shape[0]; size0 *= 2)
      for (int64_t size1 = 1; size1 <= shape[1]; size1 *= 2)
        for (unsigned lanes0 = 1; lanes0 <= 32; lanes0 *= 2)
          for (unsigned warps0 = 1; warps0 <= warps; warps0 *= 2) {
            auto candidate = BlockedEncodingAttr::get(
                context, {unsigned(size0), unsigned(size1)}, {lanes0, 32 / lanes0},
                {warps0, warps / warps0}, order);
            if (matches(candidate))
              return candidate;
          }
  return nullptr;
}

LinearEncodingAttr mlir::turbo::linearEncodingFor(MLIRContext *context,
                                                 const TileLayout &layout) {
  // Registers along the last dim first: the layouts of packed codes and of
  // their bytes (turbo.unpack, turbo.split_words) then differ by the low
  // register bits, as the lowering of those ops needs; the order of a
  // thread's registers is otherwise free (uses relabel them).
  const unsigned inner = layout.getRank() - 1;
  SmallVector<int64_t> reg, lane, warp;
  auto append = [](SmallVectorImpl<int64_t> &out, const LayoutBasis &basis) {
    out.push_back(basis.dim);
    out.push_back(basis.value);
  };
  for (bool innerPass : {true, false})
    for (const LayoutBasis &basis : layout.getRegBases())
      if ((basis.dim == inner) == innerPass)
        append(reg, basis);
  for (const LayoutBasis &basis : layout.getLaneBases())
    append(lane, basis);
  for (const LayoutBasis &basis : layout.getWarpBases())
    append(warp, basis);
  return LinearEncodingAttr::get(context, reg, lane, warp);
}

SmallVector<unsigned, 2> mlir::turbo::chooseMmaWarps(int64_t m, int64_t n, unsigned numWarps) {
  unsigned wm = std::min<int64_t>(numWarps, std::max<int64_t>(1, m / 16));
  unsigned wn = numWarps / wm;
  return {wm, wn};
}

int64_t mlir::turbo::mmaInstrK(Type elementType) {
  return elementType.getIntOrFloatBitWidth() == 8 ? 32 : 16;
}

unsigned mlir::turbo::mmaKWidth(Type elementType) {
  return 32 / elementType.getIntOrFloatBitWidth();
}
