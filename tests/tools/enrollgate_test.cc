// The enrollgate binary end to end: a real config file and a real SQLite store in a temp
// directory; the command run as a subprocess; its stdout, exit code and the store checked.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "config/config.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/password.h"
#include "issuance/catalog_codec.h"
#include "issuance/request_codec.h"
#include "storage/sqlite_store.h"
#include "tests/daemon/subprocess.h"
#include "tests/mapping/fixtures.h"

namespace eg::tools {
namespace {

using eg::testing::RunProgram;
using eg::testing::RunResult;
using eg::testing::Subprocess;
using eg::testing::TempDir;
using nlohmann::json;

const std::string kBinary = EG_BIN_DIR "/enrollgate";

// Accounts: web (ACME + EAB, SSL, two profiles), open (ACME without EAB), rsa (ACME, SCM profile
// 1003 which SCM lists as RSA only), ghost (ACME, an SCM profile SCM does not list), devices (EST
// label "dev", device certificates).
std::string ConfigJson(const std::string& state_dir, int web_term = 90) {
  return R"({
  "state_dir": ")" +
         state_dir + R"(",
  "server": {"listen_host": "127.0.0.1", "port": 8443, "tls_names": ["localhost"]},
  "scm": {"mode": "embedded"},
  "accounts": [
    {"name": "web", "protocols": ["acme"], "cert_type": "ssl", "organization_id": 1697,
     "department_id": 1698,
     "profiles": [
       {"name": "default", "scm_profile_id": 1001, "term_days": )" +
         std::to_string(web_term) + R"(, "auto_renew": true,
        "auto_renew_days": 21, "is_default": true,
        "custom_fields": [{"name": "Cost center", "value": "CC-42"}],
        "external_requesters": ["pki@example.test"]},
       {"name": "ec-only", "scm_profile_id": 1001, "term_days": 365, "key_types": ["EC-P-256"]}
     ],
     "names": {"dns_suffixes": ["example.test"]},
     "acme": {"eab_required": true, "pre_validated": true}},
    {"name": "open", "protocols": ["acme"], "cert_type": "ssl", "organization_id": 1697,
     "profiles": [{"name": "default", "scm_profile_id": 1001, "term_days": 90}],
     "names": {"allow_any_dns": true},
     "acme": {"eab_required": false, "challenge_types": ["http-01"]}},
    {"name": "rsa", "protocols": ["acme"], "cert_type": "ssl", "organization_id": 1697,
     "profiles": [{"name": "default", "scm_profile_id": 1003, "term_days": 365}],
     "names": {"dns_suffixes": ["example.test"]},
     "acme": {"eab_required": true, "pre_validated": true}},
    {"name": "ghost", "protocols": ["acme"], "cert_type": "ssl", "organization_id": 1697,
     "profiles": [{"name": "default", "scm_profile_id": 9999, "term_days": 90}],
     "names": {"dns_suffixes": ["example.test"]},
     "acme": {"eab_required": true, "pre_validated": true}},
    {"name": "devices", "protocols": ["est"], "cert_type": "device", "organization_id": 1697,
     "profiles": [{"name": "default", "scm_profile_id": 3001, "term_days": 365,
                   "eula_accepted": true}],
     "names": {"dns_suffixes": ["example.test"]},
     "est": {"label": "dev", "auth_none": true}}
  ]
})";
}

class EnrollgateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.path() + "/enrollgate.json";
    testing::WriteTextFile(config_, ConfigJson(dir_.path() + "/var"));
  }

  // Runs enrollgate --config <config> args...; stdout only (stderr separately when asked).
  RunResult Run(std::vector<std::string> args,
                std::vector<std::pair<std::string, std::string>> env = {},
                bool merge_stderr = false) {
    args.insert(args.begin(), {kBinary, "--config", config_});
    env.push_back({"ENROLLGATE_PORT", "9443"});
    env.push_back({"SUDO_USER", "alice"});
    return RunProgram(args, env, merge_stderr);
  }
  RunResult RunMerged(std::vector<std::string> args) { return Run(std::move(args), {}, true); }

  storage::SqliteStore& Store() {
    if (!store_) {
      std::filesystem::create_directories(dir_.path() + "/var");
      auto opened = storage::SqliteStore::Open({dir_.path() + "/var/enrollgate.db", 1});
      EXPECT_TRUE(opened.ok()) << opened.error().ToString();
      store_ = std::move(opened).value();
    }
    return *store_;
  }

  void PublishCatalog() {
    ASSERT_TRUE(Store()
                    .PutMeta(std::string(issuance::kCatalogMetaKey),
                             issuance::EncodeCatalog(mapping::testing::Catalog()),
                             std::chrono::system_clock::now())
                    .ok());
  }

  // A CSR file with these DNS names (CN = the first).
  std::string CsrFile(const std::string& file, crypto::KeySpec spec,
                      const std::vector<std::string>& names) {
    auto key = crypto::PrivateKey::Generate(spec);
    EXPECT_TRUE(key.ok());
    crypto::CsrRequest request;
    request.subject.common_name = names.front();
    request.sans.dns = names;
    auto csr = crypto::BuildCsr(request, *key);
    EXPECT_TRUE(csr.ok());
    const std::string path = dir_.path() + "/" + file;
    testing::WriteTextFile(path, csr->Pem());
    return path;
  }

  json Json(const RunResult& r) {
    json j = json::parse(r.output, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.output;
    return j;
  }

  // An enrollment in `state` (with a certificate when issued) written as the daemon would.
  void SeedEnrollment(const std::string& id, const std::string& account, EnrollmentState state,
                      std::optional<TimePoint> not_after = std::nullopt, bool revoked = false) {
    const TimePoint now = std::chrono::system_clock::now();
    Enrollment e;
    e.id = id;
    e.account = account;
    e.profile = "default";
    e.protocol = "acme";
    e.requester = "acct-1";
    e.request_json = "{}";
    e.idempotency_token = "tok-" + id;
    e.created_at = now;
    e.updated_at = now;
    e.next_poll_at = now;
    AuditRecord audit;
    audit.at = now;
    audit.action = "submit";
    audit.account = account;
    audit.enrollment_id = id;
    auto created = Store().CreateEnrollment(e, audit);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    if (state == EnrollmentState::kIntent) return;
    Enrollment updated = *created;
    updated.state = state;
    updated.scm_id = "scm-" + id;
    if (state == EnrollmentState::kFailed) updated.failure = "SCM declined it";
    CertificateRecord cert;
    if (not_after) {
      cert.serial_hex = "5e" + id;
      cert.enrollment_id = id;
      cert.account = account;
      cert.scm_id = updated.scm_id;
      cert.common_name = id + ".example.test";
      cert.fingerprint_sha256 = "00";
      cert.chain_pem = "-----BEGIN CERTIFICATE-----\n" + id + "\n-----END CERTIFICATE-----\n";
      cert.not_before = now - std::chrono::hours(24);
      cert.not_after = *not_after;
      updated.certificate_serial = cert.serial_hex;
    }
    auto written = Store().UpdateEnrollment(updated, not_after ? &cert : nullptr, nullptr);
    ASSERT_TRUE(written.ok()) << written.error().ToString();
    if (revoked) {
      AuditRecord r = audit;
      r.action = "revoke";
      ASSERT_TRUE(Store().MarkRevoked(cert.serial_hex, now, 1, r).ok());
    }
  }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<storage::SqliteStore> store_;
};

std::string Field(const std::string& output, const std::string& label) {
  std::smatch m;
  const std::regex re("\\n  " + label + " +(\\S+)\\n");
  if (!std::regex_search(output, m, re)) return "";
  return m[1].str();
}

// --- eab ------------------------------------------------------------------------------------

TEST_F(EnrollgateTest, EabCreateListRevokeRoundTrip) {
  RunResult created =
      Run({"eab", "create", "--account", "web", "--email", "ops@example.test", "--expires", "7d"});
  ASSERT_EQ(created.status, 0) << created.output;
  const std::string kid = Field(created.output, "key id");
  const std::string hmac = Field(created.output, "HMAC key");
  ASSERT_FALSE(kid.empty()) << created.output;
  ASSERT_FALSE(hmac.empty()) << created.output;

  // What was printed is what was stored.
  auto stored = Store().GetEab(kid);
  ASSERT_TRUE(stored.ok()) << stored.error().ToString();
  EXPECT_EQ(stored->hmac_key, hmac);
  EXPECT_EQ(stored->account, "web");
  EXPECT_EQ(stored->email, "ops@example.test");
  ASSERT_TRUE(stored->expires_at.has_value());
  const auto lifetime = *stored->expires_at - stored->created_at;
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::hours>(lifetime).count(), 7 * 24);
  auto key = crypto::Base64UrlDecode(hmac);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 32u);

  // The certbot line uses them, with the directory on the ENROLLGATE_PORT port and the
  // embedded CA bundle.
  EXPECT_NE(created.output.find("https://localhost:9443/acme/directory"), std::string::npos);
  const std::string certbot_line =
      "REQUESTS_CA_BUNDLE=" + dir_.path() +
      "/var/ca-bundle.pem certbot certonly --server https://localhost:9443/acme/directory "
      "--eab-kid " +
      kid + " --eab-hmac-key " + hmac +
      " --email ops@example.test --no-eff-email --agree-tos -d www.example.test --standalone";
  EXPECT_NE(created.output.find(certbot_line), std::string::npos) << created.output;

  // Without --email: certbot registers without one.
  RunResult second = Run({"eab", "create", "--account", "web", "--expires", "never"});
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("--register-unsafely-without-email"), std::string::npos);
  EXPECT_NE(second.output.find("expires         never"), std::string::npos);

  RunResult listed = Run({"eab", "list"});
  ASSERT_EQ(listed.status, 0);
  EXPECT_NE(listed.output.find("KEY ID"), std::string::npos);
  EXPECT_NE(listed.output.find(kid), std::string::npos);
  EXPECT_EQ(listed.output.find(hmac), std::string::npos) << "the HMAC key is shown only once";

  RunResult revoked = Run({"eab", "revoke", kid});
  ASSERT_EQ(revoked.status, 0) << revoked.output;
  EXPECT_NE(revoked.output.find("revoked"), std::string::npos);
  EXPECT_TRUE(Store().GetEab(kid)->revoked_at.has_value());

  json list = Json(Run({"eab", "list", "--account", "web", "--json"}));
  ASSERT_EQ(list.size(), 2u);
  for (const auto& c : list) {
    EXPECT_EQ(c["account"], "web");
    EXPECT_FALSE(c.contains("hmac_key"));
    if (c["key_id"] == kid) {
      EXPECT_TRUE(c["revoked_at"].is_string());
      EXPECT_TRUE(c["expires_at"].is_string());
    } else {
      EXPECT_TRUE(c["revoked_at"].is_null());
      EXPECT_TRUE(c["expires_at"].is_null());
    }
  }
  EXPECT_EQ(Json(Run({"eab", "list", "--account", "open", "--json"})).size(), 0u);

  RunResult again = Run({"eab", "revoke", kid});
  EXPECT_EQ(again.status, 0);
  EXPECT_NE(again.output.find("already revoked"), std::string::npos);
  RunResult unknown = RunMerged({"eab", "revoke", "no-such-kid"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("no EAB credential with key id no-such-kid"), std::string::npos);
}

TEST_F(EnrollgateTest, EabCreateRefusesAccountsThatTakeNoInvitation) {
  struct Case {
    std::string account;
    std::string expected;
  };
  const Case cases[] = {
      {"nope", "no enrollment account \"nope\""},
      {"devices", "does not serve ACME (accounts.devices.protocols)"},
      {"open", "accounts.open.acme.eab_required is false"},
  };
  for (const auto& c : cases) {
    RunResult r = RunMerged({"eab", "create", "--account", c.account});
    EXPECT_EQ(r.status, 1) << c.account;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
    if (c.account != "open") {
      EXPECT_NE(r.output.find("ake invitations: web, rsa, ghost"), std::string::npos) << r.output;
    }
  }
  EXPECT_EQ(Store().ListEab("")->size(), 0u);
  EXPECT_EQ(RunMerged({"eab", "create"}).status, 2);
  EXPECT_EQ(RunMerged({"eab", "create", "--account", "web", "--expires", "soon"}).status, 2);
  EXPECT_EQ(RunMerged({"eab", "create", "--account", "web", "--email", "not-an-address"}).status,
            2);
}

// --- mapping explain ------------------------------------------------------------------------

TEST_F(EnrollgateTest, ExplainAllowedWithoutCatalogSaysSoAndUsesTheConfig) {
  RunResult r = Run({"mapping", "explain", "--account", "web", "--identifier", "www.example.test",
                     "--identifier", "api.example.test"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ALLOWED"), std::string::npos);
  EXPECT_NE(r.output.find("SCM profile 1001"), std::string::npos);
  EXPECT_NE(r.output.find("90 days"), std::string::npos);
  EXPECT_NE(r.output.find("on, 21 days before expiration"), std::string::npos);
  EXPECT_NE(r.output.find("Cost center=CC-42"), std::string::npos);
  EXPECT_NE(r.output.find("pki@example.test"), std::string::npos);
  EXPECT_NE(r.output.find("department 1698 (SCM orgId 1698)"), std::string::npos);
  EXPECT_NE(r.output.find("www.example.test, api.example.test"), std::string::npos);
  EXPECT_NE(r.output.find("NOT checked"), std::string::npos);
  EXPECT_NE(r.output.find("start enrollgated once to publish it"), std::string::npos);

  json j = Json(Run(
      {"mapping", "explain", "--account", "web", "--identifier", "www.example.test", "--json"}));
  EXPECT_EQ(j["allowed"], true);
  EXPECT_EQ(j["scm_catalog"]["checked"], false);
  EXPECT_TRUE(j["profile"]["scm_profile_name"].is_null());
  EXPECT_EQ(j["term_days"], 90);
  EXPECT_EQ(j["auto_renew"]["enabled"], true);
  EXPECT_EQ(j["auto_renew"]["days_before_expiration"], 21);
  // A config-only decision does not invent SCM's profile name; and the explain does not write.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/var/enrollgate.db"));
}

TEST_F(EnrollgateTest, ExplainAllowedWithCatalogNamesTheScmProfile) {
  PublishCatalog();
  RunResult r = Run({"mapping", "explain", "--account", "web", "--identifier", "www.example.test"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("SCM profile 1001 'TLS Server'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Checked against SCM's profile listing"), std::string::npos);
  EXPECT_NE(r.output.find("RSA-2048, RSA-3072, RSA-4096, EC-P-256, EC-P-384"), std::string::npos);
  EXPECT_EQ(r.output.find("NOT checked"), std::string::npos);

  json j = Json(Run({"mapping", "explain", "--account", "web", "--profile", "ec-only",
                     "--identifier", "www.example.test", "--json"}));
  EXPECT_EQ(j["allowed"], true);
  EXPECT_EQ(j["scm_catalog"]["checked"], true);
  EXPECT_EQ(j["profile"]["name"], "ec-only");
  EXPECT_EQ(j["profile"]["scm_profile_name"], "TLS Server");
  EXPECT_EQ(j["term_days"], 365);
  EXPECT_EQ(j["auto_renew"]["enabled"], false);
  EXPECT_EQ(j["key_types"], json({"EC-P-256"}));

  // The EST label finds the device account; the CSR gives the names.
  const std::string csr = CsrFile("dev.csr", crypto::KeySpec::kEcP256, {"cam1.example.test"});
  RunResult est = Run({"mapping", "explain", "--est-label", "dev", "--csr", csr});
  ASSERT_EQ(est.status, 0) << est.output;
  EXPECT_NE(est.output.find("enrollment account 'devices' (est)"), std::string::npos);
  EXPECT_NE(est.output.find("'Device Certificate'"), std::string::npos);
  EXPECT_NE(est.output.find("dnsName=cam1.example.test"), std::string::npos);
}

TEST_F(EnrollgateTest, ExplainNamesEveryDenialItCanReach) {
  PublishCatalog();
  const std::string rsa_csr = CsrFile("rsa.csr", crypto::KeySpec::kRsa2048, {"www.example.test"});
  const std::string ec_csr = CsrFile("ec.csr", crypto::KeySpec::kEcP256, {"www.example.test"});
  const std::string other_csr =
      CsrFile("other.csr", crypto::KeySpec::kEcP256, {"www.example.test", "x.example.test"});
  struct Case {
    std::vector<std::string> args;
    std::string reason;
    std::string rule;
    std::string identifier;
  };
  const Case cases[] = {
      {{"--account", "web", "--identifier", "www.other.test"},
       "name_not_allowed",
       "accounts.web.names",
       "www.other.test"},
      {{"--account", "web", "--identifier", "bad..name"},
       "malformed_identifier",
       "accounts.web.names",
       "bad..name"},
      {{"--account", "web", "--profile", "gold", "--identifier", "www.example.test"},
       "unknown_profile",
       "accounts.web.profiles",
       ""},
      {{"--account", "web", "--protocol", "est", "--identifier", "www.example.test"},
       "protocol_not_allowed",
       "accounts.web.protocols",
       ""},
      {{"--account", "web", "--profile", "ec-only", "--csr", rsa_csr},
       "key_type_not_allowed",
       "accounts.web.profiles.ec-only.key_types",
       ""},
      {{"--account", "rsa", "--csr", ec_csr},
       "key_type_not_allowed",
       "SCM profile 1003 keyTypes",
       ""},
      {{"--account", "ghost", "--identifier", "www.example.test"},
       "scm_profile_missing",
       "accounts.ghost.profiles.default.scm_profile_id",
       ""},
      {{"--account", "web", "--identifier", "www.example.test", "--csr", other_csr},
       "csr_mismatch",
       "RFC 8555 §7.4",
       ""},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"mapping", "explain", "--json"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.status, 1) << c.reason << ": " << r.output;
    json j = Json(r);
    EXPECT_EQ(j["allowed"], false) << c.reason;
    EXPECT_EQ(j["denial"]["reason"], c.reason) << r.output;
    EXPECT_EQ(j["denial"]["rule"], c.rule) << r.output;
    EXPECT_EQ(j["denial"]["identifier"], c.identifier) << r.output;
    EXPECT_FALSE(j["denial"]["message"].get<std::string>().empty());
  }
  // The same for people.
  RunResult human =
      Run({"mapping", "explain", "--account", "web", "--identifier", "www.other.test"});
  EXPECT_EQ(human.status, 1);
  EXPECT_NE(human.output.find("DENIED"), std::string::npos);
  EXPECT_NE(human.output.find("reason      name_not_allowed"), std::string::npos);
  EXPECT_NE(human.output.find("rule        accounts.web.names"), std::string::npos);
  EXPECT_NE(human.output.find("identifier  www.other.test"), std::string::npos);
}

TEST_F(EnrollgateTest, ExplainWithoutCatalogDecidesOnTheConfigAlone) {
  // SCM profile 9999 is unknown to SCM, but without SCM's listing nothing says so.
  RunResult ghost =
      Run({"mapping", "explain", "--account", "ghost", "--identifier", "www.example.test"});
  EXPECT_EQ(ghost.status, 0) << ghost.output;
  EXPECT_NE(ghost.output.find("NOT checked"), std::string::npos);
  // The configured key types still decide.
  const std::string rsa_csr = CsrFile("rsa.csr", crypto::KeySpec::kRsa2048, {"www.example.test"});
  json j = Json(Run({"mapping", "explain", "--account", "web", "--profile", "ec-only", "--csr",
                     rsa_csr, "--json"}));
  EXPECT_EQ(j["denial"]["reason"], "key_type_not_allowed");
  EXPECT_EQ(j["scm_catalog"]["checked"], false);
}

TEST_F(EnrollgateTest, ExplainUsageErrors) {
  EXPECT_EQ(RunMerged({"mapping", "explain", "--identifier", "a.example.test"}).status, 2);
  EXPECT_EQ(RunMerged({"mapping", "explain", "--account", "web"}).status, 2);
  EXPECT_EQ(RunMerged({"mapping", "explain", "--account", "web", "--est-label", "dev",
                       "--identifier", "a.example.test"})
                .status,
            2);
  EXPECT_EQ(RunMerged({"mapping", "explain", "--account", "web", "--protocol", "scep",
                       "--identifier", "a.example.test"})
                .status,
            2);
  RunResult unknown = RunMerged({"mapping", "explain", "--account", "nope", "--identifier", "a"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("no enrollment account \"nope\""), std::string::npos);
}

// --- config check ---------------------------------------------------------------------------

TEST_F(EnrollgateTest, ConfigCheckWithAndWithoutCatalog) {
  RunResult plain = RunMerged({"config", "check"});
  EXPECT_EQ(plain.status, 0) << plain.output;
  EXPECT_NE(plain.output.find("NOT checked against SCM"), std::string::npos);
  EXPECT_NE(plain.output.find("\nOK\n"), std::string::npos);

  PublishCatalog();
  // ghost's SCM profile 9999 is not in SCM's listing.
  RunResult checked = RunMerged({"config", "check"});
  EXPECT_EQ(checked.status, 1) << checked.output;
  EXPECT_NE(checked.output.find("accounts.ghost.profiles.default"), std::string::npos)
      << checked.output;
  EXPECT_NE(checked.output.find("NOT OK"), std::string::npos);

  // A term SCM's profile does not offer names the key path and SCM's terms.
  testing::WriteTextFile(config_, ConfigJson(dir_.path() + "/var", 400));
  RunResult term = RunMerged({"config", "check"});
  EXPECT_EQ(term.status, 1);
  EXPECT_NE(term.output.find("accounts.web.profiles.default.term_days"), std::string::npos)
      << term.output;
  EXPECT_NE(term.output.find("397"), std::string::npos) << term.output;
}

TEST_F(EnrollgateTest, ConfigCheckNamesTheKeyPathOfALoadError) {
  std::string text = ConfigJson(dir_.path() + "/var");
  text.replace(text.find("\"term_days\": 365, \"key_types\""), 16, "\"term_days\": \"x\"");
  testing::WriteTextFile(config_, text);
  RunResult r = RunMerged({"config", "check"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("NOT OK"), std::string::npos);
  EXPECT_NE(r.output.find("accounts[0].profiles[1].term_days"), std::string::npos) << r.output;
  // Every other command: a configuration error (2).
  RunResult other = RunMerged({"certs", "list"});
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.output.find("accounts[0].profiles[1].term_days"), std::string::npos);
}

// --- inventory ------------------------------------------------------------------------------

TEST_F(EnrollgateTest, CertsListExpiringFiltersByDate) {
  const TimePoint now = std::chrono::system_clock::now();
  const auto day = std::chrono::hours(24);
  SeedEnrollment("soon", "web", EnrollmentState::kIssued, now + 10 * day + std::chrono::hours(1));
  SeedEnrollment("later", "web", EnrollmentState::kIssued, now + 60 * day);
  SeedEnrollment("gone", "web", EnrollmentState::kIssued, now - day);
  SeedEnrollment("dead", "web", EnrollmentState::kIssued, now + 5 * day, /*revoked=*/true);
  SeedEnrollment("dev", "devices", EnrollmentState::kIssued, now + 20 * day);

  RunResult all = Run({"certs", "list"});
  ASSERT_EQ(all.status, 0) << all.output;
  for (const char* id : {"soon", "later", "gone", "dead", "dev"}) {
    EXPECT_NE(all.output.find(std::string(id) + ".example.test"), std::string::npos) << id;
  }
  EXPECT_NE(all.output.find("expired"), std::string::npos);

  json expiring = Json(Run({"certs", "list", "--expiring", "30d", "--json"}));
  std::vector<std::string> serials;
  for (const auto& c : expiring) serials.push_back(c["serial"]);
  EXPECT_EQ(serials, (std::vector<std::string>{"5egone", "5esoon", "5edev"}));
  EXPECT_EQ(expiring[1]["days_left"], 10);
  EXPECT_EQ(expiring[0]["days_left"], -1);

  json web = Json(Run({"certs", "list", "--expiring", "30d", "--account", "web", "--json"}));
  EXPECT_EQ(web.size(), 2u);
  RunResult human = Run({"certs", "list", "--expiring", "2w", "--account", "web"});
  EXPECT_NE(human.output.find("soon.example.test"), std::string::npos);
  EXPECT_EQ(human.output.find("later.example.test"), std::string::npos);
  EXPECT_EQ(RunMerged({"certs", "list", "--expiring", "30"}).status, 2);
}

TEST_F(EnrollgateTest, EnrollmentsListPending) {
  SeedEnrollment("e-intent", "web", EnrollmentState::kIntent);
  SeedEnrollment("e-submitted", "devices", EnrollmentState::kSubmitted);
  SeedEnrollment("e-issued", "web", EnrollmentState::kIssued,
                 std::chrono::system_clock::now() + std::chrono::hours(24));
  SeedEnrollment("e-failed", "web", EnrollmentState::kFailed);

  RunResult all = Run({"enrollments", "list"});
  ASSERT_EQ(all.status, 0);
  for (const char* id : {"e-intent", "e-submitted", "e-issued", "e-failed"}) {
    EXPECT_NE(all.output.find(id), std::string::npos) << id;
  }
  EXPECT_NE(all.output.find("SCM declined it"), std::string::npos);

  json pending = Json(Run({"enrollments", "list", "--pending", "--json"}));
  std::set<std::string> ids;
  for (const auto& e : pending) ids.insert(e["id"]);
  EXPECT_EQ(ids, (std::set<std::string>{"e-intent", "e-submitted"}));
  json web = Json(Run({"enrollments", "list", "--pending", "--account", "web", "--json"}));
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0]["state"], "intent");
  EXPECT_EQ(web[0]["protocol"], "acme");
}

TEST_F(EnrollgateTest, ListsOnAStoreThatDoesNotExistYetAreEmpty) {
  EXPECT_EQ(Json(Run({"certs", "list", "--json"})).size(), 0u);
  EXPECT_EQ(Json(Run({"enrollments", "list", "--json"})).size(), 0u);
  EXPECT_EQ(Json(Run({"eab", "list", "--json"})).size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/var/enrollgate.db"));
}

// --- enroll ---------------------------------------------------------------------------------

TEST_F(EnrollgateTest, EnrollRecordsAnIntentOnce) {
  const std::string csr = CsrFile("www.csr", crypto::KeySpec::kEcP256, {"www.example.test"});
  RunResult r = Run({"enroll", "--account", "web", "--csr", csr});
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("id: (\\S+)\\n"))) << r.output;
  const std::string id = m[1].str();

  auto e = Store().GetEnrollment(id);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->state, EnrollmentState::kIntent);
  EXPECT_EQ(e->protocol, "admin");
  EXPECT_EQ(e->requester, "alice");
  EXPECT_EQ(e->account, "web");
  EXPECT_EQ(e->profile, "default");
  auto request = issuance::DecodeRequest(e->request_json);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->profile_id, 1001);
  EXPECT_EQ(request->term_days, 90);
  EXPECT_EQ(request->org_id, 1698);
  EXPECT_EQ(request->auto_renew_days, 21);
  EXPECT_EQ(request->common_name, "www.example.test");
  EXPECT_NE(request->csr_pem.find("CERTIFICATE REQUEST"), std::string::npos);
  EXPECT_NE(request->comments.find("alice"), std::string::npos);
  EXPECT_LE(e->next_poll_at, std::chrono::system_clock::now()) << "due for the daemon at once";
  auto audit = Store().ListAudit(id, 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].actor, "admin:alice");

  json pending = Json(Run({"enrollments", "list", "--pending", "--json"}));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["id"], id);

  // The same CSR again: the same enrollment, nothing new.
  RunResult again = Run({"enroll", "--account", "web", "--csr", csr});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("already exists"), std::string::npos);
  EXPECT_NE(again.output.find("id: " + id), std::string::npos);
  EXPECT_EQ(Store().ListEnrollments({})->size(), 1u);

  // Without a daemon, --wait ends with "still pending" (3).
  RunResult waited = Run({"enroll", "--account", "web", "--csr", csr, "--wait", "1s", "--out",
                          dir_.path() + "/never.pem"});
  EXPECT_EQ(waited.status, 3) << waited.output;
  EXPECT_NE(waited.output.find("still intent"), std::string::npos) << waited.output;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/never.pem"));
}

TEST_F(EnrollgateTest, DeniedEnrollWritesNothing) {
  const std::string other = CsrFile("other.csr", crypto::KeySpec::kEcP256, {"www.other.test"});
  RunResult r = RunMerged({"enroll", "--account", "web", "--csr", other});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("DENIED"), std::string::npos);
  EXPECT_NE(r.output.find("name_not_allowed"), std::string::npos);
  const std::string rsa = CsrFile("rsa.csr", crypto::KeySpec::kRsa2048, {"www.example.test"});
  RunResult key = RunMerged({"enroll", "--account", "web", "--profile", "ec-only", "--csr", rsa});
  EXPECT_EQ(key.status, 1) << key.output;
  EXPECT_NE(key.output.find("key_type_not_allowed"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/var/enrollgate.db"))
      << "a denied enroll does not even create the store";
  EXPECT_EQ(RunMerged({"enroll", "--account", "web"}).status, 2);
  EXPECT_EQ(RunMerged({"enroll", "--account", "web", "--csr", rsa, "--out", "x.pem"}).status, 2);
  EXPECT_EQ(RunMerged({"enroll", "--account", "web", "--csr", dir_.path() + "/missing.csr"}).status,
            1);
}

TEST_F(EnrollgateTest, EnrollWaitWritesTheChainOnceTheDaemonCollectsIt) {
  const std::string csr = CsrFile("www.csr", crypto::KeySpec::kEcP256, {"www.example.test"});
  const std::string out = dir_.path() + "/www.pem";
  Subprocess child({kBinary, "--config", config_, "enroll", "--account", "web", "--csr", csr,
                    "--wait", "60s", "--out", out},
                   {{"SUDO_USER", "alice"}});
  ASSERT_TRUE(child.started());
  std::string id;
  while (auto line = child.ReadLine(std::chrono::seconds(30))) {
    if (line->rfind("id: ", 0) == 0) {
      id = line->substr(4);
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  // Play the daemon: SCM issued it.
  auto e = Store().GetEnrollment(id);
  ASSERT_TRUE(e.ok());
  Enrollment issued = *e;
  issued.state = EnrollmentState::kIssued;
  issued.scm_id = "4242";
  CertificateRecord cert;
  cert.serial_hex = "0abc";
  cert.enrollment_id = id;
  cert.account = "web";
  cert.common_name = "www.example.test";
  cert.chain_pem = "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n";
  cert.not_before = std::chrono::system_clock::now();
  cert.not_after = cert.not_before + std::chrono::hours(24 * 90);
  issued.certificate_serial = cert.serial_hex;
  ASSERT_TRUE(Store().UpdateEnrollment(issued, &cert, nullptr).ok());
  EXPECT_EQ(child.Wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(testing::ReadTextFile(out), cert.chain_pem);
}

TEST_F(EnrollgateTest, EnrollWaitReportsAFailure) {
  const std::string csr = CsrFile("www.csr", crypto::KeySpec::kEcP256, {"www.example.test"});
  Subprocess child(
      {kBinary, "--config", config_, "enroll", "--account", "web", "--csr", csr, "--wait", "60s"},
      {}, Subprocess::kPipe);
  ASSERT_TRUE(child.started());
  std::string id;
  while (auto line = child.ReadErrorLine(std::chrono::seconds(30))) {
    if (line->rfind("id: ", 0) == 0) {
      id = line->substr(4);
      break;
    }
  }
  ASSERT_FALSE(id.empty()) << "with the PEM going to stdout, messages go to stderr";
  Enrollment failed = *Store().GetEnrollment(id);
  failed.state = EnrollmentState::kFailed;
  failed.failure = "SCM: -36 invalid term";
  ASSERT_TRUE(Store().UpdateEnrollment(failed, nullptr, nullptr).ok());
  EXPECT_EQ(child.Wait(std::chrono::seconds(30)), 1);
  std::string rest;
  while (auto line = child.ReadErrorLine(std::chrono::seconds(5))) rest += *line + "\n";
  EXPECT_NE(rest.find("SCM: -36 invalid term"), std::string::npos) << rest;
  EXPECT_EQ(child.ReadAll(std::chrono::seconds(5)), "");
}

TEST_F(EnrollgateTest, EstPasswordWritesTheHashTheDaemonLoads) {
  json config = json::parse(ConfigJson(dir_.path() + "/var"));
  json& est = config["accounts"][4]["est"];
  est.erase("auth_none");
  est["basic_users"] = {
      {{"user", "device"}, {"password_hash_file", "hashes/device.pbkdf2"}},
      {{"user", "inline"}, {"password_hash", "pbkdf2-sha256$1000$c2FsdA==$aGFzaA=="}}};
  testing::WriteTextFile(config_, config.dump(2));
  const std::string hash_file = dir_.path() + "/hashes/device.pbkdf2";

  // The file does not exist yet: the command still runs (the configuration only warns).
  RunResult r =
      Run({"est", "password", "--account", "devices", "--user", "device", "--iterations", "1000"});
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(r.output.size(), 33u) << r.output;  // 32 characters and a newline, nothing else
  const std::string password = r.output.substr(0, 32);
  struct stat st {};
  ASSERT_EQ(::stat(hash_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string hash = testing::ReadTextFile(hash_file);
  ASSERT_FALSE(hash.empty());
  hash.pop_back();  // the newline
  EXPECT_EQ(hash.rfind("pbkdf2-sha256$1000$", 0), 0u) << hash;
  auto verified = crypto::VerifyPassword(hash, password);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_TRUE(*verified);

  // The daemon's loader reads it into password_hash.
  auto loaded = config::LoadConfigFile(config_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->accounts[4].est.basic_users[0].password_hash, hash);

  // Again: a new password; the old one no longer matches.
  r = Run({"est", "password", "--account", "devices", "--user", "device", "--iterations", "1000"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.substr(0, 32), password);
  std::string next = testing::ReadTextFile(hash_file);
  next.pop_back();
  EXPECT_FALSE(*crypto::VerifyPassword(next, password));
  EXPECT_TRUE(*crypto::VerifyPassword(next, r.output.substr(0, 32)));
}

TEST_F(EnrollgateTest, EstPasswordRefusals) {
  json config = json::parse(ConfigJson(dir_.path() + "/var"));
  json& est = config["accounts"][4]["est"];
  est.erase("auth_none");
  est["basic_users"] = {
      {{"user", "inline"}, {"password_hash", "pbkdf2-sha256$1000$c2FsdA==$aGFzaA=="}}};
  testing::WriteTextFile(config_, config.dump(2));

  RunResult r = RunMerged({"est", "password", "--account", "devices", "--user", "inline"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("has its hash written in the configuration "
                          "(accounts[4].est.basic_users[0].password_hash)"),
            std::string::npos)
      << r.output;
  r = RunMerged({"est", "password", "--account", "devices", "--user", "nobody"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("has no Basic user \"nobody\""), std::string::npos) << r.output;
  r = RunMerged({"est", "password", "--account", "web", "--user", "device"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("accounts serving EST: devices"), std::string::npos) << r.output;
  r = RunMerged({"est", "password", "--account", "devices"});
  EXPECT_EQ(r.status, 2);
  r = RunMerged(
      {"est", "password", "--account", "devices", "--user", "inline", "--iterations", "10"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--iterations: must be a whole number from 1000"), std::string::npos)
      << r.output;
  r = Run({"est", "password", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("Usage: enrollgate est password --account NAME --user USER"),
            std::string::npos);
  r = Run({"--help"});
  EXPECT_NE(r.output.find("est password"), std::string::npos);
}

}  // namespace
}  // namespace eg::tools
