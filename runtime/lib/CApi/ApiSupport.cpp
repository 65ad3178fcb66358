//===- ApiSupport.cpp - status codes, messages and guards of the C API ----===//
#include "ApiSupport.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace turbo::capi {

namespace {
/// The calling thread's last error message. A plain buffer, not a
/// std::string: the C API may be called after the thread's thread_local
/// objects are gone (a handle freed by a static destructor, at exit), and a
/// destroyed string written to corrupts the heap (the GPU tests' cached
/// kernels did so, now and then). Longer messages are cut.
struct LastError {
  char text[4096];
};
thread_local LastError lastError{};
static_assert(std::is_trivially_destructible_v<LastError>);
} // namespace

const char *lastErrorText() { return lastError.text; }

void setLastError(std::string_view message) {
  size_t n = std::min(message.size(), sizeof(lastError.text) - 1);
  std::memcpy(lastError.text, message.data(), n);
  lastError.text[n] = '\0';
}

turbo_status fail(const Status &status) {
  setLastError(status.message());
  return static_cast<turbo_status>(status.code());
}

// A call that succeeds leaves the message of the last one that failed (as
// turbo.h says): cleanup after a failure (frees, destroys) must not erase
// why it failed.
turbo_status finish(const Status &status) {
  return status.isOk() ? TURBO_STATUS_OK : fail(status);
}

char *copyString(const std::string &text) {
  char *out = static_cast<char *>(std::malloc(text.size() + 1));
  if (!out)
    throw std::bad_alloc();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

Status returnText(Result<std::string> text, char **out) {
  if (!text)
    return text.status();
  *out = copyString(*text);
  return Status::ok();
}

Result<HeadConfig> headConfigOf(const turbo_head_config *head, const std::string &defaultTarget) {
  HeadConfig config;
  config.target = defaultTarget;
  if (head) {
    if (head->struct_size < sizeof(size_t))
      return invalid("turbo_head_config.struct_size is not set (use turbo_head_config_init)");
    if (TURBO_HAS_FIELD(head, turbo_head_config, q_heads))
      config.qHeads = head->q_heads;
    if (TURBO_HAS_FIELD(head, turbo_head_config, kv_heads))
      config.kvHeads = head->kv_heads;
    if (TURBO_HAS_FIELD(head, turbo_head_config, head_dim))
      config.headDim = head->head_dim;
    if (TURBO_HAS_FIELD(head, turbo_head_config, dtype)) {
      // The caller's bits, read as the int a C enum is: a value outside the
      // enum may not be loaded as a turbo_dtype in C++.
      static_assert(sizeof(head->dtype) == sizeof(int));
      int dtype = 0;
      std::memcpy(&dtype, &head->dtype, sizeof dtype);
      if (dtype != TURBO_DTYPE_F16 && dtype != TURBO_DTYPE_BF16)
        return invalid(
            fmt::format("dtype {} is not TURBO_DTYPE_F16 or TURBO_DTYPE_BF16", dtype));
      config.dtype = dtype == TURBO_DTYPE_BF16 ? DType::BF16 : DType::F16;
    }
    if (TURBO_HAS_FIELD(head, turbo_head_config, causal))
      config.causal = head->causal != 0;
    if (TURBO_HAS_FIELD(head, turbo_head_config, kv_bits)) {
      auto bits = parseKvBits(head->kv_bits == 0 ? "mixed" : std::to_string(head->kv_bits));
      if (!bits)
        return bits.status();
      config.kvBits = *bits;
    }
    if (TURBO_HAS_FIELD(head, turbo_head_config, target) && head->target)
      config.target = head->target;
  }
  TURBO_RETURN_IF_ERROR(config.validate());
  return config;
}

} // namespace turbo::capi
