//===- HeadConfig.h - attention head configurations and presets -*- C++ -*-===//
//
// The head configuration every tool and API takes: query heads, KV heads,
// head dim, dtype, causal, KV bit-widths and target, with presets for common
// models. Shared by the tools and the C API.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_SUPPORT_HEADCONFIG_H
#define TURBO_SUPPORT_HEADCONFIG_H

#include "turbo/Support/Status.h"
#include "turbo/Support/Targets.h"

#include <cstdint>

#include <string>
#include <string_view>
#include <vector>

namespace turbo {

enum class DType { F16, BF16 };
/// KV storage precision: 8, 4 or 2 bits, or mixed (per-head 4/2 by priority).
enum class KvBits { B8 = 8, B4 = 4, B2 = 2, Mixed = 0 };

struct HeadConfig {
  int qHeads = 32;
  int kvHeads = 8;
  int headDim = 128;
  DType dtype = DType::F16;
  bool causal = false;
  KvBits kvBits = KvBits::B8;
  std::string target = kDefaultTarget;

  /// Checks the combination is one turbo supports; the message says why not.
  Status validate() const;
  /// "q32/kv8/d128 f16 non-causal kv8 sm_90a"
  std::string describe() const;
};

struct HeadPreset {
  const char *name;
  const char *model;
  int qHeads, kvHeads, headDim;
};

/// llama3-8b, llama3-70b, qwen2-7b, phi3-mini, mistral-7b.
const std::vector<HeadPreset> &headPresets();
Result<HeadConfig> applyPreset(HeadConfig base, std::string_view name);

Result<DType> parseDType(std::string_view text);
Result<KvBits> parseKvBits(std::string_view text);
const char *dtypeName(DType dtype);
std::string kvBitsName(KvBits bits);

/// Query heads share KV heads in groups (GQA, MQA): q_heads a positive
/// multiple of kv_heads. The one check, for head configs and launches.
Status checkHeadCounts(int64_t qHeads, int64_t kvHeads);

} // namespace turbo

#endif // TURBO_SUPPORT_HEADCONFIG_H
