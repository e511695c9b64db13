// Keys: RAII over OpenSSL EVP_PKEY, and their "key type" as SCM profiles name it.
//
// PrivateKey and PublicKey own their EVP_PKEY; they are movable, not copyable. Const methods are
// safe to call from several threads at once (OpenSSL 3 keys are read-only after creation).
// OpenSSL types stay out of this header: callers outside crypto/ never see them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "crypto/base64.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace eg::crypto {

// What SCM's profile `keyTypes` lists: algorithm "RSA" with size "2048", "EC" with curve
// "P-256", or "EdDSA" with "Ed25519".
struct KeyType {
  std::string algorithm;  // "RSA" | "EC" | "EdDSA"
  std::string parameter;  // "2048" | "P-256" | "Ed25519"
  // "RSA - 2048", "EC - P-256" (the form SCM's certificate details use).
  std::string ScmName() const;
  bool operator==(const KeyType&) const = default;
};

enum class KeySpec { kRsa2048, kRsa3072, kRsa4096, kEcP256, kEcP384, kEcP521, kEd25519 };
std::optional<KeySpec> ParseKeySpec(std::string_view text);  // "rsa2048", "ec-p256", "ed25519"
KeyType KeyTypeOf(KeySpec spec);

struct EvpPkeyDeleter {
  void operator()(evp_pkey_st* key) const;
};
using EvpPkeyPtr = std::unique_ptr<evp_pkey_st, EvpPkeyDeleter>;

class PublicKey {
 public:
  explicit PublicKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  static Result<PublicKey> FromSpkiDer(const Bytes& der);
  static Result<PublicKey> FromPem(std::string_view pem);  // "PUBLIC KEY"

  KeyType Type() const;
  Bytes SpkiDer() const;  // SubjectPublicKeyInfo
  std::string Pem() const;
  bool Equals(const PublicKey& other) const;
  // Verifies `signature` over `data`: RSA PKCS#1 v1.5 or PSS, ECDSA (DER signature) or Ed25519.
  // `digest` is "SHA256" | "SHA384" | "SHA512" | "" (Ed25519).
  Result<void> Verify(std::string_view digest, const Bytes& data, const Bytes& signature) const;

  evp_pkey_st* get() const { return key_.get(); }

 private:
  EvpPkeyPtr key_;
};

class PrivateKey {
 public:
  explicit PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  static Result<PrivateKey> Generate(KeySpec spec);
  // PKCS#8 "PRIVATE KEY", or the traditional "RSA PRIVATE KEY" / "EC PRIVATE KEY".
  static Result<PrivateKey> FromPem(std::string_view pem);
  static Result<PrivateKey> FromPkcs8Der(const Bytes& der);

  KeyType Type() const;
  PublicKey Public() const;
  Bytes Pkcs8Der() const;
  std::string Pkcs8Pem() const;
  // Signs with the key's natural scheme: RSA PKCS#1 v1.5, ECDSA (DER), Ed25519 (no digest).
  Result<Bytes> Sign(std::string_view digest, const Bytes& data) const;

  evp_pkey_st* get() const { return key_.get(); }

 private:
  EvpPkeyPtr key_;
};

}  // namespace eg::crypto
