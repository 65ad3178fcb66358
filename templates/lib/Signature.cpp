//===- Signature.cpp - kernel arguments and their packing -----------------===//
#include "turbo/Templates/Signature.h"

#include <fmt/format.h>

#include <cstring>

namespace turbo::templates {

ParamKind ArgSpec::kind() const {
  if (pointer)
    return ParamKind::Pointer;
  switch (type) {
  case ScalarType::I64:
    return ParamKind::I64;
  case ScalarType::F32:
    return ParamKind::F32;
  default:
    return ParamKind::I32;
  }
}

ArgSpec pointerArg(std::string_view name, ScalarType pointee, int64_t divisibility,
                   ArgRole role) {
  return {name, true, pointee, divisibility, role};
}

ArgSpec valueArg(std::string_view name, ScalarType type, ArgRole role, int64_t divisibility) {
  return {name, false, type, divisibility, role};
}

PackedArgs::PackedArgs(std::vector<ParamKind> kinds)
    : kinds_(std::move(kinds)), slots_(kinds_.size(), 0) {
  point();
}
PackedArgs::PackedArgs(const PackedArgs &other) : kinds_(other.kinds_), slots_(other.slots_) {
  point();
}
PackedArgs &PackedArgs::operator=(const PackedArgs &other) {
  kinds_ = other.kinds_;
  slots_ = other.slots_;
  point();
  return *this;
}

void PackedArgs::point() {
  params_.resize(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i)
    params_[i] = &slots_[i];
}

void PackedArgs::store(size_t i, const void *value, size_t bytes) {
  slots_[i] = 0;
  std::memcpy(&slots_[i], value, bytes);
}

Status argDoesNotFit(std::string_view name, int64_t value) {
  return {StatusCode::InvalidArgument,
          fmt::format("{} = {} does not fit the kernel's 32-bit argument", name, value)};
}

Status argNotSet(std::string_view name) {
  return {StatusCode::Internal, fmt::format("the launch left kernel argument '{}' unset", name)};
}

Status argOfWrongKind(const ArgSpec &spec, ParamKind given) {
  return {StatusCode::Internal,
          fmt::format("kernel argument '{}' is {}, the launch gave {}", spec.name,
                      paramKindName(spec.kind()), paramKindName(given))};
}

} // namespace turbo::templates
