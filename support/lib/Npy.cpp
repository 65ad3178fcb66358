//===- Npy.cpp - NumPy .npy files of floats -------------------------------===//
#include "turbo/Support/Npy.h"
#include "turbo/Support/Numerics.h"

#include <fmt/format.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>

namespace turbo {

namespace {
constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kMostHeaderBytes = 1 << 16;
constexpr size_t kMostDims = 16;

Status bad(const std::string &why) {
  return {StatusCode::InvalidArgument, "not a .npy file turbo reads: " + why};
}

/// The header's dict literal, read one token at a time.
class HeaderReader {
public:
  explicit HeaderReader(std::string_view text) : text(text) {}

  void skipSpace() {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at])))
      ++at;
  }
  bool take(char c) {
    skipSpace();
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  }
  bool atEnd() {
    skipSpace();
    return at == text.size();
  }
  /// A quoted string ('...' or "...") without escapes.
  std::optional<std::string> string() {
    skipSpace();
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"'))
      return std::nullopt;
    const char quote = text[at++];
    const size_t end = text.find(quote, at);
    if (end == std::string_view::npos)
      return std::nullopt;
    std::string out(text.substr(at, end - at));
    at = end + 1;
    return out;
  }
  std::optional<bool> boolean() {
    skipSpace();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (text.substr(at, n) == word) {
        at += n;
        return value;
      }
    }
    return std::nullopt;
  }
  /// A non-negative integer below 2^40.
  std::optional<int64_t> integer() {
    skipSpace();
    int64_t value = 0;
    size_t digits = 0;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
      value = value * 10 + (text[at++] - '0');
      if (++digits > 13 || value >= (int64_t(1) << 40))
        return std::nullopt;
    }
    return digits ? std::optional<int64_t>(value) : std::nullopt;
  }
  /// A tuple of such integers as Python writes it: "()", "(5,)", "(2, 3)"
  /// or "(2, 3,)" ("(5)" is no tuple).
  std::optional<std::vector<int64_t>> shape() {
    if (!take('('))
      return std::nullopt;
    std::vector<int64_t> dims;
    if (take(')'))
      return dims;
    for (;;) {
      std::optional<int64_t> dim = integer();
      if (!dim || dims.size() == kMostDims)
        return std::nullopt;
      dims.push_back(*dim);
      if (take(')'))
        return dims.size() > 1 ? std::optional(dims) : std::nullopt;
      if (!take(','))
        return std::nullopt;
      if (take(')'))
        return dims;
    }
  }

private:
  std::string_view text;
  size_t at = 0;
};
} // namespace

Result<NpyArray> parseNpy(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 4 || bytes.substr(0, kMagic.size()) != kMagic)
    return bad("it does not start with \\x93NUMPY");
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerBytes = 0, headerAt = 0;
  auto byte = [&](size_t i) { return size_t(static_cast<unsigned char>(bytes[i])); };
  if (major == 1) {
    headerBytes = byte(8) | byte(9) << 8;
    headerAt = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("the header is cut short");
    headerBytes = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    headerAt = 12;
  } else {
    return bad(fmt::format("format version {} (1, 2 and 3 are known)", major));
  }
  if (headerBytes > kMostHeaderBytes || headerAt + headerBytes > bytes.size())
    return bad("the header is longer than the file or than 64 KiB");

  HeaderReader header(bytes.substr(headerAt, headerBytes));
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  if (!header.take('{'))
    return bad("the header is not a dict");
  while (!header.take('}')) {
    std::optional<std::string> key = header.string();
    if (!key || !header.take(':'))
      return bad("the header's dict is damaged");
    if (*key == "descr" && !descr)
      descr = header.string();
    else if (*key == "fortran_order" && !fortran)
      fortran = header.boolean();
    else if (*key == "shape" && !shape)
      shape = header.shape();
    else
      return bad("the header has an unknown or repeated key '" + *key + "'");
    if ((*key == "descr" && !descr) || (*key == "fortran_order" && !fortran) ||
        (*key == "shape" && !shape))
      return bad("the header's '" + *key + "' is damaged");
    if (!header.take(',')) {
      if (!header.take('}'))
        return bad("the header's dict is damaged");
      break;
    }
  }
  if (!header.atEnd())
    return bad("the header holds more than its dict");
  if (!descr || !fortran || !shape)
    return bad("the header lacks descr, fortran_order or shape");
  if (*fortran)
    return bad("Fortran order (save a C-ordered array: numpy.ascontiguousarray)");

  NpyArray array;
  size_t itemBytes = 0;
  if (*descr == "<f2")
    itemBytes = 2;
  else if (*descr == "<f4")
    itemBytes = 4;
  else if (*descr == "<f8")
    itemBytes = 8;
  else
    return bad("element type '" + *descr +
               "' (little-endian float16, float32 or float64 are read)");
  array.dtype = descr->substr(1);
  array.shape = *shape;
  uint64_t count = 1;
  for (int64_t dim : array.shape) {
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / uint64_t(dim))
      return bad("the shape's size overflows");
    count *= uint64_t(dim);
  }
  const size_t dataAt = headerAt + headerBytes;
  const uint64_t dataBytes = bytes.size() - dataAt;
  if (count > dataBytes / itemBytes || count * itemBytes != dataBytes)
    return bad(fmt::format("the shape holds {} elements of {} bytes, the data {} bytes", count,
                           itemBytes, dataBytes));
  array.values.resize(size_t(count));
  const char *data = bytes.data() + dataAt;
  for (size_t i = 0; i < array.values.size(); ++i) {
    const char *item = data + i * itemBytes;
    if (itemBytes == 2) {
      uint16_t bits;
      std::memcpy(&bits, item, 2);
      array.values[i] = numerics::halfToFloat(bits);
    } else if (itemBytes == 4) {
      std::memcpy(&array.values[i], item, 4);
    } else {
      double x;
      std::memcpy(&x, item, 8);
      array.values[i] = float(x);
    }
  }
  return array;
}

Result<NpyArray> readNpy(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return Status(StatusCode::InvalidArgument, "cannot open " + path);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad())
    return Status(StatusCode::InvalidArgument, "cannot read " + path);
  auto array = parseNpy(bytes);
  if (!array)
    return Status(StatusCode::InvalidArgument, path + ": " + array.status().message());
  return array;
}

} // namespace turbo
