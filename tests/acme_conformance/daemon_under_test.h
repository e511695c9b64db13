// DaemonUnderTest: the real enrollgated, started once for the whole acme_conformance_test binary
// on a copy of config/embedded.json in a temporary directory, and stopped (SIGTERM, then SIGKILL
// by the Subprocess destructor) at the end. What the copy changes, and why:
//   - state_dir: the temporary directory; server.port: 0 (read back from the "listening on" line);
//   - scm.embedded.port: a free port, so tests can reach the embedded emulator's admin API;
//   - acme.validation: http01_port / tls_alpn01_port on free ports (where certbot --standalone
//     and lego listen) and hosts {"*": "127.0.0.1"}, the test-only override the issue defines;
//   - issuance polling capped at 1 s, so an approved enrollment is collected promptly;
//   - one more ACME account, `web-approval`, on the emulator's approval profile 1002 (the
//     embedded default has none that needs approval).
// Everything else (the `web` and `web-challenge` accounts, their profiles) is the shipped default.
//
// Also the helpers every test needs: the admin CLI on the same config, the emulator's REST API,
// and a fingerprint of the ACME and enrollment tables to prove a refused request wrote nothing.
//
// Not thread-safe: used from the gtest main thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/acme_conformance/acme_client.h"
#include "tests/daemon/subprocess.h"

namespace eg::acme_test {

class DaemonUnderTest {
 public:
  // The one instance (started by the test environment); nullptr until it started, and after a
  // failed start (start_error() says why).
  static DaemonUnderTest* Get();
  static const std::string& start_error();

  // Starts the daemon; an error naming what failed (with the daemon's stderr).
  static Result<std::unique_ptr<DaemonUnderTest>> Start();
  ~DaemonUnderTest();
  // SIGTERM and wait; the exit status (nullopt: had to be killed).
  std::optional<int> Stop();
  // Stop, then start again on the same state, config and port (so ACME URLs stay the same).
  Result<void> Restart();

  const std::string& dir() const { return dir_.path(); }
  const std::string& config_path() const { return config_path_; }
  const std::string& base_url() const { return base_url_; }  // https://127.0.0.1:PORT
  std::string directory_url() const { return base_url_ + "/acme/directory"; }
  const std::string& ca_bundle_path() const { return ca_bundle_path_; }
  std::string ca_bundle_pem() const;
  int http01_port() const { return http01_port_; }
  int tls_alpn01_port() const { return tls_alpn01_port_; }
  std::string db_path() const { return state_dir_ + "/enrollgate.db"; }
  std::string stderr_text() const;
  // The daemon's log since `offset` bytes (use stderr_size() before an action to get the offset).
  size_t stderr_size() const { return stderr_text().size(); }

  // A fresh client for the daemon's directory.
  std::unique_ptr<AcmeClient> NewClient() const;

  // `enrollgate ARGS...` against the daemon's config.
  testing::RunResult Admin(const std::vector<std::string>& args) const;
  // `enrollgate eab create --account ACCOUNT`, parsed; an error with the output otherwise.
  Result<EabCredential> CreateEab(const std::string& account) const;
  Result<void> RevokeEab(const std::string& key_id) const;

  // The embedded emulator's SCM REST API (admin/admin/demo): GET and POST `path`.
  Reply ScmGet(const std::string& path) const;
  Reply ScmPost(const std::string& path, const nlohmann::json& body) const;
  // PUT /_emulator/switches (e.g. {"misissue": "key"}); an error with the reply otherwise.
  Result<void> ScmSwitches(const nlohmann::json& switches) const;
  // The SSL enrollments SCM holds for `common_name` (GET /api/ssl/v1?commonName=), each with
  // its details (GET /api/ssl/v1/{id}).
  std::vector<nlohmann::json> ScmSslEnrollments(const std::string& common_name) const;
  // The emulator's statistics (GET /_emulator/stats).
  nlohmann::json ScmStats() const;

  // A digest of every row of the ACME, EAB, enrollment and certificate tables (not nonces), read
  // with the sqlite3 command: equal before and after a refused request means nothing was written.
  std::string StoreFingerprint() const;
  // One sqlite3 query's output (-separator '|').
  std::string Sql(const std::string& query) const;

 private:
  DaemonUnderTest() = default;
  // Starts the process on config_path_ (ENROLLGATE_PORT=`port`) and reads its two lines.
  Result<void> Launch(int port);

  testing::TempDir dir_;
  std::string state_dir_;
  std::string config_path_;
  std::string stderr_path_;
  std::string base_url_;
  std::string ca_bundle_path_;
  std::string scm_url_;
  std::string scm_ca_path_;
  int port_ = 0;
  int starts_ = 0;
  int http01_port_ = 0;
  int tls_alpn01_port_ = 0;
  std::unique_ptr<testing::Subprocess> process_;
  std::unique_ptr<AcmeClient> scm_;  // the HTTPS client for the emulator
};

// A TCP port that was free a moment ago on 127.0.0.1 (bound to 0, read back, closed).
int FreePort();

// Polls `done` every 50 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& done, std::chrono::steady_clock::duration timeout);

// Runs a client program to completion with a deadline (killed when it passes: status -1);
// stdout and stderr together in `output`.
testing::RunResult RunTool(const std::vector<std::string>& argv,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           std::chrono::steady_clock::duration timeout);

// The absolute path of `program` on PATH, or "" when it is not installed.
std::string FindProgram(const std::string& program);

// The fixture every suite here derives from: the shared daemon in d_, or a failed test saying
// why it did not start.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = DaemonUnderTest::Get();
    ASSERT_NE(d_, nullptr) << "enrollgated did not start: " << DaemonUnderTest::start_error();
  }
  // A client with a fresh account on `enrollment_account`, registered through a fresh EAB
  // credential; nullptr (and a failed expectation) if that did not work.
  std::unique_ptr<AcmeClient> Account(const std::string& enrollment_account);
  // An order for `name` on a pre-validated account, polled to ready: its URL and body.
  std::pair<std::string, nlohmann::json> ReadyOrder(AcmeClient& client, const std::string& name);

  DaemonUnderTest* d_ = nullptr;
};

}  // namespace eg::acme_test
