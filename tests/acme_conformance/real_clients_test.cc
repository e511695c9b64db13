// Real ACME clients from Debian against the running enrollgated (issue 4 acceptance 1-3):
//   - certbot: register with EAB (from `enrollgate eab create --account web`), certonly for a
//     pre-validated name, renew --force-renewal, revoke; certonly --standalone with http-01 for
//     the no-EAB `web-challenge` account;
//   - lego with EAB: run, renew --days 90, revoke; lego with tls-alpn-01 for `web-challenge`;
//   - approval: lego keeps polling the order while SCM waits for its administrator; the test
//     approves through the emulator's REST API; lego then gets the certificate.
// Every client gets its own --config-dir/--path in a temporary directory and trusts the daemon's
// CA bundle (REQUESTS_CA_BUNDLE, LEGO_CA_CERTIFICATES); every run has a deadline and is killed
// when it passes. After each step the emulator is asked what SCM holds for the name.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;
using testing::ReadTextFile;
using testing::RunResult;
using testing::Subprocess;
using testing::TempDir;

constexpr auto kClientTimeout = std::chrono::seconds(60);

std::string LeafSerial(const std::string& pem_path) {
  auto cert = crypto::Certificate::ParsePem(ReadTextFile(pem_path));
  return cert.ok() ? cert->SerialHex() : "";
}

// What the `web` mapping asks SCM for (config/embedded.json): profile 1001, 90 days, auto-renew
// 30 days before expiry.
void ExpectWebMapping(const json& e) {
  EXPECT_EQ(e["certType"].value("id", 0), 1001) << e.dump();
  EXPECT_EQ(e.value("term", 0), 90) << e.dump();
  EXPECT_EQ(e["autoRenewDetails"].value("state", ""), "Scheduled") << e.dump();
  EXPECT_EQ(e["autoRenewDetails"].value("daysBeforeExpiration", 0), 30) << e.dump();
}

// The SCM enrollment whose serial is `serial_hex` (SCM shows colon-separated upper case).
json FindBySerial(const std::vector<json>& enrollments, const std::string& serial_hex) {
  for (const json& e : enrollments) {
    std::string s = e.value("serialNumber", "");
    std::string plain;
    for (char c : s) {
      if (c != ':') plain += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    while (plain.size() > 1 && plain[0] == '0') plain.erase(0, 1);
    std::string want = serial_hex;
    while (want.size() > 1 && want[0] == '0') want.erase(0, 1);
    if (!plain.empty() && plain == want) return e;
  }
  return json();
}

class RealClientTest : public DaemonTest {
 protected:
  // Skips the test (with the reason) when `program` is not installed.
  std::string Require(const std::string& program) {
    std::string path = FindProgram(program);
    if (path.empty()) {
      missing_ = program + " is not installed (scripts/test installs it from scripts/packages.txt)";
    }
    return path;
  }

  std::vector<std::string> CertbotDirs(const std::string& base) {
    return {"--config-dir", base + "/config", "--work-dir",
            base + "/work", "--logs-dir",     base + "/logs"};
  }

  RunResult Certbot(const std::string& certbot, std::vector<std::string> args,
                    const std::string& base) {
    std::vector<std::string> argv = {certbot};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& a : CertbotDirs(base)) argv.push_back(a);
    return RunTool(argv, {{"REQUESTS_CA_BUNDLE", d_->ca_bundle_path()}}, kClientTimeout);
  }

  std::vector<std::string> LegoArgs(const std::string& path, const std::string& domain) {
    return {"--server",
            d_->directory_url(),
            "--accept-tos",
            "--email",
            "ops@example.test",
            "--path",
            path,
            "--domains",
            domain,
            "--http",
            "--http.port",
            "127.0.0.1:" + std::to_string(d_->http01_port()),
            "--cert.timeout",
            "60"};
  }

  std::vector<std::pair<std::string, std::string>> LegoEnv() {
    return {{"LEGO_CA_CERTIFICATES", d_->ca_bundle_path()}};
  }

  std::string missing_;
};

TEST_F(RealClientTest, CertbotRegistersWithEabIssuesRenewsAndRevokes) {
  const std::string certbot = Require("certbot");
  if (certbot.empty()) GTEST_SKIP() << missing_;
  TempDir dir;
  const std::string name = "certbot-web.example.test";
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();

  RunResult reg = Certbot(
      certbot,
      {"register", "-n", "--agree-tos", "-m", "ops@example.test", "--server", d_->directory_url(),
       "--eab-kid", eab->key_id, "--eab-hmac-key", eab->hmac_key_b64url},
      dir.path());
  ASSERT_EQ(reg.status, 0) << reg.output;
  // The binding is recorded: the key id is bound to an ACME account now.
  const std::string bound_to =
      d_->Sql("SELECT bound_to FROM eab_credentials WHERE key_id='" + eab->key_id + "'");
  EXPECT_GT(bound_to.size(), 1u) << "EAB key id not bound: '" << bound_to << "'";

  // certonly for a pre-validated name: no challenge, so standalone never binds its port.
  RunResult issue = Certbot(certbot,
                            {"certonly", "-n", "--server", d_->directory_url(), "--standalone",
                             "--http-01-port", std::to_string(d_->http01_port()), "-d", name},
                            dir.path());
  ASSERT_EQ(issue.status, 0) << issue.output;
  const std::string cert_pem = dir.path() + "/config/live/" + name + "/cert.pem";
  const std::string first_serial = LeafSerial(cert_pem);
  ASSERT_FALSE(first_serial.empty()) << ReadTextFile(cert_pem);
  std::vector<json> scm = d_->ScmSslEnrollments(name);
  ASSERT_EQ(scm.size(), 1u);
  ExpectWebMapping(scm[0]);
  EXPECT_FALSE(FindBySerial(scm, first_serial).is_null()) << scm[0].dump();

  // renew --force-renewal: a new certificate through SCM, mapped the same way.
  RunResult renew = Certbot(certbot,
                            {"renew", "-n", "--force-renewal", "--no-random-sleep-on-renew",
                             "--server", d_->directory_url()},
                            dir.path());
  ASSERT_EQ(renew.status, 0) << renew.output;
  const std::string second_serial = LeafSerial(cert_pem);
  ASSERT_FALSE(second_serial.empty());
  EXPECT_NE(second_serial, first_serial);
  scm = d_->ScmSslEnrollments(name);
  EXPECT_GE(scm.size(), 2u);
  json renewed = FindBySerial(scm, second_serial);
  ASSERT_FALSE(renewed.is_null()) << "SCM has no certificate with serial " << second_serial;
  ExpectWebMapping(renewed);

  // revoke: SCM shows the certificate revoked.
  RunResult revoke = Certbot(certbot,
                             {"revoke", "-n", "--server", d_->directory_url(), "--cert-name", name,
                              "--reason", "keycompromise", "--no-delete-after-revoke"},
                             dir.path());
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  json revoked = FindBySerial(d_->ScmSslEnrollments(name), second_serial);
  EXPECT_EQ(revoked.value("status", ""), "Revoked") << revoked.dump();
  EXPECT_EQ(revoked.value("reasonCode", -1), 1) << "keyCompromise: " << revoked.dump();
}

TEST_F(RealClientTest, CertbotStandaloneHttp01ForTheChallengeAccount) {
  const std::string certbot = Require("certbot");
  if (certbot.empty()) GTEST_SKIP() << missing_;
  TempDir dir;
  const std::string name = "certbot-http01.example.test";
  // No EAB: the account lands on `web-challenge`, which proves names with http-01. The daemon's
  // validator connects to 127.0.0.1:http01_port, where certbot --standalone listens.
  RunResult issue =
      Certbot(certbot,
              {"certonly", "-n", "--agree-tos", "-m", "ops@example.test", "--server",
               d_->directory_url(), "--standalone", "--http-01-port",
               std::to_string(d_->http01_port()), "--http-01-address", "127.0.0.1", "-d", name},
              dir.path());
  ASSERT_EQ(issue.status, 0) << issue.output << "\n--- daemon log tail:\n"
                             << d_->stderr_text().substr(d_->stderr_text().size() > 4000
                                                             ? d_->stderr_text().size() - 4000
                                                             : 0);
  const std::string serial = LeafSerial(dir.path() + "/config/live/" + name + "/cert.pem");
  ASSERT_FALSE(serial.empty());
  std::vector<json> scm = d_->ScmSslEnrollments(name);
  ASSERT_EQ(scm.size(), 1u);
  // `web-challenge` maps to profile 1001 for 90 days, without auto-renewal.
  EXPECT_EQ(scm[0]["certType"].value("id", 0), 1001) << scm[0].dump();
  EXPECT_EQ(scm[0].value("term", 0), 90) << scm[0].dump();
  EXPECT_NE(scm[0]["autoRenewDetails"].value("state", ""), "Scheduled") << scm[0].dump();
  // The challenge was really validated over HTTP.
  EXPECT_NE(d_->Sql("SELECT count(*) FROM acme_challenges WHERE type='http-01' AND "
                    "status='valid'"),
            "0\n");
}

TEST_F(RealClientTest, LegoTlsAlpn01ForTheChallengeAccount) {
  const std::string lego = Require("lego");
  if (lego.empty()) GTEST_SKIP() << missing_;
  TempDir dir;
  const std::string name = "lego-alpn.example.test";
  // No EAB: `web-challenge`. lego answers tls-alpn-01 (RFC 8737) where the validator connects
  // (acme.validation.tls_alpn01_port on 127.0.0.1).
  RunResult r =
      RunTool({lego, "--server", d_->directory_url(), "--accept-tos", "--email", "ops@example.test",
               "--path", dir.path(), "--domains", name, "--tls", "--tls.port",
               "127.0.0.1:" + std::to_string(d_->tls_alpn01_port()), "--cert.timeout", "60", "run"},
              LegoEnv(), kClientTimeout);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string serial = LeafSerial(dir.path() + "/certificates/" + name + ".crt");
  ASSERT_FALSE(serial.empty());
  json e = FindBySerial(d_->ScmSslEnrollments(name), serial);
  EXPECT_EQ(e["certType"].value("id", 0), 1001) << e.dump();
  EXPECT_EQ(e.value("term", 0), 90) << e.dump();
  EXPECT_NE(d_->Sql("SELECT count(*) FROM acme_challenges WHERE type='tls-alpn-01' AND "
                    "status='valid'"),
            "0\n");
}

TEST_F(RealClientTest, LegoWithEabRunsRenewsAndRevokes) {
  const std::string lego = Require("lego");
  if (lego.empty()) GTEST_SKIP() << missing_;
  TempDir dir;
  const std::string name = "lego-web.example.test";
  auto eab = d_->CreateEab("web");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  // lego wants the EAB flags on every command when the directory says EAB is required, and
  // ignores them once its account exists.
  std::vector<std::string> base = {lego};
  for (const auto& a : LegoArgs(dir.path(), name)) base.push_back(a);
  for (const std::string& a : {std::string("--eab"), std::string("--kid"), eab->key_id,
                               std::string("--hmac"), eab->hmac_key_b64url}) {
    base.push_back(a);
  }

  std::vector<std::string> run = base;
  run.push_back("run");
  RunResult r = RunTool(run, LegoEnv(), kClientTimeout);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string crt = dir.path() + "/certificates/" + name + ".crt";
  const std::string first_serial = LeafSerial(crt);
  ASSERT_FALSE(first_serial.empty()) << ReadTextFile(crt);
  std::vector<json> scm = d_->ScmSslEnrollments(name);
  ASSERT_EQ(scm.size(), 1u);
  ExpectWebMapping(scm[0]);

  // renew --days 90: a 90-day certificate always has fewer days left, so this forces it.
  std::vector<std::string> renew = base;
  for (const char* a : {"renew", "--days", "90", "--no-random-sleep"}) renew.push_back(a);
  r = RunTool(renew, LegoEnv(), kClientTimeout);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string second_serial = LeafSerial(crt);
  EXPECT_NE(second_serial, first_serial) << r.output;
  json renewed = FindBySerial(d_->ScmSslEnrollments(name), second_serial);
  ASSERT_FALSE(renewed.is_null()) << "SCM has no certificate with serial " << second_serial;
  ExpectWebMapping(renewed);

  std::vector<std::string> revoke = base;
  for (const char* a : {"revoke", "--keep"}) revoke.push_back(a);
  r = RunTool(revoke, LegoEnv(), kClientTimeout);
  ASSERT_EQ(r.status, 0) << r.output;
  json revoked = FindBySerial(d_->ScmSslEnrollments(name), second_serial);
  EXPECT_EQ(revoked.value("status", ""), "Revoked") << revoked.dump();
}

TEST_F(RealClientTest, ApprovalKeepsTheClientPollingUntilApproved) {
  const std::string lego = Require("lego");
  if (lego.empty()) GTEST_SKIP() << missing_;
  TempDir dir;
  const std::string name = "approve-me.example.test";
  // `web-approval` maps to SCM profile 1002, which needs an administrator's approval.
  auto eab = d_->CreateEab("web-approval");
  ASSERT_TRUE(eab.ok()) << eab.error().ToString();
  std::vector<std::string> argv = {lego};
  for (const auto& a : LegoArgs(dir.path(), name)) argv.push_back(a);
  for (const std::string& a : {std::string("--eab"), std::string("--kid"), eab->key_id,
                               std::string("--hmac"), eab->hmac_key_b64url, std::string("run")}) {
    argv.push_back(a);
  }
  const std::string lego_log = dir.path() + "/lego.stderr";
  Subprocess client(argv, LegoEnv(), lego_log);
  ASSERT_TRUE(client.started());

  // Wait until SCM holds the enrollment, waiting for approval, and the ACME order is processing.
  int64_t scm_id = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        std::vector<json> scm = d_->ScmSslEnrollments(name);
        if (scm.size() != 1) return false;
        scm_id = scm[0].value("id", int64_t{0});
        return true;
      },
      std::chrono::seconds(30)))
      << "no SCM enrollment for " << name << "; lego:\n"
      << ReadTextFile(lego_log);
  ASSERT_TRUE(Eventually(
      [&] {
        return d_->Sql(
                   "SELECT count(*) FROM acme_orders o JOIN acme_order_identifiers i ON "
                   "i.order_id = o.id WHERE i.value='" +
                   name + "' AND o.status='processing'") == "1\n";
      },
      std::chrono::seconds(30)))
      << d_->Sql("SELECT status FROM acme_orders");
  std::vector<json> pending = d_->ScmSslEnrollments(name);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["certType"].value("id", 0), 1002) << pending[0].dump();
  EXPECT_EQ(pending[0].value("term", 0), 365) << pending[0].dump();
  EXPECT_NE(pending[0].value("status", ""), "Issued") << pending[0].dump();
  // lego is still polling: it has neither given up nor got a certificate.
  ASSERT_FALSE(client.Wait(std::chrono::milliseconds(0)).has_value())
      << "lego stopped before approval:\n"
      << ReadTextFile(lego_log);

  Reply approved =
      d_->ScmPost("/api/ssl/v1/approve/" + std::to_string(scm_id), {{"message", "ok"}});
  ASSERT_TRUE(approved.status == 200 || approved.status == 204) << approved.Describe();

  std::optional<int> status = client.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << "lego still running a minute after approval:\n"
                                  << ReadTextFile(lego_log);
  ASSERT_EQ(*status, 0) << ReadTextFile(lego_log);
  const std::string serial = LeafSerial(dir.path() + "/certificates/" + name + ".crt");
  ASSERT_FALSE(serial.empty());
  json issued = FindBySerial(d_->ScmSslEnrollments(name), serial);
  EXPECT_EQ(issued.value("status", ""), "Issued") << issued.dump();
}

}  // namespace
}  // namespace eg::acme_test
