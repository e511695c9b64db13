// WebhookNotifier end to end: a real SQLite outbox in a temp dir, the real AsioScheduler, and a
// real HTTP(S) receiver on 127.0.0.1 (port 0) that can be told to answer 200 / 500 / nothing,
// go down and come back on its port. Waiting is always for a condition, bounded by a deadline.
#include "daemon/webhook_notifier.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/asio_scheduler.h"
#include "storage/sqlite_store.h"
#include "tests/daemon/test_pki.h"

namespace eg::testing {
namespace {

namespace fs = std::filesystem;
using daemon::AsioScheduler;
using daemon::WebhookNotifier;
using daemon::WebhookOptions;
using std::chrono::milliseconds;

// True once `done()` holds; false if `timeout` passes first.
bool Eventually(const std::function<bool()>& done, milliseconds timeout = milliseconds(20000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

struct Received {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A one-thread HTTP/1.1 (optionally TLS) receiver. Mode kHang reads the request and never
// answers (the connection is held until the receiver is destroyed).
class Receiver {
 public:
  enum class Mode { kOk, kFail, kHang };

  // `cert_dir` holds chain.pem and key.pem for TLS; empty = plain HTTP.
  explicit Receiver(const std::string& cert_dir = "") {
    if (!cert_dir.empty()) {
      tls_ = SSL_CTX_new(TLS_server_method());
      if (tls_ == nullptr ||
          SSL_CTX_use_certificate_chain_file(tls_, (cert_dir + "/chain.pem").c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(tls_, (cert_dir + "/key.pem").c_str(), SSL_FILETYPE_PEM) !=
              1) {
        throw std::runtime_error("receiver: TLS setup failed");
      }
    }
    Up();
  }
  ~Receiver() {
    Down();
    for (auto [fd, ssl] : held_) Close(fd, ssl);
    if (tls_ != nullptr) SSL_CTX_free(tls_);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Listens (again) on the receiver's port, chosen by the kernel the first time.
  void Up() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0) {
      throw std::runtime_error("receiver: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  // Stops listening: connections are refused until Up().
  void Down() {
    if (!thread_.joinable()) return;
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return std::string(tls_ != nullptr ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_mode(Mode mode) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = mode;
  }
  std::vector<Received> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  static void Close(int fd, SSL* ssl) {
    if (ssl != nullptr) SSL_free(ssl);
    ::close(fd);
  }

  void Serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) Handle(fd);
    }
  }

  void Handle(int fd) {
    timeval tv{5, 0};  // a misbehaving client cannot wedge the receiver
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL* ssl = nullptr;
    if (tls_ != nullptr) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) return Close(fd, ssl);  // e.g. the client refused our cert
    }
    auto read_some = [&](char* buf, int n) {
      return ssl != nullptr ? SSL_read(ssl, buf, n) : static_cast<int>(::recv(fd, buf, n, 0));
    };
    std::string data;
    char buf[4096];
    size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      const int n = read_some(buf, sizeof buf);
      if (n <= 0) return Close(fd, ssl);
      data.append(buf, static_cast<size_t>(n));
    }
    Received r;
    std::istringstream head(data.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream request_line(line);
    request_line >> r.method >> r.target;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    const size_t length =
        r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    r.body = data.substr(header_end + 4);
    while (r.body.size() < length) {
      const int n = read_some(buf, sizeof buf);
      if (n <= 0) return Close(fd, ssl);
      r.body.append(buf, static_cast<size_t>(n));
    }
    Mode mode;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(std::move(r));
      mode = mode_;
    }
    if (mode == Mode::kHang) {
      held_.emplace_back(fd, ssl);
      return;
    }
    const std::string reply =
        std::string(mode == Mode::kOk ? "HTTP/1.1 200 OK" : "HTTP/1.1 500 Internal Server Error") +
        "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (ssl != nullptr) {
      SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
      SSL_shutdown(ssl);
    } else {
      (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    Close(fd, ssl);
  }

  SSL_CTX* tls_ = nullptr;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::vector<std::pair<int, SSL*>> held_;  // only the serving thread touches it while it runs
  mutable std::mutex mu_;
  Mode mode_ = Mode::kOk;
  std::vector<Received> requests_;
};

class WebhookNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "eg-webhook-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    log_file_ = std::fopen((dir_ + "/log.jsonl").c_str(), "w");
    ASSERT_NE(log_file_, nullptr);
    logger_ = std::make_unique<Logger>(LogLevel::kDebug, log_file_);
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (notifier_) notifier_->Stop();
    scheduler_.Shutdown();
    notifier_.reset();
    store_.reset();
    logger_.reset();
    if (log_file_ != nullptr) std::fclose(log_file_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<storage::SqliteStore> OpenStore() {
    auto store = storage::SqliteStore::Open({dir_ + "/eg.db", 2});
    if (!store.ok()) {
      ADD_FAILURE() << store.error().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  static WebhookOptions ShortOptions() {
    WebhookOptions o;
    o.request_timeout = milliseconds(500);
    o.initial_backoff = milliseconds(50);
    o.max_backoff = milliseconds(200);
    o.max_age = std::chrono::hours(1);
    o.tick = milliseconds(100);
    return o;
  }

  void StartNotifier(const WebhookOptions& options) {
    notifier_ = std::make_unique<WebhookNotifier>(*store_, scheduler_, clock_, *logger_, options);
    notifier_->Start();
  }

  static Notification Sample(const std::string& event) {
    Notification n;
    n.event = event;
    n.account = "web";
    n.enrollment_id = "enr-1";
    n.scm_id = "4242";
    n.serial = "0a1b";
    n.common_name = "www.example.test";
    n.detail = "certificate issued";
    n.at = FromUnixSeconds(1'800'000'000);  // 2027-01-15T08:00:00Z
    return n;
  }

  std::vector<OutboxMessage> Outbox() {
    auto listed = store_->ListOutbox(100);
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? *listed : std::vector<OutboxMessage>();
  }

  // The first outbox message once it has failed at least once.
  std::optional<OutboxMessage> WaitForFailedAttempt() {
    std::optional<OutboxMessage> failed;
    const bool ok = Eventually([&] {
      auto messages = Outbox();
      if (messages.empty() || messages[0].attempts < 1) return false;
      failed = messages[0];
      return true;
    });
    EXPECT_TRUE(ok) << "no failed attempt was recorded";
    return failed;
  }

  bool WaitForEmptyOutbox() {
    return Eventually([&] { return Outbox().empty(); });
  }

  std::string LogText() {
    std::fflush(log_file_);
    std::ifstream in(dir_ + "/log.jsonl");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
  std::FILE* log_file_ = nullptr;
  std::unique_ptr<Logger> logger_;
  SystemClock clock_;
  AsioScheduler scheduler_{2};
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<WebhookNotifier> notifier_;
};

TEST_F(WebhookNotifierTest, DeliversTheDocumentWithItsHeaders) {
  Receiver receiver;
  StartNotifier(ShortOptions());
  notifier_->Notify(receiver.url("/hooks/eg?token=s3cret"), Sample("issued"));

  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));
  ASSERT_TRUE(WaitForEmptyOutbox());
  Received r = receiver.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hooks/eg?token=s3cret");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["x-enrollgate-event"], "issued");
  EXPECT_EQ(r.headers["user-agent"].rfind("enrollgate/", 0), 0u) << r.headers["user-agent"];
  EXPECT_GT(r.headers["user-agent"].size(), std::string("enrollgate/").size());
  EXPECT_EQ(r.headers["host"], "127.0.0.1:" + std::to_string(receiver.port()));

  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body, nlohmann::json({{"event", "issued"},
                                  {"account", "web"},
                                  {"enrollment_id", "enr-1"},
                                  {"scm_id", "4242"},
                                  {"serial", "0a1b"},
                                  {"common_name", "www.example.test"},
                                  {"detail", "certificate issued"},
                                  {"at", "2027-01-15T08:00:00Z"}}));
  // The token in the query stays out of the log.
  EXPECT_EQ(LogText().find("s3cret"), std::string::npos);
}

TEST_F(WebhookNotifierTest, ServerErrorIsRetriedWithAttemptsRecorded) {
  Receiver receiver;
  receiver.set_mode(Receiver::Mode::kFail);
  StartNotifier(ShortOptions());
  notifier_->Notify(receiver.url("/h"), Sample("pending_approval"));

  auto failed = WaitForFailedAttempt();
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->last_error, "HTTP 500");
  EXPECT_EQ(failed->event, "pending_approval");

  receiver.set_mode(Receiver::Mode::kOk);
  ASSERT_TRUE(WaitForEmptyOutbox());
  const auto requests = receiver.requests();
  ASSERT_GE(requests.size(), 2u);
  for (const auto& r : requests) EXPECT_EQ(r.body, requests[0].body);  // the same document
}

TEST_F(WebhookNotifierTest, ReceiverDownStaysQueuedAndIsDeliveredOnceUp) {
  Receiver receiver;
  receiver.Down();  // connections to its port are refused
  StartNotifier(ShortOptions());
  notifier_->Notify(receiver.url("/h"), Sample("failed"));

  auto failed = WaitForFailedAttempt();
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->last_error.find("connect to 127.0.0.1:"), std::string::npos)
      << failed->last_error;
  EXPECT_TRUE(receiver.requests().empty());

  receiver.Up();
  ASSERT_TRUE(WaitForEmptyOutbox());
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(receiver.requests()[0].headers["x-enrollgate-event"], "failed");
}

TEST_F(WebhookNotifierTest, HangingReceiverTimesOutAndIsRetried) {
  Receiver receiver;
  receiver.set_mode(Receiver::Mode::kHang);
  StartNotifier(ShortOptions());
  notifier_->Notify(receiver.url("/h"), Sample("revoked"));

  auto failed = WaitForFailedAttempt();
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->last_error.find("timed out"), std::string::npos) << failed->last_error;

  receiver.set_mode(Receiver::Mode::kOk);
  ASSERT_TRUE(WaitForEmptyOutbox());
  EXPECT_GE(receiver.requests().size(), 2u);
}

TEST_F(WebhookNotifierTest, AfterARestartAnotherNotifierDeliversWhatTheFirstLeft) {
  Receiver receiver;
  receiver.set_mode(Receiver::Mode::kFail);
  {
    // The first daemon: one message tried and failed, one queued but never tried (it "died"
    // before its first pass).
    StartNotifier(ShortOptions());
    notifier_->Notify(receiver.url("/h"), Sample("pending_approval"));
    ASSERT_TRUE(WaitForFailedAttempt().has_value());
    notifier_->Stop();
    notifier_->Notify(receiver.url("/h"), Sample("issued"));
    notifier_.reset();
    store_.reset();
  }
  receiver.set_mode(Receiver::Mode::kOk);
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  ASSERT_EQ(Outbox().size(), 2u);
  StartNotifier(ShortOptions());
  ASSERT_TRUE(WaitForEmptyOutbox());
  std::vector<std::string> delivered;
  for (const auto& r : receiver.requests()) {
    if (r.headers.count("x-enrollgate-event"))
      delivered.push_back(r.headers.at("x-enrollgate-event"));
  }
  EXPECT_NE(std::find(delivered.begin(), delivered.end(), "issued"), delivered.end());
  EXPECT_GE(std::count(delivered.begin(), delivered.end(), "pending_approval"), 2);
}

TEST_F(WebhookNotifierTest, GivesUpAfterMaxAgeAndLogsIt) {
  Receiver receiver;
  receiver.set_mode(Receiver::Mode::kFail);
  WebhookOptions options = ShortOptions();
  options.max_age = milliseconds(400);
  StartNotifier(options);
  notifier_->Notify(receiver.url("/h?token=s3cret"), Sample("issued"));

  ASSERT_TRUE(WaitForEmptyOutbox());
  EXPECT_GE(receiver.requests().size(), 2u);
  const std::string log = LogText();
  const size_t dropped = log.find("webhook notification dropped");
  ASSERT_NE(dropped, std::string::npos) << log;
  const std::string line = log.substr(dropped, log.find('\n', dropped) - dropped);
  EXPECT_NE(line.find(R"("event":"issued")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("account":"web")"), std::string::npos) << line;
  EXPECT_NE(line.find(receiver.url("/h")), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
  EXPECT_NE(log.rfind(R"("level":"error")", dropped), std::string::npos);
}

TEST_F(WebhookNotifierTest, HttpsVerifiesThePeerAgainstTheConfiguredBundle) {
  TestCa ca;
  IssuedPem server = ca.IssueServer({"localhost"}, {"127.0.0.1"});
  std::ofstream(dir_ + "/chain.pem") << server.chain_pem;
  std::ofstream(dir_ + "/key.pem") << server.key_pem;
  Receiver receiver(dir_);

  // Without the bundle the receiver's certificate is not trusted: no request reaches it.
  StartNotifier(ShortOptions());
  notifier_->Notify(receiver.url("/h"), Sample("issued"));
  auto failed = WaitForFailedAttempt();
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->last_error.find("TLS handshake"), std::string::npos) << failed->last_error;
  EXPECT_TRUE(receiver.requests().empty());
  notifier_->Stop();
  notifier_.reset();

  WebhookOptions trusting = ShortOptions();
  trusting.ca_bundle_pem = ca.ca_pem();
  StartNotifier(trusting);
  ASSERT_TRUE(WaitForEmptyOutbox());
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(receiver.requests()[0].headers["x-enrollgate-event"], "issued");
}

// A store that refuses to queue.
class FailingOutbox final : public NotificationOutbox {
 public:
  Result<int64_t> Enqueue(const OutboxMessage&) override { return Unavailable("disk full"); }
  Result<std::vector<OutboxMessage>> ClaimDue(TimePoint, TimePoint, int) override {
    return std::vector<OutboxMessage>();
  }
  Result<void> MarkDelivered(int64_t) override { return Ok(); }
  Result<void> Reschedule(int64_t, int, TimePoint, const std::string&) override { return Ok(); }
  Result<void> Discard(int64_t) override { return Ok(); }
  Result<std::vector<OutboxMessage>> ListOutbox(int) override {
    return std::vector<OutboxMessage>();
  }
};

TEST_F(WebhookNotifierTest, QueueFailureIsLoggedNotThrown) {
  FailingOutbox outbox;
  WebhookNotifier notifier(outbox, scheduler_, clock_, *logger_, ShortOptions());
  notifier.Start();
  notifier.Notify("http://127.0.0.1:9/h", Sample("issued"));
  notifier.Stop();
  const std::string log = LogText();
  EXPECT_NE(log.find("could not be queued"), std::string::npos) << log;
  EXPECT_NE(log.find("disk full"), std::string::npos) << log;
}

TEST_F(WebhookNotifierTest, StopTwiceIsSafeAndLaterNotificationsStayQueued) {
  StartNotifier(ShortOptions());
  notifier_->Stop();
  notifier_->Stop();
  notifier_->Notify("http://127.0.0.1:9/h", Sample("issued"));
  notifier_->Notify("", Sample("issued"));  // no webhook: nothing queued
  const auto queued = Outbox();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].event, "issued");
  EXPECT_EQ(queued[0].attempts, 0);
}

}  // namespace
}  // namespace eg::testing
