//===- TuningGpuTest.cpp - plans take turbo-tune's settings ---------------===//
#include "GpuFixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

using namespace turbo::gpu_tests;

namespace {
/// A plan with decode kernels for `batch` x `context` (0: no shape), and
/// its decode config and the source of its settings.
std::pair<std::string, std::string>
planDecode(const char *overrides, int64_t batch, int64_t contextLength) {
  turbo_head_config head;
  turbo_head_config_init(&head); // q32/kv8/d128 f16
  head.kv_bits = 4;
  turbo_plan_desc desc;
  turbo_plan_desc_init(&desc);
  desc.decode_config = overrides;
  desc.decode_batch = batch;
  desc.decode_context = contextLength;
  turbo_plan *plan = nullptr;
  TURBO_CHECK(turbo_plan_create(context(), &head, &desc, &plan));
  std::unique_ptr<turbo_plan, decltype(&turbo_plan_destroy)> owned(
      plan, turbo_plan_destroy);
  turbo_plan_info info{sizeof(info)};
  TURBO_CHECK(turbo_plan_get_info(plan, &info));
  REQUIRE(info.decode_config);
  return {info.decode_config, info.decode_config_source};
}
} // namespace

TEST_CASE("plans take decode settings from the tuning database",
          "[gpu][decode][tuning]") {
  turbo_device_info device{sizeof(device)};
  TURBO_CHECK(turbo_context_device_info(context(), &device));
  char name[] = "/tmp/turbo-tuning-gpu-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string path = name;
  // Another process's tuning run, as turbo-tune writes it: not the defaults.
  const std::string record = fmt::format(
      R"({{"template": "attention_decode", "head": "q_heads=32,kv_heads=8,head_dim=128,dtype=f16,causal=0,kv_bits=4", "shape": "batch=16,context=8192", "gpu": "{}", "target": "{}", "codegen": "{}", "config": "num_warps=8,prefetch=1", "us": 100.0, "default_us": 120.0, "date": "2026-12-06"}})",
      device.name, device.target, turbo_codegen_version());
  {
    std::ofstream(path)
        << R"({"format": "turbo-tuning", "version": 1, "records": [)" << record
        << "]}\n";
  }
  const char *saved = std::getenv("TURBO_TUNING_DB");
  const std::string previous = saved ? saved : "";
  setenv("TURBO_TUNING_DB", path.c_str(), 1);

  auto [exact, exactSource] = planDecode("", 16, 8192);
  CHECK(exact.find("num_warps=8") != std::string::npos);
  CHECK(exact.find("prefetch=1") != std::string::npos);
  CHECK(exactSource == "tuning database (batch=16,context=8192)");
  auto [near, nearSource] =
      planDecode("", 12, 5000); // buckets 16 x 4096: the nearest
  CHECK(near.find("num_warps=8") != std::string::npos);
  CHECK(nearSource == "tuning database, nearest (batch=16,context=8192)");
  auto [caller, callerSource] = planDecode("prefetch=0", 16, 8192);
  CHECK(caller.find("num_warps=4") != std::string::npos);
  CHECK(caller.find("prefetch=0") != std::string::npos);
  CHECK(callerSource == "caller");
  auto [plain, plainSource] = planDecode("", 0, 0);
  CHECK(plain.find("prefetch=2") != std::string::npos);
  CHECK(plainSource == "defaults");
  { std::ofstream(path) << "{\"format\": \"turbo-tu"; }
  auto [damaged, damagedSource] = planDecode("", 16, 8192);
  CHECK(damaged.find("prefetch=2") != std::string::npos);
  CHECK(damagedSource.find("not JSON") != std::string::npos);
  CHECK(damagedSource.find("ignored") != std::string::npos);

  if (saved)
    setenv("TURBO_TUNING_DB", previous.c_str(), 1);
  else
    unsetenv("TURBO_TUNING_DB");
  std::remove(path.c_str());
}
