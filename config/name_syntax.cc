#include "config/name_syntax.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>

namespace eg::config {
namespace {

void Explain(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
}

bool IsLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsValidDnsName(std::string_view name, std::string* why) {
  if (name.empty()) {
    Explain(why, "empty name");
    return false;
  }
  if (name.size() > 253) {
    Explain(why, "longer than 253 characters");
    return false;
  }
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      Explain(why, "empty label");
      return false;
    }
    if (label.size() > 63) {
      Explain(why, "label longer than 63 characters");
      return false;
    }
    for (char c : label) {
      if (!IsLdh(c)) {
        Explain(why, std::string("invalid character '") + c + "'");
        return false;
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      Explain(why, "label starts or ends with '-'");
      return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool IsIpAddress(std::string_view text) {
  std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsValidCidr(std::string_view text, std::string* why) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    Explain(why, "expected ADDRESS/PREFIX");
    return false;
  }
  std::string address(text.substr(0, slash));
  std::string_view prefix_text = text.substr(slash + 1);
  unsigned char bytes[16] = {};
  int width;
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    width = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    width = 128;
  } else {
    Explain(why, "\"" + address + "\" is not an IPv4 or IPv6 address");
    return false;
  }
  int prefix = -1;
  auto [end, ec] =
      std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (prefix_text.empty() || ec != std::errc() || end != prefix_text.data() + prefix_text.size() ||
      prefix < 0 || prefix > width) {
    Explain(why, "prefix length must be 0.." + std::to_string(width));
    return false;
  }
  for (int bit = prefix; bit < width; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) {
      Explain(why, "address has bits set beyond the /" + std::to_string(prefix) + " prefix");
      return false;
    }
  }
  return true;
}

bool IsValidEmail(std::string_view text) {
  size_t at = text.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  for (char c : text.substr(0, at)) {
    if (c == '@' || c == ' ' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return false;
  }
  return IsValidDnsName(AsciiLower(text.substr(at + 1)));
}

bool IsBase64(std::string_view text) {
  size_t n = text.size();
  size_t pad = 0;
  while (pad < 2 && n > pad && text[n - 1 - pad] == '=') ++pad;
  if (n == pad) return false;
  if (pad > 0 && n % 4 != 0) return false;
  for (size_t i = 0; i < n - pad; ++i) {
    char c = text[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  return (n - pad) % 4 != 1;
}

bool IsValidPasswordHash(std::string_view text, std::string* why) {
  constexpr std::string_view kScheme = "pbkdf2-sha256$";
  if (text.substr(0, kScheme.size()) != kScheme) {
    Explain(why, "expected pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>");
    return false;
  }
  std::string_view rest = text.substr(kScheme.size());
  size_t d1 = rest.find('$');
  size_t d2 = d1 == std::string_view::npos ? d1 : rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos) {
    Explain(why, "expected pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>");
    return false;
  }
  std::string_view iterations = rest.substr(0, d1);
  std::string_view salt = rest.substr(d1 + 1, d2 - d1 - 1);
  std::string_view hash = rest.substr(d2 + 1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(iterations.data(), iterations.data() + iterations.size(), n);
  if (iterations.empty() || ec != std::errc() || end != iterations.data() + iterations.size() ||
      n < 1000) {
    Explain(why, "iteration count must be a decimal number of at least 1000");
    return false;
  }
  if (!IsBase64(salt)) {
    Explain(why, "salt is not base64");
    return false;
  }
  if (!IsBase64(hash)) {
    Explain(why, "hash is not base64");
    return false;
  }
  return true;
}

}  // namespace eg::config
