//===- KvStage.cpp - kv_stage: config and the append step's launches ------===//
#include "kv_stage/KvStage.h"

#include <fmt/format.h>

namespace turbo::templates {

const ConfigSchema<KvStage::Config> &KvStage::schema() {
  static const auto schema =
      ConfigSchema<Config>()
          .add<&Config::headDim>("head_dim", oneOf({64, 128, 256}), "head dimension")
          .add<&Config::dtype>("dtype", named({{"f16", 0}, {"bf16", 1}}), "K/V element type")
          .add<&Config::pageSize>("page_size", oneOf({16, 32, 64, 128}), "tokens per page")
          .add<&Config::kvBits>("kv_bits", named({{"mixed", 0}, {"2", 2}, {"4", 4}, {"8", 8}}),
                                "page widths: one, or mixed (2 and 4 by head)")
          .add<&Config::maxNew>("max_new", inRange(1, 128), "new tokens per step, at most");
  return schema;
}

void KvStage::applyHead(const HeadConfig &head, Config &config) {
  KvCompress::applyHead(head, config);
}

Result<std::vector<AnyConfig>> KvStage::helpers(const Config &config) {
  auto compress = AnyConfig::make<KvCompress>(kv_stage::compressConfig(config));
  if (!compress)
    return compress.status();
  return std::vector<AnyConfig>{*compress};
}

namespace kv_stage {

kv_compress::Config compressConfig(const kv_compress::Config &config) {
  kv_compress::Config compress = config;
  compress.source = kv_compress::Source::Staging;
  return compress;
}

Result<std::vector<KernelLaunch>> launches(const kv_compress::Config &config,
                                           const kv::CacheLayout &layout,
                                           const kv_compress::Problem &problem,
                                           const kv_compress::Buffers &buffers) {
  auto second = kv_compress::launches(compressConfig(config), layout, problem, buffers);
  if (!second)
    return second.status();
  KernelLaunch first = (*second)[0];
  first.kernel = &TemplateDefOf<KvStage>::instance();
  return std::vector<KernelLaunch>{first, (*second)[0]};
}

} // namespace kv_stage
} // namespace turbo::templates
