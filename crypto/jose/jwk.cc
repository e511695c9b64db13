// JWK parsing and writing over OpenSSL 3 (EVP_PKEY_fromdata; no BIGNUM round trips on parse).
#include "crypto/jose/jwk.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <bit>
#include <cstdint>

#include "crypto/jose/errors.h"
#include "crypto/openssl_util.h"
#include "crypto/random.h"

namespace eg::crypto::jose {

namespace {

using json = nlohmann::json;
using internal::ErrorQueueGuard;

// base64url characters for the largest member we accept: an 8192-bit modulus (1024 bytes).
constexpr size_t kMaxMemberChars = 1366;
constexpr size_t kMinRsaBits = 2048;
constexpr size_t kMaxRsaBits = 8192;

struct Curve {
  const char* jwk_name;  // "P-256"
  const char* ossl_group;
  size_t coord_len;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

const Curve* CurveByJwkName(std::string_view name) {
  for (const Curve& c : kCurves) {
    if (name == c.jwk_name) return &c;
  }
  return nullptr;
}

Result<std::string_view> StringMember(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end()) return Malformed(std::string("jwk: member \"") + name + "\" is missing");
  if (!it->is_string()) {
    return Malformed(std::string("jwk: member \"") + name + "\" is not a string");
  }
  return std::string_view(it->get_ref<const std::string&>());
}

Result<Bytes> Base64Member(const json& jwk, const char* name) {
  EG_ASSIGN_OR_RETURN(std::string_view s, StringMember(jwk, name));
  if (s.empty()) return Malformed(std::string("jwk: member \"") + name + "\" is empty");
  if (s.size() > kMaxMemberChars) {
    return Malformed(std::string("jwk: member \"") + name + "\" is too long");
  }
  Result<Bytes> b = Base64UrlDecode(s);
  if (!b.ok()) return Malformed(std::string("jwk: member \"") + name + "\" is not base64url");
  return b;
}

// OSSL_PARAM_construct_BN wants the number in native byte order.
Bytes NativeOrder(const Bytes& big_endian) {
  Bytes out = big_endian;
  if constexpr (std::endian::native == std::endian::little) std::reverse(out.begin(), out.end());
  return out;
}

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// One key-import context per algorithm and thread, reused across calls (fetching the key
// manager is the expensive part of EVP_PKEY_CTX_new_from_name).
EVP_PKEY_CTX* ImportCtx(const char* alg) {
  thread_local std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> rsa, ec;
  auto& slot = std::string_view(alg) == "RSA" ? rsa : ec;
  if (!slot) slot.reset(EVP_PKEY_CTX_new_from_name(nullptr, alg, nullptr));
  return slot.get();
}

Result<PublicKey> FromData(const char* alg, OSSL_PARAM* params, std::string_view what) {
  EVP_PKEY_CTX* ctx = ImportCtx(alg);
  if (ctx == nullptr) return Internal(std::string("jwk: no OpenSSL key manager for ") + alg);
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params) != 1 || raw == nullptr) {
    ERR_clear_error();
    return BadPublicKey(std::string("jwk: ") + std::string(what));
  }
  return PublicKey(EvpPkeyPtr(raw));
}

Result<void> RefusePrivateMembers(const json& jwk) {
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(m)) {
      return BadPublicKey(std::string("jwk: has the private member \"") + m +
                          "\"; an account key JWK must hold the public key only");
    }
  }
  return Ok();
}

Result<PublicKey> ParseRsa(const json& jwk) {
  EG_ASSIGN_OR_RETURN(Bytes n, Base64Member(jwk, "n"));
  EG_ASSIGN_OR_RETURN(Bytes e, Base64Member(jwk, "e"));
  if (n[0] == 0) return Malformed("jwk: RSA \"n\" has a leading zero octet (RFC 7518 §6.3.1.1)");
  if (e[0] == 0) return Malformed("jwk: RSA \"e\" has a leading zero octet (RFC 7518 §6.3.1.2)");
  size_t bits = n.size() * 8 - static_cast<size_t>(std::countl_zero(n[0]));
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return BadPublicKey("jwk: RSA modulus of " + std::to_string(bits) +
                        " bits is outside 2048..8192");
  }
  if ((n.back() & 1) == 0) return BadPublicKey("jwk: RSA modulus is even");
  if (e.size() > 4) return BadPublicKey("jwk: RSA exponent is larger than 32 bits");
  uint32_t ev = 0;
  for (uint8_t b : e) ev = (ev << 8) | b;
  if (ev < 3 || (ev & 1) == 0) {
    return BadPublicKey("jwk: RSA exponent " + std::to_string(ev) + " is not odd and >= 3");
  }
  Bytes n_native = NativeOrder(n);
  Bytes e_native = NativeOrder(e);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n_native.data(), n_native.size()),
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e_native.data(), e_native.size()),
      OSSL_PARAM_construct_end()};
  return FromData("RSA", params, "RSA key is not valid");
}

Result<PublicKey> ParseEc(const json& jwk) {
  EG_ASSIGN_OR_RETURN(std::string_view crv, StringMember(jwk, "crv"));
  const Curve* curve = CurveByJwkName(crv);
  if (curve == nullptr) {
    return BadPublicKey("jwk: EC curve is not one of P-256, P-384, P-521");
  }
  EG_ASSIGN_OR_RETURN(Bytes x, Base64Member(jwk, "x"));
  EG_ASSIGN_OR_RETURN(Bytes y, Base64Member(jwk, "y"));
  if (x.size() != curve->coord_len || y.size() != curve->coord_len) {
    return Malformed(std::string("jwk: EC \"x\" and \"y\" must be ") +
                     std::to_string(curve->coord_len) + " octets each for " + curve->jwk_name);
  }
  Bytes point;
  point.reserve(1 + 2 * curve->coord_len);
  point.push_back(0x04);  // uncompressed
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(curve->ossl_group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  // EC_POINT_oct2point refuses coordinates >= p and points off the curve.
  return FromData("EC", params, std::string("EC point is not on ") + curve->jwk_name);
}

Result<PublicKey> ParseOkp(const json& jwk) {
  EG_ASSIGN_OR_RETURN(std::string_view crv, StringMember(jwk, "crv"));
  if (crv != "Ed25519") return BadPublicKey("jwk: OKP curve is not Ed25519");
  EG_ASSIGN_OR_RETURN(Bytes x, Base64Member(jwk, "x"));
  if (x.size() != 32) return Malformed("jwk: Ed25519 \"x\" must be 32 octets");
  EVP_PKEY* raw = EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, x.data(), x.size());
  if (raw == nullptr) {
    ERR_clear_error();
    return BadPublicKey("jwk: Ed25519 key is not valid");
  }
  return PublicKey(EvpPkeyPtr(raw));
}

Result<Bytes> BnParam(const EVP_PKEY* key, const char* name, size_t pad_to) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1 || bn == nullptr) {
    ERR_clear_error();
    return Internal(std::string("jwk: key has no ") + name);
  }
  internal::BignumPtr owned(bn);
  size_t len = pad_to != 0 ? pad_to : static_cast<size_t>(BN_num_bytes(bn));
  Bytes out(len);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(len)) < 0) {
    return Internal(std::string("jwk: ") + name + " does not fit");
  }
  return out;
}

}  // namespace

Result<PublicKey> ParseJwk(const json& jwk) {
  ErrorQueueGuard guard;
  if (!jwk.is_object()) return Malformed("jwk: not a JSON object");
  EG_ASSIGN_OR_RETURN(std::string_view kty, StringMember(jwk, "kty"));
  EG_TRY(RefusePrivateMembers(jwk));
  if (kty == "RSA") return ParseRsa(jwk);
  if (kty == "EC") return ParseEc(jwk);
  if (kty == "OKP") return ParseOkp(jwk);
  if (kty == "oct") return BadPublicKey("jwk: symmetric (\"oct\") keys are not account keys");
  return BadPublicKey("jwk: key type (\"kty\") is not RSA, EC or OKP");
}

Result<PublicKey> ParseJwkText(std::string_view text) {
  if (text.size() > 16 * 1024) return Malformed("jwk: larger than 16 KiB");
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Malformed("jwk: not valid JSON");
  return ParseJwk(j);
}

Result<std::shared_ptr<const PublicKey>> JwkCache::Parse(std::string_view text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(std::string(text));
    if (it != keys_.end()) return it->second;
  }
  EG_ASSIGN_OR_RETURN(PublicKey parsed, ParseJwkText(text));
  auto key = std::make_shared<const PublicKey>(std::move(parsed));
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity_ == 0) return key;
  auto [it, added] = keys_.emplace(std::string(text), key);
  if (!added) return it->second;  // parsed by another thread meanwhile
  order_.push_back(it->first);
  if (order_.size() > capacity_) {
    keys_.erase(order_.front());
    order_.pop_front();
  }
  return key;
}

Result<json> ToJwk(const PublicKey& key) {
  ErrorQueueGuard guard;
  const EVP_PKEY* k = key.get();
  if (k == nullptr) return Internal("jwk: empty key");
  json out = json::object();
  KeyType type = key.Type();
  if (type.algorithm == "RSA" && EVP_PKEY_is_a(k, "RSA")) {
    EG_ASSIGN_OR_RETURN(Bytes n, BnParam(k, OSSL_PKEY_PARAM_RSA_N, 0));
    EG_ASSIGN_OR_RETURN(Bytes e, BnParam(k, OSSL_PKEY_PARAM_RSA_E, 0));
    out["kty"] = "RSA";
    out["n"] = Base64UrlEncode(n);
    out["e"] = Base64UrlEncode(e);
    return out;
  }
  if (type.algorithm == "EC") {
    const Curve* curve = CurveByJwkName(type.parameter);
    if (curve == nullptr)
      return BadPublicKey("jwk: EC curve " + type.parameter + " is not supported");
    EG_ASSIGN_OR_RETURN(Bytes x, BnParam(k, OSSL_PKEY_PARAM_EC_PUB_X, curve->coord_len));
    EG_ASSIGN_OR_RETURN(Bytes y, BnParam(k, OSSL_PKEY_PARAM_EC_PUB_Y, curve->coord_len));
    out["kty"] = "EC";
    out["crv"] = curve->jwk_name;
    out["x"] = Base64UrlEncode(x);
    out["y"] = Base64UrlEncode(y);
    return out;
  }
  if (type.algorithm == "EdDSA" && type.parameter == "Ed25519") {
    Bytes x(32);
    size_t len = x.size();
    if (EVP_PKEY_get_raw_public_key(k, x.data(), &len) != 1 || len != 32) {
      return Internal("jwk: Ed25519 raw public key unavailable");
    }
    out["kty"] = "OKP";
    out["crv"] = "Ed25519";
    out["x"] = Base64UrlEncode(x);
    return out;
  }
  return BadPublicKey("jwk: key type " + type.algorithm + " " + type.parameter +
                      " has no JWK form here");
}

Result<std::string> Thumbprint(const PublicKey& key) {
  EG_ASSIGN_OR_RETURN(json jwk, ToJwk(key));
  // nlohmann::json objects keep members sorted and dump() writes no whitespace: RFC 7638 §3.3.
  return Base64UrlEncode(Sha256(jwk.dump()));
}

}  // namespace eg::crypto::jose
