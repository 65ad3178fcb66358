//===- Ptxas.cpp - running the CUDA toolkit's ptxas -----------------------===//
#include "turbo/Compiler/Ptxas.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace turbo::compiler {

std::optional<std::string> findPtxas() {
  if (const char *path = std::getenv("TURBO_PTXAS"); path && *path)
    return std::string(path);
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return std::string("/usr/local/cuda/bin/ptxas");
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return std::nullopt;
}

PtxasResult runPtxas(const std::string &ptxas, const std::string &ptx, const std::string &arch,
                     bool keepCubin) {
  PtxasResult result;
  llvm::SmallString<128> ptxPath, logPath, cubinPath;
  if (llvm::sys::fs::createTemporaryFile("turbo", "ptx", ptxPath) ||
      llvm::sys::fs::createTemporaryFile("turbo", "log", logPath) ||
      (keepCubin && llvm::sys::fs::createTemporaryFile("turbo", "cubin", cubinPath))) {
    result.log = "cannot create temporary files";
    llvm::sys::fs::remove(ptxPath);
    llvm::sys::fs::remove(logPath);
    return result;
  }
  {
    std::error_code error;
    llvm::raw_fd_ostream file(ptxPath, error);
    file << ptx;
  }
  std::string archFlag = "-arch=" + arch;
  std::string output = keepCubin ? cubinPath.str().str() : "/dev/null";
  llvm::SmallVector<llvm::StringRef> args = {ptxas, archFlag, "-v", ptxPath, "-o", output};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath.str(), logPath.str()};
  std::string message;
  result.exitCode = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0, &message);
  if (auto log = llvm::MemoryBuffer::getFile(logPath))
    result.log = (*log)->getBuffer().str();
  if (!message.empty())
    result.log += message;
  if (keepCubin && result.exitCode == 0) {
    if (auto cubin = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false,
                                                 /*RequiresNullTerminator=*/false))
      result.cubin = (*cubin)->getBuffer().str();
  }
  llvm::sys::fs::remove(ptxPath);
  llvm::sys::fs::remove(logPath);
  if (keepCubin)
    llvm::sys::fs::remove(cubinPath);
  return result;
}

std::string ptxasVersion(const std::string &ptxas) {
  llvm::SmallString<128> outPath;
  if (llvm::sys::fs::createTemporaryFile("turbo", "version", outPath))
    return "";
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(outPath),
                                                llvm::StringRef(outPath)};
  llvm::SmallVector<llvm::StringRef, 2> args = {ptxas, "--version"};
  int code = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 10);
  std::string version;
  if (code == 0)
    if (auto buffer = llvm::MemoryBuffer::getFile(outPath)) {
      llvm::StringRef text = (*buffer)->getBuffer().rtrim();
      version = text.substr(text.rfind('\n') + 1).str();
    }
  llvm::sys::fs::remove(outPath);
  return version;
}

} // namespace turbo::compiler
