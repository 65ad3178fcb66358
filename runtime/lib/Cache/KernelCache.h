//===- KernelCache.h - compiled kernels in memory and on disk ---*- C++ -*-===//
//
// A compiled kernel is found by the SHA-256 of its key text (template,
// canonical config, target, turbo and LLVM versions). In memory, concurrent
// requests for one key compile once and the others wait for that result.
// On disk ($TURBO_CACHE_DIR, default ~/.cache/turbo, created private to the
// user) each entry is written to a temporary file and renamed into place, so
// no reader sees a partial entry; every read is checked against the SHA-256
// of its payload and its key, and an entry that fails is reported once,
// rebuilt and never loaded.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_RUNTIME_KERNELCACHE_H
#define TURBO_RUNTIME_KERNELCACHE_H

#include "turbo/Support/KernelBinary.h"
#include "turbo/Support/Status.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace turbo::runtime {

/// SHA-256 of `data`, 64 lowercase hex digits.
std::string sha256Hex(const std::string &data);

/// The key text of a compiled kernel; each field on its own line.
std::string cacheKeyText(const std::string &kernel, const std::string &config,
                         const std::string &target, const std::string &turboVersion,
                         const std::string &llvmVersion);

/// An entry's bytes on disk, and back (Internal status if malformed,
/// Cache status if its digest or key do not match).
std::string serializeEntry(const std::string &keyText, const CompiledKernel &kernel);
Result<CompiledKernel> parseEntry(const std::string &bytes, const std::string &keyText);

/// The largest cache entry read (PTX and cubin of one kernel are far smaller).
inline constexpr long long kMaxEntryBytes = 64ll << 20;

/// The disk cache's default size cap: a prefill kernel's entry (PTX and
/// cubin) is a few hundred KB, so about a thousand kernels.
inline constexpr uint64_t kDefaultCacheBytes = 1ull << 30;
/// An entry's file is <directory>/<SHA-256 of the key, hex><kEntrySuffix>;
/// it is written to <entry>kTemporarySuffix (mkstemps fills the X's) and
/// renamed into place. The disk cache touches no other names.
inline constexpr std::string_view kEntrySuffix = ".turbo";
inline constexpr std::string_view kTemporarySuffix = ".XXXXXX.tmp";
/// A temporary file older than this was left by a writer that died.
inline constexpr int kStaleTemporarySeconds = 3600;

struct CacheOptions {
  std::string directory; ///< empty: no disk cache
  bool rebuild = false;  ///< ignore what is on disk (and overwrite it)
  /// After a write, the least recently used entries are removed until the
  /// entries take at most this many bytes (0: no cap).
  uint64_t maxBytes = kDefaultCacheBytes;
  /// $TURBO_CACHE_DIR (default ~/.cache/turbo), $TURBO_CACHE_DISABLE=1 (no
  /// disk), $TURBO_CACHE_REBUILD=1, $TURBO_CACHE_MAX_BYTES (a count of
  /// bytes with an optional K, M or G; 0: no cap).
  static CacheOptions fromEnvironment();
};

/// "123", "64K", "512M", "2G" as bytes (binary units); nullopt for anything
/// else or a count past 2^63.
std::optional<uint64_t> parseByteCount(const std::string &text);

struct CacheStats {
  std::atomic<int> compiles{0}, memoryHits{0}, diskHits{0}, diskRejects{0}, diskWrites{0},
      diskEvictions{0}, staleTemporaries{0};
};

class KernelCache {
public:
  using Compile = std::function<Result<CompiledKernel>()>;
  using Kernel = std::shared_ptr<const CompiledKernel>;

  explicit KernelCache(CacheOptions options);

  /// The process-wide cache, configured from the environment on first use.
  static KernelCache &global();

  /// The kernel for `keyText`: from memory, else from disk, else compiled by
  /// `compile` (once, however many threads ask) and written to disk.
  Result<Kernel> get(const std::string &keyText, const Compile &compile);

  const CacheOptions &options() const { return options_; }
  const CacheStats &stats() const { return stats_; }
  /// Where the entry for `keyText` lives on disk ("" without a disk cache).
  std::string entryPath(const std::string &keyText) const;

private:
  Result<Kernel> load(const std::string &keyText, const Compile &compile);
  Status ensureDirectory();
  /// Removes stale temporaries, then the least recently used entries (by
  /// modification time, which a read renews) past the cap, never `kept`.
  /// Only this cache's own names are touched, and only regular files of
  /// this user's.
  void trim(const std::string &keptName);
  void report(const std::string &path, const std::string &why);

  CacheOptions options_;
  CacheStats stats_;
  std::mutex mutex_;
  std::mutex trimMutex_; ///< one scan of the directory at a time
  std::unordered_map<std::string, std::shared_future<Result<Kernel>>> entries_;
  std::unordered_set<std::string> reported_;
  bool directoryReady_ = false;
};

} // namespace turbo::runtime

#endif // TURBO_RUNTIME_KERNELCACHE_H
