//===- TemplateSpec.cpp - template parameters and configs -----------------===//
#include "turbo/Templates/TemplateSpec.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <utility>
#include <vector>

namespace turbo::templates {

// Each template's spec lives beside its kernel; listed here in a fixed order.
const TemplateSpec &quantizeRowsSpec();
const TemplateSpec &attentionPrefillSpec();
const TemplateSpec &channelMeanSpec();
const TemplateSpec &quantizeKvSpec();
const TemplateSpec &quantizeQSpec();

const std::vector<const TemplateSpec *> &allTemplates() {
  static const std::vector<const TemplateSpec *> specs = {
      &quantizeRowsSpec(), &attentionPrefillSpec(), &channelMeanSpec(), &quantizeKvSpec(),
      &quantizeQSpec()};
  return specs;
}

const TemplateSpec *findTemplate(std::string_view name) {
  for (const TemplateSpec *spec : allTemplates())
    if (spec->name == name)
      return spec;
  return nullptr;
}

std::string templateNames() {
  std::string names;
  for (const TemplateSpec *spec : allTemplates())
    names += (names.empty() ? "" : ", ") + spec->name;
  return names;
}

int64_t KernelConfig::get(const std::string &name) const {
  auto it = values_.find(name);
  return it == values_.end() ? 0 : it->second;
}

std::string KernelConfig::canonical() const {
  std::string text;
  for (const auto &[name, value] : values_)
    text += fmt::format("{}{}={}", text.empty() ? "" : ",", name, value);
  return text;
}

namespace {
const ParamSpec *findParam(const TemplateSpec &spec, std::string_view name) {
  for (const ParamSpec &param : spec.params)
    if (param.name == name)
      return &param;
  return nullptr;
}

std::string paramNames(const TemplateSpec &spec) {
  std::string names;
  for (const ParamSpec &param : spec.params)
    names += (names.empty() ? "" : ", ") + param.name;
  return names;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

Result<int64_t> parseValue(const ParamSpec &param, std::string_view text) {
  for (const auto &[symbol, value] : param.symbols)
    if (symbol == text)
      return value;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return Status(StatusCode::InvalidArgument,
                  fmt::format("config value '{}' for '{}' is not an integer", text, param.name));
  return value;
}
} // namespace

Status validateConfig(const TemplateSpec &spec, const KernelConfig &config) {
  for (const auto &[name, value] : config.values()) {
    const ParamSpec *param = findParam(spec, name);
    if (!param)
      return {StatusCode::InvalidArgument,
              fmt::format("template '{}' has no parameter '{}' (it has: {})", spec.name, name,
                          paramNames(spec))};
    bool allowed = param->allowed.empty() ? value >= 0 : false;
    for (int64_t candidate : param->allowed)
      allowed |= candidate == value;
    if (!allowed) {
      std::string choices;
      for (int64_t candidate : param->allowed)
        choices += (choices.empty() ? "" : ", ") + std::to_string(candidate);
      return {StatusCode::InvalidArgument,
              fmt::format("{}={} is not allowed for template '{}' ({})", name, value, spec.name,
                          choices.empty() ? "must be >= 0" : "allowed: " + choices)};
    }
  }
  if (spec.validate)
    return spec.validate(config);
  return Status::ok();
}

Result<KernelConfig> makeConfig(const TemplateSpec &spec, const HeadConfig *head,
                                std::string_view text) {
  // The text's entries, checked, in order.
  std::vector<std::pair<const ParamSpec *, int64_t>> entries;
  while (!trim(text).empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty())
      continue;
    size_t equals = item.find('=');
    if (equals == std::string_view::npos)
      return Status(StatusCode::InvalidArgument,
                    fmt::format("config entry '{}' is not key=value", item));
    std::string_view key = trim(item.substr(0, equals));
    const ParamSpec *param = findParam(spec, key);
    if (!param)
      return Status(StatusCode::InvalidArgument,
                    fmt::format("template '{}' has no parameter '{}' (it has: {})", spec.name,
                                key, paramNames(spec)));
    Result<int64_t> value = parseValue(*param, trim(item.substr(equals + 1)));
    if (!value)
      return value.status();
    entries.push_back({param, *value});
  }
  KernelConfig config;
  for (const ParamSpec &param : spec.params)
    config.set(param.name, param.defaultValue);
  if (head && spec.fromHeadConfig) {
    // The head the kernel is for: the text's head_dim, dtype and causal
    // (where given) describe it better than the head config's, and the
    // head config's tuning depends on them (a head_dim=256 kernel must not
    // get the tuning of the default head dim, 128).
    HeadConfig described = *head;
    for (const auto &[param, value] : entries) {
      if (param->name == "head_dim")
        described.headDim = int(value);
      else if (param->name == "dtype")
        described.dtype = value == 1 ? DType::BF16 : DType::F16;
      else if (param->name == "causal")
        described.causal = value != 0;
    }
    spec.fromHeadConfig(described, config);
  }
  for (const auto &[param, value] : entries)
    config.set(param->name, value);
  TURBO_RETURN_IF_ERROR(validateConfig(spec, config));
  return config;
}

Status checkTensorStrides(std::string_view name, int64_t batch, int64_t head, int64_t row,
                          int64_t headDim, int64_t tileRows) {
  if (row < headDim || row % 8 || head % 8 || batch % 8 || head < 0 || batch < 0)
    return {StatusCode::InvalidArgument,
            fmt::format("{} strides (batch {}, head {}, row {}) must be non-negative multiples "
                        "of 8 elements with row >= head_dim ({})",
                        name, batch, head, row, headDim)};
  if (row > std::numeric_limits<int32_t>::max() / std::max<int64_t>(tileRows, 1))
    return {StatusCode::InvalidArgument,
            fmt::format("{} row stride {} too large for 32-bit offsets within a tile of {} rows",
                        name, row, tileRows)};
  return Status::ok();
}

} // namespace turbo::templates
