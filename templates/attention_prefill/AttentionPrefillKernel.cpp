//===- AttentionPrefillKernel.cpp - FlashQ + SAS prefill as turbo IR ------===//
//
// One program computes BM query rows of one (batch, query head); packed
// (varlen) tensors hold sequence b at tokens cu_seqlens[b] ..
// cu_seqlens[b + 1], and rows past a sequence's own length do nothing.
// The kernel in phases (PrefillKernel's methods, in this order):
//
//   setup       program ids, this sequence's span, base pointers
//   loadQuery   q_tile  : BM x D  dtype   <- Q rows m0 .. m0+BM
//               q8, sq  : BM x D  i8, BM f32 (per token) or f32 (per tile);
//                         with q_int8=1 read as they are
//               rf      : BM      f32     sq * softmax scale * log2(e) (>= 2^-126)
//               mu      : D       f32     K's per-channel mean (k_smooth)
//   keyLoop     for each KV block n0 .. n0+BN (up to the causal limit),
//               carrying m, l, acc, u (BM, BM, BM x D, BM f32):
//     scores      k8, sk : BN x D i8, BN f32  (K - mu, quantized per token)
//                 s      : BM x BN f32    (Q8 K8^T in i32) * sk, masked to -inf
//     softmax     b      : BM f32   ceil(rf * row max of s): an integer
//                 m_new  : BM f32   max(m, b)
//                 p      : BM x BN f16  SAS 2^fma(rf, s, -b) (an f16 polynomial
//                          times 2^-n), counted from the block's max
//                 alpha  : BM f32   2^(m - m_new), exact (exponent bits)
//     quantizeP   p8, sp : BM x BN u8 codes (one f16 FMA each), BM f32 (row max
//                          of p / 255, or 1/255, times 2^max(b - m_new, -64))
//                 beta   : BM f32   alpha * u / sp: the old sums in the new unit
//                 l      = l * beta + (P8 times a BN x 8 tile of ones: row sums)
//     accumulate  v8, sv : BN x D i8, D f32 (per channel over the block) or f32
//                 acc    = fma(P8 V8 in i32, sv, acc * beta);  u = sp
//   store       O = acc / l (0 where a row saw no key), in dtype; lse
//
// The CPU reference (AttentionPrefillReference.cpp) does the same steps.
//
//===----------------------------------------------------------------------===//
#include "attention_prefill/AttentionPrefill.h"
#include "turbo/Templates/Builders.h"
#include "turbo/Templates/TensorChecks.h"

#include "turbo/Dialect/TileBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using attention_prefill::Arg;

namespace {
/// Strides and base pointer of one tensor in the kernel's arguments.
struct TensorArgs {
  Value base, batchStride, headStride, rowStride;
};

/// The running state the key loop carries (BM, BM, BM x D, BM f32).
struct RunningSums {
  Value m, l, acc, unit;
};

/// One block's softmax: what quantizeP and accumulate need of it.
struct BlockSoftmax {
  Value mNew;       ///< BM f32: the new running max
  Value p;          ///< BM x BN f16: 2^(rf s - b), SAS
  Value alpha;      ///< BM f32: 2^(m - m_new)
  Value blockSeen;  ///< BM i1: the row saw a key in this block
  Value blockExponent, blockScale; ///< BM f32: max(b - m_new, -64) and its power of two
  Value zeroRow;    ///< BM f32: 0
};

/// What quantizeP hands on: P as the P.V product takes it and the factor
/// that moves the old sums to the new unit.
struct BlockP {
  Value p;    ///< BM x BN: u8 codes (pv=int8) or f16 (pv=half)
  Value beta; ///< BM f32
};

class PrefillKernel {
public:
  PrefillKernel(OpBuilder &b, const AttentionPrefill::Config &config, func::FuncOp kernel,
                Signature<Arg> signature)
      : config(config), b(b), loc(b.getUnknownLoc()), tb(b, loc),
        arg(kernel, std::move(signature)) {
    dtype = elementType(b, config.dtype);
    i8 = b.getI8Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    f32 = b.getF32Type();
  }

  void setup();
  void loadQuery();
  scf::ForOp keyLoop();
  void store(scf::ForOp loop);

private:
  /// One block of keys n0 .. n0 + BN in the loop's phases; `half`: P and V
  /// in 16 bits.
  RunningSums step(OpBuilder &lb, Value n0, RunningSums sums, bool half);
  Value scores(OpBuilder &lb, Value n0, Value keys);
  BlockSoftmax softmax(OpBuilder &lb, Value s, Value m, bool half);
  BlockP quantizeP(OpBuilder &lb, const BlockSoftmax &block, RunningSums &sums, bool half);
  Value accumulate(OpBuilder &lb, Value n0, const BlockP &p, Value acc);
  Value accumulateHalf(OpBuilder &lb, Value n0, const BlockP &p, Value acc);
  Value rowSums(OpBuilder &lb, Value p, Type element);

  Value loadKMean();
  Value powerOfTwo(OpBuilder &lb, Value exponent) {
    return templates::powerOfTwo(lb, loc, exponent);
  }
  TensorArgs tensorArgs(Arg tensor, Arg batchStride, Arg headStride, Arg rowStride) {
    return {arg[tensor], arg[batchStride], arg[headStride], arg[rowStride]};
  }
  Value headStart(const TensorArgs &t, Value batchIndex, Value headIndex) {
    return templates::headBase(b, loc, t.base, batchIndex, t.batchStride, headIndex,
                               t.headStride);
  }
  Value wide(Value value) { return arith::ExtUIOp::create(b, loc, i64, value).getResult(); }
  static RankedTensorType rowsTile(int64_t rows, int64_t cols, Type t) {
    return TileBuilder::tile({rows, cols}, t);
  }
  static RankedTensorType vectorTile(int64_t n, Type t) { return TileBuilder::tile({n}, t); }
  /// quantize_kv's outputs hold whole blocks of keys (zeros past each
  /// sequence, see QuantizeKv.h), so their tiles are read without bounds
  /// checks (the keys past seq_k are masked in the scores), unless the tile
  /// is wider than the head (head dim 96: D = 128 would read past a row).
  SmallVector<Value, 2> workspaceBounds(SmallVector<Value, 2> bounds) const {
    return D == headDim ? SmallVector<Value, 2>{} : bounds;
  }
  QuantizeOp quantize(Value x, Granularity g, int64_t groups) {
    auto codes = TileBuilder::withElementType(x.getType(), i8);
    Type scale = g == Granularity::Tile ? f32 : Type(vectorTile(groups, f32));
    return QuantizeOp::create(b, loc, codes, scale, Type(), x, 8, g, false);
  }

  // The configuration, as the phases ask for it.
  const AttentionPrefill::Config &config;
  const int64_t headDim = config.headDim;
  const int64_t D = paddedHeadDim(headDim); // the tiles' width: a power of two
  const int64_t BM = config.blockM, BN = config.blockN;
  const bool causal = config.causal;
  const bool qPerToken = config.qScale == attention_prefill::TokenScale::Token;
  const bool kPerToken = config.kScale == attention_prefill::TokenScale::Token;
  const bool pPerRow = config.pScale == attention_prefill::PScale::Row;
  const bool vPerChannel = config.vScale == attention_prefill::VScale::Channel;
  const bool kvInt8 = config.kvInt8, qInt8 = config.qInt8;
  const bool halfPv = config.pv == attention_prefill::PvFormat::Half;
  const bool mixedPv = config.pv == attention_prefill::PvFormat::Mixed;
  // K smoothing: in this kernel (kv_int8=0) or in quantize_kv's.
  const bool smoothedKeys = config.kSmooth;
  const bool smoothK = smoothedKeys && !kvInt8;
  const int64_t rowBytes = quantize_kv::k8RowBytes(headDim);

  OpBuilder &b;
  Location loc;
  TileBuilder tb;
  KernelArguments<Arg> arg;
  Type dtype, i8, i32, i64, f32;

  // setup: where this program works.
  TensorArgs q, o, k, v;
  Value batch, head, kvHead, m0, zero, width, seqQ, seqK, querySpanStart;
  Value qBase, oBase, kBase, vBase;              // f16/bf16 rows of this (batch, head)
  Value k8Base, kScaleBase, v8tBase, vScaleBase; // quantize_kv's, kv_int8=1
  Value v0tBase;                                 // pv=mixed: the first block, D x BN
  Value paddedSeq;                               // keys per head there (a multiple of BN)
  // loadQuery: the queries and the loop's bounds.
  Value kMean, q8, rowFactor, negatedRowFactor, scoreShift, keyOffset, keyEnd, queryRows;
};

void PrefillKernel::setup() {
  q = tensorArgs(Arg::Q, Arg::QBatch, Arg::QHead, Arg::QRow);
  o = tensorArgs(Arg::O, Arg::OBatch, Arg::OHead, Arg::ORow);
  if (!kvInt8) {
    k = tensorArgs(Arg::K, Arg::KBatch, Arg::KHead, Arg::KRow);
    v = tensorArgs(Arg::V, Arg::VBatch, Arg::VHead, Arg::VRow);
  }
  Value seqQPitch = arg[Arg::SeqQ], seqKPitch = arg[Arg::SeqK], group = arg[Arg::Group];
  Value blockIndex = ProgramIdOp::create(b, loc, i32, 0);
  head = ProgramIdOp::create(b, loc, i32, 1);
  batch = ProgramIdOp::create(b, loc, i32, 2);
  kvHead = arith::DivUIOp::create(b, loc, head, group);
  // This sequence's queries and keys: seqQ, seqK rows from their starts.
  // Only varlen=1 kernels read the offsets: the lengths then live in
  // registers through the loop instead of in the parameter bank.
  SequenceSpan querySpan{tb.i32(0), seqQPitch}, keySpan{tb.i32(0), seqKPitch};
  if (config.varlen) {
    querySpan = sequenceSpan(b, loc, arg[Arg::CuSeqlensQ], arg[Arg::Packed], batch, seqQPitch);
    keySpan = sequenceSpan(b, loc, arg[Arg::CuSeqlensK], arg[Arg::PackedK], batch, seqKPitch);
  }
  seqQ = querySpan.length;
  seqK = keySpan.length;
  querySpanStart = querySpan.start;
  qBase = tokenBase(b, loc, headStart(q, batch, head), querySpan.start, q.rowStride);
  oBase = tokenBase(b, loc, headStart(o, batch, head), querySpan.start, o.rowStride);
  m0 = arith::MulIOp::create(b, loc, blockIndex, tb.i32(BM));
  zero = tb.i32(0);
  width = tb.i32(headDim);
  if (kvInt8) {
    // Dense per (batch, kv head) slot, as quantize_kv wrote them.
    Value kvHeads = arith::DivUIOp::create(b, loc, NumProgramsOp::create(b, loc, i32, 1), group);
    Value slot = tb.add(tb.mul(batch, kvHeads), kvHead);
    paddedSeq = arg[Arg::KvPitch];
    k8Base = AddPtrOp::create(b, loc, arg[Arg::K8],
                              tb.mul(tb.mul(wide(slot), wide(paddedSeq)), tb.i64(rowBytes)));
    kScaleBase = AddPtrOp::create(b, loc, arg[Arg::KScale], tb.mul(wide(slot), wide(paddedSeq)));
    v8tBase = AddPtrOp::create(b, loc, arg[Arg::V8t],
                               tb.mul(tb.mul(wide(slot), wide(width)), wide(paddedSeq)));
    if (!halfPv)
      vScaleBase = AddPtrOp::create(
          b, loc, arg[Arg::VScale],
          tb.mul(tb.mul(wide(slot), wide(tb.div(paddedSeq, tb.i32(BN)))), tb.i64(headDim)));
    if (mixedPv)
      v0tBase = AddPtrOp::create(b, loc, arg[Arg::V0t],
                                 tb.mul(tb.mul(wide(slot), wide(width)), tb.i64(BN)));
  } else {
    kBase = tokenBase(b, loc, headStart(k, batch, kvHead), keySpan.start, k.rowStride);
    vBase = tokenBase(b, loc, headStart(v, batch, kvHead), keySpan.start, v.rowStride);
  }
}

/// K smoothing: the per-channel mean of K over the sequence (D f32, from
/// channel_mean), subtracted from every K tile before it is quantized.
Value PrefillKernel::loadKMean() {
  Value kvHeads =
      arith::DivUIOp::create(b, loc, NumProgramsOp::create(b, loc, i32, 1), arg[Arg::Group]);
  Value meanRow = tb.add(tb.mul(batch, kvHeads), kvHead);
  Value meanBase = AddPtrOp::create(b, loc, arg[Arg::KMean], tb.mul(wide(meanRow), wide(width)));
  // mu : D f32
  return LoadOp::create(b, loc, vectorTile(D, f32), meanBase, ValueRange{zero}, ValueRange{},
                        ValueRange{width}, nullptr);
}

void PrefillKernel::loadQuery() {
  kMean = smoothK ? loadKMean() : Value();
  // Q: quantized once (or given quantized); its scale and the softmax scale
  // fold into rf.
  Value qScale;
  if (qInt8) {
    // q8 : BM x D i8, sq : BM f32, as quantize_q (or the caller) made them.
    q8 = LoadOp::create(b, loc, rowsTile(BM, D, i8), qBase, ValueRange{m0, zero},
                        ValueRange{q.rowStride}, ValueRange{seqQ, width}, nullptr);
    Value scaleBase = templates::headBase(b, loc, arg[Arg::QScale], batch, arg[Arg::QScaleBatch],
                                          head, arg[Arg::QScaleHead]);
    scaleBase =
        AddPtrOp::create(b, loc, scaleBase, arith::ExtSIOp::create(b, loc, i64, querySpanStart));
    qScale = LoadOp::create(b, loc, vectorTile(BM, f32), scaleBase, ValueRange{m0}, ValueRange{},
                            ValueRange{seqQ}, nullptr);
  } else {
    // q_tile : BM x D dtype -> q8 : BM x D i8, sq : BM f32 (or one f32)
    Value qTile = LoadOp::create(b, loc, rowsTile(BM, D, dtype), qBase, ValueRange{m0, zero},
                                 ValueRange{q.rowStride}, ValueRange{seqQ, width}, nullptr);
    auto qQuant = quantize(qTile, qPerToken ? Granularity::Row : Granularity::Tile, BM);
    q8 = qQuant.getResult();
    qScale = qQuant.getScale();
  }
  // rf : BM f32. rf > 0 also for an all-zero row (scale 0): the scores' row
  // factor goes into an FMA with the running max, and 0 * -inf (a masked
  // score) is NaN.
  Value scaleLog2 = arg[Arg::ScaleLog2];
  rowFactor = qPerToken ? tb.mul(qScale, tb.splat(scaleLog2, vectorTile(BM, f32)))
                        : tb.splat(tb.mul(qScale, scaleLog2), vectorTile(BM, f32));
  rowFactor = tb.max(rowFactor, tb.constFloat(0x1p-126, vectorTile(BM, f32)));
  negatedRowFactor = arith::NegFOp::create(b, loc, rowFactor);
  // With K smoothing the scores leave out q . mean(K) per row: softmax does
  // not see such a shift, the log-sum-exp does. rf * (q8 . mean): Q as the
  // scores see it (BM f32). Computed before the loop, where q8 is at hand
  // in the layout it was made in (after the loop that would keep a second
  // copy alive through it).
  if (smoothedKeys && config.writeLse) {
    Value mean = kMean ? kMean : loadKMean();
    Value q8Mean = tb.reduce(ReduceKind::Sum,
                             tb.mul(tb.castTo(q8, f32), tb.broadcastColumns(mean, rowsTile(BM, D, f32))),
                             1);
    scoreShift = tb.mul(rowFactor, q8Mean);
  }

  // The keys this block of queries may see: none when the block lies past
  // its sequence's end (packed sequences shorter than the grid's seq_q).
  keyOffset = arith::SubIOp::create(b, loc, seqK, seqQ);
  keyEnd = seqK;
  if (causal) {
    Value lastVisible = tb.add(tb.add(m0, tb.i32(BM)), keyOffset);
    keyEnd = arith::MaxSIOp::create(b, loc, arith::MinSIOp::create(b, loc, seqK, lastVisible),
                                    zero);
  }
  keyEnd = arith::SelectOp::create(b, loc, tb.cmpi(arith::CmpIPredicate::slt, m0, seqQ), keyEnd,
                                   zero);
  // queryRows : BM i32, m0 .. m0 + BM
  queryRows = tb.add(RangeOp::create(b, loc, vectorTile(BM, i32), 0, int32_t(BM)),
                     tb.splat(m0, vectorTile(BM, i32)));
}

scf::ForOp PrefillKernel::keyLoop() {
  Value mInit = tb.constFloat(-INFINITY, vectorTile(BM, f32));
  Value lInit = tb.constFloat(0.0, vectorTile(BM, f32));
  Value accInit = tb.constFloat(0.0, rowsTile(BM, D, f32));
  Value unitInit = tb.constFloat(0.0, vectorTile(BM, f32));
  RunningSums start{mInit, lInit, accInit, unitInit};
  Value first = zero;
  if (mixedPv) {
    // The first block, before the loop, in 16 bits: a row with no key in
    // it (past its sequence, or an empty one) sees only masked scores.
    start = step(b, zero, start, /*half=*/true);
    first = tb.i32(BN);
  }
  return scf::ForOp::create(
      b, loc, first, keyEnd, tb.i32(BN), ValueRange{start.m, start.l, start.acc, start.unit},
      [&](OpBuilder &lb, Location, Value n0, ValueRange carried) {
        RunningSums sums =
            step(lb, n0, {carried[0], carried[1], carried[2], carried[3]}, halfPv);
        scf::YieldOp::create(lb, loc, ValueRange{sums.m, sums.l, sums.acc, sums.unit});
      });
}

RunningSums PrefillKernel::step(OpBuilder &lb, Value n0, RunningSums sums, bool half) {
  TileBuilder t(lb, loc);
  // keys : BN i32, n0 .. n0 + BN
  Value keys = t.add(RangeOp::create(lb, loc, vectorTile(BN, i32), 0, int32_t(BN)),
                     t.splat(n0, vectorTile(BN, i32)));
  Value s = scores(lb, n0, keys);
  BlockSoftmax block = softmax(lb, s, sums.m, half);
  BlockP p = quantizeP(lb, block, sums, half);
  Value accNew = half ? accumulateHalf(lb, n0, p, sums.acc) : accumulate(lb, n0, p, sums.acc);
  return {block.mNew, sums.l, accNew, sums.unit};
}

/// s : BM x BN f32 = (Q8 K8^T in i32) * sk, masked to -inf past the keys
/// (and, causal, past each row's limit).
Value PrefillKernel::scores(OpBuilder &lb, Value n0, Value keys) {
  TileBuilder t(lb, loc);
  Value k8, kScale; // BN x D i8, BN f32 (or one f32)
  if (kvInt8) {
    k8 = LoadOp::create(lb, loc, rowsTile(BN, D, i8), k8Base, ValueRange{n0, zero},
                        ValueRange{t.i32(rowBytes)}, workspaceBounds({seqK, width}), nullptr);
    kScale = LoadOp::create(lb, loc, vectorTile(BN, f32), kScaleBase, ValueRange{n0},
                            ValueRange{}, workspaceBounds({seqK}), nullptr);
  } else {
    // k_tile : BN x D dtype
    Value kTile = LoadOp::create(lb, loc, rowsTile(BN, D, dtype), kBase, ValueRange{n0, zero},
                                 ValueRange{k.rowStride}, ValueRange{seqK, width}, nullptr);
    if (smoothK) {
      // Rows past the sequence stay 0 (they would otherwise hold -mean).
      auto kTile32 = rowsTile(BN, D, f32);
      Value centered = t.sub(t.castTo(kTile, f32), t.broadcastColumns(kMean, kTile32));
      Value rowValid = t.broadcastRows(
          t.cmpi(arith::CmpIPredicate::slt, keys, t.splat(seqK, vectorTile(BN, i32))),
          rowsTile(BN, D, lb.getI1Type()));
      kTile = t.select(rowValid, centered, t.constFloat(0.0, kTile32));
    }
    auto kQuant = quantize(kTile, kPerToken ? Granularity::Row : Granularity::Tile, BN);
    k8 = kQuant.getResult();
    kScale = kQuant.getScale();
  }
  auto scoreType = rowsTile(BM, BN, f32);
  Value kT = TransOp::create(lb, loc, rowsTile(D, BN, i8), k8); // D x BN i8
  Value s32 = DotOp::create(lb, loc, q8, kT, t.constInt(0, rowsTile(BM, BN, i32)));
  // |S| <= D * 128 * 128 < 2^24 for D <= 256: exact in f32. By
  // cvt.rn.f32.s32: one issue slot on the conversion unit, measured 3-7%
  // faster on the H200 than the two full-rate instructions of the
  // 1.5 * 2^23 trick. The row factor waits for the exponent's FMA
  // below: one multiply per score instead of two.
  Value s = t.mul(t.castTo(s32, f32), kPerToken ? t.broadcastColumns(kScale, scoreType)
                                                : t.splat(kScale, scoreType));
  // Masking, only in the blocks that need it (the one past the end of the
  // keys, and with causal the ones crossing the diagonal): a branch the
  // whole block takes alike instead of a compare and a select per score
  // everywhere.
  Value blockEnd = t.add(n0, t.i32(BN));
  Value needsMask = t.cmpi(arith::CmpIPredicate::sgt, blockEnd, seqK);
  if (causal) // the block's last key is past the first row's limit
    needsMask = arith::OrIOp::create(
        lb, loc, needsMask,
        t.cmpi(arith::CmpIPredicate::sgt, blockEnd, t.add(t.add(m0, keyOffset), t.i32(1))));
  auto masked = scf::IfOp::create(
      lb, loc, needsMask,
      [&](OpBuilder &mb, Location) {
        TileBuilder m(mb, loc);
        auto boolTile = rowsTile(BM, BN, mb.getI1Type());
        Value keyTile = m.broadcastColumns(keys, rowsTile(BM, BN, i32));
        Value valid = m.cmpi(arith::CmpIPredicate::slt, keyTile,
                             m.splat(seqK, rowsTile(BM, BN, i32)));
        if (causal) {
          Value limit = m.broadcastRows(
              m.add(queryRows, m.splat(keyOffset, vectorTile(BM, i32))), rowsTile(BM, BN, i32));
          valid = arith::AndIOp::create(mb, loc, boolTile, valid,
                                        m.cmpi(arith::CmpIPredicate::sle, keyTile, limit));
        }
        scf::YieldOp::create(mb, loc, m.select(valid, s, m.constFloat(-INFINITY, scoreType)));
      },
      [&](OpBuilder &mb, Location) { scf::YieldOp::create(mb, loc, s); });
  return masked.getResult(0);
}

/// Online softmax with SAS. The running max is kept as an integer (ceil, in
/// log2 units), so the rescale factor alpha = 2^(m - mNew) is an exact
/// power of two, built from exponent bits: an approximate alpha would
/// re-weight earlier KV blocks against later ones at every rescale. A row
/// that has seen no key keeps m = -inf and subtracts 0 instead (so -inf
/// scores give exactly 0). rf > 0, so the row max of rf * s is rf * (row
/// max of s).
BlockSoftmax PrefillKernel::softmax(OpBuilder &lb, Value s, Value m, bool half) {
  TileBuilder t(lb, loc);
  auto scoreType = rowsTile(BM, BN, f32);
  auto rowVector = vectorTile(BM, f32);
  BlockSoftmax block;
  Value minusInf = t.constFloat(-INFINITY, rowVector), zeroRow = t.constFloat(0.0, rowVector);
  block.zeroRow = zeroRow;
  // blockMax : BM f32, an integer (or -inf)
  Value blockMax = math::CeilOp::create(lb, loc, t.mul(t.reduce(ReduceKind::Max, s, 1), rowFactor));
  block.mNew = t.max(m, blockMax);
  Value mUse = // -inf: the row has seen no key
      t.select(t.cmpf(arith::CmpFPredicate::OEQ, block.mNew, minusInf), zeroRow, block.mNew);
  // A row with no key in this block counts from mUse: 2^(blockUse - mUse)
  // is then 1, where 2^(0 - m) could leave the exponent range.
  block.blockSeen = t.cmpf(arith::CmpFPredicate::OGT, blockMax, minusInf);
  Value blockUse = t.select(block.blockSeen, blockMax, mUse);
  block.alpha = powerOfTwo(lb, t.sub(m, mUse));
  // The exponents count from the block's own (integer) max, not the running
  // one: the block's largest p is then at least P_min / 2, so 255 / (row
  // max of p) fits in f16 and the codes come out of one f16 FMA.
  // 2^(blockMax - mUse), exact, goes into P's scale instead. rf * s -
  // blockUse in one rounding, written as the negation of fma(-rf, s,
  // blockUse) (exact) so that exp_poly's own negation of its argument
  // folds away.
  Value negatedExponent =
      math::FmaOp::create(lb, loc, s, t.broadcastRows(negatedRowFactor, scoreType),
                          t.broadcastRows(blockUse, scoreType));
  auto probabilityType = rowsTile(BM, BN, b.getF16Type());
  auto expPoly = ExpPolyOp::create(lb, loc, probabilityType,
                                   arith::NegFOp::create(lb, loc, negatedExponent),
                                   config.sasDegree,
                                   half ? config.sasThresholdHalf : config.sasThreshold,
                                   ExpBase::Two, nullptr, /*clamp_only=*/false,
                                   half ? attention_prefill::halfPScaleLog2(config) : 0);
  // Past the threshold p is only clamped (2^-T P(0) < 2^-T * 2), not
  // zeroed, where the u8 codes round it to 0 anyway: see
  // sasZeroingIsRoundedAway.
  expPoly.setClampOnly(!half && attention_prefill::sasZeroingIsRoundedAway(config));
  block.p = expPoly.getResult();
  // 2^(blockUse - mUse), cut at 2^-64: a block that far below the running
  // max weighs nothing against it in f32 either way, and the cut bounds the
  // unit below (see `beta`).
  block.blockExponent = arith::MaxNumFOp::create(lb, loc, t.sub(blockUse, mUse),
                                                 t.constFloat(-64.0, rowVector));
  block.blockScale = powerOfTwo(lb, block.blockExponent);
  return block;
}

/// The row sums of P (BM f32) on the tensor cores: P times a column of
/// ones (8 wide, the narrowest mma tile; BM x 8), instead of a float add per
/// score. u8 codes sum exactly in i32 (|sum| <= BN * 255 < 2^24: exact in
/// f32 too); f16 P in f32.
Value PrefillKernel::rowSums(OpBuilder &lb, Value p, Type element) {
  TileBuilder t(lb, loc);
  const bool codes = element.isInteger(8);
  Type sumType = codes ? i32 : f32;
  auto ones = codes ? t.constInt(1, rowsTile(BN, 8, i8))
                    : t.constFloat(1.0, rowsTile(BN, 8, element));
  Value zeros = codes ? t.constInt(0, rowsTile(BM, 8, sumType))
                      : t.constFloat(0.0, rowsTile(BM, 8, sumType));
  auto sums = DotOp::create(lb, loc, p, ones, zeros);
  sums.setLhsUnsigned(codes);
  return t.castTo(t.reduce(ReduceKind::Max, sums.getResult(), 1), f32);
}

/// P as the P.V product takes it (BM x BN: u8 codes with a per-row or fixed
/// scale, or f16 itself with pv=half); the row sums l and the unit u move
/// on, and beta (BM f32) takes the old sums into the new unit.
BlockP PrefillKernel::quantizeP(OpBuilder &lb, const BlockSoftmax &block, RunningSums &sums,
                                bool half) {
  TileBuilder t(lb, loc);
  auto rowVector = vectorTile(BM, f32);
  auto probabilityType = rowsTile(BM, BN, b.getF16Type());
  Value pInverse, pScale; // BM f32: 255 / row max of p, and its inverse
  BlockP out;
  if (half) {
    // P goes on in 16 bits (the input type): its unit is the block's power
    // of two, over the power SAS scaled it by.
    const double sasScale = std::ldexp(1.0, int(attention_prefill::halfPScaleLog2(config)));
    pInverse = t.constFloat(sasScale, rowVector);
    pScale = t.mul(block.blockScale, t.constFloat(1.0 / sasScale, rowVector));
    out.p = dtype.isF16() ? block.p : t.castTo(t.castTo(block.p, f32), dtype);
  } else {
    if (pPerRow) {
      Value pMax = t.castTo(t.reduce(ReduceKind::Max, block.p, 1), f32);
      // Only rows that saw a key: with clamp_only the others hold 2^-T P(0),
      // not 0.
      pInverse =
          t.select(block.blockSeen, t.div(t.constFloat(255.0, rowVector), pMax), block.zeroRow);
      pScale = t.mul(pMax, t.constFloat(1.0f / 255.0f, rowVector));
    } else {
      pInverse = t.constFloat(255.0, rowVector);
      pScale = t.constFloat(1.0 / 255.0, rowVector);
    }
    pScale = t.mul(pScale, block.blockScale);
    // code = round(p * 255 / pMax) in one f16 FMA: adding 1024 leaves the
    // rounded code in the low byte of the f16's bits. With the row's own
    // scale every code is <= 255 (p <= pMax, and 255 / pMax rounded to f16
    // gains at most 2^-11: the product is below 255.5); a fixed scale needs
    // the clamp (p reaches P_max > 1).
    Value codes = math::FmaOp::create(
        lb, loc, block.p, t.broadcastRows(t.castTo(pInverse, b.getF16Type()), probabilityType),
        t.constFloat(1024.0, probabilityType));
    if (!pPerRow)
      codes = arith::MinNumFOp::create(lb, loc, codes, t.constFloat(1279.0, probabilityType));
    Value p8 = arith::TruncIOp::create(
        lb, loc, rowsTile(BM, BN, i8),
        arith::BitcastOp::create(lb, loc, rowsTile(BM, BN, b.getI16Type()), codes));
    if (kvInt8) // V's keys come permuted from quantize_kv: permute P's alike.
      p8 = PermuteBitsOp::create(lb, loc, p8.getType(), p8, 1,
                                 llvm::ArrayRef<int32_t>(quantize_kv::kKeyPermutation));
    out.p = p8;
  }
  Value codeSum = rowSums(lb, out.p, half ? dtype : Type(i8));
  // l and acc count in units of the latest block's P scale (relative to
  // 2^mUse), so that a step adds P8 V8 and the code sums without scaling
  // them: moving the old sums to the new unit is one factor per row, beta =
  // alpha * unit / pScale (255 / pMax and the block's power of two stand
  // for 1 / pScale). A row with no key in the block keeps its unit (alpha
  // is 1 for it). The unit is at least 2^-74 (pMax >= 1/4 and the cut at
  // 2^-64), so the sums stay below 2^110.
  Value unitNew = t.select(block.blockSeen, pScale, t.mul(block.alpha, sums.unit));
  out.beta = t.select(block.blockSeen,
                      t.mul(t.mul(t.mul(block.alpha, sums.unit), pInverse),
                            powerOfTwo(lb, arith::NegFOp::create(lb, loc, block.blockExponent))),
                      t.constFloat(1.0, rowVector));
  sums.l = t.add(t.mul(sums.l, out.beta), codeSum);
  sums.unit = unitNew;
  return out;
}

/// acc = P V + acc * beta (BM x D f32) with f16 P and V: the MMA
/// accumulates into the rescaled sums.
Value PrefillKernel::accumulateHalf(OpBuilder &lb, Value n0, const BlockP &p, Value acc) {
  TileBuilder t(lb, loc);
  auto accType = rowsTile(BM, D, f32);
  Value vTile; // BN x D dtype
  if (!kvInt8) {
    // V as given, rows past the keys 0.
    vTile = LoadOp::create(lb, loc, rowsTile(BN, D, dtype), vBase, ValueRange{n0, zero},
                           ValueRange{v.rowStride}, ValueRange{seqK, width}, nullptr);
  } else {
    // vt : D x BN dtype, V transposed as quantize_kv stored it (pv=mixed:
    // the first block alone, in its own part of the workspace)
    Value vt = mixedPv ? LoadOp::create(lb, loc, rowsTile(D, BN, dtype), v0tBase,
                                        ValueRange{zero, zero}, ValueRange{t.i32(BN)},
                                        workspaceBounds({width, t.i32(BN)}), nullptr)
                       : LoadOp::create(lb, loc, rowsTile(D, BN, dtype), v8tBase,
                                        ValueRange{zero, n0}, ValueRange{paddedSeq},
                                        workspaceBounds({width, paddedSeq}), nullptr);
    vTile = TransOp::create(lb, loc, rowsTile(BN, D, dtype), vt);
  }
  return DotOp::create(lb, loc, p.p, vTile, t.mul(acc, t.broadcastRows(p.beta, accType)));
}

/// acc = fma(P8 V8, sv, acc * beta) (BM x D f32).
Value PrefillKernel::accumulate(OpBuilder &lb, Value n0, const BlockP &p, Value acc) {
  Value p8 = p.p, beta = p.beta;
  TileBuilder t(lb, loc);
  auto accType = rowsTile(BM, D, f32);
  Value v8, vScale; // BN x D i8, D f32 (or one f32)
  if (kvInt8) {
    // v8t : D x BN i8, V transposed as quantize_kv stored it
    Value v8t = LoadOp::create(lb, loc, rowsTile(D, BN, i8), v8tBase, ValueRange{zero, n0},
                               ValueRange{paddedSeq}, workspaceBounds({width, paddedSeq}),
                               nullptr);
    v8 = TransOp::create(lb, loc, rowsTile(BN, D, i8), v8t);
    Value blockScales = AddPtrOp::create(lb, loc, vScaleBase,
                                         t.mul(wide(t.div(n0, t.i32(BN))), t.i64(headDim)));
    vScale = LoadOp::create(lb, loc, vectorTile(D, f32), blockScales, ValueRange{zero},
                            ValueRange{}, workspaceBounds({width}), nullptr);
  } else {
    // v_tile : BN x D dtype
    Value vTile = LoadOp::create(lb, loc, rowsTile(BN, D, dtype), vBase, ValueRange{n0, zero},
                                 ValueRange{v.rowStride}, ValueRange{seqK, width}, nullptr);
    auto vQuant = quantize(vTile, vPerChannel ? Granularity::Column : Granularity::Tile, D);
    v8 = vQuant.getResult();
    vScale = vQuant.getScale();
  }
  auto pv = DotOp::create(lb, loc, p8, v8, t.constInt(0, rowsTile(BM, D, i32)));
  pv.setLhsUnsigned(true);
  // |P8 V8| <= BN * 255 * 128 < 2^24: exact in f32.
  return math::FmaOp::create(
      lb, loc, t.castTo(pv.getResult(), f32),
      vPerChannel ? t.broadcastColumns(vScale, accType) : t.splat(vScale, accType),
      t.mul(acc, t.broadcastRows(beta, accType)));
}

void PrefillKernel::store(scf::ForOp loop) {
  auto rowVector = vectorTile(BM, f32);
  Value m = loop.getResult(0), l = loop.getResult(1), acc = loop.getResult(2),
        unit = loop.getResult(3);
  // O : BM x D dtype = acc / l, 0 for a row that saw no key.
  Value seen = tb.cmpf(arith::CmpFPredicate::OGT, l, tb.constFloat(0.0, rowVector));
  Value lInverse = tb.select(seen, tb.div(tb.constFloat(1.0, rowVector), l),
                             tb.constFloat(0.0, rowVector));
  Value out = tb.castTo(tb.mul(acc, tb.broadcastRows(lInverse, rowsTile(BM, D, f32))), dtype);
  StoreOp::create(b, loc, out, oBase, ValueRange{m0, zero}, ValueRange{o.rowStride},
                  ValueRange{seqQ, width});

  if (config.writeLse) {
    // lse : BM f32 = (m + log2(l * unit)) * ln 2 (l counts in the last
    // unit), one float per (batch, head, row); seq_q rows per (batch,
    // head) also when packed.
    Value heads = NumProgramsOp::create(b, loc, i32, 1);
    Value row0 = tb.mul(wide(tb.add(tb.mul(batch, heads), head)), wide(arg[Arg::SeqQ]));
    Value lseBase = AddPtrOp::create(b, loc, arg[Arg::Lse], row0);
    Value log2l = math::Log2Op::create(b, loc, tb.mul(l, unit));
    Value lse2 = tb.add(m, log2l);
    if (scoreShift) // K smoothing
      lse2 = tb.add(lse2, scoreShift);
    Value lse = tb.mul(lse2, tb.constFloat(std::log(2.0), rowVector));
    StoreOp::create(b, loc, lse, lseBase, ValueRange{m0}, ValueRange{}, ValueRange{seqQ});
  }
  func::ReturnOp::create(b, loc);
}
} // namespace

template <>
OwningOpRef<ModuleOp> buildKernel<AttentionPrefill>(MLIRContext &context,
                                                    const AttentionPrefill::Config &config,
                                                    std::string_view target) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  const Signature<Arg> signature = AttentionPrefill::signature(config);
  PrefillKernel kernel(b, config,
                       createKernel<AttentionPrefill>(b, *module, config, signature, target),
                       signature);
  kernel.setup();
  kernel.loadQuery();
  kernel.store(kernel.keyLoop());
  return module;
}

} // namespace turbo::templates
