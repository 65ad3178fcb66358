//===- QuantizeQ.h - Q to INT8 per token (host side) ------------*- C++ -*-===//
//
// quantize_q: Q [batch, heads, seq, head_dim] (f16/bf16, any strides, the
// innermost contiguous; or packed [tokens, heads, head_dim] with
// cu_seqlens) to
//
//   q8[b, h, s, :]    = roundeven(Q * 127 / amax) clamped to [-127, 127]
//   q_scale[b, h, s]  = amax / 127                 (amax over the token's row)
//
// exactly the quantization attention_prefill does inside its kernel
// (q_scale=token), so attention_prefill with q_int8=1 on these gives the
// same bits as with q_int8=0 on Q. For engines that keep Q in INT8, and for
// quantizing Q once when it is attended more than once.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_QUANTIZEQ_H
#define TURBO_TEMPLATES_QUANTIZEQ_H

#include "turbo/Templates/TemplateSpec.h"

#include <array>
#include <cstdint>

namespace turbo::templates::quantize_q {

/// Strides in elements (q8's are bytes, the same thing). Scales: token t of
/// (b, h) at scale + b * scaleBatch + h * scaleHead + t (tokens contiguous).
struct Problem {
  int64_t batch = 1, heads = 1, seq = 0;
  bool packed = false; ///< cu_seqlens give the sequences; batch strides 0
  struct Strides {
    int64_t batch = 0, head = 0, row = 0;
  } q, q8;
  int64_t scaleBatch = 0, scaleHead = 0;
};

/// Kernel parameters, in order: q, q8, q_scale (pointers), seq (i32), q's
/// batch, head (i64), row (i32) strides, q8's batch, head (i64), row (i32),
/// q_scale's batch, head (i64), cu_seqlens (i32 pointer), packed (i32).
/// Grid: (blocks of block_m tokens, heads, batch).
Status canImplement(const KernelConfig &config, const Problem &problem, const void *q,
                    const void *q8, const void *qScale);

/// The checks of the INT8 side alone (q8 and q_scale: null, alignment,
/// strides for tiles of `tileRows` rows), for the kernels that read it
/// (attention_prefill with q_int8=1) as well as the one that writes it.
Status checkInt8Q(const Problem &problem, int64_t headDim, int64_t tileRows, const void *q8,
                  const void *qScale);
std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &problem);

} // namespace turbo::templates::quantize_q

#endif // TURBO_TEMPLATES_QUANTIZEQ_H
