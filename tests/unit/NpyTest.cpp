//===- NpyTest.cpp - .npy files read, damaged ones refused ----------------===//
#include "turbo/Support/Npy.h"
#include "turbo/Support/Numerics.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/// A .npy file as numpy writes it (version 1, header padded with spaces to
/// a multiple of 64 bytes, ending in a newline), around `data`.
std::string npyFile(const std::string &dict, const std::string &data, int version = 1) {
  const size_t prefix = version == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string file = "\x93NUMPY";
  file += char(version);
  file += char(0);
  const size_t n = header.size();
  file += char(n & 0xff);
  file += char((n >> 8) & 0xff);
  if (version != 1) {
    file += char((n >> 16) & 0xff);
    file += char((n >> 24) & 0xff);
  }
  return file + header + data;
}

template <typename T> std::string bytesOf(const std::vector<T> &values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

} // namespace

TEST_CASE("npy: float16, float32 and float64 arrays read back element for element", "[npy]") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> values(2 * 3 * 4);
  for (float &x : values)
    x = normal(rng);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
  auto f4 = turbo::parseNpy(npyFile(dict, bytesOf(values)));
  REQUIRE(f4);
  CHECK(f4->dtype == "f4");
  CHECK(f4->shape == std::vector<int64_t>{2, 3, 4});
  CHECK(f4->values == values);

  std::vector<double> wide(values.begin(), values.end());
  wide[5] = 1.0 / 3.0;
  auto f8 = turbo::parseNpy(npyFile(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (24,), }", bytesOf(wide), 2));
  REQUIRE(f8);
  CHECK(f8->shape == std::vector<int64_t>{24});
  CHECK(f8->values[5] == float(1.0 / 3.0));
  CHECK(f8->values[0] == values[0]);

  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < half.size(); ++i)
    half[i] = turbo::numerics::floatToHalf(values[i]);
  // Keys in another order, double quotes, no trailing comma: still a dict.
  auto f2 = turbo::parseNpy(npyFile(
      "{\"shape\": (4, 6), \"fortran_order\": False, \"descr\": \"<f2\"}", bytesOf(half), 3));
  REQUIRE(f2);
  CHECK(f2->shape == std::vector<int64_t>{4, 6});
  for (size_t i = 0; i < half.size(); ++i)
    CHECK(f2->values[i] == turbo::numerics::halfToFloat(half[i]));

  // A scalar and an empty array.
  auto scalar = turbo::parseNpy(
      npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", bytesOf(std::vector<float>{2.5f})));
  REQUIRE(scalar);
  CHECK(scalar->shape.empty());
  CHECK(scalar->values == std::vector<float>{2.5f});
  auto empty = turbo::parseNpy(
      npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 7), }", ""));
  REQUIRE(empty);
  CHECK(empty->values.empty());
}

TEST_CASE("npy: what turbo does not read is refused with the reason", "[npy]") {
  const std::string four = bytesOf(std::vector<float>{1, 2, 3, 4});
  auto refused = [&](const std::string &file, const std::string &why) {
    auto array = turbo::parseNpy(file);
    INFO(why);
    REQUIRE_FALSE(array);
    CHECK(array.status().message().find(why) != std::string::npos);
  };
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  REQUIRE(turbo::parseNpy(npyFile(good, four)));
  refused("PK\x03\x04 a zip file", "\\x93NUMPY");
  refused("", "\\x93NUMPY");
  refused(npyFile(good, four).substr(0, 9), "\\x93NUMPY");
  std::string v9 = npyFile(good, four);
  v9[6] = 9;
  refused(v9, "format version 9");
  refused(npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four),
          "element type '>f4'");
  refused(npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", four),
          "element type '<i4'");
  refused(npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", four),
          "Fortran order");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four),
          "the shape holds 5 elements");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four),
          "the shape holds 3 elements");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", four),
          "'shape' is damaged");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (4, -1), }", four),
          "'shape' is damaged");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", four),
          "'shape' is damaged");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576, "
                  "1048576, 1048576), }",
                  four),
          "overflows");
  refused(npyFile("{'descr': '<f4', 'shape': (4,), }", four), "lacks");
  refused(npyFile("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                  four),
          "repeated key 'descr'");
  refused(npyFile("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", four),
          "'fortran_order' is damaged");
  refused(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), } extra", four),
          "more than its dict");
  refused(npyFile("['descr', '<f4']", four), "not a dict");
  std::string longHeader = npyFile(good, four);
  longHeader[8] = char(0xff);
  longHeader[9] = char(0xff);
  refused(longHeader, "longer than the file");
  CHECK_FALSE(turbo::readNpy("/nonexistent/k.npy"));
  CHECK(turbo::readNpy("/nonexistent/k.npy").status().message().find("/nonexistent/k.npy") !=
        std::string::npos);
}
