//===- ChannelMeanSpec.cpp - channel_mean parameters and host checks ------===//
#include "turbo/Support/Numerics.h"
#include "turbo/Templates/ChannelMean.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

const TemplateSpec &channelMeanSpec() {
  static const TemplateSpec spec = {
      "channel_mean",
      "per-channel mean over the sequence (K smoothing)",
      {
          {"head_dim", 128, {64, 96, 128, 256}, {}, "channels"},
          {"dtype", 0, {0, 1}, {{"f16", 0}, {"bf16", 1}}, "input element type"},
          {"block_rows", 64, {32, 64, 128, 256, 512}, {}, "rows per loop step"},
          {"block_cols", 256, {32, 64, 128, 256}, {},
           "channels per program (fewer: more programs per head)"},
          {"num_warps", 4, {1, 2, 4, 8}, {}, "warps per thread block"},
      },
      [](const HeadConfig &head, KernelConfig &config) {
        config.set("head_dim", head.headDim);
        config.set("dtype", head.dtype == DType::BF16 ? 1 : 0);
      },
      nullptr,
  };
  return spec;
}

namespace channel_mean {

Status canImplement(const KernelConfig &config, const Problem &p, const void *x,
                    const void *mean) {
  if (p.batch < 1 || p.heads < 1 || p.batch > 65535 || p.heads > 65535)
    return {StatusCode::InvalidArgument, "batch and heads must be in [1, 65535]"};
  // The loop loads one tile past the last row: row indices up to seq + 512.
  const int64_t longest = std::numeric_limits<int32_t>::max() - 1024;
  if (p.seq < 1 || p.seq > longest)
    return {StatusCode::InvalidArgument,
            fmt::format("seq {} must be in [1, {}]", p.seq, longest)};
  if (!x || !mean)
    return {StatusCode::InvalidArgument, "x and mean must not be null"};
  if (reinterpret_cast<uintptr_t>(x) % 16 || reinterpret_cast<uintptr_t>(mean) % 16)
    return {StatusCode::InvalidArgument, "x and mean must be 16-byte aligned"};
  return checkTensorStrides("x", p.batchStride, p.headStride, p.rowStride,
                            config.get("head_dim"), config.get("block_rows"));
}

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &p) {
  const int64_t headDim = config.get("head_dim"), cols = config.get("block_cols");
  return {unsigned(p.heads), unsigned(p.batch), unsigned((headDim + cols - 1) / cols)};
}

void reference(const KernelConfig &config, const Problem &p, const uint16_t *x, double *mean) {
  const int64_t d = config.get("head_dim");
  const bool bf16 = config.get("dtype") == 1;
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

} // namespace channel_mean
} // namespace turbo::templates
