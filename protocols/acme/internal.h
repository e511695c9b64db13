// Internal to protocols/acme: what the handler files share — a value-or-Problem result, the JWS
// authentication pipeline every POST goes through, rendering of ACME objects as JSON, and small
// parsers. Not part of the module's interface. Pure functions and value types; thread-safe
// (Authenticate writes only through the thread-safe store).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/acme_store.h"
#include "core/ports/store.h"
#include "crypto/jose/jwk.h"
#include "crypto/jose/jws.h"
#include "crypto/key.h"
#include "mapping/snapshot.h"
#include "protocols/acme/linker.h"
#include "protocols/acme/nonces.h"
#include "protocols/acme/problem.h"
#include "protocols/http/message.h"

namespace eg::acme::internal {

// A value or the Problem to answer with.
template <typename T>
class Checked {
 public:
  Checked(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Checked(Problem problem) : v_(std::move(problem)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }
  const Problem& problem() const { return std::get<1>(v_); }

 private:
  std::variant<T, Problem> v_;
};

// ---- the JWS pipeline (auth.cc) ----

enum class KeyMode {
  kJwk,     // newAccount: the key is in the header
  kKid,     // everything an account does: "kid" is our account URL
  kEither,  // revokeCert: the account, or the certificate's own key
};

struct AuthContext {
  NonceStore& used_nonces;
  const NonceCodec& nonces;
  AcmeStore& acme;
  const Linker& linker;
  Clock& clock;
  size_t max_body_bytes;
  Logger& logger;  // unexpected (5xx) errors are logged here; the client sees none of it
  crypto::jose::JwkCache& account_keys;  // stored account keys, parsed once
};

struct AuthedRequest {
  crypto::jose::Jws jws;
  std::optional<AcmeAccount> account;  // KeyMode::kKid (and kEither with a kid)
  nlohmann::json payload;              // the parsed payload object; null for POST-as-GET
  bool post_as_get = false;
};

// Checks, in order: body size (413), Content-Type application/jose+json (415), the flattened JWS
// (malformed, badSignatureAlgorithm, badPublicKey), "url" equal to the request's URL
// (unauthorized), jwk xor kid as `mode` wants (malformed), the account named by kid (exists:
// accountDoesNotExist; valid: unauthorized), the signature (unauthorized), the nonce (badNonce,
// consumed only for an otherwise good request), and that the payload is empty or a JSON object.
Checked<AuthedRequest> Authenticate(const AuthContext& context, const http::Request& request,
                                    KeyMode mode);

// The enrollment account an ACME account's requests use, if `snapshot` still configures it for
// ACME; else the unauthorized problem the client gets.
Checked<const config::AccountConfig*> AcmeEnrollmentAccount(
    const mapping::MappingSnapshot& snapshot, const AcmeAccount& account);

// Parses JSON text without exceptions; nullopt when it is not JSON.
std::optional<nlohmann::json> ParseJson(std::string_view text);

// ---- rendering (render.cc) ----

nlohmann::json AccountJson(const Linker& linker, const http::Request& r, const AcmeAccount& a);
nlohmann::json OrderJson(const Linker& linker, const http::Request& r, const AcmeOrder& o);
nlohmann::json ChallengeJson(const Linker& linker, const http::Request& r, const AcmeChallenge& c);
nlohmann::json AuthzJson(const Linker& linker, const http::Request& r, const AcmeAuthorization& a);
nlohmann::json IdentifierJson(const AcmeIdentifier& id);
http::Response JsonResponse(int status, const nlohmann::json& body);

// RFC 3339 date-time ("2026-11-25T06:30:00Z", fractions and offsets allowed); nullopt if not one.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// The mailto: contacts of an account payload, checked (unsupportedContact for other schemes,
// invalidContact for addresses that are not one plain e-mail address).
Checked<std::vector<std::string>> ParseContacts(const nlohmann::json& contact);

// The e-mail addresses of "mailto:" contacts.
std::vector<std::string> ContactEmails(const std::vector<std::string>& contacts);

}  // namespace eg::acme::internal
