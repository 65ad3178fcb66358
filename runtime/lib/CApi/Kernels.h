//===- Kernels.h - the C API's handles and how kernels are made -*- C++ -*-===//
#ifndef TURBO_RUNTIME_CAPI_KERNELS_H
#define TURBO_RUNTIME_CAPI_KERNELS_H

#include "turbo/turbo.h"

#include "ApiSupport.h"
#include "Device.h"
#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/KernelBinary.h"
#include "turbo/Templates/Template.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

struct turbo_context {
  /// Shared with every kernel loaded on it: destroying the context before
  /// its kernels or plans is safe (they keep the device alive).
  std::shared_ptr<turbo::runtime::Device> device;
  /// Modules loaded in this context, by cache key: kernels and plans that
  /// use one share it, and it is unloaded when the last of them goes (a
  /// long-running engine that makes and drops plans does not pile up
  /// modules).
  std::mutex mutex;
  std::unordered_map<std::string, std::weak_ptr<turbo::runtime::LoadedKernel>> loaded;
};

struct turbo_kernel {
  /// The template config it was built from (none: a kernel from turbo IR).
  std::optional<turbo::templates::AnyConfig> config;
  std::shared_ptr<const turbo::CompiledKernel> compiled;
  std::shared_ptr<turbo::runtime::LoadedKernel> loaded;
  /// The kernels its template's launches also run (config->helpers()).
  std::vector<std::unique_ptr<turbo_kernel>> helpers;
  /// The signature's argument names, comma separated (turbo_kernel_info).
  std::string paramNames;

  /// Whether it was made from template T.
  template <class T> bool is() const { return config && config->is<T>(); }
};

struct turbo_plan {
  turbo::HeadConfig head;
  std::unique_ptr<turbo_kernel> prefill;
  /// The same config with varlen=1, for packed sequences.
  std::unique_ptr<turbo_kernel> prefillVarlen;
  /// With turbo_plan_desc.decode_config: decode, the append step, the prompt write.
  std::unique_ptr<turbo_kernel> decode, stage, writePrompt;
  /// Where decode's settings came from (turbo_plan_info.decode_config_source).
  std::string decodeSource;
  std::string prefillSource; ///< where the prefill settings came from (turbo_plan_info)
};

namespace turbo::capi {

/// Compiles (or finds in the memory or disk cache) the kernel of `config`
/// for `target` and its helpers, and loads them in `context`.
Result<std::unique_ptr<turbo_kernel>> makeKernel(turbo_context *context,
                                                 const templates::AnyConfig &config,
                                                 const std::string &target);
/// The same from turbo IR text.
Result<std::unique_ptr<turbo_kernel>> makeKernelFromMlir(turbo_context *context,
                                                         const std::string &mlir);

/// The config a CPU reference entry point runs: template T's for `head`
/// (NULL: defaults) and the caller's overrides `config` (NULL: none), with
/// the default target's tuning (no GPU is asked which target it is).
template <class T>
Result<typename T::Config> referenceConfig(const turbo_head_config *head, const char *config) {
  auto headConfig = headConfigOf(head, kDefaultTarget);
  if (!headConfig)
    return headConfig.status();
  return templates::parseConfig<T>(&*headConfig, config ? config : "");
}

/// Runs a launch sequence made from `kernel`'s config on its kernels.
Status run(const turbo_kernel &kernel, Result<std::vector<templates::KernelLaunch>> launches,
           void *stream);

} // namespace turbo::capi

#endif // TURBO_RUNTIME_CAPI_KERNELS_H
