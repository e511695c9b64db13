// HttpServer over real sockets and TLS, driven with curl (verifying against the test CA), and
// with an OpenSSL client where the test needs what the client itself sees of the TLS session
// (its certificate, the channel binding).
#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
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

std::string Hex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// What the OpenSSL client saw: the HTTP response, and its side of the channel binding.
struct TlsReply {
  std::string error;  // "" on success
  std::string response;
  std::vector<uint8_t> binding;
};

// GET `path` over TLS `version` (TLS1_2_VERSION, TLS1_3_VERSION), verifying the server against
// `ca_file`, presenting `cert_pem`/`key_pem` if given. The binding is computed as RFC 7030 §3.5
// (tls-unique: the first Finished message, the client's in a full handshake) and RFC 9266
// (tls-exporter: 32 bytes of the exporter labelled "EXPORTER-Channel-Binding", empty context).
TlsReply TlsGet(uint16_t port, const std::string& path, const std::string& ca_file, int version,
                const std::string& cert_pem = "", const std::string& key_pem = "") {
  TlsReply reply;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!cert_pem.empty()) {
    BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL* ssl = SSL_new(ctx);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.error = "connect failed";
  } else {
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
      reply.error = "handshake failed";
    } else {
      if (version == TLS1_3_VERSION) {
        reply.binding.resize(32);
        static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
        if (SSL_export_keying_material(ssl, reply.binding.data(), reply.binding.size(), kLabel,
                                       sizeof kLabel - 1, nullptr, 0, 1) != 1) {
          reply.error = "exporter failed";
        }
      } else {
        uint8_t finished[64];
        size_t n = SSL_get_finished(ssl, finished, sizeof finished);
        reply.binding.assign(finished, finished + std::min(n, sizeof finished));
      }
      std::string request =
          "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) reply.response.append(buf, n);
    }
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return reply;
}

// The body after the header block.
std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// Percent-encodes everything but unreserved characters (as nginx's $ssl_client_escaped_cert).
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

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
    // What the transport told the handler about the client.
    auto identity = [](const http::Request& r) {
      const http::ClientIdentity& c = r.client;
      std::string body = "tls=" + c.tls_version + "\ncb=" + Hex(c.channel_binding) +
                         "\nchain=" + std::to_string(c.peer_chain_der.size()) +
                         "\nleaf=" + (c.peer_chain_der.empty() ? "" : Hex(c.peer_chain_der[0])) +
                         "\nproxy=" + (c.via_proxy ? "1" : "0") + "\n";
      return http::Response::Text(200, body);
    };
    router_.AddSync("GET", "/.well-known/est/identity", identity);
    router_.AddSync("GET", "/identity", identity);
  }

  // The fields of an identity answer.
  static std::map<std::string, std::string> Fields(const std::string& body) {
    std::map<std::string, std::string> fields;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      std::string line = body.substr(pos, nl - pos);
      size_t eq = line.find('=');
      if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
      pos = nl + 1;
    }
    return fields;
  }

  // The server asking for client certificates, binding channels under /.well-known/est.
  void StartRequestingServer(std::vector<std::string> trusted_proxies = {}) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.cert_chain_pem = issued_.chain_pem;
    options.key_pem = issued_.key_pem;
    options.client_certificates = ClientCertMode::kRequest;
    options.client_ca_pem = ca_.ca_pem();
    options.channel_binding_prefix = "/.well-known/est";
    options.trusted_proxies = std::move(trusted_proxies);
    auto started = HttpServer::Start(options, router_, logger_);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    server_ = std::move(started).value();
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

// A client that does not wait for "100 Continue" (certbot's requests, Go's net/http) sends the
// whole body anyway. Answering after the headers and closing with the body still arriving makes
// the kernel reset the connection, and the client may read the reset instead of the 413; the
// server reads such a body to its end first.
TEST_F(HttpServerTest, OversizedBodySentWithoutWaitingIs413Reliably) {
  StartServer(1024);
  std::string file = dir_.path() + "/big";
  WriteTextFile(file, std::string(512 * 1024, 'x'));
  for (int i = 0; i < 10; ++i) {
    CurlReply r = Curl("/echo", {"-H", "Expect:", "--data-binary", "@" + file});
    ASSERT_EQ(r.http_code, 413) << "attempt " << i << ": " << r.headers;
  }
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

TEST_F(HttpServerTest, ClientCertificateChainReachesTheHandler) {
  StartRequestingServer();
  eg::testing::IssuedPem client = ca_.IssueServer({"device.example.test"}, {});
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsReply r =
        TlsGet(server_->port(), "/identity", ca_file_, version, client.leaf_pem, client.key_pem);
    ASSERT_EQ(r.error, "") << version;
    auto fields = Fields(BodyOf(r.response));
    EXPECT_EQ(fields["tls"], version == TLS1_3_VERSION ? "TLS1.3" : "TLS1.2");
    // OpenSSL sends the issuer too when it finds it in its trust store: leaf first.
    EXPECT_EQ(fields["chain"], "2");
    auto leaf = crypto::Certificate::ParsePem(client.leaf_pem);
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(fields["leaf"], Hex(leaf->Der()));
    EXPECT_EQ(fields["proxy"], "0");
    EXPECT_EQ(fields["cb"], "") << "no channel binding outside the EST prefix";
  }
}

TEST_F(HttpServerTest, CertificateFromAnUnknownCaIsPassedOnNotJudged) {
  StartRequestingServer();
  eg::testing::TestCa other;
  eg::testing::IssuedPem client = other.IssueServer({"stranger.example.test"}, {});
  TlsReply r = TlsGet(server_->port(), "/identity", ca_file_, TLS1_3_VERSION, client.leaf_pem,
                      client.key_pem);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(Fields(BodyOf(r.response))["chain"], "1");
}

TEST_F(HttpServerTest, ClientsWithoutCertificateAreServedWhenCertificatesAreRequested) {
  StartRequestingServer();
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsReply r = TlsGet(server_->port(), "/identity", ca_file_, version);
    ASSERT_EQ(r.error, "") << version;
    EXPECT_NE(r.response.find("200 OK"), std::string::npos) << r.response;
    EXPECT_EQ(Fields(BodyOf(r.response))["chain"], "0");
  }
  // As an ACME client (curl) sees it.
  CurlReply c = Curl("/hello");
  EXPECT_EQ(c.http_code, 200);
  EXPECT_EQ(c.body, "hello world from 127.0.0.1");
}

TEST_F(HttpServerTest, ChannelBindingEqualsWhatTheClientComputes) {
  StartRequestingServer();
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsReply r = TlsGet(server_->port(), "/.well-known/est/identity", ca_file_, version);
    ASSERT_EQ(r.error, "") << version;
    auto fields = Fields(BodyOf(r.response));
    ASSERT_FALSE(r.binding.empty());
    EXPECT_EQ(r.binding.size(), version == TLS1_3_VERSION ? 32u : 12u);
    EXPECT_EQ(fields["cb"], Hex(r.binding))
        << (version == TLS1_3_VERSION ? "tls-exporter" : "tls-unique");
  }
}

TEST_F(HttpServerTest, ProxyCertificateHeaderOnlyFromTrustedProxies) {
  eg::testing::IssuedPem client = ca_.IssueServer({"device.example.test"}, {});
  auto leaf = crypto::Certificate::ParsePem(client.leaf_pem);
  ASSERT_TRUE(leaf.ok());
  const std::vector<std::string> header = {"-H",
                                           "X-SSL-Client-Cert: " + UrlEncode(client.leaf_pem)};

  // 127.0.0.1 is not a trusted proxy: the header is ignored.
  StartRequestingServer({"192.0.2.0/24"});
  auto fields = Fields(Curl("/.well-known/est/identity", header).body);
  EXPECT_EQ(fields["chain"], "0");
  EXPECT_EQ(fields["proxy"], "0");
  EXPECT_NE(fields["cb"], "");  // a direct TLS client: bound
  server_.reset();

  // Trusted: the forwarded chain, via_proxy, and no binding (TLS ended at the proxy).
  StartRequestingServer({"10.0.0.0/8", "127.0.0.1/32"});
  fields = Fields(Curl("/.well-known/est/identity", header).body);
  EXPECT_EQ(fields["chain"], "1");
  EXPECT_EQ(fields["leaf"], Hex(leaf->Der()));
  EXPECT_EQ(fields["proxy"], "1");
  EXPECT_EQ(fields["cb"], "");
  // Without the header: no certificate, not even the proxy's own TLS one.
  eg::testing::IssuedPem proxy = ca_.IssueServer({"proxy.example.test"}, {});
  TlsReply r = TlsGet(server_->port(), "/.well-known/est/identity", ca_file_, TLS1_3_VERSION,
                      proxy.leaf_pem, proxy.key_pem);
  ASSERT_EQ(r.error, "");
  fields = Fields(BodyOf(r.response));
  EXPECT_EQ(fields["chain"], "0");
  EXPECT_EQ(fields["proxy"], "0");
  // A header that is not a certificate: ignored.
  fields = Fields(Curl("/.well-known/est/identity", {"-H", "X-SSL-Client-Cert: garbage"}).body);
  EXPECT_EQ(fields["chain"], "0");
}

TEST_F(HttpServerTest, RequestingCertificatesNeedsCaNames) {
  HttpServerOptions options;
  options.cert_chain_pem = issued_.chain_pem;
  options.key_pem = issued_.key_pem;
  options.client_certificates = ClientCertMode::kRequest;
  EXPECT_FALSE(HttpServer::Start(options, router_, logger_).ok());
}

}  // namespace
}  // namespace eg::daemon
