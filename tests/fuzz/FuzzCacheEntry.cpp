//===- FuzzCacheEntry.cpp - libFuzzer target: disk cache entries -----------===//
//
// A cache entry is a file anyone who can write the directory could have
// made. The first byte picks how the rest is read: as the whole entry, or
// as the payload after a valid digest and key line (a random digest or key
// almost never matches, and the fields after them would go untested).
// parseEntry must return a kernel or a status, and never read past the
// bytes.
//
//===----------------------------------------------------------------------===//
#include "KernelCache.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace turbo;
using namespace turbo::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  static const std::string keyText =
      cacheKeyText("attention_prefill", "head_dim=128", "sm_90a", "fuzz", "22");
  // The entry's header as the writer makes it: everything before the digest.
  static const std::string magic = [] {
    std::string entry = serializeEntry(keyText, CompiledKernel{});
    return entry.substr(0, entry.find("sha256 "));
  }();
  std::string rest(reinterpret_cast<const char *>(data) + 1, size - 1);
  std::string entry;
  if (data[0] & 1) {
    entry = rest;
  } else {
    std::string payload = "key " + sha256Hex(keyText) + "\n" + rest;
    entry = magic + "sha256 " + sha256Hex(payload) + "\n" + payload;
  }
  Result<CompiledKernel> kernel = parseEntry(entry, keyText);
  if (kernel.isOk() && kernel->ptx.size() + kernel->cubin.size() > entry.size())
    __builtin_trap(); // more bytes than the entry held
  return 0;
}
