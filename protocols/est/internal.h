// Internal to protocols/est: what the handler files share — a value-or-answer result, the
// per-snapshot account files (trust anchors, /cacerts), authentication, body decoding, the
// renderers, and the seam to helper C's crypto (seal.h, attestation.h). Not part of the module's
// interface. Functions are pure or thread-safe as noted.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/csr.h"
#include "crypto/x509.h"
#include "issuance/service.h"
#include "mapping/snapshot.h"
#include "protocols/http/message.h"

namespace eg::est::internal {

// A value or the answer to send instead (an EST error status with its plain-text reason).
template <typename T>
class Checked {
 public:
  Checked(T value) : v_(std::move(value)) {}                 // NOLINT(google-explicit-constructor)
  Checked(http::Response answer) : v_(std::move(answer)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }
  http::Response& answer() { return std::get<1>(v_); }

 private:
  std::variant<T, http::Response> v_;
};

// ---- answers (render.cc) ----

// A plain-text reason with `status` (a line end is added).
http::Response Refuse(int status, std::string reason);
// The generic 500 that never shows internal detail (the caller logs it).
http::Response ServerError();
// 503 + Retry-After for a dependency that is down (the store, SCM).
http::Response ServiceUnavailable();
// Base64 in 76-column lines ending in CRLF (RFC 2045), as EST bodies are sent.
std::string WrapBase64(const crypto::Bytes& der);
// 200 application/pkcs7-mime; smime-type=certs-only, base64.
http::Response CertsOnlyResponse(const crypto::Bytes& pkcs7_der, bool smime_certs_only);
// The certs-only PKCS#7 of a stored chain (leaf first).
Result<crypto::Bytes> CertsOnlyFromPem(std::string_view chain_pem);
// RFC 7030 §4.4.2: multipart/mixed with the application/pkcs8 key and the certs-only PKCS#7.
http::Response ServerKeygenResponse(const crypto::Bytes& pkcs8_der, const crypto::Bytes& pkcs7_der);

// ---- per-snapshot account files (files.cc) ----

// What an account's configured files hold, read once per mapping snapshot.
struct AccountFiles {
  std::vector<crypto::Certificate> client_anchors;
  std::vector<crypto::Certificate> attestation_anchors;
  std::optional<std::regex> subject_pattern;
  std::optional<crypto::Bytes> ca_certs;  // certs-only PKCS#7 for /cacerts; nullopt = default
  std::string error;                      // a file that did not load (logged); "" = all fine
};

// Per-snapshot cache: Get() loads every account's files when the snapshot changes.
// Thread-safe.
class FilesCache {
 public:
  explicit FilesCache(Logger& logger) : logger_(logger) {}
  std::shared_ptr<const std::unordered_map<std::string, AccountFiles>> Get(
      const std::shared_ptr<const mapping::MappingSnapshot>& snapshot);

 private:
  Logger& logger_;
  std::mutex mu_;
  std::weak_ptr<const mapping::MappingSnapshot> snapshot_;
  const mapping::MappingSnapshot* snapshot_raw_ = nullptr;
  std::shared_ptr<const std::unordered_map<std::string, AccountFiles>> files_;
};

// ---- authentication (auth.cc) ----

struct Caller {
  std::string requester;  // Basic user, client-certificate subject, or "anonymous"
  std::string method;     // "client-cert" | "issued-cert" | "basic" | "none"
  // With "issued-cert": the TLS client certificate and the gateway's record of it, as checked,
  // so simplereenroll does not parse and look it up again.
  std::optional<crypto::Certificate> certificate;
  std::optional<CertificateRecord> issued;
};

// Successful Basic verifications, keyed by SHA-256 over (user, password, stored hash) — never
// the password itself — so a device polling with 202 does not pay PBKDF2 on every retry.
// Bounded: when full, it starts over. Thread-safe.
class PasswordCache {
 public:
  static constexpr size_t kMaxEntries = 4096;
  bool Contains(const std::string& key);
  void Insert(const std::string& key);

 private:
  std::mutex mu_;
  std::unordered_set<std::string> entries_;
};

struct AuthContext {
  issuance::IssuanceService& issuance;
  PasswordCache& passwords;
  Logger& logger;
  TimePoint now;
};

// RFC 7030 §3.2.3, §3.3.2: the TLS client certificate (account anchors + subject pattern, or a
// certificate this gateway issued under the account), else HTTP Basic, else auth_none. 401 with
// WWW-Authenticate when a password-protected label gets no credentials, 403 with the reason when
// the credentials are wrong.
Checked<Caller> Authenticate(const AuthContext& context, const http::Request& request,
                             const config::AccountConfig& account, const AccountFiles& files);

// The certificate a request presented, looked up as one this gateway issued under `account`:
// 403 if it is not ours, another account's, not byte-equal, revoked or expired. `*issued_here`
// (when given) says whether the store knows the serial at all.
Checked<CertificateRecord> IssuedClientCertificate(const AuthContext& context,
                                                   const crypto::Certificate& leaf,
                                                   const config::AccountConfig& account,
                                                   bool* issued_here = nullptr);

// ---- request bodies (body.cc) ----

// RFC 7030 §4.2.1 + RFC 8951: a base64 DER PKCS#10 (Content-Transfer-Encoding ignored, whitespace
// and CRLF line wraps accepted), parsed and with its signature verified; 415 for another
// Content-Type, 400 with the reason otherwise.
Checked<crypto::Csr> ReadCsr(const http::Request& request);

// RFC 7030 §3.5: when the account links proof of possession to TLS, the CSR's challengePassword
// must be base64 of the connection's channel binding (tls-unique / tls-exporter).
std::optional<http::Response> CheckPopLinkedToTls(const config::AccountConfig& account,
                                                  const crypto::Csr& csr,
                                                  const http::ClientIdentity& client);

// ---- csrattrs (csrattrs.cc) ----

// The DER CsrAttrs (RFC 7030 §4.5.2) for the account's default profile.
crypto::Bytes CsrAttrsDer(const config::AccountConfig& account,
                          const mapping::MappingSnapshot& snapshot);
// The key type the account's default profile prefers (serverkeygen generates it).
crypto::KeySpec PreferredKeySpec(const config::AccountConfig& account,
                                 const mapping::MappingSnapshot& snapshot);

// ---- the seam to helper C's crypto (crypto_seam.cc) ----

// draft-ietf-lamps-csr-attestation's evidence attribute (crypto::kEvidenceAttributeOid).
std::string_view EvidenceAttributeOid();
// crypto::Seal / crypto::Open (AES-256-GCM, aad bound).
Result<crypto::Bytes> SealKey(const crypto::Bytes& kek, const crypto::Bytes& plaintext,
                              std::string_view aad);
Result<crypto::Bytes> OpenKey(const crypto::Bytes& kek, const crypto::Bytes& sealed,
                              std::string_view aad);
// crypto::VerifyKeyAttestation: the evidence for SCM, or kInvalidArgument with the reason.
Result<std::string> VerifyAttestation(const crypto::Csr& csr,
                                      const std::vector<crypto::Certificate>& anchors,
                                      TimePoint now);

// ---- small helpers (render.cc) ----

// Lower-case hex SHA-256 over the parts joined with NUL bytes (request keys, cache keys).
std::string HashKey(std::initializer_list<std::string_view> parts);

}  // namespace eg::est::internal
