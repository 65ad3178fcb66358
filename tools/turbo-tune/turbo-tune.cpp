//===- turbo-tune.cpp - search a template's tuning space ------------------===//
//
// For one head configuration and shape: every point of the template's
// search space (declared next to its config, SearchSpace.h), checked by the
// template, assembled by ptxas where it is installed, then (on a GPU)
// compiled, verified against the CPU reference and timed; the fastest
// point within the accuracy budget goes into the tuning database
// (TuningDatabase.h). --dry-run lists the space and what prunes it without
// a GPU; --show lists the database.
//
//===----------------------------------------------------------------------===//
#include "../common/ToolOptions.h"
#include "../turbo-bench/DecodeBench.h"
#include "../turbo-bench/PrefillBench.h"
#include "CalibrateCommand.h"

#include "ParetoChart.h"
#include "TrialSelection.h"
#include "TuningDatabase.h"
#include "attention_decode/AttentionDecode.h"
#include "attention_prefill/AttentionPrefill.h"
#include "turbo/Compiler/Ptxas.h"
#include "turbo/Support/Npy.h"
#include "turbo/Support/Numerics.h"
#include "turbo/Support/ParallelFor.h"
#include "turbo/Support/Targets.h"
#include "turbo/Templates/SearchSpace.h"
#include "turbo/turbo.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <future>
#include <thread>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

using namespace turbo::tools;
namespace cl = llvm::cl;
namespace rt = turbo::runtime;
namespace tpl = turbo::templates;

namespace {
cl::OptionCategory tuneCategory("Tuning");
cl::opt<std::string>
    kernelName("kernel",
               cl::desc("Template to tune: attention_decode (default) or "
                        "attention_prefill"),
               cl::init("attention_decode"), cl::cat(tuneCategory));
cl::opt<long> batch("batch", cl::desc("Decode: sequences (default 1)"),
                    cl::init(1), cl::cat(tuneCategory));
cl::opt<long> context("context",
                      cl::desc("Decode: tokens per sequence (default 4096)"),
                      cl::init(4096), cl::cat(tuneCategory));
cl::opt<long> seqLen("seq", cl::desc("Prefill: sequence length (default 4096)"),
                     cl::init(4096), cl::cat(tuneCategory));
cl::opt<long> tokens("tokens",
                     cl::desc("Prefill: tokens in the batch; batch = tokens / seq "
                              "(default 16384, as turbo-bench)"),
                     cl::init(16384), cl::cat(tuneCategory));
cl::list<std::string> accuracyInputs(
    "inputs", cl::CommaSeparated,
    cl::desc("Prefill: the accuracy inputs a point's error is the worst of "
             "(normal, outliers, peaked, sink[:R], tail[:G] with --causal, "
             "vout; default normal,sink:20, and tail:6 with --causal)"),
    cl::cat(tuneCategory));
cl::list<std::string> samplePaths(
    "sample", cl::CommaSeparated,
    cl::desc("Prefill: also hold points to float64 attention on this layer's "
             "Q.npy,K.npy,V.npy (Q [q_heads, tokens, head_dim], K and V "
             "[kv_heads, tokens, head_dim], float16/32/64, up to 4096 tokens)"),
    cl::cat(tuneCategory));
cl::opt<double> maxRelErr(
    "max-rel-err",
    cl::desc("Accuracy budget: relative L2 against float64 attention a "
             "point that changes the results may reach (default 2e-2)"),
    cl::init(2e-2), cl::cat(tuneCategory));
cl::opt<double>
    budgetSeconds("budget-seconds",
                  cl::desc("Stop measuring after this long (default 180)"),
                  cl::init(180), cl::cat(tuneCategory));
cl::opt<int>
    repeats("repeats",
            cl::desc("Timed runs per point; the median counts (default 50)"),
            cl::init(50), cl::cat(tuneCategory));
cl::opt<bool> warmL2(
    "warm-l2",
    cl::desc("Time runs back to back, each finding the last one's data in L2 "
             "(default: L2 flushed before each timed run)"),
    cl::cat(tuneCategory));
cl::opt<bool> dryRun("dry-run",
                     cl::desc("List the space and what prunes it; run nothing"),
                     cl::cat(tuneCategory));
cl::opt<bool> show("show", cl::desc("List the tuning database and exit"),
                   cl::cat(tuneCategory));
cl::opt<std::string>
    dbPath("db",
           cl::desc("Tuning database (default $TURBO_TUNING_DB, else "
                    "tuning.json beside the kernel cache)"),
           cl::init(""), cl::cat(tuneCategory));
cl::opt<std::string> chartPath(
    "chart",
    cl::desc("Also draw the points' time against error, the Pareto front and "
             "the budget, as SVG, to this file"),
    cl::init(""), cl::cat(tuneCategory));
cl::opt<std::string> jsonPath("json",
                              cl::desc("Also write every point's result here"),
                              cl::init(""), cl::cat(tuneCategory));

int fail(const std::string &message) {
  llvm::errs() << "turbo-tune: " << message << "\n";
  return 1;
}

std::string databasePath() {
  return dbPath.empty() ? rt::TuningDatabase::defaultPath() : dbPath.getValue();
}

int showDatabase() {
  const std::string path = databasePath();
  auto db = rt::TuningDatabase::load(path);
  if (!db)
    return fail(db.status().message());
  llvm::outs() << fmt::format("{}: {} records\n", path, db->records().size());
  for (const rt::TuningRecord &r : db->records())
    llvm::outs() << fmt::format(
        "{} [{}] {} on {} ({}): {} -> {:.1f} us (defaults {:.1f} us), "
        "{}, codegen {}\n",
        r.key.templateName, r.key.head, r.key.shape, r.key.gpu, r.key.target,
        r.config, r.microseconds, r.defaultMicroseconds, r.date, r.key.codegen);
  return 0;
}

/// --sample's three files as the head's dtype, or why they cannot be used.
turbo::Result<AccuracySample> loadSample(const turbo_head_config &head) {
  using turbo::Status;
  using turbo::StatusCode;
  if (samplePaths.size() != 3)
    return Status(StatusCode::InvalidArgument, "--sample takes Q.npy,K.npy,V.npy");
  std::vector<turbo::NpyArray> arrays;
  for (const std::string &path : samplePaths) {
    auto array = turbo::readNpy(path);
    if (!array)
      return array.status();
    if (array->shape.size() != 3 || array->shape[2] != head.head_dim)
      return Status(StatusCode::InvalidArgument,
                    path + " must be shaped [heads, tokens, head_dim] with head_dim " +
                        std::to_string(head.head_dim));
    for (float x : array->values)
      if (!std::isfinite(x))
        return Status(StatusCode::InvalidArgument, path + " holds a value that is not finite");
    arrays.push_back(std::move(*array));
  }
  const auto &q = arrays[0].shape, &k = arrays[1].shape;
  if (q[0] < 1 || k[0] < 1 || q[1] < 1)
    return Status(StatusCode::InvalidArgument, "--sample: Q, K and V must not be empty");
  if (k != arrays[2].shape || q[1] != k[1] || q[0] % k[0] || q[1] > 4096)
    return Status(StatusCode::InvalidArgument,
                  "--sample: K and V must have the same shape, Q the same tokens (at most "
                  "4096) and a multiple of K's heads");
  if (head.dtype != TURBO_DTYPE_BF16)
    for (size_t i = 0; i < arrays.size(); ++i)
      for (float x : arrays[i].values)
        if (std::fabs(x) > 65504.0f)
          return Status(StatusCode::InvalidArgument,
                        samplePaths[i] + " holds a value beyond float16's range (65504)");
  AccuracySample sample{"sample", q[0], k[0], q[1], {}, {}, {}};
  const bool bf16 = head.dtype == TURBO_DTYPE_BF16;
  auto bits = [&](const turbo::NpyArray &array) {
    std::vector<uint16_t> out(array.values.size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = bf16 ? turbo::numerics::floatToBFloat(array.values[i])
                    : turbo::numerics::floatToHalf(array.values[i]);
    return out;
  };
  sample.q = bits(arrays[0]);
  sample.k = bits(arrays[1]);
  sample.v = bits(arrays[2]);
  return sample;
}
std::optional<AccuracySample> sample; ///< --sample, loaded

/// ptxas -v's registers and spill stores of the (one) kernel in `log`.
struct Assembly {
  bool ok = false;
  int registers = 0, spillBytes = 0;
  std::string log;
};

Assembly assemble(const std::string &ptxas, const std::string &ptx,
                  const std::string &target) {
  turbo::compiler::PtxasResult result =
      turbo::compiler::runPtxas(ptxas, ptx, target);
  Assembly out{result.exitCode == 0, 0, 0, result.log};
  std::smatch match;
  if (std::regex_search(result.log, match,
                        std::regex("Used ([0-9]+) registers")))
    out.registers = std::stoi(match[1]);
  if (std::regex_search(result.log, match,
                        std::regex("([0-9]+) bytes spill stores")))
    out.spillBytes = std::stoi(match[1]);
  return out;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d", std::gmtime(&now));
  return text;
}

struct Point {
  std::string overrides;
  bool isDefault = false;
  std::string pruned; ///< why it is left out; empty: measured (or listed)
  Assembly assembly; ///< --dry-run: ptxas's registers and spills
  rt::Trial trial;
  bool errorMeasured = false; ///< trial.relativeError was measured (else 0: the defaults' arithmetic)
  /// The template accepts it (set when the space is listed, never after:
  /// KernelMaker's threads write `pruned` of a kept point that fails to
  /// compile, read only once `made` is set).
  bool kept = false;
  /// On a GPU: the point's kernel, made on a background thread while
  /// earlier points are measured; `made` is set when it is there or failed.
  std::shared_ptr<turbo_kernel> kernel;
  std::promise<void> madePromise;
  std::shared_future<void> made = madePromise.get_future().share();
};

/// Makes every kept point's kernel (compile, assemble, load) on all host
/// cores on a thread of its own, so that compiles overlap the GPU's
/// measuring; each point's `made` is set as its kernel is done. The
/// destructor (when measuring is over, the time budget spent or not) stops
/// what has not started and waits for the thread.
class KernelMaker {
public:
  template <class T>
  static std::unique_ptr<KernelMaker> start(turbo_context *ctx, const turbo_head_config &head,
                                            std::vector<Point> &points) {
    auto maker = std::make_unique<KernelMaker>();
    std::vector<Point *> kept;
    for (Point &p : points)
      if (p.kept)
        kept.push_back(&p);
      else
        p.madePromise.set_value();
    // The defaults first: they are measured first.
    std::stable_partition(kept.begin(), kept.end(), [](Point *p) { return p->isDefault; });
    KernelMaker *self = maker.get();
    maker->thread = std::thread([self, ctx, head, kept] {
      turbo::parallelFor(int64_t(kept.size()), [&](int64_t i) {
        Point &p = *kept[size_t(i)];
        if (!self->stop) {
          turbo_kernel *kernel = nullptr;
          if (turbo_status status =
                  turbo_kernel_create(ctx, T::name, &head, p.overrides.c_str(), &kernel)) {
            p.pruned = "does not compile or load: " + describeFailure(status);
          } else {
            p.kernel.reset(kernel, turbo_kernel_destroy);
          }
        }
        p.madePromise.set_value();
      });
    });
    return maker;
  }
  ~KernelMaker() {
    stop = true;
    if (thread.joinable())
      thread.join();
  }
  std::atomic<bool> stop{false};

private:
  std::thread thread;
};

/// The space of template T for `head` on `target`: each point checked by
/// the template and, with `compile` (a dry run), compiled and, where ptxas
/// is found, assembled. (On a GPU, KernelMaker makes the kernels.)
template <class T>
turbo::Result<std::vector<Point>> listSpace(const turbo_head_config &head,
                                            const turbo::HeadConfig &headConfig,
                                            const std::string &target, bool compile) {
  auto base = tpl::parseConfig<T>(&headConfig, "");
  if (!base)
    return base.status();
  const tpl::SearchSpace space = T::searchSpace(target, *base);
  const std::optional<std::string> ptxas = turbo::compiler::findPtxas();
  std::vector<Point> points;
  std::vector<size_t> toCompile;
  for (auto &p : tpl::enumerate<T>(*base, space)) {
    Point point;
    point.overrides = p.overrides;
    point.trial.config = p.overrides;
    point.isDefault =
        tpl::canonicalText<T>(p.config) == tpl::canonicalText<T>(*base);
    point.kept = p.status.isOk();
    if (!p.status.isOk())
      point.pruned = p.status.message();
    else if (compile)
      toCompile.push_back(points.size());
    points.push_back(std::move(point));
  }
  // Compiles and ptxas runs are independent: on every host core.
  turbo::parallelFor(int64_t(toCompile.size()), [&](int64_t i) {
    Point &point = points[toCompile[size_t(i)]];
    char *text = nullptr;
    turbo_status status = turbo_compile_template(
        T::name, &head, point.overrides.c_str(), "ptx", &text);
    if (status) {
      point.pruned = "does not compile: " + describeFailure(status);
    } else if (ptxas) {
      point.assembly = assemble(*ptxas, text, target);
      if (!point.assembly.ok)
        point.pruned = "ptxas refuses it";
    }
    turbo_free(text);
  });
  return points;
}

void printSpace(const std::vector<Point> &points) {
  llvm::outs() << fmt::format("{:<58} {:>9} {:>7}  {}\n", "point", "registers",
                              "spills", "status");
  for (const Point &p : points)
    llvm::outs() << fmt::format(
        "{:<58} {:>9} {:>7}  {}\n",
        p.overrides + (p.isDefault ? " (defaults)" : ""),
        p.assembly.registers ? std::to_string(p.assembly.registers) : "-",
        p.assembly.ok ? std::to_string(p.assembly.spillBytes) : "-",
        p.pruned.empty() ? "kept" : "pruned: " + p.pruned);
}

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Each kept point measured by `measure` (the defaults first, so that a run
/// cut by --budget-seconds still has them to compare with), with a line of
/// progress per point, until the time budget (counted from `start`) runs
/// out.
void measurePoints(std::vector<Point> &points, Clock::time_point start,
                   const std::function<void(Point &)> &measure) {
  std::vector<Point *> order;
  for (Point &p : points)
    if (p.kept)
      order.push_back(&p);
  std::stable_partition(order.begin(), order.end(), [](Point *p) { return p->isDefault; });
  const auto measuring = Clock::now();
  size_t done = 0;
  for (Point *p : order) {
    if (secondsSince(start) > budgetSeconds) {
      p->trial.note = "not measured: --budget-seconds reached";
      continue;
    }
    p->made.wait();
    ++done;
    if (p->kernel)
      measure(*p);
    else
      p->trial.note = p->pruned;
    const double perPoint = secondsSince(measuring) / double(done);
    llvm::outs() << fmt::format(
        "[{}/{}] {}: {} (ETA {:.0f} s)\n", done, order.size(), p->overrides,
        p->trial.ran ? fmt::format("{:.1f} us, {}", p->trial.microseconds, p->trial.note)
                     : p->trial.note,
        perPoint * double(order.size() - done));
    llvm::outs().flush();
  }
}

/// Decode: each kept point verified against the CPU reference and timed.
int tuneDecode(turbo_context *ctx, const turbo_head_config &head,
               const turbo::HeadConfig &headConfig, std::vector<Point> &points) {
  using AD = tpl::AttentionDecode;
  const auto start = Clock::now();
  // One cache and reference for every point: they differ in speed only
  // (AttentionDecode's space), so the defaults' arithmetic serves them all.
  auto defaults = tpl::parseConfig<AD>(&headConfig, "");
  if (!defaults)
    return fail(defaults.status().message());
  std::unique_ptr<DecodeBench> bench;
  DecodeBenchOptions options{batch, context, 1, 0, 5, repeats};
  options.coldL2 = !warmL2;
  if (turbo_status status = DecodeBench::create(ctx, *defaults, head, options, bench))
    return fail("building the decode benchmark's cache: " + describeFailure(status));
  llvm::outs() << fmt::format("cache and reference built in {:.1f} s\n", secondsSince(start));
  measurePoints(points, start, [&](Point &p) {
    DecodeBenchResult result;
    if (turbo_status status = bench->measure(p.kernel.get(), result)) {
      p.trial.note = describeFailure(status);
      return;
    }
    // Every point has the arithmetic of the defaults (the space varies
    // speed only), held to its CPU reference here.
    p.trial.ran = true;
    p.trial.verified = result.verified;
    p.trial.microseconds = result.medianUs;
    p.trial.note = result.detail;
  });
  return 0;
}

/// Prefill: each kept point verified against the CPU reference of its own
/// arithmetic, its error against float64 attention taken as the worst over
/// the accuracy inputs (--inputs, default normal rows and a sink, and a
/// tail when causal) and the timed input's checked rows, then timed.
int tunePrefill(turbo_context *ctx, const turbo_head_config &head,
                const turbo::HeadConfig &headConfig, std::vector<Point> &points) {
  using AP = tpl::AttentionPrefill;
  const auto start = Clock::now();
  auto defaults = tpl::parseConfig<AP>(&headConfig, "");
  if (!defaults)
    return fail(defaults.status().message());
  PrefillBenchOptions options;
  options.batch = std::max<int64_t>(1, tokens / seqLen);
  options.seq = seqLen;
  options.warmup = 5;
  options.repeats = repeats;
  options.coldL2 = !warmL2;
  options.accuracyKinds = accuracyInputs.empty() ? defaultAccuracyKinds(defaults->causal)
                                                 : std::vector<std::string>(accuracyInputs);
  options.accuracySeq = std::min<int64_t>(seqLen, 1024);
  if (sample)
    options.samples.push_back(*sample);
  std::unique_ptr<PrefillBench> bench;
  if (turbo_status status = PrefillBench::create(ctx, *defaults, head, options, bench))
    return fail("building the prefill benchmark's inputs: " + describeFailure(status));
  llvm::outs() << fmt::format("inputs and float64 references built in {:.1f} s\n",
                              secondsSince(start));
  measurePoints(points, start, [&](Point &p) {
    auto config = tpl::parseConfig<AP>(&headConfig, p.overrides);
    if (!config) {
      p.trial.note = config.status().message();
      return;
    }
    PrefillBenchResult result;
    if (turbo_status status = bench->measure(p.kernel.get(), *config, result)) {
      p.trial.note = describeFailure(status);
      return;
    }
    p.trial.ran = true;
    p.trial.verified = result.verified;
    p.trial.microseconds = result.medianUs;
    p.trial.relativeError = std::isnan(result.worstError) || std::isnan(result.vsExact)
                                ? std::numeric_limits<double>::quiet_NaN()
                                : std::max(result.worstError, result.vsExact);
    p.errorMeasured = true;
    p.trial.note = result.detail;
  });
  return 0;
}

template <class T>
int tune(const turbo_head_config &head, const std::string &shapeText,
         const std::string &shapeBucket) {
  turbo_context_desc desc;
  turbo_context_desc_init(&desc);
  turbo_context *ctx = nullptr;
  turbo_status status =
      dryRun ? TURBO_STATUS_NO_DEVICE : turbo_context_create(&desc, &ctx);
  std::unique_ptr<turbo_context, decltype(&turbo_context_destroy)> owned(
      ctx, turbo_context_destroy);
  turbo_device_info device{sizeof(device)};
  if (!dryRun) {
    if (status)
      return fail(describeFailure(status) +
                  "; timing needs a GPU (--dry-run lists the space)");
    if ((status = turbo_context_device_info(ctx, &device)))
      return fail(describeFailure(status));
  }
  const std::string target = !dryRun       ? device.target
                             : head.target ? head.target
                                           : turbo::kDefaultTarget;
  const turbo::HeadConfig headConfig = toHeadConfig(head, target);
  auto points = listSpace<T>(head, headConfig, target, dryRun);
  if (!points)
    return fail(points.status().message());
  llvm::outs() << fmt::format("{} for {} ({}), {} on {}: {} points\n", T::name,
                              rt::headKey(T::name, headConfig), shapeText, target,
                              dryRun ? "(dry run, no GPU)" : device.name,
                              points->size());
  if (!turbo::compiler::findPtxas())
    llvm::outs()
        << "ptxas not found: points are not assembled before they run\n";
  if (dryRun) {
    printSpace(*points);
    return 0;
  }
  const bool decode = T::name == std::string_view(tpl::AttentionDecode::name);
  {
    std::unique_ptr<KernelMaker> maker = KernelMaker::start<T>(ctx, head, *points);
    if (int rc = decode ? tuneDecode(ctx, head, headConfig, *points)
                        : tunePrefill(ctx, head, headConfig, *points))
      return rc;
  }

  std::vector<rt::Trial> trials;
  std::optional<size_t> defaults;
  for (size_t i = 0; i < points->size(); ++i) {
    trials.push_back((*points)[i].trial);
    if ((*points)[i].isDefault)
      defaults = i;
  }
  const std::optional<size_t> best = rt::fastestEligible(trials, maxRelErr);
  const double defaultUs =
      defaults && trials[*defaults].ran ? trials[*defaults].microseconds : 0;
  llvm::outs() << fmt::format("\n{:<58} {:>10} {:>10} {:>9}  {}\n", "point", "median us",
                              "x defaults", "rel err", "status");
  for (size_t i = 0; i < trials.size(); ++i) {
    const rt::Trial &t = trials[i];
    const Point &p = (*points)[i];
    llvm::outs() << fmt::format(
        "{:<58} {:>10} {:>10} {:>9}  {}\n", t.config + (p.isDefault ? " (defaults)" : ""),
        t.ran ? fmt::format("{:.1f}", t.microseconds) : "-",
        t.ran && defaultUs > 0 ? fmt::format("{:.2f}", defaultUs / t.microseconds) : "-",
        t.ran && p.errorMeasured ? fmt::format("{:.2e}", t.relativeError) : "-",
        !p.pruned.empty()                     ? "pruned: " + p.pruned
        : !t.ran                              ? t.note
        : !t.verified                         ? "differs from its CPU reference: " + t.note
        : best && *best == i                  ? "tuned"
        : !(t.relativeError <= maxRelErr)     ? "over --max-rel-err"
                                              : "ok");
  }
  llvm::outs() << "Pareto front (time, error):";
  for (size_t i : rt::paretoFront(trials))
    llvm::outs() << " " << trials[i].config;
  llvm::outs() << "\n";
  if (!jsonPath.empty()) {
    llvm::json::Array rows;
    for (size_t i = 0; i < trials.size(); ++i)
      rows.push_back(llvm::json::Object{{"config", trials[i].config},
                                        {"defaults", (*points)[i].isDefault},
                                        {"pruned", (*points)[i].pruned},
                                        {"ran", trials[i].ran},
                                        {"verified", trials[i].verified},
                                        {"median_us", trials[i].microseconds},
                                        {"rel_err", (*points)[i].errorMeasured
                                                        ? llvm::json::Value(trials[i].relativeError)
                                                        : llvm::json::Value(nullptr)},
                                        {"note", trials[i].note}});
    std::error_code ec;
    llvm::raw_fd_ostream file(jsonPath, ec);
    if (ec)
      return fail("cannot write " + jsonPath + ": " + ec.message());
    file << llvm::json::Value(
                llvm::json::Object{{"template", T::name},
                                   {"head", rt::headKey(T::name, headConfig)},
                                   {"shape", shapeText},
                                   {"gpu", device.name},
                                   {"points", std::move(rows)}})
         << "\n";
  }
  if (!chartPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream file(chartPath, ec);
    if (ec)
      return fail("cannot write " + chartPath + ": " + ec.message());
    file << rt::paretoChartSvg(
        trials, {fmt::format("{} {}, {} on {}", T::name, rt::headKey(T::name, headConfig), shapeText,
                             device.name),
                 maxRelErr, defaults, best});
    llvm::outs() << "chart written to " << chartPath << "\n";
  }
  if (!best)
    return fail("no point ran, was verified and stayed within --max-rel-err");
  rt::TuningRecord record;
  record.key = {T::name,     rt::headKey(T::name, headConfig), shapeBucket,
                device.name, device.target,           turbo_codegen_version()};
  record.config = trials[*best].config;
  record.microseconds = trials[*best].microseconds;
  record.defaultMicroseconds = defaultUs;
  record.relativeError = trials[*best].relativeError;
  record.maxRelativeError = maxRelErr;
  record.date = today();
  rt::TuningDatabase db;
  db.add(record);
  const std::string path = databasePath();
  if (path.empty())
    return fail(
        "no tuning database path: set TURBO_TUNING_DB or HOME, or pass --db");
  rt::TuningDatabase written;
  if (turbo::Status saved = db.save(path, &written); !saved.isOk())
    return fail(saved.message());
  llvm::outs() << fmt::format("tuned: {} ({:.1f} us, defaults {:.1f} us)\n", record.config,
                              record.microseconds, defaultUs);
  // What the file holds for this key now: an earlier record stays when it
  // is faster and within both runs' budgets (TuningDatabase::add).
  auto match = written.lookup(record.key);
  const rt::TuningRecord *kept = match && match->exact ? match->record : nullptr;
  if (kept && kept->config != record.config)
    llvm::outs() << fmt::format("{} keeps {} ({:.1f} us, error {:.2e}, budget {:.0e}): faster "
                                "and within both runs' budgets\n",
                                path, kept->config, kept->microseconds, kept->relativeError,
                                kept->maxRelativeError);
  else
    llvm::outs() << "written to " << path << "\n";
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions({&tuneCategory, &headCategory});
  parseCommandLine(
      argc, argv,
      "turbo-tune: search a kernel template's tuning space for a head "
      "configuration and shape; the fastest point within the accuracy budget "
      "goes "
      "into the tuning database\n");
  if (calibrateCommand)
    return runCalibrate();
  if (show)
    return showDatabase();
  turbo_head_config head;
  std::string error;
  if (!readHeadConfig(head, error))
    return fail(error);
  if (batch < 1 || context < 1 || seqLen < 1 || repeats < 1 ||
      !(budgetSeconds > 0) || !(maxRelErr > 0))
    return fail("--batch, --context, --seq and --repeats must be >= 1, "
                "--budget-seconds and "
                "--max-rel-err > 0");
  for (const std::string &kind : accuracyInputs) {
    if (kernelName != tpl::AttentionPrefill::name)
      return fail("--inputs is for --kernel=attention_prefill (decode points share "
                  "the defaults' arithmetic)");
    if (std::string why = tpl::attention_prefill::checkAccuracyKind(kind, head.causal != 0);
        !why.empty())
      return fail("--inputs: " + why);
  }
  if (!samplePaths.empty()) {
    if (kernelName != tpl::AttentionPrefill::name)
      return fail("--sample is for --kernel=attention_prefill");
    auto loaded = loadSample(head);
    if (!loaded)
      return fail(loaded.status().message());
    sample = std::move(*loaded);
  }
  if (kernelName == tpl::AttentionDecode::name)
    return tune<tpl::AttentionDecode>(head,
                                      fmt::format("batch {} x context {}",
                                                  batch.getValue(),
                                                  context.getValue()),
                                      rt::decodeShapeBucket(batch, context));
  if (kernelName == tpl::AttentionPrefill::name) {
    if (std::string unused = kvBitsUnused(kernelName); !unused.empty())
      return fail(unused);
    return tune<tpl::AttentionPrefill>(head,
                                       fmt::format("seq {}", seqLen.getValue()),
                                       rt::prefillShapeBucket(seqLen));
  }
  return fail("--kernel must be attention_decode or attention_prefill");
}
