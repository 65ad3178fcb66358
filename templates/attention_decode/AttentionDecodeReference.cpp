//===- AttentionDecodeReference.cpp - attention_decode on the CPU ---------===//
//
// The kernel's steps (AttentionDecodeKernel.cpp) in one split: the same
// dequantized K and V, masks, SAS exponentials and power-of-two rescales;
// the dot products add in float64 (the MMAs add in f32 in their own order).
//
//===----------------------------------------------------------------------===//
#include "attention_decode/AttentionDecode.h"
#include "turbo/Support/Numerics.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

namespace turbo::templates::attention_decode {
namespace {

struct Row {
  float m = -INFINITY, l = 0.0f;
  std::vector<float> acc;
};

float toDtype(float x, bool bf16) {
  return bf16 ? numerics::bfloatToFloat(numerics::floatToBFloat(x)) : numerics::roundToHalf(x);
}

/// One block of keys (k, v: P x D values as the kernel's MMAs see them) for
/// one row: keys [0, valid) that are <= limit - start.
void step(const Config &config, const numerics::SasParams &sas, float scaleLog2,
          const float *q, const float *k, const float *v, int64_t start, int64_t valid,
          int64_t limit, Row &row) {
  const int64_t P = config.pageSize, D = config.headDim;
  const bool bf16 = config.dtype == DType::BF16;
  std::vector<float> x(size_t(P), -INFINITY);
  float top = -INFINITY;
  for (int64_t j = 0; j < P; ++j) {
    if (j >= valid || start + j > limit)
      continue;
    double dot = 0.0;
    for (int64_t c = 0; c < D; ++c)
      dot += double(q[c]) * double(k[j * D + c]);
    x[size_t(j)] = float(dot) * scaleLog2;
    top = std::fmax(top, x[size_t(j)]);
  }
  const float blockMax = std::ceil(top);
  const float mNew = std::fmax(row.m, blockMax);
  const float mUse = mNew == -INFINITY ? 0.0f : mNew;
  const float blockUse = blockMax > -INFINITY ? blockMax : mUse;
  const float alpha = std::exp2(std::fmax(row.m - mUse, -127.0f)); // exact: integers
  const float blockScale = std::exp2(std::fmax(blockUse - mUse, -64.0f));
  std::vector<double> pv(size_t(D), 0.0);
  float rowSum = 0.0f;
  for (int64_t j = 0; j < P; ++j) {
    const float p = numerics::sasExp(x[size_t(j)] - blockUse, sas);
    if (p == 0.0f)
      continue;
    rowSum += p;
    const float pIn = toDtype(p, bf16);
    for (int64_t c = 0; c < D; ++c)
      pv[size_t(c)] += double(pIn) * double(v[j * D + c]);
  }
  for (int64_t c = 0; c < D; ++c)
    row.acc[size_t(c)] = float(pv[size_t(c)]) * blockScale + row.acc[size_t(c)] * alpha;
  row.l = row.l * alpha + rowSum * blockScale;
  row.m = mNew;
}

} // namespace

void reference(const Config &config, const kv::CacheLayout &layout, const Problem &p,
               const uint16_t *q, uint16_t *o, const uint8_t *pool, const uint8_t *staging,
               const int32_t *blockTable, const int32_t *seqLens, int32_t *status) {
  const int64_t P = config.pageSize, D = config.headDim, n = p.numQuery, G = config.group;
  const bool bf16 = config.dtype == DType::BF16;
  auto load = [&](uint16_t bits) {
    return bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
  };
  numerics::SasParams sas;
  sas.base = numerics::ExpBase::Two;
  sas.degree = int(config.sasDegree);
  sas.threshold = int(config.sasThreshold);
  sas.coefficients = numerics::fitExpPolynomial(sas.degree, sas.base);
  const float factor = scaleLog2(config, p);
  const kv::StagingLayout st = layout.staging();
  std::vector<float> k(static_cast<size_t>(P * D)), v(static_cast<size_t>(P * D));
  // Pages that several sequences share (a prefix, or a CPU study decoding
  // every position of one sequence) are dequantized once per call, up to
  // a bound on the memory kept.
  std::unordered_map<int64_t, std::vector<float>> dequantized;
  size_t keptFloats = 0;
  constexpr size_t kMostFloats = size_t(64) << 20; // 256 MB

  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.kvHeads; ++h) {
      const int64_t most = p.maxPages * P + P - 1;
      const int64_t given = seqLens[b];
      if (given < 0 || given > most)
        status[1] = 1;
      const int64_t length = std::clamp<int64_t>(given, 0, most);
      const int64_t full = length / P;
      std::vector<Row> rows(static_cast<size_t>(G * n));
      for (Row &row : rows)
        row.acc.assign(size_t(D), 0.0f);
      std::vector<std::vector<float>> qs(static_cast<size_t>(G * n));
      for (int64_t g = 0; g < G; ++g)
        for (int64_t t = 0; t < n; ++t) {
          const uint16_t *src = q + b * p.q.batch + (h * G + g) * p.q.head + t * p.q.token;
          auto &dst = qs[size_t(g * n + t)];
          for (int64_t c = 0; c < D; ++c)
            dst.push_back(load(src[c]));
        }
      auto run = [&](int64_t start, int64_t valid) {
        for (int64_t g = 0; g < G; ++g)
          for (int64_t t = 0; t < n; ++t)
            step(config, sas, factor, qs[size_t(g * n + t)].data(), k.data(), v.data(), start,
                 valid, length - n + t, rows[size_t(g * n + t)]);
      };
      // The pool's pages, then the staged ones (sink pages, the window, the
      // page being filled), in the kernel's order.
      for (int64_t page = layout.kept().sink; page < layout.poolEnd(full); ++page) {
        const int32_t entry = blockTable[b * p.blockTableStride + page];
        if (entry < 0 || entry >= p.numPages) {
          status[0] = 1;
          continue; // its keys are masked: it adds nothing
        }
        const int64_t key = int64_t(entry) * p.kvHeads + h;
        auto found = dequantized.find(key);
        if (found != dequantized.end()) {
          std::copy_n(found->second.begin(), P * D, k.begin());
          std::copy_n(found->second.begin() + P * D, P * D, v.begin());
        } else {
          kv::decompressPage(layout, layout.bitsOf(h),
                             pool + entry * layout.pageBytes() + layout.headOffset(h), k.data(),
                             v.data(), bf16);
          if (keptFloats + size_t(2 * P * D) <= kMostFloats) {
            std::vector<float> both(k);
            both.insert(both.end(), v.begin(), v.end());
            dequantized.emplace(key, std::move(both));
            keptFloats += size_t(2 * P * D);
          }
        }
        run(page * P, P);
      }
      const uint8_t *slot = staging + b * layout.stagingSlotBytes() + h * st.bytes;
      for (int64_t page : layout.stagedPages(length)) {
        const int64_t row0 = layout.stagingRow(page * P);
        for (int64_t j = 0; j < P; ++j)
          for (int64_t c = 0; c < D; ++c) {
            k[size_t(j * D + c)] = toDtype(kv::stagedValue(layout, slot, true, row0 + j, c), bf16);
            v[size_t(j * D + c)] = toDtype(kv::stagedValue(layout, slot, false, row0 + j, c), bf16);
          }
        run(page * P, std::min(P, length - page * P));
      }
      for (int64_t g = 0; g < G; ++g)
        for (int64_t t = 0; t < n; ++t) {
          const Row &row = rows[size_t(g * n + t)];
          const float inverse = row.l > 0.0f ? 1.0f / row.l : 0.0f;
          uint16_t *dst = o + b * p.o.batch + (h * G + g) * p.o.head + t * p.o.token;
          for (int64_t c = 0; c < D; ++c) {
            const float value = row.acc[size_t(c)] * inverse;
            dst[c] = bf16 ? numerics::floatToBFloat(value) : numerics::floatToHalf(value);
          }
        }
    }
}

} // namespace turbo::templates::attention_decode
