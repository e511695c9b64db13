// The ACME server (protocols/acme/server.h) in process: requests go through the http::Router the
// daemon uses, state lives in a real SQLite store, certificates come from a real IssuanceService
// over the real SCM client from the SCM emulator (in process, HTTPS). The client side signs with
// crypto/jose's SignJws, as certbot and lego would.
#include "protocols/acme/server.h"

#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/jose/eab.h"
#include "crypto/jose/jwk.h"
#include "crypto/jose/jws.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "protocols/acme/challenge_worker.h"
#include "protocols/acme/internal.h"
#include "protocols/acme/validation/validator.h"
#include "scm/emulator/emulator.h"
#include "storage/sqlite_store.h"
#include "tests/acme_validation/test_servers.h"
#include "tests/support/emulated_scm.h"

namespace eg::acme {
namespace {

using nlohmann::json;
namespace jose = crypto::jose;

const std::string kBase = "https://acme.test";

struct Client {
  crypto::PrivateKey key;
  std::string kid;  // account URL once registered
};

Client NewClient(crypto::KeySpec spec = crypto::KeySpec::kEcP256) {
  return Client{std::move(crypto::PrivateKey::Generate(spec)).value(), ""};
}

json Body(const http::Response& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

std::string ProblemTypeOf(const http::Response& r) {
  json j = Body(r);
  return j.is_object() ? j.value("type", "") : "";
}

std::string Acme(const std::string& name) { return "urn:ietf:params:acme:error:" + name; }

std::string PathOf(const std::string& url) {
  EXPECT_EQ(url.rfind(kBase, 0), 0u) << url;
  return url.substr(kBase.size());
}

std::string Header(const http::Response& r, std::string_view name) {
  return std::string(r.headers.Get(name).value_or(""));
}

bool HasLink(const http::Response& r, const std::string& rel, std::string* url = nullptr) {
  for (std::string_view v : r.headers.GetAll("Link")) {
    if (v.find("rel=\"" + rel + "\"") != std::string_view::npos) {
      if (url != nullptr) *url = std::string(v.substr(1, v.find('>') - 1));
      return true;
    }
  }
  return false;
}

config::ProfileConfig Profile(std::string name, int64_t scm_id, int term, bool is_default) {
  config::ProfileConfig p;
  p.name = std::move(name);
  p.scm_profile_id = scm_id;
  p.term_days = term;
  p.is_default = is_default;
  return p;
}

class AcmeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eg-acme-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_ = std::move(storage::SqliteStore::Open({dir_ + "/db.sqlite", 2})).value();
    auto scm = eg::testing::EmulatedScm::Start(dir_ + "/scm", {CertType::kSsl}, logger_, clock_);
    ASSERT_TRUE(scm.ok()) << scm.error().ToString();
    emulated_ = std::move(scm).value();
    scm_ = emulated_.scm.get();
    SetAccounts(/*with_open_account=*/true);

    issuance::Options io;
    io.wait_budget = std::chrono::seconds(20);
    io.poll_initial = std::chrono::milliseconds(1);
    io.poll_max = std::chrono::milliseconds(20);
    io.claim_lease = std::chrono::seconds(60);
    issuance_ = std::make_unique<issuance::IssuanceService>(
        *store_, *scm_, notifier_, scheduler_, clock_, logger_,
        [](const std::string&) { return std::string(); }, io);
    MakeServer(ServerOptions{});
  }

  void TearDown() override {
    server_.reset();
    router_.reset();
    issuance_.reset();
    emulated_.Stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // "web": EAB, pre-validated, example.test (wildcards), 192.0.2.0/24; "web-challenge": no
  // EAB, any DNS name by challenge.
  void SetAccounts(bool with_open_account) {
    auto snapshot = std::make_shared<mapping::MappingSnapshot>();
    config::AccountConfig web;
    web.name = "web";
    web.protocols = {config::Protocol::kAcme};
    web.cert_type = CertType::kSsl;
    web.organization_id = 1697;
    config::ProfileConfig def = Profile("default", 1001, 90, true);
    def.auto_renew = true;
    def.auto_renew_days = 30;
    config::ProfileConfig rsa = Profile("rsa-only", 1001, 90, false);
    rsa.key_types = {"RSA-2048"};
    web.profiles = {def, Profile("approval", 1002, 365, false), rsa};
    web.names.dns_suffixes = {"example.test"};
    web.names.allow_wildcards = true;
    web.names.ip_ranges = {"192.0.2.0/24"};
    web.acme.eab_required = true;
    web.acme.pre_validated = true;
    snapshot->accounts.push_back(web);
    if (with_open_account) {
      config::AccountConfig open;
      open.name = "web-challenge";
      open.protocols = {config::Protocol::kAcme};
      open.cert_type = CertType::kSsl;
      open.organization_id = 1697;
      open.profiles = {Profile("default", 1001, 90, true)};
      open.names.allow_any_dns = true;
      open.names.allow_wildcards = true;
      open.acme.eab_required = false;
      open.acme.challenge_types = {"http-01", "dns-01", "tls-alpn-01"};
      snapshot->accounts.push_back(open);
    }
    snapshot->catalog = emulated_.catalog;
    snapshot_ = snapshot;
  }

  void MakeServer(ServerOptions options, ChallengeWorker* worker = nullptr,
                  Clock* clock = nullptr) {
    server_.reset();
    router_ = std::make_unique<http::Router>();
    server_ = std::make_unique<AcmeServer>(
        *store_, *store_, *issuance_, [this] { return snapshot_; }, worker,
        clock != nullptr ? *clock : clock_, logger_, std::move(options));
    server_->RegisterRoutes(*router_);
  }

  http::Response Call(http::Request request) {
    request.headers.Set("Host", "acme.test");
    std::optional<http::Response> out;
    http::Responder responder([&out](http::Response r, bool) { out = std::move(r); });
    router_->Dispatch(request, responder);
    EXPECT_TRUE(out.has_value());
    return out.value_or(http::Response::Status(599));
  }

  http::Response Get(const std::string& path, const std::string& method = "GET") {
    http::Request r;
    r.method = method;
    r.path = path;
    return Call(std::move(r));
  }

  std::string Nonce() {
    http::Response r = Get("/acme/new-nonce", "HEAD");
    EXPECT_EQ(r.status, 200);
    return Header(r, "Replay-Nonce");
  }

  http::Response PostRaw(const std::string& path, const std::string& body,
                         const std::string& content_type = "application/jose+json") {
    http::Request r;
    r.method = "POST";
    r.path = path;
    r.headers.Set("Content-Type", content_type);
    r.body = body;
    return Call(std::move(r));
  }

  std::string Sign(const Client& c, const std::string& url, const std::string& payload,
                   bool use_jwk, std::optional<std::string> nonce = std::nullopt) {
    jose::SignOptions o;
    o.alg = *jose::AlgForKey(c.key.Public());
    o.url = url;
    o.nonce = nonce.has_value() ? *nonce : Nonce();
    if (!use_jwk) o.kid = c.kid;
    auto jws = jose::SignJws(c.key, o, payload);
    EXPECT_TRUE(jws.ok()) << jws.error().ToString();
    return jws.value_or("");
  }

  // A signed POST to `path` ("" payload = POST-as-GET), with the account's kid.
  http::Response Post(const Client& c, const std::string& path, const std::string& payload) {
    return PostRaw(path, Sign(c, kBase + path, payload, /*use_jwk=*/false));
  }
  http::Response PostJson(const Client& c, const std::string& path, const json& payload) {
    return Post(c, path, payload.dump());
  }

  http::Response NewAccount(Client& c, json payload = json::object()) {
    http::Response r =
        PostRaw("/acme/new-account", Sign(c, kBase + "/acme/new-account", payload.dump(), true));
    if (r.status == 201 || r.status == 200) c.kid = Header(r, "Location");
    return r;
  }

  // Creates an EAB credential for `account` and returns its HMAC key.
  crypto::Bytes CreateEab(const std::string& key_id, const std::string& account) {
    crypto::Bytes hmac = crypto::RandomBytes(32);
    EabCredential e;
    e.key_id = key_id;
    e.account = account;
    e.hmac_key = crypto::Base64UrlEncode(hmac);
    e.email = "admin@example.test";
    e.created_at = clock_.Now();
    EXPECT_TRUE(store_->CreateEab(e).ok());
    return hmac;
  }

  json EabPayload(const Client& c, const std::string& key_id, const crypto::Bytes& hmac) {
    auto eab = jose::BuildEab(key_id, hmac, jose::EabAlg::kHs256, kBase + "/acme/new-account",
                              c.key.Public());
    EXPECT_TRUE(eab.ok());
    return {{"termsOfServiceAgreed", true},
            {"contact", {"mailto:ops@example.test"}},
            {"externalAccountBinding", eab.value_or(json())}};
  }

  // An account of "web" (EAB, pre-validated).
  Client WebAccount() {
    Client c = NewClient();
    std::string key_id = "kid-" + crypto::RandomToken(6);
    crypto::Bytes hmac = CreateEab(key_id, "web");
    http::Response r = NewAccount(c, EabPayload(c, key_id, hmac));
    EXPECT_EQ(r.status, 201) << r.body;
    return c;
  }
  // An account of "web-challenge" (no EAB).
  Client OpenAccount() {
    Client c = NewClient();
    http::Response r = NewAccount(c, {{"termsOfServiceAgreed", true}});
    EXPECT_EQ(r.status, 201) << r.body;
    return c;
  }

  std::string AccountId(const Client& c) { return c.kid.substr(c.kid.rfind('/') + 1); }

  http::Response NewOrder(const Client& c, const std::vector<std::string>& names,
                          json extra = json::object()) {
    json ids = json::array();
    for (const std::string& n : names) ids.push_back({{"type", "dns"}, {"value", n}});
    extra["identifiers"] = ids;
    return PostJson(c, "/acme/new-order", extra);
  }

  std::string Csr(const std::vector<std::string>& names,
                  crypto::KeySpec spec = crypto::KeySpec::kEcP256,
                  crypto::PrivateKey* key_out = nullptr) {
    crypto::PrivateKey key = std::move(crypto::PrivateKey::Generate(spec)).value();
    crypto::CsrRequest req;
    req.subject.common_name = names[0];
    req.sans.dns = names;
    auto csr = crypto::BuildCsr(req, key);
    EXPECT_TRUE(csr.ok());
    if (key_out != nullptr) *key_out = std::move(key);
    return crypto::Base64UrlEncode(csr->Der());
  }

  // newOrder (pre-validated) → finalize → valid; returns the order URL.
  std::string IssueFor(const Client& c, const std::vector<std::string>& names,
                       crypto::PrivateKey* key_out = nullptr, json extra = json::object()) {
    http::Response order = NewOrder(c, names, extra);
    EXPECT_EQ(order.status, 201) << order.body;
    EXPECT_EQ(Body(order)["status"], "ready") << order.body;
    http::Response fin = PostJson(c, PathOf(Body(order)["finalize"]),
                                  {{"csr", Csr(names, crypto::KeySpec::kEcP256, key_out)}});
    EXPECT_EQ(fin.status, 200) << fin.body;
    EXPECT_EQ(Body(fin)["status"], "valid") << fin.body;
    return Header(order, "Location");
  }

  crypto::Certificate Download(const Client& c, const std::string& order_url) {
    http::Response order = Post(c, PathOf(order_url), "");
    EXPECT_EQ(Body(order)["status"], "valid") << order.body;
    http::Response cert = Post(c, PathOf(Body(order).value("certificate", kBase)), "");
    EXPECT_EQ(cert.status, 200) << cert.body;
    EXPECT_EQ(Header(cert, "Content-Type"), "application/pem-certificate-chain");
    auto parsed = crypto::Certificate::ParsePem(cert.body);
    EXPECT_TRUE(parsed.ok());
    return std::move(parsed).value();
  }

  static std::string AriCertId(const crypto::Certificate& cert) {
    crypto::Bytes serial = cert.SerialBytes();
    if (!serial.empty() && (serial[0] & 0x80)) serial.insert(serial.begin(), 0);
    return crypto::Base64UrlEncode(cert.AuthorityKeyId()) + "." + crypto::Base64UrlEncode(serial);
  }

  size_t OrderCount(const Client& c) {
    auto page = store_->ListOrders(AccountId(c), "", 1000);
    return page.ok() ? page->orders.size() : 9999;
  }

  std::string dir_;
  Logger logger_{LogLevel::kError};
  SystemClock clock_;
  eg::testing::NullNotifier notifier_;
  eg::testing::IdleScheduler scheduler_;
  std::unique_ptr<storage::SqliteStore> store_;
  eg::testing::EmulatedScm emulated_;
  ScmApi* scm_ = nullptr;  // emulated_.scm
  std::shared_ptr<const mapping::MappingSnapshot> snapshot_;
  std::unique_ptr<issuance::IssuanceService> issuance_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<AcmeServer> server_;
};

TEST(ProblemTest, ServerErrorsNeverShowTheirDetail) {
  Problem p = ProblemFromError(Unavailable("sqlite: database is locked at /var/secret.db"));
  EXPECT_EQ(p.status, 500);
  http::Response r = p.ToResponse();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Header(r, "Content-Type"), "application/problem+json");
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
  EXPECT_EQ(Body(r)["type"], "urn:ietf:params:acme:error:serverInternal");
  Problem shown = MakeProblem("badCSR", 400, "the CSR names x");
  EXPECT_EQ(Body(shown.ToResponse())["detail"], "the CSR names x");
  Problem conflict = ProblemFromError(Error(ErrorCode::kConflict, "version 3"));
  EXPECT_EQ(conflict.status, 409);
}

// ---- directory and nonces ----

TEST_F(AcmeServerTest, DirectoryListsEveryResourceAndMeta) {
  http::Response r = Get("/acme/directory");
  ASSERT_EQ(r.status, 200);
  json d = Body(r);
  EXPECT_EQ(d["newNonce"], kBase + "/acme/new-nonce");
  EXPECT_EQ(d["newAccount"], kBase + "/acme/new-account");
  EXPECT_EQ(d["newOrder"], kBase + "/acme/new-order");
  EXPECT_EQ(d["revokeCert"], kBase + "/acme/revoke-cert");
  EXPECT_EQ(d["keyChange"], kBase + "/acme/key-change");
  EXPECT_EQ(d["renewalInfo"], kBase + "/acme/renewal-info");
  EXPECT_EQ(d["meta"]["externalAccountRequired"], false);  // web-challenge needs no EAB
  EXPECT_TRUE(d["meta"]["profiles"].contains("default"));
  EXPECT_TRUE(d["meta"]["profiles"].contains("approval"));
  EXPECT_FALSE(d["meta"].contains("termsOfService"));
  EXPECT_FALSE(Header(r, "Replay-Nonce").empty());
  EXPECT_TRUE(HasLink(r, "index"));

  SetAccounts(/*with_open_account=*/false);
  ServerOptions o;
  o.terms_of_service = "https://example.test/tos";
  o.website = "https://example.test";
  o.public_url = "https://ca.example.test:8443";
  MakeServer(o);
  d = Body(Get("/acme/directory"));
  EXPECT_EQ(d["meta"]["externalAccountRequired"], true);
  EXPECT_EQ(d["meta"]["termsOfService"], "https://example.test/tos");
  EXPECT_EQ(d["meta"]["website"], "https://example.test");
  EXPECT_EQ(d["newOrder"], "https://ca.example.test:8443/acme/new-order");
}

TEST_F(AcmeServerTest, NewNonceHeadAndGet) {
  http::Response head = Get("/acme/new-nonce", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(Header(head, "Cache-Control"), "no-store");
  http::Response get = Get("/acme/new-nonce");
  EXPECT_EQ(get.status, 204);
  EXPECT_EQ(Header(get, "Cache-Control"), "no-store");
  EXPECT_NE(Header(head, "Replay-Nonce"), Header(get, "Replay-Nonce"));
  EXPECT_GE(Header(get, "Replay-Nonce").size(), 22u);  // 128 bits
}

TEST_F(AcmeServerTest, NonceIsSingleUseAndBadNonceCarriesAFreshOne) {
  Client c = NewClient();
  std::string nonce = Nonce();
  std::string body =
      Sign(c, kBase + "/acme/new-account", R"({"termsOfServiceAgreed":true})", true, nonce);
  http::Response first = PostRaw("/acme/new-account", body);
  EXPECT_EQ(first.status, 201) << first.body;
  Client d = NewClient();
  http::Response replay =
      PostRaw("/acme/new-account", Sign(d, kBase + "/acme/new-account", "{}", true, nonce));
  EXPECT_EQ(replay.status, 400);
  EXPECT_EQ(ProblemTypeOf(replay), Acme("badNonce"));
  EXPECT_EQ(Header(replay, "Content-Type"), "application/problem+json");
  EXPECT_FALSE(Header(replay, "Replay-Nonce").empty());
  // Nothing was written for the refused key.
  auto found = store_->FindAccountByThumbprint(*jose::Thumbprint(d.key.Public()));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  // A made-up nonce, and none at all.
  EXPECT_EQ(ProblemTypeOf(PostRaw("/acme/new-account",
                                  Sign(d, kBase + "/acme/new-account", "{}", true, "bogus"))),
            Acme("badNonce"));
}

TEST_F(AcmeServerTest, ExpiredNoncesAreRefusedAndPurged) {
  FakeClock fake(clock_.Now());
  ServerOptions o;
  o.nonce_lifetime = std::chrono::seconds(60);
  MakeServer(o, nullptr, &fake);
  Client used = NewClient();
  http::Response created = PostRaw(
      "/acme/new-account",
      Sign(used, kBase + "/acme/new-account", R"({"termsOfServiceAgreed":true})", true, Nonce()));
  EXPECT_EQ(created.status, 201) << created.body;
  Client c = NewClient();
  std::string nonce = Nonce();
  fake.Advance(std::chrono::seconds(61));
  http::Response r = PostRaw(
      "/acme/new-account",
      Sign(c, kBase + "/acme/new-account", R"({"termsOfServiceAgreed":true})", true, nonce));
  EXPECT_EQ(ProblemTypeOf(r), Acme("badNonce"));
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  EXPECT_FALSE(store_->FindAccountByThumbprint(*jose::Thumbprint(c.key.Public()))->has_value());
  // The store kept only the nonce that was used, until its expiry.
  auto purged = server_->PurgeNonces();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(*server_->PurgeNonces(), 0);
}

TEST_F(AcmeServerTest, EveryDaemonOnTheStoreAcceptsTheOthersNoncesOnce) {
  auto key = NonceCodec::SharedKey(*store_, clock_.Now());
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(*NonceCodec::SharedKey(*store_, clock_.Now()), *key);  // created once
  ServerOptions o;
  o.nonce_key = *key;
  MakeServer(o);
  const std::string from_first = Nonce();
  const std::string unused_from_first = Nonce();
  MakeServer(o);  // a second daemon: same store, same key
  Client c = NewClient();
  http::Response r = PostRaw(
      "/acme/new-account",
      Sign(c, kBase + "/acme/new-account", R"({"termsOfServiceAgreed":true})", true, from_first));
  EXPECT_EQ(r.status, 201) << r.body;
  Client d = NewClient();
  r = PostRaw("/acme/new-account", Sign(d, kBase + "/acme/new-account", "{}", true, from_first));
  EXPECT_EQ(ProblemTypeOf(r), Acme("badNonce"));
  EXPECT_NE(r.body.find("used already"), std::string::npos) << r.body;
  // A server with a key of its own refuses them.
  MakeServer(ServerOptions{});
  r = PostRaw("/acme/new-account",
              Sign(d, kBase + "/acme/new-account", "{}", true, unused_from_first));
  EXPECT_EQ(ProblemTypeOf(r), Acme("badNonce"));
  EXPECT_NE(r.body.find("not issued by this server"), std::string::npos) << r.body;
}

// ---- every POST check ----

TEST_F(AcmeServerTest, PostChecks) {
  Client c = OpenAccount();
  const std::string url = kBase + "/acme/new-order";
  const std::string payload = R"({"identifiers":[{"type":"dns","value":"a.other.test"}]})";

  http::Response r = PostRaw("/acme/new-order", Sign(c, url, payload, false), "application/json");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));

  r = PostRaw("/acme/new-order", std::string(300 * 1024, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));

  r = PostRaw("/acme/new-order", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));

  // alg "none" and HS256 → badSignatureAlgorithm listing what we accept.
  for (const char* alg : {"none", "HS256"}) {
    json header = {{"alg", alg}, {"kid", c.kid}, {"nonce", Nonce()}, {"url", url}};
    auto body = jose::SignJwsWithHeader(c.key, jose::JwsAlg::kEs256, header, payload);
    ASSERT_TRUE(body.ok());
    r = PostRaw("/acme/new-order", *body);
    EXPECT_EQ(r.status, 400) << alg;
    EXPECT_EQ(ProblemTypeOf(r), Acme("badSignatureAlgorithm")) << alg;
    EXPECT_TRUE(Body(r)["algorithms"].is_array()) << r.body;
  }

  // url not the request's URL.
  r = PostRaw("/acme/new-order", Sign(c, kBase + "/acme/new-account", payload, false));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ProblemTypeOf(r), Acme("unauthorized"));

  // jwk where a kid is needed, and a kid where a jwk is needed.
  r = PostRaw("/acme/new-order", Sign(c, url, payload, true));
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));
  r = PostRaw("/acme/new-account", Sign(c, kBase + "/acme/new-account", "{}", false));
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));

  // Unknown kid.
  Client ghost = NewClient();
  ghost.kid = kBase + "/acme/account/nope";
  r = PostRaw("/acme/new-order", Sign(ghost, url, payload, false));
  EXPECT_EQ(ProblemTypeOf(r), Acme("accountDoesNotExist"));
  ghost.kid = "https://elsewhere.test/acme/account/" + AccountId(c);
  r = PostRaw("/acme/new-order", Sign(ghost, url, payload, false));
  EXPECT_EQ(ProblemTypeOf(r), Acme("accountDoesNotExist"));

  // Signed by another key than the account's.
  Client impostor = NewClient();
  impostor.kid = c.kid;
  r = PostRaw("/acme/new-order", Sign(impostor, url, payload, false));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ProblemTypeOf(r), Acme("unauthorized"));

  // A payload that is not an object.
  r = Post(c, "/acme/new-order", "[1]");
  EXPECT_EQ(ProblemTypeOf(r), Acme("malformed"));

  EXPECT_EQ(OrderCount(c), 0u);  // none of these wrote an order
  EXPECT_EQ(Post(c, "/acme/new-order", payload).status, 201);
}

// ---- accounts ----

TEST_F(AcmeServerTest, NewAccountWithoutEabLandsOnTheOpenAccount) {
  Client c = NewClient();
  http::Response r = NewAccount(c, {{"contact", {"mailto:a@example.test"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  json a = Body(r);
  EXPECT_EQ(a["status"], "valid");
  EXPECT_EQ(a["contact"], json({"mailto:a@example.test"}));
  EXPECT_EQ(a["orders"], c.kid + "/orders");
  auto stored = store_->GetAccount(AccountId(c));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->enrollment_account, "web-challenge");
  EXPECT_EQ(stored->eab_key_id, "");

  // The same key again: 200 and the same account, also with onlyReturnExisting.
  Client again{std::move(c.key), ""};
  r = NewAccount(again, {{"onlyReturnExisting", true}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(again.kid, c.kid);

  Client fresh = NewClient();
  r = NewAccount(fresh, {{"onlyReturnExisting", true}});
  EXPECT_EQ(ProblemTypeOf(r), Acme("accountDoesNotExist"));
}

TEST_F(AcmeServerTest, NewAccountRefusals) {
  Client c = NewClient();
  EXPECT_EQ(ProblemTypeOf(NewAccount(c, {{"contact", {"tel:+12025550100"}}})),
            Acme("unsupportedContact"));
  EXPECT_EQ(ProblemTypeOf(NewAccount(c, {{"contact", {"mailto:not-an-address"}}})),
            Acme("invalidContact"));
  EXPECT_EQ(ProblemTypeOf(NewAccount(c, {{"contact", "mailto:a@example.test"}})),
            Acme("malformed"));

  // Without the open account, an account needs EAB.
  SetAccounts(false);
  EXPECT_EQ(ProblemTypeOf(NewAccount(c, {{"termsOfServiceAgreed", true}})),
            Acme("externalAccountRequired"));
  // Terms of service must be agreed to when set.
  SetAccounts(true);
  ServerOptions o;
  o.terms_of_service = "https://example.test/tos";
  MakeServer(o);
  EXPECT_EQ(ProblemTypeOf(NewAccount(c, json::object())), Acme("userActionRequired"));
  auto found = store_->FindAccountByThumbprint(*jose::Thumbprint(c.key.Public()));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(NewAccount(c, {{"termsOfServiceAgreed", true}}).status, 201);
}

TEST_F(AcmeServerTest, WeakAccountKeyIsRefused) {
  Client weak{crypto::PrivateKey(crypto::EvpPkeyPtr(EVP_RSA_gen(1024))), ""};
  ASSERT_NE(weak.key.get(), nullptr);
  jose::SignOptions o;
  o.alg = jose::JwsAlg::kRs256;
  o.url = kBase + "/acme/new-account";
  o.nonce = Nonce();
  auto body = jose::SignJws(weak.key, o, R"({"termsOfServiceAgreed":true})");
  ASSERT_TRUE(body.ok()) << body.error().ToString();
  http::Response r = PostRaw("/acme/new-account", *body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ProblemTypeOf(r), Acme("badPublicKey")) << r.body;
}

TEST_F(AcmeServerTest, EabBindsTheEnrollmentAccountOnce) {
  Client c = NewClient();
  crypto::Bytes hmac = CreateEab("kid-1", "web");
  http::Response r = NewAccount(c, EabPayload(c, "kid-1", hmac));
  ASSERT_EQ(r.status, 201) << r.body;
  auto stored = store_->GetAccount(AccountId(c));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->enrollment_account, "web");
  EXPECT_EQ(stored->eab_key_id, "kid-1");
  EXPECT_EQ(store_->GetEab("kid-1")->bound_to, AccountId(c));

  // The same credential for another key: refused, nothing written.
  Client d = NewClient();
  r = NewAccount(d, EabPayload(d, "kid-1", hmac));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ProblemTypeOf(r), Acme("unauthorized"));
  EXPECT_NE(Body(r)["detail"].get<std::string>().find("already used"), std::string::npos);
  EXPECT_FALSE(store_->FindAccountByThumbprint(*jose::Thumbprint(d.key.Public()))->has_value());
}

TEST_F(AcmeServerTest, EabRefusals) {
  Client c = NewClient();
  // Wrong MAC key.
  CreateEab("kid-2", "web");
  http::Response r_ = NewAccount(c, EabPayload(c, "kid-2", crypto::RandomBytes(32)));
  EXPECT_EQ(ProblemTypeOf(r_), Acme("unauthorized"));
  EXPECT_EQ(store_->GetEab("kid-2")->bound_to, "");
  // Unknown key id.
  r_ = NewAccount(c, EabPayload(c, "kid-unknown", crypto::RandomBytes(32)));
  EXPECT_EQ(ProblemTypeOf(r_), Acme("unauthorized"));
  // Revoked key id.
  crypto::Bytes hmac = CreateEab("kid-3", "web");
  ASSERT_TRUE(store_->RevokeEab("kid-3", clock_.Now()).ok());
  r_ = NewAccount(c, EabPayload(c, "kid-3", hmac));
  EXPECT_EQ(ProblemTypeOf(r_), Acme("unauthorized"));
  // The EAB's payload must be the outer key.
  Client other = NewClient();
  crypto::Bytes hmac4 = CreateEab("kid-4", "web");
  json payload = EabPayload(other, "kid-4", hmac4);
  r_ = NewAccount(c, payload);
  EXPECT_NE(r_.status, 201);
  EXPECT_EQ(store_->GetEab("kid-4")->bound_to, "");
  EXPECT_FALSE(store_->FindAccountByThumbprint(*jose::Thumbprint(c.key.Public()))->has_value());
}

TEST_F(AcmeServerTest, AccountUpdateAndDeactivation) {
  Client c = OpenAccount();
  http::Response r = Post(c, PathOf(c.kid), "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["status"], "valid");
  r = PostJson(c, PathOf(c.kid), {{"contact", {"mailto:new@example.test"}}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["contact"], json({"mailto:new@example.test"}));
  EXPECT_EQ(store_->GetAccount(AccountId(c))->contacts,
            std::vector<std::string>{"mailto:new@example.test"});
  // Another account's URL.
  Client d = OpenAccount();
  EXPECT_EQ(ProblemTypeOf(Post(d, PathOf(c.kid), "")), Acme("unauthorized"));

  r = PostJson(c, PathOf(c.kid), {{"status", "deactivated"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["status"], "deactivated");
  r = NewOrder(c, {"a.other.test"});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ProblemTypeOf(r), Acme("unauthorized"));
}

TEST_F(AcmeServerTest, KeyChange) {
  Client c = OpenAccount();
  Client next = NewClient();
  const std::string url = kBase + "/acme/key-change";
  auto old_jwk = jose::ToJwk(c.key.Public());
  json inner_payload = {{"account", c.kid}, {"oldKey", *old_jwk}};
  jose::SignOptions io;
  io.alg = jose::JwsAlg::kEs256;
  io.url = url;  // no nonce, jwk of the new key
  auto inner = jose::SignJws(next.key, io, inner_payload.dump());
  ASSERT_TRUE(inner.ok());
  http::Response r = Post(c, "/acme/key-change", *inner);
  ASSERT_EQ(r.status, 200) << r.body;
  // The old key no longer signs for the account; the new one does.
  EXPECT_EQ(ProblemTypeOf(Post(c, PathOf(c.kid), "")), Acme("unauthorized"));
  next.kid = c.kid;
  EXPECT_EQ(Post(next, PathOf(c.kid), "").status, 200);

  // Changing to a key another account has: 409 with that account's URL.
  Client d = OpenAccount();
  auto next_jwk = jose::ToJwk(next.key.Public());
  inner_payload = {{"account", next.kid}, {"oldKey", *next_jwk}};
  inner = jose::SignJws(d.key, io, inner_payload.dump());
  r = Post(next, "/acme/key-change", *inner);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Header(r, "Location"), d.kid);

  // oldKey that is not the account's key.
  Client third = NewClient();
  inner_payload = {{"account", next.kid}, {"oldKey", *old_jwk}};
  inner = jose::SignJws(third.key, io, inner_payload.dump());
  EXPECT_EQ(ProblemTypeOf(Post(next, "/acme/key-change", *inner)), Acme("unauthorized"));
}

TEST_F(AcmeServerTest, OrdersListIsPaged) {
  ServerOptions o;
  o.orders_page_size = 2;
  MakeServer(o);
  Client c = OpenAccount();
  std::vector<std::string> made;
  for (const char* n : {"a.other.test", "b.other.test", "c.other.test"}) {
    http::Response r = NewOrder(c, {n});
    ASSERT_EQ(r.status, 201);
    made.push_back(Header(r, "Location"));
  }
  http::Response first = Post(c, PathOf(c.kid + "/orders"), "");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(Body(first)["orders"].size(), 2u);
  std::string next;
  ASSERT_TRUE(HasLink(first, "next", &next));
  // The next page's URL carries a query; the JWS url must be it, exactly.
  std::string path = PathOf(next);
  http::Request req;
  req.method = "POST";
  req.path = path.substr(0, path.find('?'));
  req.query.push_back({"cursor", path.substr(path.find('=') + 1)});
  req.headers.Set("Content-Type", "application/jose+json");
  req.body = Sign(c, next, "", false);
  http::Response second = Call(std::move(req));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(Body(second)["orders"].size(), 1u) << next << " " << second.body;
  json all = Body(first)["orders"];
  const json second_page = Body(second);
  for (const json& u : second_page["orders"]) all.push_back(u);
  EXPECT_EQ(all, json(made));
  EXPECT_FALSE(HasLink(second, "next"));
  // Another account's list.
  Client d = OpenAccount();
  EXPECT_EQ(ProblemTypeOf(Post(d, PathOf(c.kid + "/orders"), "")), Acme("unauthorized"));
}

// ---- orders, finalize, download ----

TEST_F(AcmeServerTest, PreValidatedOrderIsReadyAndFinalizesToAValidCertificate) {
  Client c = WebAccount();
  http::Response r = NewOrder(c, {"www.example.test", "*.example.test"});
  ASSERT_EQ(r.status, 201) << r.body;
  json order = Body(r);
  EXPECT_EQ(order["status"], "ready");
  EXPECT_EQ(order["profile"], "default");
  ASSERT_EQ(order["authorizations"].size(), 2u);
  http::Response authz = Post(c, PathOf(order["authorizations"][1]), "");
  ASSERT_EQ(authz.status, 200) << authz.body;
  EXPECT_EQ(Body(authz)["status"], "valid");
  EXPECT_EQ(Body(authz)["identifier"]["value"], "example.test");
  EXPECT_EQ(Body(authz)["wildcard"], true);

  std::string order_url = Header(r, "Location");
  http::Response fin = PostJson(c, PathOf(order["finalize"]),
                                {{"csr", Csr({"www.example.test", "*.example.test"})}});
  ASSERT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(Body(fin)["status"], "valid");
  crypto::Certificate cert = Download(c, order_url);
  EXPECT_EQ(cert.Sans().dns.size(), 2u);
  // A second finalize: the order is not ready any more.
  fin = PostJson(c, PathOf(order["finalize"]), {{"csr", Csr({"www.example.test"})}});
  EXPECT_EQ(fin.status, 403);
  EXPECT_EQ(ProblemTypeOf(fin), Acme("orderNotReady"));
}

TEST_F(AcmeServerTest, NewOrderRefusalsWriteNothing) {
  Client c = WebAccount();
  http::Response r = NewOrder(c, {"www.example.test", "www.elsewhere.test"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ProblemTypeOf(r), Acme("rejectedIdentifier"));
  ASSERT_EQ(Body(r)["subproblems"].size(), 1u) << r.body;
  EXPECT_EQ(Body(r)["subproblems"][0]["identifier"]["value"], "www.elsewhere.test");
  auto audit = store_->ListAudit("", 10);
  ASSERT_TRUE(audit.ok());

  EXPECT_EQ(ProblemTypeOf(NewOrder(c, {"www.example.test"}, {{"profile", "gold"}})),
            Acme("invalidProfile"));
  json ids = {{{"type", "email"}, {"value", "a@example.test"}}};
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/new-order", {{"identifiers", ids}})),
            Acme("unsupportedIdentifier"));
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/new-order", {{"identifiers", json::array()}})),
            Acme("malformed"));
  // notAfter beyond the profile's 90 days.
  std::string far = FormatRfc3339(clock_.Now() + std::chrono::hours(24 * 200));
  EXPECT_EQ(ProblemTypeOf(NewOrder(c, {"www.example.test"}, {{"notAfter", far}})),
            Acme("malformed"));
  EXPECT_EQ(ProblemTypeOf(NewOrder(c, {"www.example.test"}, {{"notBefore", "yesterday"}})),
            Acme("malformed"));
  EXPECT_EQ(OrderCount(c), 0u);
  // Within the term, and an IP address in range.
  std::string near = FormatRfc3339(clock_.Now() + std::chrono::hours(24 * 30));
  r = NewOrder(c, {"www.example.test"}, {{"notAfter", near}});
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["notAfter"], near);
  ids = {{{"type", "ip"}, {"value", "192.0.2.7"}}};
  EXPECT_EQ(PostJson(c, "/acme/new-order", {{"identifiers", ids}}).status, 201);
  ids = {{{"type", "ip"}, {"value", "198.51.100.7"}}};
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/new-order", {{"identifiers", ids}})),
            Acme("rejectedIdentifier"));
}

TEST_F(AcmeServerTest, FinalizeRefusals) {
  Client c = WebAccount();
  http::Response r = NewOrder(c, {"www.example.test"});
  ASSERT_EQ(r.status, 201);
  const std::string finalize = PathOf(Body(r)["finalize"]);
  // A name not in the order.
  r = PostJson(c, finalize, {{"csr", Csr({"www.example.test", "other.example.test"})}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ProblemTypeOf(r), Acme("badCSR"));
  // Not a CSR.
  EXPECT_EQ(ProblemTypeOf(PostJson(c, finalize, {{"csr", "AAAA"}})), Acme("badCSR"));
  EXPECT_EQ(ProblemTypeOf(PostJson(c, finalize, {{"csr", 5}})), Acme("malformed"));
  // The order is still ready: nothing was written.
  EXPECT_EQ(
      Body(Post(c, PathOf(Header(NewOrder(c, {"x.example.test"}), "Location")), ""))["status"],
      "ready");

  // A key type the profile does not allow.
  r = NewOrder(c, {"rsa.example.test"}, {{"profile", "rsa-only"}});
  ASSERT_EQ(r.status, 201) << r.body;
  http::Response fin =
      PostJson(c, PathOf(Body(r)["finalize"]), {{"csr", Csr({"rsa.example.test"})}});
  EXPECT_EQ(fin.status, 400);
  EXPECT_EQ(ProblemTypeOf(fin), Acme("badCSR")) << fin.body;
  EXPECT_EQ(Body(Post(c, PathOf(Header(r, "Location")), ""))["status"], "ready");
  fin = PostJson(c, PathOf(Body(r)["finalize"]),
                 {{"csr", Csr({"rsa.example.test"}, crypto::KeySpec::kRsa2048)}});
  EXPECT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(Body(fin)["status"], "valid");
}

TEST_F(AcmeServerTest, ProcessingOrderCompletesAfterApprovalAndARestart) {
  Client c = WebAccount();
  http::Response r = NewOrder(c, {"slow.example.test"}, {{"profile", "approval"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string order_url = Header(r, "Location");
  // Submit does not wait for an approval that has not happened.
  issuance::Options io;
  io.wait_budget = std::chrono::milliseconds(0);
  io.poll_initial = std::chrono::milliseconds(1);
  io.poll_max = std::chrono::milliseconds(1);
  issuance_ = std::make_unique<issuance::IssuanceService>(
      *store_, *scm_, notifier_, scheduler_, clock_, logger_,
      [](const std::string&) { return std::string(); }, io);
  MakeServer(ServerOptions{});
  http::Response fin =
      PostJson(c, PathOf(Body(r)["finalize"]), {{"csr", Csr({"slow.example.test"})}});
  ASSERT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(Body(fin)["status"], "processing");
  EXPECT_FALSE(Header(fin, "Retry-After").empty());
  auto order = store_->GetOrder(AccountId(c), PathOf(order_url).substr(12));
  ASSERT_TRUE(order.ok());
  auto enrollment = store_->GetEnrollment(order->enrollment_id);
  ASSERT_TRUE(enrollment.ok());
  EXPECT_EQ(enrollment->request_key, "acme-order:" + order->id);

  // "Restart": a new server over the same store; the administrator approves in SCM.
  MakeServer(ServerOptions{});
  ASSERT_TRUE(scm_emulator::ApproveInState(dir_ + "/scm", enrollment->scm_id, "ok").ok());
  http::Response got = Post(c, PathOf(order_url), "");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Body(got)["status"], "valid") << got.body;
  Download(c, order_url);
}

// ---- replaces and renewalInfo ----

TEST_F(AcmeServerTest, ReplacesAndRenewalInfo) {
  Client c = WebAccount();
  std::string order_url = IssueFor(c, {"renew.example.test"});
  crypto::Certificate cert = Download(c, order_url);
  const std::string cert_id = AriCertId(cert);

  // renewalInfo: the window is centred 30 days (the profile's auto_renew_days) before expiry
  // (protocols/acme/ari.h has the exact rule).
  http::Response ri = Get("/acme/renewal-info/" + cert_id);
  ASSERT_EQ(ri.status, 200) << ri.body;
  EXPECT_EQ(Header(ri, "Retry-After"), "21600");
  json window = Body(ri)["suggestedWindow"];
  auto start = internal::ParseRfc3339(window["start"].get<std::string>());
  auto end = internal::ParseRfc3339(window["end"].get<std::string>());
  ASSERT_TRUE(start.has_value() && end.has_value()) << ri.body;
  const TimePoint target = cert.NotAfter() - std::chrono::hours(24 * 30);
  EXPECT_LE(*start, target);
  EXPECT_GE(*end, target - std::chrono::seconds(1));
  EXPECT_LE(*end - *start, std::chrono::hours(24));
  EXPECT_GT(*start, clock_.Now());
  EXPECT_EQ(Get("/acme/renewal-info/not-a-cert-id").status, 400);
  EXPECT_EQ(Get("/acme/renewal-info/AAAA.AQ").status, 404);

  // Another account under another enrollment account cannot replace it.
  Client open = OpenAccount();
  EXPECT_EQ(ProblemTypeOf(NewOrder(open, {"renew.example.test"}, {{"replaces", cert_id}})),
            Acme("malformed"));
  http::Response r = NewOrder(c, {"renew.example.test"}, {{"replaces", cert_id}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["replaces"], cert_id);
  http::Response twice = NewOrder(c, {"renew.example.test"}, {{"replaces", cert_id}});
  EXPECT_EQ(twice.status, 409);
  EXPECT_EQ(ProblemTypeOf(twice), Acme("alreadyReplaced"));
  http::Response fin =
      PostJson(c, PathOf(Body(r)["finalize"]), {{"csr", Csr({"renew.example.test"})}});
  ASSERT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(Body(fin)["status"], "valid") << fin.body;
  crypto::Certificate renewed = Download(c, Header(r, "Location"));
  EXPECT_NE(renewed.SerialHex(), cert.SerialHex());
  auto record = store_->GetCertificate(renewed.SerialHex());
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(store_->GetEnrollment(record->enrollment_id)->renewal_of.empty(), false);

  // Revoked: the window moves to now.
  json revoke = {{"certificate", crypto::Base64UrlEncode(cert.Der())}};
  ASSERT_EQ(PostJson(c, "/acme/revoke-cert", revoke).status, 200);
  window = Body(Get("/acme/renewal-info/" + cert_id))["suggestedWindow"];
  EXPECT_LE(window["end"].get<std::string>(),
            FormatRfc3339(clock_.Now() + std::chrono::seconds(1)));
}

// A replacement order abandoned before finalize holds the certificate only until it expires;
// then the real replacement may be placed (before, the unique index blocked it forever).
TEST_F(AcmeServerTest, AnAbandonedReplacementOrderExpiresAndFreesTheCertificate) {
  FakeClock fake(clock_.Now());
  ServerOptions o;
  o.order_lifetime = std::chrono::hours(1);
  MakeServer(o, nullptr, &fake);
  Client c = WebAccount();
  crypto::Certificate cert = Download(c, IssueFor(c, {"abandoned.example.test"}));
  const std::string cert_id = AriCertId(cert);
  http::Response abandoned = NewOrder(c, {"abandoned.example.test"}, {{"replaces", cert_id}});
  ASSERT_EQ(abandoned.status, 201) << abandoned.body;
  EXPECT_EQ(ProblemTypeOf(NewOrder(c, {"abandoned.example.test"}, {{"replaces", cert_id}})),
            Acme("alreadyReplaced"));
  fake.Advance(std::chrono::hours(1) + std::chrono::seconds(1));
  http::Response real = NewOrder(c, {"abandoned.example.test"}, {{"replaces", cert_id}});
  ASSERT_EQ(real.status, 201) << real.body;
  http::Response old = Post(c, PathOf(Header(abandoned, "Location")), "");
  EXPECT_EQ(Body(old)["status"], "invalid") << old.body;
  // The live replacement still holds it.
  EXPECT_EQ(ProblemTypeOf(NewOrder(c, {"abandoned.example.test"}, {{"replaces", cert_id}})),
            Acme("alreadyReplaced"));
}

// An administrator revokes the certificate in SCM itself (the gateway is not asked): the
// issuance poller's revocation sweep records it, and renewalInfo then says "renew now".
TEST_F(AcmeServerTest, RenewalInfoFollowsARevocationMadeInScm) {
  Client c = WebAccount();
  crypto::Certificate cert = Download(c, IssueFor(c, {"scm-revoked.example.test"}));
  const std::string cert_id = AriCertId(cert);
  json window = Body(Get("/acme/renewal-info/" + cert_id))["suggestedWindow"];
  auto start = internal::ParseRfc3339(window["start"].get<std::string>());
  ASSERT_TRUE(start.has_value());
  EXPECT_GT(*start, clock_.Now());

  auto record = store_->GetCertificate(cert.SerialHex());
  ASSERT_TRUE(record.ok());
  // Straight to the emulator's REST revoke, as SCM's administrator.
  ASSERT_TRUE(
      scm_->Revoke(CertType::kSsl, record->scm_id, RevocationReason::kUnspecified, "in SCM UI")
          .ok());
  EXPECT_FALSE(store_->GetCertificate(cert.SerialHex())->revoked_at.has_value());
  issuance_->PollOnce();
  EXPECT_TRUE(store_->GetCertificate(cert.SerialHex())->revoked_at.has_value());
  window = Body(Get("/acme/renewal-info/" + cert_id))["suggestedWindow"];
  EXPECT_LE(window["end"].get<std::string>(),
            FormatRfc3339(clock_.Now() + std::chrono::seconds(1)));
}

// ---- revocation ----

TEST_F(AcmeServerTest, RevokeByAccountAndByCertificateKey) {
  Client c = WebAccount();
  crypto::Certificate first = Download(c, IssueFor(c, {"r1.example.test"}));
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/revoke-cert", {{"reason", 1}})), Acme("malformed"));
  json body = {{"certificate", crypto::Base64UrlEncode(first.Der())}, {"reason", 2}};
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/revoke-cert",
                                   {{"certificate", body["certificate"]}, {"reason", 1e30}})),
            Acme("badRevocationReason"));
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/revoke-cert", body)), Acme("badRevocationReason"));
  // Another account may not.
  Client other = WebAccount();
  body["reason"] = 1;
  EXPECT_EQ(ProblemTypeOf(PostJson(other, "/acme/revoke-cert", body)), Acme("unauthorized"));
  EXPECT_FALSE(store_->GetCertificate(first.SerialHex())->revoked_at.has_value());
  http::Response r = PostJson(c, "/acme/revoke-cert", body);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(store_->GetCertificate(first.SerialHex())->revoked_at.has_value());
  EXPECT_EQ(ProblemTypeOf(PostJson(c, "/acme/revoke-cert", body)), Acme("alreadyRevoked"));

  // Signed by the certificate's own key (jwk).
  crypto::PrivateKey cert_key =
      std::move(crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256)).value();
  crypto::Certificate second = Download(c, IssueFor(c, {"r2.example.test"}, &cert_key));
  Client holder{std::move(cert_key), ""};
  body = {{"certificate", crypto::Base64UrlEncode(second.Der())}};
  Client stranger = NewClient();
  EXPECT_EQ(ProblemTypeOf(PostRaw("/acme/revoke-cert",
                                  Sign(stranger, kBase + "/acme/revoke-cert", body.dump(), true))),
            Acme("unauthorized"));
  r = PostRaw("/acme/revoke-cert", Sign(holder, kBase + "/acme/revoke-cert", body.dump(), true));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(store_->GetCertificate(second.SerialHex())->revoked_at.has_value());
}

// ---- isolation between accounts ----

TEST_F(AcmeServerTest, AnAccountNeverSeesAnotherAccountsObjects) {
  Client a = WebAccount();
  Client b = WebAccount();
  std::string order_url = IssueFor(a, {"mine.example.test"});
  json order = Body(Post(a, PathOf(order_url), ""));
  const std::string cert_path = PathOf(order["certificate"]);
  for (const std::string& path :
       {PathOf(order_url), PathOf(order["authorizations"][0]), cert_path}) {
    http::Response r = Post(b, path, "");
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
  }
  http::Response fin =
      PostJson(b, PathOf(order["finalize"]), {{"csr", Csr({"mine.example.test"})}});
  EXPECT_EQ(fin.status, 404);
  EXPECT_EQ(Body(Post(a, PathOf(order_url), ""))["status"], "valid");
}

// ---- challenges ----

TEST_F(AcmeServerTest, ChallengeAccountOrderIsPendingUntilValidated) {
  Client c = OpenAccount();
  http::Response r = NewOrder(c, {"host.other.test", "*.wild.other.test"});
  ASSERT_EQ(r.status, 201) << r.body;
  json order = Body(r);
  EXPECT_EQ(order["status"], "pending");
  json authz = Body(Post(c, PathOf(order["authorizations"][0]), ""));
  EXPECT_EQ(authz["status"], "pending");
  ASSERT_EQ(authz["challenges"].size(), 3u);
  std::set<std::string> types;
  for (const json& ch : authz["challenges"]) {
    types.insert(ch["type"]);
    EXPECT_GE(ch["token"].get<std::string>().size(), 22u);  // >= 128 bits
    EXPECT_EQ(ch["status"], "pending");
  }
  EXPECT_EQ(types, (std::set<std::string>{"http-01", "dns-01", "tls-alpn-01"}));
  json wild = Body(Post(c, PathOf(order["authorizations"][1]), ""));
  EXPECT_EQ(wild["wildcard"], true);
  ASSERT_EQ(wild["challenges"].size(), 1u);
  EXPECT_EQ(wild["challenges"][0]["type"], "dns-01");

  // Finalizing a pending order.
  EXPECT_EQ(
      ProblemTypeOf(PostJson(c, PathOf(order["finalize"]), {{"csr", Csr({"host.other.test"})}})),
      Acme("orderNotReady"));

  // Responding to a challenge: processing, with Link up and Retry-After.
  const std::string chall = PathOf(authz["challenges"][0]["url"]);
  http::Response started = PostJson(c, chall, json::object());
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(Body(started)["status"], "processing");
  std::string up;
  ASSERT_TRUE(HasLink(started, "up", &up));
  EXPECT_EQ(up, order["authorizations"][0]);
  EXPECT_FALSE(Header(started, "Retry-After").empty());
  auto due = store_->ListDueChallenges(clock_.Now() + std::chrono::seconds(1), 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  // Another account cannot touch it.
  Client other = OpenAccount();
  EXPECT_EQ(PostJson(other, chall, json::object()).status, 404);

  // Deactivating an authorization invalidates the order.
  http::Response deact =
      PostJson(c, PathOf(order["authorizations"][1]), {{"status", "deactivated"}});
  ASSERT_EQ(deact.status, 200) << deact.body;
  EXPECT_EQ(Body(deact)["status"], "deactivated");
  EXPECT_EQ(Body(Post(c, PathOf(Header(r, "Location")), ""))["status"], "invalid");
}

// http-01 end to end in process: the challenge POST kicks the real ChallengeWorker, which runs
// the real Validator against a local HTTP server; the order becomes ready, then valid. A wrong
// answer makes the challenge, the authorization and the order invalid. The validator's
// io_context runs on the test thread: io.run() returns once the validation (and the worker's
// writes in its completion) are done, so there is nothing to wait for.
TEST_F(AcmeServerTest, Http01ThroughTheWorkerAndValidator) {
  Client c = OpenAccount();
  auto thumbprint = jose::Thumbprint(c.key.Public());
  ASSERT_TRUE(thumbprint.ok());
  std::string good_token;
  validation::testing::HttpLog log;
  validation::testing::TcpServer http(validation::testing::HttpHandler(
      [&](const std::string& path) {
        std::string body = path == "/.well-known/acme-challenge/" + good_token
                               ? good_token + "." + *thumbprint
                               : "wrong";
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      },
      &log));
  boost::asio::io_context io;
  validation::ValidatorOptions vo;
  vo.http01_port = http.port();
  vo.hosts = {{"*", "127.0.0.1"}};
  vo.connect_timeout = std::chrono::seconds(5);
  vo.total_timeout = std::chrono::seconds(5);
  validation::Validator validator(io, vo);
  ChallengeWorker::Options wo;
  wo.max_attempts = 1;
  ChallengeWorker worker(*store_, validator, scheduler_, clock_, logger_, wo);
  MakeServer(ServerOptions{}, &worker);

  auto start_http01 = [&](const std::string& name, std::string* token) {
    http::Response r = NewOrder(c, {name});
    EXPECT_EQ(r.status, 201) << r.body;
    json order = Body(r);
    json authz = Body(Post(c, PathOf(order["authorizations"][0]), ""));
    std::string chall;
    for (const json& ch : authz["challenges"]) {
      if (ch["type"] == "http-01") {
        chall = PathOf(ch["url"]);
        *token = ch["token"];
      }
    }
    EXPECT_FALSE(chall.empty());
    return std::make_pair(Header(r, "Location"), chall);
  };

  auto [order_url, chall] = start_http01("good.other.test", &good_token);
  EXPECT_EQ(Body(PostJson(c, chall, json::object()))["status"], "processing");
  ASSERT_EQ(worker.PollOnce(), 1);
  io.run();
  EXPECT_EQ(Body(Post(c, chall, ""))["status"], "valid");
  json order = Body(Post(c, PathOf(order_url), ""));
  ASSERT_EQ(order["status"], "ready") << order.dump();
  http::Response fin = PostJson(c, PathOf(order["finalize"]), {{"csr", Csr({"good.other.test"})}});
  ASSERT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(Body(fin)["status"], "valid");
  Download(c, order_url);

  std::string bad_token;
  auto [bad_order, bad_chall] = start_http01("bad.other.test", &bad_token);
  EXPECT_EQ(PostJson(c, bad_chall, json::object()).status, 200);
  ASSERT_EQ(worker.PollOnce(), 1);
  io.restart();
  io.run();
  json failed = Body(Post(c, bad_chall, ""));
  EXPECT_EQ(failed["status"], "invalid") << failed.dump();
  EXPECT_EQ(failed["error"]["type"], Acme("incorrectResponse")) << failed.dump();
  EXPECT_EQ(Body(Post(c, PathOf(bad_order), ""))["status"], "invalid");
  worker.Stop();
  http.Stop();
  {
    std::lock_guard<std::mutex> lock(log.mu);
    EXPECT_EQ(log.paths.size(), 2u);
  }
}

}  // namespace
}  // namespace eg::acme
