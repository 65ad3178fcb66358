//===- FuzzTuningDatabase.cpp - libFuzzer target: tuning databases --------===//
//
// The tuning database is a file anyone may edit or damage. parse must
// return records or a status; what it accepts must survive a round trip
// through serialize with the same records, and lookups over it must work.
//
//===----------------------------------------------------------------------===//
#include "TuningDatabase.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace turbo::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  auto db = TuningDatabase::parse(text);
  if (!db)
    return 0;
  auto again = TuningDatabase::parse(db->serialize());
  if (!again || again->records().size() != db->records().size())
    std::abort();
  for (const TuningRecord &record : db->records()) {
    TuningKey key = record.key;
    if (!db->lookup(key) || !db->lookup(key)->exact)
      std::abort();
    key.shape = "batch=3,context=5000";
    (void)db->lookup(key);
  }
  return 0;
}
