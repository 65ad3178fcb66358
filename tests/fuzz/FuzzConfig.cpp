//===- FuzzConfig.cpp - libFuzzer target: config strings for every template ==//
//
// The first byte picks a template, the rest is its config string
// ("key=value,..."); turbo_compile_template builds the kernel's turbo IR
// from it or refuses it with a message.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {
std::vector<std::string> templateNames() {
  char *names = nullptr;
  if (turbo_list_templates(&names) != TURBO_STATUS_OK)
    std::abort();
  std::vector<std::string> result;
  std::stringstream list(names);
  for (std::string name; std::getline(list, name, ',');)
    if (!name.empty())
      result.push_back(name);
  turbo_free(names);
  return result;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::vector<std::string> names = templateNames();
  if (size == 0 || names.empty())
    return 0;
  const std::string &name = names[data[0] % names.size()];
  std::string config(reinterpret_cast<const char *>(data) + 1, size - 1);
  char *out = nullptr;
  turbo_status status =
      turbo_compile_template(name.c_str(), nullptr, config.c_str(), "turbo", &out);
  if (status == TURBO_STATUS_OK ? out == nullptr : (out != nullptr || !*turbo_last_error()))
    std::abort();
  turbo_free(out);
  return 0;
}
