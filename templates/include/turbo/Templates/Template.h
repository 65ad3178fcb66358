//===- Template.h - what a kernel template is (host side) -------*- C++ -*-===//
//
// A template is one struct in its own folder (templates/<name>/) with:
//
//   using Config = ...;                 // the typed parameters (Config.h)
//   static constexpr const char *name, *summary;
//   static const ConfigSchema<Config> &schema();
//   static void applyHead(const HeadConfig &, Config &);  // head_dim, dtype, ...
//   static void tune(std::string_view target, Config &);  // defaults per target and head
//   static Status validate(const Config &);               // checks across parameters
//   static Signature<Arg> signature(const Config &);      // the kernel's arguments
//   static Result<std::vector<AnyConfig>> helpers(const Config &); // kernels its launch runs
//
// plus, by convention, its Problem (shapes and strides), canImplement
// checks, launch sequence (which packs the signature's arguments) and CPU
// reference, and an MLIR builder (<Name>Kernel.cpp). Templates.def lists
// them: adding a template is its folder and one line there.
//
// TemplateDef is the same without the types, for code that handles any
// template (the registry, the C API, the compiler); AnyConfig is a parsed,
// checked config of some template, typed inside.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_TEMPLATE_H
#define TURBO_TEMPLATES_TEMPLATE_H

#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/Status.h"
#include "turbo/Templates/Config.h"
#include "turbo/Templates/Signature.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turbo::templates {

class AnyConfig;

class TemplateDef {
public:
  virtual ~TemplateDef() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view summary() const = 0;
  virtual std::vector<ParamInfo> params() const = 0;
  /// Defaults; then, with `head`, the head's shape and the tuning for its
  /// target; then the "key=value,..." of `text`, which win. Every value is
  /// checked, and the template's checks across parameters run.
  virtual Result<AnyConfig> parse(const HeadConfig *head, std::string_view text) const = 0;

protected:
  friend class AnyConfig;
  virtual std::string canonical(const void *config) const = 0;
  virtual std::optional<int64_t> value(const void *config, std::string_view name) const = 0;
  virtual std::vector<ArgSpec> signature(const void *config) const = 0;
  virtual Result<std::vector<AnyConfig>> helpers(const void *config) const = 0;
};

/// A checked config of one template. Copies share the typed value.
class AnyConfig {
public:
  const TemplateDef &def() const { return *def_; }
  std::string_view templateName() const { return def_->name(); }
  /// The canonical text: every parameter, sorted by name.
  const std::string &text() const { return text_; }

  template <class T> bool is() const;
  /// The typed config; the caller has checked is<T>().
  template <class T> const typename T::Config &as() const {
    return *static_cast<const typename T::Config *>(typed_.get());
  }
  /// A parameter's value by its name (for what reports configs by name:
  /// the C API's turbo_kernel_config_value).
  std::optional<int64_t> value(std::string_view name) const { return def_->value(typed_.get(), name); }
  std::vector<ArgSpec> signature() const { return def_->signature(typed_.get()); }
  /// The configs of the other kernels this template's launches run.
  Result<std::vector<AnyConfig>> helpers() const { return def_->helpers(typed_.get()); }

  /// A config made in code (a helper's, derived from its parent's), checked
  /// as a parsed one would be.
  template <class T> static Result<AnyConfig> make(const typename T::Config &config);

private:
  template <class T> friend class TemplateDefOf;
  AnyConfig(const TemplateDef *def, std::shared_ptr<const void> typed, std::string text)
      : def_(def), typed_(std::move(typed)), text_(std::move(text)) {}
  const TemplateDef *def_;
  std::shared_ptr<const void> typed_;
  std::string text_;
};

/// The TemplateDef of template struct T (one object per T).
template <class T> class TemplateDefOf final : public TemplateDef {
public:
  using Config = typename T::Config;
  static const TemplateDefOf &instance() {
    static const TemplateDefOf def;
    return def;
  }
  std::string_view name() const override { return T::name; }
  std::string_view summary() const override { return T::summary; }
  std::vector<ParamInfo> params() const override { return T::schema().params(); }

  Result<AnyConfig> parse(const HeadConfig *head, std::string_view text) const override {
    auto config = parseTyped(head, text);
    if (!config)
      return config.status();
    return wrap(*config);
  }
  /// The same, typed.
  Result<Config> parseTyped(const HeadConfig *head, std::string_view text) const {
    const ConfigSchema<Config> &schema = T::schema();
    auto entries = schema.entries(T::name, text);
    if (!entries)
      return entries.status();
    Config config{};
    if (head) {
      // The text's head_dim, dtype, ... describe the head the tuning is
      // for: a head_dim=256 kernel must not get head dim 128's tuning.
      T::applyHead(*head, config);
      schema.apply(*entries, config);
      T::tune(head->target, config);
    }
    schema.apply(*entries, config);
    TURBO_RETURN_IF_ERROR(check(config));
    return config;
  }
  Status check(const Config &config) const {
    TURBO_RETURN_IF_ERROR(T::schema().checkValues(T::name, config));
    return T::validate(config);
  }
  AnyConfig wrap(const Config &config) const {
    return AnyConfig(this, std::make_shared<const Config>(config), T::schema().canonical(config));
  }

private:
  static const Config &typed(const void *config) { return *static_cast<const Config *>(config); }
  std::string canonical(const void *config) const override {
    return T::schema().canonical(typed(config));
  }
  std::optional<int64_t> value(const void *config, std::string_view name) const override {
    if (auto *field = T::schema().find(name))
      return field->get(typed(config));
    return std::nullopt;
  }
  std::vector<ArgSpec> signature(const void *config) const override {
    return T::signature(typed(config)).specs();
  }
  Result<std::vector<AnyConfig>> helpers(const void *config) const override {
    return T::helpers(typed(config));
  }
};

template <class T> bool AnyConfig::is() const { return def_ == &TemplateDefOf<T>::instance(); }

template <class T> Result<AnyConfig> AnyConfig::make(const typename T::Config &config) {
  const TemplateDefOf<T> &def = TemplateDefOf<T>::instance();
  TURBO_RETURN_IF_ERROR(def.check(config));
  return def.wrap(config);
}

/// Parses `text` for template T (see TemplateDef::parse), typed.
template <class T>
Result<typename T::Config> parseConfig(const HeadConfig *head, std::string_view text) {
  return TemplateDefOf<T>::instance().parseTyped(head, text);
}
template <class T> std::string canonicalText(const typename T::Config &config) {
  return T::schema().canonical(config);
}

/// Every template (Templates.def), in a fixed order.
const std::vector<const TemplateDef *> &allTemplates();
const TemplateDef *findTemplate(std::string_view name);
/// The names of all templates, comma separated.
std::string templateNames();

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_TEMPLATE_H
