//===- AttentionDecode.cpp - parameters, signature, checks, launches ------===//
#include "attention_decode/AttentionDecode.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace turbo::templates {

using attention_decode::Arg;

const ConfigSchema<AttentionDecode::Config> &AttentionDecode::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "Q/O element type")
          .add<&Config::group>("group", inRange(1, 16), "query heads per KV head")
          .add<&Config::maxQuery>("max_query", inRange(1, 16),
                                  "new query tokens per sequence, at most (16 covers "
                                  "speculative decoding)")
          .add<&Config::pageSize>("page_size", oneOf({16, 32, 64, 128}), "tokens per page")
          .add<&Config::kvBits>("kv_bits", named({{"mixed", 0}, {"2", 2}, {"4", 4}, {"8", 8}}),
                                "page widths the kernel reads: one, or mixed (2 and 4 by head)")
          .add<&Config::numWarps>("num_warps", oneOf({4, 8}), "warps per thread block")
          .add<&Config::sasDegree>("sas_degree", oneOf({0, 1, 2, 3}), "SAS polynomial degree")
          .add<&Config::sasThreshold>("sas_threshold", inRange(1, 14),
                                      "SAS: p below 2^-threshold of its page's max is 0")
          .add<&Config::prefetch>("prefetch", inRange(0, 2),
                                  "loaded a page ahead: 0 nothing, 1 codes, 2 codes and scales")
          .add<&Config::numStages>("num_stages", oneOf({1, 2, 3, 4}),
                                   "pages through shared memory with cp.async: slots per "
                                   "page part (1: none, prefetch into registers instead; "
                                   "more was slower on an H100, docs/kv-cache.md)")
          .add<&Config::minBlocksPerSm>("min_blocks_per_sm", oneOf({0, 1, 2, 3, 4}),
                                        "blocks per SM the registers are capped for "
                                        "(.minnctapersm; 0: ptxas's choice)")
          .add<&Config::keysInM>("keys_in_m", oneOf({0, 1}),
                                 "1: the page's keys in the mma's M dimension, the query rows "
                                 "in N (padded to 8, not 16)")
          .add<&Config::reduceSplitsPerStep>("reduce_splits_per_step",
                                             oneOf({1, 2, 4, 8, 16, 32}),
                                             "splits decode_reduce combines per step")
          .add<&Config::reduceBlockCols>("reduce_block_cols", oneOf({16, 32, 64, 128, 256}),
                                         "columns of O per decode_reduce program (cut to "
                                         "head_dim)");
  return schema;
}

void AttentionDecode::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
  config.group = head.kvHeads > 0 ? std::max(1, head.qHeads / head.kvHeads) : 1;
  config.kvBits = head.kvBits;
}

SearchSpace AttentionDecode::searchSpace(std::string_view, const Config &) {
  return {{"num_warps", {4, 8}},
          {"prefetch", {0, 1, 2}},
          {"min_blocks_per_sm", {0, 3}},
          {"reduce_splits_per_step", {8, 32}}};
}

Status AttentionDecode::validate(const Config &config) {
  if (config.group * config.maxQuery > 128)
    return {StatusCode::InvalidArgument,
            fmt::format("attention_decode: group ({}) x max_query ({}) must be at most 128 rows",
                        config.group, config.maxQuery)};
  if (config.keysInM && config.pageSize < 16 * config.numWarps)
    return {StatusCode::InvalidArgument,
            fmt::format("attention_decode: keys_in_m=1 splits a page's keys over the warps, 16 "
                        "each: page_size ({}) must be at least 16 x num_warps ({})",
                        config.pageSize, config.numWarps)};
  return Status::ok();
}

Signature<Arg> AttentionDecode::signature(const Config &config) {
  const ScalarType dtype = scalarTypeOf(config.dtype), i32 = ScalarType::I32;
  return Signature<Arg>()
      .add(Arg::Q, pointerArg("q", dtype, 16, ArgRole::Input))
      .add(Arg::O, pointerArg("o", dtype, 16, ArgRole::Output))
      .add(Arg::Pool, pointerArg("pool", i32, 128, ArgRole::Input))
      .add(Arg::Staging, pointerArg("staging",
                                    signedIntOfBytes(kv::stagingCodeBytes(config.kvBits)), 16,
                                    ArgRole::Input))
      .add(Arg::StagingFloat, pointerArg("staging_f32", ScalarType::F32, 16, ArgRole::Input))
      .add(Arg::BlockTable, pointerArg("block_table", i32, 4, ArgRole::Input))
      .add(Arg::SeqLens, pointerArg("seq_lens", i32, 4, ArgRole::Input))
      .add(Arg::HeadTable, pointerArg("head_table", i32, 8, ArgRole::Input))
      .add(Arg::Partial, pointerArg("partial", ScalarType::F32, 16, ArgRole::Scratch))
      .add(Arg::Status, pointerArg("status", i32, 4, ArgRole::Output))
      .add(Arg::QBatch, valueArg("q_batch_stride", i32, ArgRole::Stride, 8))
      .add(Arg::QHead, valueArg("q_head_stride", i32, ArgRole::Stride, 8))
      .add(Arg::QRow, valueArg("q_row_stride", i32, ArgRole::Stride, 8))
      .add(Arg::OBatch, valueArg("o_batch_stride", i32, ArgRole::Stride, 8))
      .add(Arg::OHead, valueArg("o_head_stride", i32, ArgRole::Stride, 8))
      .add(Arg::ORow, valueArg("o_row_stride", i32, ArgRole::Stride, 8))
      .add(Arg::NumQuery, valueArg("num_query", i32, ArgRole::Size))
      .add(Arg::PageBytes, valueArg("page_bytes", i32, ArgRole::Size, 128))
      .add(Arg::NumPages, valueArg("num_pages", i32, ArgRole::Size))
      .add(Arg::BlockTableStride, valueArg("block_table_stride", i32, ArgRole::Stride))
      .add(Arg::MaxPages, valueArg("max_pages", i32, ArgRole::Size))
      .add(Arg::StagingSlotBytes, valueArg("staging_slot_bytes", i32, ArgRole::Size, 16))
      .add(Arg::SinkPages, valueArg("sink_pages", i32, ArgRole::Size))
      .add(Arg::WindowPages, valueArg("window_pages", i32, ArgRole::Size))
      .add(Arg::PagesPerSplit, valueArg("pages_per_split", i32, ArgRole::Size))
      .add(Arg::ScaleLog2, valueArg("scale_log2", ScalarType::F32, ArgRole::Parameter));
}

Result<std::vector<AnyConfig>> AttentionDecode::helpers(const Config &config) {
  auto reduce = AnyConfig::make<DecodeReduce>(attention_decode::reduceConfig(config));
  if (!reduce)
    return reduce.status();
  return std::vector<AnyConfig>{*reduce};
}

namespace attention_decode {

int64_t blockRows(const Config &config) {
  int64_t rows = 16;
  while (rows < config.group * config.maxQuery)
    rows *= 2;
  return rows;
}

int64_t tileRows(const Config &config) {
  if (!config.keysInM)
    return blockRows(config);
  int64_t rows = 8;
  while (rows < config.group * config.maxQuery)
    rows *= 2;
  return rows;
}

decode_reduce::Config reduceConfig(const Config &config) {
  decode_reduce::Config reduce;
  reduce.headDim = config.headDim;
  reduce.dtype = config.dtype;
  reduce.blockRows = blockRows(config);
  reduce.splitsPerStep = config.reduceSplitsPerStep;
  reduce.blockCols = std::min(config.reduceBlockCols, config.headDim);
  // Several query tokens make taller tiles: fewer splits a step, so that a
  // thread's loads in flight stay within decode_reduce's limit.
  while (reduce.splitsPerStep > 1 &&
         decode_reduce::floatsInFlight(reduce) > decode_reduce::kMaxFloatsInFlight)
    reduce.splitsPerStep /= 2;
  return reduce;
}

int64_t chooseSplits(const Problem &problem, int multiprocessors, int blocksPerMultiprocessor) {
  // Whole waves: a split count that leaves a wave part-empty (16 x 8k on
  // 132 SMs at 2 programs each: 3 splits fill 1.45 waves) costs as much as
  // the full wave, so the count is chosen by the time of its last wave.
  // Runs before the problem's checks: sizes are clamped so that no product
  // below overflows. decode_reduce's time is not in the cost (about 7 us at
  // 32 splits on an H100; the choices measured within 5% of a sweep's best:
  // docs/kv-cache.md).
  // (Beyond these the launch is refused anyway: a grid's y is at most 65535.)
  const int64_t pairs = std::clamp<int64_t>(problem.batch, 1, 65535) *
                        std::clamp<int64_t>(problem.kvHeads, 1, 1024);
  const int64_t slots = int64_t(std::max(multiprocessors, 1)) * std::max(blocksPerMultiprocessor, 1);
  const int64_t pages = std::clamp<int64_t>(problem.maxPages, 1, int64_t(1) << 20);
  int64_t best = 1, bestCost = INT64_MAX;
  for (int64_t splits = 1; splits <= std::min<int64_t>(pages, 1024); ++splits) {
    const int64_t waves = (pairs * splits + slots - 1) / slots;
    // More splits never take fewer waves, nor under a page and the fixed cost a program.
    if (waves * (1 + kProgramPages) >= bestCost)
      break;
    const int64_t cost = waves * ((pages + splits - 1) / splits + kProgramPages);
    if (cost < bestCost)
      best = splits, bestCost = cost;
  }
  return best;
}

int64_t pagesPerSplit(const Config &, const Problem &problem) {
  const int64_t splits = std::max<int64_t>(problem.splits, 1);
  return std::max<int64_t>((problem.maxPages + splits - 1) / splits, 1);
}

int64_t workspaceBytes(const Config &config, const Problem &problem) {
  if (problem.splits <= 1)
    return 0;
  // Saturates instead of overflowing on sizes not yet checked: a caller then
  // finds no workspace large enough.
  int64_t bytes = 4 * decode_reduce::partialFloats(reduceConfig(config));
  for (int64_t factor : {problem.batch, problem.kvHeads, problem.splits})
    if (factor < 0 || __builtin_mul_overflow(bytes, factor, &bytes))
      return std::numeric_limits<int64_t>::max();
  return bytes;
}

std::vector<int32_t> headTable(const kv::CacheLayout &layout) {
  std::vector<int32_t> table;
  for (int64_t h = 0; h < layout.kvHeads(); ++h) {
    table.push_back(layout.bitsOf(h));
    table.push_back(int32_t(layout.headOffset(h)));
  }
  return table;
}

float scaleLog2(const Config &config, const Problem &problem) {
  const double scale =
      problem.softmaxScale > 0 ? problem.softmaxScale : 1.0 / std::sqrt(double(config.headDim));
  return float(scale * M_LOG2E);
}

namespace {
Status invalid(std::string message) {
  return {StatusCode::InvalidArgument, "attention_decode: " + std::move(message)};
}

/// Query and output rows: row g * n + t at head g, token t.
Status checkRows(std::string_view name, const Problem::Strides &s, int64_t numQuery,
                 int64_t headDim) {
  if (s.batch < 0 || s.head < headDim || s.batch % 8 || s.head % 8 || s.token % 8)
    return invalid(fmt::format("{} strides (batch {}, head {}, token {}) must be non-negative "
                               "multiples of 8 elements with head >= head_dim ({})",
                               name, s.batch, s.head, s.token, headDim));
  if (numQuery > 1 && (s.token < headDim || s.head != numQuery * s.token))
    return invalid(fmt::format(
        "with {} query tokens {} must be [batch, heads, tokens, head_dim]: head stride {} must "
        "be tokens x token stride ({} x {})",
        numQuery, name, s.head, numQuery, s.token));
  constexpr int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (s.batch > int32Max || s.head > int32Max / 128)
    return invalid(fmt::format("{} strides too large for 32-bit offsets", name));
  return Status::ok();
}
} // namespace

Status canImplement(const Config &config, const kv::CacheLayout &layout, const Problem &p,
                    const Buffers &buffers) {
  if (Status fits = kv::checkKernelFits(layout, config.headDim, config.pageSize, config.kvBits,
                                        p.kvHeads);
      !fits)
    return invalid(fits.message());
  if (Status addressed =
          kv::checkAddressing(layout, p.batch, p.maxPages, p.blockTableStride, p.numPages);
      !addressed)
    return invalid(addressed.message());
  if (p.numQuery < 1 || p.numQuery > config.maxQuery)
    return invalid(fmt::format("{} query tokens per sequence; the kernel takes 1 to {} "
                               "(max_query)",
                               p.numQuery, config.maxQuery));
  if (p.splits < 1 || p.splits > 1024)
    return invalid(fmt::format("splits {} must be in [1, 1024]", p.splits));
  TURBO_RETURN_IF_ERROR(checkRows("q", p.q, p.numQuery, config.headDim));
  TURBO_RETURN_IF_ERROR(checkRows("o", p.o, p.numQuery, config.headDim));
  TURBO_RETURN_IF_ERROR(checkNoOverlap("o", {p.batch, p.kvHeads * config.group, p.numQuery},
                                       {p.o.batch, p.o.head, p.o.token}, config.headDim));
  if (!buffers.q || !buffers.o || !buffers.staging || !buffers.blockTable || !buffers.seqLens ||
      !buffers.headTable || !buffers.status)
    return invalid("q, o, staging, block_table, seq_lens, head_table and status must be set");
  if (!buffers.pool)
    return invalid("the pool is null (it must hold at least one page: a kernel may read page 0 "
                   "in place of a bad block-table entry)");
  if (!aligned(buffers.q, 16) || !aligned(buffers.o, 16) || !aligned(buffers.pool, 128) ||
      !aligned(buffers.staging, 16) || !aligned(buffers.blockTable, 4) ||
      !aligned(buffers.seqLens, 4) || !aligned(buffers.headTable, 8) ||
      !aligned(buffers.status, 4))
    return invalid("q, o and staging must be 16-byte aligned, the pool 128-byte aligned, the "
                   "int32 arrays 4-byte aligned (the head table 8)");
  const int64_t need = workspaceBytes(config, p);
  if (need > 0 && (!buffers.workspace || buffers.workspaceBytes < need ||
                   !aligned(buffers.workspace, 16)))
    return invalid(fmt::format("{} splits need a 16-byte aligned workspace of {} bytes, got {}",
                               p.splits, need, buffers.workspaceBytes));
  return Status::ok();
}

std::array<unsigned, 3> grid(const Config &, const Problem &p) {
  return {unsigned(p.kvHeads), unsigned(p.batch), unsigned(std::max<int64_t>(p.splits, 1))};
}

Result<std::vector<KernelLaunch>> launches(const Config &config, const kv::CacheLayout &layout,
                                           const Problem &p, const Buffers &buffers) {
  TURBO_RETURN_IF_ERROR(canImplement(config, layout, p, buffers));
  const Signature<Arg> signature = AttentionDecode::signature(config);
  // One query token: row g is head g. Several: rows n apart (checked).
  const int64_t qRow = p.numQuery == 1 ? p.q.head : p.q.token;
  const int64_t oRow = p.numQuery == 1 ? p.o.head : p.o.token;
  auto args = ArgPack<Arg>(signature)
                  .pointer(Arg::Q, buffers.q)
                  .pointer(Arg::O, buffers.o)
                  .pointer(Arg::Pool, buffers.pool)
                  .pointer(Arg::Staging, buffers.staging)
                  .pointer(Arg::StagingFloat, buffers.staging)
                  .pointer(Arg::BlockTable, buffers.blockTable)
                  .pointer(Arg::SeqLens, buffers.seqLens)
                  .pointer(Arg::HeadTable, buffers.headTable)
                  .pointer(Arg::Partial, buffers.workspace)
                  .pointer(Arg::Status, buffers.status)
                  .i32(Arg::QBatch, p.q.batch)
                  .i32(Arg::QHead, p.q.head)
                  .i32(Arg::QRow, qRow)
                  .i32(Arg::OBatch, p.o.batch)
                  .i32(Arg::OHead, p.o.head)
                  .i32(Arg::ORow, oRow)
                  .i32(Arg::NumQuery, p.numQuery)
                  .i32(Arg::PageBytes, layout.pageBytes())
                  .i32(Arg::NumPages, p.numPages)
                  .i32(Arg::BlockTableStride, p.blockTableStride)
                  .i32(Arg::MaxPages, p.maxPages)
                  .i32(Arg::StagingSlotBytes, layout.stagingSlotBytes())
                  .i32(Arg::SinkPages, layout.kept().sink)
                  .i32(Arg::WindowPages, layout.kept().window)
                  .i32(Arg::PagesPerSplit, pagesPerSplit(config, p))
                  .f32(Arg::ScaleLog2, scaleLog2(config, p))
                  .finish();
  if (!args)
    return args.status();
  std::vector<KernelLaunch> out;
  out.push_back(
      {&TemplateDefOf<AttentionDecode>::instance(), grid(config, p), std::move(*args)});
  if (p.splits > 1) {
    const decode_reduce::Config reduce = reduceConfig(config);
    auto reduceArgs = ArgPack<decode_reduce::Arg>(DecodeReduce::signature(reduce))
                          .pointer(decode_reduce::Arg::Partial, buffers.workspace)
                          .pointer(decode_reduce::Arg::O, buffers.o)
                          .i32(decode_reduce::Arg::OBatch, p.o.batch)
                          .i32(decode_reduce::Arg::OHead, p.o.head)
                          .i32(decode_reduce::Arg::ORow, oRow)
                          .i32(decode_reduce::Arg::Rows, config.group * p.numQuery)
                          .i32(decode_reduce::Arg::Splits, p.splits)
                          .i32(decode_reduce::Arg::Group, config.group)
                          .finish();
    if (!reduceArgs)
      return reduceArgs.status();
    out.push_back({&TemplateDefOf<DecodeReduce>::instance(),
                   {unsigned(p.kvHeads), unsigned(p.batch),
                    unsigned(reduce.headDim / reduce.blockCols)},
                   std::move(*reduceArgs)});
  }
  return out;
}

} // namespace attention_decode
} // namespace turbo::templates
