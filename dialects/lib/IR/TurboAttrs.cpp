//===- TurboAttrs.cpp - configuration and layout attributes ---------------===//
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::turbo;

#define GET_ATTRDEF_CLASSES
#include "turbo/Dialect/TurboAttrs.cpp.inc"

void TurboDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "turbo/Dialect/TurboAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// ConfigAttr
//===----------------------------------------------------------------------===//

namespace {
// The config entries the compiler reads (CodegenOptions): named here only.
constexpr StringLiteral kNumStages = "num_stages";
constexpr StringLiteral kWgmma = "wgmma";
constexpr StringLiteral kMinBlocksPerSm = "min_blocks_per_sm";
} // namespace

LogicalResult ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 DictionaryAttr params) {
  for (NamedAttribute entry : params) {
    if (!isa<IntegerAttr>(entry.getValue()))
      return emitError() << "config entry '" << entry.getName().getValue()
                         << "' must be an integer";
  }
  auto value = [&](StringRef key) -> std::optional<int64_t> {
    if (auto attr = params.getAs<IntegerAttr>(key))
      return attr.getInt();
    return std::nullopt;
  };
  if (auto stages = value(kNumStages); stages && (*stages < 1 || *stages > CodegenOptions::kMaxStages))
    return emitError() << "num_stages must be in [1, " << CodegenOptions::kMaxStages << "], got "
                       << *stages;
  if (auto wgmma = value(kWgmma); wgmma && *wgmma != 0 && *wgmma != 1)
    return emitError() << "wgmma must be 0 or 1, got " << *wgmma;
  if (auto blocks = value(kMinBlocksPerSm); blocks && *blocks < 0)
    return emitError() << "min_blocks_per_sm must be >= 0, got " << *blocks;
  return success();
}

CodegenOptions ConfigAttr::getCodegenOptions() const {
  CodegenOptions options;
  DictionaryAttr params = getParams();
  if (auto attr = params.getAs<IntegerAttr>(kNumStages))
    options.numStages = attr.getInt();
  if (auto attr = params.getAs<IntegerAttr>(kWgmma))
    options.wgmma = attr.getInt() != 0;
  if (auto attr = params.getAs<IntegerAttr>(kMinBlocksPerSm))
    options.minBlocksPerSm = attr.getInt();
  return options;
}

CodegenOptions ConfigAttr::codegenOptionsOf(Operation *kernel) {
  if (auto config = kernel->getAttrOfType<ConfigAttr>(TurboDialect::kConfigAttrName))
    return config.getCodegenOptions();
  return {};
}

//===----------------------------------------------------------------------===//
// Layout syntax: every layout prints as `<{key = value, ...}>`.
//===----------------------------------------------------------------------===//

namespace {
/// Reads typed fields out of the dictionary a layout attribute is written as,
/// reporting the first missing or malformed one.
class LayoutFields {
public:
  LayoutFields(AsmParser &parser, DictionaryAttr dict, StringRef layout)
      : parser(parser), dict(dict), layout(layout) {}

  bool getUnsignedArray(StringRef key, SmallVectorImpl<unsigned> &out) {
    auto array = dict.getAs<ArrayAttr>(key);
    if (!array)
      return fail(key, "an array of integers");
    for (Attribute element : array) {
      auto integer = dyn_cast<IntegerAttr>(element);
      if (!integer || integer.getInt() < 0)
        return fail(key, "an array of non-negative integers");
      out.push_back(integer.getInt());
    }
    return true;
  }
  /// `[[dim, value], ...]`, stored flat.
  bool getPairArray(StringRef key, SmallVectorImpl<int64_t> &out) {
    auto array = dict.getAs<ArrayAttr>(key);
    if (!array)
      return fail(key, "an array of [dim, value] pairs");
    for (Attribute element : array) {
      auto pair = dyn_cast<ArrayAttr>(element);
      if (!pair || pair.size() != 2)
        return fail(key, "an array of [dim, value] pairs");
      for (Attribute entry : pair) {
        auto integer = dyn_cast<IntegerAttr>(entry);
        if (!integer || integer.getInt() < 0)
          return fail(key, "an array of [dim, value] pairs of non-negative integers");
        out.push_back(integer.getInt());
      }
    }
    return true;
  }
  bool getUnsigned(StringRef key, unsigned &out) {
    auto integer = dict.getAs<IntegerAttr>(key);
    if (!integer || integer.getInt() < 0)
      return fail(key, "a non-negative integer");
    out = integer.getInt();
    return true;
  }
  bool getAttr(StringRef key, Attribute &out) {
    out = dict.get(key);
    if (!out)
      return fail(key, "an attribute");
    return true;
  }

private:
  bool fail(StringRef key, StringRef what) {
    parser.emitError(parser.getCurrentLocation())
        << "#turbo." << layout << " needs '" << key << "' as " << what;
    return false;
  }
  AsmParser &parser;
  DictionaryAttr dict;
  StringRef layout;
};

DictionaryAttr parseLayoutDict(AsmParser &parser) {
  DictionaryAttr dict;
  if (parser.parseLess() || parser.parseAttribute(dict) || parser.parseGreater())
    return {};
  return dict;
}

void printArray(AsmPrinter &printer, ArrayRef<unsigned> values) {
  printer << "[";
  llvm::interleaveComma(values, printer);
  printer << "]";
}
} // namespace

//===----------------------------------------------------------------------===//
// BlockedEncodingAttr
//===----------------------------------------------------------------------===//

Attribute BlockedEncodingAttr::parse(AsmParser &parser, Type) {
  DictionaryAttr dict = parseLayoutDict(parser);
  if (!dict)
    return {};
  LayoutFields fields(parser, dict, "blocked");
  SmallVector<unsigned> sizePerThread, threadsPerWarp, warpsPerCTA, order;
  if (!fields.getUnsignedArray("sizePerThread", sizePerThread) ||
      !fields.getUnsignedArray("threadsPerWarp", threadsPerWarp) ||
      !fields.getUnsignedArray("warpsPerCTA", warpsPerCTA) ||
      !fields.getUnsignedArray("order", order))
    return {};
  return parser.getChecked<BlockedEncodingAttr>(parser.getContext(), sizePerThread,
                                                threadsPerWarp, warpsPerCTA, order);
}

void BlockedEncodingAttr::print(AsmPrinter &printer) const {
  printer << "<{sizePerThread = ";
  printArray(printer, getSizePerThread());
  printer << ", threadsPerWarp = ";
  printArray(printer, getThreadsPerWarp());
  printer << ", warpsPerCTA = ";
  printArray(printer, getWarpsPerCTA());
  printer << ", order = ";
  printArray(printer, getOrder());
  printer << "}>";
}

LogicalResult BlockedEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                          ArrayRef<unsigned> sizePerThread,
                                          ArrayRef<unsigned> threadsPerWarp,
                                          ArrayRef<unsigned> warpsPerCTA,
                                          ArrayRef<unsigned> order) {
  size_t rank = sizePerThread.size();
  if (rank == 0 || rank > 2)
    return emitError() << "#turbo.blocked supports rank 1 and 2, got " << rank;
  if (threadsPerWarp.size() != rank || warpsPerCTA.size() != rank ||
      order.size() != rank)
    return emitError() << "#turbo.blocked fields must all have " << rank
                       << " entries";
  unsigned lanes = 1;
  for (size_t d = 0; d < rank; ++d) {
    for (unsigned v : {sizePerThread[d], threadsPerWarp[d], warpsPerCTA[d]})
      if (v == 0 || !llvm::isPowerOf2_32(v))
        return emitError() << "#turbo.blocked entries must be powers of two";
    lanes *= threadsPerWarp[d];
  }
  if (lanes != 32)
    return emitError() << "#turbo.blocked threadsPerWarp must multiply to 32, got "
                       << lanes;
  // A thread's run is bounded so that the layout's extents (size x lanes x
  // warps) stay far inside 64 bits.
  for (size_t d = 0; d < rank; ++d)
    if (sizePerThread[d] > (1u << 20) || warpsPerCTA[d] > TurboDialect::kMaxWarps)
      return emitError() << "#turbo.blocked sizePerThread entries must be at most 2^20 and "
                            "warpsPerCTA entries at most "
                         << TurboDialect::kMaxWarps;
  SmallVector<unsigned> sorted(order);
  llvm::sort(sorted);
  for (size_t d = 0; d < rank; ++d)
    if (sorted[d] != d)
      return emitError() << "#turbo.blocked order must be a permutation of the dims";
  return success();
}

//===----------------------------------------------------------------------===//
// LinearEncodingAttr
//===----------------------------------------------------------------------===//

Attribute LinearEncodingAttr::parse(AsmParser &parser, Type) {
  DictionaryAttr dict = parseLayoutDict(parser);
  if (!dict)
    return {};
  LayoutFields fields(parser, dict, "linear");
  SmallVector<int64_t> reg, lane, warp;
  if (!fields.getPairArray("reg", reg) || !fields.getPairArray("lane", lane) ||
      !fields.getPairArray("warp", warp))
    return {};
  return parser.getChecked<LinearEncodingAttr>(parser.getContext(), reg, lane, warp);
}

void LinearEncodingAttr::print(AsmPrinter &printer) const {
  auto pairs = [&](ArrayRef<int64_t> flat) {
    printer << "[";
    for (size_t i = 0; i + 1 < flat.size(); i += 2)
      printer << (i ? ", [" : "[") << flat[i] << ", " << flat[i + 1] << "]";
    printer << "]";
  };
  printer << "<{reg = ";
  pairs(getReg());
  printer << ", lane = ";
  pairs(getLane());
  printer << ", warp = ";
  pairs(getWarp());
  printer << "}>";
}

LogicalResult LinearEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                         ArrayRef<int64_t> reg, ArrayRef<int64_t> lane,
                                         ArrayRef<int64_t> warp) {
  for (ArrayRef<int64_t> flat : {reg, lane, warp}) {
    if (flat.size() % 2)
      return emitError() << "#turbo.linear bases must be [dim, value] pairs";
    for (size_t i = 0; i < flat.size(); i += 2) {
      if (flat[i] > 1)
        return emitError() << "#turbo.linear supports rank 1 and 2, got a basis along dim "
                           << flat[i];
      if (flat[i + 1] < 0 || (flat[i + 1] && !llvm::isPowerOf2_64(flat[i + 1])) ||
          flat[i + 1] > (int64_t(1) << 30))
        return emitError() << "#turbo.linear basis values must be 0 or powers of two up to "
                              "2^30, got "
                           << flat[i + 1];
    }
  }
  if (lane.size() != 2 * kLaneBits)
    return emitError() << "#turbo.linear needs exactly " << kLaneBits << " lane bases, got "
                       << lane.size() / 2;
  const unsigned warpBits = llvm::Log2_32(TurboDialect::kMaxWarps);
  if (warp.size() > 2 * warpBits)
    return emitError() << "#turbo.linear has at most " << warpBits << " warp bases ("
                       << TurboDialect::kMaxWarps << " warps), got " << warp.size() / 2;
  return success();
}

//===----------------------------------------------------------------------===//
// SliceEncodingAttr
//===----------------------------------------------------------------------===//

Attribute SliceEncodingAttr::parse(AsmParser &parser, Type) {
  DictionaryAttr dict = parseLayoutDict(parser);
  if (!dict)
    return {};
  LayoutFields fields(parser, dict, "slice");
  unsigned dim;
  Attribute parent;
  if (!fields.getUnsigned("dim", dim) || !fields.getAttr("parent", parent))
    return {};
  return SliceEncodingAttr::get(parser.getContext(), dim, parent);
}

void SliceEncodingAttr::print(AsmPrinter &printer) const {
  printer << "<{dim = " << getDim() << ", parent = " << getParent() << "}>";
}

//===----------------------------------------------------------------------===//
// MmaEncodingAttr
//===----------------------------------------------------------------------===//

Attribute MmaEncodingAttr::parse(AsmParser &parser, Type) {
  DictionaryAttr dict = parseLayoutDict(parser);
  if (!dict)
    return {};
  LayoutFields fields(parser, dict, "mma");
  SmallVector<unsigned> warpsPerCTA;
  if (!fields.getUnsignedArray("warpsPerCTA", warpsPerCTA))
    return {};
  return parser.getChecked<MmaEncodingAttr>(parser.getContext(), warpsPerCTA);
}

LogicalResult MmaEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                      ArrayRef<unsigned> warpsPerCTA) {
  if (warpsPerCTA.size() != 2)
    return emitError() << "#turbo.mma needs warpsPerCTA for 2 dims, got " << warpsPerCTA.size();
  for (unsigned warps : warpsPerCTA)
    if (warps == 0 || warps > TurboDialect::kMaxWarps || !llvm::isPowerOf2_32(warps))
      return emitError() << "#turbo.mma warpsPerCTA entries must be powers of two up to "
                         << TurboDialect::kMaxWarps << ", got " << warps;
  return success();
}

void MmaEncodingAttr::print(AsmPrinter &printer) const {
  printer << "<{warpsPerCTA = ";
  printArray(printer, getWarpsPerCTA());
  printer << "}>";
}

//===----------------------------------------------------------------------===//
// DotOperandEncodingAttr
//===----------------------------------------------------------------------===//

Attribute DotOperandEncodingAttr::parse(AsmParser &parser, Type) {
  DictionaryAttr dict = parseLayoutDict(parser);
  if (!dict)
    return {};
  LayoutFields fields(parser, dict, "dot_operand");
  unsigned opIdx, kWidth;
  Attribute parent;
  if (!fields.getUnsigned("opIdx", opIdx) || !fields.getAttr("parent", parent) ||
      !fields.getUnsigned("kWidth", kWidth))
    return {};
  return DotOperandEncodingAttr::get(parser.getContext(), opIdx, parent, kWidth);
}

void DotOperandEncodingAttr::print(AsmPrinter &printer) const {
  printer << "<{opIdx = " << getOpIdx() << ", parent = " << getParent()
          << ", kWidth = " << getKWidth() << "}>";
}
