//===- AttentionPrefill.h - FlashQ + SAS prefill attention (host side) -*- C++ -*-===//
//
// attention_prefill: O = softmax(Q K^T * scale) V per (batch, query head),
// with FlashQ quantization inside the kernel and SAS for the exponentials:
//
//   Q, K quantized to INT8 per token (or per tile), S = Q8 K8^T in INT32,
//   scaled once per tile by s_q * s_k * scale * log2(e); online softmax with
//   an integer running max (exact power-of-two rescales) and turbo.exp_poly
//   (base 2); P quantized to u8 with a per-row (or fixed)
//   scale; V quantized to INT8 per channel (or per tile) over each KV block;
//   O += P8 V8 in INT32, rescaled; O = acc / l.
//
// Layouts: Q, O [batch, q_heads, seq_q, head_dim], K, V [batch, kv_heads,
// seq_k, head_dim], any strides with the innermost dim contiguous; query head
// h reads KV head h / (q_heads / kv_heads). Causal masks key j > query i +
// (seq_k - seq_q) (aligned at the bottom right, so a chunk of new queries
// sees all earlier keys).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_ATTENTIONPREFILL_H
#define TURBO_TEMPLATES_ATTENTIONPREFILL_H

#include "turbo/Templates/QuantizeKv.h"
#include "turbo/Templates/QuantizeQ.h"
#include "turbo/Templates/TemplateSpec.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace turbo::templates::attention_prefill {

/// Strides are in elements. Kernel parameters, in order (kv_int8=0): q, k,
/// v, o, lse, k_mean (pointers; lse may be null when write_lse=0, k_mean when
/// k_smooth=0; k_mean is f32 [batch, kv_heads, head_dim] from the
/// channel_mean kernel), seq_q, seq_k (i32),
/// q_batch, q_head (i64), q_row (i32), k_batch, k_head (i64), k_row (i32),
/// v_batch, v_head (i64), v_row (i32), o_batch, o_head (i64), o_row (i32),
/// group = q_heads / kv_heads (i32), scale_log2 = softmax scale * log2(e)
/// (f32), cu_seqlens_q, cu_seqlens_k (i32 pointers), packed (i32).
/// kv_int8=1: q, k8, v8t, o, lse, k_scale, v_scale (the quantize_kv
/// outputs, dense as its Layout says), seq_q, seq_k, the q and o strides,
/// group, scale_log2, cu_seqlens_q, cu_seqlens_k, packed. Then, with
/// q_int8=1: q_scale (f32 pointer), its batch and head strides (i64); and
/// last, with kv_int8=1: k_mean (read only by write_lse=1 with k_smooth=1,
/// for the shift q . mean(K) the centred scores leave out).
///
/// Packed (the varlen form): sequence b is tokens cu_seqlens_q[b] ..
/// cu_seqlens_q[b + 1] of Q/O and cu_seqlens_k[b] .. of K/V, every batch
/// stride is 0, and seqQ/seqK are the longest sequences.
struct Problem {
  int64_t batch = 1, qHeads = 1, kvHeads = 1, seqQ = 0, seqK = 0;
  bool packed = false;
  float softmaxScale = 0; ///< 0: 1 / sqrt(head_dim)
  struct Strides {
    int64_t batch = 0, head = 0, row = 0;
  } q, k, v, o;
  /// q_int8=1: Q in INT8 (strides in bytes) and its per-token scales (token
  /// t of (b, h) at b * qScaleBatch + h * qScaleHead + t).
  Strides q8;
  int64_t qScaleBatch = 0, qScaleHead = 0;
  /// Dense [batch, heads, seq, head_dim] strides for all four tensors.
  static Problem dense(int64_t batch, int64_t qHeads, int64_t kvHeads, int64_t seqQ,
                       int64_t seqK, int64_t headDim);
};

/// The device scratch one launch needs, one buffer with 256-byte aligned
/// parts: with k_smooth, K's per-channel means (f32 [batch, kv_heads,
/// head_dim], written by channel_mean); with kv_int8, quantize_kv's outputs.
struct Workspace {
  int64_t kMean = -1;       ///< offset of the means, -1: none
  int64_t quantizedKv = -1; ///< offset of quantize_kv's workspace, -1: none
  quantize_kv::Layout kv;   ///< its layout (relative to quantizedKv)
  int64_t totalBytes = 0;
};
Workspace workspaceFor(const KernelConfig &config, const Problem &problem);

/// The configs ("key=value,...") of the helper kernels that match a prefill
/// config: channel_mean (k_smooth=1) and quantize_kv (kv_int8=1).
std::string channelMeanConfig(const KernelConfig &config);
std::string quantizeKvConfig(const KernelConfig &config);

/// Which kernels of a launch run: the workspace preparation from K and V
/// (channel_mean, quantize_kv) and/or the attention kernel; and, for q_int8=1
/// kernels, Q to INT8 (quantize_q, only when asked).
enum Steps : unsigned { QuantizeKv = 1, Attention = 2, AllSteps = 3, QuantizeQ = 4 };

/// The config of quantize_q that matches a prefill config (q_int8=1), and
/// its problem: Q (f16/bf16) to q8 and the per-token scales.
std::string quantizeQConfig(const KernelConfig &config);
quantize_q::Problem quantizeQProblem(const Problem &problem);

/// Checks a launch: shapes, strides, alignment, and that `workspace` (16-byte
/// aligned) holds workspaceFor(config, problem).totalBytes. Pointers that
/// `steps` does not read may be null.
/// With q_int8=1 the attention step reads `q8` and `qScale` instead of `q`;
/// QuantizeQ reads `q` and writes them.
Status canImplement(const KernelConfig &config, const Problem &problem, const void *q,
                    const void *k, const void *v, const void *o, const void *lse,
                    const void *workspace, int64_t workspaceBytes, unsigned steps = AllSteps,
                    const void *q8 = nullptr, const void *qScale = nullptr);

/// Refuses shapes whose Q or K would exceed 2^48 bytes (no GPU holds them;
/// sizes past that could overflow 64-bit arithmetic).
Status checkSizes(const KernelConfig &config, const Problem &problem);

std::array<unsigned, 3> grid(const KernelConfig &config, const Problem &problem);

/// softmax scale * log2(e), the factor the kernel folds into the scores.
float scaleLog2(const KernelConfig &config, const Problem &problem);

/// True when P's u8 codes round to 0 every value that SAS's threshold would
/// zero (sas_threshold >= 12): the kernel's exp_poly then only clamps past
/// the threshold (clamp_only, two f16x2 instructions fewer per pair) and
/// the reference does the same; the codes, and so the results, are those
/// of the zeroing form.
bool sasZeroingIsRoundedAway(const KernelConfig &config);

/// The same arithmetic on the CPU, element for element. Inputs hold f16 or
/// bf16 bits (config dtype); `o` receives f16/bf16 bits; `lse` (natural log,
/// may be null) one float per (batch, head, row). With k_smooth, `kMean`
/// gives the per-channel means [batch, kv_heads, head_dim] to subtract
/// (null: computed here in float64 and rounded to f32).
void reference(const KernelConfig &config, const Problem &problem, const uint16_t *q,
               const uint16_t *k, const uint16_t *v, uint16_t *o, float *lse,
               const float *kMean = nullptr);

/// Exact attention in float64 (no quantization, exact exp) on the same
/// inputs; output as doubles [batch, q_heads, seq_q, head_dim], dense, and
/// (when `lse` is not null) each row's log-sum-exp [batch, q_heads, seq_q].
void exactReference(const KernelConfig &config, const Problem &problem, const uint16_t *q,
                    const uint16_t *k, const uint16_t *v, double *o, double *lse = nullptr);

/// Inputs for accuracy studies, f16 bits, dense [heads, seq, head_dim]:
/// "normal": Q, K, V ~ N(0, 1); "outliers": 4 channels of K scaled by 8 and
/// shifted by 12, the same channels of Q scaled by 2; "peaked": each query
/// is half of one key plus noise, so its attention sits on a few keys.
struct AccuracyInputs {
  std::vector<uint16_t> q, k, v;
};
AccuracyInputs makeAccuracyInputs(const std::string &kind, int64_t heads, int64_t seq,
                                  int64_t headDim, uint32_t seed);

struct AccuracyErrors {
  double relativeL2, cosine, maxAbs;
  /// With `withLse`: the log-sum-exp's largest and mean absolute error in
  /// nats (natural log of the scaled scores' exponential sum).
  double lseMaxAbs = 0, lseMeanAbs = 0;
};
/// The kernel's arithmetic (reference) against float64 exact attention,
/// non-causal, f16, over all heads of `inputs`.
AccuracyErrors measureAccuracy(const KernelConfig &config, const AccuracyInputs &inputs,
                               int64_t heads, int64_t seq, int64_t headDim, bool withLse = false);

} // namespace turbo::templates::attention_prefill

#endif // TURBO_TEMPLATES_ATTENTIONPREFILL_H
