//===- Config.h - a template's typed config and its text form ---*- C++ -*-===//
//
// Each template keeps its tuning parameters in a plain struct (Config) whose
// member initializers are the defaults. A ConfigSchema binds each member to
// the name users write in a config string ("block_n=128,dtype=bf16"): the
// string is parsed and checked once, here, into the struct; every other
// piece of code reads the struct's members. The canonical text (all
// parameters, sorted by name) is what cache keys and kernel infos carry.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_CONFIG_H
#define TURBO_TEMPLATES_CONFIG_H

#include "turbo/Support/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbo::templates {

/// The values a parameter may take: a list, a closed range, or (neither)
/// any value >= 0. Symbols are names that stand for values in a config
/// string (dtype=bf16); they are allowed values themselves.
struct Allowed {
  std::vector<int64_t> values;
  std::vector<std::pair<std::string, int64_t>> symbols;
  std::optional<std::pair<int64_t, int64_t>> range;

  bool admits(int64_t value) const;
  /// "allowed: 64, 128", "must be in [1, 30]", "must be >= 0".
  std::string describe() const;
};
/// Shorthands for a schema's declarations.
Allowed oneOf(std::vector<int64_t> values);
Allowed inRange(int64_t lowest, int64_t highest);
Allowed flag(); ///< 0 or 1
Allowed named(std::vector<std::pair<std::string, int64_t>> symbols);

/// One parameter as users see it (turbo-compile --list-templates).
struct ParamInfo {
  std::string name;
  int64_t defaultValue = 0;
  Allowed allowed;
  std::string help;
};

/// One "key=value" of a config string, checked against its parameter.
struct ConfigEntry {
  std::string_view key;
  int64_t value;
};
/// Splits "a=1, b = bf16" into entries; `lookup` gives the parameter a key
/// names (null: unknown). Refuses unknown keys, keys given twice, values
/// that are neither integers nor the parameter's symbols, and values the
/// parameter does not allow. `templateName` goes into the messages.
Result<std::vector<ConfigEntry>>
parseConfigEntries(std::string_view templateName, std::string_view text,
                   const std::vector<const ParamInfo *> &params);
/// "a=1,b=2" from name-value pairs (sorted by name here).
std::string canonicalText(std::vector<std::pair<std::string_view, int64_t>> values);

/// The parameters of `Config`, each bound to one member (an integer, a
/// bool or an enum).
template <class Config> class ConfigSchema {
public:
  struct Field {
    ParamInfo info;
    int64_t (*get)(const Config &);
    void (*set)(Config &, int64_t);
  };

  /// Binds `name` to `Member`; its default is the member's initializer.
  template <auto Member> ConfigSchema &add(std::string name, Allowed allowed, std::string help) {
    using Value = std::remove_reference_t<decltype(std::declval<Config &>().*Member)>;
    Field field{{std::move(name), 0, std::move(allowed), std::move(help)},
                [](const Config &config) { return int64_t(config.*Member); },
                [](Config &config, int64_t value) { config.*Member = static_cast<Value>(value); }};
    field.info.defaultValue = field.get(Config{});
    fields_.push_back(std::move(field));
    return *this;
  }

  const std::vector<Field> &fields() const { return fields_; }
  std::vector<ParamInfo> params() const {
    std::vector<ParamInfo> out;
    for (const Field &field : fields_)
      out.push_back(field.info);
    return out;
  }
  const Field *find(std::string_view name) const {
    for (const Field &field : fields_)
      if (field.info.name == name)
        return &field;
    return nullptr;
  }

  /// Parses `text` into entries (see parseConfigEntries).
  Result<std::vector<ConfigEntry>> entries(std::string_view templateName,
                                           std::string_view text) const {
    std::vector<const ParamInfo *> params;
    for (const Field &field : fields_)
      params.push_back(&field.info);
    return parseConfigEntries(templateName, text, params);
  }
  void apply(const std::vector<ConfigEntry> &entries, Config &config) const {
    for (const ConfigEntry &entry : entries)
      find(entry.key)->set(config, entry.value);
  }

  /// Every parameter's value, by name.
  std::vector<std::pair<std::string_view, int64_t>> values(const Config &config) const {
    std::vector<std::pair<std::string_view, int64_t>> out;
    for (const Field &field : fields_)
      out.push_back({field.info.name, field.get(config)});
    return out;
  }
  std::string canonical(const Config &config) const { return canonicalText(values(config)); }

  /// Each value within what its parameter allows (a config built in code,
  /// not parsed, is checked here too).
  Status checkValues(std::string_view templateName, const Config &config) const {
    for (const Field &field : fields_) {
      int64_t value = field.get(config);
      if (!field.info.allowed.admits(value))
        return disallowed(templateName, field.info, value);
    }
    return Status::ok();
  }

private:
  static Status disallowed(std::string_view templateName, const ParamInfo &param, int64_t value);
  std::vector<Field> fields_;
};

Status disallowedValue(std::string_view templateName, const ParamInfo &param, int64_t value);
template <class Config>
Status ConfigSchema<Config>::disallowed(std::string_view templateName, const ParamInfo &param,
                                        int64_t value) {
  return disallowedValue(templateName, param, value);
}

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_CONFIG_H
