// JWS parse / verify / sign: RFC 7515 vectors, round trips for every alg, and every way a request
// body can be wrong.
#include "crypto/jose/jws.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "crypto/jose/errors.h"
#include "crypto/jose/jwk.h"
#include "tests/crypto_jose/test_keys.h"

namespace eg::crypto::jose {
namespace {

using json = nlohmann::json;
using testing::TestKey;

constexpr const char* kUrl = "https://ca.example/acme/new-order";

JoseProblem ProblemOfBody(std::string_view body) {
  Result<Jws> jws = ParseJws(body);
  if (jws.ok()) {
    Result<void> v = jws->jwk ? VerifyJws(*jws, *jws->jwk) : Ok();
    EXPECT_FALSE(v.ok()) << "accepted: " << body;
    return v.ok() ? JoseProblem::kInternal : ProblemOf(v.error());
  }
  return ProblemOf(jws.error());
}

json Header(JwsAlg alg, const PrivateKey& key) {
  return {{"alg", std::string(JwsAlgName(alg))},
          {"url", kUrl},
          {"nonce", "bm9uY2U"},
          {"jwk", *ToJwk(key.Public())}};
}

std::string Sign(const PrivateKey& key, JwsAlg alg, const json& header,
                 std::string_view payload = "{}") {
  Result<std::string> s = SignJwsWithHeader(key, alg, header, payload);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? *s : "";
}

TEST(Jws, Rfc7515A3Es256Vector) {
  PublicKey key = *ParseJwkText(testing::kA3Jwk);
  Bytes sig = *Base64UrlDecode(testing::kA3Signature);
  EXPECT_TRUE(VerifySignature(JwsAlg::kEs256, key, testing::kA3SigningInput, sig).ok());
  sig[5] ^= 1;
  Result<void> bad = VerifySignature(JwsAlg::kEs256, key, testing::kA3SigningInput, sig);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ProblemOf(bad.error()), JoseProblem::kUnauthorized);
}

TEST(Jws, Rfc7515A2Rs256Vector) {
  PublicKey key = *ParseJwk({{"kty", "RSA"}, {"n", testing::kA2N}, {"e", "AQAB"}});
  Bytes sig = *Base64UrlDecode(testing::kA2Signature);
  EXPECT_TRUE(VerifySignature(JwsAlg::kRs256, key, testing::kA2SigningInput, sig).ok());
  std::string tampered = testing::kA2SigningInput;
  tampered.back() = 'R';
  EXPECT_FALSE(VerifySignature(JwsAlg::kRs256, key, tampered, sig).ok());
}

struct AlgCase {
  KeySpec spec;
  JwsAlg alg;
};
const AlgCase kCases[] = {{KeySpec::kEcP256, JwsAlg::kEs256},
                          {KeySpec::kEcP384, JwsAlg::kEs384},
                          {KeySpec::kEcP521, JwsAlg::kEs512},
                          {KeySpec::kRsa2048, JwsAlg::kRs256},
                          {KeySpec::kEd25519, JwsAlg::kEdDsa}};

TEST(Jws, RoundTripEveryAlgWithJwk) {
  for (const AlgCase& c : kCases) {
    const PrivateKey& key = TestKey(c.spec);
    EXPECT_EQ(*AlgForKey(key.Public()), c.alg);
    std::string body = *SignJws(key, {.alg = c.alg, .url = kUrl, .nonce = "n1"}, R"({"a":1})");
    Result<Jws> jws = ParseAndVerifyWithJwk(body);
    ASSERT_TRUE(jws.ok()) << JwsAlgName(c.alg) << ": " << jws.error().ToString();
    EXPECT_EQ(jws->alg, c.alg);
    EXPECT_EQ(jws->url, kUrl);
    EXPECT_EQ(jws->nonce, "n1");
    EXPECT_EQ(jws->payload, R"({"a":1})");
    EXPECT_FALSE(jws->IsPostAsGet());
    EXPECT_TRUE(jws->kid.empty());
    EXPECT_TRUE(jws->jwk->Equals(key.Public()));
    json doc = json::parse(body);
    EXPECT_EQ(jws->signing_input,
              doc["protected"].get<std::string>() + "." + doc["payload"].get<std::string>());
  }
}

TEST(Jws, KidAndPostAsGet) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  std::string body =
      *SignJws(key, {.alg = JwsAlg::kEs256, .url = kUrl, .nonce = "n", .kid = "acct/1"}, "");
  Result<Jws> jws = ParseJws(body);
  ASSERT_TRUE(jws.ok()) << jws.error().ToString();
  EXPECT_EQ(jws->kid, "acct/1");
  EXPECT_FALSE(jws->jwk.has_value());
  EXPECT_TRUE(jws->IsPostAsGet());
  EXPECT_TRUE(VerifyJws(*jws, key.Public()).ok());
  EXPECT_FALSE(VerifyJws(*jws, TestKey(KeySpec::kEcP384).Public()).ok());  // another account key
  Result<Jws> needs_jwk = ParseAndVerifyWithJwk(body);
  ASSERT_FALSE(needs_jwk.ok());
  EXPECT_EQ(ProblemOf(needs_jwk.error()), JoseProblem::kMalformed);
  // No nonce: parsed, left to the ACME layer (badNonce).
  Result<Jws> no_nonce = ParseJws(*SignJws(key, {.alg = JwsAlg::kEs256, .url = kUrl}, ""));
  ASSERT_TRUE(no_nonce.ok());
  EXPECT_FALSE(no_nonce->nonce.has_value());
}

TEST(Jws, AlgMustFitKey) {
  const PrivateKey& p256 = TestKey(KeySpec::kEcP256);
  json h = Header(JwsAlg::kEs256, p256);
  for (const char* alg : {"ES384", "ES512", "RS256", "EdDSA"}) {
    h["alg"] = alg;
    EXPECT_EQ(ProblemOfBody(Sign(p256, JwsAlg::kEs256, h)), JoseProblem::kBadSignatureAlgorithm)
        << alg;
  }
  const PrivateKey& rsa = TestKey(KeySpec::kRsa2048);
  json hr = Header(JwsAlg::kRs256, rsa);
  hr["alg"] = "ES256";
  EXPECT_EQ(ProblemOfBody(Sign(rsa, JwsAlg::kRs256, hr)), JoseProblem::kBadSignatureAlgorithm);
  // With a kid the mismatch shows at VerifyJws.
  std::string body =
      *SignJws(p256, {.alg = JwsAlg::kEs256, .url = kUrl, .nonce = "n", .kid = "a"}, "");
  Result<void> v = VerifyJws(*ParseJws(body), rsa.Public());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(ProblemOf(v.error()), JoseProblem::kBadSignatureAlgorithm);
  EXPECT_FALSE(SignJws(p256, {.alg = JwsAlg::kRs256, .url = kUrl}, "").ok());
}

TEST(Jws, RefusedAlgs) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  for (const char* alg :
       {"none", "HS256", "HS384", "HS512", "PS256", "RS384", "ES256K", "es256", ""}) {
    json h = Header(JwsAlg::kEs256, key);
    h["alg"] = alg;
    JoseProblem p = ProblemOfBody(Sign(key, JwsAlg::kEs256, h));
    if (std::string(alg).empty()) {
      EXPECT_EQ(p, JoseProblem::kMalformed);
    } else {
      EXPECT_EQ(p, JoseProblem::kBadSignatureAlgorithm) << alg;
    }
  }
  // alg "none" with an empty signature, as an attacker would send it.
  json h = Header(JwsAlg::kEs256, key);
  h["alg"] = "none";
  json body = {{"protected", Base64UrlEncode(h.dump())}, {"payload", ""}, {"signature", ""}};
  EXPECT_EQ(ProblemOfBody(body.dump()), JoseProblem::kBadSignatureAlgorithm);
  body["signature"] = "AA";
  EXPECT_EQ(ProblemOfBody(body.dump()), JoseProblem::kBadSignatureAlgorithm);
}

TEST(Jws, EmptySignatureOfAnAcceptedAlgIsMalformed) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  json body = json::parse(Sign(key, JwsAlg::kEs256, Header(JwsAlg::kEs256, key)));
  body["signature"] = "";
  EXPECT_EQ(ProblemOfBody(body.dump()), JoseProblem::kMalformed);
}

TEST(Jws, HeaderRules) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  json h = Header(JwsAlg::kEs256, key);
  json both = h;
  both["kid"] = "acct/1";
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, both)), JoseProblem::kMalformed);
  json neither = h;
  neither.erase("jwk");
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, neither)), JoseProblem::kMalformed);
  for (const char* m : {"url", "alg"}) {
    json missing = h;
    missing.erase(m);
    EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, missing)), JoseProblem::kMalformed) << m;
  }
  json crit = h;
  crit["crit"] = json::array({"b64"});
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, crit)), JoseProblem::kMalformed);
  json b64 = h;
  b64["b64"] = false;
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, b64)), JoseProblem::kMalformed);
  json nonce_num = h;
  nonce_num["nonce"] = 5;
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, nonce_num)), JoseProblem::kMalformed);
  json long_url = h;
  long_url["url"] = std::string(kMaxUrlChars + 1, 'u');
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, long_url)), JoseProblem::kMalformed);
  json private_jwk = h;
  private_jwk["jwk"]["d"] = "AAAA";
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, private_jwk)), JoseProblem::kBadPublicKey);
  json short_rsa = h;
  short_rsa["alg"] = "RS256";
  short_rsa["jwk"] = {{"kty", "RSA"}, {"n", Base64UrlEncode(Bytes(128, 0xC3))}, {"e", "AQAB"}};
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, short_rsa)), JoseProblem::kBadPublicKey);
  json bad_point = h;
  bad_point["jwk"]["x"] = Base64UrlEncode(Bytes(32, 0x01));
  EXPECT_EQ(ProblemOfBody(Sign(key, JwsAlg::kEs256, bad_point)), JoseProblem::kBadPublicKey);
  json extra = h;
  extra["typ"] = "JOSE";  // unknown members are ignored
  EXPECT_TRUE(ParseAndVerifyWithJwk(Sign(key, JwsAlg::kEs256, extra)).ok());
}

TEST(Jws, DuplicateHeaderMembersUseTheLastOne) {
  // RFC 7515 §4: reject duplicates or use the lexically last; nlohmann keeps the last.
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  std::string jwk = ToJwk(key.Public())->dump();
  std::string header = R"({"alg":"none","url":"u","jwk":)" + jwk + R"(,"alg":"ES256"})";
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(std::string_view("{}"));
  json body = {{"protected", Base64UrlEncode(header)},
               {"payload", Base64UrlEncode(std::string_view("{}"))},
               {"signature", Base64UrlEncode(*SignRaw(JwsAlg::kEs256, key, input))}};
  Result<Jws> jws = ParseAndVerifyWithJwk(body.dump());
  ASSERT_TRUE(jws.ok()) << jws.error().ToString();
  EXPECT_EQ(jws->alg, JwsAlg::kEs256);
  std::string reversed = R"({"alg":"ES256","url":"u","jwk":)" + jwk + R"(,"alg":"none"})";
  body["protected"] = Base64UrlEncode(reversed);
  EXPECT_EQ(ProblemOfBody(body.dump()), JoseProblem::kBadSignatureAlgorithm);
}

TEST(Jws, SerializationRules) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  json doc = json::parse(Sign(key, JwsAlg::kEs256, Header(JwsAlg::kEs256, key)));
  ASSERT_TRUE(ParseAndVerifyWithJwk(doc.dump()).ok());
  json with_header = doc;
  with_header["header"] = {{"kid", "x"}};
  EXPECT_EQ(ProblemOfBody(with_header.dump()), JoseProblem::kMalformed);
  json general = {
      {"payload", doc["payload"]},
      {"signatures",
       json::array({{{"protected", doc["protected"]}, {"signature", doc["signature"]}}})}};
  EXPECT_EQ(ProblemOfBody(general.dump()), JoseProblem::kMalformed);
  for (const char* m : {"protected", "payload", "signature"}) {
    json missing = doc;
    missing.erase(m);
    EXPECT_EQ(ProblemOfBody(missing.dump()), JoseProblem::kMalformed) << m;
    json wrong_type = doc;
    wrong_type[m] = 1;
    EXPECT_EQ(ProblemOfBody(wrong_type.dump()), JoseProblem::kMalformed) << m;
    json padded = doc;
    padded[m] = doc[m].get<std::string>() + "=";
    EXPECT_EQ(ProblemOfBody(padded.dump()), JoseProblem::kMalformed) << m;
  }
  // Compact serialization is not JSON.
  std::string compact = doc["protected"].get<std::string>() + "." +
                        doc["payload"].get<std::string>() + "." +
                        doc["signature"].get<std::string>();
  EXPECT_EQ(ProblemOfBody(compact), JoseProblem::kMalformed);
}

TEST(Jws, TamperingIsUnauthorized) {
  for (const AlgCase& c : kCases) {
    const PrivateKey& key = TestKey(c.spec);
    json doc = json::parse(*SignJws(key, {.alg = c.alg, .url = kUrl, .nonce = "n"}, "{}"));
    json payload = doc;
    payload["payload"] = Base64UrlEncode(std::string_view("{ }"));
    EXPECT_EQ(ProblemOfBody(payload.dump()), JoseProblem::kUnauthorized) << JwsAlgName(c.alg);
    json prot = doc;
    json h = Header(c.alg, key);
    h["nonce"] = "other";
    prot["protected"] = Base64UrlEncode(h.dump());
    EXPECT_EQ(ProblemOfBody(prot.dump()), JoseProblem::kUnauthorized) << JwsAlgName(c.alg);
    Bytes sig = *Base64UrlDecode(doc["signature"].get<std::string>());
    Bytes flipped = sig;
    flipped[flipped.size() / 2] ^= 0x40;
    json s1 = doc;
    s1["signature"] = Base64UrlEncode(flipped);
    EXPECT_EQ(ProblemOfBody(s1.dump()), JoseProblem::kUnauthorized) << JwsAlgName(c.alg);
    Bytes shorter(sig.begin(), sig.end() - 1);
    json s2 = doc;
    s2["signature"] = Base64UrlEncode(shorter);
    EXPECT_EQ(ProblemOfBody(s2.dump()), JoseProblem::kUnauthorized) << JwsAlgName(c.alg);
  }
}

TEST(Jws, EcdsaDerSignatureIsRefused) {
  // A DER ECDSA signature (what OpenSSL makes) is not the JWS form.
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  std::string input = "eyJhbGciOiJFUzI1NiJ9.e30";
  Bytes der = *key.Sign("SHA256", ToBytes(input));
  EXPECT_FALSE(VerifySignature(JwsAlg::kEs256, key.Public(), input, der).ok());
  EXPECT_TRUE(
      VerifySignature(JwsAlg::kEs256, key.Public(), input, *SignRaw(JwsAlg::kEs256, key, input))
          .ok());
}

TEST(Jws, GarbageNeverCrashes) {
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  std::string good = Sign(key, JwsAlg::kEs256, Header(JwsAlg::kEs256, key));
  std::vector<std::string> inputs = {"",
                                     "{",
                                     "[]",
                                     "null",
                                     "\"x\"",
                                     "{}",
                                     R"({"protected":"","payload":"","signature":""})",
                                     R"({"protected":"e30","payload":"","signature":"AA"})",
                                     R"({"protected":"bnVsbA","payload":"","signature":"AA"})",
                                     R"({"protected":"WzFd","payload":"","signature":"AA"})",
                                     std::string(kMaxJwsBodyBytes + 1, ' '),
                                     std::string(100000, '['),
                                     std::string("{\"protected\":\"\xff\xfe\"}")};
  for (size_t n = 0; n < good.size(); n += 7) inputs.push_back(good.substr(0, n));  // truncated
  for (size_t i = 0; i < good.size(); i += 11) {
    std::string g = good;
    g[i] = static_cast<char>(g[i] ^ 0x21);
    inputs.push_back(g);
  }
  json huge = json::parse(good);
  huge["payload"] = std::string(kMaxPayloadChars + 4, 'A');
  inputs.push_back(huge.dump());
  huge = json::parse(good);
  huge["signature"] = std::string(kMaxSignatureChars + 4, 'A');
  inputs.push_back(huge.dump());
  for (const std::string& in : inputs) {
    Result<Jws> jws = ParseJws(in);
    if (jws.ok() && jws->jwk) {
      (void)VerifyJws(*jws, *jws->jwk);
    } else if (!jws.ok()) {
      EXPECT_NE(ProblemOf(jws.error()), JoseProblem::kInternal) << jws.error().ToString();
      EXPECT_FALSE(jws.error().message().empty());
    }
  }
}

}  // namespace
}  // namespace eg::crypto::jose

namespace eg::crypto::jose {
namespace {

// Not a benchmark (no Google Benchmark here, and sanitizer builds skew numbers): prints the cost
// of the hot path so a regression by an order of magnitude is visible in the test log.
TEST(JwsTiming, ParseAndVerifyPrintsCostPerRequest) {
  for (const AlgCase& c :
       {AlgCase{KeySpec::kEcP256, JwsAlg::kEs256}, AlgCase{KeySpec::kRsa2048, JwsAlg::kRs256},
        AlgCase{KeySpec::kEd25519, JwsAlg::kEdDsa}}) {
    const PrivateKey& key = TestKey(c.spec);
    PublicKey pub = key.Public();
    std::string kid_body = *SignJws(key, {.alg = c.alg, .url = kUrl, .nonce = "n", .kid = "acct/1"},
                                    R"({"status":"x"})");
    std::string jwk_body = *SignJws(key, {.alg = c.alg, .url = kUrl, .nonce = "n"}, "{}");
    constexpr int kRounds = 200;
    auto time = [&](const std::function<bool()>& op) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kRounds; ++i) EXPECT_TRUE(op());
      return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                 .count() /
             kRounds;
    };
    double kid_us = time([&] {
      Result<Jws> j = ParseJws(kid_body);
      return j.ok() && VerifyJws(*j, pub).ok();
    });
    double jwk_us = time([&] { return ParseAndVerifyWithJwk(jwk_body).ok(); });
    std::printf("%s: kid parse+verify %.1f us, jwk parse+verify %.1f us\n",
                std::string(JwsAlgName(c.alg)).c_str(), kid_us, jwk_us);
  }
}

}  // namespace
}  // namespace eg::crypto::jose
