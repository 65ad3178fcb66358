//===- DecodeInputs.h - caches built on the host, and error measures -*- C++ -*-===//
//
// For tests, turbo-accuracy and benchmarks: float K/V per (sequence, KV
// head) of chosen kinds, written into a cache as appends and page
// compression would write it (turbo/Support/KvCache.h), with the block table
// shuffled and, optionally, a shared first page; the exact float64
// attention over the unquantized K/V; and a float-dequant peer scheme at
// the same bits (KIVI's kind: K per channel and V per token over the page,
// f16 dequantisation; the tokens turbo stages, sink and window pages
// included, kept in f16).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_DECODEINPUTS_H
#define TURBO_TEMPLATES_DECODEINPUTS_H

#include "attention_decode/AttentionDecode.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace turbo::templates::attention_decode {

/// Kinds of K/V: "normal" (N(0, 1)), "outliers" (4 key channels x 8 + 12),
/// "sink" (the first token's key along every query's shared direction, a
/// logit ~10 above the rest, its value vector 1/20 of typical),
/// "unequal" (odd KV heads with small, flat K/V: x 0.1).
struct DecodeInputs {
  kv::CacheLayout layout;
  Problem problem;
  std::vector<uint16_t> q;        ///< [batch, q_heads, n, D] bits of the dtype
  std::vector<uint8_t> pool, staging;
  std::vector<int32_t> blockTable, seqLens;
  /// The unquantized values, [batch][kv head] -> length x D floats (as dtype values).
  std::vector<std::vector<float>> k, v;
};

struct DecodeShape {
  int64_t batch = 2, kvHeads = 2, numQuery = 1;
  std::vector<int64_t> lengths; ///< per sequence (tokens in the cache)
  int64_t maxPages = 0;         ///< 0: the longest length's pages
  int64_t sparePages = 3;       ///< pool pages no sequence uses
  bool sharedFirstPage = false; ///< sequence 1 shares sequence 0's first pool page
  kv::KeptPages kept = kv::kDefaultKeptPages; ///< pages kept in the staging slot
  /// Benchmarks: K/V from a fast generator (uniform, unit variance; kinds
  /// apply alike), not kept after their pages are written (k, v empty).
  bool benchmark = false;
};

DecodeInputs makeDecodeInputs(const Config &config, const std::vector<int> &bits,
                              const DecodeShape &shape, const std::string &kind,
                              std::mt19937 &rng);

/// Exact attention in float64 over `in`'s unquantized K/V (the same
/// causal rule for the new tokens), rows as the kernel's output.
std::vector<double> exactDecode(const Config &config, const DecodeInputs &in);
/// Exact attention in float64 over what the cache holds: the pages'
/// dequantized values and the staged tokens (as the kernel reads them,
/// rounded to the dtype), skipping block-table entries outside the pool.
std::vector<double> cachedDecode(const Config &config, const DecodeInputs &in);
/// The float-dequant peer at the same bits per head (see above).
std::vector<double> peerDecode(const Config &config, const DecodeInputs &in);

/// Relative L2 of a result (dtype bits or doubles) against a reference.
double relativeL2(const std::vector<double> &result, const std::vector<double> &reference);
std::vector<double> toDoubles(const std::vector<uint16_t> &bits, DType dtype);

} // namespace turbo::templates::attention_decode

#endif // TURBO_TEMPLATES_DECODEINPUTS_H
