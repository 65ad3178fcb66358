//===- TensorChecks.cpp - host-side checks every template shares ----------===//
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>
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

Status checkNoOverlap(std::string_view name, std::initializer_list<int64_t> extents,
                      std::initializer_list<int64_t> strides, int64_t inner) {
  std::vector<std::pair<int64_t, int64_t>> dims; // (stride, extent), extent > 1
  auto extent = extents.begin();
  for (auto stride = strides.begin(); stride != strides.end() && extent != extents.end();
       ++stride, ++extent)
    if (*extent > 1)
      dims.push_back({*stride, *extent});
  std::sort(dims.begin(), dims.end());
  long double span = (long double)inner; // elements the smaller dims cover
  for (const auto &[stride, count] : dims) {
    if ((long double)stride < span)
      return {StatusCode::InvalidArgument,
              fmt::format("{}'s strides make its elements overlap (a stride of {} over {} "
                          "indices, where the smaller strides already span {} elements): "
                          "programs would write the same memory",
                          name, stride, count, double(span))};
    span += (long double)stride * (long double)(count - 1);
  }
  return Status::ok();
}

Status checkPackedTokens(std::string_view name, int64_t tokens, int64_t longest) {
  if (tokens < 1 || tokens > std::numeric_limits<int32_t>::max() || tokens < longest)
    return {StatusCode::InvalidArgument,
            fmt::format("packed {} holds {} tokens: the count must be in [1, 2^31) and at least "
                        "the longest sequence ({})",
                        name, tokens, longest)};
  return Status::ok();
}

} // namespace turbo::templates
