//===- Device.cpp - one GPU's context, modules, memory and launches -------===//
#include "Device.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace turbo::runtime {

Result<int> Device::count() {
  Driver &driver = Driver::get();
  TURBO_RETURN_IF_ERROR(driver.status());
  int count = 0;
  TURBO_CU(driver, cuDeviceGetCount, &count);
  return count;
}

Result<std::shared_ptr<Device>> Device::open(int index) {
  Driver &driver = Driver::get();
  TURBO_RETURN_IF_ERROR(driver.status());
  int count = 0;
  TURBO_CU(driver, cuDeviceGetCount, &count);
  if (count == 0)
    return Status(StatusCode::NoDevice, "the CUDA driver reports no devices");
  if (index < 0 || index >= count)
    return Status(StatusCode::InvalidArgument,
                  fmt::format("device index {} out of range: {} device(s)", index, count));

  std::shared_ptr<Device> device(new Device());
  device->index_ = index;
  TURBO_CU(driver, cuDeviceGet, &device->device_, index);

  // An engine's current context on this device is used. When it is the
  // device's primary context (the runtime API's, torch's), it is retained,
  // so turbo's objects keep it alive; a context the engine created itself
  // (cuCtxCreate) cannot be retained through the driver API and must
  // outlive them (turbo.h).
  CUcontext current = nullptr;
  TURBO_CU(driver, cuCtxGetCurrent, &current);
  if (current) {
    CUdevice currentDevice = -1;
    TURBO_CU(driver, cuCtxGetDevice, &currentDevice);
    if (currentDevice == device->device_) {
      unsigned flags = 0;
      int active = 0; // an inactive primary context cannot be the current one
      TURBO_CU(driver, cuDevicePrimaryCtxGetState, device->device_, &flags, &active);
      CUcontext primary = nullptr;
      if (active) {
        TURBO_CU(driver, cuDevicePrimaryCtxRetain, &primary, device->device_);
        if (primary == current)
          device->ownsPrimary_ = true;
        else
          driver.cuDevicePrimaryCtxRelease(device->device_);
      }
      device->context_ = current;
    }
  }
  if (!device->context_) {
    TURBO_CU(driver, cuDevicePrimaryCtxRetain, &device->context_, device->device_);
    device->ownsPrimary_ = true;
  }

  DeviceProperties &p = device->properties_;
  char name[256] = {};
  TURBO_CU(driver, cuDeviceGetName, name, int(sizeof(name)), device->device_);
  p.name = name;
  auto attribute = [&](CUdevice_attribute which, int &out) {
    return driver.check(driver.cuDeviceGetAttribute(&out, which, device->device_),
                        "cuDeviceGetAttribute");
  };
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, p.computeMajor));
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, p.computeMinor));
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, p.multiprocessors));
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, p.maxThreadsPerBlock));
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                  p.maxSharedPerBlockOptin));
  TURBO_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, p.l2Bytes));
  TURBO_CU(driver, cuDeviceTotalMem, &p.totalMemory, device->device_);
  return device;
}

Device::~Device() {
  if (ownsPrimary_)
    Driver::get().cuDevicePrimaryCtxRelease(device_);
}

std::string Device::target() const {
  std::string target = fmt::format("sm_{}{}", properties_.computeMajor, properties_.computeMinor);
  if (properties_.computeMajor == 9 && properties_.computeMinor == 0)
    target += "a"; // Hopper-specific instructions (wgmma, setmaxnreg)
  return target;
}

Device::Scope::Scope(const Device &device) {
  Driver &driver = Driver::get();
  status_ = driver.check(driver.cuCtxPushCurrent(device.context()), "cuCtxPushCurrent");
  pushed_ = status_.isOk();
}

Device::Scope::~Scope() {
  if (pushed_) {
    CUcontext popped = nullptr;
    Driver::get().cuCtxPopCurrent(&popped);
  }
}

#define TURBO_SCOPE(device)                                                                    \
  Device::Scope scope_(device);                                                                \
  TURBO_RETURN_IF_ERROR(scope_.status())

Result<std::unique_ptr<LoadedKernel>> Device::load(const CompiledKernel &compiled) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  const KernelInfo &info = compiled.info;
  if (info.numThreads == 0 || int(info.numThreads) > properties_.maxThreadsPerBlock)
    return Status(StatusCode::Unsupported,
                  fmt::format("kernel {} needs {} threads per block; {} allows {}", info.name,
                              info.numThreads, properties_.name, properties_.maxThreadsPerBlock));
  if (info.sharedBytes > properties_.maxSharedPerBlockOptin)
    return Status(StatusCode::Unsupported,
                  fmt::format("kernel {} needs {} bytes of shared memory; {} allows {}",
                              info.name, info.sharedBytes, properties_.name,
                              properties_.maxSharedPerBlockOptin));

  std::unique_ptr<LoadedKernel> kernel(new LoadedKernel());
  kernel->device_ = shared_from_this();
  kernel->info_ = info;
  // The cubin first: no JIT. A cubin for another architecture (an entry
  // made for sm_80 on an sm_90 device, say) is refused by the driver; the
  // PTX then serves.
  if (!compiled.cubin.empty() &&
      driver.cuModuleLoadData(&kernel->module_, compiled.cubin.data()) == CUDA_SUCCESS)
    kernel->fromCubin_ = true;
  // Ask the JIT for its error log so a rejected PTX says why.
  std::vector<char> log(8192, 0);
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log.data(), reinterpret_cast<void *>(uintptr_t(log.size()))};
  CUresult loaded = kernel->fromCubin_ ? CUDA_SUCCESS
                                       : driver.cuModuleLoadDataEx(&kernel->module_,
                                                                   compiled.ptx.c_str(), 2,
                                                                   options, values);
  if (loaded != CUDA_SUCCESS) {
    Status status = driver.check(loaded, "cuModuleLoadDataEx");
    return Status(status.code(), fmt::format("{}; JIT log: {}", status.message(),
                                             log[0] ? log.data() : "(empty)"));
  }
  TURBO_CU(driver, cuModuleGetFunction, &kernel->function_, kernel->module_, info.name.c_str());
  if (info.sharedBytes > 48 * 1024)
    TURBO_CU(driver, cuFuncSetAttribute, kernel->function_,
             CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, int(info.sharedBytes));
  TURBO_CU(driver, cuFuncGetAttribute, &kernel->registers_, CU_FUNC_ATTRIBUTE_NUM_REGS,
           kernel->function_);
  TURBO_CU(driver, cuFuncGetAttribute, &kernel->localBytes_,
           CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, kernel->function_);
  int maxThreads = 0;
  TURBO_CU(driver, cuFuncGetAttribute, &maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
           kernel->function_);
  if (maxThreads < int(info.numThreads))
    return Status(StatusCode::Unsupported,
                  fmt::format("kernel {} uses {} registers per thread, so at most {} threads "
                              "fit a block; it needs {}",
                              info.name, kernel->registers_, maxThreads, info.numThreads));
  TURBO_CU(driver, cuOccupancyMaxActiveBlocksPerMultiprocessor, &kernel->blocksPerMultiprocessor_,
           kernel->function_, int(info.numThreads), size_t(info.sharedBytes));
  kernel->blocksPerMultiprocessor_ = std::max(kernel->blocksPerMultiprocessor_, 1);
  return kernel;
}

LoadedKernel::~LoadedKernel() {
  if (module_) {
    Device::Scope scope(*device_);
    Driver::get().cuModuleUnload(module_);
  }
}

Status LoadedKernel::launch(std::array<unsigned, 3> grid, void **args, CUstream stream) const {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*device_);
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0)
    return {StatusCode::InvalidArgument,
            fmt::format("empty grid {}x{}x{} for kernel {}", grid[0], grid[1], grid[2],
                        info_.name)};
  if (grid[1] > 65535 || grid[2] > 65535)
    return {StatusCode::InvalidArgument,
            fmt::format("grid {}x{}x{} exceeds 65535 in y or z", grid[0], grid[1], grid[2])};
  if (!info_.programmaticLaunch) {
    TURBO_CU(driver, cuLaunchKernel, function_, grid[0], grid[1], grid[2], info_.numThreads, 1,
             1, unsigned(info_.sharedBytes), stream, args, nullptr);
    return Status::ok();
  }
  // The kernel waits for the grids before it (griddepcontrol.wait) before it
  // reads their results: it may be scheduled while they finish.
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attribute.value.programmaticStreamSerializationAllowed = 1;
  CUlaunchConfig config{};
  config.gridDimX = grid[0];
  config.gridDimY = grid[1];
  config.gridDimZ = grid[2];
  config.blockDimX = info_.numThreads;
  config.blockDimY = 1;
  config.blockDimZ = 1;
  config.sharedMemBytes = unsigned(info_.sharedBytes);
  config.hStream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  TURBO_CU(driver, cuLaunchKernelEx, &config, function_, args, nullptr);
  return Status::ok();
}

Result<CUdeviceptr> Device::allocate(size_t bytes) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  CUdeviceptr pointer = 0;
  TURBO_CU(driver, cuMemAlloc, &pointer, bytes);
  return pointer;
}

Status Device::free(CUdeviceptr pointer) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  TURBO_CU(driver, cuMemFree, pointer);
  return Status::ok();
}

Status Device::copyToDevice(CUdeviceptr dst, const void *src, size_t bytes) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  TURBO_CU(driver, cuMemcpyHtoD, dst, src, bytes);
  return Status::ok();
}

Status Device::copyToHost(void *dst, CUdeviceptr src, size_t bytes) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  TURBO_CU(driver, cuMemcpyDtoH, dst, src, bytes);
  return Status::ok();
}

Status Device::fill(CUdeviceptr dst, unsigned char value, size_t bytes) {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  TURBO_CU(driver, cuMemsetD8, dst, value, bytes);
  return Status::ok();
}

Status Device::synchronize() {
  Driver &driver = Driver::get();
  TURBO_SCOPE(*this);
  TURBO_CU(driver, cuCtxSynchronize);
  return Status::ok();
}

} // namespace turbo::runtime
