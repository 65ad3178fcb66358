//===- KvCalibration.cpp - bits per KV head from sample attention ---------===//
#include "turbo/Support/KvCalibration.h"
#include "turbo/Support/KvCache.h"
#include "turbo/Support/Numerics.h"
#include "turbo/Support/ParallelFor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace turbo::kv {
namespace {
/// Softmax-weighted sum of values[t] for t < count, float64, logits from
/// keys(t) . q; keys/values(t) pick which copy of token t is read.
template <typename KeyAt, typename ValueAt>
void attend(const float *q, int64_t count, int64_t headDim, double scale,
            KeyAt keyAt, ValueAt valueAt, std::vector<double> &logits,
            double *out) {
  double peak = -INFINITY;
  for (int64_t t = 0; t < count; ++t) {
    const float *key = keyAt(t);
    double dot = 0.0;
    for (int64_t c = 0; c < headDim; ++c)
      dot += double(q[c]) * double(key[c]);
    logits[size_t(t)] = dot * scale;
    peak = std::max(peak, logits[size_t(t)]);
  }
  std::fill(out, out + headDim, 0.0);
  double total = 0.0;
  for (int64_t t = 0; t < count; ++t) {
    const double weight = std::exp(logits[size_t(t)] - peak);
    total += weight;
    const float *value = valueAt(t);
    for (int64_t c = 0; c < headDim; ++c)
      out[c] += weight * double(value[c]);
  }
  for (int64_t c = 0; c < headDim; ++c)
    out[c] /= total;
}
/// The cache's values of a sample: staged tokens (codes of `Code`) as the
/// kernels read them (f16), and the full pages compressed from them.
template <typename Code>
void cacheValues(const CacheLayout &layout, int bits, const HeadSample &sample,
                 std::vector<float> &kStaged, std::vector<float> &vStaged,
                 std::vector<float> &kPaged, std::vector<float> &vPaged) {
  const int64_t T = sample.tokens, D = sample.headDim, P = layout.pageSize();
  std::vector<Code> kCodes(static_cast<size_t>(T * D)), vCodes(static_cast<size_t>(T * D));
  std::vector<float> kScale(static_cast<size_t>(T)), vScale(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    kScale[size_t(t)] = stageRow(sample.k + t * D, D, kCodes.data() + t * D);
    vScale[size_t(t)] = stageRow(sample.v + t * D, D, vCodes.data() + t * D);
    for (int64_t c = 0; c < D; ++c) {
      const size_t at = size_t(t * D + c);
      kStaged[at] = numerics::roundToHalf(stagedCodeValue(kCodes[at], kScale[size_t(t)]));
      vStaged[at] = numerics::roundToHalf(stagedCodeValue(vCodes[at], vScale[size_t(t)]));
    }
  }
  std::vector<uint8_t> segment(static_cast<size_t>(layout.segment(bits).bytes));
  for (int64_t p = 0; p < T / P; ++p) {
    const int64_t at = p * P * D;
    compressPage(layout, bits, kCodes.data() + at, kScale.data() + p * P, vCodes.data() + at,
                 vScale.data() + p * P, segment.data());
    decompressPage(layout, bits, segment.data(), kPaged.data() + at, vPaged.data() + at);
  }
}
} // namespace

Result<HeadLoss> measureHeadLoss(const HeadSample &sample, int bits,
                                 int64_t pageSize, int64_t maxQueries,
                                 KeptPages kept) {
  const int64_t T = sample.tokens, D = sample.headDim, P = pageSize;
  if (!sample.q || !sample.k || !sample.v || T < 1 || sample.groupSize < 1 ||
      maxQueries < 1)
    return Status{
        StatusCode::InvalidArgument,
        "measureHeadLoss: need queries, keys and values of one token or more"};
  auto layout = CacheLayout::create(D, P, {bits}, kept);
  if (!layout)
    return layout.status();

  // Every token as staged, then each full page as compressed from those
  // codes: what the cache holds.
  const int64_t fullPages = T / P;
  std::vector<float> kStaged(static_cast<size_t>(T * D)), vStaged(static_cast<size_t>(T * D)),
      kPaged(static_cast<size_t>(fullPages * P * D)), vPaged(static_cast<size_t>(fullPages * P * D));
  if (layout->stagingCodeBytes() == 2)
    cacheValues<int16_t>(*layout, bits, sample, kStaged, vStaged, kPaged, vPaged);
  else
    cacheValues<int8_t>(*layout, bits, sample, kStaged, vStaged, kPaged, vPaged);

  const int64_t queries = std::min(T, maxQueries);
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> logits(static_cast<size_t>(T)),
      exact(static_cast<size_t>(D)), cached(static_cast<size_t>(D));
  double error = 0.0, reference = 0.0;
  for (int64_t j = 0; j < queries; ++j) {
    // Evenly spaced positions, the last token last.
    const int64_t i =
        queries == 1 ? T - 1
                     : (T - 1) - (queries - 1 - j) * (T - 1) / (queries - 1);
    const int64_t full = (i + 1) / P; // full pages once token i is in
    auto exactKey = [&](int64_t t) { return sample.k + t * D; };
    auto exactValue = [&](int64_t t) { return sample.v + t * D; };
    auto cachedKey = [&](int64_t t) {
      return layout->inPool(t / P, full) ? kPaged.data() + t * D
                                         : kStaged.data() + t * D;
    };
    auto cachedValue = [&](int64_t t) {
      return layout->inPool(t / P, full) ? vPaged.data() + t * D
                                         : vStaged.data() + t * D;
    };
    for (int64_t g = 0; g < sample.groupSize; ++g) {
      const float *q = sample.q + (g * T + i) * D;
      attend(q, i + 1, D, scale, exactKey, exactValue, logits, exact.data());
      attend(q, i + 1, D, scale, cachedKey, cachedValue, logits, cached.data());
      for (int64_t c = 0; c < D; ++c) {
        error += (cached[size_t(c)] - exact[size_t(c)]) *
                 (cached[size_t(c)] - exact[size_t(c)]);
        reference += exact[size_t(c)] * exact[size_t(c)];
      }
    }
  }
  return HeadLoss{std::sqrt(error), std::sqrt(reference)};
}

Result<std::vector<double>> measureLayerLosses(const float *q, const float *k,
                                               const float *v, int64_t qHeads,
                                               int64_t kvHeads, int64_t tokens,
                                               int64_t headDim,
                                               int64_t pageSize,
                                               KeptPages kept, int bits) {
  if (kvHeads < 1 || qHeads % kvHeads != 0)
    return Status{
        StatusCode::InvalidArgument,
        fmt::format(
            "calibration: {} query heads do not share {} KV heads evenly",
            qHeads, kvHeads)};
  const int64_t group = qHeads / kvHeads, perHead = tokens * headDim;
  std::vector<Result<HeadLoss>> found(size_t(kvHeads), Status{});
  parallelFor(kvHeads, [&](int64_t h) {
    found[size_t(h)] =
        measureHeadLoss(HeadSample{q + h * group * perHead, k + h * perHead,
                                   v + h * perHead, group, tokens, headDim},
                        bits, pageSize, 512, kept);
  });

  double layerSquares = 0.0;
  for (const Result<HeadLoss> &loss : found) {
    if (!loss)
      return loss.status();
    layerSquares += loss->reference * loss->reference;
  }
  const double layerNorm = std::sqrt(layerSquares);
  std::vector<double> scores;
  for (const Result<HeadLoss> &loss : found)
    scores.push_back(layerNorm > 0.0 ? loss->error / layerNorm : 0.0);
  return scores;
}

namespace {
/// Mean channel range times mean channel standard deviation of x [tokens, D].
double gapTimesStd(const float *x, int64_t tokens, int64_t headDim) {
  if (tokens < 1)
    return 0.0;
  double range = 0.0, deviation = 0.0;
  for (int64_t c = 0; c < headDim; ++c) {
    double lo = INFINITY, hi = -INFINITY, sum = 0.0, squares = 0.0;
    for (int64_t t = 0; t < tokens; ++t) {
      const double value = x[t * headDim + c];
      lo = std::min(lo, value);
      hi = std::max(hi, value);
      sum += value;
      squares += value * value;
    }
    const double mean = sum / double(tokens);
    range += hi - lo;
    deviation +=
        std::sqrt(std::max(0.0, squares / double(tokens) - mean * mean));
  }
  return (range / double(headDim)) * (deviation / double(headDim));
}
} // namespace

double headPriority(const float *k, const float *v, int64_t tokens,
                    int64_t headDim) {
  return 0.5 *
         (gapTimesStd(k, tokens, headDim) + gapTimesStd(v, tokens, headDim));
}

std::vector<int> pickBits(const std::vector<double> &scores, double fraction2) {
  const size_t heads = scores.size();
  std::vector<size_t> order(heads);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  const double clamped = std::clamp(fraction2, 0.0, 1.0);
  const size_t low = size_t(std::floor(clamped * double(heads) + 1e-9));
  std::vector<int> bits(heads, 4);
  for (size_t i = 0; i < low; ++i)
    bits[order[i]] = 2;
  return bits;
}

BudgetPick pickBitsWithinBudget(const std::vector<double> &at2, const std::vector<double> &at4,
                                double maxRelErr) {
  const size_t heads = std::min(at2.size(), at4.size());
  BudgetPick pick{std::vector<int>(heads, 4), 0.0};
  double squares = 0.0;
  for (size_t h = 0; h < heads; ++h)
    squares += at4[h] * at4[h];
  std::vector<size_t> order(heads);
  std::iota(order.begin(), order.end(), size_t(0));
  auto cost = [&](size_t h) { return at2[h] * at2[h] - at4[h] * at4[h]; };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cost(a) < cost(b); });
  // Heads more accurate at 2 bits than at 4 (cost < 0, sample noise) always
  // go to 2; then the cheapest others while the layer stays within budget.
  const double budget = maxRelErr * maxRelErr;
  for (size_t h : order) {
    if (cost(h) >= 0 && !(squares + cost(h) <= budget))
      break;
    squares += cost(h);
    pick.bits[h] = 2;
  }
  pick.predicted = std::sqrt(std::max(squares, 0.0));
  return pick;
}

} // namespace turbo::kv
