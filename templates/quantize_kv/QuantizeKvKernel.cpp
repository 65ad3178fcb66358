//===- QuantizeKvKernel.cpp - quantize_kv as turbo IR ---------------------===//
//
//   programs (p, h, b) of sequence b (packed: tokens counted from its first;
//   rows past its length read as 0), p < kPrograms: K of tokens
//   k0 = p * KT .. k0 + KT; the others V of the block of tokens
//   n0 .. n0 + BN and channels c0 .. c0 + VC (ProgramSplit, QuantizeKv.h):
//     k_tile : KT x D   dtype -> f32, minus mu (k_smooth)   registers
//     k8, sk : KT x D   i8, KT f32 (per token)             -> workspace
//              (rows past the sequence too, as zeros: the attention
//              kernel reads whole blocks unchecked)
//     v_tile : BN x VC  dtype
//     v8, sv : BN x VC  i8, VC f32 (per channel)
//     v8t    : VC x BN  i8 (transposed)                    -> workspace
//              (v_format=half: VC x BN dtype, V transposed, no scales)
//   D is head_dim rounded up to a power of two (masked past head_dim).
//   The same steps as attention_prefill's in-loop quantization.
//
//===----------------------------------------------------------------------===//
#include "quantize_kv/QuantizeKv.h"
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/TensorChecks.h"

#include "turbo/Dialect/TileBuilder.h"

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using quantize_kv::Arg;

template <>
OwningOpRef<ModuleOp> buildKernel<QuantizeKv>(MLIRContext &context,
                                              const QuantizeKv::Config &config,
                                              std::string_view target) {
  const int64_t headDim = config.headDim;
  const int64_t D = paddedHeadDim(headDim);
  const int64_t BN = config.blockN;
  const int64_t rowBytes = quantize_kv::k8RowBytes(headDim);
  const bool smoothK = config.kSmooth;
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = elementType(b, config.dtype);
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  const Signature<Arg> signature = QuantizeKv::signature(config);
  KernelArguments<Arg> arg(createKernel<QuantizeKv>(b, *module, config, signature, target),
                           signature);
  TileBuilder tb(b, loc);
  // K's programs first, then V's: short programs instead of one that
  // loads V only after K is stored (H200, 16k tokens: 85 -> 80 us at head
  // dim 128, 86 -> 89 at 64), each at most tile_rows x D elements.
  const quantize_kv::ProgramSplit split =
      quantize_kv::programSplit(headDim, BN, config.tileRows);
  const int64_t KT = split.kTokens, VC = split.vChannels;
  Value program = ProgramIdOp::create(b, loc, i32, 0), head = ProgramIdOp::create(b, loc, i32, 1),
        batch = ProgramIdOp::create(b, loc, i32, 2);
  Value heads = NumProgramsOp::create(b, loc, i32, 1);
  // seq: this sequence's length (at most the longest, Seq); paddedSeq: the
  // outputs' rows per (b, h), the host's Layout::paddedSeq (a multiple of
  // BN).
  SequenceSpan span =
      sequenceSpan(b, loc, arg[Arg::CuSeqlens], arg[Arg::Packed], batch, arg[Arg::Seq]);
  Value seq = span.length;
  Value paddedSeq = arg[Arg::KvPitch];
  Value blocks = tb.div(paddedSeq, tb.i32(BN));
  Value kPrograms = tb.div(paddedSeq, tb.i32(KT));
  Value quantizesV = tb.cmpi(arith::CmpIPredicate::sge, program, kPrograms);
  Value vProgram = tb.sub(program, kPrograms);
  Value block = tb.div(vProgram, tb.i32(split.vGroups));
  Value c0 = tb.mul(arith::RemUIOp::create(b, loc, vProgram, tb.i32(split.vGroups)), tb.i32(VC));
  Value zero = tb.i32(0), width = tb.i32(headDim);
  Value slot = tb.add(tb.mul(batch, heads), head); // (b, h) in the dense outputs
  auto wide = [&](Value v) { return arith::ExtUIOp::create(b, loc, i64, v).getResult(); };
  auto base = [&](Value pointer, Value batchStride, Value headStride, Value rowStride) {
    return tokenBase(b, loc, headBase(b, loc, pointer, batch, batchStride, head, headStride),
                     span.start, rowStride);
  };
  auto vector = [&](int64_t n, Type t) { return TileBuilder::tile({n}, t); };
  auto tile = [&](int64_t rows, int64_t cols, Type t) { return TileBuilder::tile({rows, cols}, t); };

  auto parts = scf::IfOp::create(b, loc, TypeRange{}, quantizesV, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  // K: per token, after smoothing.
  b.setInsertionPoint(parts.elseBlock()->getTerminator());
  Value k0 = tb.mul(program, tb.i32(KT));
  Value kTile = LoadOp::create(b, loc, tile(KT, D, dtype), base(arg[Arg::K], arg[Arg::KBatch], arg[Arg::KHead], arg[Arg::KRow]),
                               ValueRange{k0, zero}, ValueRange{arg[Arg::KRow]},
                               ValueRange{seq, width}, nullptr);
  if (smoothK) {
    Value meanBase = AddPtrOp::create(b, loc, arg[Arg::KMean], tb.mul(wide(slot), wide(width)));
    Value mean = LoadOp::create(b, loc, vector(D, f32), meanBase, ValueRange{zero}, ValueRange{},
                                ValueRange{width}, nullptr);
    auto k32 = tile(KT, D, f32);
    Value keys = tb.add(RangeOp::create(b, loc, vector(KT, i32), 0, int32_t(KT)),
                        tb.splat(k0, vector(KT, i32)));
    Value rowValid = tb.broadcastRows(
        tb.cmpi(arith::CmpIPredicate::slt, keys, tb.splat(seq, vector(KT, i32))),
        tile(KT, D, b.getI1Type()));
    kTile = tb.select(rowValid, tb.sub(tb.castTo(kTile, f32), tb.broadcastColumns(mean, k32)),
                      tb.constFloat(0.0, k32));
  }
  auto kQuant = QuantizeOp::create(b, loc, tile(KT, D, i8), vector(KT, f32), Type(), kTile, 8,
                                   Granularity::Row, false);
  Value k8Base = AddPtrOp::create(
      b, loc, arg[Arg::K8], tb.mul(tb.mul(wide(slot), wide(paddedSeq)), tb.i64(rowBytes)));
  StoreOp::create(b, loc, kQuant.getResult(), k8Base, ValueRange{k0, zero},
                  ValueRange{tb.i32(rowBytes)}, ValueRange{paddedSeq, width});
  Value kScaleBase = AddPtrOp::create(b, loc, arg[Arg::KScale], tb.mul(wide(slot), wide(paddedSeq)));
  StoreOp::create(b, loc, kQuant.getScale(), kScaleBase, ValueRange{k0}, ValueRange{},
                  ValueRange{paddedSeq});

  // V: per channel over this block of tokens, stored transposed.
  b.setInsertionPoint(parts.thenBlock()->getTerminator());
  Value n0 = tb.mul(block, tb.i32(BN));
  Value vTile = LoadOp::create(b, loc, tile(BN, VC, dtype), base(arg[Arg::V], arg[Arg::VBatch], arg[Arg::VHead], arg[Arg::VRow]),
                               ValueRange{n0, c0}, ValueRange{arg[Arg::VRow]},
                               ValueRange{seq, width}, nullptr);
  auto v8tBase = [&]() {
    return AddPtrOp::create(b, loc, arg[Arg::V8t],
                            tb.mul(tb.mul(wide(slot), wide(width)), wide(paddedSeq)));
  };
  if (config.vFormat == quantize_kv::VFormat::Half) {
    // vt : VC x BN dtype, V transposed as it is (zeros past the sequence).
    Value vt = TransOp::create(b, loc, tile(VC, BN, dtype), vTile);
    StoreOp::create(b, loc, vt, v8tBase(), ValueRange{c0, n0}, ValueRange{paddedSeq},
                    ValueRange{width, paddedSeq});
  } else {
    auto vQuant = QuantizeOp::create(b, loc, tile(BN, VC, i8), vector(VC, f32), Type(), vTile, 8,
                                     Granularity::Column, false);
    Value v8t = TransOp::create(b, loc, tile(VC, BN, i8), vQuant.getResult());
    v8t = PermuteBitsOp::create(b, loc, v8t.getType(), v8t, 1,
                                llvm::ArrayRef<int32_t>(quantize_kv::kKeyPermutation));
    StoreOp::create(b, loc, v8t, v8tBase(), ValueRange{c0, n0}, ValueRange{paddedSeq},
                    ValueRange{width, paddedSeq});
    Value vScaleBase =
        AddPtrOp::create(b, loc, arg[Arg::VScale],
                         tb.mul(tb.add(tb.mul(wide(slot), wide(blocks)), wide(block)), wide(width)));
    StoreOp::create(b, loc, vQuant.getScale(), vScaleBase, ValueRange{c0}, ValueRange{},
                    ValueRange{width});
    if (config.vFormat == quantize_kv::VFormat::Mixed) {
      // The first block again, as it is: v0t : VC x BN dtype.
      auto first = scf::IfOp::create(b, loc, TypeRange{}, tb.cmpi(arith::CmpIPredicate::eq, block, zero),
                                     /*withElseRegion=*/false);
      OpBuilder::InsertionGuard inFirst(b);
      b.setInsertionPoint(first.thenBlock()->getTerminator());
      Value vt = TransOp::create(b, loc, tile(VC, BN, dtype), vTile);
      Value v0tBase = AddPtrOp::create(b, loc, arg[Arg::V0t],
                                       tb.mul(tb.mul(wide(slot), wide(width)), tb.i64(BN)));
      StoreOp::create(b, loc, vt, v0tBase, ValueRange{c0, zero}, ValueRange{tb.i32(BN)},
                      ValueRange{width, tb.i32(BN)});
    }
  }
  b.setInsertionPointAfter(parts);
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
