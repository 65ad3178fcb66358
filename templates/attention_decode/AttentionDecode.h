//===- AttentionDecode.h - decode attention over the compressed cache -----===//
//
// attention_decode: for each sequence of a batch, 1 to max_q new query
// tokens attend to the sequence's whole context in the paged, compressed KV
// cache (turbo/Support/KvCache.h): the pool's pages at 2, 4 or 8 bits per KV
// head and the staged pages (sink pages, the window, the newest length mod
// page size tokens) in the sequence's staging slot (INT8 codes per token,
// INT16 for 8-bit heads).
// The new tokens' own K/V are already in the cache (appended first); query
// token t of n sees the context up to position length - n + t.
//
// One program per (KV head, sequence, split): the split's pool pages, and
// the staged pages in the last split. Its query rows are the group's query
// heads times the new tokens, head-major (row g * n + t), in the MMA's M
// dimension, so K and V are read once per KV head:
//
//   q_tile   : BM x D  dtype   rows < group * n, the rest 0
//   per page (pool or staged), P keys:
//     codes  : P x D   i8      unpacked from P x D*b/8 bytes (b = the head's bits)
//     k, v   : P x D   dtype   fma.f16(code, scale, zero): K's scale/zero per
//                              channel (D), V's per token (P); staging:
//                              f16(code * scale) per token
//     s      : BM x P  f32     q k^T, masked past the keys a row may see
//     p      : BM x P  f16     SAS 2^(s * scale_log2 - blockMax), blockMax
//                              the ceil of the block's row max
//     acc    : BM x D  f32     acc * alpha + (p v) * 2^(blockMax - m)
//   one split: O = acc / l in dtype; several: acc / l and the row's lse
//   (log2) into the workspace, combined by decode_reduce.
//
// Bad cache contents cannot take a kernel out of bounds: a block-table
// entry outside [0, pages) is skipped (its keys masked) and a length past
// the block table's pages is cut to it; either sets a status word (word 0:
// bad page, word 1: length cut), which the caller may read when convenient.
// A staged token whose scale is not finite (rows never written, read after
// a cut) counts as zeros.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_ATTENTIONDECODE_H
#define TURBO_TEMPLATES_ATTENTIONDECODE_H

#include "decode_reduce/DecodeReduce.h"
#include "turbo/Support/KvCache.h"
#include "turbo/Templates/SearchSpace.h"
#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>
#include <vector>

namespace turbo::templates {
namespace attention_decode {

struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  int64_t group = 4;        ///< query heads per KV head
  int64_t maxQuery = 1;     ///< new query tokens per sequence, at most
  int64_t pageSize = 64;
  KvBits kvBits = KvBits::Mixed; ///< page widths read: one, or 2 and 4 by head (mixed)
  int64_t numWarps = 4;
  int64_t sasDegree = 2;
  int64_t sasThreshold = 14;
  /// What the page loop loads one page ahead, in registers: 0 nothing, 1 the
  /// codes, 2 the codes and the scales and zeros.
  int64_t prefetch = 2;
  /// Shared-memory slots the page loop's codes, scales and zeros go through
  /// (cp.async, num_stages - 1 pages in flight ahead of the one in use); 1:
  /// none, the page loop loads as `prefetch` says (which is ignored above 1).
  int64_t numStages = 1;
  int64_t minBlocksPerSm = 0; ///< 0: ptxas's choice; n: registers capped so n blocks fit an SM
  /// 1: the page's keys in the mma's M dimension (K and V^T the A operands,
  /// the query rows in N, 8 at least) instead of the query rows in M (16 at
  /// least). A few query rows then pad to 8 instead of 16.
  int64_t keysInM = 0;
  int64_t reduceSplitsPerStep = 8; ///< decode_reduce's splits_per_step
  int64_t reduceBlockCols = 32;    ///< decode_reduce's block_cols (cut to head_dim)
};

/// Query rows of one program in the workspace: group * maxQuery, at least
/// 16 (the MMA's M), a power of two.
int64_t blockRows(const Config &config);
/// Query rows of one program in its tiles: blockRows, or with keys_in_m the
/// same at least 8 (the MMA's N).
int64_t tileRows(const Config &config);

enum class Arg {
  Q, O, Pool, Staging, StagingFloat, BlockTable, SeqLens, HeadTable, Partial,
  Status, QBatch, QHead, QRow, OBatch, OHead, ORow, NumQuery, PageBytes, NumPages,
  BlockTableStride, MaxPages, StagingSlotBytes, SinkPages, WindowPages, PagesPerSplit, ScaleLog2
};

/// Strides in elements. Row r = g * n + t of a KV head's group is at
/// head (kv_head * group + g) and token t: with one query token the row
/// stride is the head stride; with several the heads must lie n rows apart
/// (q: [batch, q_heads, n, head_dim] with any batch stride).
struct Problem {
  int64_t batch = 1, kvHeads = 1, numQuery = 1;
  float softmaxScale = 0; ///< 0: 1 / sqrt(head_dim)
  struct Strides {
    int64_t batch = 0, head = 0, token = 0;
  } q, o;
  int64_t maxPages = 0;         ///< block table columns
  int64_t blockTableStride = 0; ///< elements between block table rows
  int64_t numPages = 0;         ///< pages in the pool
  int64_t splits = 1;           ///< programs per (KV head, sequence)
};

struct Buffers {
  uint64_t q = 0, o = 0;
  uint64_t pool = 0;       ///< numPages * pageBytes
  uint64_t staging = 0;    ///< batch slots of stagingSlotBytes
  uint64_t blockTable = 0; ///< int32 [batch, maxPages] (row stride blockTableStride)
  uint64_t seqLens = 0;    ///< int32 [batch]: context length, new tokens included
  uint64_t headTable = 0;  ///< int32 [kvHeads, 2]: bits, byte offset in a page
  uint64_t workspace = 0;  ///< splits > 1: workspaceBytes
  int64_t workspaceBytes = 0;
  uint64_t status = 0;     ///< int32 [2]: words the kernel sets to 1 (bad page, length cut)
};

/// Splits for a batch on a GPU that runs `multiprocessors` x
/// `blocksPerMultiprocessor` programs at once: the count that finishes
/// soonest when programs run in waves of that many, each costing its pages
/// plus kProgramPages (the query, the staged pages, the store), the fewer
/// splits on a tie; at most max_pages and 1024. decode_reduce's time is not
/// counted.
int64_t chooseSplits(const Problem &problem, int multiprocessors, int blocksPerMultiprocessor);
/// A program's fixed cost in pages, for chooseSplits.
inline constexpr int64_t kProgramPages = 2;
/// Pages each split takes (of the block table's max_pages).
int64_t pagesPerSplit(const Config &config, const Problem &problem);
/// Partial results: f32 per (sequence, KV head, split): BM x D sums and BM lse.
int64_t workspaceBytes(const Config &config, const Problem &problem);
/// The head table the kernel reads (host copy): bits and page offset per head.
std::vector<int32_t> headTable(const kv::CacheLayout &layout);

Status canImplement(const Config &config, const kv::CacheLayout &layout, const Problem &problem,
                    const Buffers &buffers);
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
float scaleLog2(const Config &config, const Problem &problem);

/// The decode kernel and, with splits, decode_reduce.
Result<std::vector<KernelLaunch>> launches(const Config &config, const kv::CacheLayout &layout,
                                           const Problem &problem, const Buffers &buffers);
decode_reduce::Config reduceConfig(const Config &config);

/// The same arithmetic on the CPU, on host copies of the buffers (one split:
/// the order of adding differs from a split launch by rounding only). q and o
/// hold f16/bf16 bits.
void reference(const Config &config, const kv::CacheLayout &layout, const Problem &problem,
               const uint16_t *q, uint16_t *o, const uint8_t *pool, const uint8_t *staging,
               const int32_t *blockTable, const int32_t *seqLens, int32_t *status);

} // namespace attention_decode

struct AttentionDecode {
  using Config = attention_decode::Config;
  static constexpr const char *name = "attention_decode";
  static constexpr const char *summary =
      "decode attention over the paged KV cache (2/4/8-bit pages, staged tokens), SAS softmax, "
      "split-KV";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  /// What turbo-tune varies: warps and what the page loop prefetches
  /// (speed only; the arithmetic is the same at every point).
  static SearchSpace searchSpace(std::string_view target, const Config &base);
  static Status validate(const Config &config);
  static Signature<attention_decode::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &config);
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_ATTENTIONDECODE_H
