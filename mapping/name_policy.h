// Name policy: may an enrollment account have this DNS name, IP address or email address?
// Pure functions over config::NamePolicy; each refusal says which rule refused it. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/accounts.h"
#include "core/result.h"

namespace eg::mapping {

// Lower-cases and strips one trailing dot; InvalidArgument for names that are not LDH labels
// (an optional leading "*." wildcard label is kept).
Result<std::string> NormalizeDnsName(std::string_view name);

// Each returns Ok or PermissionDenied with a message naming the name and the rule.
Result<void> CheckDnsName(const config::NamePolicy& policy, std::string_view name);
Result<void> CheckIpAddress(const config::NamePolicy& policy, std::string_view ip);
Result<void> CheckEmail(const config::NamePolicy& policy, std::string_view email);

// A textual IPv4 or IPv6 address (inet_pton's syntax) in the form inet_ntop writes; nullopt for
// anything else.
std::optional<std::string> CanonicalIp(std::string_view text);
inline bool IsIpAddress(std::string_view text) { return CanonicalIp(text).has_value(); }

// The one form names are compared in (`kind` "dns" | "ip" | "email" | other): DNS lower-cased
// without a trailing dot, IPs as CanonicalIp, emails with a lower-cased domain, anything else
// as it is.
std::string CanonicalName(std::string_view kind, std::string_view value);

// Parses "192.0.2.0/24" or "2001:db8::/32" (a bare address is a /32 or /128).
Result<void> ValidateCidr(std::string_view cidr);

}  // namespace eg::mapping
