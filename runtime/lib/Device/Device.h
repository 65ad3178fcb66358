//===- Device.h - one GPU's context, modules, memory and launches -*- C++ -*-===//
//
// A Device works inside engines that own their CUDA context: when the
// calling thread has a current context on the requested device, that context
// is used (and never destroyed); otherwise the device's primary context is
// retained. Every operation makes the context current for its duration and
// restores the caller's afterwards.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_DEVICE_H
#define TURBO_RUNTIME_DEVICE_H

#include "Driver.h"
#include "turbo/Support/KernelBinary.h"

#include <array>
#include <memory>
#include <string>

namespace turbo::runtime {

struct DeviceProperties {
  std::string name;
  int computeMajor = 0, computeMinor = 0;
  int multiprocessors = 0;
  int maxThreadsPerBlock = 0;
  int maxSharedPerBlockOptin = 0; ///< bytes a kernel may opt in to
  int l2Bytes = 0;
  size_t totalMemory = 0;
};

class LoadedKernel;

class Device : public std::enable_shared_from_this<Device> {
public:
  /// Opens device `index`; reports NoDriver/NoDevice/InvalidArgument. Kernels
  /// loaded on the device keep it (and its context) alive.
  static Result<std::shared_ptr<Device>> open(int index);
  /// How many devices the driver sees (NoDriver without one).
  static Result<int> count();
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  int index() const { return index_; }
  CUcontext context() const { return context_; }
  const DeviceProperties &properties() const { return properties_; }
  /// "sm_90a" for compute capability 9.0, "sm_80" for 8.0, ...
  std::string target() const;

  /// Makes the device's context current until destroyed.
  class Scope {
  public:
    explicit Scope(const Device &device);
    ~Scope();
    const Status &status() const { return status_; }

  private:
    Status status_;
    bool pushed_ = false;
  };

  /// Loads the cubin when there is one and the driver takes it (same
  /// architecture), else the PTX (the driver JIT-compiles it); checks the
  /// kernel fits.
  Result<std::unique_ptr<LoadedKernel>> load(const CompiledKernel &kernel);

  Result<CUdeviceptr> allocate(size_t bytes);
  Status free(CUdeviceptr pointer);
  Status copyToDevice(CUdeviceptr dst, const void *src, size_t bytes);
  Status copyToHost(void *dst, CUdeviceptr src, size_t bytes);
  Status fill(CUdeviceptr dst, unsigned char value, size_t bytes);
  Status synchronize();

  /// Times `repeats` calls of `launch` (after `warmup` untimed ones) with
  /// events recorded on `stream` around each call. With `flushBytes`, each
  /// timed call is preceded (outside the events) by writing that many bytes
  /// at `flush`, which evicts what the previous call left in L2.
  template <typename Launch>
  Status measure(Launch &&launch, CUstream stream, int warmup, int repeats, float *samples,
                 CUdeviceptr flush = 0, size_t flushBytes = 0);

private:
  Device() = default;
  int index_ = 0;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  bool ownsPrimary_ = false;
  DeviceProperties properties_;
};

template <typename Launch>
Status Device::measure(Launch &&launch, CUstream stream, int warmup, int repeats,
                       float *samples, CUdeviceptr flush, size_t flushBytes) {
  Driver &driver = Driver::get();
  Scope scope(*this);
  TURBO_RETURN_IF_ERROR(scope.status());
  for (int i = 0; i < warmup; ++i)
    TURBO_RETURN_IF_ERROR(launch());
  CUevent start = nullptr, stop = nullptr;
  TURBO_CU(driver, cuEventCreate, &start, CU_EVENT_DEFAULT);
  Status status = driver.check(driver.cuEventCreate(&stop, CU_EVENT_DEFAULT), "cuEventCreate");
  for (int i = 0; status.isOk() && i < repeats; ++i) {
    if (flushBytes)
      status = driver.check(
          driver.cuMemsetD8Async(flush, static_cast<unsigned char>(i), flushBytes, stream),
          "cuMemsetD8Async");
    if (status.isOk())
      status = driver.check(driver.cuEventRecord(start, stream), "cuEventRecord");
    if (status.isOk())
      status = launch();
    if (status.isOk())
      status = driver.check(driver.cuEventRecord(stop, stream), "cuEventRecord");
    if (status.isOk())
      status = driver.check(driver.cuEventSynchronize(stop), "cuEventSynchronize");
    if (status.isOk())
      status = driver.check(driver.cuEventElapsedTime(&samples[i], start, stop),
                            "cuEventElapsedTime");
  }
  driver.cuEventDestroy(start);
  if (stop)
    driver.cuEventDestroy(stop);
  return status;
}

/// A kernel loaded in one device's context.
class LoadedKernel {
public:
  ~LoadedKernel();
  const KernelInfo &info() const { return info_; }
  int registers() const { return registers_; }
  int localBytes() const { return localBytes_; }
  /// Blocks of it that fit one multiprocessor at once (registers, shared
  /// memory and threads allowing; at least 1).
  int blocksPerMultiprocessor() const { return blocksPerMultiprocessor_; }
  /// Whether the module came from the cubin (else from the PTX).
  bool fromCubin() const { return fromCubin_; }

  /// Launches on `stream` (0: the legacy default stream) with one pointer to
  /// each argument's value in `args`, in the order of info().params.
  Status launch(std::array<unsigned, 3> grid, void **args, CUstream stream) const;

private:
  friend class Device;
  LoadedKernel() = default;
  std::shared_ptr<const Device> device_; ///< outlives the module
  CUmodule module_ = nullptr;
  CUfunction function_ = nullptr;
  KernelInfo info_;
  int registers_ = 0;
  int localBytes_ = 0;
  int blocksPerMultiprocessor_ = 1;
  bool fromCubin_ = false;
};

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_DEVICE_H
