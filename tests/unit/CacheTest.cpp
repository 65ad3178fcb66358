//===- CacheTest.cpp - the kernel cache in memory and on disk --------------===//
#include "KernelCache.h"
#include "turbo/Templates/Template.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

using namespace turbo;
using namespace turbo::runtime;

namespace {
/// The directories this process made, removed when it exits.
struct ScratchDirectories {
  std::vector<std::string> paths;
  ~ScratchDirectories() {
    for (const std::string &path : paths) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }
};

std::string temporaryDirectory() {
  static ScratchDirectories made;
  char path[] = "/tmp/turbo-cache-test-XXXXXX";
  REQUIRE(mkdtemp(path) != nullptr);
  made.paths.push_back(path);
  return path;
}

/// Sets a file's modification time to `secondsAgo` before now.
void age(const std::string &path, int secondsAgo) {
  struct timespec times[2];
  REQUIRE(clock_gettime(CLOCK_REALTIME, &times[0]) == 0);
  times[0].tv_sec -= secondsAgo;
  times[1] = times[0];
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

CompiledKernel fakeKernel(const std::string &tag, size_t ptxBytes = 1000) {
  CompiledKernel kernel;
  kernel.info.name = "kernel_" + tag;
  kernel.info.target = "sm_90a";
  kernel.info.numThreads = 128;
  kernel.info.sharedBytes = 4096;
  kernel.info.params = {ParamKind::Pointer, ParamKind::I32, ParamKind::I64, ParamKind::F32};
  kernel.ptx = std::string(ptxBytes, 'x') + tag;
  // A binary blob with NULs and newlines, as an ELF has.
  kernel.cubin = std::string("\x7f" "ELF\0\n\0cubin ", 12) + tag + std::string(3, '\0');
  return kernel;
}

std::string readFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}
} // namespace

TEST_CASE("SHA-256 matches the FIPS 180-2 test vectors", "[cache]") {
  REQUIRE(sha256Hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("cache keys are stable and change with every field", "[cache]") {
  std::string base = cacheKeyText("attention_prefill", "a=1,b=2", "sm_90a", "0.1.0", "22.1.8");
  REQUIRE(sha256Hex(base) == sha256Hex(cacheKeyText("attention_prefill", "a=1,b=2", "sm_90a",
                                                   "0.1.0", "22.1.8")));
  std::set<std::string> keys = {sha256Hex(base)};
  for (std::string variant :
       {cacheKeyText("quantize_rows", "a=1,b=2", "sm_90a", "0.1.0", "22.1.8"),
        cacheKeyText("attention_prefill", "a=1,b=3", "sm_90a", "0.1.0", "22.1.8"),
        cacheKeyText("attention_prefill", "a=1,b=2", "sm_80", "0.1.0", "22.1.8"),
        cacheKeyText("attention_prefill", "a=1,b=2", "sm_90a", "0.1.1", "22.1.8"),
        cacheKeyText("attention_prefill", "a=1,b=2", "sm_90a", "0.1.0", "22.1.9")})
    REQUIRE(keys.insert(sha256Hex(variant)).second);

  // Every parameter of every template, set to each of its other allowed
  // values, gives a new key (values a template refuses in combination with
  // its defaults are skipped, but each parameter must change the key once).
  for (const templates::TemplateDef *def : templates::allTemplates()) {
    const std::string name(def->name());
    auto defaults = def->parse(nullptr, "");
    REQUIRE(defaults);
    std::string defaultKey =
        sha256Hex(cacheKeyText(name, defaults->text(), "sm_90a", "0.1.0", "22.1.8"));
    std::set<std::string> seen = {defaultKey};
    auto alternatives = [](const templates::ParamInfo &param) {
      std::vector<int64_t> values = param.allowed.values;
      for (const auto &[symbol, value] : param.allowed.symbols)
        values.push_back(value);
      if (param.allowed.range)
        values.insert(values.end(), {param.allowed.range->first, param.allowed.range->second});
      if (values.empty())
        values = {param.defaultValue + 1};
      values.erase(std::remove(values.begin(), values.end(), param.defaultValue), values.end());
      return values;
    };
    const std::vector<templates::ParamInfo> params = def->params();
    for (const templates::ParamInfo &param : params) {
      int changedKeys = 0;
      for (int64_t value : alternatives(param)) {
        const std::string entry = param.name + "=" + std::to_string(value);
        auto changed = def->parse(nullptr, entry);
        // A value valid only with another parameter changed too (num_warps=8
        // needs block_m=128): that pair, which is new as a whole.
        for (size_t other = 0; !changed && other < params.size(); ++other)
          for (int64_t with : alternatives(params[other]))
            if (params[other].name != param.name && !changed)
              changed = def->parse(nullptr, entry + "," + params[other].name + "=" +
                                                std::to_string(with));
        if (!changed)
          continue;
        INFO(name << " " << entry);
        REQUIRE(seen.insert(sha256Hex(cacheKeyText(name, changed->text(), "sm_90a", "0.1.0",
                                                   "22.1.8")))
                    .second);
        ++changedKeys;
      }
      INFO(name << " " << param.name);
      REQUIRE(changedKeys > 0);
    }
  }
}

TEST_CASE("entries round-trip and reject damage", "[cache]") {
  std::string key = cacheKeyText("k", "c=1", "sm_90a", "v", "l");
  CompiledKernel kernel = fakeKernel("a");
  std::string bytes = serializeEntry(key, kernel);
  auto back = parseEntry(bytes, key);
  REQUIRE(back);
  REQUIRE(back->ptx == kernel.ptx);
  REQUIRE(back->cubin == kernel.cubin);
  REQUIRE(back->info.name == kernel.info.name);
  REQUIRE(back->info.numThreads == 128);
  REQUIRE(back->info.sharedBytes == 4096);
  REQUIRE(back->info.params == kernel.info.params);
  REQUIRE_FALSE(back->info.programmaticLaunch);
  // The launch mode comes back as it was stored, both ways.
  kernel.info.programmaticLaunch = true;
  auto programmatic = parseEntry(serializeEntry(key, kernel), key);
  REQUIRE(programmatic);
  REQUIRE(programmatic->info.programmaticLaunch);

  // Truncated anywhere, or one byte changed anywhere: rejected.
  for (size_t cut : {size_t(0), size_t(5), bytes.size() / 2, bytes.size() - 1})
    REQUIRE_FALSE(parseEntry(bytes.substr(0, cut), key));
  for (size_t at : {size_t(3), size_t(20), size_t(90), bytes.size() / 2, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] ^= 0x20;
    REQUIRE_FALSE(parseEntry(flipped, key));
  }
  // Without a cubin (no ptxas where it was compiled): still an entry.
  CompiledKernel ptxOnly = kernel;
  ptxOnly.cubin.clear();
  auto noCubin = parseEntry(serializeEntry(key, ptxOnly), key);
  REQUIRE(noCubin);
  REQUIRE(noCubin->cubin.empty());
  REQUIRE(noCubin->ptx == kernel.ptx);
  // A valid entry of another key (a renamed file): rejected.
  auto other = parseEntry(bytes, cacheKeyText("k", "c=2", "sm_90a", "v", "l"));
  REQUIRE_FALSE(other);
  REQUIRE(other.status().message().find("another key") != std::string::npos);
  // A tampered payload whose digest was recomputed is still another key's.
  REQUIRE_FALSE(parseEntry("garbage", key));
}

TEST_CASE("fuzz: damaged cache entries are refused, never trusted or crashed on",
          "[cache][fuzz]") {
  // A cache directory is input too (shared, possibly written by an older
  // or broken build). Random damage to a valid entry: every changed entry
  // is refused.
  std::string key = cacheKeyText("k", "c=1", "sm_90a", "v", "l");
  const std::string valid = serializeEntry(key, fakeKernel("fuzz", 300));
  std::mt19937 rng(11);
  int runs = 3000;
  if (const char *given = std::getenv("TURBO_FUZZ_ITERATIONS"))
    runs = std::max(1, std::atoi(given));
  for (int i = 0; i < runs; ++i) {
    std::string bytes = valid;
    std::uniform_int_distribution<size_t> at(0, bytes.size() - 1);
    std::uniform_int_distribution<int> kind(0, 3), byte(0, 255), span(1, 16);
    switch (kind(rng)) {
    case 0: // flip bits
      bytes[at(rng)] ^= char(1 << (byte(rng) % 8));
      break;
    case 1: // cut
      bytes.resize(at(rng));
      break;
    case 2: { // random bytes over a span
      size_t from = at(rng);
      for (int n = span(rng); n > 0 && from < bytes.size(); --n, ++from)
        bytes[from] = char(byte(rng));
      break;
    }
    default: // a span repeated (lengths and fields shifted)
      size_t from = at(rng);
      bytes.insert(at(rng), bytes.substr(from, size_t(span(rng))));
    }
    auto parsed = parseEntry(bytes, key);
    INFO("case " << i);
    if (bytes == valid)
      REQUIRE(parsed);
    else
      REQUIRE_FALSE(parsed);
  }
}

TEST_CASE("the disk cache writes, reads and repairs entries", "[cache]") {
  std::string dir = temporaryDirectory() + "/nested/cache";
  std::string key = cacheKeyText("k", "c=1", "sm_90a", "v", "l");
  int compiles = 0;
  auto compile = [&]() -> Result<CompiledKernel> {
    ++compiles;
    return fakeKernel("a");
  };
  {
    KernelCache cache({dir, false});
    auto first = cache.get(key, compile);
    REQUIRE(first);
    REQUIRE(compiles == 1);
    REQUIRE(cache.stats().diskWrites == 1);
    struct stat info;
    REQUIRE(stat(dir.c_str(), &info) == 0);
    REQUIRE((info.st_mode & 0777) == 0700);
    // Memory hit: same object, no compile.
    auto second = cache.get(key, compile);
    REQUIRE(second);
    REQUIRE(second->get() == first->get());
    REQUIRE(compiles == 1);
  }
  {
    KernelCache cache({dir, false}); // a new process, in effect
    auto fromDisk = cache.get(key, compile);
    REQUIRE(fromDisk);
    REQUIRE(compiles == 1);
    REQUIRE(cache.stats().diskHits == 1);
    REQUIRE((*fromDisk)->ptx == fakeKernel("a").ptx);
  }
  std::string path = KernelCache({dir, false}).entryPath(key);
  std::string good = readFile(path);
  for (std::string damaged : {good.substr(0, good.size() - 10), std::string("junk"),
                              good.substr(0, 40) + "Y" + good.substr(41)}) {
    writeFile(path, damaged);
    KernelCache cache({dir, false});
    int before = compiles;
    auto repaired = cache.get(key, compile);
    REQUIRE(repaired);
    REQUIRE(compiles == before + 1);          // rebuilt, the damaged entry never loaded
    REQUIRE(cache.stats().diskRejects == 1);
    REQUIRE(readFile(path) == good);          // and written back whole
  }
  {
    KernelCache cache({dir, true}); // TURBO_CACHE_REBUILD
    int before = compiles;
    REQUIRE(cache.get(key, compile));
    REQUIRE(compiles == before + 1);
  }
  {
    KernelCache cache({"", false}); // TURBO_CACHE_DISABLE
    int before = compiles;
    REQUIRE(cache.get(key, compile));
    REQUIRE(compiles == before + 1);
    REQUIRE(cache.stats().diskWrites == 0);
  }
}

TEST_CASE("failed compiles are reported and not remembered", "[cache]") {
  KernelCache cache({"", false});
  int calls = 0;
  auto failing = [&]() -> Result<CompiledKernel> {
    ++calls;
    return Status(StatusCode::Compile, "boom");
  };
  auto first = cache.get("key", failing);
  REQUIRE_FALSE(first);
  REQUIRE(first.status().message() == "boom");
  REQUIRE_FALSE(cache.get("key", failing));
  REQUIRE(calls == 2);
}

TEST_CASE("sixteen threads asking for one key compile it once", "[cache]") {
  KernelCache cache({temporaryDirectory(), false});
  std::atomic<int> compiles{0};
  auto slow = [&]() -> Result<CompiledKernel> {
    ++compiles;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return fakeKernel("t");
  };
  std::vector<const CompiledKernel *> seen(16, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto kernel = cache.get("one key", slow);
      if (kernel)
        seen[i] = kernel->get();
    });
  for (std::thread &t : threads)
    t.join();
  REQUIRE(compiles == 1);
  for (const CompiledKernel *kernel : seen)
    REQUIRE(kernel == seen[0]);
  REQUIRE(seen[0] != nullptr);
}

TEST_CASE("two processes sharing a cache directory never see a partial entry", "[cache]") {
  std::string dir = temporaryDirectory();
  std::string key = cacheKeyText("k", "shared", "sm_90a", "v", "l");
  // A large entry, so that a non-atomic write would be caught half-way.
  pid_t writer = fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    for (int i = 0; i < 150; ++i) {
      KernelCache cache({dir, true}); // always compiles and rewrites
      (void)cache.get(key, [] { return Result<CompiledKernel>(fakeKernel("w", 4 << 20)); });
    }
    _exit(0);
  }
  pid_t reader = fork();
  REQUIRE(reader >= 0);
  if (reader == 0) {
    int rejects = 0;
    for (int i = 0; i < 300; ++i) {
      KernelCache cache({dir, false});
      auto kernel = cache.get(key, [] { return Result<CompiledKernel>(fakeKernel("w", 4 << 20)); });
      rejects += cache.stats().diskRejects;
      if (!kernel || (*kernel)->ptx != fakeKernel("w", 4 << 20).ptx)
        _exit(2);
    }
    _exit(rejects == 0 ? 0 : 1);
  }
  int writerStatus = 0, readerStatus = 0;
  waitpid(writer, &writerStatus, 0);
  waitpid(reader, &readerStatus, 0);
  REQUIRE(WIFEXITED(writerStatus));
  REQUIRE(WEXITSTATUS(writerStatus) == 0);
  REQUIRE(WIFEXITED(readerStatus));
  REQUIRE(WEXITSTATUS(readerStatus) == 0);
  // No temporary files left behind.
  std::string listing = dir;
  REQUIRE(std::system(("test -z \"$(ls " + dir + " | grep tmp)\"").c_str()) == 0);
}

TEST_CASE("the disk cache trusts only this user's own directory and regular files",
          "[cache]") {
  std::string key = cacheKeyText("k", "c=1", "sm_90a", "v", "l");
  int compiles = 0;
  auto compile = [&]() -> Result<CompiledKernel> {
    ++compiles;
    return fakeKernel("mine");
  };
  SECTION("a directory others may write: nothing read or written there") {
    std::string dir = temporaryDirectory();
    REQUIRE(chmod(dir.c_str(), 0777) == 0);
    std::string path = KernelCache({dir, false}).entryPath(key);
    // A planted entry, valid but not ours to trust.
    writeFile(path, serializeEntry(key, fakeKernel("planted")));
    KernelCache cache({dir, false});
    auto kernel = cache.get(key, compile);
    REQUIRE(kernel);
    CHECK((*kernel)->ptx == fakeKernel("mine").ptx);
    CHECK(compiles == 1);
    CHECK(cache.stats().diskHits == 0);
    CHECK(cache.stats().diskWrites == 0);
    CHECK(readFile(path) == serializeEntry(key, fakeKernel("planted")));
  }
  SECTION("an entry that is a FIFO neither blocks nor is read") {
    std::string dir = temporaryDirectory();
    std::string path = KernelCache({dir, false}).entryPath(key);
    REQUIRE(mkfifo(path.c_str(), 0600) == 0);
    KernelCache cache({dir, false});
    auto kernel = cache.get(key, compile); // would hang on a blocking open
    REQUIRE(kernel);
    CHECK(compiles == 1);
    CHECK(cache.stats().diskRejects == 1);
    // The FIFO was replaced by a real entry.
    struct stat info;
    REQUIRE(lstat(path.c_str(), &info) == 0);
    CHECK(S_ISREG(info.st_mode));
  }
  SECTION("an entry that is a symbolic link is not followed") {
    std::string dir = temporaryDirectory(), elsewhere = temporaryDirectory() + "/entry";
    writeFile(elsewhere, serializeEntry(key, fakeKernel("linked")));
    std::string path = KernelCache({dir, false}).entryPath(key);
    REQUIRE(symlink(elsewhere.c_str(), path.c_str()) == 0);
    KernelCache cache({dir, false});
    auto kernel = cache.get(key, compile);
    REQUIRE(kernel);
    CHECK((*kernel)->ptx == fakeKernel("mine").ptx);
    CHECK(cache.stats().diskHits == 0);
    CHECK(cache.stats().diskRejects == 1);
    // The rename replaced the link itself; the file it pointed to is untouched.
    CHECK(readFile(elsewhere) == serializeEntry(key, fakeKernel("linked")));
  }
  SECTION("an entry larger than the cap is refused before it is read") {
    std::string dir = temporaryDirectory();
    std::string path = KernelCache({dir, false}).entryPath(key);
    {
      std::ofstream file(path, std::ios::binary);
      file.seekp(kMaxEntryBytes + 1);
      file.put('x');
    }
    KernelCache cache({dir, false});
    REQUIRE(cache.get(key, compile));
    CHECK(compiles == 1);
    CHECK(cache.stats().diskRejects == 1);
  }
}

TEST_CASE("byte counts for TURBO_CACHE_MAX_BYTES", "[cache]") {
  CHECK(parseByteCount("0") == 0u);
  CHECK(parseByteCount("123") == 123u);
  CHECK(parseByteCount("64K") == 65536u);
  CHECK(parseByteCount("512M") == 512ull << 20);
  CHECK(parseByteCount("2G") == 2ull << 30);
  for (const char *bad : {"", "G", "-1", "1.5G", "12k", "1 G", "12KB", "99999999999999999999",
                          "8589934593G", "9223372036854775809"}) {
    INFO(bad);
    CHECK_FALSE(parseByteCount(bad));
  }
  CHECK(parseByteCount("8589934592G") == 1ull << 63); // 2^63 itself is a count
}

TEST_CASE("the disk cache keeps to its cap, evicting the least recently used entries",
          "[cache]") {
  std::string dir = temporaryDirectory();
  auto key = [](int i) { return cacheKeyText("k", "c=" + std::to_string(i), "sm_90a", "v", "l"); };
  auto compileAs = [](int i) {
    return [i]() -> Result<CompiledKernel> { return fakeKernel(std::to_string(i)); };
  };
  const size_t entryBytes = serializeEntry(key(1), fakeKernel("1")).size();
  CacheOptions options{dir, false, 2 * entryBytes + entryBytes / 2}; // room for two
  KernelCache writer(options);
  REQUIRE(writer.get(key(1), compileAs(1)));
  REQUIRE(writer.get(key(2), compileAs(2)));
  const std::string path1 = writer.entryPath(key(1)), path2 = writer.entryPath(key(2));
  age(path1, 300);
  age(path2, 200);
  // Files that are not the cache's own, however old, are never touched.
  const std::string foreign = dir + "/notes.turbo", foreignTemporary = dir + "/x.turbo.ABCDEF.tmp";
  writeFile(foreign, std::string(4 * entryBytes, 'n'));
  writeFile(foreignTemporary, "t");
  age(foreign, 100000);
  age(foreignTemporary, 100000);
  // A temporary a dead writer left, and one a live writer is filling.
  const std::string stale = path1 + ".AbC123.tmp", fresh = path2 + ".XyZ789.tmp";
  writeFile(stale, "partial");
  writeFile(fresh, "partial");
  age(stale, kStaleTemporarySeconds + 60);
  {
    KernelCache reader(options); // another process reads entry 1: it becomes the newest
    int compiles = 0;
    REQUIRE(reader.get(key(1), [&]() -> Result<CompiledKernel> {
      ++compiles;
      return fakeKernel("1");
    }));
    CHECK(compiles == 0);
  }
  REQUIRE(writer.get(key(3), compileAs(3))); // a third entry: the cap allows two
  CHECK(writer.stats().diskEvictions == 1);
  CHECK(writer.stats().staleTemporaries == 1);
  struct stat info;
  CHECK(stat(path1.c_str(), &info) == 0);               // read recently: kept
  CHECK(stat(path2.c_str(), &info) != 0);               // least recently used: evicted
  CHECK(stat(writer.entryPath(key(3)).c_str(), &info) == 0);
  CHECK(stat(stale.c_str(), &info) != 0);
  CHECK(stat(fresh.c_str(), &info) == 0);
  CHECK(readFile(foreign) == std::string(4 * entryBytes, 'n'));
  CHECK(readFile(foreignTemporary) == "t");

  SECTION("a cap below one entry keeps the entry just written") {
    KernelCache tiny({dir, false, 1});
    REQUIRE(tiny.get(key(4), compileAs(4)));
    CHECK(stat(tiny.entryPath(key(4)).c_str(), &info) == 0);
    CHECK(stat(path1.c_str(), &info) != 0);
    CHECK(stat(writer.entryPath(key(3)).c_str(), &info) != 0);
  }
  SECTION("no cap: nothing evicted") {
    KernelCache unlimited({dir, false, 0});
    REQUIRE(unlimited.get(key(5), compileAs(5)));
    CHECK(unlimited.stats().diskEvictions == 0);
    CHECK(stat(path1.c_str(), &info) == 0);
  }
}
