//===- KvCompressReference.cpp - kv_compress and kv_stage on the CPU ------===//
//
// kv::stageToken and kv::compressStagedPage are the arithmetic; this places
// it as the kernels do.
//
//===----------------------------------------------------------------------===//
#include "kv_compress/KvCompress.h"
#include "kv_stage/KvStage.h"
#include "turbo/Support/Numerics.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace turbo::templates {
namespace {

using kv_compress::Config;
using kv_compress::Problem;

struct Writer {
  const Config &config;
  const kv::CacheLayout &layout;
  const Problem &p;
  const uint16_t *k, *v;
  uint8_t *pool, *staging;
  const int32_t *blockTable;
  int32_t *status;
  int64_t P = config.pageSize, D = config.headDim;

  float value(uint16_t bits) const {
    return config.dtype == DType::BF16 ? numerics::bfloatToFloat(bits)
                                       : numerics::halfToFloat(bits);
  }
  /// New token `token` of (b, h) as floats.
  std::vector<float> tokenValues(const uint16_t *base, const Problem::Strides &s, int64_t b,
                                 int64_t h, int64_t token) const {
    std::vector<float> values(static_cast<size_t>(D));
    for (int64_t c = 0; c < D; ++c)
      values[size_t(c)] = value(base[b * s.batch + h * s.head + token * s.row + c]);
    return values;
  }
  uint8_t *slot(int64_t b, int64_t h) const {
    return staging + b * layout.stagingSlotBytes() + h * layout.staging().bytes;
  }
  /// New token `token` -> row `row` of a head's part of a slot (`slotHead`).
  void stageInto(uint8_t *slotHead, int64_t b, int64_t h, int64_t token, int64_t row) const {
    kv::stageToken(layout, slotHead, row, tokenValues(k, p.k, b, h, token).data(),
                   tokenValues(v, p.v, b, h, token).data());
  }
  void stageInto(int64_t b, int64_t h, int64_t token, int64_t row) const {
    stageInto(slot(b, h), b, h, token, row);
  }
  /// Staged rows row0 .. row0 + P of `slotHead` -> page `pageIndex` of b's
  /// block table (skipped, and said, if bad).
  void compress(int64_t b, int64_t h, int64_t pageIndex, const uint8_t *slotHead,
                int64_t row0) const {
    const int32_t entry = blockTable[b * p.blockTableStride + pageIndex];
    if (entry < 0 || entry >= p.numPages) {
      status[0] = 1;
      return;
    }
    kv::compressStagedPage(layout, layout.bitsOf(h), slotHead, row0,
                           pool + entry * layout.pageBytes() + layout.headOffset(h));
  }
};

} // namespace

namespace kv_compress {

void reference(const Config &config, const kv::CacheLayout &layout, const Problem &p,
               const uint16_t *k, const uint16_t *v, uint8_t *pool, uint8_t *staging,
               const int32_t *blockTable, const int32_t *seqLens, int32_t *status) {
  Writer w{config, layout, p, k, v, pool, staging, blockTable, status};
  const int64_t P = config.pageSize;
  // A pool page's tokens, staged as a slot's rows 0 .. P would be.
  std::vector<uint8_t> scratch(static_cast<size_t>(layout.staging().bytes));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.kvHeads; ++h) {
      const int64_t length = std::max<int64_t>(seqLens[b], 0);
      if (config.source == Source::Tokens) {
        const int64_t most = std::min(p.numNew, p.maxPages * P + P - 1);
        if (length > most)
          status[1] = 1;
        const int64_t len = std::min(length, most), full = len / P;
        for (int64_t page = 0; page < full; ++page) {
          if (!layout.inPool(page, full)) { // a sink or window page: staged
            for (int64_t t = page * P; t < page * P + P; ++t)
              w.stageInto(b, h, t, layout.stagingRow(t));
            continue;
          }
          for (int64_t t = 0; t < P; ++t)
            w.stageInto(scratch.data(), b, h, page * P + t, t);
          w.compress(b, h, page, scratch.data(), 0);
        }
        for (int64_t t = full * P; t < len; ++t)
          w.stageInto(b, h, t, layout.stagingRow(t));
        continue;
      }
      // source=staging: after kv_stage. The step filled page length / P;
      // the page that left the window goes to the pool, then the tokens
      // past the filled page's end are staged (into the ring rows it left).
      const int64_t row0 = length % P;
      if (row0 + p.numNew < P)
        continue;
      const int64_t filled = length / P;
      if (filled < p.maxPages) {
        const int64_t leaving = layout.pageLeavingWindow(filled + 1);
        if (leaving >= 0)
          w.compress(b, h, leaving, w.slot(b, h), layout.stagingRow(leaving * P));
      } else {
        status[1] = 1;
      }
      for (int64_t i = P - row0; i < p.numNew; ++i)
        w.stageInto(b, h, i, layout.stagingRow(length + i));
    }
}

} // namespace kv_compress

namespace kv_stage {

void reference(const kv_compress::Config &config, const kv::CacheLayout &layout,
               const kv_compress::Problem &p, const uint16_t *k, const uint16_t *v,
               uint8_t *pool, uint8_t *staging, const int32_t *blockTable,
               const int32_t *seqLens, int32_t *status) {
  Writer w{config, layout, p, k, v, pool, staging, blockTable, status};
  const int64_t P = config.pageSize;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.kvHeads; ++h) {
      const int64_t length = std::max<int64_t>(seqLens[b], 0), row0 = length % P;
      for (int64_t i = 0; i < p.numNew && row0 + i < P; ++i)
        w.stageInto(b, h, i, layout.stagingRow(length + i));
    }
  kv_compress::reference(compressConfig(config), layout, p, k, v, pool, staging, blockTable,
                         seqLens, status);
}

} // namespace kv_stage
} // namespace turbo::templates
