// RFC 8555 negative paths against the running enrollgated, with the C++ test client over real
// HTTPS: every refusal carries its problem type as application/problem+json, and the store
// (read with the sqlite3 command) shows that nothing was written. Also the happy path the
// refusals are measured against (EAB account, pre-validated order, finalize, download), the
// mapped enrollment in SCM, and account revocation.
#include <gtest/gtest.h>

#include <regex>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;
constexpr auto kIssueTimeout = std::chrono::seconds(30);

// Asserts `r` is a problem document of `type` with a 4xx status.
void ExpectProblem(const Reply& r, std::string_view type) {
  EXPECT_GE(r.status, 400) << r.Describe();
  EXPECT_LT(r.status, 500) << r.Describe();
  EXPECT_EQ(r.Header("Content-Type").rfind("application/problem+json", 0), 0u) << r.Describe();
  EXPECT_EQ(r.ProblemType(), Problem(type)) << r.Describe();
}

std::string B64u(std::string_view s) { return crypto::Base64UrlEncode(s); }

class AcmeProtocolTest : public DaemonTest {
 protected:
  std::unique_ptr<AcmeClient> WebAccount() { return Account("web"); }
};

TEST_F(AcmeProtocolTest, DirectoryAndNonces) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  auto dir = client->Directory();
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  for (const char* name :
       {"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"}) {
    ASSERT_TRUE(dir->contains(name) && (*dir)[name].is_string()) << name << " in " << dir->dump();
    EXPECT_EQ((*dir)[name].get<std::string>().rfind(d_->base_url() + "/acme/", 0), 0u)
        << name << ": " << (*dir)[name];
  }
  ASSERT_TRUE(dir->contains("meta")) << dir->dump();
  EXPECT_TRUE((*dir)["meta"].contains("externalAccountRequired")) << dir->dump();

  // HEAD newNonce: 200, GET: 204 (RFC 8555 §7.2); both fresh, never cached. HEAD with curl (the
  // Beast transport does not do HEAD).
  testing::RunResult head =
      testing::RunProgram({"/usr/bin/curl", "-sS", "--max-time", "20", "-I", "--cacert",
                           d_->ca_bundle_path(), client->Url("newNonce")},
                          {}, /*merge_stderr=*/false);
  EXPECT_EQ(head.status, 0) << head.output;
  EXPECT_NE(head.output.find(" 200"), std::string::npos) << head.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(head.output, m,
                                std::regex("(?:^|\n)replay-nonce: *([^\r\n]+)", std::regex::icase)))
      << head.output;
  const std::string head_nonce = m[1];
  EXPECT_TRUE(std::regex_search(head.output,
                                std::regex("cache-control:[^\r\n]*no-store", std::regex::icase)))
      << head.output;
  Reply get = client->Get(client->Url("newNonce"));
  EXPECT_EQ(get.status, 204) << get.Describe();
  EXPECT_FALSE(get.Header("Replay-Nonce").empty());
  EXPECT_NE(get.Header("Replay-Nonce"), head_nonce);
  EXPECT_NE(get.Header("Cache-Control").find("no-store"), std::string::npos) << get.Describe();
}

TEST_F(AcmeProtocolTest, ReplayedNonceIsBadNonceWithAFreshOne) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto nonce = client->FreshNonce();
  ASSERT_TRUE(nonce.ok());
  const std::string payload =
      json{{"identifiers", {{{"type", "dns"}, {"value", "replay.example.test"}}}}}.dump();
  auto body = client->Sign(client->Url("newOrder"), payload, *nonce);
  ASSERT_TRUE(body.ok());
  const std::string empty = d_->StoreFingerprint();
  Reply first = client->PostJose(client->Url("newOrder"), *body);
  ASSERT_EQ(first.status, 201) << first.Describe();

  const std::string before = d_->StoreFingerprint();
  ASSERT_NE(before, empty) << "the fingerprint does not see a new order";
  Reply replay = client->PostJose(client->Url("newOrder"), *body);
  ExpectProblem(replay, "badNonce");
  EXPECT_EQ(replay.status, 400);
  const std::string fresh = replay.Header("Replay-Nonce");
  EXPECT_FALSE(fresh.empty()) << "badNonce must carry a fresh nonce (RFC 8555 §6.5)";
  EXPECT_NE(fresh, *nonce);
  EXPECT_EQ(d_->StoreFingerprint(), before) << "the replayed newOrder wrote something";

  // The fresh nonce works (what a client does after badNonce).
  auto retry = client->Sign(client->Url("newOrder"), payload, fresh);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(client->PostJose(client->Url("newOrder"), *retry).status, 201);
}

TEST_F(AcmeProtocolTest, WrongUrlIsUnauthorized) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto header = client->DefaultHeader(client->Url("newAccount"));  // signed for another URL
  ASSERT_TRUE(header.ok());
  const std::string payload =
      json{{"identifiers", {{{"type", "dns"}, {"value", "wrong-url.example.test"}}}}}.dump();
  auto body = client->SignWithHeader(*header, payload);
  ASSERT_TRUE(body.ok());
  const std::string before = d_->StoreFingerprint();
  Reply r = client->PostJose(client->Url("newOrder"), *body);
  ExpectProblem(r, "unauthorized");
  EXPECT_FALSE(r.Header("Replay-Nonce").empty());
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

// RFC 8555 §6.2: an algorithm the server does not accept is badSignatureAlgorithm, and the
// problem document MUST list the algorithms it does accept.
void ExpectBadSignatureAlgorithm(const Reply& r) {
  ExpectProblem(r, "badSignatureAlgorithm");
  EXPECT_EQ(r.status, 400);
  json problem = r.Json();
  ASSERT_TRUE(problem.contains("algorithms") && problem["algorithms"].is_array()) << r.body;
  for (const char* alg : {"ES256", "RS256"}) {
    EXPECT_NE(std::find(problem["algorithms"].begin(), problem["algorithms"].end(), alg),
              problem["algorithms"].end())
        << alg << " in " << r.body;
  }
  for (const json& alg : problem["algorithms"]) {
    EXPECT_TRUE(alg != "none" && alg != "HS256") << r.body;
  }
}

TEST_F(AcmeProtocolTest, AlgNoneIsBadSignatureAlgorithm) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  const std::string payload =
      json{{"identifiers", {{{"type", "dns"}, {"value", "none.example.test"}}}}}.dump();
  // An unsecured JWS as RFC 7515 Appendix A.5 writes one (empty signature), and one that carries
  // a signature anyway: both are refused for their algorithm, before anything else.
  for (const std::string& signature : {std::string(), B64u("not a signature")}) {
    auto header = client->DefaultHeader(client->Url("newOrder"));
    ASSERT_TRUE(header.ok());
    (*header)["alg"] = "none";
    const std::string body = json{
        {"protected", B64u(header->dump())},
        {"payload", B64u(payload)},
        {"signature", signature}}.dump();
    const std::string before = d_->StoreFingerprint();
    Reply r = client->PostJose(client->Url("newOrder"), body);
    SCOPED_TRACE(signature.empty() ? "empty signature" : "non-empty signature");
    ExpectBadSignatureAlgorithm(r);
    EXPECT_EQ(d_->StoreFingerprint(), before);
  }
}

TEST_F(AcmeProtocolTest, Hs256IsBadSignatureAlgorithm) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto header = client->DefaultHeader(client->Url("newOrder"));
  ASSERT_TRUE(header.ok());
  (*header)["alg"] = "HS256";
  const std::string payload =
      json{{"identifiers", {{{"type", "dns"}, {"value", "hs256.example.test"}}}}}.dump();
  const std::string input = B64u(header->dump()) + "." + B64u(payload);
  // A genuine HMAC-SHA256 over the signing input, with a key the server cannot know.
  auto mac = crypto::Hmac("SHA256", crypto::RandomBytes(32), input);
  ASSERT_TRUE(mac.ok());
  const std::string body = json{
      {"protected", B64u(header->dump())},
      {"payload", B64u(payload)},
      {"signature", crypto::Base64UrlEncode(
                        *mac)}}.dump();
  const std::string before = d_->StoreFingerprint();
  Reply r = client->PostJose(client->Url("newOrder"), body);
  ExpectBadSignatureAlgorithm(r);
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

TEST_F(AcmeProtocolTest, UnknownKidIsAccountDoesNotExist) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  // Same shape as a real account URL, another id; signed with a key the server never saw.
  std::string kid = client->kid();
  kid = kid.substr(0, kid.rfind('/') + 1) + "no-such-account-" + crypto::RandomToken(8);
  auto stranger = d_->NewClient();
  ASSERT_NE(stranger, nullptr);
  stranger->SetKid(kid);
  const std::string before = d_->StoreFingerprint();
  Reply r = stranger->NewOrder({"unknown-kid.example.test"});
  ExpectProblem(r, "accountDoesNotExist");
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

TEST_F(AcmeProtocolTest, AnotherAccountsOrderIsNotVisibleNorTouchable) {
  auto owner = WebAccount();
  auto other = WebAccount();
  ASSERT_NE(owner, nullptr);
  ASSERT_NE(other, nullptr);
  auto [order_url, order] = ReadyOrder(*owner, "owned.example.test");
  ASSERT_FALSE(order_url.empty());
  const std::string authz_url = order["authorizations"][0].get<std::string>();
  const std::string finalize_url = order["finalize"].get<std::string>();

  const std::string before = d_->StoreFingerprint();
  for (const std::string& url : {order_url, authz_url}) {
    Reply r = other->PostAsGet(url);
    EXPECT_TRUE(r.status == 404 || r.status == 401 || r.status == 403)
        << url << " " << r.Describe();
    EXPECT_TRUE(r.ProblemType() == Problem("unauthorized") ||
                r.ProblemType() == Problem("malformed"))
        << r.Describe();
    EXPECT_EQ(r.body.find("owned.example.test"), std::string::npos) << "leaked: " << r.body;
    EXPECT_EQ(r.body.find(finalize_url), std::string::npos) << "leaked: " << r.body;
  }
  // Finalizing someone else's order with a valid CSR does nothing.
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsr({"owned.example.test"}, *key);
  ASSERT_TRUE(csr.ok());
  Reply fin = other->Finalize(finalize_url, csr->Der());
  EXPECT_TRUE(fin.status == 404 || fin.status == 401 || fin.status == 403) << fin.Describe();
  EXPECT_EQ(fin.body.find("owned.example.test"), std::string::npos) << "leaked: " << fin.body;
  EXPECT_EQ(d_->StoreFingerprint(), before);

  // The owner still sees its order, untouched.
  Reply mine = owner->PostAsGet(order_url);
  EXPECT_EQ(mine.status, 200) << mine.Describe();
  EXPECT_EQ(mine.Json().value("status", ""), "ready") << mine.Describe();
}

TEST_F(AcmeProtocolTest, BadEabMacIsUnauthorized) {
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  EabCredential wrong = *eab;
  wrong.hmac_key_b64url = crypto::Base64UrlEncode(crypto::RandomBytes(32));
  const std::string before = d_->StoreFingerprint();
  Reply r = client->NewAccount(wrong);
  ExpectProblem(r, "unauthorized");
  EXPECT_EQ(d_->StoreFingerprint(), before) << "an account was created or the key was bound";
  // The genuine key still works: the failed attempt did not burn it.
  EXPECT_EQ(client->NewAccount(*eab).status, 201);
}

TEST_F(AcmeProtocolTest, EabForARevokedKeyIdIsUnauthorized) {
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  auto revoked = d_->RevokeEab(eab->key_id);
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  const std::string before = d_->StoreFingerprint();
  Reply r = client->NewAccount(*eab);
  ExpectProblem(r, "unauthorized");
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

TEST_F(AcmeProtocolTest, AccountWithoutEabGetsChallenges) {
  // Registering without EAB is allowed (web-challenge needs none); such an account gets
  // challenges, not pre-validated authorizations.
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  Reply account = client->NewAccount(std::nullopt);
  ASSERT_EQ(account.status, 201) << account.Describe();
  Reply order = client->NewOrder({"no-eab.example.test"});
  ASSERT_EQ(order.status, 201) << order.Describe();
  Reply authz = client->PostAsGet(order.Json()["authorizations"][0].get<std::string>());
  EXPECT_EQ(authz.Json().value("status", ""), "pending") << authz.Describe();
  bool http01 = false;
  for (const json& c : authz.Json().value("challenges", json::array())) {
    http01 = http01 || c.value("type", "") == "http-01";
  }
  EXPECT_TRUE(http01) << authz.Describe();
}

TEST_F(AcmeProtocolTest, CsrWithANameNotInTheOrderIsBadCsr) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto [order_url, order] = ReadyOrder(*client, "csr-names.example.test");
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  auto csr = MakeCsr({"csr-names.example.test", "extra.example.test"}, *key);
  ASSERT_TRUE(csr.ok());
  const std::string before = d_->StoreFingerprint();
  Reply r = client->Finalize(order["finalize"].get<std::string>(), csr->Der());
  ExpectProblem(r, "badCSR");
  EXPECT_EQ(d_->StoreFingerprint(), before) << "a refused finalize changed the order or enrolled";
  EXPECT_EQ(client->PostAsGet(order_url).Json().value("status", ""), "ready");
}

TEST_F(AcmeProtocolTest, DisallowedKeyTypeIsBadCsrOrBadPublicKey) {
  // SCM profile 1001 (the `web` mapping) allows RSA 2048/3072/4096 and EC P-256/P-384 only.
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  for (crypto::KeySpec spec : {crypto::KeySpec::kEcP521, crypto::KeySpec::kEd25519}) {
    auto [order_url, order] = ReadyOrder(*client, "keytype.example.test");
    auto key = crypto::PrivateKey::Generate(spec);
    ASSERT_TRUE(key.ok());
    auto csr = MakeCsr({"keytype.example.test"}, *key);
    ASSERT_TRUE(csr.ok());
    const std::string before = d_->StoreFingerprint();
    Reply r = client->Finalize(order["finalize"].get<std::string>(), csr->Der());
    EXPECT_TRUE(r.ProblemType() == Problem("badCSR") || r.ProblemType() == Problem("badPublicKey"))
        << r.Describe();
    if (r.ProblemType().size() > kProblemPrefix.size()) {
      ExpectProblem(r, r.ProblemType().substr(kProblemPrefix.size()));
    }
    EXPECT_EQ(d_->StoreFingerprint(), before);
  }
}

// A well-formed, signed newOrder whose payload alone is over the 256 KiB body limit.
std::string OversizedNewOrder(AcmeClient& client) {
  json payload = {{"identifiers", {{{"type", "dns"}, {"value", "big.example.test"}}}},
                  {"padding", std::string(300 * 1024, 'a')}};
  auto body = client.Sign(client.Url("newOrder"), payload.dump());
  EXPECT_TRUE(body.ok());
  return body.ok() ? *body : "";
}

// POSTs `body` to `url` with curl (extra headers first); the status, headers and reply.
struct CurlReply {
  std::string status, headers, body;
};
CurlReply CurlPost(const DaemonUnderTest& d, const std::string& url, const std::string& body,
                   const std::vector<std::string>& extra_headers) {
  testing::TempDir tmp;
  testing::WriteTextFile(tmp.path() + "/body", body);
  std::vector<std::string> argv = {"/usr/bin/curl",
                                   "-sS",
                                   "--max-time",
                                   "20",
                                   "--cacert",
                                   d.ca_bundle_path(),
                                   "-D",
                                   tmp.path() + "/headers",
                                   "-o",
                                   tmp.path() + "/reply",
                                   "-w",
                                   "%{http_code}",
                                   "-H",
                                   "Content-Type: application/jose+json"};
  for (const auto& h : extra_headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  argv.push_back("--data-binary");
  argv.push_back("@" + tmp.path() + "/body");
  argv.push_back(url);
  testing::RunResult r = testing::RunProgram(argv, {}, /*merge_stderr=*/true);
  return {r.output, testing::ReadTextFile(tmp.path() + "/headers"),
          testing::ReadTextFile(tmp.path() + "/reply")};
}

void Expect413Problem(const CurlReply& r) {
  EXPECT_EQ(r.status, "413") << r.headers << r.body;
  EXPECT_TRUE(std::regex_search(
      r.headers, std::regex("(^|\\n)content-type: *application/problem\\+json", std::regex::icase)))
      << r.headers << r.body;
  EXPECT_TRUE(
      std::regex_search(r.headers, std::regex("(^|\\n)replay-nonce: *\\S", std::regex::icase)))
      << r.headers;
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("type", ""), Problem("malformed"))
      << r.headers << r.body;
}

TEST_F(AcmeProtocolTest, BodyOverTheSizeLimitIs413) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  const std::string body = OversizedNewOrder(*client);
  const std::string before = d_->StoreFingerprint();
  // curl sends "Expect: 100-continue" for a body this size, so the server refuses it after the
  // headers, before the body is sent.
  Expect413Problem(CurlPost(*d_, client->Url("newOrder"), body, {}));
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

TEST_F(AcmeProtocolTest, BodyOverTheSizeLimitIs413WithoutExpectContinue) {
  // Python requests (certbot) and Go (lego) send the whole body without "Expect:
  // 100-continue"; they still read the 413 the server answers after the headers.
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  const std::string body = OversizedNewOrder(*client);
  const std::string before = d_->StoreFingerprint();
  Expect413Problem(CurlPost(*d_, client->Url("newOrder"), body, {"Expect:"}));
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

TEST_F(AcmeProtocolTest, WrongContentTypeIsMalformed) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto body =
      client->Sign(client->Url("newOrder"),
                   json{{"identifiers", {{{"type", "dns"}, {"value", "ct.example.test"}}}}}.dump());
  ASSERT_TRUE(body.ok());
  const std::string before = d_->StoreFingerprint();
  Reply r = client->PostRaw(client->Url("newOrder"), *body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 415) << r.Describe();
  EXPECT_EQ(r.ProblemType(), Problem("malformed")) << r.Describe();
  EXPECT_EQ(d_->StoreFingerprint(), before);
}

// The happy path end to end with the C++ client: the certificate is for the CSR's key and name,
// SCM holds the enrollment with the `web` mapping's profile, term and auto-renew days, and a
// revocation by the account reaches SCM.
TEST_F(AcmeProtocolTest, IssueDownloadAndRevokeThroughScm) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto issued = client->IssuePreValidated({"cpp-client.example.test"}, kIssueTimeout);
  ASSERT_TRUE(issued.ok()) << issued.error().ToString();
  auto chain = crypto::Certificate::ParsePemChain(issued->chain_pem);
  ASSERT_TRUE(chain.ok() && chain->size() >= 2) << issued->chain_pem;
  const crypto::Certificate& leaf = chain->front();
  EXPECT_TRUE(leaf.Key().Equals(issued->key->Public()));
  EXPECT_EQ(leaf.Sans().dns, std::vector<std::string>{"cpp-client.example.test"});
  EXPECT_TRUE(leaf.IsSignedBy((*chain)[1]));
  const auto term = leaf.NotAfter() - leaf.NotBefore();
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(term).count() / 24.0, 90, 1.01);

  auto scm = d_->ScmSslEnrollments("cpp-client.example.test");
  ASSERT_EQ(scm.size(), 1u);
  EXPECT_EQ(scm[0]["certType"].value("id", 0), 1001) << scm[0].dump();
  EXPECT_EQ(scm[0].value("term", 0), 90) << scm[0].dump();
  EXPECT_EQ(scm[0]["autoRenewDetails"].value("state", ""), "Scheduled") << scm[0].dump();
  EXPECT_EQ(scm[0]["autoRenewDetails"].value("daysBeforeExpiration", 0), 30) << scm[0].dump();

  Reply revoke = client->Revoke(leaf.Der(), /*reason=*/4);
  EXPECT_EQ(revoke.status, 200) << revoke.Describe();
  scm = d_->ScmSslEnrollments("cpp-client.example.test");
  ASSERT_EQ(scm.size(), 1u);
  EXPECT_EQ(scm[0].value("status", ""), "Revoked") << scm[0].dump();
  // Revoking again is alreadyRevoked.
  ExpectProblem(client->Revoke(leaf.Der(), 4), "alreadyRevoked");
}

TEST_F(AcmeProtocolTest, RevokeSignedByTheCertificatesKey) {
  auto client = WebAccount();
  ASSERT_NE(client, nullptr);
  auto issued = client->IssuePreValidated({"revoke-by-key.example.test"}, kIssueTimeout);
  ASSERT_TRUE(issued.ok()) << issued.error().ToString();
  auto leaf = crypto::Certificate::ParsePem(issued->chain_pem);
  ASSERT_TRUE(leaf.ok());
  // Another key cannot revoke it (neither an account that owns it nor the certificate's key).
  auto stranger = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(stranger.ok());
  Reply refused = client->Revoke(leaf->Der(), std::nullopt, &*stranger);
  EXPECT_EQ(refused.ProblemType(), Problem("unauthorized")) << refused.Describe();
  // RFC 8555 §7.6: a JWS with the certificate's key as jwk.
  Reply r = client->Revoke(leaf->Der(), /*reason=*/1, issued->key.get());
  EXPECT_EQ(r.status, 200) << r.Describe();
  auto scm = d_->ScmSslEnrollments("revoke-by-key.example.test");
  ASSERT_EQ(scm.size(), 1u);
  EXPECT_EQ(scm[0].value("status", ""), "Revoked") << scm[0].dump();
}

TEST_F(AcmeProtocolTest, OnlyReturnExistingForAnUnknownKeyIsAccountDoesNotExist) {
  auto client = d_->NewClient();
  ASSERT_NE(client, nullptr);
  const std::string before = d_->StoreFingerprint();
  Reply r = client->NewAccount(std::nullopt, {}, {{"onlyReturnExisting", true}});
  ExpectProblem(r, "accountDoesNotExist");
  EXPECT_EQ(d_->StoreFingerprint(), before);
  // For a registered key it returns the account (200, same Location).
  auto known = WebAccount();
  ASSERT_NE(known, nullptr);
  const std::string kid = known->kid();
  Reply again = known->NewAccount(std::nullopt, {}, {{"onlyReturnExisting", true}});
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.Header("Location"), kid);
}

}  // namespace
}  // namespace eg::acme_test
