// http-01 (RFC 8555 §8.3) against the running enrollgated with the C++ client, for the no-EAB
// `web-challenge` account: a tiny HTTP responder on the validator's port (acme.validation
// .http01_port, every name mapped to 127.0.0.1) serves the key authorization the test computes
// itself (token "." RFC 7638 thumbprint), and the authorization turns valid; with nothing
// listening it turns invalid with the challenge's problem, and the order with it.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "crypto/jose/jwk.h"
#include "tests/acme_conformance/daemon_under_test.h"

namespace eg::acme_test {
namespace {

using nlohmann::json;
constexpr auto kValidationTimeout = std::chrono::seconds(40);

// Answers every GET on 127.0.0.1:`port` with `body` (200) until destroyed; counts requests and
// remembers the last request line.
class Http01Responder {
 public:
  Http01Responder(int port, std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    listening_ =
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 8) == 0;
    if (listening_) thread_ = std::thread([this] { Serve(); });
  }
  ~Http01Responder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  Http01Responder(const Http01Responder&) = delete;
  Http01Responder& operator=(const Http01Responder&) = delete;

  bool listening() const { return listening_; }
  int requests() const { return requests_; }
  std::string last_request_line() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_line_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;  // wakes every 50 ms to notice stop_
      const int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string request;
      char buf[2048];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
        pollfd c{conn, POLLIN, 0};
        if (poll(&c, 1, 2000) <= 0) break;
        const ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_request_line_ = request.substr(0, request.find("\r\n"));
      }
      ++requests_;
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" +
                                body_;
      [[maybe_unused]] ssize_t w = write(conn, reply.data(), reply.size());
      close(conn);
    }
  }

  std::string body_;
  int fd_ = -1;
  bool listening_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::string last_request_line_;
  std::thread thread_;
};

class AcmeChallengeTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (HasFatalFailure()) return;
    client_ = d_->NewClient();
    ASSERT_NE(client_, nullptr);
    Reply account = client_->NewAccount(std::nullopt);  // no EAB: `web-challenge`
    ASSERT_EQ(account.status, 201) << account.Describe();
  }

  // Orders `name`, and returns the order URL, the authorization URL and its http-01 challenge.
  void OrderWithHttp01(const std::string& name) {
    Reply order = client_->NewOrder({name});
    ASSERT_EQ(order.status, 201) << order.Describe();
    order_url_ = order.Header("Location");
    const json o = order.Json();
    ASSERT_EQ(o["authorizations"].size(), 1u) << order.body;
    authz_url_ = o["authorizations"][0].get<std::string>();
    Reply authz = client_->PostAsGet(authz_url_);
    ASSERT_EQ(authz.status, 200) << authz.Describe();
    const json a = authz.Json();
    EXPECT_EQ(a.value("status", ""), "pending") << authz.body;
    for (const json& c : a.value("challenges", json::array())) {
      if (c.value("type", "") == "http-01") challenge_ = c;
    }
    ASSERT_TRUE(challenge_.is_object()) << "no http-01 challenge: " << authz.body;
    EXPECT_EQ(challenge_.value("status", ""), "pending");
  }

  std::unique_ptr<AcmeClient> client_;
  std::string order_url_, authz_url_;
  json challenge_;
};

TEST_F(AcmeChallengeTest, Http01ServedKeyAuthorizationMakesTheAuthorizationValid) {
  OrderWithHttp01("http01-cpp.example.test");
  if (HasFatalFailure()) return;
  const std::string token = challenge_.value("token", "");
  ASSERT_GE(token.size(), 22u) << "RFC 8555 §8.3: at least 128 bits of entropy";
  auto thumbprint = crypto::jose::Thumbprint(client_->account_key().Public());
  ASSERT_TRUE(thumbprint.ok());
  Http01Responder responder(d_->http01_port(), token + "." + *thumbprint);
  ASSERT_TRUE(responder.listening()) << "port " << d_->http01_port() << " is taken";

  Reply answered = client_->RespondToChallenge(challenge_.value("url", ""));
  EXPECT_EQ(answered.status, 200) << answered.Describe();
  Reply authz = client_->PollStatus(authz_url_, {"valid", "invalid"}, kValidationTimeout);
  ASSERT_EQ(authz.Json().value("status", ""), "valid") << authz.Describe();
  EXPECT_GE(responder.requests(), 1);
  EXPECT_EQ(responder.last_request_line(),
            "GET /.well-known/acme-challenge/" + token + " HTTP/1.1");
  Reply order = client_->PollStatus(order_url_, {"ready", "invalid"}, kValidationTimeout);
  EXPECT_EQ(order.Json().value("status", ""), "ready") << order.Describe();
}

TEST_F(AcmeChallengeTest, Http01WithNothingListeningMakesTheOrderInvalid) {
  OrderWithHttp01("http01-nobody.example.test");
  if (HasFatalFailure()) return;
  // Nothing listens on the validator's port (the responder above is gone, certbot runs later).
  Reply answered = client_->RespondToChallenge(challenge_.value("url", ""));
  EXPECT_EQ(answered.status, 200) << answered.Describe();
  Reply authz = client_->PollStatus(authz_url_, {"valid", "invalid"}, kValidationTimeout);
  ASSERT_EQ(authz.Json().value("status", ""), "invalid") << authz.Describe();
  json failed;
  for (const json& c : authz.Json().value("challenges", json::array())) {
    if (c.value("type", "") == "http-01") failed = c;
  }
  EXPECT_EQ(failed.value("status", ""), "invalid") << authz.body;
  ASSERT_TRUE(failed.contains("error")) << authz.body;
  EXPECT_EQ(failed["error"].value("type", ""), std::string(kProblemPrefix) + "connection")
      << authz.body;
  Reply order = client_->PostAsGet(order_url_);
  EXPECT_EQ(order.Json().value("status", ""), "invalid") << order.Describe();
}

}  // namespace
}  // namespace eg::acme_test
