//===- AttentionAccuracy.cpp - inputs and error measures for accuracy ----===//
#include "turbo/Support/Numerics.h"
#include "attention_prefill/AttentionPrefill.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

namespace turbo::templates::attention_prefill {


namespace {
/// The number after the colon of "sink:20" (`fallback` without one).
float parameterOf(const std::string &kind, float fallback) {
  size_t colon = kind.find(':');
  return colon == std::string::npos ? fallback : std::stof(kind.substr(colon + 1));
}

std::string baseOf(const std::string &kind) { return kind.substr(0, kind.find(':')); }
} // namespace

AccuracyInputs makeAccuracyInputs(const std::string &kind, int64_t headsCount, int64_t s,
                                  int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  auto half = [](float x) { return numerics::floatToHalf(x); };
  std::normal_distribution<float> normal;
  const std::string base = baseOf(kind);
  AccuracyInputs in;
  size_t n = size_t(headsCount * s * d);
  in.q.resize(n);
  in.k.resize(n);
  in.v.resize(n);
  std::vector<float> k(n), v(n);
  for (size_t i = 0; i < n; ++i) {
    k[i] = normal(rng);
    v[i] = normal(rng);
  }
  std::uniform_int_distribution<int64_t> pick(0, s - 1);
  for (int64_t h = 0; h < headsCount; ++h)
    for (int64_t i = 0; i < s; ++i)
      for (int64_t c = 0; c < d; ++c) {
        size_t at = size_t((h * s + i) * d + c);
        float q = normal(rng);
        if (base == "outliers" && c % (d / 4) == 3) { // 4 channels
          k[at] = k[at] * 8.0f + 12.0f;
          q *= 2.0f;
        }
        in.q[at] = half(q);
      }
  if (base == "peaked")
    for (int64_t h = 0; h < headsCount; ++h)
      for (int64_t i = 0; i < s; ++i) {
        int64_t j = pick(rng);
        for (int64_t c = 0; c < d; ++c)
          in.q[size_t((h * s + i) * d + c)] =
              half(0.5f * k[size_t((h * s + j) * d + c)] + 0.1f * normal(rng));
      }
  // A direction u (unit length) that every query shares: a key along it
  // draws every row's attention, as a sink (a first token) does.
  std::vector<float> u(static_cast<size_t>(d));
  auto shareDirection = [&](int64_t h, float queryWeight, float noise) {
    float norm = 0;
    for (float &x : u) {
      x = normal(rng);
      norm += x * x;
    }
    for (float &x : u)
      x /= std::sqrt(norm);
    for (int64_t i = 0; i < s; ++i)
      for (int64_t c = 0; c < d; ++c) {
        size_t at = size_t((h * s + i) * d + c);
        float q = noise < 0 ? numerics::halfToFloat(in.q[at]) : noise * normal(rng);
        in.q[at] = half(q + queryWeight * u[size_t(c)]);
      }
  };
  if (base == "sink") {
    // Key 0 about 10 nats above the rest (q . k0 / sqrt(d) = 10 on average),
    // its value vector 1/R of the others'.
    const float ratio = parameterOf(kind, 20.0f);
    for (int64_t h = 0; h < headsCount; ++h) {
      shareDirection(h, 2.0f, -1.0f);
      for (int64_t c = 0; c < d; ++c) {
        size_t at = size_t(h * s * d + c);
        k[at] = u[size_t(c)] * 10.0f * std::sqrt(float(d)) / 2.0f;
        v[at] /= ratio;
      }
    }
  } else if (base == "tail") {
    // A flat tail (keys near 0) under key 0, G nats above it; the rows are
    // causal, so early rows see the dominant key and a few tail keys only.
    in.causal = true;
    const float gap = parameterOf(kind, 6.0f);
    for (int64_t h = 0; h < headsCount; ++h) {
      shareDirection(h, 2.0f, 0.1f);
      for (int64_t j = 0; j < s; ++j)
        for (int64_t c = 0; c < d; ++c)
          k[size_t((h * s + j) * d + c)] =
              j == 0 ? u[size_t(c)] * gap * std::sqrt(float(d)) / 2.0f
                     : 0.05f * k[size_t((h * s + j) * d + c)];
    }
  } else if (base == "vout") {
    // 16 tokens per head whose value vectors are 20 times the others'.
    for (int64_t h = 0; h < headsCount; ++h)
      for (int t = 0; t < 16; ++t) {
        int64_t j = pick(rng);
        for (int64_t c = 0; c < d; ++c)
          v[size_t((h * s + j) * d + c)] *= 20.0f;
      }
  }
  for (size_t i = 0; i < n; ++i) {
    in.k[i] = half(k[i]);
    in.v[i] = half(v[i]);
  }
  return in;
}

std::string checkAccuracyKind(const std::string &kind, bool causal) {
  const std::string base = kind.substr(0, kind.find(':'));
  const bool takesNumber = base == "sink" || base == "tail";
  if (base != "normal" && base != "outliers" && base != "peaked" && base != "vout" &&
      !takesNumber)
    return fmt::format("unknown input kind '{}' (normal, outliers, peaked, sink[:R], "
                       "tail[:G], vout)",
                       kind);
  if (kind.size() != base.size()) {
    const std::string number = kind.substr(base.size() + 1);
    char *end = nullptr;
    const double value = number.empty() ? 0 : std::strtod(number.c_str(), &end);
    if (!takesNumber || number.empty() || *end || !(value > 0) || value > 1e4)
      return fmt::format("input kind '{}': only sink and tail take a number, in (0, 1e4]",
                         kind);
  }
  if (base == "tail" && !causal)
    return "input kind '" + kind + "' is measured causal: it needs --causal";
  return "";
}

AccuracyErrors measureAccuracy(const Config &config, const AccuracyInputs &in,
                               int64_t headsCount, int64_t s, int64_t d, bool withLse) {
  Config measured = config;
  measured.causal = in.causal;
  Problem problem = Problem::dense(1, headsCount, headsCount, s, s, d);
  std::vector<uint16_t> out(in.q.size());
  std::vector<double> exact(in.q.size());
  std::vector<float> lse(withLse ? size_t(headsCount * s) : 0);
  reference(measured, problem, in.q.data(), in.k.data(), in.v.data(), out.data(),
            withLse ? lse.data() : nullptr);
  std::vector<double> exactLse(lse.size());
  exactReference(measured, problem, in.q.data(), in.k.data(), in.v.data(), exact.data(),
                 withLse ? exactLse.data() : nullptr);
  double diff = 0, norm = 0, dot = 0, normOut = 0, maxAbs = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    double got = numerics::halfToFloat(out[i]);
    diff += (got - exact[i]) * (got - exact[i]);
    norm += exact[i] * exact[i];
    dot += got * exact[i];
    normOut += got * got;
    maxAbs = std::max(maxAbs, std::fabs(got - exact[i]));
  }
  AccuracyErrors errors{std::sqrt(diff / norm), dot / std::sqrt(norm * normOut), maxAbs};
  if (withLse) {
    double total = 0;
    for (size_t i = 0; i < lse.size(); ++i) {
      double error = std::fabs(double(lse[i]) - exactLse[i]);
      errors.lseMaxAbs = std::max(errors.lseMaxAbs, error);
      total += error;
    }
    errors.lseMeanAbs = total / double(lse.size());
  }
  return errors;
}

namespace {
/// Which stages of StageErrors' emulation are quantized.
struct Quantized {
  bool scores, probabilities, values;
};

/// Attention on one head in float64 with the chosen stages quantized as the
/// kernel quantizes them (see stageErrors); out is [s, d].
void emulateHead(const Config &config, const Quantized &quantized, const std::vector<double> &q,
                 const std::vector<double> &k, const std::vector<double> &v, int64_t s,
                 int64_t d, bool causal, std::vector<double> &out) {
  const double scale = 1.0 / std::sqrt(double(d));
  const int64_t BN = config.blockN;
  // Scores: INT8 Q and K per token (K minus its mean over the sequence),
  // or exact.
  std::vector<double> mean(size_t(d), 0.0);
  if (config.kSmooth)
    for (int64_t j = 0; j < s; ++j)
      for (int64_t c = 0; c < d; ++c)
        mean[size_t(c)] += k[size_t(j * d + c)] / double(s);
  auto quantizeRow = [&](const double *x, std::vector<double> &row) {
    double amax = 0;
    for (int64_t c = 0; c < d; ++c)
      amax = std::max(amax, std::fabs(x[c]));
    const numerics::SymmetricInt8 int8{float(amax)};
    for (int64_t c = 0; c < d; ++c)
      row[size_t(c)] = double(int8.code(float(x[c]))) * int8.scale;
  };
  std::vector<double> qs(q), ks(k), row(static_cast<size_t>(d)), centred(static_cast<size_t>(d));
  if (quantized.scores) {
    for (int64_t i = 0; i < s; ++i) {
      quantizeRow(&q[size_t(i * d)], row);
      std::copy(row.begin(), row.end(), qs.begin() + i * d);
      for (int64_t c = 0; c < d; ++c)
        centred[size_t(c)] = k[size_t(i * d + c)] - mean[size_t(c)];
      quantizeRow(centred.data(), row);
      std::copy(row.begin(), row.end(), ks.begin() + i * d);
    }
  }
  // V: INT8 per channel over each block of keys (pv=int8), or exact.
  // Blocks whose P and V are in 16 bits (pv=half, and mixed's first).
  auto halfBlock = [&](int64_t n0) {
    return config.pv == PvFormat::Half || (config.pv == PvFormat::Mixed && n0 == 0);
  };
  std::vector<double> vs(v);
  if (quantized.values)
    for (int64_t n0 = 0; n0 < s; n0 += BN)
      for (int64_t c = 0; c < d && !halfBlock(n0); ++c) {
        double amax = 0;
        for (int64_t j = n0; j < std::min(s, n0 + BN); ++j)
          amax = std::max(amax, std::fabs(v[size_t(j * d + c)]));
        const numerics::SymmetricInt8 int8{float(amax)};
        for (int64_t j = n0; j < std::min(s, n0 + BN); ++j)
          vs[size_t(j * d + c)] = double(int8.code(float(v[size_t(j * d + c)]))) * int8.scale;
      }
  std::vector<double> scores(static_cast<size_t>(s)), p(static_cast<size_t>(s));
  for (int64_t i = 0; i < s; ++i) {
    const int64_t visible = causal ? i + 1 : s;
    double rowMax = -INFINITY;
    for (int64_t j = 0; j < visible; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < d; ++c)
        dot += qs[size_t(i * d + c)] * ks[size_t(j * d + c)];
      scores[size_t(j)] = dot * scale;
      rowMax = std::max(rowMax, scores[size_t(j)]);
    }
    // P per block, counted from the block's max: u8 codes against the row's
    // block max (pv=int8) or f16 (pv=half), or exact.
    double sum = 0;
    for (int64_t n0 = 0; n0 < visible; n0 += BN) {
      const int64_t end = std::min(visible, n0 + BN);
      double blockMax = -INFINITY;
      for (int64_t j = n0; j < end; ++j)
        blockMax = std::max(blockMax, scores[size_t(j)]);
      const double weight = std::exp(blockMax - rowMax);
      for (int64_t j = n0; j < end; ++j) {
        double x = std::exp(scores[size_t(j)] - blockMax);
        if (quantized.probabilities)
          x = halfBlock(n0) ? double(numerics::roundToHalf(float(x)))
                            : std::nearbyint(x * 255.0) / 255.0;
        p[size_t(j)] = x * weight;
        sum += p[size_t(j)];
      }
    }
    for (int64_t c = 0; c < d; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < visible; ++j)
        acc += p[size_t(j)] * vs[size_t(j * d + c)];
      out[size_t(i * d + c)] = acc / sum;
    }
  }
}
} // namespace

StageErrors stageErrors(const Config &config, const AccuracyInputs &in, int64_t headsCount,
                        int64_t s, int64_t d) {
  auto relativeL2 = [&](const Quantized &quantized) {
    double diff = 0, norm = 0;
    std::vector<double> q(size_t(s * d)), k(q.size()), v(q.size()), exact(q.size()),
        got(q.size());
    for (int64_t h = 0; h < headsCount; ++h) {
      for (size_t i = 0; i < q.size(); ++i) {
        const size_t at = size_t(h * s * d) + i;
        q[i] = numerics::halfToFloat(in.q[at]);
        k[i] = numerics::halfToFloat(in.k[at]);
        v[i] = numerics::halfToFloat(in.v[at]);
      }
      emulateHead(config, {false, false, false}, q, k, v, s, d, in.causal, exact);
      emulateHead(config, quantized, q, k, v, s, d, in.causal, got);
      for (size_t i = 0; i < got.size(); ++i) {
        diff += (got[i] - exact[i]) * (got[i] - exact[i]);
        norm += exact[i] * exact[i];
      }
    }
    return std::sqrt(diff / norm);
  };
  return {relativeL2({true, false, false}), relativeL2({false, true, false}),
          relativeL2({false, false, true})};
}

} // namespace turbo::templates::attention_prefill
