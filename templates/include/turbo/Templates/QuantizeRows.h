//===- QuantizeRows.h - per-row INT8 quantization (host side) ---*- C++ -*-===//
//
// quantize_rows: x [rows, cols] (f16 or bf16, row stride x_stride) ->
// q [rows, cols] int8 (row stride q_stride) and one f32 scale per row,
// symmetric: scale = amax / 127, q = clamp(roundeven(x * (127 / amax))).
// The smoke kernel of the vertical slice, and the standalone quantizer for
// engines that keep INT8 activations.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_QUANTIZEROWS_H
#define TURBO_TEMPLATES_QUANTIZEROWS_H

#include "turbo/Templates/TemplateSpec.h"

#include <array>
#include <cstdint>

namespace turbo::templates::quantize_rows {

/// Kernel parameters, in order: x, q, scales (pointers), rows, x_stride,
/// q_stride (i32).
struct Problem {
  int64_t rows = 0;
  int64_t xStride = 0; ///< elements between rows of x
  int64_t qStride = 0; ///< bytes between rows of q
};

/// Host-side checks before a launch: sizes, strides and alignment the kernel
/// was compiled to assume.
Status canImplement(const KernelConfig &config, const Problem &problem, const void *x,
                    const void *q, const void *scales);

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &problem);

/// The same arithmetic on the CPU. `x` holds f16 or bf16 bits (config's
/// dtype).
void reference(const KernelConfig &config, const Problem &problem, const uint16_t *x,
               int8_t *q, float *scales);

} // namespace turbo::templates::quantize_rows

#endif // TURBO_TEMPLATES_QUANTIZEROWS_H
