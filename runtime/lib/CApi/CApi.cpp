//===- CApi.cpp - the C API: library, compiling, contexts, kernels --------===//
//
// A thin shim: each entry point checks its C arguments, calls the layer
// below and reports through ApiSupport (status, last error, no exceptions
// across). Prefill and plans are in Prefill.cpp; kernel creation in
// Kernels.cpp.
//
//===----------------------------------------------------------------------===//
#include "ApiSupport.h"
#include "Kernels.h"

#include "turbo/Compiler/TemplateCompiler.h"
#include "quantize_rows/QuantizeRows.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

using namespace turbo;
using namespace turbo::capi;

namespace {
Result<const templates::TemplateDef *> templateNamed(const char *name) {
  if (!name)
    return invalid("template name is null");
  const templates::TemplateDef *def = templates::findTemplate(name);
  if (!def)
    return invalid(fmt::format("unknown template '{}' (templates: {})", name,
                               templates::templateNames()));
  return def;
}

/// Template `name`'s config for `head` with the `config` text's overrides.
Result<templates::AnyConfig> configOf(const char *name, const HeadConfig &head,
                                      const char *config) {
  auto def = templateNamed(name);
  if (!def)
    return def.status();
  return (*def)->parse(&head, config ? config : "");
}
} // namespace

extern "C" {

const char *turbo_version(void) { return TURBO_VERSION_STRING; }

const char *turbo_llvm_version(void) { return compiler::llvmVersion(); }

const char *turbo_status_string(turbo_status status) {
  if (status < TURBO_STATUS_OK || status > TURBO_STATUS_INTERNAL_ERROR)
    return "unknown status";
  return statusCodeName(static_cast<StatusCode>(status));
}

const char *turbo_last_error(void) { return lastErrorText(); }

void turbo_free(void *pointer) { std::free(pointer); }

turbo_status turbo_list_templates(char **names) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(names, "names is null");
    std::string list;
    for (const templates::TemplateDef *def : templates::allTemplates())
      list += (list.empty() ? "" : ",") + std::string(def->name());
    *names = copyString(list);
    return Status::ok();
  });
}

void turbo_head_config_init(turbo_head_config *head) {
  if (!head)
    return;
  std::memset(head, 0, sizeof(*head));
  head->struct_size = sizeof(*head);
  HeadConfig defaults;
  head->q_heads = defaults.qHeads;
  head->kv_heads = defaults.kvHeads;
  head->head_dim = defaults.headDim;
  head->dtype = TURBO_DTYPE_F16;
  head->causal = 0;
  head->kv_bits = 8;
  head->target = nullptr;
}

turbo_status turbo_head_config_preset(turbo_head_config *head, const char *preset) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(head, "head is null");
    TURBO_REQUIRE(preset, "preset is null");
    TURBO_REQUIRE(head->struct_size >= offsetof(turbo_head_config, head_dim) + sizeof(int),
                  "turbo_head_config.struct_size is not set (use turbo_head_config_init)");
    auto applied = applyPreset(HeadConfig{}, preset);
    if (!applied)
      return applied.status();
    head->q_heads = applied->qHeads;
    head->kv_heads = applied->kvHeads;
    head->head_dim = applied->headDim;
    return Status::ok();
  });
}

turbo_status turbo_list_presets(char **names) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(names, "names is null");
    std::string list;
    for (const HeadPreset &preset : headPresets())
      list += (list.empty() ? "" : ",") + std::string(preset.name);
    *names = copyString(list);
    return Status::ok();
  });
}

turbo_status turbo_compile_template(const char *template_name, const turbo_head_config *head,
                                    const char *config, const char *stage, char **text) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(text, "text is null");
    *text = nullptr;
    TURBO_REQUIRE(stage, "stage is null");
    auto headConfig = headConfigOf(head, kDefaultTarget);
    if (!headConfig)
      return headConfig.status();
    auto parsed = configOf(template_name, *headConfig, config);
    if (!parsed)
      return parsed.status();
    return returnText(compiler::emitTemplateStage(*parsed, headConfig->target, stage), text);
  });
}

turbo_status turbo_compile_mlir(const char *mlir, const char *stage, char **text) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(text, "text is null");
    *text = nullptr;
    TURBO_REQUIRE(mlir, "mlir is null");
    TURBO_REQUIRE(stage, "stage is null");
    return returnText(compiler::emitMlirStage(mlir, stage), text);
  });
}

void turbo_context_desc_init(turbo_context_desc *desc) {
  if (!desc)
    return;
  std::memset(desc, 0, sizeof(*desc));
  desc->struct_size = sizeof(*desc);
}

turbo_status turbo_device_count(int *count) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(count, "count is null");
    *count = 0;
    auto devices = runtime::Device::count();
    if (!devices)
      return devices.status();
    *count = *devices;
    return Status::ok();
  });
}

turbo_status turbo_context_create(const turbo_context_desc *desc, turbo_context **context) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    *context = nullptr;
    int deviceIndex = 0;
    if (desc) {
      TURBO_REQUIRE(desc->struct_size >= sizeof(size_t),
                    "turbo_context_desc.struct_size is not set (use turbo_context_desc_init)");
      if (TURBO_HAS_FIELD(desc, turbo_context_desc, device_index))
        deviceIndex = desc->device_index;
    }
    auto device = runtime::Device::open(deviceIndex);
    if (!device)
      return device.status();
    *context = new turbo_context{std::move(*device)};
    return Status::ok();
  });
}

turbo_status turbo_context_destroy(turbo_context *context) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    delete context;
    return Status::ok();
  });
}

turbo_status turbo_context_device_info(const turbo_context *context, turbo_device_info *info) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE(info, "info is null");
    TURBO_REQUIRE(info->struct_size >= sizeof(size_t),
                  "turbo_device_info.struct_size is not set");
    const auto &p = context->device->properties();
    turbo_device_info out{};
    out.struct_size = info->struct_size;
    std::snprintf(out.name, sizeof(out.name), "%s", p.name.c_str());
    std::snprintf(out.target, sizeof(out.target), "%s", context->device->target().c_str());
    out.compute_major = p.computeMajor;
    out.compute_minor = p.computeMinor;
    out.multiprocessors = p.multiprocessors;
    out.max_shared_per_block = p.maxSharedPerBlockOptin;
    out.total_memory = p.totalMemory;
    std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
    return Status::ok();
  });
}

turbo_status turbo_kernel_create(turbo_context *context, const char *template_name,
                                 const turbo_head_config *head, const char *config,
                                 turbo_kernel **kernel) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    *kernel = nullptr;
    TURBO_REQUIRE(context, "context is null");
    auto headConfig = headConfigOf(head, context->device->target());
    if (!headConfig)
      return headConfig.status();
    auto parsed = configOf(template_name, *headConfig, config);
    if (!parsed)
      return parsed.status();
    auto created = makeKernel(context, *parsed, headConfig->target);
    if (!created)
      return created.status();
    *kernel = created->release();
    return Status::ok();
  });
}

turbo_status turbo_kernel_create_from_mlir(turbo_context *context, const char *mlir,
                                           turbo_kernel **kernel) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    *kernel = nullptr;
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE(mlir, "mlir is null");
    auto created = makeKernelFromMlir(context, mlir);
    if (!created)
      return created.status();
    *kernel = created->release();
    return Status::ok();
  });
}

turbo_status turbo_kernel_destroy(turbo_kernel *kernel) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    delete kernel;
    return Status::ok();
  });
}

turbo_status turbo_kernel_get_info(const turbo_kernel *kernel, turbo_kernel_info *info) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    TURBO_REQUIRE(info, "info is null");
    TURBO_REQUIRE(info->struct_size >= sizeof(size_t),
                  "turbo_kernel_info.struct_size is not set");
    const KernelInfo &k = kernel->compiled->info;
    static const std::string none;
    turbo_kernel_info out{};
    out.struct_size = info->struct_size;
    out.name = k.name.c_str();
    out.config = kernel->config ? kernel->config->text().c_str() : none.c_str();
    out.target = k.target.c_str();
    out.ptx = kernel->compiled->ptx.c_str();
    out.num_threads = k.numThreads;
    out.shared_bytes = k.sharedBytes;
    out.registers = kernel->loaded->registers();
    out.local_bytes = kernel->loaded->localBytes();
    out.num_params = k.params.size();
    out.cubin_bytes = kernel->compiled->cubin.size();
    out.from_cubin = kernel->loaded->fromCubin() ? 1 : 0;
    out.param_names = kernel->paramNames.c_str();
    out.programmatic_launch = k.programmaticLaunch ? 1 : 0;
    std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
    return Status::ok();
  });
}

turbo_status turbo_kernel_config_value(const turbo_kernel *kernel, const char *name,
                                       int64_t *value) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    TURBO_REQUIRE(name, "name is null");
    TURBO_REQUIRE(value, "value is null");
    TURBO_REQUIRE(kernel->config, "the kernel was compiled from turbo IR: it has no config");
    std::optional<int64_t> found = kernel->config->value(name);
    TURBO_REQUIRE(found, fmt::format("template '{}' has no parameter '{}'",
                                     kernel->config->templateName(), name));
    *value = *found;
    return Status::ok();
  });
}

turbo_status turbo_kernel_launch(const turbo_kernel *kernel, const unsigned grid[3],
                                 void **args, size_t num_args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel, "kernel is null");
    TURBO_REQUIRE(grid, "grid is null");
    size_t expected = kernel->compiled->info.params.size();
    TURBO_REQUIRE(num_args == expected,
                  fmt::format("kernel {} takes {} arguments, got {}",
                              kernel->compiled->info.name, expected, num_args));
    TURBO_REQUIRE(args || expected == 0, "args is null");
    for (size_t i = 0; i < num_args; ++i)
      TURBO_REQUIRE(args[i], fmt::format("args[{}] is null", i));
    return kernel->loaded->launch({grid[0], grid[1], grid[2]}, args,
                                  static_cast<CUstream>(stream));
  });
}

turbo_status turbo_quantize_rows(const turbo_kernel *kernel, uint64_t x, uint64_t q,
                                 uint64_t scales, int64_t rows, int64_t x_stride,
                                 int64_t q_stride, void *stream) {
  return guarded(__func__, [&]() -> Status {
    using templates::QuantizeRows;
    TURBO_REQUIRE(kernel, "kernel is null");
    TURBO_REQUIRE(kernel->is<QuantizeRows>(),
                  "the kernel was not made from the quantize_rows template");
    templates::quantize_rows::Problem problem{rows, x_stride, q_stride};
    return run(*kernel,
               templates::quantize_rows::launches(kernel->config->as<QuantizeRows>(), problem, x,
                                                  q, scales),
               stream);
  });
}

turbo_status turbo_device_alloc(turbo_context *context, size_t bytes, uint64_t *pointer) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE(pointer, "pointer is null");
    TURBO_REQUIRE(bytes > 0, "cannot allocate 0 bytes");
    auto allocated = context->device->allocate(bytes);
    if (!allocated)
      return allocated.status();
    *pointer = *allocated;
    return Status::ok();
  });
}

turbo_status turbo_device_free(turbo_context *context, uint64_t pointer) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    if (!pointer)
      return Status::ok();
    return context->device->free(pointer);
  });
}

turbo_status turbo_copy_to_device(turbo_context *context, uint64_t dst, const void *src,
                                  size_t bytes) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE((dst && src) || bytes == 0, "null pointer");
    return bytes ? context->device->copyToDevice(dst, src, bytes) : Status::ok();
  });
}

turbo_status turbo_copy_to_host(turbo_context *context, void *dst, uint64_t src, size_t bytes) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE((dst && src) || bytes == 0, "null pointer");
    return bytes ? context->device->copyToHost(dst, src, bytes) : Status::ok();
  });
}

turbo_status turbo_device_fill(turbo_context *context, uint64_t dst, unsigned char value,
                               size_t bytes) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE(dst || bytes == 0, "null pointer");
    return bytes ? context->device->fill(dst, value, bytes) : Status::ok();
  });
}

turbo_status turbo_synchronize(turbo_context *context) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    return context->device->synchronize();
  });
}

namespace {
Status measureOn(turbo_context *context, turbo_launch_fn launch, void *user_data, void *stream,
                 int warmup, int repeats, float *samples_ms, bool coldL2) {
  TURBO_REQUIRE(context, "context is null");
  TURBO_REQUIRE(launch, "launch is null");
  TURBO_REQUIRE(samples_ms || repeats == 0, "samples_ms is null");
  TURBO_REQUIRE(warmup >= 0 && repeats >= 0, "warmup and repeats must be >= 0");
  auto once = [&]() -> Status {
    turbo_status status = launch(user_data, stream);
    if (status == TURBO_STATUS_OK)
      return Status::ok();
    return Status(static_cast<StatusCode>(status),
                  fmt::format("the timed launch failed: {}", lastErrorText()));
  };
  runtime::Device &device = *context->device;
  if (!coldL2)
    return device.measure(once, static_cast<CUstream>(stream), warmup, repeats, samples_ms);
  const size_t flushBytes = 2 * size_t(std::max(device.properties().l2Bytes, 1 << 20));
  auto scratch = device.allocate(flushBytes);
  if (!scratch)
    return scratch.status();
  Status measured = device.measure(once, static_cast<CUstream>(stream), warmup, repeats,
                                   samples_ms, *scratch, flushBytes);
  // The stream may still be writing the scratch if a launch failed.
  Status synced = device.synchronize();
  Status freed = device.free(*scratch);
  if (!measured.isOk())
    return measured;
  return synced.isOk() ? freed : synced;
}
} // namespace

turbo_status turbo_measure(turbo_context *context, turbo_launch_fn launch, void *user_data,
                           void *stream, int warmup, int repeats, float *samples_ms) {
  return guarded(__func__, [&]() -> Status {
    return measureOn(context, launch, user_data, stream, warmup, repeats, samples_ms, false);
  });
}

turbo_status turbo_measure_cold(turbo_context *context, turbo_launch_fn launch, void *user_data,
                                void *stream, int warmup, int repeats, float *samples_ms) {
  return guarded(__func__, [&]() -> Status {
    return measureOn(context, launch, user_data, stream, warmup, repeats, samples_ms, true);
  });
}

} // extern "C"
