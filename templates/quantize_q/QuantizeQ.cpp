//===- QuantizeQ.cpp - quantize_q: config, signature, launch --------------===//
#include "quantize_q/QuantizeQ.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

using quantize_q::Arg;

const ConfigSchema<QuantizeQ::Config> &QuantizeQ::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 96, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "Q element type")
          .add<&Config::blockM>("block_m", oneOf({32, 64, 128}), "tokens per thread block")
          .add<&Config::numWarps>("num_warps", oneOf({4, 8}), "warps per thread block");
  return schema;
}

void QuantizeQ::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
}

Signature<Arg> QuantizeQ::signature(const Config &config) {
  return Signature<Arg>()
      .add(Arg::Q, pointerArg("q", scalarTypeOf(config.dtype), 16, ArgRole::Input))
      .add(Arg::Q8, pointerArg("q8", ScalarType::I8, 16, ArgRole::Output))
      .add(Arg::QScale, pointerArg("q_scale", ScalarType::F32, 4, ArgRole::Output))
      .add(Arg::Seq, valueArg("seq", ScalarType::I32, ArgRole::Size))
      .add(Arg::QBatch, valueArg("q_batch", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::QHead, valueArg("q_head", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::QRow, valueArg("q_row", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::Q8Batch, valueArg("q8_batch", ScalarType::I64, ArgRole::Stride, 16))
      .add(Arg::Q8Head, valueArg("q8_head", ScalarType::I64, ArgRole::Stride, 16))
      .add(Arg::Q8Row, valueArg("q8_row", ScalarType::I32, ArgRole::Stride, 16))
      .add(Arg::ScaleBatch, valueArg("q_scale_batch", ScalarType::I64, ArgRole::Stride))
      .add(Arg::ScaleHead, valueArg("q_scale_head", ScalarType::I64, ArgRole::Stride))
      .add(Arg::CuSeqlens, pointerArg("cu_seqlens", ScalarType::I32, 4, ArgRole::Input))
      .add(Arg::Packed, valueArg("packed_tokens", ScalarType::I32, ArgRole::Parameter));
}

namespace quantize_q {

Status canImplement(const Config &config, const Problem &p, uint64_t q, uint64_t q8,
                    uint64_t qScale) {
  const int64_t headDim = config.headDim;
  if (p.batch < 1 || p.heads < 1 || p.batch > 65535 || p.heads > 65535)
    return {StatusCode::InvalidArgument, "batch and heads must be in [1, 65535]"};
  if (p.seq < 1 || p.seq > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument, fmt::format("seq {} must be in [1, 2^31)", p.seq)};
  if (!q)
    return {StatusCode::InvalidArgument, "q must not be null"};
  if (!aligned(q, 16))
    return {StatusCode::InvalidArgument, "q must be 16-byte aligned"};
  if (p.packed && p.q.batch)
    return {StatusCode::InvalidArgument, "packed tensors have batch strides 0"};
  const int64_t rows = config.blockM;
  TURBO_RETURN_IF_ERROR(checkTensorStrides("q", p.q.batch, p.q.head, p.q.row, headDim, rows));
  return checkInt8Q(p, headDim, rows, q8, qScale);
}

Status checkInt8Q(const Problem &p, int64_t headDim, int64_t tileRows, uint64_t q8,
                  uint64_t qScale) {
  if (!q8 || !qScale)
    return {StatusCode::InvalidArgument, "Q in INT8: q8 and q_scale must not be null"};
  if (!aligned(q8, 16))
    return {StatusCode::InvalidArgument, "q8 must be 16-byte aligned"};
  if (!aligned(qScale, 4))
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

std::array<unsigned, 3> grid(const Config &config, const Problem &p) {
  const int64_t rows = config.blockM;
  return {unsigned((p.seq + rows - 1) / rows), unsigned(p.heads), unsigned(p.batch)};
}

Result<KernelLaunch> launch(const Config &config, const Problem &p, uint64_t q, uint64_t q8,
                            uint64_t qScale, uint64_t cuSeqlens) {
  TURBO_RETURN_IF_ERROR(canImplement(config, p, q, q8, qScale));
  if (p.packed)
    TURBO_RETURN_IF_ERROR(checkPackedTokens("q", p.packedTokens, p.seq));
  const Signature<Arg> signature = QuantizeQ::signature(config);
  auto args = ArgPack<Arg>(signature)
                  .pointer(Arg::Q, q)
                  .pointer(Arg::Q8, q8)
                  .pointer(Arg::QScale, qScale)
                  .i32(Arg::Seq, p.seq)
                  .i64(Arg::QBatch, p.q.batch)
                  .i64(Arg::QHead, p.q.head)
                  .i32(Arg::QRow, p.q.row)
                  .i64(Arg::Q8Batch, p.q8.batch)
                  .i64(Arg::Q8Head, p.q8.head)
                  .i32(Arg::Q8Row, p.q8.row)
                  .i64(Arg::ScaleBatch, p.scaleBatch)
                  .i64(Arg::ScaleHead, p.scaleHead)
                  .pointer(Arg::CuSeqlens, p.packed ? cuSeqlens : 0)
                  .i32(Arg::Packed, p.packed ? p.packedTokens : 0)
                  .finish();
  if (!args)
    return args.status();
  return KernelLaunch{&TemplateDefOf<QuantizeQ>::instance(), grid(config, p), std::move(*args)};
}

} // namespace quantize_q
} // namespace turbo::templates
