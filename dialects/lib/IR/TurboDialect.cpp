//===- TurboDialect.cpp - the turbo dialect -------------------------------===//
#include "turbo/Dialect/TurboDialect.h"
#include "turbo/Support/Targets.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::turbo;

#include "turbo/Dialect/TurboDialect.cpp.inc"
#include "turbo/Dialect/TurboEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "turbo/Dialect/TurboTypes.cpp.inc"

namespace {
/// Prints layouts through aliases (#blocked, #mma, ...) so tile types stay
/// readable.
struct TurboOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;
  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (isa<BlockedEncodingAttr>(attr))
      os << "blocked";
    else if (isa<LinearEncodingAttr>(attr))
      os << "linear";
    else if (isa<MmaEncodingAttr>(attr))
      os << "mma";
    else if (isa<SliceEncodingAttr>(attr))
      os << "slice";
    else if (isa<DotOperandEncodingAttr>(attr))
      os << "dot_op";
    else
      return AliasResult::NoAlias;
    return AliasResult::FinalAlias;
  }
};
} // namespace

void TurboDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "turbo/Dialect/TurboOps.cpp.inc"
      >();
  registerTypes();
  registerAttributes();
  addInterfaces<TurboOpAsmInterface>();
}

void TurboDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "turbo/Dialect/TurboTypes.cpp.inc"
      >();
}

static bool isSupportedTarget(StringRef target) {
  return ::turbo::isSupportedTarget(std::string_view(target.data(), target.size()));
}

LogicalResult TurboDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kKernelAttrName) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a unit attribute";
    if (!isa<func::FuncOp>(op))
      return op->emitError() << "'" << name << "' belongs on a func.func";
    auto func = cast<func::FuncOp>(op);
    if (func.getFunctionType().getNumResults() != 0)
      return op->emitError() << "a turbo kernel returns no values";
    return success();
  }
  if (name == kTargetAttrName) {
    auto str = dyn_cast<StringAttr>(attr.getValue());
    if (!str || !isSupportedTarget(str.getValue()))
      return op->emitError() << "'" << name
                             << "' must be one of \"sm_80\", \"sm_86\", \"sm_89\", "
                                "\"sm_90\", \"sm_90a\"";
    return success();
  }
  if (name == kNumWarpsAttrName) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || value.getInt() < 1 || value.getInt() > kMaxWarps ||
        !llvm::isPowerOf2_64(value.getInt()))
      return op->emitError() << "'" << name << "' must be an integer power of two in [1, "
                             << kMaxWarps << "]";
    return success();
  }
  if (name == kConfigAttrName) {
    if (!isa<ConfigAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a #turbo.config";
    return success();
  }
  if (name == kSharedBytesAttrName) {
    auto value = dyn_cast<IntegerAttr>(attr.getValue());
    if (!value || value.getInt() < 0)
      return op->emitError() << "'" << name << "' must be a non-negative integer";
    return success();
  }
  if (name == kProgrammaticLaunchAttrName) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a unit attribute";
    return success();
  }
  return op->emitError() << "unknown turbo attribute '" << name << "'";
}

LogicalResult TurboDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                     unsigned argIndex,
                                                     NamedAttribute attr) {
  if (attr.getName().getValue() != kDivisibilityAttrName)
    return op->emitError() << "unknown turbo argument attribute '"
                           << attr.getName().getValue() << "'";
  auto value = dyn_cast<IntegerAttr>(attr.getValue());
  if (!value || value.getInt() < 1 || !llvm::isPowerOf2_64(value.getInt()))
    return op->emitError() << "'" << kDivisibilityAttrName << "' of argument "
                           << argIndex << " must be a power of two";
  return success();
}
