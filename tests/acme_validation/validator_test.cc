// The challenge validators against real servers on 127.0.0.1 (tests/acme_validation/
// test_servers.h): http-01, dns-01 and tls-alpn-01, success and each failure an operator sees.
#include "protocols/acme/validation/validator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "crypto/base64.h"
#include "crypto/random.h"
#include "protocols/acme/validation/internal.h"
#include "tests/acme_validation/test_servers.h"

namespace eg::acme::validation {
namespace {

using namespace std::chrono_literals;
using testing::AcmeCert;
using testing::AlpnMode;
using testing::DnsResponder;
using testing::DnsZone;
using testing::HttpHandler;
using testing::HttpLog;
using testing::TcpServer;

constexpr char kToken[] = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
constexpr char kKeyAuth[] =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
// The test's own deadline for one validation; the validators' deadlines are far shorter.
constexpr auto kTestDeadline = 30s;

struct Outcome {
  std::optional<Result<void>> result;
  std::chrono::steady_clock::duration elapsed{};
};

Outcome RunValidation(const ValidatorOptions& options, ChallengeType type,
                      const std::string& identifier,
                      const std::string& key_authorization = kKeyAuth) {
  boost::asio::io_context io;
  Outcome out;
  {
    Validator validator(io, options);
    validator.Validate({.type = type,
                        .identifier = identifier,
                        .token = kToken,
                        .key_authorization = key_authorization},
                       [&](Result<void> r) { out.result = std::move(r); });
  }  // validations outlive the Validator
  const auto start = std::chrono::steady_clock::now();
  io.run_for(kTestDeadline);
  out.elapsed = std::chrono::steady_clock::now() - start;
  return out;
}

std::string Message(const Outcome& o) {
  if (!o.result) return "<no result>";
  return o.result->ok() ? "<ok>" : o.result->error().message();
}

#define EXPECT_VALID(o)                \
  ASSERT_TRUE((o).result.has_value()); \
  EXPECT_TRUE((o).result->ok()) << Message(o)

#define EXPECT_FAILS(o, problem)                                                                   \
  ASSERT_TRUE((o).result.has_value());                                                             \
  ASSERT_FALSE((o).result->ok());                                                                  \
  EXPECT_EQ(ValidationProblemName(ProblemOf((o).result->error())), ValidationProblemName(problem)) \
      << Message(o)

std::string Ok200(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}
std::string Status(int code) {
  return "HTTP/1.1 " + std::to_string(code) +
         " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}
std::string Redirect(const std::string& location) {
  return "HTTP/1.1 302 Found\r\nLocation: " + location +
         "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

ValidatorOptions HttpOptions(uint16_t port) {
  ValidatorOptions o;
  o.http01_port = port;
  o.hosts = {{"*", "127.0.0.1"}};
  o.total_timeout = 5s;
  o.connect_timeout = 5s;
  return o;
}

const std::string kPath = std::string("/.well-known/acme-challenge/") + kToken;

// ---------------------------------------------------------------------------------------------
// http-01

TEST(Http01, ValidWithTrailingWhitespaceAndHostHeader) {
  HttpLog log;
  TcpServer server(HttpHandler(
      [](const std::string&) { return Ok200(std::string(kKeyAuth) + "\r\n \t\n"); }, &log));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_VALID(o);
  ASSERT_EQ(log.paths.size(), 1u);
  EXPECT_EQ(log.paths[0], kPath);
  EXPECT_EQ(log.hosts[0], "example.test:" + std::to_string(server.port()));
}

TEST(Http01, WrongBodyIsIncorrectResponse) {
  TcpServer server(
      HttpHandler([](const std::string&) { return Ok200("something else"); }, nullptr));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find("answered \"something else\", not the expected key authorization"),
            std::string::npos)
      << Message(o);
  // Leading whitespace is not trimmed.
  TcpServer leading(
      HttpHandler([](const std::string&) { return Ok200(std::string(" ") + kKeyAuth); }, nullptr));
  auto o2 = RunValidation(HttpOptions(leading.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o2, ValidationProblem::kIncorrectResponse);
}

TEST(Http01, NotFoundNamesTheUrlAndStatus) {
  TcpServer server(HttpHandler([](const std::string&) { return Status(404); }, nullptr));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_EQ(Message(o), "http-01: GET http://example.test:" + std::to_string(server.port()) +
                            kPath + " answered 404");
}

TEST(Http01, FollowsRelativeAndAbsoluteRedirects) {
  HttpLog log;
  uint16_t port = 0;
  TcpServer server(HttpHandler(
      [&port](const std::string& path) {
        if (path == kPath) return Redirect("/step2");
        if (path == "/step2") {
          return Redirect("http://other.test:" + std::to_string(port) + "/final?x=1");
        }
        if (path == "/final?x=1") return Ok200(kKeyAuth);
        return Status(404);
      },
      &log));
  port = server.port();
  auto o = RunValidation(HttpOptions(port), ChallengeType::kHttp01, "example.test");
  EXPECT_VALID(o);
  ASSERT_EQ(log.hosts.size(), 3u);
  EXPECT_EQ(log.hosts[2], "other.test:" + std::to_string(port));
}

TEST(Http01, FollowsARedirectToHttpsWithoutVerifyingTheCertificate) {
  TcpServer https(testing::HttpsHandler(
      [](const std::string& path) { return path == "/tls" ? Ok200(kKeyAuth) : Status(404); }));
  const uint16_t https_port = https.port();
  TcpServer http(HttpHandler(
      [https_port](const std::string&) {
        return Redirect("https://redirect.test:" + std::to_string(https_port) + "/tls");
      },
      nullptr));
  auto opts = HttpOptions(http.port());
  opts.https_redirect_port = https_port;
  auto o = RunValidation(opts, ChallengeType::kHttp01, "example.test");
  EXPECT_VALID(o);
}

TEST(Http01, RedirectToAnotherPortIsRefused) {
  TcpServer server(
      HttpHandler([](const std::string&) { return Redirect("http://example.test:1/x"); }, nullptr));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_NE(Message(o).find("redirected to http://example.test:1/x: only port"), std::string::npos)
      << Message(o);
}

TEST(Http01, RedirectLoopStopsAtTheLimit) {
  TcpServer server(HttpHandler([](const std::string&) { return Redirect("/again"); }, nullptr));
  auto opts = HttpOptions(server.port());
  opts.max_redirects = 3;
  auto o = RunValidation(opts, ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_NE(Message(o).find("after 3 redirects"), std::string::npos) << Message(o);
  EXPECT_EQ(server.connections(), 4);
}

TEST(Http01, BodyLargerThanTheLimitIsRefused) {
  TcpServer server(
      HttpHandler([](const std::string&) { return Ok200(std::string(70 * 1024, 'a')); }, nullptr));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_NE(Message(o).find("larger than 65536 bytes"), std::string::npos) << Message(o);
}

TEST(Http01, CloseDelimitedBodyLargerThanTheLimitIsRefused) {
  TcpServer server(HttpHandler(
      [](const std::string&) {
        return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(70 * 1024, 'a');
      },
      nullptr));
  auto o = RunValidation(HttpOptions(server.port()), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_NE(Message(o).find("larger than 65536 bytes"), std::string::npos) << Message(o);
}

TEST(Http01, ConnectionRefused) {
  uint16_t port;
  {
    TcpServer closed(testing::SilentHandler());
    port = closed.port();
  }  // now nobody listens
  auto o = RunValidation(HttpOptions(port), ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kConnection);
  EXPECT_NE(Message(o).find("connection refused"), std::string::npos) << Message(o);
}

TEST(Http01, ServerThatNeverAnswersTimesOut) {
  TcpServer server(testing::SilentHandler());
  auto opts = HttpOptions(server.port());
  opts.total_timeout = 300ms;
  auto o = RunValidation(opts, ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kConnection);
  EXPECT_EQ(o.result->error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_NE(Message(o).find("timed out after 300 ms"), std::string::npos) << Message(o);
  EXPECT_LT(o.elapsed, kTestDeadline);
}

TEST(Http01, SlowBodyTimesOut) {
  TcpServer server(HttpHandler(
      [](const std::string&) {
        return std::string("HTTP/1.1 200 OK\r\nX-Hang: 1\r\nContent-Length: 100\r\n\r\npartial");
      },
      nullptr));
  auto opts = HttpOptions(server.port());
  opts.total_timeout = 1500ms;
  auto o = RunValidation(opts, ChallengeType::kHttp01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kConnection);
  EXPECT_NE(Message(o).find("timed out after 1.5 s"), std::string::npos) << Message(o);
}

TEST(Http01, IpIdentifierConnectsToTheAddress) {
  HttpLog log;
  TcpServer server(HttpHandler([](const std::string&) { return Ok200(kKeyAuth); }, &log));
  auto opts = HttpOptions(server.port());
  opts.hosts.clear();
  auto o = RunValidation(opts, ChallengeType::kHttp01, "127.0.0.1");
  EXPECT_VALID(o);
  EXPECT_EQ(log.hosts.at(0), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(Http01, WildcardIsRefused) {
  auto o = RunValidation(HttpOptions(1), ChallengeType::kHttp01, "*.example.test");
  EXPECT_FAILS(o, ValidationProblem::kMalformed);
  EXPECT_EQ(o.result->error().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// dns-01

std::string Expected(const std::string& key_authorization = kKeyAuth) {
  return crypto::Base64UrlEncode(crypto::Sha256(key_authorization));
}

ValidatorOptions DnsOptions(const DnsResponder& dns) {
  ValidatorOptions o;
  o.dns_server = dns.server();
  o.total_timeout = 5s;
  return o;
}

TEST(Dns01, AnyMatchingRecordAmongSeveralPasses) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.txt = {"unrelated", Expected(), "other"}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_VALID(o);
  EXPECT_EQ(dns.queries().at(0), "_acme-challenge.example.test");
}

TEST(Dns01, RecordSplitIntoCharacterStringsIsJoined) {
  DnsResponder dns;
  // 300 bytes: the responder splits it into 255 + 45; the validator must join them.
  const std::string long_value = Expected() + std::string(300 - Expected().size(), 'x');
  dns.Set("_acme-challenge.example.test", {.txt = {long_value}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test", kKeyAuth);
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find(long_value.substr(0, 100)), std::string::npos);
  EXPECT_EQ(Message(o).find(long_value.substr(0, 256)), std::string::npos);  // truncated
}

TEST(Dns01, CnameIsFollowed) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.cname = "delegated.validation.test"});
  dns.Set("delegated.validation.test", {.txt = {Expected()}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_VALID(o);
}

TEST(Dns01, TruncatedUdpAnswerIsRetriedOverTcp) {
  DnsResponder dns;
  dns.SetTruncateUdp(true);
  dns.Set("_acme-challenge.example.test", {.txt = {"a", "b", Expected()}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_VALID(o);
  EXPECT_GE(dns.tcp_queries(), 1);
}

TEST(Dns01, WildcardQueriesTheBaseName) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.txt = {Expected()}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "*.example.test");
  EXPECT_VALID(o);
}

TEST(Dns01, NoRecordSaysSo) {
  DnsResponder dns;
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kUnauthorized);
  EXPECT_EQ(Message(o).rfind("dns-01: no TXT record at _acme-challenge.example.test", 0), 0u)
      << Message(o);
  dns.Set("_acme-challenge.example.test", {});  // the name exists, without TXT records
  auto o2 = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_FAILS(o2, ValidationProblem::kUnauthorized);
  EXPECT_EQ(Message(o2), "dns-01: no TXT record at _acme-challenge.example.test");
}

TEST(Dns01, WrongValueIsIncorrectResponse) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.txt = {Expected("other.key-auth")}});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find(Expected()), std::string::npos) << Message(o);
}

TEST(Dns01, ServfailIsADnsProblem) {
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.servfail = true});
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kDns);
}

TEST(Dns01, SilentServerTimesOutWithinTheDeadline) {
  DnsResponder dns;
  dns.SetSilent(true);
  auto opts = DnsOptions(dns);
  opts.total_timeout = 500ms;
  auto o = RunValidation(opts, ChallengeType::kDns01, "example.test");
  ASSERT_TRUE(o.result.has_value());
  ASSERT_FALSE(o.result->ok());
  const auto p = ProblemOf(o.result->error());
  EXPECT_TRUE(p == ValidationProblem::kConnection || p == ValidationProblem::kDns) << Message(o);
  EXPECT_LT(o.elapsed, kTestDeadline);
}

TEST(Dns01, IpIdentifierIsRefused) {
  DnsResponder dns;
  auto o = RunValidation(DnsOptions(dns), ChallengeType::kDns01, "192.0.2.1");
  EXPECT_FAILS(o, ValidationProblem::kMalformed);
  EXPECT_TRUE(dns.queries().empty());
}

// ---------------------------------------------------------------------------------------------
// tls-alpn-01

ValidatorOptions TlsOptions(uint16_t port) {
  ValidatorOptions o;
  o.tls_alpn01_port = port;
  o.hosts = {{"*", "127.0.0.1"}};
  o.total_timeout = 5s;
  o.connect_timeout = 5s;
  return o;
}

TEST(TlsAlpn01, ValidCertificate) {
  testing::TlsLog log;
  TcpServer server(testing::TlsHandler(
      {.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth}, AlpnMode::kAcme, &log));
  auto o = RunValidation(TlsOptions(server.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_VALID(o);
  server.Stop();
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.server_names.at(0), "example.test");
}

TEST(TlsAlpn01, IpIdentifierUsesReverseNameInSni) {
  testing::TlsLog log;
  TcpServer server(testing::TlsHandler({.sans = {"IP:127.0.0.1"}, .key_authorization = kKeyAuth},
                                       AlpnMode::kAcme, &log));
  auto opts = TlsOptions(server.port());
  opts.hosts.clear();
  auto o = RunValidation(opts, ChallengeType::kTlsAlpn01, "127.0.0.1");
  EXPECT_VALID(o);
  server.Stop();
  std::lock_guard<std::mutex> lock(log.mu);
  EXPECT_EQ(log.server_names.at(0), "1.0.0.127.in-addr.arpa");
}

TEST(TlsAlpn01, WrongDigestIsIncorrectResponse) {
  TcpServer server(
      testing::TlsHandler({.sans = {"DNS:example.test"}, .key_authorization = "other.key-auth"},
                          AlpnMode::kAcme, nullptr));
  auto o = RunValidation(TlsOptions(server.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find("not the SHA-256 of the key authorization"), std::string::npos)
      << Message(o);
}

TEST(TlsAlpn01, MissingExtension) {
  TcpServer server(testing::TlsHandler({.sans = {"DNS:example.test"}}, AlpnMode::kAcme, nullptr));
  auto o = RunValidation(TlsOptions(server.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_EQ(Message(o), "tls-alpn-01: certificate has no acmeIdentifier extension");
}

TEST(TlsAlpn01, NonCriticalOrUnwrappedExtension) {
  TcpServer noncritical(testing::TlsHandler(
      {.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth, .critical = false},
      AlpnMode::kAcme, nullptr));
  auto o = RunValidation(TlsOptions(noncritical.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find("non-critical"), std::string::npos) << Message(o);

  TcpServer raw(testing::TlsHandler(
      {.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth, .wrap_in_octet_string = false},
      AlpnMode::kAcme, nullptr));
  auto o2 = RunValidation(TlsOptions(raw.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o2, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o2).find("not a DER OCTET STRING"), std::string::npos) << Message(o2);
}

TEST(TlsAlpn01, SansMustBeExactlyTheIdentifier) {
  TcpServer two(testing::TlsHandler(
      {.sans = {"DNS:example.test", "DNS:other.test"}, .key_authorization = kKeyAuth},
      AlpnMode::kAcme, nullptr));
  auto o = RunValidation(TlsOptions(two.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o).find("has 2 subjectAltNames"), std::string::npos) << Message(o);

  TcpServer wrong(testing::TlsHandler({.sans = {"DNS:other.test"}, .key_authorization = kKeyAuth},
                                      AlpnMode::kAcme, nullptr));
  auto o2 = RunValidation(TlsOptions(wrong.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o2, ValidationProblem::kIncorrectResponse);
  EXPECT_NE(Message(o2).find("names DNS:other.test, not example.test"), std::string::npos)
      << Message(o2);
}

TEST(TlsAlpn01, NoAlpnIsATlsProblem) {
  TcpServer server(testing::TlsHandler(
      {.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth}, AlpnMode::kNone, nullptr));
  auto o = RunValidation(TlsOptions(server.port()), ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kTls);
  EXPECT_NE(Message(o).find("did not negotiate ALPN acme-tls/1"), std::string::npos) << Message(o);
}

TEST(TlsAlpn01, ServerThatNeverAnswersTimesOut) {
  TcpServer server(testing::SilentHandler());
  auto opts = TlsOptions(server.port());
  opts.total_timeout = 300ms;
  auto o = RunValidation(opts, ChallengeType::kTlsAlpn01, "example.test");
  EXPECT_FAILS(o, ValidationProblem::kConnection);
  EXPECT_NE(Message(o).find("timed out after 300 ms"), std::string::npos) << Message(o);
}

TEST(TlsAlpn01, ConcurrentValidationsOnOneIoContext) {
  TcpServer tls(testing::TlsHandler({.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth},
                                    AlpnMode::kAcme, nullptr));
  TcpServer http(HttpHandler([](const std::string&) { return Ok200(kKeyAuth); }, nullptr));
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.txt = {Expected()}});
  ValidatorOptions opts = TlsOptions(tls.port());
  opts.http01_port = http.port();
  opts.dns_server = dns.server();
  boost::asio::io_context io;
  Validator validator(io, opts);
  int ok = 0;
  int done = 0;
  for (auto type : {ChallengeType::kHttp01, ChallengeType::kDns01, ChallengeType::kTlsAlpn01}) {
    validator.Validate({type, "example.test", kToken, kKeyAuth}, [&](Result<void> r) {
      ++done;
      if (r.ok()) ++ok;
    });
  }
  io.run_for(kTestDeadline);
  EXPECT_EQ(done, 3);
  EXPECT_EQ(ok, 3);
}

// ---------------------------------------------------------------------------------------------
// Threads and lifetime

TEST(Validator, ManyValidationsOnAnIoContextRunByTwoThreads) {
  TcpServer tls(testing::TlsHandler({.sans = {"DNS:example.test"}, .key_authorization = kKeyAuth},
                                    AlpnMode::kAcme, nullptr));
  TcpServer http(HttpHandler([](const std::string&) { return Ok200(kKeyAuth); }, nullptr));
  DnsResponder dns;
  dns.Set("_acme-challenge.example.test", {.txt = {Expected()}});
  ValidatorOptions opts = TlsOptions(tls.port());
  opts.http01_port = http.port();
  opts.dns_server = dns.server();
  boost::asio::io_context io;
  Validator validator(io, opts);
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  constexpr int kRounds = 5;
  for (int i = 0; i < kRounds; ++i) {
    for (auto type : {ChallengeType::kHttp01, ChallengeType::kDns01, ChallengeType::kTlsAlpn01}) {
      validator.Validate({type, "example.test", kToken, kKeyAuth}, [&](Result<void> r) {
        ++done;
        if (r.ok()) ++ok;
      });
    }
  }
  std::thread second([&] { io.run_for(kTestDeadline); });
  io.run_for(kTestDeadline);
  second.join();
  EXPECT_EQ(done, 3 * kRounds);
  EXPECT_EQ(ok, 3 * kRounds);
}

TEST(Validator, IoContextDestroyedWithValidationsPendingAbandonsThem) {
  TcpServer silent(testing::SilentHandler());
  DnsResponder dns;
  dns.SetSilent(true);
  ValidatorOptions opts = HttpOptions(silent.port());
  opts.tls_alpn01_port = silent.port();
  opts.dns_server = dns.server();
  int done = 0;
  {
    boost::asio::io_context io;
    Validator validator(io, opts);
    for (auto type : {ChallengeType::kHttp01, ChallengeType::kDns01, ChallengeType::kTlsAlpn01}) {
      validator.Validate({type, "example.test", kToken, kKeyAuth}, [&](Result<void>) { ++done; });
    }
    // Whatever stage they reached (the sanitizers check the teardown, not this timing).
    io.run_for(100ms);
  }
  EXPECT_EQ(done, 0);
}

}  // namespace
}  // namespace eg::acme::validation

namespace eg::acme::validation::internal {
namespace {

TEST(ValidationHelpers, ReverseDnsNames) {
  EXPECT_EQ(ReverseDnsName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(ReverseDnsName("2001:db8::567:89ab"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(ValidationHelpers, DurationsReadAsAnOperatorWouldWriteThem) {
  EXPECT_EQ(FormatDuration(std::chrono::seconds(10)), "10 s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1.5 s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(300)), "300 ms");
}

TEST(ValidationHelpers, ProblemOfAnErrorFromElsewhereIsConnection) {
  EXPECT_EQ(ProblemOf(Internal("boom")), ValidationProblem::kConnection);
  EXPECT_EQ(ProblemOf(Error(ErrorCode::kUnavailable, "x", -40)), ValidationProblem::kConnection);
  EXPECT_EQ(ProblemOf(MakeError(ValidationProblem::kTls, "x")), ValidationProblem::kTls);
  EXPECT_EQ(ValidationProblemName(ValidationProblem::kIncorrectResponse), "incorrectResponse");
}

}  // namespace
}  // namespace eg::acme::validation::internal
