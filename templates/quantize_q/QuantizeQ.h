//===- QuantizeQ.h - Q to INT8 per token ------------------------*- C++ -*-===//
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

#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>

namespace turbo::templates {
namespace quantize_q {

struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  int64_t blockM = 64; ///< tokens per thread block
  int64_t numWarps = 4;
};

/// The kernel's arguments (QuantizeQ::signature gives them in order).
enum class Arg {
  Q, Q8, QScale, Seq, QBatch, QHead, QRow, Q8Batch, Q8Head, Q8Row, ScaleBatch, ScaleHead,
  CuSeqlens, Packed
};

/// Strides in elements (q8's are bytes, the same thing). Scales: token t of
/// (b, h) at scale + b * scaleBatch + h * scaleHead + t (tokens contiguous).
struct Problem {
  int64_t batch = 1, heads = 1, seq = 0;
  bool packed = false; ///< cu_seqlens give the sequences; batch strides 0
  int64_t packedTokens = 0; ///< packed: the tokens q (and q8) hold
  struct Strides {
    int64_t batch = 0, head = 0, row = 0;
  } q, q8;
  int64_t scaleBatch = 0, scaleHead = 0;
};

Status canImplement(const Config &config, const Problem &problem, uint64_t q, uint64_t q8,
                    uint64_t qScale);

/// The checks of the INT8 side alone (q8 and q_scale: null, alignment,
/// strides for tiles of `tileRows` rows), for the kernels that read it
/// (attention_prefill with q_int8=1) as well as the one that writes it.
Status checkInt8Q(const Problem &problem, int64_t headDim, int64_t tileRows, uint64_t q8,
                  uint64_t qScale);
/// (blocks of block_m tokens, heads, batch)
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
/// The launch, checked; `cuSeqlens` (problem.packed) gives the sequences.
Result<KernelLaunch> launch(const Config &config, const Problem &problem, uint64_t q,
                            uint64_t q8, uint64_t qScale, uint64_t cuSeqlens);

} // namespace quantize_q

struct QuantizeQ {
  using Config = quantize_q::Config;
  static constexpr const char *name = "quantize_q";
  static constexpr const char *summary =
      "Q per token to INT8 with f32 scales (attention_prefill's own Q quantization)";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &) { return Status::ok(); }
  static Signature<quantize_q::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_QUANTIZEQ_H
