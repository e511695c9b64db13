// Seal/Open (AES-256-GCM): round trips, and every way a sealed blob can fail to open.
#include "crypto/seal.h"

#include <gtest/gtest.h>

#include "crypto/random.h"

namespace eg::crypto {
namespace {

constexpr std::string_view kDoesNotOpen = "sealed data does not open with this key";

void ExpectDoesNotOpen(const Result<Bytes>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), kDoesNotOpen);
}

TEST(Seal, RoundTripsAndLayout) {
  Bytes key = RandomBytes(kSealKeyBytes);
  for (size_t n : {0, 1, 15, 16, 17, 1000, 4096}) {
    Bytes plain = RandomBytes(n);
    auto sealed = Seal(key, plain, "est-serverkeygen/abc");
    ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
    EXPECT_EQ(sealed->size(), n + kSealOverheadBytes);
    EXPECT_EQ((*sealed)[0], kSealVersion);
    auto opened = Open(key, *sealed, "est-serverkeygen/abc");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    EXPECT_EQ(*opened, plain);
  }
}

TEST(Seal, FreshNonceEachTime) {
  Bytes key = RandomBytes(kSealKeyBytes);
  Bytes plain = ToBytes("the same private key");
  auto a = Seal(key, plain, "");
  auto b = Seal(key, plain, "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(Bytes(a->begin() + 1, a->begin() + 1 + kSealNonceBytes),
            Bytes(b->begin() + 1, b->begin() + 1 + kSealNonceBytes));
  // The plaintext does not appear in the output.
  EXPECT_EQ(AsStringView(*a).find("private key"), std::string_view::npos);
}

TEST(Seal, KeyMustBe32Bytes) {
  for (size_t n : {0, 16, 31, 33, 64}) {
    auto s = Seal(RandomBytes(n), ToBytes("x"), "");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message().find("32 bytes"), std::string::npos) << s.error().message();
    auto o = Open(RandomBytes(n), Bytes(64, 1), "");
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(o.error().message().find("32 bytes"), std::string::npos);
  }
}

TEST(Seal, WrongKeyOrAadDoesNotOpen) {
  Bytes key = RandomBytes(kSealKeyBytes);
  auto sealed = Seal(key, ToBytes("secret"), "request-1");
  ASSERT_TRUE(sealed.ok());
  ExpectDoesNotOpen(Open(RandomBytes(kSealKeyBytes), *sealed, "request-1"));
  ExpectDoesNotOpen(Open(key, *sealed, "request-2"));
  ExpectDoesNotOpen(Open(key, *sealed, ""));
  Bytes other_key = key;
  other_key[31] ^= 0x01;
  ExpectDoesNotOpen(Open(other_key, *sealed, "request-1"));
}

TEST(Seal, EveryFlippedBitIsDetected) {
  Bytes key = RandomBytes(kSealKeyBytes);
  auto sealed = Seal(key, ToBytes("a private key in PKCS#8"), "aad");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (int bit : {0, 7}) {
      Bytes t = *sealed;
      t[i] ^= static_cast<uint8_t>(1u << bit);
      ExpectDoesNotOpen(Open(key, t, "aad"));
    }
  }
}

TEST(Seal, TruncatedOrExtendedDoesNotOpen) {
  Bytes key = RandomBytes(kSealKeyBytes);
  auto sealed = Seal(key, ToBytes("secret"), "aad");
  ASSERT_TRUE(sealed.ok());
  for (size_t n = 0; n < sealed->size(); ++n) {
    ExpectDoesNotOpen(Open(key, Bytes(sealed->begin(), sealed->begin() + n), "aad"));
  }
  Bytes longer = *sealed;
  longer.push_back(0);
  ExpectDoesNotOpen(Open(key, longer, "aad"));
  // An empty plaintext seals to just the overhead and still authenticates.
  auto empty = Seal(key, {}, "aad");
  ASSERT_TRUE(empty.ok());
  Bytes no_tag(empty->begin(), empty->end() - 1);
  ExpectDoesNotOpen(Open(key, no_tag, "aad"));
}

TEST(Seal, UnknownVersionDoesNotOpen) {
  Bytes key = RandomBytes(kSealKeyBytes);
  auto sealed = Seal(key, ToBytes("secret"), "");
  ASSERT_TRUE(sealed.ok());
  Bytes v2 = *sealed;
  v2[0] = 2;
  ExpectDoesNotOpen(Open(key, v2, ""));
}

TEST(Seal, RefusesOversizePlaintext) {
  Bytes key = RandomBytes(kSealKeyBytes);
  auto s = Seal(key, Bytes(kMaxSealPlaintextBytes + 1), "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  ExpectDoesNotOpen(Open(key, Bytes(kMaxSealPlaintextBytes + kSealOverheadBytes + 1, 1), ""));
}

}  // namespace
}  // namespace eg::crypto
