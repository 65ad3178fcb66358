//===- PTXBackend.h - LLVM IR to PTX with LLVM's NVPTX backend --*- C++ -*-===//
#ifndef TURBO_COMPILER_PTXBACKEND_H
#define TURBO_COMPILER_PTXBACKEND_H

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include <string>

namespace turbo::compiler {

/// Sets the NVPTX triple and data layout for `chip` ("sm_90a") and runs
/// LLVM's O3 pipeline on `module`.
llvm::Error optimizeForNVPTX(llvm::Module &module, llvm::StringRef chip);

/// PTX assembly for `module` (already optimized for `chip`).
llvm::Expected<std::string> emitPTX(llvm::Module &module, llvm::StringRef chip);

} // namespace turbo::compiler

#endif // TURBO_COMPILER_PTXBACKEND_H
