//===- SearchSpace.h - what the tuner may vary in a template ----*- C++ -*-===//
//
// A template that can be tuned declares its search space next to its
// schema: `static SearchSpace searchSpace(std::string_view target, const
// Config &base)`, each axis one schema parameter and the values worth
// trying for that target and head. Axes that change the arithmetic (not
// only the speed) say so: the tuner admits such a point only within its
// accuracy budget. enumerate() expands a space over a base config and
// keeps, for each point the template's own checks refuse, the reason.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_SEARCHSPACE_H
#define TURBO_TEMPLATES_SEARCHSPACE_H

#include "turbo/Templates/Template.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace turbo::templates {

struct TuneAxis {
  std::string param;           ///< a parameter of the template's schema
  std::vector<int64_t> values; ///< the values to try
  bool numerics = false;       ///< changes the results, not only the speed
};
using SearchSpace = std::vector<TuneAxis>;

/// One point of a space: the config, the axes' values as config text
/// ("num_warps=8,prefetch=1", in the space's order), and whether the
/// template accepts it (else the reason).
template <class Config> struct SpacePoint {
  Config config;
  std::string overrides;
  Status status;
};

/// Every combination of the axes' values applied to `base`, the first axis
/// varying slowest; each checked by T's schema and validate().
template <class T>
std::vector<SpacePoint<typename T::Config>> enumerate(const typename T::Config &base,
                                                      const SearchSpace &space) {
  using Config = typename T::Config;
  std::vector<SpacePoint<Config>> points;
  std::vector<size_t> index(space.size(), 0);
  for (const TuneAxis &axis : space)
    if (axis.values.empty() || !T::schema().find(axis.param))
      return {{base, axis.param,
               Status{StatusCode::InvalidArgument,
                      std::string(T::name) + ": search space axis '" + axis.param +
                          "' is not a parameter or has no values"}}};
  for (;;) {
    SpacePoint<Config> point{base, {}, Status::ok()};
    for (size_t a = 0; a < space.size(); ++a) {
      const int64_t value = space[a].values[index[a]];
      T::schema().find(space[a].param)->set(point.config, value);
      point.overrides += (a ? "," : "") + space[a].param + "=" + std::to_string(value);
    }
    point.status = T::schema().checkValues(T::name, point.config);
    if (point.status.isOk())
      point.status = T::validate(point.config);
    points.push_back(std::move(point));
    size_t a = space.size();
    while (a > 0 && ++index[a - 1] == space[a - 1].values.size())
      index[--a] = 0;
    if (a == 0)
      return points;
  }
}

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_SEARCHSPACE_H
