//===- Targets.cpp - the GPU targets turbo compiles for -------------------===//
#include "turbo/Support/Targets.h"

#include <fmt/format.h>

namespace turbo {

const std::vector<std::string> &supportedTargets() {
  static const std::vector<std::string> targets = {"sm_80", "sm_86", "sm_89", "sm_90",
                                                   "sm_90a"};
  return targets;
}

std::string supportedTargetNames() {
  std::string names;
  for (const std::string &target : supportedTargets())
    names += (names.empty() ? "" : ", ") + target;
  return names;
}

bool isSupportedTarget(std::string_view target) {
  for (const std::string &t : supportedTargets())
    if (t == target)
      return true;
  return false;
}

Status checkTarget(std::string_view target) {
  if (isSupportedTarget(target))
    return Status::ok();
  return {StatusCode::InvalidArgument,
          fmt::format("target '{}' is not supported ({})", target, supportedTargetNames())};
}

bool hasWgmma(std::string_view target) { return target == "sm_90a"; }

bool hasGridDependencyControl(std::string_view target) {
  return target == "sm_90" || target == "sm_90a";
}

} // namespace turbo
