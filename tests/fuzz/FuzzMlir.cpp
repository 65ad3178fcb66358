//===- FuzzMlir.cpp - libFuzzer target: turbo IR through the C API --------===//
//
// Any bytes as turbo IR text, lowered by turbo_compile_mlir to one pipeline
// stage (the first byte picks it, most often an early one: each later stage
// costs more per input and the parser and verifier see the most). The call
// must return a status, with a message when it fails; a crash, an abort or
// a sanitizer report is a finding.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  static const char *const stages[] = {"turbo", "turbo",     "specialized", "layouts",
                                       "pipelined", "nvvm", "llvm",        "ptx"};
  const char *stage = stages[data[0] % (sizeof(stages) / sizeof(stages[0]))];
  // The C API takes a NUL-terminated string: an embedded NUL ends the text.
  std::string text(reinterpret_cast<const char *>(data) + 1, size - 1);
  char *out = nullptr;
  turbo_status status = turbo_compile_mlir(text.c_str(), stage, &out);
  if (status == TURBO_STATUS_OK ? out == nullptr : (out != nullptr || !*turbo_last_error()))
    std::abort(); // an outcome the API does not promise
  turbo_free(out);
  return 0;
}
