//===- CppApiGpuTest.cpp - the C++ API and plans on a GPU ------------------===//
#include "GpuFixture.h"

#include "turbo/Support/Numerics.h"
#include "quantize_rows/QuantizeRows.h"
#include "turbo/turbo.hpp"

#include <cstring>
#include <random>

TEST_CASE("the C++ API runs the smoke kernel", "[gpu][cpp]") {
  auto context = turbo::Context::create();
  INFO(context.error().message());
  REQUIRE(context);
  auto info = context->deviceInfo();
  REQUIRE(info);
  REQUIRE(info->multiprocessors > 0);
  turbo_head_config heads = turbo::headConfig("llama3-8b");
  auto kernel = turbo::Kernel::create(*context, "quantize_rows", &heads, "block_rows=16");
  INFO(kernel.error().message());
  REQUIRE(kernel);

  const int64_t rows = 300, cols = 128;
  TURBO_RANDOM_ENGINE(rng);
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(size_t(rows * cols));
  for (uint16_t &v : x)
    v = turbo::numerics::floatToHalf(normal(rng));
  auto dx = turbo::DeviceBuffer::allocate(*context, x.size() * 2);
  auto dq = turbo::DeviceBuffer::allocate(*context, x.size());
  auto ds = turbo::DeviceBuffer::allocate(*context, size_t(rows) * 4);
  REQUIRE((dx && dq && ds));
  REQUIRE(dx->upload(x.data(), x.size() * 2).ok());
  // A copy larger than the buffer is refused, not done.
  std::vector<uint16_t> tooLong(x.size() + 1);
  turbo::Error past = dx->upload(tooLong.data(), tooLong.size() * 2);
  REQUIRE(past.status() == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(dx->download(tooLong.data(), tooLong.size() * 2).status() ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(dq->fill(0xa5).ok());
  REQUIRE(ds->fill(0xa5).ok());
  turbo::Error launched = kernel->quantizeRows(dx->get(), dq->get(), ds->get(), rows, cols, cols);
  INFO(launched.message());
  REQUIRE(launched.ok());
  REQUIRE(context->synchronize().ok());
  std::vector<int8_t> q(x.size()), expectedQ(x.size());
  std::vector<float> s(static_cast<size_t>(rows)), expectedS(static_cast<size_t>(rows));
  REQUIRE(dq->download(q.data(), q.size()).ok());
  REQUIRE(ds->download(s.data(), s.size() * 4).ok());
  const turbo::HeadConfig onDevice = turbo::gpu_tests::headOnDevice(&heads);
  auto config =
      turbo::templates::parseConfig<turbo::templates::QuantizeRows>(&onDevice, "block_rows=16");
  REQUIRE(config);
  REQUIRE(turbo::templates::canonicalText<turbo::templates::QuantizeRows>(*config) ==
          kernel->info()->config);
  turbo::templates::quantize_rows::reference(*config, {rows, cols, cols}, x.data(),
                                             expectedQ.data(), expectedS.data());
  REQUIRE(q == expectedQ);
  REQUIRE(std::memcmp(s.data(), expectedS.data(), s.size() * 4) == 0);

  // A bad launch reports an error instead of throwing.
  turbo::Error bad = kernel->quantizeRows(dx->get() + 2, dq->get(), ds->get(), rows, cols, cols);
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.status() == TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("a plan compiles once and reports its kernel", "[gpu][plan]") {
  auto context = turbo::Context::create();
  REQUIRE(context);
  turbo_head_config heads = turbo::headConfig("llama3-8b");
  heads.head_dim = 64;
  auto plan = turbo::Plan::create(*context, heads, "block_n=32");
  INFO(plan.error().message());
  REQUIRE(plan);
  auto info = plan->info();
  REQUIRE(info);
  REQUIRE(std::string(info->prefill_config).find("block_n=32") != std::string::npos);
  REQUIRE(std::string(info->prefill_config).find("head_dim=64") != std::string::npos);
  REQUIRE(info->prefill_registers > 0);
  REQUIRE(info->prefill_threads == 128);
  REQUIRE(std::string(info->prefill_ptx).find(".entry attention_prefill") != std::string::npos);
  // Without decode_config the plan has no decode kernels, and says so.
  turbo_decode_args decodeArgs;
  turbo_decode_args_init(&decodeArgs);
  REQUIRE(turbo_plan_decode(plan->get(), nullptr, &decodeArgs, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("decode_config") != std::string::npos);
  // Workspace for 1 x 8 KV heads x 100 keys at head dim 64, block_n 32,
  // every part over 128 tokens: the means (2048 B), k8 (65536), k_scale
  // (4096), V^T (65536), v_scale (4 blocks x 64 x 4 x 8 = 8192).
  turbo_prefill_args args;
  turbo_prefill_args_init(&args);
  args.batch = 1;
  args.q_heads = 32;
  args.kv_heads = 8;
  args.seq_q = args.seq_k = 100;
  auto bytes = plan->prefillWorkspaceSize(args);
  REQUIRE(bytes);
  // The default pv=mixed adds the first block of V, f16 and transposed
  // (8 heads x 64 x 32 x 2 B).
  REQUIRE(*bytes == size_t(2048 + 65536 + 4096 + 65536 + 8192 + 32768));
  args.kv_heads = 0;
  REQUIRE_FALSE(plan->prefillWorkspaceSize(args));
}

TEST_CASE("a kernel may outlive its context", "[gpu][lifetime]") {
  turbo_context *context = nullptr;
  TURBO_CHECK(turbo_context_create(nullptr, &context));
  turbo_kernel *kernel = nullptr;
  TURBO_CHECK(turbo_kernel_create(context, "quantize_rows", nullptr, "block_rows=16", &kernel));
  uint64_t x = 0, q = 0, s = 0;
  TURBO_CHECK(turbo_device_alloc(context, 64 * 128 * 2, &x));
  TURBO_CHECK(turbo_device_alloc(context, 64 * 128, &q));
  TURBO_CHECK(turbo_device_alloc(context, 64 * 4, &s));
  TURBO_CHECK(turbo_device_fill(context, x, 0x3c, 64 * 128 * 2)); // 1.0078 in every f16
  TURBO_CHECK(turbo_quantize_rows(kernel, x, q, s, 64, 128, 128, nullptr));
  TURBO_CHECK(turbo_synchronize(context));
  std::vector<int8_t> codes(64 * 128);
  TURBO_CHECK(turbo_copy_to_host(context, codes.data(), q, codes.size()));
  for (int8_t code : codes)
    REQUIRE(code == 127);
  TURBO_CHECK(turbo_device_free(context, x));
  TURBO_CHECK(turbo_device_free(context, q));
  TURBO_CHECK(turbo_device_free(context, s));
  // The context goes first; the kernel still holds the device.
  TURBO_CHECK(turbo_context_destroy(context));
  TURBO_CHECK(turbo_kernel_destroy(kernel));
}

TEST_CASE("an allocation past the device's memory is a status, and the context goes on",
          "[gpu][cpp]") {
  turbo_context *context = nullptr;
  TURBO_CHECK(turbo_context_create(nullptr, &context));
  uint64_t huge = 0;
  // 1 PiB: more than any GPU holds.
  REQUIRE(turbo_device_alloc(context, size_t(1) << 50, &huge) == TURBO_STATUS_OUT_OF_MEMORY);
  REQUIRE(huge == 0);
  REQUIRE(std::string(turbo_last_error()).find("memory") != std::string::npos);
  uint64_t small = 0;
  TURBO_CHECK(turbo_device_alloc(context, 4096, &small));
  TURBO_CHECK(turbo_device_fill(context, small, 0x5a, 4096));
  TURBO_CHECK(turbo_synchronize(context));
  std::vector<uint8_t> back(4096);
  TURBO_CHECK(turbo_copy_to_host(context, back.data(), small, back.size()));
  REQUIRE(back == std::vector<uint8_t>(4096, 0x5a));
  TURBO_CHECK(turbo_device_free(context, small));
  TURBO_CHECK(turbo_context_destroy(context));
}

namespace {
struct FillRun {
  turbo_context *context;
  uint64_t buffer;
  size_t bytes;
  int calls = 0, failAt = -1;
};
turbo_status fillLaunch(void *data, void *) {
  auto *run = static_cast<FillRun *>(data);
  if (run->calls++ == run->failAt)
    return TURBO_STATUS_INVALID_ARGUMENT;
  return turbo_device_fill(run->context, run->buffer, uint8_t(run->calls), run->bytes);
}
} // namespace

TEST_CASE("turbo_measure and turbo_measure_cold time each run and stop at a failing launch",
          "[gpu][measure]") {
  using turbo::gpu_tests::context;
  using turbo::gpu_tests::DeviceBuffer;
  DeviceBuffer buffer(size_t(32) << 20);
  for (bool cold : {false, true}) {
    INFO((cold ? "cold L2" : "warm L2"));
    auto measure = cold ? turbo_measure_cold : turbo_measure;
    FillRun run{context(), buffer.get(), size_t(32) << 20};
    std::vector<float> samples(7, -1.0f);
    TURBO_CHECK(measure(context(), fillLaunch, &run, nullptr, 2, 7, samples.data()));
    REQUIRE(run.calls == 9);
    for (float ms : samples)
      REQUIRE((ms > 0.0f && ms < 1000.0f));
    // The launch's result is what the run ended on.
    const std::vector<uint8_t> back = buffer.download<uint8_t>();
    REQUIRE(back.front() == uint8_t(9));
    REQUIRE(back.back() == uint8_t(9));
    // A failing launch stops the run with its status; the context goes on.
    FillRun failing{context(), buffer.get(), 4096, 0, 4};
    REQUIRE(measure(context(), fillLaunch, &failing, nullptr, 1, 7, samples.data()) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(failing.calls == 5);
    TURBO_CHECK(turbo_synchronize(context()));
  }
}
