//===- FuzzNpy.cpp - libFuzzer target: .npy files -------------------------===//
//
// turbo-tune calibrate reads .npy files people give it. parseNpy must return
// an array or a status, never read past the bytes; what it accepts holds
// exactly as many values as its shape says.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/Npy.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto array = turbo::parseNpy(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!array)
    return 0;
  uint64_t count = 1;
  for (int64_t dim : array->shape) {
    if (dim < 0)
      std::abort();
    count *= uint64_t(dim);
  }
  if (count != array->values.size() || array->values.size() > size)
    std::abort();
  return 0;
}
