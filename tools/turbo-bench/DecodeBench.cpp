//===- DecodeBench.cpp - turbo-bench's decode measurement -----------------===//
#include "DecodeBench.h"
#include "BenchDevice.h"
#include "../common/ToolOptions.h"

#include "attention_decode/DecodeInputs.h"
#include "kv_stage/KvStage.h"
#include "turbo/Support/Numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace turbo::tools {
namespace ad = turbo::templates::attention_decode;

namespace {

struct DecodeRun {
  turbo_kernel *kernel;
  turbo_kv_cache *cache;
  turbo_decode_args args;
};

turbo_status launchDecode(void *data, void *stream) {
  auto *run = static_cast<DecodeRun *>(data);
  return turbo_attention_decode(run->kernel, run->cache, &run->args, stream);
}

/// The benchmark's widths: the head's kv_bits, or for mixed 4 and 2 by turns.
std::vector<int> benchBits(const turbo_head_config &head) {
  std::vector<int> bits(size_t(head.kv_heads), head.kv_bits == 0 ? 4 : head.kv_bits);
  if (head.kv_bits == 0)
    for (size_t h = 1; h < bits.size(); h += 2)
      bits[h] = 2;
  return bits;
}

using CacheHandle = std::unique_ptr<turbo_kv_cache, decltype(&turbo_kv_cache_destroy)>;

/// The cache's description on the context for these widths.
turbo_status createCache(turbo_context *context, const turbo_head_config &head, int64_t headDim,
                         int64_t pageSize, const std::vector<int> &bits, CacheHandle &out) {
  turbo_kv_cache_desc desc;
  turbo_kv_cache_desc_init(&desc);
  desc.kv_heads = head.kv_heads;
  desc.head_dim = int(headDim);
  desc.page_size = int(pageSize);
  desc.kv_bits = bits.data();
  turbo_kv_cache *cache = nullptr;
  turbo_status status = turbo_kv_cache_create(context, &desc, &cache);
  out.reset(cache);
  return status;
}
} // namespace

struct DecodeBench::State {
  turbo_context *context;
  ad::Config config;
  DecodeBenchOptions options;
  ad::Problem problem;
  double bytesRead = 0;
  CacheHandle cache{nullptr, turbo_kv_cache_destroy};
  DeviceBuffer q{context}, o{context}, pool{context}, staging{context}, table{context},
      lens{context};
  std::vector<uint16_t> expected; ///< sequence 0's rows, the CPU reference
};

DecodeBench::DecodeBench(std::unique_ptr<State> state) : state(std::move(state)) {}
DecodeBench::~DecodeBench() = default;

turbo_status DecodeBench::create(turbo_context *context, const ad::Config &c,
                                 const turbo_head_config &head, const DecodeBenchOptions &options,
                                 std::unique_ptr<DecodeBench> &out) {
  const std::vector<int> bits = benchBits(head);
  ad::DecodeShape shape;
  shape.batch = options.batch;
  shape.kvHeads = head.kv_heads;
  shape.numQuery = options.numQuery;
  shape.lengths.assign(size_t(options.batch), options.context);
  shape.sparePages = 0;
  shape.benchmark = true;
  std::mt19937 rng(17);
  ad::DecodeInputs in = ad::makeDecodeInputs(c, bits, shape, "normal", rng);
  auto state = std::make_unique<State>(State{context, c, options, in.problem});
  const ad::Problem &p = state->problem;
  turbo_status status = createCache(context, head, c.headDim, c.pageSize, bits, state->cache);
  if (status)
    return status;
  if ((status = upload(context, state->q, in.q)) ||
      (status = upload(context, state->pool, in.pool)) ||
      (status = upload(context, state->staging, in.staging)) ||
      (status = upload(context, state->table, in.blockTable)) ||
      (status = upload(context, state->lens, in.seqLens)) ||
      (status = turbo_device_alloc(context, in.q.size() * 2, &state->o.pointer)))
    return status;
  // Sequence 0 on the CPU, with the same arithmetic.
  ad::Problem first = p;
  first.batch = 1;
  int32_t flags[2] = {0, 0};
  state->expected.assign(size_t(p.q.batch), 0);
  ad::reference(c, in.layout, first, in.q.data(), state->expected.data(), in.pool.data(),
                in.staging.data(), in.blockTable.data(), in.seqLens.data(), flags);
  // Bytes a step reads: each sequence's pool pages and staged tokens (kept
  // pages and the tail), q, o.
  const int64_t full = options.context / c.pageSize;
  const int64_t poolPages = in.layout.poolEnd(full) - in.layout.kept().sink;
  const int64_t staged = options.context - poolPages * c.pageSize;
  state->bytesRead =
      double(p.batch) * (double(poolPages) * double(in.layout.pageBytes()) +
                         double(staged) * double(in.layout.staging().rowBytes) *
                             double(head.kv_heads)) +
      2.0 * double(in.q.size()) * 2.0;
  out.reset(new DecodeBench(std::move(state)));
  return TURBO_STATUS_OK;
}

turbo_status DecodeBench::measure(turbo_kernel *kernel, DecodeBenchResult &out) {
  State &s = *state;
  const ad::Problem &p = s.problem;
  turbo_status status = turbo_device_fill(s.context, s.o.pointer, 0xff, s.expected.size() * 2 *
                                                                            size_t(p.batch));
  if (status)
    return status;
  DecodeRun run{kernel, s.cache.get(), {}};
  turbo_decode_args &args = run.args;
  turbo_decode_args_init(&args);
  args.batch = p.batch;
  args.num_query = p.numQuery;
  args.q = {s.q.pointer, p.q.batch, p.q.head, p.q.token};
  args.o = {s.o.pointer, p.o.batch, p.o.head, p.o.token};
  args.pool = s.pool.pointer;
  args.num_pages = p.numPages;
  args.staging = s.staging.pointer;
  args.block_table = s.table.pointer;
  args.max_pages = p.maxPages;
  args.block_table_stride = p.blockTableStride;
  args.seq_lens = s.lens.pointer;
  args.splits = s.options.splits;
  size_t workspaceBytes = 0;
  if ((status = turbo_attention_decode_workspace_size(kernel, s.cache.get(), &args,
                                                      &workspaceBytes, &out.splits)))
    return status;
  DeviceBuffer workspace{s.context};
  if (workspaceBytes &&
      (status = turbo_device_alloc(s.context, workspaceBytes, &workspace.pointer)))
    return status;
  args.workspace = workspace.pointer;
  args.workspace_bytes = workspaceBytes;
  if ((status = launchDecode(&run, nullptr)) || (status = turbo_synchronize(s.context)))
    return status;

  std::vector<uint16_t> got(s.expected.size());
  if ((status = turbo_copy_to_host(s.context, got.data(), s.o.pointer, got.size() * 2)))
    return status;
  const double error = ad::relativeL2(ad::toDoubles(got, s.config.dtype),
                                      ad::toDoubles(s.expected, s.config.dtype));
  out.verified = error <= (s.config.dtype == DType::BF16 ? 8e-3 : 2e-3);
  out.detail = fmt::format("rel L2 {:.1e} vs CPU reference (sequence 0), {} splits", error,
                           out.splits);

  LaunchTiming timing;
  if ((status = timeLaunch(s.context, launchDecode, &run, s.options.warmup, s.options.repeats,
                           s.options.coldL2, timing)))
    return status;
  out.medianUs = timing.medianUs;
  out.minUs = timing.minUs;
  out.bytesRead = s.bytesRead;
  return TURBO_STATUS_OK;
}

turbo_status benchDecode(turbo_context *context, turbo_kernel *kernel, const ad::Config &c,
                         const turbo_head_config &head, const DecodeBenchOptions &options,
                         DecodeBenchResult &out) {
  std::unique_ptr<DecodeBench> bench;
  turbo_status status = DecodeBench::create(context, c, head, options, bench);
  return status ? status : bench->measure(kernel, out);
}

namespace {
struct AppendRun {
  turbo_kernel *kernel;
  turbo_kv_cache *cache;
  turbo_kv_write_args args;
};

turbo_status launchAppend(void *data, void *stream) {
  auto *run = static_cast<AppendRun *>(data);
  return turbo_kv_append(run->kernel, run->cache, &run->args, stream);
}
} // namespace

turbo_status benchAppend(turbo_context *context, turbo_kernel *kernel,
                         const templates::kv_compress::Config &c, const turbo_head_config &head,
                         const DecodeBenchOptions &options, DecodeBenchResult &out) {
  namespace kc = turbo::templates::kv_compress;
  const std::vector<int> bits = benchBits(head);
  // The cache as decode's benchmark builds it, with one more page a sequence
  // for the step to reach.
  ad::Config decodeConfig;
  decodeConfig.headDim = c.headDim;
  decodeConfig.dtype = c.dtype;
  decodeConfig.pageSize = c.pageSize;
  ad::DecodeShape shape;
  shape.batch = options.batch;
  shape.kvHeads = head.kv_heads;
  shape.lengths.assign(size_t(options.batch), options.context);
  shape.maxPages = options.context / c.pageSize + 1;
  shape.sparePages = options.batch;
  shape.benchmark = true;
  std::mt19937 rng(23);
  ad::DecodeInputs in = ad::makeDecodeInputs(decodeConfig, bits, shape, "normal", rng);
  ad::Problem &p = in.problem;
  std::vector<bool> used(size_t(p.numPages), false);
  for (int32_t id : in.blockTable)
    if (id >= 0)
      used[size_t(id)] = true;
  int32_t spare = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    while (used[size_t(spare)])
      ++spare;
    used[size_t(spare)] = true;
    in.blockTable[size_t(b * p.blockTableStride + options.context / c.pageSize)] = spare;
  }
  const int64_t n = options.numQuery, D = c.headDim;
  std::vector<uint16_t> k(size_t(p.batch * p.kvHeads * n * D)), v(k.size());
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = numerics::floatToHalf(normal(rng));
    v[i] = numerics::floatToHalf(normal(rng));
  }

  CacheHandle owned(nullptr, turbo_kv_cache_destroy);
  turbo_status status = createCache(context, head, D, c.pageSize, bits, owned);
  if (status)
    return status;
  turbo_kv_cache *cache = owned.get();
  DeviceBuffer dk{context}, dv{context}, pool{context}, staging{context}, table{context},
      lens{context};
  if ((status = upload(context, dk, k)) || (status = upload(context, dv, v)) ||
      (status = upload(context, pool, in.pool)) || (status = upload(context, staging, in.staging)) ||
      (status = upload(context, table, in.blockTable)) ||
      (status = upload(context, lens, in.seqLens)))
    return status;
  AppendRun run{kernel, cache, {}};
  turbo_kv_write_args &args = run.args;
  turbo_kv_write_args_init(&args);
  args.batch = p.batch;
  args.num_new = n;
  args.k = {dk.pointer, p.kvHeads * n * D, n * D, D};
  args.v = args.k;
  args.v.data = dv.pointer;
  args.pool = pool.pointer;
  args.num_pages = p.numPages;
  args.staging = staging.pointer;
  args.block_table = table.pointer;
  args.max_pages = p.maxPages;
  args.block_table_stride = p.blockTableStride;
  args.seq_lens = lens.pointer;
  if ((status = launchAppend(&run, nullptr)) || (status = turbo_synchronize(context)))
    return status;
  std::vector<uint8_t> gotPool(in.pool.size()), gotStaging(in.staging.size());
  if ((status = turbo_copy_to_host(context, gotPool.data(), pool.pointer, gotPool.size())) ||
      (status = turbo_copy_to_host(context, gotStaging.data(), staging.pointer,
                                   gotStaging.size())))
    return status;
  kc::Problem w{p.batch, p.kvHeads, n, {p.kvHeads * n * D, n * D, D}, {p.kvHeads * n * D, n * D, D},
                p.maxPages, p.blockTableStride, p.numPages};
  int32_t flags[2] = {0, 0};
  templates::kv_stage::reference(c, in.layout, w, k.data(), v.data(), in.pool.data(),
                                 in.staging.data(), in.blockTable.data(), in.seqLens.data(), flags);
  out.verified = gotPool == in.pool && gotStaging == in.staging;
  const bool fills = options.context % c.pageSize + n >= c.pageSize;
  out.detail = fmt::format("pool and staging {} the CPU reference; the step {}",
                           out.verified ? "byte-exact against" : "DIFFER from",
                           fills ? "compresses a page" : "fills no page");

  LaunchTiming timing;
  if ((status = timeLaunch(context, launchAppend, &run, options.warmup, options.repeats,
                           /*coldL2=*/false, timing)))
    return status;
  out.medianUs = timing.medianUs;
  out.minUs = timing.minUs;
  // Bytes a step moves: the new tokens in; the staged rows out; with a page
  // filled, the staged rows of the page leaving the window in and the page out.
  const int64_t stagedRowBytes = in.layout.staging().rowBytes;
  double bytes = double(k.size() + v.size()) * 2.0 +
                 double(p.batch * p.kvHeads * n) * double(stagedRowBytes);
  if (fills)
    bytes += double(p.batch) * double(p.kvHeads * in.layout.pageSize() * stagedRowBytes +
                                      in.layout.pageBytes());
  out.bytesRead = bytes;
  return TURBO_STATUS_OK;
}

} // namespace turbo::tools
