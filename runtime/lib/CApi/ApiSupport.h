//===- ApiSupport.h - status codes, messages and guards of the C API -*- C++ -*-===//
//
// Every entry point runs its body in guarded(): Status becomes turbo_status
// plus the thread's last-error message, and anything thrown below is caught
// (the C API's files are built with exceptions on for that reason).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_CAPI_APISUPPORT_H
#define TURBO_RUNTIME_CAPI_APISUPPORT_H

#include "turbo/turbo.h"
#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/Status.h"

#include <fmt/format.h>

#include <cstddef>
#include <exception>
#include <new>
#include <string>
#include <string_view>

namespace turbo::capi {

/// The calling thread's last error message (turbo_last_error).
const char *lastErrorText();
void setLastError(std::string_view message);

turbo_status fail(const Status &status);
turbo_status finish(const Status &status);
inline Status invalid(std::string message) {
  return {StatusCode::InvalidArgument, std::move(message)};
}

/// Runs `body` (returning Status) and turns escaping exceptions into status
/// codes: nothing crosses the C boundary.
template <typename Body> turbo_status guarded(const char *function, Body &&body) {
  try {
    return finish(body());
  } catch (const std::bad_alloc &) {
    return fail(Status(StatusCode::OutOfMemory, fmt::format("{}: out of host memory", function)));
  } catch (const std::exception &error) {
    return fail(Status(StatusCode::Internal, fmt::format("{}: {}", function, error.what())));
  } catch (...) {
    return fail(Status(StatusCode::Internal, fmt::format("{}: unknown exception", function)));
  }
}

/// A copy for the caller, freed with turbo_free.
char *copyString(const std::string &text);
Status returnText(Result<std::string> text, char **out);

/// Reads a caller's turbo_head_config (NULL: defaults) and validates it.
Result<HeadConfig> headConfigOf(const turbo_head_config *head, const std::string &defaultTarget);

} // namespace turbo::capi

#define TURBO_REQUIRE(condition, message)                                                      \
  do {                                                                                         \
    if (!(condition))                                                                          \
      return ::turbo::capi::invalid(message);                                                  \
  } while (0)

/// Whether `member` lies inside the caller's `struct_size` bytes.
#define TURBO_HAS_FIELD(desc, type, member)                                                    \
  ((desc)->struct_size >= offsetof(type, member) + sizeof((desc)->member))

#endif // TURBO_RUNTIME_CAPI_APISUPPORT_H
