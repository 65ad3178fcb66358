//===- CApi.cpp - the C API over the runtime and the JIT compiler ---------===//
//
// Every entry point: checks its arguments, turns Status into turbo_status
// and the thread's last-error message, and catches anything thrown below it
// (this file is built with exceptions on for that reason).
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"
#include "turbo/CodegenId.h"

#include "Device.h"
#include "KernelCache.h"
#include "turbo/Compiler/Ptxas.h"
#include "turbo/Compiler/TemplateCompiler.h"
#include "turbo/Templates/AttentionPrefill.h"
#include "turbo/Templates/ChannelMean.h"
#include "turbo/Templates/QuantizeQ.h"
#include "turbo/Templates/QuantizeRows.h"
#include "turbo/Templates/TemplateSpec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <type_traits>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_map>

using turbo::Result;
using turbo::Status;
using turbo::StatusCode;

struct turbo_context {
  /// Shared with every kernel loaded on it: destroying the context before
  /// its kernels or plans is safe (they keep the device alive).
  std::shared_ptr<turbo::runtime::Device> device;
  /// Modules loaded in this context, by cache key, kept for the context's
  /// life: a kernel or plan created again finds its module without the
  /// driver compiling the PTX again.
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<turbo::runtime::LoadedKernel>> loaded;
};

struct turbo_kernel {
  const turbo::templates::TemplateSpec *spec = nullptr;
  turbo::templates::KernelConfig config;
  std::string configText;
  std::shared_ptr<const turbo::CompiledKernel> compiled;
  std::shared_ptr<turbo::runtime::LoadedKernel> loaded;
  /// Kernels attention_prefill runs first: channel_mean (k_smooth=1),
  /// quantize_kv (kv_int8=1) and, when asked, quantize_q (q_int8=1).
  std::unique_ptr<turbo_kernel> channelMean, quantizeKv, quantizeQ;
};

struct turbo_plan {
  turbo::HeadConfig head;
  std::unique_ptr<turbo_kernel> prefill;
  /// The same config with varlen=1, for packed sequences.
  std::unique_ptr<turbo_kernel> prefillVarlen;
};

namespace {

/// The calling thread's last error message. A plain buffer, not a
/// std::string: the C API may be called after the thread's thread_local
/// objects are gone (a handle freed by a static destructor, at exit), and a
/// destroyed string written to corrupts the heap (the GPU tests' cached
/// kernels did so, now and then). Longer messages are cut.
struct LastError {
  char text[4096];
  void set(std::string_view message) {
    size_t n = std::min(message.size(), sizeof(text) - 1);
    std::memcpy(text, message.data(), n);
    text[n] = '\0';
  }
};
thread_local LastError lastError{};
static_assert(std::is_trivially_destructible_v<LastError>);

/// The version plus a digest of the code generator's sources: the kernel
/// cache's keys carry it, so a build that would generate other code (a
/// development build under the same version, say) never gets kernels cached
/// by another.
constexpr const char *kCodegenIdentity = TURBO_VERSION_STRING "+codegen." TURBO_CODEGEN_ID;

turbo_status fail(const Status &status) {
  lastError.set(status.message());
  return static_cast<turbo_status>(status.code());
}

turbo_status fail(StatusCode code, std::string message) {
  return fail(Status(code, std::move(message)));
}

turbo_status finish(const Status &status) {
  if (status.isOk()) {
    lastError.text[0] = '\0';
    return TURBO_STATUS_OK;
  }
  return fail(status);
}

/// Runs `body` (returning Status) and turns escaping exceptions into status
/// codes: nothing crosses the C boundary.
template <typename Body> turbo_status guarded(const char *function, Body &&body) {
  try {
    return finish(body());
  } catch (const std::bad_alloc &) {
    return fail(StatusCode::OutOfMemory, fmt::format("{}: out of host memory", function));
  } catch (const std::exception &error) {
    return fail(StatusCode::Internal, fmt::format("{}: {}", function, error.what()));
  } catch (...) {
    return fail(StatusCode::Internal, fmt::format("{}: unknown exception", function));
  }
}

Status invalid(std::string message) { return {StatusCode::InvalidArgument, std::move(message)}; }

#define TURBO_REQUIRE(condition, message)                                                      \
  do {                                                                                         \
    if (!(condition))                                                                          \
      return invalid(message);                                                                 \
  } while (0)

/// Whether `member` lies inside the caller's `struct_size` bytes.
#define TURBO_HAS_FIELD(desc, type, member)                                                    \
  ((desc)->struct_size >= offsetof(type, member) + sizeof((desc)->member))

char *copyString(const std::string &text) {
  char *out = static_cast<char *>(std::malloc(text.size() + 1));
  if (!out)
    throw std::bad_alloc();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

Status returnText(Result<std::string> text, char **out) {
  if (!text)
    return text.status();
  *out = copyString(*text);
  return Status::ok();
}

/// Reads a caller's turbo_head_config (NULL: defaults) and validates it.
Result<turbo::HeadConfig> headConfigOf(const turbo_head_config *head,
                                       const std::string &defaultTarget) {
  turbo::HeadConfig config;
  config.target = defaultTarget;
  if (head) {
    if (head->struct_size < sizeof(size_t))
      return invalid("turbo_head_config.struct_size is not set (use turbo_head_config_init)");
    if (TURBO_HAS_FIELD(head, turbo_head_config, q_heads))
      config.qHeads = head->q_heads;
    if (TURBO_HAS_FIELD(head, turbo_head_config, kv_heads))
      config.kvHeads = head->kv_heads;
    if (TURBO_HAS_FIELD(head, turbo_head_config, head_dim))
      config.headDim = head->head_dim;
    if (TURBO_HAS_FIELD(head, turbo_head_config, dtype)) {
      if (head->dtype != TURBO_DTYPE_F16 && head->dtype != TURBO_DTYPE_BF16)
        return invalid(fmt::format("dtype {} is not TURBO_DTYPE_F16 or TURBO_DTYPE_BF16",
                                   int(head->dtype)));
      config.dtype = head->dtype == TURBO_DTYPE_BF16 ? turbo::DType::BF16 : turbo::DType::F16;
    }
    if (TURBO_HAS_FIELD(head, turbo_head_config, causal))
      config.causal = head->causal != 0;
    if (TURBO_HAS_FIELD(head, turbo_head_config, kv_bits)) {
      auto bits = turbo::parseKvBits(head->kv_bits == 0 ? "mixed"
                                                        : std::to_string(head->kv_bits));
      if (!bits)
        return bits.status();
      config.kvBits = *bits;
    }
    if (TURBO_HAS_FIELD(head, turbo_head_config, target) && head->target)
      config.target = head->target;
  }
  TURBO_RETURN_IF_ERROR(config.validate());
  return config;
}

/// "<$TURBO_DUMP_DIR>/<key hash>" when stage dumps are asked for, else "".
std::string dumpPrefix(const std::string &keyText) {
  const char *dir = std::getenv("TURBO_DUMP_DIR");
  if (!dir || !*dir)
    return "";
  mkdir(dir, 0700);
  return std::string(dir) + "/" + turbo::runtime::sha256Hex(keyText);
}

/// The compiled kernel for `keyText` (memory, disk or `compile`), loaded in
/// `context` (once per context).
/// A compiled kernel with a cubin beside its PTX when ptxas is at hand and
/// $TURBO_CUBIN is not 0: loading it skips the driver's JIT. Without one the
/// PTX serves; a ptxas that rejects turbo's PTX is a bug, said once.
Result<turbo::CompiledKernel> withCubin(Result<turbo::CompiledKernel> compiled) {
  if (!compiled)
    return compiled;
  if (const char *flag = std::getenv("TURBO_CUBIN"); flag && std::string(flag) == "0")
    return compiled;
  static const std::optional<std::string> ptxas = turbo::compiler::findPtxas();
  if (!ptxas)
    return compiled;
  turbo::compiler::PtxasResult assembled =
      turbo::compiler::runPtxas(*ptxas, compiled->ptx, compiled->info.target, true);
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

Status obtainKernel(turbo_context *context, const std::string &keyText,
                    const turbo::runtime::KernelCache::Compile &compile, turbo_kernel &kernel) {
  auto compiled = turbo::runtime::KernelCache::global().get(keyText, compile);
  if (!compiled)
    return compiled.status();
  kernel.compiled = *compiled;
  std::string hash = turbo::runtime::sha256Hex(keyText);
  std::lock_guard<std::mutex> lock(context->mutex);
  if (auto found = context->loaded.find(hash); found != context->loaded.end()) {
    kernel.loaded = found->second;
    return Status::ok();
  }
  auto loaded = context->device->load(**compiled);
  if (!loaded)
    return loaded.status();
  kernel.loaded = std::move(*loaded);
  context->loaded[hash] = kernel.loaded;
  return Status::ok();
}

/// Creates a kernel from a template for a head configuration.
Result<std::unique_ptr<turbo_kernel>>
makeTemplateKernel(turbo_context *context, const turbo::templates::TemplateSpec *spec,
                   const turbo::HeadConfig &head, const char *config) {
  auto parsed = turbo::templates::makeConfig(*spec, &head, config ? config : "");
  if (!parsed)
    return parsed.status();
  auto kernel = std::make_unique<turbo_kernel>();
  kernel->spec = spec;
  kernel->config = *parsed;
  kernel->configText = parsed->canonical();
  std::string keyText =
      turbo::runtime::cacheKeyText(spec->name, kernel->configText, head.target,
                                   kCodegenIdentity, turbo::compiler::llvmVersion());
  std::string dump = dumpPrefix(keyText);
  const turbo::templates::KernelConfig &kernelConfig = kernel->config;
  TURBO_RETURN_IF_ERROR(obtainKernel(
      context, keyText,
      [&]() {
        return withCubin(turbo::compiler::compileTemplate(*spec, kernelConfig, head.target, dump));
      },
      *kernel));
  // attention_prefill's helper kernels, each in the config its own matches.
  namespace ap = turbo::templates::attention_prefill;
  auto addHelper = [&](const char *key, const char *templateName,
                       std::string (*configOf)(const turbo::templates::KernelConfig &),
                       std::unique_ptr<turbo_kernel> &slot) -> Status {
    if (spec->name != "attention_prefill" || !kernel->config.get(key))
      return Status::ok();
    std::string helperConfig = configOf(kernel->config);
    auto helper = makeTemplateKernel(context, turbo::templates::findTemplate(templateName), head,
                                     helperConfig.c_str());
    if (!helper)
      return helper.status();
    slot = std::move(*helper);
    return Status::ok();
  };
  TURBO_RETURN_IF_ERROR(
      addHelper("k_smooth", "channel_mean", ap::channelMeanConfig, kernel->channelMean));
  TURBO_RETURN_IF_ERROR(
      addHelper("kv_int8", "quantize_kv", ap::quantizeKvConfig, kernel->quantizeKv));
  TURBO_RETURN_IF_ERROR(addHelper("q_int8", "quantize_q", ap::quantizeQConfig, kernel->quantizeQ));
  return std::move(kernel);
}

Result<const turbo::templates::TemplateSpec *> templateNamed(const char *name) {
  if (!name)
    return invalid("template name is null");
  const turbo::templates::TemplateSpec *spec = turbo::templates::findTemplate(name);
  if (!spec)
    return invalid(fmt::format("unknown template '{}' (templates: {})", name,
                               turbo::templates::templateNames()));
  return spec;
}
} // namespace

extern "C" {

const char *turbo_version(void) { return TURBO_VERSION_STRING; }

const char *turbo_llvm_version(void) { return turbo::compiler::llvmVersion(); }

const char *turbo_status_string(turbo_status status) {
  if (status < TURBO_STATUS_OK || status > TURBO_STATUS_INTERNAL_ERROR)
    return "unknown status";
  return turbo::statusCodeName(static_cast<StatusCode>(status));
}

const char *turbo_last_error(void) { return lastError.text; }

void turbo_free(void *pointer) { std::free(pointer); }

turbo_status turbo_list_templates(char **names) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(names, "names is null");
    std::string list;
    for (const auto *spec : turbo::templates::allTemplates())
      list += (list.empty() ? "" : ",") + spec->name;
    *names = copyString(list);
    return Status::ok();
  });
}

void turbo_head_config_init(turbo_head_config *head) {
  if (!head)
    return;
  std::memset(head, 0, sizeof(*head));
  head->struct_size = sizeof(*head);
  turbo::HeadConfig defaults;
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
    auto applied = turbo::applyPreset(turbo::HeadConfig{}, preset);
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
    for (const turbo::HeadPreset &preset : turbo::headPresets())
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
    auto spec = templateNamed(template_name);
    if (!spec)
      return spec.status();
    auto headConfig = headConfigOf(head, "sm_90a");
    if (!headConfig)
      return headConfig.status();
    auto parsed = turbo::templates::makeConfig(**spec, &*headConfig, config ? config : "");
    if (!parsed)
      return parsed.status();
    return returnText(
        turbo::compiler::emitTemplateStage(**spec, *parsed, headConfig->target, stage), text);
  });
}

turbo_status turbo_compile_mlir(const char *mlir, const char *stage, char **text) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(text, "text is null");
    *text = nullptr;
    TURBO_REQUIRE(mlir, "mlir is null");
    TURBO_REQUIRE(stage, "stage is null");
    return returnText(turbo::compiler::emitMlirStage(mlir, stage), text);
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
    auto devices = turbo::runtime::Device::count();
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
    auto device = turbo::runtime::Device::open(deviceIndex);
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
    auto spec = templateNamed(template_name);
    if (!spec)
      return spec.status();
    auto headConfig = headConfigOf(head, context->device->target());
    if (!headConfig)
      return headConfig.status();
    auto created = makeTemplateKernel(context, *spec, *headConfig, config);
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
    std::string source = mlir;
    std::string keyText =
        turbo::runtime::cacheKeyText("mlir:" + turbo::runtime::sha256Hex(source), "", "",
                                     kCodegenIdentity, turbo::compiler::llvmVersion());
    std::string dump = dumpPrefix(keyText);
    auto handle = std::make_unique<turbo_kernel>();
    TURBO_RETURN_IF_ERROR(obtainKernel(
        context, keyText, [&]() { return withCubin(turbo::compiler::compileMlir(source, dump)); },
        *handle));
    *kernel = handle.release();
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
    const turbo::KernelInfo &k = kernel->compiled->info;
    turbo_kernel_info out{};
    out.struct_size = info->struct_size;
    out.name = k.name.c_str();
    out.config = kernel->configText.c_str();
    out.target = k.target.c_str();
    out.ptx = kernel->compiled->ptx.c_str();
    out.num_threads = k.numThreads;
    out.shared_bytes = k.sharedBytes;
    out.registers = kernel->loaded->registers();
    out.local_bytes = kernel->loaded->localBytes();
    out.num_params = k.params.size();
    out.cubin_bytes = kernel->compiled->cubin.size();
    out.from_cubin = kernel->loaded->fromCubin() ? 1 : 0;
    std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
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
    namespace qr = turbo::templates::quantize_rows;
    TURBO_REQUIRE(kernel, "kernel is null");
    TURBO_REQUIRE(kernel->spec && kernel->spec->name == "quantize_rows",
                  "the kernel was not made from the quantize_rows template");
    qr::Problem problem{rows, x_stride, q_stride};
    TURBO_RETURN_IF_ERROR(qr::canImplement(kernel->config, problem,
                                           reinterpret_cast<const void *>(x),
                                           reinterpret_cast<const void *>(q),
                                           reinterpret_cast<const void *>(scales)));
    int32_t rows32 = int32_t(rows), xStride32 = int32_t(x_stride),
            qStride32 = int32_t(q_stride);
    void *args[] = {&x, &q, &scales, &rows32, &xStride32, &qStride32};
    return kernel->loaded->launch(qr::grid(kernel->config, problem), args,
                                  static_cast<CUstream>(stream));
  });
}

void turbo_prefill_args_init(turbo_prefill_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
}

} // extern "C"

namespace {
namespace ap = turbo::templates::attention_prefill;

/// Whether `args` asks for the packed (varlen) form: sequence offsets given
/// (prefillProblem checks that both are, or neither).
bool packedArgs(const turbo_prefill_args *args) {
  return args && TURBO_HAS_FIELD(args, turbo_prefill_args, cu_seqlens_k) &&
         args->cu_seqlens_q != 0;
}

/// The problem described by `args` for an attention_prefill kernel.
Result<ap::Problem> prefillProblem(const turbo_kernel *kernel, const turbo_prefill_args *args) {
  if (!kernel)
    return invalid("kernel is null");
  if (!args)
    return invalid("args is null");
  if (!kernel->spec || kernel->spec->name != "attention_prefill")
    return invalid("the kernel was not made from the attention_prefill template");
  if (args->struct_size < offsetof(turbo_prefill_args, workspace_bytes) +
                              sizeof(args->workspace_bytes))
    return invalid("turbo_prefill_args.struct_size is too small (use turbo_prefill_args_init)");
  if (!(args->softmax_scale >= 0 && std::isfinite(args->softmax_scale)))
    return invalid("softmax_scale must be finite and >= 0");
  ap::Problem problem;
  problem.batch = args->batch;
  problem.qHeads = args->q_heads;
  problem.kvHeads = args->kv_heads;
  problem.seqQ = args->seq_q;
  problem.seqK = args->seq_k;
  problem.softmaxScale = args->softmax_scale;
  auto strides = [](const turbo_tensor &t) {
    return ap::Problem::Strides{t.batch_stride, t.head_stride, t.row_stride};
  };
  problem.q = strides(args->q);
  problem.k = strides(args->k);
  problem.v = strides(args->v);
  problem.o = strides(args->o);
  if (TURBO_HAS_FIELD(args, turbo_prefill_args, cu_seqlens_k)) {
    if (bool(args->cu_seqlens_q) != bool(args->cu_seqlens_k))
      return invalid("cu_seqlens_q and cu_seqlens_k go together (both set: packed tensors; "
                     "both 0: padded)");
    if (args->cu_seqlens_q % 4 || args->cu_seqlens_k % 4)
      return invalid("cu_seqlens_q and cu_seqlens_k must be 4-byte aligned (int32)");
    problem.packed = packedArgs(args);
  }
  if (TURBO_HAS_FIELD(args, turbo_prefill_args, q_scale)) {
    problem.q8 = strides(args->q8);
    if (args->q_scale.row_stride != 0 && args->q_scale.row_stride != 1)
      return invalid(fmt::format("q_scale's tokens are contiguous: its row_stride must be 0 or 1, "
                                 "got {}",
                                 args->q_scale.row_stride));
    problem.qScaleBatch = args->q_scale.batch_stride;
    problem.qScaleHead = args->q_scale.head_stride;
  }
  return problem;
}

/// The varlen arguments every kernel of a launch takes last.
struct SequenceOffsets {
  uint64_t q = 0, k = 0;
  int32_t packed = 0;
};
SequenceOffsets sequenceOffsets(const turbo_prefill_args *args) {
  if (!packedArgs(args))
    return {};
  return {args->cu_seqlens_q, args->cu_seqlens_k, 1};
}

const void *pointer(uint64_t p) { return reinterpret_cast<const void *>(p); }

Status launchChannelMean(const turbo_kernel &helper, const ap::Problem &problem, uint64_t k,
                         uint64_t kMean, SequenceOffsets offsets, CUstream stream) {
  namespace cm = turbo::templates::channel_mean;
  cm::Problem means{problem.batch, problem.kvHeads, problem.seqK,
                    problem.k.batch, problem.k.head, problem.k.row};
  TURBO_RETURN_IF_ERROR(cm::canImplement(helper.config, means, pointer(k), pointer(kMean)));
  int32_t seq = int32_t(problem.seqK), row = int32_t(problem.k.row);
  int64_t batchStride = problem.k.batch, headStride = problem.k.head;
  void *params[] = {&k, &kMean, &seq, &batchStride, &headStride, &row, &offsets.k,
                    &offsets.packed};
  return helper.loaded->launch(cm::grid(helper.config, means), params, stream);
}

/// Where quantize_kv's four outputs (k8, k_scale, v8t, v_scale) lie.
std::array<uint64_t, 4> quantizedKvAddresses(const ap::Workspace &workspace, uint64_t base) {
  uint64_t area = base + uint64_t(workspace.quantizedKv);
  const turbo::templates::quantize_kv::Layout &l = workspace.kv;
  return {area + l.k8, area + l.kScale, area + l.v8t, area + l.vScale};
}

/// K and V to INT8 into the workspace, at quantizedKvAddresses.
Status launchQuantizeKv(const turbo_kernel &helper, const ap::Problem &problem,
                        const ap::Workspace &workspace, uint64_t base, uint64_t k, uint64_t v,
                        uint64_t kMean, SequenceOffsets offsets, CUstream stream) {
  namespace qkv = turbo::templates::quantize_kv;
  qkv::Problem kv{problem.batch, problem.kvHeads, problem.seqK,
                  {problem.k.batch, problem.k.head, problem.k.row},
                  {problem.v.batch, problem.v.head, problem.v.row}};
  uint64_t area = base + uint64_t(workspace.quantizedKv);
  TURBO_RETURN_IF_ERROR(
      qkv::canImplement(helper.config, kv, pointer(k), pointer(v), pointer(kMean), pointer(area)));
  auto [k8, kScale, v8t, vScale] = quantizedKvAddresses(workspace, base);
  int32_t seq = int32_t(problem.seqK), kr = int32_t(problem.k.row), vr = int32_t(problem.v.row);
  int64_t kb = problem.k.batch, kh = problem.k.head, vb = problem.v.batch, vh = problem.v.head;
  void *params[] = {&k,  &v,  &kMean, &k8, &kScale, &v8t,      &vScale,        &seq,
                    &kb, &kh, &kr,    &vb, &vh,     &vr,       &offsets.k,     &offsets.packed};
  return helper.loaded->launch(qkv::grid(helper.config, kv), params, stream);
}
/// Q to INT8 (quantize_q) into q8 and q_scale, for a q_int8=1 kernel.
Status launchQuantizeQ(const turbo_kernel &helper, const ap::Problem &problem, uint64_t q,
                       uint64_t q8, uint64_t qScale, SequenceOffsets offsets, CUstream stream) {
  namespace qq = turbo::templates::quantize_q;
  const qq::Problem qp = ap::quantizeQProblem(problem);
  TURBO_RETURN_IF_ERROR(
      qq::canImplement(helper.config, qp, pointer(q), pointer(q8), pointer(qScale)));
  int32_t seq = int32_t(qp.seq), qr = int32_t(qp.q.row), q8r = int32_t(qp.q8.row);
  int64_t qb = qp.q.batch, qh = qp.q.head, q8b = qp.q8.batch, q8h = qp.q8.head,
          sb = qp.scaleBatch, sh = qp.scaleHead;
  void *params[] = {&q,   &q8,  &qScale, &seq, &qb,        &qh,        &qr,
                    &q8b, &q8h, &q8r,    &sb,  &sh,        &offsets.q, &offsets.packed};
  return helper.loaded->launch(qq::grid(helper.config, qp), params, stream);
}
} // namespace

extern "C" {

turbo_status turbo_attention_prefill_workspace_size(const turbo_kernel *kernel,
                                                    const turbo_prefill_args *args,
                                                    size_t *bytes) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(bytes, "bytes is null");
    *bytes = 0;
    auto problem = prefillProblem(kernel, args);
    if (!problem)
      return problem.status();
    TURBO_REQUIRE(problem->batch >= 1 && problem->kvHeads >= 1 && problem->seqK >= 1 &&
                      problem->batch <= 65535 && problem->kvHeads <= 65535 &&
                      problem->seqK <= std::numeric_limits<int32_t>::max(),
                  "batch, kv_heads and seq_k must be positive (and within the grid limits)");
    TURBO_RETURN_IF_ERROR(ap::checkSizes(kernel->config, *problem));
    *bytes = size_t(ap::workspaceFor(kernel->config, *problem).totalBytes);
    return Status::ok();
  });
}

turbo_status turbo_attention_prefill(const turbo_kernel *kernel, const turbo_prefill_args *args,
                                     void *stream) {
  return guarded(__func__, [&]() -> Status {
    auto parsed = prefillProblem(kernel, args);
    if (!parsed)
      return parsed.status();
    const ap::Problem &problem = *parsed;
    const auto &config = kernel->config;
    unsigned steps = ap::AllSteps;
    if (TURBO_HAS_FIELD(args, turbo_prefill_args, steps) && args->steps != 0)
      steps = args->steps;
    const bool hasQ8 = TURBO_HAS_FIELD(args, turbo_prefill_args, q_scale);
    uint64_t q8 = hasQ8 ? args->q8.data : 0, qScale = hasQ8 ? args->q_scale.data : 0;
    TURBO_RETURN_IF_ERROR(ap::canImplement(
        config, problem, pointer(args->q.data), pointer(args->k.data), pointer(args->v.data),
        pointer(args->o.data), config.get("write_lse") ? pointer(args->lse) : nullptr,
        pointer(args->workspace), int64_t(std::min<size_t>(args->workspace_bytes, INT64_MAX)),
        steps, pointer(q8), pointer(qScale)));
    const ap::Workspace workspace = ap::workspaceFor(config, problem);
    auto cuStream = static_cast<CUstream>(stream);
    uint64_t k = args->k.data, v = args->v.data, o = args->o.data, lse = args->lse;
    uint64_t kMean = workspace.kMean >= 0 ? args->workspace + uint64_t(workspace.kMean) : 0;
    const bool prepare = steps & ap::QuantizeKv, attend = steps & ap::Attention;
    SequenceOffsets offsets = sequenceOffsets(args);
    if (steps & ap::QuantizeQ)
      TURBO_RETURN_IF_ERROR(
          launchQuantizeQ(*kernel->quantizeQ, problem, args->q.data, q8, qScale, offsets, cuStream));
    if (kernel->channelMean && prepare)
      TURBO_RETURN_IF_ERROR(
          launchChannelMean(*kernel->channelMean, problem, k, kMean, offsets, cuStream));
    if (kernel->quantizeKv && prepare)
      TURBO_RETURN_IF_ERROR(launchQuantizeKv(*kernel->quantizeKv, problem, workspace,
                                             args->workspace, k, v, kMean, offsets, cuStream));
    if (!attend)
      return Status::ok();

    // The attention kernel's parameters (see AttentionPrefill.h).
    const bool qInt8 = config.get("q_int8");
    uint64_t q = qInt8 ? q8 : args->q.data;
    const ap::Problem::Strides &qStrides = qInt8 ? problem.q8 : problem.q;
    int32_t seqQ = int32_t(problem.seqQ), seqK = int32_t(problem.seqK);
    int64_t qb = qStrides.batch, qh = qStrides.head, kb = problem.k.batch, kh = problem.k.head,
            vb = problem.v.batch, vh = problem.v.head, ob = problem.o.batch, oh = problem.o.head;
    int32_t qr = int32_t(qStrides.row), kr = int32_t(problem.k.row), vr = int32_t(problem.v.row),
            orow = int32_t(problem.o.row);
    int32_t group = int32_t(problem.qHeads / problem.kvHeads);
    float scale = ap::scaleLog2(config, problem);
    int64_t sb = problem.qScaleBatch, sh = problem.qScaleHead;
    std::array<uint64_t, 4> quantizedKv{};
    std::vector<void *> params;
    if (kernel->quantizeKv) {
      quantizedKv = quantizedKvAddresses(workspace, args->workspace);
      auto &[k8, kScale, v8t, vScale] = quantizedKv;
      params = {&q, &k8, &v8t, &o, &lse, &kScale, &vScale, &seqQ, &seqK,
                &qb, &qh, &qr, &ob, &oh, &orow};
    } else {
      params = {&q,  &k,  &v,  &o,  &lse, &kMean, &seqQ, &seqK, &qb,   &qh,  &qr,
                &kb, &kh, &kr, &vb, &vh,  &vr,    &ob,   &oh,   &orow};
    }
    params.insert(params.end(), {&group, &scale, &offsets.q, &offsets.k, &offsets.packed});
    if (qInt8)
      params.insert(params.end(), {&qScale, &sb, &sh});
    if (kernel->quantizeKv) // read for the log-sum-exp (k_smooth=1, write_lse=1)
      params.push_back(&kMean);
    return kernel->loaded->launch(ap::grid(config, problem), params.data(), cuStream);
  });
}

void turbo_plan_desc_init(turbo_plan_desc *desc) {
  if (!desc)
    return;
  std::memset(desc, 0, sizeof(*desc));
  desc->struct_size = sizeof(*desc);
}

turbo_status turbo_plan_create(turbo_context *context, const turbo_head_config *head,
                               const turbo_plan_desc *desc, turbo_plan **plan) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(plan, "plan is null");
    *plan = nullptr;
    TURBO_REQUIRE(context, "context is null");
    const char *prefillConfig = nullptr;
    if (desc) {
      TURBO_REQUIRE(desc->struct_size >= sizeof(size_t),
                    "turbo_plan_desc.struct_size is not set (use turbo_plan_desc_init)");
      if (TURBO_HAS_FIELD(desc, turbo_plan_desc, prefill_config))
        prefillConfig = desc->prefill_config;
    }
    auto headConfig = headConfigOf(head, context->device->target());
    if (!headConfig)
      return headConfig.status();
    auto prefill = makeTemplateKernel(
        context, turbo::templates::findTemplate("attention_prefill"), *headConfig, prefillConfig);
    if (!prefill)
      return prefill.status();
    std::string varlenConfig = prefillConfig ? std::string(prefillConfig) + ",varlen=1" : "varlen=1";
    auto prefillVarlen =
        makeTemplateKernel(context, turbo::templates::findTemplate("attention_prefill"),
                           *headConfig, varlenConfig.c_str());
    if (!prefillVarlen)
      return prefillVarlen.status();
    auto created = std::make_unique<turbo_plan>();
    created->head = *headConfig;
    created->prefill = std::move(*prefill);
    created->prefillVarlen = std::move(*prefillVarlen);
    *plan = created.release();
    return Status::ok();
  });
}

turbo_status turbo_plan_destroy(turbo_plan *plan) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(plan, "plan is null");
    delete plan;
    return Status::ok();
  });
}

turbo_status turbo_plan_get_info(const turbo_plan *plan, turbo_plan_info *info) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(plan, "plan is null");
    TURBO_REQUIRE(info, "info is null");
    TURBO_REQUIRE(info->struct_size >= sizeof(size_t), "turbo_plan_info.struct_size is not set");
    const turbo_kernel &prefill = *plan->prefill;
    turbo_plan_info out{};
    out.struct_size = info->struct_size;
    out.prefill_config = prefill.configText.c_str();
    out.prefill_ptx = prefill.compiled->ptx.c_str();
    out.prefill_registers = prefill.loaded->registers();
    out.prefill_local_bytes = prefill.loaded->localBytes();
    out.prefill_shared_bytes = prefill.compiled->info.sharedBytes;
    out.prefill_threads = prefill.compiled->info.numThreads;
    std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
    return Status::ok();
  });
}

turbo_status turbo_plan_prefill_workspace_size(const turbo_plan *plan,
                                               const turbo_prefill_args *args, size_t *bytes) {
  if (!plan)
    return fail(StatusCode::InvalidArgument, "plan is null");
  return turbo_attention_prefill_workspace_size(plan->prefill.get(), args, bytes);
}

turbo_status turbo_plan_prefill(const turbo_plan *plan, const turbo_prefill_args *args,
                                void *stream) {
  if (!plan)
    return fail(StatusCode::InvalidArgument, "plan is null");
  return turbo_attention_prefill(
      packedArgs(args) ? plan->prefillVarlen.get() : plan->prefill.get(), args, stream);
}

turbo_status turbo_plan_append_kv(const turbo_plan *plan, const void *args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(plan, "plan is null");
    return {StatusCode::NotImplemented,
            "turbo_plan_append_kv: the quantized paged KV cache is not implemented yet"};
  });
}

turbo_status turbo_plan_decode(const turbo_plan *plan, const void *args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(plan, "plan is null");
    return {StatusCode::NotImplemented,
            "turbo_plan_decode: decode attention is not implemented yet"};
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

turbo_status turbo_measure(turbo_context *context, turbo_launch_fn launch, void *user_data,
                           void *stream, int warmup, int repeats, float *samples_ms) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(context, "context is null");
    TURBO_REQUIRE(launch, "launch is null");
    TURBO_REQUIRE(samples_ms || repeats == 0, "samples_ms is null");
    TURBO_REQUIRE(warmup >= 0 && repeats >= 0, "warmup and repeats must be >= 0");
    auto once = [&]() -> Status {
      turbo_status status = launch(user_data, stream);
      if (status == TURBO_STATUS_OK)
        return Status::ok();
      return Status(static_cast<StatusCode>(status),
                    fmt::format("the timed launch failed: {}", lastError.text));
    };
    return context->device->measure(once, static_cast<CUstream>(stream), warmup, repeats,
                                    samples_ms);
  });
}

} // extern "C"
