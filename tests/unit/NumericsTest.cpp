//===- NumericsTest.cpp - f16/bf16 rounding, f16 FMA, SAS -----------------===//
//
// Oracles are independent of the code under test: GCC's _Float16
// conversions (correctly rounded), hand-derived bfloat16 cases, and exp2 in
// double precision.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/Numerics.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

using namespace turbo::numerics;

namespace {
uint16_t bitsOf(_Float16 h) {
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}
float floatFromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
} // namespace

TEST_CASE("every f16 value converts to float and back unchanged", "[numerics]") {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    uint16_t half = uint16_t(bits);
    bool isNan = (half & 0x7c00) == 0x7c00 && (half & 0x3ff);
    float value = halfToFloat(half);
    _Float16 oracle;
    std::memcpy(&oracle, &half, 2);
    if (isNan) {
      REQUIRE(std::isnan(value));
      continue;
    }
    REQUIRE(value == float(oracle));
    REQUIRE(floatToHalf(value) == half);
  }
}

TEST_CASE("float to f16 rounds to nearest even like _Float16", "[numerics]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> anyBits;
  for (int i = 0; i < 2000000; ++i) {
    float value = floatFromBits(anyBits(rng));
    if (std::isnan(value))
      continue;
    volatile float input = value;
    _Float16 oracle = (_Float16)input;
    INFO("value " << value);
    REQUIRE(floatToHalf(value) == bitsOf(oracle));
  }
  // Halfway cases in the subnormal range and at the overflow edge.
  for (float value : {0x1p-25f, 0x1.8p-24f, 0x1p-24f * 2.5f, 65504.0f, 65519.0f, 65520.0f,
                      -65520.0f, 0x1.002p0f, 0x1.006p0f}) {
    volatile float input = value;
    REQUIRE(floatToHalf(value) == bitsOf((_Float16)input));
  }
}

TEST_CASE("every f16 tie and its neighbours round like _Float16, from float and double",
          "[numerics]") {
  // Between each pair of adjacent finite f16 values (and past 65504): the
  // midpoint, and the floats and doubles just beside it.
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    const double low = double(halfToFloat(uint16_t(bits)));
    const double high = bits + 1 == 0x7c00 ? 65536.0 : double(halfToFloat(uint16_t(bits + 1)));
    const double middle = (low + high) / 2;
    for (double sign : {1.0, -1.0}) {
      const double m = sign * middle;
      const float floats[] = {float(m), std::nextafter(float(m), 0.0f),
                              std::nextafter(float(m), float(2 * m))};
      for (float value : floats) {
        volatile float input = value;
        INFO("float " << value);
        REQUIRE(floatToHalf(value) == bitsOf((_Float16)input));
      }
      // From double (fmaHalf): low + half * b lands on the tie (b = 1) or
      // just beside it; half, b and low are f16 values, the sum exact.
      const double half = (high - low) / 2;
      if (half < 0x1p-24)
        continue; // no f16 half-step below the smallest subnormal
      for (double b : {1.0, 1.0 + 0x1p-10, 1.0 - 0x1p-11}) {
        volatile double exact = sign * (low + half * b);
        INFO("double " << double(exact));
        REQUIRE(fmaHalf(float(sign * half), float(b), float(sign * low)) ==
                float((_Float16)exact));
      }
    }
  }
}

TEST_CASE("bfloat16 rounds to nearest even", "[numerics]") {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even 1.0.
  REQUIRE(floatToBFloat(1.0f + 0x1p-8f) == 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties up to even.
  REQUIRE(floatToBFloat(1.0f + 3 * 0x1p-8f) == 0x3f82);
  REQUIRE(floatToBFloat(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);
  REQUIRE(bfloatToFloat(0x3f81) == 1.0f + 0x1p-7f);
  REQUIRE(std::isnan(bfloatToFloat(floatToBFloat(NAN))));
}

TEST_CASE("f16 fma rounds once", "[numerics]") {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  for (int i = 0; i < 200000; ++i) {
    float a = roundToHalf(unit(rng)), b = roundToHalf(unit(rng)), c = roundToHalf(unit(rng));
    volatile double exact = double(a) * double(b) + double(c);
    _Float16 oracle = (_Float16)exact; // one rounding, from double
    REQUIRE(fmaHalf(a, b, c) == float(oracle));
  }
}

TEST_CASE("SAS polynomial fits base^-f on 0 to 1", "[numerics][sas]") {
  // Bounds on max |sas(-f) - 2^-f| with f16 coefficients and f16 evaluation
  // (f past 1/2 is n = 1 and f - 1); the measured values are in
  // docs/dialect.md.
  const double bounds[] = {0.33, 0.04, 3.3e-3, 6e-4};
  for (int degree = 0; degree <= 3; ++degree) {
    SasParams params{ExpBase::Two, degree, 8, fitExpPolynomial(degree, ExpBase::Two)};
    REQUIRE(int(params.coefficients.size()) == degree + 1);
    double worst = 0;
    for (int i = 0; i < 4096; ++i) {
      float f = float(i) / 4096.0f;
      double exact = std::exp2(-double(f));
      worst = std::max(worst, std::fabs(double(sasExp(-f, params)) - exact));
    }
    INFO("degree " << degree << " max error " << worst);
    REQUIRE(worst < bounds[degree]);
  }
}

TEST_CASE("SAS with clamp_only: the threshold's value instead of zero, the same below it",
          "[numerics][sas]") {
  for (int degree = 0; degree <= 3; ++degree)
    for (ExpBase base : {ExpBase::Two, ExpBase::E}) {
      SasParams zeroing{base, degree, 8, fitExpPolynomial(degree, base)};
      SasParams clamped = zeroing;
      clamped.zeroPastThreshold = false;
      // P(0) base^-8, the value at the clamp.
      const float atThreshold = clamped.coefficients[0] * sasTableEntry(8, base);
      INFO("degree " << degree << " base " << int(base));
      for (float x : {-8.0f, -100.0f, -INFINITY, NAN}) {
        REQUIRE(sasExp(x, zeroing) == 0.0f);
        REQUIRE(sasExp(x, clamped) == atThreshold);
      }
      // t = 7.5 rounds to n = 8 (ties to even), f = -1/2: zeroed, or
      // P(-1/2) base^-8 where only clamped.
      REQUIRE(sasExp(-7.5f, zeroing) == 0.0f);
      REQUIRE(sasExp(-7.5f, clamped) > 0.0f);
      if (base == ExpBase::Two) // 5.5 rounds to 6: f = -1/2 as well
        REQUIRE(sasExp(-7.5f, clamped) == std::ldexp(sasExp(-5.5f, clamped), -2));
      for (float x : {0.0f, -0.3f, -1.5f, -6.49f, -7.49f})
        REQUIRE(sasExp(x, clamped) == sasExp(x, zeroing));
    }
}

TEST_CASE("SAS is exact zero past the threshold and scales by 2^-n", "[numerics][sas]") {
  SasParams params{ExpBase::Two, 3, 8, fitExpPolynomial(3, ExpBase::Two)};
  REQUIRE(sasExp(-8.0f, params) == 0.0f);
  REQUIRE(sasExp(-100.0f, params) == 0.0f);
  REQUIRE(sasExp(-INFINITY, params) == 0.0f);
  // n is t rounded to nearest (ties to even): 7.5 rounds to 8.
  REQUIRE(sasExp(-7.5f, params) == 0.0f);
  REQUIRE(sasExp(-7.49f, params) > 0.0f);
  REQUIRE(sasExp(-6.5f, params) > 0.0f);
  // Inputs above zero are treated as zero; NaN as the threshold (zero).
  REQUIRE(sasExp(3.0f, params) == sasExp(0.0f, params));
  REQUIRE(sasExp(NAN, params) == 0.0f);
  // Integer steps only change the table entry: exactly a factor of 2 each.
  for (float f : {0.0f, 0.25f, 0.375f, -0.25f, -0.375f})
    for (int n = 1; n < 8; ++n)
      REQUIRE(sasExp(-(f + float(n)), params) ==
              std::ldexp(sasExp(-(f + 1.0f), params), 1 - n));
  for (int n = 0; n < 8; ++n)
    REQUIRE(sasTableEntry(n, ExpBase::Two) == std::ldexp(1.0f, -n));
}

TEST_CASE("SAS relative error per degree below the threshold", "[numerics][sas]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> scores(-7.49f, 0.0f);
  // t is rounded to f16 (ulp 2^-8 below 8: up to 1.4e-3 of relative error
  // on its own).
  const double bounds[] = {0.46, 0.057, 5.8e-3, 2.2e-3};
  for (int degree = 0; degree <= 3; ++degree) {
    SasParams params{ExpBase::Two, degree, 8, fitExpPolynomial(degree, ExpBase::Two)};
    double worst = 0;
    for (int i = 0; i < 100000; ++i) {
      float x = scores(rng);
      double exact = std::exp2(double(x));
      worst = std::max(worst, std::fabs(sasExp(x, params) - exact) / exact);
    }
    INFO("degree " << degree << " max relative error " << worst);
    REQUIRE(worst < bounds[degree]);
  }
  SasParams natural{ExpBase::E, 3, 8, fitExpPolynomial(3, ExpBase::E)};
  for (int i = 0; i < 10000; ++i) {
    float x = scores(rng);
    double exact = std::exp(double(x));
    REQUIRE(std::fabs(sasExp(x, natural) - exact) / exact < 3.1e-3);
  }
}
