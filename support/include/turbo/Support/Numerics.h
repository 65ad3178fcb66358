//===- Numerics.h - shared scalar numerics (no MLIR) ------------*- C++ -*-===//
//
// Scalar arithmetic that the compiler and the CPU references must agree on
// bit for bit: f16/bf16 rounding, f16 fused multiply-add, and the SAS
// polynomial fit and evaluation. Plain C++ so the reference implementations
// and the runtime can use it without LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_NUMERICS_H
#define TURBO_SUPPORT_NUMERICS_H

#include <cstdint>
#include <vector>

namespace turbo::numerics {

/// IEEE binary16 bits of `value`, rounded to nearest even (NaN stays NaN,
/// overflow goes to infinity), as cvt.rn.f16.f32 does.
uint16_t floatToHalf(float value);
float halfToFloat(uint16_t bits);
/// `value` rounded to the nearest f16, as a float.
inline float roundToHalf(float value) { return halfToFloat(floatToHalf(value)); }

/// bfloat16 bits of `value`, rounded to nearest even.
uint16_t floatToBFloat(float value);
float bfloatToFloat(uint16_t bits);

/// fma.rn.f16: a * b + c with one rounding to f16 (all arguments are f16
/// values held in floats).
float fmaHalf(float a, float b, float c);

/// Symmetric INT8 as turbo.quantize computes it (bits 8, f32 arithmetic):
/// a group with absolute maximum `amax` gets scale = amax / 127 and codes
/// clamp(roundeven(x * (127 / amax)), -127, 127), all 0 when amax is 0.
/// The one CPU form of that rule, for every reference.
struct SymmetricInt8 {
  explicit SymmetricInt8(float amax);
  float scale;   ///< amax / 127
  float inverse; ///< 127 / amax, or 0
  int8_t code(float x) const;
};

/// The base of a SAS exponential.
enum class ExpBase { E = 1, Two = 2 };

/// Least-squares fit of base^-f on [-1/2, 1/2] by a polynomial of `degree` (0..3),
/// coefficients lowest order first, each rounded to f16 (they are used in
/// f16 arithmetic).
std::vector<float> fitExpPolynomial(int degree, ExpBase base);

/// Parameters of one SAS exponential, as the op's attributes give them.
struct SasParams {
  ExpBase base = ExpBase::Two;
  int degree = 3;
  int threshold = 8;
  std::vector<float> coefficients; // degree + 1 values, f16-representable
  bool zeroPastThreshold = true;    // false: the op's clamp_only
  int scaleLog2 = 0;                 // the op's scale_log2: results times 2^scaleLog2
};

/// base^x for x <= 0 exactly as turbo.exp_poly computes it (see
/// `turbo.exp_poly` in docs/reference/TurboDialect.md): t = max(min(-x, threshold), 0) rounded to f16,
/// n = t rounded to the nearest integer (ties to even), f = t - n in
/// [-1/2, 1/2], P(f) by Horner in f16, times the table entry base^-n, exact
/// zero for n >= threshold (unless !zeroPastThreshold: then n = threshold
/// gives base^-threshold * P(0)); all of it times 2^scaleLog2.
float sasExp(float x, const SasParams &params);

/// The table entry base^-n as the kernel holds it (f32).
float sasTableEntry(int n, ExpBase base);

} // namespace turbo::numerics

#endif // TURBO_SUPPORT_NUMERICS_H
