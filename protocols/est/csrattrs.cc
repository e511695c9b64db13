// csrattrs (RFC 7030 §4.5, RFC 9908): what a CSR for the account's default profile should hold —
// the key type (and curve or size), the subject fields SCM's form needs, extensionRequest for
// SANs, challengePassword when proof of possession is linked to TLS, and the attestation
// evidence attribute for code signing. Encoded with a small DER writer (OIDs, SEQUENCE, SET,
// INTEGER) so this module needs no ASN.1 library.
#include <algorithm>
#include <cstdlib>

#include "mapping/catalog.h"
#include "mapping/decision.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {
namespace {

using crypto::Bytes;

constexpr std::string_view kChallengePassword = "1.2.840.113549.1.9.7";
constexpr std::string_view kExtensionRequest = "1.2.840.113549.1.9.14";
constexpr std::string_view kSubjectAltName = "2.5.29.17";
constexpr std::string_view kCommonName = "2.5.4.3";
constexpr std::string_view kSurname = "2.5.4.4";
constexpr std::string_view kGivenName = "2.5.4.42";
constexpr std::string_view kEmailAddress = "1.2.840.113549.1.9.1";
constexpr std::string_view kRsaEncryption = "1.2.840.113549.1.1.1";
constexpr std::string_view kSha256WithRsa = "1.2.840.113549.1.1.11";
constexpr std::string_view kEcPublicKey = "1.2.840.10045.2.1";
constexpr std::string_view kEcdsaWithSha256 = "1.2.840.10045.4.3.2";
constexpr std::string_view kEcdsaWithSha384 = "1.2.840.10045.4.3.3";
constexpr std::string_view kEd25519 = "1.3.101.112";
constexpr std::string_view kP256 = "1.2.840.10045.3.1.7";
constexpr std::string_view kP384 = "1.3.132.0.34";
constexpr std::string_view kP521 = "1.3.132.0.35";

Bytes Tlv(uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes len;
    for (size_t v = n; v != 0; v >>= 8) len.insert(len.begin(), static_cast<uint8_t>(v & 0xff));
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void Base128(uint64_t v, Bytes& out) {
  Bytes digits{static_cast<uint8_t>(v & 0x7f)};
  for (v >>= 7; v != 0; v >>= 7) digits.insert(digits.begin(), static_cast<uint8_t>(0x80 | v));
  out.insert(out.end(), digits.begin(), digits.end());
}

// A dotted OID of our own constants (always well formed) as DER.
Bytes Oid(std::string_view dotted) {
  std::vector<uint64_t> arcs;
  const std::string text(dotted);
  const char* p = text.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    arcs.push_back(std::strtoull(p, &end, 10));
    p = *end == '.' ? end + 1 : end;
  }
  Bytes content;
  Base128(arcs[0] * 40 + arcs[1], content);
  for (size_t i = 2; i < arcs.size(); ++i) Base128(arcs[i], content);
  return Tlv(0x06, content);
}

Bytes Integer(int64_t v) {
  Bytes content;
  for (int64_t x = v; x != 0; x >>= 8) content.insert(content.begin(), static_cast<uint8_t>(x));
  if (content.empty() || (content.front() & 0x80)) content.insert(content.begin(), 0);
  return Tlv(0x02, content);
}

Bytes Sequence(const Bytes& content) { return Tlv(0x30, content); }
Bytes Set(const Bytes& content) { return Tlv(0x31, content); }

// Attribute ::= SEQUENCE { type OID, values SET OF ANY }
Bytes Attribute(std::string_view type, const Bytes& values) {
  return Sequence(Concat({Oid(type), Set(values)}));
}

crypto::KeySpec SpecOf(const std::string& algorithm, const std::string& parameter) {
  if (algorithm == "RSA") {
    if (parameter == "3072") return crypto::KeySpec::kRsa3072;
    if (parameter == "4096") return crypto::KeySpec::kRsa4096;
    return crypto::KeySpec::kRsa2048;
  }
  if (algorithm == "EC") {
    if (parameter == "P-384") return crypto::KeySpec::kEcP384;
    if (parameter == "P-521") return crypto::KeySpec::kEcP521;
    return crypto::KeySpec::kEcP256;
  }
  if (algorithm == "EdDSA") return crypto::KeySpec::kEd25519;
  return crypto::KeySpec::kEcP256;
}

}  // namespace

crypto::KeySpec PreferredKeySpec(const config::AccountConfig& account,
                                 const mapping::MappingSnapshot& snapshot) {
  const config::ProfileConfig* profile = mapping::FindProfile(account, "");
  if (profile == nullptr) return crypto::KeySpec::kEcP256;
  const ScmProfile* scm = snapshot.catalog.FindProfile(account.cert_type, profile->scm_profile_id);
  // The profile's own list first ("EC-P-256": the algorithm is what precedes the first '-').
  for (const std::string& label : profile->key_types) {
    const size_t dash = label.find('-');
    if (dash == std::string::npos) continue;
    const std::string algorithm = label.substr(0, dash);
    const std::string parameter = label.substr(dash + 1);
    if (scm == nullptr || mapping::ScmProfileAllows(*scm, algorithm, parameter)) {
      return SpecOf(algorithm, parameter);
    }
  }
  if (scm == nullptr || mapping::ScmProfileAllows(*scm, "EC", "P-256")) {
    return crypto::KeySpec::kEcP256;
  }
  for (const auto& [algorithm, parameters] : scm->key_types) {
    if (!parameters.empty()) return SpecOf(algorithm, parameters.front());
  }
  return crypto::KeySpec::kEcP256;
}

Bytes CsrAttrsDer(const config::AccountConfig& account, const mapping::MappingSnapshot& snapshot) {
  Bytes attrs;
  auto add = [&attrs](const Bytes& b) { attrs.insert(attrs.end(), b.begin(), b.end()); };
  if (account.est.link_pop_to_tls) add(Oid(kChallengePassword));

  const crypto::KeyType key = crypto::KeyTypeOf(PreferredKeySpec(account, snapshot));
  if (key.algorithm == "RSA") {
    add(Attribute(kRsaEncryption, Integer(std::atoi(key.parameter.c_str()))));
    add(Oid(kSha256WithRsa));
  } else if (key.algorithm == "EC") {
    std::string_view curve = kP256;
    if (key.parameter == "P-384") curve = kP384;
    if (key.parameter == "P-521") curve = kP521;
    add(Attribute(kEcPublicKey, Oid(curve)));
    add(Oid(key.parameter == "P-256" ? kEcdsaWithSha256 : kEcdsaWithSha384));
  } else {
    add(Oid(kEd25519));
  }

  add(Oid(kCommonName));
  if (account.cert_type == CertType::kClient || account.cert_type == CertType::kCodeSigning) {
    add(Oid(kEmailAddress));
    add(Oid(kGivenName));
    add(Oid(kSurname));
  }
  add(Attribute(kExtensionRequest, Oid(kSubjectAltName)));
  if (account.cert_type == CertType::kCodeSigning) add(Oid(EvidenceAttributeOid()));
  return Sequence(attrs);
}

}  // namespace eg::est::internal
