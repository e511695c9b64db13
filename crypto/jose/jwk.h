// JWK (RFC 7517, RFC 7518 §6, RFC 8037) for ACME account keys: parse a public JWK into a
// crypto::PublicKey under the account key policy, write a PublicKey back as a JWK, and the
// RFC 7638 thumbprint.
//
// Policy: RSA with a 2048..8192-bit odd modulus and an odd public exponent >= 3 of at most 32
// bits; EC P-256/P-384/P-521 with x and y of exactly the curve's length forming a point on the
// curve; OKP Ed25519. Private members ("d", "p", "q", "dp", "dq", "qi", "oth", "k") are refused.
// Errors are classed as errors.h says (malformed vs badPublicKey).
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/key.h"

namespace eg::crypto::jose {

// A JWK object (already parsed JSON, e.g. the "jwk" member of a protected header).
Result<PublicKey> ParseJwk(const nlohmann::json& jwk);
// A JWK as JSON text.
Result<PublicKey> ParseJwkText(std::string_view text);

// The public JWK of `key` with exactly the members RFC 7638 §3.2 requires, so `dump()` of it is
// the canonical form. Fails for key types outside the policy (Ed448, other curves).
Result<nlohmann::json> ToJwk(const PublicKey& key);

// RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), no padding.
Result<std::string> Thumbprint(const PublicKey& key);

}  // namespace eg::crypto::jose
