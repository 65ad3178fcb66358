//===- GpuFixture.cpp - the GPU every test shares -------------------------===//
#include "GpuFixture.h"

#include <cstdlib>

namespace turbo::gpu_tests {

namespace {
turbo_context *shared = nullptr;
std::vector<std::function<void()>> &teardowns() {
  static std::vector<std::function<void()>> list;
  return list;
}
} // namespace

turbo_status openContext() { return turbo_context_create(nullptr, &shared); }

void atTeardown(std::function<void()> release) { teardowns().push_back(std::move(release)); }

void closeContext() {
  for (auto it = teardowns().rbegin(); it != teardowns().rend(); ++it)
    (*it)();
  teardowns().clear();
  turbo_context_destroy(shared);
  shared = nullptr;
}

turbo_context *context() { return shared; }

unsigned testSeed() {
  if (const char *given = std::getenv("TURBO_TEST_SEED"))
    return unsigned(std::strtoul(given, nullptr, 10));
  return std::random_device{}();
}

HeadConfig headOnDevice(const turbo_head_config *head) {
  turbo_device_info info{sizeof(info)};
  TURBO_CHECK(turbo_context_device_info(context(), &info));
  HeadConfig config;
  config.target = info.target;
  if (head) {
    config.qHeads = head->q_heads;
    config.kvHeads = head->kv_heads;
    config.headDim = head->head_dim;
    config.dtype = head->dtype == TURBO_DTYPE_BF16 ? DType::BF16 : DType::F16;
    config.causal = head->causal != 0;
    config.kvBits = head->kv_bits == 0 ? KvBits::Mixed : KvBits(head->kv_bits);
    if (head->target)
      config.target = head->target;
  }
  return config;
}

} // namespace turbo::gpu_tests
