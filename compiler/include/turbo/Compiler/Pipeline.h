//===- Pipeline.h - turbo IR to PTX in named stages -------------*- C++ -*-===//
//
// turbo IR -> specialized (high-level ops expanded) -> layouts assigned ->
// pipelined -> NVVM + LLVM dialects -> LLVM IR -> PTX. Every stage can be
// printed (`turbo-compile --emit=<stage>`); the last gives the PTX and what
// the runtime needs to launch it.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_COMPILER_PIPELINE_H
#define TURBO_COMPILER_PIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "turbo/Support/KernelBinary.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace turbo::compiler {

enum class Stage { Turbo, Specialized, Layouts, Pipelined, NVVM, LLVM, PTX };

/// "turbo", "specialized", "layouts", "pipelined", "nvvm", "llvm", "ptx".
llvm::StringRef stageName(Stage stage);
std::optional<Stage> parseStage(llvm::StringRef name);
/// All stage names, comma separated (for help texts and errors).
std::string stageNames();

using ::turbo::CompiledKernel;
using ::turbo::KernelInfo;
using ::turbo::ParamKind;

/// Registers every dialect and translation the pipeline uses.
void registerPipelineDialects(mlir::MLIRContext &context);

/// Called with each stage's text as it is produced (e.g. to dump IR).
using StageObserver = std::function<void(Stage, llvm::StringRef text)>;

/// Lowers `module` (mutating it) up to and including `stop`, and returns that
/// stage's text. Errors are appended to `diagnostics` and give failure.
llvm::FailureOr<std::string> lowerToStage(mlir::ModuleOp module, Stage stop,
                                          std::string &diagnostics,
                                          const StageObserver &observer = {});

/// Lowers `module` all the way to PTX and extracts the launch metadata.
llvm::FailureOr<CompiledKernel> compileToPTX(mlir::ModuleOp module, std::string &diagnostics,
                                             const StageObserver &observer = {});

/// The PTX ISA version of kernels without wgmma ("8.0"; wgmma kernels need
/// 8.4, see Target/PTXBackend.cpp).
llvm::StringRef ptxVersion();

} // namespace turbo::compiler

#endif // TURBO_COMPILER_PIPELINE_H
