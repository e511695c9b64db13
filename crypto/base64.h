// Base64 (RFC 4648 §4) and base64url without padding (§5, as JOSE uses it).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace eg::crypto {

using Bytes = std::vector<uint8_t>;

std::string Base64Encode(std::string_view data);
std::string Base64Encode(const Bytes& data);
// Accepts padding, and skips ASCII whitespace (CR, LF, space, tab) anywhere, as EST bodies
// (RFC 8951) and PEM need. Any other non-alphabet byte or a bad length is an InvalidArgument.
Result<Bytes> Base64Decode(std::string_view text);

std::string Base64UrlEncode(std::string_view data);
std::string Base64UrlEncode(const Bytes& data);
// Strict: base64url alphabet only, no padding, no whitespace (RFC 7515 §2).
Result<Bytes> Base64UrlDecode(std::string_view text);

// Lower-case hex, and colon-separated upper-case hex ("0A:1B:...") as SCM shows serials.
std::string HexEncode(const Bytes& data);
std::string ColonHex(const Bytes& data);

inline std::string_view AsStringView(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace eg::crypto
