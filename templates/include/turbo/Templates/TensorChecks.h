//===- TensorChecks.h - host-side checks every template shares --*- C++ -*-===//
#ifndef TURBO_TEMPLATES_TENSORCHECKS_H
#define TURBO_TEMPLATES_TENSORCHECKS_H

#include "turbo/Support/Status.h"

#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace turbo::templates {

/// The strides (in elements) of a [batch, heads, rows, head_dim] tensor a
/// kernel reads or writes `tileRows` rows at a time: non-negative multiples
/// of 8 (16-byte vectors), row >= head_dim, and a tile's offsets within 32
/// bits. `name` says which tensor in the message.
Status checkTensorStrides(std::string_view name, int64_t batch, int64_t head, int64_t row,
                          int64_t headDim, int64_t tileRows);

/// An output's elements must not overlap: with `extents` and `strides`
/// (elements) of its outer dims and `inner` contiguous elements at the
/// innermost, every dim that holds more than one index must step past
/// everything the smaller strides span (any order of dims: [B, S, H, D]
/// as well as [B, H, S, D]). A zero stride over several indices, or strides
/// that interleave, would let programs write the same elements.
Status checkNoOverlap(std::string_view name, std::initializer_list<int64_t> extents,
                      std::initializer_list<int64_t> strides, int64_t inner);

/// Packed (varlen) tensors of `name`: `tokens` of them in all, at least
/// the `longest` sequence and at most what 32-bit token offsets hold; the
/// kernels clamp the sequences' offsets to [0, tokens].
Status checkPackedTokens(std::string_view name, int64_t tokens, int64_t longest);

/// The tile width for a head dim: rounded up to a power of two (the tiles
/// are masked past head_dim). Host side too: launch geometry follows it.
constexpr int64_t paddedHeadDim(int64_t headDim) {
  int64_t padded = 1;
  while (padded < headDim)
    padded *= 2;
  return padded;
}

/// Whether a device address is a multiple of `bytes`.
inline bool aligned(uint64_t address, uint64_t bytes) { return address % bytes == 0; }

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_TENSORCHECKS_H
