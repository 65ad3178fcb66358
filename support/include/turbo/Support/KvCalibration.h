//===- KvCalibration.h - bits per KV head from sample attention -*- C++ -*-===//
//
// Headwise mixed precision: which KV heads the cache stores at 2 bits. The
// default measures each head's loss: attention over the cache's own
// arithmetic (kv::compressPage, kv::stageRow) against float64 attention
// over the unquantized K/V, on sample queries, keys and values. The
// paper's statistic (channel range times deviation) is kept for comparison;
// on a real model it ranked heads worse than a random choice
// (docs/accuracy.md).
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_KVCALIBRATION_H
#define TURBO_SUPPORT_KVCALIBRATION_H

#include "turbo/Support/KvCache.h"
#include "turbo/Support/Status.h"

#include <cstdint>
#include <vector>

namespace turbo::kv {

/// One KV head's sample attention: `groupSize` query heads' rows q
/// [groupSize][tokens][headDim], keys and values k, v [tokens][headDim]
/// (contiguous, finite).
struct HeadSample {
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t groupSize = 1, tokens = 0, headDim = 0;
};

/// A head's loss when its pages hold `bits`: the L2 norm of the error of
/// causal attention (query i sees tokens 0..i, scale 1/sqrt(headDim)) as
/// the cache holds the tokens after i was appended (its pool pages
/// compressed at `bits` from staged tokens, the rest, `kept` pages
/// included, staged: kv::CacheLayout::staging), against float64 attention
/// over the unquantized K/V; and the norm of that exact output. Over at
/// most `maxQueries` query positions, evenly spaced, the last included.
/// headDim, pageSize and kept as the cache takes them.
struct HeadLoss {
  double error = 0.0, reference = 0.0;
};
Result<HeadLoss> measureHeadLoss(const HeadSample &sample, int bits,
                                 int64_t pageSize, int64_t maxQueries = 512,
                                 KeptPages kept = kDefaultKeptPages);

/// The default calibration's score of each of a layer's KV heads (q
/// [qHeads][tokens][headDim], k, v [kvHeads][tokens][headDim]; query head
/// j reads KV head j / (qHeads / kvHeads)): its loss at 2 bits, the error
/// over the norm of the whole layer's exact output, so that a head whose
/// output is small for the layer counts little, and scores of different
/// layers compare. Heads are measured in parallel.
/// `bits`: the width the losses are measured at (2, the calibration's; 4
/// for pickBitsWithinBudget; 8).
Result<std::vector<double>> measureLayerLosses(const float *q, const float *k,
                                               const float *v, int64_t qHeads,
                                               int64_t kvHeads, int64_t tokens,
                                               int64_t headDim,
                                               int64_t pageSize,
                                               KeptPages kept = kDefaultKeptPages,
                                               int bits = 2);

/// A head's priority from sample keys and values ([tokens, D] each, row
/// stride D): the mean over K and V of (the range of each channel's values,
/// max - min, averaged over channels) times (the channels' standard
/// deviation, averaged). The paper's statistic.
double headPriority(const float *k, const float *v, int64_t tokens,
                    int64_t headDim);

/// Bits per head: the `fraction2` of the heads (rounded down) with the
/// lowest scores at 2 bits, the rest at 4; ties go to the lower index first.
std::vector<int> pickBits(const std::vector<double> &scores, double fraction2);

/// Bits per head of one layer under an accuracy budget. A layer's heads
/// write disjoint rows of its output, so the squares of their errors add:
/// with the heads of set S at 2 bits and the rest at 4, the layer's error
/// over its exact output's norm is sqrt(sum over S of at2^2 + sum over the
/// rest of at4^2), at2 and at4 each head's measureLayerLosses at 2 and 4
/// bits. The most heads at 2 bits whose predicted error stays within
/// `maxRelErr`: the heads that cost least (at2^2 - at4^2) first, ties to
/// the lower index. A head whose 2-bit loss is below its 4-bit one goes to
/// 2 bits whatever the budget; when the layer is over the budget even so,
/// no other does.
struct BudgetPick {
  std::vector<int> bits;
  double predicted = 0; ///< the layer's predicted relative error with `bits`
};
BudgetPick pickBitsWithinBudget(const std::vector<double> &at2, const std::vector<double> &at4,
                                double maxRelErr);

} // namespace turbo::kv

#endif // TURBO_SUPPORT_KVCALIBRATION_H
