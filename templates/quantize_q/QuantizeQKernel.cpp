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
#include "quantize_q/QuantizeQ.h"
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/TensorChecks.h"

#include "turbo/Dialect/TileBuilder.h"


using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using quantize_q::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<QuantizeQ>(MLIRContext &context,
                                             const QuantizeQ::Config &config,
                                             std::string_view target) {
  const int64_t headDim = config.headDim;
  const int64_t D = paddedHeadDim(headDim);
  const int64_t BM = config.blockM;
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = elementType(b, config.dtype);
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  const Signature<Arg> signature = QuantizeQ::signature(config);
  KernelArguments<Arg> arg(createKernel<QuantizeQ>(b, *module, config, signature, target),
                           signature);
  TileBuilder tb(b, loc);
  Value block = ProgramIdOp::create(b, loc, i32, 0), head = ProgramIdOp::create(b, loc, i32, 1),
        batch = ProgramIdOp::create(b, loc, i32, 2);
  SequenceSpan span = sequenceSpan(b, loc, arg[Arg::CuSeqlens], arg[Arg::Packed], batch, arg[Arg::Seq]);
  Value seq = span.length;
  Value m0 = tb.mul(block, tb.i32(BM));
  Value zero = tb.i32(0), width = tb.i32(headDim);
  auto headStart = [&](Value pointer, Value batchStride, Value headStride) {
    return headBase(b, loc, pointer, batch, batchStride, head, headStride);
  };

  // q_tile : BM x D dtype, zero past the sequence and past head_dim.
  Value qBase = tokenBase(b, loc, headStart(arg[Arg::Q], arg[Arg::QBatch], arg[Arg::QHead]), span.start,
                          arg[Arg::QRow]);
  Value qTile = LoadOp::create(b, loc, TileBuilder::tile({BM, D}, dtype), qBase,
                               ValueRange{m0, zero}, ValueRange{arg[Arg::QRow]}, ValueRange{seq, width},
                               nullptr);
  // q8 : BM x D i8, sq : BM f32.
  auto quantized = QuantizeOp::create(b, loc, TileBuilder::tile({BM, D}, i8),
                                      TileBuilder::tile({BM}, f32), Type(), qTile, 8,
                                      Granularity::Row, false);
  Value q8Base = tokenBase(b, loc, headStart(arg[Arg::Q8], arg[Arg::Q8Batch], arg[Arg::Q8Head]),
                           span.start, arg[Arg::Q8Row]);
  StoreOp::create(b, loc, quantized.getResult(), q8Base, ValueRange{m0, zero},
                  ValueRange{arg[Arg::Q8Row]}, ValueRange{seq, width});
  Value scaleBase = AddPtrOp::create(b, loc, headStart(arg[Arg::QScale], arg[Arg::ScaleBatch], arg[Arg::ScaleHead]),
                                     arith::ExtSIOp::create(b, loc, i64, span.start));
  StoreOp::create(b, loc, quantized.getScale(), scaleBase, ValueRange{m0}, ValueRange{},
                  ValueRange{seq});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
