//===- KernelBinary.cpp ---------------------------------------------------===//
#include "turbo/Support/KernelBinary.h"

namespace turbo {
const char *paramKindName(ParamKind kind) {
  switch (kind) {
  case ParamKind::Pointer:
    return "pointer";
  case ParamKind::I32:
    return "i32";
  case ParamKind::I64:
    return "i64";
  case ParamKind::F32:
    return "f32";
  }
  return "?";
}
} // namespace turbo
