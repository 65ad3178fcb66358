//===- QuantizeQSpec.cpp - quantize_q parameters and host checks ----------===//
#include "turbo/Templates/QuantizeQ.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

const TemplateSpec &quantizeQSpec() {
  static const TemplateSpec spec = {
      "quantize_q",
      "Q per token to INT8 with f32 scales (attention_prefill's own Q quantization)",
      {
          {"head_dim", 128, {64, 96, 128, 256}, {}, "head dimension"},
          {"dtype", 0, {0, 1}, {{"f16", 0}, {"bf16", 1}}, "Q element type"},
          {"block_m", 64, {32, 64, 128}, {}, "tokens per thread block"},
          {"num_warps", 4, {4, 8}, {}, "warps per thread block"},
      },
      [](const HeadConfig &head, KernelConfig &config) {
        config.set("head_dim", head.headDim);
        config.set("dtype", head.dtype == DType::BF16 ? 1 : 0);
      },
      nullptr,
  };
  return spec;
}

namespace quantize_q {

Status canImplement(const KernelConfig &config, const Problem &p, const void *q, const void *q8,
                    const void *qScale) {
  const int64_t headDim = config.get("head_dim");
  if (p.batch < 1 || p.heads < 1 || p.batch > 65535 || p.heads > 65535)
    return {StatusCode::InvalidArgument, "batch and heads must be in [1, 65535]"};
  if (p.seq < 1 || p.seq > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument, fmt::format("seq {} must be in [1, 2^31)", p.seq)};
  if (!q)
    return {StatusCode::InvalidArgument, "q must not be null"};
  if (reinterpret_cast<uintptr_t>(q) % 16)
    return {StatusCode::InvalidArgument, "q must be 16-byte aligned"};
  if (p.packed && p.q.batch)
    return {StatusCode::InvalidArgument, "packed tensors have batch strides 0"};
  const int64_t rows = config.get("block_m");
  TURBO_RETURN_IF_ERROR(checkTensorStrides("q", p.q.batch, p.q.head, p.q.row, headDim, rows));
  return checkInt8Q(p, headDim, rows, q8, qScale);
}

Status checkInt8Q(const Problem &p, int64_t headDim, int64_t tileRows, const void *q8,
                  const void *qScale) {
  if (!q8 || !qScale)
    return {StatusCode::InvalidArgument, "Q in INT8: q8 and q_scale must not be null"};
  if (reinterpret_cast<uintptr_t>(q8) % 16)
    return {StatusCode::InvalidArgument, "q8 must be 16-byte aligned"};
  if (reinterpret_cast<uintptr_t>(qScale) % 4)
    return {StatusCode::InvalidArgument, "q_scale must be 4-byte aligned"};
  if (p.packed && (p.q8.batch || p.scaleBatch))
    return {StatusCode::InvalidArgument, "packed tensors have batch strides 0"};
  if (p.scaleBatch < 0 || p.scaleHead < 0)
    return {StatusCode::InvalidArgument, "q_scale strides must not be negative"};
  if (p.q8.row % 16 || p.q8.head % 16 || p.q8.batch % 16)
    return {StatusCode::InvalidArgument,
            fmt::format("q8 strides (batch {}, head {}, row {}) must be multiples of 16 bytes",
                        p.q8.batch, p.q8.head, p.q8.row)};
  return checkTensorStrides("q8", p.q8.batch, p.q8.head, p.q8.row, headDim, tileRows);
}

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &p) {
  int64_t rows = config.get("block_m");
  return {unsigned((p.seq + rows - 1) / rows), unsigned(p.heads), unsigned(p.batch)};
}

} // namespace quantize_q
} // namespace turbo::templates
