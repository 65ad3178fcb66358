//===- Ptxas.h - running the CUDA toolkit's ptxas ---------------*- C++ -*-===//
//
// ptxas is optional everywhere: tools use it to report registers and spills,
// the runtime to put a cubin beside the PTX in its cache (so a first load
// skips the driver's JIT). Nothing requires it to produce PTX.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_COMPILER_PTXAS_H
#define TURBO_COMPILER_PTXAS_H

#include <optional>
#include <string>

namespace turbo::compiler {

/// $TURBO_PTXAS, else /usr/local/cuda/bin/ptxas, else ptxas on PATH.
std::optional<std::string> findPtxas();

struct PtxasResult {
  int exitCode = -1;
  std::string log;   ///< ptxas's output (with -v: registers, spills, shared memory)
  std::string cubin; ///< the ELF, when asked for and ptxas succeeded
};

/// Assembles `ptx` for `arch` (sm_90a, ...) with `ptxas -v`; keeps the
/// cubin when `keepCubin`.
PtxasResult runPtxas(const std::string &ptxas, const std::string &ptx, const std::string &arch,
                     bool keepCubin = false);

/// What `ptxas --version` prints, its last line (e.g. "Cuda compilation
/// tools, release 13.0, V13.0.88"); empty when it cannot be run.
std::string ptxasVersion(const std::string &ptxas);

} // namespace turbo::compiler

#endif // TURBO_COMPILER_PTXAS_H
