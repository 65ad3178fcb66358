//===- ExpPoly.cpp - what both forms of turbo.exp_poly agree on -----------===//
//
// The coefficients and the pair-form test, shared by turbo-expand-exp-poly
// (which leaves the pair-form ops alone) and the tiles-to-threads
// conversion (which lowers them): one definition, so the two always agree.
//
//===----------------------------------------------------------------------===//
#include "turbo/Dialect/ExpPoly.h"
#include "turbo/Support/Numerics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

using namespace mlir;
using namespace mlir::turbo;
namespace numerics = ::turbo::numerics;

std::vector<float> mlir::turbo::expPolyCoefficients(ExpPolyOp op) {
  if (auto given = op.getCoefficients()) {
    std::vector<float> values;
    for (Attribute a : *given)
      values.push_back(numerics::roundToHalf(float(cast<FloatAttr>(a).getValueAsDouble())));
    return values;
  }
  return numerics::fitExpPolynomial(op.getDegree(), op.getBase() == ExpBase::Two
                                                        ? numerics::ExpBase::Two
                                                        : numerics::ExpBase::E);
}

std::pair<float, float> mlir::turbo::expPolyRange(const std::vector<float> &coefficients) {
  // Every f16 in [-1/2, 1/2] through Horner is ~2 ms, and each exp_poly is
  // asked about in the expansion and again in the lowering: remember it per
  // polynomial (kernels compile on several threads).
  static std::mutex mutex;
  static std::map<std::vector<float>, std::pair<float, float>> known;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, inserted] = known.try_emplace(coefficients);
  if (!inserted)
    return it->second;
  float smallest = INFINITY, largest = -INFINITY;
  for (uint16_t bits = 0; bits <= 0x3800; ++bits) // f16 0 .. 1/2, both signs
    for (float f : {numerics::halfToFloat(bits), -numerics::halfToFloat(bits)}) {
      float p = coefficients.back();
      for (int i = int(coefficients.size()) - 2; i >= 0; --i)
        p = numerics::fmaHalf(p, f, coefficients[i]);
      smallest = std::min(smallest, p);
      largest = std::max(largest, p);
    }
  return it->second = {smallest, largest};
}

bool mlir::turbo::expPolyInHalfPairs(ExpPolyOp op) {
  if (op.getBase() != ExpBase::Two || op.getThreshold() - op.getScaleLog2() > 14 ||
      !op.getSrc().getType().getElementType().isF32() ||
      !op.getResult().getType().getElementType().isF16())
    return false;
  auto [smallest, largest] = expPolyRange(expPolyCoefficients(op));
  return smallest >= 0.5f && largest < 2.0f;
}
