//===- Config.cpp - config strings to typed configs -----------------------===//
#include "turbo/Templates/Config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace turbo::templates {

bool Allowed::admits(int64_t value) const {
  if (range)
    return value >= range->first && value <= range->second;
  if (values.empty() && symbols.empty())
    return value >= 0;
  for (int64_t v : values)
    if (v == value)
      return true;
  for (const auto &[symbol, v] : symbols)
    if (v == value)
      return true;
  return false;
}

std::string Allowed::describe() const {
  if (range)
    return fmt::format("must be in [{}, {}]", range->first, range->second);
  if (values.empty() && symbols.empty())
    return "must be >= 0";
  std::string choices;
  for (int64_t v : values)
    choices += (choices.empty() ? "" : ", ") + std::to_string(v);
  for (const auto &[symbol, v] : symbols)
    choices += fmt::format("{}{} ({})", choices.empty() ? "" : ", ", v, symbol);
  return "allowed: " + choices;
}

Allowed oneOf(std::vector<int64_t> values) { return {std::move(values), {}, std::nullopt}; }
Allowed inRange(int64_t lowest, int64_t highest) {
  return {{}, {}, std::make_pair(lowest, highest)};
}
Allowed flag() { return oneOf({0, 1}); }
Allowed named(std::vector<std::pair<std::string, int64_t>> symbols) {
  return {{}, std::move(symbols), std::nullopt};
}

Status disallowedValue(std::string_view templateName, const ParamInfo &param, int64_t value) {
  return {StatusCode::InvalidArgument,
          fmt::format("{}={} is not allowed for template '{}' ({})", param.name, value,
                      templateName, param.allowed.describe())};
}

namespace {
std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

Result<int64_t> parseValue(const ParamInfo &param, std::string_view text) {
  for (const auto &[symbol, value] : param.allowed.symbols)
    if (symbol == text)
      return value;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return Status(StatusCode::InvalidArgument,
                  fmt::format("config value '{}' for '{}' is not an integer{}", text, param.name,
                              param.allowed.symbols.empty() ? "" : " or a name it knows"));
  return value;
}

std::string paramNames(const std::vector<const ParamInfo *> &params) {
  std::string names;
  for (const ParamInfo *param : params)
    names += (names.empty() ? "" : ", ") + param->name;
  return names;
}
} // namespace

Result<std::vector<ConfigEntry>>
parseConfigEntries(std::string_view templateName, std::string_view text,
                   const std::vector<const ParamInfo *> &params) {
  std::vector<ConfigEntry> entries;
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
    auto param = std::find_if(params.begin(), params.end(),
                              [&](const ParamInfo *p) { return p->name == key; });
    if (param == params.end())
      return Status(StatusCode::InvalidArgument,
                    fmt::format("template '{}' has no parameter '{}' (it has: {})",
                                templateName, key, paramNames(params)));
    for (const ConfigEntry &earlier : entries)
      if (earlier.key == key)
        return Status(StatusCode::InvalidArgument,
                      fmt::format("config gives '{}' twice", key));
    Result<int64_t> value = parseValue(**param, trim(item.substr(equals + 1)));
    if (!value)
      return value.status();
    if (!(*param)->allowed.admits(*value))
      return disallowedValue(templateName, **param, *value);
    entries.push_back({(*param)->name, *value});
  }
  return entries;
}

std::string canonicalText(std::vector<std::pair<std::string_view, int64_t>> values) {
  std::sort(values.begin(), values.end());
  std::string text;
  for (const auto &[name, value] : values)
    text += fmt::format("{}{}={}", text.empty() ? "" : ",", name, value);
  return text;
}

} // namespace turbo::templates
