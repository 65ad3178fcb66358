// Staging-slot geometry (compiler/lib/Conversion/TilesToThreads): the
// padded rows of ldmatrix and the swizzled panels that wgmma reads. The
// swizzle is checked against the hardware's own rule (the 16-byte chunk
// bits of an address XORed with its bits 7 and up), not against the
// formula the code uses.
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"

#include <catch2/catch.hpp>

#include <set>

using namespace mlir;
using mlir::turbo::lowering::SlotGeometry;
using mlir::turbo::lowering::slotGeometry;

namespace {
SlotGeometry geometryOf(MLIRContext &context, int64_t rows, int64_t cols, bool swizzled) {
  auto type = MemRefType::get({2, rows, cols}, IntegerType::get(&context, 8),
                              MemRefLayoutAttrInterface(),
                              IntegerAttr::get(IntegerType::get(&context, 32), 3));
  return slotGeometry(type, swizzled);
}
/// The value of `value`, built from i32 constants by the arith ops the
/// address code uses (the copies compute thread offsets at run time).
int64_t evaluate(Value value) {
  Operation *op = value.getDefiningOp();
  REQUIRE(op);
  if (auto constant = dyn_cast<arith::ConstantOp>(op))
    return cast<IntegerAttr>(constant.getValue()).getInt();
  REQUIRE(op->getNumOperands() == 2);
  const uint32_t a = uint32_t(evaluate(op->getOperand(0)));
  const uint32_t b = uint32_t(evaluate(op->getOperand(1)));
  if (isa<arith::AddIOp>(op))
    return int64_t(a + b);
  if (isa<arith::MulIOp>(op))
    return int64_t(a * b);
  if (isa<arith::AndIOp>(op))
    return int64_t(a & b);
  if (isa<arith::XOrIOp>(op))
    return int64_t(a ^ b);
  if (isa<arith::ShRUIOp>(op))
    return int64_t(a >> b);
  FAIL("unexpected op " << op->getName().getStringRef().str());
  return 0;
}
} // namespace

TEST_CASE("swizzled slots are wgmma's K-major swizzle layouts", "[compiler][wgmma]") {
  MLIRContext context;
  struct Case {
    int64_t rows, cols, width; // width: the swizzle the row length gives
  };
  for (Case c : {Case{64, 128, 128}, Case{128, 64, 64}, Case{128, 32, 32}, Case{64, 256, 128},
                 Case{32, 64, 64}}) {
    INFO("slot " << c.rows << " x " << c.cols << " bytes");
    SlotGeometry slot = geometryOf(context, c.rows, c.cols, true);
    REQUIRE(slot.swizzleBytes == c.width);
    REQUIRE(slot.slotBytes == c.rows * c.cols);
    std::set<int64_t> used;
    for (int64_t row = 0; row < c.rows; ++row)
      for (int64_t col = 0; col < c.cols; ++col) {
        const int64_t at = slot.bytesAt(row, col);
        REQUIRE(at >= 0);
        REQUIRE(at < slot.slotBytes);
        REQUIRE(used.insert(at).second); // one byte per element
        // Bytes stay together in their 16-byte chunk.
        REQUIRE(at % 16 == col % 16);
        // A row is one W-byte line of its panel: 8-row groups are 8W
        // bytes apart (the descriptor's stride), panels rows * W.
        const int64_t panel = col / c.width;
        REQUIRE(at / c.width == panel * c.rows + row);
        // The hardware's rule: chunk bits 4.. of the address are the
        // chunk within the line XOR address bits 7.. (slots are aligned
        // to 1024 bytes, so offsets stand for addresses).
        const int64_t chunks = c.width / 16;
        const int64_t chunkBits = (at >> 4) & (chunks - 1), rowBits = (at >> 7) & (chunks - 1);
        REQUIRE(chunkBits == (((col % c.width) / 16) ^ rowBits));
      }
  }
}

TEST_CASE("run-time slot addresses equal the compile-time ones", "[compiler][wgmma]") {
  MLIRContext context;
  context.loadDialect<arith::ArithDialect>();
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto i32 = [&](int64_t v) -> Value { return arith::ConstantIntOp::create(b, loc, v, 32); };
  for (bool swizzled : {true, false})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{64, 128}, {128, 64}, {128, 32},
                              {64, 256}}) {
      INFO((swizzled ? "swizzled " : "padded ") << rows << " x " << cols);
      SlotGeometry slot = geometryOf(context, rows, cols, swizzled);
      for (int64_t row = 0; row < rows; row += 3)
        for (int64_t col = 0; col < cols; col += 5)
          REQUIRE(evaluate(slot.bytesAt(b, loc, i32(row), i32(col))) == slot.bytesAt(row, col));
    }
}

TEST_CASE("constant offsets add to a thread's base only where the swizzle allows",
          "[compiler][wgmma]") {
  MLIRContext context;
  SlotGeometry slot = geometryOf(context, 64, 256, true); // two 128-byte panels
  for (int64_t dr : {0, 8, 16, 40})
    for (int64_t dc : {0, 128}) {
      REQUIRE(slot.isAdditive(dr, dc));
      for (int64_t row = 0; row + dr < 64; ++row)
        for (int64_t col = 0; col + dc < 256; col += 16)
          REQUIRE(slot.bytesAt(row + dr, col + dc) ==
                  slot.bytesAt(row, col) + slot.bytesAt(dr, dc));
    }
  // Rows inside an 8-row group or chunks inside a panel move the swizzle.
  REQUIRE_FALSE(slot.isAdditive(1, 0));
  REQUIRE_FALSE(slot.isAdditive(0, 16));
  REQUIRE(slot.bytesAt(1, 16) != slot.bytesAt(1, 0) + slot.bytesAt(0, 16));
}

TEST_CASE("padded slots keep ldmatrix's 16-byte row padding", "[compiler]") {
  MLIRContext context;
  SlotGeometry slot = geometryOf(context, 64, 128, false);
  REQUIRE(slot.swizzleBytes == 0);
  REQUIRE(slot.pitchBytes == 144);
  REQUIRE(slot.slotBytes == 64 * 144);
  for (int64_t row : {0, 1, 7, 63})
    for (int64_t col : {0, 1, 17, 127})
      REQUIRE(slot.bytesAt(row, col) == row * 144 + col);
  REQUIRE(slot.isAdditive(1, 16));
}
