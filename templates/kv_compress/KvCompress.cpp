//===- KvCompress.cpp - kv_compress: config, signature, checks, launch ----===//
#include "kv_compress/KvCompress.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace turbo::templates {

using kv_compress::Arg;

const ConfigSchema<KvCompress::Config> &KvCompress::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "K/V element type")
          .add<&Config::pageSize>("page_size", oneOf({16, 32, 64, 128}), "tokens per page")
          .add<&Config::kvBits>("kv_bits", named({{"mixed", 0}, {"2", 2}, {"4", 4}, {"8", 8}}),
                                "page widths: one, or mixed (2 and 4 by head)")
          .add<&Config::source>("source", named({{"tokens", 0}, {"staging", 1}}),
                                "a prompt's K/V (after a prefill) or the staging area (in an "
                                "append step, after kv_stage)")
          .add<&Config::maxNew>("max_new", inRange(1, 128),
                                "source=staging: new tokens per step, at most");
  return schema;
}

void KvCompress::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
  config.kvBits = head.kvBits;
}

Status KvCompress::validate(const Config &config) {
  if (config.maxNew > config.pageSize)
    return {StatusCode::InvalidArgument,
            fmt::format("kv_compress: max_new ({}) must be at most page_size ({})",
                        config.maxNew, config.pageSize)};
  return Status::ok();
}

Signature<Arg> KvCompress::signature(const Config &config) {
  const ScalarType dtype = scalarTypeOf(config.dtype), i32 = ScalarType::I32;
  return Signature<Arg>()
      .add(Arg::K, pointerArg("k", dtype, 16, ArgRole::Input))
      .add(Arg::V, pointerArg("v", dtype, 16, ArgRole::Input))
      .add(Arg::Pool, pointerArg("pool", ScalarType::I8, 128, ArgRole::Output))
      .add(Arg::PoolHalf, pointerArg("pool_f16", ScalarType::F16, 128, ArgRole::Output))
      .add(Arg::Staging, pointerArg("staging",
                                    signedIntOfBytes(kv::stagingCodeBytes(config.kvBits)), 16,
                                    ArgRole::Output))
      .add(Arg::StagingFloat, pointerArg("staging_f32", ScalarType::F32, 16, ArgRole::Output))
      .add(Arg::BlockTable, pointerArg("block_table", i32, 4, ArgRole::Input))
      .add(Arg::SeqLens, pointerArg("seq_lens", i32, 4, ArgRole::Input))
      .add(Arg::HeadTable, pointerArg("head_table", i32, 8, ArgRole::Input))
      .add(Arg::Status, pointerArg("status", i32, 4, ArgRole::Output))
      .add(Arg::KBatch, valueArg("k_batch_stride", i32, ArgRole::Stride, 8))
      .add(Arg::KHead, valueArg("k_head_stride", i32, ArgRole::Stride, 8))
      .add(Arg::KRow, valueArg("k_row_stride", i32, ArgRole::Stride, 8))
      .add(Arg::VBatch, valueArg("v_batch_stride", i32, ArgRole::Stride, 8))
      .add(Arg::VHead, valueArg("v_head_stride", i32, ArgRole::Stride, 8))
      .add(Arg::VRow, valueArg("v_row_stride", i32, ArgRole::Stride, 8))
      .add(Arg::NumNew, valueArg("num_new", i32, ArgRole::Size))
      .add(Arg::PageBytes, valueArg("page_bytes", i32, ArgRole::Size, 128))
      .add(Arg::NumPages, valueArg("num_pages", i32, ArgRole::Size))
      .add(Arg::BlockTableStride, valueArg("block_table_stride", i32, ArgRole::Stride))
      .add(Arg::MaxPages, valueArg("max_pages", i32, ArgRole::Size))
      .add(Arg::StagingSlotBytes, valueArg("staging_slot_bytes", i32, ArgRole::Size, 16))
      .add(Arg::SinkPages, valueArg("sink_pages", i32, ArgRole::Size))
      .add(Arg::WindowPages, valueArg("window_pages", i32, ArgRole::Size));
}

namespace kv_compress {
namespace {
Status invalid(std::string message) {
  return {StatusCode::InvalidArgument, std::move(message)};
}
} // namespace

Status canImplement(const Config &config, const kv::CacheLayout &layout, const Problem &p,
                    const Buffers &buffers) {
  const int64_t headDim = config.headDim, pageSize = config.pageSize;
  TURBO_RETURN_IF_ERROR(
      kv::checkKernelFits(layout, headDim, pageSize, config.kvBits, p.kvHeads));
  TURBO_RETURN_IF_ERROR(
      kv::checkAddressing(layout, p.batch, p.maxPages, p.blockTableStride, p.numPages));
  if (p.numNew < 1 || p.numNew > std::numeric_limits<int32_t>::max() / 2)
    return invalid(fmt::format("num_new {} must be positive", p.numNew));
  TURBO_RETURN_IF_ERROR(checkTensorStrides("k", p.k.batch, p.k.head, p.k.row, headDim, 128));
  TURBO_RETURN_IF_ERROR(checkTensorStrides("v", p.v.batch, p.v.head, p.v.row, headDim, 128));
  if (p.k.batch > std::numeric_limits<int32_t>::max() ||
      p.v.batch > std::numeric_limits<int32_t>::max() ||
      p.k.head > std::numeric_limits<int32_t>::max() || p.v.head > std::numeric_limits<int32_t>::max())
    return invalid("k and v strides too large for 32-bit offsets");
  // Token rows are addressed in 32 bits: (num_new + a page) rows of the larger stride.
  if ((long double)(p.numNew + pageSize) * std::max(p.k.row, p.v.row) >
      (long double)std::numeric_limits<int32_t>::max())
    return invalid(fmt::format("{} tokens at row stride {} are too many for 32-bit row offsets",
                               p.numNew, std::max(p.k.row, p.v.row)));
  if (!buffers.k || !buffers.v || !buffers.pool || !buffers.staging || !buffers.blockTable ||
      !buffers.seqLens || !buffers.headTable || !buffers.status)
    return invalid("k, v, pool, staging, block_table and seq_lens must be set");
  if (!aligned(buffers.k, 16) || !aligned(buffers.v, 16) || !aligned(buffers.pool, 128) ||
      !aligned(buffers.staging, 16) || !aligned(buffers.blockTable, 4) ||
      !aligned(buffers.seqLens, 4))
    return invalid("k, v and staging must be 16-byte aligned, the pool 128-byte aligned, the "
                   "int32 arrays 4-byte aligned");
  return Status::ok();
}

std::array<unsigned, 3> grid(const Config &config, const Problem &p) {
  const unsigned pages =
      config.source == Source::Tokens ? unsigned(p.numNew / config.pageSize + 1) : 1u;
  return {unsigned(p.kvHeads), unsigned(p.batch), pages};
}

Result<std::vector<KernelLaunch>> launches(const Config &config, const kv::CacheLayout &layout,
                                           const Problem &p, const Buffers &buffers) {
  TURBO_RETURN_IF_ERROR(canImplement(config, layout, p, buffers));
  if (config.source == Source::Staging && p.numNew > config.maxNew)
    return invalid(fmt::format("{} new tokens; the kernel takes at most {} (max_new)", p.numNew,
                               config.maxNew));
  if (config.source == Source::Tokens && p.numNew / config.pageSize + 1 > 65535)
    return invalid("prompt too long for the grid");
  auto args = ArgPack<Arg>(KvCompress::signature(config))
                  .pointer(Arg::K, buffers.k)
                  .pointer(Arg::V, buffers.v)
                  .pointer(Arg::Pool, buffers.pool)
                  .pointer(Arg::PoolHalf, buffers.pool)
                  .pointer(Arg::Staging, buffers.staging)
                  .pointer(Arg::StagingFloat, buffers.staging)
                  .pointer(Arg::BlockTable, buffers.blockTable)
                  .pointer(Arg::SeqLens, buffers.seqLens)
                  .pointer(Arg::HeadTable, buffers.headTable)
                  .pointer(Arg::Status, buffers.status)
                  .i32(Arg::KBatch, p.k.batch)
                  .i32(Arg::KHead, p.k.head)
                  .i32(Arg::KRow, p.k.row)
                  .i32(Arg::VBatch, p.v.batch)
                  .i32(Arg::VHead, p.v.head)
                  .i32(Arg::VRow, p.v.row)
                  .i32(Arg::NumNew, p.numNew)
                  .i32(Arg::PageBytes, layout.pageBytes())
                  .i32(Arg::NumPages, p.numPages)
                  .i32(Arg::BlockTableStride, p.blockTableStride)
                  .i32(Arg::MaxPages, p.maxPages)
                  .i32(Arg::StagingSlotBytes, layout.stagingSlotBytes())
                  .i32(Arg::SinkPages, layout.kept().sink)
                  .i32(Arg::WindowPages, layout.kept().window)
                  .finish();
  if (!args)
    return args.status();
  return std::vector<KernelLaunch>{
      {&TemplateDefOf<KvCompress>::instance(), grid(config, p), std::move(*args)}};
}

} // namespace kv_compress
} // namespace turbo::templates
