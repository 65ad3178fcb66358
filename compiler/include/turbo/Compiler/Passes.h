//===- Passes.h - turbo conversions -----------------------------*- C++ -*-===//
#ifndef TURBO_COMPILER_PASSES_H
#define TURBO_COMPILER_PASSES_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Pass/Pass.h"
#include "turbo/Dialect/TurboDialect.h"

namespace mlir::turbo {

#define GEN_PASS_DECL
#include "turbo/Compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "turbo/Compiler/Passes.h.inc"

} // namespace mlir::turbo

#endif // TURBO_COMPILER_PASSES_H
