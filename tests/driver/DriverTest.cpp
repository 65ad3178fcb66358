//===- DriverTest.cpp - what turbo takes from the driver, it gives back ---===//
//
// The C API over a libcuda stand-in (StandInCuda.c) that counts modules,
// primary-context retains and allocations: a long-running engine that makes
// and drops kernels and plans must not pile up modules, turbo's objects
// keep the device's primary context retained exactly while they live, and
// an engine's own context is used as it is.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

/// The stand-in's counters. Each test takes them before its first turbo
/// call: turbo loads the driver named by $TURBO_LIBCUDA on first use, which
/// this points at the stand-in built beside the test (STAND_IN_CUDA).
struct StandIn {
  int (*modules)() = nullptr;
  int (*primaryRetains)() = nullptr;
  int (*allocations)() = nullptr;
  void (*setCurrent)(int) = nullptr;
  int (*programmaticLaunches)() = nullptr;

  static const StandIn &get() {
    static const StandIn standIn = [] {
      StandIn s;
      setenv("TURBO_LIBCUDA", STAND_IN_CUDA, 1);
      void *library = dlopen(STAND_IN_CUDA, RTLD_NOW);
      if (!library)
        return s;
      s.modules = reinterpret_cast<int (*)()>(dlsym(library, "stand_in_cuda_modules"));
      s.primaryRetains =
          reinterpret_cast<int (*)()>(dlsym(library, "stand_in_cuda_primary_retains"));
      s.allocations = reinterpret_cast<int (*)()>(dlsym(library, "stand_in_cuda_allocations"));
      s.setCurrent = reinterpret_cast<void (*)(int)>(dlsym(library, "stand_in_cuda_set_current"));
      s.programmaticLaunches =
          reinterpret_cast<int (*)()>(dlsym(library, "stand_in_cuda_programmatic_launches"));
      return s;
    }();
    REQUIRE(standIn.modules);
    REQUIRE(standIn.primaryRetains);
    REQUIRE(standIn.allocations);
    REQUIRE(standIn.setCurrent);
    REQUIRE(standIn.programmaticLaunches);
    return standIn;
  }
};

#define CHECK_OK(call)                                                                        \
  do {                                                                                        \
    turbo_status status_ = (call);                                                            \
    INFO(#call << ": " << turbo_last_error());                                                \
    REQUIRE(status_ == TURBO_STATUS_OK);                                                      \
  } while (0)

turbo_kernel *makeKernel(turbo_context *context, const char *config) {
  turbo_kernel *kernel = nullptr;
  CHECK_OK(turbo_kernel_create(context, "quantize_rows", nullptr, config, &kernel));
  return kernel;
}

} // namespace

TEST_CASE("kernels and plans made and dropped leave no module loaded", "[driver]") {
  const StandIn &s = StandIn::get();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  const int before = s.modules();
  // The same kernel twice: one module, unloaded with the second.
  turbo_kernel *first = makeKernel(context, "block_rows=16");
  turbo_kernel *second = makeKernel(context, "block_rows=16");
  REQUIRE(s.modules() == before + 1);
  CHECK_OK(turbo_kernel_destroy(first));
  REQUIRE(s.modules() == before + 1);
  CHECK_OK(turbo_kernel_destroy(second));
  REQUIRE(s.modules() == before);
  // An engine's churn: kernels of three configs come and go.
  const char *configs[] = {"block_rows=16", "block_rows=32", "block_rows=64"};
  for (int round = 0; round < 30; ++round) {
    turbo_kernel *kernel = makeKernel(context, configs[round % 3]);
    REQUIRE(s.modules() == before + 1);
    CHECK_OK(turbo_kernel_destroy(kernel));
  }
  REQUIRE(s.modules() == before);
  // A prefill plan loads its kernels and their helpers; dropping it
  // unloads them all.
  turbo_plan_desc desc;
  turbo_plan_desc_init(&desc);
  for (int round = 0; round < 3; ++round) {
    turbo_plan *plan = nullptr;
    CHECK_OK(turbo_plan_create(context, nullptr, &desc, &plan));
    REQUIRE(s.modules() > before);
    CHECK_OK(turbo_plan_destroy(plan));
    REQUIRE(s.modules() == before);
  }
  CHECK_OK(turbo_context_destroy(context));
}

TEST_CASE("a kernel that waits for the grids before it is launched programmatically",
          "[driver]") {
  const StandIn &s = StandIn::get();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  // What turbo_kernel_get_info says, and the programmatic launches one
  // turbo_kernel_launch made.
  auto launch = [&](turbo_kernel *kernel) {
    turbo_kernel_info info{};
    info.struct_size = sizeof(info);
    CHECK_OK(turbo_kernel_get_info(kernel, &info));
    std::vector<uint64_t> values(info.num_params, 0);
    std::vector<void *> args;
    for (uint64_t &value : values)
      args.push_back(&value);
    const unsigned grid[3] = {1, 1, 1};
    const int before = s.programmaticLaunches();
    CHECK_OK(turbo_kernel_launch(kernel, grid, args.data(), args.size(), nullptr));
    return std::make_pair(info.programmatic_launch, s.programmaticLaunches() - before);
  };
  // decode_reduce reads attention_decode's partials after waiting for it
  // (the stand-in's device is an sm_90); quantize_rows waits for nothing.
  turbo_kernel *reduce = nullptr;
  CHECK_OK(turbo_kernel_create(context, "decode_reduce", nullptr, "", &reduce));
  REQUIRE(launch(reduce) == std::make_pair(1, 1));
  turbo_kernel *quantize = makeKernel(context, "block_rows=16");
  REQUIRE(launch(quantize) == std::make_pair(0, 0));
  CHECK_OK(turbo_kernel_destroy(reduce));
  CHECK_OK(turbo_kernel_destroy(quantize));
  CHECK_OK(turbo_context_destroy(context));
}

TEST_CASE("turbo's objects hold the primary context exactly while they live", "[driver]") {
  const StandIn &s = StandIn::get();
  s.setCurrent(0);
  const int before = s.primaryRetains();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  REQUIRE(s.primaryRetains() == before + 1);
  turbo_kernel *kernel = makeKernel(context, "block_rows=32");
  // The context goes first: its kernel still holds the device.
  CHECK_OK(turbo_context_destroy(context));
  REQUIRE(s.primaryRetains() == before + 1);
  CHECK_OK(turbo_kernel_destroy(kernel));
  REQUIRE(s.primaryRetains() == before);

  // The engine's current context is the primary one (the runtime API's,
  // torch's): used and retained, so it outlives the engine's own release.
  s.setCurrent(1);
  CHECK_OK(turbo_context_create(nullptr, &context));
  REQUIRE(s.primaryRetains() == before + 1);
  CHECK_OK(turbo_context_destroy(context));
  REQUIRE(s.primaryRetains() == before);

  // A context the engine made itself is used as it is: nothing retained.
  s.setCurrent(2);
  CHECK_OK(turbo_context_create(nullptr, &context));
  REQUIRE(s.primaryRetains() == before);
  CHECK_OK(turbo_context_destroy(context));
  s.setCurrent(0);
}

TEST_CASE("device memory: every allocation freed, too much is a status", "[driver]") {
  const StandIn &s = StandIn::get();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  const int before = s.allocations();
  uint64_t buffers[8] = {};
  for (uint64_t &buffer : buffers)
    CHECK_OK(turbo_device_alloc(context, 4096, &buffer));
  REQUIRE(s.allocations() == before + 8);
  for (uint64_t buffer : buffers)
    CHECK_OK(turbo_device_free(context, buffer));
  REQUIRE(s.allocations() == before);
  uint64_t huge = 0;
  REQUIRE(turbo_device_alloc(context, size_t(1) << 50, &huge) == TURBO_STATUS_OUT_OF_MEMORY);
  REQUIRE(std::string(turbo_last_error()).find("out of memory") != std::string::npos);
  REQUIRE(s.allocations() == before);
  CHECK_OK(turbo_context_destroy(context));
}

namespace {
turbo_status countingLaunch(void *data, void *) {
  int &calls = *static_cast<int *>(data);
  return ++calls == 4 ? TURBO_STATUS_INVALID_ARGUMENT : TURBO_STATUS_OK;
}
} // namespace

TEST_CASE("turbo_measure_cold frees its L2 scratch, also after a failing launch", "[driver]") {
  const StandIn &s = StandIn::get();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  const int before = s.allocations();
  float samples[3] = {-1, -1, -1};
  int calls = 0;
  CHECK_OK(turbo_measure_cold(context, countingLaunch, &calls, nullptr, 0, 3, samples));
  REQUIRE(calls == 3);
  REQUIRE(s.allocations() == before);
  calls = 0;
  REQUIRE(turbo_measure_cold(context, countingLaunch, &calls, nullptr, 1, 5, samples) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(calls == 4);
  REQUIRE(s.allocations() == before);
  CHECK_OK(turbo_context_destroy(context));
}

namespace {
/// The prefill config of a plan for `seq` (0: no shape) with `overrides`,
/// and where its settings came from.
std::pair<std::string, std::string> planPrefill(turbo_context *context, const char *overrides,
                                                int64_t seq, int kvBits) {
  turbo_head_config head;
  turbo_head_config_init(&head); // q32/kv8/d128 f16
  head.kv_bits = kvBits;
  turbo_plan_desc desc;
  turbo_plan_desc_init(&desc);
  desc.prefill_config = overrides;
  desc.prefill_seq = seq;
  turbo_plan *plan = nullptr;
  CHECK_OK(turbo_plan_create(context, &head, &desc, &plan));
  turbo_plan_info info{sizeof(info)};
  CHECK_OK(turbo_plan_get_info(plan, &info));
  std::pair<std::string, std::string> out{info.prefill_config, info.prefill_config_source};
  CHECK_OK(turbo_plan_destroy(plan));
  return out;
}
} // namespace

TEST_CASE("plans take prefill settings from the tuning database", "[driver][tuning]") {
  StandIn::get();
  turbo_context *context = nullptr;
  CHECK_OK(turbo_context_create(nullptr, &context));
  turbo_device_info device{sizeof(device)};
  CHECK_OK(turbo_context_device_info(context, &device));
  char name[] = "/tmp/turbo-tuning-driver-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string path = name;
  // Another process's tuning run, as turbo-tune writes it (no kv_bits in a
  // prefill key): not the defaults.
  const std::string record =
      std::string(R"({"template": "attention_prefill", "head": "q_heads=32,kv_heads=8,)") +
      R"(head_dim=128,dtype=f16,causal=0", "shape": "seq=4096", "gpu": ")" + device.name +
      R"(", "target": ")" + device.target + R"(", "codegen": ")" + turbo_codegen_version() +
      R"(", "config": "block_m=64,block_n=64,num_warps=4,min_blocks_per_sm=3,pv=1,wgmma=1",)" +
      R"( "us": 900.0, "default_us": 1000.0, "date": "2026-12-07"})";
  {
    std::ofstream(path) << R"({"format": "turbo-tuning", "version": 1, "records": [)" << record
                        << "]}\n";
  }
  const char *saved = std::getenv("TURBO_TUNING_DB");
  const std::string previous = saved ? saved : "";
  setenv("TURBO_TUNING_DB", path.c_str(), 1);

  auto contains = [](const std::string &config, const char *part) {
    return ("," + config + ",").find(std::string(",") + part + ",") != std::string::npos;
  };
  for (int kvBits : {0, 4}) { // one prefill record serves every cache width
    auto [exact, source] = planPrefill(context, nullptr, 4096, kvBits);
    CHECK(contains(exact, "block_n=64"));
    CHECK(contains(exact, "pv=1"));
    CHECK(source == "tuning database (seq=4096)");
  }
  auto [near, nearSource] = planPrefill(context, "", 1500, 0); // bucket 2048: the nearest
  CHECK(contains(near, "block_n=64"));
  CHECK(nearSource == "tuning database, nearest (seq=4096)");
  auto [caller, callerSource] = planPrefill(context, "pv=0", 4096, 0);
  CHECK(contains(caller, "pv=0"));
  CHECK(contains(caller, "block_n=128")); // the defaults' on sm_90a
  CHECK(callerSource == "caller");
  auto [plain, plainSource] = planPrefill(context, nullptr, 0, 0);
  CHECK(contains(plain, "block_n=128"));
  CHECK(plainSource == "defaults");
  { std::ofstream(path) << "{\"format\": \"turbo-tu"; }
  auto [damaged, damagedSource] = planPrefill(context, nullptr, 4096, 0);
  CHECK(contains(damaged, "block_n=128"));
  CHECK(damagedSource.find("not JSON") != std::string::npos);
  CHECK(damagedSource.find("ignored") != std::string::npos);

  if (saved)
    setenv("TURBO_TUNING_DB", previous.c_str(), 1);
  else
    unsetenv("TURBO_TUNING_DB");
  std::remove(path.c_str());
  CHECK_OK(turbo_context_destroy(context));
}
