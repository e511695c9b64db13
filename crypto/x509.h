// X.509 certificates: parse and inspect; and issue (the SCM emulator's CA, tests).
// Certificate is a cheap-to-copy handle (shared, immutable); const methods are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/ports/scm_api.h"
#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/key.h"
#include "crypto/names.h"

struct x509_st;  // OpenSSL's X509

namespace eg::crypto {

inline constexpr size_t kMaxCertDerBytes = 64 * 1024;

class Csr;

// Extended key usage purposes, by name.
enum class Eku { kServerAuth, kClientAuth, kCodeSigning, kEmailProtection };

class Certificate {
 public:
  static Result<Certificate> ParseDer(const Bytes& der);
  static Result<Certificate> ParsePem(std::string_view pem);  // the first "CERTIFICATE" block
  // Every "CERTIFICATE" block, in order; at least one, else InvalidArgument.
  static Result<std::vector<Certificate>> ParsePemChain(std::string_view pem);

  Bytes SerialBytes() const;
  std::string SerialHex() const;    // lower-case hex, no separators
  std::string SerialColon() const;  // "0A:1B:..." as SCM shows it
  TimePoint NotBefore() const;
  TimePoint NotAfter() const;
  SubjectFields Subject() const;
  SubjectFields Issuer() const;
  SubjectAltNames Sans() const;
  std::vector<Eku> Ekus() const;
  bool IsCa() const;
  Bytes SubjectKeyId() const;    // empty if absent
  Bytes AuthorityKeyId() const;  // empty if absent
  PublicKey Key() const;         // shares the parsed key: no DER round trip
  // The SubjectPublicKeyInfo DER, without going through the key (cheaper than Key().SpkiDer()).
  Bytes SpkiDer() const;
  // True if `issuer`'s key verifies this certificate's signature.
  bool IsSignedBy(const Certificate& issuer) const;
  Bytes Der() const;
  std::string Pem() const;
  // SHA-256 of the DER, lower-case hex.
  std::string FingerprintSha256() const;

  x509_st* get() const { return cert_.get(); }

 private:
  explicit Certificate(std::shared_ptr<x509_st> cert) : cert_(std::move(cert)) {}
  std::shared_ptr<x509_st> cert_;
};

// What a CA puts into a certificate it issues.
struct IssueRequest {
  SubjectFields subject;  // non-empty fields only
  SubjectAltNames sans;
  std::vector<Eku> ekus;
  TimePoint not_before;
  TimePoint not_after;
  Bytes serial;  // empty: 16 random bytes, positive
  bool is_ca = false;
  // Extra non-critical extensions: dotted OID -> DER of the extension value.
  std::vector<std::pair<std::string, Bytes>> extra_extensions;
};

// Signs a certificate for `subject_key` with `issuer_key`; `issuer` null makes it self-signed.
// Adds basicConstraints, keyUsage suited to the key and role, SKI and AKI.
Result<Certificate> IssueCertificate(const IssueRequest& request, const PublicKey& subject_key,
                                     const PrivateKey& issuer_key, const Certificate* issuer);
// The same for the key in `csr`, whose SubjectPublicKeyInfo is copied as it is (cheaper than
// IssueCertificate(request, csr.Key(), ...), which encodes the key and decodes it again).
Result<Certificate> IssueCertificate(const IssueRequest& request, const Csr& csr,
                                     const PrivateKey& issuer_key, const Certificate* issuer);

// What the gateway records about an issued leaf and checks against the request
// (issuance/verify.h): serial, CN, fingerprint, validity, key and subject alternative names.
ScmLeafFacts LeafFacts(const Certificate& leaf);

// Verifies that `leaf` chains through `intermediates` to one of `anchors` (signatures and
// validity at `now`; no revocation). Returns the anchor reached.
Result<Certificate> VerifyChain(const Certificate& leaf,
                                const std::vector<Certificate>& intermediates,
                                const std::vector<Certificate>& anchors, TimePoint now);

}  // namespace eg::crypto
