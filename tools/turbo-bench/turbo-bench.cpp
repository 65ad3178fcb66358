//===- turbo-bench.cpp - JIT, run, verify and time turbo's kernels --------===//
//
// The main job. For a head configuration: JIT-compile the kernel; on a GPU,
// run it on random input, compare every output with the CPU reference of the
// same arithmetic, and time it with CUDA events (median of many runs after
// warm-up). Without a GPU: emit the PTX, assemble it with ptxas where the
// CUDA toolkit is installed, and say that no GPU was found.
//
//===----------------------------------------------------------------------===//
#include "../common/Ptxas.h"
#include "../common/ToolOptions.h"

#include "turbo/Dialect/Numerics.h"
#include "turbo/Templates/QuantizeRows.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace cl = llvm::cl;
using namespace turbo::tools;
namespace numerics = turbo::numerics;
namespace qr = turbo::templates::quantize_rows;

namespace {
cl::OptionCategory benchCategory("Benchmark");
cl::opt<std::string> kernelName("kernel", cl::desc("Template to run (default quantize_rows)"),
                                cl::init("quantize_rows"), cl::cat(benchCategory));
cl::opt<std::string> config("config", cl::desc("Pin tuning parameters: key=value,..."),
                            cl::cat(benchCategory));
cl::opt<long> tokens("tokens",
                     cl::desc("Tokens of the batch (rows are tokens x q-heads; default 16384)"),
                     cl::init(16384), cl::cat(benchCategory));
cl::opt<int> warmup("warmup", cl::desc("Untimed runs first (default 10)"), cl::init(10),
                    cl::cat(benchCategory));
cl::opt<int> repeats("repeats", cl::desc("Timed runs; the median is reported (default 100)"),
                     cl::init(100), cl::cat(benchCategory));
cl::opt<int> device("device", cl::desc("CUDA device index (default 0)"), cl::init(0),
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

struct DeviceBuffer {
  turbo_context *context;
  uint64_t pointer = 0;
  ~DeviceBuffer() { turbo_device_free(context, pointer); }
};

struct FreeText {
  void operator()(char *text) const { turbo_free(text); }
};

/// No GPU: the PTX is what we can offer, checked by ptxas when present.
int compileOnly(const turbo_head_config &head, const std::string &reason) {
  std::string target = head.target ? head.target : "sm_90a";
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
  double bytes = 0;
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
                               const turbo::templates::KernelConfig &config, int64_t rows,
                               Measurement &out) {
  const int64_t cols = config.get("cols");
  const bool bf16 = config.get("dtype") == 1;
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

  std::vector<float> samples(size_t(repeats.getValue()));
  if ((status = turbo_measure(context, launchQuantizeRows, &run, nullptr, warmup, repeats,
                              samples.data())))
    return status;
  std::sort(samples.begin(), samples.end());
  out.medianUs = 1000.0 * samples[samples.size() / 2];
  out.minUs = 1000.0 * samples.front();
  out.bytes = double(rows) * double(cols) * 3.0 + double(rows) * 4.0;
  return TURBO_STATUS_OK;
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
  if (kernelName != "quantize_rows")
    return fail("only quantize_rows can be run yet (the attention kernels are not written)");
  if (repeats < 1 || warmup < 0 || tokens < 1)
    return fail("--repeats must be >= 1, --warmup >= 0, --tokens >= 1");

  turbo_context_desc desc;
  turbo_context_desc_init(&desc);
  desc.device_index = device;
  Handle<turbo_context, turbo_context_destroy> context;
  turbo_status status = turbo_context_create(&desc, &context.get);
  if (status == TURBO_STATUS_NO_DRIVER || status == TURBO_STATUS_NO_DEVICE)
    return compileOnly(head, turbo_last_error());
  if (status != TURBO_STATUS_OK)
    return fail(describeFailure(status));

  turbo_device_info info{sizeof(info)};
  if ((status = turbo_context_device_info(context.get, &info)))
    return fail(describeFailure(status));
  Handle<turbo_kernel, turbo_kernel_destroy> kernel;
  if ((status = turbo_kernel_create(context.get, kernelName.c_str(), &head, config.c_str(),
                                    &kernel.get)))
    return fail(describeFailure(status));
  turbo_kernel_info kinfo{sizeof(kinfo)};
  if ((status = turbo_kernel_get_info(kernel.get, &kinfo)))
    return fail(describeFailure(status));
  const auto *spec = turbo::templates::findTemplate(kernelName.getValue());
  auto kernelConfig = turbo::templates::makeConfig(*spec, nullptr, kinfo.config);
  if (!kernelConfig)
    return fail(kernelConfig.status().message());

  int64_t rows = int64_t(tokens) * head.q_heads;
  Measurement m;
  if ((status = benchQuantizeRows(context.get, kernel.get, *kernelConfig, rows, m)))
    return fail(describeFailure(status));

  double gbps = m.bytes / (m.medianUs * 1e-6) / 1e9;
  llvm::outs() << fmt::format("GPU: {} ({}, {} SMs)\n", info.name, info.target,
                              info.multiprocessors);
  llvm::outs() << fmt::format("kernel {} [{}]: {} registers, {} bytes shared, {} threads\n",
                              kinfo.name, kinfo.config, kinfo.registers, kinfo.shared_bytes,
                              kinfo.num_threads);
  llvm::outs() << fmt::format("{:<14} {:>10} {:>6} {:>12} {:>12} {:>10}  {}\n", "kernel", "rows",
                              "cols", "median us", "min us", "GB/s", "check");
  llvm::outs() << fmt::format("{:<14} {:>10} {:>6} {:>12.2f} {:>12.2f} {:>10.1f}  {}\n",
                              kernelName.getValue(), rows, kernelConfig->get("cols"), m.medianUs,
                              m.minUs, gbps, m.detail);
  if (!jsonPath.empty()) {
    llvm::json::Object result{{"gpu", info.name},
                              {"target", info.target},
                              {"turbo_version", turbo_version()},
                              {"kernel", kernelName.getValue()},
                              {"config", kinfo.config},
                              {"rows", rows},
                              {"median_us", m.medianUs},
                              {"min_us", m.minUs},
                              {"gbps", gbps},
                              {"repeats", repeats.getValue()},
                              {"verified", m.verified}};
    std::error_code ec;
    llvm::raw_fd_ostream file(jsonPath, ec);
    if (ec)
      return fail("cannot write " + jsonPath + ": " + ec.message());
    file << llvm::json::Value(std::move(result)) << "\n";
  }
  return m.verified ? 0 : 1;
}
