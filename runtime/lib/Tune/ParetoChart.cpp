//===- ParetoChart.cpp - a tuning run's time against error as SVG ---------===//
#include "ParetoChart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace turbo::runtime {

namespace {
constexpr double kWidth = 720, kHeight = 480;
constexpr double kLeft = 80, kRight = 30, kTop = 50, kBottom = 60;
constexpr double kFloor = 1e-6;

/// Text safe inside an SVG element.
std::string escaped(const std::string &text) {
  std::string out;
  for (char c : text)
    out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;"
                                                                               : std::string(1, c);
  return out;
}
} // namespace

std::string paretoChartSvg(const std::vector<Trial> &trials, const ChartMarks &marks) {
  std::vector<size_t> shown;
  for (size_t i = 0; i < trials.size(); ++i)
    if (trials[i].ran && trials[i].verified && std::isfinite(trials[i].microseconds))
      shown.push_back(i);
  auto logError = [&](size_t i) {
    const double e = trials[i].relativeError;
    return std::log10(std::isfinite(e) ? std::max(e, kFloor) : 1.0);
  };
  double tLow = 0, tHigh = 1, eLow = std::log10(kFloor), eHigh = 0;
  if (!shown.empty()) {
    tLow = tHigh = trials[shown[0]].microseconds;
    eLow = eHigh = logError(shown[0]);
  }
  for (size_t i : shown) {
    tLow = std::min(tLow, trials[i].microseconds);
    tHigh = std::max(tHigh, trials[i].microseconds);
    eLow = std::min(eLow, logError(i));
    eHigh = std::max(eHigh, logError(i));
  }
  if (marks.maxRelativeError > 0) {
    eLow = std::min(eLow, std::log10(marks.maxRelativeError));
    eHigh = std::max(eHigh, std::log10(marks.maxRelativeError));
  }
  // Margins so no dot sits on an axis; whole decades on y.
  const double tPad = std::max(0.05 * (tHigh - tLow), 0.01 * tHigh + 1e-9);
  tLow = std::max(0.0, tLow - tPad);
  tHigh += tPad;
  eLow = std::floor(eLow);
  eHigh = std::max(std::ceil(eHigh), eLow + 1);
  auto x = [&](double us) {
    return kLeft + (us - tLow) / (tHigh - tLow) * (kWidth - kLeft - kRight);
  };
  auto y = [&](double logE) {
    return kHeight - kBottom - (logE - eLow) / (eHigh - eLow) * (kHeight - kTop - kBottom);
  };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"15\">{3}</text>\n",
      kWidth, kHeight, kLeft, escaped(marks.title));
  // Axes, ticks and labels.
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n"
                     "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" stroke=\"black\"/>\n",
                     kLeft, kHeight - kBottom, kWidth - kRight, kTop);
  for (int tick = 0; tick <= 5; ++tick) {
    const double us = tLow + (tHigh - tLow) * tick / 5;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.1f}</text>\n",
                       x(us), kHeight - kBottom + 18, us);
  }
  for (double decade = eLow; decade <= eHigh; decade += 1)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">1e{}</text>\n",
                       kLeft - 6, y(decade) + 4, int(decade));
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">median time "
                     "(us)</text>\n",
                     (kLeft + kWidth - kRight) / 2, kHeight - 18);
  svg += fmt::format("<text x=\"18\" y=\"{:.1f}\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 18 {:.1f})\">relative L2 error against float64"
                     "</text>\n",
                     (kTop + kHeight - kBottom) / 2, (kTop + kHeight - kBottom) / 2);
  if (marks.maxRelativeError > 0) {
    const double budget = y(std::log10(marks.maxRelativeError));
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                       "stroke=\"#c00\" stroke-dasharray=\"6 4\"/>\n"
                       "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#c00\" text-anchor=\"end\">"
                       "budget {:.0e}</text>\n",
                       kLeft, budget, kWidth - kRight, budget, kWidth - kRight - 4, budget - 5,
                       marks.maxRelativeError);
  }
  // The front, fastest first, as a line under the dots.
  const std::vector<size_t> front = paretoFront(trials);
  if (front.size() > 1) {
    std::string path;
    for (size_t i : front)
      path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", x(trials[i].microseconds),
                          y(logError(i)));
    svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#1565c0\"/>\n", path);
  }
  for (size_t i : shown) {
    const bool onFront = std::find(front.begin(), front.end(), i) != front.end();
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\">"
                       "<title>{}: {:.1f} us, {:.2e}</title></circle>\n",
                       x(trials[i].microseconds), y(logError(i)),
                       onFront ? "#1565c0" : "#9e9e9e", escaped(trials[i].config),
                       trials[i].microseconds, trials[i].relativeError);
  }
  auto label = [&](std::optional<size_t> which, const char *name, double above) {
    if (!which || *which >= trials.size() ||
        std::find(shown.begin(), shown.end(), *which) == shown.end())
      return;
    svg += fmt::format("<circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"7\" fill=\"none\" "
                       "stroke=\"black\"/>\n<text x=\"{0:.1f}\" y=\"{2:.1f}\" "
                       "text-anchor=\"middle\">{3}</text>\n",
                       x(trials[*which].microseconds), y(logError(*which)),
                       y(logError(*which)) - above, name);
  };
  label(marks.defaults, "defaults", 11);
  label(marks.tuned, "tuned", -20); // below the dot: the two may coincide
  svg += "</svg>\n";
  return svg;
}

} // namespace turbo::runtime
