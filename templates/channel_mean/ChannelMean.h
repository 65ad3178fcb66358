//===- ChannelMean.h - per-channel mean over a sequence ---------*- C++ -*-===//
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

#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>

namespace turbo::templates {
namespace channel_mean {

struct Config {
  int64_t headDim = 128; ///< channels
  DType dtype = DType::F16;
  int64_t blockRows = 64;  ///< rows per loop step
  int64_t blockCols = 256; ///< channels per program (fewer: more programs per head)
  int64_t numWarps = 4;
};

/// With packed_tokens != 0 (the varlen form: x holds that many rows),
/// sequence b is rows cu_seqlens[b] .. cu_seqlens[b + 1] (at most seq of
/// them, clamped to the rows) and x_batch is 0.
enum class Arg { X, Mean, Seq, XBatch, XHead, XRow, CuSeqlens, Packed };

struct Problem {
  int64_t batch = 1, heads = 1, seq = 0;
  int64_t batchStride = 0, headStride = 0, rowStride = 0;
  int64_t packedTokens = 0; ///< with cu_seqlens: the rows x holds
};

Status canImplement(const Config &config, const Problem &problem, uint64_t x, uint64_t mean);
/// (heads, batch, head_dim / block_cols rounded up)
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
/// The launch, checked; `cuSeqlens` (0: padded) gives packed sequences.
Result<KernelLaunch> launch(const Config &config, const Problem &problem, uint64_t x,
                            uint64_t mean, uint64_t cuSeqlens);

/// The mean in float64 (for checking the kernel, whose f32 sums run in
/// another order).
void reference(const Config &config, const Problem &problem, const uint16_t *x, double *mean);

} // namespace channel_mean

struct ChannelMean {
  using Config = channel_mean::Config;
  static constexpr const char *name = "channel_mean";
  static constexpr const char *summary = "per-channel mean over the sequence (K smoothing)";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &) { return Status::ok(); }
  static Signature<channel_mean::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_CHANNELMEAN_H
