//===- InputLimits.h - what turbo IR from outside may ask for ---*- C++ -*-===//
//
// turbo IR handed to turbo_compile_mlir or turbo_kernel_create_from_mlir is
// untrusted: before parsing, its bracket nesting is bounded (the parser
// recurses); after parsing, its tiles must be static, non-empty and of a
// size a thread block can hold (in elements, and in the registers a pinned
// layout gives each thread), and its kernel names ones PTX accepts
// (LLVM's PTX printer aborts on others). A violation is a status with the
// place and the limit, never a crash or an unbounded compile. The
// templates' own IR is built in code and is not checked.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_COMPILER_INPUTLIMITS_H
#define TURBO_COMPILER_INPUTLIMITS_H

#include "turbo/Support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string_view>

namespace turbo::compiler {

struct InputLimits {
  int64_t maxNesting = 256;        ///< brackets and regions open at once
  int64_t maxTileDim = 4096;       ///< any one dim of a tile
  int64_t maxTileElements = 65536; ///< elements of one tile (the templates use up to 32768)
  int64_t maxTileRegisters = 4096; ///< elements of one tile a thread holds (its layout's
                                   ///< registers; a pinned layout may repeat elements)
  int64_t maxNameLength = 256;
};

/// Before parsing: the text's nesting of (), [], {} and <>.
Status checkText(std::string_view text, const InputLimits &limits = {});
/// After parsing: tiles, shared buffers and symbol names.
Status checkModule(mlir::ModuleOp module, const InputLimits &limits = {});

} // namespace turbo::compiler

#endif // TURBO_COMPILER_INPUTLIMITS_H
