//===- TemplateSpec.h - what a kernel template takes (no MLIR) --*- C++ -*-===//
//
// The host-side half of a template: its tuning parameters with defaults and
// allowed values, how a head configuration sets them, and the checks a
// configuration must pass. The runtime-only library uses this without LLVM;
// the MLIR builders (Builders.h) read the same KernelConfig.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_TEMPLATESPEC_H
#define TURBO_TEMPLATES_TEMPLATESPEC_H

#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbo::templates {

struct ParamSpec {
  std::string name;
  int64_t defaultValue = 0;
  /// Values the parameter may take; empty means any value >= 0.
  std::vector<int64_t> allowed;
  /// Names that may stand for values in a config string (dtype=bf16).
  std::vector<std::pair<std::string, int64_t>> symbols;
  std::string help;
};

/// Integer parameters by name; the canonical text is part of cache keys.
class KernelConfig {
public:
  int64_t get(const std::string &name) const;
  bool has(const std::string &name) const { return values_.count(name) != 0; }
  void set(const std::string &name, int64_t value) { values_[name] = value; }
  const std::map<std::string, int64_t> &values() const { return values_; }
  /// "a=1,b=2", keys sorted.
  std::string canonical() const;

private:
  std::map<std::string, int64_t> values_;
};

struct TemplateSpec {
  std::string name;
  std::string summary;
  std::vector<ParamSpec> params;
  /// Sets the parameters a head configuration determines (head_dim, dtype).
  std::function<void(const HeadConfig &, KernelConfig &)> fromHeadConfig;
  /// Checks across parameters, after each one passed its own check.
  std::function<Status(const KernelConfig &)> validate;
};

/// Every template, in a fixed order.
const std::vector<const TemplateSpec *> &allTemplates();
const TemplateSpec *findTemplate(std::string_view name);
/// The names of all templates, comma separated.
std::string templateNames();

/// Defaults, then `head` (if given), then the "key=value,..." overrides in
/// `text`; every value checked.
Result<KernelConfig> makeConfig(const TemplateSpec &spec, const HeadConfig *head,
                                std::string_view text);

/// The strides (in elements) of a [batch, heads, rows, head_dim] tensor a
/// kernel reads or writes `tileRows` rows at a time: non-negative multiples
/// of 8 (16-byte vectors), row >= head_dim, and a tile's offsets within 32
/// bits. `name` says which tensor in the message.
Status checkTensorStrides(std::string_view name, int64_t batch, int64_t head, int64_t row,
                          int64_t headDim, int64_t tileRows);

/// The tile width for a head dim: rounded up to a power of two (the tiles
/// are masked past head_dim). Host side too: launch geometry follows it.
constexpr int64_t paddedHeadDim(int64_t headDim) {
  int64_t padded = 1;
  while (padded < headDim)
    padded *= 2;
  return padded;
}

/// Checks every parameter is known and allowed and runs spec.validate.
Status validateConfig(const TemplateSpec &spec, const KernelConfig &config);

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_TEMPLATESPEC_H
