//===- KvCacheTest.cpp - the compressed cache and decode on the CPU -------===//
//
// The cache's layout, code packing and page compression against
// independent arithmetic; calibration on heads of known priority; the
// decode reference against float64 attention over what the cache holds
// (shuffled and shared pages, ragged lengths, several query tokens, bad
// block-table entries and lengths).
//
//===----------------------------------------------------------------------===//
#include "HostileSizes.h"
#include "turbo/Support/KvCache.h"
#include "turbo/Support/Numerics.h"
#include "attention_decode/DecodeInputs.h"
#include "decode_reduce/DecodeReduce.h"
#include "kv_stage/KvStage.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace turbo;
namespace ad = turbo::templates::attention_decode;

TEST_CASE("KV cache layout: sizes and offsets", "[kvcache]") {
  auto layout = kv::CacheLayout::create(128, 64, {4, 2, 4});
  REQUIRE(layout);
  // 4 bits: 2 x 64 x 64 code bytes, K scale+zero 2 x 256, V scale+zero 2 x 128
  CHECK(layout->segment(4).bytes == 2 * 4096 + 512 + 256);
  CHECK(layout->segment(2).bytes == 2 * 2048 + 512 + 256);
  CHECK(layout->segment(8).bytes == 2 * 8192 + 512 + 256);
  CHECK(layout->headOffset(0) == 0);
  CHECK(layout->headOffset(1) == 8960);
  CHECK(layout->headOffset(2) == 8960 + 4864);
  CHECK(layout->pageBytes() % 128 == 0);
  CHECK(layout->pageBytes() >= 8960 + 4864 + 8960);
  CHECK(layout->stagingSlotBytes() == 3 * (2 * 64 * 128 + 2 * 64 * 4));
  // 8-bit heads stage INT16 codes, so they take a cache of their own.
  auto eight = kv::CacheLayout::create(128, 64, {8, 8});
  REQUIRE(eight);
  CHECK(eight->staging().codeBytes == 2);
  CHECK(eight->staging().vCodes == 64 * 128 * 2);
  CHECK(eight->stagingSlotBytes() == 2 * (2 * 64 * 128 * 2 + 2 * 64 * 4));
  CHECK(eight->pageBytes() >= 2 * 17152);
  CHECK(layout->staging().codeBytes == 1);
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {4, 8}));
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {8, 8, 2}));
  // Against FP16 K and V (4 * D bytes a token) at 4k tokens.
  auto all4 = kv::CacheLayout::create(128, 64, std::vector<int>(8, 4));
  auto mix = kv::CacheLayout::create(128, 64, {4, 2, 4, 2, 4, 2, 4, 2});
  CHECK(512.0 / all4->bytesPerTokenPerHead(4096) >= 3.5);
  CHECK(512.0 / mix->bytesPerTokenPerHead(4096) >= 4.4);
  // The defaults (a sink page kept in INT8) still meet both.
  auto all4Kept = kv::CacheLayout::create(128, 64, std::vector<int>(8, 4), kv::kDefaultKeptPages);
  auto mixKept =
      kv::CacheLayout::create(128, 64, {4, 2, 4, 2, 4, 2, 4, 2}, kv::kDefaultKeptPages);
  CHECK(512.0 / all4Kept->bytesPerTokenPerHead(4096) >= 3.5);
  CHECK(512.0 / mixKept->bytesPerTokenPerHead(4096) >= 4.4);
  CHECK(mixKept->stagingSlotBytes() == 8 * 2 * (2 * 64 * 128 + 2 * 64 * 4));

  CHECK_FALSE(kv::CacheLayout::create(96, 64, {4}));
  CHECK_FALSE(kv::CacheLayout::create(128, 48, {4}));
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {3}));
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {}));
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {4}, {-1, 0}));
  CHECK_FALSE(kv::CacheLayout::create(128, 64, {4}, {0, 65}));
}

TEST_CASE("KV cache layout: kept pages, their staging rows and what the pool holds",
          "[kvcache]") {
  // Checked against a slot simulated token by token: each page takes the
  // lowest free page slot when it starts; when a page fills, the page that left the
  // window (not a sink page) frees its rows and goes to the pool.
  const int64_t P = 16;
  for (kv::KeptPages kept : {kv::KeptPages{0, 0}, kv::KeptPages{1, 0}, kv::KeptPages{1, 2},
                             kv::KeptPages{3, 1}, kv::KeptPages{0, 3}}) {
    auto layout = kv::CacheLayout::create(64, P, {4}, kept);
    REQUIRE(layout);
    const int64_t rows = layout->staging().rows;
    CHECK(rows == (kept.sink + kept.window + 1) * P);
    std::vector<int64_t> rowOf;     // position -> row, while staged
    std::vector<bool> pooled;       // page -> in the pool
    std::vector<int64_t> free; // the first rows of free page slots
    for (int64_t row = 0; row < rows; row += P)
      free.push_back(row);
    for (int64_t t = 0; t < 40 * P; ++t) {
      INFO("sink " << kept.sink << " window " << kept.window << " position " << t);
      // A page's tokens lie in consecutive rows: take the page's first row
      // from the free list when it starts.
      if (t % P == 0) {
        REQUIRE_FALSE(free.empty());
        const auto lowest = std::min_element(free.begin(), free.end());
        rowOf.push_back(*lowest);
        free.erase(lowest);
      }
      REQUIRE(layout->stagingRow(t) == rowOf[size_t(t / P)] + t % P);
      if ((t + 1) % P == 0) { // page t / P filled
        const int64_t full = (t + 1) / P;
        pooled.push_back(false);
        const int64_t leaving = layout->pageLeavingWindow(full);
        const int64_t expected = full - 1 - kept.window;
        CHECK(leaving == (expected >= kept.sink ? expected : -1));
        if (leaving >= 0) {
          pooled[size_t(leaving)] = true;
          free.push_back(rowOf[size_t(leaving)]); // its rows hold the next page
        }
        for (int64_t page = 0; page < full; ++page)
          REQUIRE(layout->inPool(page, full) == pooled[size_t(page)]);
        // What is staged is what stagedPages lists, sinks first.
        std::vector<int64_t> staged;
        for (int64_t page = 0; page < full; ++page)
          if (!pooled[size_t(page)])
            staged.push_back(page);
        CHECK(layout->stagedPages(t + 1) == staged);
        std::vector<int64_t> withTail = staged;
        withTail.push_back(full);
        CHECK(layout->stagedPages(t + 1 + P / 2) == withTail);
      }
    }
  }
}

TEST_CASE("KV cache: codes pack little-endian and unpack", "[kvcache]") {
  std::mt19937 rng(7);
  for (int bits : {2, 4, 8}) {
    std::vector<uint8_t> codes(128), back(128), packed(size_t(128 * bits / 8));
    for (uint8_t &c : codes)
      c = uint8_t(rng() % (1u << bits));
    kv::packCodes(codes.data(), 128, bits, packed.data());
    for (size_t j = 0; j < packed.size(); ++j) {
      unsigned expected = 0;
      const int per = 8 / bits;
      for (int i = 0; i < per; ++i)
        expected += unsigned(codes[j * size_t(per) + size_t(i)]) << (i * bits);
      INFO("bits " << bits << " byte " << j);
      REQUIRE(packed[j] == expected);
    }
    kv::unpackCodes(packed.data(), 128, bits, back.data());
    REQUIRE(back == codes);
  }
}

TEST_CASE("KV cache: fragment order keeps each thread's operand elements together",
          "[kvcache]") {
  for (int64_t n : {16, 32, 64, 128, 256}) {
    // As the B operand of mma.sync m16n8k16 along k, thread t of a quad holds
    // elements 16j + 2t + {0, 1, 8, 9}: stored, they are the t-th quarter.
    for (int64_t t = 0; t < 4; ++t) {
      std::vector<int64_t> positions;
      for (int64_t j = 0; j < n / 16; ++j)
        for (int64_t e : {0, 1, 8, 9})
          positions.push_back(kv::fragmentPosition(16 * j + 2 * t + e, n));
      std::sort(positions.begin(), positions.end());
      INFO("n " << n << " thread " << t);
      for (size_t i = 0; i < positions.size(); ++i)
        REQUIRE(positions[i] == t * n / 4 + int64_t(i));
    }
    // The two bit lists are inverse permutations, as turbo.permute_bits reads them.
    const std::vector<int32_t> forward = kv::fragmentOrderBits(n);
    const std::vector<int32_t> inverse = kv::fragmentOrderInverseBits(n);
    for (int64_t index = 0; index < n; ++index) {
      int64_t logical = 0;
      const int64_t stored = kv::fragmentPosition(index, n);
      for (size_t j = 0; j < inverse.size(); ++j)
        logical |= ((stored >> j) & 1) << inverse[j];
      REQUIRE(logical == index);
      int64_t again = 0;
      for (size_t j = 0; j < forward.size(); ++j)
        again |= ((index >> j) & 1) << forward[j];
      REQUIRE(again == stored);
    }
  }
}

TEST_CASE("KV cache: a page holds each code where the layout says", "[kvcache]") {
  // Values that quantize to known codes: K (t + c) mod 16 down each channel,
  // V (c + 3t) mod 16 along each token, so every group spans 0 .. 15 (the
  // INT8 staging step moves a value by less than 0.06, well inside a 2- or
  // 4-bit step).
  const int64_t P = 64, D = 128;
  auto expected = [](int64_t x, int64_t levels) { return std::lround(double(x) * levels / 15.0); };
  for (int bits : {2, 4}) {
    auto layout = kv::CacheLayout::create(D, P, {bits});
    REQUIRE(layout);
    const kv::SegmentLayout part = layout->segment(bits);
    std::vector<int8_t> k8(static_cast<size_t>(P * D)), v8(static_cast<size_t>(P * D));
    std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P));
    std::vector<float> row(static_cast<size_t>(D));
    for (int64_t t = 0; t < P; ++t) {
      for (int64_t c = 0; c < D; ++c)
        row[size_t(c)] = float((t + c) % 16);
      ks[size_t(t)] = kv::stageRow(row.data(), D, &k8[size_t(t * D)]);
      for (int64_t c = 0; c < D; ++c)
        row[size_t(c)] = float((c + 3 * t) % 16);
      vs[size_t(t)] = kv::stageRow(row.data(), D, &v8[size_t(t * D)]);
    }
    std::vector<uint8_t> segment(static_cast<size_t>(part.bytes));
    kv::compressPage(*layout, bits, k8.data(), ks.data(), v8.data(), vs.data(), segment.data());
    const int64_t levels = (1 << bits) - 1;
    std::vector<uint8_t> codes(static_cast<size_t>(std::max(P, D)));
    for (int64_t t = 0; t < P; ++t) {
      kv::unpackCodes(segment.data() + part.kCodes + t * part.kRowBytes, D, bits, codes.data());
      for (int64_t c = 0; c < D; ++c) {
        INFO("bits " << bits << " K token " << t << " channel " << c);
        REQUIRE(codes[size_t(kv::fragmentPosition(c, D))] == expected((t + c) % 16, levels));
      }
    }
    for (int64_t c = 0; c < D; ++c) {
      kv::unpackCodes(segment.data() + part.vCodes + c * part.vRowBytes, P, bits, codes.data());
      for (int64_t t = 0; t < P; ++t) {
        INFO("bits " << bits << " V channel " << c << " token " << t);
        REQUIRE(codes[size_t(kv::fragmentPosition(t, P))] == expected((c + 3 * t) % 16, levels));
      }
    }
  }
}

TEST_CASE("KV cache: page compression picks the nearest level", "[kvcache]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int bits : {2, 4, 8}) {
    auto layout = kv::CacheLayout::create(64, 32, {bits});
    REQUIRE(layout);
    const int64_t P = 32, D = 64;
    std::vector<float> k(static_cast<size_t>(P * D)), v(static_cast<size_t>(P * D));
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = normal(rng) * (i % 64 == 5 ? 10.0f : 1.0f);
      v[i] = normal(rng);
    }
    std::vector<int8_t> k8(k.size()), v8(v.size());
    std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P));
    for (int64_t t = 0; t < P; ++t) {
      ks[size_t(t)] = kv::stageRow(&k[size_t(t * D)], D, &k8[size_t(t * D)]);
      vs[size_t(t)] = kv::stageRow(&v[size_t(t * D)], D, &v8[size_t(t * D)]);
    }
    std::vector<uint8_t> segment(size_t(layout->segment(bits).bytes));
    kv::compressPage(*layout, bits, k8.data(), ks.data(), v8.data(), vs.data(), segment.data());
    std::vector<float> kd(k.size()), vd(v.size());
    kv::decompressPage(*layout, bits, segment.data(), kd.data(), vd.data());
    const int levels = (1 << bits) - 1;
    // K per channel: the staged values' range over the page in `levels` steps.
    for (int64_t c = 0; c < D; ++c) {
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t t = 0; t < P; ++t) {
        const float x = kv::stagedCodeValue(k8[size_t(t * D + c)], ks[size_t(t)]);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      const float step = (hi - lo) / float(levels);
      for (int64_t t = 0; t < P; ++t) {
        const float x = kv::stagedCodeValue(k8[size_t(t * D + c)], ks[size_t(t)]);
        INFO("bits " << bits << " channel " << c << " token " << t);
        // half a step, plus the f16 roundings of scale, zero and value
        REQUIRE(std::fabs(kd[size_t(t * D + c)] - x) <= 0.5f * step + 4e-3f * (std::fabs(x) + std::fabs(lo) + 1.0f));
      }
    }
    // V per token.
    for (int64_t t = 0; t < P; ++t) {
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t c = 0; c < D; ++c) {
        const float x = kv::stagedCodeValue(v8[size_t(t * D + c)], vs[size_t(t)]);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      const float step = (hi - lo) / float(levels);
      for (int64_t c = 0; c < D; ++c) {
        const float x = kv::stagedCodeValue(v8[size_t(t * D + c)], vs[size_t(t)]);
        REQUIRE(std::fabs(vd[size_t(t * D + c)] - x) <= 0.5f * step + 4e-3f * (std::fabs(x) + std::fabs(lo) + 1.0f));
      }
    }
  }
}

TEST_CASE("KV cache: staging refuses to let NaN and infinities in", "[kvcache]") {
  std::vector<float> x = {1.0f, NAN, -2.0f, INFINITY, 0.5f, -INFINITY, 3.0f, 0.0f};
  std::vector<int8_t> codes(x.size());
  const float scale = kv::stageRow(x.data(), int64_t(x.size()), codes.data());
  CHECK(scale == Approx(3.0f / (127.0f * 127.0f))); // INT8 codes are companded
  CHECK(codes[1] == 0);
  CHECK(codes[3] == 0);
  CHECK(codes[5] == 0);
  CHECK(codes[6] == 127);
}

TEST_CASE("KV cache: a token is staged within half a step (INT16 for 8-bit heads)",
          "[kvcache]") {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  for (int bits : {4, 8}) {
    auto layout = kv::CacheLayout::create(64, 16, {bits, bits}, {1, 1});
    REQUIRE(layout);
    const kv::StagingLayout st = layout->staging();
    CHECK(st.codeBytes == (bits == 8 ? 2 : 1));
    // INT16: linear, half of amax / 32767. INT8: square-root companded, x
    // = r^2 amax / 127^2 for a real r = 127 sqrt(|x| / amax) and |code - r|
    // <= 1/2, so the error is at most (2r + 1/2) / 2 * amax / 127^2: fine
    // steps for small values beside an outlier channel.
    auto bound = [&](float x, float amax) {
      if (bits == 8)
        return 0.5f * amax / 32767.0f;
      const float r = 127.0f * std::sqrt(std::fabs(x) / amax);
      return 0.5f * (2.0f * r + 0.5f) * amax / (127.0f * 127.0f);
    };
    // Poisoned: a row or scale not written would not decode to x.
    std::vector<uint8_t> slot(size_t(st.bytes), 0xa5);
    std::vector<float> k(64), v(64);
    for (int64_t row : {int64_t(0), st.rows - 1}) {
      for (size_t c = 0; c < 64; ++c) {
        k[c] = 40.0f * normal(rng) * (c == 7 ? 30.0f : 1.0f); // an outlier channel
        v[c] = 0.01f * normal(rng);
      }
      kv::stageToken(*layout, slot.data(), row, k.data(), v.data());
      float kMax = 0.0f, vMax = 0.0f;
      for (size_t c = 0; c < 64; ++c) {
        kMax = std::max(kMax, std::fabs(k[c]));
        vMax = std::max(vMax, std::fabs(v[c]));
      }
      for (int64_t c = 0; c < 64; ++c) {
        INFO("bits " << bits << " row " << row << " channel " << c);
        const float kx = k[size_t(c)], vx = v[size_t(c)];
        REQUIRE(std::fabs(kv::stagedValue(*layout, slot.data(), true, row, c) - kx) <=
                bound(kx, kMax) * (1.0f + 1e-4f));
        REQUIRE(std::fabs(kv::stagedValue(*layout, slot.data(), false, row, c) - vx) <=
                bound(vx, vMax) * (1.0f + 1e-4f));
      }
    }
  }
}

TEST_CASE("KV cache: companded INT8 staging keeps ordinary channels fine beside outliers",
          "[kvcache]") {
  // Against linear INT8 codes (numerics::SymmetricInt8) on the same rows:
  // about equal on N(0, 1) rows, several times smaller on the ordinary
  // channels of rows with outlier channels (x 20 + 5, 4 of 128).
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (bool outliers : {false, true}) {
    double linear = 0.0, companded = 0.0;
    for (int r = 0; r < 2000; ++r) {
      std::vector<float> x(128);
      for (size_t c = 0; c < x.size(); ++c)
        x[c] = outliers && c % 32 == 5 ? 20.0f * normal(rng) + 5.0f : normal(rng);
      float amax = 0.0f;
      for (float value : x)
        amax = std::max(amax, std::fabs(value));
      const numerics::SymmetricInt8 linearCodes(amax);
      std::vector<int8_t> codes(x.size());
      const float scale = kv::stageRow(x.data(), int64_t(x.size()), codes.data());
      for (size_t c = 0; c < x.size(); ++c) {
        if (outliers && c % 32 == 5)
          continue;
        const double a = linearCodes.code(x[c]) * linearCodes.scale - x[c];
        const double b = kv::stagedCodeValue(codes[c], scale) - x[c];
        linear += a * a;
        companded += b * b;
      }
    }
    const double ratio = std::sqrt(companded / linear);
    INFO((outliers ? "outlier rows" : "N(0, 1) rows") << ": companded / linear rms " << ratio);
    if (outliers)
      CHECK(ratio < 0.4);
    else
      CHECK(ratio < 1.1);
  }
}

namespace {
/// The reference's output against float64 attention over the cache's own
/// values: what is left is SAS, f16 P and the order of adding.
double referenceError(const ad::Config &config, const ad::DecodeInputs &in, int32_t flags[2]) {
  const ad::Problem &p = in.problem;
  std::vector<uint16_t> o(in.q.size(), 0x7e01);
  flags[0] = flags[1] = 0;
  ad::reference(config, in.layout, p, in.q.data(), o.data(), in.pool.data(), in.staging.data(),
                in.blockTable.data(), in.seqLens.data(), flags);
  for (uint16_t bits : o)
    REQUIRE((bits & 0x7c00) != 0x7c00); // written, finite
  return ad::relativeL2(ad::toDoubles(o, config.dtype), ad::cachedDecode(config, in));
}
} // namespace

TEST_CASE("decode reference: float64 attention over the cache's values", "[kvcache][decode]") {
  std::mt19937 rng(5);
  struct Case {
    std::vector<int> bits;
    int64_t headDim, numQuery;
    std::vector<int64_t> lengths;
    std::string kind;
    bool bf16;
    kv::KeptPages kept;
  };
  const std::vector<Case> cases = {
      {{4, 4}, 128, 1, {64 * 5 + 17, 64 * 3}, "normal", false, {0, 0}},
      {{2, 4}, 128, 1, {64 * 2 + 1, 63}, "sink", false, {1, 0}},
      {{8, 8}, 64, 3, {64 * 4 + 30, 64 + 2}, "outliers", false, {1, 2}},
      {{4, 2}, 128, 2, {64 * 3 + 5, 64 * 2 + 40}, "unequal", true, {2, 1}},
      {{4, 2}, 128, 1, {64 * 7 + 9, 64 * 6}, "sink", false, {1, 2}},
      {{4, 2}, 64, 1, {100, 40}, "normal", false, {3, 1}}, // more sink pages than columns
  };
  for (const Case &c : cases) {
    ad::Config config;
    config.headDim = c.headDim;
    config.maxQuery = c.numQuery;
    config.dtype = c.bf16 ? DType::BF16 : DType::F16;
    config.kvBits = c.bits[0] == c.bits[1] ? turbo::KvBits(c.bits[0]) : turbo::KvBits::Mixed;
    ad::DecodeShape shape;
    shape.kvHeads = 2;
    shape.numQuery = c.numQuery;
    shape.lengths = c.lengths;
    shape.sharedFirstPage = true;
    shape.kept = c.kept;
    ad::DecodeInputs in = ad::makeDecodeInputs(config, c.bits, shape, c.kind, rng);
    int32_t flags[2];
    INFO(c.kind << " head dim " << c.headDim << " query tokens " << c.numQuery << " sink pages "
                << c.kept.sink << " window pages " << c.kept.window);
    // SAS and f16 P leave ~1e-3 (more on sink rows, whose output is a small
    // vector); a wrong mask or offset leaves O(1).
    CHECK(referenceError(config, in, flags) < 1e-2);
    CHECK(flags[0] == 0);
    CHECK(flags[1] == 0);
    const int64_t sink = c.kept.sink;
    if (in.layout.inPool(sink, c.lengths[1] / 64)) // sequence 1 shares sequence 0's first pool page
      CHECK(in.blockTable[size_t(in.problem.blockTableStride + sink)] ==
            in.blockTable[size_t(sink)]);
  }
}

TEST_CASE("decode reference: bad block-table entries and lengths", "[kvcache][decode]") {
  std::mt19937 rng(9);
  ad::Config config;
  config.kvBits = turbo::KvBits::B4;
  ad::DecodeShape shape;
  shape.lengths = {64 * 4 + 3, 64 * 2};
  ad::DecodeInputs in = ad::makeDecodeInputs(config, {4, 4}, shape, "normal", rng);
  int32_t flags[2];
  // A page outside the pool is left out, and said so.
  in.blockTable[1] = int32_t(in.problem.numPages + 7);
  CHECK(referenceError(config, in, flags) < 2e-3);
  CHECK(flags[0] == 1);
  in.blockTable[1] = -3;
  CHECK(referenceError(config, in, flags) < 2e-3);
  CHECK(flags[0] == 1);
  // A length past the block table is cut to it.
  in.seqLens[1] = int32_t(in.problem.maxPages * 64 + 500);
  std::vector<uint16_t> o(in.q.size());
  ad::reference(config, in.layout, in.problem, in.q.data(), o.data(), in.pool.data(),
                in.staging.data(), in.blockTable.data(), in.seqLens.data(), flags);
  CHECK(flags[1] == 1);
  for (uint16_t bits : o)
    REQUIRE((bits & 0x7c00) != 0x7c00);
}

TEST_CASE("decode splits fill whole waves of programs", "[kvcache][decode]") {
  // 8 KV heads on 132 SMs that each hold two programs (264 at once); the
  // counts below are worked by hand from the rule's cost: waves x (pages a
  // split + 2).
  auto splitsFor = [](int64_t batch, int64_t pages, int blocks = 2) {
    ad::Problem p;
    p.batch = batch;
    p.kvHeads = 8;
    p.maxPages = pages;
    return ad::chooseSplits(p, 132, blocks);
  };
  // 16 x 8k: 3 splits fill 384 slots, 1.45 waves of 43 pages (90); 2 fill
  // one wave of 64 (66).
  CHECK(splitsFor(16, 128) == 2);
  // 8 x 32k: 5 splits are 1.2 waves of 103 pages (210); 4 are one of 128.
  CHECK(splitsFor(8, 512) == 4);
  // 64 x 4k: 512 pairs already fill two waves; splitting adds waves.
  CHECK(splitsFor(64, 64) == 1);
  CHECK(splitsFor(128, 32) == 1);
  // One sequence: 32 splits of 2 pages fit one wave (33 cost the same).
  CHECK(splitsFor(1, 64) == 32);
  CHECK(splitsFor(1, 512) == 32);
  // Three programs an SM: 396 slots; 16 x 8k takes 3 splits of 43 pages.
  CHECK(splitsFor(16, 128, 3) == 3);
  // Never more splits than pages, and one for an empty table.
  CHECK(splitsFor(1, 3) == 3);
  CHECK(splitsFor(1, 0) == 1);
  CHECK(splitsFor(100000, 64) == 1);
  // Sizes the launch refuses later still give a count, without overflow.
  ad::Problem huge;
  huge.batch = INT64_MAX;
  huge.kvHeads = INT64_MAX;
  huge.maxPages = INT64_MAX;
  const int64_t splits = ad::chooseSplits(huge, 1, 1);
  CHECK(splits >= 1);
  CHECK(splits <= 1024);
  huge.batch = 1;
  huge.kvHeads = 1;
  CHECK(ad::chooseSplits(huge, 132, 2) > 1);
}

TEST_CASE("decode_reduce reference: splits combine to the whole", "[kvcache][decode]") {
  turbo::templates::decode_reduce::Config config;
  config.headDim = 64;
  config.blockRows = 16;
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  const int64_t splits = 3, floats = turbo::templates::decode_reduce::partialFloats(config);
  std::vector<float> partial(static_cast<size_t>(splits * floats));
  for (float &x : partial)
    x = normal(rng);
  for (int64_t s = 0; s < splits; ++s)
    for (int64_t r = 0; r < 16; ++r)
      partial[size_t(s * floats + 16 * 64 + r)] = s == 1 && r == 2 ? -INFINITY : normal(rng) * 4;
  for (int64_t r = 0; r < 16; ++r) // a row no split saw
    for (int64_t s = 0; s < splits; ++s)
      partial[size_t(s * floats + 16 * 64 + 15)] = -INFINITY;
  std::vector<float> out(static_cast<size_t>(16 * 64));
  turbo::templates::decode_reduce::reference(config, partial.data(), splits, 16, out.data());
  for (int64_t r = 0; r < 15; ++r)
    for (int64_t c = 0; c < 64; ++c) {
      double num = 0.0, den = 0.0;
      for (int64_t s = 0; s < splits; ++s) {
        const double lse = partial[size_t(s * floats + 16 * 64 + r)];
        if (lse == -INFINITY)
          continue;
        num += std::exp2(lse) * partial[size_t(s * floats + r * 64 + c)];
        den += std::exp2(lse);
      }
      REQUIRE(out[size_t(r * 64 + c)] == Approx(num / den).epsilon(1e-5).margin(1e-6));
    }
  for (int64_t c = 0; c < 64; ++c)
    REQUIRE(out[size_t(15 * 64 + c)] == 0.0f);
}

TEST_CASE("decode_reduce: column blocks at most the head dim, loads in flight bounded",
          "[kvcache][decode]") {
  turbo::templates::decode_reduce::Config config;
  config.headDim = 64;
  config.blockCols = 64;
  CHECK(turbo::templates::DecodeReduce::validate(config).isOk());
  config.blockCols = 128;
  const turbo::Status refused = turbo::templates::DecodeReduce::validate(config);
  CHECK_FALSE(refused.isOk());
  CHECK_THAT(refused.message(), Catch::Contains("block_cols (128)"));
  // attention_decode's block_cols above the head dim is cut to it.
  turbo::templates::attention_decode::Config decode;
  decode.headDim = 64;
  decode.reduceBlockCols = 256;
  CHECK(turbo::templates::attention_decode::reduceConfig(decode).blockCols == 64);
  // Loads in flight: 32 splits a step of 16 x 32 tiles are 128 floats a
  // thread; 16 query tokens (64-row tiles) take 8 a step instead.
  decode.headDim = 128;
  decode.reduceBlockCols = 32;
  decode.reduceSplitsPerStep = 32;
  CHECK(turbo::templates::attention_decode::reduceConfig(decode).splitsPerStep == 32);
  decode.maxQuery = 16;
  const auto tall = turbo::templates::attention_decode::reduceConfig(decode);
  CHECK(tall.blockRows == 64);
  CHECK(tall.splitsPerStep == 8);
  CHECK(turbo::templates::DecodeReduce::validate(tall).isOk());
  auto over = tall;
  over.splitsPerStep = 16;
  CHECK_THAT(turbo::templates::DecodeReduce::validate(over).message(),
             Catch::Contains("256 floats in flight"));
}

TEST_CASE("KV cache writes: a prompt in one pass equals appending it step by step",
          "[kvcache][kvwrite]") {
  namespace kc = turbo::templates::kv_compress;
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  const int64_t D = 64, P = 64, kvHeads = 2, length = 64 * 5 + 20, maxPages = 6;
  std::vector<uint16_t> k(size_t(kvHeads * length * D)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = numerics::floatToHalf(normal(rng));
    v[i] = numerics::floatToHalf(normal(rng));
  }
  const std::vector<int32_t> table = {2, 0, 5, 3, 1, 4};
  // 2 and 4 bits stage INT8 codes, 8 bits INT16.
  for (const std::vector<int> &bits : {std::vector<int>{4, 2}, {8, 8}}) {
    for (kv::KeptPages kept : {kv::KeptPages{0, 0}, kv::KeptPages{1, 0}, kv::KeptPages{1, 2},
                               kv::KeptPages{2, 1}}) {
      INFO("bits " << bits[0] << "," << bits[1] << " sink pages " << kept.sink
                   << ", window pages " << kept.window);
      kc::Config config;
      config.headDim = D;
      config.kvBits = bits[0] == 8 ? turbo::KvBits::B8 : turbo::KvBits::Mixed;
      auto layout = kv::CacheLayout::create(D, P, bits, kept);
      REQUIRE(layout);
      kc::Problem p;
      p.kvHeads = kvHeads;
      p.numNew = length;
      p.k = {kvHeads * length * D, length * D, D};
      p.v = p.k;
      p.maxPages = maxPages;
      p.blockTableStride = maxPages;
      p.numPages = maxPages;
      auto fresh = [&] {
        return std::make_pair(std::vector<uint8_t>(size_t(maxPages * layout->pageBytes()), 0),
                              std::vector<uint8_t>(size_t(layout->stagingSlotBytes()), 0));
      };
      auto [pool1, staging1] = fresh();
      int32_t status[2] = {0, 0};
      const int32_t prompt = int32_t(length);
      kc::reference(config, *layout, p, k.data(), v.data(), pool1.data(), staging1.data(),
                    table.data(), &prompt, status);
      // The same tokens appended 1, 2, 3, ... at a time.
      auto [pool2, staging2] = fresh();
      int32_t cached = 0;
      for (int64_t n = 1; cached < length; ++n) {
        const int64_t step = std::min<int64_t>(std::min<int64_t>(n, 16), length - cached);
        kc::Problem s = p;
        s.numNew = step;
        // Tokens cached .. cached + step of each head, at the strides of the prompt.
        std::vector<uint16_t> ks(size_t(kvHeads * step * D)), vs(ks.size());
        for (int64_t h = 0; h < kvHeads; ++h)
          for (int64_t t = 0; t < step; ++t)
            for (int64_t c = 0; c < D; ++c) {
              ks[size_t((h * step + t) * D + c)] = k[size_t((h * length + cached + t) * D + c)];
              vs[size_t((h * step + t) * D + c)] = v[size_t((h * length + cached + t) * D + c)];
            }
        s.k = {kvHeads * step * D, step * D, D};
        s.v = s.k;
        turbo::templates::kv_stage::reference(config, *layout, s, ks.data(), vs.data(),
                                              pool2.data(), staging2.data(), table.data(), &cached,
                                              status);
        cached += int32_t(step);
      }
      CHECK(status[0] == 0);
      CHECK(status[1] == 0);
      CHECK(pool1 == pool2);
      // The pool holds exactly the pages [sink, full - window), each where the
      // table names it; the other pages' bytes stay 0.
      const int64_t full = length / P;
      for (int64_t page = 0; page < maxPages; ++page) {
        const uint8_t *at = pool1.data() + table[size_t(page)] * layout->pageBytes();
        const bool written = std::any_of(at, at + layout->pageBytes(), [](uint8_t x) { return x; });
        CHECK(written == layout->inPool(page, full));
      }
      // Every staged token, sink and window pages and the tail, in the same rows.
      const kv::StagingLayout st = layout->staging();
      int64_t stagedTokens = 0;
      for (int64_t h = 0; h < kvHeads; ++h)
        for (int64_t page : layout->stagedPages(length))
          for (int64_t t = page * P; t < std::min(length, page * P + P); ++t) {
            const int64_t r = layout->stagingRow(t);
            const uint8_t *a = staging1.data() + h * st.bytes, *b = staging2.data() + h * st.bytes;
            const int64_t row = D * st.codeBytes;
            REQUIRE(std::equal(a + st.kCodes + r * row, a + st.kCodes + (r + 1) * row,
                               b + st.kCodes + r * row));
            REQUIRE(std::equal(a + st.vCodes + r * row, a + st.vCodes + (r + 1) * row,
                               b + st.vCodes + r * row));
            REQUIRE(std::equal(a + st.kScale + r * 4, a + st.kScale + r * 4 + 4,
                               b + st.kScale + r * 4));
            REQUIRE(std::equal(a + st.vScale + r * 4, a + st.vScale + r * 4 + 4,
                               b + st.vScale + r * 4));
            float scale;
            std::memcpy(&scale, a + st.kScale + r * 4, 4);
            REQUIRE(scale > 0.0f); // written, not the slot's zeros
            ++stagedTokens;
          }
      CHECK(stagedTokens == kvHeads * (length - P * (layout->poolEnd(full) - kept.sink)));
    }
  }
}

TEST_CASE("fuzz: decode and cache-write launch checks never pass an unsafe launch",
          "[kvcache][fuzz]") {
  // Shapes, strides and pool sizes from the ordinary to the absurd (the C
  // API passes them through). A launch the checks accept must keep every
  // offset the kernels compute in 32 bits within range, a grid within
  // CUDA's limits, and a workspace size computed without overflow.
  namespace kc = turbo::templates::kv_compress;
  std::mt19937_64 rng(2026);
  const int64_t edges[] = {-1, 0, 1, 2, 7, 8, 16, 63, 64, 65, 1000, 65535, 65536,
                           int64_t(1) << 31, (int64_t(1) << 31) - 1, int64_t(1) << 40,
                           std::numeric_limits<int64_t>::max()};
  auto pick = [&](int64_t ordinary) -> int64_t {
    return rng() % 3 == 0 ? edges[rng() % std::size(edges)] : int64_t(rng() % uint64_t(ordinary));
  };
  const auto times = turbo::tests::saturatingProduct;
  auto layout = kv::CacheLayout::create(128, 64, {4, 2, 4, 2});
  REQUIRE(layout);
  ad::Config decode;
  decode.maxQuery = 4;
  kc::Config write;
  write.kvBits = turbo::KvBits::Mixed;
  constexpr long double int32Max = std::numeric_limits<int32_t>::max();
  int runs = 20000, acceptedDecode = 0, acceptedWrite = 0;
  if (const char *given = std::getenv("TURBO_FUZZ_ITERATIONS"))
    runs = std::max(1, std::atoi(given));
  for (int i = 0; i < runs; ++i) {
    ad::Problem p;
    p.batch = pick(300);
    p.kvHeads = rng() % 4 ? 4 : pick(9);
    p.numQuery = pick(6);
    const int64_t tokens = rng() % 2 ? p.numQuery : pick(8);
    p.q = {times(pick(1 << 20), 8), rng() % 2 ? times(tokens, 128) : times(pick(4096), 8),
           rng() % 2 ? 128 : times(pick(512), 8)};
    p.o = p.q;
    p.maxPages = pick(600);
    p.blockTableStride = rng() % 2 ? p.maxPages : pick(1200);
    p.numPages = pick(100000);
    p.splits = pick(40);
    ad::Buffers b{0x10000, 0x20000, 0x40000000, 0x30000, 0x50000, 0x60000, 0x70000, 0x80000,
                  0, 0x90000};
    b.workspaceBytes = ad::workspaceBytes(decode, p);
    auto launched = ad::launches(decode, *layout, p, b);
    if (!launched) {
      REQUIRE_FALSE(launched.status().message().empty());
    } else {
      ++acceptedDecode;
      INFO("decode batch " << p.batch << " pages " << p.maxPages << " stride "
                           << p.blockTableStride << " splits " << p.splits);
      REQUIRE((long double)p.batch * p.blockTableStride + p.maxPages <= int32Max);
      REQUIRE((long double)(p.maxPages + 1) * decode.pageSize <= int32Max);
      REQUIRE((long double)p.batch * p.q.batch <= (long double)(int64_t(1) << 48));
      REQUIRE(ad::pagesPerSplit(decode, p) >= 1);
      const long double partials = (long double)p.batch * p.kvHeads * p.splits *
                                   ad::blockRows(decode) * (decode.headDim + 1) * 4;
      REQUIRE((long double)b.workspaceBytes >= (p.splits > 1 ? partials : 0.0L));
      for (const auto &launch : *launched) {
        REQUIRE(launch.grid[0] >= 1);
        REQUIRE(launch.grid[1] >= 1);
        REQUIRE(launch.grid[1] <= 65535u);
        REQUIRE(launch.grid[2] >= 1);
        REQUIRE(launch.grid[2] <= 65535u);
      }
    }
    kc::Problem w;
    w.batch = p.batch;
    w.kvHeads = p.kvHeads;
    w.numNew = rng() % 2 ? pick(20) : pick(100000);
    w.k = {times(pick(1 << 24), 8), rng() % 2 ? times(w.numNew, 128) : times(pick(1 << 16), 8),
           rng() % 2 ? 128 : times(pick(512), 8)};
    w.v = w.k;
    w.maxPages = p.maxPages;
    w.blockTableStride = p.blockTableStride;
    w.numPages = p.numPages;
    kc::Buffers wb{0x10000, 0x20000, 0x40000000, 0x30000, 0x50000, 0x60000, 0x70000, 0x80000};
    for (kc::Source source : {kc::Source::Tokens, kc::Source::Staging}) {
      write.source = source;
      auto written = kc::launches(write, *layout, w, wb);
      if (!written) {
        REQUIRE_FALSE(written.status().message().empty());
        continue;
      }
      ++acceptedWrite;
      INFO("write batch " << w.batch << " new " << w.numNew << " row " << w.k.row);
      REQUIRE((long double)(w.numNew + write.pageSize) * w.k.row <= int32Max);
      REQUIRE((long double)w.batch * w.blockTableStride + w.maxPages <= int32Max);
      REQUIRE((*written)[0].grid[2] <= 65535u);
      REQUIRE((*written)[0].grid[1] <= 65535u);
    }
  }
  REQUIRE(acceptedDecode > 0);
  REQUIRE(acceptedWrite > 0);
}

TEST_CASE("attention_decode keys_in_m: query rows pad to 8 in the tiles, 16 in the workspace",
          "[kvcache][decode]") {
  using turbo::templates::AttentionDecode;
  ad::Config config;
  config.keysInM = 1;
  config.group = 1;
  CHECK(ad::tileRows(config) == 8);
  CHECK(ad::blockRows(config) == 16);
  config.group = 4;
  config.maxQuery = 3;
  CHECK(ad::tileRows(config) == 16);
  // decode_reduce reads the workspace as the default orientation writes it.
  CHECK(ad::reduceConfig(config).blockRows == ad::blockRows(config));
  config.keysInM = 0;
  config.group = 1;
  config.maxQuery = 1;
  CHECK(ad::tileRows(config) == 16);
  // Each warp takes 16 of a page's keys.
  config.keysInM = 1;
  CHECK(AttentionDecode::validate(config).isOk());
  config.pageSize = 32;
  const turbo::Status refused = AttentionDecode::validate(config);
  CHECK_FALSE(refused.isOk());
  CHECK_THAT(refused.message(), Catch::Contains("page_size (32) must be at least 16 x num_warps (4)"));
  config.pageSize = 128;
  config.numWarps = 8;
  CHECK(AttentionDecode::validate(config).isOk());
}
