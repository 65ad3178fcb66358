//===- Registry.cpp - every template, from Templates.def ------------------===//
#include "turbo/Templates/AllTemplates.h"
#include "turbo/Templates/Template.h"

namespace turbo::templates {

const std::vector<const TemplateDef *> &allTemplates() {
  static const std::vector<const TemplateDef *> all = {
#define TURBO_TEMPLATE(folder, Struct) &TemplateDefOf<Struct>::instance(),
#include "Templates.def"
#undef TURBO_TEMPLATE
  };
  return all;
}

const TemplateDef *findTemplate(std::string_view name) {
  for (const TemplateDef *def : allTemplates())
    if (def->name() == name)
      return def;
  return nullptr;
}

std::string templateNames() {
  std::string names;
  for (const TemplateDef *def : allTemplates())
    names += (names.empty() ? "" : ", ") + std::string(def->name());
  return names;
}

} // namespace turbo::templates
