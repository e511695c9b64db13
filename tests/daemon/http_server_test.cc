// HttpServer over real sockets and TLS, driven with curl (verifying against the test CA).
#include "daemon/http_server.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>

#include "tests/daemon/subprocess.h"
#include "tests/daemon/test_pki.h"

namespace eg::daemon {
namespace {

using eg::testing::ReadTextFile;
using eg::testing::RunProgram;
using eg::testing::TempDir;
using eg::testing::WriteTextFile;

struct CurlReply {
  int http_code = 0;
  std::string headers;
  std::string body;
};

// A handler that parks its Responder until the test releases it.
class Parked {
 public:
  void Park(http::Responder r) {
    std::lock_guard<std::mutex> lock(mu_);
    responder_ = std::move(r);
    cv_.notify_all();
  }
  bool WaitParked() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return responder_.has_value(); });
  }
  void Release(http::Response response) {
    std::optional<http::Responder> r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = std::move(responder_);
      responder_.reset();
    }
    if (r.has_value()) r->Respond(std::move(response));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<http::Responder> responder_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    issued_ = ca_.IssueServer({"localhost"}, {"127.0.0.1"});
    ca_file_ = dir_.path() + "/ca.pem";
    WriteTextFile(ca_file_, ca_.ca_pem());
    router_.AddSync("GET", "/hello", [](const http::Request& r) {
      std::string body = "hello " + std::string(r.Query("name").value_or("world")) + " from " +
                         r.client.remote_address;
      return http::Response::Text(200, body);
    });
    router_.AddSync("POST", "/echo",
                    [](const http::Request& r) { return http::Response::Text(200, r.body); });
    router_.AddSync("GET", "/header", [](const http::Request& r) {
      return http::Response::Text(200, std::string(r.headers.Get("x-test").value_or("none")));
    });
    router_.Add("GET", "/later", [this](const http::Request&, http::Responder responder) {
      parked_.Park(std::move(responder));
    });
    router_.Add("GET", "/forgets", [](const http::Request&, http::Responder) {});
  }

  void StartServer(size_t max_body = 1024) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.cert_chain_pem = issued_.chain_pem;
    options.key_pem = issued_.key_pem;
    options.threads = 2;
    options.max_body_bytes = max_body;
    auto started = HttpServer::Start(options, router_, logger_);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }

  std::string Url(const std::string& path) {
    return "https://localhost:" + std::to_string(server_->port()) + path;
  }

  CurlReply Curl(const std::string& path, std::vector<std::string> extra = {}) {
    std::string hdr = dir_.path() + "/h" + std::to_string(++calls_);
    std::string body = dir_.path() + "/b" + std::to_string(calls_);
    std::vector<std::string> argv = {"/usr/bin/curl",
                                     "-sS",
                                     "--max-time",
                                     "30",
                                     "--cacert",
                                     ca_file_,
                                     "-D",
                                     hdr,
                                     "-o",
                                     body,
                                     "-w",
                                     "%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(Url(path));
    auto result = RunProgram(argv, {}, /*merge_stderr=*/false);
    CurlReply reply;
    reply.http_code = std::atoi(result.output.c_str());
    reply.headers = ReadTextFile(hdr);
    reply.body = ReadTextFile(body);
    return reply;
  }

  TempDir dir_;
  eg::testing::TestCa ca_;
  eg::testing::IssuedPem issued_;
  std::string ca_file_;
  Logger logger_{LogLevel::kWarn};
  http::Router router_;
  Parked parked_;
  std::unique_ptr<HttpServer> server_;
  int calls_ = 0;
};

TEST_F(HttpServerTest, ServesRoutesOverVerifiedTls) {
  StartServer();
  CurlReply r = Curl("/hello?name=a%20b");
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, "hello a b from 127.0.0.1");
  EXPECT_NE(r.headers.find("text/plain"), std::string::npos) << r.headers;
  EXPECT_EQ(Curl("/header", {"-H", "X-Test: yes"}).body, "yes");
}

TEST_F(HttpServerTest, ManyConcurrentRequests) {
  StartServer();
  std::vector<std::string> argv = {
      "/usr/bin/curl",  "-sS",        "--max-time",     "60", "--cacert",
      ca_file_,         "--parallel", "--parallel-max", "16", "-w",
      "%{http_code}\\n"};
  constexpr int kRequests = 64;
  for (int i = 0; i < kRequests; ++i) {
    argv.insert(argv.end(), {"-o", "/dev/null", Url("/hello?name=" + std::to_string(i))});
  }
  auto result = RunProgram(argv, {}, /*merge_stderr=*/false);
  EXPECT_EQ(result.status, 0);
  int ok = 0;
  for (size_t pos = 0; (pos = result.output.find("200\n", pos)) != std::string::npos; pos += 4) {
    ++ok;
  }
  EXPECT_EQ(ok, kRequests) << result.output;
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  StartServer();
  EXPECT_EQ(Curl("/nope").http_code, 404);
  CurlReply r = Curl("/hello", {"-X", "DELETE"});
  EXPECT_EQ(r.http_code, 405);
  EXPECT_NE(r.headers.find("Allow: GET, HEAD"), std::string::npos) << r.headers;
}

TEST_F(HttpServerTest, HeadSendsNoBody) {
  StartServer();
  CurlReply r = Curl("/hello", {"-I"});
  EXPECT_EQ(r.http_code, 200);
  // With -I curl writes the headers where the body would go; the body itself must not come.
  EXPECT_EQ(r.body.find("hello"), std::string::npos) << r.body;
  EXPECT_NE(r.headers.find("Content-Length"), std::string::npos) << r.headers;
}

TEST_F(HttpServerTest, BodyWithinLimitReachesHandler) {
  StartServer(1024);
  std::string file = dir_.path() + "/small";
  WriteTextFile(file, std::string(1000, 'x'));
  CurlReply r = Curl("/echo", {"--data-binary", "@" + file});
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, std::string(1000, 'x'));
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  StartServer(1024);
  std::string file = dir_.path() + "/big";
  WriteTextFile(file, std::string(5000, 'x'));
  EXPECT_EQ(Curl("/echo", {"--data-binary", "@" + file}).http_code, 413);
  // Without Content-Length (chunked), found while reading.
  EXPECT_EQ(
      Curl("/echo", {"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file}).http_code,
      413);
}

TEST_F(HttpServerTest, OverlongTargetIs414) {
  StartServer();
  std::string path = "/" + std::string(http::kMaxTargetBytes + 10, 'a');
  int code = Curl(path).http_code;
  // libmicrohttpd itself may refuse it first (its own header memory limit).
  EXPECT_TRUE(code == 414 || code == 431) << code;
}

TEST_F(HttpServerTest, HandlerMayAnswerLater) {
  StartServer();
  auto reply = std::async(std::launch::async, [&] { return Curl("/later"); });
  ASSERT_TRUE(parked_.WaitParked());
  http::Response answer = http::Response::Text(202, "pending");
  answer.headers.Set("Retry-After", "3");
  parked_.Release(std::move(answer));
  CurlReply r = reply.get();
  EXPECT_EQ(r.http_code, 202);
  EXPECT_EQ(r.body, "pending");
  EXPECT_NE(r.headers.find("Retry-After: 3"), std::string::npos) << r.headers;
}

TEST_F(HttpServerTest, HandlerThatNeverAnswersGives500) {
  StartServer();
  CurlReply r = Curl("/forgets");
  EXPECT_EQ(r.http_code, 500);
  EXPECT_EQ(r.body, R"({"status":"internal error"})");
}

TEST_F(HttpServerTest, DrainWaitsForRequestsInFlight) {
  StartServer();
  auto reply = std::async(std::launch::async, [&] { return Curl("/later"); });
  ASSERT_TRUE(parked_.WaitParked());
  auto drained = std::async(std::launch::async, [&] {
    return server_->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  });
  parked_.Release(http::Response::Text(200, "done"));
  EXPECT_TRUE(drained.get());
  CurlReply r = reply.get();
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, "done");
  // No longer listening.
  EXPECT_EQ(Curl("/hello").http_code, 0);
}

TEST_F(HttpServerTest, DrainDeadlineAnswersParkedRequests) {
  StartServer();
  auto reply = std::async(std::launch::async, [&] { return Curl("/later"); });
  ASSERT_TRUE(parked_.WaitParked());
  EXPECT_FALSE(server_->Drain(std::chrono::steady_clock::now() + std::chrono::milliseconds(200)));
  CurlReply r = reply.get();
  EXPECT_TRUE(r.http_code == 503 || r.http_code == 0) << r.http_code;
  // A late answer after the server stopped is harmless.
  parked_.Release(http::Response::Text(200, "too late"));
}

TEST_F(HttpServerTest, RefusesBadKey) {
  HttpServerOptions options;
  options.cert_chain_pem = issued_.chain_pem;
  options.key_pem = "not a key";
  EXPECT_FALSE(HttpServer::Start(options, router_, logger_).ok());
}

}  // namespace
}  // namespace eg::daemon
