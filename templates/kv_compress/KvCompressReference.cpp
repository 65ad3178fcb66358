//===- KvCompressReference.cpp - kv_compress and kv_stage on the CPU ------===//
//
// kv::stageRow and kv::compressPage are the arithmetic; this places it as
// the kernels do.
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
  /// New token `token` of (b, h), staged into codes and a scale.
  float stage(const uint16_t *base, const Problem::Strides &s, int64_t b, int64_t h,
              int64_t token, int8_t *codes) const {
    std::vector<float> row(static_cast<size_t>(D));
    for (int64_t c = 0; c < D; ++c)
      row[size_t(c)] = value(base[b * s.batch + h * s.head + token * s.row + c]);
    return kv::stageRow(row.data(), D, codes);
  }
  uint8_t *slot(int64_t b, int64_t h) const {
    return staging + b * layout.stagingSlotBytes() + h * layout.staging().bytes;
  }
  /// New token `token` -> staging row `row`.
  void stageInto(int64_t b, int64_t h, int64_t token, int64_t row) const {
    const kv::StagingLayout st = layout.staging();
    uint8_t *s = slot(b, h);
    const float ks = stage(k, p.k, b, h, token, reinterpret_cast<int8_t *>(s + st.k8 + row * D));
    const float vs = stage(v, p.v, b, h, token, reinterpret_cast<int8_t *>(s + st.v8 + row * D));
    std::memcpy(s + st.kScale + row * 4, &ks, 4);
    std::memcpy(s + st.vScale + row * 4, &vs, 4);
  }
  /// Staged rows -> page `pageIndex` of b's block table (skipped, and said, if bad).
  void compress(int64_t b, int64_t h, int64_t pageIndex, const int8_t *k8, const float *kScale,
                const int8_t *v8, const float *vScale) const {
    const int32_t entry = blockTable[b * p.blockTableStride + pageIndex];
    if (entry < 0 || entry >= p.numPages) {
      status[0] = 1;
      return;
    }
    kv::compressPage(layout, layout.bitsOf(h), k8, kScale, v8, vScale,
                     pool + entry * layout.pageBytes() + layout.headOffset(h));
  }
};

} // namespace

namespace kv_compress {

void reference(const Config &config, const kv::CacheLayout &layout, const Problem &p,
               const uint16_t *k, const uint16_t *v, uint8_t *pool, uint8_t *staging,
               const int32_t *blockTable, const int32_t *seqLens, int32_t *status) {
  Writer w{config, layout, p, k, v, pool, staging, blockTable, status};
  const int64_t P = config.pageSize, D = config.headDim;
  std::vector<int8_t> k8(static_cast<size_t>(P * D)), v8(static_cast<size_t>(P * D));
  std::vector<float> ks(static_cast<size_t>(P)), vs(static_cast<size_t>(P));
  const kv::StagingLayout st = layout.staging();
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
          for (int64_t t = 0; t < P; ++t) {
            ks[size_t(t)] = w.stage(k, p.k, b, h, page * P + t, &k8[size_t(t * D)]);
            vs[size_t(t)] = w.stage(v, p.v, b, h, page * P + t, &v8[size_t(t * D)]);
          }
          w.compress(b, h, page, k8.data(), ks.data(), v8.data(), vs.data());
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
        if (leaving >= 0) {
          const uint8_t *s = w.slot(b, h);
          const int64_t row = layout.stagingRow(leaving * P);
          std::memcpy(ks.data(), s + st.kScale + row * 4, size_t(P) * 4);
          std::memcpy(vs.data(), s + st.vScale + row * 4, size_t(P) * 4);
          w.compress(b, h, leaving, reinterpret_cast<const int8_t *>(s + st.k8 + row * D),
                     ks.data(), reinterpret_cast<const int8_t *>(s + st.v8 + row * D),
                     vs.data());
        }
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
