// The EST server (protocols/est/server.h) in process: requests go through the http::Router the
// daemon uses, state lives in a real SQLite store (Store and EstStore), certificates come from a
// real IssuanceService over the real SCM client from the SCM emulator (in process, HTTPS). The
// client side builds CSRs with crypto/, as curl + openssl would send them; the TLS facts the
// transport would fill (peer certificate chain, channel binding) are set on the request.
#include "protocols/est/server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "crypto/attestation.h"
#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/password.h"
#include "crypto/pkcs7.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_store.h"
#include "tests/support/emulated_scm.h"

namespace eg::est {
namespace {

constexpr char kDevicePassword[] = "device-secret";
constexpr char kAlicePassword[] = "alice-secret";

std::string Header(const http::Response& r, std::string_view name) {
  return std::string(r.headers.Get(name).value_or(""));
}

// An answer with `status` whose plain-text reason mentions `reason`.
void ExpectAnswer(const http::Response& r, int status, std::string_view reason) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.body.find(reason), std::string::npos) << r.body;
}

crypto::PrivateKey NewKey(crypto::KeySpec spec = crypto::KeySpec::kEcP256) {
  return std::move(crypto::PrivateKey::Generate(spec)).value();
}

// What a CSR asks for.
struct CsrSpec {
  std::string cn;
  std::vector<std::string> dns;
  std::string email;
  std::string given_name;
  std::string surname;
  std::string challenge_password;
};

crypto::Csr MakeCsr(const CsrSpec& spec, const crypto::PrivateKey& key) {
  crypto::CsrRequest req;
  req.subject.common_name = spec.cn;
  req.subject.email = spec.email;
  req.subject.given_name = spec.given_name;
  req.subject.surname = spec.surname;
  req.sans.dns = spec.dns;
  req.challenge_password = spec.challenge_password;
  auto csr = crypto::BuildCsr(req, key);
  EXPECT_TRUE(csr.ok()) << csr.error().ToString();
  return std::move(csr).value();
}

// A reenroll CSR: the subject and SANs of the certificate being renewed (RFC 7030 §4.2.2; SCM
// adds fields such as O, so a device copies them from its certificate), plus `extra_dns`.
crypto::Csr RenewalCsr(const crypto::Certificate& cert, const crypto::PrivateKey& key,
                       const std::vector<std::string>& extra_dns = {}) {
  crypto::CsrRequest req;
  req.subject = cert.Subject();
  req.sans = cert.Sans();
  for (const std::string& d : extra_dns) req.sans.dns.push_back(d);
  auto csr = crypto::BuildCsr(req, key);
  EXPECT_TRUE(csr.ok()) << csr.error().ToString();
  return std::move(csr).value();
}

// Base64 in 64-column CRLF lines, as `openssl req -outform DER | base64` and libest send it.
std::string WrappedBase64(const crypto::Bytes& der) {
  std::string flat = crypto::Base64Encode(der), out;
  for (size_t i = 0; i < flat.size(); i += 64) out += flat.substr(i, 64) + "\r\n";
  return out;
}

std::vector<crypto::Certificate> CertsOnly(const std::string& base64_body) {
  auto der = crypto::Base64Decode(base64_body);
  EXPECT_TRUE(der.ok()) << base64_body;
  if (!der.ok()) return {};
  auto certs = crypto::DecodeCertsOnly(*der);
  EXPECT_TRUE(certs.ok()) << certs.error().ToString();
  return certs.ok() ? *certs : std::vector<crypto::Certificate>{};
}

struct Multipart {
  std::map<std::string, std::string> parts;  // Content-Type -> body
};

// Splits a multipart/mixed body (RFC 2046) by the boundary of its Content-Type.
Multipart ParseMultipart(const http::Response& r) {
  Multipart out;
  const std::string type = Header(r, "Content-Type");
  const size_t at = type.find("boundary=");
  EXPECT_NE(at, std::string::npos) << type;
  if (at == std::string::npos) return out;
  const std::string delimiter = "--" + type.substr(at + 9);
  size_t pos = r.body.find(delimiter);
  while (pos != std::string::npos) {
    pos += delimiter.size();
    if (r.body.compare(pos, 2, "--") == 0) break;
    const size_t next = r.body.find(delimiter, pos);
    const std::string part = r.body.substr(pos, next - pos);
    const size_t blank = part.find("\r\n\r\n");
    std::string headers = part.substr(0, blank);
    std::string content_type;
    const size_t ct = headers.find("Content-Type: ");
    if (ct != std::string::npos) {
      content_type = headers.substr(ct + 14, headers.find("\r\n", ct) - ct - 14);
    }
    out.parts[content_type] = part.substr(blank + 4);
    pos = next;
  }
  return out;
}

config::ProfileConfig Profile(int64_t scm_id, int term) {
  config::ProfileConfig p;
  p.name = "default";
  p.scm_profile_id = scm_id;
  p.term_days = term;
  p.is_default = true;
  p.eula_accepted = true;
  return p;
}

class EstServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eg-est-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_ = std::move(storage::SqliteStore::Open({dir_ + "/db.sqlite", 2})).value();
    auto scm = testing::EmulatedScm::Start(
        dir_ + "/scm", {CertType::kDevice, CertType::kClient, CertType::kCodeSigning}, logger_,
        clock_);
    ASSERT_TRUE(scm.ok()) << scm.error().ToString();
    scm_ = std::move(scm).value();
    device_hash_ = std::move(crypto::HashPassword(kDevicePassword, 1000)).value();
    alice_hash_ = std::move(crypto::HashPassword(kAlicePassword, 1000)).value();
    MakeTestCa();
    SetAccounts();
    MakeIssuance(std::chrono::seconds(20));
    options_.default_label = "devices";
    options_.default_ca_certs_pem = scm_.emulator->ca_pem();
    options_.server_key_kek = crypto::RandomBytes(32);
    MakeServer();
  }

  void TearDown() override {
    server_.reset();
    router_.reset();
    issuance_.reset();
    scm_.Stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A CA of the test's own (the "anchors" label trusts it) and one nobody trusts.
  void MakeTestCa() {
    auto make_ca = [this](const std::string& cn, std::optional<crypto::PrivateKey>& key) {
      key.emplace(NewKey());
      crypto::IssueRequest req;
      req.subject.common_name = cn;
      req.not_before = clock_.Now() - std::chrono::hours(1);
      req.not_after = clock_.Now() + std::chrono::hours(24 * 365);
      req.is_ca = true;
      return crypto::IssueCertificate(req, key->Public(), *key, nullptr).value();
    };
    test_ca_.emplace(make_ca("Test Device CA", test_ca_key_));
    other_ca_.emplace(make_ca("Untrusted CA", other_ca_key_));
    std::ofstream(dir_ + "/anchors.pem") << test_ca_->Pem();
  }

  crypto::Certificate IssueByTestCa(const std::string& cn, const crypto::PrivateKey& key,
                                    bool trusted = true) {
    crypto::IssueRequest req;
    req.subject.common_name = cn;
    req.ekus = {crypto::Eku::kClientAuth};
    req.not_before = clock_.Now() - std::chrono::hours(1);
    req.not_after = clock_.Now() + std::chrono::hours(24);
    return crypto::IssueCertificate(req, key.Public(), trusted ? *test_ca_key_ : *other_ca_key_,
                                    trusted ? &*test_ca_ : &*other_ca_)
        .value();
  }

  config::AccountConfig Account(const std::string& name, CertType type, int64_t scm_profile) {
    config::AccountConfig a;
    a.name = name;
    a.protocols = {config::Protocol::kEst};
    a.cert_type = type;
    a.organization_id = 1697;
    a.profiles = {Profile(scm_profile, 365)};
    a.names.dns_suffixes = {"example.test"};
    a.names.email_domains = {"example.test"};
    a.est.label = name;
    return a;
  }

  void SetAccounts() {
    auto snapshot = std::make_shared<mapping::MappingSnapshot>();
    config::AccountConfig devices = Account("devices", CertType::kDevice, 3001);
    devices.est.basic_users = {{"device", device_hash_, ""}};
    // Manufacturer certificates too: a certificate the gateway issued is still judged by its
    // record (revoked stays "revoked", not "not trusted").
    devices.est.client_cert_anchor_files = {dir_ + "/anchors.pem"};
    snapshot->accounts.push_back(devices);

    config::AccountConfig approval = Account("devices-approval", CertType::kDevice, 3002);
    approval.est.basic_users = devices.est.basic_users;
    snapshot->accounts.push_back(approval);

    config::AccountConfig rsa = Account("rsa-only", CertType::kDevice, 3001);
    rsa.profiles[0].key_types = {"RSA-2048"};
    rsa.est.auth_none = true;
    snapshot->accounts.push_back(rsa);

    config::AccountConfig people = Account("people", CertType::kClient, 2001);
    people.est.basic_users = {{"alice", alice_hash_, ""}};
    snapshot->accounts.push_back(people);

    config::AccountConfig pop = Account("pop", CertType::kDevice, 3001);
    pop.est.auth_none = true;
    pop.est.link_pop_to_tls = true;
    snapshot->accounts.push_back(pop);

    config::AccountConfig anchors = Account("anchors", CertType::kDevice, 3001);
    anchors.est.client_cert_anchor_files = {dir_ + "/anchors.pem"};
    anchors.est.client_cert_subject_pattern = "CN=dev-[0-9]+";
    anchors.est.accept_issued_certificates = false;
    snapshot->accounts.push_back(anchors);

    config::AccountConfig codesign = Account("codesign", CertType::kCodeSigning, 4001);
    codesign.profiles[0].hsm_type = "Yubikey";
    codesign.est.basic_users = people.est.basic_users;
    codesign.code_signing.attestation_anchor_files = {dir_ + "/anchors.pem"};
    snapshot->accounts.push_back(codesign);

    config::AccountConfig acme_only = Account("acme-only", CertType::kDevice, 3001);
    acme_only.protocols = {config::Protocol::kAcme};
    snapshot->accounts.push_back(acme_only);

    snapshot->catalog = scm_.catalog;
    snapshot_ = snapshot;
  }

  void MakeIssuance(std::chrono::milliseconds wait_budget) {
    server_.reset();
    issuance::Options io;
    io.wait_budget = wait_budget;
    io.poll_initial = std::chrono::milliseconds(1);
    io.poll_max = std::chrono::milliseconds(1);
    io.claim_lease = std::chrono::seconds(60);
    issuance_ = std::make_unique<issuance::IssuanceService>(
        *store_, *scm_.scm, notifier_, scheduler_, clock_, logger_,
        [](const std::string&) { return std::string(); }, io);
  }

  void MakeServer() {
    server_.reset();
    router_ = std::make_unique<http::Router>();
    server_ = std::make_unique<EstServer>(
        *store_, *store_, *issuance_, [this] { return snapshot_; }, clock_, logger_, options_);
    server_->RegisterRoutes(*router_);
  }

  http::Response Call(http::Request request) {
    std::optional<http::Response> out;
    http::Responder responder([&out](http::Response r, bool) { out = std::move(r); });
    router_->Dispatch(request, responder);
    EXPECT_TRUE(out.has_value());
    return out.value_or(http::Response::Status(599));
  }

  http::Response Get(const std::string& path) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    return Call(std::move(r));
  }

  struct Auth {
    std::string user;
    std::string password;
    std::vector<crypto::Certificate> chain;  // TLS client certificate chain, leaf first
    crypto::Bytes channel_binding;
  };

  static Auth Basic(const std::string& user, const std::string& password) {
    return Auth{user, password, {}, {}};
  }
  static Auth Device() { return Basic("device", kDevicePassword); }
  static Auth Cert(const crypto::Certificate& leaf) { return Auth{"", "", {leaf}, {}}; }

  http::Response PostBody(const std::string& path, const std::string& body, const Auth& auth,
                          bool with_cte = true) {
    http::Request r;
    r.method = "POST";
    r.path = path;
    r.headers.Set("Content-Type", "application/pkcs10");
    if (with_cte) r.headers.Set("Content-Transfer-Encoding", "base64");
    if (!auth.user.empty()) {
      r.headers.Set("Authorization",
                    "Basic " + crypto::Base64Encode(auth.user + ":" + auth.password));
    }
    for (const crypto::Certificate& c : auth.chain) r.client.peer_chain_der.push_back(c.Der());
    r.client.channel_binding = auth.channel_binding;
    r.client.tls_version = "TLS1.3";
    r.body = body;
    return Call(std::move(r));
  }

  http::Response Post(const std::string& label, const std::string& op, const crypto::Csr& csr,
                      const Auth& auth) {
    const std::string path =
        label.empty() ? "/.well-known/est/" + op : "/.well-known/est/" + label + "/" + op;
    return PostBody(path, WrappedBase64(csr.Der()), auth);
  }

  // simpleenroll on `label` that must succeed; returns the leaf.
  crypto::Certificate Enroll(const std::string& label, const crypto::Csr& csr, const Auth& auth) {
    http::Response r = Post(label, "simpleenroll", csr, auth);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<crypto::Certificate> certs = CertsOnly(r.body);
    EXPECT_FALSE(certs.empty());
    return certs.empty() ? *test_ca_ : certs.front();
  }

  size_t EnrollmentCount() {
    auto list = store_->ListEnrollments({});
    return list.ok() ? list->size() : 9999;
  }

  // Enrollments the emulator (SCM) holds, and the request data of the last one.
  int64_t ScmEnrollmentCount(std::string* last_data = nullptr) {
    auto conn = storage::SqliteConnection::Open(dir_ + "/scm/emulator.db");
    EXPECT_TRUE(conn.ok());
    if (!conn.ok()) return -1;
    auto s = (*conn)->Prepare("SELECT COUNT(*) FROM enrollments");
    EXPECT_TRUE(s.ok() && *s->Step());
    int64_t count = s->Int(0);
    if (last_data != nullptr) {
      auto d = (*conn)->Prepare("SELECT data FROM enrollments ORDER BY id DESC LIMIT 1");
      if (d.ok() && *d->Step()) *last_data = d->Text(0);
    }
    return count;
  }

  // Audit records of refusals ("deny").
  int DenialCount() {
    auto audit = store_->ListAudit("", 1000);
    int n = 0;
    if (audit.ok()) {
      for (const AuditRecord& a : *audit) n += a.action == "deny" ? 1 : 0;
    }
    return n;
  }

  std::string dir_;
  Logger logger_{LogLevel::kError};
  SystemClock clock_;
  testing::NullNotifier notifier_;
  testing::IdleScheduler scheduler_;
  std::unique_ptr<storage::SqliteStore> store_;
  testing::EmulatedScm scm_;
  std::shared_ptr<const mapping::MappingSnapshot> snapshot_;
  std::unique_ptr<issuance::IssuanceService> issuance_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<EstServer> server_;
  ServerOptions options_;
  std::string device_hash_;
  std::string alice_hash_;
  std::optional<crypto::Certificate> test_ca_;
  std::optional<crypto::PrivateKey> test_ca_key_;
  std::optional<crypto::Certificate> other_ca_;
  std::optional<crypto::PrivateKey> other_ca_key_;
};

const CsrSpec kDevice{"device-0001", {"device-0001.example.test"}};

// ---- cacerts, csrattrs, fullcmc, labels ----

TEST_F(EstServerTest, CaCertsForTheDefaultLabelAndANamedOne) {
  for (const std::string path : {"/.well-known/est/cacerts", "/.well-known/est/people/cacerts"}) {
    http::Response r = Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(Header(r, "Content-Type"), "application/pkcs7-mime");
    EXPECT_EQ(Header(r, "Content-Transfer-Encoding"), "base64");
    std::vector<crypto::Certificate> certs = CertsOnly(r.body);
    ASSERT_EQ(certs.size(), 1u);
    EXPECT_EQ(certs[0].Pem(), crypto::Certificate::ParsePem(scm_.emulator->ca_pem())->Pem());
  }
  http::Response unknown = Get("/.well-known/est/nope/cacerts");
  ExpectAnswer(unknown, 404, "nope");
  // An account that does not serve EST has no label.
  EXPECT_EQ(Get("/.well-known/est/acme-only/cacerts").status, 404);

  // A label with its own ca_certs_file.
  auto snapshot = std::make_shared<mapping::MappingSnapshot>(*snapshot_);
  std::ofstream(dir_ + "/own-ca.pem") << test_ca_->Pem();
  snapshot->accounts[0].est.ca_certs_file = dir_ + "/own-ca.pem";
  snapshot_ = snapshot;
  std::vector<crypto::Certificate> own = CertsOnly(Get("/.well-known/est/devices/cacerts").body);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0].Der(), test_ca_->Der());

  // No default label: the bare path is 404; no CA configured at all: 501.
  options_.default_label = "";
  options_.default_ca_certs_pem = "";
  MakeServer();
  EXPECT_EQ(Get("/.well-known/est/cacerts").status, 404);
  EXPECT_EQ(Get("/.well-known/est/people/cacerts").status, 501);
}

TEST_F(EstServerTest, CsrAttrsNameTheKeyTypeAndChallengePasswordWhenPopIsLinked) {
  auto attrs = [this](const std::string& label) {
    http::Response r = Get("/.well-known/est/" + label + "/csrattrs");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Header(r, "Content-Type"), "application/csrattrs");
    auto der = crypto::Base64Decode(r.body);
    EXPECT_TRUE(der.ok());
    return der.ok() ? std::string(crypto::AsStringView(*der)) : std::string();
  };
  const std::string p256 = std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
  const std::string challenge = std::string("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07", 11);
  const std::string rsa = std::string("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 11);
  std::string devices = attrs("devices");
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices[0], '\x30');  // SEQUENCE OF AttrOrOID
  EXPECT_NE(devices.find(p256), std::string::npos);
  EXPECT_EQ(devices.find(challenge), std::string::npos);
  EXPECT_NE(attrs("pop").find(challenge), std::string::npos);
  // A profile limited to RSA-2048 asks for rsaEncryption with the size.
  std::string rsa_only = attrs("rsa-only");
  EXPECT_NE(rsa_only.find(rsa + "\x31\x04\x02\x02\x08\x00"), std::string::npos);
  EXPECT_EQ(Get("/.well-known/est/nope/csrattrs").status, 404);
}

TEST_F(EstServerTest, FullCmcIsNotImplemented) {
  http::Response r = PostBody("/.well-known/est/devices/fullcmc", "AAAA", Device());
  ExpectAnswer(r, 501, "simpleenroll");
}

// ---- simpleenroll ----

TEST_F(EstServerTest, SimpleEnrollWithBasicAndTheSameRequestAgainMakesNoSecondEnrollment) {
  crypto::PrivateKey key = NewKey();
  crypto::Csr csr = MakeCsr(kDevice, key);
  http::Response r = Post("devices", "simpleenroll", csr, Device());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Header(r, "Content-Type"), "application/pkcs7-mime; smime-type=certs-only");
  EXPECT_EQ(Header(r, "Content-Transfer-Encoding"), "base64");
  std::vector<crypto::Certificate> certs = CertsOnly(r.body);
  ASSERT_FALSE(certs.empty());
  EXPECT_TRUE(certs[0].Key().Equals(key.Public()));
  EXPECT_EQ(certs[0].Subject().common_name, "device-0001");
  EXPECT_EQ(EnrollmentCount(), 1u);
  EXPECT_EQ(ScmEnrollmentCount(), 1);

  // The same CSR, on the default label path, unwrapped and without Content-Transfer-Encoding.
  http::Response again = PostBody("/.well-known/est/simpleenroll", crypto::Base64Encode(csr.Der()),
                                  Device(), /*with_cte=*/false);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(CertsOnly(again.body)[0].Der(), certs[0].Der());
  EXPECT_EQ(EnrollmentCount(), 1u);
  EXPECT_EQ(ScmEnrollmentCount(), 1);
}

TEST_F(EstServerTest, SimpleEnrollForAPersonLabel) {
  crypto::PrivateKey key = NewKey();
  crypto::Csr csr = MakeCsr({"Alice Example", {}, "alice@example.test", "Alice", "Example"}, key);
  crypto::Certificate leaf = Enroll("people", csr, Basic("alice", kAlicePassword));
  EXPECT_TRUE(leaf.Key().Equals(key.Public()));
  // The device password is not a people password.
  EXPECT_EQ(Post("people", "simpleenroll", csr, Device()).status, 403);
}

TEST_F(EstServerTest, PendingApprovalAnswers202ThenTheCertificateWithOneScmEnrollment) {
  MakeIssuance(std::chrono::milliseconds(0));
  MakeServer();
  crypto::Csr csr = MakeCsr(kDevice, NewKey());
  http::Response r = Post("devices-approval", "simpleenroll", csr, Device());
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_FALSE(Header(r, "Retry-After").empty());
  EXPECT_GE(std::stoi(Header(r, "Retry-After")), 1);
  // Asking again before approval: still 202, still one enrollment.
  EXPECT_EQ(Post("devices-approval", "simpleenroll", csr, Device()).status, 202);
  ASSERT_EQ(EnrollmentCount(), 1u);
  const Enrollment enrollment = store_->ListEnrollments({})->front();

  ASSERT_TRUE(scm_emulator::ApproveInState(dir_ + "/scm", enrollment.scm_id, "ok").ok());
  http::Response done = Post("devices-approval", "simpleenroll", csr, Device());
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(CertsOnly(done.body)[0].Key().Equals(csr.Key()));
  EXPECT_EQ(EnrollmentCount(), 1u);
  EXPECT_EQ(ScmEnrollmentCount(), 1);
}

// ---- authentication ----

TEST_F(EstServerTest, BasicMissingIs401WrongIs403AndNothingIsWritten) {
  crypto::Csr csr = MakeCsr(kDevice, NewKey());
  http::Response missing = Post("devices", "simpleenroll", csr, Auth{});
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(Header(missing, "WWW-Authenticate"), "Basic realm=\"enrollgate EST devices\"");
  http::Response wrong = Post("devices", "simpleenroll", csr, Basic("device", "guess"));
  ExpectAnswer(wrong, 403, "password");
  EXPECT_EQ(Post("devices", "simpleenroll", csr, Basic("nobody", kDevicePassword)).status, 403);
  http::Request malformed;
  malformed.method = "POST";
  malformed.path = "/.well-known/est/devices/simpleenroll";
  malformed.headers.Set("Authorization", "Basic !!!");
  malformed.body = WrappedBase64(csr.Der());
  EXPECT_EQ(Call(malformed).status, 400);
  // The right password after a wrong one (and again, from the verification cache).
  EXPECT_EQ(Post("devices", "simpleenroll", csr, Device()).status, 200);
  EXPECT_EQ(Post("devices", "simpleenroll", csr, Device()).status, 200);
  EXPECT_EQ(EnrollmentCount(), 1u);
}

TEST_F(EstServerTest, ClientCertificateAgainstTheAccountAnchorsAndSubjectPattern) {
  crypto::PrivateKey key = NewKey();
  crypto::Certificate good = IssueByTestCa("dev-42", key);
  crypto::Csr csr = MakeCsr({"dev-42", {"dev-42.example.test"}}, key);
  Enroll("anchors", csr, Cert(good));

  crypto::Certificate untrusted = IssueByTestCa("dev-43", key, /*trusted=*/false);
  http::Response r = Post("anchors", "simpleenroll", csr, Cert(untrusted));
  ExpectAnswer(r, 403, "not trusted");

  crypto::Certificate wrong_subject = IssueByTestCa("printer-1", key);
  r = Post("anchors", "simpleenroll", csr, Cert(wrong_subject));
  ExpectAnswer(r, 403, "printer-1");

  // No certificate on a label that accepts only certificates: 403 saying so.
  r = Post("anchors", "simpleenroll", csr, Auth{});
  ExpectAnswer(r, 403, "client certificate");
  EXPECT_EQ(EnrollmentCount(), 1u);
}

TEST_F(EstServerTest, ACertificateThisGatewayIssuedAuthenticatesItsOwnLabelOnly) {
  crypto::PrivateKey key = NewKey();
  crypto::Certificate issued = Enroll("devices", MakeCsr(kDevice, key), Device());
  // No password needed with the issued certificate.
  crypto::Csr second = MakeCsr({"device-0002", {"device-0002.example.test"}}, NewKey());
  Enroll("devices", second, Cert(issued));
  // Another label's account did not issue it.
  http::Response r = Post("devices-approval", "simpleenroll", second, Cert(issued));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(EnrollmentCount(), 2u);
}

TEST_F(EstServerTest, AMisconfiguredLabelAnswers500WithoutInternals) {
  auto snapshot = std::make_shared<mapping::MappingSnapshot>(*snapshot_);
  for (config::AccountConfig& a : snapshot->accounts) {
    if (a.name == "anchors") a.est.client_cert_anchor_files = {dir_ + "/secret-missing.pem"};
  }
  snapshot_ = snapshot;
  crypto::PrivateKey key = NewKey();
  http::Response r = Post("anchors", "simpleenroll", MakeCsr({"dev-1", {}}, key),
                          Cert(IssueByTestCa("dev-1", key)));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret-missing"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("internal error"), std::string::npos) << r.body;
  // The other labels are not affected; csrattrs needs no files.
  EXPECT_EQ(Get("/.well-known/est/anchors/csrattrs").status, 200);
  Enroll("devices", MakeCsr(kDevice, NewKey()), Device());
}

TEST_F(EstServerTest, AnchorFilesAreReadOncePerMappingSnapshot) {
  crypto::PrivateKey key = NewKey();
  crypto::Certificate cert = IssueByTestCa("dev-7", key);
  Enroll("anchors", MakeCsr({"dev-7", {}}, key), Cert(cert));
  // The file goes away: requests on the same snapshot still have its anchors.
  std::filesystem::remove(dir_ + "/anchors.pem");
  Enroll("anchors", MakeCsr({"dev-7", {}}, NewKey()), Cert(cert));
  // A new snapshot (a reload) reads the files again, and this one is missing.
  snapshot_ = std::make_shared<mapping::MappingSnapshot>(*snapshot_);
  EXPECT_EQ(Post("anchors", "simpleenroll", MakeCsr({"dev-7", {}}, NewKey()), Cert(cert)).status,
            500);
}

// ---- bodies ----

TEST_F(EstServerTest, BadBodiesAreRefusedWithTheirReasonAndWriteNothing) {
  crypto::Csr csr = MakeCsr(kDevice, NewKey());
  const std::string path = "/.well-known/est/devices/simpleenroll";
  http::Response r = PostBody(path, "this is not base64 at all!", Device());
  ExpectAnswer(r, 400, "base64");
  r = PostBody(path, crypto::Base64Encode(std::string("not a CSR")), Device());
  ExpectAnswer(r, 400, "PKCS#10");
  r = PostBody(path, "", Device());
  EXPECT_EQ(r.status, 400);
  // A flipped byte in the signature.
  crypto::Bytes der = csr.Der();
  der[der.size() - 3] ^= 0x01;
  r = PostBody(path, crypto::Base64Encode(der), Device());
  EXPECT_EQ(r.status, 400) << r.body;
  // Over the limit: 413, before anything else.
  r = PostBody(path, std::string(options_.max_body_bytes + 1, 'A'), Auth{});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(server_->BodyTooLarge(10).status, 413);
  // Another media type.
  http::Request json;
  json.method = "POST";
  json.path = path;
  json.headers.Set("Content-Type", "application/json");
  json.headers.Set("Authorization",
                   "Basic " + crypto::Base64Encode(std::string("device:") + kDevicePassword));
  json.body = "{}";
  EXPECT_EQ(Call(json).status, 415);
  EXPECT_EQ(EnrollmentCount(), 0u);
  EXPECT_EQ(ScmEnrollmentCount(), 0);
}

TEST_F(EstServerTest, MappingRefusalsAre400WithTheReasonAndOnlyADenialRecord) {
  // A key type the profile does not allow.
  http::Response r =
      Post("rsa-only", "simpleenroll", MakeCsr(kDevice, NewKey(crypto::KeySpec::kEcP256)), Auth{});
  ExpectAnswer(r, 400, "key type EC-P-256");
  // A name outside the account's names.
  r = Post("devices", "simpleenroll", MakeCsr({"d", {"device.elsewhere.invalid"}}, NewKey()),
           Device());
  ExpectAnswer(r, 400, "device.elsewhere.invalid");
  EXPECT_EQ(EnrollmentCount(), 0u);
  EXPECT_EQ(ScmEnrollmentCount(), 0);
  EXPECT_EQ(DenialCount(), 2);
  // The RSA key it allows.
  Enroll("rsa-only", MakeCsr(kDevice, NewKey(crypto::KeySpec::kRsa2048)), Auth{});
}

// ---- proof of possession linked to TLS ----

TEST_F(EstServerTest, ChallengePasswordMustBeTheChannelBinding) {
  const crypto::Bytes binding = crypto::RandomBytes(32);
  Auth tls{"", "", {}, binding};
  CsrSpec spec = kDevice;
  spec.challenge_password = crypto::Base64Encode(binding);
  Enroll("pop", MakeCsr(spec, NewKey()), tls);

  spec.challenge_password = crypto::Base64Encode(crypto::RandomBytes(32));
  http::Response r = Post("pop", "simpleenroll", MakeCsr(spec, NewKey()), tls);
  ExpectAnswer(r, 400, "channel binding");
  r = Post("pop", "simpleenroll", MakeCsr(kDevice, NewKey()), tls);
  ExpectAnswer(r, 400, "challengePassword");
  // Behind a TLS-terminating proxy there is no channel binding.
  spec.challenge_password = crypto::Base64Encode(binding);
  r = Post("pop", "simpleenroll", MakeCsr(spec, NewKey()), Auth{});
  ExpectAnswer(r, 400, "proxy");
  EXPECT_EQ(EnrollmentCount(), 1u);
}

// ---- simplereenroll ----

TEST_F(EstServerTest, ReenrollWithTheSameKeyAndWithANewKey) {
  crypto::PrivateKey key = NewKey();
  crypto::Certificate first = Enroll("devices", MakeCsr(kDevice, key), Device());

  http::Response same = Post("devices", "simplereenroll", RenewalCsr(first, key), Cert(first));
  ASSERT_EQ(same.status, 200) << same.body;
  crypto::Certificate renewed = CertsOnly(same.body)[0];
  EXPECT_NE(renewed.SerialHex(), first.SerialHex());
  EXPECT_TRUE(renewed.Key().Equals(key.Public()));
  EXPECT_EQ(renewed.Subject(), first.Subject());

  crypto::PrivateKey next = NewKey(crypto::KeySpec::kEcP384);
  http::Response rekey =
      Post("devices", "simplereenroll", RenewalCsr(renewed, next), Cert(renewed));
  ASSERT_EQ(rekey.status, 200) << rekey.body;
  EXPECT_TRUE(CertsOnly(rekey.body)[0].Key().Equals(next.Public()));

  // Each reenroll is an SCM renew of the certificate presented.
  auto enrollments = store_->ListEnrollments({});
  ASSERT_TRUE(enrollments.ok());
  ASSERT_EQ(enrollments->size(), 3u);
  int renewals = 0;
  for (const Enrollment& e : *enrollments) renewals += e.renewal_of.empty() ? 0 : 1;
  EXPECT_EQ(renewals, 2);
}

TEST_F(EstServerTest, ReenrollRefusals) {
  crypto::PrivateKey key = NewKey();
  crypto::Certificate issued = Enroll("devices", MakeCsr(kDevice, key), Device());
  const size_t before = EnrollmentCount();

  // Without the certificate being renewed.
  http::Response r = Post("devices", "simplereenroll", RenewalCsr(issued, key), Device());
  ExpectAnswer(r, 403, "TLS client certificate");
  // A certificate the gateway did not issue.
  crypto::Certificate foreign = IssueByTestCa("device-0001", key);
  r = Post("devices", "simplereenroll", RenewalCsr(issued, key),
           Auth{"device", kDevicePassword, {foreign}, {}});
  EXPECT_EQ(r.status, 403) << r.body;
  // Subject or SANs that differ from the certificate (RFC 7030 §4.2.2).
  r = Post("devices", "simplereenroll", MakeCsr({"device-0002", kDevice.dns}, key), Cert(issued));
  ExpectAnswer(r, 400, "subject");
  r = Post("devices", "simplereenroll", RenewalCsr(issued, key, {"extra.example.test"}),
           Cert(issued));
  ExpectAnswer(r, 400, "extra.example.test");
  EXPECT_EQ(EnrollmentCount(), before);

  // Revoked: refused, also as a credential for simpleenroll.
  ASSERT_TRUE(issuance_->Revoke(issued.SerialHex(), RevocationReason::kKeyCompromise, "test").ok());
  r = Post("devices", "simplereenroll", RenewalCsr(issued, key), Cert(issued));
  ExpectAnswer(r, 403, "revoked");
  r = Post("devices", "simpleenroll", MakeCsr(kDevice, NewKey()), Cert(issued));
  ExpectAnswer(r, 403, "revoked");
  EXPECT_EQ(EnrollmentCount(), before);
}

// ---- serverkeygen ----

TEST_F(EstServerTest, ServerKeygenReturnsAKeyThatMatchesTheCertificateAndTheSameOnARetry) {
  crypto::Csr csr = MakeCsr(kDevice, NewKey());
  http::Response r = Post("devices", "serverkeygen", csr, Device());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Header(r, "Content-Type").rfind("multipart/mixed; boundary=", 0), 0u);
  Multipart parts = ParseMultipart(r);
  ASSERT_EQ(parts.parts.count("application/pkcs8"), 1u) << r.body;
  ASSERT_EQ(parts.parts.count("application/pkcs7-mime; smime-type=certs-only"), 1u) << r.body;
  auto pkcs8 = crypto::Base64Decode(parts.parts["application/pkcs8"]);
  ASSERT_TRUE(pkcs8.ok());
  auto key = crypto::PrivateKey::FromPkcs8Der(*pkcs8);
  ASSERT_TRUE(key.ok());
  std::vector<crypto::Certificate> certs =
      CertsOnly(parts.parts["application/pkcs7-mime; smime-type=certs-only"]);
  ASSERT_FALSE(certs.empty());
  EXPECT_TRUE(certs[0].Key().Equals(key->Public()));
  EXPECT_FALSE(certs[0].Key().Equals(csr.Key()));  // the server's key, not the CSR's
  EXPECT_EQ(certs[0].Subject().common_name, kDevice.cn);

  // The sealed key is in the store, not in clear.
  auto stored = store_->ListEnrollments({});
  ASSERT_EQ(stored->size(), 1u);
  auto sealed = store_->GetServerKey(stored->front().request_key);
  ASSERT_TRUE(sealed.ok() && sealed->has_value());
  const std::string sealed_text(crypto::AsStringView((*sealed)->sealed));
  EXPECT_EQ(sealed_text.find(std::string(crypto::AsStringView(*pkcs8))), std::string::npos);

  // The same request again: the same key and certificate, no second enrollment.
  Multipart again = ParseMultipart(Post("devices", "serverkeygen", csr, Device()));
  EXPECT_EQ(again.parts["application/pkcs8"], parts.parts["application/pkcs8"]);
  EXPECT_EQ(EnrollmentCount(), 1u);
  EXPECT_EQ(ScmEnrollmentCount(), 1);
}

TEST_F(EstServerTest, ServerKeygenAfterApprovalKeepsTheKeyAndRefusalsStoreNone) {
  MakeIssuance(std::chrono::milliseconds(0));
  MakeServer();
  crypto::Csr csr = MakeCsr(kDevice, NewKey());
  http::Response r = Post("devices-approval", "serverkeygen", csr, Device());
  ASSERT_EQ(r.status, 202) << r.body;
  const Enrollment enrollment = store_->ListEnrollments({})->front();
  ASSERT_TRUE(scm_emulator::ApproveInState(dir_ + "/scm", enrollment.scm_id, "ok").ok());
  http::Response done = Post("devices-approval", "serverkeygen", csr, Device());
  ASSERT_EQ(done.status, 200) << done.body;
  Multipart parts = ParseMultipart(done);
  auto key =
      crypto::PrivateKey::FromPkcs8Der(*crypto::Base64Decode(parts.parts["application/pkcs8"]));
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(
      CertsOnly(parts.parts["application/pkcs7-mime; smime-type=certs-only"])[0].Key().Equals(
          key->Public()));

  // A refused request stores no key; without a key-encryption key the operation is off.
  crypto::Csr outside = MakeCsr({"x", {"x.elsewhere.invalid"}}, NewKey());
  EXPECT_EQ(Post("devices", "serverkeygen", outside, Device()).status, 400);
  options_.server_key_kek.clear();
  MakeServer();
  EXPECT_EQ(Post("devices", "serverkeygen", csr, Device()).status, 501);
  EXPECT_EQ(*server_->PurgeServerKeys(), 0);  // the one key is younger than the retention
  EXPECT_EQ(EnrollmentCount(), 1u);
}

// ---- code signing ----

// A code-signing CSR for `key`, carrying an attestation certificate over `attested_key` issued by
// `hsm_ca` (a test "HSM" root) — what a YubiKey's PIV attestation gives.
crypto::Csr AttestedCsr(const crypto::PrivateKey& key, const crypto::PublicKey& attested_key,
                        const crypto::Certificate& hsm_ca, const crypto::PrivateKey& hsm_key) {
  crypto::IssueRequest att;
  att.subject.common_name = "YubiKey PIV Attestation 9c";
  att.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  att.not_after = std::chrono::system_clock::now() + std::chrono::hours(24);
  crypto::Certificate attestation =
      crypto::IssueCertificate(att, attested_key, hsm_key, &hsm_ca).value();
  crypto::CsrRequest req;
  req.subject.common_name = "Alice Example";
  req.subject.email = "alice@example.test";
  req.subject.given_name = "Alice";
  req.subject.surname = "Example";
  req.extra_attributes.push_back({std::string(crypto::kEvidenceAttributeOid),
                                  crypto::EncodeEvidenceAttribute({attestation}).value()});
  return crypto::BuildCsr(req, key).value();
}

TEST_F(EstServerTest, CodeSigningWithAVerifiedAttestationEnrollsAndScmGetsItWithTheHsmType) {
  crypto::PrivateKey key = NewKey();
  crypto::Csr csr = AttestedCsr(key, key.Public(), *test_ca_, *test_ca_key_);
  crypto::Certificate leaf = Enroll("codesign", csr, Basic("alice", kAlicePassword));
  EXPECT_TRUE(leaf.Key().Equals(key.Public()));
  std::string data;
  EXPECT_EQ(ScmEnrollmentCount(&data), 1);
  EXPECT_NE(data.find("\"hsmType\":\"Yubikey\""), std::string::npos) << data;
  EXPECT_NE(data.find("keyAttestation"), std::string::npos) << data;
}

TEST_F(EstServerTest, CodeSigningWithoutAGoodAttestationIsRefusedWithTheReason) {
  const Auth alice = Basic("alice", kAlicePassword);
  crypto::PrivateKey key = NewKey();
  // No attestation at all.
  http::Response r =
      Post("codesign", "simpleenroll",
           MakeCsr({"Alice Example", {}, "alice@example.test", "Alice", "Example"}, key), alice);
  ExpectAnswer(r, 400, "attestation");
  // An attestation over another key.
  r = Post("codesign", "simpleenroll",
           AttestedCsr(key, NewKey().Public(), *test_ca_, *test_ca_key_), alice);
  ExpectAnswer(r, 400, "not the CSR's key");
  // From a root the account does not trust.
  r = Post("codesign", "simpleenroll", AttestedCsr(key, key.Public(), *other_ca_, *other_ca_key_),
           alice);
  ExpectAnswer(r, 400, "trusted HSM root");
  // serverkeygen cannot attest a key it makes.
  r = Post("codesign", "serverkeygen", AttestedCsr(key, key.Public(), *test_ca_, *test_ca_key_),
           alice);
  ExpectAnswer(r, 400, "HSM");
  EXPECT_EQ(EnrollmentCount(), 0u);
  EXPECT_EQ(ScmEnrollmentCount(), 0);
  EXPECT_EQ(DenialCount(), 3);
}

}  // namespace
}  // namespace eg::est
