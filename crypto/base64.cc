// Base64 and base64url: small table-driven codecs (OpenSSL's EVP_EncodeBlock has no url alphabet
// and EVP_DecodeBlock does not report padding, so both are written here once).
#include "crypto/base64.h"

#include <array>

namespace eg::crypto {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> MakeTable(const char* alphabet) {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto kStdTable = MakeTable(kStd);
constexpr auto kUrlTable = MakeTable(kUrl);

std::string Encode(const uint8_t* p, size_t n, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = n - i;
  if (rest == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// Decodes sextets already stripped of whitespace and padding.
Result<Bytes> DecodeSextets(std::string_view s, const std::array<int8_t, 256>& table,
                            std::string_view what) {
  if (s.size() % 4 == 1) {
    return InvalidArgument(std::string(what) + ": invalid length");
  }
  Bytes out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int8_t v = table[static_cast<uint8_t>(c)];
    if (v < 0) return InvalidArgument(std::string(what) + ": invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return InvalidArgument(std::string(what) + ": non-canonical trailing bits");
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::string Base64Encode(std::string_view data) {
  return Encode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), kStd, true);
}
std::string Base64Encode(const Bytes& data) { return Encode(data.data(), data.size(), kStd, true); }

Result<Bytes> Base64Decode(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  size_t padding = 0;
  for (char c : text) {
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return InvalidArgument("base64: data after padding");
    s.push_back(c);
  }
  if (padding > 2) return InvalidArgument("base64: too much padding");
  if (padding > 0 && (s.size() + padding) % 4 != 0) {
    return InvalidArgument("base64: padding does not match length");
  }
  return DecodeSextets(s, kStdTable, "base64");
}

std::string Base64UrlEncode(std::string_view data) {
  return Encode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), kUrl, false);
}
std::string Base64UrlEncode(const Bytes& data) {
  return Encode(data.data(), data.size(), kUrl, false);
}

Result<Bytes> Base64UrlDecode(std::string_view text) {
  return DecodeSextets(text, kUrlTable, "base64url");
}

std::string HexEncode(const Bytes& data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string ColonHex(const Bytes& data) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(data.size() * 3);
  for (size_t i = 0; i < data.size(); ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

}  // namespace eg::crypto
