//===- Prefill.cpp - prefill attention and plans in the C API -------------===//
//
// The C structs (turbo_prefill_args, turbo_plan_desc) to the template's
// Problem and Buffers; everything else, the checks, the workspace and the
// launch sequence, is the template's (attention_prefill/).
//
//===----------------------------------------------------------------------===//
#include "ApiSupport.h"
#include "Kernels.h"
#include "TuningDatabase.h"

#include "attention_decode/AttentionDecode.h"
#include "attention_prefill/AttentionPrefill.h"
#include "kv_stage/KvStage.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace turbo;
using namespace turbo::capi;
using templates::AttentionPrefill;
namespace ap = templates::attention_prefill;

namespace {

/// Whether `args` asks for the packed (varlen) form.
bool packedArgs(const turbo_prefill_args *args) {
  return args && TURBO_HAS_FIELD(args, turbo_prefill_args, cu_seqlens_k) &&
         args->cu_seqlens_q != 0;
}

/// What one turbo_attention_prefill call asks for.
struct PrefillCall {
  ap::Problem problem;
  ap::Buffers buffers;
  unsigned steps = ap::AllSteps;
};

/// The arguments alone, read and checked as far as they go without a
/// config (`args` is not null).
Result<PrefillCall> prefillCallOf(const turbo_prefill_args *args) {
  if (args->struct_size <
      offsetof(turbo_prefill_args, workspace_bytes) + sizeof(args->workspace_bytes))
    return invalid("turbo_prefill_args.struct_size is too small (use turbo_prefill_args_init)");
  if (!(args->softmax_scale >= 0 && std::isfinite(args->softmax_scale)))
    return invalid("softmax_scale must be finite and >= 0");
  PrefillCall call;
  ap::Problem &problem = call.problem;
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
  ap::Buffers &buffers = call.buffers;
  buffers = {args->q.data, args->k.data, args->v.data, args->o.data, args->lse, args->workspace,
             int64_t(std::min<size_t>(args->workspace_bytes, INT64_MAX))};
  if (TURBO_HAS_FIELD(args, turbo_prefill_args, steps) && args->steps != 0)
    call.steps = args->steps;
  if (TURBO_HAS_FIELD(args, turbo_prefill_args, cu_seqlens_k)) {
    if (bool(args->cu_seqlens_q) != bool(args->cu_seqlens_k))
      return invalid("cu_seqlens_q and cu_seqlens_k go together (both set: packed tensors; "
                     "both 0: padded)");
    if (args->cu_seqlens_q % 4 || args->cu_seqlens_k % 4)
      return invalid("cu_seqlens_q and cu_seqlens_k must be 4-byte aligned (int32)");
    problem.packed = packedArgs(args);
    buffers.cuSeqlensQ = args->cu_seqlens_q;
    buffers.cuSeqlensK = args->cu_seqlens_k;
  }
  if (problem.packed) {
    if (!TURBO_HAS_FIELD(args, turbo_prefill_args, total_k))
      return invalid("packed tensors (cu_seqlens) need total_q and total_k, the tokens they "
                     "hold: this struct_size predates them");
    problem.tokensQ = args->total_q;
    problem.tokensK = args->total_k;
  }
  if (TURBO_HAS_FIELD(args, turbo_prefill_args, q_scale)) {
    problem.q8 = strides(args->q8);
    if (args->q_scale.row_stride != 0 && args->q_scale.row_stride != 1)
      return invalid(fmt::format("q_scale's tokens are contiguous: its row_stride must be 0 or 1, "
                                 "got {}",
                                 args->q_scale.row_stride));
    problem.qScaleBatch = args->q_scale.batch_stride;
    problem.qScaleHead = args->q_scale.head_stride;
    buffers.q8 = args->q8.data;
    buffers.qScale = args->q_scale.data;
  }
  return call;
}

Result<PrefillCall> prefillCall(const turbo_kernel *kernel, const turbo_prefill_args *args) {
  if (!kernel)
    return invalid("kernel is null");
  if (!args)
    return invalid("args is null");
  if (!kernel->is<AttentionPrefill>())
    return invalid("the kernel was not made from the attention_prefill template");
  return prefillCallOf(args);
}

const AttentionPrefill::Config &prefillConfig(const turbo_kernel *kernel) {
  return kernel->config->as<AttentionPrefill>();
}

/// The overrides a plan uses for template T: the caller's (`text`, when not
/// empty); else, for a shape (`bucket` not empty), what turbo-tune recorded
/// for this GPU, head and build, in that bucket or the nearest; else the
/// defaults. `source` says which, for turbo_plan_get_info.
template <class T>
std::string tunedOverrides(turbo_context *context, const HeadConfig &head, const char *text,
                           const std::string &bucket, std::string &source) {
  if (*text || bucket.empty()) {
    source = *text ? "caller" : "defaults";
    return text;
  }
  source = "defaults";
  const std::string path = runtime::TuningDatabase::defaultPath();
  if (path.empty())
    return "";
  auto db = runtime::TuningDatabase::load(path);
  if (!db) {
    source = "defaults (" + db.status().message() + ": ignored)";
    return "";
  }
  const runtime::TuningKey key{T::name,
                               runtime::headKey(T::name, head),
                               bucket,
                               context->device->properties().name,
                               head.target,
                               turbo_codegen_version()};
  auto match = db->lookup(key);
  if (!match)
    return "";
  // A record from an older space may name a parameter that is gone.
  if (!templates::parseConfig<T>(&head, match->record->config)) {
    source = "defaults (the tuning database's " + match->record->config + " no longer parses)";
    return "";
  }
  source = fmt::format("tuning database{} ({})", match->exact ? "" : ", nearest",
                       match->record->key.shape);
  return match->record->config;
}

/// The plan's decode kernels: attention_decode with the overrides
/// tunedOverrides gives, and the append step and prompt write for the same
/// head (page size from it).
Status addDecodeKernels(turbo_context *context, const HeadConfig &head, const char *text,
                        int64_t batch, int64_t contextLength, turbo_plan &plan) {
  const std::string overrides = tunedOverrides<templates::AttentionDecode>(
      context, head, text,
      batch >= 1 && contextLength >= 1 ? runtime::decodeShapeBucket(batch, contextLength) : "",
      plan.decodeSource);
  auto decode = templates::parseConfig<templates::AttentionDecode>(&head, overrides);
  if (!decode)
    return decode.status();
  const std::string pageSize = fmt::format("page_size={}", decode->pageSize);
  auto stage = templates::parseConfig<templates::KvStage>(&head, pageSize);
  auto prompt = templates::parseConfig<templates::KvCompress>(&head, pageSize + ",source=tokens");
  if (!stage || !prompt)
    return stage ? prompt.status() : stage.status();
  auto make = [&](Result<templates::AnyConfig> config, std::unique_ptr<turbo_kernel> &out) {
    if (!config)
      return config.status();
    auto kernel = makeKernel(context, *config, head.target);
    if (!kernel)
      return kernel.status();
    out = std::move(*kernel);
    return Status::ok();
  };
  TURBO_RETURN_IF_ERROR(make(templates::AnyConfig::make<templates::AttentionDecode>(*decode),
                             plan.decode));
  TURBO_RETURN_IF_ERROR(make(templates::AnyConfig::make<templates::KvStage>(*stage), plan.stage));
  return make(templates::AnyConfig::make<templates::KvCompress>(*prompt), plan.writePrompt);
}

} // namespace

extern "C" {

void turbo_prefill_args_init(turbo_prefill_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
}

turbo_status turbo_attention_prefill_workspace_size(const turbo_kernel *kernel,
                                                    const turbo_prefill_args *args,
                                                    size_t *bytes) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(bytes, "bytes is null");
    *bytes = 0;
    auto call = prefillCall(kernel, args);
    if (!call)
      return call.status();
    auto needed = ap::workspaceBytes(prefillConfig(kernel), call->problem);
    if (!needed)
      return needed.status();
    *bytes = size_t(*needed);
    return Status::ok();
  });
}

turbo_status turbo_attention_prefill(const turbo_kernel *kernel, const turbo_prefill_args *args,
                                     void *stream) {
  return guarded(__func__, [&]() -> Status {
    auto call = prefillCall(kernel, args);
    if (!call)
      return call.status();
    return run(*kernel,
               ap::launches(prefillConfig(kernel), call->problem, call->buffers, call->steps),
               stream);
  });
}

turbo_status turbo_attention_prefill_reference(const turbo_head_config *head,
                                               const char *config,
                                               const turbo_prefill_args *args) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(args, "args is null");
    auto parsed = referenceConfig<AttentionPrefill>(head, config);
    if (!parsed)
      return parsed.status();
    auto call = prefillCallOf(args);
    if (!call)
      return call.status();
    const ap::Buffers &b = call->buffers;
    TURBO_RETURN_IF_ERROR(ap::canRunReference(*parsed, call->problem, b));
    auto host = [](uint64_t address) { return reinterpret_cast<uint16_t *>(address); };
    ap::reference(*parsed, call->problem, host(b.q), host(b.k), host(b.v), host(b.o),
                  parsed->writeLse ? reinterpret_cast<float *>(b.lse) : nullptr);
    return Status::ok();
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
    const char *prefillText = nullptr, *decodeText = nullptr;
    int64_t decodeBatch = 0, decodeContext = 0, prefillSeq = 0;
    if (desc) {
      TURBO_REQUIRE(desc->struct_size >= sizeof(size_t),
                    "turbo_plan_desc.struct_size is not set (use turbo_plan_desc_init)");
      if (TURBO_HAS_FIELD(desc, turbo_plan_desc, prefill_config))
        prefillText = desc->prefill_config;
      if (TURBO_HAS_FIELD(desc, turbo_plan_desc, decode_config))
        decodeText = desc->decode_config;
      if (TURBO_HAS_FIELD(desc, turbo_plan_desc, decode_context)) {
        decodeBatch = desc->decode_batch;
        decodeContext = desc->decode_context;
      }
      if (TURBO_HAS_FIELD(desc, turbo_plan_desc, prefill_seq))
        prefillSeq = desc->prefill_seq;
    }
    auto headConfig = headConfigOf(head, context->device->target());
    if (!headConfig)
      return headConfig.status();
    std::string prefillSource;
    const std::string prefillOverrides = tunedOverrides<AttentionPrefill>(
        context, *headConfig, prefillText ? prefillText : "",
        prefillSeq >= 1 ? runtime::prefillShapeBucket(prefillSeq) : "", prefillSource);
    auto config = templates::parseConfig<AttentionPrefill>(&*headConfig, prefillOverrides);
    if (!config)
      return config.status();
    // The varlen kernel: the same config, with the per-sequence bounds.
    AttentionPrefill::Config varlenConfig = *config;
    varlenConfig.varlen = true;
    auto padded = templates::AnyConfig::make<AttentionPrefill>(*config);
    auto packed = templates::AnyConfig::make<AttentionPrefill>(varlenConfig);
    if (!padded || !packed)
      return padded ? packed.status() : padded.status();
    auto prefill = makeKernel(context, *padded, headConfig->target);
    if (!prefill)
      return prefill.status();
    auto prefillVarlen = makeKernel(context, *packed, headConfig->target);
    if (!prefillVarlen)
      return prefillVarlen.status();
    auto created = std::make_unique<turbo_plan>();
    created->head = *headConfig;
    created->prefillSource = std::move(prefillSource);
    created->prefill = std::move(*prefill);
    created->prefillVarlen = std::move(*prefillVarlen);
    if (decodeText)
      TURBO_RETURN_IF_ERROR(addDecodeKernels(context, *headConfig, decodeText, decodeBatch,
                                             decodeContext, *created));
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
    const AttentionPrefill::Config &config = prefillConfig(&prefill);
    turbo_plan_info out{};
    out.struct_size = info->struct_size;
    out.prefill_config = prefill.config->text().c_str();
    out.prefill_ptx = prefill.compiled->ptx.c_str();
    out.prefill_registers = prefill.loaded->registers();
    out.prefill_local_bytes = prefill.loaded->localBytes();
    out.prefill_shared_bytes = prefill.compiled->info.sharedBytes;
    out.prefill_threads = prefill.compiled->info.numThreads;
    out.prefill_takes_int8_q = config.qInt8 ? 1 : 0;
    out.prefill_writes_lse = config.writeLse ? 1 : 0;
    out.decode_config = plan->decode ? plan->decode->config->text().c_str() : nullptr;
    out.decode_config_source = plan->decode ? plan->decodeSource.c_str() : nullptr;
    out.prefill_config_source = plan->prefillSource.c_str();
    std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
    return Status::ok();
  });
}

turbo_status turbo_plan_prefill_workspace_size(const turbo_plan *plan,
                                               const turbo_prefill_args *args, size_t *bytes) {
  if (!plan)
    return fail(invalid("plan is null"));
  return turbo_attention_prefill_workspace_size(plan->prefill.get(), args, bytes);
}

turbo_status turbo_plan_prefill(const turbo_plan *plan, const turbo_prefill_args *args,
                                void *stream) {
  if (!plan)
    return fail(invalid("plan is null"));
  return turbo_attention_prefill(
      packedArgs(args) ? plan->prefillVarlen.get() : plan->prefill.get(), args, stream);
}

namespace {
Status needDecode(const turbo_plan *plan) {
  if (!plan)
    return invalid("plan is null");
  if (!plan->decode)
    return invalid("the plan has no decode kernels: create it with turbo_plan_desc.decode_config "
                   "set (\"\" for the defaults)");
  return Status::ok();
}
} // namespace

turbo_status turbo_plan_write_prompt(const turbo_plan *plan, const turbo_kv_cache *cache,
                                     const turbo_kv_write_args *args, void *stream) {
  if (Status status = needDecode(plan); !status)
    return fail(status);
  return turbo_kv_write_prompt(plan->writePrompt.get(), cache, args, stream);
}

turbo_status turbo_plan_append_kv(const turbo_plan *plan, const turbo_kv_cache *cache,
                                  const turbo_kv_write_args *args, void *stream) {
  if (Status status = needDecode(plan); !status)
    return fail(status);
  return turbo_kv_append(plan->stage.get(), cache, args, stream);
}

turbo_status turbo_plan_decode(const turbo_plan *plan, const turbo_kv_cache *cache,
                               const turbo_decode_args *args, void *stream) {
  if (Status status = needDecode(plan); !status)
    return fail(status);
  return turbo_attention_decode(plan->decode.get(), cache, args, stream);
}

} // extern "C"
