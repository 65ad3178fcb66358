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

/// Symmetric codes as turbo.quantize computes them (f32 arithmetic): with
/// qmax = 2^(bits-1) - 1, a group with absolute maximum `amax` gets scale =
/// amax / qmax and codes clamp(roundeven(x * (qmax / amax)), -qmax, qmax),
/// all 0 when amax is 0. The one CPU form of that rule, for every reference.
struct SymmetricCodes {
  SymmetricCodes(float amax, int bits);
  float qmax;    ///< 2^(bits-1) - 1
  float scale;   ///< amax / qmax
  float inverse; ///< qmax / amax, or 0
  int32_t code(float x) const;
};

/// The 8-bit case, with codes as int8.
struct SymmetricInt8 : SymmetricCodes {
  explicit SymmetricInt8(float amax) : SymmetricCodes(amax, 8) {}
  int8_t code(float x) const { return int8_t(SymmetricCodes::code(x)); }
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
