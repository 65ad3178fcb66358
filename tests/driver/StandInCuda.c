/*===- StandInCuda.c - a libcuda stand-in that counts what turbo holds -----===
 *
 * Loaded through TURBO_LIBCUDA by the driver tests: one device (sm_90,
 * 132 SMs), "device" memory in host memory, modules that load anything and
 * launches that run nothing. What it counts (modules loaded, primary
 * context retains, bytes allocated) the tests read through the
 * stand_in_cuda_* functions, to check that turbo gives back what it takes;
 * it also counts the launches that ask for programmatic stream serialization.
 * The signatures come from cuda.h, so the symbols are the versioned ones
 * the real library exports (cuMemAlloc_v2, ...).
 *
 *===----------------------------------------------------------------------===*/
#include <cuda.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int modulesLoaded, primaryRetains, allocations, programmaticLaunches;
static int primaryObject, ownObject, moduleObject, functionObject, streamObject, eventObject;
static _Thread_local CUcontext current;
static _Thread_local CUcontext pushed[16];
static _Thread_local int depth;

int stand_in_cuda_modules(void) { return modulesLoaded; }
int stand_in_cuda_primary_retains(void) { return primaryRetains; }
int stand_in_cuda_allocations(void) { return allocations; }
int stand_in_cuda_programmatic_launches(void) { return programmaticLaunches; }
/* The calling thread's current context, as an engine would have made it
 * current: 0 none, 1 the device's primary context, 2 one the engine made. */
void stand_in_cuda_set_current(int which) {
  current = which == 1 ? (CUcontext)&primaryObject : which == 2 ? (CUcontext)&ownObject : NULL;
}

CUresult cuInit(unsigned flags) { return flags ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int *version) { *version = 12080; return CUDA_SUCCESS; }
CUresult cuGetErrorName(CUresult error, const char **name) {
  *name = error == CUDA_ERROR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_STAND_IN";
  return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = error == CUDA_ERROR_OUT_OF_MEMORY ? "out of memory" : "stand-in error";
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int *count) { *count = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *device, int index) {
  if (index != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
  (void)device;
  strncpy(name, "Stand-in GPU", (size_t)length);
  name[length - 1] = '\0';
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute, CUdevice device) {
  (void)device;
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = 9; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = 0; break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = 132; break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = 232448; break;
  case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *value = 50 << 20; break;
  default: *value = 0;
  }
  return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem(size_t *bytes, CUdevice device) {
  (void)device;
  *bytes = (size_t)80 << 30;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  (void)device;
  ++primaryRetains;
  *context = (CUcontext)&primaryObject;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  (void)device;
  if (primaryRetains == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  --primaryRetains;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxGetState(CUdevice device, unsigned *flags, int *active) {
  (void)device;
  *flags = 0;
  *active = primaryRetains > 0 || current == (CUcontext)&primaryObject;
  return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(CUcontext *context) { *context = current; return CUDA_SUCCESS; }
CUresult cuCtxPushCurrent(CUcontext context) {
  if (depth == 16)
    return CUDA_ERROR_INVALID_VALUE;
  pushed[depth++] = current;
  current = context;
  return CUDA_SUCCESS;
}
CUresult cuCtxPopCurrent(CUcontext *context) {
  if (depth == 0)
    return CUDA_ERROR_INVALID_CONTEXT;
  if (context)
    *context = current;
  current = pushed[--depth];
  return CUDA_SUCCESS;
}
CUresult cuCtxGetDevice(CUdevice *device) {
  if (!current)
    return CUDA_ERROR_INVALID_CONTEXT;
  *device = 0;
  return CUDA_SUCCESS;
}
CUresult cuCtxSynchronize(void) { return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  (void)image;
  ++modulesLoaded;
  *module = (CUmodule)&moduleObject;
  return CUDA_SUCCESS;
}
CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned options,
                            CUjit_option *keys, void **values) {
  (void)options, (void)keys, (void)values;
  return cuModuleLoadData(module, image);
}
CUresult cuModuleUnload(CUmodule module) {
  (void)module;
  if (modulesLoaded == 0)
    return CUDA_ERROR_INVALID_HANDLE;
  --modulesLoaded;
  return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction *function, CUmodule module, const char *name) {
  (void)module, (void)name;
  *function = (CUfunction)&functionObject;
  return CUDA_SUCCESS;
}
CUresult cuFuncGetAttribute(int *value, CUfunction_attribute attribute, CUfunction function) {
  (void)function;
  *value = attribute == CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK ? 1024
           : attribute == CU_FUNC_ATTRIBUTE_NUM_REGS            ? 128
                                                                : 0;
  return CUDA_SUCCESS;
}
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *blocks, CUfunction function,
                                                     int blockSize, size_t dynamicShared) {
  (void)function, (void)dynamicShared;
  /* As cuFuncGetAttribute's 128 registers per thread allow of 64k. */
  *blocks = blockSize > 0 ? 65536 / (128 * blockSize) : 0;
  return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute, int value) {
  (void)function, (void)attribute, (void)value;
  return CUDA_SUCCESS;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, CUstream stream,
                        void **params, void **extra) {
  (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shared;
  (void)stream, (void)params, (void)extra;
  return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

/* Counts the launches that ask for programmatic stream serialization; any
 * other attribute is refused, as a driver without it would. */
CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params,
                          void **extra) {
  (void)f, (void)params, (void)extra;
  if (!current)
    return CUDA_ERROR_INVALID_CONTEXT;
  if (!config || (config->numAttrs > 0 && !config->attrs))
    return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    if (config->attrs[i].id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
      return CUDA_ERROR_NOT_SUPPORTED;
    if (config->attrs[i].value.programmaticStreamSerializationAllowed)
      ++programmaticLaunches;
  }
  return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  if (bytes > ((size_t)1 << 40))
    return CUDA_ERROR_OUT_OF_MEMORY;
  /* 256-byte aligned, as the driver's allocations are. */
  void *memory = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  ++allocations;
  *pointer = (CUdeviceptr)(uintptr_t)memory;
  return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr pointer) {
  if (!pointer)
    return CUDA_SUCCESS;
  --allocations;
  free((void *)(uintptr_t)pointer);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD(CUdeviceptr to, const void *from, size_t bytes) {
  memcpy((void *)(uintptr_t)to, from, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoH(void *to, CUdeviceptr from, size_t bytes) {
  memcpy(to, (const void *)(uintptr_t)from, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8(CUdeviceptr to, unsigned char value, size_t bytes) {
  memset((void *)(uintptr_t)to, value, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8Async(CUdeviceptr to, unsigned char value, size_t bytes, CUstream stream) {
  (void)stream;
  memset((void *)(uintptr_t)to, value, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemGetInfo(size_t *free, size_t *total) {
  *total = (size_t)80 << 30;
  *free = *total;
  return CUDA_SUCCESS;
}
CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  (void)flags;
  *stream = (CUstream)&streamObject;
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream stream) { (void)stream; return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(CUstream stream) { (void)stream; return CUDA_SUCCESS; }
CUresult cuEventCreate(CUevent *event, unsigned flags) {
  (void)flags;
  *event = (CUevent)&eventObject;
  return CUDA_SUCCESS;
}
CUresult cuEventDestroy(CUevent event) { (void)event; return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent event, CUstream stream) {
  (void)event, (void)stream;
  return CUDA_SUCCESS;
}
CUresult cuEventSynchronize(CUevent event) { (void)event; return CUDA_SUCCESS; }
CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  (void)start, (void)end;
  *ms = 1.0f;
  return CUDA_SUCCESS;
}
CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr pointer) {
  (void)pointer;
  if (attribute == CU_POINTER_ATTRIBUTE_CONTEXT) {
    *(CUcontext *)data = (CUcontext)&primaryObject;
    return CUDA_SUCCESS;
  }
  if (attribute == CU_POINTER_ATTRIBUTE_MEMORY_TYPE) {
    *(unsigned *)data = CU_MEMORYTYPE_DEVICE;
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}
