//===- Targets.h - the GPU targets turbo compiles for ------------*- C++ -*-===//
#ifndef TURBO_SUPPORT_TARGETS_H
#define TURBO_SUPPORT_TARGETS_H

#include "turbo/Support/Status.h"

#include <string>
#include <string_view>
#include <vector>

namespace turbo {

/// sm_80, sm_86, sm_89, sm_90, sm_90a (oldest first).
const std::vector<std::string> &supportedTargets();
/// The same as text: "sm_80, sm_86, sm_89, sm_90, sm_90a".
std::string supportedTargetNames();
bool isSupportedTarget(std::string_view target);
/// Ok, or the message for a target turbo does not compile for.
Status checkTarget(std::string_view target);

/// The target of a compile that names none and has no GPU to ask (turbo-
/// compile, turbo_compile_template, turbo IR without turbo.target): Hopper.
inline constexpr const char *kDefaultTarget = "sm_90a";

/// Whether the target has Hopper's warpgroup MMAs (wgmma.mma_async).
bool hasWgmma(std::string_view target);
/// Whether the target has griddepcontrol (sm_90 and up): a kernel may be
/// launched while the one before it finishes, and waits for it in-kernel.
bool hasGridDependencyControl(std::string_view target);

} // namespace turbo

#endif // TURBO_SUPPORT_TARGETS_H
