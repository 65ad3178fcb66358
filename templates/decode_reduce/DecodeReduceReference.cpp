//===- DecodeReduceReference.cpp - decode_reduce on the CPU ---------------===//
#include "decode_reduce/DecodeReduce.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace turbo::templates::decode_reduce {

void reference(const Config &config, const float *partial, int64_t splits, int64_t rows,
               float *out) {
  const int64_t D = config.headDim, BM = config.blockRows, step = partialFloats(config);
  for (int64_t r = 0; r < rows; ++r) {
    float top = -INFINITY;
    for (int64_t s = 0; s < splits; ++s)
      top = std::fmax(top, partial[s * step + BM * D + r]);
    float weight = 0.0f;
    std::vector<float> sum(size_t(D), 0.0f);
    for (int64_t s = 0; s < splits; ++s) {
      const float lse = partial[s * step + BM * D + r];
      const float w = top == -INFINITY ? 0.0f : std::exp2(lse - top);
      weight += w;
      for (int64_t c = 0; c < D; ++c)
        sum[size_t(c)] += w * partial[s * step + r * D + c];
    }
    for (int64_t c = 0; c < D; ++c)
      out[r * D + c] = weight > 0.0f ? sum[size_t(c)] / weight : 0.0f;
  }
}

} // namespace turbo::templates::decode_reduce
