//===- turbo-accuracy.cpp - the prefill arithmetic against exact attention -===//
//
// Runs the prefill kernel's arithmetic (its CPU reference, which the GPU
// tests show is bit-identical to the kernel) and float64 exact attention on
// three input distributions, over SAS degrees and thresholds and the scale
// granularities, and prints a Markdown table: relative L2, cosine similarity
// and max absolute error. No GPU needed.
//
//   turbo-accuracy [--seq=1024] [--head-dim=128] [--heads=2] [--target=sm_90a] [--lse]
//                  > docs/accuracy-table.md
//
// The defaults are those a plan gets on the target (its head config); the
// GPU instruction path (wgmma or mma.sync) does not change the arithmetic.
//
//===----------------------------------------------------------------------===//
#include "attention_decode/DecodeInputs.h"
#include "turbo/Support/KvCalibration.h"
#include "attention_prefill/AttentionPrefill.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <random>
#include <vector>

namespace cl = llvm::cl;
using namespace turbo;
namespace ap = turbo::templates::attention_prefill;

namespace {
cl::opt<int> seq("seq", cl::desc("Sequence length (default 1024)"), cl::init(1024));
cl::opt<int> headDim("head-dim", cl::desc("Head dimension (default 128)"), cl::init(128));
cl::opt<int> heads("heads", cl::desc("Heads averaged per row of the table (default 2)"),
                   cl::init(2));
cl::opt<std::string> target("target",
                           cl::desc("The GPU target whose head config gives the defaults "
                                    "(default sm_90a: 128 keys a step; sm_80: 64)"),
                           cl::init(turbo::kDefaultTarget));
cl::opt<bool> quick("quick", cl::desc("Only the default settings (for tests)"));
cl::opt<bool> withLse("lse", cl::desc("Also a table of the log-sum-exp's error (default "
                                      "settings, with and without K smoothing)"));
cl::opt<bool> sinks("sinks",
                    cl::desc("Only the table of attention sinks, long tails and value outliers "
                             "(each P.V format), with the error of each quantized stage"));

cl::opt<bool> decode("decode",
                     cl::desc("Only the table of decode over the compressed KV cache: each "
                              "page width and the calibrated mix against float64 attention, "
                              "beside a float-dequant scheme (KIVI's kind) at the same bits"));
cl::opt<int> context("context", cl::desc("--decode: tokens per sequence (default 4133)"),
                     cl::init(4133));
cl::opt<int> sinkPages("sink-pages",
                       cl::desc("--decode: first pages the cache keeps staged (default 1)"),
                       cl::init(int(turbo::kv::kDefaultKeptPages.sink)));
cl::opt<int> windowPages("window-pages",
                         cl::desc("--decode: newest full pages the cache keeps staged "
                                  "(default 0)"),
                         cl::init(int(turbo::kv::kDefaultKeptPages.window)));

/// Decode: rel L2 of turbo (the kernel's CPU reference) and of the peer
/// against float64 attention over the unquantized K/V, per input kind and
/// page width; "mix" is calibrated per head on the inputs themselves.
int printDecode() {
  namespace ad = turbo::templates::attention_decode;
  const std::vector<std::string> kinds = {"normal", "outliers", "sink", "unequal"};
  const std::vector<std::string> widths = {"8", "4", "mix", "2"};
  const int64_t kvHeads = 8, batch = 2;
  llvm::outs() << fmt::format(
      "Decode, GQA 32/8, head dim {}, f16, {} sequences of {} tokens (64-token pages; {} sink "
      "and {} window pages and the rest staged), one query token: relative L2 against float64 "
      "attention over the unquantized K/V, turbo / peer (K per channel and V per token over "
      "the page, f16 dequantisation, the staged tokens kept in f16) / ratio. `mix`: half the "
      "heads at 2 bits, chosen by the default calibration (kv::measureLayerLosses) on the same "
      "K/V with N(0, 1) sample queries.\n\n",
      headDim.getValue(), batch, context.getValue(), sinkPages.getValue(),
      windowPages.getValue());
  const turbo::kv::KeptPages kept{sinkPages, windowPages};
  llvm::outs() << "| K/V |";
  for (const std::string &w : widths)
    llvm::outs() << " " << (w == "mix" ? "default mix (4/2)" : "all " + w + "-bit") << " |";
  llvm::outs() << "\n| --- |";
  for (size_t i = 0; i < widths.size(); ++i)
    llvm::outs() << " --- |";
  llvm::outs() << "\n";
  for (const std::string &kind : kinds) {
    llvm::outs() << "| " << kind << " |";
    for (const std::string &w : widths) {
      std::vector<int> bits(size_t(kvHeads), w == "mix" ? 4 : std::stoi(w));
      ad::Config config;
      config.headDim = headDim;
      config.kvBits = w == "mix" ? turbo::KvBits::Mixed : turbo::KvBits(std::stoi(w));
      ad::DecodeShape shape;
      shape.batch = batch;
      shape.kvHeads = kvHeads;
      shape.lengths.assign(size_t(batch), context.getValue());
      shape.kept = kept;
      if (w == "mix") {
        // Calibrate on this kind's K/V (the same seed gives the same values).
        std::mt19937 probe(2026);
        ad::DecodeInputs sample = ad::makeDecodeInputs(config, bits, shape, kind, probe);
        const int64_t T = context.getValue(), D = headDim, qHeads = kvHeads * config.group;
        std::vector<float> k, v, q(size_t(qHeads * T * D));
        for (int64_t h = 0; h < kvHeads; ++h) { // sequence 0's heads
          k.insert(k.end(), sample.k[size_t(h)].begin(), sample.k[size_t(h)].end());
          v.insert(v.end(), sample.v[size_t(h)].begin(), sample.v[size_t(h)].end());
        }
        std::normal_distribution<float> normal;
        for (float &x : q)
          x = normal(probe);
        auto losses = turbo::kv::measureLayerLosses(q.data(), k.data(), v.data(), qHeads,
                                                    kvHeads, T, D, config.pageSize, kept);
        if (!losses) {
          llvm::errs() << "turbo-accuracy: " << losses.status().message() << "\n";
          return 1;
        }
        bits = turbo::kv::pickBits(*losses, 0.5);
      }
      std::mt19937 rng(2026);
      ad::DecodeInputs in = ad::makeDecodeInputs(config, bits, shape, kind, rng);
      std::vector<uint16_t> out(in.q.size());
      int32_t flags[2] = {0, 0};
      ad::reference(config, in.layout, in.problem, in.q.data(), out.data(), in.pool.data(),
                    in.staging.data(), in.blockTable.data(), in.seqLens.data(), flags);
      const std::vector<double> exact = ad::exactDecode(config, in);
      const double turboError = ad::relativeL2(ad::toDoubles(out, config.dtype), exact);
      const double peerError = ad::relativeL2(ad::peerDecode(config, in), exact);
      llvm::outs() << fmt::format(" {:.2e} / {:.2e} / {:.2f} |", turboError, peerError,
                                  turboError / peerError);
      llvm::outs().flush();
    }
    llvm::outs() << "\n";
  }
  return 0;
}

/// The table of sinks, tails and value outliers, then the error of each
/// quantized stage alone on every kind.
template <typename Parse> int printSinks(Parse &parse) {
  const std::vector<std::string> kinds = {"normal",  "sink:20", "sink:100", "tail:6",
                                          "tail:10", "vout"};
  std::vector<ap::AccuracyInputs> inputs;
  for (const std::string &kind : kinds)
    inputs.push_back(ap::makeAccuracyInputs(kind, heads, seq, headDim, 2026));
  auto header = [&](const char *first) {
    llvm::outs() << first;
    for (const std::string &kind : kinds)
      llvm::outs() << " " << kind << " |";
    llvm::outs() << "\n|";
  };
  llvm::outs() << fmt::format(
      "Sequence {}, head dim {}, {} head(s) per cell, f16, defaults of the {} head config; "
      "relative L2 / cosine against float64 attention (tail:G causal, the rest not).\n\n",
      seq.getValue(), headDim.getValue(), heads.getValue(), target.getValue());
  header("| setting | config |");
  llvm::outs() << " --- | --- |";
  for (size_t i = 0; i < kinds.size(); ++i)
    llvm::outs() << " --- |";
  llvm::outs() << "\n";
  struct Setting {
    const char *label, *config;
  };
  const Setting settings[] = {{"u8 P, INT8 V (FlashQ)", "pv=int8"},
                              {"u8 P, INT8 V, 64 keys a step", "pv=int8,block_n=64"},
                              {"f16 P and V", "pv=half"},
                              {"first block of keys in f16, the rest u8 P, INT8 V (default)",
                               "pv=mixed"},
                              {"the same, SAS cut at 2^-14 in the f16 block",
                               "pv=mixed,sas_threshold_half=14"}};
  for (const Setting &setting : settings) {
    auto config = parse(setting.config);
    if (!config) {
      llvm::errs() << "turbo-accuracy: " << config.status().message() << "\n";
      return 1;
    }
    llvm::outs() << "| " << setting.label << " | `" << setting.config << "` |";
    for (const ap::AccuracyInputs &in : inputs) {
      ap::AccuracyErrors e = ap::measureAccuracy(*config, in, heads, seq, headDim);
      llvm::outs() << fmt::format(" {:.2e} / {:.5f} |", e.relativeL2, e.cosine);
    }
    llvm::outs() << "\n";
    llvm::outs().flush();
  }
  llvm::outs() << "\nEach stage alone (float64 emulation, the other stages exact): relative L2 "
                  "with the scores (INT8 Q, K) / P / V quantized.\n\n";
  header("| P.V |");
  llvm::outs() << " --- |";
  for (size_t i = 0; i < kinds.size(); ++i)
    llvm::outs() << " --- |";
  llvm::outs() << "\n";
  for (const char *pv : {"pv=int8", "pv=half", "pv=mixed"}) {
    auto config = parse(pv);
    if (!config)
      return 1;
    llvm::outs() << "| `" << pv << "` |";
    for (const ap::AccuracyInputs &in : inputs) {
      ap::StageErrors e = ap::stageErrors(*config, in, heads, seq, headDim);
      llvm::outs() << fmt::format(" {:.1e} / {:.1e} / {:.1e} |", e.scores, e.probabilities,
                                  e.values);
    }
    llvm::outs() << "\n";
    llvm::outs().flush();
  }
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "turbo-accuracy: the prefill kernel's arithmetic against exact "
                              "float64 attention (Markdown table on stdout)\n");
  struct Row {
    std::string label, config;
  };
  HeadConfig head;
  head.headDim = headDim;
  head.target = target;
  if (Status valid = head.validate(); !valid.isOk()) {
    llvm::errs() << "turbo-accuracy: " << valid.message() << "\n";
    return 1;
  }
  auto parse = [&](const std::string &text) {
    return templates::parseConfig<templates::AttentionPrefill>(&head, text);
  };
  auto defaults = parse("");
  if (!defaults) {
    llvm::errs() << "turbo-accuracy: " << defaults.status().message() << "\n";
    return 1;
  }
  const int64_t defaultDegree = defaults->sasDegree, defaultThreshold = defaults->sasThreshold,
                defaultKeys = defaults->blockN;
  // K and V quantized per query block (kv_int8=0) is mma.sync's alone.
  const std::string perBlock = defaults->wgmma ? "kv_int8=0,wgmma=0" : "kv_int8=0";
  std::vector<Row> rows = {
      {fmt::format("default ({}): per-token Q/K, per-row P, per-channel V over {} keys, SAS {}/{}, "
                   "first block of keys in 16 bits",
                   target.getValue(), defaultKeys, defaultDegree, defaultThreshold),
       ""}};
  if (!quick) {
    for (int degree = 0; degree <= 3; ++degree)
      for (int threshold : {4, 8, 12})
        if (!(degree == defaultDegree && threshold == defaultThreshold))
          rows.push_back({fmt::format("SAS degree {}, threshold {}", degree, threshold),
                          fmt::format("sas_degree={},sas_threshold={}", degree, threshold)});
    const int64_t otherKeys = defaultKeys == 128 ? 64 : 128;
    rows.push_back({fmt::format("P and V scales over {} keys", otherKeys),
                    fmt::format("block_n={}", otherKeys)});
    rows.push_back({"no K smoothing", "k_smooth=0"});
    rows.push_back({"per-tile Q/K scales", "q_scale=tile,k_scale=tile," + perBlock});
    rows.push_back({"fixed P scale (1/255)", "p_scale=fixed"});
    rows.push_back({"per-tile V scale", "v_scale=tile," + perBlock});
    rows.push_back({"per-tile everything, fixed P",
                    "q_scale=tile,k_scale=tile,p_scale=fixed,v_scale=tile," + perBlock});
    rows.push_back({"P and V in f16 (16-bit P.V)", "pv=half"});
  }
  if (sinks)
    return printSinks(parse);
  if (decode)
    return printDecode();
  const std::vector<std::string> kinds = {"normal", "outliers", "peaked"};
  std::vector<ap::AccuracyInputs> inputs;
  for (const std::string &kind : kinds)
    inputs.push_back(ap::makeAccuracyInputs(kind, heads, seq, headDim, 2026));

  llvm::outs() << fmt::format("Sequence {}, head dim {}, {} head(s) per cell, f16, non-causal, "
                              "defaults of the {} head config; relative L2 / cosine / max abs "
                              "error against float64 attention.\n\n",
                              seq.getValue(), headDim.getValue(), heads.getValue(),
                              target.getValue());
  llvm::outs() << "| setting | config | normal | outlier channels | peaked |\n";
  llvm::outs() << "| --- | --- | --- | --- | --- |\n";
  for (const Row &row : rows) {
    auto config = parse(row.config);
    if (!config) {
      llvm::errs() << "turbo-accuracy: " << config.status().message() << "\n";
      return 1;
    }
    llvm::outs() << "| " << row.label << " | `" << (row.config.empty() ? "defaults" : row.config)
                 << "` |";
    for (const ap::AccuracyInputs &in : inputs) {
      ap::AccuracyErrors e = ap::measureAccuracy(*config, in, heads, seq, headDim);
      llvm::outs() << fmt::format(" {:.2e} / {:.5f} / {:.2e} |", e.relativeL2, e.cosine, e.maxAbs);
    }
    llvm::outs() << "\n";
    llvm::outs().flush();
  }
  if (withLse) {
    llvm::outs() << "\nLog-sum-exp (`write_lse=1`): max / mean absolute error in nats against "
                    "float64.\n\n| setting | normal | outlier channels | peaked |\n"
                    "| --- | --- | --- | --- |\n";
    for (const char *variant : {"", ",k_smooth=0"}) {
      auto config = parse(fmt::format("write_lse=1{}", variant));
      if (!config) {
        llvm::errs() << "turbo-accuracy: " << config.status().message() << "\n";
        return 1;
      }
      llvm::outs() << "| " << (*variant ? "no K smoothing" : "defaults") << " |";
      for (const ap::AccuracyInputs &in : inputs) {
        ap::AccuracyErrors e = ap::measureAccuracy(*config, in, heads, seq, headDim, true);
        llvm::outs() << fmt::format(" {:.2e} / {:.2e} |", e.lseMaxAbs, e.lseMeanAbs);
      }
      llvm::outs() << "\n";
    }
  }
  return 0;
}
