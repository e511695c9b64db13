// The issuance service inside the real daemon, against the SCM emulator as its own process over
// HTTPS (scm.mode "remote", as production runs against SCM), with enrollments submitted by the
// real `enrollgate enroll` command and webhooks received by a real local HTTP listener:
//   - approval: pending → webhook "pending_approval" → approve in SCM → collected, stored,
//     webhook "issued";
//   - SIGKILL after SCM accepted and before collection; SIGKILL (failpoint) between SCM's reply
//     and recording its id; SIGKILL (failpoint) before SCM was called — each completes after a
//     restart with exactly one enrollment in SCM;
//   - a configuration SCM would reject stops the start, naming the key path and SCM's rule;
//     SIGHUP reloads a good configuration and refuses a bad one without stopping.
// The test process reads the daemon's SQLite file directly (a second reader, as a second daemon
// would be) to wait for states; every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/x509.h"
#include "storage/sqlite_store.h"
#include "tests/daemon/subprocess.h"
#include "tests/daemon/test_pki.h"
#include "tests/daemon/webhook_receiver.h"

namespace eg {
namespace {

using eg::testing::ReadTextFile;
using eg::testing::ReceivedRequest;
using eg::testing::RunProgram;
using eg::testing::Subprocess;
using eg::testing::TempDir;
using eg::testing::WebhookReceiver;
using eg::testing::WriteTextFile;
using nlohmann::json;

const std::string kDaemon = EG_BIN_DIR "/enrollgated";
const std::string kAdmin = EG_BIN_DIR "/enrollgate";
const std::string kEmulator = EG_BIN_DIR "/enrollgate-scm-emulator";
constexpr auto kDeadline = std::chrono::seconds(60);

// Polls `done` until it holds or the deadline passes (the store is another process's file: there
// is nothing to wait on but the file itself).
bool Eventually(const std::function<bool()>& done,
                std::chrono::steady_clock::duration timeout = kDeadline) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<std::string> Events(const std::vector<ReceivedRequest>& requests) {
  std::vector<std::string> events;
  for (const ReceivedRequest& r : requests) {
    json body = json::parse(r.body, nullptr, false);
    events.push_back(body.is_object() ? body.value("event", "?") : "unparsable");
  }
  return events;
}

class IssuanceE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator_state_ = dir_.path() + "/scm";
    state_ = dir_.path() + "/state";
    config_ = dir_.path() + "/enrollgate.json";
    emulator_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kEmulator, "--listen", "127.0.0.1:0", "--state", emulator_state_},
        std::vector<std::pair<std::string, std::string>>{}, dir_.path() + "/emulator.stderr");
    std::optional<std::string> line = emulator_->ReadLine(kDeadline);
    ASSERT_TRUE(line.has_value()) << ReadTextFile(dir_.path() + "/emulator.stderr");
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(*line, m, std::regex("listening on (https://127\\.0\\.0\\.1:\\d+)")))
        << *line;
    scm_url_ = m[1];

    // The daemon's own server certificate comes from a test CA, so SCM counts only what the
    // tests enroll.
    eg::testing::TestCa ca;
    eg::testing::IssuedPem server = ca.IssueServer({"localhost"}, {"127.0.0.1"});
    WriteTextFile(dir_.path() + "/server.pem", server.chain_pem);
    WriteTextFile(dir_.path() + "/server.key", server.key_pem);
    WriteTextFile(dir_.path() + "/scm-password", "admin\n");
    chmod((dir_.path() + "/scm-password").c_str(), 0600);
    chmod((dir_.path() + "/server.key").c_str(), 0600);
    WriteConfig(/*term_days=*/90);
  }

  void TearDown() override {
    if (daemon_ != nullptr) StopDaemon();
    emulator_->Signal(SIGTERM);
    EXPECT_EQ(emulator_->Wait(std::chrono::seconds(30)), 0);
  }

  void WriteConfig(int term_days) {
    json account = {{"name", "web"},
                    {"protocols", {"acme"}},
                    {"cert_type", "ssl"},
                    {"organization_id", 1697},
                    {"webhook_url", receiver_.url("/hook")},
                    {"names", {{"dns_suffixes", {"example.test"}}}},
                    {"acme", {{"eab_required", true}, {"pre_validated", true}}},
                    {"profiles",
                     {{{"name", "default"},
                       {"scm_profile_id", 1001},
                       {"term_days", term_days},
                       {"is_default", true}},
                      {{"name", "approval"}, {"scm_profile_id", 1002}, {"term_days", 365}}}}};
    json config = {{"state_dir", state_},
                   {"log_level", "debug"},
                   {"server",
                    {{"listen_host", "127.0.0.1"},
                     {"port", 0},
                     {"tls_cert_file", dir_.path() + "/server.pem"},
                     {"tls_key_file", dir_.path() + "/server.key"},
                     {"threads", 2},
                     {"drain_timeout_s", 5}}},
                   {"scm",
                    {{"mode", "remote"},
                     {"base_url", scm_url_},
                     {"ca_bundle_file", emulator_state_ + "/ca.pem"},
                     {"request_timeout_ms", 2000},
                     {"max_attempts", 2},
                     {"auth",
                      {{"mode", "password"},
                       {"customer_uri", "demo"},
                       {"login", "admin"},
                       {"password_file", dir_.path() + "/scm-password"}}}}},
                   {"issuance",
                    {{"wait_budget_ms", 0},
                     {"poll_initial_ms", 50},
                     {"poll_max_ms", 200},
                     {"claim_lease_ms", 5000},
                     {"poll_tick_ms", 50},
                     {"webhook_timeout_ms", 2000}}},
                   {"accounts", {account}}};
    WriteTextFile(config_, config.dump(2));
  }

  // Starts enrollgated (optionally with a failpoint armed) and waits for its first line.
  void StartDaemon(const std::string& failpoint = "") {
    std::vector<std::pair<std::string, std::string>> env;
    if (!failpoint.empty()) env.emplace_back("ENROLLGATE_FAILPOINT", failpoint);
    daemon_stderr_ = dir_.path() + "/daemon.stderr." + std::to_string(++starts_);
    daemon_ = std::make_unique<Subprocess>(std::vector<std::string>{kDaemon, "--config", config_},
                                           env, daemon_stderr_);
    std::optional<std::string> line = daemon_->ReadLine(kDeadline);
    ASSERT_TRUE(line.has_value() && line->find("listening on") != std::string::npos)
        << line.value_or("(none)") << "\n"
        << ReadTextFile(daemon_stderr_);
    if (store_ == nullptr) {
      auto store =
          storage::SqliteStore::Open({.path = state_ + "/enrollgate.db", .connections = 1});
      ASSERT_TRUE(store.ok()) << store.error().ToString();
      store_ = std::move(store).value();
    }
  }

  void StopDaemon() {
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait(std::chrono::seconds(30)), 0) << ReadTextFile(daemon_stderr_);
    daemon_.reset();
  }

  void KillDaemon() {
    daemon_->Signal(SIGKILL);
    EXPECT_EQ(daemon_->Wait(std::chrono::seconds(30)), 128 + SIGKILL);
    daemon_.reset();
  }

  // A CSR for `name` (its key kept in key_).
  std::string WriteCsr(const std::string& name) {
    auto key = crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256);
    EXPECT_TRUE(key.ok());
    crypto::CsrRequest request;
    request.subject.common_name = name;
    request.sans.dns = {name};
    auto csr = crypto::BuildCsr(request, *key);
    EXPECT_TRUE(csr.ok());
    key_ = std::make_unique<crypto::PrivateKey>(std::move(key).value());
    std::string path = dir_.path() + "/" + name + ".csr";
    WriteTextFile(path, csr->Pem());
    return path;
  }

  // `enrollgate enroll`: records the intent for the running daemon; returns the enrollment id
  // from its "id: ..." line.
  std::string Enroll(const std::string& name, const std::string& profile) {
    auto result = RunProgram({kAdmin, "--config", config_, "enroll", "--account", "web",
                              "--profile", profile, "--csr", WriteCsr(name)});
    EXPECT_EQ(result.status, 0) << result.output;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(result.output, m, std::regex("(^|\n)id: (\\S+)")))
        << result.output;
    return m.size() == 3 ? std::string(m[2]) : std::string();
  }

  Enrollment Get(const std::string& id) {
    auto e = store_->GetEnrollment(id);
    EXPECT_TRUE(e.ok()) << e.error().ToString();
    return e.ok() ? *e : Enrollment{};
  }

  bool InState(const std::string& id, EnrollmentState state) {
    auto e = store_->GetEnrollment(id);
    return e.ok() && e->state == state;
  }

  // SCM's own count of SSL enrollments (the emulator's statistics endpoint).
  int ScmSslEnrollments() {
    auto result =
        RunProgram({"/usr/bin/curl", "-sS", "--max-time", "10", "--cacert",
                    emulator_state_ + "/ca.pem", "-H", "login: admin", "-H", "password: admin",
                    "-H", "customerUri: demo", scm_url_ + "/_emulator/stats"},
                   {}, false);
    json stats = json::parse(result.output, nullptr, false);
    EXPECT_TRUE(stats.is_object() && stats.contains("enrollments")) << result.output;
    if (!stats.is_object() || !stats.contains("enrollments")) return -1;
    return stats["enrollments"].value("ssl", -1);
  }

  void Approve(const std::string& scm_id) {
    auto result = RunProgram({kEmulator, "approve", "--state", emulator_state_, scm_id});
    ASSERT_EQ(result.status, 0) << result.output;
  }

  // The stored certificate is for the CSR's key and name.
  void ExpectIssuedFor(const std::string& id, const std::string& name) {
    Enrollment e = Get(id);
    ASSERT_EQ(e.state, EnrollmentState::kIssued) << e.failure;
    auto cert = store_->GetCertificate(e.certificate_serial);
    ASSERT_TRUE(cert.ok()) << cert.error().ToString();
    EXPECT_EQ(cert->common_name, name);
    EXPECT_EQ(cert->account, "web");
    auto leaf = crypto::Certificate::ParsePem(cert->chain_pem);
    ASSERT_TRUE(leaf.ok());
    EXPECT_TRUE(leaf->Key().Equals(key_->Public()));
  }

  TempDir dir_;
  WebhookReceiver receiver_;
  std::string emulator_state_, state_, config_, scm_url_, daemon_stderr_;
  std::unique_ptr<Subprocess> emulator_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<crypto::PrivateKey> key_;
  int starts_ = 0;
};

TEST_F(IssuanceE2eTest, ApprovalPendingThenIssuedWithWebhooks) {
  StartDaemon();
  const std::string id = Enroll("approve.example.test", "approval");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kSubmitted); }));
  ASSERT_TRUE(receiver_.WaitFor(
      [](const auto& r) { return Events(r) == std::vector<std::string>{"pending_approval"}; },
      kDeadline))
      << ::testing::PrintToString(Events(receiver_.requests()));
  // Still pending: SCM has not issued without its administrator.
  EXPECT_EQ(Get(id).state, EnrollmentState::kSubmitted);

  Approve(Get(id).scm_id);
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kIssued); }))
      << ReadTextFile(daemon_stderr_);
  ExpectIssuedFor(id, "approve.example.test");
  ASSERT_TRUE(receiver_.WaitFor(
      [](const auto& r) {
        return Events(r) == std::vector<std::string>{"pending_approval", "issued"};
      },
      kDeadline))
      << ::testing::PrintToString(Events(receiver_.requests()));
  const ReceivedRequest issued = receiver_.requests().back();
  EXPECT_EQ(issued.method, "POST");
  EXPECT_EQ(issued.path, "/hook");
  json body = json::parse(issued.body);
  EXPECT_EQ(body["account"], "web");
  EXPECT_EQ(body["enrollment_id"], id);
  EXPECT_EQ(body["serial"], Get(id).certificate_serial);
  EXPECT_EQ(ScmSslEnrollments(), 1);

  // The audit trail has every step.
  auto audit = store_->ListAudit(id, 100);
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> actions;
  for (auto it = audit->rbegin(); it != audit->rend(); ++it) actions.push_back(it->action);
  EXPECT_EQ(actions,
            (std::vector<std::string>{"submit", "scm_accepted", "pending_approval", "issue"}));
}

TEST_F(IssuanceE2eTest, KilledAfterScmAcceptedCompletesAfterRestart) {
  StartDaemon();
  const std::string id = Enroll("crash.example.test", "approval");
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kSubmitted); }));
  KillDaemon();
  Approve(Get(id).scm_id);
  StartDaemon();
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kIssued); }))
      << ReadTextFile(daemon_stderr_);
  ExpectIssuedFor(id, "crash.example.test");
  EXPECT_EQ(ScmSslEnrollments(), 1);
}

TEST_F(IssuanceE2eTest, KilledBetweenScmReplyAndRecordingItsIdEnrollsOnce) {
  StartDaemon("issuance.after_scm_enroll");
  const std::string id = Enroll("window.example.test", "default");
  // The failpoint kills the daemon right after SCM accepted: SCM has it, the store does not.
  ASSERT_EQ(daemon_->Wait(kDeadline), 128 + SIGKILL) << ReadTextFile(daemon_stderr_);
  daemon_.reset();
  EXPECT_EQ(Get(id).state, EnrollmentState::kIntent);
  EXPECT_EQ(Get(id).scm_id, "");
  EXPECT_EQ(ScmSslEnrollments(), 1);

  StartDaemon();  // the claim lease (5 s) runs out, then the poller finds it in SCM
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kIssued); }))
      << ReadTextFile(daemon_stderr_);
  ExpectIssuedFor(id, "window.example.test");
  EXPECT_EQ(ScmSslEnrollments(), 1);
  EXPECT_NE(ReadTextFile(daemon_stderr_).find("found in SCM after an interrupted submit"),
            std::string::npos);
}

TEST_F(IssuanceE2eTest, KilledBeforeScmWasCalledEnrollsOnceAfterRestart) {
  StartDaemon("issuance.before_scm_enroll");
  const std::string id = Enroll("early.example.test", "default");
  ASSERT_EQ(daemon_->Wait(kDeadline), 128 + SIGKILL) << ReadTextFile(daemon_stderr_);
  daemon_.reset();
  EXPECT_EQ(Get(id).state, EnrollmentState::kIntent);
  EXPECT_EQ(ScmSslEnrollments(), 0);

  StartDaemon();
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kIssued); }))
      << ReadTextFile(daemon_stderr_);
  ExpectIssuedFor(id, "early.example.test");
  EXPECT_EQ(ScmSslEnrollments(), 1);
}

TEST_F(IssuanceE2eTest, ConfigScmWouldRejectStopsTheStartNamingKeyAndRule) {
  WriteConfig(/*term_days=*/400);
  daemon_stderr_ = dir_.path() + "/daemon.stderr.bad";
  Subprocess daemon({kDaemon, "--config", config_}, {}, daemon_stderr_);
  EXPECT_EQ(daemon.Wait(kDeadline), 1);
  const std::string err = ReadTextFile(daemon_stderr_);
  EXPECT_NE(err.find("accounts.web.profiles.default.term_days"), std::string::npos) << err;
  EXPECT_NE(err.find("400"), std::string::npos) << err;
  EXPECT_NE(err.find("1001"), std::string::npos) << err;  // the SCM profile
  EXPECT_NE(err.find("397"), std::string::npos) << err;   // and the terms it allows
}

TEST_F(IssuanceE2eTest, ReloadSwapsAGoodConfigAndRefusesABadOne) {
  StartDaemon();
  WriteConfig(/*term_days=*/400);
  daemon_->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return ReadTextFile(daemon_stderr_).find("reload refused") != std::string::npos;
  })) << ReadTextFile(daemon_stderr_);
  WriteConfig(/*term_days=*/200);
  daemon_->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return ReadTextFile(daemon_stderr_).find("\"msg\":\"reloaded\"") != std::string::npos;
  })) << ReadTextFile(daemon_stderr_);
  // Still serving work after both.
  const std::string id = Enroll("after-reload.example.test", "default");
  ASSERT_TRUE(Eventually([&] { return InState(id, EnrollmentState::kIssued); }))
      << ReadTextFile(daemon_stderr_);
}

}  // namespace
}  // namespace eg
