// Keys over OpenSSL 3 EVP_PKEY: generation, PEM/DER, key type, sign and verify.
#include "crypto/key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <limits>

#include "crypto/openssl_util.h"
#include "crypto/pem.h"

namespace eg::crypto {

using internal::ErrorQueueGuard;
using internal::OpenSslInternal;
using internal::OpenSslInvalid;

void EvpPkeyDeleter::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

std::string KeyType::ScmName() const { return algorithm + " - " + parameter; }

std::optional<KeySpec> ParseKeySpec(std::string_view text) {
  std::string t;
  for (char c : text) {
    if (c == '-' || c == '_' || c == ' ') continue;
    t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (t == "rsa2048") return KeySpec::kRsa2048;
  if (t == "rsa3072") return KeySpec::kRsa3072;
  if (t == "rsa4096") return KeySpec::kRsa4096;
  if (t == "ecp256" || t == "p256") return KeySpec::kEcP256;
  if (t == "ecp384" || t == "p384") return KeySpec::kEcP384;
  if (t == "ecp521" || t == "p521") return KeySpec::kEcP521;
  if (t == "ed25519" || t == "eddsaed25519") return KeySpec::kEd25519;
  return std::nullopt;
}

KeyType KeyTypeOf(KeySpec spec) {
  switch (spec) {
    case KeySpec::kRsa2048:
      return {"RSA", "2048"};
    case KeySpec::kRsa3072:
      return {"RSA", "3072"};
    case KeySpec::kRsa4096:
      return {"RSA", "4096"};
    case KeySpec::kEcP256:
      return {"EC", "P-256"};
    case KeySpec::kEcP384:
      return {"EC", "P-384"};
    case KeySpec::kEcP521:
      return {"EC", "P-521"};
    case KeySpec::kEd25519:
      return {"EdDSA", "Ed25519"};
  }
  return {};
}

namespace {

KeyType TypeOfPkey(const EVP_PKEY* key) {
  if (key == nullptr) return {};
  if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
    return {"RSA", std::to_string(EVP_PKEY_get_bits(key))};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      ERR_clear_error();
      return {"EC", "unknown"};
    }
    std::string g(group, len);
    if (g == "prime256v1" || g == "P-256") return {"EC", "P-256"};
    if (g == "secp384r1" || g == "P-384") return {"EC", "P-384"};
    if (g == "secp521r1" || g == "P-521") return {"EC", "P-521"};
    return {"EC", g};
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return {"EdDSA", "Ed25519"};
  if (EVP_PKEY_is_a(key, "ED448")) return {"EdDSA", "Ed448"};
  return {"unknown", ""};
}

Bytes SpkiOf(EVP_PKEY* key) { return internal::ToDer(key, i2d_PUBKEY); }

}  // namespace

namespace internal {

Result<void> CheckSupportedKey(const EVP_PKEY* key) {
  KeyType t = TypeOfPkey(key);
  if (t.algorithm == "RSA") {
    int bits = EVP_PKEY_get_bits(key);
    if (bits < 2048) {
      return InvalidArgument("RSA key of " + std::to_string(bits) + " bits is too small");
    }
    if (bits > 8192) {
      return InvalidArgument("RSA key of " + std::to_string(bits) + " bits is too large");
    }
    return Ok();
  }
  if (t.algorithm == "EC") {
    if (t.parameter != "P-256" && t.parameter != "P-384" && t.parameter != "P-521") {
      return InvalidArgument("EC curve \"" + t.parameter + "\" is not supported");
    }
    return Ok();
  }
  if (t.algorithm == "EdDSA") return Ok();
  return InvalidArgument("unsupported key algorithm");
}

PublicKey SharePublicKey(EVP_PKEY* key) {
  if (key != nullptr && EVP_PKEY_up_ref(key) != 1) key = nullptr;
  return PublicKey(EvpPkeyPtr(key));
}

Bytes SpkiDerOf(X509_PUBKEY* spki) {
  if (spki == nullptr) return {};
  return ToDer(spki, i2d_X509_PUBKEY);
}

}  // namespace internal

namespace {

// Digest-sign/verify context setup shared by Sign and Verify.
const EVP_MD* MdFor(const EVP_PKEY* key, const EVP_MD* md) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return md;
}

}  // namespace

Result<PublicKey> PublicKey::FromSpkiDer(const Bytes& der) {
  ErrorQueueGuard guard;
  if (der.empty() || der.size() > 16 * 1024) return InvalidArgument("public key: bad size");
  const unsigned char* p = der.data();
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return OpenSslInvalid("public key: not a SubjectPublicKeyInfo");
  EvpPkeyPtr key(raw);
  if (p != der.data() + der.size()) return InvalidArgument("public key: trailing data");
  EG_TRY(internal::CheckSupportedKey(key.get()));
  return PublicKey(std::move(key));
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(Bytes der, PemDecode(pem, "PUBLIC KEY"));
  return FromSpkiDer(der);
}

KeyType PublicKey::Type() const { return TypeOfPkey(key_.get()); }
Bytes PublicKey::SpkiDer() const { return SpkiOf(key_.get()); }
std::string PublicKey::Pem() const { return PemEncode("PUBLIC KEY", SpkiDer()); }

bool PublicKey::Equals(const PublicKey& other) const {
  if (!key_ || !other.key_) return false;
  int r = EVP_PKEY_eq(key_.get(), other.key_.get());
  ERR_clear_error();
  return r == 1;
}

Result<void> PublicKey::Verify(std::string_view digest, const Bytes& data,
                               const Bytes& signature) const {
  ErrorQueueGuard guard;
  EG_ASSIGN_OR_RETURN(const EVP_MD* md, internal::DigestByName(digest));
  md = MdFor(key_.get(), md);
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return OpenSslInternal("EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1) {
    return OpenSslInvalid("signature: key and digest do not fit");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) !=
      1) {
    return internal::OpenSslError(ErrorCode::kUnauthenticated, "signature does not verify");
  }
  return Ok();
}

Result<PrivateKey> PrivateKey::Generate(KeySpec spec) {
  ErrorQueueGuard guard;
  EVP_PKEY* raw = nullptr;
  switch (spec) {
    case KeySpec::kRsa2048:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
    case KeySpec::kRsa3072:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
    case KeySpec::kRsa4096:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096});
      break;
    case KeySpec::kEcP256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeySpec::kEcP384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeySpec::kEcP521:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case KeySpec::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (raw == nullptr) return OpenSslInternal("key generation failed");
  return PrivateKey(EvpPkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::FromPkcs8Der(const Bytes& der) {
  ErrorQueueGuard guard;
  if (der.empty() || der.size() > 16 * 1024) return InvalidArgument("private key: bad size");
  const unsigned char* p = der.data();
  EVP_PKEY* raw = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return OpenSslInvalid("private key: not a PKCS#8 key");
  EvpPkeyPtr key(raw);
  EG_TRY(internal::CheckSupportedKey(key.get()));
  return PrivateKey(std::move(key));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  EG_ASSIGN_OR_RETURN(auto blocks, PemDecodeAll(pem));
  if (blocks.empty()) return InvalidArgument("private key: no PEM block found");
  const PemBlock& b = blocks.front();
  if (b.label != "PRIVATE KEY" && b.label != "RSA PRIVATE KEY" && b.label != "EC PRIVATE KEY") {
    return InvalidArgument("private key: expected \"PRIVATE KEY\", found \"" + b.label + "\"");
  }
  // d2i_AutoPrivateKey recognises PKCS#8 and the traditional RSA/EC forms.
  return FromPkcs8Der(b.der);
}

KeyType PrivateKey::Type() const { return TypeOfPkey(key_.get()); }

PublicKey PrivateKey::Public() const {
  // Round-trip through SPKI so the PublicKey holds no private material.
  Bytes spki = SpkiOf(key_.get());
  const unsigned char* p = spki.data();
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  ERR_clear_error();
  return PublicKey(EvpPkeyPtr(raw));
}

Bytes PrivateKey::Pkcs8Der() const {
  internal::Pkcs8Ptr p8(EVP_PKEY2PKCS8(key_.get()));
  if (!p8) {
    ERR_clear_error();
    return {};
  }
  return internal::ToDer(p8.get(), i2d_PKCS8_PRIV_KEY_INFO);
}

std::string PrivateKey::Pkcs8Pem() const { return PemEncode("PRIVATE KEY", Pkcs8Der()); }

Result<Bytes> PrivateKey::Sign(std::string_view digest, const Bytes& data) const {
  ErrorQueueGuard guard;
  EG_ASSIGN_OR_RETURN(const EVP_MD* md, internal::DigestByName(digest));
  md = MdFor(key_.get(), md);
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return OpenSslInternal("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1) {
    return OpenSslInvalid("sign: key and digest do not fit");
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return OpenSslInternal("sign failed");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return OpenSslInternal("sign failed");
  }
  sig.resize(len);
  return sig;
}

}  // namespace eg::crypto
