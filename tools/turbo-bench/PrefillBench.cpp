//===- PrefillBench.cpp - turbo-bench's prefill measurement ---------------===//
#include "PrefillBench.h"
#include "BenchDevice.h"
#include "../common/ToolOptions.h"

#include "turbo/Support/Numerics.h"
#include "turbo/Support/ParallelFor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace turbo::tools {
namespace ap = turbo::templates::attention_prefill;

namespace {

/// One problem on the device: Q, K, V and O (dense, `problem`'s strides).
struct DeviceProblem {
  ap::Problem problem;
  DeviceBuffer q, k, v, o;
  size_t outElements = 0;
  DeviceProblem(turbo_context *context, const ap::Problem &problem)
      : problem(problem), q{context}, k{context}, v{context}, o{context} {}
  turbo_status upload(turbo_context *context, const std::vector<uint16_t> &hq,
                      const std::vector<uint16_t> &hk, const std::vector<uint16_t> &hv) {
    outElements = hq.size();
    turbo_status status;
    if ((status = tools::upload(context, q, hq)) || (status = tools::upload(context, k, hk)) ||
        (status = tools::upload(context, v, hv)))
      return status;
    return turbo_device_alloc(context, outElements * 2, &o.pointer);
  }
};

struct PrefillRun {
  turbo_kernel *kernel;
  turbo_prefill_args args;
};

turbo_status launchPrefill(void *data, void *stream) {
  auto *run = static_cast<PrefillRun *>(data);
  return turbo_attention_prefill(run->kernel, &run->args, stream);
}

/// `run` set up for `kernel` on `p` (O poisoned with NaN), its workspace in
/// `workspace`.
turbo_status prepare(turbo_context *context, turbo_kernel *kernel, const DeviceProblem &p,
                     DeviceBuffer &workspace, PrefillRun &run) {
  run.kernel = kernel;
  turbo_prefill_args &args = run.args;
  turbo_prefill_args_init(&args);
  args.batch = p.problem.batch;
  args.q_heads = p.problem.qHeads;
  args.kv_heads = p.problem.kvHeads;
  args.seq_q = p.problem.seqQ;
  args.seq_k = p.problem.seqK;
  auto tensor = [](uint64_t data, const ap::Problem::Strides &s) {
    return turbo_tensor{data, s.batch, s.head, s.row};
  };
  args.q = tensor(p.q.pointer, p.problem.q);
  args.k = tensor(p.k.pointer, p.problem.k);
  args.v = tensor(p.v.pointer, p.problem.v);
  args.o = tensor(p.o.pointer, p.problem.o);
  size_t bytes = 0;
  turbo_status status;
  if ((status = turbo_attention_prefill_workspace_size(kernel, &args, &bytes)) ||
      (bytes && (status = turbo_device_alloc(context, bytes, &workspace.pointer))) ||
      (status = turbo_device_fill(context, p.o.pointer, 0xff, p.outElements * 2)))
    return status;
  args.workspace = workspace.pointer;
  args.workspace_bytes = bytes;
  return TURBO_STATUS_OK;
}

double toDouble(uint16_t bits, bool bf16) {
  const double x = bf16 ? numerics::bfloatToFloat(bits) : numerics::halfToFloat(bits);
  return std::isnan(x) ? 1e30 : x; // an unwritten (NaN) element shows as a huge error
}

double relativeL2(const std::vector<uint16_t> &got, const double *want, bool bf16) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double x = toDouble(got[i], bf16);
    diff += (x - want[i]) * (x - want[i]);
    norm += want[i] * want[i];
  }
  if (norm == 0) // an exact output of zeros: any difference is infinitely large
    return diff == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(diff / norm);
}
} // namespace

std::vector<std::string> defaultAccuracyKinds(bool causal) {
  std::vector<std::string> kinds = {"normal", "sink:20"};
  if (causal)
    kinds.push_back("tail:6");
  return kinds;
}

struct PrefillBench::State {
  turbo_context *context;
  ap::Config base;
  PrefillBenchOptions options;
  bool bf16;
  std::unique_ptr<DeviceProblem> timed;
  std::vector<uint16_t> q, k, v;  ///< the timed input on the host
  int64_t checkedRows = 0;        ///< rows of (batch 0, head 0) checked
  std::vector<double> exactRows;  ///< their float64 attention
  struct Kind {
    std::string name;
    std::unique_ptr<DeviceProblem> problem;
    std::vector<double> exact;
  };
  std::vector<Kind> kinds;
};

PrefillBench::PrefillBench(std::unique_ptr<State> state) : state(std::move(state)) {}
PrefillBench::~PrefillBench() = default;

turbo_status PrefillBench::create(turbo_context *context, const ap::Config &base,
                                  const turbo_head_config &head, const PrefillBenchOptions &options,
                                  std::unique_ptr<PrefillBench> &out) {
  const int64_t d = base.headDim, seq = options.seq;
  auto state = std::make_unique<State>(State{context, base, options, base.dtype == DType::BF16});
  State &s = *state;
  auto bits = [&](float x) {
    return s.bf16 ? numerics::floatToBFloat(x) : numerics::floatToHalf(x);
  };
  const ap::Problem problem =
      ap::Problem::dense(options.batch, head.q_heads, head.kv_heads, seq, seq, d);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  auto random = [&](int64_t n) {
    std::vector<uint16_t> x(static_cast<size_t>(n));
    for (uint16_t &e : x)
      e = bits(normal(rng));
    return x;
  };
  s.q = random(options.batch * problem.q.batch);
  s.k = random(options.batch * problem.k.batch);
  s.v = random(options.batch * problem.v.batch);
  s.timed = std::make_unique<DeviceProblem>(context, problem);
  if (turbo_status status = s.timed->upload(context, s.q, s.k, s.v))
    return status;
  // The first rows of (batch 0, head 0) with all keys (causal: the keys
  // they see).
  s.checkedRows = std::min<int64_t>(seq, 256);
  ap::Problem slice = problem;
  slice.batch = slice.qHeads = slice.kvHeads = 1;
  slice.seqQ = s.checkedRows;
  slice.seqK = base.causal ? s.checkedRows : seq;
  s.exactRows.resize(size_t(s.checkedRows * d));
  ap::exactReference(base, slice, s.q.data(), s.k.data(), s.v.data(), s.exactRows.data());

  // The accuracy inputs (turbo's kinds, then the caller's samples) and
  // their float64 attention, one query head per host core.
  std::vector<AccuracySample> cases;
  const int64_t n = options.accuracySeq;
  for (const std::string &name : options.accuracyKinds) {
    ap::AccuracyInputs in = ap::makeAccuracyInputs(name, 2, n, d, 2026);
    if (s.bf16) // makeAccuracyInputs gives f16 bits
      for (auto *x : {&in.q, &in.k, &in.v})
        for (uint16_t &e : *x)
          e = numerics::floatToBFloat(numerics::halfToFloat(e));
    cases.push_back({name, 2, 2, n, std::move(in.q), std::move(in.k), std::move(in.v)});
  }
  cases.insert(cases.end(), options.samples.begin(), options.samples.end());
  std::vector<std::pair<size_t, int64_t>> heads; // (case, query head)
  s.kinds.resize(cases.size());
  for (size_t c = 0; c < cases.size(); ++c) {
    const AccuracySample &in = cases[c];
    if (in.qHeads < 1 || in.kvHeads < 1 || in.qHeads % in.kvHeads || in.tokens < 1 ||
        in.q.size() != size_t(in.qHeads * in.tokens * d) ||
        in.k.size() != size_t(in.kvHeads * in.tokens * d) || in.v.size() != in.k.size())
      return TURBO_STATUS_INVALID_ARGUMENT; // a caller's bug: turbo-tune checks samples

    s.kinds[c].name = in.name;
    s.kinds[c].exact.resize(in.q.size());
    for (int64_t h = 0; h < in.qHeads; ++h)
      heads.emplace_back(c, h);
  }
  parallelFor(int64_t(heads.size()), [&](int64_t i) {
    const auto [c, h] = heads[size_t(i)];
    const AccuracySample &in = cases[c];
    const size_t rows = size_t(in.tokens * d);
    const int64_t kvHead = h / (in.qHeads / in.kvHeads);
    ap::exactReference(base, ap::Problem::dense(1, 1, 1, in.tokens, in.tokens, d),
                       in.q.data() + size_t(h) * rows, in.k.data() + size_t(kvHead) * rows,
                       in.v.data() + size_t(kvHead) * rows,
                       s.kinds[c].exact.data() + size_t(h) * rows);
  });
  for (size_t c = 0; c < cases.size(); ++c) {
    const AccuracySample &in = cases[c];
    s.kinds[c].problem = std::make_unique<DeviceProblem>(
        context, ap::Problem::dense(1, in.qHeads, in.kvHeads, in.tokens, in.tokens, d));
    if (turbo_status status = s.kinds[c].problem->upload(context, in.q, in.k, in.v))
      return status;
  }
  out.reset(new PrefillBench(std::move(state)));
  return TURBO_STATUS_OK;
}

turbo_status PrefillBench::measure(turbo_kernel *kernel, const ap::Config &config,
                                   PrefillBenchResult &out) {
  State &s = *state;
  const ap::Problem &problem = s.timed->problem;
  const int64_t d = config.headDim;
  DeviceBuffer workspace{s.context};
  PrefillRun run{};
  turbo_status status;
  if ((status = prepare(s.context, kernel, *s.timed, workspace, run)) ||
      (status = launchPrefill(&run, nullptr)) || (status = turbo_synchronize(s.context)))
    return status;
  std::vector<uint16_t> result(size_t(s.checkedRows * d));
  if ((status = turbo_copy_to_host(s.context, result.data(), s.timed->o.pointer,
                                   result.size() * 2)))
    return status;
  // The CPU reference of the kernel's arithmetic on the checked rows; with
  // K smoothing the kernel subtracts the means of all keys: the reference
  // takes those (head 0's, from the workspace), not the slice's own.
  ap::Problem slice = problem;
  slice.batch = slice.qHeads = slice.kvHeads = 1;
  slice.seqQ = s.checkedRows;
  slice.seqK = config.causal ? s.checkedRows : problem.seqK;
  std::vector<float> means(static_cast<size_t>(d));
  const int64_t meansAt = ap::workspaceFor(config, problem).kMean;
  if (meansAt >= 0 &&
      (status = turbo_copy_to_host(s.context, means.data(),
                                   run.args.workspace + uint64_t(meansAt), means.size() * 4)))
    return status;
  std::vector<uint16_t> expected(result.size());
  ap::reference(config, slice, s.q.data(), s.k.data(), s.v.data(), expected.data(), nullptr,
                config.kSmooth ? means.data() : nullptr);
  std::vector<double> expectedValues(expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    expectedValues[i] = toDouble(expected[i], s.bf16);
  out.vsReference = relativeL2(result, expectedValues.data(), s.bf16);
  out.vsExact = relativeL2(result, s.exactRows.data(), s.bf16);
  out.verified = out.vsReference <= 1e-3;
  out.detail = fmt::format("rel L2 {:.1e} vs CPU reference, {:.2e} vs exact ({} rows of head 0)",
                           out.vsReference, out.vsExact, s.checkedRows);

  out.worstError = 0;
  out.worstKind.clear();
  for (State::Kind &kind : s.kinds) {
    DeviceBuffer kindWorkspace{s.context};
    PrefillRun kindRun{};
    std::vector<uint16_t> got(kind.problem->outElements);
    if ((status = prepare(s.context, kernel, *kind.problem, kindWorkspace, kindRun)) ||
        (status = launchPrefill(&kindRun, nullptr)) || (status = turbo_synchronize(s.context)) ||
        (status = turbo_copy_to_host(s.context, got.data(), kind.problem->o.pointer,
                                     got.size() * 2)))
      return status;
    const double error = relativeL2(got, kind.exact.data(), s.bf16);
    // NaN counts as the worst and stays.
    if (!std::isnan(out.worstError) && (std::isnan(error) || error > out.worstError)) {
      out.worstError = error;
      out.worstKind = kind.name;
    }
  }
  if (!s.kinds.empty())
    out.detail += fmt::format("; worst of {} input kinds vs exact: {:.2e} ({})", s.kinds.size(),
                              out.worstError, out.worstKind);

  LaunchTiming timing;
  if ((status = timeLaunch(s.context, launchPrefill, &run, s.options.warmup, s.options.repeats,
                           s.options.coldL2, timing)))
    return status;
  out.medianUs = timing.medianUs;
  out.minUs = timing.minUs;
  out.ops = 4.0 * double(problem.batch) * double(problem.qHeads) * double(problem.seqQ) *
            double(problem.seqK) * double(d) * (config.causal ? 0.5 : 1.0);
  out.bytes = 2.0 * double(2 * s.q.size() + s.k.size() + s.v.size());
  return TURBO_STATUS_OK;
}

} // namespace turbo::tools
