// External account binding: build → parse → MAC check, and each rule of RFC 8555 §7.3.4.
#include "crypto/jose/eab.h"

#include <gtest/gtest.h>

#include <functional>

#include "crypto/jose/errors.h"
#include "crypto/jose/jwk.h"
#include "crypto/jose/jws.h"
#include "crypto/random.h"
#include "tests/crypto_jose/test_keys.h"

namespace eg::crypto::jose {
namespace {

using json = nlohmann::json;
using testing::TestKey;

constexpr const char* kUrl = "https://ca.example/acme/new-account";
const Bytes kMacKey = ToBytes("0123456789abcdef0123456789abcdef");

// Re-signs an EAB whose protected header was changed by `edit`.
json EabWithHeader(const PublicKey& account, const std::function<void(json&)>& edit,
                   const Bytes& mac_key = kMacKey, const char* digest = "SHA256") {
  json header = {{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kUrl}};
  edit(header);
  std::string input = Base64UrlEncode(header.dump());
  std::string payload = Base64UrlEncode(ToJwk(account)->dump());
  json out = {{"protected", input}, {"payload", payload}};
  out["signature"] = Base64UrlEncode(*Hmac(digest, mac_key, input + "." + payload));
  return out;
}

JoseProblem ProblemOfEab(const json& eab, const PublicKey& account) {
  Result<Eab> parsed = ParseEab(eab, kUrl, account);
  if (!parsed.ok()) return ProblemOf(parsed.error());
  Result<void> mac = VerifyEabMac(*parsed, kMacKey);
  EXPECT_FALSE(mac.ok());
  return mac.ok() ? JoseProblem::kInternal : ProblemOf(mac.error());
}

TEST(Eab, BuildParseVerifyEveryAlg) {
  for (EabAlg alg : {EabAlg::kHs256, EabAlg::kHs384, EabAlg::kHs512}) {
    for (KeySpec spec : {KeySpec::kEcP256, KeySpec::kRsa2048, KeySpec::kEd25519}) {
      PublicKey account = TestKey(spec).Public();
      json eab = *BuildEab("kid-1", kMacKey, alg, kUrl, account);
      Result<Eab> parsed = ParseEab(eab, kUrl, account);
      ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
      EXPECT_EQ(parsed->kid, "kid-1");
      EXPECT_EQ(parsed->alg, alg);
      EXPECT_TRUE(VerifyEabMac(*parsed, kMacKey).ok());
      EXPECT_TRUE(VerifyEabMacB64(*parsed, Base64UrlEncode(kMacKey)).ok());
    }
  }
}

TEST(Eab, InsideANewAccountRequest) {
  // The way the ACME layer meets it: in the outer payload of a jwk-signed newAccount.
  const PrivateKey& key = TestKey(KeySpec::kEcP256);
  json payload = {
      {"termsOfServiceAgreed", true},
      {"externalAccountBinding", *BuildEab("kid-1", kMacKey, EabAlg::kHs256, kUrl, key.Public())}};
  std::string body =
      *SignJws(key, {.alg = JwsAlg::kEs256, .url = kUrl, .nonce = "n"}, payload.dump());
  Result<Jws> outer = ParseAndVerifyWithJwk(body);
  ASSERT_TRUE(outer.ok());
  json p = json::parse(outer->payload);
  Result<Eab> eab = ParseEab(p["externalAccountBinding"], outer->url, *outer->jwk);
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  EXPECT_TRUE(VerifyEabMac(*eab, kMacKey).ok());
}

TEST(Eab, WrongMacIsUnauthorized) {
  PublicKey account = TestKey(KeySpec::kEcP256).Public();
  json eab = *BuildEab("kid-1", ToBytes("another key of thirty-two bytes!"), EabAlg::kHs256, kUrl,
                       account);
  EXPECT_EQ(ProblemOfEab(eab, account), JoseProblem::kUnauthorized);
  json truncated = *BuildEab("kid-1", kMacKey, EabAlg::kHs256, kUrl, account);
  truncated["signature"] = truncated["signature"].get<std::string>().substr(0, 20);
  EXPECT_EQ(ProblemOfEab(truncated, account), JoseProblem::kUnauthorized);
  json unsigned_eab = truncated;
  unsigned_eab["signature"] = "";
  EXPECT_EQ(ProblemOfEab(unsigned_eab, account), JoseProblem::kMalformed);
  // The MAC of HS256 under a header that says HS512.
  json lying = EabWithHeader(account, [](json& h) { h["alg"] = "HS512"; });
  EXPECT_EQ(ProblemOfEab(lying, account), JoseProblem::kUnauthorized);
  Result<Eab> parsed =
      ParseEab(*BuildEab("k", kMacKey, EabAlg::kHs256, kUrl, account), kUrl, account);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(VerifyEabMac(*parsed, {}).ok());
  EXPECT_FALSE(VerifyEabMacB64(*parsed, "not base64url!").ok());
}

TEST(Eab, HeaderRules) {
  PublicKey account = TestKey(KeySpec::kEcP256).Public();
  EXPECT_EQ(
      ProblemOfEab(EabWithHeader(account, [](json& h) { h["url"] = "https://evil/"; }), account),
      JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfEab(EabWithHeader(account, [](json& h) { h["nonce"] = "n"; }), account),
            JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfEab(EabWithHeader(account, [](json& h) { h.erase("kid"); }), account),
            JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfEab(EabWithHeader(account, [](json& h) { h["kid"] = 7; }), account),
            JoseProblem::kMalformed);
  for (const char* alg : {"ES256", "RS256", "none", "HS1"}) {
    EXPECT_EQ(ProblemOfEab(EabWithHeader(account, [&](json& h) { h["alg"] = alg; }), account),
              JoseProblem::kBadSignatureAlgorithm)
        << alg;
  }
  json with_header = *BuildEab("kid-1", kMacKey, EabAlg::kHs256, kUrl, account);
  with_header["header"] = json::object();
  EXPECT_EQ(ProblemOfEab(with_header, account), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfEab(json("a string"), account), JoseProblem::kMalformed);
  EXPECT_EQ(ProblemOfEab(json::object(), account), JoseProblem::kMalformed);
}

TEST(Eab, PayloadMustBeTheAccountKey) {
  PublicKey account = TestKey(KeySpec::kEcP256).Public();
  PublicKey other = TestKey(KeySpec::kEcP384).Public();
  json eab = *BuildEab("kid-1", kMacKey, EabAlg::kHs256, kUrl, other);
  EXPECT_EQ(ProblemOfEab(eab, account), JoseProblem::kMalformed);
  // Same key written with extra members and another member order still matches.
  json jwk = *ToJwk(account);
  jwk["use"] = "sig";
  std::string input = Base64UrlEncode(json({{"alg", "HS256"}, {"kid", "k"}, {"url", kUrl}}).dump());
  std::string payload = Base64UrlEncode(jwk.dump(2));
  json ok = {{"protected", input},
             {"payload", payload},
             {"signature", Base64UrlEncode(*Hmac("SHA256", kMacKey, input + "." + payload))}};
  Result<Eab> parsed = ParseEab(ok, kUrl, account);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_TRUE(VerifyEabMac(*parsed, kMacKey).ok());
  json not_json = ok;
  not_json["payload"] = Base64UrlEncode(std::string_view("not json"));
  EXPECT_EQ(ProblemOfEab(not_json, account), JoseProblem::kMalformed);
}

}  // namespace
}  // namespace eg::crypto::jose
