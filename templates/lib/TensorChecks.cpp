//===- TensorChecks.cpp - host-side checks every template shares ----------===//
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace turbo::templates {

Status checkTensorStrides(std::string_view name, int64_t batch, int64_t head, int64_t row,
                          int64_t headDim, int64_t tileRows) {
  if (row < headDim || row % 8 || head % 8 || batch % 8 || head < 0 || batch < 0)
    return {StatusCode::InvalidArgument,
            fmt::format("{} strides (batch {}, head {}, row {}) must be non-negative multiples "
                        "of 8 elements with row >= head_dim ({})",
                        name, batch, head, row, headDim)};
  if (row > std::numeric_limits<int32_t>::max() / std::max<int64_t>(tileRows, 1))
    return {StatusCode::InvalidArgument,
            fmt::format("{} row stride {} too large for 32-bit offsets within a tile of {} rows",
                        name, row, tileRows)};
  return Status::ok();
}

} // namespace turbo::templates
