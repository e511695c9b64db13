#include "config/config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "gtest/gtest.h"

namespace eg::config {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

LoadOptions NoSecrets(std::string base = "/base") {
  LoadOptions o;
  o.base_dir = std::move(base);
  o.read_secrets = false;
  return o;
}

// The smallest config with one valid account; tests change one thing in it.
Json Minimal() {
  return Json::parse(R"({
    "accounts": [{
      "name": "a",
      "protocols": ["acme"],
      "cert_type": "ssl",
      "organization_id": 1697,
      "profiles": [{"name": "p", "scm_profile_id": 1001, "term_days": 90}],
      "acme": {"pre_validated": true}
    }]
  })");
}

Json EstAccount(const std::string& name, const std::string& label) {
  Json a = {{"name", name},
            {"protocols", {"est"}},
            {"cert_type", "device"},
            {"organization_id", 1697},
            {"profiles", {{{"name", "p"}, {"scm_profile_id", 3001}, {"term_days", 365}}}},
            {"est", {{"label", label}, {"auth_none", true}}}};
  return a;
}

Result<Config> Load(const Json& j, const LoadOptions& o = NoSecrets()) {
  return LoadConfigJson(j.dump(2), o);
}

// Asserts loading fails with InvalidArgument and a message starting with `prefix`.
void ExpectError(const Result<Config>& r, const std::string& prefix) {
  ASSERT_FALSE(r.ok()) << "expected an error starting with: " << prefix;
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
  EXPECT_EQ(r.error().message().substr(0, prefix.size()), prefix)
      << "full message: " << r.error().message();
}
void ExpectError(const Json& j, const std::string& prefix) { ExpectError(Load(j), prefix); }
void ExpectTextError(std::string_view text, const std::string& prefix) {
  ExpectError(LoadConfigJson(text, NoSecrets()), prefix);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "eg-config-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content, fs::perms perms) {
    std::string p = (fs::path(path_) / name).string();
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << content;
    fs::permissions(p, perms);
    return p;
  }

 private:
  std::string path_;
};

constexpr auto kOwnerOnly = fs::perms::owner_read | fs::perms::owner_write;
const std::string kSource = EG_SOURCE_DIR;

// ---- the shipped configs -----------------------------------------------------------------

TEST(ShippedConfigsTest, EmbeddedJsonLoadsWithPathsUnderTheRepository) {
  auto r = LoadConfigFile(kSource + "/config/embedded.json");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Config& c = *r;
  std::string repo = fs::path(kSource).lexically_normal().string();
  EXPECT_EQ(c.source_path, repo + "/config/embedded.json");
  EXPECT_EQ(c.state_dir, repo + "/var");
  EXPECT_EQ(c.store.sqlite_path, repo + "/var/enrollgate.db");
  EXPECT_EQ(c.scm.embedded.state_dir, repo + "/var/scm-emulator");
  EXPECT_EQ(c.server.ca_bundle_out, repo + "/var/ca-bundle.pem");
  EXPECT_EQ(c.scm.mode, ScmMode::kEmbedded);
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8443);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);

  ASSERT_EQ(c.accounts.size(), 5u);
  const AccountConfig& web = c.accounts[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_TRUE(web.Allows(Protocol::kAcme));
  EXPECT_FALSE(web.Allows(Protocol::kEst));
  EXPECT_EQ(web.cert_type, CertType::kSsl);
  EXPECT_EQ(web.ScmOrgId(), 1697);
  ASSERT_EQ(web.profiles.size(), 1u);
  EXPECT_EQ(web.profiles[0].name, "default");
  EXPECT_EQ(web.profiles[0].scm_profile_id, 1001);
  EXPECT_EQ(web.profiles[0].term_days, 90);
  EXPECT_TRUE(web.profiles[0].auto_renew);
  EXPECT_EQ(web.profiles[0].auto_renew_days, 30);
  EXPECT_TRUE(web.profiles[0].is_default);
  EXPECT_EQ(web.names.dns_suffixes, std::vector<std::string>{"example.test"});
  EXPECT_TRUE(web.acme.pre_validated);
  EXPECT_TRUE(web.acme.eab_required);

  const AccountConfig& open = c.accounts[1];
  EXPECT_EQ(open.name, "web-challenge");
  EXPECT_FALSE(open.acme.eab_required);
  EXPECT_FALSE(open.acme.pre_validated);
  EXPECT_TRUE(open.names.allow_any_dns);
  EXPECT_EQ(open.acme.challenge_types,
            (std::vector<std::string>{"http-01", "dns-01", "tls-alpn-01"}));
  EXPECT_TRUE(open.profiles[0].is_default);  // the only profile is the default

  EXPECT_EQ(c.accounts[2].name, "devices");
  EXPECT_EQ(c.accounts[2].cert_type, CertType::kDevice);
  EXPECT_EQ(c.accounts[2].est.label, "devices");
  EXPECT_EQ(c.accounts[2].profiles[0].scm_profile_id, 3001);
  EXPECT_EQ(c.accounts[2].profiles[0].term_days, 365);
  EXPECT_EQ(c.accounts[3].est.label, "people");
  EXPECT_EQ(c.accounts[3].cert_type, CertType::kClient);
  EXPECT_EQ(c.accounts[3].profiles[0].scm_profile_id, 2001);
  EXPECT_EQ(c.accounts[3].names.email_domains, std::vector<std::string>{"example.test"});
  EXPECT_EQ(c.accounts[4].est.label, "codesign");
  EXPECT_EQ(c.accounts[4].cert_type, CertType::kCodeSigning);
  EXPECT_EQ(c.accounts[4].profiles[0].scm_profile_id, 4001);
  EXPECT_EQ(c.accounts[4].profiles[0].hsm_type, "Yubikey");

  // EST: Basic users whose hashes `enrollgate est password` writes under var/, gateway-issued
  // certificates accepted, `devices` served without a label.
  ASSERT_EQ(c.accounts[2].est.basic_users.size(), 1u);
  EXPECT_EQ(c.accounts[2].est.basic_users[0].user, "device");
  EXPECT_EQ(c.accounts[2].est.basic_users[0].password_hash_file, repo + "/var/est-device.pbkdf2");
  EXPECT_TRUE(c.accounts[2].est.accept_issued_certificates);
  EXPECT_EQ(c.accounts[3].est.basic_users.at(0).user, "person");
  EXPECT_EQ(c.accounts[4].est.basic_users.at(0).user, "signer");
  EXPECT_TRUE(c.accounts[4].code_signing.attestation_anchor_files.empty());
  EXPECT_EQ(c.est.default_label, "devices");
  EXPECT_EQ(c.est.client_cert_header, "X-SSL-Client-Cert");
  EXPECT_TRUE(c.est.trusted_proxies.empty());
  EXPECT_EQ(c.est.max_body_bytes, 65536u);
  EXPECT_EQ(c.est.server_key_kek_file, repo + "/var/est-server-key.kek");
}

TEST(ShippedConfigsTest, EmbeddedJsonNeedsNoSecretsFiles) {
  LoadOptions o;
  o.read_secrets = true;
  auto r = LoadConfigFile(kSource + "/config/embedded.json", o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->scm.auth.password_value.empty());
}

TEST(ShippedConfigsTest, ProductionExamplesLoadWithoutReadingSecrets) {
  auto pw = LoadConfigFile(kSource + "/config/production.example.json", NoSecrets(""));
  ASSERT_TRUE(pw.ok()) << pw.error().ToString();
  EXPECT_EQ(pw->scm.mode, ScmMode::kRemote);
  EXPECT_EQ(pw->scm.base_url, "https://cert-manager.com");
  EXPECT_EQ(pw->scm.auth.mode, ScmAuthMode::kPassword);
  EXPECT_EQ(pw->scm.auth.password_file, "/etc/enrollgate/scm-password");
  EXPECT_TRUE(pw->scm.auth.password_value.empty());
  EXPECT_FALSE(pw->scm.auth.customer_uri.empty());
  EXPECT_FALSE(pw->scm.auth.login.empty());
  EXPECT_EQ(pw->store.sqlite_path, "/var/lib/enrollgate/enrollgate.db");
  ASSERT_FALSE(pw->accounts.empty());
  EXPECT_GT(pw->accounts[0].organization_id, 0);

  auto cert = LoadConfigFile(kSource + "/config/production-certlogin.example.json", NoSecrets(""));
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();
  EXPECT_EQ(cert->scm.auth.mode, ScmAuthMode::kClientCertificate);
  EXPECT_EQ(cert->scm.auth.client_cert_file, "/etc/enrollgate/scm-login.pem");
  EXPECT_EQ(cert->scm.auth.client_key_file, "/etc/enrollgate/scm-login.key");
  EXPECT_TRUE(cert->scm.auth.client_key_pem.empty());
}

// ---- defaults and paths ------------------------------------------------------------------

TEST(ConfigPathsTest, EmptyObjectGivesDefaultsUnderBaseDir) {
  auto r = LoadConfigJson("{}", NoSecrets("/srv/eg"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state_dir, "/srv/eg/var");
  EXPECT_EQ(r->store.sqlite_path, "/srv/eg/var/enrollgate.db");
  EXPECT_EQ(r->scm.embedded.state_dir, "/srv/eg/var/scm-emulator");
  EXPECT_EQ(r->server.ca_bundle_out, "/srv/eg/var/ca-bundle.pem");
  EXPECT_EQ(r->server.port, 8443);
  EXPECT_EQ(r->scm.connect_timeout, std::chrono::milliseconds(5000));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].substr(0, 10), "accounts: ");
}

TEST(ConfigPathsTest, DurationsAndExplicitPaths) {
  Json j = Minimal();
  j["state_dir"] = "/state";
  j["store"] = {{"sqlite_path", "db/x.db"}, {"pool_size", 2}};
  j["server"] = {{"drain_timeout_s", 3}, {"ca_bundle_out", "/out/ca.pem"}, {"port", 0}};
  j["scm"] = {{"connect_timeout_ms", 250}, {"request_timeout_ms", 1500}};
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state_dir, "/state");
  EXPECT_EQ(r->store.sqlite_path, "/base/db/x.db");  // relative to the base, not state_dir
  EXPECT_EQ(r->store.pool_size, 2);
  EXPECT_EQ(r->server.ca_bundle_out, "/out/ca.pem");
  EXPECT_EQ(r->server.port, 0);
  EXPECT_EQ(r->server.drain_timeout, std::chrono::seconds(3));
  EXPECT_EQ(r->scm.connect_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(r->scm.request_timeout, std::chrono::milliseconds(1500));
}

TEST(ConfigPathsTest, FileRelativePathsResolveAgainstItsDirectoryUnlessBaseDirGiven) {
  TempDir tmp;
  std::string file = tmp.Write("sub/eg.json", R"({"state_dir": "st"})", kOwnerOnly);
  auto r = LoadConfigFile(file, NoSecrets(""));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state_dir, tmp.path() + "/sub/st");
  EXPECT_EQ(r->source_path, file);
  auto other = LoadConfigFile(file, NoSecrets("/elsewhere"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->state_dir, "/elsewhere/st");
}

TEST(ConfigPathsTest, JsonWithoutBaseDirResolvesAgainstTheCurrentDirectory) {
  auto r = LoadConfigJson(R"({"state_dir": "st"})", NoSecrets(""));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state_dir, (fs::current_path() / "st").lexically_normal().string());
}

TEST(ConfigPathsTest, MissingConfigFile) {
  ExpectError(LoadConfigFile("/nonexistent/eg.json"),
              "config file: file not readable (/nonexistent/eg.json: No such file or directory)");
}

// ---- secrets -----------------------------------------------------------------------------

Json RemotePassword(const std::string& password_file) {
  Json j = Minimal();
  j["scm"] = {
      {"mode", "remote"},
      {"base_url", "https://scm.example.test/"},
      {"auth", {{"customer_uri", "demo"}, {"login", "admin"}, {"password_file", password_file}}}};
  return j;
}

TEST(ConfigSecretsTest, PasswordFileFirstLineWithoutLineEnd) {
  TempDir tmp;
  tmp.Write("pw", "s3cret\r\nsecond line\n", kOwnerOnly);
  LoadOptions o;
  o.base_dir = tmp.path();
  auto r = Load(RemotePassword("pw"), o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->scm.auth.password_file, tmp.path() + "/pw");
  EXPECT_EQ(r->scm.auth.password_value, "s3cret");
  EXPECT_EQ(r->scm.base_url, "https://scm.example.test");  // trailing slash dropped
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ConfigSecretsTest, WorldReadablePasswordFileIsAWarning) {
  TempDir tmp;
  tmp.Write("pw", "s3cret\n", kOwnerOnly | fs::perms::group_read | fs::perms::others_read);
  LoadOptions o;
  o.base_dir = tmp.path();
  auto r = Load(RemotePassword("pw"), o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->scm.auth.password_value, "s3cret");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].substr(0, 24), "scm.auth.password_file: ");
}

TEST(ConfigSecretsTest, UnreadableOrEmptyPasswordFile) {
  TempDir tmp;
  LoadOptions o;
  o.base_dir = tmp.path();
  ExpectError(Load(RemotePassword("missing"), o), "scm.auth.password_file: file not readable (" +
                                                      tmp.path() +
                                                      "/missing: No such file or directory)");
  tmp.Write("empty", "\n", kOwnerOnly);
  ExpectError(Load(RemotePassword("empty"), o), "scm.auth.password_file: first line of");
  // Without read_secrets the file is not touched.
  EXPECT_TRUE(Load(RemotePassword("missing"), NoSecrets(tmp.path())).ok());
}

TEST(ConfigSecretsTest, ClientCertificateFilesAreReadAsPem) {
  TempDir tmp;
  tmp.Write("c.pem", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", kOwnerOnly);
  tmp.Write("k.pem", "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n", kOwnerOnly);
  tmp.Write("junk", "not pem\n", kOwnerOnly);
  Json j = Minimal();
  j["scm"] = {{"mode", "remote"},
              {"base_url", "https://scm.example.test"},
              {"auth",
               {{"mode", "client_certificate"},
                {"customer_uri", "demo"},
                {"login", "certadmin"},
                {"client_cert_file", "c.pem"},
                {"client_key_file", "k.pem"}}}};
  LoadOptions o;
  o.base_dir = tmp.path();
  auto r = Load(j, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_NE(r->scm.auth.client_cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(r->scm.auth.client_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  j["scm"]["auth"]["client_key_file"] = "junk";
  ExpectError(Load(j, o), "scm.auth.client_key_file: ");
}

TEST(ConfigSecretsTest, SecretValuesInTheConfigAreRejected) {
  Json j = RemotePassword("/pw");
  j["scm"]["auth"]["password"] = "admin";
  ExpectError(j, "scm.auth.password: secrets are not written in the config");
}

// ---- structure errors --------------------------------------------------------------------

TEST(ConfigErrorsTest, UnknownKeysNameTheirPathAndSuggest) {
  ExpectTextError(R"({"sever": {}})", "sever: unknown key (did you mean \"server\"?)");
  ExpectTextError(R"({"server": {"prot": 1}})",
                  "server.prot: unknown key (did you mean \"port\"?)");
  ExpectTextError(R"({"zzzzzz": 1})", "zzzzzz: unknown key");
  Json j = Minimal();
  j["accounts"][0]["profiles"][0]["term_day"] = 90;
  ExpectError(j, "accounts[0].profiles[0].term_day: unknown key (did you mean \"term_days\"?)");
  j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  j["accounts"][1]["est"]["lable"] = "x";
  ExpectError(j, "accounts[1].est.lable: unknown key (did you mean \"label\"?)");
}

TEST(ConfigErrorsTest, WrongTypes) {
  ExpectTextError(R"([])", "(top level): expected an object, got an array");
  ExpectTextError(R"({"server": {"port": "8443"}})",
                  "server.port: expected an integer, got a string");
  ExpectTextError(R"({"server": []})", "server: expected an object, got an array");
  ExpectTextError(R"({"log_level": 1})", "log_level: expected a string, got an integer");
  ExpectTextError(R"({"accounts": {}})", "accounts: expected an array, got an object");
  Json j = Minimal();
  j["accounts"][0]["profiles"][0]["term_days"] = 1.5;
  ExpectError(j, "accounts[0].profiles[0].term_days: expected an integer, got a fractional");
  j = Minimal();
  j["accounts"][0]["profiles"][0]["auto_renew"] = "yes";
  ExpectError(j, "accounts[0].profiles[0].auto_renew: expected a boolean");
  j = Minimal();
  j["accounts"][0]["protocols"] = {"acme", 1};
  ExpectError(j, "accounts[0].protocols[1]: expected a string, got an integer");
}

TEST(ConfigErrorsTest, OutOfRangeNumbers) {
  ExpectTextError(R"({"server": {"port": 70000}})", "server.port: must be between 0 and 65535");
  ExpectTextError(R"({"server": {"port": -1}})", "server.port: must be between 0 and 65535");
  ExpectTextError(R"({"store": {"pool_size": 0}})", "store.pool_size: must be between 1 and");
  ExpectTextError(R"({"scm": {"max_attempts": 0}})", "scm.max_attempts: must be between 1 and 20");
  ExpectTextError(R"({"scm": {"connect_timeout_ms": 0}})",
                  "scm.connect_timeout_ms: must be between");
  Json j = Minimal();
  j["accounts"].push_back(Minimal()["accounts"][0]);
  j["accounts"][1]["name"] = "b";
  j["accounts"][1]["profiles"][0]["term_days"] = 0;
  ExpectError(j, "accounts[1].profiles[0].term_days: must be a positive integer");
  j = Minimal();
  j["accounts"][0]["profiles"][0]["auto_renew_days"] = 400;
  ExpectError(j, "accounts[0].profiles[0].auto_renew_days: must be between 1 and 365");
  j = Minimal();
  j["accounts"][0]["profiles"][0]["auto_renew_days"] = 90;  // not below the 90-day term
  ExpectError(j, "accounts[0].profiles[0].auto_renew_days: must be less than term_days");
  j = Minimal();
  j["accounts"][0]["organization_id"] = -5;
  ExpectError(j, "accounts[0].organization_id: must be a positive integer");
  j = Minimal();
  j["accounts"][0]["organization_id"] = 18446744073709551615u;
  ExpectError(j, "accounts[0].organization_id: must be a positive integer");
}

TEST(ConfigIssuanceTest, DefaultsAndValues) {
  auto c = Load(Minimal());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->issuance.wait_budget, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->issuance.claim_lease, std::chrono::minutes(5));
  EXPECT_EQ(c->issuance.webhook_max_age, std::chrono::hours(24));
  EXPECT_EQ(c->issuance.revocation_check, std::chrono::hours(6));
  EXPECT_EQ(c->issuance.revocation_batch, 16);
  Json j = Minimal();
  j["issuance"] = {
      {"wait_budget_ms", 0},       {"poll_initial_ms", 50},   {"poll_max_ms", 400},
      {"claim_lease_ms", 200000},  {"poll_tick_ms", 100},     {"webhook_timeout_ms", 3000},
      {"webhook_max_age_s", 3600}, {"revocation_check_s", 0}, {"revocation_batch", 1000}};
  c = Load(j);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->issuance.wait_budget, std::chrono::milliseconds(0));
  EXPECT_EQ(c->issuance.poll_initial, std::chrono::milliseconds(50));
  EXPECT_EQ(c->issuance.poll_max, std::chrono::milliseconds(400));
  EXPECT_EQ(c->issuance.claim_lease, std::chrono::milliseconds(200000));
  EXPECT_EQ(c->issuance.poll_tick, std::chrono::milliseconds(100));
  EXPECT_EQ(c->issuance.webhook_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(c->issuance.webhook_max_age, std::chrono::seconds(3600));
  EXPECT_EQ(c->issuance.revocation_check, std::chrono::seconds(0));  // sweep off
  EXPECT_EQ(c->issuance.revocation_batch, 1000);
}

TEST(ConfigIssuanceTest, Errors) {
  ExpectTextError(R"({"issuance": {"poll_tick": 5}})", "issuance.poll_tick: unknown key");
  ExpectTextError(R"({"issuance": {"poll_tick_ms": 1}})", "issuance.poll_tick_ms: must be between");
  ExpectTextError(R"({"issuance": {"revocation_check_s": 604801}})",
                  "issuance.revocation_check_s: must be between");
  ExpectTextError(R"({"issuance": {"revocation_check_s": -1}})",
                  "issuance.revocation_check_s: must be between");
  ExpectTextError(R"({"issuance": {"revocation_batch": 0}})",
                  "issuance.revocation_batch: must be between");
  ExpectTextError(R"({"issuance": {"revocation_batch": 1001}})",
                  "issuance.revocation_batch: must be between");
  ExpectTextError(R"({"issuance": {"poll_initial_ms": 5000, "poll_max_ms": 1000}})",
                  "issuance.poll_max_ms: must not be less than poll_initial_ms");
  // A lease shorter than an SCM call with its retries would let the call be repeated.
  ExpectTextError(R"({"scm": {"request_timeout_ms": 10000, "max_attempts": 3},
                      "issuance": {"claim_lease_ms": 30000}})",
                  "issuance.claim_lease_ms: must be longer than one SCM call with all its retries "
                  "(scm.request_timeout_ms x scm.max_attempts = 30000 ms; got 30000)");
}

TEST(ConfigAcmeTest, DefaultsAndValues) {
  auto c = Load(Minimal());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->acme.public_url, "");
  EXPECT_EQ(c->acme.terms_of_service, "");
  EXPECT_EQ(c->acme.nonce_lifetime, std::chrono::seconds(3600));
  EXPECT_EQ(c->acme.order_lifetime, std::chrono::seconds(604800));
  EXPECT_EQ(c->acme.authz_lifetime, std::chrono::seconds(604800));
  EXPECT_EQ(c->acme.retry_after, std::chrono::seconds(1));
  EXPECT_EQ(c->acme.validation.http01_port, 80);
  EXPECT_EQ(c->acme.validation.tls_alpn01_port, 443);
  EXPECT_EQ(c->acme.validation.dns_server, "");
  EXPECT_TRUE(c->acme.validation.hosts.empty());
  EXPECT_EQ(c->acme.validation.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c->acme.validation.max_attempts, 3);
  EXPECT_EQ(c->acme.validation.workers, 4);

  Json j = Minimal();
  j["acme"] = {{"public_url", "https://acme.example.test:8443/"},
               {"terms_of_service", "https://example.test/tos"},
               {"website", "https://example.test"},
               {"nonce_lifetime_s", 60},
               {"order_lifetime_s", 3600},
               {"authz_lifetime_s", 7200},
               {"retry_after_s", 5},
               {"validation",
                {{"http01_port", 5002},
                 {"tls_alpn01_port", 5001},
                 {"dns_server", "127.0.0.1:5353"},
                 {"hosts", {{"*", "127.0.0.1"}, {"Www.Example.Test", "::1"}}},
                 {"timeout_ms", 2000},
                 {"max_attempts", 1},
                 {"workers", 2}}}};
  c = Load(j);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->acme.public_url, "https://acme.example.test:8443");  // trailing '/' dropped
  EXPECT_EQ(c->acme.terms_of_service, "https://example.test/tos");
  EXPECT_EQ(c->acme.website, "https://example.test");
  EXPECT_EQ(c->acme.nonce_lifetime, std::chrono::seconds(60));
  EXPECT_EQ(c->acme.order_lifetime, std::chrono::seconds(3600));
  EXPECT_EQ(c->acme.authz_lifetime, std::chrono::seconds(7200));
  EXPECT_EQ(c->acme.retry_after, std::chrono::seconds(5));
  EXPECT_EQ(c->acme.validation.http01_port, 5002);
  EXPECT_EQ(c->acme.validation.tls_alpn01_port, 5001);
  EXPECT_EQ(c->acme.validation.dns_server, "127.0.0.1:5353");
  std::map<std::string, std::string> hosts = {{"*", "127.0.0.1"}, {"www.example.test", "::1"}};
  EXPECT_EQ(c->acme.validation.hosts, hosts);
  EXPECT_EQ(c->acme.validation.timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->acme.validation.max_attempts, 1);
  EXPECT_EQ(c->acme.validation.workers, 2);
}

TEST(ConfigAcmeTest, Errors) {
  ExpectTextError(R"({"acme": {"public_uri": ""}})",
                  "acme.public_uri: unknown key (did you mean \"public_url\"?)");
  ExpectTextError(R"({"acme": {"validation": {"timeout": 5}}})",
                  "acme.validation.timeout: unknown key");
  ExpectTextError(R"({"acme": {"public_url": "http://acme.example.test"}})",
                  "acme.public_url: must be an https:// URL");
  ExpectTextError(R"({"acme": {"public_url": "https://a.example.test/?x"}})",
                  "acme.public_url: must not have a query or fragment");
  ExpectTextError(R"({"acme": {"terms_of_service": "tos.html"}})",
                  "acme.terms_of_service: must be an http:// or https:// URL");
  ExpectTextError(R"({"acme": {"website": 7}})", "acme.website: expected a string");
  ExpectTextError(R"({"acme": {"nonce_lifetime_s": 1}})",
                  "acme.nonce_lifetime_s: must be between 10 and 86400");
  ExpectTextError(R"({"acme": {"order_lifetime_s": 10}})",
                  "acme.order_lifetime_s: must be between");
  ExpectTextError(R"({"acme": {"authz_lifetime_s": 1.5}})",
                  "acme.authz_lifetime_s: expected an integer");
  ExpectTextError(R"({"acme": {"retry_after_s": 0}})", "acme.retry_after_s: must be between 1");
  ExpectTextError(R"({"acme": {"validation": {"http01_port": 0}}})",
                  "acme.validation.http01_port: must be between 1 and 65535");
  ExpectTextError(R"({"acme": {"validation": {"tls_alpn01_port": 70000}}})",
                  "acme.validation.tls_alpn01_port: must be between 1 and 65535");
  ExpectTextError(R"({"acme": {"validation": {"dns_server": "ns.example.test:53"}}})",
                  "acme.validation.dns_server: must be \"address:port\"");
  ExpectTextError(R"({"acme": {"validation": {"dns_server": "127.0.0.1"}}})",
                  "acme.validation.dns_server: must be \"address:port\"");
  ExpectTextError(R"({"acme": {"validation": {"hosts": ["a"]}}})",
                  "acme.validation.hosts: expected an object");
  ExpectTextError(R"({"acme": {"validation": {"hosts": {"a.example.test": "nowhere"}}}})",
                  "acme.validation.hosts.a.example.test: must be an IP address");
  ExpectTextError(R"({"acme": {"validation": {"hosts": {"bad name!": "127.0.0.1"}}}})",
                  "acme.validation.hosts.bad name!: the key must be");
  ExpectTextError(R"({"acme": {"validation": {"timeout_ms": 10}}})",
                  "acme.validation.timeout_ms: must be between 100");
  ExpectTextError(R"({"acme": {"validation": {"max_attempts": 0}}})",
                  "acme.validation.max_attempts: must be between 1 and 20");
  ExpectTextError(R"({"acme": {"validation": {"workers": 0}}})",
                  "acme.validation.workers: must be between 1 and 256");
  ExpectTextError(R"({"acme": []})", "acme: expected an object");
}

TEST(ConfigErrorsTest, MissingRequiredKeys) {
  for (const char* key : {"name", "protocols", "cert_type", "organization_id", "profiles"}) {
    Json j = Minimal();
    j["accounts"][0].erase(key);
    ExpectError(j, std::string("accounts[0].") + key + ": missing required key");
  }
  for (const char* key : {"name", "scm_profile_id", "term_days"}) {
    Json j = Minimal();
    j["accounts"][0]["profiles"][0].erase(key);
    ExpectError(j, std::string("accounts[0].profiles[0].") + key + ": missing required key");
  }
  Json j = Minimal();
  j["accounts"][0]["profiles"] = Json::array();
  ExpectError(j, "accounts[0].profiles: must list at least one profile");
}

TEST(ConfigErrorsTest, RemoteModeRequirementsDependOnAuthMode) {
  ExpectTextError(R"({"scm": {"mode": "remote"}})", "scm.base_url: missing required key");
  ExpectTextError(R"({"scm": {"mode": "remote", "base_url": "https://x.test"}})",
                  "scm.auth.customer_uri: missing required key");
  ExpectTextError(R"({"scm": {"mode": "remote", "base_url": "https://x.test",
                  "auth": {"customer_uri": "c", "login": "l"}}})",
                  "scm.auth.password_file: missing required key");
  ExpectTextError(R"({"scm": {"mode": "remote", "base_url": "https://x.test",
                  "auth": {"mode": "client_certificate", "customer_uri": "c", "login": "l",
                           "client_cert_file": "/c.pem"}}})",
                  "scm.auth.client_key_file: missing required key");
  ExpectTextError(R"({"scm": {"mode": "remote", "base_url": "https://x.test",
                  "auth": {"mode": "oauth2", "customer_uri": "c", "oauth_client_id": "id"}}})",
                  "scm.auth.oauth_client_secret_file: missing required key");
  ExpectTextError(R"({"scm": {"mode": "remote", "base_url": "http://x.test"}})",
                  "scm.base_url: must be an https:// URL");
  // Embedded mode needs none of them.
  EXPECT_TRUE(LoadConfigJson(R"({"scm": {"mode": "embedded"}})", NoSecrets()).ok());
}

TEST(ConfigErrorsTest, BadEnums) {
  ExpectTextError(R"({"scm": {"mode": "cloud"}})", "scm.mode: must be \"embedded\" or \"remote\"");
  ExpectTextError(R"({"scm": {"auth": {"mode": "kerberos"}}})", "scm.auth.mode: must be");
  ExpectTextError(R"({"log_level": "verbose"})", "log_level: must be one of");
  ExpectTextError(R"({"store": {"driver": "postgres"}})", "store.driver: must be \"sqlite\"");
  Json j = Minimal();
  j["accounts"][0]["cert_type"] = "smime";
  ExpectError(j, "accounts[0].cert_type: must be \"ssl\", \"client\"");
  j = Minimal();
  j["accounts"][0]["protocols"] = {"scep"};
  ExpectError(j, "accounts[0].protocols[0]: must be \"acme\" or \"est\"");
  j = Minimal();
  j["accounts"][0]["profiles"][0]["key_types"] = {"RSA-1024"};
  ExpectError(j, "accounts[0].profiles[0].key_types[0]: unknown key type");
}

TEST(ConfigErrorsTest, SyntaxErrorsGiveLineAndColumn) {
  ExpectTextError("{\n  \"server\": {\n    \"port\": 8443,\n  }\n}",
                  "line 4, column 3: JSON syntax");
  ExpectTextError("", "line 1, column 1: JSON syntax error");
  ExpectTextError("{\"a\": 1} trailing", "line 1, column 12: JSON syntax error");
}

TEST(ConfigErrorsTest, DuplicateJsonKeys) {
  ExpectTextError(R"({"server": {"port": 1, "port": 2}})", "server.port: duplicate key");
  Json j = Minimal();
  std::string text = j.dump();
  text.replace(text.find("\"term_days\""), 0, "\"term_days\":1,");
  ExpectTextError(text, "accounts[0].profiles[0].term_days: duplicate key");
}

// ---- account rules -----------------------------------------------------------------------

TEST(AccountRulesTest, DuplicateAccountNamesAndLabels) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("a", "x"));
  ExpectError(j, "accounts[1].name: duplicate account name \"a\" (also accounts[0])");
  j = Minimal();
  j["accounts"].push_back(EstAccount("b", "x"));
  j["accounts"].push_back(EstAccount("c", "x"));
  ExpectError(j, "accounts[2].est.label: EST label \"x\" already used by accounts[1]");
  j = Minimal();
  j["accounts"].push_back(EstAccount("b", "simpleenroll"));
  ExpectError(j, "accounts[1].est.label: must be");
  j = Minimal();
  j["accounts"][0]["name"] = "Web Site";
  ExpectError(j, "accounts[0].name: must be");
}

TEST(AccountRulesTest, DefaultProfiles) {
  Json j = Minimal();
  Json second = {{"name", "q"}, {"scm_profile_id", 1002}, {"term_days", 365}};
  j["accounts"][0]["profiles"].push_back(second);
  ExpectError(j, "accounts[0].profiles: several profiles but none");
  j["accounts"][0]["profiles"][0]["is_default"] = true;
  j["accounts"][0]["profiles"][1]["is_default"] = true;
  ExpectError(j, "accounts[0].profiles[1].is_default: a second default profile");
  j["accounts"][0]["profiles"][0]["is_default"] = false;
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->accounts[0].profiles[0].is_default);
  EXPECT_TRUE(r->accounts[0].profiles[1].is_default);
  j["accounts"][0]["profiles"][1]["name"] = "p";
  ExpectError(j, "accounts[0].profiles[1].name: duplicate profile name \"p\"");
}

TEST(AccountRulesTest, NamePolicySyntaxAndLowerCasing) {
  Json j = Minimal();
  j["accounts"][0]["names"] = {{"dns_names", {"WWW.Example.TEST"}},
                               {"dns_suffixes", {"Example.Test"}},
                               {"ip_ranges", {"192.0.2.0/24", "2001:db8::/32"}},
                               {"email_domains", {"Mail.Example.Test"}}};
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[0].names.dns_names[0], "www.example.test");
  EXPECT_EQ(r->accounts[0].names.dns_suffixes[0], "example.test");
  EXPECT_EQ(r->accounts[0].names.email_domains[0], "mail.example.test");

  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.1/8", "300.1.1.1/8", "10.0.0.0", "::1/129", "10.0.0.0/x"}) {
    j["accounts"][0]["names"]["ip_ranges"] = {"127.0.0.0/8", bad};
    ExpectError(j, "accounts[0].names.ip_ranges[1]: not a CIDR range");
  }
  j["accounts"][0]["names"]["ip_ranges"] = Json::array();
  j["accounts"][0]["names"]["dns_names"] = {"ok.test", "bad_name.test"};
  ExpectError(j, "accounts[0].names.dns_names[1]: not a valid DNS name");
  j["accounts"][0]["names"]["dns_names"] = {"*.wild.test"};
  ExpectError(j, "accounts[0].names.dns_names[0]: no wildcards here");
  j["accounts"][0]["names"]["dns_names"] = Json::array();
  j["accounts"][0]["names"]["dns_suffixes"] = {".example.test"};
  ExpectError(j, "accounts[0].names.dns_suffixes[0]: write the name without a leading dot");
}

TEST(AccountRulesTest, AcmeChallengeConsistency) {
  Json j = Minimal();
  j["accounts"][0]["acme"] = {{"pre_validated", true}, {"challenge_types", {"http-01"}}};
  ExpectError(j, "accounts[0].acme.challenge_types: must be empty when pre_validated");
  j["accounts"][0]["acme"] = {{"pre_validated", false}};
  ExpectError(j, "accounts[0].acme.challenge_types: must list at least one");
  j["accounts"][0]["acme"] = {{"pre_validated", false}, {"challenge_types", {"http-02"}}};
  ExpectError(j, "accounts[0].acme.challenge_types[0]: must be \"http-01\"");
  j["accounts"][0]["acme"] = {{"pre_validated", false}, {"challenge_types", {"dns-01", "dns-01"}}};
  ExpectError(j, "accounts[0].acme.challenge_types[1]: listed twice");
  j["accounts"][0]["acme"] = {{"pre_validated", true}, {"eab_required", false}};
  ExpectError(j, "accounts[0].acme.pre_validated: true needs eab_required");
  j["accounts"][0]["acme"] = {{"pre_validated", true}};
  j["accounts"][0]["names"] = {{"allow_any_dns", true}};
  ExpectError(j, "accounts[0].names.allow_any_dns: needs pre_validated false");
  j["accounts"][0]["acme"] = {{"pre_validated", false}, {"challenge_types", {"dns-01"}}};
  EXPECT_TRUE(Load(j).ok());
}

TEST(AccountRulesTest, ProtocolSectionsMatchProtocols) {
  Json j = Minimal();
  j["accounts"][0]["est"] = {{"label", "x"}};
  ExpectError(j, "accounts[0].est: set, but protocols does not include \"est\"");
  j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  j["accounts"][1]["acme"] = {{"pre_validated", true}};
  ExpectError(j, "accounts[1].acme: set, but protocols does not include \"acme\"");
  j["accounts"][1].erase("acme");
  j["accounts"][1].erase("est");
  ExpectError(j, "accounts[1].est: missing required key");
  j["accounts"][1]["est"] = {{"auth_none", true}};
  ExpectError(j, "accounts[1].est.label: missing required key");
  j["accounts"][1] = EstAccount("b", "b");
  j["accounts"][1]["names"] = {{"allow_any_dns", true}};
  ExpectError(j, "accounts[1].names.allow_any_dns: only for protocol \"acme\"");
}

TEST(AccountRulesTest, CertTypeSpecificFields) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  j["accounts"][1]["profiles"][0]["auto_renew"] = true;
  ExpectError(j, "accounts[1].profiles[0].auto_renew: only for cert_type \"ssl\"");
  j["accounts"][1]["profiles"][0].erase("auto_renew");
  j["accounts"][1]["profiles"][0]["hsm_type"] = "Yubikey";
  ExpectError(j, "accounts[1].profiles[0].hsm_type: only for cert_type \"code_signing\"");
  j["accounts"][1]["cert_type"] = "code_signing";
  j["accounts"][1]["profiles"][0]["hsm_type"] = "Yubikee";
  ExpectError(j, "accounts[1].profiles[0].hsm_type: must be one of");
  j["accounts"][1]["profiles"][0]["hsm_type"] = "Marvell/Google";
  EXPECT_TRUE(Load(j).ok());
  j = Minimal();
  j["accounts"][0]["profiles"][0]["external_requesters"] = {"ops@example.test", "nobody"};
  ExpectError(j, "accounts[0].profiles[0].external_requesters[1]: not an email address");
  j = Minimal();
  j["accounts"][0]["profiles"][0]["custom_fields"] = {{{"name", "Cost center"}, {"value", "1"}},
                                                      {{"name", "Cost center"}, {"value", "2"}}};
  ExpectError(j, "accounts[0].profiles[0].custom_fields[1].name: field \"Cost center\" set twice");
  j["accounts"][0]["profiles"][0]["custom_fields"] = {{{"name", "Cost center"}, {"valu", "1"}}};
  ExpectError(j, "accounts[0].profiles[0].custom_fields[0].valu: unknown key");
}

TEST(AccountRulesTest, RemoteCodeSigningNeedsOAuth2Credentials) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("cs", "cs"));
  j["accounts"][1]["cert_type"] = "code_signing";
  j["scm"] = {{"mode", "remote"},
              {"base_url", "https://scm.example.test"},
              {"auth", {{"customer_uri", "c"}, {"login", "l"}, {"password_file", "/pw"}}}};
  ExpectError(j,
              "scm.auth.oauth_client_id: missing required key (accounts[1] is a code_signing "
              "account, and SCM's code-signing API logs in with OAuth2 client credentials only)");
  j["scm"]["auth"]["oauth_client_id"] = "cs-client";
  ExpectError(j, "scm.auth.oauth_client_secret_file: missing required key (accounts[1]");
  j["scm"]["auth"]["oauth_client_secret_file"] = "/cs-secret";
  EXPECT_TRUE(Load(j).ok());
  j["scm"] = {{"mode", "embedded"}};  // the emulator's built-in client
  EXPECT_TRUE(Load(j).ok());
}

TEST(AccountRulesTest, EstAuthentication) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  Json& est = j["accounts"][1]["est"];
  est["auth_none"] = false;
  est["basic_users"] = {
      {{"user", "dev1"}, {"password_hash", "pbkdf2-sha256$600000$c2FsdHNhbHQ=$aGFzaGhhc2g="}}};
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->accounts[1].est.basic_users.size(), 1u);
  EXPECT_EQ(r->accounts[1].est.basic_users[0].user, "dev1");

  est["basic_users"][0]["password_hash"] = "sha1$abc";
  ExpectError(j, "accounts[1].est.basic_users[0].password_hash: expected pbkdf2-sha256$");
  est["basic_users"][0]["password_hash"] = "pbkdf2-sha256$10$c2FsdA==$aGFzaA==";
  ExpectError(j, "accounts[1].est.basic_users[0].password_hash: iteration count");
  est["basic_users"][0]["password_hash"] = "pbkdf2-sha256$600000$c2F!$aGFzaA==";
  ExpectError(j, "accounts[1].est.basic_users[0].password_hash: salt is not base64");
  est["basic_users"][0]["password_hash"] = "pbkdf2-sha256$600000$c2FsdA==$aGFzaA==";
  est["basic_users"][0]["user"] = "a:b";
  ExpectError(j, "accounts[1].est.basic_users[0].user: must not contain ':'");
  est["basic_users"][0]["user"] = "dev1";
  est["auth_none"] = true;
  ExpectError(j, "accounts[1].est.auth_none: true contradicts");
  est.erase("basic_users");
  est["auth_none"] = false;
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].substr(0, 18), "accounts[1].est: n");
  est["client_cert_subject_pattern"] = "^CN=(";
  est["client_cert_anchor_files"] = {"anchors/ca.pem"};
  ExpectError(j, "accounts[1].est.client_cert_subject_pattern: not a valid regular expression");
  est["client_cert_subject_pattern"] = "^CN=.*$";
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[1].est.client_cert_anchor_files[0], "/base/anchors/ca.pem");
  // With read_secrets the anchor file must exist.
  TempDir tmp;
  LoadOptions o;
  o.base_dir = tmp.path();
  ExpectError(Load(j, o), "accounts[1].est.client_cert_anchor_files[0]: file not readable");
}

TEST(AccountRulesTest, EstPasswordHashFile) {
  const std::string kHash = "pbkdf2-sha256$600000$c2FsdHNhbHQ=$aGFzaGhhc2g=";
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  Json& est = j["accounts"][1]["est"];
  est["auth_none"] = false;
  est["basic_users"] = {{{"user", "dev1"}, {"password_hash_file", "hashes/dev1"}}};
  // Without read_secrets the path is resolved and nothing is read.
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[1].est.basic_users[0].password_hash_file, "/base/hashes/dev1");
  EXPECT_EQ(r->accounts[1].est.basic_users[0].password_hash, "");

  // Missing file: a warning naming the key and the command that creates it; no hash.
  TempDir tmp;
  LoadOptions o;
  o.base_dir = tmp.path();
  r = Load(j, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[1].est.basic_users[0].password_hash, "");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].rfind("accounts[1].est.basic_users[0].password_hash_file: ", 0), 0u)
      << r->warnings[0];
  EXPECT_NE(r->warnings[0].find("enrollgate est password --account b --user dev1"),
            std::string::npos)
      << r->warnings[0];

  // Present: read into password_hash (first line).
  tmp.Write("hashes/dev1", kHash + "\n", kOwnerOnly);
  r = Load(j, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[1].est.basic_users[0].password_hash, kHash);
  EXPECT_TRUE(r->warnings.empty());

  // Malformed: an error.
  tmp.Write("hashes/dev1", "secret\n", kOwnerOnly);
  ExpectError(Load(j, o), "accounts[1].est.basic_users[0].password_hash_file: " + tmp.path() +
                              "/hashes/dev1 does not hold a password hash");
  tmp.Write("hashes/dev1", "\n", kOwnerOnly);
  ExpectError(Load(j, o), "accounts[1].est.basic_users[0].password_hash_file: first line");

  // Exactly one of the two.
  est["basic_users"][0]["password_hash"] = kHash;
  ExpectError(j, "accounts[1].est.basic_users[0]: give exactly one of password_hash and");
  est["basic_users"][0].erase("password_hash");
  est["basic_users"][0].erase("password_hash_file");
  ExpectError(j, "accounts[1].est.basic_users[0]: give exactly one of password_hash and");
  est["basic_users"][0]["password_hash_file"] = "";
  ExpectError(j, "accounts[1].est.basic_users[0].password_hash_file: must not be empty");
}

TEST(AccountRulesTest, EstIssuedCertificatesAndCaCerts) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "b"));
  Json& est = j["accounts"][1]["est"];
  auto r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->accounts[1].est.accept_issued_certificates);  // the default
  EXPECT_EQ(r->accounts[1].est.ca_certs_file, "");
  est["accept_issued_certificates"] = false;
  est["ca_certs_file"] = "ca/est.pem";
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->accounts[1].est.accept_issued_certificates);
  EXPECT_EQ(r->accounts[1].est.ca_certs_file, "/base/ca/est.pem");
  EXPECT_EQ(r->accounts[1].est.ca_certs_pem, "");

  TempDir tmp;
  LoadOptions o;
  o.base_dir = tmp.path();
  ExpectError(Load(j, o), "accounts[1].est.ca_certs_file: file not readable");
  tmp.Write("ca/est.pem", "not pem", kOwnerOnly);
  ExpectError(Load(j, o), "accounts[1].est.ca_certs_file: ");
  const std::string pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  tmp.Write("ca/est.pem", pem, kOwnerOnly);
  r = Load(j, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->accounts[1].est.ca_certs_pem, pem);

  // Only issued certificates: loads, with a warning that first enrollments are refused.
  est["auth_none"] = false;
  est["accept_issued_certificates"] = true;
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("only clients holding a certificate this gateway issued"),
            std::string::npos)
      << r->warnings[0];
  est["accept_issued_certificates"] = false;
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_NE(r->warnings.at(0).find("every EST request to this label is refused"),
            std::string::npos);
}

TEST(ConfigEstTest, DefaultsAndValues) {
  auto r = Load(Json::object());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->est.trusted_proxies.empty());
  EXPECT_EQ(r->est.client_cert_header, "X-SSL-Client-Cert");
  EXPECT_EQ(r->est.default_label, "");  // no EST account
  EXPECT_EQ(r->est.server_key_kek_file, "/base/var/est-server-key.kek");
  EXPECT_EQ(r->est.max_body_bytes, 65536u);

  // One EST account: its label is the default; two: none unless named.
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "bee"));
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->est.default_label, "bee");
  j["accounts"].push_back(EstAccount("c", "sea"));
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->est.default_label, "");

  j["est"] = {{"trusted_proxies", {"192.0.2.7/32", "2001:db8::/64"}},
              {"client_cert_header", "X-Client-Cert"},
              {"default_label", "sea"},
              {"server_key_kek_file", "secret/kek"},
              {"max_body_bytes", 4096}};
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->est.trusted_proxies, (std::vector<std::string>{"192.0.2.7/32", "2001:db8::/64"}));
  EXPECT_EQ(r->est.client_cert_header, "X-Client-Cert");
  EXPECT_EQ(r->est.default_label, "sea");
  EXPECT_EQ(r->est.server_key_kek_file, "/base/secret/kek");
  EXPECT_EQ(r->est.max_body_bytes, 4096u);
  // "" given: explicitly no default even with one account.
  j["est"]["default_label"] = "";
  j["accounts"].erase(2);
  r = Load(j);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->est.default_label, "");
}

TEST(ConfigEstTest, Errors) {
  Json j = Minimal();
  j["accounts"].push_back(EstAccount("b", "bee"));
  j["est"] = {{"trusted_proxies", {"192.0.2.7"}}};
  ExpectError(j, "est.trusted_proxies[0]: not a CIDR range: expected ADDRESS/PREFIX");
  j["est"] = {{"trusted_proxies", {"192.0.2.7/24"}}};
  ExpectError(j, "est.trusted_proxies[0]: not a CIDR range: address has bits set");
  j["est"] = {{"client_cert_header", "X SSL"}};
  ExpectError(j, "est.client_cert_header: must be an HTTP header name");
  j["est"] = {{"client_cert_header", ""}};
  ExpectError(j, "est.client_cert_header: must not be empty");
  j["est"] = {{"default_label", "nope"}};
  ExpectError(j, "est.default_label: no account serves EST label \"nope\" (labels: \"bee\")");
  j["est"] = {{"max_body_bytes", 100}};
  ExpectError(j, "est.max_body_bytes: must be between 1024 and");
  j["est"] = {{"max_body_bytes", 300000}};
  ExpectError(j, "est.max_body_bytes: must not exceed server.max_body_bytes (262144)");
  j["server"] = {{"max_body_bytes", 400000}};
  EXPECT_TRUE(Load(j).ok());
  j["est"] = {{"server_key_kek_file", ""}};
  ExpectError(j, "est.server_key_kek_file: must not be empty");
  j["est"] = {{"trusted_proxy", Json::array()}};
  ExpectError(j, "est.trusted_proxy: unknown key (did you mean \"trusted_proxies\"?)");
}

}  // namespace
}  // namespace eg::config
