//===- HostileSizes.h - arithmetic of the fuzz tests' own sizes -*- C++ -*-===//
//
// The fuzz tests pick sizes meant to be hostile to the code under test; the
// tests' own products of them must not overflow (UBSan runs them), so they
// saturate at INT64_MAX.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TESTS_HOSTILESIZES_H
#define TURBO_TESTS_HOSTILESIZES_H

#include <cstdint>
#include <limits>

namespace turbo::tests {

inline int64_t saturatingProduct(int64_t a, int64_t b) {
  int64_t product;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<int64_t>::max() : product;
}

} // namespace turbo::tests

#endif // TURBO_TESTS_HOSTILESIZES_H
