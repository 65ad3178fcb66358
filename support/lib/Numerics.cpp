//===- Numerics.cpp - shared scalar numerics ------------------------------===//
#include "turbo/Support/Numerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace turbo::numerics {

namespace {
uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
} // namespace

/// IEEE binary16 bits of `value` rounded to nearest even, straight from the
/// double's bits (one rounding, so a float argument rounds as
/// cvt.rn.f16.f32 does): NaN gives 0x7e00, anything from 65520 up infinity.
static uint16_t halfBitsOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint16_t sign = uint16_t((bits >> 48) & 0x8000u);
  const uint64_t magnitude = bits & 0x7fffffffffffffffull;
  constexpr uint64_t kInfinity = 0x7ffull << 52;
  constexpr uint64_t kOverflow = 0x40effe0000000000ull; // 65520: halfway past 65504, to even
  constexpr uint64_t kHalfUnit = 998ull << 52;           // 2^-25: halfway to 2^-24, to even (0)
  if (magnitude > kInfinity)
    return sign | 0x7e00u;
  if (magnitude >= kOverflow)
    return sign | 0x7c00u;
  if (magnitude <= kHalfUnit)
    return sign;
  // Keep the top bits of the significand (with its leading 1) and round the
  // `drop` bits below them to nearest even; a carry may raise the exponent.
  auto roundOff = [](uint64_t kept, uint64_t significand, int drop) {
    const uint64_t rest = significand & ((1ull << drop) - 1), half = 1ull << (drop - 1);
    return kept + (rest > half || (rest == half && (kept & 1)) ? 1 : 0);
  };
  const int exponent = int(magnitude >> 52); // biased; 2^-14 is 1009
  const uint64_t significand = (magnitude & ((1ull << 52) - 1)) | (1ull << 52);
  if (exponent < 1009) {
    // Subnormal: units of 2^-24, value = significand * 2^(exponent - 1075).
    const int drop = 1051 - exponent; // 43 .. 53
    return sign | uint16_t(roundOff(significand >> drop, significand, drop));
  }
  const uint64_t kept = (uint64_t(exponent - 1008) << 10) | ((magnitude >> 42) & 0x3ffu);
  return sign | uint16_t(roundOff(kept, magnitude, 42));
}

/// `value` rounded to the nearest f16 value, as a double (NaN and infinities
/// stay what they are).
static double roundDoubleToHalf(double value) {
  if (std::isnan(value))
    return value;
  return double(halfToFloat(halfBitsOf(value)));
}

uint16_t floatToHalf(float value) { return halfBitsOf(double(value)); }

float halfToFloat(uint16_t half) {
  uint32_t sign = uint32_t(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f)
    return floatOf(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    float value = std::ldexp(float(mantissa), -24);
    return sign ? -value : value;
  }
  return floatOf(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t floatToBFloat(float value) {
  uint32_t bits = bitsOf(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((bits >> 16) | 0x40u);
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t((bits + rounding) >> 16);
}

float bfloatToFloat(uint16_t bits) { return floatOf(uint32_t(bits) << 16); }

float fmaHalf(float a, float b, float c) {
  // For the f16 magnitudes SAS uses, a * b + c is exact in double, so one
  // rounding from double to f16 is the single rounding of fma.rn.f16.
  return float(roundDoubleToHalf(double(a) * double(b) + double(c)));
}

std::vector<float> fitExpPolynomial(int degree, ExpBase base) {
  const int n = degree + 1;
  const int samples = 4096;
  const double logBase = base == ExpBase::Two ? std::log(2.0) : 1.0;
  // Normal equations of the discrete least-squares problem on a uniform
  // grid of [-1/2, 1/2]; degree <= 3 keeps the 4x4 Gram matrix well
  // conditioned.
  double gram[4][4] = {}, rhs[4] = {};
  for (int s = 0; s < samples; ++s) {
    double f = (s + 0.5) / samples - 0.5;
    double target = std::exp(-f * logBase);
    double power[4] = {1, f, f * f, f * f * f};
    for (int i = 0; i < n; ++i) {
      rhs[i] += power[i] * target;
      for (int j = 0; j < n; ++j)
        gram[i][j] += power[i] * power[j];
    }
  }
  double solution[4] = {};
  // Gaussian elimination with partial pivoting.
  int order[4] = {0, 1, 2, 3};
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int row = col + 1; row < n; ++row)
      if (std::fabs(gram[order[row]][col]) > std::fabs(gram[order[pivot]][col]))
        pivot = row;
    std::swap(order[col], order[pivot]);
    for (int row = col + 1; row < n; ++row) {
      double factor = gram[order[row]][col] / gram[order[col]][col];
      for (int k = col; k < n; ++k)
        gram[order[row]][k] -= factor * gram[order[col]][k];
      rhs[order[row]] -= factor * rhs[order[col]];
    }
  }
  for (int col = n - 1; col >= 0; --col) {
    double sum = rhs[order[col]];
    for (int k = col + 1; k < n; ++k)
      sum -= gram[order[col]][k] * solution[k];
    solution[col] = sum / gram[order[col]][col];
  }
  std::vector<float> coefficients(n);
  for (int i = 0; i < n; ++i)
    coefficients[i] = roundToHalf(float(solution[i]));
  return coefficients;
}

float sasTableEntry(int n, ExpBase base) {
  if (base == ExpBase::Two)
    return floatOf(uint32_t(127 - n) << 23);
  return float(std::exp(-double(n)));
}

float sasExp(float x, const SasParams &params) {
  // t in f16 (the kernel splits it with f16 arithmetic), a NaN clamped to
  // the threshold; n = t rounded to the nearest integer, ties to even, so
  // f = t - n lies in [-1/2, 1/2] and is exact in f16.
  float t = roundToHalf(std::fmax(std::fmin(-x, float(params.threshold)), 0.0f));
  float whole = std::nearbyint(t);
  float f = t - whole;
  int n = int(whole);
  float p = params.coefficients[params.degree];
  for (int i = params.degree - 1; i >= 0; --i)
    p = fmaHalf(p, f, params.coefficients[i]);
  if (n >= params.threshold && params.zeroPastThreshold)
    return 0.0f;
  return std::ldexp(p * sasTableEntry(n, params.base), params.scaleLog2);
}

SymmetricCodes::SymmetricCodes(float amax, int bits)
    : qmax(float((1 << (bits - 1)) - 1)), scale(amax / qmax),
      inverse(amax > 0.0f ? qmax / amax : 0.0f) {}

int32_t SymmetricCodes::code(float x) const {
  // nearbyint rounds ties to even in the default rounding mode.
  return int32_t(std::fmin(std::fmax(std::nearbyint(x * inverse), -qmax), qmax));
}

} // namespace turbo::numerics
