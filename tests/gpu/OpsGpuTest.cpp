//===- OpsGpuTest.cpp - each tile op alone on the GPU against the CPU ------===//
//
// Each case writes a small kernel in turbo IR, JIT-compiles it through the
// whole pipeline, runs it on fresh random inputs with poisoned outputs and
// compares with a CPU implementation of the op's documented semantics
// (TurboOps.td, docs/reference/TurboDialect.md), written here independently of the compiler:
//   quantize/dequantize: codes and scales bit-exact, round trip within half
//     a step; requantize and back: exact integers; dot: exact in integers,
//     f32-accumulation accuracy for f16/bf16; exp_poly: bit-exact against
//     turbo::numerics::sasExp and within the documented error of 2^x;
//   reductions, transposes and loop-carried accumulators.
//
//===----------------------------------------------------------------------===//
#include "GpuFixture.h"

#include "turbo/Support/Numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace turbo::gpu_tests;
namespace numerics = turbo::numerics;

namespace {

std::string target() {
  turbo_device_info info{sizeof(info)};
  TURBO_CHECK(turbo_context_device_info(context(), &info));
  return info.target;
}

/// A module holding one kernel `@k` with `args` and `body`.
std::string kernelIR(int numWarps, const std::string &args, const std::string &body) {
  return fmt::format(R"(module attributes {{turbo.target = "{}", turbo.num_warps = {} : i32}} {{
  func.func @k({}) attributes {{turbo.kernel}} {{
    %c0 = arith.constant 0 : i32
{}
    return
  }}
}})",
                     target(), numWarps, args, body);
}

/// A kernel compiled from turbo IR, freed at scope exit.
class IRKernel {
public:
  explicit IRKernel(const std::string &mlir) {
    INFO(mlir);
    TURBO_CHECK(turbo_kernel_create_from_mlir(context(), mlir.c_str(), &kernel_));
  }
  ~IRKernel() { turbo_kernel_destroy(kernel_); }
  void launch(std::vector<void *> args) {
    unsigned grid[3] = {1, 1, 1};
    TURBO_CHECK(turbo_kernel_launch(kernel_, grid, args.data(), args.size(), nullptr));
    TURBO_CHECK(turbo_synchronize(context()));
  }

private:
  turbo_kernel *kernel_ = nullptr;
};

std::string tile(int64_t m, int64_t n, const char *t) {
  return fmt::format("tensor<{}x{}x{}>", m, n, t);
}

/// `%cN = arith.constant N : i32` for each distinct N (and %c1, which the
/// 1-element stores use).
std::string constants(std::initializer_list<int64_t> values) {
  std::vector<int64_t> distinct(values);
  distinct.push_back(1);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::string text;
  for (int64_t v : distinct)
    if (v != 0)
      text += fmt::format("    %c{} = arith.constant {} : i32\n", v, v);
  return text;
}

/// "turbo.load %p[%c0, %c0] strides [%cN] bounds [%cM, %cN]" for a dense MxN.
std::string load(const char *ptr, int64_t m, int64_t n, const char *t) {
  return fmt::format("turbo.load {}[%c0, %c0] strides [%c{}] bounds [%c{}, %c{}] : "
                     "!turbo.ptr<{}> -> {}",
                     ptr, n, m, n, t, tile(m, n, t));
}
std::string store(const char *value, const char *ptr, int64_t m, int64_t n, const char *t) {
  return fmt::format("turbo.store {}, {}[%c0, %c0] strides [%c{}] bounds [%c{}, %c{}] : {}, "
                     "!turbo.ptr<{}>",
                     value, ptr, n, m, n, tile(m, n, t), t);
}
std::string store1d(const char *value, const char *ptr, int64_t n, const char *t) {
  return fmt::format("turbo.store {}, {}[%c0] strides [] bounds [%c{}] : tensor<{}x{}>, "
                     "!turbo.ptr<{}>",
                     value, ptr, n, n, t, t);
}

template <typename T> bool sameBits(T a, T b) { return std::memcmp(&a, &b, sizeof(T)) == 0; }

//===----------------------------------------------------------------------===//
// Quantization, as turbo.quantize defines it (docs/reference/TurboDialect.md).
//===----------------------------------------------------------------------===//

struct QuantizeCase {
  int bits;
  const char *granularity; // tile, row, column
  bool asymmetric;
};

/// Groups of (row, column) that share a scale.
std::vector<std::vector<std::pair<int, int>>> groups(int m, int n, const std::string &g) {
  std::vector<std::vector<std::pair<int, int>>> out;
  if (g == "tile") {
    out.emplace_back();
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        out.back().push_back({i, j});
  } else if (g == "row") {
    for (int i = 0; i < m; ++i) {
      out.emplace_back();
      for (int j = 0; j < n; ++j)
        out.back().push_back({i, j});
    }
  } else {
    for (int j = 0; j < n; ++j) {
      out.emplace_back();
      for (int i = 0; i < m; ++i)
        out.back().push_back({i, j});
    }
  }
  return out;
}

void checkQuantize(const QuantizeCase &c, std::mt19937 &rng) {
  const int m = 64, n = 128;
  const std::string g = c.granularity;
  int groupsCount = g == "tile" ? 1 : g == "row" ? m : n;
  int scaleLen = std::max(groupsCount, 1);
  std::string scaleType =
      g == "tile" ? "f32" : fmt::format("tensor<{}xf32>", groupsCount);
  std::string results = "%q, %s" + std::string(c.asymmetric ? ", %z" : "");
  std::string resultTypes = tile(m, n, "i8") + ", " + scaleType +
                            (c.asymmetric ? ", " + scaleType : "");
  std::string attrs = fmt::format("bits = {} : i32, granularity = #turbo.granularity<{}>{}",
                                  c.bits, g, c.asymmetric ? ", asymmetric" : "");
  auto storeScale = [&](const char *value, const char *ptr) {
    if (g == "tile")
      return fmt::format("    %{}t = turbo.splat %{} : tensor<1xf32>\n    {}\n", value, value,
                         store1d((std::string("%") + value + "t").c_str(), ptr, 1, "f32"));
    return fmt::format("    {}\n",
                       store1d((std::string("%") + value).c_str(), ptr, groupsCount, "f32"));
  };
  std::string body = constants({m, n, groupsCount});
  body += fmt::format("    %x = {}\n", load("%xp", m, n, "f32"));
  body += fmt::format("    {} = turbo.quantize %x {{{}}} : {} -> {}\n", results, attrs,
                      tile(m, n, "f32"), resultTypes);
  body += fmt::format("    {}\n", store("%q", "%qp", m, n, "i8"));
  body += storeScale("s", "%sp");
  if (c.asymmetric)
    body += storeScale("z", "%zp");
  body += fmt::format("    %r = turbo.dequantize %q, %s{} {{granularity = #turbo.granularity<{}>}} "
                      ": {}, {}{} -> {}\n",
                      c.asymmetric ? ", %z" : "", g, tile(m, n, "i8"), scaleType,
                      c.asymmetric ? ", " + scaleType : "", tile(m, n, "f32"));
  body += fmt::format("    {}\n", store("%r", "%rp", m, n, "f32"));
  std::string args = "%xp: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, "
                     "%qp: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, "
                     "%sp: !turbo.ptr<f32>, %zp: !turbo.ptr<f32>, "
                     "%rp: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}";
  IRKernel kernel(kernelIR(4, args, body));

  std::vector<float> x(m * n);
  std::normal_distribution<float> normal;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      x[i * n + j] = normal(rng) * std::exp2(float(int((i + 3 * j) % 9) - 4)) +
                     (c.asymmetric ? 0.75f : 0.0f);
  for (int j = 0; j < n; ++j)
    x[5 * n + j] = 0.0f; // a zero row (and zero entries in every column)
  DeviceBuffer dx(x.size() * 4), dq(m * n), ds(scaleLen * 4 + 4), dz(scaleLen * 4 + 4),
      dr(x.size() * 4);
  dx.upload(x);
  dq.poison(0xa5);
  ds.poison(0xa5);
  dz.poison(0xa5);
  dr.poison(0xa5);
  uint64_t px = dx.get(), pq = dq.get(), ps = ds.get(), pz = dz.get(), pr = dr.get();
  kernel.launch({&px, &pq, &ps, &pz, &pr});
  auto q = dq.download<int8_t>();
  auto s = ds.download<float>();
  auto z = dz.download<float>();
  auto r = dr.download<float>();

  auto members = groups(m, n, g);
  for (size_t gi = 0; gi < members.size(); ++gi) {
    const auto &group = members[gi];
    float scale, zero = 0, inverse;
    if (!c.asymmetric) {
      float qmax = float((1 << (c.bits - 1)) - 1), amax = 0;
      for (auto [i, j] : group)
        amax = std::max(amax, std::fabs(x[i * n + j]));
      scale = amax / qmax;
      inverse = amax > 0 ? qmax / amax : 0.0f;
      for (auto [i, j] : group) {
        float code = amax > 0 ? std::fmin(std::fmax(std::nearbyint(x[i * n + j] * inverse), -qmax), qmax) : 0.0f;
        INFO("group " << gi << " element " << i << "," << j);
        REQUIRE(q[i * n + j] == int8_t(code));
        float back = float(q[i * n + j]) * scale;
        REQUIRE(sameBits(r[i * n + j], back));
        REQUIRE(std::fabs(back - x[i * n + j]) <= 0.5f * scale * 1.0001f + 1e-30f);
      }
    } else {
      float levels = float((1 << c.bits) - 1), lo = INFINITY, hi = -INFINITY;
      for (auto [i, j] : group) {
        lo = std::min(lo, x[i * n + j]);
        hi = std::max(hi, x[i * n + j]);
      }
      float range = hi - lo;
      scale = range / levels;
      zero = lo;
      inverse = range > 0 ? levels / range : 0.0f;
      for (auto [i, j] : group) {
        float code = range > 0 ? std::fmin(std::fmax(std::nearbyint((x[i * n + j] - lo) * inverse), 0.0f), levels) : 0.0f;
        INFO("group " << gi << " element " << i << "," << j);
        REQUIRE(uint8_t(q[i * n + j]) == uint8_t(code));
        float back = float(uint8_t(q[i * n + j])) * scale + zero;
        REQUIRE(sameBits(r[i * n + j], back));
        REQUIRE(std::fabs(back - x[i * n + j]) <= 0.5f * scale * 1.001f + 1e-6f);
      }
      REQUIRE(sameBits(z[gi], zero));
    }
    REQUIRE(sameBits(s[gi], scale));
  }
  uint32_t slack;
  std::memcpy(&slack, &s[members.size()], 4);
  REQUIRE(slack == 0xa5a5a5a5u);
}
} // namespace

TEST_CASE("quantize and dequantize: exact codes, round trip within half a step",
          "[gpu][ops][quantize]") {
  TURBO_RANDOM_ENGINE(rng);
  for (int bits : {8, 4, 2})
    for (const char *g : {"tile", "row", "column"})
      for (bool asymmetric : {false, true}) {
        INFO("bits " << bits << " " << g << (asymmetric ? " asymmetric" : " symmetric"));
        checkQuantize({bits, g, asymmetric}, rng);
      }
}

TEST_CASE("requantize and back are the integer reference", "[gpu][ops][quantize]") {
  TURBO_RANDOM_ENGINE(rng);
  const int m = 64, n = 128;
  for (int bits : {4, 2}) {
    std::string body = constants({m, n});
    body += fmt::format("    %x = {}\n", load("%xp", m, n, "i8"));
    body += fmt::format("    %c, %s, %z = turbo.requantize %x {{bits = {} : i32}} : {} -> {}, "
                        "tensor<{}xi32>, tensor<{}xi32>\n",
                        bits, tile(m, n, "i8"), tile(m, n, "i8"), n, n);
    body += fmt::format("    {}\n    {}\n    {}\n", store("%c", "%cp", m, n, "i8"),
                        store1d("%s", "%sp", n, "i32"), store1d("%z", "%zp", n, "i32"));
    body += fmt::format("    %b = turbo.dequantize_int %c, %s, %z : {}, tensor<{}xi32>, "
                        "tensor<{}xi32> -> {}\n    {}\n",
                        tile(m, n, "i8"), n, n, tile(m, n, "i8"), store("%b", "%bp", m, n, "i8"));
    IRKernel kernel(kernelIR(4, "%xp: !turbo.ptr<i8>, %cp: !turbo.ptr<i8>, %sp: !turbo.ptr<i32>, "
                                "%zp: !turbo.ptr<i32>, %bp: !turbo.ptr<i8>",
                             body));
    std::vector<int8_t> x(m * n);
    std::uniform_int_distribution<int> full(-127, 127), narrow(-9, 30);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        x[i * n + j] = int8_t(j % 4 == 0 ? full(rng) : j % 4 == 1 ? narrow(rng) : j % 4 == 2 ? 17 : full(rng) / 3);
    DeviceBuffer dx(m * n), dc(m * n), ds(n * 4), dz(n * 4), db(m * n);
    dx.upload(x);
    for (DeviceBuffer *b : {&dc, &ds, &dz, &db})
      b->poison(0xa5);
    uint64_t px = dx.get(), pc = dc.get(), ps = ds.get(), pz = dz.get(), pb = db.get();
    kernel.launch({&px, &pc, &ps, &pz, &pb});
    auto codes = dc.download<int8_t>();
    auto s = ds.download<int32_t>();
    auto z = dz.download<int32_t>();
    auto back = db.download<int8_t>();
    const int levels = (1 << bits) - 1;
    for (int j = 0; j < n; ++j) {
      int lo = 127, hi = -128;
      for (int i = 0; i < m; ++i) {
        lo = std::min(lo, int(x[i * n + j]));
        hi = std::max(hi, int(x[i * n + j]));
      }
      int scale = std::max(1, (hi - lo + levels - 1) / levels);
      INFO("bits " << bits << " column " << j);
      REQUIRE(s[j] == scale);
      REQUIRE(z[j] == lo);
      for (int i = 0; i < m; ++i) {
        int code = std::min(levels, (x[i * n + j] - lo + scale / 2) / scale);
        REQUIRE(int(codes[i * n + j]) == code);
        int restored = std::clamp(code * scale + lo, -128, 127);
        REQUIRE(int(back[i * n + j]) == restored);
        REQUIRE(std::abs(restored - x[i * n + j]) <= scale / 2);
      }
    }
  }
}

namespace {
/// Random dot operand elements: raw device bytes and the values they hold.
/// i8/u8: any byte (u8 read unsigned); f16/bf16: uniform in [-1, 1].
struct Operand {
  std::vector<uint8_t> raw;
  std::vector<double> values;
};
Operand randomOperand(size_t count, const std::string &type, std::mt19937 &rng) {
  const bool integer = type == "i8" || type == "u8";
  Operand o{std::vector<uint8_t>(count * (integer ? 1 : 2)), std::vector<double>(count)};
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (size_t i = 0; i < count; ++i) {
    if (integer) {
      o.raw[i] = uint8_t(byte(rng));
      o.values[i] = type == "u8" ? double(o.raw[i]) : double(int8_t(o.raw[i]));
    } else {
      uint16_t bits =
          type == "f16" ? numerics::floatToHalf(unit(rng)) : numerics::floatToBFloat(unit(rng));
      std::memcpy(&o.raw[2 * i], &bits, 2);
      o.values[i] = type == "f16" ? numerics::halfToFloat(bits) : numerics::bfloatToFloat(bits);
    }
  }
  return o;
}

/// C (m x n, downloaded from `c`) against sum over p < k of a(i, p) b(p, j):
/// integers exactly, floats to 1e-5 of the sum of magnitudes.
template <typename A, typename B>
void requireProduct(DeviceBuffer &c, int m, int n, int k, bool integer, A a, B b) {
  auto ci = c.download<int32_t>();
  auto cf = c.download<float>();
  int64_t wrong = 0;
  double worst = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double exact = 0, magnitude = 0;
      for (int p = 0; p < k; ++p) {
        exact += a(i, p) * b(p, j);
        magnitude += std::fabs(a(i, p) * b(p, j));
      }
      if (integer)
        wrong += ci[i * n + j] != int32_t(exact);
      else
        worst = std::max(worst, std::fabs(cf[i * n + j] - exact) / (magnitude + 1e-6));
    }
  REQUIRE(wrong == 0);
  REQUIRE(worst <= 1e-5);
}

struct DotCase {
  const char *type; // i8, u8, f16, bf16
  int m, n, k, warps;
};

void checkDotAll(const DotCase &c, std::mt19937 &rng) {
  // Same as checkDot but compares every element from one download.
  std::string t = c.type;
  bool integer = t == "i8" || t == "u8";
  const char *element = integer ? "i8" : c.type;
  const char *acc = integer ? "i32" : "f32";
  std::string body = constants({c.m, c.n, c.k});
  body += fmt::format("    %a = {}\n", load("%ap", c.m, c.k, element));
  body += fmt::format("    %b = {}\n", load("%bp", c.k, c.n, element));
  body += fmt::format("    %z = arith.constant dense<{}> : {}\n", integer ? "0" : "0.0",
                      tile(c.m, c.n, acc));
  body += fmt::format("    %d = turbo.dot %a, %b, %z{} : {}, {} -> {}\n",
                      t == "u8" ? " {lhs_unsigned}" : "", tile(c.m, c.k, element),
                      tile(c.k, c.n, element), tile(c.m, c.n, acc));
  body += fmt::format("    {}\n", store("%d", "%dp", c.m, c.n, acc));
  IRKernel kernel(kernelIR(c.warps,
                           fmt::format("%ap: !turbo.ptr<{0}> {{turbo.divisibility = 16 : i64}}, "
                                       "%bp: !turbo.ptr<{0}> {{turbo.divisibility = 16 : i64}}, "
                                       "%dp: !turbo.ptr<{1}> {{turbo.divisibility = 16 : i64}}",
                                       element, acc),
                           body));
  Operand a = randomOperand(size_t(c.m * c.k), t, rng);
  Operand b = randomOperand(size_t(c.k * c.n), t == "u8" ? "i8" : t, rng);
  DeviceBuffer da(a.raw.size()), db(b.raw.size()), dd(c.m * c.n * 4);
  da.upload(a.raw);
  db.upload(b.raw);
  dd.poison(0xa5);
  uint64_t pa = da.get(), pb = db.get(), pd = dd.get();
  kernel.launch({&pa, &pb, &pd});
  INFO(c.type << " " << c.m << "x" << c.n << "x" << c.k << " warps " << c.warps);
  requireProduct(
      dd, c.m, c.n, c.k, integer, [&](int i, int p) { return a.values[i * c.k + p]; },
      [&](int p, int j) { return b.values[p * c.n + j]; });
}
} // namespace

TEST_CASE("dot: exact in integers, f32-accurate for f16 and bf16", "[gpu][ops][dot]") {
  TURBO_RANDOM_ENGINE(rng);
  for (const char *type : {"i8", "u8", "f16", "bf16"})
    for (DotCase shape : {DotCase{"", 64, 64, 128, 4}, DotCase{"", 128, 64, 64, 8},
                          DotCase{"", 16, 32, 64, 1}, DotCase{"", 64, 128, 32, 4}}) {
      shape.type = type;
      checkDotAll(shape, rng);
    }
}

TEST_CASE("exp_poly: bit-exact against the SAS reference, within its error of 2^x",
          "[gpu][ops][sas]") {
  TURBO_RANDOM_ENGINE(rng);
  const int m = 64, n = 64;
  std::uniform_real_distribution<float> scores(-22.0f, 0.5f);
  std::vector<float> x(m * n);
  for (float &v : x)
    v = scores(rng);
  const float specials[] = {0.0f, -0.0f, -INFINITY, -8.0f, -7.9999f, -4.0f, -3.99999f, 1.0f,
                            -1e-8f, -0.5f};
  for (size_t i = 0; i < std::size(specials); ++i)
    x[i] = specials[i];
  DeviceBuffer dx(x.size() * 4), dout(x.size() * 4);
  dx.upload(x);
  for (const char *base : {"two", "e"})
    for (int degree = 0; degree <= 3; ++degree)
      for (auto [threshold, scale] : {std::pair{4, 0}, {8, 0}, {12, 0}, {12, 5}, {16, 0}, {20, 6}})
        for (const char *result : {"f32", "f16"})
          for (bool clampOnly : {false, true}) {
            if (std::string(base) == "e" && threshold > 16)
              continue; // base e keeps a table of at most 16 entries
            std::string body = constants({m, n});
            body += fmt::format("    %x = {}\n", load("%xp", m, n, "f32"));
            body += fmt::format("    %e = turbo.exp_poly %x {{degree = {} : i32, threshold = {} : "
                                "i32, base = #turbo.exp_base<{}>, scale_log2 = {} : i32{}}} : "
                                "{} -> {}\n",
                                degree, threshold, base, scale, clampOnly ? ", clamp_only" : "",
                                tile(m, n, "f32"), tile(m, n, result));
            body += fmt::format("    {}\n", store("%e", "%op", m, n, result));
            IRKernel kernel(kernelIR(
                4, fmt::format("%xp: !turbo.ptr<f32>, %op: !turbo.ptr<{}>", result), body));
            dout.poison(0xa5);
            uint64_t px = dx.get(), po = dout.get();
            kernel.launch({&px, &po});
            numerics::ExpBase which =
                std::string(base) == "two" ? numerics::ExpBase::Two : numerics::ExpBase::E;
            numerics::SasParams params{which, degree, threshold,
                                       numerics::fitExpPolynomial(degree, which), !clampOnly,
                                       scale};
            bool half = std::string(result) == "f16";
            auto out32 = dout.download<float>();
            auto out16 = dout.download<uint16_t>();
            for (int i = 0; i < m * n; ++i) {
              float expected = numerics::sasExp(x[i], params);
              float got = half ? numerics::halfToFloat(out16[i]) : out32[i];
              if (half)
                expected = numerics::roundToHalf(expected);
              INFO(base << " degree " << degree << " threshold " << threshold << " scale_log2 "
                        << scale << " " << result
                        << (clampOnly ? " clamp_only" : "") << " x = " << x[i]);
              REQUIRE(sameBits(got, expected));
            }
            if (which == numerics::ExpBase::Two && degree == 3 && !half && scale == 0) {
              // The documented error where n < threshold (t below threshold -
              // 1/2, with a margin for t's rounding to f16): 2.0e-3 relative
              // on (-7.5, 0]; beyond 8, t's f16 ulp of 2^-7 alone allows 2.7e-3.
              for (int i = 0; i < m * n; ++i)
                if (x[i] <= 0 && x[i] > -(float(threshold) - 0.5f) + 0.02f) {
                  double exact = std::exp2(double(x[i]));
                  double bound = x[i] > -7.5f ? 2.2e-3 : 4e-3;
                  REQUIRE(std::fabs(out32[i] - exact) <= bound * exact);
                }
            }
          }
}

TEST_CASE("reductions across lanes and warps", "[gpu][ops][reduce]") {
  TURBO_RANDOM_ENGINE(rng);
  const int m = 64, n = 128;
  std::normal_distribution<float> normal;
  std::vector<float> x(m * n);
  for (float &v : x)
    v = normal(rng);
  std::vector<int32_t> xi(m * n);
  std::uniform_int_distribution<int> ints(-100000, 100000);
  for (int32_t &v : xi)
    v = ints(rng);
  for (const char *type : {"f32", "i32"})
    for (const char *kind : {"sum", "max", "min"})
      for (int axis : {0, 1})
        for (int warps : {1, 4, 8}) {
          int len = axis == 0 ? n : m;
          std::string body = constants({m, n});
          body += fmt::format("    %x = {}\n", load("%xp", m, n, type));
          body += fmt::format("    %r = turbo.reduce {} %x {{axis = {} : i32}} : {} -> "
                              "tensor<{}x{}>\n",
                              kind, axis, tile(m, n, type), len, type);
          body += fmt::format("    {}\n", store1d("%r", "%rp", len, type));
          body += fmt::format("    %t = turbo.reduce {} %r {{axis = 0 : i32}} : tensor<{}x{}> -> "
                              "{}\n",
                              kind, len, type, type);
          body += fmt::format("    %ts = turbo.splat %t : tensor<1x{}>\n    {}\n", type,
                              store1d("%ts", "%tp", 1, type));
          IRKernel kernel(kernelIR(
              warps, fmt::format("%xp: !turbo.ptr<{0}>, %rp: !turbo.ptr<{0}>, %tp: !turbo.ptr<{0}>",
                                 type),
              body));
          bool isFloat = std::string(type) == "f32";
          DeviceBuffer dx(m * n * 4), dr(len * 4 + 4), dt(8);
          if (isFloat)
            dx.upload(x);
          else
            dx.upload(xi);
          dr.poison(0xa5);
          dt.poison(0xa5);
          uint64_t px = dx.get(), pr = dr.get(), pt = dt.get();
          kernel.launch({&px, &pr, &pt});
          auto rf = dr.download<float>();
          auto ri = dr.download<int32_t>();
          auto tf = dt.download<float>();
          auto ti = dt.download<int32_t>();
          std::string k = kind;
          double total = k == "sum" ? 0 : k == "max" ? -INFINITY : INFINITY;
          for (int o = 0; o < len; ++o) {
            double acc = k == "sum" ? 0 : k == "max" ? -INFINITY : INFINITY, magnitude = 0;
            for (int e = 0; e < (axis == 0 ? m : n); ++e) {
              int i = axis == 0 ? e : o, j = axis == 0 ? o : e;
              double v = isFloat ? x[i * n + j] : xi[i * n + j];
              acc = k == "sum" ? acc + v : k == "max" ? std::max(acc, v) : std::min(acc, v);
              magnitude += std::fabs(v);
            }
            total = k == "sum" ? total + acc : k == "max" ? std::max(total, acc) : std::min(total, acc);
            INFO(type << " " << kind << " axis " << axis << " warps " << warps << " index " << o);
            if (!isFloat)
              REQUIRE(ri[o] == int32_t(acc));
            else if (k == "sum")
              REQUIRE(std::fabs(rf[o] - acc) <= 1e-5 * magnitude);
            else
              REQUIRE(rf[o] == float(acc));
          }
          INFO(type << " " << kind << " axis " << axis << " warps " << warps << " total");
          if (!isFloat)
            REQUIRE(ti[0] == int32_t(total));
          else if (k == "sum")
            REQUIRE(std::fabs(tf[0] - total) <= 1e-4 * (std::fabs(total) + 64));
          else
            REQUIRE(tf[0] == float(total));
          uint32_t slack;
          std::memcpy(&slack, &rf[len], 4);
          REQUIRE(slack == 0xa5a5a5a5u);
        }
}

TEST_CASE("transpose and a loop-carried accumulator", "[gpu][ops][layout]") {
  TURBO_RANDOM_ENGINE(rng);
  // Transpose through the layout machinery: y = x^T.
  {
    const int m = 64, n = 32;
    std::string body = constants({m, n});
    body += fmt::format("    %x = {}\n", load("%xp", m, n, "f32"));
    body += fmt::format("    %t = turbo.trans %x : {} -> {}\n", tile(m, n, "f32"), tile(n, m, "f32"));
    body += fmt::format("    {}\n", store("%t", "%yp", n, m, "f32"));
    IRKernel kernel(kernelIR(4, "%xp: !turbo.ptr<f32>, %yp: !turbo.ptr<f32>", body));
    std::vector<float> x(m * n);
    std::normal_distribution<float> normal;
    for (float &v : x)
      v = normal(rng);
    DeviceBuffer dx(x.size() * 4), dy(x.size() * 4);
    dx.upload(x);
    dy.poison(0xa5);
    uint64_t px = dx.get(), py = dy.get();
    kernel.launch({&px, &py});
    auto y = dy.download<float>();
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        REQUIRE(y[j * m + i] == x[i * n + j]);
  }
  // C = sum over K-blocks of A_k * B_k, carried through scf.for: K = 256 in
  // blocks of 64, a ragged row count masked by bounds.
  {
    const int m = 64, n = 64, k = 256, rows = 50;
    std::string body = constants({4, 64, 256, rows});
    body += R"(
    %zero = arith.constant dense<0> : tensor<64x64xi32>
    %acc = scf.for %i = %c0 to %c4 step %c1 iter_args(%sum = %zero) -> (tensor<64x64xi32>) : i32 {
      %k0 = arith.muli %i, %c64 : i32
      %a = turbo.load %ap[%c0, %k0] strides [%c256] bounds [%c50, %c256] : !turbo.ptr<i8> -> tensor<64x64xi8>
      %b = turbo.load %bp[%k0, %c0] strides [%c64] bounds [%c256, %c64] : !turbo.ptr<i8> -> tensor<64x64xi8>
      %d = turbo.dot %a, %b, %sum : tensor<64x64xi8>, tensor<64x64xi8> -> tensor<64x64xi32>
      scf.yield %d : tensor<64x64xi32>
    }
    turbo.store %acc, %cp[%c0, %c0] strides [%c64] bounds [%c50, %c64] : tensor<64x64xi32>, !turbo.ptr<i32>
)";
    IRKernel kernel(kernelIR(4,
                             "%ap: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %bp: "
                             "!turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %cp: !turbo.ptr<i32>",
                             body));
    std::vector<int8_t> a(rows * k), b(k * n);
    std::uniform_int_distribution<int> byte(-128, 127);
    for (int8_t &v : a)
      v = int8_t(byte(rng));
    for (int8_t &v : b)
      v = int8_t(byte(rng));
    DeviceBuffer da(a.size()), db(b.size()), dc(m * n * 4);
    da.upload(a);
    db.upload(b);
    dc.poison(0xa5);
    uint64_t pa = da.get(), pb = db.get(), pc = dc.get();
    kernel.launch({&pa, &pb, &pc});
    auto c = dc.download<int32_t>();
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        if (i >= rows) {
          REQUIRE(uint32_t(c[i * n + j]) == 0xa5a5a5a5u); // masked rows untouched
          continue;
        }
        int32_t exact = 0;
        for (int p = 0; p < k; ++p)
          exact += int32_t(a[i * k + p]) * int32_t(b[p * n + j]);
        REQUIRE(c[i * n + j] == exact);
      }
  }
}

namespace {
struct StagedCase {
  const char *type; // i8 or f16
  int stages;
  bool transposedB; // B stored N x K (read with a transpose: ldmatrix)
  int kBoundCut;    // K bound = K - cut (a multiple of 16 bytes keeps cp.async)
};

/// C = sum over K-blocks of A_k B_k with A and B loads in the loop staged
/// through shared memory by turbo-pipeline-loads (num_stages from the
/// kernel's config): rows past 50 and K past the bound read as zero.
void checkStagedLoop(const StagedCase &c, std::mt19937 &rng) {
  const int m = 64, n = 64, bk = 64, blocks = 5, k = bk * blocks, rows = 50;
  const int kBound = k - c.kBoundCut;
  const bool integer = std::string(c.type) == "i8";
  const char *acc = integer ? "i32" : "f32";
  std::string b = c.transposedB
                      ? fmt::format("%bt = turbo.load %bp[%c0, %k0] strides [%c{0}] bounds [%c{1}, "
                                    "%c{2}] : !turbo.ptr<{3}> -> {4}\n"
                                    "      %b = turbo.trans %bt : {4} -> {5}",
                                    k, n, kBound, c.type, tile(n, bk, c.type),
                                    tile(bk, n, c.type))
                      : fmt::format("%b = turbo.load %bp[%k0, %c0] strides [%c{0}] bounds [%c{1}, "
                                    "%c{0}] : !turbo.ptr<{2}> -> {3}",
                                    n, kBound, c.type, tile(bk, n, c.type));
  std::string ir = fmt::format(
      R"(module attributes {{turbo.target = "{target}", turbo.num_warps = 4 : i32}} {{
  func.func @k(%ap: !turbo.ptr<{t}> {{turbo.divisibility = 16 : i64}}, %bp: !turbo.ptr<{t}> {{turbo.divisibility = 16 : i64}}, %cp: !turbo.ptr<{acc}>) attributes {{turbo.kernel, turbo.config = #turbo.config<{{num_stages = {stages} : i64}}>}} {{
    %c0 = arith.constant 0 : i32
{consts}    %zero = arith.constant dense<0{dot}> : {ctile}
    %sum = scf.for %i = %c0 to %c{blocks} step %c1 iter_args(%s = %zero) -> ({ctile}) : i32 {{
      %k0 = arith.muli %i, %c{bk} : i32
      %a = turbo.load %ap[%c0, %k0] strides [%c{k}] bounds [%c{rows}, %c{kb}] : !turbo.ptr<{t}> -> {atile}
      {b}
      %d = turbo.dot %a, %b, %s : {atile}, {btile} -> {ctile}
      scf.yield %d : {ctile}
    }}
    turbo.store %sum, %cp[%c0, %c0] strides [%c{n}] bounds [%c{m}, %c{n}] : {ctile}, !turbo.ptr<{acc}>
    return
  }}
}})",
      fmt::arg("target", target()), fmt::arg("t", c.type), fmt::arg("acc", acc),
      fmt::arg("stages", c.stages),
      fmt::arg("consts", constants({m, n, bk, k, rows, kBound, blocks})),
      fmt::arg("dot", integer ? "" : ".0"), fmt::arg("ctile", tile(m, n, acc)),
      fmt::arg("blocks", blocks), fmt::arg("bk", bk), fmt::arg("k", k), fmt::arg("rows", rows),
      fmt::arg("kb", kBound), fmt::arg("atile", tile(m, bk, c.type)), fmt::arg("b", b),
      fmt::arg("btile", tile(bk, n, c.type)), fmt::arg("n", n), fmt::arg("m", m));
  INFO(c.type << " stages " << c.stages << (c.transposedB ? " B^T" : " B") << " K bound "
              << kBound);
  IRKernel kernel(ir);
  // A is m x k; B is k x n, or n x k when transposed; entries past the
  // bounds are garbage on purpose (the copies must zero-fill them).
  Operand a = randomOperand(size_t(m * k), c.type, rng);
  Operand bm = randomOperand(size_t(k * n), c.type, rng);
  DeviceBuffer da(a.raw.size()), db(bm.raw.size()), dc(m * n * 4);
  da.upload(a.raw);
  db.upload(bm.raw);
  dc.poison(0xa5);
  uint64_t pa = da.get(), pb = db.get(), pc = dc.get();
  kernel.launch({&pa, &pb, &pc});
  requireProduct(
      dc, m, n, kBound, integer,
      [&](int i, int p) { return i < rows ? a.values[i * k + p] : 0.0; },
      [&](int p, int j) { return c.transposedB ? bm.values[j * k + p] : bm.values[p * n + j]; });
}
} // namespace

TEST_CASE("staged loads: cp.async ring, ldmatrix and vector reads, zero fill",
          "[gpu][ops][pipeline]") {
  TURBO_RANDOM_ENGINE(rng);
  for (StagedCase c : {StagedCase{"i8", 2, true, 32}, StagedCase{"i8", 3, true, 32},
                       StagedCase{"i8", 2, false, 32}, StagedCase{"f16", 2, true, 32},
                       StagedCase{"f16", 3, false, 32}, StagedCase{"f16", 4, true, 64},
                       // K bound not a multiple of 16 bytes: byte-wise copies
                       // through registers instead of cp.async.
                       StagedCase{"i8", 2, true, 31}, StagedCase{"f16", 1, true, 32}})
    checkStagedLoop(c, rng);
}

TEST_CASE("pack and unpack: bytes as documented, round trip exact", "[gpu][ops][pack]") {
  TURBO_RANDOM_ENGINE(rng);
  for (int bits : {4, 2}) {
    const int m = 64, n = 128, k = 8 / bits, nb = n / k, rows = 37;
    // Codes -> bytes (stored), bytes -> codes (stored), for random codes in
    // [0, 2^bits) and, separately, random bytes; rows past 37 are masked.
    std::string body = constants({m, n, nb, rows});
    body += fmt::format(
        "    %c = turbo.load %cp[%c0, %c0] strides [%c{n}] bounds [%c{rows}, %c{n}] : "
        "!turbo.ptr<i8> -> {codes}\n"
        "    %p = turbo.pack %c {{bits = {bits} : i32}} : {codes} -> {bytes}\n"
        "    turbo.store %p, %pp[%c0, %c0] strides [%c{nb}] bounds [%c{rows}, %c{nb}] : {bytes}, "
        "!turbo.ptr<i8>\n"
        "    %r = turbo.load %rp[%c0, %c0] strides [%c{nb}] bounds [%c{rows}, %c{nb}] : "
        "!turbo.ptr<i8> -> {bytes}\n"
        "    %u = turbo.unpack %r {{bits = {bits} : i32}} : {bytes} -> {codes}\n"
        "    turbo.store %u, %up[%c0, %c0] strides [%c{n}] bounds [%c{rows}, %c{n}] : {codes}, "
        "!turbo.ptr<i8>\n",
        fmt::arg("n", n), fmt::arg("nb", nb), fmt::arg("rows", rows), fmt::arg("bits", bits),
        fmt::arg("codes", tile(m, n, "i8")), fmt::arg("bytes", tile(m, nb, "i8")));
    const char *ptr = "!turbo.ptr<i8> {turbo.divisibility = 16 : i64}";
    IRKernel kernel(kernelIR(4, fmt::format("%cp: {0}, %pp: {0}, %rp: {0}, %up: {0}", ptr), body));
    std::vector<uint8_t> codes(m * n), raw(m * nb);
    std::uniform_int_distribution<int> code(0, (1 << bits) - 1), byte(0, 255);
    for (uint8_t &c : codes)
      c = uint8_t(code(rng));
    for (uint8_t &b : raw)
      b = uint8_t(byte(rng));
    DeviceBuffer dc(codes.size()), dp(raw.size()), dr(raw.size()), du(codes.size());
    dc.upload(codes);
    dr.upload(raw);
    dp.poison(0xa5);
    du.poison(0xa5);
    uint64_t pc = dc.get(), pp = dp.get(), pr = dr.get(), pu = du.get();
    kernel.launch({&pc, &pp, &pr, &pu});
    auto packed = dp.download<uint8_t>();
    auto unpacked = du.download<uint8_t>();
    INFO(bits << "-bit codes");
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < nb; ++j) {
        if (i >= rows) {
          REQUIRE(packed[i * nb + j] == 0xa5);
          continue;
        }
        unsigned expected = 0; // code j*k + t in bits [t*bits, (t+1)*bits)
        for (int t = 0; t < k; ++t)
          expected |= unsigned(codes[i * n + j * k + t]) << (t * bits);
        REQUIRE(packed[i * nb + j] == expected);
      }
      for (int j = 0; j < n; ++j) {
        if (i >= rows) {
          REQUIRE(unpacked[i * n + j] == 0xa5);
          continue;
        }
        unsigned expected = (raw[i * nb + j / k] >> ((j % k) * bits)) & ((1u << bits) - 1);
        REQUIRE(unpacked[i * n + j] == expected);
      }
    }
  }
}

TEST_CASE("permute_bits reorders along its axis", "[gpu][ops][layout]") {
  TURBO_RANDOM_ENGINE(rng);
  const int m = 64, n = 64;
  std::string body = constants({m, n});
  body += fmt::format("    %x = {}\n", load("%xp", m, n, "i8"));
  body += fmt::format("    %y = turbo.permute_bits %x {{axis = 1 : i32, bits = array<i32: 0, 3, "
                      "1, 2, 4>}} : {0} -> {0}\n",
                      tile(m, n, "i8"));
  body += fmt::format("    {}\n", store("%y", "%yp", m, n, "i8"));
  IRKernel kernel(kernelIR(4,
                           "%xp: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, "
                           "%yp: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}",
                           body));
  std::vector<uint8_t> x(m * n);
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t &v : x)
    v = uint8_t(byte(rng));
  DeviceBuffer dx(x.size()), dy(x.size());
  dx.upload(x);
  dy.poison(0xa5);
  uint64_t px = dx.get(), py = dy.get();
  kernel.launch({&px, &py});
  auto y = dy.download<uint8_t>();
  // Bit j of k is bit bits[j] of the source index.
  const int bits[5] = {0, 3, 1, 2, 4};
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < n; ++k) {
      int source = k & ~31;
      for (int j = 0; j < 5; ++j)
        source |= ((k >> j) & 1) << bits[j];
      REQUIRE(y[i * n + k] == x[i * n + source]);
    }
}
