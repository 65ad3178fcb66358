//===- KvWriteGpuTest.cpp - writing the compressed cache on the GPU -------===//
//
// A prompt written in one pass (kv_compress, source=tokens) and append
// steps (kv_stage + kv_compress) crossing page ends, on fresh random K/V
// with shuffled block tables, pool and staging poisoned first: after every
// call the whole pool and staging area must equal the CPU reference's byte
// for byte (so nothing is written where it should not be either); then
// decode over the GPU-written cache matches its reference.
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "attention_decode/DecodeInputs.h"
#include "kv_stage/KvStage.h"
#include "turbo/Support/Numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>

using namespace turbo;
using namespace turbo::gpu_tests;
namespace kc = turbo::templates::kv_compress;
namespace ad = turbo::templates::attention_decode;

namespace {

std::vector<uint16_t> randomTokens(size_t n, bool bf16, std::mt19937 &rng, float scale = 1.0f) {
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(n);
  for (uint16_t &v : x) {
    const float f = normal(rng) * scale;
    v = bf16 ? numerics::floatToBFloat(f) : numerics::floatToHalf(f);
  }
  return x;
}

struct Cache {
  std::vector<int> bits;
  kv::CacheLayout layout;
  turbo_kv_cache *handle = nullptr;
  ~Cache() { turbo_kv_cache_destroy(handle); }
};

void checkWrites(std::vector<int> bits, int headDim, bool bf16, std::vector<int64_t> prompts,
                 std::vector<int> steps, std::mt19937 &rng,
                 kv::KeptPages kept = kv::kDefaultKeptPages) {
  INFO(fmt::format("bits {} d{} {} prompts {} steps {} sink pages {} window pages {}",
                   fmt::join(bits, ","), headDim, bf16 ? "bf16" : "f16", fmt::join(prompts, ","),
                   fmt::join(steps, ","), kept.sink, kept.window));
  const int64_t kvHeads = int64_t(bits.size()), batch = int64_t(prompts.size()), P = 64;
  bool mixed = false;
  for (int b : bits)
    mixed |= b != bits[0];
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = int(kvHeads) * 4;
  head.kv_heads = int(kvHeads);
  head.head_dim = headDim;
  head.dtype = bf16 ? TURBO_DTYPE_BF16 : TURBO_DTYPE_F16;
  head.kv_bits = mixed ? 0 : bits[0];
  Kernel prompt("kv_compress", &head, "source=tokens");
  Kernel stage("kv_stage", &head, "max_new=16");
  const kc::Config promptConfig = configOf<templates::KvCompress>(prompt, "source=tokens", &head);
  const kc::Config stageConfig = configOf<templates::KvStage>(stage, "max_new=16", &head);

  Cache cache{bits, *kv::CacheLayout::create(headDim, P, bits, kept)};
  turbo_kv_cache_desc desc;
  turbo_kv_cache_desc_init(&desc);
  desc.sink_pages = int(kept.sink);
  desc.window_pages = int(kept.window);
  desc.kv_heads = int(kvHeads);
  desc.head_dim = headDim;
  desc.kv_bits = cache.bits.data();
  TURBO_CHECK(turbo_kv_cache_create(context(), &desc, &cache.handle));

  // The block table: every page a sequence will reach, shuffled over the pool.
  int64_t longest = 0;
  const int64_t grown = std::accumulate(steps.begin(), steps.end(), int64_t(0));
  for (int64_t length : prompts)
    longest = std::max(longest, length + grown);
  const int64_t maxPages = longest / P + 1, numPages = batch * maxPages + 2;
  std::vector<int32_t> ids(static_cast<size_t>(numPages));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int32_t> table(static_cast<size_t>(batch * maxPages));
  for (size_t i = 0; i < table.size(); ++i)
    table[i] = ids[i];

  std::vector<uint8_t> pool(size_t(numPages * cache.layout.pageBytes()), 0xa5),
      staging(size_t(batch * cache.layout.stagingSlotBytes()), 0x5a);
  DeviceBuffer dPool(pool.size()), dStaging(staging.size()), dTable(table.size() * 4),
      dLens(size_t(batch) * 4);
  dPool.upload(pool);
  dStaging.upload(staging);
  dTable.upload(table);

  auto writeArgs = [&](uint64_t k, uint64_t v, int64_t tokens) {
    turbo_kv_write_args args;
    turbo_kv_write_args_init(&args);
    args.batch = batch;
    args.num_new = tokens;
    args.k = {k, kvHeads * tokens * headDim, tokens * headDim, headDim};
    args.v = args.k;
    args.v.data = v;
    args.pool = dPool.get();
    args.num_pages = numPages;
    args.staging = dStaging.get();
    args.block_table = dTable.get();
    args.max_pages = maxPages;
    args.block_table_stride = maxPages;
    args.seq_lens = dLens.get();
    return args;
  };
  auto problemOf = [&](const turbo_kv_write_args &args) {
    kc::Problem p;
    p.batch = batch;
    p.kvHeads = kvHeads;
    p.numNew = args.num_new;
    p.k = {args.k.batch_stride, args.k.head_stride, args.k.row_stride};
    p.v = p.k;
    p.maxPages = maxPages;
    p.blockTableStride = maxPages;
    p.numPages = numPages;
    return p;
  };
  auto compare = [&](const std::string &what) {
    TURBO_CHECK(turbo_synchronize(context()));
    INFO(what);
    REQUIRE(dPool.download<uint8_t>() == pool);
    REQUIRE(dStaging.download<uint8_t>() == staging);
    int flags[2];
    TURBO_CHECK(turbo_kv_cache_read_flags(cache.handle, flags, 1));
    REQUIRE(flags[0] == 0);
    REQUIRE(flags[1] == 0);
  };

  // The prompts.
  std::vector<int32_t> lengths(prompts.begin(), prompts.end());
  int64_t promptTokens = *std::max_element(prompts.begin(), prompts.end());
  auto k = randomTokens(size_t(batch * kvHeads * promptTokens * headDim), bf16, rng);
  auto v = randomTokens(k.size(), bf16, rng, 0.5f);
  {
    DeviceBuffer dk(k.size() * 2), dv(v.size() * 2);
    dk.upload(k);
    dv.upload(v);
    dLens.upload(lengths);
    turbo_kv_write_args args = writeArgs(dk.get(), dv.get(), promptTokens);
    TURBO_CHECK(turbo_kv_write_prompt(prompt.get(), cache.handle, &args, nullptr));
    int32_t status[2] = {0, 0};
    kc::reference(promptConfig, cache.layout, problemOf(args), k.data(), v.data(), pool.data(),
                  staging.data(), table.data(), lengths.data(), status);
    compare("the prompts");
  }
  // Append steps.
  for (int n : steps) {
    auto kn = randomTokens(size_t(batch * kvHeads * n * headDim), bf16, rng);
    auto vn = randomTokens(kn.size(), bf16, rng, 0.5f);
    DeviceBuffer dk(kn.size() * 2), dv(vn.size() * 2);
    dk.upload(kn);
    dv.upload(vn);
    dLens.upload(lengths);
    turbo_kv_write_args args = writeArgs(dk.get(), dv.get(), n);
    TURBO_CHECK(turbo_kv_append(stage.get(), cache.handle, &args, nullptr));
    int32_t status[2] = {0, 0};
    templates::kv_stage::reference(stageConfig, cache.layout, problemOf(args), kn.data(),
                                   vn.data(), pool.data(), staging.data(), table.data(),
                                   lengths.data(), status);
    compare(fmt::format("an append of {} at lengths {}", n, fmt::join(lengths, ",")));
    for (int32_t &length : lengths)
      length += n;
  }

  // Decode over what the GPU wrote.
  const std::string text = "max_query=1";
  Kernel decode("attention_decode", &head, text);
  const ad::Config config = configOf<templates::AttentionDecode>(decode, text, &head);
  ad::Problem p;
  p.batch = batch;
  p.kvHeads = kvHeads;
  p.q = {kvHeads * 4 * headDim, headDim, headDim};
  p.o = p.q;
  p.maxPages = maxPages;
  p.blockTableStride = maxPages;
  p.numPages = numPages;
  auto q = randomTokens(size_t(batch * kvHeads * 4 * headDim), bf16, rng);
  DeviceBuffer dq(q.size() * 2), dout(q.size() * 2);
  dq.upload(q);
  dout.poison(0xff);
  dLens.upload(lengths);
  turbo_decode_args args;
  turbo_decode_args_init(&args);
  args.batch = batch;
  args.q = {dq.get(), p.q.batch, p.q.head, p.q.token};
  args.o = {dout.get(), p.o.batch, p.o.head, p.o.token};
  args.pool = dPool.get();
  args.num_pages = numPages;
  args.staging = dStaging.get();
  args.block_table = dTable.get();
  args.max_pages = maxPages;
  args.block_table_stride = maxPages;
  args.seq_lens = dLens.get();
  args.splits = 1;
  TURBO_CHECK(turbo_attention_decode(decode.get(), cache.handle, &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  std::vector<uint16_t> got = dout.download<uint16_t>(), expected(q.size());
  int32_t status[2] = {0, 0};
  ad::reference(config, cache.layout, p, q.data(), expected.data(), pool.data(), staging.data(),
                table.data(), lengths.data(), status);
  const double error =
      ad::relativeL2(ad::toDoubles(got, config.dtype), ad::toDoubles(expected, config.dtype));
  INFO("decode over the written cache: rel L2 " << error);
  CHECK(error < (bf16 ? 8e-3 : 2e-3));
}
} // namespace

TEST_CASE("kv_compress and kv_stage: byte for byte against the CPU", "[gpu][decode][kvwrite]") {
  std::mt19937 rng(31);
  checkWrites({4, 2}, 128, false, {64 * 3 + 60, 17, 64 * 2}, {1, 3, 1, 16, 5, 16}, rng);
  checkWrites({4, 4}, 64, true, {64 + 63, 64 * 4}, {2, 1, 16}, rng);
  checkWrites({2, 2, 2}, 128, false, {5, 64 * 2 + 1}, {16, 16, 16, 16, 1}, rng);
  checkWrites({8, 8}, 256, false, {70, 63}, {1, 1, 9}, rng);
  // Kept pages: none, and sink and window pages that the steps move through.
  checkWrites({4, 2}, 128, false, {64 * 3 + 60, 17, 64 * 2}, {1, 3, 16, 16, 5, 16}, rng, {0, 0});
  checkWrites({4, 2}, 128, false, {64 * 4 + 50, 60, 64 * 3}, {16, 16, 3, 16, 16}, rng, {1, 2});
  checkWrites({2, 2}, 64, true, {64 * 2 + 10, 64 * 5}, {16, 16, 16, 16, 16, 16}, rng, {2, 1});
}

TEST_CASE("plans with decode_config write and read the cache", "[gpu][decode][kvwrite]") {
  std::mt19937 rng(77);
  turbo_head_config head;
  turbo_head_config_init(&head); // q32/kv8/d128 f16
  head.kv_bits = 0;              // mixed
  turbo_plan_desc desc;
  turbo_plan_desc_init(&desc);
  desc.decode_config = "";
  turbo_plan *plan = nullptr;
  TURBO_CHECK(turbo_plan_create(context(), &head, &desc, &plan));
  std::unique_ptr<turbo_plan, decltype(&turbo_plan_destroy)> owned(plan, turbo_plan_destroy);
  const std::vector<int> bits = {4, 2, 4, 2, 4, 2, 4, 2};
  turbo_kv_cache_desc cacheDesc;
  turbo_kv_cache_desc_init(&cacheDesc);
  cacheDesc.kv_bits = bits.data();
  turbo_kv_cache *cache = nullptr;
  TURBO_CHECK(turbo_kv_cache_create(context(), &cacheDesc, &cache));
  std::unique_ptr<turbo_kv_cache, decltype(&turbo_kv_cache_destroy)> cacheOwned(
      cache, turbo_kv_cache_destroy);
  auto layout = *kv::CacheLayout::create(128, 64, bits, kv::kDefaultKeptPages);

  const int64_t batch = 2, tokens = 300, maxPages = 6, numPages = 12;
  std::vector<int32_t> table = {5, 1, 9, 0, 3, 7, 2, 11, 4, 6, 8, 10}, lengths = {300, 130};
  auto k = randomTokens(size_t(batch * 8 * tokens * 128), false, rng);
  auto v = randomTokens(k.size(), false, rng);
  std::vector<uint8_t> pool(size_t(numPages * layout.pageBytes()), 0),
      staging(size_t(batch * layout.stagingSlotBytes()), 0);
  DeviceBuffer dk(k.size() * 2), dv(v.size() * 2), dPool(pool.size()), dStaging(staging.size()),
      dTable(table.size() * 4), dLens(lengths.size() * 4);
  dk.upload(k);
  dv.upload(v);
  dPool.upload(pool);
  dStaging.upload(staging);
  dTable.upload(table);
  dLens.upload(lengths);
  turbo_kv_write_args write;
  turbo_kv_write_args_init(&write);
  write.batch = batch;
  write.num_new = tokens;
  write.k = {dk.get(), 8 * tokens * 128, tokens * 128, 128};
  write.v = write.k;
  write.v.data = dv.get();
  write.pool = dPool.get();
  write.num_pages = numPages;
  write.staging = dStaging.get();
  write.block_table = dTable.get();
  write.max_pages = maxPages;
  write.block_table_stride = maxPages;
  write.seq_lens = dLens.get();
  TURBO_CHECK(turbo_plan_write_prompt(plan, cache, &write, nullptr));

  auto q = randomTokens(size_t(batch * 32 * 128), false, rng);
  DeviceBuffer dq(q.size() * 2), dout(q.size() * 2);
  dq.upload(q);
  dout.poison(0xff);
  turbo_decode_args args;
  turbo_decode_args_init(&args);
  args.batch = batch;
  args.q = {dq.get(), 32 * 128, 128, 128};
  args.o = {dout.get(), 32 * 128, 128, 128};
  args.pool = dPool.get();
  args.num_pages = numPages;
  args.staging = dStaging.get();
  args.block_table = dTable.get();
  args.max_pages = maxPages;
  args.block_table_stride = maxPages;
  args.seq_lens = dLens.get();
  args.splits = 1;
  TURBO_CHECK(turbo_plan_decode(plan, cache, &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));

  // The same on the CPU: the prompt write, then decode.
  kc::Config writeConfig;
  writeConfig.kvBits = turbo::KvBits::Mixed;
  kc::Problem p{batch, 8, tokens, {8 * tokens * 128, tokens * 128, 128},
                {8 * tokens * 128, tokens * 128, 128}, maxPages, maxPages, numPages};
  int32_t status[2] = {0, 0};
  kc::reference(writeConfig, layout, p, k.data(), v.data(), pool.data(), staging.data(),
                table.data(), lengths.data(), status);
  REQUIRE(dPool.download<uint8_t>() == pool);
  ad::Config decodeConfig;
  ad::Problem dp;
  dp.batch = batch;
  dp.kvHeads = 8;
  dp.q = {32 * 128, 128, 128};
  dp.o = dp.q;
  dp.maxPages = maxPages;
  dp.blockTableStride = maxPages;
  dp.numPages = numPages;
  std::vector<uint16_t> expected(q.size());
  ad::reference(decodeConfig, layout, dp, q.data(), expected.data(), pool.data(), staging.data(),
                table.data(), lengths.data(), status);
  const double error = ad::relativeL2(ad::toDoubles(dout.download<uint16_t>(), DType::F16),
                                      ad::toDoubles(expected, DType::F16));
  INFO("plan decode against its reference: " << error);
  CHECK(error < 2e-3);
}
