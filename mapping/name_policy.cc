#include "mapping/name_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace eg::mapping {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

// `name` equals `suffix` or ends with "." + suffix.
bool IsAtOrBelow(std::string_view name, std::string_view suffix) {
  if (name == suffix) return true;
  return name.size() > suffix.size() && name.ends_with(suffix) &&
         name[name.size() - suffix.size() - 1] == '.';
}

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<unsigned char, 16> bytes{};
  int bits() const { return family == AF_INET ? 32 : 128; }
};

bool ParseIp(std::string_view text, IpAddress* out) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

struct Cidr {
  IpAddress base;
  int prefix = 0;
};

Result<Cidr> ParseCidr(std::string_view text) {
  Cidr cidr;
  const size_t slash = text.find('/');
  if (!ParseIp(text.substr(0, slash), &cidr.base)) {
    return InvalidArgument("'" + std::string(text) + "' is not an IP range (CIDR)");
  }
  cidr.prefix = cidr.base.bits();
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return InvalidArgument("'" + std::string(text) + "' has a bad prefix length");
    }
    cidr.prefix = std::stoi(std::string(p));
    if (cidr.prefix > cidr.base.bits()) {
      return InvalidArgument("'" + std::string(text) + "' has a prefix longer than the address");
    }
  }
  return cidr;
}

bool Contains(const Cidr& cidr, const IpAddress& ip) {
  if (cidr.base.family != ip.family) return false;
  int bits = cidr.prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((cidr.base.bytes[i] & mask) != (ip.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<std::string> NormalizeDnsName(std::string_view name) {
  std::string n = Lower(name);
  if (!n.empty() && n.back() == '.') n.pop_back();
  if (n.empty() || n.size() > 253) {
    return InvalidArgument("'" + std::string(name) + "' is not a DNS name");
  }
  std::string_view rest = n;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t dot = rest.find('.', start);
    std::string_view label =
        rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsLdhLabel(label)) {
      return InvalidArgument("'" + std::string(name) + "' is not a DNS name (label '" +
                             std::string(label) + "')");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // No top-level domain is all digits: such a "name" is an IPv4 address in disguise, and taking
  // it as DNS would let it past names.ip_ranges.
  const std::string_view tld = rest.substr(rest.rfind('.') + 1);
  if (std::all_of(tld.begin(), tld.end(), [](unsigned char c) { return std::isdigit(c); })) {
    IpAddress ip;
    return InvalidArgument("'" + std::string(name) +
                           (ParseIp(rest, &ip)
                                ? "' is an IP address, not a DNS name"
                                : "' is not a DNS name (its last label is numeric)"));
  }
  return n;
}

Result<void> CheckDnsName(const config::NamePolicy& policy, std::string_view raw) {
  EG_ASSIGN_OR_RETURN(std::string name, NormalizeDnsName(raw));
  const bool wildcard = name.starts_with("*.");
  if (wildcard && !policy.allow_wildcards) {
    return PermissionDenied("wildcard name '" + name +
                            "' is not allowed (names.allow_wildcards is false)");
  }
  if (policy.allow_any_dns) return Ok();
  const std::string_view base = wildcard ? std::string_view(name).substr(2) : name;
  for (const auto& exact : policy.dns_names) {
    if (Lower(exact) == name) return Ok();
  }
  for (const auto& suffix : policy.dns_suffixes) {
    if (IsAtOrBelow(base, Lower(suffix))) return Ok();
  }
  return PermissionDenied("DNS name '" + name +
                          "' is not in names.dns_names and not under any of names.dns_suffixes");
}

Result<void> CheckIpAddress(const config::NamePolicy& policy, std::string_view text) {
  IpAddress ip;
  if (!ParseIp(text, &ip)) {
    return InvalidArgument("'" + std::string(text) + "' is not an IP address");
  }
  for (const auto& range : policy.ip_ranges) {
    auto cidr = ParseCidr(range);
    if (cidr.ok() && Contains(*cidr, ip)) return Ok();
  }
  return PermissionDenied("IP address '" + std::string(text) +
                          "' is not in any of names.ip_ranges");
}

Result<void> CheckEmail(const config::NamePolicy& policy, std::string_view email) {
  const size_t at = email.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == email.size()) {
    return InvalidArgument("'" + std::string(email) + "' is not an email address");
  }
  const std::string domain = Lower(email.substr(at + 1));
  for (const auto& allowed : policy.email_domains) {
    if (IsAtOrBelow(domain, Lower(allowed))) return Ok();
  }
  return PermissionDenied("email address '" + std::string(email) +
                          "' is not in any of names.email_domains");
}

std::optional<std::string> CanonicalIp(std::string_view text) {
  IpAddress ip;
  if (!ParseIp(text, &ip)) return std::nullopt;
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(ip.family, ip.bytes.data(), out, sizeof out) == nullptr) return std::nullopt;
  return std::string(out);
}

std::string CanonicalName(std::string_view kind, std::string_view value) {
  if (kind == "dns") {
    std::string n = Lower(value);
    if (!n.empty() && n.back() == '.') n.pop_back();
    return n;
  }
  if (kind == "ip") return CanonicalIp(value).value_or(std::string(value));
  std::string out(value);
  if (kind == "email") {
    const size_t at = out.rfind('@');
    if (at != std::string::npos) out = out.substr(0, at) + Lower(out.substr(at));
  }
  return out;
}

Result<void> ValidateCidr(std::string_view cidr) {
  EG_TRY(ParseCidr(cidr));
  return Ok();
}

}  // namespace eg::mapping
