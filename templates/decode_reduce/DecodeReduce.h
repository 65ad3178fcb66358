//===- DecodeReduce.h - combines split-KV decode partials --------*- C++ -*-===//
//
// decode_reduce: attention_decode with several splits leaves, per
// (sequence, KV head, split), BM rows of O_s = acc / l (f32, BM x D) and
// their log-sum-exp in log2 units (f32, BM; -inf for a split that saw no
// key). One program per (KV head, sequence) combines them:
//
//   O = sum_s 2^(lse_s - M) O_s / sum_s 2^(lse_s - M),  M = max_s lse_s
//
// (0 where every split was empty) and stores the rows < group * n in the
// output's layout (attention_decode's Problem). Only those rows of a partial
// are read (attention_decode writes no others).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_DECODEREDUCE_H
#define TURBO_TEMPLATES_DECODEREDUCE_H

#include "turbo/Templates/Template.h"

#include <cstdint>

namespace turbo::templates {
namespace decode_reduce {

struct Config {
  int64_t headDim = 128;
  DType dtype = DType::F16;
  int64_t blockRows = 16; ///< rows per (sequence, KV head): attention_decode's BM
  /// Splits combined per loop step: their loads are in flight together (a
  /// step's time is mostly one load's latency).
  int64_t splitsPerStep = 1;
  /// Columns of O per program: a program per (KV head, sequence, block of
  /// columns), so that one sequence's few heads still spread over the SMs.
  int64_t blockCols = 32;
  int64_t numWarps = 4; ///< fixed (not a parameter)
};

enum class Arg { Partial, O, OBatch, OHead, ORow, Rows, Splits, Group };

/// Floats a thread has loaded per step: splitsPerStep partial tiles of
/// BM x blockCols over the program's threads (the lse are a few more).
inline int64_t floatsInFlight(const Config &config) {
  return config.splitsPerStep * config.blockRows * config.blockCols / (32 * config.numWarps);
}
/// Beyond this many floats in flight a thread, registers spill.
inline constexpr int64_t kMaxFloatsInFlight = 128;

/// Floats of one split's partial: BM x D sums, then BM lse.
inline int64_t partialFloats(const Config &config) {
  return config.blockRows * (config.headDim + 1);
}

/// The same on the CPU: `partial` for one (sequence, KV head), `splits` of
/// them; out: rows x headDim floats.
void reference(const Config &config, const float *partial, int64_t splits, int64_t rows,
               float *out);

} // namespace decode_reduce

struct DecodeReduce {
  using Config = decode_reduce::Config;
  static constexpr const char *name = "decode_reduce";
  static constexpr const char *summary =
      "combines attention_decode's split-KV partial results by their log-sum-exp";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &config);
  static Signature<decode_reduce::Arg> signature(const Config &config);
  static Result<std::vector<AnyConfig>> helpers(const Config &) {
    return std::vector<AnyConfig>{};
  }
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_DECODEREDUCE_H
