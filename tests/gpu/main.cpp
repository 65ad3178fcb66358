//===- main.cpp - GPU tests: skipped, with the reason, without a GPU -------===//
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "GpuFixture.h"

#include <cstdio>

int main(int argc, char **argv) {
  turbo_status status = turbo::gpu_tests::openContext();
  if (status == TURBO_STATUS_NO_DRIVER || status == TURBO_STATUS_NO_DEVICE) {
    std::printf("SKIPPED: GPU tests need a CUDA GPU: %s\n", turbo_last_error());
    return 77; // ctest's SKIP_RETURN_CODE
  }
  if (status != TURBO_STATUS_OK) {
    std::printf("FAILED to open the GPU: %s: %s\n", turbo_status_string(status),
                turbo_last_error());
    return 1;
  }
  int result = Catch::Session().run(argc, argv);
  turbo::gpu_tests::closeContext();
  return result;
}
