//===- TurboDialect.h - the turbo dialect -----------------------*- C++ -*-===//
#ifndef TURBO_DIALECT_TURBODIALECT_H
#define TURBO_DIALECT_TURBODIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::turbo {
/// What the compiler reads of a kernel's turbo.config, typed: the passes
/// take these (ConfigAttr::getCodegenOptions), never the dictionary's keys,
/// which are named in one place (TurboAttrs.cpp). Absent keys take these
/// defaults; the attribute's verifier checks the ranges.
struct CodegenOptions {
  static constexpr int64_t kMaxStages = 8;
  int64_t numStages = 1;     ///< num_stages: shared-memory slots per staged load (1: none)
  bool wgmma = false;        ///< wgmma: Hopper warpgroup MMAs for the dots that qualify
  int64_t minBlocksPerSm = 0; ///< min_blocks_per_sm: the kernel's .minnctapersm (0: none)
};
} // namespace mlir::turbo

#include "turbo/Dialect/TurboDialect.h.inc"
#include "turbo/Dialect/TurboEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "turbo/Dialect/TurboTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "turbo/Dialect/TurboAttrs.h.inc"

#define GET_OP_CLASSES
#include "turbo/Dialect/TurboOps.h.inc"

#endif // TURBO_DIALECT_TURBODIALECT_H
