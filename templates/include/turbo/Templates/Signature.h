//===- Signature.h - a kernel's arguments, declared once --------*- C++ -*-===//
//
// A template declares its kernel's arguments once, as a Signature: the
// name, type and role of each, in order. The MLIR builder creates the
// function's arguments from it (Builders.h: KernelArguments) and the
// launcher packs the values by name (ArgPack), so the two can never
// disagree about the order; the C API reports the names.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_SIGNATURE_H
#define TURBO_TEMPLATES_SIGNATURE_H

#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/KernelBinary.h"
#include "turbo/Support/Status.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace turbo::templates {

/// Element types of arguments and of the memory pointers point to.
enum class ScalarType { F16, BF16, I8, I16, I32, I64, F32 };
/// f16 or bf16, as a template's dtype parameter says.
inline ScalarType scalarTypeOf(DType dtype) {
  return dtype == DType::BF16 ? ScalarType::BF16 : ScalarType::F16;
}
/// Signed integers of `bytes` bytes (1 or 2): a staging slot's codes
/// (kv::StagingLayout::codeBytes).
inline ScalarType signedIntOfBytes(int64_t bytes) {
  return bytes == 2 ? ScalarType::I16 : ScalarType::I8;
}

/// What an argument is for (documentation, and what the C API reports).
enum class ArgRole {
  Input,     ///< device memory the kernel reads
  Output,    ///< device memory the kernel writes
  Scratch,   ///< device memory in the launch's workspace (written by one kernel, read by the next)
  Size,      ///< a length or count
  Stride,    ///< elements between batches, heads or rows
  Parameter, ///< any other value (a scale, a flag)
};

struct ArgSpec {
  std::string_view name;
  bool pointer = false; ///< a device pointer to `type` elements, else a `type` value
  ScalarType type = ScalarType::I32;
  /// The power of two the host guarantees divides the value (pointers: the
  /// address in bytes); the builder tells the compiler, which vectorizes
  /// on it, and the template's host checks enforce it.
  int64_t divisibility = 1;
  ArgRole role = ArgRole::Parameter;

  ParamKind kind() const;
};

/// Shorthands for declarations.
ArgSpec pointerArg(std::string_view name, ScalarType pointee, int64_t divisibility,
                   ArgRole role);
ArgSpec valueArg(std::string_view name, ScalarType type, ArgRole role,
                 int64_t divisibility = 1);

/// The arguments of one kernel in order, each also known by an enumerator
/// of the template's own `Name` enum (so a misspelled argument does not
/// compile). A config may leave arguments out; `has` says which are in.
template <class Name> class Signature {
public:
  Signature &add(Name name, ArgSpec spec) {
    names_.push_back(name);
    specs_.push_back(spec);
    return *this;
  }
  bool has(Name name) const { return indexOf(name) >= 0; }
  /// The position of `name`, or -1.
  int indexOf(Name name) const {
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name)
        return int(i);
    return -1;
  }
  const std::vector<ArgSpec> &specs() const { return specs_; }
  const ArgSpec &spec(Name name) const { return specs_[size_t(indexOf(name))]; }

private:
  std::vector<Name> names_;
  std::vector<ArgSpec> specs_;
};

/// Argument values packed for cuLaunchKernel: one 8-byte slot each (4-byte
/// values in the slot's first bytes), pointed to by `params`.
class PackedArgs {
public:
  explicit PackedArgs(std::vector<ParamKind> kinds);
  PackedArgs(const PackedArgs &other);
  PackedArgs &operator=(const PackedArgs &other);
  PackedArgs(PackedArgs &&other) noexcept = default;
  PackedArgs &operator=(PackedArgs &&other) noexcept = default;

  const std::vector<ParamKind> &kinds() const { return kinds_; }
  void **params() { return params_.data(); }
  size_t size() const { return kinds_.size(); }
  /// The raw bits of argument `i` (for tests).
  uint64_t slot(size_t i) const { return slots_[i]; }
  void store(size_t i, const void *value, size_t bytes);

private:
  void point();
  std::vector<ParamKind> kinds_;
  std::vector<uint64_t> slots_;
  std::vector<void *> params_;
};

/// Fills a signature's arguments by name. Values for arguments the
/// signature leaves out are ignored (a launcher sets what it knows, the
/// config decides what the kernel takes); `finish` refuses a signature
/// argument that was not set, and a value set as the wrong kind. A value
/// that does not fit its 32-bit argument is refused with `what` in the
/// message, never truncated.
template <class Name> class ArgPack {
public:
  explicit ArgPack(const Signature<Name> &signature)
      : signature_(signature), packed_(kindsOf(signature)),
        set_(signature.specs().size(), false) {}

  ArgPack &pointer(Name name, uint64_t address) { return put(name, ParamKind::Pointer, &address, 8); }
  ArgPack &i64(Name name, int64_t value) { return put(name, ParamKind::I64, &value, 8); }
  ArgPack &f32(Name name, float value) { return put(name, ParamKind::F32, &value, 4); }
  ArgPack &i32(Name name, int64_t value) {
    if (value < std::numeric_limits<int32_t>::min() ||
        value > std::numeric_limits<int32_t>::max()) {
      int index = signature_.indexOf(name);
      if (index >= 0 && status_.isOk())
        status_ = narrowing(signature_.specs()[size_t(index)].name, value);
      return *this;
    }
    int32_t narrow = int32_t(value);
    return put(name, ParamKind::I32, &narrow, 4);
  }

  Result<PackedArgs> finish() {
    if (!status_.isOk())
      return status_;
    for (size_t i = 0; i < set_.size(); ++i)
      if (!set_[i])
        return unset(signature_.specs()[i].name);
    return std::move(packed_);
  }

private:
  static std::vector<ParamKind> kindsOf(const Signature<Name> &signature) {
    std::vector<ParamKind> kinds;
    for (const ArgSpec &spec : signature.specs())
      kinds.push_back(spec.kind());
    return kinds;
  }
  ArgPack &put(Name name, ParamKind kind, const void *value, size_t bytes) {
    int index = signature_.indexOf(name);
    if (index < 0)
      return *this;
    if (packed_.kinds()[size_t(index)] != kind) {
      if (status_.isOk())
        status_ = wrongKind(signature_.specs()[size_t(index)], kind);
      return *this;
    }
    packed_.store(size_t(index), value, bytes);
    set_[size_t(index)] = true;
    return *this;
  }

  const Signature<Name> &signature_;
  PackedArgs packed_;
  std::vector<bool> set_;
  Status status_;

  static Status narrowing(std::string_view name, int64_t value);
  static Status unset(std::string_view name);
  static Status wrongKind(const ArgSpec &spec, ParamKind given);
};

Status argDoesNotFit(std::string_view name, int64_t value);
Status argNotSet(std::string_view name);
Status argOfWrongKind(const ArgSpec &spec, ParamKind given);
template <class Name> Status ArgPack<Name>::narrowing(std::string_view name, int64_t value) {
  return argDoesNotFit(name, value);
}
template <class Name> Status ArgPack<Name>::unset(std::string_view name) {
  return argNotSet(name);
}
template <class Name> Status ArgPack<Name>::wrongKind(const ArgSpec &spec, ParamKind given) {
  return argOfWrongKind(spec, given);
}

class TemplateDef;
/// One kernel launch of a template's launch sequence: which kernel (the
/// template's own or one of its helpers, see Template.h), its grid and its
/// arguments.
struct KernelLaunch {
  const TemplateDef *kernel = nullptr;
  std::array<unsigned, 3> grid{};
  PackedArgs args{{}};
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_SIGNATURE_H
