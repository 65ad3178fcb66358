//===- AttentionReferenceTest.cpp - the prefill reference against float64 -===//
#include "turbo/Support/Numerics.h"
#include "attention_prefill/AttentionPrefill.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

using namespace turbo;
using namespace turbo::templates;
namespace ap = turbo::templates::attention_prefill;

namespace {
struct Errors {
  double relativeL2, cosine;
};

Errors compare(const std::vector<uint16_t> &o, const std::vector<double> &exact, bool bf16) {
  double diff = 0, norm = 0, dot = 0, normO = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    double got = bf16 ? numerics::bfloatToFloat(o[i]) : numerics::halfToFloat(o[i]);
    diff += (got - exact[i]) * (got - exact[i]);
    norm += exact[i] * exact[i];
    dot += got * exact[i];
    normO += got * got;
  }
  return {std::sqrt(diff / norm), dot / std::sqrt(norm * normO)};
}

std::vector<uint16_t> random(size_t n, bool bf16, std::mt19937 &rng) {
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(n);
  for (uint16_t &v : x)
    v = bf16 ? numerics::floatToBFloat(normal(rng)) : numerics::floatToHalf(normal(rng));
  return x;
}
} // namespace

TEST_CASE("prefill reference is close to exact attention", "[reference][attention]") {
  std::mt19937 rng(11);
  for (const char *variant : {"causal=0", "causal=1", "causal=1,dtype=bf16,block_n=32",
                              "p_scale=fixed,q_scale=tile,k_scale=tile,v_scale=tile,kv_int8=0"}) {
    auto config = parseConfig<AttentionPrefill>(nullptr, std::string("head_dim=64,") + variant);
    REQUIRE(config);
    bool bf16 = config->dtype == DType::BF16;
    ap::Problem problem = ap::Problem::dense(1, 2, 1, 200, 200, 64);
    auto q = random(2 * 200 * 64, bf16, rng), k = random(200 * 64, bf16, rng),
         v = random(200 * 64, bf16, rng);
    std::vector<uint16_t> o(q.size(), 0x7e00);
    std::vector<double> exact(q.size());
    ap::reference(*config, problem, q.data(), k.data(), v.data(), o.data(), nullptr);
    ap::exactReference(*config, problem, q.data(), k.data(), v.data(), exact.data());
    Errors e = compare(o, exact, bf16);
    INFO(variant << ": relative L2 " << e.relativeL2 << ", cosine " << e.cosine);
    // Per-tile scales everywhere are the coarse fallback: looser.
    bool coarse = std::string(variant).find("tile") != std::string::npos;
    REQUIRE(e.relativeL2 < (coarse ? 4e-2 : 2.5e-2));
    REQUIRE(e.cosine > 0.999);
  }
}

TEST_CASE("prefill reference: masking at the edges", "[reference][attention]") {
  auto config = parseConfig<AttentionPrefill>(nullptr, "head_dim=64,causal=1");
  REQUIRE(config);
  std::mt19937 rng(3);
  // More queries than keys, aligned at the bottom right: the first 10 rows
  // see no key and must be exactly zero; row 10 sees only key 0.
  ap::Problem problem = ap::Problem::dense(1, 1, 1, 40, 30, 64);
  auto q = random(40 * 64, false, rng), k = random(30 * 64, false, rng),
       v = random(30 * 64, false, rng);
  std::vector<uint16_t> o(q.size(), 0x7e00);
  std::vector<float> lse(40, 0.0f);
  auto withLse = parseConfig<AttentionPrefill>(nullptr, "head_dim=64,causal=1,write_lse=1,k_smooth=0");
  ap::reference(*withLse, problem, q.data(), k.data(), v.data(), o.data(), lse.data());
  for (int i = 0; i < 10; ++i) {
    for (int d = 0; d < 64; ++d)
      REQUIRE(o[i * 64 + d] == 0);
    REQUIRE(std::isinf(lse[i]));
  }
  for (int d = 0; d < 64; ++d) {
    double expected = numerics::halfToFloat(v[d]);
    double got = numerics::halfToFloat(o[10 * 64 + d]);
    REQUIRE(std::fabs(got - expected) <= 0.02 * std::fabs(expected) + 0.02);
  }
  for (int i = 10; i < 40; ++i)
    REQUIRE(std::isfinite(lse[i]));
}

TEST_CASE("default prefill settings meet the accuracy targets", "[reference][attention][accuracy]") {
  // The accuracy targets (docs/accuracy.md) at sequence 1024, head dim 128: relative L2 <= 1.5e-2
  // on normal inputs, cosine >= 0.999 with outlier key channels. The
  // reference is the kernel's arithmetic (bit-identical on the GPU). The
  // defaults a plan gets on each target: sm_90a takes 128 keys a step, older
  // targets 64.
  const std::string target = GENERATE(as<std::string>{}, "sm_90a", "sm_80");
  HeadConfig head;
  head.target = target;
  auto config = parseConfig<AttentionPrefill>(&head, "");
  REQUIRE(config);
  REQUIRE(config->blockN == (target == "sm_90a" ? 128 : 64));
  INFO(target);
  auto normal = ap::makeAccuracyInputs("normal", 1, 1024, 128, 7);
  ap::AccuracyErrors e = ap::measureAccuracy(*config, normal, 1, 1024, 128);
  INFO("normal: relative L2 " << e.relativeL2);
  REQUIRE(e.relativeL2 <= 1.5e-2);
  auto outliers = ap::makeAccuracyInputs("outliers", 1, 1024, 128, 7);
  e = ap::measureAccuracy(*config, outliers, 1, 1024, 128);
  INFO("outliers: cosine " << e.cosine);
  REQUIRE(e.cosine >= 0.999);
  auto peaked = ap::makeAccuracyInputs("peaked", 1, 1024, 128, 7);
  e = ap::measureAccuracy(*config, peaked, 1, 1024, 128);
  INFO("peaked: relative L2 " << e.relativeL2);
  REQUIRE(e.relativeL2 <= 5e-2);
}

TEST_CASE("log-sum-exp with and without K smoothing is close to exact", "[reference][attention]") {
  // Outlier key channels (offset 12) make the shift q . mean(K) that K
  // smoothing takes out of the scores about 4 nats per row: the lse must
  // add it back to agree with the exact one. INT8 scores alone cost up to
  // 0.17 nats here (0.14 with smoothing, mean 0.02-0.03).
  auto inputs = ap::makeAccuracyInputs("outliers", 1, 256, 128, 11);
  for (const char *smoothing : {"k_smooth=1", "k_smooth=0"}) {
    auto config = parseConfig<AttentionPrefill>(nullptr, std::string("head_dim=128,write_lse=1,") + smoothing);
    REQUIRE(config);
    ap::AccuracyErrors e = ap::measureAccuracy(*config, inputs, 1, 256, 128, true);
    INFO(smoothing << ": lse error max " << e.lseMaxAbs << ", mean " << e.lseMeanAbs);
    REQUIRE(e.lseMaxAbs < 0.3);
    REQUIRE(e.lseMeanAbs < 0.05);
  }
}

TEST_CASE("prefill reference: KV blocks hundreds of binades apart stay finite and accurate",
          "[reference][attention]") {
  // l and acc count in the latest block's P scale, moved by one factor per
  // row (beta) and cut 2^-64 below the running max: blocks whose scores sit
  // far below the running max (beta up to 2^64 and more) and far above it
  // (beta underflows) must neither overflow nor lose the rows' mass.
  // With K smoothing the scores leave out q . mean(K) (about 64 nats per
  // row here): the log-sum-exp must add it back.
  const char *smoothing = GENERATE("k_smooth=0", "k_smooth=1");
  auto config = parseConfig<AttentionPrefill>(nullptr, std::string("head_dim=64,write_lse=1,") + smoothing);
  REQUIRE(config);
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.0f, 0.25f);
  const int64_t seqQ = 64, seqK = 320, d = 64;
  // Q ~ 4 + noise; the keys of block b ~ sign_b * scale_b * (4 + noise): the
  // scores of one block sit about 128 * scale_b nats from zero.
  const float blockScale[] = {-3.0f, 3.0f, -1.0f, 1.0f, 2.5f};
  std::vector<uint16_t> q(seqQ * d), k(seqK * d), v(seqK * d);
  for (auto &x : q)
    x = numerics::floatToHalf(4.0f + noise(rng));
  for (int64_t j = 0; j < seqK; ++j)
    for (int64_t c = 0; c < d; ++c) {
      k[j * d + c] = numerics::floatToHalf(blockScale[j / 64] * (4.0f + noise(rng)));
      v[j * d + c] = numerics::floatToHalf(noise(rng) * 4.0f);
    }
  ap::Problem problem = ap::Problem::dense(1, 1, 1, seqQ, seqK, d);
  std::vector<uint16_t> o(q.size(), 0x7e00);
  std::vector<float> lse(seqQ, 0.0f);
  std::vector<double> exact(q.size());
  ap::reference(*config, problem, q.data(), k.data(), v.data(), o.data(), lse.data());
  ap::exactReference(*config, problem, q.data(), k.data(), v.data(), exact.data());
  for (uint16_t bits : o)
    REQUIRE(std::isfinite(numerics::halfToFloat(bits)));
  Errors e = compare(o, exact, false);
  INFO(smoothing << ": relative L2 " << e.relativeL2 << ", cosine " << e.cosine);
  // Quantization alone costs 9.4e-2 here (each block's keys are a large
  // common offset plus a small variation, which INT8 per token resolves
  // coarsely; with K smoothing 7.0e-2, the same to six digits as the
  // arithmetic before the units). A block weighted wrongly by the rescale
  // would cost O(1).
  REQUIRE(e.relativeL2 < 0.1);
  REQUIRE(e.cosine > 0.998);
  // The log-sum-exp counts from the running max and the last unit.
  for (int64_t i = 0; i < seqQ; ++i) {
    std::vector<double> scores(seqK);
    double max = -INFINITY;
    for (int64_t j = 0; j < seqK; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < d; ++c)
        dot += double(numerics::halfToFloat(q[i * d + c])) * numerics::halfToFloat(k[j * d + c]);
      scores[j] = dot / std::sqrt(double(d));
      max = std::max(max, scores[j]);
    }
    double sum = 0;
    for (double s : scores)
      sum += std::exp(s - max);
    INFO("row " << i << ", largest score " << max);
    // INT8 scores are off by about 2^-9 of their size; a unit off by a
    // factor of two would move the lse by ln 2.
    REQUIRE(std::fabs(double(lse[i]) - (max + std::log(sum))) < 0.05 + 1e-3 * std::fabs(max));
  }
}

TEST_CASE("sasZeroingIsRoundedAway: from threshold 12 a clamped p always codes to 0",
          "[reference][attention]") {
  // The kernel skips SAS's zeroing where this holds: the clamped value
  // times the largest code factor a row can have (255 / (1/4) in f16, or
  // the fixed 255) plus 1024, in one f16 FMA, stays at 1024 (code 0).
  for (int threshold = 1; threshold <= 30; ++threshold)
    for (int degree = 0; degree <= 3; ++degree) {
      auto config = parseConfig<AttentionPrefill>(nullptr, "sas_threshold=" + std::to_string(threshold) +
                                   ",sas_degree=" + std::to_string(degree));
      REQUIRE(config);
      numerics::SasParams clamped{numerics::ExpBase::Two, degree, threshold,
                                  numerics::fitExpPolynomial(degree, numerics::ExpBase::Two),
                                  false};
      const float atClamp = numerics::roundToHalf(numerics::sasExp(-INFINITY, clamped));
      bool codesToZero = true;
      for (float factor : {numerics::roundToHalf(255.0f / 0.25f), 255.0f})
        codesToZero &= numerics::fmaHalf(atClamp, factor, 1024.0f) == 1024.0f;
      INFO("threshold " << threshold << " degree " << degree << " clamped p " << atClamp);
      // The claim must hold wherever it is made (it may hold a little below).
      if (ap::sasZeroingIsRoundedAway(*config))
        REQUIRE(codesToZero);
      // Its premise: a row's largest p (t in [0, 1] from the block's ceil'd
      // max) is at least 1/4, so 255 / pMax <= 1020.
      if (threshold >= 2)
        for (uint16_t bits = 0; bits <= numerics::floatToHalf(1.0f); ++bits)
          REQUIRE(numerics::sasExp(-numerics::halfToFloat(bits), clamped) >= 0.25f);
    }
}

TEST_CASE("16-bit P.V holds attention sinks and dominant keys over long tails",
          "[reference][attention][accuracy]") {
  // A sink (key 0 about 10 nats above the rest, its value vector 1/R of the
  // others') and a dominant key 6 nats over a flat tail: u8 P codes round
  // the tail away and INT8 V per channel resolves the sink's small values
  // to a few codes. pv=half keeps both in 16 bits; pv=mixed does that for
  // the first block of keys, where these inputs put the dominant key.
  // The bounds are those of the normal inputs' target (1.5e-2) with room
  // for the harder rows, and for pv=int8 a floor that shows the inputs
  // are hard: if int8 passed them, they would test nothing.
  const int64_t seq = 512, d = 128;
  const std::string kind = GENERATE(as<std::string>{}, "sink:20", "sink:100", "tail:6");
  auto inputs = ap::makeAccuracyInputs(kind, 1, seq, d, 3);
  auto measure = [&](const char *pv) {
    auto config = parseConfig<AttentionPrefill>(nullptr, std::string("head_dim=128,block_n=128,") + pv);
    REQUIRE(config);
    return ap::measureAccuracy(*config, inputs, 1, seq, d).relativeL2;
  };
  double int8 = measure("pv=int8"), half = measure("pv=half"), mixed = measure("pv=mixed");
  INFO(kind << ": relative L2 int8 " << int8 << ", half " << half << ", mixed " << mixed);
  CHECK(int8 > 5e-2);
  CHECK(half < 2.5e-2);
  CHECK(mixed < 2.5e-2);
  CHECK(mixed < int8 / 4);
}

TEST_CASE("stage errors: a 16-bit P.V leaves only the scores' quantization",
          "[reference][attention][accuracy]") {
  // stageErrors quantizes one stage at a time in float64. pv=half keeps V
  // exact (as given) and P to f16's 11 bits; the scores' INT8 error does
  // not depend on the P.V format.
  const int64_t seq = 256, d = 128;
  auto inputs = ap::makeAccuracyInputs("sink:20", 1, seq, d, 5);
  auto stages = [&](const char *pv) {
    auto config = parseConfig<AttentionPrefill>(nullptr, std::string("head_dim=128,block_n=128,") + pv);
    REQUIRE(config);
    return ap::stageErrors(*config, inputs, 1, seq, d);
  };
  ap::StageErrors int8 = stages("pv=int8"), half = stages("pv=half");
  INFO("int8: " << int8.scores << " / " << int8.probabilities << " / " << int8.values);
  INFO("half: " << half.scores << " / " << half.probabilities << " / " << half.values);
  CHECK(half.scores == int8.scores);
  CHECK(half.values == 0.0);
  CHECK(half.probabilities < 1e-3);
  CHECK(int8.probabilities > 10 * half.probabilities);
  CHECK(int8.values > 1e-2);
}
