// Integration tests of scm/client against the in-process SCM emulator, over real sockets (TLS,
// keep-alive, retries, faults). The acceptance points of the client's issue.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "scm/client/http_transport.h"
#include "scm/client/scm_client.h"
#include "scm/emulator/emulator.h"

namespace eg::scm_client {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eg-scm-client-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    state_dir_ = tmpl;
    scm_emulator::Options eo;
    eo.listen_host = "127.0.0.1";
    eo.port = 0;
    eo.state_dir = state_dir_;
    auto emu = scm_emulator::Emulator::Start(eo, emu_logger_);
    ASSERT_TRUE(emu.ok()) << emu.error().ToString();
    emu_ = std::move(emu).value();
  }
  void TearDown() override {
    if (emu_) emu_->Stop();
    std::error_code ec;
    fs::remove_all(state_dir_, ec);
  }

  Options PasswordOptions() const {
    Options o;
    o.base_url = emu_->base_url();
    o.ca_bundle_pem = emu_->ca_pem();
    o.customer_uri = "demo";
    o.login = "admin";
    o.password = "admin";
    o.oauth_token_url = emu_->base_url() + "/oauth2/token";
    o.oauth_client_id = "codesign";
    o.oauth_client_secret = "codesign-secret";
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    o.request_timeout = std::chrono::milliseconds(10000);
    return o;
  }

  std::unique_ptr<ScmApi> Client(const Options& o) {
    auto c = CreateScmClient(o, logger_, clock_);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // GET/PUT on the emulator's test endpoints.
  Result<HttpResponse> EmulatorCall(const std::string& method, const std::string& path,
                                    const std::string& body = "") {
    TransportOptions t;
    t.ca_bundle_pem = emu_->ca_pem();
    EG_ASSIGN_OR_RETURN(auto transport, CreateBeastTransport(t));
    HttpRequest r;
    r.method = method;
    r.host = "127.0.0.1";
    r.port = emu_->port();
    r.target = path;
    r.headers = {{"login", "admin"}, {"password", "admin"}, {"customerUri", "demo"}};
    if (!body.empty()) {
      r.headers.emplace_back("Content-Type", "application/json");
      r.body = body;
    }
    return transport->Send(r, nullptr);
  }

  std::string state_dir_;
  Logger emu_logger_{LogLevel::kError};
  Logger logger_{LogLevel::kError};
  SystemClock clock_;
  std::unique_ptr<scm_emulator::Emulator> emu_;
};

struct KeyAndCsr {
  crypto::PrivateKey key;
  std::string csr_pem;
};

KeyAndCsr MakeCsr(crypto::KeySpec spec, const std::string& cn, std::vector<std::string> dns = {},
                  std::vector<std::string> emails = {}) {
  auto key = crypto::PrivateKey::Generate(spec);
  EXPECT_TRUE(key.ok());
  crypto::CsrRequest req;
  req.subject.common_name = cn;
  req.sans.dns = std::move(dns);
  req.sans.email = std::move(emails);
  auto csr = crypto::BuildCsr(req, *key);
  EXPECT_TRUE(csr.ok()) << (csr.ok() ? "" : csr.error().ToString());
  return {std::move(key).value(), csr->Pem()};
}

// Polls Collect until it is not pending (at most ~10 s).
Result<ScmCertificate> CollectWhenReady(ScmApi& client, CertType type, const std::string& id) {
  for (int i = 0;; ++i) {
    auto c = client.Collect(type, id);
    if (c.ok() || c.error().code() != ErrorCode::kPending || i >= 100) return c;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void ExpectIssued(const ScmCertificate& cert, const crypto::PrivateKey& key, int term_days,
                  const std::string& cn, crypto::Eku eku) {
  auto leaf = crypto::Certificate::ParsePem(cert.leaf_pem);
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(leaf->Key().Equals(key.Public()));
  const auto days =
      std::chrono::duration_cast<std::chrono::hours>(leaf->NotAfter() - leaf->NotBefore()).count() /
      24.0;
  EXPECT_NEAR(days, term_days, 1.01);
  if (!cn.empty()) {
    EXPECT_EQ(leaf->Subject().common_name, cn);
  }
  const auto ekus = leaf->Ekus();
  EXPECT_NE(std::find(ekus.begin(), ekus.end(), eku), ekus.end());
  ASSERT_FALSE(cert.chain_pem.empty());
  auto issuer = crypto::Certificate::ParsePem(cert.chain_pem[0]);
  ASSERT_TRUE(issuer.ok());
  EXPECT_TRUE(leaf->IsSignedBy(*issuer));
  // The facts the client read while collecting are the leaf's.
  ASSERT_TRUE(cert.leaf.has_value());
  EXPECT_EQ(cert.leaf->serial_hex, leaf->SerialHex());
  EXPECT_EQ(cert.leaf->common_name, leaf->Subject().common_name);
  EXPECT_EQ(cert.leaf->fingerprint_sha256, leaf->FingerprintSha256());
  EXPECT_EQ(cert.leaf->not_after, leaf->NotAfter());
}

TEST_F(EmulatorTest, EnrollAndCollectAllFourTypes) {
  auto client = Client(PasswordOptions());
  ASSERT_TRUE(client);

  {  // SSL with auto-renew
    auto kc = MakeCsr(crypto::KeySpec::kEcP256, "www.example.test",
                      {"www.example.test", "api.example.test"});
    ScmEnrollRequest q;
    q.type = CertType::kSsl;
    q.org_id = 1697;
    q.profile_id = 1001;
    q.term_days = 90;
    q.csr_pem = kc.csr_pem;
    q.subject_alt_names = {"www.example.test", "api.example.test"};
    q.comments = "scm_client_test";
    q.auto_renew_days = 21;
    auto e = client->Enroll(q);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    EXPECT_FALSE(e->auto_renew_pending);
    auto cert = CollectWhenReady(*client, CertType::kSsl, e->id);
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    ExpectIssued(*cert, kc.key, 90, "www.example.test", crypto::Eku::kServerAuth);
    auto leaf = crypto::Certificate::ParsePem(cert->leaf_pem).value();
    auto sans = leaf.Sans().dns;
    std::sort(sans.begin(), sans.end());
    EXPECT_EQ(sans, (std::vector<std::string>{"api.example.test", "www.example.test"}));
    auto d = client->GetDetails(CertType::kSsl, e->id);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    ASSERT_TRUE(d->auto_renew.has_value());
    EXPECT_TRUE(d->auto_renew->scheduled);
    EXPECT_EQ(d->auto_renew->days_before_expiration, 21);
    EXPECT_EQ(d->status, ScmCertStatus::kIssued);
    EXPECT_NE(d->comments.find("scm_client_test [eg:"), std::string::npos);
  }
  {  // client (S/MIME)
    auto kc = MakeCsr(crypto::KeySpec::kRsa2048, "Alice Example", {}, {"alice@example.test"});
    ScmEnrollRequest q;
    q.type = CertType::kClient;
    q.org_id = 1697;
    q.profile_id = 2001;
    q.term_days = 365;
    q.csr_pem = kc.csr_pem;
    q.email = "alice@example.test";
    q.first_name = "Alice";
    q.last_name = "Example";
    auto e = client->Enroll(q);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    auto cert = CollectWhenReady(*client, CertType::kClient, e->id);
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    ExpectIssued(*cert, kc.key, 365, "", crypto::Eku::kEmailProtection);
    auto leaf = crypto::Certificate::ParsePem(cert->leaf_pem).value();
    EXPECT_EQ(leaf.Sans().email, std::vector<std::string>{"alice@example.test"});
  }
  {  // device
    auto kc = MakeCsr(crypto::KeySpec::kEcP384, "device-01.example.test");
    ScmEnrollRequest q;
    q.type = CertType::kDevice;
    q.org_id = 1697;
    q.profile_id = 3001;
    q.term_days = 730;
    q.csr_pem = kc.csr_pem;
    q.common_name = "device-01.example.test";
    auto e = client->Enroll(q);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    auto cert = CollectWhenReady(*client, CertType::kDevice, e->id);
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    ExpectIssued(*cert, kc.key, 730, "device-01.example.test", crypto::Eku::kClientAuth);
  }
  {  // code signing (REST enrollment API, OAuth2 bearer)
    auto kc = MakeCsr(crypto::KeySpec::kRsa3072, "Example Org Code Signing");
    ScmEnrollRequest q;
    q.type = CertType::kCodeSigning;
    q.profile_id = 4001;
    q.term_days = 365;
    q.csr_pem = kc.csr_pem;
    q.email = "dev@example.test";
    q.first_name = "Dev";
    q.last_name = "Example";
    q.code_signing.key_attestation = "ZXZpZGVuY2U=";
    q.code_signing.hsm_type = "Yubikey";
    auto e = client->Enroll(q);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    auto cert = CollectWhenReady(*client, CertType::kCodeSigning, e->id);
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    ExpectIssued(*cert, kc.key, 365, "", crypto::Eku::kCodeSigning);
    auto d = client->GetDetails(CertType::kCodeSigning, e->id);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
  }
}

TEST_F(EmulatorTest, ListsAndRenewAndRevoke) {
  auto client = Client(PasswordOptions());
  ASSERT_TRUE(client);
  auto profiles = client->ListProfiles(CertType::kSsl);
  ASSERT_TRUE(profiles.ok()) << profiles.error().ToString();
  bool saw_1001 = false;
  for (const auto& p : *profiles) {
    if (p.id == 1001) {
      saw_1001 = true;
      EXPECT_EQ(p.terms, (std::vector<int>{47, 90, 200, 365, 397}));
    }
  }
  EXPECT_TRUE(saw_1001);
  auto fields = client->ListCustomFields(CertType::kSsl);
  ASSERT_TRUE(fields.ok()) << fields.error().ToString();
  EXPECT_FALSE(fields->empty());
  for (CertType t : {CertType::kClient, CertType::kDevice, CertType::kCodeSigning}) {
    auto p = client->ListProfiles(t);
    EXPECT_TRUE(p.ok() && !p->empty()) << CertTypeName(t) << (p.ok() ? "" : p.error().ToString());
  }

  auto kc = MakeCsr(crypto::KeySpec::kEcP256, "renew.example.test", {"renew.example.test"});
  ScmEnrollRequest q;
  q.type = CertType::kSsl;
  q.org_id = 1697;
  q.profile_id = 1001;
  q.term_days = 365;
  q.csr_pem = kc.csr_pem;
  q.subject_alt_names = {"renew.example.test"};
  auto e = client->Enroll(q);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  ASSERT_TRUE(CollectWhenReady(*client, CertType::kSsl, e->id).ok());
  auto kc2 = MakeCsr(crypto::KeySpec::kEcP256, "renew.example.test", {"renew.example.test"});
  auto r = client->Renew(CertType::kSsl, e->id, kc2.csr_pem);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_NE(r->id, e->id);
  auto rc = CollectWhenReady(*client, CertType::kSsl, r->id);
  ASSERT_TRUE(rc.ok()) << rc.error().ToString();
  ExpectIssued(*rc, kc2.key, 365, "renew.example.test", crypto::Eku::kServerAuth);

  ASSERT_TRUE(client->Revoke(CertType::kSsl, r->id, RevocationReason::kSuperseded, "test").ok());
  auto after = client->Collect(CertType::kSsl, r->id);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(after.error().provider_code(), -110);
  auto revoked = client->GetDetails(CertType::kSsl, r->id);
  ASSERT_TRUE(revoked.ok()) << revoked.error().ToString();
  EXPECT_EQ(revoked->status, ScmCertStatus::kRevoked);
  EXPECT_EQ(revoked->revocation_reason, static_cast<int>(RevocationReason::kSuperseded));
  auto again = client->Revoke(CertType::kSsl, r->id, RevocationReason::kSuperseded, "test");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().provider_code(), -159);
  auto missing = client->GetDetails(CertType::kSsl, "99999999");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(EmulatorTest, ApprovalPendingApprovedAndDeclined) {
  auto client = Client(PasswordOptions());
  ASSERT_TRUE(client);
  auto enroll = [&](const std::string& cn) {
    auto kc = MakeCsr(crypto::KeySpec::kEcP256, cn, {cn});
    ScmEnrollRequest q;
    q.type = CertType::kSsl;
    q.org_id = 1697;
    q.profile_id = 1002;
    q.term_days = 365;
    q.csr_pem = kc.csr_pem;
    q.subject_alt_names = {cn};
    return client->Enroll(q);
  };
  auto a = enroll("approve.example.test");
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  auto c = client->Collect(CertType::kSsl, a->id);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kPending);
  EXPECT_EQ(ClassifyScmError(c.error()), ScmErrorKind::kPending);
  ASSERT_TRUE(scm_emulator::ApproveInState(state_dir_, a->id, "ok").ok());
  auto cert = CollectWhenReady(*client, CertType::kSsl, a->id);
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();

  auto d = enroll("decline.example.test");
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  ASSERT_TRUE(scm_emulator::DeclineInState(state_dir_, d->id, "no").ok());
  auto dc = client->Collect(CertType::kSsl, d->id);
  ASSERT_FALSE(dc.ok());
  EXPECT_EQ(dc.error().code(), ErrorCode::kFailedPrecondition) << dc.error().ToString();
  auto details = client->GetDetails(CertType::kSsl, d->id);
  ASSERT_TRUE(details.ok());
  EXPECT_EQ(details->status, ScmCertStatus::kDeclined);
}

TEST_F(EmulatorTest, RefusalsKeepScmCodes) {
  auto client = Client(PasswordOptions());
  ASSERT_TRUE(client);
  auto base = [&](crypto::KeySpec spec) {
    auto kc = MakeCsr(spec, "bad.example.test", {"bad.example.test"});
    ScmEnrollRequest q;
    q.type = CertType::kSsl;
    q.org_id = 1697;
    q.profile_id = 1001;
    q.term_days = 365;
    q.csr_pem = kc.csr_pem;
    q.subject_alt_names = {"bad.example.test"};
    return q;
  };
  auto check = [&](const ScmEnrollRequest& q, std::vector<int64_t> codes, ScmErrorKind kind) {
    auto e = client->Enroll(q);
    ASSERT_FALSE(e.ok());
    ASSERT_TRUE(e.error().provider_code().has_value()) << e.error().ToString();
    EXPECT_NE(std::find(codes.begin(), codes.end(), *e.error().provider_code()), codes.end())
        << e.error().ToString();
    EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArgument) << e.error().ToString();
    EXPECT_EQ(ClassifyScmError(e.error()), kind) << e.error().ToString();
    EXPECT_EQ(e.error().message().rfind("SCM enroll (ssl): ", 0), 0u) << e.error().message();
  };
  auto q = base(crypto::KeySpec::kEcP256);
  q.term_days = 5;
  check(q, {-36}, ScmErrorKind::kBadTerm);
  q = base(crypto::KeySpec::kEcP256);
  q.profile_id = 1003;
  check(q, {-11, -13, -170}, ScmErrorKind::kBadKeyType);
  q = base(crypto::KeySpec::kEcP256);
  q.profile_id = 1004;
  check(q, {-62}, ScmErrorKind::kMissingCustomField);
  q = base(crypto::KeySpec::kEcP256);
  q.profile_id = 9999;
  check(q, {-39, -111}, ScmErrorKind::kUnknownProfile);
  q = base(crypto::KeySpec::kEcP256);
  q.csr_pem =
      "-----BEGIN CERTIFICATE REQUEST-----\nnot*base64\n-----END CERTIFICATE REQUEST-----\n";
  check(q, {-9, -10, -138}, ScmErrorKind::kBadCsr);
}

TEST_F(EmulatorTest, LoginModes) {
  {  // certificate login
    Options o = PasswordOptions();
    o.auth = AuthMode::kClientCertificate;
    o.login = "certadmin";
    o.password.clear();
    o.client_cert_pem = ReadFile(state_dir_ + "/certadmin.pem");
    o.client_key_pem = ReadFile(state_dir_ + "/certadmin.key");
    auto client = Client(o);
    ASSERT_TRUE(client);
    auto p = client->ListProfiles(CertType::kSsl);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
  }
  {  // OAuth2, with a refresh when the token nears expiry
    FakeClock clock(std::chrono::system_clock::now());
    Options o = PasswordOptions();
    o.auth = AuthMode::kOAuth2;
    o.password.clear();
    o.oauth_client_id = "oauth-admin";
    o.oauth_client_secret = "oauth-secret";
    auto client = CreateScmClient(o, logger_, clock);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    auto p = (*client)->ListProfiles(CertType::kSsl);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
    clock.Advance(std::chrono::seconds(290));
    p = (*client)->ListProfiles(CertType::kDevice);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
  }
  {  // OAuth2 with the token URL learnt from the 401
    Options o = PasswordOptions();
    o.auth = AuthMode::kOAuth2;
    o.oauth_token_url.clear();
    o.oauth_client_id = "oauth-admin";
    o.oauth_client_secret = "oauth-secret";
    auto client = Client(o);
    ASSERT_TRUE(client);
    auto p = client->ListCustomFields(CertType::kSsl);
    EXPECT_TRUE(p.ok()) << p.error().ToString();
  }
  {  // bad password
    Options o = PasswordOptions();
    o.password = "wrong";
    auto client = Client(o);
    ASSERT_TRUE(client);
    auto p = client->ListProfiles(CertType::kSsl);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), ErrorCode::kUnauthenticated) << p.error().ToString();
    EXPECT_EQ(ClassifyScmError(p.error()), ScmErrorKind::kBadCredentials);
  }
  {  // bad OAuth2 secret
    Options o = PasswordOptions();
    o.auth = AuthMode::kOAuth2;
    o.oauth_client_id = "oauth-admin";
    o.oauth_client_secret = "nope";
    auto client = Client(o);
    ASSERT_TRUE(client);
    auto p = client->ListProfiles(CertType::kSsl);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), ErrorCode::kUnauthenticated) << p.error().ToString();
  }
  {  // a server certificate not signed by the configured CA is refused
    Options o = PasswordOptions();
    auto other_key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256).value();
    crypto::IssueRequest ir;
    ir.subject.common_name = "Other CA";
    ir.is_ca = true;
    ir.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    ir.not_after = ir.not_before + std::chrono::hours(48);
    o.ca_bundle_pem =
        crypto::IssueCertificate(ir, other_key.Public(), other_key, nullptr).value().Pem();
    o.max_attempts = 1;
    auto client = Client(o);
    ASSERT_TRUE(client);
    auto p = client->ListProfiles(CertType::kSsl);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), ErrorCode::kUnavailable);
  }
}

TEST_F(EmulatorTest, HundredEnrollmentsThroughFaultsEnrollExactlyOnce) {
  Options o = PasswordOptions();
  o.max_attempts = 12;
  o.request_timeout = std::chrono::milliseconds(5000);
  auto client = Client(o);
  ASSERT_TRUE(client);
  auto before = EmulatorCall("GET", "/_emulator/stats");
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  const int64_t ssl_before = json::parse(before->body)["enrollments"]["ssl"].get<int64_t>();

  scm_emulator::Switches faults;
  faults.fail_rate = 0.3;
  faults.drop_rate = 0.1;
  emu_->SetSwitches(faults);

  // Keys are the slow part: make them first, outside the faulted window's timing.
  constexpr int kTotal = 100;
  std::vector<KeyAndCsr> csrs;
  for (int i = 0; i < kTotal; ++i) {
    const std::string cn = "n" + std::to_string(i) + ".example.test";
    csrs.push_back(MakeCsr(crypto::KeySpec::kEcP256, cn, {cn}));
  }
  std::atomic<int> next{0}, ok{0};
  std::vector<std::string> failures;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kTotal; i = next++) {
        const std::string cn = "n" + std::to_string(i) + ".example.test";
        ScmEnrollRequest q;
        q.type = CertType::kSsl;
        q.org_id = 1697;
        q.profile_id = 1001;
        q.term_days = 90;
        q.csr_pem = csrs[i].csr_pem;
        q.subject_alt_names = {cn};
        q.comments = "fault test " + std::to_string(i);
        auto e = client->Enroll(q);
        if (e.ok()) {
          ++ok;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(e.error().ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  emu_->SetSwitches({});
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(ok.load(), kTotal);
  auto after = EmulatorCall("GET", "/_emulator/stats");
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  const int64_t ssl_after = json::parse(after->body)["enrollments"]["ssl"].get<int64_t>();
  EXPECT_EQ(ssl_after - ssl_before, kTotal) << after->body;
}

}  // namespace
}  // namespace eg::scm_client
