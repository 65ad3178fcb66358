//===- ChannelMean.cpp - channel_mean: config, signature, launch ----------===//
#include "channel_mean/ChannelMean.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

using channel_mean::Arg;

const ConfigSchema<ChannelMean::Config> &ChannelMean::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 96, 128, 256}), "channels")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "input element type")
          .add<&Config::blockRows>("block_rows", oneOf({32, 64, 128, 256, 512}),
                                   "rows per loop step")
          .add<&Config::blockCols>("block_cols", oneOf({32, 64, 128, 256}),
                                   "channels per program (fewer: more programs per head)")
          .add<&Config::numWarps>("num_warps", oneOf({1, 2, 4, 8}), "warps per thread block");
  return schema;
}

void ChannelMean::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
}

Signature<Arg> ChannelMean::signature(const Config &config) {
  return Signature<Arg>()
      .add(Arg::X, pointerArg("x", scalarTypeOf(config.dtype), 16, ArgRole::Input))
      .add(Arg::Mean, pointerArg("mean", ScalarType::F32, 16, ArgRole::Output))
      .add(Arg::Seq, valueArg("seq", ScalarType::I32, ArgRole::Size))
      .add(Arg::XBatch, valueArg("x_batch", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::XHead, valueArg("x_head", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::XRow, valueArg("x_row", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::CuSeqlens, pointerArg("cu_seqlens", ScalarType::I32, 4, ArgRole::Input))
      .add(Arg::Packed, valueArg("packed_tokens", ScalarType::I32, ArgRole::Parameter));
}

namespace channel_mean {

Status canImplement(const Config &config, const Problem &p, uint64_t x, uint64_t mean) {
  if (p.batch < 1 || p.heads < 1 || p.batch > 65535 || p.heads > 65535)
    return {StatusCode::InvalidArgument, "batch and heads must be in [1, 65535]"};
  // The loop loads one tile past the last row: row indices below seq + 2 *
  // block_rows <= seq + 1024.
  const int64_t longest = std::numeric_limits<int32_t>::max() - 1024;
  if (p.seq < 1 || p.seq > longest)
    return {StatusCode::InvalidArgument,
            fmt::format("seq {} must be in [1, {}]", p.seq, longest)};
  if (!x || !mean)
    return {StatusCode::InvalidArgument, "x and mean must not be null"};
  if (!aligned(x, 16) || !aligned(mean, 16))
    return {StatusCode::InvalidArgument, "x and mean must be 16-byte aligned"};
  return checkTensorStrides("x", p.batchStride, p.headStride, p.rowStride, config.headDim,
                            config.blockRows);
}

std::array<unsigned, 3> grid(const Config &config, const Problem &p) {
  const int64_t cols = config.blockCols;
  return {unsigned(p.heads), unsigned(p.batch), unsigned((config.headDim + cols - 1) / cols)};
}

Result<KernelLaunch> launch(const Config &config, const Problem &p, uint64_t x, uint64_t mean,
                            uint64_t cuSeqlens) {
  TURBO_RETURN_IF_ERROR(canImplement(config, p, x, mean));
  if (cuSeqlens)
    TURBO_RETURN_IF_ERROR(checkPackedTokens("k", p.packedTokens, p.seq));
  const Signature<Arg> signature = ChannelMean::signature(config);
  auto args = ArgPack<Arg>(signature)
                  .pointer(Arg::X, x)
                  .pointer(Arg::Mean, mean)
                  .i32(Arg::Seq, p.seq)
                  .i64(Arg::XBatch, p.batchStride)
                  .i64(Arg::XHead, p.headStride)
                  .i32(Arg::XRow, p.rowStride)
                  .pointer(Arg::CuSeqlens, cuSeqlens)
                  .i32(Arg::Packed, cuSeqlens ? p.packedTokens : 0)
                  .finish();
  if (!args)
    return args.status();
  return KernelLaunch{&TemplateDefOf<ChannelMean>::instance(), grid(config, p), std::move(*args)};
}

} // namespace channel_mean
} // namespace turbo::templates
