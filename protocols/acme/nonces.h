// NonceCodec: Replay-Nonce values (RFC 8555 §6.5) that cost no store write to issue.
//
// A nonce is base64url(expiry || random || tag): the expiry in milliseconds since the epoch
// (8 bytes, big-endian), 8 random bytes, and the first 16 bytes of HMAC-SHA256 over those 16
// bytes under the nonce key. Any daemon holding the key recognizes a nonce any other one issued;
// that a nonce is accepted only once is the store's job (NonceStore::UseNonce keeps a used nonce
// until its expiry). The key is 32 random bytes, created by the first daemon on a store and shared
// through MetaStore under kMetaKey, so every daemon on one store agrees on it.
//
// Immutable after construction: const methods are safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/ports/store.h"
#include "core/result.h"
#include "crypto/base64.h"

namespace eg::acme {

class NonceCodec {
 public:
  static constexpr std::string_view kMetaKey = "acme_nonce_key";
  static constexpr size_t kKeyBytes = 32;

  // The store's nonce key; the first caller on a store creates it.
  static Result<crypto::Bytes> SharedKey(MetaStore& meta, TimePoint now);

  // `key` must be kKeyBytes long.
  explicit NonceCodec(crypto::Bytes key);

  std::string Issue(TimePoint expires_at) const;
  // The expiry `nonce` carries if it was issued under this key; nullopt for anything else
  // (malformed, another key, altered).
  std::optional<TimePoint> ExpiryOf(std::string_view nonce) const;

 private:
  crypto::Bytes Tag(const uint8_t* body) const;
  crypto::Bytes key_;
};

}  // namespace eg::acme
