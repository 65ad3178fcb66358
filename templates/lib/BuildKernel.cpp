//===- BuildKernel.cpp - a config to its template's builder ---------------===//
#include "turbo/Templates/AllTemplates.h"
#include "turbo/Templates/Builders.h"

using namespace mlir;

namespace turbo::templates {

#define TURBO_TEMPLATE(folder, Struct)                                                         \
  template <>                                                                                  \
  OwningOpRef<ModuleOp> buildKernel<Struct>(MLIRContext &, const Struct::Config &,             \
                                            std::string_view);
#include "Templates.def"
#undef TURBO_TEMPLATE

FailureOr<OwningOpRef<ModuleOp>> buildKernel(MLIRContext &context, const AnyConfig &config,
                                             std::string_view target, std::string &error) {
#define TURBO_TEMPLATE(folder, Struct)                                                         \
  if (config.is<Struct>())                                                                     \
    return buildKernel<Struct>(context, config.as<Struct>(), target);
#include "Templates.def"
#undef TURBO_TEMPLATE
  error = "template '" + std::string(config.templateName()) + "' has no builder";
  return failure();
}

} // namespace turbo::templates
