//===- Ptxas.h - running the CUDA toolkit's ptxas ---------------*- C++ -*-===//
#ifndef TURBO_TOOLS_PTXAS_H
#define TURBO_TOOLS_PTXAS_H

#include <optional>
#include <string>

namespace turbo::tools {

/// $TURBO_PTXAS, else /usr/local/cuda/bin/ptxas, else ptxas on PATH.
std::optional<std::string> findPtxas();

struct PtxasResult {
  int exitCode = -1;
  std::string log; ///< ptxas's output (with -v: registers, spills, shared memory)
};

/// Assembles `ptx` for `arch` (sm_90a, ...) with `ptxas -v`.
PtxasResult runPtxas(const std::string &ptxas, const std::string &ptx, const std::string &arch);

} // namespace turbo::tools

#endif // TURBO_TOOLS_PTXAS_H
