//===- Kernels.cpp - compiling, caching and loading the C API's kernels ---===//
#include "Kernels.h"

#include "KernelCache.h"
#include "Launcher.h"
#include "turbo/CodegenId.h"
#include "turbo/Compiler/Ptxas.h"
#include "turbo/Compiler/TemplateCompiler.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>

namespace turbo::capi {

namespace {
/// The version plus a digest of the code generator's sources: the kernel
/// cache's keys carry it, so a build that would generate other code (a
/// development build under the same version, say) never gets kernels cached
/// by another.
constexpr const char *kCodegenIdentity = TURBO_VERSION_STRING "+codegen." TURBO_CODEGEN_ID;

/// "<$TURBO_DUMP_DIR>/<key hash>" when stage dumps are asked for, else "".
std::string dumpPrefix(const std::string &keyText) {
  const char *dir = std::getenv("TURBO_DUMP_DIR");
  if (!dir || !*dir)
    return "";
  mkdir(dir, 0700);
  return std::string(dir) + "/" + runtime::sha256Hex(keyText);
}

/// What assembles the cubins the cache keeps beside the PTX: "off"
/// ($TURBO_CUBIN=0), "none" (no ptxas), or ptxas's path and version. It is
/// part of every cache key, so a cubin made by another ptxas, or cached
/// while cubins were off, is not taken.
const std::string &assemblerIdentity() {
  static const std::string identity = [] {
    if (const char *flag = std::getenv("TURBO_CUBIN"); flag && std::string(flag) == "0")
      return std::string("off");
    std::optional<std::string> ptxas = compiler::findPtxas();
    if (!ptxas)
      return std::string("none");
    return *ptxas + " " + compiler::ptxasVersion(*ptxas);
  }();
  return identity;
}

/// A compiled kernel with a cubin beside its PTX when ptxas is at hand and
/// $TURBO_CUBIN is not 0: loading it skips the driver's JIT. Without one the
/// PTX serves; a ptxas that rejects turbo's PTX is a bug, said once.
Result<CompiledKernel> withCubin(Result<CompiledKernel> compiled) {
  if (!compiled)
    return compiled;
  if (const char *flag = std::getenv("TURBO_CUBIN"); flag && std::string(flag) == "0")
    return compiled;
  static const std::optional<std::string> ptxas = compiler::findPtxas();
  if (!ptxas)
    return compiled;
  compiler::PtxasResult assembled =
      compiler::runPtxas(*ptxas, compiled->ptx, compiled->info.target, true);
  if (assembled.exitCode != 0 || assembled.cubin.empty()) {
    static std::once_flag once;
    std::call_once(once, [&]() {
      std::fprintf(stderr, "turbo: %s could not assemble %s for %s (exit %d), loading PTX: %s\n",
                   ptxas->c_str(), compiled->info.name.c_str(), compiled->info.target.c_str(),
                   assembled.exitCode, assembled.log.c_str());
    });
    return compiled;
  }
  compiled->cubin = std::move(assembled.cubin);
  return compiled;
}

/// The compiled kernel for `keyText` (memory, disk or `compile`), loaded in
/// `context` (once per context).
Status obtainKernel(turbo_context *context, const std::string &keyText,
                    const runtime::KernelCache::Compile &compile, turbo_kernel &kernel) {
  auto compiled = runtime::KernelCache::global().get(keyText, compile);
  if (!compiled)
    return compiled.status();
  kernel.compiled = *compiled;
  std::string hash = runtime::sha256Hex(keyText);
  std::lock_guard<std::mutex> lock(context->mutex);
  if (auto found = context->loaded.find(hash); found != context->loaded.end())
    if ((kernel.loaded = found->second.lock()))
      return Status::ok();
  auto loaded = context->device->load(**compiled);
  if (!loaded)
    return loaded.status();
  kernel.loaded = std::move(*loaded);
  // Forget the modules no kernel uses any more (they were unloaded).
  for (auto it = context->loaded.begin(); it != context->loaded.end();)
    it = it->second.expired() ? context->loaded.erase(it) : std::next(it);
  context->loaded[hash] = kernel.loaded;
  return Status::ok();
}
} // namespace

Result<std::unique_ptr<turbo_kernel>> makeKernel(turbo_context *context,
                                                 const templates::AnyConfig &config,
                                                 const std::string &target) {
  auto kernel = std::make_unique<turbo_kernel>();
  kernel->config = config;
  for (const templates::ArgSpec &arg : config.signature())
    kernel->paramNames += (kernel->paramNames.empty() ? "" : ",") + std::string(arg.name);
  std::string keyText =
      runtime::cacheKeyText(std::string(config.templateName()), config.text(), target,
                            kCodegenIdentity, compiler::llvmVersion()) +
      "assembler=" + assemblerIdentity() + "\n";
  std::string dump = dumpPrefix(keyText);
  TURBO_RETURN_IF_ERROR(obtainKernel(
      context, keyText,
      [&]() { return withCubin(compiler::compileTemplate(config, target, dump)); }, *kernel));
  auto helpers = config.helpers();
  if (!helpers)
    return helpers.status();
  for (const templates::AnyConfig &helper : *helpers) {
    auto made = makeKernel(context, helper, target);
    if (!made)
      return made.status();
    kernel->helpers.push_back(std::move(*made));
  }
  return kernel;
}

Result<std::unique_ptr<turbo_kernel>> makeKernelFromMlir(turbo_context *context,
                                                         const std::string &mlir) {
  std::string keyText = runtime::cacheKeyText("mlir:" + runtime::sha256Hex(mlir), "", "",
                                              kCodegenIdentity, compiler::llvmVersion()) +
                        "assembler=" + assemblerIdentity() + "\n";
  std::string dump = dumpPrefix(keyText);
  auto kernel = std::make_unique<turbo_kernel>();
  TURBO_RETURN_IF_ERROR(obtainKernel(
      context, keyText, [&]() { return withCubin(compiler::compileMlir(mlir, dump)); },
      *kernel));
  return kernel;
}

Status run(const turbo_kernel &kernel, Result<std::vector<templates::KernelLaunch>> launches,
           void *stream) {
  if (!launches)
    return launches.status();
  auto lookup = [&](const templates::TemplateDef *def) -> const runtime::LoadedKernel * {
    if (kernel.config && def == &kernel.config->def())
      return kernel.loaded.get();
    for (const auto &helper : kernel.helpers)
      if (helper->config && def == &helper->config->def())
        return helper->loaded.get();
    return nullptr;
  };
  return runtime::runLaunches(*launches, lookup, static_cast<CUstream>(stream));
}

} // namespace turbo::capi

const char *turbo_codegen_version(void) { return turbo::capi::kCodegenIdentity; }
