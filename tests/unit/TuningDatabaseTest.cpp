//===- TuningDatabaseTest.cpp - tuned configurations across runs ----------===//
#include "TuningDatabase.h"
#include "TrialSelection.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace turbo::runtime;

namespace {
TuningRecord record(std::string shape, std::string config, double us) {
  TuningRecord r;
  r.key = {"attention_decode",
           "q_heads=32,kv_heads=8,head_dim=128,dtype=f16,kv_bits=mixed",
           std::move(shape),
           "NVIDIA H100 80GB HBM3",
           "sm_90a",
           "abc123"};
  r.config = std::move(config);
  r.microseconds = us;
  r.defaultMicroseconds = 2 * us;
  r.relativeError = 1e-3;
  r.date = "2026-12-06";
  return r;
}

std::string temporaryPath() {
  char name[] = "/tmp/turbo-tuning-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  std::remove(name);
  return name;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
} // namespace

TEST_CASE("tuning database: shapes fall in power-of-two buckets", "[tuning]") {
  // log2 12 = 3.58 -> 16; log2 5000 = 12.29 -> 4096; log2 3 = 1.58 -> 4.
  CHECK(shapeBucket({{"batch", 12}, {"context", 5000}}) ==
        "batch=16,context=4096");
  CHECK(shapeBucket({{"batch", 1}, {"context", 32768}}) ==
        "batch=1,context=32768");
  CHECK(shapeBucket({{"seq", 3}}) == "seq=4");
  // log2 6000 = 12.55 -> 8192; log2 5000 = 12.29 -> 4096.
  CHECK(decodeShapeBucket(12, 6000) == "batch=16,context=8192");
  CHECK(decodeShapeBucket(12, 5000) == "batch=16,context=4096");
  CHECK(prefillShapeBucket(16384) == "seq=16384");
  CHECK(shapeBucket({{"seq", 0}}) == "seq=1");
}

TEST_CASE("tuning database: a round trip keeps every field", "[tuning]") {
  TuningDatabase db;
  db.add(record("batch=16,context=8192", "num_warps=4,prefetch=2", 128.5));
  db.add(record("batch=1,context=4096", "num_warps=8,prefetch=1", 30.25));
  auto back = TuningDatabase::parse(db.serialize());
  REQUIRE(back);
  REQUIRE(back->records().size() == 2);
  const TuningRecord &r = back->records()[0];
  CHECK(r.key == db.records()[0].key);
  CHECK(r.config == "num_warps=4,prefetch=2");
  CHECK(r.microseconds == 128.5);
  CHECK(r.defaultMicroseconds == 257.0);
  CHECK(r.relativeError == 1e-3);
  CHECK(r.date == "2026-12-06");
}

TEST_CASE("tuning database: merging keeps the faster record of a key",
          "[tuning]") {
  TuningDatabase a, b;
  a.add(record("batch=16,context=8192", "prefetch=1", 150.0));
  b.add(record("batch=16,context=8192", "prefetch=2", 128.0));
  b.add(record("batch=64,context=4096", "prefetch=2", 212.0));
  a.merge(b);
  REQUIRE(a.records().size() == 2);
  CHECK(a.records()[0].config == "prefetch=2");
  a.add(
      record("batch=16,context=8192", "prefetch=0", 182.0)); // slower: ignored
  CHECK(a.records()[0].config == "prefetch=2");
}

TEST_CASE("tuning database: lookup takes the exact bucket, else the nearest",
          "[tuning]") {
  TuningDatabase db;
  db.add(record("batch=16,context=8192", "a", 1.0));
  db.add(record("batch=1,context=32768", "b", 1.0));
  TuningKey key = record("batch=16,context=8192", "", 1.0).key;
  auto exact = db.lookup(key);
  REQUIRE(exact);
  CHECK(exact->exact);
  CHECK(exact->record->config == "a");
  key.shape = "batch=2,context=32768"; // one step from b, eight from a
  auto near = db.lookup(key);
  REQUIRE(near);
  CHECK_FALSE(near->exact);
  CHECK(near->record->config == "b");
  key.gpu = "NVIDIA H200";
  CHECK_FALSE(db.lookup(key));
  key = record("seq=4096", "", 1.0).key; // other dimensions: no match
  CHECK_FALSE(db.lookup(key));
}

TEST_CASE("tuning database: damaged files are refused with the reason, never "
          "overwritten",
          "[tuning]") {
  CHECK(TuningDatabase::parse("{").status().message().find("not JSON") !=
        std::string::npos);
  CHECK(TuningDatabase::parse(
            R"({"format": "other", "version": 1, "records": []})")
            .status()
            .message()
            .find("not a turbo tuning database") != std::string::npos);
  CHECK(TuningDatabase::parse(
            R"({"format": "turbo-tuning", "version": 7, "records": []})")
            .status()
            .message()
            .find("version 7") != std::string::npos);
  CHECK(
      TuningDatabase::parse(
          R"({"format": "turbo-tuning", "version": 1, "records": [{"template": "x"}]})")
          .status()
          .message()
          .find("record 0") != std::string::npos);
  CHECK(TuningDatabase::parse(
      R"({"format": "turbo-tuning", "version": 1, "records": []})"));

  const std::string path = temporaryPath();
  auto missing = TuningDatabase::load(path);
  REQUIRE(missing);
  CHECK(missing->records().empty());
  TuningDatabase first;
  first.add(record("batch=1,context=4096", "prefetch=2", 30.0));
  REQUIRE(first.save(path).isOk());
  TuningDatabase second; // another process's run: merged on save
  second.add(record("batch=64,context=4096", "prefetch=1", 200.0));
  REQUIRE(second.save(path).isOk());
  auto both = TuningDatabase::load(path);
  REQUIRE(both);
  CHECK(both->records().size() == 2);

  { std::ofstream(path) << "{\"format\": \"turbo-tuning\", \"vers"; }
  auto damaged = TuningDatabase::load(path);
  REQUIRE_FALSE(damaged);
  CHECK(damaged.status().message().find(path) != std::string::npos);
  CHECK_FALSE(first.save(path).isOk());
  CHECK(readFile(path) == "{\"format\": \"turbo-tuning\", \"vers");
  std::remove(path.c_str());
}

TEST_CASE(
    "trial selection: the fastest within the budget, and the Pareto front",
    "[tuning]") {
  // Synthetic measurements: time falls as error grows, with a few that
  // failed, were not verified, or are beaten in both.
  std::vector<Trial> trials = {
      {"a", true, true, 100.0, 1e-3, ""},
      {"b", true, true, 80.0, 5e-3, ""},
      {"c", true, true, 60.0, 3e-2, ""},
      {"d", true, true, 90.0, 6e-3, ""}, // beaten by b
      {"e", false, false, 0.0, 0.0, "ptxas: too much shared memory"},
      {"f", true, false, 10.0, 1e-4, "differs from its reference"},
      {"g", true, true, 60.0, 3e-2, ""}, // ties c: neither beats the other
  };
  REQUIRE(fastestEligible(trials, 2e-2) == std::optional<size_t>(1));
  REQUIRE(fastestEligible(trials, 1e-1) == std::optional<size_t>(2));
  REQUIRE(fastestEligible(trials, 2e-3) == std::optional<size_t>(0));
  REQUIRE_FALSE(fastestEligible(trials, 1e-4));
  CHECK(paretoFront(trials) == std::vector<size_t>{2, 6, 1, 0});
}
