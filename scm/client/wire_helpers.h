// Small helpers of the SCM client: the idempotency token in `comments`, ordering a collected
// chain leaf first, and CSR / id formatting. Thread-safe: the functions keep no state, and
// CaCertificateCache locks its own.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/ports/scm_api.h"
#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/x509.h"

namespace eg::scm_client {

// `comments` + " [eg:<token>]", cutting `comments` (at a UTF-8 character boundary) so that the
// whole stays within SCM's 1024 characters. InvalidArgument if the marker alone is too long.
Result<std::string> AppendTokenToComments(std::string_view comments, std::string_view token);
bool CommentsHaveToken(std::string_view comments, std::string_view token);

// A certificate of a collected chain with what ordering the chain reads from it.
struct CollectedCertificate {
  crypto::Certificate cert;
  std::string subject;  // one-line forms, compared to chain certificates
  std::string issuer;
  std::string common_name;
  bool is_ca = false;
  std::string pem;
};

// Every collected chain repeats the same few issuing CAs: this keeps them parsed, keyed by their
// DER, so that collect parses only the leaf. Holds CA certificates only (a leaf is never seen
// twice) and at most kMaxEntries; past that, new CAs are parsed each time (a deployment has a
// handful). Thread-safe.
class CaCertificateCache {
 public:
  static constexpr size_t kMaxEntries = 64;
  std::shared_ptr<const CollectedCertificate> Find(const crypto::Bytes& der) const;
  void Add(const crypto::Bytes& der, std::shared_ptr<const CollectedCertificate> ca);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<crypto::Bytes, std::shared_ptr<const CollectedCertificate>, std::less<>> entries_;
};

// Parses what collect returned (PEM certificates, or PEM/DER PKCS#7 certs-only), finds the leaf
// (the certificate that issued none of the others) and orders the rest by issuer -> subject.
// Certificates that do not chain are kept, after the chain. Errors name `operation`. The result
// carries the leaf's facts (ScmCertificate::leaf), which issuance checks against the request.
// `cas`, when given, supplies and keeps the CA certificates of PEM input already parsed.
Result<ScmCertificate> OrderCollectedChain(std::string_view body, std::string_view operation,
                                           CaCertificateCache* cas = nullptr);

// The DER of a PEM CSR as one base64 line (code signing wants no PEM lines). Input that is not
// PEM is returned with whitespace removed.
std::string CsrToSingleLineBase64(std::string_view csr_pem);

// Ids go into URL paths: only [A-Za-z0-9_.-], 1..64 characters.
bool IsSafeId(std::string_view id);

}  // namespace eg::scm_client
