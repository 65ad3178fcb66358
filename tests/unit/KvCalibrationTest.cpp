//===- KvCalibrationTest.cpp - bits per KV head from sample attention -----===//
#include "turbo/Support/KvCalibration.h"
#include "attention_decode/DecodeInputs.h"
#include "turbo/Support/Numerics.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace turbo;
namespace ad = turbo::templates::attention_decode;

namespace {
std::vector<float> normals(size_t n, std::mt19937 &rng, float scale = 1.0f) {
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  for (float &value : x)
    value = scale * normal(rng);
  return x;
}
} // namespace

TEST_CASE(
    "calibration: a head's loss is the error of the decode a cache would give",
    "[kvcalibration]") {
  // The last query position only: the decode test inputs' own float64
  // attention over the cache (DecodeInputs' cachedDecode) and over the
  // unquantized K/V (exactDecode) give the same two norms.
  for (int bits : {2, 4, 8})
    for (int64_t length : {200, 256, 37}) {
      CAPTURE(bits, length);
      ad::Config config;
      config.headDim = 64;
      config.kvBits = KvBits(bits);
      ad::DecodeShape shape;
      shape.batch = 1;
      shape.kvHeads = 1;
      shape.lengths = {length};
      std::mt19937 rng(uint32_t(bits * 1000 + length));
      const ad::DecodeInputs in =
          ad::makeDecodeInputs(config, {bits}, shape, "outliers", rng);
      const std::vector<double> exact = ad::exactDecode(config, in);
      const std::vector<double> cached = ad::cachedDecode(config, in);
      double error = 0.0, reference = 0.0;
      for (size_t i = 0; i < exact.size(); ++i) {
        error += (cached[i] - exact[i]) * (cached[i] - exact[i]);
        reference += exact[i] * exact[i];
      }
      // The group's query rows at the last position of a [group][tokens][D]
      // array.
      const int64_t D = config.headDim, G = config.group;
      std::vector<float> q(size_t(G * length * D), 0.0f);
      for (int64_t g = 0; g < G; ++g)
        for (int64_t c = 0; c < D; ++c)
          q[size_t((g * length + length - 1) * D + c)] =
              numerics::halfToFloat(in.q[size_t(g * in.problem.q.head + c)]);
      auto loss =
          kv::measureHeadLoss(kv::HeadSample{q.data(), in.k[0].data(),
                                             in.v[0].data(), G, length, D},
                              bits, config.pageSize, 1);
      REQUIRE(loss);
      CHECK(loss->reference == Approx(std::sqrt(reference)).epsilon(1e-9));
      CHECK(loss->error == Approx(std::sqrt(error)).epsilon(1e-6));
    }
}

TEST_CASE("calibration: fewer bits lose more, and a staged-only sample loses "
          "the same at any "
          "width",
          "[kvcalibration]") {
  std::mt19937 rng(5);
  const int64_t T = 192, D = 64, G = 2;
  const std::vector<float> q = normals(size_t(G * T * D), rng),
                           k = normals(size_t(T * D), rng),
                           v = normals(size_t(T * D), rng);
  const kv::HeadSample sample{q.data(), k.data(), v.data(), G, T, D};
  std::vector<double> errors;
  for (int bits : {2, 4, 8}) {
    auto loss = kv::measureHeadLoss(sample, bits, 64);
    REQUIRE(loss);
    errors.push_back(loss->error / loss->reference);
  }
  CHECK(errors[0] > 2.0 * errors[1]);
  CHECK(errors[1] > 2.0 * errors[2]);
  const kv::HeadSample shortSample{q.data(), k.data(), v.data(), G, 63, D};
  CHECK(kv::measureHeadLoss(shortSample, 2, 64)->error ==
        kv::measureHeadLoss(shortSample, 4, 64)->error);
  CHECK_FALSE(kv::measureHeadLoss(sample, 3, 64));
  CHECK_FALSE(kv::measureHeadLoss(sample, 2, 48));
  const kv::HeadSample odd{q.data(), k.data(), v.data(), G, T, 96};
  CHECK_FALSE(kv::measureHeadLoss(odd, 2, 64));
}

TEST_CASE("calibration: the default puts the heads that lose least for the "
          "layer at 2 bits",
          "[kvcalibration]") {
  // Eight KV heads, two query heads each. Heads 1, 4 and 6 have small K/V
  // (their output matters little to the layer); heads 3 and 5 have a value
  // channel 30x the rest, which 2-bit per-token V cannot resolve; the
  // others are plain. Expected at 2 bits: the three small heads, then the
  // plain head with the lowest loss (not 3 or 5).
  std::mt19937 rng(7);
  const int64_t H = 8, G = 2, T = 256, D = 64;
  const std::vector<float> scale = {1.0f, 0.1f, 1.0f, 1.0f,
                                    0.1f, 1.0f, 0.1f, 1.0f};
  std::vector<float> q = normals(size_t(H * G * T * D), rng), k, v;
  for (int64_t h = 0; h < H; ++h) {
    std::vector<float> kh = normals(size_t(T * D), rng, scale[size_t(h)]),
                       vh = normals(size_t(T * D), rng, scale[size_t(h)]);
    if (h == 3 || h == 5)
      for (int64_t t = 0; t < T; ++t)
        vh[size_t(t * D + 7)] *= 30.0f;
    k.insert(k.end(), kh.begin(), kh.end());
    v.insert(v.end(), vh.begin(), vh.end());
  }
  auto losses =
      kv::measureLayerLosses(q.data(), k.data(), v.data(), H * G, H, T, D, 64);
  REQUIRE(losses);
  REQUIRE(losses->size() == size_t(H));
  const std::vector<int> bits = kv::pickBits(*losses, 0.5);
  CAPTURE(*losses);
  for (int64_t h : {1, 4, 6})
    CHECK(bits[size_t(h)] == 2);
  for (int64_t h : {3, 5})
    CHECK(bits[size_t(h)] == 4);
  CHECK(std::count(bits.begin(), bits.end(), 2) == 4);
  // Heads measured alone give the same numbers (the threads share nothing).
  const int64_t perHead = T * D;
  for (int64_t h : {0, 5}) {
    auto alone = kv::measureHeadLoss(
        kv::HeadSample{q.data() + h * G * perHead, k.data() + h * perHead,
                       v.data() + h * perHead, G, T, D},
        2, 64);
    double layer = 0.0;
    for (int64_t j = 0; j < H; ++j) {
      auto other = kv::measureHeadLoss(
          kv::HeadSample{q.data() + j * G * perHead, k.data() + j * perHead,
                         v.data() + j * perHead, G, T, D},
          2, 64);
      layer += other->reference * other->reference;
    }
    CHECK((*losses)[size_t(h)] ==
          Approx(alone->error / std::sqrt(layer)).epsilon(1e-12));
  }
  CHECK_FALSE(
      kv::measureLayerLosses(q.data(), k.data(), v.data(), 12, H, T, D, 64));
}

TEST_CASE(
    "calibration: the paper's statistic puts the flattest heads at 2 bits",
    "[kvcalibration]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const int64_t tokens = 256, D = 64;
  // Head h's K/V scaled by scales[h]: priority grows with the square.
  const std::vector<float> scales = {1.0f, 0.2f, 3.0f, 0.5f,
                                     0.1f, 2.0f, 0.3f, 1.5f};
  std::vector<double> priorities;
  for (float scale : scales) {
    std::vector<float> k(static_cast<size_t>(tokens * D)),
        v(static_cast<size_t>(tokens * D));
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = normal(rng) * scale;
      v[i] = normal(rng) * scale;
    }
    priorities.push_back(kv::headPriority(k.data(), v.data(), tokens, D));
  }
  CHECK(kv::pickBits(priorities, 0.5) ==
        std::vector<int>{4, 2, 4, 2, 2, 4, 2, 4});
  CHECK(kv::pickBits(priorities, 0.25) ==
        std::vector<int>{4, 2, 4, 4, 2, 4, 4, 4});
  CHECK(kv::pickBits(priorities, 0.0) == std::vector<int>(8, 4));
  CHECK(kv::pickBits(priorities, 1.0) == std::vector<int>(8, 2));
}

TEST_CASE("calibration under a budget: the most 2-bit heads whose predicted layer error fits",
          "[kvcalibration]") {
  // Worked case: costs (at2^2 - at4^2) .0024 .0875 .0096 .0003 .0391 over a
  // base of .004; a budget of 0.1 (.01 squared) takes heads 3 and 0.
  const std::vector<double> at2 = {0.05, 0.30, 0.10, 0.02, 0.20};
  const std::vector<double> at4 = {0.01, 0.05, 0.02, 0.01, 0.03};
  kv::BudgetPick pick = kv::pickBitsWithinBudget(at2, at4, 0.1);
  CHECK(pick.bits == std::vector<int>{2, 4, 4, 2, 4});
  CHECK(pick.predicted == Approx(std::sqrt(0.0067)).epsilon(1e-12));
  // A budget the 4-bit layer already exceeds: nothing at 2 bits.
  pick = kv::pickBitsWithinBudget(at2, at4, 0.05);
  CHECK(pick.bits == std::vector<int>(5, 4));
  CHECK(pick.predicted == Approx(std::sqrt(0.004)).epsilon(1e-12));
  // Generous: all at 2 bits.
  CHECK(kv::pickBitsWithinBudget(at2, at4, 1.0).bits == std::vector<int>(5, 2));
  // Heads better at 2 bits than at 4 go to 2 even when the layer is over
  // the budget at 4 bits, and may bring it within.
  pick = kv::pickBitsWithinBudget({0.05, 0.05}, {0.1, 0.1}, 0.1);
  CHECK(pick.bits == std::vector<int>{2, 2});
  CHECK(pick.predicted == Approx(std::sqrt(0.005)).epsilon(1e-12));

  // Against every subset of 8 heads: no subset with more 2-bit heads fits,
  // and the predicted error is the formula's for the bits chosen.
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> loss(0.0, 0.1);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> two(8), four(8);
    for (size_t h = 0; h < 8; ++h) {
      four[h] = loss(rng) * 0.3;
      two[h] = four[h] + loss(rng);
    }
    const double budget = 0.05 + 0.1 * loss(rng) * 10;
    pick = kv::pickBitsWithinBudget(two, four, budget);
    auto error = [&](unsigned subset) {
      double squares = 0;
      for (size_t h = 0; h < 8; ++h)
        squares += subset >> h & 1 ? two[h] * two[h] : four[h] * four[h];
      return std::sqrt(squares);
    };
    unsigned chosen = 0;
    for (size_t h = 0; h < 8; ++h)
      chosen |= pick.bits[h] == 2 ? 1u << h : 0u;
    CAPTURE(trial, budget);
    CHECK(pick.predicted == Approx(error(chosen)).epsilon(1e-12));
    int best = 0;
    for (unsigned subset = 0; subset < 256; ++subset)
      if (error(subset) <= budget)
        best = std::max(best, __builtin_popcount(subset));
    CHECK(__builtin_popcount(chosen) == best);
    if (best > 0)
      CHECK(pick.predicted <= budget);
  }
}

TEST_CASE("calibration: a head's loss shrinks with more bits, as measured for the budget",
          "[kvcalibration]") {
  std::mt19937 rng(8);
  const int64_t qHeads = 4, kvHeads = 2, tokens = 200, D = 64;
  const auto q = normals(size_t(qHeads * tokens * D), rng);
  const auto k = normals(size_t(kvHeads * tokens * D), rng);
  const auto v = normals(size_t(kvHeads * tokens * D), rng);
  auto at2 = kv::measureLayerLosses(q.data(), k.data(), v.data(), qHeads, kvHeads, tokens, D,
                                    32, kv::kDefaultKeptPages, 2);
  auto at4 = kv::measureLayerLosses(q.data(), k.data(), v.data(), qHeads, kvHeads, tokens, D,
                                    32, kv::kDefaultKeptPages, 4);
  auto at8 = kv::measureLayerLosses(q.data(), k.data(), v.data(), qHeads, kvHeads, tokens, D,
                                    32, kv::kDefaultKeptPages, 8);
  REQUIRE(at2);
  REQUIRE(at4);
  REQUIRE(at8);
  for (size_t h = 0; h < size_t(kvHeads); ++h) {
    CHECK((*at4)[h] < (*at2)[h]);
    CHECK((*at8)[h] <= (*at4)[h]);
  }
  // The default (2-bit) losses are what the calibration ranks by.
  auto defaults = kv::measureLayerLosses(q.data(), k.data(), v.data(), qHeads, kvHeads, tokens,
                                         D, 32);
  REQUIRE(defaults);
  CHECK(*defaults == *at2);
}
