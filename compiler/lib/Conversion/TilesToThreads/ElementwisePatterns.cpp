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
} // namespace

void lowering::populateElementwisePatterns(TileTypeConverter &converter,
                                           RewritePatternSet &patterns) {
  patterns.add<ConstantPattern>(converter, patterns.getContext(), /*benefit=*/2);
  patterns.add<ElementwisePattern>(converter, patterns.getContext());
}
