//===- Status.cpp ---------------------------------------------------------===//
#include "turbo/Support/Status.h"

namespace turbo {

const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "ok";
  case StatusCode::InvalidArgument:
    return "invalid argument";
  case StatusCode::NoDriver:
    return "no CUDA driver";
  case StatusCode::NoDevice:
    return "no CUDA device";
  case StatusCode::Cuda:
    return "CUDA error";
  case StatusCode::Compile:
    return "compile error";
  case StatusCode::Unsupported:
    return "unsupported";
  case StatusCode::NotImplemented:
    return "not implemented";
  case StatusCode::OutOfMemory:
    return "out of memory";
  case StatusCode::Cache:
    return "cache error";
  case StatusCode::Internal:
    return "internal error";
  }
  return "unknown status";
}

} // namespace turbo
