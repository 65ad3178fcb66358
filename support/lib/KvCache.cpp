//===- KvCache.cpp - the compressed KV cache's layout and numerics --------===//
#include "turbo/Support/KvCache.h"
#include "turbo/Support/Numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace turbo::kv {
namespace {
int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}
} // namespace

Result<CacheLayout> CacheLayout::create(int64_t headDim, int64_t pageSize, std::vector<int> bits,
                                        KeptPages kept) {
  if (headDim != 64 && headDim != 128 && headDim != 256)
    return Status{StatusCode::InvalidArgument,
                  fmt::format("KV cache: head dim must be 64, 128 or 256 (96 is not supported "
                              "yet), got {}",
                              headDim)};
  if (pageSize != 16 && pageSize != 32 && pageSize != 64 && pageSize != 128)
    return Status{StatusCode::InvalidArgument,
                  fmt::format("KV cache: page size must be 16, 32, 64 or 128, got {}", pageSize)};
  if (bits.empty() || bits.size() > 256)
    return Status{StatusCode::InvalidArgument,
                  fmt::format("KV cache: need one bit width per KV head (1 to 256 heads), got {}",
                              bits.size())};
  for (size_t h = 0; h < bits.size(); ++h)
    if (bits[h] != 2 && bits[h] != 4 && bits[h] != 8)
      return Status{StatusCode::InvalidArgument,
                    fmt::format("KV cache: KV head {} has {} bits; widths are 2, 4 or 8", h,
                                bits[h])};
  const auto eightBit = std::count(bits.begin(), bits.end(), 8);
  if (eightBit > 0 && eightBit != std::ptrdiff_t(bits.size()))
    return Status{StatusCode::InvalidArgument,
                  "KV cache: 8-bit heads cannot share a cache with 2- or 4-bit heads (they "
                  "stage their tokens as INT16, the others as INT8)"};
  if (kept.sink < 0 || kept.sink > KeptPages::kMost || kept.window < 0 ||
      kept.window > KeptPages::kMost)
    return Status{StatusCode::InvalidArgument,
                  fmt::format("KV cache: sink pages ({}) and window pages ({}) must each be in "
                              "[0, {}]",
                              kept.sink, kept.window, KeptPages::kMost)};
  CacheLayout layout;
  layout.kept_ = kept;
  layout.headDim_ = headDim;
  layout.pageSize_ = pageSize;
  layout.bits_ = std::move(bits);
  int64_t offset = 0;
  for (int b : layout.bits_) {
    layout.headOffsets_.push_back(offset);
    offset += layout.segment(b).bytes;
  }
  layout.pageBytes_ = roundUp(offset, 128);
  return layout;
}

namespace {
int32_t log2Of(int64_t n) {
  int32_t width = 0;
  while ((int64_t(1) << width) < n)
    ++width;
  return width;
}
/// Where index bit j of `width` goes in the stored position: bits 0, 3, 4,
/// ..., width-1 to 0, 1, ..., width-3; bits 1 and 2 to the top two.
int32_t storedBit(int32_t j, int32_t width) {
  return j == 0 ? 0 : j == 1 ? width - 2 : j == 2 ? width - 1 : j - 2;
}
} // namespace

std::vector<int32_t> fragmentOrderBits(int64_t n) {
  const int32_t width = log2Of(n);
  std::vector<int32_t> bits(size_t(width), 0);
  for (int32_t j = 0; j < width; ++j)
    bits[size_t(j)] = storedBit(j, width);
  return bits;
}

std::vector<int32_t> fragmentOrderInverseBits(int64_t n) {
  const std::vector<int32_t> forward = fragmentOrderBits(n);
  std::vector<int32_t> inverse(forward.size());
  for (size_t j = 0; j < forward.size(); ++j)
    inverse[size_t(forward[j])] = int32_t(j);
  return inverse;
}

int64_t fragmentPosition(int64_t index, int64_t n) {
  const int32_t width = log2Of(n);
  int64_t position = 0;
  for (int32_t j = 0; j < width; ++j)
    position |= ((index >> j) & 1) << storedBit(j, width);
  return position;
}

namespace {
/// fragmentPosition of 0 .. n-1.
std::vector<int64_t> fragmentPositions(int64_t n) {
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    positions[size_t(i)] = fragmentPosition(i, n);
  return positions;
}
} // namespace

SegmentLayout CacheLayout::segment(int bits) const {
  SegmentLayout s;
  s.kRowBytes = headDim_ * bits / 8;
  s.vRowBytes = pageSize_ * bits / 8;
  const int64_t codes = roundUp(pageSize_ * s.kRowBytes, 16);
  s.kCodes = 0;
  s.vCodes = codes;
  s.kScale = 2 * codes;
  s.kZero = s.kScale + roundUp(headDim_ * 2, 16);
  s.vScale = s.kZero + roundUp(headDim_ * 2, 16);
  s.vZero = s.vScale + roundUp(pageSize_ * 2, 16);
  s.bytes = s.vZero + roundUp(pageSize_ * 2, 16);
  return s;
}

StagingRowLayout stagingRowLayout(int64_t headDim, int64_t codeBytes) {
  StagingRowLayout r;
  r.vCodes = headDim * codeBytes;
  r.kScale = 2 * r.vCodes;
  r.vScale = r.kScale + 4;
  r.rowBytes = r.vScale + 4;
  return r;
}

StagingLayout CacheLayout::staging() const {
  StagingLayout s;
  s.rows = (kept_.sink + kept_.window + 1) * pageSize_;
  s.codeBytes = stagingCodeBytes();
  const StagingRowLayout perRow = stagingRowLayout(headDim_, s.codeBytes);
  s.rowBytes = perRow.rowBytes;
  s.kCodes = 0;
  s.vCodes = s.rows * perRow.vCodes;
  s.kScale = s.rows * perRow.kScale;
  s.vScale = s.rows * perRow.vScale;
  s.bytes = roundUp(s.rows * perRow.rowBytes, 16);
  return s;
}

int64_t CacheLayout::stagingRow(int64_t position) const {
  const int64_t sinkRows = kept_.sink * pageSize_;
  if (position < sinkRows)
    return position;
  return sinkRows + (position - sinkRows) % ((kept_.window + 1) * pageSize_);
}

std::vector<int64_t> CacheLayout::stagedPages(int64_t length) const {
  const int64_t full = length / pageSize_, withTokens = (length + pageSize_ - 1) / pageSize_;
  std::vector<int64_t> pages;
  for (int64_t page = 0; page < std::min(kept_.sink, withTokens); ++page)
    pages.push_back(page);
  for (int64_t page = poolEnd(full); page < withTokens; ++page)
    pages.push_back(page);
  return pages;
}

double CacheLayout::bytesPerTokenPerHead(int64_t context) const {
  const int64_t fullPages = context / pageSize_;
  const double pages = double(poolEnd(fullPages) - kept_.sink);
  const double bytes = pages * double(pageBytes_) + double(stagingSlotBytes());
  return bytes / double(context) / double(kvHeads());
}

bool handlesWidth(KvBits widths, int bits) {
  return widths == KvBits::Mixed ? (bits == 2 || bits == 4) : bits == int(widths);
}

Status checkKernelFits(const CacheLayout &layout, int64_t headDim, int64_t pageSize,
                       KvBits widths, int64_t kvHeads) {
  if (layout.headDim() != headDim || layout.pageSize() != pageSize)
    return {StatusCode::InvalidArgument,
            fmt::format("the cache (head dim {}, page size {}) does not match the kernel (head "
                        "dim {}, page size {})",
                        layout.headDim(), layout.pageSize(), headDim, pageSize)};
  if (kvHeads != layout.kvHeads())
    return {StatusCode::InvalidArgument,
            fmt::format("kv_heads {} but the cache has {} KV heads", kvHeads, layout.kvHeads())};
  for (int64_t h = 0; h < layout.kvHeads(); ++h)
    if (!handlesWidth(widths, layout.bitsOf(h)))
      return {StatusCode::InvalidArgument,
              fmt::format("KV head {} is stored at {} bits, which a kv_bits={} kernel does not "
                          "handle",
                          h, layout.bitsOf(h), kvBitsName(widths))};
  return Status::ok();
}

Status checkAddressing(const CacheLayout &layout, int64_t batch, int64_t maxPages,
                       int64_t blockTableStride, int64_t numPages) {
  constexpr int64_t int32Max = std::numeric_limits<int32_t>::max();
  if (batch < 1 || batch > 65535)
    return {StatusCode::InvalidArgument, fmt::format("batch {} must be in [1, 65535]", batch)};
  if (maxPages < 1 || blockTableStride < maxPages || blockTableStride > int32Max / 65536)
    return {StatusCode::InvalidArgument,
            fmt::format("block table: {} columns, row stride {}: there must be a column, the "
                        "stride at least the columns and small enough for 32-bit offsets",
                        maxPages, blockTableStride)};
  if (numPages < 1 || layout.pageBytes() > int32Max ||
      (long double)numPages * layout.pageBytes() > 0x1p48L)
    return {StatusCode::InvalidArgument,
            fmt::format("a pool of {} pages of {} bytes is out of range (at least one page: a "
                        "kernel may read page 0 in place of a bad block-table entry)",
                        numPages, layout.pageBytes())};
  if (layout.stagingSlotBytes() > int32Max)
    return {StatusCode::InvalidArgument, "staging slots too large for 32-bit offsets"};
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Numerics
//===----------------------------------------------------------------------===//

namespace {
float finite(float value) { return std::isfinite(value) ? value : 0.0f; }
float absMax(const float *x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    amax = std::fmax(amax, std::fabs(finite(x[i])));
  return amax;
}
} // namespace

float stageRow(const float *x, int64_t n, int8_t *codes) {
  // Square-root companding: |code| = roundeven(127 * sqrt(|x| / amax)).
  const float amax = absMax(x, n), inverse = amax > 0.0f ? 1.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float value = finite(x[i]);
    const float magnitude =
        std::fmin(std::nearbyint(std::sqrt(std::fabs(value) * inverse) * 127.0f), 127.0f);
    codes[i] = int8_t(value < 0.0f ? -magnitude : magnitude);
  }
  return amax / float(127 * 127);
}

float stageRow(const float *x, int64_t n, int16_t *codes) {
  const numerics::SymmetricCodes symmetric(absMax(x, n), 16);
  for (int64_t i = 0; i < n; ++i)
    codes[i] = int16_t(symmetric.code(finite(x[i])));
  return symmetric.scale;
}

float AsymmetricGroup::scaleValue() const { return numerics::halfToFloat(scale); }
float AsymmetricGroup::zeroValue() const { return numerics::halfToFloat(zero); }

uint8_t AsymmetricGroup::code(float x, int bits) const {
  const float s = scaleValue();
  if (!(s > 0.0f))
    return 0;
  const float levels = float((1 << bits) - 1);
  const float q = std::nearbyint((x - zeroValue()) / s);
  if (!(q >= 0.0f)) // also NaN
    return 0;
  return uint8_t(std::min(q, levels));
}

float AsymmetricGroup::value(int code, bool bf16) const {
  const float x = numerics::fmaHalf(float(code), scaleValue(), zeroValue());
  return bf16 ? numerics::bfloatToFloat(numerics::floatToBFloat(x)) : numerics::roundToHalf(x);
}

AsymmetricGroup fitGroup(const float *x, int64_t n, int64_t stride, int bits) {
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::fmin(lo, x[i * stride]);
    hi = std::fmax(hi, x[i * stride]);
  }
  AsymmetricGroup g;
  g.scale = numerics::floatToHalf((hi - lo) / float((1 << bits) - 1));
  g.zero = numerics::floatToHalf(lo);
  return g;
}

void packCodes(const uint8_t *codes, int64_t n, int bits, uint8_t *out) {
  const int perByte = 8 / bits;
  const unsigned mask = (1u << bits) - 1;
  for (int64_t j = 0; j < n / perByte; ++j) {
    unsigned byte = 0;
    for (int i = 0; i < perByte; ++i)
      byte |= (codes[j * perByte + i] & mask) << (i * bits);
    out[j] = uint8_t(byte);
  }
}

void unpackCodes(const uint8_t *packed, int64_t n, int bits, uint8_t *codes) {
  const int perByte = 8 / bits;
  const unsigned mask = (1u << bits) - 1;
  for (int64_t k = 0; k < n; ++k)
    codes[k] = uint8_t((packed[k / perByte] >> ((k % perByte) * bits)) & mask);
}

namespace {
void storeHalf(uint8_t *at, uint16_t bits) {
  at[0] = uint8_t(bits & 0xff);
  at[1] = uint8_t(bits >> 8);
}
uint16_t loadHalf(const uint8_t *at) { return uint16_t(at[0] | (at[1] << 8)); }
} // namespace

template <typename Code>
void compressPage(const CacheLayout &layout, int bits, const Code *kStaged, const float *kScale,
                  const Code *vStaged, const float *vScale, uint8_t *segment) {
  const int64_t P = layout.pageSize(), D = layout.headDim();
  const SegmentLayout s = layout.segment(bits);
  std::fill(segment, segment + s.bytes, uint8_t(0));
  std::vector<float> k(static_cast<size_t>(P * D)), v(static_cast<size_t>(P * D));
  for (int64_t t = 0; t < P; ++t)
    for (int64_t c = 0; c < D; ++c) {
      k[size_t(t * D + c)] = stagedCodeValue(kStaged[t * D + c], kScale[t]);
      v[size_t(t * D + c)] = stagedCodeValue(vStaged[t * D + c], vScale[t]);
    }
  // Codes in stored order: K [token][channel position], V [channel][token position].
  const std::vector<int64_t> channelAt = fragmentPositions(D), tokenAt = fragmentPositions(P);
  std::vector<uint8_t> kCodes(static_cast<size_t>(P * D)), vCodes(static_cast<size_t>(D * P));
  for (int64_t c = 0; c < D; ++c) { // K: per channel over the page
    const AsymmetricGroup g = fitGroup(k.data() + c, P, D, bits);
    const int64_t at = channelAt[size_t(c)];
    storeHalf(segment + s.kScale + 2 * at, g.scale);
    storeHalf(segment + s.kZero + 2 * at, g.zero);
    for (int64_t t = 0; t < P; ++t)
      kCodes[size_t(t * D + at)] = g.code(k[size_t(t * D + c)], bits);
  }
  for (int64_t t = 0; t < P; ++t) { // V: per token
    const AsymmetricGroup g = fitGroup(v.data() + t * D, D, 1, bits);
    const int64_t at = tokenAt[size_t(t)];
    storeHalf(segment + s.vScale + 2 * at, g.scale);
    storeHalf(segment + s.vZero + 2 * at, g.zero);
    for (int64_t c = 0; c < D; ++c)
      vCodes[size_t(c * P + at)] = g.code(v[size_t(t * D + c)], bits);
  }
  for (int64_t t = 0; t < P; ++t)
    packCodes(kCodes.data() + t * D, D, bits, segment + s.kCodes + t * s.kRowBytes);
  for (int64_t c = 0; c < D; ++c)
    packCodes(vCodes.data() + c * P, P, bits, segment + s.vCodes + c * s.vRowBytes);
}

template void compressPage<int8_t>(const CacheLayout &, int, const int8_t *, const float *,
                                   const int8_t *, const float *, uint8_t *);
template void compressPage<int16_t>(const CacheLayout &, int, const int16_t *, const float *,
                                    const int16_t *, const float *, uint8_t *);

namespace {
float loadFloat(const uint8_t *at) {
  float value;
  std::memcpy(&value, at, sizeof value);
  return value;
}
template <typename Code> std::vector<Code> loadCodes(const uint8_t *at, int64_t n) {
  std::vector<Code> codes(static_cast<size_t>(n));
  std::memcpy(codes.data(), at, size_t(n) * sizeof(Code));
  return codes;
}
template <typename Code>
void compressStagedAs(const CacheLayout &layout, int bits, const uint8_t *slotHead, int64_t row0,
                      uint8_t *segment) {
  const StagingLayout st = layout.staging();
  const int64_t P = layout.pageSize(), D = layout.headDim();
  const int64_t at = row0 * D * st.codeBytes;
  const std::vector<Code> k = loadCodes<Code>(slotHead + st.kCodes + at, P * D);
  const std::vector<Code> v = loadCodes<Code>(slotHead + st.vCodes + at, P * D);
  std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P));
  for (int64_t t = 0; t < P; ++t) {
    ks[size_t(t)] = loadFloat(slotHead + st.kScale + (row0 + t) * 4);
    vs[size_t(t)] = loadFloat(slotHead + st.vScale + (row0 + t) * 4);
  }
  compressPage(layout, bits, k.data(), ks.data(), v.data(), vs.data(), segment);
}
} // namespace

void compressStagedPage(const CacheLayout &layout, int bits, const uint8_t *slotHead,
                        int64_t row0, uint8_t *segment) {
  if (layout.stagingCodeBytes() == 2)
    compressStagedAs<int16_t>(layout, bits, slotHead, row0, segment);
  else
    compressStagedAs<int8_t>(layout, bits, slotHead, row0, segment);
}

void stageToken(const CacheLayout &layout, uint8_t *slotHead, int64_t row, const float *k,
                const float *v) {
  const StagingLayout st = layout.staging();
  const int64_t D = layout.headDim(), at = row * D * st.codeBytes;
  auto stage = [&](const float *x, int64_t codesOffset, int64_t scaleOffset) {
    float scale;
    if (st.codeBytes == 2) {
      std::vector<int16_t> codes(static_cast<size_t>(D));
      scale = stageRow(x, D, codes.data());
      std::memcpy(slotHead + codesOffset + at, codes.data(), size_t(D) * 2);
    } else {
      scale = stageRow(x, D, reinterpret_cast<int8_t *>(slotHead + codesOffset + at));
    }
    std::memcpy(slotHead + scaleOffset + row * 4, &scale, 4);
  };
  stage(k, st.kCodes, st.kScale);
  stage(v, st.vCodes, st.vScale);
}

float stagedValue(const CacheLayout &layout, const uint8_t *slotHead, bool key, int64_t row,
                  int64_t column) {
  const StagingLayout st = layout.staging();
  const int64_t element = row * layout.headDim() + column;
  const uint8_t *codes = slotHead + (key ? st.kCodes : st.vCodes);
  const float scale = loadFloat(slotHead + (key ? st.kScale : st.vScale) + row * 4);
  if (!std::isfinite(scale))
    return 0.0f;
  if (st.codeBytes == 2) {
    int16_t wide;
    std::memcpy(&wide, codes + 2 * element, sizeof wide);
    return stagedCodeValue(wide, scale);
  }
  return stagedCodeValue(int8_t(codes[element]), scale);
}

void decompressPage(const CacheLayout &layout, int bits, const uint8_t *segment, float *k,
                    float *v, bool bf16) {
  const int64_t P = layout.pageSize(), D = layout.headDim();
  const SegmentLayout s = layout.segment(bits);
  const std::vector<int64_t> channelAt = fragmentPositions(D), tokenAt = fragmentPositions(P);
  std::vector<uint8_t> codes(static_cast<size_t>(std::max(P, D)));
  for (int64_t t = 0; t < P; ++t) {
    unpackCodes(segment + s.kCodes + t * s.kRowBytes, D, bits, codes.data());
    for (int64_t c = 0; c < D; ++c) {
      const int64_t at = channelAt[size_t(c)];
      AsymmetricGroup g{loadHalf(segment + s.kScale + 2 * at),
                        loadHalf(segment + s.kZero + 2 * at)};
      k[t * D + c] = g.value(codes[size_t(at)], bf16);
    }
  }
  for (int64_t c = 0; c < D; ++c) {
    unpackCodes(segment + s.vCodes + c * s.vRowBytes, P, bits, codes.data());
    for (int64_t t = 0; t < P; ++t) {
      const int64_t at = tokenAt[size_t(t)];
      AsymmetricGroup g{loadHalf(segment + s.vScale + 2 * at),
                        loadHalf(segment + s.vZero + 2 * at)};
      v[t * D + c] = g.value(codes[size_t(at)], bf16);
    }
  }
}

} // namespace turbo::kv
