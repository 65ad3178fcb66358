//===- QuantizeQKernel.cpp - quantize_q as turbo IR -----------------------===//
//
//   program (blk, h, b), tokens m0 = blk * BM .. m0 + BM of sequence b
//   (packed: counted from its first token):
//     q_tile : BM x D  dtype                registers   <- Q rows
//     q8, sq : BM x D  i8, BM f32 (per token) registers -> q8 rows, q_scale
//   D is head_dim rounded up to a power of two (masked past head_dim). The
//   same quantize op as attention_prefill's, so the same codes and scales.
//
//===----------------------------------------------------------------------===//
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/QuantizeQ.h"

#include "turbo/Dialect/TileBuilder.h"


using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

OwningOpRef<ModuleOp> buildQuantizeQ(MLIRContext &context, const KernelConfig &config,
                                     std::string_view target) {
  const int64_t headDim = config.get("head_dim");
  const int64_t D = paddedHeadDim(headDim);
  const int64_t BM = config.get("block_m");
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = dtypeOf(b, config);
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  func::FuncOp kernel = createKernel(
      b, *module, "quantize_q",
      {{PtrType::get(dtype), 16}, {PtrType::get(i8), 16}, {PtrType::get(f32), 4}, {i32},
       {i64, 8}, {i64, 8}, {i32, 8}, {i64, 16}, {i64, 16}, {i32, 16}, {i64}, {i64},
       {PtrType::get(i32), 4}, {i32}},
      config, target, config.get("num_warps"));
  auto arg = [&](unsigned i) { return kernel.getArgument(i); };
  TileBuilder tb(b, loc);
  Value block = ProgramIdOp::create(b, loc, i32, 0), head = ProgramIdOp::create(b, loc, i32, 1),
        batch = ProgramIdOp::create(b, loc, i32, 2);
  SequenceSpan span = sequenceSpan(b, loc, arg(12), arg(13), batch, arg(3));
  Value seq = span.length;
  Value m0 = tb.mul(block, tb.i32(BM));
  Value zero = tb.i32(0), width = tb.i32(headDim);
  auto headStart = [&](Value pointer, Value batchStride, Value headStride) {
    return headBase(b, loc, pointer, batch, batchStride, head, headStride);
  };

  // q_tile : BM x D dtype, zero past the sequence and past head_dim.
  Value qBase = tokenBase(b, loc, headStart(arg(0), arg(4), arg(5)), span.start, arg(6));
  Value qTile = LoadOp::create(b, loc, TileBuilder::tile({BM, D}, dtype), qBase,
                               ValueRange{m0, zero}, ValueRange{arg(6)}, ValueRange{seq, width},
                               nullptr);
  // q8 : BM x D i8, sq : BM f32.
  auto quantized = QuantizeOp::create(b, loc, TileBuilder::tile({BM, D}, i8),
                                      TileBuilder::tile({BM}, f32), Type(), qTile, 8,
                                      Granularity::Row, false);
  Value q8Base = tokenBase(b, loc, headStart(arg(1), arg(7), arg(8)), span.start, arg(9));
  StoreOp::create(b, loc, quantized.getResult(), q8Base, ValueRange{m0, zero},
                  ValueRange{arg(9)}, ValueRange{seq, width});
  Value scaleBase = AddPtrOp::create(b, loc, headStart(arg(2), arg(10), arg(11)),
                                     arith::ExtSIOp::create(b, loc, i64, span.start));
  StoreOp::create(b, loc, quantized.getScale(), scaleBase, ValueRange{m0}, ValueRange{},
                  ValueRange{seq});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
