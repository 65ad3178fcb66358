//===- DecodeInputs.cpp - caches built on the host, error measures --------===//
#include "attention_decode/DecodeInputs.h"
#include "turbo/Support/Numerics.h"
#include "turbo/Support/ParallelFor.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace turbo::templates::attention_decode {
namespace {

float roundTo(float x, bool bf16) {
  return bf16 ? numerics::bfloatToFloat(numerics::floatToBFloat(x)) : numerics::roundToHalf(x);
}
uint16_t bitsOf(float x, bool bf16) {
  return bf16 ? numerics::floatToBFloat(x) : numerics::floatToHalf(x);
}

/// Attention of one row over keys [0, visible) of k, v (length x D); a key
/// whose first value is NaN stands for one that was left out.
void attendRow(const std::vector<double> &q, const std::vector<float> &k,
               const std::vector<float> &v, int64_t visible, int64_t D, double scale,
               double *out) {
  std::vector<double> s(size_t(std::max<int64_t>(visible, 0)));
  double top = -INFINITY;
  for (int64_t j = 0; j < visible; ++j) {
    if (std::isnan(k[size_t(j * D)])) {
      s[size_t(j)] = -INFINITY;
      continue;
    }
    double dot = 0.0;
    for (int64_t c = 0; c < D; ++c)
      dot += q[size_t(c)] * double(k[size_t(j * D + c)]);
    s[size_t(j)] = dot * scale;
    top = std::max(top, s[size_t(j)]);
  }
  double sum = 0.0;
  std::fill(out, out + D, 0.0);
  for (int64_t j = 0; j < visible && top > -INFINITY; ++j) {
    if (s[size_t(j)] == -INFINITY)
      continue;
    const double p = std::exp(s[size_t(j)] - top);
    sum += p;
    for (int64_t c = 0; c < D; ++c)
      out[c] += p * double(v[size_t(j * D + c)]);
  }
  for (int64_t c = 0; c < D; ++c)
    out[c] = sum > 0.0 ? out[c] / sum : 0.0;
}

/// Every row of the output, attending over per-(sequence, head) K/V.
template <class KV>
std::vector<double> attendAll(const Config &config, const DecodeInputs &in, KV &&kvOf) {
  const Problem &p = in.problem;
  const int64_t D = config.headDim, G = config.group, n = p.numQuery;
  const bool bf16 = config.dtype == DType::BF16;
  const double scale = p.softmaxScale > 0 ? p.softmaxScale : 1.0 / std::sqrt(double(D));
  std::vector<double> out(size_t(p.batch * p.kvHeads * G * n * D), 0.0);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.kvHeads; ++h) {
      std::vector<float> k, v;
      kvOf(b, h, k, v);
      // A length past the values (a test's damaged one) is cut to them,
      // as the kernel cuts it to the block table.
      const int64_t length =
          std::clamp<int64_t>(in.seqLens[size_t(b)], 0, int64_t(k.size()) / D);
      for (int64_t g = 0; g < G; ++g)
        for (int64_t t = 0; t < n; ++t) {
          std::vector<double> q(static_cast<size_t>(D));
          const int64_t head = h * G + g;
          for (int64_t c = 0; c < D; ++c) {
            const uint16_t bits = in.q[size_t(b * p.q.batch + head * p.q.head + t * p.q.token + c)];
            q[size_t(c)] = bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
          }
          attendRow(q, k, v, length - n + t + 1, D, scale,
                    &out[size_t(b * p.o.batch + head * p.o.head + t * p.o.token)]);
        }
    }
  return out;
}
/// Tokens [page * P, page * P + rows) of (b, h), staged; a page of the
/// pool (id >= 0) compressed into it, any other into b's staging slot.
void writeTokens(DecodeInputs &in, int64_t b, int64_t h, int64_t page, int64_t rows,
                 int32_t id) {
  const int64_t P = in.layout.pageSize(), D = in.layout.headDim();
  const std::vector<float> &k = in.k[size_t(b * in.problem.kvHeads + h)];
  const std::vector<float> &v = in.v[size_t(b * in.problem.kvHeads + h)];
  const kv::StagingLayout st = in.layout.staging();
  if (id >= 0) { // staged as a slot's rows 0 .. P, then compressed
    std::vector<uint8_t> scratch(static_cast<size_t>(st.bytes));
    for (int64_t t = 0; t < rows; ++t)
      kv::stageToken(in.layout, scratch.data(), t, &k[size_t((page * P + t) * D)],
                     &v[size_t((page * P + t) * D)]);
    kv::compressStagedPage(in.layout, in.layout.bitsOf(h), scratch.data(), 0,
                           in.pool.data() + id * in.layout.pageBytes() + in.layout.headOffset(h));
    return;
  }
  uint8_t *slot = in.staging.data() + b * in.layout.stagingSlotBytes() + h * st.bytes;
  for (int64_t t = 0; t < rows; ++t)
    kv::stageToken(in.layout, slot, in.layout.stagingRow(page * P + t),
                   &k[size_t((page * P + t) * D)], &v[size_t((page * P + t) * D)]);
}
} // namespace

DecodeInputs makeDecodeInputs(const Config &config, const std::vector<int> &bits,
                              const DecodeShape &shape, const std::string &kind,
                              std::mt19937 &rng) {
  const int64_t D = config.headDim, P = config.pageSize, G = config.group;
  const bool bf16 = config.dtype == DType::BF16;
  DecodeInputs in{*kv::CacheLayout::create(D, P, bits, shape.kept), {}, {}, {}, {}, {}, {}, {}, {}};
  Problem &p = in.problem;
  p.batch = shape.batch;
  p.kvHeads = shape.kvHeads;
  p.numQuery = shape.numQuery;
  const int64_t qHeads = shape.kvHeads * G;
  p.q = {qHeads * shape.numQuery * D, shape.numQuery * D, D};
  p.o = p.q;
  int64_t longest = 0;
  for (int64_t length : shape.lengths)
    longest = std::max(longest, length);
  p.maxPages = shape.maxPages > 0 ? shape.maxPages : std::max<int64_t>(longest / P, 1);
  p.blockTableStride = p.maxPages + 1;

  std::normal_distribution<float> normal;
  // q : every query shares a direction u; a sink key lies along it.
  std::vector<float> u(static_cast<size_t>(D));
  for (float &x : u)
    x = normal(rng);
  const float norm = std::sqrt(std::inner_product(u.begin(), u.end(), u.begin(), 0.0f));
  for (float &x : u)
    x /= norm;
  in.q.resize(size_t(p.batch * qHeads * shape.numQuery * D));
  for (size_t i = 0; i < in.q.size(); ++i) {
    const float shared = kind == "sink" ? 2.0f * u[i % size_t(D)] * std::sqrt(float(D)) : 0.0f;
    in.q[i] = bitsOf(normal(rng) + shared, bf16);
  }
  // K, V of sequence b, head h
  in.k.resize(size_t(p.batch * p.kvHeads));
  in.v.resize(size_t(p.batch * p.kvHeads));
  uint64_t state = rng() | 1;
  auto fast = [&]() { // xorshift64*, uniform with unit variance
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    const double u = double((state * 2685821657736338717ull) >> 11) * 0x1p-53;
    return float((u - 0.5) * 3.4641016151377544);
  };
  auto draw = [&]() { return shape.benchmark ? fast() : normal(rng); };
  auto makeValues = [&](int64_t b, int64_t h) {
      const int64_t length = shape.lengths[size_t(b)];
      std::vector<float> &k = in.k[size_t(b * p.kvHeads + h)];
      std::vector<float> &v = in.v[size_t(b * p.kvHeads + h)];
      k.resize(size_t(length * D));
      v.resize(size_t(length * D));
      const float small = kind == "unequal" && h % 2 ? 0.1f : 1.0f;
      for (int64_t t = 0; t < length; ++t)
        for (int64_t c = 0; c < D; ++c) {
          float kx = draw() * small, vx = draw() * small;
          if (kind == "outliers" && c % (D / 4) == 3)
            kx = kx * 8.0f + 12.0f;
          k[size_t(t * D + c)] = kx;
          v[size_t(t * D + c)] = vx;
        }
      if (kind == "sink" && length > 0) {
        // q . k0 / sqrt(D) ~ 2 sqrt(D) * 5 / sqrt(D) = 10 above the rest
        for (int64_t c = 0; c < D; ++c) {
          k[size_t(c)] = 5.0f * u[size_t(c)] + 0.1f * k[size_t(c)];
          v[size_t(c)] /= 20.0f;
        }
      }
      if (shape.sharedFirstPage && !shape.benchmark && b == 1 && length >= P &&
          int64_t(in.k[size_t(h)].size()) >= P * D) // sequence 0's first page
        for (int64_t i = 0; i < P * D; ++i) {
          k[size_t(i)] = in.k[size_t(h)][size_t(i)];
          v[size_t(i)] = in.v[size_t(h)][size_t(i)];
        }
      for (float &x : k)
        x = roundTo(x, bf16);
      for (float &x : v)
        x = roundTo(x, bf16);
  };

  // Pages: shuffled ids; sequence 1 may share sequence 0's first page.
  std::vector<int64_t> fullPages(static_cast<size_t>(p.batch));
  int64_t used = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    fullPages[size_t(b)] = std::min(shape.lengths[size_t(b)] / P, p.maxPages);
    used += fullPages[size_t(b)] - in.layout.kept().sink;
    used += in.layout.poolEnd(fullPages[size_t(b)]) - fullPages[size_t(b)];
  }
  // At least one page: a kernel reads page 0 in place of a bad entry, so
  // the API refuses an empty pool (a batch with no full page has one).
  p.numPages = std::max<int64_t>(used + shape.sparePages, 1);
  std::vector<int32_t> ids(static_cast<size_t>(p.numPages));
  std::iota(ids.begin(), ids.end(), 0);
  // The page order and the junk draw from an engine of their own, so that
  // the values drawn after them do not depend on the pool's size (the same
  // seed gives the same K/V with any kept pages).
  std::mt19937 pageRng{static_cast<uint32_t>(rng())};
  std::shuffle(ids.begin(), ids.end(), pageRng);
  in.pool.resize(size_t(p.numPages * in.layout.pageBytes()));
  if (!shape.benchmark)
    for (uint8_t &x : in.pool)
      x = uint8_t(pageRng()); // pages no one writes hold junk
  in.blockTable.assign(size_t(p.batch * p.blockTableStride), -1);
  in.staging.resize(size_t(p.batch * in.layout.stagingSlotBytes()));
  for (uint8_t &x : in.staging)
    x = 0xff; // unused staging rows: scales NaN, which the kernel must not let through
  in.seqLens.resize(size_t(p.batch));
  size_t next = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.kvHeads; ++h)
      makeValues(b, h);
    const int64_t length = std::min(shape.lengths[size_t(b)], p.maxPages * P + P - 1);
    in.seqLens[size_t(b)] = int32_t(length);
    // Block-table columns of staged pages stay -1: decode must not read them.
    const int64_t sink = in.layout.kept().sink, pages = length / P + 1;
    std::vector<int32_t> pageIds(static_cast<size_t>(pages), -1);
    for (int64_t page = 0; page < pages; ++page)
      if (in.layout.inPool(page, length / P)) {
        const bool shared = shape.sharedFirstPage && !shape.benchmark && b == 1 &&
                            page == sink && in.layout.inPool(sink, fullPages[0]);
        pageIds[size_t(page)] = shared ? in.blockTable[size_t(sink)] : ids[next++];
        in.blockTable[size_t(b * p.blockTableStride + page)] = pageIds[size_t(page)];
      }
    // Each (page, head) writes its own segment or staging rows.
    parallelFor(pages * p.kvHeads, [&](int64_t i) {
      const int64_t page = i / p.kvHeads, h = i % p.kvHeads;
      const bool full = page < length / P;
      writeTokens(in, b, h, page, full ? P : length - page * P, pageIds[size_t(page)]);
    });
    if (shape.benchmark)
      for (int64_t h = 0; h < p.kvHeads; ++h) {
        std::vector<float>().swap(in.k[size_t(b * p.kvHeads + h)]);
        std::vector<float>().swap(in.v[size_t(b * p.kvHeads + h)]);
      }
  }
  return in;
}

std::vector<double> exactDecode(const Config &config, const DecodeInputs &in) {
  return attendAll(config, in, [&](int64_t b, int64_t h, std::vector<float> &k,
                                   std::vector<float> &v) {
    k = in.k[size_t(b * in.problem.kvHeads + h)];
    v = in.v[size_t(b * in.problem.kvHeads + h)];
  });
}

std::vector<double> cachedDecode(const Config &config, const DecodeInputs &in) {
  const int64_t D = config.headDim, P = config.pageSize;
  const bool bf16 = config.dtype == DType::BF16;
  const Problem &p = in.problem;
  const kv::StagingLayout st = in.layout.staging();
  return attendAll(config, in, [&](int64_t b, int64_t h, std::vector<float> &k,
                                   std::vector<float> &v) {
    const int64_t length = std::clamp<int64_t>(in.seqLens[size_t(b)], 0,
                                               p.maxPages * P + P - 1),
                  full = length / P;
    std::vector<float> kp(static_cast<size_t>(P * D)), vp(static_cast<size_t>(P * D));
    k.clear();
    v.clear();
    const uint8_t *slot = in.staging.data() + b * in.layout.stagingSlotBytes() + h * st.bytes;
    auto staged = [&](int64_t t) { // the token at position t from the slot
      const int64_t r = in.layout.stagingRow(t);
      for (int64_t c = 0; c < D; ++c) {
        k.push_back(roundTo(kv::stagedValue(in.layout, slot, true, r, c), bf16));
        v.push_back(roundTo(kv::stagedValue(in.layout, slot, false, r, c), bf16));
      }
    };
    for (int64_t page = 0; page < full; ++page) {
      if (!in.layout.inPool(page, full)) {
        for (int64_t t = page * P; t < page * P + P; ++t)
          staged(t);
        continue;
      }
      const int32_t id = in.blockTable[size_t(b * p.blockTableStride + page)];
      if (id < 0 || id >= p.numPages) { // left out: keys no row can see
        k.insert(k.end(), size_t(P * D), NAN);
        v.insert(v.end(), size_t(P * D), 0.0f);
        continue;
      }
      kv::decompressPage(in.layout, in.layout.bitsOf(h),
                         in.pool.data() + id * in.layout.pageBytes() + in.layout.headOffset(h),
                         kp.data(), vp.data(), bf16);
      k.insert(k.end(), kp.begin(), kp.end());
      v.insert(v.end(), vp.begin(), vp.end());
    }
    for (int64_t t = full * P; t < length; ++t)
      staged(t);
  });
}

std::vector<double> peerDecode(const Config &config, const DecodeInputs &in) {
  const int64_t D = config.headDim, P = config.pageSize;
  return attendAll(config, in, [&](int64_t b, int64_t h, std::vector<float> &k,
                                   std::vector<float> &v) {
    k = in.k[size_t(b * in.problem.kvHeads + h)];
    v = in.v[size_t(b * in.problem.kvHeads + h)];
    const int bits = in.layout.bitsOf(h);
    const int64_t full = int64_t(k.size()) / D / P;
    for (int64_t page = 0; page < full; ++page) {
      if (!in.layout.inPool(page, full))
        continue; // the pages turbo keeps unquantized stay f16 here too
      float *kp = &k[size_t(page * P * D)], *vp = &v[size_t(page * P * D)];
      for (int64_t c = 0; c < D; ++c) { // K per channel
        const kv::AsymmetricGroup g = kv::fitGroup(kp + c, P, D, bits);
        for (int64_t t = 0; t < P; ++t)
          kp[t * D + c] = g.value(g.code(kp[t * D + c], bits));
      }
      for (int64_t t = 0; t < P; ++t) { // V per token
        const kv::AsymmetricGroup g = kv::fitGroup(vp + t * D, D, 1, bits);
        for (int64_t c = 0; c < D; ++c)
          vp[t * D + c] = g.value(g.code(vp[t * D + c], bits));
      }
    }
    // the newest tokens stay as they are (f16 residual)
  });
}

double relativeL2(const std::vector<double> &result, const std::vector<double> &reference) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < result.size(); ++i) {
    err += (result[i] - reference[i]) * (result[i] - reference[i]);
    ref += reference[i] * reference[i];
  }
  return ref > 0.0 ? std::sqrt(err / ref) : std::sqrt(err);
}

std::vector<double> toDoubles(const std::vector<uint16_t> &bits, DType dtype) {
  std::vector<double> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    out[i] = dtype == DType::BF16 ? numerics::bfloatToFloat(bits[i])
                                  : numerics::halfToFloat(bits[i]);
  return out;
}

} // namespace turbo::templates::attention_decode
