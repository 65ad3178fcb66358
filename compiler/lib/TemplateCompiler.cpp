//===- TemplateCompiler.cpp - templates to PTX, thread-safe ---------------===//
#include "turbo/Compiler/TemplateCompiler.h"

#include "turbo/Compiler/InputLimits.h"
#include "turbo/Compiler/Pipeline.h"
#include "turbo/Templates/Builders.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/raw_ostream.h"

#include <fcntl.h>

#include <fmt/format.h>

namespace turbo::compiler {

namespace {
/// A context of our own per compile: MLIRContext is not meant to be shared by
/// unrelated concurrent compiles, and we start no thread pool inside an
/// engine's process.
std::unique_ptr<mlir::MLIRContext> makeContext() {
  auto context = std::make_unique<mlir::MLIRContext>(mlir::MLIRContext::Threading::DISABLED);
  registerPipelineDialects(*context);
  return context;
}

Result<mlir::OwningOpRef<mlir::ModuleOp>> build(mlir::MLIRContext &context,
                                                const templates::AnyConfig &config,
                                                const std::string &target) {
  TURBO_RETURN_IF_ERROR(checkTarget(target));
  std::string error;
  auto module = templates::buildKernel(context, config, target, error);
  if (mlir::failed(module))
    return Status(StatusCode::Internal, error);
  return std::move(*module);
}

Result<Stage> stageOf(std::string_view name) {
  std::optional<Stage> stage = parseStage(llvm::StringRef(name.data(), name.size()));
  if (!stage)
    return Status(StatusCode::InvalidArgument,
                  fmt::format("unknown stage '{}' (stages: {})", name, stageNames()));
  return *stage;
}

/// Writes each stage's text to "<prefix>.<stage>.txt" (best effort: a dump
/// that cannot be written does not fail the compile).
StageObserver dumper(const std::string &prefix) {
  if (prefix.empty())
    return {};
  return [prefix](Stage stage, llvm::StringRef text) {
    // Not through a link someone planted in the dump directory.
    const std::string path = prefix + "." + stageName(stage).str() + ".txt";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
      return;
    llvm::raw_fd_ostream file(fd, /*shouldClose=*/true);
    file << text;
  };
}

Status compileError(const std::string &what, const std::string &diagnostics) {
  return {StatusCode::Compile,
          fmt::format("{}:\n{}", what, diagnostics.empty() ? "(no diagnostics)" : diagnostics)};
}
} // namespace

Result<CompiledKernel> compileTemplate(const templates::AnyConfig &config,
                                       const std::string &target,
                                       const std::string &dumpPrefix) {
  auto context = makeContext();
  auto module = build(*context, config, target);
  if (!module)
    return module.status();
  std::string diagnostics;
  auto compiled = compileToPTX(module->get(), diagnostics, dumper(dumpPrefix));
  if (mlir::failed(compiled))
    return compileError(fmt::format("compiling {} ({}) for {} failed", config.templateName(),
                                    config.text(), target),
                        diagnostics);
  return std::move(*compiled);
}

Result<std::string> emitTemplateStage(const templates::AnyConfig &config,
                                      const std::string &target, std::string_view stageName) {
  auto stage = stageOf(stageName);
  if (!stage)
    return stage.status();
  auto context = makeContext();
  auto module = build(*context, config, target);
  if (!module)
    return module.status();
  std::string diagnostics;
  auto text = lowerToStage(module->get(), *stage, diagnostics);
  if (mlir::failed(text))
    return compileError(fmt::format("lowering {} to stage {} failed", config.templateName(),
                                    stageName),
                        diagnostics);
  return std::move(*text);
}

Result<mlir::OwningOpRef<mlir::ModuleOp>> parse(mlir::MLIRContext &context,
                                                std::string_view mlirText) {
  // Untrusted text: the parser recurses on nesting, and the lowering takes
  // time and memory by tile size; both are bounded before they start.
  TURBO_RETURN_IF_ERROR(checkText(mlirText));
  std::string diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  {
    // Parse errors (and verifier errors) go to `diagnostics`.
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      llvm::raw_string_ostream stream(diagnostics);
      stream << d.getLocation() << ": " << d << "\n";
      return mlir::success();
    });
    module = mlir::parseSourceString<mlir::ModuleOp>(
        llvm::StringRef(mlirText.data(), mlirText.size()), &context, "input");
  }
  if (!module)
    return Status(StatusCode::InvalidArgument,
                  fmt::format("input is not valid turbo IR:\n{}", diagnostics));
  TURBO_RETURN_IF_ERROR(checkModule(module.get()));
  return std::move(module);
}

Result<CompiledKernel> compileMlir(std::string_view mlirText, const std::string &dumpPrefix) {
  auto context = makeContext();
  auto module = parse(*context, mlirText);
  if (!module)
    return module.status();
  std::string diagnostics;
  auto compiled = compileToPTX(module->get(), diagnostics, dumper(dumpPrefix));
  if (mlir::failed(compiled))
    return compileError("compiling turbo IR failed", diagnostics);
  return std::move(*compiled);
}

Result<std::string> emitMlirStage(std::string_view mlirText, std::string_view stageName) {
  auto stage = stageOf(stageName);
  if (!stage)
    return stage.status();
  auto context = makeContext();
  auto module = parse(*context, mlirText);
  if (!module)
    return module.status();
  std::string diagnostics;
  auto text = lowerToStage(module->get(), *stage, diagnostics);
  if (mlir::failed(text))
    return compileError(fmt::format("lowering to stage {} failed", stageName), diagnostics);
  return std::move(*text);
}

const char *llvmVersion() { return LLVM_VERSION_STRING; }

} // namespace turbo::compiler
