//===- QuantizeRowsGpuTest.cpp - the smoke kernel against the CPU ----------===//
//
// Fresh random input every case (row scales spanning 2^-6..2^6, an all-zero
// row, a row of large values), ragged row counts, padded strides, outputs
// poisoned before the launch: every in-bounds output must equal the CPU
// reference bit for bit, and every byte outside the bounds must still hold
// the poison.
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "turbo/Support/Numerics.h"
#include "quantize_rows/QuantizeRows.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <random>

using namespace turbo;
using namespace turbo::gpu_tests;
namespace qr = turbo::templates::quantize_rows;

namespace {
constexpr unsigned char kPoison = 0xa5;

std::vector<uint16_t> randomRows(const qr::Problem &problem, int64_t cols, bool bf16,
                                 std::mt19937 &rng) {
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(size_t(problem.rows * problem.xStride), 0x7e00); // NaN padding
  for (int64_t r = 0; r < problem.rows; ++r) {
    float scale = std::exp2(float(int(rng() % 13) - 6));
    for (int64_t c = 0; c < cols; ++c) {
      float v = normal(rng) * scale;
      if (r == 1)
        v = 0.0f;
      if (r == 2)
        v = (c % 2 ? -1 : 1) * 60000.0f * float(c + 1) / float(cols);
      x[size_t(r * problem.xStride + c)] =
          bf16 ? numerics::floatToBFloat(v) : numerics::floatToHalf(v);
    }
  }
  return x;
}

void checkCase(int dtype, int64_t cols, const std::string &variant, int64_t rows,
               std::mt19937 &rng) {
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.dtype = dtype ? TURBO_DTYPE_BF16 : TURBO_DTYPE_F16;
  std::string configText = variant + ",cols=" + std::to_string(cols);
  Kernel kernel("quantize_rows", &head, configText);
  turbo_kernel_info info = kernel.info();
  const auto config = std::optional(configOf<templates::QuantizeRows>(kernel, configText, &head));
  REQUIRE(info.num_threads == 32 * unsigned(config->numWarps));
  // The C API reports each parameter by name, and the signature's arguments.
  int64_t numWarps = 0, reportedCols = 0;
  TURBO_CHECK(turbo_kernel_config_value(kernel.get(), "num_warps", &numWarps));
  TURBO_CHECK(turbo_kernel_config_value(kernel.get(), "cols", &reportedCols));
  REQUIRE(numWarps == config->numWarps);
  REQUIRE(reportedCols == cols);
  REQUIRE(turbo_kernel_config_value(kernel.get(), "block_n", &reportedCols) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(info.param_names) == "x,q,scales,rows,x_stride,q_stride");
  REQUIRE(info.registers > 0);

  // Strides padded past the row so that writes beyond `cols` would show.
  qr::Problem problem{rows, (cols + 7) / 8 * 8 + 8, (cols + 15) / 16 * 16 + 16};
  std::vector<uint16_t> x = randomRows(problem, cols, dtype == 1, rng);
  // One row of slack after the scales and the codes, poisoned too.
  DeviceBuffer dx(x.size() * 2), dq(size_t((rows + 1) * problem.qStride)),
      ds(size_t(rows + 1) * 4);
  dx.upload(x);
  dq.poison(kPoison);
  ds.poison(kPoison);
  TURBO_CHECK(turbo_quantize_rows(kernel.get(), dx.get(), dq.get(), ds.get(), rows,
                                  problem.xStride, problem.qStride, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));

  std::vector<int8_t> q = dq.download<int8_t>();
  std::vector<float> scales = ds.download<float>();
  std::vector<int8_t> expectedQ(q.size(), int8_t(kPoison));
  std::vector<float> expectedScales(static_cast<size_t>(rows));
  qr::reference(*config, problem, x.data(), expectedQ.data(), expectedScales.data());

  int64_t wrongCodes = 0, wrongScales = 0, firstWrong = -1;
  for (size_t i = 0; i < q.size(); ++i)
    if (q[i] != expectedQ[i]) {
      ++wrongCodes;
      if (firstWrong < 0)
        firstWrong = int64_t(i);
    }
  for (int64_t r = 0; r < rows; ++r)
    wrongScales += std::memcmp(&scales[size_t(r)], &expectedScales[size_t(r)], 4) != 0;
  uint32_t slack;
  std::memcpy(&slack, &scales[size_t(rows)], 4);
  INFO(configText << " dtype " << dtype << " rows " << rows << ": first wrong byte "
                  << firstWrong);
  REQUIRE(wrongCodes == 0);
  REQUIRE(wrongScales == 0);
  REQUIRE(slack == 0xa5a5a5a5u); // nothing written past the last row
}
} // namespace

TEST_CASE("quantize_rows matches the CPU reference bit for bit", "[gpu][quantize_rows]") {
  TURBO_RANDOM_ENGINE(rng);
  for (int dtype : {0, 1})
    for (int64_t cols : {64, 96, 128, 256})
      for (const char *variant : {"block_rows=16,num_warps=1", "block_rows=32,num_warps=4",
                                  "block_rows=128,num_warps=8"})
        for (int64_t rows : {1, 37, 1000, 4133})
          checkCase(dtype, cols, variant, rows, rng);
}

TEST_CASE("quantize_rows refuses what it was not compiled for", "[gpu][quantize_rows]") {
  Kernel kernel("quantize_rows", nullptr, "");
  DeviceBuffer dx(1 << 16), dq(1 << 16), ds(1 << 10);
  // Stride not a multiple of 8 elements: the vector loads would misalign.
  REQUIRE(turbo_quantize_rows(kernel.get(), dx.get(), dq.get(), ds.get(), 4, 130, 128,
                              nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("multiple of 8") != std::string::npos);
  REQUIRE(turbo_quantize_rows(kernel.get(), dx.get() + 2, dq.get(), ds.get(), 4, 128, 128,
                              nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_quantize_rows(kernel.get(), dx.get(), dq.get(), ds.get(), 0, 128, 128,
                              nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_quantize_rows(kernel.get(), 0, dq.get(), ds.get(), 4, 128, 128, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  // Raw launches check the argument count.
  unsigned grid[3] = {1, 1, 1};
  void *args[1] = {nullptr};
  REQUIRE(turbo_kernel_launch(kernel.get(), grid, args, 1, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("the device reports itself", "[gpu]") {
  turbo_device_info info{sizeof(info)};
  TURBO_CHECK(turbo_context_device_info(context(), &info));
  INFO(info.name << " " << info.target);
  REQUIRE(std::string(info.name).size() > 0);
  REQUIRE(info.multiprocessors > 0);
  REQUIRE(info.total_memory > 0);
  REQUIRE(std::string(info.target).rfind("sm_", 0) == 0);
}
