//===- KvStage.h - an append step's new tokens into the staging area -*- C++ -*-===//
//
// kv_stage: the first kernel of an append step. Program (KV head, sequence
// b) stages the step's num_new tokens (f16/bf16, [batch, kv_heads, num_new,
// head_dim]) that fit before the end of b's current page: token i goes to
// the staging slot's row kv::CacheLayout::stagingRow(seq_lens[b] + i), INT8
// per token (INT16 for 8-bit heads; kv::stageRow). Its helper kv_compress (source=staging) then,
// when the step filled the page, compresses the page that left the window
// and stages the tokens past the page end. Its kernel is built with kv_compress's (KvCompressKernel.cpp):
// the same staging arithmetic, one place.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TEMPLATES_KVSTAGE_H
#define TURBO_TEMPLATES_KVSTAGE_H

#include "kv_compress/KvCompress.h"

namespace turbo::templates {
namespace kv_stage {

/// The step's two kernels: kv_stage, then kv_compress (source=staging).
Result<std::vector<KernelLaunch>> launches(const kv_compress::Config &config,
                                           const kv::CacheLayout &layout,
                                           const kv_compress::Problem &problem,
                                           const kv_compress::Buffers &buffers);
kv_compress::Config compressConfig(const kv_compress::Config &config);

/// The step on the CPU (both kernels), on host copies.
void reference(const kv_compress::Config &config, const kv::CacheLayout &layout,
               const kv_compress::Problem &problem, const uint16_t *k, const uint16_t *v,
               uint8_t *pool, uint8_t *staging, const int32_t *blockTable,
               const int32_t *seqLens, int32_t *status);

} // namespace kv_stage

struct KvStage {
  using Config = kv_compress::Config; ///< source is not used
  static constexpr const char *name = "kv_stage";
  static constexpr const char *summary =
      "an append step's new K/V tokens into the staging area (then kv_compress)";
  static const ConfigSchema<Config> &schema();
  static void applyHead(const HeadConfig &head, Config &config);
  static void tune(std::string_view, Config &) {}
  static Status validate(const Config &config) { return KvCompress::validate(config); }
  static Signature<kv_compress::Arg> signature(const Config &config) {
    return KvCompress::signature(config);
  }
  static Result<std::vector<AnyConfig>> helpers(const Config &config);
};

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_KVSTAGE_H
