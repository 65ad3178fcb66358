//===- Passes.h - turbo dialect transforms ----------------------*- C++ -*-===//
#ifndef TURBO_DIALECT_PASSES_H
#define TURBO_DIALECT_PASSES_H

#include "mlir/Pass/Pass.h"
#include "turbo/Dialect/TurboDialect.h"

namespace mlir::turbo {

#define GEN_PASS_DECL
#include "turbo/Dialect/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "turbo/Dialect/Passes.h.inc"

} // namespace mlir::turbo

#endif // TURBO_DIALECT_PASSES_H
