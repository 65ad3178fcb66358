//===- Driver.h - the CUDA driver API, loaded at run time -------*- C++ -*-===//
//
// turbo never links libcuda: it dlopens libcuda.so.1 (or $TURBO_LIBCUDA) on
// first use and resolves the entry points it needs. On a machine without a
// driver every call reports StatusCode::NoDriver with the reason; nothing
// crashes. check() turns a CUresult into a Status naming the call and the
// driver's error string.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_DRIVER_H
#define TURBO_RUNTIME_DRIVER_H

#include "turbo/Support/Status.h"

#include <cuda.h>

namespace turbo::runtime {

// X(name): every driver entry point turbo calls. cuda.h maps some names to
// versioned symbols (cuMemAlloc -> cuMemAlloc_v2); the loader resolves the
// symbol the macro names, so the ABI matches the header.
#define TURBO_DRIVER_ENTRY_POINTS(X)                                                           \
  X(cuInit)                                                                                    \
  X(cuDriverGetVersion)                                                                        \
  X(cuGetErrorName)                                                                            \
  X(cuGetErrorString)                                                                          \
  X(cuDeviceGetCount)                                                                          \
  X(cuDeviceGet)                                                                               \
  X(cuDeviceGetName)                                                                           \
  X(cuDeviceGetAttribute)                                                                      \
  X(cuDeviceTotalMem)                                                                          \
  X(cuDevicePrimaryCtxRetain)                                                                  \
  X(cuDevicePrimaryCtxRelease)                                                                 \
  X(cuDevicePrimaryCtxGetState)                                                                \
  X(cuCtxGetCurrent)                                                                           \
  X(cuCtxPushCurrent)                                                                          \
  X(cuCtxPopCurrent)                                                                           \
  X(cuCtxGetDevice)                                                                            \
  X(cuCtxSynchronize)                                                                          \
  X(cuModuleLoadData)                                                                          \
  X(cuModuleLoadDataEx)                                                                        \
  X(cuModuleUnload)                                                                            \
  X(cuModuleGetFunction)                                                                       \
  X(cuFuncGetAttribute)                                                                        \
  X(cuFuncSetAttribute)                                                                        \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor)                                               \
  X(cuLaunchKernel)                                                                            \
  X(cuLaunchKernelEx)                                                                          \
  X(cuMemAlloc)                                                                                \
  X(cuMemFree)                                                                                 \
  X(cuMemcpyHtoD)                                                                              \
  X(cuMemcpyDtoH)                                                                              \
  X(cuMemsetD8)                                                                                \
  X(cuMemsetD8Async)                                                                           \
  X(cuMemGetInfo)                                                                              \
  X(cuStreamCreate)                                                                            \
  X(cuStreamDestroy)                                                                           \
  X(cuStreamSynchronize)                                                                       \
  X(cuEventCreate)                                                                             \
  X(cuEventDestroy)                                                                            \
  X(cuEventRecord)                                                                             \
  X(cuEventSynchronize)                                                                        \
  X(cuEventElapsedTime)                                                                        \
  X(cuPointerGetAttribute)

class Driver {
public:
  /// The process-wide driver, loaded (and cuInit called) on first use.
  static Driver &get();

  /// Ok when libcuda was found, every entry point resolved and cuInit
  /// succeeded; NoDriver (or Cuda) with the reason otherwise.
  const Status &status() const { return status_; }
  /// The library that was loaded (or tried).
  const char *libraryPath() const { return path_; }

  /// Ok for CUDA_SUCCESS; otherwise Cuda (OutOfMemory for
  /// CUDA_ERROR_OUT_OF_MEMORY) with "<call>: <name>: <description>".
  Status check(CUresult result, const char *call) const;

#define TURBO_DECLARE_ENTRY(name) decltype(&::name) name = nullptr;
  TURBO_DRIVER_ENTRY_POINTS(TURBO_DECLARE_ENTRY)
#undef TURBO_DECLARE_ENTRY

private:
  Driver();
  Status status_;
  const char *path_ = nullptr;
  void *handle_ = nullptr;
};

} // namespace turbo::runtime

/// Calls driver entry point `name` and returns its Status from the enclosing
/// function when it fails.
#define TURBO_CU(driver, name, ...)                                                            \
  TURBO_RETURN_IF_ERROR((driver).check((driver).name(__VA_ARGS__), #name))

#endif // TURBO_RUNTIME_DRIVER_H
