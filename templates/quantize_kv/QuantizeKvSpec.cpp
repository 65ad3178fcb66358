//===- QuantizeKvSpec.cpp - quantize_kv parameters and host checks --------===//
#include "turbo/Templates/QuantizeKv.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

const TemplateSpec &quantizeKvSpec() {
  static const TemplateSpec spec = {
      "quantize_kv",
      "K per token (after smoothing) and V per channel per block to INT8, V transposed",
      {
          {"head_dim", 128, {64, 96, 128, 256}, {}, "head dimension"},
          {"dtype", 0, {0, 1}, {{"f16", 0}, {"bf16", 1}}, "K/V element type"},
          {"block_n", 64, {32, 64, 128}, {}, "tokens per V scale block (attention's block_n)"},
          {"num_warps", 4, {4, 8}, {}, "warps per thread block"},
          {"tile_rows", 64, {16, 32, 64}, {},
           "a program holds at most tile_rows x D elements: K in programs of min(block_n, "
           "tile_rows) tokens, V in programs of block_n tokens and D * tile_rows / block_n "
           "channels (all D when block_n <= tile_rows)"},
          {"k_smooth", 1, {0, 1}, {}, "subtract K's per-channel mean first"},
      },
      [](const HeadConfig &head, KernelConfig &config) {
        config.set("head_dim", head.headDim);
        config.set("dtype", head.dtype == DType::BF16 ? 1 : 0);
      },
      nullptr,
  };
  return spec;
}

namespace quantize_kv {

namespace {
int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}
} // namespace

Layout layoutFor(const KernelConfig &config, const Problem &p) {
  return layoutFor(config.get("head_dim"), config.get("block_n"), p);
}

Layout layoutFor(int64_t headDim, int64_t blockN, const Problem &p) {
  Layout l;
  const int64_t heads = p.batch * p.kvHeads;
  l.rowBytes = k8RowBytes(headDim);
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
  l.v8t = place(heads * headDim * l.paddedSeq);
  l.vScale = place(heads * l.blocks * headDim * 4);
  l.totalBytes = offset;
  return l;
}

Status canImplement(const KernelConfig &config, const Problem &p, const void *k,
                    const void *v, const void *kMean, const void *workspace) {
  const int64_t headDim = config.get("head_dim");
  if (p.batch < 1 || p.kvHeads < 1 || p.batch > 65535 || p.kvHeads > 65535)
    return {StatusCode::InvalidArgument, "batch and kv heads must be in [1, 65535]"};
  if (p.seq < 1 || p.seq > std::numeric_limits<int32_t>::max() / 2)
    return {StatusCode::InvalidArgument, fmt::format("seq {} out of range", p.seq)};
  if (!k || !v || !workspace || (config.get("k_smooth") && !kMean))
    return {StatusCode::InvalidArgument, "k, v, the workspace (and k_mean) must not be null"};
  for (const void *pointer : {k, v, workspace, kMean})
    if (reinterpret_cast<uintptr_t>(pointer) % 16)
      return {StatusCode::InvalidArgument, "k, v, k_mean and the workspace must be 16-byte aligned"};
  TURBO_RETURN_IF_ERROR(
      checkTensorStrides("k", p.k.batch, p.k.head, p.k.row, headDim, config.get("block_n")));
  TURBO_RETURN_IF_ERROR(
      checkTensorStrides("v", p.v.batch, p.v.head, p.v.row, headDim, config.get("block_n")));
  Layout l = layoutFor(config, p);
  if (l.paddedSeq * headDim > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument, "sequence too long for 32-bit offsets in one head"};
  return Status::ok();
}

ProgramSplit programSplit(int64_t headDim, int64_t blockN, int64_t tileRows) {
  const int64_t groups = blockN > tileRows ? blockN / tileRows : 1;
  return {std::min(blockN, tileRows), paddedHeadDim(headDim) / groups, groups};
}

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &p) {
  // K's programs, then V's.
  const Layout l = layoutFor(config, p);
  const ProgramSplit split =
      programSplit(config.get("head_dim"), config.get("block_n"), config.get("tile_rows"));
  return {unsigned(l.paddedSeq / split.kTokens + l.blocks * split.vGroups), unsigned(p.kvHeads),
          unsigned(p.batch)};
}

} // namespace quantize_kv
} // namespace turbo::templates
