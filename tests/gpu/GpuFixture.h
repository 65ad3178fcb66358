//===- GpuFixture.h - the GPU every test shares ------------------*- C++ -*-===//
#ifndef TURBO_TESTS_GPUFIXTURE_H
#define TURBO_TESTS_GPUFIXTURE_H

#include "turbo/turbo.h"
#include "turbo/Support/HeadConfig.h"
#include "turbo/Templates/Template.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace turbo::gpu_tests {

turbo_status openContext();
/// Runs the registered teardowns (in reverse), then destroys the context.
void closeContext();
turbo_context *context();
/// Something to release before the context closes and main returns (a
/// cache of kernels, say): not left to static destructors.
void atTeardown(std::function<void()> release);

/// The seed of a test's random inputs: TURBO_TEST_SEED where set (to repeat
/// a failure), else a fresh one.
unsigned testSeed();

/// A std::mt19937 named `name`, seeded by testSeed(); a failing check in the
/// scope shows the seed.
#define TURBO_RANDOM_ENGINE(name)                                                              \
  const unsigned name##Seed = ::turbo::gpu_tests::testSeed();                                  \
  INFO("random inputs: TURBO_TEST_SEED=" << name##Seed);                                       \
  std::mt19937 name(name##Seed)

/// Checks a C API call succeeded, showing the message if not.
#define TURBO_CHECK(call)                                                                      \
  do {                                                                                         \
    turbo_status status_ = (call);                                                             \
    INFO(#call << " -> " << turbo_status_string(status_) << ": " << turbo_last_error());       \
    REQUIRE(status_ == TURBO_STATUS_OK);                                                       \
  } while (0)

/// Device memory freed at scope exit.
class DeviceBuffer {
public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    TURBO_CHECK(turbo_device_alloc(context(), bytes, &pointer_));
  }
  ~DeviceBuffer() { turbo_device_free(context(), pointer_); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  uint64_t get() const { return pointer_; }
  size_t bytes() const { return bytes_; }
  void poison(unsigned char value) {
    TURBO_CHECK(turbo_device_fill(context(), pointer_, value, bytes_));
  }
  template <typename T> void upload(const std::vector<T> &host) {
    REQUIRE(host.size() * sizeof(T) <= bytes_);
    TURBO_CHECK(turbo_copy_to_device(context(), pointer_, host.data(), host.size() * sizeof(T)));
  }
  template <typename T> std::vector<T> download() const {
    std::vector<T> host(bytes_ / sizeof(T));
    TURBO_CHECK(turbo_copy_to_host(context(), host.data(), pointer_, host.size() * sizeof(T)));
    return host;
  }

private:
  uint64_t pointer_ = 0;
  size_t bytes_ = 0;
};

/// A loaded kernel freed at scope exit.
class Kernel {
public:
  Kernel(const char *name, const turbo_head_config *head, const std::string &config) {
    TURBO_CHECK(turbo_kernel_create(context(), name, head, config.c_str(), &kernel_));
  }
  ~Kernel() { turbo_kernel_destroy(kernel_); }
  Kernel(const Kernel &) = delete;
  turbo_kernel *get() const { return kernel_; }
  turbo_kernel_info info() const {
    turbo_kernel_info info{sizeof(info)};
    TURBO_CHECK(turbo_kernel_get_info(kernel_, &info));
    return info;
  }

private:
  turbo_kernel *kernel_ = nullptr;
};

/// What the C API makes of `head` (NULL: the defaults) on this GPU.
HeadConfig headOnDevice(const turbo_head_config *head = nullptr);

/// The typed config of `kernel`, made from template T with `text` and
/// `head`: the C API's parse done again here for the CPU reference, and the
/// kernel must report the same canonical text.
template <class T>
typename T::Config configOf(const Kernel &kernel, const std::string &text,
                            const turbo_head_config *head = nullptr) {
  const HeadConfig described = headOnDevice(head);
  auto config = templates::parseConfig<T>(&described, text);
  INFO(text);
  REQUIRE(config);
  REQUIRE(templates::canonicalText<T>(*config) == kernel.info().config);
  return *config;
}

} // namespace turbo::gpu_tests

#endif // TURBO_TESTS_GPUFIXTURE_H
