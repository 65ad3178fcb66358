//===- ChannelMeanReference.cpp - channel_mean in float64 -----------------===//
#include "channel_mean/ChannelMean.h"
#include "turbo/Support/Numerics.h"

namespace turbo::templates::channel_mean {

void reference(const Config &config, const Problem &p, const uint16_t *x, double *mean) {
  const int64_t d = config.headDim;
  const bool bf16 = config.dtype == DType::BF16;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t c = 0; c < d; ++c) {
        double sum = 0;
        for (int64_t s = 0; s < p.seq; ++s) {
          uint16_t bits = x[b * p.batchStride + h * p.headStride + s * p.rowStride + c];
          sum += bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
        }
        mean[(b * p.heads + h) * d + c] = sum / double(p.seq);
      }
}

} // namespace turbo::templates::channel_mean
