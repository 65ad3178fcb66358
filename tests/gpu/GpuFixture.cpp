//===- GpuFixture.cpp - the GPU every test shares -------------------------===//
#include "GpuFixture.h"

namespace turbo::gpu_tests {

namespace {
turbo_context *shared = nullptr;
}

turbo_status openContext() { return turbo_context_create(nullptr, &shared); }

void closeContext() {
  turbo_context_destroy(shared);
  shared = nullptr;
}

turbo_context *context() { return shared; }

} // namespace turbo::gpu_tests
