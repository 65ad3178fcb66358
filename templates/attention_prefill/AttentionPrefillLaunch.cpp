//===- AttentionPrefillLaunch.cpp - workspace, checks, launch sequence ----===//
#include "attention_prefill/AttentionPrefill.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace turbo::templates::attention_prefill {

Workspace workspaceFor(const Config &config, const Problem &p) {
  Workspace w;
  auto place = [&](int64_t bytes) {
    int64_t at = w.totalBytes;
    w.totalBytes = (w.totalBytes + bytes + 255) / 256 * 256;
    return at;
  };
  if (config.kSmooth)
    w.kMean = place(p.batch * p.kvHeads * config.headDim * 4);
  if (config.kvInt8) {
    w.kv = quantize_kv::layoutFor(quantizeKvConfig(config), quantizeKvProblem(p));
    w.quantizedKv = place(w.kv.totalBytes);
  }
  return w;
}

Result<int64_t> workspaceBytes(const Config &config, const Problem &p) {
  if (p.batch < 1 || p.kvHeads < 1 || p.seqK < 1 || p.batch > 65535 || p.kvHeads > 65535 ||
      p.seqK > std::numeric_limits<int32_t>::max())
    return Status(StatusCode::InvalidArgument,
                  "batch, kv_heads and seq_k must be positive (and within the grid limits)");
  TURBO_RETURN_IF_ERROR(checkSizes(config, p));
  return workspaceFor(config, p).totalBytes;
}

Status checkSizes(const Config &config, const Problem &p) {
  // No GPU holds 2^48 bytes. Past that the workspace size and the offsets
  // would be computed in 64 bits where they can overflow (a fuzz test found
  // a workspace size that wrapped negative and let a launch through).
  constexpr long double limit = 0x1p48L;
  const long double rowBytes = 2.0L * config.headDim;
  const long double q = (long double)p.batch * p.qHeads * p.seqQ * rowBytes;
  const long double kv = (long double)p.batch * p.kvHeads * p.seqK * rowBytes;
  if (p.batch < 0 || p.qHeads < 0 || p.kvHeads < 0 || p.seqQ < 0 || p.seqK < 0 ||
      q > limit || kv > limit)
    return {StatusCode::InvalidArgument,
            fmt::format("shapes too large: Q would hold {:.3g} bytes and K {:.3g} (at most 2^48 "
                        "each)",
                        double(q), double(kv))};
  return Status::ok();
}

quantize_kv::Problem quantizeKvProblem(const Problem &p) {
  quantize_kv::Problem kv;
  kv.batch = p.batch;
  kv.kvHeads = p.kvHeads;
  kv.seq = p.seqK;
  kv.k = {p.k.batch, p.k.head, p.k.row};
  kv.v = {p.v.batch, p.v.head, p.v.row};
  kv.packedTokens = p.tokensK;
  return kv;
}

quantize_q::Problem quantizeQProblem(const Problem &p) {
  quantize_q::Problem qp;
  qp.batch = p.batch;
  qp.heads = p.qHeads;
  qp.seq = p.seqQ;
  qp.packed = p.packed;
  qp.packedTokens = p.tokensQ;
  qp.q = {p.q.batch, p.q.head, p.q.row};
  qp.q8 = {p.q8.batch, p.q8.head, p.q8.row};
  qp.scaleBatch = p.qScaleBatch;
  qp.scaleHead = p.qScaleHead;
  return qp;
}

namespace {
/// Which tensors the steps read and write.
struct Uses {
  bool attention, readsQ, usesQ8, readsKv;
};
Uses usesOf(const Config &config, unsigned steps) {
  const bool attention = steps & AttentionStep;
  // Q in f16/bf16 is read by the attention kernel unless it takes INT8, and
  // by QUANTIZE_Q; K and V by the preparation, and by the attention kernel
  // itself unless it reads them quantized from the workspace.
  return {attention, (attention && !config.qInt8) || (steps & QuantizeQStep),
          config.qInt8 && (attention || (steps & QuantizeQStep)),
          (steps & QuantizeKvStep) || (attention && !config.kvInt8)};
}

Status checkSteps(const Config &config, unsigned steps) {
  if (steps == 0 || (steps & ~unsigned(AllSteps | QuantizeQStep)))
    return {StatusCode::InvalidArgument,
            fmt::format("steps {} is not a combination of QUANTIZE_KV (1), ATTENTION (2) and "
                        "QUANTIZE_Q (4)",
                        steps)};
  if ((steps & QuantizeQStep) && !config.qInt8)
    return {StatusCode::InvalidArgument,
            "QUANTIZE_Q writes the INT8 Q that a q_int8=1 kernel reads; this kernel has "
            "q_int8=0 (it quantizes Q itself)"};
  return Status::ok();
}

Status checkShapes(const Config &config, const Problem &p) {
  constexpr int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (p.batch < 1)
    return {StatusCode::InvalidArgument, "batch must be positive"};
  TURBO_RETURN_IF_ERROR(checkHeadCounts(p.qHeads, p.kvHeads));
  if (p.seqQ < 1 || p.seqK < 1 || p.seqQ > int32Max || p.seqK > int32Max)
    return {StatusCode::InvalidArgument,
            fmt::format("sequence lengths must be in [1, 2^31): seq_q {}, seq_k {}", p.seqQ,
                        p.seqK)};
  if (p.qHeads > 65535 || p.batch > 65535)
    return {StatusCode::InvalidArgument, "at most 65535 heads and batches (grid limits)"};
  return checkSizes(config, p);
}

Status checkWorkspace(const Config &config, const Problem &p, const Buffers &b,
                      unsigned steps) {
  // Only the K/V preparation and the attention use the workspace.
  const int64_t needed = (steps & AllSteps) ? workspaceFor(config, p).totalBytes : int64_t(0);
  if (needed > 0 && (!b.workspace || b.workspaceBytes < needed))
    return {StatusCode::InvalidArgument,
            fmt::format("the kernel needs a workspace of {} bytes (k_smooth={}, kv_int8={}), "
                        "got {} at {:#x}",
                        needed, int(config.kSmooth), int(config.kvInt8), b.workspaceBytes,
                        b.workspace)};
  if (!aligned(b.workspace, 16))
    return {StatusCode::InvalidArgument, "the workspace must be 16-byte aligned"};
  return Status::ok();
}

Status checkTensors(const Config &config, const Problem &p, const Buffers &b, const Uses &use) {
  struct Named {
    const char *name;
    uint64_t address;
    const Problem::Strides &s;
    bool used;
  };
  const Named tensors[] = {{"q", b.q, p.q, use.readsQ},
                           {"k", b.k, p.k, use.readsKv},
                           {"v", b.v, p.v, use.readsKv},
                           {"o", b.o, p.o, use.attention}};
  for (const Named &t : tensors)
    if (t.used && !aligned(t.address, 16))
      return {StatusCode::InvalidArgument, fmt::format("{} must be 16-byte aligned", t.name)};
  if (use.attention && config.writeLse && !aligned(b.lse, 4))
    return {StatusCode::InvalidArgument, "lse must be 4-byte aligned"};
  if (p.packed && !config.varlen)
    return {StatusCode::InvalidArgument,
            "packed sequences (cu_seqlens) need a kernel built with varlen=1 (a plan has one)"};
  if (p.packed) {
    TURBO_RETURN_IF_ERROR(checkPackedTokens("q and o", p.tokensQ, p.seqQ));
    TURBO_RETURN_IF_ERROR(checkPackedTokens("k and v", p.tokensK, p.seqK));
  }
  const int64_t tileRows = std::max(config.blockM, config.blockN);
  for (const Named &t : tensors) {
    if (!t.used)
      continue;
    if (p.packed && t.s.batch)
      return {StatusCode::InvalidArgument,
              fmt::format("packed (varlen) tensors are [tokens, heads, head_dim]: their batch "
                          "strides must be 0 ({} has {})",
                          t.name, t.s.batch)};
    TURBO_RETURN_IF_ERROR(
        checkTensorStrides(t.name, t.s.batch, t.s.head, t.s.row, config.headDim, tileRows));
  }
  // The output is written by many programs: its rows must not overlap
  // (packed: all its tokens along the rows).
  if (use.attention)
    TURBO_RETURN_IF_ERROR(checkNoOverlap("o", {p.packed ? 1 : p.batch, p.qHeads,
                                               p.packed ? p.tokensQ : p.seqQ},
                                         {p.o.batch, p.o.head, p.o.row}, config.headDim));
  return Status::ok();
}
} // namespace

Status canImplement(const Config &config, const Problem &p, const Buffers &b, unsigned steps) {
  TURBO_RETURN_IF_ERROR(checkSteps(config, steps));
  const Uses use = usesOf(config, steps);
  TURBO_RETURN_IF_ERROR(checkShapes(config, p));
  if (use.readsQ && !b.q)
    return {StatusCode::InvalidArgument, "q must not be null"};
  if (use.attention && !b.o)
    return {StatusCode::InvalidArgument, "o must not be null"};
  // q8 and q_scale as the attention kernel reads them (QUANTIZE_Q checks
  // its own side again when it launches).
  if (use.usesQ8)
    TURBO_RETURN_IF_ERROR(quantize_q::checkInt8Q(quantizeQProblem(p), config.headDim,
                                                 std::max(config.blockM, config.blockN), b.q8,
                                                 b.qScale));
  if (use.readsKv && (!b.k || !b.v))
    return {StatusCode::InvalidArgument,
            use.attention ? "k and v must not be null"
                          : "k and v must not be null (QUANTIZE_KV reads them)"};
  if (use.attention && config.writeLse && !b.lse)
    return {StatusCode::InvalidArgument, "the kernel writes log-sum-exp: lse must not be null"};
  TURBO_RETURN_IF_ERROR(checkWorkspace(config, p, b, steps));
  return checkTensors(config, p, b, use);
}

Status canRunReference(const Config &config, const Problem &p, const Buffers &b) {
  TURBO_RETURN_IF_ERROR(checkShapes(config, p));
  if (p.packed)
    return {StatusCode::InvalidArgument,
            "the CPU reference takes padded [batch, heads, seq, head_dim] tensors only, not "
            "packed ones (cu_seqlens)"};
  if (!b.q || !b.k || !b.v || !b.o)
    return {StatusCode::InvalidArgument, "q, k, v and o must not be null"};
  if (config.writeLse && !b.lse)
    return {StatusCode::InvalidArgument, "the config writes log-sum-exp: lse must not be null"};
  const int64_t tileRows = std::max(config.blockM, config.blockN);
  const std::pair<const char *, const Problem::Strides *> tensors[] = {
      {"q", &p.q}, {"k", &p.k}, {"v", &p.v}, {"o", &p.o}};
  for (const auto &[name, s] : tensors)
    TURBO_RETURN_IF_ERROR(
        checkTensorStrides(name, s->batch, s->head, s->row, config.headDim, tileRows));
  return Status::ok();
}

std::array<unsigned, 3> grid(const Config &config, const Problem &p) {
  return {unsigned((p.seqQ + config.blockM - 1) / config.blockM), unsigned(p.qHeads),
          unsigned(p.batch)};
}

namespace {
/// The attention kernel's own launch (see Arg for the arguments).
Result<KernelLaunch> attentionLaunch(const Config &config, const Problem &p, const Buffers &b,
                                     const Workspace &w) {
  const Signature<Arg> signature = AttentionPrefill::signature(config);
  const uint64_t kMean = w.kMean >= 0 ? b.workspace + uint64_t(w.kMean) : 0;
  const uint64_t area = b.workspace + uint64_t(w.quantizedKv);
  const Problem::Strides &q = config.qInt8 ? p.q8 : p.q;
  ArgPack<Arg> args(signature);
  args.pointer(Arg::Q, config.qInt8 ? b.q8 : b.q)
      .pointer(Arg::K, b.k)
      .pointer(Arg::V, b.v)
      .pointer(Arg::K8, area + uint64_t(w.kv.k8))
      .pointer(Arg::V8t, area + uint64_t(w.kv.v8t))
      .pointer(Arg::KScale, area + uint64_t(w.kv.kScale))
      .pointer(Arg::VScale, area + uint64_t(w.kv.vScale))
      .pointer(Arg::O, b.o)
      .pointer(Arg::Lse, b.lse)
      .pointer(Arg::KMean, kMean)
      .i32(Arg::SeqQ, p.seqQ)
      .i32(Arg::SeqK, p.seqK)
      .i64(Arg::QBatch, q.batch)
      .i64(Arg::QHead, q.head)
      .i32(Arg::QRow, q.row)
      .i64(Arg::KBatch, p.k.batch)
      .i64(Arg::KHead, p.k.head)
      .i32(Arg::KRow, p.k.row)
      .i64(Arg::VBatch, p.v.batch)
      .i64(Arg::VHead, p.v.head)
      .i32(Arg::VRow, p.v.row)
      .i64(Arg::OBatch, p.o.batch)
      .i64(Arg::OHead, p.o.head)
      .i32(Arg::ORow, p.o.row)
      .i32(Arg::Group, p.qHeads / p.kvHeads)
      .f32(Arg::ScaleLog2, scaleLog2(config, p))
      .pointer(Arg::CuSeqlensQ, p.packed ? b.cuSeqlensQ : 0)
      .pointer(Arg::CuSeqlensK, p.packed ? b.cuSeqlensK : 0)
      .i32(Arg::Packed, p.packed ? p.tokensQ : 0)
      .i32(Arg::PackedK, p.packed ? p.tokensK : 0)
      .pointer(Arg::QScale, b.qScale)
      .i64(Arg::QScaleBatch, p.qScaleBatch)
      .i64(Arg::QScaleHead, p.qScaleHead)
      .i32(Arg::KvPitch, w.kv.paddedSeq)
      .pointer(Arg::V0t, area + uint64_t(w.kv.v0t));
  auto packed = args.finish();
  if (!packed)
    return packed.status();
  return KernelLaunch{&TemplateDefOf<AttentionPrefill>::instance(), grid(config, p),
                      std::move(*packed)};
}
} // namespace

Result<std::vector<KernelLaunch>> launches(const Config &config, const Problem &p,
                                           const Buffers &b, unsigned steps) {
  TURBO_RETURN_IF_ERROR(canImplement(config, p, b, steps));
  const Workspace w = workspaceFor(config, p);
  const uint64_t kMean = w.kMean >= 0 ? b.workspace + uint64_t(w.kMean) : 0;
  const uint64_t cuSeqlensK = p.packed ? b.cuSeqlensK : 0;
  const bool prepare = steps & QuantizeKvStep;
  std::vector<KernelLaunch> sequence;
  auto add = [&](Result<KernelLaunch> launch) -> Status {
    if (!launch)
      return launch.status();
    sequence.push_back(std::move(*launch));
    return Status::ok();
  };
  if (steps & QuantizeQStep)
    TURBO_RETURN_IF_ERROR(add(quantize_q::launch(quantizeQConfig(config), quantizeQProblem(p),
                                                 b.q, b.q8, b.qScale, b.cuSeqlensQ)));
  if (prepare && config.kSmooth) {
    channel_mean::Problem means{p.batch,   p.kvHeads, p.seqK,    p.k.batch,
                                p.k.head, p.k.row,   p.tokensK};
    TURBO_RETURN_IF_ERROR(
        add(channel_mean::launch(channelMeanConfig(config), means, b.k, kMean, cuSeqlensK)));
  }
  if (prepare && config.kvInt8) {
    TURBO_RETURN_IF_ERROR(add(quantize_kv::launch(quantizeKvConfig(config), quantizeKvProblem(p),
                                                  b.k, b.v, kMean,
                                                  b.workspace + uint64_t(w.quantizedKv),
                                                  cuSeqlensK)));
  }
  if (steps & AttentionStep)
    TURBO_RETURN_IF_ERROR(add(attentionLaunch(config, p, b, w)));
  return sequence;
}

} // namespace turbo::templates::attention_prefill
