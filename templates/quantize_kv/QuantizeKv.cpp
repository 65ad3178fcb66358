//===- QuantizeKv.cpp - quantize_kv: config, layout, signature, launch ----===//
#include "quantize_kv/QuantizeKv.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace turbo::templates {

using quantize_kv::Arg;

const ConfigSchema<QuantizeKv::Config> &QuantizeKv::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 96, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "K/V element type")
          .add<&Config::blockN>("block_n", oneOf({32, 64, 128}),
                                "tokens per V scale block (attention's block_n)")
          .add<&Config::numWarps>("num_warps", oneOf({4, 8}), "warps per thread block")
          .add<&Config::tileRows>(
              "tile_rows", oneOf({16, 32, 64}),
              "a program holds at most tile_rows x D elements: K in programs of min(block_n, "
              "tile_rows) tokens, V in programs of block_n tokens and D * tile_rows / block_n "
              "channels (all D when block_n <= tile_rows)")
          .add<&Config::kSmooth>("k_smooth", flag(), "subtract K's per-channel mean first")
          .add<&Config::vFormat>("v_format", named({{"int8", 0}, {"half", 1}, {"mixed", 2}}),
                                 "V in INT8 per channel over each block (permuted keys, "
                                 "scales), or in its own 16-bit type, transposed only; mixed: "
                                 "INT8, and the first block also in 16 bits");
  return schema;
}

void QuantizeKv::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
}

Signature<Arg> QuantizeKv::signature(const Config &config) {
  const ScalarType dtype = scalarTypeOf(config.dtype);
  const bool halfV = config.vFormat == quantize_kv::VFormat::Half;
  Signature<Arg> s;
  s
      .add(Arg::K, pointerArg("k", dtype, 16, ArgRole::Input))
      .add(Arg::V, pointerArg("v", dtype, 16, ArgRole::Input))
      .add(Arg::KMean, pointerArg("k_mean", ScalarType::F32, 16, ArgRole::Input))
      .add(Arg::K8, pointerArg("k8", ScalarType::I8, 16, ArgRole::Scratch))
      .add(Arg::KScale, pointerArg("k_scale", ScalarType::F32, 16, ArgRole::Scratch))
      .add(Arg::V8t, pointerArg("v8t", halfV ? dtype : ScalarType::I8, 16, ArgRole::Scratch));
  if (!halfV)
    s.add(Arg::VScale, pointerArg("v_scale", ScalarType::F32, 16, ArgRole::Scratch));
  s.add(Arg::Seq, valueArg("seq", ScalarType::I32, ArgRole::Size))
      .add(Arg::KBatch, valueArg("k_batch", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::KHead, valueArg("k_head", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::KRow, valueArg("k_row", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::VBatch, valueArg("v_batch", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::VHead, valueArg("v_head", ScalarType::I64, ArgRole::Stride, 8))
      .add(Arg::VRow, valueArg("v_row", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::CuSeqlens, pointerArg("cu_seqlens", ScalarType::I32, 4, ArgRole::Input))
      .add(Arg::Packed, valueArg("packed_tokens", ScalarType::I32, ArgRole::Parameter))
      .add(Arg::KvPitch, valueArg("kv_pitch", ScalarType::I32, ArgRole::Size, config.blockN));
  if (config.vFormat == quantize_kv::VFormat::Mixed)
    s.add(Arg::V0t, pointerArg("v0t", dtype, 16, ArgRole::Scratch));
  return s;
}

namespace quantize_kv {

namespace {
int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}
} // namespace

Layout layoutFor(const Config &config, const Problem &p) {
  const int64_t headDim = config.headDim, blockN = config.blockN;
  const bool halfV = config.vFormat == VFormat::Half;
  Layout l;
  const int64_t heads = p.batch * p.kvHeads;
  l.rowBytes = k8RowBytes(headDim);
  l.vBytes = halfV ? 2 : 1;
  l.paddedSeq = roundUp(p.seq, blockN);
  l.blocks = l.paddedSeq / blockN;
  int64_t offset = 0;
  auto place = [&](int64_t bytes) {
    int64_t at = offset;
    offset = roundUp(offset + bytes, 256);
    return at;
  };
  l.k8 = place(heads * l.paddedSeq * l.rowBytes);
  l.kScale = place(heads * l.paddedSeq * 4);
  l.v8t = place(heads * headDim * l.paddedSeq * l.vBytes);
  l.vScale = halfV ? 0 : place(heads * l.blocks * headDim * 4); // none with half V
  if (config.vFormat == VFormat::Mixed)
    l.v0t = place(heads * headDim * blockN * 2);
  l.totalBytes = offset;
  return l;
}

Status canImplement(const Config &config, const Problem &p, uint64_t k, uint64_t v,
                    uint64_t kMean, uint64_t workspace) {
  const int64_t headDim = config.headDim;
  if (p.batch < 1 || p.kvHeads < 1 || p.batch > 65535 || p.kvHeads > 65535)
    return {StatusCode::InvalidArgument, "batch and kv heads must be in [1, 65535]"};
  if (p.seq < 1 || p.seq > std::numeric_limits<int32_t>::max() / 2)
    return {StatusCode::InvalidArgument, fmt::format("seq {} out of range", p.seq)};
  if (!k || !v || !workspace || (config.kSmooth && !kMean))
    return {StatusCode::InvalidArgument, "k, v, the workspace (and k_mean) must not be null"};
  for (uint64_t pointer : {k, v, workspace, kMean})
    if (!aligned(pointer, 16))
      return {StatusCode::InvalidArgument, "k, v, k_mean and the workspace must be 16-byte aligned"};
  TURBO_RETURN_IF_ERROR(
      checkTensorStrides("k", p.k.batch, p.k.head, p.k.row, headDim, config.blockN));
  TURBO_RETURN_IF_ERROR(
      checkTensorStrides("v", p.v.batch, p.v.head, p.v.row, headDim, config.blockN));
  Layout l = layoutFor(config, p);
  if (l.paddedSeq * headDim > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument, "sequence too long for 32-bit offsets in one head"};
  return Status::ok();
}

ProgramSplit programSplit(int64_t headDim, int64_t blockN, int64_t tileRows) {
  const int64_t groups = blockN > tileRows ? blockN / tileRows : 1;
  return {std::min(blockN, tileRows), paddedHeadDim(headDim) / groups, groups};
}

std::array<unsigned, 3> grid(const Config &config, const Problem &p) {
  // K's programs, then V's.
  const Layout l = layoutFor(config, p);
  const ProgramSplit split = programSplit(config.headDim, config.blockN, config.tileRows);
  return {unsigned(l.paddedSeq / split.kTokens + l.blocks * split.vGroups), unsigned(p.kvHeads),
          unsigned(p.batch)};
}

Result<KernelLaunch> launch(const Config &config, const Problem &p, uint64_t k, uint64_t v,
                            uint64_t kMean, uint64_t workspace, uint64_t cuSeqlens) {
  TURBO_RETURN_IF_ERROR(canImplement(config, p, k, v, kMean, workspace));
  if (cuSeqlens)
    TURBO_RETURN_IF_ERROR(checkPackedTokens("k and v", p.packedTokens, p.seq));
  const Layout l = layoutFor(config, p);
  const Signature<Arg> signature = QuantizeKv::signature(config);
  auto args = ArgPack<Arg>(signature)
                  .pointer(Arg::K, k)
                  .pointer(Arg::V, v)
                  .pointer(Arg::KMean, kMean)
                  .pointer(Arg::K8, workspace + uint64_t(l.k8))
                  .pointer(Arg::KScale, workspace + uint64_t(l.kScale))
                  .pointer(Arg::V8t, workspace + uint64_t(l.v8t))
                  .pointer(Arg::VScale, workspace + uint64_t(l.vScale))
                  .i32(Arg::Seq, p.seq)
                  .i64(Arg::KBatch, p.k.batch)
                  .i64(Arg::KHead, p.k.head)
                  .i32(Arg::KRow, p.k.row)
                  .i64(Arg::VBatch, p.v.batch)
                  .i64(Arg::VHead, p.v.head)
                  .i32(Arg::VRow, p.v.row)
                  .pointer(Arg::CuSeqlens, cuSeqlens)
                  .i32(Arg::Packed, cuSeqlens ? p.packedTokens : 0)
                  .i32(Arg::KvPitch, l.paddedSeq)
                  .pointer(Arg::V0t, workspace + uint64_t(l.v0t))
                  .finish();
  if (!args)
    return args.status();
  return KernelLaunch{&TemplateDefOf<QuantizeKv>::instance(), grid(config, p), std::move(*args)};
}

} // namespace quantize_kv
} // namespace turbo::templates
