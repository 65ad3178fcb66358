//===- AttentionPrefill.cpp - parameters, tuning, signature, helpers ------===//
#include "attention_prefill/AttentionPrefill.h"

#include <fmt/format.h>

#include <cmath>

namespace turbo::templates {

using attention_prefill::Arg;

const ConfigSchema<AttentionPrefill::Config> &AttentionPrefill::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 96, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "Q/K/V/O element type")
          .add<&Config::causal>("causal", flag(),
                                "mask keys after each query (bottom-right aligned)")
          .add<&Config::blockM>("block_m", oneOf({64, 128}), "query rows per thread block")
          .add<&Config::blockN>("block_n", oneOf({32, 64, 128}), "keys per inner-loop step")
          .add<&Config::numWarps>("num_warps", oneOf({4, 8}), "warps per thread block")
          .add<&Config::minBlocksPerSm>(
              "min_blocks_per_sm", oneOf({0, 1, 2, 3, 4}),
              "blocks per SM ptxas must fit (caps registers, but never below 128 per thread; "
              "0: ptxas's choice; the head config sets, up to head dim 64 / 128: 3 / 2 with "
              "wgmma, 4 / 3 without)")
          .add<&Config::numStages>(
              "num_stages", oneOf({1, 2, 3}),
              "shared-memory slots per K/V tile and scale vector (cp.async ahead of use; 1: "
              "load synchronously)")
          .add<&Config::sasDegree>("sas_degree", oneOf({0, 1, 2, 3}),
                                   "SAS polynomial degree (2 and 3 measured alike at threshold "
                                   "12: docs/accuracy.md)")
          .add<&Config::sasThreshold>(
              "sas_threshold", inRange(1, 30),
              "SAS: 2^-n with n >= threshold is exactly 0 (with pv=int8 from 12 on P's u8 codes "
              "round it to 0 and the kernel only clamps, so 12 and 14 give the same bits; "
              "pv=half keeps P down to 2^-14 of its block's max, which attention sinks with "
              "small value vectors need)")
          .add<&Config::sasThresholdHalf>(
              "sas_threshold_half", inRange(1, 28),
              "SAS threshold of the blocks whose P stays in 16 bits (pv=half, and pv=mixed's "
              "first block): P below 2^-threshold of its block's max is 0. Past 14, P is "
              "computed 2^(threshold - 14) larger to stay a normal f16; the keys of a long "
              "flat tail below a dominant key need 20 or more (docs/accuracy.md)")
          .add<&Config::qScale>("q_scale", named({{"tile", 0}, {"token", 1}}),
                                "Q scale granularity")
          .add<&Config::kScale>("k_scale", named({{"tile", 0}, {"token", 1}}),
                                "K scale granularity")
          .add<&Config::pScale>("p_scale", named({{"fixed", 0}, {"row", 1}}),
                                "P scale: 1/255, or row max/255")
          .add<&Config::vScale>("v_scale", named({{"tile", 0}, {"channel", 1}}),
                                "V scale granularity")
          .add<&Config::writeLse>("write_lse", flag(),
                                  "also write log-sum-exp (natural log) per row")
          .add<&Config::kSmooth>("k_smooth", flag(),
                                 "quantize K minus its per-channel mean (channel_mean)")
          .add<&Config::varlen>(
              "varlen", flag(),
              "also take packed sequences with cu_seqlens (the varlen form); a separate kernel "
              "because the per-sequence bounds cost registers the padded form does not need "
              "(plans build both)")
          .add<&Config::qInt8>(
              "q_int8", flag(),
              "Q comes quantized: INT8 codes and per-token f32 scales (from quantize_q, the "
              "QUANTIZE_Q step, or the caller's own) instead of f16/bf16; needs q_scale=token")
          .add<&Config::kvInt8>(
              "kv_int8", flag(),
              "quantize K and V once (quantize_kv) instead of per query block; same results, "
              "needs k_scale=token and v_scale=channel")
          .add<&Config::wgmma>(
              "wgmma", flag(),
              "Hopper (sm_90a): the two INT8 products on wgmma, K and V read by the tensor "
              "cores from shared memory; needs kv_int8=1, num_stages >= 2 and block_m = 16 * "
              "num_warps (the head config sets it on sm_90a up to head dim 128, with "
              "block_n=128)")
          .add<&Config::pv>(
              "pv", named({{"int8", 0}, {"half", 1}, {"mixed", 2}}),
              "the P.V product: P in u8 codes times V in INT8 per channel over each block; or "
              "P and V in 16 bits (the input type) with f32 accumulation, accurate where a "
              "row's mass sits on a few keys with small value vectors (attention sinks); "
              "mixed (the default): the first block of keys, where sinks sit, in 16 bits and "
              "the rest in INT8");
  return schema;
}

void AttentionPrefill::applyHead(const HeadConfig &head, Config &config) {
  config.headDim = head.headDim;
  config.dtype = head.dtype;
  config.causal = head.causal;
}

void AttentionPrefill::tune(std::string_view target, Config &config) {
  // Hopper (sm_90a) up to head dim 128 (96 pads to 128): both INT8
  // products on wgmma, 128 keys per step, two blocks per SM at head
  // dim 128 (247 registers, no spills), three at 64 (168). H200, 16k
  // tokens, non-causal, turbo-bench TOPS: d128 338 on mma.sync (the
  // config below), 368 with wgmma at 64 keys, 489 at 128 keys; d64
  // 258 -> 308 (two blocks) -> 344 (three). 128 keys cost peaked
  // rows 1.8x in accuracy (relative L2 3.0e-2 instead of 1.7e-2,
  // docs/accuracy.md); normal and outlier inputs stay within the
  // targets. Head dim 256 spills 600+ bytes on wgmma: mma.sync.
  if (hasWgmma(target) && config.headDim <= 128) {
    config.wgmma = true;
    config.blockN = 128;
    config.minBlocksPerSm = config.headDim <= 64 ? 3 : 2;
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
  config.minBlocksPerSm = config.headDim <= 64 ? 4 : config.headDim <= 128 ? 3 : 0;
}

SearchSpace AttentionPrefill::searchSpace(std::string_view target, const Config &base) {
  // pv: 0 int8, 1 half, 2 mixed (the default). INT8 P.V is the fastest and
  // the least accurate where a row's mass sits on keys with small value
  // vectors: the accuracy budget, measured on turbo's sink inputs among
  // others, decides whether it may be used.
  SearchSpace space = {{"block_m", {64, 128}},
                       {"block_n", {64, 128}, /*numerics=*/true},
                       {"num_warps", {4, 8}},
                       {"min_blocks_per_sm", {0, 2, 3, 4}},
                       {"pv", {0, 1, 2}, /*numerics=*/true}};
  if (hasWgmma(target) && base.headDim <= 128)
    space.push_back({"wgmma", {0, 1}});
  return space;
}

Status AttentionPrefill::validate(const Config &config) {
  using attention_prefill::TokenScale;
  using attention_prefill::VScale;
  if (config.kvInt8 && (config.kScale != TokenScale::Token || config.vScale != VScale::Channel))
    return {StatusCode::InvalidArgument,
            "kv_int8=1 (the default) quantizes K per token and V per channel once for "
            "all query blocks; per-tile K or V scales need kv_int8=0"};
  if (config.qInt8 && config.qScale != TokenScale::Token)
    return {StatusCode::InvalidArgument,
            "q_int8=1 takes Q with per-token scales: it needs q_scale=token"};
  if (config.wgmma && !config.kvInt8)
    return {StatusCode::InvalidArgument,
            "wgmma=1 (the sm_90a default up to head dim 128) reads K and V as INT8 from "
            "shared memory: it needs kv_int8=1 (or set wgmma=0)"};
  if (config.wgmma && config.numStages < 2)
    return {StatusCode::InvalidArgument,
            "wgmma=1 reads K and V from their shared-memory slots: it needs num_stages >= 2"};
  if (config.wgmma && config.blockM != 16 * config.numWarps)
    return {StatusCode::InvalidArgument,
            fmt::format("wgmma=1 gives each warp 16 query rows in warpgroups of 4: "
                        "block_m={} needs num_warps={}",
                        config.blockM, config.blockM / 16)};
  if (config.blockM / 16 < config.numWarps)
    return {StatusCode::InvalidArgument,
            fmt::format("block_m={} gives fewer than one 16-row mma block per warp "
                        "with num_warps={}",
                        config.blockM, config.numWarps)};
  return Status::ok();
}

Signature<Arg> AttentionPrefill::signature(const Config &config) {
  const ScalarType dtype = scalarTypeOf(config.dtype);
  const ScalarType i32 = ScalarType::I32, i64 = ScalarType::I64, f32 = ScalarType::F32;
  Signature<Arg> s;
  s.add(Arg::Q, pointerArg("q", config.qInt8 ? ScalarType::I8 : dtype, 16, ArgRole::Input));
  const bool halfV = config.pv == attention_prefill::PvFormat::Half;
  if (config.kvInt8)
    s.add(Arg::K8, pointerArg("k8", ScalarType::I8, 16, ArgRole::Scratch))
        .add(Arg::V8t, pointerArg("v8t", halfV ? dtype : ScalarType::I8, 16, ArgRole::Scratch));
  else
    s.add(Arg::K, pointerArg("k", dtype, 16, ArgRole::Input))
        .add(Arg::V, pointerArg("v", dtype, 16, ArgRole::Input));
  s.add(Arg::O, pointerArg("o", dtype, 16, ArgRole::Output))
      .add(Arg::Lse, pointerArg("lse", f32, 4, ArgRole::Output));
  if (config.kvInt8) {
    s.add(Arg::KScale, pointerArg("k_scale", f32, 16, ArgRole::Scratch));
    if (!halfV)
      s.add(Arg::VScale, pointerArg("v_scale", f32, 16, ArgRole::Scratch));
  } else
    s.add(Arg::KMean, pointerArg("k_mean", f32, 16, ArgRole::Scratch));
  s.add(Arg::SeqQ, valueArg("seq_q", i32, ArgRole::Size))
      .add(Arg::SeqK, valueArg("seq_k", i32, ArgRole::Size));
  struct Strided {
    Arg batch, head, row;
    const char *batchName, *headName, *rowName;
  };
  std::vector<Strided> strided = {{Arg::QBatch, Arg::QHead, Arg::QRow, "q_batch", "q_head", "q_row"}};
  if (!config.kvInt8)
    strided.insert(strided.end(),
                   {{Arg::KBatch, Arg::KHead, Arg::KRow, "k_batch", "k_head", "k_row"},
                    {Arg::VBatch, Arg::VHead, Arg::VRow, "v_batch", "v_head", "v_row"}});
  strided.push_back({Arg::OBatch, Arg::OHead, Arg::ORow, "o_batch", "o_head", "o_row"});
  for (const Strided &t : strided)
    s.add(t.batch, valueArg(t.batchName, i64, ArgRole::Stride, 8))
        .add(t.head, valueArg(t.headName, i64, ArgRole::Stride, 8))
        .add(t.row, valueArg(t.rowName, i32, ArgRole::Stride, 8));
  s.add(Arg::Group, valueArg("group", i32, ArgRole::Parameter))
      .add(Arg::ScaleLog2, valueArg("scale_log2", f32, ArgRole::Parameter))
      .add(Arg::CuSeqlensQ, pointerArg("cu_seqlens_q", i32, 4, ArgRole::Input))
      .add(Arg::CuSeqlensK, pointerArg("cu_seqlens_k", i32, 4, ArgRole::Input))
      .add(Arg::Packed, valueArg("packed", i32, ArgRole::Parameter))
      .add(Arg::PackedK, valueArg("packed_k", i32, ArgRole::Parameter));
  if (config.qInt8) // q_scale and its batch and head strides (tokens contiguous)
    s.add(Arg::QScale, pointerArg("q_scale", f32, 4, ArgRole::Input))
        .add(Arg::QScaleBatch, valueArg("q_scale_batch", i64, ArgRole::Stride))
        .add(Arg::QScaleHead, valueArg("q_scale_head", i64, ArgRole::Stride));
  if (config.kvInt8) // quantize_kv smooths K; the log-sum-exp adds the shift back
    s.add(Arg::KMean, pointerArg("k_mean", f32, 16, ArgRole::Scratch))
        .add(Arg::KvPitch, valueArg("kv_pitch", i32, ArgRole::Size, config.blockN));
  if (config.pv == attention_prefill::PvFormat::Mixed && config.kvInt8)
    s.add(Arg::V0t, pointerArg("v0t", dtype, 16, ArgRole::Scratch));
  return s;
}

namespace attention_prefill {

channel_mean::Config channelMeanConfig(const Config &config) {
  // A program per (batch, head, 32 channels) walks the whole sequence, 512
  // rows a step with the next step's loads in flight: at 16k tokens of one
  // batch the per-(batch, head) programs of before left most SMs idle
  // (H200, us at 1k/4k/16k tokens per sequence, 16k tokens, non-causal:
  // head dim 128 25.9/-/92.7 -> 29.2/30.8/34.4, head dim 64 31.7/-/176 ->
  // 28.9/25.2/32.2; 64 channels and 256 rows: 29.7/25.1/54.5 at 128).
  channel_mean::Config means;
  means.headDim = config.headDim;
  means.dtype = config.dtype;
  means.blockRows = 512;
  means.blockCols = 32;
  means.numWarps = 8;
  return means;
}

quantize_kv::Config quantizeKvConfig(const Config &config) {
  quantize_kv::Config kv;
  kv.headDim = config.headDim;
  kv.dtype = config.dtype;
  kv.blockN = config.blockN;
  kv.kSmooth = config.kSmooth;
  kv.tileRows = 64; // 32 and 16 measured no faster (docs/performance.md)
  kv.vFormat = config.pv == PvFormat::Half    ? quantize_kv::VFormat::Half
               : config.pv == PvFormat::Mixed ? quantize_kv::VFormat::Mixed
                                              : quantize_kv::VFormat::Int8;
  return kv;
}

quantize_q::Config quantizeQConfig(const Config &config) {
  quantize_q::Config q;
  q.headDim = config.headDim;
  q.dtype = config.dtype;
  return q;
}

bool sasZeroingIsRoundedAway(const Config &config) {
  // Past the threshold a clamped p is 2^-T P(0) < 2^-T * 2 (P < 2). A row
  // that sees a key in the block has its largest p >= P_min / 2 >= 1/4
  // (its exponents count from the block's own ceil'd max, so the smallest t
  // is below 1), so 255 / pMax <= 1020 (1021 after rounding to f16), and a
  // fixed scale multiplies by 255: the code is below 2^-T * 2042 < 1/2 for
  // T >= 12 and rounds to 0, as the zeroed value does.
  return config.sasThreshold >= 12;
}

int64_t halfPScaleLog2(const Config &config) {
  // f16's normals reach 2^-14; P < 2 times 2^(T - 14) <= 2^15 stays finite.
  return std::max<int64_t>(config.sasThresholdHalf - 14, 0);
}

float scaleLog2(const Config &config, const Problem &p) {
  double scale = p.softmaxScale > 0 ? p.softmaxScale : 1.0 / std::sqrt(double(config.headDim));
  return float(scale * 1.4426950408889634);
}

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

} // namespace attention_prefill

Result<std::vector<AnyConfig>> AttentionPrefill::helpers(const Config &config) {
  std::vector<Result<AnyConfig>> derived;
  if (config.kSmooth)
    derived.push_back(AnyConfig::make<ChannelMean>(attention_prefill::channelMeanConfig(config)));
  if (config.kvInt8)
    derived.push_back(AnyConfig::make<QuantizeKv>(attention_prefill::quantizeKvConfig(config)));
  if (config.qInt8)
    derived.push_back(AnyConfig::make<QuantizeQ>(attention_prefill::quantizeQConfig(config)));
  std::vector<AnyConfig> helpers;
  for (Result<AnyConfig> &helper : derived) {
    if (!helper)
      return helper.status();
    helpers.push_back(std::move(*helper));
  }
  return helpers;
}

} // namespace turbo::templates
