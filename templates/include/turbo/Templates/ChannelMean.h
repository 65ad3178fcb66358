//===- ChannelMean.h - per-channel mean over a sequence (host side) -*- C++ -*-===//
//
// channel_mean: for x [batch, heads, seq, head_dim] (f16/bf16, any strides,
// innermost contiguous), mean[b, h, c] = sum_s x[b, h, s, c] / seq in f32.
// The K-smoothing pass of attention_prefill (k_smooth=1): softmax does not
// change when every key loses the same vector, and K - mean quantizes far
// better when some channels carry a large offset.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_CHANNELMEAN_H
#define TURBO_TEMPLATES_CHANNELMEAN_H

#include "turbo/Templates/TemplateSpec.h"

#include <array>
#include <cstdint>

namespace turbo::templates::channel_mean {

/// Kernel parameters, in order: x, mean (pointers), seq (i32), x_batch,
/// x_head (i64), x_row (i32), cu_seqlens (i32 pointer), packed (i32). With
/// packed != 0, sequence b is rows cu_seqlens[b] .. cu_seqlens[b + 1] (at
/// most seq of them) and x_batch is 0 (the varlen form). Grid: (heads, batch,
/// head_dim / block_cols rounded up).
struct Problem {
  int64_t batch = 1, heads = 1, seq = 0;
  int64_t batchStride = 0, headStride = 0, rowStride = 0;
};

Status canImplement(const KernelConfig &config, const Problem &problem, const void *x,
                    const void *mean);
std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &problem);

/// The mean in float64 (for checking the kernel, whose f32 sums run in
/// another order).
void reference(const KernelConfig &config, const Problem &problem, const uint16_t *x,
               double *mean);

} // namespace turbo::templates::channel_mean

#endif // TURBO_TEMPLATES_CHANNELMEAN_H
