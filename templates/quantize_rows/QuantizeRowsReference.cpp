//===- QuantizeRowsReference.cpp - quantize_rows on the CPU ---------------===//
//
// Step for step what turbo-expand-quantization makes of
// `turbo.quantize {bits = 8, granularity = row}`, in f32.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/Numerics.h"
#include "quantize_rows/QuantizeRows.h"

#include <algorithm>
#include <cmath>

namespace turbo::templates::quantize_rows {

void reference(const Config &config, const Problem &problem, const uint16_t *x, int8_t *q,
               float *scales) {
  const int64_t cols = config.cols;
  const bool bf16 = config.dtype == DType::BF16;
  auto load = [&](uint16_t bits) {
    return bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
  };
  for (int64_t r = 0; r < problem.rows; ++r) {
    const uint16_t *row = x + r * problem.xStride;
    float amax = 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      amax = std::fmax(amax, std::fabs(load(row[c])));
    scales[r] = amax / 127.0f;
    float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      float scaled = load(row[c]) * inverse;
      float rounded = std::nearbyint(scaled); // ties to even
      float clamped = std::fmin(std::fmax(rounded, -127.0f), 127.0f);
      q[r * problem.qStride + c] = int8_t(clamped);
    }
  }
}

} // namespace turbo::templates::quantize_rows
