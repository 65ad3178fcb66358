//===- ParetoChart.h - a tuning run's time against error as SVG -*- C++ -*-===//
//
// One dot per measured configuration (time on x, error against float64 on
// a log scale on y), the Pareto front joined by a line, the accuracy
// budget as a dashed line, the defaults and the tuned point named. Plain
// SVG, readable in any browser, no plotting library needed.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_PARETOCHART_H
#define TURBO_RUNTIME_PARETOCHART_H

#include "TrialSelection.h"

#include <optional>
#include <string>
#include <vector>

namespace turbo::runtime {

struct ChartMarks {
  std::string title;
  double maxRelativeError = 0;   ///< the budget line (0: none)
  std::optional<size_t> defaults; ///< index of the defaults' trial
  std::optional<size_t> tuned;    ///< index of the tuned trial
};

/// The chart of `trials` that ran and were verified; errors below 1e-6
/// (including configurations whose error was not measured, 0) are drawn at
/// 1e-6.
std::string paretoChartSvg(const std::vector<Trial> &trials, const ChartMarks &marks);

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_PARETOCHART_H
