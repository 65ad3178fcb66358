//===- KernelBinary.h - a compiled kernel and its launch metadata -*- C++ -*-===//
//
// What the compiler hands the runtime: PTX and what a launch needs. Plain
// C++ (no MLIR, no compiler), so the runtime and the templates' host side
// can use it.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_KERNELBINARY_H
#define TURBO_SUPPORT_KERNELBINARY_H

#include <cstdint>
#include <string>
#include <vector>

namespace turbo {

/// One kernel parameter as the launch passes it.
enum class ParamKind { Pointer, I32, I64, F32 };

inline unsigned paramSize(ParamKind kind) {
  return kind == ParamKind::I32 || kind == ParamKind::F32 ? 4 : 8;
}
const char *paramKindName(ParamKind kind);

struct KernelInfo {
  std::string name;   ///< entry point in the PTX
  std::string target; ///< sm_90a, ...
  unsigned numThreads = 0;
  int64_t sharedBytes = 0; ///< dynamic shared memory per block
  /// The kernel waits in-kernel (griddepcontrol.wait) before it reads what
  /// earlier kernels wrote, so it is launched with programmatic stream
  /// serialization: it may start while the kernel before it finishes.
  bool programmaticLaunch = false;
  std::vector<ParamKind> params;
};

struct CompiledKernel {
  std::string ptx;
  KernelInfo info;
  /// The PTX assembled by ptxas for info.target (an ELF), or empty when no
  /// ptxas was found; loading prefers it and falls back to the PTX.
  std::string cubin;
};

} // namespace turbo

#endif // TURBO_SUPPORT_KERNELBINARY_H
