//===- DevicesGpuTest.cpp - every GPU in one process; cubins --------------===//
//
// One context per device, each with its own module of the smoke kernel, each
// run on fresh random rows and compared with the CPU reference bit for bit;
// then again interleaved, so a module launched in the wrong context would
// show. With one GPU the test says so (the per-device part still runs).
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "turbo/Support/Numerics.h"
#include "quantize_rows/QuantizeRows.h"

#include <cstring>
#include <memory>
#include <random>

using namespace turbo;
using namespace turbo::gpu_tests;
namespace qr = turbo::templates::quantize_rows;

namespace {
/// A context, a kernel and buffers on one device.
struct OnDevice {
  turbo_context *context = nullptr;
  turbo_kernel *kernel = nullptr;
  uint64_t x = 0, q = 0, scales = 0;
  ~OnDevice() {
    turbo_device_free(context, x);
    turbo_device_free(context, q);
    turbo_device_free(context, scales);
    turbo_kernel_destroy(kernel);
    turbo_context_destroy(context);
  }
};

constexpr int64_t kRows = 300, kCols = 128;

/// Uploads fresh rows, runs, and compares with the reference.
void runAndCheck(OnDevice &d, std::mt19937 &rng) {
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(size_t(kRows * kCols));
  for (uint16_t &v : x)
    v = numerics::floatToHalf(normal(rng) * 3.0f);
  TURBO_CHECK(turbo_copy_to_device(d.context, d.x, x.data(), x.size() * 2));
  TURBO_CHECK(turbo_device_fill(d.context, d.q, 0xa5, size_t(kRows * kCols)));
  TURBO_CHECK(turbo_device_fill(d.context, d.scales, 0xa5, size_t(kRows) * 4));
  TURBO_CHECK(turbo_quantize_rows(d.kernel, d.x, d.q, d.scales, kRows, kCols, kCols, nullptr));
  TURBO_CHECK(turbo_synchronize(d.context));
  std::vector<int8_t> q(size_t(kRows * kCols)), expectedQ(q.size());
  std::vector<float> scales(static_cast<size_t>(kRows)), expectedScales(scales.size());
  TURBO_CHECK(turbo_copy_to_host(d.context, q.data(), d.q, q.size()));
  TURBO_CHECK(turbo_copy_to_host(d.context, scales.data(), d.scales, scales.size() * 4));
  auto config = templates::parseConfig<templates::QuantizeRows>(nullptr, "cols=128");
  REQUIRE(config);
  qr::reference(*config, qr::Problem{kRows, kCols, kCols}, x.data(), expectedQ.data(),
                expectedScales.data());
  REQUIRE(q == expectedQ);
  REQUIRE(std::memcmp(scales.data(), expectedScales.data(), scales.size() * 4) == 0);
}
} // namespace

TEST_CASE("every GPU in one process runs its own module", "[gpu][devices]") {
  int count = 0;
  TURBO_CHECK(turbo_device_count(&count));
  REQUIRE(count >= 1);
  if (count < 2)
    WARN("one GPU on this machine: the multi-GPU part ran on one device only");
  TURBO_RANDOM_ENGINE(rng);
  std::vector<std::unique_ptr<OnDevice>> devices;
  for (int index = 0; index < count; ++index) {
    auto d = std::make_unique<OnDevice>();
    turbo_context_desc desc;
    turbo_context_desc_init(&desc);
    desc.device_index = index;
    TURBO_CHECK(turbo_context_create(&desc, &d->context));
    turbo_device_info info{sizeof(info)};
    TURBO_CHECK(turbo_context_device_info(d->context, &info));
    INFO("device " << index << ": " << info.name << " " << info.target);
    TURBO_CHECK(turbo_kernel_create(d->context, "quantize_rows", nullptr, "cols=128", &d->kernel));
    TURBO_CHECK(turbo_device_alloc(d->context, size_t(kRows * kCols) * 2, &d->x));
    TURBO_CHECK(turbo_device_alloc(d->context, size_t(kRows * kCols), &d->q));
    TURBO_CHECK(turbo_device_alloc(d->context, size_t(kRows) * 4, &d->scales));
    runAndCheck(*d, rng);
    devices.push_back(std::move(d));
  }
  // Interleaved: each launch must go to its own device's module.
  for (int round = 0; round < 3; ++round)
    for (auto &d : devices)
      runAndCheck(*d, rng);

  turbo_context_desc desc;
  turbo_context_desc_init(&desc);
  desc.device_index = count;
  turbo_context *missing = nullptr;
  REQUIRE(turbo_context_create(&desc, &missing) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("out of range") != std::string::npos);
}

TEST_CASE("a kernel with a cubin loads it, without the driver's JIT", "[gpu][cache]") {
  Kernel kernel("quantize_rows", nullptr, "cols=96");
  turbo_kernel_info info = kernel.info();
  if (info.cubin_bytes == 0) {
    WARN("no ptxas on this machine (or TURBO_CUBIN=0): the kernel was loaded from PTX");
    REQUIRE(info.from_cubin == 0);
    return;
  }
  // The cubin was made for the context's own target, so the driver takes it.
  REQUIRE(info.from_cubin == 1);
  REQUIRE(info.registers > 0);
}
