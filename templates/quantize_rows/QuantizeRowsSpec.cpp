//===- QuantizeRowsSpec.cpp - quantize_rows parameters and host checks ----===//
#include "turbo/Templates/QuantizeRows.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>

namespace turbo::templates {

const TemplateSpec &quantizeRowsSpec() {
  static const TemplateSpec spec = {
      "quantize_rows",
      "per-row symmetric INT8 quantization of an f16/bf16 matrix with f32 scales",
      {
          {"cols", 128, {32, 64, 96, 128, 256}, {}, "row length (the head dim)"},
          {"block_rows", 32, {16, 32, 64, 128}, {}, "rows per thread block"},
          {"num_warps", 4, {1, 2, 4, 8}, {}, "warps per thread block"},
          {"dtype", 0, {0, 1}, {{"f16", 0}, {"bf16", 1}}, "input element type"},
      },
      [](const HeadConfig &head, KernelConfig &config) {
        config.set("cols", head.headDim);
        config.set("dtype", head.dtype == DType::BF16 ? 1 : 0);
      },
      nullptr,
  };
  return spec;
}

namespace quantize_rows {

Status canImplement(const KernelConfig &config, const Problem &problem, const void *x,
                    const void *q, const void *scales) {
  int64_t cols = config.get("cols");
  if (problem.rows < 1 || problem.rows > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument,
            fmt::format("rows must be in [1, 2^31), got {}", problem.rows)};
  if (!x || !q || !scales)
    return {StatusCode::InvalidArgument, "x, q and scales must not be null"};
  // The kernel was compiled for 16-byte accesses: rows must start aligned.
  if (problem.xStride < cols || problem.xStride % 8)
    return {StatusCode::InvalidArgument,
            fmt::format("x row stride {} must be >= cols ({}) and a multiple of 8",
                        problem.xStride, cols)};
  if (problem.qStride < cols || problem.qStride % 16)
    return {StatusCode::InvalidArgument,
            fmt::format("q row stride {} must be >= cols ({}) and a multiple of 16",
                        problem.qStride, cols)};
  if (reinterpret_cast<uintptr_t>(x) % 16 || reinterpret_cast<uintptr_t>(q) % 16 ||
      reinterpret_cast<uintptr_t>(scales) % 4)
    return {StatusCode::InvalidArgument,
            "x and q must be 16-byte aligned and scales 4-byte aligned"};
  // Offsets inside one tile are 32-bit.
  if (problem.xStride * config.get("block_rows") > std::numeric_limits<int32_t>::max() ||
      problem.xStride > std::numeric_limits<int32_t>::max())
    return {StatusCode::InvalidArgument, "x row stride too large for 32-bit tile offsets"};
  return Status::ok();
}

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &problem) {
  int64_t blockRows = config.get("block_rows");
  return {unsigned((problem.rows + blockRows - 1) / blockRows), 1, 1};
}

} // namespace quantize_rows
} // namespace turbo::templates
