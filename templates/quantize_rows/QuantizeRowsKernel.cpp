//===- QuantizeRowsKernel.cpp - quantize_rows as turbo IR -----------------===//
//
//   program p quantizes rows [p * BR, p * BR + BR):
//     x_tile  : BR x W (f16|bf16)  registers   <- x rows
//     q_tile  : BR x W i8          registers   -> q rows
//     s_rows  : BR f32             registers   -> scales
//   W is cols rounded up to a power of two (paddedHeadDim); the column bound masks the rest
//   (loaded as 0, which leaves every row's absolute maximum unchanged).
//
//===----------------------------------------------------------------------===//
#include "quantize_rows/QuantizeRows.h"
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/TensorChecks.h"

#include "turbo/Dialect/TileBuilder.h"

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using quantize_rows::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<QuantizeRows>(MLIRContext &context,
                                                const QuantizeRows::Config &config,
                                                std::string_view target) {
  const int64_t cols = config.cols;
  const int64_t width = paddedHeadDim(cols);
  const int64_t blockRows = config.blockRows;
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = elementType(b, config.dtype);
  Type i32 = b.getI32Type();
  const Signature<Arg> signature = QuantizeRows::signature(config);
  KernelArguments<Arg> arg(createKernel<QuantizeRows>(b, *module, config, signature, target),
                           signature);
  Value x = arg[Arg::X], q = arg[Arg::Q], scales = arg[Arg::Scales];
  Value rows = arg[Arg::Rows], xStride = arg[Arg::XStride], qStride = arg[Arg::QStride];
  TileBuilder tb(b, loc);
  Value firstRow = arith::MulIOp::create(b, loc, ProgramIdOp::create(b, loc, i32, 0),
                                         tb.i32(blockRows));
  Value zero = tb.i32(0), colBound = tb.i32(cols);

  auto xTileType = TileBuilder::tile({blockRows, width}, dtype);
  Value xTile = LoadOp::create(b, loc, xTileType, x, ValueRange{firstRow, zero},
                               ValueRange{xStride}, ValueRange{rows, colBound}, nullptr);
  auto qTileType = TileBuilder::tile({blockRows, width}, b.getI8Type());
  auto scaleType = TileBuilder::tile({blockRows}, b.getF32Type());
  auto quantize = QuantizeOp::create(b, loc, qTileType, scaleType, /*zero=*/Type(), xTile,
                                     /*bits=*/8, Granularity::Row, /*asymmetric=*/false);
  StoreOp::create(b, loc, quantize.getResult(), q, ValueRange{firstRow, zero},
                  ValueRange{qStride}, ValueRange{rows, colBound});
  StoreOp::create(b, loc, quantize.getScale(), scales, ValueRange{firstRow}, ValueRange{},
                  ValueRange{rows});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
