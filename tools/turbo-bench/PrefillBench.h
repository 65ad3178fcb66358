//===- PrefillBench.h - turbo-bench's prefill measurement -------*- C++ -*-===//
#ifndef TURBO_TOOLS_PREFILLBENCH_H
#define TURBO_TOOLS_PREFILLBENCH_H

#include "turbo/turbo.h"

#include "attention_prefill/AttentionPrefill.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace turbo::tools {

/// Attention inputs of one layer (the caller's, from .npy files): Q
/// [q_heads, tokens, head_dim], K and V [kv_heads, tokens, head_dim], bits
/// of the head's dtype.
struct AccuracySample {
  std::string name;
  int64_t qHeads = 0, kvHeads = 0, tokens = 0;
  std::vector<uint16_t> q, k, v;
};

struct PrefillBenchOptions {
  int64_t batch = 1, seq = 1024;
  int warmup = 10, repeats = 100;
  bool coldL2 = false; ///< L2 flushed before each timed run (turbo_measure_cold)
  /// Also hold each kernel to float64 attention on these of turbo's
  /// accuracy inputs (makeAccuracyInputs' kinds; two heads of `accuracySeq`
  /// tokens each).
  std::vector<std::string> accuracyKinds;
  int64_t accuracySeq = 1024;
  /// And to float64 attention on these (measured like the kinds).
  std::vector<AccuracySample> samples;
};

struct PrefillBenchResult {
  double medianUs = 0, minUs = 0;
  double ops = 0;   ///< 4 B H S^2 D, halved when causal
  double bytes = 0; ///< Q, K, V read and O written once
  bool verified = false;
  double vsReference = 0; ///< rel L2 against the CPU reference of its own arithmetic
  double vsExact = 0;     ///< rel L2 against float64 attention, the timed input
  /// With options.accuracy: the largest rel L2 against float64 attention over
  /// the accuracy inputs, and the kind that gave it.
  double worstError = 0;
  std::string worstKind;
  std::string detail;
};

/// The accuracy inputs turbo-tune holds points to by default: normal rows
/// and an attention sink (every LLM has them), and for a causal kernel a
/// flat tail under a dominant key. The defaults are within 2e-2 of float64
/// on these; on outlier channels and peaked rows they are not (3.6e-2 and
/// 2.9e-2, docs/accuracy.md: Q and K's INT8, which no tuning axis changes),
/// so those are there to ask for, not the default.
std::vector<std::string> defaultAccuracyKinds(bool causal);

/// Random Q, K, V of `options.batch` sequences of `options.seq` tokens, the
/// float64 attention of the first rows of (batch 0, head 0), and with
/// options.accuracy the accuracy inputs and their float64 attention, on the
/// GPU and host once: any number of attention_prefill kernels of `base`'s
/// head dim, dtype and causality (turbo-tune's points; their tile sizes and
/// numerics may differ) measure against them.
class PrefillBench {
public:
  static turbo_status create(turbo_context *context,
                             const templates::attention_prefill::Config &base,
                             const turbo_head_config &head, const PrefillBenchOptions &options,
                             std::unique_ptr<PrefillBench> &out);
  ~PrefillBench();
  /// The first rows of (batch 0, head 0) checked against the CPU reference
  /// of `config` (the kernel's config) and against float64 attention, the
  /// accuracy inputs run (options.accuracy), then the launch timed.
  turbo_status measure(turbo_kernel *kernel, const templates::attention_prefill::Config &config,
                       PrefillBenchResult &out);

private:
  struct State;
  explicit PrefillBench(std::unique_ptr<State> state);
  std::unique_ptr<State> state;
};

} // namespace turbo::tools

#endif // TURBO_TOOLS_PREFILLBENCH_H
