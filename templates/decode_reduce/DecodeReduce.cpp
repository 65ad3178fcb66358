//===- DecodeReduce.cpp - decode_reduce: config and signature -------------===//
#include "decode_reduce/DecodeReduce.h"

#include <fmt/format.h>

namespace turbo::templates {

using decode_reduce::Arg;

const ConfigSchema<DecodeReduce::Config> &DecodeReduce::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "output element type")
          .add<&Config::blockRows>("block_rows", oneOf({16, 32, 64, 128}),
                                   "rows per (sequence, KV head)")
          .add<&Config::splitsPerStep>("splits_per_step", oneOf({1, 2, 4, 8, 16, 32}),
                                       "splits combined per step (their loads in flight "
                                       "together)")
          .add<&Config::blockCols>("block_cols", oneOf({16, 32, 64, 128, 256}),
                                   "columns of O per program");
  return schema;
}

Status DecodeReduce::validate(const Config &config) {
  using decode_reduce::floatsInFlight, decode_reduce::kMaxFloatsInFlight;
  if (floatsInFlight(config) > kMaxFloatsInFlight)
    return {StatusCode::InvalidArgument,
            fmt::format("decode_reduce: splits_per_step ({}) x block_rows ({}) x block_cols ({}) "
                        "/ {} threads is {} floats in flight a thread; at most {}",
                        config.splitsPerStep, config.blockRows, config.blockCols,
                        32 * config.numWarps, floatsInFlight(config), kMaxFloatsInFlight)};
  if (config.blockCols > config.headDim)
    return {StatusCode::InvalidArgument,
            fmt::format("decode_reduce: block_cols ({}) must be at most head_dim ({})",
                        config.blockCols, config.headDim)};
  return Status::ok();
}

void DecodeReduce::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
}

Signature<Arg> DecodeReduce::signature(const Config &config) {
  return Signature<Arg>()
      .add(Arg::Partial, pointerArg("partial", ScalarType::F32, 16, ArgRole::Input))
      .add(Arg::O, pointerArg("o", scalarTypeOf(config.dtype), 16, ArgRole::Output))
      .add(Arg::OBatch, valueArg("o_batch_stride", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::OHead, valueArg("o_head_stride", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::ORow, valueArg("o_row_stride", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::Rows, valueArg("rows", ScalarType::I32, ArgRole::Size))
      .add(Arg::Splits, valueArg("splits", ScalarType::I32, ArgRole::Size))
      .add(Arg::Group, valueArg("group", ScalarType::I32, ArgRole::Size));
}

} // namespace turbo::templates
