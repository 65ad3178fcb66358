//===- Launcher.h - a template's launch sequence on the GPU -----*- C++ -*-===//
#ifndef TURBO_RUNTIME_LAUNCHER_H
#define TURBO_RUNTIME_LAUNCHER_H

#include "Device.h"
#include "turbo/Templates/Signature.h"

#include <functional>
#include <vector>

namespace turbo::runtime {

/// The loaded kernel of a launch's template (null: none was loaded).
using KernelLookup = std::function<const LoadedKernel *(const templates::TemplateDef *)>;

/// Launches each of `launches` in order on `stream`, on the kernel `lookup`
/// gives for its template, after checking that the packed arguments are
/// the kinds the compiled kernel takes (a signature and its PTX must
/// agree). Stops at the first failure.
Status runLaunches(std::vector<templates::KernelLaunch> &launches, const KernelLookup &lookup,
                   CUstream stream);

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_LAUNCHER_H
