#include "protocols/acme/nonces.h"

#include <cstring>

#include "crypto/random.h"

namespace eg::acme {

namespace {

constexpr size_t kExpiryBytes = 8;
constexpr size_t kRandomBytes = 8;
constexpr size_t kBodyBytes = kExpiryBytes + kRandomBytes;
constexpr size_t kTagBytes = 16;
constexpr size_t kNonceBytes = kBodyBytes + kTagBytes;

}  // namespace

Result<crypto::Bytes> NonceCodec::SharedKey(MetaStore& meta, TimePoint now) {
  const std::string key(kMetaKey);
  EG_ASSIGN_OR_RETURN(
      MetaEntry stored,
      meta.PutMetaIfAbsent(key, crypto::Base64UrlEncode(crypto::RandomBytes(kKeyBytes)), now));
  Result<crypto::Bytes> bytes = crypto::Base64UrlDecode(stored.value);
  if (!bytes.ok() || bytes->size() != kKeyBytes) {
    return Internal("the stored ACME nonce key (meta " + key + ") is not " +
                    std::to_string(kKeyBytes) + " bytes of base64url");
  }
  return std::move(bytes).value();
}

NonceCodec::NonceCodec(crypto::Bytes key) : key_(std::move(key)) {}

crypto::Bytes NonceCodec::Tag(const uint8_t* body) const {
  Result<crypto::Bytes> mac = crypto::Hmac(
      "SHA256", key_, std::string_view(reinterpret_cast<const char*>(body), kBodyBytes));
  // HMAC-SHA256 with a fixed, fetched digest does not fail short of memory exhaustion; an empty
  // tag then makes every nonce fail to verify rather than verify wrongly.
  if (!mac.ok() || mac->size() < kTagBytes) return {};
  mac->resize(kTagBytes);
  return std::move(mac).value();
}

std::string NonceCodec::Issue(TimePoint expires_at) const {
  uint8_t raw[kNonceBytes];
  const auto ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(expires_at.time_since_epoch()).count());
  for (size_t i = 0; i < kExpiryBytes; ++i) {
    raw[i] = static_cast<uint8_t>(ms >> (8 * (kExpiryBytes - 1 - i)));
  }
  const crypto::Bytes random = crypto::RandomBytes(kRandomBytes);
  std::memcpy(raw + kExpiryBytes, random.data(), kRandomBytes);
  const crypto::Bytes tag = Tag(raw);
  if (tag.size() == kTagBytes) {
    std::memcpy(raw + kBodyBytes, tag.data(), kTagBytes);
  } else {
    std::memset(raw + kBodyBytes, 0, kTagBytes);
  }
  return crypto::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), kNonceBytes));
}

std::optional<TimePoint> NonceCodec::ExpiryOf(std::string_view nonce) const {
  // 32 bytes are 43 base64url characters; refuse anything else before decoding.
  if (nonce.size() != (kNonceBytes * 4 + 2) / 3) return std::nullopt;
  Result<crypto::Bytes> raw = crypto::Base64UrlDecode(nonce);
  if (!raw.ok() || raw->size() != kNonceBytes) return std::nullopt;
  // One spelling per nonce: the store records used nonces by their text, so a second text for
  // the same bytes (other unused low bits in the last character) must not pass.
  if (crypto::Base64UrlEncode(*raw) != nonce) return std::nullopt;
  const crypto::Bytes tag = Tag(raw->data());
  if (tag.size() != kTagBytes ||
      !crypto::ConstantTimeEquals(tag, crypto::Bytes(raw->begin() + kBodyBytes, raw->end()))) {
    return std::nullopt;
  }
  uint64_t ms = 0;
  for (size_t i = 0; i < kExpiryBytes; ++i) ms = (ms << 8) | (*raw)[i];
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::milliseconds(static_cast<int64_t>(ms))));
}

}  // namespace eg::acme
