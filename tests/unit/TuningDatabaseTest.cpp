//===- TuningDatabaseTest.cpp - tuned configurations across runs ----------===//
#include "TuningDatabase.h"
#include "ParetoChart.h"
#include "TrialSelection.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
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

TEST_CASE("tuning database: a head's key names what the template reads", "[tuning]") {
  turbo::HeadConfig head;
  head.causal = true;
  head.kvBits = turbo::KvBits::B4;
  CHECK(headKey("attention_decode", head) ==
        "q_heads=32,kv_heads=8,head_dim=128,dtype=f16,causal=1,kv_bits=4");
  // Prefill does not read the cache: heads of any width share its records.
  CHECK(headKey("attention_prefill", head) ==
        "q_heads=32,kv_heads=8,head_dim=128,dtype=f16,causal=1");
  turbo::HeadConfig mixed = head;
  mixed.kvBits = turbo::KvBits::Mixed;
  CHECK(headKey("attention_prefill", mixed) == headKey("attention_prefill", head));
  CHECK(headKey("attention_decode", mixed) != headKey("attention_decode", head));
  turbo::HeadConfig wider = head;
  wider.headDim = 64;
  CHECK(headKey("attention_prefill", wider) != headKey("attention_prefill", head));
}

TEST_CASE("tuning database: a round trip keeps every field", "[tuning]") {
  TuningDatabase db;
  TuningRecord first = record("batch=16,context=8192", "num_warps=4,prefetch=2", 128.5);
  first.maxRelativeError = 2e-2;
  db.add(first);
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
  CHECK(r.maxRelativeError == 2e-2);
  CHECK(back->records()[1].maxRelativeError == 0);
  CHECK(r.date == "2026-12-06");
}

TEST_CASE("tuning database: a record chosen under a tighter budget replaces a faster, less "
          "accurate one",
          "[tuning]") {
  auto made = [](const char *config, double us, double error, double budget) {
    TuningRecord r = record("seq=4096", config, us);
    r.relativeError = error;
    r.maxRelativeError = budget;
    return r;
  };
  TuningDatabase db;
  db.add(made("pv=0", 2100.0, 1e-1, 2e-1)); // a loose run picked INT8 P.V
  db.add(made("pv=2", 2200.0, 1.3e-2, 2e-2)); // a run at 2e-2: slower, but the only fit
  REQUIRE(db.records().size() == 1);
  CHECK(db.records()[0].config == "pv=2");
  db.add(made("pv=0", 2100.0, 1e-1, 2e-1)); // the loose record again: over 2e-2, stays out
  CHECK(db.records()[0].config == "pv=2");
  db.add(made("pv=1", 2150.0, 9e-3, 2e-2)); // both within 2e-2: the faster
  CHECK(db.records()[0].config == "pv=1");
  db.add(made("pv=2", 2300.0, 1.3e-2, 1e-2)); // over 1e-2, where pv=1 (9e-3) is within
  CHECK(db.records()[0].config == "pv=1");
  db.add(made("block_n=64", 2400.0, 6e-3, 5e-3)); // neither within 5e-3: the one added last
  CHECK(db.records()[0].config == "block_n=64");
  // Records without budgets (older files, decode) keep the faster.
  TuningDatabase plain;
  plain.add(made("a", 10.0, 0, 0));
  plain.add(made("b", 12.0, 0, 0));
  CHECK(plain.records()[0].config == "a");
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
  TuningDatabase written;
  REQUIRE(second.save(path, &written).isOk());
  auto both = TuningDatabase::load(path);
  REQUIRE(both);
  CHECK(both->records().size() == 2);
  CHECK(written.serialize() == both->serialize()); // what save says it wrote is the file

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

TEST_CASE("Pareto chart: a dot per verified trial, placed by time and error, with the "
          "budget and the marks",
          "[tuning]") {
  std::vector<Trial> trials = {
      {"a<1>", true, true, 100.0, 1e-3, ""},
      {"b", true, true, 80.0, 5e-3, ""},
      {"c", true, true, 60.0, 3e-2, ""},
      {"e", false, false, 0.0, 0.0, "did not compile"},
      {"f", true, false, 10.0, 1e-4, "differs from its reference"},
  };
  ChartMarks marks{"attention_prefill & co", 2e-2, size_t(0), size_t(1)};
  const std::string svg = paretoChartSvg(trials, marks);
  CAPTURE(svg);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  // Text is escaped.
  CHECK(svg.find("attention_prefill &amp; co") != std::string::npos);
  CHECK(svg.find("a&lt;1&gt;") != std::string::npos);
  CHECK(svg.find("a<1>") == std::string::npos);
  // One dot per trial that ran and was verified, found by its tooltip.
  std::map<std::string, std::pair<double, double>> dots;
  std::regex dot(R"re(<circle cx="([0-9.]+)" cy="([0-9.]+)" r="4"[^>]*><title>([^:]+):)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), dot); it != std::sregex_iterator();
       ++it)
    dots[(*it)[3]] = {std::stod((*it)[1]), std::stod((*it)[2])};
  REQUIRE(dots.size() == 3);
  CHECK(dots.count("e") == 0);
  CHECK(dots.count("f") == 0);
  // Faster is further left; a larger error is higher up (smaller y).
  CHECK(dots["c"].first < dots["b"].first);
  CHECK(dots["b"].first < dots["a&lt;1&gt;"].first);
  CHECK(dots["c"].second < dots["b"].second);
  CHECK(dots["b"].second < dots["a&lt;1&gt;"].second);
  // The budget line lies between b's and c's errors.
  std::smatch budget;
  REQUIRE(std::regex_search(svg, budget, std::regex(R"re(y1="([0-9.]+)"[^>]*stroke="#c00")re")));
  const double budgetY = std::stod(budget[1]);
  CHECK(budgetY > dots["c"].second);
  CHECK(budgetY < dots["b"].second);
  CHECK(svg.find(">defaults<") != std::string::npos);
  CHECK(svg.find(">tuned<") != std::string::npos);
  CHECK(svg.find("<polyline") != std::string::npos); // the front: a, b, c

  // Nothing measured: still a well-formed chart, no dots.
  const std::string empty = paretoChartSvg({trials[3]}, ChartMarks{"none", 0, {}, {}});
  CHECK(empty.find("<circle") == std::string::npos);
  CHECK(empty.find("</svg>") != std::string::npos);
}
