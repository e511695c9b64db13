// JWS for ACME requests (RFC 7515 flattened JSON serialization, RFC 8555 §6.2): parse a request
// body once into a Jws (header fields, payload bytes, embedded key, exact signing input),
// verify its signature, and sign one (the client side, for tests, the bench and protocol tests).
//
// Rules enforced by ParseJws: flattened form only ("signatures" and an unprotected "header" are
// malformed); protected header with "alg" from the allow-list (ES256, ES384, ES512, RS256, EdDSA:
// what certbot and lego send, RFC 8555 §6.2 — "none" and every MAC alg are
// badSignatureAlgorithm), "url", optional "nonce" (the ACME layer decides badNonce), exactly one
// of "jwk" and "kid", no "crit" and no "b64". Other header members are ignored.
// Errors are classed as errors.h says. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/base64.h"
#include "crypto/key.h"

namespace eg::crypto::jose {

// Size limits, in characters of the base64url members / bytes of the body.
inline constexpr size_t kMaxJwsBodyBytes = 256 * 1024;
inline constexpr size_t kMaxProtectedChars = 8 * 1024;
inline constexpr size_t kMaxPayloadChars = 192 * 1024;
inline constexpr size_t kMaxSignatureChars = 1400;  // an RSA-8192 signature is 1366
inline constexpr size_t kMaxUrlChars = 2048;
inline constexpr size_t kMaxKidChars = 2048;
inline constexpr size_t kMaxNonceChars = 512;

enum class JwsAlg { kEs256, kEs384, kEs512, kRs256, kEdDsa };

std::string_view JwsAlgName(JwsAlg alg);  // "ES256" ...
// The account-JWS allow-list; anything else (including "none", "HS256") is badSignatureAlgorithm.
Result<JwsAlg> ParseJwsAlg(std::string_view name);
// badSignatureAlgorithm unless `key` signs with `alg` (ES256 ⇔ P-256, ES384 ⇔ P-384,
// ES512 ⇔ P-521, RS256 ⇔ RSA, EdDSA ⇔ Ed25519).
Result<void> CheckAlgFitsKey(JwsAlg alg, const PublicKey& key);
// The algorithm a client signs with for `key` (RSA → RS256, by curve for EC, Ed25519 → EdDSA).
Result<JwsAlg> AlgForKey(const PublicKey& key);

// One parsed account JWS. Holds everything the ACME layer needs, so it never re-parses.
struct Jws {
  JwsAlg alg = JwsAlg::kEs256;
  std::optional<std::string> nonce;  // absent → the ACME layer answers badNonce
  std::string url;
  std::string kid;               // empty when the header carries "jwk"
  std::optional<PublicKey> jwk;  // set when the header carries "jwk"
  std::string payload;           // decoded payload bytes
  std::string signing_input;     // ASCII(protected) '.' ASCII(payload), as sent
  Bytes signature;               // decoded; raw R||S for ECDSA
  bool IsPostAsGet() const { return payload.empty(); }  // payload "" (RFC 8555 §6.3)
};

// Parses (does not verify) a request body. Malformed input of any shape returns an error.
Result<Jws> ParseJws(std::string_view body);

// Checks the alg fits `key`, then the signature over jws.signing_input. `key` is the embedded
// jwk or the account key found by kid.
Result<void> VerifyJws(const Jws& jws, const PublicKey& key);

// ParseJws, then VerifyJws with the embedded "jwk" (malformed when the header has "kid").
Result<Jws> ParseAndVerifyWithJwk(std::string_view body);

// The signature primitive: `signature` in JWS form (raw R||S for ECDSA, RFC 7518 §3.4) over
// `signing_input`. A wrong length or a bad signature is unauthorized; alg/key mismatch is
// badSignatureAlgorithm.
Result<void> VerifySignature(JwsAlg alg, const PublicKey& key, std::string_view signing_input,
                             const Bytes& signature);

// ---- Client side (tests, bench, protocol tests) ----

// A JWS signature in JWS form (raw R||S for ECDSA).
Result<Bytes> SignRaw(JwsAlg alg, const PrivateKey& key, std::string_view signing_input);

struct SignOptions {
  JwsAlg alg = JwsAlg::kEs256;
  std::string url;
  std::optional<std::string> nonce;
  std::string kid;  // empty: embed the public key as "jwk"
};
// A flattened JWS (JSON text) over `payload` ("" for POST-as-GET).
Result<std::string> SignJws(const PrivateKey& key, const SignOptions& options,
                            std::string_view payload);
// Signs with any protected header as given (tests build odd ones); `alg` only picks the scheme.
Result<std::string> SignJwsWithHeader(const PrivateKey& key, JwsAlg alg,
                                      const nlohmann::json& protected_header,
                                      std::string_view payload);

// ---- Shared with eab.h ----

// The three members of a flattened JWS object, checked for presence, type and size; views into
// `jws`. Refuses "signatures" and "header". `what` names the object in messages. "protected"
// must not be empty; "payload" and "signature" may be (the caller refuses an empty signature
// once it has looked at "alg", so alg "none" gets its own answer).
struct FlattenedJws {
  std::string_view protected_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
};
Result<FlattenedJws> SplitFlattened(const nlohmann::json& jws, std::string_view what);

}  // namespace eg::crypto::jose
