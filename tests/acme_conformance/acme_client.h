// AcmeClient: a small RFC 8555 client for conformance tests against a running enrollgated. It
// speaks real HTTPS (scm_client's Beast/OpenSSL transport, verifying the daemon against its CA
// bundle), reads the directory, keeps the last Replay-Nonce, signs every POST with crypto/jose
// (jwk until an account exists, kid after), and offers each ACME step as one call: newAccount
// (optionally with External Account Binding), newOrder, authorization, challenge, finalize, poll,
// certificate download, revokeCert and renewalInfo. For negative tests it also sends any body
// with any headers as given (PostRaw) and signs with any protected header (SignWithHeader).
//
// Every call returns a Reply; a transport failure is a Reply with status 0 and the reason in
// `transport_error`, so a test can print it with Describe(). Nothing is retried behind the
// caller's back: a badNonce answer is returned as it came.
//
// Not thread-safe: one test thread owns a client.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "crypto/csr.h"
#include "crypto/jose/jws.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "scm/client/http_transport.h"

namespace eg::acme_test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  Headers headers;
  std::string body;
  std::string transport_error;  // set when status is 0

  // Case-insensitive; empty if absent. Links() returns every Link header value.
  std::string Header(std::string_view name) const;
  std::vector<std::string> AllHeaders(std::string_view name) const;
  // The body as JSON (discarded value when it is not JSON).
  nlohmann::json Json() const;
  // The problem document's "type" ("" when the body is not a problem document).
  std::string ProblemType() const;
  // "STATUS content-type body" for assertion messages.
  std::string Describe() const;
};

inline constexpr std::string_view kProblemPrefix = "urn:ietf:params:acme:error:";
// The full problem type URN of `type` ("badCSR" -> "urn:ietf:params:acme:error:badCSR").
inline std::string Problem(std::string_view type) {
  return std::string(kProblemPrefix) + std::string(type);
}

// An EAB credential as `enrollgate eab create` prints it.
struct EabCredential {
  std::string key_id;
  std::string hmac_key_b64url;
};

class AcmeClient {
 public:
  // `directory_url` is https://HOST:PORT/acme/directory; `ca_bundle_pem` the daemon's CA bundle.
  // The account key is a fresh P-256 key (SetAccountKey changes it).
  static Result<std::unique_ptr<AcmeClient>> Create(std::string directory_url,
                                                    const std::string& ca_bundle_pem);

  AcmeClient(const AcmeClient&) = delete;
  AcmeClient& operator=(const AcmeClient&) = delete;

  // ---- Plain HTTPS ----
  // (No HEAD: the transport would wait for a body; tests send HEAD with curl.)
  Reply Get(const std::string& url, const Headers& headers = {});
  // Sends exactly this body and these headers (nothing added but Host and Content-Length).
  Reply PostRaw(const std::string& url, const std::string& body, const Headers& headers);
  // The same with PUT (the SCM emulator's test switches).
  Reply PutRaw(const std::string& url, const std::string& body, const Headers& headers);
  // PostRaw with Content-Type application/jose+json.
  Reply PostJose(const std::string& url, const std::string& body);

  // ---- Directory and nonces ----
  // Fetches and caches the directory; an error when it cannot be read or is not an object.
  Result<nlohmann::json> Directory();
  // A directory entry's URL ("newNonce", "newAccount", ...); "" when absent.
  std::string Url(std::string_view name);
  // A fresh nonce from GET newNonce (also remembered as the next one to use).
  Result<std::string> FreshNonce();
  // The nonce the next signed request would use (the last Replay-Nonce), fetching one if none.
  Result<std::string> NextNonce();
  // Forgets the remembered nonce, so a test can reuse an old one on purpose.
  void DropNonce() { nonce_.reset(); }

  // ---- Keys and signing ----
  const crypto::PrivateKey& account_key() const { return *key_; }
  void SetAccountKey(crypto::PrivateKey key);
  const std::string& kid() const { return kid_; }
  void SetKid(std::string kid) { kid_ = std::move(kid); }
  // A JWS over `payload` ("" for POST-as-GET) with this client's key, kid (or jwk when no
  // account yet), `url` and `nonce` (the next nonce when nullopt).
  Result<std::string> Sign(const std::string& url, std::string_view payload,
                           std::optional<std::string> nonce = std::nullopt);
  // Signs with the given protected header as-is (negative tests), with this client's key.
  Result<std::string> SignWithHeader(const nlohmann::json& protected_header,
                                     std::string_view payload);
  // The protected header Sign would use (to alter one member).
  Result<nlohmann::json> DefaultHeader(const std::string& url);

  // Signs `payload` (nullopt: POST-as-GET) and posts it.
  Reply Post(const std::string& url, const std::optional<nlohmann::json>& payload);

  // ---- ACME steps ----
  // newAccount with termsOfServiceAgreed and `contact`, `eab` when given; on 200/201 remembers
  // the Location as kid.
  Reply NewAccount(const std::optional<EabCredential>& eab,
                   const std::vector<std::string>& contact = {"mailto:ops@example.test"},
                   nlohmann::json extra = nlohmann::json::object());
  // The "externalAccountBinding" object for this client's key and the newAccount URL.
  Result<nlohmann::json> BuildEab(const EabCredential& eab, const std::string& url);
  Reply NewOrder(const std::vector<std::string>& dns_names,
                 nlohmann::json extra = nlohmann::json::object());
  Reply PostAsGet(const std::string& url) { return Post(url, std::nullopt); }
  // Answers a challenge ({}).
  Reply RespondToChallenge(const std::string& challenge_url);
  Reply Finalize(const std::string& finalize_url, const crypto::Bytes& csr_der);
  // POST-as-GETs `url` until its "status" is one of `until` or the deadline passes; the last
  // reply either way. Waits Retry-After (bounded by `max_wait`) or 200 ms between polls.
  Reply PollStatus(const std::string& url, const std::vector<std::string>& until,
                   std::chrono::steady_clock::duration timeout,
                   std::chrono::milliseconds max_wait = std::chrono::milliseconds(1000));
  // revokeCert signed by the account (or, with `cert_key`, by the certificate's key with jwk).
  Reply Revoke(const crypto::Bytes& cert_der, std::optional<int> reason = std::nullopt,
               const crypto::PrivateKey* cert_key = nullptr);
  // GET {renewalInfo}/{cert_id} (RFC 9773 §4.1).
  Reply RenewalInfo(const std::string& cert_id);

  // Creates an order for `dns_names`, requires every authorization already valid (pre-validated
  // account), finalizes with a fresh CSR for `csr_key` (P-256 when null), polls to valid and
  // downloads the chain. Returns the chain PEM or an error naming the failing step.
  struct Issued {
    std::string order_url;
    nlohmann::json order;
    std::string chain_pem;
    std::unique_ptr<crypto::PrivateKey> key;
  };
  Result<Issued> IssuePreValidated(const std::vector<std::string>& dns_names,
                                   std::chrono::steady_clock::duration timeout);

 private:
  AcmeClient(std::string directory_url, std::unique_ptr<scm_client::HttpTransport> transport);
  Reply Send(const std::string& method, const std::string& url, const std::string& body,
             const Headers& headers);

  std::string directory_url_;
  std::unique_ptr<scm_client::HttpTransport> transport_;
  std::optional<nlohmann::json> directory_;
  std::optional<std::string> nonce_;
  std::unique_ptr<crypto::PrivateKey> key_;
  std::string kid_;
};

// A CSR for `dns_names` (first one as CN) signed by `key`.
Result<crypto::Csr> MakeCsr(const std::vector<std::string>& dns_names,
                            const crypto::PrivateKey& key);

// RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial DER
// content), computed here independently of the server's code.
std::string AriCertId(const crypto::Certificate& cert);

// Parses an RFC 3339 timestamp ("2026-11-28T02:00:00Z", fractional seconds allowed).
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace eg::acme_test
