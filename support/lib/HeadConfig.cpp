//===- HeadConfig.cpp -----------------------------------------------------===//
#include "turbo/Support/HeadConfig.h"

#include <fmt/format.h>

namespace turbo {

const std::vector<HeadPreset> &headPresets() {
  static const std::vector<HeadPreset> presets = {
      {"llama3-8b", "Llama 3 8B", 32, 8, 128},
      {"llama3-70b", "Llama 3 70B", 64, 8, 128},
      {"qwen2-7b", "Qwen2 7B", 28, 4, 128},
      {"phi3-mini", "Phi-3 mini", 32, 32, 96},
      {"mistral-7b", "Mistral 7B", 32, 8, 128},
  };
  return presets;
}

Result<HeadConfig> applyPreset(HeadConfig base, std::string_view name) {
  for (const HeadPreset &preset : headPresets()) {
    if (name != preset.name)
      continue;
    base.qHeads = preset.qHeads;
    base.kvHeads = preset.kvHeads;
    base.headDim = preset.headDim;
    return base;
  }
  std::string known;
  for (const HeadPreset &preset : headPresets())
    known += (known.empty() ? "" : ", ") + std::string(preset.name);
  return Status(StatusCode::InvalidArgument,
                fmt::format("unknown preset '{}' (known: {})", name, known));
}

Result<DType> parseDType(std::string_view text) {
  if (text == "f16" || text == "fp16" || text == "float16")
    return DType::F16;
  if (text == "bf16" || text == "bfloat16")
    return DType::BF16;
  return Status(StatusCode::InvalidArgument,
                fmt::format("unknown dtype '{}' (expected f16 or bf16)", text));
}

Result<KvBits> parseKvBits(std::string_view text) {
  if (text == "8")
    return KvBits::B8;
  if (text == "4")
    return KvBits::B4;
  if (text == "2")
    return KvBits::B2;
  if (text == "mixed")
    return KvBits::Mixed;
  return Status(StatusCode::InvalidArgument,
                fmt::format("unknown KV bit-width '{}' (expected 8, 4, 2 or mixed)", text));
}

const char *dtypeName(DType dtype) { return dtype == DType::F16 ? "f16" : "bf16"; }

std::string kvBitsName(KvBits bits) {
  return bits == KvBits::Mixed ? "mixed" : std::to_string(int(bits));
}

Status checkHeadCounts(int64_t qHeads, int64_t kvHeads) {
  if (qHeads < 1 || kvHeads < 1)
    return {StatusCode::InvalidArgument,
            fmt::format("head counts must be positive (q-heads {}, kv-heads {})", qHeads,
                        kvHeads)};
  if (qHeads % kvHeads != 0)
    return {StatusCode::InvalidArgument,
            fmt::format("q-heads ({}) must be a multiple of kv-heads ({})", qHeads, kvHeads)};
  return Status::ok();
}

Status HeadConfig::validate() const {
  TURBO_RETURN_IF_ERROR(checkHeadCounts(qHeads, kvHeads));
  if (headDim != 64 && headDim != 96 && headDim != 128 && headDim != 256)
    return {StatusCode::InvalidArgument,
            fmt::format("head dim {} is not supported (64, 96, 128, 256)", headDim)};
  return checkTarget(target);
}

std::string HeadConfig::describe() const {
  return fmt::format("q{}/kv{}/d{} {} {} kv{} {}", qHeads, kvHeads, headDim, dtypeName(dtype),
                     causal ? "causal" : "non-causal", kvBitsName(kvBits), target);
}

} // namespace turbo
