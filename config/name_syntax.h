// Syntax checks for the names, addresses and credentials an administrator writes in the config:
// DNS names, CIDR ranges, email addresses, base64, PBKDF2 password hashes. Pure functions on
// strings (no DNS lookups, no I/O); thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace eg::config {

// ASCII lower-case copy (DNS names and email domains are compared lower-cased).
std::string AsciiLower(std::string_view text);

// A host name in LDH syntax: labels of 1..63 letters, digits and hyphens, not starting or ending
// with a hyphen, at most 253 characters, at least one label, no trailing dot. No wildcard.
// Case-insensitive; callers lower-case first. Explains the problem in `why` when false.
bool IsValidDnsName(std::string_view name, std::string* why = nullptr);

// "192.0.2.0/24", "2001:db8::/32": an address inet_pton accepts and a prefix length within the
// family's width. Host bits beyond the prefix are an error too (they are almost always a typo).
bool IsValidCidr(std::string_view text, std::string* why = nullptr);

// An IPv4 or IPv6 address literal.
bool IsIpAddress(std::string_view text);

// "local@domain": a non-empty local part without spaces, '@' or control characters, and a valid
// DNS domain.
bool IsValidEmail(std::string_view text);

// Standard base64 (RFC 4648 §4) with optional '=' padding; not empty.
bool IsBase64(std::string_view text);

// "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>", iterations a decimal ≥ 1000.
bool IsValidPasswordHash(std::string_view text, std::string* why = nullptr);

}  // namespace eg::config
