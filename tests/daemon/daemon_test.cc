// The enrollgated binary end to end: flags, --check-config, start with the embedded SCM emulator
// (server certificate enrolled at first start, reused at the next), GET /health over HTTPS
// verified against the CA bundle the daemon printed, signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <regex>

#include "crypto/x509.h"
#include "tests/daemon/subprocess.h"

#ifndef EG_VERSION
#error "EG_VERSION must be defined by the build"
#endif

namespace eg {
namespace {

using eg::testing::ReadTextFile;
using eg::testing::RunProgram;
using eg::testing::Subprocess;
using eg::testing::TempDir;
using eg::testing::WriteTextFile;

const std::string kBinary = EG_BIN_DIR "/enrollgated";
constexpr auto kStartDeadline = std::chrono::seconds(90);
constexpr auto kStopDeadline = std::chrono::seconds(30);

struct CurlReply {
  int http_code = 0;
  std::string headers;
  std::string body;
};

// A running enrollgated: the two lines it printed, parsed.
struct Daemon {
  std::unique_ptr<Subprocess> process;
  std::string url;  // https://127.0.0.1:PORT
  int port = 0;
  std::string ca_bundle;
  std::string stderr_path;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.path() + "/state";
    config_ = dir_.path() + "/enrollgate.json";
    WriteTextFile(config_, R"({
  "state_dir": ")" + state_ + R"(",
  "log_level": "info",
  "server": {
    "listen_host": "127.0.0.1",
    "port": 8443,
    "tls_names": ["localhost", "127.0.0.1"],
    "threads": 2,
    "drain_timeout_s": 5
  },
  "scm": { "mode": "embedded" }
})");
  }

  // Starts the daemon (ENROLLGATE_PORT=0 overrides the file's port) and reads its two lines.
  Daemon Start() {
    Daemon d;
    d.stderr_path = dir_.path() + "/stderr." + std::to_string(++starts_);
    d.process = std::make_unique<Subprocess>(
        std::vector<std::string>{kBinary, "--config", config_},
        std::vector<std::pair<std::string, std::string>>{{"ENROLLGATE_PORT", "0"}}, d.stderr_path);
    EXPECT_TRUE(d.process->started());
    std::optional<std::string> first = d.process->ReadLine(kStartDeadline);
    EXPECT_TRUE(first.has_value()) << "no 'listening on' line; stderr:\n"
                                   << ReadTextFile(d.stderr_path);
    if (!first.has_value()) return d;
    std::smatch m;
    std::regex listening("^enrollgated " EG_VERSION
                         " listening on (https://127\\.0\\.0\\.1:(\\d+))$");
    EXPECT_TRUE(std::regex_match(*first, m, listening)) << *first;
    if (m.size() == 3) {
      d.url = m[1];
      d.port = std::stoi(m[2]);
    }
    std::optional<std::string> second = d.process->ReadLine(kStartDeadline);
    EXPECT_TRUE(second.has_value());
    const std::string prefix = "CA bundle: ";
    if (second.has_value() && second->rfind(prefix, 0) == 0) {
      d.ca_bundle = second->substr(prefix.size());
    }
    EXPECT_FALSE(d.ca_bundle.empty()) << second.value_or("");
    EXPECT_EQ(d.ca_bundle.front(), '/') << "not absolute: " << d.ca_bundle;
    EXPECT_NE(d.port, 0);
    EXPECT_NE(d.port, 8443);
    return d;
  }

  CurlReply Curl(const Daemon& d, const std::string& host, const std::string& path,
                 std::vector<std::string> extra = {}) {
    std::string hdr = dir_.path() + "/h" + std::to_string(++calls_);
    std::string body = dir_.path() + "/b" + std::to_string(calls_);
    std::vector<std::string> argv = {"/usr/bin/curl",
                                     "-sS",
                                     "--max-time",
                                     "30",
                                     "--cacert",
                                     d.ca_bundle,
                                     "-D",
                                     hdr,
                                     "-o",
                                     body,
                                     "-w",
                                     "%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + host + ":" + std::to_string(d.port) + path);
    auto result = RunProgram(argv, {}, /*merge_stderr=*/false);
    CurlReply reply;
    reply.http_code = std::atoi(result.output.c_str());
    reply.headers = ReadTextFile(hdr);
    reply.body = ReadTextFile(body);
    return reply;
  }

  std::string ServerFingerprint() {
    auto cert = crypto::Certificate::ParsePem(ReadTextFile(state_ + "/server/cert.pem"));
    EXPECT_TRUE(cert.ok());
    return cert.ok() ? cert->FingerprintSha256() : "";
  }

  void StopWithSigterm(Daemon& d) {
    d.process->Signal(SIGTERM);
    std::optional<int> status = d.process->Wait(kStopDeadline);
    ASSERT_TRUE(status.has_value()) << "did not stop within the deadline";
    EXPECT_EQ(*status, 0) << ReadTextFile(d.stderr_path);
  }

  TempDir dir_;
  std::string state_;
  std::string config_;
  int starts_ = 0;
  int calls_ = 0;
};

TEST_F(DaemonTest, Version) {
  auto r = RunProgram({kBinary, "--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "enrollgated " EG_VERSION "\n");
}

TEST_F(DaemonTest, Help) {
  auto r = RunProgram({kBinary, "--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* s : {"--config FILE", "--check-config", "--version", "ENROLLGATE_CONFIG",
                        "ENROLLGATE_PORT", "CA bundle:"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  }
}

TEST_F(DaemonTest, UnknownFlagIsAUsageError) {
  auto r = RunProgram({kBinary, "--frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--frobnicate"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, NoConfigTellsTheUserHow) {
  auto r = RunProgram({kBinary}, {{"ENROLLGATE_CONFIG", ""}});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ENROLLGATE_CONFIG"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, CheckConfigAcceptsAGoodConfig) {
  auto r = RunProgram({kBinary, "--check-config", "--config", config_}, {}, false);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "config OK\n");
  // The file may also come from the environment.
  auto e = RunProgram({kBinary, "--check-config"}, {{"ENROLLGATE_CONFIG", config_}}, false);
  EXPECT_EQ(e.status, 0);
  EXPECT_EQ(e.output, "config OK\n");
}

TEST_F(DaemonTest, CheckConfigNamesTheBadKey) {
  std::string bad = dir_.path() + "/bad.json";
  WriteTextFile(bad, R"({"state_dir": "x", "server": {"port": "not a number"}})");
  auto r = RunProgram({kBinary, "--check-config", "--config", bad});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("server.port"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("config OK"), std::string::npos);
}

TEST_F(DaemonTest, BadPortEnvironmentIsAUsageError) {
  auto r =
      RunProgram({kBinary, "--check-config", "--config", config_}, {{"ENROLLGATE_PORT", "99999"}});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("ENROLLGATE_PORT"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, FailedStartExitsOneWithTheReason) {
  // SCM refuses a name outside the emulator's delegated domains.
  std::string refused = dir_.path() + "/refused.json";
  WriteTextFile(refused, R"({
  "state_dir": ")" + state_ + R"(",
  "server": { "port": 0, "tls_names": ["www.not-delegated.invalid"] },
  "scm": { "mode": "embedded" }
})");
  auto r = RunProgram({kBinary, "--config", refused});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("start-up failed"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("listening on"), std::string::npos) << r.output;
}

TEST_F(DaemonTest, SigtermDuringStartUpStopsAtOnce) {
  // Profile 1002 needs approval, so collecting the server certificate stays pending: the daemon
  // is inside its 60 s collect wait when the signal comes.
  std::string approval = dir_.path() + "/approval.json";
  WriteTextFile(approval, R"({
  "state_dir": ")" + state_ + R"(",
  "log_level": "info",
  "server": { "port": 0 },
  "scm": { "mode": "embedded", "server_cert_profile_id": 1002 }
})");
  Subprocess p({kBinary, "--config", approval}, {}, Subprocess::kPipe);
  ASSERT_TRUE(p.started());
  bool pending = false;
  while (!pending) {
    std::optional<std::string> line = p.ReadErrorLine(kStartDeadline);
    ASSERT_TRUE(line.has_value()) << "no 'server certificate pending' log line";
    pending = line->find("server certificate pending") != std::string::npos;
  }
  auto signalled = std::chrono::steady_clock::now();
  p.Signal(SIGTERM);
  std::optional<int> status = p.Wait(kStopDeadline);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(10));
  EXPECT_FALSE(p.ReadLine(std::chrono::seconds(5)).has_value());  // never said "listening"
}

TEST_F(DaemonTest, StartsServesHealthAndStopsOnSigterm) {
  Daemon d = Start();
  ASSERT_NE(d.port, 0);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    CurlReply r = Curl(d, host, "/health");
    EXPECT_EQ(r.http_code, 200) << host;
    EXPECT_EQ(r.body, R"({"status":"ok"})");
    EXPECT_NE(r.headers.find("application/json"), std::string::npos) << r.headers;
  }
  EXPECT_EQ(Curl(d, "localhost", "/nope").http_code, 404);
  CurlReply post = Curl(d, "localhost", "/health", {"-X", "POST"});
  EXPECT_EQ(post.http_code, 405);
  EXPECT_NE(post.headers.find("Allow: GET, HEAD"), std::string::npos) << post.headers;

  // The bundle holds the SCM emulator's CA; the key is private.
  auto bundle = crypto::Certificate::ParsePemChain(ReadTextFile(d.ca_bundle));
  ASSERT_TRUE(bundle.ok());
  EXPECT_TRUE(bundle->front().IsCa());
  struct stat st {};
  ASSERT_EQ(stat((state_ + "/server/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // SIGHUP is logged, not fatal.
  d.process->Signal(SIGHUP);
  EXPECT_EQ(Curl(d, "localhost", "/health").http_code, 200);

  StopWithSigterm(d);
}

// The shipped embedded config starts before `enrollgate est password` ever ran: a missing EST
// password hash file is a warning naming the command, not a failure. TLS clients without a
// certificate are served while the daemon asks for one (EST accounts take client certificates).
TEST_F(DaemonTest, ShippedConfigStartsWithoutEstPasswordFiles) {
  std::string text = ReadTextFile(EG_SOURCE_DIR "/config/embedded.json");
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
      text.replace(pos, from.size(), to);
    }
  };
  replace_all("\"state_dir\": \"../var\"", "\"state_dir\": \"" + state_ + "\"");
  replace_all("\"../var/", "\"" + state_ + "/");  // the password hash files
  WriteTextFile(config_, text);
  Daemon d = Start();
  ASSERT_NE(d.port, 0);
  const std::string log = ReadTextFile(d.stderr_path);
  EXPECT_NE(log.find("accounts[2].est.basic_users[0].password_hash_file: " + state_ +
                     "/est-device.pbkdf2 does not exist, so user \\\"device\\\" cannot log in; "
                     "`enrollgate est password --account devices --user device` creates it"),
            std::string::npos)
      << log;
  EXPECT_EQ(Curl(d, "localhost", "/health").http_code, 200);
  EXPECT_NE(log.find("\"EST server ready\""), std::string::npos) << log;
  // The serverkeygen KEK was generated, owner-only.
  struct stat st {};
  ASSERT_EQ(stat((state_ + "/est-server-key.kek").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  StopWithSigterm(d);
}

// The ACME server is wired into the daemon: directory URLs from the Host header (or
// acme.public_url), nonces, and the transport's body limit answered as an ACME problem.
TEST_F(DaemonTest, ServesAcme) {
  WriteTextFile(config_, R"({
  "state_dir": ")" + state_ + R"(",
  "server": {
    "listen_host": "127.0.0.1",
    "port": 8443,
    "tls_names": ["localhost", "127.0.0.1"],
    "threads": 2,
    "max_body_bytes": 4096,
    "drain_timeout_s": 5
  },
  "scm": { "mode": "embedded" },
  "acme": { "website": "https://example.test/" }
})");
  Daemon d = Start();
  ASSERT_NE(d.port, 0);
  const std::string base = "https://localhost:" + std::to_string(d.port);
  CurlReply dir = Curl(d, "localhost", "/acme/directory");
  EXPECT_EQ(dir.http_code, 200);
  EXPECT_NE(dir.body.find("\"newAccount\":\"" + base + "/acme/new-account\""), std::string::npos)
      << dir.body;
  EXPECT_NE(dir.body.find("\"website\":\"https://example.test/\""), std::string::npos);
  EXPECT_NE(dir.body.find("\"externalAccountRequired\":true"), std::string::npos);
  EXPECT_NE(dir.headers.find("Replay-Nonce: "), std::string::npos) << dir.headers;

  CurlReply nonce = Curl(d, "localhost", "/acme/new-nonce", {"-I"});
  EXPECT_EQ(nonce.http_code, 200);
  EXPECT_NE(nonce.headers.find("Cache-Control: no-store"), std::string::npos) << nonce.headers;

  CurlReply json_type = Curl(d, "localhost", "/acme/new-account",
                             {"-X", "POST", "-H", "Content-Type: application/json", "-d", "{}"});
  EXPECT_EQ(json_type.http_code, 415);
  EXPECT_NE(json_type.headers.find("application/problem+json"), std::string::npos);

  const std::string big = dir_.path() + "/big.json";
  WriteTextFile(big, std::string(8192, 'x'));
  CurlReply too_big =
      Curl(d, "localhost", "/acme/new-account",
           {"-X", "POST", "-H", "Content-Type: application/jose+json", "--data-binary", "@" + big});
  EXPECT_EQ(too_big.http_code, 413);
  EXPECT_NE(too_big.body.find("urn:ietf:params:acme:error:malformed"), std::string::npos)
      << too_big.body;
  EXPECT_NE(too_big.headers.find("Replay-Nonce: "), std::string::npos) << too_big.headers;
  StopWithSigterm(d);
}

TEST_F(DaemonTest, SecondStartReusesTheServerCertificate) {
  std::string first_fingerprint;
  {
    Daemon d = Start();
    ASSERT_NE(d.port, 0);
    first_fingerprint = ServerFingerprint();
    ASSERT_FALSE(first_fingerprint.empty());
    StopWithSigterm(d);
  }
  Daemon d = Start();
  ASSERT_NE(d.port, 0);
  EXPECT_EQ(ServerFingerprint(), first_fingerprint);
  EXPECT_EQ(Curl(d, "localhost", "/health").http_code, 200);
  d.process->Signal(SIGINT);
  EXPECT_EQ(d.process->Wait(kStopDeadline), std::optional<int>(0));
}

}  // namespace
}  // namespace eg
