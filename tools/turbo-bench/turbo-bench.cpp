//===- turbo-bench.cpp - JIT, run, verify and time turbo's kernels --------===//
//
// For a head configuration: JIT-compile the kernel; on a GPU,
// run it on random input, compare every output with the CPU reference of the
// same arithmetic, and time it with CUDA events (median of many runs after
// warm-up). Without a GPU: emit the PTX, assemble it with ptxas where the
// CUDA toolkit is installed, and say that no GPU was found.
//
//===----------------------------------------------------------------------===//
#include "turbo/Compiler/Ptxas.h"
#include "../common/ToolOptions.h"
#include "BenchDevice.h"
#include "DecodeBench.h"
#include "PrefillBench.h"

#include "attention_decode/AttentionDecode.h"
#include "kv_stage/KvStage.h"
#include "attention_prefill/AttentionPrefill.h"
#include "quantize_rows/QuantizeRows.h"
#include "turbo/Support/Numerics.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace cl = llvm::cl;
using namespace turbo::tools;
using namespace turbo::compiler;
namespace numerics = turbo::numerics;
namespace qr = turbo::templates::quantize_rows;
namespace ap = turbo::templates::attention_prefill;

namespace {
cl::OptionCategory benchCategory("Benchmark");
cl::opt<std::string> kernelName("kernel",
                                cl::desc("Template to run: attention_prefill (default), "
                                         "attention_decode, kv_stage (the append step) or "
                                         "quantize_rows"),
                                cl::init("attention_prefill"), cl::cat(benchCategory));
cl::opt<long> seqLen("seq", cl::desc("Sequence length for attention; batch = tokens / seq "
                                     "(default 1024)"),
                     cl::init(1024), cl::cat(benchCategory));
cl::opt<std::string> config("config", cl::desc("Pin tuning parameters: key=value,..."),
                            cl::cat(benchCategory));
cl::opt<long> tokens("tokens",
                     cl::desc("Tokens in the batch (quantize_rows: rows are tokens x "
                              "q-heads; default 16384)"),
                     cl::init(16384), cl::cat(benchCategory));
cl::opt<long> decodeBatch("batch",
                          cl::desc("attention_decode, kv_stage: sequences (default 1)"),
                         cl::init(1), cl::cat(benchCategory));
cl::opt<long> decodeContext("context",
                            cl::desc("attention_decode, kv_stage: tokens in each sequence's "
                                     "cache (before the step for kv_stage; default 4096)"),
                            cl::init(4096), cl::cat(benchCategory));
cl::opt<long> numQuery("num-query",
                       cl::desc("attention_decode: new query tokens per sequence (default 1; "
                                "set max_query in --config to at least this); kv_stage: new "
                                "tokens appended per sequence"),
                       cl::init(1), cl::cat(benchCategory));
cl::opt<long> splits("splits",
                     cl::desc("attention_decode: programs per (sequence, KV head); 0 (default): "
                              "chosen for the GPU"),
                     cl::init(0), cl::cat(benchCategory));
cl::opt<int> warmup("warmup", cl::desc("Untimed runs first (default 10)"), cl::init(10),
                    cl::cat(benchCategory));
cl::opt<int> repeats("repeats", cl::desc("Timed runs; the median is reported (default 100)"),
                     cl::init(100), cl::cat(benchCategory));
cl::opt<int> device("device", cl::desc("CUDA device index (default 0)"), cl::init(0),
                    cl::cat(benchCategory));
cl::opt<bool> overhead("overhead",
                       cl::desc("Measure the API's host costs instead: plan creation with a "
                                "warm cache and the host time of one launch call (medians of "
                                "1000)"),
                       cl::cat(benchCategory));
cl::opt<std::string> jsonPath("json", cl::desc("Also write the results as JSON to this file"),
                              cl::value_desc("file"), cl::cat(benchCategory));

int fail(const std::string &message) {
  llvm::errs() << "turbo-bench: " << message << "\n";
  return 1;
}

/// Owns a C API resource and releases it with the matching call.
template <typename T, turbo_status (*Destroy)(T *)> struct Handle {
  T *get = nullptr;
  ~Handle() {
    if (get)
      Destroy(get);
  }
};

struct FreeText {
  void operator()(char *text) const { turbo_free(text); }
};

/// No GPU: the PTX is what we can offer, checked by ptxas when present.
int compileOnly(const turbo_head_config &head, const std::string &reason) {
  std::string target = head.target ? head.target : turbo::kDefaultTarget;
  char *text = nullptr;
  turbo_status status =
      turbo_compile_template(kernelName.c_str(), &head, config.c_str(), "ptx", &text);
  if (status != TURBO_STATUS_OK)
    return fail(describeFailure(status));
  std::unique_ptr<char, FreeText> ptx(text);
  llvm::outs() << fmt::format("No GPU found: {}\n", reason);
  llvm::outs() << fmt::format("JIT-compiled {} for {} to PTX ({} bytes).\n", kernelName,
                              target, std::string(text).size());
  std::optional<std::string> ptxas = findPtxas();
  if (!ptxas) {
    llvm::outs() << "ptxas not found (CUDA toolkit not installed): PTX not assembled.\n";
    return 0;
  }
  PtxasResult result = runPtxas(*ptxas, text, target);
  if (result.exitCode != 0)
    return fail(fmt::format("ptxas -arch={} rejected the PTX:\n{}", target, result.log));
  llvm::outs() << fmt::format("ptxas -arch={}: assembled.\n{}", target, result.log);
  llvm::outs() << "Nothing was run or timed.\n";
  return 0;
}

struct Measurement {
  double medianUs = 0, minUs = 0;
  double bytes = 0; ///< bytes moved
  double ops = 0;   ///< arithmetic (attention: 4 B H S^2 D, halved when causal)
  bool verified = false;
  std::string detail;
};

turbo_status launchQuantizeRows(void *data, void *stream);

struct QuantizeRowsRun {
  turbo_kernel *kernel;
  uint64_t x, q, scales;
  int64_t rows, xStride, qStride;
};

turbo_status launchQuantizeRows(void *data, void *stream) {
  auto *run = static_cast<QuantizeRowsRun *>(data);
  return turbo_quantize_rows(run->kernel, run->x, run->q, run->scales, run->rows, run->xStride,
                             run->qStride, stream);
}

/// quantize_rows on `rows` rows: verify every output, then time.
turbo_status benchQuantizeRows(turbo_context *context, turbo_kernel *kernel,
                               const qr::Config &config, int64_t rows, Measurement &out) {
  const int64_t cols = config.cols;
  const bool bf16 = config.dtype == turbo::DType::BF16;
  qr::Problem problem{rows, (cols + 7) / 8 * 8, (cols + 15) / 16 * 16};
  std::vector<uint16_t> x(size_t(rows * problem.xStride), 0);
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal;
  for (int64_t r = 0; r < rows; ++r) {
    float scale = std::exp2(float(int(r % 13) - 6));
    for (int64_t c = 0; c < cols; ++c) {
      float v = normal(rng) * scale;
      x[size_t(r * problem.xStride + c)] =
          bf16 ? numerics::floatToBFloat(v) : numerics::floatToHalf(v);
    }
  }
  DeviceBuffer dx{context}, dq{context}, ds{context};
  size_t xBytes = x.size() * 2, qBytes = size_t(rows * problem.qStride),
         sBytes = size_t(rows) * 4;
  turbo_status status;
  if ((status = turbo_device_alloc(context, xBytes, &dx.pointer)) ||
      (status = turbo_device_alloc(context, qBytes, &dq.pointer)) ||
      (status = turbo_device_alloc(context, sBytes, &ds.pointer)) ||
      (status = turbo_copy_to_device(context, dx.pointer, x.data(), xBytes)) ||
      (status = turbo_device_fill(context, dq.pointer, 0xa5, qBytes)) ||
      (status = turbo_device_fill(context, ds.pointer, 0xff, sBytes)))
    return status;
  QuantizeRowsRun run{kernel, dx.pointer, dq.pointer, ds.pointer, rows, problem.xStride,
                      problem.qStride};
  if ((status = launchQuantizeRows(&run, nullptr)) || (status = turbo_synchronize(context)))
    return status;

  std::vector<int8_t> q(qBytes), expectedQ(qBytes, int8_t(0xa5));
  std::vector<float> scales(static_cast<size_t>(rows)), expectedScales(static_cast<size_t>(rows));
  if ((status = turbo_copy_to_host(context, q.data(), dq.pointer, qBytes)) ||
      (status = turbo_copy_to_host(context, scales.data(), ds.pointer, sBytes)))
    return status;
  qr::reference(config, problem, x.data(), expectedQ.data(), expectedScales.data());
  int64_t mismatches = 0;
  for (size_t i = 0; i < qBytes; ++i)
    mismatches += q[i] != expectedQ[i];
  for (int64_t r = 0; r < rows; ++r)
    mismatches += std::memcmp(&scales[size_t(r)], &expectedScales[size_t(r)], 4) != 0;
  out.verified = mismatches == 0;
  out.detail = out.verified ? "bit-exact vs CPU reference"
                            : fmt::format("{} mismatches vs CPU reference", mismatches);

  LaunchTiming timing;
  if ((status = timeLaunch(context, launchQuantizeRows, &run, warmup, repeats,
                           /*coldL2=*/false, timing)))
    return status;
  out.medianUs = timing.medianUs;
  out.minUs = timing.minUs;
  out.bytes = double(rows) * double(cols) * 3.0 + double(rows) * 4.0;
  return TURBO_STATUS_OK;
}
/// attention_prefill on batch x q_heads x seq (PrefillBench): verify the
/// first rows of (batch 0, head 0) against the CPU reference, then time.
turbo_status benchPrefill(turbo_context *context, turbo_kernel *kernel, const ap::Config &config,
                          const turbo_head_config &head, Measurement &out) {
  PrefillBenchOptions options;
  options.batch = std::max<int64_t>(1, tokens / seqLen);
  options.seq = seqLen;
  options.warmup = warmup;
  options.repeats = repeats;
  std::unique_ptr<PrefillBench> bench;
  PrefillBenchResult result;
  turbo_status status = PrefillBench::create(context, config, head, options, bench);
  if (!status)
    status = bench->measure(kernel, config, result);
  out.medianUs = result.medianUs;
  out.minUs = result.minUs;
  out.ops = result.ops;
  out.bytes = result.bytes;
  out.verified = result.verified;
  out.detail = result.detail;
  return status;
}
/// Median of `repeats` host-side timings of `body` in microseconds.
template <typename Body> double medianMicroseconds(int repeats, Body &&body) {
  std::vector<double> samples;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    body();
    samples.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

/// Host costs: creating a plan whose kernels are cached (in memory and
/// loaded in the context), and issuing one launch (no synchronization).
int measureOverhead(turbo_context *context, const turbo_head_config &head) {
  turbo_plan *plan = nullptr;
  auto first = std::chrono::steady_clock::now();
  turbo_status status = turbo_plan_create(context, &head, nullptr, &plan);
  double coldMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first).count();
  if (status)
    return fail(describeFailure(status));
  turbo_plan_destroy(plan);
  bool failed = false;
  double createUs = medianMicroseconds(1000, [&] {
    turbo_plan *p = nullptr;
    failed |= turbo_plan_create(context, &head, nullptr, &p) != TURBO_STATUS_OK;
    turbo_plan_destroy(p);
  });

  // One small quantize_rows launch; the GPU work is tiny, the host call is
  // what is timed (argument checks, driver launch).
  turbo_kernel *kernel = nullptr;
  if ((status = turbo_kernel_create(context, "quantize_rows", &head, "", &kernel)))
    return fail(describeFailure(status));
  DeviceBuffer x{context}, q{context}, s{context};
  const int64_t cols = head.head_dim;
  if ((status = turbo_device_alloc(context, 64 * size_t(cols) * 2, &x.pointer)) ||
      (status = turbo_device_alloc(context, 64 * size_t(cols), &q.pointer)) ||
      (status = turbo_device_alloc(context, 64 * 4, &s.pointer)) ||
      (status = turbo_device_fill(context, x.pointer, 0, 64 * size_t(cols) * 2)))
    return fail(describeFailure(status));
  QuantizeRowsRun run{kernel, x.pointer, q.pointer, s.pointer, 64, cols, (cols + 15) / 16 * 16};
  for (int i = 0; i < 100; ++i)
    launchQuantizeRows(&run, nullptr);
  turbo_synchronize(context);
  double launchUs = medianMicroseconds(1000, [&] {
    failed |= launchQuantizeRows(&run, nullptr) != TURBO_STATUS_OK;
  });
  status = turbo_synchronize(context);
  turbo_kernel_destroy(kernel);
  if (failed || status)
    return fail("a timed call failed: " + std::string(turbo_last_error()));

  llvm::outs() << fmt::format("first plan creation (compile or disk cache, module load): {:.1f} ms\n",
                              coldMs);
  llvm::outs() << fmt::format("plan creation, warm cache (median of 1000): {:.2f} us\n", createUs);
  llvm::outs() << fmt::format("host time of one launch call, quantize_rows (median of 1000): "
                              "{:.2f} us\n",
                              launchUs);
  if (!jsonPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream file(jsonPath, ec);
    if (ec)
      return fail("cannot write " + jsonPath + ": " + ec.message());
    file << llvm::json::Value(llvm::json::Object{{"first_plan_ms", coldMs},
                                                 {"warm_plan_create_us", createUs},
                                                 {"launch_host_us", launchUs}})
         << "\n";
  }
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions({&benchCategory, &headCategory});
  parseCommandLine(argc, argv,
                   "turbo-bench: JIT-compile a kernel for a head configuration, run it, "
                   "verify it against the CPU reference and time it\n");
  turbo_head_config head;
  std::string error;
  if (!readHeadConfig(head, error))
    return fail(error);
  if (kernelName != "quantize_rows" && kernelName != "attention_prefill" &&
      kernelName != "attention_decode" && kernelName != "kv_stage")
    return fail("--kernel must be attention_prefill, attention_decode, kv_stage or quantize_rows");
  if (std::string unused = kvBitsUnused(kernelName); !unused.empty())
    return fail(unused);
  if (decodeBatch < 1 || decodeContext < 1 || numQuery < 1 || splits < 0)
    return fail("--batch, --context and --num-query must be >= 1, --splits >= 0");
  if (repeats < 1 || warmup < 0 || tokens < 1 || seqLen < 1)
    return fail("--repeats must be >= 1, --warmup >= 0, --tokens and --seq >= 1");

  turbo_context_desc desc;
  turbo_context_desc_init(&desc);
  desc.device_index = device;
  Handle<turbo_context, turbo_context_destroy> context;
  turbo_status status = turbo_context_create(&desc, &context.get);
  if (status == TURBO_STATUS_NO_DRIVER || status == TURBO_STATUS_NO_DEVICE)
    return compileOnly(head, turbo_last_error());
  if (status != TURBO_STATUS_OK)
    return fail(describeFailure(status));

  if (overhead)
    return measureOverhead(context.get, head);
  turbo_device_info info{sizeof(info)};
  if ((status = turbo_context_device_info(context.get, &info)))
    return fail(describeFailure(status));
  // The config, parsed once from --config for the head on this GPU's
  // target (as the C API parses it); the kernel is made from its canonical
  // text, and its info must report the same.
  const turbo::HeadConfig headConfig = toHeadConfig(head, info.target);
  Handle<turbo_kernel, turbo_kernel_destroy> kernel;
  turbo_kernel_info kinfo{sizeof(kinfo)};
  auto create = [&](const std::string &canonical) -> turbo_status {
    turbo_status created;
    if ((created = turbo_kernel_create(context.get, kernelName.c_str(), &head, canonical.c_str(),
                                       &kernel.get)) ||
        (created = turbo_kernel_get_info(kernel.get, &kinfo)))
      return created;
    return canonical == kinfo.config ? TURBO_STATUS_OK : TURBO_STATUS_INTERNAL_ERROR;
  };
  const bool attention = kernelName == "attention_prefill";
  const bool decode = kernelName == "attention_decode";
  const bool append = kernelName == "kv_stage";
  int64_t decodeSplits = 0;
  int64_t rows = int64_t(tokens) * head.q_heads;
  Measurement m;
  std::string shape;
  if (decode || append) {
    turbo::tools::DecodeBenchOptions options{decodeBatch, decodeContext, numQuery, splits,
                                             warmup, repeats};
    turbo::tools::DecodeBenchResult result;
    if (decode) {
      auto parsed =
          turbo::templates::parseConfig<turbo::templates::AttentionDecode>(&headConfig, config);
      if (!parsed)
        return fail(parsed.status().message());
      if (!(status = create(
                turbo::templates::canonicalText<turbo::templates::AttentionDecode>(*parsed))))
        status = turbo::tools::benchDecode(context.get, kernel.get, *parsed, head, options,
                                           result);
      shape = fmt::format("b{} ctx{} h{}/{} n{} kv{}", decodeBatch.getValue(),
                          decodeContext.getValue(), head.q_heads, head.kv_heads,
                          numQuery.getValue(), turbo::kvBitsName(parsed->kvBits));
    } else {
      auto parsed = turbo::templates::parseConfig<turbo::templates::KvStage>(&headConfig, config);
      if (!parsed)
        return fail(parsed.status().message());
      if (!(status = create(turbo::templates::canonicalText<turbo::templates::KvStage>(*parsed))))
        status = turbo::tools::benchAppend(context.get, kernel.get, *parsed, head, options,
                                           result);
      shape = fmt::format("b{} ctx{} kvh{} +{}", decodeBatch.getValue(), decodeContext.getValue(),
                          head.kv_heads, numQuery.getValue());
    }
    m.medianUs = result.medianUs;
    m.minUs = result.minUs;
    m.bytes = result.bytesRead;
    m.verified = result.verified;
    m.detail = result.detail;
    decodeSplits = result.splits;
  } else if (attention) {
    auto parsed = turbo::templates::parseConfig<turbo::templates::AttentionPrefill>(&headConfig,
                                                                                  config);
    if (!parsed)
      return fail(parsed.status().message());
    if (!(status = create(turbo::templates::canonicalText<turbo::templates::AttentionPrefill>(
              *parsed))))
      status = benchPrefill(context.get, kernel.get, *parsed, head, m);
    shape = fmt::format("b{} h{}/{} s{} d{}", std::max<long>(1, tokens / seqLen), head.q_heads,
                        head.kv_heads, seqLen.getValue(), parsed->headDim);
  } else {
    auto parsed =
        turbo::templates::parseConfig<turbo::templates::QuantizeRows>(&headConfig, config);
    if (!parsed)
      return fail(parsed.status().message());
    if (!(status = create(turbo::templates::canonicalText<turbo::templates::QuantizeRows>(
              *parsed))))
      status = benchQuantizeRows(context.get, kernel.get, *parsed, rows, m);
    shape = fmt::format("{} x {}", rows, parsed->cols);
  }
  if (status == TURBO_STATUS_INTERNAL_ERROR && kinfo.config)
    return fail(fmt::format("the kernel reports config {}, not the one asked for", kinfo.config));
  if (status)
    return fail(describeFailure(status));

  double gbps = m.bytes / (m.medianUs * 1e-6) / 1e9;
  double tops = m.ops / (m.medianUs * 1e-6) / 1e12;
  llvm::outs() << fmt::format("GPU: {} ({}, {} SMs)\n", info.name, info.target,
                              info.multiprocessors);
  llvm::outs() << fmt::format("kernel {} [{}]: {} registers, {} bytes spilled per thread, {} "
                              "bytes shared, {} threads\n",
                              kinfo.name, kinfo.config, kinfo.registers, kinfo.local_bytes,
                              kinfo.shared_bytes, kinfo.num_threads);
  llvm::outs() << fmt::format("{:<18} {:>22} {:>11} {:>11} {:>9} {:>9}  {}\n", "kernel", "shape",
                              "median us", "min us", "TOPS", "GB/s", "check");
  llvm::outs() << fmt::format("{:<18} {:>22} {:>11.1f} {:>11.1f} {:>9.1f} {:>9.1f}  {}\n",
                              kernelName.getValue(), shape, m.medianUs, m.minUs, tops, gbps,
                              m.detail);
  if (!jsonPath.empty()) {
    llvm::json::Object result{{"gpu", info.name},
                              {"target", info.target},
                              {"turbo_version", turbo_version()},
                              {"kernel", kernelName.getValue()},
                              {"config", kinfo.config},
                              {"shape", shape},
                              {"median_us", m.medianUs},
                              {"tops", tops},
                              {"min_us", m.minUs},
                              {"gbps", gbps},
                              {"repeats", repeats.getValue()},
                              {"batch", decode ? decodeBatch.getValue() : 0},
                              {"context", decode ? decodeContext.getValue() : 0},
                              {"splits", decodeSplits},
                              {"verified", m.verified}};
    std::error_code ec;
    llvm::raw_fd_ostream file(jsonPath, ec);
    if (ec)
      return fail("cannot write " + jsonPath + ": " + ec.message());
    file << llvm::json::Value(std::move(result)) << "\n";
  }
  return m.verified ? 0 : 1;
}
