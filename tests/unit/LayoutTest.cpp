//===- LayoutTest.cpp - layouts against their definitions -----------------===//
//
// The mma and dot-operand layouts are checked against the fragment formulas
// of the PTX ISA (mma.sync.m16n8k32 for 8-bit, m16n8k16 for 16-bit
// operands), written out here independently of Layouts.cpp; blocked layouts
// against coverage (every element held, each the same number of times);
// linear layouts against the layouts they are written from.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/Layouts.h"
#include "turbo/Dialect/TurboDialect.h"
#include "turbo/Support/KvCache.h"

#include "mlir/IR/MLIRContext.h"

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace mlir;
using namespace mlir::turbo;

namespace {
struct Context {
  MLIRContext context;
  Context() { context.loadDialect<TurboDialect>(); }
};

/// Coordinate of register `reg` held by lane `lane` of warp `warp`.
TileLayout::Coord coordOf(const TileLayout &layout, unsigned reg, unsigned lane,
                          unsigned warp) {
  TileLayout::Coord coord = layout.getRegCoord(reg);
  auto add = [&](ArrayRef<LayoutBasis> bases, unsigned id) {
    for (auto [bit, basis] : llvm::enumerate(bases))
      if (id & (1u << bit))
        coord[basis.dim] += basis.value;
  };
  add(layout.getLaneBases(), lane);
  add(layout.getWarpBases(), warp);
  return coord;
}

std::map<std::pair<int64_t, int64_t>, int> holders(const TileLayout &layout) {
  std::map<std::pair<int64_t, int64_t>, int> count;
  for (unsigned warp = 0; warp < layout.getNumWarps(); ++warp)
    for (unsigned lane = 0; lane < 32; ++lane)
      for (unsigned reg = 0; reg < layout.getNumRegs(); ++reg) {
        auto c = coordOf(layout, reg, lane, warp);
        ++count[{c[0], c.size() > 1 ? c[1] : 0}];
      }
  return count;
}

TileLayout layoutFor(MLIRContext &context, ArrayRef<int64_t> shape, Type element,
                     Attribute encoding) {
  auto layout = TileLayout::get(RankedTensorType::get(shape, element, encoding));
  REQUIRE(succeeded(layout));
  return *layout;
}
} // namespace

TEST_CASE("blocked layouts hold every element equally often", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  Type f16 = Float16Type::get(&ctx);
  struct Case {
    SmallVector<int64_t> shape;
    SmallVector<unsigned> spt, tpw, wpc, order;
    int copies;
  };
  std::vector<Case> cases = {
      {{64, 128}, {1, 8}, {2, 16}, {4, 1}, {1, 0}, 1},
      {{16, 128}, {1, 8}, {2, 16}, {4, 1}, {1, 0}, 1},
      {{8, 128}, {1, 8}, {2, 16}, {4, 1}, {1, 0}, 1},  // rows wrap: 8 < 2 * 4
      {{4, 32}, {1, 8}, {2, 16}, {4, 1}, {1, 0}, 8},   // rows and columns wrap
      {{128, 64}, {4, 1}, {8, 4}, {1, 4}, {0, 1}, 1},
  };
  for (const Case &test : cases) {
    auto attr = BlockedEncodingAttr::get(&ctx, test.spt, test.tpw, test.wpc, test.order);
    TileLayout layout = layoutFor(ctx, test.shape, f16, attr);
    auto count = holders(layout);
    REQUIRE(int64_t(count.size()) == test.shape[0] * test.shape[1]);
    for (auto &[coord, n] : count) {
      REQUIRE(coord.first < test.shape[0]);
      REQUIRE(coord.second < test.shape[1]);
      REQUIRE(n == test.copies);
    }
  }
}

TEST_CASE("mma accumulator matches the PTX m16n8 C fragment", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  TileLayout layout = layoutFor(ctx, {64, 16}, IntegerType::get(&ctx, 32), mma);
  REQUIRE(layout.getNumRegs() == 8); // two 16x8 blocks per warp
  for (unsigned warp = 0; warp < 4; ++warp)
    for (unsigned lane = 0; lane < 32; ++lane)
      for (unsigned block = 0; block < 2; ++block)
        for (unsigned i = 0; i < 4; ++i) {
          // PTX: c_i: row = groupID (+8 for i >= 2), col = threadID_in_group*2 + (i & 1)
          int64_t row = warp * 16 + lane / 4 + (i >= 2 ? 8 : 0);
          int64_t col = block * 8 + (lane % 4) * 2 + (i & 1);
          auto coord = coordOf(layout, block * 4 + i, lane, warp);
          REQUIRE(coord[0] == row);
          REQUIRE(coord[1] == col);
        }
}

TEST_CASE("s8 operands match the PTX m16n8k32 A and B fragments", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  Type i8 = IntegerType::get(&ctx, 8);
  TileLayout a = layoutFor(ctx, {64, 32}, i8, DotOperandEncodingAttr::get(&ctx, 0, mma, 4));
  TileLayout b = layoutFor(ctx, {32, 8}, i8, DotOperandEncodingAttr::get(&ctx, 1, mma, 4));
  REQUIRE(a.getNumRegs() == 16);
  REQUIRE(b.getNumRegs() == 8);
  for (unsigned warp = 0; warp < 4; ++warp)
    for (unsigned lane = 0; lane < 32; ++lane) {
      unsigned group = lane / 4, inGroup = lane % 4;
      for (unsigned i = 0; i < 16; ++i) {
        // A: row = groupID for a0-a3 and a8-a11, +8 otherwise;
        //    col = threadID_in_group*4 + (i & 3), +16 for i >= 8.
        int64_t row = warp * 16 + group + ((i >= 4 && i < 8) || i >= 12 ? 8 : 0);
        int64_t col = inGroup * 4 + (i & 3) + (i >= 8 ? 16 : 0);
        auto coord = coordOf(a, i, lane, warp);
        REQUIRE(coord[0] == row);
        REQUIRE(coord[1] == col);
      }
      for (unsigned i = 0; i < 8; ++i) {
        // B: row (k) = threadID_in_group*4 + (i & 3), +16 for i >= 4; col = groupID.
        auto coord = coordOf(b, i, lane, warp);
        REQUIRE(coord[0] == int64_t(inGroup * 4 + (i & 3) + (i >= 4 ? 16 : 0)));
        REQUIRE(coord[1] == int64_t(group));
      }
    }
}

TEST_CASE("f16 operands match the PTX m16n8k16 A and B fragments", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  auto mma = MmaEncodingAttr::get(&ctx, {1, 1});
  Type f16 = Float16Type::get(&ctx);
  TileLayout a = layoutFor(ctx, {16, 16}, f16, DotOperandEncodingAttr::get(&ctx, 0, mma, 2));
  TileLayout b = layoutFor(ctx, {16, 8}, f16, DotOperandEncodingAttr::get(&ctx, 1, mma, 2));
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned group = lane / 4, inGroup = lane % 4;
    for (unsigned i = 0; i < 8; ++i) {
      // A: row = groupID for a0,a1,a4,a5, +8 for a2,a3,a6,a7;
      //    col = threadID_in_group*2 + (i & 1), +8 for i >= 4.
      auto coord = coordOf(a, i, lane, 0);
      REQUIRE(coord[0] == int64_t(group + ((i & 2) ? 8 : 0)));
      REQUIRE(coord[1] == int64_t(inGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0)));
    }
    for (unsigned i = 0; i < 4; ++i) {
      // B: row = threadID_in_group*2 + (i & 1), +8 for i >= 2; col = groupID.
      auto coord = coordOf(b, i, lane, 0);
      REQUIRE(coord[0] == int64_t(inGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0)));
      REQUIRE(coord[1] == int64_t(group));
    }
  }
}

TEST_CASE("a slice keeps the parent's other coordinates", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  Type f32 = Float32Type::get(&ctx);
  TileLayout parent = layoutFor(ctx, {64, 64}, f32, mma);
  TileLayout rows = layoutFor(ctx, {64}, f32, SliceEncodingAttr::get(&ctx, 1, mma));
  // Each thread holds 2 rows (groupID and groupID + 8) of its warp's 16.
  REQUIRE(rows.getNumRegs() == 2);
  for (unsigned warp = 0; warp < 4; ++warp)
    for (unsigned lane = 0; lane < 32; ++lane)
      for (unsigned reg = 0; reg < rows.getNumRegs(); ++reg) {
        int64_t row = coordOf(rows, reg, lane, warp)[0];
        bool found = false;
        for (unsigned p = 0; p < parent.getNumRegs(); ++p)
          found |= coordOf(parent, p, lane, warp)[0] == row;
        REQUIRE(found);
      }
  // Broadcasting the row vector back needs no data movement.
  TileLayout column = layoutFor(ctx, {64, 1}, f32, mma);
  REQUIRE(column.registerMapFrom(rows, 1u).has_value());
  TileLayout full = layoutFor(ctx, {64, 64}, f32, mma);
  REQUIRE(full.registerMapFrom(column, std::nullopt, {1}).has_value());
  // Between unrelated layouts there is no register map.
  auto blocked = BlockedEncodingAttr::get(&ctx, {1, 4}, {4, 8}, {4, 1}, {1, 0});
  REQUIRE_FALSE(full.registerMapFrom(layoutFor(ctx, {64, 64}, f32, blocked)).has_value());
}

TEST_CASE("contiguity follows the leading register bits", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  Type f16 = Float16Type::get(&ctx);
  auto blocked = BlockedEncodingAttr::get(&ctx, {1, 8}, {2, 16}, {4, 1}, {1, 0});
  REQUIRE(layoutFor(ctx, {16, 128}, f16, blocked).getContiguity(1) == 8);
  REQUIRE(layoutFor(ctx, {16, 128}, f16, blocked).getContiguity(0) == 1);
  // A tile narrower than one thread's vector wraps: contiguity stops at 4.
  REQUIRE(layoutFor(ctx, {16, 4}, f16, blocked).getContiguity(1) == 4);
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  REQUIRE(layoutFor(ctx, {64, 64}, Float32Type::get(&ctx), mma).getContiguity(1) == 2);
}

namespace {
/// The coordinates each (warp, lane) holds, in any register order.
std::map<std::pair<unsigned, unsigned>, std::multiset<TileLayout::Coord>>
spread(const TileLayout &layout) {
  std::map<std::pair<unsigned, unsigned>, std::multiset<TileLayout::Coord>> held;
  for (unsigned warp = 0; warp < layout.getNumWarps(); ++warp)
    for (unsigned lane = 0; lane < 32; ++lane)
      for (unsigned reg = 0; reg < layout.getNumRegs(); ++reg)
        held[{warp, lane}].insert(coordOf(layout, reg, lane, warp));
  return held;
}
} // namespace

TEST_CASE("a linear layout spreads a tile as the layout it is written from", "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  Type f16 = Float16Type::get(&ctx), f32 = Float32Type::get(&ctx);
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  struct Case {
    SmallVector<int64_t, 2> shape;
    Type element;
    Attribute encoding;
  };
  for (const Case &k : {Case{{64, 128}, f16, DotOperandEncodingAttr::get(&ctx, 0, mma, 2)},
                        Case{{128, 8}, f16, DotOperandEncodingAttr::get(&ctx, 1, mma, 2)},
                        Case{{64, 8}, f32, mma},
                        Case{{64}, f32, SliceEncodingAttr::get(&ctx, 1, mma)},
                        Case{{16, 128}, f16, BlockedEncodingAttr::get(&ctx, {1, 8}, {2, 16},
                                                                      {4, 1}, {1, 0})}}) {
    TileLayout from = layoutFor(ctx, k.shape, k.element, k.encoding);
    LinearEncodingAttr linear = linearEncodingFor(&ctx, from);
    TileLayout written = layoutFor(ctx, k.shape, k.element, linear);
    REQUIRE(spread(written) == spread(from));
    // Only the order of a thread's registers may differ: values move by relabeling.
    REQUIRE(written.registerMapFrom(from).has_value());
  }
}

TEST_CASE("the cache's fragment order holds an A operand's rows as runs no blocked layout has",
          "[layout]") {
  Context c;
  MLIRContext &ctx = c.context;
  Type f16 = Float16Type::get(&ctx);
  // K as decode's A operand (keys_in_m): 64 keys x 128 channels, 4 warps
  // along the keys. The same registers seen in the cache's stored channel
  // order are what the page's loads must produce.
  auto mma = MmaEncodingAttr::get(&ctx, {4, 1});
  TileLayout operand = layoutFor(ctx, {64, 128}, f16, DotOperandEncodingAttr::get(&ctx, 0, mma, 2));
  TileLayout stored = operand.mappedAlong(
      1, [](int64_t channel) { return ::turbo::kv::fragmentPosition(channel, 128); });
  // A thread's rows are 8 lanes apart, then a register step of 8, then the
  // warps: not a blocked layout.
  REQUIRE_FALSE(blockedEncodingFor(&ctx, stored));
  TileLayout loaded = layoutFor(ctx, {64, 128}, f16, linearEncodingFor(&ctx, stored));
  REQUIRE(spread(loaded) == spread(stored));
  // Each of a thread's key rows is one run of 32 stored channels: 16 bytes of
  // 4-bit codes, one vector load.
  REQUIRE(loaded.getContiguity(1) == 32);
}
