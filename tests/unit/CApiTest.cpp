//===- CApiTest.cpp - the C API without a GPU ------------------------------===//
//
// Run with TURBO_LIBCUDA pointing nowhere (ctest sets it), so every GPU
// entry point must report "no CUDA driver"; compiling still works. Every
// function given null or inconsistent arguments returns a status and a
// message, and never crashes.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
std::string lastError() { return turbo_last_error(); }

struct Text {
  char *text = nullptr;
  ~Text() { turbo_free(text); }
};
} // namespace

TEST_CASE("versions and status names", "[capi]") {
  REQUIRE(std::string(turbo_version()) == "0.1.0");
  REQUIRE(std::string(turbo_llvm_version()).rfind("22.", 0) == 0);
  REQUIRE(std::string(turbo_status_string(TURBO_STATUS_NO_DRIVER)) == "no CUDA driver");
  REQUIRE(std::string(turbo_status_string(static_cast<turbo_status>(99))) == "unknown status");
}

TEST_CASE("without a driver, contexts report it and nothing crashes", "[capi]") {
  const char *path = std::getenv("TURBO_LIBCUDA");
  REQUIRE(path != nullptr); // set by ctest to a path that does not exist
  turbo_context *context = reinterpret_cast<turbo_context *>(0x1);
  turbo_status status = turbo_context_create(nullptr, &context);
  REQUIRE(status == TURBO_STATUS_NO_DRIVER);
  REQUIRE(context == nullptr);
  REQUIRE(lastError().find("no CUDA driver") != std::string::npos);
  REQUIRE(lastError().find(path) != std::string::npos);
  // Asking twice gives the same answer.
  REQUIRE(turbo_context_create(nullptr, &context) == TURBO_STATUS_NO_DRIVER);
  int count = 7;
  REQUIRE(turbo_device_count(&count) == TURBO_STATUS_NO_DRIVER);
  REQUIRE(count == 0);
  REQUIRE(turbo_device_count(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("compiling needs no GPU", "[capi]") {
  Text ptx;
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, nullptr, "ptx", &ptx.text) ==
          TURBO_STATUS_OK);
  REQUIRE(std::string(ptx.text).find(".entry quantize_rows") != std::string::npos);
  // A call that succeeds leaves the last failure's message.
  Text none;
  REQUIRE(turbo_compile_template("no_such", nullptr, nullptr, "ptx", &none.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  const std::string failure = lastError();
  REQUIRE_FALSE(failure.empty());
  Text again;
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, nullptr, "turbo", &again.text) ==
          TURBO_STATUS_OK);
  REQUIRE(lastError() == failure);

  turbo_head_config head;
  turbo_head_config_init(&head);
  REQUIRE(turbo_head_config_preset(&head, "llama3-70b") == TURBO_STATUS_OK);
  REQUIRE(head.q_heads == 64);
  head.target = "sm_80";
  head.dtype = TURBO_DTYPE_BF16;
  Text turboIr;
  REQUIRE(turbo_compile_template("quantize_rows", &head, "block_rows=16", "turbo",
                                 &turboIr.text) == TURBO_STATUS_OK);
  std::string ir = turboIr.text;
  REQUIRE(ir.find("turbo.target = \"sm_80\"") != std::string::npos);
  REQUIRE(ir.find("!turbo.ptr<bf16>") != std::string::npos);
  REQUIRE(ir.find("block_rows = 16") != std::string::npos);

  Text fromMlir;
  REQUIRE(turbo_compile_mlir(ir.c_str(), "ptx", &fromMlir.text) == TURBO_STATUS_OK);
  REQUIRE(std::string(fromMlir.text).find(".target sm_80") != std::string::npos);
}

TEST_CASE("compiles on several threads give what they give one at a time", "[capi]") {
  // turbo-tune compiles a search space's points in parallel.
  turbo_head_config head;
  turbo_head_config_init(&head);
  head.kv_bits = 0;
  const std::vector<std::pair<const char *, std::string>> jobs = {
      {"attention_decode", "num_warps=4,prefetch=0"}, {"attention_decode", "num_warps=8,prefetch=2"},
      {"attention_decode", "num_warps=4,prefetch=2"}, {"quantize_rows", "block_rows=16"},
      {"kv_compress", "source=staging"},              {"decode_reduce", ""}};
  auto compile = [&](size_t i) {
    Text ptx;
    const turbo_status status =
        turbo_compile_template(jobs[i].first, &head, jobs[i].second.c_str(), "ptx", &ptx.text);
    return status == TURBO_STATUS_OK ? std::string(ptx.text) : "failed: " + lastError();
  };
  std::vector<std::string> alone;
  for (size_t i = 0; i < jobs.size(); ++i)
    alone.push_back(compile(i));
  std::vector<std::string> together(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); ++i)
    threads.emplace_back([&, i] { together[i] = compile(i); });
  for (std::thread &thread : threads)
    thread.join();
  for (size_t i = 0; i < jobs.size(); ++i) {
    INFO(jobs[i].first << " " << jobs[i].second);
    REQUIRE(alone[i].find(".entry") != std::string::npos);
    REQUIRE(together[i] == alone[i]);
  }
}

TEST_CASE("bad input gives a status and a message", "[capi]") {
  Text text;
  REQUIRE(turbo_compile_template("no_such", nullptr, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("unknown template 'no_such'") != std::string::npos);
  REQUIRE(text.text == nullptr);
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, "cols=7", "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, nullptr, "sass", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("unknown stage 'sass'") != std::string::npos);
  REQUIRE(turbo_compile_template(nullptr, nullptr, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, nullptr, nullptr, &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_compile_template("quantize_rows", nullptr, nullptr, "ptx", nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);

  REQUIRE(turbo_compile_mlir("this is not mlir", "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("not valid turbo IR") != std::string::npos);
  // Valid MLIR that fails verification is a compile error with diagnostics.
  REQUIRE(turbo_compile_mlir("module attributes {turbo.num_warps = 3 : i32} {}", "ptx",
                             &text.text) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("turbo.num_warps") != std::string::npos);
  REQUIRE(turbo_compile_mlir("module {}", "ptx", &text.text) == TURBO_STATUS_COMPILE_ERROR);
  REQUIRE(lastError().find("no kernel") != std::string::npos);
  REQUIRE(turbo_compile_mlir(nullptr, "ptx", &text.text) == TURBO_STATUS_INVALID_ARGUMENT);

  turbo_head_config head;
  turbo_head_config_init(&head);
  head.q_heads = 30;
  REQUIRE(turbo_compile_template("quantize_rows", &head, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("multiple of kv-heads") != std::string::npos);
  turbo_head_config_init(&head);
  head.dtype = static_cast<turbo_dtype>(7);
  REQUIRE(turbo_compile_template("quantize_rows", &head, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  turbo_head_config_init(&head);
  head.target = "sm_75";
  REQUIRE(turbo_compile_template("quantize_rows", &head, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  turbo_head_config_init(&head);
  head.struct_size = 0;
  REQUIRE(turbo_compile_template("quantize_rows", &head, nullptr, "ptx", &text.text) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(lastError().find("struct_size") != std::string::npos);
  REQUIRE(turbo_head_config_preset(&head, "llama3-8b") == TURBO_STATUS_INVALID_ARGUMENT);
  turbo_head_config_init(&head);
  REQUIRE(turbo_head_config_preset(&head, "nope") == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_head_config_preset(nullptr, "llama3-8b") == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_head_config_preset(&head, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("every entry point rejects null handles", "[capi]") {
  uint64_t pointer = 0;
  turbo_kernel *kernel = nullptr;
  turbo_kernel_info info{sizeof(info)};
  turbo_device_info device{sizeof(device)};
  unsigned grid[3] = {1, 1, 1};
  char buffer[4];
  REQUIRE(turbo_context_destroy(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_context_create(nullptr, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  turbo_context_desc desc;
  turbo_context_desc_init(&desc);
  desc.struct_size = 0;
  turbo_context *context = nullptr;
  REQUIRE(turbo_context_create(&desc, &context) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_context_device_info(nullptr, &device) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kernel_create(nullptr, "quantize_rows", nullptr, nullptr, &kernel) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(kernel == nullptr);
  REQUIRE(turbo_kernel_create(nullptr, "quantize_rows", nullptr, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kernel_destroy(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kernel_get_info(nullptr, &info) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kernel_launch(nullptr, grid, nullptr, 0, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_quantize_rows(nullptr, 0, 0, 0, 1, 128, 128, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_device_alloc(nullptr, 16, &pointer) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_device_free(nullptr, 0) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_copy_to_device(nullptr, 1, buffer, 4) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_copy_to_host(nullptr, buffer, 1, 4) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_device_fill(nullptr, 1, 0, 4) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_synchronize(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_list_templates(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_list_presets(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE_FALSE(lastError().empty());
  turbo_free(nullptr);
  turbo_head_config_init(nullptr);
  turbo_context_desc_init(nullptr);
}

#include "turbo/turbo.hpp"

TEST_CASE("the C++ API reports errors without exceptions", "[capi][cpp]") {
  auto context = turbo::Context::create();
  REQUIRE_FALSE(context);
  REQUIRE(context.error().status() == TURBO_STATUS_NO_DRIVER);
  REQUIRE(context.error().message().find("no CUDA driver") != std::string::npos);

  turbo_head_config heads = turbo::headConfig("qwen2-7b");
  REQUIRE(heads.q_heads == 28);
  REQUIRE(heads.kv_heads == 4);
  auto ptx = turbo::compileTemplate("attention_prefill", "turbo", &heads, "block_n=32");
  REQUIRE(ptx);
  REQUIRE(ptx->find("func.func @attention_prefill") != std::string::npos);
  REQUIRE(ptx->find("block_n = 32") != std::string::npos);
  auto bad = turbo::compileTemplate("attention_prefill", "turbo", &heads, "block_n=7");
  REQUIRE_FALSE(bad);
  REQUIRE(bad.error().status() == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(std::string(bad.error().statusName()) == "invalid argument");
}

TEST_CASE("plans and the not-yet-implemented entry points", "[capi]") {
  turbo_plan *plan = reinterpret_cast<turbo_plan *>(0x1);
  REQUIRE(turbo_plan_create(nullptr, nullptr, nullptr, &plan) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(plan == nullptr);
  REQUIRE(turbo_plan_create(nullptr, nullptr, nullptr, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_plan_destroy(nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  turbo_plan_info info{sizeof(info)};
  REQUIRE(turbo_plan_get_info(nullptr, &info) == TURBO_STATUS_INVALID_ARGUMENT);
  turbo_prefill_args args;
  turbo_prefill_args_init(&args);
  REQUIRE(turbo_plan_prefill(nullptr, &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_attention_prefill(nullptr, &args, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  size_t workspaceBytes = 1;
  REQUIRE(turbo_attention_prefill_workspace_size(nullptr, &args, &workspaceBytes) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(workspaceBytes == 0);
  REQUIRE(turbo_plan_prefill_workspace_size(nullptr, &args, &workspaceBytes) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_attention_prefill_workspace_size(nullptr, &args, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_plan_append_kv(nullptr, nullptr, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_plan_decode(nullptr, nullptr, nullptr, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_plan_write_prompt(nullptr, nullptr, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_attention_decode(nullptr, nullptr, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kv_append(nullptr, nullptr, nullptr, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kv_write_prompt(nullptr, nullptr, nullptr, nullptr) ==
          TURBO_STATUS_INVALID_ARGUMENT);
  REQUIRE(turbo_kv_cache_create(nullptr, nullptr, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
  {
    // The cache's sizes need no GPU; bad descriptions are refused with a reason.
    turbo_kv_cache_desc desc;
    turbo_kv_cache_desc_init(&desc);
    turbo_kv_cache_info info{sizeof(info)};
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_OK);
    REQUIRE(info.page_bytes == 8 * (2 * 4096 + 768)); // 8 heads at 4 bits, head dim 128
    REQUIRE(512.0 / info.bytes_per_token >= 3.5);
    // Kept pages: the default sink page; a window; a caller built before
    // the fields existed gets the defaults; out of range is refused.
    REQUIRE(desc.sink_pages == 1);
    REQUIRE(desc.window_pages == 0);
    REQUIRE(info.staging_rows == 2 * 64);
    REQUIRE(info.staging_slot_bytes == 8 * 2 * 64 * (2 * 128 + 8));
    desc.window_pages = 3;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_OK);
    REQUIRE(info.staging_rows == 5 * 64);
    turbo_kv_cache_desc older = desc;
    older.struct_size = offsetof(turbo_kv_cache_desc, sink_pages);
    older.sink_pages = -7; // past its struct_size: not read
    REQUIRE(turbo_kv_cache_layout(&older, &info) == TURBO_STATUS_OK);
    REQUIRE(info.staging_rows == 2 * 64);
    desc.window_pages = -1;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("window pages") != std::string::npos);
    desc.window_pages = 0;
    desc.sink_pages = 65;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_INVALID_ARGUMENT);
    desc.sink_pages = 1;
    const int widths[2] = {4, 5};
    desc.kv_heads = 2;
    desc.kv_bits = widths;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("KV head 1 has 5 bits") != std::string::npos);
    desc.kv_bits = nullptr;
    desc.head_dim = 96;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_INVALID_ARGUMENT);
    desc.struct_size = 8;
    REQUIRE(turbo_kv_cache_layout(&desc, &info) == TURBO_STATUS_INVALID_ARGUMENT);
    // Calibration on the host: head 1's K/V are 1/100 of head 0's, so its
    // output (and its error) is small for the layer.
    const int64_t tokens = 160, D = 64;
    std::vector<float> q(4 * tokens * D), k(2 * tokens * D), v(k.size());
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (float &x : q)
      x = normal(rng);
    for (size_t i = 0; i < k.size(); ++i) {
      const float scale = i < k.size() / 2 ? 1.0f : 0.01f;
      k[i] = scale * normal(rng);
      v[i] = scale * normal(rng);
    }
    int bits[2] = {0, 0};
    double losses[2] = {-1, -1};
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 0.5, bits,
                               losses) == TURBO_STATUS_OK);
    REQUIRE(bits[0] == 4);
    REQUIRE(bits[1] == 2);
    REQUIRE(losses[1] > 0.0);
    REQUIRE(losses[1] < losses[0]);
    // The same losses from turbo_kv_head_losses at 2 bits; smaller at 4.
    double at2[2] = {-1, -1}, at4[2] = {-1, -1};
    REQUIRE(turbo_kv_head_losses(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 2,
                                 at2) == TURBO_STATUS_OK);
    REQUIRE(at2[0] == losses[0]);
    REQUIRE(at2[1] == losses[1]);
    REQUIRE(turbo_kv_head_losses(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 4,
                                 at4) == TURBO_STATUS_OK);
    REQUIRE(at4[0] < at2[0]);
    REQUIRE(at4[1] < at2[1]);
    REQUIRE(turbo_kv_head_losses(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 3,
                                 at4) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("bits must be 2, 4 or 8") != std::string::npos);
    REQUIRE(turbo_kv_head_losses(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 2,
                                 nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 1.5, bits,
                               nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 3, 2, tokens, D, 0, -1, -1, 0.5, bits,
                               nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("multiple of kv_heads") != std::string::npos);
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 4, 2, tokens, D, 48, -1, -1, 0.5, bits,
                               nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("page size") != std::string::npos);
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, 65, 0, 0.5,
                               bits, nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("sink pages") != std::string::npos);
    q[5 * D + 3] = NAN;
    REQUIRE(turbo_kv_calibrate(q.data(), k.data(), v.data(), 4, 2, tokens, D, 0, -1, -1, 0.5, bits,
                               nullptr) == TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(lastError().find("query head 0") != std::string::npos);
    double priorities[2];
    REQUIRE(turbo_kv_head_priorities(k.data(), v.data(), 2, tokens, D, priorities) ==
            TURBO_STATUS_OK);
    REQUIRE(priorities[1] < priorities[0]);
    const double scores[5] = {0.3, 0.1, 0.5, 0.1, 0.2};
    int picked[5];
    REQUIRE(turbo_kv_pick_bits(scores, 5, 0.4, picked) == TURBO_STATUS_OK);
    REQUIRE(std::vector<int>(picked, picked + 5) == std::vector<int>{4, 2, 4, 2, 4});
    const double bad[2] = {0.1, NAN};
    REQUIRE(turbo_kv_pick_bits(bad, 2, 0.5, picked) == TURBO_STATUS_INVALID_ARGUMENT);
    // Under a budget: heads 3 and 0 cost least (docs in turbo.h).
    const double two[5] = {0.05, 0.30, 0.10, 0.02, 0.20};
    const double four[5] = {0.01, 0.05, 0.02, 0.01, 0.03};
    double predicted = -1;
    REQUIRE(turbo_kv_pick_bits_within(two, four, 5, 0.1, picked, &predicted) == TURBO_STATUS_OK);
    REQUIRE(std::vector<int>(picked, picked + 5) == std::vector<int>{2, 4, 4, 2, 4});
    REQUIRE(predicted == Approx(std::sqrt(0.0067)));
    REQUIRE(turbo_kv_pick_bits_within(two, four, 5, 0.1, picked, nullptr) == TURBO_STATUS_OK);
    const double negative[2] = {0.1, -0.1};
    REQUIRE(turbo_kv_pick_bits_within(two, negative, 2, 0.1, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_pick_bits_within(two, bad, 2, 0.1, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_pick_bits_within(two, four, 5, NAN, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_pick_bits_within(two, four, 5, 0.0, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_pick_bits_within(two, four, 0, 0.1, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_kv_pick_bits_within(nullptr, four, 5, 0.1, picked, nullptr) ==
            TURBO_STATUS_INVALID_ARGUMENT);
  }
  {
    float samples[2];
    REQUIRE(turbo_measure(nullptr, nullptr, nullptr, nullptr, 0, 2, samples) ==
            TURBO_STATUS_INVALID_ARGUMENT);
    REQUIRE(turbo_measure_cold(nullptr, nullptr, nullptr, nullptr, 0, 2, samples) ==
            TURBO_STATUS_INVALID_ARGUMENT);
  }
}
