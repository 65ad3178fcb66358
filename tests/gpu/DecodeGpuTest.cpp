//===- DecodeGpuTest.cpp - decode over the compressed cache on the GPU ----===//
//
// Caches built on the host as appends and page compression write them
// (fresh random K/V of several kinds, shuffled pages, a page two sequences
// share, ragged lengths, NaN in the staging rows no token uses), the output
// poisoned: the GPU's output must match the CPU reference of the same
// arithmetic (attention_decode::reference) to rounding, for every page width
// and mix, head dim, dtype, several query tokens and split counts; bad
// block-table entries and lengths must be reported and kept in bounds.
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "attention_decode/DecodeInputs.h"

#include <fmt/format.h>

#include <cmath>
#include <random>

using namespace turbo;
using namespace turbo::gpu_tests;
namespace ad = turbo::templates::attention_decode;

namespace {
constexpr uint16_t kPoison = 0x7e01; // a NaN in f16 and bf16 alike

struct DecodeCase {
  std::vector<int> bits;   ///< per KV head
  int group = 4;
  int headDim = 128;
  bool bf16 = false;
  int maxQuery = 1, numQuery = 1;
  std::vector<int64_t> lengths;
  std::string kind = "normal";
  int64_t splits = 1;      ///< 0: the C API's choice
  kv::KeptPages kept = kv::kDefaultKeptPages;
  std::string config = ""; ///< more attention_decode parameters, "key=value,..."
};

std::string describe(const DecodeCase &c) {
  return fmt::format("bits {} group {} d{} {} n={}/{} lengths {} {} splits {} kept {}+{} {}",
                     fmt::join(c.bits, ","), c.group, c.headDim, c.bf16 ? "bf16" : "f16",
                     c.numQuery, c.maxQuery, fmt::join(c.lengths, ","), c.kind, c.splits,
                     c.kept.sink, c.kept.window, c.config);
}

/// Runs one case; `damage` may spoil the inputs after they are built.
/// Returns the flags the kernel set.
std::array<int, 2> runCase(const DecodeCase &c, std::mt19937 &rng,
                           const std::function<void(ad::DecodeInputs &)> &damage = {}) {
  INFO(describe(c));
  const int kvHeads = int(c.bits.size());
  bool mixed = false;
  for (int b : c.bits)
    mixed |= b != c.bits[0];
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = kvHeads * c.group;
  head.kv_heads = kvHeads;
  head.head_dim = c.headDim;
  head.dtype = c.bf16 ? TURBO_DTYPE_BF16 : TURBO_DTYPE_F16;
  head.kv_bits = mixed ? 0 : c.bits[0];
  const std::string text =
      fmt::format("max_query={}{}{}", c.maxQuery, c.config.empty() ? "" : ",", c.config);
  Kernel kernel("attention_decode", &head, text);
  const ad::Config config = configOf<templates::AttentionDecode>(kernel, text, &head);

  ad::DecodeShape shape;
  shape.batch = int64_t(c.lengths.size());
  shape.kvHeads = kvHeads;
  shape.numQuery = c.numQuery;
  shape.lengths = c.lengths;
  shape.sharedFirstPage = shape.batch > 1;
  shape.kept = c.kept;
  ad::DecodeInputs in = ad::makeDecodeInputs(config, c.bits, shape, c.kind, rng);
  if (damage)
    damage(in);

  turbo_kv_cache_desc desc;
  turbo_kv_cache_desc_init(&desc);
  desc.kv_heads = kvHeads;
  desc.head_dim = c.headDim;
  desc.page_size = int(config.pageSize);
  desc.kv_bits = c.bits.data();
  desc.sink_pages = int(c.kept.sink);
  desc.window_pages = int(c.kept.window);
  turbo_kv_cache *cache = nullptr;
  TURBO_CHECK(turbo_kv_cache_create(context(), &desc, &cache));
  std::unique_ptr<turbo_kv_cache, decltype(&turbo_kv_cache_destroy)> owned(cache,
                                                                           turbo_kv_cache_destroy);

  DeviceBuffer q(in.q.size() * 2), o(in.q.size() * 2), pool(std::max<size_t>(in.pool.size(), 128)),
      staging(in.staging.size()), table(in.blockTable.size() * 4), lens(in.seqLens.size() * 4);
  q.upload(in.q);
  pool.upload(in.pool);
  staging.upload(in.staging);
  table.upload(in.blockTable);
  lens.upload(in.seqLens);
  o.upload(std::vector<uint16_t>(in.q.size(), kPoison));

  turbo_decode_args args;
  turbo_decode_args_init(&args);
  const ad::Problem &p = in.problem;
  args.batch = p.batch;
  args.num_query = p.numQuery;
  args.q = {q.get(), p.q.batch, p.q.head, p.q.token};
  args.o = {o.get(), p.o.batch, p.o.head, p.o.token};
  args.pool = pool.get();
  args.num_pages = p.numPages;
  args.staging = staging.get();
  args.block_table = table.get();
  args.max_pages = p.maxPages;
  args.block_table_stride = p.blockTableStride;
  args.seq_lens = lens.get();
  args.splits = c.splits;
  size_t workspaceBytes = 0;
  int64_t splits = 0;
  TURBO_CHECK(turbo_attention_decode_workspace_size(kernel.get(), cache, &args, &workspaceBytes,
                                                    &splits));
  REQUIRE(splits >= 1);
  if (c.splits > 0)
    REQUIRE(splits == c.splits);
  std::unique_ptr<DeviceBuffer> workspace;
  if (workspaceBytes) {
    workspace = std::make_unique<DeviceBuffer>(workspaceBytes);
    workspace->poison(0xff);
    args.workspace = workspace->get();
    args.workspace_bytes = workspaceBytes;
  }
  TURBO_CHECK(turbo_attention_decode(kernel.get(), cache, &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  std::vector<uint16_t> got = o.download<uint16_t>();
  std::array<int, 2> flags{};
  TURBO_CHECK(turbo_kv_cache_read_flags(cache, flags.data(), 1));

  std::vector<uint16_t> expected(in.q.size(), 0);
  int32_t refFlags[2] = {0, 0};
  ad::reference(config, in.layout, p, in.q.data(), expected.data(), in.pool.data(),
                in.staging.data(), in.blockTable.data(), in.seqLens.data(), refFlags);
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    REQUIRE((got[i] & 0x7c00) != 0x7c00); // written, finite
  }
  const std::vector<double> gpu = ad::toDoubles(got, config.dtype);
  const std::vector<double> cpu = ad::toDoubles(expected, config.dtype);
  const double error = ad::relativeL2(gpu, cpu);
  const double exact = ad::relativeL2(gpu, ad::exactDecode(config, in));
  INFO("against the reference " << error << ", against float64 attention " << exact
                                << " (splits " << splits << ")");
  // The MMAs add in f32 in their own order, splits combine in another:
  // rounding only. A wrong page, mask or scale is O(1e-1).
  CHECK(error < (c.bf16 ? 8e-3 : 2e-3));
  CHECK(flags[0] == refFlags[0]);
  CHECK(flags[1] == refFlags[1]);
  return flags;
}
} // namespace

TEST_CASE("attention_decode: every page width against the CPU reference", "[gpu][decode]") {
  std::mt19937 rng(1234);
  const std::vector<int64_t> lengths = {64 * 9 + 13, 64 * 3, 40, 64 * 20 + 63};
  for (std::vector<int> bits : {std::vector<int>{4, 4}, {2, 2}, {8, 8}, {2, 4}, {4, 2}})
    for (int64_t splits : {1, 3, 0})
      runCase({bits, 4, 128, false, 1, 1, lengths, "normal", splits}, rng);
}

TEST_CASE("attention_decode: decode_reduce combining several splits a step", "[gpu][decode]") {
  std::mt19937 rng(31);
  const std::vector<int64_t> lengths = {64 * 30 + 5, 64 * 2, 64 * 13 + 63};
  // Split counts below, at and above a step's 8, and not multiples of it;
  // steps of one split and of 32, and a program over all 128 columns.
  for (int64_t splits : {3, 8, 13, 0})
    for (const char *step : {"reduce_splits_per_step=8", "reduce_splits_per_step=2",
                             "reduce_splits_per_step=1", "reduce_splits_per_step=32",
                             "reduce_block_cols=128"}) {
      DecodeCase c{{4, 2}, 4, 128, false, 1, 1, lengths, "sink", splits};
      c.config = step;
      runCase(c, rng);
    }
}

TEST_CASE("attention_decode: pages through shared-memory stages", "[gpu][decode]") {
  std::mt19937 rng(77);
  // Splits of one page (nothing ahead to copy), of fewer pages than stages,
  // and of many; the staged pages' loop is staged too.
  const std::vector<int64_t> lengths = {64 * 9 + 13, 64, 40, 64 * 20 + 63, 64 * 2 + 1};
  for (const char *stages : {"num_stages=2", "num_stages=3", "num_stages=4"})
    for (std::vector<int> bits : {std::vector<int>{4, 2}, {8, 8}})
      for (int64_t splits : {1, 7, 0}) {
        DecodeCase c{bits, 4, 128, false, 1, 1, lengths, "sink", splits};
        c.config = stages;
        runCase(c, rng);
      }
  DecodeCase several{{2, 4}, 4, 64, true, 4, 3, lengths, "outliers", 2};
  several.config = "num_stages=3";
  runCase(several, rng);
  // A block-table entry outside the pool, read a page or two ahead by the
  // copies: skipped and flagged as without stages.
  DecodeCase bad{{4, 2}, 4, 128, false, 1, 1, {64 * 4 + 9, 64 * 6}, "normal", 2};
  bad.config = "num_stages=3";
  auto flags = runCase(bad, rng, [](ad::DecodeInputs &in) {
    in.blockTable[2] = int32_t(in.problem.numPages + 1000);
    in.blockTable[size_t(in.problem.blockTableStride) + 1] = -5;
  });
  CHECK(flags[0] == 1);
}

TEST_CASE("attention_decode: head dims, dtypes, groups, kinds", "[gpu][decode]") {
  std::mt19937 rng(99);
  const std::vector<int64_t> lengths = {64 * 5 + 1, 64 * 2 + 63, 64};
  runCase({{4, 2, 4, 2}, 4, 64, false, 1, 1, lengths, "normal", 0}, rng);
  runCase({{4, 2}, 8, 128, true, 1, 1, lengths, "outliers", 2}, rng);
  runCase({{2, 4}, 1, 128, false, 1, 1, lengths, "sink", 1}, rng);
  runCase({{4, 4}, 16, 128, false, 1, 1, lengths, "unequal", 4}, rng);
  runCase({{4, 2}, 4, 256, false, 1, 1, lengths, "normal", 0}, rng);
  runCase({{8, 8}, 2, 256, true, 1, 1, lengths, "outliers", 3}, rng);
}

TEST_CASE("attention_decode: several query tokens, causal among them", "[gpu][decode]") {
  std::mt19937 rng(7);
  const std::vector<int64_t> lengths = {64 * 4 + 2, 64 * 3, 17, 64 * 6 + 50};
  runCase({{4, 2}, 4, 128, false, 4, 3, lengths, "normal", 1}, rng);
  runCase({{4, 2}, 4, 128, false, 16, 16, lengths, "normal", 3}, rng);
  runCase({{4, 4}, 8, 64, true, 8, 5, lengths, "sink", 0}, rng);
}

TEST_CASE("attention_decode: kept sink and window pages", "[gpu][decode]") {
  std::mt19937 rng(4242);
  const std::vector<int64_t> lengths = {64 * 9 + 13, 64 * 3, 40, 64 * 20 + 63, 64};
  for (kv::KeptPages kept : {kv::KeptPages{0, 0}, kv::KeptPages{1, 4}, kv::KeptPages{2, 1},
                             kv::KeptPages{0, 2}})
    for (int64_t splits : {1, 3, 0}) {
      DecodeCase c{{4, 2}, 4, 128, false, 1, 1, lengths, "sink", splits};
      c.kept = kept;
      runCase(c, rng);
    }
  DecodeCase several{{2, 4}, 4, 64, true, 4, 3, lengths, "outliers", 2};
  several.kept = {1, 2};
  runCase(several, rng);
  // More sink pages than the block table has columns: everything staged.
  DecodeCase short_{{4, 2}, 4, 128, false, 1, 1, {100, 40, 127}, "normal", 0};
  short_.kept = {3, 1};
  runCase(short_, rng);
}

TEST_CASE("attention_decode: bad block tables and lengths stay in bounds", "[gpu][decode]") {
  std::mt19937 rng(5);
  const std::vector<int64_t> lengths = {64 * 4 + 9, 64 * 6};
  auto flags = runCase({{4, 2}, 4, 128, false, 1, 1, lengths, "normal", 2}, rng,
                       [](ad::DecodeInputs &in) {
                         in.blockTable[2] = int32_t(in.problem.numPages + 1000);
                         in.blockTable[size_t(in.problem.blockTableStride) + 1] = -5;
                       });
  CHECK(flags[0] == 1);
  flags = runCase({{4, 2}, 4, 128, false, 1, 1, lengths, "normal", 0}, rng,
                  [](ad::DecodeInputs &in) { in.seqLens[1] = 1 << 30; });
  CHECK(flags[1] == 1);
  flags = runCase({{4, 2}, 4, 128, false, 1, 1, lengths, "normal", 1}, rng,
                  [](ad::DecodeInputs &in) { in.seqLens[0] = -7; });
  CHECK(flags[1] == 1);
}

TEST_CASE("attention_decode: keys in the mma's M dimension (keys_in_m)", "[gpu][decode]") {
  std::mt19937 rng(2026);
  const std::vector<int64_t> lengths = {64 * 9 + 13, 64 * 3, 40, 64 * 20 + 63};
  auto keysInM = [](DecodeCase c, const char *more = "") {
    c.config = fmt::format("keys_in_m=1{}{}", *more ? "," : "", more);
    return c;
  };
  for (std::vector<int> bits : {std::vector<int>{4, 4}, {2, 2}, {8, 8}, {2, 4}})
    for (int64_t splits : {1, 3, 0})
      runCase(keysInM({bits, 4, 128, false, 1, 1, lengths, "sink", splits}), rng);
  // Query rows from 1 (N padded to 8) to 64; head dims, dtypes, kinds.
  runCase(keysInM({{4, 2}, 1, 128, false, 1, 1, lengths, "normal", 2}), rng);
  runCase(keysInM({{4, 2}, 4, 128, false, 4, 3, lengths, "outliers", 1}), rng);
  runCase(keysInM({{4, 2}, 8, 64, true, 8, 5, lengths, "sink", 0}), rng);
  runCase(keysInM({{4, 4}, 16, 128, false, 1, 1, lengths, "unequal", 4}), rng);
  runCase(keysInM({{4, 2}, 4, 256, true, 1, 1, lengths, "normal", 0}), rng);
  // Prefetch off, pages through shared-memory stages, kept pages.
  runCase(keysInM({{2, 4}, 4, 128, false, 1, 1, lengths, "normal", 3}, "prefetch=0"), rng);
  runCase(keysInM({{4, 2}, 4, 128, false, 1, 1, lengths, "sink", 7}, "num_stages=3"), rng);
  DecodeCase kept = keysInM({{4, 2}, 4, 128, false, 1, 1, lengths, "sink", 3});
  kept.kept = {1, 4};
  runCase(kept, rng);
  // A block-table entry outside the pool: skipped and flagged.
  auto flags = runCase(keysInM({{4, 2}, 4, 128, false, 1, 1, {64 * 4 + 9, 64 * 6}, "normal", 2}),
                       rng, [](ad::DecodeInputs &in) {
                         in.blockTable[2] = int32_t(in.problem.numPages + 1000);
                       });
  CHECK(flags[0] == 1);
}
