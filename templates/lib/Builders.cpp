//===- Builders.cpp - kernel scaffolding for the template builders --------===//
#include "turbo/Templates/Builders.h"
#include "turbo/Support/KvCache.h"

#include "turbo/Dialect/TileBuilder.h"
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace turbo::templates {

Type scalarType(OpBuilder &builder, ScalarType type) {
  switch (type) {
  case ScalarType::F16:
    return builder.getF16Type();
  case ScalarType::BF16:
    return builder.getBF16Type();
  case ScalarType::I8:
    return builder.getI8Type();
  case ScalarType::I16:
    return builder.getI16Type();
  case ScalarType::I32:
    return builder.getI32Type();
  case ScalarType::I64:
    return builder.getI64Type();
  case ScalarType::F32:
    return builder.getF32Type();
  }
  llvm_unreachable("unknown scalar type");
}

Type argumentType(OpBuilder &builder, const ArgSpec &spec) {
  Type type = scalarType(builder, spec.type);
  return spec.pointer ? Type(mlir::turbo::PtrType::get(type)) : type;
}

Type elementType(OpBuilder &builder, DType dtype) {
  return scalarType(builder, scalarTypeOf(dtype));
}

func::FuncOp createKernel(OpBuilder &builder, ModuleOp module, std::string_view name,
                          const std::vector<ArgSpec> &args,
                          const std::vector<std::pair<std::string_view, int64_t>> &configValues,
                          std::string_view target, int64_t numWarps) {
  MLIRContext *context = module.getContext();
  module->setAttr(mlir::turbo::TurboDialect::kTargetAttrName,
                  builder.getStringAttr(llvm::StringRef(target.data(), target.size())));
  module->setAttr(mlir::turbo::TurboDialect::kNumWarpsAttrName,
                  builder.getI32IntegerAttr(int32_t(numWarps)));
  SmallVector<Type> types;
  for (const ArgSpec &arg : args)
    types.push_back(argumentType(builder, arg));
  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(builder, module.getLoc(),
                                   llvm::StringRef(name.data(), name.size()),
                                   builder.getFunctionType(types, {}));
  func->setAttr(mlir::turbo::TurboDialect::kKernelAttrName, builder.getUnitAttr());
  SmallVector<NamedAttribute> params;
  for (const auto &[key, value] : configValues)
    params.push_back(builder.getNamedAttr(llvm::StringRef(key.data(), key.size()),
                                          builder.getI64IntegerAttr(value)));
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

SequenceSpan sequenceSpan(OpBuilder &b, Location loc, Value cuSeqlens, Value packedTokens,
                          Value batch, Value maxLength) {
  using namespace mlir::turbo;
  Type i32 = b.getI32Type();
  TileBuilder tb(b, loc);
  Value isPacked = tb.cmpi(arith::CmpIPredicate::ne, packedTokens, tb.i32(0));
  auto span = scf::IfOp::create(
      b, loc, isPacked,
      [&](OpBuilder &pb, Location) {
        TileBuilder t(pb, loc);
        // cu_seqlens[batch], cu_seqlens[batch + 1]: offsets never decrease,
        // so the pair's min and max are the start and the end; offsets the
        // caller got wrong stay inside the tensor.
        Value pair = LoadOp::create(pb, loc, TileBuilder::tile({2}, i32), cuSeqlens,
                                    ValueRange{batch}, ValueRange{},
                                    ValueRange{t.add(batch, t.i32(2))}, nullptr);
        auto clamp = [&](Value x, Value low, Value high) -> Value {
          return arith::MinSIOp::create(pb, loc, arith::MaxSIOp::create(pb, loc, x, low), high);
        };
        Value start = clamp(t.reduce(ReduceKind::Min, pair, 0), t.i32(0), packedTokens);
        Value end = clamp(t.reduce(ReduceKind::Max, pair, 0), start, packedTokens);
        Value length =
            arith::MinSIOp::create(pb, loc, arith::SubIOp::create(pb, loc, end, start), maxLength);
        scf::YieldOp::create(pb, loc, ValueRange{start, length});
      },
      [&](OpBuilder &eb, Location) {
        scf::YieldOp::create(eb, loc, ValueRange{TileBuilder(eb, loc).i32(0), maxLength});
      });
  return {span.getResult(0), span.getResult(1)};
}

Value headBase(OpBuilder &b, Location loc, Value base, Value batch, Value batchStride,
               Value head, Value headStride) {
  Type i64 = b.getI64Type();
  Value offset = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i64, batch), batchStride),
      arith::MulIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i64, head), headStride));
  return mlir::turbo::AddPtrOp::create(b, loc, base, offset);
}

Value tokenBase(OpBuilder &b, Location loc, Value base, Value token, Value rowStride) {
  Type i64 = b.getI64Type();
  auto wide = [&](Value v) {
    return v.getType() == i64 ? v : arith::ExtSIOp::create(b, loc, i64, v).getResult();
  };
  return mlir::turbo::AddPtrOp::create(
      b, loc, base, arith::MulIOp::create(b, loc, wide(token), wide(rowStride)));
}

StagingSlot stagingSlot(OpBuilder &b, Location loc, Value sink, Value window, int64_t pageSize,
                        int64_t headDim, KvBits widths) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  StagingSlot slot;
  slot.sink = sink;
  slot.window = window;
  slot.pageSize = pageSize;
  slot.rows = arith::ExtSIOp::create(
      b, loc, b.getI64Type(), t.mul(t.add(t.add(sink, window), t.i32(1)), t.i32(pageSize)));
  slot.codeBytes = kv::stagingCodeBytes(widths);
  slot.codeType = b.getIntegerType(unsigned(8 * slot.codeBytes));
  const kv::StagingRowLayout perRow = kv::stagingRowLayout(headDim, slot.codeBytes);
  slot.vCodes = t.mul(slot.rows, t.i64(perRow.vCodes));
  slot.kScale = t.mul(slot.rows, t.i64(perRow.kScale));
  slot.vScale = t.mul(slot.rows, t.i64(perRow.vScale));
  slot.headBytes = t.mul(slot.rows, t.i64(perRow.rowBytes));
  return slot;
}

Value stagingCodesAt(OpBuilder &b, Location loc, const StagingSlot &slot, Value staging,
                     Value bytes) {
  Value index = slot.codeBytes == 1 ? bytes : alignedElementIndex(b, loc, bytes, slot.codeBytes);
  return mlir::turbo::AddPtrOp::create(b, loc, staging, index);
}

std::pair<Value, Value> stageTokenRows(OpBuilder &b, Location loc, const StagingSlot &slot,
                                       Value x) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  Type codeType = slot.codeType;
  auto floats = cast<RankedTensorType>(x.getType());
  const int64_t rows = floats.getDimSize(0);
  auto perRow = TileBuilder::tile({rows}, b.getF32Type());
  auto codesType = TileBuilder::withElementType(floats, codeType);
  if (slot.codeBytes == 2) {
    auto quantize = QuantizeOp::create(b, loc, codesType, perRow, Type(), x, 16,
                                       Granularity::Row, /*asymmetric=*/false);
    return {quantize.getResult(), quantize.getScale()};
  }
  // i8, square-root companded: |code| = roundeven(127 * sqrt(|x| * (1 / amax))).
  Value amax = t.reduce(ReduceKind::AbsMax, x, 1);
  Value positive = t.cmpf(arith::CmpFPredicate::OGT, amax, t.constFloat(0.0, perRow));
  Value inverse = t.select(positive, t.div(t.constFloat(1.0, perRow), amax),
                           t.constFloat(0.0, perRow));
  Value magnitude = t.mul(
      math::SqrtOp::create(b, loc,
                           t.mul(math::AbsFOp::create(b, loc, x), t.broadcastRows(inverse, floats))),
      t.constFloat(127.0, floats));
  magnitude = t.min(t.roundEven(magnitude), t.constFloat(127.0, floats));
  Value negative = t.cmpf(arith::CmpFPredicate::OLT, x, t.constFloat(0.0, floats));
  Value code = t.select(negative, t.sub(t.constFloat(0.0, floats), magnitude), magnitude);
  Value scale = t.div(amax, t.constFloat(127.0 * 127.0, perRow));
  return {t.castTo(code, codeType), scale};
}

Value stagedCodeValues(OpBuilder &b, Location loc, Value codes, Value scales) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  auto floats =
      TileBuilder::withElementType(cast<RankedTensorType>(codes.getType()), b.getF32Type());
  Value c = t.castTo(codes, b.getF32Type());
  if (cast<RankedTensorType>(codes.getType()).getElementTypeBitWidth() == 8)
    c = t.mul(c, math::AbsFOp::create(b, loc, c)); // exact: |code * |code|| <= 127^2
  return t.mul(c, t.broadcastRows(scales, floats));
}

Value stagingPageRow(OpBuilder &b, Location loc, const StagingSlot &slot, Value page) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  Value isSink = t.cmpi(arith::CmpIPredicate::slt, page, slot.sink);
  Value ring =
      arith::RemSIOp::create(b, loc, t.sub(page, slot.sink), t.add(slot.window, t.i32(1)));
  return t.mul(t.select(isSink, page, t.add(slot.sink, ring)), t.i32(slot.pageSize));
}

Value powerOfTwo(OpBuilder &b, Location loc, Value exponent) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  auto floats = cast<RankedTensorType>(exponent.getType());
  auto ints = TileBuilder::withElementType(floats, b.getI32Type());
  Value clamped = arith::MaxNumFOp::create(b, loc, exponent, t.constFloat(-127.0, floats));
  Value biased = t.add(t.castTo(clamped, b.getI32Type()), t.constInt(127, ints));
  Value bits = arith::ShLIOp::create(b, loc, biased, t.constInt(23, ints));
  return arith::BitcastOp::create(b, loc, floats, bits).getResult();
}

Value loadScalar(OpBuilder &b, Location loc, Value base, Value index) {
  using namespace mlir::turbo;
  TileBuilder t(b, loc);
  Value one = LoadOp::create(b, loc, TileBuilder::tile({1}, b.getI32Type()), base,
                             ValueRange{index}, ValueRange{}, ValueRange{}, nullptr);
  return t.reduce(ReduceKind::Max, one, 0);
}

Value alignedElementIndex(OpBuilder &b, Location loc, Value bytes, int64_t elementBytes) {
  mlir::turbo::TileBuilder t(b, loc);
  Value units = arith::ShRUIOp::create(b, loc, bytes, t.i64(4));
  return arith::ShLIOp::create(b, loc, units, t.i64(4 - llvm::Log2_64(elementBytes)));
}

void setStatusWord(OpBuilder &b, Location loc, Value status, Value condition, int word) {
  scf::IfOp::create(b, loc, condition, [&](OpBuilder &ib, Location) {
    mlir::turbo::TileBuilder t(ib, loc);
    mlir::turbo::StoreOp::create(ib, loc, t.constInt(1, mlir::turbo::TileBuilder::tile({1}, ib.getI32Type())),
                                 status, ValueRange{t.i32(word)}, ValueRange{}, ValueRange{});
    scf::YieldOp::create(ib, loc);
  });
}

} // namespace turbo::templates
