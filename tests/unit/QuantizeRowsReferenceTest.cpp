//===- QuantizeRowsReferenceTest.cpp - the CPU reference against float64 --===//
#include "turbo/Support/Numerics.h"
#include "quantize_rows/QuantizeRows.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

using namespace turbo;
using namespace turbo::templates;

TEST_CASE("quantize_rows reference reconstructs rows within half a step", "[reference]") {
  for (int dtype : {0, 1}) {
    auto config = parseConfig<QuantizeRows>(nullptr, "cols=96,dtype=" + std::to_string(dtype));
    REQUIRE(config);
    quantize_rows::Problem problem{37, 104, 112};
    std::mt19937 rng(5 + dtype);
    std::normal_distribution<float> normal;
    std::vector<uint16_t> x(problem.rows * problem.xStride, 0);
    std::vector<double> values(x.size(), 0.0);
    for (int64_t r = 0; r < problem.rows; ++r) {
      float rowScale = std::exp2(float(int(r % 9) - 4));
      for (int64_t c = 0; c < 96; ++c) {
        float v = r == 3 ? 0.0f : normal(rng) * rowScale;
        uint16_t bits = dtype ? numerics::floatToBFloat(v) : numerics::floatToHalf(v);
        x[r * problem.xStride + c] = bits;
        values[r * problem.xStride + c] =
            dtype ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
      }
    }
    std::vector<int8_t> q(problem.rows * problem.qStride, 0x5a);
    std::vector<float> scales(problem.rows, -1.0f);
    quantize_rows::reference(*config, problem, x.data(), q.data(), scales.data());
    for (int64_t r = 0; r < problem.rows; ++r) {
      double amax = 0;
      for (int64_t c = 0; c < 96; ++c)
        amax = std::max(amax, std::fabs(values[r * problem.xStride + c]));
      REQUIRE(scales[r] == Approx(amax / 127.0).epsilon(1e-6));
      for (int64_t c = 0; c < 96; ++c) {
        int8_t code = q[r * problem.qStride + c];
        REQUIRE(code >= -127);
        double error = std::fabs(values[r * problem.xStride + c] - code * double(scales[r]));
        REQUIRE(error <= 0.5 * scales[r] * (1 + 1e-5) + 1e-30);
      }
      // Bytes past the row are the caller's and stay untouched.
      for (int64_t c = 96; c < problem.qStride; ++c)
        REQUIRE(q[r * problem.qStride + c] == 0x5a);
    }
    // The all-zero row quantizes to zeros with scale 0.
    REQUIRE(scales[3] == 0.0f);
    for (int64_t c = 0; c < 96; ++c)
      REQUIRE(q[3 * problem.qStride + c] == 0);
  }
}
