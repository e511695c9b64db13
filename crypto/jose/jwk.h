// JWK (RFC 7517, RFC 7518 §6, RFC 8037) for ACME account keys: parse a public JWK into a
// crypto::PublicKey under the account key policy, write a PublicKey back as a JWK, and the
// RFC 7638 thumbprint.
//
// Policy: RSA with a 2048..8192-bit odd modulus and an odd public exponent >= 3 of at most 32
// bits; EC P-256/P-384/P-521 with x and y of exactly the curve's length forming a point on the
// curve; OKP Ed25519. Private members ("d", "p", "q", "dp", "dq", "qi", "oth", "k") are refused.
// Errors are classed as errors.h says (malformed vs badPublicKey).
// Pure functions; thread-safe. JwkCache is thread-safe too.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "crypto/key.h"

namespace eg::crypto::jose {

// A JWK object (already parsed JSON, e.g. the "jwk" member of a protected header).
Result<PublicKey> ParseJwk(const nlohmann::json& jwk);
// A JWK as JSON text.
Result<PublicKey> ParseJwkText(std::string_view text);

// ParseJwkText remembered by the JWK text: a stored account key is parsed (JSON, base64url, an
// OpenSSL key import) once, not on every request signed with it. The text is the lookup key, so
// an entry never goes stale whatever changes in the store; failures are not kept. Holds at most
// `capacity` keys, dropping the oldest first.
class JwkCache {
 public:
  explicit JwkCache(size_t capacity = 4096) : capacity_(capacity) {}
  JwkCache(const JwkCache&) = delete;
  JwkCache& operator=(const JwkCache&) = delete;

  Result<std::shared_ptr<const PublicKey>> Parse(std::string_view text);

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const PublicKey>> keys_;
  std::deque<std::string> order_;  // insertion order, for dropping the oldest
};

// The public JWK of `key` with exactly the members RFC 7638 §3.2 requires, so `dump()` of it is
// the canonical form. Fails for key types outside the policy (Ed448, other curves).
Result<nlohmann::json> ToJwk(const PublicKey& key);

// RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), no padding.
Result<std::string> Thumbprint(const PublicKey& key);

}  // namespace eg::crypto::jose
