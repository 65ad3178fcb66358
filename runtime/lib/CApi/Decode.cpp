//===- Decode.cpp - the KV cache and decode attention in the C API --------===//
//
// The C structs (turbo_kv_cache_desc, turbo_decode_args) to the cache's
// layout (turbo/Support/KvCache.h) and the template's Problem and Buffers;
// the checks and the launch sequence are the template's (attention_decode/).
//
//===----------------------------------------------------------------------===//
#include "ApiSupport.h"
#include "Kernels.h"

#include "attention_decode/AttentionDecode.h"
#include "kv_compress/KvCompress.h"
#include "kv_stage/KvStage.h"

#include "turbo/Support/KvCalibration.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

using namespace turbo;
using namespace turbo::capi;
using templates::AttentionDecode;
namespace ad = templates::attention_decode;

struct turbo_kv_cache {
  kv::CacheLayout layout;
  std::shared_ptr<runtime::Device> device;
  /// int32: the head table (bits, page offset per head), then two status words.
  uint64_t table = 0;
  uint64_t flags() const { return table + uint64_t(layout.kvHeads()) * 8; }
};

namespace {

Result<kv::CacheLayout> layoutOf(const turbo_kv_cache_desc *desc) {
  if (!desc)
    return invalid("desc is null");
  if (desc->struct_size < offsetof(turbo_kv_cache_desc, bits) + sizeof(desc->bits))
    return invalid("turbo_kv_cache_desc.struct_size is too small (use turbo_kv_cache_desc_init)");
  if (desc->kv_heads < 1 || desc->kv_heads > 256)
    return invalid(fmt::format("kv_heads must be in [1, 256], got {}", desc->kv_heads));
  std::vector<int> bits(size_t(desc->kv_heads), desc->bits == 0 ? 4 : desc->bits);
  if (desc->kv_bits)
    bits.assign(desc->kv_bits, desc->kv_bits + desc->kv_heads);
  // Callers built before sink_pages and window_pages get the defaults.
  kv::KeptPages kept = kv::kDefaultKeptPages;
  if (desc->struct_size >= offsetof(turbo_kv_cache_desc, window_pages) + sizeof(int))
    kept = {desc->sink_pages, desc->window_pages};
  return kv::CacheLayout::create(desc->head_dim, desc->page_size == 0 ? 64 : desc->page_size,
                                 std::move(bits), kept);
}

void fillInfo(const kv::CacheLayout &layout, turbo_kv_cache_info *info) {
  turbo_kv_cache_info out{};
  out.struct_size = info->struct_size;
  out.page_bytes = layout.pageBytes();
  out.staging_slot_bytes = layout.stagingSlotBytes();
  out.staging_rows = layout.staging().rows;
  out.bytes_per_token = layout.bytesPerTokenPerHead(4096);
  std::memcpy(info, &out, std::min(info->struct_size, sizeof(out)));
}

/// What one decode call asks for (`args` not null).
struct DecodeCall {
  ad::Problem problem;
  ad::Buffers buffers;
};

Result<DecodeCall> decodeCallOf(const turbo_decode_args *args, int64_t kvHeads) {
  if (args->struct_size < sizeof(turbo_decode_args))
    return invalid("turbo_decode_args.struct_size is too small (use turbo_decode_args_init)");
  if (!(args->softmax_scale >= 0 && std::isfinite(args->softmax_scale)))
    return invalid("softmax_scale must be finite and >= 0");
  DecodeCall call;
  ad::Problem &p = call.problem;
  p.batch = args->batch;
  p.kvHeads = kvHeads;
  p.numQuery = args->num_query;
  p.softmaxScale = args->softmax_scale;
  p.q = {args->q.batch_stride, args->q.head_stride, args->q.row_stride};
  p.o = {args->o.batch_stride, args->o.head_stride, args->o.row_stride};
  p.maxPages = args->max_pages;
  p.blockTableStride = args->block_table_stride;
  p.numPages = args->num_pages;
  p.splits = args->splits;
  ad::Buffers &b = call.buffers;
  b.q = args->q.data;
  b.o = args->o.data;
  b.pool = args->pool;
  b.staging = args->staging;
  b.blockTable = args->block_table;
  b.seqLens = args->seq_lens;
  b.workspace = args->workspace;
  b.workspaceBytes = int64_t(std::min<size_t>(args->workspace_bytes, INT64_MAX));
  return call;
}

Status checkKernel(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                   const turbo_decode_args *args) {
  TURBO_REQUIRE(kernel, "kernel is null");
  TURBO_REQUIRE(cache, "cache is null");
  TURBO_REQUIRE(args, "args is null");
  TURBO_REQUIRE(kernel->is<AttentionDecode>(),
                "the kernel was not made from the attention_decode template");
  return Status::ok();
}

/// The call with its splits decided (0: by the rule, for this GPU).
Result<DecodeCall> decodeCall(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                              const turbo_decode_args *args) {
  TURBO_RETURN_IF_ERROR(checkKernel(kernel, cache, args));
  auto call = decodeCallOf(args, cache->layout.kvHeads());
  if (!call)
    return call.status();
  if (call->problem.splits == 0)
    call->problem.splits =
        ad::chooseSplits(call->problem, cache->device->properties().multiprocessors,
                         kernel->loaded ? kernel->loaded->blocksPerMultiprocessor() : 1);
  return call;
}

namespace kc = templates::kv_compress;

/// A write call's Problem and Buffers (`args` not null).
Result<std::pair<kc::Problem, kc::Buffers>> writeCallOf(const turbo_kv_write_args *args,
                                                        int64_t kvHeads);

Result<std::pair<kc::Problem, kc::Buffers>> writeCallOf(const turbo_kv_write_args *args,
                                                        const turbo_kv_cache *cache) {
  auto call = writeCallOf(args, cache->layout.kvHeads());
  if (call) {
    call->second.headTable = cache->table;
    call->second.status = cache->flags();
  }
  return call;
}

Result<std::pair<kc::Problem, kc::Buffers>> writeCallOf(const turbo_kv_write_args *args,
                                                        int64_t kvHeads) {
  if (args->struct_size < sizeof(turbo_kv_write_args))
    return invalid("turbo_kv_write_args.struct_size is too small (use turbo_kv_write_args_init)");
  kc::Problem p;
  p.batch = args->batch;
  p.kvHeads = kvHeads;
  p.numNew = args->num_new;
  p.k = {args->k.batch_stride, args->k.head_stride, args->k.row_stride};
  p.v = {args->v.batch_stride, args->v.head_stride, args->v.row_stride};
  p.maxPages = args->max_pages;
  p.blockTableStride = args->block_table_stride;
  p.numPages = args->num_pages;
  kc::Buffers b;
  b.k = args->k.data;
  b.v = args->v.data;
  b.pool = args->pool;
  b.staging = args->staging;
  b.blockTable = args->block_table;
  b.seqLens = args->seq_lens;
  return std::make_pair(p, b);
}

/// What a CPU reference entry point of the cache starts from: the
/// template's config (referenceConfig) and the cache layout `desc` describes.
template <typename Template>
Result<std::pair<typename Template::Config, kv::CacheLayout>>
referenceInputs(const turbo_head_config *head, const char *config,
                const turbo_kv_cache_desc *desc) {
  auto parsed = referenceConfig<Template>(head, config);
  if (!parsed)
    return parsed.status();
  auto layout = layoutOf(desc);
  if (!layout)
    return layout.status();
  return std::make_pair(*parsed, *layout);
}

/// The status words a CPU reference set, into the caller's flags (may be null).
void copyFlags(const int32_t words[2], int flags[2]) {
  if (flags) {
    flags[0] = words[0];
    flags[1] = words[1];
  }
}

} // namespace

extern "C" {

void turbo_kv_write_args_init(turbo_kv_write_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
  args->num_new = 1;
}

turbo_status turbo_kv_append(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                             const turbo_kv_write_args *args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel && cache && args, "kernel, cache and args must not be null");
    TURBO_REQUIRE(kernel->is<templates::KvStage>(),
                  "the kernel was not made from the kv_stage template");
    auto call = writeCallOf(args, cache);
    if (!call)
      return call.status();
    return run(*kernel,
               templates::kv_stage::launches(kernel->config->as<templates::KvStage>(),
                                             cache->layout, call->first, call->second),
               stream);
  });
}

turbo_status turbo_kv_write_prompt(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                                   const turbo_kv_write_args *args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(kernel && cache && args, "kernel, cache and args must not be null");
    TURBO_REQUIRE(kernel->is<templates::KvCompress>(),
                  "the kernel was not made from the kv_compress template");
    const kc::Config &config = kernel->config->as<templates::KvCompress>();
    TURBO_REQUIRE(config.source == kc::Source::Tokens,
                  "turbo_kv_write_prompt needs a kv_compress kernel with source=tokens");
    auto call = writeCallOf(args, cache);
    if (!call)
      return call.status();
    return run(*kernel, kc::launches(config, cache->layout, call->first, call->second), stream);
  });
}

turbo_status turbo_kv_write_prompt_reference(const turbo_head_config *head, const char *config,
                                             const turbo_kv_cache_desc *desc,
                                             const turbo_kv_write_args *args, int flags[2]) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(args, "args is null");
    auto inputs = referenceInputs<templates::KvCompress>(head, config, desc);
    if (!inputs)
      return inputs.status();
    const auto &[parsed, layout] = *inputs;
    TURBO_REQUIRE(parsed.source == kc::Source::Tokens,
                  "turbo_kv_write_prompt_reference writes prompts (source=tokens)");
    auto call = writeCallOf(args, layout.kvHeads());
    if (!call)
      return call.status();
    const kc::Buffers &b = call->second;
    TURBO_REQUIRE(b.k && b.v && b.pool && b.staging && b.blockTable && b.seqLens,
                  "k, v, pool, staging, block_table and seq_lens must be set");
    // Host buffers: the launch's checks, with stand-in addresses for the
    // alignment that host memory does not need.
    kc::Buffers checked = b;
    checked.k = checked.v = checked.staging = 16;
    checked.pool = 128;
    checked.blockTable = checked.seqLens = 4;
    checked.headTable = 8;
    checked.status = 4;
    TURBO_RETURN_IF_ERROR(kc::canImplement(parsed, layout, call->first, checked));
    int32_t words[2] = {0, 0};
    kc::reference(parsed, layout, call->first, reinterpret_cast<const uint16_t *>(b.k),
                  reinterpret_cast<const uint16_t *>(b.v), reinterpret_cast<uint8_t *>(b.pool),
                  reinterpret_cast<uint8_t *>(b.staging),
                  reinterpret_cast<const int32_t *>(b.blockTable),
                  reinterpret_cast<const int32_t *>(b.seqLens), words);
    copyFlags(words, flags);
    return Status::ok();
  });
}

void turbo_kv_cache_desc_init(turbo_kv_cache_desc *desc) {
  if (!desc)
    return;
  std::memset(desc, 0, sizeof(*desc));
  desc->struct_size = sizeof(*desc);
  desc->kv_heads = 8;
  desc->head_dim = 128;
  desc->page_size = 64;
  desc->bits = 4;
  desc->sink_pages = int(kv::kDefaultKeptPages.sink);
  desc->window_pages = int(kv::kDefaultKeptPages.window);
}

turbo_status turbo_kv_cache_layout(const turbo_kv_cache_desc *desc, turbo_kv_cache_info *info) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(info, "info is null");
    auto layout = layoutOf(desc);
    if (!layout)
      return layout.status();
    fillInfo(*layout, info);
    return Status::ok();
  });
}

namespace {
/// Refuses a sample with NaN or infinity (`what`'s head h, at its token).
Status checkFinite(const char *what, const float *x, int heads, int64_t tokens, int headDim) {
  for (int h = 0; h < heads; ++h)
    for (int64_t i = 0; i < tokens * headDim; ++i)
      if (!std::isfinite(x[int64_t(h) * tokens * headDim + i]))
        return invalid(fmt::format("{} head {}'s samples hold NaN or infinity (token {})", what,
                                   h, i / headDim));
  return Status::ok();
}

Status checkSampleShape(int kvHeads, int64_t tokens, int headDim) {
  TURBO_REQUIRE(kvHeads >= 1 && kvHeads <= 256, "kv_heads must be in [1, 256]");
  TURBO_REQUIRE(tokens >= 1 && headDim >= 1 && tokens * headDim <= (int64_t(1) << 40),
                "tokens and head_dim must be positive");
  return Status::ok();
}
} // namespace

namespace {
/// One layer's per-KV-head losses at `bits` (turbo_kv_calibrate's checks).
Result<std::vector<double>> layerLosses(const float *q, const float *k, const float *v,
                                        int q_heads, int kv_heads, int64_t tokens, int head_dim,
                                        int page_size, int sink_pages, int window_pages,
                                        int bits) {
  TURBO_REQUIRE(q && k && v, "q, k and v must not be null");
  if (Status shape = checkSampleShape(kv_heads, tokens, head_dim); !shape.isOk())
    return shape;
  TURBO_REQUIRE(q_heads >= kv_heads && q_heads % kv_heads == 0,
                fmt::format("q_heads ({}) must be a multiple of kv_heads ({})", q_heads,
                            kv_heads));
  TURBO_REQUIRE(bits == 2 || bits == 4 || bits == 8,
                fmt::format("bits must be 2, 4 or 8, not {}", bits));
  for (auto [what, x, heads] : {std::tuple{"query", q, q_heads}, std::tuple{"KV", k, kv_heads},
                                std::tuple{"KV", v, kv_heads}})
    if (Status finite = checkFinite(what, x, heads, tokens, head_dim); !finite.isOk())
      return finite;
  const kv::KeptPages kept{sink_pages < 0 ? kv::kDefaultKeptPages.sink : sink_pages,
                           window_pages < 0 ? kv::kDefaultKeptPages.window : window_pages};
  return kv::measureLayerLosses(q, k, v, q_heads, kv_heads, tokens, head_dim,
                                page_size > 0 ? page_size : 64, kept, bits);
}
} // namespace

turbo_status turbo_kv_calibrate(const float *q, const float *k, const float *v, int q_heads,
                                int kv_heads, int64_t tokens, int head_dim, int page_size,
                                int sink_pages, int window_pages, double fraction_2bit, int *bits,
                                double *losses) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(bits, "bits must not be null");
    TURBO_REQUIRE(fraction_2bit >= 0.0 && fraction_2bit <= 1.0,
                  "fraction_2bit must be in [0, 1]");
    auto scores = layerLosses(q, k, v, q_heads, kv_heads, tokens, head_dim, page_size,
                              sink_pages, window_pages, 2);
    if (!scores)
      return scores.status();
    const std::vector<int> picked = kv::pickBits(*scores, fraction_2bit);
    std::copy(picked.begin(), picked.end(), bits);
    if (losses)
      std::copy(scores->begin(), scores->end(), losses);
    return Status::ok();
  });
}

turbo_status turbo_kv_head_priorities(const float *k, const float *v, int kv_heads,
                                      int64_t tokens, int head_dim, double *priorities) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(k && v && priorities, "k, v and priorities must not be null");
    if (Status shape = checkSampleShape(kv_heads, tokens, head_dim); !shape.isOk())
      return shape;
    for (const float *x : {k, v})
      if (Status finite = checkFinite("KV", x, kv_heads, tokens, head_dim); !finite.isOk())
        return finite;
    const int64_t perHead = tokens * head_dim;
    for (int h = 0; h < kv_heads; ++h)
      priorities[h] = kv::headPriority(k + h * perHead, v + h * perHead, tokens, head_dim);
    return Status::ok();
  });
}

turbo_status turbo_kv_pick_bits(const double *scores, int count, double fraction_2bit,
                                int *bits) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(scores && bits, "scores and bits must not be null");
    TURBO_REQUIRE(count >= 1, "count must be positive");
    TURBO_REQUIRE(fraction_2bit >= 0.0 && fraction_2bit <= 1.0,
                  "fraction_2bit must be in [0, 1]");
    for (int i = 0; i < count; ++i)
      TURBO_REQUIRE(!std::isnan(scores[i]), fmt::format("score {} is NaN", i));
    const std::vector<int> picked =
        kv::pickBits(std::vector<double>(scores, scores + count), fraction_2bit);
    std::copy(picked.begin(), picked.end(), bits);
    return Status::ok();
  });
}

turbo_status turbo_kv_head_losses(const float *q, const float *k, const float *v, int q_heads,
                                  int kv_heads, int64_t tokens, int head_dim, int page_size,
                                  int sink_pages, int window_pages, int bits, double *losses) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(losses, "losses must not be null");
    auto found = layerLosses(q, k, v, q_heads, kv_heads, tokens, head_dim, page_size,
                             sink_pages, window_pages, bits);
    if (!found)
      return found.status();
    std::copy(found->begin(), found->end(), losses);
    return Status::ok();
  });
}

turbo_status turbo_kv_pick_bits_within(const double *losses_2bit, const double *losses_4bit,
                                       int count, double max_rel_err, int *bits,
                                       double *predicted) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(losses_2bit && losses_4bit && bits,
                  "losses_2bit, losses_4bit and bits must not be null");
    TURBO_REQUIRE(count >= 1, "count must be positive");
    TURBO_REQUIRE(max_rel_err > 0.0 && std::isfinite(max_rel_err),
                  "max_rel_err must be positive and finite");
    for (int i = 0; i < count; ++i)
      TURBO_REQUIRE(losses_2bit[i] >= 0.0 && losses_4bit[i] >= 0.0 &&
                        std::isfinite(losses_2bit[i]) && std::isfinite(losses_4bit[i]),
                    fmt::format("the losses of head {} must be finite and not negative", i));
    const kv::BudgetPick pick =
        kv::pickBitsWithinBudget(std::vector<double>(losses_2bit, losses_2bit + count),
                                 std::vector<double>(losses_4bit, losses_4bit + count),
                                 max_rel_err);
    std::copy(pick.bits.begin(), pick.bits.end(), bits);
    if (predicted)
      *predicted = pick.predicted;
    return Status::ok();
  });
}

turbo_status turbo_kv_cache_create(turbo_context *context, const turbo_kv_cache_desc *desc,
                                   turbo_kv_cache **cache) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(cache, "cache is null");
    *cache = nullptr;
    TURBO_REQUIRE(context, "context is null");
    auto layout = layoutOf(desc);
    if (!layout)
      return layout.status();
    auto made = std::make_unique<turbo_kv_cache>(turbo_kv_cache{*layout, context->device, 0});
    std::vector<int32_t> table = ad::headTable(*layout);
    table.push_back(0);
    table.push_back(0);
    auto memory = context->device->allocate(table.size() * 4);
    if (!memory)
      return memory.status();
    made->table = *memory;
    Status copied = context->device->copyToDevice(made->table, table.data(), table.size() * 4);
    if (!copied) {
      (void)context->device->free(made->table);
      return copied;
    }
    *cache = made.release();
    return Status::ok();
  });
}

turbo_status turbo_kv_cache_destroy(turbo_kv_cache *cache) {
  return guarded(__func__, [&]() -> Status {
    if (!cache)
      return Status::ok();
    std::unique_ptr<turbo_kv_cache> owned(cache);
    return owned->device->free(owned->table);
  });
}

turbo_status turbo_kv_cache_get_info(const turbo_kv_cache *cache, turbo_kv_cache_info *info) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(cache, "cache is null");
    TURBO_REQUIRE(info, "info is null");
    fillInfo(cache->layout, info);
    return Status::ok();
  });
}

turbo_status turbo_kv_cache_read_flags(turbo_kv_cache *cache, int flags[2], int reset) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(cache, "cache is null");
    TURBO_REQUIRE(flags, "flags is null");
    TURBO_RETURN_IF_ERROR(cache->device->synchronize());
    int32_t words[2] = {0, 0};
    TURBO_RETURN_IF_ERROR(cache->device->copyToHost(words, cache->flags(), sizeof(words)));
    flags[0] = words[0];
    flags[1] = words[1];
    if (reset)
      TURBO_RETURN_IF_ERROR(cache->device->fill(cache->flags(), 0, sizeof(words)));
    return Status::ok();
  });
}

void turbo_decode_args_init(turbo_decode_args *args) {
  if (!args)
    return;
  std::memset(args, 0, sizeof(*args));
  args->struct_size = sizeof(*args);
  args->num_query = 1;
}

turbo_status turbo_attention_decode_workspace_size(const turbo_kernel *kernel,
                                                   const turbo_kv_cache *cache,
                                                   const turbo_decode_args *args, size_t *bytes,
                                                   int64_t *splits) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(bytes, "bytes is null");
    *bytes = 0;
    auto call = decodeCall(kernel, cache, args);
    if (!call)
      return call.status();
    if (call->problem.batch < 1 || call->problem.maxPages < 0 || call->problem.splits < 1 ||
        call->problem.splits > 1024)
      return invalid("batch must be positive, max_pages not negative, splits in [0, 1024]");
    *bytes = size_t(ad::workspaceBytes(kernel->config->as<AttentionDecode>(), call->problem));
    if (splits)
      *splits = call->problem.splits;
    return Status::ok();
  });
}

turbo_status turbo_attention_decode(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                                    const turbo_decode_args *args, void *stream) {
  return guarded(__func__, [&]() -> Status {
    auto call = decodeCall(kernel, cache, args);
    if (!call)
      return call.status();
    call->buffers.headTable = cache->table;
    call->buffers.status = cache->flags();
    return run(*kernel,
               ad::launches(kernel->config->as<AttentionDecode>(), cache->layout, call->problem,
                            call->buffers),
               stream);
  });
}

turbo_status turbo_attention_decode_reference(const turbo_head_config *head, const char *config,
                                              const turbo_kv_cache_desc *desc,
                                              const turbo_decode_args *args, int flags[2]) {
  return guarded(__func__, [&]() -> Status {
    TURBO_REQUIRE(args, "args is null");
    auto inputs = referenceInputs<AttentionDecode>(head, config, desc);
    if (!inputs)
      return inputs.status();
    const auto &[parsed, layout] = *inputs;
    auto call = decodeCallOf(args, layout.kvHeads());
    if (!call)
      return call.status();
    call->problem.splits = 1;
    // Host buffers: the same checks as a launch (alignment of host memory
    // is not needed, so stand-in addresses are checked instead).
    ad::Buffers checked = call->buffers;
    checked.headTable = 8;
    checked.status = 4;
    checked.pool = call->buffers.pool ? 128 : 0;
    checked.q = checked.o = checked.staging = 16;
    checked.blockTable = checked.seqLens = 4;
    TURBO_REQUIRE(call->buffers.q && call->buffers.o && call->buffers.staging &&
                      call->buffers.blockTable && call->buffers.seqLens,
                  "q, o, staging, block_table and seq_lens must be set");
    TURBO_RETURN_IF_ERROR(ad::canImplement(parsed, layout, call->problem, checked));
    int32_t words[2] = {0, 0};
    const ad::Buffers &b = call->buffers;
    ad::reference(parsed, layout, call->problem, reinterpret_cast<const uint16_t *>(b.q),
                  reinterpret_cast<uint16_t *>(b.o), reinterpret_cast<const uint8_t *>(b.pool),
                  reinterpret_cast<const uint8_t *>(b.staging),
                  reinterpret_cast<const int32_t *>(b.blockTable),
                  reinterpret_cast<const int32_t *>(b.seqLens), words);
    copyFlags(words, flags);
    return Status::ok();
  });
}

} // extern "C"
