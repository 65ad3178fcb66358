//===- BenchDevice.h - device buffers and launch timing for benches -*- C++ -*-===//
//
// What turbo-bench's and turbo-tune's measurements share: device memory
// freed with its owner, host vectors copied up, and a launch timed with CUDA
// events (turbo_measure, or turbo_measure_cold for a flushed L2) into its
// median and minimum.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TOOLS_BENCHDEVICE_H
#define TURBO_TOOLS_BENCHDEVICE_H

#include "turbo/turbo.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace turbo::tools {

/// Device memory of `context`, freed when it goes (0: none).
struct DeviceBuffer {
  turbo_context *context;
  uint64_t pointer = 0;
  ~DeviceBuffer() { turbo_device_free(context, pointer); }
};

/// `host` in a new allocation of at least 128 bytes (an empty vector still
/// gets an address).
template <typename T>
turbo_status upload(turbo_context *context, DeviceBuffer &buffer, const std::vector<T> &host) {
  const size_t bytes = std::max<size_t>(host.size() * sizeof(T), 128);
  turbo_status status = turbo_device_alloc(context, bytes, &buffer.pointer);
  if (status == TURBO_STATUS_OK && !host.empty())
    status = turbo_copy_to_device(context, buffer.pointer, host.data(), host.size() * sizeof(T));
  return status;
}

struct LaunchTiming {
  double medianUs = 0, minUs = 0;
};

/// `launch(data)` run `warmup` times, then timed `repeats` times (>= 1).
inline turbo_status timeLaunch(turbo_context *context, turbo_launch_fn launch, void *data,
                               int warmup, int repeats, bool coldL2, LaunchTiming &out) {
  std::vector<float> samples(static_cast<size_t>(repeats));
  auto measure = coldL2 ? turbo_measure_cold : turbo_measure;
  if (turbo_status status =
          measure(context, launch, data, nullptr, warmup, repeats, samples.data()))
    return status;
  std::sort(samples.begin(), samples.end());
  out.medianUs = 1000.0 * samples[samples.size() / 2];
  out.minUs = 1000.0 * samples.front();
  return TURBO_STATUS_OK;
}

} // namespace turbo::tools

#endif // TURBO_TOOLS_BENCHDEVICE_H
