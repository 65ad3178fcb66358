//===- ElementwisePatterns.cpp - arith/math on tiles, register by register ===//
//
// An elementwise op on tiles becomes the same op on each register: all tile
// operands share the result's layout (the layout pass made sure), so
// register i of every operand is the same element. Scalar operands (a
// select's condition, say) are used as they are. Splat constants become one
// scalar constant.
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

bool hasTiles(Operation *op) {
  auto isTile = [](Type t) { return isa<RankedTensorType>(t); };
  return llvm::any_of(op->getOperandTypes(), isTile) ||
         llvm::any_of(op->getResultTypes(), isTile);
}

struct ConstantPattern : OpConversionPattern<arith::ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(arith::ConstantOp op, OneToNOpAdaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto tile = dyn_cast<RankedTensorType>(op.getType());
    auto splat = dyn_cast<SplatElementsAttr>(op.getValue());
    if (!tile)
      return failure();
    if (!splat)
      return rewriter.notifyMatchFailure(op, "only splat tile constants are supported");
    Value scalar = arith::ConstantOp::create(rewriter, op.getLoc(),
                                             splat.getSplatValue<TypedAttr>());
    SmallVector<Value> registers(layoutOf(tile).getNumRegs(), scalar);
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, op.getLoc(), registers, tile)});
    return success();
  }
};

/// f16 arithmetic that PTX has for pairs (add, sub, mul, fma, neg, min/max,
/// and f32 -> f16 conversion): two registers per instruction, the same
/// rounding per element as one at a time.
bool isHalfPairable(Operation *op) {
  if (op->getNumResults() != 1)
    return false;
  auto result = cast<RankedTensorType>(op->getResult(0).getType());
  if (!result.getElementType().isF16())
    return false;
  if (isa<arith::TruncFOp>(op))
    return cast<RankedTensorType>(op->getOperand(0).getType()).getElementType().isF32();
  return isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::NegFOp, arith::MaxNumFOp,
             arith::MinNumFOp, arith::MaximumFOp, arith::MinimumFOp, math::FmaOp>(op) &&
         llvm::all_of(op->getOperandTypes(), [](Type t) {
           auto tile = dyn_cast<RankedTensorType>(t);
           return tile ? tile.getElementType().isF16() : t.isF16();
         });
}

/// `op` on registers (2i, 2i+1) of every operand as vector<2xf16> values
/// (LLVM selects the f16x2 instructions); scalar operands are splat.
void emitInPairs(ConversionPatternRewriter &rewriter, Operation *op,
                 ArrayRef<SmallVector<Value>> inputs, unsigned numRegs,
                 SmallVectorImpl<Value> &results) {
  Location loc = op->getLoc();
  auto pairOf = [&](Value a, Value b) {
    auto type = VectorType::get({2}, a.getType());
    Value v = LLVM::PoisonOp::create(rewriter, loc, type);
    v = LLVM::InsertElementOp::create(rewriter, loc, v, a, constI32(rewriter, loc, 0));
    return LLVM::InsertElementOp::create(rewriter, loc, v, b, constI32(rewriter, loc, 1))
        .getResult();
  };
  auto resultType = VectorType::get({2}, rewriter.getF16Type());
  for (unsigned reg = 0; reg < numRegs; reg += 2) {
    OperationState state(loc, op->getName());
    for (auto [original, elements] : llvm::zip(op->getOperands(), inputs)) {
      bool tile = isa<RankedTensorType>(original.getType());
      state.addOperands(tile ? pairOf(elements[reg], elements[reg + 1])
                             : pairOf(elements.front(), elements.front()));
    }
    state.addTypes(resultType);
    state.addAttributes(op->getAttrs());
    Value pair = rewriter.create(state)->getResult(0);
    for (unsigned i = 0; i < 2; ++i)
      results.push_back(LLVM::ExtractElementOp::create(rewriter, loc, pair, constI32(rewriter, loc, i)));
  }
}

struct ElementwisePattern : ConversionPattern {
  ElementwisePattern(TypeConverter &converter, MLIRContext *context)
      : ConversionPattern(converter, MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *op, ArrayRef<ValueRange> operands,
                                ConversionPatternRewriter &rewriter) const override {
    if (isa<arith::ConstantOp>(op) || !hasTiles(op) ||
        !isa<arith::ArithDialect, math::MathDialect>(op->getDialect()))
      return failure();
    if (op->getNumRegions() != 0 || op->getNumResults() == 0)
      return failure();
    auto resultTile = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!resultTile)
      return rewriter.notifyMatchFailure(op, "tile operands with a scalar result");
    unsigned numRegs = layoutOf(resultTile).getNumRegs();
    SmallVector<SmallVector<Value>> inputs;
    for (auto [original, converted] : llvm::zip(op->getOperands(), operands)) {
      if (auto tile = dyn_cast<RankedTensorType>(original.getType()))
        inputs.push_back(elementsOf(rewriter, op->getLoc(), converted, tile));
      else
        inputs.push_back({converted.front()});
    }

    SmallVector<SmallVector<Value>> results(op->getNumResults());
    if (numRegs % 2 == 0 && isHalfPairable(op)) {
      emitInPairs(rewriter, op, inputs, numRegs, results[0]);
      results[0] = packElements(rewriter, op->getLoc(), results[0], resultTile);
      rewriter.replaceOpWithMultiple(op, std::move(results));
      return success();
    }
    for (unsigned reg = 0; reg < numRegs; ++reg) {
      OperationState state(op->getLoc(), op->getName());
      for (auto [original, elements] : llvm::zip(op->getOperands(), inputs))
        state.addOperands(isa<RankedTensorType>(original.getType()) ? elements[reg]
                                                                   : elements.front());
      for (Type type : op->getResultTypes())
        state.addTypes(cast<RankedTensorType>(type).getElementType());
      state.addAttributes(op->getAttrs());
      Operation *scalar = rewriter.create(state);
      for (auto [i, value] : llvm::enumerate(scalar->getResults()))
        results[i].push_back(value);
    }
    for (auto [i, type] : llvm::enumerate(op->getResultTypes()))
      results[i] =
          packElements(rewriter, op->getLoc(), results[i], cast<RankedTensorType>(type));
    rewriter.replaceOpWithMultiple(op, std::move(results));
    return success();
  }
};
/// fptosi(roundeven(x)) from f32: one cvt.rni.s32.f32 per register instead
/// of cvt.rni.f32.f32 and a truncating conversion (the narrower result is
/// the low bits, as fptosi's would be for values it can represent).
struct RoundToIntegerPattern : OpConversionPattern<arith::FPToSIOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(arith::FPToSIOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    auto source = dyn_cast<RankedTensorType>(op.getIn().getType());
    auto result = dyn_cast<RankedTensorType>(op.getType());
    if (!source || !result || !source.getElementType().isF32() ||
        result.getElementType().getIntOrFloatBitWidth() > 32 ||
        !op.getIn().getDefiningOp<math::RoundEvenOp>())
      return failure();
    Location loc = op.getLoc();
    SmallVector<Value> elements = elementsOf(rewriter, loc, adaptor.getIn(), source);
    SmallVector<math::RoundEvenOp> rounded;
    for (Value element : elements) {
      auto round = element.getDefiningOp<math::RoundEvenOp>();
      if (!round)
        return rewriter.notifyMatchFailure(op, "registers not from a roundeven");
      rounded.push_back(round);
    }
    Type i32 = rewriter.getI32Type(), elementType = result.getElementType();
    SmallVector<Value> integers;
    for (math::RoundEvenOp round : rounded) {
      Value integer = LLVM::CallIntrinsicOp::create(rewriter, loc, i32,
                                                    rewriter.getStringAttr("llvm.nvvm.f2i.rn"),
                                                    ValueRange{round.getOperand()})
                          .getResult(0);
      if (elementType != i32)
        integer = arith::TruncIOp::create(rewriter, loc, elementType, integer);
      integers.push_back(integer);
    }
    rewriter.replaceOpWithMultiple(op, {packElements(rewriter, loc, integers, result)});
    return success();
  }
};
} // namespace

void lowering::populateElementwisePatterns(TileTypeConverter &converter,
                                           RewritePatternSet &patterns) {
  patterns.add<ConstantPattern, RoundToIntegerPattern>(converter, patterns.getContext(),
                                                      /*benefit=*/2);
  patterns.add<ElementwisePattern>(converter, patterns.getContext());
}
