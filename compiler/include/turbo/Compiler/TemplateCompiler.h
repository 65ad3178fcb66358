//===- TemplateCompiler.h - templates to PTX, thread-safe -------*- C++ -*-===//
//
// The compile callback the runtime uses: builds a template's turbo IR and
// runs the pipeline, each call in its own MLIRContext (so concurrent callers
// never share one). Errors come back as Status with the diagnostics.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_COMPILER_TEMPLATECOMPILER_H
#define TURBO_COMPILER_TEMPLATECOMPILER_H

#include "turbo/Support/KernelBinary.h"
#include "turbo/Support/Status.h"
#include "turbo/Templates/Template.h"

#include <string>
#include <string_view>

namespace turbo::compiler {

enum class Stage;

/// `dumpPrefix`, when not empty, receives every stage's text in files
/// "<dumpPrefix>.<stage>.txt".
Result<CompiledKernel> compileTemplate(const templates::AnyConfig &config,
                                       const std::string &target,
                                       const std::string &dumpPrefix = "");

/// Compiles turbo IR given as MLIR text to PTX.
Result<CompiledKernel> compileMlir(std::string_view mlir, const std::string &dumpPrefix = "");

/// The text of `stage` for a template, or for turbo IR given as MLIR text.
Result<std::string> emitTemplateStage(const templates::AnyConfig &config,
                                      const std::string &target, std::string_view stage);
Result<std::string> emitMlirStage(std::string_view mlir, std::string_view stage);

/// "22.1.8"
const char *llvmVersion();

} // namespace turbo::compiler

#endif // TURBO_COMPILER_TEMPLATECOMPILER_H
