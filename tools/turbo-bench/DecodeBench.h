//===- DecodeBench.h - turbo-bench's decode measurement ---------*- C++ -*-===//
#ifndef TURBO_TOOLS_DECODEBENCH_H
#define TURBO_TOOLS_DECODEBENCH_H

#include "turbo/turbo.h"

#include "attention_decode/AttentionDecode.h"
#include "kv_compress/KvCompress.h"

#include <cstdint>
#include <memory>
#include <string>

namespace turbo::tools {

struct DecodeBenchOptions {
  int64_t batch = 1, context = 4096, numQuery = 1, splits = 0;
  int warmup = 10, repeats = 100;
  bool coldL2 = false; ///< L2 flushed before each timed run (turbo_measure_cold)
};

struct DecodeBenchResult {
  double medianUs = 0, minUs = 0;
  double bytesRead = 0;  ///< pages, staged tokens, q and o of one step
  int64_t splits = 0;
  bool verified = false;
  std::string detail;
};

/// A cache of `options.batch` sequences of `options.context` tokens (built
/// on the host: pages compressed as appends would, half of the KV heads at
/// 2 bits for kv_bits=mixed, turbo's default kept pages), its queries, and
/// sequence 0's output from the CPU reference, on the GPU once: any number
/// of attention_decode kernels of `config`'s head, shape and arithmetic
/// (turbo-tune's points differ in speed only) measure against it.
class DecodeBench {
public:
  static turbo_status create(turbo_context *context,
                             const templates::attention_decode::Config &config,
                             const turbo_head_config &head, const DecodeBenchOptions &options,
                             std::unique_ptr<DecodeBench> &out);
  ~DecodeBench();
  /// Sequence 0 of `kernel`'s output checked against the reference, then a
  /// step timed.
  turbo_status measure(turbo_kernel *kernel, DecodeBenchResult &out);

private:
  struct State;
  explicit DecodeBench(std::unique_ptr<State> state);
  std::unique_ptr<State> state;
};

/// DecodeBench for one kernel.
turbo_status benchDecode(turbo_context *context, turbo_kernel *kernel,
                         const templates::attention_decode::Config &config,
                         const turbo_head_config &head, const DecodeBenchOptions &options,
                         DecodeBenchResult &out);

/// One append step (kv_stage + kv_compress) of `options.numQuery` new tokens
/// per sequence after `options.context` cached ones: the pool and staging
/// area checked byte for byte against the CPU reference, then the step
/// timed (the same step each time; it compresses a page when context mod
/// page size + new tokens reaches the page end).
turbo_status benchAppend(turbo_context *context, turbo_kernel *kernel,
                         const templates::kv_compress::Config &config,
                         const turbo_head_config &head, const DecodeBenchOptions &options,
                         DecodeBenchResult &out);

} // namespace turbo::tools

#endif // TURBO_TOOLS_DECODEBENCH_H
