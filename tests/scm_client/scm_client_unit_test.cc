// Unit tests of scm/client over a fake HttpTransport: error mapping, retry classification,
// the idempotency token, lost-reply recovery, OAuth2 caching, chain ordering.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "scm/client/call.h"
#include "scm/client/client_internal.h"
#include "scm/client/scm_errors.h"
#include "scm/client/wire_helpers.h"

namespace eg::scm_client {
namespace {

using json = nlohmann::json;

HttpResponse Reply(int status, std::string body, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&, SendFailure*)>;
  explicit FakeTransport(Handler h) : handler_(std::move(h)) {}
  Result<HttpResponse> Send(const HttpRequest& request, SendFailure* failure) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
    }
    return handler_(request, failure);
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Count(const std::string& method, const std::string& path_prefix) {
    int n = 0;
    for (const auto& r : requests()) {
      if (r.method == method && r.target.rfind(path_prefix, 0) == 0) ++n;
    }
    return n;
  }

 private:
  Handler handler_;
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

Options BaseOptions() {
  Options o;
  o.base_url = "https://scm.example.test:8443";
  o.customer_uri = "demo";
  o.login = "admin";
  o.password = "secret-pw";
  o.max_attempts = 4;
  return o;
}

struct Harness {
  explicit Harness(FakeTransport::Handler h, Options o = BaseOptions())
      : logger(LogLevel::kError), clock(FromUnixSeconds(1'800'000'000)) {
    auto t = std::make_unique<FakeTransport>(std::move(h));
    transport = t.get();
    auto c = CreateScmClientWithTransport(o, logger, clock, std::move(t),
                                          [this](std::chrono::milliseconds d) {
                                            std::lock_guard<std::mutex> lock(mu);
                                            sleeps.push_back(d);
                                          });
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
    client = std::move(c).value();
  }
  Logger logger;
  FakeClock clock;
  FakeTransport* transport = nullptr;
  std::unique_ptr<ScmApi> client;
  std::mutex mu;
  std::vector<std::chrono::milliseconds> sleeps;
};

ScmEnrollRequest SslRequest() {
  ScmEnrollRequest q;
  q.type = CertType::kSsl;
  q.org_id = 1697;
  q.profile_id = 1001;
  q.term_days = 365;
  q.csr_pem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
  q.common_name = "www.example.test";
  q.subject_alt_names = {"www.example.test", "api.example.test"};
  q.comments = "ACME certbot";
  q.idempotency_token = "tok123";
  return q;
}

// --- error mapping ---

TEST(ScmErrors, BusinessErrorKeepsCodeAndNamesOperation) {
  Error e = MapScmHttpError(
      "enroll (ssl)", 400,
      R"({"code":-36,"description":"The validity period (term) is invalid for this certificate profile.","items":["x"],"details":"y"})");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.provider_code(), -36);
  EXPECT_EQ(e.message(),
            "SCM enroll (ssl): -36 The validity period (term) is invalid for this certificate "
            "profile.");
  EXPECT_EQ(ClassifyScmError(e), ScmErrorKind::kBadTerm);
}

TEST(ScmErrors, StatusAndCodeKinds) {
  EXPECT_EQ(MapScmHttpError("x", 401, R"({"code":-16,"description":"Unknown user"})").code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(MapScmHttpError("x", 404, R"({"code":-124,"description":"Wrong"})").code(),
            ErrorCode::kNotFound);
  for (int code : {0, -1400, -109, -183}) {
    Error e =
        MapScmHttpError("collect (ssl)", 400, json{{"code", code}, {"description", "wait"}}.dump());
    EXPECT_EQ(e.code(), ErrorCode::kPending) << code;
    EXPECT_EQ(e.provider_code(), code);
  }
  for (int code : {-110, -192, -102, -159, -1112}) {
    EXPECT_EQ(MapScmHttpError("x", 400, json{{"code", code}}.dump()).code(),
              ErrorCode::kFailedPrecondition)
        << code;
  }
  Error e = MapScmHttpError("details (ssl)", 502, "<html>Bad Gateway</html>\n");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(e.provider_code().has_value());
  EXPECT_NE(e.message().find("HTTP 502"), std::string::npos);
  EXPECT_EQ(MapScmHttpError("x", 400, "not json").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(MapScmHttpError("x", 401, "").code(), ErrorCode::kUnauthenticated);
}

TEST(ScmErrors, RetryClassification) {
  EXPECT_TRUE(IsRetryableStatus(500));
  EXPECT_TRUE(IsRetryableStatus(503));
  EXPECT_TRUE(IsRetryableStatus(429));
  EXPECT_FALSE(IsRetryableStatus(400));
  EXPECT_FALSE(IsRetryableStatus(401));
  EXPECT_FALSE(IsRetryableStatus(404));
  EXPECT_TRUE(IsAmbiguousStatus(503));
  EXPECT_FALSE(IsAmbiguousStatus(429));
  EXPECT_EQ(ParseRetryAfter("3"), std::chrono::milliseconds(3000));
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  EXPECT_FALSE(ParseRetryAfter("").has_value());
  using ms = std::chrono::milliseconds;
  for (double r : {0.0, 0.5, 0.999}) {
    EXPECT_GE(BackoffDelay(1, ms(100), ms(5000), r), ms(50));
    EXPECT_LE(BackoffDelay(1, ms(100), ms(5000), r), ms(100));
    EXPECT_GE(BackoffDelay(3, ms(100), ms(5000), r), ms(200));
    EXPECT_LE(BackoffDelay(3, ms(100), ms(5000), r), ms(400));
    EXPECT_LE(BackoffDelay(30, ms(100), ms(5000), r), ms(5000));
  }
}

// --- pure helpers ---

TEST(WireHelpers, TokenInComments) {
  EXPECT_EQ(AppendTokenToComments("hello", "abc").value(), "hello [eg:abc]");
  EXPECT_EQ(AppendTokenToComments("", "abc").value(), "[eg:abc]");
  EXPECT_TRUE(CommentsHaveToken("hello [eg:abc]", "abc"));
  EXPECT_FALSE(CommentsHaveToken("hello [eg:abcd]", "abc"));
  EXPECT_FALSE(CommentsHaveToken("hello", ""));
  const std::string token(22, 'T');
  std::string long_comment(1100, 'x');
  auto c = AppendTokenToComments(long_comment, token);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 1024u);
  EXPECT_TRUE(CommentsHaveToken(*c, token));
  // A multi-byte character is never cut in half.
  std::string utf8;
  while (utf8.size() < 1100) utf8 += "\xC3\xA9";  // é
  c = AppendTokenToComments(utf8, token);
  ASSERT_TRUE(c.ok());
  EXPECT_LE(c->size(), 1024u);
  const size_t cut = c->find(" [eg:");
  EXPECT_EQ(cut % 2, 0u);
  EXPECT_FALSE(AppendTokenToComments("x", std::string(2000, 'a')).ok());
}

TEST(WireHelpers, UrlsAndIds) {
  auto e = ParseHttpsUrl("https://127.0.0.1:8443/base/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8443);
  EXPECT_EQ(e->prefix, "/base");
  e = ParseHttpsUrl("https://cert-manager.com");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->prefix, "");
  e = ParseHttpsUrl("https://[::1]:99/x");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_FALSE(ParseHttpsUrl("http://x").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://x:0").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://x/a?b=c").ok());
  EXPECT_FALSE(ParseHttpsUrl("https://x/a#b").ok());
  auto t = ParseHttpsTarget("https://[::1]:8443/acme/order/7?cursor=2");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 8443);
  EXPECT_EQ(t->target, "/acme/order/7?cursor=2");
  t = ParseHttpsTarget("https://example.test");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->target, "/");
  t = ParseHttpsTarget("https://example.test?x=1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "example.test");
  EXPECT_EQ(t->target, "/?x=1");
  EXPECT_FALSE(ParseHttpsTarget("https://example.test/a#frag").ok());
  EXPECT_FALSE(ParseHttpsTarget("http://example.test/").ok());
  EXPECT_FALSE(ParseHttpsTarget("https://example.test:99999/").ok());
  EXPECT_EQ(UrlEncode("a b@c.test"), "a%20b%40c.test");
  EXPECT_TRUE(IsSafeId("12345"));
  EXPECT_TRUE(IsSafeId("gu03sW6WENt7GTvDTuOP"));
  EXPECT_FALSE(IsSafeId("../1"));
  EXPECT_FALSE(IsSafeId(""));
  EXPECT_EQ(CsrToSingleLineBase64("-----BEGIN CERTIFICATE REQUEST-----\nAAEC\nAw==\n"
                                  "-----END CERTIFICATE REQUEST-----\n"),
            "AAECAw==");
}

crypto::Certificate MakeCert(const std::string& cn, const crypto::PrivateKey& key,
                             const crypto::PrivateKey& issuer_key,
                             const crypto::Certificate* issuer, bool ca) {
  crypto::IssueRequest r;
  r.subject.common_name = cn;
  r.is_ca = ca;
  r.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  r.not_after = r.not_before + std::chrono::hours(24 * 30);
  if (!ca) r.ekus = {crypto::Eku::kServerAuth};
  auto c = crypto::IssueCertificate(r, key.Public(), issuer_key, issuer);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
  return std::move(c).value();
}

TEST(WireHelpers, ChainIsOrderedLeafFirst) {
  auto root_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  auto int_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  auto leaf_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  auto root = MakeCert("Test Root", root_key, root_key, nullptr, true);
  auto inter = MakeCert("Test Intermediate", int_key, root_key, &root, true);
  auto leaf = MakeCert("www.example.test", leaf_key, int_key, &inter, false);
  // Root first, as SCM serves it.
  auto c = OrderCollectedChain(root.Pem() + inter.Pem() + leaf.Pem(), "collect (ssl)");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->leaf_pem, leaf.Pem());
  ASSERT_EQ(c->chain_pem.size(), 2u);
  EXPECT_EQ(c->chain_pem[0], inter.Pem());
  EXPECT_EQ(c->chain_pem[1], root.Pem());
  // Already leaf first, and leaf only.
  c = OrderCollectedChain(leaf.Pem() + inter.Pem(), "collect (ssl)");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->leaf_pem, leaf.Pem());
  c = OrderCollectedChain(leaf.Pem(), "collect (ssl)");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->chain_pem.empty());
  // Garbage.
  auto bad = OrderCollectedChain("hello", "collect (ssl)");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInternal);
}

TEST(WireHelpers, CollectedLeafFactsAndTheIssuerCache) {
  auto root_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  auto int_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
  auto root = MakeCert("Test Root", root_key, root_key, nullptr, true);
  auto inter = MakeCert("Test Intermediate", int_key, root_key, &root, true);
  CaCertificateCache cas;
  for (const char* name : {"a.example.test", "b.example.test"}) {
    auto leaf_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
    auto leaf = MakeCert(name, leaf_key, int_key, &inter, false);
    auto c = OrderCollectedChain(root.Pem() + leaf.Pem() + inter.Pem(), "collect (ssl)", &cas);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    EXPECT_EQ(c->leaf_pem, leaf.Pem());
    ASSERT_EQ(c->chain_pem.size(), 2u);
    EXPECT_EQ(c->chain_pem[0], inter.Pem());
    EXPECT_EQ(c->chain_pem[1], root.Pem());
    ASSERT_TRUE(c->leaf.has_value());
    EXPECT_EQ(c->leaf->serial_hex, leaf.SerialHex());
    EXPECT_EQ(c->leaf->common_name, name);
    EXPECT_EQ(c->leaf->fingerprint_sha256, leaf.FingerprintSha256());
    EXPECT_EQ(c->leaf->not_before, leaf.NotBefore());
    EXPECT_EQ(c->leaf->not_after, leaf.NotAfter());
    EXPECT_EQ(c->leaf->spki_der, leaf.SpkiDer());
    // The two CAs are kept, never a leaf.
    EXPECT_EQ(cas.size(), 2u);
    EXPECT_NE(cas.Find(inter.Der()), nullptr);
    EXPECT_EQ(cas.Find(leaf.Der()), nullptr);
  }
}

// --- the client over a fake transport ---

TEST(ScmClientFake, SslEnrollShapesAndAutoRenew) {
  Harness h([](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
    if (r.method == "POST" && r.target == "/api/ssl/v1/enroll") {
      return Reply(200, R"({"sslId":55,"renewId":"gu03sW6WENt7GTvDTuOP"})");
    }
    if (r.method == "PUT" && r.target == "/api/ssl/v1") return Reply(200, R"({"sslId":55})");
    return Reply(404, R"({"code":-124,"description":"Wrong"})");
  });
  ScmEnrollRequest q = SslRequest();
  q.auto_renew_days = 30;
  auto e = h.client->Enroll(q);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->id, "55");
  EXPECT_EQ(e->renew_id, "gu03sW6WENt7GTvDTuOP");
  EXPECT_FALSE(e->auto_renew_pending);
  auto reqs = h.transport->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(HeaderOf(reqs[0], "login"), "admin");
  EXPECT_EQ(HeaderOf(reqs[0], "password"), "secret-pw");
  EXPECT_EQ(HeaderOf(reqs[0], "customerUri"), "demo");
  EXPECT_FALSE(reqs[0].idempotent);
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body["subjAltNames"], "www.example.test,api.example.test");
  EXPECT_EQ(body["comments"], "ACME certbot [eg:tok123]");
  EXPECT_EQ(body["certType"], 1001);
  EXPECT_EQ(body["orgId"], 1697);
  EXPECT_EQ(body["term"], 365);
  json put = json::parse(reqs[1].body);
  EXPECT_EQ(
      put,
      json::parse(
          R"({"sslId":55,"autoRenewDetails":{"state":"Scheduled","daysBeforeExpiration":30}})"));
}

TEST(ScmClientFake, BusinessErrorIsNotRetried) {
  Harness h([](const HttpRequest&, SendFailure*) -> Result<HttpResponse> {
    return Reply(
        400,
        R"({"code":-36,"description":"The validity period (term) is invalid for this certificate profile."})");
  });
  auto e = h.client->Enroll(SslRequest());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().provider_code(), -36);
  EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(h.transport->requests().size(), 1u);
}

TEST(ScmClientFake, LostReplyIsFoundNotResent) {
  int posts = 0;
  Harness h([&](const HttpRequest& r, SendFailure* f) -> Result<HttpResponse> {
    if (r.method == "POST") {
      ++posts;
      f->request_written = true;  // processed, then the connection dropped
      return Unavailable("connection reset");
    }
    if (r.target.rfind("/api/ssl/v1?", 0) == 0) {
      EXPECT_NE(r.target.find("commonName=www.example.test"), std::string::npos);
      return Reply(200, R"([{"sslId":71,"commonName":"www.example.test"},{"sslId":70}])");
    }
    if (r.target == "/api/ssl/v1/71") {
      return Reply(200, R"({"id":71,"status":"Applied","comments":"other [eg:zzz]"})");
    }
    if (r.target == "/api/ssl/v1/70") {
      return Reply(200, R"({"id":70,"status":"Applied","comments":"ACME certbot [eg:tok123]"})");
    }
    return Reply(404, "{}");
  });
  auto e = h.client->Enroll(SslRequest());
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->id, "70");
  EXPECT_EQ(posts, 1);
}

TEST(ScmClientFake, AmbiguousFailureWithNothingFoundResendsOnce) {
  int posts = 0;
  Harness h([&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
    if (r.method == "POST") {
      if (++posts == 1) return Reply(503, "Service Unavailable");
      return Reply(200, R"({"sslId":80,"renewId":"r"})");
    }
    if (r.target.rfind("/api/ssl/v1?", 0) == 0) return Reply(200, "[]");
    return Reply(404, "{}");
  });
  auto e = h.client->Enroll(SslRequest());
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->id, "80");
  EXPECT_EQ(posts, 2);
  EXPECT_EQ(h.transport->Count("GET", "/api/ssl/v1?"), 1);
}

// A renew whose reply is lost: the listing of the name before and after tells which new id is
// ours — only a single new one with the new CSR's key type; two mean someone else renewed the
// same certificate meanwhile, and the call fails rather than guess (or renew a third time).
TEST(ScmClientFake, LostRenewReplyAdoptsOnlyASingleCandidateWithTheCsrsKeyType) {
  auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
  ASSERT_TRUE(key.ok());
  crypto::CsrRequest c;
  c.subject.common_name = "www.example.test";
  auto csr = crypto::BuildCsr(c, *key);
  ASSERT_TRUE(csr.ok());
  for (const std::vector<std::string>& appeared :
       {std::vector<std::string>{"EC - P-256"}, std::vector<std::string>{"RSA - 2048"},
        std::vector<std::string>{"EC - P-256", "EC - P-256"},
        std::vector<std::string>{"RSA - 2048", "EC - P-256"}}) {
    SCOPED_TRACE(appeared.size());
    int posts = 0;
    bool renewed = false;
    Harness h([&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
      if (r.method == "POST") {
        ++posts;
        renewed = true;
        return Reply(503, "Service Unavailable");  // SCM renewed; the reply is lost
      }
      if (r.target.rfind("/api/ssl/v1?", 0) == 0) {
        nlohmann::json list = nlohmann::json::array({{{"sslId", 10}}});
        for (size_t i = 0; renewed && i < appeared.size(); ++i) {
          list.push_back({{"sslId", 11 + static_cast<int>(i)}});
        }
        return Reply(200, list.dump());
      }
      if (r.target == "/api/ssl/v1/10") {
        return Reply(
            200,
            R"({"sslId":10,"status":"Issued","commonName":"www.example.test","keyType":"EC - P-256"})");
      }
      for (size_t i = 0; i < appeared.size(); ++i) {
        if (r.target == "/api/ssl/v1/" + std::to_string(11 + i)) {
          return Reply(200, nlohmann::json{{"sslId", 11 + static_cast<int>(i)},
                                           {"status", "Requested"},
                                           {"commonName", "www.example.test"},
                                           {"keyType", appeared[i]}}
                                .dump());
        }
      }
      return Reply(404, "{}");
    });
    auto e = h.client->Renew(CertType::kSsl, "10", csr->Pem());
    int matching = 0;
    for (const std::string& k : appeared) matching += k == "EC - P-256";
    if (matching == 1) {
      ASSERT_TRUE(e.ok()) << e.error().ToString();
      EXPECT_EQ(e->id, appeared.size() == 1 ? "11" : "12");
      EXPECT_EQ(posts, 1);
    } else if (matching > 1) {
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.error().code(), ErrorCode::kFailedPrecondition) << e.error().ToString();
      EXPECT_EQ(posts, 1);
    } else {
      EXPECT_FALSE(e.ok() && e->id == "11") << "adopted a renewal with another key type";
    }
  }
}

TEST(ScmClientFake, FailureBeforeWriteResendsWithoutLookup) {
  int posts = 0;
  Harness h([&](const HttpRequest& r, SendFailure* f) -> Result<HttpResponse> {
    if (r.method == "POST") {
      if (++posts == 1) {
        f->request_written = false;
        return Unavailable("connection refused");
      }
      return Reply(200, R"({"sslId":81})");
    }
    return Reply(404, "{}");
  });
  auto e = h.client->Enroll(SslRequest());
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(posts, 2);
  EXPECT_EQ(h.transport->Count("GET", "/"), 0);
}

TEST(ScmClientFake, AutoRenewFailureMarksPendingWithoutReenrolling) {
  int posts = 0;
  Harness h([&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
    if (r.method == "POST") {
      ++posts;
      return Reply(200, R"({"sslId":90,"renewId":"x"})");
    }
    return Reply(500, "oops");
  });
  ScmEnrollRequest q = SslRequest();
  q.auto_renew_days = 20;
  auto e = h.client->Enroll(q);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_TRUE(e->auto_renew_pending);
  EXPECT_EQ(posts, 1);
  EXPECT_EQ(h.transport->Count("PUT", "/api/ssl/v1"), 4);  // max_attempts
}

TEST(ScmClientFake, RetryAfterIsHonoured) {
  int gets = 0;
  Harness h([&](const HttpRequest&, SendFailure*) -> Result<HttpResponse> {
    if (++gets == 1) return Reply(429, "", {{"Retry-After", "2"}});
    return Reply(200, R"([{"id":1001,"name":"TLS","terms":[365],"keyTypes":{"RSA":["2048"]}}])");
  });
  auto p = h.client->ListProfiles(CertType::kSsl);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].terms, std::vector<int>{365});
  ASSERT_EQ(h.sleeps.size(), 1u);
  EXPECT_GE(h.sleeps[0], std::chrono::milliseconds(2000));
}

TEST(ScmClientFake, UnavailableAfterRetries) {
  Harness h([&](const HttpRequest&, SendFailure*) -> Result<HttpResponse> {
    return Reply(503, R"({"code":-195,"description":"CA is not available now."})");
  });
  auto d = h.client->GetDetails(CertType::kSsl, "5");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(ClassifyScmError(d.error()), ScmErrorKind::kUnavailable);
  EXPECT_EQ(h.transport->requests().size(), 4u);
}

TEST(ScmClientFake, ReplyValidation) {
  Harness h([&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
    if (r.method == "POST") return Reply(200, R"({"sslid":"x"})");
    return Reply(200, R"({"id":5})");
  });
  auto e = h.client->Enroll(SslRequest());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kInternal);
  EXPECT_NE(e.error().message().find("'sslId'"), std::string::npos);
  auto d = h.client->GetDetails(CertType::kSsl, "5");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find("'status'"), std::string::npos);
  auto bad_id = h.client->GetDetails(CertType::kSsl, "../admin");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_EQ(bad_id.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ScmClientFake, CollectPendingAndDeclined) {
  std::string status = "Requested";
  Harness h([&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
    if (r.target.rfind("/api/ssl/v1/collect/7", 0) == 0) {
      return Reply(400, R"({"code":0,"description":"Being processed by Sectigo"})");
    }
    if (r.target == "/api/ssl/v1/7") return Reply(200, json{{"id", 7}, {"status", status}}.dump());
    return Reply(404, "{}");
  });
  auto c = h.client->Collect(CertType::kSsl, "7");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kPending);
  EXPECT_EQ(c.error().provider_code(), 0);
  status = "Declined";
  c = h.client->Collect(CertType::kSsl, "7");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(c.error().message().find("Declined"), std::string::npos);
}

TEST(ScmClientFake, OAuth2TokenCachedRefreshedAndRetriedOn401) {
  int tokens = 0;
  std::string valid = "t1";
  Options o = BaseOptions();
  o.auth = AuthMode::kOAuth2;
  o.password.clear();
  o.oauth_token_url = "https://scm.example.test:8443/oauth2/token";
  o.oauth_client_id = "oauth-admin";
  o.oauth_client_secret = "oauth-secret";
  Harness h(
      [&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
        if (r.target == "/oauth2/token") {
          EXPECT_NE(r.body.find("grant_type=client_credentials"), std::string::npos);
          EXPECT_NE(r.body.find("client_id=oauth-admin"), std::string::npos);
          ++tokens;
          return Reply(
              200,
              json{{"access_token", "t" + std::to_string(tokens)}, {"expires_in", 300}}.dump());
        }
        EXPECT_EQ(HeaderOf(r, "password"), "");
        if (HeaderOf(r, "Authorization") != "Bearer " + valid) {
          return Reply(401, R"({"code":-16,"description":"Unknown user"})");
        }
        return Reply(200, "[]");
      },
      o);
  ASSERT_TRUE(h.client->ListCustomFields(CertType::kSsl).ok());
  ASSERT_TRUE(h.client->ListCustomFields(CertType::kSsl).ok());
  EXPECT_EQ(tokens, 1);  // cached
  // Expiry approaching: refreshed before use.
  h.clock.Advance(std::chrono::seconds(290));
  valid = "t2";
  ASSERT_TRUE(h.client->ListCustomFields(CertType::kSsl).ok());
  EXPECT_EQ(tokens, 2);
  // Revoked server-side: a 401 triggers one refresh and a retry.
  valid = "t3";
  ASSERT_TRUE(h.client->ListCustomFields(CertType::kSsl).ok());
  EXPECT_EQ(tokens, 3);
  // Still refused after the refresh: kUnauthenticated.
  valid = "never";
  auto r = h.client->ListCustomFields(CertType::kSsl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
}

TEST(ScmClientFake, CodeSigningUsesBearerOnRestEnrollmentApi) {
  Options o = BaseOptions();
  o.oauth_token_url = "https://scm.example.test:8443/oauth2/token";
  o.oauth_client_id = "codesign";
  o.oauth_client_secret = "codesign-secret";
  Harness h(
      [&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
        if (r.target == "/oauth2/token")
          return Reply(200, R"({"access_token":"cs","expires_in":300})");
        EXPECT_EQ(HeaderOf(r, "Authorization"), "Bearer cs");
        if (r.method == "POST" && r.target == "/api/v1/certificates") {
          json b = json::parse(r.body);
          EXPECT_EQ(b["csr"], "AAEC");
          EXPECT_EQ(b["keyAttestation"], "ZXZpZGVuY2U=");
          EXPECT_EQ(b["hsmType"], "Yubikey");
          EXPECT_EQ(b["productId"], 4001);
          return Reply(201, R"({"certId":123})", {{"Location", "/api/v1/certificates/123"}});
        }
        return Reply(404, "{}");
      },
      o);
  ScmEnrollRequest q;
  q.type = CertType::kCodeSigning;
  q.profile_id = 4001;
  q.term_days = 365;
  q.csr_pem = "-----BEGIN CERTIFICATE REQUEST-----\nAAEC\n-----END CERTIFICATE REQUEST-----\n";
  q.code_signing.key_attestation = "ZXZpZGVuY2U=";
  q.code_signing.hsm_type = "Yubikey";
  auto e = h.client->Enroll(q);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->id, "123");
}

TEST(ScmClientFake, RevokeSendsNumericReasonAndAcceptsAlreadyRevokedAfterLostReply) {
  int posts = 0;
  Harness h([&](const HttpRequest& r, SendFailure* f) -> Result<HttpResponse> {
    EXPECT_EQ(r.target, "/api/ssl/v1/revoke/9");
    json b = json::parse(r.body);
    EXPECT_TRUE(b["reasonCode"].is_number());
    EXPECT_EQ(b["reasonCode"], 4);
    if (++posts == 1) {
      f->request_written = true;
      return Unavailable("reset");
    }
    return Reply(400, R"({"code":-159,"description":"Your certificate already revoked"})");
  });
  EXPECT_TRUE(h.client->Revoke(CertType::kSsl, "9", RevocationReason::kSuperseded, "x").ok());
}

TEST(ScmClientFake, OptionsValidated) {
  Logger logger(LogLevel::kError);
  SystemClock clock;
  Options o = BaseOptions();
  o.base_url = "http://insecure";
  EXPECT_FALSE(CreateScmClient(o, logger, clock).ok());
  o = BaseOptions();
  o.auth = AuthMode::kClientCertificate;
  EXPECT_FALSE(CreateScmClient(o, logger, clock).ok());
}

}  // namespace
}  // namespace eg::scm_client

namespace eg::scm_client {
namespace {

TEST(ScmClientFake, OAuth2TokenUrlLearntFromChallenge) {
  Options o = BaseOptions();
  o.auth = AuthMode::kOAuth2;
  o.oauth_client_id = "oauth-admin";
  o.oauth_client_secret = "oauth-secret";
  Harness h(
      [&](const HttpRequest& r, SendFailure*) -> Result<HttpResponse> {
        if (r.target == "/tokens/x") return Reply(200, R"({"access_token":"tk","expires_in":300})");
        if (HeaderOf(r, "Authorization") != "Bearer tk") {
          return Reply(
              401, R"({"code":-16,"description":"Unknown user"})",
              {{"WWW-Authenticate",
                R"(Bearer realm="SCM", token_url="https://scm.example.test:8443/tokens/x")"}});
        }
        return Reply(200, "[]");
      },
      o);
  auto r = h.client->ListCustomFields(CertType::kDevice);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
}

}  // namespace
}  // namespace eg::scm_client
