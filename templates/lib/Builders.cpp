//===- Builders.cpp - template dispatch and kernel scaffolding ------------===//
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TurboDialect.h"

using namespace mlir;

namespace turbo::templates {

func::FuncOp createKernel(OpBuilder &builder, ModuleOp module, std::string_view name,
                          llvm::ArrayRef<KernelArg> args, const KernelConfig &config,
                          std::string_view target, int64_t numWarps) {
  MLIRContext *context = module.getContext();
  module->setAttr(mlir::turbo::TurboDialect::kTargetAttrName,
                  builder.getStringAttr(llvm::StringRef(target.data(), target.size())));
  module->setAttr(mlir::turbo::TurboDialect::kNumWarpsAttrName,
                  builder.getI32IntegerAttr(int32_t(numWarps)));
  SmallVector<Type> types;
  for (const KernelArg &arg : args)
    types.push_back(arg.type);
  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(builder, module.getLoc(),
                                   llvm::StringRef(name.data(), name.size()),
                                   builder.getFunctionType(types, {}));
  func->setAttr(mlir::turbo::TurboDialect::kKernelAttrName, builder.getUnitAttr());
  SmallVector<NamedAttribute> params;
  for (const auto &[key, value] : config.values())
    params.push_back(builder.getNamedAttr(key, builder.getI64IntegerAttr(value)));
  func->setAttr(mlir::turbo::TurboDialect::kConfigAttrName,
                mlir::turbo::ConfigAttr::get(context, builder.getDictionaryAttr(params)));
  for (auto [i, arg] : llvm::enumerate(args))
    if (arg.divisibility > 1)
      func.setArgAttr(i, mlir::turbo::TurboDialect::kDivisibilityAttrName,
                      builder.getI64IntegerAttr(arg.divisibility));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  return func;
}

FailureOr<OwningOpRef<ModuleOp>> buildKernel(MLIRContext &context, const TemplateSpec &spec,
                                             const KernelConfig &config,
                                             std::string_view target, std::string &error) {
  if (spec.name == "quantize_rows")
    return buildQuantizeRows(context, config, target);
  if (spec.name == "attention_prefill")
    return buildAttentionPrefill(context, config, target);
  if (spec.name == "channel_mean")
    return buildChannelMean(context, config, target);
  if (spec.name == "quantize_kv")
    return buildQuantizeKv(context, config, target);
  error = "template '" + spec.name + "' has no builder";
  return failure();
}

} // namespace turbo::templates
