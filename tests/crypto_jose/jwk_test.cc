// JWK parsing policy, serialization round trips and the RFC 7638 thumbprint.
#include "crypto/jose/jwk.h"

#include <gtest/gtest.h>

#include "crypto/jose/errors.h"
#include "tests/crypto_jose/test_keys.h"

namespace eg::crypto::jose {
namespace {

using json = nlohmann::json;
using testing::kA2N;
using testing::kA3Jwk;
using testing::TestKey;

// RFC 7638 §3.1.
constexpr const char* kRfc7638N =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWK"
    "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMic"
    "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
    "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

JoseProblem ProblemOfJwk(const json& j) {
  Result<PublicKey> k = ParseJwk(j);
  EXPECT_FALSE(k.ok());
  return k.ok() ? JoseProblem::kInternal : ProblemOf(k.error());
}

TEST(Jwk, Rfc7638Thumbprint) {
  json j = {
      {"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}};
  Result<PublicKey> key = ParseJwk(j);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  Result<std::string> tp = Thumbprint(*key);
  ASSERT_TRUE(tp.ok());
  EXPECT_EQ(*tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, RfcKeysParseAndSerializeBack) {
  Result<PublicKey> ec = ParseJwkText(kA3Jwk);
  ASSERT_TRUE(ec.ok()) << ec.error().ToString();
  EXPECT_EQ(ToJwk(*ec)->dump(), json::parse(kA3Jwk).dump());
  json rsa = {{"kty", "RSA"}, {"n", kA2N}, {"e", "AQAB"}};
  Result<PublicKey> r = ParseJwk(rsa);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*ToJwk(*r), rsa);
}

TEST(Jwk, RoundTripEveryKeyType) {
  for (KeySpec spec : {KeySpec::kRsa2048, KeySpec::kEcP256, KeySpec::kEcP384, KeySpec::kEcP521,
                       KeySpec::kEd25519}) {
    PublicKey pub = TestKey(spec).Public();
    Result<json> j = ToJwk(pub);
    ASSERT_TRUE(j.ok()) << j.error().ToString();
    Result<PublicKey> back = ParseJwkText(j->dump());
    ASSERT_TRUE(back.ok()) << j->dump() << ": " << back.error().ToString();
    EXPECT_TRUE(back->Equals(pub));
    EXPECT_EQ(*Thumbprint(*back), *Thumbprint(pub));
    EXPECT_EQ(Thumbprint(pub)->size(), 43u);
  }
}

TEST(Jwk, CacheParsesEachTextOnceAndKeepsNoFailures) {
  JwkCache cache(2);
  std::vector<std::string> texts;
  for (KeySpec spec : {KeySpec::kEcP256, KeySpec::kEcP384, KeySpec::kEd25519}) {
    texts.push_back(ToJwk(TestKey(spec).Public())->dump());
  }
  auto first = cache.Parse(texts[0]);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE((*first)->Equals(TestKey(KeySpec::kEcP256).Public()));
  EXPECT_EQ(cache.Parse(texts[0]).value(), *first);  // the same parsed key
  ASSERT_TRUE(cache.Parse(texts[1]).ok());
  ASSERT_TRUE(cache.Parse(texts[2]).ok());  // over capacity: the oldest (texts[0]) goes
  auto again = cache.Parse(texts[0]);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *first);
  EXPECT_TRUE((*again)->Equals(**first));
  // A refused key is refused every time, with ParseJwkText's error.
  const std::string bad = R"({"kty":"oct","k":"AAAA"})";
  EXPECT_EQ(cache.Parse(bad).error().ToString(), ParseJwkText(bad).error().ToString());
  EXPECT_FALSE(cache.Parse(bad).ok());
}

TEST(Jwk, RefusesPrivateMembers) {
  json j = json::parse(kA3Jwk);
  j["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  EXPECT_EQ(ProblemOfJwk(j), JoseProblem::kBadPublicKey);
  json r = {{"kty", "RSA"}, {"n", kA2N}, {"e", "AQAB"}, {"p", "AQAB"}};
  EXPECT_EQ(ProblemOfJwk(r), JoseProblem::kBadPublicKey);
}

TEST(Jwk, RsaPolicy) {
  // 1024-bit modulus: refused before any OpenSSL work.
  std::string n1024 = Base64UrlEncode(Bytes(128, 0xC3));
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", n1024}, {"e", "AQAB"}}),
            JoseProblem::kBadPublicKey);
  std::string n8200 = Base64UrlEncode(Bytes(1025, 0xC3));
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", n8200}, {"e", "AQAB"}}), JoseProblem::kMalformed);
  std::string even = Base64UrlEncode(Bytes(256, 0xC2));
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", even}, {"e", "AQAB"}}), JoseProblem::kBadPublicKey);
  for (const char* e : {"AQ" /*1*/, "Ag" /*2*/, "AQAA" /*65536*/, "AQAAAAE" /*2^32+1*/}) {
    EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", kA2N}, {"e", e}}), JoseProblem::kBadPublicKey)
        << e;
  }
  EXPECT_TRUE(ParseJwk({{"kty", "RSA"}, {"n", kA2N}, {"e", "Aw"}}).ok());  // e = 3
  // Leading zero octets, missing and mistyped members.
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", kA2N}, {"e", "AAEAAQ"}}), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"e", "AQAB"}}), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", 5}, {"e", "AQAB"}}), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfJwk({{"kty", "RSA"}, {"n", "a+b/"}, {"e", "AQAB"}}), JoseProblem::kMalformed);
}

TEST(Jwk, EcPolicy) {
  json j = json::parse(kA3Jwk);
  json off = j;
  std::string y = off["y"];
  y[10] = y[10] == 'A' ? 'B' : 'A';
  off["y"] = y;
  EXPECT_EQ(ProblemOfJwk(off), JoseProblem::kBadPublicKey);  // not on the curve
  json wrong_len = j;
  wrong_len["x"] = Base64UrlEncode(Bytes(31, 1));
  EXPECT_EQ(ProblemOfJwk(wrong_len), JoseProblem::kMalformed);
  json on_384 = j;
  on_384["crv"] = "P-384";
  EXPECT_EQ(ProblemOfJwk(on_384), JoseProblem::kMalformed);  // 32-octet coordinates
  json k1 = j;
  k1["crv"] = "secp256k1";
  EXPECT_EQ(ProblemOfJwk(k1), JoseProblem::kBadPublicKey);
  json big = j;
  big["x"] = Base64UrlEncode(Bytes(32, 0xFF));  // >= p
  EXPECT_EQ(ProblemOfJwk(big), JoseProblem::kBadPublicKey);
}

TEST(Jwk, OkpAndUnknownTypes) {
  json ed = *ToJwk(TestKey(KeySpec::kEd25519).Public());
  json x25519 = ed;
  x25519["crv"] = "X25519";
  EXPECT_EQ(ProblemOfJwk(x25519), JoseProblem::kBadPublicKey);
  json short_x = ed;
  short_x["x"] = Base64UrlEncode(Bytes(31, 1));
  EXPECT_EQ(ProblemOfJwk(short_x), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfJwk({{"kty", "oct"}, {"k", "AAAA"}}), JoseProblem::kBadPublicKey);
  EXPECT_EQ(ProblemOfJwk({{"kty", "oct"}}), JoseProblem::kBadPublicKey);
  EXPECT_EQ(ProblemOfJwk({{"kty", "DSA"}}), JoseProblem::kBadPublicKey);
  EXPECT_EQ(ProblemOfJwk({{"crv", "P-256"}}), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfJwk(json::array()), JoseProblem::kMalformed);
  EXPECT_FALSE(ParseJwkText("{").ok());
  EXPECT_FALSE(ParseJwkText("").ok());
  EXPECT_FALSE(ParseJwkText("null").ok());
}

}  // namespace
}  // namespace eg::crypto::jose
