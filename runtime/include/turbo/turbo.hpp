//===- turbo.hpp - C++ API over turbo.h ------------------------*- C++ -*-===//
//
// RAII handles over the C API. Nothing here throws: fallible calls return
// turbo::Error (or turbo::Expected<T>), which says whether it worked and why
// not. Header-only; link libturbo.so (CMake: Turbo::turbo).
//
//   auto context = turbo::Context::create();
//   if (!context) { std::puts(context.error().message().c_str()); return; }
//   turbo_head_config heads = turbo::headConfig("llama3-8b");
//   auto plan = turbo::Plan::create(*context, heads);
//   turbo::Error e = plan->prefill(args, stream);
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_HPP
#define TURBO_HPP

#include "turbo/turbo.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace turbo {

/// A status with its message; `ok()` when the call worked.
class Error {
public:
  Error() = default;
  Error(turbo_status status, std::string message)
      : status_(status), message_(std::move(message)) {}
  /// The outcome of the C call that just returned `status`.
  static Error fromStatus(turbo_status status) {
    return status == TURBO_STATUS_OK ? Error() : Error(status, turbo_last_error());
  }
  bool ok() const { return status_ == TURBO_STATUS_OK; }
  explicit operator bool() const { return !ok(); } // true when there is an error
  turbo_status status() const { return status_; }
  const std::string &message() const { return message_; }
  const char *statusName() const { return turbo_status_string(status_); }

private:
  turbo_status status_ = TURBO_STATUS_OK;
  std::string message_;
};

/// A value or the Error that explains its absence.
template <typename T> class Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Error error) : error_(std::move(error)) {}
  explicit operator bool() const { return value_.has_value(); }
  T &operator*() { return *value_; }
  T *operator->() { return &*value_; }
  const Error &error() const { return error_; }

private:
  std::optional<T> value_;
  Error error_;
};

/// A head configuration with defaults, optionally from a model preset.
inline turbo_head_config headConfig(const char *preset = nullptr) {
  turbo_head_config head;
  turbo_head_config_init(&head);
  if (preset)
    turbo_head_config_preset(&head, preset); // an unknown preset keeps the defaults
  return head;
}

/// One GPU (the caller's current CUDA context when it is on that device).
class Context {
public:
  static Expected<Context> create(int deviceIndex = 0) {
    turbo_context_desc desc;
    turbo_context_desc_init(&desc);
    desc.device_index = deviceIndex;
    turbo_context *context = nullptr;
    Error error = Error::fromStatus(turbo_context_create(&desc, &context));
    if (error)
      return error;
    return Context(context);
  }
  Context(Context &&other) noexcept : context_(std::exchange(other.context_, nullptr)) {}
  Context &operator=(Context &&other) noexcept {
    std::swap(context_, other.context_);
    return *this;
  }
  ~Context() {
    if (context_)
      turbo_context_destroy(context_);
  }
  turbo_context *get() const { return context_; }

  Expected<turbo_device_info> deviceInfo() const {
    turbo_device_info info{sizeof(info)};
    Error error = Error::fromStatus(turbo_context_device_info(context_, &info));
    if (error)
      return error;
    return info;
  }
  Error synchronize() const { return Error::fromStatus(turbo_synchronize(context_)); }

private:
  explicit Context(turbo_context *context) : context_(context) {}
  turbo_context *context_ = nullptr;
};

/// Device memory owned by a Context.
class DeviceBuffer {
public:
  static Expected<DeviceBuffer> allocate(const Context &context, size_t bytes) {
    uint64_t pointer = 0;
    Error error = Error::fromStatus(turbo_device_alloc(context.get(), bytes, &pointer));
    if (error)
      return error;
    return DeviceBuffer(context.get(), pointer, bytes);
  }
  DeviceBuffer(DeviceBuffer &&other) noexcept
      : context_(other.context_), pointer_(std::exchange(other.pointer_, 0)),
        bytes_(other.bytes_) {}
  ~DeviceBuffer() {
    if (pointer_)
      turbo_device_free(context_, pointer_);
  }
  uint64_t get() const { return pointer_; }
  size_t bytes() const { return bytes_; }
  /// Copies `bytes` from the host; more than the buffer holds is refused.
  Error upload(const void *host, size_t bytes) {
    if (Error tooMany = checkSize(bytes))
      return tooMany;
    return Error::fromStatus(turbo_copy_to_device(context_, pointer_, host, bytes));
  }
  /// Copies `bytes` to the host; more than the buffer holds is refused.
  Error download(void *host, size_t bytes) const {
    if (Error tooMany = checkSize(bytes))
      return tooMany;
    return Error::fromStatus(turbo_copy_to_host(context_, host, pointer_, bytes));
  }
  Error fill(unsigned char value) {
    return Error::fromStatus(turbo_device_fill(context_, pointer_, value, bytes_));
  }

private:
  Error checkSize(size_t bytes) const {
    if (bytes <= bytes_)
      return Error();
    return Error(TURBO_STATUS_INVALID_ARGUMENT,
                 "copy of " + std::to_string(bytes) + " bytes into or out of a device buffer of " +
                     std::to_string(bytes_));
  }
  DeviceBuffer(turbo_context *context, uint64_t pointer, size_t bytes)
      : context_(context), pointer_(pointer), bytes_(bytes) {}
  turbo_context *context_;
  uint64_t pointer_;
  size_t bytes_;
};

/// A kernel from a template (or from turbo IR), loaded on a Context.
class Kernel {
public:
  static Expected<Kernel> create(const Context &context, const char *templateName,
                                 const turbo_head_config *head = nullptr,
                                 const char *config = nullptr) {
    turbo_kernel *kernel = nullptr;
    Error error = Error::fromStatus(
        turbo_kernel_create(context.get(), templateName, head, config, &kernel));
    if (error)
      return error;
    return Kernel(kernel);
  }
  static Expected<Kernel> fromMlir(const Context &context, const char *mlir) {
    turbo_kernel *kernel = nullptr;
    Error error = Error::fromStatus(turbo_kernel_create_from_mlir(context.get(), mlir, &kernel));
    if (error)
      return error;
    return Kernel(kernel);
  }
  Kernel(Kernel &&other) noexcept : kernel_(std::exchange(other.kernel_, nullptr)) {}
  ~Kernel() {
    if (kernel_)
      turbo_kernel_destroy(kernel_);
  }
  turbo_kernel *get() const { return kernel_; }
  Expected<turbo_kernel_info> info() const {
    turbo_kernel_info info{sizeof(info)};
    Error error = Error::fromStatus(turbo_kernel_get_info(kernel_, &info));
    if (error)
      return error;
    return info;
  }
  Error launch(const unsigned grid[3], std::vector<void *> args, void *stream = nullptr) const {
    return Error::fromStatus(turbo_kernel_launch(kernel_, grid, args.data(), args.size(), stream));
  }
  /// For kernels of template "quantize_rows".
  Error quantizeRows(uint64_t x, uint64_t q, uint64_t scales, int64_t rows, int64_t xStride,
                     int64_t qStride, void *stream = nullptr) const {
    return Error::fromStatus(
        turbo_quantize_rows(kernel_, x, q, scales, rows, xStride, qStride, stream));
  }

private:
  explicit Kernel(turbo_kernel *kernel) : kernel_(kernel) {}
  turbo_kernel *kernel_ = nullptr;
};

/// The kernels of one head configuration.
class Plan {
public:
  static Expected<Plan> create(const Context &context, const turbo_head_config &head,
                               const char *prefillConfig = nullptr) {
    turbo_plan_desc desc;
    turbo_plan_desc_init(&desc);
    desc.prefill_config = prefillConfig;
    turbo_plan *plan = nullptr;
    Error error = Error::fromStatus(turbo_plan_create(context.get(), &head, &desc, &plan));
    if (error)
      return error;
    return Plan(plan);
  }
  Plan(Plan &&other) noexcept : plan_(std::exchange(other.plan_, nullptr)) {}
  ~Plan() {
    if (plan_)
      turbo_plan_destroy(plan_);
  }
  turbo_plan *get() const { return plan_; }
  Expected<turbo_plan_info> info() const {
    turbo_plan_info info{sizeof(info)};
    Error error = Error::fromStatus(turbo_plan_get_info(plan_, &info));
    if (error)
      return error;
    return info;
  }
  /// Bytes of args.workspace prefill needs for these shapes.
  Expected<size_t> prefillWorkspaceSize(const turbo_prefill_args &args) const {
    size_t bytes = 0;
    Error error = Error::fromStatus(turbo_plan_prefill_workspace_size(plan_, &args, &bytes));
    if (error)
      return error;
    return bytes;
  }
  Error prefill(const turbo_prefill_args &args, void *stream = nullptr) const {
    return Error::fromStatus(turbo_plan_prefill(plan_, &args, stream));
  }

private:
  explicit Plan(turbo_plan *plan) : plan_(plan) {}
  turbo_plan *plan_ = nullptr;
};

/// A pipeline stage of a template, compiled without a GPU.
inline Expected<std::string> compileTemplate(const char *templateName, const char *stage,
                                             const turbo_head_config *head = nullptr,
                                             const char *config = nullptr) {
  char *text = nullptr;
  Error error =
      Error::fromStatus(turbo_compile_template(templateName, head, config, stage, &text));
  if (error)
    return error;
  std::string result(text);
  turbo_free(text);
  return result;
}

} // namespace turbo

#endif // TURBO_HPP
