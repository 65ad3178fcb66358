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
    const numerics::SymmetricInt8 int8(amax);
    scales[r] = int8.scale;
    for (int64_t c = 0; c < cols; ++c)
      q[r * problem.qStride + c] = int8.code(load(row[c]));
  }
}

} // namespace turbo::templates::quantize_rows
