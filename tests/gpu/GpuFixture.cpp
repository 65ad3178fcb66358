//===- GpuFixture.cpp - the GPU every test shares -------------------------===//
#include "GpuFixture.h"

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

} // namespace turbo::gpu_tests
