//===- Npy.h - NumPy .npy files of floats -----------------------*- C++ -*-===//
//
// What people dump tensors into: a magic string, a version, a Python dict
// literal naming the element type, the order and the shape, then the data.
// readNpy takes little-endian f2, f4 and f8 in C order (numpy's defaults
// for float16/32/64 on every common machine) and returns the values as
// float; anything else (other types, big-endian, Fortran order, a shape
// the data does not fill, a damaged header) is refused with the reason.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_NPY_H
#define TURBO_SUPPORT_NPY_H

#include "turbo/Support/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace turbo {

struct NpyArray {
  std::string dtype;          ///< "f2", "f4" or "f8": the file's element type
  std::vector<int64_t> shape; ///< C order; empty for a scalar
  std::vector<float> values;  ///< every element, as float (f8 rounded)
};

/// The array in `bytes` (a whole .npy file).
Result<NpyArray> parseNpy(std::string_view bytes);
/// The array in the file at `path`.
Result<NpyArray> readNpy(const std::string &path);

} // namespace turbo

#endif // TURBO_SUPPORT_NPY_H
