//===- Status.h - status codes and results without exceptions ---*- C++ -*-===//
#ifndef TURBO_SUPPORT_STATUS_H
#define TURBO_SUPPORT_STATUS_H

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace turbo {

/// Mirrors turbo_status in turbo.h (same values).
enum class StatusCode {
  Ok = 0,
  InvalidArgument = 1,
  NoDriver = 2,
  NoDevice = 3,
  Cuda = 4,
  Compile = 5,
  Unsupported = 6,
  NotImplemented = 7,
  OutOfMemory = 8,
  Cache = 9,
  Internal = 10,
};

const char *statusCodeName(StatusCode code);

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool isOk() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

/// A value or the Status that explains why there is none.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : storage_(std::move(value)) {}
  Result(Status status) : storage_(std::move(status)) {}

  bool isOk() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return isOk(); }
  T &operator*() { return std::get<T>(storage_); }
  const T &operator*() const { return std::get<T>(storage_); }
  T *operator->() { return &std::get<T>(storage_); }
  const T *operator->() const { return &std::get<T>(storage_); }
  Status status() const { return isOk() ? Status::ok() : std::get<Status>(storage_); }

private:
  std::variant<T, Status> storage_;
};

} // namespace turbo

/// Returns the Status of `expr` from the enclosing function unless it is Ok.
#define TURBO_RETURN_IF_ERROR(expr)                                                            \
  do {                                                                                         \
    ::turbo::Status turbo_status_ = (expr);                                                    \
    if (!turbo_status_.isOk())                                                                 \
      return turbo_status_;                                                                    \
  } while (0)

#endif // TURBO_SUPPORT_STATUS_H
