//===- QuantizeRowsKernel.cpp - quantize_rows as turbo IR -----------------===//
//
//   program p quantizes rows [p * BR, p * BR + BR):
//     x_tile  : BR x W (f16|bf16)  registers   <- x rows
//     q_tile  : BR x W i8          registers   -> q rows
//     s_rows  : BR f32             registers   -> scales
//   W is COLS rounded up to a power of two; the column bound masks the rest
//   (loaded as 0, which leaves every row's absolute maximum unchanged).
//
//===----------------------------------------------------------------------===//
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

OwningOpRef<ModuleOp> buildQuantizeRows(MLIRContext &context, const KernelConfig &config,
                                        std::string_view target) {
  const int64_t cols = config.get("cols");
  const int64_t width = paddedHeadDim(cols);
  const int64_t blockRows = config.get("block_rows");
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);

  Type dtype = dtypeOf(b, config);
  Type i32 = b.getI32Type();
  func::FuncOp kernel = createKernel(
      b, *module, "quantize_rows",
      {{PtrType::get(dtype), 16},              // x
       {PtrType::get(b.getI8Type()), 16},      // q
       {PtrType::get(b.getF32Type()), 4},      // scales
       {i32},                                  // rows
       {i32, 8},                               // x_stride (elements)
       {i32, 16}},                             // q_stride (bytes)
      config, target, config.get("num_warps"));
  Value x = kernel.getArgument(0), q = kernel.getArgument(1), scales = kernel.getArgument(2);
  Value rows = kernel.getArgument(3), xStride = kernel.getArgument(4),
        qStride = kernel.getArgument(5);

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
