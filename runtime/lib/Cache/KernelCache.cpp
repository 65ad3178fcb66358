//===- KernelCache.cpp - compiled kernels in memory and on disk -----------===//
#include "KernelCache.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SHA256.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace turbo::runtime {

namespace {
constexpr const char *kMagic = "TURBOCACHE 3\n";

bool envFlag(const char *name) {
  const char *value = std::getenv(name);
  return value && *value && std::string(value) != "0";
}

Status cacheError(std::string message) { return {StatusCode::Cache, std::move(message)}; }
} // namespace

std::string sha256Hex(const std::string &data) {
  auto digest = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(data.data()), data.size()));
  std::string hex;
  for (uint8_t byte : digest)
    hex += fmt::format("{:02x}", byte);
  return hex;
}

std::string cacheKeyText(const std::string &kernel, const std::string &config,
                         const std::string &target, const std::string &turboVersion,
                         const std::string &llvmVersion) {
  return fmt::format("kernel={}\nconfig={}\ntarget={}\nturbo={}\nllvm={}\n", kernel, config,
                     target, turboVersion, llvmVersion);
}

std::string serializeEntry(const std::string &keyText, const CompiledKernel &kernel) {
  std::string params;
  for (ParamKind kind : kernel.info.params)
    params += (params.empty() ? "" : ",") + std::string(paramKindName(kind));
  std::string payload = fmt::format(
      "key {}\nname {}\ntarget {}\nthreads {}\nshared {}\nprogrammatic {}\nparams {}\nptx "
      "{}\n{}cubin {}\n{}",
      sha256Hex(keyText), kernel.info.name, kernel.info.target, kernel.info.numThreads,
      kernel.info.sharedBytes, kernel.info.programmaticLaunch ? 1 : 0, params,
      kernel.ptx.size(), kernel.ptx, kernel.cubin.size(), kernel.cubin);
  return fmt::format("{}sha256 {}\n{}", kMagic, sha256Hex(payload), payload);
}

Result<CompiledKernel> parseEntry(const std::string &bytes, const std::string &keyText) {
  size_t magic = std::strlen(kMagic);
  if (bytes.compare(0, magic, kMagic) != 0)
    return cacheError("not a turbo cache entry");
  size_t digestEnd = bytes.find('\n', magic);
  if (digestEnd == std::string::npos || bytes.compare(magic, 7, "sha256 ") != 0)
    return cacheError("no digest line");
  std::string digest = bytes.substr(magic + 7, digestEnd - magic - 7);
  std::string payload = bytes.substr(digestEnd + 1);
  if (sha256Hex(payload) != digest)
    return cacheError("digest mismatch (truncated or modified)");

  std::istringstream in(payload);
  std::string word, key, params;
  CompiledKernel kernel;
  size_t ptxBytes = 0;
  unsigned programmatic = 0;
  if (!(in >> word >> key) || word != "key" || !(in >> word >> kernel.info.name) ||
      word != "name" || !(in >> word >> kernel.info.target) || word != "target" ||
      !(in >> word >> kernel.info.numThreads) || word != "threads" ||
      !(in >> word >> kernel.info.sharedBytes) || word != "shared" ||
      !(in >> word >> programmatic) || word != "programmatic" || programmatic > 1 ||
      !(in >> word) || word != "params")
    return Status(StatusCode::Internal, "malformed cache entry");
  kernel.info.programmaticLaunch = programmatic == 1;
  std::getline(in, params);
  if (!(in >> word >> ptxBytes) || word != "ptx" || in.get() != '\n')
    return Status(StatusCode::Internal, "malformed cache entry");
  if (key != sha256Hex(keyText))
    return cacheError("entry belongs to another key");
  std::istringstream list(params);
  std::string kind;
  while (std::getline(list, kind, ',')) {
    if (!kind.empty() && kind[0] == ' ')
      kind.erase(0, 1);
    if (kind.empty())
      continue;
    if (kind == "pointer")
      kernel.info.params.push_back(ParamKind::Pointer);
    else if (kind == "i32")
      kernel.info.params.push_back(ParamKind::I32);
    else if (kind == "i64")
      kernel.info.params.push_back(ParamKind::I64);
    else if (kind == "f32")
      kernel.info.params.push_back(ParamKind::F32);
    else
      return Status(StatusCode::Internal, "malformed cache entry: parameter " + kind);
  }
  if (ptxBytes > payload.size())
    return Status(StatusCode::Internal, "malformed cache entry: PTX length");
  kernel.ptx.resize(ptxBytes);
  if (!in.read(kernel.ptx.data(), std::streamsize(ptxBytes)))
    return Status(StatusCode::Internal, "malformed cache entry: PTX length");
  size_t cubinBytes = 0;
  if (!(in >> word >> cubinBytes) || word != "cubin" || in.get() != '\n' ||
      cubinBytes > payload.size())
    return Status(StatusCode::Internal, "malformed cache entry: cubin");
  kernel.cubin.resize(cubinBytes);
  if (!in.read(kernel.cubin.data(), std::streamsize(cubinBytes)) || in.peek() != EOF)
    return Status(StatusCode::Internal, "malformed cache entry: cubin length");
  return kernel;
}

std::optional<uint64_t> parseByteCount(const std::string &text) {
  llvm::StringRef digits = llvm::StringRef(text).take_while(llvm::isDigit);
  llvm::StringRef unit = llvm::StringRef(text).drop_front(digits.size());
  uint64_t value = 0;
  // getAsInteger fails on an empty string and on overflow.
  if (digits.getAsInteger(10, value))
    return std::nullopt;
  int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0 || value > (uint64_t(1) << (63 - shift)))
    return std::nullopt;
  return value << shift;
}

CacheOptions CacheOptions::fromEnvironment() {
  CacheOptions options;
  options.rebuild = envFlag("TURBO_CACHE_REBUILD");
  if (const char *cap = std::getenv("TURBO_CACHE_MAX_BYTES"); cap && *cap) {
    if (std::optional<uint64_t> bytes = parseByteCount(cap))
      options.maxBytes = *bytes;
    else
      std::fprintf(stderr,
                   "turbo: TURBO_CACHE_MAX_BYTES=%s is not a byte count (digits with an "
                   "optional K, M or G); the disk cache keeps its default cap of %llu bytes\n",
                   cap, static_cast<unsigned long long>(kDefaultCacheBytes));
  }
  if (envFlag("TURBO_CACHE_DISABLE"))
    return options;
  if (const char *dir = std::getenv("TURBO_CACHE_DIR"); dir && *dir)
    options.directory = dir;
  else if (const char *home = std::getenv("HOME"); home && *home)
    options.directory = std::string(home) + "/.cache/turbo";
  return options;
}

KernelCache::KernelCache(CacheOptions options) : options_(std::move(options)) {}

KernelCache &KernelCache::global() {
  static KernelCache cache(CacheOptions::fromEnvironment());
  return cache;
}

std::string KernelCache::entryPath(const std::string &keyText) const {
  if (options_.directory.empty())
    return "";
  return options_.directory + "/" + sha256Hex(keyText) + std::string(kEntrySuffix);
}

Status KernelCache::ensureDirectory() {
  if (directoryReady_)
    return Status::ok();
  // mkdir -p, each level created private to the user.
  const std::string &dir = options_.directory;
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/')
      continue;
    std::string prefix = dir.substr(0, i);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return cacheError(fmt::format("cannot create cache directory {}: {}", prefix,
                                    std::strerror(errno)));
  }
  // Entries become GPU code: only a directory that this user owns and
  // nobody else may write is trusted.
  struct stat info;
  if (stat(dir.c_str(), &info) != 0)
    return cacheError(fmt::format("cannot stat cache directory {}: {}", dir, std::strerror(errno)));
  if (!S_ISDIR(info.st_mode))
    return cacheError(fmt::format("cache directory {} is not a directory", dir));
  if (info.st_uid != geteuid() || (info.st_mode & (S_IWGRP | S_IWOTH)))
    return cacheError(fmt::format("cache directory {} is not owned by this user or is writable "
                                  "by others; kernels are kept in memory only",
                                  dir));
  directoryReady_ = true;
  return Status::ok();
}

namespace {
/// An entry's bytes (nullopt: there is none), if `path` is a regular file
/// of this user's, not a link, at most kMaxEntryBytes (a FIFO or a device
/// does not block the open).
Result<std::optional<std::string>> readEntryFile(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return std::optional<std::string>();
  if (fd < 0)
    return Status(StatusCode::Cache, errno == ELOOP ? "a symbolic link" : std::strerror(errno));
  struct stat info;
  std::string bytes;
  Status status = Status::ok();
  if (fstat(fd, &info) != 0)
    status = Status(StatusCode::Cache, std::strerror(errno));
  else if (!S_ISREG(info.st_mode))
    status = Status(StatusCode::Cache, "not a regular file");
  else if (info.st_uid != geteuid())
    status = Status(StatusCode::Cache, "owned by another user");
  else if (info.st_size > kMaxEntryBytes)
    status = Status(StatusCode::Cache, fmt::format("larger than {} bytes", kMaxEntryBytes));
  else {
    bytes.resize(size_t(info.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t got = read(fd, bytes.data() + done, bytes.size() - done);
      if (got <= 0) {
        status = Status(StatusCode::Cache, "short read");
        break;
      }
      done += size_t(got);
    }
    // A read renews the entry's time: the cap evicts the least recently used.
    if (status)
      futimens(fd, nullptr);
  }
  close(fd);
  if (!status)
    return status;
  return std::optional<std::string>(std::move(bytes));
}
} // namespace

void KernelCache::report(const std::string &path, const std::string &why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reported_.insert(path).second)
    std::fprintf(stderr, "turbo: not using the disk cache at %s: %s\n", path.c_str(),
                 why.c_str());
}

Result<KernelCache::Kernel> KernelCache::load(const std::string &keyText,
                                              const Compile &compile) {
  std::string path = entryPath(keyText);
  if (!path.empty()) {
    // Nothing is read from, or written to, a directory that is not trusted.
    Status ready;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready = ensureDirectory();
    }
    if (!ready.isOk()) {
      report(options_.directory, ready.message());
      path.clear();
    }
  }
  if (!path.empty() && !options_.rebuild) {
    Result<std::optional<std::string>> read = readEntryFile(path);
    if (!read) {
      ++stats_.diskRejects;
      report(path, read.status().message());
    }
    if (read && *read) {
      Result<CompiledKernel> entry = parseEntry(**read, keyText);
      if (entry) {
        ++stats_.diskHits;
        return std::make_shared<const CompiledKernel>(std::move(*entry));
      }
      ++stats_.diskRejects;
      report(path, entry.status().message());
    }
  }
  ++stats_.compiles;
  Result<CompiledKernel> compiled = compile();
  if (!compiled)
    return compiled.status();
  auto kernel = std::make_shared<const CompiledKernel>(std::move(*compiled));
  if (!path.empty()) {
    // Write beside the entry and rename over it: readers see the old entry
    // or the new one, never a partial one.
    // A new file of our own (O_EXCL, not through a link), private.
    std::string temporary = path + std::string(kTemporarySuffix);
    // mkstemps is told how many characters follow the X's (".tmp").
    const int tail = int(kTemporarySuffix.size() - kTemporarySuffix.rfind('X') - 1);
    int fd = mkstemps(temporary.data(), tail);
    if (fd < 0) {
      report(path, std::string("cannot create a temporary file: ") + std::strerror(errno));
      return kernel;
    }
    {
      const std::string bytes = serializeEntry(keyText, *kernel);
      size_t done = 0;
      while (done < bytes.size()) {
        ssize_t put = write(fd, bytes.data() + done, bytes.size() - done);
        if (put <= 0)
          break;
        done += size_t(put);
      }
      const bool written = done == bytes.size();
      if (close(fd) != 0 || !written) {
        std::remove(temporary.c_str());
        report(path, "cannot write the entry");
        return kernel;
      }
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
      std::remove(temporary.c_str());
      report(path, std::string("cannot rename the entry into place: ") + std::strerror(errno));
    } else {
      ++stats_.diskWrites;
      trim(path.substr(path.rfind('/') + 1));
    }
  }
  return kernel;
}

namespace {
enum class CacheFile { Entry, Temporary, Other };

/// Entries are "<64 hex digits>.turbo", temporaries that plus
/// ".XXXXXX.tmp" (mkstemps); everything else in the directory is someone
/// else's.
CacheFile classify(const std::string &name) {
  constexpr size_t hexDigits = 64;
  const std::string_view suffix = kEntrySuffix;
  if (name.size() < hexDigits + suffix.size() ||
      !std::all_of(name.begin(), name.begin() + hexDigits,
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }) ||
      name.compare(hexDigits, suffix.size(), suffix) != 0)
    return CacheFile::Other;
  const std::string_view rest = std::string_view(name).substr(hexDigits + suffix.size());
  if (rest.empty())
    return CacheFile::Entry;
  // The pattern's X's are mkstemps's random characters; the rest must match.
  const std::string_view pattern = kTemporarySuffix;
  if (rest.size() != pattern.size())
    return CacheFile::Other;
  for (size_t i = 0; i < rest.size(); ++i)
    if (pattern[i] != 'X' && rest[i] != pattern[i])
      return CacheFile::Other;
  return CacheFile::Temporary;
}

struct EntryFile {
  std::string name;
  uint64_t bytes;
  struct timespec used;
};
} // namespace

void KernelCache::trim(const std::string &keptName) {
  std::lock_guard<std::mutex> lock(trimMutex_);
  DIR *dir = opendir(options_.directory.c_str());
  if (!dir)
    return;
  const int dirFd = dirfd(dir);
  const time_t now = std::time(nullptr);
  std::vector<EntryFile> entries;
  uint64_t total = 0;
  while (const struct dirent *item = readdir(dir)) {
    const std::string name = item->d_name;
    const CacheFile kind = classify(name);
    struct stat info;
    if (kind == CacheFile::Other || fstatat(dirFd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(info.st_mode) || info.st_uid != geteuid())
      continue;
    if (kind == CacheFile::Temporary) {
      // A writer renames its temporary within a second; one this old was
      // left by a process that died.
      if (now - info.st_mtime > kStaleTemporarySeconds && unlinkat(dirFd, name.c_str(), 0) == 0)
        ++stats_.staleTemporaries;
      continue;
    }
    entries.push_back({name, uint64_t(info.st_size), info.st_mtim});
    total += uint64_t(info.st_size);
  }
  if (options_.maxBytes != 0 && total > options_.maxBytes) {
    std::sort(entries.begin(), entries.end(), [](const EntryFile &a, const EntryFile &b) {
      return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec
                                            : a.used.tv_nsec < b.used.tv_nsec;
    });
    for (const EntryFile &entry : entries) {
      if (total <= options_.maxBytes)
        break;
      if (entry.name == keptName)
        continue;
      // Another process may have removed it first: only our own removals count.
      if (unlinkat(dirFd, entry.name.c_str(), 0) == 0)
        ++stats_.diskEvictions;
      total -= entry.bytes;
    }
  }
  closedir(dir);
}

Result<KernelCache::Kernel> KernelCache::get(const std::string &keyText, const Compile &compile) {
  std::string hash = sha256Hex(keyText);
  std::promise<Result<Kernel>> promise;
  std::shared_future<Result<Kernel>> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(hash);
    if (it != entries_.end()) {
      future = it->second;
      ++stats_.memoryHits;
    } else {
      future = promise.get_future().share();
      entries_.emplace(hash, future);
      owner = true;
    }
  }
  if (owner) {
    Result<Kernel> result = load(keyText, compile);
    if (!result) {
      // Failures are not remembered: the next request tries again.
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(hash);
    }
    promise.set_value(result);
  }
  return future.get();
}

} // namespace turbo::runtime
