//===- Driver.cpp - the CUDA driver API, loaded at run time ---------------===//
#include "Driver.h"

#include <fmt/format.h>

#include <cstdlib>
#include <dlfcn.h>

namespace turbo::runtime {

#define TURBO_STRINGIFY_INNER(x) #x
#define TURBO_STRINGIFY(x) TURBO_STRINGIFY_INNER(x)

Driver &Driver::get() {
  static Driver driver; // thread-safe initialization
  return driver;
}

Driver::Driver() {
  const char *override = std::getenv("TURBO_LIBCUDA");
  path_ = override && *override ? override : "libcuda.so.1";
  handle_ = dlopen(path_, RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char *reason = dlerror();
    status_ = Status(StatusCode::NoDriver,
                     fmt::format("no CUDA driver: cannot load {} ({}); set TURBO_LIBCUDA to "
                                 "its path if it is installed elsewhere",
                                 path_, reason ? reason : "unknown reason"));
    return;
  }
#define TURBO_RESOLVE_ENTRY(name)                                                              \
  name = reinterpret_cast<decltype(name)>(dlsym(handle_, TURBO_STRINGIFY(name)));              \
  if (!name) {                                                                                 \
    status_ = Status(StatusCode::NoDriver,                                                     \
                     fmt::format("the CUDA driver at {} lacks {}; it is too old for turbo",    \
                                 path_, TURBO_STRINGIFY(name)));                               \
    return;                                                                                    \
  }
  TURBO_DRIVER_ENTRY_POINTS(TURBO_RESOLVE_ENTRY)
#undef TURBO_RESOLVE_ENTRY
  status_ = check(cuInit(0), "cuInit");
  if (!status_.isOk() && status_.code() == StatusCode::Cuda)
    status_ = Status(StatusCode::NoDevice, status_.message());
}

Status Driver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::ok();
  const char *name = nullptr, *description = nullptr;
  if (cuGetErrorName)
    cuGetErrorName(result, &name);
  if (cuGetErrorString)
    cuGetErrorString(result, &description);
  StatusCode code =
      result == CUDA_ERROR_OUT_OF_MEMORY ? StatusCode::OutOfMemory : StatusCode::Cuda;
  return Status(code, fmt::format("{} failed: {} ({}): {}", call, name ? name : "?",
                                  int(result), description ? description : "no description"));
}

} // namespace turbo::runtime
