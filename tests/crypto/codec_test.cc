// base64, base64url, hex, PEM: known vectors (RFC 4648 §10) and malformed input.
#include <gtest/gtest.h>

#include "crypto/base64.h"
#include "crypto/pem.h"
#include "crypto/random.h"

namespace eg::crypto {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(Base64Encode(plain), enc);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(AsStringView(dec.value()), plain);
  }
}

TEST(Base64, SkipsWhitespaceLikeEstBodies) {
  auto dec = Base64Decode("Zm9v\r\nYmFy\n");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(AsStringView(dec.value()), "foobar");
  EXPECT_TRUE(Base64Decode("Zm9vYg").ok());  // unpadded accepted
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(Base64Decode("Zm9v!").ok());
  EXPECT_FALSE(Base64Decode("Zm9vY").ok());     // 1 leftover char
  EXPECT_FALSE(Base64Decode("Zg==Zg==").ok());  // data after padding
  EXPECT_FALSE(Base64Decode("Zg===").ok());     // too much padding
  EXPECT_FALSE(Base64Decode("Zh==").ok());      // non-canonical trailing bits
  EXPECT_EQ(Base64Decode("Zm9v!").error().code(), ErrorCode::kInvalidArgument);
}

TEST(Base64Url, StrictAlphabetNoPadding) {
  Bytes b = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(Base64UrlEncode(b), "-__-");
  EXPECT_EQ(Base64UrlEncode(std::string_view("f")), "Zg");
  auto dec = Base64UrlDecode("-__-");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec.value(), b);
  EXPECT_FALSE(Base64UrlDecode("Zg==").ok());
  EXPECT_FALSE(Base64UrlDecode("+//+").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9v\n").ok());
}

TEST(Base64, RoundTripsRandomData) {
  for (size_t n = 0; n < 70; ++n) {
    Bytes data = RandomBytes(n);
    auto a = Base64Decode(Base64Encode(data));
    auto b = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.value(), data);
    EXPECT_EQ(b.value(), data);
  }
}

TEST(Hex, LowerAndColon) {
  Bytes b = {0x0a, 0x1b, 0xff};
  EXPECT_EQ(HexEncode(b), "0a1bff");
  EXPECT_EQ(ColonHex(b), "0A:1B:FF");
  EXPECT_EQ(ColonHex({}), "");
}

TEST(Pem, RoundTripAndLines) {
  Bytes der = RandomBytes(100);
  std::string pem = PemEncode("THING", der);
  EXPECT_TRUE(pem.starts_with("-----BEGIN THING-----\n"));
  EXPECT_TRUE(pem.ends_with("-----END THING-----\n"));
  auto back = PemDecode(pem, "THING");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), der);
}

TEST(Pem, WrongLabelNamesBoth) {
  std::string pem = PemEncode("PUBLIC KEY", {1, 2, 3});
  auto r = PemDecode(pem, "CERTIFICATE");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("CERTIFICATE"), std::string::npos);
  EXPECT_NE(r.error().message().find("PUBLIC KEY"), std::string::npos);
}

TEST(Pem, MalformedBlocks) {
  EXPECT_FALSE(PemDecodeAll("-----BEGIN A-----\nAAAA\n-----END B-----\n").ok());
  EXPECT_FALSE(PemDecodeAll("-----BEGIN A-----\nAAAA\n").ok());
  EXPECT_FALSE(PemDecodeAll("-----BEGIN A-----\n!!!!\n-----END A-----\n").ok());
  EXPECT_FALSE(PemDecode("no pem here", "A").ok());
  auto none = PemDecodeAll("just text");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST(Pem, SeveralBlocksWithTextBetween) {
  std::string text = "subject=x\n" + PemEncode("A", {1}) + "junk\n" + PemEncode("B", {2, 3});
  auto blocks = PemDecodeAll(text);
  ASSERT_TRUE(blocks.ok());
  ASSERT_EQ(blocks.value().size(), 2u);
  EXPECT_EQ(blocks.value()[1].label, "B");
  EXPECT_EQ(blocks.value()[1].der, (Bytes{2, 3}));
}

TEST(Random, TokensDifferAndHmacMatchesRfc4231) {
  EXPECT_NE(RandomToken(16), RandomToken(16));
  EXPECT_EQ(RandomToken(16).size(), 22u);
  // RFC 4231 test case 2.
  auto mac = Hmac("SHA256", ToBytes("Jefe"), "what do ya want for nothing?");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(HexEncode(mac.value()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_FALSE(Hmac("MD5", {}, "x").ok());
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals({1, 2}, {1, 2}));
  EXPECT_FALSE(ConstantTimeEquals({1, 2}, {1, 3}));
  EXPECT_FALSE(ConstantTimeEquals({1, 2}, {1}));
}

}  // namespace
}  // namespace eg::crypto
