//===- TuningDatabase.cpp - tuned configurations, kept across runs --------===//
#include "TuningDatabase.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace turbo::runtime {
namespace {
constexpr const char *kFormat = "turbo-tuning";
constexpr int64_t kVersion = 1;

Status damaged(const std::string &what) {
  return Status{StatusCode::Cache, "tuning database: " + what};
}

/// The bucket's values by name ("batch=16,context=8192").
std::vector<std::pair<std::string, double>> dimsOf(const std::string &bucket) {
  std::vector<std::pair<std::string, double>> dims;
  size_t at = 0;
  while (at < bucket.size()) {
    size_t comma = bucket.find(',', at);
    if (comma == std::string::npos)
      comma = bucket.size();
    const std::string item = bucket.substr(at, comma - at);
    const size_t equals = item.find('=');
    if (equals != std::string::npos)
      dims.push_back(
          {item.substr(0, equals), std::atof(item.c_str() + equals + 1)});
    at = comma + 1;
  }
  return dims;
}

/// Sum of |log2| distances of two buckets of the same names; infinity
/// otherwise.
double bucketDistance(const std::string &a, const std::string &b) {
  const auto x = dimsOf(a), y = dimsOf(b);
  if (x.size() != y.size())
    return std::numeric_limits<double>::infinity();
  double distance = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].first != y[i].first || !(x[i].second > 0) || !(y[i].second > 0))
      return std::numeric_limits<double>::infinity();
    distance += std::fabs(std::log2(x[i].second) - std::log2(y[i].second));
  }
  return distance;
}
} // namespace

bool TuningKey::operator==(const TuningKey &other) const {
  return sameExceptShape(other) && shape == other.shape;
}

bool TuningKey::sameExceptShape(const TuningKey &other) const {
  return templateName == other.templateName && head == other.head &&
         gpu == other.gpu && target == other.target && codegen == other.codegen;
}

std::string
shapeBucket(const std::vector<std::pair<std::string, int64_t>> &dims) {
  std::string out;
  for (const auto &[name, value] : dims) {
    const int64_t rounded =
        value < 1
            ? 1
            : int64_t(1) << int64_t(std::lround(std::log2(double(value))));
    out += (out.empty() ? "" : ",") + name + "=" + std::to_string(rounded);
  }
  return out;
}

std::string headKey(std::string_view templateName, const HeadConfig &head) {
  std::string key = fmt::format("q_heads={},kv_heads={},head_dim={},dtype={},causal={}",
                                head.qHeads, head.kvHeads, head.headDim,
                                dtypeName(head.dtype), head.causal ? 1 : 0);
  if (templateName != "attention_prefill")
    key += fmt::format(",kv_bits={}", kvBitsName(head.kvBits));
  return key;
}

std::string decodeShapeBucket(int64_t batch, int64_t context) {
  return shapeBucket({{"batch", batch}, {"context", context}});
}

std::string prefillShapeBucket(int64_t seqLen) {
  return shapeBucket({{"seq", seqLen}});
}

std::string TuningDatabase::defaultPath() {
  if (const char *path = std::getenv("TURBO_TUNING_DB"); path && *path)
    return path;
  if (const char *dir = std::getenv("TURBO_CACHE_DIR"); dir && *dir)
    return std::string(dir) + "/tuning.json";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/turbo/tuning.json";
  return "";
}

Result<TuningDatabase> TuningDatabase::parse(const std::string &text) {
  llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
  if (!value)
    return damaged("not JSON (" + llvm::toString(value.takeError()) + ")");
  const llvm::json::Object *root = value->getAsObject();
  if (!root ||
      root->getString("format") != std::optional<llvm::StringRef>(kFormat))
    return damaged(fmt::format(
        "not a turbo tuning database (no \"format\": \"{}\")", kFormat));
  if (root->getInteger("version") != std::optional<int64_t>(kVersion))
    return damaged(
        fmt::format("version {} is not the one this turbo reads ({})",
                    root->getInteger("version").value_or(-1), kVersion));
  const llvm::json::Array *records = root->getArray("records");
  if (!records)
    return damaged("no \"records\" array");
  TuningDatabase db;
  for (size_t i = 0; i < records->size(); ++i) {
    const llvm::json::Object *r = (*records)[i].getAsObject();
    auto text = [&](const char *name) -> std::optional<std::string> {
      if (!r)
        return std::nullopt;
      if (auto s = r->getString(name))
        return s->str();
      return std::nullopt;
    };
    auto number = [&](const char *name) -> std::optional<double> {
      return r ? r->getNumber(name) : std::nullopt;
    };
    TuningRecord record;
    std::optional<std::string> fields[] = {
        text("template"), text("head"),    text("shape"),  text("gpu"),
        text("target"),   text("codegen"), text("config"), text("date")};
    const std::optional<double> us = number("us");
    bool complete = us && *us > 0 && std::isfinite(*us);
    for (const auto &field : fields)
      complete = complete && field.has_value();
    if (!complete)
      return damaged(
          fmt::format("record {} lacks a field or has a bad time", i));
    record.key = {*fields[0], *fields[1], *fields[2],
                  *fields[3], *fields[4], *fields[5]};
    record.config = *fields[6];
    record.date = *fields[7];
    record.microseconds = *us;
    record.defaultMicroseconds = number("default_us").value_or(0.0);
    record.relativeError = number("rel_err").value_or(0.0);
    record.maxRelativeError = number("max_rel_err").value_or(0.0);
    db.add(record);
  }
  return db;
}

std::string TuningDatabase::serialize() const {
  llvm::json::Array records;
  for (const TuningRecord &r : records_)
    records.push_back(llvm::json::Object{{"template", r.key.templateName},
                                         {"head", r.key.head},
                                         {"shape", r.key.shape},
                                         {"gpu", r.key.gpu},
                                         {"target", r.key.target},
                                         {"codegen", r.key.codegen},
                                         {"config", r.config},
                                         {"us", r.microseconds},
                                         {"default_us", r.defaultMicroseconds},
                                         {"rel_err", r.relativeError},
                                         {"max_rel_err", r.maxRelativeError},
                                         {"date", r.date}});
  llvm::json::Value root = llvm::json::Object{{"format", kFormat},
                                              {"version", kVersion},
                                              {"records", std::move(records)}};
  std::string out;
  llvm::raw_string_ostream stream(out);
  stream << llvm::formatv("{0:1}", root) << "\n";
  return out;
}

Result<TuningDatabase> TuningDatabase::load(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    if (buffer.getError() == std::errc::no_such_file_or_directory)
      return TuningDatabase{};
    return damaged(path + ": " + buffer.getError().message());
  }
  Result<TuningDatabase> db = parse((*buffer)->getBuffer().str());
  if (!db)
    return Status{db.status().code(),
                  db.status().message() + " (" + path + ")"};
  return db;
}

void TuningDatabase::add(const TuningRecord &record) {
  for (TuningRecord &existing : records_)
    if (existing.key == record.key) {
      // The stricter budget of the two (0: none given).
      double budget = std::numeric_limits<double>::infinity();
      for (double b : {existing.maxRelativeError, record.maxRelativeError})
        if (b > 0)
          budget = std::min(budget, b);
      const bool newFits = record.relativeError <= budget;
      const bool oldFits = existing.relativeError <= budget;
      if (newFits != oldFits ? newFits
                             : !oldFits || record.microseconds < existing.microseconds)
        existing = record;
      return;
    }
  records_.push_back(record);
}

void TuningDatabase::merge(const TuningDatabase &other) {
  for (const TuningRecord &record : other.records_)
    add(record);
}

Status TuningDatabase::save(const std::string &path, TuningDatabase *written) const {
  // Never over a file we cannot read: it may be someone's damaged data.
  Result<TuningDatabase> onDisk = load(path);
  if (!onDisk)
    return Status{onDisk.status().code(),
                  onDisk.status().message() +
                      "; not overwritten: move it away or repair it"};
  TuningDatabase merged = std::move(*onDisk);
  merged.merge(*this);
  const std::string text = merged.serialize();
  if (llvm::Error error =
          llvm::writeToOutput(path, [&](llvm::raw_ostream &out) {
            out << text;
            return llvm::Error::success();
          }))
    return Status{StatusCode::Cache, "tuning database: cannot write " + path +
                                         ": " +
                                         llvm::toString(std::move(error))};
  if (written)
    *written = std::move(merged);
  return Status::ok();
}

std::optional<TuningDatabase::Match>
TuningDatabase::lookup(const TuningKey &key) const {
  const TuningRecord *nearest = nullptr;
  double best = std::numeric_limits<double>::infinity();
  for (const TuningRecord &record : records_) {
    if (record.key == key)
      return Match{&record, true};
    if (!record.key.sameExceptShape(key))
      continue;
    const double distance = bucketDistance(record.key.shape, key.shape);
    if (distance < best) {
      best = distance;
      nearest = &record;
    }
  }
  if (!nearest)
    return std::nullopt;
  return Match{nearest, false};
}

} // namespace turbo::runtime
