//===- TrialSelection.cpp - choosing among measured configurations --------===//
#include "TrialSelection.h"

#include <algorithm>

namespace turbo::runtime {

std::optional<size_t> fastestEligible(const std::vector<Trial> &trials,
                                      double maxRelativeError) {
  std::optional<size_t> best;
  for (size_t i = 0; i < trials.size(); ++i) {
    const Trial &t = trials[i];
    if (!t.ran || !t.verified || !(t.relativeError <= maxRelativeError))
      continue;
    if (!best || t.microseconds < trials[*best].microseconds)
      best = i;
  }
  return best;
}

std::vector<size_t> paretoFront(const std::vector<Trial> &trials) {
  auto usable = [&](size_t i) { return trials[i].ran && trials[i].verified; };
  auto dominates = [&](const Trial &a, const Trial &b) {
    return a.microseconds <= b.microseconds &&
           a.relativeError <= b.relativeError &&
           (a.microseconds < b.microseconds ||
            a.relativeError < b.relativeError);
  };
  std::vector<size_t> front;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (!usable(i))
      continue;
    bool beaten = false;
    for (size_t j = 0; j < trials.size() && !beaten; ++j)
      beaten = j != i && usable(j) && dominates(trials[j], trials[i]);
    if (!beaten)
      front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    return trials[a].microseconds < trials[b].microseconds;
  });
  return front;
}

} // namespace turbo::runtime
