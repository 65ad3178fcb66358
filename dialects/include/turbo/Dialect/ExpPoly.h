//===- ExpPoly.h - the two forms of turbo.exp_poly ---------------*- C++ -*-===//
//
// turbo.exp_poly is lowered in one of two ways with the same results:
// turbo-expand-exp-poly rewrites it into tile arithmetic (any base, result
// type and threshold), or, for base 2 with an f16 result, the tiles-to-
// threads conversion emits it per register pair in f16x2 (t split and the
// polynomial in half2 FMAs, 2^-n subtracted from both exponent fields at
// once). The expansion leaves alone exactly the ops the pair form takes.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_DIALECT_EXPPOLY_H
#define TURBO_DIALECT_EXPPOLY_H

#include "turbo/Dialect/TurboDialect.h"

#include <vector>

namespace mlir::turbo {

/// The polynomial's coefficients, lowest order first: the given ones rounded
/// to f16, or the compiler's least-squares fit.
std::vector<float> expPolyCoefficients(ExpPolyOp op);

/// The smallest and largest values the f16 Horner evaluation of the
/// polynomial takes at the f16 values of f in [-1/2, 1/2].
std::pair<float, float> expPolyRange(const std::vector<float> &coefficients);

/// True when `op` is lowered per register pair in f16x2: base 2, f32 source,
/// f16 result, threshold <= 14 and a polynomial in [1/2, 2). Then P(f) has
/// f16 exponent field 14 or 15 and subtracting n <= 14 from it never
/// borrows from the neighbouring half, and P * 2^-n is exact (normal) for
/// every n below the threshold.
bool expPolyInHalfPairs(ExpPolyOp op);

} // namespace mlir::turbo

#endif // TURBO_DIALECT_EXPPOLY_H
