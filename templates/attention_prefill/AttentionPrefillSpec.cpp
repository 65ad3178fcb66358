//===- AttentionPrefillSpec.cpp - parameters and host checks --------------===//
#include "turbo/Templates/AttentionPrefill.h"
#include "turbo/Templates/QuantizeQ.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace turbo::templates {

const TemplateSpec &attentionPrefillSpec() {
  static const TemplateSpec spec = {
      "attention_prefill",
      "FlashQ INT8 + SAS prefill attention (causal or not, GQA)",
      {
          {"head_dim", 128, {64, 96, 128, 256}, {}, "head dimension"},
          {"dtype", 0, {0, 1}, {{"f16", 0}, {"bf16", 1}}, "Q/K/V/O element type"},
          {"causal", 0, {0, 1}, {}, "mask keys after each query (bottom-right aligned)"},
          {"block_m", 64, {64, 128}, {}, "query rows per thread block"},
          {"block_n", 64, {32, 64, 128}, {}, "keys per inner-loop step"},
          {"num_warps", 4, {4, 8}, {}, "warps per thread block"},
          {"min_blocks_per_sm", 0, {0, 1, 2, 3, 4}, {},
           "blocks per SM ptxas must fit (caps registers, but never below 128 per thread; "
           "0: ptxas's choice; the head config sets, up to head dim 64 / 128: 3 / 2 with wgmma, "
           "4 / 3 without)"},
          {"num_stages", 2, {1, 2, 3}, {},
           "shared-memory slots per K/V tile and scale vector (cp.async ahead of use; 1: "
           "load synchronously)"},
          {"sas_degree", 2, {0, 1, 2, 3}, {},
           "SAS polynomial degree (2 and 3 measured alike at threshold 12: "
           "docs/accuracy.md)"},
          {"sas_threshold", 12, {}, {},
           "SAS: 2^-n with n >= threshold is exactly 0 (1..30; from 12 on P's u8 codes round "
           "it to 0 and the kernel only clamps)"},
          {"q_scale", 1, {0, 1}, {{"tile", 0}, {"token", 1}}, "Q scale granularity"},
          {"k_scale", 1, {0, 1}, {{"tile", 0}, {"token", 1}}, "K scale granularity"},
          {"p_scale", 1, {0, 1}, {{"fixed", 0}, {"row", 1}}, "P scale: 1/255, or row max/255"},
          {"v_scale", 1, {0, 1}, {{"tile", 0}, {"channel", 1}}, "V scale granularity"},
          {"write_lse", 0, {0, 1}, {}, "also write log-sum-exp (natural log) per row"},
          {"k_smooth", 1, {0, 1}, {}, "quantize K minus its per-channel mean (channel_mean)"},
          {"varlen", 0, {0, 1}, {},
           "also take packed sequences with cu_seqlens (the varlen form); a separate kernel "
           "because the per-sequence bounds cost registers the padded form does not need "
           "(plans build both)"},
          {"q_int8", 0, {0, 1}, {},
           "Q comes quantized: INT8 codes and per-token f32 scales (from quantize_q, the "
           "QUANTIZE_Q step, or the caller's own) instead of f16/bf16; needs q_scale=token"},
          {"kv_int8", 1, {0, 1}, {},
           "quantize K and V once (quantize_kv) instead of per query block; same results, "
           "needs k_scale=token and v_scale=channel"},
          {"wgmma", 0, {0, 1}, {},
           "Hopper (sm_90a): the two INT8 products on wgmma, K and V read by the tensor cores "
           "from shared memory; needs kv_int8=1, num_stages >= 2 and block_m = 16 * num_warps "
           "(the head config sets it on sm_90a up to head dim 128, with block_n=128)"},
      },
      [](const HeadConfig &head, KernelConfig &config) {
        config.set("head_dim", head.headDim);
        config.set("dtype", head.dtype == DType::BF16 ? 1 : 0);
        config.set("causal", head.causal ? 1 : 0);
        // Hopper (sm_90a) up to head dim 128 (96 pads to 128): both INT8
        // products on wgmma, 128 keys per step, two blocks per SM at head
        // dim 128 (247 registers, no spills), three at 64 (168). H200, 16k
        // tokens, non-causal, turbo-bench TOPS: d128 338 on mma.sync (the
        // config below), 368 with wgmma at 64 keys, 489 at 128 keys; d64
        // 258 -> 306 (two blocks) -> 344 (three). 128 keys cost peaked
        // rows 1.8x in accuracy (relative L2 3.0e-2 instead of 1.7e-2,
        // docs/accuracy.md); normal and outlier inputs stay within the
        // targets. Head dim 256 spills 600+ bytes on wgmma: mma.sync.
        if (head.target == "sm_90a" && head.headDim <= 128) {
          config.set("wgmma", 1);
          config.set("block_n", 128);
          config.set("min_blocks_per_sm", head.headDim <= 64 ? 3 : 2);
          return;
        }
        // mma.sync (before Hopper, and head dim 256): three 4-warp blocks
        // per SM (168 registers) measured 5-20% faster than ptxas's own
        // choice at head dim 128; larger heads need the registers (and
        // their shared memory allows two blocks at most).
        // Head dim 64 holds half the accumulator: four blocks (128
        // registers, 12 bytes of spills) measured -2% to +8% against 128
        // keys per step on three (the default until 2026-11-30) and are
        // more accurate (V's per-channel scales over 64 keys: relative L2
        // 1.28e-2 instead of 1.39e-2 at 16k). 128 keys at head dim 128
        // needs two blocks per SM and costs peaked rows 1.8x in accuracy
        // (docs/accuracy.md): left to the caller's config.
        config.set("min_blocks_per_sm",
                   head.headDim <= 64 ? 4 : head.headDim <= 128 ? 3 : 0);
      },
      [](const KernelConfig &config) -> Status {
        int64_t threshold = config.get("sas_threshold");
        if (threshold < 1 || threshold > 30)
          return {StatusCode::InvalidArgument,
                  fmt::format("sas_threshold={} must be in [1, 30]", threshold)};
        if (config.get("kv_int8") && (config.get("k_scale") != 1 || config.get("v_scale") != 1))
          return {StatusCode::InvalidArgument,
                  "kv_int8=1 (the default) quantizes K per token and V per channel once for "
                  "all query blocks; per-tile K or V scales need kv_int8=0"};
        if (config.get("q_int8") && config.get("q_scale") != 1)
          return {StatusCode::InvalidArgument,
                  "q_int8=1 takes Q with per-token scales: it needs q_scale=token"};
        if (config.get("wgmma") && !config.get("kv_int8"))
          return {StatusCode::InvalidArgument,
                  "wgmma=1 (the sm_90a default up to head dim 128) reads K and V as INT8 from "
                  "shared memory: it needs kv_int8=1 (or set wgmma=0)"};
        if (config.get("wgmma") && config.get("num_stages") < 2)
          return {StatusCode::InvalidArgument,
                  "wgmma=1 reads K and V from their shared-memory slots: it needs num_stages >= 2"};
        if (config.get("wgmma") && config.get("block_m") != 16 * config.get("num_warps"))
          return {StatusCode::InvalidArgument,
                  fmt::format("wgmma=1 gives each warp 16 query rows in warpgroups of 4: "
                              "block_m={} needs num_warps={}",
                              config.get("block_m"), config.get("block_m") / 16)};
        if (config.get("block_m") / 16 < config.get("num_warps"))
          return {StatusCode::InvalidArgument,
                  fmt::format("block_m={} gives fewer than one 16-row mma block per warp "
                              "with num_warps={}",
                              config.get("block_m"), config.get("num_warps"))};
        return Status::ok();
      },
  };
  return spec;
}

namespace attention_prefill {

Problem Problem::dense(int64_t batch, int64_t qHeads, int64_t kvHeads, int64_t seqQ,
                       int64_t seqK, int64_t headDim) {
  Problem p;
  p.batch = batch;
  p.qHeads = qHeads;
  p.kvHeads = kvHeads;
  p.seqQ = seqQ;
  p.seqK = seqK;
  p.q = {qHeads * seqQ * headDim, seqQ * headDim, headDim};
  p.o = p.q;
  p.k = {kvHeads * seqK * headDim, seqK * headDim, headDim};
  p.v = p.k;
  return p;
}

bool sasZeroingIsRoundedAway(const KernelConfig &config) {
  // Past the threshold a clamped p is 2^-T P(0) < 2^-T * 2 (P < 2). A row
  // that sees a key in the block has its largest p >= P_min / 2 >= 1/4
  // (its exponents count from the block's own ceil'd max, so the smallest t
  // is below 1), so 255 / pMax <= 1020 (1021 after rounding to f16), and a
  // fixed scale multiplies by 255: the code is below 2^-T * 2042 < 1/2 for
  // T >= 12 and rounds to 0, as the zeroed value does.
  return config.get("sas_threshold") >= 12;
}

std::string channelMeanConfig(const KernelConfig &config) {
  // A program per (batch, head, 32 channels) walks the whole sequence, 512
  // rows a step with the next step's loads in flight: at 16k tokens of one
  // batch the per-(batch, head) programs of before left most SMs idle
  // (H200, us at 1k/4k/16k tokens per sequence, 16k tokens, non-causal:
  // head dim 128 25.9/-/92.7 -> 29.2/30.8/34.4, head dim 64 31.7/-/170 ->
  // 28.9/25.2/32.2; 64 channels and 256 rows: 29.7/25.1/54.5 at 128).
  return fmt::format("head_dim={},dtype={},block_rows=512,block_cols=32,num_warps=8",
                     config.get("head_dim"), config.get("dtype"));
}

std::string quantizeQConfig(const KernelConfig &config) {
  return fmt::format("head_dim={},dtype={}", config.get("head_dim"), config.get("dtype"));
}

quantize_q::Problem quantizeQProblem(const Problem &p) {
  quantize_q::Problem qp;
  qp.batch = p.batch;
  qp.heads = p.qHeads;
  qp.seq = p.seqQ;
  qp.packed = p.packed;
  qp.q = {p.q.batch, p.q.head, p.q.row};
  qp.q8 = {p.q8.batch, p.q8.head, p.q8.row};
  qp.scaleBatch = p.qScaleBatch;
  qp.scaleHead = p.qScaleHead;
  return qp;
}

namespace {
/// quantize_kv's programs hold at most this many rows of D elements.
constexpr int64_t kQuantizeKvTileRows = 64;
} // namespace

std::string quantizeKvConfig(const KernelConfig &config) {
  return fmt::format("head_dim={},dtype={},block_n={},k_smooth={},tile_rows={}",
                     config.get("head_dim"), config.get("dtype"), config.get("block_n"),
                     config.get("k_smooth"), kQuantizeKvTileRows);
}

Workspace workspaceFor(const KernelConfig &config, const Problem &p) {
  Workspace w;
  auto place = [&](int64_t bytes) {
    int64_t at = w.totalBytes;
    w.totalBytes = (w.totalBytes + bytes + 255) / 256 * 256;
    return at;
  };
  if (config.get("k_smooth"))
    w.kMean = place(p.batch * p.kvHeads * config.get("head_dim") * 4);
  if (config.get("kv_int8")) {
    quantize_kv::Problem kv{p.batch, p.kvHeads, p.seqK, {p.k.batch, p.k.head, p.k.row},
                            {p.v.batch, p.v.head, p.v.row}};
    w.kv = quantize_kv::layoutFor(config.get("head_dim"), config.get("block_n"), kv);
    w.quantizedKv = place(w.kv.totalBytes);
  }
  return w;
}

Status checkSizes(const KernelConfig &config, const Problem &p) {
  // No GPU holds 2^48 bytes. Past that the workspace size and the offsets
  // would be computed in 64 bits where they can overflow (a fuzz test found
  // a workspace size that wrapped negative and let a launch through).
  constexpr long double limit = 0x1p48L;
  const long double rowBytes = 2.0L * config.get("head_dim");
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

Status canImplement(const KernelConfig &config, const Problem &p, const void *q,
                    const void *k, const void *v, const void *o, const void *lse,
                    const void *workspace, int64_t workspaceBytes, unsigned steps,
                    const void *q8, const void *qScale) {
  const int64_t headDim = config.get("head_dim");
  if (steps == 0 || (steps & ~unsigned(AllSteps | QuantizeQ)))
    return {StatusCode::InvalidArgument,
            fmt::format("steps {} is not a combination of QUANTIZE_KV (1), ATTENTION (2) and "
                        "QUANTIZE_Q (4)",
                        steps)};
  const bool qInt8 = config.get("q_int8") != 0;
  if ((steps & QuantizeQ) && !qInt8)
    return {StatusCode::InvalidArgument,
            "QUANTIZE_Q writes the INT8 Q that a q_int8=1 kernel reads; this kernel has "
            "q_int8=0 (it quantizes Q itself)"};
  const bool attention = steps & Attention;
  // Q in f16/bf16 is read by the attention kernel unless it takes INT8, and
  // by QUANTIZE_Q.
  const bool readsQ = (attention && !qInt8) || (steps & QuantizeQ);
  const bool usesQ8 = qInt8 && (attention || (steps & QuantizeQ));
  // K and V are read by the preparation, and by the attention kernel itself
  // unless it reads them quantized from the workspace.
  const bool readsKv = (steps & QuantizeKv) || (attention && !config.get("kv_int8"));
  constexpr int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (p.batch < 1 || p.qHeads < 1 || p.kvHeads < 1)
    return {StatusCode::InvalidArgument, "batch and head counts must be positive"};
  if (p.qHeads % p.kvHeads)
    return {StatusCode::InvalidArgument,
            fmt::format("q_heads ({}) must be a multiple of kv_heads ({})", p.qHeads,
                        p.kvHeads)};
  if (p.seqQ < 1 || p.seqK < 1 || p.seqQ > int32Max || p.seqK > int32Max)
    return {StatusCode::InvalidArgument,
            fmt::format("sequence lengths must be in [1, 2^31): seq_q {}, seq_k {}", p.seqQ,
                        p.seqK)};
  if (p.qHeads > 65535 || p.batch > 65535)
    return {StatusCode::InvalidArgument, "at most 65535 heads and batches (grid limits)"};
  TURBO_RETURN_IF_ERROR(checkSizes(config, p));
  if (readsQ && !q)
    return {StatusCode::InvalidArgument, "q must not be null"};
  if (attention && !o)
    return {StatusCode::InvalidArgument, "o must not be null"};
  // q8 and q_scale as the attention kernel reads them (QUANTIZE_Q checks
  // its own side again when it launches).
  const int64_t tileRows = std::max(config.get("block_m"), config.get("block_n"));
  if (usesQ8)
    TURBO_RETURN_IF_ERROR(
        quantize_q::checkInt8Q(quantizeQProblem(p), headDim, tileRows, q8, qScale));
  if (readsKv && (!k || !v))
    return {StatusCode::InvalidArgument,
            attention ? "k and v must not be null"
                      : "k and v must not be null (QUANTIZE_KV reads them)"};
  if (attention && config.get("write_lse") && !lse)
    return {StatusCode::InvalidArgument, "the kernel writes log-sum-exp: lse must not be null"};
  // Only the K/V preparation and the attention use the workspace.
  const int64_t needed =
      (steps & AllSteps) ? workspaceFor(config, p).totalBytes : int64_t(0);
  if (needed > 0 && (!workspace || workspaceBytes < needed))
    return {StatusCode::InvalidArgument,
            fmt::format("the kernel needs a workspace of {} bytes (k_smooth={}, kv_int8={}), "
                        "got {} at {}",
                        needed, config.get("k_smooth"), config.get("kv_int8"), workspaceBytes,
                        workspace)};
  if (workspace && reinterpret_cast<uintptr_t>(workspace) % 16)
    return {StatusCode::InvalidArgument, "the workspace must be 16-byte aligned"};
  // Alignment and strides matter for what the steps read or write.
  struct Named {
    const char *name;
    const void *pointer;
    const Problem::Strides &s;
    bool used;
  };
  const Named tensors[] = {{"q", q, p.q, readsQ},
                           {"k", k, p.k, readsKv},
                           {"v", v, p.v, readsKv},
                           {"o", o, p.o, attention}};
  for (const Named &t : tensors)
    if (t.used && reinterpret_cast<uintptr_t>(t.pointer) % 16)
      return {StatusCode::InvalidArgument, fmt::format("{} must be 16-byte aligned", t.name)};
  if (lse && reinterpret_cast<uintptr_t>(lse) % 4)
    return {StatusCode::InvalidArgument, "lse must be 4-byte aligned"};
  if (p.packed && !config.get("varlen"))
    return {StatusCode::InvalidArgument,
            "packed sequences (cu_seqlens) need a kernel built with varlen=1 (a plan has one)"};
  for (const Named &t : tensors) {
    if (!t.used)
      continue;
    if (p.packed && t.s.batch)
      return {StatusCode::InvalidArgument,
              fmt::format("packed (varlen) tensors are [tokens, heads, head_dim]: their batch "
                          "strides must be 0 ({} has {})",
                          t.name, t.s.batch)};
    TURBO_RETURN_IF_ERROR(
        checkTensorStrides(t.name, t.s.batch, t.s.head, t.s.row, headDim, tileRows));
  }
  return Status::ok();
}

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &p) {
  int64_t blockM = config.get("block_m");
  return {unsigned((p.seqQ + blockM - 1) / blockM), unsigned(p.qHeads), unsigned(p.batch)};
}

float scaleLog2(const KernelConfig &config, const Problem &p) {
  double scale =
      p.softmaxScale > 0 ? p.softmaxScale : 1.0 / std::sqrt(double(config.get("head_dim")));
  return float(scale * 1.4426950408889634);
}

} // namespace attention_prefill
} // namespace turbo::templates
