//===- KvCompress.h - pages of the compressed KV cache from K/V --*- C++ -*-===//
//
// kv_compress writes full pages (turbo/Support/KvCache.h) in one of two ways:
//
//   source=tokens  after a prefill: program (KV head, sequence, page p) reads
//                  the prompt's K/V rows p*P .. p*P+P (f16/bf16), stages them
//                  (per token: INT8, INT16 for 8-bit heads) and compresses them into the page the
//                  block table names, or, for a page the cache keeps staged
//                  (sink and window pages, kv::KeptPages), writes them to
//                  its staging rows; the program past the last full page
//                  stages the rest (length mod P tokens). The cache must be
//                  empty before.
//   source=staging after kv_stage in an append step: program (KV head,
//                  sequence), when the step filled a page, compresses the
//                  page that left the window (kv::CacheLayout::
//                  pageLeavingWindow; with no window, the page just filled)
//                  from its staging rows into the pool, then stages the new
//                  tokens past the filled page's end into the rows it left.
//
// Either way a page holds the same bits: compressed from tokens staged
// alike (kv::stageRow, kv::compressPage are the reference):
//
//   staged  : P x D i8 (i16 for 8-bit heads), P f32  symmetric per token,
//             i8 square-root companded (non-finite values as 0)
//   x       : P x D f32        kv::stagedCodeValue(code, scale)
//   K       : per channel (D): lo, hi over the page -> scale = f16((hi - lo) / L),
//             zero = f16(lo), code = clamp(roundeven((x - zero) / scale), 0, L)
//   V       : the same per token (P)
//   codes packed along the channels (turbo.pack), scales and zeros as f16.
//
// A block-table entry outside the pool is not written (status word 0).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_KVCOMPRESS_H
#define TURBO_TEMPLATES_KVCOMPRESS_H

#include "turbo/Support/KvCache.h"
#include "turbo/Templates/Template.h"

#include <array>
#include <cstdint>
#include <vector>

namespace turbo::templates {
namespace kv_compress {

enum class Source { Tokens = 0, Staging = 1 };

struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  int64_t pageSize = 64;
  KvBits kvBits = KvBits::Mixed; ///< page widths written: one, or 2 and 4 by head
  Source source = Source::Tokens;
  int64_t maxNew = 16; ///< staging: new tokens per step, at most (<= page size)
  int64_t numWarps = 4; ///< fixed (not a parameter)
};

enum class Arg {
  K, V, Pool, PoolHalf, Staging, StagingFloat, BlockTable, SeqLens, HeadTable, Status,
  KBatch, KHead, KRow, VBatch, VHead, VRow, NumNew, PageBytes, NumPages, BlockTableStride,
  MaxPages, StagingSlotBytes, SinkPages, WindowPages
};

/// One write into the cache: new tokens (source=staging: num_new per
/// sequence after seq_lens[b] already cached; source=tokens: a prompt of
/// seq_lens[b] tokens, num_new the longest, into an empty cache).
struct Problem {
  int64_t batch = 1, kvHeads = 1, numNew = 1;
  struct Strides {
    int64_t batch = 0, head = 0, row = 0;
  } k, v;
  int64_t maxPages = 1, blockTableStride = 1, numPages = 1;
};

struct Buffers {
  uint64_t k = 0, v = 0, pool = 0, staging = 0, blockTable = 0, seqLens = 0, headTable = 0,
           status = 0;
};

/// Checks shared by kv_stage and kv_compress.
Status canImplement(const Config &config, const kv::CacheLayout &layout, const Problem &problem,
                    const Buffers &buffers);
std::array<unsigned, 3> grid(const Config &config, const Problem &problem);
Result<std::vector<KernelLaunch>> launches(const Config &config, const kv::CacheLayout &layout,
                                           const Problem &problem, const Buffers &buffers);

/// The same on the CPU, on host copies (k, v: dtype bits).
void reference(const Config &config, const kv::CacheLayout &layout, const Problem &problem,
               const uint16_t *k, const uint16_t *v, uint8_t *pool, uint8_t *staging,
               const int32_t *blockTable, const int32_t *seqLens, int32_t *status);

} // namespace kv_compress

struct KvCompress {
  using Config = kv_compress::Config;
  static constexpr const char *name = "kv_compress";
  static constexpr const char *summary =
      "full pages of the compressed KV cache, from a prompt's K/V or from the staging area";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &config);
  static Signature<kv_compress::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_KVCOMPRESS_H
