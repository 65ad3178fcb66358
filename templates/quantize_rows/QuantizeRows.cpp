//===- QuantizeRows.cpp - quantize_rows: config, signature, launch --------===//
#include "quantize_rows/QuantizeRows.h"
#include "turbo/Templates/TensorChecks.h"

#include <fmt/format.h>

#include <limits>

namespace turbo::templates {

using quantize_rows::Arg;

const ConfigSchema<QuantizeRows::Config> &QuantizeRows::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::cols>("cols", oneOf({32, 64, 96, 128, 256}), "row length (the head dim)")
          .add<&Config::blockRows>("block_rows", oneOf({16, 32, 64, 128}), "rows per thread block")
          .add<&Config::numWarps>("num_warps", oneOf({1, 2, 4, 8}), "warps per thread block")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "input element type");
  return schema;
}

void QuantizeRows::applyHead(const HeadConfig &head, Config &config) {
  config.cols = head.headDim;
  config.dtype = head.dtype;
}

Signature<Arg> QuantizeRows::signature(const Config &config) {
  return Signature<Arg>()
      .add(Arg::X, pointerArg("x", scalarTypeOf(config.dtype), 16, ArgRole::Input))
      .add(Arg::Q, pointerArg("q", ScalarType::I8, 16, ArgRole::Output))
      .add(Arg::Scales, pointerArg("scales", ScalarType::F32, 4, ArgRole::Output))
      .add(Arg::Rows, valueArg("rows", ScalarType::I32, ArgRole::Size))
      .add(Arg::XStride, valueArg("x_stride", ScalarType::I32, ArgRole::Stride, 8))
      .add(Arg::QStride, valueArg("q_stride", ScalarType::I32, ArgRole::Stride, 16));
}

namespace quantize_rows {

Status canImplement(const Config &config, const Problem &problem, uint64_t x, uint64_t q,
                    uint64_t scales) {
  const int64_t cols = config.cols;
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
  if (!aligned(x, 16) || !aligned(q, 16) || !aligned(scales, 4))
    return {StatusCode::InvalidArgument,
            "x and q must be 16-byte aligned and scales 4-byte aligned"};
  // Offsets inside one tile are 32-bit.
  constexpr int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (problem.xStride > int32Max / config.blockRows)
    return {StatusCode::InvalidArgument, "x row stride too large for 32-bit tile offsets"};
  if (problem.qStride > int32Max / config.blockRows)
    return {StatusCode::InvalidArgument, "q row stride too large for 32-bit tile offsets"};
  return Status::ok();
}

std::array<unsigned, 3> grid(const Config &config, const Problem &problem) {
  return {unsigned((problem.rows + config.blockRows - 1) / config.blockRows), 1, 1};
}

Result<std::vector<KernelLaunch>> launches(const Config &config, const Problem &problem,
                                           uint64_t x, uint64_t q, uint64_t scales) {
  TURBO_RETURN_IF_ERROR(canImplement(config, problem, x, q, scales));
  const Signature<Arg> signature = QuantizeRows::signature(config);
  auto args = ArgPack<Arg>(signature)
                  .pointer(Arg::X, x)
                  .pointer(Arg::Q, q)
                  .pointer(Arg::Scales, scales)
                  .i32(Arg::Rows, problem.rows)
                  .i32(Arg::XStride, problem.xStride)
                  .i32(Arg::QStride, problem.qStride)
                  .finish();
  if (!args)
    return args.status();
  return std::vector<KernelLaunch>{
      {&TemplateDefOf<QuantizeRows>::instance(), grid(config, problem), std::move(*args)}};
}

} // namespace quantize_rows
} // namespace turbo::templates
