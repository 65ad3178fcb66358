//===- CApiReferenceTest.cpp - the CPU reference through the C API --------===//
//
// turbo_attention_prefill_reference on host memory, without a GPU: against
// float64 attention computed here, with strided and poisoned outputs, and
// its refusals of what it cannot do.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/Numerics.h"
#include "turbo/turbo.h"

#include <catch2/catch.hpp>

#include <cmath>
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
    std::vector<double> scores(size_t(i + 1));
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
