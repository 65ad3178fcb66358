//===- TileBuilder.h - building tile arithmetic readably --------*- C++ -*-===//
//
// Thin helpers over OpBuilder for the tile math that templates and the
// expansion passes write: constants and scalars spread over a tile, per-row
// and per-column vectors broadcast to a tile, reductions and casts.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_DIALECT_TILEBUILDER_H
#define TURBO_DIALECT_TILEBUILDER_H

#include "turbo/Dialect/TurboDialect.h"

namespace mlir::turbo {

class TileBuilder {
public:
  TileBuilder(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  OpBuilder &builder() { return b; }
  Location getLoc() const { return loc; }

  /// `shape` x `elementType`, without a layout.
  static RankedTensorType tile(ArrayRef<int64_t> shape, Type elementType) {
    return RankedTensorType::get(shape, elementType);
  }
  /// The same shape with another element type (and the same encoding).
  static RankedTensorType withElementType(Type tileType, Type elementType);

  // Constants: a scalar when `type` is a scalar type, a splat tile otherwise.
  Value constFloat(double value, Type type);
  Value constInt(int64_t value, Type type);
  Value i32(int64_t value) { return constInt(value, b.getI32Type()); }
  Value i64(int64_t value) { return constInt(value, b.getI64Type()); }
  Value f32(double value) { return constFloat(value, b.getF32Type()); }

  /// A scalar value repeated over a tile of `type`.
  Value splat(Value scalar, RankedTensorType type);
  /// A tensor<M> (one value per row) repeated along the columns of `tileType`.
  Value broadcastRows(Value perRow, RankedTensorType tileType);
  /// A tensor<N> (one value per column) repeated along the rows of `tileType`.
  Value broadcastColumns(Value perColumn, RankedTensorType tileType);
  /// `value` if it already has `tileType`'s shape, else the broadcast of a
  /// scalar / per-row vector / per-column vector, as `granularity` says.
  Value broadcastLike(Value value, RankedTensorType tileType, Granularity granularity);

  Value reduce(ReduceKind kind, Value tile, unsigned axis);

  /// Casts between float types, or int <-> float (signed unless `isUnsigned`).
  Value castTo(Value value, Type elementType, bool isUnsigned = false);

  // Elementwise arithmetic on tiles (or scalars) of equal type.
  Value add(Value a, Value b);
  Value sub(Value a, Value b);
  Value mul(Value a, Value b);
  Value div(Value a, Value b);
  Value max(Value a, Value b);
  Value min(Value a, Value b);
  Value clamp(Value v, Value lo, Value hi) { return min(max(v, lo), hi); }
  Value select(Value cond, Value a, Value b);
  Value cmpf(arith::CmpFPredicate predicate, Value a, Value b);
  Value cmpi(arith::CmpIPredicate predicate, Value a, Value b);
  Value roundEven(Value v);

  // Float to integer without the conversion unit: 1.5 * 2^23 has a zero
  // low mantissa, so adding a float x in [0, 2^22) to it (rounding to
  // nearest even) leaves x rounded in those bits. (For i32 -> f32 a plain
  // cvt measured faster in the attention loop than the same trick.)
  /// f32 in [0, 2^22) rounded to nearest even: {as f32, as i32}.
  std::pair<Value, Value> roundSmallNonNegative(Value x);

private:
  OpBuilder &b;
  Location loc;
};

} // namespace mlir::turbo

#endif // TURBO_DIALECT_TILEBUILDER_H
