// External account binding over jws.h's flattened-form parser and crypto/random.h's HMAC.
#include "crypto/jose/eab.h"

#include <exception>

#include "crypto/jose/errors.h"
#include "crypto/jose/jwk.h"
#include "crypto/jose/jws.h"
#include "crypto/random.h"

namespace eg::crypto::jose {

namespace {

using json = nlohmann::json;

const char* DigestOf(EabAlg alg) {
  switch (alg) {
    case EabAlg::kHs256:
      return "SHA256";
    case EabAlg::kHs384:
      return "SHA384";
    case EabAlg::kHs512:
      return "SHA512";
  }
  return "SHA256";
}

Result<std::string_view> EabString(const json& header, const char* name) {
  auto it = header.find(name);
  if (it == header.end()) {
    return Malformed(std::string("externalAccountBinding: \"") + name + "\" is missing");
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return Malformed(std::string("externalAccountBinding: \"") + name +
                     "\" is not a non-empty string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxUrlChars) {
    return Malformed(std::string("externalAccountBinding: \"") + name + "\" is too long");
  }
  return std::string_view(s);
}

Result<Eab> ParseEabImpl(const json& eab, std::string_view outer_url,
                         const PublicKey& account_key) {
  EG_ASSIGN_OR_RETURN(FlattenedJws parts, SplitFlattened(eab, "externalAccountBinding"));
  Result<Bytes> header_bytes = Base64UrlDecode(parts.protected_b64);
  if (!header_bytes.ok()) {
    return Malformed("externalAccountBinding: \"protected\" is not base64url");
  }
  json header = json::parse(header_bytes->begin(), header_bytes->end(), nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Malformed("externalAccountBinding: protected header is not a JSON object");
  }
  Eab out;
  EG_ASSIGN_OR_RETURN(std::string_view alg, EabString(header, "alg"));
  if (alg == "HS256") {
    out.alg = EabAlg::kHs256;
  } else if (alg == "HS384") {
    out.alg = EabAlg::kHs384;
  } else if (alg == "HS512") {
    out.alg = EabAlg::kHs512;
  } else {
    return BadSignatureAlgorithm(
        "externalAccountBinding: alg must be HS256, HS384 or HS512 (RFC 8555 §7.3.4)");
  }
  if (parts.signature_b64.empty()) {
    return Malformed("externalAccountBinding: \"signature\" is empty");
  }
  for (const char* m : {"nonce", "jwk", "crit", "b64"}) {
    if (header.contains(m)) {
      return Malformed(std::string("externalAccountBinding: protected header must not have \"") +
                       m + "\" (RFC 8555 §7.3.4)");
    }
  }
  EG_ASSIGN_OR_RETURN(std::string_view kid, EabString(header, "kid"));
  out.kid = std::string(kid);
  EG_ASSIGN_OR_RETURN(std::string_view url, EabString(header, "url"));
  if (url != outer_url) {
    return Malformed("externalAccountBinding: \"url\" differs from the outer JWS url");
  }
  Result<Bytes> payload = Base64UrlDecode(parts.payload_b64);
  if (!payload.ok()) return Malformed("externalAccountBinding: \"payload\" is not base64url");
  Result<PublicKey> inner_key = ParseJwkText(AsStringView(*payload));
  if (!inner_key.ok()) {
    return inner_key.error().WithContext("externalAccountBinding: payload");
  }
  if (!inner_key->Equals(account_key)) {
    return Malformed("externalAccountBinding: payload is not the outer JWS's account key");
  }
  Result<Bytes> mac = Base64UrlDecode(parts.signature_b64);
  if (!mac.ok()) return Malformed("externalAccountBinding: \"signature\" is not base64url");
  out.mac = std::move(mac).value();
  out.signing_input.reserve(parts.protected_b64.size() + 1 + parts.payload_b64.size());
  out.signing_input.append(parts.protected_b64);
  out.signing_input.push_back('.');
  out.signing_input.append(parts.payload_b64);
  return out;
}

}  // namespace

std::string_view EabAlgName(EabAlg alg) {
  switch (alg) {
    case EabAlg::kHs256:
      return "HS256";
    case EabAlg::kHs384:
      return "HS384";
    case EabAlg::kHs512:
      return "HS512";
  }
  return "HS256";
}

Result<Eab> ParseEab(const json& eab, std::string_view outer_url, const PublicKey& account_key) {
  try {
    return ParseEabImpl(eab, outer_url, account_key);
  } catch (const std::exception& e) {
    return Internal(std::string("externalAccountBinding: unexpected exception: ") + e.what());
  }
}

Result<void> VerifyEabMac(const Eab& eab, const Bytes& hmac_key) {
  if (hmac_key.empty()) return Internal("externalAccountBinding: empty HMAC key");
  EG_ASSIGN_OR_RETURN(Bytes expected, Hmac(DigestOf(eab.alg), hmac_key, eab.signing_input));
  // ConstantTimeEquals is CRYPTO_memcmp after a (public) length check.
  if (!ConstantTimeEquals(expected, eab.mac)) {
    return BadSignature("externalAccountBinding: MAC does not verify");
  }
  return Ok();
}

Result<void> VerifyEabMacB64(const Eab& eab, std::string_view hmac_key_b64url) {
  Result<Bytes> key = Base64UrlDecode(hmac_key_b64url);
  if (!key.ok()) return Internal("externalAccountBinding: stored HMAC key is not base64url");
  return VerifyEabMac(eab, *key);
}

Result<json> BuildEab(std::string_view kid, const Bytes& hmac_key, EabAlg alg, std::string_view url,
                      const PublicKey& account_key) {
  EG_ASSIGN_OR_RETURN(json jwk, ToJwk(account_key));
  json header = json::object();
  header["alg"] = std::string(EabAlgName(alg));
  header["kid"] = std::string(kid);
  header["url"] = std::string(url);
  std::string input = Base64UrlEncode(header.dump());
  std::string payload_b64 = Base64UrlEncode(jwk.dump());
  json out = json::object();
  out["protected"] = input;
  out["payload"] = payload_b64;
  input.push_back('.');
  input.append(payload_b64);
  EG_ASSIGN_OR_RETURN(Bytes mac, Hmac(DigestOf(alg), hmac_key, input));
  out["signature"] = Base64UrlEncode(mac);
  return out;
}

}  // namespace eg::crypto::jose
