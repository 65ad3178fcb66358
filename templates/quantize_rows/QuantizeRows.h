//===- QuantizeRows.h - per-row INT8 quantization ---------------*- C++ -*-===//
//
// quantize_rows: x [rows, cols] (f16 or bf16, row stride x_stride) ->
// q [rows, cols] int8 (row stride q_stride) and one f32 scale per row,
// symmetric: scale = amax / 127, q = clamp(roundeven(x * (127 / amax))).
// The standalone quantizer for engines that keep INT8 activations.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_QUANTIZEROWS_H
#define TURBO_TEMPLATES_QUANTIZEROWS_H

#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>

namespace turbo::templates {
namespace quantize_rows {

struct Config {
  int64_t cols = 128;     ///< row length (the head dim)
  int64_t blockRows = 32; ///< rows per thread block
  int64_t numWarps = 4;
  DType dtype = DType::F16;
};

enum class Arg { X, Q, Scales, Rows, XStride, QStride };

struct Problem {
  int64_t rows = 0;
  int64_t xStride = 0; ///< elements between rows of x
  int64_t qStride = 0; ///< bytes between rows of q
};

/// Host-side checks before a launch: sizes, strides and alignment the kernel
/// was compiled to assume.
Status canImplement(const Config &config, const Problem &problem, uint64_t x, uint64_t q,
                    uint64_t scales);
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
/// The one kernel launch, checked.
Result<std::vector<KernelLaunch>> launches(const Config &config, const Problem &problem,
                                           uint64_t x, uint64_t q, uint64_t scales);

/// The same arithmetic on the CPU. `x` holds f16 or bf16 bits (config's
/// dtype).
void reference(const Config &config, const Problem &problem, const uint16_t *x, int8_t *q,
               float *scales);

} // namespace quantize_rows

struct QuantizeRows {
  using Config = quantize_rows::Config;
  static constexpr const char *name = "quantize_rows";
  static constexpr const char *summary =
      "per-row symmetric INT8 quantization of an f16/bf16 matrix with f32 scales";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &) { return Status::ok(); }
  static Signature<quantize_rows::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_QUANTIZEROWS_H
