#include "protocols/acme/nonces.h"

#include <gtest/gtest.h>

#include "crypto/random.h"

namespace eg::acme {
namespace {

const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

TEST(NonceCodec, CarriesItsExpiryUnderItsKeyOnly) {
  const NonceCodec codec(crypto::RandomBytes(NonceCodec::kKeyBytes));
  const TimePoint expires = TimePoint(std::chrono::milliseconds(1'800'000'000'123));
  const std::string nonce = codec.Issue(expires);
  EXPECT_EQ(nonce.size(), 43u);
  EXPECT_NE(nonce, codec.Issue(expires));  // random part
  ASSERT_TRUE(codec.ExpiryOf(nonce).has_value());
  EXPECT_EQ(*codec.ExpiryOf(nonce), expires);

  const NonceCodec other(crypto::RandomBytes(NonceCodec::kKeyBytes));
  EXPECT_FALSE(other.ExpiryOf(nonce).has_value());

  // Any changed character (expiry, random part or tag) is refused.
  for (size_t i = 0; i < nonce.size(); ++i) {
    std::string altered = nonce;
    const size_t at = kAlphabet.find(altered[i]);
    ASSERT_NE(at, std::string::npos);
    altered[i] = kAlphabet[(at + 1) % kAlphabet.size()];
    EXPECT_FALSE(codec.ExpiryOf(altered).has_value()) << "position " << i;
  }
  EXPECT_FALSE(codec.ExpiryOf("").has_value());
  EXPECT_FALSE(codec.ExpiryOf(nonce.substr(1)).has_value());
  EXPECT_FALSE(codec.ExpiryOf(nonce + "A").has_value());
  EXPECT_FALSE(codec.ExpiryOf(std::string(43, '!')).has_value());
  EXPECT_FALSE(codec.ExpiryOf(crypto::RandomToken(32)).has_value());
}

}  // namespace
}  // namespace eg::acme
