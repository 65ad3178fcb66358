//===- TuningDatabase.h - tuned configurations, kept across runs -*- C++
//-*-===//
//
// turbo-tune writes what it measured here; plan creation reads it. A JSON
// file (TURBO_TUNING_DB, default tuning.json beside the kernel cache):
//
//   {"format": "turbo-tuning", "version": 1, "records": [{"template": ...,
//    "head": ..., "shape": ..., "gpu": ..., "target": ..., "codegen": ...,
//    "config": ..., "us": ..., "default_us": ..., "rel_err": ..., "max_rel_err": ..., "date":
//    ...}]}
//
// A record is keyed by template, head, shape bucket, GPU name, target and
// the code generator's identity (a new compiler does not inherit old
// timings); clocks are not part of the key. Shapes are bucketed by powers
// of two, so a lookup for a shape that was not tuned takes the nearest
// bucket of the same key. Records merge: for one key, the faster stays.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_TUNINGDATABASE_H
#define TURBO_RUNTIME_TUNINGDATABASE_H

#include "turbo/Support/HeadConfig.h"
#include "turbo/Support/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbo::runtime {

struct TuningKey {
  std::string templateName; ///< "attention_decode"
  std::string head;    ///< the head: "q_heads=32,kv_heads=8,head_dim=128,..."
  std::string shape;   ///< a bucket from shapeBucket(): "batch=16,context=8192"
  std::string gpu;     ///< the device's name
  std::string target;  ///< "sm_90a"
  std::string codegen; ///< the code generator's identity
  bool operator==(const TuningKey &other) const;
  /// All but the shape equal.
  bool sameExceptShape(const TuningKey &other) const;
};

struct TuningRecord {
  TuningKey key;
  std::string config;      ///< the tuned parameters: "num_warps=4,prefetch=2"
  double microseconds = 0; ///< median time of the tuned config
  double defaultMicroseconds =
      0; ///< the defaults' median in the same run (0: not measured)
  double relativeError = 0; ///< against the float64 reference (0: not measured)
  double maxRelativeError = 0; ///< the budget it was chosen under (0: none given)
  std::string date;         ///< when it was measured (ISO 8601)
};

/// A head's part of a template's key: "q_heads=32,kv_heads=8,head_dim=128,
/// dtype=f16,causal=0,kv_bits=mixed" (the target is a field of its own).
/// attention_prefill does not read the cache: its key leaves kv_bits out,
/// so one prefill record serves heads of every cache width.
std::string headKey(std::string_view templateName, const HeadConfig &head);
/// The shape buckets of the templates turbo-tune measures.
std::string decodeShapeBucket(int64_t batch, int64_t context);
std::string prefillShapeBucket(int64_t seqLen);

/// "name=value,..." with each value rounded to the nearest power of two
/// (in log scale), in the given order.
std::string
shapeBucket(const std::vector<std::pair<std::string, int64_t>> &dims);

class TuningDatabase {
public:
  /// $TURBO_TUNING_DB, else tuning.json in $TURBO_CACHE_DIR, else in
  /// ~/.cache/turbo; empty when none of these is set.
  static std::string defaultPath();

  /// The records of `path`; none when the file does not exist. A file that
  /// is not a tuning database (damaged, another format or version, a bad
  /// record) is an error that says where; callers warn and go on without it.
  static Result<TuningDatabase> load(const std::string &path);
  static Result<TuningDatabase> parse(const std::string &text);
  std::string serialize() const;

  /// Adds `record`. Of two records of the same key, the faster stays if
  /// both are within the stricter of their budgets (maxRelativeError); if
  /// only one is, that one; if neither, the one added last. So a run with a
  /// tighter budget replaces a faster, less accurate record.
  void add(const TuningRecord &record);
  void merge(const TuningDatabase &other);

  /// Merges into what `path` holds now and writes the result atomically (a
  /// temporary file renamed over it); refuses to replace a damaged file.
  /// `written` (if given) receives what the file now holds.
  Status save(const std::string &path, TuningDatabase *written = nullptr) const;

  struct Match {
    const TuningRecord *record = nullptr;
    bool exact = false; ///< false: the nearest shape bucket of the same key
  };
  std::optional<Match> lookup(const TuningKey &key) const;

  const std::vector<TuningRecord> &records() const { return records_; }

private:
  std::vector<TuningRecord> records_;
};

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_TUNINGDATABASE_H
