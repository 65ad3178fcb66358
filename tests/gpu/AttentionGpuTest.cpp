//===- AttentionGpuTest.cpp - prefill on the GPU against its CPU reference -===//
//
// Fresh random Q, K, V every case; ragged lengths; GQA; causal and not;
// every head dim; padded row strides with the padding and the output
// poisoned (NaN): the GPU output must match the CPU reference of the same
// arithmetic to 1e-3 relative L2 (it is expected to be bit-exact but for
// rounding-order differences), must not touch the padding, and is reported
// against float64 exact attention.
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "turbo/Support/Numerics.h"
#include "attention_prefill/AttentionPrefill.h"
#include "quantize_rows/QuantizeRows.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>

using namespace turbo;
using namespace turbo::gpu_tests;
namespace ap = turbo::templates::attention_prefill;

namespace {
constexpr uint16_t kPoison = 0x7e01; // a NaN in f16 and bf16 alike

struct Shape {
  int64_t batch, qHeads, kvHeads, seqQ, seqK;
};

/// `elements` values ~ N(0, scale^2) as f16 (or bf16) bits.
std::vector<uint16_t> randomHalves(int64_t elements, std::mt19937 &rng, bool bf16 = false,
                                   float scale = 1.0f) {
  std::normal_distribution<float> normal;
  std::vector<uint16_t> x(static_cast<size_t>(elements));
  for (uint16_t &e : x) {
    float value = normal(rng) * scale;
    e = bf16 ? numerics::floatToBFloat(value) : numerics::floatToHalf(value);
  }
  return x;
}

/// Sequence offsets (cu_seqlens) of these lengths: 0, then running sums.
std::vector<int32_t> offsetsOf(const std::vector<int32_t> &lengths) {
  std::vector<int32_t> cu{0};
  for (int32_t length : lengths)
    cu.push_back(cu.back() + length);
  return cu;
}

/// Launch arguments for `problem` with these tensor addresses.
turbo_prefill_args argsFor(const ap::Problem &problem, uint64_t q, uint64_t k, uint64_t v,
                           uint64_t o) {
  turbo_prefill_args args;
  turbo_prefill_args_init(&args);
  args.batch = problem.batch;
  args.q_heads = problem.qHeads;
  args.kv_heads = problem.kvHeads;
  args.seq_q = problem.seqQ;
  args.seq_k = problem.seqK;
  auto tensor = [](uint64_t data, const ap::Problem::Strides &s) {
    return turbo_tensor{data, s.batch, s.head, s.row};
  };
  args.q = tensor(q, problem.q);
  args.k = tensor(k, problem.k);
  args.v = tensor(v, problem.v);
  args.o = tensor(o, problem.o);
  args.total_q = problem.tokensQ;
  args.total_k = problem.tokensK;
  return args;
}

/// What both INT8 Q tests compare: `plain` quantizes Q inside the kernel
/// into args.o (the caller's `fused`); `int8` quantizes it with QUANTIZE_Q
/// into `q8` and `qScale` and attends on that, into `given`. Every element
/// is written and the bits agree. The workspace stays allocated (and in
/// `args`) for the caller's further launches; returns the output.
std::vector<uint16_t> requireQuantizeQMatchesFused(const Kernel &plain, const Kernel &int8,
                                                   turbo_prefill_args &args,
                                                   std::optional<DeviceBuffer> &workspace,
                                                   const DeviceBuffer &fused,
                                                   const DeviceBuffer &given, turbo_tensor q8,
                                                   turbo_tensor qScale) {
  size_t bytes = 0;
  TURBO_CHECK(turbo_attention_prefill_workspace_size(plain.get(), &args, &bytes));
  workspace.emplace(std::max<size_t>(bytes, 16));
  args.workspace = workspace->get();
  args.workspace_bytes = bytes;
  TURBO_CHECK(turbo_attention_prefill(plain.get(), &args, nullptr));
  args.o.data = given.get();
  args.q8 = q8;
  args.q_scale = qScale;
  args.steps = TURBO_PREFILL_QUANTIZE_Q | TURBO_PREFILL_ALL;
  TURBO_CHECK(turbo_attention_prefill(int8.get(), &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  auto a = fused.download<uint16_t>(), b = given.download<uint16_t>();
  REQUIRE(std::count(a.begin(), a.end(), kPoison) == 0);
  REQUIRE(a == b);
  return a;
}

/// `config` with wgmma=0 where it asks for what only mma.sync does (K and V
/// quantized per query block, or read unstaged): wgmma is the sm_90a
/// default and reads staged INT8 tiles.
std::string mmaSyncWhereNeeded(std::string config) {
  if (config.find("kv_int8=0") != std::string::npos ||
      config.find("num_stages=1") != std::string::npos)
    config += ",wgmma=0";
  return config;
}

/// The configuration `kernel` was built with from `text`: the C API starts
/// from the head config of the device's target (on sm_90a: wgmma, 128 keys
/// a step) and applies the text on top, so the reference and the workspace
/// layout must come from that config.
ap::Config builtConfig(const Kernel &kernel, const std::string &text) {
  return configOf<templates::AttentionPrefill>(kernel, text);
}

struct Outcome {
  double vsReference, vsExact;
  int64_t mismatchedBits, poisonTouched;
};

Outcome runCase(const std::string &configText, const Shape &shape, std::mt19937 &rng) {
  // One compile per configuration: JIT time dominates the suite. Released
  // before main returns (a kernel freed by a static destructor ran the C API
  // after the thread's thread_locals were gone).
  static std::map<std::string, std::unique_ptr<Kernel>> kernels;
  if (kernels.empty())
    atTeardown([] { kernels.clear(); });
  auto &cached = kernels[configText];
  if (!cached)
    cached = std::make_unique<Kernel>("attention_prefill", nullptr,
                                      mmaSyncWhereNeeded(configText));
  Kernel &kernel = *cached;
  const ap::Config config = builtConfig(kernel, mmaSyncWhereNeeded(configText));
  const int64_t d = config.headDim;
  const bool bf16 = config.dtype == DType::BF16;

  // Row strides padded by 8 elements; the pad holds poison that must stay.
  const int64_t row = (d + 7) / 8 * 8 + 8;
  ap::Problem problem;
  problem.batch = shape.batch;
  problem.qHeads = shape.qHeads;
  problem.kvHeads = shape.kvHeads;
  problem.seqQ = shape.seqQ;
  problem.seqK = shape.seqK;
  problem.q = {shape.qHeads * shape.seqQ * row, shape.seqQ * row, row};
  problem.o = problem.q;
  problem.k = {shape.kvHeads * shape.seqK * row, shape.seqK * row, row};
  problem.v = problem.k;

  std::normal_distribution<float> normal;
  auto fill = [&](int64_t elements) {
    std::vector<uint16_t> x(size_t(elements), kPoison);
    for (size_t i = 0; i < x.size(); ++i)
      if (int64_t(i) % row < d) {
        float value = normal(rng);
        x[i] = bf16 ? numerics::floatToBFloat(value) : numerics::floatToHalf(value);
      }
    return x;
  };
  auto q = fill(shape.batch * problem.q.batch), k = fill(shape.batch * problem.k.batch),
       v = fill(shape.batch * problem.v.batch);
  DeviceBuffer dq(q.size() * 2), dk(k.size() * 2), dv(v.size() * 2), dout(q.size() * 2),
      dlse(size_t(shape.batch * shape.qHeads * shape.seqQ) * 4 + 16);
  dq.upload(q);
  dk.upload(k);
  dv.upload(v);
  dout.upload(std::vector<uint16_t>(q.size(), kPoison));

  turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), dout.get());
  size_t workspaceBytes = 0;
  TURBO_CHECK(turbo_attention_prefill_workspace_size(kernel.get(), &args, &workspaceBytes));
  const ap::Workspace layout = ap::workspaceFor(config, problem);
  REQUIRE(workspaceBytes == size_t(layout.totalBytes));
  REQUIRE((workspaceBytes > 0) == (config.kSmooth || config.kvInt8));
  // 16 bytes more than asked for: they must stay poisoned.
  DeviceBuffer dworkspace(workspaceBytes + 16);
  args.workspace = dworkspace.get();
  args.workspace_bytes = workspaceBytes;
  args.lse = dlse.get();
  dworkspace.poison(0xa5);
  dlse.poison(0xa5);
  TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  auto out = dout.download<uint16_t>();

  // K smoothing: the kernel's per-channel means against float64 (f32 sums
  // in another order: close, not equal); the reference then subtracts the
  // very same means, so the attention output can be compared bit for bit.
  const float *means = nullptr;
  std::vector<float> gpuMeans;
  auto workspace = dworkspace.download<uint8_t>();
  REQUIRE(std::all_of(workspace.end() - 16, workspace.end(),
                      [](uint8_t byte) { return byte == 0xa5; }));
  if (config.kSmooth) {
    const size_t meanCount = size_t(shape.batch * shape.kvHeads * d);
    gpuMeans.resize(meanCount);
    std::memcpy(gpuMeans.data(), workspace.data() + layout.kMean, meanCount * 4);
    templates::channel_mean::Problem meanProblem{shape.batch, shape.kvHeads, shape.seqK,
                                                 problem.k.batch, problem.k.head, problem.k.row};
    std::vector<double> exactMeans(size_t(shape.batch * shape.kvHeads * d));
    templates::channel_mean::reference(ap::channelMeanConfig(config), meanProblem, k.data(),
                                       exactMeans.data());
    for (size_t i = 0; i < exactMeans.size(); ++i)
      REQUIRE(std::fabs(gpuMeans[i] - exactMeans[i]) <= 1e-5 * (1 + std::fabs(exactMeans[i])));
    means = gpuMeans.data();
  }

  std::vector<uint16_t> expected(q.size(), kPoison);
  std::vector<float> expectedLse(size_t(shape.batch * shape.qHeads * shape.seqQ));
  ap::reference(config, problem, q.data(), k.data(), v.data(), expected.data(),
                expectedLse.data(), means);
  auto lse = dlse.download<float>();
  if (config.writeLse) {
    // lg2.approx on the GPU, log2 on the CPU: equal to a few ulps.
    for (size_t i = 0; i < expectedLse.size(); ++i) {
      if (std::isinf(expectedLse[i])) {
        REQUIRE(std::isinf(lse[i]));
        continue;
      }
      REQUIRE(std::fabs(lse[i] - expectedLse[i]) <= 1e-5f * (1.0f + std::fabs(expectedLse[i])));
    }
  } else {
    uint32_t untouched;
    std::memcpy(&untouched, &lse[0], 4);
    REQUIRE(untouched == 0xa5a5a5a5u); // not asked for, not written
  }
  std::vector<double> exact(size_t(shape.batch * shape.qHeads * shape.seqQ * d));
  ap::exactReference(config, problem, q.data(), k.data(), v.data(), exact.data());

  Outcome outcome{0, 0, 0, 0};
  double diffRef = 0, normRef = 0, diffExact = 0, normExact = 0;
  size_t e = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (int64_t(i) % row >= d) {
      outcome.poisonTouched += out[i] != kPoison;
      continue;
    }
    double got = bf16 ? numerics::bfloatToFloat(out[i]) : numerics::halfToFloat(out[i]);
    double want = bf16 ? numerics::bfloatToFloat(expected[i]) : numerics::halfToFloat(expected[i]);
    if (std::isnan(got))
      got = 1e30; // an unwritten element shows as a huge error
    outcome.mismatchedBits += out[i] != expected[i];
    diffRef += (got - want) * (got - want);
    normRef += want * want;
    diffExact += (got - exact[e]) * (got - exact[e]);
    normExact += exact[e] * exact[e];
    ++e;
  }
  outcome.vsReference = std::sqrt(diffRef / std::max(normRef, 1e-30));
  outcome.vsExact = std::sqrt(diffExact / std::max(normExact, 1e-30));
  return outcome;
}
} // namespace

TEST_CASE("prefill attention matches its CPU reference", "[gpu][attention]") {
  TURBO_RANDOM_ENGINE(rng);
  struct Case {
    std::string config;
    Shape shape;
  };
  std::vector<Case> cases;
  for (int64_t d : {64, 96, 128})
    for (int causal : {0, 1})
      for (Shape shape : {Shape{2, 4, 2, 200, 200}, Shape{1, 2, 2, 1, 1},
                          Shape{1, 4, 1, 333, 333}, Shape{1, 2, 1, 70, 130}})
        // The target's default (wgmma on sm_90a), and mma.sync with its
        // default 64 keys a step.
        for (const char *path : {"", ",wgmma=0,block_n=64"})
          cases.push_back({fmt::format("head_dim={},causal={}{}", d, causal, path), shape});
  for (const char *variant :
       {"head_dim=128,dtype=bf16,causal=1", "head_dim=128,block_m=128,num_warps=8",
        "head_dim=64,block_n=32", "head_dim=64,block_n=128,causal=1",
        "head_dim=64,block_n=128,write_lse=1,k_smooth=0", "head_dim=128,block_n=128,min_blocks_per_sm=2",
        "head_dim=128,p_scale=fixed,q_scale=tile,k_scale=tile,v_scale=tile,kv_int8=0",
        "head_dim=64,sas_degree=1,sas_threshold=4", "head_dim=256,block_n=32",
        "head_dim=128,k_smooth=0", "head_dim=64,k_smooth=0,causal=1,sas_threshold=8",
        "head_dim=128,write_lse=1,causal=1", "head_dim=64,write_lse=1,k_smooth=0",
        // K and V quantized inside the attention kernel, once per query
        // block (kv_int8=1, the default, has quantize_kv do it once): the
        // same arithmetic, so the same bits as the reference.
        "head_dim=128,kv_int8=0", "head_dim=128,kv_int8=0,causal=1,dtype=bf16",
        "head_dim=64,kv_int8=0,block_n=32,write_lse=1", "head_dim=96,kv_int8=0,k_smooth=0",
        "head_dim=128,kv_int8=0,block_m=128,num_warps=8",
        // K/V tiles staged through shared memory 1, 2 (default) or 3 deep.
        "head_dim=128,num_stages=1", "head_dim=64,num_stages=3,causal=1",
        "head_dim=128,num_stages=3,block_n=32", "head_dim=256,num_stages=1,block_n=32",
        // A varlen kernel also takes padded tensors.
        "head_dim=128,varlen=1,causal=1",
        // P and V in f16 (pv=half): the MMAs add in their own order, so
        // close to the reference rather than equal.
        "head_dim=128,pv=half", "head_dim=64,pv=half,causal=1", "head_dim=96,pv=half",
        "head_dim=128,pv=half,wgmma=0,block_n=64", "head_dim=256,pv=half,block_n=32",
        "head_dim=128,pv=half,write_lse=1,causal=1", "head_dim=64,pv=half,k_smooth=0",
        "head_dim=128,pv=half,varlen=1,causal=1", "head_dim=128,pv=half,num_stages=3",
        "head_dim=128,pv=half,dtype=bf16",
        // The first block of keys in 16 bits, the rest in INT8.
        "head_dim=128,pv=mixed", "head_dim=64,pv=mixed,causal=1", "head_dim=96,pv=mixed",
        "head_dim=128,pv=mixed,dtype=bf16,causal=1", "head_dim=128,pv=mixed,wgmma=0,block_n=64",
        "head_dim=256,pv=mixed,block_n=32", "head_dim=128,pv=mixed,varlen=1,causal=1",
        "head_dim=64,pv=mixed,write_lse=1,k_smooth=0"})
    cases.push_back({variant, Shape{1, 2, 1, 257, 257}});
  for (Shape shape : {Shape{2, 4, 2, 200, 200}, Shape{1, 4, 1, 70, 130}})
    cases.push_back({"head_dim=128,kv_int8=0,causal=1", shape});
  // Many trips around the slot ring.
  cases.push_back({"head_dim=128,num_stages=3", Shape{1, 2, 2, 1100, 1100}});
  cases.push_back({"head_dim=64,causal=1", Shape{1, 2, 1, 1000, 1100}});
  for (const Case &c : cases) {
    Outcome outcome = runCase(c.config, c.shape, rng);
    INFO(c.config << " batch " << c.shape.batch << " heads " << c.shape.qHeads << "/"
                  << c.shape.kvHeads << " seq " << c.shape.seqQ << "/" << c.shape.seqK
                  << ": vs reference " << outcome.vsReference << " (" << outcome.mismatchedBits
                  << " elements differ in bits), vs exact " << outcome.vsExact);
    REQUIRE(outcome.poisonTouched == 0);
    REQUIRE(outcome.vsReference <= 1e-3);
    WARN(c.config << " seq " << c.shape.seqQ << "/" << c.shape.seqK << ": vs reference "
                  << outcome.vsReference << " (" << outcome.mismatchedBits
                  << " differ), vs exact " << outcome.vsExact);
  }
}

TEST_CASE("prefill attention on wgmma matches its CPU reference", "[gpu][attention][wgmma]") {
  // The INT8 products are exact in INT32 on either instruction, so the
  // wgmma kernels must give the reference's bits as the mma.sync ones do;
  // the configs cover every swizzle width of K and V^T (32, 64, 128 bytes,
  // and two 128-byte panels at head dim 256), both warpgroup counts, and
  // the slot ring at 2 and 3 stages.
  TURBO_RANDOM_ENGINE(rng);
  const char *configs[] = {
      "wgmma=1,head_dim=128,min_blocks_per_sm=2",
      "wgmma=1,head_dim=128,causal=1,min_blocks_per_sm=2",
      "wgmma=1,head_dim=64",
      "wgmma=1,head_dim=64,block_n=32,causal=1,dtype=bf16",
      "wgmma=1,head_dim=96,min_blocks_per_sm=2",
      "wgmma=1,head_dim=256,block_n=32,min_blocks_per_sm=1",
      "wgmma=1,head_dim=128,block_n=128,min_blocks_per_sm=2",
      "wgmma=1,head_dim=128,block_m=128,num_warps=8,min_blocks_per_sm=1",
      "wgmma=1,head_dim=128,num_stages=3,write_lse=1,min_blocks_per_sm=2",
      "wgmma=1,head_dim=128,varlen=1,causal=1,min_blocks_per_sm=2",
      "wgmma=1,head_dim=64,k_smooth=0,block_n=128",
      "wgmma=1,head_dim=128,pv=half,min_blocks_per_sm=2",
      "wgmma=1,head_dim=64,pv=half,block_n=32,causal=1",
      "wgmma=1,head_dim=128,pv=half,block_m=128,num_warps=8,min_blocks_per_sm=1",
      "wgmma=1,head_dim=128,pv=mixed,min_blocks_per_sm=2",
      "wgmma=1,head_dim=64,pv=mixed,dtype=bf16,causal=1",
  };
  const Shape shapes[] = {Shape{2, 4, 2, 200, 200}, Shape{1, 2, 2, 1, 1},
                          Shape{1, 2, 1, 70, 130}, Shape{1, 2, 2, 1100, 1100}};
  for (const char *config : configs)
    for (const Shape &shape : shapes) {
      Outcome outcome = runCase(config, shape, rng);
      INFO(config << " batch " << shape.batch << " heads " << shape.qHeads << "/"
                  << shape.kvHeads << " seq " << shape.seqQ << "/" << shape.seqK
                  << ": vs reference " << outcome.vsReference << " ("
                  << outcome.mismatchedBits << " elements differ in bits), vs exact "
                  << outcome.vsExact);
      REQUIRE(outcome.poisonTouched == 0);
      REQUIRE(outcome.vsReference <= 1e-3);
      REQUIRE(outcome.vsExact <= 5e-2);
    }
}

TEST_CASE("prefill attention refuses bad arguments", "[gpu][attention]") {
  Kernel kernel("attention_prefill", nullptr, "head_dim=64,kv_int8=0,wgmma=0");
  DeviceBuffer buffer(1 << 20);
  turbo_prefill_args args;
  turbo_prefill_args_init(&args);
  args.batch = 1;
  args.q_heads = 3;
  args.kv_heads = 2;
  args.seq_q = args.seq_k = 16;
  turbo_tensor dense{buffer.get(), 3 * 16 * 64, 16 * 64, 64};
  args.q = args.k = args.v = args.o = dense;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("multiple of kv-heads") != std::string::npos);
  args.q_heads = 2;
  args.q.row_stride = 60;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  args.q.row_stride = 64;
  args.k.data = buffer.get() + 4;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  args.k.data = buffer.get();
  args.seq_q = 0;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  args.seq_q = 16;
  // k_smooth (the default) needs the means' workspace.
  size_t needed = 0;
  TURBO_CHECK(turbo_attention_prefill_workspace_size(kernel.get(), &args, &needed));
  REQUIRE(needed == size_t(2 * 64 * 4));
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("workspace") != std::string::npos);
  args.workspace = buffer.get() + (1 << 19);
  args.workspace_bytes = needed - 4;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  args.workspace_bytes = needed;
  args.workspace += 8;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  args.workspace -= 8;
  TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  // kv_int8=1 (the default) also needs room for K and V in INT8, every part
  // padded to 64 tokens: the means (512 bytes), k8 (2 heads x 64 rows x
  // 64 B), k_scale (2 x 64 x 4 B), V^T (2 x 64 x 64 B), v_scale (2 x 64 x
  // 4 B).
  Kernel int8Kernel("attention_prefill", nullptr, "head_dim=64,wgmma=0,block_n=64,pv=int8");
  size_t int8Needed = 0;
  TURBO_CHECK(turbo_attention_prefill_workspace_size(int8Kernel.get(), &args, &int8Needed));
  REQUIRE(int8Needed == size_t(512 + 8192 + 512 + 8192 + 512));
  REQUIRE(turbo_attention_prefill(int8Kernel.get(), &args, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  args.workspace_bytes = int8Needed;
  TURBO_CHECK(turbo_attention_prefill(int8Kernel.get(), &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  args.struct_size = 8;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  Kernel quantizer("quantize_rows", nullptr, "");
  turbo_prefill_args_init(&args);
  REQUIRE(turbo_attention_prefill(quantizer.get(), &args, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("prefill in steps: quantize K/V once, then attention alone", "[gpu][attention]") {
  TURBO_RANDOM_ENGINE(rng);
  for (const char *configText : {"head_dim=128", "head_dim=64,causal=1,kv_int8=0,wgmma=0"}) {
    INFO(configText);
    Kernel kernel("attention_prefill", nullptr, configText);
    const bool kvInt8 = std::string(configText).find("kv_int8=0") == std::string::npos;
    const int64_t d = std::string(configText).find("head_dim=64") != std::string::npos ? 64 : 128;
    const ap::Problem problem = ap::Problem::dense(1, 4, 2, 200, 200, d);
    auto q = randomHalves(problem.q.batch, rng), k = randomHalves(problem.k.batch, rng),
         v = randomHalves(problem.v.batch, rng);
    DeviceBuffer dq(q.size() * 2), dk(k.size() * 2), dv(v.size() * 2), whole(q.size() * 2),
        stepped(q.size() * 2);
    dq.upload(q);
    dk.upload(k);
    dv.upload(v);
    whole.upload(std::vector<uint16_t>(q.size(), kPoison));
    stepped.upload(std::vector<uint16_t>(q.size(), kPoison));
    turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), whole.get());
    size_t bytes = 0;
    TURBO_CHECK(turbo_attention_prefill_workspace_size(kernel.get(), &args, &bytes));
    DeviceBuffer first(bytes), second(bytes);
    args.workspace = first.get();
    args.workspace_bytes = bytes;
    TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr)); // all steps

    // Step 1 reads only K and V (no Q, no O); step 2, with kv_int8, reads
    // K and V from the workspace only (their pointers are null).
    second.poison(0xa5);
    args.workspace = second.get();
    args.steps = TURBO_PREFILL_QUANTIZE_KV;
    args.q.data = args.o.data = 0;
    TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
    args.steps = TURBO_PREFILL_ATTENTION;
    args.q.data = dq.get();
    args.o.data = stepped.get();
    if (kvInt8)
      args.k.data = args.v.data = 0;
    TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
    TURBO_CHECK(turbo_synchronize(context()));
    auto a = whole.download<uint16_t>(), b = stepped.download<uint16_t>();
    REQUIRE(std::count(a.begin(), a.end(), kPoison) == 0);
    REQUIRE(a == b);
    // Attention alone without K/V pointers is refused when it needs them.
    args.k.data = args.v.data = 0;
    if (!kvInt8) {
      REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) ==
              TURBO_STATUS_INVALID_ARGUMENT);
      REQUIRE(std::string(turbo_last_error()).find("k and v must not be null") !=
              std::string::npos);
    }
    args.steps = 8;
    REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  }
}

namespace {
/// The varlen form: packed [tokens, heads, head_dim] tensors with sequence
/// offsets, against the CPU reference run on each sequence alone (the
/// padded form with batch 1, reading the same packed memory). Empty
/// sequences and sequences shorter than the grid's longest are included;
/// rows past the last token and lse rows past a sequence's length are
/// poisoned and must stay so.
void runPackedCase(const std::string &configText, const std::vector<int32_t> &lengthsQ,
                   const std::vector<int32_t> &lengthsK, std::mt19937 &rng) {
  INFO("packed: " << configText);
  auto described = templates::parseConfig<templates::AttentionPrefill>(nullptr, configText);
  REQUIRE(described);
  const int64_t d = described->headDim;
  const bool bf16 = described->dtype == DType::BF16;
  const int64_t qHeads = 4, kvHeads = 2, batch = int64_t(lengthsQ.size());
  const int64_t row = (d + 7) / 8 * 8 + 8; // per head, padded with poison
  const std::vector<int32_t> cuQ = offsetsOf(lengthsQ), cuK = offsetsOf(lengthsK);
  const int64_t maxQ = *std::max_element(lengthsQ.begin(), lengthsQ.end());
  const int64_t maxK = *std::max_element(lengthsK.begin(), lengthsK.end());
  const int64_t guard = 3; // poisoned tokens after the last sequence

  std::normal_distribution<float> normal;
  auto fill = [&](int64_t tokens, int64_t heads) {
    std::vector<uint16_t> x(size_t((tokens + guard) * heads * row), kPoison);
    for (size_t i = 0; i < size_t(tokens * heads * row); ++i)
      if (int64_t(i) % row < d) {
        float value = normal(rng);
        x[i] = bf16 ? numerics::floatToBFloat(value) : numerics::floatToHalf(value);
      }
    return x;
  };
  auto q = fill(cuQ.back(), qHeads), k = fill(cuK.back(), kvHeads), v = fill(cuK.back(), kvHeads);
  DeviceBuffer dq(q.size() * 2), dk(k.size() * 2), dv(v.size() * 2), dout(q.size() * 2),
      dcuQ(cuQ.size() * 4), dcuK(cuK.size() * 4), dlse(size_t(batch * qHeads * maxQ) * 4);
  dq.upload(q);
  dk.upload(k);
  dv.upload(v);
  dcuQ.upload(cuQ);
  dcuK.upload(cuK);
  dout.upload(std::vector<uint16_t>(q.size(), kPoison));
  dlse.poison(0xa5);

  ap::Problem problem;
  problem.batch = batch;
  problem.qHeads = qHeads;
  problem.kvHeads = kvHeads;
  problem.seqQ = maxQ;
  problem.seqK = maxK;
  problem.packed = true;
  problem.tokensQ = cuQ.back();
  problem.tokensK = cuK.back();
  problem.q = problem.o = {0, row, qHeads * row};
  problem.k = problem.v = {0, row, kvHeads * row};
  const std::string kernelText = mmaSyncWhereNeeded(configText + ",varlen=1");
  Kernel kernel("attention_prefill", nullptr, kernelText);
  // The workspace and the reference follow the kernel's own config (see
  // builtConfig); head dim and dtype are the text's.
  const ap::Config config = builtConfig(kernel, kernelText);
  turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), dout.get());
  args.cu_seqlens_q = dcuQ.get();
  args.cu_seqlens_k = dcuK.get();
  args.lse = dlse.get();
  size_t workspaceBytes = 0;
  TURBO_CHECK(turbo_attention_prefill_workspace_size(kernel.get(), &args, &workspaceBytes));
  REQUIRE(workspaceBytes == size_t(ap::workspaceFor(config, problem).totalBytes));
  DeviceBuffer dworkspace(std::max<size_t>(workspaceBytes, 16));
  dworkspace.poison(0xa5);
  args.workspace = dworkspace.get();
  args.workspace_bytes = workspaceBytes;
  TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
  TURBO_CHECK(turbo_synchronize(context()));
  auto out = dout.download<uint16_t>();
  auto lse = dlse.download<float>();
  auto workspace = dworkspace.download<uint8_t>();

  std::vector<uint16_t> expected(q.size(), kPoison);
  // lse rows are written only for a sequence's own rows (and write_lse=1).
  std::vector<float> expectedLse(size_t(batch * qHeads * maxQ));
  std::memset(expectedLse.data(), 0xa5, expectedLse.size() * 4);
  const int64_t meanAt = ap::workspaceFor(config, problem).kMean;
  for (int64_t b = 0; b < batch; ++b) {
    if (lengthsQ[size_t(b)] == 0)
      continue;
    ap::Problem one = problem;
    one.batch = 1;
    one.packed = false;
    one.seqQ = lengthsQ[size_t(b)];
    one.seqK = lengthsK[size_t(b)];
    const size_t qAt = size_t(cuQ[size_t(b)] * qHeads * row), kAt = size_t(cuK[size_t(b)] * kvHeads * row);
    const float *means = nullptr;
    std::vector<float> gpuMeans(size_t(kvHeads * d));
    if (config.kSmooth) {
      // The kernel's means of this sequence's keys against float64.
      std::memcpy(gpuMeans.data(), workspace.data() + meanAt + b * kvHeads * d * 4,
                  gpuMeans.size() * 4);
      templates::channel_mean::Problem meanProblem{1, kvHeads, one.seqK, 0, row, kvHeads * row};
      std::vector<double> exactMeans(gpuMeans.size());
      templates::channel_mean::reference(ap::channelMeanConfig(config), meanProblem,
                                         k.data() + kAt, exactMeans.data());
      for (size_t i = 0; i < exactMeans.size(); ++i)
        REQUIRE(std::fabs(gpuMeans[i] - exactMeans[i]) <= 1e-5 * (1 + std::fabs(exactMeans[i])));
      means = gpuMeans.data();
    }
    std::vector<float> oneLse(size_t(qHeads * one.seqQ));
    ap::reference(config, one, q.data() + qAt, k.data() + kAt, v.data() + kAt,
                  expected.data() + qAt, oneLse.data(), means);
    for (int64_t h = 0; h < qHeads && config.writeLse; ++h)
      std::memcpy(&expectedLse[size_t((b * qHeads + h) * maxQ)], &oneLse[size_t(h * one.seqQ)],
                  size_t(one.seqQ) * 4);
  }
  int64_t differ = 0;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (expected[i] == kPoison) { // padding, guard tokens
      REQUIRE(out[i] == kPoison);
      continue;
    }
    double got = bf16 ? numerics::bfloatToFloat(out[i]) : numerics::halfToFloat(out[i]);
    double want = bf16 ? numerics::bfloatToFloat(expected[i]) : numerics::halfToFloat(expected[i]);
    if (std::isnan(got))
      got = 1e30;
    differ += out[i] != expected[i];
    diff += (got - want) * (got - want);
    norm += want * want;
  }
  INFO("vs reference " << std::sqrt(diff / norm) << " (" << differ << " differ)");
  REQUIRE(std::sqrt(diff / std::max(norm, 1e-30)) <= 1e-3);
  WARN("packed " << configText << ": vs reference " << std::sqrt(diff / norm) << " (" << differ
                 << " differ)");
  for (size_t i = 0; i < lse.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &expectedLse[i], 4);
    if (bits == 0xa5a5a5a5u || std::isinf(expectedLse[i])) {
      // Unwritten rows (and -inf) compare as bits.
      REQUIRE(std::memcmp(&expectedLse[i], &lse[i], 4) == 0);
      continue;
    }
    REQUIRE(std::fabs(lse[i] - expectedLse[i]) <= 1e-5f * (1.0f + std::fabs(expectedLse[i])));
  }
}
} // namespace

TEST_CASE("packed (varlen) prefill matches each sequence alone", "[gpu][attention]") {
  TURBO_RANDOM_ENGINE(rng);
  // Sequence lengths: empty, single, ragged, one longer than the rest (so
  // most blocks of the grid lie past their sequence's end).
  const std::vector<int32_t> q{37, 0, 200, 1, 64}, k{37, 5, 200, 1, 64};
  for (const char *configText :
       {"head_dim=128", "head_dim=64,causal=1,write_lse=1", "head_dim=96,kv_int8=0",
        "head_dim=128,kv_int8=0,causal=1,dtype=bf16", "head_dim=64,k_smooth=0,write_lse=1"})
    runPackedCase(configText, q, k, rng);
  // Chunked prefill: fewer new queries than keys, bottom-right causal.
  runPackedCase("head_dim=128,causal=1,write_lse=1", {16, 100, 1}, {300, 100, 70}, rng);
}

TEST_CASE("packed prefill refuses inconsistent arguments", "[gpu][attention]") {
  Kernel kernel("attention_prefill", nullptr, "head_dim=64,kv_int8=0,k_smooth=0,varlen=1,wgmma=0");
  DeviceBuffer buffer(1 << 16);
  turbo_prefill_args args;
  turbo_prefill_args_init(&args);
  args.batch = 2;
  args.q_heads = args.kv_heads = 2;
  args.seq_q = args.seq_k = 16;
  turbo_tensor packed{buffer.get(), 0, 64, 128};
  args.q = args.k = args.v = args.o = packed;
  args.cu_seqlens_q = buffer.get();
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("go together") != std::string::npos);
  args.cu_seqlens_k = buffer.get() + 2;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("4-byte aligned") != std::string::npos);
  args.cu_seqlens_k = buffer.get();
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("holds 0 tokens") != std::string::npos);
  args.total_q = 40;
  args.total_k = 15; // fewer than seq_k
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("longest sequence (16)") != std::string::npos);
  args.total_k = 40;
  args.k.batch_stride = 16 * 128;
  REQUIRE(turbo_attention_prefill(kernel.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("batch strides must be 0") != std::string::npos);
  args.k.batch_stride = 0;
  Kernel padded("attention_prefill", nullptr, "head_dim=64,kv_int8=0,k_smooth=0,wgmma=0");
  REQUIRE(turbo_attention_prefill(padded.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(turbo_last_error()).find("varlen=1") != std::string::npos);
}

TEST_CASE("INT8 Q: quantize_q is the kernel's own Q quantization, q_int8 takes it",
          "[gpu][attention]") {
  namespace qr = turbo::templates::quantize_rows;
  TURBO_RANDOM_ENGINE(rng);
  for (const char *base : {"head_dim=128", "head_dim=96,causal=1,dtype=bf16",
                           "head_dim=64,kv_int8=0,write_lse=1,wgmma=0", "head_dim=128,write_lse=1"}) {
    INFO(base);
    const std::string int8Config = std::string(base) + ",q_int8=1";
    auto config = templates::parseConfig<templates::AttentionPrefill>(nullptr, int8Config);
    REQUIRE(config);
    const int64_t d = config->headDim;
    const bool bf16 = config->dtype == DType::BF16;
    ap::Problem problem = ap::Problem::dense(2, 4, 2, 150, 150, d);
    // q8 rows padded by 16 bytes, q_scale rows by 3 floats: poisoned, kept.
    const int64_t q8Row = (d + 15) / 16 * 16 + 16, scalePitch = problem.seqQ + 3;
    problem.q8 = {4 * problem.seqQ * q8Row, problem.seqQ * q8Row, q8Row};
    problem.qScaleHead = scalePitch;
    problem.qScaleBatch = 4 * scalePitch;
    auto q = randomHalves(2 * problem.q.batch, rng, bf16, 2.0f),
         k = randomHalves(2 * problem.k.batch, rng, bf16, 2.0f),
         v = randomHalves(2 * problem.v.batch, rng, bf16, 2.0f);
    for (int64_t d0 = 0; d0 < d; ++d0) // one all-zero query row: scale 0
      q[size_t(5 * d + d0)] = 0;
    DeviceBuffer dq(q.size() * 2), dk(k.size() * 2), dv(v.size() * 2), fused(q.size() * 2),
        given(q.size() * 2), dq8(size_t(2 * problem.q8.batch)),
        dscale(size_t(2 * problem.qScaleBatch) * 4), dlse(size_t(2 * 4 * 150) * 4);
    dq.upload(q);
    dk.upload(k);
    dv.upload(v);
    dq8.poison(0x5a);
    dscale.poison(0x5a);

    // The reference path: Q quantized inside the kernel.
    Kernel plain("attention_prefill", nullptr, base), int8("attention_prefill", nullptr, int8Config);
    turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), fused.get());
    args.lse = dlse.get();
    // Then Q to INT8 and attention on it, in one call.
    std::optional<DeviceBuffer> workspace;
    auto a = requireQuantizeQMatchesFused(
        plain, int8, args, workspace, fused, given,
        {dq8.get(), problem.q8.batch, problem.q8.head, problem.q8.row},
        {dscale.get(), problem.qScaleBatch, problem.qScaleHead, 1});

    // The codes and scales: the row quantizer's reference, head by head.
    auto q8 = dq8.download<int8_t>();
    auto scales = dscale.download<float>();
    auto rowConfig = templates::parseConfig<templates::QuantizeRows>(
        nullptr, fmt::format("cols={},dtype={}", d, bf16 ? 1 : 0));
    REQUIRE(rowConfig);
    for (int64_t bh = 0; bh < 8; ++bh) {
      std::vector<int8_t> codes(size_t(150 * q8Row), 0x5a);
      std::vector<float> rowScales(150);
      qr::reference(*rowConfig, qr::Problem{150, d, q8Row}, q.data() + bh * problem.q.head,
                    codes.data(), rowScales.data());
      for (int64_t t = 0; t < 150; ++t) {
        REQUIRE(std::memcmp(&scales[size_t(bh * scalePitch + t)], &rowScales[size_t(t)], 4) == 0);
        for (int64_t c = 0; c < q8Row; ++c) // padding bytes stay poisoned
          REQUIRE(q8[size_t(bh * problem.seqQ * q8Row + t * q8Row + c)] ==
                  (c < d ? codes[size_t(t * q8Row + c)] : int8_t(0x5a)));
      }
      for (int64_t t = 150; t < scalePitch; ++t) {
        uint32_t bits;
        std::memcpy(&bits, &scales[size_t(bh * scalePitch + t)], 4);
        REQUIRE(bits == 0x5a5a5a5au);
      }
    }

    // Attention alone on the INT8 Q: q is not read.
    given.upload(std::vector<uint16_t>(q.size(), kPoison));
    args.q.data = 0;
    args.steps = TURBO_PREFILL_ALL;
    TURBO_CHECK(turbo_attention_prefill(int8.get(), &args, nullptr));
    TURBO_CHECK(turbo_synchronize(context()));
    REQUIRE(given.download<uint16_t>() == a);

    // Refused: no q8; a strided q_scale; QUANTIZE_Q on a kernel without q_int8.
    args.q8.data = 0;
    REQUIRE(turbo_attention_prefill(int8.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(std::string(turbo_last_error()).find("q8 and q_scale") != std::string::npos);
    args.q8.data = dq8.get();
    args.q_scale.row_stride = 2;
    REQUIRE(turbo_attention_prefill(int8.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(std::string(turbo_last_error()).find("row_stride") != std::string::npos);
    args.q_scale.row_stride = 1;
    args.q.data = dq.get();
    args.steps = TURBO_PREFILL_QUANTIZE_Q;
    REQUIRE(turbo_attention_prefill(plain.get(), &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(std::string(turbo_last_error()).find("q_int8=0") != std::string::npos);
  }
}

TEST_CASE("INT8 Q with packed sequences: the same bits as the fused quantization",
          "[gpu][attention]") {
  TURBO_RANDOM_ENGINE(rng);
  const int64_t d = 64, heads = 4, kvHeads = 2;
  const std::vector<int32_t> lengths{70, 0, 129, 1};
  const std::vector<int32_t> cu = offsetsOf(lengths);
  const int64_t tokens = cu.back(), longest = 129;
  auto q = randomHalves(tokens * heads * d, rng), k = randomHalves(tokens * kvHeads * d, rng),
       v = randomHalves(tokens * kvHeads * d, rng);
  DeviceBuffer dq(q.size() * 2), dk(k.size() * 2), dv(v.size() * 2), dcu(cu.size() * 4),
      fused(q.size() * 2), given(q.size() * 2), dq8(size_t(tokens * heads * d)),
      dscale(size_t(heads * tokens) * 4);
  dq.upload(q);
  dk.upload(k);
  dv.upload(v);
  dcu.upload(cu);
  fused.upload(std::vector<uint16_t>(q.size(), kPoison));
  given.upload(std::vector<uint16_t>(q.size(), kPoison));
  ap::Problem problem;
  problem.batch = int64_t(lengths.size());
  problem.qHeads = heads;
  problem.kvHeads = kvHeads;
  problem.seqQ = problem.seqK = longest;
  problem.packed = true;
  problem.tokensQ = problem.tokensK = tokens;
  problem.q = problem.o = {0, d, heads * d};
  problem.k = problem.v = {0, d, kvHeads * d};
  Kernel plain("attention_prefill", nullptr, "head_dim=64,causal=1,varlen=1"),
      int8("attention_prefill", nullptr, "head_dim=64,causal=1,varlen=1,q_int8=1");
  turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), fused.get());
  args.cu_seqlens_q = args.cu_seqlens_k = dcu.get();
  // q8 packed like q; scales [heads, tokens] (token index among all).
  std::optional<DeviceBuffer> workspace;
  requireQuantizeQMatchesFused(plain, int8, args, workspace, fused, given,
                               {dq8.get(), 0, d, heads * d}, {dscale.get(), 0, tokens, 1});
  // The scale of token t of head h: the row's absolute maximum / 127.
  auto scales = dscale.download<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < tokens; ++t) {
      float amax = 0;
      for (int64_t c = 0; c < d; ++c)
        amax = std::fmax(amax, std::fabs(numerics::halfToFloat(q[size_t((t * heads + h) * d + c)])));
      REQUIRE(scales[size_t(h * tokens + t)] == amax / 127.0f);
    }
}

TEST_CASE("attention sinks and long tails: the GPU kernels as their references say",
          "[gpu][attention][sinks]") {
  // The inputs turbo-accuracy --sinks measures (docs/accuracy.md), on the
  // GPU: every kernel against its reference, and against float64 the
  // accuracy targets for sink and tail rows (relative L2 <= 2.5e-2) with P
  // and V in 16 bits, all or in the first block of keys (the default), where
  // u8 P and INT8 V miss them.
  const int64_t seq = 1024, d = 128, heads = 2;
  for (const char *kind : {"sink:20", "sink:100", "tail:6", "tail:10", "vout"}) {
    const ap::AccuracyInputs in = ap::makeAccuracyInputs(kind, heads, seq, d, 2027);
    for (const char *text : {"head_dim=128,pv=half", "head_dim=128", "head_dim=128,pv=int8",
                             "head_dim=128,pv=mixed,sas_threshold_half=14"}) {
      std::string configText = std::string(text) + (in.causal ? ",causal=1" : "");
      Kernel kernel("attention_prefill", nullptr, configText);
      const ap::Config config = builtConfig(kernel, configText);
      ap::Problem problem = ap::Problem::dense(1, heads, heads, seq, seq, d);
      DeviceBuffer dq(in.q.size() * 2), dk(in.k.size() * 2), dv(in.v.size() * 2),
          dout(in.q.size() * 2);
      dq.upload(in.q);
      dk.upload(in.k);
      dv.upload(in.v);
      dout.poison(0xff);
      turbo_prefill_args args = argsFor(problem, dq.get(), dk.get(), dv.get(), dout.get());
      size_t workspaceBytes = 0;
      TURBO_CHECK(turbo_attention_prefill_workspace_size(kernel.get(), &args, &workspaceBytes));
      DeviceBuffer workspace(workspaceBytes);
      args.workspace = workspace.get();
      args.workspace_bytes = workspaceBytes;
      TURBO_CHECK(turbo_attention_prefill(kernel.get(), &args, nullptr));
      TURBO_CHECK(turbo_synchronize(context()));
      auto out = dout.download<uint16_t>();
      std::vector<uint16_t> expected(in.q.size());
      std::vector<double> exact(in.q.size());
      ap::reference(config, problem, in.q.data(), in.k.data(), in.v.data(), expected.data(),
                    nullptr);
      ap::exactReference(config, problem, in.q.data(), in.k.data(), in.v.data(), exact.data());
      double diffRef = 0, normRef = 0, diffExact = 0, normExact = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        double got = numerics::halfToFloat(out[i]), want = numerics::halfToFloat(expected[i]);
        if (std::isnan(got))
          got = 1e30;
        diffRef += (got - want) * (got - want);
        normRef += want * want;
        diffExact += (got - exact[i]) * (got - exact[i]);
        normExact += exact[i] * exact[i];
      }
      const double vsReference = std::sqrt(diffRef / normRef);
      const double vsExact = std::sqrt(diffExact / normExact);
      INFO(kind << " " << configText << ": vs reference " << vsReference << ", vs exact "
                << vsExact);
      REQUIRE(vsReference <= 1e-3);
      if (config.pv != ap::PvFormat::Int8)
        REQUIRE(vsExact <= 2.5e-2);
      WARN(kind << " " << configText << ": vs exact " << vsExact);
    }
  }
}
