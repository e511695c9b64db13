// Validator: the ACME challenge validators — http-01 (RFC 8555 §8.3), dns-01 (§8.4) and
// tls-alpn-01 (RFC 8737), for DNS names and IP addresses (RFC 8738) — run asynchronously on a
// Boost.Asio io_context the caller owns and runs.
//
// Validate() starts one validation and returns at once; `done` is called exactly once, from a
// thread running the io_context, with Ok() or an Error. Each validation is bounded by
// `total_timeout` (connect attempts also by `connect_timeout`), so `done` comes no later than that
// plus scheduling slack — provided the io_context keeps running; if it is stopped or destroyed
// first, pending validations are abandoned and `done` is not called.
//
// Errors: the message says, in words an operator can act on, what was checked and what was
// found ("http-01: GET http://example.test/.well-known/acme-challenge/TOKEN answered 404").
// ProblemOf() gives the ACME problem type (RFC 8555 §6.7) the protocol layer should render; it is
// carried in Error::provider_code, which is why that accessor exists.
//
// This header names no Asio type (io_context is only forward-declared), so protocols/acme can use
// it without including Boost. Thread-safety: a Validator is immutable after construction;
// Validate() may be called from any thread, concurrently. Each validation keeps what it needs
// alive itself, so the Validator may be destroyed while validations are still running.
//
// dns-01 and c-ares: each dns-01 validation owns an ares channel. Its sockets (reported by the
// ARES_OPT_SOCK_STATE_CB callback) are watched with asio::posix::stream_descriptor::async_wait —
// released, never closed, by us, since c-ares owns them — and ares_process_fd() runs when one is
// ready; a steady_timer follows ares_timeout() for retransmissions, and a second timer enforces
// the overall deadline by destroying the channel. No extra thread and no blocking calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace eg::acme::validation {

enum class ChallengeType { kHttp01, kDns01, kTlsAlpn01 };
std::string_view ChallengeTypeName(ChallengeType type);  // "http-01", "dns-01", "tls-alpn-01"

struct ValidationRequest {
  ChallengeType type = ChallengeType::kHttp01;
  // A DNS name ("example.test", "*.example.test" for dns-01 only) or an IP address literal
  // ("192.0.2.1", "2001:db8::1"; RFC 8738: http-01 and tls-alpn-01 only).
  std::string identifier;
  std::string token;
  // token + "." + base64url(JWK thumbprint), computed by the caller (RFC 8555 §8.1).
  std::string key_authorization;
};

struct ValidatorOptions {
  uint16_t http01_port = 80;
  uint16_t tls_alpn01_port = 443;
  // http-01 follows redirects only to http on http01_port and https on https_redirect_port
  // (RFC 8555 §8.3: 80 and 443); tests set both to their servers' ports.
  uint16_t https_redirect_port = 443;
  int max_redirects = 10;
  size_t max_body_bytes = 64 * 1024;
  // "" = the system resolver configuration (/etc/resolv.conf); "host:port" sends every dns-01
  // query there (tests, or a dedicated validation resolver).
  std::string dns_server;
  // Tests only: name (or "*" for any name) → IP address to connect to instead of resolving.
  std::map<std::string, std::string> hosts;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{10'000};
};

// The ACME problem type (urn:ietf:params:acme:error:<name>) a failed validation maps to.
enum class ValidationProblem {
  kMalformed = 1,      // the request itself is unusable (wildcard with http-01, dns-01 on an IP)
  kConnection,         // could not connect, or the peer timed out / closed
  kUnauthorized,       // the server answered, but not with the expected resource (404, 500 ...)
  kDns,                // the DNS lookup itself failed (SERVFAIL, no server reachable)
  kIncorrectResponse,  // the response was found but its content is wrong
  kTls,                // TLS handshake failed or the certificate is not an acme-tls/1 one
};
std::string_view ValidationProblemName(ValidationProblem p);  // "connection", "incorrectResponse"
// The problem type of an error produced by Validate(); kConnection for any other error.
ValidationProblem ProblemOf(const Error& error);

class Validator {
 public:
  using Done = std::function<void(Result<void>)>;

  Validator(boost::asio::io_context& io, ValidatorOptions options);
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  void Validate(const ValidationRequest& request, Done done) const;

 private:
  boost::asio::io_context& io_;
  ValidatorOptions options_;
};

}  // namespace eg::acme::validation
