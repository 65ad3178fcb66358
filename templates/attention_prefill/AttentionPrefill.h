//===- AttentionPrefill.h - FlashQ + SAS prefill attention ------*- C++ -*-===//
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
// A launch runs up to four kernels (launches()): quantize_q (Q to INT8, when
// asked), channel_mean (k_smooth: K's per-channel means into the
// workspace), quantize_kv (kv_int8: K and V to INT8 into the workspace),
// then the attention kernel.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_ATTENTIONPREFILL_H
#define TURBO_TEMPLATES_ATTENTIONPREFILL_H

#include "channel_mean/ChannelMean.h"
#include "quantize_kv/QuantizeKv.h"
#include "quantize_q/QuantizeQ.h"
#include "turbo/Templates/SearchSpace.h"
#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace turbo::templates {
namespace attention_prefill {

/// Granularity of Q's and K's scales: one per tile or one per token (row).
enum class TokenScale { Tile = 0, Token = 1 };
/// P's scale: the fixed 1/255, or the row's max / 255 in each block.
enum class PScale { Fixed = 0, Row = 1 };
/// V's scale over each block of keys: one per tile or one per channel.
enum class VScale { Tile = 0, Channel = 1 };
/// The P.V product: P in u8 codes times V in INT8 (FlashQ), or P and V in
/// 16 bits (P from SAS, V as given), accumulated in f32; mixed: the first
/// block of keys (where attention sinks sit) in 16 bits, the rest in INT8.
enum class PvFormat { Int8 = 0, Half = 1, Mixed = 2 };

/// The parameters (help texts in AttentionPrefill.cpp's schema).
struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  bool causal = false;
  int64_t blockM = 64;         ///< query rows per thread block
  int64_t blockN = 64;         ///< keys per inner-loop step
  int64_t numWarps = 4;
  int64_t minBlocksPerSm = 0;  ///< 0: ptxas's choice
  int64_t numStages = 2;       ///< shared-memory slots per staged tile (1: no staging)
  int64_t sasDegree = 2;
  int64_t sasThreshold = 14;     ///< blocks with P in u8 codes
  int64_t sasThresholdHalf = 24; ///< blocks with P in 16 bits
  TokenScale qScale = TokenScale::Token;
  TokenScale kScale = TokenScale::Token;
  PScale pScale = PScale::Row;
  VScale vScale = VScale::Channel;
  bool writeLse = false;
  bool kSmooth = true;
  bool varlen = false;
  bool qInt8 = false;
  bool kvInt8 = true;
  bool wgmma = false;
  PvFormat pv = PvFormat::Mixed;
};

/// The kernel's arguments (AttentionPrefill::signature gives which a config
/// takes, in order). Pointers: q (q8 with q_int8=1), k, v (kv_int8=0) or
/// k8, v8t, k_scale, v_scale (kv_int8=1: quantize_kv's outputs in the
/// workspace, see QuantizeKv.h), o, lse (f32 [batch, q_heads, seq_q]; may
/// be null when write_lse=0), k_mean (f32 [batch, kv_heads, head_dim], from
/// channel_mean; read by kv_int8=0 with k_smooth, and by kv_int8=1 for the
/// log-sum-exp's shift). Strides in elements (q8's in bytes). group =
/// q_heads / kv_heads; scale_log2 = softmax scale * log2(e); kv_pitch
/// (kv_int8=1) = quantize_kv's rows per head in the workspace. Packed (the
/// varlen form, packed = the tokens Q and O hold, packed_k = K's and V's;
/// 0: padded): cu_seqlens_q/k give the sequences, clamped to those tokens,
/// and seq_q/seq_k are the longest.
enum class Arg {
  Q, K, V, K8, V8t, O, Lse, KScale, VScale, KMean, SeqQ, SeqK,
  QBatch, QHead, QRow, KBatch, KHead, KRow, VBatch, VHead, VRow, OBatch, OHead, ORow,
  Group, ScaleLog2, CuSeqlensQ, CuSeqlensK, Packed, QScale, QScaleBatch, QScaleHead, KvPitch,
  V0t, PackedK
};

/// Strides are in elements (q8's in bytes).
/// Packed (the varlen form): sequence b is tokens cu_seqlens_q[b] ..
/// cu_seqlens_q[b + 1] of Q/O and cu_seqlens_k[b] .. of K/V, every batch
/// stride is 0, and seqQ/seqK are the longest sequences.
struct Problem {
  int64_t batch = 1, qHeads = 1, kvHeads = 1, seqQ = 0, seqK = 0;
  bool packed = false;
  int64_t tokensQ = 0, tokensK = 0; ///< packed: the tokens of Q and O, of K and V
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

/// Device memory of one launch (addresses; 0: none).
struct Buffers {
  uint64_t q = 0, k = 0, v = 0, o = 0, lse = 0;
  uint64_t workspace = 0;
  int64_t workspaceBytes = 0;
  uint64_t q8 = 0, qScale = 0;            ///< q_int8=1
  uint64_t cuSeqlensQ = 0, cuSeqlensK = 0; ///< problem.packed
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
/// For shapes that passed the checks (canImplement, or workspaceBytes):
/// unchecked sizes can overflow its 64-bit arithmetic.
Workspace workspaceFor(const Config &config, const Problem &problem);
/// The workspace's size, after the checks of the shapes it depends on.
Result<int64_t> workspaceBytes(const Config &config, const Problem &problem);

/// The configs of the helper kernels that match a prefill config.
channel_mean::Config channelMeanConfig(const Config &config);
quantize_kv::Config quantizeKvConfig(const Config &config);
quantize_q::Config quantizeQConfig(const Config &config);

/// Which kernels of a launch run: the workspace preparation from K and V
/// (channel_mean, quantize_kv) and/or the attention kernel; and, for q_int8=1
/// kernels, Q to INT8 (quantize_q, only when asked).
enum Steps : unsigned { QuantizeKvStep = 1, AttentionStep = 2, AllSteps = 3, QuantizeQStep = 4 };

/// quantize_q's problem for a prefill problem: Q (f16/bf16) to q8 and the
/// per-token scales.
quantize_q::Problem quantizeQProblem(const Problem &problem);
/// The quantize_kv problem of K and V (the workspace's layout and the launch).
quantize_kv::Problem quantizeKvProblem(const Problem &problem);

/// Checks a launch: shapes, strides, alignment, and that the workspace
/// (16-byte aligned) holds workspaceFor(config, problem).totalBytes.
/// Buffers that `steps` does not touch may be 0. With q_int8=1 the
/// attention step reads q8 and q_scale instead of q; QuantizeQ reads q and
/// writes them.
Status canImplement(const Config &config, const Problem &problem, const Buffers &buffers,
                    unsigned steps = AllSteps);

/// Checks a call of `reference` on host buffers (the C API's
/// turbo_attention_prefill_reference): the shapes and strides a launch
/// accepts, the padded form only (the reference has none other), q, k, v
/// and o set, and lse when the config writes it.
Status canRunReference(const Config &config, const Problem &problem, const Buffers &buffers);

/// Refuses shapes whose Q or K would exceed 2^48 bytes (no GPU holds them;
/// sizes past that could overflow 64-bit arithmetic).
Status checkSizes(const Config &config, const Problem &problem);

std::array<unsigned, 3> grid(const Config &config, const Problem &problem);

/// The kernels `steps` runs, in order, with their arguments; checked first.
Result<std::vector<KernelLaunch>> launches(const Config &config, const Problem &problem,
                                           const Buffers &buffers, unsigned steps = AllSteps);

/// softmax scale * log2(e), the factor the kernel folds into the scores.
float scaleLog2(const Config &config, const Problem &problem);

/// True when P's u8 codes round to 0 every value that SAS's threshold would
/// zero (sas_threshold >= 12): the kernel's exp_poly then only clamps past
/// the threshold in the blocks whose P goes to u8 codes (clamp_only, two
/// f16x2 instructions fewer per pair) and the reference does the same; the
/// codes, and so the results, are those of the zeroing form. Blocks with P
/// in 16 bits (pv=half, and mixed's first block) zero.
bool sasZeroingIsRoundedAway(const Config &config);

/// The power of two SAS scales the 16-bit blocks' P by (exp_poly's
/// scale_log2): past a threshold of 14, P moves up the f16 range by
/// threshold - 14 binades, so that P down to 2^-threshold of its block's
/// max stays a normal f16 (and SAS keeps its f16-pair form); P's scale takes
/// the power back.
int64_t halfPScaleLog2(const Config &config);

/// The same arithmetic on the CPU, element for element. Inputs hold f16 or
/// bf16 bits (config dtype); `o` receives f16/bf16 bits; `lse` (natural log,
/// may be null) one float per (batch, head, row). With k_smooth, `kMean`
/// gives the per-channel means [batch, kv_heads, head_dim] to subtract
/// (null: computed here in float64 and rounded to f32).
void reference(const Config &config, const Problem &problem, const uint16_t *q,
               const uint16_t *k, const uint16_t *v, uint16_t *o, float *lse,
               const float *kMean = nullptr);

/// Exact attention in float64 (no quantization, exact exp) on the same
/// inputs; output as doubles [batch, q_heads, seq_q, head_dim], dense, and
/// (when `lse` is not null) each row's log-sum-exp [batch, q_heads, seq_q].
void exactReference(const Config &config, const Problem &problem, const uint16_t *q,
                    const uint16_t *k, const uint16_t *v, double *o, double *lse = nullptr);

/// Inputs for accuracy studies, f16 bits, dense [heads, seq, head_dim]:
/// "normal": Q, K, V ~ N(0, 1); "outliers": 4 channels of K scaled by 8 and
/// shifted by 12, the same channels of Q scaled by 2; "peaked": each query
/// is half of one key plus noise, so its attention sits on a few keys;
/// "sink:R": an attention sink, key 0 about 10 nats above the others for
/// every query, its value vector 1/R of the others'; "tail:G" (causal): key
/// 0 G nats above a flat tail of keys; "vout": 16 tokens per head whose
/// value vectors are 20 times the others'.
struct AccuracyInputs {
  std::vector<uint16_t> q, k, v;
  bool causal = false; ///< the kind is measured causal
};
AccuracyInputs makeAccuracyInputs(const std::string &kind, int64_t heads, int64_t seq,
                                  int64_t headDim, uint32_t seed);
/// Why `kind` is not one of makeAccuracyInputs' kinds for a kernel that is
/// causal or not (empty: it is): normal, outliers, peaked, sink[:R],
/// tail[:G] (measured causal) and vout, R and G in (0, 1e4].
std::string checkAccuracyKind(const std::string &kind, bool causal);

struct AccuracyErrors {
  double relativeL2, cosine, maxAbs;
  /// With `withLse`: the log-sum-exp's largest and mean absolute error in
  /// nats (natural log of the scaled scores' exponential sum).
  double lseMaxAbs = 0, lseMeanAbs = 0;
};
/// The kernel's arithmetic (reference) against float64 exact attention, f16,
/// causal as the inputs say, over all heads of `inputs`.
AccuracyErrors measureAccuracy(const Config &config, const AccuracyInputs &inputs,
                               int64_t heads, int64_t seq, int64_t headDim, bool withLse = false);

/// Where the error comes from: the relative L2 error (against float64
/// attention) of a float64 emulation with one stage quantized as the kernel
/// quantizes it and the others exact: the scores (INT8 Q and K per token,
/// K smoothed), P (u8 codes against each block's row max, or f16 with
/// pv=half; SAS's own error, about 5e-3 relative at degree 2, left out) and
/// V (INT8 per channel over each block; exact with pv=half).
struct StageErrors {
  double scores, probabilities, values;
};
StageErrors stageErrors(const Config &config, const AccuracyInputs &inputs, int64_t heads,
                        int64_t seq, int64_t headDim);

} // namespace attention_prefill

struct AttentionPrefill {
  using Config = attention_prefill::Config;
  static constexpr const char *name = "attention_prefill";
  static constexpr const char *summary = "FlashQ INT8 + SAS prefill attention (causal or not, GQA)";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  /// The measured defaults per target and head dim (AttentionPrefill.cpp).
  static void tune(std::string_view target, Config &config);
  /// What turbo-tune varies: tile sizes, warps, blocks per SM, wgmma on
  /// sm_90a; block_n also sets the keys V's per-channel scales span (it
  /// changes the results, so it counts against the accuracy budget).
  static SearchSpace searchSpace(std::string_view target, const Config &base);
  static Status validate(const Config &config);
  static Signature<attention_prefill::Arg> signature(const Config &config);
  /// channel_mean (k_smooth), quantize_kv (kv_int8), quantize_q (q_int8).
  static Result<std::vector<AnyConfig>> helpers(const Config &config);
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_ATTENTIONPREFILL_H
