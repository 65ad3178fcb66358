//===- TileBuilder.cpp - building tile arithmetic readably ----------------===//
#include "turbo/Dialect/TileBuilder.h"

using namespace mlir;
using namespace mlir::turbo;

RankedTensorType TileBuilder::withElementType(Type tileType, Type elementType) {
  auto tensor = cast<RankedTensorType>(tileType);
  return RankedTensorType::get(tensor.getShape(), elementType, tensor.getEncoding());
}

static Type elementTypeOf(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return tensor.getElementType();
  return type;
}

Value TileBuilder::constFloat(double value, Type type) {
  auto element = cast<FloatType>(elementTypeOf(type));
  TypedAttr attr = b.getFloatAttr(element, value);
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    attr = DenseElementsAttr::get(tensor, attr);
  return arith::ConstantOp::create(b, loc, attr);
}

Value TileBuilder::constInt(int64_t value, Type type) {
  TypedAttr attr = b.getIntegerAttr(elementTypeOf(type), value);
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    attr = DenseElementsAttr::get(tensor, attr);
  return arith::ConstantOp::create(b, loc, attr);
}

Value TileBuilder::splat(Value scalar, RankedTensorType type) {
  return SplatOp::create(b, loc, type, scalar);
}

Value TileBuilder::broadcastRows(Value perRow, RankedTensorType tileType) {
  auto vector = cast<RankedTensorType>(perRow.getType());
  auto column = RankedTensorType::get({vector.getDimSize(0), 1}, vector.getElementType());
  Value expanded = ExpandDimsOp::create(b, loc, column, perRow, 1);
  return BroadcastOp::create(b, loc, withElementType(tileType, vector.getElementType()),
                             expanded);
}

Value TileBuilder::broadcastColumns(Value perColumn, RankedTensorType tileType) {
  auto vector = cast<RankedTensorType>(perColumn.getType());
  auto row = RankedTensorType::get({1, vector.getDimSize(0)}, vector.getElementType());
  Value expanded = ExpandDimsOp::create(b, loc, row, perColumn, 0);
  return BroadcastOp::create(b, loc, withElementType(tileType, vector.getElementType()),
                             expanded);
}

Value TileBuilder::broadcastLike(Value value, RankedTensorType tileType,
                                 Granularity granularity) {
  switch (granularity) {
  case Granularity::Tile:
    return splat(value, withElementType(tileType, value.getType()));
  case Granularity::Row:
    return broadcastRows(value, tileType);
  case Granularity::Column:
    return broadcastColumns(value, tileType);
  }
  llvm_unreachable("unknown granularity");
}

Value TileBuilder::reduce(ReduceKind kind, Value tile, unsigned axis) {
  auto type = cast<RankedTensorType>(tile.getType());
  Type result = type.getElementType();
  if (type.getRank() > 1) {
    SmallVector<int64_t> shape(type.getShape());
    shape.erase(shape.begin() + axis);
    result = RankedTensorType::get(shape, type.getElementType());
  }
  return ReduceOp::create(b, loc, result, kind, tile, axis);
}

Value TileBuilder::castTo(Value value, Type elementType, bool isUnsigned) {
  Type from = elementTypeOf(value.getType());
  if (from == elementType)
    return value;
  Type to = isa<RankedTensorType>(value.getType())
                ? Type(withElementType(value.getType(), elementType))
                : elementType;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(elementType);
  if (fromFloat && toFloat) {
    if (from.getIntOrFloatBitWidth() < elementType.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, value);
    return arith::TruncFOp::create(b, loc, to, value);
  }
  if (fromFloat)
    return isUnsigned ? Value(arith::FPToUIOp::create(b, loc, to, value))
                      : Value(arith::FPToSIOp::create(b, loc, to, value));
  if (toFloat)
    return isUnsigned ? Value(arith::UIToFPOp::create(b, loc, to, value))
                      : Value(arith::SIToFPOp::create(b, loc, to, value));
  if (from.getIntOrFloatBitWidth() < elementType.getIntOrFloatBitWidth())
    return isUnsigned ? Value(arith::ExtUIOp::create(b, loc, to, value))
                      : Value(arith::ExtSIOp::create(b, loc, to, value));
  return arith::TruncIOp::create(b, loc, to, value);
}

static bool isFloatLike(Value v) { return isa<FloatType>(elementTypeOf(v.getType())); }

Value TileBuilder::add(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::AddFOp::create(b, loc, a, c))
                        : Value(arith::AddIOp::create(b, loc, a, c));
}
Value TileBuilder::sub(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::SubFOp::create(b, loc, a, c))
                        : Value(arith::SubIOp::create(b, loc, a, c));
}
Value TileBuilder::mul(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::MulFOp::create(b, loc, a, c))
                        : Value(arith::MulIOp::create(b, loc, a, c));
}
Value TileBuilder::div(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::DivFOp::create(b, loc, a, c))
                        : Value(arith::DivSIOp::create(b, loc, a, c));
}
Value TileBuilder::max(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::MaximumFOp::create(b, loc, a, c))
                        : Value(arith::MaxSIOp::create(b, loc, a, c));
}
Value TileBuilder::min(Value a, Value c) {
  return isFloatLike(a) ? Value(arith::MinimumFOp::create(b, loc, a, c))
                        : Value(arith::MinSIOp::create(b, loc, a, c));
}
Value TileBuilder::select(Value cond, Value a, Value c) {
  return arith::SelectOp::create(b, loc, cond, a, c);
}
Value TileBuilder::cmpf(arith::CmpFPredicate predicate, Value a, Value c) {
  return arith::CmpFOp::create(b, loc, predicate, a, c);
}
Value TileBuilder::cmpi(arith::CmpIPredicate predicate, Value a, Value c) {
  return arith::CmpIOp::create(b, loc, predicate, a, c);
}
Value TileBuilder::roundEven(Value v) { return math::RoundEvenOp::create(b, loc, v); }

namespace {
constexpr int64_t kMagicBits = 0x4B400000; // 1.5 * 2^23 as f32 bits
constexpr double kMagic = 12582912.0;
} // namespace

std::pair<Value, Value> TileBuilder::roundSmallNonNegative(Value x) {
  Type floats = x.getType();
  Type ints = withElementType(floats, b.getI32Type());
  Value shifted = add(x, constFloat(kMagic, floats));
  Value rounded = sub(shifted, constFloat(kMagic, floats));
  Value bits = arith::BitcastOp::create(b, loc, ints, shifted);
  return {rounded, sub(bits, constInt(kMagicBits, ints))};
}
