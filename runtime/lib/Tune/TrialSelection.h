//===- TrialSelection.h - choosing among measured configurations -*- C++
//-*-===//
//
// What the tuner does with its measurements: a configuration is eligible
// when it ran, was verified, and its error against the float64 reference
// stays within the accuracy budget; the tuned one is the fastest eligible;
// the Pareto front is every ran configuration that no other beats in both
// time and error.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_TRIALSELECTION_H
#define TURBO_RUNTIME_TRIALSELECTION_H

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace turbo::runtime {

struct Trial {
  std::string config;       ///< the varied parameters' text
  bool ran = false;         ///< compiled, launched and timed
  bool verified = false;    ///< equal to its CPU reference
  double microseconds = 0;  ///< median
  double relativeError = 0; ///< against float64 attention
  std::string note;         ///< why it did not run, or what it measured
};

/// The fastest trial that ran, was verified and has relativeError <=
/// maxRelativeError (ties: the earlier).
std::optional<size_t> fastestEligible(const std::vector<Trial> &trials,
                                      double maxRelativeError);

/// Trials that ran and were verified and that no other such trial beats in
/// both time and error (at least as good in both, better in one), fastest
/// first.
std::vector<size_t> paretoFront(const std::vector<Trial> &trials);

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_TRIALSELECTION_H
