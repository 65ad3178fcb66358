//===- AttentionAccuracy.cpp - inputs and error measures for accuracy ----===//
#include "turbo/Support/Numerics.h"
#include "attention_prefill/AttentionPrefill.h"

#include <cmath>
#include <random>

namespace turbo::templates::attention_prefill {


AccuracyInputs makeAccuracyInputs(const std::string &kind, int64_t headsCount, int64_t s,
                                  int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  auto half = [](float x) { return numerics::floatToHalf(x); };
  std::normal_distribution<float> normal;
  AccuracyInputs in;
  size_t n = size_t(headsCount * s * d);
  in.q.resize(n);
  in.k.resize(n);
  in.v.resize(n);
  std::vector<float> k(n);
  for (size_t i = 0; i < n; ++i) {
    k[i] = normal(rng);
    in.v[i] = half(normal(rng));
  }
  std::uniform_int_distribution<int64_t> pick(0, s - 1);
  for (int64_t h = 0; h < headsCount; ++h)
    for (int64_t i = 0; i < s; ++i)
      for (int64_t c = 0; c < d; ++c) {
        size_t at = size_t((h * s + i) * d + c);
        float q = normal(rng);
        if (kind == "outliers" && c % (d / 4) == 3) { // 4 channels
          k[at] = k[at] * 8.0f + 12.0f;
          q *= 2.0f;
        }
        in.q[at] = half(q);
      }
  if (kind == "peaked")
    for (int64_t h = 0; h < headsCount; ++h)
      for (int64_t i = 0; i < s; ++i) {
        int64_t j = pick(rng);
        for (int64_t c = 0; c < d; ++c)
          in.q[size_t((h * s + i) * d + c)] =
              half(0.5f * k[size_t((h * s + j) * d + c)] + 0.1f * normal(rng));
      }
  for (size_t i = 0; i < n; ++i)
    in.k[i] = half(k[i]);
  return in;
}

AccuracyErrors measureAccuracy(const Config &config, const AccuracyInputs &in,
                               int64_t headsCount, int64_t s, int64_t d, bool withLse) {
  Problem problem = Problem::dense(1, headsCount, headsCount, s, s, d);
  std::vector<uint16_t> out(in.q.size());
  std::vector<double> exact(in.q.size());
  std::vector<float> lse(withLse ? size_t(headsCount * s) : 0);
  reference(config, problem, in.q.data(), in.k.data(), in.v.data(), out.data(),
            withLse ? lse.data() : nullptr);
  std::vector<double> exactLse(lse.size());
  exactReference(config, problem, in.q.data(), in.k.data(), in.v.data(), exact.data(),
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

} // namespace turbo::templates::attention_prefill
