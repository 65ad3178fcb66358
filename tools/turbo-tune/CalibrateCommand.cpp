//===- CalibrateCommand.cpp - turbo-tune calibrate ------------------------===//
//
// The cache's headwise mixed precision from what a model's attention saw on
// sample text: Q [q_heads, tokens, head_dim] and K, V [kv_heads, tokens,
// head_dim] of one layer, or the same with a leading layer axis, in .npy
// files. Each KV head's loss (turbo_kv_calibrate) or the paper's statistic
// (turbo_kv_head_priorities); the heads of all layers ranked together
// (turbo_kv_pick_bits); JSON with the same fields as python3 -m
// turbo.calibrate.
//
//===----------------------------------------------------------------------===//
#include "CalibrateCommand.h"
#include "../common/ToolOptions.h"

#include "turbo/Support/Npy.h"
#include "turbo/turbo.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace cl = llvm::cl;

namespace turbo::tools {

cl::SubCommand calibrateCommand(
    "calibrate",
    "The compressed KV cache's per-head bit widths from sample attention: "
    "turbo-tune calibrate Q.npy K.npy V.npy (or K.npy V.npy with "
    "--method=priority); Q [q_heads, tokens, head_dim], K and V [kv_heads, "
    "tokens, head_dim], or each with a leading layer axis; float16/32/64, as "
    "the softmax sees them with scale 1/sqrt(head_dim)");

namespace {
cl::list<std::string> files(cl::Positional, cl::OneOrMore, cl::sub(calibrateCommand),
                            cl::desc("Q.npy K.npy V.npy (K.npy V.npy for --method=priority)"));
cl::opt<std::string> method("method",
                            cl::desc("measured (default): each head's error over the cache "
                                     "at 2 bits; priority: the paper's statistic from K and V"),
                            cl::init("measured"), cl::sub(calibrateCommand));
cl::opt<double> fraction("fraction-2bit",
                         cl::desc("Share of the heads stored at 2 bits (default 0.5)"),
                         cl::init(0.5), cl::sub(calibrateCommand));
cl::opt<int> pageSize("page-size", cl::desc("Tokens per page (default 64)"), cl::init(64),
                      cl::sub(calibrateCommand));
cl::opt<int> sinkPages("sink-pages",
                       cl::desc("First pages the cache keeps staged (default: turbo's, 1)"),
                       cl::init(-1), cl::sub(calibrateCommand));
cl::opt<int> windowPages("window-pages",
                         cl::desc("Newest full pages the cache keeps staged (default: "
                                  "turbo's, 0)"),
                         cl::init(-1), cl::sub(calibrateCommand));
cl::opt<double> budget("max-rel-err",
                       cl::desc("Per-layer accuracy budget instead of --fraction-2bit: the "
                                "most 2-bit heads whose predicted layer error stays within it "
                                "(measured only)"),
                       cl::init(0), cl::sub(calibrateCommand));
cl::opt<std::string> output("o", cl::desc("JSON file (default: standard output)"),
                            cl::init(""), cl::sub(calibrateCommand));

int fail(const std::string &message) {
  llvm::errs() << "turbo-tune calibrate: " << message << "\n";
  return 1;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : ", ") + std::to_string(d);
  return "(" + text + ")";
}

/// A sample array: [heads, tokens, head_dim] or [layers, heads, tokens,
/// head_dim] of finite values, loaded as float.
Result<NpyArray> load(const std::string &path, const char *what) {
  auto array = readNpy(path);
  if (!array)
    return array.status();
  const size_t rank = array->shape.size();
  if (rank != 3 && rank != 4)
    return Status(StatusCode::InvalidArgument,
                  fmt::format("{} ({}) must be shaped [heads, tokens, head_dim] or [layers, "
                              "heads, tokens, head_dim], not {}",
                              path, what, shapeText(array->shape)));
  for (float x : array->values)
    if (!std::isfinite(x))
      return Status(StatusCode::InvalidArgument,
                    fmt::format("{} ({}) holds a value that is not finite as float32", path,
                                what));
  return array;
}
} // namespace

int runCalibrate() {
  const bool measured = method == "measured";
  if (!measured && method != "priority")
    return fail("--method must be measured or priority");
  if (measured && files.size() != 3)
    return fail("the measured calibration needs sample queries: Q.npy K.npy V.npy (or "
                "--method=priority, from K.npy V.npy alone)");
  if (files.size() != 2 && files.size() != 3)
    return fail("give Q.npy K.npy V.npy, or K.npy V.npy with --method=priority");
  if (!(fraction >= 0 && fraction <= 1))
    return fail("--fraction-2bit must lie in [0, 1]");
  const bool withBudget = budget.getNumOccurrences() > 0;
  if (withBudget && !measured)
    return fail("--max-rel-err needs the measured calibration");
  if (withBudget && !(budget > 0 && std::isfinite(budget)))
    return fail("--max-rel-err must be positive");
  auto k = load(files[files.size() - 2], "K");
  auto v = k ? load(files[files.size() - 1], "V") : k;
  if (!k || !v)
    return fail((k ? v : k).status().message());
  if (k->shape != v->shape)
    return fail(fmt::format("K {} and V {} differ in shape", shapeText(k->shape),
                            shapeText(v->shape)));
  std::optional<NpyArray> q;
  if (files.size() == 3) {
    auto loaded = load(files[0], "Q");
    if (!loaded)
      return fail(loaded.status().message());
    q = std::move(*loaded);
    if (q->shape.size() != k->shape.size())
      return fail(fmt::format("Q {} and K {} differ in their axes", shapeText(q->shape),
                              shapeText(k->shape)));
  }
  const bool oneLayer = k->shape.size() == 3;
  if (oneLayer) // a layer axis of one
    for (NpyArray *array : {&*k, &*v, q ? &*q : nullptr})
      if (array)
        array->shape.insert(array->shape.begin(), 1);
  if (q) {
    if (q->shape[0] != k->shape[0] || q->shape[2] != k->shape[2] ||
        q->shape[3] != k->shape[3])
      return fail(fmt::format("Q {} does not match K {} in layers, tokens or head_dim",
                              shapeText(q->shape), shapeText(k->shape)));
  }
  const int64_t layers = k->shape[0], tokens = k->shape[2];
  const int64_t most = std::numeric_limits<int>::max();
  if (k->shape[1] > most || k->shape[3] > most || (q && q->shape[1] > most))
    return fail("too many heads or too wide a head");
  const int kvHeads = int(k->shape[1]), headDim = int(k->shape[3]);
  const int qHeads = q ? int(q->shape[1]) : kvHeads;
  const size_t kvLayer = size_t(kvHeads * tokens * headDim);
  const size_t qLayer = size_t(int64_t(qHeads) * tokens * headDim);

  const std::vector<double> perLayer(static_cast<size_t>(kvHeads));
  std::vector<std::vector<double>> scores(size_t(layers), perLayer), at4 = scores;
  std::vector<double> predicted(static_cast<size_t>(layers));
  std::vector<int> bits(static_cast<size_t>(layers * kvHeads));
  for (int64_t layer = 0; layer < layers; ++layer) {
    const float *ql = q ? q->values.data() + size_t(layer) * qLayer : nullptr;
    const float *kl = k->values.data() + size_t(layer) * kvLayer;
    const float *vl = v->values.data() + size_t(layer) * kvLayer;
    double *layerScores = scores[size_t(layer)].data();
    turbo_status status =
        !measured ? turbo_kv_head_priorities(kl, vl, kvHeads, tokens, headDim, layerScores)
                  : turbo_kv_head_losses(ql, kl, vl, qHeads, kvHeads, tokens, headDim, pageSize,
                                         sinkPages, windowPages, 2, layerScores);
    if (!status && withBudget)
      status = turbo_kv_head_losses(ql, kl, vl, qHeads, kvHeads, tokens, headDim, pageSize,
                                    sinkPages, windowPages, 4, at4[size_t(layer)].data());
    if (!status && withBudget)
      status = turbo_kv_pick_bits_within(layerScores, at4[size_t(layer)].data(), kvHeads,
                                         budget, bits.data() + size_t(layer) * size_t(kvHeads),
                                         &predicted[size_t(layer)]);
    if (status)
      return fail(describeFailure(status));
  }
  std::vector<double> flat, flat4;
  for (int64_t layer = 0; layer < layers; ++layer) {
    flat.insert(flat.end(), scores[size_t(layer)].begin(), scores[size_t(layer)].end());
    flat4.insert(flat4.end(), at4[size_t(layer)].begin(), at4[size_t(layer)].end());
  }
  if (flat.size() > size_t(most))
    return fail("too many heads");
  if (!withBudget)
    if (turbo_status status = turbo_kv_pick_bits(flat.data(), int(flat.size()), fraction,
                                                 bits.data()))
      return fail(describeFailure(status));

  auto eachLayer = [&](auto value) {
    llvm::json::Array layersOut;
    for (int64_t layer = 0; layer < layers; ++layer) {
      llvm::json::Array heads;
      for (int h = 0; h < kvHeads; ++h)
        heads.push_back(value(size_t(layer) * size_t(kvHeads) + size_t(h)));
      layersOut.push_back(std::move(heads));
    }
    return oneLayer ? llvm::json::Value(std::move(*layersOut[0].getAsArray()))
                    : llvm::json::Value(std::move(layersOut));
  };
  size_t twoBit = 0;
  for (int b : bits)
    twoBit += b == 2;
  llvm::json::Object result{
      {"method", method.getValue()},
      {"bits", eachLayer([&](size_t i) { return llvm::json::Value(bits[i]); })},
      {"scores", eachLayer([&](size_t i) { return llvm::json::Value(flat[i]); })},
      {"fraction_2bit", withBudget ? double(twoBit) / double(bits.size()) : fraction.getValue()},
      {"tokens", tokens}};
  if (withBudget) {
    result["max_rel_err"] = budget.getValue();
    result["scores_4bit"] = eachLayer([&](size_t i) { return llvm::json::Value(flat4[i]); });
    llvm::json::Array errors;
    for (double e : predicted)
      errors.push_back(e);
    result["predicted_error"] = oneLayer ? llvm::json::Value(predicted[0])
                                         : llvm::json::Value(std::move(errors));
  }
  const std::string text = llvm::formatv("{0:1}", llvm::json::Value(std::move(result))).str();
  if (output.empty()) {
    llvm::outs() << text << "\n";
    return 0;
  }
  std::error_code ec;
  llvm::raw_fd_ostream file(output, ec);
  if (ec)
    return fail("cannot write " + output + ": " + ec.message());
  file << text << "\n";
  return 0;
}

} // namespace turbo::tools
