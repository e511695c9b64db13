// PKCS#10 certificate signing requests: parse (PEM or DER), check proof of possession, read the
// subject, SANs, key type and attributes; and build one (the daemon, tests, the bench).
// Csr is movable, not copyable; const methods are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/key.h"
#include "crypto/names.h"

struct X509_req_st;  // OpenSSL's X509_REQ

namespace eg::crypto {

// Upper bound for a CSR's DER size; bigger input is refused before parsing.
inline constexpr size_t kMaxCsrDerBytes = 64 * 1024;

class Csr {
 public:
  ~Csr();
  Csr(Csr&&) noexcept;
  Csr& operator=(Csr&&) noexcept;
  Csr(const Csr&) = delete;
  Csr& operator=(const Csr&) = delete;

  static Result<Csr> ParseDer(const Bytes& der);
  static Result<Csr> ParsePem(std::string_view pem);  // "CERTIFICATE REQUEST" (or "NEW ...")
  // PEM if it starts with "-----BEGIN", else DER.
  static Result<Csr> Parse(std::string_view pem_or_der);
  // The SubjectPublicKeyInfo DER of a CSR (PEM or DER, as Parse), read by walking the DER
  // headers without parsing the request or its key: for callers that only need the key's bytes
  // (the SCM client remembering what to compare the issued certificate against). It checks the
  // structure's outline, not the signature or the key: only for a CSR validated elsewhere.
  static Result<Bytes> SpkiDerOf(std::string_view pem_or_der);

  // Proof of possession: the CSR's signature verifies with its own public key.
  Result<void> VerifySignature() const;

  SubjectFields Subject() const;
  SubjectAltNames Sans() const;
  PublicKey Key() const;  // shares the parsed key: no DER round trip
  KeyType Type() const;
  // The SubjectPublicKeyInfo DER, without going through the key (cheaper than Key().SpkiDer()).
  Bytes SpkiDer() const;
  // The challengePassword attribute (RFC 2985), empty if absent.
  std::string ChallengePassword() const;
  // Values (DER of each attribute's SET OF values' elements) of the attribute with the given
  // dotted OID, e.g. the draft-ietf-lamps-csr-attestation evidence attribute.
  std::vector<Bytes> AttributeValues(std::string_view oid) const;

  Bytes Der() const;
  std::string Pem() const;

  X509_req_st* get() const { return req_; }

 private:
  explicit Csr(X509_req_st* req) : req_(req) {}
  X509_req_st* req_;
};

// Builds and signs a CSR. Used by the daemon (its own server certificate), tests and the bench.
struct CsrRequest {
  SubjectFields subject;  // only non-empty fields are written (one_line is ignored)
  SubjectAltNames sans;
  std::string challenge_password;
  // Extra attributes: dotted OID -> DER of one value (added as SET OF with that one value).
  std::vector<std::pair<std::string, Bytes>> extra_attributes;
};
Result<Csr> BuildCsr(const CsrRequest& request, const PrivateKey& key);

}  // namespace eg::crypto
