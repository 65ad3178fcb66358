//===- DecodeReduceKernel.cpp - decode_reduce as turbo IR -----------------===//
//
//   program (kv head h, sequence b, columns c..c+C) of H x B x D/C, over
//   the splits s, G = splits_per_step of them a step (all G loaded before
//   any is used), rows < `rows` only (the others are neither read nor
//   stored):
//     lse_s  : BM x 1  f32  registers  <- partial[b, h, s] after the sums
//                                          (-inf for s past the splits)
//     o_s    : BM x C  f32  registers  <- partial[b, h, s] (s past the
//                                          splits: the last one again)
//     top    : BM x 1  f32  the running max of lse (-inf: none yet)
//     weight : BM x 1  f32  sum of 2^(lse_s - top)
//     sum    : BM x C  f32  sum of 2^(lse_s - top) o_s
//   O = sum / weight (0 where weight is 0) -> rows < `rows` of the output
//
// On sm_90 and up the kernel waits for attention_decode in-kernel
// (turbo.wait_prior_grids) before its first load, so the runtime launches
// it while attention_decode finishes.
//
//===----------------------------------------------------------------------===//
#include "decode_reduce/DecodeReduce.h"
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"
#include "turbo/Support/Targets.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using decode_reduce::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<DecodeReduce>(MLIRContext &context,
                                                const DecodeReduce::Config &config,
                                                std::string_view target) {
  const int64_t D = config.headDim, BM = config.blockRows, C = config.blockCols;
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
  Value column = tb.mul(ProgramIdOp::create(b, loc, i32, 2), tb.i32(int32_t(C)));
  Value splits = arg[Arg::Splits], rows = arg[Arg::Rows];
  const int64_t step = decode_reduce::partialFloats(config);
  Value first = tb.mul(wide(tb.mul(tb.add(tb.mul(batch, heads), head), splits)), tb.i64(step));
  Value partial = AddPtrOp::create(b, loc, arg[Arg::Partial], first);
  // The partials come from attention_decode, which may still be finishing:
  // with the wait in the kernel the runtime launches it programmatically,
  // and what comes before the wait overlaps attention_decode's tail.
  if (::turbo::hasGridDependencyControl(target))
    WaitPriorGridsOp::create(b, loc);

  auto rowsTile = TileBuilder::tile({BM, C}, f32);
  // Per-row values as BM x 1 tiles: their layout then follows the BM x C
  // tiles they are broadcast over (a 1-D vector's would need an exchange
  // through shared memory per split).
  auto rowVector = TileBuilder::tile({BM, 1}, f32);
  auto overColumns = [&](TileBuilder &t, Value perRow) -> Value {
    return BroadcastOp::create(t.builder(), loc, rowsTile, perRow);
  };
  Value zero = tb.i32(0);
  Value minusInf = tb.constFloat(-INFINITY, rowVector);
  const int64_t G = config.splitsPerStep;
  auto loop = scf::ForOp::create(
      b, loc, zero, splits, tb.i32(int32_t(G)),
      ValueRange{minusInf, tb.constFloat(0.0, rowVector), tb.constFloat(0.0, rowsTile)},
      [&](OpBuilder &lb, Location, Value s, ValueRange carried) {
        TileBuilder t(lb, loc);
        SmallVector<Value> os, lse;
        for (int64_t j = 0; j < G; ++j) {
          // Split s exists (the loop runs while s < splits); s + j may not.
          Value index = s, inside;
          if (j > 0) {
            index = t.add(s, t.i32(int32_t(j)));
            inside = t.cmpi(arith::CmpIPredicate::slt, index, splits);
            index = t.select(inside, index, t.sub(splits, t.i32(1)));
          }
          Value base = AddPtrOp::create(
              lb, loc, partial, t.mul(arith::ExtUIOp::create(lb, loc, i64, index), t.i64(step)));
          os.push_back(LoadOp::create(lb, loc, rowsTile, base, ValueRange{t.i32(0), column},
                                      ValueRange{t.i32(D)}, ValueRange{rows, t.i32(D)},
                                      nullptr));
          Value l = LoadOp::create(lb, loc, rowVector, base, ValueRange{t.i32(BM * D), t.i32(0)},
                                   ValueRange{t.i32(1)},
                                   ValueRange{t.add(t.i32(BM * D), rows), t.i32(1)}, nullptr);
          if (inside)
            l = t.select(t.splat(inside, TileBuilder::tile({BM, 1}, b.getI1Type())), l,
                         t.constFloat(-INFINITY, rowVector));
          lse.push_back(l);
        }
        Value top = carried[0];
        for (Value l : lse)
          top = t.max(top, l);
        // Counted from 0 while no split has seen a key: 2^(-inf - 0) = 0.
        Value topUse = t.select(t.cmpf(arith::CmpFPredicate::OEQ, top, t.constFloat(-INFINITY, rowVector)),
                                t.constFloat(0.0, rowVector), top);
        Value alpha = math::Exp2Op::create(lb, loc, t.sub(carried[0], topUse));
        Value weight = t.mul(carried[1], alpha);
        Value sum = t.mul(carried[2], overColumns(t, alpha));
        for (int64_t j = 0; j < G; ++j) {
          Value w = math::Exp2Op::create(lb, loc, t.sub(lse[j], topUse));
          weight = t.add(weight, w);
          sum = t.add(sum, t.mul(os[j], overColumns(t, w)));
        }
        scf::YieldOp::create(lb, loc, ValueRange{top, weight, sum});
      });
  Value weight = loop.getResult(1), sum = loop.getResult(2);
  Value seen = tb.cmpf(arith::CmpFPredicate::OGT, weight, tb.constFloat(0.0, rowVector));
  Value inverse = tb.select(seen, tb.div(tb.constFloat(1.0, rowVector), weight),
                            tb.constFloat(0.0, rowVector));
  Value out = tb.castTo(tb.mul(sum, overColumns(tb, inverse)),
                        elementType(b, config.dtype));
  Value oBase = headBase(b, loc, arg[Arg::O], batch, wide(arg[Arg::OBatch]),
                         tb.mul(head, arg[Arg::Group]), wide(arg[Arg::OHead]));
  StoreOp::create(b, loc, out, oBase, ValueRange{zero, column}, ValueRange{arg[Arg::ORow]},
                  ValueRange{rows, tb.i32(D)});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
