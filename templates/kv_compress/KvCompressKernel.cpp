//===- KvCompressKernel.cpp - kv_compress as turbo IR ---------------------===//
//
//   source=tokens, program (KV head h, sequence b, page p):
//     k_tile, v_tile : P x D dtype  <- prompt rows p*P .. p*P+P (0 past the length)
//     k, v codes     : P x D i8 (i16 for 8-bit heads), P f32 (per token)  staged
//     p a pool page: compress -> the page's segment; else (a sink or window
//     page, or p = full pages): the codes and their scales -> the staging
//     slot's rows for page p (pageRow), up to the length
//   source=staging, program (h, b), when the step filled a page:
//     k, v codes     : P x D, P f32     <- the rows of the page leaving the
//                                          window (kv_stage wrote the rest)
//     compress -> its segment; then the step's tokens past the page end,
//     staged -> the rows of the next page (the ones just read)
//   pageRow(q) = q < sink ? q P : (sink + (q - sink) mod (window + 1)) P
//   compress (K per channel over the page, V per token, b = the head's bits):
//     x          : P x D f32  kv::stagedCodeValue(code, scale)
//     lo, hi     : D f32 (K) or P f32 (V)
//     scale, zero: f16 ((hi - lo) / L, lo)
//     codes      : P x D i8   clamp(roundeven((x - zero) / scale), 0, L)
//     stored     : K P x D, V transposed D x P, along rows in the cache's
//                  fragment order (kv::fragmentOrderBits), as are the scales
//     packed     : P x D*b/8 i8 (K), D x P*b/8 i8 (V) -> the segment, with
//                  scales and zeros
//
//===----------------------------------------------------------------------===//
#include "kv_compress/KvCompress.h"
#include "kv_stage/KvStage.h"
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using kv_compress::Arg;
using kv_compress::Source;

namespace {

/// Staged tokens: codes and their per-token scales.
struct Staged {
  Value kCodes, kScale, vCodes, vScale; ///< P x D i8 or i16, P f32 (each)
};

class CompressKernel {
public:
  CompressKernel(OpBuilder &b, const KvCompress::Config &config, func::FuncOp kernel,
                 Signature<Arg> signature, bool stageOnly = false)
      : config(config), stageOnly(stageOnly), b(b), loc(b.getUnknownLoc()), tb(b, loc),
        arg(kernel, std::move(signature)) {
    dtype = elementType(b, config.dtype);
    i8 = b.getI8Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    f16 = b.getF16Type();
    f32 = b.getF32Type();
  }

  void build();

private:
  void fromTokens();
  void fromStaging();
  void stageNew();
  /// Tokens [first, first + P) of (batch, kvHead) of K and V, rows from
  /// `bound` on read as 0, staged.
  Staged stageTokens(OpBuilder &lb, Value first, Value bound);
  Value stageRows(OpBuilder &lb, Value tile, Value &scales);
  void compress(OpBuilder &lb, const Staged &staged, Value pageIndex);
  void compressWidth(OpBuilder &lb, const Staged &staged, Value segment, int width);
  void storeStaged(OpBuilder &lb, const Staged &staged, Value row0, Value rowEnd);
  Staged loadStaged(OpBuilder &lb, Value row0);
  Value pageRow(OpBuilder &lb, Value page) { return stagingPageRow(lb, loc, slot, page); }

  Value wide(OpBuilder &lb, Value v) {
    return v.getType() == i64 ? v : arith::ExtSIOp::create(lb, loc, i64, v).getResult();
  }
  Value elementIndex(OpBuilder &lb, Value bytes, int64_t elementBytes) {
    return alignedElementIndex(lb, loc, bytes, elementBytes);
  }
  void flag(OpBuilder &lb, Value condition, int word) {
    setStatusWord(lb, loc, arg[Arg::Status], condition, word);
  }
  static RankedTensorType tile2(int64_t rows, int64_t cols, Type t) {
    return TileBuilder::tile({rows, cols}, t);
  }
  static RankedTensorType tile1(int64_t n, Type t) { return TileBuilder::tile({n}, t); }

  const KvCompress::Config &config;
  const bool stageOnly; ///< kv_stage: the new tokens before the page end
  const int64_t D = config.headDim, P = config.pageSize;
  const kv::CacheLayout layout = *kv::CacheLayout::create(config.headDim, config.pageSize, {8});

  OpBuilder &b;
  Location loc;
  TileBuilder tb;
  KernelArguments<Arg> arg;
  Type dtype, i8, i32, i64, f16, f32;

  Value kvHead, batch, bits, headOffset, length, slotBase;
  StagingSlot slot;
};

Value CompressKernel::stageRows(OpBuilder &lb, Value tile, Value &scales) {
  TileBuilder t(lb, loc);
  auto floats = tile2(P, D, f32);
  // Non-finite values count as 0 (kv::stageRow).
  Value x = t.castTo(tile, f32);
  Value finite = t.cmpf(arith::CmpFPredicate::OLT, math::AbsFOp::create(lb, loc, x),
                        t.constFloat(INFINITY, floats));
  x = t.select(finite, x, t.constFloat(0.0, floats));
  auto [codes, tokenScales] = stageTokenRows(lb, loc, slot, x);
  scales = tokenScales;
  return codes;
}

Staged CompressKernel::stageTokens(OpBuilder &lb, Value first, Value bound) {
  TileBuilder t(lb, loc);
  Staged s;
  auto load = [&](Arg base, Arg batchStride, Arg headStride, Arg rowStride) {
    Value start = headBase(lb, loc, arg[base], batch, wide(lb, arg[batchStride]), kvHead,
                           wide(lb, arg[headStride]));
    return LoadOp::create(lb, loc, tile2(P, D, dtype), start, ValueRange{first, t.i32(0)},
                          ValueRange{arg[rowStride]}, ValueRange{bound, t.i32(D)}, nullptr)
        .getResult();
  };
  s.kCodes = stageRows(lb, load(Arg::K, Arg::KBatch, Arg::KHead, Arg::KRow), s.kScale);
  s.vCodes = stageRows(lb, load(Arg::V, Arg::VBatch, Arg::VHead, Arg::VRow), s.vScale);
  return s;
}

void CompressKernel::compressWidth(OpBuilder &lb, const Staged &staged, Value segment,
                                   int width) {
  TileBuilder t(lb, loc);
  const kv::SegmentLayout part = layout.segment(width);
  const double levels = double((1 << width) - 1);
  auto floats = tile2(P, D, f32);
  auto group = [&](Value stagedCodes, Value tokenScales, bool perChannel, int64_t codesOffset,
                   int64_t scaleOffset, int64_t zeroOffset) {
    // x : P x D f32, the staged values
    Value x = stagedCodeValues(lb, loc, stagedCodes, tokenScales);
    const unsigned axis = perChannel ? 0 : 1;
    const int64_t n = perChannel ? D : P;
    Value lo = t.reduce(ReduceKind::Min, x, axis), hi = t.reduce(ReduceKind::Max, x, axis);
    Value scale16 = t.castTo(t.div(t.sub(hi, lo), t.constFloat(levels, tile1(n, f32))), f16);
    Value zero16 = t.castTo(lo, f16);
    auto spread = [&](Value v) {
      Value v32 = t.castTo(v, f32);
      return perChannel ? t.broadcastColumns(v32, floats) : t.broadcastRows(v32, floats);
    };
    Value scale = spread(scale16);
    Value q = math::RoundEvenOp::create(lb, loc, t.div(t.sub(x, spread(zero16)), scale));
    q = t.clamp(q, t.constFloat(0.0, floats), t.constFloat(levels, floats));
    // A group with one value throughout (scale 0) and a NaN quotient give 0.
    Value usable = t.cmpf(arith::CmpFPredicate::OGT, scale, t.constFloat(0.0, floats));
    q = t.select(usable, q, t.constFloat(0.0, floats));
    // codes : P x D i8, then as stored: K with its channels in fragment
    // order, V transposed (D x P) with its tokens in fragment order.
    Value codes = t.castTo(t.castTo(q, i32), i8);
    auto inFragmentOrder = [&](Value tile, unsigned axis, int64_t n) {
      return PermuteBitsOp::create(lb, loc, tile.getType(), tile, axis,
                                   llvm::ArrayRef<int32_t>(kv::fragmentOrderInverseBits(n)))
          .getResult();
    };
    int64_t rows = P, cols = D, rowBytes = part.kRowBytes;
    if (!perChannel) {
      codes = TransOp::create(lb, loc, tile2(D, P, i8), codes);
      rows = D, cols = P, rowBytes = part.vRowBytes;
    }
    codes = inFragmentOrder(codes, 1, cols);
    if (width < 8)
      codes = PackOp::create(lb, loc, tile2(rows, rowBytes, i8), codes, width);
    Value codesBase = AddPtrOp::create(lb, loc, arg[Arg::Pool], t.add(segment, t.i64(codesOffset)));
    StoreOp::create(lb, loc, codes, codesBase, ValueRange{t.i32(0), t.i32(0)},
                    ValueRange{t.i32(rowBytes)}, ValueRange{});
    auto storeHalves = [&](Value v, int64_t offset) {
      Value at = elementIndex(lb, t.add(segment, t.i64(offset)), 2);
      StoreOp::create(lb, loc, inFragmentOrder(v, 0, n),
                      AddPtrOp::create(lb, loc, arg[Arg::PoolHalf], at), ValueRange{t.i32(0)},
                      ValueRange{}, ValueRange{});
    };
    storeHalves(scale16, scaleOffset);
    storeHalves(zero16, zeroOffset);
  };
  group(staged.kCodes, staged.kScale, true, part.kCodes, part.kScale, part.kZero);
  group(staged.vCodes, staged.vScale, false, part.vCodes, part.vScale, part.vZero);
}

void CompressKernel::compress(OpBuilder &lb, const Staged &staged, Value pageIndex) {
  TileBuilder t(lb, loc);
  Value entry = loadScalar(lb, loc, arg[Arg::BlockTable],
                           t.add(t.mul(batch, arg[Arg::BlockTableStride]), pageIndex));
  Value bad = arith::OrIOp::create(lb, loc, t.cmpi(arith::CmpIPredicate::slt, entry, t.i32(0)),
                                   t.cmpi(arith::CmpIPredicate::sge, entry, arg[Arg::NumPages]));
  flag(lb, bad, 0);
  Value good = arith::XOrIOp::create(lb, loc, bad, arith::ConstantOp::create(lb, loc, lb.getBoolAttr(true)));
  scf::IfOp::create(lb, loc, good, [&](OpBuilder &ib, Location) {
    TileBuilder g(ib, loc);
    Value segment = g.add(g.mul(wide(ib, entry), wide(ib, arg[Arg::PageBytes])),
                          elementIndex(ib, wide(ib, headOffset), 1));
    if (config.kvBits != KvBits::Mixed) {
      compressWidth(ib, staged, segment, int(config.kvBits));
    } else {
      scf::IfOp::create(
          ib, loc, g.cmpi(arith::CmpIPredicate::eq, bits, g.i32(2)),
          [&](OpBuilder &wb, Location) {
            compressWidth(wb, staged, segment, 2);
            scf::YieldOp::create(wb, loc);
          },
          [&](OpBuilder &wb, Location) {
            compressWidth(wb, staged, segment, 4);
            scf::YieldOp::create(wb, loc);
          });
    }
    scf::YieldOp::create(ib, loc);
  });
}

/// Staged tile row i -> slot row row0 + i, for rows below rowEnd.
void CompressKernel::storeStaged(OpBuilder &lb, const Staged &staged, Value row0, Value rowEnd) {
  TileBuilder t(lb, loc);
  auto codes = [&](Value tile, Value offset) {
    Value base = stagingCodesAt(lb, loc, slot, arg[Arg::Staging], t.add(slotBase, offset));
    StoreOp::create(lb, loc, tile, base, ValueRange{row0, t.i32(0)}, ValueRange{t.i32(D)},
                    ValueRange{rowEnd, t.i32(D)});
  };
  auto scales = [&](Value vector, Value offset) {
    Value at = elementIndex(lb, t.add(slotBase, offset), 4);
    StoreOp::create(lb, loc, vector, AddPtrOp::create(lb, loc, arg[Arg::StagingFloat], at),
                    ValueRange{row0}, ValueRange{}, ValueRange{rowEnd});
  };
  codes(staged.kCodes, t.i64(0));
  codes(staged.vCodes, slot.vCodes);
  scales(staged.kScale, slot.kScale);
  scales(staged.vScale, slot.vScale);
}

/// Slot rows row0 .. row0 + P.
Staged CompressKernel::loadStaged(OpBuilder &lb, Value row0) {
  TileBuilder t(lb, loc);
  Value codesRow = t.mul(wide(lb, row0), t.i64(D * slot.codeBytes)),
        scaleRow = t.mul(wide(lb, row0), t.i64(4));
  auto codes = [&](Value offset) {
    Value base =
        stagingCodesAt(lb, loc, slot, arg[Arg::Staging], t.add(slotBase, t.add(offset, codesRow)));
    return LoadOp::create(lb, loc, tile2(P, D, slot.codeType), base, ValueRange{t.i32(0), t.i32(0)},
                          ValueRange{t.i32(D)}, ValueRange{}, nullptr)
        .getResult();
  };
  auto scales = [&](Value offset) {
    Value at = elementIndex(lb, t.add(slotBase, t.add(offset, scaleRow)), 4);
    return LoadOp::create(lb, loc, tile1(P, f32),
                          AddPtrOp::create(lb, loc, arg[Arg::StagingFloat], at),
                          ValueRange{t.i32(0)}, ValueRange{}, ValueRange{}, nullptr)
        .getResult();
  };
  return {codes(t.i64(0)), scales(slot.kScale), codes(slot.vCodes), scales(slot.vScale)};
}

void CompressKernel::build() {
  kvHead = ProgramIdOp::create(b, loc, i32, 0);
  batch = ProgramIdOp::create(b, loc, i32, 1);
  Value table = arg[Arg::HeadTable];
  bits = loadScalar(b, loc, table, tb.mul(kvHead, tb.i32(2)));
  headOffset = loadScalar(b, loc, table, tb.add(tb.mul(kvHead, tb.i32(2)), tb.i32(1)));
  length = arith::MaxSIOp::create(b, loc, loadScalar(b, loc, arg[Arg::SeqLens], batch), tb.i32(0));
  slot = stagingSlot(b, loc, arg[Arg::SinkPages], arg[Arg::WindowPages], P, D, config.kvBits);
  slotBase = tb.add(tb.mul(wide(b, batch), wide(b, arg[Arg::StagingSlotBytes])),
                    tb.mul(wide(b, kvHead), slot.headBytes));
  if (stageOnly)
    stageNew();
  else if (config.source == Source::Tokens)
    fromTokens();
  else
    fromStaging();
  func::ReturnOp::create(b, loc);
}

void CompressKernel::fromTokens() {
  Value page = ProgramIdOp::create(b, loc, i32, 2);
  // The prompt: at most num_new tokens and the block table's pages plus a
  // staging block (a longer one is cut: status word 1).
  Value most = arith::MinSIOp::create(
      b, loc, arg[Arg::NumNew], tb.add(tb.mul(arg[Arg::MaxPages], tb.i32(P)), tb.i32(P - 1)));
  flag(b, tb.cmpi(arith::CmpIPredicate::sgt, length, most), 1);
  Value len = arith::MinSIOp::create(b, loc, length, most);
  Value full = arith::DivSIOp::create(b, loc, len, tb.i32(P));
  Value first = tb.mul(page, tb.i32(P));
  Value isFull = tb.cmpi(arith::CmpIPredicate::slt, page, full);
  Value isTail = arith::AndIOp::create(b, loc, tb.cmpi(arith::CmpIPredicate::eq, page, full),
                                       tb.cmpi(arith::CmpIPredicate::sgt, len, first));
  Value any = arith::OrIOp::create(b, loc, isFull, isTail);
  // A full page goes to the pool unless the cache keeps it staged.
  Value inPool = arith::AndIOp::create(
      b, loc, tb.cmpi(arith::CmpIPredicate::sge, page, slot.sink),
      tb.cmpi(arith::CmpIPredicate::slt, page, tb.sub(full, slot.window)));
  Value toPool = arith::AndIOp::create(b, loc, isFull, inPool);
  scf::IfOp::create(b, loc, any, [&](OpBuilder &ib, Location) {
    TileBuilder t(ib, loc);
    Staged staged = stageTokens(ib, first, len);
    scf::IfOp::create(
        ib, loc, toPool,
        [&](OpBuilder &fb, Location) {
          compress(fb, staged, page);
          scf::YieldOp::create(fb, loc);
        },
        [&](OpBuilder &sb, Location) {
          TileBuilder s(sb, loc);
          Value row0 = pageRow(sb, page);
          storeStaged(sb, staged, row0,
                      s.add(row0, arith::MinSIOp::create(sb, loc, s.sub(len, first), s.i32(P))));
          scf::YieldOp::create(sb, loc);
        });
    scf::YieldOp::create(ib, loc);
  });
}

void CompressKernel::fromStaging() {
  Value numNew = arg[Arg::NumNew];
  Value row0 = arith::RemSIOp::create(b, loc, length, tb.i32(P));
  Value filled = tb.cmpi(arith::CmpIPredicate::sge, tb.add(row0, numNew), tb.i32(P));
  scf::IfOp::create(b, loc, filled, [&](OpBuilder &ib, Location) {
    TileBuilder t(ib, loc);
    Value pageIndex = arith::DivSIOp::create(ib, loc, length, t.i32(P));
    Value inTable = t.cmpi(arith::CmpIPredicate::slt, pageIndex, arg[Arg::MaxPages]);
    flag(ib, arith::XOrIOp::create(ib, loc, inTable,
                                   arith::ConstantOp::create(ib, loc, ib.getBoolAttr(true))),
         1);
    // The page leaving the window (kv::CacheLayout::pageLeavingWindow),
    // if it is not a sink page, goes to the pool.
    Value leaving = t.sub(pageIndex, slot.window);
    Value compressIt = arith::AndIOp::create(
        ib, loc, inTable, t.cmpi(arith::CmpIPredicate::sge, leaving, slot.sink));
    scf::IfOp::create(ib, loc, compressIt, [&](OpBuilder &cb, Location) {
      compress(cb, loadStaged(cb, pageRow(cb, leaving)), leaving);
      scf::YieldOp::create(cb, loc);
    });
    // The step's tokens past the page end: new token P - row0 + i -> the
    // next page's row i (the rows just read when there is no sink page
    // between).
    Value firstAfter = t.sub(t.i32(P), row0);
    Staged after = stageTokens(ib, firstAfter, numNew);
    Value nextRow = pageRow(ib, t.add(pageIndex, t.i32(1)));
    storeStaged(ib, after, nextRow, t.add(nextRow, t.sub(numNew, firstAfter)));
    scf::YieldOp::create(ib, loc);
  });
}

/// kv_stage: new token i -> staging row stagingRow(len + i), up to the page end.
void CompressKernel::stageNew() {
  Value inPage = arith::RemSIOp::create(b, loc, length, tb.i32(P));
  Value pageStart = pageRow(b, arith::DivSIOp::create(b, loc, length, tb.i32(P)));
  Value rowEnd = tb.add(pageStart, arith::MinSIOp::create(
                                       b, loc, tb.add(inPage, arg[Arg::NumNew]), tb.i32(P)));
  storeStaged(b, stageTokens(b, tb.i32(0), arg[Arg::NumNew]), tb.add(pageStart, inPage),
              rowEnd);
}

} // namespace

template <>
OwningOpRef<ModuleOp> buildKernel<KvStage>(MLIRContext &context, const KvStage::Config &config,
                                           std::string_view target) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  const Signature<Arg> signature = KvStage::signature(config);
  CompressKernel kernel(b, config, createKernel<KvStage>(b, *module, config, signature, target),
                        signature, /*stageOnly=*/true);
  kernel.build();
  return module;
}

template <>
OwningOpRef<ModuleOp> buildKernel<KvCompress>(MLIRContext &context,
                                              const KvCompress::Config &config,
                                              std::string_view target) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  const Signature<Arg> signature = KvCompress::signature(config);
  CompressKernel kernel(b, config, createKernel<KvCompress>(b, *module, config, signature, target),
                        signature);
  kernel.build();
  return module;
}

} // namespace turbo::templates
