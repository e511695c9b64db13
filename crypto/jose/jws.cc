// JWS parse / verify / sign over nlohmann::json and OpenSSL 3 EVP.
#include "crypto/jose/jws.h"

#include <openssl/ec.h>
#include <openssl/evp.h>

#include <exception>

#include "crypto/jose/errors.h"
#include "crypto/jose/jwk.h"
#include "crypto/openssl_util.h"

namespace eg::crypto::jose {

namespace {

using json = nlohmann::json;
using internal::ErrorQueueGuard;

struct AlgInfo {
  JwsAlg alg;
  std::string_view name;
  const char* digest;      // for crypto::PrivateKey::Sign; "" for EdDSA
  size_t ec_coord_len;     // ECDSA: octets of R and of S; 0 otherwise
  std::string_view curve;  // KeyType parameter the key must have; "" for RSA
};
constexpr AlgInfo kAlgs[] = {
    {JwsAlg::kEs256, "ES256", "SHA256", 32, "P-256"},
    {JwsAlg::kEs384, "ES384", "SHA384", 48, "P-384"},
    {JwsAlg::kEs512, "ES512", "SHA512", 66, "P-521"},
    {JwsAlg::kRs256, "RS256", "SHA256", 0, ""},
    {JwsAlg::kEdDsa, "EdDSA", "", 0, "Ed25519"},
};

const AlgInfo& Info(JwsAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a;
  }
  return kAlgs[0];  // unreachable: every enumerator is in the table
}

// Digests fetched once per process: passing EVP_sha256() makes OpenSSL 3 fetch the provider's
// implementation again on every EVP_DigestVerifyInit.
const EVP_MD* DigestOf(JwsAlg alg) {
  static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static const EVP_MD* const kSha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  static const EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
  switch (alg) {
    case JwsAlg::kEs256:
    case JwsAlg::kRs256:
      return kSha256 != nullptr ? kSha256 : EVP_sha256();
    case JwsAlg::kEs384:
      return kSha384 != nullptr ? kSha384 : EVP_sha384();
    case JwsAlg::kEs512:
      return kSha512 != nullptr ? kSha512 : EVP_sha512();
    case JwsAlg::kEdDsa:
      return nullptr;
  }
  return nullptr;
}

// DER INTEGER of a big-endian unsigned number, minimal.
void AppendDerInteger(Bytes& out, const uint8_t* p, size_t n) {
  while (n > 1 && *p == 0) {
    ++p;
    --n;
  }
  bool pad = (*p & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<uint8_t>(n + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), p, p + n);
}

// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from raw R||S, without BIGNUMs.
Bytes RawEcdsaToDer(const Bytes& raw, size_t coord) {
  Bytes body;
  body.reserve(2 * coord + 6);
  AppendDerInteger(body, raw.data(), coord);
  AppendDerInteger(body, raw.data() + coord, coord);
  Bytes out;
  out.reserve(body.size() + 3);
  out.push_back(0x30);
  if (body.size() >= 0x80) out.push_back(0x81);
  out.push_back(static_cast<uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<Bytes> DerEcdsaToRaw(const Bytes& der, size_t coord) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return internal::OpenSslInternal("ECDSA signature is not DER");
  Bytes out(2 * coord);
  const BIGNUM* r = ECDSA_SIG_get0_r(sig);
  const BIGNUM* s = ECDSA_SIG_get0_s(sig);
  bool ok = BN_bn2binpad(r, out.data(), static_cast<int>(coord)) >= 0 &&
            BN_bn2binpad(s, out.data() + coord, static_cast<int>(coord)) >= 0;
  ECDSA_SIG_free(sig);
  if (!ok) return Internal("ECDSA signature does not fit the curve");
  return out;
}

Result<json> ParseJsonObject(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Malformed(std::string(what) + ": not valid JSON");
  if (!j.is_object()) return Malformed(std::string(what) + ": not a JSON object");
  return j;
}

Result<std::string_view> HeaderString(const json& header, const char* name, size_t max,
                                      bool required) {
  auto it = header.find(name);
  if (it == header.end()) {
    if (required) {
      return Malformed(std::string("JWS protected header: \"") + name + "\" is missing");
    }
    return std::string_view();
  }
  if (!it->is_string()) {
    return Malformed(std::string("JWS protected header: \"") + name + "\" is not a string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty()) return Malformed(std::string("JWS protected header: \"") + name + "\" is empty");
  if (s.size() > max) {
    return Malformed(std::string("JWS protected header: \"") + name + "\" is longer than " +
                     std::to_string(max) + " characters");
  }
  return std::string_view(s);
}

Result<Bytes> DecodeMember(std::string_view b64, std::string_view what) {
  Result<Bytes> b = Base64UrlDecode(b64);
  if (!b.ok()) return Malformed(std::string(what) + " is not base64url (RFC 7515 §2)");
  return b;
}

Result<Jws> ParseJwsImpl(std::string_view body) {
  if (body.empty()) return Malformed("JWS: empty body");
  if (body.size() > kMaxJwsBodyBytes) {
    return Malformed("JWS: body larger than " + std::to_string(kMaxJwsBodyBytes) + " bytes");
  }
  EG_ASSIGN_OR_RETURN(json doc, ParseJsonObject(body, "JWS"));
  EG_ASSIGN_OR_RETURN(FlattenedJws parts, SplitFlattened(doc, "JWS"));
  EG_ASSIGN_OR_RETURN(Bytes header_bytes, DecodeMember(parts.protected_b64, "JWS: \"protected\""));
  EG_ASSIGN_OR_RETURN(json header,
                      ParseJsonObject(AsStringView(header_bytes), "JWS protected header"));

  Jws out;
  EG_ASSIGN_OR_RETURN(std::string_view alg_name,
                      HeaderString(header, "alg", 32, /*required=*/true));
  EG_ASSIGN_OR_RETURN(out.alg, ParseJwsAlg(alg_name));
  if (parts.signature_b64.empty()) return Malformed("JWS: \"signature\" is empty");
  if (header.contains("crit")) {
    return Malformed("JWS protected header: \"crit\" is not supported (no extensions understood)");
  }
  if (header.contains("b64")) {
    return Malformed("JWS protected header: \"b64\" (RFC 7797) is not supported");
  }

  bool has_jwk = header.contains("jwk");
  bool has_kid = header.contains("kid");
  if (has_jwk && has_kid) {
    return Malformed(
        "JWS protected header: has both \"jwk\" and \"kid\"; exactly one is allowed (RFC 8555 "
        "§6.2)");
  }
  if (!has_jwk && !has_kid) {
    return Malformed(
        "JWS protected header: has neither \"jwk\" nor \"kid\"; exactly one is required (RFC 8555 "
        "§6.2)");
  }
  if (has_kid) {
    EG_ASSIGN_OR_RETURN(std::string_view kid, HeaderString(header, "kid", kMaxKidChars, true));
    out.kid = std::string(kid);
  } else {
    Result<PublicKey> key = ParseJwk(header["jwk"]);
    if (!key.ok()) return key.error().WithContext("JWS protected header");
    EG_TRY(CheckAlgFitsKey(out.alg, *key));
    out.jwk.emplace(std::move(key).value());
  }
  EG_ASSIGN_OR_RETURN(std::string_view url, HeaderString(header, "url", kMaxUrlChars, true));
  out.url = std::string(url);
  if (header.contains("nonce")) {
    EG_ASSIGN_OR_RETURN(std::string_view nonce,
                        HeaderString(header, "nonce", kMaxNonceChars, true));
    out.nonce = std::string(nonce);
  }

  EG_ASSIGN_OR_RETURN(Bytes payload, DecodeMember(parts.payload_b64, "JWS: \"payload\""));
  out.payload.assign(payload.begin(), payload.end());
  EG_ASSIGN_OR_RETURN(out.signature, DecodeMember(parts.signature_b64, "JWS: \"signature\""));
  out.signing_input.reserve(parts.protected_b64.size() + 1 + parts.payload_b64.size());
  out.signing_input.append(parts.protected_b64);
  out.signing_input.push_back('.');
  out.signing_input.append(parts.payload_b64);
  return out;
}

}  // namespace

std::string_view JwsAlgName(JwsAlg alg) { return Info(alg).name; }

Result<JwsAlg> ParseJwsAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  if (name == "none") {
    return BadSignatureAlgorithm("JWS alg \"none\" is not accepted (RFC 8555 §6.2)");
  }
  if (name == "HS256" || name == "HS384" || name == "HS512") {
    return BadSignatureAlgorithm("JWS alg \"" + std::string(name) +
                                 "\" is a MAC; account requests must be signed (RFC 8555 §6.2)");
  }
  return BadSignatureAlgorithm(
      "JWS alg is not one of ES256, ES384, ES512, RS256, EdDSA");  // the name may be hostile
}

Result<void> CheckAlgFitsKey(JwsAlg alg, const PublicKey& key) {
  const AlgInfo& info = Info(alg);
  if (key.get() == nullptr) return Internal("JWS: empty key");
  KeyType type = key.Type();
  bool fits = false;
  if (alg == JwsAlg::kRs256) {
    fits = EVP_PKEY_is_a(key.get(), "RSA") == 1;
  } else if (alg == JwsAlg::kEdDsa) {
    fits = type.algorithm == "EdDSA" && type.parameter == info.curve;
  } else {
    fits = type.algorithm == "EC" && type.parameter == info.curve;
  }
  if (!fits) {
    return BadSignatureAlgorithm("JWS alg " + std::string(info.name) + " does not fit a " +
                                 type.algorithm + " " + type.parameter + " key");
  }
  return Ok();
}

Result<JwsAlg> AlgForKey(const PublicKey& key) {
  KeyType type = key.Type();
  if (type.algorithm == "RSA") return JwsAlg::kRs256;
  for (const AlgInfo& a : kAlgs) {
    if (!a.curve.empty() && a.curve == type.parameter) return a.alg;
  }
  return BadPublicKey("no JWS alg for a " + type.algorithm + " " + type.parameter + " key");
}

Result<FlattenedJws> SplitFlattened(const json& jws, std::string_view what) {
  std::string w(what);
  if (!jws.is_object()) return Malformed(w + ": not a JSON object");
  if (jws.contains("signatures")) {
    return Malformed(w +
                     ": the general JSON serialization (\"signatures\") is not accepted; send the "
                     "flattened form (RFC 8555 §6.2)");
  }
  if (jws.contains("header")) {
    return Malformed(w + ": an unprotected \"header\" is not allowed (RFC 8555 §6.2)");
  }
  auto member = [&](const char* name, size_t max, bool may_be_empty) -> Result<std::string_view> {
    auto it = jws.find(name);
    if (it == jws.end()) return Malformed(w + ": \"" + name + "\" is missing");
    if (!it->is_string()) return Malformed(w + ": \"" + name + "\" is not a string");
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() && !may_be_empty) return Malformed(w + ": \"" + name + "\" is empty");
    if (s.size() > max) {
      return Malformed(w + ": \"" + name + "\" is longer than " + std::to_string(max) +
                       " characters");
    }
    return std::string_view(s);
  };
  FlattenedJws out;
  EG_ASSIGN_OR_RETURN(out.protected_b64, member("protected", kMaxProtectedChars, false));
  EG_ASSIGN_OR_RETURN(out.payload_b64, member("payload", kMaxPayloadChars, true));
  // May be empty here: an unsecured JWS (alg "none") has an empty signature, and it must be
  // refused for its algorithm (badSignatureAlgorithm), so callers check emptiness after "alg".
  EG_ASSIGN_OR_RETURN(out.signature_b64, member("signature", kMaxSignatureChars, true));
  return out;
}

Result<Jws> ParseJws(std::string_view body) {
  ErrorQueueGuard guard;
  try {
    return ParseJwsImpl(body);
  } catch (const std::exception& e) {
    // nlohmann is used without exceptions; this is a last line for allocation failures.
    return Internal(std::string("JWS: unexpected exception: ") + e.what());
  }
}

Result<void> VerifySignature(JwsAlg alg, const PublicKey& key, std::string_view signing_input,
                             const Bytes& signature) {
  EG_TRY(CheckAlgFitsKey(alg, key));
  ErrorQueueGuard guard;
  const AlgInfo& info = Info(alg);
  const Bytes* sig = &signature;
  Bytes der;
  if (info.ec_coord_len != 0) {
    if (signature.size() != 2 * info.ec_coord_len) {
      return BadSignature("JWS signature: " + std::string(info.name) + " needs " +
                          std::to_string(2 * info.ec_coord_len) + " octets (R||S), got " +
                          std::to_string(signature.size()));
    }
    der = RawEcdsaToDer(signature, info.ec_coord_len);
    sig = &der;
  } else if (alg == JwsAlg::kEdDsa && signature.size() != 64) {
    return BadSignature("JWS signature: EdDSA needs 64 octets, got " +
                        std::to_string(signature.size()));
  }
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return internal::OpenSslInternal("EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, DigestOf(alg), nullptr, key.get()) != 1) {
    return internal::OpenSslInternal("JWS: cannot set up verification");
  }
  if (EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return BadSignature("JWS signature does not verify");
  }
  return Ok();
}

Result<void> VerifyJws(const Jws& jws, const PublicKey& key) {
  return VerifySignature(jws.alg, key, jws.signing_input, jws.signature);
}

Result<Jws> ParseAndVerifyWithJwk(std::string_view body) {
  EG_ASSIGN_OR_RETURN(Jws jws, ParseJws(body));
  if (!jws.jwk) {
    return Malformed("JWS protected header: \"jwk\" is required here, not \"kid\"");
  }
  EG_TRY(VerifyJws(jws, *jws.jwk));
  return jws;
}

Result<Bytes> SignRaw(JwsAlg alg, const PrivateKey& key, std::string_view signing_input) {
  EG_TRY(CheckAlgFitsKey(alg, key.Public()));
  const AlgInfo& info = Info(alg);
  EG_ASSIGN_OR_RETURN(Bytes sig, key.Sign(info.digest, ToBytes(signing_input)));
  if (info.ec_coord_len != 0) {
    ErrorQueueGuard guard;
    return DerEcdsaToRaw(sig, info.ec_coord_len);
  }
  return sig;
}

Result<std::string> SignJwsWithHeader(const PrivateKey& key, JwsAlg alg,
                                      const json& protected_header, std::string_view payload) {
  std::string input =
      Base64UrlEncode(protected_header.dump(-1, ' ', false, json::error_handler_t::replace));
  std::string payload_b64 = Base64UrlEncode(payload);
  json out = json::object();
  out["protected"] = input;
  out["payload"] = payload_b64;
  input.push_back('.');
  input.append(payload_b64);
  EG_ASSIGN_OR_RETURN(Bytes sig, SignRaw(alg, key, input));
  out["signature"] = Base64UrlEncode(sig);
  return out.dump();
}

Result<std::string> SignJws(const PrivateKey& key, const SignOptions& options,
                            std::string_view payload) {
  json header = json::object();
  header["alg"] = std::string(JwsAlgName(options.alg));
  header["url"] = options.url;
  if (options.nonce) header["nonce"] = *options.nonce;
  if (options.kid.empty()) {
    EG_ASSIGN_OR_RETURN(header["jwk"], ToJwk(key.Public()));
  } else {
    header["kid"] = options.kid;
  }
  return SignJwsWithHeader(key, options.alg, header, payload);
}

}  // namespace eg::crypto::jose
