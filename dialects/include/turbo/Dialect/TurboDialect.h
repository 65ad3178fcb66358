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

#include "turbo/Dialect/TurboDialect.h.inc"
#include "turbo/Dialect/TurboEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "turbo/Dialect/TurboTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "turbo/Dialect/TurboAttrs.h.inc"

#define GET_OP_CLASSES
#include "turbo/Dialect/TurboOps.h.inc"

#endif // TURBO_DIALECT_TURBODIALECT_H
