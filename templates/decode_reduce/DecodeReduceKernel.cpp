//===- DecodeReduceKernel.cpp - decode_reduce as turbo IR -----------------===//
//
//   program (kv head h, sequence b) of H x B, over the splits s:
//     lse_s  : BM      f32  registers  <- partial[b, h, s] after the sums
//     o_s    : BM x D  f32  registers  <- partial[b, h, s]
//     top    : BM      f32  the running max of lse (-inf: none yet)
//     weight : BM      f32  sum of 2^(lse_s - top)
//     sum    : BM x D  f32  sum of 2^(lse_s - top) o_s
//   O = sum / weight (0 where weight is 0) -> rows < `rows` of the output
//
//===----------------------------------------------------------------------===//
#include "decode_reduce/DecodeReduce.h"
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using decode_reduce::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<DecodeReduce>(MLIRContext &context,
                                                const DecodeReduce::Config &config,
                                                std::string_view target) {
  const int64_t D = config.headDim, BM = config.blockRows;
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  const Signature<Arg> signature = DecodeReduce::signature(config);
  KernelArguments<Arg> arg(createKernel<DecodeReduce>(b, *module, config, signature, target),
                           signature);
  TileBuilder tb(b, loc);
  auto wide = [&](Value v) { return arith::ExtUIOp::create(b, loc, i64, v).getResult(); };
  Value head = ProgramIdOp::create(b, loc, i32, 0);
  Value batch = ProgramIdOp::create(b, loc, i32, 1);
  Value heads = NumProgramsOp::create(b, loc, i32, 0);
  Value splits = arg[Arg::Splits];
  const int64_t step = decode_reduce::partialFloats(config);
  Value first = tb.mul(wide(tb.mul(tb.add(tb.mul(batch, heads), head), splits)), tb.i64(step));
  Value partial = AddPtrOp::create(b, loc, arg[Arg::Partial], first);

  auto rowVector = TileBuilder::tile({BM}, f32);
  auto rowsTile = TileBuilder::tile({BM, D}, f32);
  Value zero = tb.i32(0);
  Value minusInf = tb.constFloat(-INFINITY, rowVector);
  auto loop = scf::ForOp::create(
      b, loc, zero, splits, tb.i32(1),
      ValueRange{minusInf, tb.constFloat(0.0, rowVector), tb.constFloat(0.0, rowsTile)},
      [&](OpBuilder &lb, Location, Value s, ValueRange carried) {
        TileBuilder t(lb, loc);
        Value base = AddPtrOp::create(
            lb, loc, partial, t.mul(arith::ExtUIOp::create(lb, loc, i64, s), t.i64(step)));
        Value os = LoadOp::create(lb, loc, rowsTile, base, ValueRange{t.i32(0), t.i32(0)},
                                  ValueRange{t.i32(D)}, ValueRange{}, nullptr);
        Value lse = LoadOp::create(lb, loc, rowVector, base, ValueRange{t.i32(BM * D)},
                                   ValueRange{}, ValueRange{}, nullptr);
        Value top = t.max(carried[0], lse);
        // Counted from 0 while no split has seen a key: 2^(-inf - 0) = 0.
        Value topUse = t.select(t.cmpf(arith::CmpFPredicate::OEQ, top, t.constFloat(-INFINITY, rowVector)),
                                t.constFloat(0.0, rowVector), top);
        Value alpha = math::Exp2Op::create(lb, loc, t.sub(carried[0], topUse));
        Value w = math::Exp2Op::create(lb, loc, t.sub(lse, topUse));
        Value weight = t.add(t.mul(carried[1], alpha), w);
        Value sum = t.add(t.mul(carried[2], t.broadcastRows(alpha, rowsTile)),
                          t.mul(os, t.broadcastRows(w, rowsTile)));
        scf::YieldOp::create(lb, loc, ValueRange{top, weight, sum});
      });
  Value weight = loop.getResult(1), sum = loop.getResult(2);
  Value seen = tb.cmpf(arith::CmpFPredicate::OGT, weight, tb.constFloat(0.0, rowVector));
  Value inverse = tb.select(seen, tb.div(tb.constFloat(1.0, rowVector), weight),
                            tb.constFloat(0.0, rowVector));
  Value out = tb.castTo(tb.mul(sum, tb.broadcastRows(inverse, rowsTile)),
                        elementType(b, config.dtype));
  Value oBase = headBase(b, loc, arg[Arg::O], batch, wide(arg[Arg::OBatch]),
                         tb.mul(head, arg[Arg::Group]), wide(arg[Arg::OHead]));
  StoreOp::create(b, loc, out, oBase, ValueRange{zero, zero}, ValueRange{arg[Arg::ORow]},
                  ValueRange{arg[Arg::Rows], tb.i32(D)});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
