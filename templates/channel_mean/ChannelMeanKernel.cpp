//===- ChannelMeanKernel.cpp - channel_mean as turbo IR -------------------===//
//
//   program (h, b, g), rows of sequence b (all seq rows; packed: its span),
//   channels c0 = g * W .. c0 + W:
//     acc : BR x W f32 registers, 0
//     for each block of BR rows:
//       x_tile : BR x W  dtype -> f32     registers
//       acc   += x_tile                   (no communication in the loop)
//     sum = column sums of acc (W f32)
//     mean = sum * (1 / max(rows, 1))  -> mean[(b * heads + h) * head_dim + c0 ...]
//   W = block_cols, at most head_dim rounded up to a power of two (masked
//   past head_dim). Groups of channels, not of rows: each channel's sum
//   stays in one program (no second pass), and a long sequence of few heads
//   still spreads over head_dim / W times more programs.
//
//===----------------------------------------------------------------------===//
#include "channel_mean/ChannelMean.h"
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/TensorChecks.h"

#include "turbo/Dialect/TileBuilder.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using channel_mean::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<ChannelMean>(MLIRContext &context,
                                               const ChannelMean::Config &config,
                                               std::string_view target) {
  const int64_t headDim = config.headDim;
  const int64_t W = std::min(paddedHeadDim(headDim), config.blockCols);
  const int64_t BR = config.blockRows;
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = elementType(b, config.dtype);
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  const Signature<Arg> signature = ChannelMean::signature(config);
  KernelArguments<Arg> arg(createKernel<ChannelMean>(b, *module, config, signature, target),
                           signature);
  Value x = arg[Arg::X], mean = arg[Arg::Mean];
  TileBuilder tb(b, loc);
  Value head = ProgramIdOp::create(b, loc, i32, 0), batch = ProgramIdOp::create(b, loc, i32, 1),
        group = ProgramIdOp::create(b, loc, i32, 2);
  SequenceSpan span = sequenceSpan(b, loc, arg[Arg::CuSeqlens], arg[Arg::Packed], batch,
                                   arg[Arg::Seq]);
  Value seq = span.length;
  Value base = tokenBase(
      b, loc, headBase(b, loc, x, batch, arg[Arg::XBatch], head, arg[Arg::XHead]), span.start,
      arg[Arg::XRow]);
  Value zero = tb.i32(0), width = tb.i32(headDim), c0 = tb.mul(group, tb.i32(W));
  auto columns = TileBuilder::tile({W}, f32);
  // Each thread adds up its own elements of every tile; the one reduction
  // across threads (and warps) comes after the loop. (Reducing every tile
  // cost a shared-memory round trip and barriers per step: the kernel ran
  // at a few percent of the memory bandwidth.)
  // The next tile's loads go out before this one is added: two tiles in
  // flight per program, where one left each program waiting on the memory
  // latency every step (the last step loads a tile past the end: masked, no
  // memory access).
  auto accumulator = TileBuilder::tile({BR, W}, f32);
  auto loadRows = [&](OpBuilder &lb, Value row0) -> Value {
    return LoadOp::create(lb, loc, TileBuilder::tile({BR, W}, dtype), base, ValueRange{row0, c0},
                          ValueRange{arg[Arg::XRow]}, ValueRange{seq, width}, nullptr);
  };
  auto loop = scf::ForOp::create(
      b, loc, zero, seq, tb.i32(BR), ValueRange{tb.constFloat(0.0, accumulator), loadRows(b, zero)},
      [&](OpBuilder &lb, Location, Value row0, ValueRange carried) {
        TileBuilder t(lb, loc);
        Value next = loadRows(lb, t.add(row0, t.i32(BR)));
        scf::YieldOp::create(lb, loc,
                             ValueRange{t.add(carried[0], t.castTo(carried[1], f32)), next});
      });
  Value sums = tb.reduce(ReduceKind::Sum, loop.getResult(0), 0);
  // An empty sequence (packed) gets mean 0, not 0/0.
  Value inverse = tb.div(tb.f32(1.0),
                         tb.castTo(arith::MaxSIOp::create(b, loc, seq, tb.i32(1)), f32));
  Value result = tb.mul(sums, tb.splat(inverse, columns));
  Value heads = NumProgramsOp::create(b, loc, i32, 0);
  Value row = tb.add(tb.mul(batch, heads), head);
  Value outBase = AddPtrOp::create(
      b, loc, mean, tb.mul(arith::ExtUIOp::create(b, loc, i64, row), tb.i64(headDim)));
  StoreOp::create(b, loc, result, outBase, ValueRange{c0}, ValueRange{}, ValueRange{width});
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
