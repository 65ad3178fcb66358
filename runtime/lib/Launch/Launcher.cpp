//===- Launcher.cpp - a template's launch sequence on the GPU -------------===//
#include "Launcher.h"

#include "turbo/Templates/Template.h"

#include <fmt/format.h>

namespace turbo::runtime {

Status runLaunches(std::vector<templates::KernelLaunch> &launches, const KernelLookup &lookup,
                   CUstream stream) {
  for (templates::KernelLaunch &launch : launches) {
    const LoadedKernel *kernel = lookup(launch.kernel);
    if (!kernel)
      return {StatusCode::Internal,
              fmt::format("the launch needs a {} kernel that was not created with it",
                          launch.kernel ? launch.kernel->name() : "(unnamed)")};
    if (launch.args.kinds() != kernel->info().params)
      return {StatusCode::Internal,
              fmt::format("{}: the launch packs {} arguments that do not match the compiled "
                          "kernel's {} parameters",
                          kernel->info().name, launch.args.size(),
                          kernel->info().params.size())};
    TURBO_RETURN_IF_ERROR(kernel->launch(launch.grid, launch.args.params(), stream));
  }
  return Status::ok();
}

} // namespace turbo::runtime
