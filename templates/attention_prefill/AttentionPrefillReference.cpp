//===- AttentionPrefillReference.cpp - the kernel's arithmetic on the CPU ---===//
//
// Mirrors AttentionPrefillKernel.cpp step for step: the same tiles (BM query
// rows, BN keys per step, zero padding past the bounds), the same f32
// operations in the same order, SAS through turbo::numerics::sasExp. Built
// with -ffp-contract=off so that no FMA changes a rounding.
//
//===----------------------------------------------------------------------===//
#include "turbo/Support/Numerics.h"
#include "attention_prefill/AttentionPrefill.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace turbo::templates::attention_prefill {

namespace {

struct Params {
  int64_t headDim, BM, BN;
  bool bf16, causal, qPerToken, kPerToken, pPerRow, vPerChannel;
  bool halfPv;  ///< P and V in 16 bits (pv=half)
  bool mixedPv; ///< the first block in 16 bits (pv=mixed)
  numerics::SasParams sas;     ///< blocks with P in u8 codes
  numerics::SasParams sasHalf; ///< blocks with P in 16 bits (zeroing past the threshold)
};

Params paramsOf(const Config &config) {
  Params p;
  p.headDim = config.headDim;
  p.BM = config.blockM;
  p.BN = config.blockN;
  p.bf16 = config.dtype == DType::BF16;
  p.causal = config.causal;
  p.qPerToken = config.qScale == TokenScale::Token;
  p.kPerToken = config.kScale == TokenScale::Token;
  p.pPerRow = config.pScale == PScale::Row;
  p.vPerChannel = config.vScale == VScale::Channel;
  p.halfPv = config.pv == PvFormat::Half;
  p.mixedPv = config.pv == PvFormat::Mixed;
  int degree = int(config.sasDegree);
  p.sas = {numerics::ExpBase::Two, degree, int(config.sasThreshold),
           numerics::fitExpPolynomial(degree, numerics::ExpBase::Two),
           !sasZeroingIsRoundedAway(config)};
  p.sasHalf = p.sas;
  p.sasHalf.zeroPastThreshold = true;
  p.sasHalf.threshold = int(config.sasThresholdHalf);
  p.sasHalf.scaleLog2 = int(halfPScaleLog2(config));
  return p;
}

float load(bool bf16, uint16_t bits) {
  return bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
}
uint16_t storeBits(bool bf16, float value) {
  return bf16 ? numerics::floatToBFloat(value) : numerics::floatToHalf(value);
}

/// A rows x headDim tile of floats read from a [seq, head_dim] matrix at row
/// `first`, zero past `bound` rows (as the kernel's masked load pads).
std::vector<float> loadTile(const Params &p, const uint16_t *base, int64_t rowStride,
                            int64_t first, int64_t rows, int64_t bound) {
  std::vector<float> tile(size_t(rows * p.headDim), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    if (first + r < bound)
      for (int64_t d = 0; d < p.headDim; ++d)
        tile[size_t(r * p.headDim + d)] = load(p.bf16, base[(first + r) * rowStride + d]);
  return tile;
}

/// Symmetric INT8 over groups: per row (`rows` scales) or the whole tile.
void quantizeRows(const std::vector<float> &x, int64_t rows, int64_t cols, bool perRow,
                  std::vector<int8_t> &codes, std::vector<float> &scales) {
  codes.assign(x.size(), 0);
  scales.assign(size_t(perRow ? rows : 1), 0.0f);
  auto quantizeGroup = [&](int64_t r0, int64_t r1, float &scale) {
    float amax = 0.0f;
    for (int64_t i = r0 * cols; i < r1 * cols; ++i)
      amax = std::fmax(amax, std::fabs(x[size_t(i)]));
    const numerics::SymmetricInt8 int8(amax);
    scale = int8.scale;
    for (int64_t i = r0 * cols; i < r1 * cols; ++i)
      codes[size_t(i)] = int8.code(x[size_t(i)]);
  };
  if (perRow)
    for (int64_t r = 0; r < rows; ++r)
      quantizeGroup(r, r + 1, scales[size_t(r)]);
  else
    quantizeGroup(0, rows, scales[0]);
}

/// Symmetric INT8 per column (channel) over the rows, or over the tile.
void quantizeColumns(const std::vector<float> &x, int64_t rows, int64_t cols, bool perColumn,
                     std::vector<int8_t> &codes, std::vector<float> &scales) {
  if (!perColumn)
    return quantizeRows(x, rows, cols, false, codes, scales);
  codes.assign(x.size(), 0);
  scales.assign(size_t(cols), 0.0f);
  for (int64_t c = 0; c < cols; ++c) {
    float amax = 0.0f;
    for (int64_t r = 0; r < rows; ++r)
      amax = std::fmax(amax, std::fabs(x[size_t(r * cols + c)]));
    const numerics::SymmetricInt8 int8(amax);
    scales[size_t(c)] = int8.scale;
    for (int64_t r = 0; r < rows; ++r)
      codes[size_t(r * cols + c)] = int8.code(x[size_t(r * cols + c)]);
  }
}

/// 2^max(e, -127), exact: -127 gives the bits of 0.
float powerOfTwo(float e) {
  uint32_t bits = uint32_t(int(std::fmax(e, -127.0f)) + 127) << 23;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// One (batch, head)'s operands.
struct HeadData {
  const uint16_t *q, *k, *v;
  uint16_t *o;
  float *lse;          ///< this head's seq_q floats, or null
  const float *kMean;  ///< this KV head's D means, or null
};

/// One program of the kernel: BM query rows m0 .. m0 + BM of one head, in
/// the kernel's phases (loadQuery, then per key block scores, softmax,
/// quantizeP, accumulate, and store), row by row.
class QueryBlock {
public:
  QueryBlock(const Params &p, const Problem &problem, float scaleLog2, const HeadData &head,
             int64_t m0)
      : p(p), problem(problem), head(head), m0(m0), D(p.headDim),
        m(size_t(p.BM), -INFINITY), l(size_t(p.BM), 0.0f), acc(size_t(p.BM * D), 0.0f),
        unit(size_t(p.BM), 0.0f) {
    loadQuery(scaleLog2);
  }

  /// The keys this block sees: up to the causal limit.
  int64_t keyEnd() const {
    const int64_t keyOffset = problem.seqK - problem.seqQ;
    if (!p.causal)
      return problem.seqK;
    return std::max<int64_t>(std::min<int64_t>(problem.seqK, m0 + p.BM + keyOffset), 0);
  }

  /// One key block n0 .. n0 + BN.
  void step(int64_t n0) {
    half = p.halfPv || (p.mixedPv && n0 == 0);
    loadKeys(n0);
    for (int64_t i = 0; i < p.BM; ++i)
      stepRow(i, n0);
  }

  void store() const;

private:
  void loadQuery(float scaleLog2) {
    quantizeRows(loadTile(p, head.q, problem.q.row, m0, p.BM, problem.seqQ), p.BM, D,
                 p.qPerToken, q8, sq);
    rowFactor.resize(size_t(p.BM));
    for (int64_t i = 0; i < p.BM; ++i)
      rowFactor[size_t(i)] =
          std::fmax((p.qPerToken ? sq[size_t(i)] : sq[0]) * scaleLog2, 0x1p-126f);
  }

  void loadKeys(int64_t n0) {
    std::vector<float> kTile = loadTile(p, head.k, problem.k.row, n0, p.BN, problem.seqK);
    if (head.kMean)
      for (int64_t j = 0; j < p.BN && n0 + j < problem.seqK; ++j)
        for (int64_t d = 0; d < D; ++d)
          kTile[size_t(j * D + d)] -= head.kMean[d];
    quantizeRows(kTile, p.BN, D, p.kPerToken, k8, sk);
    vTile = loadTile(p, head.v, problem.v.row, n0, p.BN, problem.seqK);
    if (!half)
      quantizeColumns(vTile, p.BN, D, p.vPerChannel, v8, sv);
  }

  /// Row i's scores against the block's keys, masked.
  std::vector<float> scores(int64_t i, int64_t n0) const {
    const int64_t keyOffset = problem.seqK - problem.seqQ;
    std::vector<float> s(static_cast<size_t>(p.BN));
    for (int64_t j = 0; j < p.BN; ++j) {
      int32_t dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot += int32_t(q8[size_t(i * D + d)]) * int32_t(k8[size_t(j * D + d)]);
      float score = float(dot) * (p.kPerToken ? sk[size_t(j)] : sk[0]);
      int64_t key = n0 + j;
      bool valid = key < problem.seqK && (!p.causal || key <= m0 + i + keyOffset);
      s[size_t(j)] = valid ? score : -INFINITY;
    }
    return s;
  }

  void stepRow(int64_t i, int64_t n0) {
    const std::vector<float> s = scores(i, n0);
    // softmax: the integer block max, SAS from it.
    float blockMax = -INFINITY;
    for (float score : s)
      blockMax = std::fmax(blockMax, score);
    const float rf = rowFactor[size_t(i)];
    float ceilMax = std::ceil(rf * blockMax);
    float mNew = std::fmax(m[size_t(i)], ceilMax);
    float mUse = mNew == -INFINITY ? 0.0f : mNew;
    const bool blockSeen = ceilMax > -INFINITY;
    float blockUse = blockSeen ? ceilMax : mUse;
    std::vector<float> prob(static_cast<size_t>(p.BN));
    float pMax = 0.0f;
    for (int64_t j = 0; j < p.BN; ++j) {
      // rf * s - blockUse in one rounding (the kernel's FMA), f16 out.
      prob[size_t(j)] =
          numerics::roundToHalf(numerics::sasExp(std::fma(rf, s[size_t(j)], -blockUse),
                                                 half ? p.sasHalf : p.sas));
      pMax = std::fmax(pMax, prob[size_t(j)]);
    }
    float alpha = powerOfTwo(m[size_t(i)] - mUse);
    if (half)
      return stepRowHalf(i, prob, alpha, mNew, mUse, blockUse, blockSeen);
    // quantizeP: P's scale, the old sums into the new unit (beta), the codes.
    float pInverse, pScale;
    if (p.pPerRow) {
      pInverse = blockSeen ? 255.0f / pMax : 0.0f;
      pScale = pMax * (1.0f / 255.0f);
    } else {
      pInverse = 255.0f;
      pScale = float(1.0 / 255.0);
    }
    const float blockExponent = std::fmax(blockUse - mUse, -64.0f);
    pScale = pScale * powerOfTwo(blockExponent);
    const float unitNew = blockSeen ? pScale : alpha * unit[size_t(i)];
    const float beta =
        blockSeen ? alpha * unit[size_t(i)] * pInverse * powerOfTwo(-blockExponent) : 1.0f;
    unit[size_t(i)] = unitNew;
    const float inverse16 = numerics::roundToHalf(pInverse);
    std::vector<int32_t> codes(static_cast<size_t>(p.BN));
    float codeSum = 0.0f;
    for (int64_t j = 0; j < p.BN; ++j) {
      // One f16 FMA with 1024 (the code in the low bits), then the clamp.
      float code =
          std::fmin(numerics::fmaHalf(prob[size_t(j)], inverse16, 1024.0f), 1279.0f) - 1024.0f;
      codes[size_t(j)] = int32_t(code);
      codeSum += code; // integers below 2^24: exact in any order
    }
    l[size_t(i)] = l[size_t(i)] * beta + codeSum;
    // accumulate: P8 V8 in integers, one rounding for the V scale and the sum.
    for (int64_t d = 0; d < D; ++d) {
      int32_t pv = 0;
      for (int64_t j = 0; j < p.BN; ++j)
        pv += codes[size_t(j)] * int32_t(v8[size_t(j * D + d)]);
      acc[size_t(i * D + d)] = std::fma(float(pv), p.vPerChannel ? sv[size_t(d)] : sv[0],
                                        acc[size_t(i * D + d)] * beta);
    }
    m[size_t(i)] = mNew;
  }

  /// The rest of a row's step with P and V in 16 bits: P stays f16 (its unit the
  /// block's power of two), its row sum and P V are MMAs into f32 (here in
  /// float64, rounded once: the GPU's order of adding differs in the last
  /// bits), added to the rescaled sums.
  void stepRowHalf(int64_t i, const std::vector<float> &prob, float alpha, float mNew,
                   float mUse, float blockUse, bool blockSeen) {
    const float blockExponent = std::fmax(blockUse - mUse, -64.0f);
    const float sasScale = std::ldexp(1.0f, p.sasHalf.scaleLog2);
    const float pScale = powerOfTwo(blockExponent) * (1.0f / sasScale);
    const float unitNew = blockSeen ? pScale : alpha * unit[size_t(i)];
    const float beta =
        blockSeen ? alpha * unit[size_t(i)] * sasScale * powerOfTwo(-blockExponent) : 1.0f;
    unit[size_t(i)] = unitNew;
    // P in the input type: f16 as SAS made it, or that rounded to bf16.
    std::vector<double> pIn(prob.begin(), prob.end());
    if (p.bf16)
      for (double &x : pIn)
        x = numerics::bfloatToFloat(numerics::floatToBFloat(float(x)));
    double sum = 0;
    for (int64_t j = 0; j < p.BN; ++j)
      sum += pIn[size_t(j)];
    l[size_t(i)] = l[size_t(i)] * beta + float(sum);
    for (int64_t d = 0; d < D; ++d) {
      double pv = double(acc[size_t(i * D + d)] * beta);
      for (int64_t j = 0; j < p.BN; ++j)
        pv += pIn[size_t(j)] * double(vTile[size_t(j * D + d)]);
      acc[size_t(i * D + d)] = float(pv);
    }
    m[size_t(i)] = mNew;
  }

  const Params &p;
  const Problem &problem;
  const HeadData &head;
  const int64_t m0, D;
  bool half = false;                      // this block's P and V in 16 bits
  std::vector<float> vTile;               // BN x D: V as read
  std::vector<int8_t> q8, k8, v8;         // BM x D, BN x D, BN x D
  std::vector<float> sq, sk, sv;          // their scales
  std::vector<float> rowFactor;           // BM
  std::vector<float> m, l, acc, unit;     // BM, BM, BM x D, BM: l and acc count in `unit`
};

void QueryBlock::store() const {
  for (int64_t i = 0; i < p.BM && m0 + i < problem.seqQ; ++i) {
    float lInverse = l[size_t(i)] > 0.0f ? 1.0f / l[size_t(i)] : 0.0f;
    for (int64_t d = 0; d < D; ++d)
      head.o[(m0 + i) * problem.o.row + d] = storeBits(p.bf16, acc[size_t(i * D + d)] * lInverse);
    if (!head.lse)
      continue;
    float lse2 = m[size_t(i)] + std::log2(l[size_t(i)] * unit[size_t(i)]);
    if (head.kMean) { // the shift q . mean(K) the centred scores left out
      double q8Mean = 0;
      for (int64_t d = 0; d < D; ++d)
        q8Mean += double(q8[size_t(i * D + d)]) * double(head.kMean[d]);
      lse2 += rowFactor[size_t(i)] * float(q8Mean);
    }
    head.lse[m0 + i] = lse2 * float(std::log(2.0));
  }
}
} // namespace

void reference(const Config &config, const Problem &problem, const uint16_t *q,
               const uint16_t *k, const uint16_t *v, uint16_t *o, float *lse,
               const float *kMean) {
  const Params p = paramsOf(config);
  const float scaleLog2Value = scaleLog2(config, problem);
  const int64_t group = problem.qHeads / problem.kvHeads;
  std::vector<float> means;
  if (config.kSmooth && !kMean) {
    // channel_mean's float64 reference, rounded to f32 as the kernel stores it.
    channel_mean::Problem meanProblem{problem.batch,   problem.kvHeads, problem.seqK,
                                      problem.k.batch, problem.k.head,  problem.k.row};
    std::vector<double> exactMeans(size_t(problem.batch * problem.kvHeads * p.headDim));
    channel_mean::reference(channelMeanConfig(config), meanProblem, k, exactMeans.data());
    means.assign(exactMeans.begin(), exactMeans.end());
    kMean = means.data();
  }
  for (int64_t b = 0; b < problem.batch; ++b)
    for (int64_t h = 0; h < problem.qHeads; ++h) {
      const int64_t hk = h / group;
      const HeadData head{
          q + b * problem.q.batch + h * problem.q.head,
          k + b * problem.k.batch + hk * problem.k.head,
          v + b * problem.v.batch + hk * problem.v.head,
          o + b * problem.o.batch + h * problem.o.head,
          lse ? lse + (b * problem.qHeads + h) * problem.seqQ : nullptr,
          config.kSmooth ? kMean + (b * problem.kvHeads + hk) * p.headDim : nullptr};
      for (int64_t m0 = 0; m0 < problem.seqQ; m0 += p.BM) {
        QueryBlock block(p, problem, scaleLog2Value, head, m0);
        for (int64_t n0 = 0, end = block.keyEnd(); n0 < end; n0 += p.BN)
          block.step(n0);
        block.store();
      }
    }
}

void exactReference(const Config &config, const Problem &problem, const uint16_t *q,
                    const uint16_t *k, const uint16_t *v, double *o, double *lse) {
  const Params p = paramsOf(config);
  const double scale = problem.softmaxScale > 0 ? problem.softmaxScale
                                                : 1.0 / std::sqrt(double(p.headDim));
  const int64_t group = problem.qHeads / problem.kvHeads, D = p.headDim;
  const int64_t keyOffset = problem.seqK - problem.seqQ;
  std::vector<double> scores(static_cast<size_t>(problem.seqK));
  for (int64_t b = 0; b < problem.batch; ++b)
    for (int64_t h = 0; h < problem.qHeads; ++h) {
      const int64_t hk = h / group;
      const uint16_t *qBase = q + b * problem.q.batch + h * problem.q.head;
      const uint16_t *kBase = k + b * problem.k.batch + hk * problem.k.head;
      const uint16_t *vBase = v + b * problem.v.batch + hk * problem.v.head;
      for (int64_t i = 0; i < problem.seqQ; ++i) {
        double maxScore = -INFINITY;
        int64_t visible = p.causal ? std::min(problem.seqK, i + keyOffset + 1) : problem.seqK;
        for (int64_t j = 0; j < visible; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += double(load(p.bf16, qBase[i * problem.q.row + d])) *
                   double(load(p.bf16, kBase[j * problem.k.row + d]));
          scores[size_t(j)] = dot * scale;
          maxScore = std::max(maxScore, scores[size_t(j)]);
        }
        double *out = o + ((b * problem.qHeads + h) * problem.seqQ + i) * D;
        std::fill(out, out + D, 0.0);
        double sum = 0;
        for (int64_t j = 0; j < visible; ++j) {
          double weight = std::exp(scores[size_t(j)] - maxScore);
          sum += weight;
          for (int64_t d = 0; d < D; ++d)
            out[d] += weight * double(load(p.bf16, vBase[j * problem.v.row + d]));
        }
        if (sum > 0)
          for (int64_t d = 0; d < D; ++d)
            out[d] /= sum;
        if (lse) // -inf for a row that sees no key
          lse[(b * problem.qHeads + h) * problem.seqQ + i] = maxScore + std::log(sum);
      }
    }
}

} // namespace turbo::templates::attention_prefill
