// Subject names and subject alternative names, as plain values. Thread-safe value types.
#pragma once

#include <string>
#include <vector>

namespace eg::crypto {

// The subject fields enrollgate cares about; empty when absent. Multi-valued attributes keep the
// first value.
struct SubjectFields {
  std::string common_name;          // CN
  std::string given_name;           // GN
  std::string surname;              // SN
  std::string email;                // emailAddress
  std::string organization;         // O
  std::string organizational_unit;  // OU
  std::string country;              // C
  std::string state;                // ST
  std::string locality;             // L
  std::string serial_number;        // serialNumber
  std::string one_line;             // RFC 2253 form, e.g. "CN=a,O=b"
  bool operator==(const SubjectFields&) const = default;
};

struct SubjectAltNames {
  std::vector<std::string> dns;
  std::vector<std::string> ip;     // textual, "192.0.2.1" / "2001:db8::1"
  std::vector<std::string> email;  // rfc822Name
  std::vector<std::string> uri;
  // Kinds not modelled above ("otherName", "directoryName", "registeredID", ...), one entry per
  // name, so that callers can refuse what they cannot check.
  std::vector<std::string> other;
  bool empty() const {
    return dns.empty() && ip.empty() && email.empty() && uri.empty() && other.empty();
  }
  bool operator==(const SubjectAltNames&) const = default;
};

}  // namespace eg::crypto
