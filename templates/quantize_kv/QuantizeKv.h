//===- QuantizeKv.h - K and V to INT8 once, for prefill ---------*- C++ -*-===//
//
// quantize_kv: the K/V half of FlashQ's compute stage, done once instead of
// once per query block. For K, V [batch, kv_heads, seq, head_dim]
// (f16/bf16, any strides) and, with k_smooth, K's per-channel means:
//
//   k8 [b, h, s, :]  = INT8 of K - mean per token (row),   k_scale [b, h, s]
//                      (s up to the padded length: zeros past the sequence)
//   v8t[b, h, :, s]  = INT8 of V per channel over each block of block_n
//                      tokens, stored transposed (tokens contiguous, the
//                      order the P.V product reads them) and, within each
//                      group of 32 tokens, permuted (kKeyPermutation),
//                      v_scale[b, h, blk, :]
//   (v_format=half:)     V itself, transposed, in f16/bf16; no scales
//   v0t[b, h, :, s]  = (v_format=mixed) the first block_n tokens of V,
//                      transposed, in f16/bf16
//
// exactly the arithmetic attention_prefill does when it quantizes K and V
// itself (kv_int8=0), so both give the same output. All four outputs live in
// one workspace; `Layout` gives their offsets.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_QUANTIZEKV_H
#define TURBO_TEMPLATES_QUANTIZEKV_H

#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>

namespace turbo::templates {
namespace quantize_kv {

/// What v8t holds: V in INT8 per channel over each block (scales in
/// v_scale, keys permuted), or V itself (f16/bf16, transposed, nothing else:
/// for a P.V product in 16 bits); mixed: INT8 as for int8, and the first
/// block of keys also as V itself in v0t (D x block_n per head, transposed).
enum class VFormat { Int8 = 0, Half = 1, Mixed = 2 };

struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  int64_t blockN = 64; ///< tokens per V scale block (attention's block_n)
  int64_t numWarps = 4;
  /// A program holds at most tile_rows x D elements: K in programs of
  /// min(block_n, tile_rows) tokens, V in programs of block_n tokens and
  /// D * tile_rows / block_n channels (all D when block_n <= tile_rows).
  int64_t tileRows = 64;
  bool kSmooth = true; ///< subtract K's per-channel mean first
  VFormat vFormat = VFormat::Int8;
};

/// See the layout below for the outputs (k8, k_scale, v8t, v_scale);
/// kv_pitch is the Layout's paddedSeq (the host computes it, the kernel
/// takes it: one rule for where a head's rows start).
enum class Arg {
  K, V, KMean, K8, KScale, V8t, VScale, Seq, KBatch, KHead, KRow, VBatch, VHead, VRow,
  CuSeqlens, Packed, KvPitch, V0t
};

struct Problem {
  int64_t batch = 1, kvHeads = 1, seq = 0;
  struct Strides {
    int64_t batch = 0, head = 0, row = 0;
  } k, v;
  int64_t packedTokens = 0; ///< with cu_seqlens: the tokens k and v hold
};

/// Position k of each 32-token group of v8t holds token p(k), where bit j
/// of k is bit kKeyPermutation[j] of p(k) (turbo.permute_bits). That is the
/// order in which the mma.sync m16n8 accumulator holds a row's 32 columns
/// when read as the A operand of m16n8k32: attention_prefill permutes P
/// alike, so P goes from one mma to the next without leaving the registers.
inline constexpr std::array<int32_t, 5> kKeyPermutation = {0, 3, 1, 2, 4};

/// Bytes per k8 row: head_dim rounded up to 16, so every row starts 16-byte
/// aligned for the vector copies of both kernels that touch it.
constexpr int64_t k8RowBytes(int64_t headDim) { return (headDim + 15) / 16 * 16; }

/// Where the outputs sit in the workspace (bytes from its start; every part
/// 256-byte aligned) and their dense strides.
struct Layout {
  int64_t rowBytes = 0;      ///< k8 row: head_dim rounded up to 16
  int64_t vBytes = 1;        ///< bytes of a v8t element (2 with v_format=half)
  int64_t paddedSeq = 0;     ///< rows of k8 and k_scale, v8t's row: seq rounded up to block_n
  int64_t blocks = 0;        ///< paddedSeq / block_n
  int64_t k8 = 0, kScale = 0, v8t = 0, vScale = 0;
  int64_t v0t = 0; ///< v_format=mixed
  int64_t totalBytes = 0;
};
Layout layoutFor(const Config &config, const Problem &problem);

/// How the programs share the work: K's programs take `kTokens` tokens
/// each (K's scales are per token: any block will do), V's a block of
/// block_n tokens (its per-channel scales span the block) and `vChannels`
/// of the padded head's channels, `vGroups` programs per block. Every
/// program then holds at most tile_rows x D elements: at block_n=128 a
/// program of all 128 x D held twice 64 x D and ran slower (H200, 16k
/// tokens, d128: 104 us against 91).
struct ProgramSplit {
  int64_t kTokens, vChannels, vGroups;
};
ProgramSplit programSplit(int64_t headDim, int64_t blockN, int64_t tileRows);

/// With packed_tokens != 0 (the varlen form: K and V hold that many rows)
/// sequence b is K/V rows cu_seqlens[b] .. cu_seqlens[b + 1], clamped to
/// those rows (the batch strides are 0), and seq is the longest
/// sequence: the outputs keep paddedSeq rows per (b, h), those past a
/// sequence's length written as zero codes and scales (the attention kernel
/// reads whole blocks unchecked and masks those keys).
Status canImplement(const Config &config, const Problem &problem, uint64_t k, uint64_t v,
                    uint64_t kMean, uint64_t workspace);
/// (K's programs + V's programs, kv_heads, batch); see ProgramSplit.
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
/// The launch, checked: outputs at `workspace` as layoutFor places them;
/// `cuSeqlens` (0: padded) gives packed sequences.
Result<KernelLaunch> launch(const Config &config, const Problem &problem, uint64_t k,
                            uint64_t v, uint64_t kMean, uint64_t workspace, uint64_t cuSeqlens);

} // namespace quantize_kv

struct QuantizeKv {
  using Config = quantize_kv::Config;
  static constexpr const char *name = "quantize_kv";
  static constexpr const char *summary =
      "K per token (after smoothing) and V per channel per block to INT8, V transposed";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &) { return Status::ok(); }
  static Signature<quantize_kv::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_QUANTIZEKV_H
