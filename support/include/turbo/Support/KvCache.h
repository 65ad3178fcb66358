//===- KvCache.h - the compressed, paged KV cache's layout and numerics ---===//
//
// The cache an engine owns and turbo's decode reads, in one place: where
// each byte of a page and of the staging area lies, how a page is
// compressed, how a head's bit width is chosen. Kernels, CPU references,
// the C API and the tools all ask here; nothing else spells the layout.
//
// Pool: pages of `pageSize` tokens. A page holds the same tokens of every KV
// head, one segment per head (heads may differ in bit width):
//
//   segment of head h (b = bits[h] in {2, 4, 8}, L = 2^b - 1, D = head dim):
//     k codes  P x D*b/8 bytes  token rows; the channels in fragment order,
//                               packed little-endian (turbo.pack's order)
//     v codes  D x P*b/8 bytes  channel rows; the tokens in fragment order,
//                               packed the same way
//     k scale  D f16   k zero  D f16   per channel over the page, in the
//                                      channels' fragment order
//     v scale  P f16   v zero  P f16   per token, in the tokens' fragment order
//   value = fma.f16(code, scale, zero)  (one rounding to f16)
//
// Fragment order (fragmentOrderBits) is the order in which a thread holds a
// row's elements as the B operand of mma.sync m16n8k16: decode then loads
// each thread's codes of a row as one run of bytes and dequantizes them in
// the registers the mma reads, with no exchange between threads. V is stored
// per channel because its B operand runs along the tokens.
//
// K is grouped per channel over the page (keys' outlier channels get their
// own range) and V per token (a sink's small value vector gets its own
// step): docs/kv-cache.md has the measurements behind the choice.
//
// Staging, one slot per sequence: the tokens a sequence keeps as integer
// codes, symmetric per token with an f32 scale (stageRow), in R = (S + W +
// 1) * P rows per KV head (KeptPages: S sink pages, W window pages). The
// codes are INT8, square-root companded, so that outlier channels, which
// set a token's scale, leave the other channels fine steps; or INT16 in a
// cache of 8-bit heads: an 8-bit page compressed from INT8 codes would
// carry two roundings of about the same size, where INT16 leaves it one.
//
//   head h of a slot: k codes R x D | v codes R x D | k scale R f32 | v scale R f32
//                     (codes i8, or i16 for 8-bit heads: stagingCodeBytes)
//
//   rows [0, S*P)       the first S pages (attention sinks), never compressed
//   rows [S*P, R)       a ring of W + 1 pages: the newest W full pages and
//                       the page being filled (its length mod P tokens)
//
// Position t is staged at stagingRow(t). When a page fills, the page that
// leaves the window (pageLeavingWindow) is compressed from its staged
// values (so a page holds the same bits whether it was filled by appends or
// compressed in bulk after a prefill). Only pages [S, full - W) are in the
// pool; the block table's columns of the others are not read.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_KVCACHE_H
#define TURBO_SUPPORT_KVCACHE_H

#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/Status.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace turbo::kv {

/// Where a head's page segment keeps its parts (byte offsets from the
/// segment's start; every part 16-byte aligned).
struct SegmentLayout {
  int64_t kCodes = 0, vCodes = 0, kScale = 0, kZero = 0, vScale = 0, vZero = 0;
  int64_t bytes = 0;     ///< the whole segment, a multiple of 16
  int64_t kRowBytes = 0; ///< one token's packed K codes (D * bits / 8)
  int64_t vRowBytes = 0; ///< one channel's packed V codes (P * bits / 8)
};

/// Fragment order of `n` (a power of two, at least 16) elements: bit j of
/// an element's index becomes bit [j] of the returned list in its stored
/// position (turbo.permute_bits' `bits` that read logical order from stored
/// order). Index bits 0 and 3 pick an element within one thread's share of
/// a 16-wide mma step and the bits from 4 up pick the step; they come first,
/// then bits 1 and 2, which pick the thread. So one thread's elements of a row
/// are stored together, at any width.
std::vector<int32_t> fragmentOrderBits(int64_t n);
/// The inverse permutation (turbo.permute_bits' `bits` that write stored
/// order from logical order).
std::vector<int32_t> fragmentOrderInverseBits(int64_t n);
/// Where element `index` of `n` is stored.
int64_t fragmentPosition(int64_t index, int64_t n);

/// A head's part of a staging slot per row it holds: its parts lie one after
/// another (K codes, V codes, K scales, V scales), each `rows` rows long, so
/// a part starts at rows times its entry here. Kernels multiply by a row
/// count known only at run time; StagingLayout by the cache's.
struct StagingRowLayout {
  int64_t vCodes = 0, kScale = 0, vScale = 0; ///< (K codes start at 0)
  int64_t rowBytes = 0; ///< one staged token: K and V codes, their scales (2 D codeBytes + 8)
};
StagingRowLayout stagingRowLayout(int64_t headDim, int64_t codeBytes);

/// The same for a head's part of a staging slot.
struct StagingLayout {
  int64_t rows = 0;      ///< tokens a head's part holds: (sink + window + 1) pages
  int64_t codeBytes = 1; ///< 1 (int8 codes) or 2 (int16, a cache of 8-bit heads)
  int64_t rowBytes = 0;  ///< one staged token: K and V codes, their scales (2 D codeBytes + 8)
  int64_t kCodes = 0, vCodes = 0, kScale = 0, vScale = 0;
  int64_t bytes = 0; ///< one head's part: rows * rowBytes, a multiple of 16
};

/// Pages a sequence keeps staged in its staging slot instead of
/// compressing them: its first `sink` pages (most LLMs put large weights on
/// their first tokens, whose values are small: an error there reaches every
/// query) and its `window` newest full pages (the tokens the next queries
/// weigh most).
struct KeptPages {
  int64_t sink = 0, window = 0;
  static constexpr int64_t kMost = 64; ///< of each
};
/// What a cache keeps unless told otherwise (the C API's and Python's
/// default; docs/kv-cache.md has the measurements behind it).
inline constexpr KeptPages kDefaultKeptPages{1, 0};

class CacheLayout {
public:
  /// Checks the values: head dim 64, 128 or 256; page size 16, 32, 64
  /// or 128; one width (2, 4 or 8) per KV head, 8 for all heads or none
  /// (their staging differs); kept pages in [0, 64] each.
  static Result<CacheLayout> create(int64_t headDim, int64_t pageSize, std::vector<int> bits,
                                    KeptPages kept = {});

  int64_t headDim() const { return headDim_; }
  int64_t pageSize() const { return pageSize_; }
  int64_t kvHeads() const { return int64_t(bits_.size()); }
  const std::vector<int> &bits() const { return bits_; }
  int bitsOf(int64_t head) const { return bits_[size_t(head)]; }
  const KeptPages &kept() const { return kept_; }

  /// The staging row of a token at `position`.
  int64_t stagingRow(int64_t position) const;
  /// Whether full page `page` of a sequence with `fullPages` full pages is
  /// in the pool (else staged): page in [sink, fullPages - window).
  bool inPool(int64_t page, int64_t fullPages) const {
    return page >= kept_.sink && page < fullPages - kept_.window;
  }
  /// The end of the pool's pages of a sequence with `fullPages` full pages
  /// (they are [sink, poolEnd)).
  int64_t poolEnd(int64_t fullPages) const {
    return std::max(kept_.sink, fullPages - kept_.window);
  }
  /// The pages of a sequence of `length` tokens whose tokens are staged, in
  /// the order decode reads them: the sink pages, then the window and the
  /// page being filled.
  std::vector<int64_t> stagedPages(int64_t length) const;
  /// The page to compress when page `fullPages - 1` has just filled: the
  /// one that left the window, or -1 (a sink page, or none left yet).
  int64_t pageLeavingWindow(int64_t fullPages) const {
    const int64_t page = fullPages - 1 - kept_.window;
    return page >= kept_.sink ? page : -1;
  }

  SegmentLayout segment(int bits) const;
  /// Byte offset of head h's segment in a page.
  int64_t headOffset(int64_t head) const { return headOffsets_[size_t(head)]; }
  /// One page: every head's segment, a multiple of 128 bytes.
  int64_t pageBytes() const { return pageBytes_; }
  int64_t poolBytes(int64_t pages) const { return pages * pageBytes_; }

  StagingLayout staging() const;
  /// Bytes of one staged code: 2 (int16) in a cache of 8-bit heads, else 1.
  int64_t stagingCodeBytes() const { return stagingCodeBytesOf(bits_.front()); }
  /// The same for a cache whose heads have `bits`.
  static int64_t stagingCodeBytesOf(int bits) { return bits == 8 ? 2 : 1; }
  /// One sequence slot of the staging area: every head.
  int64_t stagingSlotBytes() const { return staging().bytes * kvHeads(); }

  /// Bytes per token and KV head at `context` tokens: the pool's pages,
  /// plus one staging slot amortised over the context.
  double bytesPerTokenPerHead(int64_t context) const;

private:
  int64_t headDim_ = 0, pageSize_ = 0, pageBytes_ = 0;
  KeptPages kept_;
  std::vector<int> bits_;
  std::vector<int64_t> headOffsets_;
};

/// Bytes of one staged code in a cache a kernel built for `widths` reads.
inline int64_t stagingCodeBytes(KvBits widths) {
  return CacheLayout::stagingCodeBytesOf(int(widths));
}

/// Whether a kernel built for `widths` handles pages of `bits`: its one
/// width, or 2 and 4 for KvBits::Mixed.
bool handlesWidth(KvBits widths, int bits);

/// A kernel built for head dim, page size and `widths` against a cache of
/// `kvHeads` heads: the same shape, and every head's width handled.
Status checkKernelFits(const CacheLayout &layout, int64_t headDim, int64_t pageSize,
                       KvBits widths, int64_t kvHeads);

/// What a launch addresses of the cache in 32-bit values: a batch in
/// [1, 65535], a block table of 1 or more columns whose row stride keeps
/// batch * stride within 32 bits, a pool of 1 or more pages (a kernel may
/// read page 0 in place of a bad entry) of at most 2^48 bytes, and page and
/// staging-slot sizes within 32 bits.
Status checkAddressing(const CacheLayout &layout, int64_t batch, int64_t maxPages,
                       int64_t blockTableStride, int64_t numPages);

//===----------------------------------------------------------------------===//
// Numerics (the kernels do the same, step for step)
//===----------------------------------------------------------------------===//

/// One token's values to staged codes, symmetric, from amax = max |x|, all
/// in f32 (NaN and infinities count as 0: a bad token cannot spoil its
/// page's scales); returns the token's scale:
///   INT8   square-root companded: code = sign(x) * roundeven(127 * sqrt(|x|
///          * (1 / amax))), scale = amax / 127^2, value = code * |code| * scale.
///          Small values keep fine steps when a few outlier channels set amax
///          (their step near x is 2 sqrt(|x| amax) / 127^2 instead of amax / 127)
///   INT16  linear (numerics::SymmetricCodes): scale = amax / 32767,
///          value = code * scale
float stageRow(const float *x, int64_t n, int8_t *codes);
float stageRow(const float *x, int64_t n, int16_t *codes);
/// The value a staged code stands for (f32), as above.
inline float stagedCodeValue(int8_t code, float scale) {
  return float(int32_t(code) * (code < 0 ? -int32_t(code) : int32_t(code))) * scale;
}
inline float stagedCodeValue(int16_t code, float scale) { return float(code) * scale; }

/// Asymmetric quantization of `n` values at `bits`: scale = f16((max -
/// min) / L), zero = f16(min), code = clamp(roundeven((x - zero) / scale),
/// 0, L) (0 where scale is 0), all in f32.
struct AsymmetricGroup {
  uint16_t scale = 0, zero = 0; ///< f16 bits
  float scaleValue() const;
  float zeroValue() const;
  uint8_t code(float x, int bits) const;
  /// code * scale + zero in one f16 FMA (then, `bf16`, rounded to bf16).
  float value(int code, bool bf16 = false) const;
};
AsymmetricGroup fitGroup(const float *x, int64_t n, int64_t stride, int bits);

/// Packs `n` codes (each < 2^bits) little-endian into n * bits / 8 bytes, and back.
void packCodes(const uint8_t *codes, int64_t n, int bits, uint8_t *out);
void unpackCodes(const uint8_t *packed, int64_t n, int bits, uint8_t *codes);

/// Compresses one head's staged page (kCodes, vCodes: P x D int8 or int16,
/// kScale, vScale: P) into its segment at `segment` (SegmentLayout of its bits).
template <typename Code>
void compressPage(const CacheLayout &layout, int bits, const Code *kCodes, const float *kScale,
                  const Code *vCodes, const float *vScale, uint8_t *segment);
/// The same from a head's part of a staging slot (codes of its width), rows
/// row0 .. row0 + P.
void compressStagedPage(const CacheLayout &layout, int bits, const uint8_t *slotHead,
                        int64_t row0, uint8_t *segment);
/// Stages one token's K and V (D floats each) into row `row` of a head's
/// part of a staging slot: codes of the cache's width and their scales.
void stageToken(const CacheLayout &layout, uint8_t *slotHead, int64_t row, const float *k,
                const float *v);
/// The value of staged element (row, column) of K (`key`) or V in a head's
/// part of a staging slot: code * the row's scale, in f32 (a scale that is
/// not finite counts as 0, as decode reads it).
float stagedValue(const CacheLayout &layout, const uint8_t *slotHead, bool key, int64_t row,
                  int64_t column);

/// The values a compressed segment stands for (P x D floats each, already
/// rounded to f16, or `bf16`, as the kernels see them).
void decompressPage(const CacheLayout &layout, int bits, const uint8_t *segment, float *k,
                    float *v, bool bf16 = false);

} // namespace turbo::kv

#endif // TURBO_SUPPORT_KVCACHE_H
