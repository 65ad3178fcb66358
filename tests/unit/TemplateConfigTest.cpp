//===- TemplateConfigTest.cpp - typed configs, head configs, presets, launch checks -===//
#include "HostileSizes.h"
#include "attention_prefill/AttentionPrefill.h"
#include "quantize_rows/QuantizeRows.h"
#include "turbo/Templates/TensorChecks.h"

#include <catch2/catch.hpp>

#include <limits>
#include <set>

using namespace turbo;
using namespace turbo::templates;

namespace {
Result<QuantizeRows::Config> rowsConfig(const HeadConfig *head, std::string_view text) {
  return parseConfig<QuantizeRows>(head, text);
}
Result<AttentionPrefill::Config> prefillConfig(std::string_view text,
                                               const HeadConfig *head = nullptr) {
  return parseConfig<AttentionPrefill>(head, text);
}
} // namespace

TEST_CASE("config strings set, check and canonicalize parameters", "[config]") {
  auto defaults = rowsConfig(nullptr, "");
  REQUIRE(defaults);
  REQUIRE(canonicalText<QuantizeRows>(*defaults) == "block_rows=32,cols=128,dtype=0,num_warps=4");

  auto custom = rowsConfig(nullptr, " num_warps=8 , dtype=bf16,block_rows=64");
  REQUIRE(custom);
  REQUIRE(custom->numWarps == 8);
  REQUIRE(custom->dtype == DType::BF16);
  REQUIRE(canonicalText<QuantizeRows>(*custom) == "block_rows=64,cols=128,dtype=1,num_warps=8");

  auto unknown = rowsConfig(nullptr, "block_m=64");
  REQUIRE_FALSE(unknown);
  REQUIRE(unknown.status().code() == StatusCode::InvalidArgument);
  REQUIRE(unknown.status().message().find("has no parameter 'block_m'") != std::string::npos);

  auto notAllowed = rowsConfig(nullptr, "num_warps=3");
  REQUIRE_FALSE(notAllowed);
  REQUIRE(notAllowed.status().message().find("allowed: 1, 2, 4, 8") != std::string::npos);

  REQUIRE_FALSE(rowsConfig(nullptr, "num_warps"));
  REQUIRE_FALSE(rowsConfig(nullptr, "num_warps=four"));
  REQUIRE_FALSE(rowsConfig(nullptr, "num_warps=4x"));
  REQUIRE_FALSE(rowsConfig(nullptr, "dtype=f32"));
  // A key given twice is a mistake, not "the last one wins".
  auto twice = rowsConfig(nullptr, "num_warps=4,num_warps=8");
  REQUIRE_FALSE(twice);
  REQUIRE(twice.status().message().find("'num_warps' twice") != std::string::npos);
  // Ranges: sas_threshold in [1, 30].
  REQUIRE(prefillConfig("sas_threshold=30"));
  auto zero = prefillConfig("sas_threshold=0");
  REQUIRE_FALSE(zero);
  REQUIRE(zero.status().message().find("must be in [1, 30]") != std::string::npos);
}

TEST_CASE("a template's defaults are its config struct's, named once", "[config]") {
  // Every template's parameters print and parse back to the same config.
  for (const TemplateDef *def : allTemplates()) {
    auto defaults = def->parse(nullptr, "");
    REQUIRE(defaults);
    auto again = def->parse(nullptr, defaults->text());
    REQUIRE(again);
    REQUIRE(again->text() == defaults->text());
    for (const ParamInfo &param : def->params()) {
      INFO(def->name() << " " << param.name);
      REQUIRE(defaults->value(param.name) == param.defaultValue);
      REQUIRE(param.allowed.admits(param.defaultValue));
    }
    REQUIRE_FALSE(defaults->value("no_such_parameter"));
  }
  REQUIRE(findTemplate("attention_prefill"));
  REQUIRE_FALSE(findTemplate("attention"));
}

TEST_CASE("a head configuration sets the parameters it determines", "[config]") {
  HeadConfig head;
  head.headDim = 64;
  head.dtype = DType::BF16;
  auto config = rowsConfig(&head, "");
  REQUIRE(config);
  REQUIRE(config->cols == 64);
  REQUIRE(config->dtype == DType::BF16);
  // Explicit overrides win over the head configuration.
  auto overridden = rowsConfig(&head, "cols=128");
  REQUIRE(overridden);
  REQUIRE(overridden->cols == 128);
}

TEST_CASE("head configurations are validated", "[config]") {
  HeadConfig head;
  REQUIRE(head.validate().isOk());
  head.qHeads = 30;
  REQUIRE(head.validate().code() == StatusCode::InvalidArgument);
  head.qHeads = 32;
  head.headDim = 80;
  REQUIRE_FALSE(head.validate().isOk());
  head.headDim = 96;
  REQUIRE(head.validate().isOk());
  head.target = "sm_70";
  REQUIRE_FALSE(head.validate().isOk());
  head.target = "sm_90a";
  head.kvHeads = 0;
  REQUIRE_FALSE(head.validate().isOk());
}

TEST_CASE("presets give the models' head shapes", "[config]") {
  struct Expected {
    const char *name;
    int q, kv, dim;
  };
  for (Expected e : {Expected{"llama3-8b", 32, 8, 128}, Expected{"llama3-70b", 64, 8, 128},
                     Expected{"qwen2-7b", 28, 4, 128}, Expected{"phi3-mini", 32, 32, 96}}) {
    auto head = applyPreset(HeadConfig{}, e.name);
    REQUIRE(head);
    REQUIRE(head->qHeads == e.q);
    REQUIRE(head->kvHeads == e.kv);
    REQUIRE(head->headDim == e.dim);
    REQUIRE(head->validate().isOk());
  }
  auto missing = applyPreset(HeadConfig{}, "gpt5");
  REQUIRE_FALSE(missing);
  REQUIRE(missing.status().message().find("llama3-8b") != std::string::npos);
  REQUIRE(parseDType("bf16"));
  REQUIRE_FALSE(parseDType("fp8"));
  REQUIRE(parseKvBits("mixed"));
  REQUIRE_FALSE(parseKvBits("3"));
}

TEST_CASE("prefill workspace: the means, then quantize_kv's parts, 256-byte aligned",
          "[config]") {
  namespace ap = attention_prefill;
  // batch 2 x kv_heads 3 = 6 heads, seq 100, head_dim 128, block_n 64.
  ap::Problem p = ap::Problem::dense(2, 6, 3, 80, 100, 128);
  auto plain = prefillConfig("head_dim=128,k_smooth=0,kv_int8=0");
  REQUIRE(plain);
  REQUIRE(ap::workspaceFor(*plain, p).totalBytes == 0);
  auto smooth = prefillConfig("head_dim=128,kv_int8=0");
  REQUIRE(smooth);
  ap::Workspace means = ap::workspaceFor(*smooth, p);
  REQUIRE(means.kMean == 0);
  REQUIRE(means.quantizedKv == -1);
  REQUIRE(means.totalBytes == 6 * 128 * 4);
  auto int8 = prefillConfig("head_dim=128,kv_int8=1,block_n=64,pv=int8");
  REQUIRE(int8);
  ap::Workspace w = ap::workspaceFor(*int8, p);
  REQUIRE(w.quantizedKv == 3072);
  REQUIRE(w.kv.k8 == 0);
  REQUIRE(w.kv.paddedSeq == 128);                   // every part holds 128 tokens
  REQUIRE(w.kv.kScale == 6 * 128 * 128);            // 98304, a multiple of 256
  REQUIRE(w.kv.v8t == 98304 + 6 * 128 * 4);         // 3072 bytes of K scales
  REQUIRE(w.kv.vScale == 101376 + 6 * 128 * 128);   // V^T rows of 128 tokens
  REQUIRE(w.kv.totalBytes == 199680 + 6 * 2 * 128 * 4);
  REQUIRE(w.totalBytes == 3072 + 205824);
  // The default pv=mixed adds the first block of V, f16 and transposed.
  auto mixed = prefillConfig("head_dim=128,kv_int8=1,block_n=64");
  REQUIRE(mixed);
  ap::Workspace wm = ap::workspaceFor(*mixed, p);
  REQUIRE(wm.kv.v0t == 205824);
  REQUIRE(wm.kv.totalBytes == 205824 + 6 * 128 * 64 * 2);
  // kv_int8 takes only per-token K and per-channel V scales.
  REQUIRE_FALSE(prefillConfig("kv_int8=1,k_scale=tile"));
  auto tileK = prefillConfig("k_scale=tile"); // kv_int8=1 is the default
  REQUIRE_FALSE(tileK);
  REQUIRE(tileK.status().message().find("kv_int8=0") != std::string::npos);
  REQUIRE(prefillConfig("k_scale=tile,v_scale=tile,kv_int8=0"));
  REQUIRE_FALSE(prefillConfig("kv_int8=1,v_scale=tile"));
}

TEST_CASE("the config text's head dim picks the head config's tuning", "[config]") {
  // The head config's tuning follows the head the kernel is for: a text
  // that names another head dim than the head config gets that head dim's.
  HeadConfig head; // head dim 128, sm_90a
  auto d128 = prefillConfig("", &head);
  REQUIRE(d128);
  REQUIRE(d128->wgmma);
  REQUIRE(d128->minBlocksPerSm == 2);
  auto d256 = prefillConfig("head_dim=256", &head);
  REQUIRE(d256);
  REQUIRE_FALSE(d256->wgmma); // wgmma spills at 256
  REQUIRE(d256->blockN == 64);
  auto d64 = prefillConfig("head_dim=64", &head);
  REQUIRE(d64);
  REQUIRE(d64->minBlocksPerSm == 3);
  // Entries still override the head config's choices.
  auto pinned = prefillConfig("head_dim=64,min_blocks_per_sm=1,wgmma=0", &head);
  REQUIRE(pinned);
  REQUIRE(pinned->minBlocksPerSm == 1);
  REQUIRE_FALSE(pinned->wgmma);
  head.target = "sm_80";
  auto older = prefillConfig("", &head);
  REQUIRE(older);
  REQUIRE_FALSE(older->wgmma);
  REQUIRE(older->minBlocksPerSm == 3);
}

TEST_CASE("prefill config: wgmma needs staged INT8 K/V and 16 rows per warp", "[config]") {
  REQUIRE(prefillConfig("wgmma=1"));
  REQUIRE(prefillConfig("wgmma=1,block_m=128,num_warps=8,num_stages=3"));
  auto refused = [&](const char *text, const char *mentions) {
    auto config = prefillConfig(text);
    REQUIRE_FALSE(config);
    REQUIRE(config.status().code() == StatusCode::InvalidArgument);
    REQUIRE(config.status().message().find(mentions) != std::string::npos);
  };
  refused("wgmma=1,kv_int8=0,k_scale=tile,v_scale=tile", "kv_int8=1");
  refused("wgmma=1,num_stages=1", "num_stages >= 2");
  refused("wgmma=1,block_m=128", "num_warps=8");
  refused("wgmma=1,block_m=64,num_warps=8", "num_warps=4");
}

TEST_CASE("prefill helpers: grids cover every channel and every key block", "[config]") {
  namespace ap = attention_prefill;
  for (int64_t headDim : {64, 96, 128, 256})
    for (int64_t seq : {1, 63, 64, 65, 1000, 16384}) {
      INFO("head_dim " << headDim << ", seq " << seq);
      auto config = prefillConfig("head_dim=" + std::to_string(headDim));
      REQUIRE(config);
      // channel_mean: programs (heads, batch, channel groups); the groups
      // together span the head exactly (the last one masked past it).
      const channel_mean::Config meanConfig = ap::channelMeanConfig(*config);
      REQUIRE(AnyConfig::make<ChannelMean>(meanConfig));
      channel_mean::Problem means{2, 3, seq, 3 * seq * headDim, seq * headDim, headDim};
      auto meanGrid = channel_mean::grid(meanConfig, means);
      const int64_t cols = meanConfig.blockCols;
      REQUIRE(meanGrid[0] == 3);
      REQUIRE(meanGrid[1] == 2);
      REQUIRE(int64_t(meanGrid[2]) * cols >= headDim);
      REQUIRE(int64_t(meanGrid[2] - 1) * cols < headDim);
      // quantize_kv: K's programs (kTokens each) cover the padded rows,
      // then V's, vGroups per block of keys, their channels the padded
      // head exactly; at most tile_rows x D elements a program.
      for (int64_t blockN : {32, 64, 128}) {
        auto withBlock = prefillConfig("head_dim=" + std::to_string(headDim) +
                                       ",block_n=" + std::to_string(blockN));
        REQUIRE(withBlock);
        const quantize_kv::Config kvConfig = ap::quantizeKvConfig(*withBlock);
        REQUIRE(AnyConfig::make<QuantizeKv>(kvConfig));
        quantize_kv::Problem kv{2, 3, seq, {}, {}};
        auto kvGrid = quantize_kv::grid(kvConfig, kv);
        const int64_t tileRows = kvConfig.tileRows;
        const auto split = quantize_kv::programSplit(headDim, blockN, tileRows);
        const int64_t padded = (seq + blockN - 1) / blockN * blockN, blocks = padded / blockN;
        const int64_t paddedHead = headDim == 96 ? 128 : headDim;
        REQUIRE(padded % split.kTokens == 0);
        REQUIRE(split.vChannels * split.vGroups == paddedHead);
        REQUIRE(std::max(split.kTokens * paddedHead, blockN * split.vChannels) <=
                tileRows * paddedHead);
        REQUIRE(int64_t(kvGrid[0]) == padded / split.kTokens + blocks * split.vGroups);
        REQUIRE(kvGrid[1] == 3);
        REQUIRE(kvGrid[2] == 2);
      }
    }
  // channel_mean reads one tile past the last row: lengths near 2^31 are
  // refused, not wrapped.
  auto meanConfig = parseConfig<ChannelMean>(nullptr, "head_dim=128");
  REQUIRE(meanConfig);
  const int64_t longest = std::numeric_limits<int32_t>::max() - 1024;
  channel_mean::Problem tooLong{1, 1, longest + 1, 0, 128, 128};
  const uint64_t buffer = 0x10000;
  REQUIRE_FALSE(channel_mean::canImplement(*meanConfig, tooLong, buffer, buffer).isOk());
  tooLong.seq = longest;
  REQUIRE(channel_mean::canImplement(*meanConfig, tooLong, buffer, buffer).isOk());
}

TEST_CASE("prefill launch checks follow the steps that run", "[config]") {
  namespace ap = attention_prefill;
  auto config = prefillConfig("head_dim=128");
  REQUIRE(config);
  const ap::Problem problem = ap::Problem::dense(2, 8, 2, 300, 300, 128);
  const int64_t bytes = ap::workspaceFor(*config, problem).totalBytes;
  REQUIRE(bytes > 0);
  const uint64_t q = 0x10000, k = 0x20000, v = 0x30000, o = 0x40000, ws = 0x50000;
  auto buffers = [&](uint64_t qp, uint64_t kp, uint64_t vp, uint64_t op) {
    ap::Buffers b;
    b.q = qp;
    b.k = kp;
    b.v = vp;
    b.o = op;
    b.workspace = ws;
    b.workspaceBytes = bytes;
    return b;
  };
  auto check = [&](uint64_t qp, uint64_t kp, uint64_t vp, uint64_t op, unsigned steps) {
    return ap::canImplement(*config, problem, buffers(qp, kp, vp, op), steps);
  };
  REQUIRE(check(q, k, v, o, ap::AllSteps).isOk());
  // Preparing the workspace reads only K and V; attention on a prepared
  // workspace (kv_int8=1) reads only Q and writes O.
  REQUIRE(check(0, k, v, 0, ap::QuantizeKvStep).isOk());
  REQUIRE(check(q, 0, 0, o, ap::AttentionStep).isOk());
  Status noKv = check(0, 0, v, 0, ap::QuantizeKvStep);
  REQUIRE_FALSE(noKv.isOk());
  REQUIRE(noKv.message().find("QUANTIZE_KV reads them") != std::string::npos);
  REQUIRE_FALSE(check(q, k, v, 0, ap::AttentionStep).isOk());
  for (unsigned bad : {0u, 8u, 9u}) {
    Status status = check(q, k, v, o, bad);
    REQUIRE_FALSE(status.isOk());
    REQUIRE(status.message().find("not a combination") != std::string::npos);
  }
  // QUANTIZE_Q belongs to kernels that take Q in INT8.
  for (unsigned withQ : {4u, 7u}) {
    Status status = check(q, k, v, o, withQ);
    REQUIRE_FALSE(status.isOk());
    REQUIRE(status.message().find("q_int8=0") != std::string::npos);
  }
  // One byte short of the workspace, or a misaligned one: refused.
  ap::Buffers shortWorkspace = buffers(q, k, v, o);
  shortWorkspace.workspaceBytes = bytes - 1;
  REQUIRE_FALSE(ap::canImplement(*config, problem, shortWorkspace).isOk());
  ap::Buffers misaligned = buffers(q, k, v, o);
  misaligned.workspace = ws + 8;
  REQUIRE_FALSE(ap::canImplement(*config, problem, misaligned).isOk());
  {
    auto int8 = prefillConfig("head_dim=128,q_int8=1");
    REQUIRE(int8);
    ap::Problem withQ8 = problem;
    withQ8.q8 = {8 * 300 * 128, 300 * 128, 128};
    withQ8.qScaleHead = 300;
    withQ8.qScaleBatch = 8 * 300;
    const uint64_t q8 = 0x60000, scales = 0x70000;
    auto checkInt8 = [&](uint64_t qp, uint64_t q8p, uint64_t sp, uint64_t wsp, unsigned steps) {
      ap::Buffers b = buffers(qp, k, v, o);
      b.workspace = wsp;
      b.q8 = q8p;
      b.qScale = sp;
      return ap::canImplement(*int8, withQ8, b, steps);
    };
    // Attention reads q8 and the scales, not q; QUANTIZE_Q alone needs no
    // workspace.
    REQUIRE(checkInt8(0, q8, scales, ws, ap::AllSteps).isOk());
    REQUIRE(checkInt8(q, q8, scales, 0, ap::QuantizeQStep).isOk());
    REQUIRE(checkInt8(q, q8, scales, ws, ap::QuantizeQStep | ap::AllSteps).isOk());
    REQUIRE_FALSE(checkInt8(0, q8, scales, 0, ap::QuantizeQStep).isOk());
    REQUIRE_FALSE(checkInt8(q, 0, scales, ws, ap::AllSteps).isOk());
    REQUIRE_FALSE(checkInt8(q, q8, 0, ws, ap::AllSteps).isOk());
    REQUIRE_FALSE(checkInt8(q, 0x60008, scales, ws, ap::AllSteps).isOk()); // q8 alignment
    withQ8.q8.row = 136; // not a multiple of 16 bytes
    REQUIRE_FALSE(checkInt8(q, q8, scales, ws, ap::AllSteps).isOk());
    // Per-tile Q scales cannot come with q_int8.
    REQUIRE_FALSE(prefillConfig("head_dim=128,q_int8=1,q_scale=tile"));
  }
  // Without kv_int8 the attention kernel reads K and V itself.
  auto direct = prefillConfig("head_dim=128,kv_int8=0");
  REQUIRE(direct);
  ap::Buffers noK = buffers(q, 0, 0, o);
  noK.workspaceBytes = ap::workspaceFor(*direct, problem).totalBytes;
  REQUIRE_FALSE(ap::canImplement(*direct, problem, noK, ap::AttentionStep).isOk());
}

TEST_CASE("packed (varlen) prefill needs a varlen kernel and packed strides", "[config]") {
  namespace ap = attention_prefill;
  auto padded = prefillConfig("head_dim=64");
  auto varlen = prefillConfig("head_dim=64,varlen=1");
  REQUIRE(padded);
  REQUIRE(varlen);
  // 3 sequences of at most 100 tokens, packed [tokens, heads, 64].
  ap::Problem problem;
  problem.batch = 3;
  problem.qHeads = 4;
  problem.kvHeads = 2;
  problem.seqQ = problem.seqK = 100;
  problem.packed = true;
  problem.tokensQ = problem.tokensK = 250;
  problem.q = problem.o = {0, 64, 4 * 64};
  problem.k = problem.v = {0, 64, 2 * 64};
  auto packedBuffers = [](const ap::Config &config, const ap::Problem &p) {
    ap::Buffers b;
    b.q = 0x10000;
    b.k = 0x20000;
    b.v = 0x30000;
    b.o = 0x40000;
    b.workspace = 0x50000;
    b.workspaceBytes = ap::workspaceFor(config, p).totalBytes;
    b.cuSeqlensQ = 0x60000;
    b.cuSeqlensK = 0x70000;
    return b;
  };
  auto check = [&](const ap::Config &config, const ap::Problem &p) {
    return ap::canImplement(config, p, packedBuffers(config, p));
  };
  REQUIRE(check(*varlen, problem).isOk());
  // Every kernel of the launch sequence gets the token counts (quantize_q,
  // channel_mean and quantize_kv check them again as they launch).
  for (const char *text : {"head_dim=64,varlen=1", "head_dim=64,varlen=1,kv_int8=0,wgmma=0",
                           "head_dim=64,varlen=1,q_int8=1"}) {
    auto config = prefillConfig(text);
    REQUIRE(config);
    ap::Buffers b = packedBuffers(*config, problem);
    b.q8 = 0x80000;
    b.qScale = 0x90000;
    ap::Problem withQ8 = problem;
    withQ8.q8 = problem.q;
    withQ8.qScaleHead = 250;
    const unsigned steps = ap::AllSteps | (config->qInt8 ? unsigned(ap::QuantizeQStep) : 0u);
    auto sequence = ap::launches(*config, withQ8, b, steps);
    INFO(text << ": " << (sequence ? "" : sequence.status().message()));
    REQUIRE(sequence);
    REQUIRE(sequence->size() >= 2);
  }
  Status notVarlen = check(*padded, problem);
  REQUIRE_FALSE(notVarlen.isOk());
  REQUIRE(notVarlen.message().find("varlen=1") != std::string::npos);
  for (ap::Problem::Strides *strides : {&problem.q, &problem.k, &problem.v, &problem.o}) {
    ap::Problem withBatch = problem;
    ap::Problem::Strides &changed =
        strides == &problem.q   ? withBatch.q
        : strides == &problem.k ? withBatch.k
        : strides == &problem.v ? withBatch.v
                                : withBatch.o;
    changed.batch = 100 * changed.row;
    Status status = check(*varlen, withBatch);
    REQUIRE_FALSE(status.isOk());
    REQUIRE(status.message().find("batch strides must be 0") != std::string::npos);
  }
  // The packed tensors' token counts bound the offsets the kernels read:
  // at least one token, at least the longest sequence, within 32 bits.
  for (auto [tokensQ, tokensK] : {std::pair<int64_t, int64_t>{0, 250}, {250, 99},
                                  {int64_t(1) << 31, 250}, {-5, 250}}) {
    ap::Problem counted = problem;
    counted.tokensQ = tokensQ;
    counted.tokensK = tokensK;
    Status status = check(*varlen, counted);
    INFO(tokensQ << " " << tokensK << ": " << status.message());
    REQUIRE_FALSE(status.isOk());
    REQUIRE(status.message().find("tokens: the count must be in [1, 2^31)") != std::string::npos);
  }
  // A varlen kernel also takes padded tensors.
  REQUIRE(check(*varlen, ap::Problem::dense(3, 4, 2, 100, 100, 64)).isOk());
  // The workspace keeps seq_k (the longest sequence) rows per sequence.
  REQUIRE(ap::workspaceFor(*varlen, problem).totalBytes ==
          ap::workspaceFor(*varlen, ap::Problem::dense(3, 4, 2, 100, 100, 64)).totalBytes);
}

TEST_CASE("fuzz: prefill launch checks on random shapes never pass an unsafe launch",
          "[config][fuzz]") {
  // Shapes and strides from the ordinary to the absurd (the C API passes
  // them through from the caller). A launch the checks accept must have a
  // workspace size computed without overflow and a grid within CUDA's
  // limits.
  namespace ap = attention_prefill;
  std::vector<ap::Config> configs;
  for (const char *text : {"head_dim=128", "head_dim=64,causal=1", "head_dim=256,kv_int8=0",
                           "head_dim=96,block_n=32", "head_dim=128,varlen=1",
                           "head_dim=64,q_int8=1", "head_dim=128,k_smooth=0,block_n=128"}) {
    auto config = prefillConfig(text);
    REQUIRE(config);
    configs.push_back(*config);
  }
  std::mt19937_64 rng(99);
  const int64_t edges[] = {-1, 0, 1, 2, 7, 8, 63, 64, 65, 1000, 65535, 65536,
                           int64_t(1) << 31, (int64_t(1) << 31) - 1, int64_t(1) << 40,
                           std::numeric_limits<int64_t>::max()};
  auto pickSize = [&]() -> int64_t {
    if (rng() % 3 == 0)
      return edges[rng() % std::size(edges)];
    return int64_t(rng() % 5000);
  };
  auto pickStride = [&]() -> int64_t {
    if (rng() % 4 == 0)
      return edges[rng() % std::size(edges)];
    return int64_t(rng() % 4096) * 8;
  };
  ap::Buffers buffers;
  buffers.q = 0x10000;
  buffers.k = 0x20000;
  buffers.v = 0x30000;
  buffers.o = 0x40000;
  {
    // What the fuzzing first found: a workspace size that wrapped negative
    // in 64 bits, so no workspace was asked for.
    ap::Problem huge = ap::Problem::dense(65535, 9734, 4867, 2147483647, 2147483647, 128);
    Status status = ap::canImplement(configs[0], huge, buffers);
    REQUIRE_FALSE(status.isOk());
    REQUIRE(status.message().find("too large") != std::string::npos);
  }
  int runs = 20000;
  if (const char *given = std::getenv("TURBO_FUZZ_ITERATIONS"))
    runs = std::max(1, std::atoi(given));
  int accepted = 0;
  for (int i = 0; i < runs; ++i) {
    const ap::Config &config = configs[rng() % configs.size()];
    const int64_t d = config.headDim;
    ap::Problem p;
    p.batch = pickSize();
    p.kvHeads = pickSize();
    const auto times = turbo::tests::saturatingProduct;
    p.qHeads = rng() % 2 ? times(p.kvHeads, int64_t(1 + rng() % 4)) : pickSize();
    p.seqQ = pickSize();
    p.seqK = rng() % 2 ? p.seqQ : pickSize();
    p.packed = config.varlen && rng() % 2;
    p.tokensQ = rng() % 2 ? times(p.seqQ, p.batch) : pickSize();
    p.tokensK = rng() % 2 ? times(p.seqK, p.batch) : pickSize();
    for (ap::Problem::Strides *s : {&p.q, &p.k, &p.v, &p.o, &p.q8}) {
      s->row = rng() % 2 ? d : pickStride();
      s->head = rng() % 2 ? times(s->row, p.seqQ) : pickStride();
      s->batch = p.packed ? 0 : pickStride();
    }
    p.qScaleHead = pickStride();
    p.qScaleBatch = pickStride();
    // The workspace size the caller would be told, if the shapes allow one.
    const Result<int64_t> told = ap::workspaceBytes(config, p);
    const int64_t reported = told ? *told : 0;
    ap::Buffers all = buffers;
    all.workspace = 0x50000;
    all.workspaceBytes = reported;
    all.q8 = 0x60000;
    all.qScale = 0x70000;
    all.cuSeqlensQ = 0x80000;
    all.cuSeqlensK = 0x90000;
    Status status = ap::canImplement(config, p, all);
    if (!status.isOk()) {
      REQUIRE_FALSE(status.message().empty());
      continue;
    }
    ++accepted;
    INFO("batch " << p.batch << " heads " << p.qHeads << "/" << p.kvHeads << " seq " << p.seqQ
                  << "/" << p.seqK);
    // The workspace in exact arithmetic: K/V in INT8 and scales need at
    // least batch * kv_heads * seq_k * (2 * head_dim + 4) bytes.
    const long double lowerBound =
        (long double)p.batch * p.kvHeads * p.seqK * (config.kvInt8 ? 2 * d + 4 : 0);
    REQUIRE((long double)reported >= lowerBound);
    auto grid = ap::grid(config, p);
    REQUIRE(grid[0] >= 1);
    REQUIRE(grid[0] <= 0x7fffffffu);
    REQUIRE(grid[1] >= 1);
    REQUIRE(grid[1] <= 65535u);
    REQUIRE(grid[2] >= 1);
    REQUIRE(grid[2] <= 65535u);
  }
  REQUIRE(accepted > 0);
}

TEST_CASE("outputs whose elements would overlap are refused", "[config]") {
  // [B, H, S, D] and [B, S, H, D] are both fine; a zero or interleaving
  // stride over several indices is not.
  CHECK(checkNoOverlap("o", {2, 4, 100}, {4 * 100 * 64, 100 * 64, 64}, 64).isOk());
  CHECK(checkNoOverlap("o", {2, 4, 100}, {100 * 4 * 64, 64, 4 * 64}, 64).isOk());
  CHECK(checkNoOverlap("o", {1, 4, 1}, {0, 64, 0}, 64).isOk()); // extents of 1: any stride
  CHECK_FALSE(checkNoOverlap("o", {2, 4, 100}, {4 * 100 * 64, 0, 64}, 64).isOk());
  CHECK_FALSE(checkNoOverlap("o", {2, 4, 100}, {64, 100 * 64, 64 * 2}, 64).isOk());
  CHECK_FALSE(checkNoOverlap("o", {1, 4, 100}, {0, 64 * 50, 64}, 64).isOk());

  namespace ap = attention_prefill;
  auto config = prefillConfig("head_dim=64");
  REQUIRE(config);
  ap::Problem p = ap::Problem::dense(2, 4, 2, 100, 100, 64);
  ap::Buffers b;
  b.q = 0x10000;
  b.k = 0x20000;
  b.v = 0x30000;
  b.o = 0x40000;
  b.workspace = 0x50000;
  b.workspaceBytes = ap::workspaceFor(*config, p).totalBytes;
  REQUIRE(ap::canImplement(*config, p, b).isOk());
  p.o.head = 0; // every head's programs on the same rows
  Status status = ap::canImplement(*config, p, b);
  REQUIRE_FALSE(status.isOk());
  CHECK(status.message().find("overlap") != std::string::npos);
}

TEST_CASE("a search space expands to every combination, each checked by its template",
          "[config][tuning]") {
  using AP = turbo::templates::AttentionPrefill;
  turbo::HeadConfig head;
  auto base = turbo::templates::parseConfig<AP>(&head, "");
  REQUIRE(base);
  const turbo::templates::SearchSpace space = AP::searchSpace("sm_90a", *base);
  size_t expected = 1;
  for (const auto &axis : space)
    expected *= axis.values.size();
  const auto points = turbo::templates::enumerate<AP>(*base, space);
  REQUIRE(points.size() == expected);
  REQUIRE(expected >= 32);
  size_t kept = 0;
  std::set<std::string> seen;
  for (const auto &point : points) {
    CAPTURE(point.overrides);
    seen.insert(point.overrides);
    // The text names exactly the point's values.
    for (const auto &axis : space) {
      const int64_t value = AP::schema().find(axis.param)->get(point.config);
      CHECK(point.overrides.find(axis.param + "=" + std::to_string(value)) != std::string::npos);
    }
    // Accepted points are the ones the parser accepts from the same text.
    auto parsed = turbo::templates::parseConfig<AP>(&head, point.overrides);
    CHECK(bool(parsed) == point.status.isOk());
    if (parsed)
      CHECK(turbo::templates::canonicalText<AP>(*parsed) ==
            turbo::templates::canonicalText<AP>(point.config));
    kept += point.status.isOk();
  }
  CHECK(seen.size() == points.size());
  CHECK(kept > 0);
  // Before Hopper there is no wgmma axis.
  CHECK(AP::searchSpace("sm_80", *base).size() + 1 == space.size());
  // An axis that is not a parameter is one refused point.
  const auto bad = turbo::templates::enumerate<AP>(*base, {{"block_q", {64}}});
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].status.message().find("block_q") != std::string::npos);
}
