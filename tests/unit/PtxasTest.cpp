//===- PtxasTest.cpp - emitted PTX assembles with the CUDA toolkit ---------===//
//
// Every template, over its parameter values and the supported targets,
// compiles to PTX that ptxas accepts for sm_90a (and for its own target).
// Without ptxas the test says so and fails: CI machines have the toolkit.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <fmt/format.h>
#include "turbo/Compiler/Ptxas.h"
#include "attention_prefill/AttentionPrefill.h"

#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

namespace {
std::string ptxasPath() { return turbo::compiler::findPtxas().value_or("(no ptxas found)"); }

/// Assembles `ptx` for `arch`; returns ptxas's output on failure, "" on success.
std::string assemble(const std::string &ptx, const std::string &arch) {
  turbo::compiler::PtxasResult result = turbo::compiler::runPtxas(ptxasPath(), ptx, arch);
  return result.exitCode == 0 ? ""
                              : "ptxas exit " + std::to_string(result.exitCode) + ": " + result.log;
}
} // namespace

TEST_CASE("quantize_rows PTX assembles for every configuration", "[ptxas]") {
  INFO("ptxas at " << ptxasPath() << " (set TURBO_PTXAS)");
  REQUIRE(access(ptxasPath().c_str(), X_OK) == 0);
  int compiled = 0;
  for (const char *target : {"sm_80", "sm_90", "sm_90a"})
    for (int cols : {32, 64, 96, 128, 256})
      for (const char *variant :
           {"block_rows=16,num_warps=1", "block_rows=32,num_warps=4,dtype=bf16",
            "block_rows=64,num_warps=8", "block_rows=128,num_warps=4"}) {
        turbo_head_config head;
        turbo_head_config_init(&head);
        head.target = target;
        std::string config = std::string(variant) + ",cols=" + std::to_string(cols);
        char *ptx = nullptr;
        INFO(target << " " << config);
        REQUIRE(turbo_compile_template("quantize_rows", &head, config.c_str(), "ptx", &ptx) ==
                TURBO_STATUS_OK);
        std::string text = ptx;
        turbo_free(ptx);
        REQUIRE(assemble(text, "sm_90a") == "");
        if (std::string(target) != "sm_90a")
          REQUIRE(assemble(text, target) == "");
        ++compiled;
      }
  REQUIRE(compiled == 60);
}

TEST_CASE("ptxas gives the cubin the runtime caches", "[ptxas]") {
  auto ptxas = turbo::compiler::findPtxas();
  REQUIRE(ptxas);
  char *ptx = nullptr;
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, "cols=128", "ptx", &ptx) ==
          TURBO_STATUS_OK);
  std::string text = ptx;
  turbo_free(ptx);
  turbo::compiler::PtxasResult result = turbo::compiler::runPtxas(*ptxas, text, "sm_90a", true);
  INFO(result.log);
  REQUIRE(result.exitCode == 0);
  REQUIRE(result.cubin.size() > 64);
  REQUIRE(result.cubin.compare(0, 4, "\x7f" "ELF") == 0);
  REQUIRE(result.log.find("quantize_rows") != std::string::npos); // -v names the kernel
  // Rejected PTX: a failure with ptxas's reason, no cubin.
  turbo::compiler::PtxasResult bad = turbo::compiler::runPtxas(*ptxas, "not ptx", "sm_90a", true);
  REQUIRE(bad.exitCode != 0);
  REQUIRE(bad.cubin.empty());
  REQUIRE_FALSE(bad.log.empty());
}

TEST_CASE("attention PTX and its helpers assemble", "[ptxas]") {
  INFO("ptxas at " << ptxasPath() << " (set TURBO_PTXAS)");
  REQUIRE(access(ptxasPath().c_str(), X_OK) == 0);
  struct Kernel {
    const char *name, *config;
  };
  std::vector<std::string> configs;
  // Every head dim, causal or not, every pipeline depth (wgmma, the sm_90a
  // default up to head dim 128, reads staged tiles: 2 stages or more).
  for (int d : {64, 96, 128, 256})
    for (int causal : {0, 1})
      for (int stages : {1, 2, 3})
        configs.push_back(fmt::format("head_dim={},causal={},num_stages={}{}", d, causal, stages,
                                      stages == 1 ? ",wgmma=0" : ""));
  // The varlen kernels (packed sequences) of every head dim.
  for (int d : {64, 96, 128, 256})
    for (int causal : {0, 1})
      configs.push_back(fmt::format("head_dim={},causal={},varlen=1", d, causal));
  for (const char *variant :
       {"head_dim=64,causal=1,write_lse=1,k_smooth=0,dtype=bf16", "head_dim=128,block_m=128,num_warps=8",
        "head_dim=64,block_m=128,num_warps=8,num_stages=3", "head_dim=64,block_n=32",
        "head_dim=128,block_n=128,causal=1", "head_dim=96,k_smooth=0,block_n=32",
        "head_dim=128,kv_int8=0,wgmma=0",
        "head_dim=64,kv_int8=0,k_scale=tile,v_scale=tile,causal=1,wgmma=0",
        "head_dim=128,sas_degree=1,sas_threshold=4,p_scale=fixed,q_scale=tile",
        // Q given in INT8.
        "head_dim=128,q_int8=1", "head_dim=64,q_int8=1,varlen=1,causal=1",
        "head_dim=256,q_int8=1,kv_int8=0,block_n=32,wgmma=0",
        // The mma.sync kernel on sm_90a too (the head config gives it
        // wgmma up to head dim 128).
        "head_dim=128,wgmma=0,block_n=64,min_blocks_per_sm=3", "head_dim=64,wgmma=0,causal=1"})
    configs.push_back(variant);
  std::vector<Kernel> kernels;
  for (const std::string &config : configs)
    kernels.push_back({"attention_prefill", config.c_str()});
  for (Kernel k : {Kernel{"channel_mean", "head_dim=128"}, Kernel{"quantize_kv", "head_dim=128"},
                   Kernel{"quantize_kv", "head_dim=96,dtype=bf16,block_n=32,k_smooth=0"},
                   Kernel{"quantize_q", "head_dim=128"},
                   Kernel{"quantize_q", "head_dim=96,dtype=bf16,block_m=128,num_warps=8"}})
    kernels.push_back(k);
  // The helpers' configs the plans compile (channel_mean, quantize_kv,
  // quantize_q as attention_prefill's config derives them), every head dim.
  namespace ap = turbo::templates::attention_prefill;
  std::vector<std::pair<const char *, std::string>> helpers;
  for (int d : {64, 96, 128, 256})
    for (const char *variant : {"", ",dtype=bf16,k_smooth=0,block_n=128"}) {
      using namespace turbo::templates;
      auto config =
          parseConfig<AttentionPrefill>(nullptr, fmt::format("head_dim={}{}", d, variant));
      REQUIRE(config);
      helpers.push_back({"channel_mean", canonicalText<ChannelMean>(ap::channelMeanConfig(*config))});
      helpers.push_back({"quantize_kv", canonicalText<QuantizeKv>(ap::quantizeKvConfig(*config))});
      helpers.push_back({"quantize_q", canonicalText<QuantizeQ>(ap::quantizeQConfig(*config))});
    }
  for (const auto &[name, config] : helpers)
    kernels.push_back({name, config.c_str()});
  for (const Kernel &k : kernels)
    for (const char *target : {"sm_90a", "sm_80"}) {
      // sm_80 (cp.async and ldmatrix are sm_80 instructions) for a few.
      if (std::string(target) == "sm_80" && std::string(k.config).find("causal=1") == std::string::npos)
        continue;
      turbo_head_config head;
      turbo_head_config_init(&head);
      head.target = target;
      INFO(k.name << " " << k.config << " for " << target);
      char *ptx = nullptr;
      REQUIRE(turbo_compile_template(k.name, &head, k.config, "ptx", &ptx) == TURBO_STATUS_OK);
      std::string text = ptx;
      turbo_free(ptx);
      REQUIRE(assemble(text, target) == "");
    }
}
