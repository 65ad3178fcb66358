//===- turbo-compile.cpp - compile a template or turbo IR to any stage ----===//
#include "turbo/Compiler/Ptxas.h"
#include "turbo/Templates/Template.h"
#include "../common/ToolOptions.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <memory>
#include <optional>

namespace cl = llvm::cl;
using namespace turbo::tools;
using namespace turbo::compiler;

namespace {
cl::OptionCategory compileCategory("Compilation");
cl::opt<std::string> input(cl::Positional, cl::desc("[turbo IR file, or - for stdin]"),
                           cl::init(""), cl::cat(compileCategory));
cl::opt<std::string> kernel("kernel",
                            cl::desc("Template to build (see --list-templates); the default "
                                     "when no IR file is given is quantize_rows"),
                            cl::value_desc("name"), cl::cat(compileCategory));
cl::opt<std::string> config("config",
                            cl::desc("Pin tuning parameters: key=value,... (see "
                                     "--list-templates for each template's keys)"),
                            cl::value_desc("key=value,..."), cl::cat(compileCategory));
cl::opt<std::string> emit("emit",
                          cl::desc("Stage to print: turbo, specialized, layouts, pipelined, "
                                   "nvvm, llvm, ptx (default ptx)"),
                          cl::init("ptx"), cl::cat(compileCategory));
cl::opt<std::string> output("o", cl::desc("Output file (default stdout)"), cl::init("-"),
                            cl::value_desc("file"), cl::cat(compileCategory));
cl::opt<bool> ptxasInfo("ptxas-info",
                        cl::desc("Assemble the PTX with ptxas -v and print registers, spills "
                                 "and shared memory per kernel ($TURBO_PTXAS, else "
                                 "/usr/local/cuda/bin/ptxas, else ptxas on PATH)"),
                        cl::cat(compileCategory));
cl::opt<bool> listTemplates("list-templates", cl::desc("List the kernel templates and exit"),
                            cl::cat(compileCategory));
cl::opt<bool> listPresets("list-presets", cl::desc("List the model presets and exit"),
                          cl::cat(compileCategory));

int failWith(const std::string &message) {
  llvm::errs() << "turbo-compile: " << message << "\n";
  return 1;
}

/// Runs ptxas -v on the PTX; returns its exit code (prints its report).
int runPtxasInfo(const std::string &ptx, const std::string &arch) {
  std::optional<std::string> ptxas = findPtxas();
  if (!ptxas)
    return failWith("--ptxas-info: ptxas not found (set TURBO_PTXAS)");
  PtxasResult result = runPtxas(*ptxas, ptx, arch);
  llvm::errs() << result.log;
  if (result.exitCode != 0)
    return failWith("ptxas failed");
  return 0;
}

struct FreeText {
  void operator()(char *text) const { turbo_free(text); }
};
using Text = std::unique_ptr<char, FreeText>;
} // namespace

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions({&compileCategory, &headCategory});
  parseCommandLine(argc, argv,
                   "turbo-compile: build a kernel template (or read turbo IR) and print any "
                   "pipeline stage\n\n"
                   "  turbo-compile --kernel=quantize_rows --head-dim=64 --emit=ptx\n"
                   "  turbo-compile kernel.mlir --emit=layouts\n");
  if (listTemplates) {
    // Every template with its parameters: what --config accepts.
    for (const turbo::templates::TemplateDef *def : turbo::templates::allTemplates()) {
      llvm::outs() << def->name() << ": " << def->summary() << "\n";
      for (const turbo::templates::ParamInfo &param : def->params()) {
        const turbo::templates::Allowed &allowed = param.allowed;
        std::string values;
        for (int64_t v : allowed.values)
          values += (values.empty() ? "" : "|") + std::to_string(v);
        if (allowed.range)
          values = std::to_string(allowed.range->first) + ".." +
                   std::to_string(allowed.range->second);
        for (const auto &[symbol, v] : allowed.symbols)
          values += (values.empty() ? "" : " ") + symbol + "=" + std::to_string(v);
        llvm::outs() << llvm::formatv("  {0,-18} default {1,-4} {2,-14} {3}\n", param.name,
                                      param.defaultValue, values.empty() ? "any" : values,
                                      param.help);
      }
    }
    return 0;
  }
  if (listPresets) {
    char *names = nullptr;
    turbo_status status = turbo_list_presets(&names);
    if (status != TURBO_STATUS_OK)
      return failWith(describeFailure(status));
    Text owned(names);
    llvm::outs() << names << "\n";
    return 0;
  }

  turbo_head_config head;
  std::string error;
  if (!readHeadConfig(head, error))
    return failWith(error);
  std::string target = head.target ? head.target : turbo::kDefaultTarget;

  char *text = nullptr;
  turbo_status status;
  if (!input.empty()) {
    if (!kernel.empty())
      return failWith("give either an IR file or --kernel, not both");
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(input);
    if (!buffer)
      return failWith("cannot read " + input + ": " + buffer.getError().message());
    std::string mlir = (*buffer)->getBuffer().str();
    status = turbo_compile_mlir(mlir.c_str(), emit.c_str(), &text);
  } else {
    std::string name = kernel.empty() ? std::string("quantize_rows") : kernel.getValue();
    if (std::string unused = kvBitsUnused(name); !unused.empty())
      return failWith(unused);
    status = turbo_compile_template(name.c_str(), &head, config.c_str(), emit.c_str(), &text);
  }
  if (status != TURBO_STATUS_OK)
    return failWith(describeFailure(status));
  Text owned(text);

  std::error_code openError;
  llvm::ToolOutputFile out(output, openError, llvm::sys::fs::OF_Text);
  if (openError)
    return failWith("cannot write " + output + ": " + openError.message());
  out.os() << text;
  out.keep();

  if (ptxasInfo) {
    if (emit != "ptx")
      return failWith("--ptxas-info needs --emit=ptx");
    return runPtxasInfo(text, target);
  }
  return 0;
}
