//===- Ptxas.cpp - running the CUDA toolkit's ptxas -----------------------===//
#include "Ptxas.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace turbo::tools {

std::optional<std::string> findPtxas() {
  if (const char *path = std::getenv("TURBO_PTXAS"); path && *path)
    return std::string(path);
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return std::string("/usr/local/cuda/bin/ptxas");
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return std::nullopt;
}

PtxasResult runPtxas(const std::string &ptxas, const std::string &ptx, const std::string &arch) {
  PtxasResult result;
  llvm::SmallString<128> ptxPath, logPath;
  if (llvm::sys::fs::createTemporaryFile("turbo", "ptx", ptxPath) ||
      llvm::sys::fs::createTemporaryFile("turbo", "log", logPath)) {
    result.log = "cannot create temporary files";
    return result;
  }
  {
    std::error_code error;
    llvm::raw_fd_ostream file(ptxPath, error);
    file << ptx;
  }
  std::string archFlag = "-arch=" + arch;
  llvm::SmallVector<llvm::StringRef> args = {ptxas, archFlag, "-v", ptxPath, "-o", "/dev/null"};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath.str(), logPath.str()};
  std::string message;
  result.exitCode = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0, &message);
  if (auto log = llvm::MemoryBuffer::getFile(logPath))
    result.log = (*log)->getBuffer().str();
  if (!message.empty())
    result.log += message;
  llvm::sys::fs::remove(ptxPath);
  llvm::sys::fs::remove(logPath);
  return result;
}

} // namespace turbo::tools
