//===- SignatureTest.cpp - signatures, argument packing, launch sequences -===//
//
// A template's signature is declared once: the compiled kernel's parameters
// must be exactly its arguments, and a launch must put each value in the
// slot the signature names.
//
//===----------------------------------------------------------------------===//
#include "attention_prefill/AttentionPrefill.h"
#include "quantize_rows/QuantizeRows.h"
#include "turbo/Compiler/TemplateCompiler.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

using namespace turbo;
using namespace turbo::templates;
namespace ap = attention_prefill;

namespace {
enum class Arg { A, B, C };

Signature<Arg> threeArgs() {
  return Signature<Arg>()
      .add(Arg::A, pointerArg("a", ScalarType::F16, 16, ArgRole::Input))
      .add(Arg::B, valueArg("b", ScalarType::I32, ArgRole::Size))
      .add(Arg::C, valueArg("c", ScalarType::F32, ArgRole::Parameter));
}

template <class T> uint64_t slotOf(const KernelLaunch &launch, typename T::Config config,
                                    std::string_view name) {
  std::vector<ArgSpec> specs = T::signature(config).specs();
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].name == name)
      return launch.args.slot(i);
  FAIL("no argument " << name);
  return 0;
}
} // namespace

TEST_CASE("argument packing: by name, every argument set, 32-bit values checked",
          "[signature]") {
  const Signature<Arg> signature = threeArgs();
  auto packed = ArgPack<Arg>(signature).f32(Arg::C, 0.5f).pointer(Arg::A, 0x1234).i32(Arg::B, -7)
                    .finish();
  REQUIRE(packed);
  REQUIRE(packed->size() == 3);
  REQUIRE(packed->slot(0) == 0x1234);
  int32_t b;
  std::memcpy(&b, packed->params()[1], 4);
  REQUIRE(b == -7);
  float c;
  std::memcpy(&c, packed->params()[2], 4);
  REQUIRE(c == 0.5f);
  // The params point into the copy after a copy.
  PackedArgs copy = *packed;
  REQUIRE(copy.params()[0] != packed->params()[0]);
  REQUIRE(*static_cast<uint64_t *>(copy.params()[0]) == 0x1234);

  auto unset = ArgPack<Arg>(signature).pointer(Arg::A, 1).f32(Arg::C, 1).finish();
  REQUIRE_FALSE(unset);
  REQUIRE(unset.status().code() == StatusCode::Internal);
  REQUIRE(unset.status().message().find("'b'") != std::string::npos);

  auto tooLarge =
      ArgPack<Arg>(signature).pointer(Arg::A, 1).i32(Arg::B, int64_t(1) << 31).f32(Arg::C, 1)
          .finish();
  REQUIRE_FALSE(tooLarge);
  REQUIRE(tooLarge.status().code() == StatusCode::InvalidArgument);
  REQUIRE(tooLarge.status().message().find("b = 2147483648") != std::string::npos);

  auto wrongKind = ArgPack<Arg>(signature).pointer(Arg::A, 1).i64(Arg::B, 1).f32(Arg::C, 1)
                       .finish();
  REQUIRE_FALSE(wrongKind);
  REQUIRE(wrongKind.status().code() == StatusCode::Internal);

  // Arguments a config leaves out are ignored when set.
  const Signature<Arg> two = Signature<Arg>()
                                 .add(Arg::A, pointerArg("a", ScalarType::F16, 16, ArgRole::Input))
                                 .add(Arg::C, valueArg("c", ScalarType::F32, ArgRole::Parameter));
  REQUIRE(ArgPack<Arg>(two).pointer(Arg::A, 1).i32(Arg::B, 3).f32(Arg::C, 1).finish());
}

TEST_CASE("every template's compiled parameters are its signature's arguments",
          "[signature]") {
  struct Case {
    const char *templateName, *config, *target;
  };
  for (Case c : {Case{"quantize_rows", "", "sm_80"}, Case{"channel_mean", "", "sm_90a"},
                 Case{"quantize_kv", "", "sm_90a"}, Case{"quantize_q", "", "sm_90a"},
                 Case{"attention_prefill", "", "sm_90a"},
                 Case{"attention_prefill", "kv_int8=0,wgmma=0", "sm_90a"},
                 Case{"attention_prefill", "q_int8=1,varlen=1,write_lse=1", "sm_90a"},
                 Case{"attention_prefill", "q_int8=1,kv_int8=0,k_smooth=0", "sm_80"},
                 Case{"attention_decode", "kv_bits=mixed,max_query=4", "sm_90a"},
                 Case{"decode_reduce", "", "sm_90a"},
                 Case{"kv_compress", "source=staging,kv_bits=4", "sm_90a"},
                 Case{"kv_stage", "kv_bits=2", "sm_90a"}}) {
    INFO(c.templateName << " " << c.config << " " << c.target);
    HeadConfig head;
    head.target = c.target;
    auto config = findTemplate(c.templateName)->parse(&head, c.config);
    REQUIRE(config);
    auto compiled = compiler::compileTemplate(*config, c.target);
    REQUIRE(compiled);
    std::vector<ParamKind> kinds;
    for (const ArgSpec &arg : config->signature())
      kinds.push_back(arg.kind());
    REQUIRE(compiled->info.params == kinds);
    REQUIRE(compiled->info.name == config->templateName());
  }
}

TEST_CASE("the prefill launch sequence: helpers first, values where the signature says",
          "[signature]") {
  auto config = parseConfig<AttentionPrefill>(nullptr, "head_dim=128,block_n=64");
  REQUIRE(config);
  REQUIRE(config->kSmooth);
  REQUIRE(config->kvInt8);
  ap::Problem problem = ap::Problem::dense(2, 8, 2, 300, 200, 128);
  const ap::Workspace w = ap::workspaceFor(*config, problem);
  ap::Buffers b;
  b.q = 0x10000;
  b.k = 0x20000;
  b.v = 0x30000;
  b.o = 0x40000;
  b.lse = 0x48000;
  b.workspace = 0x100000;
  b.workspaceBytes = w.totalBytes;
  auto launches = ap::launches(*config, problem, b);
  REQUIRE(launches);
  REQUIRE(launches->size() == 3);
  const KernelLaunch &means = (*launches)[0], &kv = (*launches)[1], &attention = (*launches)[2];
  REQUIRE(means.kernel == &TemplateDefOf<ChannelMean>::instance());
  REQUIRE(kv.kernel == &TemplateDefOf<QuantizeKv>::instance());
  REQUIRE(attention.kernel == &TemplateDefOf<AttentionPrefill>::instance());

  // channel_mean writes the means where quantize_kv and the attention read them.
  const uint64_t kMean = b.workspace + uint64_t(w.kMean);
  const channel_mean::Config meanConfig = ap::channelMeanConfig(*config);
  const quantize_kv::Config kvConfig = ap::quantizeKvConfig(*config);
  REQUIRE(slotOf<ChannelMean>(means, meanConfig, "x") == b.k);
  REQUIRE(slotOf<ChannelMean>(means, meanConfig, "mean") == kMean);
  REQUIRE(slotOf<QuantizeKv>(kv, kvConfig, "k_mean") == kMean);
  REQUIRE(slotOf<AttentionPrefill>(attention, *config, "k_mean") == kMean);
  // quantize_kv's outputs are the attention's inputs.
  for (const char *name : {"k8", "v8t", "k_scale", "v_scale"})
    REQUIRE(slotOf<QuantizeKv>(kv, kvConfig, name) ==
            slotOf<AttentionPrefill>(attention, *config, name));
  REQUIRE(slotOf<QuantizeKv>(kv, kvConfig, "k8") ==
          b.workspace + uint64_t(w.quantizedKv + w.kv.k8));
  REQUIRE(uint32_t(slotOf<AttentionPrefill>(attention, *config, "seq_q")) == 300);
  REQUIRE(uint32_t(slotOf<AttentionPrefill>(attention, *config, "seq_k")) == 200);
  REQUIRE(uint32_t(slotOf<AttentionPrefill>(attention, *config, "group")) == 4);
  REQUIRE(slotOf<AttentionPrefill>(attention, *config, "o_head") == uint64_t(300 * 128));
  REQUIRE(attention.grid == std::array<unsigned, 3>{5, 8, 2});

  // The steps pick the kernels; QUANTIZE_Q comes first, for q_int8 kernels.
  auto attentionOnly = ap::launches(*config, problem, b, ap::AttentionStep);
  REQUIRE(attentionOnly);
  REQUIRE(attentionOnly->size() == 1);
  auto int8 = parseConfig<AttentionPrefill>(nullptr, "head_dim=128,q_int8=1,k_smooth=0");
  REQUIRE(int8);
  problem.q8 = {8 * 300 * 128, 300 * 128, 128};
  problem.qScaleHead = 300;
  problem.qScaleBatch = 8 * 300;
  b.q8 = 0x60000;
  b.qScale = 0x70000;
  b.workspaceBytes = ap::workspaceFor(*int8, problem).totalBytes;
  auto withQ = ap::launches(*int8, problem, b, ap::QuantizeQStep | ap::AllSteps);
  REQUIRE(withQ);
  REQUIRE(withQ->size() == 3);
  REQUIRE((*withQ)[0].kernel == &TemplateDefOf<QuantizeQ>::instance());
  REQUIRE(slotOf<AttentionPrefill>((*withQ)[2], *int8, "q") == b.q8);
  REQUIRE(slotOf<AttentionPrefill>((*withQ)[2], *int8, "q_scale") == b.qScale);

  // A refused launch launches nothing.
  b.o = 0;
  REQUIRE_FALSE(ap::launches(*config, problem, b));
}

TEST_CASE("quantize_rows refuses a stride that does not fit its 32-bit argument",
          "[signature]") {
  auto config = parseConfig<QuantizeRows>(nullptr, "");
  REQUIRE(config);
  quantize_rows::Problem ok{100, 128, 128};
  REQUIRE(quantize_rows::launches(*config, ok, 0x1000, 0x2000, 0x3000));
  quantize_rows::Problem wide{100, int64_t(1) << 32, 128};
  REQUIRE_FALSE(quantize_rows::launches(*config, wide, 0x1000, 0x2000, 0x3000));
  // q's stride times the rows of a block must fit 32 bits too.
  quantize_rows::Problem wideQ{100, 128, int64_t(1) << 27};
  REQUIRE_FALSE(quantize_rows::launches(*config, wideQ, 0x1000, 0x2000, 0x3000));
}

TEST_CASE("stage dumps are not written through a planted link", "[compiler]") {
  char dir[] = "/tmp/turbo-dump-test-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string prefix = std::string(dir) + "/kernel";
  const std::string victim = std::string(dir) + "/victim";
  {
    std::ofstream(victim) << "keep";
  }
  REQUIRE(symlink(victim.c_str(), (prefix + ".ptx.txt").c_str()) == 0);
  HeadConfig head;
  auto config = findTemplate("quantize_rows")->parse(&head, "");
  REQUIRE(config);
  REQUIRE(compiler::compileTemplate(*config, "sm_90a", prefix));
  std::ifstream kept(victim);
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  CHECK(text == "keep");
  CHECK(std::ifstream(prefix + ".turbo.txt").good()); // the other stages were dumped
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}
