//===- CApiReferenceTest.cpp - the CPU reference through the C API --------===//
//
// turbo_attention_prefill_reference, turbo_attention_decode_reference and
// turbo_kv_write_prompt_reference
// on host memory, without a GPU: against float64 attention computed here,
// with strided and poisoned outputs, and their refusals of what they cannot
// do.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/KvCache.h"
#include "turbo/Support/Numerics.h"
#include "turbo/turbo.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using turbo::numerics::floatToHalf;
using turbo::numerics::halfToFloat;

namespace {
constexpr uint16_t kPoison = 0x7e00; // f16 NaN

uint64_t host(const void *pointer) { return reinterpret_cast<uint64_t>(pointer); }

/// GQA 4/2, head dim 64, 100 queries over 100 keys (not whole blocks); O
/// with 8 elements of padding per row, which must stay poisoned.
struct Case {
  static constexpr int64_t qHeads = 4, kvHeads = 2, seq = 100, d = 64, oRow = 72;
  std::vector<uint16_t> q, k, v, o;
  std::vector<float> lse;
  turbo_prefill_args args;

  explicit Case(unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    auto fill = [&](std::vector<uint16_t> &x, int64_t heads) {
      x.resize(size_t(heads * seq * d));
      for (uint16_t &e : x)
        e = floatToHalf(normal(rng));
    };
    fill(q, qHeads);
    fill(k, kvHeads);
    fill(v, kvHeads);
    o.assign(size_t(qHeads * seq * oRow), kPoison);
    lse.assign(size_t(qHeads * seq), NAN);
    turbo_prefill_args_init(&args);
    args.batch = 1;
    args.q_heads = qHeads;
    args.kv_heads = kvHeads;
    args.seq_q = args.seq_k = seq;
    args.q = {host(q.data()), qHeads * seq * d, seq * d, d};
    args.k = {host(k.data()), kvHeads * seq * d, seq * d, d};
    args.v = {host(v.data()), kvHeads * seq * d, seq * d, d};
    args.o = {host(o.data()), qHeads * seq * oRow, seq * oRow, oRow};
    args.lse = host(lse.data());
  }

  /// Causal float64 attention of query row i of head h: output and lse.
  double exactRow(int64_t h, int64_t i, std::vector<double> &out) const {
    const int64_t hk = h / (qHeads / kvHeads);
    std::vector<double> scores(static_cast<size_t>(i + 1));
    double max = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < d; ++c)
        dot += double(halfToFloat(q[size_t((h * seq + i) * d + c)])) *
               halfToFloat(k[size_t((hk * seq + j) * d + c)]);
      scores[size_t(j)] = dot / std::sqrt(double(d));
      max = std::max(max, scores[size_t(j)]);
    }
    out.assign(size_t(d), 0.0);
    double sum = 0;
    for (int64_t j = 0; j <= i; ++j) {
      double w = std::exp(scores[size_t(j)] - max);
      sum += w;
      for (int64_t c = 0; c < d; ++c)
        out[size_t(c)] += w * halfToFloat(v[size_t((hk * seq + j) * d + c)]);
    }
    for (double &x : out)
      x /= sum;
    return max + std::log(sum);
  }
};

turbo_head_config headConfig() {
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = Case::qHeads;
  head.kv_heads = Case::kvHeads;
  head.head_dim = Case::d;
  head.causal = 1;
  return head;
}
} // namespace

TEST_CASE("the CPU reference through the C API is close to exact attention",
          "[capi][reference]") {
  const char *config = GENERATE("write_lse=1", "write_lse=1,pv=mixed", "write_lse=1,block_n=64");
  INFO(config);
  Case c(17);
  turbo_head_config head = headConfig();
  REQUIRE(turbo_attention_prefill_reference(&head, config, &c.args) == TURBO_STATUS_OK);
  double diff = 0, norm = 0, lseError = 0;
  std::vector<double> exact;
  for (int64_t h = 0; h < Case::qHeads; ++h)
    for (int64_t i = 0; i < Case::seq; ++i) {
      double lse = c.exactRow(h, i, exact);
      lseError = std::max(lseError, std::fabs(lse - c.lse[size_t(h * Case::seq + i)]));
      const uint16_t *row = &c.o[size_t((h * Case::seq + i) * Case::oRow)];
      for (int64_t x = 0; x < Case::d; ++x) {
        double got = halfToFloat(row[x]);
        REQUIRE(std::isfinite(got));
        diff += (got - exact[size_t(x)]) * (got - exact[size_t(x)]);
        norm += exact[size_t(x)] * exact[size_t(x)];
      }
      for (int64_t x = Case::d; x < Case::oRow; ++x)
        REQUIRE(row[x] == kPoison); // the padding between rows is not written
    }
  INFO("relative L2 " << std::sqrt(diff / norm) << ", lse error " << lseError);
  // INT8 Q.K, u8 P and INT8 V: about 1.3e-2 on normal inputs (docs/accuracy.md).
  REQUIRE(std::sqrt(diff / norm) < 2.5e-2);
  REQUIRE(lseError < 0.05);
}

TEST_CASE("the CPU reference refuses what it cannot do, with a message", "[capi][reference]") {
  Case c(3);
  turbo_head_config head = headConfig();
  REQUIRE(turbo_attention_prefill_reference(&head, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("args is null") != std::string::npos);
  REQUIRE(turbo_attention_prefill_reference(&head, "block_n=7", &c.args) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_attention_prefill_reference(&head, "no_such_key=1", &c.args) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("no_such_key") != std::string::npos);

  turbo_prefill_args packed = c.args;
  int32_t offsets[2] = {0, int32_t(Case::seq)};
  packed.cu_seqlens_q = packed.cu_seqlens_k = host(offsets);
  REQUIRE(turbo_attention_prefill_reference(&head, nullptr, &packed) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("padded") != std::string::npos);

  turbo_prefill_args noQ = c.args;
  noQ.q.data = 0;
  REQUIRE(turbo_attention_prefill_reference(&head, nullptr, &noQ) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  turbo_prefill_args noLse = c.args;
  noLse.lse = 0;
  REQUIRE(turbo_attention_prefill_reference(&head, "write_lse=1", &noLse) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("lse") != std::string::npos);
  turbo_prefill_args badStride = c.args;
  badStride.o.row_stride = 60; // shorter than a row
  REQUIRE(turbo_attention_prefill_reference(&head, nullptr, &badStride) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  turbo_prefill_args badHeads = c.args;
  badHeads.kv_heads = 3;
  REQUIRE(turbo_attention_prefill_reference(&head, nullptr, &badHeads) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  // Nothing was written by the refused calls.
  for (uint16_t e : c.o)
    REQUIRE(e == kPoison);
}

TEST_CASE("turbo_attention_decode_reference on a host cache against float64", "[capi]") {
  // 2 KV heads (4 and 2 bits), group 2, head dim 64, 64-token pages; one
  // sequence of 2 pages + 10 staged tokens, its pages in the pool's reverse
  // order. Written with the cache's own page compression, read back here
  // in float64: what is left is SAS, f16 P and the order of adding.
  constexpr int64_t D = 64, P = 64, kvHeads = 2, group = 2, length = 2 * P + 10;
  const int bits[2] = {4, 2};
  turbo_kv_cache_desc desc;
  turbo_kv_cache_desc_init(&desc);
  desc.kv_heads = int(kvHeads);
  desc.head_dim = int(D);
  desc.kv_bits = bits;
  // The C API's default kept pages (a sink page): page 0 staged, page 1 in the pool.
  auto layout = turbo::kv::CacheLayout::create(D, P, {4, 2}, {desc.sink_pages, desc.window_pages});
  REQUIRE(layout);
  REQUIRE(layout->kept().sink == 1);
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  std::vector<uint8_t> pool(size_t(3 * layout->pageBytes()), 0xee),
      staging(size_t(layout->stagingSlotBytes()), 0);
  const std::vector<int32_t> table = {-1, 0, -1}; // the sink page's column is not read
  const std::vector<int32_t> lengths = {int32_t(length)};
  std::vector<float> k(size_t(kvHeads * length * D)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = turbo::numerics::roundToHalf(normal(rng));
    v[i] = turbo::numerics::roundToHalf(normal(rng));
  }
  // The cache's values as the kernel reads them, per head.
  std::vector<std::vector<float>> kc(static_cast<size_t>(kvHeads)), vc(static_cast<size_t>(kvHeads));
  const turbo::kv::StagingLayout st = layout->staging();
  for (int64_t h = 0; h < kvHeads; ++h) {
    std::vector<int8_t> k8(static_cast<size_t>(P * D)), v8(static_cast<size_t>(P * D));
    std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P)), kd(static_cast<size_t>(P * D)), vd(static_cast<size_t>(P * D));
    for (int64_t page = 0; page <= length / P; ++page) {
      const int64_t rows = page < length / P ? P : length % P;
      for (int64_t t = 0; t < rows; ++t) {
        const size_t at = size_t((h * length + page * P + t) * D);
        ks[size_t(t)] = turbo::kv::stageRow(&k[at], D, &k8[size_t(t * D)]);
        vs[size_t(t)] = turbo::kv::stageRow(&v[at], D, &v8[size_t(t * D)]);
      }
      if (layout->inPool(page, length / P)) {
        uint8_t *segment = pool.data() + table[size_t(page)] * layout->pageBytes() +
                           layout->headOffset(h);
        turbo::kv::compressPage(*layout, bits[h], k8.data(), ks.data(), v8.data(), vs.data(),
                                segment);
        turbo::kv::decompressPage(*layout, bits[h], segment, kd.data(), vd.data());
        kc[size_t(h)].insert(kc[size_t(h)].end(), kd.begin(), kd.end());
        vc[size_t(h)].insert(vc[size_t(h)].end(), vd.begin(), vd.end());
        continue;
      }
      uint8_t *slot = staging.data() + h * st.bytes;
      for (int64_t t = 0; t < rows; ++t) {
        const int64_t r = layout->stagingRow(page * P + t);
        std::memcpy(slot + st.kCodes + r * D, &k8[size_t(t * D)], size_t(D));
        std::memcpy(slot + st.vCodes + r * D, &v8[size_t(t * D)], size_t(D));
        std::memcpy(slot + st.kScale + r * 4, &ks[size_t(t)], 4);
        std::memcpy(slot + st.vScale + r * 4, &vs[size_t(t)], 4);
        for (int64_t c = 0; c < D; ++c) {
          kc[size_t(h)].push_back(turbo::numerics::roundToHalf(
              turbo::kv::stagedCodeValue(k8[size_t(t * D + c)], ks[size_t(t)])));
          vc[size_t(h)].push_back(turbo::numerics::roundToHalf(
              turbo::kv::stagedCodeValue(v8[size_t(t * D + c)], vs[size_t(t)])));
        }
      }
    }
  }
  std::vector<uint16_t> q(size_t(kvHeads * group * D)), o(q.size(), kPoison);
  for (uint16_t &x : q)
    x = floatToHalf(normal(rng));
  turbo_decode_args args;
  turbo_decode_args_init(&args);
  args.batch = 1;
  args.q = {host(q.data()), int64_t(q.size()), D, D};
  args.o = {host(o.data()), int64_t(o.size()), D, D};
  args.pool = host(pool.data());
  args.num_pages = 3;
  args.staging = host(staging.data());
  args.block_table = host(table.data());
  args.max_pages = 3;
  args.block_table_stride = 3;
  args.seq_lens = host(lengths.data());
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = int(kvHeads * group);
  head.kv_heads = int(kvHeads);
  head.head_dim = int(D);
  head.kv_bits = 0;
  int flags[2] = {-1, -1};
  REQUIRE(turbo_attention_decode_reference(&head, "", &desc, &args, flags) == TURBO_STATUS_OK);
  CHECK(flags[0] == 0);
  CHECK(flags[1] == 0);
  double err = 0, ref = 0;
  for (int64_t h = 0; h < kvHeads; ++h)
    for (int64_t g = 0; g < group; ++g) {
      const int64_t row = h * group + g;
      std::vector<double> s(static_cast<size_t>(length));
      double top = -INFINITY;
      for (int64_t j = 0; j < length; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < D; ++c)
          dot += double(halfToFloat(q[size_t(row * D + c)])) * kc[size_t(h)][size_t(j * D + c)];
        s[size_t(j)] = dot / std::sqrt(double(D));
        top = std::max(top, s[size_t(j)]);
      }
      double sum = 0;
      std::vector<double> out(size_t(D), 0.0);
      for (int64_t j = 0; j < length; ++j) {
        const double p = std::exp(s[size_t(j)] - top);
        sum += p;
        for (int64_t c = 0; c < D; ++c)
          out[size_t(c)] += p * vc[size_t(h)][size_t(j * D + c)];
      }
      for (int64_t c = 0; c < D; ++c) {
        const double want = out[size_t(c)] / sum, got = halfToFloat(o[size_t(row * D + c)]);
        REQUIRE(std::isfinite(got));
        err += (got - want) * (got - want);
        ref += want * want;
      }
    }
  CHECK(std::sqrt(err / ref) < 5e-3);

  // Refusals: a cache the kernel cannot read, a bad stride, no pool.
  const int eight[2] = {8, 8};
  desc.kv_bits = eight;
  REQUIRE(turbo_attention_decode_reference(&head, "", &desc, &args, flags) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("8 bits") != std::string::npos);
  const int eightAndTwo[2] = {8, 2}; // no cache mixes them (their staging differs)
  desc.kv_bits = eightAndTwo;
  REQUIRE(turbo_attention_decode_reference(&head, "", &desc, &args, flags) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("cannot share a cache") != std::string::npos);
  desc.kv_bits = bits;
  args.q.head_stride = 3;
  REQUIRE(turbo_attention_decode_reference(&head, "", &desc, &args, flags) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  args.q.head_stride = D;
  args.pool = 0;
  REQUIRE(turbo_attention_decode_reference(&head, "", &desc, &args, flags) ==
          TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("turbo_kv_write_prompt_reference writes what the cache's arithmetic says", "[capi]") {
  // Two prompts (150 and 40 tokens) of 2 KV heads at 4 and 2 bits, head dim
  // 64: pages from kv::compressPage of the staged tokens, the rest staged,
  // each sequence's pages where its block-table row (reversed) names them.
  constexpr int64_t D = 64, P = 64, kvHeads = 2, tokens = 150, maxPages = 2;
  const int bits[2] = {4, 2};
  const std::vector<int32_t> lengths = {150, 40};
  turbo_kv_cache_desc desc;
  turbo_kv_cache_desc_init(&desc);
  desc.kv_heads = int(kvHeads);
  desc.head_dim = int(D);
  desc.kv_bits = bits;
  // The default sink page: sequence 0's page 0 is staged, its page 1 in the pool.
  auto layout = turbo::kv::CacheLayout::create(D, P, {4, 2}, {desc.sink_pages, desc.window_pages});
  REQUIRE(layout);
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  std::vector<uint16_t> k(size_t(2 * kvHeads * tokens * D)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = floatToHalf(normal(rng) * (i % D == 3 ? 8.0f : 1.0f));
    v[i] = floatToHalf(normal(rng));
  }
  std::vector<uint8_t> pool(size_t(4 * layout->pageBytes()), 0xee),
      staging(size_t(2 * layout->stagingSlotBytes()), 0xee);
  const std::vector<int32_t> table = {1, 0, 3, 2};
  turbo_kv_write_args args;
  turbo_kv_write_args_init(&args);
  args.batch = 2;
  args.num_new = tokens;
  args.k = {host(k.data()), kvHeads * tokens * D, tokens * D, D};
  args.v = {host(v.data()), kvHeads * tokens * D, tokens * D, D};
  args.pool = host(pool.data());
  args.num_pages = 4;
  args.staging = host(staging.data());
  args.block_table = host(table.data());
  args.max_pages = maxPages;
  args.block_table_stride = maxPages;
  args.seq_lens = host(lengths.data());
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = head.kv_heads = int(kvHeads);
  head.head_dim = int(D);
  head.kv_bits = 0;
  int flags[2] = {-1, -1};
  REQUIRE(turbo_kv_write_prompt_reference(&head, "", &desc, &args, flags) == TURBO_STATUS_OK);
  CHECK(flags[0] == 0);
  const turbo::kv::StagingLayout st = layout->staging();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < kvHeads; ++h) {
      std::vector<int8_t> k8(static_cast<size_t>(P * D)), v8(static_cast<size_t>(P * D));
      std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P));
      std::vector<float> row(static_cast<size_t>(D));
      const int64_t length = lengths[size_t(b)];
      for (int64_t page = 0; page <= length / P; ++page) {
        const int64_t rows = page < length / P ? P : length % P;
        for (int64_t t = 0; t < rows; ++t) {
          const size_t at = size_t(((b * kvHeads + h) * tokens + page * P + t) * D);
          for (int64_t c = 0; c < D; ++c)
            row[size_t(c)] = halfToFloat(k[at + size_t(c)]);
          ks[size_t(t)] = turbo::kv::stageRow(row.data(), D, &k8[size_t(t * D)]);
          for (int64_t c = 0; c < D; ++c)
            row[size_t(c)] = halfToFloat(v[at + size_t(c)]);
          vs[size_t(t)] = turbo::kv::stageRow(row.data(), D, &v8[size_t(t * D)]);
        }
        INFO("sequence " << b << " head " << h << " page " << page);
        if (layout->inPool(page, length / P)) {
          std::vector<uint8_t> expected(size_t(layout->segment(bits[h]).bytes));
          turbo::kv::compressPage(*layout, bits[h], k8.data(), ks.data(), v8.data(), vs.data(),
                                  expected.data());
          const uint8_t *segment = pool.data() +
                                   table[size_t(b * maxPages + page)] * layout->pageBytes() +
                                   layout->headOffset(h);
          REQUIRE(std::equal(expected.begin(), expected.end(), segment));
          continue;
        }
        const uint8_t *slot = staging.data() + b * layout->stagingSlotBytes() + h * st.bytes;
        for (int64_t t = 0; t < rows; ++t) {
          const int64_t r = layout->stagingRow(page * P + t);
          REQUIRE(std::memcmp(slot + st.kCodes + r * D, &k8[size_t(t * D)], size_t(D)) == 0);
          REQUIRE(std::memcmp(slot + st.vCodes + r * D, &v8[size_t(t * D)], size_t(D)) == 0);
          REQUIRE(std::memcmp(slot + st.kScale + r * 4, &ks[size_t(t)], 4) == 0);
          REQUIRE(std::memcmp(slot + st.vScale + r * 4, &vs[size_t(t)], 4) == 0);
        }
      }
    }
  // Refusals: null pieces, the staging source, a pool too small.
  REQUIRE(turbo_kv_write_prompt_reference(&head, "", &desc, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  turbo_kv_write_args noPool = args;
  noPool.pool = 0;
  REQUIRE(turbo_kv_write_prompt_reference(&head, "", &desc, &noPool, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kv_write_prompt_reference(&head, "source=staging", &desc, &args, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("source=tokens") != std::string::npos);
  turbo_kv_write_args shortPool = args;
  shortPool.num_pages = 0;
  REQUIRE(turbo_kv_write_prompt_reference(&head, "", &desc, &shortPool, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
}
