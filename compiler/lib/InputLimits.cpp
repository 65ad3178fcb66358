//===- InputLimits.cpp - what turbo IR from outside may ask for -----------===//
#include "turbo/Compiler/InputLimits.h"
#include "turbo/Dialect/Layouts.h"
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

namespace turbo::compiler {
namespace {

Status invalid(std::string message) {
  return {StatusCode::InvalidArgument, "input is not acceptable turbo IR: " + std::move(message)};
}

std::string describe(mlir::Type type) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  stream << type;
  return text;
}

std::string where(mlir::Operation *op) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  stream << op->getLoc();
  return text;
}

/// A shaped value's extents: static, positive, within the limits.
Status checkShape(mlir::Operation *op, mlir::Type type, const InputLimits &limits) {
  auto shaped = mlir::dyn_cast<mlir::ShapedType>(type);
  if (!shaped || !shaped.hasRank())
    return Status::ok();
  int64_t elements = 1;
  for (int64_t dim : shaped.getShape()) {
    if (mlir::ShapedType::isDynamic(dim) || dim < 1 || dim > limits.maxTileDim)
      return invalid(fmt::format("{}: '{}' at {}: tile dims must be static and in [1, {}]",
                                 op->getName().getStringRef().str(), describe(type), where(op),
                                 limits.maxTileDim));
    elements *= dim;
    if (elements > limits.maxTileElements)
      return invalid(fmt::format("{}: '{}' at {}: more than {} elements in one tile",
                                 op->getName().getStringRef().str(), describe(type), where(op),
                                 limits.maxTileElements));
  }
  // A layout written into the IR: each thread's registers of the tile (a
  // basis that moves nothing doubles them without covering more elements).
  auto tile = mlir::dyn_cast<mlir::RankedTensorType>(type);
  if (tile && tile.getEncoding() &&
      mlir::isa<mlir::turbo::TurboDialect>(tile.getEncoding().getDialect())) {
    std::string error;
    mlir::FailureOr<mlir::turbo::TileLayout> layout = mlir::turbo::TileLayout::get(tile, &error);
    if (failed(layout))
      return invalid(fmt::format("{}: '{}' at {}: {}", op->getName().getStringRef().str(),
                                 describe(type), where(op), error));
    if (layout->getNumRegs() > limits.maxTileRegisters)
      return invalid(fmt::format("{}: '{}' at {}: its layout gives a thread {} registers of "
                                 "the tile, more than {}",
                                 op->getName().getStringRef().str(), describe(type), where(op),
                                 layout->getNumRegs(), limits.maxTileRegisters));
  }
  return Status::ok();
}

/// PTX identifiers: a letter, '_' or '$', then letters, digits, '_' and '$'.
bool ptxName(llvm::StringRef name, int64_t maxLength) {
  if (name.empty() || int64_t(name.size()) > maxLength)
    return false;
  auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
  if (!letter(name.front()))
    return false;
  for (char c : name)
    if (!letter(c) && !std::isdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

} // namespace

Status checkText(std::string_view text, const InputLimits &limits) {
  int64_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == '(' || c == '[' || c == '{' || c == '<')
      ++depth;
    else if (c == ')' || c == ']' || c == '}' || (c == '>' && !(i > 0 && text[i - 1] == '-')))
      depth = depth > 0 ? depth - 1 : 0;
    if (depth > limits.maxNesting)
      return invalid(fmt::format("nesting deeper than {} brackets or regions (at byte {})",
                                 limits.maxNesting, i));
  }
  return Status::ok();
}

Status checkModule(mlir::ModuleOp module, const InputLimits &limits) {
  Status found = Status::ok();
  module.walk([&](mlir::Operation *op) {
    if (auto name = op->getAttrOfType<mlir::StringAttr>(mlir::SymbolTable::getSymbolAttrName()))
      if (!ptxName(name.getValue(), limits.maxNameLength)) {
        found = invalid(fmt::format("symbol '{}' at {}: names must be PTX identifiers "
                                    "([A-Za-z_$][A-Za-z0-9_$]*, at most {} characters)",
                                    name.getValue().str(), where(op), limits.maxNameLength));
        return mlir::WalkResult::interrupt();
      }
    for (mlir::Type type : op->getResultTypes())
      if (Status status = checkShape(op, type, limits); !status) {
        found = status;
        return mlir::WalkResult::interrupt();
      }
    // A copy into shared memory names its tile's layout as an attribute.
    if (auto copy = mlir::dyn_cast<mlir::turbo::AsyncCopyOp>(op))
      if (Status status = checkShape(op, copy.getTileType(), limits); !status) {
        found = status;
        return mlir::WalkResult::interrupt();
      }
    for (mlir::Region &region : op->getRegions())
      for (mlir::Block &block : region)
        for (mlir::BlockArgument argument : block.getArguments())
          if (Status status = checkShape(op, argument.getType(), limits); !status) {
            found = status;
            return mlir::WalkResult::interrupt();
          }
    return mlir::WalkResult::advance();
  });
  return found;
}

} // namespace turbo::compiler
