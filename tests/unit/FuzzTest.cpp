//===- FuzzTest.cpp - random and mutated input through the C API ----------===//
//
// What parses user input, fed garbage: config strings ("key=value,...")
// for every template, and turbo IR text mutated from a valid kernel, down
// to PTX. Each call must return a status (and a message when it fails),
// never crash or abort; a crash fails the whole test binary. Seeds are
// fixed so CI is reproducible; TURBO_FUZZ_ITERATIONS scales the runs up
// for a longer local hunt.
//
//===----------------------------------------------------------------------===//
#include "turbo/turbo.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
struct Text {
  char *text = nullptr;
  ~Text() { turbo_free(text); }
};

int iterations(int ciDefault) {
  if (const char *given = std::getenv("TURBO_FUZZ_ITERATIONS"))
    return std::max(1, std::atoi(given));
  return ciDefault;
}

/// The call returned OK with text, or failed with a message and no text.
void requireCleanOutcome(turbo_status status, const Text &out, const std::string &input) {
  INFO("input: " << input);
  if (status == TURBO_STATUS_OK) {
    REQUIRE(out.text != nullptr);
  } else {
    REQUIRE(out.text == nullptr);
    REQUIRE(std::string(turbo_last_error()).size() > 0);
  }
}

std::vector<std::string> templateNames() {
  Text names;
  REQUIRE(turbo_list_templates(&names.text) == TURBO_STATUS_OK);
  std::vector<std::string> result;
  std::stringstream list(names.text);
  for (std::string name; std::getline(list, name, ',');)
    if (!name.empty())
      result.push_back(name);
  return result;
}

/// A config string from pieces that parse (parameter names, symbols,
/// numbers) and pieces that do not (signs, overflow, stray separators).
std::string randomConfig(std::mt19937 &rng) {
  static const std::vector<std::string> keys = {
      "head_dim", "block_m", "block_n", "num_warps", "causal", "dtype", "sas_degree",
      "sas_threshold", "q_scale", "k_scale", "v_scale", "p_scale", "kv_int8", "k_smooth",
      "write_lse", "varlen", "q_int8", "num_stages", "min_blocks_per_sm", "block_rows",
      "cols", "bits", "nope", "", " ", "HEAD_DIM", "head_dim "};
  static const std::vector<std::string> values = {
      "0", "1", "2", "3", "4", "8", "12", "14", "15", "16", "30", "31", "32", "64", "96",
      "128", "256", "512", "-1", "-0", "+1", "007", "0x10", "1e2", "99999999999999999999",
      "9223372036854775807", "-9223372036854775808", "f16", "bf16", "token", "tile", "row",
      "fixed", "channel", "", " ", "1.5", "\t3"};
  static const std::vector<std::string> glue = {",", "=", ",,", "==", " , ", "=,", ";", "\t"};
  std::uniform_int_distribution<int> count(0, 6), pick(0, 99);
  std::string text;
  for (int i = count(rng); i > 0; --i) {
    text += keys[size_t(pick(rng)) % keys.size()];
    text += pick(rng) < 85 ? "=" : glue[size_t(pick(rng)) % glue.size()];
    text += values[size_t(pick(rng)) % values.size()];
    if (pick(rng) < 90)
      text += ",";
    else
      text += glue[size_t(pick(rng)) % glue.size()];
  }
  // Now and then raw printable noise.
  if (pick(rng) < 10) {
    std::uniform_int_distribution<int> printable(32, 126);
    for (int i = count(rng) * 3; i > 0; --i)
      text += char(printable(rng));
  }
  return text;
}

/// One random edit of `text`: delete, duplicate or overwrite a span, or
/// swap two lines.
std::string mutate(std::string text, std::mt19937 &rng) {
  std::uniform_int_distribution<size_t> at(0, text.size() - 1), span(1, 24);
  std::uniform_int_distribution<int> kind(0, 4);
  size_t from = at(rng), length = std::min(span(rng), text.size() - from);
  switch (kind(rng)) {
  case 0:
    text.erase(from, length);
    break;
  case 1:
    text.insert(at(rng), text.substr(from, length));
    break;
  case 2: {
    static const char pieces[] = "0123456789x%#@[](){}<>,:=- ";
    std::uniform_int_distribution<size_t> piece(0, sizeof(pieces) - 2);
    for (size_t i = 0; i < length; ++i)
      text[from + i] = pieces[piece(rng)];
    break;
  }
  case 3: {
    // Swap two lines: uses before definitions, ops out of their blocks.
    std::vector<std::string> lines;
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
    if (lines.size() > 2) {
      std::uniform_int_distribution<size_t> line(0, lines.size() - 1);
      std::swap(lines[line(rng)], lines[line(rng)]);
    }
    text.clear();
    for (const std::string &line : lines)
      text += line + "\n";
    break;
  }
  default:
    // A number changed: shapes, attributes, constants.
    for (size_t i = from; i < text.size(); ++i)
      if (text[i] >= '0' && text[i] <= '9') {
        static const char *numbers[] = {"0", "1", "3", "7", "17", "65536", "4294967296", "-1"};
        text.replace(i, 1, numbers[i % 8]);
        break;
      }
  }
  return text;
}
} // namespace

TEST_CASE("fuzz: config strings for every template give a config or a message",
          "[capi][fuzz]") {
  std::mt19937 rng(20261130);
  const std::vector<std::string> names = templateNames();
  REQUIRE(names.size() >= 5);
  int accepted = 0, refused = 0;
  for (int i = 0; i < iterations(400); ++i) {
    const std::string &name = names[size_t(i) % names.size()];
    const std::string config = randomConfig(rng);
    Text out;
    turbo_status status =
        turbo_compile_template(name.c_str(), nullptr, config.c_str(), "turbo", &out.text);
    requireCleanOutcome(status, out, name + " '" + config + "'");
    if (status == TURBO_STATUS_OK)
      ++accepted;
    else
      ++refused;
  }
  // Both outcomes occur, or the generator is not exercising the parser.
  REQUIRE(accepted > 0);
  REQUIRE(refused > 0);
}

namespace {
/// Mutants of `seedTemplate`'s turbo IR through the pipeline to `stage`.
void fuzzMutatedIr(const char *seedTemplate, const char *config, const char *stage, int runs,
                   uint32_t seed) {
  Text seedText;
  REQUIRE(turbo_compile_template(seedTemplate, nullptr, config, "turbo", &seedText.text) ==
          TURBO_STATUS_OK);
  const std::string valid = seedText.text;
  {
    Text out;
    REQUIRE(turbo_compile_mlir(valid.c_str(), stage, &out.text) == TURBO_STATUS_OK);
  }
  std::mt19937 rng(seed);
  int compiled = 0;
  for (int i = 0; i < runs; ++i) {
    std::string text = valid;
    std::uniform_int_distribution<int> edits(1, 3);
    for (int e = edits(rng); e > 0 && !text.empty(); --e)
      text = mutate(text, rng);
    Text out;
    turbo_status status = turbo_compile_mlir(text.c_str(), stage, &out.text);
    requireCleanOutcome(status, out, text);
    compiled += status == TURBO_STATUS_OK;
  }
  // Most mutants break the IR; some (a changed constant) still compile, so
  // the pipeline past the parser is reached too.
  REQUIRE(compiled > 0);
}
} // namespace

TEST_CASE("fuzz: mutated turbo IR compiles or is refused with a message", "[capi][fuzz]") {
  // The row quantizer down to PTX (small: every mutant through LLVM), and
  // the prefill kernel (dots, SAS, reductions, the loop) through the tile
  // passes to NVVM.
  fuzzMutatedIr("quantize_rows", "block_rows=16,cols=64", "ptx", iterations(150), 7);
  // About 1 in 70 prefill mutants compiles (2 of 150 on 2026-11-30): 200
  // runs keep the check that some reach the passes from depending on luck.
  fuzzMutatedIr("attention_prefill", "head_dim=64", "nvvm", iterations(200), 8);
}
