//===- AttentionDecodeKernel.cpp - decode over the paged cache as turbo IR ===//
//
// One program per (KV head h, sequence b, split s); DecodeKernel's phases:
//
//   setup      the head's bits and page offset (head table), the sequence's
//              length (cut to the block table), this split's pool pages (of
//              [sink, max(sink, full pages - window)))
//   loadQuery  q_tile : BQ x D dtype  rows g * n + t of the group, 0 past them
//              limit  : BQ i32        the last key row r may see: len - n + t
//   pageLoop   for each page of the split (one loop per width the head may
//              have), carrying m, l, acc (BQ, BQ x P, BQ x D) and the next page
//              (with num_stages > 1 the next pages come through shared
//              memory instead, turbo-pipeline-loads' cp.async ring):
//     loadRaw    k words : P x D*b/32 i32, v words : D x P*b/32 i32, scales
//                          and zeros: the next page's bytes
//     decodePage k codes : P x D f16, v codes : D x P f16, unpacked, in the
//                          cache's fragment order
//                kT      : D x P dtype  fma.f16(code, scale, zero), transposed
//                v       : P x D dtype  and permuted back to channel and token
//                          order: only a relabeling of the mma operands'
//                          registers, no exchange between threads
//     step       s       : BQ x P f32   q k^T, masked past what a row may see
//                p       : BQ x P f16   SAS 2^(s * scale_log2 - blockMax)
//                acc     = acc * 2^(m - m') + (p v) * 2^(blockMax - m')
//                l       : BQ x P f32, the same for p's columns (row sums
//                          taken once, in store: no barriers per page)
//   staging    the last split: the staged pages (sink pages, the window and
//              the page being filled) from the sequence's staging slot, one
//              step each, k, v = f16(kv::stagedCodeValue(code, scale)) per
//              token
//   store      one split: O = acc / l; several: acc / l and lse (log2) of
//              rows < group * n into the workspace for decode_reduce
//
// With keys_in_m the products are transposed: s^T = k q^T (P x BQ) and
// acc^T += v^T p^T (D x BQ), the page's K and V^T the mma's A operands as
// they are stored (only their fragment-ordered dim permuted back), the
// query rows in N: BQ = group * n padded to 8, not 16 (BM, the rows of the
// workspace decode_reduce reads, stays padded to 16).
//
// The CPU reference (AttentionDecodeReference.cpp) does the same steps.
//
//===----------------------------------------------------------------------===//
#include "attention_decode/AttentionDecode.h"
#include "turbo/Templates/Builders.h"

#include "turbo/Dialect/TileBuilder.h"
#include "turbo/Support/Targets.h"

#include <cmath>

using namespace mlir;
using namespace mlir::turbo;

namespace turbo::templates {

using attention_decode::Arg;

namespace {

/// Shapes for BQ query rows (keys_in_m: transposed, as the products are).
struct RunningSums {
  Value m;   ///< BQ f32: the running max (an integer, log2 units, or -inf)
  Value l;   ///< BQ x P f32 (P x BQ): each key's share of the row sums, added
             ///< up once in store (a row sum per page would cost two barriers)
  Value acc; ///< BQ x D f32 (D x BQ)
};

/// One block of keys as the step takes it.
struct KeyBlock {
  Value k;          ///< D x P dtype, the scores' B operand (P x D, their A operand)
  Value v;          ///< P x D dtype, the second product's B operand (D x P, its A operand)
  Value start;      ///< i32: the position of its first key
  Value valid;      ///< i32: keys of it that exist (P, fewer in the page being filled, 0 if bad)
};

/// Where a page's segment lies: its block-table entry (one outside the pool
/// reads page 0 instead, and says so).
struct PageAt {
  Value segment; ///< i64: byte offset of the head's segment in the pool
  Value bad;     ///< i1: the block-table entry lies outside the pool
};

/// One page's bytes as loaded (`prefetch` says which of them are loaded a
/// page ahead of their use: registers hide the loads' latency behind the
/// previous page's arithmetic).
struct RawPage {
  Value kPacked;          ///< P x D*b/32 i32: token rows
  Value vPacked;          ///< D x P*b/32 i32: channel rows
  Value kScale, kZero;    ///< D/2 i32: D f16 as pairs (split where used, so
  Value vScale, vZero;    ///< P/2 i32: P f16   a page ahead they stay words)
  Value bad;              ///< i1: the block-table entry lies outside the pool
  SmallVector<Value> codes() const { return {kPacked, vPacked, bad}; }
  SmallVector<Value> scales() const { return {kScale, kZero, vScale, vZero}; }
  void setCodes(ValueRange v) { kPacked = v[0], vPacked = v[1], bad = v[2]; }
  void setScales(ValueRange v) { kScale = v[0], kZero = v[1], vScale = v[2], vZero = v[3]; }
};

class DecodeKernel {
public:
  DecodeKernel(OpBuilder &b, const AttentionDecode::Config &config, func::FuncOp kernel,
               Signature<Arg> signature)
      : config(config), b(b), loc(b.getUnknownLoc()), tb(b, loc),
        arg(kernel, std::move(signature)) {
    dtype = elementType(b, config.dtype);
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    f16 = b.getF16Type();
    f32 = b.getF32Type();
  }

  void setup();
  void loadQuery();
  RunningSums pageLoop();
  RunningSums staging(RunningSums sums);
  void store(RunningSums sums);

private:
  RunningSums pageLoop(OpBuilder &lb, int width, RunningSums sums);
  PageAt pageAt(OpBuilder &lb, Value pageIndex);
  void loadCodes(OpBuilder &lb, const PageAt &at, int width, RawPage &raw);
  void loadScales(OpBuilder &lb, const PageAt &at, int width, RawPage &raw);
  KeyBlock decodePage(OpBuilder &lb, const RawPage &raw, Value page, int width);
  RunningSums step(OpBuilder &lb, const KeyBlock &block, RunningSums sums);

  Value elementIndex(OpBuilder &lb, Value bytes, int64_t elementBytes) {
    return alignedElementIndex(lb, loc, bytes, elementBytes);
  }
  void flag(OpBuilder &lb, Value condition, int word) {
    setStatusWord(lb, loc, arg[Arg::Status], condition, word);
  }
  Value wide(OpBuilder &lb, Value v) {
    return v.getType() == i64 ? v : arith::ExtSIOp::create(lb, loc, i64, v).getResult();
  }
  static RankedTensorType tile2(int64_t rows, int64_t cols, Type t) {
    return TileBuilder::tile({rows, cols}, t);
  }
  static RankedTensorType tile1(int64_t n, Type t) { return TileBuilder::tile({n}, t); }

  const AttentionDecode::Config &config;
  const int64_t D = config.headDim, P = config.pageSize;
  const int64_t BM = attention_decode::blockRows(config);
  const bool keysInM = config.keysInM != 0;
  const int64_t BQ = attention_decode::tileRows(config);
  /// Tiles of query rows by keys (or channels), in the products' orientation.
  RankedTensorType byQuery(int64_t n, Type t) const {
    return keysInM ? tile2(n, BQ, t) : tile2(BQ, n, t);
  }
  /// A vector over query rows (or over keys) repeated along the other dim.
  Value perQuery(TileBuilder &t, Value vector, RankedTensorType type) const {
    return keysInM ? t.broadcastColumns(vector, type) : t.broadcastRows(vector, type);
  }
  Value perKey(TileBuilder &t, Value vector, RankedTensorType type) const {
    return keysInM ? t.broadcastRows(vector, type) : t.broadcastColumns(vector, type);
  }
  unsigned keyAxis() const { return keysInM ? 0 : 1; }
  const kv::CacheLayout layout =
      *kv::CacheLayout::create(config.headDim, config.pageSize, {8});

  OpBuilder &b;
  Location loc;
  TileBuilder tb;
  KernelArguments<Arg> arg;
  Type dtype, i32, i64, f16, f32;

  // setup
  Value kvHead, batch, split, splits, bits, headOffset, length, numQuery, fullPages, firstPage,
      lastPage, poolEnd, stagingBase;
  StagingSlot slot;
  // loadQuery
  Value q; ///< BQ x D dtype (keys_in_m: D x BQ, q^T)
  Value rowLimit, firstLimit;
  Value queryRows; ///< i32: group * n, the rows that exist (the rest pad to BQ)
};

void DecodeKernel::setup() {
  kvHead = ProgramIdOp::create(b, loc, i32, 0);
  batch = ProgramIdOp::create(b, loc, i32, 1);
  split = ProgramIdOp::create(b, loc, i32, 2);
  splits = NumProgramsOp::create(b, loc, i32, 2);
  Value table = arg[Arg::HeadTable];
  bits = loadScalar(b, loc, table, tb.mul(kvHead, tb.i32(2)));
  headOffset = loadScalar(b, loc, table, tb.add(tb.mul(kvHead, tb.i32(2)), tb.i32(1)));
  numQuery = arg[Arg::NumQuery];
  // len in [0, max_pages * P + P - 1]: the block table's pages and a staging
  // block; a longer one is cut (status word 1).
  Value given = loadScalar(b, loc, arg[Arg::SeqLens], batch);
  Value most = tb.add(tb.mul(arg[Arg::MaxPages], tb.i32(P)), tb.i32(P - 1));
  flag(b, arith::OrIOp::create(b, loc, tb.cmpi(arith::CmpIPredicate::sgt, given, most),
                               tb.cmpi(arith::CmpIPredicate::slt, given, tb.i32(0))),
       1);
  length = arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, given, tb.i32(0)), most);
  fullPages = arith::DivSIOp::create(b, loc, length, tb.i32(P));
  // The pool holds pages [sink, poolEnd) (kv::CacheLayout::inPool).
  slot = stagingSlot(b, loc, arg[Arg::SinkPages], arg[Arg::WindowPages], P, D, config.kvBits);
  poolEnd = arith::MaxSIOp::create(b, loc, slot.sink, tb.sub(fullPages, slot.window));
  Value perSplit = arg[Arg::PagesPerSplit];
  firstPage =
      arith::MinSIOp::create(b, loc, tb.add(slot.sink, tb.mul(split, perSplit)), poolEnd);
  lastPage = arith::MinSIOp::create(b, loc, tb.add(firstPage, perSplit), poolEnd);
  stagingBase = tb.add(tb.mul(wide(b, batch), wide(b, arg[Arg::StagingSlotBytes])),
                       tb.mul(wide(b, kvHead), slot.headBytes));
}

void DecodeKernel::loadQuery() {
  // q_tile : BQ x D dtype, rows g * n + t of heads kv_head * group + g
  queryRows = tb.mul(tb.i32(config.group), numQuery);
  Value qBase = headBase(b, loc, arg[Arg::Q], batch, wide(b, arg[Arg::QBatch]),
                         tb.mul(kvHead, tb.i32(config.group)), wide(b, arg[Arg::QHead]));
  q = LoadOp::create(b, loc, tile2(BQ, D, dtype), qBase, ValueRange{tb.i32(0), tb.i32(0)},
                     ValueRange{arg[Arg::QRow]}, ValueRange{queryRows, tb.i32(D)}, nullptr);
  if (keysInM)
    q = TransOp::create(b, loc, tile2(D, BQ, dtype), q);
  // limit : BQ i32 = len - n + (r mod n): row r's token sees keys up to it.
  auto rowInts = tile1(BQ, i32);
  Value r = RangeOp::create(b, loc, rowInts, 0, int32_t(BQ));
  Value token = arith::RemUIOp::create(b, loc, r, tb.splat(numQuery, rowInts));
  firstLimit = arith::SubIOp::create(b, loc, length, numQuery);
  rowLimit = tb.add(token, tb.splat(firstLimit, rowInts));
}

/// The page `pageIndex` of this sequence: its block-table entry (one
/// outside the pool reads page 0 instead, and says so in status word 0).
PageAt DecodeKernel::pageAt(OpBuilder &lb, Value pageIndex) {
  TileBuilder t(lb, loc);
  Value entry = loadScalar(lb, loc, arg[Arg::BlockTable],
                           t.add(t.mul(batch, arg[Arg::BlockTableStride]), pageIndex));
  PageAt at;
  at.bad = arith::OrIOp::create(lb, loc, t.cmpi(arith::CmpIPredicate::slt, entry, t.i32(0)),
                                t.cmpi(arith::CmpIPredicate::sge, entry, arg[Arg::NumPages]));
  Value page = t.select(at.bad, t.i32(0), entry);
  at.segment = t.add(t.mul(wide(lb, page), wide(lb, arg[Arg::PageBytes])),
                     elementIndex(lb, wide(lb, headOffset), 1));
  return at;
}

/// packed : rows x rowBytes/4 i32 (codes read a word at a time), inside the
/// pool (checked on the host).
void DecodeKernel::loadCodes(OpBuilder &lb, const PageAt &at, int width, RawPage &raw) {
  TileBuilder t(lb, loc);
  const kv::SegmentLayout part = layout.segment(width);
  auto packed = [&](int64_t offset, int64_t rows, int64_t rowBytes) -> Value {
    Value word = elementIndex(lb, t.add(at.segment, t.i64(offset)), 4);
    return LoadOp::create(lb, loc, tile2(rows, rowBytes / 4, i32),
                          AddPtrOp::create(lb, loc, arg[Arg::Pool], word),
                          ValueRange{t.i32(0), t.i32(0)}, ValueRange{t.i32(rowBytes / 4)},
                          ValueRange{}, nullptr);
  };
  raw.kPacked = packed(part.kCodes, P, part.kRowBytes);
  raw.vPacked = packed(part.vCodes, D, part.vRowBytes);
  raw.bad = at.bad;
}

/// halves : n f16 read as n/2 words.
void DecodeKernel::loadScales(OpBuilder &lb, const PageAt &at, int width, RawPage &raw) {
  TileBuilder t(lb, loc);
  const kv::SegmentLayout part = layout.segment(width);
  auto halves = [&](int64_t offset, int64_t n) -> Value {
    Value word = elementIndex(lb, t.add(at.segment, t.i64(offset)), 4);
    return LoadOp::create(lb, loc, tile1(n / 2, i32), AddPtrOp::create(lb, loc, arg[Arg::Pool], word),
                          ValueRange{t.i32(0)}, ValueRange{}, ValueRange{}, nullptr);
  };
  raw.kScale = halves(part.kScale, D);
  raw.kZero = halves(part.kZero, D);
  raw.vScale = halves(part.vScale, P);
  raw.vZero = halves(part.vZero, P);
}

/// k : D x P (keys_in_m: P x D) and v : P x D (D x P) dtype = fma.f16(code,
/// scale, zero): K's scale and zero per channel, V's per token, all in the
/// cache's fragment order until the permutation back.
KeyBlock DecodeKernel::decodePage(OpBuilder &lb, const RawPage &raw, Value pageIndex, int width) {
  TileBuilder t(lb, loc);
  flag(lb, raw.bad, 0);
  // stored : rows x cols dtype, per-column scale and zero
  auto values = [&](Value packed, int64_t rows, int64_t cols, Value scale, Value zero) {
    auto halfTile = tile2(rows, cols, f16);
    auto halves = [&](Value words) {
      return SplitWordsOp::create(lb, loc, tile1(cols, f16), words).getResult();
    };
    scale = halves(scale);
    zero = halves(zero);
    // codes : rows x cols f16, exact
    Value codes = UnpackOp::create(lb, loc, halfTile, packed, width);
    Value x = math::FmaOp::create(lb, loc, codes, t.broadcastColumns(scale, halfTile),
                                  t.broadcastColumns(zero, halfTile));
    return dtype.isF16() ? x : t.castTo(t.castTo(x, f32), dtype);
  };
  // Stored order back to channel (K) and token (V) order.
  auto unpermute = [&](Value stored, int64_t n) {
    auto type = cast<RankedTensorType>(stored.getType());
    if (keysInM) // as stored: rows x (fragment-ordered) columns
      return PermuteBitsOp::create(lb, loc, type, stored, 1,
                                   llvm::ArrayRef<int32_t>(kv::fragmentOrderBits(n)))
          .getResult();
    auto transposed = tile2(type.getDimSize(1), type.getDimSize(0), dtype);
    Value flipped = TransOp::create(lb, loc, transposed, stored);
    return PermuteBitsOp::create(lb, loc, transposed, flipped, 0,
                                 llvm::ArrayRef<int32_t>(kv::fragmentOrderBits(n)))
        .getResult();
  };
  KeyBlock block;
  block.k = unpermute(values(raw.kPacked, P, D, raw.kScale, raw.kZero), D);
  // A bad page's values are 0 (its keys carry p = 0, and 0 times a NaN read
  // from the page in its place would still be NaN): V's scale and zero are
  // 0 there. K needs nothing: its scores are masked to -inf.
  Value bad = t.splat(raw.bad, tile1(P / 2, lb.getI1Type()));
  Value none = t.constInt(0, tile1(P / 2, i32));
  block.v = unpermute(values(raw.vPacked, D, P, t.select(bad, none, raw.vScale),
                             t.select(bad, none, raw.vZero)),
                      P);
  block.start = t.mul(pageIndex, t.i32(P));
  block.valid = t.select(raw.bad, t.i32(0), t.i32(P));
  return block;
}

RunningSums DecodeKernel::step(OpBuilder &lb, const KeyBlock &block, RunningSums sums) {
  TileBuilder t(lb, loc);
  auto scoreType = byQuery(P, f32);
  auto rowVector = tile1(BQ, f32);
  // s : BQ x P f32 = q k^T (keys_in_m: P x BQ = k q^T)
  Value s = keysInM ? DotOp::create(lb, loc, block.k, q, t.constFloat(0.0, scoreType))
                    : DotOp::create(lb, loc, q, block.k, t.constFloat(0.0, scoreType));
  // Masked where the block has fewer keys or crosses the first row's limit.
  Value needsMask = arith::OrIOp::create(
      lb, loc, t.cmpi(arith::CmpIPredicate::slt, block.valid, t.i32(P)),
      t.cmpi(arith::CmpIPredicate::sgt, t.add(block.start, t.i32(P - 1)), firstLimit));
  auto masked = scf::IfOp::create(
      lb, loc, needsMask,
      [&](OpBuilder &mb, Location) {
        TileBuilder m(mb, loc);
        auto ints = byQuery(P, i32);
        Value local = RangeOp::create(mb, loc, tile1(P, i32), 0, int32_t(P));
        Value localTile = perKey(m, local, ints);
        Value keyTile = m.add(localTile, m.splat(block.start, ints));
        Value exists = m.cmpi(arith::CmpIPredicate::slt, localTile, m.splat(block.valid, ints));
        Value visible = m.cmpi(arith::CmpIPredicate::sle, keyTile, perQuery(m, rowLimit, ints));
        Value valid = arith::AndIOp::create(mb, loc, exists, visible);
        scf::YieldOp::create(mb, loc, m.select(valid, s, m.constFloat(-INFINITY, scoreType)));
      },
      [&](OpBuilder &mb, Location) { scf::YieldOp::create(mb, loc, s); });
  s = masked.getResult(0);

  // x = s * scale_log2; the block's max as an integer (ceil) and the
  // running max: the rescales are exact powers of two.
  Value x = t.mul(s, t.splat(arg[Arg::ScaleLog2], scoreType));
  Value minusInf = t.constFloat(-INFINITY, rowVector), zeroRow = t.constFloat(0.0, rowVector);
  Value blockMax = math::CeilOp::create(lb, loc, t.reduce(ReduceKind::Max, x, keyAxis()));
  Value mNew = t.max(sums.m, blockMax);
  Value mUse = t.select(t.cmpf(arith::CmpFPredicate::OEQ, mNew, minusInf), zeroRow, mNew);
  Value seen = t.cmpf(arith::CmpFPredicate::OGT, blockMax, minusInf);
  Value blockUse = t.select(seen, blockMax, mUse);
  // p : BQ x P f16, counted from the block's own max: a page of small
  // probabilities far below the running max keeps its relative weights
  // (SAS zeroes only what lies 2^-threshold below its own page's max).
  auto expPoly = ExpPolyOp::create(lb, loc, byQuery(P, f16),
                                   t.sub(x, perQuery(t, blockUse, scoreType)),
                                   config.sasDegree, config.sasThreshold, ExpBase::Two, nullptr);
  Value p = expPoly.getResult();
  Value alpha = powerOfTwo(lb, loc, t.sub(sums.m, mUse));
  Value blockScale = powerOfTwo(
      lb, loc, arith::MaxNumFOp::create(lb, loc, t.sub(blockUse, mUse), t.constFloat(-64.0, rowVector)));
  // acc : BQ x D f32 = acc * alpha + (p v) * blockScale (keys_in_m: D x BQ, v^T p^T)
  auto accType = byQuery(D, f32);
  Value pIn = dtype.isF16() ? p : t.castTo(t.castTo(p, f32), dtype);
  Value pv = keysInM ? DotOp::create(lb, loc, block.v, pIn, t.constFloat(0.0, accType))
                     : DotOp::create(lb, loc, pIn, block.v, t.constFloat(0.0, accType));
  Value acc = math::FmaOp::create(lb, loc, pv, perQuery(t, blockScale, accType),
                                  t.mul(sums.acc, perQuery(t, alpha, accType)));
  Value l = math::FmaOp::create(lb, loc, t.castTo(p, f32), perQuery(t, blockScale, scoreType),
                                t.mul(sums.l, perQuery(t, alpha, scoreType)));
  return {mNew, l, acc};
}

RunningSums DecodeKernel::pageLoop() {
  RunningSums start{tb.constFloat(-INFINITY, tile1(BQ, f32)), tb.constFloat(0.0, byQuery(P, f32)),
                    tb.constFloat(0.0, byQuery(D, f32))};
  if (config.kvBits != KvBits::Mixed)
    return pageLoop(b, int(config.kvBits), start);
  // Headwise mixed: the head's width picks one of two loops.
  auto branch = scf::IfOp::create(
      b, loc, tb.cmpi(arith::CmpIPredicate::eq, bits, tb.i32(2)),
      [&](OpBuilder &ib, Location) {
        RunningSums sums = pageLoop(ib, 2, start);
        scf::YieldOp::create(ib, loc, ValueRange{sums.m, sums.l, sums.acc});
      },
      [&](OpBuilder &ib, Location) {
        RunningSums sums = pageLoop(ib, 4, start);
        scf::YieldOp::create(ib, loc, ValueRange{sums.m, sums.l, sums.acc});
      });
  return {branch.getResult(0), branch.getResult(1), branch.getResult(2)};
}

/// The split's pages at `width` bits, the part of each page's bytes that
/// `prefetch` names loaded one iteration ahead (the last iteration loads
/// its own page again: a read that stays in bounds and is not used).
RunningSums DecodeKernel::pageLoop(OpBuilder &ob, int width, RunningSums sums) {
  TileBuilder t(ob, loc);
  // With shared-memory stages (turbo-pipeline-loads) the loads stay in the
  // iteration that uses them: the pass copies them num_stages - 1 pages ahead.
  const bool inRegisters = config.numStages == 1;
  const bool aheadCodes = inRegisters && config.prefetch >= 1,
             aheadScales = inRegisters && config.prefetch >= 2;
  // A split with no pages prefetches within the block table's row (with
  // sink pages past max_pages, lastPage - 1 can lie beyond it).
  Value lastIndex = arith::MinSIOp::create(
      ob, loc, arith::MaxSIOp::create(ob, loc, t.sub(lastPage, t.i32(1)), t.i32(0)),
      t.sub(arg[Arg::MaxPages], t.i32(1)));
  SmallVector<Value> carried = {sums.m, sums.l, sums.acc};
  if (aheadCodes) {
    PageAt first = pageAt(ob, arith::MinSIOp::create(ob, loc, firstPage, lastIndex));
    RawPage raw;
    loadCodes(ob, first, width, raw);
    llvm::append_range(carried, raw.codes());
    if (aheadScales) {
      loadScales(ob, first, width, raw);
      llvm::append_range(carried, raw.scales());
    }
  }
  auto loop = scf::ForOp::create(
      ob, loc, firstPage, lastPage, t.i32(1), carried,
      [&](OpBuilder &lb, Location, Value page, ValueRange values) {
        TileBuilder l(lb, loc);
        RawPage now, next;
        SmallVector<Value> yieldedAhead;
        if (aheadCodes) {
          PageAt ahead =
              pageAt(lb, arith::MinSIOp::create(lb, loc, l.add(page, l.i32(1)), lastIndex));
          loadCodes(lb, ahead, width, next);
          llvm::append_range(yieldedAhead, next.codes());
          now.setCodes(values.slice(3, 3));
          if (aheadScales) {
            loadScales(lb, ahead, width, next);
            llvm::append_range(yieldedAhead, next.scales());
            now.setScales(values.slice(6, 4));
          }
        }
        if (!aheadCodes || !aheadScales) {
          PageAt here = pageAt(lb, page);
          if (!aheadCodes)
            loadCodes(lb, here, width, now);
          loadScales(lb, here, width, now);
        }
        RunningSums out = step(lb, decodePage(lb, now, page, width),
                               {values[0], values[1], values[2]});
        SmallVector<Value> yielded = {out.m, out.l, out.acc};
        llvm::append_range(yielded, yieldedAhead);
        scf::YieldOp::create(lb, loc, yielded);
      });
  return {loop.getResult(0), loop.getResult(1), loop.getResult(2)};
}

/// The staged pages, in kv::CacheLayout::stagedPages' order: j < nSink is
/// sink page j, the rest pages poolEnd, poolEnd + 1, ... up to the page
/// being filled; page q's rows start at stagingPageRow(q).
RunningSums DecodeKernel::staging(RunningSums sums) {
  Value withTokens = arith::DivSIOp::create(b, loc, tb.add(length, tb.i32(P - 1)), tb.i32(P));
  Value nSink = arith::MinSIOp::create(b, loc, slot.sink, withTokens);
  Value count = tb.add(nSink, arith::MaxSIOp::create(b, loc, tb.sub(withTokens, poolEnd), tb.i32(0)));
  Value lastSplit = tb.cmpi(arith::CmpIPredicate::eq, split, tb.sub(splits, tb.i32(1)));
  count = tb.select(lastSplit, count, tb.i32(0));
  auto loop = scf::ForOp::create(
      b, loc, tb.i32(0), count, tb.i32(1), ValueRange{sums.m, sums.l, sums.acc},
      [&](OpBuilder &ib, Location, Value j, ValueRange values) {
        TileBuilder t(ib, loc);
        Value page = t.select(t.cmpi(arith::CmpIPredicate::slt, j, nSink), j,
                              t.add(poolEnd, t.sub(j, nSink)));
        Value row0 = stagingPageRow(ib, loc, slot, page);
        Value tail = arith::MinSIOp::create(ib, loc, t.sub(length, t.mul(page, t.i32(P))), t.i32(P));
        Value rowBytes = t.mul(wide(ib, row0), t.i64(D * slot.codeBytes)),
              rowScale = t.mul(wide(ib, row0), t.i64(4));
        // codes : P x D i8 (i16 for 8-bit heads), scales : P f32 per token
        auto rows = [&](Value codesOffset, Value scaleOffset) {
          Value base = stagingCodesAt(ib, loc, slot, arg[Arg::Staging],
                                      t.add(stagingBase, t.add(codesOffset, rowBytes)));
          Value codes = LoadOp::create(ib, loc, tile2(P, D, slot.codeType), base,
                                       ValueRange{t.i32(0), t.i32(0)}, ValueRange{t.i32(D)},
                                       ValueRange{}, nullptr);
          Value at = elementIndex(ib, t.add(stagingBase, t.add(scaleOffset, rowScale)), 4);
          Value scales = LoadOp::create(ib, loc, tile1(P, f32),
                                        AddPtrOp::create(ib, loc, arg[Arg::StagingFloat], at),
                                        ValueRange{t.i32(0)}, ValueRange{}, ValueRange{}, nullptr);
          // A scale that is not finite (staging rows past what was written,
          // read after a length was cut) counts as 0.
          Value finite = t.cmpf(arith::CmpFPredicate::OLT, math::AbsFOp::create(ib, loc, scales),
                                t.constFloat(INFINITY, tile1(P, f32)));
          scales = t.select(finite, scales, t.constFloat(0.0, tile1(P, f32)));
          return t.castTo(stagedCodeValues(ib, loc, codes, scales), dtype);
        };
        // Rows past the staged ones hold whatever the slot held (a code
        // times a finite scale can still overflow f16): their keys carry
        // p = 0, and their values are set to 0, since 0 times inf is NaN.
        KeyBlock block;
        Value k = rows(t.i64(0), slot.kScale);
        block.k = keysInM ? k : TransOp::create(ib, loc, tile2(D, P, dtype), k).getResult();
        Value keys = RangeOp::create(ib, loc, tile1(P, i32), 0, int32_t(P));
        Value staged = t.broadcastRows(t.cmpi(arith::CmpIPredicate::slt, keys,
                                              t.splat(tail, tile1(P, i32))),
                                       tile2(P, D, ib.getI1Type()));
        block.v = t.select(staged, rows(slot.vCodes, slot.vScale),
                           t.constFloat(0.0, tile2(P, D, dtype)));
        if (keysInM)
          block.v = TransOp::create(ib, loc, tile2(D, P, dtype), block.v);
        block.start = t.mul(page, t.i32(P));
        block.valid = tail;
        RunningSums out = step(ib, block, {values[0], values[1], values[2]});
        scf::YieldOp::create(ib, loc, ValueRange{out.m, out.l, out.acc});
      });
  return {loop.getResult(0), loop.getResult(1), loop.getResult(2)};
}

void DecodeKernel::store(RunningSums sums) {
  auto rowVector = tile1(BQ, f32);
  auto accType = byQuery(D, f32);
  Value l = tb.reduce(ReduceKind::Sum, sums.l, keyAxis());
  Value seen = tb.cmpf(arith::CmpFPredicate::OGT, l, tb.constFloat(0.0, rowVector));
  Value inverse = tb.select(seen, tb.div(tb.constFloat(1.0, rowVector), l),
                            tb.constFloat(0.0, rowVector));
  // out : BQ x D f32
  Value out = tb.mul(sums.acc, perQuery(tb, inverse, accType));
  if (keysInM)
    out = TransOp::create(b, loc, tile2(BQ, D, f32), out);
  Value single = tb.cmpi(arith::CmpIPredicate::eq, splits, tb.i32(1));
  scf::IfOp::create(
      b, loc, single,
      [&](OpBuilder &ib, Location) {
        TileBuilder t(ib, loc);
        // O : BQ x D dtype, rows < group * n
        Value oBase = headBase(ib, loc, arg[Arg::O], batch, wide(ib, arg[Arg::OBatch]),
                               t.mul(kvHead, t.i32(config.group)), wide(ib, arg[Arg::OHead]));
        StoreOp::create(ib, loc, t.castTo(out, dtype), oBase, ValueRange{t.i32(0), t.i32(0)},
                        ValueRange{arg[Arg::ORow]},
                        ValueRange{queryRows, t.i32(D)});
        scf::YieldOp::create(ib, loc);
      },
      [&](OpBuilder &ib, Location) {
        TileBuilder t(ib, loc);
        // partial[b, h, s] : BM x D f32 sums, BM f32 lse (log2; -inf: no key),
        // of which rows < group * n <= BQ are written
        Value heads = NumProgramsOp::create(ib, loc, i32, 0);
        Value index = t.add(t.mul(t.add(t.mul(batch, heads), kvHead), splits), split);
        const int64_t floats = BM * (D + 1);
        Value base = AddPtrOp::create(ib, loc, arg[Arg::Partial],
                                      t.mul(wide(ib, index), t.i64(floats)));
        // Rows past group * n are not written (decode_reduce reads no others).
        StoreOp::create(ib, loc, out, base, ValueRange{t.i32(0), t.i32(0)}, ValueRange{t.i32(D)},
                        ValueRange{queryRows, t.i32(D)});
        Value lse = t.select(seen, t.add(sums.m, math::Log2Op::create(ib, loc, l)),
                             t.constFloat(-INFINITY, rowVector));
        StoreOp::create(ib, loc, lse, base, ValueRange{t.i32(BM * D)}, ValueRange{},
                        ValueRange{t.add(t.i32(BM * D), queryRows)});
        scf::YieldOp::create(ib, loc);
      });
  func::ReturnOp::create(b, loc);
}

} // namespace

template <>
OwningOpRef<ModuleOp> buildKernel<AttentionDecode>(MLIRContext &context,
                                                   const AttentionDecode::Config &config,
                                                   std::string_view target) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  const Signature<Arg> signature = AttentionDecode::signature(config);
  DecodeKernel kernel(b, config,
                      createKernel<AttentionDecode>(b, *module, config, signature, target),
                      signature);
  // decode_reduce waits for this grid in-kernel: it may be scheduled as
  // soon as every program of this one has started (sm_90 and up).
  if (::turbo::hasGridDependencyControl(target))
    LaunchDependentsOp::create(b, b.getUnknownLoc());
  kernel.setup();
  kernel.loadQuery();
  kernel.store(kernel.staging(kernel.pageLoop()));
  return module;
}

} // namespace turbo::templates
