//===- AttentionPrefillKernel.cpp - FlashQ + SAS prefill as turbo IR ------===//
//
// One program computes BM query rows of one (batch, query head):
//
//   q_tile  : BM x D  dtype   <- Q rows m0 .. m0+BM
//   q8, sq  : BM x D  i8, BM f32 (per token) or f32 (per tile)
//   rf      : BM      f32     sq * softmax scale * log2(e)
//   m, l    : BM      f32     running max (log2 units) and running sum
//   acc     : BM x D  f32     running P V
//   mu      : D       f32     K's per-channel mean (k_smooth)
//   for each KV block n0 .. n0+BN (up to the causal limit):
//     k8, sk : BN x D i8, BN f32  (K - mu, quantized per token)
//     s      : BM x BN f32    (Q8 K8^T in i32) * rf * sk, masked to -inf
//     m_new  : BM      f32     max(m, ceil(row max of s)): an integer
//     p      : BM x BN f16    SAS 2^(s - m_new)
//     alpha  : BM      f32     2^(m - m_new), exact (exponent bits)
//     p8, sp : BM x BN u8 codes, BM f32 (row max / 255, or 1/255)
//     v8, sv : BN x D i8, D f32 (per channel over the block) or f32
//     acc    = acc * alpha + (P8 V8 in i32) * sp * sv
//   O = acc / l (0 where a row saw no key), in dtype
//
// The CPU reference (AttentionPrefillReference.cpp) does the same steps.
//
//===----------------------------------------------------------------------===//
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

namespace {
/// Strides and base pointer of one tensor in the kernel's arguments.
struct TensorArgs {
  Value base, batchStride, headStride, rowStride;
};

/// base + batch * batchStride + head * headStride (64-bit element offset).
Value headBase(OpBuilder &b, Location loc, const TensorArgs &t, Value batch, Value head) {
  Type i64 = b.getI64Type();
  Value offset = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i64, batch), t.batchStride),
      arith::MulIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i64, head), t.headStride));
  return AddPtrOp::create(b, loc, t.base, offset);
}
} // namespace

OwningOpRef<ModuleOp> buildAttentionPrefill(MLIRContext &context, const KernelConfig &config,
                                            std::string_view target) {
  const int64_t headDim = config.get("head_dim");
  const int64_t D = int64_t(llvm::PowerOf2Ceil(uint64_t(headDim)));
  const int64_t BM = config.get("block_m"), BN = config.get("block_n");
  const bool causal = config.get("causal") != 0;
  const bool qPerToken = config.get("q_scale") == 1, kPerToken = config.get("k_scale") == 1;
  const bool pPerRow = config.get("p_scale") == 1, vPerChannel = config.get("v_scale") == 1;

  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  Type dtype = config.get("dtype") == 1 ? Type(b.getBF16Type()) : Type(b.getF16Type());
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type(), f16 = b.getF16Type(),
       f32 = b.getF32Type();
  Type ptr = PtrType::get(dtype);

  std::vector<KernelArg> args = {{ptr, 16}, {ptr, 16}, {ptr, 16}, {ptr, 16},
                                 {PtrType::get(f32), 4}, {PtrType::get(f32), 16}, {i32}, {i32}};
  for (int t = 0; t < 4; ++t) // batch, head (i64) and row (i32) strides of q, k, v, o
    args.insert(args.end(), {{i64, 8}, {i64, 8}, {i32, 8}});
  args.insert(args.end(), {{i32}, {f32}});
  func::FuncOp kernel = createKernel(b, *module, "attention_prefill", args, config, target,
                                     config.get("num_warps"));
  auto arg = [&](unsigned i) { return kernel.getArgument(i); };
  auto tensorArgs = [&](unsigned tensor, unsigned first) {
    return TensorArgs{arg(tensor), arg(first), arg(first + 1), arg(first + 2)};
  };
  TensorArgs q = tensorArgs(0, 8), k = tensorArgs(1, 11), v = tensorArgs(2, 14),
             o = tensorArgs(3, 17);
  Value lsePtr = arg(4), kMeanPtr = arg(5), seqQ = arg(6), seqK = arg(7), group = arg(20),
        scaleLog2 = arg(21);
  const bool smoothK = config.get("k_smooth") != 0;

  TileBuilder tb(b, loc);
  Value blockIndex = ProgramIdOp::create(b, loc, i32, 0);
  Value head = ProgramIdOp::create(b, loc, i32, 1);
  Value batch = ProgramIdOp::create(b, loc, i32, 2);
  Value kvHead = arith::DivUIOp::create(b, loc, head, group);
  Value qBase = headBase(b, loc, q, batch, head), oBase = headBase(b, loc, o, batch, head);
  Value kBase = headBase(b, loc, k, batch, kvHead), vBase = headBase(b, loc, v, batch, kvHead);
  Value m0 = arith::MulIOp::create(b, loc, blockIndex, tb.i32(BM));
  Value zero = tb.i32(0), width = tb.i32(headDim);

  auto rowsTile = [&](int64_t rows, int64_t cols, Type t) { return TileBuilder::tile({rows, cols}, t); };
  auto vectorTile = [&](int64_t n, Type t) { return TileBuilder::tile({n}, t); };
  auto quantize = [&](Value x, Granularity g, int64_t groups) {
    auto codes = TileBuilder::withElementType(x.getType(), i8);
    Type scale = g == Granularity::Tile ? f32 : Type(vectorTile(groups, f32));
    return QuantizeOp::create(b, loc, codes, scale, Type(), x, 8, g, false);
  };

  // K smoothing: the per-channel mean of K over the sequence (D f32, from
  // channel_mean), subtracted from every K tile before it is quantized.
  Value kMean;
  if (smoothK) {
    Value kvHeads = arith::DivUIOp::create(b, loc, NumProgramsOp::create(b, loc, i32, 1), group);
    Value meanRow = tb.add(tb.mul(batch, kvHeads), kvHead);
    Value meanBase = AddPtrOp::create(
        b, loc, kMeanPtr, arith::ExtUIOp::create(b, loc, i64, tb.mul(meanRow, width)));
    kMean = LoadOp::create(b, loc, vectorTile(D, f32), meanBase, ValueRange{zero}, ValueRange{},
                           ValueRange{width}, nullptr);
  }

  // Q: quantized once; its scale and the softmax scale fold into rf.
  Value qTile = LoadOp::create(b, loc, rowsTile(BM, D, dtype), qBase, ValueRange{m0, zero},
                               ValueRange{q.rowStride}, ValueRange{seqQ, width}, nullptr);
  auto qQuant = quantize(qTile, qPerToken ? Granularity::Row : Granularity::Tile, BM);
  Value q8 = qQuant.getResult();
  Value rowFactor = qPerToken
                        ? tb.mul(qQuant.getScale(), tb.splat(scaleLog2, vectorTile(BM, f32)))
                        : tb.splat(tb.mul(qQuant.getScale(), scaleLog2), vectorTile(BM, f32));

  // The keys this block of queries may see.
  Value keyOffset = arith::SubIOp::create(b, loc, seqK, seqQ);
  Value keyEnd = seqK;
  if (causal) {
    Value lastVisible = tb.add(tb.add(m0, tb.i32(BM)), keyOffset);
    keyEnd = arith::MaxSIOp::create(b, loc, arith::MinSIOp::create(b, loc, seqK, lastVisible),
                                    zero);
  }
  Value queryRows = tb.add(RangeOp::create(b, loc, vectorTile(BM, i32), 0, int32_t(BM)),
                           tb.splat(m0, vectorTile(BM, i32)));

  auto scoreType = rowsTile(BM, BN, f32);
  auto accType = rowsTile(BM, D, f32);
  Value mInit = tb.constFloat(-INFINITY, vectorTile(BM, f32));
  Value lInit = tb.constFloat(0.0, vectorTile(BM, f32));
  Value accInit = tb.constFloat(0.0, accType);

  auto loop = scf::ForOp::create(
      b, loc, zero, keyEnd, tb.i32(BN), ValueRange{mInit, lInit, accInit},
      [&](OpBuilder &lb, Location, Value n0, ValueRange carried) {
        TileBuilder t(lb, loc);
        Value m = carried[0], l = carried[1], acc = carried[2];

        // S = Q8 K8^T, scaled per row and column, masked.
        Value kTile = LoadOp::create(lb, loc, rowsTile(BN, D, dtype), kBase, ValueRange{n0, zero},
                                     ValueRange{k.rowStride}, ValueRange{seqK, width}, nullptr);
        Value keys = t.add(RangeOp::create(lb, loc, vectorTile(BN, i32), 0, int32_t(BN)),
                           t.splat(n0, vectorTile(BN, i32)));
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
        Value kT = TransOp::create(lb, loc, rowsTile(D, BN, i8), kQuant.getResult());
        Value s32 = DotOp::create(lb, loc, q8, kT, t.constInt(0, rowsTile(BM, BN, i32)));
        Value s = t.mul(t.castTo(s32, f32), t.broadcastRows(rowFactor, scoreType));
        s = t.mul(s, kPerToken ? t.broadcastColumns(kQuant.getScale(), scoreType)
                               : t.splat(kQuant.getScale(), scoreType));
        auto boolTile = rowsTile(BM, BN, lb.getI1Type());
        Value keyTile = t.broadcastColumns(keys, rowsTile(BM, BN, i32));
        Value valid = t.cmpi(arith::CmpIPredicate::slt, keyTile,
                             t.splat(seqK, rowsTile(BM, BN, i32)));
        if (causal) {
          Value limit = t.broadcastRows(t.add(queryRows, t.splat(keyOffset, vectorTile(BM, i32))),
                                        rowsTile(BM, BN, i32));
          valid = arith::AndIOp::create(lb, loc, boolTile, valid,
                                        t.cmpi(arith::CmpIPredicate::sle, keyTile, limit));
        }
        s = t.select(valid, s, t.constFloat(-INFINITY, scoreType));

        // Online softmax with SAS. The running max is kept as an integer
        // (ceil, in log2 units), so the rescale factor alpha = 2^(m - mNew)
        // is an exact power of two, built from exponent bits: an
        // approximate alpha would re-weight earlier KV blocks against later
        // ones at every rescale. A row that has seen no key keeps m = -inf
        // and subtracts 0 instead (so -inf scores give exactly 0).
        auto rowVector = vectorTile(BM, f32);
        Value blockMax = math::CeilOp::create(lb, loc, t.reduce(ReduceKind::Max, s, 1));
        Value mNew = t.max(m, blockMax);
        Value noKey = t.cmpf(arith::CmpFPredicate::OEQ, mNew, t.constFloat(-INFINITY, rowVector));
        Value mUse = t.select(noKey, t.constFloat(0.0, rowVector), mNew);
        Value p = ExpPolyOp::create(lb, loc, rowsTile(BM, BN, f16),
                                    t.sub(s, t.broadcastRows(mUse, scoreType)),
                                    config.get("sas_degree"), config.get("sas_threshold"),
                                    ExpBase::Two, nullptr);
        // alpha = 2^max(m - mUse, -127): f32 bits ((e + 127) << 23); -127
        // gives 0 (also for m = -inf).
        auto rowInts = vectorTile(BM, i32);
        Value shift = arith::MaxNumFOp::create(lb, loc, t.sub(m, mUse),
                                               t.constFloat(-127.0, rowVector));
        Value biased = t.add(t.castTo(shift, i32), t.constInt(127, rowInts));
        Value alpha = arith::BitcastOp::create(
            lb, loc, rowVector,
            arith::ShLIOp::create(lb, loc, biased, t.constInt(23, rowInts)));

        // P to u8 codes with a per-row (or fixed) scale.
        Value p32 = t.castTo(p, f32);
        Value pInverse, pScale;
        if (pPerRow) {
          Value pMax = t.reduce(ReduceKind::Max, p32, 1);
          Value positive = t.cmpf(arith::CmpFPredicate::OGT, pMax,
                                  t.constFloat(0.0, vectorTile(BM, f32)));
          pInverse = t.select(positive, t.div(t.constFloat(255.0, vectorTile(BM, f32)), pMax),
                              t.constFloat(0.0, vectorTile(BM, f32)));
          pScale = t.div(pMax, t.constFloat(255.0, vectorTile(BM, f32)));
        } else {
          pInverse = t.constFloat(255.0, vectorTile(BM, f32));
          pScale = t.constFloat(1.0 / 255.0, vectorTile(BM, f32));
        }
        Value codes = t.min(t.roundEven(t.mul(p32, t.broadcastRows(pInverse, scoreType))),
                            t.constFloat(255.0, scoreType));
        Value p8 = t.castTo(codes, i8, /*isUnsigned=*/true);
        Value lNew = t.add(t.mul(l, alpha), t.mul(t.reduce(ReduceKind::Sum, codes, 1), pScale));

        // acc = acc * alpha + (P8 V8) * sp * sv.
        Value vTile = LoadOp::create(lb, loc, rowsTile(BN, D, dtype), vBase, ValueRange{n0, zero},
                                     ValueRange{v.rowStride}, ValueRange{seqK, width}, nullptr);
        auto vQuant = quantize(vTile, vPerChannel ? Granularity::Column : Granularity::Tile, D);
        auto pv = DotOp::create(lb, loc, p8, vQuant.getResult(),
                                t.constInt(0, rowsTile(BM, D, i32)));
        pv.setLhsUnsigned(true);
        Value update = t.mul(t.castTo(pv.getResult(), f32), t.broadcastRows(pScale, accType));
        update = t.mul(update, vPerChannel ? t.broadcastColumns(vQuant.getScale(), accType)
                                           : t.splat(vQuant.getScale(), accType));
        Value accNew = t.add(t.mul(acc, t.broadcastRows(alpha, accType)), update);
        scf::YieldOp::create(lb, loc, ValueRange{mNew, lNew, accNew});
      });

  Value m = loop.getResult(0), l = loop.getResult(1), acc = loop.getResult(2);
  Value seen = tb.cmpf(arith::CmpFPredicate::OGT, l, tb.constFloat(0.0, vectorTile(BM, f32)));
  Value lInverse = tb.select(seen, tb.div(tb.constFloat(1.0, vectorTile(BM, f32)), l),
                             tb.constFloat(0.0, vectorTile(BM, f32)));
  Value out = tb.castTo(tb.mul(acc, tb.broadcastRows(lInverse, accType)), dtype);
  StoreOp::create(b, loc, out, oBase, ValueRange{m0, zero}, ValueRange{o.rowStride},
                  ValueRange{seqQ, width});

  if (config.get("write_lse")) {
    // lse = (m + log2 l) * ln 2, one float per (batch, head, row).
    Value heads = NumProgramsOp::create(b, loc, i32, 1);
    Value row0 = arith::MulIOp::create(
        b, loc, arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, batch, heads), head),
        seqQ);
    Value lseBase = AddPtrOp::create(b, loc, lsePtr, arith::ExtUIOp::create(b, loc, i64, row0));
    Value log2l = math::Log2Op::create(b, loc, l);
    Value lse = tb.mul(tb.add(m, log2l), tb.constFloat(std::log(2.0), vectorTile(BM, f32)));
    StoreOp::create(b, loc, lse, lseBase, ValueRange{m0}, ValueRange{}, ValueRange{seqQ});
  }
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace turbo::templates
