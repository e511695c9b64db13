#include "tests/acme_conformance/daemon_under_test.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

namespace eg::acme_test {

namespace {

using nlohmann::json;
using testing::ReadTextFile;
using testing::RunProgram;
using testing::Subprocess;
using testing::WriteTextFile;

const std::string kDaemon = EG_BIN_DIR "/enrollgated";
const std::string kAdmin = EG_BIN_DIR "/enrollgate";
constexpr auto kStartDeadline = std::chrono::seconds(90);
constexpr auto kStopDeadline = std::chrono::seconds(30);

const Headers kScmLogin = {{"login", "admin"}, {"password", "admin"}, {"customerUri", "demo"}};

// The tables a request can write (not the used nonces, which every request adds to, nor the audit
// log, where a refusal is recorded on purpose) and, for the ones a background poller also touches,
// only the columns a request would change.
const char* const kFingerprintQuery =
    "SELECT 'acct', * FROM acme_accounts ORDER BY id;"
    "SELECT 'contact', * FROM acme_account_contacts ORDER BY account_id, position;"
    "SELECT 'order', * FROM acme_orders ORDER BY id;"
    "SELECT 'ident', * FROM acme_order_identifiers ORDER BY order_id, position;"
    "SELECT 'authz', * FROM acme_authorizations ORDER BY id;"
    "SELECT 'oa', * FROM acme_order_authorizations ORDER BY order_id, position;"
    "SELECT 'chall', id, status, error FROM acme_challenges ORDER BY id;"
    "SELECT 'enr', id, account, profile, state FROM enrollments ORDER BY id;"
    "SELECT 'cert', serial_hex, revoked_at FROM certificates ORDER BY serial_hex;"
    "SELECT 'eab', * FROM eab_credentials ORDER BY key_id;";

std::unique_ptr<DaemonUnderTest>& Instance() {
  static std::unique_ptr<DaemonUnderTest> instance;
  return instance;
}

std::string& StartError() {
  static std::string error;
  return error;
}

// Starts the daemon before the first test and stops it after the last; a failed start is
// reported by every test that needs the daemon (DaemonUnderTest::Get() is null).
class DaemonEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto started = DaemonUnderTest::Start();
    if (started.ok()) {
      Instance() = std::move(started).value();
    } else {
      StartError() = started.error().ToString();
    }
  }
  void TearDown() override {
    if (Instance() == nullptr) return;
    std::optional<int> status = Instance()->Stop();
    EXPECT_EQ(status, std::optional<int>(0)) << "enrollgated did not stop cleanly:\n"
                                             << Instance()->stderr_text();
    Instance().reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new DaemonEnvironment);

// The shipped embedded config with the test changes the header lists.
Result<json> TestConfig(const std::string& state_dir, int scm_port, int http01_port,
                        int tls_alpn01_port) {
  const std::string text = ReadTextFile(EG_SOURCE_DIR "/config/embedded.json");
  json config = json::parse(text, nullptr, false);
  if (!config.is_object()) return Internal("config/embedded.json is not a JSON object");
  config["state_dir"] = state_dir;
  config["log_level"] = "debug";
  config["server"]["port"] = 0;
  config["scm"]["embedded"] = {{"port", scm_port}};
  json& acme = config["acme"];
  if (!acme.is_object()) acme = json::object();
  acme["validation"]["http01_port"] = http01_port;
  acme["validation"]["tls_alpn01_port"] = tls_alpn01_port;
  acme["validation"]["hosts"] = {{"*", "127.0.0.1"}};
  acme["validation"]["timeout_ms"] = 5000;
  config["issuance"]["poll_initial_ms"] = 200;
  config["issuance"]["poll_max_ms"] = 1000;
  config["issuance"]["poll_tick_ms"] = 200;
  json approval = {
      {"name", "web-approval"},
      {"protocols", {"acme"}},
      {"cert_type", "ssl"},
      {"organization_id", 1697},
      {"profiles",
       {{{"name", "default"}, {"scm_profile_id", 1002}, {"term_days", 365}, {"is_default", true}}}},
      {"names", {{"dns_suffixes", {"example.test"}}}},
      {"acme", {{"eab_required", true}, {"pre_validated", true}}}};
  config["accounts"].push_back(approval);
  return config;
}

}  // namespace

DaemonUnderTest* DaemonUnderTest::Get() { return Instance().get(); }
const std::string& DaemonUnderTest::start_error() { return StartError(); }

Result<std::unique_ptr<DaemonUnderTest>> DaemonUnderTest::Start() {
  std::unique_ptr<DaemonUnderTest> d(new DaemonUnderTest());
  d->state_dir_ = d->dir() + "/state";
  d->config_path_ = d->dir() + "/enrollgate.json";
  const int scm_port = FreePort();
  d->http01_port_ = FreePort();
  d->tls_alpn01_port_ = FreePort();
  if (scm_port == 0 || d->http01_port_ == 0 || d->tls_alpn01_port_ == 0) {
    return Internal("no free port");
  }
  EG_ASSIGN_OR_RETURN(json config,
                      TestConfig(d->state_dir_, scm_port, d->http01_port_, d->tls_alpn01_port_));
  WriteTextFile(d->config_path_, config.dump(2));

  EG_TRY(d->Launch(0));
  d->scm_url_ = "https://127.0.0.1:" + std::to_string(scm_port);
  d->scm_ca_path_ = d->state_dir_ + "/scm-emulator/ca.pem";
  EG_ASSIGN_OR_RETURN(d->scm_, AcmeClient::Create(d->scm_url_, ReadTextFile(d->scm_ca_path_)));
  return d;
}

Result<void> DaemonUnderTest::Launch(int port) {
  stderr_path_ = dir() + "/enrollgated.stderr." + std::to_string(++starts_);
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kDaemon, "--config", config_path_},
      std::vector<std::pair<std::string, std::string>>{{"ENROLLGATE_PORT", std::to_string(port)}},
      stderr_path_);
  if (!process_->started()) return Internal("cannot start " + kDaemon);
  std::optional<std::string> first = process_->ReadLine(kStartDeadline);
  std::smatch m;
  if (!first ||
      !std::regex_search(*first, m, std::regex("listening on (https://127\\.0\\.0\\.1:(\\d+))$"))) {
    return Internal("enrollgated did not start (first line: " + first.value_or("none") +
                    "); stderr:\n" + stderr_text());
  }
  base_url_ = m[1];
  port_ = std::stoi(m[2]);
  std::optional<std::string> second = process_->ReadLine(kStartDeadline);
  const std::string prefix = "CA bundle: ";
  if (!second || second->rfind(prefix, 0) != 0) {
    return Internal("no 'CA bundle:' line (got " + second.value_or("none") + ")");
  }
  ca_bundle_path_ = second->substr(prefix.size());
  return Ok();
}

Result<void> DaemonUnderTest::Restart() {
  std::optional<int> status = Stop();
  if (status != std::optional<int>(0)) {
    return Internal("enrollgated did not stop cleanly (" +
                    (status ? std::to_string(*status) : std::string("killed")) + "):\n" +
                    stderr_text());
  }
  EG_TRY(Launch(port_));
  // The emulator restarted with the daemon: no pooled connection to it survives.
  EG_ASSIGN_OR_RETURN(scm_, AcmeClient::Create(scm_url_, ReadTextFile(scm_ca_path_)));
  return Ok();
}

DaemonUnderTest::~DaemonUnderTest() = default;  // Subprocess kills a daemon still running

std::optional<int> DaemonUnderTest::Stop() {
  if (process_ == nullptr) return std::nullopt;
  process_->Signal(SIGTERM);
  std::optional<int> status = process_->Wait(kStopDeadline);
  process_.reset();
  return status;
}

std::string DaemonUnderTest::ca_bundle_pem() const { return ReadTextFile(ca_bundle_path_); }
std::string DaemonUnderTest::stderr_text() const { return ReadTextFile(stderr_path_); }

std::unique_ptr<AcmeClient> DaemonUnderTest::NewClient() const {
  auto client = AcmeClient::Create(directory_url(), ca_bundle_pem());
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

testing::RunResult DaemonUnderTest::Admin(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kAdmin, "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, {}, /*merge_stderr=*/true);
}

Result<EabCredential> DaemonUnderTest::CreateEab(const std::string& account) const {
  testing::RunResult r = Admin({"eab", "create", "--account", account});
  std::smatch kid, hmac;
  if (r.status != 0 || !std::regex_search(r.output, kid, std::regex("(^|\n) *key id +(\\S+)")) ||
      !std::regex_search(r.output, hmac, std::regex("(^|\n) *HMAC key +(\\S+)"))) {
    return Internal("enrollgate eab create --account " + account + " (exit " +
                    std::to_string(r.status) + "):\n" + r.output);
  }
  return EabCredential{kid[2], hmac[2]};
}

Result<void> DaemonUnderTest::RevokeEab(const std::string& key_id) const {
  testing::RunResult r = Admin({"eab", "revoke", key_id});
  if (r.status != 0) return Internal("enrollgate eab revoke: " + r.output);
  return Ok();
}

Reply DaemonUnderTest::ScmGet(const std::string& path) const {
  return scm_->Get(scm_url_ + path, kScmLogin);
}

Reply DaemonUnderTest::ScmPost(const std::string& path, const json& body) const {
  Headers headers = kScmLogin;
  headers.emplace_back("Content-Type", "application/json");
  return scm_->PostRaw(scm_url_ + path, body.dump(), headers);
}

Result<void> DaemonUnderTest::ScmSwitches(const json& switches) const {
  Headers headers = kScmLogin;
  headers.emplace_back("Content-Type", "application/json");
  Reply r = scm_->PutRaw(scm_url_ + "/_emulator/switches", switches.dump(), headers);
  if (r.status != 204) return Internal("PUT /_emulator/switches: " + r.Describe());
  return Ok();
}

std::vector<json> DaemonUnderTest::ScmSslEnrollments(const std::string& common_name) const {
  std::vector<json> out;
  Reply list = ScmGet("/api/ssl/v1?commonName=" + common_name);
  json rows = list.Json();
  EXPECT_EQ(list.status, 200) << list.Describe();
  if (!rows.is_array()) return out;
  for (const json& row : rows) {
    Reply details = ScmGet("/api/ssl/v1/" + std::to_string(row.value("sslId", 0)));
    EXPECT_EQ(details.status, 200) << details.Describe();
    out.push_back(details.Json());
  }
  return out;
}

json DaemonUnderTest::ScmStats() const { return ScmGet("/_emulator/stats").Json(); }

std::string DaemonUnderTest::Sql(const std::string& query) const {
  testing::RunResult r =
      RunProgram({"/usr/bin/sqlite3", "-readonly", "-separator", "|", db_path(), query}, {},
                 /*merge_stderr=*/true);
  EXPECT_EQ(r.status, 0) << r.output;
  return r.output;
}

std::string DaemonUnderTest::StoreFingerprint() const { return Sql(kFingerprintQuery); }

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Eventually(const std::function<bool()>& done, std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

testing::RunResult RunTool(const std::vector<std::string>& argv,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           std::chrono::steady_clock::duration timeout) {
  testing::TempDir dir;
  const std::string err = dir.path() + "/stderr";
  testing::RunResult result;
  {
    Subprocess p(argv, env, err);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    result.output = p.ReadAll(timeout);
    result.status = p.Wait(deadline - std::chrono::steady_clock::now()).value_or(-1);
  }  // a program still running past the deadline is killed here
  result.output += ReadTextFile(err);
  return result;
}

std::string FindProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

std::unique_ptr<AcmeClient> DaemonTest::Account(const std::string& enrollment_account) {
  auto client = d_->NewClient();
  auto eab = d_->CreateEab(enrollment_account);
  EXPECT_TRUE(eab.ok()) << eab.error().ToString();
  if (client == nullptr || !eab.ok()) return nullptr;
  Reply r = client->NewAccount(*eab);
  EXPECT_EQ(r.status, 201) << r.Describe();
  EXPECT_FALSE(client->kid().empty());
  return client;
}

std::pair<std::string, json> DaemonTest::ReadyOrder(AcmeClient& client, const std::string& name) {
  Reply order = client.NewOrder({name});
  EXPECT_EQ(order.status, 201) << order.Describe();
  const std::string url = order.Header("Location");
  Reply ready = client.PollStatus(url, {"ready", "invalid"}, std::chrono::seconds(30));
  EXPECT_EQ(ready.Json().value("status", ""), "ready") << ready.Describe();
  return {url, ready.Json()};
}

}  // namespace eg::acme_test
